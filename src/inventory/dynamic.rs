//! Changes to the inventory while a playbook runs: the `add_host` and `group_by` modules.
//!
//! Both follow ansible-core's `InventoryManager.add_dynamic_host` / `add_dynamic_group`
//! and then bring derived state (depths, each host's sorted groups, cached group host
//! lists, `group_vars/` of new groups) up to date, recomputing the whole tree only when
//! the group structure changed, so running them for every host of a large play stays
//! linear.

use serde_json::{Map, Value};

use super::{Inventory, ALL, UNGROUPED};

impl Inventory {
    /// The `add_host` module: add a host (to `all` when new), merge `vars` into its
    /// inventory variables, and put it in `groups` (created when missing, under `all`),
    /// as Ansible's `InventoryManager.add_dynamic_host`.
    pub fn add_host(&mut self, name: &str, groups: &[String], vars: Map<String, Value>) {
        if name.is_empty() {
            return;
        }
        let groups_before = self.groups.len();
        let id = self.insert_host(name, Some(ALL), None, None);
        for (k, v) in vars {
            self.set_host_var(id, &k, v);
        }
        for group in groups {
            if group.is_empty() {
                continue;
            }
            let g = self.add_group(group);
            if self.groups[g].hosts.insert(id) {
                self.hosts[id].direct_groups.insert(g);
            }
        }
        self.after_dynamic_change(groups_before, false, &[id]);
    }

    /// The `group_by` module: put `host` in group `group` (created when missing), and
    /// make `group` a child of each of `parents` (created when missing), as Ansible's
    /// `InventoryManager.add_dynamic_group`. A parent that would make a loop is skipped
    /// with a warning.
    pub fn add_to_group(&mut self, host: &str, group: &str, parents: &[String]) {
        let Some(id) = self.resolve_host(host) else {
            self.warn(format!("group_by: host `{host}` is not in the inventory; not adding it to `{group}`"));
            return;
        };
        if group.is_empty() {
            return;
        }
        let groups_before = self.groups.len();
        let g = self.add_group(group);
        let mut new_edges = false;
        for parent in parents {
            if parent.is_empty() {
                continue;
            }
            let p = self.add_group(parent);
            if self.groups[p].children.contains(&g) {
                continue;
            }
            match self.add_child(p, g) {
                Ok(()) => new_edges = true,
                Err(m) => self.warn(format!("group_by: {m}")),
            }
        }
        if self.groups[g].hosts.insert(id) {
            self.hosts[id].direct_groups.insert(g);
        }
        self.after_dynamic_change(groups_before, new_edges, &[id]);
    }

    /// Bring derived state up to date after `add_host`/`group_by`, touching only what
    /// changed so that running them for thousands of hosts stays linear.
    fn after_dynamic_change(&mut self, groups_before: usize, new_edges: bool, touched: &[usize]) {
        let new_groups = groups_before..self.groups.len();
        let mut structure_changed = new_edges;
        for g in new_groups.clone() {
            if self.groups[g].parents.is_empty() {
                // Cannot loop: the group is new and has no parents.
                let _ = self.add_child(ALL, g);
            }
            structure_changed = true;
        }
        for &h in touched {
            let direct = &self.hosts[h].direct_groups;
            if direct.iter().any(|g| *g != ALL && *g != UNGROUPED) {
                if self.groups[UNGROUPED].hosts.shift_remove(&h) {
                    self.hosts[h].direct_groups.shift_remove(&UNGROUPED);
                }
            } else if !direct.contains(&UNGROUPED) {
                self.groups[UNGROUPED].hosts.insert(h);
                self.hosts[h].direct_groups.insert(UNGROUPED);
            }
        }
        // group_vars/host_vars of new names, from every source directory.
        let group_names: Vec<String> = new_groups.map(|g| self.groups[g].name.clone()).collect();
        let host_names: Vec<String> = touched.iter().map(|h| self.hosts[*h].name.clone()).collect();
        let mut problems = Vec::new();
        for dir in &mut self.vars_dirs {
            for name in &group_names {
                if let Err(d) = dir.load_group(name) {
                    problems.push(d.to_string());
                }
            }
            for name in &host_names {
                if let Err(d) = dir.load_host(name) {
                    problems.push(d.to_string());
                }
            }
        }
        for p in problems {
            self.warn(p);
        }
        if structure_changed {
            self.compute_depths();
            self.finish();
        } else {
            let ancestors = self.all_ancestors();
            for &h in touched {
                let sorted = self.sorted_groups_of(h, &ancestors);
                self.hosts[h].sorted_groups = sorted;
            }
            self.reset_caches();
        }
    }
}
