//! `docker_container`: one container, created, started, stopped, recreated or removed
//! with the `docker` CLI.
//!
//! One round trip reads `docker container inspect NAME` and `docker image inspect IMAGE`.
//! The container is recreated when
//! - the image's ID differs from the one the container runs (`recreate` forces it),
//! - a requested field differs from what `docker inspect` says (compared field by field:
//!   env and labels must be present with the asked values, ports/volumes/command/... must
//!   be equal), or
//! - the hash of the requested configuration, stored as the container label
//!   `provision.config-hash`, differs: this catches what a field-by-field compare cannot,
//!   e.g. an env variable or a port removed from the task.
//!
//! Networks in `networks` are connected (or reconnected with new aliases) and a new
//! `restart_policy` is set with `docker update`, without recreating, as Ansible does. Env values travel on stdin (`--env-file /dev/stdin`), never
//! in argv.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{at, docker, failure, parse_duration, parse_probe, string_map, Found, Probe, NO_DOCKER};
use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct DockerContainer;

const HASH_LABEL: &str = "provision.config-hash";

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Name of the container.").required(),
    ArgSpec::new("image", ArgType::Str, "Image to run (`name[:tag]`, `latest` when no tag). Required to create the container. \
The container is recreated when the image's ID differs from the one it runs. A missing image is pulled by `docker create` itself."),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "`started`: created if needed, running; `healthy`: like `started`, then waits up to `healthy_wait_timeout` for the \
healthcheck to report healthy (a container without healthcheck counts as healthy once running); `stopped`: created if \
needed, not running; `present`: created if needed, running or not as it is; `absent`: removed.",
    )
    .default("started")
    .choices(&["absent", "present", "stopped", "started", "healthy"]),
    ArgSpec::new("published_ports", ArgType::List, "Ports to publish: `8080:80`, `127.0.0.1:8080:80/tcp`, `127.0.0.1::80`, `80` (a random host port), `53:53/udp`.")
        .aliases(&["ports"]),
    ArgSpec::new("env", ArgType::Dict, "Environment variables (values must be strings; numbers are written out). Sent on stdin, not in argv."),
    ArgSpec::new("volumes", ArgType::List, "Bind mounts and volumes: `/host:/ctr[:ro]`, `name:/ctr`, or `/ctr` (an anonymous volume)."),
    ArgSpec::new("restart_policy", ArgType::Str, "Restart policy. A change alone is made in place (`docker update --restart`), without recreating.").choices(&["no", "always", "on-failure", "unless-stopped"]),
    ArgSpec::new("restart_retries", ArgType::Int, "With `restart_policy: on-failure`: how many times to restart."),
    ArgSpec::new("command", ArgType::Raw, "Command to run: a list of words, or a string split like a shell does."),
    ArgSpec::new("entrypoint", ArgType::Raw, "Entrypoint: a list of words (or a string split like a shell). The CLI sets only its first \
word as the entrypoint; the others are put before `command`, so the process run is the same."),
    ArgSpec::new("networks", ArgType::List, "Networks to connect the container to: a list of `{name, aliases}` (or names). The first \
is used at creation (like `networks_cli_compatible: true`), the others are connected after. Missing networks and aliases are \
connected without recreating; other networks the container is on are left alone."),
    ArgSpec::new("network_mode", ArgType::Str, "`bridge`, `host`, `none`, `container:NAME` or a network name."),
    ArgSpec::new("labels", ArgType::Dict, "Labels of the container (the image's labels are merged in by Docker)."),
    ArgSpec::new("user", ArgType::Str, "User (and group) to run as: `name`, `uid`, `uid:gid`."),
    ArgSpec::new("working_dir", ArgType::Str, "Working directory of the command."),
    ArgSpec::new("hostname", ArgType::Str, "Host name inside the container."),
    ArgSpec::new("healthcheck", ArgType::Dict, "`{test, interval, timeout, retries, start_period}`. `test` is a string (run by the \
container's shell), `[CMD-SHELL, string]`, `[CMD, word...]` (the CLI can only give a shell command, so the words are \
quoted and joined into one) or `[NONE]`; durations are `30s`, `1m30s`, `500ms` or seconds."),
    ArgSpec::new("recreate", ArgType::Bool, "Recreate the container even when nothing differs.").default("no"),
    ArgSpec::new("restart", ArgType::Bool, "Restart a running container that is otherwise unchanged.").default("no"),
    ArgSpec::new("pull", ArgType::Raw, "Accepted for compatibility and ignored: this module never pulls on its own (the lab has no \
registry); `docker create` pulls an image that is missing."),
    ArgSpec::new("healthy_wait_timeout", ArgType::Raw, "With `state: healthy`: how many seconds to wait for the container to become healthy.").default("300"),
    ArgSpec::new("stop_timeout", ArgType::Int, "Seconds to wait for the container to stop before killing it."),
    ArgSpec::new("force_kill", ArgType::Bool, "Kill the container instead of stopping it before removing.").default("no").aliases(&["forcekill"]),
    ArgSpec::new("keep_volumes", ArgType::Bool, "Keep the anonymous volumes of a removed container.").default("yes"),
    ArgSpec::new("detach", ArgType::Bool, "Only `true` is supported (the container runs in the background).").default("yes"),
    ArgSpec::new("networks_cli_compatible", ArgType::Bool, "Accepted for compatibility; this module always behaves as with `true`.").default("yes"),
    ArgSpec::new("container_default_behavior", ArgType::Str, "Accepted for compatibility; only requested options are compared.")
        .choices(&["compatibility", "no_defaults"]),
    ArgSpec::new("comparisons", ArgType::Dict, "Accepted for compatibility and ignored: the comparison rules are described above."),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "docker_container",
    short: "Manage Docker containers",
    description: "Creates, starts, stops, recreates and removes a container with the `docker` CLI on the host (no Python, no \
Docker SDK). Nothing to change costs one round trip (`docker inspect` of the container and its image). The container is \
recreated when its image ID differs, when a requested option differs from `docker inspect` (env and labels: the requested \
keys must have the requested values; the other options must be equal), or when the hash of the requested options, kept in \
the label `provision.config-hash`, differs (so removing an env variable or a port from the task also recreates). Other \
options that Docker fills in are never compared. `pull` is ignored (no registry here): a missing image is pulled by `docker \
create`. A new restart policy alone is set with `docker update`; networks are connected without recreating. Check mode \
predicts; `--diff` shows the fields that differ.",
    args: ARGS,
    free_form: false,
    examples: "- name: Run a web server\n  community.docker.docker_container:\n    name: web\n    image: ptest-httpd:latest\n    \
published_ports:\n      - 127.0.0.1:18080:8080\n    env:\n      MODE: prod\n    restart_policy: unless-stopped\n\n\
- name: Start and wait until the healthcheck passes\n  community.docker.docker_container:\n    name: api\n    image: api:1.4\n    \
state: healthy\n    healthy_wait_timeout: 60\n    healthcheck:\n      test: [CMD, /bin/busybox, wget, -q, -O-, http://127.0.0.1:8080/]\n      \
interval: 2s\n      retries: 3\n    networks:\n      - name: backend\n        aliases: [api]\n\n\
- name: Remove it\n  community.docker.docker_container:\n    name: web\n    state: absent\n",
    returns: &[
        ("container", "the container as `docker inspect` describes it after the task (`{}` once removed; in check mode, as it was)"),
        ("diff", "with `--diff`: `before` and `after` of the fields that differ (`exists`, `running`, `image`, `env`...)"),
    ],
};

/// A published port: container port with protocol, host address, host port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Port {
    ctr: String,
    ip: String,
    host: String,
}

fn parse_port(spec: &str) -> Result<Port, String> {
    let bad = || format!("cannot parse published port `{spec}` (like 8080:80, 127.0.0.1:8080:80/tcp)");
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, p)) if ["tcp", "udp", "sctp"].contains(&p) => (b, p),
        Some(_) => return Err(bad()),
        None => (spec, "tcp"),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [i, h, c] => (*i, *h, *c),
        _ => return Err(bad()),
    };
    if ctr.is_empty() || !ctr.chars().all(|c| c.is_ascii_digit()) || !host.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(Port { ctr: format!("{ctr}/{proto}"), ip: ip.to_string(), host: host.to_string() })
}

impl Port {
    fn flag(&self) -> String {
        let (num, proto) = self.ctr.split_once('/').unwrap_or((&self.ctr, "tcp"));
        let mut s = match (self.ip.is_empty(), self.host.is_empty()) {
            (true, true) => num.to_string(),
            (true, false) => format!("{}:{num}", self.host),
            (false, _) => format!("{}:{}:{num}", self.ip, self.host),
        };
        if proto != "tcp" {
            s.push('/');
            s.push_str(proto);
        }
        s
    }
    fn text(&self) -> String {
        format!("{}:{}:{}", self.ip, self.host, self.ctr)
    }
}

/// `HostConfig.PortBindings` as ports.
fn ports_of(c: &Value) -> Vec<Port> {
    let mut out = Vec::new();
    if let Some(m) = at(c, &["HostConfig", "PortBindings"]).as_object() {
        for (ctr, binds) in m {
            for b in binds.as_array().into_iter().flatten() {
                let ip = b["HostIp"].as_str().unwrap_or("");
                let ip = if ip == "0.0.0.0" { "" } else { ip };
                out.push(Port { ctr: ctr.clone(), ip: ip.to_string(), host: b["HostPort"].as_str().unwrap_or("").to_string() });
            }
        }
    }
    out.sort();
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Net {
    name: String,
    aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Health {
    /// Docker's form: `["CMD-SHELL", s]` or `["NONE"]`.
    test: Vec<String>,
    interval: Option<i64>,
    timeout: Option<i64>,
    start_period: Option<i64>,
    retries: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Present,
    Stopped,
    Started,
    Healthy,
}

/// The task's arguments, checked.
#[derive(Debug, Clone)]
struct Want {
    name: String,
    image: Option<String>,
    state: State,
    ports: Option<Vec<Port>>,
    env: Option<Vec<(String, String)>>,
    volumes: Option<Vec<String>>,
    restart_policy: Option<String>,
    restart_retries: Option<i64>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    networks: Vec<Net>,
    network_mode: Option<String>,
    labels: Option<Vec<(String, String)>>,
    user: Option<String>,
    working_dir: Option<String>,
    hostname: Option<String>,
    healthcheck: Option<Health>,
    recreate: bool,
    restart: bool,
    healthy_wait: u64,
    stop_timeout: Option<i64>,
    force_kill: bool,
    keep_volumes: bool,
}

fn words(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Array(a) => Ok(a.iter().map(|w| match w {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }).collect()),
        Value::String(s) => shlex::split(s).ok_or_else(|| format!("cannot split `{what}` into words (unbalanced quotes?): {s}")),
        Value::Number(n) => Ok(vec![n.to_string()]),
        other => Err(format!("`{what}` must be a string or a list, got {other}")),
    }
}

fn parse_health(v: &Value) -> Result<Health, String> {
    if let Some(k) = v.as_object().and_then(|m| m.keys().find(|k| !["test", "interval", "timeout", "retries", "start_period"].contains(&k.as_str()))) {
        return Err(format!("healthcheck: `{k}` is not supported (test, interval, timeout, retries, start_period)"));
    }
    let test = match v.get("test") {
        None | Some(Value::Null) => return Err("healthcheck needs `test`".into()),
        Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(t) => {
            let w = words(t, "healthcheck.test")?;
            match w.first().map(String::as_str) {
                Some("NONE") => vec!["NONE".to_string()],
                Some("CMD-SHELL") if w.len() == 2 => w,
                Some("CMD") if w.len() > 1 => vec!["CMD-SHELL".to_string(), join(&w[1..])],
                _ if !w.is_empty() && w[0] != "CMD" && w[0] != "CMD-SHELL" => vec!["CMD-SHELL".to_string(), join(&w)],
                _ => return Err(format!("cannot use healthcheck test {t}")),
            }
        }
    };
    let dur = |k: &str| -> Result<Option<i64>, String> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(d) => parse_duration(d).map(Some).map_err(|e| format!("healthcheck.{k}: {e}")),
        }
    };
    let retries = match v.get("retries") {
        None | Some(Value::Null) => None,
        Some(r) => Some(r.as_i64().or_else(|| r.as_str().and_then(|s| s.parse().ok())).ok_or("healthcheck.retries must be a number")?),
    };
    Ok(Health { test, interval: dur("interval")?, timeout: dur("timeout")?, start_period: dur("start_period")?, retries })
}

fn parse_want(args: &Args) -> Result<Want, String> {
    let name = text(args, "name").filter(|n| !n.is_empty()).ok_or("missing required argument `name`")?;
    let state = match text(args, "state").as_deref().unwrap_or("started") {
        "absent" => State::Absent,
        "present" => State::Present,
        "stopped" => State::Stopped,
        "healthy" => State::Healthy,
        _ => State::Started,
    };
    if args.get("detach").and_then(to_bool) == Some(false) {
        return Err("`detach: false` is not supported: containers run in the background".into());
    }
    let list = |k: &str| -> Option<Vec<String>> {
        args.get(k).and_then(Value::as_array).map(|a| a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect())
    };
    let ports = match list("published_ports") {
        Some(p) => Some(p.iter().map(|s| parse_port(s)).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    let env = match args.get("env").filter(|v| !v.is_null()) {
        Some(v) => {
            let e = string_map(Some(v), "env")?;
            if let Some((k, _)) = e.iter().find(|(k, v)| v.contains('\n') || k.contains('\n') || k.contains('=')) {
                return Err(format!("env variable `{k}`: names cannot hold `=` or newlines, values cannot hold newlines"));
            }
            Some(e)
        }
        None => None,
    };
    let labels = match args.get("labels").filter(|v| !v.is_null()) {
        Some(v) => Some(string_map(Some(v), "labels")?),
        None => None,
    };
    let mut networks = Vec::new();
    for n in args.get("networks").and_then(Value::as_array).into_iter().flatten() {
        match n {
            Value::String(s) => networks.push(Net { name: s.clone(), aliases: vec![] }),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| !["name", "aliases"].contains(&k.as_str())) {
                    return Err(format!("networks: `{k}` is not supported (only `name` and `aliases`)"));
                }
                let name = m.get("name").and_then(Value::as_str).ok_or("each of `networks` needs a `name`")?;
                let aliases = match m.get("aliases") {
                    Some(a) if !a.is_null() => words(a, "aliases")?,
                    _ => vec![],
                };
                networks.push(Net { name: name.to_string(), aliases });
            }
            other => return Err(format!("cannot use network {other}")),
        }
    }
    let healthy_wait = match args.get("healthy_wait_timeout") {
        Some(v) => parse_duration(v).map_err(|e| format!("healthy_wait_timeout: {e}"))? / 1_000_000_000,
        None => 300,
    };
    let restart_policy = text(args, "restart_policy");
    Ok(Want {
        name,
        image: text(args, "image").filter(|i| !i.is_empty()),
        state,
        ports,
        env,
        volumes: list("volumes"),
        restart_retries: args.get("restart_retries").and_then(Value::as_i64),
        restart_policy,
        command: args.get("command").filter(|v| !v.is_null()).map(|v| words(v, "command")).transpose()?,
        entrypoint: args.get("entrypoint").filter(|v| !v.is_null()).map(|v| words(v, "entrypoint")).transpose()?,
        networks,
        network_mode: text(args, "network_mode").filter(|m| !m.is_empty()),
        labels,
        user: text(args, "user"),
        working_dir: text(args, "working_dir"),
        hostname: text(args, "hostname"),
        healthcheck: args.get("healthcheck").filter(|v| !v.is_null()).map(parse_health).transpose()?,
        recreate: args.get("recreate").and_then(to_bool).unwrap_or(false),
        restart: args.get("restart").and_then(to_bool).unwrap_or(false),
        healthy_wait: healthy_wait.max(0) as u64,
        stop_timeout: args.get("stop_timeout").and_then(Value::as_i64),
        force_kill: args.get("force_kill").and_then(to_bool).unwrap_or(false),
        keep_volumes: args.get("keep_volumes").and_then(to_bool).unwrap_or(true),
    })
}

impl Want {
    /// The requested configuration that the hash label covers (not the image, compared by
    /// ID, nor networks, connected without recreating, nor the restart policy, changed in
    /// place with `docker update`).
    fn config_hash(&self) -> String {
        let mut ports = self.ports.clone();
        if let Some(p) = ports.as_mut() {
            p.sort();
        }
        let sorted = |v: &Option<Vec<(String, String)>>| {
            v.as_ref().map(|v| {
                let mut v = v.clone();
                v.sort();
                v
            })
        };
        let h = self.healthcheck.as_ref().map(|h| json!([h.test, h.interval, h.timeout, h.start_period, h.retries]));
        let canon = json!({
            "env": sorted(&self.env),
            "labels": sorted(&self.labels),
            "ports": ports.map(|p| p.iter().map(Port::text).collect::<Vec<_>>()),
            "volumes": self.volumes,
            "command": self.command,
            "entrypoint": self.entrypoint,
            "network_mode": self.network_mode,
            "user": self.user,
            "working_dir": self.working_dir,
            "hostname": self.hostname,
            "healthcheck": h,
        });
        crate::util::sha1_hex(canon.to_string().as_bytes())
    }
}

/// `/host:/ctr[:mode]`: source, destination and mode (without the default `rw`).
fn split_volume(v: &str) -> (String, String, String) {
    let parts: Vec<&str> = v.splitn(3, ':').collect();
    match parts.as_slice() {
        [d] => (String::new(), d.to_string(), String::new()),
        [s, d] => (s.to_string(), d.to_string(), String::new()),
        [s, d, m] => {
            let mut modes: Vec<&str> = m.split(',').filter(|x| *x != "rw" && !x.is_empty()).collect();
            modes.sort();
            (s.to_string(), d.to_string(), modes.join(","))
        }
        _ => (String::new(), v.to_string(), String::new()),
    }
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// One difference that makes the container be recreated: field, before, after.
type Diff = (&'static str, Value, Value);

/// Compare the requested options with the inspected container `c`; `image_id` is the ID
/// of the requested image on the host (`None`: not there).
fn differences(w: &Want, c: &Value, image_id: Option<&str>) -> Vec<Diff> {
    let mut d: Vec<Diff> = Vec::new();
    let cfg = &c["Config"];
    let hc = &c["HostConfig"];
    if let Some(img) = &w.image {
        let running = c["Image"].as_str().unwrap_or("");
        if image_id != Some(running) {
            d.push(("image", json!(format!("{} ({running})", cfg["Image"].as_str().unwrap_or("")).trim()), json!(format!("{img} ({})", image_id.unwrap_or("not on the host")))));
        }
    }
    if let Some(env) = &w.env {
        let have = str_list(&cfg["Env"]);
        let missing: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).filter(|kv| !have.contains(kv)).collect();
        if !missing.is_empty() {
            let keys: Vec<&str> = missing.iter().map(|kv| kv.split('=').next().unwrap_or("")).collect();
            let before: Map<String, Value> = have
                .iter()
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| keys.contains(k))
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let after: Map<String, Value> = env.iter().filter(|(k, _)| keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), json!(v))).collect();
            d.push(("env", Value::Object(before), Value::Object(after)));
        }
    }
    if let Some(labels) = &w.labels {
        let have = cfg["Labels"].as_object().cloned().unwrap_or_default();
        let wrong: Vec<&(String, String)> = labels.iter().filter(|(k, v)| have.get(k).and_then(Value::as_str) != Some(v.as_str())).collect();
        if !wrong.is_empty() {
            let before: Map<String, Value> = wrong.iter().filter_map(|(k, _)| have.get(k).map(|v| (k.clone(), v.clone()))).collect();
            let after: Map<String, Value> = wrong.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            d.push(("labels", Value::Object(before), Value::Object(after)));
        }
    }
    if let Some(ports) = &w.ports {
        let mut want = ports.clone();
        want.sort();
        want.dedup();
        let have = ports_of(c);
        if want != have {
            d.push(("published_ports", json!(have.iter().map(Port::text).collect::<Vec<_>>()), json!(want.iter().map(Port::text).collect::<Vec<_>>())));
        }
    }
    if let Some(vols) = &w.volumes {
        let mut want: Vec<_> = vols.iter().map(|v| split_volume(v)).collect();
        want.sort();
        let mut have: Vec<_> = str_list(&hc["Binds"]).iter().map(|v| split_volume(v)).collect();
        if let Some(anon) = cfg["Volumes"].as_object() {
            have.extend(anon.keys().map(|k| (String::new(), k.clone(), String::new())));
        }
        have.sort();
        if want != have {
            let show = |v: &Vec<(String, String, String)>| json!(v.iter().map(|(s, d, m)| [s.as_str(), d.as_str(), m.as_str()].iter().filter(|x| !x.is_empty()).copied().collect::<Vec<_>>().join(":")).collect::<Vec<_>>());
            d.push(("volumes", show(&have), show(&want)));
        }
    }
    if let Some(p) = &w.restart_policy {
        let have = at(hc, &["RestartPolicy", "Name"]).as_str().unwrap_or("");
        let have = if have.is_empty() { "no" } else { have };
        if have != p {
            d.push(("restart_policy", json!(have), json!(p)));
        }
        if let Some(n) = w.restart_retries.filter(|_| p == "on-failure") {
            let have = at(hc, &["RestartPolicy", "MaximumRetryCount"]).as_i64().unwrap_or(0);
            if have != n {
                d.push(("restart_retries", json!(have), json!(n)));
            }
        }
    }
    match (&w.entrypoint, &w.command) {
        (Some(ep), cmd) => {
            // Entrypoint + command is what runs; the CLI splits it differently than asked.
            let mut have = str_list(&cfg["Entrypoint"]);
            have.extend(str_list(&cfg["Cmd"]));
            let mut want = ep.clone();
            want.extend(cmd.clone().unwrap_or_default());
            if have != want {
                d.push(("entrypoint", json!(have), json!(want)));
            }
        }
        (None, Some(cmd)) => {
            let have = str_list(&cfg["Cmd"]);
            if &have != cmd {
                d.push(("command", json!(have), json!(cmd)));
            }
        }
        (None, None) => {}
    }
    if let Some(m) = &w.network_mode {
        let have = hc["NetworkMode"].as_str().unwrap_or("");
        let same = have == m || (m == "bridge" && have == "default") || (m == "default" && have == "bridge");
        if !same {
            d.push(("network_mode", json!(have), json!(m)));
        }
    }
    for (field, want, key) in [("user", &w.user, "User"), ("working_dir", &w.working_dir, "WorkingDir"), ("hostname", &w.hostname, "Hostname")] {
        if let Some(want) = want {
            let have = cfg[key].as_str().unwrap_or("");
            if have != want {
                d.push((field, json!(have), json!(want)));
            }
        }
    }
    if let Some(h) = &w.healthcheck {
        let have = &cfg["Healthcheck"];
        let ns = |k: &str| have[k].as_i64().filter(|n| *n != 0);
        let same = str_list(&have["Test"]) == h.test
            && h.interval.is_none_or(|x| ns("Interval") == Some(x))
            && h.timeout.is_none_or(|x| ns("Timeout") == Some(x))
            && h.start_period.is_none_or(|x| ns("StartPeriod") == Some(x))
            && h.retries.is_none_or(|x| ns("Retries") == Some(x));
        if !same {
            d.push(("healthcheck", have.clone(), json!({"Test": h.test, "Interval": h.interval, "Timeout": h.timeout, "StartPeriod": h.start_period, "Retries": h.retries})));
        }
    }
    if let Some(have) = at(cfg, &["Labels", HASH_LABEL]).as_str() {
        let want = w.config_hash();
        if have != want && d.is_empty() {
            d.push(("config_hash", json!(have), json!(want)));
        }
    }
    d
}

/// Networks to (re)connect: those the container is not on, or lacks an alias on.
fn network_changes<'a>(w: &'a Want, c: &Value) -> Vec<(&'a Net, bool)> {
    let on = at(c, &["NetworkSettings", "Networks"]);
    w.networks
        .iter()
        .filter_map(|n| match on.get(&n.name) {
            None => Some((n, false)),
            Some(ep) => {
                let have = str_list(&ep["Aliases"]);
                (!n.aliases.iter().all(|a| have.contains(a))).then_some((n, true))
            }
        })
        .collect()
}

/// The `docker create` command (env comes on stdin).
fn create_command(w: &Want, image: &str) -> String {
    let mut a: Vec<String> = vec!["create".into(), "--name".into(), w.name.clone()];
    a.push("--label".into());
    a.push(format!("{HASH_LABEL}={}", w.config_hash()));
    for (k, v) in w.labels.iter().flatten() {
        a.push("--label".into());
        a.push(format!("{k}={v}"));
    }
    if w.env.as_ref().is_some_and(|e| !e.is_empty()) {
        a.push("--env-file".into());
        a.push("/dev/stdin".into());
    }
    for p in w.ports.iter().flatten() {
        a.push("--publish".into());
        a.push(p.flag());
    }
    for v in w.volumes.iter().flatten() {
        a.push("--volume".into());
        a.push(v.clone());
    }
    if let Some(p) = &w.restart_policy {
        a.push("--restart".into());
        a.push(match w.restart_retries {
            Some(n) if p == "on-failure" => format!("{p}:{n}"),
            _ => p.clone(),
        });
    }
    for (flag, v) in [("--user", &w.user), ("--workdir", &w.working_dir), ("--hostname", &w.hostname)] {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v.clone());
        }
    }
    if let Some(m) = &w.network_mode {
        a.push("--network".into());
        a.push(m.clone());
    } else if let Some(first) = w.networks.first() {
        a.push("--network".into());
        a.push(first.name.clone());
        for al in &first.aliases {
            a.push("--network-alias".into());
            a.push(al.clone());
        }
    }
    if let Some(h) = &w.healthcheck {
        if h.test.first().map(String::as_str) == Some("NONE") {
            a.push("--no-healthcheck".into());
        } else {
            a.push("--health-cmd".into());
            a.push(h.test.get(1).cloned().unwrap_or_default());
            for (flag, v) in [("--health-interval", h.interval), ("--health-timeout", h.timeout), ("--health-start-period", h.start_period)] {
                if let Some(ns) = v {
                    a.push(flag.into());
                    a.push(format!("{ns}ns"));
                }
            }
            if let Some(r) = h.retries {
                a.push("--health-retries".into());
                a.push(r.to_string());
            }
        }
    }
    let mut tail: Vec<String> = Vec::new();
    if let Some(ep) = &w.entrypoint {
        a.push("--entrypoint".into());
        a.push(ep.first().cloned().unwrap_or_default());
        tail.extend(ep.iter().skip(1).cloned());
    }
    a.push(image.to_string());
    tail.extend(w.command.clone().unwrap_or_default());
    a.extend(tail);
    docker(&a)
}

fn remove_command(w: &Want) -> String {
    let rm = if w.keep_volumes { "docker rm -f" } else { "docker rm -f -v" };
    let n = quote(&w.name);
    if w.force_kill {
        format!("{rm} {n}")
    } else {
        let t = w.stop_timeout.map(|t| format!("-t {t} ")).unwrap_or_default();
        format!("{{ docker stop {t}{n} >/dev/null 2>&1 || true; }}; {rm} {n}")
    }
}

fn connect_command(w: &Want, n: &Net, connected: bool) -> String {
    let mut s = String::new();
    if connected {
        s.push_str(&format!("docker network disconnect {} {} >/dev/null && ", quote(&n.name), quote(&w.name)));
    }
    let mut a: Vec<String> = vec!["network".into(), "connect".into()];
    for al in &n.aliases {
        a.push("--alias".into());
        a.push(al.clone());
    }
    a.push(n.name.clone());
    a.push(w.name.clone());
    s.push_str(&docker(&a));
    s
}

/// Wait (on the host) until the container is healthy, or has no healthcheck.
fn wait_healthy_script(name: &str, timeout: u64) -> String {
    let n = quote(name);
    format!(
        "i=0; while :; do s=$(docker inspect --format '{{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{else}}}}none{{{{end}}}}' {n}); \
case \"$s\" in healthy|none) break;; esac; if [ $i -ge {timeout} ]; then echo \"container {name_text} did not become healthy within {timeout}s (health: $s)\" >&2; exit 3; fi; \
i=$((i+1)); sleep 1; done",
        name_text = name.replace(['"', '$', '`', '\\'], "")
    )
}

#[async_trait]
impl Module for DockerContainer {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let mut r = run_container(args, ctx).await?;
        let mut warnings = Vec::new();
        if args.get("comparisons").is_some_and(|c| !c.is_null()) {
            warnings.push("`comparisons` is ignored: requested options are compared as `provision doc docker_container` describes");
        }
        if args.get("pull").is_some_and(|p| to_bool(p) == Some(true) || p.as_str() == Some("always")) {
            warnings.push("`pull` is ignored: images are not pulled unless missing (then `docker create` pulls them)");
        }
        if !warnings.is_empty() {
            r.set("warnings", json!(warnings));
        }
        Ok(r)
    }
}

async fn run_container(args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let w = match parse_want(args) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    let mut probe = Probe::new().inspect("c", "container", &w.name);
    if let (Some(img), true) = (&w.image, w.state != State::Absent) {
        probe = probe.inspect("i", "image", img);
    }
    let out = ctx.remote.exec(&probe.script(), b"").await?;
    let Some(found) = parse_probe(&out.stdout) else { return Ok(ModuleResult::failed(NO_DOCKER)) };
    let container = match found.get("c") {
        Some(Found::Present(v)) => Some(v.clone()),
        Some(Found::Absent) => None,
        Some(Found::Error(e)) => return Ok(ModuleResult::failed(format!("cannot inspect container {}: {e}", w.name))),
        None => return Ok(ModuleResult::failed(format!("cannot inspect container {}: {}", w.name, String::from_utf8_lossy(&out.stderr).trim()))),
    };
    let image_id = match found.get("i") {
        Some(Found::Present(v)) => v["Id"].as_str().map(str::to_string),
        Some(Found::Error(e)) => return Ok(ModuleResult::failed(format!("cannot inspect image {}: {e}", w.image.as_deref().unwrap_or("")))),
        _ => None,
    };
    let running = container.as_ref().is_some_and(|c| at(c, &["State", "Running"]).as_bool() == Some(true));

    // Decide.
    let mut steps: Vec<String> = Vec::new();
    let mut diffs: Vec<Diff> = Vec::new();
    let mut stdin = Vec::new();
    let mut wait = false;
    match (&container, w.state) {
        (None, State::Absent) => {}
        (Some(_), State::Absent) => {
            diffs.push(("exists", json!(true), json!(false)));
            steps.push(remove_command(&w));
        }
        (c, state) => {
            let recreate = match c {
                None => {
                    diffs.push(("exists", json!(false), json!(true)));
                    true
                }
                Some(c) => {
                    let all = differences(&w, c, image_id.as_deref());
                    // The restart policy alone changes in place, as Ansible does.
                    let in_place = |d: &Diff| d.0 == "restart_policy" || d.0 == "restart_retries";
                    let recreate = w.recreate || all.iter().any(|d| !in_place(d));
                    if w.recreate && all.is_empty() {
                        diffs.push(("recreate", json!(false), json!(true)));
                    }
                    if !recreate && !all.is_empty() {
                        let p = w.restart_policy.clone().unwrap_or_default();
                        let p = match w.restart_retries {
                            Some(n) if p == "on-failure" => format!("{p}:{n}"),
                            _ => p,
                        };
                        steps.push(docker(&["update".into(), "--restart".into(), p, w.name.clone()]));
                    }
                    diffs.extend(all);
                    recreate
                }
            };
            if recreate {
                let Some(image) = w.image.clone() else {
                    return Ok(ModuleResult::failed(format!("`image` is required to create container {}", w.name)));
                };
                if c.is_some() {
                    steps.push(remove_command(&w));
                }
                steps.push(create_command(&w, &image));
                for n in w.networks.iter().skip(usize::from(w.network_mode.is_none())) {
                    if w.network_mode.as_deref() != Some(n.name.as_str()) {
                        steps.push(connect_command(&w, n, false));
                    }
                }
                for (k, v) in w.env.iter().flatten() {
                    stdin.extend_from_slice(format!("{k}={v}\n").as_bytes());
                }
            } else if let Some(c) = c {
                for (n, connected) in network_changes(&w, c) {
                    diffs.push(("networks", json!(n.name), json!({"name": n.name, "aliases": n.aliases})));
                    steps.push(connect_command(&w, n, connected));
                }
            }
            let was_running = running && !recreate;
            match state {
                State::Started | State::Healthy => {
                    if !was_running {
                        if !recreate {
                            diffs.push(("running", json!(false), json!(true)));
                        }
                        steps.push(format!("docker start {}", quote(&w.name)));
                    } else if w.restart {
                        diffs.push(("restarted", json!(false), json!(true)));
                        steps.push(format!("docker restart {}", quote(&w.name)));
                    }
                    // Already healthy and untouched: nothing to wait for.
                    let healthy_now = c.as_ref().is_some_and(|c| at(c, &["State", "Health", "Status"]).as_str().is_none_or(|s| s == "healthy"));
                    wait = state == State::Healthy && (!steps.is_empty() || !healthy_now);
                }
                State::Stopped if was_running => {
                    diffs.push(("running", json!(true), json!(false)));
                    let t = w.stop_timeout.map(|t| format!("-t {t} ")).unwrap_or_default();
                    steps.push(format!("docker stop {t}{}", quote(&w.name)));
                }
                _ => {}
            }
        }
    }

    let changed = !steps.is_empty();
    let mut r = ModuleResult::ok(changed);
    if ctx.diff && changed {
        let before: Map<String, Value> = diffs.iter().map(|(k, b, _)| (k.to_string(), b.clone())).collect();
        let after: Map<String, Value> = diffs.iter().map(|(k, _, a)| (k.to_string(), a.clone())).collect();
        r.set("diff", json!({"before": before, "after": after}));
    }
    if ctx.check_mode || (!changed && !wait) {
        r.set("container", container.unwrap_or_else(|| json!({})));
        return Ok(r);
    }
    // Apply (or only wait for health), then describe the result.
    let mut script = String::from("set -e; ");
    for s in &steps {
        script.push_str(s);
        script.push_str(" >/dev/null; ");
    }
    if wait {
        script.push_str(&wait_healthy_script(&w.name, w.healthy_wait));
        script.push_str("; ");
    }
    script.push_str("set +e; ");
    if w.state != State::Absent {
        script.push_str(&Probe::new().inspect("c", "container", &w.name).script());
    }
    let out = ctx.remote.exec(script.trim_end(), &stdin).await?;
    if out.rc != 0 {
        let mut f = ModuleResult::failed(failure(&format!("docker_container {}", w.name), &out));
        f.set("changed", changed && out.rc == 3);
        return Ok(f);
    }
    let after = parse_probe(&out.stdout).and_then(|f| f.get("c").and_then(Found::value).cloned()).unwrap_or_else(|| json!({}));
    r.set("container", after);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, absent, line, one};
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::ExecOutput;

    /// The fixture container (`ptest-fix`) and its image, as the first probe prints them.
    fn both() -> String {
        let c = one(fixtures::CONTAINER);
        let i = one(fixtures::IMAGE);
        format!("{}{}", line("c", &c), line("i", &i))
    }

    /// The task that matches the fixture exactly (it was created by hand: no hash label).
    fn matching() -> Value {
        json!({
            "name": "ptest-fix",
            "image": "ptest-httpd:latest",
            "published_ports": ["127.0.0.1:18099:8080"],
            "env": {"FOO": "bar"},
            "volumes": ["/tmp/provision-test-docker:/data:ro"],
            "restart_policy": "unless-stopped",
            "labels": {"x": "y"},
            "networks": [{"name": "ptest-net", "aliases": ["web"]}],
            "working_dir": "/www",
            "user": "0",
            "healthcheck": {"test": "/bin/busybox wget -q -O- http://127.0.0.1:8080/", "interval": "2s", "retries": 3},
        })
    }

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>, Vec<Vec<u8>>) {
        let fake = Fake::new(answers);
        let r = run_module(&DockerContainer, a, &fake, check, true);
        let stdins = fake.sent.lock().unwrap().iter().map(|(_, s)| s.clone()).collect();
        (r, fake.commands(), stdins)
    }

    #[test]
    fn matching_container_is_one_round_trip() {
        let (r, sent, _) = run(matching(), &[&both()], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("_pi c container inspect --format '{{json .}}' ptest-fix"), "{}", sent[0]);
        assert!(sent[0].contains("_pi i image inspect --format '{{json .}}' ptest-httpd:latest"), "{}", sent[0]);
        assert_eq!(r.0["container"]["Name"], "/ptest-fix");
    }

    #[test]
    fn a_changed_env_recreates_with_env_on_stdin() {
        let mut a = matching();
        a["env"] = json!({"FOO": "baz", "TOKEN": "s3cret"});
        let (r, sent, _) = run(a.clone(), &[&both()], true);
        assert!(r.changed() && sent.len() == 1, "{r:?}");
        assert_eq!(r.0["diff"]["before"]["env"], json!({"FOO": "bar"}));
        assert_eq!(r.0["diff"]["after"]["env"], json!({"FOO": "baz", "TOKEN": "s3cret"}));
        let after = line("c", &one(fixtures::CONTAINER));
        let (r, sent, stdin) = run(a, &[&both(), &after], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        let apply = &sent[1];
        assert!(apply.starts_with("set -e; { docker stop ptest-fix >/dev/null 2>&1 || true; }; docker rm -f ptest-fix >/dev/null; docker create --name ptest-fix --label provision.config-hash="), "{apply}");
        assert!(apply.contains(" --env-file /dev/stdin --publish 127.0.0.1:18099:8080 --volume /tmp/provision-test-docker:/data:ro --restart unless-stopped --user 0 --workdir /www --network ptest-net --network-alias web --health-cmd '/bin/busybox wget -q -O- http://127.0.0.1:8080/' --health-interval 2000000000ns --health-retries 3 ptest-httpd:latest >/dev/null; docker start ptest-fix >/dev/null;"), "{apply}");
        assert!(!apply.contains("s3cret"), "secrets stay out of argv: {apply}");
        assert_eq!(stdin[1], b"FOO=baz\nTOKEN=s3cret\n");
        assert_eq!(r.0["container"]["Name"], "/ptest-fix");
    }

    #[test]
    fn another_image_id_recreates() {
        let mut i = one(fixtures::IMAGE);
        i["Id"] = json!("sha256:0000");
        let answer = format!("{}{}", line("c", &one(fixtures::CONTAINER)), line("i", &i));
        let (r, _, _) = run(matching(), &[&answer], true);
        assert!(r.changed());
        assert_eq!(r.0["diff"]["after"]["image"], "ptest-httpd:latest (sha256:0000)");
        // Forced recreation of an unchanged container.
        let mut a = matching();
        a["recreate"] = json!(true);
        let (r, _, _) = run(a, &[&both()], true);
        assert!(r.changed());
    }

    #[test]
    fn the_hash_label_catches_removed_options() {
        let w = parse_want(&crate::file::tests::args(matching())).unwrap();
        let mut c = one(fixtures::CONTAINER);
        c["Config"]["Labels"][HASH_LABEL] = json!(w.config_hash());
        let answer = format!("{}{}", line("c", &c), line("i", &one(fixtures::IMAGE)));
        let (r, _, _) = run(matching(), &[&answer], true);
        assert!(!r.changed(), "{r:?}");
        // FOO=bar is still there, but the task no longer asks for it: recreate.
        let mut a = matching();
        a.as_object_mut().unwrap().remove("env");
        let (r, _, _) = run(a, &[&answer], true);
        assert!(r.changed(), "{r:?}");
        assert!(r.0["diff"]["after"]["config_hash"].is_string());
    }

    #[test]
    fn fields_compare_like_docker_stores_them() {
        let c = one(fixtures::CONTAINER);
        let w = |v: Value| parse_want(&crate::file::tests::args(v)).unwrap();
        let fields = |v: Value| differences(&w(v), &c, Some("sha256:23527ca1021414e67ae9b3aabf053e154a3e41a676c0e492791872926c8532ef")).into_iter().map(|d| d.0).collect::<Vec<_>>();
        assert!(fields(json!({"name": "x", "published_ports": ["127.0.0.1:18099:8080/tcp"]})).is_empty());
        assert_eq!(fields(json!({"name": "x", "published_ports": ["18099:8080"]})), vec!["published_ports"]);
        assert_eq!(fields(json!({"name": "x", "volumes": ["/tmp/provision-test-docker:/data"]})), vec!["volumes"]);
        assert!(fields(json!({"name": "x", "volumes": ["/tmp/provision-test-docker:/data:ro"], "command": "/bin/busybox httpd -f -p 8080 -h /www"})).is_empty());
        assert_eq!(fields(json!({"name": "x", "command": ["/bin/busybox", "httpd"]})), vec!["command"]);
        assert_eq!(fields(json!({"name": "x", "restart_policy": "always", "user": "1"})), vec!["restart_policy", "user"]);
        // Entrypoint + command is compared as what runs.
        assert!(fields(json!({"name": "x", "entrypoint": ["/bin/busybox", "httpd"], "command": ["-f", "-p", "8080", "-h", "/www"]})).is_empty());
        assert_eq!(fields(json!({"name": "x", "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/"], "interval": "2s"}})), Vec::<&str>::new());
        assert_eq!(fields(json!({"name": "x", "healthcheck": {"test": "true", "interval": "2s"}})), vec!["healthcheck"]);
        assert!(fields(json!({"name": "x", "labels": {"x": "y"}, "network_mode": "ptest-net"})).is_empty());
    }

    #[test]
    fn a_missing_network_alias_reconnects_without_recreating() {
        let mut a = matching();
        a["networks"] = json!([{"name": "ptest-net", "aliases": ["web", "www"]}, "other"]);
        let after = line("c", &one(fixtures::CONTAINER));
        let (r, sent, _) = run(a, &[&both(), &after], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].starts_with("set -e; docker network disconnect ptest-net ptest-fix >/dev/null && docker network connect --alias web --alias www ptest-net ptest-fix >/dev/null; docker network connect other ptest-fix >/dev/null; set +e;"), "{}", sent[1]);
    }

    #[test]
    fn states_start_stop_and_remove() {
        let mut c = one(fixtures::CONTAINER);
        c["State"]["Running"] = json!(false);
        let stopped = format!("{}{}", line("c", &c), line("i", &one(fixtures::IMAGE)));
        let after = line("c", &one(fixtures::CONTAINER));
        let (r, sent, _) = run(matching(), &[&stopped, &after], false);
        assert!(r.changed());
        assert!(sent[1].starts_with("set -e; docker start ptest-fix >/dev/null; set +e;"), "{}", sent[1]);

        let mut a = matching();
        a["state"] = json!("stopped");
        a["stop_timeout"] = json!(5);
        let (r, sent, _) = run(a, &[&both(), &after], false);
        assert!(r.changed());
        assert!(sent[1].starts_with("set -e; docker stop -t 5 ptest-fix >/dev/null; set +e;"), "{}", sent[1]);

        let (r, sent, _) = run(json!({"name": "ptest-fix", "state": "absent", "force_kill": true, "keep_volumes": false}), &[&line("c", &one(fixtures::CONTAINER)), ""], false);
        assert!(r.changed() && sent.len() == 2);
        assert_eq!(sent[1], "set -e; docker rm -f -v ptest-fix >/dev/null; set +e;");
        assert_eq!(r.0["container"], json!({}));
        let (r, sent, _) = run(json!({"name": "ptest-fix", "state": "absent"}), &[&absent("c")], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn a_new_restart_policy_is_updated_in_place() {
        let mut a = matching();
        a["restart_policy"] = json!("on-failure");
        a["restart_retries"] = json!(3);
        let (r, sent, _) = run(a, &[&both(), &line("c", &one(fixtures::CONTAINER))], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].starts_with("set -e; docker update --restart on-failure:3 ptest-fix >/dev/null; set +e;"), "{}", sent[1]);
    }

    #[test]
    fn healthy_waits_on_the_host() {
        let mut a = matching();
        a["state"] = json!("healthy");
        a["healthy_wait_timeout"] = json!(20);
        let after = line("c", &one(fixtures::CONTAINER));
        // The fixture's health is `starting`: wait, without a change.
        let (r, sent, _) = run(a.clone(), &[&both(), &after], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("if [ $i -ge 20 ]"), "{}", sent[1]);
        let fake = Fake::with(vec![
            ExecOutput { rc: 0, stdout: both().into_bytes(), stderr: vec![] },
            ExecOutput { rc: 3, stdout: vec![], stderr: b"container ptest-fix did not become healthy within 20s (health: unhealthy)".to_vec() },
        ]);
        let r = run_module(&DockerContainer, a.clone(), &fake, false, false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("did not become healthy"), "{r:?}");
        // Healthy already: one round trip.
        let mut c = one(fixtures::CONTAINER);
        c["State"]["Health"]["Status"] = json!("healthy");
        let (r, sent, _) = run(a, &[&format!("{}{}", line("c", &c), line("i", &one(fixtures::IMAGE)))], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
    }

    #[test]
    fn creating_needs_an_image_and_checks_ports() {
        let (r, _, _) = run(json!({"name": "new"}), &[&absent("c")], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("`image` is required"), "{r:?}");
        let (r, sent, _) = run(json!({"name": "new", "published_ports": ["abc"]}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
        let (r, sent, _) = run(json!({"name": "new", "image": "img", "command": "sleep 1", "entrypoint": ["/bin/sh", "-c"]}), &[&format!("{}{}", absent("c"), absent("i")), &line("c", &json!({"Name": "/new"}))], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].contains("--entrypoint /bin/sh img -c sleep 1 >/dev/null; docker start new"), "{}", sent[1]);
        let (r, _, _) = run(json!({"name": "n", "env": {"A": true}}), &[], false);
        assert!(r.is_failed());
        let (r, _, _) = run(json!({"name": "n", "networks": [{"name": "a", "ipv4_address": "10.0.0.2"}]}), &[], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("ipv4_address"), "{r:?}");
    }

    #[test]
    fn ports_parse() {
        assert_eq!(parse_port("8080:80").unwrap().flag(), "8080:80");
        assert_eq!(parse_port("127.0.0.1:8080:80/tcp").unwrap(), Port { ctr: "80/tcp".into(), ip: "127.0.0.1".into(), host: "8080".into() });
        assert_eq!(parse_port("127.0.0.1::53/udp").unwrap().flag(), "127.0.0.1::53/udp");
        assert_eq!(parse_port("80").unwrap().flag(), "80");
        assert!(parse_port("a:b").is_err() && parse_port("1:2:3:4").is_err() && parse_port("80/xyz").is_err());
    }

    #[test]
    fn ignored_options_warn() {
        let mut a = matching();
        a["pull"] = json!(true);
        let (r, _, _) = run(a, &[&both()], false);
        assert!(r.0["warnings"][0].as_str().unwrap().contains("`pull` is ignored"), "{r:?}");
    }

    #[test]
    fn no_docker_fails_clearly() {
        let (r, _, _) = run(matching(), &[&format!("{} nodocker\n", super::super::TAG)], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("not installed"));
    }
}
