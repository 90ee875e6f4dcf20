//! `sudoers`: one sudo rule in its own file under /etc/sudoers.d (community.general.sudoers).
//!
//! The rule's text is built as community.general builds it. One round trip reads the
//! file and its mode and (the rule arriving on stdin) validates it with `visudo -cf -`;
//! a change writes a temporary file beside the target (mode 0440), checks it again with
//! `visudo -cf`, and renames it over the target, so sudo never sees a broken rule.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Sudoers;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The rule's name: the file under `sudoers_path`.").required(),
    ArgSpec::new("user", ArgType::Str, "The user the rule is for (not with `group`)."),
    ArgSpec::new("group", ArgType::Str, "The group the rule is for (not with `user`)."),
    ArgSpec::new("commands", ArgType::List, "The commands allowed (`ALL` for all). Required with state=present."),
    ArgSpec::new("nopassword", ArgType::Bool, "No password asked (`NOPASSWD:`).").default("yes"),
    ArgSpec::new("noexec", ArgType::Bool, "The commands may not run further commands (`NOEXEC:`).").default("no"),
    ArgSpec::new("setenv", ArgType::Bool, "The user may keep the environment (`SETENV:`).").default("no"),
    ArgSpec::new("runas", ArgType::Str, "The user (or `user:group`) the commands run as: `(RUNAS)`."),
    ArgSpec::new("host", ArgType::Str, "The host the rule is for.").default("ALL"),
    ArgSpec::new("state", ArgType::Str, "Whether the rule exists.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("sudoers_path", ArgType::Str, "The directory of sudoers files.").default("/etc/sudoers.d"),
    ArgSpec::new("validation", ArgType::Str, "`detect`: check with visudo if it is there; `required`: visudo must be there; `absent`: no check.").default("detect").choices(&["absent", "detect", "required"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "sudoers",
    short: "Manage sudoers files",
    description: "Writes one sudo rule, `OWNER HOST=(RUNAS)NOEXEC:NOPASSWD:SETENV: COMMANDS`, to SUDOERS_PATH/NAME with mode 0440 \
(the text community.general writes). The rule is checked with `visudo -cf` before it is put in place (unless validation=absent), \
and the file is written to a temporary name and renamed, so a broken rule never reaches sudo. Check mode is supported; nothing to \
change is one round trip (validation included).",
    args: ARGS,
    free_form: false,
    examples: "- name: Let the backup user run the backup without a password\n  community.general.sudoers:\n    name: allow-backup\n    user: backup\n    commands: /usr/local/bin/backup\n\n\
- name: Revoke it\n  community.general.sudoers:\n    name: allow-backup\n    state: absent\n",
    returns: &[("diff", "with `--diff`: the file's text `before` and `after`")],
};

const TAG: &str = "__provision_sudoers_8e41__";

fn flag(args: &Args, k: &str) -> bool {
    args.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// community.general's `content()`.
fn content(args: &Args) -> Result<String, String> {
    let owner = match (text(args, "user").filter(|u| !u.is_empty()), text(args, "group").filter(|g| !g.is_empty())) {
        (Some(_), Some(_)) => return Err("parameters are mutually exclusive: user|group".into()),
        (Some(u), None) => u,
        (None, Some(g)) => format!("%{g}"),
        (None, None) => return Err("one of user or group is required for a sudoers rule".into()),
    };
    let commands: Vec<String> = args
        .get("commands")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect())
        .unwrap_or_default();
    if commands.is_empty() {
        return Err("state is present but all of the following are missing: commands".into());
    }
    let runas = text(args, "runas").map(|r| format!("({r})")).unwrap_or_default();
    Ok(format!(
        "{owner} {}={runas}{}{}{} {}\n",
        text(args, "host").unwrap_or_else(|| "ALL".into()),
        if flag(args, "noexec") { "NOEXEC:" } else { "" },
        if flag(args, "nopassword") { "NOPASSWD:" } else { "" },
        if flag(args, "setenv") { "SETENV:" } else { "" },
        commands.join(", ")
    ))
}

#[async_trait]
impl Module for Sudoers {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let name = text(args, "name").unwrap_or_default();
        if name.is_empty() || name.contains('/') || name == ".." {
            return Ok(ModuleResult::failed(format!("invalid sudoers rule name {name:?}")));
        }
        let dir = text(args, "sudoers_path").unwrap_or_else(|| "/etc/sudoers.d".into());
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        let present = text(args, "state").as_deref() != Some("absent");
        let validation = text(args, "validation").unwrap_or_else(|| "detect".into());
        let want = if present {
            match content(args) {
                Ok(c) => Some(c),
                Err(e) => return Ok(ModuleResult::failed(e)),
            }
        } else {
            None
        };
        let p = quote(&path);
        let mut script = format!("if [ -f {p} ]; then echo \"{TAG} mode $(stat -c %a {p})\"; echo {TAG} content; base64 < {p}; echo; echo {TAG} end; fi");
        if want.is_some() && validation != "absent" {
            script.push_str(&format!(
                "; if command -v visudo >/dev/null 2>&1; then o=$(visudo -c -f - 2>&1); echo \"{TAG} visudo $?\"; printf '%s\\n' \"$o\" | sed 's/^/{TAG} v /'; fi"
            ));
        }
        let out = ctx.remote.exec(&script, want.as_deref().unwrap_or_default().as_bytes()).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mode = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} mode "))).map(|m| format!("{:0>4}", m.trim()));
        let current = match (stdout.find(&format!("{TAG} content\n")), stdout.find(&format!("{TAG} end"))) {
            (Some(a), Some(b)) if b > a => Some(String::from_utf8_lossy(&crate::fetch::base64_decode(&stdout[a + TAG.len() + 9..b]).map_err(RemoteError::Other)?).into_owned()),
            _ => None,
        };
        let mut r = ModuleResult::ok(false);
        let Some(want) = want else {
            if current.is_none() {
                return Ok(r);
            }
            r.set("changed", true);
            if ctx.diff {
                r.set("diff", json!({"before": current, "after": "", "before_header": path, "after_header": "/dev/null"}));
            }
            if !ctx.check_mode {
                let out = ctx.remote.exec(&format!("rm -f {p}"), b"").await?;
                if out.rc != 0 {
                    return Ok(ModuleResult::failed(format!("cannot remove {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
                }
            }
            return Ok(r);
        };
        let visudo = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} visudo "))).map(|rc| rc.trim() == "0");
        match (visudo, validation.as_str()) {
            (Some(false), _) => {
                let text: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix(&format!("{TAG} v "))).collect();
                return Ok(ModuleResult::failed(format!("Failed to validate sudoers rule:\n{}", text.join("\n"))));
            }
            (None, "required") => return Ok(ModuleResult::failed("Failed to find required executable \"visudo\" (validation=required)")),
            _ => {}
        }
        if name.contains('.') || name.ends_with('~') {
            r.set("warnings", vec![format!("sudo skips files in {dir} whose names contain '.' or end in '~': the rule {name} is written but sudo will not read it")]);
        }
        let content_ok = current.as_deref() == Some(want.as_str());
        if content_ok && mode.as_deref() == Some("0440") {
            return Ok(r);
        }
        r.set("changed", true);
        if ctx.diff && !content_ok {
            r.set("diff", json!({"before": current.clone().unwrap_or_default(), "after": want, "before_header": path, "after_header": path}));
        }
        if ctx.check_mode {
            return Ok(r);
        }
        let check = if validation != "absent" && visudo.is_some() { "visudo -c -f \"$t\" >&2 && " } else { "" };
        let attrs = crate::util::Attrs { mode: Some("0440".into()), ..Default::default() };
        let cmd = crate::util::write_script_with(&path, &attrs, false, crate::util::Source::Stdin(want.len()), check);
        let out = ctx.remote.exec(&cmd, &crate::util::write_stdin(want.as_bytes())).await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot write {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&Sudoers, a, &fake, check, true);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn on_host(content: &str, mode: &str, visudo: bool) -> String {
        let mut s = format!("{TAG} mode {mode}\n{TAG} content\n{}\n{TAG} end\n", crate::fetch::base64_encode(content.as_bytes()));
        if visudo {
            s.push_str(&format!("{TAG} visudo 0\n{TAG} v stdin: parsed OK\n"));
        }
        s
    }

    #[test]
    fn the_rule_text_is_community_generals() {
        let a = crate::file::tests::args(json!({"user": "bob", "commands": ["/bin/ls", "/bin/df -h"], "runas": "alice", "setenv": true, "noexec": true, "nopassword": true, "host": "ALL"}));
        assert_eq!(content(&a).unwrap(), "bob ALL=(alice)NOEXEC:NOPASSWD:SETENV: /bin/ls, /bin/df -h\n");
        let a = crate::file::tests::args(json!({"group": "ops", "commands": ["ALL"], "host": "web1"}));
        assert_eq!(content(&a).unwrap(), "%ops web1= ALL\n");
    }

    #[test]
    fn writes_validated_then_is_one_round_trip() {
        let a = json!({"name": "provision-test-rule", "user": "bob", "commands": "/usr/bin/uptime"});
        let (r, sent) = run(a.clone(), &[&format!("{TAG} visudo 0\n"), ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent[0].1, b"bob ALL=NOPASSWD: /usr/bin/uptime\n");
        assert!(sent[0].0.contains("visudo -c -f -"));
        assert!(sent[1].0.contains("chmod 0440 \"$t\" || exit 1; visudo -c -f \"$t\" >&2 && : || exit 1; mv -f -- \"$t\" \"$p\""), "{}", sent[1].0);
        assert_eq!(crate::util::unframed(&sent[1].1), b"bob ALL=NOPASSWD: /usr/bin/uptime\n");
        let (r, sent) = run(a.clone(), &[&on_host("bob ALL=NOPASSWD: /usr/bin/uptime\n", "440", true)], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        let (r, sent) = run(a, &[&on_host("bob ALL=NOPASSWD: /usr/bin/uptime\n", "644", true)], true);
        assert!(r.changed() && sent.len() == 1, "{r:?}");
    }

    #[test]
    fn a_rule_visudo_refuses_fails() {
        let a = json!({"name": "r", "user": "bob", "commands": "uptime"});
        let (r, sent) = run(a, &[&format!("{TAG} visudo 1\n{TAG} v >>> stdin: syntax error near line 1 <<<\n")], false);
        assert!(r.is_failed() && sent.len() == 1);
        assert!(r.0["msg"].as_str().unwrap().contains("syntax error"), "{r:?}");
        let (r, _) = run(json!({"name": "r", "user": "bob", "commands": "ALL", "validation": "required"}), &[""], false);
        assert!(r.is_failed());
        let (r, sent) = run(json!({"name": "r", "user": "bob", "commands": "ALL", "validation": "absent"}), &["", ""], false);
        assert!(r.changed() && !sent[0].0.contains("visudo") && !sent[1].0.contains("visudo"));
    }

    #[test]
    fn absent_removes() {
        let (r, sent) = run(json!({"name": "r", "state": "absent"}), &[&on_host("x\n", "440", false), ""], false);
        assert!(r.changed());
        assert_eq!(sent[1].0, "rm -f /etc/sudoers.d/r");
        let (r, sent) = run(json!({"name": "r", "state": "absent"}), &[""], false);
        assert!(!r.changed() && sent.len() == 1);
        let (r, _) = run(json!({"name": "r", "commands": "ALL"}), &[], false);
        assert!(r.is_failed());
    }
}
