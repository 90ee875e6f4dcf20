//! The run lock: a second playbook run on a host that another run holds fails at once
//! naming the holder, or waits with --lock-wait; the lock goes with the run. On h2.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const HOST: &str = "h2";

fn start_holder(pb: &std::path::Path) -> std::process::Child {
    let f = fleet();
    Command::new(env!("CARGO_BIN_EXE_provision"))
        .args([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the first run")
}

/// Wait until the first run holds the lock (its info file names it).
fn wait_for_holder() {
    let f = fleet();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", "cat /run/lock/provision.lock.info"]);
        if run.code() == 0 && run.stdout().contains(" by ") {
            return;
        }
        assert!(Instant::now() < deadline, "the first run never took the lock: {}", run.stdout());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_second_run_fails_naming_the_holder_then_waits_when_asked() {
    let dir = tempdir();
    let slow = write_playbook(dir.path(), HOST, "slow.yml", "    - command: sleep 6\n      changed_when: false\n");
    let quick = write_playbook(dir.path(), HOST, "quick.yml", "    - command: 'true'\n      changed_when: false\n");
    let f = fleet();
    let inv = f.inventory.to_str().unwrap();

    let mut first = start_holder(&slow);
    wait_for_holder();
    // At once: fails, says who holds the lock.
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--lock-wait", "0"]);
    assert_eq!(run.code(), 2, "{}\n{}", run.stdout(), run.stderr());
    assert!(run.stdout().contains("the run lock on this host is held by"), "{}", run.stdout());
    assert!(run.stdout().contains(&format!("pid {}", first.id())), "the holder's pid is named: {}", run.stdout());
    // --no-lock runs anyway (ad-hoc commands never lock).
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--no-lock"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    // Waiting: it goes on once the first run is over.
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--lock-wait", "60"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert!(run.stderr().contains("the run lock is held by"), "{}", run.stderr());
    let status = first.wait().unwrap();
    assert!(status.success());
    // The first run released it: a run takes it at once.
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--lock-wait", "0"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    a_killed_run_leaves_no_lock_and_break_lock_ends_a_holder();
}

/// Part of the test above (one test, so that the two never hold the lock at once).
fn a_killed_run_leaves_no_lock_and_break_lock_ends_a_holder() {
    let dir = tempdir();
    let slow = write_playbook(dir.path(), HOST, "slow2.yml", "    - command: sleep 8\n      changed_when: false\n");
    let quick = write_playbook(dir.path(), HOST, "quick2.yml", "    - command: 'true'\n      changed_when: false\n");
    let f = fleet();
    let inv = f.inventory.to_str().unwrap();

    let mut first = start_holder(&slow);
    wait_for_holder();
    first.kill().unwrap();
    let _ = first.wait();
    // The connection is gone, so is the lock (sshd ends the holder's process).
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--lock-wait", "0"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());

    let mut second = start_holder(&slow);
    wait_for_holder();
    let run = provision([quick.to_str().unwrap(), "-i", inv, "--break-lock", "--lock-wait", "0"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert!(run.stderr().contains("broke the run lock held by"), "{}", run.stderr());
    let _ = second.kill();
    let _ = second.wait();
}
