//! What `ansible-inventory` prints: `--list` (JSON or YAML), `--graph [--vars]`, `--host`.
//!
//! The shapes are those of ansible-core's `cli/inventory.py`: `--list` has one entry per
//! non-empty group (`hosts`, `children`), `all.children`, and `_meta.hostvars` with each
//! host's merged variables; keys are sorted, as `json.dumps(sort_keys=True)` sorts them.
//! `--list --yaml` nests children under their parents and gives a host's variables at
//! its first appearance only. `--graph` draws the group tree with Python's `str()` of
//! each value for `--vars`.
//!
//! YAML text comes from `yaml_emit.rs`, a PyYAML look-alike.

use serde_json::{Map, Value};

use super::{suggest, Inventory, ALL};
use crate::diag::Diagnostic;

/// Variables `ansible-inventory` never prints (Ansible's `INTERNAL_STATIC_VARS`).
const INTERNAL_VARS: [&str; 33] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

fn remove_internal(mut vars: Map<String, Value>) -> Map<String, Value> {
    vars.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
    vars
}

/// Sort object keys at every level, as `json.dumps(sort_keys=True)` does.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

impl Inventory {
    /// Host variables as `ansible-inventory` prints them: merged, without magic ones.
    fn printed_host_vars(&self, id: usize) -> Map<String, Value> {
        remove_internal(self.merged_vars(&self.hosts[id].name).unwrap_or_default())
    }

    /// Group variables as `--graph --vars` prints them: the inventory file's, then every
    /// source's `group_vars/<group>`, and `ansible_group_priority` when not 1.
    fn printed_group_vars(&self, g: usize) -> Map<String, Value> {
        let group = &self.groups[g];
        let mut vars = group.vars.clone();
        for dir in &self.vars_dirs {
            if let Some(v) = dir.group(&group.name) {
                for (k, v) in v {
                    vars.insert(k.clone(), v.clone());
                }
            }
        }
        if group.priority != 1 {
            vars.insert("ansible_group_priority".to_string(), Value::from(group.priority));
        }
        remove_internal(vars)
    }

    /// What `ansible-inventory --list` prints: `_meta.hostvars` (each host's merged
    /// variables, when it has any), `_meta.profile`, `all.children`, and every non-empty
    /// group with its `hosts` and `children`.
    ///
    /// Keys are sorted at every level; print with 4-space indentation to match
    /// `ansible-inventory` byte for byte.
    pub fn list_json(&self) -> serde_json::Value {
        let hosts = self.hosts_of_group(ALL);
        let mut available = vec![false; self.hosts.len()];
        for h in hosts {
            available[*h] = true;
        }
        let mut results = Map::new();
        let mut seen = vec![false; self.groups.len()];
        self.format_group_json(ALL, &available, &mut seen, &mut results);
        let mut hostvars = Map::new();
        for h in hosts {
            let vars = self.printed_host_vars(*h);
            if !vars.is_empty() {
                hostvars.insert(self.hosts[*h].name.clone(), Value::Object(vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".to_string(), Value::Object(hostvars));
        meta.insert("profile".to_string(), Value::String("inventory_legacy".to_string()));
        results.insert("_meta".to_string(), Value::Object(meta));
        sorted(Value::Object(results))
    }

    fn format_group_json(&self, g: usize, available: &[bool], seen: &mut [bool], results: &mut Map<String, Value>) {
        let group = &self.groups[g];
        let mut entry = Map::new();
        if g != ALL {
            let hosts: Vec<Value> = group
                .hosts
                .iter()
                .filter(|h| available[**h])
                .map(|h| Value::String(self.hosts[*h].name.clone()))
                .collect();
            if !hosts.is_empty() {
                entry.insert("hosts".to_string(), Value::Array(hosts));
            }
        }
        let mut children = Vec::new();
        for c in &group.children {
            children.push(Value::String(self.groups[*c].name.clone()));
            if !seen[*c] {
                self.format_group_json(*c, available, seen, results);
                seen[*c] = true;
            }
        }
        if !children.is_empty() {
            entry.insert("children".to_string(), Value::Array(children));
        }
        if !entry.is_empty() {
            results.insert(group.name.clone(), Value::Object(entry));
        }
    }

    /// What `ansible-inventory --list --yaml` prints: groups nested under `all` by
    /// `children`, each with `hosts` mapping host names to variables (given at a host's
    /// first appearance, `{}` after).
    ///
    /// Written by a small PyYAML-compatible emitter (see the module docs); ends with a
    /// newline.
    pub fn list_yaml(&self) -> String {
        let mut available = vec![false; self.hosts.len()];
        for h in self.hosts_of_group(ALL) {
            available[*h] = true;
        }
        let mut seen_groups = vec![false; self.groups.len()];
        let mut seen_hosts = vec![false; self.hosts.len()];
        let top = self.format_group_yaml(ALL, &available, &mut seen_groups, &mut seen_hosts);
        super::yaml_emit::to_yaml(&sorted(Value::Object(top)))
    }

    fn format_group_yaml(
        &self,
        g: usize,
        available: &[bool],
        seen_groups: &mut [bool],
        seen_hosts: &mut [bool],
    ) -> Map<String, Value> {
        let group = &self.groups[g];
        let mut entry = Map::new();
        let mut children = Map::new();
        for c in &group.children {
            if *c == ALL {
                continue;
            }
            if seen_groups[*c] {
                children.insert(self.groups[*c].name.clone(), Value::Object(Map::new()));
            } else {
                for (k, v) in self.format_group_yaml(*c, available, seen_groups, seen_hosts) {
                    children.insert(k, v);
                }
                seen_groups[*c] = true;
            }
        }
        if !children.is_empty() {
            entry.insert("children".to_string(), Value::Object(children));
        }
        if g != ALL {
            let mut hosts = Map::new();
            for h in &group.hosts {
                if !available[*h] {
                    continue;
                }
                let vars =
                    if std::mem::replace(&mut seen_hosts[*h], true) { Map::new() } else { self.printed_host_vars(*h) };
                hosts.insert(self.hosts[*h].name.clone(), Value::Object(vars));
            }
            if !hosts.is_empty() {
                entry.insert("hosts".to_string(), Value::Object(hosts));
            }
        }
        let mut out = Map::new();
        if !entry.is_empty() {
            out.insert(group.name.clone(), Value::Object(entry));
        }
        out
    }

    /// What `ansible-inventory --graph [group] [--vars]` prints: the tree of groups
    /// (`@all:`, `  |--@ungrouped:`, `  |  |--host`), with each host's and group's
    /// variables as `{name = value}` lines when `with_vars`.
    ///
    /// Starts at `all` when `group` is `None`. Ends with a newline. An unknown group is
    /// an error with a did-you-mean hint.
    pub fn graph(&self, group: Option<&str>, with_vars: bool) -> Result<String, Diagnostic> {
        let name = group.unwrap_or("all");
        let Some(g) = self.groups.get_index_of(name) else {
            let mut d = Diagnostic::new(format!("`{name}` is not a group: `--graph` takes a group name"));
            if let Some(s) = suggest(name, self.groups.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            return Err(d);
        };
        let mut lines = Vec::new();
        self.graph_group(g, 0, with_vars, &mut lines);
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }

    fn graph_group(&self, g: usize, depth: usize, with_vars: bool, out: &mut Vec<String>) {
        let group = &self.groups[g];
        out.push(graph_name(&format!("@{}:", group.name), depth));
        let depth = depth + 1;
        for c in &group.children {
            self.graph_group(*c, depth, with_vars, out);
        }
        if g != ALL {
            for h in &group.hosts {
                out.push(graph_name(&self.hosts[*h].name, depth));
                if with_vars {
                    show_vars(&self.printed_host_vars(*h), depth + 1, out);
                }
            }
        }
        if with_vars {
            show_vars(&self.printed_group_vars(g), depth, out);
        }
    }

    /// `ansible-inventory --host NAME`: the host's merged variables, keys sorted; `None`
    /// unless the name selects exactly one host (the implicit localhost included).
    pub fn host_json(&self, host: &str) -> Option<serde_json::Value> {
        let selected = self.select(host).ok()?;
        let [name] = selected.as_slice() else {
            return None;
        };
        let vars = remove_internal(self.merged_vars(name)?);
        Some(sorted(Value::Object(vars)))
    }
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn show_vars(vars: &Map<String, Value>, depth: usize, out: &mut Vec<String>) {
    let mut entries: Vec<(&String, &Value)> = vars.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in entries {
        out.push(graph_name(&format!("{{{k} = {}}}", py_str(v)), depth));
    }
}

/// How a value is described in messages: "a list", "a string", ...
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

// ----- Python's str() and repr() -----

/// Python's `str(value)`: strings as they are, everything else as `repr`.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)` for the JSON value's Python counterpart.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => py_repr_str(s),
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let v = u32::from(c);
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable` for one character.
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{a0}' | '\u{ad}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{200b}'..='\u{200f}'))
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation below 1e-4
/// and from 1e16.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest digits: "1.2345e-5", "1e16".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reprs() {
        assert_eq!(py_str(&json!("hi there")), "hi there");
        assert_eq!(py_str(&json!([1, "x", {"k": null, "b": true}])), "[1, 'x', {'k': None, 'b': True}]");
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
        assert_eq!(py_float(1.5), "1.5");
        assert_eq!(py_float(1000.0), "1000.0");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(1.5e-5), "1.5e-05");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(-2.5), "-2.5");
    }
}
