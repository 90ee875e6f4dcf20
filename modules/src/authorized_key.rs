//! `authorized_key`: add or remove SSH public keys in a user's `authorized_keys`.
//!
//! One round trip reads the user's passwd entry (uid, gid, home), resolves the file's
//! path from it, and reads the file ([`util::probe_script`] with content). The new
//! content is computed here: lines are parsed as `[options] type blob [comment]` and keys
//! are compared by their blob, as Ansible does, so a key already there with other
//! options or another comment is replaced in place. When it differs, one more round trip
//! creates the directory (0700, owned by the user, with `manage_dir`) and writes the file
//! atomically with mode 0600, owned by the user.
//!
//! Differences from Ansible: a URL as `key` is refused (hosts cannot fetch it here);
//! options are compared as written, not parsed into a dictionary; lines that are kept
//! are written back as they were, not normalized.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::{self, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

pub struct AuthorizedKey;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("user", ArgType::Str, "The user on the host whose `authorized_keys` is managed.").required(),
    ArgSpec::new("key", ArgType::Str, "The SSH public key(s), one per line. A URL is not supported here.").required(),
    ArgSpec::new("path", ArgType::Path, "The authorized_keys file. Default `~user/.ssh/authorized_keys`."),
    ArgSpec::new("manage_dir", ArgType::Bool, "Create the file's directory with mode 0700 owned by the user, and keep it so.").default("yes"),
    ArgSpec::new("state", ArgType::Str, "Whether the key(s) should be in the file or not.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("key_options", ArgType::Str, "Options to put in front of the key(s) (`no-port-forwarding,from=\"10.0.1.1\"`)."),
    ArgSpec::new("exclusive", ArgType::Bool, "Remove every other key (and comment line) from the file.").default("no"),
    ArgSpec::new("comment", ArgType::Str, "Change the comment on the key(s)."),
    ArgSpec::new("follow", ArgType::Bool, "Follow a symlinked `path` and edit the file it points to.").default("no"),
    ArgSpec::new("validate_certs", ArgType::Bool, "Accepted for compatibility (URLs are not supported).").default("yes"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "authorized_key",
    short: "Add or remove SSH authorized keys for a user",
    description: "Adds or removes SSH public keys in a user's `authorized_keys` file, comparing keys by \
their type and blob. The file is written atomically (mode 0600, owned by the user) and only when it \
changes; one round trip when nothing changes; check mode predicts and `--diff` shows the file.",
    args: ARGS,
    free_form: false,
    examples: "- name: Set authorized key from a file on the control machine\n  ansible.posix.authorized_key:\n    user: charlie\n    state: present\n    key: \"{{ lookup('file', '/home/charlie/.ssh/id_rsa.pub') }}\"\n\n\
- name: Only this key may log in as deploy\n  ansible.posix.authorized_key:\n    user: deploy\n    key: ssh-ed25519 AAAAC3Nza... ci@example\n    exclusive: yes\n    key_options: no-port-forwarding\n",
    returns: &[
        ("user / key / key_options / comment / state / exclusive / manage_dir / follow / path", "the arguments"),
        ("keyfile", "the file that was (or would be) edited"),
        ("diff", "with `--diff`: the file before and after"),
    ],
};

const MARK: &str = "__provision_authkey_4c1b__";

/// Key types OpenSSH accepts (Ansible's `VALID_SSH_KEYTYPES`).
const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
];

/// One key line: `[options] type blob [comment]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    options: String,
    kind: String,
    blob: String,
    comment: String,
}

impl Key {
    fn render(&self) -> String {
        let mut s = String::new();
        if !self.options.is_empty() {
            s.push_str(&self.options);
            s.push(' ');
        }
        s.push_str(&self.kind);
        s.push(' ');
        s.push_str(&self.blob);
        if !self.comment.is_empty() {
            s.push(' ');
            s.push_str(&self.comment);
        }
        s
    }
}

/// Words of a line with their byte spans; double quotes (in options) keep spaces.
fn words(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Parse a key line; `None` for comments, blank and unparsable lines.
fn parse_key(line: &str) -> Option<Key> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let w = words(line);
    let i = w.iter().position(|&(s, e)| KEY_TYPES.contains(&&line[s..e]))?;
    let &(bs, be) = w.get(i + 1)?;
    Some(Key {
        options: if i == 0 { String::new() } else { line[..w[i].0].trim().to_string() },
        kind: line[w[i].0..w[i].1].to_string(),
        blob: line[bs..be].to_string(),
        comment: line[be..].trim().to_string(),
    })
}

/// The keys asked for, with `key_options` and `comment` applied.
fn wanted_keys(args: &Args) -> Result<Vec<Key>, String> {
    let given = text(args, "key").unwrap_or_default();
    if given.trim_start().starts_with("http://") || given.trim_start().starts_with("https://") {
        return Err(format!(
            "keys from a URL are not supported (`{}`): fetch them on the control machine, e.g. with `lookup('url', ...)`, and pass the text as `key`",
            given.trim()
        ));
    }
    let mut keys = Vec::new();
    for line in given.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut k = parse_key(line).ok_or_else(|| format!("invalid key specified: {line}"))?;
        if let Some(o) = text(args, "key_options") {
            k.options = o.trim().to_string();
        }
        if let Some(c) = text(args, "comment") {
            k.comment = c.trim().to_string();
        }
        keys.push(k);
    }
    if keys.is_empty() {
        return Err("no key specified in `key`".into());
    }
    Ok(keys)
}

/// The new content of the file, or `None` when it stays as it is.
fn edit(old: &str, keys: &[Key], present: bool, exclusive: bool) -> Option<String> {
    let lines: Vec<&str> = old.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut changed = false;
    let mut seen: Vec<String> = Vec::new();
    for line in &lines {
        let parsed = parse_key(line);
        let wanted = parsed.as_ref().and_then(|p| keys.iter().find(|k| k.blob == p.blob));
        match (wanted, parsed) {
            (Some(k), Some(p)) if present => {
                if seen.contains(&k.blob) {
                    changed = true;
                } else if p != *k {
                    out.push(k.render());
                    changed = true;
                } else {
                    out.push(line.to_string());
                }
                seen.push(k.blob.clone());
            }
            (Some(_), _) => changed = true,
            (None, _) if present && exclusive => changed = true,
            (None, _) => out.push(line.to_string()),
        }
    }
    if present {
        for k in keys {
            if seen.contains(&k.blob) {
                continue;
            }
            seen.push(k.blob.clone());
            out.push(k.render());
            changed = true;
        }
    }
    changed.then(|| out.iter().map(|l| format!("{l}\n")).collect())
}


fn flag(args: &Args, key: &str, default: bool) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(default)
}

/// The file's path as a shell expression, given `$h` (the user's home).
fn path_expr(path: Option<&str>) -> String {
    match path {
        None => "\"$h/.ssh/authorized_keys\"".into(),
        Some("~") => "\"$HOME\"".into(),
        Some(p) => match p.strip_prefix("~/") {
            Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
            None => quote(p),
        },
    }
}

fn probe_script(user: &str, path: Option<&str>, follow: bool) -> String {
    let mut s = format!(
        "M={MARK}; e=$(getent passwd {}) || {{ echo \"$M nouser\"; exit 0; }}; echo \"$M user $e\"; \
h=$(printf '%s\\n' \"$e\" | cut -d: -f6); ak={}; ",
        quote(user),
        path_expr(path)
    );
    if follow {
        s.push_str("if [ -L \"$ak\" ]; then ak=$(readlink -f \"$ak\"); fi; ");
    }
    s.push_str("echo \"$M path $ak\"; ");
    // `probe_script` quotes its path; a bare placeholder is swapped for "$ak".
    s.push_str(&util::probe_script("__provision_ak_path__", true).replacen("p=__provision_ak_path__", "p=\"$ak\"", 1));
    s
}

/// What the probe found: (`uid`, `gid`), the resolved path, and the file.
type Found = ((String, String), String, util::PathState);

fn parse(out: &[u8]) -> Result<Option<Found>, String> {
    let path_mark = format!("{MARK} path ");
    let Some(at) = out.windows(path_mark.len()).position(|w| w == path_mark.as_bytes()) else {
        let text = String::from_utf8_lossy(out);
        if text.lines().any(|l| l == format!("{MARK} nouser")) {
            return Ok(None);
        }
        return Err(format!("unexpected output: {text}"));
    };
    let end = out[at..].iter().position(|&b| b == b'\n').map_or(out.len(), |i| at + i);
    let path = String::from_utf8_lossy(&out[at + path_mark.len()..end]).into_owned();
    let head = String::from_utf8_lossy(&out[..at]);
    let user = head.lines().find_map(|l| l.strip_prefix(&format!("{MARK} user "))).and_then(|e| {
        let f: Vec<&str> = e.split(':').collect();
        (f.len() >= 7).then(|| (f[2].to_string(), f[3].to_string()))
    });
    let user = user.ok_or_else(|| format!("unexpected output: {head}"))?;
    let state = util::parse_probe(out.get(end + 1..).unwrap_or_default())?;
    Ok(Some((user, path, state)))
}

#[async_trait]
impl Module for AuthorizedKey {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let user = text(args, "user").unwrap_or_default();
        let keys = match wanted_keys(args) {
            Ok(k) => k,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let present = text(args, "state").as_deref() != Some("absent");
        let exclusive = flag(args, "exclusive", false);
        let path_arg = text(args, "path");
        let out = ctx.remote.exec(&probe_script(&user, path_arg.as_deref(), flag(args, "follow", false)), b"").await?;
        let ((uid, gid), keyfile, state) = match parse(&out.stdout) {
            Ok(Some(found)) => found,
            // In check mode the user may be one that an earlier task would create:
            // predict that its keys would be written.
            Ok(None) if ctx.check_mode && present => {
                let mut r = ModuleResult::ok(true);
                r.set("user", user.clone()).set("msg", format!("user {user} does not exist yet; assuming an earlier task creates it"));
                return Ok(r);
            }
            Ok(None) => return Ok(ModuleResult::failed(format!("Failed to lookup user {user}: no such user"))),
            Err(e) => return Ok(ModuleResult::failed(format!("cannot read the authorized keys of {user}: {e}"))),
        };
        if state.exists && state.kind != "file" {
            return Ok(ModuleResult::failed(format!("{keyfile} is not a regular file")));
        }
        let old = String::from_utf8_lossy(state.content.as_deref().unwrap_or_default()).into_owned();
        let new = edit(&old, &keys, present, exclusive);
        let mut r = ModuleResult::ok(new.is_some());
        if let Some(new) = &new {
            if ctx.diff {
                let mut d = Map::new();
                d.insert("before".into(), Value::String(old.clone()));
                d.insert("after".into(), Value::String(new.clone()));
                d.insert("before_header".into(), Value::String(keyfile.clone()));
                d.insert("after_header".into(), Value::String(keyfile.clone()));
                r.set("diff", Value::Object(d));
            }
            if !ctx.check_mode {
                let mut script = format!("d={}; if [ ! -d \"$d\" ]; then mkdir -p \"$d\" || exit 1; ", quote(&crate::file::dirname(&keyfile)));
                if flag(args, "manage_dir", true) {
                    script.push_str(&format!("chmod 0700 \"$d\" && chown {} \"$d\" || exit 1; ", quote(&format!("{uid}:{gid}"))));
                }
                script.push_str("fi; ");
                let attrs = Attrs { mode: Some("0600".into()), owner: Some(uid.clone()), group: Some(gid.clone()) };
                script.push_str(&util::write_script(&keyfile, &attrs, false, new.len()));
                let done = ctx.remote.exec(&script, &util::write_stdin(new.as_bytes())).await?;
                if done.rc != 0 {
                    return Ok(ModuleResult::failed(format!("cannot write {keyfile}: {}", String::from_utf8_lossy(&done.stderr).trim())));
                }
            }
        }
        r.set("user", user).set("key", text(args, "key").unwrap_or_default()).set("keyfile", keyfile);
        for k in ["key_options", "comment", "path"] {
            r.set(k, args.get(k).cloned().unwrap_or(Value::Null));
        }
        r.set("state", if present { "present" } else { "absent" })
            .set("exclusive", exclusive)
            .set("manage_dir", flag(args, "manage_dir", true))
            .set("follow", flag(args, "follow", false))
            .set("validate_certs", flag(args, "validate_certs", true));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::fake::{args, block_on, Fake};
    use serde_json::json;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@host";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQTwo two@host";

    /// What the probe prints for a user `ptest` and file content (`None`: no file).
    fn host(content: Option<&str>) -> String {
        let mut s = format!("{MARK} user ptest:x:1001:100::/home/ptest:/bin/bash\n{MARK} path /home/ptest/.ssh/authorized_keys\n");
        match content {
            None => s.push_str("__provision_probe_1f3a__ absent\n"),
            Some(c) => s.push_str(&format!(
                "__provision_probe_1f3a__ file 600 ptest users 1001 100 {}\n__provision_probe_1f3a__sum x\n__provision_probe_1f3a__content\n{c}",
                c.len()
            )),
        }
        s
    }

    fn normalized(v: Value) -> Args {
        crate::validate("authorized_key", ARGS, &args(v), &[]).unwrap()
    }

    #[test]
    fn adds_a_key_to_a_new_file_owned_by_the_user() {
        let f = Fake::new(&[(0, &host(None)), (0, "")]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "ptest", "key": K1})), &ctx)).unwrap();
        assert!(r.changed());
        let sent = f.sent.lock().unwrap().clone();
        assert!(sent[0].0.contains("getent passwd ptest") && sent[0].0.contains("p=\"$ak\""), "{}", sent[0].0);
        assert!(sent[1].0.contains("chmod 0700 \"$d\" && chown 1001:100 \"$d\""), "{}", sent[1].0);
        assert!(sent[1].0.contains("chown 1001:100 \"$t\" || exit 1; chmod 0600 \"$t\""), "{}", sent[1].0);
        assert_eq!(crate::util::unframed(&sent[1].1), format!("{K1}\n").as_bytes());
        assert_eq!(r.0["keyfile"], "/home/ptest/.ssh/authorized_keys");
    }

    #[test]
    fn a_key_already_there_costs_one_round_trip() {
        let f = Fake::new(&[(0, &host(Some(&format!("# mine\n{K2}\n{K1}\n"))))]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "ptest", "key": K1})), &ctx)).unwrap();
        assert!(!r.changed(), "{r:?}");
        assert_eq!(f.commands().len(), 1);
    }

    #[test]
    fn options_and_comment_replace_the_key_in_place() {
        let old = format!("{K1}\n{K2}\n");
        let keys = wanted_keys(&normalized(json!({"user": "u", "key": K1, "key_options": "no-pty,from=\"10.0.0.1\"", "comment": "new"}))).unwrap();
        let new = edit(&old, &keys, true, false).unwrap();
        assert_eq!(new, format!("no-pty,from=\"10.0.0.1\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne new\n{K2}\n"));
        assert_eq!(edit(&new, &keys, true, false), None);
        assert_eq!(parse_key("command=\"echo a b\",no-pty ssh-rsa AAAA x y").unwrap().options, "command=\"echo a b\",no-pty");
    }

    #[test]
    fn exclusive_keeps_only_the_given_keys_and_absent_removes() {
        let old = format!("# comment\n{K2}\n{K1}\n");
        let keys = wanted_keys(&normalized(json!({"user": "u", "key": K1}))).unwrap();
        assert_eq!(edit(&old, &keys, true, true).unwrap(), format!("{K1}\n"));
        assert_eq!(edit(&old, &keys, false, false).unwrap(), format!("# comment\n{K2}\n"));
        assert_eq!(edit(&format!("{K2}\n"), &keys, false, false), None);
        let both = wanted_keys(&normalized(json!({"user": "u", "key": format!("{K1}\n\n{K2}\n")}))).unwrap();
        assert_eq!(edit("", &both, true, false).unwrap(), format!("{K1}\n{K2}\n"));
    }

    #[test]
    fn check_mode_predicts_and_diff_shows_the_file() {
        let f = Fake::new(&[(0, &host(Some("")))]);
        let ctx = Context { remote: &f, check_mode: true, diff: true };
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "ptest", "key": K1})), &ctx)).unwrap();
        assert!(r.changed());
        assert_eq!(f.commands().len(), 1);
        assert_eq!(r.0["diff"]["after"], format!("{K1}\n"));
    }

    #[test]
    fn bad_arguments_and_missing_users_fail_clearly() {
        let f = Fake::new(&[(0, &format!("{MARK} nouser\n"))]);
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "nobody", "key": K1})), &ctx)).unwrap();
        assert_eq!(r.0["msg"], "Failed to lookup user nobody: no such user");
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "u", "key": "https://github.com/u.keys"})), &ctx)).unwrap();
        assert!(r.0["msg"].as_str().unwrap().contains("not supported"), "{r:?}");
        let r = block_on(AuthorizedKey.run(&normalized(json!({"user": "u", "key": "not a key"})), &ctx)).unwrap();
        assert_eq!(r.0["msg"], "invalid key specified: not a key");
        assert!(crate::validate("authorized_key", ARGS, &args(json!({"user": "u"})), &[]).is_err());
        assert_eq!(f.commands().len(), 1);
    }

    #[test]
    fn paths_are_resolved_on_the_host() {
        assert_eq!(path_expr(None), "\"$h/.ssh/authorized_keys\"");
        assert_eq!(path_expr(Some("~/keys x")), "\"$HOME\"/'keys x'");
        assert_eq!(path_expr(Some("/etc/ssh/keys/u")), "/etc/ssh/keys/u");
    }
}
