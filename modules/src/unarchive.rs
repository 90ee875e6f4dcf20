//! `unarchive`: unpack a tar or zip archive into a directory on the host.
//!
//! One remote command does everything: the archive (read here when it is on the
//! control machine) goes on its stdin; the script checks `creates` and `dest`, compares
//! the archive with `dest` (`tar --compare`, or for zip: every member exists), and
//! extracts only when they differ.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{util, Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Unarchive;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("src", ArgType::Path, "The archive: on the control machine, or on the host with `remote_src`. URLs are not supported.").required(),
    ArgSpec::new("dest", ArgType::Path, "The existing directory on the host to unpack into.").required(),
    ArgSpec::new("remote_src", ArgType::Bool, "`src` is already on the host.").default("no"),
    ArgSpec::new("creates", ArgType::Path, "If this path exists on the host, do nothing."),
    ArgSpec::new("extra_opts", ArgType::List, "More options for `tar -x` or `unzip` (a list)."),
    ArgSpec::new("list_files", ArgType::Bool, "Return the archive's members as `files`.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "unarchive",
    short: "Unpacks an archive after (optionally) copying it from the local machine",
    description: "Unpacks a `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz` (with `tar`) or `.zip` (with `unzip`, which \
must be installed) archive into `dest`, which must exist. The format comes from the file name. Idempotent: a tar archive is \
compared with `dest` (`tar --compare`: content, size, mode, owner and time of each member) and a zip archive's members must all \
exist; only a difference extracts. `creates` skips everything when the path exists. One round trip, the archive on its stdin. \
Check mode is supported. Not supported: URLs, `owner`/`group`/`mode`, `exclude`, `keep_newer`.",
    args: ARGS,
    free_form: false,
    examples: "- name: Unpack a release\n  ansible.builtin.unarchive:\n    src: files/app-1.2.tar.gz\n    dest: /opt/app\n\n\
- name: Unpack an archive already on the host, once\n  ansible.builtin.unarchive:\n    src: /tmp/data.zip\n    dest: /srv/data\n    remote_src: yes\n    creates: /srv/data/README\n",
    returns: &[
        ("dest", "the directory"),
        ("src", "the archive"),
        ("handler", "`TgzArchive` or `ZipArchive`"),
        ("files", "with `list_files`: the archive's members"),
        ("extract_results", "when extracted: `cmd`, `rc`, `out`, `err`"),
    ],
};

const TAG: &str = "__provision_unarchive_e83c__";

/// The `tar` compression flag for a file name, or `None` for zip; `Err` when unknown.
fn format_of(src: &str) -> Result<Option<&'static str>, String> {
    let s = src.to_ascii_lowercase();
    Ok(Some(if s.ends_with(".tar.gz") || s.ends_with(".tgz") {
        "z"
    } else if s.ends_with(".tar.bz2") || s.ends_with(".tbz2") || s.ends_with(".tbz") {
        "j"
    } else if s.ends_with(".tar.xz") || s.ends_with(".txz") {
        "J"
    } else if s.ends_with(".tar") {
        ""
    } else if s.ends_with(".zip") {
        return Ok(None);
    } else {
        return Err(format!("Failed to find handler for \"{src}\". Make sure the required command to extract the file is installed (supported: .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .zip)."));
    }))
}

struct Plan<'a> {
    src: Option<&'a str>,
    dest: &'a str,
    creates: Option<&'a str>,
    tar: Option<&'static str>,
    extra: &'a [String],
    list: bool,
    check: bool,
}

fn script(p: &Plan) -> String {
    let mut s = String::new();
    match p.src {
        // The archive comes on stdin.
        None => s.push_str(&format!("a=$(mktemp) || exit 1; trap 'rm -f \"$a\"' EXIT; cat > \"$a\"; ")),
        Some(src) => s.push_str(&format!("a={}; ", quote(src))),
    }
    s.push_str(&format!("d={}; ", quote(p.dest)));
    if let Some(c) = p.creates {
        s.push_str(&format!("if [ -e {} ]; then echo {TAG} skipped; exit 0; fi; ", quote(c)));
    }
    s.push_str(&format!("[ -d \"$d\" ] || {{ echo {TAG} nodest; exit 0; }}; "));
    if p.src.is_some() {
        s.push_str(&format!("[ -f \"$a\" ] || {{ echo {TAG} nosrc; exit 0; }}; "));
    }
    let extra: String = p.extra.iter().map(|e| format!(" {}", quote(e))).collect();
    let (list, compare, extract) = match p.tar {
        Some(z) => (
            format!("tar -t{z}f \"$a\""),
            format!("(cd \"$d\" && tar -d{z}f \"$a\") >/dev/null 2>&1"),
            format!("tar -x{z}f \"$a\" -C \"$d\"{extra}"),
        ),
        None => {
            s.push_str(&format!("command -v unzip >/dev/null 2>&1 || {{ echo {TAG} nounzip; exit 0; }}; "));
            (
                "unzip -Z1 \"$a\"".to_string(),
                "unzip -Z1 \"$a\" > /dev/null 2>&1 && unzip -Z1 \"$a\" | { while IFS= read -r f; do [ -e \"$d/$f\" ] || exit 1; done; }".to_string(),
                format!("unzip -o{extra} \"$a\" -d \"$d\""),
            )
        }
    };
    if p.list {
        s.push_str(&format!("echo {TAG} list; {list} 2>/dev/null; echo {TAG} endlist; "));
    }
    s.push_str(&format!("if {compare}; then echo {TAG} same; exit 0; fi; "));
    if p.check {
        s.push_str(&format!("echo {TAG} differ; exit 0"));
    } else {
        s.push_str(&format!("o=$({extract} 2>&1); echo {TAG} extracted $?; printf '%s\\n' \"$o\""));
    }
    s
}

#[async_trait]
impl Module for Unarchive {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let (Some(src), Some(dest)) = (text(args, "src").filter(|s| !s.is_empty()), text(args, "dest").filter(|s| !s.is_empty())) else {
            return Ok(ModuleResult::failed("src and dest are required for module `unarchive`"));
        };
        if src.contains("://") {
            return Ok(ModuleResult::failed(format!("downloading {src} is not supported by provision's unarchive: fetch it with get_url first")));
        }
        let remote_src = args.get("remote_src").and_then(to_bool).unwrap_or(false);
        let list = args.get("list_files").and_then(to_bool).unwrap_or(false);
        let extra: Vec<String> = match args.get("extra_opts") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
            Some(Value::String(s)) if !s.trim().is_empty() && s.trim() != "[]" => shlex::split(s).unwrap_or_else(|| vec![s.clone()]),
            _ => vec![],
        };
        let tar = match format_of(&src) {
            Ok(t) => t,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let dest = util::expand_home(ctx.remote, &dest).await?;
        let creates = match text(args, "creates").filter(|c| !c.is_empty()) {
            Some(c) => Some(util::expand_home(ctx.remote, &c).await?),
            None => None,
        };
        let (remote_path, data) = if remote_src {
            (Some(util::expand_home(ctx.remote, &src).await?), vec![])
        } else {
            match std::fs::read(&src) {
                Ok(d) => (None, d),
                Err(e) => return Ok(ModuleResult::failed(format!("Source '{src}' failed to transfer: cannot read it on the control machine: {e}"))),
            }
        };
        let plan = Plan { src: remote_path.as_deref(), dest: &dest, creates: creates.as_deref(), tar, extra: &extra, list, check: ctx.check_mode };
        let cmd = script(&plan);
        let out = ctx.remote.exec(&cmd, &data).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut status = "";
        let mut files = vec![];
        let mut in_list = false;
        let mut rest = String::new();
        for line in stdout.lines() {
            match line.strip_prefix(&format!("{TAG} ")) {
                Some("list") => in_list = true,
                Some("endlist") => in_list = false,
                Some(s) if status.is_empty() => status = s,
                _ if in_list => files.push(Value::String(line.to_string())),
                _ => {
                    rest.push_str(line);
                    rest.push('\n');
                }
            }
        }
        let handler = if tar.is_some() { "TgzArchive" } else { "ZipArchive" };
        let mut r = ModuleResult::ok(false);
        r.set("dest", dest.clone()).set("src", src.clone()).set("handler", handler);
        if list {
            r.set("files", files);
        }
        let (word, code) = status.split_once(' ').unwrap_or((status, ""));
        match word {
            "skipped" => {
                let mut r = ModuleResult::ok(false);
                r.set("skipped", true).set("msg", format!("skipped, since {} exists", creates.unwrap_or_default()));
                Ok(r)
            }
            "nodest" => Ok(ModuleResult::failed(format!("dest '{dest}' must be an existing dir"))),
            "nosrc" => Ok(ModuleResult::failed(format!("Source '{src}' does not exist"))),
            "nounzip" => Ok(ModuleResult::failed(format!("Failed to find handler for \"{src}\": unzip is not installed on the host (install the `unzip` package)"))),
            "same" => Ok(r),
            "differ" => {
                r.set("changed", true);
                Ok(r)
            }
            "extracted" => {
                let rc: i64 = code.trim().parse().unwrap_or(-1);
                r.set("changed", true);
                r.set("extract_results", json!({"cmd": cmd_text(tar, &extra), "rc": rc, "out": rest.trim_end(), "err": ""}));
                if rc != 0 {
                    r.set("failed", true).set("msg", format!("failed to unpack {src} to {dest}: {}", rest.trim_end()));
                }
                Ok(r)
            }
            _ => Ok(ModuleResult::failed(format!(
                "unarchive failed (rc={}): {}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}

fn cmd_text(tar: Option<&str>, extra: &[String]) -> Vec<String> {
    let mut c: Vec<String> = match tar {
        Some(z) => vec!["tar".into(), format!("-x{z}f")],
        None => vec!["unzip".into(), "-o".into()],
    };
    c.extend(extra.iter().cloned());
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&Unarchive, a, &fake, check, false);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    struct Archive(std::path::PathBuf);
    impl Drop for Archive {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn archive() -> (Archive, String) {
        let dir = std::env::temp_dir().join(format!("provision-unarchive-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.tar.gz");
        std::fs::write(&p, b"ARCHIVE").unwrap();
        let s = p.display().to_string();
        (Archive(dir), s)
    }

    #[test]
    fn a_controller_archive_goes_on_stdin_once() {
        let (_d, src) = archive();
        let (r, sent) = run(json!({"src": src, "dest": "/opt/my app"}), &[&format!("{TAG} same\n")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, b"ARCHIVE");
        assert!(sent[0].0.contains("cat > \"$a\""), "{}", sent[0].0);
        assert!(sent[0].0.contains("d='/opt/my app'"), "{}", sent[0].0);
        assert!(sent[0].0.contains("tar -dzf \"$a\""), "{}", sent[0].0);
        let (r, sent) = run(json!({"src": src, "dest": "/opt"}), &[&format!("{TAG} differ\n")], true);
        assert!(r.changed() && sent.len() == 1 && !sent[0].0.contains("tar -x"));
        let (r, sent) = run(json!({"src": src, "dest": "/opt", "extra_opts": ["--strip-components=1"]}), &[&format!("{TAG} extracted 0\n")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[0].0.contains("tar -xzf \"$a\" -C \"$d\" --strip-components=1"), "{}", sent[0].0);
    }

    #[test]
    fn creates_and_missing_dest() {
        let (r, sent) = run(json!({"src": "/srv/a.tar", "remote_src": true, "dest": "/opt", "creates": "/opt/x"}), &[&format!("{TAG} skipped\n")], false);
        assert!(!r.changed() && !r.is_failed());
        assert!(sent[0].0.starts_with("a=/srv/a.tar; d=/opt; if [ -e /opt/x ]"), "{}", sent[0].0);
        assert!(sent[0].1.is_empty());
        let (r, _) = run(json!({"src": "/srv/a.tar", "remote_src": true, "dest": "/nope"}), &[&format!("{TAG} nodest\n")], false);
        assert_eq!(r.0["msg"], "dest '/nope' must be an existing dir");
    }

    #[test]
    fn zip_needs_unzip_and_lists_files() {
        let (r, sent) = run(json!({"src": "/srv/a.zip", "remote_src": true, "dest": "/opt"}), &[&format!("{TAG} nounzip\n")], false);
        assert!(sent[0].0.contains("command -v unzip"));
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("unzip"));
        let (r, _) = run(
            json!({"src": "/srv/a.tar.xz", "remote_src": true, "dest": "/opt", "list_files": true}),
            &[&format!("{TAG} list\na/\na/b\n{TAG} endlist\n{TAG} same\n")],
            false,
        );
        assert_eq!(r.0["files"], json!(["a/", "a/b"]));
        let (r, sent) = run(json!({"src": "/srv/a.rar", "remote_src": true, "dest": "/opt"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
    }
}
