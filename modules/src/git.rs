//! `git`: a checkout of a repository at a version (branch, tag, SHA or the remote's HEAD).
//!
//! One round trip reads everything that decides the run: whether `dest` holds a
//! repository, its HEAD, branch, remote URL, local modifications, submodule status,
//! and the remote's refs (`git ls-remote --symref`, the one remote command Ansible also
//! makes). When the checkout is already at the wanted commit nothing else is sent.
//! Otherwise one script clones or fetches, switches to the version as Ansible does
//! (`checkout --force` + `reset --hard` for branches), updates submodules and prints
//! the new HEAD.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Git;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("repo", ArgType::Str, "git, SSH or HTTP(S) URL of the repository, or a path on the host (turned into a `file://` URL).").required().aliases(&["name"]),
    ArgSpec::new("dest", ArgType::Path, "The path to check the repository out to. Required unless `clone=no`."),
    ArgSpec::new("version", ArgType::Str, "What to check out: `HEAD` (the remote's default branch), a branch, a tag or a commit SHA.").default("HEAD"),
    ArgSpec::new("remote", ArgType::Str, "The name of the remote.").default("origin"),
    ArgSpec::new("refspec", ArgType::Str, "An extra refspec to fetch (`refs/meta/config`, `+refs/pull/*:refs/remotes/pull/*`)."),
    ArgSpec::new("reference", ArgType::Str, "A reference repository (`git clone --reference`)."),
    ArgSpec::new("force", ArgType::Bool, "Discard local modifications of tracked files. Without it a dirty checkout fails.").default("no"),
    ArgSpec::new("depth", ArgType::Int, "A shallow clone with this many commits (for HEAD, branches and tags; ignored for a SHA)."),
    ArgSpec::new("clone", ArgType::Bool, "Clone when `dest` has no repository. With `no` the module only reports the remote's commit.").default("yes"),
    ArgSpec::new("update", ArgType::Bool, "Fetch and move an existing checkout. With `no` an existing checkout is left as it is.").default("yes"),
    ArgSpec::new("bare", ArgType::Bool, "A bare repository (no working tree).").default("no"),
    ArgSpec::new("accept_hostkey", ArgType::Bool, "Add `-o StrictHostKeyChecking=no` to ssh (any host key is accepted).").default("no"),
    ArgSpec::new("accept_newhostkey", ArgType::Bool, "Add `-o StrictHostKeyChecking=accept-new` to ssh (unknown host keys are accepted, changed ones refused).").default("no"),
    ArgSpec::new("key_file", ArgType::Path, "A private key on the host for ssh (`-i KEY -o IdentitiesOnly=yes`)."),
    ArgSpec::new("ssh_opts", ArgType::Str, "Options added to the ssh command git runs (`GIT_SSH_COMMAND`)."),
    ArgSpec::new("executable", ArgType::Path, "The git program to run (default: `git` on the PATH)."),
    ArgSpec::new("umask", ArgType::Raw, "The umask for the git commands, as a quoted octal string (`'0022'`)."),
    ArgSpec::new("recursive", ArgType::Bool, "Initialize and update submodules, recursively.").default("yes"),
    ArgSpec::new("single_branch", ArgType::Bool, "Clone only the history leading to `version` (`--single-branch`).").default("no"),
    ArgSpec::new("track_submodules", ArgType::Bool, "Move submodules to the tip of their tracked branch (`git submodule update --remote`).").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "git",
    short: "Deploy software (or files) from git checkouts",
    description: "Clones a repository to `dest` and keeps it at `version`: a branch (followed to the remote's tip), a tag, a \
commit SHA or `HEAD` (the remote's default branch). git must be installed on the host. The remote's refs are read with one \
`git ls-remote`, together with the checkout's state, so an up-to-date checkout is one round trip. Local modifications of \
tracked files fail the task unless `force=yes`. Check mode reports `before` and the remote's commit as `after` without \
fetching. Not supported: `verify_commit`, `gpg_allowlist`, `archive`, `separate_git_dir`. With `track_submodules=yes` and \
submodules present, each run fetches (submodule remotes cannot be read in the first round trip).",
    args: ARGS,
    free_form: false,
    examples: "- name: Check out the app at its release tag\n  ansible.builtin.git:\n    repo: https://git.example.com/app.git\n    dest: /srv/app\n    version: v1.4.0\n\n\
- name: Follow a branch over ssh, accepting a new host key\n  ansible.builtin.git:\n    repo: git@git.example.com:team/app.git\n    dest: /srv/app\n    version: main\n    key_file: /home/deploy/.ssh/id_ed25519\n    accept_newhostkey: yes\n",
    returns: &[
        ("before", "the commit checked out before the task (null for a new clone)"),
        ("after", "the commit checked out after it (in check mode: the remote's commit)"),
        ("remote_url_changed", "whether the remote's URL was changed to `repo` (existing checkouts)"),
        ("warnings", "e.g. `depth` ignored for a commit SHA"),
        ("diff", "with `--diff`: `prepared`, the `git diff` between the two commits"),
    ],
};

const TAG: &str = "__provision_git_5c1e__";

/// The arguments, read once.
struct Opts {
    repo: String,
    dest: Option<String>,
    version: String,
    remote: String,
    refspec: Option<String>,
    reference: Option<String>,
    force: bool,
    depth: Option<i64>,
    clone: bool,
    update: bool,
    bare: bool,
    recursive: bool,
    single_branch: bool,
    track_submodules: bool,
    /// `export ...; umask ...; g=GIT;` — the preamble of every script.
    env: String,
}

fn flag(args: &Args, k: &str) -> bool {
    args.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn opts(args: &Args) -> Result<Opts, String> {
    let mut repo = text(args, "repo").filter(|r| !r.is_empty()).ok_or("missing required argument `repo` for module `git`")?;
    if repo.starts_with('/') {
        repo = format!("file://{repo}");
    }
    if repo.starts_with('-') {
        return Err(format!("invalid repository {repo:?}"));
    }
    let (hostkey, newhostkey) = (flag(args, "accept_hostkey"), flag(args, "accept_newhostkey"));
    if hostkey && newhostkey {
        return Err("parameters are mutually exclusive: accept_hostkey|accept_newhostkey".into());
    }
    let mut ssh_opts = text(args, "ssh_opts").unwrap_or_default();
    let strict = |o: &str| o.contains("-o StrictHostKeyChecking=no") || o.contains("-o StrictHostKeyChecking=accept-new");
    if hostkey && !strict(&ssh_opts) {
        ssh_opts.push_str(" -o StrictHostKeyChecking=no");
    }
    if newhostkey && !strict(&ssh_opts) {
        ssh_opts.push_str(" -o StrictHostKeyChecking=accept-new");
    }
    if !ssh_opts.contains("BatchMode=yes") {
        ssh_opts.push_str(" -o BatchMode=yes");
    }
    if let Some(k) = text(args, "key_file").filter(|k| !k.is_empty()) {
        ssh_opts.push_str(&format!(" -i {} -o IdentitiesOnly=yes", quote(&k)));
    }
    let mut env = format!("export LC_ALL=C LANG=C GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND={}; ", quote(&format!("ssh {}", ssh_opts.trim())));
    match args.get("umask") {
        None | Some(Value::Null) => {}
        Some(Value::String(u)) if !u.is_empty() && u.len() <= 4 && u.bytes().all(|b| (b'0'..=b'7').contains(&b)) => {
            env.push_str(&format!("umask {u}; "));
        }
        Some(Value::String(_)) => return Err("umask must be an octal integer".into()),
        Some(_) => return Err("umask must be defined as a quoted octal integer".into()),
    }
    env.push_str(&format!("g={}; ", quote(&text(args, "executable").filter(|e| !e.is_empty()).unwrap_or_else(|| "git".into()))));
    let dest = text(args, "dest").filter(|d| !d.is_empty()).map(|d| {
        let t = d.trim_end_matches('/');
        if t.is_empty() { "/".to_string() } else { t.to_string() }
    });
    let clone = flag(args, "clone");
    if dest.is_none() && clone {
        return Err("the destination directory must be specified unless clone=no".into());
    }
    Ok(Opts {
        repo,
        dest,
        version: text(args, "version").filter(|v| !v.is_empty()).unwrap_or_else(|| "HEAD".into()),
        remote: text(args, "remote").filter(|r| !r.is_empty()).unwrap_or_else(|| "origin".into()),
        refspec: text(args, "refspec").filter(|r| !r.is_empty()),
        reference: text(args, "reference").filter(|r| !r.is_empty()),
        force: flag(args, "force"),
        depth: args.get("depth").and_then(Value::as_i64).filter(|d| *d > 0),
        clone,
        update: flag(args, "update"),
        bare: flag(args, "bare"),
        recursive: flag(args, "recursive"),
        single_branch: flag(args, "single_branch"),
        track_submodules: flag(args, "track_submodules"),
        env,
    })
}

/// The one read: the checkout's state and (unless it is only looked at) the remote's refs.
fn read_script(o: &Opts) -> String {
    let mut s = format!("{}if ! command -v \"$g\" >/dev/null 2>&1; then echo {TAG} nogit; exit 0; fi; ", o.env);
    if let Some(d) = &o.dest {
        let config = if o.bare { "config" } else { ".git/config" };
        s.push_str(&format!(
            "d={}; if [ -f \"$d/{config}\" ]; then ( cd \"$d\" || exit 0; echo {TAG} repo; echo \"{TAG} head $(\"$g\" rev-parse --verify -q HEAD)\"; \
echo \"{TAG} branch $(\"$g\" symbolic-ref -q --short HEAD)\"; echo \"{TAG} url $(\"$g\" config --get remote.{}.url)\"; ",
            quote(d),
            quote(&o.remote)
        ));
        if !o.bare {
            s.push_str(&format!("\"$g\" status --porcelain --untracked-files=no | sed 's/^/{TAG} mod /'; "));
            if o.recursive {
                s.push_str(&format!(
                    "if [ -f .gitmodules ]; then echo {TAG} gitmodules; \"$g\" submodule status --recursive 2>&1 | sed 's/^/{TAG} sub /'; fi; "
                ));
            }
        }
        s.push_str("); fi; ");
    }
    let look_only = o.dest.is_some() && !o.update;
    if look_only {
        s.push_str(&format!("[ -f \"$d/{}\" ] || ", if o.bare { "config" } else { ".git/config" }));
    }
    s.push_str(&format!(
        "{{ r=$(\"$g\" ls-remote --symref {} 2>&1); echo \"{TAG} lsrc $?\"; printf '%s\\n' \"$r\" | sed 's/^/{TAG} ls /'; }}",
        quote(&o.repo)
    ));
    s
}

/// What the read found.
#[derive(Debug, Default)]
struct State {
    nogit: bool,
    repo: bool,
    head: String,
    branch: String,
    url: String,
    mods: Vec<String>,
    gitmodules: bool,
    subs: Vec<String>,
    ls_rc: Option<i32>,
    ls: Vec<String>,
}

fn parse(out: &str) -> State {
    let mut st = State::default();
    let p = format!("{TAG} ");
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(&p) else { continue };
        let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
        match k {
            "nogit" => st.nogit = true,
            "repo" => st.repo = true,
            "head" => st.head = v.trim().to_string(),
            "branch" => st.branch = v.trim().to_string(),
            "url" => st.url = v.trim().to_string(),
            "mod" => st.mods.push(v.to_string()),
            "gitmodules" => st.gitmodules = true,
            "sub" => st.subs.push(v.to_string()),
            "lsrc" => st.ls_rc = v.trim().parse().ok(),
            "ls" => st.ls.push(v.to_string()),
            _ => {}
        }
    }
    st
}

/// The remote's refs (`refs/heads/main` → sha) and the branch its HEAD names.
struct Remote {
    refs: HashMap<String, String>,
    head_branch: Option<String>,
}

fn parse_ls(lines: &[String]) -> Remote {
    let mut refs = HashMap::new();
    let mut head_branch = None;
    for l in lines {
        if let Some(rest) = l.strip_prefix("ref: ") {
            if let Some((target, "HEAD")) = rest.split_once('\t') {
                head_branch = target.strip_prefix("refs/heads/").map(str::to_string);
            }
        } else if let Some((sha, name)) = l.split_once('\t') {
            refs.insert(name.trim().to_string(), sha.trim().to_string());
        }
    }
    Remote { refs, head_branch }
}

/// What `version` names on the remote.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// The remote's HEAD, which is branch `.0` (if known) at `.1`.
    Head(Option<String>, String),
    Branch(String, String),
    Tag(String, String),
    Sha(String),
}

impl Want {
    fn sha(&self) -> &str {
        match self {
            Want::Head(_, s) | Want::Branch(_, s) | Want::Tag(_, s) | Want::Sha(s) => s,
        }
    }
    fn branch(&self) -> Option<&str> {
        match self {
            Want::Head(b, _) => b.as_deref(),
            Want::Branch(b, _) => Some(b),
            _ => None,
        }
    }
    /// Whether commit `head` is this version's commit.
    fn matches(&self, head: &str) -> bool {
        match self {
            Want::Sha(v) => !head.is_empty() && v.len() >= 4 && head.starts_with(&v.to_ascii_lowercase()),
            w => !head.is_empty() && head == w.sha(),
        }
    }
}

fn resolve(version: &str, remote: &Remote) -> Result<Want, String> {
    if version == "HEAD" {
        return match remote.refs.get("HEAD") {
            Some(sha) => Ok(Want::Head(remote.head_branch.clone(), sha.clone())),
            None => Err("Could not determine remote revision for HEAD".into()),
        };
    }
    if let Some(sha) = remote.refs.get(&format!("refs/heads/{version}")) {
        return Ok(Want::Branch(version.to_string(), sha.clone()));
    }
    let tag = format!("refs/tags/{version}");
    if let Some(sha) = remote.refs.get(&format!("{tag}^{{}}")).or_else(|| remote.refs.get(&tag)) {
        return Ok(Want::Tag(version.to_string(), sha.clone()));
    }
    // Ansible: neither branch nor tag "appears to be a sha1".
    Ok(Want::Sha(version.to_string()))
}

fn same_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| u.strip_prefix("file://").unwrap_or(u).trim_end_matches('/').to_string();
    a == b || norm(a) == norm(b)
}

/// Commands that move the working tree to `want` (Ansible's `switch_version`).
fn switch(o: &Opts, want: &Want) -> String {
    let r = quote(&o.remote);
    match want {
        Want::Head(Some(b), _) | Want::Branch(b, _) => {
            let qb = quote(b);
            let fetch_branch = match o.depth {
                Some(n) => format!("\"$g\" fetch --depth={n} {r} {}; ", quote(&format!("+refs/heads/{b}:refs/remotes/{}/{b}", o.remote))),
                None => String::new(),
            };
            if matches!(want, Want::Head(..)) {
                format!("\"$g\" checkout --force {qb}; \"$g\" reset --hard {} --; ", quote(&format!("{}/{b}", o.remote)))
            } else {
                format!(
                    "if \"$g\" show-ref --verify --quiet {}; then \"$g\" checkout --force {qb}; \"$g\" reset --hard {}; \
else {fetch_branch}\"$g\" checkout --track -b {qb} {}; fi; ",
                    quote(&format!("refs/heads/{b}")),
                    quote(&format!("{}/{b}", o.remote)),
                    quote(&format!("{}/{b}", o.remote))
                )
            }
        }
        // A remote HEAD that names no branch (detached): its commit.
        Want::Head(None, sha) => format!("\"$g\" checkout --force {}; ", quote(sha)),
        Want::Tag(v, _) | Want::Sha(v) => format!("\"$g\" checkout --force {}; ", quote(v)),
    }
}

fn submodules(o: &Opts) -> String {
    if !o.recursive || o.bare {
        return String::new();
    }
    format!(
        "if [ -f .gitmodules ]; then \"$g\" submodule sync --recursive >/dev/null; \"$g\" submodule update --init --recursive{}{}; fi; ",
        if o.track_submodules { " --remote" } else { "" },
        if o.force { " --force" } else { "" }
    )
}

/// The tail of every change script: the new HEAD, the submodules, the diff.
fn report(o: &Opts, diff_from: Option<&str>) -> String {
    let mut s = format!("echo \"{TAG} after $(\"$g\" rev-parse HEAD)\"; ");
    if o.recursive && !o.bare {
        s.push_str(&format!("if [ -f .gitmodules ]; then \"$g\" submodule status --recursive 2>&1 | sed 's/^/{TAG} sub /'; fi; "));
    }
    if let Some(before) = diff_from {
        s.push_str(&format!("echo {TAG} diff; \"$g\" --no-pager diff {} HEAD || true", quote(before)));
    }
    s
}

fn clone_script(o: &Opts, want: &Want, warnings: &mut Vec<String>) -> String {
    let dest = o.dest.as_deref().unwrap_or(".");
    let mut cmd = String::from("\"$g\" clone");
    if o.bare {
        cmd.push_str(" --bare");
    } else {
        cmd.push_str(&format!(" --origin {}", quote(&o.remote)));
    }
    let named = matches!(want, Want::Branch(..) | Want::Tag(..));
    let mut branch_arg = false;
    if let Some(n) = o.depth {
        if matches!(want, Want::Head(..)) || o.refspec.is_some() {
            cmd.push_str(&format!(" --depth {n}"));
        } else if named {
            cmd.push_str(&format!(" --depth {n}"));
            branch_arg = true;
        } else {
            warnings.push("Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec.".into());
        }
    }
    if let Some(r) = &o.reference {
        cmd.push_str(&format!(" --reference {}", quote(r)));
    }
    if o.single_branch {
        cmd.push_str(" --single-branch");
        branch_arg |= named;
    }
    if branch_arg {
        cmd.push_str(&format!(" --branch {}", quote(&o.version)));
    }
    cmd.push_str(&format!(" {} {}", quote(&o.repo), quote(dest)));
    let mut s = format!("{}set -e; mkdir -p \"$(dirname {d})\"; {cmd}; cd {d}; ", o.env, d = quote(dest));
    if o.bare && o.remote != "origin" {
        s.push_str(&format!("\"$g\" remote add {} {}; ", quote(&o.remote), quote(&o.repo)));
    }
    if let Some(rs) = &o.refspec {
        let depth = o.depth.map(|n| format!(" --depth {n}")).unwrap_or_default();
        s.push_str(&format!("\"$g\" fetch{depth} {} {}; ", quote(&o.remote), quote(rs)));
    }
    if !o.bare {
        s.push_str(&switch(o, want));
        s.push_str(&submodules(o));
    }
    s.push_str(&report(o, None));
    s
}

fn update_script(o: &Opts, st: &State, want: &Want, url_changed: bool, diff: bool) -> String {
    let dest = o.dest.as_deref().unwrap_or(".");
    let r = quote(&o.remote);
    let mut s = format!("{}set -e; cd {}; ", o.env, quote(dest));
    if url_changed {
        s.push_str(&format!("\"$g\" remote set-url {r} {u} 2>/dev/null || \"$g\" remote add {r} {u}; ", u = quote(&o.repo)));
    }
    if !st.mods.is_empty() && o.force {
        s.push_str("\"$g\" reset --hard HEAD --; ");
    }
    // Ansible's fetch(): with depth, the smallest set of refs; else everything and the tags.
    let mut refspecs: Vec<String> = vec![];
    let mut fetch = String::from("\"$g\" fetch");
    if let Some(n) = o.depth {
        if let Some(rs) = &o.refspec {
            refspecs.push(rs.clone());
        } else {
            match want {
                Want::Head(Some(b), _) => refspecs.push(b.clone()),
                Want::Branch(v, _) => {
                    if st.branch != *v {
                        refspecs.push(format!("+refs/heads/{v}:refs/heads/{v}"));
                    }
                    refspecs.push(format!("+refs/heads/{v}:refs/remotes/{}/{v}", o.remote));
                }
                Want::Tag(v, _) => refspecs.push(format!("+refs/tags/{v}:refs/tags/{v}")),
                _ => {}
            }
        }
        if !refspecs.is_empty() {
            fetch.push_str(&format!(" --depth {n}"));
        }
    }
    if o.depth.is_none() || refspecs.is_empty() {
        if o.bare {
            refspecs = vec!["+refs/heads/*:refs/heads/*".into(), "+refs/tags/*:refs/tags/*".into()];
        } else {
            fetch.push_str(" --tags");
        }
        if let Some(rs) = &o.refspec {
            refspecs.push(rs.clone());
        }
    }
    if o.force {
        fetch.push_str(" --force");
    }
    fetch.push_str(&format!(" {r}"));
    for rs in &refspecs {
        fetch.push(' ');
        fetch.push_str(&quote(rs));
    }
    s.push_str(&fetch);
    s.push_str("; ");
    if !o.bare {
        s.push_str(&switch(o, want));
        s.push_str(&submodules(o));
    }
    let before = (!st.head.is_empty() && diff).then_some(st.head.as_str());
    s.push_str(&report(o, before));
    s
}

/// A failure that carries what was found so far.
fn fail(msg: String, before: Option<&str>) -> ModuleResult {
    let mut r = ModuleResult::failed(msg);
    if let Some(b) = before {
        r.set("before", b);
    }
    r
}

fn err_text(out: &crate::ExecOutput) -> String {
    let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if e.is_empty() { String::from_utf8_lossy(&out.stdout).trim().to_string() } else { e }
}

#[async_trait]
impl Module for Git {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let o = match opts(args) {
            Ok(o) => o,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let out = ctx.remote.exec(&read_script(&o), b"").await?;
        let st = parse(&String::from_utf8_lossy(&out.stdout));
        if st.nogit {
            return Ok(ModuleResult::failed("Failed to find required executable \"git\" on the host (install the `git` package)"));
        }
        let before = st.repo.then(|| st.head.clone()).filter(|h| !h.is_empty());
        // An existing checkout that is only looked at.
        if st.repo && !o.update {
            let mut r = ModuleResult::ok(false);
            r.set("before", before.clone()).set("after", before);
            return Ok(r);
        }
        match st.ls_rc {
            Some(0) => {}
            Some(rc) => {
                return Ok(fail(format!("Failed to read the remote refs of {} (rc={rc}): {}", o.repo, st.ls.join("\n").trim()), before.as_deref()));
            }
            None => return Ok(ModuleResult::failed(format!("Failed to inspect {}: {}", o.dest.as_deref().unwrap_or(&o.repo), err_text(&out)))),
        }
        let remote = parse_ls(&st.ls);
        let want = match resolve(&o.version, &remote) {
            Ok(w) => w,
            Err(e) => return Ok(fail(e, before.as_deref())),
        };
        let mut warnings = vec![];

        if !st.repo {
            // Nothing checked out: clone (or, in check mode or with clone=no, report the remote's commit).
            let mut r = ModuleResult::ok(true);
            r.set("before", Value::Null);
            if ctx.check_mode || !o.clone {
                r.set("after", want.sha());
                if ctx.diff {
                    r.set("diff", json!({"prepared": format!(">> Newly checked out {}", want.sha())}));
                }
                return Ok(r);
            }
            let out = ctx.remote.exec(&clone_script(&o, &want, &mut warnings), b"").await?;
            let done = parse(&String::from_utf8_lossy(&out.stdout));
            let after = after_of(&out);
            if out.rc != 0 {
                return Ok(ModuleResult::failed(format!("Failed to clone {} into {}: {}", o.repo, o.dest.as_deref().unwrap_or(""), err_text(&out))));
            }
            r.set("after", after.clone());
            if !done.subs.is_empty() {
                r.set("submodules_changed", true);
            }
            if ctx.diff {
                r.set("diff", json!({"prepared": format!(">> Newly checked out {after}")}));
            }
            if !warnings.is_empty() {
                r.set("warnings", warnings);
            }
            return Ok(r);
        }

        let head = st.head.clone();
        if !st.mods.is_empty() && !o.force {
            let dest = o.dest.as_deref().unwrap_or("");
            return Ok(fail(format!("Local modifications exist in the destination: {dest} (force=no)."), before.as_deref()));
        }
        let url_changed = st.url.is_empty() || !same_url(&st.url, &o.repo);
        let branch_ok = match want.branch() {
            Some(b) => o.bare || st.branch == b,
            None => o.bare || st.branch.is_empty(),
        };
        let subs_stale = st.subs.iter().any(|l| l.starts_with(['-', '+', 'U']));
        let head_ok = want.matches(&head);
        let fresh = head_ok && branch_ok && !url_changed && st.mods.is_empty() && !subs_stale && !(o.track_submodules && st.gitmodules);
        if fresh {
            let mut r = ModuleResult::ok(false);
            r.set("before", head.clone()).set("after", head).set("remote_url_changed", false);
            return Ok(r);
        }
        if ctx.check_mode {
            let changed = !head_ok || url_changed || !st.mods.is_empty() || subs_stale;
            let mut r = ModuleResult::ok(changed);
            r.set("before", head.clone()).set("after", want.sha()).set("remote_url_changed", url_changed);
            if ctx.diff && changed && !head_ok {
                r.set("diff", json!({"prepared": format!(">> Remote has changed: {head} -> {} (not fetched in check mode)", want.sha())}));
            }
            return Ok(r);
        }
        let out = ctx.remote.exec(&update_script(&o, &st, &want, url_changed, ctx.diff), b"").await?;
        if out.rc != 0 {
            return Ok(fail(format!("Failed to update {} to {}: {}", o.dest.as_deref().unwrap_or(""), o.version, err_text(&out)), Some(&head)));
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let done = parse(&stdout);
        let after = after_of(&out);
        let subs_changed = done.subs != st.subs;
        let changed = after != head || !st.mods.is_empty() || url_changed || subs_changed;
        let mut r = ModuleResult::ok(changed);
        r.set("before", head.clone()).set("after", after).set("remote_url_changed", url_changed);
        if subs_changed {
            r.set("submodules_changed", true);
        }
        if !st.mods.is_empty() {
            r.set("msg", format!("Local modifications exist in the destination: {}", o.dest.as_deref().unwrap_or("")));
        }
        if ctx.diff && changed {
            if let Some(i) = stdout.find(&format!("{TAG} diff\n")) {
                r.set("diff", json!({"prepared": stdout[i + TAG.len() + 6..].to_string()}));
            }
        }
        Ok(r)
    }
}

fn after_of(out: &crate::ExecOutput) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} after "))).unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::ExecOutput;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const T: &str = "3333333333333333333333333333333333333333";

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&Git, a, &fake, check, false);
        (r, fake.commands())
    }

    /// The remote: HEAD → main at `main`, branch `dev` at A, annotated tag v1 → A.
    fn ls(main: &str) -> String {
        format!(
            "{TAG} lsrc 0\n{TAG} ls ref: refs/heads/main\tHEAD\n{TAG} ls {main}\tHEAD\n{TAG} ls {main}\trefs/heads/main\n{TAG} ls {A}\trefs/heads/dev\n\
{TAG} ls {T}\trefs/tags/v1\n{TAG} ls {A}\trefs/tags/v1^{{}}\n"
        )
    }

    fn checkout(head: &str, branch: &str, extra: &str) -> String {
        format!("{TAG} repo\n{TAG} head {head}\n{TAG} branch {branch}\n{TAG} url file:///srv/origin.git\n{extra}")
    }

    #[test]
    fn up_to_date_is_one_round_trip() {
        let host = checkout(B, "main", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&host], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!((r.0["before"].as_str(), r.0["after"].as_str()), (Some(B), Some(B)));
        assert!(sent[0].contains("ls-remote --symref file:///srv/origin.git"), "{}", sent[0]);
        assert!(sent[0].contains("status --porcelain --untracked-files=no"));
    }

    #[test]
    fn a_new_clone_then_head_is_checked_out() {
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&ls(B), &format!("{TAG} after {B}\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["before"], Value::Null);
        assert_eq!(r.0["after"], B);
        assert!(sent[1].contains("\"$g\" clone --origin origin file:///srv/origin.git /srv/app; cd /srv/app; \"$g\" checkout --force main; \"$g\" reset --hard origin/main --;"), "{}", sent[1]);
        assert!(sent[1].contains("submodule update --init --recursive"));
    }

    #[test]
    fn check_mode_reports_the_remote_commit() {
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&ls(B)], true);
        assert!(r.changed() && sent.len() == 1);
        assert_eq!(r.0["after"], B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&(checkout(A, "main", "") + &ls(B))], true);
        assert!(r.changed() && sent.len() == 1, "{r:?}");
        assert_eq!((r.0["before"].as_str(), r.0["after"].as_str()), (Some(A), Some(B)));
    }

    #[test]
    fn new_upstream_commits_are_fetched_and_reset() {
        let host = checkout(A, "main", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&host, &format!("{TAG} after {B}\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["remote_url_changed"], false);
        assert!(sent[1].contains("cd /srv/app; \"$g\" fetch --tags origin; \"$g\" checkout --force main; \"$g\" reset --hard origin/main --;"), "{}", sent[1]);
    }

    #[test]
    fn a_tag_resolves_to_its_commit_and_is_checked_out_detached() {
        let host = checkout(B, "main", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "version": "v1"}), &[&host, &format!("{TAG} after {A}\n")], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].contains("\"$g\" checkout --force v1;"), "{}", sent[1]);
        // At the tag's commit, detached: nothing to do.
        let host = checkout(A, "", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "version": "v1"}), &[&host], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
    }

    #[test]
    fn a_sha_prefix_matches_and_a_branch_tracks() {
        let host = checkout(A, "", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "version": "11111111"}), &[&host], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "version": "dev"}), &[&host, &format!("{TAG} after {A}\n")], false);
        // Same commit, moved from detached onto the branch: Ansible compares commits only.
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("else \"$g\" checkout --track -b dev origin/dev; fi;"), "{}", sent[1]);
    }

    #[test]
    fn local_modifications_fail_without_force() {
        let host = checkout(A, "main", &format!("{TAG} mod  M README\n")) + &ls(B);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app"}), &[&host], true);
        assert!(r.is_failed() && sent.len() == 1);
        assert_eq!(r.0["msg"], "Local modifications exist in the destination: /srv/app (force=no).");
        assert_eq!(r.0["before"], A);
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "force": true}), &[&host, &format!("{TAG} after {B}\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].contains("\"$g\" reset --hard HEAD --; \"$g\" fetch --tags --force origin;"), "{}", sent[1]);
    }

    #[test]
    fn a_changed_remote_url_is_set() {
        let host = checkout(B, "main", "") + &ls(B);
        let (r, sent) = run(json!({"repo": "https://example.com/other.git", "dest": "/srv/app"}), &[&host, &format!("{TAG} after {B}\n")], false);
        assert!(r.changed() && r.0["remote_url_changed"] == true, "{r:?}");
        assert!(sent[1].contains("remote set-url origin https://example.com/other.git"), "{}", sent[1]);
    }

    #[test]
    fn ssh_options_and_depth() {
        let a = json!({"repo": "git@example.com:a/b.git", "dest": "/srv/app", "accept_newhostkey": true, "key_file": "/root/.ssh/deploy key", "depth": 1, "version": "dev", "umask": "0027"});
        let (r, sent) = run(a, &[&ls(B), &format!("{TAG} after {A}\n")], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[0].starts_with("export LC_ALL=C LANG=C GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND='ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes -i '\\''/root/.ssh/deploy key'\\'' -o IdentitiesOnly=yes'; umask 0027; g=git;"), "{}", sent[0]);
        assert!(sent[1].contains("clone --origin origin --depth 1 --branch dev git@example.com:a/b.git /srv/app"), "{}", sent[1]);
        let (r, _) = run(json!({"repo": "x", "dest": "/d", "accept_hostkey": true, "accept_newhostkey": true}), &[], false);
        assert!(r.is_failed());
        let (r, _) = run(json!({"repo": "x", "dest": "/d", "umask": 18}), &[], false);
        assert_eq!(r.0["msg"], "umask must be defined as a quoted octal integer");
    }

    #[test]
    fn errors_are_clear() {
        let (r, _) = run(json!({"repo": "/srv/o.git", "dest": "/d"}), &[&format!("{TAG} nogit\n")], false);
        assert!(r.0["msg"].as_str().unwrap().contains("install the `git` package"));
        let (r, _) = run(json!({"repo": "/srv/o.git", "dest": "/d"}), &[&format!("{TAG} lsrc 128\n{TAG} ls fatal: '/srv/o.git' does not appear to be a git repository\n")], false);
        assert!(r.0["msg"].as_str().unwrap().contains("does not appear to be a git repository"), "{r:?}");
        let fake = Fake::with(vec![ExecOutput { rc: 0, stdout: ls(B).into_bytes(), stderr: vec![] }, ExecOutput { rc: 128, stdout: vec![], stderr: b"fatal: destination path exists".to_vec() }]);
        let r = run_module(&Git, json!({"repo": "/srv/o.git", "dest": "/d"}), &fake, false, false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("destination path exists"), "{r:?}");
        let (r, _) = run(json!({"repo": "/srv/o.git", "clone": true}), &[], false);
        assert_eq!(r.0["msg"], "the destination directory must be specified unless clone=no");
    }

    #[test]
    fn update_no_only_looks() {
        let (r, sent) = run(json!({"repo": "/srv/origin.git", "dest": "/srv/app", "update": false}), &[&checkout(A, "main", "")], false);
        assert!(!r.changed() && sent.len() == 1 && r.0["after"] == A);
        assert!(sent[0].contains("[ -f \"$d/.git/config\" ] || { r=$("), "{}", sent[0]);
    }
}
