//! Connections kept for the next run (`control_persist`, Ansible's `ControlPersist=60s`):
//! a second run goes through the first run's connection, `control_persist = 0` and
//! `meta: reset_connection` log in afresh, and a master ends when idle. Needs the fleet;
//! reads only, on h4. Each test has its own cache directory (`XDG_CACHE_HOME`), so its
//! masters are its own.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// `SSH_CONNECTION` as the host saw each command: the client's port names the TCP
/// connection.
fn client_ports(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split("conn=").nth(1))
        .map(|rest| rest.split_whitespace().nth(1).unwrap_or_default().to_string())
        .collect()
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let mut all = vec![("XDG_CACHE_HOME", cache), ("PROVISION_TRACE", "1")];
    all.extend_from_slice(env);
    provision_in(dir, args, &all)
}

fn sockets(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("cache/provision/cp"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default()
}

const ECHO: &[&str] = &["-m", "shell", "-a", "echo conn=$SSH_CONNECTION"];

#[test]
fn a_second_run_goes_through_the_connection_the_first_kept() {
    let f = fleet();
    let dir = tempdir();
    let inv = f.inventory.to_str().unwrap();
    let args: Vec<&str> = ["h4", "-i", inv].iter().copied().chain(ECHO.iter().copied()).collect();
    let first = run(dir.path(), &args, &[]);
    first.expect_code(0);
    assert!(first.stderr().contains("h4 started a connection master"), "{}", first.stderr());
    let sock = sockets(dir.path());
    assert_eq!(sock.len(), 1, "one master socket: {sock:?}");
    let meta = std::fs::metadata(dir.path().join("cache/provision/cp")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o700, "a private directory");

    let second = run(dir.path(), &args, &[]);
    second.expect_code(0);
    assert!(second.stderr().contains("h4 reused the connection master"), "{}", second.stderr());
    let (a, b) = (client_ports(&first.stdout()), client_ports(&second.stdout()));
    assert_eq!(a.len(), 1, "{}", first.stdout());
    assert_eq!(a, b, "the same TCP connection");

    // Without: a login of its own, and nothing kept.
    let cold = run(dir.path(), &args, &[("PROVISION_CONTROL_PERSIST", "0")]);
    cold.expect_code(0);
    assert!(!cold.stderr().contains("connection master"), "{}", cold.stderr());
    assert_ne!(client_ports(&cold.stdout()), a, "a connection of its own");
    assert_eq!(sockets(dir.path()), sock, "no other master");
}

#[test]
fn reset_connection_logs_in_afresh() {
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        "h4",
        "reset.yml",
        "    - shell: echo conn=$SSH_CONNECTION\n      register: a\n    - meta: reset_connection\n    - shell: echo conn=$SSH_CONNECTION\n      register: b\n    - debug:\n        msg: \"before conn={{ a.stdout.split('=')[1] }} after conn={{ b.stdout.split('=')[1] }}\"\n",
    );
    let out = run(dir.path(), &[pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()], &[]);
    out.expect_code(0);
    let line = out.stdout().lines().find(|l| l.contains("before conn=")).map(str::to_string).unwrap_or_else(|| panic!("{}", out.stdout()));
    let port_of = |tag: &str| line.split(tag).nth(1).and_then(|r| r.split_whitespace().nth(1)).map(str::to_string);
    let (before, after) = (port_of("before conn="), port_of("after conn="));
    assert!(before.is_some() && after.is_some(), "{line}");
    assert_ne!(before, after, "a new connection after reset_connection: {line}");
}

#[test]
fn an_idle_master_ends_and_removes_its_socket() {
    let f = fleet();
    let dir = tempdir();
    let inv = f.inventory.to_str().unwrap();
    run(dir.path(), &["h4", "-i", inv, "-m", "ping"], &[("PROVISION_CONTROL_PERSIST", "1")]).expect_code(0);
    assert_eq!(sockets(dir.path()).len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sockets(dir.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sockets(dir.path()).is_empty(), "the socket of an idle master is removed: {:?}", sockets(dir.path()));
    // The next run starts a new one.
    let again = run(dir.path(), &["h4", "-i", inv, "-m", "ping"], &[("PROVISION_CONTROL_PERSIST", "1")]);
    again.expect_code(0);
    assert!(again.stderr().contains("started a connection master"), "{}", again.stderr());
}

#[test]
fn an_unreachable_host_is_reported_through_the_master() {
    let dir = tempdir();
    let f = fleet();
    // A port nothing listens on.
    let inv = dir.path().join("inv.yml");
    std::fs::write(
        &inv,
        format!(
            "all:\n  hosts:\n    nowhere:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n      ansible_user: root\n      ansible_ssh_private_key_file: {}\n",
            f.key.display()
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["all", "-i", inv.to_str().unwrap(), "-m", "ping"], &[]);
    out.expect_code(4);
    assert!(out.stdout().contains("nowhere | UNREACHABLE!"), "{}", out.stdout());
    assert!(out.stdout().contains("port 1"), "{}", out.stdout());
    assert!(sockets(dir.path()).is_empty(), "no master for a host it could not reach");
}

/// Unpauses the host when the test ends, however it ends.
struct Paused(&'static str);

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["unpause", self.0]).status();
    }
}

#[test]
fn a_kept_connection_that_stopped_answering_is_given_up() {
    let f = fleet();
    let dir = tempdir();
    let inv = f.inventory.to_str().unwrap();
    run(dir.path(), &["h5", "-i", inv, "-m", "ping"], &[]).expect_code(0);
    assert_eq!(sockets(dir.path()).len(), 1);
    // A host that stops answering, its TCP connection still open (a frozen machine).
    let ok = std::process::Command::new("docker").args(["pause", "provision-h5"]).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "docker pause provision-h5");
    let paused = Paused("provision-h5");
    let cache = dir.path().join("cache");
    let mut child = spawn_provision(&["h5", "-i", inv, "-m", "ping", "-T", "3"], &[("XDG_CACHE_HOME", cache.to_str().unwrap())]);
    // Not a speed test: the run must end (UNREACHABLE) instead of waiting on the master.
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let ended = child.try_wait().unwrap().is_some();
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    drop(paused);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(ended, "the run hung on a kept connection that does not answer: {stdout}");
    assert_eq!(out.status.code(), Some(4), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("h5 | UNREACHABLE!"), "{stdout}");
    // The host is back: the next run gets a new connection.
    let mut back = run(dir.path(), &["h5", "-i", inv, "-m", "ping"], &[]);
    for _ in 0..20 {
        if back.code() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        back = run(dir.path(), &["h5", "-i", inv, "-m", "ping"], &[]);
    }
    back.expect_code(0);
}
