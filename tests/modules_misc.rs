//! `slurp`, `fetch`, `find`, `sysctl`, `cron` and `hostname` against a real host (h1 of
//! the lab fleet), under /tmp/provision-test-misc/. Playbooks that change things run in
//! check mode, then for real, then again; the recap must say the same number of changes
//! twice, then none. Read-only modules check their registered results with `assert`.
//! Needs `tests/fleet/fleet up`.

mod common;

use std::path::Path;

use common::*;

const HOST: &str = "h1";
const BASE: &str = "/tmp/provision-test-misc";

/// Run shell on the test host (ad hoc); returns the exit status and the output lines.
fn on_host(cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    let out = run.stdout().lines().skip(1).collect::<Vec<_>>().join("\n");
    (run.code(), out)
}


/// Run a playbook (from `cwd`); it must succeed and report `changed` changes.
fn play_in(cwd: &Path, playbook: &Path, check: bool, changed: usize) -> String {
    play_from(cwd, HOST, playbook, if check { &["--check"] } else { &[] }, changed).stdout()
}

fn play(playbook: &Path, check: bool, changed: usize) -> String {
    play_in(&root(), playbook, check, changed)
}

/// A fresh directory on the host for one test.
fn host_dir(name: &str) -> String {
    fresh_host_dir(HOST, BASE, name)
}

#[test]
fn slurp_reads_a_file() {
    let d = host_dir("slurp");
    on_host(&format!("printf 'hello slurp\\n' > {d}/f.txt"));
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "slurp.yml",
        &format!(
            "    - slurp:\n        src: {d}/f.txt\n      register: s\n    - assert:\n        that:\n          - s.encoding == 'base64'\n          - s.source == '{d}/f.txt'\n          - s.content == 'aGVsbG8gc2x1cnAK'\n          - (s.content | b64decode) == 'hello slurp\\n'\n          - not s.changed\n\
\x20   - slurp:\n        path: {d}/missing\n      register: m\n      ignore_errors: yes\n    - assert:\n        that:\n          - m.failed\n"
        ),
    );
    let out = play(&pb, false, 0);
    assert!(out.contains("ignoring") || out.contains("ignored=1"), "{out}");
}

#[test]
fn fetch_copies_a_file_to_the_controller_once() {
    let d = host_dir("fetch");
    on_host(&format!("printf 'fetched content\\n' > {d}/f.txt"));
    let dir = tempdir();
    let local = dir.path().join("out");
    let tasks = format!(
        "    - fetch:\n        src: {d}/f.txt\n        dest: {out}/\n        flat: yes\n      register: r\n    - assert:\n        that:\n          - r.remote_checksum == 'cff2b1b552e314597436fa3cb4b5e2e033bf50a1'\n          - r.checksum == r.remote_checksum\n          - r.dest == '{out}/f.txt'\n\
\x20   - fetch:\n        src: {d}/f.txt\n        dest: {out}/tree\n        _inventory_hostname: '{{{{ inventory_hostname }}}}'\n\
\x20   - fetch:\n        src: {d}/f.txt\n        dest: {out}/auto\n",
        out = local.display()
    );
    let pb = write_playbook(dir.path(), HOST, "fetch.yml", &tasks);
    play(&pb, true, 3);
    assert!(!local.exists(), "check mode must not write");
    play(&pb, false, 3);
    assert_eq!(std::fs::read_to_string(local.join("f.txt")).unwrap(), "fetched content\n");
    assert_eq!(std::fs::read_to_string(local.join(format!("tree/{HOST}{d}/f.txt"))).unwrap(), "fetched content\n");
    // Without `_inventory_hostname`: the name the host reports (h1's is `h1`).
    let (_, reported) = on_host("hostname");
    assert_eq!(std::fs::read_to_string(local.join(format!("auto/{}{d}/f.txt", reported.trim()))).unwrap(), "fetched content\n");
    play(&pb, false, 0);
    // A missing file fails, unless `fail_on_missing: no`.
    let missing = write_playbook(
        dir.path(),
        HOST,
        "missing.yml",
        &format!("    - fetch:\n        src: {d}/nope\n        dest: {}/\n        flat: yes\n        fail_on_missing: no\n", local.display()),
    );
    play(&missing, false, 0);
}

#[test]
fn find_lists_matching_files() {
    let d = host_dir("find");
    let (rc, out) = on_host(&format!(
        "mkdir -p {d}/sub/deep {d}/.hid && printf x > {d}/a.log && head -c 3000 /dev/zero > {d}/big.log && printf y > {d}/b.txt && printf z > {d}/.h.log \
&& printf w > {d}/sub/c.log && printf v > {d}/sub/deep/e.log && printf u > {d}/.hid/f.log && ln -s a.log {d}/l.log && touch -d '2020-01-01' {d}/b.txt"
    ));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    let tasks = format!(
        "    - find:\n        paths: {d}\n        patterns: '*.log'\n      register: top\n\
\x20   - assert:\n        that:\n          - top.matched == 2\n          - top.examined == 7\n          - top.files | map(attribute='path') | sort == ['{d}/a.log', '{d}/big.log']\n          - not top.changed\n\
\x20   - find:\n        paths: ['{d}', '{d}/nope']\n        patterns: ['*.log']\n        recurse: yes\n        hidden: yes\n        excludes: 'c*'\n      register: all\n\
\x20   - assert:\n        that:\n          - all.matched == 5\n          - \"'{d}/nope' in all.skipped_paths\"\n\
\x20   - find:\n        paths: {d}\n        recurse: yes\n        depth: 1\n        file_type: directory\n      register: dirs\n\
\x20   - assert:\n        that:\n          - dirs.files | map(attribute='path') | list == ['{d}/sub']\n          - dirs.files[0].isdir\n          - dirs.files[0].mode == '0755'\n          - dirs.files[0].pw_name == 'root'\n\
\x20   - find:\n        paths: {d}\n        file_type: link\n        use_regex: yes\n        patterns: '^l\\.'\n      register: links\n\
\x20   - assert:\n        that:\n          - links.matched == 1\n          - links.files[0].islnk\n\
\x20   - find:\n        paths: {d}\n        age: 1w\n        size: '-1k'\n      register: old\n\
\x20   - assert:\n        that:\n          - old.files | map(attribute='path') | list == ['{d}/b.txt']\n\
\x20   - find:\n        paths: {d}\n        size: 2k\n      register: big\n\
\x20   - assert:\n        that:\n          - big.files | map(attribute='path') | list == ['{d}/big.log']\n          - big.files[0].size == 3000\n"
    );
    let pb = write_playbook(dir.path(), HOST, "find.yml", &tasks);
    play(&pb, true, 0);
    play(&pb, false, 0);
}

#[test]
fn sysctl_edits_a_file_idempotently() {
    let d = host_dir("sysctl");
    let file = format!("{d}/99-test.conf");
    on_host(&format!("printf '# test\\nkernel.panic = 5\\nvm.swappiness=60\\nvm.swappiness=70\\n' > {file}"));
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "sysctl.yml",
        &format!(
            "    - sysctl:\n        name: vm.swappiness\n        value: '10'\n        sysctl_file: {file}\n        sysctl_set: no\n        reload: no\n\
\x20   - sysctl:\n        name: kernel.panic\n        value: '5'\n        sysctl_file: {file}\n        reload: no\n\
\x20   - sysctl:\n        name: net.core.somaxconn\n        value: 1024\n        sysctl_file: {file}\n        reload: no\n\
\x20   - ansible.posix.sysctl:\n        name: fs.removed\n        state: absent\n        sysctl_file: {file}\n        reload: no\n"
        ),
    );
    on_host(&format!("echo 'fs.removed=1' >> {file}"));
    play(&pb, true, 3);
    assert!(on_host(&format!("cat {file}")).1.contains("vm.swappiness=70"), "check mode must not write");
    play(&pb, false, 3);
    let (_, content) = on_host(&format!("cat {file}"));
    assert_eq!(content.trim_end(), "# test\nkernel.panic = 5\nvm.swappiness=10\nnet.core.somaxconn=1024");
    play(&pb, false, 0);

    // The running value, when it already matches: nothing to set (the container's
    // kernel parameters are read-only, so only the no-change path runs for real).
    let (rc, current) = on_host("sysctl -n vm.swappiness");
    assert_eq!(rc, 0, "{current}");
    let live = write_playbook(
        dir.path(),
        HOST,
        "live.yml",
        &format!("    - sysctl:\n        name: vm.swappiness\n        value: '{}'\n        sysctl_file: {d}/live.conf\n        sysctl_set: yes\n        reload: no\n", current.trim()),
    );
    play(&live, true, 1);
    play(&live, false, 1);
    play(&live, false, 0);
}

#[test]
fn cron_manages_a_cron_file() {
    // The fleet image has no `crontab`: a cron file needs none.
    let d = host_dir("cron");
    let file = format!("{d}/jobs");
    on_host(&format!("printf 'SHELL=/bin/sh\\n0 1 * * * root /bin/adopted\\n' > {file}"));
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "cron.yml",
        &format!(
            "    - cron:\n        name: cleanup\n        minute: '30'\n        hour: '2'\n        user: root\n        job: /usr/local/bin/cleanup > /dev/null\n        cron_file: {file}\n\
\x20   - ansible.builtin.cron:\n        name: adopted\n        minute: 0\n        hour: 1\n        user: root\n        job: /bin/adopted\n        cron_file: {file}\n\
\x20   - cron:\n        name: weekly\n        special_time: weekly\n        user: nobody\n        job: /bin/true\n        disabled: yes\n        cron_file: {file}\n\
\x20   - cron:\n        name: MAILTO\n        env: yes\n        job: ops@example.com\n        user: root\n        insertafter: SHELL\n        cron_file: {file}\n"
        ),
    );
    play(&pb, true, 4);
    play(&pb, false, 4);
    let (_, content) = on_host(&format!("cat {file}"));
    assert_eq!(
        content.trim_end(),
        "SHELL=/bin/sh\nMAILTO=\"ops@example.com\"\n#Ansible: adopted\n0 1 * * * root /bin/adopted\n#Ansible: cleanup\n30 2 * * * root /usr/local/bin/cleanup > /dev/null\n#Ansible: weekly\n#@weekly nobody /bin/true"
    );
    play(&pb, false, 0);

    // Removing every job and variable removes the file.
    let remove = write_playbook(
        dir.path(),
        HOST,
        "remove.yml",
        &format!(
            "    - cron:\n        name: '{{{{ item }}}}'\n        state: absent\n        cron_file: {file}\n      loop: [cleanup, adopted, weekly]\n\
\x20   - cron: name=MAILTO env=yes state=absent cron_file={file}\n\
\x20   - cron: name=SHELL env=yes state=absent cron_file={file}\n"
        ),
    );
    play(&remove, true, 3);
    play(&remove, false, 3);
    assert_eq!(on_host(&format!("cat {file}")).1.trim_end(), "");
    play(&remove, false, 0);
}

#[test]
fn hostname_predicts_in_check_mode() {
    // A container may not rename itself: a new name only in check mode, the current one for real.
    let (rc, current) = on_host("hostname");
    assert_eq!(rc, 0, "{current}");
    let current = current.trim().to_string();
    let dir = tempdir();
    let rename = write_playbook(
        dir.path(),
        HOST,
        "rename.yml",
        "    - hostname:\n        name: provision-renamed.example.com\n      register: h\n    - assert:\n        that:\n          - h.changed\n          - h.name == 'provision-renamed.example.com'\n\
\x20   - hostname:\n        name: provision-renamed\n        use: generic\n",
    );
    play(&rename, true, 2);
    assert_eq!(on_host("hostname").1.trim(), current, "check mode must not rename");
    let same = write_playbook(
        dir.path(),
        HOST,
        "same.yml",
        &format!("    - hostname:\n        name: {current}\n      register: h\n    - assert:\n        that:\n          - not h.changed\n          - h.ansible_facts.ansible_hostname == '{current}'\n"),
    );
    play(&same, true, 0);
    play(&same, false, 0);
}

#[test]
fn cron_manages_a_user_crontab() {
    // The fleet image lacks cron: install it first (apt must reach the Debian mirror).
    let (rc, out) = on_host(
        "command -v crontab >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends cron >/dev/null 2>&1 \
|| { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends cron >/dev/null 2>&1; }; }; \
command -v crontab && { crontab -u bob -r 2>/dev/null; true; }",
    );
    assert_eq!(rc, 0, "cannot install cron on {HOST}: {out}");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "crontab.yml",
        "    - cron:\n        name: provision test job\n        minute: '*/5'\n        job: echo \"it's $HOME\" > /dev/null\n        user: bob\n\
\x20   - cron:\n        name: PATH\n        env: yes\n        job: /usr/bin:/bin\n        user: bob\n",
    );
    let verify = write_playbook(
        dir.path(),
        HOST,
        "verify.yml",
        "    - cron:\n        name: provision test job\n        minute: '*/5'\n        job: echo \"it's $HOME\" > /dev/null\n        user: bob\n      register: again\n\
\x20   - assert:\n        that:\n          - not again.changed\n          - again.jobs == ['provision test job']\n          - again.envs == ['PATH']\n",
    );
    play(&pb, true, 2);
    assert_eq!(on_host("crontab -u bob -l >/dev/null 2>&1; echo $?").1.trim(), "1", "check mode must not write a crontab");
    play(&pb, false, 2);
    let (_, listed) = on_host("crontab -u bob -l");
    assert_eq!(listed.trim_end(), "PATH=\"/usr/bin:/bin\"\n#Ansible: provision test job\n*/5 * * * * echo \"it's $HOME\" > /dev/null");
    play(&pb, false, 0);
    play(&verify, false, 0);
    let remove = write_playbook(dir.path(), HOST, "remove.yml", "    - cron:\n        name: provision test job\n        state: absent\n        user: bob\n");
    play(&remove, true, 1);
    play(&remove, false, 1);
    play(&remove, false, 0);
    assert_eq!(on_host("crontab -u bob -l").1.trim_end(), "PATH=\"/usr/bin:/bin\"");
    on_host("crontab -u bob -r");
}
