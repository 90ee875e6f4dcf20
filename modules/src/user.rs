//! `user`: manage user accounts with the shadow tools (`useradd`, `usermod`, `userdel`).
//!
//! One round trip reads what the host has: `getent passwd NAME`, the primary group
//! (`id -gn`) and all groups (`id -Gn`), whether a group named NAME exists, and, only
//! when `password` or `expires` is given, `getent shadow NAME`; with `generate_ssh_key`,
//! also whether the key exists and its public half. When nothing differs that is the
//! whole task. Otherwise one more round trip runs `useradd`/`usermod`/`userdel` with a
//! quoted argv, sets the password with `chpasswd -e` reading `NAME:HASH` on its stdin
//! (the hash never appears in an argv or in the result), generates the SSH key, and
//! prints the account as it now is.
//!
//! Differences from Ansible: no `ssh_key_passphrase` (it would have to go through an
//! argv), no `password_lock`, `seuser`, `login_class`, `umask`, `password_expire_*`;
//! `local` is accepted and ignored.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

pub struct User;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Name of the user to create, remove or modify.").required().aliases(&["user"]),
    ArgSpec::new("state", ArgType::Str, "Whether the account should exist or not.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("uid", ArgType::Int, "The user's id."),
    ArgSpec::new("non_unique", ArgType::Bool, "Allow a uid another user already has (`-o`); needs `uid`.").default("no"),
    ArgSpec::new("group", ArgType::Str, "The user's primary group (name or gid)."),
    ArgSpec::new("groups", ArgType::List, "Supplementary groups. An empty list (`groups: ''`) removes all but the primary group."),
    ArgSpec::new("append", ArgType::Bool, "With `yes`, add the user to `groups` only; with `no`, the user's supplementary groups are exactly `groups`.").default("no"),
    ArgSpec::new("comment", ArgType::Str, "The user's description (GECOS field)."),
    ArgSpec::new("shell", ArgType::Str, "The user's login shell."),
    ArgSpec::new("home", ArgType::Path, "The user's home directory."),
    ArgSpec::new("create_home", ArgType::Bool, "Create the home directory when creating the user (`-m`, or `-M` when no).").default("yes").aliases(&["createhome"]),
    ArgSpec::new("move_home", ArgType::Bool, "When `home` changes, move the old home's content there (`usermod -m`).").default("no"),
    ArgSpec::new("skeleton", ArgType::Path, "Skeleton directory for a new home (`useradd -k`); needs `create_home`."),
    ArgSpec::new("system", ArgType::Bool, "When creating, make it a system account (`useradd -r`).").default("no"),
    ArgSpec::new("password", ArgType::Str, "The password as a crypt hash (e.g. from `openssl passwd -6`), set with `chpasswd -e` on stdin. Never shown."),
    ArgSpec::new("update_password", ArgType::Str, "`always` sets the password when it differs; `on_create` only for new users.").default("always").choices(&["always", "on_create"]),
    ArgSpec::new("expires", ArgType::Raw, "Account expiry as seconds since the epoch (a float); a negative value removes the expiry."),
    ArgSpec::new("remove", ArgType::Bool, "With `state=absent`, remove the home directory and mail spool (`userdel -r`).").default("no"),
    ArgSpec::new("force", ArgType::Bool, "With `state=absent`, remove even when logged in (`userdel -f`).").default("no"),
    ArgSpec::new("generate_ssh_key", ArgType::Bool, "Generate an SSH key for the user when `ssh_key_file` does not exist yet.").default("no"),
    ArgSpec::new("ssh_key_type", ArgType::Str, "Type of the SSH key to generate (`ssh-keygen -t`).").default("rsa"),
    ArgSpec::new("ssh_key_bits", ArgType::Int, "Bits of the SSH key (`ssh-keygen -b`); 0 leaves the choice to ssh-keygen.").default("0"),
    ArgSpec::new("ssh_key_file", ArgType::Path, "Key file, relative to the user's home unless absolute. Default `.ssh/id_TYPE`."),
    ArgSpec::new("ssh_key_comment", ArgType::Str, "Comment of the SSH key. Default `ansible-generated on HOSTNAME`."),
    ArgSpec::new("local", ArgType::Bool, "Accepted for compatibility; the shadow tools are always used.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "user",
    short: "Manage user accounts",
    description: "Creates, modifies and removes user accounts with `useradd`, `usermod` and `userdel`, sets \
the password hash with `chpasswd -e` (on stdin, never in an argv or a result), and can generate an SSH key. \
One round trip when nothing changes; check mode predicts.",
    args: ARGS,
    free_form: false,
    examples: "- name: Add the user 'johnd' with a bash shell, in the admin and developers groups\n  ansible.builtin.user:\n    name: johnd\n    shell: /bin/bash\n    groups: admin,developers\n    append: yes\n\n\
- name: Set a password (a hash, e.g. from `openssl passwd -6`)\n  ansible.builtin.user:\n    name: johnd\n    password: \"{{ johnd_hash }}\"\n\n\
- name: Remove the user 'johnd' and his home\n  ansible.builtin.user:\n    name: johnd\n    state: absent\n    remove: yes\n",
    returns: &[
        ("name", "the user's name"),
        ("state", "`present` or `absent`"),
        ("uid", "the user's id"),
        ("group", "the primary group's id"),
        ("groups", "the `groups` asked for, comma separated"),
        ("home / shell / comment", "the account's home, shell and GECOS field"),
        ("system / create_home / append / move_home", "the arguments as given"),
        ("password", "`NOT_LOGGING_PASSWORD` when a password was given"),
        ("ssh_key_file / ssh_public_key / ssh_fingerprint", "with `generate_ssh_key`"),
        ("force / remove", "with `state=absent`"),
    ],
};

const MARK: &str = "__provision_user_7d3e__";


fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(false)
}

/// `getent passwd` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Account {
    uid: u64,
    gid: u64,
    comment: String,
    home: String,
    shell: String,
}

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Facts {
    account: Option<Account>,
    primary: String,
    groups: Vec<String>,
    name_group_exists: bool,
    /// Shadow hash and expiry day (`-1` for none).
    hash: Option<String>,
    expire_days: i64,
    has_key: bool,
    public_key: Option<String>,
    fingerprint: Option<String>,
}

/// The sections of the probe's output, by name.
fn sections(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix(&format!("{MARK} ")) {
            v.push((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = v.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    v
}

fn parse_passwd(line: &str) -> Option<Account> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Account { uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, comment: f[4].into(), home: f[5].into(), shell: f[6].into() })
}

fn parse_facts(out: &str) -> Facts {
    let mut facts = Facts { expire_days: -1, ..Facts::default() };
    for (name, body) in sections(out) {
        let b = body.trim();
        match name.as_str() {
            "passwd" => facts.account = b.lines().next().and_then(parse_passwd),
            "pgroup" => facts.primary = b.to_string(),
            "groups" => facts.groups = b.split_whitespace().map(str::to_string).collect(),
            "namegroup" => facts.name_group_exists = b == "yes",
            "shadow" if !b.is_empty() => {
                let (hash, exp) = b.split_once(':').unwrap_or((b, ""));
                facts.hash = Some(hash.to_string());
                facts.expire_days = exp.trim().parse().unwrap_or(-1);
            }
            "haskey" => facts.has_key = true,
            "pub" => facts.public_key = Some(b.to_string()),
            "fp" => facts.fingerprint = Some(b.to_string()),
            _ => {}
        }
    }
    facts
}

/// Shell that prints the key sections for user `$n` (uses `$h`, `$f`).
fn key_probe(args: &Args) -> String {
    format!(
        "{}if [ -n \"$h\" ] && [ -e \"$f\" ]; then echo \"$M haskey\"; fi; \
if [ -n \"$h\" ] && [ -f \"$f.pub\" ]; then echo \"$M pub\"; cat \"$f.pub\"; echo \"$M fp\"; ssh-keygen -l -f \"$f.pub\"; fi; ",
        key_locate(args)
    )
}

/// Shell that sets `$h` (the home of `$n`) and `$f` (the key file).
fn key_locate(args: &Args) -> String {
    format!("h=$(getent passwd \"$n\" | cut -d: -f6); f={}; case \"$f\" in /*) ;; *) f=\"$h/$f\";; esac; ", quote(&key_file(args)))
}

fn key_file(args: &Args) -> String {
    text(args, "ssh_key_file").unwrap_or_else(|| format!(".ssh/id_{}", text(args, "ssh_key_type").unwrap_or_else(|| "rsa".into())))
}

fn probe_script(args: &Args, name: &str) -> String {
    let mut s = format!(
        "n={}; M={MARK}; echo \"$M passwd\"; getent passwd \"$n\"; echo \"$M pgroup\"; id -gn \"$n\" 2>/dev/null; \
echo \"$M groups\"; id -Gn \"$n\" 2>/dev/null; echo \"$M namegroup\"; getent group \"$n\" >/dev/null && echo yes; ",
        quote(name)
    );
    if args.contains_key("password") || args.contains_key("expires") {
        s.push_str("echo \"$M shadow\"; getent shadow \"$n\" | cut -d: -f2,8; ");
    }
    if flag(args, "generate_ssh_key") {
        s.push_str(&key_probe(args));
    }
    s.push_str("true");
    s
}

/// `expires` as (days since the epoch, `YYYY-MM-DD`), or `None` for "never".
fn expiry(args: &Args) -> Result<Option<Option<(i64, String)>>, String> {
    let Some(v) = args.get("expires").filter(|v| !v.is_null()) else { return Ok(None) };
    let secs = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("argument `expires` must be a number of seconds since the epoch, got: {v}"))?;
    if secs < 0.0 {
        return Ok(Some(None));
    }
    let days = (secs / 86400.0).floor() as i64;
    let date = crate::command::timestamp(UNIX_EPOCH + Duration::from_secs(days as u64 * 86400))[..10].to_string();
    Ok(Some(Some((days, date))))
}

/// The supplementary groups asked for (without the primary `group`), if managed.
fn wanted_groups(args: &Args) -> Option<Vec<String>> {
    let list = args.get("groups").filter(|v| !v.is_null())?;
    let group = text(args, "group");
    let mut out: Vec<String> = Vec::new();
    for g in list.as_array().into_iter().flatten() {
        let g = match g {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        if !g.is_empty() && Some(&g) != group.as_ref() && !out.contains(&g) {
            out.push(g);
        }
    }
    Some(out)
}

/// The `useradd`/`usermod`/`userdel` argv, if the account must change, and whether the
/// password must be set.
fn plan(args: &Args, name: &str, facts: &Facts) -> Result<(Option<Vec<String>>, bool), String> {
    let s = |x: &str| x.to_string();
    let expires = expiry(args)?;
    let password = text(args, "password");
    if text(args, "state").as_deref() == Some("absent") {
        if facts.account.is_none() {
            return Ok((None, false));
        }
        let mut argv = vec![s("userdel")];
        if flag(args, "force") {
            argv.push(s("-f"));
        }
        if flag(args, "remove") {
            argv.push(s("-r"));
        }
        argv.push(name.into());
        return Ok((Some(argv), false));
    }
    let uid = args.get("uid").and_then(Value::as_u64);
    let Some(acct) = &facts.account else {
        let mut argv = vec![s("useradd")];
        if let Some(u) = uid {
            argv.extend([s("-u"), u.to_string()]);
            if flag(args, "non_unique") {
                argv.push(s("-o"));
            }
        }
        if let Some(g) = text(args, "group") {
            argv.extend([s("-g"), g]);
        } else if facts.name_group_exists {
            // A group named like the user exists: useradd's USERGROUPS_ENAB would fail
            // trying to create it, so (like Ansible) ask for no user group.
            argv.push(s("-N"));
        }
        if let Some(gs) = wanted_groups(args).filter(|g| !g.is_empty()) {
            argv.extend([s("-G"), gs.join(",")]);
        }
        for (key, opt) in [("comment", "-c"), ("home", "-d"), ("shell", "-s")] {
            if let Some(v) = text(args, key) {
                argv.extend([s(opt), v]);
            }
        }
        if let Some(e) = &expires {
            argv.extend([s("-e"), e.as_ref().map(|(_, d)| d.clone()).unwrap_or_default()]);
        }
        if flag(args, "system") {
            argv.push(s("-r"));
        }
        if args.get("create_home").and_then(to_bool).unwrap_or(true) {
            argv.push(s("-m"));
            if let Some(k) = text(args, "skeleton") {
                argv.extend([s("-k"), k]);
            }
        } else {
            argv.push(s("-M"));
        }
        argv.push(name.into());
        return Ok((Some(argv), password.is_some()));
    };
    let mut opts: Vec<String> = Vec::new();
    if let Some(u) = uid.filter(|u| *u != acct.uid) {
        opts.extend([s("-u"), u.to_string()]);
        if flag(args, "non_unique") {
            opts.push(s("-o"));
        }
    }
    if let Some(g) = text(args, "group") {
        let same = match g.parse::<u64>() {
            Ok(gid) => gid == acct.gid,
            Err(_) => g == facts.primary,
        };
        if !same {
            opts.extend([s("-g"), g]);
        }
    }
    if let Some(want) = wanted_groups(args) {
        let have: Vec<&String> = facts.groups.iter().filter(|g| **g != facts.primary).collect();
        if flag(args, "append") {
            if want.iter().any(|g| !have.contains(&g)) {
                opts.extend([s("-a"), s("-G"), want.join(",")]);
            }
        } else if want.len() != have.len() || want.iter().any(|g| !have.contains(&g)) {
            opts.extend([s("-G"), want.join(",")]);
        }
    }
    for (key, opt, current) in [("comment", "-c", &acct.comment), ("home", "-d", &acct.home), ("shell", "-s", &acct.shell)] {
        if let Some(v) = text(args, key).filter(|v| v != current) {
            opts.extend([s(opt), v]);
            if key == "home" && flag(args, "move_home") {
                opts.push(s("-m"));
            }
        }
    }
    match &expires {
        Some(None) if facts.expire_days >= 0 => opts.extend([s("-e"), String::new()]),
        Some(Some((days, date))) if *days != facts.expire_days => opts.extend([s("-e"), date.clone()]),
        _ => {}
    }
    let set_password = text(args, "update_password").as_deref() != Some("on_create")
        && password.as_ref().is_some_and(|p| facts.hash.as_ref() != Some(p));
    let argv = (!opts.is_empty()).then(|| {
        let mut argv = vec![s("usermod")];
        argv.extend(opts);
        argv.push(name.into());
        argv
    });
    Ok((argv, set_password))
}

/// The shell that generates the key when it is missing (after the account exists).
fn keygen_script(args: &Args) -> String {
    let kind = text(args, "ssh_key_type").unwrap_or_else(|| "rsa".into());
    let mut argv = vec!["ssh-keygen".to_string(), "-q".into(), "-t".into(), kind];
    if let Some(b) = args.get("ssh_key_bits").and_then(Value::as_u64).filter(|b| *b > 0) {
        argv.extend(["-b".into(), b.to_string()]);
    }
    let comment = match text(args, "ssh_key_comment") {
        Some(c) => quote(&c),
        None => "\"ansible-generated on $(hostname)\"".to_string(),
    };
    format!(
        "{}if [ ! -e \"$f\" ]; then d=$(dirname \"$f\"); if [ ! -d \"$d\" ]; then mkdir -p \"$d\" && chmod 0700 \"$d\" && chown \"$n:\" \"$d\" || exit 1; fi; \
{} -C {comment} -N '' -f \"$f\" && chown \"$n:\" \"$f\" \"$f.pub\" || exit 1; echo \"$M generated\"; fi; ",
        key_locate(args),
        join(&argv)
    )
}

#[async_trait]
impl Module for User {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let name = text(args, "name").unwrap_or_default();
        if name.is_empty() || name.starts_with('-') || name.contains([':', '\n', '\0', ',']) {
            return Ok(ModuleResult::failed(format!("invalid user name `{name}`")));
        }
        if text(args, "password").is_some_and(|p| p.contains(['\n', ':', '\0'])) {
            return Ok(ModuleResult::failed("argument `password` must be a crypt hash (one line, no `:`)"));
        }
        let state = text(args, "state").unwrap_or_else(|| "present".into());
        let out = ctx.remote.exec(&probe_script(args, &name), b"").await?;
        let mut facts = parse_facts(&String::from_utf8_lossy(&out.stdout));
        let (argv, set_password) = match plan(args, &name, &facts) {
            Ok(p) => p,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let want_key = state == "present" && flag(args, "generate_ssh_key");
        let make_key = want_key && !facts.has_key;
        let changed = argv.is_some() || set_password || make_key;
        let mut r = ModuleResult::ok(changed);
        r.set("name", name.clone()).set("state", state.clone());
        if changed && !ctx.check_mode {
            let mut steps: Vec<String> = argv.iter().map(join).collect();
            let mut stdin = Vec::new();
            if set_password {
                steps.push("chpasswd -e".into());
                stdin = format!("{name}:{}\n", text(args, "password").unwrap_or_default()).into_bytes();
            }
            let mut script = format!("n={}; M={MARK}; ", quote(&name));
            if !steps.is_empty() {
                script.push_str(&format!("{} || exit $?; ", steps.join(" && ")));
            }
            if state == "present" {
                if make_key {
                    script.push_str(&keygen_script(args));
                }
                script.push_str(&probe_script(args, &name).replacen(&format!("n={}; M={MARK}; ", quote(&name)), "", 1));
            }
            let done = ctx.remote.exec(&script, &stdin).await?;
            if done.rc != 0 {
                let mut f = ModuleResult::failed(String::from_utf8_lossy(&done.stderr).trim().to_string());
                f.set("name", name).set("rc", done.rc);
                if let Some(a) = &argv {
                    f.set("cmd", join(a));
                }
                return Ok(f);
            }
            if state == "present" {
                facts = parse_facts(&String::from_utf8_lossy(&done.stdout));
            }
        }
        if state == "absent" {
            r.set("force", flag(args, "force")).set("remove", flag(args, "remove"));
            return Ok(r);
        }
        if let Some(a) = &facts.account {
            r.set("uid", a.uid).set("group", a.gid).set("home", a.home.clone()).set("shell", a.shell.clone()).set("comment", a.comment.clone());
        }
        for (key, current) in [("shell", "shell"), ("home", "home"), ("comment", "comment")] {
            if let Some(v) = text(args, key).filter(|_| ctx.check_mode) {
                r.set(current, v);
            }
        }
        if let Some(g) = wanted_groups(args) {
            r.set("groups", g.join(","));
        }
        r.set("system", flag(args, "system"))
            .set("create_home", args.get("create_home").and_then(to_bool).unwrap_or(true))
            .set("append", flag(args, "append"))
            .set("move_home", flag(args, "move_home"));
        if args.get("password").is_some_and(|p| !p.is_null()) {
            r.set("password", "NOT_LOGGING_PASSWORD");
        }
        if want_key {
            r.set("ssh_key_file", key_file(args));
            if let Some(k) = facts.public_key {
                r.set("ssh_public_key", k);
            }
            if let Some(fp) = facts.fingerprint {
                r.set("ssh_fingerprint", fp);
            }
        }
        Ok(r)
    }
}

/// A fake [`crate::Remote`] for the account modules' unit tests: answers each command
/// with the next `(rc, stdout)` and records what was sent.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::Value;

    use crate::{Args, ExecOutput, RemoteError};

    pub struct Fake {
        pub sent: Mutex<Vec<(String, Vec<u8>)>>,
        answers: Mutex<Vec<(i32, String)>>,
    }

    impl Fake {
        pub fn new(answers: &[(i32, &str)]) -> Fake {
            Fake { sent: Mutex::new(vec![]), answers: Mutex::new(answers.iter().rev().map(|(rc, o)| (*rc, o.to_string())).collect()) }
        }
        pub fn commands(&self) -> Vec<String> {
            self.sent.lock().unwrap().iter().map(|(c, _)| c.clone()).collect()
        }
    }

    #[async_trait]
    impl crate::Remote for Fake {
        async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().unwrap().push((command.to_string(), stdin.to_vec()));
            let (rc, out) = self.answers.lock().unwrap().pop().unwrap_or((0, String::new()));
            let stderr = if rc == 0 { vec![] } else { b"it failed".to_vec() };
            Ok(ExecOutput { rc, stdout: out.into_bytes(), stderr })
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    pub fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{args, block_on, Fake};
    use super::*;
    use serde_json::json;

    const HASH: &str = "$6$salt$abcdefSECRET";

    fn host(passwd: &str, primary: &str, groups: &str, shadow: Option<&str>) -> String {
        let mut s = format!("{MARK} passwd\n{passwd}{MARK} pgroup\n{primary}\n{MARK} groups\n{groups}\n{MARK} namegroup\nyes\n");
        if let Some(sh) = shadow {
            s.push_str(&format!("{MARK} shadow\n{sh}\n"));
        }
        s
    }

    fn normalized(v: Value) -> Args {
        crate::validate("user", ARGS, &args(v), &[]).unwrap()
    }

    #[test]
    fn creates_a_user_with_password_on_stdin_only() {
        let after = host("ptest:x:1001:100::/home/ptest:/bin/bash\n", "users", "users ptest", Some(&format!("{HASH}:")));
        let f = Fake::new(&[(0, &host("", "", "", Some(""))), (0, &after)]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let a = normalized(json!({"name": "ptest", "shell": "/bin/bash", "groups": ["ptest"], "password": HASH}));
        let r = block_on(User.run(&a, &ctx)).unwrap();
        let sent = f.sent.lock().unwrap().clone();
        assert!(sent[0].0.contains("getent shadow"), "{}", sent[0].0);
        assert!(sent[1].0.contains("useradd -N -G ptest -s /bin/bash -m ptest && chpasswd -e || exit $?"), "{}", sent[1].0);
        assert_eq!(sent[1].1, format!("ptest:{HASH}\n").into_bytes());
        for (cmd, _) in &sent {
            assert!(!cmd.contains("SECRET"), "{cmd}");
        }
        assert!(!serde_json::to_string(&r.0).unwrap().contains("SECRET"));
        assert_eq!(r.0["password"], "NOT_LOGGING_PASSWORD");
        assert!(r.changed());
        assert_eq!((r.0["uid"].clone(), r.0["group"].clone(), r.0["groups"].clone()), (json!(1001), json!(100), json!("ptest")));
    }

    #[test]
    fn an_account_as_asked_costs_one_round_trip() {
        let now = host("ptest:x:1001:100::/home/ptest:/bin/bash\n", "users", "users ptest", Some(&format!("{HASH}:")));
        let f = Fake::new(&[(0, &now)]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let a = normalized(json!({"name": "ptest", "shell": "/bin/bash", "groups": "ptest", "password": HASH}));
        let r = block_on(User.run(&a, &ctx)).unwrap();
        assert!(!r.changed(), "{r:?}");
        assert_eq!(f.commands().len(), 1);
    }

    #[test]
    fn modifies_shell_and_exact_groups_and_password() {
        let now = host("ptest:x:1001:100::/home/ptest:/bin/sh\n", "users", "users ptest audio", Some("$6$old$x:"));
        let a = normalized(json!({"name": "ptest", "shell": "/bin/bash", "groups": ["ptest"], "password": HASH}));
        let (argv, pw) = plan(&a, "ptest", &parse_facts(&now)).unwrap();
        assert_eq!(argv.unwrap().join(" "), "usermod -G ptest -s /bin/bash ptest");
        assert!(pw);
        // With append, only missing groups matter; on_create never resets the password.
        let a = normalized(json!({"name": "ptest", "groups": ["audio"], "append": true, "password": HASH, "update_password": "on_create"}));
        assert_eq!(plan(&a, "ptest", &parse_facts(&now)).unwrap(), (None, false));
        let a = normalized(json!({"name": "ptest", "groups": ["video"], "append": true}));
        assert_eq!(plan(&a, "ptest", &parse_facts(&now)).unwrap().0.unwrap().join(" "), "usermod -a -G video ptest");
    }

    #[test]
    fn check_mode_predicts_without_acting() {
        let f = Fake::new(&[(0, &host("", "", "", None))]);
        let ctx = Context { remote: &f, check_mode: true, diff: false };
        let r = block_on(User.run(&normalized(json!({"name": "ptest"})), &ctx)).unwrap();
        assert!(r.changed());
        assert_eq!(f.commands().len(), 1);
    }

    #[test]
    fn removes_with_remove_and_force() {
        let f = Fake::new(&[(0, &host("ptest:x:1001:100::/home/ptest:/bin/bash\n", "users", "users", None)), (0, "")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(User.run(&normalized(json!({"name": "ptest", "state": "absent", "remove": true, "force": true})), &ctx)).unwrap();
        assert!(r.changed());
        assert!(f.commands()[1].contains("userdel -f -r ptest || exit $?"), "{}", f.commands()[1]);
        let gone = parse_facts(&host("", "", "", None));
        assert_eq!(plan(&normalized(json!({"name": "ptest", "state": "absent"})), "ptest", &gone).unwrap(), (None, false));
    }

    #[test]
    fn a_failing_command_is_reported_without_the_hash() {
        let f = Fake::new(&[(0, &host("", "", "", Some(""))), (4, "")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(User.run(&normalized(json!({"name": "ptest", "password": HASH})), &ctx)).unwrap();
        assert!(r.is_failed());
        assert!(!serde_json::to_string(&r.0).unwrap().contains("SECRET"));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(crate::validate("user", ARGS, &args(json!({"name": "x", "update_password": "never"})), &[]).is_err());
        assert!(crate::validate("user", ARGS, &args(json!({"state": "present"})), &[]).is_err());
        let f = Fake::new(&[]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        assert!(block_on(User.run(&normalized(json!({"name": "-rf"})), &ctx)).unwrap().is_failed());
        assert!(block_on(User.run(&normalized(json!({"name": "a", "password": "x:y"})), &ctx)).unwrap().is_failed());
        assert!(f.commands().is_empty());
    }

    #[test]
    fn expiry_and_ssh_keys() {
        let a = normalized(json!({"name": "ptest", "expires": 1_767_225_600}));
        assert_eq!(expiry(&a).unwrap(), Some(Some((20454, "2026-01-01".into()))));
        let now = host("ptest:x:1001:100::/home/ptest:/bin/sh\n", "users", "users", Some("$6$x:20454"));
        assert_eq!(plan(&a, "ptest", &parse_facts(&now)).unwrap().0, None);
        let a = normalized(json!({"name": "ptest", "expires": -1}));
        assert_eq!(join(plan(&a, "ptest", &parse_facts(&now)).unwrap().0.unwrap()), "usermod -e '' ptest");
        let a = normalized(json!({"name": "ptest", "generate_ssh_key": true, "ssh_key_type": "ed25519"}));
        let s = keygen_script(&a);
        assert!(s.contains("f=.ssh/id_ed25519;"), "{s}");
        assert!(s.contains("ssh-keygen -q -t ed25519 -C \"ansible-generated on $(hostname)\" -N '' -f \"$f\""), "{s}");
    }
}
