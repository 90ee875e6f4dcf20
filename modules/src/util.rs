//! Helpers shared by the file modules: probing a path, and writing a file atomically.
//!
//! - [`probe`] answers "what is at this path" (type, mode, owner, group, size, sha1,
//!   and optionally the content) in one round trip.
//! - [`write_atomic`] sends content on the stdin of one command that writes it to a
//!   temporary file beside the target, sets mode and owner on it, syncs it and renames
//!   it over the target: a killed run never leaves a half-written file.

use serde_json::{Map, Value};

use crate::quote::quote;
use crate::{ExecOutput, Remote, RemoteError};
use crate::args::text;

pub mod batch;
pub mod pyre;
pub mod textedit;
#[cfg(test)]
mod write_tests;

/// What is at a path on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathState {
    // `kind` is `unprobed` (and `exists` false) for a path left undescribed on purpose
    // ([`probe_many_script_when`]): nothing is known of it.
    pub exists: bool,
    /// `file`, `directory`, `link`, `hard` is not distinguished from file, `other`.
    pub kind: String,
    /// Octal permission bits, 4 digits (`0644`).
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// SHA-1 of the content (regular files only), as Ansible's `checksum`.
    pub checksum: Option<String>,
    /// The link target, for symlinks.
    pub link_target: Option<String>,
    /// The content, when asked for and it is a regular file.
    pub content: Option<Vec<u8>>,
}

const MARK: &str = "__provision_probe_1f3a__";

/// The shell that describes `path` (and prints its content after a marker line when
/// `with_content`). Uses only POSIX tools plus `stat -c` and `sha1sum` (coreutils,
/// busybox).
///
/// Every process counts (an `exec` costs milliseconds on a busy host, more than the
/// round trip): the type comes from shell builtins, one `stat` prints the rest, the
/// checksum is `sha1sum`'s own output (or, with the content, computed here), and
/// nothing runs in a command substitution.
pub fn probe_script(path: &str, with_content: bool) -> String {
    probe_script_with(path, with_content, "")
}

/// [`probe_script`], with `stat_line`: more of `stat -c`'s format, printed on a line of
/// its own before the probe's (one `stat` process for both; nothing when the path is
/// absent). It must not contain a single quote.
pub(crate) fn probe_script_with(path: &str, with_content: bool, stat_line: &str) -> String {
    probe_script_gen(path, with_content, stat_line, Stat::Run)
}

/// What a probe does for the fields `stat` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stat {
    /// Runs `stat`.
    Run,
    /// Leaves it to the end of a batch (see [`batch`]); the path's number in its probe.
    Defer(usize),
    /// No `stat`: mode, owner, group, ids and size are left unknown (`0000`, `-`, 0).
    Skip,
}

/// [`probe_script`] with the content, for an editor that needs no mode, owner, group
/// or size (they come back `0000`, `-`, `-`, 0, 0, 0): one process fewer (no `stat`).
pub fn probe_content_script(path: &str) -> String {
    probe_script_gen(path, true, "", Stat::Skip)
}

/// [`probe_script_with`]; with [`Stat::Defer`], its `stat` and `sha1sum` are left to the
/// end of a batch of probes (see [`batch`]): a placeholder line stands where their output
/// goes, and the path is added to the shell's arguments (`"$@"`).
fn probe_script_gen(path: &str, with_content: bool, stat_line: &str, how: Stat) -> String {
    let p = quote(path);
    let extra = if stat_line.is_empty() { String::new() } else { format!("'{stat_line}\n'") };
    let stat = match how {
        Stat::Run => format!("stat -c {extra}\"{MARK} $k %a %U %G %u %g %s\" -- \"$p\" || echo {MARK} \"$k\""),
        Stat::Defer(j) => format!("echo \"{} {j} $k\"; set -- \"$@\" \"$p\"; K=\"$K$k \"", batch::STAT),
        Stat::Skip => format!("echo {MARK} \"$k\" 0 - - 0 0 0"),
    };
    let mut s = format!(
        "p={p}; if [ -L \"$p\" ]; then k=link; elif [ -d \"$p\" ]; then k=directory; elif [ -f \"$p\" ]; then k=file; \
elif [ -e \"$p\" ]; then k=other; else echo {MARK} absent; exit 0; fi; \
{stat}; \
if [ $k = link ]; then printf '%s ' {MARK}link; readlink -- \"$p\" || echo; fi"
    );
    if with_content {
        // The checksum of the content is computed from what comes back.
        s.push_str(&format!("; if [ $k = file ]; then echo {MARK}content; cat -- \"$p\"; fi"));
    } else if matches!(how, Stat::Defer(_)) {
        s.push_str(&format!("; if [ $k = file ]; then echo {}; fi", batch::SUM));
    } else {
        s.push_str(&sum_part());
    }
    s
}

/// The part of a probe that prints a file's checksum.
fn sum_part() -> String {
    format!("; if [ $k = file ]; then printf '%s ' {MARK}sum; sha1sum < \"$p\" || echo; fi")
}

/// [`probe_many_script_with`] without the checksums (no `sha1sum`): for a file whose
/// content the controller knows, having just written it.
pub(crate) fn probe_many_script_unsummed(paths: &[(&str, String)]) -> String {
    probe_many_script_with(paths).replace(&sum_part(), "")
}

/// Parse what [`probe_script`] printed.
pub fn parse_probe(out: &[u8]) -> Result<PathState, String> {
    let mut st = PathState::default();
    let content_mark = format!("{MARK}content\n");
    let (head, content) = match find(out, content_mark.as_bytes()) {
        Some(i) => (&out[..i], Some(out[i + content_mark.len()..].to_vec())),
        None => (out, None),
    };
    let head = String::from_utf8_lossy(head);
    for line in head.lines() {
        if let Some(rest) = line.strip_prefix(&format!("{MARK} ")) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.first() == Some(&"unprobed") {
                st.kind = "unprobed".into();
                return Ok(st);
            }
            if f.first() == Some(&"absent") {
                st.exists = false;
                return Ok(st);
            }
            if f.len() < 7 {
                return Err(format!("unexpected probe output: {line}"));
            }
            st.exists = true;
            st.kind = f[0].to_string();
            st.mode = format!("{:0>4}", f[1]);
            st.owner = f[2].to_string();
            st.group = f[3].to_string();
            st.uid = f[4].parse().unwrap_or(0);
            st.gid = f[5].parse().unwrap_or(0);
            st.size = f[6].parse().unwrap_or(0);
        } else if let Some(t) = line.strip_prefix(&format!("{MARK}link ")) {
            st.link_target = Some(t.to_string());
        } else if let Some(sum) = line.strip_prefix(&format!("{MARK}sum ")) {
            // `sha1sum < FILE` prints `HASH  -`.
            st.checksum = Some(sum.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    if !st.exists && st.kind.is_empty() {
        return Err(format!("unexpected probe output: {head}"));
    }
    if st.checksum.is_none() && st.kind == "file" {
        if let Some(c) = &content {
            st.checksum = Some(sha1_hex(c));
        }
    }
    st.content = content;
    Ok(st)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Describe `path` on the host, in one round trip.
pub async fn probe(remote: &dyn Remote, path: &str, with_content: bool) -> Result<PathState, RemoteError> {
    let out = remote.exec(&probe_script(path, with_content), b"").await?;
    if out.rc != 0 {
        return Err(RemoteError::Other(format!("cannot inspect {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    parse_probe(&out.stdout).map_err(RemoteError::Other)
}

/// Attributes to give a file being written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// A mode `chmod` understands (octal `0644` or symbolic `u=rw,g=r`).
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attrs {
    /// From a module's `mode`, `owner`, `group` arguments (a YAML int mode like 420
    /// is read as decimal, as Ansible does: `0644` unquoted in YAML is 420 = 0o644).
    pub fn from_args(args: &Map<String, Value>) -> Attrs {
        Attrs { mode: args.get("mode").and_then(mode_text), owner: text(args, "owner"), group: text(args, "group") }
    }
}


/// Ansible's reading of `mode`: an int is taken as the permission number itself
/// (YAML `0644` is already 420 = 0o644), a string is octal or symbolic.
pub fn mode_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|m| format!("{m:04o}")),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(if s.chars().all(|c| c.is_ascii_digit()) { format!("{:0>4}", s.trim_start_matches('0')) } else { s.clone() }),
        _ => None,
    }
}

/// Commands that give `target` the attributes (used on the temporary file before the
/// rename, and on existing paths).
pub fn attr_commands(target: &str, attrs: &Attrs) -> String {
    let t = quote(target);
    let mut s = String::new();
    if let Some(m) = &attrs.mode {
        s.push_str(&format!("chmod {} {t} && ", quote(m)));
    }
    match (&attrs.owner, &attrs.group) {
        (Some(o), Some(g)) => s.push_str(&format!("chown {} {t} && ", quote(&format!("{o}:{g}")))),
        (Some(o), None) => s.push_str(&format!("chown {} {t} && ", quote(o))),
        (None, Some(g)) => s.push_str(&format!("chgrp {} {t} && ", quote(g))),
        (None, None) => {}
    }
    s
}

/// Removes the temporary file `$t` when the script ends, also when it is interrupted:
/// a signal (Ctrl-C on the controller sends SIGINT, then SIGTERM, to the remote command;
/// SIGHUP when the connection drops) becomes an `exit`, which runs the EXIT trap. Without
/// the signal traps, `sh` killed by a signal skips its EXIT trap and leaves the file.
/// `$t` is empty until the temporary file is made (the traps are set before it exists,
/// and a file of the same name that was there already is never removed).
pub const CLEANUP: &str = "t=; trap '[ -z \"$t\" ] || rm -f -- \"$t\"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM";

/// The line sent after the content on the stdin of a write script ([`write_stdin`]):
/// read after exactly the content's length, it proves that all of it arrived.
pub const STDIN_END: &str = "__provision_write_end_7c1d__";

/// Where a write script gets the new content from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// The command's stdin: `len` bytes, then the line [`STDIN_END`]. Send
    /// [`write_stdin`]`(content)`. A transfer cut short (the controller killed, the
    /// connection dropped) ends stdin early, and the file is not replaced.
    Stdin(usize),
    /// A file already on the host (`copy` with `remote_src`).
    File(&'a str),
    /// The output of a shell command (say `printf '%s' 'TEXT'`, a builtin).
    Command(&'a str),
}

/// What to send on the stdin of a write script fed from [`Source::Stdin`].
pub fn write_stdin(content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + STDIN_END.len() + 1);
    v.extend_from_slice(content);
    write_stdin_owned(v)
}

/// [`write_stdin`], taking the content (no copy of it).
pub fn write_stdin_owned(mut content: Vec<u8>) -> Vec<u8> {
    content.extend_from_slice(STDIN_END.as_bytes());
    content.push(b'\n');
    content
}

/// The directory part of `path`, as `dirname` prints it (`x` → `.`, `/x` → `/`,
/// `a/b/` → `a`).
fn parent_dir(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    match p.rfind('/') {
        None => ".",
        Some(i) => match p[..i].trim_end_matches('/') {
            "" => "/",
            d => d,
        },
    }
}

/// `bytes` random bytes from the operating system, in hex: names and markers nobody can
/// guess (temporary files, the persistent shell's and become's end markers).
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness (never seen): a keyed hash (std seeds its keys from the OS
        // when it can) of the time, the process and a counter, for each 8 bytes.
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        for chunk in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A name for the temporary file beside `path`, unpredictable (64 random bits from the
/// operating system of the controller), so that the host needs no `mktemp`.
fn temp_beside(path: &str) -> String {
    let name = random_hex(8);
    match parent_dir(path) {
        "/" => format!("/.provision.{name}"),
        // Never starting with `-`: no command takes it for an option.
        d if d.starts_with('/') || d == "." => format!("{d}/.provision.{name}"),
        d => format!("./{d}/.provision.{name}"),
    }
}

/// What a write script fed from [`Source::Stdin`] reads as the content: `stdin` without
/// the end line (for tests that look at what was sent).
#[cfg(test)]
pub fn unframed(stdin: &[u8]) -> &[u8] {
    let end = format!("{STDIN_END}\n");
    stdin.strip_suffix(end.as_bytes()).unwrap_or(stdin)
}

/// The script that writes stdin (`len` bytes, sent as [`write_stdin`] makes them) to
/// `path` atomically with `attrs`. When the target exists and no mode/owner is asked,
/// the new file keeps the old one's mode and owner. `backup` keeps a copy of the old
/// file as `path.<timestamp>~` and prints its name.
pub fn write_script(path: &str, attrs: &Attrs, backup: bool, len: usize) -> String {
    write_script_with(path, attrs, backup, Source::Stdin(len), "")
}

/// [`write_script`] with the content from `source`, and `before_rename` run after
/// mode and owner are set on the temporary file `"$t"` and before it replaces the
/// target: a validation command, ending in `&& `.
///
/// Every process counts (an `exec` costs milliseconds of a busy host's CPU). What runs:
/// - the temporary file's name comes from the controller, the file is made by the
///   shell (`set -C`: exclusively; umask 077 around it: mode 0600 like `mktemp`'s; the
///   umask is read back from `/proc/self/status`, not from a forked `$(umask)`);
/// - `dd` copies the content into it and syncs it (`conv=fsync`) in one process;
///   for stdin it copies exactly the length, and the shell's `read` then finds the
///   end line, which proves that the whole content arrived (no `wc`);
/// - owner: `chown --reference` only when the existing file's owner or group differ
///   from the temporary file's (`test -O`/`-G`, builtins); mode: one `chmod`
///   (`--reference` for an existing file, 0644 for a new one), none when an octal
///   mode is asked (it is set instead); chown before chmod, which keeps setuid bits;
/// - `mv -f` renames it over the target.
///
/// One difference with `mktemp`: in a directory with a default ACL the umask does not
/// apply, and the file the shell creates (mode 0666) gets the ACL's permissions, where
/// `mktemp`'s 0600 would have masked them, until the chmod.
///
/// `|| exit 1`: under `set -e` a failing command that is not the last of an `&&` list,
/// or that is inside an `if` on the left of one, does not stop the script, so every
/// step that must stop the rename says so.
pub fn write_script_with(path: &str, attrs: &Attrs, backup: bool, source: Source, before_rename: &str) -> String {
    let p = quote(path);
    let temp = quote(&temp_beside(path));
    let mut s = format!(
        "set -e; p={p}; {CLEANUP}; \
w=; {{ read -r u; read -r w u; }} 2>/dev/null </proc/self/status || :; [ \"$w\" = Umask: ] || u=$(umask); \
umask 077; set -C; : >{temp}; set +C; t={temp}; umask \"$u\"; "
    );
    match source {
        Source::Stdin(len) => s.push_str(&format!(
            "dd bs=64K count={len} iflag=count_bytes,fullblock conv=fsync status=none >\"$t\"; IFS= read -r e || :; \
[ \"$e\" = {STDIN_END} ] || {{ echo 'the content did not arrive whole' >&2; exit 1; }}; "
        )),
        Source::File(f) => s.push_str(&format!("dd {} bs=64K conv=fsync status=none >\"$t\"; ", quote(&format!("if={f}")))),
        Source::Command(c) => s.push_str(&format!("{c} >\"$t\"; sync \"$t\" 2>/dev/null || :; ")),
    }
    // Owner, then mode (a chown clears setuid bits): the existing file's unless asked.
    let octal_mode = attrs.mode.as_deref().is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
    let keep_owner = if attrs.owner.is_none() || attrs.group.is_none() {
        "[ -O \"$p\" ] && [ -G \"$p\" ] && [ -G \"$t\" ] || chown --reference=\"$p\" \"$t\" || exit 1; "
    } else {
        ""
    };
    let (keep_mode, new_mode) = if octal_mode { ("", "") } else { ("chmod --reference=\"$p\" \"$t\" || exit 1; ", "chmod 0644 \"$t\" || exit 1; ") };
    let chown = match (&attrs.owner, &attrs.group) {
        (Some(o), Some(g)) => format!("chown {} \"$t\" || exit 1; ", quote(&format!("{o}:{g}"))),
        (Some(o), None) => format!("chown {} \"$t\" || exit 1; ", quote(o)),
        (None, Some(g)) => format!("chgrp {} \"$t\" || exit 1; ", quote(g)),
        (None, None) => String::new(),
    };
    let when_exists = |s: &mut String, then: &str, otherwise: &str| match (then.is_empty(), otherwise.is_empty()) {
        (true, true) => {}
        (false, true) => s.push_str(&format!("if [ -e \"$p\" ]; then {then}fi; ")),
        (true, false) => s.push_str(&format!("if [ ! -e \"$p\" ]; then {otherwise}fi; ")),
        (false, false) => s.push_str(&format!("if [ -e \"$p\" ]; then {then}else {otherwise}fi; ")),
    };
    if chown.is_empty() {
        when_exists(&mut s, &format!("{keep_owner}{keep_mode}"), new_mode);
    } else {
        when_exists(&mut s, keep_owner, "");
        s.push_str(&chown);
        when_exists(&mut s, keep_mode, new_mode);
    }
    if let Some(m) = &attrs.mode {
        s.push_str(&format!("chmod {} \"$t\" || exit 1; ", quote(m)));
    }
    if backup {
        s.push_str("if [ -f \"$p\" ]; then b=\"$p.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$p\" \"$b\" || exit 1; echo \"backup:$b\"; fi; ");
    }
    if !before_rename.is_empty() {
        s.push_str(&format!("{before_rename}: || exit 1; "));
    }
    s.push_str("mv -f -- \"$t\" \"$p\"; trap - EXIT");
    s
}

/// Write `content` to `path` atomically; returns the backup file's name if one was made.
pub async fn write_atomic(remote: &dyn Remote, path: &str, content: &[u8], attrs: &Attrs, backup: bool) -> Result<Option<String>, RemoteError> {
    let out: ExecOutput = remote.exec(&write_script(path, attrs, backup, content.len()), &write_stdin(content)).await?;
    if out.rc != 0 {
        return Err(RemoteError::Other(format!("cannot write {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("backup:").map(str::to_string)))
}

/// Decrypts a vault-encrypted controller file (`$ANSIBLE_VAULT;...`); set by the engine,
/// which holds the vault secrets.
pub type VaultDecryptor = fn(&[u8]) -> Result<Vec<u8>, String>;

static VAULT_DECRYPTOR: std::sync::OnceLock<VaultDecryptor> = std::sync::OnceLock::new();

/// Install the engine's vault decryption for controller files (`copy` with `decrypt: yes`).
pub fn set_vault_decryptor(f: VaultDecryptor) {
    let _ = VAULT_DECRYPTOR.set(f);
}

/// A controller file's bytes; a vault-encrypted one decrypted when `decrypt` (Ansible's
/// `decrypt: yes` default for `copy`).
pub fn read_local(path: &std::path::Path, decrypt: bool) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if decrypt && bytes.starts_with(b"$ANSIBLE_VAULT;") {
        return match VAULT_DECRYPTOR.get() {
            Some(f) => f(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            None => Err(format!("{}: Attempting to decrypt but no vault secrets found", path.display())),
        };
    }
    Ok(bytes)
}

/// SHA-1 of bytes as hex (the `checksum` Ansible reports).
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_known_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn probe_output_parses() {
        let out = format!("{MARK} file 644 root root 0 0 12\n{MARK}sum abc\n{MARK}content\nhello\nworld\n");
        let st = parse_probe(out.as_bytes()).unwrap();
        assert!(st.exists);
        assert_eq!((st.kind.as_str(), st.mode.as_str(), st.owner.as_str(), st.size), ("file", "0644", "root", 12));
        assert_eq!(st.checksum.as_deref(), Some("abc"));
        assert_eq!(st.content.as_deref(), Some(&b"hello\nworld\n"[..]));
        let st = parse_probe(format!("{MARK} absent\n").as_bytes()).unwrap();
        assert!(!st.exists);
    }

    #[test]
    fn modes_read_like_ansible() {
        assert_eq!(mode_text(&Value::from(420)), Some("0644".into()));
        assert_eq!(mode_text(&Value::from("0644")), Some("0644".into()));
        assert_eq!(mode_text(&Value::from("755")), Some("0755".into()));
        assert_eq!(mode_text(&Value::from("u=rw,g=r")), Some("u=rw,g=r".into()));
    }
}

// ---------------------------------------------------------------------------------------
// Helpers added for `file`, `copy` and `stat`: modes, several probes in one round trip,
// write scripts with a different source or a validation step, and many files on one stdin.

/// The permission bits that `mode` (as [`mode_text`] gives it: octal digits or symbolic
/// `u=rw,g+X`) asks for, given the path's `current` bits, whether it is a directory and
/// the host's `umask`. Symbolic modes follow Ansible's `_symbolic_mode_to_octal`: clauses
/// apply left to right, `a` or no "who" means `ugo` (and then `r`/`w`/`x` are masked by
/// the umask), `X` counts when the path is a directory or already executable by anyone.
pub fn resolve_mode(mode: &str, current: u32, is_dir: bool, umask: u32) -> Result<u32, String> {
    let m = mode.trim();
    let digits = m.strip_prefix("0o").or_else(|| m.strip_prefix("0O")).unwrap_or(m);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let bits = u32::from_str_radix(digits, 8).map_err(|_| format!("mode must be in octal or symbolic form: {mode}"))?;
        if bits > 0o7777 {
            return Err(format!("Invalid mode supplied, only permission info is allowed: {mode}"));
        }
        return Ok(bits);
    }
    let bad = || format!("mode must be in octal or symbolic form: bad symbolic permission for mode: {mode}");
    let mut new = current & 0o7777;
    for clause in m.split(',') {
        let first_op = clause.find(['+', '-', '=']);
        let (who, mut rest) = match first_op {
            Some(i) => clause.split_at(i),
            None => (clause, ""),
        };
        let use_umask = who.is_empty();
        let who = if who.is_empty() || who == "a" { "ugo" } else { who };
        if !who.chars().all(|c| "ugo".contains(c)) {
            return Err(bad());
        }
        while let Some(op) = rest.chars().next() {
            let perms_end = rest[1..].find(['+', '-', '=']).map_or(rest.len(), |i| i + 1);
            let perms = &rest[1..perms_end];
            rest = &rest[perms_end..];
            if !perms.chars().all(|c| "rwxXstugo".contains(c)) {
                return Err(bad());
            }
            for user in who.chars() {
                let apply = symbolic_bits(user, perms, use_umask, new, is_dir, umask);
                new = match op {
                    '=' => {
                        let mask = match user {
                            'u' => 0o4700,
                            'g' => 0o2070,
                            _ => 0o1007,
                        };
                        (new & (mask ^ 0o7777)) | apply
                    }
                    '+' => new | apply,
                    _ => new & !apply,
                };
            }
        }
    }
    Ok(new)
}

/// The bits that `perms` (`rwxXstugo` letters) stand for, for one of `u`, `g`, `o`.
fn symbolic_bits(user: char, perms: &str, use_umask: bool, prev: u32, is_dir: bool, umask: u32) -> u32 {
    let keep = if use_umask { (umask & 0o7777) ^ 0o7777 } else { 0o7777 };
    let shift = match user {
        'u' => 6,
        'g' => 3,
        _ => 0,
    };
    let apply_x = is_dir || prev & 0o111 != 0;
    let class = |bits: u32| (bits & 7) << shift;
    perms
        .chars()
        .map(|p| match p {
            'r' => keep & (0o4 << shift),
            'w' => keep & (0o2 << shift),
            'x' => keep & (0o1 << shift),
            'X' if apply_x => 0o1 << shift,
            's' if user == 'u' => 0o4000,
            's' if user == 'g' => 0o2000,
            't' if user == 'o' => 0o1000,
            'u' => class(prev >> 6),
            'g' => class(prev >> 3),
            'o' => class(prev),
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Permission bits as Ansible prints them in results and diffs: `'0%03o'` (`0644`, `01777`).
pub fn mode_string(bits: u32) -> String {
    format!("0{bits:03o}")
}

/// The marker line between the answers of [`probe_many_script`].
const PROBE_SEPARATOR: &str = "__provision_probe_next_5b2e__";

/// The shell that probes several paths in one round trip (each as [`probe_script`]
/// without content, in its own subshell). Parse it with [`parse_probe_many`].
pub fn probe_many_script(paths: &[&str]) -> String {
    let with: Vec<(&str, String)> = paths.iter().map(|p| (*p, String::new())).collect();
    probe_many_script_with(&with)
}

/// [`probe_many_script`], each path with its `stat_line` (see [`probe_script_with`]).
///
/// No subshell per path (a fork each): the probe's `exit 0` for an absent path becomes
/// a test that skips the rest.
pub(crate) fn probe_many_script_with(paths: &[(&str, String)]) -> String {
    let with: Vec<(&str, String, Option<&str>)> = paths.iter().map(|(p, e)| (*p, e.clone(), None)).collect();
    probe_many_script_when(&with)
}

/// [`probe_many_script_with`], where a path may be described only when another one is
/// absent (`unless`: neither `-e` nor `-L`); otherwise it is answered `unprobed` (see
/// [`PathState::unprobed`]), which costs no process.
pub(crate) fn probe_many_script_when(paths: &[(&str, String, Option<&str>)]) -> String {
    probe_many_gen(paths, false)
}

/// [`probe_many_script_when`]; with `defer`, as a part of a batch (see [`batch`]).
pub(crate) fn probe_many_gen(paths: &[(&str, String, Option<&str>)], defer: bool) -> String {
    let absent = format!("else echo {MARK} absent; exit 0; fi; ");
    let mut number = 0..;
    let mut body = |p: &str, extra: &str, unless: Option<&str>| {
        let s = probe_script_gen(p, false, extra, number.next().filter(|_| defer).map_or(Stat::Run, Stat::Defer));
        let s = match s.split_once(&absent) {
            Some((head, rest)) => format!("{head}else echo {MARK} absent; k=; fi; if [ -n \"$k\" ]; then {rest}; fi"),
            None => format!("({s})"),
        };
        match unless {
            Some(u) => format!("if [ -e {q} ] || [ -L {q} ]; then echo {MARK} unprobed; else {s}; fi", q = quote(u)),
            None => s,
        }
    };
    paths.iter().map(|(p, extra, unless)| body(p, extra, *unless)).collect::<Vec<_>>().join(&format!("; echo {PROBE_SEPARATOR}; "))
}

/// Parse what [`probe_many_script`] printed: one state per path, in order. Lines that
/// are not the probe's own (say, printed by a command run before it) are ignored.
pub fn parse_probe_many(out: &[u8], count: usize) -> Result<Vec<PathState>, String> {
    let text = String::from_utf8_lossy(out);
    let mut parts: Vec<String> = vec![String::new()];
    for line in text.lines() {
        if line == PROBE_SEPARATOR {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    if parts.len() != count {
        return Err(format!("unexpected probe output ({} answers for {count} paths): {text}", parts.len()));
    }
    parts.iter().map(|p| parse_probe(p.as_bytes())).collect()
}

/// A ustar archive of regular files (`name`, content) for sending many files on the stdin
/// of one command (`tar -xof - -C DIR`). Names must be under 100 bytes; files get mode
/// 0600 and the current time.
pub fn tar_archive(files: &[(String, &[u8])]) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let total: usize = files.iter().map(|(_, c)| 512 + c.len().div_ceil(512) * 512).sum();
    let mut out = Vec::with_capacity(total + 1024);
    for (name, content) in files {
        let mut h = [0u8; 512];
        let n = name.as_bytes();
        h[..n.len().min(99)].copy_from_slice(&n[..n.len().min(99)]);
        h[100..108].copy_from_slice(b"0000600\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
        h[136..148].copy_from_slice(format!("{:011o}\0", now).as_bytes());
        h[148..156].copy_from_slice(b"        ");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(content);
        out.resize(out.len() + (512 - content.len() % 512) % 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[cfg(test)]
mod file_helper_tests {
    use super::*;

    #[test]
    fn octal_modes_resolve_as_given() {
        assert_eq!(resolve_mode("0644", 0o755, false, 0o022), Ok(0o644));
        assert_eq!(resolve_mode("1777", 0, true, 0o022), Ok(0o1777));
        assert_eq!(resolve_mode("0o750", 0, true, 0o022), Ok(0o750));
        assert!(resolve_mode("17777", 0, false, 0o022).is_err());
    }

    #[test]
    fn symbolic_modes_follow_ansible() {
        assert_eq!(resolve_mode("u=rw,g=r,o=r", 0o600, false, 0o022), Ok(0o644));
        assert_eq!(resolve_mode("u+rw,g-wx,o-rwx", 0o777, false, 0o022), Ok(0o740));
        // X: only for directories or already executable files.
        assert_eq!(resolve_mode("u=rwX,g=rX,o=rX", 0o600, false, 0o022), Ok(0o644));
        assert_eq!(resolve_mode("u=rwX,g=rX,o=rX", 0o700, true, 0o022), Ok(0o755));
        assert_eq!(resolve_mode("u=rwX,g=rX,o=rX", 0o700, false, 0o022), Ok(0o755));
        // No "who": like `a`, but the umask masks r/w/x.
        assert_eq!(resolve_mode("+w", 0o444, false, 0o022), Ok(0o644));
        assert_eq!(resolve_mode("a+w", 0o444, false, 0o022), Ok(0o666));
        // Copying another class, setuid, sticky, and several operators in one clause.
        assert_eq!(resolve_mode("g=u", 0o640, false, 0o022), Ok(0o660));
        assert_eq!(resolve_mode("u+s,o+t", 0o755, true, 0o022), Ok(0o5755));
        assert_eq!(resolve_mode("u=rw-w+x", 0o000, false, 0o022), Ok(0o500));
        assert_eq!(resolve_mode("u=", 0o4755, false, 0o022), Ok(0o055));
        assert!(resolve_mode("z=rw", 0o644, false, 0o022).is_err());
        assert!(resolve_mode("u=rq", 0o644, false, 0o022).is_err());
        assert!(resolve_mode("rw", 0o644, false, 0o022).is_err());
    }

    /// The probes run by the local shell: a file, a directory, a link and an absent path
    /// described by one script, the `stat` line of the caller included.
    #[test]
    fn probes_run_by_a_real_shell() {
        let dir = std::env::temp_dir().join(format!("provision-probe-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f x");
        std::fs::write(&file, b"hello\n").unwrap();
        let link = dir.join("l");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("f x", &link).unwrap();
        let (f, d, l) = (file.display().to_string(), dir.display().to_string(), link.display().to_string());
        let absent = dir.join("none").display().to_string();
        let paths = [(f.as_str(), "X0 %h".to_string()), (absent.as_str(), "X1 %h".to_string()), (d.as_str(), String::new()), (l.as_str(), String::new())];
        let script = probe_many_script_with(&paths);
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.contains("X0 1\n") && !text.contains("X1"), "{text}");
        let st = parse_probe_many(&out.stdout, 4).unwrap();
        assert_eq!((st[0].kind.as_str(), st[0].size), ("file", 6));
        assert_eq!(st[0].checksum.as_deref(), Some(sha1_hex(b"hello\n").as_str()));
        assert!(!st[1].exists);
        assert_eq!(st[2].kind, "directory");
        assert_eq!((st[3].kind.as_str(), st[3].link_target.as_deref()), ("link", Some("f x")));
        // A directory described only when the file in it is absent.
        let when = [(f.as_str(), String::new(), None), (d.as_str(), String::new(), Some(f.as_str())), (d.as_str(), String::new(), Some(absent.as_str()))];
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(probe_many_script_when(&when)).output().unwrap();
        let st = parse_probe_many(&out.stdout, 3).unwrap();
        assert_eq!((st[1].kind.as_str(), st[1].exists), ("unprobed", false));
        assert_eq!((st[2].kind.as_str(), st[2].exists), ("directory", true));
        // With the content, the checksum is computed here.
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(probe_script(&f, true)).output().unwrap();
        let one = parse_probe(&out.stdout).unwrap();
        assert_eq!((one.content.as_deref(), one.checksum.as_deref()), (Some(&b"hello\n"[..]), Some(sha1_hex(b"hello\n").as_str())));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn several_probes_parse_in_order() {
        let s = probe_many_script(&["/a", "/b c"]);
        assert!(s.starts_with("p=/a; "), "{s}");
        assert!(s.contains(&format!("; echo {PROBE_SEPARATOR}; p='/b c'; ")), "{s}");
        let out = format!("noise\n{MARK} file 644 root root 0 0 3\n{MARK}sum abc\n{PROBE_SEPARATOR}\n{MARK} absent\n");
        let st = parse_probe_many(out.as_bytes(), 2).unwrap();
        assert_eq!((st[0].exists, st[0].checksum.as_deref(), st[1].exists), (true, Some("abc"), false));
        assert!(parse_probe_many(out.as_bytes(), 3).is_err());
    }

    #[test]
    fn tar_headers_are_ustar() {
        let t = tar_archive(&[("0".into(), b"hello"), ("script".into(), b"")]);
        assert_eq!(t.len(), 512 + 512 + 512 + 1024);
        assert_eq!(&t[257..263], b"ustar\0");
        assert_eq!(&t[124..136], b"00000000005\0");
        assert_eq!(&t[512..517], b"hello");
        let sum: u32 = t[..512].iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) }).sum();
        assert_eq!(std::str::from_utf8(&t[148..154]).unwrap(), format!("{sum:06o}"));
    }
}

/// `~` and `~/x` (the remote user's home) and `~user/x` expanded on the host, as
/// Ansible's `path` arguments are; any other path is returned as it is, without a round
/// trip.
pub async fn expand_home(remote: &dyn Remote, path: &str) -> Result<String, RemoteError> {
    let Some(rest) = path.strip_prefix('~') else { return Ok(path.to_string()) };
    let (user, tail) = rest.split_once('/').map_or((rest, ""), |(u, t)| (u, t));
    let script = if user.is_empty() {
        "printf '%s\\n' \"$HOME\"".to_string()
    } else {
        format!("getent passwd {} | cut -d: -f6", crate::quote::quote(user))
    };
    let out = remote.exec(&script, b"").await?;
    let home = String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string();
    if out.rc != 0 || home.is_empty() {
        return Ok(path.to_string());
    }
    Ok(if tail.is_empty() && !rest.contains('/') { home } else { format!("{}/{tail}", home.trim_end_matches('/')) })
}

/// What [`probe_many_script`] prints for these states: for fake remotes in unit tests.
#[cfg(test)]
pub fn probe_output(states: &[PathState]) -> String {
    let one = |st: &PathState| {
        if !st.exists {
            return format!("{MARK} absent\n");
        }
        let bits = u32::from_str_radix(&st.mode, 8).unwrap_or(0);
        let mut s = format!("{MARK} {} {bits:o} {} {} {} {} {}\n", st.kind, st.owner, st.group, st.uid, st.gid, st.size);
        if let Some(t) = &st.link_target {
            s.push_str(&format!("{MARK}link {t}\n"));
        }
        if let Some(c) = &st.checksum {
            s.push_str(&format!("{MARK}sum {c}\n"));
        }
        s
    };
    states.iter().map(one).collect::<Vec<_>>().join(&format!("{PROBE_SEPARATOR}\n"))
}
