//! Output sinks. Ad-hoc runs emit [`Event`]s to the human sink in Ansible's shapes
//! (`minimal`, `oneline` with `-o`). Playbook runs emit [`events::Event`]s to a list of
//! [`events::Sink`]s: the human [`playbook::Printer`], JSON lines, [`junit`], the
//! change [`summary`] (docs/report-schema.md).
//!
//! Colours follow the terminal: none when stdout is not a tty, or when `NO_COLOR` is set.

pub mod events;
pub mod junit;
pub mod live;
pub mod playbook;
pub mod summary;

use std::io::Write;

use console::Style;
use serde_json::{Map, Value};

/// What happened on one host, for one module call.
pub enum Outcome<'a> {
    /// The module ran: its result (with `changed`, `failed`, ...).
    Done(&'a Map<String, Value>),
    /// The host could not be reached (or logged in to).
    Unreachable(&'a str),
}

/// One event of a run.
pub enum Event<'a> {
    HostResult { host: &'a str, module: &'a str, outcome: Outcome<'a> },
    Warning(&'a str),
}

/// Renders events for a person (or a log), the way `ansible` does.
pub struct Human {
    one_line: bool,
    color: bool,
}

/// Modules whose result is shown as `rc=N >>` and their output, not as JSON.
const NO_JSON: &[&str] = &["command", "shell", "raw"];

impl Human {
    pub fn new(one_line: bool) -> Self {
        Human { one_line, color: console::colors_enabled() && console::Term::stdout().is_term() }
    }

    fn paint(&self, style: Style, text: String) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text
        }
    }

    pub fn emit(&self, event: &Event<'_>) {
        let text = match event {
            Event::Warning(w) => {
                let line = self.paint(Style::new().magenta(), format!("[WARNING]: {w}"));
                let _ = writeln!(std::io::stderr(), "{line}");
                return;
            }
            Event::HostResult { host, module, outcome } => self.render(host, module, outcome),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// The text for one host's result (without colour when not on a terminal).
    pub fn render(&self, host: &str, module: &str, outcome: &Outcome<'_>) -> String {
        match outcome {
            Outcome::Unreachable(msg) => {
                let mut m = Map::new();
                m.insert("changed".into(), Value::Bool(false));
                m.insert("msg".into(), Value::String(format!("Failed to connect to the host via ssh: {msg}")));
                m.insert("unreachable".into(), Value::Bool(true));
                let text = if self.one_line {
                    format!("{host} | UNREACHABLE!: Failed to connect to the host via ssh: {msg}")
                } else {
                    format!("{host} | UNREACHABLE! => {}", dump(&m, self.one_line))
                };
                self.paint(Style::new().red(), text)
            }
            Outcome::Done(result) => {
                let failed = result.get("failed").and_then(Value::as_bool).unwrap_or(false);
                let changed = result.get("changed").and_then(Value::as_bool).unwrap_or(false);
                let (state, style) = match (failed, changed) {
                    (true, _) => ("FAILED", Style::new().red()),
                    (false, true) => ("CHANGED", Style::new().yellow()),
                    (false, false) => ("SUCCESS", Style::new().green()),
                };
                let short = module.strip_prefix("ansible.builtin.").or_else(|| module.strip_prefix("ansible.legacy.")).unwrap_or(module);
                let no_json = NO_JSON.contains(&short) && result.contains_key("rc") && !result.contains_key("skipped");
                let text = if no_json {
                    command_message(host, result, state, self.one_line)
                } else if failed {
                    format!("{host} | FAILED! => {}", dump(result, self.one_line))
                } else {
                    format!("{host} | {state} => {}", dump(result, self.one_line))
                };
                self.paint(style, text)
            }
        }
    }
}

fn text_of(result: &Map<String, Value>, key: &str) -> String {
    result.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// `host | CHANGED | rc=0 >>` and the output (`minimal`), or one line (`oneline`).
fn command_message(host: &str, result: &Map<String, Value>, state: &str, one_line: bool) -> String {
    let rc = result.get("rc").map_or("-1".to_string(), Value::to_string);
    let stdout = text_of(result, "stdout");
    let stderr = text_of(result, "stderr");
    if one_line {
        let esc = |s: &str| s.replace('\n', "\\n").replace('\r', "\\r");
        if stderr.is_empty() {
            format!("{host} | {state} | rc={rc} | (stdout) {}", esc(&stdout))
        } else {
            format!("{host} | {state} | rc={rc} | (stdout) {} (stderr) {}", esc(&stdout), esc(&stderr))
        }
    } else {
        let mut buf = format!("{host} | {state} | rc={rc} >>\n{stdout}");
        if !stderr.is_empty() {
            if !buf.ends_with('\n') {
                buf.push('\n');
            }
            buf.push_str(&stderr);
        }
        let msg = text_of(result, "msg");
        if !msg.is_empty() {
            if !buf.ends_with('\n') {
                buf.push('\n');
            }
            buf.push_str(&msg);
        }
        buf
    }
}

/// Ansible's `_dump_results` for ad-hoc output: internal keys dropped, sorted keys,
/// 4-space indent; with `-o`, `indent=0` joined onto one line (`{"a": 1,"b": 2}`).
pub fn dump(result: &Map<String, Value>, one_line: bool) -> String {
    let shown: Map<String, Value> =
        result.iter().filter(|(k, _)| !k.starts_with("_ansible") && *k != "invocation").map(|(k, v)| (k.clone(), v.clone())).collect();
    if one_line {
        pyjson(&shown, Some(0)).replace('\n', "")
    } else {
        pyjson(&shown, Some(4))
    }
}

/// Python's `json.dumps(v, indent=indent, sort_keys=True, ensure_ascii=False)`:
/// `", "` and `": "` separators on one line, or `","` and newlines with an indent.
pub fn pyjson(map: &Map<String, Value>, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_py(&Value::Object(map.clone()), indent, 0, &mut out);
    out
}

fn write_py(v: &Value, indent: Option<usize>, level: usize, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(": ");
                write_py(&m[*k], indent, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                write_py(x, indent, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn human(one_line: bool) -> Human {
        Human { one_line, color: false }
    }

    #[test]
    fn ping_success_like_ansible() {
        let r = json!({"ping": "pong", "changed": false});
        let text = human(false).render("h1", "ping", &Outcome::Done(r.as_object().unwrap()));
        assert_eq!(text, "h1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}");
        let text = human(true).render("h1", "ping", &Outcome::Done(r.as_object().unwrap()));
        assert_eq!(text, "h1 | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}");
    }

    #[test]
    fn command_changed_and_failed() {
        let r = json!({"changed": true, "rc": 0, "stdout": "Linux", "stderr": "", "msg": ""});
        assert_eq!(human(false).render("h1", "command", &Outcome::Done(r.as_object().unwrap())), "h1 | CHANGED | rc=0 >>\nLinux");
        let r = json!({"changed": true, "failed": true, "rc": 2, "stdout": "", "stderr": "ls: cannot access", "msg": "non-zero return code"});
        assert_eq!(
            human(false).render("h1", "shell", &Outcome::Done(r.as_object().unwrap())),
            "h1 | FAILED | rc=2 >>\nls: cannot access\nnon-zero return code"
        );
        let r = json!({"changed": true, "rc": 0, "stdout": "a\nb", "stderr": ""});
        assert_eq!(human(true).render("h1", "command", &Outcome::Done(r.as_object().unwrap())), "h1 | CHANGED | rc=0 | (stdout) a\\nb");
    }

    #[test]
    fn unreachable() {
        let text = human(false).render("h9", "ping", &Outcome::Unreachable("ssh: connect to host 127.0.0.1 port 1: Connection refused"));
        assert!(text.starts_with("h9 | UNREACHABLE! => {\n    \"changed\": false,\n    \"msg\": \"Failed to connect to the host via ssh: ssh: connect"));
        assert!(text.ends_with("\"unreachable\": true\n}"));
    }
}

/// `provision doc MODULE`: the module's purpose, arguments, examples and return values.
pub fn doc_text(doc: &provision_modules::ModuleDoc) -> String {
    let mut s = format!("> {} — {}\n\n{}\n\nOPTIONS (= is mandatory):\n", doc.name.to_uppercase(), doc.short, doc.description);
    if doc.free_form {
        s.push_str("\n= free_form\n        The command to run, as the module's free-form text.\n");
    }
    for a in doc.args {
        s.push_str(&format!("\n{} {}\n        {}\n        type: {}", if a.required { "=" } else { "-" }, a.name, a.doc, a.kind.name()));
        if let Some(d) = a.default {
            s.push_str(&format!("\n        default: {d}"));
        }
        if !a.aliases.is_empty() {
            s.push_str(&format!("\n        aliases: {}", a.aliases.join(", ")));
        }
        if !a.choices.is_empty() {
            s.push_str(&format!("\n        choices: {}", a.choices.join(", ")));
        }
        s.push('\n');
    }
    s.push_str(&format!("\nEXAMPLES:\n\n{}\nRETURN VALUES:\n", doc.examples));
    for (k, v) in doc.returns {
        s.push_str(&format!("- {k}: {v}\n"));
    }
    s
}

/// A value as Python's `json.dumps` would write it on one line (loop item labels).
pub fn pyjson_value(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, None, 0, &mut out);
    out
}
