//! What the text-editing modules (`lineinfile`, `blockinfile`, `replace`) share:
//! read the file in one round trip, compute the edit locally, and only when something
//! changes write it back atomically in a second one.
//!
//! - [`read`] probes the path with its content ([`probe`]), following symlinks as
//!   Ansible does (it edits the link's target, never replaces the link).
//! - [`finish`] does the rest once the new content is known: check mode, `create`'s
//!   parent directories, `validate`, `backup`, the atomic write ([`write_script`]), and
//!   Ansible's `check_file_attrs` (mode/owner/group compared with what the probe saw,
//!   symbolic modes included).
//! - [`diff`] builds the `diff` result key.

use serde_json::{Map, Value};

use crate::quote::quote;
use crate::util::{attr_commands, probe, resolve_mode, write_atomic, write_script_with, write_stdin, Attrs, PathState, Source};
use crate::{Remote, RemoteError};

/// A file read for editing.
/// A failure with the `rc` Ansible's file editors report (256, 257).
pub fn failed_rc(msg: String, rc: i32) -> crate::ModuleResult {
    let mut r = crate::ModuleResult::failed(msg);
    r.set("rc", rc);
    r
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The path as the user gave it (messages and diff headers name it).
    pub path: String,
    /// The file that is read and written: `path` with symlinks followed.
    pub real: String,
    pub state: PathState,
}

impl Target {
    pub fn exists(&self) -> bool {
        self.state.exists
    }
    pub fn is_dir(&self) -> bool {
        self.state.exists && self.state.kind == "directory"
    }
    /// Something that is neither a regular file nor a directory (a device, a socket).
    pub fn is_special(&self) -> bool {
        self.state.exists && self.state.kind != "file" && self.state.kind != "directory"
    }
    /// Ansible's refusal to edit a directory or a special file, with its rc (256).
    pub fn refuse_non_file(&self) -> Option<crate::ModuleResult> {
        if self.is_dir() {
            Some(failed_rc(format!("Path {} is a directory !", self.path), 256))
        } else if self.is_special() {
            Some(failed_rc(format!("Path {} is not a regular file !", self.path), 256))
        } else {
            None
        }
    }
    /// The content, or `None` when there is no file.
    pub fn content(&self) -> Option<&[u8]> {
        self.state.content.as_deref()
    }
}

/// Probe `path` with its content, following symlinks (at most 40, like the kernel).
/// One round trip unless `path` is a link.
///
/// Without a mode, owner or group in `attrs` to compare, the probe runs no `stat` (the
/// editors use only the type and the content, and what they return does not change),
/// so reading the file costs one process on the host (`cat`).
pub async fn read_for(remote: &dyn Remote, path: &str, attrs: &Attrs) -> Result<Target, RemoteError> {
    let plain = attrs.mode.is_none() && attrs.owner.is_none() && attrs.group.is_none();
    let look = |p: String| async move {
        if !plain {
            return probe(remote, &p, true).await;
        }
        let out = remote.exec(&crate::util::probe_content_script(&p), b"").await?;
        if out.rc != 0 {
            return Err(RemoteError::Other(format!("cannot inspect {p}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        crate::util::parse_probe(&out.stdout).map_err(RemoteError::Other)
    };
    let path = expand_home(remote, path).await?;
    let path = path.as_str();
    let mut real = path.to_string();
    let mut state = look(real.clone()).await?;
    for _ in 0..40 {
        if !(state.exists && state.kind == "link") {
            break;
        }
        let link = state.link_target.clone().unwrap_or_default();
        real = if link.starts_with('/') {
            link
        } else {
            match real.rfind('/') {
                Some(i) => format!("{}/{link}", &real[..i]),
                None => link,
            }
        };
        state = look(real.clone()).await?;
    }
    Ok(Target { path: path.to_string(), real, state })
}

/// Ansible's `type: path` expands `~` and `~user` on the host (as the user the module
/// runs as). That costs one more round trip, only for such paths.
pub async fn expand_home(remote: &dyn Remote, path: &str) -> Result<String, RemoteError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    let (user, tail) = rest.split_once('/').map_or((rest, ""), |(u, t)| (u, t));
    // A user name goes to the shell unquoted (quoting would stop the expansion), so
    // only a plain one is expanded; anything else stays a literal path, as in Python.
    if !user.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Ok(path.to_string());
    }
    let out = remote.exec(&format!("printf %s ~{user}"), b"").await?;
    let home = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.rc != 0 || home.is_empty() || home.starts_with('~') {
        return Ok(path.to_string());
    }
    Ok(if rest.contains('/') { format!("{}/{tail}", home.trim_end_matches('/')) } else { home })
}

/// How to write the new content.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub attrs: Attrs,
    pub backup: bool,
    /// A command with `%s` for the new file, which must succeed before it replaces the
    /// old one (Ansible's `validate`).
    pub validate: Option<String>,
}

/// Why [`finish`] did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The host could not run what was asked.
    Remote(RemoteError),
    /// A failure the module reports with this `msg` (validation, bad mode...).
    Module(String),
}

impl From<RemoteError> for Failure {
    fn from(e: RemoteError) -> Self {
        Failure::Remote(e)
    }
}

/// What [`finish`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// The backup copy of the old file, when `backup` was asked and a write happened.
    pub backup: Option<String>,
    /// Mode, owner or group differed from what was asked (and were set, outside check
    /// mode): Ansible adds "ownership, perms or SE linux context changed" to `msg`.
    pub attrs_changed: bool,
}

/// Ansible's message for changed attributes, joined to the content message.
pub fn attrs_message(msg: &str, content_changed: bool) -> String {
    if content_changed {
        format!("{msg} and ownership, perms or SE linux context changed")
    } else {
        "ownership, perms or SE linux context changed".to_string()
    }
}

/// The host's umask is not probed: Debian's default is assumed for symbolic modes
/// without a "who" (`+x`) and for new files (0644).
const UMASK: u32 = 0o022;

const VALIDATE_MARK: &str = "__provision_validate_failed__";

/// Write `new` (when the content changes) and settle mode/owner/group. In check mode
/// nothing is written; what would change is still reported. No round trip when
/// nothing changes.
pub async fn finish(remote: &dyn Remote, target: &Target, new: Option<&[u8]>, opts: &WriteOptions, check_mode: bool) -> Result<Finished, Failure> {
    let attrs = &opts.attrs;
    let attrs_changed = if target.exists() {
        attrs_differ(&target.state, attrs).map_err(Failure::Module)?
    } else {
        // A new file is created 0644, owned by whoever runs the command.
        new.is_some() && !check_mode && new_file_mode_differs(attrs).map_err(Failure::Module)?
    };
    if check_mode {
        return Ok(Finished { backup: None, attrs_changed });
    }
    let mut done = Finished { backup: None, attrs_changed };
    if let Some(content) = new {
        done.backup = write(remote, target, content, opts).await?;
    } else if attrs_changed {
        let script = format!("{}true", attr_commands(&target.real, attrs));
        let out = remote.exec(&script, b"").await?;
        if out.rc != 0 {
            return Err(Failure::Module(format!("cannot set mode or owner of {}: {}", target.path, String::from_utf8_lossy(&out.stderr).trim())));
        }
    }
    Ok(done)
}

/// Write `content` over `target.real` atomically: parent directories made for a new
/// file, a backup kept when asked, and `validate` run on the temporary file (mode and
/// owner already set) before it replaces the target.
async fn write(remote: &dyn Remote, target: &Target, content: &[u8], opts: &WriteOptions) -> Result<Option<String>, Failure> {
    let real = &target.real;
    let backup = opts.backup && target.exists();
    let mkdir = match real.rfind('/') {
        // The test is a builtin: no process when the directory is there (the usual case).
        Some(i) if !target.exists() && i > 0 => format!("[ -d {d} ] || mkdir -p {d} || exit 1; ", d = quote(&real[..i])),
        _ => String::new(),
    };
    if mkdir.is_empty() && opts.validate.is_none() {
        return Ok(write_atomic(remote, real, content, &opts.attrs, backup).await?);
    }
    let hook = match &opts.validate {
        Some(v) => {
            let check = validate_command(v).map_err(Failure::Module)?;
            format!("{{ {check} >/dev/null || {{ echo {VALIDATE_MARK}$?; exit 0; }}; }} && ")
        }
        None => String::new(),
    };
    let script = format!("{mkdir}{}", write_script_with(real, &opts.attrs, backup, Source::Stdin(content.len()), &hook));
    run_write(remote, &target.path, &script, content).await
}

async fn run_write(remote: &dyn Remote, path: &str, script: &str, content: &[u8]) -> Result<Option<String>, Failure> {
    let out = remote.exec(script, &write_stdin(content)).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(rc) = stdout.lines().find_map(|l| l.strip_prefix(VALIDATE_MARK)) {
        return Err(Failure::Module(format!("failed to validate: rc:{rc} error:{}", String::from_utf8_lossy(&out.stderr))));
    }
    if out.rc != 0 {
        return Err(Failure::Module(format!("cannot write {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(stdout.lines().find_map(|l| l.strip_prefix("backup:").map(str::to_string)))
}

/// Ansible's `validate`: `validate % tmpfile`, then split into words (no shell). Here
/// each word is quoted and `%s` becomes the temporary file `"$t"` of [`write_script_with`].
pub fn validate_command(validate: &str) -> Result<String, String> {
    if !validate.contains("%s") {
        return Err(format!("validate must contain %s: {validate}"));
    }
    let words = shlex::split(validate).ok_or_else(|| format!("cannot split validate into words (unbalanced quotes?): {validate}"))?;
    let mut out = Vec::new();
    for w in words {
        // Python's % formatting: `%s` is the file, `%%` is `%`.
        let mut word = String::new();
        let mut piece = String::new();
        let mut chars = w.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('%', Some('s')) => {
                    chars.next();
                    word.push_str(&quote_piece(&std::mem::take(&mut piece)));
                    word.push_str("\"$t\"");
                }
                ('%', Some('%')) => {
                    chars.next();
                    piece.push('%');
                }
                _ => piece.push(c),
            }
        }
        word.push_str(&quote_piece(&piece));
        out.push(if word.is_empty() { "''".to_string() } else { word });
    }
    Ok(out.join(" "))
}

fn quote_piece(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        quote(s)
    }
}

/// Whether `attrs` asks for a mode, owner or group that `state` does not have.
pub fn attrs_differ(state: &PathState, attrs: &Attrs) -> Result<bool, String> {
    let current = u32::from_str_radix(&state.mode, 8).unwrap_or(0);
    if let Some(m) = &attrs.mode {
        if resolve_mode(m, current, state.kind == "directory", UMASK)? != current {
            return Ok(true);
        }
    }
    if let Some(o) = &attrs.owner {
        if *o != state.owner && *o != state.uid.to_string() {
            return Ok(true);
        }
    }
    if let Some(g) = &attrs.group {
        if *g != state.group && *g != state.gid.to_string() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn new_file_mode_differs(attrs: &Attrs) -> Result<bool, String> {
    match &attrs.mode {
        Some(m) => Ok(resolve_mode(m, 0o644, false, UMASK)? != 0o644),
        None => Ok(false),
    }
}

/// The `diff` result key: the whole text before and after.
pub fn diff(before: &[u8], after: &[u8], before_header: &str, after_header: &str) -> Value {
    let mut d = Map::new();
    d.insert("before".into(), Value::String(String::from_utf8_lossy(before).into_owned()));
    d.insert("after".into(), Value::String(String::from_utf8_lossy(after).into_owned()));
    d.insert("before_header".into(), Value::String(before_header.to_string()));
    d.insert("after_header".into(), Value::String(after_header.to_string()));
    Value::Object(d)
}

/// Split after every `\n`, keeping it (Python's `bytes.readlines()`).
pub fn split_lines(content: &[u8]) -> Vec<Vec<u8>> {
    content.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_compare_with_names_or_ids() {
        let st = PathState { exists: true, kind: "file".into(), mode: "0644".into(), owner: "root".into(), group: "adm".into(), uid: 0, gid: 4, ..Default::default() };
        let a = |m: Option<&str>, o: Option<&str>, g: Option<&str>| Attrs { mode: m.map(Into::into), owner: o.map(Into::into), group: g.map(Into::into) };
        assert_eq!(attrs_differ(&st, &a(Some("0644"), Some("root"), Some("4"))), Ok(false));
        assert_eq!(attrs_differ(&st, &a(Some("u=rw,go=r"), Some("0"), Some("adm"))), Ok(false));
        assert_eq!(attrs_differ(&st, &a(Some("0640"), None, None)), Ok(true));
        assert_eq!(attrs_differ(&st, &a(None, Some("www-data"), None)), Ok(true));
    }

    #[test]
    fn validate_gets_the_temporary_file() {
        assert_eq!(validate_command("visudo -cf %s").unwrap(), "visudo -cf \"$t\"");
        assert_eq!(validate_command("sh -c 'test -s %s' 100%%").unwrap(), "sh -c 'test -s '\"$t\" 100%");
        assert_eq!(validate_command("/some/path").unwrap_err(), "validate must contain %s: /some/path");
    }

    #[test]
    fn home_is_expanded_on_the_host() {
        let remote = testing::ShellRemote::default();
        let home = std::env::var("HOME").unwrap_or_default();
        let got = testing::block_on(expand_home(&remote, "~/a b")).unwrap_or_default();
        assert_eq!(got, format!("{}/a b", home.trim_end_matches('/')));
        assert_eq!(testing::block_on(expand_home(&remote, "~no-such-user-x/f")).unwrap_or_default(), "~no-such-user-x/f");
        assert_eq!(testing::block_on(expand_home(&remote, "~$(id)/f")).unwrap_or_default(), "~$(id)/f");
        assert_eq!(testing::block_on(expand_home(&remote, "/etc/x")).unwrap_or_default(), "/etc/x");
        assert_eq!(remote.round_trips(), 2);
    }

    /// Without mode, owner or group to compare the file is read with `cat` alone (no
    /// `stat`); with one of them, `stat` is there. Links are followed either way.
    #[test]
    fn a_file_is_read_without_stat_unless_attributes_are_asked() {
        let dir = std::env::temp_dir().join(format!("provision-textedit-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub dir")).unwrap();
        std::fs::write(dir.join("sub dir/it's.conf"), b"a=1\nb=2").unwrap();
        std::os::unix::fs::symlink("sub dir/it's.conf", dir.join("link")).unwrap();
        let link = dir.join("link").display().to_string();
        for (attrs, stat) in [(Attrs::default(), false), (Attrs { owner: Some("root".into()), ..Attrs::default() }, true)] {
            let remote = testing::ShellRemote::default();
            let t = testing::block_on(read_for(&remote, &link, &attrs)).unwrap();
            assert_eq!((t.exists(), t.state.kind.as_str(), t.content()), (true, "file", Some(&b"a=1\nb=2"[..])));
            assert!(t.real.ends_with("sub dir/it's.conf"), "{}", t.real);
            let sent = remote.sent.lock().unwrap().clone();
            assert_eq!(sent.len(), 2);
            assert_eq!(sent.iter().all(|c| c.contains("stat -c")), stat, "{sent:?}");
            if stat {
                assert_eq!(t.state.size, 7);
            }
            let gone = testing::block_on(read_for(&remote, &dir.join("none").display().to_string(), &attrs)).unwrap();
            assert!(!gone.exists() && gone.content().is_none());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lines_keep_their_newlines() {
        assert_eq!(split_lines(b"a\nb\r\n\nc"), vec![b"a\n".to_vec(), b"b\r\n".to_vec(), b"\n".to_vec(), b"c".to_vec()]);
        assert!(split_lines(b"").is_empty());
    }
}

/// Test support for the editing modules: a [`Remote`] that runs each command with the
/// local `/bin/sh` (so the real probe and write scripts run, on a temporary
/// directory), and counts round trips.
#[cfg(test)]
pub mod testing {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::Value;

    use crate::{Args, Context, ExecOutput, Module, ModuleResult, Remote, RemoteError};

    #[derive(Default)]
    pub struct ShellRemote {
        pub sent: Mutex<Vec<String>>,
    }

    impl ShellRemote {
        pub fn round_trips(&self) -> usize {
            self.sent.lock().map(|s| s.len()).unwrap_or(0)
        }
    }

    #[async_trait]
    impl Remote for ShellRemote {
        async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().map_err(|e| RemoteError::Other(e.to_string()))?.push(command.to_string());
            let mut child = Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| RemoteError::Other(e.to_string()))?;
            if let Some(mut i) = child.stdin.take() {
                // A script that does not read its stdin may close it early: not an error.
                let _ = i.write_all(stdin);
            }
            let out = child.wait_with_output().map_err(|e| RemoteError::Other(e.to_string()))?;
            Ok(ExecOutput { rc: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr })
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    /// Drive a future that never waits on anything real.
    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    /// Validate `args` (a JSON object) against the module's spec and run it through a
    /// fresh [`ShellRemote`]; returns the result and the number of round trips.
    pub fn run(module: &dyn Module, args: Value, check_mode: bool, diff: bool) -> (ModuleResult, usize) {
        let raw: Args = args.as_object().cloned().unwrap_or_default();
        let doc = module.doc();
        let args = match crate::validate(doc.name, doc.args, &raw, &[]) {
            Ok(a) => a,
            Err(e) => return (ModuleResult::failed(e.message), 0),
        };
        let remote = ShellRemote::default();
        let ctx = Context { remote: &remote, check_mode, diff };
        let r = match block_on(module.run(&args, &ctx)) {
            Ok(r) => r,
            Err(e) => ModuleResult::failed(format!("remote error: {e}")),
        };
        (r, remote.round_trips())
    }
}

/// Table-driven cases for the editing modules, and scratch directories for them.
#[cfg(test)]
pub mod tests_support {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::Value;

    use super::testing::run;
    use crate::Module;

    /// A temporary directory, removed when dropped.
    pub struct Scratch(PathBuf);

    impl Scratch {
        pub fn new(tag: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!("provision-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }
        pub fn path(&self, name: &str) -> String {
            if name.is_empty() {
                return self.0.display().to_string();
            }
            self.0.join(name).display().to_string()
        }
        pub fn file(&self, name: &str, content: &str) -> String {
            std::fs::write(self.0.join(name), content).expect("write scratch file");
            self.path(name)
        }
        pub fn read(&self, name: &str) -> String {
            std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| format!("<{e}>"))
        }
        pub fn mode(&self, name: &str) -> u32 {
            std::fs::metadata(self.0.join(name)).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// One case: the file's content (`None`: no file) and the module's arguments (JSON,
    /// without `path`), and what Ansible made of them. `DIR` in `msg` stands for the
    /// scratch directory.
    pub struct Case {
        pub name: &'static str,
        pub content: Option<&'static str>,
        pub args: &'static str,
        pub check: bool,
        pub after: Option<&'static str>,
        pub changed: bool,
        pub failed: bool,
        pub msg: &'static str,
    }

    impl Case {
        /// Run the case on `f.txt` in a scratch directory; describe any difference.
        pub fn run(&self, module: &dyn Module) -> Result<(), String> {
            let s = Scratch::new("case");
            let path = match self.content {
                Some(c) => s.file("f.txt", c),
                None => s.path("f.txt"),
            };
            let mut args: Value = serde_json::from_str(self.args).map_err(|e| format!("{}: bad args: {e}", self.name))?;
            if let Some(m) = args.as_object_mut() {
                m.insert("path".into(), Value::String(path.clone()));
            }
            let (r, _) = run(module, args, self.check, false);
            let after = std::fs::read_to_string(&path).ok();
            let msg = r.0.get("msg").and_then(Value::as_str).unwrap_or_default().replace(&s.path(""), "DIR");
            let got = (after.as_deref(), r.changed(), r.is_failed(), msg.as_str());
            let want = (self.after, self.changed, self.failed, self.msg);
            if got == want {
                Ok(())
            } else {
                Err(format!("- {}:\n    got  {got:?}\n    want {want:?}", self.name))
            }
        }
    }
}
