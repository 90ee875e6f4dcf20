//! `file`, `copy` and `stat` against a real host (h5 of the lab fleet): each playbook runs
//! in check mode, then for real, then again, and the recap must say the same number of
//! changes twice, then none. Also a 50 MB file and a 1000-file tree, whose second run
//! must transfer nothing. Needs `tests/fleet/fleet up`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const HOST: &str = "h5";

/// Run shell on the test host (ad hoc) and return its output.
fn on_host(cmd: &str) -> String {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    run.expect_code(0);
    // `h5 | CHANGED | rc=0 >>` then the command's output.
    run.stdout().split_once('\n').map(|(_, rest)| rest.trim_end().to_string()).unwrap_or_default()
}

/// A fresh directory on the host for one test.
fn fresh(base: &str, setup: &str) {
    let cmd = if setup.is_empty() { format!("rm -rf {base}") } else { format!("rm -rf {base} && {setup}") };
    on_host(&cmd);
}




/// Check mode, real run, second run: the same changes predicted and made, then none.
fn three_runs(playbook: &Path, changed: usize) {
    play_on(HOST, playbook, true, changed);
    play_on(HOST, playbook, false, changed);
    play_on(HOST, playbook, false, 0);
}

#[test]
fn file_creates_links_modifies_removes_and_is_idempotent() {
    let base = "/tmp/provision-test-file-file";
    fresh(base, &format!("mkdir -p {base}/old/sub && echo data > {base}/src.txt && chmod 0600 {base}/src.txt"));
    let dir = tempdir();
    let tasks = format!(
        r#"    - name: a directory with its parents
      file: {{path: "{base}/a/b", state: directory, mode: "0750"}}
    - name: symbolic mode and owner on an existing file
      file: {{path: "{base}/src.txt", mode: "u=rw,g=r,o=r", owner: nobody}}
    - name: a symbolic link
      file: {{src: src.txt, dest: "{base}/link", state: link}}
    - name: a hard link
      file: {{src: "{base}/src.txt", dest: "{base}/hard", state: hard}}
    - name: remove a tree
      file: {{path: "{base}/old", state: absent}}
    - name: touch without changing times
      file: {{path: "{base}/stamp", state: touch, mode: "0600", modification_time: preserve, access_time: preserve}}
    - name: a tree for a user
      file: {{path: "{base}/a", state: directory, recurse: yes, owner: nobody, mode: "u=rwX,g=rX,o="}}
"#
    );
    let pb = write_playbook(dir.path(), HOST, "file.yml", &tasks);
    three_runs(&pb, 7);
    let facts = on_host(&format!(
        "cd {base} && stat -c '%n %a %U %h' src.txt a a/b stamp && readlink link && stat -c %i src.txt hard | uniq | wc -l && test ! -e old && echo gone"
    ));
    assert_eq!(facts, "src.txt 644 nobody 2\na 750 nobody 3\na/b 750 nobody 2\nstamp 600 root 1\nsrc.txt\n1\ngone");
}

#[test]
fn file_reports_what_it_cannot_do() {
    let base = "/tmp/provision-test-file-errors";
    fresh(base, &format!("mkdir -p {base}"));
    let dir = tempdir();
    let pb = write_playbook(dir.path(), HOST, "bad.yml", &format!("    - file: {{path: \"{base}/missing\", state: file}}\n"));
    let f = fleet();
    let run = provision([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stdout().contains(&format!("file ({base}/missing) is absent, cannot continue")), "{}", run.stdout());
}

#[test]
fn copy_content_files_trees_and_remote_sources() {
    let base = "/tmp/provision-test-file-copy";
    fresh(base, &format!("mkdir -p {base} && echo old > {base}/existing.conf && chmod 0640 {base}/existing.conf"));
    let dir = tempdir();
    let local = dir.path();
    std::fs::write(local.join("app.conf"), "listen 8080\n").unwrap();
    std::fs::create_dir_all(local.join("site/css")).unwrap();
    std::fs::write(local.join("site/index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::write(local.join("site/css/site.css"), "h1 { color: red }\n").unwrap();
    let tasks = format!(
        r#"    - name: inline content
      copy: {{content: "hello\n", dest: "{base}/motd", mode: "0644"}}
    - name: a file into a directory that does not exist yet
      copy: {{src: "{src}/app.conf", dest: "{base}/conf/", mode: "u=rw,g=r,o="}}
    - name: replace content, keeping a backup and the old mode
      copy: {{content: "new\n", dest: "{base}/existing.conf", backup: yes}}
    - name: a tree's contents
      copy: {{src: "{src}/site/", dest: "{base}/www", owner: nobody, directory_mode: "0750"}}
    - name: a file already on the host
      copy: {{src: "{base}/existing.conf", dest: "{base}/existing.copy", remote_src: yes}}
    - name: validated before it goes live
      copy: {{content: "good\n", dest: "{base}/checked", validate: "grep -q good %s"}}
"#,
        src = local.display()
    );
    let pb = write_playbook(local, HOST, "copy.yml", &tasks);
    three_runs(&pb, 6);
    let facts = on_host(&format!(
        "cd {base} && cat motd conf/app.conf existing.conf existing.copy checked www/index.html && \
stat -c '%n %a %U' motd conf conf/app.conf existing.conf existing.copy www www/css www/css/site.css && ls existing.conf.*~ | wc -l"
    ));
    assert_eq!(
        facts,
        "hello\nlisten 8080\nnew\nnew\ngood\n<h1>hi</h1>\n\
motd 644 root\nconf 755 root\nconf/app.conf 640 root\nexisting.conf 640 root\nexisting.copy 640 root\nwww 750 nobody\nwww/css 750 nobody\nwww/css/site.css 644 nobody\n1"
    );
    // A failing validation leaves the file as it was.
    let bad = write_playbook(local, HOST, "bad.yml", &format!("    - copy: {{content: \"bad\\n\", dest: \"{base}/checked\", validate: \"grep -q good %s\"}}\n"));
    let f = fleet();
    let run = provision([bad.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stdout().contains("failed to validate"), "{}", run.stdout());
    assert_eq!(on_host(&format!("cat {base}/checked && ls -A {base} | grep -c provision || true")), "good\n0");
}

#[test]
fn stat_describes_files_links_and_missing_paths() {
    let base = "/tmp/provision-test-file-stat";
    fresh(base, &format!("mkdir -p {base} && printf hello > {base}/f && chmod 0640 {base}/f && ln -s f {base}/l"));
    let dir = tempdir();
    let tasks = format!(
        r#"    - stat: {{path: "{base}/f"}}
      register: f
    - stat: {{path: "{base}/l"}}
      register: l
    - stat: {{path: "{base}/l", follow: yes, checksum_algorithm: sha256}}
      register: target
    - stat: {{path: "{base}/missing"}}
      register: missing
    - assert:
        that:
          - f.stat.exists and f.stat.isreg and not f.stat.isdir
          - f.stat.mode == '0640' and f.stat.size == 5 and f.stat.pw_name == 'root' and f.stat.uid == 0
          - f.stat.checksum == 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'
          - f.stat.rusr and f.stat.wusr and f.stat.rgrp and not f.stat.roth and f.stat.readable
          - l.stat.islnk and l.stat.lnk_target == 'f' and l.stat.lnk_source == '{base}/f'
          - target.stat.isreg and target.stat.checksum == '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
          - not missing.stat.exists and missing.stat | length == 1
"#
    );
    let pb = write_playbook(dir.path(), HOST, "stat.yml", &tasks);
    three_runs(&pb, 0);
}

/// Deterministic bytes that do not compress (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn local_sha1(path: &Path) -> String {
    let out = std::process::Command::new("sha1sum").arg(path).output().expect("sha1sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn a_50_mb_file_and_1000_files_are_sent_once() {
    let base = "/tmp/provision-test-file-big";
    fresh(base, "");
    let dir = tempdir();
    let local = dir.path();
    let big = local.join("big.bin");
    std::fs::write(&big, noise(50 * 1024 * 1024)).unwrap();
    let many = local.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..1000 {
        std::fs::write(many.join(format!("f{i:04}.txt")), format!("file {i}\n")).unwrap();
    }
    let big_pb = write_playbook(local, HOST, "big.yml", &format!("    - copy: {{src: \"{}\", dest: \"{base}/\", mode: \"0600\"}}\n", big.display()));
    let many_pb = write_playbook(local, HOST, "many.yml", &format!("    - copy: {{src: \"{}/\", dest: \"{base}/many\"}}\n", many.display()));

    let big_check = play_on(HOST, &big_pb, true, 1);
    let big_first = play_on(HOST, &big_pb, false, 1);
    let big_second = play_on(HOST, &big_pb, false, 0);
    let many_check = play_on(HOST, &many_pb, true, 1);
    let many_first = play_on(HOST, &many_pb, false, 1);
    let many_second = play_on(HOST, &many_pb, false, 0);
    eprintln!("50 MB file:  check {big_check:?}, first run {big_first:?}, second run {big_second:?}");
    eprintln!("1000 files:  check {many_check:?}, first run {many_first:?}, second run {many_second:?}");

    let facts = on_host(&format!("sha1sum < {base}/big.bin | cut -d' ' -f1; stat -c %a {base}/big.bin; find {base}/many -type f | wc -l; cat {base}/many/f0999.txt"));
    assert_eq!(facts, format!("{}\n600\n1000\nfile 999", local_sha1(&big)));
    // Nothing sent the second time: it must be far quicker than the transfer.
    assert!(big_second < big_first, "second run {big_second:?} not quicker than the first {big_first:?}");
    assert!(many_second < Duration::from_secs(10), "1000 unchanged files took {many_second:?}");

    // One file changed on the host: the next run puts back only that one.
    on_host(&format!("echo changed > {base}/many/f0500.txt"));
    play_on(HOST, &many_pb, false, 1);
    assert_eq!(on_host(&format!("cat {base}/many/f0500.txt")), "file 500");
}
