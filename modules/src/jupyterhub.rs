//! `jupyterhub`: JupyterHub in a Python venv, run by systemd.
//!
//! One round trip reads everything that decides the task: whether the venv exists and
//! which distributions it holds (`importlib.metadata`), where `configurable-http-proxy`
//! is, which prerequisite Debian packages are installed, the SHA-1 of the config file
//! and of the unit file, and `systemctl is-enabled` / `is-active`. When all of it
//! matches, that is the whole task. Otherwise, in order and only what is needed: an
//! install script (apt, venv, pip, npm), the config written atomically after it
//! compiles, the unit written, then one script that reloads systemd, enables,
//! (re)starts and polls `/hub/login` on the host until it answers 200.

mod render;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{ArgSpec, ArgType};
use crate::util::{self, sha1_hex, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use render::{Found, Proxy, Settings, CONFIG_DIR, CONFIG_PATH, TAG, UNIT_NAME, UNIT_PATH};

pub struct JupyterHub;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("state", ArgType::Str, "`present`: installed, configured, enabled and running. `absent`: stopped, disabled, unit and config removed (the venv stays unless `purge`).")
        .default("present")
        .choices(&["present", "absent"]),
    ArgSpec::new("venv", ArgType::Path, "The Python virtual environment JupyterHub is installed in (absolute; letters, digits and `/._+-`).").default("/opt/jupyterhub/venv"),
    ArgSpec::new("version", ArgType::Str, "The JupyterHub version to install (`5.2.1`, or a specifier like `>=5,<6`); default: the newest on first install, then whatever is installed."),
    ArgSpec::new("pip_packages", ArgType::List, "More requirement specifiers to pip-install into the venv (`oauthenticator`, `dockerspawner==13.0.0`). An `==` pin is kept; a bare name is satisfied by any version."),
    ArgSpec::new("proxy", ArgType::Str, "Where configurable-http-proxy comes from: `distro` (Debian's `node-configurable-http-proxy`, fast), `npm` (`npm install -g configurable-http-proxy`), `none` (already there).")
        .default("distro")
        .choices(&["distro", "npm", "none"]),
    ArgSpec::new("installer", ArgType::Str, "What installs the Python packages: `uv` (pip-installs uv into the venv, then `uv pip install`: parallel downloads, about twice as fast) or `pip` (honours pip.conf, e.g. a private index).")
        .default("uv")
        .choices(&["uv", "pip"]),
    ArgSpec::new("install_prerequisites", ArgType::Bool, "Install `python3-venv` (and `nodejs`, `npm` for `proxy: npm`) with apt-get.").default("yes"),
    ArgSpec::new("port", ArgType::Int, "The port the hub (its proxy) listens on.").default("8000"),
    ArgSpec::new("bind_address", ArgType::Str, "The address the hub listens on; empty: all interfaces.").aliases(&["ip"]),
    ArgSpec::new("admin_users", ArgType::List, "Users with admin rights (`c.Authenticator.admin_users`)."),
    ArgSpec::new("allowed_users", ArgType::List, "Users allowed to log in (`c.Authenticator.allowed_users`); since JupyterHub 5 nobody but admins may log in without this or `allow_all`."),
    ArgSpec::new("allow_all", ArgType::Bool, "`c.Authenticator.allow_all`: let every user the authenticator accepts in; unset: JupyterHub's default."),
    ArgSpec::new("spawner", ArgType::Str, "`local` (LocalProcessSpawner), `systemd` (SystemdSpawner, installs jupyterhub-systemdspawner) or a dotted class name.").default("local"),
    ArgSpec::new("authenticator", ArgType::Str, "`pam` (PAMAuthenticator: system users and passwords), `dummy` (any password, for tests) or a dotted class name.").default("pam"),
    ArgSpec::new("ssl_cert", ArgType::Path, "TLS certificate on the host (with `ssl_key`): the hub then serves https."),
    ArgSpec::new("ssl_key", ArgType::Path, "TLS private key on the host (with `ssl_cert`)."),
    ArgSpec::new("idle_culler", ArgType::Raw, "`{enabled: yes, timeout: 3600}`: run jupyterhub-idle-culler (from PyPI) as a hub service that stops servers idle for `timeout` seconds."),
    ArgSpec::new("default_url", ArgType::Str, "The page users land on in their server (`c.Spawner.default_url`).").default("/lab"),
    ArgSpec::new("extra_config", ArgType::Str, "Python appended to the generated jupyterhub_config.py as it is."),
    ArgSpec::new("timeout", ArgType::Int, "Seconds to wait, after a start or restart, for `/hub/login` to answer 200 on the host; `0`: do not wait.").default("120"),
    ArgSpec::new("purge", ArgType::Bool, "With `state: absent`, also remove the venv and /etc/jupyterhub (database, cookie secret).").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "jupyterhub",
    short: "Install, configure and run JupyterHub with systemd",
    description: "Installs JupyterHub and JupyterLab from PyPI into a venv (Debian's `python3-venv`; with uv by default, \
or pip), configurable-http-proxy from Debian (`node-configurable-http-proxy`, installed meanwhile) or npm, writes /etc/jupyterhub/jupyterhub_config.py \
(mode 0640, atomically, only once it compiles) from the arguments, installs /etc/systemd/system/jupyterhub.service \
(runs as root: PAM and LocalProcessSpawner need it), enables and starts it, restarts it when the config, the unit or \
the packages changed, and waits until `/hub/login` answers 200 on the host. When nothing needs doing the task is one \
round trip. Check mode predicts; `--diff` shows the config file before and after. Packages already installed are not \
upgraded unless `version` or an `==` pin asks for another version.",
    args: ARGS,
    free_form: false,
    examples: "- name: JupyterHub for the team, PAM logins, idle servers culled after 1 h\n  jupyterhub:\n    admin_users: [alice]\n    allowed_users: [alice, bob]\n    idle_culler:\n      enabled: yes\n      timeout: 3600\n\n\
- name: A pinned version on port 443 with TLS\n  jupyterhub:\n    version: 5.2.1\n    port: 443\n    ssl_cert: /etc/ssl/hub.crt\n    ssl_key: /etc/ssl/private/hub.key\n    extra_config: |\n      c.Spawner.mem_limit = '4G'\n\n\
- name: Remove the service, keep the venv\n  jupyterhub:\n    state: absent\n",
    returns: &[
        ("changed", "whether anything was (or in check mode would be) installed, written, enabled or (re)started"),
        ("version", "the installed JupyterHub version (in check mode before an install: the pinned one, or null)"),
        ("url", "where the hub answers, as seen from the host (`http://127.0.0.1:8000/`)"),
        ("config_path", "/etc/jupyterhub/jupyterhub_config.py"),
        ("unit", "jupyterhub.service"),
        ("msg", "what was done"),
        ("diff", "with `--diff` and a config change: `before`, `after`, `before_header`, `after_header` of the config file"),
    ],
};

fn failed_output(what: &str, out: &crate::ExecOutput) -> ModuleResult {
    let tail = |b: &[u8]| {
        let t = String::from_utf8_lossy(b);
        let lines: Vec<&str> = t.lines().filter(|l| !l.starts_with(TAG)).collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    };
    let mut r = ModuleResult::failed(format!("{what} failed (rc={}): {}", out.rc, tail(&out.stderr).trim()));
    r.set("rc", out.rc).set("stdout", tail(&out.stdout)).set("stderr", tail(&out.stderr));
    r
}

fn base_result(s: &Settings, changed: bool) -> ModuleResult {
    let mut r = ModuleResult::ok(changed);
    r.set("url", s.url()).set("config_path", CONFIG_PATH).set("unit", UNIT_NAME);
    r
}

fn diff_of(before: Option<&str>, after: &str) -> Value {
    json!({"before": before.unwrap_or(""), "after": after, "before_header": CONFIG_PATH, "after_header": CONFIG_PATH})
}

async fn absent(s: &Settings, found: &Found, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let running = matches!(found.active.as_str(), "active" | "activating" | "reloading");
    let changed = found.unit_sum.is_some()
        || found.config_sum.is_some()
        || running
        || found.enabled == "enabled"
        || (s.purge && (found.venv_dir || found.etc_dir));
    let mut r = base_result(s, changed);
    r.set("version", Value::Null);
    if ctx.diff && found.config_sum.is_some() {
        r.set("diff", diff_of(found.content.as_deref(), ""));
    }
    if !changed {
        r.set("msg", "JupyterHub is not installed as a service");
        return Ok(r);
    }
    r.set("msg", if s.purge { "JupyterHub stopped and removed, with its venv and /etc/jupyterhub" } else { "JupyterHub stopped and removed (the venv is kept)" });
    if ctx.check_mode {
        return Ok(r);
    }
    let out = ctx.remote.exec(&render::remove_script(s), b"").await?;
    if out.rc != 0 {
        return Ok(failed_output("removing JupyterHub", &out));
    }
    Ok(r)
}

async fn present(s: &Settings, found: &Found, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let config = render::config_text(s);
    let unit = render::unit_text(s);
    let debs: Vec<&str> = s.debs().into_iter().filter(|d| !found.debs.iter().any(|f| f == d)).collect();
    let new_venv = !found.venv;
    let pip: Vec<String> = s
        .requirements()
        .into_iter()
        .filter(|r| new_venv || !r.satisfied_by(found.version_of(&r.name)))
        .map(|r| r.spec)
        .collect();
    let npm_proxy = s.proxy == Proxy::Npm && found.proxy.is_none();
    let config_changed = found.config_sum.as_deref() != Some(sha1_hex(config.as_bytes()).as_str());
    let unit_changed = found.unit_sum.as_deref() != Some(sha1_hex(unit.as_bytes()).as_str());
    let enable = found.enabled != "enabled";
    let active = found.active == "active";
    let start = if !active {
        Some("started")
    } else if config_changed || unit_changed || !pip.is_empty() {
        Some("restarted")
    } else {
        None
    };
    let install = !debs.is_empty() || new_venv || !pip.is_empty() || npm_proxy;
    let changed = install || config_changed || unit_changed || enable || start.is_some();

    let mut done: Vec<String> = Vec::new();
    if !debs.is_empty() {
        done.push(format!("apt installed {}", debs.join(" ")));
    }
    if new_venv {
        done.push(format!("created the venv {}", s.venv));
    }
    if !pip.is_empty() {
        done.push(format!("pip installed {}", pip.join(" ")));
    }
    if npm_proxy {
        done.push("npm installed configurable-http-proxy".into());
    }
    if config_changed {
        done.push(format!("wrote {CONFIG_PATH}"));
    }
    if unit_changed {
        done.push(format!("wrote {UNIT_PATH}"));
    }
    if enable {
        done.push("enabled".into());
    }
    if let Some(verb) = start {
        done.push(verb.into());
    }

    let mut r = base_result(s, changed);
    // The version: what is installed, unless pip is about to (re)install JupyterHub;
    // then what the install reports or, in check mode, the pinned version if any.
    let hub_installs = pip.iter().any(|p| render::pip_name(p) == "jupyterhub");
    let mut version = if hub_installs {
        s.requirements().into_iter().find(|q| q.name == "jupyterhub").and_then(|q| q.pin).filter(|_| ctx.check_mode)
    } else {
        found.version_of("jupyterhub").map(str::to_string)
    };
    if ctx.diff && config_changed {
        r.set("diff", diff_of(found.content.as_deref(), &config));
    }
    if !changed {
        r.set("version", version.clone());
        r.set("msg", format!("JupyterHub {} is installed, configured and running", version.unwrap_or_default()));
        return Ok(r);
    }
    if ctx.check_mode {
        r.set("version", version);
        r.set("msg", format!("would be: {}", done.join("; ")));
        return Ok(r);
    }

    if install {
        let out = ctx.remote.exec(&render::install_script(s, &debs, &pip, new_venv, npm_proxy), b"").await?;
        if out.rc != 0 {
            return Ok(failed_output("installing JupyterHub", &out));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        version = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} version "))).map(|v| v.trim().to_string()).or(version);
    }
    if config_changed {
        let attrs = Attrs { mode: Some("0640".into()), owner: Some("root".into()), group: Some("root".into()) };
        let script = format!(
            "mkdir -p {CONFIG_DIR} && {}",
            util::write_script_with(CONFIG_PATH, &attrs, false, util::Source::Stdin(config.len()), &render::validate_hook(s))
        );
        let out = ctx.remote.exec(&script, &util::write_stdin(config.as_bytes())).await?;
        if out.rc != 0 {
            let mut f = failed_output(&format!("writing {CONFIG_PATH} (it must compile: check `extra_config`)"), &out);
            f.set("version", version);
            return Ok(f);
        }
    }
    if unit_changed {
        let attrs = Attrs { mode: Some("0644".into()), owner: Some("root".into()), group: Some("root".into()) };
        let out = ctx.remote.exec(&util::write_script(UNIT_PATH, &attrs, false, unit.len()), &util::write_stdin(unit.as_bytes())).await?;
        if out.rc != 0 {
            return Ok(failed_output(&format!("writing {UNIT_PATH}"), &out));
        }
    }
    if unit_changed || enable || start.is_some() {
        // `restart` also starts a stopped unit, and leaves one stuck in auto-restart
        // freshly started.
        let out = ctx.remote.exec(&render::service_script(s, unit_changed, enable, start.map(|_| "restart")), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if start.is_some() && s.timeout > 0 && !stdout.lines().any(|l| l.trim() == format!("{TAG} up")) {
            let why = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} down "))).unwrap_or("").to_string();
            let log: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix(&format!("{TAG} log "))).collect();
            let mut f = if why.is_empty() {
                failed_output("starting jupyterhub.service", &out)
            } else {
                ModuleResult::failed(format!("JupyterHub did not answer 200 at {}hub/login within {} s: {why}", s.url(), s.timeout))
            };
            f.set("changed", true).set("version", version).set("journal", log.join("\n"));
            return Ok(f);
        }
        if out.rc != 0 {
            return Ok(failed_output("enabling jupyterhub.service", &out));
        }
    }
    r.set("version", version);
    r.set("msg", done.join("; "));
    Ok(r)
}

#[async_trait]
impl Module for JupyterHub {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let s = match Settings::from_args(args) {
            Ok(s) => s,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let out = ctx.remote.exec(&render::read_script(&s, ctx.diff), b"").await?;
        let found = match Found::parse(&out.stdout) {
            Ok(f) => f,
            Err(e) => return Ok(ModuleResult::failed(format!("cannot read the JupyterHub state: {e} {}", String::from_utf8_lossy(&out.stderr).trim()))),
        };
        if s.present {
            present(&s, &found, ctx).await
        } else {
            absent(&s, &found, ctx).await
        }
    }
}

#[cfg(test)]
mod tests;
