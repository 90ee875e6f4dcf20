//! Path and URL filters, on the controller: `basename`, `dirname`, `expanduser`,
//! `expandvars`, `realpath`, `relpath`, `splitext`, `normpath`, `path_join`, `commonpath`,
//! `fileglob`, `urlsplit`, `urldecode`.

use std::path::{Path, PathBuf};

use minijinja::value::ValueKind;
use minijinja::{Error, Value};
use regex::Regex;

use super::filters::{fail, py_str};

pub(super) fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or_default()
}

pub(super) fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head
            } else {
                trimmed
            }
        }
        None => "",
    }
}

pub(super) fn expanduser(p: &str) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from).or_else(dirs::home_dir) {
            return format!("{}{}", home.to_string_lossy().trim_end_matches('/'), &p[1..]);
        }
    }
    p.to_string()
}

/// `expandvars`: `$NAME` and `${NAME}` from the controller's environment; unknown stay.
pub(super) fn expandvars(p: &str) -> String {
    static RE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let Some(re) = RE.get_or_init(|| Regex::new(r"\$(\w+|\{[^}]*\})").ok()) else {
        return p.to_string();
    };
    re.replace_all(p, |caps: &regex::Captures<'_>| {
        let name = caps[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| caps[0].to_string())
    })
    .into_owned()
}

/// `os.path.normpath`.
pub(super) fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let absolute = p.starts_with('/');
    let double = p.starts_with("//") && !p.starts_with("///");
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, double) {
        (true, true) => format!("//{joined}"),
        (true, false) => format!("/{joined}"),
        (false, _) if joined.is_empty() => ".".to_string(),
        _ => joined,
    }
}

pub(super) fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

pub(super) fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        normpath(&format!("{}/{p}", cwd().to_string_lossy()))
    }
}

pub(super) fn realpath(p: &str) -> String {
    let abs = absolute(p);
    // Resolve what exists; keep the rest as written, like os.path.realpath.
    let mut existing = PathBuf::from(&abs);
    let mut tail: Vec<String> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return out.to_string_lossy().into_owned();
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_string_lossy().into_owned());
                existing = parent.to_path_buf();
            }
            _ => return abs,
        }
    }
}

pub(super) fn relpath(p: String, start: Option<String>) -> String {
    let target = absolute(&p);
    let start = absolute(start.as_deref().unwrap_or("."));
    let t: Vec<&str> = target.split('/').filter(|s| !s.is_empty()).collect();
    let s: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = t.iter().zip(s.iter()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; s.len() - common];
    parts.extend(&t[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

pub(super) fn splitext(p: String) -> Value {
    let base_start = p.rfind('/').map_or(0, |i| i + 1);
    let base = &p[base_start..];
    let dot = base.rfind('.').filter(|&i| base[..i].chars().any(|c| c != '.'));
    match dot {
        Some(i) => Value::from(vec![Value::from(&p[..base_start + i]), Value::from(&base[i..])]),
        None => Value::from(vec![Value::from(p.as_str()), Value::from("")]),
    }
}

pub(super) fn path_join(value: Value) -> Result<String, Error> {
    let parts: Vec<String> = if value.kind() == ValueKind::String {
        vec![py_str(&value)]
    } else {
        value.try_iter()?.map(|v| py_str(&v)).collect()
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out = part;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&part);
        } else {
            out.push('/');
            out.push_str(&part);
        }
    }
    Ok(out)
}

pub(super) fn commonpath(value: Value) -> Result<String, Error> {
    let paths: Vec<String> = value.try_iter()?.map(|v| py_str(&v)).collect();
    let Some(first) = paths.first() else {
        return Err(fail("commonpath() arg is an empty sequence"));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(fail("Can't mix absolute and relative paths"));
    }
    let split: Vec<Vec<&str>> =
        paths.iter().map(|p| p.split('/').filter(|s| !s.is_empty() && *s != ".").collect()).collect();
    let mut common: Vec<&str> = split[0].clone();
    for s in &split[1..] {
        let n = common.iter().zip(s.iter()).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    Ok(format!("{}{}", if absolute { "/" } else { "" }, common.join("/")))
}

/// `fileglob` (filter): regular files matching a glob on the controller.
pub(super) fn fileglob(pattern: String) -> Result<Value, Error> {
    Ok(Value::from(glob_files(&pattern).into_iter().map(Value::from).collect::<Vec<_>>()))
}

/// Regular files matching `pattern` (`*`, `?`, `[..]` within one path component).
pub(super) fn glob_files(pattern: &str) -> Vec<String> {
    let mut results = Vec::new();
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let start = if absolute { PathBuf::from("/") } else { PathBuf::new() };
    glob_walk(&start, &comps, &mut results);
    results.sort();
    results
}

pub(super) fn glob_walk(base: &Path, comps: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = comps.split_first() else {
        if base.is_file() {
            out.push(base.to_string_lossy().into_owned());
        }
        return;
    };
    let has_magic = first.contains(['*', '?', '[']);
    if !has_magic {
        let next = base.join(first);
        if rest.is_empty() || next.is_dir() {
            glob_walk(&next, rest, out);
        }
        return;
    }
    let Ok(glob) = globset::GlobBuilder::new(first).literal_separator(true).build() else {
        return;
    };
    let matcher = glob.compile_matcher();
    let dir = if base.as_os_str().is_empty() { Path::new(".") } else { base };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        if name.starts_with('.') && !first.starts_with('.') {
            continue;
        }
        if matcher.is_match(&name) {
            glob_walk(&base.join(&name), rest, out);
        }
    }
}

/// `urlsplit(query='')`: the parts of a URL as a dict, or one of them.
pub(super) fn urlsplit(value: Value, query: Option<String>) -> Result<Value, Error> {
    let url = py_str(&value);
    let (scheme, rest) = match url.find(':') {
        Some(i) if url[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) && i > 0 => {
            (url[..i].to_ascii_lowercase(), &url[i + 1..])
        }
        _ => (String::new(), url.as_str()),
    };
    let (netloc, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query_str) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostport) = match netloc.rfind('@') {
        Some(i) => (Some(&netloc[..i]), &netloc[i + 1..]),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Value::from(user), Value::from(pass)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (hostname, port) = if let Some(r) = hostport.strip_prefix('[') {
        let end = r.find(']').unwrap_or(r.len());
        let port = r.get(end + 1..).and_then(|p| p.strip_prefix(':')).and_then(|p| p.parse::<u16>().ok());
        (r[..end].to_ascii_lowercase(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), p.parse::<u16>().ok()),
            None => (hostport.to_ascii_lowercase(), None),
        }
    };
    let parts = [
        ("fragment", Value::from(fragment)),
        ("hostname", if hostname.is_empty() { Value::from(()) } else { Value::from(hostname) }),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port.map_or(Value::from(()), Value::from)),
        ("query", Value::from(query_str)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match query.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => parts
            .iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| fail(format!("urlsplit: unknown URL component: {q}"))),
        None => Ok(Value::from_pairs(parts)),
    }
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() {
            let hex = [bytes[i + 1], bytes[i + 2]];
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&hex).unwrap_or("zz"), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
