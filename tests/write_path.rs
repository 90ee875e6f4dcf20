//! The write path on a real host (h4, under /tmp/provision-test-write/): `copy`,
//! `template` and `lineinfile` writing new and existing files (mode and owner kept or
//! set, backup, odd names), `--check` predicting the first run, the first run changing,
//! the second changing nothing; no temporary file left, also when a validation fails
//! or the run is interrupted mid-transfer. Needs `tests/fleet/fleet up`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const HOST: &str = "h4";
const BASE: &str = "/tmp/provision-test-write";

/// Shell on the host (ad hoc), which must succeed; the output after the header line.
fn on_host(cmd: &str) -> String {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    assert!(run.code() == 0, "`{cmd}` on {HOST}: {}\n{}", run.stdout(), run.stderr());
    run.stdout().split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default()
}

/// A fresh directory on the host for one test, set up by `setup` (shell, run in it).
fn host_dir(name: &str, setup: &str) -> String {
    let d = format!("{BASE}/{name}");
    on_host(&format!("rm -rf {d} && mkdir -p {d} && cd {d} && {{ {setup}; }}"));
    d
}

/// A run takes the host's run lock: the tests go one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_at_a_time()
}

/// Temporary files left anywhere under `dir`.
fn temp_files(dir: &str) -> String {
    on_host(&format!("find {dir} -name '.provision*' | sort")).trim().to_string()
}

#[test]
fn first_run_writes_second_changes_nothing() {
    let _one = serial();
    let d = host_dir(
        "files",
        "printf 'old\\n' > kept && chown bob:bob kept && chmod 4750 kept; \
printf 'a=1\\n' > app.conf && chown alice:bob app.conf && chmod 0640 app.conf; \
printf 'x\\n' > backed && chmod 0600 backed; mkdir 'sub dir'",
    );
    let dir = tempdir();
    std::fs::write(dir.path().join("motd.j2"), "host {{ inventory_hostname }}\n{% for i in range(3) %}line {{ i }}\n{% endfor %}").unwrap();
    let tasks = format!(
        "    - copy:\n        content: \"new\\n\"\n        dest: {d}/new\n\
\x20   - copy:\n        content: \"kept\\n\"\n        dest: {d}/kept\n\
\x20   - copy:\n        content: \"secret\\n\"\n        dest: {d}/secret\n        mode: \"0600\"\n        owner: bob\n        group: alice\n\
\x20   - copy:\n        content: \"sym\\n\"\n        dest: {d}/sym\n        mode: u=rw,g=r,o=\n\
\x20   - copy:\n        content: \"backup\\n\"\n        dest: {d}/backed\n        backup: true\n\
\x20   - copy:\n        content: \"odd\\n\"\n        dest: \"{d}/sub dir/it's \\\"odd\\\"\"\n\
\x20   - copy:\n        content: \"item {{{{ item }}}}\\n\"\n        dest: {d}/item-{{{{ item }}}}\n      loop: [1, 2, 3]\n\
\x20   - copy:\n        content: \"\"\n        dest: {d}/empty\n\
\x20   - template:\n        src: {}/motd.j2\n        dest: {d}/motd\n\
\x20   - lineinfile:\n        path: {d}/app.conf\n        line: b=2\n\
\x20   - lineinfile:\n        path: {d}/new.conf\n        line: c=3\n        create: true\n        validate: grep -q c=3 %s\n",
        dir.path().display()
    );
    let pb = write_playbook(dir.path(), HOST, "write.yml", &tasks);
    // copy x6 (+3 loop items count as one task), copy empty, template, lineinfile x2.
    let changed = 11;
    play_on(HOST, &pb, true, changed);
    assert_eq!(on_host(&format!("ls -A {d} | sort")), "app.conf\nbacked\nkept\nsub dir\n", "--check wrote nothing");
    play_on(HOST, &pb, false, changed);
    play_on(HOST, &pb, false, 0);
    let facts = on_host(&format!(
        "cd {d} && stat -c '%n %a %U:%G %s' new kept secret sym empty motd app.conf new.conf 'sub dir/'* item-1 item-3 && cat kept app.conf motd && ls backed.*~ | wc -l && cat backed.*~"
    ));
    assert_eq!(
        facts,
        format!(
            "new 644 root:root 4\nkept 4750 bob:bob 5\nsecret 600 bob:alice 7\nsym 640 root:root 4\nempty 644 root:root 0\nmotd 644 root:root 29\n\
app.conf 640 alice:bob 8\nnew.conf 644 root:root 4\nsub dir/it's \"odd\" 644 root:root 4\nitem-1 644 root:root 7\nitem-3 644 root:root 7\n\
kept\na=1\nb=2\nhost h4\nline 0\nline 1\nline 2\n1\nx\n"
        )
    );
    assert_eq!(temp_files(&d), "");
}

/// A validation that fails: the task fails, the file is as it was, no temporary file.
#[test]
fn a_failing_validation_leaves_the_file_and_no_temporary_file() {
    let _one = serial();
    let d = host_dir("validate", "printf 'old\\n' > conf");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "validate.yml",
        &format!(
            "    - copy:\n        content: \"bad\\n\"\n        dest: {d}/conf\n        validate: grep -q good %s\n      ignore_errors: true\n      register: c\n\
\x20   - lineinfile:\n        path: {d}/conf\n        line: bad\n        validate: grep -q good %s\n      ignore_errors: true\n      register: l\n\
\x20   - assert:\n        that:\n          - c.failed\n          - l.failed\n"
        ),
    );
    let f = fleet();
    let run = provision([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(on_host(&format!("cat {d}/conf")), "old\n");
    assert_eq!(temp_files(&d), "");
}

/// Ctrl-C while a big file is being sent: no temporary file, no target.
#[test]
fn an_interrupted_copy_leaves_no_temporary_file_and_no_target() {
    let _one = serial();
    let d = host_dir("interrupt", ":");
    let f = fleet();
    let dir = tempdir();
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big).unwrap().set_len(300 << 20).unwrap();
    let pb = write_playbook(dir.path(), HOST, "copy.yml", &format!("    - copy:\n        src: {}\n        dest: {d}/big.bin\n", big.display()));
    let child = spawn_provision(&[pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()], &[]);
    let start = Instant::now();
    while temp_files(&d).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(120), "the temporary file of `copy` never showed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(99), "{}", String::from_utf8_lossy(&out.stderr));
    // The remote script may take a moment to see its signal.
    let start = Instant::now();
    loop {
        let left = on_host(&format!("ls -A {d}")).trim().to_string();
        if left.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "left on the host: {left}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
