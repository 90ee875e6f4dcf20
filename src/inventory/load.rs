//! Reading `-i` sources into an [`Inventory`], and what Ansible does once they are read.
//!
//! [`Inventory::load`] walks the sources (files, directories, host lists), hands each
//! file to the INI or YAML parser, then reconciles the result as Ansible's
//! `reconcile_inventory` does (parentless groups under `all`, `ungrouped` membership),
//! computes group depths, and reads `group_vars/`/`host_vars/` beside each source. The
//! parsers build through the small API here (`add_group`, `insert_host`, `add_child`,
//! ...), which keeps membership in sets so a 20,000-host file loads in linear time.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use regex::Regex;
use serde_json::Value;

use super::vars_files::VarsDir;
use super::{ini, output, ranges, yaml, Group, Host, Inventory, ALL, LOCALHOST_NAMES, UNGROUPED};
use crate::diag::Diagnostic;

/// Where a `-i` source came from, for vars directories.
enum SourceKind {
    HostList,
    Path(PathBuf),
}

impl Inventory {
    /// An inventory with only the implicit groups `all` and `ungrouped`.
    pub(super) fn empty() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_group("all");
        inv.add_group("ungrouped");
        // Cannot fail: both groups are new and distinct.
        let _ = inv.add_child(ALL, UNGROUPED);
        inv
    }

    /// Load every `-i` source in order into one inventory.
    ///
    /// A source is a file, a directory, or — when it contains a comma and is not an
    /// existing path — a host list (`a,b,`, `web[1:3],`, `db:2222,`) whose hosts go to
    /// `ungrouped`. Beside each file source (inside a directory source), `group_vars/`
    /// and `host_vars/` are read: for each group or host `NAME`, the first of `NAME`,
    /// `NAME.yml`, `NAME.yaml`, `NAME.json`, or a directory `NAME/` of such files read in
    /// sorted order. A source that does not exist is an error; no sources give an empty
    /// inventory (the implicit localhost still works).
    ///
    /// In a directory, files are read in name order and these are skipped as Ansible
    /// skips them: hidden files, `group_vars`, `host_vars`, `vars_plugins`, and names
    /// ending in `.pyc .pyo .swp .bak ~ .rpm .md .txt .rst .orig .cfg .retry`.
    /// Subdirectories are read too. A file ending in `.yml`, `.yaml` or `.json` is YAML,
    /// a file with no extension is YAML when it parses as a YAML mapping and INI
    /// otherwise, and every other file is INI.
    pub fn load(sources: &[String]) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::empty();
        let mut kinds = Vec::new();
        for source in sources {
            if source.trim().is_empty() {
                continue;
            }
            let path = expand_home(source);
            if source.contains(',') && !path.exists() {
                inv.parse_host_list(source);
                kinds.push(SourceKind::HostList);
                continue;
            }
            if !path.exists() {
                return Err(Diagnostic::new(format!("inventory source `{source}` does not exist"))
                    .with_help("give a file, a directory, or a comma-separated host list such as `host1,host2,`"));
            }
            let path = std::path::absolute(&path).unwrap_or(path);
            inv.parse_path(&path)?;
            kinds.push(SourceKind::Path(path));
        }
        inv.reconcile();
        inv.compute_depths();
        for kind in kinds {
            if let SourceKind::Path(path) = kind {
                let dir = if path.is_dir() { path } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
                let vars = VarsDir::load(&dir, &inv)?;
                inv.vars_dirs.push(vars);
            }
        }
        inv.finish();
        Ok(inv)
    }

    /// Parse a file or, recursively, a directory of inventory files.
    pub(super) fn parse_path(&mut self, path: &Path) -> Result<(), Diagnostic> {
        self.parse_path_in(path, &mut Vec::new())
    }

    /// `open_dirs`: the directories being read, to stop at a symlink loop.
    pub(super) fn parse_path_in(&mut self, path: &Path, open_dirs: &mut Vec<PathBuf>) -> Result<(), Diagnostic> {
        if path.is_dir() {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if open_dirs.contains(&real) {
                return Ok(());
            }
            open_dirs.push(real);
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Diagnostic::new(format!("cannot read directory `{}`: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if IGNORED_IN_DIR.is_match(&name) {
                    continue;
                }
                self.parse_path_in(&entry, open_dirs)?;
            }
            open_dirs.pop();
            return Ok(());
        }
        let bytes =
            std::fs::read(path).map_err(|e| Diagnostic::new(format!("cannot read `{}`: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("yml") | Some("yaml") | Some("json") => match crate::yaml::load(&text, path) {
                Ok(data @ (Value::Object(_) | Value::Null)) => yaml::parse_loaded(self, data, &text, path),
                // Ansible tries its INI plugin on any file the YAML plugin refuses; keep
                // the YAML error unless the text really is INI.
                other => {
                    let yaml_error = match other {
                        Ok(data) => yaml::parse_loaded(&mut Inventory::empty(), data, &text, path).err(),
                        Err(e) => Some(e),
                    };
                    if ini::parse(&mut Inventory::empty(), &text, path).is_ok() {
                        ini::parse(self, &text, path)
                    } else {
                        Err(yaml_error.unwrap_or_else(|| Diagnostic::new("invalid YAML inventory").in_file(path)))
                    }
                }
            },
            Some("toml") => Err(Diagnostic::new("TOML inventories are not supported")
                .in_file(path)
                .with_help("convert it to YAML or INI")),
            Some(_) => ini::parse(self, &text, path),
            None => match yaml::looks_like_yaml_inventory(&text, path) {
                Some(data) => yaml::parse_loaded(self, data, &text, path),
                None => ini::parse(self, &text, path),
            },
        }
    }

    /// `a,b,` or `web[1:3],db:2222,`: hosts in `ungrouped` (Ansible's advanced_host_list).
    pub(super) fn parse_host_list(&mut self, list: &str) {
        for entry in list.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (names, port) = ranges::expand_hostpattern(entry).unwrap_or_else(|_| (vec![entry.to_string()], None));
            for name in names {
                if !self.hosts.contains_key(&name) {
                    self.insert_host(&name, Some(UNGROUPED), port, None);
                }
            }
        }
    }

    // ----- building (used by the parsers) -----

    /// The index of group `name`, created if new.
    pub(super) fn add_group(&mut self, name: &str) -> usize {
        if let Some(i) = self.groups.get_index_of(name) {
            return i;
        }
        self.groups.insert(name.to_string(), Group::new(name));
        self.groups.len() - 1
    }

    /// The index of host `name`, created if new (then `port` becomes its `ansible_port`),
    /// and put in `group`.
    pub(super) fn insert_host(
        &mut self,
        name: &str,
        group: Option<usize>,
        port: Option<u64>,
        source: Option<&Path>,
    ) -> usize {
        let id = match self.hosts.get_index_of(name) {
            Some(id) => id,
            None => {
                let mut host = Host::new(name, source.map(Path::to_path_buf));
                // Python: `if port:` — a port of 0 is ignored.
                if let Some(p) = port.filter(|p| *p != 0) {
                    host.vars.insert("ansible_port".to_string(), Value::from(p));
                }
                self.hosts.insert(name.to_string(), host);
                let id = self.hosts.len() - 1;
                if self.localhost.is_none() && LOCALHOST_NAMES.contains(&name) {
                    self.localhost = Some(id);
                }
                id
            }
        };
        if let Some(g) = group {
            if self.groups[g].hosts.insert(id) {
                self.hosts[id].direct_groups.insert(g);
            }
        }
        id
    }

    pub(super) fn set_host_var(&mut self, host: usize, key: &str, value: Value) {
        self.hosts[host].vars.insert(key.to_string(), value);
    }

    /// Set a group variable; `ansible_group_priority` sets the priority instead.
    pub(super) fn set_group_var(&mut self, group: usize, key: &str, value: Value) -> Result<(), String> {
        if key == "ansible_group_priority" {
            let priority = match &value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
                Value::Bool(b) => Some(i64::from(*b)),
                Value::String(s) => ranges::py_int(s),
                _ => None,
            };
            let Some(priority) = priority else {
                return Err(format!("`ansible_group_priority` must be an integer, found `{}`", output::py_str(&value)));
            };
            self.groups[group].priority = priority;
            return Ok(());
        }
        self.groups[group].vars.insert(key.to_string(), value);
        Ok(())
    }

    /// Make `child` a child group of `parent`, refusing loops.
    pub(super) fn add_child(&mut self, parent: usize, child: usize) -> Result<(), String> {
        if parent == child {
            return Err(format!("group `{}` cannot be a child of itself", self.groups[parent].name));
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.is_ancestor(child, parent) {
            return Err(format!(
                "adding group `{}` as a child of `{}` creates a loop",
                self.groups[child].name, self.groups[parent].name
            ));
        }
        self.groups[parent].children.insert(child);
        self.groups[child].parents.insert(parent);
        Ok(())
    }

    /// Whether `candidate` is `group` or one of its ancestors.
    pub(super) fn is_ancestor(&self, candidate: usize, group: usize) -> bool {
        let mut stack = vec![group];
        let mut seen = vec![false; self.groups.len()];
        while let Some(g) = stack.pop() {
            if g == candidate {
                return true;
            }
            if std::mem::replace(&mut seen[g], true) {
                continue;
            }
            stack.extend(self.groups[g].parents.iter().copied());
        }
        false
    }

    pub(super) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    // ----- after parsing -----

    /// Ansible's `reconcile_inventory`: parentless groups go under `all`; a host in no
    /// group but `all` goes to `ungrouped`, and leaves it once it is in another group.
    pub(super) fn reconcile(&mut self) {
        for g in 1..self.groups.len() {
            if self.groups[g].parents.is_empty() {
                // Cannot loop: `g` has no parents, so it is not an ancestor of `all`.
                let _ = self.add_child(ALL, g);
            }
        }
        let mut leave_ungrouped = Vec::new();
        for h in 0..self.hosts.len() {
            let direct = &self.hosts[h].direct_groups;
            if direct.contains(&UNGROUPED) {
                // Ungrouped's only ancestor is `all`, so any other direct group counts.
                if direct.iter().any(|g| *g != ALL && *g != UNGROUPED) {
                    leave_ungrouped.push(h);
                }
            } else if direct.iter().all(|g| *g == ALL) {
                self.groups[UNGROUPED].hosts.insert(h);
                self.hosts[h].direct_groups.insert(UNGROUPED);
            }
        }
        if !leave_ungrouped.is_empty() {
            let leave: std::collections::HashSet<usize> = leave_ungrouped.into_iter().collect();
            self.groups[UNGROUPED].hosts.retain(|h| !leave.contains(h));
            for h in &leave {
                self.hosts[*h].direct_groups.shift_remove(&UNGROUPED);
            }
        }
        let names: Vec<String> =
            self.groups.keys().filter(|name| self.hosts.contains_key(name.as_str())).cloned().collect();
        for name in names {
            self.warn(format!("found both a group and a host named `{name}`"));
        }
    }

    /// Longest path from `all` for every group (what Ansible's incremental `depth` ends
    /// up as), in topological order so it is linear in groups and edges.
    pub(super) fn compute_depths(&mut self) {
        let n = self.groups.len();
        let mut indegree: Vec<usize> = self.groups.values().map(|g| g.parents.len()).collect();
        let mut queue: Vec<usize> = (0..n).filter(|g| indegree[*g] == 0).collect();
        let mut depth = vec![0usize; n];
        while let Some(g) = queue.pop() {
            let children: Vec<usize> = self.groups[g].children.iter().copied().collect();
            for c in children {
                depth[c] = depth[c].max(depth[g] + 1);
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    queue.push(c);
                }
            }
        }
        for (g, d) in depth.into_iter().enumerate() {
            self.groups[g].depth = d;
        }
    }

    /// Per-host sorted group lists and the per-group host caches.
    pub(super) fn finish(&mut self) {
        let ancestors = self.all_ancestors();
        let sorted_groups: Vec<Vec<usize>> =
            (0..self.hosts.len()).map(|h| self.sorted_groups_of(h, &ancestors)).collect();
        for (host, groups) in self.hosts.values_mut().zip(sorted_groups) {
            host.sorted_groups = groups;
        }
        self.reset_caches();
    }

    pub(super) fn reset_caches(&mut self) {
        self.group_hosts = (0..self.groups.len()).map(|_| OnceLock::new()).collect();
    }

    /// For each group, itself and its ancestors, without `all`.
    pub(super) fn all_ancestors(&self) -> Vec<Vec<usize>> {
        let mut memo: Vec<Option<Vec<usize>>> = vec![None; self.groups.len()];
        (0..self.groups.len()).map(|g| self.ancestors_of(g, &mut memo)).collect()
    }

    /// A host's groups (direct and inherited, without `all`) in variable-merge order.
    pub(super) fn sorted_groups_of(&self, h: usize, ancestors: &[Vec<usize>]) -> Vec<usize> {
        let mut set: Vec<usize> = Vec::new();
        for g in &self.hosts[h].direct_groups {
            set.extend(ancestors[*g].iter().copied());
        }
        set.sort_unstable();
        set.dedup();
        set.sort_by(|a, b| self.group_order(*a, *b));
        set
    }

    pub(super) fn ancestors_of(&self, g: usize, memo: &mut Vec<Option<Vec<usize>>>) -> Vec<usize> {
        if let Some(a) = &memo[g] {
            return a.clone();
        }
        let mut out = if g == ALL { Vec::new() } else { vec![g] };
        let parents: Vec<usize> = self.groups[g].parents.iter().copied().collect();
        for p in parents {
            out.extend(self.ancestors_of(p, memo));
        }
        out.sort_unstable();
        out.dedup();
        memo[g] = Some(out.clone());
        out
    }
}

/// Entries of an inventory directory that Ansible skips (`IGNORED` in
/// `inventory/manager.py` with the default `INVENTORY_IGNORE_EXTS`).
static IGNORED_IN_DIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\.|^host_vars$|^group_vars$|^vars_plugins$|\.pyc$|\.pyo$|\.swp$|\.bak$|~$|\.rpm$|\.md$|\.txt$|\.rst$|\.orig$|\.cfg$|\.retry$",
    )
    .expect("static regex")
});

/// `~/x` → `$HOME/x`, as Ansible's `unfrackpath` does for sources.
fn expand_home(source: &str) -> PathBuf {
    if let Some(rest) = source.strip_prefix("~/") {
        if let Some(home) = dirs::home_dir() {
            return home.join(rest);
        }
    }
    PathBuf::from(source)
}
