//! `copy`: put a file at a path on the host — from the control machine (`src`), from
//! `content`, or from elsewhere on the host (`remote_src`) — or a whole directory tree.
//!
//! One file: one round trip describes the destination (and its parent, and `dest/name`
//! in case `dest` is a directory) with its SHA-1 ([`file::Facts`]); the content is sent
//! only when that checksum differs from the wanted one, through
//! [`util::write_script_with`] (temporary file beside the target, mode and owner set on
//! it, `validate` run on it, then renamed) in a second round trip that also describes
//! the result. Same content but other attributes: `chmod`/`chown` instead.
//!
//! A directory ([`tree`]): one round trip stats and checksums every path the tree will
//! have on the host (the list travels on stdin), then one more sends every changed file
//! in a single tar stream, unpacked beside the targets and renamed into place one by one.
//!
//! The engine looks `src` up in the role's `files/` before calling this module, so `src`
//! is a path on the control machine here (or on the host with `remote_src`).

mod tree;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::file::{self, add_path_info, attr_change, basename, describe_after, describe_after_unsummed, dirname, join, mkdir_commands, Facts, Query, Seen};
use crate::quote::quote;
use crate::util::{self, resolve_mode, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Copy;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("src", ArgType::Path, "File or directory on the control machine (or on the host with `remote_src`). A directory is copied with its contents; ending in `/`, only its contents."),
    ArgSpec::new("content", ArgType::Raw, "The file's content, instead of `src` (a list or dict is written as JSON)."),
    ArgSpec::new("dest", ArgType::Path, "Where to copy to on the host. Ending in `/`, or an existing directory: the file goes inside it as `basename(src)`.").required(),
    ArgSpec::new("backup", ArgType::Bool, "Keep the replaced file as `dest.<timestamp>~`.").default("no"),
    ArgSpec::new("force", ArgType::Bool, "Replace a file whose content differs; `no`: only create missing files.").default("yes").aliases(&["thirsty"]),
    ArgSpec::new("validate", ArgType::Str, "A command run on the new file before it replaces the old (`%s` is its path); a failure leaves the old file."),
    ArgSpec::new("directory_mode", ArgType::Raw, "Mode of the directories a directory copy creates or copies."),
    ArgSpec::new("remote_src", ArgType::Bool, "`src` is on the host, not on the control machine.").default("no"),
    ArgSpec::new("local_follow", ArgType::Bool, "Follow symlinks in a local `src` tree (else they are copied as links).").default("yes"),
    ArgSpec::new("follow", ArgType::Bool, "When `dest` is a symlink, write its target (else the link is replaced by a file).").default("no"),
    ArgSpec::new("checksum", ArgType::Str, "Expected SHA-1 of the file; the task fails when the source differs."),
    ArgSpec::new("mode", ArgType::Raw, "Permissions of the file: octal, symbolic (`u=rw,g=r`), or `preserve` (the source's). Default: the replaced file's, or 0666 less the umask."),
    ArgSpec::new("decrypt", ArgType::Bool, "Decrypt a vault-encrypted `src` file on the controller before sending it.").default("yes"),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "copy",
    short: "Copy files to the host",
    description: "Copies a file or a directory tree from the control machine (or `content`, or a file already on \
the host) to the host, atomically: a temporary file beside the target gets the content, mode and owner, is \
validated, then renamed over the target. Content is compared by SHA-1 first and sent only when it differs: an \
unchanged file costs one round trip. `--check` reports what would be written; `--diff` shows text changes.",
    args: ARGS,
    free_form: false,
    examples: "- name: Copy a file with owner and permissions\n  ansible.builtin.copy:\n    src: files/foo.conf\n    dest: /etc/foo.conf\n    owner: foo\n    group: foo\n    mode: '0644'\n\n\
- name: Write inline content, keeping a backup\n  ansible.builtin.copy:\n    content: \"# managed\\nPermitRootLogin no\\n\"\n    dest: /etc/ssh/sshd_config.d/10-root.conf\n    backup: yes\n\n\
- name: Check a sudoers file before it goes live\n  ansible.builtin.copy:\n    src: sudoers\n    dest: /etc/sudoers\n    validate: /usr/sbin/visudo -csf %s\n\n\
- name: Copy a directory's contents (note the trailing slash)\n  ansible.builtin.copy:\n    src: site/\n    dest: /var/www/html/\n    directory_mode: '0755'\n\n\
- name: Copy a file that is already on the host\n  ansible.builtin.copy:\n    src: /etc/hosts\n    dest: /etc/hosts.orig\n    remote_src: yes\n",
    returns: &[
        ("dest", "the file written (for a directory copy, the destination directory)"),
        ("src", "the source"),
        ("checksum", "SHA-1 of the file after the copy"),
        ("size", "size in bytes"),
        ("mode", "permissions after the copy (`0644`)"),
        ("owner", "owner name"),
        ("group", "group name"),
        ("uid", "owner id"),
        ("gid", "group id"),
        ("state", "`file`"),
        ("backup_file", "the backup's name, with `backup: yes` when the file was replaced"),
        ("diff", "with `--diff`: `[{before, after, before_header, after_header}]`, or `dst_binary`/`src_binary`/`dst_larger`/`src_larger` instead of text"),
    ],
};

/// Files larger than this are not shown in diffs (Ansible's MAX_FILE_SIZE_FOR_DIFF).
const MAX_DIFF_SIZE: u64 = 104_448;

/// Marks a `validate` failure in the output of the write script.
const VALIDATE_MARK: &str = "__provision_copy_validate_failed__";

/// The task's arguments, checked.
#[derive(Debug, Clone)]
struct Opts {
    src: Option<String>,
    content: Option<Vec<u8>>,
    dest: String,
    backup: bool,
    force: bool,
    validate: Option<String>,
    directory_mode: Option<String>,
    remote_src: bool,
    local_follow: bool,
    follow: bool,
    checksum: Option<String>,
    /// `decrypt`: a vault-encrypted local `src` is sent decrypted.
    decrypt: bool,
    /// `mode` may be `preserve` here.
    want: Attrs,
}

fn text(args: &Args, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

fn flag(args: &Args, key: &str, default: bool) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(default)
}

impl Opts {
    fn parse(args: &Args) -> Result<Opts, String> {
        let content = match args.get("content") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone().into_bytes()),
            Some(Value::Bool(b)) => Some(if *b { "True" } else { "False" }.as_bytes().to_vec()),
            Some(v @ (Value::Array(_) | Value::Object(_))) => Some(python_json(v).into_bytes()),
            Some(other) => Some(other.to_string().into_bytes()),
        };
        let src = text(args, "src").filter(|s| !s.is_empty());
        let dest = text(args, "dest").filter(|d| !d.is_empty()).ok_or("dest is required")?;
        match (&src, &content) {
            (None, None) => return Err("src (or content) is required".into()),
            (Some(_), Some(_)) => return Err("src and content are mutually exclusive".into()),
            (None, Some(_)) if dest.ends_with('/') => return Err("can not use content with a dir as dest".into()),
            _ => {}
        }
        let want = Attrs::from_args(args);
        for m in [want.mode.as_deref(), args.get("directory_mode").and_then(util::mode_text).as_deref()].into_iter().flatten() {
            if m != "preserve" {
                resolve_mode(m, 0, false, 0o022)?;
            }
        }
        let validate = text(args, "validate").filter(|v| !v.is_empty());
        if let Some(v) = &validate {
            util::textedit::validate_command(v)?;
        }
        Ok(Opts {
            src,
            content,
            dest,
            backup: flag(args, "backup", false),
            force: flag(args, "force", true),
            validate,
            directory_mode: args.get("directory_mode").and_then(util::mode_text),
            remote_src: flag(args, "remote_src", false),
            local_follow: flag(args, "local_follow", true),
            follow: flag(args, "follow", false),
            checksum: text(args, "checksum").filter(|c| !c.is_empty()),
            decrypt: flag(args, "decrypt", true),
            want,
        })
    }
}

/// Python's `json.dumps` (what Ansible writes for a list or dict `content`): `", "` and
/// `": "` separators, non-ASCII escaped.
pub(crate) fn python_json(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            for c in serde_json::to_string(s).unwrap_or_default().chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
            out
        }
        Value::Array(a) => format!("[{}]", a.iter().map(python_json).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", python_json(&Value::String(k.clone())), python_json(v))).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// Where one file's content comes from.
#[derive(Debug, Clone)]
enum Data {
    /// Sent from the control machine (a local file, or `content`).
    Bytes(Vec<u8>),
    /// A file already on the host.
    Remote(String),
}

/// One file to copy.
#[derive(Debug, Clone)]
struct One {
    data: Data,
    /// `basename(src)`: the name inside a destination directory (none for `content`).
    name: Option<String>,
    /// What the result reports as `src`.
    src: Option<String>,
    /// The source's permission bits, for `mode: preserve`.
    source_mode: u32,
}

#[async_trait]
impl Module for Copy {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let mut o = match Opts::parse(args) {
            Ok(o) => o,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        o.dest = util::expand_home(ctx.remote, &o.dest).await?;
        if let Some(content) = o.content.take() {
            let one = One { data: Data::Bytes(content), name: None, src: None, source_mode: 0o600 };
            return copy_one(&o, ctx, one).await;
        }
        let Some(src) = o.src.clone() else { return Ok(ModuleResult::failed("src (or content) is required")) };
        if o.remote_src {
            let src = util::expand_home(ctx.remote, &src).await?;
            return remote_source(&o, ctx, &src).await;
        }
        let meta = match std::fs::metadata(&src) {
            Ok(m) => m,
            Err(e) => return Ok(ModuleResult::failed(format!("could not find src={src}, {e}"))),
        };
        if meta.is_dir() {
            return tree::copy_local_tree(&o, ctx, &src).await;
        }
        let bytes = match util::read_local(std::path::Path::new(&src), o.decrypt) {
            Ok(b) => b,
            Err(e) => return Ok(ModuleResult::failed(format!("could not read src={src}, {e}"))),
        };
        use std::os::unix::fs::PermissionsExt;
        let one = One { data: Data::Bytes(bytes), name: Some(basename(&src).to_string()), src: Some(src), source_mode: meta.permissions().mode() & 0o7777 };
        copy_one(&o, ctx, one).await
    }

    /// The first probes of a loop's single-file items, with one `stat` and one `sha1sum`
    /// for all of them ([`file::facts::probe_batch`]).
    fn prefetch(&self, items: &[&Args]) -> Option<crate::Prefetch> {
        let probes: Vec<Vec<Query>> = items.iter().filter_map(|a| first_probe(a)).collect();
        if probes.len() < 2 {
            return None;
        }
        let commands: Vec<String> = probes.iter().map(|q| file::facts::probe_script(q)).collect();
        let (script, split) = file::facts::probe_batch(&probes);
        Some(crate::Prefetch { script, split: Box::new(move |out| Some(commands.iter().cloned().zip(split(out)?).collect())) })
    }
}

/// `remote_src`: a file or a directory already on the host.
async fn remote_source(o: &Opts, ctx: &Context<'_>, src: &str) -> Result<ModuleResult, RemoteError> {
    let mut facts = Facts::default();
    if let Err(e) = facts.gather(ctx.remote, &[Query::Describe(src.to_string())]).await {
        return Ok(ModuleResult::failed(e));
    }
    let seen = facts.seen.get(src).cloned().unwrap_or_default();
    if !seen.exists_follow {
        return Ok(ModuleResult::failed(format!("Source {src} not found")));
    }
    let is_dir = seen.st.kind == "directory" || (seen.st.kind == "link" && src.ends_with('/'));
    if is_dir {
        return tree::copy_remote_tree(o, ctx, src).await;
    }
    let one = One {
        data: Data::Remote(src.to_string()),
        name: Some(basename(src).to_string()),
        src: Some(src.to_string()),
        source_mode: u32::from_str_radix(&seen.st.mode, 8).unwrap_or(0o644),
    };
    copy_one(o, ctx, one).await
}

/// What to do with one file.
#[derive(Debug)]
enum Decision {
    /// `force: no` and something is there already.
    Skip,
    /// The content is there; maybe attributes differ.
    Same { target: String, change: file::AttrChange },
    /// Write the file (creating its parent directories first).
    Write { target: String, attrs: Attrs, mkdirs: Vec<String>, before: Option<Seen> },
}

/// Why a decision cannot be made (yet).
#[derive(Debug)]
enum Stop {
    /// Learn these first.
    Need(Vec<Query>),
    Fail(String),
}

/// The mode a task asks for, with `preserve` read as the source's mode.
fn wanted_attrs(o: &Opts, source_mode: u32) -> Attrs {
    let mut a = o.want.clone();
    if a.mode.as_deref() == Some("preserve") {
        a.mode = Some(format!("{source_mode:04o}"));
    }
    a
}

/// Attributes for the temporary file of a write: the mode resolved against the file it
/// replaces (or a new file's), so that a symbolic mode means what it means to Ansible.
fn write_attrs(want: &Attrs, replacing: Option<&Seen>, umask: u32, default_mode: Option<u32>) -> Result<Attrs, String> {
    let new_file = 0o666 & !umask;
    let mut a = want.clone();
    let current = match replacing {
        Some(s) if s.st.kind == "file" => u32::from_str_radix(&s.st.mode, 8).unwrap_or(new_file),
        _ => default_mode.unwrap_or(new_file),
    };
    a.mode = match &want.mode {
        Some(m) => Some(format!("{:04o}", resolve_mode(m, current, false, umask)?)),
        // The replaced file's mode is kept by the write script; a link or special file
        // being replaced gives no mode to keep.
        None if replacing.is_some_and(|s| s.st.kind == "file") && default_mode.is_none() => None,
        None => Some(format!("{current:04o}")),
    };
    Ok(a)
}

fn seen<'a>(facts: &'a Facts, path: &str) -> Result<&'a Seen, Stop> {
    facts.seen.get(path).ok_or_else(|| Stop::Need(vec![Query::Describe(path.to_string())]))
}

/// Decide what one file needs, from what is known of the host.
fn decide_one(o: &Opts, one: &One, wanted_sum: Option<&str>, facts: &Facts) -> Result<Decision, Stop> {
    let dest_file = match (&one.name, o.dest.ends_with('/')) {
        (Some(n), true) => join(&o.dest, n),
        _ => o.dest.clone(),
    };
    let first = seen(facts, &dest_file)?;
    let (mut target, mut here) = (dest_file.clone(), first);
    if first.st.kind == "directory" {
        let Some(n) = &one.name else { return Err(Stop::Fail("can not use content with a dir as dest".into())) };
        target = join(&dest_file, n);
        here = seen(facts, &target)?;
    }
    if here.st.exists && !o.force {
        return Ok(Decision::Skip);
    }
    if o.follow && here.st.kind == "link" && here.exists_follow {
        if let Some(real) = &here.real {
            target = real.clone();
            here = seen(facts, real)?;
        }
    }
    if here.st.kind == "directory" {
        return Err(Stop::Fail(format!("cannot copy to {target}: it is a directory")));
    }
    let want = wanted_attrs(o, one.source_mode);
    let sum = match (&one.data, wanted_sum) {
        (_, Some(s)) => Some(s.to_string()),
        (Data::Remote(p), None) => seen(facts, p)?.st.checksum.clone(),
        (Data::Bytes(_), None) => None,
    };
    if here.st.kind == "file" && here.st.checksum.is_some() && here.st.checksum == sum {
        let change = attr_change(&here.st, &want, facts.umask).map_err(Stop::Fail)?;
        return Ok(Decision::Same { target, change });
    }
    let parent = dirname(&target);
    // A target that exists has its directory.
    let mkdirs = if here.st.exists || seen(facts, &parent)?.st.exists {
        vec![]
    } else if o.dest.ends_with('/') {
        let dir_want = Attrs { mode: o.directory_mode.clone(), owner: o.want.owner.clone(), group: o.want.group.clone() };
        let change = file::attr_change_of("directory", 0o777 & !facts.umask, "", u32::MAX, "", u32::MAX, &dir_want, facts.umask).map_err(Stop::Fail)?;
        mkdir_commands(&parent, &change)
    } else {
        return Err(Stop::Fail(format!("Destination directory {parent} does not exist")));
    };
    // `remote_src` copies the source's mode, as Ansible's copystat does.
    let default_mode = matches!(one.data, Data::Remote(_)).then_some(one.source_mode);
    let replacing = here.st.exists.then_some(here);
    let attrs = write_attrs(&want, replacing, facts.umask, default_mode).map_err(Stop::Fail)?;
    Ok(Decision::Write { target, attrs, mkdirs, before: replacing.cloned() })
}

/// `validate` as a step of the write script (run on `"$t"`, output to stderr).
fn validate_hook(validate: Option<&str>) -> Result<String, String> {
    match validate {
        None => Ok(String::new()),
        Some(v) => {
            let cmd = util::textedit::validate_command(v)?;
            Ok(format!("{{ {cmd} >&2 || {{ echo \"{VALIDATE_MARK} $?\"; exit 97; }}; }} && "))
        }
    }
}

/// What the first probe of one file asks (`name`: `basename(src)`, none for `content`).
fn first_queries(o: &Opts, name: Option<&str>) -> Vec<Query> {
    let dest_file = match (name, o.dest.ends_with('/')) {
        (Some(n), true) => join(&o.dest, n),
        _ => o.dest.clone(),
    };
    // The directory matters only for a file that is not there yet.
    let mut queries = vec![Query::Describe(dest_file.clone()), Query::DescribeUnless { path: dirname(&dest_file), unless: dest_file.clone() }];
    if let (Some(n), false) = (name, o.dest.ends_with('/')) {
        queries.push(Query::Describe(join(&dest_file, n)));
    }
    queries
}

/// The first probe of an item that copies one file from the controller (`content`, or a
/// local `src` file), as [`Copy::run`] will send it; `None` for anything else (a tree,
/// `remote_src`, a `~` to expand first).
fn first_probe(args: &Args) -> Option<Vec<Query>> {
    let o = Opts::parse(args).ok()?;
    if o.dest.starts_with('~') {
        return None;
    }
    if o.content.is_some() {
        return Some(first_queries(&o, None));
    }
    let src = o.src.as_deref()?;
    if o.remote_src || !std::fs::metadata(src).ok()?.is_file() {
        return None;
    }
    Some(first_queries(&o, Some(basename(src))))
}

/// Copy one file: decide from one description of the host, then write or fix attributes.
async fn copy_one(o: &Opts, ctx: &Context<'_>, one: One) -> Result<ModuleResult, RemoteError> {
    let wanted_sum = match &one.data {
        Data::Bytes(b) => Some(util::sha1_hex(b)),
        Data::Remote(_) => None,
    };
    if let (Some(expected), Some(sum)) = (&o.checksum, &wanted_sum) {
        if expected != sum {
            let mut r = ModuleResult::failed("Copied file does not match the expected checksum. Transfer failed.");
            r.set("checksum", sum.clone());
            r.set("expected_checksum", expected.clone());
            return Ok(r);
        }
    }
    let mut queries = first_queries(o, one.name.as_deref());
    if let Data::Remote(p) = &one.data {
        queries.push(Query::Describe(p.clone()));
    }
    let mut facts = Facts::default();
    for _ in 0..4 {
        if let Err(e) = facts.gather(ctx.remote, &queries).await {
            return Ok(ModuleResult::failed(e));
        }
        let decision = match decide_one(o, &one, wanted_sum.as_deref(), &facts) {
            Ok(d) => d,
            Err(Stop::Need(q)) => {
                queries = q;
                continue;
            }
            Err(Stop::Fail(msg)) => return Ok(ModuleResult::failed(msg)),
        };
        let sum = wanted_sum.clone().or_else(|| if let Data::Remote(p) = &one.data { facts.seen.get(p).and_then(|s| s.st.checksum.clone()) } else { None });
        match decision {
            Decision::Skip => {
                let mut r = ModuleResult::ok(false);
                r.set("dest", o.dest.clone());
                if let Some(s) = &one.src {
                    r.set("src", s.clone());
                }
                return Ok(r);
            }
            Decision::Same { target, change } => return same(ctx, &target, change, sum, &facts).await,
            Decision::Write { target, attrs, mkdirs, before } => return write(o, ctx, one, &target, &attrs, mkdirs, before, sum).await,
        }
    }
    Ok(ModuleResult::failed(format!("{} kept changing while it was inspected", o.dest)))
}

/// The content is already there: fix attributes if they differ.
async fn same(ctx: &Context<'_>, target: &str, change: file::AttrChange, sum: Option<String>, facts: &Facts) -> Result<ModuleResult, RemoteError> {
    let commands = change.commands(&quote(target));
    let mut r = ModuleResult::ok(!commands.is_empty());
    r.set("dest", target);
    r.set("path", target);
    let mut state = facts.seen.get(target).map(|s| (s.st.clone(), s.nlink));
    if !commands.is_empty() && !ctx.check_mode {
        let out = file::run_script(ctx.remote, &format!("set -e; {}; {}", commands.join("; "), describe_after(target))).await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        let mut after = Facts::default();
        after.absorb(&[Query::Describe(target.to_string())], &out.stdout).map_err(RemoteError::Other)?;
        state = after.seen.get(target).map(|s| (s.st.clone(), s.nlink));
    }
    if let Some((st, nlink)) = state {
        add_path_info(&mut r.0, &st, nlink);
    }
    if let Some(s) = sum {
        r.set("checksum", s);
    }
    if ctx.diff && !commands.is_empty() {
        let mut before = Map::new();
        before.insert("path".into(), Value::String(target.into()));
        let mut after = before.clone();
        before.extend(change.before);
        after.extend(change.after);
        r.set("diff", serde_json::json!({"before": before, "after": after}));
    }
    Ok(r)
}

/// Write the file (or in check mode, say it would be written).
#[allow(clippy::too_many_arguments)]
async fn write(o: &Opts, ctx: &Context<'_>, one: One, target: &str, attrs: &Attrs, mkdirs: Vec<String>, before: Option<Seen>, sum: Option<String>) -> Result<ModuleResult, RemoteError> {
    let mut r = ModuleResult::ok(true);
    r.set("dest", target);
    if let Some(s) = &one.src {
        r.set("src", s.clone());
    }
    if ctx.diff {
        if let Data::Bytes(b) = &one.data {
            let header = one.src.clone().unwrap_or_else(|| target.to_string());
            r.set("diff", Value::Array(vec![content_diff(ctx, target, before.as_ref(), b, &header).await?]));
        }
    }
    if let Some(s) = &sum {
        r.set("checksum", s.clone());
    }
    if ctx.check_mode {
        return Ok(r);
    }
    let hook = match validate_hook(o.validate.as_deref()) {
        Ok(h) => h,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    // From stdin, the whole content must have arrived (a transfer cut short must not
    // replace the file): the write script checks it.
    let source = match &one.data {
        Data::Remote(p) => util::Source::File(p),
        Data::Bytes(b) => util::Source::Stdin(b.len()),
    };
    let mut script = String::new();
    if !mkdirs.is_empty() {
        script.push_str(&format!("set -e; {}; ", mkdirs.join("; ")));
    }
    script.push_str(&util::write_script_with(target, attrs, o.backup, source, &hook));
    script.push_str("; ");
    // The checksum of content sent from here is known: no `sha1sum` of what was written.
    script.push_str(&match &one.data {
        Data::Bytes(_) if sum.is_some() => describe_after_unsummed(target),
        _ => describe_after(target),
    });
    // The content, taken (not copied: it may be big), with the end line.
    let stdin = match one.data {
        Data::Bytes(b) => util::write_stdin_owned(b),
        Data::Remote(_) => Vec::new(),
    };
    let out = ctx.remote.exec(&script, &stdin).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(rc) = stdout.lines().find_map(|l| l.strip_prefix(VALIDATE_MARK)) {
        let mut f = ModuleResult::failed("failed to validate");
        f.set("exit_status", rc.trim().parse::<i64>().unwrap_or(1));
        f.set("stdout", "");
        f.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
        return Ok(f);
    }
    if out.rc != 0 {
        return Ok(ModuleResult::failed(format!("cannot write {target}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    if let Some(b) = stdout.lines().find_map(|l| l.strip_prefix("backup:")) {
        r.set("backup_file", b);
    }
    let mut after = Facts::default();
    after.absorb(&[Query::Describe(target.to_string())], &out.stdout).map_err(RemoteError::Other)?;
    if let Some(s) = after.seen.get(target) {
        add_path_info(&mut r.0, &s.st, s.nlink);
        if let Some(c) = &s.st.checksum {
            r.set("checksum", c.clone());
        }
    }
    Ok(r)
}

/// Ansible's `_get_diff_data`: the old and new text, or why it is not shown.
async fn content_diff(ctx: &Context<'_>, target: &str, before: Option<&Seen>, after: &[u8], after_header: &str) -> Result<Value, RemoteError> {
    let mut d = Map::new();
    match before {
        Some(s) if s.st.kind == "file" && s.st.size > MAX_DIFF_SIZE => {
            d.insert("dst_larger".into(), Value::from(MAX_DIFF_SIZE));
        }
        Some(s) if s.st.kind == "file" => {
            let old = util::probe(ctx.remote, target, true).await?.content.unwrap_or_default();
            if old.iter().take(8192).any(|&b| b == 0) {
                d.insert("dst_binary".into(), Value::from(1));
            } else {
                d.insert("before_header".into(), Value::String(target.into()));
                d.insert("before".into(), Value::String(String::from_utf8_lossy(&old).into_owned()));
            }
        }
        _ => {
            d.insert("before".into(), Value::String(String::new()));
        }
    }
    if after.len() as u64 > MAX_DIFF_SIZE {
        d.insert("src_larger".into(), Value::from(MAX_DIFF_SIZE));
    } else if after.contains(&0) {
        d.insert("src_binary".into(), Value::from(1));
    } else {
        d.insert("after_header".into(), Value::String(after_header.into()));
        d.insert("after".into(), Value::String(String::from_utf8_lossy(after).into_owned()));
    }
    Ok(Value::Object(d))
}

#[cfg(test)]
mod tests;
