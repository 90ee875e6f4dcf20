//! Fleet tests for the account modules `group`, `user` and `authorized_key`, on one host
//! (h2). One test walks a user's life: a playbook creates group `ptest`, user `ptest`
//! (bash, in `ptest`, with a password hash) and authorizes the fleet's key for it, run
//! with `--check` (changed=3, nothing done), for real (changed=3) and again (changed=0);
//! then the user logs in over SSH with that key; then `exclusive` leaves only another
//! key, and the login is refused; then the account is removed (changed, then 0).
//! Needs `tests/fleet/fleet up`.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const HOST: &str = "h2";

/// `openssl passwd -6 -salt ptestsalt ptest-pass`.
const HASH: &str = "$6$ptestsalt$QOZ0SKpn1YJz91S9PziNabPh83yM9ZeDGtbTQUw/csFaAWWjohPlk4f0b0knAmkZKdGEz.LRAFQfW4KeLDKbX/";

/// A second key, never used to log in.
const OTHER_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEQQ5ca6WCc0 second@test";

fn inventory() -> String {
    fleet().inventory.display().to_string()
}

/// Run shell text on the host as root (ad hoc), which must succeed; its stdout.
fn shell(script: &str) -> String {
    let run = provision([HOST, "-i", &inventory(), "-m", "shell", "-a", script]);
    run.expect_code(0);
    run.stdout()
}

fn write_playbook(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write playbook");
    path
}



/// `id -un` run over SSH as `ptest` with the fleet's key.
/// A fresh login as ptest: not through a connection an earlier run kept (which, as with
/// Ansible's ControlPersist, outlives a removed key).
fn login_as_ptest(dir: &Path) -> Run {
    let inv = inventory_for(dir, &[2], "ptest", "");
    provision_in(dir, ["all", "-i", &inv.display().to_string(), "-a", "id -un"], &[("PROVISION_CONTROL_PERSIST", "0")])
}

#[test]
fn user_group_and_key_lifecycle() {
    let f = fleet();
    let public_key = std::fs::read_to_string(f.key.with_extension("pub")).expect("fleet public key");
    let public_key = public_key.trim();
    shell("userdel -r ptest 2>/dev/null; groupdel ptest 2>/dev/null; true");
    let tmp = tempdir();

    let create = write_playbook(
        tmp.path(),
        "create.yml",
        &format!(
            r#"- hosts: {HOST}
  gather_facts: false
  tasks:
    - name: the group
      group:
        name: ptest
    - name: the user, with a password hash
      user:
        name: ptest
        shell: /bin/bash
        groups: [ptest]
        password: '{HASH}'
    - name: the fleet's key may log in as ptest
      authorized_key:
        user: ptest
        key: '{public_key}'
"#
        ),
    );
    play_with(HOST, &create, &["--check"], 3);
    assert_eq!(shell("getent passwd ptest || echo none").lines().last(), Some("none"), "--check created the user");
    play_with(HOST, &create, &[], 3);
    play_with(HOST, &create, &[], 0);

    let facts = shell("getent passwd ptest | cut -d: -f7; id -Gn ptest; getent shadow ptest | cut -d: -f2; stat -c '%a %U' /home/ptest/.ssh /home/ptest/.ssh/authorized_keys");
    for want in ["/bin/bash", "ptest", HASH, "700 ptest", "600 ptest"] {
        assert!(facts.contains(want), "expected `{want}` on the host:\n{facts}");
    }

    let login = login_as_ptest(tmp.path());
    login.expect_code(0);
    assert!(login.stdout().contains("ptest"), "{}", login.stdout());

    let exclusive = write_playbook(
        tmp.path(),
        "exclusive.yml",
        &format!(
            r#"- hosts: {HOST}
  gather_facts: false
  tasks:
    - authorized_key:
        user: ptest
        key: '{OTHER_KEY}'
        exclusive: true
"#
        ),
    );
    play_with(HOST, &exclusive, &["--check"], 1);
    play_with(HOST, &exclusive, &[], 1);
    play_with(HOST, &exclusive, &[], 0);
    let keys = shell("cat /home/ptest/.ssh/authorized_keys");
    assert!(keys.contains("second@test") && !keys.contains("provision-fleet"), "{keys}");
    let refused = login_as_ptest(tmp.path());
    assert_ne!(refused.code(), 0, "the fleet's key still logs in:\n{}", refused.stdout());

    let remove = write_playbook(
        tmp.path(),
        "remove.yml",
        &format!(
            r#"- hosts: {HOST}
  gather_facts: false
  tasks:
    - user:
        name: ptest
        state: absent
        remove: true
    - group:
        name: ptest
        state: absent
"#
        ),
    );
    play_with(HOST, &remove, &["--check"], 2);
    play_with(HOST, &remove, &[], 2);
    play_with(HOST, &remove, &[], 0);
    assert_eq!(shell("getent passwd ptest || echo none; test -e /home/ptest || echo gone").trim_end().lines().rev().take(2).collect::<Vec<_>>(), ["gone", "none"]);
}
