//! A persistent remote shell: one long-lived `/bin/sh` per channel runs module commands
//! one after another, so a command costs one round trip on an open channel instead of a
//! channel open, an sshd session and a login-shell start (a prototype measured 4.5 ms →
//! 2.7 ms per command on loopback; the saving grows with the host's load).
//!
//! The protocol, written on the shell's stdin for each command:
//!
//! ```sh
//! ( eval 'COMMAND' ) </dev/null; printf '%s %d\n' TOKEN "$?"; printf '%s\n' TOKEN >&2
//! ```
//!
//! - The command runs in a subshell, so `exit`, `exec`, `cd`, `set -e`, traps and
//!   variables stay its own, as they were with `sh -c`; it runs under `/bin/sh` as
//!   Ansible runs modules (`ansible_shell_executable`), and its stdin is `/dev/null`.
//! - `TOKEN` is random per shell: the bytes before it on stdout and on stderr are the
//!   command's output, the number after it on stdout its exit status.
//! - A small stdin (no NUL byte, at most [`MAX_STDIN`]) is written into a pipe by the
//!   shell's `printf` builtin: `printf '%s' 'DATA' | ( eval 'COMMAND' ); ...`.
//! - Commands with a larger or binary stdin, or a become password to answer, or a
//!   terminal, and `raw`, keep their own exec channel (see [`super::ssh`]).
//! - A shell that died while idle is replaced; one that dies during a command ends the
//!   command as a dropped exec channel did (rc -1); a command that times out takes its
//!   shell down with it.
//! - `PROVISION_PERSISTENT_SHELL=0` turns it off (every command on its own channel).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use provision_modules::quote::quote;
use provision_modules::{ExecOutput, RemoteError};
use super::mux::Chan;
use russh::ChannelMsg;

use super::privilege::{drive, Event, Prepared, Proc};

/// Shells kept per connection (each holds one of sshd's `MaxSessions` slots for the
/// run; module commands of one host run one at a time, so one is usually enough).
pub const MAX_SHELLS: usize = 3;

/// Whether persistent shells are on (`PROVISION_PERSISTENT_SHELL=0|false|no` turns them off).
fn enabled() -> bool {
    !matches!(std::env::var("PROVISION_PERSISTENT_SHELL").as_deref(), Ok("0" | "false" | "no" | "off"))
}

/// Whether `PROVISION_TRACE` asks for one line per remote command on stderr.
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("PROVISION_TRACE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// `PROVISION_TRACE=1`: host, bytes sent and received, status and wall time of one command.
pub fn trace(host: &str, command: &str, stdin: &[u8], res: &Result<ExecOutput, RemoteError>, took: Duration) {
    let first: String = command.chars().take(if std::env::var("PROVISION_TRACE").as_deref() == Ok("full") { usize::MAX } else { 60 }).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let outcome = match res {
        Ok(o) => format!("rc={} out={}B err={}B", o.rc, o.stdout.len(), o.stderr.len()),
        Err(e) => format!("error: {e}"),
    };
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let at = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1000.0;
    eprintln!("[trace] {host} {:.2}ms cmd={}B stdin={}B {outcome} at={at:.1}ms | {first}", took.as_secs_f64() * 1000.0, command.len(), stdin.len());
}

/// `PROVISION_TRACE=1`: how long a step of the connection took.
pub fn trace_step(host: &str, what: &str, since: std::time::Instant) {
    if tracing() {
        eprintln!("[trace] {host} {what} in {:.2}ms", since.elapsed().as_secs_f64() * 1000.0);
    }
}

fn token() -> String {
    format!("__provision_sh_{}__", provision_modules::util::random_hex(16))
}

/// One persistent shell on its own channel.
pub struct Shell {
    ch: Chan,
    token: String,
    /// Bumped by [`Pool::clear`]: a shell of an older connection is not reused.
    generation: usize,
}

/// How one command ended in a shell.
enum Ran {
    Done(Vec<u8>, Vec<u8>, i32),
    /// The shell's channel ended before the command's end markers (`started`: the
    /// shell had accepted the command, or printed something).
    Died { out: Vec<u8>, err: Vec<u8>, exit: Option<i32>, started: bool },
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    let from = from.min(hay.len() - needle.len());
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

impl Shell {
    async fn start(ch: Chan, generation: usize) -> Result<Shell, RemoteError> {
        ch.exec(true, "exec /bin/sh".as_bytes()).await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))?;
        Ok(Shell { ch, token: token(), generation })
    }

    /// Whether the channel has already said it is over (an idle shell that died).
    fn dead(&mut self) -> bool {
        loop {
            match self.ch.wait().now_or_never() {
                None => return false,
                Some(None) | Some(Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. } | ChannelMsg::Failure)) => {
                    return true
                }
                // Window adjustments, the exec's success reply, stray output of an
                // earlier command's background process: not ours to keep.
                Some(Some(_)) => continue,
            }
        }
    }

    async fn run(&mut self, command: &str, stdin: &[u8]) -> Result<Ran, RemoteError> {
        let line = framed(command, stdin, &self.token);
        if self.ch.data(&line[..]).await.is_err() {
            return Ok(Ran::Died { out: vec![], err: vec![], exit: None, started: false });
        }
        let tok = self.token.as_bytes();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (mut rc, mut err_done) = (None::<i32>, false);
        let mut accepted = false;
        let mut exit = None;
        while rc.is_none() || !err_done {
            match self.ch.wait().await {
                // Output after a marker can only come from a background process of the
                // command: it is not the command's.
                Some(ChannelMsg::Data { .. }) if rc.is_some() => {}
                Some(ChannelMsg::ExtendedData { ext: 1, .. }) if err_done => {}
                Some(ChannelMsg::Data { data }) => {
                    let from = out.len().saturating_sub(tok.len() + 16);
                    out.extend_from_slice(&data);
                    if let Some(i) = find(&out, tok, from) {
                        let rest = &out[i + tok.len()..];
                        if let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                            let code = String::from_utf8_lossy(&rest[..nl]).trim().parse::<i32>().unwrap_or(-1);
                            out.truncate(i);
                            rc = Some(code);
                        }
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    let from = err.len().saturating_sub(tok.len() + 2);
                    err.extend_from_slice(&data);
                    if let Some(i) = find(&err, tok, from) {
                        if err[i + tok.len()..].contains(&b'\n') {
                            err.truncate(i);
                            err_done = true;
                        }
                    }
                }
                Some(ChannelMsg::Success) => accepted = true,
                Some(ChannelMsg::ExitStatus { exit_status }) => exit = Some(exit_status as i32),
                Some(ChannelMsg::ExitSignal { .. }) => exit = Some(255),
                Some(ChannelMsg::Failure) | Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => {
                    let started = accepted || !out.is_empty() || !err.is_empty() || exit.is_some();
                    return Ok(Ran::Died { out, err, exit, started });
                }
                Some(_) => {}
            }
        }
        Ok(Ran::Done(out, err, rc.unwrap_or(-1)))
    }

    async fn close(self) {
        let _ = self.ch.eof().await;
        let _ = self.ch.close().await;
    }
}

/// The line that runs `command` in a shell: its stdin is `/dev/null`, or `stdin`
/// written by the shell's `printf` (a builtin) into a pipe.
fn framed(command: &str, stdin: &[u8], token: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(command.len() + stdin.len() + 128);
    if !stdin.is_empty() {
        line.extend_from_slice(b"printf '%s' '");
        for &b in stdin {
            if b == b'\'' {
                line.extend_from_slice(b"'\\''");
            } else {
                line.push(b);
            }
        }
        line.extend_from_slice(b"' | ");
    }
    line.extend_from_slice(format!("( eval {} )", quote(command)).as_bytes());
    if stdin.is_empty() {
        line.extend_from_slice(b" </dev/null");
    }
    line.extend_from_slice(format!("; printf '%s %d\\n' {token} \"$?\"; printf '%s\\n' {token} >&2\n").as_bytes());
    line
}

/// The most stdin passed through a shell (more takes its own channel).
pub const MAX_STDIN: usize = 64 * 1024;

/// A command's recorded output, replayed to [`drive`] (which strips the become
/// handshake, as it does for an exec channel).
struct Replay(Vec<Event>);

#[async_trait]
impl Proc for Replay {
    async fn next(&mut self) -> Option<Event> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.remove(0))
        }
    }
    async fn write(&mut self, _data: &[u8]) -> Result<(), RemoteError> {
        Err(RemoteError::Other("a persistent shell command has no stdin".into()))
    }
    async fn eof(&mut self) -> Result<(), RemoteError> {
        Ok(())
    }
    async fn close(&mut self) {}
}

/// The shells of one connection.
pub struct Pool {
    idle: StdMutex<Vec<Shell>>,
    /// Shells started and not lost (idle or running a command).
    live: AtomicUsize,
    generation: AtomicUsize,
    on: bool,
}

impl Default for Pool {
    fn default() -> Self {
        Pool { idle: StdMutex::new(Vec::new()), live: AtomicUsize::new(0), generation: AtomicUsize::new(0), on: enabled() }
    }
}

/// Counts a shell out of [`Pool::live`] unless it is given back.
struct Lease<'a> {
    pool: &'a Pool,
    shell: Option<Shell>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.shell.take() {
            self.pool.live.fetch_sub(1, Ordering::SeqCst);
            // Closing needs the runtime; a dropped (cancelled) command's shell is
            // closed in the background, or with the connection.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(s.close());
            }
        }
    }
}

impl Lease<'_> {
    fn give_back(mut self) {
        if let Some(s) = self.shell.take() {
            if s.generation == self.pool.generation.load(Ordering::SeqCst) {
                self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(s);
            } else {
                self.pool.live.fetch_sub(1, Ordering::SeqCst);
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(s.close());
                }
            }
        }
    }
}

impl Pool {
    /// Can this command run in a shell? Not with stdin to pass, nor with a become
    /// password or terminal to drive.
    pub fn eligible(&self, prepared: &Prepared, stdin: &[u8]) -> bool {
        self.on && stdin.len() <= MAX_STDIN && !stdin.contains(&0) && !prepared.interactive()
    }

    fn idle_shell(&self) -> Option<Shell> {
        loop {
            let s = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            let mut s = s;
            if s.dead() {
                self.live.fetch_sub(1, Ordering::SeqCst);
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(s.close());
                }
                continue;
            }
            return Some(s);
        }
    }

    fn reserve(&self) -> bool {
        self.live.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_SHELLS).then_some(n + 1)).is_ok()
    }

    /// Run `prepared` in a shell of this connection (`open` opens a channel).
    /// `None`: no shell could take it; run it on its own channel.
    pub async fn run<F, Fut>(&self, prepared: &Prepared, stdin: &[u8], limit: Option<Duration>, open: F) -> Option<Result<ExecOutput, RemoteError>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Chan, RemoteError>>,
    {
        for _ in 0..2 {
            let (shell, fresh) = match self.idle_shell() {
                Some(s) => (s, false),
                None if self.reserve() => {
                    let generation = self.generation.load(Ordering::SeqCst);
                    let started = match open().await {
                        Ok(ch) => Shell::start(ch, generation).await,
                        Err(e) => Err(e),
                    };
                    match started {
                        Ok(s) => (s, true),
                        Err(e) => {
                            self.live.fetch_sub(1, Ordering::SeqCst);
                            return Some(Err(e));
                        }
                    }
                }
                None => return None,
            };
            let mut lease = Lease { pool: self, shell: Some(shell) };
            let sh = lease.shell.as_mut()?;
            let ran = match limit {
                Some(l) => match tokio::time::timeout(l, sh.run(&prepared.command, stdin)).await {
                    Ok(r) => r,
                    Err(_) => return Some(Err(RemoteError::Timeout(l))),
                },
                None => sh.run(&prepared.command, stdin).await,
            };
            let (out, err, rc) = match ran {
                Ok(Ran::Done(out, err, rc)) => {
                    lease.give_back();
                    (out, err, rc)
                }
                Ok(Ran::Died { started: false, .. }) if !fresh => continue,
                // The shell could not even start: let the command have its own channel.
                Ok(Ran::Died { started: false, .. }) => return None,
                Ok(Ran::Died { out, err, exit, .. }) => (out, err, exit.unwrap_or(-1)),
                Err(e) => return Some(Err(e)),
            };
            let events = vec![Event::Stdout(out), Event::Stderr(err), Event::Exit(rc), Event::Closed];
            return Some(drive(&mut Replay(events), prepared, b"").await);
        }
        None
    }

    /// Forget every shell (the connection is going away).
    pub async fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let shells: Vec<Shell> = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        self.live.fetch_sub(shells.len(), Ordering::SeqCst);
        for s in shells {
            let _ = tokio::time::timeout(Duration::from_millis(200), s.close()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marker_from_an_offset() {
        assert_eq!(find(b"abcTOKdef", b"TOK", 0), Some(3));
        assert_eq!(find(b"abcTOKdef", b"TOK", 2), Some(3));
        assert_eq!(find(b"abcTOKdef", b"TOK", 100), None);
        assert_eq!(find(b"TO", b"TOK", 0), None);
    }

    /// The framed line, run by the local shell as the remote one runs it.
    #[test]
    fn framed_commands_run_in_a_local_shell() {
        let tok = token();
        let mut script = framed("read a; echo \"got $a\"; echo oops >&2; exit 3", b"it's\nmore", &tok);
        script.extend(framed("cd /; cat; exit 0", b"", &tok));
        let path = std::env::temp_dir().join(format!("provision-framed-{}", std::process::id()));
        std::fs::write(&path, &script).unwrap();
        let out = std::process::Command::new("/bin/sh").stdin(std::fs::File::open(&path).unwrap()).output().unwrap();
        let _ = std::fs::remove_file(&path);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(stdout, format!("got it's\n{tok} 3\n{tok} 0\n"));
        assert_eq!(stderr, format!("oops\n{tok}\n{tok}\n"));
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(token(), token());
        assert!(token().starts_with("__provision_sh_"));
    }
}
