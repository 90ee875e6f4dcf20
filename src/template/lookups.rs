//! `lookup()`, `query()`/`q()` and the lookup plugins, run on the controller.
//!
//! `lookup` returns Ansible's munged result (one item alone, several strings joined with
//! `,`, other lists as they are) unless `wantlist=True`; `query`/`q` always return the list.
//! `errors='ignore'`/`'warn'` give `None` (or `[]` for a list) instead of failing.
//!
//! Plugins: `file`, `env`, `template`, `pipe`, `lines`, `fileglob`, `first_found`, `vars`,
//! `varnames`, `password`, `items`, `list`, `dict`, `indexed_items`, `sequence`, `together`,
//! `nested`, `subelements`, `random_choice`. Relative files are looked up in each search
//! path's `files/` (or `templates/`) and then the search path itself, then the same under the
//! playbook directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, Value};
use serde_json::Value as Json;

use super::dates::{format_time, now_epoch};
use super::filters::{fail, py_str};
use super::{crypt, value_to_json, with_call, Call};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", |args: Rest<ValueOrKwargs>| run_lookup(&unwrap_args(args), false));
    env.add_function("query", |args: Rest<ValueOrKwargs>| run_lookup(&unwrap_args(args), true));
    env.add_function("q", |args: Rest<ValueOrKwargs>| run_lookup(&unwrap_args(args), true));
    env.add_function("now", now);
}

fn unwrap_args(args: Rest<ValueOrKwargs>) -> Vec<Value> {
    args.0.into_iter().map(Value::from).collect()
}

/// The directories a relative file is looked for in: each search path's `subdir` then the
/// path itself, then the same under the playbook directory.
pub(crate) fn search_dirs(call: &Call<'_>, subdir: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for base in call.search.iter().map(PathBuf::as_path).chain(std::iter::once(call.templar.playbook_dir())) {
        for d in [base.join(subdir), base.to_path_buf()] {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

/// Find a file: absolute paths as they are, relative ones in [`search_dirs`].
fn find_file(call: &Call<'_>, subdir: &str, name: &str) -> Option<PathBuf> {
    let name = super::paths::expanduser(name);
    let path = Path::new(&name);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    search_dirs(call, subdir).into_iter().map(|d| d.join(path)).find(|p| p.exists())
}

fn run_lookup(args: &[Value], is_query: bool) -> Result<Value, Error> {
    let Some(name) = args.first().and_then(Value::as_str).map(str::to_string) else {
        return Err(fail("lookup() needs the name of a lookup plugin"));
    };
    let (terms, kwargs): (Vec<Value>, Kwargs) = match args[1..].split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest.to_vec(), Kwargs::try_from(last.clone())?),
        _ => (args[1..].to_vec(), Kwargs::from_iter(std::iter::empty::<(String, Value)>())),
    };
    if let Some(undefined) = terms.iter().find(|t| t.is_undefined()) {
        return Err(super::undefined_error(undefined));
    }
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(is_query);
    let errors = kwargs.get::<Option<String>>("errors")?.unwrap_or_else(|| "strict".into());
    let short = name.trim_start_matches("ansible.builtin.").to_string();
    let result = with_call(|call| run_plugin(call, &short, &terms, &kwargs))
        .unwrap_or_else(|| Err(fail("lookup() used outside of a template")));
    let items = match result {
        Ok(items) => items,
        Err(e) if errors == "ignore" || errors == "warn" => {
            let _ = e;
            return Ok(if wantlist { Value::from(Vec::<Value>::new()) } else { Value::from(()) });
        }
        Err(e) => {
            return Err(fail(format!("lookup plugin '{short}' failed: {}", e.detail().unwrap_or("error"))));
        }
    };
    if wantlist || items.is_empty() {
        return Ok(Value::from(items));
    }
    if items.len() == 1 {
        return Ok(items.into_iter().next().unwrap_or_default());
    }
    if items.iter().all(|i| i.kind() == ValueKind::String) {
        return Ok(Value::from(items.iter().map(py_str).collect::<Vec<_>>().join(",")));
    }
    Ok(Value::from(items))
}

fn run_plugin(call: &Call<'_>, name: &str, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let out = match name {
        "file" => file(call, terms, kwargs)?,
        "env" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            terms.iter().map(|t| match std::env::var(py_str(t)) {
                Ok(v) => Value::from(v),
                Err(_) => default.clone().unwrap_or(Value::from("")),
            }).collect()
        }
        "template" => template(call, terms, kwargs)?,
        "pipe" => terms.iter().map(|t| pipe(call, &py_str(t)).map(|s| Value::from(s.trim_end()))).collect::<Result<_, _>>()?,
        "lines" => {
            let mut out = Vec::new();
            for t in terms {
                out.extend(pipe(call, &py_str(t))?.lines().map(Value::from));
            }
            out
        }
        "fileglob" => fileglob(call, terms),
        "unvault" => {
            let mut out = Vec::new();
            for t in terms {
                let name = py_str(t);
                let path = find_file(call, "files", &name).filter(|p| p.is_file()).ok_or_else(|| fail(format!("Unable to find '{name}' in expected paths")))?;
                let mut bytes = std::fs::read(&path).map_err(|e| fail(format!("could not read {}: {e}", path.display())))?;
                if crate::vault::is_encrypted(&bytes) {
                    bytes = crate::vault::decrypt(&String::from_utf8_lossy(&bytes)).map_err(|e| fail(format!("{e} ({})", path.display())))?;
                }
                out.push(Value::from(String::from_utf8_lossy(&bytes).into_owned()));
            }
            out
        }
        "first_found" => first_found(call, terms, kwargs)?,
        "vars" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            let mut out = Vec::new();
            for t in terms {
                let name = py_str(t);
                match call.lookup_var(&name) {
                    Some(v) if !v.is_undefined() => out.push(v),
                    _ => match &default {
                        Some(d) => out.push(d.clone()),
                        None => return Err(fail(format!("No variable found with this name: {name}"))),
                    },
                }
            }
            out
        }
        "varnames" => {
            let mut out = Vec::new();
            for t in terms {
                let re = super::filters::py_regex(&py_str(t), false, false)?;
                out.extend(call.vars.keys().filter(|k| re.find(k).is_some_and(|m| m.start() == 0)).map(|k| Value::from(k.as_str())));
            }
            out
        }
        "password" => terms.iter().map(|t| password(call, &py_str(t), kwargs)).collect::<Result<_, _>>()?,
        "items" => flatten_one(terms)?,
        "list" => terms.to_vec(),
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                if t.kind() != ValueKind::Map {
                    return Err(fail("with_dict expects a dict"));
                }
                for k in t.try_iter()? {
                    let v = t.get_item(&k)?;
                    out.push(Value::from_pairs([("key", k), ("value", v)]));
                }
            }
            out
        }
        "indexed_items" => flatten_one(terms)?.into_iter().enumerate().map(|(i, v)| Value::from(vec![Value::from(i), v])).collect(),
        "sequence" => {
            let mut out = Vec::new();
            for t in terms {
                out.extend(sequence(&py_str(t), kwargs)?.into_iter().map(Value::from));
            }
            if terms.is_empty() {
                out.extend(sequence("", kwargs)?.into_iter().map(Value::from));
            }
            out
        }
        "together" => {
            let lists: Vec<Vec<Value>> = terms.iter().map(|t| t.try_iter().map(|i| i.collect())).collect::<Result<_, _>>()?;
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n).map(|i| Value::from(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::from(()))).collect::<Vec<_>>())).collect()
        }
        "nested" => {
            let lists: Vec<Vec<Value>> = terms.iter().map(|t| t.try_iter().map(|i| i.collect())).collect::<Result<_, _>>()?;
            let mut result: Vec<Vec<Value>> = vec![Vec::new()];
            for pool in lists {
                result = result
                    .iter()
                    .flat_map(|prefix| pool.iter().map(move |item| {
                        let mut t = prefix.clone();
                        t.push(item.clone());
                        t
                    }))
                    .collect();
            }
            if terms.is_empty() { Vec::new() } else { result.into_iter().map(Value::from).collect() }
        }
        "subelements" => subelements_lookup(terms)?,
        "random_choice" => {
            let items = flatten_one(terms)?;
            if items.is_empty() {
                Vec::new()
            } else {
                vec![items[crypt::system_random_below(items.len()).map_err(fail)?].clone()]
            }
        }
        other => return Err(fail(format!("lookup plugin '{other}' not found"))),
    };
    // Options every plugin accepts: read them so `assert_all_used` passes.
    for common in ["wantlist", "errors", "default", "rstrip", "lstrip", "convert_data", "template_vars", "files", "paths", "skip", "length", "chars", "encrypt", "seed", "ident", "start", "end", "count", "stride", "format", "variable_start_string", "variable_end_string", "comment_start_string", "comment_end_string", "trim_blocks", "jinja2_native"] {
        let _ = kwargs.get::<Option<Value>>(common);
    }
    kwargs.assert_all_used()?;
    Ok(out)
}

/// `with_subelements`: like the filter, but the list key is removed from each element
/// (Ansible pops it).
fn subelements_lookup(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let bad = |msg: &str| fail(format!("subelements lookup expects a list of two or three items, {msg}"));
    let (Some(list), Some(path)) = (terms.first(), terms.get(1)) else {
        return Err(bad(""));
    };
    let skip_missing = terms.get(2).is_some_and(|f| f.get_attr("skip_missing").is_ok_and(super::filters::to_bool));
    let keys: Vec<String> = py_str(path).split('.').map(str::to_string).collect();
    let elements: Vec<Json> = match value_to_json(list)? {
        Json::Array(a) => a,
        Json::Object(m) if m.get("skipped").is_some_and(|s| s != &Json::Bool(false)) => return Ok(Vec::new()),
        Json::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
        _ => return Err(bad("first a dict or a list, second a string pointing to the subkey")),
    };
    let mut out = Vec::new();
    for mut element in elements {
        let Json::Object(_) = element else {
            return Err(fail(format!("subelements lookup expects a dictionary, got '{element}'")));
        };
        if element.get("skipped").is_some_and(|s| s != &Json::Bool(false)) {
            continue;
        }
        let mut sublist = Vec::new();
        let mut node = &element;
        let mut found = true;
        for (i, key) in keys.iter().enumerate() {
            let last = i + 1 == keys.len();
            let Some(next) = node.get(key) else {
                if skip_missing {
                    found = false;
                    break;
                }
                return Err(fail(format!("could not find '{key}' key in iterated item '{node}'")));
            };
            match (last, next) {
                (true, Json::Array(items)) => sublist = items.clone(),
                (true, other) => return Err(fail(format!("the key {key} should point to a list, got '{other}'"))),
                (false, Json::Object(_)) => node = next,
                (false, _) if skip_missing => {
                    found = false;
                    break;
                }
                (false, other) => return Err(fail(format!("the key {key} should point to a dictionary, got '{other}'"))),
            }
        }
        if found {
            remove_path(&mut element, &keys);
        }
        for item in sublist {
            out.push(Value::from(vec![super::plain_value(&element), super::plain_value(&item)]));
        }
    }
    Ok(out)
}

fn remove_path(node: &mut Json, keys: &[String]) {
    if let (Some((first, rest)), Json::Object(m)) = (keys.split_first(), node) {
        if rest.is_empty() {
            m.remove(first);
        } else if let Some(next) = m.get_mut(first) {
            remove_path(next, rest);
        }
    }
}

fn flatten_one(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        if matches!(t.kind(), ValueKind::Seq | ValueKind::Iterable) {
            out.extend(t.try_iter()?);
        } else {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn file(call: &Call<'_>, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
    let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
    let mut out = Vec::new();
    for t in terms {
        let name = py_str(t);
        let path = find_file(call, "files", &name).filter(|p| p.is_file()).ok_or_else(|| fail(format!("could not locate file in lookup: {name}")))?;
        let mut bytes = std::fs::read(&path).map_err(|e| fail(format!("could not read {}: {e}", path.display())))?;
        // A vaulted file reads decrypted, as Ansible's loader gives it.
        if crate::vault::is_encrypted(&bytes) {
            bytes = crate::vault::decrypt(&String::from_utf8_lossy(&bytes)).map_err(|e| fail(format!("{e} ({})", path.display())))?;
        }
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if rstrip {
            text.truncate(text.trim_end().len());
        }
        if lstrip {
            text = text.trim_start().to_string();
        }
        out.push(Value::from(text));
    }
    Ok(out)
}

fn template(call: &Call<'_>, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let extra = kwargs.get::<Option<Value>>("template_vars")?;
    let mut vars = call.vars.clone();
    if let Some(extra) = extra.filter(|e| !e.is_none()) {
        if let Json::Object(m) = value_to_json(&extra)? {
            vars.extend(m);
        }
    }
    let mut out = Vec::new();
    for t in terms {
        let name = py_str(t);
        let path = find_file(call, "templates", &name).filter(|p| p.is_file()).ok_or_else(|| fail(format!("the template file {name} could not be found for the lookup")))?;
        let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("could not read {}: {e}", path.display())))?;
        let mut vars = vars.clone();
        vars.insert("template_path".into(), Json::String(name.clone()));
        vars.insert("template_fullpath".into(), Json::String(path.to_string_lossy().into_owned()));
        let inner = call.with_vars(&vars);
        let rendered = Call::scoped(&inner, || inner.render_file(&text, &path.to_string_lossy()));
        out.push(Value::from(rendered.map_err(|e| fail(e.to_string()))?));
    }
    Ok(out)
}

/// Run `sh -c command` on the controller in the playbook directory; its stdout.
fn pipe(call: &Call<'_>, command: &str) -> Result<String, Error> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(call.templar.playbook_dir())
        .output()
        .map_err(|e| fail(format!("lookup_plugin.pipe({command}) could not run: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!("lookup_plugin.pipe({command}) returned {}", output.status.code().unwrap_or(-1))));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn fileglob(call: &Call<'_>, terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        let pattern = py_str(t);
        if Path::new(&pattern).is_absolute() {
            out.extend(super::paths::glob_files(&pattern).into_iter().map(Value::from));
            continue;
        }
        // Like Ansible: the first search directory holding the pattern's directory wins.
        let dir = Path::new(&pattern).parent().map(Path::to_path_buf).unwrap_or_default();
        for base in search_dirs(call, "files") {
            if base.join(&dir).is_dir() {
                let full = base.join(&pattern);
                let found = super::paths::glob_files(&full.to_string_lossy());
                if !found.is_empty() {
                    out.extend(found.into_iter().map(Value::from));
                    break;
                }
            }
        }
    }
    out
}

fn split_on(v: &Value, seps: &[char]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    match v.kind() {
        ValueKind::String => out.extend(py_str(v).split(seps).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)),
        ValueKind::Seq | ValueKind::Iterable => {
            for item in v.try_iter()? {
                out.extend(split_on(&item, seps)?);
            }
        }
        ValueKind::None | ValueKind::Undefined => {}
        _ => out.push(py_str(v)),
    }
    Ok(out)
}

fn first_found(call: &Call<'_>, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let mut files: Vec<String> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut skip = kwargs.get::<Option<bool>>("skip")?.unwrap_or(false);
    if let Some(f) = kwargs.get::<Option<Value>>("files")? {
        files.extend(split_on(&f, &[','])?);
    }
    if let Some(p) = kwargs.get::<Option<Value>>("paths")? {
        paths.extend(split_on(&p, &[',', ':', ';'])?);
    }
    let add_term = |t: &Value, files: &mut Vec<String>, paths: &mut Vec<String>, skip: &mut bool| -> Result<(), Error> {
        if t.kind() == ValueKind::Map {
            if let Some(f) = t.get_attr("files").ok().filter(|v| !v.is_undefined()) {
                files.extend(split_on(&f, &[','])?);
            }
            if let Some(p) = t.get_attr("paths").ok().filter(|v| !v.is_undefined()) {
                paths.extend(split_on(&p, &[',', ':', ';'])?);
            }
            if let Some(s) = t.get_attr("skip").ok().filter(|v| !v.is_undefined()) {
                *skip = s.is_true();
            }
        } else {
            files.extend(split_on(t, &[','])?);
        }
        Ok(())
    };
    for t in terms {
        if matches!(t.kind(), ValueKind::Seq | ValueKind::Iterable) {
            for item in t.try_iter()? {
                add_term(&item, &mut files, &mut paths, &mut skip)?;
            }
        } else {
            add_term(t, &mut files, &mut paths, &mut skip)?;
        }
    }
    let candidates: Vec<String> = if paths.is_empty() {
        files
    } else {
        files.iter().flat_map(|f| paths.iter().map(move |p| format!("{}/{f}", p.trim_end_matches('/')))).collect()
    };
    for c in &candidates {
        if let Some(found) = find_file(call, "files", c).filter(|p| p.is_file()) {
            return Ok(vec![Value::from(found.to_string_lossy().into_owned())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(fail("No file was found when using first_found."))
}

/// Serialises password files: hosts render in parallel and must share one password.
static PASSWORD_LOCK: Mutex<()> = Mutex::new(());

fn password(call: &Call<'_>, term: &str, kwargs: &Kwargs) -> Result<Value, Error> {
    let (relpath, params) = match term.split_once(' ') {
        Some((p, rest)) => (p.to_string(), parse_kv(rest)),
        None => (term.to_string(), Vec::new()),
    };
    let param = |key: &str| -> Result<Option<String>, Error> {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
            return Ok(Some(v.clone()));
        }
        Ok(kwargs.get::<Option<Value>>(key)?.filter(|v| !v.is_none()).map(|v| {
            if matches!(v.kind(), ValueKind::Seq) {
                v.try_iter().map(|i| i.map(|x| py_str(&x)).collect::<Vec<_>>().join(",")).unwrap_or_default()
            } else {
                py_str(&v)
            }
        }))
    };
    if let Some((bad, _)) = params.iter().find(|(k, _)| !["length", "encrypt", "chars", "ident", "seed"].contains(&k.as_str())) {
        return Err(fail(format!("Unrecognized parameter(s) given to password lookup: {bad}")));
    }
    let length: usize = match param("length")? {
        Some(l) => l.parse().map_err(|_| fail(format!("invalid length {l}")))?,
        None => 20,
    };
    let chars = password_chars(param("chars")?.as_deref());
    let encrypt = param("encrypt")?;
    let seed = param("seed")?;
    let path = if relpath == "/dev/null" || Path::new(&relpath).is_absolute() {
        PathBuf::from(super::paths::expanduser(&relpath))
    } else {
        call.templar.playbook_dir().join(super::paths::expanduser(&relpath))
    };
    let store = path != Path::new("/dev/null");

    let _guard = PASSWORD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let existing = if store { std::fs::read_to_string(&path).ok().map(|c| c.trim_end().to_string()) } else { None };
    let (plain, mut salt, mut changed) = match existing {
        Some(content) => {
            let (pw, salt) = match content.rfind(" salt=") {
                Some(i) => (content[..i].to_string(), Some(content[i + 6..].split(" ident=").next().unwrap_or_default().to_string())),
                None => (content, None),
            };
            (pw, salt, false)
        }
        None => {
            let pw = match &seed {
                Some(s) => {
                    let mut r = super::pyrandom::PyRandom::from_str(s);
                    (0..length).map(|_| chars[r.below(chars.len() as u64) as usize]).collect()
                }
                None => crypt::random_string(length, &chars).map_err(fail)?,
            };
            (pw, None, true)
        }
    };
    if encrypt.is_some() && salt.is_none() {
        let size = if encrypt.as_deref().is_some_and(|e| e.starts_with("md5")) { 8 } else { 16 };
        salt = Some(crypt::random_string(size, &crypt::salt_chars()).map_err(fail)?);
        changed = true;
    }
    if changed && store {
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        let content = match &salt {
            Some(s) if encrypt.is_some() => format!("{plain} salt={s}\n"),
            _ => format!("{plain}\n"),
        };
        write_private_file(&path, &content).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    }
    match encrypt {
        Some(scheme) => {
            let hashtype = scheme.trim_end_matches("_crypt");
            crypt::password_hash(&plain, hashtype, salt.as_deref(), None, None).map(Value::from).map_err(fail)
        }
        None => Ok(Value::from(plain)),
    }
}

/// The candidate characters of `chars=`: names from Python's `string` module or literal
/// text, comma-separated (`,,` is a comma). Quotes are never used.
fn password_chars(spec: Option<&str>) -> Vec<char> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";
    const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let specs: Vec<String> = match spec {
        None => vec!["ascii_letters".into(), "digits".into(), ".,:-_".into()],
        Some(s) => {
            let mut v = Vec::new();
            if s.contains(",,") {
                v.push(",".to_string());
            }
            v.extend(s.replace(",,", ",").split(',').filter(|c| !c.is_empty()).map(str::to_string));
            v
        }
    };
    let mut out = String::new();
    for spec in specs {
        out.push_str(&match spec.as_str() {
            "ascii_letters" | "letters" => format!("{LOWER}{UPPER}"),
            "ascii_lowercase" | "lowercase" => LOWER.to_string(),
            "ascii_uppercase" | "uppercase" => UPPER.to_string(),
            "digits" => DIGITS.to_string(),
            "hexdigits" => "0123456789abcdefABCDEF".to_string(),
            "octdigits" => "01234567".to_string(),
            "punctuation" => PUNCT.to_string(),
            "printable" => format!("{DIGITS}{LOWER}{UPPER}{PUNCT} \t\n\r\x0b\x0c"),
            "whitespace" => " \t\n\r\x0b\x0c".to_string(),
            other => other.to_string(),
        });
    }
    out.chars().filter(|c| *c != '"' && *c != '\'').collect()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

fn write_private_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())
}

/// `k=v k2='v 2'` pairs (shell-like quoting).
fn parse_kv(s: &str) -> Vec<(String, String)> {
    shlex::split(s)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// `sequence`: `start=1 end=10 stride=2 format=host%02d`, `count=`, or `[start-]end[/stride][:format]`.
fn sequence(term: &str, kwargs: &Kwargs) -> Result<Vec<String>, Error> {
    let mut start: i64 = 1;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride: i64 = 1;
    let mut format = "%d".to_string();
    let int = |k: &str, v: &str| -> Result<i64, Error> {
        super::filters::parse_py_int(v, 0).ok_or_else(|| fail(format!("can't parse {k}={v} as integer")))
    };
    for key in ["start", "end", "count", "stride", "format"] {
        if let Some(v) = kwargs.get::<Option<Value>>(key)? {
            let v = py_str(&v);
            match key {
                "start" => start = int(key, &v)?,
                "end" => end = Some(int(key, &v)?),
                "count" => count = Some(int(key, &v)?),
                "stride" => stride = int(key, &v)?,
                _ => format = v,
            }
        }
    }
    let term = term.trim();
    if term.contains('=') {
        for (k, v) in parse_kv(term) {
            match k.as_str() {
                "start" => start = int(&k, &v)?,
                "end" => end = Some(int(&k, &v)?),
                "count" => count = Some(int(&k, &v)?),
                "stride" => stride = int(&k, &v)?,
                "format" => format = v,
                other => return Err(fail(format!("unrecognized arguments to with_sequence: {other}"))),
            }
        }
    } else if !term.is_empty() {
        let (range, fmt) = term.split_once(':').map_or((term, None), |(r, f)| (r, Some(f)));
        let (range, st) = range.split_once('/').map_or((range, None), |(r, s)| (r, Some(s)));
        match range.split_once('-') {
            Some((a, b)) => {
                start = int("start", a)?;
                end = Some(int("end", b)?);
            }
            None => end = Some(int("end", range)?),
        }
        if let Some(s) = st {
            stride = int("stride", s)?;
        }
        if let Some(f) = fmt {
            format = f.to_string();
        }
    }
    if let Some(c) = count {
        if end.is_some() {
            return Err(fail("can't specify both count and end in with_sequence"));
        }
        end = Some(if c == 0 { start - stride } else { start + (c - 1) * stride });
        if c == 0 {
            return Ok(Vec::new());
        }
    }
    let end = end.ok_or_else(|| fail("must specify count or end in with_sequence"))?;
    if stride == 0 {
        return Ok(Vec::new());
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err(fail("to count backwards make stride negative"));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(printf_int(&format, i)?);
        i += stride;
    }
    Ok(out)
}

/// Python's `format % n` for one integer.
fn printf_int(format: &str, n: i64) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if "-+ 0#.".contains(d) || d.is_ascii_digit() {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let kind = chars.next().ok_or_else(|| fail(format!("bad formatting string: {format}")))?;
        let zero = spec.starts_with('0');
        let left = spec.contains('-');
        let width: usize = spec.trim_start_matches(['-', '+', ' ', '0', '#']).split('.').next().unwrap_or("").parse().unwrap_or(0);
        let body = match kind {
            'd' | 'i' | 'u' | 's' => n.to_string(),
            'x' => format!("{n:x}"),
            'X' => format!("{n:X}"),
            'o' => format!("{n:o}"),
            'f' | 'F' => format!("{:.6}", n as f64),
            _ => return Err(fail(format!("bad formatting string: {format}"))),
        };
        used = true;
        let pad = width.saturating_sub(body.chars().count());
        if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(pad));
        } else if zero && kind != 's' {
            let (sign, digits) = body.strip_prefix('-').map_or(("", body.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&body);
        }
    }
    if !used {
        return Err(fail(format!("bad formatting string: {format}")));
    }
    Ok(out)
}

/// `now(utc=False, fmt=None)`: the current time (UTC), formatted with `fmt`, or a datetime
/// object that prints as `2024-01-02 03:04:05.678901`.
fn now(kwargs: Kwargs) -> Result<Value, Error> {
    let _ = kwargs.get::<Option<bool>>("utc")?;
    let fmt = kwargs.get::<Option<String>>("fmt")?;
    kwargs.assert_all_used()?;
    let epoch = now_epoch();
    Ok(match fmt {
        Some(fmt) => Value::from(format_time(&fmt, epoch)),
        None => Value::from_object(super::dates::DateTime { epoch }),
    })
}
