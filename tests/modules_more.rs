//! `wait_for`, `timezone` and `unarchive` against a real host (h4 of the lab fleet),
//! under /tmp/provision-test-gaps/. Needs `tests/fleet/fleet up`.

mod common;

use common::*;

const HOST: &str = "h4";
const BASE: &str = "/tmp/provision-test-gaps";

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    shell_on(HOST, cmd)
}

/// A fresh directory on the host for one test.
fn host_dir(name: &str) -> String {
    fresh_host_dir(HOST, BASE, name)
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
\x20   - assert:\n        that:\n          - n.failed\n          - n.msg == 'Timeout when waiting for 127.0.0.1:1'\n\
\x20   - shell: echo ${{SSH_CLIENT%% *}}\n      register: c\n\
\x20   - wait_for:\n        host: 0.0.0.0\n        port: 22\n        state: drained\n        timeout: 1\n      register: busy\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - busy.failed\n          - busy.msg == 'Timeout when waiting for 0.0.0.0:22 to drain'\n\
\x20   - wait_for:\n        host: 0.0.0.0\n        port: 22\n        state: drained\n        exclude_hosts: ['{{{{ c.stdout }}}}']\n        timeout: 20\n\
\x20   - wait_for:\n        port: 1\n        state: stopped\n        timeout: 5\n"
        ),
    );
    // The shell tasks report a change; wait_for never does. Our own SSH connection keeps
    // port 22 from draining until its client address is excluded.
    play_on(HOST, &pb, false, 2);
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

/// Stops the host's test web server (by its pid) when the test ends, passed or not.
struct Server(String);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = on_host(&format!("test -f {0} && kill $(cat {0}) 2>/dev/null; rm -f {0}; true", self.0));
    }
}

#[test]
fn unarchive_urls_with_owner_mode_and_exclude() {
    let d = host_dir("unarchive_url");
    let dir = tempdir();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("app/sub")).unwrap();
    std::fs::write(tree.join("app/one.txt"), "one\n").unwrap();
    std::fs::write(tree.join("app/sub/two.txt"), "two two\n").unwrap();
    std::fs::write(tree.join("app/skip.log"), "not wanted\n").unwrap();
    let tgz = dir.path().join("app.tar.gz");
    let zip = dir.path().join("app.zip");
    let st = std::process::Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(&tree).arg("app").status().expect("run tar");
    assert!(st.success());
    let st = std::process::Command::new("zip").arg("-qr").arg(&zip).arg("app").current_dir(&tree).status().expect("run zip");
    assert!(st.success());
    // The archives, served by python3's http.server on h4's own 127.0.0.1.
    let port = 18431;
    let setup = write_playbook(
        dir.path(),
        HOST,
        "setup.yml",
        &format!(
            "    - file: {{path: '{{{{ item }}}}', state: directory}}\n      loop: ['{d}/www', '{d}/tgz', '{d}/zip']\n\
\x20   - copy: {{src: '{}', dest: '{d}/www/app.tar.gz'}}\n    - copy: {{src: '{}', dest: '{d}/www/app.zip'}}\n\
\x20   - shell: setsid nohup python3 -m http.server {port} --bind 127.0.0.1 --directory {d}/www > {d}/http.log 2>&1 < /dev/null & echo $! > {d}/http.pid\n\
\x20   - wait_for: {{port: {port}, timeout: 20}}\n",
            tgz.display(),
            zip.display()
        ),
    );
    let f = fleet();
    let _server = Server(format!("{d}/http.pid"));
    provision([setup.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]).expect_code(0);
    let task = |name: &str, into: &str| {
        format!(
            "    - unarchive:\n        src: http://127.0.0.1:{port}/{name}\n        remote_src: yes\n        dest: {d}/{into}\n        owner: bob\n        group: bob\n\
\x20       mode: u=rwX,g=rX,o=\n        exclude: [app/skip.log]\n        list_files: yes\n      register: r_{into}\n"
        )
    };
    let pb = write_playbook(
        dir.path(),
        HOST,
        "unarchive_url.yml",
        &format!(
            "{}{}    - assert:\n        that:\n          - \"'app/skip.log' not in r_tgz.files\"\n          - \"'app/sub/two.txt' in r_zip.files\"\n          - r_zip.handler == 'ZipArchive'\n",
            task("app.tar.gz", "tgz"),
            task("app.zip", "zip")
        ),
    );
    play_on(HOST, &pb, true, 2);
    let (_, out) = on_host(&format!("ls -A {d}/tgz {d}/zip"));
    assert!(!out.contains("app"), "check mode extracted: {out}");
    play_on(HOST, &pb, false, 2);
    play_on(HOST, &pb, false, 0);
    let (rc, out) = on_host(&format!(
        "cd {d} && stat -c '%U:%G %a %n' tgz/app tgz/app/one.txt tgz/app/sub zip/app zip/app/sub/two.txt && cat zip/app/sub/two.txt && ls tgz/app zip/app"
    ));
    assert_eq!(rc, 0, "{out}");
    for want in ["bob:bob 750 tgz/app\n", "bob:bob 640 tgz/app/one.txt\n", "bob:bob 750 tgz/app/sub\n", "bob:bob 750 zip/app\n", "bob:bob 640 zip/app/sub/two.txt\n", "two two\n"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("skip.log"), "exclude was not honoured:\n{out}");
    // A drifted mode (no content change) is put back, then all is quiet again.
    on_host(&format!("chmod 0666 {d}/zip/app/one.txt && chown root {d}/tgz/app/sub"));
    play_on(HOST, &pb, false, 2);
    play_on(HOST, &pb, false, 0);
}
