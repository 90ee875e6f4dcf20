//! Ansible's filters on lists and dicts: set operations, `flatten`, `combine`,
//! `dict2items`/`items2dict`, `zip`/`zip_longest`, `product`, `permutations`,
//! `combinations`, `subelements`, `rekey_on_member`, `min`/`max`/`unique`.
//!
//! Set operations keep the input order (Ansible returns Python set order when the items are
//! hashable, which is not stable between runs).

use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, Value};
use serde_json::Value as Json;

use super::filters::{add, add_kw, fail, py_str};
use super::{plain_value, value_to_json};

pub(super) fn register(env: &mut Environment<'static>) {
    add(env, "unique", unique);
    add(env, "union", |a: Value, b: Value| -> Result<Value, Error> {
        let mut all = items(&a)?;
        all.extend(items(&b)?);
        Ok(Value::from(dedup(all)))
    });
    add(env, "intersect", |a: Value, b: Value| -> Result<Value, Error> {
        let b = items(&b)?;
        Ok(Value::from(dedup(items(&a)?.into_iter().filter(|x| b.contains(x)).collect())))
    });
    add(env, "difference", |a: Value, b: Value| -> Result<Value, Error> {
        let b = items(&b)?;
        Ok(Value::from(dedup(items(&a)?.into_iter().filter(|x| !b.contains(x)).collect())))
    });
    add(env, "symmetric_difference", |a: Value, b: Value| -> Result<Value, Error> {
        let (a, b) = (items(&a)?, items(&b)?);
        let both: Vec<Value> = a.iter().filter(|x| b.contains(x)).cloned().collect();
        let mut all = a;
        all.extend(b);
        Ok(Value::from(dedup(all).into_iter().filter(|x| !both.contains(x)).collect::<Vec<_>>()))
    });
    add(env, "flatten", flatten);
    add(env, "combine", combine);
    add(env, "dict2items", dict2items);
    add(env, "items2dict", items2dict);
    add(env, "zip", zip);
    add(env, "zip_longest", zip_longest);
    add(env, "product", product);
    add_kw(env, "permutations", &["r"], permutations);
    add_kw(env, "combinations", &["r"], combinations);
    add(env, "subelements", subelements);
    add(env, "rekey_on_member", rekey_on_member);
    add(env, "min", minijinja::filters::min);
    add(env, "max", minijinja::filters::max);
}

/// The items of a list-like value (a string is not split into characters).
pub(super) fn items(v: &Value) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => Ok(v.try_iter()?.collect()),
        ValueKind::None => Ok(Vec::new()),
        _ => Err(fail(format!("expected a list, got {}", super::python_type(v)))),
    }
}

/// Unique items, in input order, except that integers come out ascending as they do from a
/// Python set (the common case Ansible users see; set order of strings is random there).
fn dedup(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if !out.is_empty() && out.iter().all(|v| v.is_integer() && v.as_i64().is_some_and(|i| i >= 0)) {
        out.sort_by_key(|v| v.as_i64().unwrap_or(0));
    }
    out
}

fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// `unique(case_sensitive=False, attribute=None)` like Jinja's, which Ansible uses.
fn unique(value: Value, case_sensitive: Option<bool>, attribute: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let case_sensitive = kwargs.get::<Option<bool>>("case_sensitive")?.or(case_sensitive).unwrap_or(false);
    let attribute = kwargs.get::<Option<Value>>("attribute")?.or(attribute);
    kwargs.assert_all_used()?;
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for item in items(&value)? {
        let mut key = match &attribute {
            Some(a) => item.get_item(a).unwrap_or(Value::UNDEFINED),
            None => item.clone(),
        };
        if !case_sensitive {
            if let Some(s) = key.as_str() {
                key = Value::from(s.to_lowercase());
            }
        }
        if !seen.contains(&key) {
            seen.push(key);
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// `flatten(levels=None, skip_nulls=True)`.
fn flatten(value: Value, levels: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match kwargs.get::<Option<Value>>("levels")?.or(levels) {
        Some(v) if !v.is_none() => Some(i64::try_from(v)?),
        _ => None,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    fn walk(list: &Value, levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) -> Result<(), Error> {
        for element in items(list)? {
            if skip_nulls && (element.is_none() || matches!(element.as_str(), Some("None") | Some("null"))) {
                continue;
            }
            if is_list(&element) {
                match levels {
                    None => walk(&element, None, skip_nulls, out)?,
                    Some(n) if n >= 1 => walk(&element, Some(n - 1), skip_nulls, out)?,
                    Some(_) => out.push(element),
                }
            } else {
                out.push(element);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&value, levels, skip_nulls, &mut out)?;
    Ok(Value::from(out))
}

/// `combine(*dicts, recursive=False, list_merge='replace')`.
fn combine(first: Value, rest: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut terms = vec![first];
    let mut recursive = false;
    let mut list_merge = "replace".to_string();
    for arg in rest.iter() {
        if arg.is_kwargs() {
            let kwargs = Kwargs::try_from(Value::from(arg.clone()))?;
            recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
            list_merge = kwargs.get::<Option<String>>("list_merge")?.unwrap_or(list_merge);
            kwargs.assert_all_used().map_err(|_| fail("'recursive' and 'list_merge' are the only valid keyword arguments"))?;
        } else {
            terms.push(Value::from(arg.clone()));
        }
    }
    if !["replace", "keep", "append", "prepend", "append_rp", "prepend_rp"].contains(&list_merge.as_str()) {
        return Err(fail("merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'"));
    }
    // combine([a, b], c) is combine(a, b, c).
    let mut dicts = Vec::new();
    for t in terms {
        if is_list(&t) {
            dicts.extend(t.try_iter()?);
        } else {
            dicts.push(t);
        }
    }
    let mut result: Option<serde_json::Map<String, Json>> = None;
    for d in dicts {
        let Json::Object(m) = value_to_json(&d)? else {
            return Err(fail(format!("failed to combine variables, expected dicts but got {}", super::python_type(&d))));
        };
        result = Some(match result {
            None => m,
            Some(x) => merge_hash(x, m, recursive, &list_merge),
        });
    }
    Ok(plain_value(&Json::Object(result.unwrap_or_default())))
}

/// Ansible's `merge_hash(x, y)`: keys of `y` win.
pub(super) fn merge_hash(mut x: serde_json::Map<String, Json>, y: serde_json::Map<String, Json>, recursive: bool, list_merge: &str) -> serde_json::Map<String, Json> {
    for (key, y_value) in y {
        let Some(x_value) = x.get_mut(&key) else {
            x.insert(key, y_value);
            continue;
        };
        match (x_value, y_value) {
            (Json::Object(xm), Json::Object(ym)) if recursive => {
                let merged = merge_hash(std::mem::take(xm), ym, recursive, list_merge);
                *xm = merged;
            }
            (Json::Array(xa), Json::Array(ya)) => match list_merge {
                "append" => xa.extend(ya),
                "prepend" => {
                    let mut new = ya;
                    new.append(xa);
                    *xa = new;
                }
                "append_rp" => {
                    xa.retain(|z| !ya.contains(z));
                    xa.extend(ya);
                }
                "prepend_rp" => {
                    xa.retain(|z| !ya.contains(z));
                    let mut new = ya;
                    new.append(xa);
                    *xa = new;
                }
                "keep" => {}
                _ => *xa = ya,
            },
            (slot, y_value) => *slot = y_value,
        }
    }
    x
}

fn dict2items(value: Value, key_name: Option<String>, value_name: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.or(key_name).unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.or(value_name).unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    if value.kind() != ValueKind::Map {
        return Err(fail(format!("dict2items requires a dictionary, got {} instead.", super::python_type(&value))));
    }
    let mut out = Vec::new();
    for k in value.try_iter()? {
        let v = value.get_item(&k)?;
        out.push(Value::from_pairs([(key_name.as_str(), k), (value_name.as_str(), v)]));
    }
    Ok(Value::from(out))
}

fn items2dict(value: Value, key_name: Option<String>, value_name: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.or(key_name).unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.or(value_name).unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    if !is_list(&value) {
        return Err(fail(format!("items2dict requires a list, got {} instead.", super::python_type(&value))));
    }
    let mut pairs = Vec::new();
    for item in value.try_iter()? {
        let k = super::get_item(&item, &Value::from(key_name.as_str()));
        let v = super::get_item(&item, &Value::from(value_name.as_str()));
        match (k, v) {
            (Some(k), Some(v)) if !k.is_undefined() && !v.is_undefined() => pairs.push((k, v)),
            _ => {
                return Err(fail(format!(
                    "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}', got {} instead.",
                    super::filters::py_repr(&value)
                )))
            }
        }
    }
    Ok(Value::from_pairs(pairs))
}

fn lists(first: &Value, rest: &[Value]) -> Result<Vec<Vec<Value>>, Error> {
    let mut out = vec![iter_any(first)?];
    for r in rest {
        out.push(iter_any(r)?);
    }
    Ok(out)
}

/// The items of anything iterable, strings as characters (like Python's iterators).
fn iter_any(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

fn zip(first: Value, rest: Rest<Value>) -> Result<Value, Error> {
    let lists = lists(&first, &rest)?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from((0..n).map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>())).collect::<Vec<_>>()))
}

fn zip_longest(first: Value, rest: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut others = Vec::new();
    let mut fill = Value::from(());
    for r in rest.iter() {
        if r.is_kwargs() {
            let kwargs = Kwargs::try_from(Value::from(r.clone()))?;
            fill = kwargs.get::<Option<Value>>("fillvalue")?.unwrap_or(fill);
            kwargs.assert_all_used()?;
        } else {
            others.push(Value::from(r.clone()));
        }
    }
    let lists = lists(&first, &others)?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone())).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn product(first: Value, rest: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut others = Vec::new();
    let mut repeat = 1usize;
    for r in rest.iter() {
        if r.is_kwargs() {
            let kwargs = Kwargs::try_from(Value::from(r.clone()))?;
            repeat = kwargs.get::<Option<usize>>("repeat")?.unwrap_or(1);
            kwargs.assert_all_used()?;
        } else {
            others.push(Value::from(r.clone()));
        }
    }
    let base = lists(&first, &others)?;
    let mut pools = Vec::new();
    for _ in 0..repeat {
        pools.extend(base.iter().cloned());
    }
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        let mut next = Vec::with_capacity(result.len() * pool.len());
        for prefix in &result {
            for item in &pool {
                let mut t = prefix.clone();
                t.push(item.clone());
                next.push(t);
            }
        }
        result = next;
    }
    Ok(Value::from(result.into_iter().map(Value::from).collect::<Vec<_>>()))
}

fn permutations(value: Value, r: Option<usize>) -> Result<Value, Error> {
    let pool = iter_any(&value)?;
    let r = r.unwrap_or(pool.len());
    let mut out = Vec::new();
    if r <= pool.len() {
        let mut used = vec![false; pool.len()];
        let mut current = Vec::new();
        permute(&pool, r, &mut used, &mut current, &mut out);
    }
    Ok(Value::from(out))
}

fn permute(pool: &[Value], r: usize, used: &mut Vec<bool>, current: &mut Vec<Value>, out: &mut Vec<Value>) {
    if current.len() == r {
        out.push(Value::from(current.clone()));
        return;
    }
    for i in 0..pool.len() {
        if !used[i] {
            used[i] = true;
            current.push(pool[i].clone());
            permute(pool, r, used, current, out);
            current.pop();
            used[i] = false;
        }
    }
}

fn combinations(value: Value, r: usize) -> Result<Value, Error> {
    let pool = iter_any(&value)?;
    let mut out = Vec::new();
    fn choose(pool: &[Value], start: usize, r: usize, current: &mut Vec<Value>, out: &mut Vec<Value>) {
        if current.len() == r {
            out.push(Value::from(current.clone()));
            return;
        }
        for i in start..pool.len() {
            current.push(pool[i].clone());
            choose(pool, i + 1, r, current, out);
            current.pop();
        }
    }
    choose(&pool, 0, r, &mut Vec::new(), &mut out);
    Ok(Value::from(out))
}

/// `subelements(path, skip_missing=False)`: pairs of (element, each item of element.path).
pub(super) fn subelements(value: Value, path: Value, skip_missing: Option<bool>, kwargs: Kwargs) -> Result<Value, Error> {
    let skip_missing = kwargs.get::<Option<bool>>("skip_missing")?.or(skip_missing).unwrap_or(false);
    kwargs.assert_all_used()?;
    let elements: Vec<Value> = match value.kind() {
        ValueKind::Map => value.try_iter()?.map(|k| value.get_item(&k)).collect::<Result<_, _>>()?,
        ValueKind::Seq | ValueKind::Iterable => value.try_iter()?.collect(),
        _ => return Err(fail("obj must be a list of dicts or a nested dict")),
    };
    let keys: Vec<Value> = if path.kind() == ValueKind::String {
        py_str(&path).split('.').map(Value::from).collect()
    } else if is_list(&path) {
        path.try_iter()?.collect()
    } else {
        return Err(fail("subelements must be a list or a string"));
    };
    let mut out = Vec::new();
    for element in elements {
        let mut values = element.clone();
        let mut missing = false;
        for key in &keys {
            match super::get_item(&values, key).filter(|v| !v.is_undefined()) {
                Some(v) => values = v,
                None if skip_missing => {
                    missing = true;
                    break;
                }
                None => {
                    return Err(fail(format!(
                        "could not find '{}' key in iterated item {}",
                        py_str(key),
                        super::filters::py_repr(&values)
                    )))
                }
            }
        }
        if missing {
            continue;
        }
        if !is_list(&values) {
            return Err(fail(format!("the key '{}' should point to a list, got {}", keys.iter().map(py_str).collect::<Vec<_>>().join("."), super::filters::py_repr(&values))));
        }
        for v in values.try_iter()? {
            out.push(Value::from(vec![element.clone(), v]));
        }
    }
    Ok(Value::from(out))
}

fn rekey_on_member(value: Value, key: Value, duplicates: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let duplicates = kwargs.get::<Option<String>>("duplicates")?.or(duplicates).unwrap_or_else(|| "error".into());
    kwargs.assert_all_used()?;
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(fail(format!("duplicates parameter to rekey_on_member has unknown value '{duplicates}'")));
    }
    let elements: Vec<Value> = match value.kind() {
        ValueKind::Map => value.try_iter()?.map(|k| value.get_item(&k)).collect::<Result<_, _>>()?,
        ValueKind::Seq | ValueKind::Iterable => value.try_iter()?.collect(),
        _ => return Err(fail("Type is not a valid list, set, or dict")),
    };
    let mut out: Vec<(Value, Value)> = Vec::new();
    for item in elements {
        if item.kind() != ValueKind::Map {
            return Err(fail("List item is not a valid dict"));
        }
        let k = super::get_item(&item, &key).filter(|v| !v.is_undefined()).ok_or_else(|| fail(format!("Key '{}' was not found.", py_str(&key))))?;
        match out.iter_mut().find(|(existing, _)| *existing == k) {
            Some(slot) if duplicates == "error" && slot.1.is_true() => {
                return Err(fail(format!("Key '{}' is not unique, cannot convert to dict.", py_str(&k))))
            }
            Some(slot) => slot.1 = item,
            None => out.push((k, item)),
        }
    }
    Ok(Value::from_pairs(out))
}
