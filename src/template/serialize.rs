//! JSON and YAML filters: `to_json`, `to_nice_json`, `tojson`, `from_json`, `to_yaml`,
//! `to_nice_yaml`, `from_yaml`, `from_yaml_all`. JSON is written like Python's `json.dumps`
//! (`", "` separators, `ensure_ascii`), YAML like PyYAML ([`super::yaml_out`]).

use std::path::Path;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, Value};
use serde_json::Value as Json;

use super::filters::{fail, py_float_repr, py_str};
use super::{value_to_json, yaml_out};

/// Serialize like Python's `json.dumps`.
pub(super) struct JsonStyle {
    pub indent: Option<usize>,
    pub sort_keys: bool,
    pub ensure_ascii: bool,
    pub item_sep: String,
    pub key_sep: String,
}

pub(super) fn py_json(v: &Json, style: &JsonStyle) -> String {
    let mut out = String::new();
    write_json(&mut out, v, style, 0);
    out
}

pub(super) fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn write_json(out: &mut String, v: &Json, style: &JsonStyle, level: usize) {
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = style.indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&py_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Json::String(s) => write_json_str(out, s, style.ensure_ascii),
        Json::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, level + 1);
                write_json(out, item, style, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Json::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut entries: Vec<(&String, &Json)> = m.iter().collect();
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, level + 1);
                write_json_str(out, k, style.ensure_ascii);
                out.push_str(&style.key_sep);
                write_json(out, item, style, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

pub(super) fn json_style(kwargs: &Kwargs, indent: Option<usize>, sort_keys: bool) -> Result<JsonStyle, Error> {
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        Some(v) if v.is_none() => None,
        Some(v) => Some(usize::try_from(v)?),
        None => indent,
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(sort_keys);
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    let (item_sep, key_sep) = match kwargs.get::<Option<Vec<String>>>("separators")? {
        Some(s) if s.len() == 2 => (s[0].clone(), s[1].clone()),
        _ if indent.is_some() => (",".to_string(), ": ".to_string()),
        _ => (", ".to_string(), ": ".to_string()),
    };
    for unused in ["vault_to_text", "preprocess_unsafe", "profile", "allow_nan", "skipkeys", "check_circular"] {
        let _ = kwargs.get::<Option<Value>>(unused)?;
    }
    kwargs.assert_all_used()?;
    Ok(JsonStyle { indent, sort_keys, ensure_ascii, item_sep, key_sep })
}

pub(super) fn to_json(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let style = json_style(&kwargs, None, false)?;
    Ok(py_json(&value_to_json(&value)?, &style))
}

/// Jinja's `tojson`: sorted keys, and `<>&'` escaped for HTML.
pub(super) fn tojson(value: Value, indent: Option<usize>) -> Result<String, Error> {
    let style = JsonStyle {
        indent,
        sort_keys: true,
        ensure_ascii: true,
        item_sep: if indent.is_some() { ",".into() } else { ", ".into() },
        key_sep: ": ".into(),
    };
    Ok(py_json(&value_to_json(&value)?, &style)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

pub(super) fn to_nice_json(value: Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let _ = kwargs.get::<Option<Value>>("separators")?;
    let style = json_style(&kwargs, Some(indent.unwrap_or(4)), true)?;
    let style = JsonStyle { item_sep: ",".to_string(), key_sep: ": ".to_string(), ..style };
    Ok(py_json(&value_to_json(&value)?, &style))
}

pub(super) fn from_json(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let _ = kwargs.get::<Option<Value>>("profile")?;
    kwargs.assert_all_used()?;
    let s = py_str(&value);
    let json: Json = serde_json::from_str(&s).map_err(|e| fail(format!("from_json: {e}")))?;
    Ok(super::plain_value(&json))
}

pub(super) fn to_yaml(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(2);
    let flow = kwargs.get::<Option<Value>>("default_flow_style")?;
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width = kwargs.get::<Option<usize>>("width")?.unwrap_or(80);
    let explicit_start = kwargs.get::<Option<bool>>("explicit_start")?.unwrap_or(false);
    let _ = kwargs.get::<Option<Value>>("allow_unicode")?;
    kwargs.assert_all_used()?;
    let flow = match flow {
        Some(v) if v.is_none() => yaml_out::Flow::Auto,
        Some(v) if v.is_true() => yaml_out::Flow::Always,
        Some(_) => yaml_out::Flow::Never,
        None => yaml_out::Flow::Auto,
    };
    let opts = yaml_out::Options { indent, flow, sort_keys, width, explicit_start };
    Ok(yaml_out::dump(&value_to_json(&value)?, &opts))
}

pub(super) fn to_nice_yaml(value: Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.or(indent).unwrap_or(4);
    let flow = kwargs.get::<Option<bool>>("default_flow_style")?.unwrap_or(false);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width = kwargs.get::<Option<usize>>("width")?.unwrap_or(80);
    let explicit_start = kwargs.get::<Option<bool>>("explicit_start")?.unwrap_or(false);
    let _ = kwargs.get::<Option<Value>>("allow_unicode")?;
    kwargs.assert_all_used()?;
    let flow = if flow { yaml_out::Flow::Always } else { yaml_out::Flow::Never };
    let opts = yaml_out::Options { indent, flow, sort_keys, width, explicit_start };
    Ok(yaml_out::dump(&value_to_json(&value)?, &opts))
}

pub(super) fn parse_yaml(text: &str) -> Result<Json, Error> {
    crate::yaml::load(text, Path::new("<from_yaml>")).map_err(|d| fail(format!("from_yaml: {}", d.message)))
}

pub(super) fn from_yaml(value: Value) -> Result<Value, Error> {
    if value.kind() != ValueKind::String {
        return Ok(value);
    }
    Ok(super::plain_value(&parse_yaml(value.as_str().unwrap_or_default())?))
}

pub(super) fn from_yaml_all(value: Value) -> Result<Value, Error> {
    if value.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    if value.kind() != ValueKind::String {
        return Ok(value);
    }
    let text = value.as_str().unwrap_or_default();
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut seen_content = false;
    let flush = |current: &mut String, seen: &mut bool, docs: &mut Vec<Value>| -> Result<(), Error> {
        if *seen {
            docs.push(super::plain_value(&parse_yaml(current)?));
        }
        current.clear();
        *seen = false;
        Ok(())
    };
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            flush(&mut current, &mut seen_content, &mut docs)?;
            if let Some(rest) = line.strip_prefix("--- ") {
                current.push_str(rest);
                current.push('\n');
                seen_content = !rest.trim().is_empty();
            }
            continue;
        }
        if !line.trim().is_empty() && !line.trim_start().starts_with('#') && !line.starts_with('%') {
            seen_content = true;
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current, &mut seen_content, &mut docs)?;
    Ok(Value::from(docs))
}
