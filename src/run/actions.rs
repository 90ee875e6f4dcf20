//! Engine actions: the "modules" that act in the engine rather than on the host —
//! `debug`, `set_fact`, `assert`, `pause`, `include_vars`, `add_host`, `group_by`.
//! Their effects on the run's state come back as [`Effect`]s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_modules::{args::to_bool, ModuleResult};
use serde_json::{Map, Value};

use super::play::Effect;
use crate::output::playbook::Status;
use crate::template::Templar;

type Outcome = (Status, Map<String, Value>, Vec<Effect>);

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `debug: msg=...` or `debug: var=name`.
pub fn debug(templar: &Templar, args: &Map<String, Value>, vars: &Map<String, Value>, search: &[PathBuf], verbosity: u8) -> Outcome {
    let wanted = args.get("verbosity").and_then(|v| v.as_u64().or_else(|| text(v).parse().ok())).unwrap_or(0);
    let mut r = ModuleResult::ok(false).0;
    if u64::from(verbosity) < wanted {
        r.insert("skipped".into(), Value::Bool(true));
        r.insert("skipped_reason".into(), Value::String("Verbosity threshold not met.".into()));
        return (Status::Skipped, r, vec![]);
    }
    if args.contains_key("msg") && args.contains_key("var") {
        return (Status::Failed, ModuleResult::failed("parameters are mutually exclusive: msg|var").0, vec![]);
    }
    if let Some(var) = args.get("var") {
        let name = text(var);
        let value = match templar.eval(&name, vars, search) {
            Ok(v) => v,
            // A vaulted value that cannot be decrypted is an error, not an undefined variable.
            Err(e) if crate::vault::is_vault_error(&e.message) => return (Status::Failed, ModuleResult::failed(e.to_string()).0, vec![]),
            Err(_) => Value::String("VARIABLE IS NOT DEFINED!".into()),
        };
        r.insert(name, value);
    } else {
        let msg = args.get("msg").cloned().unwrap_or(Value::String("Hello world!".into()));
        r.insert("msg".into(), msg);
    }
    r.insert("_ansible_verbose_always".into(), Value::Bool(true));
    (Status::Ok, r, vec![])
}

/// `set_fact: k=v ...` (`cacheable` accepted).
pub fn set_fact(args: &Map<String, Value>) -> Outcome {
    let mut facts = Map::new();
    for (k, v) in args {
        if k == "cacheable" || k == "_raw_params" {
            continue;
        }
        if !k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return (Status::Failed, ModuleResult::failed(format!("The variable name '{k}' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores.")).0, vec![]);
        }
        // `k=v` free form gives strings; Ansible converts "yes"/"true" style booleans there.
        facts.insert(k.clone(), v.clone());
    }
    if facts.is_empty() {
        return (Status::Failed, ModuleResult::failed("No key/value pairs provided, at least one is required for this action to succeed").0, vec![]);
    }
    let mut r = ModuleResult::ok(false).0;
    r.insert("ansible_facts".into(), Value::Object(facts.clone()));
    (Status::Ok, r, vec![Effect::SetFacts(facts)])
}

/// `assert: that=[...] fail_msg=... success_msg=... quiet=...`.
pub fn assert(templar: &Templar, args: &Map<String, Value>, vars: &Map<String, Value>, search: &[PathBuf]) -> Outcome {
    let that: Vec<Value> = match args.get("that") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
        None => return (Status::Failed, ModuleResult::failed("conditional required in \"that\" string").0, vec![]),
    };
    let quiet = args.get("quiet").and_then(to_bool).unwrap_or(false);
    for cond in &that {
        let expr = text(cond);
        let ok = match cond {
            Value::Bool(b) => Ok(*b),
            _ => templar.eval_bool(&expr, vars, search).map_err(|e| e.to_string()),
        };
        match ok {
            Ok(true) => {}
            Ok(false) => {
                let mut r = ModuleResult::ok(false).0;
                r.insert("failed".into(), Value::Bool(true));
                r.insert("assertion".into(), Value::String(expr.clone()));
                r.insert("evaluated_to".into(), Value::Bool(false));
                let msg = args.get("fail_msg").or_else(|| args.get("msg")).cloned().unwrap_or(Value::String("Assertion failed".into()));
                r.insert("msg".into(), msg);
                return (Status::Failed, r, vec![]);
            }
            Err(e) => return (Status::Failed, ModuleResult::failed(format!("The conditional check '{expr}' failed. The error was: {e}")).0, vec![]),
        }
    }
    let mut r = ModuleResult::ok(false).0;
    if !quiet {
        r.insert("msg".into(), args.get("success_msg").cloned().unwrap_or(Value::String("All assertions passed".into())));
        r.insert("_ansible_verbose_always".into(), Value::Bool(true));
    } else {
        r.insert("msg".into(), args.get("success_msg").cloned().unwrap_or(Value::String("All assertions passed".into())));
    }
    (Status::Ok, r, vec![])
}

/// `pause: seconds=N | minutes=N | prompt=...`. The prompt goes to stderr (stdout may be
/// a JSON report); without a terminal on stdin a prompt is not waited on (a warning says
/// so, as Ansible's does). Ctrl-C ends the pause and stops the run.
pub async fn pause(args: &Map<String, Value>) -> Outcome {
    let num = |k: &str| args.get(k).and_then(|v| v.as_f64().or_else(|| text(v).parse().ok()));
    let secs = num("seconds").or_else(|| num("minutes").map(|m| m * 60.0));
    let start = std::time::Instant::now();
    let interrupted = || (Status::Failed, ModuleResult::failed(crate::interrupt::MESSAGE.to_string()).0, vec![]);
    if let Some(s) = secs {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))) => {}
            _ = crate::interrupt::wait() => return interrupted(),
        }
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let prompt = args.get("prompt").map(text).unwrap_or_else(|| "Press enter to continue, Ctrl+C to interrupt".into());
        let _quiet = crate::output::live::suspend();
        let reading = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "[pause]\n{prompt}:\n");
            let _ = err.flush();
            drop(err);
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
            s
        });
        let answer = tokio::select! {
            a = reading => a.unwrap_or_default(),
            _ = crate::interrupt::wait() => return interrupted(),
        };
        let mut r = ModuleResult::ok(false).0;
        r.insert("user_input".into(), Value::String(answer.trim_end().to_string()));
        return (Status::Ok, r, vec![]);
    } else {
        crate::output::live::stderr_line("[WARNING]: Not waiting for response to prompt as stdin is not interactive");
    }
    let mut r = ModuleResult::ok(false).0;
    r.insert("delta".into(), Value::from(start.elapsed().as_secs()));
    r.insert("echo".into(), Value::Bool(true));
    r.insert("user_input".into(), Value::String(String::new()));
    (Status::Ok, r, vec![])
}

/// `include_vars: file.yml` / `file=` / `dir=` / `name=`.
pub fn include_vars(args: &Map<String, Value>, search: &[PathBuf]) -> Outcome {
    let fail = |m: String| (Status::Failed, ModuleResult::failed(m).0, vec![]);
    let find = |name: &str| -> Option<PathBuf> {
        if Path::new(name).is_absolute() {
            return Some(PathBuf::from(name));
        }
        for base in search {
            for c in [base.join("vars").join(name), base.join(name)] {
                if c.exists() {
                    return Some(c);
                }
            }
        }
        None
    };
    let mut vars = Map::new();
    let mut files = Vec::new();
    if let Some(dir) = args.get("dir").map(text) {
        let Some(d) = find(&dir) else { return fail(format!("Could not find directory '{dir}'")) };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json"))).collect())
            .unwrap_or_default();
        entries.sort();
        files.extend(entries);
    } else {
        let name = args.get("file").or_else(|| args.get("_raw_params")).map(text).unwrap_or_default();
        let Some(p) = find(&name) else { return fail(format!("Could not find or access '{name}'")) };
        files.push(p);
    }
    for f in &files {
        match crate::yaml::load_file(f) {
            Ok(Value::Object(m)) => vars.extend(m),
            Ok(Value::Null) => {}
            Ok(_) => return fail(format!("{} must be stored as a dictionary/hash", f.display())),
            Err(d) => return fail(d.to_string()),
        }
    }
    if let Some(name) = args.get("name").map(text) {
        let mut wrapped = Map::new();
        wrapped.insert(name, Value::Object(vars));
        vars = wrapped;
    }
    let mut r = ModuleResult::ok(false).0;
    r.insert("ansible_facts".into(), Value::Object(vars.clone()));
    r.insert("ansible_included_var_files".into(), Value::from(files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()));
    (Status::Ok, r, vec![Effect::IncludeVars(vars)])
}

/// `add_host: name=... groups=...` plus variables.
pub fn add_host(args: &Map<String, Value>) -> Outcome {
    let Some(name) = args.get("name").or_else(|| args.get("hostname")).or_else(|| args.get("host")).map(text) else {
        return (Status::Failed, ModuleResult::failed("add_host needs `name`").0, vec![]);
    };
    let groups: Vec<String> = match args.get("groups").or_else(|| args.get("group")).or_else(|| args.get("groupname")) {
        Some(Value::Array(a)) => a.iter().map(text).collect(),
        Some(Value::String(s)) => s.split(',').map(|g| g.trim().to_string()).filter(|g| !g.is_empty()).collect(),
        _ => vec![],
    };
    let (name, port) = match name.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && !h.contains(':') => (h.to_string(), Some(p.to_string())),
        _ => (name, None),
    };
    let mut vars: Map<String, Value> =
        args.iter().filter(|(k, _)| !["name", "hostname", "host", "groups", "group", "groupname"].contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(p) = port {
        vars.insert("ansible_port".into(), Value::String(p));
    }
    let mut r = ModuleResult::ok(true).0;
    r.insert("add_host".into(), serde_json::json!({"host_name": name, "groups": groups, "host_vars": vars}));
    (Status::Changed, r, vec![Effect::AddHost { name, groups, vars }])
}

/// `group_by: key=... parents=...`.
pub fn group_by(args: &Map<String, Value>) -> Outcome {
    let Some(key) = args.get("key").map(text) else {
        return (Status::Failed, ModuleResult::failed("the 'key' param is required when using group_by").0, vec![]);
    };
    let key = key.replace([' ', '-', '.'], "_");
    let parents: Vec<String> = match args.get("parents") {
        Some(Value::Array(a)) => a.iter().map(text).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec!["all".into()],
    };
    // Ansible reports group_by as changed.
    let mut r = ModuleResult::ok(true).0;
    r.insert("add_group".into(), Value::String(key.clone()));
    r.insert("parent_groups".into(), Value::from(parents.clone()));
    (Status::Changed, r, vec![Effect::GroupBy { key, parents }])
}
