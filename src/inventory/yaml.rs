//! YAML (and JSON) inventories, read as Ansible's `yaml` inventory plugin reads them.
//!
//! ```yaml
//! all:
//!   vars: {ansible_user: deploy}
//!   hosts:
//!     solo:                       # a host with no variables
//!   children:
//!     web:
//!       hosts:
//!         web[01:03].example.com: {http_port: 8080}
//!       children:
//!         nginx: {hosts: {web01.example.com: }}
//! ```
//!
//! Top-level keys are groups; a group has `vars`, `children` and `hosts`, each a mapping
//! (a single string is accepted as a one-entry mapping). A group named in several places
//! is one group: its hosts, children and variables add up. Host keys may carry ranges and
//! a `:port`. Values keep their YAML types (loaded by [`crate::yaml::load`]).
//!
//! Errors point at the offending key: the file is parsed a second time, only then, with
//! positions ([`PosTree`]). Things Ansible merely warns about (a group that is not a
//! mapping, an unknown key such as `host:`) become [`Inventory::warnings`].

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::output::json_type_name;
use super::vars_files::first_content_line;
use super::{group_index, ranges, Inventory};
use crate::diag::{did_you_mean, Diagnostic};

/// Whether an extension-less file is a YAML inventory: it parses as a non-empty mapping.
/// (Ansible tries its YAML plugin first and falls back to INI.)
pub(super) fn looks_like_yaml_inventory(text: &str, path: &Path) -> Option<Value> {
    match crate::yaml::load(text, path) {
        Ok(v @ Value::Object(_)) if v.as_object().is_some_and(|m| !m.is_empty()) => Some(v),
        _ => None,
    }
}

/// Add an already loaded YAML inventory document to `inv`.
pub(super) fn parse_loaded(inv: &mut Inventory, data: Value, text: &str, path: &Path) -> Result<(), Diagnostic> {
    let top = match data {
        // An empty file: Ansible's YAML plugin refuses it, then its INI plugin reads it
        // as an empty inventory. The outcome is the same: nothing.
        Value::Null => return Ok(()),
        Value::Object(m) => m,
        other => {
            return Err(Diagnostic::new(format!(
                "a YAML inventory must be a mapping of group names, found {}",
                json_type_name(&other)
            ))
            .at(path, first_content_line(text), 1, Some(text))
            .with_help("start with `all:`, then `hosts:`, `vars:` and `children:` under it"));
        }
    };
    if let Some(plugin) = top.get("plugin") {
        let name = match plugin {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut p = YamlParser::new(inv, text, path);
        return Err(p
            .error(&["plugin"], format!("inventory plugin `{name}` is not supported"))
            .with_help("only static YAML and INI inventories can be read"));
    }
    let mut p = YamlParser::new(inv, text, path);
    for (name, data) in &top {
        p.group(name, data, &mut vec![name.clone()])?;
    }
    Ok(())
}

struct YamlParser<'a> {
    inv: &'a mut Inventory,
    text: &'a str,
    path: &'a Path,
    /// Positions of every node, parsed on first need.
    positions: Option<Option<PosTree>>,
}

impl<'a> YamlParser<'a> {
    fn new(inv: &'a mut Inventory, text: &'a str, path: &'a Path) -> Self {
        YamlParser { inv, text, path, positions: None }
    }

    /// Line and column of the key at `keys` (a path of mapping keys from the top).
    fn locate(&mut self, keys: &[String]) -> Option<(usize, usize)> {
        let text = self.text;
        let tree = self.positions.get_or_insert_with(|| PosTree::parse(text)).as_ref()?;
        tree.locate(keys)
    }

    fn error<S: AsRef<str>>(&mut self, keys: &[S], message: impl Into<String>) -> Diagnostic {
        let keys: Vec<String> = keys.iter().map(|k| k.as_ref().to_string()).collect();
        let d = Diagnostic::new(message);
        match self.locate(&keys) {
            Some((line, column)) => d.at(self.path, line, column, Some(self.text)),
            None => d.in_file(self.path),
        }
    }

    fn warn(&mut self, keys: &[String], message: String) {
        let place = match self.locate(keys) {
            Some((line, column)) => format!("{}:{line}:{column}", self.path.display()),
            None => self.path.display().to_string(),
        };
        self.inv.warn(format!("{message} ({place})"));
    }

    /// Ansible's `_parse_group`: returns the group's index, or `None` when the entry is
    /// not a group definition (skipped with a warning).
    fn group(&mut self, name: &str, data: &Value, keys: &mut Vec<String>) -> Result<Option<usize>, Diagnostic> {
        let map = match data {
            Value::Null => None,
            Value::Object(m) => Some(m),
            other => {
                let kind = json_type_name(other);
                self.warn(keys, format!("skipping `{name}`: a group must be a mapping, found {kind}"));
                return Ok(None);
            }
        };
        if name.is_empty() {
            return Err(self.error(keys, "a group name cannot be empty"));
        }
        let group = self.inv.add_group(name);
        let Some(map) = map else {
            return Ok(Some(group));
        };
        // A string section is a one-entry mapping; anything else but a mapping is an error.
        let mut sections: Vec<(&str, Map<String, Value>)> = Vec::new();
        for section in ["vars", "children", "hosts"] {
            let Some(value) = map.get(section) else { continue };
            let entries = match value {
                Value::Object(m) => m.clone(),
                Value::Null => continue,
                Value::String(s) => {
                    let mut m = Map::new();
                    m.insert(s.clone(), Value::Null);
                    m
                }
                other => {
                    keys.push(section.to_string());
                    let what = match section {
                        "hosts" => "host names (each followed by `:` and its variables, or nothing)",
                        "children" => "child group names",
                        _ => "variable names to values",
                    };
                    let example = match section {
                        "hosts" => "hosts:\n  web1:\n  web2: {ansible_host: 10.0.0.2}",
                        "children" => "children:\n  web:\n  db:",
                        _ => "vars:\n  ntp_server: ntp.example.com",
                    };
                    let d = self
                        .error(
                            keys,
                            format!(
                                "`{section}` of group `{name}` must be a mapping of {what}, found {}",
                                json_type_name(other)
                            ),
                        )
                        .with_help(format!("write it as\n{example}"));
                    return Err(d);
                }
            };
            sections.push((section, entries));
        }
        for (key, value) in map {
            match key.as_str() {
                "vars" | "children" | "hosts" => {}
                _ => {
                    if !matches!(value, Value::Object(_) | Value::Null) {
                        keys.push(key.clone());
                        self.warn(keys, format!("skipping key `{key}` in group `{name}`: it is not a mapping"));
                        keys.pop();
                        continue;
                    }
                    if value.is_null() {
                        continue;
                    }
                    let hint = did_you_mean(key, ["vars", "children", "hosts"])
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    keys.push(key.clone());
                    self.warn(
                        keys,
                        format!("skipping unexpected key `{key}` in group `{name}`: only `vars`, `children` and `hosts` are valid{hint}"),
                    );
                    keys.pop();
                    continue;
                }
            }
            let Some((section, entries)) = sections.iter().find(|(s, _)| *s == key.as_str()) else {
                continue;
            };
            keys.push(section.to_string());
            match *section {
                "vars" => {
                    for (var, v) in entries {
                        if let Err(m) = self.inv.set_group_var(group, var, v.clone()) {
                            keys.push(var.clone());
                            let d = self.error(keys, m);
                            return Err(d);
                        }
                    }
                }
                "children" => {
                    for (child, child_data) in entries {
                        keys.push(child.clone());
                        let child_id = match self.group(child, child_data, keys)? {
                            Some(id) => id,
                            None => match group_index(self.inv, child) {
                                Some(id) => id,
                                None => {
                                    let d =
                                        self.error(keys, format!("child `{child}` of group `{name}` is not a group"));
                                    return Err(d.with_help(
                                        "a child group is a mapping with `hosts`, `vars` or `children`, or empty",
                                    ));
                                }
                            },
                        };
                        if let Err(m) = self.inv.add_child(group, child_id) {
                            return Err(self.error(keys, m));
                        }
                        keys.pop();
                    }
                }
                _ => {
                    for (pattern, host_data) in entries {
                        keys.push(pattern.clone());
                        self.hosts(group, name, pattern, host_data, keys)?;
                        keys.pop();
                    }
                }
            }
            keys.pop();
        }
        Ok(Some(group))
    }

    /// One entry of a `hosts:` mapping.
    fn hosts(
        &mut self,
        group: usize,
        group_name: &str,
        pattern: &str,
        data: &Value,
        keys: &[String],
    ) -> Result<(), Diagnostic> {
        let (names, port) = match ranges::expand_hostpattern(pattern) {
            Ok(x) => x,
            Err(m) => {
                return Err(self
                    .error(keys, format!("invalid host range in `{pattern}`: {m}"))
                    .with_help("ranges are `[01:20]`, `[a:f]` or `[1:20:2]` (begin:end:step, end included)"));
            }
        };
        // Python: `data or {}` — any false value means no variables.
        let vars = match data {
            Value::Object(m) => Some(m),
            Value::Null | Value::Bool(false) => None,
            Value::String(s) if s.is_empty() => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Number(n) if n.as_f64() == Some(0.0) => None,
            other => {
                let kind = json_type_name(other);
                return Err(self
                    .error(
                        keys,
                        format!(
                            "host `{pattern}` in group `{group_name}` must have a mapping of variables, found {kind}"
                        ),
                    )
                    .with_help(format!("write `{pattern}:` alone, or `{pattern}: {{ansible_host: 10.0.0.1}}`")));
            }
        };
        let source = self.path.to_path_buf();
        for name in names {
            let id = self.inv.insert_host(&name, Some(group), port, Some(&source));
            if let Some(vars) = vars {
                for (k, v) in vars {
                    self.inv.set_host_var(id, k, v.clone());
                }
            }
        }
        Ok(())
    }
}

/// The shape of a YAML document with the position of every key, for error messages.
#[derive(Debug)]
pub(super) struct PosTree(Spanned<PosNode>);

#[derive(Debug)]
enum PosNode {
    /// A scalar or a sequence: keys are never looked up inside either.
    Scalar,
    Map(Vec<(Spanned<PosKey>, PosTree)>),
}

#[derive(Debug)]
struct PosKey(String);

impl PosTree {
    fn parse(text: &str) -> Option<PosTree> {
        let options = serde_saphyr::options! { budget: None, legacy_octal_numbers: true };
        serde_saphyr::from_str_with_options(text, options).ok()
    }

    /// Line and column of the last key of `keys`.
    fn locate(&self, keys: &[String]) -> Option<(usize, usize)> {
        let mut node = self;
        let mut found = None;
        for key in keys {
            let PosNode::Map(entries) = &node.0.value else { break };
            // The last entry wins for duplicate keys, as it does when loading.
            let (k, v) = entries.iter().rev().find(|(k, _)| k.value.0 == *key)?;
            found = Some((k.referenced.line() as usize, k.referenced.column() as usize));
            node = v;
        }
        found
    }
}

impl<'de> Deserialize<'de> for PosTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<PosNode>::deserialize(d).map(PosTree)
    }
}

impl<'de> Deserialize<'de> for PosNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PosVisitor)
    }
}

struct PosVisitor;

impl<'de> Visitor<'de> for PosVisitor {
    type Value = PosNode;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PosNode, D::Error> {
        PosNode::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<PosNode, E> {
        Ok(PosNode::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PosNode, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(PosNode::Scalar)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PosNode, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<Spanned<PosKey>, PosTree>()? {
            out.push((k, v));
        }
        Ok(PosNode::Map(out))
    }
}

impl<'de> Deserialize<'de> for PosKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

/// A mapping key as text, spelled as [`crate::yaml`] spells keys.
struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = PosKey;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_unit<E: de::Error>(self) -> Result<PosKey, E> {
        Ok(PosKey("null".to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<PosKey, E> {
        Ok(PosKey("null".to_string()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PosKey, D::Error> {
        PosKey::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<PosKey, E> {
        Ok(PosKey(if v { "True" } else { "False" }.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PosKey, E> {
        Ok(PosKey(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PosKey, E> {
        Ok(PosKey(v.to_string()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<PosKey, E> {
        Ok(PosKey(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<PosKey, E> {
        Ok(PosKey(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PosKey, E> {
        Ok(PosKey(Value::from(v).to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<PosKey, E> {
        Ok(PosKey(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<PosKey, E> {
        Ok(PosKey(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PosKey, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(PosKey(String::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PosKey, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(PosKey(String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_nested_keys() {
        let text = "all:\n  children:\n    web:\n      hosts: [a, b]\n    db:\n      hosts:\n        db1:\n";
        let tree = PosTree::parse(text).unwrap();
        let k = |p: &[&str]| tree.locate(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(k(&["all", "children", "web", "hosts"]), Some((4, 7)));
        assert_eq!(k(&["all", "children", "db", "hosts", "db1"]), Some((7, 9)));
        assert_eq!(k(&["all", "nope"]), None);
    }
}
