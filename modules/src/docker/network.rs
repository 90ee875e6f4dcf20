//! `docker_network`: a Docker network, created, recreated or removed with the CLI.
//!
//! One round trip reads `docker network inspect NAME`; the requested options are compared
//! with it (labels and driver options: the requested keys must have the requested values;
//! the rest must be equal). A network whose options differ is removed (its containers
//! disconnected first) and created again, as Ansible does.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{at, docker, failure, parse_probe, string_map, Found, Probe, NO_DOCKER};
use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct DockerNetwork;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Name of the network.").required().aliases(&["network_name"]),
    ArgSpec::new("driver", ArgType::Str, "Network driver.").default("bridge"),
    ArgSpec::new("driver_options", ArgType::Dict, "Driver options (`com.docker.network.bridge.name`...)."),
    ArgSpec::new("ipam_driver", ArgType::Str, "IPAM driver (`default`)."),
    ArgSpec::new("ipam_config", ArgType::List, "IPAM pools: a list of `{subnet, gateway, iprange, aux_addresses}`."),
    ArgSpec::new("internal", ArgType::Bool, "Restrict external access to the network."),
    ArgSpec::new("attachable", ArgType::Bool, "Let standalone containers attach (swarm overlay networks)."),
    ArgSpec::new("enable_ipv6", ArgType::Bool, "Enable IPv6 on the network."),
    ArgSpec::new("labels", ArgType::Dict, "Labels of the network."),
    ArgSpec::new("state", ArgType::Str, "`present`: the network exists with these options; `absent`: removed.")
        .default("present")
        .choices(&["present", "absent"]),
    ArgSpec::new("force", ArgType::Bool, "With `absent`: disconnect containers before removing. With `present`: remove and create \
the network even when nothing differs.")
    .default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "docker_network",
    short: "Manage Docker networks",
    description: "Creates, recreates and removes a Docker network with the `docker` CLI. Nothing to change is one round trip \
(`docker network inspect`). When an option differs the network is removed (its containers are disconnected first) and created \
again; containers are not reconnected (`connected` and `appends` are not supported). Check mode and `--diff` are supported.",
    args: ARGS,
    free_form: false,
    examples: "- name: A backend network\n  community.docker.docker_network:\n    name: backend\n    ipam_config:\n      - subnet: 10.99.0.0/24\n        \
gateway: 10.99.0.1\n    internal: true\n    labels:\n      team: ml\n\n- name: Remove it\n  community.docker.docker_network:\n    name: backend\n    state: absent\n    force: true\n",
    returns: &[
        ("network", "the network as `docker network inspect` describes it after the task (`{}` once removed)"),
        ("diff", "with `--diff`: `before` and `after` of the options that differ"),
    ],
};

#[derive(Debug, Clone, PartialEq)]
struct Pool {
    subnet: Option<String>,
    gateway: Option<String>,
    iprange: Option<String>,
    aux: Vec<(String, String)>,
}

fn pools(args: &Args) -> Result<Option<Vec<Pool>>, String> {
    let Some(list) = args.get("ipam_config").and_then(Value::as_array) else { return Ok(None) };
    let mut out = Vec::new();
    for p in list {
        let Value::Object(m) = p else { return Err(format!("each of `ipam_config` must be a dictionary, got {p}")) };
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        out.push(Pool { subnet: s("subnet"), gateway: s("gateway"), iprange: s("iprange").or_else(|| s("ip_range")), aux: string_map(m.get("aux_addresses"), "aux_addresses")? });
    }
    Ok(Some(out))
}

type Diff = (&'static str, Value, Value);

fn differences(args: &Args, n: &Value, want_pools: &Option<Vec<Pool>>, labels: &[(String, String)], opts: &[(String, String)]) -> Vec<Diff> {
    let mut d: Vec<Diff> = Vec::new();
    if let Some(driver) = text(args, "driver") {
        let have = n["Driver"].as_str().unwrap_or("");
        if have != driver {
            d.push(("driver", json!(have), json!(driver)));
        }
    }
    for (arg, key) in [("internal", "Internal"), ("attachable", "Attachable"), ("enable_ipv6", "EnableIPv6")] {
        if let Some(want) = args.get(arg).and_then(to_bool) {
            let have = n[key].as_bool().unwrap_or(false);
            if have != want {
                d.push((arg, json!(have), json!(want)));
            }
        }
    }
    for (arg, key, want) in [("labels", "Labels", labels), ("driver_options", "Options", opts)] {
        let have = n[key].as_object().cloned().unwrap_or_default();
        let wrong: Vec<&(String, String)> = want.iter().filter(|(k, v)| have.get(k).and_then(Value::as_str) != Some(v)).collect();
        if !wrong.is_empty() {
            let before: Map<String, Value> = wrong.iter().filter_map(|(k, _)| have.get(k).map(|v| (k.clone(), v.clone()))).collect();
            let after: Map<String, Value> = wrong.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            d.push((arg, Value::Object(before), Value::Object(after)));
        }
    }
    if let Some(driver) = text(args, "ipam_driver") {
        let have = at(n, &["IPAM", "Driver"]).as_str().unwrap_or("");
        if have != driver {
            d.push(("ipam_driver", json!(have), json!(driver)));
        }
    }
    if let Some(want) = want_pools {
        let have = at(n, &["IPAM", "Config"]).as_array().cloned().unwrap_or_default();
        let matches = |p: &Pool, h: &Value| {
            let eq = |w: &Option<String>, k: &str| w.as_ref().is_none_or(|w| h[k].as_str() == Some(w.as_str()));
            let aux = h["AuxiliaryAddresses"].as_object().cloned().unwrap_or_default();
            eq(&p.subnet, "Subnet") && eq(&p.gateway, "Gateway") && eq(&p.iprange, "IPRange") && p.aux.iter().all(|(k, v)| aux.get(k).and_then(Value::as_str) == Some(v))
        };
        let same = want.len() == have.len() && want.iter().all(|p| have.iter().any(|h| matches(p, h)));
        if !same {
            let after: Vec<Value> = want.iter().map(|p| json!({"Subnet": p.subnet, "Gateway": p.gateway, "IPRange": p.iprange})).collect();
            d.push(("ipam_config", Value::Array(have), Value::Array(after)));
        }
    }
    d
}

fn create_command(args: &Args, name: &str, pools: &Option<Vec<Pool>>, labels: &[(String, String)], opts: &[(String, String)]) -> String {
    let mut a: Vec<String> = vec!["network".into(), "create".into()];
    if let Some(d) = text(args, "driver") {
        a.extend(["--driver".into(), d]);
    }
    for (k, v) in opts {
        a.extend(["--opt".into(), format!("{k}={v}")]);
    }
    if let Some(d) = text(args, "ipam_driver") {
        a.extend(["--ipam-driver".into(), d]);
    }
    for p in pools.iter().flatten() {
        if let Some(s) = &p.subnet {
            a.extend(["--subnet".into(), s.clone()]);
        }
        if let Some(g) = &p.gateway {
            a.extend(["--gateway".into(), g.clone()]);
        }
        if let Some(r) = &p.iprange {
            a.extend(["--ip-range".into(), r.clone()]);
        }
        for (k, v) in &p.aux {
            a.extend(["--aux-address".into(), format!("{k}={v}")]);
        }
    }
    for (arg, flag) in [("internal", "--internal"), ("attachable", "--attachable"), ("enable_ipv6", "--ipv6")] {
        if args.get(arg).and_then(to_bool) == Some(true) {
            a.push(flag.into());
        }
    }
    for (k, v) in labels {
        a.extend(["--label".into(), format!("{k}={v}")]);
    }
    a.push(name.to_string());
    docker(&a)
}

/// Disconnect every container from the network, then remove it.
fn remove_command(name: &str) -> String {
    let n = quote(name);
    format!(
        "for c in $(docker network inspect --format '{{{{range $k, $v := .Containers}}}}{{{{$k}}}} {{{{end}}}}' {n}); do docker network disconnect -f {n} \"$c\"; done; docker network rm {n}"
    )
}

#[async_trait]
impl Module for DockerNetwork {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(name) = text(args, "name").filter(|n| !n.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `name` for module `docker_network`"));
        };
        let parsed = (|| -> Result<_, String> { Ok((pools(args)?, string_map(args.get("labels"), "labels")?, string_map(args.get("driver_options"), "driver_options")?)) })();
        let (want_pools, labels, opts) = match parsed {
            Ok(p) => p,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let absent = text(args, "state").as_deref() == Some("absent");
        let force = args.get("force").and_then(to_bool).unwrap_or(false);
        let out = ctx.remote.exec(&Probe::new().inspect("n", "network", &name).script(), b"").await?;
        let Some(found) = parse_probe(&out.stdout) else { return Ok(ModuleResult::failed(NO_DOCKER)) };
        let current = match found.get("n") {
            Some(Found::Present(v)) => Some(v.clone()),
            Some(Found::Absent) => None,
            Some(Found::Error(e)) => return Ok(ModuleResult::failed(format!("cannot inspect network {name}: {e}"))),
            None => return Ok(ModuleResult::failed(format!("cannot inspect network {name}: {}", String::from_utf8_lossy(&out.stderr).trim()))),
        };
        let mut diffs: Vec<Diff> = Vec::new();
        let mut steps: Vec<String> = Vec::new();
        let mut actions: Vec<String> = Vec::new();
        match (&current, absent) {
            (None, true) => {}
            (Some(n), true) => {
                diffs.push(("exists", json!(true), json!(false)));
                let has_containers = n["Containers"].as_object().is_some_and(|c| !c.is_empty());
                if has_containers && !force {
                    return Ok(ModuleResult::failed(format!("network {name} has containers attached: disconnect them or use `force: true`")));
                }
                steps.push(remove_command(&name));
                actions.push(format!("Removed network {name}"));
            }
            (None, false) => {
                diffs.push(("exists", json!(false), json!(true)));
                steps.push(create_command(args, &name, &want_pools, &labels, &opts));
                actions.push(format!("Created network {name} with driver {}", text(args, "driver").unwrap_or_else(|| "bridge".into())));
            }
            (Some(n), false) => {
                diffs.extend(differences(args, n, &want_pools, &labels, &opts));
                if force && diffs.is_empty() {
                    diffs.push(("recreate", json!(false), json!(true)));
                }
                if !diffs.is_empty() {
                    steps.push(remove_command(&name));
                    steps.push(create_command(args, &name, &want_pools, &labels, &opts));
                    actions.push(format!("Removed network {name}"));
                    actions.push(format!("Created network {name} with driver {}", text(args, "driver").unwrap_or_else(|| "bridge".into())));
                }
            }
        }
        let changed = !steps.is_empty();
        let mut r = ModuleResult::ok(changed);
        r.set("actions", json!(actions));
        if ctx.diff && changed {
            let before: Map<String, Value> = diffs.iter().map(|(k, b, _)| (k.to_string(), b.clone())).collect();
            let after: Map<String, Value> = diffs.iter().map(|(k, _, a)| (k.to_string(), a.clone())).collect();
            r.set("diff", json!({"before": before, "after": after}));
        }
        if !changed || ctx.check_mode {
            r.set("network", current.unwrap_or_else(|| json!({})));
            return Ok(r);
        }
        let mut script = String::from("set -e; ");
        for s in &steps {
            script.push_str(s);
            script.push_str(" >/dev/null; ");
        }
        script.push_str("set +e; ");
        if !absent {
            script.push_str(&Probe::new().inspect("n", "network", &name).script());
        }
        let out = ctx.remote.exec(script.trim_end(), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(failure(&format!("docker_network {name}"), &out)));
        }
        let after = parse_probe(&out.stdout).and_then(|f| f.get("n").and_then(Found::value).cloned()).unwrap_or_else(|| json!({}));
        r.set("network", after);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, absent, line, one};
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&DockerNetwork, a, &fake, check, true);
        (r, fake.commands())
    }

    fn task() -> Value {
        json!({"name": "ptest-net", "ipam_config": [{"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}], "labels": {"a": "b"}, "internal": false})
    }

    #[test]
    fn matching_network_is_one_round_trip() {
        let (r, sent) = run(task(), &[&line("n", &one(fixtures::NETWORK))], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(r.0["network"]["Name"], "ptest-net");
    }

    #[test]
    fn creates_a_missing_network() {
        let (r, sent) = run(task(), &[&absent("n")], true);
        assert!(r.changed() && sent.len() == 1);
        let (r, sent) = run(task(), &[&absent("n"), &line("n", &one(fixtures::NETWORK))], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(
            sent[1].starts_with("set -e; docker network create --driver bridge --subnet 10.99.0.0/24 --gateway 10.99.0.1 --label a=b ptest-net >/dev/null; set +e;"),
            "{}",
            sent[1]
        );
        assert_eq!(r.0["actions"], json!(["Created network ptest-net with driver bridge"]));
    }

    #[test]
    fn a_different_subnet_or_label_recreates() {
        let mut a = task();
        a["ipam_config"][0]["subnet"] = json!("10.98.0.0/24");
        a["labels"] = json!({"a": "c"});
        let (r, _) = run(a.clone(), &[&line("n", &one(fixtures::NETWORK))], true);
        assert!(r.changed());
        assert_eq!(r.0["diff"]["before"]["labels"], json!({"a": "b"}));
        assert_eq!(r.0["diff"]["after"]["ipam_config"][0]["Subnet"], "10.98.0.0/24");
        let (r, sent) = run(a, &[&line("n", &one(fixtures::NETWORK)), ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("docker network disconnect -f ptest-net \"$c\"; done; docker network rm ptest-net >/dev/null; docker network create"), "{}", sent[1]);
    }

    #[test]
    fn absent_needs_force_with_containers() {
        let (r, sent) = run(json!({"name": "ptest-net", "state": "absent"}), &[&line("n", &one(fixtures::NETWORK))], false);
        assert!(r.is_failed() && sent.len() == 1, "{r:?}");
        let (r, sent) = run(json!({"name": "ptest-net", "state": "absent", "force": true}), &[&line("n", &one(fixtures::NETWORK)), ""], false);
        assert!(r.changed() && !r.is_failed() && sent.len() == 2, "{r:?}");
        assert_eq!(r.0["network"], json!({}));
        let (r, sent) = run(json!({"name": "ptest-net", "state": "absent"}), &[&absent("n")], false);
        assert!(!r.changed() && sent.len() == 1);
    }
}
