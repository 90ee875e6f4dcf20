//! Privilege escalation (`become`) and the driver that runs one command.
//!
//! Both transports (SSH and local) hand [`drive`] a [`Proc`]: a running command whose
//! output arrives as events and whose stdin can be written. [`drive`] answers the
//! become prompt when one comes, strips the success marker and prompts from the
//! output, and only then feeds the command's real stdin — so a password is never
//! passed to the command itself, never appears in argv, and never in the output.
//!
//! - `sudo`: `sudo -H -S -p PROMPT -u USER /bin/sh -c 'echo MARKER; CMD'`. Without a
//!   password, `-n` makes sudo fail at once instead of waiting.
//! - `su`: `su -s /bin/sh USER -c '...'`; su reads passwords only from a terminal, so
//!   the command runs on a pty (stdout and stderr merge there, and binary stdin cannot
//!   be passed).

use async_trait::async_trait;
use provision_modules::quote::quote;
use provision_modules::{ExecOutput, RemoteError};

/// How to become another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    Sudo,
    Su,
}

impl BecomeMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sudo" => Some(BecomeMethod::Sudo),
            "su" => Some(BecomeMethod::Su),
            _ => None,
        }
    }
}

/// Everything `become` needs for one host.
#[derive(Clone, PartialEq, Eq)]
pub struct Become {
    pub method: BecomeMethod,
    pub user: String,
    pub password: Option<String>,
    pub exe: Option<String>,
    pub flags: Option<String>,
}

impl std::fmt::Debug for Become {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log, even at -vvvv.
        f.debug_struct("Become")
            .field("method", &self.method)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish()
    }
}

/// One event from a running command.
pub enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    /// The process or channel ended (after or without an exit status).
    Closed,
}

/// A running command, as the transports expose it.
#[async_trait]
pub trait Proc: Send {
    async fn next(&mut self) -> Option<Event>;
    async fn write(&mut self, data: &[u8]) -> Result<(), RemoteError>;
    async fn eof(&mut self) -> Result<(), RemoteError>;
    /// Stop the command (close the channel, kill the process).
    async fn close(&mut self);
    /// Send a signal (`INT`, `TERM`, `KILL`) to the command (Ctrl-C, see [`crate::interrupt`]).
    async fn signal(&mut self, _sig: &str) {}
}

/// Receives a command's output as it arrives (`true`: stdout), for `-v` streaming on a
/// terminal; set for a task's commands with `TAP.scope(..)`.
pub type Tap = std::sync::Arc<dyn Fn(bool, &[u8]) + Send + Sync>;

tokio::task_local! {
    pub static TAP: Tap;
}

/// How long a command has to end after SIGINT, then after SIGTERM.
const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Wait for the command to end, up to `limit`; true if it did.
async fn ended_within(proc: &mut dyn Proc, limit: std::time::Duration) -> bool {
    tokio::time::timeout(limit, async {
        while let Some(ev) = proc.next().await {
            if matches!(ev, Event::Closed) {
                break;
            }
        }
    })
    .await
    .is_ok()
}

/// The run was interrupted (Ctrl-C): SIGINT to the command, SIGTERM after a grace, then
/// SIGKILL, and the channel closed. A remote shell's `trap` removes its temporary files.
async fn stop(proc: &mut dyn Proc) -> RemoteError {
    for sig in ["INT", "TERM", "KILL"] {
        proc.signal(sig).await;
        if ended_within(proc, GRACE).await {
            break;
        }
    }
    proc.close().await;
    RemoteError::Other(crate::interrupt::MESSAGE.into())
}

/// A command line prepared for a transport: what to run, on a pty or not, and how to
/// recognise the become handshake in its output.
pub struct Prepared {
    pub command: String,
    pub pty: bool,
    handshake: Option<Handshake>,
}

impl Prepared {
    /// Whether running it means more than reading its output: a terminal, or a become
    /// password to answer.
    pub fn interactive(&self) -> bool {
        self.pty || self.handshake.as_ref().is_some_and(|h| h.prompt.is_some())
    }
}

struct Handshake {
    marker: String,
    /// The prompt to answer, and with what.
    prompt: Option<(String, String)>,
    method: BecomeMethod,
}

fn token() -> String {
    provision_modules::util::random_hex(10)
}

/// Wrap `command` in `become`, or leave it as it is.
pub fn prepare(command: &str, become_: Option<&Become>) -> Prepared {
    let Some(b) = become_ else {
        return Prepared { command: command.to_string(), pty: false, handshake: None };
    };
    let tok = token();
    let marker = format!("BECOME-SUCCESS-{tok}");
    let inner = quote(&format!("echo {marker}; {command}"));
    match b.method {
        BecomeMethod::Sudo => {
            let exe = b.exe.as_deref().unwrap_or("sudo");
            let flags = b.flags.as_deref().unwrap_or("-H -S");
            let prompt = format!("[sudo via provision, key={tok}] password:");
            let (n, answer) = match &b.password {
                Some(pw) => ("", Some((prompt.clone(), pw.clone()))),
                None => (" -n", None),
            };
            Prepared {
                command: format!("{exe} {flags}{n} -p {} -u {} /bin/sh -c {inner}", quote(&prompt), quote(&b.user)),
                pty: false,
                handshake: Some(Handshake { marker, prompt: answer, method: BecomeMethod::Sudo }),
            }
        }
        BecomeMethod::Su => {
            let exe = b.exe.as_deref().unwrap_or("su");
            Prepared {
                command: format!("{exe} -s /bin/sh {} -c {inner}", quote(&b.user)),
                pty: true,
                handshake: Some(Handshake {
                    marker,
                    prompt: b.password.clone().map(|pw| (String::new(), pw)),
                    method: BecomeMethod::Su,
                }),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Does the pty output end in a password prompt (`Password: `, localised forms)?
fn su_prompt_at_end(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let last = text.trim_end_matches([' ', '\r', '\n']).rsplit('\n').next().unwrap_or("").trim();
    let lower = last.to_lowercase();
    lower.ends_with(':') && (lower.contains("password") || lower.contains("passwort") || lower.contains("mot de passe") || lower.contains("contraseña"))
}

/// Run a prepared command to its end: answer become, feed stdin, collect the output.
/// A Ctrl-C meanwhile stops the command (see [`stop`]).
pub async fn drive(proc: &mut dyn Proc, prepared: &Prepared, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
    if !crate::interrupt::requested() {
        let run = drive_to_end(&mut *proc, prepared, stdin);
        tokio::select! {
            r = run => return r,
            _ = crate::interrupt::wait() => {}
        }
    }
    Err(stop(proc).await)
}

/// [`drive`] without the Ctrl-C handling (for the commands that do the stopping).
pub async fn drive_to_end(proc: &mut dyn Proc, prepared: &Prepared, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
    let tap = TAP.try_with(|t| t.clone()).ok();
    let mut out = ExecOutput { rc: -1, ..Default::default() };
    let mut exit: Option<i32> = None;
    // Before the handshake completes, output is held here and searched.
    let mut pre_out: Vec<u8> = Vec::new();
    let mut pre_err: Vec<u8> = Vec::new();
    let mut became = prepared.handshake.is_none();
    let mut prompts_answered = 0usize;
    let send_stdin_now = match &prepared.handshake {
        None => true,
        Some(h) => h.prompt.is_none() && h.method == BecomeMethod::Sudo,
    };
    let mut stdin_sent = false;
    if send_stdin_now {
        feed(proc, stdin).await?;
        stdin_sent = true;
    }
    while let Some(ev) = proc.next().await {
        match ev {
            Event::Stdout(d) if !became => pre_out.extend_from_slice(&d),
            Event::Stderr(d) if !became => pre_err.extend_from_slice(&d),
            Event::Stdout(d) => {
                if let Some(t) = &tap {
                    t(true, &d);
                }
                out.stdout.extend_from_slice(&d)
            }
            Event::Stderr(d) => {
                if let Some(t) = &tap {
                    t(false, &d);
                }
                out.stderr.extend_from_slice(&d)
            }
            Event::Exit(code) => {
                exit = Some(code);
                continue;
            }
            Event::Closed => break,
        }
        if became {
            continue;
        }
        let Some(h) = &prepared.handshake else { continue };
        // The marker line: everything before it is become chatter.
        let marker = h.marker.as_bytes();
        if let Some(pos) = find(&pre_out, marker) {
            let mut rest = pre_out.split_off(pos + marker.len());
            if rest.first() == Some(&b'\r') {
                rest.remove(0);
            }
            if rest.first() == Some(&b'\n') {
                rest.remove(0);
            }
            if let Some(t) = tap.as_ref().filter(|_| !rest.is_empty()) {
                t(true, &rest);
            }
            out.stdout = rest;
            out.stderr = strip_prompts(&pre_err, h);
            became = true;
            if !stdin_sent {
                if prepared.pty && !stdin.is_empty() {
                    proc.close().await;
                    return Err(RemoteError::Become("become_method su runs on a terminal and cannot pass stdin; use sudo".into()));
                }
                feed(proc, stdin).await?;
                stdin_sent = true;
            }
            continue;
        }
        // A prompt to answer?
        if let Some((prompt, password)) = &h.prompt {
            let asked_again = match h.method {
                BecomeMethod::Sudo => count(&pre_err, prompt.as_bytes()) > prompts_answered,
                BecomeMethod::Su => su_prompt_at_end(&pre_out),
            };
            if asked_again {
                if prompts_answered >= 1 {
                    proc.close().await;
                    return Err(RemoteError::Become(incorrect(h.method)));
                }
                proc.write(format!("{password}\n").as_bytes()).await?;
                prompts_answered += 1;
                if h.method == BecomeMethod::Su {
                    // Forget the answered prompt so a second one is recognised.
                    pre_out.clear();
                }
            }
        }
    }
    if !became {
        // The command ended before the marker: become itself failed.
        let h = prepared.handshake.as_ref();
        let text = String::from_utf8_lossy(if prepared.pty { &pre_out } else { &pre_err }).to_string();
        let text = match h.and_then(|h| h.prompt.as_ref()) {
            Some((p, _)) if !p.is_empty() => text.replace(p.as_str(), ""),
            _ => text,
        };
        let text = text.trim().to_string();
        let method = h.map_or(BecomeMethod::Sudo, |h| h.method);
        let msg = if text.contains("a password is required") || (method == BecomeMethod::Su && text.to_lowercase().contains("password") && prompts_answered == 0) {
            format!(
                "Missing {} password (give it with -K, --become-password-file FILE, the PROVISION_BECOME_PASSWORD variable, or ansible_become_password in the inventory)",
                name(method)
            )
        } else if text.contains("incorrect password") || text.contains("Authentication failure") || text.contains("Sorry, try again") {
            incorrect(method)
        } else if text.is_empty() {
            format!("{} failed with exit status {}", name(method), exit.unwrap_or(-1))
        } else {
            format!("{} failed: {text}", name(method))
        };
        return Err(RemoteError::Become(msg));
    }
    if prepared.pty {
        out.stdout.retain(|&b| b != b'\r');
    }
    out.rc = exit.unwrap_or(-1);
    Ok(out)
}

fn name(m: BecomeMethod) -> &'static str {
    match m {
        BecomeMethod::Sudo => "sudo",
        BecomeMethod::Su => "su",
    }
}

fn incorrect(m: BecomeMethod) -> String {
    format!("Incorrect {} password", name(m))
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn strip_prompts(err: &[u8], h: &Handshake) -> Vec<u8> {
    match &h.prompt {
        Some((p, _)) if !p.is_empty() => {
            let text = String::from_utf8_lossy(err).replace(p.as_str(), "");
            text.into_bytes()
        }
        _ => err.to_vec(),
    }
}

async fn feed(proc: &mut dyn Proc, stdin: &[u8]) -> Result<(), RemoteError> {
    if !stdin.is_empty() {
        proc.write(stdin).await?;
    }
    proc.eof().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_without_password_never_waits() {
        let b = Become { method: BecomeMethod::Sudo, user: "root".into(), password: None, exe: None, flags: None };
        let p = prepare("echo 'hi'", Some(&b));
        assert!(p.command.starts_with("sudo -H -S -n -p '[sudo via provision, key="), "{}", p.command);
        assert!(p.command.contains("-u root /bin/sh -c 'echo BECOME-SUCCESS-"), "{}", p.command);
        assert!(!p.pty);
    }

    #[test]
    fn password_is_not_in_the_command_line() {
        let b = Become { method: BecomeMethod::Sudo, user: "root".into(), password: Some("s3cret".into()), exe: None, flags: None };
        let p = prepare("true", Some(&b));
        assert!(!p.command.contains("s3cret"));
        assert!(!format!("{b:?}").contains("s3cret"));
        let su = Become { method: BecomeMethod::Su, password: Some("s3cret".into()), ..b };
        let p = prepare("true", Some(&su));
        assert!(p.pty && !p.command.contains("s3cret"));
    }

    #[test]
    fn recognises_su_prompts() {
        assert!(su_prompt_at_end(b"Password: "));
        assert!(su_prompt_at_end(b"\r\nPasswort: "));
        assert!(!su_prompt_at_end(b"BECOME-SUCCESS-x\r\n"));
    }
}
