//! `apt` (and `package_facts`): Debian packages, in one round trip when nothing changes.
//!
//! One probe script updates the cache when asked (and when it is older than
//! `cache_valid_time`; never in check mode), then prints what `dpkg-query` (and, for
//! `state=latest`, `apt-cache policy`) knows about the packages. The module compares that
//! with the arguments; only when something must change does a second command run
//! `apt-get install`/`remove` with exactly the packages that need it.
//!
//! The probe also tells when the host has no dpkg at all, and which package manager it
//! has instead, so `package` can dispatch without a round trip of its own.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Apt;
pub struct PackageFacts;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::List, "Packages to manage; `name=version` pins a version.").aliases(&["pkg", "package"]),
    ArgSpec::new("state", ArgType::Str, "Whether the packages should be installed (`present`), at the newest version (`latest`) or removed (`absent`).")
        .default("present")
        .choices(&["absent", "build-dep", "latest", "present", "fixed"]),
    ArgSpec::new("update_cache", ArgType::Bool, "Run `apt-get update` first (subject to `cache_valid_time`).").aliases(&["update-cache"]),
    ArgSpec::new("update_cache_retries", ArgType::Int, "Accepted for compatibility.").default("5"),
    ArgSpec::new("update_cache_retry_max_delay", ArgType::Int, "Accepted for compatibility.").default("12"),
    ArgSpec::new("cache_valid_time", ArgType::Int, "Update the cache only if it is older than this many seconds; implies `update_cache`.").default("0"),
    ArgSpec::new("install_recommends", ArgType::Bool, "Install recommended packages (`no`: `--no-install-recommends`); default: apt's configuration.").aliases(&["install-recommends"]),
    ArgSpec::new("purge", ArgType::Bool, "With `state=absent`, remove configuration files too.").default("no"),
    ArgSpec::new("autoremove", ArgType::Bool, "Remove packages that are no longer needed.").default("no"),
    ArgSpec::new("autoclean", ArgType::Bool, "Accepted for compatibility.").default("no"),
    ArgSpec::new("deb", ArgType::Path, "A `.deb` file on the host to install."),
    ArgSpec::new("force", ArgType::Bool, "Pass `--allow-downgrades --allow-remove-essential --allow-change-held-packages`.").default("no"),
    ArgSpec::new("allow_downgrade", ArgType::Bool, "Allow installing an older version than the installed one.").default("no").aliases(&["allow-downgrade", "allow_downgrades", "allow-downgrades"]),
    ArgSpec::new("allow_unauthenticated", ArgType::Bool, "Install packages that cannot be authenticated.").default("no").aliases(&["allow-unauthenticated"]),
    ArgSpec::new("allow_change_held_packages", ArgType::Bool, "Allow changing held packages.").default("no"),
    ArgSpec::new("only_upgrade", ArgType::Bool, "Only upgrade installed packages; install nothing new.").default("no"),
    ArgSpec::new("default_release", ArgType::Str, "`-t RELEASE` for apt-get.").aliases(&["default-release"]),
    ArgSpec::new("dpkg_options", ArgType::Str, "Comma-separated dpkg options, each passed as `-o Dpkg::Options::=--OPTION`.").default("force-confdef,force-confold"),
    ArgSpec::new("lock_timeout", ArgType::Int, "Seconds to wait for the dpkg lock (`-o DPkg::Lock::Timeout`).").default("60"),
    ArgSpec::new("upgrade", ArgType::Str, "Only `no` is supported.").default("no").choices(&["no", "yes", "safe", "full", "dist"]),
    ArgSpec::new("policy_rc_d", ArgType::Int, "Accepted for compatibility."),
    ArgSpec::new("fail_on_autoremove", ArgType::Bool, "Accepted for compatibility.").default("no"),
    ArgSpec::new("clean", ArgType::Bool, "Accepted for compatibility.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "apt",
    short: "Manage apt packages",
    description: "Installs, upgrades and removes Debian packages with apt-get. A task that changes nothing \
costs one round trip: the cache update (when asked and due) and the dpkg query run in one script. \
`update_cache` alone reports `changed` only when the cache was updated.",
    args: ARGS,
    free_form: false,
    examples: "- name: Install nginx, updating the cache if older than an hour\n  ansible.builtin.apt:\n    name: nginx\n    update_cache: yes\n    cache_valid_time: 3600\n\n- name: Remove a package and its configuration\n  ansible.builtin.apt:\n    name: [telnet, ftp]\n    state: absent\n    purge: yes\n",
    returns: &[
        ("cache_updated", "whether the cache was updated"),
        ("cache_update_time", "when the cache was last updated (epoch seconds)"),
        ("stdout", "apt-get's output"),
        ("stderr", "apt-get's error output"),
        ("diff", "with --diff: `prepared`, what apt would do"),
    ],
};

/// One package as `dpkg-query` reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Installed {
    pub version: String,
    /// `install ok installed`.
    pub installed: bool,
    /// Removed but its configuration files are left.
    pub config_files: bool,
}

/// What the probe script found.
#[derive(Debug, Default, PartialEq)]
pub struct Probe {
    /// No dpkg: the package manager found instead (`dnf`, `apk`, ...), or empty.
    pub other_manager: Option<String>,
    pub cache_time: i64,
    pub cache_updated: bool,
    pub packages: std::collections::HashMap<String, Installed>,
    /// `apt-cache policy`: name → candidate version.
    pub candidates: std::collections::HashMap<String, String>,
    /// From a `deb` file: (package, version).
    pub deb: Option<(String, String)>,
    pub update_output: String,
}

const MANAGERS: &str = "for m in apt-get dnf yum apk zypper pacman pkg; do command -v $m >/dev/null 2>&1 && { echo \"__nodpkg $m\"; exit 0; }; done; echo '__nodpkg unknown'; exit 0";

fn text(args: &Args, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    })
}

fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(false)
}

fn int(args: &Args, key: &str, default: i64) -> i64 {
    args.get(key).and_then(Value::as_i64).unwrap_or(default)
}

/// The package names asked for, as (name, pinned version).
pub fn names(args: &Args) -> Vec<(String, Option<String>)> {
    let list = match args.get("name") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => vec![],
    };
    list.into_iter()
        .map(|n| match n.split_once('=') {
            Some((name, version)) => (name.trim().to_string(), Some(version.trim().to_string())),
            None => (n, None),
        })
        .collect()
}

/// The one probe script: cache update when due (not in check mode), then what dpkg knows.
pub fn probe_script(args: &Args, check_mode: bool) -> String {
    let valid = int(args, "cache_valid_time", 0);
    let update = flag(args, "update_cache") || valid > 0;
    let lock = int(args, "lock_timeout", 60);
    let mut s = String::from("export LC_ALL=C DEBIAN_FRONTEND=noninteractive\n");
    s.push_str(&format!("command -v dpkg-query >/dev/null 2>&1 || {{ {MANAGERS}; }}\n"));
    // A cache without any package list (an image whose lists were cleaned) is never fresh,
    // whatever the directory's time says: Ansible would skip the update and then find nothing.
    s.push_str("cache_time() { set -- /var/lib/apt/lists/*_Packages*; if [ ! -e \"$1\" ]; then echo 0; elif [ -e /var/lib/apt/periodic/update-success-stamp ]; then stat -c %Y /var/lib/apt/periodic/update-success-stamp; else stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0; fi; }\n");
    s.push_str("t=$(cache_time)\n");
    if update {
        s.push_str(&format!("if [ $(( $(date +%s) - t )) -gt {valid} ] || [ {valid} -eq 0 ]; then\n"));
        if check_mode {
            s.push_str("  echo __updated\n");
        } else {
            s.push_str(&format!(
                "  out=$(apt-get update -q -o DPkg::Lock::Timeout={lock} 2>&1); rc=$?\n  printf '%s\\n' \"$out\" | sed 's/^/__update /'\n  [ $rc -eq 0 ] || {{ echo \"__update_failed $rc\"; exit 0; }}\n  t2=$(cache_time); [ \"$t2\" = \"$t\" ] || echo __updated; t=$t2\n"
            ));
        }
        s.push_str("fi\n");
    }
    s.push_str("echo \"__cache $t\"\n");
    let pkgs: Vec<String> = names(args).into_iter().map(|(n, _)| n).collect();
    let fmt = "'__pkg ${Package} ${Status} ${Version}\\n'";
    if let Some(deb) = text(args, "deb") {
        s.push_str(&format!(
            "d=$(dpkg-deb -W --showformat='${{Package}} ${{Version}}' {q}) || {{ echo '__deb_failed'; exit 0; }}\necho \"__deb $d\"\ndpkg-query -W -f={fmt} \"${{d%% *}}\" 2>/dev/null\n",
            q = quote(&deb)
        ));
    }
    if !pkgs.is_empty() {
        s.push_str(&format!("dpkg-query -W -f={fmt} -- {} 2>/dev/null\n", join(&pkgs)));
        if args.get("state").and_then(Value::as_str) == Some("latest") {
            s.push_str(&format!("apt-cache policy -- {} 2>/dev/null | sed 's/^/__policy /'\n", join(&pkgs)));
        }
    }
    s.push_str("exit 0\n");
    s
}

pub fn parse_probe(out: &str) -> Result<Probe, String> {
    let mut p = Probe::default();
    let mut policy_pkg = String::new();
    for line in out.lines() {
        if let Some(m) = line.strip_prefix("__nodpkg ") {
            p.other_manager = Some(m.trim().to_string());
        } else if let Some(l) = line.strip_prefix("__update ") {
            p.update_output.push_str(l);
            p.update_output.push('\n');
        } else if let Some(rc) = line.strip_prefix("__update_failed ") {
            return Err(format!("Failed to update apt cache (apt-get update exited {rc}): {}", p.update_output.trim()));
        } else if line == "__updated" {
            p.cache_updated = true;
        } else if let Some(t) = line.strip_prefix("__cache ") {
            p.cache_time = t.trim().parse().unwrap_or(0);
        } else if line == "__deb_failed" {
            return Err("cannot read the .deb file given in `deb`".into());
        } else if let Some(d) = line.strip_prefix("__deb ") {
            let (name, version) = d.split_once(' ').unwrap_or((d, ""));
            p.deb = Some((name.to_string(), version.to_string()));
        } else if let Some(rest) = line.strip_prefix("__pkg ") {
            // name want ok status version
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.len() >= 4 {
                p.packages.insert(
                    words[0].to_string(),
                    Installed {
                        version: words.get(4).copied().unwrap_or("").to_string(),
                        installed: words[3] == "installed",
                        config_files: words[3] == "config-files",
                    },
                );
            }
        } else if let Some(l) = line.strip_prefix("__policy ") {
            if !l.starts_with(' ') && l.ends_with(':') {
                policy_pkg = l.trim_end_matches(':').to_string();
            } else if let Some(c) = l.trim().strip_prefix("Candidate: ") {
                if c != "(none)" {
                    p.candidates.insert(policy_pkg.clone(), c.to_string());
                }
            }
        }
    }
    Ok(p)
}

/// What the module decided: packages to install (as apt-get words) and to remove.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub install: Vec<String>,
    pub remove: Vec<String>,
}

fn version_matches(installed: &str, wanted: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(prefix) => installed.starts_with(prefix),
        None => installed == wanted,
    }
}

pub fn plan(args: &Args, probe: &Probe) -> Plan {
    let state = args.get("state").and_then(Value::as_str).unwrap_or("present");
    let purge = flag(args, "purge");
    let mut plan = Plan::default();
    let lookup = |name: &str| probe.packages.get(name.split(':').next().unwrap_or(name)).cloned().unwrap_or_default();
    for (name, version) in names(args) {
        let have = lookup(&name);
        let word = match &version {
            Some(v) => format!("{name}={v}"),
            None => name.clone(),
        };
        match state {
            "absent" => {
                if have.installed || (purge && have.config_files) {
                    plan.remove.push(name);
                }
            }
            "latest" => {
                let candidate = probe.candidates.get(name.split(':').next().unwrap_or(&name));
                if !have.installed || candidate.is_some_and(|c| *c != have.version) {
                    plan.install.push(word);
                }
            }
            _ => {
                let ok = have.installed && version.as_deref().is_none_or(|v| version_matches(&have.version, v));
                if !ok {
                    plan.install.push(word);
                }
            }
        }
    }
    if let (Some(deb), Some((name, version))) = (text(args, "deb"), &probe.deb) {
        let have = lookup(name);
        if !(have.installed && have.version == *version) {
            plan.install.push(if deb.contains('/') { deb } else { format!("./{deb}") });
        }
    }
    plan
}

/// `apt-get` with the options every action shares.
fn apt_get(args: &Args) -> String {
    let mut words = format!("apt-get -y -q -o DPkg::Lock::Timeout={}", int(args, "lock_timeout", 60));
    for opt in text(args, "dpkg_options").unwrap_or_default().split(',').map(str::trim).filter(|o| !o.is_empty()) {
        words.push_str(&format!(" -o {}", quote(&format!("Dpkg::Options::=--{opt}"))));
    }
    if let Some(r) = text(args, "default_release") {
        words.push_str(&format!(" -t {}", quote(&r)));
    }
    match args.get("install_recommends").and_then(to_bool) {
        Some(true) => words.push_str(" -o APT::Install-Recommends=yes"),
        Some(false) => words.push_str(" --no-install-recommends"),
        None => {}
    }
    if flag(args, "force") {
        words.push_str(" --allow-downgrades --allow-remove-essential --allow-change-held-packages");
    } else {
        if flag(args, "allow_downgrade") {
            words.push_str(" --allow-downgrades");
        }
        if flag(args, "allow_change_held_packages") {
            words.push_str(" --allow-change-held-packages");
        }
    }
    if flag(args, "allow_unauthenticated") {
        words.push_str(" --allow-unauthenticated");
    }
    words
}

/// The command that carries out `plan`.
pub fn apply_command(args: &Args, plan: &Plan) -> String {
    let mut cmds = vec![];
    let base = apt_get(args);
    if !plan.install.is_empty() {
        let only = if flag(args, "only_upgrade") { " --only-upgrade" } else { "" };
        cmds.push(format!("{base}{only} install -- {}", join(&plan.install)));
    }
    if !plan.remove.is_empty() {
        let purge = if flag(args, "purge") { " --purge" } else { "" };
        let auto = if flag(args, "autoremove") { " --autoremove" } else { "" };
        cmds.push(format!("{base}{purge}{auto} remove -- {}", join(&plan.remove)));
    }
    format!("export LC_ALL=C DEBIAN_FRONTEND=noninteractive\n{}", cmds.join(" && "))
}

fn prepared(plan: &Plan) -> String {
    let mut s = String::new();
    if !plan.install.is_empty() {
        s.push_str(&format!("The following NEW packages will be installed:\n  {}\n", plan.install.join(" ")));
    }
    if !plan.remove.is_empty() {
        s.push_str(&format!("The following packages will be REMOVED:\n  {}\n", plan.remove.join(" ")));
    }
    s
}

fn lines(s: &str) -> Value {
    Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect())
}

/// The whole `apt` module over an already-made probe answer; `package` uses it too.
pub async fn run_apt(args: &Args, ctx: &Context<'_>, probe_out: &crate::ExecOutput) -> Result<ModuleResult, RemoteError> {
    let probe = match parse_probe(&String::from_utf8_lossy(&probe_out.stdout)) {
        Ok(p) => p,
        Err(msg) => return Ok(ModuleResult::failed(msg)),
    };
    if probe_out.rc != 0 {
        let mut r = ModuleResult::failed(format!("could not query dpkg: {}", String::from_utf8_lossy(&probe_out.stderr).trim()));
        r.set("rc", probe_out.rc);
        return Ok(r);
    }
    if let Some(m) = &probe.other_manager {
        return Ok(ModuleResult::failed(format!("this host has no dpkg/apt (package manager found: {m}); package manager {m} is not supported yet")));
    }
    if args.get("upgrade").is_some_and(|u| !u.is_null() && to_bool(u) != Some(false)) {
        return Ok(ModuleResult::failed("`upgrade` other than `no` is not supported yet"));
    }
    let state = args.get("state").and_then(Value::as_str).unwrap_or("present");
    if matches!(state, "build-dep" | "fixed") {
        return Ok(ModuleResult::failed(format!("state={state} is not supported yet")));
    }
    if text(args, "deb").is_some_and(|d| d.contains("://")) {
        return Ok(ModuleResult::failed("`deb` must be a path on the host; URLs are not supported yet"));
    }
    let names = names(args);
    if names.is_empty() && text(args, "deb").is_none() {
        if flag(args, "autoremove") {
            return autoremove(args, ctx, probe.cache_updated, probe.cache_time).await;
        }
        // `update_cache` alone: changed only when the cache was updated (Ansible's rule).
        let mut r = ModuleResult::ok(probe.cache_updated);
        r.set("cache_updated", probe.cache_updated).set("cache_update_time", probe.cache_time);
        return Ok(r);
    }
    let plan = plan(args, &probe);
    let mut r = ModuleResult::ok(false);
    r.set("cache_updated", probe.cache_updated).set("cache_update_time", probe.cache_time);
    if plan.install.is_empty() && plan.remove.is_empty() {
        r.set("stdout", "").set("stderr", "");
        return Ok(r);
    }
    if ctx.check_mode {
        r.set("changed", true).set("stdout", "").set("stderr", "");
        if ctx.diff {
            r.set("diff", json!({ "prepared": prepared(&plan) }));
        }
        return Ok(r);
    }
    let out = ctx.remote.exec(&apply_command(args, &plan), b"").await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    r.set("stdout", stdout.clone()).set("stdout_lines", lines(&stdout)).set("stderr", stderr.clone()).set("stderr_lines", lines(&stderr));
    if out.rc != 0 {
        let what = if plan.install.is_empty() { format!("remove {}", plan.remove.join(" ")) } else { format!("install {}", plan.install.join(" ")) };
        r.set("failed", true).set("rc", out.rc).set("msg", format!("'apt-get {what}' failed: {}", stderr.trim()));
        return Ok(r);
    }
    r.set("changed", !stdout.contains("\n0 upgraded, 0 newly installed, 0 to remove"));
    if ctx.diff {
        r.set("diff", json!({ "prepared": stdout }));
    }
    Ok(r)
}

async fn autoremove(args: &Args, ctx: &Context<'_>, cache_updated: bool, cache_time: i64) -> Result<ModuleResult, RemoteError> {
    let sim = if ctx.check_mode { " -s" } else { "" };
    let purge = if flag(args, "purge") { " --purge" } else { "" };
    let cmd = format!("export LC_ALL=C DEBIAN_FRONTEND=noninteractive\n{}{sim}{purge} autoremove", apt_get(args));
    let out = ctx.remote.exec(&cmd, b"").await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut r = ModuleResult::ok(out.rc == 0 && !stdout.contains("\n0 upgraded, 0 newly installed, 0 to remove"));
    r.set("stdout", stdout.clone()).set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
    r.set("cache_updated", cache_updated).set("cache_update_time", cache_time);
    if out.rc != 0 {
        r.set("failed", true).set("rc", out.rc).set("msg", "apt-get autoremove failed");
    }
    Ok(r)
}

#[async_trait]
impl Module for Apt {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let out = ctx.remote.exec(&probe_script(args, ctx.check_mode), b"").await?;
        run_apt(args, ctx, &out).await
    }
}

static FACTS_DOC: ModuleDoc = ModuleDoc {
    name: "package_facts",
    short: "Return the installed packages as facts",
    description: "Reads dpkg's database in one round trip and returns `ansible_facts.packages`: a map of \
package name to a list of `{name, version, arch, source}`.",
    args: &[
        ArgSpec::new("manager", ArgType::List, "Package managers to read; only `auto` and `apt` are supported.").default("auto"),
        ArgSpec::new("strategy", ArgType::Str, "Accepted for compatibility.").default("first").choices(&["first", "all"]),
    ],
    free_form: false,
    examples: "- name: Gather the package facts\n  ansible.builtin.package_facts:\n\n- ansible.builtin.debug:\n    msg: \"nginx {{ ansible_facts.packages['nginx'][0].version }}\"\n  when: \"'nginx' in ansible_facts.packages\"\n",
    returns: &[("ansible_facts.packages", "name → list of {name, version, arch, source}")],
};

pub fn parse_package_facts(out: &str) -> Map<String, Value> {
    let mut packages = Map::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 || !f[3].ends_with(" installed") {
            continue;
        }
        let entry = json!({"name": f[0], "version": f[1], "arch": f[2], "source": "apt"});
        if let Value::Array(a) = packages.entry(f[0].to_string()).or_insert_with(|| Value::Array(vec![])) {
            a.push(entry);
        }
    }
    packages
}

#[async_trait]
impl Module for PackageFacts {
    fn doc(&self) -> &'static ModuleDoc {
        &FACTS_DOC
    }

    async fn run(&self, _args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let cmd = format!("command -v dpkg-query >/dev/null 2>&1 || {{ {MANAGERS}; }}\ndpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{Architecture}}\\t${{Status}}\\n'");
        let out = ctx.remote.exec(&cmd, b"").await?;
        let listing = String::from_utf8_lossy(&out.stdout);
        if let Some(m) = listing.lines().find_map(|l| l.strip_prefix("__nodpkg ")) {
            return Ok(ModuleResult::failed(format!("package manager {m} is not supported yet by package_facts")));
        }
        let mut r = ModuleResult::ok(false);
        r.set("ansible_facts", json!({ "packages": parse_package_facts(&listing) }));
        Ok(r)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ExecOutput;
    use std::sync::Mutex;

    /// Records the commands sent and answers them in order from a script.
    pub(crate) struct Fake {
        pub sent: Mutex<Vec<String>>,
        answers: Mutex<Vec<ExecOutput>>,
    }

    impl Fake {
        pub fn new(answers: &[(i32, &str)]) -> Fake {
            Fake {
                sent: Mutex::new(vec![]),
                answers: Mutex::new(answers.iter().map(|(rc, out)| ExecOutput { rc: *rc, stdout: out.as_bytes().to_vec(), stderr: vec![] }).collect()),
            }
        }
        pub fn sent(&self) -> Vec<String> {
            self.sent.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl crate::Remote for Fake {
        async fn exec(&self, command: &str, _stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().unwrap().push(command.to_string());
            let mut a = self.answers.lock().unwrap();
            Ok(if a.is_empty() { ExecOutput::default() } else { a.remove(0) })
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    pub(crate) fn run(module: &dyn Module, args: Value, check: bool, answers: &[(i32, &str)]) -> (ModuleResult, Vec<String>) {
        let args = crate::validate(module.doc().name, module.doc().args, args.as_object().unwrap(), &[]).unwrap();
        let f = Fake::new(answers);
        let ctx = Context { remote: &f, check_mode: check, diff: true };
        let r = block_on(module.run(&args, &ctx)).unwrap();
        (r, f.sent())
    }

    const INSTALLED: &str = "__cache 1700000000\n__pkg tree install ok installed 2.1.0-1\n";

    #[test]
    fn installed_package_costs_one_round_trip() {
        let (r, sent) = run(&Apt, json!({"name": "tree"}), false, &[(0, INSTALLED)]);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("dpkg-query -W -f='__pkg ${Package} ${Status} ${Version}\\n' -- tree"));
        assert!(!sent[0].contains("apt-get update"));
        assert!(!r.changed());
        assert_eq!(r.0["cache_updated"], false);
    }

    #[test]
    fn missing_package_is_installed_alone() {
        let (r, sent) = run(&Apt, json!({"name": ["tree", "sl"], "update_cache": true}), false, &[(0, INSTALLED), (0, "Setting up sl\n1 upgraded, 1 newly installed, 0 to remove\n")]);
        assert!(sent[0].contains("apt-get update -q -o DPkg::Lock::Timeout=60"));
        assert_eq!(sent.len(), 2);
        assert!(sent[1].contains("apt-get -y -q -o DPkg::Lock::Timeout=60 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -- sl"), "{}", sent[1]);
        assert!(!sent[1].contains("tree"));
        assert!(r.changed());
    }

    #[test]
    fn check_mode_predicts_and_sends_nothing_more() {
        let (r, sent) = run(&Apt, json!({"pkg": "sl", "update-cache": "yes"}), true, &[(0, "__updated\n__cache 0\n")]);
        assert_eq!(sent.len(), 1);
        assert!(!sent[0].contains("apt-get update"), "check mode must not update the cache");
        assert!(r.changed());
        assert_eq!(r.0["cache_updated"], true);
        assert!(r.0["diff"]["prepared"].as_str().unwrap().contains("NEW packages will be installed:\n  sl"));
    }

    #[test]
    fn pinned_version_and_latest() {
        let (r, sent) = run(&Apt, json!({"name": "tree=2.0*"}), false, &[(0, INSTALLED), (0, "")]);
        assert!(r.changed());
        assert!(sent[1].ends_with("install -- tree=2.0*") || sent[1].ends_with("install -- 'tree=2.0*'"), "{}", sent[1]);
        let probe = format!("{INSTALLED}__policy tree:\n__policy   Installed: 2.1.0-1\n__policy   Candidate: 2.2.0-1\n");
        let (r, sent) = run(&Apt, json!({"name": "tree", "state": "latest"}), false, &[(0, &probe), (0, "")]);
        assert!(sent[0].contains("apt-cache policy -- tree"));
        assert!(r.changed());
        let probe = format!("{INSTALLED}__policy tree:\n__policy   Installed: 2.1.0-1\n__policy   Candidate: 2.1.0-1\n");
        let (r, sent) = run(&Apt, json!({"name": "tree", "state": "latest"}), false, &[(0, &probe)]);
        assert!(!r.changed());
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn absent_removes_only_installed_ones() {
        let (r, sent) = run(&Apt, json!({"name": "tree,sl", "state": "absent", "purge": true}), false, &[(0, INSTALLED), (0, "Removing tree\n")]);
        assert!(r.changed());
        assert!(sent[1].ends_with("--purge remove -- tree"), "{}", sent[1]);
        let (r, sent) = run(&Apt, json!({"name": "sl", "state": "absent"}), false, &[(0, INSTALLED)]);
        assert!(!r.changed());
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn cache_valid_time_is_checked_in_the_probe() {
        let (r, sent) = run(&Apt, json!({"update_cache": true, "cache_valid_time": 3600}), false, &[(0, "__cache 1700000000\n")]);
        assert!(sent[0].contains("-gt 3600"));
        assert!(!r.changed());
        assert_eq!(r.0["cache_update_time"], 1700000000);
        let (r, _) = run(&Apt, json!({"update_cache": true}), false, &[(0, "__update Hit:1 http://deb.debian.org\n__updated\n__cache 1700000100\n")]);
        assert!(r.changed());
    }

    #[test]
    fn deb_file_is_installed_unless_that_version_is() {
        let probe = "__cache 1\n__deb tree 2.1.0-1\n__pkg tree install ok installed 2.1.0-1\n";
        let (r, sent) = run(&Apt, json!({"deb": "/tmp/tree.deb"}), false, &[(0, probe)]);
        assert!(sent[0].contains("dpkg-deb -W --showformat='${Package} ${Version}' /tmp/tree.deb"));
        assert!(!r.changed());
        let probe = "__cache 1\n__deb tree 2.2.0-1\n__pkg tree install ok installed 2.1.0-1\n";
        let (r, sent) = run(&Apt, json!({"deb": "tree.deb"}), false, &[(0, probe), (0, "")]);
        assert!(r.changed());
        assert!(sent[1].ends_with("install -- ./tree.deb"), "{}", sent[1]);
    }

    #[test]
    fn other_package_manager_fails_clearly() {
        let (r, _) = run(&Apt, json!({"name": "tree"}), false, &[(0, "__nodpkg dnf\n")]);
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().contains("package manager dnf is not supported yet"));
    }

    #[test]
    fn package_facts_parse() {
        let f = parse_package_facts("tree\t2.1.0-1\tamd64\tinstall ok installed\nold\t1\tall\tdeinstall ok config-files\n");
        assert_eq!(f["tree"], json!([{"name": "tree", "version": "2.1.0-1", "arch": "amd64", "source": "apt"}]));
        assert!(!f.contains_key("old"));
    }
}
