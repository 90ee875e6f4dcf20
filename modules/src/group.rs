//! `group`: make sure a group exists with a given gid, or does not exist.
//!
//! One round trip reads `getent group NAME`; when something must change, a second one
//! runs `groupadd`, `groupmod` or `groupdel` with a quoted argv. Check mode stops after
//! the first and predicts.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

pub struct Group;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Name of the group to manage.").required(),
    ArgSpec::new("gid", ArgType::Int, "Optional group id to set for the group."),
    ArgSpec::new("state", ArgType::Str, "Whether the group should be present or not on the host.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("system", ArgType::Bool, "When creating the group, make it a system group (`groupadd -r`).").default("no"),
    ArgSpec::new("force", ArgType::Bool, "With `state=absent`, delete the group even when it is some user's primary group (`groupdel -f`).").default("no"),
    ArgSpec::new("non_unique", ArgType::Bool, "Allow a gid that another group already has (`-o`); needs `gid`.").default("no"),
    ArgSpec::new("local", ArgType::Bool, "Accepted for compatibility; the shadow tools (`groupadd`...) are always used.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "group",
    short: "Add or remove groups",
    description: "Manages the presence of a group and its gid with `groupadd`, `groupmod` and `groupdel`. \
One round trip when nothing changes; check mode predicts.",
    args: ARGS,
    free_form: false,
    examples: "- name: Ensure group somegroup exists\n  ansible.builtin.group:\n    name: somegroup\n    state: present\n\n\
- name: Ensure group docker exists with the right gid\n  ansible.builtin.group:\n    name: docker\n    gid: 1750\n",
    returns: &[
        ("name", "the group's name"),
        ("gid", "the group's id (when present)"),
        ("state", "`present` or `absent`"),
        ("system", "whether it is (or was asked to be) a system group"),
    ],
};


fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(false)
}

/// The gid of the group as `getent group` printed it, or `None` when it is absent.
fn parse_getent(out: &str) -> Option<u64> {
    out.lines().next().and_then(|l| l.split(':').nth(2)).and_then(|g| g.trim().parse().ok())
}

/// The argv to run, if any, given what the host has (`current` gid).
fn plan(args: &Args, current: Option<u64>) -> Option<Vec<String>> {
    let name = text(args, "name").unwrap_or_default();
    let gid = args.get("gid").and_then(Value::as_u64);
    let present = text(args, "state").as_deref() != Some("absent");
    let mut argv: Vec<String> = Vec::new();
    match (present, current) {
        (true, None) => {
            argv.push("groupadd".into());
            if let Some(g) = gid {
                argv.extend(["-g".into(), g.to_string()]);
                if flag(args, "non_unique") {
                    argv.push("-o".into());
                }
            }
            if flag(args, "system") {
                argv.push("-r".into());
            }
        }
        (true, Some(have)) => {
            let g = gid.filter(|g| *g != have)?;
            argv.extend(["groupmod".into(), "-g".into(), g.to_string()]);
            if flag(args, "non_unique") {
                argv.push("-o".into());
            }
        }
        (false, Some(_)) => {
            argv.push("groupdel".into());
            if flag(args, "force") {
                argv.push("-f".into());
            }
        }
        (false, None) => return None,
    }
    argv.push(name);
    Some(argv)
}

#[async_trait]
impl Module for Group {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let name = text(args, "name").unwrap_or_default();
        if name.is_empty() || name.contains([':', '\n', '\0']) {
            return Ok(ModuleResult::failed(format!("invalid group name `{name}`")));
        }
        let state = text(args, "state").unwrap_or_else(|| "present".into());
        let probe = ctx.remote.exec(&format!("getent group {} || true", quote(&name)), b"").await?;
        let current = parse_getent(&String::from_utf8_lossy(&probe.stdout));
        let argv = plan(args, current);
        let mut r = ModuleResult::ok(argv.is_some());
        r.set("name", name.clone()).set("state", state.clone()).set("system", flag(args, "system"));
        if let Some(argv) = argv.filter(|_| !ctx.check_mode) {
            let script = format!("{} && {{ getent group {} || true; }}", join(&argv), quote(&name));
            let out = ctx.remote.exec(&script, b"").await?;
            if out.rc != 0 {
                let mut f = ModuleResult::failed(String::from_utf8_lossy(&out.stderr).trim().to_string());
                f.set("name", name).set("rc", out.rc).set("cmd", join(&argv));
                return Ok(f);
            }
            if let Some(g) = parse_getent(&String::from_utf8_lossy(&out.stdout)) {
                r.set("gid", g);
            }
        } else if state == "present" {
            if let Some(g) = args.get("gid").and_then(Value::as_u64).or(current) {
                r.set("gid", g);
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::fake::{args, block_on, Fake};
    use serde_json::json;

    #[test]
    fn creates_a_missing_group_with_its_gid() {
        let f = Fake::new(&[(0, ""), (0, "ptest:x:1500:\n")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Group.run(&args(json!({"name": "ptest", "gid": 1500, "state": "present", "system": true})), &ctx)).unwrap();
        assert_eq!(f.commands()[0], "getent group ptest || true");
        assert_eq!(f.commands()[1], "groupadd -g 1500 -r ptest && { getent group ptest || true; }");
        assert!(r.changed());
        assert_eq!(r.0["gid"], 1500);
    }

    #[test]
    fn an_existing_group_costs_one_round_trip() {
        let f = Fake::new(&[(0, "ptest:x:1500:bob\n")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Group.run(&args(json!({"name": "ptest", "state": "present"})), &ctx)).unwrap();
        assert_eq!(f.commands().len(), 1);
        assert!(!r.changed());
        assert_eq!(r.0["gid"], 1500);
    }

    #[test]
    fn modifies_the_gid_and_check_mode_only_predicts() {
        let f = Fake::new(&[(0, "ptest:x:1500:\n")]);
        let ctx = Context { remote: &f, check_mode: true, diff: false };
        let r = block_on(Group.run(&args(json!({"name": "ptest", "gid": 1600, "state": "present"})), &ctx)).unwrap();
        assert!(r.changed());
        assert_eq!(f.commands().len(), 1);
        assert_eq!(plan(&args(json!({"name": "ptest", "gid": 1600})), Some(1500)).unwrap().join(" "), "groupmod -g 1600 ptest");
    }

    #[test]
    fn removes_with_force_and_absent_is_a_no_op() {
        let f = Fake::new(&[(0, "ptest:x:1500:\n"), (0, "")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Group.run(&args(json!({"name": "ptest", "state": "absent", "force": true})), &ctx)).unwrap();
        assert!(r.changed());
        assert_eq!(f.commands()[1], "groupdel -f ptest && { getent group ptest || true; }");
        assert_eq!(plan(&args(json!({"name": "ptest", "state": "absent"})), None), None);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let e = crate::validate("group", ARGS, &args(json!({"name": "x", "state": "gone"})), &[]).unwrap_err();
        assert!(e.message.contains("must be one of"), "{}", e.message);
        let f = Fake::new(&[]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        assert!(block_on(Group.run(&args(json!({"name": "a:b"})), &ctx)).unwrap().is_failed());
    }
}
