//! Attributes: comparing a path's owner, group and mode with what a task asks for, the
//! commands that change them, and the result keys that describe a path. Shared with
//! `copy`.

use serde_json::{Map, Value};

use crate::quote::quote;
use crate::util::{mode_string, resolve_mode, Attrs, PathState};


/// Whether `want` (a name, or a number meaning an id) names `name`/`id`.
pub(crate) fn same_id(want: &str, name: &str, id: u32) -> bool {
    match want.parse::<u32>() {
        Ok(n) if want.bytes().all(|b| b.is_ascii_digit()) => n == id,
        _ => want == name,
    }
}

/// An owner or group as Ansible's diff shows it: an id when one was given.
fn id_value(want: &str) -> Value {
    want.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(want.to_string()))
}

/// What must change for one existing path to have the wanted owner, group and mode, with
/// the diff entries Ansible's `set_*_if_different` record.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AttrChange {
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<u32>,
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.group.is_none() && self.mode.is_none()
    }

    /// The commands, for a path already quoted for the shell. `-h`: a symlink itself
    /// gets the owner (its mode is never changed: Linux has no lchmod).
    pub fn commands(&self, quoted: &str) -> Vec<String> {
        let mut c = vec![];
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => c.push(format!("chown -h {} -- {quoted}", quote(&format!("{o}:{g}")))),
            (Some(o), None) => c.push(format!("chown -h {} -- {quoted}", quote(o))),
            (None, Some(g)) => c.push(format!("chgrp -h {} -- {quoted}", quote(g))),
            (None, None) => {}
        }
        // After chown, which clears setuid/setgid bits.
        if let Some(m) = self.mode {
            c.push(format!("chmod {m:04o} -- {quoted}"));
        }
        c
    }
}

/// Compare what a path has (kind, mode bits, owner, group) with what is wanted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attr_change_of(kind: &str, bits: u32, owner: &str, uid: u32, group: &str, gid: u32, want: &Attrs, umask: u32) -> Result<AttrChange, String> {
    let mut c = AttrChange::default();
    if let Some(o) = &want.owner {
        if !same_id(o, owner, uid) {
            c.before.insert("owner".into(), Value::from(uid));
            c.after.insert("owner".into(), id_value(o));
            c.owner = Some(o.clone());
        }
    }
    if let Some(g) = &want.group {
        if !same_id(g, group, gid) {
            c.before.insert("group".into(), Value::from(gid));
            c.after.insert("group".into(), id_value(g));
            c.group = Some(g.clone());
        }
    }
    if let (Some(m), false) = (&want.mode, kind == "link") {
        let current = bits & 0o7777;
        let wanted = resolve_mode(m, current, kind == "directory", umask)?;
        if wanted != current {
            c.before.insert("mode".into(), Value::String(mode_string(current)));
            c.after.insert("mode".into(), Value::String(mode_string(wanted)));
            c.mode = Some(wanted);
        }
    }
    Ok(c)
}

/// [`attr_change_of`] for a probed path.
pub(crate) fn attr_change(st: &PathState, want: &Attrs, umask: u32) -> Result<AttrChange, String> {
    let bits = u32::from_str_radix(&st.mode, 8).unwrap_or(0);
    attr_change_of(&st.kind, bits, &st.owner, st.uid, &st.group, st.gid, want, umask)
}

/// Ansible's `add_path_info`: what the path is after the task.
pub(crate) fn add_path_info(r: &mut Map<String, Value>, st: &PathState, nlink: u64) {
    if !st.exists {
        return;
    }
    r.insert("uid".into(), Value::from(st.uid));
    r.insert("gid".into(), Value::from(st.gid));
    r.insert("owner".into(), Value::String(st.owner.clone()));
    r.insert("group".into(), Value::String(st.group.clone()));
    r.insert("mode".into(), Value::String(mode_string(u32::from_str_radix(&st.mode, 8).unwrap_or(0))));
    let state = match st.kind.as_str() {
        "link" => "link",
        "directory" => "directory",
        _ if nlink > 1 => "hard",
        _ => "file",
    };
    r.insert("state".into(), Value::String(state.into()));
    r.insert("size".into(), Value::from(st.size));
}

/// Like `mkdir -p`, with `change` (owner, group, mode) on every directory it creates.
pub(crate) fn mkdir_commands(path: &str, change: &AttrChange) -> Vec<String> {
    let mut out = vec![];
    let mut current = if path.starts_with('/') { String::new() } else { ".".to_string() };
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current = if current.is_empty() { format!("/{part}") } else { format!("{current}/{part}") };
        let q = quote(&current);
        let mut cmds = vec![format!("mkdir -- {q}")];
        cmds.extend(change.commands(&q));
        out.push(format!("if [ ! -e {q} ]; then {}; fi", cmds.join(" && ")));
    }
    out
}

/// Replace `path` atomically by what `make` (a command taking the new name last)
/// creates: made beside it, then renamed over it (`-T`: never into a directory).
pub(crate) fn replace_with(make: &str, path: &str) -> String {
    let q = quote(path);
    let tmp = format!("\"$(dirname -- {q})/.provision-link.$$\"");
    format!("{make} {tmp} && mv -fT -- {tmp} {q}")
}

