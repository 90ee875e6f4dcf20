//! Ctrl-C (SIGINT) during a run, on h5: the remote commands are stopped, nothing is left
//! behind on the host, the recap and the reports are written, the run lock is released,
//! and the exit status is 99 (ansible-playbook's on KeyboardInterrupt).

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;

const DIR: &str = "/tmp/provision-test-interrupt";

/// A shell command on h5; its stdout.
fn on_h5(cmd: &str) -> String {
    let f = fleet();
    let run = provision(["h5", "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    assert!(run.code() == 0, "`{cmd}` on h5: {}\n{}", run.stdout(), run.stderr());
    run.stdout()
}

/// Start provision with these arguments, its output captured.
fn start(args: &[&str]) -> Child {
    spawn_provision(args, &[])
}

fn sigint(child: &Child) {
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
}

/// Wait (up to two minutes) until `check` on h5 prints something.
fn wait_on_h5(check: &str, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        let out = on_h5(&format!("{check} || true"));
        if out.lines().skip(1).any(|l| !l.trim().is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} never showed on h5");
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The tests share h5's `sleep 300`: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_at_a_time()
}

const SLEEPER: &str = "pgrep -f 'sleep 3[0]0'";

#[test]
fn ctrl_c_stops_the_remote_command_prints_the_recap_and_exits_99() {
    let _one = serial();
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        "h5",
        "long.yml",
        "    - name: first\n      command: \"true\"\n    - name: long\n      command: sleep 300\n    - name: after\n      command: \"true\"\n",
    );
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");
    on_h5(&format!("pkill -f 'sleep 3[0]0'; mkdir -p {DIR}"));
    let child = start(&[pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap(), "--junit", junit.to_str().unwrap(), "--summary", json.to_str().unwrap()]);
    wait_on_h5(SLEEPER, "the `sleep 300` task");
    sigint(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 99, "--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
    assert!(stderr.contains("[ERROR]: User interrupted execution"), "{stderr}");
    // What was done, and no task after the interrupted one.
    assert!(stdout.contains("TASK [long]") && !stdout.contains("TASK [after]"), "{stdout}");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    assert_eq!(recap_of(&stdout, "h5"), (1, 1, 1), "{stdout}");
    // The reports are written.
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written");
    assert!(xml.contains("<testsuite") && xml.contains("long"), "{xml}");
    assert!(json.exists(), "the summary is written");
    // Nothing left running on the host.
    let left = on_h5(&format!("{SLEEPER} || echo none"));
    assert!(left.contains("none"), "the remote command survived: {left}");
    // The run lock was released: a run that will not wait for it gets it.
    let quick = write_playbook(dir.path(), "h5", "quick.yml", "    - command: \"true\"\n");
    let run = provision([quick.to_str().unwrap(), "-i", f.inventory.to_str().unwrap(), "--lock-wait", "0"]);
    run.expect_code(0);
}

#[test]
fn an_interrupted_copy_leaves_no_temporary_file_and_no_target() {
    let _one = serial();
    let f = fleet();
    let dir = tempdir();
    let big = dir.path().join("big.bin");
    // Big enough to be interrupted mid-transfer.
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(300 << 20).unwrap();
    on_h5(&format!("rm -rf {DIR}/copy; mkdir -p {DIR}/copy"));
    let pb = write_playbook(dir.path(), "h5", "copy.yml", &format!("    - copy:\n        src: {}\n        dest: {DIR}/copy/big.bin\n", big.display()));
    let child = start(&[pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]);
    wait_on_h5(&format!("ls -A {DIR}/copy | grep '^[.]provision'"), "the temporary file of `copy`");
    sigint(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 99, "--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    let left = on_h5(&format!("ls -A {DIR}/copy; echo end"));
    assert!(!left.contains(".provision") && !left.contains("big.bin"), "left on the host: {left}");
    on_h5(&format!("rm -rf {DIR}/copy"));
}

#[test]
fn ctrl_c_stops_an_adhoc_command() {
    let _one = serial();
    let f = fleet();
    on_h5("pkill -f 'sleep 3[0]0'; true");
    let child = start(&["h5", "-i", f.inventory.to_str().unwrap(), "-m", "command", "-a", "sleep 300"]);
    wait_on_h5(SLEEPER, "the ad-hoc `sleep 300`");
    sigint(&child);
    let (code, _stdout, stderr) = finish(child);
    assert_eq!(code, 99, "{stderr}");
    assert!(stderr.contains("User interrupted execution"), "{stderr}");
    let left = on_h5(&format!("{SLEEPER} || echo none"));
    assert!(left.contains("none"), "the remote command survived: {left}");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let _one = serial();
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "h5", "wait.yml", "    - name: long\n      command: sleep 300\n");
    on_h5("pkill -f 'sleep 3[0]0'; true");
    let child = start(&[pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]);
    wait_on_h5(SLEEPER, "the `sleep 300` task");
    sigint(&child);
    sigint(&child);
    let (code, _stdout, stderr) = finish(child);
    assert_eq!(code, 99, "{stderr}");
    assert!(stderr.contains("[ERROR]: User interrupted execution"), "{stderr}");
    on_h5("pkill -f 'sleep 3[0]0'; true");
}

/// A non-root login with `become` (sudo): the command runs as root under `sudo`, which
/// the login user cannot signal; the signalling command runs with the same `become`.
#[test]
fn ctrl_c_stops_a_command_run_with_become() {
    let _one = serial();
    let dir = tempdir();
    let inv = inventory_for(dir.path(), &[5], "bob", "ansible_become: true");
    let pb = write_playbook(dir.path(), "h5", "become.yml", "    - name: long\n      shell: \"sleep 300; echo never\"\n");
    on_h5("pkill -f 'sleep 3[0]0'; true");
    // (--no-lock: the run lock is about root's runs on this host, not what is tested here.)
    let child = start(&[pb.to_str().unwrap(), "-i", inv.to_str().unwrap(), "--no-lock"]);
    wait_on_h5(SLEEPER, "the `sleep 300` task under sudo");
    sigint(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 99, "--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    let left = on_h5(&format!("{SLEEPER} || echo none"));
    assert!(left.contains("none"), "the remote command survived: {left}");
}
