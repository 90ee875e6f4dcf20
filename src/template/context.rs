//! The variables as minijinja sees them: the root context ([`Root`]), `vars`
//! ([`AllVars`]) and [`Lazy`] views of dicts and lists, which read the call's variables in
//! place and render template strings on access; and the conversions between minijinja
//! values and the engine's JSON.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use minijinja::{Error, ErrorKind, Value};
use serde_json::Value as Json;

use super::{unsafe_text, with_call, Call};

/// The root context: variables of the current call.
#[derive(Debug)]
pub(super) struct Root;

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        // A lazy value that failed as undefined reads as missing, so the engine makes an
        // undefined that remembers where it was used.
        with_call(|c| c.lookup_var(name)).flatten().filter(|v| !v.is_undefined())
    }
}

/// The `vars` variable: every variable of the current call, as a dict.
#[derive(Debug)]
pub(super) struct AllVars;

impl Object for AllVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        with_call(|c| c.lookup_var(name)).flatten().filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys = with_call(|c| c.vars.keys().map(|k| Value::from(k.as_str())).collect::<Vec<_>>());
        Enumerator::Values(keys.unwrap_or_default())
    }
}

/// A dict or list of the variables, read on access: nothing is copied, and strings with
/// templates in it are rendered when (and if) they are used. It reads the variables of the
/// call that made it, and nothing once that call is over.
#[derive(Debug)]
pub(super) struct Lazy {
    call: u64,
    /// Keys from the top-level variable down.
    pointer: Vec<PathKey>,
    /// The same as text (`d.x[0]`), for loop detection and errors.
    path: String,
    /// `Some(len)` for a list.
    seq_len: Option<usize>,
}

#[derive(Debug, Clone)]
pub(super) enum PathKey {
    Key(String),
    Index(usize),
}

impl Lazy {
    pub(super) fn new(call: u64, pointer: &[PathKey], path: &str, seq_len: Option<usize>) -> Lazy {
        Lazy { call, pointer: pointer.to_vec(), path: path.to_string(), seq_len }
    }

    /// Run `f` on this node of the current call's variables.
    fn with_node<R>(&self, f: impl FnOnce(&Call<'_>, &Json) -> R) -> Option<R> {
        with_call(|c| {
            if c.id != self.call {
                return None;
            }
            let (PathKey::Key(name), rest) = self.pointer.split_first()? else {
                return None;
            };
            let mut node = c.vars.get(name)?;
            for key in rest {
                node = match (key, node) {
                    (PathKey::Key(k), Json::Object(m)) => m.get(k)?,
                    (PathKey::Index(i), Json::Array(a)) => a.get(*i)?,
                    _ => return None,
                };
            }
            Some(f(c, node))
        })
        .flatten()
    }

    fn child(&self, call: &Call<'_>, key: PathKey, json: &Json) -> Value {
        let path = match &key {
            PathKey::Key(k) => format!("{}.{k}", self.path),
            PathKey::Index(i) => format!("{}[{i}]", self.path),
        };
        let mut pointer = self.pointer.clone();
        pointer.push(key);
        call.convert(json, &pointer, &path)
    }
}

impl Object for Lazy {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.seq_len.is_some() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Map
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.with_node(|call, node| match node {
            Json::Object(m) => {
                let k = key.as_str()?;
                m.get(k).map(|v| self.child(call, PathKey::Key(k.to_string()), v))
            }
            Json::Array(a) => {
                let i = key.as_i64()?;
                let i = if i < 0 { a.len() as i64 + i } else { i };
                let i = usize::try_from(i).ok()?;
                a.get(i).map(|v| self.child(call, PathKey::Index(i), v))
            }
            _ => None,
        })
        .flatten()
        // A lazy value that failed as undefined reads as missing, so the engine makes an
        // undefined that remembers where it was used.
        .filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if let Some(len) = self.seq_len {
            return Enumerator::Seq(len);
        }
        let keys = self.with_node(|_, node| match node {
            Json::Object(m) => m.keys().map(|k| Value::from(k.as_str())).collect(),
            _ => Vec::new(),
        });
        Enumerator::Values(keys.unwrap_or_default())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.seq_len {
            Some(len) => Some(len),
            None => self.with_node(|_, node| node.as_object().map_or(0, serde_json::Map::len)),
        }
    }
}

/// Convert JSON without templates to a minijinja value.
pub(crate) fn plain_value(json: &Json) -> Value {
    match json {
        Json::Object(m) if unsafe_text(m).is_some() => Value::from(unsafe_text(m).unwrap_or_default()),
        Json::Object(m) if super::vault_text(m).is_some() => match crate::vault::decrypt_inline(super::vault_text(m).unwrap_or_default()) {
            Ok(text) => Value::from(text),
            Err(message) => Value::from(Error::new(minijinja::ErrorKind::InvalidOperation, message)),
        },
        _ => Value::from(Serde(json)),
    }
}

/// Convert a minijinja value to JSON. Undefined and invalid values are errors.
pub(crate) fn value_to_json(v: &Value) -> Result<Json, Error> {
    use minijinja::value::ValueKind as K;
    Ok(match v.kind() {
        K::Undefined => return Err(undefined_error(v)),
        K::None => Json::Null,
        K::Bool => Json::Bool(v.is_true()),
        K::Number => number_to_json(v),
        K::String => Json::String(v.as_str().unwrap_or_default().to_string()),
        K::Bytes => Json::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()),
        K::Seq | K::Iterable => {
            let mut out = Vec::new();
            for item in v.try_iter()? {
                out.push(value_to_json(&item)?);
            }
            Json::Array(out)
        }
        K::Map => {
            let mut out = serde_json::Map::new();
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                out.insert(key_string(&key), value_to_json(&item)?);
            }
            Json::Object(out)
        }
        K::Invalid => {
            // Surfaces the error the value carries.
            serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?
        }
        _ => Json::String(v.to_string()),
    })
}

pub(super) fn number_to_json(v: &Value) -> Json {
    if !v.is_integer() {
        return match f64::try_from(v.clone()) {
            Ok(f) if f.is_finite() => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
            _ => Json::String(v.to_string()),
        };
    }
    if let Some(i) = v.as_i64() {
        return Json::from(i);
    }
    match serde_json::to_value(v) {
        Ok(Json::Number(n)) => Json::Number(n),
        _ => match f64::try_from(v.clone()) {
            Ok(f) if f.is_finite() => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
            _ => Json::String(v.to_string()),
        },
    }
}

/// `v[key]`, or `None` when missing (or undefined).
pub(crate) fn get_item(v: &Value, key: &Value) -> Option<Value> {
    v.get_item(key).ok().filter(|x| !x.is_undefined())
}

/// A dict key as Python's `str()` would print it.
fn key_string(k: &Value) -> String {
    match k.as_str() {
        Some(s) => s.to_string(),
        None => k.to_string(),
    }
}

/// An undefined-value error that remembers where the value came from, so that the message
/// names it (minijinja only exposes this through `get_attr` on the undefined value).
pub(crate) fn undefined_error(v: &Value) -> Error {
    match v.get_attr("__provision_undefined__") {
        Err(e) => e,
        Ok(_) => Error::from(ErrorKind::UndefinedError),
    }
}
