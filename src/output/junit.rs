//! `--junit FILE`: a JUnit XML report, as CI systems read them. One `<testsuite>` per
//! play, one `<testcase>` per task and host (`classname` = `play/host`, `name` = the
//! task). A failure carries the module's `msg`, `rc` and `stderr`; an unreachable host
//! is an `<error>`; a skipped task is `<skipped/>`; a failure let through by
//! `ignore_errors` passes, with the message in `<system-out>` (as Ansible's junit
//! callback does by default).
//!
//! The report is built from the JSON form of the events (see [`Event::to_json`]), so
//! `provision report merge --junit` makes the same report from `--output json` files.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::Value;

use super::events::{Event, Sink};

#[derive(Debug, Clone)]
enum Outcome {
    Passed(Option<String>),
    Failure { message: String, body: String },
    Error { message: String },
    Skipped { message: String },
}

#[derive(Debug, Clone)]
struct Case {
    classname: String,
    name: String,
    seconds: f64,
    outcome: Outcome,
}

/// The JUnit report being built.
#[derive(Debug, Default)]
pub struct Junit {
    path: Option<PathBuf>,
    suites: IndexMap<String, Vec<Case>>,
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `msg`, `rc` and `stderr` of a failed result (and of its failed loop items).
fn failure_body(result: &Value) -> String {
    let mut body = String::new();
    let mut one = |r: &Value, prefix: &str| {
        if let Some(rc) = r.get("rc") {
            body.push_str(&format!("{prefix}rc: {rc}\n"));
        }
        let msg = text(r.get("msg"));
        if !msg.is_empty() {
            body.push_str(&format!("{prefix}msg: {msg}\n"));
        }
        let stderr = text(r.get("stderr"));
        if !stderr.is_empty() {
            body.push_str(&format!("{prefix}stderr:\n{stderr}\n"));
        }
    };
    one(result, "");
    if let Some(Value::Array(items)) = result.get("results") {
        for it in items {
            if it.get("failed").and_then(Value::as_bool) == Some(true) {
                let label = it.get("item").map(|i| text(Some(i))).unwrap_or_default();
                one(it, &format!("item={label}: "));
            }
        }
    }
    body
}

impl Junit {
    /// A report written to `path` when the run closes (`None`: build only).
    pub fn new(path: Option<PathBuf>) -> Self {
        Junit { path, suites: IndexMap::new() }
    }

    /// Take in one event in its JSON form; events other than plays and host results
    /// are ignored.
    pub fn feed(&mut self, v: &Value) {
        let play = text(v.get("play"));
        match v.get("event").and_then(Value::as_str) {
            Some("play_start") => {
                self.suites.entry(play).or_default();
            }
            Some("host_result") => {
                let action = text(v.get("action"));
                let status = text(v.get("status"));
                if matches!(action.as_str(), "include_tasks" | "include_role") && status == "ok" {
                    return;
                }
                let host = text(v.get("host"));
                let result = v.get("result").cloned().unwrap_or(Value::Null);
                let ignored = v.get("ignored").and_then(Value::as_bool).unwrap_or(false);
                let msg = text(result.get("msg"));
                let outcome = match status.as_str() {
                    "failed" | "unreachable" if ignored => Outcome::Passed(Some(format!("ignored {status}: {msg}"))),
                    "failed" => Outcome::Failure { message: msg, body: failure_body(&result) },
                    "unreachable" => Outcome::Error { message: msg },
                    "skipped" => {
                        let reason = text(result.get("skip_reason"));
                        let cond = text(result.get("false_condition"));
                        Outcome::Skipped { message: if cond.is_empty() { reason } else { format!("{reason}: {cond}") } }
                    }
                    _ => Outcome::Passed(None),
                };
                let seconds = v.get("duration_ms").and_then(Value::as_u64).unwrap_or(0) as f64 / 1000.0;
                let case = Case { classname: format!("{play}/{host}"), name: text(v.get("task")), seconds, outcome };
                self.suites.entry(play).or_default().push(case);
            }
            _ => {}
        }
    }

    /// The XML document.
    pub fn to_xml(&self) -> String {
        let count = |cases: &[Case]| {
            let mut c = (cases.len(), 0, 0, 0, 0.0);
            for k in cases {
                match k.outcome {
                    Outcome::Failure { .. } => c.1 += 1,
                    Outcome::Error { .. } => c.2 += 1,
                    Outcome::Skipped { .. } => c.3 += 1,
                    Outcome::Passed(_) => {}
                }
                c.4 += k.seconds;
            }
            c
        };
        let all: Vec<Case> = self.suites.values().flatten().cloned().collect();
        let (t, f, e, s, secs) = count(&all);
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!("<testsuites name=\"provision\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{secs:.3}\">\n"));
        for (i, (play, cases)) in self.suites.iter().enumerate() {
            let (t, f, e, s, secs) = count(cases);
            x.push_str(&format!(
                "  <testsuite name=\"{}\" id=\"{i}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{secs:.3}\">\n",
                escape(play)
            ));
            for c in cases {
                x.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"", escape(&c.classname), escape(&c.name), c.seconds));
                match &c.outcome {
                    Outcome::Passed(None) => x.push_str("/>\n"),
                    Outcome::Passed(Some(out)) => x.push_str(&format!(">\n      <system-out>{}</system-out>\n    </testcase>\n", escape(out))),
                    Outcome::Failure { message, body } => x.push_str(&format!(
                        ">\n      <failure message=\"{}\" type=\"failed\">{}</failure>\n    </testcase>\n",
                        escape(message),
                        escape(body)
                    )),
                    Outcome::Error { message } => {
                        x.push_str(&format!(">\n      <error message=\"{}\" type=\"unreachable\"/>\n    </testcase>\n", escape(message)))
                    }
                    Outcome::Skipped { message } => x.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", escape(message))),
                }
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }

    /// Write the report to its file (if it has one).
    pub fn write(&self) -> std::io::Result<()> {
        match &self.path {
            Some(p) => std::fs::write(p, self.to_xml()),
            None => Ok(()),
        }
    }
}

impl Sink for Junit {
    fn event(&mut self, event: &Event<'_>) {
        for v in event.to_json() {
            self.feed(&v);
        }
    }
    fn close(&mut self) -> std::io::Result<()> {
        self.write()
    }
}

/// Text for XML attributes and content: the five markup characters escaped, and the
/// characters XML 1.0 forbids (control characters such as the ESC of colour codes)
/// written as `\u{..}`.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(escape("\x1b[31mred\n"), "\\u{1b}[31mred\n");
    }

    #[test]
    fn cases_per_task_and_host() {
        let mut j = Junit::new(None);
        j.feed(&json!({"event": "play_start", "play": "P"}));
        j.feed(&json!({"event": "host_result", "play": "P", "task": "t<1>", "host": "h1", "status": "failed", "ignored": false,
            "result": {"msg": "non-zero return code", "rc": 2, "stderr": "boom & bust"}, "duration_ms": 1500}));
        j.feed(&json!({"event": "host_result", "play": "P", "task": "t2", "host": "h1", "status": "skipped", "result": {"skip_reason": "Conditional result was False", "false_condition": "x"}}));
        j.feed(&json!({"event": "host_result", "play": "P", "task": "t3", "host": "h2", "status": "failed", "ignored": true, "result": {"msg": "meh"}}));
        let x = j.to_xml();
        assert!(x.contains("<testsuite name=\"P\" id=\"0\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.500\">"), "{x}");
        assert!(x.contains("<testcase classname=\"P/h1\" name=\"t&lt;1&gt;\" time=\"1.500\">"), "{x}");
        assert!(x.contains("<failure message=\"non-zero return code\" type=\"failed\">rc: 2\nmsg: non-zero return code\nstderr:\nboom &amp; bust\n</failure>"), "{x}");
        assert!(x.contains("<skipped message=\"Conditional result was False: x\"/>"), "{x}");
        assert!(x.contains("<system-out>ignored failed: meh</system-out>"), "{x}");
    }
}
