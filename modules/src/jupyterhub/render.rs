//! What the `jupyterhub` module writes and sends: the settings read from the arguments,
//! the generated `jupyterhub_config.py` and systemd unit, and the shell scripts (the one
//! read, the install, the service start and wait).

use serde_json::Value;

use crate::args::{text, to_bool};
use crate::quote::quote;
use crate::Args;

pub const TAG: &str = "__provision_jupyterhub_8c1d__";
pub const CONFIG_DIR: &str = "/etc/jupyterhub";
pub const CONFIG_PATH: &str = "/etc/jupyterhub/jupyterhub_config.py";
pub const UNIT_NAME: &str = "jupyterhub.service";
pub const UNIT_PATH: &str = "/etc/systemd/system/jupyterhub.service";

/// Where the proxy (`configurable-http-proxy`) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// Debian's `node-configurable-http-proxy` package.
    Distro,
    /// `npm install -g configurable-http-proxy` (Debian's `nodejs` and `npm` first).
    Npm,
    /// Not installed by the module.
    None,
}

/// What installs the Python packages into the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    Pip,
    /// `uv pip install` (uv itself pip-installed into the venv first).
    Uv,
}

/// The module's arguments, checked and with the shortcuts resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub present: bool,
    pub venv: String,
    pub version: Option<String>,
    pub pip_packages: Vec<String>,
    pub proxy: Proxy,
    pub installer: Installer,
    pub install_prerequisites: bool,
    pub port: u16,
    pub bind_address: String,
    pub admin_users: Vec<String>,
    pub allowed_users: Vec<String>,
    pub allow_all: Option<bool>,
    pub spawner: String,
    pub authenticator: String,
    pub ssl: Option<(String, String)>,
    /// Seconds of inactivity after which the culler stops a server, when enabled.
    pub idle_culler: Option<i64>,
    pub default_url: String,
    pub extra_config: String,
    pub timeout: i64,
    pub purge: bool,
}

pub const LOCAL_SPAWNER: &str = "jupyterhub.spawner.LocalProcessSpawner";
pub const SYSTEMD_SPAWNER: &str = "systemdspawner.SystemdSpawner";

fn flag(args: &Args, key: &str, default: bool) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(default)
}

fn int(args: &Args, key: &str, default: i64) -> Result<i64, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("`{key}` must be an integer")),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| format!("`{key}` must be an integer, got: {s}")),
        Some(other) => Err(format!("`{key}` must be an integer, got: {other}")),
    }
}

fn list(args: &Args, key: &str) -> Vec<String> {
    let mut v: Vec<String> = match args.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(|x| match x {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Null => None,
            other => Some(other.to_string()),
        }).filter(|s| !s.is_empty()).collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => vec![],
    };
    v.dedup();
    v
}

/// A class given by shortcut (`local`, `pam`...) or as a dotted Python name.
fn class_name(value: &str, shortcuts: &[(&str, &str)], what: &str) -> Result<String, String> {
    let v = value.trim();
    if let Some((_, full)) = shortcuts.iter().find(|(s, _)| s.eq_ignore_ascii_case(v)) {
        return Ok(full.to_string());
    }
    let dotted = v.contains('.') && v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if dotted {
        Ok(v.to_string())
    } else {
        let names: Vec<&str> = shortcuts.iter().map(|(s, _)| *s).collect();
        Err(format!("`{what}` must be one of {} or a dotted Python class name, got: {value}", names.join(", ")))
    }
}

impl Settings {
    pub fn from_args(args: &Args) -> Result<Settings, String> {
        let present = text(args, "state").as_deref().unwrap_or("present") != "absent";
        let venv = text(args, "venv").unwrap_or_else(|| "/opt/jupyterhub/venv".into()).trim_end_matches('/').to_string();
        // The venv path goes into the unit file (ExecStart, Environment) unquoted.
        if !venv.starts_with('/') || venv.len() < 2 || !venv.chars().all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c)) {
            return Err(format!("`venv` must be an absolute path of letters, digits and `/._+-`, got: {venv}"));
        }
        let version = text(args, "version").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(v) = &version {
            if !v.chars().all(|c| c.is_ascii_alphanumeric() || ".*+!<>=~, -".contains(c)) {
                return Err(format!("`version` is not a version or version specifier: {v}"));
            }
        }
        let pip_packages = list(args, "pip_packages");
        if let Some(p) = pip_packages.iter().find(|p| p.starts_with('-') || pip_name(p).is_empty()) {
            return Err(format!("`pip_packages` takes requirement specifiers (`name`, `name==1.0`), not options or paths: {p}"));
        }
        let proxy = match text(args, "proxy").as_deref().unwrap_or("distro") {
            "distro" => Proxy::Distro,
            "npm" => Proxy::Npm,
            "none" => Proxy::None,
            other => return Err(format!("value of `proxy` must be one of: distro, npm, none, got: {other}")),
        };
        let installer = match text(args, "installer").as_deref().unwrap_or("uv") {
            "uv" => Installer::Uv,
            "pip" => Installer::Pip,
            other => return Err(format!("value of `installer` must be one of: uv, pip, got: {other}")),
        };
        let port = int(args, "port", 8000)?;
        let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| format!("`port` must be between 1 and 65535, got: {port}"))?;
        let bind_address = text(args, "bind_address").unwrap_or_default().trim().to_string();
        let spawner = class_name(
            &text(args, "spawner").unwrap_or_else(|| "local".into()),
            &[("local", LOCAL_SPAWNER), ("localprocess", LOCAL_SPAWNER), ("systemd", SYSTEMD_SPAWNER)],
            "spawner",
        )?;
        let authenticator = class_name(
            &text(args, "authenticator").unwrap_or_else(|| "pam".into()),
            &[("pam", "jupyterhub.auth.PAMAuthenticator"), ("dummy", "jupyterhub.auth.DummyAuthenticator")],
            "authenticator",
        )?;
        let ssl = match (text(args, "ssl_cert").filter(|s| !s.is_empty()), text(args, "ssl_key").filter(|s| !s.is_empty())) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("`ssl_cert` and `ssl_key` go together: give both or neither".into()),
        };
        let idle_culler = match args.get("idle_culler") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let unknown: Vec<&String> = m.keys().filter(|k| !["enabled", "timeout"].contains(&k.as_str())).collect();
                if !unknown.is_empty() {
                    return Err(format!("`idle_culler` takes `enabled` and `timeout`, got: {}", unknown.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")));
                }
                let enabled = flag(m, "enabled", true);
                let timeout = int(m, "timeout", 3600).map_err(|e| format!("idle_culler: {e}"))?;
                if timeout <= 0 {
                    return Err(format!("`idle_culler.timeout` must be a positive number of seconds, got: {timeout}"));
                }
                enabled.then_some(timeout)
            }
            Some(v) => match to_bool(v) {
                Some(true) => Some(3600),
                Some(false) => None,
                None => return Err("`idle_culler` must be a dict `{enabled, timeout}`".into()),
            },
        };
        let timeout = int(args, "timeout", 120)?;
        if timeout < 0 {
            return Err(format!("`timeout` must not be negative, got: {timeout}"));
        }
        Ok(Settings {
            present,
            venv,
            version,
            pip_packages,
            proxy,
            installer,
            install_prerequisites: flag(args, "install_prerequisites", true),
            port,
            bind_address,
            admin_users: list(args, "admin_users"),
            allowed_users: list(args, "allowed_users"),
            allow_all: args.get("allow_all").and_then(to_bool),
            spawner,
            authenticator,
            ssl,
            idle_culler,
            default_url: text(args, "default_url").unwrap_or_else(|| "/lab".into()),
            extra_config: text(args, "extra_config").unwrap_or_default(),
            timeout,
            purge: flag(args, "purge", false),
        })
    }

    /// Debian packages the module installs: the prerequisites (`python3-venv`, and
    /// `nodejs` + `npm` for the npm proxy) when `install_prerequisites`, and with
    /// `proxy: distro` the proxy itself.
    pub fn debs(&self) -> Vec<&'static str> {
        let mut d = vec![];
        if self.install_prerequisites {
            d.push("python3-venv");
            if self.proxy == Proxy::Npm {
                d.extend(["nodejs", "npm"]);
            }
        }
        if self.proxy == Proxy::Distro {
            d.push("node-configurable-http-proxy");
        }
        d
    }

    /// The requirement specifiers pip must satisfy, each with the normalized name and
    /// the exact version it pins (if any).
    pub fn requirements(&self) -> Vec<Requirement> {
        let hub = match &self.version {
            None => "jupyterhub".to_string(),
            Some(v) if v.starts_with(['<', '>', '=', '!', '~']) => format!("jupyterhub{v}"),
            Some(v) => format!("jupyterhub=={v}"),
        };
        let mut specs = vec![hub, "jupyterlab".to_string()];
        if self.idle_culler.is_some() {
            specs.push("jupyterhub-idle-culler".into());
        }
        if self.spawner == SYSTEMD_SPAWNER {
            specs.push("jupyterhub-systemdspawner".into());
        }
        specs.extend(self.pip_packages.iter().cloned());
        let mut out: Vec<Requirement> = Vec::new();
        for s in specs {
            let r = Requirement::parse(&s);
            // A package named twice (`jupyterlab` and `jupyterlab==4.2.0`): the later,
            // more specific one wins.
            out.retain(|o| o.name != r.name);
            out.push(r);
        }
        out
    }

    /// Where the hub is checked from the host, and what `url` reports.
    pub fn url(&self) -> String {
        let scheme = if self.ssl.is_some() { "https" } else { "http" };
        let host = match self.bind_address.as_str() {
            "" | "0.0.0.0" | "*" | "::" | "[::]" => "127.0.0.1".to_string(),
            a if a.contains(':') && !a.starts_with('[') => format!("[{a}]"),
            a => a.to_string(),
        };
        format!("{scheme}://{host}:{}/", self.port)
    }
}

/// One pip requirement: what to pass to pip, and how to tell it is satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub spec: String,
    /// PEP 503 normalized name (`Jupyter_Server` → `jupyter-server`).
    pub name: String,
    /// The version an `==` pin asks for; `None`: any installed version will do.
    pub pin: Option<String>,
}

/// The project name at the start of a requirement specifier.
pub fn pip_name(spec: &str) -> String {
    let raw: String = spec.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect();
    normalize(&raw)
}

/// PEP 503 name normalization (the `pip` module's).
pub use crate::pip::canonical_name as normalize;

impl Requirement {
    pub fn parse(spec: &str) -> Requirement {
        let spec = spec.trim().to_string();
        let name = pip_name(&spec);
        let rest = spec.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "._-".contains(c)).trim();
        // Extras (`name[extra]==1`) are skipped to find the version part.
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, after)| after).trim(),
            None => rest,
        };
        let pin = rest
            .strip_prefix("==")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && !v.contains([',', '*', ';', ' ']));
        Requirement { spec, name, pin }
    }

    /// Whether the installed version (if any) satisfies this requirement.
    pub fn satisfied_by(&self, installed: Option<&str>) -> bool {
        match (installed, &self.pin) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
        }
    }
}

/// A Python string literal (JSON's escapes are all valid Python escapes).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

fn py_set(items: &[String]) -> String {
    let mut v: Vec<&String> = items.iter().collect();
    v.sort();
    v.dedup();
    if v.is_empty() {
        "set()".into()
    } else {
        format!("{{{}}}", v.iter().map(|s| py_str(s)).collect::<Vec<_>>().join(", "))
    }
}

/// The generated `jupyterhub_config.py`.
pub fn config_text(s: &Settings) -> String {
    let mut c = String::from("# Managed by provision (module `jupyterhub`): local changes are overwritten.\n");
    c.push_str("c = get_config()  # noqa: F821\n\n");
    let mut line = |k: &str, v: String| c.push_str(&format!("c.{k} = {v}\n"));
    line("JupyterHub.ip", py_str(&s.bind_address));
    line("JupyterHub.port", s.port.to_string());
    line("JupyterHub.authenticator_class", py_str(&s.authenticator));
    line("JupyterHub.spawner_class", py_str(&s.spawner));
    // State lives beside the config (WorkingDirectory of the unit), whatever the cwd.
    line("JupyterHub.cookie_secret_file", py_str(&format!("{CONFIG_DIR}/jupyterhub_cookie_secret")));
    line("JupyterHub.db_url", py_str(&format!("sqlite:///{CONFIG_DIR}/jupyterhub.sqlite")));
    if let Some((cert, key)) = &s.ssl {
        line("JupyterHub.ssl_cert", py_str(cert));
        line("JupyterHub.ssl_key", py_str(key));
    }
    line("Authenticator.admin_users", py_set(&s.admin_users));
    if !s.allowed_users.is_empty() {
        line("Authenticator.allowed_users", py_set(&s.allowed_users));
    }
    if let Some(all) = s.allow_all {
        line("Authenticator.allow_all", if all { "True" } else { "False" }.into());
    }
    line("Spawner.default_url", py_str(&s.default_url));
    if let Some(timeout) = s.idle_culler {
        c.push_str("\n# Idle culler (jupyterhub-idle-culler) as a hub-managed service.\n");
        c.push_str(&format!(
            "c.JupyterHub.load_roles = [\n    {{\n        \"name\": \"jupyterhub-idle-culler-role\",\n        \"scopes\": [\"list:users\", \"read:users:activity\", \"read:servers\", \"delete:servers\"],\n        \"services\": [\"jupyterhub-idle-culler-service\"],\n    }}\n]\n\
c.JupyterHub.services = [\n    {{\n        \"name\": \"jupyterhub-idle-culler-service\",\n        \"command\": [{}, \"-m\", \"jupyterhub_idle_culler\", \"--timeout={timeout}\"],\n    }}\n]\n",
            py_str(&format!("{}/bin/python", s.venv))
        ));
    }
    if !s.extra_config.trim().is_empty() {
        c.push_str("\n# extra_config\n");
        c.push_str(&s.extra_config);
        if !c.ends_with('\n') {
            c.push('\n');
        }
    }
    c
}

/// `PATH` for the hub: the venv first (jupyterhub-singleuser, the culler), then npm's
/// global bin (/usr/local/bin) for configurable-http-proxy.
pub fn path_env(s: &Settings) -> String {
    format!("{}/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", s.venv)
}

/// The systemd unit.
pub fn unit_text(s: &Settings) -> String {
    format!(
        "# Managed by provision (module `jupyterhub`): local changes are overwritten.\n\
[Unit]\nDescription=JupyterHub\nAfter=network-online.target\nWants=network-online.target\n\n\
[Service]\n# Root: PAM authentication and spawning servers as other users need it.\nUser=root\n\
WorkingDirectory={CONFIG_DIR}\nEnvironment=PATH={path}\n\
ExecStart={venv}/bin/jupyterhub -f {CONFIG_PATH}\nRestart=on-failure\nRestartSec=5\n\n\
[Install]\nWantedBy=multi-user.target\n",
        path = path_env(s),
        venv = s.venv
    )
}

/// The one read: venv and its packages, the proxy, prerequisites, the two files'
/// checksums (and the config's content for `--diff`), and the unit's state.
pub fn read_script(s: &Settings, with_content: bool) -> String {
    let mut debs = s.debs();
    if !s.present {
        debs.clear();
    }
    let mut sc = format!(
        "v={v}; cfg={CONFIG_PATH}; unit={UNIT_PATH}; export PATH={path}; \
if [ -d \"$v\" ]; then echo {TAG} vdir; fi; if [ -d {CONFIG_DIR} ]; then echo {TAG} etcdir; fi; \
if [ -x \"$v/bin/python\" ] && [ -x \"$v/bin/pip\" ]; then echo {TAG} venv; \"$v/bin/python\" -c {py} 2>/dev/null; fi; \
p=$(command -v configurable-http-proxy) && echo \"{TAG} proxy $p\"; ",
        v = quote(&s.venv),
        path = quote(&path_env(s)),
        py = quote(&format!("import importlib.metadata as m\nfor d in m.distributions(): print(\"{TAG} pkg\", d.metadata[\"Name\"], d.version)"))
    );
    if !debs.is_empty() {
        sc.push_str(&format!("dpkg-query -W -f='{TAG} deb ${{Package}} ${{db:Status-Abbrev}}\\n' {} 2>/dev/null; ", debs.join(" ")));
    }
    sc.push_str(&format!(
        "if [ -f \"$cfg\" ]; then echo \"{TAG} cfgsum $(sha1sum < \"$cfg\" | cut -d' ' -f1)\"; fi; \
if [ -f \"$unit\" ]; then echo \"{TAG} unitsum $(sha1sum < \"$unit\" | cut -d' ' -f1)\"; fi; \
echo \"{TAG} enabled $(systemctl is-enabled {UNIT_NAME} 2>/dev/null)\"; echo \"{TAG} active $(systemctl is-active {UNIT_NAME} 2>/dev/null)\""
    ));
    if with_content {
        sc.push_str(&format!("; if [ -f \"$cfg\" ]; then echo {TAG} content; cat \"$cfg\"; fi"));
    }
    sc
}

/// What the read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub venv_dir: bool,
    pub etc_dir: bool,
    pub venv: bool,
    /// Installed distributions: normalized name → version.
    pub packages: Vec<(String, String)>,
    pub proxy: Option<String>,
    /// Debian packages that are installed (`ii`).
    pub debs: Vec<String>,
    pub config_sum: Option<String>,
    pub unit_sum: Option<String>,
    pub enabled: String,
    pub active: String,
    pub content: Option<String>,
}

impl Found {
    pub fn parse(out: &[u8]) -> Result<Found, String> {
        let mark = format!("{TAG} content\n");
        let (head, content) = match out.windows(mark.len()).position(|w| w == mark.as_bytes()) {
            Some(i) => (&out[..i], Some(String::from_utf8_lossy(&out[i + mark.len()..]).into_owned())),
            None => (out, None),
        };
        let head = String::from_utf8_lossy(head);
        let mut f = Found { content, ..Found::default() };
        let mut seen_state = false;
        for line in head.lines() {
            let Some(rest) = line.strip_prefix(TAG).map(str::trim) else { continue };
            let (key, value) = rest.split_once(' ').map_or((rest, ""), |(k, v)| (k, v.trim()));
            match key {
                "vdir" => f.venv_dir = true,
                "etcdir" => f.etc_dir = true,
                "venv" => f.venv = true,
                "pkg" => {
                    if let Some((name, version)) = value.rsplit_once(' ') {
                        f.packages.push((normalize(name), version.to_string()));
                    }
                }
                "proxy" => f.proxy = Some(value.to_string()).filter(|p| !p.is_empty()),
                "deb" => {
                    if let Some((name, status)) = value.split_once(' ') {
                        if status.starts_with("ii") {
                            f.debs.push(name.to_string());
                        }
                    }
                }
                "cfgsum" => f.config_sum = Some(value.to_string()),
                "unitsum" => f.unit_sum = Some(value.to_string()),
                "enabled" => f.enabled = value.to_string(),
                "active" => {
                    f.active = value.to_string();
                    seen_state = true;
                }
                _ => {}
            }
        }
        if !seen_state {
            return Err(format!("unexpected answer from the host: {}", head.trim()));
        }
        Ok(f)
    }

    pub fn version_of(&self, name: &str) -> Option<&str> {
        self.packages.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The install script. Two stages run side by side, since Debian's proxy (nodejs and
/// some 60 packages) takes as long as the Python side: `python3-venv` first, then in
/// the background the other Debian packages and the npm proxy, while the foreground
/// creates the venv and installs the Python packages (with uv: parallel downloads,
/// about twice as fast as pip). Prints the installed JupyterHub version.
pub fn install_script(s: &Settings, debs: &[&str], pip: &[String], venv: bool, npm_proxy: bool) -> String {
    let mut sc = format!("set -e; export LC_ALL=C DEBIAN_FRONTEND=noninteractive; v={}; d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT; ", quote(&s.venv));
    if !debs.is_empty() {
        sc.push_str(
            "ai() { l=\"$d/$1.log\"; shift; apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \"$@\" >>\"$l\" 2>&1 || \
{ apt-get update -q >>\"$l\" 2>&1 && apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \"$@\" >>\"$l\" 2>&1; } || \
{ echo \"apt-get install $* failed:\" >&2; tail -n 20 \"$l\" >&2; return 1; }; }; ",
        );
    }
    // A host whose package lists were never fetched knows no candidates: `ai` updates then.
    let (first, later): (Vec<&str>, Vec<&str>) = debs.iter().partition(|d| **d == "python3-venv");
    if !first.is_empty() {
        sc.push_str("ai venv python3-venv; ");
    }
    let mut background: Vec<String> = Vec::new();
    if !later.is_empty() {
        background.push(format!("ai proxy {}", later.join(" ")));
    }
    if npm_proxy {
        background.push(
            "{ npm install -g --no-fund --no-audit --loglevel=error configurable-http-proxy >\"$d/npm.log\" 2>&1 || \
{ echo 'npm install -g configurable-http-proxy failed:' >&2; tail -n 20 \"$d/npm.log\" >&2; exit 1; }; }"
                .into(),
        );
    }
    if !background.is_empty() {
        sc.push_str(&format!("( {} ) & bg=$!; ", background.join(" && ")));
    }
    if venv {
        sc.push_str("mkdir -p \"$(dirname \"$v\")\"; python3 -m venv \"$v\"; ");
    }
    if !pip.is_empty() {
        let specs = pip.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ");
        let pip_cmd = "\"$v/bin/pip\" install -q --disable-pip-version-check --progress-bar off";
        match s.installer {
            Installer::Pip => sc.push_str(&format!("{pip_cmd} {specs}; ")),
            // UV_NATIVE_TLS: trust the system's CA store as pip does (uv's own roots
            // know no site CA). Bytecode compiled now rather than at the hub's start.
            Installer::Uv => sc.push_str(&format!(
                "[ -x \"$v/bin/uv\" ] || {pip_cmd} uv; UV_NATIVE_TLS=1 \"$v/bin/uv\" pip install -q --compile-bytecode --python \"$v/bin/python\" {specs}; "
            )),
        }
    }
    if !background.is_empty() {
        sc.push_str("wait $bg; ");
    }
    sc.push_str(&format!("echo \"{TAG} version $(\"$v/bin/python\" -c 'import importlib.metadata as m; print(m.version(\"jupyterhub\"))')\""));
    sc
}

/// Checks that the temporary config `"$t"` compiles, before it replaces the old one
/// (compile() rather than py_compile: no `__pycache__` left in /etc/jupyterhub).
pub fn validate_hook(s: &Settings) -> String {
    format!(
        "{}/bin/python -c 'import sys; compile(open(sys.argv[1]).read(), {}, \"exec\")' \"$t\" && ",
        quote(&s.venv),
        py_str(CONFIG_PATH).replace('\'', "")
    )
}

/// Python run on the host after a start: polls `/hub/login` until it answers 200, the
/// service dies, or the time is up.
const WAIT_PY: &str = r#"import ssl, subprocess, sys, time, urllib.request
url, timeout, tag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
ctx = ssl._create_unverified_context()
def show(p):
    return subprocess.run(["systemctl", "show", "-p", p, "--value", "jupyterhub.service"], capture_output=True, text=True).stdout.strip()
n0 = show("NRestarts")
deadline = time.time() + timeout
last = "no answer"
while True:
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
            if r.status == 200:
                print(tag, "up")
                sys.exit(0)
            last = "HTTP %s" % r.status
    except Exception as e:
        last = str(e)
    state = show("ActiveState")
    if state == "failed" or show("NRestarts") != n0:
        last = "the service stopped (%s); last answer: %s" % (state, last)
        break
    if time.time() >= deadline:
        break
    time.sleep(0.5)
print(tag, "down", last)
sys.exit(1)
"#;

/// Reload, enable, (re)start, then wait for the login page.
pub fn service_script(s: &Settings, reload: bool, enable: bool, start: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if reload {
        parts.push("systemctl daemon-reload".into());
    }
    if enable {
        parts.push(format!("systemctl enable -q {UNIT_NAME}"));
    }
    if let Some(verb) = start {
        parts.push(format!("systemctl {verb} {UNIT_NAME}"));
    }
    let mut sc = parts.join(" && ");
    // `timeout: 0`: start and do not wait.
    if start.is_some() && s.timeout > 0 {
        sc.push_str(&format!(
            " || exit 1; {v}/bin/python -c {py} {url} {t} {TAG} || \
journalctl -u {UNIT_NAME} -n 30 --no-pager -q -o cat 2>/dev/null | sed 's/^/{TAG} log /'",
            v = quote(&s.venv),
            py = quote(WAIT_PY),
            url = quote(&format!("{}hub/login", s.url())),
            t = s.timeout
        ));
    }
    sc
}

/// Stop, disable and remove (the venv and /etc/jupyterhub too with `purge`).
pub fn remove_script(s: &Settings) -> String {
    let mut sc = format!(
        "systemctl stop {UNIT_NAME} 2>/dev/null; systemctl disable -q {UNIT_NAME} 2>/dev/null; \
rm -f {UNIT_PATH} {CONFIG_PATH} && systemctl daemon-reload"
    );
    if s.purge {
        sc.push_str(&format!(" && rm -rf {} {CONFIG_DIR}", quote(&s.venv)));
    }
    sc
}
