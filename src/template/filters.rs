//! Ansible's filters on scalars: types, strings, regular expressions, encodings, hashes, and
//! the odd ones (`ternary`, `comment`, `human_readable`, `random`, ...), plus the registration
//! of everything defined in [`super::paths`], [`super::serialize`] and [`super::dates`].
//! Filters on lists and dicts are in [`super::collections`].
//!
//! Every filter registered through [`add`] fails on an undefined input with an error that
//! names the variable, as Ansible's do; only `default`/`d` and `mandatory` accept undefined.

use base64::Engine as _;
use minijinja::functions::Function;
use minijinja::value::{FunctionArgs, FunctionResult, Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use regex::Regex;

use super::dates::strftime;
use super::paths::*;
use super::serialize::*;
use super::{crypt, pymethods, pyrandom::PyRandom, undefined_error, with_call};

/// Register a filter that fails on an undefined input.
pub(super) fn add<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: Function<Rv, Args>,
    Rv: FunctionResult,
    Args: for<'a> FunctionArgs<'a>,
{
    let callable = Value::from_function(f);
    let filter = move |state: &mut State<'_, '_>, args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        if let Some(first) = args.first() {
            if first.is_undefined() {
                return Err(undefined_error(first));
            }
        }
        let args: Vec<Value> = args.0.into_iter().map(Value::from).collect();
        callable.call(state, &args)
    };
    add_with_aliases(env, name, filter);
}

/// Register a filter under its name and its fully qualified names (`ansible.builtin.x`).
fn add_with_aliases<F>(env: &mut Environment<'static>, name: &'static str, filter: F)
where
    F: Fn(&mut State<'_, '_>, Rest<ValueOrKwargs>) -> Result<Value, Error> + Clone + Send + Sync + 'static,
{
    if !name.contains('.') {
        env.add_filter(format!("ansible.builtin.{name}"), filter.clone());
    }
    env.add_filter(name, filter);
}

/// Register a filter like [`add`] whose parameters after the input can also be given by
/// keyword (`human_readable(unit='K')`), as Python allows: keywords named in `params` are
/// moved to their position before the call.
pub(super) fn add_kw<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, params: &'static [&'static str], f: F)
where
    F: Function<Rv, Args>,
    Rv: FunctionResult,
    Args: for<'a> FunctionArgs<'a>,
{
    let callable = Value::from_function(f);
    let filter = move |state: &mut State<'_, '_>, args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        if let Some(first) = args.first() {
            if first.is_undefined() {
                return Err(undefined_error(first));
            }
        }
        let mut positional: Vec<Value> = Vec::new();
        let mut rest: Vec<(String, Value)> = Vec::new();
        for arg in args.0 {
            let arg = Value::from(arg);
            if arg.is_kwargs() {
                let kwargs = Kwargs::try_from(arg)?;
                for key in kwargs.args().map(str::to_string).collect::<Vec<_>>() {
                    let v: Value = kwargs.get(&key)?;
                    rest.push((key, v));
                }
            } else {
                positional.push(arg);
            }
        }
        let mut leftover = Vec::new();
        for (key, v) in rest {
            match params.iter().position(|p| *p == key) {
                Some(i) => {
                    while positional.len() < i + 2 {
                        positional.push(Value::UNDEFINED);
                    }
                    positional[i + 1] = v;
                }
                None => leftover.push((key, v)),
            }
        }
        while positional.last().is_some_and(Value::is_undefined) && positional.len() > 1 {
            positional.pop();
        }
        if !leftover.is_empty() {
            positional.push(Value::from(Kwargs::from_iter(leftover)));
        }
        callable.call(state, &positional)
    };
    add_with_aliases(env, name, filter);
}

pub(super) fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub(super) fn register(env: &mut Environment<'static>) {
    use minijinja::filters as builtin;
    // minijinja's own filters, made strict about undefined input.
    add(env, "upper", builtin::upper);
    add(env, "lower", builtin::lower);
    add(env, "title", builtin::title);
    add(env, "capitalize", builtin::capitalize);
    add_kw(env, "replace", &["old", "new", "count"], replace);
    add(env, "length", builtin::length);
    add(env, "count", builtin::length);
    add(env, "dictsort", builtin::dictsort);
    add(env, "items", builtin::items);
    add(env, "reverse", builtin::reverse);
    add(env, "trim", builtin::trim);
    add(env, "join", builtin::join);
    add(env, "lines", builtin::lines);
    add(env, "abs", builtin::abs);
    add(env, "attr", builtin::attr);
    add(env, "round", builtin::round);
    add(env, "first", builtin::first);
    add(env, "last", builtin::last);
    add(env, "sum", builtin::sum);
    add(env, "sort", builtin::sort);
    add(env, "list", builtin::list);
    add(env, "string", builtin::string);
    add(env, "slice", builtin::slice);
    add(env, "batch", builtin::batch);
    add(env, "indent", builtin::indent);
    add(env, "urlencode", builtin::urlencode);
    add(env, "map", builtin::map);
    add(env, "select", builtin::select);
    add(env, "selectattr", builtin::selectattr);
    add(env, "reject", builtin::reject);
    add(env, "rejectattr", builtin::rejectattr);
    add(env, "groupby", builtin::groupby);
    add(env, "chain", builtin::chain);
    add(env, "pprint", builtin::pprint);
    add(env, "format", builtin::format);

    for prefix in ["", "ansible.builtin."] {
        env.add_filter(format!("{prefix}default"), default);
        env.add_filter(format!("{prefix}d"), default);
        env.add_filter(format!("{prefix}mandatory"), mandatory);
        env.add_filter(format!("{prefix}type_debug"), type_debug);
    }

    add(env, "bool", to_bool);
    add(env, "int", to_int);
    add_kw(env, "float", &["default"], to_float);
    add_kw(env, "split", &["sep", "maxsplit"], split);
    add_kw(env, "ternary", &["true_val", "false_val", "none_val"], ternary);
    add(env, "regex_replace", regex_replace);
    add(env, "regex_search", regex_search);
    add(env, "regex_findall", regex_findall);
    add_kw(env, "regex_escape", &["re_type"], regex_escape);
    add(env, "to_json", to_json);
    add_kw(env, "tojson", &["indent"], tojson);
    add(env, "to_nice_json", to_nice_json);
    add(env, "from_json", from_json);
    add(env, "to_yaml", to_yaml);
    add(env, "to_nice_yaml", to_nice_yaml);
    add(env, "from_yaml", from_yaml);
    add(env, "from_yaml_all", from_yaml_all);
    add(env, "b64encode", b64encode);
    add(env, "b64decode", b64decode);
    add_kw(env, "hash", &["hashtype"], hash);
    add(env, "checksum", |v: Value| hash(v, Some("sha1".into())));
    add(env, "sha1", |v: Value| hash(v, Some("sha1".into())));
    add(env, "md5", |v: Value| hash(v, Some("md5".into())));
    add(env, "password_hash", password_hash);
    add_kw(env, "to_uuid", &["namespace"], to_uuid);
    add(env, "quote", quote);
    add(env, "comment", comment);
    add_kw(env, "human_readable", &["isbits", "unit"], human_readable);
    add_kw(env, "human_to_bytes", &["default_unit", "isbits"], human_to_bytes);
    add(env, "random", random);
    add(env, "shuffle", shuffle);
    add_kw(env, "log", &["base"], log);
    add_kw(env, "pow", &["y"], |x: f64, y: f64| x.powf(y));
    add_kw(env, "root", &["base"], |x: f64, base: Option<f64>| match base {
        None | Some(2.0) => x.sqrt(),
        Some(b) => x.powf(1.0 / b),
    });
    add(env, "basename", |p: String| basename(&p).to_string());
    add(env, "dirname", |p: String| dirname(&p).to_string());
    add(env, "expanduser", |p: String| expanduser(&p));
    add(env, "expandvars", |p: String| expandvars(&p));
    add(env, "realpath", |p: String| realpath(&p));
    add_kw(env, "relpath", &["start"], relpath);
    add(env, "splitext", splitext);
    add(env, "normpath", |p: String| normpath(&p));
    add(env, "path_join", path_join);
    add(env, "commonpath", commonpath);
    add(env, "win_basename", |p: String| p.rsplit(['\\', '/']).next().unwrap_or_default().to_string());
    add(env, "win_dirname", |p: String| match p.rfind(['\\', '/']) {
        Some(i) => p[..i].to_string(),
        None => String::new(),
    });
    add(env, "fileglob", fileglob);
    add_kw(env, "urlsplit", &["query"], urlsplit);
    add(env, "urldecode", |s: String| percent_decode(&s));
    add(env, "strftime", strftime);
    add_kw(env, "extract", &["container", "morekeys"], extract);
}

// ---------------------------------------------------------------------------------------------
// default, mandatory, type_debug

/// `default(value, default='', boolean=False)`: Ansible's, which only replaces undefined
/// (or anything falsy with `boolean=True`).
fn default(value: &Value, fallback: Option<Value>, boolean: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fallback = match kwargs.get::<Option<Value>>("default_value")? {
        Some(v) => v,
        None => fallback.unwrap_or_else(|| Value::from("")),
    };
    let boolean = match kwargs.get::<Option<bool>>("boolean")? {
        Some(b) => b,
        None => boolean.is_some_and(|b| b.is_true()),
    };
    kwargs.assert_all_used()?;
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(fallback)
    } else {
        Ok(value.clone())
    }
}

fn mandatory(value: &Value, msg: Option<String>) -> Result<Value, Error> {
    if value.is_undefined() {
        if let Some(msg) = msg {
            return Err(fail(msg));
        }
        with_call(|c| c.mandatory.set(true));
        return Err(undefined_error(value));
    }
    Ok(value.clone())
}

fn type_debug(value: &Value) -> String {
    super::python_type(value).to_string()
}

// ---------------------------------------------------------------------------------------------
// Types

/// Python's `str()` of a value.
pub(super) fn py_str(v: &Value) -> String {
    if v.is_none() {
        "None".to_string()
    } else {
        v.to_string()
    }
}

/// Python's `repr()` of a value.
pub(super) fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v.kind() {
        ValueKind::String => out.push_str(&format!("{v:?}")),
        ValueKind::None => out.push_str("None"),
        ValueKind::Undefined => {}
        ValueKind::Number if !v.is_integer() => out.push_str(&py_float_repr(f64::try_from(v.clone()).unwrap_or(f64::NAN))),
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = v.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut n = 0;
            for (i, item) in v.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &item);
                n += 1;
            }
            if tuple && n == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in v.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &key);
                out.push_str(": ");
                write_repr(out, &v.get_item(&key).unwrap_or_default());
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

/// How Ansible prints a value into a string: Python's `str()`, except that `None` prints
/// as nothing.
pub(super) fn py_print(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Number if !v.is_integer() => py_float_repr(f64::try_from(v.clone()).unwrap_or(f64::NAN)),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => py_repr(v),
        _ => v.to_string(),
    }
}

/// Ansible's `bool` filter.
pub(super) fn to_bool(value: Value) -> bool {
    let text = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_lowercase(),
        ValueKind::Bool | ValueKind::Number if value.is_integer() || value.kind() == ValueKind::Bool => {
            py_str(&value).to_lowercase()
        }
        ValueKind::Number => return f64::try_from(value).is_ok_and(|f| f == 1.0),
        _ => return false,
    };
    matches!(text.as_str(), "yes" | "on" | "true" | "1")
}

/// Jinja's `int(default=0, base=10)`: Python `int()`, then `int(float())`, then the default.
fn to_int(value: Value, default: Option<Value>, base: Option<u32>, kwargs: Kwargs) -> Result<Value, Error> {
    let default = kwargs.get::<Option<Value>>("default")?.or(default).unwrap_or(Value::from(0));
    let base = kwargs.get::<Option<u32>>("base")?.or(base).unwrap_or(10);
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number if value.is_integer() => value,
        ValueKind::Number => match f64::try_from(value) {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => default,
        },
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            match parse_py_int(s, base) {
                Some(i) => Value::from(i),
                None => match parse_py_float(s) {
                    Some(f) if f.is_finite() => Value::from(f.trunc() as i64),
                    _ => default,
                },
            }
        }
        _ => default,
    })
}

/// Python's `int(s, base)`: whitespace, sign, underscores, and `0x`/`0o`/`0b` prefixes that
/// match the base (or any with base 0).
pub(super) fn parse_py_int(s: &str, base: u32) -> Option<i64> {
    let s = s.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &digits[2..]),
        (8 | 0, Some("0o")) => (8, &digits[2..]),
        (2 | 0, Some("0b")) => (2, &digits[2..]),
        (0, _) => (10, digits),
        (b, _) => (b, digits),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n = i64::from_str_radix(&clean, base).ok()?;
    Some(if negative { -n } else { n })
}

/// Python's `float(s)`.
pub(super) fn parse_py_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse::<f64>().ok().or(Some(if lower.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }));
    }
    if s.is_empty() || s.contains("__") || s.starts_with('_') || s.ends_with('_') {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
        return None;
    }
    clean.parse::<f64>().ok()
}

fn to_float(value: Value, default: Option<Value>) -> Value {
    let default = default.unwrap_or(Value::from(0.0));
    match value.kind() {
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value).map(Value::from).unwrap_or(default),
        ValueKind::String => parse_py_float(value.as_str().unwrap_or_default()).map(Value::from).unwrap_or(default),
        _ => default,
    }
}

/// `split(sep=None, maxsplit=-1)`: Python's `str.split`.
fn split(value: Value, sep: Option<Value>, maxsplit: Option<i64>) -> Result<Value, Error> {
    let s = py_str(&value);
    let sep = sep.filter(|v| !v.is_none()).map(|v| py_str(&v));
    Ok(Value::from(pymethods::py_split(&s, sep.as_deref(), maxsplit.unwrap_or(-1), false)?))
}

/// `replace(old, new, count=None)`: Python's `str.replace`.
fn replace(value: Value, old: String, new: String, count: Option<i64>) -> String {
    let s = py_str(&value);
    match count {
        Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
        _ => s.replace(&old, &new),
    }
}

fn ternary(value: Value, true_val: Value, false_val: Value, none_val: Option<Value>) -> Value {
    match none_val {
        Some(n) if value.is_none() && !n.is_none() => n,
        _ if value.is_true() => true_val,
        _ => false_val,
    }
}

// ---------------------------------------------------------------------------------------------
// Regular expressions (Python `re` syntax, translated to the `regex` crate)

/// Compile a Python pattern with `re.I` / `re.M` flags (cached: loops apply the same
/// pattern to every item).
pub(super) fn py_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type Cache = Mutex<HashMap<(String, bool, bool), Regex>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (pattern.to_string(), ignorecase, multiline);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(re);
    }
    let re = compile_py_regex(pattern, ignorecase, multiline)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 512 {
            c.clear();
        }
        c.insert(key, re.clone());
    }
    Ok(re)
}

fn compile_py_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    let mut translated = String::with_capacity(pattern.len() + 8);
    if ignorecase {
        translated.push_str("(?i)");
    }
    if multiline {
        translated.push_str("(?m)");
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => translated.push_str(r"\z"),
                Some(other) => {
                    translated.push('\\');
                    translated.push(other);
                }
                None => translated.push('\\'),
            }
        } else {
            translated.push(c);
        }
    }
    Regex::new(&translated).map_err(|e| fail(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Python's replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`) in the `regex` crate's
/// syntax (`${1}`, `${name}`, `$$`).
pub(super) fn py_replacement(repl: &str) -> String {
    let mut out = String::with_capacity(repl.len() + 8);
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut num = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        if num.len() == 2 {
                            break;
                        }
                        num.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{num}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('r') => {
                    chars.next();
                    out.push('\r');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    Ok((ignorecase, multiline))
}

/// `regex_replace(pattern, replacement, ignorecase, multiline, count, mandatory_count)`.
fn regex_replace(value: Value, pattern: Option<String>, replacement: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let value = py_str(&value);
    let pattern = kwargs.get::<Option<String>>("pattern")?.or(pattern).unwrap_or_default();
    let replacement = kwargs.get::<Option<String>>("replacement")?.or(replacement).unwrap_or_default();
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory_count = kwargs.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let re = py_regex(&pattern, ignorecase, multiline)?;
    let repl = py_replacement(&replacement);
    let subs = re.find_iter(&value).count();
    let subs = if count > 0 { subs.min(count) } else { subs };
    if mandatory_count > 0 && mandatory_count != subs {
        return Err(fail(format!("'{pattern}' should match {mandatory_count} times, but matches {subs} times in '{value}'")));
    }
    Ok(re.replacen(&value, count, repl.as_str()).into_owned())
}

/// `regex_search(regex, '\\1', '\\g<name>', ignorecase=, multiline=)`.
fn regex_search(value: Value, regex: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let value = py_str(&value);
    let mut groups = Vec::new();
    let mut ignorecase = false;
    let mut multiline = false;
    for arg in args.iter() {
        if arg.is_kwargs() {
            let kwargs = Kwargs::try_from(Value::from(arg.clone()))?;
            (ignorecase, multiline) = regex_flags(&kwargs)?;
            kwargs.assert_all_used()?;
            continue;
        }
        let a = py_str(&Value::from(arg.clone()));
        if let Some(name) = a.strip_prefix("\\g<").and_then(|r| r.strip_suffix('>')) {
            groups.push(name.to_string());
        } else if let Some(num) = a.strip_prefix('\\').filter(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty()) {
            groups.push(num.to_string());
        } else {
            return Err(fail("Unknown argument"));
        }
    }
    let re = py_regex(&regex, ignorecase, multiline)?;
    let Some(caps) = re.captures(&value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in groups {
        let m = match g.parse::<usize>() {
            Ok(n) => caps.get(n),
            Err(_) => caps.name(&g),
        };
        out.push(m.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// `regex_findall(regex, multiline, ignorecase)`: Python's `re.findall`.
fn regex_findall(value: Value, regex: String, multiline: Option<bool>, ignorecase: Option<bool>, kwargs: Kwargs) -> Result<Value, Error> {
    let value = py_str(&value);
    let (i2, m2) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = py_regex(&regex, ignorecase.unwrap_or(false) || i2, multiline.unwrap_or(false) || m2)?;
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_iter(&value) {
        let group = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
        out.push(match groups {
            0 => group(0),
            1 => group(1),
            n => Value::from((1..=n).map(group).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// `regex_escape(re_type='python')`.
fn regex_escape(value: Value, re_type: Option<String>) -> Result<String, Error> {
    let s = py_str(&value);
    match re_type.as_deref().unwrap_or("python") {
        // Python's re.escape escapes everything but ASCII letters, digits and `_`.
        "python" => Ok(s
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() { c.to_string() } else { format!("\\{c}") })
            .collect()),
        "posix_basic" => Ok(s
            .chars()
            .map(|c| if "].[^$*\\".contains(c) { format!("\\{c}") } else { c.to_string() })
            .collect()),
        "posix_extended" => Err(fail("Regex type (posix_extended) not yet implemented")),
        other => Err(fail(format!("Invalid regex type ({other})"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Encodings and hashes

fn b64encode(value: Value, encoding: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let _ = encoding.or(kwargs.get::<Option<String>>("encoding")?);
    let urlsafe = kwargs.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let data = py_str(&value);
    Ok(if urlsafe {
        base64::engine::general_purpose::URL_SAFE.encode(data.as_bytes())
    } else {
        base64::engine::general_purpose::STANDARD.encode(data.as_bytes())
    })
}

fn b64decode(value: Value, encoding: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let _ = encoding.or(kwargs.get::<Option<String>>("encoding")?);
    let urlsafe = kwargs.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let data: String = py_str(&value).chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = if urlsafe {
        base64::engine::general_purpose::URL_SAFE.decode(data.as_bytes())
    } else {
        base64::engine::general_purpose::STANDARD.decode(data.as_bytes())
    }
    .map_err(|e| fail(format!("b64decode: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn hash(value: Value, algorithm: Option<String>) -> Result<String, Error> {
    crypt::hexdigest(algorithm.as_deref().unwrap_or("sha1"), py_str(&value).as_bytes()).map_err(fail)
}

fn password_hash(value: Value, hashtype: Option<String>, salt: Option<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let hashtype = kwargs.get::<Option<String>>("hashtype")?.or(hashtype).unwrap_or_else(|| "sha512".to_string());
    let salt = kwargs.get::<Option<Value>>("salt")?.or(salt).filter(|s| !s.is_none()).map(|s| py_str(&s));
    let salt_size = kwargs.get::<Option<usize>>("salt_size")?;
    let rounds = kwargs.get::<Option<u32>>("rounds")?;
    let _ = kwargs.get::<Option<Value>>("ident")?;
    kwargs.assert_all_used()?;
    crypt::password_hash(&py_str(&value), &hashtype, salt.as_deref(), salt_size, rounds)
        .map_err(|e| fail(format!("Could not hash the secret: {e}")))
}

fn to_uuid(value: Value, namespace: Option<String>) -> Result<String, Error> {
    let ns = namespace.unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".to_string());
    crypt::uuid5(&ns, &py_str(&value)).map_err(fail)
}

/// `quote`: POSIX shell quoting like Python's `shlex.quote`.
pub(super) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn quote(value: Value) -> String {
    if value.is_none() {
        return "''".to_string();
    }
    shell_quote(&py_str(&value))
}

// ---------------------------------------------------------------------------------------------
// Text helpers

pub(super) fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_alpha = false;
    for c in s.chars() {
        if prev_alpha {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_alpha = c.is_alphabetic();
    }
    out
}

pub(super) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

/// `comment(style='plain', decoration=, prefix=, postfix=, beginning=, end=, ...)`.
fn comment(value: Value, style: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let text = py_str(&value);
    let style = style.unwrap_or_else(|| "plain".to_string());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(fail(format!("Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"))),
    };
    let get = |k: &str| kwargs.get::<Option<Value>>(k);
    let prepostfix = get("decoration")?.map(|v| py_str(&v)).unwrap_or_else(|| decoration.to_string());
    let newline = get("newline")?.map(|v| py_str(&v)).unwrap_or_else(|| "\n".to_string());
    let beginning = get("beginning")?.map(|v| py_str(&v)).unwrap_or_else(|| beginning.to_string());
    let prefix = get("prefix")?.map(|v| py_str(&v)).unwrap_or_else(|| prepostfix.trim_end().to_string());
    let prefix_count = get("prefix_count")?.and_then(|v| usize::try_from(v).ok()).unwrap_or(1);
    let decoration = get("decoration")?.map(|v| py_str(&v)).unwrap_or_else(|| decoration.to_string());
    let postfix = get("postfix")?.map(|v| py_str(&v)).unwrap_or_else(|| prepostfix.trim_end().to_string());
    let postfix_count = get("postfix_count")?.and_then(|v| usize::try_from(v).ok()).unwrap_or(1);
    let end = get("end")?.map(|v| py_str(&v)).unwrap_or_else(|| end.to_string());
    kwargs.assert_all_used()?;

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        if prefix != newline {
            out.push_str(&format!("{prefix}{newline}").repeat(prefix_count));
        } else {
            out.push_str(&newline.repeat(prefix_count));
        }
    }
    let body = format!("{decoration}{}", text.replace(&newline, &format!("{newline}{decoration}")));
    out.push_str(&body.replace(&format!("{decoration}{newline}"), &format!("{}{newline}", decoration.trim_end())));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// `human_readable(isbits=False, unit=None)`: Ansible's `bytes_to_human`.
fn human_readable(value: Value, isbits: Option<bool>, unit: Option<String>) -> Result<String, Error> {
    let size = f64::try_from(value).map_err(|_| fail("human_readable() failed on bad input"))?;
    let isbits = isbits.unwrap_or(false);
    let (base, suffix) = if isbits { ("bits", "b") } else { ("Bytes", "B") };
    const UNITS: [(&str, u32); 9] = [("Y", 80), ("Z", 70), ("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10), ("B", 0)];
    let (unit_char, power) = match unit.as_deref().and_then(|u| u.chars().next()) {
        Some(u) => UNITS
            .iter()
            .find(|(c, _)| c.starts_with(u.to_ascii_uppercase()))
            .map(|(c, p)| (*c, *p))
            .unwrap_or(("B", 0)),
        None => UNITS.iter().find(|(_, p)| size >= 2f64.powi(*p as i32)).map(|(c, p)| (*c, *p)).unwrap_or(("B", 0)),
    };
    let limit = 2f64.powi(power as i32);
    if limit == 1.0 {
        return Ok(format!("{size:.2} {base}"));
    }
    Ok(format!("{:.2} {unit_char}{suffix}", size / limit))
}

/// `human_to_bytes(default_unit=None, isbits=False)`: `'10 MB'` → 10485760.
fn human_to_bytes(value: Value, default_unit: Option<String>, isbits: Option<bool>) -> Result<i64, Error> {
    let text = py_str(&value);
    let isbits = isbits.unwrap_or(false);
    let bad = || fail(format!("human_to_bytes() can't interpret a valid unit for {text}"));
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let number: f64 = trimmed[..split].trim().parse().map_err(|_| fail(format!("human_to_bytes() can't interpret following string: {text}")))?;
    let unit_text = trimmed[split..].trim();
    let unit_text = if unit_text.is_empty() { default_unit.unwrap_or_default() } else { unit_text.to_string() };
    if unit_text.is_empty() {
        return Ok(number.round() as i64);
    }
    let mut chars = unit_text.chars();
    let prefix = chars.next().ok_or_else(bad)?.to_ascii_uppercase();
    let rest: String = chars.collect();
    let power = match prefix {
        'B' if rest.is_empty() && !isbits => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        'P' => 50,
        'E' => 60,
        'Z' => 70,
        'Y' => 80,
        'B' if isbits && rest.is_empty() => return Err(bad()),
        _ => return Err(bad()),
    };
    if power > 0 {
        let ok = if isbits {
            rest == "b" || rest == "bit" || rest.is_empty() || rest == "ib"
        } else {
            rest.is_empty() || rest == "B" || rest == "iB" || rest == "byte" || rest == "Byte"
        };
        if !ok {
            return Err(bad());
        }
    }
    Ok((number * 2f64.powi(power)).round() as i64)
}

/// `random(start=None, step=None, seed=None)`: a number below the input, or an element.
fn random(value: Value, start: Option<i64>, step: Option<i64>, kwargs: Kwargs) -> Result<Value, Error> {
    let start = kwargs.get::<Option<i64>>("start")?.or(start);
    let step = kwargs.get::<Option<i64>>("step")?.or(step);
    let seed = kwargs.get::<Option<Value>>("seed")?;
    kwargs.assert_all_used()?;
    let mut rng = seeded(seed.as_ref());
    if value.is_integer() {
        let end = i64::try_from(value)?;
        let start = start.unwrap_or(0);
        let step = step.filter(|s| *s != 0).unwrap_or(1);
        let n = match rng.as_mut() {
            Some(r) => r.randrange(start, end, step),
            None => {
                let width = end - start;
                let count = if step > 0 && width > 0 { (width + step - 1) / step } else { 0 };
                if count <= 0 {
                    None
                } else {
                    Some(start + step * crypt::system_random_below(count as usize).map_err(fail)? as i64)
                }
            }
        };
        return n.map(Value::from).ok_or_else(|| fail(format!("empty range for randrange({start}, {end}, {step})")));
    }
    if start.is_some() || step.is_some() {
        return Err(fail("start and step can only be used with integer values"));
    }
    let items: Vec<Value> = value.try_iter().map_err(|_| fail("random can only be used on sequences and integers"))?.collect();
    if items.is_empty() {
        return Err(fail("Cannot choose from an empty sequence"));
    }
    let i = match rng.as_mut() {
        Some(r) => r.below(items.len() as u64) as usize,
        None => crypt::system_random_below(items.len()).map_err(fail)?,
    };
    Ok(items[i].clone())
}

/// A seeded Python `Random`, or `None` for the system source.
fn seeded(seed: Option<&Value>) -> Option<PyRandom> {
    let seed = seed.filter(|s| !s.is_none() && !s.is_undefined())?;
    Some(if seed.is_integer() {
        PyRandom::from_int(i128::try_from(seed.clone()).unwrap_or(0))
    } else {
        PyRandom::from_str(&py_str(seed))
    })
}

fn shuffle(value: Value, seed: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let seed = kwargs.get::<Option<Value>>("seed")?.or(seed);
    kwargs.assert_all_used()?;
    let Ok(iter) = value.try_iter() else {
        return Ok(value);
    };
    let mut items: Vec<Value> = iter.collect();
    match seeded(seed.as_ref()).filter(|_| seed.as_ref().is_some_and(Value::is_true)) {
        Some(mut r) => r.shuffle(&mut items),
        None => {
            for i in (1..items.len()).rev() {
                let j = crypt::system_random_below(i + 1).map_err(fail)?;
                items.swap(i, j);
            }
        }
    }
    Ok(Value::from(items))
}

fn log(x: f64, base: Option<f64>) -> f64 {
    match base {
        None => x.ln(),
        Some(10.0) => x.log10(),
        Some(b) => x.ln() / b.ln(),
    }
}

/// `extract(container, morekeys=None)`: `container[item]`, then deeper keys.
fn extract(item: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut keys = vec![item];
    match morekeys {
        Some(m) if m.kind() == ValueKind::Seq => keys.extend(m.try_iter()?),
        Some(m) if !m.is_none() => keys.push(m),
        _ => {}
    }
    let mut value = container;
    for key in keys {
        value = match super::get_item(&value, &key) {
            Some(v) => v,
            None => return Ok(Value::UNDEFINED),
        };
    }
    Ok(value)
}

/// Python's `repr()` of a float: shortest round-trip digits, scientific notation below 1e-4
/// and from 1e16 (`1e+16`, `1.5e-05`).
pub(super) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".to_string() } else { "-inf".to_string() };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}
