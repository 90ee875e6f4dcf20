//! Inventories: which hosts exist, how they are grouped, and what variables they carry.
//!
//! In: the `-i` sources of a run, each an INI or YAML file (`ini.rs`, `yaml.rs`), a
//! directory of such files, or a comma-separated host list (`a,b,` or `web[1:3],`).
//! Beside each source, `group_vars/` and `host_vars/` are read (`vars_files.rs`).
//! Loading and Ansible's post-load reconciliation are in `load.rs`, host ranges and
//! addresses in [`ranges`], INI value typing in `pyliteral.rs`, `add_host`/`group_by`
//! at run time in `dynamic.rs`.
//!
//! The principal type is [`Inventory`]: [`Host`]s and [`Group`]s in definition order,
//! with Ansible's implicit groups `all` and `ungrouped` and its implicit `localhost`.
//! Out, to the next stages: [`Inventory::select`] / [`Inventory::select_limited`] turn a
//! host pattern (`web:&prod:!web3`, `~db\d+`, `web[0:2]`, see [`pattern`]) into host
//! names; [`Inventory::host_vars`] gives a host's variables merged in Ansible's inventory
//! precedence plus the magic `inventory_hostname`, `inventory_hostname_short`,
//! `group_names`, `inventory_file` and `inventory_dir`; [`Inventory::groups_map`] is the
//! `groups` magic variable. [`Inventory::list_json`], [`Inventory::list_yaml`],
//! [`Inventory::graph`] and [`Inventory::host_json`] print what `ansible-inventory`
//! prints ([`output`]).
//!
//! The behaviour follows ansible-core 2.19 (`inventory/data.py`, `inventory/manager.py`,
//! `plugins/inventory/{ini,yaml,host_list,advanced_host_list}.py`,
//! `plugins/vars/host_group_vars.py`), checked against `ansible-inventory` on the
//! fixtures in `tests/fixtures/inventory/`. Where we differ on purpose:
//!
//! - a plain name in a host pattern that matches no host and no group is an error with a
//!   did-you-mean hint (Ansible only warns); globs and regexes that match nothing do not
//!   fail;
//! - a source that does not exist, or that fails to parse, is an error (Ansible warns and
//!   carries on without it);
//! - a comma list expands ranges (`web[1:3],`), as Ansible's `advanced_host_list` does;
//! - the implicit `localhost` gets `ansible_connection: local` but no
//!   `ansible_python_interpreter` (no Python runs on our side);
//! - group_vars/host_vars files are read when the inventory is loaded, not on demand;
//! - names in a `--limit @file` that match nothing are skipped without a word;
//! - `list_yaml` writes no YAML anchors (PyYAML writes `&id001`/`*id001` for a value
//!   shared by several hosts), so it equals Ansible's as data, not always as text;
//! - INI values Python would read as integers beyond 64 bits, infinite floats or complex
//!   numbers stay text;
//! - `graph(.., true)` prints a vaulted value as its `{'__ansible_vault': ...}` mapping
//!   (Ansible decrypts it, or fails without a vault password).
//!
//! Not supported yet: inventory scripts and plugins (`plugin:` YAML files, TOML),
//! `constructed` groups, `hash_behaviour = merge`, vault decryption (vaulted values stay
//! `{"__ansible_vault": ...}`).

mod dynamic;
mod ini;
mod load;
pub mod output;
pub mod pattern;
mod pyliteral;
pub mod ranges;
mod vars_files;
mod yaml;
mod yaml_emit;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::OnceLock;

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use crate::diag::did_you_mean;
use vars_files::VarsDir;

/// Host names that mean this machine; naming one that is not in the inventory gives the
/// implicit localhost (Ansible's `C.LOCALHOST`).
pub const LOCALHOST_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// Everything the `-i` sources say: hosts, groups, and their variables.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// `group_vars/` and `host_vars/` beside each source, in source order.
    vars_dirs: Vec<VarsDir>,
    /// The first localhost-like host of the inventory (Ansible's `inventory.localhost`).
    localhost: Option<usize>,
    warnings: Vec<String>,
    /// Per group, its hosts and those of its descendants (Ansible's `get_hosts`).
    group_hosts: Vec<OnceLock<Vec<usize>>>,
}

/// One host of the inventory.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// Variables set in the inventory file itself (inline INI vars, YAML host vars,
    /// `ansible_port` from `host:port`).
    vars: Map<String, Value>,
    /// Groups the host was put in directly, in the order it was.
    direct_groups: IndexSet<usize>,
    /// The absolute path of the first source that named this host (`inventory_file`).
    source: Option<PathBuf>,
    /// All groups of the host (direct and their ancestors, without `all`), sorted the
    /// way Ansible merges their variables: by depth, then priority, then name.
    sorted_groups: Vec<usize>,
}

/// One group of the inventory.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    vars: Map<String, Value>,
    hosts: IndexSet<usize>,
    children: IndexSet<usize>,
    parents: IndexSet<usize>,
    /// `ansible_group_priority`: among groups of one depth, higher wins.
    priority: i64,
    /// Longest path from `all`, which is how Ansible orders parents before children.
    depth: usize,
}

impl Host {
    fn new(name: &str, source: Option<PathBuf>) -> Host {
        Host {
            name: name.to_string(),
            vars: Map::new(),
            direct_groups: IndexSet::new(),
            source,
            sorted_groups: Vec::new(),
        }
    }

    /// Variables set on this host in the inventory source itself.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }
}

impl Group {
    fn new(name: &str) -> Group {
        Group {
            name: name.to_string(),
            vars: Map::new(),
            hosts: IndexSet::new(),
            children: IndexSet::new(),
            parents: IndexSet::new(),
            priority: 1,
            depth: 0,
        }
    }

    /// Variables set on this group in the inventory source itself (`[g:vars]`, `vars:`).
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// `ansible_group_priority` (1 unless set).
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Depth below `all` (`all` is 0, its children 1, ...).
    pub fn depth(&self) -> usize {
        self.depth
    }
}

const ALL: usize = 0;
const UNGROUPED: usize = 1;

impl Inventory {
    /// Ansible's `sort_groups`: `(depth, priority, name)`.
    fn group_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let (ga, gb) = (&self.groups[a], &self.groups[b]);
        (ga.depth, ga.priority, &ga.name).cmp(&(gb.depth, gb.priority, &gb.name))
    }

    /// The hosts of a group and of its descendants, in Ansible's order: the group's own
    /// hosts, then level by level down the tree, each host once.
    fn hosts_of_group(&self, g: usize) -> &[usize] {
        self.group_hosts[g].get_or_init(|| {
            let mut ordered = vec![g];
            let mut in_ordered = vec![false; self.groups.len()];
            in_ordered[g] = true;
            let mut level: Vec<usize> = vec![g];
            while !level.is_empty() {
                let mut next = Vec::new();
                for parent in &level {
                    for c in &self.groups[*parent].children {
                        if !in_ordered[*c] {
                            in_ordered[*c] = true;
                            ordered.push(*c);
                            next.push(*c);
                        }
                    }
                }
                level = next;
            }
            let mut seen = vec![false; self.hosts.len()];
            let mut out = Vec::new();
            for group in ordered {
                for h in &self.groups[group].hosts {
                    if !std::mem::replace(&mut seen[*h], true) {
                        out.push(*h);
                    }
                }
            }
            out
        })
    }

    // ----- queries -----

    /// Hosts in definition order.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// Groups in definition order, starting with `all` and `ungrouped`.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Warnings Ansible would print while loading (skipped keys, host/group name
    /// clashes), for the caller to show.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The host a name refers to, as Ansible's `get_host`: the host of that name, or for
    /// `localhost`/`127.0.0.1`/`::1` the inventory's first localhost-like host.
    fn resolve_host(&self, name: &str) -> Option<usize> {
        self.hosts.get_index_of(name).or_else(|| if LOCALHOST_NAMES.contains(&name) { self.localhost } else { None })
    }

    /// Variables of a host without magic variables, merged in Ansible's order (see
    /// [`Inventory::host_vars`]); `None` for an unknown host.
    fn merged_vars(&self, name: &str) -> Option<Map<String, Value>> {
        let mut vars = Map::new();
        let extend = |vars: &mut Map<String, Value>, from: &Map<String, Value>| {
            for (k, v) in from {
                vars.insert(k.clone(), v.clone());
            }
        };
        let (host, host_name) = match self.resolve_host(name) {
            Some(id) => (Some(&self.hosts[id]), self.hosts[id].name.as_str()),
            None if LOCALHOST_NAMES.contains(&name) => (None, name),
            None => return None,
        };
        let groups: &[usize] = host.map_or(&[], |h| &h.sorted_groups);
        // 1. Inventory-file group vars: `all`, then the host's groups by depth/priority/name.
        extend(&mut vars, &self.groups[ALL].vars);
        for g in groups {
            extend(&mut vars, &self.groups[*g].vars);
        }
        // 2. group_vars/all, then group_vars/<group> (ansible.cfg `precedence` default:
        //    all_inventory, groups_inventory, all_plugins_inventory, groups_plugins_inventory).
        for dir in &self.vars_dirs {
            if let Some(v) = dir.group("all") {
                extend(&mut vars, v);
            }
        }
        for dir in &self.vars_dirs {
            for g in groups {
                if let Some(v) = dir.group(&self.groups[*g].name) {
                    extend(&mut vars, v);
                }
            }
        }
        // 3. Inventory-file host vars, then host_vars/<host>.
        match host {
            Some(h) => extend(&mut vars, &h.vars),
            None => {
                vars.insert("ansible_connection".to_string(), Value::String("local".to_string()));
            }
        }
        for dir in &self.vars_dirs {
            if let Some(v) = dir.host(host_name) {
                extend(&mut vars, v);
            }
        }
        Some(vars)
    }

    /// All variables of a host, merged in Ansible's inventory precedence, plus magic
    /// variables.
    ///
    /// Precedence, lowest first (Ansible's "Understanding variable precedence", levels
    /// 3-9 that live in the inventory): group vars from the inventory file (`all`, then
    /// parents before children by depth; one depth ordered by `ansible_group_priority`,
    /// then name) < `group_vars/all` < `group_vars/<group>` (same order) < host vars from
    /// the inventory file < `host_vars/<host>`. Dictionaries are replaced, not merged.
    /// Magic variables come last: `inventory_hostname`, `inventory_hostname_short` (the
    /// name up to the first dot, or the whole address for an IP), `group_names` (sorted,
    /// with `ungrouped` but without `all`, as Ansible), and for hosts read from a file
    /// `inventory_file` and `inventory_dir`. `localhost` (or `127.0.0.1`, `::1`) not in the
    /// inventory gives the implicit localhost: `all`'s variables and
    /// `ansible_connection: local`. `None` for any other unknown host.
    pub fn host_vars(&self, host: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut vars = self.merged_vars(host)?;
        let name = self.resolve_host(host).map_or(host, |id| self.hosts[id].name.as_str());
        vars.insert("inventory_hostname".to_string(), Value::String(name.to_string()));
        let short = if ranges::is_ip_address(name) { name } else { name.split('.').next().unwrap_or(name) };
        vars.insert("inventory_hostname_short".to_string(), Value::String(short.to_string()));
        let names = self.group_names(host).into_iter().map(Value::String).collect();
        vars.insert("group_names".to_string(), Value::Array(names));
        if let Some(id) = self.resolve_host(host) {
            if let Some(source) = &self.hosts[id].source {
                let dir = source.parent().map(|d| d.display().to_string()).unwrap_or_default();
                vars.insert("inventory_file".to_string(), Value::String(source.display().to_string()));
                vars.insert("inventory_dir".to_string(), Value::String(dir));
            }
        }
        Some(vars)
    }

    /// The groups of a host (direct and inherited), sorted by name, with `ungrouped` but
    /// without `all` — Ansible's `group_names`. Empty for unknown or implicit hosts.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(id) = self.resolve_host(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> =
            self.hosts[id].sorted_groups.iter().map(|g| self.groups[*g].name.clone()).collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group (with `all` and `ungrouped`, in
    /// definition order) mapped to the names of its hosts, descendants included.
    pub fn groups_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = Map::new();
        for (g, group) in self.groups.values().enumerate() {
            let hosts = self.hosts_of_group(g).iter().map(|h| Value::String(self.hosts[*h].name.clone())).collect();
            map.insert(group.name.clone(), Value::Array(hosts));
        }
        map
    }
}

/// Names for did-you-mean hints: groups first, then hosts.
fn known_names(inv: &Inventory) -> impl Iterator<Item = &str> + Clone {
    inv.groups.keys().map(String::as_str).chain(inv.hosts.keys().map(String::as_str))
}

/// [`did_you_mean`] over inventory names.
fn suggest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str> + Clone,
{
    did_you_mean(word, candidates)
}

/// Used by the parsers: a group by name, if it exists.
fn group_index(inv: &Inventory, name: &str) -> Option<usize> {
    inv.groups.get_index_of(name)
}
