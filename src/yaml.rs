//! YAML loading with Ansible's meaning (YAML 1.1 through serde-saphyr).
//!
//! [`load`] turns a YAML document into a `serde_json::Value` (the variable type of the
//! engine) the way Ansible's loader does: `yes`/`on` are booleans, `0644` is 420, `<<`
//! merges apply, quoted scalars stay strings. Tags that carry meaning are kept in the
//! shape `ansible-inventory` prints them: `!vault` becomes `{"__ansible_vault": "..."}`
//! and `!unsafe` becomes `{"__ansible_unsafe": "..."}`. Errors come back as
//! [`Diagnostic`]s with file, line and column.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Spanned, Tagged};

use crate::diag::Diagnostic;

/// One YAML node with the tag it was written with and where it was written.
struct Node(Spanned<Tagged<Raw>>);

enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<Tagged<Raw>>::deserialize(d).map(Node)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            out.push(n);
        }
        Ok(Raw::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            out.push((k, v));
        }
        Ok(Raw::Map(out))
    }
}

fn key_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        // Python would keep `True`/`1` keys; JSON objects need strings.
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        other => other.to_string(),
    }
}

impl Node {
    fn into_spanned(self, src: &str) -> SNode {
        let loc = self.0.referenced;
        // An alias's value was written where its anchor is.
        let defined = self.0.defined;
        let Tagged(raw, tag) = self.0.value;
        // The scalar as written, to correct the few places where serde-saphyr's YAML 1.1
        // reading differs from PyYAML's (what Ansible uses).
        let written = || -> Option<&str> {
            let span = defined.span();
            let start = span.byte_offset()? as usize;
            let len = span.byte_len()? as usize;
            src.get(start..start + len)
        };
        let v = match raw {
            Raw::Null => SVal::Scalar(Value::Null),
            Raw::Bool(b) => SVal::Scalar(match written() {
                Some(w) if tag.is_none() && !pyyaml_bool(w) => Value::String(w.to_string()),
                _ => Value::Bool(b),
            }),
            Raw::Int(i) => SVal::Scalar(match written() {
                Some(w) if tag.is_none() && w.trim_start_matches(['-', '+']).starts_with("0o") => Value::String(w.to_string()),
                _ => Value::Number(i.into()),
            }),
            Raw::UInt(u) => SVal::Scalar(match written() {
                Some(w) if tag.is_none() && w.trim_start_matches(['-', '+']).starts_with("0o") => Value::String(w.to_string()),
                _ => Value::Number(u.into()),
            }),
            Raw::Float(f) => SVal::Scalar(match written() {
                // PyYAML needs a dot in a float: `1e3` is a string there.
                Some(w) if tag.is_none() && !w.contains('.') => Value::String(w.to_string()),
                _ => Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number),
            }),
            Raw::Str(s) => SVal::Scalar(Value::String(s)),
            Raw::Seq(items) => SVal::Seq(items.into_iter().map(|n| n.into_spanned(src)).collect()),
            Raw::Map(entries) => SVal::Map(entries.into_iter().map(|(k, v)| (k.into_spanned(src), v.into_spanned(src))).collect()),
        };
        let v = match tag.as_deref() {
            Some("!vault") | Some("!vault-encrypted") => SVal::Scalar(wrap("__ansible_vault", SNode { line: 0, column: 0, v }.to_json())),
            Some("!unsafe") => SVal::Scalar(wrap("__ansible_unsafe", SNode { line: 0, column: 0, v }.to_json())),
            _ => v,
        };
        SNode { line: loc.line() as usize, column: loc.column() as usize, v }
    }
}

/// PyYAML's YAML 1.1 booleans: yes/no/true/false/on/off in lower, Title or UPPER case
/// (not `y`/`n`, not mixed case).
fn pyyaml_bool(w: &str) -> bool {
    let w = w.trim();
    ["yes", "no", "true", "false", "on", "off"].iter().any(|b| {
        let title = format!("{}{}", b[..1].to_uppercase(), &b[1..]);
        w == *b || w == title || w == b.to_uppercase()
    })
}

/// A YAML node that remembers where it was written (1-based line and column), for
/// errors that point at the offending key or value.
#[derive(Debug, Clone, PartialEq)]
pub struct SNode {
    pub line: usize,
    pub column: usize,
    pub v: SVal,
}

/// The shape of an [`SNode`].
#[derive(Debug, Clone, PartialEq)]
pub enum SVal {
    Scalar(Value),
    Seq(Vec<SNode>),
    Map(Vec<(SNode, SNode)>),
}

impl SNode {
    /// The plain value, positions dropped.
    pub fn to_json(&self) -> Value {
        match &self.v {
            SVal::Scalar(v) => v.clone(),
            SVal::Seq(items) => Value::Array(items.iter().map(SNode::to_json).collect()),
            SVal::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(key_string(k.to_json()), v.to_json());
                }
                Value::Object(m)
            }
        }
    }

    /// The key text of a mapping key node.
    pub fn key(&self) -> String {
        key_string(self.to_json())
    }

    /// The entries of a mapping, or `None`.
    pub fn as_map(&self) -> Option<&[(SNode, SNode)]> {
        match &self.v {
            SVal::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[SNode]> {
        match &self.v {
            SVal::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            SVal::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.v, SVal::Scalar(Value::Null))
    }

    /// Look a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&SNode> {
        self.as_map()?.iter().find(|(k, _)| k.key() == key).map(|(_, v)| v)
    }

    /// A node without a position (made by the engine, not read from a file).
    pub fn synthetic(v: Value) -> SNode {
        SNode { line: 0, column: 0, v: SVal::Scalar(v) }
    }
}

fn wrap(key: &str, value: Value) -> Value {
    let text = match value {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let mut m = Map::new();
    m.insert(key.to_string(), Value::String(text));
    Value::Object(m)
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        // A 20,000-host inventory is far past the default node budget.
        budget: None,
    }
}

/// Turn a serde-saphyr error into a diagnostic at its position in `file`.
fn diagnostic(err: &serde_saphyr::Error, file: &Path, text: &str) -> Diagnostic {
    let full = err.to_string();
    // serde-saphyr renders its own snippet after the first line; we render ours.
    let first = full.lines().next().unwrap_or("invalid YAML").trim();
    // "error: line 4 column 21: unclosed bracket" -> "unclosed bracket": the position
    // is rendered by the diagnostic.
    let mut message = first.strip_prefix("error:").unwrap_or(first).trim();
    if let Some(rest) = message.strip_prefix("line ") {
        if let Some((_, tail)) = rest.split_once(": ") {
            message = tail;
        }
    }
    let message = format!("invalid YAML: {message}");
    match err.location() {
        Some(loc) if loc.line() > 0 => {
            Diagnostic::new(message).at(file, loc.line() as usize, loc.column() as usize, Some(text))
        }
        _ => Diagnostic::new(message).in_file(file),
    }
}

/// A vault-encrypted document, decrypted with the installed secrets (see [`crate::vault`]);
/// other text as it is.
fn unvault<'a>(text: &'a str, file: &Path) -> Result<std::borrow::Cow<'a, str>, Diagnostic> {
    if !crate::vault::is_encrypted(text.trim_start().as_bytes()) {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    crate::vault::decrypt_file_text(text).map(std::borrow::Cow::Owned).map_err(|e| {
        let d = Diagnostic::new(e.to_string()).at(file, 1, 1, Some(text));
        match e.help() {
            Some(h) => d.with_help(h),
            None => d,
        }
    })
}

/// Remember where each inline `!vault` value was written (the line of its key in a
/// mapping), for errors when it is used.
fn note_vault_locations(node: &SNode, line: usize, file: &Path) {
    match &node.v {
        SVal::Scalar(Value::Object(m)) => {
            if let Some(Value::String(c)) = m.get("__ansible_vault") {
                crate::vault::remember_location(c, file, line);
            }
        }
        SVal::Scalar(_) => {}
        SVal::Seq(items) => items.iter().for_each(|n| note_vault_locations(n, n.line, file)),
        SVal::Map(entries) => entries.iter().for_each(|(k, v)| note_vault_locations(v, k.line, file)),
    }
}

/// Parse one YAML document. An empty document is `null`. A vault-encrypted document is
/// decrypted first.
pub fn load(text: &str, file: &Path) -> Result<Value, Diagnostic> {
    let text = &*unvault(text, file)?;
    if text.contains("!vault") {
        return Ok(load_spanned(text, file)?.to_json());
    }
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---") {
        return Ok(Value::Null);
    }
    let node: Node = serde_saphyr::from_str_with_options(text, options()).map_err(|e| diagnostic(&e, file, text))?;
    Ok(node.into_spanned(text).to_json())
}

/// Parse one YAML document, keeping positions. An empty document is a `null` node.
pub fn load_spanned(text: &str, file: &Path) -> Result<SNode, Diagnostic> {
    let text = &*unvault(text, file)?;
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---") {
        return Ok(SNode { line: 1, column: 1, v: SVal::Scalar(Value::Null) });
    }
    let node: Node = serde_saphyr::from_str_with_options(text, options()).map_err(|e| diagnostic(&e, file, text))?;
    let node = node.into_spanned(text);
    if text.contains("!vault") {
        note_vault_locations(&node, node.line, file);
    }
    Ok(node)
}

/// Read and parse a YAML file.
pub fn load_file(path: &Path) -> Result<Value, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(format!("cannot read `{}`: {e}", path.display())))?;
    load(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(s: &str) -> Value {
        load(s, Path::new("t.yml")).unwrap()
    }

    #[test]
    fn yaml_1_1_scalars_like_ansible() {
        let v = y("become: yes\nenabled: on\nname: no\nmode: 0644\nversion: 1.10\nquoted: \"yes\"\ntilde: ~\nport: 22\n");
        assert_eq!(
            v,
            json!({"become": true, "enabled": true, "name": false, "mode": 420, "version": 1.1, "quoted": "yes", "tilde": null, "port": 22})
        );
    }

    #[test]
    fn pyyaml_scalar_quirks() {
        let aliased = y("a: &t yes\nb: *t\nc: &n y\nd: *n\n");
        assert_eq!(aliased, json!({"a": true, "b": true, "c": "y", "d": "y"}));
        let v = y("a: [x, y, n, Y, yEs, YES, Off]\nb: 0o17\nc: 1e3\nd: 1.5e3\ne: 0x1f\n");
        assert_eq!(v["a"], json!(["x", "y", "n", "Y", "yEs", true, false]));
        assert_eq!(v["b"], json!("0o17"));
        assert_eq!(v["c"], json!("1e3"));
        assert_eq!(v["d"], json!(1500.0));
        assert_eq!(v["e"], json!(31));
    }

    #[test]
    fn merge_keys_apply() {
        let v = y("base: &b\n  a: 1\n  b: 2\nchild:\n  <<: *b\n  b: 3\n");
        assert_eq!(v["child"], json!({"a": 1, "b": 3}));
    }

    #[test]
    fn vault_and_unsafe_tags_are_kept() {
        let v = y("secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nraw: !unsafe '{{ x }}'\nnested:\n  - !vault abc\n");
        assert_eq!(v["secret"], json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"}));
        assert_eq!(v["raw"], json!({"__ansible_unsafe": "{{ x }}"}));
        assert_eq!(v["nested"][0], json!({"__ansible_vault": "abc"}));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = load("all:\n  hosts:\n    a: [1, 2\n", Path::new("bad.yml")).unwrap_err();
        let loc = err.location.clone().unwrap();
        assert_eq!(loc.file, Path::new("bad.yml"));
        assert!(loc.line >= 3, "{err}");
        assert!(err.to_string().starts_with("invalid YAML: "), "{err}");
    }

    #[test]
    fn spanned_nodes_know_their_position() {
        let n = load_spanned("- hosts: all\n  tasks:\n    - name: x\n      apt: name=nginx\n", Path::new("p.yml")).unwrap();
        let play = &n.as_seq().unwrap()[0];
        assert_eq!((play.line, play.column), (1, 3));
        let task = &play.get("tasks").unwrap().as_seq().unwrap()[0];
        let (k, v) = &task.as_map().unwrap()[1];
        assert_eq!(k.key(), "apt");
        assert_eq!((k.line, k.column), (4, 7));
        assert_eq!((v.line, v.column), (4, 12));
        assert_eq!(n.to_json()[0]["tasks"][0]["apt"], "name=nginx");
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(y("# nothing\n---\n"), Value::Null);
    }
}
