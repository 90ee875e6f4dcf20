//! The playbook event stream. The engine emits [`Event`]s to [`Events`], which hands
//! each one to every [`Sink`] in turn: the human [`Printer`](super::playbook::Printer),
//! the JSON-lines writer, the JUnit report, the check-mode summary. So the terminal,
//! the CI report and the summary can never tell different stories.
//!
//! Events borrow from the engine; a sink that keeps something copies it. Results are
//! handed over as the module returned them (internal `_provision*` keys included, so
//! the human printer can render them as Ansible does); [`public_result`] is what any
//! report shows: `no_log` censoring applied, internal keys dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::playbook::{HostStats, Status};

/// One host's result for one task (or handler).
pub struct HostResult<'a> {
    pub play: &'a str,
    /// The task's name as shown in its banner.
    pub task: &'a str,
    /// `file:line` of the task.
    pub path: &'a str,
    /// The action (module or engine action) as resolved, e.g. `command`.
    pub action: &'a str,
    pub host: &'a str,
    pub delegated: Option<&'a str>,
    pub status: Status,
    /// The result; for a loop, the aggregate with `results`.
    pub result: &'a Map<String, Value>,
    /// A loop's items: status, label, result.
    pub items: &'a [(Status, String, Map<String, Value>)],
    /// The task has a loop (items are shown one by one).
    pub looping: bool,
    /// A failure (or unreachable) that `ignore_errors`/`ignore_unreachable` let pass.
    pub ignored: bool,
    /// `--diff` (or the task's `diff:`) applies, and the task is not `no_log`.
    pub diff: bool,
    pub handler: bool,
    pub duration: Duration,
}

/// What happened during a playbook run, in order.
pub enum Event<'a> {
    /// Before the first play: how the run was asked for.
    RunStart { check: bool, diff: bool, shard: Option<(u32, u32)> },
    PlayStart { name: &'a str, pattern: &'a str, hosts: &'a [String], path: &'a str },
    TaskStart { play: &'a str, task: &'a str, action: &'a str, path: &'a str, handler: bool },
    /// `until` did not hold yet; the task runs again on `host`.
    Retry { play: &'a str, task: &'a str, host: &'a str, retries_left: u64 },
    HostResult(HostResult<'a>),
    /// A dynamic include was loaded for `hosts` (`target`: the file, or the role's name).
    Included { play: &'a str, target: &'a str, role: bool, hosts: &'a [String], item: Option<&'a str> },
    /// `max_fail_percentage` was crossed: the play stops.
    NoMoreHosts { play: &'a str },
    /// The run stopped on an error (a bad variable in a play, an include that cannot be
    /// loaded...): no recap follows.
    RunError { message: &'a str },
    /// The end of the run: the counters per host, and how long things took.
    Recap { stats: &'a IndexMap<String, HostStats>, times: &'a Times },
}

/// Time spent, collected from the host results as they pass.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// Per host: the sum of its task durations.
    pub hosts: IndexMap<String, Duration>,
    /// Every (task, host, duration), in the order they finished.
    pub tasks: Vec<(String, String, Duration)>,
    /// From the first event to the recap.
    pub total: Duration,
}

impl Times {
    /// The `n` slowest task runs, slowest first (ties in the order they ran).
    pub fn slowest(&self, n: usize) -> Vec<&(String, String, Duration)> {
        let mut v: Vec<&(String, String, Duration)> = self.tasks.iter().collect();
        v.sort_by(|a, b| b.2.cmp(&a.2));
        v.truncate(n);
        v
    }
}

/// Something that renders or records events.
pub trait Sink: Send {
    fn event(&mut self, event: &Event<'_>);
    /// The run is over (also after an error): write files, flush.
    fn close(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Inner {
    sinks: Vec<Box<dyn Sink>>,
    times: Times,
    start: Instant,
}

/// The list of sinks the engine emits to. Cloning shares the sinks (the `free`
/// strategy's per-host engines emit to the same ones).
#[derive(Clone)]
pub struct Events {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new(vec![])
    }
}

impl Events {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Events { inner: Arc::new(Mutex::new(Inner { sinks, times: Times::default(), start: Instant::now() })) }
    }

    pub fn add(&self, sink: Box<dyn Sink>) {
        self.lock().sinks.push(sink);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand `event` to every sink, in order.
    pub fn emit(&self, event: &Event<'_>) {
        let mut inner = self.lock();
        if let Event::HostResult(r) = event {
            *inner.times.hosts.entry(r.host.to_string()).or_default() += r.duration;
            inner.times.tasks.push((r.task.to_string(), r.host.to_string(), r.duration));
        }
        for s in inner.sinks.iter_mut() {
            s.event(event);
        }
    }

    /// Emit the recap with the times collected so far.
    pub fn recap(&self, stats: &IndexMap<String, HostStats>) {
        let times = {
            let mut inner = self.lock();
            inner.times.total = inner.start.elapsed();
            inner.times.clone()
        };
        self.emit(&Event::Recap { stats, times: &times });
    }

    /// Close every sink; the first error is returned (every sink is closed).
    pub fn close(&self) -> std::io::Result<()> {
        let mut first = Ok(());
        for s in self.lock().sinks.iter_mut() {
            if let Err(e) = s.close() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// The word for a status in reports.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
        Status::Unreachable => "unreachable",
    }
}

/// A result as reports show it: with `no_log`, only the censored stub; internal keys
/// (`_ansible*`, `_provision*`) dropped; loop `results` treated the same way, item by item.
pub fn public_result(result: &Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(censored)) = result.get("_provision_censored") {
        return censored.clone();
    }
    result
        .iter()
        .filter(|(k, _)| !k.starts_with("_ansible") && !k.starts_with("_provision"))
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("results", Value::Array(a)) => Value::Array(
                    a.iter()
                        .map(|x| match x {
                            Value::Object(m) => Value::Object(public_result(m)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn stats_json(s: &HostStats) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("ok", s.ok),
        ("changed", s.changed),
        ("unreachable", s.unreachable),
        ("failed", s.failed),
        ("skipped", s.skipped),
        ("rescued", s.rescued),
        ("ignored", s.ignored),
    ] {
        m.insert(k.into(), Value::from(v));
    }
    m
}

/// Counters read back from a recap's JSON (missing ones are 0).
pub fn stats_from_json(v: &Value) -> HostStats {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    HostStats {
        ok: n("ok"),
        changed: n("changed"),
        unreachable: n("unreachable"),
        failed: n("failed"),
        skipped: n("skipped"),
        rescued: n("rescued"),
        ignored: n("ignored"),
    }
}

impl Event<'_> {
    /// The JSON objects of this event, one per line of a `--output json` report (a host
    /// result of a loop is preceded by one `item_result` per item). docs/report-schema.md
    /// describes them.
    pub fn to_json(&self) -> Vec<Value> {
        match self {
            Event::RunStart { check, diff, shard } => vec![json!({
                "event": "run_start",
                "version": env!("CARGO_PKG_VERSION"),
                "check": check,
                "diff": diff,
                "shard": shard.map(|(k, n)| format!("{k}/{n}")),
            })],
            Event::PlayStart { name, pattern, hosts, path } => {
                vec![json!({"event": "play_start", "play": name, "pattern": pattern, "hosts": hosts, "path": path})]
            }
            Event::TaskStart { play, task, action, path, handler } => {
                vec![json!({"event": "task_start", "play": play, "task": task, "action": action, "path": path, "handler": handler})]
            }
            Event::Retry { play, task, host, retries_left } => {
                vec![json!({"event": "retry", "play": play, "task": task, "host": host, "retries_left": retries_left})]
            }
            Event::HostResult(r) => {
                let mut out = Vec::new();
                for (status, label, result) in r.items {
                    out.push(json!({
                        "event": "item_result",
                        "play": r.play,
                        "task": r.task,
                        "host": r.host,
                        "item": label,
                        "status": status_name(*status),
                        "result": public_result(result),
                    }));
                }
                let mut m = json!({
                    "event": "host_result",
                    "play": r.play,
                    "task": r.task,
                    "path": r.path,
                    "action": r.action,
                    "host": r.host,
                    "status": status_name(r.status),
                    "ignored": r.ignored,
                    "handler": r.handler,
                    "result": public_result(r.result),
                    "duration_ms": ms(r.duration),
                });
                if let Some(d) = r.delegated {
                    m["delegated_to"] = Value::String(d.to_string());
                }
                out.push(m);
                out
            }
            Event::Included { play, target, role, hosts, item } => {
                vec![json!({"event": "included", "play": play, "target": target, "role": role, "hosts": hosts, "item": item})]
            }
            Event::NoMoreHosts { play } => vec![json!({"event": "no_more_hosts", "play": play})],
            Event::RunError { message } => vec![json!({"event": "error", "message": message})],
            Event::Recap { stats, times } => {
                let mut hosts = Map::new();
                for (h, s) in stats.iter() {
                    let mut m = stats_json(s);
                    m.insert("time_ms".into(), Value::from(times.hosts.get(h).copied().map(ms).unwrap_or(0)));
                    hosts.insert(h.clone(), Value::Object(m));
                }
                let slowest: Vec<Value> =
                    times.slowest(10).into_iter().map(|(t, h, d)| json!({"task": t, "host": h, "duration_ms": ms(*d)})).collect();
                vec![json!({"event": "recap", "hosts": hosts, "duration_ms": ms(times.total), "slowest": slowest})]
            }
        }
    }
}

/// `--output json`: one JSON object per line on stdout (or any writer).
pub struct JsonLines<W: std::io::Write + Send> {
    out: W,
}

impl<W: std::io::Write + Send> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }
}

impl<W: std::io::Write + Send> Sink for JsonLines<W> {
    fn event(&mut self, event: &Event<'_>) {
        for v in event.to_json() {
            let _ = writeln!(self.out, "{v}");
        }
        let _ = self.out.flush();
    }
    fn close(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Records which tasks reported `changed`, for `--verify-idempotent`.
#[derive(Clone, Default)]
pub struct ChangedTasks {
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sink for ChangedTasks {
    fn event(&mut self, event: &Event<'_>) {
        if let Event::HostResult(r) = event {
            let changed = r.status == Status::Changed
                || r.items.iter().any(|(s, ..)| *s == Status::Changed)
                || (r.status == Status::Failed && r.result.get("changed").and_then(Value::as_bool) == Some(true));
            if changed {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                let key = (r.task.to_string(), r.host.to_string());
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_log_results_are_censored_in_reports() {
        let r = json!({"changed": true, "stdout": "secret", "_provision_censored": {"censored": "hidden", "changed": true}});
        let p = public_result(r.as_object().unwrap());
        assert_eq!(Value::Object(p), json!({"censored": "hidden", "changed": true}));
        let agg = json!({"changed": true, "results": [{"stdout": "s", "item": "a", "_provision_censored": {"censored": "hidden"}}, {"stdout": "x", "_ansible_no_log": false}]});
        let p = public_result(agg.as_object().unwrap());
        assert_eq!(p["results"], json!([{"censored": "hidden"}, {"stdout": "x"}]));
    }

    #[test]
    fn slowest_tasks_first() {
        let t = Times {
            tasks: vec![("a".into(), "h1".into(), Duration::from_millis(5)), ("b".into(), "h1".into(), Duration::from_millis(50)), ("c".into(), "h2".into(), Duration::from_millis(7))],
            ..Default::default()
        };
        let s: Vec<&str> = t.slowest(2).iter().map(|x| x.0.as_str()).collect();
        assert_eq!(s, ["b", "c"]);
    }
}
