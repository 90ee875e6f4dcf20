//! `reboot` and `wait_for_connection` on a real host: h5 of the lab fleet is restarted
//! (its container comes back by its restart policy) and the play goes on over a new
//! connection. Its own test binary, so no other test uses the host meanwhile.

mod common;

use common::*;

/// h5, or the host named by PROVISION_REBOOT_HOST (one not used by other work meanwhile).
fn host() -> String {
    std::env::var("PROVISION_REBOOT_HOST").unwrap_or_else(|_| "h5".into())
}

#[test]
fn reboot_restarts_the_host_and_the_play_continues() {
    let host = host();
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        &host,
        "reboot.yml",
        "    - command: cut -d' ' -f22 /proc/1/stat\n      register: before\n      changed_when: false\n\
\x20   - name: check mode predicts a reboot and does none\n      reboot:\n      check_mode: true\n      register: predicted\n\
\x20   - command: cut -d' ' -f22 /proc/1/stat\n      register: same\n      changed_when: false\n\
\x20   - reboot:\n        reboot_timeout: 180\n        msg: provision test reboot\n      register: rb\n\
\x20   - command: cut -d' ' -f22 /proc/1/stat\n      register: after\n      changed_when: false\n\
\x20   - wait_for_connection:\n        timeout: 30\n      register: w\n\
\x20   - assert:\n        that:\n          - predicted is changed\n          - same.stdout == before.stdout\n          - rb.rebooted\n          - rb.elapsed >= 0\n          - after.stdout != before.stdout\n          - not w.changed\n",
    );
    // check-mode reboot + the real one: two changed tasks.
    let run = play_with(&host, &pb, &[], 2);
    assert!(run.stdout().contains("TASK [reboot]"), "{}", run.stdout());
}

#[test]
fn wait_for_connection_gives_up_on_a_dead_port() {
    let dir = tempdir();
    let inv = dir.path().join("dead.yml");
    std::fs::write(
        &inv,
        "all:\n  hosts:\n    nowhere:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n      ansible_user: root\n",
    )
    .unwrap();
    let pb = dir.path().join("wait.yml");
    std::fs::write(&pb, "- hosts: nowhere\n  gather_facts: false\n  tasks:\n    - wait_for_connection:\n        timeout: 2\n        sleep: 1\n").unwrap();
    let run = provision([pb.to_str().unwrap(), "-i", inv.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}{}", run.stdout(), run.stderr());
    assert!(run.stdout().contains("timed out waiting for connection"), "{}", run.stdout());
}
