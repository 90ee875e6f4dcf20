//! `uri`: talk to a web service from the host (a health check, a REST call).
//!
//! One round trip: the `creates`/`removes` guard, the request ([`crate::http`]: curl,
//! else GNU wget, else python3 on the host) and the response body come back together.
//! With `dest`, the body is written beside `dest` in that same round trip and a second
//! one renames it into place only when it differs from what is there.
//!
//! Like Ansible, `uri` never reports a change unless it writes `dest`, so a
//! `until: r.status == 200` retry loop (the engine retries) stays green.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::file::{add_path_info, basename, dirname, join};
use crate::http::{self, Follow, Request, TAG as HTTP_TAG};
use crate::quote::quote;
use crate::util::Attrs;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Uri;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("url", ArgType::Str, "HTTP or HTTPS URL (`http://host:port/path?query`).").required(),
    ArgSpec::new("method", ArgType::Str, "The HTTP method, one uppercase word (GET, POST, PUT, DELETE, HEAD, PATCH...).").default("GET"),
    ArgSpec::new("body", ArgType::Raw, "The request body. With `body_format: json` a list or dict is sent as JSON; with `form-urlencoded` a dict or list of pairs is encoded."),
    ArgSpec::new("body_format", ArgType::Str, "How `body` is encoded; `json` and `form-urlencoded` also set Content-Type unless `headers` has one.")
        .default("raw")
        .choices(&["raw", "json", "form-urlencoded"]),
    ArgSpec::new("headers", ArgType::Dict, "Request headers, as a dict."),
    ArgSpec::new("status_code", ArgType::List, "The status code(s) that mean success; any other fails the task.").default("200"),
    ArgSpec::new("return_content", ArgType::Bool, "Return the body as `content` (a JSON body is returned as `json` either way).").default("no"),
    ArgSpec::new("dest", ArgType::Path, "Write the response body to this file on the host (a directory: the name comes from Content-Disposition or the URL)."),
    ArgSpec::new("timeout", ArgType::Int, "Seconds the request may take.").default("30"),
    ArgSpec::new("follow_redirects", ArgType::Str, "`safe`: follow redirects of GET and HEAD only; `all`: every redirect; `none`: none.")
        .default("safe")
        .choices(&["all", "no", "none", "safe", "urllib2", "yes"]),
    ArgSpec::new("validate_certs", ArgType::Bool, "Check the server's TLS certificate.").default("yes"),
    ArgSpec::new("url_username", ArgType::Str, "User name for HTTP Basic authentication.").aliases(&["user"]),
    ArgSpec::new("url_password", ArgType::Str, "Password for HTTP Basic authentication (never put on a command line: it travels on stdin).").aliases(&["password"]),
    ArgSpec::new("force_basic_auth", ArgType::Bool, "Send credentials with the first request (they always are: see the description).").default("no"),
    ArgSpec::new("http_agent", ArgType::Str, "The User-Agent header.").default("ansible-httpget"),
    ArgSpec::new("creates", ArgType::Path, "Skip the request when this path exists on the host."),
    ArgSpec::new("removes", ArgType::Path, "Skip the request unless this path exists on the host."),
    ArgSpec::new("force", ArgType::Bool, "Accepted for compatibility (no cache is used).").default("no"),
    ArgSpec::new("ca_path", ArgType::Path, "CA certificates on the host (a PEM file, or a directory ending in `/`) to trust instead of the system's."),
    ArgSpec::new("unix_socket", ArgType::Path, "Send the request over this Unix socket on the host (the Docker API: `/var/run/docker.sock`); the URL's host is only the Host header. Needs curl or python3."),
    ArgSpec::new("client_cert", ArgType::Path, "A client certificate (PEM) on the host, for TLS client authentication."),
    ArgSpec::new("client_key", ArgType::Path, "The client certificate's private key on the host, when not in `client_cert`."),
    ArgSpec::new("decompress", ArgType::Bool, "Accepted for compatibility: the body is stored as the server sends it.").default("yes"),
    ArgSpec::new("use_netrc", ArgType::Bool, "Accepted for compatibility: `~/.netrc` is not read.").default("yes"),
    ArgSpec::new("use_proxy", ArgType::Bool, "Accepted for compatibility: the host's client uses its usual proxy environment.").default("yes"),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "uri",
    short: "Interacts with webservices",
    description: "Makes an HTTP(S) request from the host — with `curl` where installed, else GNU `wget`, else `python3` — and \
returns the status, the response headers (lowercased, `-` as `_`: `content_type`), and the body as `content` (with \
`return_content`) and as `json` when the response is JSON. A status not in `status_code` fails the task. The task only \
reports a change when it writes `dest` with new content. Credentials and headers travel on stdin, never on a command line; \
credentials are always sent with the first request (HTTP Basic), as with `force_basic_auth`. In check mode GET, HEAD and \
OPTIONS requests without `dest` are made (they change nothing); other requests are skipped, as Ansible skips the module.",
    args: ARGS,
    free_form: false,
    examples: "- name: Wait for the service to answer\n  ansible.builtin.uri:\n    url: http://127.0.0.1:8080/health\n  register: r\n  until: r.status == 200\n  retries: 10\n  delay: 2\n\n\
- name: Create an item through a JSON API\n  ansible.builtin.uri:\n    url: https://api.example.com/items\n    method: POST\n    body_format: json\n    body:\n      name: disk\n      size: 10\n    status_code: [200, 201]\n    headers:\n      Authorization: \"Bearer {{ token }}\"\n  register: created\n\n\
- name: A page that must be missing\n  ansible.builtin.uri:\n    url: http://127.0.0.1/old\n    status_code: 404\n",
    returns: &[
        ("status", "the HTTP status (-1 when no response came)"),
        ("url", "the final URL, after redirects"),
        ("redirected", "whether a redirect was followed"),
        ("msg", "`OK (N bytes)` (N from Content-Length, else `unknown`), or the error"),
        ("content", "the body as text, with `return_content` (or when the status is unexpected)"),
        ("json", "the body parsed, when the response's Content-Type is JSON"),
        ("elapsed", "seconds the request took"),
        ("content_type, content_length, server, ...", "each response header, lowercased with `-` as `_`"),
        ("cookies", "the cookies the response sets, as a dict"),
        ("cookies_string", "the same as `name=value; ...`"),
        ("path", "`dest`, when given"),
        ("via", "the client used on the host (`curl`, `wget`, `python3`)"),
    ],
};

const TAG: &str = "__provision_uri_3f9a__";

/// Python's `urlencode(quote_plus)` of one value.
fn quote_plus(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => o.push(b as char),
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// A value as Python's `to_text` writes it.
fn py_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        other => other.to_string(),
    }
}

/// Ansible's `form_urlencoded`: a dict or a list of pairs; list values repeat the key.
fn form_urlencoded(body: &Value) -> Result<String, String> {
    let pairs: Vec<(String, Value)> = match body {
        Value::String(s) => return Ok(s.clone()),
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(a) => a
            .iter()
            .map(|p| match p {
                Value::Array(kv) if kv.len() == 2 => Ok((py_text(&kv[0]), kv[1].clone())),
                _ => Err("failed to parse body as form_urlencoded: expected a list of pairs".to_string()),
            })
            .collect::<Result<_, _>>()?,
        other => return Ok(py_text(other)),
    };
    let mut out = vec![];
    for (k, v) in pairs {
        let values = match v {
            Value::Array(a) => a,
            Value::Null => vec![],
            v => vec![v],
        };
        for v in values.iter().filter(|v| !v.is_null()) {
            out.push(format!("{}={}", quote_plus(&k), quote_plus(&py_text(v))));
        }
    }
    Ok(out.join("&"))
}

/// `status_code` as ints.
fn status_codes(args: &Args) -> Result<Vec<i64>, String> {
    let list = match args.get("status_code") {
        None | Some(Value::Null) => return Ok(vec![200]),
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
    };
    list.iter()
        .map(|v| match v {
            Value::Number(n) => n.as_i64().ok_or(format!("status_code: {n} is not an int")),
            Value::String(s) => s.trim().parse().map_err(|_| format!("status_code: '{s}' is not an int")),
            other => Err(format!("status_code: {other} is not an int")),
        })
        .collect()
}

/// Whether a Content-Type is JSON (`application/json`, `application/problem+json`,
/// `text/javascript`), as Ansible's `JSON_CANDIDATES`.
fn is_json_type(ct: &str) -> bool {
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let sub = mime.split_once('/').map(|(_, s)| s).unwrap_or("");
    let sub = sub.rsplit_once('+').map(|(_, s)| s).unwrap_or(sub);
    sub == "json" || sub == "javascript"
}

/// The file name a response suggests: Content-Disposition's `filename`, else the last
/// part of the URL's path.
pub(crate) fn response_filename(resp: &http::Response, fallback: &str) -> String {
    if let Some(cd) = resp.header("content-disposition") {
        for part in cd.split(';') {
            if let Some(v) = part.trim().strip_prefix("filename=") {
                let name = basename(v.trim().trim_matches('"')).to_string();
                if !name.is_empty() && name != ".." && name != "." {
                    return name;
                }
            }
        }
    }
    url_filename(&resp.url).unwrap_or_else(|| fallback.to_string())
}

/// The last part of a URL's path, percent-decoded (Ansible's `url_filename`).
pub(crate) fn url_filename(url: &str) -> Option<String> {
    let path = url.split_once("://").map_or(url, |(_, r)| r.find('/').map_or("", |i| &r[i..]));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let decoded = percent_decode(last);
    (!decoded.is_empty() && decoded != "." && decoded != "..").then_some(decoded)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace('/', "_")
}

/// The cookies `Set-Cookie` headers set, as `{name: value}`.
fn cookies(resp: &http::Response) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in &resp.headers {
        if k.eq_ignore_ascii_case("set-cookie") {
            if let Some((n, val)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                m.insert(n.trim().to_string(), Value::String(val.trim().to_string()));
            }
        }
    }
    m
}

/// Python's `repr` of a list of ints: `[200, 201]`.
fn py_list(codes: &[i64]) -> String {
    format!("[{}]", codes.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
}

/// The request the arguments describe, or why they are wrong.
fn build_request(args: &Args) -> Result<Request, String> {
    let url = text(args, "url").filter(|u| !u.is_empty()).ok_or("missing required argument `url`")?;
    let method = text(args, "method").unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("Parameter 'method' needs to be a single word in uppercase, like GET or POST.".into());
    }
    let mut headers: Vec<(String, String)> = match args.get("headers") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), py_text(v))).collect(),
        _ => vec![],
    };
    let has_ct = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let format = text(args, "body_format").unwrap_or_else(|| "raw".into()).to_ascii_lowercase();
    let body = match args.get("body") {
        None | Some(Value::Null) => None,
        Some(b) => Some(match format.as_str() {
            "json" => {
                if !has_ct {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                match b {
                    Value::String(s) => s.clone(),
                    other => crate::copy::python_json(other),
                }
            }
            "form-urlencoded" => {
                if !has_ct {
                    headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                }
                form_urlencoded(b)?
            }
            _ => py_text(b),
        }),
    };
    let timeout = args.get("timeout").and_then(Value::as_i64).unwrap_or(30).max(1) as u64;
    Ok(Request {
        url,
        method,
        headers,
        body: body.map(String::into_bytes),
        timeout,
        follow: Follow::parse(&text(args, "follow_redirects").unwrap_or_else(|| "safe".into())),
        validate_certs: args.get("validate_certs").and_then(to_bool).unwrap_or(true),
        username: text(args, "url_username").filter(|u| !u.is_empty()),
        password: text(args, "url_password"),
        http_agent: text(args, "http_agent").unwrap_or_else(|| "ansible-httpget".into()),
        ca_path: None,
        client_cert: None,
        client_key: None,
        unix_socket: None,
    }
    .with_tls_args(args))
}

#[async_trait]
impl Module for Uri {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let req = match build_request(args) {
            Ok(r) => r,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let codes = match status_codes(args) {
            Ok(c) => c,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let dest = text(args, "dest").filter(|d| !d.is_empty());
        let return_content = args.get("return_content").and_then(to_bool).unwrap_or(false);
        let attrs = Attrs::from_args(args);
        if ctx.check_mode && (dest.is_some() || !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS")) {
            let mut r = ModuleResult::ok(false);
            r.set("skipped", true);
            r.set("msg", "remote module (uri) does not support check mode");
            return Ok(r);
        }

        // One script: guards, the request, the body (or a temporary file beside dest).
        let mut script = String::new();
        if let Some(c) = text(args, "creates").filter(|c| !c.is_empty()) {
            script.push_str(&format!("if [ -e {} ]; then echo {TAG} skip; exit 0; fi; ", quote(&c)));
        }
        if let Some(r) = text(args, "removes").filter(|r| !r.is_empty()) {
            script.push_str(&format!("if [ ! -e {} ]; then echo {TAG} skip; exit 0; fi; ", quote(&r)));
        }
        let out = match &dest {
            Some(d) => {
                // A directory dest gets the body inside it; a file dest beside it.
                let q = quote(d);
                script.push_str(&format!(
                    "if [ -d {q} ]; then td={q}; else td=$(dirname -- {q}); fi; t=$(mktemp \"$td/.provision-uri.XXXXXXXX\") || exit 1; echo \"{TAG} tmp $t\"; "
                ));
                "\"$t\""
            }
            None => "\"$d/o\"",
        };
        let (fragment, stdin) = http::request_script(&req, out);
        script.push_str(&fragment);
        if dest.is_none() || return_content {
            script.push_str(&format!("; echo {TAG}body; cat {out} 2>/dev/null"));
        }
        script.push_str("; rm -rf \"$d\"");
        let start = Instant::now();
        let res = ctx.remote.exec(&script, &stdin).await?;
        let elapsed = start.elapsed().as_secs();
        let stdout = res.stdout;
        let body_mark = format!("{TAG}body\n");
        let (head, body) = match stdout.windows(body_mark.len()).position(|w| w == body_mark.as_bytes()) {
            Some(i) => (String::from_utf8_lossy(&stdout[..i]).into_owned(), Some(stdout[i + body_mark.len()..].to_vec())),
            None => (String::from_utf8_lossy(&stdout).into_owned(), None),
        };
        if head.lines().any(|l| l == format!("{TAG} skip")) {
            let (what, cond) = match (text(args, "creates"), text(args, "removes")) {
                (Some(c), _) if !c.is_empty() => (c, "exists"),
                (_, Some(r)) => (r, "does not exist"),
                _ => (String::new(), ""),
            };
            let mut r = ModuleResult::ok(false);
            r.set("stdout", format!("skipped, since '{what}' {cond}"));
            return Ok(r);
        }
        if !head.contains(HTTP_TAG) {
            return Ok(ModuleResult::failed(format!("the request could not be made on the host: {}", String::from_utf8_lossy(&res.stderr).trim())));
        }
        let resp = http::parse_response(&head, &req.url);
        let tmp = head.lines().find_map(|l| l.strip_prefix(&format!("{TAG} tmp "))).map(str::to_string);

        let mut r = ModuleResult::ok(false);
        for (k, v) in resp.info(&req.url) {
            r.0.insert(k, v);
        }
        r.set("elapsed", elapsed);
        let jar = cookies(&resp);
        r.set("cookies_string", jar.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join("; "));
        r.set("cookies", Value::Object(jar));
        r.set("via", resp.via.clone());
        let ct = resp.header("content-type").unwrap_or("").to_string();
        if let Some(b) = &body {
            let text = String::from_utf8_lossy(b).into_owned();
            if is_json_type(&ct) {
                if let Ok(j) = serde_json::from_str::<Value>(&text) {
                    r.set("json", j);
                }
            }
            if return_content || !codes.contains(&resp.status) {
                r.set("content", text);
            }
        }

        // dest: rename the temporary file into place when it differs.
        if let (Some(d), Some(t)) = (&dest, &tmp) {
            let ok = codes.contains(&resp.status) && resp.status != 304;
            if !ok {
                ctx.remote.exec(&format!("rm -f {}", quote(t)), b"").await?;
            } else {
                let target = if dirname(t) == d.trim_end_matches('/') {
                    join(d, &response_filename(&resp, "index.html"))
                } else {
                    d.clone()
                };
                match http::install(ctx.remote, t, &target, &attrs, false).await? {
                    Ok(done) => {
                        r.set("changed", done.changed);
                        add_path_info(&mut r.0, &done.state, 1);
                        r.set("path", target);
                    }
                    Err(e) => return Ok(ModuleResult::failed(e)),
                }
            }
        }

        if !codes.contains(&resp.status) {
            r.set("failed", true);
            r.set("msg", format!("Status code was {} and not {}: {}", resp.status, py_list(&codes), resp.msg));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::http::TAG as H;
    use serde_json::json;

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
        let fake = Fake::new(answers);
        let r = run_module(&Uri, a, &fake, check, false);
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn python_answer(status: i64, headers: &[&str], body: &str) -> String {
        let mut s = format!("{H} via python3\n{H} status {status}\n{H} msg {}\n{H} url http://127.0.0.1:8000/x\n", if status == 200 { "OK (2 bytes)".to_string() } else { format!("HTTP Error {status}: Not Found") });
        for h in headers {
            s.push_str(&format!("{H} h {h}\n"));
        }
        s.push_str(&format!("{TAG}body\n{body}"));
        s
    }

    #[test]
    fn a_get_is_one_round_trip_and_never_changes() {
        let (r, sent) = run(json!({"url": "http://127.0.0.1:8000/x"}), &[&python_answer(200, &["Content-Type: application/json", "Content-Length: 8"], "{\"a\": 1}")], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(r.0["status"], 200);
        assert_eq!(r.0["json"], json!({"a": 1}));
        assert_eq!(r.0["content_type"], "application/json");
        assert_eq!(r.0["redirected"], false);
        assert!(r.0.get("content").is_none());
        // The URL goes on stdin, not in the script.
        assert!(!sent[0].0.contains("127.0.0.1:8000"), "{}", sent[0].0);
        assert!(String::from_utf8_lossy(&sent[0].1).contains("http://127.0.0.1:8000/x"));
    }

    #[test]
    fn unexpected_status_fails_with_ansibles_message() {
        let (r, _) = run(json!({"url": "http://127.0.0.1:8000/x"}), &[&python_answer(404, &[], "nope")], false);
        assert!(r.is_failed());
        assert_eq!(r.0["msg"], "Status code was 404 and not [200]: HTTP Error 404: Not Found");
        assert_eq!(r.0["content"], "nope");
        let (r, _) = run(json!({"url": "http://127.0.0.1:8000/x", "status_code": [200, "404"]}), &[&python_answer(404, &[], "nope")], false);
        assert!(!r.is_failed(), "{r:?}");
    }

    #[test]
    fn json_bodies_set_the_content_type() {
        let (r, sent) = run(
            json!({"url": "http://h/", "method": "POST", "body_format": "json", "body": {"name": "x", "n": [1, 2]}, "return_content": true}),
            &[&python_answer(200, &[], "ok")],
            false,
        );
        assert_eq!(r.0["content"], "ok");
        let stdin = String::from_utf8_lossy(&sent[0].1).into_owned();
        assert!(stdin.ends_with("{\"name\": \"x\", \"n\": [1, 2]}"), "{stdin}");
        assert!(stdin.contains("header = \"Content-Type: application/json\""), "{stdin}");
    }

    #[test]
    fn forms_encode_like_python() {
        assert_eq!(form_urlencoded(&json!({"a b": "c&d", "l": [1, "x"]})).unwrap(), "a+b=c%26d&l=1&l=x");
        assert_eq!(form_urlencoded(&json!([["k", "v"]])).unwrap(), "k=v");
    }

    #[test]
    fn creates_skips() {
        let (r, sent) = run(json!({"url": "http://h/", "creates": "/tmp/x"}), &[&format!("{TAG} skip\n")], false);
        assert!(!r.changed() && !r.is_failed());
        assert_eq!(r.0["stdout"], "skipped, since '/tmp/x' exists");
        assert!(sent[0].0.starts_with("if [ -e /tmp/x ]; then"), "{}", sent[0].0);
    }

    #[test]
    fn check_mode_skips_unsafe_methods_and_makes_safe_ones() {
        let (r, sent) = run(json!({"url": "http://h/", "method": "DELETE"}), &[], true);
        assert_eq!(r.0["skipped"], true);
        assert!(sent.is_empty());
        let (r, sent) = run(json!({"url": "http://h/"}), &[&python_answer(200, &[], "")], true);
        assert_eq!((r.0["status"].clone(), sent.len()), (json!(200), 1));
    }

    #[test]
    fn bad_methods_fail_before_any_request() {
        let (r, sent) = run(json!({"url": "http://h/", "method": "get it"}), &[], false);
        assert!(r.is_failed() && sent.is_empty());
    }

    #[test]
    fn dest_is_written_only_when_different() {
        let head = format!("{TAG} tmp /srv/.provision-uri.X\n{}", python_answer(200, &[], "").replace(&format!("{TAG}body\n"), ""));
        let same = format!("{} same\n{}", http::INSTALL_TAG, crate::util::probe_output(&[crate::file::tests::file("0644", "root", 0, 2)]));
        let (r, sent) = run(json!({"url": "http://h/x", "dest": "/srv/x"}), &[&head, &same], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].0.starts_with("t=/srv/.provision-uri.X; p=/srv/x; if [ -f \"$p\" ] && cmp -s \"$t\" \"$p\"; then rm -f"), "{}", sent[1].0);
        let moved = same.replace("same", "moved");
        let (r, _) = run(json!({"url": "http://h/x", "dest": "/srv/x"}), &[&head, &moved], false);
        assert!(r.changed());
        assert_eq!(r.0["path"], "/srv/x");
    }

    #[test]
    fn names_from_responses() {
        assert_eq!(url_filename("http://h/a/b%20c.tgz?x=1").as_deref(), Some("b c.tgz"));
        assert_eq!(url_filename("http://h/"), None);
        let resp = http::Response { url: "http://h/a".into(), headers: vec![("Content-Disposition".into(), "attachment; filename=\"r.zip\"".into())], ..Default::default() };
        assert_eq!(response_filename(&resp, "index.html"), "r.zip");
        assert!(is_json_type("application/problem+json; charset=utf-8") && is_json_type("text/javascript") && !is_json_type("text/html"));
    }
}
