//! `systemd` (alias `systemd_service`), `service` and `service_facts`.
//!
//! One probe script runs `daemon-reexec`/`daemon-reload` when asked (never in check
//! mode) and prints `systemctl show NAME` and `systemctl is-enabled NAME`; the module
//! compares that with the arguments and, only when something must change, sends one
//! more script with the `systemctl mask|enable|start...` commands, in Ansible's order:
//! mask, then enable, then state. `service` runs the same probe when the host runs
//! systemd, and otherwise falls back to `service NAME status` / `/etc/init.d/NAME` and
//! `update-rc.d` (or `chkconfig`).

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Systemd;
pub struct SystemdService;
pub struct Service;
pub struct ServiceFacts;

const SYSTEMD_ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The unit, e.g. `nginx` or `nginx.service`.").aliases(&["service", "unit"]),
    ArgSpec::new("state", ArgType::Str, "`started`/`stopped` are idempotent; `restarted`/`reloaded` always act.")
        .choices(&["reloaded", "restarted", "started", "stopped"]),
    ArgSpec::new("enabled", ArgType::Bool, "Whether the unit starts at boot."),
    ArgSpec::new("force", ArgType::Bool, "Pass `--force` to enable/mask (overrides existing symlinks)."),
    ArgSpec::new("masked", ArgType::Bool, "Whether the unit is masked (cannot be started)."),
    ArgSpec::new("daemon_reload", ArgType::Bool, "Run `systemctl daemon-reload` first.").default("no").aliases(&["daemon-reload"]),
    ArgSpec::new("daemon_reexec", ArgType::Bool, "Run `systemctl daemon-reexec` first.").default("no").aliases(&["daemon-reexec"]),
    ArgSpec::new("scope", ArgType::Str, "The systemd manager to talk to.").default("system").choices(&["system", "user", "global"]),
    ArgSpec::new("no_block", ArgType::Bool, "Do not wait for start/stop jobs to finish (`--no-block`).").default("no"),
];

const SYSTEMD_RETURNS: &[(&str, &str)] = &[
    ("name", "the unit"),
    ("state", "the state asked for (`started` after restarted/reloaded)"),
    ("enabled", "whether the unit is enabled, after the task"),
    ("status", "`systemctl show` properties before the task (ActiveState, SubState, UnitFileState, LoadState, ...)"),
];

const SYSTEMD_EXAMPLES: &str = "- name: Start and enable nginx\n  ansible.builtin.systemd:\n    name: nginx\n    state: started\n    enabled: yes\n\n- name: Pick up a changed unit file and restart\n  ansible.builtin.systemd_service:\n    name: app\n    state: restarted\n    daemon_reload: yes\n";

const SYSTEMD_DESCRIPTION: &str = "Controls systemd units: start, stop, restart, reload, enable, mask. A task \
that changes nothing costs one round trip. `daemon_reload` and `daemon_reexec` alone do not report a change, \
as in Ansible. Check mode predicts from `systemctl show` and runs nothing.";

static SYSTEMD_DOC: ModuleDoc = ModuleDoc {
    name: "systemd",
    short: "Manage systemd units",
    description: SYSTEMD_DESCRIPTION,
    args: SYSTEMD_ARGS,
    free_form: false,
    examples: SYSTEMD_EXAMPLES,
    returns: SYSTEMD_RETURNS,
};

static SYSTEMD_SERVICE_DOC: ModuleDoc = ModuleDoc {
    name: "systemd_service",
    short: "Manage systemd units (the same module as `systemd`)",
    description: SYSTEMD_DESCRIPTION,
    args: SYSTEMD_ARGS,
    free_form: false,
    examples: SYSTEMD_EXAMPLES,
    returns: SYSTEMD_RETURNS,
};

const SERVICE_ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The service.").required(),
    ArgSpec::new("state", ArgType::Str, "`started`/`stopped` are idempotent; `restarted`/`reloaded` always act.")
        .choices(&["reloaded", "restarted", "started", "stopped"]),
    ArgSpec::new("enabled", ArgType::Bool, "Whether the service starts at boot."),
    ArgSpec::new("sleep", ArgType::Int, "Seconds to sleep between stop and start when restarting a SysV service."),
    ArgSpec::new("pattern", ArgType::Str, "SysV: a `pgrep -f` pattern telling whether the service runs, when `status` cannot."),
    ArgSpec::new("arguments", ArgType::Str, "SysV: extra words for the init script.").default("").aliases(&["args"]),
    ArgSpec::new("runlevel", ArgType::Str, "Accepted for compatibility.").default("default"),
    ArgSpec::new("use", ArgType::Str, "The service manager: `auto`, `systemd` or `sysvinit`/`service`.").default("auto"),
];

static SERVICE_DOC: ModuleDoc = ModuleDoc {
    name: "service",
    short: "Manage services",
    description: "Starts, stops, restarts, reloads and enables services: with systemctl when the host runs \
systemd (one round trip when nothing changes), otherwise with `service`/`/etc/init.d` and `update-rc.d` or `chkconfig`.",
    args: SERVICE_ARGS,
    free_form: false,
    examples: "- name: Start cron\n  ansible.builtin.service:\n    name: cron\n    state: started\n    enabled: yes\n",
    returns: &[("name", "the service"), ("state", "the state asked for"), ("enabled", "whether it is enabled, after the task"), ("status", "systemd only: `systemctl show` properties")],
};

fn text(args: &Args, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    })
}

fn opt_flag(args: &Args, key: &str) -> Option<bool> {
    args.get(key).and_then(to_bool)
}

fn flag(args: &Args, key: &str) -> bool {
    opt_flag(args, key).unwrap_or(false)
}

/// `systemctl` with the scope's flag.
fn systemctl(args: &Args) -> String {
    match args.get("scope").and_then(Value::as_str) {
        Some("user") => "systemctl --user".into(),
        Some("global") => "systemctl --global".into(),
        _ => "systemctl".into(),
    }
}

/// The probe for systemd: reloads (outside check mode), then `show` and `is-enabled`.
pub fn systemd_probe(args: &Args, name: &str, check_mode: bool) -> String {
    let sc = systemctl(args);
    let unit = quote(name);
    let mut s = String::new();
    if !check_mode {
        if flag(args, "daemon_reexec") {
            s.push_str(&format!("{sc} daemon-reexec || {{ echo __reexec_failed; exit 0; }}\n"));
        }
        if flag(args, "daemon_reload") {
            s.push_str(&format!("{sc} daemon-reload || {{ echo __reload_failed; exit 0; }}\n"));
        }
    }
    s.push_str(&format!("{sc} show --no-pager -- {unit} 2>/dev/null\n"));
    s.push_str(&format!("e=$({sc} is-enabled -- {unit} 2>/dev/null); echo \"__is_enabled $? $e\"\n"));
    s.push_str(&format!("[ -x /etc/init.d/{unit} ] && echo __initd\nexit 0\n"));
    s
}

/// What the systemd probe printed.
#[derive(Debug, Default)]
pub struct UnitState {
    pub status: Map<String, Value>,
    pub is_enabled_rc: i32,
    pub is_enabled: String,
    pub initd: bool,
    pub error: Option<String>,
}

pub fn parse_systemd_probe(out: &str) -> UnitState {
    let mut u = UnitState { is_enabled_rc: 1, ..Default::default() };
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("__is_enabled ") {
            let (rc, word) = rest.split_once(' ').unwrap_or((rest, ""));
            u.is_enabled_rc = rc.trim().parse().unwrap_or(1);
            u.is_enabled = word.trim().to_string();
        } else if line == "__initd" {
            u.initd = true;
        } else if line == "__reload_failed" {
            u.error = Some("systemctl daemon-reload failed".into());
        } else if line == "__reexec_failed" {
            u.error = Some("systemctl daemon-reexec failed".into());
        } else if let Some((k, v)) = line.split_once('=') {
            u.status.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    u
}

fn status_of<'a>(u: &'a UnitState, key: &str) -> &'a str {
    u.status.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The systemd decision: result keys and the commands to run (in order).
pub fn systemd_plan(args: &Args, name: &str, u: &UnitState) -> Result<(ModuleResult, Vec<String>), String> {
    let sc = systemctl(args);
    let unit = quote(name);
    let mut r = ModuleResult::ok(false);
    r.set("name", name);
    r.set("status", Value::Object(u.status.clone()));
    let found = (!u.status.is_empty() && status_of(u, "LoadState") != "not-found") || u.initd;
    let mut cmds = vec![];
    let force = if flag(args, "force") { " --force" } else { "" };
    let no_block = if flag(args, "no_block") { " --no-block" } else { "" };
    if let Some(want) = opt_flag(args, "masked") {
        let masked = u.is_enabled == "masked" || status_of(u, "UnitFileState") == "masked";
        if masked != want {
            cmds.push(format!("{sc}{force} {} -- {unit}", if want { "mask" } else { "unmask" }));
        }
    }
    if let Some(want) = opt_flag(args, "enabled") {
        if !found {
            return Err(format!("Could not find the requested service {name}: host"));
        }
        let enabled = u.is_enabled_rc == 0 && !matches!(u.is_enabled.as_str(), "enabled-runtime" | "indirect" | "alias");
        if enabled != want {
            cmds.push(format!("{sc}{force} {} -- {unit}", if want { "enable" } else { "disable" }));
        }
        r.set("enabled", want);
    }
    if let Some(state) = text(args, "state") {
        if !found {
            return Err(format!("Could not find the requested service {name}: host"));
        }
        let active = status_of(u, "ActiveState");
        let running = matches!(active, "active" | "activating");
        let action = match state.as_str() {
            "started" => (!running).then_some("start"),
            "stopped" => (running || active == "deactivating").then_some("stop"),
            _ if !running => Some("start"),
            "restarted" => Some("restart"),
            _ => Some("reload"),
        };
        if let Some(a) = action {
            cmds.push(format!("{sc}{no_block} {a} -- {unit}"));
        }
        r.set("state", if state == "stopped" { "stopped" } else { "started" });
    }
    Ok((r, cmds))
}

/// Run the planned commands (unless in check mode); each failure names its command.
async fn apply(mut r: ModuleResult, cmds: Vec<String>, ctx: &Context<'_>, name: &str) -> Result<ModuleResult, RemoteError> {
    if cmds.is_empty() {
        return Ok(r);
    }
    r.set("changed", true);
    if ctx.check_mode {
        return Ok(r);
    }
    let script = cmds.iter().map(|c| format!("{c} || {{ rc=$?; echo {} >&2; exit $rc; }}", quote(&format!("__failed {c}")))).collect::<Vec<_>>().join("\n");
    let out = ctx.remote.exec(&script, b"").await?;
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let failed = err.lines().find_map(|l| l.strip_prefix("__failed ")).unwrap_or("").to_string();
        let detail: Vec<&str> = err.lines().filter(|l| !l.starts_with("__failed ")).collect();
        r.set("failed", true).set("rc", out.rc).set("changed", false);
        r.set("msg", format!("Unable to run `{failed}` for service {name}: {}", detail.join("\n").trim()));
    }
    Ok(r)
}

async fn run_systemd(args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let name = text(args, "name");
    let probe = systemd_probe(args, name.as_deref().unwrap_or(""), ctx.check_mode);
    let Some(name) = name else {
        // Only daemon_reload/daemon_reexec: Ansible reports no change.
        if !(flag(args, "daemon_reload") || flag(args, "daemon_reexec")) {
            return Ok(ModuleResult::failed("one of `name`, `daemon_reload` or `daemon_reexec` is required"));
        }
        if !ctx.check_mode {
            let sc = systemctl(args);
            let mut s = vec![];
            if flag(args, "daemon_reexec") {
                s.push(format!("{sc} daemon-reexec"));
            }
            if flag(args, "daemon_reload") {
                s.push(format!("{sc} daemon-reload"));
            }
            let out = ctx.remote.exec(&s.join(" && "), b"").await?;
            if out.rc != 0 {
                return Ok(ModuleResult::failed(format!("failure {} running {}: {}", out.rc, s.join(" && "), String::from_utf8_lossy(&out.stderr).trim())));
            }
        }
        return Ok(ModuleResult::ok(false));
    };
    let out = ctx.remote.exec(&probe, b"").await?;
    let u = parse_systemd_probe(&String::from_utf8_lossy(&out.stdout));
    if let Some(e) = u.error {
        return Ok(ModuleResult::failed(e));
    }
    match systemd_plan(args, &name, &u) {
        Ok((r, cmds)) => apply(r, cmds, ctx, &name).await,
        Err(msg) => Ok(ModuleResult::failed(msg)),
    }
}

#[async_trait]
impl Module for Systemd {
    fn doc(&self) -> &'static ModuleDoc {
        &SYSTEMD_DOC
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        run_systemd(args, ctx).await
    }
}

#[async_trait]
impl Module for SystemdService {
    fn doc(&self) -> &'static ModuleDoc {
        &SYSTEMD_SERVICE_DOC
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        run_systemd(args, ctx).await
    }
}

/// The probe for SysV init: whether the script exists, runs, and is enabled.
fn sysv_probe(args: &Args, name: &str) -> String {
    let n = quote(name);
    let mut s = format!("[ -x /etc/init.d/{n} ] && echo __initd\n");
    match text(args, "pattern") {
        Some(p) => s.push_str(&format!("pgrep -f -- {} >/dev/null 2>&1; echo \"__status $?\"\n", quote(&p))),
        None => s.push_str(&format!(
            "if command -v service >/dev/null 2>&1; then service {n} status >/dev/null 2>&1; else /etc/init.d/{n} status >/dev/null 2>&1; fi; echo \"__status $?\"\n"
        )),
    }
    s.push_str(&format!("ls /etc/rc[2345].d/S??{n} >/dev/null 2>&1 && echo __enabled\n"));
    s.push_str("command -v update-rc.d >/dev/null 2>&1 && echo __update_rc_d\ncommand -v chkconfig >/dev/null 2>&1 && echo __chkconfig\n");
    s
}

fn sysv_plan(args: &Args, name: &str, out: &str) -> Result<(ModuleResult, Vec<String>), String> {
    let has = |m: &str| out.lines().any(|l| l == m);
    let running = out.lines().find_map(|l| l.strip_prefix("__status ")).is_some_and(|rc| rc.trim() == "0");
    let n = quote(name);
    if !has("__initd") && (text(args, "state").is_some() || opt_flag(args, "enabled").is_some()) {
        return Err(format!("Could not find the requested service {name}: host"));
    }
    let mut r = ModuleResult::ok(false);
    r.set("name", name);
    let mut cmds = vec![];
    if let Some(want) = opt_flag(args, "enabled") {
        if has("__enabled") != want {
            cmds.push(if has("__update_rc_d") {
                if want { format!("update-rc.d {n} defaults && update-rc.d {n} enable") } else { format!("update-rc.d {n} disable") }
            } else if has("__chkconfig") {
                format!("chkconfig {n} {}", if want { "on" } else { "off" })
            } else {
                return Err(format!("cannot {} service {name}: neither update-rc.d nor chkconfig is on the host", if want { "enable" } else { "disable" }));
            });
        }
        r.set("enabled", want);
    }
    if let Some(state) = text(args, "state") {
        let extra = text(args, "arguments").map(|a| format!(" {a}")).unwrap_or_default();
        let script = format!("/etc/init.d/{n}");
        let action = match state.as_str() {
            "started" => (!running).then_some("start"),
            "stopped" => running.then_some("stop"),
            "restarted" => Some("restart"),
            _ => Some("reload"),
        };
        if let Some(a) = action {
            if a == "restart" && text(args, "sleep").is_some() {
                let sleep = args.get("sleep").and_then(Value::as_i64).unwrap_or(1);
                cmds.push(format!("{script} stop{extra}; sleep {sleep}; {script} start{extra}"));
            } else {
                cmds.push(format!("{script} {a}{extra}"));
            }
        }
        r.set("state", state);
    }
    Ok((r, cmds))
}

#[async_trait]
impl Module for Service {
    fn doc(&self) -> &'static ModuleDoc {
        &SERVICE_DOC
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let name = text(args, "name").unwrap_or_default();
        let manager = text(args, "use").unwrap_or_else(|| "auto".into());
        let systemd = systemd_probe(args, &name, ctx.check_mode);
        let sysv = sysv_probe(args, &name);
        let script = match manager.as_str() {
            "systemd" => format!("echo __systemd\n{systemd}"),
            "sysvinit" | "service" | "sysv" => format!("echo __sysv\n{sysv}"),
            "auto" => format!("if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\necho __systemd\n{systemd}\nelse\necho __sysv\n{sysv}\nfi\n"),
            other => return Ok(ModuleResult::failed(format!("service manager {other} is not supported yet"))),
        };
        let out = ctx.remote.exec(&script, b"").await?;
        let text_out = String::from_utf8_lossy(&out.stdout).into_owned();
        let planned = if text_out.starts_with("__systemd") {
            let u = parse_systemd_probe(&text_out);
            if let Some(e) = u.error {
                return Ok(ModuleResult::failed(e));
            }
            systemd_plan(args, &name, &u)
        } else {
            sysv_plan(args, &name, &text_out)
        };
        match planned {
            Ok((r, cmds)) => apply(r, cmds, ctx, &name).await,
            Err(msg) => Ok(ModuleResult::failed(msg)),
        }
    }
}

static SERVICE_FACTS_DOC: ModuleDoc = ModuleDoc {
    name: "service_facts",
    short: "Return the host's services as facts",
    description: "Lists systemd services (loaded units and unit files) in one round trip and returns \
`ansible_facts.services`: unit name → `{name, state, status, source}`.",
    args: &[],
    free_form: false,
    examples: "- name: Gather the service facts\n  ansible.builtin.service_facts:\n\n- ansible.builtin.debug:\n    var: ansible_facts.services['cron.service'].state\n",
    returns: &[("ansible_facts.services", "name → {name, state (running|stopped|inactive), status (enabled|disabled|static|...), source}")],
};

const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

pub fn parse_service_facts(out: &str) -> Map<String, Value> {
    let mut services = Map::new();
    let mut files = Map::new();
    let mut section = "";
    for line in out.lines() {
        match line {
            "__units" | "__files" => {
                section = if line == "__units" { "units" } else { "files" };
                continue;
            }
            _ => {}
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if section == "files" && f.len() >= 2 {
            files.insert(f[0].to_string(), Value::String(f[1].to_string()));
        } else if section == "units" && f.len() >= 4 {
            // As Ansible: a bad state in LOAD/ACTIVE/SUB wins, else ACTIVE.
            let state = if f[3] == "running" { "running" } else { "stopped" };
            let status = f[1..4].iter().find(|w| BAD_STATES.contains(w)).copied().unwrap_or(f[2]);
            services.insert(f[0].to_string(), json!({"name": f[0], "state": state, "status": status, "source": "systemd"}));
        }
    }
    for (name, status) in files {
        match services.get_mut(&name) {
            Some(Value::Object(s)) => {
                if !s.get("status").and_then(Value::as_str).is_some_and(|st| BAD_STATES.contains(&st)) {
                    s.insert("status".into(), status);
                }
            }
            _ => {
                services.insert(name.clone(), json!({"name": name, "state": "inactive", "status": status, "source": "systemd"}));
            }
        }
    }
    services
}

#[async_trait]
impl Module for ServiceFacts {
    fn doc(&self) -> &'static ModuleDoc {
        &SERVICE_FACTS_DOC
    }
    async fn run(&self, _args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let cmd = "command -v systemctl >/dev/null 2>&1 || { echo __nosystemd; exit 0; }\necho __units\nsystemctl list-units --type=service --all --no-legend --plain --no-pager 2>/dev/null\necho __files\nsystemctl list-unit-files --type=service --no-legend --no-pager 2>/dev/null\nexit 0";
        let out = ctx.remote.exec(cmd, b"").await?;
        let listing = String::from_utf8_lossy(&out.stdout);
        if listing.starts_with("__nosystemd") {
            return Ok(ModuleResult::failed("service_facts supports only systemd hosts so far"));
        }
        let mut r = ModuleResult::ok(false);
        r.set("ansible_facts", json!({ "services": parse_service_facts(&listing) }));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::tests::run;

    fn show(active: &str, file_state: &str, enabled: (i32, &str)) -> String {
        format!(
            "Id=app.service\nLoadState=loaded\nActiveState={active}\nSubState=running\nUnitFileState={file_state}\n__is_enabled {} {}\n",
            enabled.0, enabled.1
        )
    }

    #[test]
    fn started_and_enabled_is_one_round_trip() {
        let (r, sent) = run(&Systemd, json!({"name": "app", "state": "started", "enabled": true}), false, &[(0, &show("active", "enabled", (0, "enabled")))]);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("systemctl show --no-pager -- app"));
        assert!(!r.changed());
        assert_eq!(r.0["status"]["ActiveState"], "active");
        assert_eq!(r.0["state"], "started");
        assert_eq!(r.0["enabled"], true);
    }

    #[test]
    fn stopped_disabled_unit_is_enabled_then_started() {
        let (r, sent) = run(&SystemdService, json!({"unit": "app", "state": "started", "enabled": "yes", "daemon-reload": true}), false, &[(0, &show("inactive", "disabled", (1, "disabled"))), (0, "")]);
        assert!(sent[0].starts_with("systemctl daemon-reload"));
        assert_eq!(sent.len(), 2);
        let lines: Vec<&str> = sent[1].lines().collect();
        assert!(lines[0].starts_with("systemctl enable -- app ||"), "{}", sent[1]);
        assert!(lines[1].starts_with("systemctl start -- app ||"), "{}", sent[1]);
        assert!(r.changed());
    }

    #[test]
    fn check_mode_predicts_without_acting() {
        let (r, sent) = run(&Systemd, json!({"name": "app", "state": "stopped", "daemon_reload": true}), true, &[(0, &show("active", "enabled", (0, "enabled")))]);
        assert_eq!(sent.len(), 1);
        assert!(!sent[0].contains("daemon-reload"));
        assert!(r.changed());
    }

    #[test]
    fn restarted_always_changes_and_masked_is_idempotent() {
        let (r, sent) = run(&Systemd, json!({"name": "app", "state": "restarted", "no_block": true}), false, &[(0, &show("active", "enabled", (0, "enabled"))), (0, "")]);
        assert!(r.changed());
        assert!(sent[1].starts_with("systemctl --no-block restart -- app"));
        let (r, sent) = run(&Systemd, json!({"name": "app", "masked": true}), false, &[(0, &show("inactive", "masked", (1, "masked")))]);
        assert!(!r.changed());
        assert_eq!(sent.len(), 1);
        let (r, sent) = run(&Systemd, json!({"name": "app", "masked": false}), false, &[(0, &show("inactive", "masked", (1, "masked"))), (0, "")]);
        assert!(r.changed());
        assert!(sent[1].starts_with("systemctl unmask -- app"));
    }

    #[test]
    fn missing_unit_fails() {
        let (r, _) = run(&Systemd, json!({"name": "nope", "state": "started"}), false, &[(0, "Id=nope.service\nLoadState=not-found\nActiveState=inactive\n__is_enabled 1 \n")]);
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().contains("Could not find the requested service nope"));
    }

    #[test]
    fn failing_command_is_named() {
        let (r, _) = run(&Systemd, json!({"name": "app", "state": "started"}), false, &[(0, &show("inactive", "disabled", (1, "disabled"))), (1, "")]);
        assert!(r.is_failed());
    }

    #[test]
    fn service_uses_systemd_when_the_host_runs_it() {
        let probe = format!("__systemd\n{}", show("inactive", "enabled", (0, "enabled")));
        let (r, sent) = run(&Service, json!({"name": "cron", "state": "started"}), false, &[(0, &probe), (0, "")]);
        assert!(sent[0].contains("[ -d /run/systemd/system ]"));
        assert!(sent[1].starts_with("systemctl start -- cron"));
        assert!(r.changed());
    }

    #[test]
    fn service_without_systemd_uses_init_scripts() {
        let probe = "__sysv\n__initd\n__status 3\n__update_rc_d\n";
        let (r, sent) = run(&Service, json!({"name": "cron", "state": "started", "enabled": true}), false, &[(0, probe), (0, "")]);
        let lines: Vec<&str> = sent[1].lines().collect();
        assert!(lines[0].starts_with("update-rc.d cron defaults && update-rc.d cron enable ||"), "{}", sent[1]);
        assert!(lines[1].starts_with("/etc/init.d/cron start ||"), "{}", sent[1]);
        assert!(r.changed());
        let probe = "__sysv\n__initd\n__status 0\n__enabled\n__update_rc_d\n";
        let (r, sent) = run(&Service, json!({"name": "cron", "state": "started", "enabled": true}), false, &[(0, probe)]);
        assert!(!r.changed());
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn service_facts_merge_units_and_files() {
        let s = parse_service_facts("__units\ncron.service loaded active running Regular background\nx.service loaded failed failed X\n__files\ncron.service enabled enabled\ny.service disabled enabled\n");
        assert_eq!(s["cron.service"], json!({"name": "cron.service", "state": "running", "status": "enabled", "source": "systemd"}));
        assert_eq!(s["x.service"]["state"], "stopped");
        assert_eq!(s["x.service"]["status"], "failed");
        assert_eq!(s["y.service"]["state"], "inactive");
    }
}
