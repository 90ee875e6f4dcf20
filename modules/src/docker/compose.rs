//! `docker_compose_v2` (also `docker_compose`): a Compose project, driven by `docker
//! compose` (v2) where the host has it, else `docker-compose` (v1, Debian 12's package).
//!
//! One round trip reads what Compose would run (`config --hash='*'`: one hash per service)
//! and what runs (`docker ps -a` of the project's containers with their
//! `com.docker.compose.config-hash` label and state). `up` runs only when a service has no
//! container, a container's hash differs, a container is not running, or orphans are to be
//! removed; the change is then reported from the containers before and after (so a build
//! that changes nothing reports nothing). The project name is always passed (`-p`): the
//! one given, else the project directory's name normalized as Compose does.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{tagged_lines, TAG};
use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct DockerComposeV2;
pub struct DockerCompose;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("project_src", ArgType::Path, "Directory on the host holding the Compose file(s); commands run there.").required(),
    ArgSpec::new("project_name", ArgType::Str, "Project name. Default: the name of `project_src`, lowercased, keeping only a-z, 0-9, `-` and `_`."),
    ArgSpec::new("files", ArgType::List, "Compose files, relative to `project_src` (default: Compose's own lookup, `docker-compose.yml`...)."),
    ArgSpec::new("state", ArgType::Str, "`present`: services created and running; `stopped`: created and stopped; `restarted`: \
restarted (always a change); `absent`: `down`.")
    .default("present")
    .choices(&["present", "absent", "stopped", "restarted"]),
    ArgSpec::new("build", ArgType::Raw, "`always` (`up --build`: reports a change only if containers change), `never` (`--no-build`), \
`policy` (build missing images). `docker_compose`'s booleans work too: `true` = `always`, `false` = `policy`.")
    .default("policy"),
    ArgSpec::new("pull", ArgType::Raw, "`always`, `missing`, `never` or `policy` (Compose's default). With `docker-compose` v1 \
`always` runs `pull` first; the others pull only what is missing. Booleans: `true` = `always`.")
    .default("policy"),
    ArgSpec::new("recreate", ArgType::Str, "`auto` (when the configuration changed), `always`, `never`; `smart` is `auto`.")
        .default("auto")
        .choices(&["auto", "always", "never", "smart"]),
    ArgSpec::new("remove_orphans", ArgType::Bool, "Remove containers of services no longer in the Compose file.").default("no"),
    ArgSpec::new("remove_volumes", ArgType::Bool, "With `absent`: remove named volumes too.").default("no"),
    ArgSpec::new("remove_images", ArgType::Str, "With `absent`: remove images, `all` or `local`.").choices(&["all", "local"]),
    ArgSpec::new("services", ArgType::List, "Only these services."),
    ArgSpec::new("timeout", ArgType::Int, "Seconds to wait for containers to stop."),
    ArgSpec::new("stopped", ArgType::Bool, "`docker_compose` spelling of `state: stopped`.").default("no"),
    ArgSpec::new("restarted", ArgType::Bool, "`docker_compose` spelling of `state: restarted`.").default("no"),
];

const DESCRIPTION: &str = "Runs a Compose project with `docker compose` (v2) or, where the host lacks it, `docker-compose` (v1). \
Nothing to change is one round trip: the services' configuration hashes (`config --hash='*'`) are compared with the \
`com.docker.compose.config-hash` labels of the project's containers and their states. A change is reported only when \
containers were created, recreated, started, stopped or removed. Check mode predicts from the hashes (`build: always` is \
predicted as a change). `definition` (inline Compose YAML), `profiles` and `env_files` are not supported.";

const EXAMPLES: &str = "- name: Run the app\n  community.docker.docker_compose_v2:\n    project_src: /srv/app\n    \
remove_orphans: true\n\n- name: Stop it\n  community.docker.docker_compose_v2:\n    project_src: /srv/app\n    state: stopped\n\n\
- name: Tear it down\n  community.docker.docker_compose_v2:\n    project_src: /srv/app\n    state: absent\n";

const RETURNS: &[(&str, &str)] = &[
    ("containers", "the project's containers after the task: `ID`, `Name`, `Service`, `State`"),
    ("cli", "which Compose ran: `docker compose` or `docker-compose`"),
    ("diff", "with `--diff`: the containers (`service: state`) before and after"),
];

static DOC_V2: ModuleDoc = ModuleDoc {
    name: "docker_compose_v2",
    short: "Manage multi-container Docker applications with Docker Compose",
    description: DESCRIPTION,
    args: ARGS,
    free_form: false,
    examples: EXAMPLES,
    returns: RETURNS,
};

static DOC_V1: ModuleDoc = ModuleDoc {
    name: "docker_compose",
    short: "Manage multi-container Docker applications with Docker Compose (same as docker_compose_v2)",
    description: DESCRIPTION,
    args: ARGS,
    free_form: false,
    examples: EXAMPLES,
    returns: RETURNS,
};

/// Compose's default project name: the directory's name, lowercased, only `[a-z0-9_-]`.
fn project_name_of(dir: &str) -> String {
    let base = dir.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    base.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_').collect::<String>().trim_start_matches(['-', '_']).to_string()
}

#[derive(Debug, Clone, PartialEq)]
struct Ctr {
    id: String,
    service: String,
    hash: String,
    state: String,
    name: String,
}

fn parse_ctrs(out: &str) -> Vec<Ctr> {
    tagged_lines(out, "ctr")
        .iter()
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            match p.as_slice() {
                [id, svc, hash, state, name, ..] => Some(Ctr { id: id.to_string(), service: svc.to_string(), hash: hash.to_string(), state: state.to_string(), name: name.to_string() }),
                _ => None,
            }
        })
        .collect()
}

struct Project {
    src: String,
    name: String,
    files: Vec<String>,
}

impl Project {
    /// `cd` into the project and pick the Compose CLI (`$DC`), printing which.
    fn prelude(&self) -> String {
        format!(
            "cd {} 2>/dev/null || {{ echo '{TAG} nosrc'; exit 0; }}; command -v docker >/dev/null 2>&1 || {{ echo '{TAG} nodocker'; exit 0; }}; \
if docker compose version >/dev/null 2>&1; then DC='docker compose'; elif command -v docker-compose >/dev/null 2>&1; then DC=docker-compose; \
else echo '{TAG} nocompose'; exit 0; fi; echo \"{TAG} cli $DC\"; ",
            quote(&self.src)
        )
    }

    /// `$DC -p NAME -f FILE...` followed by `args`.
    fn dc(&self, args: &[String]) -> String {
        let mut a = vec!["-p".to_string(), self.name.clone()];
        for f in &self.files {
            a.push("-f".into());
            a.push(f.clone());
        }
        a.extend(args.iter().cloned());
        format!("$DC {}", join(&a))
    }

    fn ps(&self) -> String {
        format!(
            "docker ps -a --filter {} --format '{{{{.ID}}}} {{{{.Label \"com.docker.compose.service\"}}}} {{{{.Label \"com.docker.compose.config-hash\"}}}}- {{{{.State}}}} {{{{.Names}}}}' | sed 's/^/{TAG} ctr /'; \
docker network ls -q --filter {} | sed 's/^/{TAG} net /'",
            quote(&format!("label=com.docker.compose.project={}", self.name)),
            quote(&format!("label=com.docker.compose.project={}", self.name))
        )
    }

    fn read_script(&self) -> String {
        format!(
            "{}h=$({} 2>&1); if [ $? -eq 0 ]; then printf '%s\\n' \"$h\" | sed 's/^/{TAG} hash /'; else echo \"{TAG} configerr $(printf '%s' \"$h\" | tr '\\n' ' ')\"; fi; {}",
            self.prelude(),
            self.dc(&["config".into(), "--hash=*".into()]),
            self.ps()
        )
    }
}

/// `build`/`pull` as a word, accepting `docker_compose`'s booleans.
fn policy(args: &Args, key: &str, choices: &[&str]) -> Result<String, String> {
    let v = args.get(key).cloned().unwrap_or(Value::Null);
    let word = match &v {
        Value::Null => "policy".to_string(),
        Value::String(s) if choices.contains(&s.as_str()) => s.clone(),
        other => match to_bool(other) {
            Some(true) => "always".into(),
            Some(false) => "policy".into(),
            None => return Err(format!("value of `{key}` must be one of: {}, got: {other}", choices.join(", "))),
        },
    };
    Ok(word)
}

fn summary(ctrs: &[Ctr]) -> Value {
    let m: serde_json::Map<String, Value> = ctrs.iter().map(|c| (c.name.clone(), json!(format!("{} {}", c.service, c.state)))).collect();
    Value::Object(m)
}

fn containers(ctrs: &[Ctr]) -> Value {
    json!(ctrs.iter().map(|c| json!({"ID": c.id, "Name": c.name, "Service": c.service, "State": c.state})).collect::<Vec<_>>())
}

async fn run_compose(args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let Some(src) = text(args, "project_src").filter(|s| !s.is_empty()) else {
        return Ok(ModuleResult::failed("`project_src` is required (inline `definition` is not supported)"));
    };
    let mut state = text(args, "state").unwrap_or_else(|| "present".into());
    if state == "present" && args.get("stopped").and_then(to_bool) == Some(true) {
        state = "stopped".into();
    }
    if state == "present" && args.get("restarted").and_then(to_bool) == Some(true) {
        state = "restarted".into();
    }
    let (build, pull) = match (policy(args, "build", &["always", "never", "policy"]), policy(args, "pull", &["always", "missing", "never", "policy"])) {
        (Ok(b), Ok(p)) => (b, p),
        (Err(e), _) | (_, Err(e)) => return Ok(ModuleResult::failed(e)),
    };
    let recreate = text(args, "recreate").unwrap_or_else(|| "auto".into());
    let remove_orphans = args.get("remove_orphans").and_then(to_bool).unwrap_or(false);
    let services: Vec<String> = args.get("services").and_then(Value::as_array).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default();
    let timeout = args.get("timeout").and_then(Value::as_i64);
    let name = text(args, "project_name").filter(|n| !n.is_empty()).unwrap_or_else(|| project_name_of(&src));
    if name.is_empty() {
        return Ok(ModuleResult::failed(format!("cannot derive a project name from {src}: give `project_name`")));
    }
    let files = args.get("files").and_then(Value::as_array).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default();
    let p = Project { src: src.clone(), name, files };

    let out = ctx.remote.exec(&p.read_script(), b"").await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for (tag, msg) in [
        ("nosrc", format!("project_src {src} is not a directory on the host")),
        ("nodocker", super::NO_DOCKER.to_string()),
        ("nocompose", "neither `docker compose` nor `docker-compose` is installed on the host".to_string()),
    ] {
        if stdout.lines().any(|l| l == format!("{TAG} {tag}")) {
            return Ok(ModuleResult::failed(msg));
        }
    }
    let cli = tagged_lines(&stdout, "cli").first().map(|s| s.trim().to_string()).unwrap_or_default();
    let v1 = cli == "docker-compose";
    if let Some(e) = tagged_lines(&stdout, "configerr").first() {
        return Ok(ModuleResult::failed(format!("{cli} config failed: {}", e.trim())));
    }
    let want: BTreeMap<String, String> = tagged_lines(&stdout, "hash")
        .iter()
        .filter_map(|l| l.split_once(' ').map(|(s, h)| (s.to_string(), h.trim().to_string())))
        .filter(|(s, _)| services.is_empty() || services.contains(s))
        .collect();
    let before = parse_ctrs(&stdout);
    let nets = tagged_lines(&stdout, "net").len();
    let hash_of = |c: &Ctr| c.hash.trim_end_matches('-').to_string();

    let mut steps: Vec<String> = Vec::new();
    let mine: Vec<&Ctr> = before.iter().filter(|c| services.is_empty() || services.contains(&c.service)).collect();
    let missing = want.keys().any(|s| !mine.iter().any(|c| &c.service == s));
    let stale = recreate != "never" && mine.iter().any(|c| want.get(&c.service).is_some_and(|h| *h != hash_of(c)));
    let orphans = remove_orphans && before.iter().any(|c| !want.contains_key(&c.service) && services.is_empty());
    let mut up_flags: Vec<String> = Vec::new();
    match build.as_str() {
        "always" => up_flags.push("--build".into()),
        "never" => up_flags.push("--no-build".into()),
        _ => {}
    }
    if !v1 && pull != "policy" {
        up_flags.push(format!("--pull={pull}"));
    }
    match recreate.as_str() {
        "always" => up_flags.push("--force-recreate".into()),
        "never" => up_flags.push("--no-recreate".into()),
        _ => {}
    }
    if remove_orphans {
        up_flags.push("--remove-orphans".into());
    }
    if let Some(t) = timeout {
        up_flags.push("-t".into());
        up_flags.push(t.to_string());
    }
    let pull_first = v1 && pull == "always";
    let with_services = |mut a: Vec<String>| {
        a.extend(services.iter().cloned());
        a
    };
    match state.as_str() {
        "absent" => {
            if !before.is_empty() || nets > 0 {
                let mut a: Vec<String> = vec!["down".into()];
                if remove_orphans {
                    a.push("--remove-orphans".into());
                }
                if args.get("remove_volumes").and_then(to_bool) == Some(true) {
                    a.push("-v".into());
                }
                if let Some(r) = text(args, "remove_images") {
                    a.push(format!("--rmi={r}"));
                }
                if let Some(t) = timeout {
                    a.extend(["-t".into(), t.to_string()]);
                }
                steps.push(p.dc(&a));
            }
        }
        "present" => {
            let not_running = mine.iter().any(|c| c.state != "running");
            if missing || stale || not_running || orphans || build == "always" || recreate == "always" || pull_first {
                if pull_first {
                    steps.push(p.dc(&with_services(vec!["pull".into()])));
                }
                let mut a = vec!["up".to_string(), "-d".into()];
                a.extend(up_flags.clone());
                steps.push(p.dc(&with_services(a)));
            }
        }
        "stopped" => {
            if missing || stale || orphans || recreate == "always" {
                let mut a = vec!["up".to_string(), "--no-start".into()];
                a.extend(up_flags.iter().filter(|f| !f.starts_with("-t") && f.parse::<i64>().is_err()).cloned());
                steps.push(p.dc(&with_services(a)));
            }
            if mine.iter().any(|c| c.state == "running") {
                let mut a = vec!["stop".to_string()];
                if let Some(t) = timeout {
                    a.extend(["-t".into(), t.to_string()]);
                }
                steps.push(p.dc(&with_services(a)));
            }
        }
        _ => {
            // restarted
            if missing || mine.is_empty() {
                let mut a = vec!["up".to_string(), "-d".into()];
                a.extend(up_flags.clone());
                steps.push(p.dc(&with_services(a)));
            }
            if !mine.is_empty() {
                let mut a = vec!["restart".to_string()];
                if let Some(t) = timeout {
                    a.extend(["-t".into(), t.to_string()]);
                }
                steps.push(p.dc(&with_services(a)));
            }
        }
    }

    let predicted = !steps.is_empty();
    let mut r = ModuleResult::ok(predicted);
    r.set("cli", cli.clone());
    if !predicted || ctx.check_mode {
        r.set("containers", containers(&before));
        if ctx.diff && predicted {
            r.set("diff", json!({"before": summary(&before), "after": {"services": want.keys().collect::<Vec<_>>(), "state": state}}));
        }
        return Ok(r);
    }
    let mut script = p.prelude();
    script.push_str("set -e; ");
    for s in &steps {
        script.push_str(s);
        script.push_str(" >&2; ");
    }
    script.push_str("set +e; ");
    script.push_str(&p.ps());
    let out = ctx.remote.exec(&script, b"").await?;
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        return Ok(ModuleResult::failed(format!("{cli} failed (rc={}): {}", out.rc, tail.join("\n"))));
    }
    let after = parse_ctrs(&String::from_utf8_lossy(&out.stdout));
    // Restarting is a change by definition; otherwise only what the containers show.
    let key = |c: &[Ctr]| c.iter().map(|c| (c.id.clone(), c.state.clone(), c.hash.clone())).collect::<Vec<_>>();
    let changed = state == "restarted" || key(&before) != key(&after) || (state == "absent" && nets > 0);
    r.set("changed", changed);
    if ctx.diff && changed {
        r.set("diff", json!({"before": summary(&before), "after": summary(&after)}));
    }
    r.set("containers", containers(&after));
    Ok(r)
}

#[async_trait]
impl Module for DockerComposeV2 {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC_V2
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        run_compose(args, ctx).await
    }
}

#[async_trait]
impl Module for DockerCompose {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC_V1
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        run_compose(args, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&DockerComposeV2, a, &fake, check, true);
        (r, fake.commands())
    }

    /// What the read script prints with `docker-compose` v1 for one service `web`.
    fn host(hash: &str, ctrs: &[(&str, &str, &str)]) -> String {
        let mut s = format!("{TAG} cli docker-compose\n{TAG} hash web {hash}\n");
        for (id, h, st) in ctrs {
            s.push_str(&format!("{TAG} ctr {id} web {h}- {st} ptest_web_1\n"));
        }
        s
    }

    #[test]
    fn project_names_normalize() {
        assert_eq!(project_name_of("/tmp/provision-test-docker/My App.1/"), "myapp1");
        assert_eq!(project_name_of("/srv/ptest_compose"), "ptest_compose");
    }

    #[test]
    fn running_with_the_same_hash_is_one_round_trip() {
        let (r, sent) = run(json!({"project_src": "/srv/ptest", "project_name": "ptest"}), &[&host("abc", &[("c1", "abc", "running")])], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("h=$($DC -p ptest config '--hash=*' 2>&1)"), "{}", sent[0]);
        assert!(sent[0].contains("docker ps -a --filter label=com.docker.compose.project=ptest"), "{}", sent[0]);
        assert_eq!(r.0["containers"], json!([{"ID": "c1", "Name": "ptest_web_1", "Service": "web", "State": "running"}]));
        assert_eq!(r.0["cli"], "docker-compose");
    }

    #[test]
    fn a_new_hash_runs_up_and_reports_the_new_containers() {
        let a = json!({"project_src": "/srv/ptest", "files": ["c.yml"], "remove_orphans": true});
        let (r, sent) = run(a.clone(), &[&host("new", &[("c1", "old", "running")])], true);
        assert!(r.changed() && sent.len() == 1);
        let (r, sent) = run(a, &[&host("new", &[("c1", "old", "running")]), &host("new", &[("c2", "new", "running")])], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("set -e; $DC -p ptest -f c.yml up -d --remove-orphans >&2; set +e;"), "{}", sent[1]);
    }

    #[test]
    fn compose_v2_gets_its_pull_flag_and_services() {
        let v2 = |hash: &str, st: &str| format!("{TAG} cli docker compose\n{TAG} hash web {hash}\n{TAG} hash db x\n{TAG} ctr c1 web {hash}- {st} ptest-web-1\n");
        let a = json!({"project_src": "/srv/ptest", "services": ["web"], "pull": "never", "recreate": "always", "timeout": 5});
        let (r, sent) = run(a, &[&v2("abc", "running"), &v2("abc", "running").replace("c1", "c9")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("$DC -p ptest up -d --pull=never --force-recreate -t 5 web >&2"), "{}", sent[1]);
        assert_eq!(r.0["cli"], "docker compose");
        // `db` has no container but is not among `services`: nothing to do.
        let (r, sent) = run(json!({"project_src": "/srv/ptest", "services": ["web"]}), &[&v2("abc", "running")], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
    }

    #[test]
    fn up_that_changes_nothing_is_not_a_change() {
        let a = json!({"project_src": "/srv/ptest", "build": "always"});
        let same = host("abc", &[("c1", "abc", "running")]);
        let (r, sent) = run(a, &[&same, &same], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("up -d --build"), "{}", sent[1]);
    }

    #[test]
    fn stopped_and_absent() {
        let a = json!({"project_src": "/srv/ptest", "state": "stopped"});
        let (r, sent) = run(a.clone(), &[&host("abc", &[("c1", "abc", "running")]), &host("abc", &[("c1", "abc", "exited")])], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].contains("set -e; $DC -p ptest stop >&2;"), "{}", sent[1]);
        let (r, sent) = run(a, &[&host("abc", &[("c1", "abc", "exited")])], false);
        assert!(!r.changed() && sent.len() == 1);
        let (r, sent) = run(json!({"project_src": "/srv/ptest", "state": "absent", "remove_volumes": true}), &[&host("abc", &[("c1", "abc", "exited")]), ""], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].contains("$DC -p ptest down -v >&2"), "{}", sent[1]);
        let (r, sent) = run(json!({"project_src": "/srv/ptest", "state": "absent"}), &[&host("abc", &[])], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn host_problems_fail_clearly() {
        let (r, _) = run(json!({"project_src": "/nope"}), &[&format!("{TAG} nosrc\n")], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("not a directory"));
        let (r, _) = run(json!({"project_src": "/srv/ptest"}), &[&format!("{TAG} cli docker-compose\n{TAG} configerr services.web.image must be a string\n")], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("must be a string"), "{r:?}");
        let (r, _) = run(json!({"project_src": "/srv/ptest", "build": "sometimes"}), &[], false);
        assert!(r.is_failed());
    }
}
