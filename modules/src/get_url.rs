//! `get_url`: download a file from HTTP(S) to the host, *on the host* (as Ansible does).
//!
//! Round trips: one describes `dest` (and its digest when `checksum` is given). A file
//! already there with `force: no` and no checksum, or with a matching checksum, is left
//! alone (attributes aside): that is the whole task. Otherwise a second round trip
//! downloads ([`crate::http`]: curl, else GNU wget, else python3) into a temporary file
//! beside `dest` (or in `tmp_dest`) and digests it; a third verifies nothing is left to
//! guess and renames it over `dest` only when the content differs ([`http::install`]).
//! `checksum: sha256:https://.../SHA256SUMS` costs one more round trip first.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::file::{add_path_info, attr_change, dirname, join};
use crate::http::{self, Follow, Request};
use crate::quote::quote;
use crate::uri::{response_filename, url_filename};
use crate::util::{resolve_mode, Attrs, PathState};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct GetUrl;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("url", ArgType::Str, "HTTP, HTTPS or FTP URL (`http://host/path`).").required(),
    ArgSpec::new("dest", ArgType::Path, "Where to save the file on the host. A directory: the name comes from Content-Disposition or the URL, and the file is downloaded every time (then compared).").required(),
    ArgSpec::new("checksum", ArgType::Str, "`ALGORITHM:HEX` (md5, sha1, sha224, sha256, sha384, sha512), or `ALGORITHM:URL` of a checksum file listing the file's name. A file already at `dest` with this digest is not downloaded again; a download with another digest fails.").default(""),
    ArgSpec::new("force", ArgType::Bool, "Download even when `dest` exists, and replace it when the content differs; `no`: only when `dest` is missing (or its checksum differs).").default("no").aliases(&["thirsty"]),
    ArgSpec::new("backup", ArgType::Bool, "Keep the replaced file as `dest.<timestamp>~`.").default("no"),
    ArgSpec::new("timeout", ArgType::Int, "Seconds the request may take.").default("10"),
    ArgSpec::new("headers", ArgType::Dict, "Request headers, as a dict."),
    ArgSpec::new("tmp_dest", ArgType::Path, "Directory for the temporary download (default: beside `dest`, so the final rename is atomic)."),
    ArgSpec::new("url_username", ArgType::Str, "User name for HTTP Basic authentication.").aliases(&["username"]),
    ArgSpec::new("url_password", ArgType::Str, "Password for HTTP Basic authentication (travels on stdin, never on a command line).").aliases(&["password"]),
    ArgSpec::new("force_basic_auth", ArgType::Bool, "Send credentials with the first request (they always are).").default("no"),
    ArgSpec::new("validate_certs", ArgType::Bool, "Check the server's TLS certificate.").default("yes"),
    ArgSpec::new("http_agent", ArgType::Str, "The User-Agent header.").default("ansible-httpget"),
    ArgSpec::new("client_cert", ArgType::Path, "A client certificate (PEM) on the host, for TLS client authentication."),
    ArgSpec::new("client_key", ArgType::Path, "The client certificate's private key on the host, when not in `client_cert`."),
    ArgSpec::new("decompress", ArgType::Bool, "Accepted for compatibility: the body is stored as the server sends it.").default("yes"),
    ArgSpec::new("use_netrc", ArgType::Bool, "Accepted for compatibility: `~/.netrc` is not read.").default("yes"),
    ArgSpec::new("use_proxy", ArgType::Bool, "Accepted for compatibility: the host's client uses its usual proxy environment.").default("yes"),
    ArgSpec::new("mode", ArgType::Raw, "Permissions of the file (octal or symbolic). Default: the replaced file's, or 0644."),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "get_url",
    short: "Downloads files from HTTP, HTTPS, or FTP to node",
    description: "Downloads a file on the host — with `curl` where installed, else GNU `wget`, else `python3` — into a \
temporary file beside `dest`, checks `checksum`, and renames it over `dest` only when the content differs. With \
`force: no` (the default) an existing `dest` is not downloaded again unless its checksum differs from `checksum`. \
Credentials and headers travel on stdin, never on a command line. Check mode downloads to a temporary file in /tmp \
(removed) only when it must compare contents; a missing `dest` is predicted as changed without a request.",
    args: ARGS,
    free_form: false,
    examples: "- name: Download a release, verified\n  ansible.builtin.get_url:\n    url: https://example.com/app-1.2.tar.gz\n    dest: /opt/app-1.2.tar.gz\n    checksum: sha256:b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c\n    mode: '0644'\n\n\
- name: Checksum from the project's SHA256SUMS\n  ansible.builtin.get_url:\n    url: https://example.com/app-1.2.tar.gz\n    dest: /opt/\n    checksum: sha256:https://example.com/SHA256SUMS\n\n\
- name: Always fetch the newest config\n  ansible.builtin.get_url:\n    url: http://config.internal/app.conf\n    dest: /etc/app.conf\n    force: yes\n    url_username: deploy\n    url_password: \"{{ vault_pw }}\"\n",
    returns: &[
        ("dest", "the file written"),
        ("url", "the URL asked for"),
        ("checksum_src", "SHA-1 of the downloaded file"),
        ("checksum_dest", "SHA-1 of `dest` before the download, when it existed"),
        ("md5sum", "MD5 of `dest` after the task"),
        ("size", "size in bytes"),
        ("status_code", "the HTTP status"),
        ("msg", "`OK (N bytes)`, `file already exists`, or the error"),
        ("elapsed", "seconds the download took"),
        ("src", "the temporary file downloaded to"),
        ("backup_file", "the backup's name, with `backup: yes` when a file was replaced"),
        ("mode, owner, group, uid, gid, state", "the file's attributes after the task"),
    ],
};

const TAG: &str = "__provision_get_url_91c4__";
const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// Ansible's `parse_digest_lines`: `HEX  name`, `HEX *name`, or one bare `HEX`.
fn digest_for(lines: &str, filename: &str) -> Option<String> {
    let lines: Vec<&str> = lines.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return Some(lines[0].to_string());
    }
    lines.iter().find_map(|l| {
        let mut f = l.split_whitespace();
        let (sum, name) = (f.next()?, f.next()?);
        let name = name.trim_start_matches('*');
        let name = name.strip_prefix("./").unwrap_or(name);
        (name == filename).then(|| sum.to_string())
    })
}

/// Strip what is not a word character and lowercase; must be hex.
fn clean_checksum(c: &str) -> Result<String, String> {
    let c: String = c.chars().filter(|ch| ch.is_alphanumeric() || *ch == '_').collect::<String>().to_lowercase();
    if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_hexdigit()) {
        return Err("The checksum format is invalid".into());
    }
    Ok(c)
}

/// What was found at `dest`.
#[derive(Debug, Default)]
struct Dest {
    is_dir: bool,
    file: Option<PathState>,
    digest: Option<String>,
    parent_exists: bool,
}

fn probe_script(dest: &str, algorithm: Option<&str>) -> String {
    let p = quote(dest);
    let digest = algorithm.map_or(String::new(), |a| format!("; echo \"{TAG} digest $({a}sum < \"$p\" | cut -d' ' -f1)\""));
    format!(
        "p={p}; if [ -d \"$p\" ]; then echo {TAG} dir; elif [ -e \"$p\" ]; then echo {TAG} file $(stat -L -c '%a %U %G %u %g %s' \"$p\"); \
echo \"{TAG} sha1 $(sha1sum < \"$p\" | cut -d' ' -f1)\"{digest}; else echo {TAG} absent; fi; \
if [ -d \"$(dirname -- \"$p\")\" ]; then echo {TAG} parent; fi"
    )
}

fn field(out: &str, key: &str) -> Option<String> {
    out.lines().find_map(|l| l.strip_prefix(&format!("{TAG} {key} "))).map(|v| v.trim().to_string())
}

fn parse_dest(out: &str) -> Result<Dest, String> {
    let mut d = Dest { parent_exists: out.lines().any(|l| l == format!("{TAG} parent")), ..Dest::default() };
    if out.lines().any(|l| l == format!("{TAG} dir")) {
        d.is_dir = true;
    } else if let Some(f) = field(out, "file") {
        let f: Vec<&str> = f.split_whitespace().collect();
        if f.len() < 6 {
            return Err(format!("unexpected answer from the host: {out}"));
        }
        d.file = Some(PathState {
            exists: true,
            kind: "file".into(),
            mode: format!("{:0>4}", f[0]),
            owner: f[1].into(),
            group: f[2].into(),
            uid: f[3].parse().unwrap_or(0),
            gid: f[4].parse().unwrap_or(0),
            size: f[5].parse().unwrap_or(0),
            checksum: field(out, "sha1"),
            ..PathState::default()
        });
        d.digest = field(out, "digest");
    } else if !out.lines().any(|l| l == format!("{TAG} absent")) {
        return Err(format!("unexpected answer from the host: {out}"));
    }
    Ok(d)
}

fn request(args: &Args, url: &str) -> Request {
    let headers = match args.get("headers") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect(),
        _ => vec![],
    };
    Request {
        url: url.to_string(),
        method: "GET".into(),
        headers,
        body: None,
        timeout: args.get("timeout").and_then(Value::as_i64).unwrap_or(10).max(1) as u64,
        // get_url has no follow_redirects: fetch_url's default (urllib2) follows all.
        follow: Follow::All,
        validate_certs: args.get("validate_certs").and_then(to_bool).unwrap_or(true),
        username: text(args, "url_username").filter(|u| !u.is_empty()),
        password: text(args, "url_password"),
        http_agent: text(args, "http_agent").unwrap_or_else(|| "ansible-httpget".into()),
        ca_path: None,
        client_cert: None,
        client_key: None,
        unix_socket: None,
    }
    .with_tls_args(args)
}

fn fail(r: &mut ModuleResult, msg: impl Into<String>) -> ModuleResult {
    r.set("failed", true);
    r.set("changed", false);
    r.set("msg", msg.into());
    r.clone()
}

#[async_trait]
impl Module for GetUrl {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let (Some(url), Some(dest)) = (text(args, "url").filter(|u| !u.is_empty()), text(args, "dest").filter(|d| !d.is_empty())) else {
            return Ok(ModuleResult::failed("url and dest are required"));
        };
        let force = args.get("force").and_then(to_bool).unwrap_or(false);
        let backup = args.get("backup").and_then(to_bool).unwrap_or(false);
        let attrs = Attrs::from_args(args);
        if let Some(m) = &attrs.mode {
            if let Err(e) = resolve_mode(m, 0, false, 0o022) {
                return Ok(ModuleResult::failed(e));
            }
        }
        let mut r = ModuleResult::ok(false);
        r.set("dest", dest.clone());
        r.set("url", http::mask_url(&url));
        r.set("checksum_src", Value::Null);
        r.set("checksum_dest", Value::Null);
        r.set("elapsed", 0);

        // checksum: ALGORITHM:HEX or ALGORITHM:URL.
        let checksum = text(args, "checksum").unwrap_or_default();
        let mut wanted: Option<(String, String)> = None;
        if !checksum.is_empty() {
            let Some((algorithm, value)) = checksum.split_once(':') else {
                return Ok(fail(&mut r, "The checksum parameter has to be in format <algorithm>:<checksum>"));
            };
            let algorithm = algorithm.trim().to_ascii_lowercase();
            if !ALGORITHMS.contains(&algorithm.as_str()) {
                return Ok(fail(&mut r, format!("Unsupported hash algorithm: {algorithm} (one of {})", ALGORITHMS.join(", "))));
            }
            let mut value = value.trim().to_string();
            if value.contains("://") {
                let (script, stdin) = http::request_script(&request(args, &value), "\"$d/o\"");
                let out = ctx.remote.exec(&format!("{script}; echo {TAG}body; cat \"$d/o\" 2>/dev/null; rm -rf \"$d\""), &stdin).await?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let (head, body) = text.split_once(&format!("{TAG}body\n")).unwrap_or((&text, ""));
                let resp = http::parse_response(head, &value);
                if resp.status != 200 {
                    return Ok(fail(&mut r, format!("Failed to fetch the checksum file {}: {}", http::mask_url(&value), resp.msg)));
                }
                let filename = url_filename(&url).unwrap_or_default();
                match digest_for(body, &filename) {
                    Some(d) => value = d,
                    None => return Ok(fail(&mut r, format!("Unable to find a checksum for file '{filename}' in '{}'", http::mask_url(&value)))),
                }
            }
            match clean_checksum(&value) {
                Ok(c) => wanted = Some((algorithm, c)),
                Err(e) => return Ok(fail(&mut r, e)),
            }
        }

        // Round trip 1: what is at dest.
        let out = ctx.remote.exec(&probe_script(&dest, wanted.as_ref().map(|(a, _)| a.as_str())), b"").await?;
        let found = match parse_dest(&String::from_utf8_lossy(&out.stdout)) {
            Ok(d) => d,
            Err(e) => return Ok(fail(&mut r, e)),
        };
        if let Some(st) = &found.file {
            let matches = match (&wanted, &found.digest) {
                (None, _) => true,
                (Some((_, w)), Some(have)) => w == have,
                _ => false,
            };
            if !force && matches {
                // Nothing to download: only attributes may change.
                let change = match attr_change(st, &attrs, 0o022) {
                    Ok(c) => c,
                    Err(e) => return Ok(fail(&mut r, e)),
                };
                let mut st = st.clone();
                if !change.is_empty() {
                    r.set("changed", true);
                    if !ctx.check_mode {
                        let cmds = change.commands(&quote(&dest)).join(" && ");
                        let out = ctx.remote.exec(&cmds, b"").await?;
                        if out.rc != 0 {
                            return Ok(fail(&mut r, format!("failed to set attributes on {dest}: {}", String::from_utf8_lossy(&out.stderr).trim())));
                        }
                    }
                    if let Some(m) = change.mode {
                        st.mode = format!("{m:04o}");
                    }
                    if let Some(o) = &change.owner {
                        st.owner = o.clone();
                    }
                    if let Some(g) = &change.group {
                        st.group = g.clone();
                    }
                }
                add_path_info(&mut r.0, &st, 1);
                r.set("msg", if change.is_empty() { "file already exists" } else { "file already exists but file attributes changed" });
                return Ok(r);
            }
        }
        if !found.is_dir && found.file.is_none() {
            if dest.ends_with('/') {
                return Ok(fail(&mut r, format!("Destination {} does not exist", dest.trim_end_matches('/'))));
            }
            if !found.parent_exists {
                return Ok(fail(&mut r, format!("Destination {} does not exist", dirname(&dest))));
            }
            if ctx.check_mode {
                r.set("changed", true);
                r.set("msg", "the file would be downloaded");
                return Ok(r);
            }
        }

        // Round trip 2: download into a temporary file and digest it.
        let tmp_dir = if ctx.check_mode {
            "${TMPDIR:-/tmp}".to_string()
        } else {
            match text(args, "tmp_dest").filter(|t| !t.is_empty()) {
                Some(t) => quote(&t),
                None if found.is_dir => quote(&dest),
                None => format!("\"$(dirname -- {})\"", quote(&dest)),
            }
        };
        let (fragment, stdin) = http::request_script(&request(args, &url), "\"$t\"");
        let digest = wanted.as_ref().map_or(String::new(), |(a, _)| format!("; echo \"{TAG} digest $({a}sum < \"$t\" | cut -d' ' -f1)\""));
        let mut script = format!(
            "t=$(mktemp {tmp_dir}/.provision-get_url.XXXXXXXX) || exit 1; echo \"{TAG} tmp $t\"; {fragment}; rm -rf \"$d\"; \
echo \"{TAG} sha1 $(sha1sum < \"$t\" | cut -d' ' -f1)\"; echo \"{TAG} size $(stat -c %s \"$t\")\"{digest}"
        );
        if ctx.check_mode {
            script.push_str("; rm -f \"$t\"");
        }
        let start = Instant::now();
        let out = ctx.remote.exec(&script, &stdin).await?;
        r.set("elapsed", start.elapsed().as_secs());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let Some(tmp) = field(&text, "tmp") else {
            return Ok(fail(&mut r, format!("cannot make a temporary file in {tmp_dir}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        };
        let resp = http::parse_response(&text, &url);
        let cleanup = |tmp: &str| format!("rm -f {}", quote(tmp));
        if resp.status != 200 {
            if !ctx.check_mode {
                ctx.remote.exec(&cleanup(&tmp), b"").await?;
            }
            if resp.status == 304 {
                r.set("msg", resp.msg.clone());
                r.set("status_code", 304);
                return Ok(r);
            }
            r.set("status_code", resp.status);
            r.set("response", resp.msg.clone());
            return Ok(fail(&mut r, resp.msg.clone()));
        }
        let sha1 = field(&text, "sha1");
        r.set("checksum_src", sha1.clone());
        r.set("src", tmp.clone());
        r.set("status_code", resp.status);
        let target = if found.is_dir { join(&dest, &response_filename(&resp, "index.html")) } else { dest.clone() };
        r.set("dest", target.clone());

        if ctx.check_mode {
            // Compare with what is at the target (for a directory dest, probe it now).
            let before = if found.is_dir {
                let out = ctx.remote.exec(&probe_script(&target, None), b"").await?;
                parse_dest(&String::from_utf8_lossy(&out.stdout)).ok().and_then(|d| d.file)
            } else {
                found.file.clone()
            };
            let differs = before.as_ref().and_then(|b| b.checksum.clone()) != sha1;
            if let Some(b) = &before {
                r.set("checksum_dest", b.checksum.clone());
            }
            let attrs_differ = before.as_ref().is_some_and(|b| attr_change(b, &attrs, 0o022).map(|c| !c.is_empty()).unwrap_or(true));
            r.set("changed", differs || attrs_differ);
            r.set("msg", resp.msg.clone());
            return Ok(r);
        }

        if let Some((_, w)) = &wanted {
            let got = field(&text, "digest").unwrap_or_default();
            if &got != w {
                ctx.remote.exec(&cleanup(&tmp), b"").await?;
                return Ok(fail(&mut r, format!("The checksum for {tmp} did not match {w}; it was {got}.")));
            }
        }
        if let Some(f) = &found.file {
            r.set("checksum_dest", f.checksum.clone());
        }
        // Round trip 3: rename into place unless the content is the same.
        let done = match http::install(ctx.remote, &tmp, &target, &attrs, backup).await? {
            Ok(d) => d,
            Err(e) => return Ok(fail(&mut r, e)),
        };
        r.set("changed", done.changed);
        if let Some(b) = done.backup {
            r.set("backup_file", b);
        }
        r.set("md5sum", done.md5);
        add_path_info(&mut r.0, &done.state, 1);
        r.set("msg", resp.msg.clone());
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::http::{INSTALL_TAG, TAG as H};
    use serde_json::json;

    const SHA: &str = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&GetUrl, a, &fake, check, false);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn file_answer(digest: Option<&str>) -> String {
        let mut s = format!("{TAG} file 644 root root 0 0 4\n{TAG} sha1 aaa\n");
        if let Some(d) = digest {
            s.push_str(&format!("{TAG} digest {d}\n"));
        }
        s.push_str(&format!("{TAG} parent\n"));
        s
    }

    fn download(status: i64, sha1: &str, digest: Option<&str>) -> String {
        let mut s = format!("{TAG} tmp /srv/.provision-get_url.X\n{H} via python3\n{H} status {status}\n{H} msg OK (4 bytes)\n{H} url http://h/f.txt\n{TAG} sha1 {sha1}\n{TAG} size 4\n");
        if let Some(d) = digest {
            s.push_str(&format!("{TAG} digest {d}\n"));
        }
        s
    }

    fn installed(how: &str) -> String {
        format!("{INSTALL_TAG} {how}\n{INSTALL_TAG} md5 m5\n{}", crate::util::probe_output(&[crate::file::tests::file("0644", "root", 0, 4)]))
    }

    #[test]
    fn an_existing_file_without_force_is_one_round_trip() {
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv/f.txt"}), &[&file_answer(None)], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(r.0["msg"], "file already exists");
        assert_eq!(r.0["mode"], "0644");
    }

    #[test]
    fn a_matching_checksum_is_one_round_trip() {
        let a = json!({"url": "http://h/f.txt", "dest": "/srv/f.txt", "checksum": format!("sha256:{}", SHA.to_uppercase())});
        let (r, sent) = run(a, &[&file_answer(Some(SHA))], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].0.contains("sha256sum < \"$p\""), "{}", sent[0].0);
    }

    #[test]
    fn a_different_checksum_downloads_verifies_and_installs() {
        let a = json!({"url": "http://h/f.txt", "dest": "/srv/f.txt", "checksum": format!("sha256:{SHA}"), "url_password": "pw", "url_username": "u"});
        let (r, sent) = run(a.clone(), &[&file_answer(Some("0000")), &download(200, "bbb", Some(SHA)), &installed("moved")], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 3);
        assert!(sent[1].0.starts_with("t=$(mktemp \"$(dirname -- /srv/f.txt)\"/.provision-get_url.XXXXXXXX)"), "{}", sent[1].0);
        assert!(!sent[1].0.contains("pw"), "the password must not be in the command");
        assert_eq!((r.0["checksum_src"].clone(), r.0["checksum_dest"].clone(), r.0["md5sum"].clone()), (json!("bbb"), json!("aaa"), json!("m5")));
        // A wanted mode goes on the temporary file before the rename: no extra round trip.
        let b = json!({"url": "http://h/f.txt", "dest": "/srv/f.txt", "mode": "0640", "owner": "root"});
        let installed640 = format!("{INSTALL_TAG} moved\n{}", crate::util::probe_output(&[crate::file::tests::file("0640", "root", 0, 4)]));
        let (r, sent) = run(b, &[&format!("{TAG} absent\n{TAG} parent\n"), &download(200, "bbb", None), &installed640], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 3);
        assert_eq!(r.0["mode"], "0640");
        assert!(sent[2].0.contains("{ chmod 0640 \"$t\" && chown root \"$t\" && :; } || { rm -f \"$t\"; exit 1; }; mv -f"), "{sent:?}");
        // The download does not match: fail, and remove the temporary file.
        let (r, sent) = run(a, &[&file_answer(Some("0000")), &download(200, "bbb", Some("1111")), ""], false);
        assert!(r.is_failed());
        assert_eq!(r.0["msg"], format!("The checksum for /srv/.provision-get_url.X did not match {SHA}; it was 1111."));
        assert_eq!(sent[2].0, "rm -f /srv/.provision-get_url.X");
    }

    #[test]
    fn missing_files_are_predicted_without_a_request() {
        let absent = format!("{TAG} absent\n{TAG} parent\n");
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv/f.txt"}), &[&absent], true);
        assert!(r.changed() && sent.len() == 1);
        let (r, _) = run(json!({"url": "http://h/f.txt", "dest": "/nope/f.txt"}), &[&format!("{TAG} absent\n")], false);
        assert_eq!(r.0["msg"], "Destination /nope does not exist");
        let (r, _) = run(json!({"url": "http://h/f.txt", "dest": "/srv/new/"}), &[&format!("{TAG} absent\n{TAG} parent\n")], false);
        assert_eq!(r.0["msg"], "Destination /srv/new does not exist");
    }

    #[test]
    fn force_downloads_and_keeps_the_same_content() {
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv/f.txt", "force": true}), &[&file_answer(None), &download(200, "aaa", None), &installed("same")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 3);
        // Check mode downloads to /tmp and compares.
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv/f.txt", "force": true}), &[&file_answer(None), &download(200, "bbb", None)], true);
        assert!(r.changed() && sent.len() == 2);
        assert!(sent[1].0.starts_with("t=$(mktemp ${TMPDIR:-/tmp}/") && sent[1].0.ends_with("; rm -f \"$t\""), "{}", sent[1].0);
    }

    #[test]
    fn http_errors_fail_with_the_status() {
        let absent = format!("{TAG} absent\n{TAG} parent\n");
        let dl = download(404, "", None).replace("OK (4 bytes)", "HTTP Error 404: File not found");
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv/f.txt"}), &[&absent, &dl, ""], false);
        assert!(r.is_failed());
        assert_eq!((r.0["status_code"].clone(), r.0["msg"].clone()), (json!(404), json!("HTTP Error 404: File not found")));
        assert_eq!(sent[2].0, "rm -f /srv/.provision-get_url.X");
    }

    #[test]
    fn a_directory_dest_takes_the_url_name() {
        let (r, sent) = run(json!({"url": "http://h/f.txt", "dest": "/srv"}), &[&format!("{TAG} dir\n{TAG} parent\n"), &download(200, "bbb", None), &installed("moved")], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(r.0["dest"], "/srv/f.txt");
        assert!(sent[2].0.starts_with("t=/srv/.provision-get_url.X; p=/srv/f.txt;"), "{}", sent[2].0);
    }

    #[test]
    fn checksum_files_parse() {
        assert_eq!(digest_for(&format!("{SHA}  f.txt\n1111 *other\n"), "f.txt").as_deref(), Some(SHA));
        assert_eq!(digest_for("1111 *./f.txt\n", "f.txt").as_deref(), Some("1111"));
        assert_eq!(digest_for("abcd\n", "f.txt").as_deref(), Some("abcd"));
        assert_eq!(digest_for("abcd x\n", "f.txt"), None);
        assert!(clean_checksum("zz").is_err());
        assert_eq!(clean_checksum("AB\u{200b}CD").unwrap(), "abcd");
    }
}
