//! Docker modules (`community.docker.*`) that drive the `docker` CLI on the host: no
//! Python, no Docker SDK, no API socket access from the controller.
//!
//! Each module reads what it needs in ONE script ([`Probe`]): every `docker ... inspect`
//! it asks for prints one tagged line, `TAG LABEL ok JSON`, `TAG LABEL absent` or
//! `TAG LABEL err MESSAGE`, parsed by [`parse_probe`] into [`Found`]. When nothing has
//! to change that one round trip is the whole task. Changes run as a second script
//! (the docker commands, then an inspect of the result for the return value).
//!
//! - [`container`]: `docker_container`
//! - [`image`]: `docker_image`
//! - [`network`]: `docker_network`
//! - [`compose`]: `docker_compose` / `docker_compose_v2` (`docker compose` or `docker-compose`)

pub mod compose;
pub mod container;
pub mod image;
pub mod network;

use std::collections::HashMap;

use serde_json::Value;

use crate::quote::{join, quote};

/// The marker of the probe's own output lines.
pub(crate) const TAG: &str = "__provision_docker_7c1e__";

/// What one inspect found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// The object, as `docker inspect` describes it (the array's one element).
    Present(Value),
    Absent,
    /// Docker answered with an error that is not "no such object" (daemon down...).
    Error(String),
}

impl Found {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Found::Present(v) => Some(v),
            _ => None,
        }
    }
}

/// A read script: which inspects (and other tagged lines) to run in one round trip.
#[derive(Default)]
pub(crate) struct Probe {
    script: String,
}

impl Probe {
    /// A probe that first checks `docker` is installed (prints `TAG nodocker` if not)
    /// and defines the `_pi` helper: `_pi LABEL docker-args...`. Docker's stderr is kept
    /// for the error message; on success only the JSON line is reported, so a warning
    /// the CLI prints cannot spoil it.
    pub fn new() -> Probe {
        let script = format!(
            "command -v docker >/dev/null 2>&1 || {{ echo '{TAG} nodocker'; exit 0; }}; \
_pi() {{ l=$1; shift; o=$(docker \"$@\" 2>&1); r=$?; if [ $r -eq 0 ]; then printf '%s %s ok %s\\n' '{TAG}' \"$l\" \"$(printf '%s\\n' \"$o\" | grep '^[[{{]' | tail -n 1)\"; \
elif printf '%s' \"$o\" | grep -qi 'no such'; then printf '%s %s absent\\n' '{TAG}' \"$l\"; \
else printf '%s %s err %s\\n' '{TAG}' \"$l\" \"$(printf '%s' \"$o\" | tr '\\n' ' ')\"; fi; }}; "
        );
        Probe { script }
    }

    /// `docker KIND inspect --format '{{json .}}' NAME`, reported under `label`.
    pub fn inspect(mut self, label: &str, kind: &str, name: &str) -> Probe {
        self.script.push_str(&format!("_pi {label} {kind} inspect --format '{{{{json .}}}}' {}; ", quote(name)));
        self
    }

    /// Any shell whose output lines the module parses itself (give them the [`TAG`]).
    pub fn raw(mut self, shell: &str) -> Probe {
        self.script.push_str(shell);
        self.script.push_str("; ");
        self
    }

    pub fn script(&self) -> String {
        self.script.trim_end().trim_end_matches(';').to_string()
    }
}

/// What a probe printed: `None` when docker is not installed, else the findings by label.
pub(crate) fn parse_probe(out: &[u8]) -> Option<HashMap<String, Found>> {
    let text = String::from_utf8_lossy(out);
    let mut found = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(TAG).and_then(|r| r.strip_prefix(' ')) else { continue };
        if rest.trim() == "nodocker" {
            return None;
        }
        let mut parts = rest.splitn(3, ' ');
        let (Some(label), Some(status)) = (parts.next(), parts.next()) else { continue };
        let body = parts.next().unwrap_or("").trim();
        let f = match status {
            "ok" => match serde_json::from_str::<Value>(body) {
                // `docker inspect` without --format prints an array: take its element.
                Ok(Value::Array(mut a)) if a.len() == 1 => Found::Present(a.remove(0)),
                Ok(v) => Found::Present(v),
                Err(e) => Found::Error(format!("cannot parse docker's answer ({e}): {body}")),
            },
            "absent" => Found::Absent,
            _ => Found::Error(body.to_string()),
        };
        found.insert(label.to_string(), f);
    }
    Some(found)
}

/// The lines a probe printed under the tag `TAG LABEL ...` (the module's own `raw` lines).
pub(crate) fn tagged_lines<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    let prefix = format!("{TAG} {label} ");
    out.lines().filter_map(|l| l.strip_prefix(&prefix).or_else(|| (l == prefix.trim_end()).then_some(""))).collect()
}

pub(crate) const NO_DOCKER: &str = "docker is not installed on the host (no `docker` command): install docker.io first";

/// A path inside a JSON value (`at(v, &["Config", "Env"])`).
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(n) => n,
            None => return &Value::Null,
        };
    }
    cur
}

/// A string-valued argument map (`env`, `labels`, build `args`): numbers are written out,
/// booleans refused as Ansible's docker modules do (`yes` would become `True`).
pub(crate) fn string_map(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(vec![]) };
    let Value::Object(m) = v else { return Err(format!("`{what}` must be a dictionary")) };
    let mut out = Vec::new();
    for (k, v) in m {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => String::new(),
            Value::Bool(_) => {
                return Err(format!(
                    "non-string value found for `{what}` option `{k}`: ambiguous values like yes/true must be quoted (\"true\")"
                ))
            }
            other => other.to_string(),
        };
        out.push((k.clone(), s));
    }
    Ok(out)
}

/// Docker's duration flags: `1m30s`, `500ms`, `10` (seconds), `1h` → nanoseconds.
pub(crate) fn parse_duration(v: &Value) -> Result<i64, String> {
    let text = match v {
        Value::Number(n) => return n.as_f64().map(|f| (f * 1e9) as i64).ok_or_else(|| format!("bad duration {n}")),
        Value::String(s) => s.trim().to_string(),
        other => return Err(format!("bad duration {other}")),
    };
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    let mut total: f64 = 0.0;
    let mut num = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().map_err(|_| format!("bad duration `{text}`"))?;
        let mult = match unit.as_str() {
            "ns" => 1.0,
            "us" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return Err(format!("bad duration `{text}` (units: ms, s, m, h, d)")),
        };
        total += n * mult;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!("bad duration `{text}` (a number needs a unit: 30s, 1m30s)"));
    }
    Ok(total as i64)
}

/// One line of docker's error output for a failed result.
pub(crate) fn failure(what: &str, out: &crate::ExecOutput) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    let err = if err.is_empty() { String::from_utf8_lossy(&out.stdout).trim().to_string() } else { err.to_string() };
    format!("{what} failed (rc={}): {err}", out.rc)
}

/// `docker ARGS` as one shell command.
pub(crate) fn docker(args: &[String]) -> String {
    format!("docker {}", join(args))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::Value;

    /// Real `docker inspect` output captured on the lab's PROD host (docker.io 20.10.24).
    pub const CONTAINER: &str = include_str!("fixtures/container.json");
    pub const IMAGE: &str = include_str!("fixtures/image.json");
    pub const NETWORK: &str = include_str!("fixtures/network.json");

    /// The element of a fixture, as the probe's `{{json .}}` prints it (one line).
    pub fn one(fixture: &str) -> Value {
        let v: Value = serde_json::from_str(fixture).expect("fixture parses");
        v[0].clone()
    }

    pub fn line(label: &str, v: &Value) -> String {
        format!("{} {label} ok {}\n", super::TAG, serde_json::to_string(v).expect("json"))
    }

    pub fn absent(label: &str) -> String {
        format!("{} {label} absent\n", super::TAG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_lines_parse() {
        let out = format!(
            "noise\n{TAG} c ok {{\"Id\":\"x\"}}\n{TAG} i absent\n{TAG} n err Cannot connect to the Docker daemon\n{TAG} a ok [{{\"Id\":\"y\"}}]\n"
        );
        let f = parse_probe(out.as_bytes()).unwrap();
        assert_eq!(f["c"], Found::Present(json!({"Id": "x"})));
        assert_eq!(f["i"], Found::Absent);
        assert_eq!(f["n"], Found::Error("Cannot connect to the Docker daemon".into()));
        assert_eq!(f["a"], Found::Present(json!({"Id": "y"})));
        assert!(parse_probe(format!("{TAG} nodocker\n").as_bytes()).is_none());
    }

    #[test]
    fn probe_script_quotes_names() {
        let s = Probe::new().inspect("c", "container", "it's").script();
        assert!(s.contains("_pi c container inspect --format '{{json .}}' 'it'\\''s'"), "{s}");
        assert!(s.starts_with("command -v docker"), "{s}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration(&json!("1m30s")), Ok(90_000_000_000));
        assert_eq!(parse_duration(&json!("500ms")), Ok(500_000_000));
        assert_eq!(parse_duration(&json!(2)), Ok(2_000_000_000));
        assert_eq!(parse_duration(&json!("10")), Ok(10_000_000_000));
        assert!(parse_duration(&json!("10x")).is_err());
        assert!(parse_duration(&json!("1m30")).is_err());
    }

    #[test]
    fn string_maps_refuse_booleans() {
        assert_eq!(string_map(Some(&json!({"A": 1, "B": "x"})), "env"), Ok(vec![("A".into(), "1".into()), ("B".into(), "x".into())]));
        assert!(string_map(Some(&json!({"A": true})), "env").is_err());
    }

    #[test]
    fn fixtures_are_real_inspect_output() {
        let c = fixtures::one(fixtures::CONTAINER);
        assert_eq!(at(&c, &["HostConfig", "RestartPolicy", "Name"]), "unless-stopped");
        assert_eq!(at(&fixtures::one(fixtures::NETWORK), &["IPAM", "Config"])[0]["Subnet"], "10.99.0.0/24");
    }
}

#[cfg(test)]
mod registry_tests {
    #[test]
    fn found_with_the_collection_prefix() {
        for n in ["docker_container", "docker_image", "docker_network", "docker_compose", "docker_compose_v2"] {
            assert_eq!(crate::find(&format!("community.docker.{n}")).map(|m| m.doc().name), Some(n));
            assert!(crate::find(n).is_some());
        }
    }
}
