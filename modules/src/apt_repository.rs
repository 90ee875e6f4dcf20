//! `apt_repository`: one-line apt sources (`deb [options] URI suite components`) in
//! `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`.
//!
//! One round trip reads every `.list` file (and the host's distribution); the lines are
//! parsed and normalized exactly as Ansible's `SourcesList` does, the line is added
//! (or re-enabled) or removed, and only the files whose normalized text changed are
//! written, atomically, in one script that also runs `apt-get update` when asked. A
//! failed cache update puts the old files back, as Ansible does.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::{mode_text, write_script_with, Attrs, Source};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct AptRepository;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("repo", ArgType::Str, "A source line: `deb [signed-by=/usr/share/keyrings/x.gpg] http://deb.example.org/debian bookworm main`. `ppa:` sources are not supported (Ubuntu/Launchpad only).").required(),
    ArgSpec::new("state", ArgType::Str, "`present` adds the line (or enables a commented-out copy of it); `absent` removes every enabled copy.").default("present").choices(&["absent", "present"]),
    ArgSpec::new("mode", ArgType::Raw, "The mode of a sources file the line is added to (default 0644 for a new file)."),
    ArgSpec::new("update_cache", ArgType::Bool, "Run `apt-get update` after a change.").default("yes").aliases(&["update-cache"]),
    ArgSpec::new("update_cache_retries", ArgType::Int, "How many times to try the cache update.").default("5"),
    ArgSpec::new("update_cache_retry_max_delay", ArgType::Int, "The longest wait between tries, in seconds (the wait doubles from 1 s).").default("12"),
    ArgSpec::new("filename", ArgType::Str, "The sources file's name under /etc/apt/sources.list.d, without `.list`. Default: derived from the URI (`deb.debian.org/debian` → `deb_debian_org_debian.list`)."),
    ArgSpec::new("codename", ArgType::Str, "The distribution codename for `ppa:` sources (which are not supported here); accepted and ignored."),
    ArgSpec::new("install_python_apt", ArgType::Bool, "Accepted and ignored: provision needs no python3-apt on the host.").default("yes"),
    ArgSpec::new("validate_certs", ArgType::Bool, "Accepted and ignored (only PPA key downloads use it in Ansible).").default("yes"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "apt_repository",
    short: "Add and remove APT repositories",
    description: "Adds or removes a one-line APT source in /etc/apt/sources.list.d/FILENAME.list (or wherever the line already is). \
Lines are compared as Ansible does: whitespace-normalized, `#`-commented copies count as disabled and are re-enabled rather than \
duplicated; removing deletes every enabled copy, and a file left empty is deleted. Only the files that change are written \
(atomically). After a change `apt-get update` runs (with retries) unless `update_cache=no`; if it fails the old files are put back. \
No python3-apt is needed on the host. `ppa:` sources fail: they are Ubuntu-only and need Launchpad; use a `deb` line with `signed-by` \
or `deb822_repository` instead. Check and diff modes are supported; nothing to change is one round trip.",
    args: ARGS,
    free_form: false,
    examples: "- name: Debian backports\n  ansible.builtin.apt_repository:\n    repo: deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n    filename: backports\n\n\
- name: Remove it again\n  ansible.builtin.apt_repository:\n    repo: deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n    state: absent\n",
    returns: &[
        ("repo", "the source line as given"),
        ("state", "`present` or `absent`"),
        ("sources_added", "the sources files created"),
        ("sources_removed", "the sources files deleted"),
        ("diff", "with `--diff`: one entry per changed file (`before`, `after`, `before_header`, `after_header`)"),
    ],
};

const TAG: &str = "__provision_aptrepo_9d3b__";
const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const VALID_TYPES: [&str; 2] = ["deb", "deb-src"];

/// One line of a sources file, parsed as Ansible's `SourcesList._parse`.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

fn parse_line(line: &str) -> Line {
    let mut line = line.trim().to_string();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest.to_string();
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_string();
        line.truncate(i);
    }
    let mut source = line.trim().to_string();
    let mut valid = false;
    if !source.is_empty() {
        let chunks: Vec<&str> = source.split_whitespace().collect();
        if VALID_TYPES.contains(&chunks[0]) {
            valid = true;
            source = chunks.join(" ");
        }
    }
    Line { valid, enabled, source, comment }
}

fn dump_line(l: &Line) -> String {
    let mut s = String::new();
    if !l.enabled {
        s.push_str("# ");
    }
    s.push_str(&l.source);
    if !l.comment.is_empty() {
        s.push_str(" # ");
        s.push_str(&l.comment);
    }
    s.push('\n');
    s
}

fn dump(lines: &[Line]) -> String {
    lines.iter().map(dump_line).collect()
}

/// Ansible's `_suggest_filename`: the URI's host and path with every run of
/// non-alphanumerics turned into one `_`, plus `.list`.
pub(crate) fn suggest_filename(source: &str) -> String {
    let no_opts = regex::Regex::new(r"\[[^\]]+\]").expect("valid regex").replace_all(source, "");
    let no_proto = regex::Regex::new(r"\w+://").expect("valid regex").replace_all(&no_opts, "").into_owned();
    let parts: Vec<&str> = no_proto.split_whitespace().filter(|p| !VALID_TYPES.contains(p)).collect();
    let first = parts.first().copied().unwrap_or("");
    let first = first.split_once('@').map(|(_, h)| h).unwrap_or(first);
    let cleaned: String = first.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    format!("{}.list", cleaned.split_whitespace().collect::<Vec<_>>().join("_"))
}

fn read_script() -> String {
    format!(
        "[ -f /etc/os-release ] && . /etc/os-release; echo \"{TAG} os ${{ID:-}} ${{VERSION_CODENAME:-}}\"; \
for f in {SOURCES_LIST} {SOURCES_DIR}/*.list; do [ -f \"$f\" ] || continue; echo \"{TAG} file $f\"; \
if [ -L \"$f\" ]; then echo \"{TAG} link $(readlink -f \"$f\")\"; fi; sed 's/^/{TAG} l /' \"$f\"; done"
    )
}

/// The sources files found: path → (lines, the link target if it is a symlink).
type Files = BTreeMap<String, (Vec<Line>, Option<String>)>;

fn parse_host(out: &str) -> (String, Files) {
    let mut os = String::new();
    let mut files: Files = BTreeMap::new();
    let mut cur: Option<String> = None;
    let p = format!("{TAG} ");
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(&p) else { continue };
        if let Some(f) = rest.strip_prefix("file ") {
            files.insert(f.to_string(), (vec![], None));
            cur = Some(f.to_string());
        } else if let Some(t) = rest.strip_prefix("link ") {
            if let Some(e) = cur.as_ref().and_then(|c| files.get_mut(c)) {
                e.1 = Some(t.to_string());
            }
        } else if let Some(l) = rest.strip_prefix("l ").or(if rest == "l" { Some("") } else { None }) {
            if let Some(e) = cur.as_ref().and_then(|c| files.get_mut(c)) {
                e.0.push(parse_line(l));
            }
        } else if let Some(o) = rest.strip_prefix("os ") {
            os = o.trim().to_string();
        }
    }
    (os, files)
}

/// Apply the change to the parsed files; returns the files the line was added to.
fn apply(files: &mut Files, source: &str, present: bool, file: &str) -> Vec<String> {
    let mut added_to = vec![];
    let mut found = false;
    for (_, (lines, _)) in files.iter_mut() {
        if present {
            for l in lines.iter_mut().filter(|l| l.valid && l.source == source) {
                l.enabled = true;
                found = true;
            }
        } else {
            lines.retain(|l| !(l.valid && l.enabled && l.source == source));
        }
    }
    if present && !found {
        let e = files.entry(file.to_string()).or_insert_with(|| (vec![], None));
        e.0.push(Line { valid: true, enabled: true, source: source.to_string(), comment: String::new() });
        added_to.push(file.to_string());
    }
    added_to
}

fn dumps(files: &Files) -> BTreeMap<String, String> {
    files.iter().filter(|(_, (l, _))| !l.is_empty()).map(|(f, (l, _))| (f.clone(), dump(l))).collect()
}

/// A subshell that writes `content` to `path` atomically (keeping an existing file's mode).
pub(crate) fn write_file_cmd(path: &str, content: &str, mode: Option<&str>) -> String {
    let attrs = Attrs { mode: mode.map(str::to_string), ..Attrs::default() };
    let script = write_script_with(path, &attrs, false, Source::Command(&format!("printf '%s' {}", quote(content))), "");
    format!("( {script} )")
}

fn update_cmd(retries: i64, max_delay: i64) -> String {
    format!(
        "n=0; while :; do o=$(apt-get update -q 2>&1); rc=$?; if [ $rc = 0 ] && ! printf '%s\\n' \"$o\" | grep -q -e '^E:' -e '^W: Failed to fetch'; then break; fi; \
n=$((n+1)); if [ $n -ge {retries} ]; then echo \"{TAG} updatefail\"; printf '%s\\n' \"$o\" | grep -e '^E:' -e '^W:' | tail -n 5; exit 0; fi; \
d=$((1 << (n-1))); [ $d -gt {max_delay} ] && d={max_delay}; sleep $d; done; echo \"{TAG} updated\""
    )
}

#[async_trait]
impl Module for AptRepository {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let repo = text(args, "repo").unwrap_or_default();
        if repo.trim().is_empty() {
            return Ok(ModuleResult::failed("Please set argument 'repo' to a non-empty value"));
        }
        let present = text(args, "state").as_deref() != Some("absent");
        let out = ctx.remote.exec(&read_script(), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot read the apt sources: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let (os, mut files) = parse_host(&String::from_utf8_lossy(&out.stdout));
        if repo.trim_start().starts_with("ppa:") {
            let distro = os.split_whitespace().next().unwrap_or("unknown");
            return Ok(ModuleResult::failed(if distro == "ubuntu" {
                format!("PPA sources ({repo}) are not supported by provision (they need Launchpad's API for the signing key): add the PPA's `deb` line with `signed-by` and its key (apt_key with `keyring`) instead")
            } else {
                format!("PPA sources ({repo}) are for Ubuntu only (Launchpad); this host runs {distro}: use a `deb` line with `signed-by`, or deb822_repository")
            }));
        }
        let parsed = parse_line(&repo);
        if !parsed.valid || !parsed.enabled {
            return Ok(ModuleResult::failed(format!("Invalid repository string: {}", repo.trim())));
        }
        let source = parsed.source;
        let file = match text(args, "filename").filter(|f| !f.is_empty()) {
            Some(f) if f.contains('/') => format!("{f}.list"),
            Some(f) => format!("{SOURCES_DIR}/{f}.list"),
            None => format!("{SOURCES_DIR}/{}", suggest_filename(&source)),
        };
        let before = dumps(&files);
        let targets: BTreeMap<String, Option<String>> = files.iter().map(|(f, (_, t))| (f.clone(), t.clone())).collect();
        let added_to = apply(&mut files, &source, present, &file);
        let after = dumps(&files);
        let changed = before != after;
        let added: Vec<String> = after.keys().filter(|k| !before.contains_key(*k)).cloned().collect();
        let removed: Vec<String> = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
        let mut r = ModuleResult::ok(changed);
        r.set("repo", repo.clone()).set("state", if present { "present" } else { "absent" });
        r.set("sources_added", added.clone()).set("sources_removed", removed.clone());
        let changed_files: Vec<&String> = before.keys().chain(after.keys().filter(|k| !before.contains_key(*k))).filter(|f| before.get(*f) != after.get(*f)).collect();
        let mut diff = vec![];
        if ctx.diff {
            for f in &changed_files {
                diff.push(json!({
                    "before": before.get(*f).cloned().unwrap_or_default(),
                    "after": after.get(*f).cloned().unwrap_or_default(),
                    "before_header": if before.contains_key(*f) { f.as_str() } else { "/dev/null" },
                    "after_header": if after.contains_key(*f) { f.as_str() } else { "/dev/null" },
                }));
            }
        }
        r.set("diff", Value::Array(diff));
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let mode = args.get("mode").and_then(mode_text);
        let real = |f: &str| targets.get(f).cloned().flatten().unwrap_or_else(|| f.to_string());
        let mut cmds = vec![];
        let mut revert = vec![];
        for f in &changed_files {
            match (before.get(*f), after.get(*f)) {
                (_, Some(text)) => {
                    let m = if added_to.contains(f) { Some(mode.clone().unwrap_or_else(|| "0644".into())) } else { None };
                    // An existing file keeps its mode unless the line was added to it with `mode`.
                    let m = if before.contains_key(*f) && mode.is_none() { None } else { m };
                    cmds.push(format!("mkdir -p {} && {}", quote(SOURCES_DIR), write_file_cmd(&real(f), text, m.as_deref())));
                }
                (_, None) => cmds.push(format!("rm -f {}", quote(f))),
            }
            revert.push(match before.get(*f) {
                Some(text) => write_file_cmd(&real(f), text, None),
                None => format!("rm -f {}", quote(f)),
            });
        }
        let mut script = cmds.join(" && ");
        let update = args.get("update_cache").and_then(Value::as_bool).unwrap_or(true);
        if update {
            let retries = args.get("update_cache_retries").and_then(Value::as_i64).unwrap_or(5).max(1);
            let max_delay = args.get("update_cache_retry_max_delay").and_then(Value::as_i64).unwrap_or(12).max(0);
            script = format!("{script} || exit 1; {}", update_cmd(retries, max_delay));
        }
        let out = ctx.remote.exec(&script, b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot write the apt sources: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        if stdout.contains(&format!("{TAG} updatefail")) {
            let err: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(TAG)).collect();
            let _ = ctx.remote.exec(&revert.join("; "), b"").await?;
            let retries = args.get("update_cache_retries").and_then(Value::as_i64).unwrap_or(5).max(1);
            return Ok(ModuleResult::failed(format!(
                "Failed to update apt cache after {retries} retries: {} (the sources were put back as they were)",
                if err.is_empty() { "unknown reason".to_string() } else { err.join("; ") }
            )));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};

    const LINE: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main";

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&AptRepository, a, &fake, check, true);
        (r, fake.commands())
    }

    fn host(files: &[(&str, &str)]) -> String {
        let mut s = format!("{TAG} os debian bookworm\n");
        for (f, content) in files {
            s.push_str(&format!("{TAG} file {f}\n"));
            for l in content.lines() {
                s.push_str(&format!("{TAG} l {l}\n"));
            }
        }
        s
    }

    #[test]
    fn filenames_follow_ansible() {
        assert_eq!(suggest_filename(LINE), "deb_debian_org_debian.list");
        assert_eq!(suggest_filename("deb https://user:pw@artifacts.elastic.co/packages/6.x/apt stable main"), "artifacts_elastic_co_packages_6_x_apt.list");
        assert_eq!(suggest_filename("deb-src [arch=amd64] http://ppa.launchpad.net/x/y/ubuntu focal main"), "ppa_launchpad_net_x_y_ubuntu.list");
    }

    #[test]
    fn lines_parse_and_dump_as_ansible() {
        let l = parse_line("  #deb   http://a/b  stable main   # the comment ");
        assert_eq!(l, Line { valid: true, enabled: false, source: "deb http://a/b stable main".into(), comment: "the comment".into() });
        assert_eq!(dump_line(&l), "# deb http://a/b stable main # the comment\n");
        assert!(!parse_line("# just words").valid);
    }

    #[test]
    fn adding_writes_a_new_file_and_updates_the_cache() {
        let (r, sent) = run(json!({"repo": LINE}), &[&host(&[("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\n")]), &format!("{TAG} updated\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["sources_added"], json!(["/etc/apt/sources.list.d/deb_debian_org_debian.list"]));
        assert_eq!(r.0["diff"][0]["after"], format!("{LINE}\n"));
        assert_eq!(sent.len(), 2);
        assert!(sent[1].contains(&format!("printf '%s' '{LINE}\n' >\"$t\"")), "{}", sent[1]);
        assert!(sent[1].contains("chmod 0644 \"$t\""), "{}", sent[1]);
        assert!(sent[1].contains("apt-get update -q"));
    }

    #[test]
    fn present_is_one_round_trip_and_check_mode_writes_nothing() {
        let h = host(&[("/etc/apt/sources.list.d/backports.list", &format!("{}\n", LINE.replace(' ', "  ")))]);
        let (r, sent) = run(json!({"repo": LINE, "filename": "backports"}), &[&h], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        let (r, sent) = run(json!({"repo": LINE, "filename": "backports", "update_cache": false}), &[&host(&[])], true);
        assert!(r.changed() && sent.len() == 1);
        assert_eq!(r.0["sources_added"], json!(["/etc/apt/sources.list.d/backports.list"]));
    }

    #[test]
    fn a_disabled_copy_is_enabled() {
        let h = host(&[("/etc/apt/sources.list", &format!("deb http://x/ bookworm main\n#{LINE}\n"))]);
        let (r, sent) = run(json!({"repo": LINE, "update_cache": false}), &[&h, ""], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(r.0["sources_added"], json!([]));
        assert!(sent[1].contains(&format!("'deb http://x/ bookworm main\n{LINE}\n'")), "{}", sent[1]);
        assert!(!sent[1].contains("fi && chmod"), "an existing file keeps its mode: {}", sent[1]);
    }

    #[test]
    fn absent_removes_the_line_and_an_emptied_file() {
        let h = host(&[("/etc/apt/sources.list.d/b.list", &format!("{LINE}\n")), ("/etc/apt/sources.list.d/c.list", &format!("deb http://c/ x y\n{LINE}\n"))]);
        let (r, sent) = run(json!({"repo": LINE, "state": "absent", "update_cache": false}), &[&h, ""], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(r.0["sources_removed"], json!(["/etc/apt/sources.list.d/b.list"]));
        assert!(sent[1].contains("rm -f /etc/apt/sources.list.d/b.list"));
        assert!(sent[1].contains("printf '%s' 'deb http://c/ x y\n' >\"$t\""), "{}", sent[1]);
        let (r, sent) = run(json!({"repo": LINE, "state": "absent"}), &[&host(&[])], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn a_failed_update_puts_the_files_back() {
        let (r, sent) = run(json!({"repo": LINE}), &[&host(&[]), &format!("{TAG} updatefail\nE: The repository is not signed.\n"), ""], false);
        assert!(r.is_failed(), "{r:?}");
        assert!(r.0["msg"].as_str().unwrap().contains("E: The repository is not signed."));
        assert_eq!(sent[2], "rm -f /etc/apt/sources.list.d/deb_debian_org_debian.list");
    }

    #[test]
    fn ppa_and_bad_lines_fail_clearly() {
        let (r, _) = run(json!({"repo": "ppa:deadsnakes/ppa"}), &[&host(&[])], false);
        assert!(r.0["msg"].as_str().unwrap().contains("for Ubuntu only"), "{r:?}");
        let (r, _) = run(json!({"repo": "http://x/ y z"}), &[&host(&[])], false);
        assert_eq!(r.0["msg"], "Invalid repository string: http://x/ y z");
    }
}
