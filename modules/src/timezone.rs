//! `timezone`: the system time zone (`/etc/localtime` and `/etc/timezone`).
//!
//! One round trip reads `/etc/timezone`, the `/etc/localtime` link, whether systemd
//! runs and whether the zone exists; a change is `timedatectl set-timezone` under
//! systemd, else `/etc/timezone` written and `/etc/localtime` linked by hand.

use async_trait::async_trait;
use serde_json::json;

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Timezone;

const ARGS: &[ArgSpec] = &[ArgSpec::new("name", ArgType::Str, "The time zone, as a name under /usr/share/zoneinfo (`Europe/Berlin`, `Etc/UTC`).").required()];

static DOC: ModuleDoc = ModuleDoc {
    name: "timezone",
    short: "Configure timezone setting",
    description: "Sets the system time zone: with `timedatectl set-timezone` where systemd runs, else by writing \
`/etc/timezone` and linking `/etc/localtime` to the zone's file under `/usr/share/zoneinfo` (which must exist: install `tzdata`). \
The hardware clock is not touched. Check mode and diff mode are supported; nothing to change is one round trip.",
    args: ARGS,
    free_form: false,
    examples: "- name: Set the time zone\n  community.general.timezone:\n    name: Europe/Berlin\n",
    returns: &[("diff", "with `--diff`: `before` and `after`, each `{name: ...}`")],
};

const TAG: &str = "__provision_timezone_47be__";
const ZONEINFO: &str = "/usr/share/zoneinfo";

fn read_script(name: &str) -> String {
    format!(
        "echo \"{TAG} file $(head -n 1 /etc/timezone 2>/dev/null)\"; echo \"{TAG} link $(readlink /etc/localtime 2>/dev/null)\"; \
if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then echo {TAG} systemd; fi; \
if [ -f {z} ]; then echo {TAG} zone; fi; if [ -f /etc/timezone ]; then echo {TAG} hasfile; fi",
        z = quote(&format!("{ZONEINFO}/{name}"))
    )
}

/// The zone a `/etc/localtime` link names (`../usr/share/zoneinfo/Etc/UTC` → `Etc/UTC`).
fn zone_of_link(link: &str) -> Option<String> {
    link.split_once("zoneinfo/").map(|(_, z)| z.to_string()).filter(|z| !z.is_empty())
}

#[async_trait]
impl Module for Timezone {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(name) = text(args, "name").map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `name` for module `timezone`"));
        };
        if name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) || name.contains(char::is_whitespace) {
            return Ok(ModuleResult::failed(format!("given timezone \"{name}\" is not available")));
        }
        let out = ctx.remote.exec(&read_script(&name), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |k: &str| stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} {k}"))).map(|v| v.trim().to_string());
        let (Some(file), Some(link)) = (field("file"), field("link")) else {
            return Ok(ModuleResult::failed(format!("cannot read the time zone: {}", String::from_utf8_lossy(&out.stderr).trim())));
        };
        let has = |k: &str| stdout.lines().any(|l| l.trim() == format!("{TAG} {k}"));
        if !has("zone") {
            return Ok(ModuleResult::failed(format!("given timezone \"{name}\" is not available (no {ZONEINFO}/{name}: is tzdata installed?)")));
        }
        let systemd = has("systemd");
        let has_file = has("hasfile");
        let link_zone = zone_of_link(&link);
        let before = link_zone.clone().or_else(|| Some(file.clone()).filter(|f| !f.is_empty())).unwrap_or_else(|| "n/a".into());
        let link_ok = link_zone.as_deref() == Some(name.as_str());
        // /etc/timezone matters where it exists, and without systemd (where it is ours to write).
        let file_ok = file == name || (systemd && !has_file);
        let changed = !(link_ok && file_ok);
        let mut r = ModuleResult::ok(changed);
        if ctx.diff && changed {
            r.set("diff", json!({"before": {"name": before}, "after": {"name": name}}));
        }
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let q = quote(&name);
        let write_file = format!("printf '%s\\n' {q} > /etc/timezone");
        let cmd = if systemd {
            let mut c = format!("timedatectl set-timezone {q}");
            if has_file {
                c.push_str(&format!(" && {write_file}"));
            }
            c
        } else {
            format!("{write_file} && ln -sf {} /etc/localtime", quote(&format!("{ZONEINFO}/{name}")))
        };
        let out = ctx.remote.exec(&cmd, b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!(
                "setting the time zone to {name} failed (rc={}): {}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::Value;

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&Timezone, a, &fake, check, true);
        (r, fake.commands())
    }

    fn host(file: &str, link: &str, extra: &[&str]) -> String {
        let mut s = format!("{TAG} file {file}\n{TAG} link {link}\n");
        for e in extra {
            s.push_str(&format!("{TAG} {e}\n"));
        }
        s
    }

    #[test]
    fn already_set_is_one_round_trip() {
        let (r, sent) = run(json!({"name": "Etc/UTC"}), &[&host("Etc/UTC", "/usr/share/zoneinfo/Etc/UTC", &["zone", "hasfile"])], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("[ -f /usr/share/zoneinfo/Etc/UTC ]"), "{}", sent[0]);
    }

    #[test]
    fn without_systemd_writes_the_file_and_the_link() {
        let answer = host("Etc/UTC", "../usr/share/zoneinfo/Etc/UTC", &["zone", "hasfile"]);
        let (r, sent) = run(json!({"name": "Europe/Berlin"}), &[&answer], true);
        assert!(r.changed() && sent.len() == 1);
        assert_eq!(r.0["diff"], json!({"before": {"name": "Etc/UTC"}, "after": {"name": "Europe/Berlin"}}));
        let (r, sent) = run(json!({"name": "Europe/Berlin"}), &[&answer, ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent[1], "printf '%s\\n' Europe/Berlin > /etc/timezone && ln -sf /usr/share/zoneinfo/Europe/Berlin /etc/localtime");
    }

    #[test]
    fn with_systemd_uses_timedatectl() {
        let (r, sent) = run(json!({"name": "Europe/Berlin"}), &[&host("", "/usr/share/zoneinfo/Etc/UTC", &["zone", "systemd"]), ""], false);
        assert!(r.changed());
        assert_eq!(sent[1], "timedatectl set-timezone Europe/Berlin");
    }

    #[test]
    fn unknown_zones_fail() {
        let (r, sent) = run(json!({"name": "Mars/Olympus"}), &[&host("Etc/UTC", "/usr/share/zoneinfo/Etc/UTC", &[])], false);
        assert!(r.is_failed() && sent.len() == 1);
        let (r, sent) = run(json!({"name": "../../etc/passwd"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
    }
}
