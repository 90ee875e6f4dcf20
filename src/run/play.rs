//! The playbook runner: plays, blocks, tasks, loops, handlers, in Ansible's order.
//!
//! The `linear` strategy: every task runs on all active hosts of the batch at once (at
//! most `forks` at a time), and the next task starts when all have answered. A host
//! that fails leaves the play (unless a `rescue` takes it back); an unreachable host
//! leaves the run. Results print as they arrive. State lives in [`Engine`]: each host's
//! facts, `set_fact`/`register` values, notified handlers and recap counters.
//!
//! Per host and task, [`Engine::host_job`] does the Ansible task loop: `when`, `loop`,
//! argument templating (`omit` dropped), `until`/`retries`, `changed_when`,
//! `failed_when`, `no_log`. Engine actions (`debug`, `set_fact`, `assert`, `fail`,
//! `include_vars`, `add_host`, `group_by`, `pause`, `meta`, includes) run here; modules
//! run on the host through its one SSH session.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use indexmap::IndexMap;
use provision_modules::{args::to_bool, Context, ModuleResult, RemoteError};
use serde_json::{Map, Value};

use super::loops::with_items;
use super::prefetch::{Cached, LoopCache};
use crate::connection::{ssh_config::SshConfig, ConnOptions, Session, Target, TaskRemote};
use crate::diag::Diagnostic;
use crate::inventory::Inventory;
use crate::output::events::{Event, Events, HostResult};
use crate::output::playbook::{HostStats, Printer, Status};
use crate::playbook::{Block, Item, LoopSpec, Play, Playbook, Role, Task};
use crate::template::{Templar, OMIT};

/// How the run was asked for (the command line, resolved).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub verbosity: u8,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub start_at_task: Option<String>,
    pub step: bool,
    pub force_handlers: bool,
    pub limit: Option<String>,
    /// `--shard K/N`: only the hosts of shard K (1-based) of N, after `--limit`.
    pub shard: Option<(u32, u32)>,
    pub extra_vars: Map<String, Value>,
    pub conn: ConnOptions,
}

/// What the engine knows about one host during the run.
#[derive(Debug, Default, Clone)]
struct HostState {
    facts: Map<String, Value>,
    /// `set_fact` and `register` results.
    set_facts: Map<String, Value>,
    include_vars: Map<String, Value>,
    stats: HostStats,
    failed: bool,
    unreachable: bool,
    /// `meta: end_host` / `end_play` for this play.
    ended: bool,
    /// `meta: end_play`: no later batch of this play runs.
    end_play: bool,
    notified: Vec<String>,
}

/// Keywords and variables a task inherits from its play, blocks and role.
#[derive(Clone, Default)]
struct Scope {
    kw: Map<String, Value>,
    when: Vec<Value>,
    tags: Vec<String>,
    /// Block and include vars, outermost first.
    vars: Vec<Map<String, Value>>,
    role: Option<Arc<Role>>,
}

impl Scope {
    fn child(&self, kw: &Map<String, Value>, role: Option<&Arc<Role>>) -> Scope {
        let mut s = self.clone();
        for (k, v) in kw {
            match k.as_str() {
                "when" => s.when.extend(as_list(v)),
                "tags" => s.tags.extend(tag_list(v)),
                "vars" => {
                    if let Value::Object(m) = v {
                        s.vars.push(m.clone());
                    }
                }
                _ => {
                    s.kw.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(r) = role {
            s.role = Some(r.clone());
        }
        s
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// Tags as written: `a,b`, a list, or one value.
pub fn tags_of(v: &Value) -> Vec<String> {
    tag_list(v)
}

fn tag_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        Value::Array(a) => a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect(),
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A side effect of a task on the engine's state, applied after the task.
#[derive(Debug, Clone)]
pub enum Effect {
    SetFacts(Map<String, Value>),
    IncludeVars(Map<String, Value>),
    Facts(Map<String, Value>),
    AddHost { name: String, groups: Vec<String>, vars: Map<String, Value> },
    GroupBy { key: String, parents: Vec<String> },
    Include { file: PathBuf, vars: Map<String, Value>, label: Option<String> },
    IncludeRole { name: String, args: Map<String, Value>, vars: Map<String, Value> },
    Meta(String),
}

/// What one host's run of a task gave.
struct HostOutcome {
    host: String,
    status: Status,
    result: Map<String, Value>,
    /// Per loop item: status, label, result (printed in order).
    items: Vec<(Status, String, Map<String, Value>)>,
    ignored: bool,
    delegated: Option<String>,
    effects: Vec<Effect>,
}

/// Everything a host job reads; shared by the jobs of one task.
struct JobEnv<'a> {
    templar: &'a Templar,
    task: &'a Task,
    scope: &'a Scope,
    opts: &'a Options,
    search: Vec<PathBuf>,
}

/// Runs playbooks.
pub struct Engine<'a> {
    inv: Inventory,
    opts: &'a Options,
    templar: Arc<Templar>,
    /// Where the run's events go (by default, the human printer).
    pub events: Events,
    /// The current play's name, for the events.
    play_name: String,
    hosts: IndexMap<String, HostState>,
    sessions: Arc<tokio::sync::Mutex<HashMap<String, Arc<Session>>>>,
    ssh: SshConfig,
    /// Hosts of the current play and batch.
    play_hosts: Vec<String>,
    batch: Vec<String>,
    play_vars: Map<String, Value>,
    play_kw: Map<String, Value>,
    play_dir: PathBuf,
    handlers: Vec<Task>,
    started: bool,
    /// Roles that ran in this play (see `Play::roles_seen`).
    roles_seen: HashSet<String>,
}

impl<'a> Engine<'a> {
    pub fn new(inv: Inventory, opts: &'a Options, playbook_dir: &Path) -> Self {
        Engine {
            inv,
            opts,
            templar: Arc::new(Templar::new(playbook_dir)),
            events: Events::new(vec![Box::new(Printer::new(opts.verbosity))]),
            play_name: String::new(),
            hosts: IndexMap::new(),
            sessions: Default::default(),
            ssh: SshConfig::load_default(),
            play_hosts: vec![],
            batch: vec![],
            play_vars: Map::new(),
            play_kw: Map::new(),
            play_dir: playbook_dir.to_path_buf(),
            handlers: vec![],
            started: opts.start_at_task.is_none(),
            roles_seen: HashSet::new(),
        }
    }

    /// Run every play of a playbook.
    pub async fn run(&mut self, book: &Playbook) -> Result<(), Diagnostic> {
        for play in &book.plays {
            // Ctrl-C: no new play starts either.
            if crate::interrupt::requested() {
                return Err(Diagnostic::new(crate::interrupt::MESSAGE));
            }
            self.run_play(play).await?;
        }
        Ok(())
    }

    /// Print the recap, close the connections, and return Ansible's exit status.
    pub async fn finish(&mut self) -> Result<i32, Diagnostic> {
        let code = self.recap();
        self.close().await;
        Ok(code)
    }

    /// Emit the recap and return Ansible's exit status (connections stay open).
    pub fn recap(&self) -> i32 {
        // The recap lists hosts sorted by name, as Ansible's does.
        // Hosts that ran nothing (ended before their first task) are not listed.
        let mut stats: IndexMap<String, HostStats> =
            self.hosts.iter().filter(|(_, s)| s.stats != HostStats::default()).map(|(h, s)| (h.clone(), s.stats.clone())).collect();
        stats.sort_keys();
        self.events.recap(&stats);
        let unreachable = self.hosts.values().any(|s| s.stats.unreachable > 0);
        let failed = self.hosts.values().any(|s| s.stats.failed > 0);
        if unreachable {
            4
        } else if failed {
            2
        } else {
            0
        }
    }

    /// Close every connection.
    pub async fn close(&self) {
        for s in self.sessions.lock().await.values() {
            s.close().await;
        }
    }

    /// A fresh engine (no facts, no counters) for a second run over the same
    /// connections (`--verify-idempotent`), emitting to `events`.
    pub fn again(&self, inv: Inventory, playbook_dir: &Path, events: Events) -> Engine<'a> {
        let mut e = Engine::new(inv, self.opts, playbook_dir);
        e.sessions = self.sessions.clone();
        e.events = events;
        e
    }

    fn base_vars(&self) -> Map<String, Value> {
        let mut v = Map::new();
        v.insert("playbook_dir".into(), Value::String(self.play_dir.canonicalize().unwrap_or_else(|_| self.play_dir.clone()).display().to_string()));
        v.insert("ansible_check_mode".into(), Value::Bool(self.opts.check));
        v.insert("ansible_diff_mode".into(), Value::Bool(self.opts.diff));
        v.insert("ansible_verbosity".into(), Value::from(self.opts.verbosity));
        v.insert("ansible_forks".into(), Value::from(self.opts.forks));
        v.insert("omit".into(), Value::String(OMIT.into()));
        v.insert(
            "ansible_version".into(),
            serde_json::json!({"full": "2.17.0", "major": 2, "minor": 17, "revision": 0, "string": "2.17.0 (provision)"}),
        );
        v.insert("provision_version".into(), Value::String(env!("CARGO_PKG_VERSION").into()));
        v.insert("ansible_run_tags".into(), Value::from(if self.opts.tags.is_empty() { vec!["all".to_string()] } else { self.opts.tags.clone() }));
        v.insert("ansible_skip_tags".into(), Value::from(self.opts.skip_tags.clone()));
        v
    }

    async fn run_play(&mut self, play: &Play) -> Result<(), Diagnostic> {
        self.play_dir = play.dir.clone();
        self.play_kw = play.kw.clone();
        // Play-level vars: play vars, vars_prompt, vars_files (later win).
        let mut play_vars = match play.kw.get("vars") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let mut pre_ctx = self.base_vars();
        pre_ctx.extend(play_vars.clone());
        pre_ctx.extend(self.opts.extra_vars.clone());
        for p in &play.vars_prompt {
            if self.opts.extra_vars.contains_key(&p.name) {
                continue;
            }
            let value = match &p.default {
                Some(d) if !interactive() => d.clone(),
                default => {
                    if !interactive() {
                        return Err(Diagnostic::new(format!("vars_prompt `{}` needs an answer and there is no terminal", p.name))
                            .with_help(format!("pass it with -e {}=VALUE, or give it a default", p.name)));
                    }
                    let prompt = format!("{}{}: ", p.prompt, default.as_ref().map(|d| format!(" [{}]", text(d))).unwrap_or_default());
                    let answer = if p.private {
                        let _quiet = crate::output::live::suspend();
                        rpassword::prompt_password(prompt).unwrap_or_default()
                    } else {
                        prompt_line(&prompt)
                    };
                    if answer.is_empty() {
                        default.clone().unwrap_or(Value::String(String::new()))
                    } else {
                        Value::String(answer)
                    }
                }
            };
            play_vars.insert(p.name.clone(), value);
        }
        for f in &play.vars_files {
            let candidates: Vec<Value> = as_list(f);
            let mut loaded = false;
            for c in &candidates {
                let mut ctx = pre_ctx.clone();
                ctx.extend(play_vars.clone());
                let name = self.templar.render_str(&text(c), &ctx, &[]).map(|v| text(&v)).unwrap_or_else(|_| text(c));
                let path = if Path::new(&name).is_absolute() { PathBuf::from(&name) } else { play.dir.join(&name) };
                if path.is_file() {
                    match crate::yaml::load_file(&path)? {
                        Value::Object(m) => play_vars.extend(m),
                        Value::Null => {}
                        _ => return Err(Diagnostic::new(format!("vars file `{}` must be a mapping", path.display()))),
                    }
                    loaded = true;
                    break;
                }
            }
            if !loaded {
                return Err(Diagnostic::new(format!("vars file {} not found", candidates.iter().map(text).collect::<Vec<_>>().join(" or ")))
                    .at(&play.loc.file, play.loc.line, play.loc.column, None)
                    .with_help(format!("paths are relative to {}", play.dir.display())));
            }
        }
        self.play_vars = play_vars;
        let mut pctx = self.base_vars();
        pctx.extend(self.play_vars.clone());
        pctx.extend(self.opts.extra_vars.clone());
        let pattern = self.templar.render_str(&play.hosts, &pctx, &[]).map(|v| text(&v)).map_err(|e| Diagnostic::new(e.to_string()))?;
        let name = self.templar.render_str(&play.name, &pctx, &[]).map(|v| text(&v)).unwrap_or_else(|_| play.name.clone());
        let mut hosts = self.inv.select_limited(&pattern, self.opts.limit.as_deref())?;
        if let Some((k, n)) = self.opts.shard {
            hosts.retain(|h| super::shard::in_shard(h, k, n));
        }
        // Failed and unreachable hosts of earlier plays stay out.
        hosts.retain(|h| self.hosts.get(h).is_none_or(|s| !s.failed && !s.unreachable));
        match play.kw.get("order").and_then(Value::as_str) {
            Some("reverse_inventory") => hosts.reverse(),
            Some("sorted") => hosts.sort(),
            Some("reverse_sorted") => {
                hosts.sort();
                hosts.reverse()
            }
            Some("shuffle") => {
                let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as usize).unwrap_or(7);
                let n = hosts.len();
                for i in (1..n).rev() {
                    hosts.swap(i, (seed.wrapping_mul(i + 31)) % (i + 1));
                }
            }
            _ => {}
        }
        self.play_name = name.clone();
        let path = format!("{}:{}", play.loc.file.display(), play.loc.line);
        self.events.emit(&Event::PlayStart { name: &name, pattern: &pattern, hosts: &hosts, path: &path });
        if hosts.is_empty() {
            return Ok(());
        }
        for h in &hosts {
            let st = self.hosts.entry(h.clone()).or_default();
            st.ended = false;
            st.end_play = false;
            st.notified.clear();
        }
        self.handlers = play.handlers.clone();
        self.roles_seen = play.roles_seen.clone();
        self.play_hosts = hosts.clone();
        let scope = Scope::default().child(
            &play.kw.iter().filter(|(k, _)| *k != "vars" && *k != "hosts" && *k != "name").map(|(k, v)| (k.clone(), v.clone())).collect(),
            None,
        );
        self.prelock(&hosts, &scope).await;
        let free = play.kw.get("strategy").map(text).is_some_and(|s| s == "free");
        for batch in self.batches(play, &hosts, &pctx)? {
            if free {
                // `free`: every host runs the play at its own pace, on its own copy of the
                // engine; what each learned is merged back at the end.
                let mut subs: Vec<Engine<'a>> = batch.iter().map(|h| self.fork(h, &batch)).collect();
                let results = futures::future::join_all(subs.iter_mut().zip(batch.iter()).map(|(e, h)| {
                    let one = vec![h.clone()];
                    let scope = scope.clone();
                    async move { e.run_batch(play, &one, &scope).await }
                }))
                .await;
                for r in results {
                    r?;
                }
                for (sub, h) in subs.into_iter().zip(batch.iter()) {
                    if let Some(st) = sub.hosts.get(h) {
                        self.hosts.insert(h.clone(), st.clone());
                    }
                }
                continue;
            }
            self.batch = batch.clone();
            self.run_batch(play, &batch, &scope).await?;
            if self.play_ended(&batch) {
                break;
            }
        }
        Ok(())
    }

    /// A copy of the engine for one host (the `free` strategy).
    fn fork(&self, host: &str, batch: &[String]) -> Engine<'a> {
        let mut hosts = IndexMap::new();
        hosts.insert(host.to_string(), self.hosts.get(host).cloned().unwrap_or_default());
        Engine {
            inv: self.inv.clone(),
            opts: self.opts,
            templar: self.templar.clone(),
            events: self.events.clone(),
            play_name: self.play_name.clone(),
            hosts,
            sessions: self.sessions.clone(),
            ssh: self.ssh.clone(),
            play_hosts: self.play_hosts.clone(),
            batch: batch.to_vec(),
            play_vars: self.play_vars.clone(),
            play_kw: self.play_kw.clone(),
            play_dir: self.play_dir.clone(),
            handlers: self.handlers.clone(),
            started: self.started,
            roles_seen: self.roles_seen.clone(),
        }
    }

    /// One batch of hosts through the play: facts, pre_tasks, roles, tasks, post_tasks,
    /// with handlers flushed after each section.
    async fn run_batch(&mut self, play: &Play, batch: &[String], scope: &Scope) -> Result<(), Diagnostic> {
        let gather = play.kw.get("gather_facts").and_then(to_bool).unwrap_or(true);
        if gather {
            let mut args = Map::new();
            if let Some(s) = play.kw.get("gather_subset") {
                args.insert("gather_subset".into(), s.clone());
            }
            let task = Task {
                name: Some("Gathering Facts".into()),
                action: "setup".into(),
                action_written: "setup".into(),
                args,
                kw: Map::new(),
                looping: None,
                loc: play.loc.clone(),
                role: None,
                listen: vec![],
            };
            let mut gscope = scope.clone();
            gscope.tags = vec!["always".into()];
            self.run_task(&task, batch, &gscope).await?;
        }
        self.run_items(&play.pre_tasks, batch, scope).await?;
        self.flush_handlers(batch, scope).await?;
        self.run_items(&play.roles, batch, scope).await?;
        self.run_items(&play.tasks, batch, scope).await?;
        self.flush_handlers(batch, scope).await?;
        self.run_items(&play.post_tasks, batch, scope).await?;
        self.flush_handlers(batch, scope).await?;
        Ok(())
    }

    fn play_ended(&self, batch: &[String]) -> bool {
        batch.iter().any(|h| self.hosts.get(h).is_some_and(|s| s.end_play))
    }

    /// `serial`: 2, "30%", or a list of those.
    fn batches(&self, play: &Play, hosts: &[String], ctx: &Map<String, Value>) -> Result<Vec<Vec<String>>, Diagnostic> {
        let Some(serial) = play.kw.get("serial") else { return Ok(vec![hosts.to_vec()]) };
        let serial = self.templar.render_value(serial, ctx, &[]).map_err(|e| Diagnostic::new(e.to_string()))?;
        let sizes: Vec<Value> = as_list(&serial);
        let n = hosts.len();
        let size_of = |v: &Value| -> Result<usize, Diagnostic> {
            let t = text(v);
            let s = if let Some(p) = t.strip_suffix('%') {
                let pct: f64 = p.trim().parse().map_err(|_| Diagnostic::new(format!("invalid serial `{t}`")))?;
                ((n as f64) * pct / 100.0).floor() as usize
            } else {
                t.trim().parse::<usize>().map_err(|_| Diagnostic::new(format!("invalid serial `{t}`")))?
            };
            Ok(if s == 0 { n.max(1) } else { s.max(1) })
        };
        let mut out = Vec::new();
        let mut i = 0;
        let mut k = 0;
        while i < n {
            let s = size_of(sizes.get(k).or(sizes.last()).unwrap_or(&Value::from(n)))?;
            out.push(hosts[i..(i + s).min(n)].to_vec());
            i += s;
            k += 1;
        }
        Ok(out)
    }

    fn active(&self, hosts: &[String]) -> Vec<String> {
        hosts.iter().filter(|h| self.hosts.get(*h).is_none_or(|s| !s.failed && !s.unreachable && !s.ended)).cloned().collect()
    }

    fn run_items<'s>(&'s mut self, items: &'s [Item], hosts: &'s [String], scope: &'s Scope) -> futures::future::BoxFuture<'s, Result<(), Diagnostic>> {
        Box::pin(async move {
            for item in items {
                let active = self.active(hosts);
                if active.is_empty() {
                    break;
                }
                match item {
                    Item::Task(t) => self.run_task(t, &active, scope).await?,
                    Item::Block(b) => self.run_block(b, &active, scope).await?,
                }
            }
            Ok(())
        })
    }

    async fn run_block(&mut self, b: &Block, hosts: &[String], scope: &Scope) -> Result<(), Diagnostic> {
        let inner = scope.child(&b.kw, b.role.as_ref());
        self.run_items(&b.block, hosts, &inner).await?;
        let failed: Vec<String> = hosts.iter().filter(|h| self.hosts.get(*h).is_some_and(|s| s.failed && !s.unreachable)).cloned().collect();
        if !b.rescue.is_empty() && !failed.is_empty() {
            for h in &failed {
                let st = self.hosts.entry(h.clone()).or_default();
                st.failed = false;
                st.stats.failed = st.stats.failed.saturating_sub(1);
                st.stats.rescued += 1;
            }
            self.run_items(&b.rescue, &failed, &inner).await?;
        }
        if !b.always.is_empty() {
            let still_failed: Vec<String> = hosts.iter().filter(|h| self.hosts.get(*h).is_some_and(|s| s.failed && !s.unreachable)).cloned().collect();
            for h in &still_failed {
                self.hosts.entry(h.clone()).or_default().failed = false;
            }
            self.run_items(&b.always, hosts, &inner).await?;
            for h in &still_failed {
                self.hosts.entry(h.clone()).or_default().failed = true;
            }
        }
        Ok(())
    }

    /// Should this task run under `--tags`/`--skip-tags`?
    fn tags_allow(&self, tags: &[String]) -> bool {
        let tags: HashSet<&str> = tags.iter().map(String::as_str).collect();
        let skip: HashSet<&str> = self.opts.skip_tags.iter().map(String::as_str).collect();
        if tags.iter().any(|t| skip.contains(t)) || (skip.contains("tagged") && !tags.is_empty()) || (skip.contains("untagged") && tags.is_empty()) {
            return false;
        }
        let wanted: Vec<&str> = if self.opts.tags.is_empty() { vec!["all"] } else { self.opts.tags.iter().map(String::as_str).collect() };
        if tags.contains("always") && !skip.contains("always") {
            return true;
        }
        if tags.contains("never") && !wanted.iter().any(|w| tags.contains(w) && *w != "never") {
            return false;
        }
        wanted.iter().any(|w| match *w {
            "all" => !tags.contains("never"),
            "tagged" => !tags.is_empty(),
            "untagged" => tags.is_empty(),
            w => tags.contains(w),
        })
    }

    /// The variables of `host` for a task in `scope`, in Ansible's precedence.
    fn vars_for(&self, host: &str, scope: &Scope, task_vars: Option<&Map<String, Value>>, with_hostvars: bool) -> Map<String, Value> {
        let mut v = Map::new();
        let st = self.hosts.get(host);
        if let Some(r) = &scope.role {
            v.extend(r.defaults.clone());
        }
        let inv_vars = self.inv.host_vars(host).unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("inventory_hostname".into(), Value::String(host.to_string()));
            m.insert("inventory_hostname_short".into(), Value::String(host.split('.').next().unwrap_or(host).to_string()));
            m
        });
        v.extend(inv_vars);
        if let Some(st) = st {
            for (k, val) in &st.facts {
                v.insert(format!("ansible_{k}"), val.clone());
            }
            v.insert("ansible_facts".into(), Value::Object(st.facts.clone()));
        } else {
            v.insert("ansible_facts".into(), Value::Object(Map::new()));
        }
        v.extend(self.play_vars.clone());
        if let Some(r) = &scope.role {
            v.extend(r.vars.clone());
            v.insert("role_path".into(), Value::String(r.path.canonicalize().unwrap_or_else(|_| r.path.clone()).display().to_string()));
            v.insert("role_name".into(), Value::String(r.name.clone()));
        }
        for layer in &scope.vars {
            v.extend(layer.clone());
        }
        if let Some(tv) = task_vars {
            v.extend(tv.clone());
        }
        if let Some(st) = st {
            v.extend(st.include_vars.clone());
            v.extend(st.set_facts.clone());
        }
        if let Some(r) = &scope.role {
            v.extend(r.params.clone());
        }
        v.extend(self.opts.extra_vars.clone());
        // Magic variables.
        v.extend(self.base_vars());
        v.insert("inventory_hostname".into(), Value::String(host.to_string()));
        v.insert("inventory_hostname_short".into(), Value::String(host.split('.').next().unwrap_or(host).to_string()));
        v.insert("group_names".into(), Value::from(self.inv.group_names(host)));
        v.insert("groups".into(), Value::Object(self.inv.groups_map()));
        v.insert("play_hosts".into(), Value::from(self.active(&self.batch)));
        v.insert("ansible_play_hosts".into(), Value::from(self.active(&self.play_hosts)));
        v.insert("ansible_play_hosts_all".into(), Value::from(self.play_hosts.clone()));
        v.insert("ansible_play_batch".into(), Value::from(self.active(&self.batch)));
        if with_hostvars {
            let mut hv = Map::new();
            let mut names: Vec<String> = self.inv.select("all").unwrap_or_default();
            for h in self.hosts.keys() {
                if !names.contains(h) {
                    names.push(h.clone());
                }
            }
            for h in names {
                let mut hvars = self.inv.host_vars(&h).unwrap_or_default();
                if let Some(s) = self.hosts.get(&h) {
                    for (k, val) in &s.facts {
                        hvars.insert(format!("ansible_{k}"), val.clone());
                    }
                    hvars.insert("ansible_facts".into(), Value::Object(s.facts.clone()));
                    hvars.extend(s.include_vars.clone());
                    hvars.extend(s.set_facts.clone());
                }
                hvars.extend(self.play_vars.clone());
                hvars.extend(self.opts.extra_vars.clone());
                hv.insert(h, Value::Object(hvars));
            }
            v.insert("hostvars".into(), Value::Object(hv));
        }
        v
    }

    /// Take the run lock on the play's hosts before anything runs: first on all of them at
    /// once without waiting; if one is busy, let go of all and take them one by one in one
    /// fixed order (sorted connection keys), waiting as asked. Two runs over overlapping
    /// hosts then never each hold a lock the other waits for. A host whose lock cannot be
    /// taken fails its first task with the reason; one that cannot be reached is reported by
    /// its first task as unreachable.
    async fn prelock(&self, hosts: &[String], scope: &Scope) {
        let Some(spec) = self.opts.conn.lock.clone() else { return };
        let mut targets: Vec<(String, Target)> = Vec::new();
        for h in hosts {
            if let Some(t) = self.target_of(h, scope) {
                targets.push((session_key(&t), t));
            }
        }
        targets.sort_by(|a, b| a.0.cmp(&b.0));
        targets.dedup_by(|a, b| a.0 == b.0);
        let mut sessions = Vec::new();
        for (_, t) in &targets {
            sessions.push(self.session(t).await);
        }
        let quick = crate::connection::lock::LockSpec { wait: Duration::ZERO, try_only: true, ..spec.clone() };
        let tried = stream::iter(sessions.iter().zip(targets.iter()))
            .map(|(s, (_, t))| {
                let quick = &quick;
                async move {
                    if s.connect().await.is_err() {
                        return true;
                    }
                    match s.lock(quick).await {
                        Ok(Some(note)) => {
                            eprintln!("[WARNING]: {}: {note}", t.name);
                            true
                        }
                        Ok(None) => true,
                        Err(_) => false,
                    }
                }
            })
            .buffered(self.opts.forks.max(1))
            .collect::<Vec<bool>>()
            .await;
        if tried.iter().all(|ok| *ok) {
            return;
        }
        for s in &sessions {
            s.unlock().await;
        }
        for (s, (_, t)) in sessions.iter().zip(targets.iter()) {
            if s.connect().await.is_ok() {
                if let Ok(Some(note)) = s.lock(&spec).await {
                    eprintln!("[WARNING]: {}: {note}", t.name);
                }
            }
        }
    }

    /// How `h` is reached under the play's (or block's) connection keywords.
    fn target_of(&self, h: &str, scope: &Scope) -> Option<Target> {
        let search = vec![self.play_dir.clone()];
        let vars = self.vars_for(h, scope, None, false);
        let mut ckw = Map::new();
        for key in CONN_KEYWORDS {
            if let Some(v) = scope.kw.get(key) {
                if let Ok(r) = self.templar.render_value(v, &vars, &search) {
                    ckw.insert(key.to_string(), r);
                }
            }
        }
        Target::resolve(h, &vars, &self.conn_for(&ckw), &self.ssh).ok()
    }

    /// A session for `target`, opened once per distinct connection.
    async fn session(&self, target: &Target) -> Arc<Session> {
        let key = session_key(target);
        let mut sessions = self.sessions.lock().await;
        sessions.entry(key).or_insert_with(|| Arc::new(Session::new(target.clone()))).clone()
    }

    /// Connection options for a task: the command line, overridden by keywords.
    fn conn_for(&self, kw: &Map<String, Value>) -> ConnOptions {
        let mut c = self.opts.conn.clone();
        if let Some(b) = kw.get("become").and_then(to_bool) {
            c.become_ = b;
        }
        if let Some(u) = kw.get("become_user") {
            c.become_user = Some(text(u));
        }
        if let Some(m) = kw.get("become_method") {
            c.become_method = Some(text(m));
        }
        if let Some(u) = kw.get("remote_user") {
            c.user = Some(text(u));
        }
        if let Some(conn) = kw.get("connection") {
            c.connection = Some(text(conn));
        }
        if let Some(t) = kw.get("timeout").and_then(|v| v.as_u64().or_else(|| text(v).parse().ok())) {
            c.command_timeout = Some(t);
        }
        c
    }

    fn flush_handlers<'s>(&'s mut self, hosts: &'s [String], scope: &'s Scope) -> futures::future::BoxFuture<'s, Result<(), Diagnostic>> {
        Box::pin(self.flush_handlers_inner(hosts, scope))
    }

    async fn flush_handlers_inner(&mut self, hosts: &[String], scope: &Scope) -> Result<(), Diagnostic> {
        let handlers = self.handlers.clone();
        for h in &handlers {
            let notified: Vec<String> = hosts
                .iter()
                .filter(|host| {
                    self.hosts.get(*host).is_some_and(|s| {
                        (!s.failed || self.opts.force_handlers || self.play_kw.get("force_handlers").and_then(to_bool).unwrap_or(false))
                            && !s.unreachable
                            && s.notified.iter().any(|n| h.listen.contains(n) || h.name.as_deref() == Some(n.as_str()))
                    })
                })
                .cloned()
                .collect();
            if notified.is_empty() {
                continue;
            }
            for host in &notified {
                if let Some(s) = self.hosts.get_mut(host) {
                    s.failed = false;
                }
            }
            let hscope = scope.child(&Map::new(), h.role.as_ref());
            self.run_task_inner(h, &notified, &hscope, true).await?;
        }
        for host in hosts {
            if let Some(s) = self.hosts.get_mut(host) {
                s.notified.clear();
            }
        }
        Ok(())
    }

    async fn run_task(&mut self, task: &Task, hosts: &[String], scope: &Scope) -> Result<(), Diagnostic> {
        self.run_task_inner(task, hosts, scope, false).await
    }

    async fn run_task_inner(&mut self, task: &Task, hosts: &[String], scope: &Scope, handler: bool) -> Result<(), Diagnostic> {
        // Ctrl-C: no new task starts (see `crate::interrupt`).
        if crate::interrupt::requested() {
            return Err(Diagnostic::new(crate::interrupt::MESSAGE));
        }
        let mut tags = scope.tags.clone();
        if let Some(t) = task.kw.get("tags") {
            tags.extend(tag_list(t));
        }
        let is_include = matches!(task.action.as_str(), "include_tasks" | "include_role");
        if !self.tags_allow(&tags) && !(is_include && !tags.iter().any(|t| self.opts.skip_tags.contains(t))) {
            return Ok(());
        }
        let display = self.display_name(task, hosts.first().map(String::as_str), scope);
        if !self.started {
            let plain = task.name.clone().unwrap_or_default();
            let wanted = self.opts.start_at_task.clone().unwrap_or_default();
            if plain == wanted || display == wanted {
                self.started = true;
            } else if !is_include {
                return Ok(());
            }
        }
        let path = format!("{}:{}", task.loc.file.display(), task.loc.line);
        self.events.emit(&Event::TaskStart { play: &self.play_name, task: &display, action: &task.action, path: &path, handler });
        if self.opts.step && !step_confirm(&display) {
            return Ok(());
        }
        // Task-level keywords over inherited ones.
        let mut kw = scope.kw.clone();
        for (k, v) in &task.kw {
            kw.insert(k.clone(), v.clone());
        }
        let task_scope = Scope { kw: kw.clone(), ..scope.clone() };
        let run_once = kw.get("run_once").and_then(to_bool).unwrap_or(false);
        let hosts: Vec<String> = if run_once { hosts.iter().take(1).cloned().collect() } else { hosts.to_vec() };
        if task.action == "meta" {
            return self.meta(task, &hosts, &task_scope).await;
        }
        let task_vars = match task.kw.get("vars") {
            Some(Value::Object(m)) => Some(m.clone()),
            _ => None,
        };
        let wants_hostvars = serde_json::to_string(&task.args).unwrap_or_default().contains("hostvars")
            || serde_json::to_string(&kw).unwrap_or_default().contains("hostvars")
            || serde_json::to_string(&task.looping.as_ref().map(|l| format!("{l:?}"))).unwrap_or_default().contains("hostvars");
        let mut search = Vec::new();
        if let Some(r) = &scope.role {
            search.push(r.path.clone());
        }
        if let Some(dir) = task.loc.file.parent() {
            search.push(dir.to_path_buf());
            if let Some(parent) = dir.parent() {
                search.push(parent.to_path_buf());
            }
        }
        search.push(self.play_dir.clone());
        // Each host's inputs, resolved before anything runs.
        let mut inputs = Vec::new();
        for h in &hosts {
            let vars = self.vars_for(h, scope, task_vars.as_ref(), wants_hostvars);
            inputs.push((h.clone(), vars));
        }
        let env = JobEnv { templar: &self.templar, task, scope: &task_scope, opts: self.opts, search };
        let throttle = kw.get("throttle").and_then(|v| v.as_u64().or_else(|| text(v).parse().ok())).map(|t| t as usize).unwrap_or(0);
        let forks = if throttle > 0 { throttle.min(self.opts.forks.max(1)) } else { self.opts.forks.max(1) };
        let this = &*self;
        let mut outcomes: Vec<HostOutcome> = Vec::new();
        {
            let mut stream = stream::iter(inputs.into_iter().map(|(h, vars)| {
                let env = &env;
                async move {
                    // After Ctrl-C, hosts still waiting for a fork do not start.
                    if crate::interrupt::requested() {
                        return None;
                    }
                    let start = std::time::Instant::now();
                    let o = this.host_job(env, h, vars).await;
                    Some((o, start.elapsed()))
                }
            }))
            .buffer_unordered(forks);
            while let Some(next) = stream.next().await {
                let Some((o, took)) = next else { continue };
                this.emit_outcome(task, &display, &path, handler, &o, took);
                outcomes.push(o);
            }
        }
        let register = task.kw.get("register").map(text);
        let any_errors_fatal = kw.get("any_errors_fatal").and_then(to_bool).unwrap_or(false);
        let mut includes: Vec<(String, Effect)> = Vec::new();
        let mut failed_any = false;
        let all_hosts_for_once: Vec<String> = if run_once { self.active(&self.batch) } else { vec![] };
        for o in outcomes {
            let targets: Vec<String> = if run_once { all_hosts_for_once.clone() } else { vec![o.host.clone()] };
            let delegate_facts = task.kw.get("delegate_facts").and_then(to_bool).unwrap_or(false);
            for host in &targets {
                // Facts gathered through a delegate belong to the delegate with delegate_facts.
                let fact_host = match (&o.delegated, delegate_facts) {
                    (Some(d), true) => d.clone(),
                    _ => host.clone(),
                };
                for e in &o.effects {
                    if let Effect::Facts(m) = e {
                        self.hosts.entry(fact_host.clone()).or_default().facts.extend(m.clone());
                    }
                }
                let st = self.hosts.entry(host.clone()).or_default();
                if let Some(r) = &register {
                    st.set_facts.insert(r.clone(), Value::Object(o.result.clone()));
                }
                for e in &o.effects {
                    match e {
                        Effect::SetFacts(m) => st.set_facts.extend(m.clone()),
                        Effect::IncludeVars(m) => st.include_vars.extend(m.clone()),
                        _ => {}
                    }
                }
            }
            let st = self.hosts.entry(o.host.clone()).or_default();
            match o.status {
                Status::Unreachable if !o.ignored => {
                    st.unreachable = true;
                    st.stats.unreachable += 1;
                }
                Status::Unreachable => {
                    st.stats.ok += 1;
                    st.stats.ignored += 1;
                }
                Status::Failed if o.ignored => {
                    st.stats.ok += 1;
                    st.stats.ignored += 1;
                }
                Status::Failed => {
                    st.failed = true;
                    st.stats.failed += 1;
                    failed_any = true;
                }
                Status::Skipped => st.stats.skipped += 1,
                // Each include (each loop item's) counts, as Ansible counts them.
                Status::Ok if is_include && !o.items.is_empty() => st.stats.ok += o.items.iter().filter(|(s, ..)| *s == Status::Ok).count(),
                Status::Ok => st.stats.ok += 1,
                Status::Changed => {
                    st.stats.ok += 1;
                    st.stats.changed += 1;
                }
            }
            if o.status == Status::Changed || (o.status == Status::Failed && o.ignored && o.result.get("changed").and_then(Value::as_bool) == Some(true)) {
                if o.status == Status::Failed {
                    st.stats.changed += 1;
                }
                if let Some(n) = task.kw.get("notify") {
                    for name in as_list(n) {
                        let name = text(&name);
                        let targets = if run_once { all_hosts_for_once.clone() } else { vec![o.host.clone()] };
                        for t in targets {
                            let s = self.hosts.entry(t).or_default();
                            if !s.notified.contains(&name) {
                                s.notified.push(name.clone());
                            }
                        }
                    }
                }
            }
            for e in o.effects {
                match e {
                    Effect::AddHost { name, groups, vars } => self.inv.add_host(&name, &groups, vars),
                    Effect::GroupBy { key, parents } => self.inv.add_to_group(&o.host, &key, &parents),
                    Effect::Include { .. } | Effect::IncludeRole { .. } => includes.push((o.host.clone(), e)),
                    _ => {}
                }
            }
        }
        if failed_any {
            let max_fail = self.play_kw.get("max_fail_percentage").and_then(|v| v.as_f64().or_else(|| text(v).trim_end_matches('%').parse().ok()));
            let batch_active = self.batch.len();
            let failed_count = self.batch.iter().filter(|h| self.hosts.get(*h).is_some_and(|s| s.failed || s.unreachable)).count();
            let over = max_fail.is_some_and(|m| batch_active > 0 && (failed_count as f64 / batch_active as f64) * 100.0 > m);
            if any_errors_fatal || self.play_kw.get("any_errors_fatal").and_then(to_bool).unwrap_or(false) || over {
                if over {
                    self.events.emit(&Event::NoMoreHosts { play: &self.play_name });
                }
                for h in self.batch.clone() {
                    let s = self.hosts.entry(h).or_default();
                    if !s.failed && !s.unreachable {
                        s.ended = true;
                    }
                }
            }
        }
        // Dynamic includes: hosts that include the same file run it together.
        let mut groups: Vec<(String, Vec<String>, Effect)> = Vec::new();
        for (h, e) in includes {
            let key = format!("{e:?}");
            match groups.iter_mut().find(|(k, ..)| *k == key) {
                Some(g) => g.1.push(h),
                None => groups.push((key, vec![h], e)),
            }
        }
        for (_, ghosts, e) in &groups {
            match e {
                Effect::Include { file, label, .. } => {
                    let shown = file.canonicalize().unwrap_or_else(|_| file.clone()).display().to_string();
                    self.events.emit(&Event::Included { play: &self.play_name, target: &shown, role: false, hosts: ghosts, item: label.as_deref() });
                }
                Effect::IncludeRole { name, .. } => {
                    self.events.emit(&Event::Included { play: &self.play_name, target: name, role: true, hosts: ghosts, item: None })
                }
                _ => {}
            }
        }
        for (_, ghosts, e) in groups {
            match e {
                Effect::Include { file, vars, .. } => {
                    let mut loader = crate::playbook::Loader::new(&super::CATALOG);
                    let loaded = loader.load_tasks_file(&file, scope.role.as_ref());
                    if let Some(d) = loader.errors.into_iter().next() {
                        return Err(d);
                    }
                    let Some((items, _)) = loaded else { continue };
                    let mut inner = task_scope.child(&Map::new(), None);
                    inner.vars.push(vars);
                    inner.kw.remove("vars");
                    let mut itags = scope.tags.clone();
                    if let Some(t) = task.kw.get("tags") {
                        itags.extend(tag_list(t));
                    }
                    inner.tags = itags;
                    self.run_items(&items, &ghosts, &inner).await?;
                }
                Effect::IncludeRole { name, args, vars } => {
                    let mut loader = crate::playbook::Loader::new(&super::CATALOG);
                    loader.roles_seen = self.roles_seen.clone();
                    let at = task.loc.clone();
                    let mut params = vars.clone();
                    params.extend(args.iter().filter(|(k, _)| !["name", "tasks_from", "vars_from", "defaults_from", "handlers_from", "apply", "public", "allow_duplicates", "rolespec_validate"].contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())));
                    let dir = self.play_dir.clone();
                    let loaded = loader.find_and_load_role(&name, &at, params, &dir, &args);
                    self.roles_seen = std::mem::take(&mut loader.roles_seen);
                    if let Some(d) = loader.errors.into_iter().next() {
                        return Err(d);
                    }
                    let Some((item, handlers)) = loaded else { continue };
                    for h in handlers {
                        if !self.handlers.iter().any(|x| x.loc == h.loc && x.name == h.name) {
                            self.handlers.push(h);
                        }
                    }
                    let inner = task_scope.child(&Map::new(), None);
                    self.run_items(std::slice::from_ref(&item), &ghosts, &inner).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn display_name(&self, task: &Task, host: Option<&str>, scope: &Scope) -> String {
        let raw = task.display_name();
        if !raw.contains("{{") {
            return raw;
        }
        let vars = match host {
            Some(h) => self.vars_for(h, scope, None, false),
            None => self.play_vars.clone(),
        };
        // Names with loop variables stay as written, as in Ansible.
        match self.templar.render_str(&raw, &vars, &[]) {
            Ok(v) => text(&v),
            Err(_) => raw,
        }
    }

    /// Hand one host's outcome to the sinks.
    fn emit_outcome(&self, task: &Task, display: &str, path: &str, handler: bool, o: &HostOutcome, took: Duration) {
        let diff_on = match task.kw.get("diff") {
            Some(v) => to_bool(v).unwrap_or(self.opts.diff),
            None => self.opts.diff,
        };
        let diff = diff_on && !task.kw.get("no_log").and_then(to_bool).unwrap_or(false);
        self.events.emit(&Event::HostResult(HostResult {
            play: &self.play_name,
            task: display,
            path,
            action: &task.action,
            host: &o.host,
            delegated: o.delegated.as_deref(),
            status: o.status,
            result: &o.result,
            items: &o.items,
            looping: task.looping.is_some(),
            ignored: o.ignored,
            diff,
            handler,
            duration: took,
        }));
    }

    async fn meta(&mut self, task: &Task, hosts: &[String], scope: &Scope) -> Result<(), Diagnostic> {
        let what = task.args.get("_raw_params").map(text).unwrap_or_default();
        // `when` applies to meta tasks too (per host).
        let mut selected = Vec::new();
        for h in hosts {
            let vars = self.vars_for(h, scope, None, false);
            let mut conds = scope.when.clone();
            if let Some(w) = task.kw.get("when") {
                conds.extend(as_list(w));
            }
            if eval_when(&self.templar, &conds, &vars).map_err(|e| Diagnostic::new(e).at(&task.loc.file, task.loc.line, task.loc.column, None))? {
                selected.push(h.clone());
            }
        }
        match what.trim() {
            "flush_handlers" => self.flush_handlers(&selected, scope).await?,
            "end_play" => {
                for h in self.batch.clone() {
                    let s = self.hosts.entry(h).or_default();
                    s.ended = true;
                    s.end_play = true;
                }
            }
            "end_host" => {
                for h in &selected {
                    self.hosts.entry(h.clone()).or_default().ended = true;
                }
            }
            "end_batch" => {
                for h in self.batch.clone() {
                    self.hosts.entry(h).or_default().ended = true;
                }
            }
            "clear_facts" => {
                for h in &selected {
                    self.hosts.entry(h.clone()).or_default().facts.clear();
                }
            }
            "clear_host_errors" => {
                for h in &self.play_hosts.clone() {
                    self.hosts.entry(h.clone()).or_default().failed = false;
                }
            }
            // The next task logs in afresh (new group memberships apply), and a kept
            // connection (see `connection::mux`) is not used again.
            "reset_connection" => {
                for h in &selected {
                    let Some(t) = self.target_of(h, scope) else { continue };
                    let existing = self.sessions.lock().await.get(&session_key(&t)).cloned();
                    if let Some(s) = existing {
                        s.disconnect().await;
                    }
                }
            }
            "noop" | "refresh_inventory" | "" => {}
            other => {
                return Err(Diagnostic::new(format!("unknown meta action `{other}`"))
                    .at(&task.loc.file, task.loc.line, task.loc.column, None)
                    .with_help("meta takes flush_handlers, end_play, end_host, end_batch, clear_facts, clear_host_errors, noop"))
            }
        }
        Ok(())
    }

    /// Run a task on one host: the whole Ansible task loop.
    async fn host_job(&self, env: &JobEnv<'_>, host: String, vars: Map<String, Value>) -> HostOutcome {
        let task = env.task;
        let mut out = HostOutcome { host: host.clone(), status: Status::Ok, result: Map::new(), items: vec![], ignored: false, delegated: None, effects: vec![] };
        let kw = &env.scope.kw;
        let ignore_errors = match kw.get("ignore_errors") {
            Some(v) => render_bool(env, v, &vars).unwrap_or(false),
            None => false,
        };
        let fail = |out: &mut HostOutcome, msg: String| {
            out.status = Status::Failed;
            out.result = ModuleResult::failed(msg).0;
            out.ignored = ignore_errors;
        };
        let mut conds = env.scope.when.clone();
        if let Some(w) = task.kw.get("when") {
            conds.extend(as_list(w));
        }
        // Without a loop, `when` is evaluated once, before anything else.
        if task.looping.is_none() {
            match eval_when(env.templar, &conds, &vars) {
                Ok(true) => {}
                Ok(false) => {
                    out.status = Status::Skipped;
                    out.result = skipped_result(&conds);
                    return out;
                }
                Err(e) => {
                    fail(&mut out, format!("{e} (in `when` of the task at {})", task.loc));
                    return out;
                }
            }
        }
        // Delegation.
        let delegate = match kw.get("delegate_to") {
            Some(d) => match env.templar.render_value(d, &vars, &env.search) {
                Ok(v) => Some(text(&v)),
                Err(e) => {
                    fail(&mut out, e.to_string());
                    return out;
                }
            },
            None => None,
        };
        out.delegated = delegate.clone();
        let conn_host = delegate.clone().unwrap_or_else(|| host.clone());
        // Loop items.
        let items: Option<Vec<Value>> = match &task.looping {
            None => None,
            Some(LoopSpec::Loop(expr)) => match env.templar.render_value(expr, &vars, &env.search) {
                Ok(Value::Array(a)) => Some(a),
                Ok(Value::Null) => Some(vec![]),
                Ok(other) => {
                    fail(&mut out, format!("Invalid data passed to 'loop', it requires a list, got this instead: {}", text(&other)));
                    return out;
                }
                Err(e) => {
                    fail(&mut out, e.to_string());
                    return out;
                }
            },
            Some(LoopSpec::With { lookup, terms }) => {
                let rendered = match env.templar.render_value(terms, &vars, &env.search) {
                    Ok(v) => v,
                    Err(e) => {
                        fail(&mut out, e.to_string());
                        return out;
                    }
                };
                match with_items(lookup, rendered, env.templar, &vars, &env.search) {
                    Ok(i) => Some(i),
                    Err(e) => {
                        fail(&mut out, e);
                        return out;
                    }
                }
            }
        };
        let lc = match task.kw.get("loop_control") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let loop_var = lc.get("loop_var").map(text).unwrap_or_else(|| "item".into());
        let index_var = lc.get("index_var").map(text);
        let label_expr = lc.get("label").cloned();
        let pause = lc.get("pause").and_then(|v| v.as_f64().or_else(|| text(v).parse().ok()));
        match items {
            None => {
                let (status, result, effects) = self.run_once(env, &host, &conn_host, &vars, None).await;
                out.status = status;
                out.result = result;
                out.effects = effects;
            }
            Some(items) => {
                let mut results = Vec::new();
                let mut any_changed = false;
                let mut any_failed = false;
                let mut all_skipped = true;
                let mut item_effects = Vec::new();
                let mut set_facts_acc = Map::new();
                let item_vars = |i: usize, item: &Value, acc: &Map<String, Value>| {
                    let mut ivars = vars.clone();
                    ivars.extend(acc.clone());
                    ivars.insert(loop_var.clone(), item.clone());
                    ivars.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
                    if let Some(iv) = &index_var {
                        ivars.insert(iv.clone(), Value::from(i));
                        ivars.insert("ansible_index_var".into(), Value::String(iv.clone()));
                    }
                    if lc.contains_key("extended") {
                        ivars.insert(
                            "ansible_loop".into(),
                            serde_json::json!({"index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == items.len(), "length": items.len(),
                                "revindex": items.len() - i, "revindex0": items.len() - i - 1,
                                "allitems": items, "previtem": if i > 0 { items[i - 1].clone() } else { Value::Null },
                                "nextitem": items.get(i + 1).cloned().unwrap_or(Value::Null)}),
                        );
                    }
                    ivars
                };
                // Not with `pause` (the items are meant to be apart in time), nor when
                // delegated.
                let prefetched = if items.len() > 1 && pause.is_none() && delegate.is_none() {
                    let all: Vec<Map<String, Value>> = items.iter().enumerate().map(|(i, item)| item_vars(i, item, &set_facts_acc)).collect();
                    self.loop_prefetch(env, &host, &conds, &all)
                } else {
                    None
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        if let Some(p) = pause {
                            tokio::time::sleep(Duration::from_secs_f64(p)).await;
                        }
                    }
                    let ivars = item_vars(i, item, &set_facts_acc);
                    let label = match &label_expr {
                        Some(l) => env.templar.render_value(l, &ivars, &env.search).map(|v| text(&v)).unwrap_or_else(|_| text(l)),
                        None => item_label(item),
                    };
                    let (status, mut r, effects) = match eval_when(env.templar, &conds, &ivars) {
                        Ok(false) => (Status::Skipped, skipped_result(&conds), vec![]),
                        Ok(true) => self.run_once(env, &host, &conn_host, &ivars, prefetched.as_ref()).await,
                        Err(e) => (Status::Failed, ModuleResult::failed(e).0, vec![]),
                    };
                    for e in &effects {
                        if let Effect::SetFacts(m) = e {
                            set_facts_acc.extend(m.clone());
                        }
                    }
                    item_effects.extend(effects);
                    r.insert(loop_var.clone(), item.clone());
                    r.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
                    if let Some(iv) = &index_var {
                        r.insert(iv.clone(), Value::from(i));
                        r.insert("ansible_index_var".into(), Value::String(iv.clone()));
                    }
                    if status != Status::Skipped {
                        all_skipped = false;
                    }
                    any_changed |= status == Status::Changed;
                    any_failed |= matches!(status, Status::Failed | Status::Unreachable);
                    out.items.push((status, label, r.clone()));
                    results.push(Value::Object(r));
                    if status == Status::Unreachable {
                        break;
                    }
                }
                let mut agg = Map::new();
                agg.insert("changed".into(), Value::Bool(any_changed));
                agg.insert("msg".into(), Value::String(if any_failed { "One or more items failed".into() } else { "All items completed".into() }));
                if any_failed {
                    agg.insert("failed".into(), Value::Bool(true));
                }
                if all_skipped {
                    agg.insert("skipped".into(), Value::Bool(true));
                    agg.insert("msg".into(), Value::String("All items skipped".into()));
                }
                agg.insert("results".into(), Value::Array(results));
                out.status = if any_failed {
                    Status::Failed
                } else if all_skipped {
                    Status::Skipped
                } else if any_changed {
                    Status::Changed
                } else {
                    Status::Ok
                };
                out.result = agg;
                out.effects = item_effects;
                if out.items.iter().any(|(s, ..)| *s == Status::Unreachable) {
                    out.status = Status::Unreachable;
                }
            }
        }
        if out.status == Status::Failed || out.status == Status::Unreachable {
            out.ignored = if out.status == Status::Unreachable {
                kw.get("ignore_unreachable").and_then(to_bool).unwrap_or(false)
            } else {
                ignore_errors
            };
        }
        out
    }

    /// The one script that does the first reads of a loop's items, when the module can
    /// tell them ([`provision_modules::Module::prefetch`]): the items whose `when` holds,
    /// with their arguments as [`Engine::act`] will make them. Items run one after
    /// another, and a module on the host sets no variables for the next one, so every
    /// item's variables are known before the first runs.
    fn loop_prefetch(&self, env: &JobEnv<'_>, host: &str, conds: &[Value], items: &[Map<String, Value>]) -> Option<LoopCache> {
        let action = env.task.action.as_str();
        if super::reboot::is_connection_module(action) || (action != "template" && provision_modules::find(action).is_none()) {
            return None;
        }
        let mut module = None;
        let mut args = vec![];
        for vars in items {
            if !matches!(eval_when(env.templar, conds, vars), Ok(true)) {
                continue;
            }
            let Ok(raw) = self.render_args(env, vars) else { continue };
            if let Ok((_, a, _, Some(m))) = self.module_args(env, host, raw, vars) {
                module = Some(m);
                args.push(a);
            }
        }
        let refs: Vec<&Map<String, Value>> = args.iter().collect();
        module?.prefetch(&refs).map(LoopCache::new)
    }

    /// One execution (one loop item, or the task without a loop): the action, then
    /// `until`, `changed_when`, `failed_when`, `no_log`.
    async fn run_once(&self, env: &JobEnv<'_>, host: &str, conn_host: &str, vars: &Map<String, Value>, prefetched: Option<&LoopCache>) -> (Status, Map<String, Value>, Vec<Effect>) {
        let task = env.task;
        let kw = &env.scope.kw;
        let retries = kw.get("retries").and_then(|v| v.as_u64().or_else(|| text(v).parse().ok()));
        let delay = kw.get("delay").and_then(|v| v.as_f64().or_else(|| text(v).parse().ok())).unwrap_or(5.0);
        let until = kw.get("until").cloned();
        let attempts_max = if until.is_some() { retries.unwrap_or(3) + 1 } else { 1 };
        let register = task.kw.get("register").map(text);
        let no_log = kw.get("no_log").map(|v| render_bool(env, v, vars).unwrap_or(true)).unwrap_or(false);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Ctrl-C stops the commands of `act` (they return at once); an action that
            // waits on the controller is given up after a grace.
            let acting = self.act(env, host, conn_host, vars, prefetched);
            let given_up = async {
                crate::interrupt::wait().await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            };
            let (mut status, mut result, effects) = tokio::select! {
                r = acting => r,
                _ = given_up => (Status::Failed, ModuleResult::failed(crate::interrupt::MESSAGE.to_string()).0, vec![]),
            };
            if status == Status::Unreachable {
                return (status, result, effects);
            }
            // The result, visible under the register name for the conditions.
            let mut cvars = vars.clone();
            let bind = |cv: &mut Map<String, Value>, r: &Map<String, Value>| {
                if let Some(reg) = &register {
                    cv.insert(reg.clone(), Value::Object(r.clone()));
                }
            };
            bind(&mut cvars, &result);
            if let Some(cw) = kw.get("changed_when") {
                match eval_when(env.templar, &as_list(cw), &cvars) {
                    Ok(c) => {
                        result.insert("changed".into(), Value::Bool(c));
                    }
                    Err(e) => return (Status::Failed, ModuleResult::failed(e).0, vec![]),
                }
                bind(&mut cvars, &result);
            }
            if let Some(fw) = kw.get("failed_when") {
                match eval_when(env.templar, &as_list(fw), &cvars) {
                    Ok(f) => {
                        result.insert("failed".into(), Value::Bool(f));
                        result.insert("failed_when_result".into(), Value::Bool(f));
                        if f && !result.contains_key("msg") {
                            result.insert("msg".into(), Value::String("Failed as requested from task".into()));
                        }
                        if !f && status == Status::Failed {
                            status = Status::Ok;
                        }
                    }
                    Err(e) => return (Status::Failed, ModuleResult::failed(e).0, vec![]),
                }
                bind(&mut cvars, &result);
            }
            if let Some(u) = &until {
                let done = eval_when(env.templar, &as_list(u), &cvars).unwrap_or(false);
                result.insert("attempts".into(), Value::from(attempt));
                if !done && attempt < attempts_max {
                    let shown = task.display_name();
                    self.events.emit(&Event::Retry { play: &self.play_name, task: &shown, host, retries_left: attempts_max - attempt });
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs_f64(delay)) => {}
                        _ = crate::interrupt::wait() => {}
                    }
                    if crate::interrupt::requested() {
                        return (Status::Failed, ModuleResult::failed(crate::interrupt::MESSAGE.to_string()).0, vec![]);
                    }
                    continue;
                }
                if !done {
                    result.insert("failed".into(), Value::Bool(true));
                    result.entry("msg").or_insert(Value::String("Retries exhausted".into()));
                }
            }
            let failed = result.get("failed").and_then(Value::as_bool).unwrap_or(false);
            let skipped = result.get("skipped").and_then(Value::as_bool).unwrap_or(false);
            let changed = result.get("changed").and_then(Value::as_bool).unwrap_or(false);
            status = if failed {
                Status::Failed
            } else if skipped && status != Status::Failed {
                Status::Skipped
            } else if changed {
                Status::Changed
            } else {
                Status::Ok
            };
            if no_log {
                let mut censored = Map::new();
                censored.insert("censored".into(), Value::String("the output has been hidden due to the fact that 'no_log: true' was specified for this result".into()));
                censored.insert("changed".into(), Value::Bool(changed));
                if failed {
                    censored.insert("failed".into(), Value::Bool(true));
                }
                // Registered values keep the real result (as in Ansible); only output is censored.
                let mut r = result.clone();
                r.insert("_provision_censored".into(), Value::Object(censored));
                return (status, r, effects);
            }
            return (status, result, effects);
        }
    }

    /// A task's arguments, rendered for one host (or loop item), `module_defaults` first.
    fn render_args(&self, env: &JobEnv<'_>, vars: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        let task = env.task;
        let kw = &env.scope.kw;
        // module_defaults apply before templating.
        let mut raw_args = task.args.clone();
        if let Some(Value::Object(md)) = kw.get("module_defaults") {
            for key in [task.action.as_str(), task.action_written.as_str(), &format!("ansible.builtin.{}", task.action)] {
                if let Some(Value::Object(defs)) = md.get(key) {
                    for (k, v) in defs {
                        raw_args.entry(k.clone()).or_insert(v.clone());
                    }
                }
            }
        }
        let args = match env.templar.render_value(&Value::Object(raw_args), vars, &env.search) {
            Ok(Value::Object(m)) => m.into_iter().filter(|(_, v)| v.as_str() != Some(OMIT)).collect::<Map<String, Value>>(),
            Ok(_) => Map::new(),
            Err(e) => return Err(format!("{e} (in the task at {})", task.loc)),
        };
        Ok(args)
    }

    /// What a module on the host gets: the action (a `template` is a `copy` of its
    /// rendered `content`), its checked arguments, the template's source for the result,
    /// and the module (none for an engine action such as `reboot`).
    #[allow(clippy::type_complexity)]
    fn module_args(&self, env: &JobEnv<'_>, host: &str, mut args: Map<String, Value>, vars: &Map<String, Value>) -> Result<(String, Map<String, Value>, Option<Value>, Option<&'static dyn provision_modules::Module>), String> {
        let task = env.task;
        // Controller-side files: `copy src=` and `template src=` are looked up in the
        // role's files/ (templates/) and beside the playbook, as Ansible does.
        let mut action = task.action.as_str();
        if matches!(action, "copy" | "template" | "unarchive") && !args.get("remote_src").and_then(to_bool).unwrap_or(false) {
            if let Some(src) = args.get("src").map(text) {
                let sub = if action == "template" { "templates" } else { "files" };
                match find_local(&src, sub, &env.search) {
                    Some(p) => {
                        let mut shown = p.display().to_string();
                        if src.ends_with('/') && !shown.ends_with('/') {
                            shown.push('/');
                        }
                        args.insert("src".into(), Value::String(shown));
                    }
                    None => return Err(format!("Could not find or access '{src}'; searched {sub}/ of {}", env.search.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))),
                }
            }
        }
        if action == "template" {
            let Some(src) = args.remove("src").map(|v| text(&v)) else { return Err("missing required argument `src` for module `template`".into()) };
            let body = match std::fs::read_to_string(&src) {
                // A vault-encrypted template is decrypted first, as Ansible's loader does.
                Ok(b) if crate::vault::is_encrypted(b.as_bytes()) => match crate::vault::decrypt_file_text(&b) {
                    Ok(plain) => plain,
                    Err(e) => return Err(format!("Could not read template '{src}': {e}")),
                },
                Ok(b) => b,
                Err(e) => return Err(format!("Could not read template '{src}': {e}")),
            };
            let mut tvars = vars.clone();
            let managed = tvars.get("ansible_managed").cloned().unwrap_or(Value::String("Ansible managed".into()));
            tvars.insert("ansible_managed".into(), managed);
            tvars.insert("template_path".into(), Value::String(src.clone()));
            tvars.insert("template_fullpath".into(), Value::String(src.clone()));
            tvars.insert("template_host".into(), Value::String(std::env::var("HOSTNAME").unwrap_or_default()));
            tvars.insert("template_uid".into(), Value::String(std::env::var("USER").unwrap_or_default()));
            let mut tsearch = env.search.clone();
            if let Some(dir) = Path::new(&src).parent() {
                tsearch.insert(0, dir.to_path_buf());
            }
            let rendered = match env.templar.render_file(&body, &src, &tvars, &tsearch) {
                Ok(r) => r,
                Err(e) => return Err(format!("{e} (in template {src})")),
            };
            for k in ["newline_sequence", "trim_blocks", "lstrip_blocks", "block_start_string", "block_end_string", "variable_start_string", "variable_end_string", "output_encoding"] {
                args.remove(k);
            }
            args.insert("content".into(), Value::String(rendered));
            args.insert("_provision_template_src".into(), Value::String(src));
            action = "copy";
        }
        // fetch lays files out by inventory name (dest/<inventory_hostname>/<src>).
        if action == "fetch" && !args.contains_key("_inventory_hostname") {
            args.insert("_inventory_hostname".into(), Value::String(host.to_string()));
        }
        // A module on the host.
        let module = provision_modules::find(action);
        let Some(doc) = module.map(|m| m.doc()).or_else(|| super::engine_doc(action)) else {
            return Err(format!("module `{}` is not available", task.action_written));
        };
        let template_src = args.remove("_provision_template_src");
        let args = match provision_modules::validate(doc.name, doc.args, &args, &["_raw_params"]) {
            Ok(a) => a,
            Err(e) => return Err(format!("{}{}", e.message, e.hint.map(|h| format!(" ({h})")).unwrap_or_default())),
        };
        Ok((action.to_string(), args, template_src, module))
    }

    /// Run the action itself: an engine action, or a module on the host.
    async fn act(&self, env: &JobEnv<'_>, host: &str, conn_host: &str, vars: &Map<String, Value>, prefetched: Option<&LoopCache>) -> (Status, Map<String, Value>, Vec<Effect>) {
        let task = env.task;
        let kw = &env.scope.kw;
        let failed = |msg: String| (Status::Failed, ModuleResult::failed(msg).0, vec![]);
        let args = match self.render_args(env, vars) {
            Ok(a) => a,
            Err(msg) => return failed(msg),
        };
        let check = match kw.get("check_mode") {
            Some(v) => render_bool(env, v, vars).unwrap_or(env.opts.check),
            None => env.opts.check,
        };
        let diff = match kw.get("diff") {
            Some(v) => render_bool(env, v, vars).unwrap_or(env.opts.diff),
            None => env.opts.diff,
        };
        match task.action.as_str() {
            "debug" => return super::actions::debug(env.templar, &args, vars, &env.search, env.opts.verbosity),
            "set_fact" => return super::actions::set_fact(&args),
            "assert" => return super::actions::assert(env.templar, &args, vars, &env.search),
            "fail" => return (Status::Failed, ModuleResult::failed(args.get("msg").map(text).unwrap_or_else(|| "Failed as requested from task".into())).0, vec![]),
            "pause" => return super::actions::pause(&args).await,
            "include_vars" => return super::actions::include_vars(&args, &env.search),
            "add_host" => return super::actions::add_host(&args),
            "group_by" => return super::actions::group_by(&args),
            "set_stats" => return (Status::Ok, ModuleResult::ok(false).0, vec![]),
            "include_tasks" | "import_tasks" => {
                let target = args.get("_raw_params").or_else(|| args.get("file")).map(text).unwrap_or_default();
                let dir = task.loc.file.parent().map(Path::to_path_buf).unwrap_or_default();
                let Some(file) = crate::playbook::resolve_tasks_file(&dir, env.scope.role.as_ref(), &target).or_else(|| {
                    let p = self.play_dir.join(&target);
                    p.is_file().then_some(p)
                }) else {
                    return failed(format!("Could not find or access '{target}'"));
                };
                let mut ivars = Map::new();
                if let Some(Value::Object(v)) = task.kw.get("vars") {
                    ivars.extend(v.clone());
                }
                // In a loop, each item includes the file with its loop variables.
                let mut label = None;
                for key in ["ansible_loop_var", "ansible_index_var"] {
                    if let Some(name) = vars.get(key).and_then(Value::as_str) {
                        if let Some(v) = vars.get(name) {
                            if key == "ansible_loop_var" {
                                label = Some(item_label(v));
                            }
                            ivars.insert(name.to_string(), v.clone());
                        }
                    }
                }
                return (Status::Ok, Map::new(), vec![Effect::Include { file, vars: ivars, label }]);
            }
            "include_role" => {
                let name = args.get("name").map(text).unwrap_or_default();
                let mut ivars = Map::new();
                if let Some(Value::Object(v)) = task.kw.get("vars") {
                    ivars.extend(v.clone());
                }
                return (Status::Ok, Map::new(), vec![Effect::IncludeRole { name, args, vars: ivars }]);
            }
            _ => {}
        }
        let (action, args, template_src, module) = match self.module_args(env, host, args, vars) {
            Ok(m) => m,
            Err(msg) => return failed(msg),
        };
        let action = action.as_str();
        // The connection: command line < play/block/task keywords < host variables.
        // Connection keywords are templated with the host's variables (`become_user: "{{ u }}"`).
        let mut ckw = Map::new();
        for key in CONN_KEYWORDS {
            if let Some(v) = kw.get(key) {
                match env.templar.render_value(v, vars, &env.search) {
                    Ok(r) => {
                        ckw.insert(key.to_string(), r);
                    }
                    Err(e) => return failed(format!("{e} (in `{key}` of the task at {})", task.loc)),
                }
            }
        }
        let conn = self.conn_for(&ckw);
        let target_vars = if conn_host == host { vars.clone() } else { self.delegate_vars(conn_host) };
        let target = match Target::resolve(conn_host, &target_vars, &conn, &self.ssh) {
            Ok(t) => t,
            Err(d) => return failed(d.message),
        };
        let session = self.session(&target).await;
        let connection_module = super::reboot::is_connection_module(action);
        if connection_module {
            // These wait for the host themselves: no early UNREACHABLE.
        } else if let Err(e) = session.connect().await {
            let mut r = Map::new();
            r.insert("changed".into(), Value::Bool(false));
            r.insert("msg".into(), Value::String(format!("Failed to connect to the host via ssh: {e}")));
            r.insert("unreachable".into(), Value::Bool(true));
            return (Status::Unreachable, r, vec![]);
        }
        if let (Some(spec), false) = (&self.opts.conn.lock, connection_module) {
            match session.lock(spec).await {
                Ok(None) => {}
                Ok(Some(note)) => crate::output::live::stderr_line(&format!("[WARNING]: {conn_host}: {note}")),
                Err(e) => return failed(e.to_string()),
            }
        }
        let environment: Vec<(String, String)> = match kw.get("environment") {
            Some(e) => match env.templar.render_value(e, vars, &env.search) {
                Ok(Value::Object(m)) => m.into_iter().map(|(k, v)| (k, text(&v))).collect(),
                Ok(Value::Array(list)) => list.into_iter().filter_map(|x| x.as_object().cloned()).flat_map(|m| m.into_iter().map(|(k, v)| (k, text(&v)))).collect(),
                Ok(_) => vec![],
                Err(e) => return failed(e.to_string()),
            },
            None => vec![],
        };
        let remote = TaskRemote { session: &session, become_: target.become_.clone(), environment };
        let Some(module) = module.filter(|_| !connection_module) else {
            let r = match action {
                "reboot" => super::reboot::reboot(&remote, &args, check).await,
                _ => super::reboot::wait_for_connection(&remote, &args).await,
            };
            let status = if r.get("failed").and_then(Value::as_bool).unwrap_or(false) {
                Status::Failed
            } else if r.get("changed").and_then(Value::as_bool).unwrap_or(false) {
                Status::Changed
            } else {
                Status::Ok
            };
            return (status, r, vec![]);
        };
        // A loop's first reads, done together when the first item gets here.
        let cached;
        let module_remote: &dyn provision_modules::Remote = match prefetched {
            Some(cache) => {
                let key = (Arc::as_ptr(&session) as usize, remote.become_.clone(), remote.environment.clone());
                cache.fill(&remote, key.clone()).await;
                cached = Cached { inner: &remote, cache, key };
                &cached
            }
            None => &remote,
        };
        let ctx = Context { remote: module_remote, check_mode: check, diff };
        let running = module.run(&args, &ctx);
        // `-v` on a terminal: the output of a command streams as it arrives.
        let outcome = if crate::output::live::streaming() && matches!(action, "command" | "shell" | "raw" | "script") {
            let shown = host.to_string();
            let tap: crate::connection::privilege::Tap = Arc::new(move |out, data| crate::output::live::stream(&shown, out, data));
            crate::connection::privilege::TAP.scope(tap, running).await
        } else {
            running.await
        };
        match outcome {
            Ok(mut r) => {
                if let Some(src) = template_src {
                    r.0.insert("src".into(), src);
                }
                let mut effects = vec![];
                if let Some(Value::Object(f)) = r.0.get("ansible_facts") {
                    effects.push(Effect::Facts(f.clone()));
                }
                let status = if r.is_failed() {
                    Status::Failed
                } else if r.changed() {
                    Status::Changed
                } else {
                    Status::Ok
                };
                (status, r.0, effects)
            }
            Err(RemoteError::Unreachable(msg)) => {
                let mut r = Map::new();
                r.insert("changed".into(), Value::Bool(false));
                r.insert("msg".into(), Value::String(format!("Failed to connect to the host via ssh: {msg}")));
                r.insert("unreachable".into(), Value::Bool(true));
                (Status::Unreachable, r, vec![])
            }
            Err(RemoteError::Timeout(d)) => failed(format!("The command timed out after {} seconds", d.as_secs())),
            Err(RemoteError::Become(m)) | Err(RemoteError::Other(m)) => failed(m),
        }
    }

    /// Connection variables of a delegated host (or implicit localhost).
    fn delegate_vars(&self, host: &str) -> Map<String, Value> {
        match self.inv.host_vars(host) {
            Some(v) => v,
            None => {
                let mut m = Map::new();
                if host == "localhost" || host == "127.0.0.1" {
                    m.insert("ansible_connection".into(), Value::String("local".into()));
                }
                m
            }
        }
    }
}

/// A controller file named in `src`: absolute, or in `sub/` (files/, templates/) of a
/// search path (the role first), or directly in one.
fn find_local(src: &str, sub: &str, search: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(src);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    for base in search {
        for c in [base.join(sub).join(src), base.join(src)] {
            if c.exists() {
                return Some(c);
            }
        }
    }
    p.exists().then(|| p.to_path_buf())
}

/// Ask on stderr and read a line from stdin: a prompt never mixes into stdout (which may
/// be a JSON report). A Ctrl-C while it waits ends the run at once.
fn prompt_line(prompt: &str) -> String {
    use std::io::Write;
    let _waiting = crate::interrupt::Prompting::start();
    let _quiet = crate::output::live::suspend();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    drop(err);
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
    s.trim_end_matches(['\n', '\r']).to_string()
}

/// Can we ask the person at the terminal (stdin is one)?
fn interactive() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdin())
}

fn step_confirm(name: &str) -> bool {
    let answer = prompt_line(&format!("Perform task: TASK: {name} (N)o/(y)es/(c)ontinue: "));
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes" | "c" | "continue")
}

fn render_bool(env: &JobEnv<'_>, v: &Value, vars: &Map<String, Value>) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.contains("{{") => env.templar.render_str(s, vars, &env.search).ok().and_then(|r| to_bool(&r)),
        other => to_bool(other),
    }
}

/// All conditions true? Each may be a bare expression, `{{ }}`-wrapped, or a boolean.
fn eval_when(templar: &Templar, conds: &[Value], vars: &Map<String, Value>) -> Result<bool, String> {
    for c in conds {
        let ok = match c {
            Value::Bool(b) => *b,
            Value::Null => true,
            Value::String(s) => templar.eval_bool(s, vars, &[]).map_err(|e| e.to_string())?,
            other => to_bool(other).unwrap_or(true),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn skipped_result(conds: &[Value]) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("skip_reason".into(), Value::String("Conditional result was False".into()));
    r.insert("skipped".into(), Value::Bool(true));
    if let Some(c) = conds.last() {
        r.insert("false_condition".into(), Value::String(text(c)));
    }
    r
}

fn item_label(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        other => crate::output::pyjson_value(other),
    }
}

/// The keywords that choose a task's connection ([`Engine::conn_for`]), templated per
/// host before they are used.
const CONN_KEYWORDS: [&str; 6] = ["become", "become_user", "become_method", "remote_user", "connection", "timeout"];

/// Sessions are shared by the tasks that reach a host the same way.
fn session_key(t: &Target) -> String {
    format!("{:?}|{}|{}|{}", t.kind, t.address, t.port, t.user)
}
