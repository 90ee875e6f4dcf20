//! `conda`: conda environments and the packages in them (conda, mamba or micromamba).
//!
//! One round trip finds the executable, reads `conda env list --json`, the target
//! environment's `conda list --json`, and (with `environment_file`) the file's SHA-256
//! and the one recorded after the last update. Requested specs (`numpy`, `numpy=1.26`,
//! `numpy>=1.26,<2`, `conda-forge::numpy==1.26.4`) are compared with what is installed;
//! only what is missing is sent: `create`, `install`, `env update --prune`, `remove`.

use std::cmp::Ordering;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Conda;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The environment's name (`-n`); `base` is the installation's root environment. One of `name` or `prefix` is required.").aliases(&["env", "environment"]),
    ArgSpec::new("prefix", ArgType::Path, "The environment's full path (`-p`), instead of `name`."),
    ArgSpec::new("packages", ArgType::List, "Package specs: `numpy`, `numpy=1.26` (any 1.26.x, conda's meaning of `=`), `numpy==1.26.4`, `numpy>=1.26,<2`, `numpy=1.26.4=py311h64a7726_0`, `conda-forge::numpy`. With `state=absent` and `packages`, those packages are removed from the environment; without, the environment is removed. Give specs with a comma (`numpy>=1.26,<2`) as a YAML list: a plain string is split on commas.").aliases(&["pkgs", "package"]),
    ArgSpec::new("environment_file", ArgType::Path, "An `environment.yml` on the host: the environment is created from it (`conda env create -f`) or updated to it (`conda env update -f FILE --prune`). Idempotency: after a successful create/update the file's SHA-256 is stored in `<env>/conda-meta/provision-env.sha256`; the next run compares it with the file's and does nothing when they match. An environment made from the same file by other means is updated once, to record the hash.").aliases(&["file"]),
    ArgSpec::new("channels", ArgType::List, "Channels to search (`-c`), in order, for create/install/update.").aliases(&["channel"]),
    ArgSpec::new("override_channels", ArgType::Bool, "Search only `channels`, not those of `.condarc` (`--override-channels`).").default("no"),
    ArgSpec::new("state", ArgType::Str, "`present`: the environment exists and the specs are satisfied; `latest`: also update the listed packages to the newest version the channels offer (always asks the solver: `conda update --json` tells whether anything changed); `absent`: see `packages`.")
        .default("present")
        .choices(&["present", "latest", "absent"]),
    ArgSpec::new("python", ArgType::Str, "A Python version for the environment (`3.11` → the spec `python=3.11`)."),
    ArgSpec::new("executable", ArgType::Path, "The conda, mamba or micromamba executable. Default: `<conda_prefix>/bin/conda`, then `<conda_prefix>/bin/mamba`, then `conda`, `mamba`, `micromamba` on PATH. micromamba runs with `MAMBA_ROOT_PREFIX=<conda_prefix>` unless that is already set.").aliases(&["conda_executable"]),
    ArgSpec::new("conda_prefix", ArgType::Path, "Where conda is (or is to be) installed: the root (`base`) environment.").default("/opt/conda").aliases(&["root_prefix"]),
    ArgSpec::new("install", ArgType::Bool, "Install Miniforge/Miniconda into `conda_prefix` when no executable is found (`bash INSTALLER -b -p <conda_prefix>`), from `installer` or `installer_url`.").default("no"),
    ArgSpec::new("installer", ArgType::Path, "A Miniforge or Miniconda `.sh` installer already on the host (copy it there first: `copy`/`get_url`)."),
    ArgSpec::new("installer_url", ArgType::Str, "Where the host downloads the installer from (curl, else wget, else python3), e.g. https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-x86_64.sh. GitHub and Anaconda are not reachable from the lab hosts: use `installer` there."),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "conda",
    short: "Manage conda environments and their packages",
    description: "Creates, updates and removes conda environments and the packages in them, with conda, mamba or micromamba. \
Idempotent without asking the solver: one round trip reads `conda env list --json`, the environment's `conda list --json` and, for \
`environment_file`, the file's SHA-256 and the one stored in `<env>/conda-meta/provision-env.sha256` after the last update from it. \
Requested specs are compared with what is installed (a small version comparison that follows conda's ordering: \
`1.0dev < 1.0a1 < 1.0rc1 < 1.0 < 1.0.post1`, `=1.26` matching any `1.26.x`); only then `conda create -y`, `conda install -y`, \
`conda env create`/`conda env update --prune` or `conda remove -y`/`conda env remove -y` run. `state=latest` asks the solver \
(`conda update --json`, `--dry-run` in check mode) and reports a change only when it links or unlinks something. Without an \
executable the task fails, unless `install: true` installs Miniforge from `installer` (a file on the host) or `installer_url`. \
Check mode predicts (state=latest takes a dry run); `--diff` shows the requested packages before and after.",
    args: ARGS,
    free_form: false,
    examples: "- name: A Python 3.11 environment with numpy and pandas\n  conda:\n    name: ml\n    python: \"3.11\"\n    packages:\n      - numpy>=1.26\n      - pandas=2.2\n    channels: [conda-forge]\n\n\
- name: An environment from a file\n  conda:\n    name: ml\n    environment_file: /srv/app/environment.yml\n\n\
- name: Install Miniforge from a copied installer, then an environment\n  conda:\n    name: tools\n    packages: [jq]\n    install: true\n    installer: /tmp/Miniforge3-Linux-x86_64.sh\n\n\
- name: Keep a package current\n  conda:\n    name: ml\n    packages: [numpy]\n    state: latest\n\n\
- name: Remove a package, then the environment\n  conda:\n    name: ml\n    packages: [pandas]\n    state: absent\n- conda:\n    name: ml\n    state: absent\n",
    returns: &[
        ("env_name", "the environment's name (or `null` with `prefix`)"),
        ("prefix", "the environment's path"),
        ("executable", "the conda/mamba/micromamba used"),
        ("envs", "the environments' paths, from `env list --json`"),
        ("installed", "specs installed or updated (or that would be)"),
        ("removed", "packages removed, or the environment's prefix when it was removed"),
        ("cmd", "the command run (or that would run in check mode)"),
        ("stdout", "its output"),
        ("stderr", "its errors"),
        ("diff", "with `--diff`: `before`/`after` of the requested packages"),
    ],
};

const TAG: &str = "__provision_conda_9e27__";
const MARKER: &str = "conda-meta/provision-env.sha256";

// ---------------------------------------------------------------- versions and specs

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Num(u64),
    Alpha(String),
}

/// A version as comparable tokens: digit runs and letter runs; separators dropped;
/// a `+local` part and an `N!` epoch ignored.
fn tokens(v: &str) -> Vec<Tok> {
    let v = v.split('+').next().unwrap_or(v);
    let v = v.split_once('!').map(|(_, r)| r).unwrap_or(v).to_ascii_lowercase();
    let mut out = vec![];
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Tok>| {
        if cur.is_empty() {
            return;
        }
        if cur.chars().all(|c| c.is_ascii_digit()) {
            out.push(Tok::Num(cur.parse().unwrap_or(u64::MAX)));
        } else {
            out.push(Tok::Alpha(std::mem::take(cur)));
        }
        cur.clear();
    };
    for c in v.chars() {
        if c.is_ascii_alphanumeric() {
            if !cur.is_empty() && cur.chars().last().unwrap().is_ascii_digit() != c.is_ascii_digit() {
                flush(&mut cur, &mut out);
            }
            cur.push(c);
        } else {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Sort key of a token; a missing token counts as `0`. `dev` < other letters
/// (`a`, `b`, `rc`) < numbers < `post`.
fn key(t: Option<&Tok>) -> (u8, u64, String) {
    match t {
        None => (2, 0, String::new()),
        Some(Tok::Num(n)) => (2, *n, String::new()),
        Some(Tok::Alpha(s)) if s == "dev" => (0, 0, String::new()),
        Some(Tok::Alpha(s)) if s == "post" => (3, 0, String::new()),
        Some(Tok::Alpha(s)) => (1, 0, s.clone()),
    }
}

/// Compare two versions the way conda orders them (close enough for specs).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    for i in 0..ta.len().max(tb.len()) {
        let o = key(ta.get(i)).cmp(&key(tb.get(i)));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Whether `installed` starts with the version `prefix` (`1.26` matches `1.26.4`, not `1.261`).
fn version_prefix(installed: &str, prefix: &str) -> bool {
    let (ti, tp) = (tokens(installed), tokens(prefix));
    tp.len() <= ti.len() && ti[..tp.len()] == tp[..]
}

/// One requested package: the name, the version constraints (`(op, version)`, all must
/// hold) and an optional build.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub raw: String,
    pub name: String,
    pub constraints: Vec<(String, String)>,
    pub build: Option<String>,
}

/// Parse `chan::name>=1,<2`, `name=1.2=build`, `name 1.2.*`, `name==1.2`.
pub fn parse_spec(raw: &str) -> Result<Spec, String> {
    let s = raw.trim();
    let s = s.rsplit_once("::").map(|(_, r)| r).unwrap_or(s);
    let end = s.find(|c: char| "=<>!~ ".contains(c)).unwrap_or(s.len());
    let name = s[..end].trim().to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("cannot read the package spec {raw:?}"));
    }
    let mut rest = s[end..].trim().to_string();
    let mut build = None;
    // `name=1.2=build` / `name 1.2 build`
    if rest.starts_with('=') && !rest.starts_with("==") {
        let body = &rest[1..];
        if let Some((v, b)) = body.split_once('=') {
            build = Some(b.to_string());
            rest = format!("={v}");
        }
    } else if !rest.is_empty() && !rest.starts_with(['=', '<', '>', '!', '~']) {
        let mut parts = rest.split_whitespace();
        let v = parts.next().unwrap_or("").to_string();
        build = parts.next().map(str::to_string);
        rest = if v.starts_with(['=', '<', '>', '!', '~']) { v } else { format!("={v}") };
    } else if let Some((v, b)) = rest.split_once(' ') {
        build = Some(b.trim().to_string());
        rest = v.to_string();
    }
    let mut constraints = vec![];
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let op_len = part.find(|c: char| !"=<>!~".contains(c)).unwrap_or(part.len());
        let (op, v) = part.split_at(op_len);
        let op = if op.is_empty() { "=" } else { op };
        let version_ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._*+!-".contains(c));
        if !["=", "==", ">=", "<=", ">", "<", "!=", "~="].contains(&op) || !version_ok {
            return Err(format!("cannot read the version constraint {part:?} of {raw:?}"));
        }
        constraints.push((op.to_string(), v.to_string()));
    }
    if build.as_deref().is_some_and(|b| b.is_empty() || !b.chars().all(|c| c.is_ascii_alphanumeric() || "._*+-".contains(c))) {
        return Err(format!("cannot read the build of {raw:?}"));
    }
    Ok(Spec { raw: raw.trim().to_string(), name, constraints, build })
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => text.starts_with(head) && text.len() >= head.len() && glob_match_tail(tail, &text[head.len()..]),
    }
}

fn glob_match_tail(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    (0..=text.len()).any(|i| text.is_char_boundary(i) && glob_match(pattern, &text[i..]))
}

/// Whether the installed `version` (and `build`) satisfies `spec`.
pub fn satisfies(spec: &Spec, version: &str, build: &str) -> bool {
    if let Some(b) = &spec.build {
        if !glob_match(b, build) {
            return false;
        }
    }
    spec.constraints.iter().all(|(op, v)| {
        let star = v.ends_with('*');
        let bare = v.trim_end_matches('*').trim_end_matches('.');
        match op.as_str() {
            "=" => version_prefix(version, bare),
            "==" if star => version_prefix(version, bare),
            "==" => compare_versions(version, v) == Ordering::Equal,
            "!=" if star => !version_prefix(version, bare),
            "!=" => compare_versions(version, v) != Ordering::Equal,
            ">=" => compare_versions(version, bare) != Ordering::Less,
            "<=" => compare_versions(version, bare) != Ordering::Greater,
            ">" => compare_versions(version, bare) == Ordering::Greater,
            "<" => compare_versions(version, bare) == Ordering::Less,
            "~=" => {
                // ~=1.4.2: >=1.4.2 and ==1.4.*
                let t = tokens(bare);
                let head: Vec<String> = bare.split('.').take(t.len().saturating_sub(1).max(1)).map(str::to_string).collect();
                compare_versions(version, bare) != Ordering::Less && version_prefix(version, &head.join("."))
            }
            _ => false,
        }
    })
}

// ---------------------------------------------------------------- the host

/// A package as `conda list --json` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub build: String,
}

/// `conda list --json` → packages; `Err` when the output is not that list.
pub fn parse_list(json_text: &str) -> Result<Vec<Installed>, String> {
    let v: Value = serde_json::from_str(json_text.trim()).map_err(|e| format!("cannot read `conda list --json`: {e}"))?;
    let arr = v.as_array().ok_or_else(|| format!("`conda list --json` answered {}", v.get("message").or(v.get("error")).and_then(Value::as_str).unwrap_or("something else than a list")))?;
    Ok(arr
        .iter()
        .filter_map(|p| {
            Some(Installed {
                name: p.get("name")?.as_str()?.to_ascii_lowercase(),
                version: p.get("version")?.as_str()?.to_string(),
                build: p.get("build_string").or(p.get("build")).and_then(Value::as_str).unwrap_or("").to_string(),
            })
        })
        .collect())
}

/// `conda env list --json` → the environments' paths.
pub fn parse_env_list(json_text: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(json_text.trim()).map_err(|e| format!("cannot read `env list --json`: {e}"))?;
    let envs = v.get("envs").and_then(Value::as_array).ok_or("`env list --json` has no `envs`")?;
    Ok(envs.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

/// Whether `--json` output of install/update/remove linked or unlinked anything.
pub fn json_changed(json_text: &str) -> Option<bool> {
    // Progress lines may precede the JSON object.
    let start = json_text.find('{')?;
    let v: Value = serde_json::from_str(json_text[start..].trim()).ok()?;
    let actions = v.get("actions");
    let count = |k: &str| actions.and_then(|a| a.get(k)).and_then(Value::as_array).map(|a| a.len()).unwrap_or(0);
    Some(count("LINK") + count("UNLINK") > 0)
}

/// The names `LINK` lists in `--json` output, `name-version`.
fn json_linked(json_text: &str) -> Vec<String> {
    let Some(start) = json_text.find('{') else { return vec![] };
    let Ok(v) = serde_json::from_str::<Value>(json_text[start..].trim()) else { return vec![] };
    v.pointer("/actions/LINK")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some(format!("{}={}", p.get("name")?.as_str()?, p.get("version")?.as_str()?))).collect())
        .unwrap_or_default()
}

/// Where to look for an environment, and how to address it.
#[derive(Debug, Clone)]
struct Target {
    name: Option<String>,
    prefix: Option<String>,
}

impl Target {
    /// `-n NAME` or `-p PREFIX` (the known path wins).
    fn flag(&self, known: Option<&str>) -> String {
        match (known.or(self.prefix.as_deref()), &self.name) {
            (Some(p), _) => format!("-p {}", quote(p)),
            (None, Some(n)) => format!("-n {}", quote(n)),
            (None, None) => String::new(),
        }
    }
}

/// Shell that finds the executable (in `$exe`) and a named environment's path (the
/// function `find_env`, from the env list in `$envjson`).
fn locate_script(args: &Args) -> String {
    let conda_prefix = text(args, "conda_prefix").unwrap_or_else(|| "/opt/conda".into());
    let root = quote(&conda_prefix);
    let find_exe = match text(args, "executable").filter(|e| !e.is_empty()) {
        Some(e) => format!("exe=''; if [ -x {q} ]; then exe={q}; elif command -v {q} >/dev/null 2>&1; then exe=$(command -v {q}); fi\n", q = quote(&e)),
        None => format!(
            "exe=''; for c in {root}/bin/conda {root}/bin/mamba; do if [ -x \"$c\" ]; then exe=$c; break; fi; done\n\
if [ -z \"$exe\" ]; then for c in conda mamba micromamba; do if command -v $c >/dev/null 2>&1; then exe=$(command -v $c); break; fi; done; fi\n"
        ),
    };
    format!(
        "export LC_ALL=C\nT={TAG}\n{find_exe}\
case \"$exe\" in *micromamba) export MAMBA_ROOT_PREFIX=\"${{MAMBA_ROOT_PREFIX:-{root_raw}}}\";; esac\n\
find_env() {{ printf '%s\\n' \"$envjson\" | tr ',[]{{}}' '\\n\\n\\n\\n\\n' | sed -n 's/^[[:space:]]*\"\\(\\/[^\"]*\\)\"[[:space:]:]*$/\\1/p' | while IFS= read -r c; do case \"$c\" in */envs/\"$1\") if [ -d \"$c/conda-meta\" ]; then printf '%s\\n' \"$c\"; break; fi;; esac; done; }}\n",
        root_raw = conda_prefix.replace(['"', '$', '`', '\\'], ""),
    )
}

/// The read-only script of the single round trip.
fn probe_script(args: &Args, target: &Target) -> String {
    let conda_prefix = text(args, "conda_prefix").unwrap_or_else(|| "/opt/conda".into());
    let mut s = locate_script(args);
    s.push_str(&format!(
        "if [ -z \"$exe\" ]; then echo \"$T noexe\"; {inst}exit 0; fi\n\
echo \"$T exe $exe\"\n\
envjson=$(\"$exe\" env list --json 2>/dev/null); echo \"$T envrc $?\"\n\
printf '%s\\n' \"$envjson\" | sed \"s/^/$T envjson /\"\n",
        inst = match text(args, "installer") {
            Some(i) => format!("if [ -f {} ]; then echo \"$T installer\"; fi; ", quote(&i)),
            None => String::new(),
        }
    ));
    match (&target.prefix, &target.name) {
        (Some(p), _) => s.push_str(&format!("p={}\n", quote(p))),
        (None, Some(n)) if n == "base" => s.push_str(&format!("p={}\n", quote(&conda_prefix))),
        (None, Some(n)) => s.push_str(&format!("p=$(find_env {})\n", quote(n))),
        (None, None) => s.push_str("p=''\n"),
    }
    s.push_str(
        "if [ -n \"$p\" ] && [ -d \"$p/conda-meta\" ]; then\n  echo \"$T prefix $p\"\n  list=$(\"$exe\" list --json -p \"$p\" 2>/dev/null); echo \"$T listrc $?\"\n  printf '%s\\n' \"$list\" | sed \"s/^/$T list /\"\n",
    );
    s.push_str(&format!("  if [ -f \"$p/{MARKER}\" ]; then echo \"$T marker $(head -n 1 \"$p/{MARKER}\")\"; fi\nfi\n"));
    if let Some(f) = text(args, "environment_file") {
        s.push_str(&format!("if [ -f {q} ]; then echo \"$T filehash $(sha256sum < {q} | cut -d' ' -f1)\"; else echo \"$T nofile\"; fi\n", q = quote(&f)));
    }
    s.push_str("true\n");
    s
}

#[derive(Debug, Default)]
struct Probe {
    exe: Option<String>,
    installer_present: bool,
    env_json: String,
    env_rc: i32,
    prefix: Option<String>,
    list: Option<String>,
    marker: Option<String>,
    file_hash: Option<String>,
    no_file: bool,
}

fn parse_probe(out: &str) -> Probe {
    let mut p = Probe::default();
    let mut env_json = String::new();
    let mut list = String::new();
    let mut has_list = false;
    for l in out.lines() {
        let Some(rest) = l.strip_prefix(TAG) else { continue };
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
        match k {
            "noexe" => p.exe = None,
            "installer" => p.installer_present = true,
            "exe" => p.exe = Some(v.to_string()),
            "envrc" => p.env_rc = v.trim().parse().unwrap_or(1),
            "envjson" => {
                env_json.push_str(v);
                env_json.push('\n');
            }
            "prefix" => p.prefix = Some(v.to_string()),
            "listrc" => has_list = v.trim() == "0",
            "list" => {
                list.push_str(v);
                list.push('\n');
            }
            "marker" => p.marker = Some(v.trim().to_string()),
            "filehash" => p.file_hash = Some(v.trim().to_string()),
            "nofile" => p.no_file = true,
            _ => {}
        }
    }
    p.env_json = env_json;
    if has_list || !list.trim().is_empty() {
        p.list = Some(list);
    }
    p
}

fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(false)
}

fn list_arg(args: &Args, key: &str) -> Vec<String> {
    args.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(|v| match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

fn kind(exe: &str) -> &'static str {
    let base = exe.rsplit('/').next().unwrap_or(exe);
    if base.starts_with("micromamba") {
        "micromamba"
    } else if base.starts_with("mamba") {
        "mamba"
    } else {
        "conda"
    }
}

fn channel_flags(args: &Args) -> String {
    let mut s = String::new();
    for c in list_arg(args, "channels") {
        s.push_str(&format!(" -c {}", quote(&c)));
    }
    if flag(args, "override_channels") {
        s.push_str(" --override-channels");
    }
    s
}

/// Shell that stores the environment file's hash in the environment (atomically).
fn marker_script(prefix_expr: &str, hash: &str) -> String {
    format!(
        "printf '%s\\n' {h} > \"{p}/{MARKER}.tmp\" && mv -f \"{p}/{MARKER}.tmp\" \"{p}/{MARKER}\"",
        h = quote(hash),
        p = prefix_expr
    )
}

fn installer_script(args: &Args) -> Result<String, String> {
    let root = quote(&text(args, "conda_prefix").unwrap_or_else(|| "/opt/conda".into()));
    if let Some(i) = text(args, "installer") {
        return Ok(format!("bash {} -b -p {root}", quote(&i)));
    }
    if let Some(u) = text(args, "installer_url") {
        let q = quote(&u);
        return Ok(format!(
            "set -e\nt=$(mktemp /tmp/provision-conda-installer.XXXXXX)\ntrap 'rm -f \"$t\"' EXIT\n\
if command -v curl >/dev/null 2>&1; then curl -fsSL -o \"$t\" {q}; elif command -v wget >/dev/null 2>&1; then wget -q -O \"$t\" {q}; \
else python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' {q} \"$t\"; fi\n\
bash \"$t\" -b -p {root}"
        ));
    }
    Err("`install: true` needs `installer` (a Miniforge/Miniconda .sh on the host) or `installer_url`".into())
}

fn fail_with(msg: String, out: &crate::ExecOutput, cmd: &str) -> ModuleResult {
    let mut r = ModuleResult::failed(msg);
    r.set("cmd", cmd.to_string());
    r.set("rc", out.rc);
    r.set("stdout", String::from_utf8_lossy(&out.stdout).into_owned());
    r.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
    r
}

fn last_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

#[async_trait]
impl Module for Conda {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let target = Target { name: text(args, "name").filter(|n| !n.is_empty()), prefix: text(args, "prefix").filter(|p| !p.is_empty()) };
        match (&target.name, &target.prefix) {
            (None, None) => return Ok(ModuleResult::failed("one of `name` or `prefix` is required")),
            (Some(_), Some(_)) => return Ok(ModuleResult::failed("parameters are mutually exclusive: name|prefix")),
            _ => {}
        }
        if let Some(n) = &target.name {
            if n.contains('/') || n.contains(char::is_whitespace) {
                return Ok(ModuleResult::failed(format!("invalid environment name {n:?} (use `prefix` for a path)")));
            }
        }
        let state = text(args, "state").unwrap_or_else(|| "present".into());
        let mut specs = vec![];
        for raw in list_arg(args, "packages") {
            match parse_spec(&raw) {
                Ok(s) => specs.push(s),
                Err(e) => return Ok(ModuleResult::failed(e)),
            }
        }
        if let Some(py) = text(args, "python").filter(|p| !p.is_empty()) {
            if state != "absent" && !specs.iter().any(|s| s.name == "python") {
                let raw = if py.starts_with(|c: char| c.is_ascii_digit()) { format!("python={py}") } else { format!("python{py}") };
                match parse_spec(&raw) {
                    Ok(s) => specs.push(s),
                    Err(e) => return Ok(ModuleResult::failed(e)),
                }
            }
        }
        let env_file = text(args, "environment_file").filter(|f| !f.is_empty());
        let conda_prefix = text(args, "conda_prefix").unwrap_or_else(|| "/opt/conda".into());

        let script = probe_script(args, &target);
        let mut out = ctx.remote.exec(&script, b"").await?;
        let mut probe = parse_probe(&String::from_utf8_lossy(&out.stdout));
        let mut installed_conda = false;
        if probe.exe.is_none() {
            if state == "absent" {
                let mut r = ModuleResult::ok(false);
                r.set("msg", "no conda executable: nothing to remove");
                return Ok(r);
            }
            if !flag(args, "install") {
                let looked = match text(args, "executable") {
                    Some(e) => format!("`{e}` is not executable"),
                    None => format!("looked for {conda_prefix}/bin/conda, {conda_prefix}/bin/mamba, and conda, mamba, micromamba on PATH"),
                };
                return Ok(ModuleResult::failed(format!("no conda executable found ({looked}): set `executable`, or `install: true` with `installer` to install Miniforge")));
            }
            let inst = match installer_script(args) {
                Ok(s) => s,
                Err(e) => return Ok(ModuleResult::failed(e)),
            };
            if text(args, "installer").is_some() && !probe.installer_present {
                return Ok(ModuleResult::failed(format!("installer {} not found on the host", text(args, "installer").unwrap_or_default())));
            }
            if ctx.check_mode {
                let mut r = ModuleResult::ok(true);
                r.set("msg", format!("conda would be installed into {conda_prefix}, then the environment set up"));
                r.set("cmd", inst);
                r.set("prefix", target.prefix.clone().unwrap_or_else(|| format!("{conda_prefix}/envs/{}", target.name.clone().unwrap_or_default())));
                r.set("env_name", target.name.clone().map(Value::String).unwrap_or(Value::Null));
                r.set("installed", json!(specs.iter().map(|s| s.raw.clone()).collect::<Vec<_>>()));
                return Ok(r);
            }
            let o = ctx.remote.exec(&inst, b"").await?;
            if o.rc != 0 {
                return Ok(fail_with(format!("installing conda into {conda_prefix} failed (rc={}): {}", o.rc, last_line(&o.stderr)), &o, &inst));
            }
            installed_conda = true;
            out = ctx.remote.exec(&script, b"").await?;
            probe = parse_probe(&String::from_utf8_lossy(&out.stdout));
            if probe.exe.is_none() {
                return Ok(ModuleResult::failed(format!("the installer ran but no conda executable is in {conda_prefix}/bin")));
            }
        }
        let exe = probe.exe.clone().unwrap_or_default();
        let k = kind(&exe);
        if probe.env_rc != 0 {
            return Ok(fail_with(format!("`{exe} env list --json` failed (rc={})", probe.env_rc), &out, &script));
        }
        let envs = match parse_env_list(&probe.env_json) {
            Ok(e) => e,
            Err(e) => return Ok(fail_with(e, &out, &script)),
        };
        let exists = probe.prefix.is_some();
        let installed = match (&probe.list, exists) {
            (Some(l), true) => match parse_list(l) {
                Ok(v) => v,
                Err(e) => return Ok(fail_with(e, &out, &script)),
            },
            _ => vec![],
        };
        if env_file.is_some() && probe.no_file && state != "absent" {
            return Ok(ModuleResult::failed(format!("environment_file {} not found on the host", env_file.clone().unwrap_or_default())));
        }
        let prefix_now = probe.prefix.clone();
        let predicted_prefix = prefix_now.clone().or_else(|| target.prefix.clone()).unwrap_or_else(|| {
            let n = target.name.clone().unwrap_or_default();
            if n == "base" { conda_prefix.clone() } else { format!("{conda_prefix}/envs/{n}") }
        });
        let find = |name: &str| installed.iter().find(|p| p.name == name);
        let before: Vec<String> = specs.iter().filter_map(|s| find(&s.name).map(|p| format!("{}={}", p.name, p.version))).collect();

        let env_flag = target.flag(prefix_now.as_deref());
        let quiet = if k == "micromamba" { "" } else { " -q" };
        let chans = channel_flags(args);
        let env_exec = if k == "micromamba" { format!("export MAMBA_ROOT_PREFIX=\"${{MAMBA_ROOT_PREFIX:-{}}}\"\n", conda_prefix.replace(['"', '$', '`', '\\'], "")) } else { String::new() };
        let exe_q = quote(&exe);
        let mut cmds: Vec<String> = vec![];
        let mut to_install: Vec<String> = vec![];
        let mut removed: Vec<String> = vec![];
        let mut latest_cmd: Option<String> = None;

        if state == "absent" {
            if !exists {
                // nothing
            } else if specs.is_empty() {
                if target.name.as_deref() == Some("base") || prefix_now.as_deref() == Some(conda_prefix.trim_end_matches('/')) {
                    return Ok(ModuleResult::failed("refusing to remove the base environment"));
                }
                let f = format!("env remove -y {}", target.flag(None));
                cmds.push(format!("{exe_q} {f}"));
                removed.push(predicted_prefix.clone());
            } else {
                let names: Vec<String> = specs.iter().filter(|s| find(&s.name).is_some()).map(|s| s.name.clone()).collect();
                if !names.is_empty() {
                    cmds.push(format!("{exe_q} remove -y{quiet} {env_flag} {}", join(&names)));
                    removed = names;
                }
            }
        } else {
            let hash = probe.file_hash.clone();
            let file_stale = env_file.is_some() && (!exists || probe.marker.as_deref() != hash.as_deref());
            let missing: Vec<&Spec> = specs.iter().filter(|s| !find(&s.name).is_some_and(|p| satisfies(s, &p.version, &p.build))).collect();
            let raw_missing: Vec<String> = missing.iter().map(|s| s.raw.clone()).collect();
            if !exists {
                if let Some(f) = &env_file {
                    let fq = quote(f);
                    let by = target.flag(None);
                    let create = if k == "micromamba" { format!("{exe_q} create -y {by} -f {fq}{chans}") } else { format!("{exe_q} env create{quiet} {by} -f {fq}") };
                    let locate = match &target.prefix {
                        Some(p) => format!("p={}", quote(p)),
                        None => format!("envjson=$({exe_q} env list --json 2>/dev/null) && p=$(find_env {})", quote(target.name.as_deref().unwrap_or(""))),
                    };
                    let missing_msg = format!("the environment was created but `env list --json` does not show it, so its file hash could not be recorded");
                    cmds.push(format!(
                        "{create} && {locate} && {{ [ -n \"$p\" ] || {{ echo {} >&2; false; }}; }} && {} && echo \"{TAG} prefix $p\"",
                        quote(&missing_msg),
                        marker_script("$p", hash.as_deref().unwrap_or(""))
                    ));
                    to_install.push(format!("-f {f}"));
                    if !raw_missing.is_empty() {
                        cmds.push(format!("{exe_q} install -y{quiet} -p \"$p\"{chans} {}", join(&raw_missing)));
                        to_install.extend(raw_missing.clone());
                    }
                } else {
                    cmds.push(format!("{exe_q} create -y{quiet} {}{chans} {}", target.flag(None), join(&specs.iter().map(|s| s.raw.clone()).collect::<Vec<_>>())).trim_end().to_string());
                    to_install.extend(specs.iter().map(|s| s.raw.clone()));
                }
            } else {
                let p = prefix_now.clone().unwrap_or_default();
                if file_stale {
                    let fq = quote(env_file.as_deref().unwrap_or(""));
                    let update = if k == "micromamba" { format!("{exe_q} install -y {env_flag} -f {fq}{chans}") } else { format!("{exe_q} env update{quiet} {env_flag} -f {fq} --prune") };
                    cmds.push(format!("{update} && {}", marker_script(&p.replace(['"', '$', '`', '\\'], ""), hash.as_deref().unwrap_or(""))));
                    to_install.push(format!("-f {}", env_file.clone().unwrap_or_default()));
                }
                if !raw_missing.is_empty() {
                    cmds.push(format!("{exe_q} install -y{quiet} {env_flag}{chans} {}", join(&raw_missing)));
                    to_install.extend(raw_missing.clone());
                }
                if state == "latest" {
                    let names: Vec<String> = specs.iter().filter(|s| find(&s.name).is_some() && !missing.iter().any(|m| m.name == s.name)).map(|s| s.name.clone()).collect();
                    if !names.is_empty() {
                        latest_cmd = Some(format!("{exe_q} update -y --json {env_flag}{chans} {}", join(&names)));
                    }
                }
            }
        }

        let mut r = ModuleResult::ok(false);
        r.set("env_name", target.name.clone().map(Value::String).unwrap_or(Value::Null));
        r.set("prefix", predicted_prefix.clone());
        r.set("executable", exe.clone());
        r.set("envs", json!(envs));

        // state=latest: the solver decides (a dry run in check mode).
        let mut latest_changed = false;
        let mut latest_out = None;
        if let Some(c) = &latest_cmd {
            let c = if ctx.check_mode || !cmds.is_empty() { format!("{c} --dry-run") } else { c.clone() };
            let o = ctx.remote.exec(&format!("{env_exec}{c}"), b"").await?;
            let text_out = String::from_utf8_lossy(&o.stdout).into_owned();
            match json_changed(&text_out) {
                Some(ch) if o.rc == 0 => {
                    latest_changed = ch;
                    if ch {
                        to_install.extend(json_linked(&text_out));
                        if !ctx.check_mode && !cmds.is_empty() {
                            // Run for real after the other commands.
                            cmds.push(latest_cmd.clone().unwrap_or_default());
                        }
                    }
                }
                _ => return Ok(fail_with(format!("`{}` failed (rc={}): {}", c, o.rc, last_line(&o.stderr)), &o, &c)),
            }
            latest_out = Some((c, o));
        }

        let changed = installed_conda || !cmds.is_empty() || latest_changed;
        r.set("changed", changed);
        r.set("installed", json!(to_install));
        r.set("removed", json!(removed));
        if ctx.diff && changed {
            let after: Vec<String> = if state == "absent" { vec![] } else { specs.iter().map(|s| s.raw.clone()).collect() };
            r.set("diff", json!({"before": {"prefix": prefix_now, "packages": before}, "after": {"prefix": if state == "absent" && specs.is_empty() { Value::Null } else { Value::String(predicted_prefix.clone()) }, "packages": after}}));
        }
        if cmds.is_empty() {
            if let Some((c, o)) = latest_out {
                r.set("cmd", c);
                r.set("stdout", String::from_utf8_lossy(&o.stdout).into_owned());
                r.set("stderr", String::from_utf8_lossy(&o.stderr).into_owned());
            }
            return Ok(r);
        }
        let body = cmds.join(" &&\n");
        if ctx.check_mode {
            r.set("cmd", body);
            return Ok(r);
        }
        let full = format!("{}{env_exec}set -e\n{body}\n", find_env_only(args));
        let o = ctx.remote.exec(&full, b"").await?;
        r.set("cmd", body);
        r.set("rc", o.rc);
        let so = String::from_utf8_lossy(&o.stdout).into_owned();
        if let Some(p) = so.lines().find_map(|l| l.strip_prefix(&format!("{TAG} prefix "))) {
            r.set("prefix", p.to_string());
        }
        r.set("stdout", so);
        r.set("stderr", String::from_utf8_lossy(&o.stderr).into_owned());
        if o.rc != 0 {
            r.set("failed", true);
            r.set("msg", format!("{k} failed (rc={}): {}", o.rc, last_line(&o.stderr)));
        }
        Ok(r)
    }
}

/// Just the `find_env` shell function (for scripts that create a named environment).
fn find_env_only(args: &Args) -> String {
    let s = locate_script(args);
    match s.find("find_env()") {
        Some(i) => format!("export LC_ALL=C\n{}", &s[i..]),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
