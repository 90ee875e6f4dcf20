//! HTTP requests made *on the host* (as Ansible's `fetch_url` does), shared by `get_url`
//! and `uri`.
//!
//! [`request_script`] turns a [`Request`] into a shell fragment and the bytes to feed it
//! on stdin. The fragment picks a client on the host — `curl` if present, else GNU
//! `wget`, else `python3`'s `urllib` — sends the request, writes the response body to a
//! file the caller names, and prints tagged lines that [`parse_response`] reads into a
//! [`Response`] (status, final URL, headers, Ansible's `msg`).
//!
//! Secrets never reach argv: the URL, headers and credentials travel on stdin, are
//! split by the fragment into files of a private temporary directory `$d` (mode 0700,
//! made with `mktemp -d`), and are read from there by the client (`curl -K`,
//! `wget --config`, a JSON file for python). The caller removes `$d`.

use serde_json::{json, Value};

use crate::file::attr_change;
use crate::quote::quote;
use crate::util::{self, Attrs, PathState};
use crate::{Remote, RemoteError};

/// Marks the fragment's own output lines.
pub const TAG: &str = "__provision_http_7c1d__";

/// Redirect policy, as Ansible's `follow_redirects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Follow nothing (`no`, `none`).
    None,
    /// Follow only for GET and HEAD (`safe`).
    Safe,
    /// Follow everything (`all`, `yes`, `urllib2`).
    All,
}

impl Follow {
    pub fn parse(s: &str) -> Follow {
        match s {
            "no" | "none" => Follow::None,
            "safe" => Follow::Safe,
            _ => Follow::All,
        }
    }
    /// Whether redirects are followed for `method`.
    pub fn follows(self, method: &str) -> bool {
        match self {
            Follow::None => false,
            Follow::Safe => method == "GET" || method == "HEAD",
            Follow::All => true,
        }
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Seconds.
    pub timeout: u64,
    pub follow: Follow,
    pub validate_certs: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub http_agent: String,
    /// CA certificates (file or directory) to trust instead of the system's.
    pub ca_path: Option<String>,
    /// A client certificate (PEM), and its key when not in the same file.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// Talk HTTP over this Unix socket (the Docker API) instead of TCP.
    pub unix_socket: Option<String>,
}

impl Request {
    pub fn get(url: &str) -> Request {
        Request {
            url: url.to_string(),
            method: "GET".into(),
            headers: vec![],
            body: None,
            timeout: 10,
            follow: Follow::Safe,
            validate_certs: true,
            username: None,
            password: None,
            http_agent: "ansible-httpget".into(),
            ca_path: None,
            client_cert: None,
            client_key: None,
            unix_socket: None,
        }
    }

    /// The TLS arguments every HTTP module shares (`ca_path`, `client_cert`, `client_key`).
    pub fn with_tls_args(mut self, args: &crate::Args) -> Request {
        let path = |k: &str| crate::args::text(args, k).filter(|v| !v.is_empty());
        self.ca_path = path("ca_path");
        self.client_cert = path("client_cert");
        self.client_key = path("client_key");
        self.unix_socket = path("unix_socket");
        self
    }
}

/// A string for curl's config file: double-quoted, with its escapes.
fn curl_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A value for a wgetrc line (no quoting exists there: line breaks are dropped).
fn wget_str(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What the client needs, in curl's config syntax.
fn curl_config(r: &Request) -> String {
    // `timeout` is a socket timeout in Ansible (and for wget and python): a large
    // download may take longer in all. curl gets the same with a connect timeout and
    // "abort when nothing arrives for that long", not `--max-time`.
    let mut c = format!(
        "url = {}\nuser-agent = {}\nconnect-timeout = {t}\nspeed-time = {t}\nspeed-limit = 1\nsilent\nshow-error\n",
        curl_str(&r.url),
        curl_str(&r.http_agent),
        t = r.timeout
    );
    if r.method == "HEAD" {
        c.push_str("head\n");
    } else {
        c.push_str(&format!("request = {}\n", curl_str(&r.method)));
    }
    for (k, v) in &r.headers {
        c.push_str(&format!("header = {}\n", curl_str(&format!("{k}: {v}"))));
    }
    if let Some(u) = &r.username {
        c.push_str(&format!("user = {}\n", curl_str(&format!("{u}:{}", r.password.as_deref().unwrap_or("")))));
    }
    if r.follow.follows(&r.method) {
        c.push_str("location\nmax-redirs = 50\n");
    }
    if !r.validate_certs {
        c.push_str("insecure\n");
    }
    if let Some(ca) = &r.ca_path {
        c.push_str(&format!("{} = {}\n", if ca.ends_with('/') { "capath" } else { "cacert" }, curl_str(ca)));
    }
    if let Some(cert) = &r.client_cert {
        c.push_str(&format!("cert = {}\n", curl_str(cert)));
    }
    if let Some(key) = &r.client_key {
        c.push_str(&format!("key = {}\n", curl_str(key)));
    }
    if let Some(sock) = &r.unix_socket {
        c.push_str(&format!("unix-socket = {}\n", curl_str(sock)));
    }
    c
}

/// What the client needs, as a wgetrc.
fn wget_config(r: &Request) -> String {
    // The first line is not wgetrc: the fragment moves it to the `-i` file (the URL may
    // carry a token) and removes it from the config.
    let mut c = format!("url = {}\ntimeout = {}\nuser_agent = {}\nserver_response = on\ncontent_on_error = on\n", wget_str(&r.url), r.timeout, wget_str(&r.http_agent));
    for (k, v) in &r.headers {
        c.push_str(&format!("header = {}: {}\n", wget_str(k), wget_str(v)));
    }
    if let Some(u) = &r.username {
        c.push_str(&format!("user = {}\npassword = {}\nauth_no_challenge = on\n", wget_str(u), wget_str(r.password.as_deref().unwrap_or(""))));
    }
    if !r.follow.follows(&r.method) {
        c.push_str("max_redirect = 0\n");
    }
    if !r.validate_certs {
        c.push_str("check_certificate = off\n");
    }
    if let Some(ca) = &r.ca_path {
        c.push_str(&format!("{} = {}\n", if ca.ends_with('/') { "ca_directory" } else { "ca_certificate" }, wget_str(ca)));
    }
    if let Some(cert) = &r.client_cert {
        c.push_str(&format!("certificate = {}\n", wget_str(cert)));
    }
    if let Some(key) = &r.client_key {
        c.push_str(&format!("private_key = {}\n", wget_str(key)));
    }
    c
}

/// What the python client needs, as JSON.
fn python_config(r: &Request) -> String {
    let follow = match r.follow {
        Follow::None => "none",
        Follow::Safe => "safe",
        Follow::All => "all",
    };
    json!({
        "url": r.url, "method": r.method, "headers": r.headers, "body": r.body.is_some(), "timeout": r.timeout,
        "follow": follow, "validate_certs": r.validate_certs, "user": r.username, "password": r.password,
        "agent": r.http_agent, "tag": TAG, "ca": r.ca_path, "cert": r.client_cert, "key": r.client_key, "sock": r.unix_socket,
    })
    .to_string()
}

/// The python client: argv is (config, body file, output file).
const PYTHON: &str = r#"import json,sys,ssl,base64
import urllib.request as U,urllib.error as E
c=json.load(open(sys.argv[1]));T=c['tag']
d=open(sys.argv[2],'rb').read() if c['body'] else None
class R(U.HTTPRedirectHandler):
    def redirect_request(s,q,fp,code,msg,h,new):
        f=c['follow'];m=q.get_method()
        if f=='none' or (f=='safe' and m not in ('GET','HEAD')):
            return None
        if f=='all' and m not in ('GET','HEAD') and code in (307,308):
            return U.Request(new,data=q.data,headers=dict(q.header_items()),method=m)
        return U.HTTPRedirectHandler.redirect_request(s,q,fp,code,msg,h,new)
x=ssl.create_default_context()
if not c['validate_certs']:
    x.check_hostname=False;x.verify_mode=ssl.CERT_NONE
elif c['ca']:
    import os
    x.load_verify_locations(capath=c['ca']) if os.path.isdir(c['ca']) else x.load_verify_locations(cafile=c['ca'])
if c['cert']:
    x.load_cert_chain(c['cert'],c['key'])
hs=[R,U.HTTPSHandler(context=x)]
if c['sock']:
    import http.client,socket
    class S(http.client.HTTPConnection):
        def connect(s):
            s.sock=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM);s.sock.settimeout(c['timeout']);s.sock.connect(c['sock'])
    class SH(U.HTTPHandler):
        def http_open(s,q):
            return s.do_open(S,q)
    hs.append(SH)
o=U.build_opener(*hs)
h={'User-Agent':c['agent']}
h.update(dict(c['headers']))
if c['user'] is not None:
    h['Authorization']='Basic '+base64.b64encode(('%s:%s'%(c['user'],c['password'] or '')).encode()).decode()
q=U.Request(c['url'],data=d,headers=h,method=c['method'])
try:
    r=o.open(q,timeout=c['timeout']);code=r.status;msg='OK (%s bytes)'%r.headers.get('Content-Length','unknown')
except E.HTTPError as e:
    r=e;code=e.code;msg=str(e)
except Exception as e:
    print(T,'status -1');print(T,'err',str(e));sys.exit(0)
print(T,'status',code);print(T,'msg',msg.replace('\n',' '));print(T,'url',r.geturl())
for k,v in r.headers.items():
    print(T,'h',k+': '+' '.join(v.split()))
try:
    with open(sys.argv[3],'wb') as f:
        while True:
            b=r.read(65536)
            if not b:
                break
            f.write(b)
except Exception as e:
    print(T,'err','Reading the response failed: %s'%e)
"#;

/// The shell fragment that makes `req`, writing the body to `out` (a shell word, e.g.
/// `"$t"`), and the bytes to feed it on stdin. It creates `$d` (the caller removes it)
/// and prints [`TAG`] lines; it never exits the script.
pub fn request_script(req: &Request, out: &str) -> (String, Vec<u8>) {
    let parts = [curl_config(req).into_bytes(), wget_config(req).into_bytes(), python_config(req).into_bytes()];
    let mut stdin = Vec::new();
    let mut split = String::from("d=$(mktemp -d) && cat > \"$d/in\" && ");
    let mut offset = 1;
    for (name, p) in ["c", "w", "p"].iter().zip(&parts) {
        split.push_str(&format!("tail -c +{offset} \"$d/in\" | head -c {} > \"$d/{name}\"; ", p.len()));
        offset += p.len();
        stdin.extend_from_slice(p);
    }
    split.push_str(&format!("tail -c +{offset} \"$d/in\" > \"$d/b\"; "));
    if let Some(b) = &req.body {
        stdin.extend_from_slice(b);
    }
    let data = if req.body.is_some() { " --data-binary @\"$d/b\"" } else { "" };
    let head_fix = if req.method == "HEAD" { format!(": > {out}; ") } else { String::new() };
    let curl = format!(
        "m=$(curl -K \"$d/c\"{data} -o {out} -D \"$d/h\" -w '%{{http_code}} %{{num_redirects}} %{{url_effective}}' 2>\"$d/e\"); rc=$?; {head_fix}\
echo \"{TAG} via curl\"; echo \"{TAG} rc $rc\"; echo \"{TAG} w $m\"; sed \"s/^/{TAG} h /\" \"$d/h\" 2>/dev/null; head -n 1 \"$d/e\" | sed \"s/^/{TAG} err /\""
    );
    let wget_method = match req.method.as_str() {
        "HEAD" => "--spider".to_string(),
        m => format!("--method={}", quote(m)),
    };
    let wget_body = if req.body.is_some() { " --body-file=\"$d/b\"" } else { "" };
    let wget = format!(
        "sed -n 's/^url = //p' \"$d/w\" > \"$d/u\"; sed -i 1d \"$d/w\"; wget --config=\"$d/w\" {wget_method}{wget_body} -O {out} -i \"$d/u\" 2>\"$d/e\"; rc=$?; \
echo \"{TAG} via wget\"; echo \"{TAG} rc $rc\"; sed -n \"s/^  /{TAG} h /p\" \"$d/e\"; grep -v '^  ' \"$d/e\" | grep -v '^--' | grep . | tail -n 1 | sed \"s/^/{TAG} err /\""
    );
    let python = format!("echo \"{TAG} via python3\"; python3 -c {} \"$d/p\" \"$d/b\" {out} 2>&1 | sed \"/^{TAG} /!s/^/{TAG} err /\"", quote(PYTHON));
    let script = format!(
        "{split}if command -v curl >/dev/null 2>&1; then {curl}; \
elif {no_wget}command -v wget >/dev/null 2>&1 && wget --version 2>/dev/null | grep -q 'GNU Wget'; then {wget}; \
elif command -v python3 >/dev/null 2>&1; then {python}; \
else echo \"{TAG} err no HTTP client on the host: install curl, wget or python3\"; fi",
        // wget cannot talk over a Unix socket.
        no_wget = if req.unix_socket.is_some() { "false && " } else { "" }
    );
    (script, stdin)
}

/// What came back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// The HTTP status; -1 when no response came (connection refused, timeout, TLS).
    pub status: i64,
    /// The final URL, after redirects.
    pub url: String,
    /// Ansible's `msg`: `OK (N bytes)`, `HTTP Error 404: Not Found`, `Request failed: ...`.
    pub msg: String,
    /// The final response's headers, in order.
    pub headers: Vec<(String, String)>,
    /// Which client made the request (`curl`, `wget`, `python3`).
    pub via: String,
    /// What the client said on failure.
    pub error: Option<String>,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Ansible's `fetch_url` info keys: headers lowercased with `-` as `_`, plus
    /// `status`, `url`, `msg`, `redirected` (compared with `requested`).
    pub fn info(&self, requested: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.headers {
            let key = k.to_ascii_lowercase().replace('-', "_");
            let v = if key == "location" { join_url(&self.url, v) } else { v.clone() };
            m.insert(key, Value::String(v));
        }
        m.insert("status".into(), Value::from(self.status));
        m.insert("url".into(), Value::String(mask_url(if self.url.is_empty() { requested } else { &self.url })));
        m.insert("msg".into(), Value::String(self.msg.clone()));
        m.insert("redirected".into(), Value::Bool(!self.url.is_empty() && self.url != requested));
        m
    }
}

/// A URL with the password of its `user:password@` part masked, as Ansible's
/// `mask_url` does.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:********@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Resolve `reference` (a `Location`) against `base`.
pub fn join_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let Some((scheme, rest)) = base.split_once("://") else { return reference.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    if reference.starts_with('/') {
        return format!("{origin}{reference}");
    }
    let path = rest[authority_end..].split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{origin}{dir}{reference}")
}

/// Read what [`request_script`] printed (other lines are ignored). `requested` is the
/// URL asked for (wget does not print where it ended up: redirects are replayed).
pub fn parse_response(out: &str, requested: &str) -> Response {
    let mut r = Response { status: -1, ..Response::default() };
    let mut reason = String::new();
    let mut errors = vec![];
    let mut curl_w = None;
    let mut url = requested.to_string();
    let mut py_msg = None;
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(TAG).and_then(|l| l.strip_prefix(' ')) else { continue };
        let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
        let value = value.trim_end_matches('\r');
        match key {
            "via" => r.via = value.to_string(),
            "w" => curl_w = Some(value.to_string()),
            "status" => r.status = value.trim().parse().unwrap_or(-1),
            "msg" => py_msg = Some(value.to_string()),
            "url" => r.url = value.to_string(),
            "err" if !value.trim().is_empty() => errors.push(value.trim().to_string()),
            "h" => {
                let v = value.trim_start();
                if v.starts_with("HTTP/") {
                    // A new response (after a redirect): its headers replace the last.
                    if let Some(loc) = r.header("location") {
                        url = join_url(&url, loc);
                    }
                    r.headers.clear();
                    let mut f = v.splitn(3, ' ');
                    f.next();
                    if r.via != "python3" {
                        r.status = f.next().and_then(|s| s.parse().ok()).unwrap_or(-1);
                    }
                    reason = f.next().unwrap_or("").trim().to_string();
                } else if let Some((k, val)) = v.split_once(':') {
                    if !k.is_empty() && !k.contains(' ') {
                        r.headers.push((k.to_string(), val.trim().to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    match r.via.as_str() {
        "curl" => {
            if let Some(w) = curl_w {
                let mut f = w.splitn(3, ' ');
                let code: i64 = f.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                f.next();
                r.status = if code == 0 { -1 } else { code };
                r.url = f.next().unwrap_or(requested).to_string();
            }
        }
        "wget" => {
            // The status line was read from `-S`; the final URL is the last Location
            // followed (only when the last response is not itself a redirect).
            if !(300..400).contains(&r.status) {
                r.url = url;
            } else {
                r.url = requested.to_string();
            }
        }
        _ => {}
    }
    if r.url.is_empty() {
        r.url = requested.to_string();
    }
    r.msg = if r.status < 0 {
        format!("Request failed: {}", if errors.is_empty() { "no response".to_string() } else { errors.join("; ") })
    } else if let Some(m) = py_msg {
        m
    } else if (200..300).contains(&r.status) {
        format!("OK ({} bytes)", r.header("content-length").unwrap_or("unknown"))
    } else {
        format!("HTTP Error {}: {}", r.status, reason)
    };
    if !errors.is_empty() {
        r.error = Some(errors.join("; "));
    }
    if let Some((_, rest)) = requested.split_once("://") {
        if let Some((userinfo, _)) = rest.split(['/', '?', '#']).next().and_then(|a| a.rsplit_once('@')) {
            if let Some((_, pw)) = userinfo.split_once(':').filter(|(_, pw)| !pw.is_empty()) {
                r.msg = r.msg.replace(pw, "********");
                r.error = r.error.map(|e| e.replace(pw, "********"));
            }
        }
    }
    r
}

/// Marks the lines of [`install`]'s script.
pub const INSTALL_TAG: &str = "__provision_install_2b8e__";

/// What [`install`] did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Installed {
    pub changed: bool,
    pub state: PathState,
    pub backup: Option<String>,
    pub md5: Option<String>,
}

/// Put a downloaded temporary file `tmp` (beside `target`) at `target` unless the
/// content is already there — a rename, so readers never see half a file; a replaced
/// file keeps its mode and owner, a new one gets 0644 like Ansible's `atomic_move` —
/// then give `target` the wanted attributes. One round trip, two when attributes change.
pub(crate) async fn install(remote: &dyn Remote, tmp: &str, target: &str, attrs: &Attrs, backup: bool) -> Result<Result<Installed, String>, RemoteError> {
    let backup_cmd = if backup {
        format!("if [ -f \"$p\" ]; then b=\"$p.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p \"$p\" \"$b\" && echo \"{INSTALL_TAG} backup $b\"; fi; ")
    } else {
        String::new()
    };
    // The wanted mode and owner go on the temporary file, so that a new file is right
    // the moment it appears (and no second round trip is needed).
    let attrs_cmd = util::attr_commands("$t", attrs).replace("'$t'", "\"$t\"");
    let attrs_cmd = if attrs_cmd.is_empty() { String::new() } else { format!("{{ {attrs_cmd}:; }} || {{ rm -f \"$t\"; exit 1; }}; ") };
    let script = format!(
        "t={}; p={}; if [ -f \"$p\" ] && cmp -s \"$t\" \"$p\"; then rm -f \"$t\"; echo {INSTALL_TAG} same; else \
if [ -e \"$p\" ]; then chmod \"$(stat -c %a \"$p\")\" \"$t\"; chown \"$(stat -c %u:%g \"$p\")\" \"$t\" 2>/dev/null; else chmod 0644 \"$t\"; fi; \
{attrs_cmd}{backup_cmd}mv -f \"$t\" \"$p\" || {{ rm -f \"$t\"; exit 1; }}; echo {INSTALL_TAG} moved; fi; \
echo \"{INSTALL_TAG} md5 $(md5sum < \"$p\" | cut -d' ' -f1)\"; ({})",
        quote(tmp),
        quote(target),
        util::probe_script(target, false)
    );
    let out = remote.exec(&script, b"").await?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.rc != 0 {
        return Ok(Err(format!("failed to copy {tmp} to {target}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{INSTALL_TAG} {k} "))).map(str::to_string);
    let replaced = text.lines().any(|l| l == format!("{INSTALL_TAG} moved"));
    let mut state = match util::parse_probe(text.as_bytes()) {
        Ok(st) => st,
        Err(e) => return Ok(Err(e)),
    };
    let change = match attr_change(&state, attrs, 0o022) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if !change.is_empty() {
        let cmds = change.commands(&quote(target)).join(" && ");
        let out = remote.exec(&format!("{cmds} && ({})", util::probe_script(target, false)), b"").await?;
        if out.rc != 0 {
            return Ok(Err(format!("failed to set attributes on {target}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        state = util::parse_probe(&out.stdout).unwrap_or(state);
    }
    Ok(Ok(Installed { changed: replaced || !change.is_empty(), state, backup: field("backup"), md5: field("md5") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request { username: Some("me".into()), password: Some("s3cr\"et".into()), ..Request::get("http://h/x?a=1") }
    }

    #[test]
    fn secrets_go_on_stdin_not_in_the_script() {
        let (script, stdin) = request_script(&req(), "\"$d/o\"");
        assert!(!script.contains("s3cr"), "{script}");
        let stdin = String::from_utf8(stdin).unwrap();
        assert!(stdin.contains("user = \"me:s3cr\\\"et\""), "{stdin}");
        assert!(stdin.contains("connect-timeout = 10\nspeed-time = 10\nspeed-limit = 1\n"), "{stdin}");
        assert!(stdin.contains("password = s3cr\"et"), "{stdin}");
        assert!(stdin.contains("\"password\":\"s3cr\\\"et\""), "{stdin}");
        assert!(script.starts_with("d=$(mktemp -d) && cat > \"$d/in\" && tail -c +1 \"$d/in\" | head -c "), "{script}");
    }

    #[test]
    fn the_body_comes_last_on_stdin() {
        let r = Request { method: "POST".into(), body: Some(b"{\"a\":1}".to_vec()), ..Request::get("http://h/") };
        let (script, stdin) = request_script(&r, "\"$d/o\"");
        assert!(stdin.ends_with(b"{\"a\":1}"));
        assert!(script.contains("--data-binary @\"$d/b\""), "{script}");
        assert!(script.contains("--method=POST --body-file=\"$d/b\""), "{script}");
        let offset = stdin.len() - 7 + 1;
        assert!(script.contains(&format!("tail -c +{offset} \"$d/in\" > \"$d/b\"")), "{script}");
        // POST is not followed under `safe`.
        assert!(!String::from_utf8_lossy(&stdin).contains("location\n"));
    }

    #[test]
    fn curl_answers_parse() {
        let out = format!(
            "{TAG} via curl\n{TAG} rc 0\n{TAG} w 200 1 http://h/y\n{TAG} h HTTP/1.0 301 Moved\r\n{TAG} h Location: /y\r\n{TAG} h \r\n\
{TAG} h HTTP/1.0 200 OK\r\n{TAG} h Content-Type: application/json\r\n{TAG} h Content-Length: 7\r\n{TAG} h \r\n"
        );
        let r = parse_response(&out, "http://h/x");
        assert_eq!((r.status, r.url.as_str(), r.msg.as_str()), (200, "http://h/y", "OK (7 bytes)"));
        let info = r.info("http://h/x");
        assert_eq!(info["content_type"], "application/json");
        assert_eq!(info["redirected"], true);
        assert!(info.get("location").is_none());
    }

    #[test]
    fn errors_parse() {
        let out = format!("{TAG} via curl\n{TAG} rc 7\n{TAG} w 000 0 http://h:1/\n{TAG} err curl: (7) Failed to connect\n");
        let r = parse_response(&out, "http://h:1/");
        assert_eq!((r.status, r.msg.as_str()), (-1, "Request failed: curl: (7) Failed to connect"));
        let out = format!("{TAG} via wget\n{TAG} rc 8\n{TAG} h HTTP/1.0 404 File not found\n{TAG} h Server: x\n");
        let r = parse_response(&out, "http://h/n");
        assert_eq!((r.status, r.msg.as_str()), (404, "HTTP Error 404: File not found"));
        let out = format!("{TAG} via python3\n{TAG} status 404\n{TAG} msg HTTP Error 404: File not found\n{TAG} url http://h/n\n{TAG} h Server: x\n");
        let r = parse_response(&out, "http://h/n");
        assert_eq!((r.status, r.msg.as_str(), r.header("server")), (404, "HTTP Error 404: File not found", Some("x")));
    }

    #[test]
    fn wget_replays_redirects() {
        let out = format!("{TAG} via wget\n{TAG} rc 0\n{TAG} h HTTP/1.1 302 Found\n{TAG} h Location: b/c\n{TAG} h HTTP/1.1 200 OK\n");
        let r = parse_response(&out, "http://h/a/x");
        assert_eq!((r.status, r.url.as_str()), (200, "http://h/a/b/c"));
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(mask_url("https://u:pw@h:8/p?q=1"), "https://u:********@h:8/p?q=1");
        assert_eq!(mask_url("https://u@h/"), "https://u@h/");
        assert_eq!(mask_url("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn unix_sockets_skip_wget() {
        let r = Request { unix_socket: Some("/run/docker.sock".into()), ..Request::get("http://localhost/version") };
        let (script, stdin) = request_script(&r, "\"$d/o\"");
        assert!(script.contains("elif false && command -v wget"), "{script}");
        let stdin = String::from_utf8(stdin).unwrap();
        assert!(stdin.contains("unix-socket = \"/run/docker.sock\"") && stdin.contains("\"sock\":\"/run/docker.sock\""), "{stdin}");
    }

    #[test]
    fn urls_join() {
        assert_eq!(join_url("http://h:8/a/b?q", "c"), "http://h:8/a/c");
        assert_eq!(join_url("http://h/a/b", "/c"), "http://h/c");
        assert_eq!(join_url("http://h", "c"), "http://h/c");
        assert_eq!(join_url("http://h/a", "https://o/"), "https://o/");
    }
}
