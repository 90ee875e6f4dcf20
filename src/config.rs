//! Configuration: `provision.toml`, or `ansible.cfg` for users arriving from Ansible.
//!
//! The principal type is [`Config`]: every known setting ([`KEYS`]) with its effective value
//! and where that value came from ([`Origin`]). The command line resolves its options
//! against it with Ansible's precedence: command line > environment (`ANSIBLE_*`) >
//! configuration file > defaults.
//!
//! One file is used, the first that exists of:
//!
//! 1. `$PROVISION_CONFIG`, then `$ANSIBLE_CONFIG`;
//! 2. `./provision.toml`, then `./ansible.cfg` (not in a world-writable directory, as Ansible);
//! 3. `~/.config/provision/provision.toml`, then `~/.ansible.cfg`;
//! 4. `/etc/ansible/ansible.cfg`.
//!
//! `provision.toml` holds the settings as top-level keys:
//!
//! ```toml
//! inventory = "inventory/lab.yml"      # or a list: ["a.yml", "b.yml"]
//! remote_user = "deploy"
//! private_key_file = "~/.ssh/deploy"
//! forks = 20
//! become = true
//! ```
//!
//! The sections of `ansible.cfg` (`[defaults]`, `[privilege_escalation]`,
//! `[ssh_connection]`) are accepted as TOML tables too, so a converted `ansible.cfg` works.
//! Relative paths in a file are relative to the file's directory, as in Ansible.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

/// What a setting's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// A path; relative ones are relative to the configuration file.
    Path,
    /// Paths separated by `:` (or `,` for `inventory`), or a TOML list.
    PathList,
}

/// One known setting.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    /// `ansible.cfg` sections it may be written in, first the usual one.
    pub sections: &'static [&'static str],
    /// Environment variables, first wins.
    pub env: &'static [&'static str],
    pub kind: Kind,
    /// The default as shown by `config dump`, if any.
    pub default: Option<&'static str>,
    pub help: &'static str,
}

const D: &[&str] = &["defaults"];
const PE: &[&str] = &["privilege_escalation"];

/// Every setting provision reads, in the order `config dump` shows them.
pub const KEYS: &[Key] = &[
    Key { name: "inventory", sections: D, env: &["ANSIBLE_INVENTORY"], kind: Kind::PathList, default: Some("/etc/ansible/hosts"), help: "Inventory sources (files, directories or a host list)" },
    Key { name: "remote_user", sections: D, env: &["ANSIBLE_REMOTE_USER"], kind: Kind::Str, default: None, help: "The user to connect as" },
    Key { name: "private_key_file", sections: D, env: &["ANSIBLE_PRIVATE_KEY_FILE"], kind: Kind::Path, default: None, help: "The SSH private key to authenticate with" },
    Key { name: "forks", sections: D, env: &["ANSIBLE_FORKS"], kind: Kind::Int, default: Some("50"), help: "How many hosts to work on at once" },
    Key { name: "host_key_checking", sections: &["defaults", "ssh_connection"], env: &["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"], kind: Kind::Bool, default: Some("True"), help: "Check host keys against known_hosts" },
    Key { name: "roles_path", sections: D, env: &["ANSIBLE_ROLES_PATH"], kind: Kind::PathList, default: Some("~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"), help: "Where roles are looked for" },
    Key { name: "timeout", sections: &["defaults", "ssh_connection"], env: &["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"], kind: Kind::Int, default: Some("10"), help: "Connection timeout in seconds" },
    Key { name: "control_persist", sections: &["ssh_connection"], env: &["PROVISION_CONTROL_PERSIST"], kind: Kind::Int, default: Some("60"), help: "Keep each host's SSH connection this many seconds after a run, for the next run (0: off)" },
    Key { name: "ssh_args", sections: &["ssh_connection"], env: &["ANSIBLE_SSH_ARGS"], kind: Kind::Str, default: None, help: "SSH options beneath every other (only ControlMaster/ControlPersist and the options of ssh_common_args are understood)" },
    Key { name: "ssh_common_args", sections: &["ssh_connection"], env: &["ANSIBLE_SSH_COMMON_ARGS"], kind: Kind::Str, default: None, help: "SSH options for every host" },
    Key { name: "become", sections: PE, env: &["ANSIBLE_BECOME"], kind: Kind::Bool, default: Some("False"), help: "Run operations with become" },
    Key { name: "become_method", sections: PE, env: &["ANSIBLE_BECOME_METHOD"], kind: Kind::Str, default: Some("sudo"), help: "The privilege escalation method" },
    Key { name: "become_user", sections: PE, env: &["ANSIBLE_BECOME_USER"], kind: Kind::Str, default: Some("root"), help: "The user to become" },
    Key { name: "become_ask_pass", sections: PE, env: &["ANSIBLE_BECOME_ASK_PASS"], kind: Kind::Bool, default: Some("False"), help: "Ask for the become password" },
    Key { name: "ask_pass", sections: D, env: &["ANSIBLE_ASK_PASS"], kind: Kind::Bool, default: Some("False"), help: "Ask for the SSH password" },
    Key { name: "vault_password_file", sections: D, env: &["ANSIBLE_VAULT_PASSWORD_FILE"], kind: Kind::Path, default: None, help: "The vault password file (or script)" },
    Key { name: "stdout_callback", sections: D, env: &["ANSIBLE_STDOUT_CALLBACK"], kind: Kind::Str, default: Some("default"), help: "Output format: default, minimal, oneline (json is not supported yet)" },
    Key { name: "log_path", sections: D, env: &["ANSIBLE_LOG_PATH"], kind: Kind::Path, default: None, help: "Append a log of each run to this file" },
];

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// A configuration file, with the line.
    File(PathBuf, usize),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p, line) => write!(f, "{}:{line}", p.display()),
            Origin::Env(v) => write!(f, "env: {v}"),
        }
    }
}

/// A typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Str(String),
    Int(u64),
    Bool(bool),
    Paths(Vec<String>),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Str(s) => f.write_str(s),
            Val::Int(n) => write!(f, "{n}"),
            Val::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Val::Paths(p) => write!(f, "[{}]", p.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")),
        }
    }
}

/// One effective setting.
#[derive(Debug, Clone)]
pub struct Setting {
    pub value: Val,
    pub origin: Origin,
}

/// The configuration in effect.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file in use, if any.
    pub file: Option<PathBuf>,
    pub values: BTreeMap<&'static str, Setting>,
    /// Things to tell the user (unknown keys, ignored files).
    pub warnings: Vec<String>,
}

fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Ansible's booleans (`yes`, `on`, `1`, `true`, `t`, `y` and their opposites).
fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" | "" => Some(false),
        _ => None,
    }
}

fn expand_home(p: &str) -> String {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| p.to_string(), |h| h.join(rest).display().to_string()),
        None if p == "~" => dirs::home_dir().map_or_else(|| p.to_string(), |h| h.display().to_string()),
        None => p.to_string(),
    }
}

/// A path from `base`'s point of view (a file's directory); absolute and host lists stay.
fn resolve(p: &str, base: Option<&Path>) -> String {
    let p = expand_home(p.trim());
    match base {
        Some(b) if !p.is_empty() && Path::new(&p).is_relative() && !p.contains(',') => b.join(&p).display().to_string(),
        _ => p,
    }
}

/// A raw value as written (text, or a TOML list) made typed; the error says what was expected.
enum Raw {
    Text(String),
    List(Vec<String>),
    Int(i64),
    Bool(bool),
}

fn typed(k: &Key, raw: Raw, base: Option<&Path>) -> Result<Val, String> {
    let text = |r: &Raw| match r {
        Raw::Text(s) => s.clone(),
        Raw::Int(n) => n.to_string(),
        Raw::Bool(b) => b.to_string(),
        Raw::List(l) => l.join(","),
    };
    Ok(match k.kind {
        Kind::Str => Val::Str(text(&raw)),
        Kind::Int => match raw {
            Raw::Int(n) if n >= 0 => Val::Int(n as u64),
            Raw::Text(s) => Val::Int(s.trim().parse().map_err(|_| format!("`{}` must be a whole number, got `{s}`", k.name))?),
            other => return Err(format!("`{}` must be a whole number, got `{}`", k.name, text(&other))),
        },
        Kind::Bool => match raw {
            Raw::Bool(b) => Val::Bool(b),
            other => {
                let t = text(&other);
                Val::Bool(parse_bool(&t).ok_or_else(|| format!("`{}` must be a boolean (true/false, yes/no), got `{t}`", k.name))?)
            }
        },
        Kind::Path => Val::Str(resolve(&text(&raw), base)),
        Kind::PathList => {
            // A host list (`web1,web2,`) stays as written.
            if let Raw::Text(s) = &raw {
                if k.name == "inventory" && s.contains(',') && !s.split(',').map(str::trim).filter(|p| !p.is_empty()).all(|p| Path::new(&resolve(p, base)).exists()) {
                    return Ok(Val::Paths(vec![s.trim().to_string()]));
                }
            }
            let items: Vec<String> = match raw {
                Raw::List(l) => l,
                // Ansible's `pathlist` (inventory) splits on commas, `pathspec` (roles) on colons.
                Raw::Text(s) if k.name == "inventory" => s.split(',').map(str::to_string).collect(),
                Raw::Text(s) => s.split(':').map(str::to_string).collect(),
                other => vec![text(&other)],
            };
            let items: Vec<String> = items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| resolve(s, base)).collect();
            Val::Paths(items)
        }
    })
}

impl Config {
    /// Find and read the configuration file, then apply the environment.
    pub fn load() -> Result<Config, Diagnostic> {
        let mut cfg = Config::default();
        if let Some(path) = cfg.find() {
            let text = std::fs::read_to_string(&path).map_err(|e| Diagnostic::new(format!("cannot read the configuration file `{}`: {e}", path.display())))?;
            cfg.read_file(&path, &text)?;
            cfg.file = Some(path);
        }
        cfg.apply_env(|v| std::env::var(v).ok())?;
        Ok(cfg)
    }

    /// The file to use, as the search order says.
    fn find(&mut self) -> Option<PathBuf> {
        for var in ["PROVISION_CONFIG", "ANSIBLE_CONFIG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    let p = PathBuf::from(expand_home(&v));
                    let p = if p.is_dir() { p.join(if var == "ANSIBLE_CONFIG" { "ansible.cfg" } else { "provision.toml" }) } else { p };
                    if p.exists() {
                        return Some(p);
                    }
                }
            }
        }
        let here = std::env::current_dir().unwrap_or_default();
        let world_writable = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&here).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
        };
        let mut candidates = vec![here.join("provision.toml")];
        if world_writable && here.join("ansible.cfg").exists() {
            self.warnings.push(format!(
                "provision is being run in a world writable directory ({}), ignoring it as an ansible.cfg source",
                here.display()
            ));
        } else {
            candidates.push(here.join("ansible.cfg"));
        }
        if let Some(h) = dirs::home_dir() {
            candidates.push(h.join(".config/provision/provision.toml"));
            candidates.push(h.join(".ansible.cfg"));
        }
        candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
        candidates.into_iter().find(|p| p.is_file())
    }

    fn set(&mut self, name: &str, raw: Raw, origin: Origin, base: Option<&Path>) -> Result<(), String> {
        let Some(k) = key(name) else { return Ok(()) };
        let value = typed(k, raw, base)?;
        self.values.insert(k.name, Setting { value, origin });
        Ok(())
    }

    /// Read one file: TOML when it ends in `.toml`, else ansible.cfg's INI.
    pub fn read_file(&mut self, path: &Path, text: &str) -> Result<(), Diagnostic> {
        let base = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
        let toml = path.extension().is_some_and(|e| e == "toml");
        let entries = if toml { parse_toml(text) } else { parse_ini(text) }.map_err(|(line, msg)| Diagnostic::new(msg).at(path, line, 1, Some(text)))?;
        for (section, name, raw, line) in entries {
            match key(&name) {
                Some(k) if section.as_deref().is_none_or(|s| k.sections.contains(&s)) => {
                    self.set(&name, raw, Origin::File(path.to_path_buf(), line), base)
                        .map_err(|m| Diagnostic::new(format!("invalid setting: {m}")).at(path, line, 1, Some(text)))?;
                }
                _ if !toml => {} // ansible.cfg holds many settings provision does not use.
                Some(k) => self.warnings.push(format!(
                    "{}:{line}: `{name}` belongs in [{}], not [{}]",
                    path.display(),
                    k.sections[0],
                    section.unwrap_or_default()
                )),
                None => {
                    let names = KEYS.iter().map(|k| k.name);
                    let hint = crate::diag::did_you_mean(&name, names).map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
                    self.warnings.push(format!("{}:{line}: unknown setting `{name}`{hint}", path.display()));
                }
            }
        }
        Ok(())
    }

    /// Environment variables win over the file.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), Diagnostic> {
        for k in KEYS {
            if let Some((var, v)) = k.env.iter().find_map(|v| get(v).filter(|x| !x.is_empty()).map(|x| (*v, x))) {
                let cwd = std::env::current_dir().ok();
                self.set(k.name, Raw::Text(v), Origin::Env(var), cwd.as_deref()).map_err(|m| Diagnostic::new(format!("invalid environment variable {var}: {m}")))?;
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.values.get(name)
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match &self.get(name)?.value {
            Val::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)?.value {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<u64> {
        match self.get(name)?.value {
            Val::Int(n) => Some(n),
            _ => None,
        }
    }

    pub fn paths(&self, name: &str) -> Option<Vec<String>> {
        match &self.get(name)?.value {
            Val::Paths(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// `provision config dump`: every setting, its value and where it came from.
    pub fn dump(&self, only_changed: bool) -> String {
        let mut out = String::new();
        for k in KEYS {
            let line = match self.get(k.name) {
                Some(s) => format!("{}({}) = {}\n", k.name, s.origin, s.value),
                None if only_changed => continue,
                None => format!("{}(default) = {}\n", k.name, k.default.unwrap_or("None")),
            };
            out.push_str(&line);
        }
        out
    }
}

type Entry = (Option<String>, String, Raw, usize);

/// ansible.cfg: `[section]`, `key = value` or `key: value`, `#`/`;` comments (a `;`
/// after a space ends a value, as Ansible's parser does).
fn parse_ini(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut section = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a multi-line value: not used by provision's keys
        }
        if let Some(rest) = t.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or((n, "invalid section header: missing `]`".to_string()))?;
            section = Some(name.trim().to_string());
            continue;
        }
        let Some(pos) = t.find(['=', ':']) else {
            return Err((n, format!("invalid line `{t}`: expected `key = value`")));
        };
        if section.is_none() {
            return Err((n, "a setting before any [section]: put it under [defaults]".to_string()));
        }
        let mut value = t[pos + 1..].trim().to_string();
        if let Some(c) = value.find(" ;").or_else(|| value.find("\t;")) {
            value.truncate(c);
        }
        out.push((section.clone(), t[..pos].trim().to_string(), Raw::Text(value.trim().to_string()), n));
    }
    Ok(out)
}

/// The TOML provision.toml needs: tables, `key = value` with strings, integers, booleans
/// and lists of strings, and comments.
fn parse_toml(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut section = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let name = rest.split('#').next().unwrap_or_default().trim().strip_suffix(']').ok_or((n, "invalid table header: missing `]`".to_string()))?;
            section = Some(name.trim().to_string());
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            return Err((n, format!("invalid line `{t}`: expected `key = value`")));
        };
        let k = k.trim().trim_matches('"').to_string();
        let (raw, rest) = toml_value(v.trim()).map_err(|m| (n, m))?;
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err((n, format!("unexpected `{rest}` after the value of `{k}`")));
        }
        out.push((section.clone(), k, raw, n));
    }
    Ok(out)
}

fn toml_string(s: &str) -> Result<(String, &str), String> {
    if let Some(rest) = s.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("unterminated string")?;
        return Ok((rest[..end].to_string(), &rest[end + 1..]));
    }
    let rest = s.strip_prefix('"').ok_or("expected a string")?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &rest[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(o) => return Err(format!("unsupported escape `\\{o}`")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

fn toml_value(s: &str) -> Result<(Raw, &str), String> {
    if s.starts_with('"') || s.starts_with('\'') {
        let (v, rest) = toml_string(s)?;
        return Ok((Raw::Text(v), rest));
    }
    if let Some(mut rest) = s.strip_prefix('[') {
        let mut items = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(']') {
                return Ok((Raw::List(items), r));
            }
            let (v, r) = toml_string(rest).map_err(|_| "lists may only hold strings, on one line".to_string())?;
            items.push(v);
            rest = r.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let end = s.find(|c: char| c.is_whitespace() || c == '#').unwrap_or(s.len());
    let (word, rest) = s.split_at(end);
    match word {
        "true" => Ok((Raw::Bool(true), rest)),
        "false" => Ok((Raw::Bool(false), rest)),
        w => w.replace('_', "").parse::<i64>().map(|n| (Raw::Int(n), rest)).map_err(|_| format!("invalid value `{w}` (strings need quotes)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(name: &str, text: &str) -> Config {
        let mut c = Config::default();
        c.read_file(Path::new(name), text).unwrap();
        c
    }

    #[test]
    fn ansible_cfg_sections_and_comments() {
        let c = from(
            "/etc/x/ansible.cfg",
            "# comment\n[defaults]\ninventory = /etc/hostname, /etc/passwd\nremote_user: deploy ; inline\nforks=7\nhost_key_checking = False\nnocows = 1\n[privilege_escalation]\nbecome = yes\nbecome_user = admin\n[ssh_connection]\ntimeout = 30\n",
        );
        assert_eq!(c.paths("inventory").unwrap(), ["/etc/hostname", "/etc/passwd"]);
        let c2 = from("/etc/x/ansible.cfg", "[defaults]\ninventory = web1,web2,\nroles_path = roles:/r\n");
        assert_eq!(c2.paths("inventory").unwrap(), ["web1,web2,"]);
        assert_eq!(c2.paths("roles_path").unwrap(), ["/etc/x/roles", "/r"]);
        let c3 = from("/etc/x/ansible.cfg", "[defaults]\ninventory = hosts.ini\n");
        assert_eq!(c3.paths("inventory").unwrap(), ["/etc/x/hosts.ini"]);
        assert_eq!(c.str("remote_user").as_deref(), Some("deploy"));
        assert_eq!(c.int("forks"), Some(7));
        assert_eq!(c.bool("host_key_checking"), Some(false));
        assert_eq!(c.bool("become"), Some(true));
        assert_eq!(c.str("become_user").as_deref(), Some("admin"));
        assert_eq!(c.int("timeout"), Some(30));
        assert_eq!(c.get("forks").unwrap().origin, Origin::File("/etc/x/ansible.cfg".into(), 5));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn provision_toml_flat_or_in_sections() {
        let c = from(
            "/p/provision.toml",
            "inventory = [\"inv/lab.yml\", \"/x.yml\"] # two\nremote_user = 'root'\nforks = 20\nbecome = true\nroles_path = \"roles:/shared/roles\"\n[privilege_escalation]\nbecome_method = \"su\"\nfroks = 3\n",
        );
        assert_eq!(c.paths("inventory").unwrap(), ["/p/inv/lab.yml", "/x.yml"]);
        assert_eq!(c.paths("roles_path").unwrap(), ["/p/roles", "/shared/roles"]);
        assert_eq!(c.int("forks"), Some(20));
        assert_eq!(c.bool("become"), Some(true));
        assert_eq!(c.str("become_method").as_deref(), Some("su"));
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("unknown setting `froks`; did you mean `forks`?"), "{:?}", c.warnings);
    }

    #[test]
    fn bad_values_point_at_the_line() {
        let mut c = Config::default();
        let e = c.read_file(Path::new("ansible.cfg"), "[defaults]\nforks = many\n").unwrap_err();
        assert!(e.message.contains("`forks` must be a whole number, got `many`"), "{e}");
        assert_eq!(e.location.unwrap().line, 2);
        let e = c.read_file(Path::new("provision.toml"), "become = maybe\n").unwrap_err();
        assert!(e.message.contains("strings need quotes"), "{e}");
        let e = c.read_file(Path::new("ansible.cfg"), "[privilege_escalation]\nbecome = perhaps\n").unwrap_err();
        assert!(e.message.contains("must be a boolean"), "{e}");
    }

    #[test]
    fn environment_wins_over_the_file_and_dump_says_where_from() {
        let mut c = from("/e/ansible.cfg", "[defaults]\nremote_user = fromfile\nforks = 3\n");
        c.apply_env(|v| (v == "ANSIBLE_REMOTE_USER").then(|| "fromenv".to_string())).unwrap();
        assert_eq!(c.str("remote_user").as_deref(), Some("fromenv"));
        let dump = c.dump(false);
        assert!(dump.contains("remote_user(env: ANSIBLE_REMOTE_USER) = fromenv\n"), "{dump}");
        assert!(dump.contains("forks(/e/ansible.cfg:3) = 3\n"), "{dump}");
        assert!(dump.contains("become(default) = False\n"), "{dump}");
        assert!(!c.dump(true).contains("become("));
    }
}
