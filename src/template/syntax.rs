//! Template source handling: Ansible's backslash escaping, trailing newlines, and the
//! access paths (`a.b[0]`) that minijinja puts in undefined errors.

use std::borrow::Cow;

use minijinja::Value;

/// Double the backslashes in string literals inside `{{ }}`, as Ansible does for templates
/// from YAML, so `'\1'` and `'\d'` reach filters as written.
pub(super) fn escape_backslashes(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') || !s.contains("{{") {
        return s.into();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    let mut in_expr = false;
    let mut last = 0;
    while i < bytes.len() {
        if !in_expr {
            if s[i..].starts_with("{{") {
                in_expr = true;
                i += 2;
            } else if s[i..].starts_with("{% raw %}") || s[i..].starts_with("{%raw%}") {
                i = s[i..].find("endraw").map_or(bytes.len(), |p| i + p);
            } else {
                i += 1;
            }
            continue;
        }
        match bytes[i] {
            b'}' if s[i..].starts_with("}}") => {
                in_expr = false;
                i += 2;
            }
            q @ (b'\'' | b'"') => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(bytes.len());
                out.push_str(&s[last..start]);
                out.push_str(&s[start..end].replace('\\', "\\\\"));
                last = end;
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push_str(&s[last..]);
    out.into()
}

/// Ansible keeps the source's trailing newlines that Jinja strips.
pub(super) fn keep_trailing_newlines(source: &str, mut out: String) -> String {
    let want = source.len() - source.trim_end_matches('\n').len();
    let have = out.len() - out.trim_end_matches('\n').len();
    for _ in have..want {
        out.push('\n');
    }
    out
}

/// The path in minijinja's "`a.b` is undefined" detail.
pub(super) fn undefined_path(detail: &str) -> Option<String> {
    let start = detail.find('`')?;
    let rest = &detail[start + 1..];
    let end = rest.find('`')?;
    if rest[end..].starts_with("` is undefined") {
        Some(rest[..end].to_string())
    } else {
        None
    }
}

/// `d['x'][0]` → `d.x[0]`, the form lazy paths are recorded in.
pub(super) fn normalize_path(path: &str) -> String {
    match parse_path(path) {
        Some(segments) => {
            let mut out = String::new();
            for (i, s) in segments.iter().enumerate() {
                match s.as_str() {
                    Some(k) if i == 0 => out.push_str(k),
                    Some(k) => {
                        out.push('.');
                        out.push_str(k);
                    }
                    None => out.push_str(&format!("[{s}]")),
                }
            }
            out
        }
        None => path.to_string(),
    }
}

/// Split `a.b.c` / `a['b']` / `a[0]` into its parent and last key.
pub(super) fn split_last(path: &str) -> Option<(&str, String)> {
    if let Some(stripped) = path.strip_suffix(']') {
        let open = stripped.rfind('[')?;
        let key = stripped[open + 1..].trim_matches(|c| c == '\'' || c == '"');
        return Some((&path[..open], key.to_string()));
    }
    let dot = path.rfind('.')?;
    Some((&path[..dot], path[dot + 1..].to_string()))
}

/// Parse a plain access path into keys: identifiers, `.attr`, `[int]`, `['str']`.
pub(super) fn parse_path(path: &str) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    let mut rest = path.trim();
    let ident_len = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    let n = ident_len(rest);
    if n == 0 {
        return None;
    }
    out.push(Value::from(&rest[..n]));
    rest = &rest[n..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let n = ident_len(r);
            if n == 0 {
                return None;
            }
            out.push(Value::from(&r[..n]));
            rest = &r[n..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = r[..close].trim();
            if let Ok(i) = inner.parse::<i64>() {
                out.push(Value::from(i));
            } else if inner.len() >= 2 && (inner.starts_with('\'') || inner.starts_with('"')) {
                out.push(Value::from(&inner[1..inner.len() - 1]));
            } else {
                return None;
            }
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

pub(super) fn strip_unknown(detail: &str, prefix: &str) -> String {
    detail.trim_start_matches(prefix).trim_end_matches(" is unknown").to_string()
}
