//! `sysctl`: a kernel parameter in a sysctl file (and, optionally, in the running kernel).
//!
//! One round trip reads the running value and the file; the file's line is edited here
//! (the first `name=value` line replaced, later duplicates dropped, appended when
//! missing) and written atomically; then `sysctl -w` and `sysctl -p FILE` as asked.

use async_trait::async_trait;
use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::{self, textedit, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Sysctl;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The dot-separated path of the parameter (`vm.swappiness`).").required().aliases(&["key"]),
    ArgSpec::new("value", ArgType::Str, "The desired value (`yes`/`true` are written `1`, `no`/`false` `0`). Required with `state: present`.")
        .aliases(&["val"]),
    ArgSpec::new("state", ArgType::Str, "Whether the entry is in the file.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("ignoreerrors", ArgType::Bool, "Ignore errors about unknown keys (`sysctl -e`).").default("no"),
    ArgSpec::new("reload", ArgType::Bool, "Run `sysctl -p FILE` after the file changed.").default("yes"),
    ArgSpec::new("sysctl_file", ArgType::Path, "The file to edit.").default("/etc/sysctl.conf"),
    ArgSpec::new("sysctl_set", ArgType::Bool, "Also check the running value and set it with `sysctl -w`.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "sysctl",
    short: "Manage entries in sysctl.conf",
    description: "Keeps `name=value` in a sysctl file (`/etc/sysctl.conf` by default), reloads the file after a change, \
and with `sysctl_set` also sets the running kernel's value. Check mode and diff mode are supported. \
In containers most parameters are read-only: use `sysctl_set: no` and `reload: no` there.",
    args: ARGS,
    free_form: false,
    examples: "- name: Lower swappiness, now and at boot\n  ansible.posix.sysctl:\n    name: vm.swappiness\n    value: '10'\n    sysctl_set: yes\n\n\
- name: Enable forwarding in its own file, without reloading\n  ansible.posix.sysctl:\n    name: net.ipv4.ip_forward\n    value: '1'\n    sysctl_file: /etc/sysctl.d/90-forward.conf\n    reload: no\n\n\
- name: Remove an entry\n  ansible.posix.sysctl:\n    name: kernel.panic\n    state: absent\n",
    returns: &[("changed", "whether the file or the running value changed (or would)"), ("diff", "with `--diff`: the file before and after")],
};

const TAG: &str = "__provision_sysctl_c41f__";

/// Ansible's value normalization: booleans as `1`/`0`, surrounding space trimmed.
fn normalize(v: &str) -> String {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" => "1".into(),
        "no" | "false" => "0".into(),
        _ => v.trim().to_string(),
    }
}

/// Equal up to whitespace (the kernel prints tabs between the fields of multi-value keys).
fn same(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn read_script(name: &str, file: &str) -> String {
    format!(
        "echo \"{TAG} proc $(sysctl -e -n {n} 2>/dev/null | tr '\\n' ' ')\"; if [ -f {f} ]; then echo {TAG} file; cat {f}; else echo {TAG} nofile; fi",
        n = quote(name),
        f = quote(file)
    )
}

/// The file with `name` set to `value` (or removed when `None`).
fn edit(content: &str, name: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut seen = false;
    for line in content.split_inclusive('\n') {
        let t = line.trim();
        let key = (!t.starts_with('#') && !t.starts_with(';')).then(|| t.split_once('=').map(|(k, _)| k.trim())).flatten();
        if key == Some(name) {
            if !seen {
                if let Some(v) = value {
                    // An equal value keeps its line as written (`name = value`).
                    let current = t.split_once('=').map(|(_, c)| c.trim()).unwrap_or_default();
                    if same(current, v) {
                        out.push_str(line);
                    } else {
                        out.push_str(&format!("{name}={v}\n"));
                    }
                }
            }
            seen = true;
            continue;
        }
        out.push_str(line);
    }
    if !seen {
        if let Some(v) = value {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{name}={v}\n"));
        }
    }
    out
}

#[async_trait]
impl Module for Sysctl {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(name) = text(args, "name").map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `name` for module `sysctl`"));
        };
        if name.contains(char::is_whitespace) || name.contains('=') {
            return Ok(ModuleResult::failed(format!("invalid sysctl name: {name:?}")));
        }
        let flag = |k: &str, d: bool| args.get(k).and_then(to_bool).unwrap_or(d);
        let present = text(args, "state").as_deref() != Some("absent");
        let value = text(args, "value").map(|v| normalize(&v));
        let value = match (present, value) {
            (true, None) => return Ok(ModuleResult::failed("value cannot be None")),
            (true, Some(v)) if v.is_empty() => return Ok(ModuleResult::failed("value cannot be blank")),
            (true, v) => v,
            (false, _) => None,
        };
        let (set, reload, ignore) = (flag("sysctl_set", false), flag("reload", true), flag("ignoreerrors", false));
        let file = text(args, "sysctl_file").unwrap_or_else(|| "/etc/sysctl.conf".into());
        let file = util::expand_home(ctx.remote, &file).await?;

        let out = ctx.remote.exec(&read_script(&name, &file), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let Some(first) = stdout.lines().next().and_then(|l| l.strip_prefix(&format!("{TAG} proc"))) else {
            return Ok(ModuleResult::failed(format!("cannot read {file}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        };
        let proc_value = Some(first.trim().to_string()).filter(|v| !v.is_empty());
        let content = stdout.split_once(&format!("{TAG} file\n")).map(|(_, c)| c.to_string()).unwrap_or_default();

        let new_content = edit(&content, &name, value.as_deref());
        let write = new_content != content;
        let file_changed = write;
        let mut set_proc = false;
        if set && present {
            let v = value.as_deref().unwrap_or_default();
            match &proc_value {
                None if !ignore => return Ok(ModuleResult::failed(format!("setting {name} failed: the key does not exist (sysctl -n {name} printed nothing)"))),
                None => {}
                Some(p) => set_proc = !same(p, v),
            }
        }
        let changed = file_changed || set_proc;
        let mut r = ModuleResult::ok(changed);
        if ctx.diff && write {
            r.set("diff", textedit::diff(content.as_bytes(), new_content.as_bytes(), &file, &file));
        }
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let e = if ignore { "-e " } else { "" };
        if set_proc {
            let v = value.as_deref().unwrap_or_default();
            let out = ctx.remote.exec(&format!("sysctl {e}-w {}", quote(&format!("{name}={v}"))), b"").await?;
            if out.rc != 0 {
                return Ok(ModuleResult::failed(format!("setting {name} failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
            }
        }
        if write {
            if let Err(err) = util::write_atomic(ctx.remote, &file, new_content.as_bytes(), &Attrs::default(), false).await {
                return Ok(ModuleResult::failed(err.to_string()));
            }
            if reload {
                let out = ctx.remote.exec(&format!("sysctl {e}-p {}", quote(&file)), b"").await?;
                if out.rc != 0 {
                    return Ok(ModuleResult::failed(format!(
                        "Failed to reload sysctl: {}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::Value;
    use serde_json::json;

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&Sysctl, a, &fake, check, true);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn host(proc: &str, file: Option<&str>) -> String {
        match file {
            Some(f) => format!("{TAG} proc {proc}\n{TAG} file\n{f}"),
            None => format!("{TAG} proc {proc}\n{TAG} nofile\n"),
        }
    }

    #[test]
    fn already_set_is_one_round_trip() {
        let (r, sent) = run(json!({"name": "vm.swappiness", "value": "10", "sysctl_set": true}), &[&host("10", Some("# x\nvm.swappiness = 10\n"))], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].0.contains("sysctl -e -n vm.swappiness"), "{}", sent[0].0);
        assert!(sent[0].0.contains("cat /etc/sysctl.conf"), "{}", sent[0].0);
    }

    #[test]
    fn a_change_writes_sets_and_reloads() {
        let file = "# comment\nvm.swappiness=60\nkernel.panic=1\nvm.swappiness=70\n";
        let (r, sent) = run(json!({"key": "vm.swappiness", "val": "10", "sysctl_set": "yes"}), &[&host("60", Some(file)), "", "", ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 4);
        assert_eq!(sent[1].0, "sysctl -w vm.swappiness=10");
        assert_eq!(String::from_utf8_lossy(crate::util::unframed(&sent[2].1)), "# comment\nvm.swappiness=10\nkernel.panic=1\n");
        assert_eq!(sent[3].0, "sysctl -p /etc/sysctl.conf");
        assert_eq!(r.0["diff"]["after"], "# comment\nvm.swappiness=10\nkernel.panic=1\n");
        // Check mode: the same prediction, one round trip.
        let (r, sent) = run(json!({"name": "vm.swappiness", "value": "10"}), &[&host("60", Some(file))], true);
        assert!(r.changed());
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn a_new_file_without_reload_and_removal() {
        let (r, sent) = run(
            json!({"name": "net.ipv4.ip_forward", "value": true, "sysctl_file": "/etc/sysctl.d/90 x.conf", "reload": false}),
            &[&host("0", None), ""],
            false,
        );
        assert!(r.changed(), "{r:?}");
        assert_eq!(sent.len(), 2);
        assert!(sent[0].0.contains("[ -f '/etc/sysctl.d/90 x.conf' ]"), "{}", sent[0].0);
        assert_eq!(String::from_utf8_lossy(crate::util::unframed(&sent[1].1)), "net.ipv4.ip_forward=1\n");
        let (r, sent) = run(json!({"name": "a.b", "state": "absent", "reload": false}), &[&host("", Some("a.b=1\nc.d=2")), ""], false);
        assert!(r.changed());
        assert_eq!(String::from_utf8_lossy(crate::util::unframed(&sent[1].1)), "c.d=2");
        let (r, sent) = run(json!({"name": "a.b", "state": "absent"}), &[&host("", Some("c.d=2\n"))], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn bad_arguments() {
        let (r, sent) = run(json!({"name": "vm.swappiness"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
        let (r, _) = run(json!({"name": "vm.swappiness", "value": "1", "state": "gone"}), &[], false);
        assert!(r.is_failed());
        let (r, _) = run(json!({"name": "no.such", "value": "1", "sysctl_set": true}), &[&host("", None)], false);
        assert!(r.is_failed());
    }
}
