//! `pip`: Python packages, in a virtualenv or for an interpreter, idempotently.
//!
//! One round trip reads whether the virtualenv exists, which pip answers and what it
//! has installed (`pip list --format=json`, else `pip freeze`). For `present` and
//! `absent` with plain names (`numpy>=1.20`, `Django==4.2.*`) the request is compared
//! here — PEP 503 names (case, `-`/`_`/`.`), PEP 440 versions and specifiers — and
//! pip runs only when something is missing or must go: nothing to do is that one round
//! trip. `latest`, `forcereinstall`, `requirements` and names pip must resolve itself
//! (URLs, paths, VCS, editable, markers) need pip to decide: a second round trip runs
//! it and the change is read from its output ("Successfully installed/uninstalled"),
//! as Ansible does. In check mode those are asked of `pip install --dry-run`
//! ("Would install"), which changes nothing (pip ≥ 22.2; older pips: predicted changed).

use std::cmp::Ordering;

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Pip;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::List, "Packages to install or remove: names with optional version specifiers (`numpy>=1.20`, `requests[socks]==2.31.0`), or URLs, paths and VCS URLs pip understands."),
    ArgSpec::new("version", ArgType::Str, "The version for a single `name` (`1.16.0` means `==1.16.0`; `>=1.0` is used as it is)."),
    ArgSpec::new("requirements", ArgType::Str, "A requirements file on the host (relative to `chdir`)."),
    ArgSpec::new("virtualenv", ArgType::Path, "A virtualenv directory to install into; created with `virtualenv_command` when missing."),
    ArgSpec::new("virtualenv_site_packages", ArgType::Bool, "Give a new virtualenv access to the global site-packages.").default("no"),
    ArgSpec::new("virtualenv_command", ArgType::Path, "The command that creates a virtualenv: `virtualenv`, `python3 -m venv`, `/usr/bin/python3 -m venv`, `pyvenv`...").default("virtualenv"),
    ArgSpec::new("virtualenv_python", ArgType::Str, "The Python for a new virtualenv (`-p` of `virtualenv`; not allowed with venv)."),
    ArgSpec::new("state", ArgType::Str, "`present`, `absent`, `latest` (upgrade), or `forcereinstall`.").default("present").choices(&["present", "absent", "latest", "forcereinstall"]),
    ArgSpec::new("extra_args", ArgType::Str, "More arguments for pip (`--index-url ...`, `--no-deps`)."),
    ArgSpec::new("editable", ArgType::Bool, "Install in editable mode (`-e`).").default("no"),
    ArgSpec::new("chdir", ArgType::Path, "Directory pip runs in (default /tmp); a relative `virtualenv` is taken from here."),
    ArgSpec::new("executable", ArgType::Path, "The pip to run (`pip3.11`, `/opt/py/bin/pip`); not with `virtualenv`."),
    ArgSpec::new("umask", ArgType::Str, "The umask (octal, `0022`) pip runs under."),
    ArgSpec::new("break_system_packages", ArgType::Bool, "Allow installing into an externally managed system Python (PEP 668, Debian 12).").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "pip",
    short: "Manages Python library dependencies",
    description: "Installs, upgrades or removes Python packages with pip, in a virtualenv (created when missing, with \
`virtualenv_command`) or for the pip of `executable`. Installed packages are read once and compared with the request \
(PEP 503 names, PEP 440 specifiers), so `present`/`absent` with nothing to do is one round trip and never runs pip \
install. `latest`, `forcereinstall` and `requirements` run pip and read the change from its output; check mode asks \
`pip install --dry-run`.",
    args: ARGS,
    free_form: false,
    examples: "- name: Pinned package in a venv made with the standard library\n  ansible.builtin.pip:\n    name: six==1.16.0\n    virtualenv: /opt/app/venv\n    virtualenv_command: python3 -m venv\n\n\
- name: Several packages with specifiers\n  ansible.builtin.pip:\n    name:\n      - numpy>=1.20,<2\n      - requests[socks]\n    virtualenv: /opt/app/venv\n\n\
- name: From a requirements file\n  ansible.builtin.pip:\n    requirements: /opt/app/requirements.txt\n    virtualenv: /opt/app/venv\n\n\
- name: Newest version\n  ansible.builtin.pip:\n    name: pip\n    state: latest\n    virtualenv: /opt/app/venv\n",
    returns: &[
        ("cmd", "the pip command run (or the listing command when nothing ran)"),
        ("name", "the packages asked for"),
        ("requirements", "the requirements file"),
        ("version", "the `version` argument"),
        ("virtualenv", "the virtualenv"),
        ("state", "the state asked for"),
        ("stdout", "pip's output"),
        ("stderr", "pip's error output"),
    ],
};

const TAG: &str = "__provision_pip_d41e__";

// ---------------------------------------------------------------------------------------
// PEP 440 versions and specifiers, PEP 503 names.

/// PEP 503: lowercase, runs of `-`, `_`, `.` as one `-`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (phase: 0 a, 1 b, 2 rc; number)
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

fn version_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|beta|preview|pre|rc|a|b|c)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?dev[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$",
        )
        .expect("valid regex")
    })
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().to_ascii_lowercase();
        let c = version_re().captures(&s)?;
        let num = |i: usize| c.get(i).map(|m| m.as_str().parse::<u64>().unwrap_or(0));
        let mut release: Vec<u64> = c[2].split('.').map(|p| p.parse().unwrap_or(0)).collect();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = c.get(3).map(|p| {
            let phase = match p.as_str() {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2,
            };
            (phase, num(4).unwrap_or(0))
        });
        let post = num(5).or_else(|| c.get(6).map(|_| num(7).unwrap_or(0)));
        let dev = s.contains("dev").then(|| num(8).unwrap_or(0));
        let local = c.get(9).map(|m| m.as_str().replace(['-', '_'], "."));
        Some(Version { epoch: num(1).unwrap_or(0), release, pre, post, dev, local })
    }

    fn is_pre(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn public(&self) -> Version {
        Version { local: None, ..self.clone() }
    }

    fn key(&self) -> (u64, &[u64], (i64, i64), i64, i64) {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0),
            (None, _, _) => (3, 0),
            (Some((p, n)), _, _) => (i64::from(p), n as i64),
        };
        (self.epoch, &self.release, pre, self.post.map_or(-1, |p| p as i64), self.dev.map_or(i64::MAX, |d| d as i64))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key()).then_with(|| self.local.cmp(&other.local))
    }
}

/// One clause of a specifier set (`>=1.20`, `==2.*`, `~=1.4.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    op: String,
    version: String,
}

const OPS: &[&str] = &["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

fn parse_clauses(s: &str) -> Option<Vec<Clause>> {
    let mut out = vec![];
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let op = OPS.iter().find(|o| part.starts_with(*o))?;
        let version = part[op.len()..].trim().to_string();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return None;
        }
        if *op != "===" && Version::parse(version.trim_end_matches(".*")).is_none() {
            return None;
        }
        out.push(Clause { op: op.to_string(), version });
    }
    Some(out)
}

/// The release padded with zeros to `n` parts.
fn padded(v: &Version, n: usize) -> Vec<u64> {
    let mut r = v.release.clone();
    r.resize(n.max(r.len()), 0);
    r
}

fn prefix_match(v: &Version, prefix: &str) -> bool {
    let Some(p) = Version::parse(prefix) else { return false };
    // The prefix's own parts, trailing zeros included (`==1.0.*`).
    let parts: Vec<u64> = prefix.trim_start_matches('v').split('!').last().unwrap_or("").split('.').map_while(|x| x.parse().ok()).collect();
    v.epoch == p.epoch && padded(v, parts.len())[..parts.len()] == parts[..]
}

impl Clause {
    /// Whether `v` satisfies this clause (pre-releases allowed, as Ansible asks).
    fn contains(&self, raw: &str, v: &Version) -> bool {
        if self.op == "===" {
            return raw.trim().eq_ignore_ascii_case(&self.version);
        }
        if let Some(prefix) = self.version.strip_suffix(".*") {
            let m = prefix_match(v, prefix);
            return if self.op == "!=" { !m } else { self.op == "==" && m };
        }
        let Some(s) = Version::parse(&self.version) else { return false };
        let cand = if s.local.is_none() { v.public() } else { v.clone() };
        match self.op.as_str() {
            "==" => cand == s,
            "!=" => cand != s,
            "<=" => cand <= s,
            ">=" => cand >= s,
            "<" => cand < s && !(!s.is_pre() && cand.is_pre() && cand.epoch == s.epoch && padded(&cand, s.release.len()) == padded(&s, cand.release.len())),
            ">" => cand > s && !(s.post.is_none() && cand.post.is_some() && cand.release == s.release && cand.epoch == s.epoch),
            "~=" => {
                if s.release.len() < 2 && !self.version.contains('.') {
                    return false;
                }
                let parts: Vec<&str> = self.version.split(['+']).next().unwrap_or("").split('.').collect();
                let digits: Vec<u64> = parts.iter().map_while(|p| p.parse().ok()).collect();
                let prefix = digits[..digits.len().saturating_sub(1).max(1)].iter().map(u64::to_string).collect::<Vec<_>>().join(".");
                cand >= s && prefix_match(&cand, &prefix)
            }
            _ => false,
        }
    }
}

/// One requested package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// What is passed to pip.
    pub text: String,
    /// PEP 503 name, for plain requirements.
    name: Option<String>,
    clauses: Vec<Clause>,
}

impl Requirement {
    /// `name[extras] specifiers`; anything else (URLs, paths, VCS, markers) is kept for
    /// pip to resolve and never counts as installed.
    pub fn parse(text: &str) -> Requirement {
        let t = text.trim();
        let end = t.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))).unwrap_or(t.len());
        let (name, mut rest) = (&t[..end], t[end..].trim());
        let not_plain = Requirement { text: t.to_string(), name: None, clauses: vec![] };
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || name.ends_with(['.', '-', '_']) {
            return not_plain;
        }
        if rest.starts_with('[') {
            let Some(close) = rest.find(']') else { return not_plain };
            rest = rest[close + 1..].trim();
        }
        if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            rest = inner.trim();
        }
        match parse_clauses(rest) {
            Some(clauses) if rest.is_empty() || !clauses.is_empty() => Requirement { text: t.to_string(), name: Some(canonical_name(name)), clauses },
            _ => not_plain,
        }
    }

    fn is_plain(&self) -> bool {
        self.name.is_some()
    }

    fn has_specifier(&self) -> bool {
        !self.clauses.is_empty()
    }

    /// Whether `installed` (canonical name → version) has this requirement.
    fn satisfied_by(&self, installed: &[(String, String)]) -> bool {
        let Some(name) = &self.name else { return false };
        installed.iter().any(|(n, v)| {
            n == name && (self.clauses.is_empty() || Version::parse(v).is_some_and(|parsed| self.clauses.iter().all(|c| c.contains(v, &parsed))))
        })
    }
}

/// Ansible's `_recover_package_name`: `name: "numpy>=1.20,<2"` arrives split on commas;
/// parts that start with an operator (or sit inside `[...]`) belong to the one before.
fn recover_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for part in names.iter().flat_map(|n| n.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let open = out.last().is_some_and(|l| l.matches('[').count() > l.matches(']').count());
        if open || part.starts_with(['>', '=', '<', '!', '~']) {
            if let Some(last) = out.last_mut() {
                last.push(',');
                last.push_str(part);
                continue;
            }
        }
        out.push(part.to_string());
    }
    out
}

/// What `pip list --format=json` (or `pip freeze`) printed, as (canonical name, version).
fn parse_installed(listing: &str) -> Vec<(String, String)> {
    let dist = format!("{TAG} dist ");
    if listing.lines().any(|l| l.starts_with(&dist)) {
        return listing.lines().filter_map(|l| l.strip_prefix(&dist)).filter_map(parse_metadata_dir).collect();
    }
    let t = listing.trim();
    if t.starts_with('[') {
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t) {
            return items
                .iter()
                .filter_map(|i| Some((canonical_name(i.get("name")?.as_str()?), i.get("version")?.as_str()?.to_string())))
                .collect();
        }
    }
    t.lines()
        .filter_map(|l| {
            let l = l.trim();
            if let Some((n, v)) = l.split_once("==") {
                Some((canonical_name(n.trim()), v.trim().to_string()))
            } else {
                l.split_once(" @ ").map(|(n, _)| (canonical_name(n.trim()), String::new()))
            }
        })
        .collect()
}

/// `six-1.16.0.dist-info` or `foo_bar-2.0-py3.11.egg-info` → (canonical name, version).
/// The name part never holds `-` (it is escaped to `_` in these names).
fn parse_metadata_dir(dir: &str) -> Option<(String, String)> {
    let stem = dir.strip_suffix(".dist-info").or_else(|| dir.strip_suffix(".egg-info"))?;
    let (name, rest) = stem.split_once('-')?;
    let version = rest.split('-').next().unwrap_or(rest);
    Some((canonical_name(name), version.to_string()))
}

// ---------------------------------------------------------------------------------------
// The module.

#[derive(Debug)]
struct Opts {
    state: String,
    packages: Vec<Requirement>,
    names: Option<Vec<String>>,
    version: Option<String>,
    requirements: Option<String>,
    env: Option<String>,
    executable: Option<String>,
    chdir: String,
    chdir_given: bool,
    extra_args: Vec<String>,
    site_packages: bool,
    venv_command: Vec<String>,
    venv_python: Option<String>,
    umask: Option<String>,
    break_system: bool,
}

fn parse_opts(args: &Args) -> Result<Opts, String> {
    let state = text(args, "state").unwrap_or_else(|| "present".into());
    let names: Option<Vec<String>> = match args.get("name") {
        Some(Value::Array(a)) if !a.is_empty() => Some(a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()),
        _ => None,
    };
    let requirements = text(args, "requirements").filter(|r| !r.is_empty());
    match (&names, &requirements) {
        (None, None) => return Err("one of the following is required: name, requirements".into()),
        (Some(_), Some(_)) => return Err("parameters are mutually exclusive: name|requirements".into()),
        _ => {}
    }
    let env = text(args, "virtualenv").filter(|e| !e.is_empty());
    let executable = text(args, "executable").filter(|e| !e.is_empty());
    if env.is_some() && executable.is_some() {
        return Err("parameters are mutually exclusive: executable|virtualenv".into());
    }
    let version = text(args, "version").filter(|v| !v.is_empty());
    if state == "latest" && version.is_some() {
        return Err("version is incompatible with state=latest".into());
    }
    let mut packages: Vec<Requirement> = names.as_deref().map(recover_names).unwrap_or_default().iter().map(|n| Requirement::parse(n)).collect();
    if let Some(v) = &version {
        if packages.len() > 1 {
            return Err("'version' argument is ambiguous when installing multiple package distributions. Please specify version restrictions next to each package in 'name' argument.".into());
        }
        if packages[0].has_specifier() {
            return Err("The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument.".into());
        }
        let v = v.trim_start();
        let sep = if v.starts_with(|c: char| c.is_ascii_digit()) { "==" } else { " " };
        packages[0] = Requirement::parse(&format!("{}{sep}{v}", packages[0].text));
    }
    let chdir = text(args, "chdir").filter(|c| !c.is_empty());
    let env = match (env, &chdir) {
        (Some(e), Some(c)) if !e.starts_with('/') => Some(format!("{}/{e}", c.trim_end_matches('/'))),
        (e, _) => e,
    };
    let mut extra_args = match text(args, "extra_args").filter(|e| !e.trim().is_empty()) {
        Some(e) => shlex::split(&e).ok_or_else(|| format!("cannot parse extra_args: {e}"))?,
        None => vec![],
    };
    if args.get("editable").and_then(to_bool).unwrap_or(false) && !extra_args.iter().any(|a| a == "-e") {
        extra_args.push("-e".into());
    }
    let venv_command_text = text(args, "virtualenv_command").unwrap_or_else(|| "virtualenv".into());
    let venv_command = shlex::split(&venv_command_text).filter(|v| !v.is_empty()).ok_or_else(|| format!("cannot parse virtualenv_command: {venv_command_text}"))?;
    let umask = text(args, "umask").filter(|u| !u.is_empty());
    if let Some(u) = &umask {
        if u.is_empty() || !u.chars().all(|c| ('0'..='7').contains(&c)) || u.len() > 4 {
            return Err("umask must be an octal integer".into());
        }
    }
    let venv_python = text(args, "virtualenv_python").filter(|p| !p.is_empty());
    if venv_python.is_some() && is_venv_command(&venv_command) {
        return Err("virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command".into());
    }
    Ok(Opts {
        state,
        packages,
        names,
        version,
        requirements,
        env,
        executable,
        chdir_given: chdir.is_some(),
        chdir: chdir.unwrap_or_else(|| "/tmp".into()),
        extra_args,
        site_packages: args.get("virtualenv_site_packages").and_then(to_bool).unwrap_or(false),
        venv_command,
        venv_python,
        umask,
        break_system: args.get("break_system_packages").and_then(to_bool).unwrap_or(false),
    })
}

/// `python3 -m venv`, `pyvenv`: no `-p`.
fn is_venv_command(cmd: &[String]) -> bool {
    cmd.last().is_some_and(|l| l == "venv") || cmd.first().is_some_and(|f| f.rsplit('/').next().unwrap_or("").starts_with("pyvenv"))
}

/// The virtualenv as a shell word: a relative one without `chdir` is taken from the
/// remote user's home (where Ansible's module starts), since pip runs in `chdir`.
fn env_word(e: &str, o: &Opts) -> String {
    if e.starts_with('/') || o.chdir_given {
        quote(e)
    } else {
        format!("\"$HOME\"/{}", quote(e))
    }
}

/// The shell that defines `P` (run pip) and prints which pip it is.
fn pip_select(o: &Opts) -> String {
    let candidates = |dir: &str| {
        format!(
            "if [ -x {d}/bin/pip3 ]; then P() {{ {d}/bin/pip3 \"$@\"; }}; echo \"{TAG} pip \"{d}/bin/pip3; elif [ -x {d}/bin/pip ]; then P() {{ {d}/bin/pip \"$@\"; }}; echo \"{TAG} pip \"{d}/bin/pip; \
else P() {{ {d}/bin/python -m pip \"$@\"; }}; echo \"{TAG} pip \"{d}/bin/python' -m pip'; fi",
            d = dir
        )
    };
    match (&o.env, &o.executable) {
        (Some(e), _) => candidates(&env_word(e, o)),
        (None, Some(x)) => format!("P() {{ {x} \"$@\"; }}; echo \"{TAG} pip \"{x}", x = quote(x)),
        (None, None) => format!(
            "if command -v pip3 >/dev/null 2>&1; then P() {{ pip3 \"$@\"; }}; echo \"{TAG} pip $(command -v pip3)\"; \
elif command -v pip >/dev/null 2>&1; then P() {{ pip \"$@\"; }}; echo \"{TAG} pip $(command -v pip)\"; \
else P() {{ python3 -m pip \"$@\"; }}; echo \"{TAG} pip python3 -m pip\"; fi"
        ),
    }
}

/// What every script starts with: directory, umask, environment.
fn preamble(o: &Opts) -> String {
    let mut s = format!("cd {} || exit 1; export PIP_DISABLE_PIP_VERSION_CHECK=1; ", quote(&o.chdir));
    if let Some(u) = &o.umask {
        s.push_str(&format!("umask {u}; "));
    }
    if o.break_system {
        s.push_str("export PIP_BREAK_SYSTEM_PACKAGES=1; ");
    }
    if let Some(e) = &o.env {
        s.push_str(&format!("PATH={}/bin:$PATH; ", env_word(e, o)));
    }
    s
}

fn read_script(o: &Opts) -> String {
    let mut s = preamble(o);
    let list = "echo {TAG} list; if ! P list --format=json 2>/dev/null; then P freeze 2>/dev/null || echo {TAG} nopip; fi; echo; echo {TAG} end".replace("{TAG}", TAG);
    match &o.env {
        Some(e) => {
            // A venv that does not see the system's packages: its `*.dist-info` (and
            // `*.egg-info`) directories are what pip would list, without starting Python.
            let e = env_word(e, o);
            s.push_str(&format!(
                "if [ -f {e}/bin/activate ]; then echo {TAG} venv; {}; \
if [ -f {e}/pyvenv.cfg ] && ! grep -qiE '^include-system-site-packages *= *true' {e}/pyvenv.cfg && ls -d {e}/lib/python*/site-packages >/dev/null 2>&1; then \
echo {TAG} list; for m in {e}/lib/python*/site-packages/*.dist-info {e}/lib/python*/site-packages/*.egg-info; do [ -e \"$m\" ] && echo \"{TAG} dist ${{m##*/}}\"; done; echo {TAG} end; \
else {list}; fi; fi",
                pip_select(o)
            ))
        }
        None => s.push_str(&format!("{}; {list}", pip_select(o))),
    }
    s
}

/// The command that creates the virtualenv.
fn venv_script(o: &Opts, env: &str) -> String {
    let mut words = o.venv_command.clone();
    if o.site_packages {
        words.push("--system-site-packages".into());
    }
    if let Some(p) = &o.venv_python {
        words.push(format!("-p{p}"));
    }
    let first = &o.venv_command[0];
    let check = if first.contains('/') {
        String::new()
    } else {
        format!("command -v {q} >/dev/null 2>&1 || {{ echo 'Failed to find required executable \"{first}\" in paths' >&2; exit 1; }}; ", q = quote(first), first = first.replace('\'', ""))
    };
    format!("{check}{} {} || exit 1", crate::quote::join(&words), env_word(env, o))
}

/// pip's words for the state.
fn state_words(state: &str) -> &'static [&'static str] {
    match state {
        "absent" => &["uninstall", "-y"],
        "latest" => &["install", "-U"],
        "forcereinstall" => &["install", "-U", "--force-reinstall"],
        _ => &["install"],
    }
}

#[async_trait]
impl Module for Pip {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let o = match parse_opts(args) {
            Ok(o) => o,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let mut r = ModuleResult::ok(false);
        r.set("name", o.names.clone().map_or(Value::Null, |n| Value::from(n)));
        r.set("version", o.version.clone());
        r.set("requirements", o.requirements.clone());
        r.set("virtualenv", o.env.clone());
        r.set("state", o.state.clone());

        // Round trip 1: the virtualenv, the pip, what is installed.
        let out = ctx.remote.exec(&read_script(&o), b"").await?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot read the installed packages: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let has_venv = o.env.is_none() || text.lines().any(|l| l == format!("{TAG} venv"));
        let pip_path = text.lines().find_map(|l| l.strip_prefix(&format!("{TAG} pip "))).map(str::to_string).unwrap_or_else(|| match &o.env {
            Some(e) => format!("{e}/bin/pip"),
            None => "pip3".into(),
        });
        if has_venv && text.lines().any(|l| l == format!("{TAG} nopip")) {
            return Ok(ModuleResult::failed(format!("Unable to find a working pip ({pip_path}): pip needs to be installed (python3-pip).")));
        }
        let listing = text.split_once(&format!("{TAG} list\n")).map(|(_, rest)| rest.split(&format!("{TAG} end")).next().unwrap_or("")).unwrap_or("");
        let installed = parse_installed(listing);
        r.set("cmd", format!("{pip_path} list --format=json"));

        let mut words: Vec<String> = vec![pip_path.clone()];
        words.extend(state_words(&o.state).iter().map(|w| w.to_string()));
        words.extend(o.extra_args.iter().cloned());
        // Which packages pip gets, and whether the listing already answers.
        let decided: Option<bool>;
        let targets: Vec<String>;
        if o.requirements.is_some() {
            decided = None;
            targets = vec!["-r".into(), o.requirements.clone().unwrap_or_default()];
        } else {
            let all_plain = o.packages.iter().all(Requirement::is_plain);
            let forces = o.extra_args.iter().any(|a| matches!(a.as_str(), "-U" | "--upgrade" | "--force-reinstall" | "-I" | "--ignore-installed"));
            match o.state.as_str() {
                "present" if all_plain && !forces && has_venv => {
                    let missing = o.packages.iter().any(|p| !p.satisfied_by(&installed));
                    decided = Some(missing);
                    targets = o.packages.iter().map(|p| p.text.clone()).collect();
                }
                "absent" if all_plain && has_venv => {
                    let present: Vec<String> = o.packages.iter().filter(|p| p.satisfied_by(&installed)).map(|p| p.text.clone()).collect();
                    decided = Some(!present.is_empty());
                    targets = present;
                }
                _ => {
                    decided = None;
                    targets = o.packages.iter().map(|p| p.text.clone()).collect();
                }
            }
        }
        if decided == Some(false) {
            return Ok(r);
        }
        words.extend(targets.iter().cloned());
        let cmd = words.join(" ");

        if ctx.check_mode {
            r.set("cmd", cmd);
            if !has_venv || decided == Some(true) || o.state == "forcereinstall" {
                r.set("changed", true);
                return Ok(r);
            }
            if o.state == "absent" {
                // Requirements or non-plain names to remove: pip has no dry run for that.
                r.set("changed", true);
                return Ok(r);
            }
            // latest, requirements, URLs: ask pip without changing anything.
            let mut dry: Vec<String> = state_words(&o.state).iter().map(|w| w.to_string()).collect();
            dry.push("--dry-run".into());
            dry.extend(o.extra_args.iter().cloned());
            dry.extend(targets.iter().cloned());
            let script = format!("{}{}; P {}", preamble(&o), pip_select(&o), crate::quote::join(&dry));
            let out = ctx.remote.exec(&script, b"").await?;
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            r.set("stdout", strip_tags(&stdout));
            r.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
            r.set("changed", out.rc != 0 || stdout.contains("Would install"));
            return Ok(r);
        }

        // Round trip 2: create the virtualenv if needed, then run pip.
        let mut script = preamble(&o);
        if let (false, Some(e)) = (has_venv, &o.env) {
            script.push_str(&venv_script(&o, e));
            script.push_str("; echo; ");
        }
        let pip_words: Vec<String> = words[1..].to_vec();
        let fresh_absent = !has_venv && o.state == "absent";
        if !fresh_absent {
            script.push_str(&format!("{}; P {}", pip_select(&o), crate::quote::join(&pip_words)));
        }
        let out = ctx.remote.exec(&script, b"").await?;
        let stdout = strip_tags(&String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        r.set("cmd", cmd.clone());
        r.set("stdout", stdout.clone());
        r.set("stderr", stderr.clone());
        let not_installed = o.state == "absent" && out.rc == 1 && (stdout.contains("not installed") || stderr.contains("not installed"));
        if out.rc != 0 && !not_installed {
            r.set("failed", true);
            r.set("msg", format!("stdout: {stdout}\n\n:stderr: {stderr}"));
            return Ok(r);
        }
        let changed = if o.state == "absent" { stdout.contains("Successfully uninstalled") } else { stdout.contains("Successfully installed") };
        r.set("changed", changed || !has_venv);
        Ok(r)
    }
}

/// pip's output without this module's marker lines.
fn strip_tags(s: &str) -> String {
    s.lines().filter(|l| !l.starts_with(TAG)).collect::<Vec<_>>().join("\n").trim_start_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::ExecOutput;
    use serde_json::json;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    fn sat(spec: &str, version: &str) -> bool {
        let r = Requirement::parse(&format!("x{spec}"));
        assert!(r.is_plain(), "{spec}");
        r.satisfied_by(&[("x".into(), version.into())])
    }

    #[test]
    fn versions_order_like_pep_440() {
        let order = ["1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.post1.dev1", "1.0.post1", "1.1", "1!0.1"];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0RC1"), v("1.0rc1"));
        assert!(Version::parse("not a version").is_none());
    }

    #[test]
    fn specifiers_match_like_pip() {
        assert!(sat("==1.16.0", "1.16.0") && sat("==1.16", "1.16.0") && !sat("==1.16.0", "1.17.0"));
        assert!(sat(">=1.20", "1.26.4") && !sat(">=1.20", "1.19.5"));
        assert!(sat(">=1.20,<2", "1.26.4") && !sat(">=1.20,<2", "2.0.0"));
        assert!(sat("==2.*", "2.31.0") && !sat("==2.*", "3.0") && sat("!=2.*", "3.0"));
        assert!(sat("~=1.4.2", "1.4.5") && !sat("~=1.4.2", "1.5.0") && sat("~=1.4", "1.9") && !sat("~=1.4", "2.0"));
        assert!(!sat("<2", "2.0rc1") && sat("<2", "1.9"));
        assert!(!sat(">1.0", "1.0.post1") && sat(">1.0", "1.1"));
        assert!(sat("==1.0", "1.0+local") && sat("===1.0", "1.0"));
        assert!(sat(" (>=1.0)", "1.2"));
    }

    #[test]
    fn names_are_pep_503() {
        assert_eq!(canonical_name("Foo.Bar__baz"), "foo-bar-baz");
        let r = Requirement::parse("Zope.Interface[x,y]>=5");
        assert!(r.satisfied_by(&[("zope-interface".into(), "6.0".into())]));
        for odd in ["git+https://github.com/x/y.git", "./local/pkg", "/tmp/x.whl", "pkg @ https://x/y.whl", "pkg; python_version<'3'"] {
            assert!(!Requirement::parse(odd).is_plain(), "{odd}");
        }
    }

    #[test]
    fn split_names_are_recovered() {
        let n = |v: &[&str]| recover_names(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(n(&["numpy>=1.20", "<2", "six"]), vec!["numpy>=1.20,<2", "six"]);
        assert_eq!(n(&["req[a", "b]>=2"]), vec!["req[a,b]>=2"]);
    }

    #[test]
    fn listings_parse() {
        let l = parse_installed(r#"[{"name": "Six", "version": "1.16.0"}, {"name": "pip", "version": "23.0.1"}]"#);
        assert_eq!(l, vec![("six".to_string(), "1.16.0".to_string()), ("pip".into(), "23.0.1".into())]);
        let l = parse_installed(&format!("{TAG} dist six-1.16.0.dist-info\n{TAG} dist Foo_Bar-2.0-py3.11.egg-info\n"));
        assert_eq!(l, vec![("six".to_string(), "1.16.0".to_string()), ("foo-bar".into(), "2.0".into())]);
        let l = parse_installed("six==1.16.0\nfoo @ file:///x\n-e git+x#egg=y\n");
        assert_eq!(l, vec![("six".to_string(), "1.16.0".to_string()), ("foo".into(), String::new())]);
    }

    fn host(venv: bool, listing: &str) -> String {
        if venv {
            format!("{TAG} venv\n{TAG} pip /v/bin/pip3\n{TAG} list\n{listing}\n{TAG} end\n")
        } else {
            String::new()
        }
    }

    fn run(a: Value, answers: Vec<ExecOutput>, check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::with(answers);
        let r = run_module(&Pip, a, &fake, check, false);
        (r, fake.commands())
    }

    fn ok(s: &str) -> ExecOutput {
        ExecOutput { rc: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] }
    }

    const SIX: &str = r#"[{"name": "six", "version": "1.16.0"}, {"name": "pip", "version": "23.0.1"}]"#;

    #[test]
    fn satisfied_is_one_round_trip() {
        let a = json!({"name": ["Six==1.16.0", "PIP>=20"], "virtualenv": "/v", "virtualenv_command": "python3 -m venv"});
        let (r, sent) = run(a, vec![ok(&host(true, SIX))], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].starts_with("cd /tmp || exit 1; export PIP_DISABLE_PIP_VERSION_CHECK=1; PATH=/v/bin:$PATH; if [ -f /v/bin/activate ]; then"), "{}", sent[0]);
    }

    #[test]
    fn a_missing_venv_is_created_then_installed_into() {
        let a = json!({"name": "six==1.16.0", "virtualenv": "/v", "virtualenv_command": "/usr/bin/python3 -m venv", "virtualenv_site_packages": true});
        let (r, sent) = run(a.clone(), vec![ok(&host(false, "")), ok("Successfully installed six-1.16.0\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("/usr/bin/python3 -m venv --system-site-packages /v || exit 1; echo; "), "{}", sent[1]);
        assert!(sent[1].ends_with("; P install six==1.16.0"), "{}", sent[1]);
        assert_eq!(r.0["cmd"], "/v/bin/pip install six==1.16.0");
        // Check mode: predicted, nothing run.
        let (r, sent) = run(a, vec![ok(&host(false, ""))], true);
        assert!(r.changed() && sent.len() == 1);
        // virtualenv_python is not for venv.
        let (r, _) = run(json!({"name": "six", "virtualenv": "/v", "virtualenv_command": "python3 -m venv", "virtualenv_python": "python3.11"}), vec![], false);
        assert!(r.is_failed());
    }

    #[test]
    fn a_wrong_version_installs() {
        let a = json!({"name": "six", "version": "1.15.0", "virtualenv": "/v"});
        let (r, sent) = run(a, vec![ok(&host(true, SIX)), ok("Successfully installed six-1.15.0")], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].ends_with("P install six==1.15.0"), "{}", sent[1]);
    }

    #[test]
    fn absent_uninstalls_only_what_is_there() {
        let a = json!({"name": ["six", "nothere"], "state": "absent", "virtualenv": "/v"});
        let (r, sent) = run(a, vec![ok(&host(true, SIX)), ok("Successfully uninstalled six-1.16.0")], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].ends_with("P uninstall -y six"), "{}", sent[1]);
        let (r, sent) = run(json!({"name": "nothere", "state": "absent", "virtualenv": "/v"}), vec![ok(&host(true, SIX))], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn latest_asks_pip_and_reads_its_answer() {
        let a = json!({"name": "six", "state": "latest", "virtualenv": "/v"});
        let (r, sent) = run(a.clone(), vec![ok(&host(true, SIX)), ok("Requirement already satisfied: six in /v/lib")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].ends_with("P install -U six"), "{}", sent[1]);
        let (r, sent) = run(a, vec![ok(&host(true, SIX)), ok("Would install six-1.17.0")], true);
        assert!(r.changed());
        assert!(sent[1].ends_with("P install -U --dry-run six"), "{}", sent[1]);
    }

    #[test]
    fn requirements_run_pip_and_read_the_change() {
        let a = json!({"requirements": "req.txt", "virtualenv": "venv", "chdir": "/srv/app"});
        let (r, sent) = run(a, vec![ok(&host(true, SIX)), ok("Requirement already satisfied: six")], false);
        assert!(!r.changed(), "{r:?}");
        assert!(sent[1].starts_with("cd /srv/app || exit 1;"), "{}", sent[1]);
        assert!(sent[1].ends_with("P install -r req.txt"), "{}", sent[1]);
        assert_eq!(r.0["virtualenv"], "/srv/app/venv");
    }

    #[test]
    fn a_relative_venv_without_chdir_is_in_home() {
        let (r, sent) = run(json!({"name": "six", "virtualenv": "venvs/app", "virtualenv_command": "virtualenv"}), vec![ok(""), ok("Successfully installed six")], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[0].contains("if [ -f \"$HOME\"/venvs/app/bin/activate ]"), "{}", sent[0]);
        assert!(sent[1].contains("virtualenv \"$HOME\"/venvs/app || exit 1"), "{}", sent[1]);
    }

    #[test]
    fn argument_conflicts_fail() {
        for a in [
            json!({}),
            json!({"name": "six", "requirements": "r.txt"}),
            json!({"name": "six", "virtualenv": "/v", "executable": "pip3"}),
            json!({"name": "six", "state": "latest", "version": "1"}),
            json!({"name": ["six", "pip"], "version": "1"}),
            json!({"name": "six>=1", "version": "1"}),
            json!({"name": "six", "umask": "abc"}),
        ] {
            let (r, sent) = run(a.clone(), vec![], false);
            assert!(r.is_failed() && sent.is_empty(), "{a}: {r:?}");
        }
    }

    #[test]
    fn failures_report_pip_output() {
        let a = json!({"name": "nosuchpkg-xyz", "virtualenv": "/v"});
        let err = ExecOutput { rc: 1, stdout: b"".to_vec(), stderr: b"ERROR: No matching distribution found for nosuchpkg-xyz".to_vec() };
        let (r, _) = run(a, vec![ok(&host(true, SIX)), err], false);
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().contains("No matching distribution"), "{r:?}");
    }
}
