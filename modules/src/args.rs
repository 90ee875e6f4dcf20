//! Argument specs: Ansible's `argument_spec`, written once per module.
//!
//! [`validate`] checks rendered arguments against a module's [`ArgSpec`] table — unknown
//! names (with a "did you mean"), types, choices, required and mutually exclusive
//! arguments — and returns them normalized: aliases resolved to the canonical name,
//! strings converted to the declared type (`"yes"` → `true`, `"0644"` stays text for a
//! mode), defaults filled in. [`parse_kv`] reads the `key=value` free form of `-a` and of
//! `apt: name=nginx update_cache=yes`.

use serde_json::{Map, Value};

use crate::Args;

/// The type an argument is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Str,
    Bool,
    Int,
    /// A list; a string is split on commas, as Ansible does.
    List,
    Dict,
    Path,
    /// Any value, passed through.
    Raw,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::Str => "str",
            ArgType::Bool => "bool",
            ArgType::Int => "int",
            ArgType::List => "list",
            ArgType::Dict => "dict",
            ArgType::Path => "path",
            ArgType::Raw => "raw",
        }
    }
}

/// One argument of a module: its spec and its documentation.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgType,
    pub required: bool,
    /// The default, as YAML text (`"yes"`, `"present"`), or `None`.
    pub default: Option<&'static str>,
    pub aliases: &'static [&'static str],
    pub choices: &'static [&'static str],
    pub doc: &'static str,
    /// Taken for Ansible's sake but not carried out: a non-empty value is an error.
    pub unsupported: bool,
}

impl ArgSpec {
    pub const fn new(name: &'static str, kind: ArgType, doc: &'static str) -> Self {
        ArgSpec { name, kind, required: false, default: None, aliases: &[], choices: &[], doc, unsupported: false }
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }
    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
    /// Known to Ansible, not carried out here: [`validate`] refuses a non-empty value.
    pub const fn unsupported(mut self) -> Self {
        self.unsupported = true;
        self
    }
}

/// Ansible's common file arguments (`add_file_common_args`): the rows every module that
/// writes files shares. Compose a module's table from its own rows and these with
/// [`arg_table!`](crate::arg_table).
pub const FILE_ATTRS: &[ArgSpec] = &[
    ArgSpec::new("mode", ArgType::Raw, "Permissions: octal (`'0644'`; YAML `0644` unquoted is read as that octal number) or symbolic (`u=rw,g=r,o=`, `u+x`)."),
    ArgSpec::new("owner", ArgType::Str, "User name or uid that should own the file."),
    ArgSpec::new("group", ArgType::Str, "Group name or gid that should own the file."),
    ArgSpec::new("seuser", ArgType::Str, "Accepted for compatibility: SELinux contexts are not managed (Debian hosts run without SELinux, where Ansible ignores it too)."),
    ArgSpec::new("serole", ArgType::Str, "Accepted for compatibility: SELinux contexts are not managed."),
    ArgSpec::new("setype", ArgType::Str, "Accepted for compatibility: SELinux contexts are not managed."),
    ArgSpec::new("selevel", ArgType::Str, "Accepted for compatibility: SELinux contexts are not managed."),
    ArgSpec::new("attributes", ArgType::Str, "Not supported (chattr flags): a task that sets it fails before touching the host.").aliases(&["attr"]).unsupported(),
    ArgSpec::new("unsafe_writes", ArgType::Bool, "Accepted for compatibility; writes are always atomic.").default("no"),
];

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether row `j` of part `i` is kept: a row named in an earlier part overrides it (a
/// module's own `mode` row with its own default or wording wins over the shared one).
const fn kept(parts: &[&[ArgSpec]], i: usize, j: usize) -> bool {
    let mut p = 0;
    while p < i {
        let mut q = 0;
        while q < parts[p].len() {
            if same(parts[p][q].name, parts[i][j].name) {
                return false;
            }
            q += 1;
        }
        p += 1;
    }
    true
}

/// How many rows `parts` give together (the length of [`concat`]'s result).
pub const fn total(parts: &[&[ArgSpec]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            if kept(parts, i, j) {
                n += 1;
            }
            j += 1;
        }
        i += 1;
    }
    n
}

/// `parts` one after the other, at compile time, less the rows an earlier part already
/// names. `N` must be [`total`]`(parts)`; [`arg_table!`](crate::arg_table) works it out.
pub const fn concat<const N: usize>(parts: &[&[ArgSpec]]) -> [ArgSpec; N] {
    let mut out = [ArgSpec::new("", ArgType::Raw, ""); N];
    let (mut i, mut k) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            if kept(parts, i, j) {
                out[k] = parts[i][j];
                k += 1;
            }
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "arg_table: N is not the number of rows");
    out
}

/// A module's `&'static [ArgSpec]` table from its own rows followed by shared tables:
/// `arg_table![ArgSpec::new(..), ArgSpec::new(..); FILE_ATTRS]`. An own row overrides
/// the shared row of the same name.
#[macro_export]
macro_rules! arg_table {
    ($($row:expr),* $(,)? ; $($shared:expr),+ $(,)?) => {{
        const OWN: &[$crate::args::ArgSpec] = &[$($row),*];
        const PARTS: &[&[$crate::args::ArgSpec]] = &[OWN, $($shared),+];
        const N: usize = $crate::args::total(PARTS);
        const TABLE: [$crate::args::ArgSpec; N] = $crate::args::concat::<N>(PARTS);
        &TABLE
    }};
}

/// What is wrong with a module's arguments. `argument` names the offending one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgError {
    pub argument: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ArgError {
    fn new(argument: Option<&str>, message: String) -> Self {
        ArgError { argument: argument.map(str::to_string), message, hint: None }
    }
}

/// An argument as text: strings as they are, numbers and booleans written out, null
/// and absent as `None`.
pub fn text(args: &Args, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Ansible's truthy and falsy spellings.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().and_then(|i| match i {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "t" | "y" | "1.0" => Some(true),
            "no" | "off" | "0" | "false" | "f" | "n" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn convert(spec: &ArgSpec, v: Value) -> Result<Value, ArgError> {
    let wrong = |v: &Value| {
        ArgError::new(
            Some(spec.name),
            format!("argument `{}` is of type {} and we were unable to convert to {}", spec.name, type_name(v), spec.kind.name()),
        )
    };
    Ok(match spec.kind {
        ArgType::Raw => v,
        ArgType::Str | ArgType::Path => match v {
            Value::String(_) => v,
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(if b { "True" } else { "False" }.into()),
            Value::Null => Value::Null,
            other => return Err(wrong(&other)),
        },
        ArgType::Bool => match to_bool(&v) {
            Some(b) => Value::Bool(b),
            None => return Err(wrong(&v)),
        },
        ArgType::Int => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| wrong(&v))?,
            _ => return Err(wrong(&v)),
        },
        ArgType::List => match v {
            Value::Array(_) => v,
            Value::String(s) => Value::Array(
                s.split(',').map(|p| Value::String(p.trim().to_string())).filter(|p| p != "").collect(),
            ),
            Value::Null => Value::Array(vec![]),
            Value::Number(_) | Value::Bool(_) => Value::Array(vec![v]),
            other => return Err(wrong(&other)),
        },
        ArgType::Dict => match v {
            Value::Object(_) => v,
            Value::String(s) if s.trim_start().starts_with('{') => {
                serde_json::from_str(&s).map_err(|_| wrong(&Value::String(s.clone())))?
            }
            other => return Err(wrong(&other)),
        },
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn default_value(spec: &ArgSpec, text: &str) -> Value {
    let v = match text {
        "yes" | "true" => Value::Bool(true),
        "no" | "false" => Value::Bool(false),
        t => t.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(t.to_string())),
    };
    convert(spec, v.clone()).unwrap_or(v)
}

/// Check `args` against `specs`; return them normalized.
/// `internal` names (like `_raw_params`) are let through untouched.
pub fn validate(module: &str, specs: &[ArgSpec], args: &Args, internal: &[&str]) -> Result<Args, ArgError> {
    let mut out = Map::new();
    for (key, value) in args {
        if internal.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let Some(spec) = specs.iter().find(|s| s.name == key || s.aliases.contains(&key.as_str())) else {
            let names: Vec<&str> = specs.iter().flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied())).collect();
            let mut err = ArgError::new(Some(key), format!("unknown argument `{key}` for module `{module}`"));
            err.hint = Some(match closest(key, names.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("`{module}` takes: {}", specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")),
            });
            return Err(err);
        };
        if out.contains_key(spec.name) {
            return Err(ArgError::new(Some(key), format!("argument `{}` is given twice (as `{key}` and an alias)", spec.name)));
        }
        let value = convert(spec, value.clone())?;
        if spec.unsupported && !matches!(&value, Value::Null) && value != Value::String(String::new()) {
            let mut err = ArgError::new(Some(spec.name), format!("argument `{}` is not supported by provision's `{module}`", spec.name));
            err.hint = Some(format!("drop it, or use a command task for what `{}` does", spec.name));
            return Err(err);
        }
        if !spec.choices.is_empty() {
            let text = match &value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => if *b { "yes".into() } else { "no".into() },
                other => other.to_string(),
            };
            if !spec.choices.contains(&text.as_str()) {
                let mut err = ArgError::new(
                    Some(spec.name),
                    format!("value of `{}` must be one of: {}, got: {text}", spec.name, spec.choices.join(", ")),
                );
                err.hint = closest(&text, spec.choices.iter().copied()).map(|c| format!("did you mean `{c}`?"));
                return Err(err);
            }
        }
        out.insert(spec.name.to_string(), value);
    }
    for spec in specs {
        if out.contains_key(spec.name) {
            continue;
        }
        if spec.required {
            return Err(ArgError::new(Some(spec.name), format!("missing required argument `{}` for module `{module}`", spec.name)));
        }
        if let Some(d) = spec.default {
            out.insert(spec.name.to_string(), default_value(spec, d));
        }
    }
    Ok(out)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two
/// neighbouring characters (`pnig` → `ping` is 1), for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a typo of it.
pub fn closest<'a, I>(word: &str, names: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Ties go to a name that holds every letter of `word` in order: a dropped letter
    // (`taks` for `tasks`) is a likelier typo than a changed one (`tags`).
    let subsequence = |w: &str, n: &str| {
        let mut it = n.chars();
        w.chars().all(|c| it.any(|x| x == c))
    };
    let mut best: Option<(usize, bool, &str)> = None;
    for n in names {
        let d = edit_distance(word, n);
        let limit = (word.chars().count().max(n.chars().count()) / 3).max(1);
        let sub = subsequence(word, n);
        let better = match best {
            None => true,
            Some((bd, bsub, _)) => d < bd || (d == bd && sub && !bsub),
        };
        if d <= limit && better {
            best = Some((d, sub, n));
        }
    }
    best.map(|(_, _, n)| n)
}

/// Split `text` into words the way Ansible's `split_args` does: whitespace separates,
/// quotes group (and are removed from values), backslash escapes inside double quotes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => match chars.next() {
                Some(n @ ('"' | '\\')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in arguments: {text}"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parse Ansible's `key=value` free form. Words that are not `key=value`, and for a
/// free-form module (`raw_keys` given) any `key=value` whose key is not one of
/// `raw_keys`, stay in `_raw_params` exactly as written.
pub fn parse_kv(text: &str, raw_keys: Option<&[&str]>) -> Result<Args, String> {
    let mut out = Map::new();
    // Keep the raw text of words for `_raw_params`: re-split without unquoting.
    let raw_words = split_keep_quotes(text);
    let words = split_words(text)?;
    let mut raw: Vec<String> = Vec::new();
    for (word, raw_word) in words.iter().zip(raw_words.iter()) {
        let kv = word.split_once('=').filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match (kv, raw_keys) {
            (Some((k, v)), None) => {
                out.insert(k.to_string(), Value::String(v.to_string()));
            }
            (Some((k, v)), Some(keys)) if keys.contains(&k) => {
                out.insert(k.to_string(), Value::String(v.to_string()));
            }
            _ => raw.push(raw_word.clone()),
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::String(raw.join(" ")));
    }
    Ok(out)
}

/// Split on unquoted whitespace, keeping quotes and escapes as written.
fn split_keep_quotes(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                cur.push(c);
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[ArgSpec] = &[
        ArgSpec::new("name", ArgType::List, "packages").aliases(&["pkg"]).required(),
        ArgSpec::new("update_cache", ArgType::Bool, "refresh").default("no"),
        ArgSpec::new("state", ArgType::Str, "state").default("present").choices(&["present", "absent"]),
        ArgSpec::new("cache_valid_time", ArgType::Int, "seconds"),
    ];

    fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn normalizes_aliases_types_and_defaults() {
        let out = validate("apt", SPECS, &args(json!({"pkg": "a,b", "update_cache": "yes", "cache_valid_time": "3600"})), &[]).unwrap();
        assert_eq!(Value::Object(out), json!({"name": ["a", "b"], "update_cache": true, "cache_valid_time": 3600, "state": "present"}));
    }

    #[test]
    fn unknown_argument_suggests_the_closest() {
        let err = validate("apt", SPECS, &args(json!({"name": "x", "updte_cache": true})), &[]).unwrap_err();
        assert_eq!(err.message, "unknown argument `updte_cache` for module `apt`");
        assert_eq!(err.hint.as_deref(), Some("did you mean `update_cache`?"));
    }

    #[test]
    fn choices_required_and_types_are_checked() {
        let err = validate("apt", SPECS, &args(json!({"name": "x", "state": "presnt"})), &[]).unwrap_err();
        assert!(err.message.contains("must be one of: present, absent"), "{err}");
        assert_eq!(err.hint.as_deref(), Some("did you mean `present`?"));
        let err = validate("apt", SPECS, &args(json!({})), &[]).unwrap_err();
        assert_eq!(err.message, "missing required argument `name` for module `apt`");
        let err = validate("apt", SPECS, &args(json!({"name": "x", "update_cache": "maybe"})), &[]).unwrap_err();
        assert!(err.message.contains("unable to convert to bool"), "{err}");
    }

    #[test]
    fn swapped_letters_are_one_typo() {
        assert_eq!(edit_distance("pnig", "ping"), 1);
        assert_eq!(closest("prdo", ["prod", "dev"]), Some("prod"));
        assert_eq!(closest("zzzz", ["prod", "dev"]), None);
        assert_eq!(closest("taks", ["tags", "tasks"]), Some("tasks"));
    }

    const COMPOSED: &[ArgSpec] = crate::arg_table![ArgSpec::new("path", ArgType::Path, "p").required(); FILE_ATTRS];

    #[test]
    fn tables_compose_with_the_shared_file_rows() {
        assert_eq!(COMPOSED.len(), 1 + FILE_ATTRS.len());
        assert_eq!(COMPOSED[0].name, "path");
        assert_eq!(COMPOSED[1].name, "mode");
        let out = validate("x", COMPOSED, &args(json!({"path": "/a", "attr": "", "owner": 0})), &[]).unwrap();
        assert_eq!(Value::Object(out), json!({"path": "/a", "attributes": "", "owner": "0", "unsafe_writes": false}));
        let err = validate("x", COMPOSED, &args(json!({"path": "/a", "attr": "+i"})), &[]).unwrap_err();
        assert_eq!(err.message, "argument `attributes` is not supported by provision's `x`");
        const OVERRIDE: &[ArgSpec] = crate::arg_table![ArgSpec::new("mode", ArgType::Raw, "own"); FILE_ATTRS];
        assert_eq!(OVERRIDE.len(), FILE_ATTRS.len());
        assert_eq!(OVERRIDE.iter().filter(|a| a.name == "mode").map(|a| a.doc).collect::<Vec<_>>(), ["own"]);
    }

    #[test]
    fn kv_free_form() {
        assert_eq!(Value::Object(parse_kv("name=nginx update_cache=yes", None).unwrap()), json!({"name": "nginx", "update_cache": "yes"}));
        assert_eq!(Value::Object(parse_kv("msg='hello world' x=\"a \\\"b\\\"\"", None).unwrap()), json!({"msg": "hello world", "x": "a \"b\""}));
        let cmd = parse_kv("echo a=b 'c d' chdir=/tmp", Some(&["chdir", "creates"])).unwrap();
        assert_eq!(Value::Object(cmd), json!({"chdir": "/tmp", "_raw_params": "echo a=b 'c d'"}));
        assert!(parse_kv("echo 'open", None).is_err());
    }
}
