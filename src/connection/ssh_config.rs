//! The subset of ssh_config(5) that provision honours, and Ansible's `ansible_ssh_*_args`.
//!
//! Supported: `Host` blocks (several patterns per line, `*`, `?`, `!negation`, matched
//! case-insensitively against the alias the user typed); `Match all` (every other `Match`
//! block is ignored, i.e. never applies); `Include` (relative to ~/.ssh, `~`, globs, nested up
//! to 16 deep, inheriting the enclosing block's condition); case-insensitive keywords,
//! `Key value` and `Key=value`, double/single quotes, `#` comments; first obtained value wins
//! except `IdentityFile`, which accumulates. Honoured keywords: HostName, User, Port,
//! IdentityFile, ProxyJump (`none` clears it), UserKnownHostsFile (`none` = /dev/null),
//! StrictHostKeyChecking, ConnectTimeout. Paths get `~` expansion and the tokens `%%`, `%h`
//! (the HostName, or the alias when unset), `%n` (the alias), `%p`, `%r` (when User is set)
//! and `%d`; HostName expands `%h` (the alias) and `%%`.
//!
//! Not supported: other `Match` criteria, `CanonicalizeHostname`, `ProxyCommand`, environment
//! variables in paths, `~user`, the system file /etc/ssh/ssh_config. Unknown keywords are
//! ignored silently (as ssh with `IgnoreUnknown *`); bad values and unreadable includes are
//! collected in [`SshConfig::warnings`].

use std::fs;
use std::path::{Path, PathBuf};

use super::known_hosts::match_list;

/// Connection settings for one host.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub proxy_jump: Option<String>,
    pub user_known_hosts_files: Vec<PathBuf>,
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    pub connect_timeout: Option<u64>,
    /// Seconds to keep the connection for the next run (`ControlPersist`; 0 from
    /// `ControlPersist no` or `ControlMaster no`), see `connection::mux`.
    pub control_persist: Option<u64>,
}

/// `StrictHostKeyChecking`: "yes"/"ask"/"true" → Yes, "accept-new" → AcceptNew,
/// "no"/"off"/"false" → No.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StrictHostKeyChecking {
    Yes,
    AcceptNew,
    No,
}

#[derive(Debug, Clone)]
enum Cond {
    Host(Vec<String>),
    All,
    Never,
}

/// A parsed config: settings in file order, each under the conditions of its blocks.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    conds: Vec<Cond>,
    entries: Vec<(Vec<usize>, HostConfig)>,
    home: Option<PathBuf>,
    warnings: Vec<String>,
}

const MAX_INCLUDE_DEPTH: usize = 16;

impl SshConfig {
    pub fn parse(text: &str) -> SshConfig {
        Self::parse_with_home(text, dirs::home_dir())
    }

    /// ~/.ssh/config if it exists, else empty.
    pub fn load_default() -> SshConfig {
        let home = dirs::home_dir();
        let Some(path) = home.as_ref().map(|h| h.join(".ssh").join("config")) else {
            return SshConfig::default();
        };
        let mut cfg = SshConfig { home, ..SshConfig::default() };
        match fs::read_to_string(&path) {
            Ok(text) => cfg.parse_text(&text, &path.display().to_string(), &[], 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => cfg.warnings.push(format!("{}: cannot read: {e}", path.display())),
        }
        cfg
    }

    fn parse_with_home(text: &str, home: Option<PathBuf>) -> SshConfig {
        let mut cfg = SshConfig { home, ..SshConfig::default() };
        cfg.parse_text(text, "ssh config", &[], 0);
        cfg
    }

    /// Problems found while parsing (bad values, unreadable includes), as `origin:line: what`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn parse_text(&mut self, text: &str, origin: &str, outer: &[usize], depth: usize) {
        let mut current = outer.to_vec();
        for (i, raw) in text.lines().enumerate() {
            let at = format!("{origin}:{}", i + 1);
            let (keyword, args) = match split_line(raw) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => continue,
                Err(why) => {
                    self.warnings.push(format!("{at}: {why}"));
                    continue;
                }
            };
            match keyword.as_str() {
                "host" | "match" => {
                    self.conds.push(match (keyword.as_str(), args.as_slice()) {
                        ("match", [all]) if all.eq_ignore_ascii_case("all") => Cond::All,
                        ("host", [_, ..]) => Cond::Host(args),
                        _ => Cond::Never,
                    });
                    current = [outer, &[self.conds.len() - 1]].concat();
                }
                "include" if depth >= MAX_INCLUDE_DEPTH => {
                    self.warnings.push(format!("{at}: includes nested too deeply"))
                }
                "include" => {
                    let home = self.home.clone().unwrap_or_default();
                    for arg in &args {
                        // An absolute pattern replaces the base in `join`.
                        for file in
                            glob_files(&home.join(".ssh").join(expand_tilde(arg, Some(&home))))
                        {
                            match fs::read_to_string(&file) {
                                Ok(text) => {
                                    let origin = file.display().to_string();
                                    self.parse_text(&text, &origin, &current, depth + 1)
                                }
                                Err(e) => {
                                    self.warnings.push(format!("{at}: {}: {e}", file.display()))
                                }
                            }
                        }
                    }
                }
                _ => match parse_setting(&keyword, &args) {
                    Ok(Some(setting)) => self.entries.push((current.clone(), setting)),
                    Ok(None) => {}
                    Err(why) => self.warnings.push(format!("{at}: {why}")),
                },
            }
        }
    }

    /// Settings for `host` (the alias the user typed); see the module doc for the rules.
    pub fn lookup(&self, host: &str) -> HostConfig {
        let active: Vec<bool> = (self.conds.iter())
            .map(|c| match c {
                Cond::All => true,
                Cond::Never => false,
                Cond::Host(patterns) => match_list(patterns, &[host]),
            })
            .collect();
        let mut cfg = HostConfig::default();
        for (conds, setting) in &self.entries {
            if conds.iter().all(|&c| active[c]) {
                cfg = setting.clone().overlay(cfg); // first obtained value wins
            }
        }
        cfg.hostname = cfg.hostname.map(|h| percent_expand(&h, &[('h', host)]));
        if cfg.proxy_jump.as_deref().is_some_and(|j| j.eq_ignore_ascii_case("none")) {
            cfg.proxy_jump = None;
        }
        let home =
            self.home.as_ref().map(|h| h.display().to_string()).unwrap_or_else(|| "~".into());
        let port = cfg.port.unwrap_or(22).to_string();
        let mut tokens = vec![('h', cfg.hostname.as_deref().unwrap_or(host)), ('n', host)];
        tokens.extend([('p', port.as_str()), ('d', home.as_str())]);
        tokens.extend(cfg.user.as_deref().map(|u| ('r', u)));
        let expand = |p: &PathBuf| {
            expand_tilde(&percent_expand(&p.to_string_lossy(), &tokens), self.home.as_deref())
        };
        let identity_files = cfg.identity_files.iter().map(expand).collect();
        let known_hosts = cfg.user_known_hosts_files.iter().map(expand).collect();
        HostConfig { identity_files, user_known_hosts_files: known_hosts, ..cfg }
    }
}

impl HostConfig {
    /// Overlay: fields set in `high` win over `low` (`self`). Identity files accumulate, those
    /// of `high` first (as `ssh -i` adds to the config's); known-hosts files are replaced.
    pub fn overlay(self, high: HostConfig) -> HostConfig {
        let mut identity_files = high.identity_files;
        for f in self.identity_files {
            if !identity_files.contains(&f) {
                identity_files.push(f);
            }
        }
        HostConfig {
            hostname: high.hostname.or(self.hostname),
            user: high.user.or(self.user),
            port: high.port.or(self.port),
            identity_files,
            proxy_jump: high.proxy_jump.or(self.proxy_jump),
            user_known_hosts_files: if high.user_known_hosts_files.is_empty() {
                self.user_known_hosts_files
            } else {
                high.user_known_hosts_files
            },
            strict_host_key_checking: high
                .strict_host_key_checking
                .or(self.strict_host_key_checking),
            control_persist: high.control_persist.or(self.control_persist),
            connect_timeout: high.connect_timeout.or(self.connect_timeout),
        }
    }
}

/// One setting as a config with just that field set; `Ok(None)` for a keyword provision does
/// not honour.
fn parse_setting(keyword: &str, args: &[String]) -> Result<Option<HostConfig>, String> {
    let one = || match args {
        [v] => Ok(v.clone()),
        _ => Err(format!("`{keyword}` takes exactly one value")),
    };
    let bad = || format!("bad {keyword} value `{}`", args.join(" "));
    let mut c = HostConfig::default();
    match keyword {
        "hostname" => c.hostname = Some(one()?),
        "user" => c.user = Some(one()?),
        "port" => c.port = Some(one()?.parse().ok().filter(|&p| p > 0).ok_or_else(bad)?),
        "identityfile" => c.identity_files.push(one()?.into()),
        "proxyjump" => c.proxy_jump = Some(one()?),
        "userknownhostsfile" if args.is_empty() => {
            return Err("`UserKnownHostsFile` needs a file".into())
        }
        "userknownhostsfile" if args.len() == 1 && args[0].eq_ignore_ascii_case("none") => {
            c.user_known_hosts_files.push("/dev/null".into())
        }
        "userknownhostsfile" => c.user_known_hosts_files = args.iter().map(PathBuf::from).collect(),
        "stricthostkeychecking" => {
            c.strict_host_key_checking = Some(match one()?.to_ascii_lowercase().as_str() {
                "yes" | "ask" | "true" => StrictHostKeyChecking::Yes,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                "no" | "off" | "false" => StrictHostKeyChecking::No,
                _ => return Err(bad()),
            })
        }
        "connecttimeout" => c.connect_timeout = Some(one()?.parse().map_err(|_| bad())?),
        "controlpersist" => c.control_persist = Some(persist_secs(&one()?).ok_or_else(bad)?),
        "controlmaster" => match one()?.to_ascii_lowercase().as_str() {
            "no" | "false" => c.control_persist = Some(0),
            _ => return Ok(Some(c)),
        },
        _ => return Ok(None),
    }
    Ok(Some(c))
}

/// `ControlPersist`'s value in seconds: `no` 0, `yes` none (the default applies), else a
/// time (`60`, `60s`, `10m`, `1h`).
fn persist_secs(v: &str) -> Option<u64> {
    let v = v.to_ascii_lowercase();
    match v.as_str() {
        "no" | "false" | "0" => return Some(0),
        "yes" | "true" => return Some(super::mux::DEFAULT_PERSIST),
        _ => {}
    }
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    })
}

/// Split a config line into the lowercased keyword and its arguments; `Ok(None)` for blanks
/// and comments.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    Ok(Some((line[..end].to_ascii_lowercase(), split_args(rest)?)))
}

/// Whitespace-separated arguments with `"…"`/`'…'` quoting, `\` escaping a quote, backslash or
/// space, and an unquoted argument starting with `#` ending the line.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(out),
            Some(_) => {}
        }
        let (mut arg, mut quote) = (String::new(), None);
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') if chars.peek().is_some_and(|n| matches!(n, '"' | '\'' | '\\' | ' ')) => {
                    arg.extend(chars.next())
                }
                (_, c) => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        out.push(arg);
    }
}

fn expand_tilde(s: &str, home: Option<&Path>) -> PathBuf {
    match (home, s.strip_prefix('~')) {
        (Some(home), Some("")) => home.to_path_buf(),
        (Some(home), Some(rest)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(s),
    }
}

/// Replace `%x` tokens from `tokens`, `%%` with `%`; unknown tokens stay as they are.
fn percent_expand(s: &str, tokens: &[(char, &str)]) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(t) => match tokens.iter().find(|(k, _)| *k == t) {
                Some((_, v)) => out.push_str(v),
                None => out.extend(['%', t]),
            },
            None => out.push('%'),
        }
    }
    out
}

/// Expand `*`, `?` and `[…]` in path components (not matching leading dots), sorted; existing
/// files only.
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let name = comp.as_os_str().to_string_lossy();
        if !name.contains(['*', '?', '[']) {
            found.iter_mut().for_each(|p| p.push(comp));
            continue;
        }
        let Ok(glob) = globset::Glob::new(&name) else { return Vec::new() };
        let matcher = glob.compile_matcher();
        let mut next = Vec::new();
        for dir in &found {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let file = entry.file_name();
                let hidden = file.to_string_lossy().starts_with('.') && !name.starts_with('.');
                if !hidden && matcher.is_match(&file) {
                    next.push(dir.join(file));
                }
            }
        }
        next.sort();
        found = next;
    }
    found.retain(|p| p.is_file());
    found
}

/// The ssh options that take an argument.
const FLAGS_WITH_ARG: &str = "bBcDeEFiIJlLmoOpQRSwW";

/// Parse Ansible's `ansible_ssh_common_args` / `ansible_ssh_extra_args` (shell-split) for
/// `-o Key=Value`, `-o 'Key Value'`, `-oKey=Value`, `-i FILE`, `-p PORT`, `-J jump` (also
/// `-l USER`); everything else comes back as warnings. Connection-sharing options
/// (`Control*`) and `-C`, `-q` are ignored silently. `~` is expanded, `%` tokens are not.
pub fn parse_ssh_args(args: &str) -> (HostConfig, Vec<String>) {
    let (mut cfg, mut warnings) = (HostConfig::default(), Vec::new());
    let Some(words) = shlex::split(args) else {
        return (cfg, vec![format!("cannot split ssh arguments `{args}`: unbalanced quotes")]);
    };
    let home = dirs::home_dir();
    let mut words = words.into_iter().peekable();
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix('-').and_then(|f| f.chars().next()) else {
            warnings.push(format!("ignoring ssh argument `{word}`"));
            continue;
        };
        let attached = &word[1 + flag.len_utf8()..];
        let took_arg = attached.is_empty() && FLAGS_WITH_ARG.contains(flag);
        let value = if took_arg {
            let Some(value) = words.next() else {
                warnings.push(format!("ssh option `{word}` is missing its argument"));
                continue;
            };
            value
        } else {
            attached.to_string()
        };
        let (keyword, values) = match flag {
            'o' => match split_line(&value) {
                Ok(Some((keyword, mut values))) => {
                    if values.is_empty() {
                        values.extend(words.next_if(|w| !w.starts_with('-')));
                    }
                    (keyword, values)
                }
                _ => (String::new(), Vec::new()),
            },
            'i' => ("identityfile".into(), vec![value.clone()]),
            'p' => ("port".into(), vec![value.clone()]),
            'J' => ("proxyjump".into(), vec![value.clone()]),
            'l' => ("user".into(), vec![value.clone()]),
            'C' | 'q' if attached.is_empty() => continue,
            _ => (String::new(), Vec::new()),
        };
        let shown = if took_arg { format!("{word} {value}") } else { word };
        match parse_setting(&keyword, &values) {
            _ if keyword.starts_with("control") && !matches!(keyword.as_str(), "controlpersist" | "controlmaster") => {}
            Ok(Some(setting)) => cfg = setting.overlay(cfg),
            Ok(None) => warnings.push(format!("unsupported ssh argument `{shown}` ignored")),
            Err(why) => warnings.push(format!("{why} in ssh argument `{shown}`")),
        }
    }
    if cfg.proxy_jump.as_deref().is_some_and(|j| j.eq_ignore_ascii_case("none")) {
        cfg.proxy_jump = None;
    }
    let expand = |p: PathBuf| expand_tilde(&p.to_string_lossy(), home.as_deref());
    cfg.identity_files = cfg.identity_files.into_iter().map(expand).collect();
    cfg.user_known_hosts_files = cfg.user_known_hosts_files.into_iter().map(expand).collect();
    (cfg, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse_with_home(text, Some(PathBuf::from("/home/u")))
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let c = cfg("Host web1\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/web\n\
                     Host *\n  HostName nope\n  User admin\n  Port 2222\n  IdentityFile ~/.ssh/id_ed25519\n");
        let h = c.lookup("web1");
        assert_eq!(h.hostname.as_deref(), Some("10.0.0.1"));
        assert_eq!((h.user.as_deref(), h.port), (Some("admin"), Some(2222)));
        let ids = [PathBuf::from("/home/u/.ssh/web"), PathBuf::from("/home/u/.ssh/id_ed25519")];
        assert_eq!(h.identity_files, ids);
        assert_eq!(c.lookup("other").hostname.as_deref(), Some("nope"));
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn host_patterns() {
        let c = cfg("Host *.example.com !bad.example.com db?\n User a\nHost WEB1 web2\n User b\n");
        assert_eq!(c.lookup("x.example.com").user.as_deref(), Some("a"));
        assert_eq!(c.lookup("db1").user.as_deref(), Some("a"));
        assert_eq!(c.lookup("db12").user, None);
        assert_eq!(c.lookup("bad.example.com").user, None);
        assert_eq!(c.lookup("web2").user.as_deref(), Some("b"));
        assert_eq!(c.lookup("Web1").user.as_deref(), Some("b"));
    }

    #[test]
    fn match_all_and_other_match_blocks() {
        let c = cfg("Match host web1 exec true\n User skipped\nMatch all\n User everyone\n");
        assert_eq!(c.lookup("web1").user.as_deref(), Some("everyone"));
    }

    #[test]
    fn syntax_keywords_equals_quotes_comments() {
        let c = cfg("# top\nHOST=web1\n\tuser=\"deploy\" # trailing\n  PORT = 2200\n  IdentityFile \"~/my keys/id\"\n  identityfile '/a b'\n\
                     ProxyJump jump@bastion:22\n Connecttimeout 7\n UserKnownHostsFile ~/kh1 /etc/kh2\n");
        let h = c.lookup("web1");
        assert_eq!(h.user.as_deref(), Some("deploy"));
        assert_eq!(h.port, Some(2200));
        assert_eq!(h.identity_files, [PathBuf::from("/home/u/my keys/id"), PathBuf::from("/a b")]);
        assert_eq!(h.proxy_jump.as_deref(), Some("jump@bastion:22"));
        assert_eq!(h.connect_timeout, Some(7));
        assert_eq!(
            h.user_known_hosts_files,
            [PathBuf::from("/home/u/kh1"), PathBuf::from("/etc/kh2")]
        );
        assert_eq!(split_args(r#"a\ b "c d" 'e"f' #x"#).unwrap(), ["a b", "c d", "e\"f"]);
    }

    #[test]
    fn strict_host_key_checking_values() {
        use StrictHostKeyChecking::*;
        let get = |v: &str| cfg(&format!("StrictHostKeyChecking {v}")).lookup("h");
        let got =
            ["yes", "ask", "accept-new", "No", "off"].map(|v| get(v).strict_host_key_checking);
        assert_eq!(got, [Some(Yes), Some(Yes), Some(AcceptNew), Some(No), Some(No)]);
    }

    #[test]
    fn bad_values_warn_and_are_skipped() {
        let c = cfg("Port 99999\nPort 22\nStrictHostKeyChecking maybe\nUser\nHost\nUser \"open\nFrobnicate yes\n");
        assert_eq!(c.lookup("h").port, Some(22));
        assert_eq!(c.warnings().len(), 4, "{:?}", c.warnings());
        assert_eq!(c.warnings()[0], "ssh config:1: bad port value `99999`");
    }

    #[test]
    fn percent_tokens_and_none() {
        let c = cfg("Host web*\n HostName %h.internal\n IdentityFile ~/.ssh/%h-%n-%p-%r-%%\n User u\n ProxyJump none\n\
                     UserKnownHostsFile none\nHost *\n ProxyJump bastion\n IdentityFile %d/id_%x\n");
        let h = c.lookup("web1");
        assert_eq!(h.hostname.as_deref(), Some("web1.internal"));
        assert_eq!(h.identity_files[0], PathBuf::from("/home/u/.ssh/web1.internal-web1-22-u-%"));
        assert_eq!(h.identity_files[1], PathBuf::from("/home/u/id_%x"));
        assert_eq!(h.proxy_jump, None);
        assert_eq!(h.user_known_hosts_files, [PathBuf::from("/dev/null")]);
        assert_eq!(c.lookup("db").proxy_jump.as_deref(), Some("bastion"));
    }

    #[test]
    fn includes_relative_glob_and_nested_conditions() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        fs::create_dir_all(ssh.join("conf.d")).unwrap();
        fs::write(ssh.join("conf.d/10-web"), "Host web1\n User webuser\nHost *\n Port 2022\n")
            .unwrap();
        fs::write(ssh.join("conf.d/20-db"), "Host db1\n User dbuser\n").unwrap();
        fs::write(ssh.join("conf.d/.hidden"), "User hidden\n").unwrap();
        fs::write(ssh.join("only-prod"), "User produser\n").unwrap();
        fs::write(ssh.join("loop"), "Include loop\n").unwrap();
        let text = "Include conf.d/*\nHost prod*\n Include only-prod missing-file\nHost *\n User fallback\nHost loop\n Include ~/.ssh/loop\n";
        let c = SshConfig::parse_with_home(text, Some(home.path().to_path_buf()));
        assert_eq!(c.lookup("web1").user.as_deref(), Some("webuser"));
        assert_eq!(c.lookup("db1").user.as_deref(), Some("dbuser"));
        assert_eq!(c.lookup("db1").port, Some(2022));
        assert_eq!(c.lookup("prod1").user.as_deref(), Some("produser"));
        assert_eq!(c.lookup("test1").user.as_deref(), Some("fallback"));
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
        assert!(c.warnings()[0].contains("nested too deeply"));
    }

    #[test]
    fn control_persist_from_ssh_args() {
        let persist = |a: &str| parse_ssh_args(a).0.control_persist;
        assert_eq!(persist("-C -o ControlMaster=auto -o ControlPersist=60s"), Some(60));
        assert_eq!(persist("-o ControlPersist=10m"), Some(600));
        assert_eq!(persist("-o ControlPersist=no"), Some(0));
        assert_eq!(persist("-o ControlMaster=no"), Some(0));
        assert_eq!(persist("-o ControlPersist=yes"), Some(crate::connection::mux::DEFAULT_PERSIST));
        assert_eq!(persist("-o ControlPath=/tmp/x"), None);
        assert!(parse_ssh_args("-o ControlPersist=60s -o ControlPath=%C").1.is_empty());
    }

    #[test]
    fn ssh_args() {
        let (h, warnings) = parse_ssh_args(
            "-C -o ControlMaster=auto -o 'StrictHostKeyChecking no' -oUser=deploy -o Port 2200 \
             -i ~/.ssh/a -i/b -p 2201 -J jump@host -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
             -o ForwardAgent=yes -X -L 80:localhost:80 stray",
        );
        assert_eq!(h.strict_host_key_checking, Some(StrictHostKeyChecking::No));
        assert_eq!((h.user.as_deref(), h.port), (Some("deploy"), Some(2200)));
        let home =
            dirs::home_dir().map(|h| h.join(".ssh/a")).unwrap_or_else(|| PathBuf::from("~/.ssh/a"));
        assert_eq!(h.identity_files, [home, PathBuf::from("/b")]);
        assert_eq!(h.proxy_jump.as_deref(), Some("jump@host"));
        assert_eq!(h.user_known_hosts_files, [PathBuf::from("/dev/null")]);
        assert_eq!(h.connect_timeout, Some(5));
        assert_eq!(
            warnings,
            [
                "unsupported ssh argument `-o ForwardAgent=yes` ignored",
                "unsupported ssh argument `-X` ignored",
                "unsupported ssh argument `-L 80:localhost:80` ignored",
                "ignoring ssh argument `stray`",
            ]
        );
        assert_eq!(parse_ssh_args("-o 'unbalanced").1.len(), 1);
        assert_eq!(parse_ssh_args("-p nope -i").1.len(), 2);
        assert_eq!(parse_ssh_args("").0, HostConfig::default());
    }

    #[test]
    fn overlay_high_wins() {
        let low = HostConfig {
            user: Some("low".into()),
            port: Some(22),
            identity_files: vec!["/a".into(), "/b".into()],
            user_known_hosts_files: vec!["/k1".into()],
            ..HostConfig::default()
        };
        let high = HostConfig {
            port: Some(2222),
            identity_files: vec!["/b".into(), "/c".into()],
            connect_timeout: Some(3),
            ..HostConfig::default()
        };
        let o = low.overlay(high);
        assert_eq!(
            (o.user.as_deref(), o.port, o.connect_timeout),
            (Some("low"), Some(2222), Some(3))
        );
        assert_eq!(o.identity_files, [PathBuf::from("/b"), "/c".into(), "/a".into()]);
        assert_eq!(o.user_known_hosts_files, [PathBuf::from("/k1")]);
    }
}
