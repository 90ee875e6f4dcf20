//! Shared helpers for the integration tests: the binary, the fleet, temp inventories.
//!
//! Fleet tests need the hosts started by `tests/fleet/fleet up` (the README's test
//! command, `tests/run`, does that first). They reach hosts only on 127.0.0.1 ports.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fleet's files, checked to exist.
pub struct Fleet {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub inventory: PathBuf,
}

pub const PORT_BASE: u16 = 22200;
pub const ALICE_PASSWORD: &str = "alice-pass";

pub fn fleet() -> Fleet {
    let dir = root().join(".fleet");
    let f = Fleet {
        key: dir.join("keys/id_ed25519"),
        known_hosts: dir.join("known_hosts"),
        inventory: root().join("inventory/lab.yml"),
        dir,
    };
    assert!(
        f.inventory.exists() && f.key.exists() && f.known_hosts.exists(),
        "the test fleet is not up: run `tests/fleet/fleet up` (or the README's test command `tests/run`)"
    );
    f
}

pub fn port(host: usize) -> u16 {
    PORT_BASE + host as u16
}

/// Run the provision binary.
pub fn provision<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    provision_in(&root(), args, &[])
}

pub fn provision_in<I, S>(dir: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provision"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1").env_remove("ANSIBLE_INVENTORY").env_remove("SSH_AUTH_SOCK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run provision");
    Run { elapsed: start.elapsed(), out }
}

pub struct Run {
    pub out: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panic with the whole output unless the exit status is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "exit status\n--- stdout:\n{}\n--- stderr:\n{}", self.stdout(), self.stderr());
        self
    }
}

/// A temporary directory that lives as long as the value.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A YAML inventory for fleet hosts with the given extra host variables (YAML text,
/// indented under each host).
pub fn inventory_for(dir: &Path, hosts: &[usize], user: &str, extra: &str) -> PathBuf {
    let f = fleet();
    let mut text = String::from("all:\n  hosts:\n");
    for &h in hosts {
        text.push_str(&format!(
            "    h{h}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: {user}\n      ansible_ssh_private_key_file: {}\n      ansible_ssh_common_args: -o UserKnownHostsFile={}\n",
            port(h),
            f.key.display(),
            f.known_hosts.display()
        ));
        for line in extra.lines() {
            text.push_str(&format!("      {line}\n"));
        }
    }
    let path = dir.join("inventory.yml");
    std::fs::write(&path, text).expect("write inventory");
    path
}

/// Write a one-play playbook for `host` (no facts) with `tasks` (YAML, indented four).
pub fn write_playbook(dir: &Path, host: &str, name: &str, tasks: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("- hosts: {host}\n  gather_facts: no\n  tasks:\n{tasks}")).expect("write playbook");
    path
}

/// `(ok, changed, failed)` of `host`'s PLAY RECAP line.
pub fn recap_of(stdout: &str, host: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host) && l.contains(" ok="))
        .unwrap_or_else(|| panic!("no recap for {host} in:\n{stdout}"));
    let count = |key: &str| -> usize {
        line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    (count("ok="), count("changed="), count("failed="))
}

/// Run a playbook on the lab fleet with `extra` flags; it must succeed with `changed`
/// changes and no failure on `host`.
pub fn play_with(host: &str, playbook: &Path, extra: &[&str], changed: usize) -> Run {
    play_from(&root(), host, playbook, extra, changed)
}

/// [`play_with`], run from the directory `cwd` (for relative paths in the playbook).
pub fn play_from(cwd: &Path, host: &str, playbook: &Path, extra: &[&str], changed: usize) -> Run {
    let f = fleet();
    let mut args = vec![playbook.display().to_string(), "-i".into(), f.inventory.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = provision_in(cwd, &args, &[]);
    let (_, c, failed) = recap_of(&run.stdout(), host);
    assert_eq!((c, failed), (changed, 0), "`provision {}` recap\n--- stdout:\n{}\n--- stderr:\n{}", args.join(" "), run.stdout(), run.stderr());
    run.expect_code(0);
    run
}

/// [`play_with`] with `--check` or without; returns how long it took.
pub fn play_on(host: &str, playbook: &Path, check: bool, changed: usize) -> Duration {
    play_with(host, playbook, if check { &["--check"] } else { &[] }, changed).elapsed
}

/// Python for a host: JupyterHub's login page on `port`, then a login as `user` with
/// `password` (the form's _xsrf token included); prints `GET <status>`, `POST <status>
/// <Location>` and `COOKIES <names>`.
pub fn hub_login_script(port: u16, user: &str, password: &str) -> String {
    format!(
        r#"import http.cookiejar, re, urllib.parse, urllib.request
base = "http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
page = opener.open(base + "/hub/login")
print("GET", page.status)
html = page.read().decode()
m = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
form = {{"username": "{user}", "password": "{password}"}}
if m:
    form["_xsrf"] = m.group(1)
try:
    r = opener.open(base + "/hub/login?next=", data=urllib.parse.urlencode(form).encode())
    status, headers = r.status, r.headers
except urllib.error.HTTPError as e:
    status, headers = e.code, e.headers
print("POST", status, headers.get("Location"))
print("COOKIES", " ".join(sorted(c.name for c in jar)))
"#
    )
}

/// Run `cmd` with the shell module on one fleet host: its exit status and its output
/// (the `host | CHANGED | rc=0 >>` line included).
pub fn shell_on(host: &str, cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([host, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    (run.code(), run.stdout())
}

/// A fresh, empty directory `base/name` on a fleet host.
pub fn fresh_host_dir(host: &str, base: &str, name: &str) -> String {
    let d = format!("{base}/{name}");
    let (rc, out) = shell_on(host, &format!("rm -rf {d} && mkdir -p {d}"));
    assert_eq!(rc, 0, "{out}");
    d
}

/// Start provision in the background (from the repository root), its output captured.
pub fn spawn_provision(args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provision"));
    cmd.args(args).current_dir(root()).env("NO_COLOR", "1").env_remove("SSH_AUTH_SOCK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("start provision")
}

/// For the tests of one test binary that share something on a host (a process, the run
/// lock, apt's cache): hold it while that part runs, and they take turns.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
