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

/// What is at a path on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathState {
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
pub fn probe_script(path: &str, with_content: bool) -> String {
    let p = quote(path);
    let mut s = format!(
        "p={p}; if [ -L \"$p\" ]; then k=link; elif [ -d \"$p\" ]; then k=directory; elif [ -f \"$p\" ]; then k=file; \
elif [ -e \"$p\" ]; then k=other; else echo {MARK} absent; exit 0; fi; \
echo {MARK} \"$k\" $(stat -c '%a %U %G %u %g %s' \"$p\"); \
if [ $k = link ]; then echo \"{MARK}link $(readlink \"$p\")\"; fi; \
if [ $k = file ]; then echo \"{MARK}sum $(sha1sum < \"$p\" | cut -d' ' -f1)\"; fi"
    );
    if with_content {
        s.push_str(&format!("; if [ $k = file ]; then echo {MARK}content; cat \"$p\"; fi"));
    }
    s
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
            st.checksum = Some(sum.trim().to_string());
        }
    }
    if !st.exists && st.kind.is_empty() {
        return Err(format!("unexpected probe output: {head}"));
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

fn text(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
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

/// The script that writes stdin to `path` atomically with `attrs`. When the target
/// exists and no mode/owner is asked, the new file keeps the old one's mode and owner.
/// `backup` keeps a copy of the old file as `path.<timestamp>~` and prints its name.
pub fn write_script(path: &str, attrs: &Attrs, backup: bool) -> String {
    let p = quote(path);
    let keep = "if [ -e \"$p\" ]; then chmod \"$(stat -c %a \"$p\")\" \"$t\" && chown \"$(stat -c %u:%g \"$p\")\" \"$t\"; else chmod 0644 \"$t\"; fi && ";
    let mut s = format!(
        "set -e; p={p}; d=$(dirname \"$p\"); t=$(mktemp \"$d/.provision.XXXXXXXX\"); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; {keep}"
    );
    s.push_str(&attr_commands("$t", attrs).replace("'$t'", "\"$t\""));
    if backup {
        s.push_str("if [ -f \"$p\" ]; then b=\"$p.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p \"$p\" \"$b\"; echo \"backup:$b\"; fi && ");
    }
    s.push_str("sync \"$t\" 2>/dev/null || true; mv -f \"$t\" \"$p\"; trap - EXIT");
    s
}

/// Write `content` to `path` atomically; returns the backup file's name if one was made.
pub async fn write_atomic(remote: &dyn Remote, path: &str, content: &[u8], attrs: &Attrs, backup: bool) -> Result<Option<String>, RemoteError> {
    let out: ExecOutput = remote.exec(&write_script(path, attrs, backup), content).await?;
    if out.rc != 0 {
        return Err(RemoteError::Other(format!("cannot write {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("backup:").map(str::to_string)))
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

    #[test]
    fn write_script_is_atomic_and_quoted() {
        let s = write_script("/etc/my file", &Attrs { mode: Some("0600".into()), owner: Some("root".into()), group: None }, false);
        assert!(s.starts_with("set -e; p='/etc/my file'; d=$(dirname \"$p\"); t=$(mktemp \"$d/.provision."), "{s}");
        assert!(s.contains("chmod 0600 \"$t\""), "{s}");
        assert!(s.ends_with("mv -f \"$t\" \"$p\"; trap - EXIT"), "{s}");
    }
}
