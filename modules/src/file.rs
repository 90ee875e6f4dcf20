//! `file`: set the state of a path on the host — a directory, a symbolic or hard link,
//! an empty file, absent — and its mode, owner, group and times.
//!
//! The module first asks the host what is there ([`Facts::gather`] in [`facts`]: one round trip that
//! describes every path the task may touch, with the host's umask), then decides in Rust
//! ([`states::decide`]) which commands bring the path to the wanted state. Symbolic modes are
//! computed here from the current mode ([`util::resolve_mode`]) so that comparing and
//! changing agree. Nothing to do: one round trip. Something to do: a second round trip
//! runs the commands and describes the result. In check mode the commands are not run.
//! A rare case (following a symlink, a `src` that is itself a link) may need one more
//! description before deciding.
//!
//! Not supported yet: SELinux contexts (`seuser`...), `attributes` (chattr), and
//! following symlinks found inside a tree with `recurse`.

mod attrs;
pub(crate) mod facts;
mod states;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::util::{self, resolve_mode, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub(crate) use attrs::{add_path_info, attr_change, attr_change_of, mkdir_commands, replace_with, AttrChange};
pub(crate) use facts::{Facts, Query, Seen, TAG};
use states::{decide, first_queries, Plan, Step};
use crate::args::text;

pub struct File;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("path", ArgType::Path, "Path to the file being managed.").required().aliases(&["dest", "name"]),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "`absent` removes (directories recursively); `directory` creates it with its parents; `file` only sets \
attributes of an existing file; `hard`/`link` create or change a hard/symbolic link to `src`; `touch` creates an \
empty file or updates the times. Default: the current state if the path exists, `directory` with `recurse`, else `file`.",
    )
    .choices(&["absent", "directory", "file", "hard", "link", "touch"]),
    ArgSpec::new("src", ArgType::Path, "The file to link to (`state: link` or `hard`). Relative to the link's directory for symbolic links."),
    ArgSpec::new("recurse", ArgType::Bool, "Set the attributes on everything under the directory too (`state: directory`).").default("no"),
    ArgSpec::new("force", ArgType::Bool, "Create the link even if `src` does not exist yet, or replace a file or an empty directory at `path`.").default("no"),
    ArgSpec::new("follow", ArgType::Bool, "Follow a symlink at `path`: attributes go to its target.").default("yes"),
    ArgSpec::new("mode", ArgType::Raw, "Permissions: octal (`'0644'`, `0755`) or symbolic (`u=rw,g=r,o=r`, `u+x`)."),
    ArgSpec::new("modification_time", ArgType::Str, "`preserve`, `now`, or a time in `modification_time_format`. Default: `now` for `touch`, else `preserve`."),
    ArgSpec::new("modification_time_format", ArgType::Str, "strptime format of `modification_time` (%Y %m %d %H %M %S %y).").default("%Y%m%d%H%M.%S"),
    ArgSpec::new("access_time", ArgType::Str, "`preserve`, `now`, or a time in `access_time_format`. Default: `now` for `touch`, else `preserve`."),
    ArgSpec::new("access_time_format", ArgType::Str, "strptime format of `access_time`.").default("%Y%m%d%H%M.%S"),
    ArgSpec::new("unsafe_writes", ArgType::Bool, "Accepted for compatibility; nothing is written in place.").default("no"),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "file",
    short: "Manage files and file properties",
    description: "Set the mode, owner, group and times of files, directories and symlinks, create directories, \
links and empty files, or remove paths. Changes nothing when the path is already as asked (one round trip); \
check mode reports what would change, and `--diff` shows the attributes before and after.",
    args: ARGS,
    free_form: false,
    examples: "- name: Create a directory if it does not exist\n  ansible.builtin.file:\n    path: /srv/app\n    state: directory\n    mode: '0755'\n\n\
- name: Change ownership and permissions of a file\n  ansible.builtin.file:\n    path: /etc/foo.conf\n    owner: foo\n    group: foo\n    mode: u=rw,g=r,o=r\n\n\
- name: Create a symbolic link\n  ansible.builtin.file:\n    src: /opt/app/releases/42\n    dest: /opt/app/current\n    state: link\n\n\
- name: Recursively give a tree to a user\n  ansible.builtin.file:\n    path: /srv/data\n    state: directory\n    recurse: yes\n    owner: data\n    mode: u=rwX,g=rX,o=\n\n\
- name: Remove a file or a whole directory\n  ansible.builtin.file:\n    path: /tmp/build\n    state: absent\n",
    returns: &[
        ("path", "the path, for `absent`, `directory` and `file`"),
        ("dest", "the path, for `touch`, `link` and `hard`"),
        ("src", "the link target, for `link` and `hard`"),
        ("state", "what the path is after the task: `file`, `directory`, `link`, `hard` (a file with several links) or `absent`"),
        ("mode", "permissions after the task (`0644`)"),
        ("owner", "owner name"),
        ("group", "group name"),
        ("uid", "owner id"),
        ("gid", "group id"),
        ("size", "size in bytes"),
        ("diff", "with `--diff`: `before` and `after` with the path, state, owner, group, mode and times that change"),
    ],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Directory,
    File,
    Hard,
    Link,
    Touch,
}

impl State {
    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "absent" => State::Absent,
            "directory" => State::Directory,
            "file" => State::File,
            "hard" => State::Hard,
            "link" => State::Link,
            "touch" => State::Touch,
            _ => return None,
        })
    }
}

/// A time to give a path: keep it, now, or a local time on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Time {
    Preserve,
    Now,
    /// `YYYY-MM-DD HH:MM:SS` (for `date -d`, to compare) and `CCYYMMDDhhmm.SS` (`touch -t`).
    At { date: String, touch: String },
}

/// The task's arguments, checked.
#[derive(Debug, Clone)]
struct Opts {
    path: String,
    state: Option<State>,
    src: Option<String>,
    recurse: bool,
    force: bool,
    follow: bool,
    want: Attrs,
    /// `None`: not given (the default depends on the state).
    mtime: Option<Time>,
    atime: Option<Time>,
}


fn flag(args: &Args, key: &str, default: bool) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(default)
}

impl Opts {
    fn parse(args: &Args) -> Result<Opts, String> {
        let path = text(args, "path").filter(|p| !p.is_empty()).ok_or("missing required argument `path` for module `file`")?;
        let state = match text(args, "state") {
            Some(s) => Some(State::parse(&s).ok_or_else(|| format!("value of `state` must be one of: absent, directory, file, hard, link, touch, got: {s}"))?),
            None => None,
        };
        let time = |key: &str, format_key: &str| -> Result<Option<Time>, String> {
            match text(args, key).as_deref() {
                None => Ok(None),
                Some("preserve") => Ok(Some(Time::Preserve)),
                Some("now") => Ok(Some(Time::Now)),
                Some(t) => {
                    let format = text(args, format_key).unwrap_or_else(|| "%Y%m%d%H%M.%S".into());
                    parse_time(t, &format)
                        .map(|(date, touch)| Some(Time::At { date, touch }))
                        .map_err(|e| format!("Error while obtaining timestamp for time {t} using format {format}: {e}"))
                }
            }
        };
        let want = Attrs::from_args(args);
        if let Some(m) = &want.mode {
            // Reject a malformed mode before touching the host (the bits come later).
            resolve_mode(m, 0, false, 0o022).map_err(|e| e.to_string())?;
        }
        Ok(Opts {
            path,
            state,
            src: text(args, "src").filter(|s| !s.is_empty()),
            recurse: flag(args, "recurse", false),
            force: flag(args, "force", false),
            follow: flag(args, "follow", true),
            want,
            mtime: time("modification_time", "modification_time_format")?,
            atime: time("access_time", "access_time_format")?,
        })
    }
}

/// Read `value` with a strptime `format` (the directives Ansible's examples use).
fn parse_time(value: &str, format: &str) -> Result<(String, String), String> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (1900u32, 1u32, 1u32, 0u32, 0u32, 0u32);
    let v: Vec<char> = value.chars().collect();
    let mut i = 0;
    let mut f = format.chars();
    let number = |i: &mut usize, max_len: usize| -> Result<u32, String> {
        let start = *i;
        while *i < v.len() && *i - start < max_len && v[*i].is_ascii_digit() {
            *i += 1;
        }
        if start == *i {
            return Err(format!("time data '{value}' does not match format '{format}'"));
        }
        v[start..*i].iter().collect::<String>().parse().map_err(|_| format!("time data '{value}' does not match format '{format}'"))
    };
    while let Some(c) = f.next() {
        if c == '%' {
            match f.next() {
                Some('Y') => year = number(&mut i, 4)?,
                Some('y') => {
                    let y = number(&mut i, 2)?;
                    year = if y < 69 { 2000 + y } else { 1900 + y };
                }
                Some('m') => month = number(&mut i, 2)?,
                Some('d') => day = number(&mut i, 2)?,
                Some('H') => hour = number(&mut i, 2)?,
                Some('M') => minute = number(&mut i, 2)?,
                Some('S') => second = number(&mut i, 2)?,
                Some('%') if v.get(i) == Some(&'%') => i += 1,
                Some(d) => return Err(format!("the directive '%{d}' is not supported")),
                None => return Err("stray % in format".into()),
            }
        } else if c.is_whitespace() {
            while i < v.len() && v[i].is_whitespace() {
                i += 1;
            }
        } else if v.get(i) == Some(&c) {
            i += 1;
        } else {
            return Err(format!("time data '{value}' does not match format '{format}'"));
        }
    }
    if i != v.len() {
        return Err(format!("unconverted data remains: {}", v[i..].iter().collect::<String>()));
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 61 {
        return Err(format!("time data '{value}' does not match format '{format}'"));
    }
    Ok((
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"),
        format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}.{second:02}"),
    ))
}

// ---------------------------------------------------------------------------------------
// Paths.

pub(crate) fn dirname(p: &str) -> String {
    match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((d, _)) => d.to_string(),
        None => ".".into(),
    }
}

pub(crate) fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

// ---------------------------------------------------------------------------------------
// Running.

/// Run a script on the host: on the command line, or on stdin when it is long (a
/// command line is limited to 128 KiB on Linux).
pub(crate) async fn run_script(remote: &dyn crate::Remote, script: &str) -> Result<crate::ExecOutput, RemoteError> {
    if script.len() > 100_000 {
        remote.exec("sh -s", script.as_bytes()).await
    } else {
        remote.exec(script, b"").await
    }
}

/// The lines that describe `path` after the commands ran (a subshell: `set -e` off).
pub(crate) fn describe_after(path: &str) -> String {
    format!("set +e; {}", util::probe_many_script_with(&[(path, format!("{TAG} ext0 %h %i %d %X %Y"))]))
}

/// [`describe_after`] without the checksum (no `sha1sum`): for content the controller
/// sent, whose checksum it knows.
pub(crate) fn describe_after_unsummed(path: &str) -> String {
    format!("set +e; {}", util::probe_many_script_unsummed(&[(path, format!("{TAG} ext0 %h %i %d %X %Y"))]))
}

#[async_trait]
impl Module for File {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let mut o = match Opts::parse(args) {
            Ok(o) => o,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        o.path = util::expand_home(ctx.remote, &o.path).await?;
        if let Some(src) = &o.src {
            o.src = Some(util::expand_home(ctx.remote, src).await?);
        }
        let mut facts = Facts::default();
        let mut queries = first_queries(&o);
        // Each pass learns what the decision asked for; the first usually suffices.
        for _ in 0..4 {
            if let Err(e) = facts.gather(ctx.remote, &queries).await {
                return Ok(ModuleResult::failed(e));
            }
            let plan = match decide(&o, &facts, ctx.diff) {
                Step::Need(q) => {
                    queries = q;
                    continue;
                }
                Step::Fail(msg, extra) => {
                    let mut r = ModuleResult::failed(msg);
                    for (k, v) in extra {
                        r.set(k, v);
                    }
                    return Ok(r);
                }
                Step::Done(plan) => *plan,
            };
            return finish(plan, &facts, ctx).await;
        }
        Ok(ModuleResult::failed(format!("{} kept changing while it was inspected", o.path)))
    }
}

/// Run the plan (unless in check mode, or there is nothing to do) and build the result.
async fn finish(plan: Plan, facts: &Facts, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    let changed = !plan.commands.is_empty();
    let mut r = ModuleResult::ok(changed);
    r.0.extend(plan.result);
    let known = facts.seen.get(&plan.report);
    if changed && !ctx.check_mode {
        let script = format!("set -e; {}; {}", plan.commands.join("; "), describe_after(&plan.report));
        let out = run_script(ctx.remote, &script).await?;
        if out.rc != 0 {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let mut f = ModuleResult::failed(if stderr.is_empty() { format!("changing {} failed with status {}", plan.report, out.rc) } else { stderr });
            f.set("path", plan.report.clone());
            f.set("rc", out.rc);
            return Ok(f);
        }
        let mut after = Facts::default();
        after.absorb(&[Query::Describe(plan.report.clone())], &out.stdout).map_err(RemoteError::Other)?;
        if let Some(s) = after.seen.get(&plan.report) {
            add_path_info(&mut r.0, &s.st, s.nlink);
        }
    } else if let Some(s) = known {
        add_path_info(&mut r.0, &s.st, s.nlink);
    }
    if ctx.diff {
        let mut d = Map::new();
        d.insert("before".into(), Value::Object(plan.before));
        d.insert("after".into(), Value::Object(plan.after));
        r.set("diff", Value::Object(d));
    }
    if !plan.warnings.is_empty() {
        r.set("warnings", Value::from(plan.warnings));
    }
    Ok(r)
}

#[cfg(test)]
pub(crate) mod tests;
