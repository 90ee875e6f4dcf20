//! `pip`, `get_url` and `uri` against a real host (h5 of the lab fleet), under
//! /tmp/provision-test-net/. Needs `tests/fleet/fleet up`.
//!
//! HTTP goes to servers started on h5 itself, bound to its own 127.0.0.1 (the plain
//! `python3 -m http.server` on ports 18080 and 18082, a small JSON echo server on
//! 18081), stopped when each test ends: the traffic never leaves the host. `pip` installs `six` from PyPI into a venv.
//! The host has python3 but neither curl nor wget, so the modules use their python3
//! client there (curl and wget are exercised against the same servers on the control
//! machine by `http_clients_on_the_control_machine`).

mod common;

use common::*;

const HOST: &str = "h5";
const BASE: &str = "/tmp/provision-test-net";
/// get_url's file server; uri's file server and echo server.
const SERVE: u16 = 18080;
const URI_SERVE: u16 = 18082;
const ECHO: u16 = 18081;

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    shell_on(HOST, cmd)
}

/// A JSON echo server: answers every method with what it got; `/redirect` sends a 302.
const ECHO_PY: &str = r#"import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def answer(self):
        if self.path.startswith('/redirect'):
            self.send_response(302); self.send_header('Location', '/echo?from=redirect'); self.end_headers(); return
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n).decode() if n else ''
        out = json.dumps({'method': self.command, 'path': self.path, 'body': body,
                          'content_type': self.headers.get('Content-Type'), 'auth': self.headers.get('Authorization'),
                          'x_test': self.headers.get('X-Test')}).encode()
        self.send_response(201 if self.command == 'POST' else 200)
        self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(out)))
        self.send_header('Set-Cookie', 'sid=abc; Path=/'); self.end_headers(); self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *a): pass
HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;

/// Servers running on h5 for one test; dropping it (also when the test fails) stops them.
struct Servers(Vec<u16>);

impl Drop for Servers {
    fn drop(&mut self) {
        for port in &self.0 {
            let _ = on_host(&format!("cd {BASE} && test -f {port}.pid && kill $(cat {port}.pid) 2>/dev/null; rm -f {port}.pid; true"));
        }
    }
}

/// Serve {BASE}/www with `python3 -m http.server` on `serve`, and the echo server on
/// `echo`, both bound to h5's own 127.0.0.1.
fn servers(serve: u16, echo: Option<u16>) -> Servers {
    let mut script = format!(
        "set -e; mkdir -p {BASE}/www; cd {BASE}; printf 'hello\\n' > www/hello.txt; printf '{{\"a\": [1, 2], \"b\": \"x\"}}\\n' > www/data.json; \
sha256sum www/hello.txt | sed 's| www/| |' > www/SHA256SUMS; printf '%s' '{}' > echo.py; \
if ! ss -ltn | grep -q ':{serve} '; then setsid nohup python3 -m http.server {serve} --bind 127.0.0.1 --directory {BASE}/www > {serve}.log 2>&1 < /dev/null & echo $! > {serve}.pid; fi; ",
        ECHO_PY.replace('\'', "'\\''")
    );
    let mut ports = vec![serve];
    if let Some(e) = echo {
        script.push_str(&format!("if ! ss -ltn | grep -q ':{e} '; then setsid nohup python3 echo.py {e} > {e}.log 2>&1 < /dev/null & echo $! > {e}.pid; fi; "));
        ports.push(e);
    }
    let wait: Vec<String> = ports.iter().map(|p| format!("ss -ltn | grep -q ':{p} '")).collect();
    script.push_str(&format!("for i in $(seq 50); do {} && exit 0; sleep 0.2; done; exit 1", wait.join(" && ")));
    let (rc, out) = on_host(&script);
    assert_eq!(rc, 0, "{out}");
    Servers(ports)
}

#[test]
fn pip_into_a_venv() {
    let (rc, out) = on_host(
        "dpkg -s python3-venv >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv) >/dev/null",
    );
    assert_eq!(rc, 0, "{out}");
    let venv = format!("{BASE}/venv");
    let (rc, out) = on_host(&format!("rm -rf {venv} {BASE}/req && mkdir -p {BASE}/req && printf 'six==1.16.0\\n' > {BASE}/req/requirements.txt"));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    let pip = |name: &str, args: &str| {
        write_playbook(
            dir.path(),
            HOST,
            name,
            &format!("    - pip:\n{args}        virtualenv: {venv}\n        virtualenv_command: python3 -m venv\n      register: p\n    - debug: var=p\n"),
        )
    };
    let pinned = pip("pinned.yml", "        name: six==1.16.0\n");
    // Check mode predicts (the venv is missing: nothing is created), then twice-run.
    play_on(HOST, &pinned, true, 1);
    let (_, out) = on_host(&format!("test -e {venv} && echo exists || echo missing"));
    assert!(out.contains("missing"), "check mode made the venv: {out}");
    play_on(HOST, &pinned, false, 1);
    play_on(HOST, &pinned, false, 0);
    // PEP 503 names and PEP 440 specifiers: already satisfied, no pip run.
    let spelled = pip("spelled.yml", "        name:\n          - SIX>=1.10,<2\n          - Pip\n");
    play_on(HOST, &spelled, true, 0);
    play_on(HOST, &spelled, false, 0);
    let (_, out) = on_host(&format!("{venv}/bin/pip show six | grep ^Version"));
    assert!(out.contains("Version: 1.16.0"), "{out}");

    // latest: pip decides (check mode asks `pip install --dry-run`).
    let latest = pip("latest.yml", "        name: six\n        state: latest\n");
    play_on(HOST, &latest, true, 1);
    play_on(HOST, &latest, false, 1);
    play_on(HOST, &latest, false, 0);
    play_on(HOST, &latest, true, 0);
    let (_, out) = on_host(&format!("{venv}/bin/pip show six | grep ^Version"));
    assert!(!out.contains("Version: 1.16.0"), "{out}");

    // A requirements file (relative to chdir) takes it back to 1.16.0.
    let req = pip("req.yml", &format!("        requirements: requirements.txt\n        chdir: {BASE}/req\n"));
    play_on(HOST, &req, true, 1);
    play_on(HOST, &req, false, 1);
    play_on(HOST, &req, false, 0);
    play_on(HOST, &req, true, 0);

    let absent = pip("absent.yml", "        name: six\n        state: absent\n");
    play_on(HOST, &absent, true, 1);
    play_on(HOST, &absent, false, 1);
    play_on(HOST, &absent, false, 0);
    let (rc, _) = on_host(&format!("{venv}/bin/pip show six"));
    assert_ne!(rc, 0, "six is still installed");

    // A package PyPI does not have fails with pip's own message.
    let bad = write_playbook(
        dir.path(),
        HOST,
        "bad.yml",
        &format!("    - pip:\n        name: provision-no-such-package-7f3e\n        virtualenv: {venv}\n      register: b\n      ignore_errors: yes\n    - assert:\n        that:\n          - b.failed\n          - \"'provision-no-such-package-7f3e' in b.msg\"\n"),
    );
    play_on(HOST, &bad, false, 0);
}

fn get_url_tasks(d: &str) -> String {
    format!(
        "    - wait_for:\n        port: {SERVE}\n        timeout: 10\n\
\x20   - get_url:\n        url: http://127.0.0.1:{SERVE}/hello.txt\n        dest: {d}/hello.txt\n        checksum: sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n        mode: '0640'\n      register: a\n\
\x20   - get_url:\n        url: http://127.0.0.1:{SERVE}/data.json\n        dest: {d}/\n      register: b\n\
\x20   - get_url:\n        url: http://127.0.0.1:{SERVE}/hello.txt\n        dest: {d}/hello-sums.txt\n        checksum: sha256:http://127.0.0.1:{SERVE}/SHA256SUMS\n      register: c\n\
\x20   - assert:\n        that:\n          - a.dest == '{d}/hello.txt'\n          - b.dest == '{d}/data.json'\n          - c.dest == '{d}/hello-sums.txt'\n\
\x20         - ansible_check_mode or a.mode == '0640'\n          - ansible_check_mode or not a.changed or a.checksum_src == 'f572d396fae9206628714fb2ce00f72e94f2258f'\n"
    )
}

#[test]
fn get_url_from_a_server_on_the_host() {
    let _servers = servers(SERVE, None);
    let d = format!("{BASE}/dl");
    let (rc, out) = on_host(&format!("rm -rf {d} && mkdir -p {d}"));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    let pb = write_playbook(dir.path(), HOST, "get.yml", &get_url_tasks(&d));
    play_on(HOST, &pb, true, 3);
    let (_, out) = on_host(&format!("ls -A {d} | wc -l"));
    assert_eq!(out.lines().last().map(str::trim), Some("0"), "check mode wrote files: {out}");
    play_on(HOST, &pb, false, 3);
    play_on(HOST, &pb, false, 0);
    play_on(HOST, &pb, true, 0);
    let (_, out) = on_host(&format!("cat {d}/hello.txt; stat -c %a {d}/hello.txt; ls -A {d}"));
    assert!(out.contains("hello\n640\n"), "{out}");
    assert!(!out.contains(".provision"), "a temporary file was left: {out}");

    // force: a changed file on the server is fetched again (check mode predicts it);
    // a wrong checksum fails and leaves nothing behind; a 404 fails with the status.
    let (rc, out) = on_host(&format!("printf 'one\\n' > {BASE}/www/force.txt && printf 'one\\n' > {d}/force.txt"));
    assert_eq!(rc, 0, "{out}");
    let force = write_playbook(
        dir.path(),
        HOST,
        "force.yml",
        &format!("    - get_url:\n        url: http://127.0.0.1:{SERVE}/force.txt\n        dest: {d}/force.txt\n        force: yes\n"),
    );
    play_on(HOST, &force, true, 0);
    play_on(HOST, &force, false, 0);
    let (rc, out) = on_host(&format!("printf 'two\\n' > {BASE}/www/force.txt"));
    assert_eq!(rc, 0, "{out}");
    play_on(HOST, &force, true, 1);
    play_on(HOST, &force, false, 1);
    play_on(HOST, &force, false, 0);
    let bad = write_playbook(
        dir.path(),
        HOST,
        "bad.yml",
        &format!(
            "    - get_url:\n        url: http://127.0.0.1:{SERVE}/hello.txt\n        dest: {d}/bad.txt\n        checksum: sha1:0000000000000000000000000000000000000000\n      register: e\n      ignore_errors: yes\n\
\x20   - get_url:\n        url: http://127.0.0.1:{SERVE}/missing\n        dest: {d}/missing\n      register: f\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - e.failed\n          - \"'did not match' in e.msg\"\n          - f.failed\n          - f.status_code == 404\n"
        ),
    );
    play_on(HOST, &bad, false, 0);
    let (_, out) = on_host(&format!("ls -A {d}"));
    assert_eq!(out.lines().filter(|l| l.starts_with(".provision") || l.contains("bad") || l.contains("missing")).count(), 0, "{out}");
}

#[test]
fn uri_against_servers_on_the_host() {
    let _servers = servers(URI_SERVE, Some(ECHO));
    let d = format!("{BASE}/uri");
    let (rc, out) = on_host(&format!("rm -rf {d} {BASE}/www/late.txt && mkdir -p {d}"));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    // GETs only: check mode makes them too (they change nothing) and predicts `dest`.
    let gets = write_playbook(
        dir.path(),
        HOST,
        "gets.yml",
        &format!(
            "    - uri:\n        url: http://127.0.0.1:{URI_SERVE}/hello.txt\n        return_content: yes\n      register: a\n\
\x20   - uri:\n        url: http://127.0.0.1:{URI_SERVE}/data.json\n      register: j\n\
\x20   - uri:\n        url: http://127.0.0.1:{URI_SERVE}/missing\n        status_code: [404]\n      register: n\n\
\x20   - uri:\n        url: http://127.0.0.1:{ECHO}/redirect\n      register: r\n\
\x20   - uri:\n        url: http://127.0.0.1:{URI_SERVE}/hello.txt\n        dest: {d}/hello.txt\n      register: w\n\
\x20     when: not ansible_check_mode\n\
\x20   - assert:\n        that:\n          - a.status == 200\n          - a.content == 'hello\\n'\n          - a.msg == 'OK (6 bytes)'\n          - a.content_length == '6'\n\
\x20         - not a.changed\n          - j.json.a == [1, 2]\n          - j.content_type == 'application/json'\n          - j.content is not defined\n\
\x20         - n.status == 404\n          - not n.failed\n\
\x20         - r.redirected\n          - r.url == 'http://127.0.0.1:{ECHO}/echo?from=redirect'\n          - r.json.path == '/echo?from=redirect'\n"
        ),
    );
    play_on(HOST, &gets, true, 0);
    play_on(HOST, &gets, false, 1);
    play_on(HOST, &gets, false, 0);

    // Other methods, credentials and headers, a failing status, and retries until a
    // file appears on the server.
    let calls = write_playbook(
        dir.path(),
        HOST,
        "calls.yml",
        &format!(
            "    - uri:\n        url: http://127.0.0.1:{ECHO}/items\n        method: POST\n        body_format: json\n        body:\n          name: disk x\n          n: [1, 2]\n        status_code: [200, 201]\n        url_username: me\n        url_password: \"p@ss'w\\\"rd\"\n        headers:\n          X-Test: 'yes'\n      register: p\n\
\x20   - uri:\n        url: http://127.0.0.1:{ECHO}/form\n        method: PUT\n        body_format: form-urlencoded\n        body:\n          a: b c\n          d: '&'\n      register: f\n\
\x20   - uri:\n        url: http://127.0.0.1:{URI_SERVE}/missing\n      register: m\n      ignore_errors: yes\n\
\x20   - shell: (sleep 2; echo late > {BASE}/www/late.txt) > /dev/null 2>&1 &\n\
\x20   - uri:\n        url: http://127.0.0.1:{URI_SERVE}/late.txt\n      register: l\n      until: l.status == 200\n      retries: 20\n      delay: 1\n\
\x20   - assert:\n        that:\n          - p.status == 201\n          - p.json.method == 'POST'\n          - \"p.json.body == '{{\\\"name\\\": \\\"disk x\\\", \\\"n\\\": [1, 2]}}'\"\n\
\x20         - p.json.content_type == 'application/json'\n          - p.json.auth == 'Basic bWU6cEBzcyd3InJk'\n          - p.json.x_test == 'yes'\n          - p.cookies.sid == 'abc'\n\
\x20         - \"f.json.body == 'a=b+c&d=%26'\"\n          - m.failed\n          - \"m.msg == 'Status code was 404 and not [200]: HTTP Error 404: File not found'\"\n\
\x20         - l.status == 200\n          - not l.changed\n"
        ),
    );
    // The shell task is the one change.
    let run = play_with(HOST, &calls, &[], 1);
    // The password never shows in the output.
    assert!(!run.stdout().contains("p@ss"), "{}", run.stdout());
}

/// curl and GNU wget (not on the fleet hosts) against servers on the control machine,
/// through the local connection; PATH is narrowed to hide curl (then wget).
#[test]
fn http_clients_on_the_control_machine() {
    let have = |b: &str| std::process::Command::new("sh").arg("-c").arg(format!("command -v {b}")).output().is_ok_and(|o| o.status.success());
    if !(have("curl") && have("wget") && have("python3") && have("openssl")) {
        eprintln!("skipped: curl, wget, python3 and openssl are needed on the control machine");
        return;
    }
    let dir = tempdir();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(dir.path().join("echo.py"), ECHO_PY).unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;
    let mut echo = std::process::Command::new("python3").arg(dir.path().join("echo.py")).arg(port.to_string()).spawn().expect("start echo server");
    // An HTTPS server with a self-signed certificate (port + 1).
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tls_py = format!(
        "import http.server, ssl\ns = http.server.HTTPServer(('127.0.0.1', {}), http.server.SimpleHTTPRequestHandler)\n\
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain({:?}, {:?})\ns.socket = c.wrap_socket(s.socket, server_side=True)\ns.serve_forever()\n",
        port + 1,
        cert.display().to_string(),
        key.display().to_string()
    );
    std::fs::write(dir.path().join("tls.py"), tls_py).unwrap();
    let mut tls = std::process::Command::new("python3").arg(dir.path().join("tls.py")).current_dir(&www).stderr(std::process::Stdio::null()).spawn().expect("start TLS server");
    // Each client: a tree of links to the control machine's tools, minus the ones hidden.
    let mut results = vec![];
    for hide in [&[][..], &["curl"][..], &["curl", "wget"][..]] {
        let bin = dir.path().join(format!("bin-{}", hide.len()));
        std::fs::create_dir_all(&bin).unwrap();
        for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let name = e.file_name();
                if hide.iter().any(|h| name == *h) || bin.join(&name).exists() {
                    continue;
                }
                let target = std::fs::canonicalize(e.path()).unwrap_or(e.path());
                let _ = std::os::unix::fs::symlink(target, bin.join(&name));
            }
        }
        let pb = dir.path().join(format!("local-{}.yml", hide.len()));
        let out = dir.path().join(format!("out-{}", hide.len()));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            &pb,
            format!(
                "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n\
\x20   - wait_for:\n        port: {port}\n        timeout: 10\n\
\x20   - uri:\n        url: http://127.0.0.1:{port}/redirect\n      register: r\n\
\x20   - uri:\n        url: http://127.0.0.1:{port}/items\n        method: POST\n        body_format: json\n        body: {{a: 1}}\n        status_code: 201\n        url_username: me\n        url_password: pw\n      register: p\n\
\x20   - get_url:\n        url: http://127.0.0.1:{port}/x/file.json\n        dest: {out}/\n      register: g\n\
\x20   - wait_for:\n        port: {tls_port}\n        timeout: 10\n\
\x20   - uri:\n        url: https://127.0.0.1:{tls_port}/hello.txt\n      register: untrusted\n      ignore_errors: yes\n\
\x20   - uri:\n        url: https://127.0.0.1:{tls_port}/hello.txt\n        ca_path: {cert}\n        return_content: yes\n      register: trusted\n\
\x20   - uri:\n        url: https://127.0.0.1:{tls_port}/hello.txt\n        validate_certs: no\n      register: unchecked\n\
\x20   - assert:\n        that:\n          - r.redirected and r.json.path == '/echo?from=redirect'\n          - p.json.auth == 'Basic bWU6cHc='\n          - \"p.json.body == '{{\\\"a\\\": 1}}'\"\n\
\x20         - g.changed and g.dest == '{out}/file.json'\n          - r.via == '{via}'\n\
\x20         - untrusted.failed and untrusted.status == -1\n          - trusted.content == 'hello\\n'\n          - unchecked.status == 200\n",
                tls_port = port + 1,
                cert = cert.display(),
                out = out.display(),
                via = ["curl", "wget", "python3"][hide.len()],
            ),
        )
        .unwrap();
        let path = format!("{}:/usr/sbin:/sbin", bin.display());
        let run = provision_in(dir.path(), [pb.to_str().unwrap()], &[("PATH", &path)]);
        results.push((hide.len(), run.code(), run.stdout()));
    }
    for child in [&mut echo, &mut tls] {
        let _ = child.kill();
        let _ = child.wait();
    }
    for (n, code, stdout) in results {
        assert_eq!(code, 0, "client {n}:\n{stdout}");
        assert_eq!(recap_of(&stdout, "localhost"), (9, 1, 0), "client {n}:\n{stdout}");
    }
}
