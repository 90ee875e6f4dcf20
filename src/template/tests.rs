//! Ansible's Jinja tests (`x is ...`): task results (`failed`, `changed`, `skipped`, ...),
//! regular expressions (`match`, `search`, `regex`), `version`, set relations (`subset`,
//! `superset`, `contains`), `truthy`/`falsy`, `any`/`all`, `nan`, `vault_encrypted`, and
//! controller-side paths (`file`, `directory`, `exists`, `link`, `abs`, `same_file`, `mount`).
//! minijinja's own tests (`defined`, `none`, `string`, `number`, `mapping`, `in`, ...) stay.

use std::cmp::Ordering;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, Value};

use super::filters::{fail, py_regex, py_str, to_bool};

pub(super) fn register(env: &mut Environment<'static>) {
    register_tests(env);
    // minijinja's own tests under their qualified names too.
    type Check = fn(&Value) -> bool;
    let builtin: [(&str, Check); 8] = [
        ("defined", |v| !v.is_undefined()),
        ("undefined", |v| v.is_undefined()),
        ("none", |v| v.is_none()),
        ("string", |v| v.kind() == ValueKind::String),
        ("number", |v| v.is_number()),
        ("mapping", |v| v.kind() == ValueKind::Map),
        ("iterable", |v| v.try_iter().is_ok()),
        ("boolean", |v| v.kind() == ValueKind::Bool),
    ];
    for (name, f) in builtin {
        env.add_test(format!("ansible.builtin.{name}"), move |v: &Value| f(v));
    }
}

fn register_tests(env: &mut Environment<'static>) {
    let mut env = Aliasing(env);
    let env = &mut env;
    env.add_test("failed", |r: Value| -> Result<bool, Error> { Ok(field(&r, "failed", "failed")?.is_true()) });
    env.add_test("failure", |r: Value| -> Result<bool, Error> { Ok(field(&r, "failed", "failure")?.is_true()) });
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, move |r: Value| -> Result<bool, Error> { Ok(!field(&r, "failed", name)?.is_true()) });
    }
    env.add_test("unreachable", |r: Value| -> Result<bool, Error> { Ok(field(&r, "unreachable", "unreachable")?.is_true()) });
    env.add_test("reachable", |r: Value| -> Result<bool, Error> { Ok(!field(&r, "unreachable", "reachable")?.is_true()) });
    env.add_test("changed", changed);
    env.add_test("change", changed);
    env.add_test("skipped", |r: Value| -> Result<bool, Error> { Ok(field(&r, "skipped", "skipped")?.is_true()) });
    env.add_test("skip", |r: Value| -> Result<bool, Error> { Ok(field(&r, "skipped", "skip")?.is_true()) });
    env.add_test("finished", |r: Value| -> Result<bool, Error> { async_state(&r, "finished") });
    env.add_test("started", |r: Value| -> Result<bool, Error> { async_state(&r, "started") });
    env.add_test("timedout", |r: Value| -> Result<bool, Error> {
        let t = field(&r, "timedout", "timedout")?;
        Ok(t.is_true() && t.get_attr("period").is_ok_and(|p| p.is_true()))
    });

    env.add_test("match", |v: Value, pattern: String, kwargs: Kwargs| regex_test(v, pattern, kwargs, "match"));
    env.add_test("search", |v: Value, pattern: String, kwargs: Kwargs| regex_test(v, pattern, kwargs, "search"));
    env.add_test("regex", |v: Value, pattern: String, kwargs: Kwargs| regex_test(v, pattern, kwargs, "regex"));

    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);

    env.add_test("subset", subset);
    env.add_test("issubset", subset);
    env.add_test("superset", |a: Value, b: Value| subset(b, a));
    env.add_test("issuperset", |a: Value, b: Value| subset(b, a));
    env.add_test("contains", |seq: Value, v: Value| -> Result<bool, Error> { contains(&seq, &v) });

    env.add_test("truthy", |v: Value, convert_bool: Option<bool>, kwargs: Kwargs| -> Result<bool, Error> {
        let convert_bool = kwargs.get::<Option<bool>>("convert_bool")?.or(convert_bool);
        kwargs.assert_all_used()?;
        Ok(truthy(v, convert_bool))
    });
    env.add_test("falsy", |v: Value, convert_bool: Option<bool>, kwargs: Kwargs| -> Result<bool, Error> {
        let convert_bool = kwargs.get::<Option<bool>>("convert_bool")?.or(convert_bool);
        kwargs.assert_all_used()?;
        Ok(!truthy(v, convert_bool))
    });
    // Jinja's: anything with a length and items (strings and dicts too).
    env.add_test("sequence", |v: Value| matches!(v.kind(), ValueKind::Seq | ValueKind::String | ValueKind::Map));
    env.add_test("any", |v: Value| -> Result<bool, Error> { Ok(v.try_iter()?.any(|x| x.is_true())) });
    env.add_test("all", |v: Value| -> Result<bool, Error> { Ok(v.try_iter()?.all(|x| x.is_true())) });
    env.add_test("nan", |v: Value| f64::try_from(v).is_ok_and(f64::is_nan));
    env.add_test("isnan", |v: Value| f64::try_from(v).is_ok_and(f64::is_nan));
    // A vaulted variable reaches templates decrypted: its plaintext is recognised.
    env.add_test("vault_encrypted", |v: Value| {
        (v.kind() == ValueKind::Map && v.get_attr("__ansible_vault").is_ok_and(|x| !x.is_undefined()))
            || v.as_str().is_some_and(crate::vault::is_decrypted_value)
    });
    env.add_test("vaulted_file", |p: String| {
        std::fs::read_to_string(p).is_ok_and(|t| t.starts_with("$ANSIBLE_VAULT;"))
    });

    env.add_test("file", |p: String| Path::new(&p).is_file());
    env.add_test("is_file", |p: String| Path::new(&p).is_file());
    env.add_test("directory", |p: String| Path::new(&p).is_dir());
    env.add_test("is_dir", |p: String| Path::new(&p).is_dir());
    env.add_test("link", |p: String| Path::new(&p).is_symlink());
    env.add_test("is_link", |p: String| Path::new(&p).is_symlink());
    env.add_test("exists", |p: String| Path::new(&p).exists());
    env.add_test("link_exists", |p: String| std::fs::symlink_metadata(p).is_ok());
    env.add_test("abs", |p: String| p.starts_with('/'));
    env.add_test("is_abs", |p: String| p.starts_with('/'));
    env.add_test("same_file", same_file);
    env.add_test("is_same_file", same_file);
    env.add_test("mount", |p: String| is_mount(&p));
    env.add_test("is_mount", |p: String| is_mount(&p));
}

/// Registers each test under its name and `ansible.builtin.<name>`.
struct Aliasing<'e>(&'e mut Environment<'static>);

impl Aliasing<'_> {
    fn add_test<F, Rv, Args>(&mut self, name: &'static str, f: F)
    where
        F: minijinja::functions::Function<Rv, Args> + Clone,
        Rv: minijinja::value::FunctionResult,
        Args: for<'a> minijinja::value::FunctionArgs<'a>,
    {
        self.0.add_test(format!("ansible.builtin.{name}"), f.clone());
        self.0.add_test(name, f);
    }
}

/// `result.get(key)` of a task result, which must be a dict.
fn field(result: &Value, key: &str, test: &str) -> Result<Value, Error> {
    if result.kind() != ValueKind::Map {
        return Err(fail(format!("The '{test}' test expects a dictionary")));
    }
    Ok(result.get_attr(key).ok().filter(|v| !v.is_undefined()).unwrap_or(Value::from(false)))
}

/// `changed`: the `changed` key, or any changed item of a loop's `results`.
fn changed(result: Value) -> Result<bool, Error> {
    if result.kind() != ValueKind::Map {
        return Err(fail("The 'changed' test expects a dictionary"));
    }
    if let Some(c) = result.get_attr("changed").ok().filter(|v| !v.is_undefined()) {
        return Ok(c.is_true());
    }
    let results = result.get_attr("results").unwrap_or(Value::UNDEFINED);
    if results.kind() == ValueKind::Seq {
        for r in results.try_iter()? {
            if r.kind() == ValueKind::Map && r.get_attr("changed").is_ok_and(|c| c.is_true()) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn async_state(result: &Value, key: &str) -> Result<bool, Error> {
    if result.kind() != ValueKind::Map {
        return Err(fail(format!("The '{key}' test expects a dictionary")));
    }
    Ok(match result.get_attr(key).ok().filter(|v| !v.is_undefined()) {
        Some(v) => v.is_true(),
        // Not an async task: Ansible warns and answers as if it had.
        None => true,
    })
}

fn regex_test(value: Value, pattern: String, kwargs: Kwargs, test: &str) -> Result<bool, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let match_type = kwargs.get::<Option<String>>("match_type")?;
    kwargs.assert_all_used()?;
    let text = py_str(&value);
    let how = match test {
        "regex" => match_type.unwrap_or_else(|| "search".into()),
        other => other.to_string(),
    };
    let re = match how.as_str() {
        "match" => py_regex(&format!(r"\A(?:{pattern})"), ignorecase, multiline)?,
        "fullmatch" => py_regex(&format!(r"\A(?:{pattern})\z"), ignorecase, multiline)?,
        _ => py_regex(&pattern, ignorecase, multiline)?,
    };
    Ok(re.is_match(&text))
}

fn contains(seq: &Value, v: &Value) -> Result<bool, Error> {
    match seq.kind() {
        ValueKind::String => Ok(seq.as_str().unwrap_or_default().contains(&py_str(v))),
        ValueKind::Map => Ok(super::get_item(seq, v).is_some_and(|x| !x.is_undefined())),
        _ => Ok(seq.try_iter()?.any(|x| x == *v)),
    }
}

fn subset(a: Value, b: Value) -> Result<bool, Error> {
    let b_items: Vec<Value> = b.try_iter()?.collect();
    let mut ok = true;
    for x in a.try_iter()? {
        if !b_items.contains(&x) {
            ok = false;
            break;
        }
    }
    Ok(ok)
}

fn truthy(value: Value, convert_bool: Option<bool>) -> bool {
    if convert_bool.unwrap_or(false) {
        let text = py_str(&value).to_lowercase();
        if matches!(text.as_str(), "yes" | "on" | "1" | "true" | "y" | "t" | "1.0") {
            return true;
        }
        if matches!(text.as_str(), "no" | "off" | "0" | "false" | "n" | "f" | "0.0") {
            return false;
        }
        if value.kind() == ValueKind::String || value.is_number() {
            return to_bool(value);
        }
    }
    value.is_true()
}

fn same_file(a: String, b: String) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn is_mount(p: &str) -> bool {
    let path = Path::new(p);
    let (Ok(me), Ok(parent)) = (std::fs::symlink_metadata(path), std::fs::metadata(path.join(".."))) else {
        return false;
    };
    if me.file_type().is_symlink() {
        return false;
    }
    me.dev() != parent.dev() || me.ino() == parent.ino()
}

// ---------------------------------------------------------------------------------------------
// Versions

/// `version(other, operator='eq', strict=None, version_type=None)`.
fn version_test(value: Value, version: Value, operator: Option<String>, kwargs: Kwargs) -> Result<bool, Error> {
    let operator = kwargs.get::<Option<String>>("operator")?.or(operator).unwrap_or_else(|| "eq".into());
    let strict = kwargs.get::<Option<bool>>("strict")?;
    let version_type = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    if strict.is_some() && version_type.is_some() {
        return Err(fail("Cannot specify both 'strict' and 'version_type'"));
    }
    let (a, b) = (py_str(&value), py_str(&version));
    if a.is_empty() || value.is_none() {
        return Err(fail("Input version value cannot be empty"));
    }
    if b.is_empty() || version.is_none() {
        return Err(fail("Version parameter to compare against cannot be empty"));
    }
    let kind = if strict == Some(true) { "strict".to_string() } else { version_type.unwrap_or_else(|| "loose".into()) };
    let op = match operator.as_str() {
        "==" | "=" | "eq" => "eq",
        "<" | "lt" => "lt",
        "<=" | "le" => "le",
        ">" | "gt" => "gt",
        ">=" | "ge" => "ge",
        "!=" | "<>" | "ne" => "ne",
        other => {
            return Err(fail(format!(
                "Invalid operator type ({other}). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
            )))
        }
    };
    let ordering = match kind.as_str() {
        "loose" => loose_cmp(&a, &b, op),
        "strict" => strict_cmp(&a, &b),
        "semver" | "semantic" => semver_cmp(&a, &b),
        "pep440" => pep440_cmp(&a, &b),
        other => {
            return Err(fail(format!(
                "Invalid version type ({other}). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'"
            )))
        }
    }
    .map_err(|e| fail(format!("Version comparison failed: {e}")))?;
    Ok(match op {
        "eq" => ordering == Ordering::Equal,
        "ne" => ordering != Ordering::Equal,
        "lt" => ordering == Ordering::Less,
        "le" => ordering != Ordering::Greater,
        "gt" => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Num(u128),
    Text(String),
}

/// distutils' LooseVersion components: runs of digits, runs of lowercase letters, and
/// whatever lies between them; dots dropped.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut other = String::new();
    let chars: Vec<char> = v.chars().collect();
    let mut i = 0;
    let flush = |other: &mut String, parts: &mut Vec<Part>| {
        if !other.is_empty() {
            parts.push(Part::Text(std::mem::take(other)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            flush(&mut other, &mut parts);
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            parts.push(s.parse::<u128>().map(Part::Num).unwrap_or(Part::Text(s)));
        } else if c.is_ascii_lowercase() {
            flush(&mut other, &mut parts);
            let start = i;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                i += 1;
            }
            parts.push(Part::Text(chars[start..i].iter().collect()));
        } else if c == '.' {
            flush(&mut other, &mut parts);
            i += 1;
        } else {
            other.push(c);
            i += 1;
        }
    }
    flush(&mut other, &mut parts);
    parts
}

fn loose_cmp(a: &str, b: &str, op: &str) -> Result<Ordering, String> {
    let (pa, pb) = (loose_parts(a), loose_parts(b));
    if pa == pb {
        return Ok(Ordering::Equal);
    }
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            // Python 3 cannot order int and str; equality is simply false.
            _ if op == "eq" || op == "ne" => return Ok(Ordering::Less),
            (Part::Num(_), Part::Text(_)) => return Err("'<' not supported between instances of 'int' and 'str'".into()),
            (Part::Text(_), Part::Num(_)) => return Err("'<' not supported between instances of 'str' and 'int'".into()),
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(pa.len().cmp(&pb.len()))
}

/// distutils' StrictVersion: `N.N[.N][{a|b}N]`.
/// major, minor, patch and the pre-release (`a1`, `b2`) of a StrictVersion.
type Strict = (u64, u64, u64, Option<(char, u64)>);

fn strict_parse(v: &str) -> Result<Strict, String> {
    let bad = || format!("invalid version number '{v}'");
    let (main, pre) = match v.find(['a', 'b']) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let nums: Vec<&str> = main.split('.').collect();
    if !(2..=3).contains(&nums.len()) || nums.iter().any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad());
    }
    let n = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let patch = if nums.len() == 3 { n(nums[2])? } else { 0 };
    let pre = match pre {
        Some(p) => {
            let digits = &p[1..];
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            Some((p.chars().next().unwrap_or('a'), n(digits)?))
        }
        None => None,
    };
    Ok((n(nums[0])?, n(nums[1])?, patch, pre))
}

fn strict_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (x, y) = (strict_parse(a)?, strict_parse(b)?);
    Ok((x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)).then_with(|| match (x.3, y.3) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(p), Some(q)) => p.cmp(&q),
    }))
}

/// Semantic Versioning 2.0.0 precedence.
fn semver_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    fn parse(v: &str) -> Result<(Vec<u64>, Vec<String>), String> {
        let bad = || format!("invalid semantic version '{v}'");
        let v2 = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v2.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v2, None),
        };
        let nums: Vec<u64> = core.split('.').map(|n| n.parse::<u64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
        if nums.len() != 3 {
            return Err(bad());
        }
        let pre = pre.map(|p| p.split('.').map(str::to_string).collect()).unwrap_or_default();
        Ok((nums, pre))
    }
    let (x, y) = (parse(a)?, parse(b)?);
    Ok(x.0.cmp(&y.0).then_with(|| match (x.1.is_empty(), y.1.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (p, q) in x.1.iter().zip(y.1.iter()) {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.1.len().cmp(&y.1.len())
        }
    }))
}

/// PEP 440, the common forms: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`.
fn pep440_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    type Key = (u64, Vec<u64>, (i8, u64), (i8, u64), (i8, u64));
    fn parse(v: &str) -> Result<Key, String> {
        let bad = || format!("Invalid version: '{v}'");
        let s = v.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let s = s.split('+').next().unwrap_or(s);
        let (epoch, s) = match s.split_once('!') {
            Some((e, r)) => (e.parse::<u64>().map_err(|_| bad())?, r),
            None => (0, s),
        };
        let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let release: Vec<u64> = s[..end].trim_end_matches('.').split('.').map(|n| n.parse::<u64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
        let mut rest = s[end..].trim_start_matches(['.', '-', '_']);
        let number = |r: &str| -> (u64, usize) {
            let r2 = r.trim_start_matches(['.', '-', '_']);
            let skipped = r.len() - r2.len();
            let n = r2.find(|c: char| !c.is_ascii_digit()).unwrap_or(r2.len());
            (r2[..n].parse().unwrap_or(0), skipped + n)
        };
        let mut pre = (i8::MAX, 0);
        for (tag, rank) in [("alpha", 0), ("beta", 1), ("rc", 2), ("c", 2), ("pre", 2), ("preview", 2), ("a", 0), ("b", 1)] {
            if let Some(r) = rest.strip_prefix(tag) {
                let (n, used) = number(r);
                pre = (rank, n);
                rest = r[used..].trim_start_matches(['.', '-', '_']);
                break;
            }
        }
        let mut post = (-1, 0);
        for tag in ["post", "rev", "r"] {
            if let Some(r) = rest.strip_prefix(tag) {
                let (n, used) = number(r);
                post = (0, n);
                rest = r[used..].trim_start_matches(['.', '-', '_']);
                break;
            }
        }
        let mut dev = (i8::MAX, 0);
        if let Some(r) = rest.strip_prefix("dev") {
            let (n, used) = number(r);
            dev = (0, n);
            rest = &r[used..];
            // a bare .devN sorts before pre-releases of the same release
            if pre.0 == i8::MAX && post.0 == -1 {
                pre = (-1, 0);
            }
        }
        if !rest.is_empty() {
            return Err(bad());
        }
        let mut release = release;
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        Ok((epoch, release, pre, post, dev))
    }
    Ok(parse(a)?.cmp(&parse(b)?))
}
