//! `stat`: what is at a path on the host — type, mode, owner, size, times, checksum,
//! link target, MIME type and file attributes — in one round trip, changing nothing.
//!
//! The facts come from `stat -c` (GNU coreutils; times with nanoseconds), the `[ -r ]`
//! family for access, `sha1sum` (or `md5sum`, `sha256sum`...) for the checksum, `file`
//! for the MIME type and `lsattr` for attributes, each only where it applies and left
//! out quietly where the tool is missing, as Ansible does.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{util, Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Stat;

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("path", ArgType::Path, "The full path of the file or object to describe.").required().aliases(&["dest", "name"]),
    ArgSpec::new("follow", ArgType::Bool, "Follow symlinks: describe what a link points to.").default("no"),
    ArgSpec::new("get_checksum", ArgType::Bool, "Return the checksum of a regular, readable file.").default("yes"),
    ArgSpec::new("checksum_algorithm", ArgType::Str, "The algorithm of `checksum`.")
        .default("sha1")
        .choices(ALGORITHMS)
        .aliases(&["checksum", "checksum_algo"]),
    ArgSpec::new("get_mime", ArgType::Bool, "Return `mimetype` and `charset` (from `file`; `unknown` when it is not installed).")
        .default("yes")
        .aliases(&["mime", "mime_type", "mime-type"]),
    ArgSpec::new("get_attributes", ArgType::Bool, "Return the file attributes (from `lsattr`).").default("yes").aliases(&["attr", "attributes"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "stat",
    short: "Retrieve file or file system status",
    description: "Describes a path on the host like the stat(2) call: type, permissions, owner, size, times, \
the checksum of a regular file, the target of a symlink. Never changes anything; one round trip.",
    args: ARGS,
    free_form: false,
    examples: "- name: Is there a config file?\n  ansible.builtin.stat:\n    path: /etc/app.conf\n  register: conf\n\n\
- name: Complain when it is writable by others\n  ansible.builtin.fail:\n    msg: /etc/app.conf is world-writable\n  when: conf.stat.exists and conf.stat.woth\n\n\
- name: Checksum with SHA-256, no MIME type\n  ansible.builtin.stat:\n    path: /srv/data/model.bin\n    checksum_algorithm: sha256\n    get_mime: no\n  register: model\n",
    returns: &[
        ("stat.exists", "whether the path exists (the only key when it does not)"),
        ("stat.path", "the path"),
        ("stat.mode", "permission bits in octal (`0644`)"),
        ("stat.isdir / isreg / islnk / ischr / isblk / isfifo / issock", "the type"),
        ("stat.uid / gid / pw_name / gr_name", "owner and group, as ids and names"),
        ("stat.size", "size in bytes"),
        ("stat.atime / mtime / ctime", "times, seconds since the epoch (with fractions)"),
        ("stat.inode / dev / nlink / blocks / block_size / device_type", "the rest of stat(2)"),
        ("stat.rusr / wusr / xusr / rgrp / wgrp / xgrp / roth / woth / xoth / isuid / isgid", "permission bits as booleans"),
        ("stat.readable / writeable / executable", "what the connecting (or become) user may do"),
        ("stat.checksum", "checksum of a readable regular file (`checksum_algorithm`, SHA-1 by default)"),
        ("stat.lnk_target / lnk_source", "a symlink's target as written, and resolved"),
        ("stat.mimetype / charset", "from `file`, `unknown` without it"),
        ("stat.version / attributes / attr_flags", "from `lsattr`"),
    ],
};

/// Marks the lines of the stat script.
const TAG: &str = "__provision_stat_91b4__";

/// Ansible's FILE_ATTRIBUTES: `lsattr` flags and their names.
const FILE_ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// The options that shape the script.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Opts {
    path: String,
    follow: bool,
    checksum: Option<&'static str>,
    mime: bool,
    attributes: bool,
}

/// The script: one `stat` line, then the extras that apply.
fn script(o: &Opts) -> String {
    let l = if o.follow { " -L" } else { "" };
    let mut s = format!(
        "p={}; if [ ! -e \"$p\" ] && {{ [ -n '{}' ] || [ ! -L \"$p\" ]; }}; then echo {TAG} absent; exit 0; fi; \
stat{l} -c '{TAG} s %f %u %g %s %i %d %h %.9X %.9Y %.9Z %b %B %o %t %T' -- \"$p\" || exit 1; \
stat{l} -c '{TAG} u %U' -- \"$p\"; stat{l} -c '{TAG} g %G' -- \"$p\"; \
[ -r \"$p\" ] && echo {TAG} r; [ -w \"$p\" ] && echo {TAG} w; [ -x \"$p\" ] && echo {TAG} x; ",
        quote(&o.path),
        if o.follow { "follow" } else { "" }
    );
    // A link's own description (not when following: then it is the target's).
    let not_link = if o.follow { "" } else { "[ ! -L \"$p\" ] && " };
    if !o.follow {
        s.push_str(&format!("if [ -L \"$p\" ]; then echo \"{TAG} lt $(readlink -- \"$p\")\"; echo \"{TAG} ls $(readlink -f -- \"$p\")\"; fi; "));
    }
    if let Some(algorithm) = o.checksum {
        s.push_str(&format!(
            "if {not_link}[ -f \"$p\" ] && [ -r \"$p\" ]; then echo \"{TAG} sum $({algorithm}sum < \"$p\" | cut -d' ' -f1)\"; fi; "
        ));
    }
    if o.mime {
        s.push_str(&format!("if command -v file >/dev/null 2>&1; then echo \"{TAG} mime $(file -b --mime-type --mime-encoding -- \"$p\" 2>/dev/null)\"; fi; "));
    }
    if o.attributes {
        s.push_str(&format!("echo \"{TAG} attr $(lsattr -vd -- \"$p\" 2>/dev/null)\"; "));
    }
    s.push_str("true");
    s
}

/// Linux's `makedev`.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
}

/// A time as `stat` prints it with `%.9X` (`1700000000.123456789`), as Python's float.
fn time_value(s: &str) -> Value {
    match s.parse::<f64>() {
        Ok(t) => serde_json::Number::from_f64(t).map(Value::Number).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Build Ansible's `stat` dictionary from what the script printed.
fn parse(o: &Opts, out: &str) -> Result<Map<String, Value>, String> {
    let mut st = Map::new();
    if out.lines().any(|l| l == format!("{TAG} absent")) {
        st.insert("exists".into(), Value::Bool(false));
        return Ok(st);
    }
    let line = |key: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{TAG} {key}")).map(|r| r.strip_prefix(' ').unwrap_or(r).to_string()));
    let has = |key: &str| out.lines().any(|l| l == format!("{TAG} {key}"));
    let s = line("s").ok_or_else(|| format!("unexpected answer from stat: {out}"))?;
    let f: Vec<&str> = s.split(' ').collect();
    if f.len() != 15 {
        return Err(format!("unexpected answer from stat: {s}"));
    }
    let int = |i: usize| f[i].parse::<u64>().unwrap_or(0);
    let hex = |i: usize| u64::from_str_radix(f[i], 16).unwrap_or(0);
    let mode = hex(0) as u32;
    let kind = mode & 0o170000;
    st.insert("exists".into(), Value::Bool(true));
    st.insert("path".into(), Value::String(o.path.clone()));
    st.insert("mode".into(), Value::String(format!("{:04o}", mode & 0o7777)));
    for (key, k) in [("isdir", 0o040000), ("ischr", 0o020000), ("isblk", 0o060000), ("isreg", 0o100000), ("isfifo", 0o010000), ("islnk", 0o120000), ("issock", 0o140000)] {
        st.insert(key.into(), Value::Bool(kind == k));
    }
    st.insert("uid".into(), Value::from(int(1)));
    st.insert("gid".into(), Value::from(int(2)));
    st.insert("size".into(), Value::from(int(3)));
    st.insert("inode".into(), Value::from(int(4)));
    st.insert("dev".into(), Value::from(int(5)));
    st.insert("nlink".into(), Value::from(int(6)));
    st.insert("atime".into(), time_value(f[7]));
    st.insert("mtime".into(), time_value(f[8]));
    st.insert("ctime".into(), time_value(f[9]));
    insert_mode_bits(&mut st, mode);
    st.insert("blocks".into(), Value::from(int(10)));
    st.insert("block_size".into(), Value::from(int(12)));
    st.insert("device_type".into(), Value::from(makedev(hex(13), hex(14))));
    st.insert("readable".into(), Value::Bool(has("r")));
    st.insert("writeable".into(), Value::Bool(has("w")));
    st.insert("executable".into(), Value::Bool(has("x")));
    if kind == 0o120000 {
        st.insert("lnk_source".into(), Value::String(line("ls").unwrap_or_default()));
        st.insert("lnk_target".into(), Value::String(line("lt").unwrap_or_default()));
    }
    // `stat` prints UNKNOWN for ids without a name; Ansible leaves the key out.
    if let Some(u) = line("u").filter(|u| u != "UNKNOWN") {
        st.insert("pw_name".into(), Value::String(u));
    }
    if let Some(g) = line("g").filter(|g| g != "UNKNOWN") {
        st.insert("gr_name".into(), Value::String(g));
    }
    if let Some(sum) = line("sum").filter(|s| !s.is_empty()) {
        st.insert("checksum".into(), Value::String(sum));
    }
    if o.mime {
        let (mut mimetype, mut charset) = ("unknown".to_string(), "unknown".to_string());
        if let Some((m, c)) = line("mime").as_deref().and_then(|m| m.split_once(';')) {
            mimetype = m.trim().to_string();
            charset = c.split_once('=').map_or(c, |(_, v)| v).trim().to_string();
        }
        st.insert("mimetype".into(), Value::String(mimetype));
        st.insert("charset".into(), Value::String(charset));
    }
    if o.attributes {
        st.insert("version".into(), Value::Null);
        st.insert("attributes".into(), Value::Array(vec![]));
        st.insert("attr_flags".into(), Value::String(String::new()));
        let words: Vec<String> = line("attr").unwrap_or_default().split_whitespace().map(str::to_string).collect();
        if words.len() >= 2 {
            let flags = words[1].replace('-', "");
            let names: Vec<Value> = flags.chars().filter_map(|c| FILE_ATTRIBUTES.iter().find(|(f, _)| *f == c).map(|(_, n)| Value::String((*n).into()))).collect();
            st.insert("version".into(), Value::String(words[0].clone()));
            st.insert("attributes".into(), Value::Array(names));
            st.insert("attr_flags".into(), Value::String(flags));
        }
    }
    Ok(st)
}

#[async_trait]
impl Module for Stat {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(path) = args.get("path").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `path` for module `stat`"));
        };
        let flag = |k: &str, d: bool| args.get(k).and_then(to_bool).unwrap_or(d);
        let algorithm = args.get("checksum_algorithm").and_then(Value::as_str).unwrap_or("sha1");
        let Some(algorithm) = ALGORITHMS.iter().copied().find(|a| *a == algorithm) else {
            return Ok(ModuleResult::failed(format!("value of `checksum_algorithm` must be one of: {}, got: {algorithm}", ALGORITHMS.join(", "))));
        };
        let o = Opts {
            path: util::expand_home(ctx.remote, path).await?,
            follow: flag("follow", false),
            checksum: flag("get_checksum", true).then_some(algorithm),
            mime: flag("get_mime", true),
            attributes: flag("get_attributes", true),
        };
        let out = ctx.remote.exec(&script(&o), b"").await?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.rc != 0 {
            return Ok(ModuleResult::failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        match parse(&o, &text) {
            Ok(st) => {
                let mut r = ModuleResult::ok(false);
                r.set("stat", Value::Object(st));
                Ok(r)
            }
            Err(e) => Ok(ModuleResult::failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::json;

    fn run(a: Value, answer: &str) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(&[answer]);
        let r = run_module(&Stat, a, &fake, true, false);
        (r, fake.commands())
    }

    #[test]
    fn a_regular_file_in_full() {
        let sum = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
        let answer = format!(
            "{TAG} s 81a4 0 0 5 942174 57 1 1795907239.805250200 1795907237.205250000 1795907237.817250000 8 512 4096 0 0\n\
{TAG} u root\n{TAG} g root\n{TAG} r\n{TAG} w\n{TAG} sum {sum}\n{TAG} attr    3 --------------e------- /tmp/c\n"
        );
        let (r, sent) = run(json!({"path": "/tmp/my file"}), &answer);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].starts_with("p='/tmp/my file'; "), "{}", sent[0]);
        assert!(sent[0].contains("sha1sum < \"$p\""), "{}", sent[0]);
        assert!(!r.changed());
        let st = &r.0["stat"];
        assert_eq!(st["exists"], true);
        assert_eq!(st["path"], "/tmp/my file");
        assert_eq!(st["mode"], "0644");
        assert_eq!((st["isreg"].as_bool(), st["isdir"].as_bool(), st["islnk"].as_bool()), (Some(true), Some(false), Some(false)));
        assert_eq!((st["size"].as_u64(), st["inode"].as_u64(), st["dev"].as_u64(), st["nlink"].as_u64()), (Some(5), Some(942174), Some(57), Some(1)));
        assert_eq!(st["atime"], json!(1795907239.8052502));
        assert_eq!((st["rusr"].as_bool(), st["wgrp"].as_bool(), st["roth"].as_bool(), st["xusr"].as_bool()), (Some(true), Some(false), Some(true), Some(false)));
        assert_eq!((st["readable"].as_bool(), st["writeable"].as_bool(), st["executable"].as_bool()), (Some(true), Some(true), Some(false)));
        assert_eq!((st["pw_name"].as_str(), st["gr_name"].as_str()), (Some("root"), Some("root")));
        assert_eq!(st["checksum"], sum);
        assert_eq!((st["mimetype"].as_str(), st["charset"].as_str()), (Some("unknown"), Some("unknown")));
        assert_eq!(st["version"], "3");
        assert_eq!(st["attributes"], json!(["extents"]));
        assert_eq!(st["attr_flags"], "e");
        assert_eq!((st["blocks"].as_u64(), st["block_size"].as_u64(), st["device_type"].as_u64()), (Some(8), Some(4096), Some(0)));
    }

    #[test]
    fn a_missing_path_only_says_so() {
        let (r, _) = run(json!({"path": "/nope"}), &format!("{TAG} absent\n"));
        assert_eq!(r.0["stat"], json!({"exists": false}));
        assert!(!r.is_failed());
    }

    #[test]
    fn a_symlink_and_its_target() {
        let answer = format!("{TAG} s a1ff 0 0 11 5 57 1 1.5 1.5 1.5 0 4096 4096 0 0\n{TAG} u root\n{TAG} g root\n{TAG} lt /etc/hosts\n{TAG} ls /etc/hosts\n");
        let (r, sent) = run(json!({"path": "/l", "get_mime": false, "get_attributes": false, "checksum_algorithm": "sha256"}), &answer);
        assert!(sent[0].contains("if [ ! -L \"$p\" ] && [ -f \"$p\" ] && [ -r \"$p\" ]; then echo \"__provision_stat_91b4__ sum $(sha256sum"), "{}", sent[0]);
        assert!(!sent[0].contains("lsattr") && !sent[0].contains("command -v file"), "{}", sent[0]);
        let st = &r.0["stat"];
        assert_eq!(st["islnk"], true);
        assert_eq!(st["mode"], "0777");
        assert_eq!((st["lnk_target"].as_str(), st["lnk_source"].as_str()), (Some("/etc/hosts"), Some("/etc/hosts")));
        assert!(st.get("checksum").is_none() && st.get("mimetype").is_none() && st.get("version").is_none());
        // Following: the script stats the target.
        let (_, sent) = run(json!({"path": "/l", "follow": true}), &answer);
        assert!(sent[0].contains("stat -L -c"), "{}", sent[0]);
        assert!(!sent[0].contains("readlink"), "{}", sent[0]);
    }

    #[test]
    fn mime_types_and_devices() {
        let answer = format!("{TAG} s 21b6 0 0 0 5 5 1 1 1 1 0 4096 4096 1 3\n{TAG} mime text/plain; charset=us-ascii\n");
        let (r, _) = run(json!({"path": "/dev/null"}), &answer);
        let st = &r.0["stat"];
        assert_eq!(st["ischr"], true);
        assert_eq!(st["device_type"], 259);
        assert_eq!((st["mimetype"].as_str(), st["charset"].as_str()), (Some("text/plain"), Some("us-ascii")));
    }

    #[test]
    fn a_bad_algorithm_is_refused() {
        let (r, sent) = run(json!({"path": "/x", "checksum_algorithm": "crc32"}), "");
        assert!(r.is_failed());
        assert!(sent.is_empty());
    }
}

/// Ansible's permission flags of a mode (`wusr`, `rusr`, ..., `isuid`, `isgid`), as `stat`
/// and `find` return them.
pub(crate) fn insert_mode_bits(m: &mut serde_json::Map<String, Value>, mode: u32) {
    for (key, bit) in [
        ("wusr", 0o200),
        ("rusr", 0o400),
        ("xusr", 0o100),
        ("wgrp", 0o020),
        ("rgrp", 0o040),
        ("xgrp", 0o010),
        ("woth", 0o002),
        ("roth", 0o004),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        m.insert(key.into(), Value::Bool(mode & bit != 0));
    }
}
