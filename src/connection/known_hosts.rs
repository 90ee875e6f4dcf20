//! OpenSSH known_hosts verification (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT").
//!
//! Supported: whitespace-separated fields; comma-separated host patterns with `*`, `?` and
//! `!negation` (a negated match excludes the line), matched case-insensitively; `[host]:port`
//! for non-22 ports (for port 22 both `host` and `[host]:22`); hashed hosts
//! (`|1|salt|hmac`, HMAC-SHA1 of the lowercased `host` or `[host]:port`); the `@revoked`
//! marker (a revoked key is refused even if another line accepts it); `@cert-authority` lines
//! are read but ignored, since provision checks plain host keys only; comments and blank lines.
//! Malformed lines are skipped and remembered in [`KnownHosts::skipped`].
//!
//! Not supported: host certificates (`@cert-authority` trust), `CheckHostIP` (only the name
//! or address given is looked up), `HashKnownHosts` when appending (lines are written in
//! plain text), SSH-1 RSA lines, and the `known_hosts2` files.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, PublicKey};
use sha1::Sha1;

/// The verdict on a host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds the presented key.
    Match,
    /// No line for this host holds a key of the presented key's algorithm.
    Unknown,
    /// The first line (1-based) for this host holding a different key of the same algorithm.
    Changed { file: PathBuf, line: usize },
    /// A `@revoked` line for this host names the presented key.
    Revoked { file: PathBuf, line: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Plain,
    Revoked,
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    Patterns(Vec<String>),
}

#[derive(Debug, Clone)]
struct Entry {
    file: PathBuf,
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key: PublicKey,
}

/// The lines of one or more known_hosts files.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    skipped: Vec<String>,
}

impl KnownHosts {
    /// Load the files in order; a missing file is fine (empty).
    pub fn load(paths: &[PathBuf]) -> KnownHosts {
        let mut kh = KnownHosts::default();
        for path in paths {
            match fs::read(path) {
                Ok(bytes) => kh.add_text(&String::from_utf8_lossy(&bytes), path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => kh.skipped.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        kh
    }

    /// Skipped lines (malformed or unreadable), as `file:line: reason`, for debug output.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    fn add_text(&mut self, text: &str, file: &Path) {
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some((marker, hosts, key))) => self.entries.push(Entry {
                    file: file.to_path_buf(),
                    line: i + 1,
                    marker,
                    hosts,
                    key,
                }),
                Ok(None) => {}
                Err(why) => self.skipped.push(format!("{}:{}: {why}", file.display(), i + 1)),
            }
        }
    }

    /// Check `key` presented by `host` (the name or address we connected to) on `port`.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let host = host.to_ascii_lowercase();
        let names: Vec<String> = if port == 22 {
            vec![host.clone(), format!("[{host}]:22")]
        } else {
            vec![format!("[{host}]:{port}")]
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let algorithm = key_algorithm(key);
        let (mut matched, mut changed) = (false, None);
        for e in self.entries.iter().filter(|e| e.hosts.matches(&names)) {
            let same = e.key.key_data() == key.key_data();
            match e.marker {
                Marker::Revoked if same => {
                    return HostKeyStatus::Revoked { file: e.file.clone(), line: e.line }
                }
                Marker::Plain if same => matched = true,
                Marker::Plain if changed.is_none() && key_algorithm(&e.key) == algorithm => {
                    changed = Some(HostKeyStatus::Changed { file: e.file.clone(), line: e.line })
                }
                _ => {}
            }
        }
        match (matched, changed) {
            (true, _) => HostKeyStatus::Match,
            (false, Some(changed)) => changed,
            (false, None) => HostKeyStatus::Unknown,
        }
    }
}

impl Hosts {
    fn matches(&self, names: &[&str]) -> bool {
        match self {
            Hosts::Patterns(patterns) => match_list(patterns, names),
            Hosts::Hashed { salt, hash } => names.iter().any(|name| {
                let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }),
        }
    }
}

fn key_algorithm(key: &PublicKey) -> Algorithm {
    key.key_data().algorithm()
}

/// One line: `Ok(None)` for blanks and comments, `Err(reason)` for malformed lines.
fn parse_line(line: &str) -> Result<Option<(Marker, Hosts, PublicKey)>, String> {
    let mut fields = line.split_whitespace().peekable();
    let marker = match fields.peek() {
        None => return Ok(None),
        Some(f) if f.starts_with('#') => return Ok(None),
        Some(&"@revoked") => Marker::Revoked,
        Some(&"@cert-authority") => Marker::CertAuthority,
        Some(m) if m.starts_with('@') => return Err(format!("unknown marker `{m}`")),
        Some(_) => Marker::Plain,
    };
    if marker != Marker::Plain {
        fields.next();
    }
    let (Some(hosts), Some(keytype), Some(blob)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err("expected `hosts keytype base64-key`".into());
    };
    let hosts = parse_hosts(hosts)?;
    let key = russh::keys::parse_public_key_base64(blob).map_err(|e| format!("bad key: {e}"))?;
    if key_algorithm(&key).as_str() != keytype {
        return Err(format!(
            "key type `{keytype}` does not match the key ({})",
            key_algorithm(&key)
        ));
    }
    Ok(Some((marker, hosts, key)))
}

fn parse_hosts(field: &str) -> Result<Hosts, String> {
    if let Some(rest) = field.strip_prefix("|1|") {
        let bad = || "bad hashed host entry".to_string();
        let (salt, hash) = rest.split_once('|').ok_or_else(bad)?;
        let salt = B64.decode(salt).map_err(|_| bad())?;
        let hash = B64.decode(hash).map_err(|_| bad())?;
        if hash.len() != 20 {
            return Err(bad());
        }
        return Ok(Hosts::Hashed { salt, hash });
    }
    if field.starts_with('|') {
        return Err("unsupported hashed host format".into());
    }
    let patterns: Vec<String> =
        field.split(',').filter(|p| !p.is_empty()).map(str::to_ascii_lowercase).collect();
    if patterns.is_empty() {
        return Err("empty host list".into());
    }
    Ok(Hosts::Patterns(patterns))
}

/// OpenSSH pattern-list semantics: true when some positive pattern matches one of `names`
/// and no `!negated` pattern matches any of them. Case-insensitive.
pub(crate) fn match_list<S: AsRef<str>>(patterns: &[S], names: &[&str]) -> bool {
    let mut positive = false;
    for p in patterns.iter().map(AsRef::as_ref) {
        let (negated, p) = match p.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, p),
        };
        if names.iter().any(|n| wildcard_match(p, n)) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `*` (any run) and `?` (one character) glob, ASCII case-insensitive.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Record a key (StrictHostKeyChecking=accept-new): append `host key` (port 22) or
/// `[host]:port key` to `path`, creating the file and its directory (0700) if needed; the
/// line ends with a newline, a missing final newline in the existing file is fixed first.
pub fn append(path: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad host name `{host}`")));
    }
    let host = host.to_ascii_lowercase();
    let hosts = if port == 22 { host } else { format!("[{host}]:{port}") };
    let mut key = key.clone();
    key.set_comment("");
    let key = key.to_openssh().map_err(io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut file = fs::OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let mut line = String::new();
    if file.metadata()?.len() > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.push('\n');
        }
    }
    line.push_str(&format!("{hosts} {}\n", key.trim_end()));
    file.write_all(line.as_bytes())
}

/// The default files: ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
pub fn default_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(home) = dirs::home_dir() {
        paths.push(home.join(".ssh").join("known_hosts"));
    }
    paths.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    // From `ssh-keygen -t ed25519` / `ssh-keygen -t rsa -b 1024`, comments stripped.
    const ED1: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA8wcvT1u+lDP1Dtk3lory9eFWJ8Qid/src8iGAAZgAD";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIGtyH5NLIO22Ke5/0I6/7iWAT4S08N4T2yRiY8FaWIVB";
    const RSA: &str = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7ob9CriGm/KJevljJWspvJyJLBhZo4vYOXUIn6smWtPfa02Wnj7BHKr9Zsw5dIFGhFYV0stWuVCLDHQPGuugMhWEGid9103DwwzjPKMDLkP7CQDKPbrJxeC/ll8uUOh8cdtkUngwXhoagbKLS20zwAkrUUtLHmBAVQT76CRvirw==";
    // `ssh-keygen -H` of `server.example.com ED1` and `[server.example.com]:2222 ED1`.
    const HASHED_22: &str = "|1|w/vac4EgGLFdmOgSRPFpvQPT29A=|GTzXP7SRbxQFW1B9mFqq6NRM+Q8=";
    const HASHED_2222: &str = "|1|a+I0MS7caVHMFSlQeoCXufjQ36Q=|I9Ya5JPvMhMewSmSvQy7pWstiCo=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn kh(text: &str) -> KnownHosts {
        let text = text
            .replace("ED1", &format!("ssh-ed25519 {ED1}"))
            .replace("ED2", &format!("ssh-ed25519 {ED2}"));
        let text = text.replace("RSA", &format!("ssh-rsa {RSA}"));
        let mut kh = KnownHosts::default();
        kh.add_text(&text, Path::new("kh"));
        kh
    }

    fn changed(line: usize) -> HostKeyStatus {
        HostKeyStatus::Changed { file: PathBuf::from("kh"), line }
    }

    #[test]
    fn plain_match_unknown_and_changed() {
        let k = kh("# comment\n\n  web1,10.0.0.1\tED1 a comment\n");
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("WEB1", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("10.0.0.1", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("web2", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(k.check("web1", 22, &key(ED2)), changed(3));
        // Known only with another algorithm: unknown, not changed.
        assert_eq!(k.check("web1", 22, &key(RSA)), HostKeyStatus::Unknown);
        assert!(k.skipped().is_empty());
    }

    #[test]
    fn any_matching_line_wins_over_a_changed_one() {
        let k = kh("web1 ED2\nweb1 ED1\n");
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Match);
    }

    #[test]
    fn ports() {
        let k = kh("[web1]:2222 ED1\n[web2]:22 ED1\nweb3 ED1\n");
        assert_eq!(k.check("web1", 2222, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(k.check("web2", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("web3", 2222, &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn wildcards_and_negation() {
        let k = kh("*.example.com,!bad.example.com ED1\nweb? ED1\n[*.lan]:2200 ED1\n");
        assert_eq!(k.check("a.example.com", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("bad.example.com", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(k.check("web7", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("web77", 22, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(k.check("db.lan", 2200, &key(ED1)), HostKeyStatus::Match);
        assert!(wildcard_match("a*b*c", "aXbYbZc") && !wildcard_match("a*b", "ab c"));
    }

    #[test]
    fn hashed_entries() {
        let k = kh(&format!("{HASHED_22} ED1\n{HASHED_2222} ED1\n"));
        assert_eq!(k.check("server.example.com", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("Server.Example.com", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("server.example.com", 2222, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("server.example.com", 22, &key(ED2)), changed(1));
        assert_eq!(k.check("other.example.com", 22, &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn markers() {
        let k = kh("web1 ED1\n@revoked * ED1\n@cert-authority *.example.com ED2\n");
        let revoked = HostKeyStatus::Revoked { file: PathBuf::from("kh"), line: 2 };
        assert_eq!(k.check("web1", 22, &key(ED1)), revoked);
        // A CA line is not a host key: neither a match nor a changed key.
        assert_eq!(k.check("a.example.com", 22, &key(ED2)), HostKeyStatus::Unknown);
        assert!(k.skipped().is_empty());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text =
            format!("@bogus web1 ED1\nweb1\nweb1 ssh-ed25519 !!!notbase64\nweb1 ssh-rsa {ED1}\n");
        let k = kh(&(text + "|1|x|y ED1\n|2|a|b ED1\nweb1 1024 35 12345\nweb1 ED1\n"));
        assert_eq!(k.skipped().len(), 7, "{:?}", k.skipped());
        assert!(k.skipped()[0].starts_with("kh:1: unknown marker"));
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Match);
    }

    #[test]
    fn load_files_in_order_and_missing_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, format!("web1 ssh-ed25519 {ED2}\n")).unwrap();
        fs::write(&b, format!("web1 ssh-ed25519 {ED1}")).unwrap();
        let k = KnownHosts::load(&[dir.path().join("missing"), a.clone(), b]);
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Match);
        assert_eq!(k.check("web1", 22, &key(RSA)), HostKeyStatus::Unknown);
        let k = KnownHosts::load(std::slice::from_ref(&a));
        assert_eq!(k.check("web1", 22, &key(ED1)), HostKeyStatus::Changed { file: a, line: 1 });
    }

    #[test]
    fn append_creates_and_fixes_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/.ssh/known_hosts");
        append(&path, "Web1", 22, &key(ED1)).unwrap();
        append(&path, "web2", 2222, &key(RSA)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("web1 ssh-ed25519 {ED1}\n[web2]:2222 ssh-rsa {RSA}\n"));
        let k = KnownHosts::load(std::slice::from_ref(&path));
        assert_eq!(k.check("web2", 2222, &key(RSA)), HostKeyStatus::Match);

        let path = dir.path().join("no_newline");
        fs::write(&path, "# last line").unwrap();
        append(&path, "web3", 22, &key(ED2)).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("# last line\nweb3 ssh-ed25519 {ED2}\n")
        );
        assert!(append(&path, "a b", 22, &key(ED2)).is_err());
    }

    #[test]
    fn default_paths_end_with_system_file() {
        assert_eq!(default_paths().last().unwrap(), Path::new("/etc/ssh/ssh_known_hosts"));
    }
}
