//! Host patterns: which hosts `hosts: web:&prod:!web3` or `--limit` select.
//!
//! A pattern is split into terms at commas (or, without commas, at colons outside
//! brackets, unless the whole pattern is one address such as `fe80::1` or `web[1:3]`).
//! Each term is a host name, a group name, `all`, a glob (`web*`, `192.168.1.*`,
//! `db[0-9]`), or a regex (`~(web|db).*`), optionally prefixed with `&` (intersection) or
//! `!` (exclusion) and suffixed with a subscript `[0]`, `[-1]`, `[1:3]` (end included, as
//! in ansible-core; `[1:]` runs to the end). Terms are applied as Ansible applies them:
//! all unions first, then intersections, then exclusions, whatever their order in the
//! pattern; a pattern of only `&`/`!` terms starts from `all`.
//!
//! A glob or regex is matched against group names first; it selects the hosts of every
//! matching group, and host names too when it has glob characters, a `.`, or no group
//! matched. `localhost`, `127.0.0.1` and `::1` give the implicit localhost when no host or
//! group matches them. Results are in inventory order, each host once.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{known_names, ranges, suggest, Inventory, LOCALHOST_NAMES};
use crate::diag::Diagnostic;

/// A selected host: one of the inventory, or the implicit localhost.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Selected {
    Host(usize),
    Implicit(String),
}

/// State shared by the terms of one selection: Ansible creates one implicit localhost
/// and every localhost-like name refers to it afterwards.
#[derive(Default)]
struct Context {
    implicit: Option<String>,
}

/// A pattern term and whether matching nothing is an error.
struct Term {
    text: String,
    strict: bool,
}

static SUBSCRIPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("static regex"));
static COLON_TERMS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("static regex"));

/// Split a pattern into terms (Ansible's `split_host_pattern`).
pub fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if ranges::parse_address(pattern, true).is_some() {
        vec![pattern.to_string()]
    } else {
        COLON_TERMS.find_iter(pattern).map(|m| m.as_str().to_string()).collect()
    };
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// Unions first, then `&` intersections, then `!` exclusions; `all` when there is no
/// union (Ansible's `order_patterns`).
fn order_terms(terms: Vec<Term>) -> Vec<Term> {
    let (mut regular, mut intersect, mut exclude) = (Vec::new(), Vec::new(), Vec::new());
    for t in terms {
        if t.text.is_empty() {
            continue;
        }
        match t.text.as_bytes()[0] {
            b'!' => exclude.push(t),
            b'&' => intersect.push(t),
            _ => regular.push(t),
        }
    }
    if regular.is_empty() {
        regular.push(Term { text: "all".to_string(), strict: false });
    }
    regular.into_iter().chain(intersect).chain(exclude).collect()
}

/// A subscript: one index, or an inclusive range (`end` `None` means "to the end").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(i64, Option<i64>),
}

/// `web[1:3]` → (`web`, 1..=3). Regexes are never subscripted.
fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    if term.starts_with('~') {
        return (term, None);
    }
    let Some(c) = SUBSCRIPT.captures(term) else {
        return (term, None);
    };
    let expr = c.get(1).map_or(term, |m| m.as_str());
    if let Some(idx) = c.get(2) {
        return match idx.as_str().parse() {
            Ok(i) => (expr, Some(Subscript::Index(i))),
            Err(_) => (term, None),
        };
    }
    let start = c.get(3).and_then(|m| m.as_str().parse().ok());
    let end = c.get(5).map(|m| m.as_str()).filter(|s| !s.is_empty());
    match (start, end.map(str::parse::<i64>)) {
        (Some(s), None) => (expr, Some(Subscript::Range(s, None))),
        (Some(s), Some(Ok(e))) => (expr, Some(Subscript::Range(s, Some(e)))),
        _ => (term, None),
    }
}

/// Python's `fnmatch.translate`, for the `regex` crate.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                    continue;
                }
                let stuff: Vec<char> = chars[i..j].to_vec();
                i = j + 1;
                out.push_str(&glob_class(&stuff));
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

/// The body of a `[...]` glob class as a regex class.
fn glob_class(stuff: &[char]) -> String {
    if stuff.is_empty() {
        return "[^\\s\\S]".to_string(); // never matches
    }
    if stuff == ['!'] {
        return ".".to_string();
    }
    let (negate, body) = if stuff[0] == '!' { (true, &stuff[1..]) } else { (false, stuff) };
    // Collect items: single characters and `a-z` ranges; drop reversed ranges, as
    // Python does.
    let mut items = String::new();
    let mut k = 0;
    while k < body.len() {
        let c = body[k];
        if k + 2 < body.len() && body[k + 1] == '-' {
            let end = body[k + 2];
            if c <= end {
                items.push_str(&class_char(c));
                items.push('-');
                items.push_str(&class_char(end));
            }
            k += 3;
        } else {
            items.push_str(&class_char(c));
            k += 1;
        }
    }
    if items.is_empty() {
        return if negate { ".".to_string() } else { "[^\\s\\S]".to_string() };
    }
    format!("[{}{}]", if negate { "^" } else { "" }, items)
}

fn class_char(c: char) -> String {
    if matches!(c, '\\' | '[' | ']' | '^' | '&' | '~' | '-') {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Inventory {
    /// Host names matching an Ansible host pattern, in inventory order, deduplicated.
    ///
    /// Errors: a plain name (no glob or regex characters) that is neither a host nor a
    /// group, with a did-you-mean hint; a regex that does not compile; a subscript
    /// index past the end (`web[9]` when `web` has fewer hosts).
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, Diagnostic> {
        self.select_limited(pattern, None)
    }

    /// [`Inventory::select`] intersected with a `--limit`, itself a pattern.
    ///
    /// In a limit, each comma/colon-separated term may be `@FILE`: a file of patterns,
    /// one a line (a `.retry` file). Names in such a file that match nothing are skipped
    /// silently, as a host may have left the inventory since the file was written.
    pub fn select_limited(&self, pattern: &str, limit: Option<&str>) -> Result<Vec<String>, Diagnostic> {
        let mut cx = Context::default();
        let terms = split_host_pattern(pattern).into_iter().map(|text| Term { text, strict: true }).collect();
        let mut hosts = self.evaluate(terms, pattern, &mut cx)?;
        if let Some(limit) = limit {
            let terms = limit_terms(limit)?;
            let allowed: HashSet<Selected> = self.evaluate(terms, limit, &mut cx)?.into_iter().collect();
            hosts.retain(|h| allowed.contains(h));
        }
        let mut seen = HashSet::new();
        hosts.retain(|h| seen.insert(h.clone()));
        Ok(hosts
            .into_iter()
            .map(|h| match h {
                Selected::Host(id) => self.hosts[id].name.clone(),
                Selected::Implicit(name) => name,
            })
            .collect())
    }

    /// Ansible's `_evaluate_patterns`.
    fn evaluate(&self, terms: Vec<Term>, whole: &str, cx: &mut Context) -> Result<Vec<Selected>, Diagnostic> {
        let mut hosts: Vec<Selected> = Vec::new();
        let mut present: HashSet<Selected> = HashSet::new();
        for term in order_terms(terms) {
            if let Some(id) = self.hosts.get_index_of(&term.text) {
                let h = Selected::Host(id);
                if present.insert(h.clone()) {
                    hosts.push(h);
                }
                continue;
            }
            let that = self.match_term(&term, whole, cx)?;
            match term.text.as_bytes()[0] {
                b'!' => {
                    let that: HashSet<Selected> = that.into_iter().collect();
                    hosts.retain(|h| !that.contains(h));
                    present.retain(|h| !that.contains(h));
                }
                b'&' => {
                    let that: HashSet<Selected> = that.into_iter().collect();
                    hosts.retain(|h| that.contains(h));
                    present.retain(|h| that.contains(h));
                }
                _ => {
                    for h in that {
                        if present.insert(h.clone()) {
                            hosts.push(h);
                        }
                    }
                }
            }
        }
        Ok(hosts)
    }

    /// Ansible's `_match_one_pattern`: one term without its `&`/`!`, with a subscript.
    fn match_term(&self, term: &Term, whole: &str, cx: &mut Context) -> Result<Vec<Selected>, Diagnostic> {
        let text = term.text.strip_prefix(['&', '!']).unwrap_or(&term.text);
        let (expr, subscript) = split_subscript(text);
        let hosts = self.enumerate(expr, term.strict, whole, cx)?;
        apply_subscript(hosts, subscript).map_err(|count| {
            Diagnostic::new(format!("no hosts matched the subscripted pattern `{text}` in `{whole}`"))
                .with_help(format!("`{expr}` matches {count} host{}", if count == 1 { "" } else { "s" }))
        })
    }

    /// Ansible's `_enumerate_matches`.
    fn enumerate(&self, expr: &str, strict: bool, whole: &str, cx: &mut Context) -> Result<Vec<Selected>, Diagnostic> {
        if expr.is_empty() {
            return Ok(Vec::new());
        }
        let is_regex = expr.starts_with('~');
        let plain = !is_regex && !has_glob_chars(expr);
        let matcher = if plain {
            None
        } else {
            let source = if is_regex { format!("^(?:{})", &expr[1..]) } else { glob_to_regex(expr) };
            Some(Regex::new(&source).map_err(|e| {
                Diagnostic::new(format!("invalid host pattern `{expr}` in `{whole}`"))
                    .with_help(format!("{}", e).lines().last().unwrap_or("").trim().to_string())
            })?)
        };
        let matches = |name: &str| match &matcher {
            Some(re) => re.is_match(name),
            None => name == expr,
        };

        let mut results: Vec<Selected> = Vec::new();
        let mut matched_group = false;
        match &matcher {
            None => {
                if let Some(g) = self.groups.get_index_of(expr) {
                    matched_group = true;
                    results.extend(self.hosts_of_group(g).iter().map(|h| Selected::Host(*h)));
                }
            }
            Some(_) => {
                for (g, name) in self.groups.keys().enumerate() {
                    if matches(name) {
                        matched_group = true;
                        results.extend(self.hosts_of_group(g).iter().map(|h| Selected::Host(*h)));
                    }
                }
            }
        }
        if !matched_group || is_regex || expr.contains(['.', '?', '*', '[']) {
            match &matcher {
                None => {
                    if let Some(id) = self.hosts.get_index_of(expr) {
                        results.push(Selected::Host(id));
                    }
                }
                Some(_) => {
                    for (id, name) in self.hosts.keys().enumerate() {
                        if matches(name) {
                            results.push(Selected::Host(id));
                        }
                    }
                }
            }
        }
        if results.is_empty() && LOCALHOST_NAMES.contains(&expr) {
            // Ansible's get_host: an inventory localhost-alike, or the implicit one.
            match self.localhost {
                Some(id) => results.push(Selected::Host(id)),
                None => {
                    let name = cx.implicit.get_or_insert_with(|| expr.to_string()).clone();
                    results.push(Selected::Implicit(name));
                }
            }
        }
        if results.is_empty() && !matched_group && expr != "all" && plain && strict {
            let mut d = Diagnostic::new(format!("unknown host or group `{expr}` in pattern `{whole}`"));
            if let Some(s) = suggest(expr, known_names(self)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            return Err(d);
        }
        Ok(results)
    }
}

/// Ansible's `_apply_subscript`; `Err(count)` for an index past the end.
fn apply_subscript(hosts: Vec<Selected>, subscript: Option<Subscript>) -> Result<Vec<Selected>, usize> {
    let Some(subscript) = subscript else {
        return Ok(hosts);
    };
    if hosts.is_empty() {
        return Ok(hosts);
    }
    let len = hosts.len() as i64;
    // Python indexing: negative counts from the end.
    let norm = |i: i64| if i < 0 { i + len } else { i };
    match subscript {
        // `[x:0]` is `end` 0, which Python treats as "no end": one host, like `[x]`.
        Subscript::Index(i) | Subscript::Range(i, Some(0)) => {
            let idx = norm(i);
            if idx < 0 || idx >= len {
                return Err(hosts.len());
            }
            Ok(vec![hosts[idx as usize].clone()])
        }
        Subscript::Range(start, end) => {
            let end = end.map_or(len - 1, |e| if e == -1 { len - 1 } else { e });
            // Python slice hosts[start:end + 1], clamped.
            let clamp = |i: i64| norm(i).clamp(0, len) as usize;
            let (a, b) = (clamp(start), clamp(end + 1));
            Ok(if a < b { hosts[a..b].to_vec() } else { Vec::new() })
        }
    }
}

/// The terms of a `--limit`: patterns, and `@file` contents one per line.
fn limit_terms(limit: &str) -> Result<Vec<Term>, Diagnostic> {
    let mut terms = Vec::new();
    for part in split_host_pattern(limit) {
        let Some(file) = part.strip_prefix('@') else {
            terms.push(Term { text: part, strict: true });
            continue;
        };
        let path = std::path::Path::new(file);
        if !path.exists() {
            return Err(Diagnostic::new(format!("limit file `{file}` does not exist"))
                .with_help("`--limit @FILE` reads host names from FILE, one a line"));
        }
        if !path.is_file() {
            return Err(Diagnostic::new(format!("limit `@{file}` must name a file, not a directory")));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::new(format!("cannot read limit file `{file}`: {e}")))?;
        terms.extend(text.split('\n').map(|l| Term { text: l.trim().to_string(), strict: false }));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ansible() {
        assert_eq!(split_host_pattern("web:&db:!x"), ["web", "&db", "!x"]);
        assert_eq!(split_host_pattern("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(split_host_pattern("web[0:2]"), ["web[0:2]"]);
        assert_eq!(split_host_pattern("fe80::1"), ["fe80::1"]);
        assert_eq!(split_host_pattern("web[1]:db[-1]"), ["web[1]", "db[-1]"]);
        assert_eq!(split_host_pattern("~(web|db).*"), ["~(web|db).*"]);
        assert_eq!(split_host_pattern("a b"), ["a", "b"]);
        assert!(split_host_pattern("").is_empty());
    }

    #[test]
    fn subscripts() {
        assert_eq!(split_subscript("web[0]"), ("web", Some(Subscript::Index(0))));
        assert_eq!(split_subscript("web[-1]"), ("web", Some(Subscript::Index(-1))));
        assert_eq!(split_subscript("web[1:3]"), ("web", Some(Subscript::Range(1, Some(3)))));
        assert_eq!(split_subscript("web[1:]"), ("web", Some(Subscript::Range(1, None))));
        assert_eq!(split_subscript("web[-2:]"), ("web[-2:]", None));
        assert_eq!(split_subscript("~web[0]"), ("~web[0]", None));
        let h = |n: usize| (0..n).map(Selected::Host).collect::<Vec<_>>();
        assert_eq!(apply_subscript(h(4), Some(Subscript::Range(1, Some(2)))).unwrap(), h(4)[1..3].to_vec());
        assert_eq!(apply_subscript(h(4), Some(Subscript::Range(1, Some(0)))).unwrap(), vec![Selected::Host(1)]);
        assert_eq!(apply_subscript(h(4), Some(Subscript::Range(5, None))).unwrap(), vec![]);
        assert_eq!(apply_subscript(h(4), Some(Subscript::Index(9))), Err(4));
    }

    #[test]
    fn globs_translate_like_fnmatch() {
        let m = |g: &str, s: &str| Regex::new(&glob_to_regex(g)).unwrap().is_match(s);
        assert!(m("web*", "web01"));
        assert!(!m("web*", "xweb"));
        assert!(m("192.168.1.*", "192.168.1.7"));
        assert!(!m("192.168.1.*", "192x168.1.7"));
        assert!(m("db[0-9]", "db3"));
        assert!(m("db[!0-9]", "dbx"));
        assert!(!m("db[!0-9]", "db3"));
        assert!(m("w?b", "web"));
        assert!(m("a[", "a["));
        assert!(!m("x[]", "x"));
    }
}
