//! Loops: `loop:` and the `with_<lookup>` forms, turned into the list of items a task
//! runs for.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::template::Templar;

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => vec![],
        other => vec![other],
    }
}

fn flatten_into(v: Value, levels: Option<usize>, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) if levels != Some(0) => {
            for x in a {
                flatten_into(x, levels.map(|l| l - 1), out);
            }
        }
        other => out.push(other),
    }
}

/// Items of a `with_<lookup>` loop over already-rendered `terms`.
pub fn with_items(lookup: &str, terms: Value, templar: &Templar, vars: &Map<String, Value>, search: &[PathBuf]) -> Result<Vec<Value>, String> {
    Ok(match lookup {
        // with_items flattens one level; with_list does not.
        "items" => {
            let mut out = Vec::new();
            for t in as_list(terms) {
                match t {
                    Value::Array(a) => out.extend(a),
                    other => out.push(other),
                }
            }
            out
        }
        "list" => as_list(terms),
        "flattened" => {
            let mut out = Vec::new();
            flatten_into(terms, None, &mut out);
            out
        }
        "indexed_items" => as_list(terms).into_iter().enumerate().map(|(i, v)| Value::Array(vec![Value::from(i), v])).collect(),
        "dict" => match terms {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| {
                    let mut e = Map::new();
                    e.insert("key".into(), Value::String(k));
                    e.insert("value".into(), v);
                    Value::Object(e)
                })
                .collect(),
            other => return Err(format!("with_dict expects a dict, got {other}")),
        },
        "nested" | "cartesian" => {
            let lists: Vec<Vec<Value>> = as_list(terms).into_iter().map(as_list).collect();
            let mut acc: Vec<Vec<Value>> = vec![vec![]];
            for l in lists {
                let mut next = Vec::new();
                for prefix in &acc {
                    for x in &l {
                        let mut p = prefix.clone();
                        p.push(x.clone());
                        next.push(p);
                    }
                }
                acc = next;
            }
            acc.into_iter().map(Value::Array).collect()
        }
        "together" => {
            let lists: Vec<Vec<Value>> = as_list(terms).into_iter().map(as_list).collect();
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n).map(|i| Value::Array(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::Null)).collect())).collect()
        }
        "subelements" => {
            let t = as_list(terms);
            let (Some(list), Some(key)) = (t.first(), t.get(1).and_then(Value::as_str)) else {
                return Err("with_subelements expects [list, 'subkey']".into());
            };
            let skip_missing = t.get(2).and_then(|f| f.get("skip_missing")).and_then(Value::as_bool).unwrap_or(false);
            let mut out = Vec::new();
            for elem in as_list(list.clone()) {
                match elem.get(key) {
                    Some(Value::Array(subs)) => {
                        for s in subs {
                            out.push(Value::Array(vec![elem.clone(), s.clone()]));
                        }
                    }
                    None if skip_missing => {}
                    None => return Err(format!("could not find '{key}' key in iterated item {elem}")),
                    Some(other) => return Err(format!("the key '{key}' should point to a list, got {other}")),
                }
            }
            out
        }
        "sequence" => sequence(&terms)?,
        "inventory_hostnames" => as_list(terms),
        other => {
            // Lookups the template layer implements: file, lines, fileglob, first_found, env, ...
            let mut v = vars.clone();
            v.insert("__provision_terms".into(), Value::Array(as_list(terms)));
            let expr = format!("query('{other}', *__provision_terms)");
            match templar.eval(&expr, &v, search) {
                Ok(Value::Array(a)) => a,
                Ok(other) => as_list(other),
                Err(_) => {
                    // Without argument spreading, call with each term in turn.
                    let mut out = Vec::new();
                    let Some(Value::Array(ts)) = v.get("__provision_terms").cloned() else { return Ok(out) };
                    for (i, _) in ts.iter().enumerate() {
                        let e = format!("query('{other}', __provision_terms[{i}])");
                        out.extend(as_list(templar.eval(&e, &v, search).map_err(|e| e.to_string())?));
                    }
                    out
                }
            }
        }
    })
}

/// `with_sequence: start=1 end=5 format=web%02d` (or `count=`, `stride=`).
fn sequence(terms: &Value) -> Result<Vec<Value>, String> {
    let text = match terms {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    };
    let kv = provision_modules::args::parse_kv(&text, None)?;
    let num = |k: &str| -> Result<Option<i64>, String> {
        kv.get(k)
            .and_then(Value::as_str)
            .map(|s| {
                let s = s.trim();
                if let Some(h) = s.strip_prefix("0x") {
                    i64::from_str_radix(h, 16)
                } else {
                    s.parse::<i64>()
                }
                .map_err(|_| format!("can't parse {k}={s} as integer"))
            })
            .transpose()
    };
    let start = num("start")?.unwrap_or(1);
    let stride = num("stride")?.unwrap_or(1);
    let end = match (num("end")?, num("count")?) {
        (Some(e), None) => e,
        (None, Some(c)) => start + (c - 1) * stride,
        (Some(_), Some(_)) => return Err("can't specify both count and end in with_sequence".into()),
        (None, None) if kv.contains_key("_raw_params") => {
            // Short form `start-end[/stride][:format]` is rare; accept `N-M`.
            return Err("use `start=N end=M` with with_sequence".into());
        }
        (None, None) => return Err("with_sequence needs `end` or `count`".into()),
    };
    let format = kv.get("format").and_then(Value::as_str).unwrap_or("%d").to_string();
    if stride == 0 {
        return Err("with_sequence: stride must not be 0".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::String(printf_int(&format, i)));
        i += stride;
    }
    Ok(out)
}

/// A printf with one integer conversion (`%d`, `%02d`, `%x`, `%o`).
fn printf_int(format: &str, n: i64) -> String {
    let Some(pos) = format.find('%') else { return format.to_string() };
    let rest = &format[pos + 1..];
    let spec_len = rest.find(|c: char| c.is_ascii_alphabetic()).map_or(rest.len(), |i| i + 1);
    let spec = &rest[..spec_len];
    let (flags, conv) = spec.split_at(spec.len().saturating_sub(1));
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        "x" => format!("{n:x}"),
        "X" => format!("{n:X}"),
        "o" => format!("{n:o}"),
        _ => n.to_string(),
    };
    let padded = if zero { format!("{body:0>width$}") } else { format!("{body:>width$}") };
    format!("{}{}{}", &format[..pos], padded, &rest[spec_len..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(lookup: &str, terms: Value) -> Vec<Value> {
        let t = Templar::new(std::path::Path::new("."));
        with_items(lookup, terms, &t, &Map::new(), &[]).unwrap()
    }

    #[test]
    fn items_flatten_one_level() {
        assert_eq!(items("items", json!([1, [2, 3], [[4]]])), vec![json!(1), json!(2), json!(3), json!([4])]);
        assert_eq!(items("list", json!([1, [2, 3]])), vec![json!(1), json!([2, 3])]);
    }

    #[test]
    fn dict_nested_together_subelements() {
        assert_eq!(items("dict", json!({"a": 1})), vec![json!({"key": "a", "value": 1})]);
        assert_eq!(items("nested", json!([["a", "b"], [1, 2]])).len(), 4);
        assert_eq!(items("together", json!([["a", "b"], [1]])), vec![json!(["a", 1]), json!(["b", null])]);
        let users = json!([[{"name": "u", "keys": ["k1", "k2"]}], "keys"]);
        assert_eq!(items("subelements", users).len(), 2);
    }

    #[test]
    fn sequences() {
        assert_eq!(items("sequence", json!("start=1 end=3 format=web%02d")), vec![json!("web01"), json!("web02"), json!("web03")]);
        assert_eq!(items("sequence", json!("start=0 count=3 stride=2")), vec![json!("0"), json!("2"), json!("4")]);
    }
}
