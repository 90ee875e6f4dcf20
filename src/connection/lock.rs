//! The run lock: while a playbook runs on a host, it holds `provision.lock` under
//! `/run/lock` (or `/var/lock`, else `/tmp`) on that host, so two runs cannot interleave.
//!
//! The lock is an `flock` held by a process on the host that lives exactly as long as one
//! channel of our connection: `flock` on a file descriptor, then `cat` waiting for the
//! channel's end. When the run ends, is interrupted, or its connection dies, sshd closes
//! the channel, `cat` exits and the kernel drops the lock: no stale lock file to clean up.
//! Who holds the lock is written beside it (`provision.lock.info`), so a second run can say
//! whom it waits for; `--break-lock` ends the holder's process first (for a holder whose
//! connection hangs half-open). A run that reaches a host over a second connection (another
//! `remote_user`) finds its own name there and goes on: the lock is the run's, not the
//! connection's.

use std::time::Duration;

/// How a run takes the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSpec {
    /// How long to wait for another run's lock (0: fail at once).
    pub wait: Duration,
    /// End the current holder's process first.
    pub break_lock: bool,
    /// Who we are, written into the info file ("user@controller pid N").
    pub holder: String,
    /// Only try (no waiting, no warning, a failure not remembered): the first, parallel
    /// pass over a play's hosts.
    pub try_only: bool,
}

impl LockSpec {
    pub fn new(wait: Duration, break_lock: bool) -> Self {
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "someone".into());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
        LockSpec { wait, break_lock, holder: format!("{user}@{host} pid {}", std::process::id()), try_only: false }
    }
}

/// Markers the lock script prints on its own lines.
pub const TAG: &str = "__provision_lock_5e1a__";

/// The script run on the host; its first lines say what happened, then it holds the lock
/// until its standard input ends.
///
/// The host's CPU is what a fleet run is short of, so on the usual path (the lock is free,
/// the login shell is bash) the script starts one process besides the shell: `flock -n`.
/// The user is sshd's `$USER` (`id -un` only without it), the time bash's
/// `printf '%(…)T'` builtin (`date` only in other shells or bash before 4.2), the umask is
/// set in the script itself (no subshell), and the shell waits for the end of its input
/// with the `read` builtin instead of `exec cat`: the holder's pid (`$$`, which
/// `--break-lock` ends) is then the shell itself, and its exit closes descriptor 9 and
/// drops the lock as `cat`'s did.
pub fn script(spec: &LockSpec) -> String {
    let holder = provision_modules::quote::quote(&spec.holder);
    let wait = spec.wait.as_secs();
    let breaker = if spec.break_lock {
        "pid=$(sed -n 's/^pid=\\([0-9]*\\).*/\\1/p' \"$L.info\" 2>/dev/null); \
if [ -n \"$pid\" ]; then kill \"$pid\" 2>/dev/null && echo \"$T BROKE $(cat \"$L.info\" 2>/dev/null | tr '\\n' ' ')\"; sleep 0.2; fi; "
    } else {
        ""
    };
    // Reads standard input to its end: the lock is held until the channel's input ends.
    let hold = "while read -r _; do :; done; exit 0";
    format!(
        "T={TAG}; for d in /run/lock /var/lock /tmp; do if [ -d \"$d\" ] && [ -w \"$d\" ]; then L=\"$d/provision.lock\"; break; fi; done; \
if [ -z \"$L\" ] || ! command -v flock >/dev/null 2>&1; then echo \"$T NOLOCK\"; {hold}; fi; \
{breaker}\
umask 0; {{ : >> \"$L\"; : >> \"$L.info\"; }} 2>/dev/null; \
if [ -w \"$L\" ]; then exec 9>>\"$L\"; elif [ -r \"$L\" ]; then exec 9<\"$L\"; else echo \"$T NOLOCK\"; {hold}; fi; \
H={holder}; \
if ! flock -n 9; then if grep -qF \"by $H user\" \"$L.info\" 2>/dev/null; then echo \"$T LOCKED $L (this run)\"; {hold}; fi; echo \"$T BUSY $(cat \"$L.info\" 2>/dev/null | tr '\\n' ' ')\"; \
if [ {wait} -eq 0 ] || ! flock -w {wait} 9; then echo \"$T TIMEOUT $(cat \"$L.info\" 2>/dev/null | tr '\\n' ' ')\"; exit 1; fi; fi; \
case $BASH_VERSION in [5-9]*|4.[2-9]*) printf -v S '%(%Y-%m-%d %H:%M:%S)T' -1 ;; *) S=$(date '+%Y-%m-%d %H:%M:%S') ;; esac; \
{{ echo \"pid=$$ by $H user ${{USER:-$(id -un)}} since $S\" > \"$L.info\"; }} 2>/dev/null; \
echo \"$T LOCKED $L\"; {hold}"
    )
}

/// What one line of the script's output says.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Locked(String),
    /// Someone else holds it; we wait (their info).
    Busy(String),
    /// We waited too long (their info).
    Timeout(String),
    /// We ended the previous holder (their info).
    Broke(String),
    /// The host cannot lock (no flock, no writable lock directory): run without.
    NoLock,
    Other,
}

pub fn parse(line: &str) -> Line {
    let Some(rest) = line.trim().strip_prefix(TAG) else { return Line::Other };
    let rest = rest.trim();
    let (word, info) = rest.split_once(' ').unwrap_or((rest, ""));
    let info = info.trim().to_string();
    match word {
        "LOCKED" => Line::Locked(info),
        "BUSY" => Line::Busy(info),
        "TIMEOUT" => Line::Timeout(info),
        "BROKE" => Line::Broke(info),
        "NOLOCK" => Line::NoLock,
        _ => Line::Other,
    }
}

/// The holder as the info file tells it, without our pid field.
pub fn who(info: &str) -> String {
    let s = info.trim();
    let s = s.split_once(" by ").map(|(_, r)| r).unwrap_or(s);
    if s.is_empty() {
        "another run".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read() {
        assert_eq!(parse(&format!("{TAG} LOCKED /run/lock/provision.lock\n")), Line::Locked("/run/lock/provision.lock".into()));
        assert_eq!(parse(&format!("{TAG} BUSY pid=12 by ann@ctl pid 4 user root since x")), Line::Busy("pid=12 by ann@ctl pid 4 user root since x".into()));
        assert_eq!(parse(&format!("{TAG} NOLOCK")), Line::NoLock);
        assert_eq!(parse("hello"), Line::Other);
        assert_eq!(who("pid=12 by ann@ctl pid 4 user root since x"), "ann@ctl pid 4 user root since x");
        assert_eq!(who(""), "another run");
    }

    #[test]
    fn the_script_waits_only_as_asked() {
        let spec = LockSpec { wait: Duration::from_secs(0), break_lock: false, holder: "me@here pid 1".into(), try_only: false };
        let s = script(&spec);
        assert!(s.contains("[ 0 -eq 0 ]") && !s.contains("kill"), "{s}");
        assert!(s.contains("'me@here pid 1'"), "{s}");
        let s = script(&LockSpec { wait: Duration::from_secs(30), break_lock: true, holder: "x".into(), try_only: false });
        assert!(s.contains("flock -w 30 9") && s.contains("kill \"$pid\""), "{s}");
    }

    /// The script run by the local `sh` and `bash`, its lock directory moved to a temporary
    /// one: the first takes the lock and writes who holds it, a second run finds it busy,
    /// and the lock is free again once the first one's input ends.
    #[test]
    fn the_script_holds_the_lock_until_its_input_ends() {
        use std::io::{BufRead, BufReader, Write};
        use std::process::{Command, Stdio};
        for shell in ["sh", "bash"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path().to_str().unwrap().to_string();
            let at = |spec: &LockSpec| script(spec).replace("/run/lock /var/lock /tmp", &provision_modules::quote::quote(&d));
            let first = LockSpec { wait: Duration::from_secs(0), break_lock: false, holder: "ann@ctl pid 7".into(), try_only: false };
            let mut holder = Command::new(shell).arg("-c").arg(at(&first)).env("USER", "ann").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect(shell);
            let mut out = BufReader::new(holder.stdout.take().unwrap());
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(parse(&line), Line::Locked(format!("{d}/provision.lock")), "{shell}: {line}");
            let info = std::fs::read_to_string(format!("{d}/provision.lock.info")).unwrap();
            let pid = holder.id();
            assert!(info.starts_with(&format!("pid={pid} by ann@ctl pid 7 user ann since 20")), "{shell}: {info}");
            assert_eq!(info.trim_end().len(), format!("pid={pid} by ann@ctl pid 7 user ann since 2026-01-01 00:00:00").len(), "{shell}: {info}");
            let second = LockSpec { holder: "bob@ctl pid 8".into(), ..first.clone() };
            let busy = Command::new(shell).arg("-c").arg(at(&second)).stdin(Stdio::null()).output().unwrap();
            let text = String::from_utf8_lossy(&busy.stdout);
            let lines: Vec<Line> = text.lines().map(parse).collect();
            assert_eq!(lines, vec![Line::Busy(info.trim().into()), Line::Timeout(info.trim().into())], "{shell}: {text}");
            assert!(!busy.status.success());
            // The same run over a second connection goes on.
            let again = Command::new(shell).arg("-c").arg(at(&first)).stdin(Stdio::null()).output().unwrap();
            assert_eq!(parse(&String::from_utf8_lossy(&again.stdout)), Line::Locked(format!("{d}/provision.lock (this run)")), "{shell}");
            // Input ends: the holder exits and the lock is free.
            holder.stdin.take().unwrap().write_all(b"noise\n").unwrap();
            assert!(holder.wait().unwrap().success(), "{shell}");
            let free = Command::new(shell).arg("-c").arg(at(&second)).stdin(Stdio::null()).output().unwrap();
            assert_eq!(parse(&String::from_utf8_lossy(&free.stdout)), Line::Locked(format!("{d}/provision.lock")), "{shell}");
            assert!(std::fs::read_to_string(format!("{d}/provision.lock.info")).unwrap().contains("by bob@ctl pid 8 user "), "{shell}");
        }
    }

    /// The script with every option is valid shell (`sh -n`).
    #[test]
    fn the_script_is_valid_shell() {
        let s = script(&LockSpec { wait: Duration::from_secs(5), break_lock: true, holder: "a b'c".into(), try_only: false });
        let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&s).output().expect("sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
