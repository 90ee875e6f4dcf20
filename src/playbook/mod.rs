//! Playbooks: YAML in, typed plays, blocks and tasks out, each with its position.
//!
//! [`load`] reads a playbook file (following `import_playbook`), resolves roles
//! (`roles:`, `import_role`, meta dependencies) and static includes (`import_tasks`),
//! and validates every task: a known module or engine action, known keywords, module
//! arguments that pass the module's spec (unless templated), well-formed loops. All
//! problems are collected and returned together as [`Diagnostic`]s with file:line:col,
//! before any host is touched.
//!
//! Values stay raw (unrendered `serde_json::Value`s): templating happens per host at
//! run time. Dynamic includes (`include_tasks`, `include_role`) stay tasks and are
//! loaded by the runner through [`Loader::load_tasks_file`] and [`Loader::load_role`].

pub mod keywords;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diag::{did_you_mean, Diagnostic};
use crate::yaml::{load_spanned, SNode};
use keywords::{short_name, BLOCK, ENGINE_ACTIONS, PLAY, TASK, WITH_LOOKUPS};

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A role as used in a play: its files loaded, its parameters given.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    pub defaults: Map<String, Value>,
    pub vars: Map<String, Value>,
    /// Parameters given where the role is used (`- role: x` with extra keys).
    pub params: Map<String, Value>,
}

/// A task, or a block of them.
#[derive(Debug, Clone)]
pub enum Item {
    Task(Task),
    Block(Block),
}

/// `block` / `rescue` / `always` with the keywords that apply to all of them.
#[derive(Debug, Clone)]
pub struct Block {
    pub name: Option<String>,
    pub block: Vec<Item>,
    pub rescue: Vec<Item>,
    pub always: Vec<Item>,
    /// Raw keywords (`when`, `become`, `vars`, `tags`, ...).
    pub kw: Map<String, Value>,
    pub loc: Loc,
    pub role: Option<Arc<Role>>,
}

/// How a task loops.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopSpec {
    /// `loop: EXPR`
    Loop(Value),
    /// `with_<lookup>: TERMS`
    With { lookup: String, terms: Value },
}

/// One task: which action with which arguments, and its keywords.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    /// The module or engine action, short name (`apt`, `debug`, `include_tasks`).
    pub action: String,
    /// The name as written (`ansible.builtin.apt`).
    pub action_written: String,
    pub args: Map<String, Value>,
    /// Raw keywords (`when`, `register`, `notify`, `become`, ...), without `loop`.
    pub kw: Map<String, Value>,
    pub looping: Option<LoopSpec>,
    pub loc: Loc,
    pub role: Option<Arc<Role>>,
    /// For handlers: the names it answers to (its name and `listen`).
    pub listen: Vec<String>,
}

impl Task {
    /// The name shown in `TASK [...]`: `role : name`, or the action when unnamed.
    pub fn display_name(&self) -> String {
        let base = self.name.clone().unwrap_or_else(|| self.action_written.clone());
        match &self.role {
            Some(r) => format!("{} : {base}", r.name),
            None => base,
        }
    }
}

/// `vars_prompt` entry.
#[derive(Debug, Clone)]
pub struct VarsPrompt {
    pub name: String,
    pub prompt: String,
    pub default: Option<Value>,
    pub private: bool,
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    pub loc: Loc,
    /// Raw keywords (`become`, `gather_facts`, `serial`, `strategy`, `vars`, `environment`...).
    pub kw: Map<String, Value>,
    pub vars_files: Vec<Value>,
    pub vars_prompt: Vec<VarsPrompt>,
    pub pre_tasks: Vec<Item>,
    /// Roles of `roles:`, each already a block of its tasks.
    pub roles: Vec<Item>,
    pub tasks: Vec<Item>,
    pub post_tasks: Vec<Item>,
    pub handlers: Vec<Task>,
    /// The directory of the playbook file the play is in.
    pub dir: PathBuf,
    /// Roles (name and parameters) the play's `roles:` already run, so that
    /// `include_role` does not run their dependencies again.
    pub roles_seen: std::collections::HashSet<String>,
}

/// A playbook, with imported playbooks spliced in.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

/// What the loader needs to know about modules: which exist and how to validate args.
pub trait ModuleCatalog: Sync {
    fn exists(&self, name: &str) -> bool;
    fn names(&self) -> Vec<&'static str>;
    /// Keys that the free form `k=v` of this module may set, or `None` if it is not free-form.
    fn free_form_keys(&self, name: &str) -> Option<Vec<&'static str>>;
    /// Whether argument `arg` of module `name` is a string (for the YAML 1.1 boolean trap).
    fn is_string_arg(&self, _name: &str, _arg: &str) -> bool {
        false
    }
    /// Validate (untemplated) arguments; `Err((argument, message, hint))`.
    fn check_args(&self, name: &str, args: &Map<String, Value>) -> Result<(), (Option<String>, String, Option<String>)>;
}

/// Reads playbooks, task files and roles, collecting errors.
pub struct Loader<'a> {
    pub catalog: &'a dyn ModuleCatalog,
    pub roles_path: Vec<PathBuf>,
    pub errors: Vec<Diagnostic>,
    /// Things that are allowed but probably not meant (the YAML 1.1 boolean trap).
    pub warnings: Vec<Diagnostic>,
    /// Source texts by file, for the snippet in errors.
    texts: std::collections::HashMap<PathBuf, Arc<String>>,
    /// Roles already used in the current play (name and parameters): a role runs once
    /// per play unless its meta says `allow_duplicates` or its parameters differ.
    pub roles_seen: std::collections::HashSet<String>,
}

fn loc(file: &Arc<PathBuf>, n: &SNode) -> Loc {
    Loc { file: file.clone(), line: n.line, column: n.column }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Default search path for roles: beside the playbook, then the configured paths, then
/// the roles shipped with provision.
pub fn default_roles_path() -> Vec<PathBuf> {
    let mut p = Vec::new();
    for var in ["PROVISION_ROLES_PATH", "ANSIBLE_ROLES_PATH"] {
        if let Ok(v) = std::env::var(var) {
            p.extend(v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
        }
    }
    if let Some(h) = dirs::home_dir() {
        p.push(h.join(".ansible/roles"));
    }
    p.push(PathBuf::from("/usr/share/ansible/roles"));
    p.push(PathBuf::from("/etc/ansible/roles"));
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            p.push(dir.join("../share/provision/roles"));
        }
    }
    p.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/roles")));
    p
}

impl<'a> Loader<'a> {
    pub fn new(catalog: &'a dyn ModuleCatalog) -> Self {
        Loader {
            catalog,
            roles_path: default_roles_path(),
            errors: Vec::new(),
            warnings: Vec::new(),
            texts: Default::default(),
            roles_seen: Default::default(),
        }
    }

    fn err(&mut self, at: &Loc, message: impl Into<String>, help: Option<String>) {
        let text = self.texts.get(at.file.as_ref()).cloned();
        let mut d = Diagnostic::new(message).at(&at.file, at.line, at.column, text.as_deref().map(String::as_str));
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.errors.push(d);
    }

    fn read(&mut self, path: &Path) -> Option<(Arc<PathBuf>, SNode)> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(Diagnostic::new(format!("cannot read `{}`: {e}", path.display())));
                return None;
            }
        };
        let file = Arc::new(path.to_path_buf());
        match load_spanned(&text, path) {
            Ok(n) => {
                self.texts.insert(path.to_path_buf(), Arc::new(text));
                Some((file, n))
            }
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    /// Load a playbook and everything it imports.
    pub fn load_playbook(&mut self, path: &Path) -> Playbook {
        let mut plays = Vec::new();
        self.playbook_into(path, &mut plays, &mut vec![]);
        Playbook { path: path.to_path_buf(), plays }
    }

    fn playbook_into(&mut self, path: &Path, plays: &mut Vec<Play>, stack: &mut Vec<PathBuf>) {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if stack.contains(&canon) {
            self.errors.push(Diagnostic::new(format!("playbook `{}` imports itself", path.display())));
            return;
        }
        let Some((file, root)) = self.read(path) else { return };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let Some(entries) = root.as_seq() else {
            if !root.is_null() {
                self.err(&loc(&file, &root), "a playbook must be a list of plays", Some("start each play with `- hosts: PATTERN`".into()));
            }
            return;
        };
        stack.push(canon);
        for node in entries {
            let at = loc(&file, node);
            let Some(map) = node.as_map() else {
                self.err(&at, "a play must be a mapping", Some("start each play with `- hosts: PATTERN`".into()));
                continue;
            };
            if let Some(imp) = node.get("import_playbook").or_else(|| node.get("ansible.builtin.import_playbook")) {
                let target = scalar_text(&imp.to_json());
                let p = dir.join(&target);
                if !p.exists() {
                    self.err(&loc(&file, imp), format!("imported playbook `{target}` not found"), Some(format!("looked for {}", p.display())));
                    continue;
                }
                self.playbook_into(&p, plays, stack);
                let _ = map;
                continue;
            }
            if let Some(play) = self.play(&file, node, &dir) {
                plays.push(play);
            }
        }
        stack.pop();
    }

    fn unknown_key(&mut self, at: &Loc, key: &str, what: &str, allowed: &[&str]) {
        let help = did_you_mean(key, allowed.iter().copied()).map(|k| format!("did you mean `{k}`?"));
        self.err(at, format!("unknown {what} keyword `{key}`"), help);
    }

    fn play(&mut self, file: &Arc<PathBuf>, node: &SNode, dir: &Path) -> Option<Play> {
        let at = loc(file, node);
        self.roles_seen.clear();
        let entries = node.as_map()?;
        let mut kw = Map::new();
        let mut hosts = None;
        let mut name = None;
        let (mut pre, mut tasks, mut post, mut handlers, mut roles) = (vec![], vec![], vec![], vec![], vec![]);
        let mut vars_files = vec![];
        let mut vars_prompt = vec![];
        for (k, v) in entries {
            let key = k.key();
            let kat = loc(file, k);
            match key.as_str() {
                "hosts" => {
                    hosts = Some(match v.to_json() {
                        Value::Array(a) => a.iter().map(scalar_text).collect::<Vec<_>>().join(":"),
                        other => scalar_text(&other),
                    })
                }
                "name" => name = Some(scalar_text(&v.to_json())),
                "pre_tasks" => pre = self.items(file, v, None, dir),
                "tasks" => tasks = self.items(file, v, None, dir),
                "post_tasks" => post = self.items(file, v, None, dir),
                "handlers" => handlers = self.handlers(file, v, None, dir),
                "roles" => {
                    let Some(list) = v.as_seq() else {
                        self.err(&loc(file, v), "`roles` must be a list", None);
                        continue;
                    };
                    for r in list {
                        if let Some((block, role_handlers)) = self.role_use(file, r, dir) {
                            roles.push(block);
                            handlers.extend(role_handlers);
                        }
                    }
                }
                "vars_files" => {
                    vars_files = match v.to_json() {
                        Value::Array(a) => a,
                        Value::Null => vec![],
                        other => vec![other],
                    }
                }
                "vars_prompt" => {
                    for p in v.as_seq().unwrap_or(&[]) {
                        let j = p.to_json();
                        let Some(name) = j.get("name").and_then(Value::as_str) else {
                            self.err(&loc(file, p), "a `vars_prompt` entry needs a `name`", None);
                            continue;
                        };
                        vars_prompt.push(VarsPrompt {
                            name: name.to_string(),
                            prompt: j.get("prompt").and_then(Value::as_str).unwrap_or(name).to_string(),
                            default: j.get("default").cloned(),
                            private: j.get("private").and_then(|v| provision_modules::args::to_bool(v)).unwrap_or(true),
                        });
                    }
                }
                k if PLAY.contains(&k) => {
                    kw.insert(key.clone(), v.to_json());
                }
                _ => self.unknown_key(&kat, &key, "play", PLAY),
            }
        }
        let Some(hosts) = hosts else {
            self.err(&at, "this play has no `hosts`", Some("every play says where it runs: `hosts: all`".into()));
            return None;
        };
        if let Some(v) = kw.get("vars") {
            if !v.is_object() && !v.is_null() {
                self.err(&at, "play `vars` must be a mapping", None);
            }
        }
        Some(Play {
            name: name.unwrap_or_else(|| hosts.clone()),
            hosts,
            loc: at,
            kw,
            vars_files,
            vars_prompt,
            pre_tasks: pre,
            roles,
            tasks,
            post_tasks: post,
            handlers,
            dir: dir.to_path_buf(),
            roles_seen: self.roles_seen.clone(),
        })
    }

    fn handlers(&mut self, file: &Arc<PathBuf>, node: &SNode, role: Option<&Arc<Role>>, dir: &Path) -> Vec<Task> {
        let mut out = Vec::new();
        fn flatten(items: Vec<Item>, out: &mut Vec<Task>) {
            for i in items {
                match i {
                    Item::Task(t) => out.push(t),
                    Item::Block(b) => {
                        flatten(b.block, out);
                        flatten(b.rescue, out);
                        flatten(b.always, out);
                    }
                }
            }
        }
        flatten(self.items(file, node, role, dir), &mut out);
        for t in &mut out {
            let mut names = Vec::new();
            if let Some(n) = &t.name {
                names.push(n.clone());
                if let Some(r) = role {
                    names.push(format!("{} : {n}", r.name));
                }
            }
            match t.kw.get("listen") {
                Some(Value::String(s)) => names.push(s.clone()),
                Some(Value::Array(a)) => names.extend(a.iter().map(scalar_text)),
                _ => {}
            }
            t.listen = names;
        }
        out
    }

    /// A list of tasks and blocks.
    pub fn items(&mut self, file: &Arc<PathBuf>, node: &SNode, role: Option<&Arc<Role>>, dir: &Path) -> Vec<Item> {
        if node.is_null() {
            return vec![];
        }
        let Some(list) = node.as_seq() else {
            self.err(&loc(file, node), "expected a list of tasks", Some("each task starts with `- name: ...`".into()));
            return vec![];
        };
        let mut out = Vec::new();
        for n in list {
            if n.as_map().is_none() {
                self.err(&loc(file, n), "a task must be a mapping", Some("write `- name: ...` followed by a module".into()));
                continue;
            }
            if n.get("block").is_some() {
                if let Some(b) = self.block(file, n, role, dir) {
                    out.push(Item::Block(b));
                }
            } else if let Some(item) = self.task(file, n, role, dir) {
                out.push(item);
            }
        }
        out
    }

    fn block(&mut self, file: &Arc<PathBuf>, node: &SNode, role: Option<&Arc<Role>>, dir: &Path) -> Option<Block> {
        let mut b = Block {
            name: None,
            block: vec![],
            rescue: vec![],
            always: vec![],
            kw: Map::new(),
            loc: loc(file, node),
            role: role.cloned(),
        };
        for (k, v) in node.as_map()? {
            let key = k.key();
            match key.as_str() {
                "block" => b.block = self.items(file, v, role, dir),
                "rescue" => b.rescue = self.items(file, v, role, dir),
                "always" => b.always = self.items(file, v, role, dir),
                "name" => b.name = Some(scalar_text(&v.to_json())),
                k2 if BLOCK.contains(&k2) => {
                    b.kw.insert(key.clone(), v.to_json());
                }
                _ => self.unknown_key(&loc(file, k), &key, "block", BLOCK),
            }
        }
        Some(b)
    }

    /// One task; static includes come back as blocks.
    fn task(&mut self, file: &Arc<PathBuf>, node: &SNode, role: Option<&Arc<Role>>, dir: &Path) -> Option<Item> {
        let at = loc(file, node);
        let mut kw = Map::new();
        let mut name = None;
        let mut action: Option<(String, String, Value, Loc)> = None;
        let mut looping = None;
        let mut unknown: Vec<(String, Loc)> = Vec::new();
        // Where each argument key was written, to point errors at it.
        let mut arg_locs: Vec<(String, Loc)> = Vec::new();
        for (k, v) in node.as_map()? {
            if key_is_args_holder(&k.key(), self.catalog) {
                for (ak, _) in v.as_map().unwrap_or(&[]) {
                    arg_locs.push((ak.key(), loc(file, ak)));
                }
            }
            let key = k.key();
            let kat = loc(file, k);
            if key == "name" {
                name = Some(scalar_text(&v.to_json()));
            } else if key == "loop" {
                looping = Some(LoopSpec::Loop(v.to_json()));
            } else if let Some(lookup) = key.strip_prefix("with_") {
                if !WITH_LOOKUPS.contains(&lookup) {
                    let help = did_you_mean(lookup, WITH_LOOKUPS.iter().copied()).map(|l| format!("did you mean `with_{l}`?"));
                    self.err(&kat, format!("unknown loop `{key}`"), help.or(Some("or use `loop:` with a filter".into())));
                }
                if looping.is_some() {
                    self.err(&kat, "a task can have only one loop", None);
                }
                looping = Some(LoopSpec::With { lookup: lookup.to_string(), terms: v.to_json() });
            } else if key == "action" || key == "local_action" {
                // `action: module args` or `action: {module: x, ...}`
                let j = v.to_json();
                let (m, rest) = match &j {
                    Value::String(s) => {
                        let (m, rest) = s.trim().split_once(char::is_whitespace).unwrap_or((s.trim(), ""));
                        (m.to_string(), Value::String(rest.trim().to_string()))
                    }
                    Value::Object(o) => {
                        let m = o.get("module").map(scalar_text).unwrap_or_default();
                        let mut o = o.clone();
                        o.remove("module");
                        (m, Value::Object(o))
                    }
                    _ => (String::new(), Value::Null),
                };
                if key == "local_action" {
                    kw.insert("delegate_to".into(), Value::String("localhost".into()));
                }
                action = Some((short_name(&m).to_string(), m, rest, kat));
            } else if TASK.contains(&key.as_str()) {
                kw.insert(key.clone(), v.to_json());
            } else if self.catalog.exists(short_name(&key)) || ENGINE_ACTIONS.contains(&short_name(&key)) {
                if let Some((_, prev, ..)) = &action {
                    self.err(&kat, format!("a task runs one module, but this one names `{prev}` and `{key}`"), Some("split it into two tasks".into()));
                    continue;
                }
                action = Some((short_name(&key).to_string(), key.clone(), v.to_json(), kat));
            } else {
                unknown.push((key, kat));
            }
        }
        if action.is_none() && unknown.len() == 1 {
            let (key, kat) = unknown.remove(0);
            let mut names: Vec<&str> = self.catalog.names();
            names.extend(ENGINE_ACTIONS.iter().copied());
            let help = did_you_mean(short_name(&key), names.iter().copied())
                .map(|m| format!("did you mean the module `{m}`?"))
                .or_else(|| did_you_mean(&key, TASK.iter().copied()).map(|k| format!("did you mean the keyword `{k}`?")))
                .or_else(|| Some("`provision doc --list` shows the modules".into()));
            self.err(&kat, format!("unknown module or keyword `{key}`"), help);
            return None;
        }
        for (key, kat) in unknown {
            self.unknown_key(&kat, &key, "task", TASK);
        }
        let Some((action, written, argvalue, aat)) = action else {
            self.err(&at, "this task has no module", Some("add a module, e.g. `ansible.builtin.debug: msg=hello`".into()));
            return None;
        };
        // Arguments: a mapping, or `k=v` free form, merged with `args:`.
        let mut args = Map::new();
        match argvalue {
            Value::Object(m) => args = m,
            Value::Null => {}
            Value::String(s) => {
                let keys = self.catalog.free_form_keys(&action);
                let free = keys.is_some() || matches!(action.as_str(), "include_tasks" | "import_tasks" | "include_vars" | "import_playbook");
                let parsed = if free {
                    provision_modules::args::parse_kv(&s, Some(&keys.unwrap_or_default()))
                } else {
                    provision_modules::args::parse_kv(&s, None)
                };
                match parsed {
                    Ok(m) => args = m,
                    Err(e) => self.err(&aat, format!("invalid arguments for `{written}`: {e}"), None),
                }
                if let (true, Some(raw)) = (!free, args.get("_raw_params")) {
                    if action == "debug" || action == "fail" || action == "assert" || action == "set_fact" || action == "meta" {
                        if action == "meta" {
                            args.remove("_raw_params");
                            args.insert("_raw_params".into(), Value::String(s.trim().to_string()));
                        }
                    } else {
                        self.err(&aat, format!("module `{written}` takes `key=value` arguments, not `{}`", scalar_text(raw)), Some(format!("`provision doc {action}` lists them")));
                    }
                }
            }
            other => self.err(&aat, format!("arguments of `{written}` must be a mapping or `key=value` text, got {other}"), None),
        }
        if let Some(Value::Object(extra)) = kw.remove("args") {
            for (k, v) in extra {
                args.entry(k).or_insert(v);
            }
        }
        // Static includes become blocks now.
        if action == "import_tasks" {
            let target = args.get("_raw_params").or_else(|| args.get("file")).map(scalar_text).unwrap_or_default();
            let path = resolve_tasks_file(dir, role, &target);
            let Some(path) = path.filter(|p| p.exists()) else {
                self.err(&aat, format!("imported task file `{target}` not found"), Some(format!("looked in {}", dir.display())));
                return None;
            };
            let (items, _) = self.load_tasks_file(&path, role)?;
            return Some(Item::Block(Block { name, block: items, rescue: vec![], always: vec![], kw, loc: at, role: role.cloned() }));
        }
        if action == "import_role" {
            let rname = args.get("name").map(scalar_text).unwrap_or_default();
            let Some(r) = self.find_and_load_role(&rname, &aat, Map::new(), dir, &args) else { return None };
            let (block, _handlers) = r;
            let Item::Block(mut b) = block else { return None };
            for (k, v) in kw {
                b.kw.insert(k, v);
            }
            return Some(Item::Block(b));
        }
        // The YAML 1.1 trap: `name: no` (Norway) or `state: on` read as booleans where the
        // module wants text.
        for (key, at) in &arg_locs {
            if !matches!(args.get(key), Some(Value::Bool(_))) || !self.catalog.is_string_arg(&action, key) {
                continue;
            }
            let written = self
                .texts
                .get(at.file.as_ref())
                .and_then(|t| t.lines().nth(at.line.saturating_sub(1)).map(str::to_string))
                .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
                .unwrap_or_default();
            if ["yes", "no", "on", "off", "y", "n"].contains(&written.to_lowercase().as_str()) {
                let text = self.texts.get(at.file.as_ref()).cloned();
                let b = args.get(key).and_then(Value::as_bool).unwrap_or(false);
                self.warnings.push(
                    Diagnostic::new(format!("`{key}: {written}` is read as the boolean {b} (YAML 1.1), but `{action}` wants text here"))
                        .at(&at.file, at.line, at.column, text.as_deref().map(String::as_str))
                        .with_help(format!("quote it if you meant the word: `{key}: \"{written}\"`")),
                );
            }
        }
        if !ENGINE_ACTIONS.contains(&action.as_str()) {
            let templated = args.values().any(|v| v.as_str().is_some_and(|s| s.contains("{{")));
            if !templated {
                if let Err((arg, message, hint)) = self.catalog.check_args(&action, &args) {
                    let mut m = message;
                    let mut at = aat.clone();
                    if let Some(a) = arg {
                        if !m.contains(&a) {
                            m = format!("{m} (`{a}`)");
                        }
                        if let Some((_, l)) = arg_locs.iter().find(|(k, _)| *k == a) {
                            at = l.clone();
                        }
                    }
                    self.err(&at, m, hint);
                }
            }
        }
        if let Some(w) = kw.get("when") {
            if !(w.is_string() || w.is_array() || w.is_boolean()) {
                self.err(&at, "`when` must be an expression or a list of expressions", None);
            }
        }
        Some(Item::Task(Task {
            name,
            action,
            action_written: written,
            args,
            kw,
            looping,
            loc: at,
            role: role.cloned(),
            listen: vec![],
        }))
    }

    /// Load a task file (for `import_tasks` now, or `include_tasks` at run time).
    pub fn load_tasks_file(&mut self, path: &Path, role: Option<&Arc<Role>>) -> Option<(Vec<Item>, Arc<PathBuf>)> {
        let (file, root) = self.read(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Some((self.items(&file, &root, role, &dir), file))
    }

    fn role_use(&mut self, file: &Arc<PathBuf>, node: &SNode, dir: &Path) -> Option<(Item, Vec<Task>)> {
        let at = loc(file, node);
        let (name, mut params, mut kw) = match node.to_json() {
            Value::String(s) => (s, Map::new(), Map::new()),
            Value::Object(m) => {
                let name = m.get("role").or_else(|| m.get("name")).map(scalar_text).unwrap_or_default();
                let mut params = Map::new();
                let mut kw = Map::new();
                for (k, v) in m {
                    if k == "role" || k == "name" {
                        continue;
                    }
                    if BLOCK.contains(&k.as_str()) && k != "vars" {
                        kw.insert(k, v);
                    } else if k == "vars" {
                        if let Value::Object(vs) = v {
                            params.extend(vs);
                        }
                    } else {
                        params.insert(k, v);
                    }
                }
                (name, params, kw)
            }
            _ => {
                self.err(&at, "a role must be a name or a mapping with `role:`", None);
                return None;
            }
        };
        if name.is_empty() {
            self.err(&at, "a role entry needs `role: NAME`", None);
            return None;
        }
        let seen_key = format!("{name}|{}", serde_json::to_string(&params).unwrap_or_default());
        if self.roles_seen.contains(&seen_key) && !self.role_allows_duplicates(&name, dir) {
            return Some((Item::Block(Block { name: None, block: vec![], rescue: vec![], always: vec![], kw: Map::new(), loc: at, role: None }), vec![]));
        }
        self.roles_seen.insert(seen_key);
        let (item, handlers) = self.find_and_load_role(&name, &at, std::mem::take(&mut params), dir, &Map::new())?;
        let Item::Block(mut b) = item else { return None };
        for (k, v) in std::mem::take(&mut kw) {
            b.kw.insert(k, v);
        }
        Some((Item::Block(b), handlers))
    }

    fn role_allows_duplicates(&self, name: &str, dir: &Path) -> bool {
        let Some(path) = self.find_role(name, dir) else { return false };
        ["main.yml", "main.yaml"].iter().any(|f| {
            crate::yaml::load_file(&path.join("meta").join(f))
                .ok()
                .and_then(|m| m.get("allow_duplicates").and_then(provision_modules::args::to_bool))
                .unwrap_or(false)
        })
    }

    /// Find a role directory by name.
    pub fn find_role(&self, name: &str, dir: &Path) -> Option<PathBuf> {
        let candidates = std::iter::once(dir.join("roles").join(name))
            .chain(std::iter::once(dir.join(name)))
            .chain(self.roles_path.iter().map(|p| p.join(name)))
            .chain(std::iter::once(PathBuf::from(name)));
        candidates.into_iter().find(|p| p.join("tasks").is_dir() || p.join("meta").is_dir() || p.join("handlers").is_dir() || p.join("defaults").is_dir())
    }

    /// Load a role: its defaults, vars, tasks (as one block) and handlers, after its
    /// meta dependencies.
    pub fn find_and_load_role(&mut self, name: &str, at: &Loc, params: Map<String, Value>, dir: &Path, opts: &Map<String, Value>) -> Option<(Item, Vec<Task>)> {
        let Some(path) = self.find_role(name, dir) else {
            let mut searched = vec![dir.join("roles").display().to_string()];
            searched.extend(self.roles_path.iter().map(|p| p.display().to_string()));
            self.err(at, format!("role `{name}` not found"), Some(format!("searched: {}", searched.join(", "))));
            return None;
        };
        // `tasks_from: setup.yml` and friends; `main` by default.
        let main = |_sub: &str, key: &str| -> String {
            let name = opts.get(key).map(scalar_text).unwrap_or_else(|| "main".to_string());
            name.trim_end_matches(".yml").trim_end_matches(".yaml").to_string()
        };
        let load_vars = |this: &mut Self, sub: &str, file: String| -> Map<String, Value> {
            for ext in ["", ".yml", ".yaml", ".json"] {
                let p = path.join(sub).join(format!("{file}{ext}"));
                if p.is_file() {
                    return match crate::yaml::load_file(&p) {
                        Ok(Value::Object(m)) => m,
                        Ok(Value::Null) => Map::new(),
                        Ok(_) => {
                            this.errors.push(Diagnostic::new(format!("`{}` must be a mapping of variables", p.display())));
                            Map::new()
                        }
                        Err(d) => {
                            this.errors.push(d);
                            Map::new()
                        }
                    };
                }
            }
            Map::new()
        };
        let defaults = load_vars(self, "defaults", main("defaults", "defaults_from"));
        let vars = load_vars(self, "vars", main("vars", "vars_from"));
        let role = Arc::new(Role { name: name.rsplit('/').next().unwrap_or(name).to_string(), path: path.clone(), defaults, vars, params });
        let mut items = Vec::new();
        let mut handlers = Vec::new();
        // meta/main.yml dependencies run first.
        let meta = load_vars(self, "meta", "main".into());
        if let Some(Value::Array(deps)) = meta.get("dependencies") {
            for d in deps {
                let node = SNode::synthetic(d.clone());
                let file = Arc::new(path.join("meta/main.yml"));
                // Dependencies are looked up beside the role (its roles/ directory), then
                // on the usual path.
                let beside = path.parent().map(Path::to_path_buf).unwrap_or_else(|| path.clone());
                let Some((dep, dh)) = self.role_use(&file, &node, &beside) else { continue };
                items.push(dep);
                handlers.extend(dh);
            }
        }
        let tasks_from = main("tasks", "tasks_from");
        for ext in [".yml", ".yaml", ""] {
            let p = path.join("tasks").join(format!("{tasks_from}{ext}"));
            if p.is_file() {
                if let Some((t, _)) = self.load_tasks_file(&p, Some(&role)) {
                    items.extend(t);
                }
                break;
            }
        }
        for ext in [".yml", ".yaml", ""] {
            let p = path.join("handlers").join(format!("{}{ext}", main("handlers", "handlers_from")));
            if p.is_file() {
                if let Some((file, root)) = self.read(&p) {
                    let d = p.parent().map(Path::to_path_buf).unwrap_or_default();
                    handlers.extend(self.handlers(&file, &root, Some(&role), &d));
                }
                break;
            }
        }
        Some((Item::Block(Block { name: None, block: items, rescue: vec![], always: vec![], kw: Map::new(), loc: at.clone(), role: Some(role) }), handlers))
    }
}

/// Does this task key hold module arguments as a mapping (the module itself, or `args`)?
fn key_is_args_holder(key: &str, catalog: &dyn ModuleCatalog) -> bool {
    key == "args" || catalog.exists(short_name(key)) || ENGINE_ACTIONS.contains(&short_name(key))
}

/// Where a task file named in `import_tasks`/`include_tasks` is: beside the including
/// file, or in the role's `tasks/`.
pub fn resolve_tasks_file(dir: &Path, role: Option<&Arc<Role>>, target: &str) -> Option<PathBuf> {
    let mut c = vec![dir.join(target)];
    if let Some(r) = role {
        c.push(r.path.join("tasks").join(target));
    }
    c.push(PathBuf::from(target));
    c.into_iter().find(|p| p.is_file())
}

/// Every task of a list, depth first (for `--list-tasks`, tags, `--start-at-task`).
pub fn walk_tasks<'a>(items: &'a [Item], out: &mut Vec<&'a Task>) {
    for i in items {
        match i {
            Item::Task(t) => out.push(t),
            Item::Block(b) => {
                walk_tasks(&b.block, out);
                walk_tasks(&b.rescue, out);
                walk_tasks(&b.always, out);
            }
        }
    }
}
