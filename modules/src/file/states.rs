//! Deciding: from what the host has ([`Facts`]) and what the task asks ([`Opts`]), the
//! commands for each `state` ([`decide`]), or what else must be learnt first.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::attrs::{attr_change, attr_change_of, mkdir_commands, replace_with, AttrChange};
use super::facts::{Entry, Facts, Query, Seen};
use super::{basename, dirname, join, Opts, State, Time};
use crate::quote::quote;
use crate::util::PathState;


/// What to do: commands (empty: nothing), what to report, the path to describe after.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) commands: Vec<String>,
    pub(super) result: Map<String, Value>,
    /// The path whose state the result reports.
    pub(super) report: String,
    pub(super) before: Map<String, Value>,
    pub(super) after: Map<String, Value>,
    pub(super) warnings: Vec<String>,
}

impl Plan {
    fn new(report: &str, key: &str) -> Plan {
        let mut p = Plan { report: report.to_string(), ..Plan::default() };
        p.result.insert(key.into(), Value::String(report.to_string()));
        p.before.insert("path".into(), Value::String(report.to_string()));
        p.after.insert("path".into(), Value::String(report.to_string()));
        p
    }

    /// Ansible's `initial_diff`: the state, when it changes.
    fn state_diff(&mut self, prev: &str, state: &str) {
        if prev != state {
            self.before.insert("state".into(), Value::String(prev.into()));
            self.after.insert("state".into(), Value::String(state.into()));
        }
    }

    fn attrs(&mut self, quoted: &str, c: AttrChange) {
        self.commands.extend(c.commands(quoted));
        self.before.extend(c.before);
        self.after.extend(c.after);
    }
}

pub(super) enum Step {
    /// Learn these first.
    Need(Vec<Query>),
    /// Fail with this message and these extra keys.
    Fail(String, Vec<(&'static str, Value)>),
    Done(Box<Plan>),
}

fn fail(msg: impl Into<String>) -> Step {
    Step::Fail(msg.into(), vec![])
}

macro_rules! seen {
    ($facts:expr, $path:expr) => {
        match $facts.seen.get($path.as_str()) {
            Some(s) => s,
            None => return Step::Need(vec![Query::Describe($path.to_string())]),
        }
    };
}

/// The queries a task will most likely need, so that usually one round trip is enough.
pub(super) fn first_queries(o: &Opts) -> Vec<Query> {
    let mut q = vec![Query::Describe(o.path.clone())];
    if let Some(src) = &o.src {
        match o.state {
            Some(State::Link) => q.push(Query::Describe(join(&dirname(&o.path), src))),
            Some(State::Absent) => {}
            _ => {
                q.push(Query::Describe(join(&o.path, basename(src))));
                q.push(Query::Describe(src.clone()));
            }
        }
    }
    if o.recurse && matches!(o.state, Some(State::Directory) | None) {
        q.push(Query::Tree(o.path.clone()));
    }
    for t in [&o.mtime, &o.atime].into_iter().flatten() {
        if let Time::At { date, .. } = t {
            q.push(Query::Epoch(date.clone()));
        }
    }
    q
}

/// Decide what to do, from what is known; or say what else must be known.
pub(super) fn decide(o: &Opts, f: &Facts, diff: bool) -> Step {
    let mut path = o.path.clone();
    let mut seen = seen!(f, path);
    // Ansible: a directory at `path` (followed) with a `src` means the file inside it.
    if let (Some(src), false) = (&o.src, matches!(o.state, Some(State::Link) | Some(State::Absent))) {
        if is_dir_followed(f, seen).unwrap_or(false) {
            path = join(&path, basename(src));
            seen = seen!(f, path);
        } else if is_dir_followed(f, seen).is_none() {
            return Step::Need(vec![Query::Describe(seen.real.clone().unwrap_or_default())]);
        }
    }
    let prev = seen.state();
    let state = match o.state {
        Some(s) => s,
        None => match prev {
            "absent" if o.recurse => State::Directory,
            "absent" => State::File,
            other => State::parse(other).unwrap_or(State::Hard),
        },
    };
    if o.recurse && state != State::Directory {
        return Step::Fail("recurse option requires state to be 'directory'".into(), vec![("path", Value::String(path))]);
    }
    if o.src.is_some() && !matches!(state, State::Link | State::Hard) {
        return Step::Fail("src option requires state to be 'link' or 'hard'".into(), vec![("path", Value::String(path))]);
    }
    // Ansible's keep_backward_compatibility_on_timestamps.
    let default_time = if state == State::Touch { Time::Now } else { Time::Preserve };
    let mtime = o.mtime.clone().unwrap_or_else(|| default_time.clone());
    let atime = o.atime.clone().unwrap_or(default_time);
    let times = Times { mtime: &mtime, atime: &atime };
    match state {
        State::Absent => absent(&path, seen, f, diff),
        State::File => existing_file(o, &path, seen, f, &times),
        State::Directory => directory(o, &path, seen, f, &times),
        State::Link => symlink(o, &path, seen, f, &times),
        State::Hard => hardlink(o, &path, seen, f, &times),
        State::Touch => touch(o, &path, seen, f, &times),
    }
}

/// Whether the path is a directory once links are followed; `None`: its target must be
/// described first.
fn is_dir_followed(f: &Facts, seen: &Seen) -> Option<bool> {
    match (seen.st.kind.as_str(), &seen.real) {
        ("directory", _) => Some(true),
        ("link", Some(real)) if seen.exists_follow => f.seen.get(real).map(|r| r.st.kind == "directory"),
        _ => Some(false),
    }
}

struct Times<'a> {
    mtime: &'a Time,
    atime: &'a Time,
}

impl Times<'_> {
    /// The `touch` options (each a command without its path) that give a path seen with
    /// `atime`/`mtime` the wanted times; their diff goes to `plan`. `Err`: an epoch must
    /// be learnt first, or the host cannot read the time.
    fn options(&self, f: &Facts, atime: i64, mtime: i64, plan: &mut Plan) -> Result<Vec<String>, Step> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        if *self.mtime == Time::Now && *self.atime == Time::Now {
            // Like Ansible's `utime(path, None)`: always a change.
            for (key, current) in [("mtime", mtime), ("atime", atime)] {
                plan.before.insert(key.into(), Value::from(current));
                plan.after.insert(key.into(), Value::from(now));
            }
            return Ok(vec!["touch -c".into()]);
        }
        let mut out = vec![];
        for (t, flag, key, current) in [(self.mtime, "-m", "mtime", mtime), (self.atime, "-a", "atime", atime)] {
            let (wanted, cmd) = match t {
                Time::Preserve => continue,
                Time::Now => (now, format!("touch -c {flag}")),
                Time::At { date, touch } => match f.epochs.get(date) {
                    Some(Some(e)) => (*e, format!("touch -c {flag} -t {}", quote(touch))),
                    Some(None) => return Err(fail(format!("Error while obtaining timestamp for time {date}: the host's `date` cannot read it"))),
                    None => return Err(Step::Need(vec![Query::Epoch(date.clone())])),
                },
            };
            if wanted != current || *t == Time::Now {
                out.push(cmd);
                plan.before.insert(key.into(), Value::from(current));
                plan.after.insert(key.into(), Value::from(wanted));
            }
        }
        Ok(out)
    }

    /// [`Times::options`] as commands on `quoted`, added to the plan.
    fn change(&self, f: &Facts, quoted: &str, atime: i64, mtime: i64, plan: &mut Plan) -> Result<(), Step> {
        for cmd in self.options(f, atime, mtime, plan)? {
            plan.commands.push(format!("{cmd} -- {quoted}"));
        }
        Ok(())
    }
}

/// With `follow`, a symlink's attributes go to its target: the path to work on and what
/// is there.
fn followed<'a>(o: &Opts, f: &'a Facts, path: &str, seen: &'a Seen) -> Result<(String, &'a Seen), Step> {
    if o.follow && seen.st.kind == "link" {
        if let Some(real) = &seen.real {
            return match f.seen.get(real.as_str()) {
                Some(s) => Ok((real.clone(), s)),
                None => Err(Step::Need(vec![Query::Describe(real.clone())])),
            };
        }
    }
    Ok((path.to_string(), seen))
}

fn absent(path: &str, seen: &Seen, f: &Facts, diff: bool) -> Step {
    let mut plan = Plan::new(path, "path");
    plan.result.insert("state".into(), Value::String("absent".into()));
    let prev = seen.state();
    if prev == "absent" {
        return Step::Done(Box::new(plan));
    }
    plan.state_diff(prev, "absent");
    if prev == "directory" {
        if diff {
            let Some((dirs, files)) = f.contents.get(path) else { return Step::Need(vec![Query::Contents(path.to_string())]) };
            let mut walk = Map::new();
            walk.insert("directories".into(), Value::from(dirs.clone()));
            walk.insert("files".into(), Value::from(files.clone()));
            plan.before.insert("path_content".into(), Value::Object(walk));
        }
        plan.commands.push(format!("rm -rf -- {}", quote(path)));
    } else {
        plan.commands.push(format!("rm -f -- {}", quote(path)));
    }
    Step::Done(Box::new(plan))
}

fn existing_file(o: &Opts, path: &str, seen: &Seen, f: &Facts, times: &Times) -> Step {
    let (path, seen) = match followed(o, f, path, seen) {
        Ok(x) => x,
        Err(step) => return step,
    };
    let prev = seen.state();
    if !matches!(prev, "file" | "hard") {
        return Step::Fail(
            format!("file ({path}) is {prev}, cannot continue"),
            vec![("path", Value::String(path.clone())), ("state", Value::String(prev.into()))],
        );
    }
    let mut plan = Plan::new(&path, "path");
    plan.state_diff(prev, "file");
    match attr_change(&seen.st, &o.want, f.umask) {
        Ok(c) => plan.attrs(&quote(&path), c),
        Err(e) => return Step::Fail(e, vec![("path", Value::String(path))]),
    }
    if let Err(step) = times.change(f, &quote(&path), seen.atime, seen.mtime, &mut plan) {
        return step;
    }
    Step::Done(Box::new(plan))
}

fn directory(o: &Opts, path: &str, seen: &Seen, f: &Facts, times: &Times) -> Step {
    let (path, seen) = match followed(o, f, path, seen) {
        Ok(x) => x,
        Err(step) => return step,
    };
    let prev = seen.state();
    let mut plan = Plan::new(&path, "path");
    plan.state_diff(prev, "directory");
    if prev == "absent" {
        // Like `mkdir -p`, with the attributes on every directory it creates.
        let new_bits = 0o777 & !f.umask;
        let change = match attr_change_of("directory", new_bits, "", u32::MAX, "", u32::MAX, &o.want, f.umask) {
            Ok(c) => c,
            Err(e) => return Step::Fail(e, vec![("path", Value::String(path))]),
        };
        plan.commands.extend(mkdir_commands(&path, &change));
        plan.before.extend(change.before.into_iter().filter(|(k, _)| k == "mode"));
        plan.after.extend(change.after.into_iter().filter(|(k, _)| k == "mode"));
        if let Err(step) = times.change(f, &quote(&path), 0, 0, &mut plan) {
            return step;
        }
        return Step::Done(Box::new(plan));
    }
    if prev != "directory" {
        return Step::Fail(format!("{path} already exists as a {prev}"), vec![("path", Value::String(path.clone()))]);
    }
    match attr_change(&seen.st, &o.want, f.umask) {
        Ok(c) => plan.attrs(&quote(&path), c),
        Err(e) => return Step::Fail(e, vec![("path", Value::String(path))]),
    }
    if let Err(step) = times.change(f, &quote(&path), seen.atime, seen.mtime, &mut plan) {
        return step;
    }
    if o.recurse {
        let Some(entries) = f.trees.get(&path) else { return Step::Need(vec![Query::Tree(path.clone())]) };
        match recurse_commands(entries, o, f, times) {
            Ok(c) => plan.commands.extend(c),
            Err(step) => return step,
        }
    }
    Step::Done(Box::new(plan))
}

/// Commands that give everything under a directory the wanted attributes and times,
/// batched: one `chmod`/`chown`/`touch` per distinct value.
fn recurse_commands(entries: &[Entry], o: &Opts, f: &Facts, times: &Times) -> Result<Vec<String>, Step> {
    let mut chmod: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut chown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut touch: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries {
        let kind = match e.raw_mode & 0o170000 {
            0o120000 => "link",
            0o040000 => "directory",
            _ => "file",
        };
        let c = attr_change_of(kind, e.raw_mode, &e.owner, e.uid, &e.group, e.gid, &o.want, f.umask).map_err(fail)?;
        let q = quote(&e.path);
        if let Some(m) = c.mode {
            chmod.entry(m).or_default().push(q.clone());
        }
        match (&c.owner, &c.group) {
            (None, None) => {}
            (owner, group) => {
                // Keep whichever part is already right, so one `chown` fits every entry.
                let who = format!("{}:{}", owner.clone().unwrap_or_else(|| e.uid.to_string()), group.clone().unwrap_or_else(|| e.gid.to_string()));
                chown.entry(who).or_default().push(q.clone());
            }
        }
        if kind != "link" {
            for cmd in times.options(f, e.atime, e.mtime, &mut Plan::default())? {
                touch.entry(cmd).or_default().push(q.clone());
            }
        }
    }
    let mut out = vec![];
    for (who, paths) in chown {
        out.push(format!("chown -h {} -- {}", quote(&who), paths.join(" ")));
    }
    for (m, paths) in chmod {
        out.push(format!("chmod {m:04o} -- {}", paths.join(" ")));
    }
    for (cmd, paths) in touch {
        out.push(format!("{cmd} -- {}", paths.join(" ")));
    }
    Ok(out)
}

fn symlink(o: &Opts, path: &str, seen: &Seen, f: &Facts, times: &Times) -> Step {
    let prev = seen.state();
    // No src: keep the current target (Ansible reads it when following).
    let src = o.src.clone().or_else(|| if o.follow && seen.st.kind == "link" { seen.st.link_target.clone() } else { None });
    // Relative targets are relative to the link's directory, as with `ln -s`. (Ansible
    // takes them relative to `path` itself when `path` is a real directory; that only
    // matters when a directory is replaced with `force`, where the target is not checked.)
    let absrc = src.as_ref().map(|s| join(&dirname(path), s));
    let mut plan = Plan::new(path, "dest");
    if let Some(s) = &src {
        plan.result.insert("src".into(), Value::String(s.clone()));
    }
    // The target is described only when it matters: to refuse a missing `src`, or to
    // give it attributes through the link.
    let has_attrs = o.want.mode.is_some() || o.want.owner.is_some() || o.want.group.is_some();
    let sets_times = *times.mtime != Time::Preserve || *times.atime != Time::Preserve;
    let target = match &absrc {
        Some(a) if (o.src.is_some() && !o.force) || (o.follow && (has_attrs || sets_times)) => Some(seen!(f, a)),
        _ => None,
    };
    if let (Some(a), Some(t), false, true) = (&absrc, target, o.force, o.src.is_some()) {
        if !t.exists_follow {
            return Step::Fail(
                format!("src file does not exist, use 'force=yes' if you really want to create the link: {a}"),
                vec![("path", Value::String(path.into())), ("src", Value::String(src.clone().unwrap_or_default()))],
            );
        }
    }
    match prev {
        "directory" if !o.force => return Step::Fail(format!("refusing to convert from directory to symlink for {path}"), vec![("path", Value::String(path.into()))]),
        "directory" if f.nonempty(path).is_none() => return Step::Need(vec![Query::NonEmpty(path.into())]),
        "directory" if f.nonempty(path) == Some(true) => return Step::Fail(format!("the directory {path} is not empty, refusing to convert it"), vec![("path", Value::String(path.into()))]),
        "file" | "hard" if !o.force => return Step::Fail(format!("refusing to convert from {prev} to symlink for {path}"), vec![("path", Value::String(path.into()))]),
        _ => {}
    }
    plan.state_diff(prev, "link");
    let q = quote(path);
    match (prev, &src) {
        ("link", None) => {}
        ("link", Some(s)) => {
            let old = seen.st.link_target.clone().unwrap_or_default();
            if &old != s {
                plan.before.insert("src".into(), Value::String(old));
                plan.after.insert("src".into(), Value::String(s.clone()));
                plan.commands.push(replace_with(&format!("ln -s -- {}", quote(s)), path));
            }
        }
        (_, None) => return fail("src is required for creating new symlinks"),
        ("absent", Some(s)) => plan.commands.push(format!("ln -s -- {} {q}", quote(s))),
        (_, Some(s)) => {
            if prev == "directory" {
                plan.commands.push(format!("rmdir -- {q}"));
            }
            plan.commands.push(replace_with(&format!("ln -s -- {}", quote(s)), path));
        }
    }
    // Attributes: on the link's target when following (if it exists), else on the link.
    if o.follow {
        match (target, &absrc) {
            (Some(t), Some(a)) if t.st.exists && t.st.kind != "link" => {
                match attr_change(&t.st, &o.want, f.umask) {
                    Ok(c) => plan.attrs(&quote(a), c),
                    Err(e) => return Step::Fail(e, vec![("path", Value::String(path.into()))]),
                }
                if let Err(step) = times.change(f, &quote(a), t.atime, t.mtime, &mut plan) {
                    return step;
                }
            }
            _ if has_attrs || sets_times => plan.warnings.push("Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.".into()),
            _ => {}
        }
    } else {
        let mut as_link = seen.st.clone();
        if prev != "link" {
            // The new link is owned by whoever runs the task; only an asked owner matters.
            as_link = PathState { exists: true, kind: "link".into(), owner: String::new(), group: String::new(), uid: u32::MAX, gid: u32::MAX, ..as_link };
        }
        match attr_change(&as_link, &o.want, f.umask) {
            Ok(c) => plan.attrs(&q, c),
            Err(e) => return Step::Fail(e, vec![("path", Value::String(path.into()))]),
        }
    }
    Step::Done(Box::new(plan))
}

fn hardlink(o: &Opts, path: &str, seen: &Seen, f: &Facts, times: &Times) -> Step {
    let prev = seen.state();
    let Some(src) = &o.src else {
        if prev != "hard" {
            return fail("src is required for creating new hardlinks");
        }
        return attrs_and_times(o, quote(path), seen, f, times, Plan::new(path, "dest"));
    };
    let src_seen = seen!(f, src);
    if !src_seen.exists_follow {
        return Step::Fail("src does not exist".into(), vec![("dest", Value::String(path.into())), ("src", Value::String(src.clone()))]);
    }
    // Ansible compares `os.stat` (followed) inode numbers.
    let src_real = match (&src_seen.real, src_seen.st.kind.as_str()) {
        (Some(r), "link") => seen!(f, r),
        _ => src_seen,
    };
    let mut plan = Plan::new(path, "dest");
    plan.result.insert("src".into(), Value::String(src.clone()));
    plan.state_diff(prev, "hard");
    let same = seen.st.exists && seen.inode == src_real.inode && seen.dev == src_real.dev;
    let q = quote(path);
    let ln = if o.follow { "ln -L" } else { "ln -P" };
    match prev {
        "absent" => plan.commands.push(format!("{ln} -- {} {q}", quote(src))),
        "link" => {
            let old = seen.st.link_target.clone().unwrap_or_default();
            if &old != src {
                plan.before.insert("src".into(), Value::String(old));
                plan.after.insert("src".into(), Value::String(src.clone()));
                plan.commands.push(replace_with(&format!("{ln} -- {}", quote(src)), path));
            }
        }
        "hard" | "file" | "directory" if same => {}
        "hard" if !o.force => return Step::Fail("Cannot link, different hard link exists at destination".into(), vec![("dest", Value::String(path.into())), ("src", Value::String(src.clone()))]),
        "file" if !o.force => return Step::Fail("Cannot link, file exists at destination".into(), vec![("dest", Value::String(path.into())), ("src", Value::String(src.clone()))]),
        "directory" if !o.force => return Step::Fail("Cannot link: different hard link exists at destination".into(), vec![("dest", Value::String(path.into())), ("src", Value::String(src.clone()))]),
        _ => plan.commands.push(replace_with(&format!("{ln} -- {}", quote(src)), path)),
    }
    // After linking, the path is the source's inode: compare the source's attributes.
    attrs_and_times(o, q, src_real, f, times, plan)
}

fn attrs_and_times(o: &Opts, quoted: String, seen: &Seen, f: &Facts, times: &Times, mut plan: Plan) -> Step {
    match attr_change(&seen.st, &o.want, f.umask) {
        Ok(c) => plan.attrs(&quoted, c),
        Err(e) => return Step::Fail(e, vec![]),
    }
    if let Err(step) = times.change(f, &quoted, seen.atime, seen.mtime, &mut plan) {
        return step;
    }
    Step::Done(Box::new(plan))
}

fn touch(o: &Opts, path: &str, seen: &Seen, f: &Facts, times: &Times) -> Step {
    let prev = seen.state();
    let mut plan = Plan::new(path, "dest");
    plan.state_diff(prev, "touch");
    if prev == "absent" {
        // A new empty file (`touch` never truncates one that appeared meanwhile), then
        // its attributes as a new file gets them.
        plan.commands.push(format!("touch -- {}", quote(path)));
        let fresh = PathState {
            exists: true,
            kind: "file".into(),
            mode: format!("{:04o}", 0o666 & !f.umask),
            uid: u32::MAX,
            gid: u32::MAX,
            ..PathState::default()
        };
        let fresh = Seen { st: fresh, ..Seen::default() };
        let mut p = attrs_and_times(o, quote(path), &fresh, f, &Times { mtime: &Time::Preserve, atime: &Time::Preserve }, plan);
        if let Step::Done(plan) = &mut p {
            // Explicit times still apply to the new file; `now` is what it already has.
            for (t, flag) in [(times.mtime, "-m"), (times.atime, "-a")] {
                if let Time::At { touch, .. } = t {
                    plan.commands.push(format!("touch -c {flag} -t {} -- {}", quote(touch), quote(path)));
                }
            }
        }
        return p;
    }
    let (target, seen) = match followed(o, f, path, seen) {
        Ok(x) => x,
        Err(step) => return step,
    };
    attrs_and_times(o, quote(&target), seen, f, times, plan)
}

