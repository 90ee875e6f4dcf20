//! `apt_key`: an OpenPGP key apt trusts.
//!
//! With `keyring` (the modern way) the key is kept in that file, and apt sources name
//! it with `signed-by`: provision reads the keyring and the key, finds their
//! fingerprints itself (OpenPGP packets parsed here, ASCII armor decoded here, so the
//! host needs no gpg), and writes a binary keyring atomically: exactly the bytes
//! `gpg --dearmor` would write. A keyring named `*.asc` keeps the armored text instead.
//! Without `keyring` the deprecated `apt-key` is used where the host still has it.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{text, ArgSpec, ArgType};
use crate::fetch::{base64_decode, base64_encode};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct AptKey;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("id", ArgType::Str, "The key's id: its fingerprint, or the last 16 or 8 hex digits of it. Required with `keyserver` and for `state=absent`."),
    ArgSpec::new("data", ArgType::Str, "The key itself (ASCII-armored text)."),
    ArgSpec::new("file", ArgType::Path, "A key file on the host (armored or binary)."),
    ArgSpec::new("url", ArgType::Str, "A URL to download the key from, on the host (curl, wget or python3)."),
    ArgSpec::new("keyring", ArgType::Path, "The keyring file to keep the key in (`/etc/apt/keyrings/NAME.gpg`), named by the source's `signed-by`. Without it the deprecated `apt-key` is used."),
    ArgSpec::new("keyserver", ArgType::Str, "A keyserver to receive the key `id` from (needs gpg on the host, and the keyserver reachable)."),
    ArgSpec::new("validate_certs", ArgType::Bool, "Check the TLS certificate of `url`.").default("yes"),
    ArgSpec::new("state", ArgType::Str, "Whether the key is in the keyring.").default("present").choices(&["absent", "present"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "apt_key",
    short: "Add or remove an apt key",
    description: "Adds or removes an OpenPGP key apt trusts. With `keyring` the key is kept in that file: the key's fingerprints \
are read by provision itself (no gpg needed on the host), armored keys are decoded to a binary keyring (the bytes `gpg --dearmor` \
writes; a keyring named `*.asc` keeps the armored text), and a key is appended to an existing binary keyring. Point the source at \
it with `signed-by=KEYRING`. Without `keyring`, `apt-key` is used where the host still has it (it is gone from Debian 13 and \
Ubuntu 24.04: give `keyring` there). The task is idempotent by key id: a keyring that already holds the key is left alone, in one \
round trip. Check mode is supported.",
    args: ARGS,
    free_form: false,
    examples: "- name: The example repository's key, in its own keyring\n  ansible.builtin.apt_key:\n    url: https://download.example.com/key.asc\n    keyring: /etc/apt/keyrings/example.gpg\n\n\
- name: From a file on the host, checked against its id\n  ansible.builtin.apt_key:\n    file: /root/example.asc\n    id: 0123456789ABCDEF0123456789ABCDEF01234567\n    keyring: /etc/apt/keyrings/example.gpg\n",
    returns: &[
        ("id", "the key id given, or the fingerprint found in the key"),
        ("fp", "the key's fingerprint (as far as known)"),
        ("key_id", "the long key id (last 16 hex digits)"),
        ("short_id", "the short key id (last 8 hex digits)"),
        ("before", "the fingerprints in the keyring before"),
        ("after", "the fingerprints in the keyring after a change"),
        ("keyring", "the keyring file written (with `keyring`)"),
    ],
};

const TAG: &str = "__provision_aptkey_20c7__";
const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

// ---- OpenPGP: armor and packets -------------------------------------------------

/// Whether `data` is ASCII-armored.
pub(crate) fn is_armored(data: &[u8]) -> bool {
    data.windows(ARMOR_BEGIN.len()).any(|w| w == ARMOR_BEGIN.as_bytes())
}

/// The binary packets of every armored public-key block in `text` (what `gpg --dearmor` writes).
pub(crate) fn dearmor(data: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(data);
    let mut out = vec![];
    let mut rest = text.as_ref();
    let mut blocks = 0;
    while let Some(start) = rest.find(ARMOR_BEGIN) {
        let after = &rest[start + ARMOR_BEGIN.len()..];
        let end = after.find("-----END PGP PUBLIC KEY BLOCK-----").ok_or("armored key without its END line")?;
        let mut body = String::new();
        let mut in_headers = true;
        for line in after[..end].lines().skip(1) {
            let l = line.trim();
            if in_headers {
                // Armor headers (`Version: ...`) end at the first empty line; a block without
                // headers starts right away.
                if l.is_empty() {
                    in_headers = false;
                    continue;
                }
                if l.contains(": ") {
                    continue;
                }
                in_headers = false;
            }
            if l.starts_with('=') {
                break; // the CRC-24 checksum line
            }
            body.push_str(l);
        }
        out.extend(base64_decode(&body)?);
        blocks += 1;
        rest = &after[end..];
    }
    if blocks == 0 {
        return Err("no armored public key block found".into());
    }
    Ok(out)
}

/// One packet: its tag and where it lies in the keyring (header included).
#[derive(Debug, Clone, Copy)]
struct Packet {
    tag: u8,
    start: usize,
    body: usize,
    end: usize,
}

fn packets(data: &[u8]) -> Result<Vec<Packet>, String> {
    let bad = || "not an OpenPGP key (bad packet)".to_string();
    let mut out = vec![];
    let mut i = 0;
    while i < data.len() {
        let start = i;
        let h = data[i];
        if h & 0x80 == 0 {
            return Err(bad());
        }
        i += 1;
        let (tag, len) = if h & 0x40 != 0 {
            let tag = h & 0x3f;
            let o1 = *data.get(i).ok_or_else(bad)? as usize;
            i += 1;
            let len = match o1 {
                0..=191 => o1,
                192..=223 => {
                    let o2 = *data.get(i).ok_or_else(bad)? as usize;
                    i += 1;
                    ((o1 - 192) << 8) + o2 + 192
                }
                255 => {
                    let b = data.get(i..i + 4).ok_or_else(bad)?;
                    i += 4;
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
                }
                _ => return Err("partial-length OpenPGP packets are not expected in a key".into()),
            };
            (tag, len)
        } else {
            let tag = (h >> 2) & 0x0f;
            let len = match h & 3 {
                0 => {
                    let l = *data.get(i).ok_or_else(bad)? as usize;
                    i += 1;
                    l
                }
                1 => {
                    let b = data.get(i..i + 2).ok_or_else(bad)?;
                    i += 2;
                    u16::from_be_bytes([b[0], b[1]]) as usize
                }
                2 => {
                    let b = data.get(i..i + 4).ok_or_else(bad)?;
                    i += 4;
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
                }
                _ => data.len() - i,
            };
            (tag, len)
        };
        let body = i;
        let end = body.checked_add(len).filter(|e| *e <= data.len()).ok_or_else(bad)?;
        out.push(Packet { tag, start, body, end });
        i = end;
    }
    Ok(out)
}

/// The fingerprint of a public-key packet body (v4: SHA-1; v6 is not supported).
fn fingerprint(body: &[u8]) -> Result<String, String> {
    match body.first() {
        Some(4) => {
            let mut buf = vec![0x99, (body.len() >> 8) as u8, body.len() as u8];
            buf.extend_from_slice(body);
            Ok(crate::util::sha1_hex(&buf).to_uppercase())
        }
        Some(v) => Err(format!("OpenPGP key version {v} is not supported (only v4 keys)")),
        None => Err("empty OpenPGP key packet".into()),
    }
}

/// The primary keys of a binary keyring: fingerprint and the byte range of the key
/// with its user ids, signatures and subkeys.
pub(crate) fn keys(bin: &[u8]) -> Result<Vec<(String, std::ops::Range<usize>)>, String> {
    let mut out: Vec<(String, std::ops::Range<usize>)> = vec![];
    for p in packets(bin)? {
        if p.tag == 6 {
            out.push((fingerprint(&bin[p.body..p.end])?, p.start..p.end));
        } else if let Some(last) = out.last_mut() {
            last.1.end = p.end;
        }
    }
    if out.is_empty() {
        return Err("no public key found".into());
    }
    Ok(out)
}

/// The binary form of a key file's content (armored or not).
fn binary(data: &[u8]) -> Result<Vec<u8>, String> {
    if is_armored(data) { dearmor(data) } else { Ok(data.to_vec()) }
}

/// An id as written (`0x1234 ABCD`) → upper-case hex.
fn norm_id(id: &str) -> String {
    let id = id.trim();
    let id = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")).unwrap_or(id);
    id.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

fn has_id(fprs: &[String], id: &str) -> bool {
    fprs.iter().any(|f| f.ends_with(id))
}

// ---- the module ---------------------------------------------------------------

fn download(url: &str, validate: bool) -> String {
    let u = quote(url);
    let (k, w, py) = if validate { ("", "", "") } else { (" -k", " --no-check-certificate", "import ssl; ssl._create_default_https_context = ssl._create_unverified_context; ") };
    format!(
        "if command -v curl >/dev/null 2>&1; then curl{k} -fsSL {u}; elif command -v wget >/dev/null 2>&1; then wget{w} -qO- {u}; \
elif command -v python3 >/dev/null 2>&1; then python3 -c '{py}import sys,urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' {u}; \
else echo 'no curl, wget or python3 on the host to download the key' >&2; exit 127; fi"
    )
}

fn from_keyserver(ks: &str, id: &str) -> String {
    format!(
        "command -v gpg >/dev/null 2>&1 || {{ echo 'receiving a key from a keyserver needs gpg on the host (install gnupg), or give the key with data/file/url' >&2; exit 127; }}; \
h=$(mktemp -d); gpg --homedir \"$h\" --batch --quiet --keyserver {} --recv-keys {id} >&2 && gpg --homedir \"$h\" --batch --export {id}; rc=$?; rm -rf \"$h\"; [ $rc = 0 ]",
        quote(ks)
    )
}

/// Where the key comes from, as a command printing it (None: `data`, sent by us).
fn source_cmd(args: &Args, id: Option<&str>) -> Result<Option<String>, String> {
    let validate = args.get("validate_certs").and_then(Value::as_bool).unwrap_or(true);
    Ok(if let Some(f) = text(args, "file").filter(|f| !f.is_empty()) {
        Some(format!("cat {}", quote(&f)))
    } else if let Some(u) = text(args, "url").filter(|u| !u.is_empty()) {
        Some(download(&u, validate))
    } else if let Some(ks) = text(args, "keyserver").filter(|k| !k.is_empty()) {
        let id = id.ok_or("Missing key_id, required with keyserver.")?;
        Some(from_keyserver(&ks, id))
    } else {
        None
    })
}

fn parse_b64(stdout: &str, key: &str) -> Option<(i32, Vec<u8>)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(&format!("{TAG} {key} ")))?;
    let (rc, b64) = line.split_once(' ').unwrap_or((line, ""));
    Some((rc.trim().parse().unwrap_or(1), base64_decode(b64.trim()).ok()?))
}

fn ids(r: &mut ModuleResult, given: Option<&str>, fp: Option<&str>) {
    let id = given.map(str::to_string).or_else(|| fp.map(str::to_string));
    let long = id.as_deref().map(|i| i[i.len().saturating_sub(16)..].to_string());
    r.set("id", id.clone());
    r.set("fp", fp.map(str::to_string).or(id.clone()));
    r.set("key_id", long.clone());
    r.set("short_id", long.map(|l| l[l.len().saturating_sub(8)..].to_string()));
}

#[async_trait]
impl Module for AptKey {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let sources: Vec<&str> = ["data", "file", "keyserver", "url"].into_iter().filter(|k| text(args, k).is_some_and(|v| !v.is_empty())).collect();
        if sources.len() > 1 {
            return Ok(ModuleResult::failed(format!("parameters are mutually exclusive: data|file|keyserver|url (got {})", sources.join(", "))));
        }
        let id = text(args, "id").map(|i| norm_id(&i)).filter(|i| !i.is_empty());
        if let Some(i) = &id {
            if !i.chars().all(|c| c.is_ascii_hexdigit()) || ![8, 16, 40].contains(&i.len()) {
                let mut r = ModuleResult::failed("Invalid key_id");
                r.set("id", i.clone());
                return Ok(r);
            }
        }
        let present = text(args, "state").as_deref() != Some("absent");
        let data = text(args, "data").filter(|d| !d.is_empty());
        let src = match source_cmd(args, id.as_deref()) {
            Ok(s) => s,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        if present && data.is_none() && src.is_none() && id.is_none() {
            return Ok(ModuleResult::failed("one of data, file, url or keyserver (with id) is needed to add a key"));
        }
        if !present && id.is_none() {
            return Ok(ModuleResult::failed("key is required to remove a key"));
        }
        match text(args, "keyring").filter(|k| !k.is_empty()) {
            Some(k) => with_keyring(args, ctx, &k, id, data, src, present).await,
            None => with_apt_key(ctx, id, data, src, present).await,
        }
    }
}

async fn with_keyring(args: &Args, ctx: &Context<'_>, keyring: &str, id: Option<String>, data: Option<String>, src: Option<String>, present: bool) -> Result<ModuleResult, RemoteError> {
    let _ = args;
    let kq = quote(keyring);
    // The key itself is read in the same round trip unless an id can decide without it.
    let fetch_now = present && src.is_some() && id.is_none();
    let mut script = format!("if [ -f {kq} ]; then echo \"{TAG} keyring 0 $(base64 -w0 < {kq})\"; fi");
    if fetch_now {
        script.push_str(&format!("; k=$({} | base64 -w0); echo \"{TAG} key $? $k\"", src.as_deref().unwrap_or("false")));
    }
    let out = ctx.remote.exec(&script, b"").await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let existing = parse_b64(&stdout, "keyring").map(|(_, b)| b);
    let mut r = ModuleResult::ok(false);
    r.set("keyring", keyring);
    let asc = keyring.ends_with(".asc");
    let existing_keys = match existing.as_deref().map(|b| binary(b).and_then(|b| keys(&b).map(|k| (b, k)))) {
        Some(Ok(k)) => Some(k),
        Some(Err(e)) if !present || !existing.as_deref().unwrap_or_default().is_empty() => {
            return Ok(ModuleResult::failed(format!("{keyring} is not a keyring apt can read: {e}")));
        }
        _ => None,
    };
    let before: Vec<String> = existing_keys.as_ref().map(|(_, k)| k.iter().map(|(f, _)| f.clone()).collect()).unwrap_or_default();
    r.set("before", before.clone());

    if !present {
        let id = id.unwrap_or_default();
        ids(&mut r, Some(&id), before.iter().find(|f| f.ends_with(&id)).map(String::as_str));
        let Some((bin, ks)) = existing_keys.filter(|_| has_id(&before, &id)) else { return Ok(r) };
        r.set("changed", true);
        let rest: Vec<u8> = ks.iter().filter(|(f, _)| !f.ends_with(&id)).flat_map(|(_, range)| bin[range.clone()].to_vec()).collect();
        let after: Vec<String> = before.iter().filter(|f| !f.ends_with(&id)).cloned().collect();
        r.set("after", after);
        if ctx.check_mode {
            return Ok(r);
        }
        let cmd = if rest.is_empty() {
            format!("rm -f {kq}")
        } else if asc {
            return Ok(ModuleResult::failed(format!("{keyring} holds other keys too and is armored: remove the file, or keep the keys in a binary keyring")));
        } else {
            write_cmd(keyring, &rest)
        };
        let out = ctx.remote.exec(&cmd, b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(format!("cannot update {keyring}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        return Ok(r);
    }

    // Present: the key's own bytes, unless the id shows it is there already.
    if let Some(i) = &id {
        if has_id(&before, i) {
            ids(&mut r, Some(i), before.iter().find(|f| f.ends_with(i.as_str())).map(String::as_str));
            return Ok(r);
        }
    }
    let raw: Vec<u8> = match (&data, &src) {
        (Some(d), _) => d.as_bytes().to_vec(),
        (None, Some(cmd)) => {
            let got = if fetch_now {
                parse_b64(&stdout, "key")
            } else {
                let out = ctx.remote.exec(&format!("k=$({cmd} | base64 -w0); echo \"{TAG} key $? $k\""), b"").await?;
                let o = String::from_utf8_lossy(&out.stdout).into_owned();
                let got = parse_b64(&o, "key");
                if got.as_ref().is_none_or(|(rc, b)| *rc != 0 || b.is_empty()) {
                    return Ok(ModuleResult::failed(format!("cannot get the key: {}", String::from_utf8_lossy(&out.stderr).trim())));
                }
                got
            };
            match got {
                Some((0, b)) if !b.is_empty() => b,
                _ => return Ok(ModuleResult::failed(format!("cannot get the key: {}", String::from_utf8_lossy(&out.stderr).trim()))),
            }
        }
        (None, None) => return Ok(ModuleResult::failed("the key is not in the keyring and no data, file, url or keyserver was given to add it")),
    };
    let new_bin = match binary(&raw) {
        Ok(b) => b,
        Err(e) => return Ok(ModuleResult::failed(format!("the key given is not an OpenPGP public key: {e}"))),
    };
    let new_keys = match keys(&new_bin) {
        Ok(k) => k,
        Err(e) => return Ok(ModuleResult::failed(format!("the key given is not an OpenPGP public key: {e}"))),
    };
    let new_fprs: Vec<String> = new_keys.iter().map(|(f, _)| f.clone()).collect();
    if let Some(i) = &id {
        if !has_id(&new_fprs, i) {
            let mut r = ModuleResult::failed(format!("the key given does not have the id {i} (its keys: {}); check that the id is correct and *not* a subkey", new_fprs.join(", ")));
            ids(&mut r, Some(i), None);
            return Ok(r);
        }
    }
    ids(&mut r, id.as_deref(), new_fprs.first().map(String::as_str));
    if new_fprs.iter().all(|f| before.contains(f)) {
        return Ok(r);
    }
    r.set("changed", true);
    let mut after = before.clone();
    after.extend(new_fprs.iter().filter(|f| !before.contains(f)).cloned());
    r.set("after", after);
    if ctx.check_mode {
        return Ok(r);
    }
    let content: Vec<u8> = if asc {
        if !is_armored(&raw) {
            return Ok(ModuleResult::failed(format!("{keyring} ends in .asc but the key is binary: name the keyring *.gpg")));
        }
        // An armored keyring holds one key block: the new one replaces it.
        raw.clone()
    } else {
        let mut c = existing_keys.map(|(b, _)| b).unwrap_or_default();
        c.extend_from_slice(&new_bin);
        c
    };
    let out = ctx.remote.exec(&write_cmd(keyring, &content), b"").await?;
    if out.rc != 0 {
        return Ok(ModuleResult::failed(format!("cannot write {keyring}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(r)
}

/// Write bytes to a keyring atomically, mode 0644, creating its directory.
fn write_cmd(path: &str, content: &[u8]) -> String {
    format!(
        "set -e; p={}; d=$(dirname \"$p\"); mkdir -p \"$d\"; t=$(mktemp \"$d/.provision.XXXXXXXX\"); trap 'rm -f \"$t\"' EXIT; \
printf '%s' {} | base64 -d > \"$t\"; chmod 0644 \"$t\"; mv -f \"$t\" \"$p\"; trap - EXIT",
        quote(path),
        quote(&base64_encode(content))
    )
}

fn apt_key_fprs(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{TAG} l ")))
        .filter(|l| l.starts_with("fpr:"))
        .filter_map(|l| l.split(':').nth(9).map(str::to_string))
        .filter(|f| !f.is_empty())
        .collect()
}

const LIST: &str = "apt-key adv --list-public-keys --with-colons --fingerprint 2>/dev/null";

async fn with_apt_key(ctx: &Context<'_>, id: Option<String>, data: Option<String>, src: Option<String>, present: bool) -> Result<ModuleResult, RemoteError> {
    let script = format!("if command -v apt-key >/dev/null 2>&1 && command -v gpg >/dev/null 2>&1; then echo {TAG} aptkey; {LIST} | sed 's/^/{TAG} l /'; fi");
    let out = ctx.remote.exec(&script, b"").await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !stdout.contains(&format!("{TAG} aptkey")) {
        return Ok(ModuleResult::failed(
            "apt-key (with gpg) is not on this host; it is deprecated and gone from Debian 13 and Ubuntu 24.04: give `keyring: /etc/apt/keyrings/NAME.gpg` and name that file in the source's `signed-by`",
        ));
    }
    let before = apt_key_fprs(&stdout);
    let mut r = ModuleResult::ok(false);
    r.set("before", before.clone());
    // Without an id, the key's fingerprint comes from the key itself.
    let mut key_bytes: Option<Vec<u8>> = data.map(String::into_bytes);
    let mut id = id;
    if id.is_none() && present {
        if key_bytes.is_none() {
            let cmd = src.clone().unwrap_or_else(|| "false".into());
            let out = ctx.remote.exec(&format!("k=$({cmd} | base64 -w0); echo \"{TAG} key $? $k\""), b"").await?;
            match parse_b64(&String::from_utf8_lossy(&out.stdout), "key") {
                Some((0, b)) if !b.is_empty() => key_bytes = Some(b),
                _ => return Ok(ModuleResult::failed(format!("cannot get the key: {}", String::from_utf8_lossy(&out.stderr).trim()))),
            }
        }
        match binary(key_bytes.as_deref().unwrap_or_default()).and_then(|b| keys(&b)) {
            Ok(k) => id = k.first().map(|(f, _)| f.clone()),
            Err(e) => return Ok(ModuleResult::failed(format!("the key given is not an OpenPGP public key: {e}"))),
        }
    }
    let id = id.unwrap_or_default();
    ids(&mut r, Some(&id), before.iter().find(|f| f.ends_with(&id)).map(String::as_str));
    let there = has_id(&before, &id);
    if present == there {
        return Ok(r);
    }
    r.set("changed", true);
    if ctx.check_mode {
        return Ok(r);
    }
    let (cmd, stdin) = if !present {
        (format!("apt-key del {} >&2", &id[id.len() - 8..]), vec![])
    } else if let Some(b) = key_bytes {
        ("apt-key add - >&2".to_string(), b)
    } else {
        (format!("{{ {}; }} | apt-key add - >&2", src.unwrap_or_else(|| "false".into())), vec![])
    };
    let out = ctx.remote.exec(&format!("{cmd}; rc=$?; {LIST} | sed 's/^/{TAG} l /'; exit $rc"), &stdin).await?;
    let after = apt_key_fprs(&String::from_utf8_lossy(&out.stdout));
    r.set("after", after.clone());
    if out.rc != 0 || has_id(&after, &id) != present {
        let what = if present { "failed to add the key" } else { "the key was not removed" };
        r.set("failed", true).set("changed", false).set(
            "msg",
            format!("apt-key did not return an error, but {what} (check that the id is correct and *not* a subkey) {}", String::from_utf8_lossy(&out.stderr).trim()),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::json;

    /// A tiny v4 public key packet (old format, tag 6) + a user id packet (tag 13).
    fn key(n: u8) -> Vec<u8> {
        let body = [4u8, 0x65, 0, 0, n, 22, 0, 1, 0xab];
        let mut k = vec![0x99, 0, body.len() as u8];
        k.extend_from_slice(&body);
        k.extend_from_slice(&[0xb4, 3, b'a', b'b', n]);
        k
    }

    fn fpr(n: u8) -> String {
        let body = [4u8, 0x65, 0, 0, n, 22, 0, 1, 0xab];
        let mut buf = vec![0x99, 0, body.len() as u8];
        buf.extend_from_slice(&body);
        crate::util::sha1_hex(&buf).to_uppercase()
    }

    fn armor(bin: &[u8]) -> String {
        format!("{ARMOR_BEGIN}\nComment: test\n\n{}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n", base64_encode(bin))
    }

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&AptKey, a, &fake, check, false);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    #[test]
    fn packets_armor_and_fingerprints() {
        let two = [key(1), key(2)].concat();
        let ks = keys(&two).unwrap();
        assert_eq!(ks.len(), 2);
        assert_eq!(ks[0].0, fpr(1));
        assert_eq!(ks[1].1, key(1).len()..two.len());
        assert_eq!(dearmor(armor(&two).as_bytes()).unwrap(), two);
        assert!(keys(b"hello").is_err());
        assert_eq!(norm_id("0xabcd 1234"), "ABCD1234");
    }

    #[test]
    fn data_into_a_new_keyring_is_written_dearmored() {
        let a = json!({"data": armor(&key(1)), "keyring": "/etc/apt/keyrings/t.gpg"});
        let (r, sent) = run(a.clone(), &["", ""], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["fp"], fpr(1));
        assert_eq!(r.0["short_id"], fpr(1)[32..]);
        assert!(sent[1].0.contains(&format!("printf '%s' {} | base64 -d", quote(&base64_encode(&key(1))))), "{}", sent[1].0);
        // Already there: one round trip.
        let host = format!("{TAG} keyring 0 {}\n", base64_encode(&key(1)));
        let (r, sent) = run(a, &[&host], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
    }

    #[test]
    fn an_id_decides_without_fetching_and_a_new_key_is_appended() {
        let host = format!("{TAG} keyring 0 {}\n", base64_encode(&key(1)));
        let a = json!({"url": "https://example.com/k.asc", "id": fpr(1)[24..], "keyring": "/etc/apt/keyrings/t.gpg"});
        let (r, sent) = run(a, &[&host], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        assert!(!sent[0].0.contains("curl"));
        let a = json!({"file": "/root/k2.asc", "keyring": "/etc/apt/keyrings/t.gpg"});
        let answer = format!("{host}{TAG} key 0 {}\n", base64_encode(armor(&key(2)).as_bytes()));
        let (r, sent) = run(a.clone(), &[&answer], true);
        assert!(r.changed() && sent.len() == 1 && sent[0].0.contains("cat /root/k2.asc"), "{r:?}");
        assert_eq!(r.0["after"], json!([fpr(1), fpr(2)]));
        let (_, sent) = run(a, &[&answer, ""], false);
        assert!(sent[1].0.contains(&quote(&base64_encode(&[key(1), key(2)].concat()))), "{}", sent[1].0);
    }

    #[test]
    fn a_wrong_id_fails() {
        let a = json!({"data": armor(&key(1)), "id": "DEADBEEF", "keyring": "/k.gpg"});
        let (r, _) = run(a, &[""], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("does not have the id DEADBEEF"), "{r:?}");
    }

    #[test]
    fn absent_removes_the_key_or_the_file() {
        let host = format!("{TAG} keyring 0 {}\n", base64_encode(&[key(1), key(2)].concat()));
        let (r, sent) = run(json!({"id": fpr(2), "keyring": "/k.gpg", "state": "absent"}), &[&host, ""], false);
        assert!(r.changed(), "{r:?}");
        assert!(sent[1].0.contains(&quote(&base64_encode(&key(1)))));
        let host = format!("{TAG} keyring 0 {}\n", base64_encode(&key(1)));
        let (_, sent) = run(json!({"id": fpr(1), "keyring": "/k.gpg", "state": "absent"}), &[&host, ""], false);
        assert_eq!(sent[1].0, "rm -f /k.gpg");
        let (r, sent) = run(json!({"id": fpr(1), "keyring": "/k.gpg", "state": "absent"}), &[""], false);
        assert!(!r.changed() && sent.len() == 1);
    }

    #[test]
    fn without_keyring_apt_key_or_a_hint() {
        let (r, _) = run(json!({"data": armor(&key(1))}), &[""], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("give `keyring:"), "{r:?}");
        let listed = format!("{TAG} aptkey\n{TAG} l pub:-:255:22:X:1:::-:::scESC::::::23::0:\n{TAG} l fpr:::::::::{}:\n", fpr(1));
        let (r, sent) = run(json!({"data": armor(&key(1))}), &[&listed], false);
        assert!(!r.changed() && sent.len() == 1, "{r:?}");
        let after = format!("{TAG} l fpr:::::::::{}:\n", fpr(2));
        let (r, sent) = run(json!({"data": armor(&key(2))}), &[&listed, &after], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].0.starts_with("apt-key add - >&2;") && sent[1].1 == armor(&key(2)).into_bytes());
        let (r, _) = run(json!({"keyserver": "keys.example.org"}), &[], false);
        assert_eq!(r.0["msg"], "Missing key_id, required with keyserver.");
    }
}
