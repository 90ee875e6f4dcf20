//! The playbook output of Ansible's `default` callback: banners, one line per host
//! result, `...ignoring`, and the `PLAY RECAP`.

use std::io::Write;

use console::Style;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::events::{Event, HostResult, Sink, Times};
use super::pyjson;

/// A host's counters in the recap, counted the way Ansible counts them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostStats {
    pub ok: usize,
    pub changed: usize,
    pub unreachable: usize,
    pub failed: usize,
    pub skipped: usize,
    pub rescued: usize,
    pub ignored: usize,
}

/// What one host's task result was, for the line it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// Prints playbook events as ansible-playbook does.
#[derive(Clone)]
pub struct Printer {
    color: bool,
    pub verbosity: u8,
    pub quiet: bool,
    /// `--profile`: the recap adds each host's time and the slowest tasks.
    pub profile: bool,
}

impl Printer {
    pub fn new(verbosity: u8) -> Self {
        Printer { color: console::colors_enabled() && console::Term::stdout().is_term(), verbosity, quiet: false, profile: false }
    }

    fn paint(&self, style: Style, text: String) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if super::live::enabled() {
            super::live::print_stdout(text);
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// `\nTASK [name] ****...` padded with stars to 80 columns.
    pub fn banner(&self, text: &str) {
        let stars = 79usize.saturating_sub(text.chars().count()).max(3);
        self.line(&format!("\n{text} {}", "*".repeat(stars)));
    }

    pub fn play(&self, name: &str) {
        self.banner(&format!("PLAY [{name}]"));
    }

    pub fn task(&self, name: &str) {
        self.banner(&format!("TASK [{name}]"));
    }

    pub fn handler(&self, name: &str) {
        self.banner(&format!("RUNNING HANDLER [{name}]"));
    }

    pub fn warning(&self, text: &str) {
        let line = self.paint(Style::new().magenta(), format!("[WARNING]: {text}"));
        if super::live::enabled() {
            super::live::stderr_line(&line);
            return;
        }
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    pub fn text(&self, text: &str) {
        self.line(text);
    }

    fn host_label(host: &str, delegated: Option<&str>) -> String {
        match delegated {
            Some(d) if d != host => format!("{host} -> {d}"),
            _ => host.to_string(),
        }
    }

    /// The line for one host's result (or one loop item's, with `item`).
    pub fn result(&self, host: &str, delegated: Option<&str>, status: Status, result: &Map<String, Value>, item: Option<&str>, action: &str) {
        let label = Self::host_label(host, delegated);
        let shown = clean(result, action);
        let always = result.get("_ansible_verbose_always").and_then(Value::as_bool).unwrap_or(false);
        let verbose = self.verbosity > 0 || always;
        let indent = if always || self.verbosity > 2 { Some(4) } else { None };
        let (word, style) = match status {
            Status::Ok => ("ok", Style::new().green()),
            Status::Changed => ("changed", Style::new().yellow()),
            Status::Skipped => ("skipping", Style::new().cyan()),
            Status::Failed => ("failed", Style::new().red()),
            Status::Unreachable => ("fatal", Style::new().red()),
        };
        let text = match (status, item) {
            (Status::Failed, None) => format!("fatal: [{label}]: FAILED! => {}", pyjson(&shown, indent)),
            (Status::Unreachable, _) => format!("fatal: [{label}]: UNREACHABLE! => {}", pyjson(&shown, indent)),
            (Status::Failed, Some(it)) => format!("failed: [{label}] (item={it}) => {}", pyjson(&shown, indent)),
            (Status::Skipped, Some(it)) if verbose => format!("skipping: [{label}] => (item={it})  => {}", pyjson(&shown, indent)),
            (Status::Skipped, Some(it)) => format!("skipping: [{label}] => (item={it}) "),
            (_, Some(it)) if verbose => format!("{word}: [{label}] => (item={it}) => {}", pyjson(&shown, indent)),
            (_, Some(it)) => format!("{word}: [{label}] => (item={it})"),
            (_, None) if verbose && !(status == Status::Skipped && self.verbosity == 0) => format!("{word}: [{label}] => {}", pyjson(&shown, indent)),
            (_, None) => format!("{word}: [{label}]"),
        };
        self.line(&self.paint(style, text));
    }

    /// `--diff`: the before/after of a result, as a unified diff (Ansible's `_get_diff`).
    pub fn diff(&self, diff: &Value) {
        for (line, diff_line) in diff_lines(diff) {
            if !diff_line {
                self.line(&line);
                continue;
            }
            let styled = if line.starts_with('+') && !line.starts_with("+++") {
                self.paint(Style::new().green(), line)
            } else if line.starts_with('-') && !line.starts_with("---") {
                self.paint(Style::new().red(), line)
            } else if line.starts_with("@@") {
                self.paint(Style::new().cyan(), line)
            } else {
                line
            };
            self.line(&styled);
        }
    }

    pub fn ignoring(&self) {
        self.line(&self.paint(Style::new().cyan(), "...ignoring".into()));
    }

    /// `PLAY RECAP` with one line per host.
    pub fn recap(&self, stats: &IndexMap<String, HostStats>) {
        self.banner("PLAY RECAP");
        for (host, s) in stats {
            let host_style = if s.failed > 0 || s.unreachable > 0 {
                Style::new().red()
            } else if s.changed > 0 {
                Style::new().yellow()
            } else {
                Style::new().green()
            };
            let host_text = if self.color { self.paint(host_style, format!("{host:<26}")) } else { format!("{host:<26}") };
            let field = |name: &str, n: usize, style: Style| {
                let t = format!("{name}={n:<4}");
                if n > 0 {
                    self.paint(style, t)
                } else {
                    t
                }
            };
            self.line(&format!(
                "{host_text} : {} {} {} {} {} {} {}",
                field("ok", s.ok, Style::new().green()),
                field("changed", s.changed, Style::new().yellow()),
                field("unreachable", s.unreachable, Style::new().red()),
                field("failed", s.failed, Style::new().red()),
                field("skipped", s.skipped, Style::new().cyan()),
                field("rescued", s.rescued, Style::new().green()),
                field("ignored", s.ignored, Style::new().magenta()),
            ));
        }
        self.line("");
    }
}

impl Sink for Printer {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            // Errors are printed by `main`, on stderr.
            Event::RunStart { .. } | Event::RunError { .. } => {}
            Event::PlayStart { name, hosts, .. } => {
                self.play(name);
                if hosts.is_empty() {
                    self.text("skipping: no hosts matched");
                }
            }
            Event::TaskStart { task, handler: true, .. } => self.handler(task),
            Event::TaskStart { task, .. } => self.task(task),
            Event::Retry { task, host, retries_left, .. } => self.text(&format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left).")),
            Event::HostResult(r) => self.host_result(r),
            Event::Included { target, role, hosts, item, .. } => {
                let item = item.map(|l| format!(" => (item={l})")).unwrap_or_default();
                if *role {
                    self.text(&format!("included: {target} for {}", hosts.join(", ")));
                } else {
                    self.text(&format!("included: {target} for {}{item}", hosts.join(", ")));
                }
            }
            Event::NoMoreHosts { .. } => self.text("\nNO MORE HOSTS LEFT *************************************************************"),
            Event::Recap { stats, times } => {
                self.recap(stats);
                if self.profile {
                    self.profile(times);
                }
            }
        }
    }
}

impl Printer {
    /// One host's result: its diffs (with `--diff`), its line (or one per loop item),
    /// and `...ignoring`.
    fn host_result(&self, r: &HostResult<'_>) {
        // Includes show as `included:` lines once loaded, not as results.
        if matches!(r.action, "include_tasks" | "include_role") && !matches!(r.status, Status::Failed | Status::Skipped | Status::Unreachable) {
            return;
        }
        if r.diff {
            let results: Vec<&Map<String, Value>> = if r.items.is_empty() { vec![r.result] } else { r.items.iter().map(|(_, _, m)| m).collect() };
            for m in results {
                if let Some(d) = m.get("diff") {
                    self.diff(d);
                }
            }
        }
        if r.looping && !r.items.is_empty() {
            for (status, label, m) in r.items {
                self.result(r.host, r.delegated, *status, m, Some(label), r.action);
            }
            if r.status == Status::Skipped {
                self.result(r.host, r.delegated, Status::Skipped, r.result, None, r.action);
            }
            // A failed loop: the items already told the story; Ansible prints nothing more.
        } else {
            self.result(r.host, r.delegated, r.status, r.result, None, r.action);
        }
        if r.ignored && matches!(r.status, Status::Failed | Status::Unreachable) {
            self.ignoring();
        }
    }

    /// `--profile`: each host's total task time, then the ten slowest task runs, in the
    /// shape of Ansible's `profile_tasks` callback.
    pub fn profile(&self, times: &Times) {
        self.banner("PROFILE");
        let mut hosts: Vec<(&String, &std::time::Duration)> = times.hosts.iter().collect();
        hosts.sort_by(|a, b| a.0.cmp(b.0));
        for (h, d) in hosts {
            self.line(&format!("{h:<26} : {:>9.2}s", d.as_secs_f64()));
        }
        self.line(&format!("{:<26} : {:>9.2}s", "total (wall clock)", times.total.as_secs_f64()));
        self.line(&"=".repeat(79));
        for (task, host, d) in times.slowest(10) {
            let label = format!("{task} ({host}) ");
            let secs = format!(" {:.2}s", d.as_secs_f64());
            let dashes = 79usize.saturating_sub(label.chars().count() + secs.len()).max(3);
            self.line(&format!("{label}{}{secs}", "-".repeat(dashes)));
        }
        self.line("");
    }
}

/// The lines `--diff` shows for a result's `diff` (one entry or a list), without colour;
/// `true` marks the lines of a unified diff (the rest is prepared text and blank lines).
pub fn diff_lines(diff: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let entries: Vec<&Value> = match diff {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![diff],
        _ => return out,
    };
    for d in entries {
        if let Some(p) = d.get("prepared").and_then(Value::as_str) {
            out.push((p.to_string(), false));
            continue;
        }
        let as_text = |v: Option<&Value>| -> String {
            match v {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) | Some(v @ Value::Array(_)) => {
                    let mut t = super::pyjson(&v.as_object().cloned().unwrap_or_default(), Some(4));
                    if v.is_array() {
                        t = serde_json::to_string_pretty(v).unwrap_or_default();
                    }
                    t.push('\n');
                    t
                }
                Some(Value::Null) | None => String::new(),
                Some(other) => format!("{other}\n"),
            }
        };
        let before = as_text(d.get("before"));
        let after = as_text(d.get("after"));
        if before == after {
            continue;
        }
        let bh = d.get("before_header").and_then(Value::as_str).map(|h| format!("before: {h}")).unwrap_or_else(|| "before".into());
        let ah = d.get("after_header").and_then(Value::as_str).map(|h| format!("after: {h}")).unwrap_or_else(|| "after".into());
        let text = similar::TextDiff::from_lines(&before, &after).unified_diff().context_radius(3).header(&bh, &ah).to_string();
        for line in text.lines() {
            out.push((line.to_string(), true));
        }
        out.push((String::new(), false));
    }
    out
}

/// What the callback shows of a result: internal keys dropped; for `debug` with `msg`,
/// only `msg`.
fn clean(result: &Map<String, Value>, action: &str) -> Map<String, Value> {
    if let Some(Value::Object(censored)) = result.get("_provision_censored") {
        let mut c = censored.clone();
        c.remove("failed");
        return c;
    }
    // Ansible's TaskResult.clean_copy: `failed` and `skipped` are not shown, nor are
    // internal keys.
    let mut m: Map<String, Value> = result
        .iter()
        .filter(|(k, _)| !k.starts_with("_ansible") && !k.starts_with("_provision") && !["invocation", "failed", "skipped"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if action == "debug" {
        if m.contains_key("msg") {
            m.retain(|k, _| k == "msg");
        } else {
            for k in ["changed", "invocation", "skip_reason"] {
                m.remove(k);
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn banners_are_eighty_columns() {
        let text = format!("TASK [x] {}", "*".repeat(71));
        assert_eq!(text.len(), 80);
    }
}
