//! `wait_for`, `timezone` and `unarchive` against a real host (h4 of the lab fleet),
//! under /tmp/provision-test-more/. Needs `tests/fleet/fleet up`.

mod common;

use common::*;

const HOST: &str = "h4";
const BASE: &str = "/tmp/provision-test-more";

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    (run.code(), run.stdout())
}

/// A fresh directory on the host for one test.
fn host_dir(name: &str) -> String {
    let d = format!("{BASE}/{name}");
    let (rc, out) = on_host(&format!("rm -rf {d} && mkdir -p {d}"));
    assert_eq!(rc, 0, "{out}");
    d
}

#[test]
fn wait_for_paths_and_ports() {
    let d = host_dir("wait_for");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "wait.yml",
        &format!(
            "    - shell: (sleep 1; echo 'ready on 8123' > {d}/flag) > /dev/null 2>&1 &\n\
\x20   - wait_for:\n        path: {d}/flag\n        search_regex: 'ready on (\\d+)'\n        timeout: 20\n      register: w\n\
\x20   - assert:\n        that:\n          - not w.changed\n          - w.match_groups == ['8123']\n          - w.path == '{d}/flag'\n\
\x20   - wait_for:\n        port: 22\n        timeout: 5\n      register: p\n\
\x20   - assert:\n        that:\n          - p.port == 22\n          - p.state == 'started'\n\
\x20   - wait_for:\n        port: 1\n        timeout: 1\n      register: n\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - n.failed\n          - n.msg == 'Timeout when waiting for 127.0.0.1:1'\n"
        ),
    );
    // The shell task reports a change; wait_for never does.
    play_on(HOST, &pb, false, 1);
}

#[test]
fn timezone_sets_and_restores() {
    let (rc, out) = on_host("test -d /usr/share/zoneinfo/Europe || (apt-get update && apt-get install -y tzdata)");
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    let set = write_playbook(dir.path(), HOST, "tz.yml", "    - timezone:\n        name: Europe/Berlin\n");
    let back = write_playbook(dir.path(), HOST, "back.yml", "    - timezone:\n        name: Etc/UTC\n");
    // Start from UTC whatever an earlier run left.
    let f = fleet();
    provision([back.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]).expect_code(0);
    play_on(HOST, &set, true, 1);
    play_on(HOST, &set, false, 1);
    play_on(HOST, &set, false, 0);
    let (_, out) = on_host("cat /etc/timezone; readlink /etc/localtime");
    assert!(out.contains("Europe/Berlin\n") && out.contains("/usr/share/zoneinfo/Europe/Berlin"), "{out}");
    play_on(HOST, &back, false, 1);
    play_on(HOST, &back, false, 0);
}

#[test]
fn unarchive_a_controller_tarball() {
    let d = host_dir("unarchive");
    let dir = tempdir();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("app/sub")).unwrap();
    std::fs::write(tree.join("app/one.txt"), "one\n").unwrap();
    std::fs::write(tree.join("app/sub/two.txt"), "two two\n").unwrap();
    let tgz = dir.path().join("app.tar.gz");
    let st = std::process::Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(&tree).arg("app").status().expect("run tar");
    assert!(st.success());
    let pb = write_playbook(
        dir.path(),
        HOST,
        "unarchive.yml",
        &format!("    - unarchive:\n        src: {}\n        dest: {d}\n", tgz.display()),
    );
    play_on(HOST, &pb, true, 1);
    let (_, out) = on_host(&format!("ls {d}"));
    assert!(!out.contains("app"), "check mode extracted: {out}");
    play_on(HOST, &pb, false, 1);
    play_on(HOST, &pb, false, 0);
    let (rc, out) = on_host(&format!("cat {d}/app/one.txt {d}/app/sub/two.txt"));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("one\ntwo two"), "{out}");
    // A changed file is put back; `creates` short-circuits.
    on_host(&format!("echo changed > {d}/app/one.txt"));
    play_on(HOST, &pb, false, 1);
    let creates = write_playbook(
        dir.path(),
        HOST,
        "creates.yml",
        &format!("    - unarchive:\n        src: {}\n        dest: {d}/missing\n        creates: {d}/app\n", tgz.display()),
    );
    play_on(HOST, &creates, false, 0);
}
