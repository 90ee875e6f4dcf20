//! `deb822_repository`: an apt source in deb822 form, /etc/apt/sources.list.d/NAME.sources.
//!
//! The file's text is built here exactly as Ansible's module dumps it (fields in the
//! order of the argument names, booleans as yes/no, lists space-separated, an inline
//! key as an indented multi-line field). One round trip reads the current file (and,
//! for a `signed_by` URL, downloads the key on the host with curl, wget or python3 and
//! compares it with /etc/apt/keyrings/NAME.asc|gpg); a change is one more script.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::apt_repository::write_file_cmd;
use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::mode_text;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Deb822Repository;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "The repository's name: the file is /etc/apt/sources.list.d/SLUG.sources (SLUG: lower case, runs of `_`/space → `-`, other characters dropped), written as `X-Repolib-Name`.").required(),
    ArgSpec::new("types", ArgType::List, "`deb` and/or `deb-src`.").default("deb"),
    ArgSpec::new("uris", ArgType::List, "The repository URIs."),
    ArgSpec::new("suites", ArgType::List, "Suites (`bookworm`, `bookworm-backports`), or an exact path ending in `/`."),
    ArgSpec::new("components", ArgType::List, "Components (`main contrib`)."),
    ArgSpec::new("signed_by", ArgType::Str, "The key: a path on the host, an ASCII-armored key (written inline into `Signed-By`), or a URL, downloaded on the host to /etc/apt/keyrings/SLUG.asc (armored) or .gpg."),
    ArgSpec::new("architectures", ArgType::List, "Architectures (`amd64`, `arm64`)."),
    ArgSpec::new("enabled", ArgType::Bool, "`Enabled: yes|no`."),
    ArgSpec::new("trusted", ArgType::Bool, "`Trusted: yes|no` (skip signature checks: avoid)."),
    ArgSpec::new("allow_insecure", ArgType::Bool, "`Allow-Insecure`."),
    ArgSpec::new("allow_weak", ArgType::Bool, "`Allow-Weak`."),
    ArgSpec::new("allow_downgrade_to_insecure", ArgType::Bool, "`Allow-Downgrade-To-Insecure`."),
    ArgSpec::new("by_hash", ArgType::Bool, "`By-Hash`."),
    ArgSpec::new("check_date", ArgType::Bool, "`Check-Date`."),
    ArgSpec::new("check_valid_until", ArgType::Bool, "`Check-Valid-Until`."),
    ArgSpec::new("date_max_future", ArgType::Int, "`Date-Max-Future`, in seconds."),
    ArgSpec::new("inrelease_path", ArgType::Str, "`Inrelease-Path`."),
    ArgSpec::new("languages", ArgType::List, "`Languages`."),
    ArgSpec::new("pdiffs", ArgType::Bool, "`Pdiffs`."),
    ArgSpec::new("targets", ArgType::List, "`Targets`."),
    ArgSpec::new("mode", ArgType::Raw, "The mode of the .sources file (default `0644`)."),
    ArgSpec::new("state", ArgType::Str, "`absent` deletes the file and a downloaded key.").default("present").choices(&["absent", "present"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "deb822_repository",
    short: "Add and remove deb822 formatted repositories",
    description: "Writes an apt source in deb822 format to /etc/apt/sources.list.d/SLUG.sources, with the same text Ansible writes. \
`signed_by` may be a path, an inline ASCII-armored key, or a URL (downloaded on the host with curl, wget or python3 into \
/etc/apt/keyrings/SLUG.asc or .gpg, mode 0644). The apt cache is not updated (as in Ansible: add an `apt: update_cache=yes` task). \
No python3-debian is needed on the host. Check and diff modes are supported; nothing to change is one round trip.",
    args: ARGS,
    free_form: false,
    examples: "- name: Debian backports\n  ansible.builtin.deb822_repository:\n    name: backports\n    uris: http://deb.debian.org/debian\n    suites: bookworm-backports\n    components: main\n    signed_by: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    returns: &[
        ("repo", "the text of the .sources file (null with state=absent)"),
        ("dest", "the path of the .sources file"),
        ("key_filename", "the key file named in Signed-By, when `signed_by` was a path or a URL"),
    ],
};

const TAG: &str = "__provision_deb822_61fa__";
const KEYRINGS: &str = "/etc/apt/keyrings";

/// Ansible's slug: lower case, runs of `_` and whitespace → `-`, all else but [a-z0-9-] dropped.
fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let dashed = regex::Regex::new(r"[_\s]+").expect("valid regex").replace_all(&lower, "-").into_owned();
    dashed.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect()
}

/// The field name Ansible writes for an argument.
fn field_name(k: &str) -> String {
    match k {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        _ => k.split('_').map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()).unwrap_or_default()
        }).collect::<Vec<_>>().join("-"),
    }
}

fn format_multiline(v: &str) -> String {
    let body: Vec<String> = v.trim().lines().map(|l| {
        let t = l.trim();
        format!("    {}", if t.is_empty() { "." } else { t })
    }).collect();
    format!("\n{}", body.join("\n"))
}

fn is_url(v: &str) -> bool {
    regex::Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://").expect("valid regex").is_match(v)
}

/// The .sources text, given the value to write for `signed_by`.
fn render(args: &Args, signed_by: Option<&str>) -> String {
    let mut keys: Vec<&str> = ARGS.iter().map(|a| a.name).filter(|k| !matches!(*k, "mode" | "state")).collect();
    keys.sort_unstable();
    let mut out = String::new();
    for k in keys {
        let value = match (k, args.get(k)) {
            ("signed_by", _) => match signed_by {
                Some(s) => s.to_string(),
                None => continue,
            },
            (_, None | Some(Value::Null)) => continue,
            (_, Some(Value::Bool(b))) => if *b { "yes".into() } else { "no".into() },
            (_, Some(Value::Array(a))) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>().join(" "),
            (_, Some(Value::String(s))) => s.clone(),
            (_, Some(other)) => other.to_string(),
        };
        let value = if value.contains('\n') { format_multiline(&value) } else { value };
        if value.is_empty() || value.starts_with('\n') {
            out.push_str(&format!("{}:{value}\n", field_name(k)));
        } else {
            out.push_str(&format!("{}: {value}\n", field_name(k)));
        }
    }
    out
}

fn download(url: &str) -> String {
    let u = quote(url);
    format!(
        "if command -v curl >/dev/null 2>&1; then curl -fsSL {u}; elif command -v wget >/dev/null 2>&1; then wget -qO- {u}; \
elif command -v python3 >/dev/null 2>&1; then python3 -c 'import sys,urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' {u}; \
else echo 'no curl, wget or python3 on the host to download the key' >&2; exit 127; fi"
    )
}

#[async_trait]
impl Module for Deb822Repository {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let name = text(args, "name").unwrap_or_default();
        let slug = slug(&name);
        if slug.is_empty() {
            return Ok(ModuleResult::failed(format!("name {name:?} gives an empty file name")));
        }
        let dest = format!("/etc/apt/sources.list.d/{slug}.sources");
        let (asc, gpg) = (format!("{KEYRINGS}/{slug}.asc"), format!("{KEYRINGS}/{slug}.gpg"));
        let present = text(args, "state").as_deref() != Some("absent");
        let mode = args.get("mode").and_then(mode_text).unwrap_or_else(|| "0644".into());
        let signed_by = text(args, "signed_by").filter(|s| !s.is_empty());
        let url = signed_by.clone().filter(|s| is_url(s) && !s.contains('\n'));

        // The read: the file, its mode, the downloaded keys; for a URL the key fetched now.
        let mut script = format!(
            "d={}; if [ -f \"$d\" ]; then echo \"{TAG} mode $(stat -c %a \"$d\")\"; echo {TAG} content; base64 < \"$d\"; echo; echo {TAG} end; fi; \
for k in {} {}; do if [ -f \"$k\" ]; then echo \"{TAG} key $k $(stat -c %a \"$k\") $(sha1sum < \"$k\" | cut -d' ' -f1)\"; fi; done",
            quote(&dest),
            quote(&asc),
            quote(&gpg)
        );
        if let (true, Some(u)) = (present, &url) {
            script.push_str(&format!("; k=$({} | base64 -w0); echo \"{TAG} fetched $? $k\"", download(u)));
        }
        let out = ctx.remote.exec(&script, b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let cur_mode = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} mode "))).map(|m| format!("{:0>4}", m.trim()));
        let current = match (stdout.find(&format!("{TAG} content\n")), stdout.find(&format!("{TAG} end"))) {
            (Some(a), Some(b)) if b > a => Some(crate::fetch::base64_decode(&stdout[a + TAG.len() + 9..b]).map_err(RemoteError::Other)?),
            _ => None,
        };
        let keys: Vec<(String, String, String)> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{TAG} key ")))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3).then(|| (f[0].to_string(), format!("{:0>4}", f[1]), f[2].to_string()))
            })
            .collect();

        let mut r = ModuleResult::ok(false);
        r.set("dest", dest.clone());
        if !present {
            let mut cmds: Vec<String> = vec![];
            if current.is_some() {
                cmds.push(format!("rm -f {}", quote(&dest)));
            }
            for (k, _, _) in &keys {
                cmds.push(format!("rm -f {}", quote(k)));
            }
            r.set("repo", Value::Null).set("key_filename", keys.last().map(|k| k.0.clone()).unwrap_or(gpg));
            r.set("changed", !cmds.is_empty());
            if ctx.diff && current.is_some() {
                r.set("diff", json!({"before": String::from_utf8_lossy(current.as_deref().unwrap_or_default()), "after": "", "before_header": dest, "after_header": "/dev/null"}));
            }
            if !cmds.is_empty() && !ctx.check_mode {
                let out = ctx.remote.exec(&cmds.join(" && "), b"").await?;
                if out.rc != 0 {
                    return Ok(ModuleResult::failed(format!("cannot remove {dest}: {}", String::from_utf8_lossy(&out.stderr).trim())));
                }
            }
            return Ok(r);
        }

        // signed_by: a URL → a key file of ours; text with newlines → inline; else a path.
        let mut key_write: Option<(String, Vec<u8>)> = None;
        let (signed_value, key_filename) = match (&signed_by, &url) {
            (Some(_), Some(u)) => {
                let fetched = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} fetched "))).unwrap_or("1");
                let (rc, b64) = fetched.split_once(' ').unwrap_or((fetched, ""));
                let data = crate::fetch::base64_decode(b64).unwrap_or_default();
                if rc.trim() != "0" || data.is_empty() {
                    return Ok(ModuleResult::failed(format!("Could not fetch signed_by key: {u}: {}", String::from_utf8_lossy(&out.stderr).trim())));
                }
                let armored = data.windows(36).any(|w| w == b"-----BEGIN PGP PUBLIC KEY BLOCK-----");
                let file = if armored { asc.clone() } else { gpg.clone() };
                let sum = crate::util::sha1_hex(&data);
                if !keys.iter().any(|(k, m, s)| *k == file && *s == sum && m == "0644") {
                    key_write = Some((file.clone(), data));
                }
                (Some(file.clone()), Some(file))
            }
            (Some(s), None) if s.contains('\n') || s.contains("-----BEGIN PGP") => (Some(s.clone()), None),
            (Some(s), None) => (Some(s.clone()), Some(s.clone())),
            (None, _) => (None, None),
        };
        let repo = render(args, signed_value.as_deref());
        let content_changed = current.as_deref() != Some(repo.as_bytes());
        let mode_changed = cur_mode.as_deref() != Some(mode.as_str()) && !content_changed;
        let changed = content_changed || mode_changed || key_write.is_some();
        r.set("changed", changed).set("repo", repo.clone()).set("key_filename", key_filename.map(Value::from).unwrap_or(Value::Null));
        if ctx.diff && content_changed {
            r.set("diff", json!({
                "before": String::from_utf8_lossy(current.as_deref().unwrap_or_default()),
                "after": repo,
                "before_header": if current.is_some() { dest.as_str() } else { "/dev/null" },
                "after_header": dest,
            }));
        }
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let mut cmds = vec![];
        if let Some((file, data)) = &key_write {
            // The key's text travels base64-encoded in the script (it may be binary).
            let b64 = crate::fetch::base64_encode(data);
            cmds.push(format!(
                "mkdir -p {KEYRINGS} && chmod 0755 {KEYRINGS} && t=$(mktemp {KEYRINGS}/.provision.XXXXXXXX) && printf '%s' {} | base64 -d > \"$t\" && chmod 0644 \"$t\" && mv -f \"$t\" {}",
                quote(&b64),
                quote(file)
            ));
        }
        if content_changed {
            cmds.push(write_file_cmd(&dest, &repo, Some(&mode)));
        } else if mode_changed {
            cmds.push(format!("chmod {} {}", quote(&mode), quote(&dest)));
        }
        let out = ctx.remote.exec(&cmds.join(" && "), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot write {dest}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&Deb822Repository, a, &fake, check, true);
        (r, fake.commands())
    }

    fn backports() -> Value {
        json!({"name": "Debian Backports", "uris": "http://deb.debian.org/debian", "suites": ["bookworm-backports"], "components": "main", "signed_by": "/usr/share/keyrings/debian-archive-keyring.gpg"})
    }

    const TEXT: &str = "Components: main\nX-Repolib-Name: Debian Backports\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\nSuites: bookworm-backports\nTypes: deb\nURIs: http://deb.debian.org/debian\n";

    fn on_host(content: &str, mode: &str) -> String {
        format!("{TAG} mode {mode}\n{TAG} content\n{}\n{TAG} end\n", crate::fetch::base64_encode(content.as_bytes()))
    }

    #[test]
    fn names_and_fields_follow_ansible() {
        assert_eq!(slug("Debian Backports_2 (x)"), "debian-backports-2-x");
        assert_eq!(field_name("allow_downgrade_to_insecure"), "Allow-Downgrade-To-Insecure");
        assert_eq!(field_name("inrelease_path"), "Inrelease-Path");
        assert_eq!(format_multiline("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"), "\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----");
    }

    #[test]
    fn writes_the_file_then_is_one_round_trip() {
        let (r, sent) = run(backports(), &["", ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["repo"], TEXT);
        assert_eq!(r.0["dest"], "/etc/apt/sources.list.d/debian-backports.sources");
        assert_eq!(r.0["key_filename"], "/usr/share/keyrings/debian-archive-keyring.gpg");
        assert!(sent[1].contains("chmod 0644 \"$t\""), "{}", sent[1]);
        let (r, sent) = run(backports(), &[&on_host(TEXT, "644")], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        let (r, sent) = run(backports(), &[&on_host(TEXT, "600"), ""], false);
        assert!(r.changed() && sent[1] == "chmod 0644 /etc/apt/sources.list.d/debian-backports.sources", "{sent:?}");
    }

    #[test]
    fn check_mode_predicts() {
        let (r, sent) = run(backports(), &[""], true);
        assert!(r.changed() && sent.len() == 1);
        assert_eq!(r.0["diff"]["after"], TEXT);
    }

    #[test]
    fn an_inline_key_is_a_multiline_field() {
        let mut a = backports();
        a["signed_by"] = json!("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEYCQjIxYJ\n=IE0r\n-----END PGP PUBLIC KEY BLOCK-----\n");
        a["enabled"] = json!(false);
        let (r, _) = run(a, &["", ""], false);
        assert_eq!(
            r.0["repo"],
            "Components: main\nEnabled: no\nX-Repolib-Name: Debian Backports\nSigned-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    mDMEYCQjIxYJ\n    =IE0r\n    -----END PGP PUBLIC KEY BLOCK-----\nSuites: bookworm-backports\nTypes: deb\nURIs: http://deb.debian.org/debian\n"
        );
        assert_eq!(r.0["key_filename"], Value::Null);
    }

    #[test]
    fn a_key_url_is_downloaded_on_the_host() {
        let mut a = backports();
        a["signed_by"] = json!("https://example.com/key.asc");
        let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n";
        let answer = format!("{TAG} fetched 0 {}\n", crate::fetch::base64_encode(key.as_bytes()));
        let (r, sent) = run(a.clone(), &[&answer, ""], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[0].contains("curl -fsSL https://example.com/key.asc"), "{}", sent[0]);
        assert_eq!(r.0["key_filename"], "/etc/apt/keyrings/debian-backports.asc");
        assert!(r.0["repo"].as_str().unwrap().contains("Signed-By: /etc/apt/keyrings/debian-backports.asc\n"));
        assert!(sent[1].contains("base64 -d > \"$t\" && chmod 0644 \"$t\" && mv -f \"$t\" /etc/apt/keyrings/debian-backports.asc"), "{}", sent[1]);
        let (r, _) = run(a, &[&format!("{TAG} fetched 6 \n")], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().starts_with("Could not fetch signed_by key"), "{r:?}");
    }

    #[test]
    fn absent_removes_file_and_keys() {
        let answer = format!("{}{TAG} key /etc/apt/keyrings/debian-backports.asc 644 abc\n", on_host(TEXT, "644"));
        let (r, sent) = run(json!({"name": "Debian Backports", "state": "absent"}), &[&answer, ""], false);
        assert!(r.changed(), "{r:?}");
        assert_eq!(sent[1], "rm -f /etc/apt/sources.list.d/debian-backports.sources && rm -f /etc/apt/keyrings/debian-backports.asc");
        let (r, sent) = run(json!({"name": "Debian Backports", "state": "absent"}), &[""], false);
        assert!(!r.changed() && sent.len() == 1);
    }
}
