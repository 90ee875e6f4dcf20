//! `fetch`: copy a file from the host to the control machine.
//!
//! The module runs in the controller process, so the local side is plain `std::fs`.
//! When the local path is known up front (`flat`, or `_inventory_hostname` given) it is
//! one round trip: the host prints the file's SHA-1 and sends the content (base64) only
//! when it differs from the local copy's. Otherwise the host's own name is asked first.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{util, Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Fetch;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("src", ArgType::Path, "The file on the host to fetch. Must be a file, not a directory.").required(),
    ArgSpec::new(
        "dest",
        ArgType::Path,
        "A directory on the control machine to save the file into: the file lands in `dest/<hostname>/<src>` unless `flat`.",
    )
    .required(),
    ArgSpec::new("fail_on_missing", ArgType::Bool, "Fail when the source file is missing or unreadable.").default("yes"),
    ArgSpec::new("validate_checksum", ArgType::Bool, "Check that the received content has the host file's SHA-1.").default("yes"),
    ArgSpec::new(
        "flat",
        ArgType::Bool,
        "Save to `dest` itself (or `dest/<basename of src>` when `dest` ends with `/`) instead of under the host name.",
    )
    .default("no"),
    ArgSpec::new(
        "_inventory_hostname",
        ArgType::Str,
        "Internal: the inventory name of the host, for the `dest/<hostname>/` layout (else the name the host reports).",
    ),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "fetch",
    short: "Fetch files from remote nodes",
    description: "Copies a file from the host to the control machine, into `dest/<hostname>/<src>` (or exactly `dest` with \
`flat: yes`). Skips the transfer when the local copy already has the host file's SHA-1. Relative `dest` paths are \
taken from the controller's working directory.",
    args: ARGS,
    free_form: false,
    examples: "- name: Collect each host's sshd_config under ./fetched/<host>/etc/ssh/sshd_config\n  ansible.builtin.fetch:\n    src: /etc/ssh/sshd_config\n    dest: fetched\n\n\
- name: Save one file under a fixed name\n  ansible.builtin.fetch:\n    src: /tmp/report.txt\n    dest: /srv/reports/{{ inventory_hostname }}.txt\n    flat: yes\n",
    returns: &[
        ("changed", "whether the local file was written (or would be)"),
        ("checksum", "SHA-1 of the local file after the fetch"),
        ("remote_checksum", "SHA-1 of the host's file"),
        ("dest", "the local path"),
        ("md5sum", "MD5 of the file, where the host has `md5sum`"),
        ("file", "the source path, when it was missing and `fail_on_missing` is off"),
    ],
};

const TAG: &str = "__provision_fetch_7a1d__";

/// Status line, then (when `send` says so) the content in base64. `local_sum` is the
/// local copy's SHA-1 (empty when there is none or it is not known yet).
fn script(src: &str, local_sum: Option<&str>) -> String {
    let mut s = format!(
        "p={}; echo \"{TAG} host $(hostname 2>/dev/null || uname -n)\"; if [ ! -e \"$p\" ]; then echo {TAG} absent; exit 0; fi; \
if [ -d \"$p\" ]; then echo {TAG} dir; exit 0; fi; if [ ! -r \"$p\" ]; then echo {TAG} unreadable; exit 0; fi; \
s=$(sha1sum < \"$p\" | cut -d' ' -f1); echo \"{TAG} sum $s\"; \
if command -v md5sum >/dev/null 2>&1; then echo \"{TAG} md5 $(md5sum < \"$p\" | cut -d' ' -f1)\"; fi",
        quote(src)
    );
    if let Some(sum) = local_sum {
        s.push_str(&format!("; if [ \"$s\" != {} ]; then echo {TAG} content; base64 < \"$p\"; fi", quote(sum)));
    }
    s
}

/// Encode bytes as standard base64 (with padding, no line breaks).
pub(crate) fn base64_encode(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard base64, ignoring whitespace.
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return Err(format!("invalid base64 character {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Ansible's local path: `dest` (flat; `dest/<basename>` when it ends with `/`), or
/// `dest/<host>/<src>` normalized.
fn local_path(dest: &str, src: &str, host: &str, flat: bool) -> PathBuf {
    let dest = match dest.strip_prefix("~/") {
        Some(rest) => std::env::var("HOME").map(|h| format!("{h}/{rest}")).unwrap_or_else(|_| dest.to_string()),
        None => dest.to_string(),
    };
    if flat {
        if dest.ends_with('/') {
            let base = src.rsplit('/').next().unwrap_or(src);
            return PathBuf::from(format!("{dest}{base}"));
        }
        return PathBuf::from(dest);
    }
    let mut p = PathBuf::from(dest.trim_end_matches('/'));
    p.push(host);
    for part in src.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if part == ".." {
            p.pop();
        } else {
            p.push(part);
        }
    }
    p
}

fn local_sum(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| util::sha1_hex(&b))
}

struct Answer {
    host: String,
    status: String,
    sum: Option<String>,
    md5: Option<String>,
    content: Option<String>,
}

fn parse(out: &str) -> Answer {
    let mut a = Answer { host: String::new(), status: "ok".into(), sum: None, md5: None, content: None };
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        let Some(rest) = l.strip_prefix(TAG).map(|r| r.trim_start()) else { continue };
        let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
        match key {
            "host" => a.host = value.trim().to_string(),
            "sum" => a.sum = Some(value.trim().to_string()),
            "md5" => a.md5 = Some(value.trim().to_string()),
            "content" => {
                a.content = Some(lines.by_ref().collect::<Vec<_>>().join(""));
                break;
            }
            other => a.status = other.to_string(),
        }
    }
    a
}

#[async_trait]
impl Module for Fetch {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let (Some(src), Some(dest)) = (text(args, "src").filter(|s| !s.is_empty()), text(args, "dest").filter(|s| !s.is_empty())) else {
            return Ok(ModuleResult::failed("src and dest are required"));
        };
        let flag = |k: &str, d: bool| args.get(k).and_then(to_bool).unwrap_or(d);
        let (flat, fail_on_missing, validate) = (flag("flat", false), flag("fail_on_missing", true), flag("validate_checksum", true));
        let src = util::expand_home(ctx.remote, &src).await?;
        let inventory_host = text(args, "_inventory_hostname").filter(|h| !h.is_empty());
        // The local path up front when it can be known: then one round trip.
        let known = if flat { Some(local_path(&dest, &src, "", true)) } else { inventory_host.as_ref().map(|h| local_path(&dest, &src, h, false)) };
        let first_sum = known.as_deref().map(|p| local_sum(p).unwrap_or_default());
        let out = ctx.remote.exec(&script(&src, first_sum.as_deref()), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot read {src}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let mut a = parse(&String::from_utf8_lossy(&out.stdout));
        let missing = match a.status.as_str() {
            "absent" => Some("the remote file does not exist, not transferring, ignored"),
            "unreadable" => Some("file is not readable, not transferring, ignored"),
            "dir" if fail_on_missing => Some("remote file is a directory, fetch cannot work on directories"),
            "dir" => Some("remote file is a directory, fetch cannot work on directories, not transferring, ignored"),
            _ => None,
        };
        if let Some(msg) = missing {
            if fail_on_missing {
                let mut r = ModuleResult::failed(msg);
                r.set("file", Value::String(src));
                return Ok(r);
            }
            let mut r = ModuleResult::ok(false);
            r.set("msg", msg).set("file", Value::String(src));
            return Ok(r);
        }
        let Some(remote_sum) = a.sum.clone() else {
            return Ok(ModuleResult::failed(format!("unexpected answer from the host: {}", String::from_utf8_lossy(&out.stdout).trim())));
        };
        let path = match known {
            Some(p) => p,
            None => local_path(&dest, &src, if a.host.is_empty() { "localhost" } else { &a.host }, false),
        };
        let current = local_sum(&path);
        let mut r = ModuleResult::ok(false);
        r.set("dest", path.to_string_lossy().to_string()).set("remote_checksum", remote_sum.clone());
        if let Some(m) = &a.md5 {
            r.set("md5sum", m.clone());
        }
        if current.as_deref() == Some(remote_sum.as_str()) {
            r.set("checksum", remote_sum).set("file", Value::String(src));
            return Ok(r);
        }
        r.set("changed", true);
        if ctx.check_mode {
            r.set("checksum", remote_sum);
            return Ok(r);
        }
        if a.content.is_none() {
            // The local path was not known in the first round trip: ask for the content now.
            let out = ctx.remote.exec(&script(&src, Some("")), b"").await?;
            a = parse(&String::from_utf8_lossy(&out.stdout));
        }
        let Some(encoded) = a.content else {
            return Ok(ModuleResult::failed(format!("no content received for {src}")));
        };
        let data = match base64_decode(&encoded) {
            Ok(d) => d,
            Err(e) => return Ok(ModuleResult::failed(format!("cannot decode the content of {src}: {e}"))),
        };
        let sum = util::sha1_hex(&data);
        if validate && sum != remote_sum {
            let mut r = ModuleResult::failed("checksum mismatch");
            r.set("checksum", sum).set("remote_checksum", remote_sum);
            return Ok(r);
        }
        let written = (|| -> std::io::Result<()> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let tmp = path.with_file_name(format!(".{}.provision-tmp", path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()));
            std::fs::write(&tmp, &data)?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            return Ok(ModuleResult::failed(format!("cannot write {}: {e}", path.display())));
        }
        r.set("checksum", sum);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::json;

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&Fetch, a, &fake, check, false);
        (r, fake.commands())
    }

    const HELLO_SUM: &str = "f572d396fae9206628714fb2ce00f72e94f2258f"; // "hello\n"

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("aGVsbG8K").unwrap(), b"hello\n");
        assert_eq!(base64_decode("YQ==\n").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("a*b").is_err());
        for t in [&b""[..], b"a", b"ab", b"abc", b"hello\n", &[0xff, 0x00, 0x99, 0x10]] {
            assert_eq!(base64_decode(&base64_encode(t)).unwrap(), t);
        }
        assert_eq!(base64_encode(b"hello\n"), "aGVsbG8K");
        assert_eq!(base64_encode(b"a"), "YQ==");
    }

    #[test]
    fn local_layout_is_ansibles() {
        assert_eq!(local_path("out", "/etc/ssh/sshd_config", "h1", false), PathBuf::from("out/h1/etc/ssh/sshd_config"));
        assert_eq!(local_path("out/", "/etc/hosts", "", true), PathBuf::from("out/hosts"));
        assert_eq!(local_path("out/x.txt", "/etc/hosts", "", true), PathBuf::from("out/x.txt"));
    }

    #[test]
    fn fetches_then_skips_an_identical_copy() {
        let dir = std::env::temp_dir().join(format!("provision-fetch-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dest = dir.to_string_lossy().to_string();
        let a = json!({"src": "/etc/greeting", "dest": dest, "_inventory_hostname": "web1"});
        let answer = format!("{TAG} host box\n{TAG} sum {HELLO_SUM}\n{TAG} md5 b1946ac92492d2347c6235b4d2611184\n{TAG} content\naGVsbG8K\n");
        // Check mode: changed, nothing written.
        let (r, sent) = run(a.clone(), &[&answer], true);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        let local = dir.join("web1/etc/greeting");
        assert!(!local.exists());
        // For real: one round trip, the file is written.
        let (r, sent) = run(a.clone(), &[&answer], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("if [ \"$s\" != '' ]; then"), "{}", sent[0]);
        assert_eq!(std::fs::read(&local).unwrap(), b"hello\n");
        assert_eq!(r.0["checksum"], HELLO_SUM);
        assert_eq!(r.0["md5sum"], "b1946ac92492d2347c6235b4d2611184");
        // Again: the host is told the local sum, sends nothing, nothing changes.
        let (r, sent) = run(a, &[&format!("{TAG} host box\n{TAG} sum {HELLO_SUM}\n")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[0].contains(HELLO_SUM), "{}", sent[0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_an_inventory_name_the_host_name_is_used() {
        let dir = std::env::temp_dir().join(format!("provision-fetch-unit2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = json!({"src": "/g", "dest": dir.to_string_lossy()});
        let first = format!("{TAG} host box\n{TAG} sum {HELLO_SUM}\n");
        let second = format!("{TAG} host box\n{TAG} sum {HELLO_SUM}\n{TAG} content\naGVsbG8K\n");
        let (r, sent) = run(a, &[&first, &second], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 2);
        assert_eq!(std::fs::read(dir.join("box/g")).unwrap(), b"hello\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_and_bad_checksums() {
        let (r, _) = run(json!({"src": "/nope", "dest": "/tmp/x", "flat": true}), &[&format!("{TAG} host b\n{TAG} absent\n")], false);
        assert!(r.is_failed());
        let (r, _) = run(json!({"src": "/nope", "dest": "/tmp/x", "flat": true, "fail_on_missing": false}), &[&format!("{TAG} host b\n{TAG} absent\n")], false);
        assert!(!r.is_failed() && !r.changed());
        let bad = format!("{TAG} host b\n{TAG} sum 0000\n{TAG} content\naGVsbG8K\n");
        let (r, _) = run(json!({"src": "/g", "dest": "/nonexistent-provision/x", "flat": true}), &[&bad], false);
        assert!(r.is_failed());
        assert_eq!(r.0["msg"], "checksum mismatch");
        let (r, sent) = run(json!({"src": "/g"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
    }
}
