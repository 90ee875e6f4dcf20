//! Python methods on values, as playbooks call them: `name.split('.')`,
//! `path.startswith('/')`, `d.items()`, `d.get('k', 0)`, `'{}-{}'.format(a, b)`.
//!
//! minijinja calls [`call_method`] for any method it does not know. Methods that mutate
//! (`append`, `update`, `pop`) are not provided: Jinja2's sandbox forbids them in Ansible too.

use minijinja::value::{from_args, Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, State, Value};

use super::python_type;

pub(super) fn call_method(state: &mut State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let result = match value.kind() {
        ValueKind::String => string_method(value.as_str().unwrap_or_default(), method, args),
        ValueKind::Map => map_method(state, value, method, args),
        ValueKind::Seq | ValueKind::Iterable => seq_method(value, method, args),
        ValueKind::Number => number_method(value, method, args),
        _ => None,
    };
    match result {
        Some(r) => r,
        None => Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("object of type '{}' has no attribute '{method}'", python_type(value)),
        )),
    }
}

fn bad_args(method: &str, e: Error) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{method}(): {e}"))
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let r = (|| -> Result<Value, Error> {
        Ok(match method {
            "lower" => Value::from(s.to_lowercase()),
            "upper" => Value::from(s.to_uppercase()),
            "casefold" => Value::from(s.to_lowercase()),
            "swapcase" => Value::from(
                s.chars()
                    .map(|c| if c.is_uppercase() { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() })
                    .collect::<String>(),
            ),
            "title" => Value::from(super::filters::title_case(s)),
            "capitalize" => Value::from(super::filters::capitalize(s)),
            "strip" | "lstrip" | "rstrip" => {
                let (chars,): (Option<String>,) = from_args(args)?;
                let f = |c: char| match &chars {
                    Some(set) => set.contains(c),
                    None => c.is_whitespace(),
                };
                Value::from(match method {
                    "strip" => s.trim_matches(f),
                    "lstrip" => s.trim_start_matches(f),
                    _ => s.trim_end_matches(f),
                })
            }
            "split" | "rsplit" => {
                let (sep, maxsplit, kwargs): (Option<Value>, Option<i64>, Kwargs) = from_args(args)?;
                let sep = match kwargs.get::<Option<Value>>("sep")?.or(sep) {
                    Some(v) if !v.is_none() => Some(v.as_str().unwrap_or_default().to_string()),
                    _ => None,
                };
                let maxsplit = kwargs.get::<Option<i64>>("maxsplit")?.or(maxsplit).unwrap_or(-1);
                kwargs.assert_all_used()?;
                Value::from(py_split(s, sep.as_deref(), maxsplit, method == "rsplit")?)
            }
            "splitlines" => {
                let (keepends,): (Option<bool>,) = from_args(args)?;
                let lines: Vec<String> = if keepends.unwrap_or(false) {
                    s.split_inclusive('\n').map(str::to_string).collect()
                } else {
                    s.lines().map(str::to_string).collect()
                };
                Value::from(lines)
            }
            "startswith" | "endswith" => {
                let (prefix,): (Value,) = from_args(args)?;
                let candidates: Vec<String> = if prefix.kind() == ValueKind::String {
                    vec![prefix.as_str().unwrap_or_default().to_string()]
                } else {
                    prefix.try_iter()?.map(|v| v.to_string()).collect()
                };
                Value::from(candidates.iter().any(|p| if method == "startswith" { s.starts_with(p.as_str()) } else { s.ends_with(p.as_str()) }))
            }
            "replace" => {
                let (old, new, count): (String, String, Option<i64>) = from_args(args)?;
                match count {
                    Some(n) if n >= 0 => Value::from(s.replacen(&old, &new, n as usize)),
                    _ => Value::from(s.replace(&old, &new)),
                }
            }
            "find" | "rfind" | "index" | "rindex" => {
                let (needle,): (String,) = from_args(args)?;
                let pos = if method.starts_with('r') { s.rfind(&needle) } else { s.find(&needle) };
                match pos {
                    Some(p) => Value::from(s[..p].chars().count()),
                    None if method.ends_with("index") => {
                        return Err(Error::new(ErrorKind::InvalidOperation, "substring not found"));
                    }
                    None => Value::from(-1),
                }
            }
            "count" => {
                let (needle,): (String,) = from_args(args)?;
                Value::from(if needle.is_empty() { s.chars().count() + 1 } else { s.matches(&needle).count() })
            }
            "join" => {
                let (items,): (Value,) = from_args(args)?;
                let parts: Vec<String> = items.try_iter()?.map(|v| v.to_string()).collect();
                Value::from(parts.join(s))
            }
            "format" => Value::from(py_format(s, args)?),
            "zfill" => {
                let (width,): (usize,) = from_args(args)?;
                let len = s.chars().count();
                if len >= width {
                    Value::from(s)
                } else {
                    let (sign, digits) = match s.chars().next() {
                        Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                        _ => (String::new(), s),
                    };
                    Value::from(format!("{sign}{}{digits}", "0".repeat(width - len)))
                }
            }
            "center" | "ljust" | "rjust" => {
                let (width, fill): (usize, Option<String>) = from_args(args)?;
                let fill = fill.and_then(|f| f.chars().next()).unwrap_or(' ');
                Value::from(pad(s, width, fill, match method {
                    "ljust" => '<',
                    "rjust" => '>',
                    _ => '^',
                }))
            }
            "partition" | "rpartition" => {
                let (sep,): (String,) = from_args(args)?;
                let found = if method == "partition" { s.find(&sep) } else { s.rfind(&sep) };
                let parts = match found {
                    Some(p) => vec![&s[..p], sep.as_str(), &s[p + sep.len()..]],
                    None if method == "partition" => vec![s, "", ""],
                    None => vec!["", "", s],
                };
                Value::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())
            }
            "isdigit" | "isnumeric" | "isdecimal" => Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
            "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
            "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
            "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
            "islower" => Value::from(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)),
            "isupper" => Value::from(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase)),
            "encode" | "decode" => Value::from(s),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    })();
    match r {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => None,
        Err(e) => Some(Err(bad_args(method, e))),
        ok => Some(ok),
    }
}

fn map_method(state: &mut State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let r = (|| -> Result<Value, Error> {
        Ok(match method {
            "items" => {
                let (): () = from_args(args)?;
                state.apply_filter("items", std::slice::from_ref(value))?
            }
            "keys" => {
                let (): () = from_args(args)?;
                Value::from(value.try_iter()?.collect::<Vec<_>>())
            }
            "values" => {
                let (): () = from_args(args)?;
                let mut out = Vec::new();
                for k in value.try_iter()? {
                    out.push(value.get_item(&k)?);
                }
                Value::from(out)
            }
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                match super::get_item(value, &key) {
                    Some(v) if !v.is_undefined() => v,
                    _ => default.unwrap_or(Value::from(())),
                }
            }
            "copy" => value.clone(),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    })();
    match r {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => None,
        Err(e) => Some(Err(bad_args(method, e))),
        ok => Some(ok),
    }
}

fn seq_method(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let r = (|| -> Result<Value, Error> {
        Ok(match method {
            "index" => {
                let (needle,): (Value,) = from_args(args)?;
                match value.try_iter()?.position(|v| v == needle) {
                    Some(p) => Value::from(p),
                    None => return Err(Error::new(ErrorKind::InvalidOperation, format!("{needle} is not in list"))),
                }
            }
            "count" => {
                let (needle,): (Value,) = from_args(args)?;
                Value::from(value.try_iter()?.filter(|v| *v == needle).count())
            }
            "copy" => value.clone(),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    })();
    match r {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => None,
        Err(e) => Some(Err(bad_args(method, e))),
        ok => Some(ok),
    }
}

fn number_method(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    match method {
        "is_integer" if args.is_empty() => Some(Ok(Value::from(
            value.is_integer() || f64::try_from(value.clone()).is_ok_and(|f| f.fract() == 0.0),
        ))),
        _ => None,
    }
}

/// Python's `str.split` / `str.rsplit`.
pub(super) fn py_split(s: &str, sep: Option<&str>, maxsplit: i64, from_right: bool) -> Result<Vec<String>, Error> {
    let limit = if maxsplit < 0 { usize::MAX } else { maxsplit as usize };
    match sep {
        Some("") => Err(Error::new(ErrorKind::InvalidOperation, "empty separator")),
        Some(sep) => Ok(if from_right {
            let mut parts: Vec<String> = s.rsplitn(limit.saturating_add(1), sep).map(str::to_string).collect();
            parts.reverse();
            parts
        } else {
            s.splitn(limit.saturating_add(1), sep).map(str::to_string).collect()
        }),
        None => {
            // Runs of whitespace separate; leading/trailing whitespace gives no empty parts.
            let mut parts = Vec::new();
            if from_right {
                let mut rest = s.trim_end();
                while !rest.is_empty() {
                    if parts.len() == limit {
                        parts.push(rest.to_string());
                        break;
                    }
                    match rest.rfind(char::is_whitespace) {
                        Some(p) => {
                            let ch = rest[p..].chars().next().map_or(1, char::len_utf8);
                            parts.push(rest[p + ch..].to_string());
                            rest = rest[..p].trim_end();
                        }
                        None => {
                            parts.push(rest.to_string());
                            break;
                        }
                    }
                }
                parts.reverse();
            } else {
                let mut rest = s.trim_start();
                while !rest.is_empty() {
                    if parts.len() == limit {
                        parts.push(rest.to_string());
                        break;
                    }
                    match rest.find(char::is_whitespace) {
                        Some(p) => {
                            parts.push(rest[..p].to_string());
                            rest = rest[p..].trim_start();
                        }
                        None => {
                            parts.push(rest.to_string());
                            break;
                        }
                    }
                }
            }
            Ok(parts)
        }
    }
}

fn pad(s: &str, width: usize, fill: char, align: char) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let total = width - len;
    let (left, right) = match align {
        '<' => (0, total),
        '>' => (total, 0),
        _ => (total / 2, total - total / 2),
    };
    let fill_str = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    format!("{}{s}{}", fill_str(left), fill_str(right))
}

/// Python's `str.format`: `{}`, `{0}`, `{name}`, `{0.attr}`, `{name[key]}` and format specs
/// `[[fill]align][sign][0][width][,][.precision][type]` for `s d f e g x X o b %`.
pub(super) fn py_format(template: &str, args: &[Value]) -> Result<String, Error> {
    let (positional, kwargs): (&[Value], Option<&Value>) = match args.last() {
        Some(last) if last.is_kwargs() => (&args[..args.len() - 1], Some(last)),
        _ => (args, None),
    };
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if template[i + 1..].starts_with('{') => {
                out.push('{');
                chars.next();
            }
            '}' if template[i + 1..].starts_with('}') => {
                out.push('}');
                chars.next();
            }
            '{' => {
                let close = template[i..]
                    .find('}')
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "single '{' encountered in format string"))?;
                let field = &template[i + 1..i + close];
                while chars.peek().is_some_and(|(j, _)| *j <= i + close) {
                    chars.next();
                }
                let (name, spec) = field.split_once(':').unwrap_or((field, ""));
                let (name, conversion) = name.split_once('!').unwrap_or((name, ""));
                let first_end = name.find(['.', '[']).unwrap_or(name.len());
                let (head, tail) = name.split_at(first_end);
                let mut value = if head.is_empty() {
                    let v = positional.get(auto).cloned();
                    auto += 1;
                    v
                } else if let Ok(n) = head.parse::<usize>() {
                    positional.get(n).cloned()
                } else {
                    kwargs.and_then(|k| k.get_attr(head).ok()).filter(|v| !v.is_undefined())
                }
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("format field {{{name}}} has no value")))?;
                let mut rest = tail;
                while !rest.is_empty() {
                    if let Some(r) = rest.strip_prefix('.') {
                        let end = r.find(['.', '[']).unwrap_or(r.len());
                        value = value.get_attr(&r[..end])?;
                        rest = &r[end..];
                    } else if let Some(r) = rest.strip_prefix('[') {
                        let end = r.find(']').unwrap_or(r.len());
                        let key = &r[..end];
                        value = match key.parse::<i64>() {
                            Ok(n) => value.get_item(&Value::from(n))?,
                            Err(_) => value.get_item(&Value::from(key))?,
                        };
                        rest = r.get(end + 1..).unwrap_or("");
                    } else {
                        break;
                    }
                }
                let value = if conversion == "r" { Value::from(super::filters::py_repr(&value)) } else { value };
                out.push_str(&format_spec(&value, spec)?);
            }
            '}' => return Err(Error::new(ErrorKind::InvalidOperation, "single '}' encountered in format string")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Apply a Python format spec to a value.
pub(super) fn format_spec(value: &Value, spec: &str) -> Result<String, Error> {
    if spec.is_empty() {
        return Ok(if value.is_none() { "None".to_string() } else { value.to_string() });
    }
    let mut chars: Vec<char> = spec.chars().collect();
    let mut fill = ' ';
    let mut align = None;
    if chars.len() >= 2 && matches!(chars[1], '<' | '>' | '^' | '=') {
        fill = chars[0];
        align = Some(chars[1]);
        chars.drain(..2);
    } else if !chars.is_empty() && matches!(chars[0], '<' | '>' | '^' | '=') {
        align = Some(chars[0]);
        chars.drain(..1);
    }
    let mut sign = '-';
    if let Some(&c @ ('+' | '-' | ' ')) = chars.first() {
        sign = c;
        chars.remove(0);
    }
    if chars.first() == Some(&'0') {
        fill = '0';
        if align.is_none() {
            align = Some('=');
        }
        chars.remove(0);
    }
    let rest: String = chars.into_iter().collect();
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let width: usize = rest[..digits_end].parse().unwrap_or(0);
    let mut rest = &rest[digits_end..];
    let grouping = rest.starts_with(',');
    if grouping {
        rest = &rest[1..];
    }
    let mut precision = None;
    if let Some(r) = rest.strip_prefix('.') {
        let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        precision = r[..end].parse::<usize>().ok();
        rest = &r[end..];
    }
    let kind = rest.chars().next();
    let number = || f64::try_from(value.clone()).map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("unknown format code for object of type '{}'", python_type(value))));
    let integer = || -> Result<i128, Error> {
        if value.is_integer() {
            i128::try_from(value.clone()).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
        } else {
            Err(Error::new(ErrorKind::InvalidOperation, format!("unknown format code for object of type '{}'", python_type(value))))
        }
    };
    let (negative, body): (bool, String) = match kind {
        Some('d') => {
            let n = integer()?;
            (n < 0, group(&n.unsigned_abs().to_string(), grouping))
        }
        Some('x') => {
            let n = integer()?;
            (n < 0, format!("{:x}", n.unsigned_abs()))
        }
        Some('X') => {
            let n = integer()?;
            (n < 0, format!("{:X}", n.unsigned_abs()))
        }
        Some('o') => {
            let n = integer()?;
            (n < 0, format!("{:o}", n.unsigned_abs()))
        }
        Some('b') => {
            let n = integer()?;
            (n < 0, format!("{:b}", n.unsigned_abs()))
        }
        Some('f') | Some('F') => {
            let f = number()?;
            (f < 0.0, group_float(&format!("{:.*}", precision.unwrap_or(6), f.abs()), grouping))
        }
        Some('e') | Some('E') => {
            let f = number()?;
            let s = python_exp(f.abs(), precision.unwrap_or(6));
            (f < 0.0, if kind == Some('E') { s.to_uppercase() } else { s })
        }
        Some('%') => {
            let f = number()? * 100.0;
            (f < 0.0, format!("{:.*}%", precision.unwrap_or(6), f.abs()))
        }
        Some('g') | Some('G') | None if value.is_number() => {
            let f = number()?;
            if value.is_integer() && kind.is_none() {
                let n = integer()?;
                (n < 0, group(&n.unsigned_abs().to_string(), grouping))
            } else {
                let s = match precision {
                    Some(p) => {
                        let p = p.max(1);
                        let exp = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
                        if exp < -4 || exp >= p as i32 {
                            python_exp(f.abs(), p - 1)
                        } else {
                            let s = format!("{:.*}", (p as i32 - 1 - exp).max(0) as usize, f.abs());
                            if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
                        }
                    }
                    None => Value::from(f.abs()).to_string(),
                };
                (f < 0.0, s)
            }
        }
        Some('s') | None => {
            let s = if value.is_none() { "None".to_string() } else { value.to_string() };
            let s = match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            };
            return Ok(pad(&s, width, fill, align.unwrap_or('<')));
        }
        Some(c) => return Err(Error::new(ErrorKind::InvalidOperation, format!("unknown format code '{c}'"))),
    };
    let sign_str = match (negative, sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    };
    let align = align.unwrap_or('>');
    if align == '=' {
        let len = sign_str.len() + body.chars().count();
        let padding: String = std::iter::repeat_n(fill, width.saturating_sub(len)).collect();
        return Ok(format!("{sign_str}{padding}{body}"));
    }
    Ok(pad(&format!("{sign_str}{body}"), width, fill, align))
}

fn group(digits: &str, grouping: bool) -> String {
    if !grouping {
        return digits.to_string();
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn group_float(s: &str, grouping: bool) -> String {
    match s.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group(int, grouping)),
        None => group(s, grouping),
    }
}

/// `1.5e+03` as Python prints exponents (two digits at least, with a sign).
fn python_exp(f: f64, precision: usize) -> String {
    let s = format!("{:.*e}", precision, f);
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}
