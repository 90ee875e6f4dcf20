//! Reports for CI and for the person at the terminal: `--output json` (checked against
//! docs/report.schema.json), `--junit`, `--shard` with `report merge`,
//! `--verify-idempotent`, the `--check --diff` summary and `--summary`, `--profile`.
//! Fleet tests use h1..h5 with harmless tasks only (echo, true, debug, files under
//! /tmp/provision-test-report/).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;

fn lab(playbook: &Path, extra: &[&str]) -> Run {
    let f = fleet();
    let mut args = vec![playbook.display().to_string(), "-i".into(), f.inventory.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    provision(&args)
}

// ---------------------------------------------------------------------------------
// A small JSON Schema validator: the subset docs/report.schema.json uses (type,
// required, properties, additionalProperties, items, enum, const, minimum, oneOf, $ref).

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.strip_prefix('#').expect("local $ref");
            resolve(root, root.pointer(ptr).unwrap_or_else(|| panic!("bad $ref {r}")))
        }
        None => schema,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("schema type {other} not supported by the test validator"),
    }
}

fn validate(root: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(root, schema);
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok: Vec<usize> = alts.iter().enumerate().filter(|(_, s)| validate(root, s, v, at).is_ok()).map(|(i, _)| i).collect();
        if ok.len() != 1 {
            return Err(format!("{at}: matches {} of the oneOf schemas (must be exactly 1)", ok.len()));
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => return Err(format!("{at}: not a {t}: {v}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)) => return Err(format!("{at}: none of {ts:?}: {v}")),
        _ => {}
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            return Err(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(Value::Array(e)) = schema.get("enum") {
        if !e.contains(v) {
            return Err(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let (Some(m), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < m {
            return Err(format!("{at}: {n} < {m}"));
        }
    }
    if let Value::Object(obj) = v {
        if let Some(Value::Array(req)) = schema.get("required") {
            for k in req {
                if !obj.contains_key(k.as_str().unwrap()) {
                    return Err(format!("{at}: missing required key {k}"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, x, &format!("{at}.{k}"))?,
                None => {
                    if let Some(s) = schema.get("additionalProperties") {
                        validate(root, s, x, &format!("{at}.{k}"))?;
                    }
                }
            }
        }
    }
    if let (Value::Array(a), Some(s)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            validate(root, s, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("docs/report.schema.json")).unwrap()).unwrap()
}

/// Every line of a report, parsed and validated.
fn report_lines(stdout: &str) -> Vec<Value> {
    let schema = schema();
    stdout
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: not JSON ({e}): {line}", i + 1));
            validate(&schema, &schema, &v, "$").unwrap_or_else(|e| panic!("line {} does not validate: {e}\n{line}", i + 1));
            v
        })
        .collect()
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let s = schema();
    let bad = [
        r#"{"event":"host_result","play":"p","task":"t","path":"x:1","action":"command","host":"h1","status":"weird","ignored":false,"handler":false,"result":{},"duration_ms":1}"#,
        r#"{"event":"task_start","play":"p","task":"t","path":"x:1","handler":false}"#,
        r#"{"event":"recap","hosts":{"h1":{"ok":"1"}},"duration_ms":1,"slowest":[]}"#,
        r#"{"event":"nonsense"}"#,
    ];
    for b in bad {
        let v: Value = serde_json::from_str(b).unwrap();
        assert!(validate(&s, &s, &v, "$").is_err(), "accepted {b}");
    }
}

// ---------------------------------------------------------------------------------
// A small XML reader for the JUnit report: elements, attributes, text, entities.

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn all<'a>(&'a self, name: &str) -> Vec<&'a Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    fn attr(&self, k: &str) -> &str {
        self.attrs.get(k).map(String::as_str).unwrap_or_else(|| panic!("<{}> has no {k}", self.name))
    }
}

fn unescape(s: &str) -> String {
    assert!(!s.contains('<'), "unescaped < in {s:?}");
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("entity end") + i;
        out.push_str(match &rest[i + 1..end] {
            "amp" => "&",
            "lt" => "<",
            "gt" => ">",
            "quot" => "\"",
            "apos" => "'",
            other => panic!("unknown entity &{other};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn parse_xml(doc: &str) -> Node {
    let doc = doc.trim_start();
    let doc = match doc.strip_prefix("<?xml") {
        Some(r) => &r[r.find("?>").expect("end of declaration") + 2..],
        None => doc,
    };
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut rest = doc;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        stack.last_mut().unwrap().text.push_str(&unescape(text));
        if lt == rest.len() {
            break;
        }
        rest = &rest[lt..];
        let gt = rest.find('>').expect("tag end");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let node = stack.pop().unwrap();
            assert_eq!(node.name, name.trim(), "mismatched end tag");
            stack.last_mut().unwrap().children.push(node);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let mut node = Node { name: name.to_string(), ..Default::default() };
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let eq = attrs_text.find('=').expect("attribute =");
            let key = attrs_text[..eq].trim().to_string();
            let after = &attrs_text[eq + 1..];
            assert!(after.starts_with('"'), "attribute value must be quoted: {after}");
            let close = after[1..].find('"').expect("closing quote") + 1;
            node.attrs.insert(key, unescape(&after[1..close]));
            attrs_text = &after[close + 1..];
        }
        if self_closing {
            stack.last_mut().unwrap().children.push(node);
        } else {
            stack.push(node);
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut top = stack.pop().unwrap();
    assert_eq!(top.children.len(), 1, "one root element");
    top.children.pop().unwrap()
}

const MIXED: &str = r#"- name: Report <mix> & "quotes"
  hosts: h1:h2
  gather_facts: no
  tasks:
    - name: say hi
      ansible.builtin.command: echo hi
    - name: secret
      ansible.builtin.command: echo s3cret-value-xyz
      no_log: true
    - name: loop it
      ansible.builtin.command: echo {{ item }}
      loop: [a, b]
    - name: ignored failure
      ansible.builtin.command: /bin/false
      ignore_errors: true
    - name: only on h1
      ansible.builtin.debug: msg=hello
      when: inventory_hostname == 'h1'
    - name: fail on h2
      ansible.builtin.shell: echo "bad <stuff> & more" >&2; exit 3
      when: inventory_hostname == 'h2'
    - name: after
      ansible.builtin.debug: msg=done
"#;

#[test]
fn json_report_validates_and_junit_parses_back() {
    let dir = tempdir();
    let pb = dir.path().join("mixed.yml");
    std::fs::write(&pb, MIXED).unwrap();
    let junit = dir.path().join("junit.xml");
    let run = lab(&pb, &["--output", "json", "--junit", junit.to_str().unwrap()]);
    run.expect_code(2);
    let out = run.stdout();
    // Only JSON on stdout, and the no_log value nowhere in it.
    assert!(!out.contains("s3cret-value-xyz"), "no_log leaked:\n{out}");
    assert!(!out.contains("PLAY RECAP"));
    let lines = report_lines(&out);
    let kinds: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_start"));
    assert_eq!(kinds.last(), Some(&"recap"));
    assert_eq!(kinds.iter().filter(|k| **k == "task_start").count(), 7);
    assert_eq!(kinds.iter().filter(|k| **k == "item_result").count(), 4);
    let results: Vec<&Value> = lines.iter().filter(|v| v["event"] == "host_result").collect();
    assert_eq!(results.len(), 13);
    let find = |task: &str, host: &str| *results.iter().find(|v| v["task"] == task && v["host"] == host).unwrap_or_else(|| panic!("{task} on {host}"));
    let secret = find("secret", "h1");
    assert_eq!(secret["status"], "changed");
    assert!(secret["result"]["censored"].as_str().unwrap().contains("no_log"), "{secret}");
    assert!(secret["result"].get("stdout").is_none());
    assert_eq!(find("say hi", "h2")["result"]["stdout"], "hi");
    assert!(find("say hi", "h2")["path"].as_str().unwrap().ends_with("mixed.yml:5"));
    assert_eq!(find("ignored failure", "h1")["status"], "failed");
    assert_eq!(find("ignored failure", "h1")["ignored"], true);
    assert_eq!(find("only on h1", "h2")["status"], "skipped");
    assert_eq!(find("fail on h2", "h2")["status"], "failed");
    assert_eq!(find("fail on h2", "h2")["result"]["rc"], 3);
    assert_eq!(find("loop it", "h1")["result"]["results"].as_array().unwrap().len(), 2);
    let recap = lines.last().unwrap();
    assert_eq!(recap["hosts"]["h1"]["ok"], 6);
    assert_eq!(recap["hosts"]["h1"]["ignored"], 1);
    assert_eq!(recap["hosts"]["h2"]["failed"], 1);
    assert_eq!(recap["hosts"]["h2"]["skipped"], 1);

    // JUnit: one suite for the play, one case per task and host.
    let xml = std::fs::read_to_string(&junit).expect("junit written although the run failed");
    let root = parse_xml(&xml);
    assert_eq!(root.name, "testsuites");
    let suites = root.all("testsuite");
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attr("name"), "Report <mix> & \"quotes\"");
    assert_eq!((suite.attr("tests"), suite.attr("failures"), suite.attr("errors"), suite.attr("skipped")), ("13", "1", "0", "2"));
    let cases = suite.all("testcase");
    assert_eq!(cases.len(), 13);
    let case = |name: &str, host: &str| {
        *cases.iter().find(|c| c.attr("name") == name && c.attr("classname") == format!("Report <mix> & \"quotes\"/{host}")).unwrap_or_else(|| panic!("case {name} {host}"))
    };
    let failure = &case("fail on h2", "h2").all("failure")[0];
    assert_eq!(failure.attr("message"), "non-zero return code");
    assert!(failure.text.contains("rc: 3"), "{}", failure.text);
    assert!(failure.text.contains("stderr:\nbad <stuff> & more"), "{}", failure.text);
    assert_eq!(case("fail on h2", "h1").all("skipped").len(), 1);
    assert_eq!(case("only on h1", "h2").all("skipped").len(), 1);
    let ignored = case("ignored failure", "h1");
    assert!(ignored.all("failure").is_empty());
    assert!(ignored.all("system-out")[0].text.contains("ignored failed"));
    assert!(case("say hi", "h1").children.is_empty());
}

#[test]
fn junit_is_written_when_the_run_stops_on_an_error() {
    let dir = tempdir();
    let pb = dir.path().join("boom.yml");
    std::fs::write(
        &pb,
        "- hosts: h1\n  gather_facts: no\n  tasks:\n    - name: fine\n      ansible.builtin.debug: msg=hi\n\
         - hosts: h1\n  gather_facts: no\n  vars_files: [missing-vars.yml]\n  tasks:\n    - ansible.builtin.debug: msg=never\n",
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let run = lab(&pb, &["--junit", junit.to_str().unwrap(), "--output", "json"]);
    run.expect_code(1);
    assert!(run.stderr().contains("missing-vars.yml"), "{}", run.stderr());
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let root = parse_xml(&xml);
    assert!(root.all("testsuite")[0].all("testcase").iter().any(|c| c.attr("name") == "fine"));
    let lines = report_lines(&run.stdout());
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "error");
    assert!(last["message"].as_str().unwrap().contains("missing-vars.yml"));
}

// ---------------------------------------------------------------------------------

#[test]
fn three_shards_cover_every_host_once_and_merge_to_one_recap() {
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "lab", "shard.yml", "    - name: hello\n      ansible.builtin.command: \"true\"\n      changed_when: false\n");
    let mut seen: Vec<String> = Vec::new();
    let mut files = Vec::new();
    for k in 1..=3 {
        // The five hosts of the test fleet this suite may use, split three ways.
        let run = lab(&pb, &["--output", "json", "--limit", "h1:h2:h3:h4:h5", "--shard", &format!("{k}/3")]);
        run.expect_code(0);
        let lines = report_lines(&run.stdout());
        assert_eq!(lines[0]["shard"], format!("{k}/3"));
        for v in lines.iter().filter(|v| v["event"] == "host_result") {
            seen.push(v["host"].as_str().unwrap().to_string());
        }
        let f = dir.path().join(format!("shard{k}.jsonl"));
        std::fs::write(&f, run.stdout()).unwrap();
        files.push(f.display().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["h1", "h2", "h3", "h4", "h5"], "every host in exactly one shard");

    let junit = dir.path().join("merged.xml");
    let mut args = vec!["report".to_string(), "merge".into()];
    args.extend(files.iter().cloned());
    args.extend(["--junit".to_string(), junit.display().to_string()]);
    let merged = provision(&args);
    merged.expect_code(0);
    for h in ["h1", "h2", "h3", "h4", "h5"] {
        assert_eq!(recap_of(&merged.stdout(), h), (1, 0, 0));
    }
    let root = parse_xml(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(root.all("testsuite").len(), 1, "the same play from three shards is one suite");
    assert_eq!(root.all("testsuite")[0].all("testcase").len(), 5);
}

#[test]
fn shard_must_be_k_of_n() {
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "lab", "p.yml", "    - ansible.builtin.debug: msg=hi\n");
    for bad in ["0/3", "4/3", "x", "1/0"] {
        let run = provision([pb.to_str().unwrap(), "-i", "h1,", "--shard", bad]);
        run.expect_code(1);
        assert!(run.stderr().contains(&format!("invalid --shard `{bad}`")), "{}", run.stderr());
        assert!(run.stderr().contains("1 <= K <= N"), "{}", run.stderr());
    }
}

#[test]
fn merge_exit_status_is_that_of_one_run() {
    let dir = tempdir();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let ok = write("ok.jsonl", r#"{"event":"recap","hosts":{"b":{"ok":2,"changed":1,"unreachable":0,"failed":0,"skipped":0,"rescued":0,"ignored":0,"time_ms":5}},"duration_ms":5,"slowest":[]}"#);
    let failed = write("failed.jsonl", r#"{"event":"recap","hosts":{"a":{"ok":1,"changed":0,"unreachable":0,"failed":1,"skipped":0,"rescued":0,"ignored":0,"time_ms":5}},"duration_ms":5,"slowest":[]}"#);
    let unreachable = write("unr.jsonl", r#"{"event":"recap","hosts":{"c":{"ok":0,"changed":0,"unreachable":1,"failed":0,"skipped":0,"rescued":0,"ignored":0,"time_ms":0}},"duration_ms":5,"slowest":[]}"#);
    let unfinished = write("cut.jsonl", r#"{"event":"run_start","version":"0","check":false,"diff":false,"shard":"1/2"}"#);
    let garbage = write("bad.jsonl", "not json\n");
    let run = provision(["report", "merge", &ok, &failed]);
    run.expect_code(2);
    let out = run.stdout();
    assert!(out.find("\na ").unwrap() < out.find("\nb ").unwrap(), "hosts sorted:\n{out}");
    assert_eq!(recap_of(&out, "b"), (2, 1, 0));
    provision(["report", "merge", &ok, &failed, &unreachable]).expect_code(4);
    provision(["report", "merge", &ok]).expect_code(0);
    let cut = provision(["report", "merge", &ok, &unfinished]);
    cut.expect_code(2);
    assert!(cut.stderr().contains("no recap in"), "{}", cut.stderr());
    let bad = provision(["report", "merge", &garbage]);
    bad.expect_code(1);
    assert!(bad.stderr().contains("bad.jsonl:1: not a JSON report line"), "{}", bad.stderr());
}

// ---------------------------------------------------------------------------------

#[test]
fn verify_idempotent_names_the_tasks_that_change_again() {
    let dir = tempdir();
    let tasks = "    - name: make dir\n      ansible.builtin.file: path=/tmp/provision-test-report/idem state=directory\n    - name: write file\n      ansible.builtin.copy: dest=/tmp/provision-test-report/idem/f content=\"x\\n\"\n";
    let pb = write_playbook(dir.path(), "h1", "idem.yml", &format!("{tasks}    - name: what time is it\n      ansible.builtin.command: date\n"));
    let run = lab(&pb, &["--verify-idempotent"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("not idempotent: TASK [what time is it] on h1"), "{err}");
    assert!(!err.contains("make dir") && !err.contains("write file"), "{err}");
    let out = run.stdout();
    assert_eq!(out.matches("PLAY RECAP").count(), 2, "{out}");
    assert!(out.contains("IDEMPOTENCE CHECK: second run"));
    // The second run's recap: only the date task changed.
    let second = &out[out.find("IDEMPOTENCE CHECK").unwrap()..];
    assert_eq!(recap_of(second, "h1"), (3, 1, 0));

    let good = write_playbook(dir.path(), "h1", "good.yml", tasks);
    let run = lab(&good, &["--verify-idempotent"]);
    run.expect_code(0);
    assert!(!run.stderr().contains("not idempotent"), "{}", run.stderr());
    let out = run.stdout();
    let second = &out[out.find("IDEMPOTENCE CHECK").unwrap()..];
    assert_eq!(recap_of(second, "h1"), (2, 0, 0));
}

#[test]
fn check_diff_summary_and_markdown() {
    let dir = tempdir();
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let target = format!("/tmp/provision-test-report/never-{nonce}");
    let pb = write_playbook(
        dir.path(),
        "h1:h2",
        "check.yml",
        &format!("    - name: make a dir\n      ansible.builtin.file: path={target} state=directory\n      when: inventory_hostname == 'h1'\n    - name: look\n      ansible.builtin.debug: msg=hi\n"),
    );
    let md = dir.path().join("summary.md");
    let run = lab(&pb, &["--check", "--diff", "--summary", md.to_str().unwrap()]);
    run.expect_code(0);
    let out = run.stdout();
    let s = &out[out.find("CHANGES THAT WOULD BE MADE").unwrap_or_else(|| panic!("no summary:\n{out}"))..];
    assert!(out.find("PLAY RECAP").unwrap() < out.find("CHANGES THAT WOULD BE MADE").unwrap());
    assert!(s.contains("h1: 1 task would change\n  TASK [make a dir] ("), "{s}");
    assert!(s.contains(&format!("        \"path\": \"{target}\",")), "{s}");
    assert!(s.contains("    +    \"state\": \"directory\""), "{s}");
    assert!(s.contains("h2: no changes"), "{s}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# Changes that would be made\n\n1 of 2 hosts would change.\n"), "{text}");
    assert!(text.contains("## h1\n\n- `make a dir` (`file`, "), "{text}");
    assert!(text.contains("  ```diff\n  --- before\n"), "{text}");
    assert!(text.contains("## h2\n\nNo changes.\n"), "{text}");
    // Check mode changed nothing.
    let f = fleet();
    let stat = provision(["h1", "-i", f.inventory.to_str().unwrap(), "-m", "stat", "-a", &format!("path={target}")]);
    assert!(stat.stdout().contains("\"exists\": false"), "{}", stat.stdout());
    // Without --diff (or outside check mode) the terminal shows no summary.
    let plain = lab(&pb, &["--check"]);
    assert!(!plain.stdout().contains("CHANGES THAT WOULD BE MADE"));
}

#[test]
fn profile_lists_host_times_and_slowest_tasks() {
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        "h1:h2",
        "prof.yml",
        "    - name: quick\n      ansible.builtin.command: \"true\"\n      changed_when: false\n    - name: say\n      ansible.builtin.debug: msg=hi\n",
    );
    let run = lab(&pb, &["--profile"]);
    run.expect_code(0);
    let out = run.stdout();
    let p = &out[out.find("PROFILE ****").unwrap_or_else(|| panic!("{out}"))..];
    assert!(out.find("PLAY RECAP").unwrap() < out.find("PROFILE").unwrap());
    for h in ["h1", "h2"] {
        assert!(p.lines().any(|l| l.starts_with(h) && l.trim_end().ends_with('s')), "{p}");
        assert!(p.lines().any(|l| l.starts_with(&format!("quick ({h}) ---")) && l.ends_with('s')), "{p}");
    }
    assert_eq!(p.lines().filter(|l| l.contains(") ---")).count(), 4, "{p}");
    assert!(p.lines().all(|l| l.chars().count() <= 80), "{p}");
}

#[test]
fn no_colour_when_stdout_is_not_a_terminal() {
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "h1", "c.yml", "    - name: changed\n      ansible.builtin.command: \"true\"\n");
    let f = fleet();
    // NO_COLOR unset on purpose: a pipe alone must turn colours off.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap(), "--profile"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("changed: [h1]"), "{text}");
    assert!(!text.contains('\x1b'), "escape codes on a pipe: {text:?}");
    // On a terminal (a pseudo-terminal from util-linux `script`): colours, unless NO_COLOR.
    if Path::new("/usr/bin/script").exists() {
        let line = format!("{} {} -i {}", env!("CARGO_BIN_EXE_provision"), pb.display(), f.inventory.display());
        let on_tty = |no_color: bool| {
            let mut cmd = std::process::Command::new("/usr/bin/script");
            cmd.args(["-qec", &line, "/dev/null"]).env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env("TERM", "xterm");
            if no_color {
                cmd.env("NO_COLOR", "1");
            }
            String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
        };
        assert!(on_tty(false).contains('\x1b'), "no colours on a terminal");
        let plain = on_tty(true);
        assert!(plain.contains("changed: [h1]") && !plain.contains('\x1b'), "NO_COLOR ignored: {plain:?}");
    }
}

#[test]
fn report_flags_are_for_playbooks() {
    let run = provision(["h1", "-i", "h1,", "-m", "ping", "--output", "json"]);
    run.expect_code(1);
    assert!(run.stderr().contains("apply to playbook runs"), "{}", run.stderr());
}

/// The conformance playbooks (handlers, retries, includes, loops, serial batches with
/// max_fail_percentage) give valid JSON reports, with the same counters as the human
/// PLAY RECAP of the same run.
#[test]
fn conformance_playbooks_report_valid_json_with_the_human_recap() {
    let f = fleet();
    let dir = root().join("tests/playbooks/conformance");
    let mut kinds = std::collections::BTreeSet::new();
    let mut handler_seen = false;
    for (pb, extra) in [
        ("handlers.yml", vec![]),
        ("control.yml", vec![]),
        ("roles.yml", vec!["--skip-tags", "skipme"]),
        ("loops.yml", vec![]),
        ("blocks.yml", vec![]),
        ("serial.yml", vec![]),
    ] {
        let mut args = vec![
            dir.join(pb).display().to_string(),
            "-i".into(),
            f.inventory.display().to_string(),
            "-i".into(),
            dir.join("inventory/conf.ini").display().to_string(),
            "--limit".into(),
            "h1:h2:h3:h4:h5".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let human = provision_in(&dir, &args, &[]);
        args.extend(["--output".to_string(), "json".into()]);
        let json = provision_in(&dir, &args, &[]);
        assert_eq!(json.code(), human.code(), "{pb}: exit status\n{}", json.stderr());
        let lines = report_lines(&json.stdout());
        for v in &lines {
            kinds.insert(v["event"].as_str().unwrap().to_string());
            handler_seen |= v["event"] == "host_result" && v["handler"] == true;
        }
        let recap = lines.iter().find(|v| v["event"] == "recap").unwrap_or_else(|| panic!("{pb}: no recap"));
        let hosts = recap["hosts"].as_object().unwrap();
        assert!(!hosts.is_empty());
        for (h, c) in hosts {
            let want = (c["ok"].as_u64().unwrap() as usize, c["changed"].as_u64().unwrap() as usize, c["failed"].as_u64().unwrap() as usize);
            assert_eq!(recap_of(&human.stdout(), h), want, "{pb}: {h}");
        }
    }
    for k in ["run_start", "play_start", "task_start", "retry", "item_result", "host_result", "included", "no_more_hosts", "recap"] {
        assert!(kinds.contains(k), "no `{k}` event in the conformance runs: {kinds:?}");
    }
    assert!(handler_seen, "no handler result");
}
