//! `hostname`: the host's name, now (the transient/kernel name) and at boot (the static
//! name in /etc/hostname).
//!
//! One round trip reads both (with `hostnamectl` where systemd runs, else `hostname` and
//! /etc/hostname); a change is one more: `hostnamectl set-hostname` (static first, then
//! transient, as Ansible does), or /etc/hostname written atomically and `hostname NAME`.

use async_trait::async_trait;
use serde_json::json;

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::{self, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Hostname;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The host's name.").required(),
    ArgSpec::new(
        "use",
        ArgType::Str,
        "How to set it: `systemd` (hostnamectl), `debian` or `generic` (/etc/hostname and `hostname`). \
Default: `systemd` where systemd runs, else `generic`.",
    )
    .choices(&["systemd", "debian", "generic"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "hostname",
    short: "Manage hostname",
    description: "Sets the host's current and permanent name: with `hostnamectl` on systemd hosts, else by writing \
/etc/hostname and running `hostname NAME`. It does not edit /etc/hosts. Check mode and diff mode are supported. \
Containers usually may not change their hostname.",
    args: ARGS,
    free_form: false,
    examples: "- name: Name the host after its inventory name\n  ansible.builtin.hostname:\n    name: \"{{ inventory_hostname }}\"\n\n\
- name: Without systemd\n  ansible.builtin.hostname:\n    name: web01\n    use: debian\n",
    returns: &[
        ("name", "the name"),
        ("ansible_facts", "`ansible_hostname` (the first label), `ansible_nodename`, `ansible_fqdn` and `ansible_domain`, from the new name"),
        ("diff", "`hostname = OLD` and `hostname = NEW`, when it changed"),
    ],
};

const TAG: &str = "__provision_hostname_24e9__";

fn read_script() -> String {
    format!(
        "if command -v hostnamectl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then echo {TAG} systemd; \
echo \"{TAG} ctl_transient $(hostnamectl --transient status 2>/dev/null)\"; echo \"{TAG} ctl_static $(hostnamectl --static status 2>/dev/null)\"; fi; \
echo \"{TAG} current $(hostname 2>/dev/null || uname -n)\"; \
if [ -f /etc/hostname ]; then echo \"{TAG} file $(head -n 1 /etc/hostname)\"; else echo \"{TAG} file\"; fi"
    )
}

#[async_trait]
impl Module for Hostname {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(name) = text(args, "name").map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `name` for module `hostname`"));
        };
        if name.contains(char::is_whitespace) || name.contains('/') {
            return Ok(ModuleResult::failed(format!("invalid hostname: {name:?}")));
        }
        let out = ctx.remote.exec(&read_script(), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| {
            stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} {key}")).filter(|r| r.is_empty() || r.starts_with(' ')).map(|r| r.trim().to_string()))
        };
        let Some(kernel) = field("current") else {
            return Ok(ModuleResult::failed(format!("cannot read the hostname: {}", String::from_utf8_lossy(&out.stderr).trim())));
        };
        let has_systemd = field("systemd").is_some();
        let strategy = text(args, "use").unwrap_or_else(|| if has_systemd { "systemd".into() } else { "generic".into() });
        let systemd = strategy == "systemd";
        if systemd && !has_systemd && text(args, "use").is_some() {
            // Asked for systemd where it does not run: hostnamectl would fail.
            return Ok(ModuleResult::failed("use=systemd, but systemd (hostnamectl) is not running on the host"));
        }
        if systemd && name.len() > 64 {
            return Ok(ModuleResult::failed("name cannot be longer than 64 characters on systemd servers, try a shorter name"));
        }
        let (current, permanent) = if systemd {
            (field("ctl_transient").unwrap_or_default(), field("ctl_static").unwrap_or_default())
        } else {
            (kernel, field("file").unwrap_or_default())
        };
        let (set_current, set_permanent) = (current != name, permanent != name);
        let changed = set_current || set_permanent;
        let before = if name != current { current.clone() } else { permanent.clone() };
        let mut r = ModuleResult::ok(changed);
        let short = name.split('.').next().unwrap_or(&name).to_string();
        let domain = name.split_once('.').map(|(_, d)| d.to_string()).unwrap_or_default();
        r.set("name", name.clone());
        r.set("ansible_facts", json!({"ansible_hostname": short, "ansible_nodename": name, "ansible_fqdn": name, "ansible_domain": domain}));
        if changed {
            r.set("diff", json!({"before": format!("hostname = {before}\n"), "after": format!("hostname = {name}\n")}));
        }
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let q = quote(&name);
        let fail = |what: &str, out: &crate::ExecOutput| {
            ModuleResult::failed(format!(
                "Command failed rc={}, out={}, err={} ({what})",
                out.rc,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        };
        if systemd {
            let mut cmd = Vec::new();
            if set_permanent {
                cmd.push(format!("hostnamectl --pretty --static set-hostname {q}"));
            }
            if set_current {
                cmd.push(format!("hostnamectl --transient set-hostname {q}"));
            }
            let out = ctx.remote.exec(&cmd.join(" && "), b"").await?;
            if out.rc != 0 {
                return Ok(fail("hostnamectl", &out));
            }
        } else {
            if set_permanent {
                if let Err(e) = util::write_atomic(ctx.remote, "/etc/hostname", format!("{name}\n").as_bytes(), &Attrs::default(), false).await {
                    return Ok(ModuleResult::failed(format!("failed to update hostname: {e}")));
                }
            }
            if set_current {
                let out = ctx.remote.exec(&format!("hostname {q}"), b"").await?;
                if out.rc != 0 {
                    return Ok(fail("hostname", &out));
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

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&Hostname, a, &fake, check, true);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn systemd(transient: &str, stat: &str) -> String {
        format!("{TAG} systemd\n{TAG} ctl_transient {transient}\n{TAG} ctl_static {stat}\n{TAG} current {transient}\n{TAG} file {stat}\n")
    }

    #[test]
    fn already_named_is_one_round_trip() {
        let (r, sent) = run(json!({"name": "web1.example.com"}), &[&systemd("web1.example.com", "web1.example.com")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(r.0["ansible_facts"]["ansible_hostname"], "web1");
        assert_eq!(r.0["ansible_facts"]["ansible_domain"], "example.com");
    }

    #[test]
    fn systemd_sets_static_then_transient() {
        let (r, sent) = run(json!({"name": "web 1".replace(' ', "-")}), &[&systemd("old", "old"), ""], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(sent[1].0, "hostnamectl --pretty --static set-hostname web-1 && hostnamectl --transient set-hostname web-1");
        assert_eq!(r.0["diff"], json!({"before": "hostname = old\n", "after": "hostname = web-1\n"}));
        let (r, sent) = run(json!({"name": "web-1"}), &[&systemd("web-1", "old")], true);
        assert!(r.changed());
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn without_systemd_the_file_and_hostname() {
        let host = format!("{TAG} current old\n{TAG} file old\n");
        let (r, sent) = run(json!({"name": "new"}), &[&host, "", ""], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(sent.len(), 3);
        assert!(sent[1].0.contains("p=/etc/hostname;"), "{}", sent[1].0);
        assert_eq!(crate::util::unframed(&sent[1].1), b"new\n");
        assert_eq!(sent[2].0, "hostname new");
        // `use: debian` on a systemd host goes by the file too; only the file differs here.
        let (r, sent) = run(json!({"name": "new", "use": "debian"}), &[&format!("{TAG} systemd\n{TAG} current new\n{TAG} file old\n"), ""], false);
        assert!(r.changed());
        assert_eq!(sent.len(), 2);
    }

    #[test]
    fn bad_arguments() {
        let (r, sent) = run(json!({"name": "a b"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
        let (r, sent) = run(json!({"name": "a", "use": "windows"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
        let (r, _) = run(json!({"name": "a", "use": "systemd"}), &[&format!("{TAG} current x\n{TAG} file x\n")], false);
        assert!(r.is_failed());
    }
}
