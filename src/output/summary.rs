//! The change summary: per host, the tasks that changed (or, under `--check`, would
//! change) with their diffs, and the tasks that failed. A reviewer reads it instead of
//! the whole log, e.g. pasted into a pull request.
//!
//! - `--check --diff` prints it after the `PLAY RECAP` as `CHANGES THAT WOULD BE MADE`
//!   (human output only);
//! - `--summary FILE` writes it as Markdown, for any run (check mode or not).

use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::Value;

use super::events::{public_result, Event, Sink};
use super::playbook::{diff_lines, Status};

#[derive(Debug, Clone)]
struct Entry {
    task: String,
    path: String,
    action: String,
    failed: Option<String>,
    diff: Vec<String>,
}

/// Collects changes from the events; renders at the recap.
pub struct Summary {
    check: bool,
    print: bool,
    file: Option<PathBuf>,
    hosts: IndexMap<String, Vec<Entry>>,
    markdown: Option<String>,
}

impl Summary {
    /// `print`: show the text summary after the recap; `file`: write Markdown there.
    pub fn new(check: bool, print: bool, file: Option<PathBuf>) -> Self {
        Summary { check, print, file, hosts: IndexMap::new(), markdown: None }
    }

    fn title(&self) -> &'static str {
        if self.check {
            "CHANGES THAT WOULD BE MADE"
        } else {
            "CHANGES MADE"
        }
    }

    /// The summary for a person at a terminal, for these hosts (sorted).
    pub fn text(&self, hosts: &[String]) -> String {
        let title = self.title();
        let mut s = format!("\n{title} {}\n", "*".repeat(79usize.saturating_sub(title.len()).max(3)));
        for h in hosts {
            let entries = self.hosts.get(h).map(Vec::as_slice).unwrap_or_default();
            if entries.is_empty() {
                s.push_str(&format!("{h}: no changes\n"));
                continue;
            }
            let n = entries.iter().filter(|e| e.failed.is_none()).count();
            s.push_str(&format!("{h}: {n} task{} {}\n", if n == 1 { "" } else { "s" }, if self.check { "would change" } else { "changed" }));
            for e in entries {
                match &e.failed {
                    Some(msg) => s.push_str(&format!("  FAILED TASK [{}] ({}): {msg}\n", e.task, e.path)),
                    None => s.push_str(&format!("  TASK [{}] ({})\n", e.task, e.path)),
                }
                for l in &e.diff {
                    s.push_str(&format!("    {l}\n").replace("    \n", "\n"));
                }
            }
        }
        s
    }

    /// The summary as Markdown.
    pub fn markdown(&self, hosts: &[String]) -> String {
        let title = if self.check { "Changes that would be made" } else { "Changes made" };
        let mut s = format!("# {title}\n\n");
        let changed: usize = hosts.iter().filter(|h| self.hosts.get(*h).is_some_and(|e| e.iter().any(|x| x.failed.is_none()))).count();
        s.push_str(&format!("{changed} of {} host{} {}.\n", hosts.len(), if hosts.len() == 1 { "" } else { "s" }, if self.check { "would change" } else { "changed" }));
        for h in hosts {
            s.push_str(&format!("\n## {h}\n\n"));
            let entries = self.hosts.get(h).map(Vec::as_slice).unwrap_or_default();
            if entries.is_empty() {
                s.push_str("No changes.\n");
                continue;
            }
            for e in entries {
                let task = e.task.replace('`', "'");
                match &e.failed {
                    Some(msg) => s.push_str(&format!("- **FAILED** `{task}` (`{}`, {}): {}\n", e.action, e.path, msg.replace('\n', " "))),
                    None => s.push_str(&format!("- `{task}` (`{}`, {})\n", e.action, e.path)),
                }
                if !e.diff.is_empty() {
                    let body = e.diff.join("\n");
                    let fence = if body.contains("```") { "~~~~" } else { "```" };
                    s.push_str(&format!("\n  {fence}diff\n"));
                    for l in &e.diff {
                        s.push_str(&format!("  {l}\n").replace("  \n", "\n"));
                    }
                    s.push_str(&format!("  {fence}\n\n"));
                }
            }
        }
        s
    }

    /// The Markdown made at the recap (for tests and `report merge`).
    pub fn rendered_markdown(&self) -> Option<&str> {
        self.markdown.as_deref()
    }
}

impl Sink for Summary {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::HostResult(r) => {
                let changed = r.status == Status::Changed || r.items.iter().any(|(s, ..)| *s == Status::Changed);
                let failed = matches!(r.status, Status::Failed | Status::Unreachable) && !r.ignored;
                if !changed && !failed {
                    return;
                }
                // Diffs as reports see them: nothing of a `no_log` result.
                let public = public_result(r.result);
                let mut diffs: Vec<Value> = Vec::new();
                if let Some(d) = public.get("diff") {
                    diffs.push(d.clone());
                }
                if let Some(Value::Array(items)) = public.get("results") {
                    diffs.extend(items.iter().filter_map(|i| i.get("diff").cloned()));
                }
                let mut diff = Vec::new();
                for d in &diffs {
                    diff.extend(diff_lines(d).into_iter().map(|(l, _)| l));
                }
                while diff.last().is_some_and(String::is_empty) {
                    diff.pop();
                }
                let failed = failed.then(|| public.get("msg").and_then(Value::as_str).unwrap_or(if r.status == Status::Unreachable { "unreachable" } else { "failed" }).to_string());
                self.hosts.entry(r.host.to_string()).or_default().push(Entry {
                    task: r.task.to_string(),
                    path: r.path.to_string(),
                    action: r.action.to_string(),
                    failed,
                    diff,
                });
            }
            Event::Recap { stats, .. } => {
                let mut hosts: Vec<String> = stats.keys().cloned().collect();
                for h in self.hosts.keys() {
                    if !hosts.contains(h) {
                        hosts.push(h.clone());
                    }
                }
                hosts.sort();
                if self.print {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = write!(out, "{}", self.text(&hosts));
                    let _ = out.flush();
                }
                self.markdown = Some(self.markdown(&hosts));
            }
            _ => {}
        }
    }

    fn close(&mut self) -> std::io::Result<()> {
        match (&self.file, &self.markdown) {
            (Some(p), Some(m)) => std::fs::write(p, m),
            (Some(p), None) => std::fs::write(p, self.markdown(&self.hosts.keys().cloned().collect::<Vec<_>>())),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::events::HostResult;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn changed_tasks_with_diffs_per_host() {
        let mut s = Summary::new(true, false, None);
        let result = json!({"changed": true, "diff": {"before": "a\n", "after": "b\n", "before_header": "/etc/x", "after_header": "/etc/x"}});
        let r = HostResult {
            play: "p",
            task: "write x",
            path: "site.yml:4",
            action: "copy",
            host: "h1",
            delegated: None,
            status: Status::Changed,
            result: result.as_object().unwrap(),
            items: &[],
            looping: false,
            ignored: false,
            diff: true,
            handler: false,
            duration: Duration::ZERO,
        };
        s.event(&Event::HostResult(r));
        let text = s.text(&["h1".into(), "h2".into()]);
        assert!(text.starts_with("\nCHANGES THAT WOULD BE MADE *****"), "{text}");
        assert!(text.contains("h1: 1 task would change\n  TASK [write x] (site.yml:4)\n    --- before: /etc/x\n    +++ after: /etc/x\n    @@ -1 +1 @@\n    -a\n    +b\n"), "{text}");
        assert!(text.contains("h2: no changes\n"), "{text}");
        let md = s.markdown(&["h1".into()]);
        assert!(md.contains("## h1\n\n- `write x` (`copy`, site.yml:4)\n\n  ```diff\n  --- before: /etc/x\n"), "{md}");
    }
}
