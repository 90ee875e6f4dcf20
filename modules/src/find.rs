//! `find`: files on the host matching names, types, ages and sizes, in one round trip.
//!
//! The host runs GNU `find -printf` once per path and prints one NUL-terminated record
//! per entry; the patterns, `excludes`, `hidden`, `file_type`, `age` and `size` are
//! applied here, with Ansible's semantics (shell globs via fnmatch, or Python regexes
//! matched at the start of the base name).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use regex::Regex;
use serde_json::{Map, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Find;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("paths", ArgType::List, "Directories to search.").required().aliases(&["name", "path"]),
    ArgSpec::new("patterns", ArgType::List, "Base names to match: shell globs, or regexes with `use_regex`. Any one must match.")
        .aliases(&["pattern"]),
    ArgSpec::new("excludes", ArgType::List, "Base names to leave out, in the same syntax as `patterns`.").aliases(&["exclude"]),
    ArgSpec::new("use_regex", ArgType::Bool, "Read `patterns` and `excludes` as Python regexes matched at the start of the name.").default("no"),
    ArgSpec::new("file_type", ArgType::Str, "The type of entry to return.").default("file").choices(&["any", "directory", "file", "link"]),
    ArgSpec::new("recurse", ArgType::Bool, "Descend into subdirectories.").default("no"),
    ArgSpec::new("depth", ArgType::Int, "With `recurse`, how deep to go (1: only the path's own entries)."),
    ArgSpec::new("hidden", ArgType::Bool, "Include entries whose name starts with a dot.").default("no"),
    ArgSpec::new("follow", ArgType::Bool, "Follow symlinks into directories.").default("no"),
    ArgSpec::new("age", ArgType::Str, "Entries at least this old (`2d`, `1w`, `30m`), or at most this old when negative (`-1h`)."),
    ArgSpec::new("age_stamp", ArgType::Str, "The time `age` compares.").default("mtime").choices(&["atime", "ctime", "mtime"]),
    ArgSpec::new("size", ArgType::Str, "Entries at least this big (`10k`, `1m`, `2g`), or at most when negative (`-1m`)."),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "find",
    short: "Return a list of files based on specific criteria",
    description: "Lists entries under directories on the host that match name patterns (globs or regexes), a type, an age \
and a size, with each one's stat facts. Changes nothing; one round trip. Needs GNU find (`-printf`). \
`contains`, `read_whole_file`, `get_checksum`, `mode` and `encoding` are not supported.",
    args: ARGS,
    free_form: false,
    examples: "- name: Logs older than two weeks\n  ansible.builtin.find:\n    paths: /var/log\n    patterns: '*.log,*.gz'\n    age: 2w\n    recurse: yes\n  register: old_logs\n\n\
- name: Remove them\n  ansible.builtin.file:\n    path: \"{{ item.path }}\"\n    state: absent\n  loop: \"{{ old_logs.files }}\"\n\n\
- name: Directories named like a date\n  ansible.builtin.find:\n    paths: /srv/backups\n    file_type: directory\n    use_regex: yes\n    patterns: '^\\d{4}-\\d{2}-\\d{2}$'\n",
    returns: &[
        ("files", "the matches: dicts with path, mode, isdir, isreg, islnk, ischr, isblk, isfifo, issock, uid, gid, pw_name, gr_name, size, inode, dev, nlink, atime, mtime, ctime and the permission booleans"),
        ("matched", "how many entries matched"),
        ("examined", "how many entries were looked at"),
        ("skipped_paths", "paths that were not directories, with why"),
        ("msg", "what was skipped"),
    ],
};

const TAG: &str = "__provision_find_3e8b__";

/// The fields of one record, in order, before the path.
const FORMAT: &str = "%y %m %s %U %G %u %g %A@ %T@ %C@ %i %D %n %d %p\\0";

#[derive(Debug, Clone)]
struct Opts {
    paths: Vec<String>,
    recurse: bool,
    depth: Option<i64>,
    follow: bool,
}

fn script(o: &Opts) -> String {
    let mut s = format!(
        "if ! find / -maxdepth 0 -printf '' >/dev/null 2>&1; then printf '{TAG} nognu\\0'; exit 0; fi; "
    );
    let l = if o.follow { " -L" } else { "" };
    let max = if !o.recurse { " -maxdepth 1".to_string() } else { o.depth.map(|d| format!(" -maxdepth {d}")).unwrap_or_default() };
    for (i, p) in o.paths.iter().enumerate() {
        s.push_str(&format!(
            "if [ -d {q} ]; then printf '{TAG} path {i}\\0'; find{l} {q} -mindepth 1{max} -printf '{FORMAT}' 2>/dev/null; \
elif [ -e {q} ]; then printf '{TAG} notdir {i}\\0'; else printf '{TAG} absent {i}\\0'; fi; ",
            q = quote(p)
        ));
    }
    s.push_str("true");
    s
}

/// Python's fnmatch (case-sensitive): `*`, `?`, `[seq]`, `[!seq]`.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// Ansible's `age`: seconds, with a unit s/m/h/d/w; negative means "at most".
fn parse_age(s: &str) -> Option<i64> {
    let re = Regex::new(r"^(-?\d+)(s|m|h|d|w)?$").ok()?;
    let lower = s.trim().to_lowercase();
    let c = re.captures(&lower)?;
    let n: i64 = c[1].parse().ok()?;
    let unit = match c.get(2).map(|m| m.as_str()) {
        None | Some("s") => 1,
        Some("m") => 60,
        Some("h") => 3600,
        Some("d") => 86400,
        _ => 604800,
    };
    Some(n * unit)
}

/// Ansible's `size`: bytes, with a unit b/k/m/g/t (powers of 1024); negative means "at most".
fn parse_size(s: &str) -> Option<i64> {
    let re = Regex::new(r"^(-?\d+)(b|k|m|g|t)?$").ok()?;
    let lower = s.trim().to_lowercase();
    let c = re.captures(&lower)?;
    let n: i64 = c[1].parse().ok()?;
    let unit: i64 = match c.get(2).map(|m| m.as_str()) {
        None | Some("b") => 1,
        Some("k") => 1 << 10,
        Some("m") => 1 << 20,
        Some("g") => 1 << 30,
        _ => 1 << 40,
    };
    Some(n * unit)
}

fn float(s: &str) -> Value {
    s.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
}

/// One record (`%y %m ... %d %p`): its type letter, its depth, and Ansible's file dict.
fn entry(rec: &str) -> Option<(char, i64, Map<String, Value>)> {
    let f: Vec<&str> = rec.splitn(15, ' ').collect();
    if f.len() != 15 {
        return None;
    }
    let kind = f[0].chars().next()?;
    let mode = u32::from_str_radix(f[1], 8).ok()?;
    let mut m = Map::new();
    m.insert("path".into(), Value::String(f[14].to_string()));
    m.insert("mode".into(), Value::String(format!("{:04o}", mode & 0o7777)));
    for (key, k) in [("isdir", 'd'), ("ischr", 'c'), ("isblk", 'b'), ("isreg", 'f'), ("isfifo", 'p'), ("islnk", 'l'), ("issock", 's')] {
        m.insert(key.into(), Value::Bool(kind == k));
    }
    let int = |s: &str| s.parse::<u64>().map(Value::from).unwrap_or(Value::Null);
    m.insert("uid".into(), int(f[3]));
    m.insert("gid".into(), int(f[4]));
    m.insert("size".into(), int(f[2]));
    m.insert("inode".into(), int(f[10]));
    m.insert("dev".into(), int(f[11]));
    m.insert("nlink".into(), int(f[12]));
    m.insert("atime".into(), float(f[7]));
    m.insert("mtime".into(), float(f[8]));
    m.insert("ctime".into(), float(f[9]));
    // `find` prints the id when there is no name; Ansible leaves such names empty.
    m.insert("pw_name".into(), Value::String(if f[5] == f[3] { String::new() } else { f[5].to_string() }));
    m.insert("gr_name".into(), Value::String(if f[6] == f[4] { String::new() } else { f[6].to_string() }));
    crate::stat::insert_mode_bits(&mut m, mode);
    Some((kind, f[13].parse().unwrap_or(1), m))
}

enum Matcher {
    Glob(Vec<String>),
    Regex(Vec<Regex>),
}

impl Matcher {
    fn new(list: &[String], use_regex: bool) -> Result<Matcher, String> {
        if !use_regex {
            return Ok(Matcher::Glob(list.to_vec()));
        }
        let res = list
            .iter()
            .map(|p| Regex::new(&format!("^(?:{p})")).map_err(|e| format!("invalid regex {p:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Matcher::Regex(res))
    }
    fn any(&self, name: &str) -> bool {
        match self {
            Matcher::Glob(g) => g.iter().any(|p| fnmatch(p, name)),
            Matcher::Regex(r) => r.iter().any(|re| re.is_match(name)),
        }
    }
    fn is_empty(&self) -> bool {
        match self {
            Matcher::Glob(g) => g.is_empty(),
            Matcher::Regex(r) => r.is_empty(),
        }
    }
}

fn list(args: &Args, key: &str) -> Vec<String> {
    match args.get(key) {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => vec![],
    }
}

#[async_trait]
impl Module for Find {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let mut paths = Vec::new();
        for p in list(args, "paths") {
            paths.push(crate::util::expand_home(ctx.remote, &p).await?);
        }
        if paths.is_empty() {
            return Ok(ModuleResult::failed("missing required argument `paths` for module `find`"));
        }
        let flag = |k: &str, d: bool| args.get(k).and_then(to_bool).unwrap_or(d);
        let use_regex = flag("use_regex", false);
        let (patterns, excludes) = match (Matcher::new(&list(args, "patterns"), use_regex), Matcher::new(&list(args, "excludes"), use_regex)) {
            (Ok(p), Ok(e)) => (p, e),
            (Err(e), _) | (_, Err(e)) => return Ok(ModuleResult::failed(e)),
        };
        let file_type = text(args, "file_type").unwrap_or_else(|| "file".into());
        let age = match text(args, "age").filter(|s| !s.is_empty()) {
            Some(a) => match parse_age(&a) {
                Some(n) => Some(n),
                None => return Ok(ModuleResult::failed(format!("failed to process age: {a}"))),
            },
            None => None,
        };
        let size = match text(args, "size").filter(|s| !s.is_empty()) {
            Some(a) => match parse_size(&a) {
                Some(n) => Some(n),
                None => return Ok(ModuleResult::failed(format!("failed to process size: {a}"))),
            },
            None => None,
        };
        let stamp = text(args, "age_stamp").unwrap_or_else(|| "mtime".into());
        let depth = args.get("depth").and_then(Value::as_i64);
        let o = Opts { paths: paths.clone(), recurse: flag("recurse", false), depth, follow: flag("follow", false) };
        let hidden = flag("hidden", false);
        let out = ctx.remote.exec(&script(&o), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("find failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (mut files, mut examined, mut skipped) = (Vec::new(), 0u64, Map::new());
        for rec in stdout.split('\0').filter(|r| !r.is_empty()) {
            if let Some(rest) = rec.strip_prefix(TAG).map(str::trim) {
                let (what, i) = rest.split_once(' ').unwrap_or((rest, ""));
                let path = i.parse::<usize>().ok().and_then(|i| paths.get(i)).cloned().unwrap_or_default();
                match what {
                    "nognu" => return Ok(ModuleResult::failed("find needs GNU find (with -printf) on the host; install findutils")),
                    "absent" => {
                        skipped.insert(path.clone(), Value::String(format!("{path} was skipped as it does not exist")));
                    }
                    "notdir" => {
                        skipped.insert(path.clone(), Value::String(format!("{path} was skipped as it is not a directory")));
                    }
                    _ => {}
                }
                continue;
            }
            let Some((kind, level, m)) = entry(rec) else { continue };
            // `find` already stops at the depth; this keeps a stray deeper record out.
            let max_level = if o.recurse { depth.unwrap_or(i64::MAX) } else { 1 };
            if level > max_level {
                continue;
            }
            examined += 1;
            let path = m["path"].as_str().unwrap_or_default();
            let name = path.rsplit('/').next().unwrap_or(path);
            if !hidden && name.starts_with('.') {
                continue;
            }
            let type_ok = match file_type.as_str() {
                "any" => true,
                "directory" => kind == 'd',
                "link" => kind == 'l',
                _ => kind == 'f',
            };
            if !type_ok {
                continue;
            }
            let name_ok = patterns.is_empty() || patterns.any(name);
            if !name_ok || (!excludes.is_empty() && excludes.any(name)) {
                continue;
            }
            if let Some(age) = age {
                let t = m.get(&stamp).and_then(Value::as_f64).unwrap_or(0.0);
                let elapsed = now - t;
                let ok = if age >= 0 { elapsed >= age as f64 } else { elapsed <= (-age) as f64 };
                if !ok {
                    continue;
                }
            }
            if let Some(size) = size {
                let s = m.get("size").and_then(Value::as_i64).unwrap_or(0);
                let ok = if size >= 0 { s >= size } else { s <= -size };
                if !ok {
                    continue;
                }
            }
            files.push(Value::Object(m));
        }
        let mut r = ModuleResult::ok(false);
        let matched = files.len();
        let msg = if skipped.is_empty() { String::new() } else { skipped.values().filter_map(Value::as_str).collect::<Vec<_>>().join("; ") };
        r.set("files", Value::Array(files)).set("matched", matched).set("examined", examined).set("skipped_paths", Value::Object(skipped)).set("msg", msg);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::json;

    fn run(a: Value, answer: &str) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(&[answer]);
        let r = run_module(&Find, a, &fake, true, false);
        (r, fake.commands())
    }

    fn rec(kind: char, mode: &str, size: u64, mtime: f64, path: &str) -> String {
        let depth = path.matches('/').count() - 1;
        format!("{kind} {mode} {size} 0 0 root root {mtime} {mtime} {mtime} 12 2049 1 {depth} {path}\0")
    }

    fn host() -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let old = now - 10.0 * 86400.0;
        [
            format!("{TAG} path 0\0"),
            rec('f', "644", 10, now, "/d/a.log"),
            rec('f', "600", 5000, old, "/d/b.log"),
            rec('f', "644", 1, now, "/d/.hidden.log"),
            rec('d', "755", 4096, now, "/d/sub"),
            rec('l', "777", 4, now, "/d/link.log"),
            rec('f', "4755", 3, now, "/d/sub/c.txt"),
            format!("{TAG} absent 1\0"),
        ]
        .concat()
    }

    fn paths(r: &ModuleResult) -> Vec<String> {
        r.0["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn globs_types_and_hidden_in_one_round_trip() {
        let (r, sent) = run(json!({"paths": "/d,/missing dir", "patterns": "*.log"}), &host());
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("find /d -mindepth 1 -maxdepth 1 -printf"), "{}", sent[0]);
        assert!(sent[0].contains("[ -d '/missing dir' ]"), "{}", sent[0]);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(paths(&r), ["/d/a.log", "/d/b.log"]);
        assert_eq!(r.0["matched"], 2);
        assert_eq!(r.0["examined"], 5);
        assert!(r.0["msg"].as_str().unwrap().contains("/missing dir was skipped"));
        let f = &r.0["files"][1];
        assert_eq!((f["mode"].as_str(), f["size"].as_u64(), f["pw_name"].as_str()), (Some("0600"), Some(5000), Some("root")));
        assert_eq!((f["isreg"].as_bool(), f["rusr"].as_bool(), f["roth"].as_bool()), (Some(true), Some(true), Some(false)));
        let (r, _) = run(json!({"paths": ["/d"], "patterns": ["*.log"], "hidden": true, "file_type": "any"}), &host());
        assert_eq!(paths(&r), ["/d/a.log", "/d/b.log", "/d/.hidden.log", "/d/link.log"]);
    }

    #[test]
    fn recursion_regex_excludes_age_and_size() {
        let (r, sent) = run(json!({"paths": "/d", "recurse": true, "depth": 3, "use_regex": true, "patterns": ["[abc]\\."], "excludes": "a"}), &host());
        assert!(sent[0].contains("-mindepth 1 -maxdepth 3 -printf"), "{}", sent[0]);
        assert_eq!(paths(&r), ["/d/b.log", "/d/sub/c.txt"]);
        assert_eq!(r.0["files"][1]["isuid"], true);
        let (r, _) = run(json!({"paths": "/d", "age": "2d"}), &host());
        assert_eq!(paths(&r), ["/d/b.log"]);
        let (r, _) = run(json!({"paths": "/d", "age": "-1d"}), &host());
        assert_eq!(paths(&r), ["/d/a.log"]);
        let (r, _) = run(json!({"paths": "/d", "size": "1k"}), &host());
        assert_eq!(paths(&r), ["/d/b.log"]);
        let (r, _) = run(json!({"paths": "/d", "file_type": "directory"}), &host());
        assert_eq!(paths(&r), ["/d/sub"]);
    }

    #[test]
    fn bad_arguments_and_busybox() {
        let (r, sent) = run(json!({"paths": "/d", "file_type": "socket"}), "");
        assert!(r.is_failed() && sent.is_empty());
        let (r, _) = run(json!({"paths": "/d", "age": "soon"}), "");
        assert!(r.is_failed());
        let (r, _) = run(json!({"paths": "/d", "use_regex": true, "patterns": "(("}), "");
        assert!(r.is_failed());
        let (r, _) = run(json!({"paths": "/d"}), &format!("{TAG} nognu\0"));
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("GNU find"));
    }

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("*.log", "a.log"));
        assert!(!fnmatch("*.log", "a.log.1"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(fnmatch("[!a-c]x", "dx"));
        assert!(!fnmatch("[!a-c]x", "ax"));
        assert!(fnmatch("*", ".hidden"));
    }
}
