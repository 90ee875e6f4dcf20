//! Fewer processes on the host: a loop's first reads in one command (`Module::prefetch`,
//! `copy`'s batched probes), and the text editors' read without `stat` when no mode,
//! owner or group is asked; against a real host (h3 of the lab fleet), under
//! /tmp/provision-test-batch/.
//! Needs `tests/fleet/fleet up`.

mod common;

use common::*;

const HOST: &str = "h3";
const BASE: &str = "/tmp/provision-test-batch";

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    shell_on(HOST, cmd)
}

/// A fresh directory on the host for one test.
fn host_dir(name: &str) -> String {
    fresh_host_dir(HOST, BASE, name)
}

/// Run a playbook with `PROVISION_TRACE=1`: its output, and how many commands reached
/// the host (the trace's lines with `cmd=`).
fn traced(playbook: &std::path::Path, extra: &[&str]) -> (String, usize) {
    let f = fleet();
    let mut args = vec![playbook.display().to_string(), "-i".into(), f.inventory.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = provision_in(&root(), &args, &[("PROVISION_TRACE", "1")]);
    run.expect_code(0);
    let commands = run.stderr().lines().filter(|l| l.starts_with(&format!("[trace] {HOST} ")) && l.contains(" cmd=")).count();
    (run.stdout(), commands)
}

/// How many items of a loop reported `changed`.
fn changed_items(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with(&format!("changed: [{HOST}] => (item="))).count()
}

/// Ten items (one name with a space and a quote): the first run writes ten files, the
/// second changes nothing and sends one command for the whole loop; `--check` predicts
/// both and writes nothing.
#[test]
fn a_copy_loop_is_probed_by_one_command() {
    let d = host_dir("ten");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "ten.yml",
        &format!(
            "    - copy:\n        content: \"item {{{{ item }}}}\\n\"\n        dest: \"{d}/item-{{{{ item }}}}\"\n        mode: \"0640\"\n\
\x20     loop: [1, 2, 3, 4, 5, 6, 7, 8, 9, \"x y'z\"]\n      when: item != 0\n"
        ),
    );
    let check = play_on(HOST, &pb, true, 1);
    let _ = check;
    let (rc, out) = on_host(&format!("ls -A {d} | wc -l"));
    assert_eq!((rc, out.lines().last().map(str::trim)), (0, Some("0")), "--check wrote: {out}");
    let (first, _) = traced(&pb, &[]);
    assert_eq!((recap_of(&first, HOST).1, changed_items(&first)), (1, 10), "{first}");
    let (rc, out) = on_host(&format!("cat {d}/item-3 \"{d}/item-x y'z\"; stat -c %a {d}/item-7"));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("item 3\nitem x y'z\n640"), "{out}");
    let (again, commands) = traced(&pb, &[]);
    assert_eq!((recap_of(&again, HOST).1, changed_items(&again)), (0, 0), "{again}");
    assert_eq!(commands, 1, "one command for the ten probes of an unchanged loop");
    let (checked, commands) = traced(&pb, &["--check"]);
    assert_eq!((recap_of(&checked, HOST).1, commands), (0, 1), "{checked}");
}

/// Files changed behind the loop's back (content, mode, a file removed) are found and
/// put right; `--check` predicts exactly those.
#[test]
fn changes_between_runs_are_found() {
    let d = host_dir("mixed");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "mixed.yml",
        &format!("    - copy:\n        content: \"{{{{ item }}}}\\n\"\n        dest: \"{d}/{{{{ item }}}}\"\n        mode: \"0644\"\n      loop: [a, b, c, d, e, f]\n"),
    );
    play_on(HOST, &pb, false, 1);
    play_on(HOST, &pb, false, 0);
    let (rc, out) = on_host(&format!("echo other > {d}/b; chmod 0600 {d}/d; rm {d}/f"));
    assert_eq!(rc, 0, "{out}");
    let (checked, _) = traced(&pb, &["--check"]);
    assert_eq!(changed_items(&checked), 3, "{checked}");
    for item in ["b", "d", "f"] {
        assert!(checked.contains(&format!("changed: [{HOST}] => (item={item})")), "{checked}");
    }
    let (rc, out) = on_host(&format!("cat {d}/b; stat -c %a {d}/d; ls {d}"));
    assert!(rc == 0 && out.contains("other\n600\n") && !out.contains("\nf\n"), "--check changed the host: {out}");
    let (fixed, _) = traced(&pb, &[]);
    assert_eq!(changed_items(&fixed), 3, "{fixed}");
    let (rc, out) = on_host(&format!("cat {d}/b {d}/f; stat -c %a {d}/d"));
    assert!(rc == 0 && out.contains("b\nf\n644"), "{out}");
    let (again, commands) = traced(&pb, &[]);
    assert_eq!((changed_items(&again), commands), (0, 1), "{again}");
}

/// An item that writes drops what was read for the others: two items with one `dest`
/// each see what the one before wrote, as they would one by one.
#[test]
fn a_write_makes_the_later_items_read_again() {
    let d = host_dir("same");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "same.yml",
        &format!("    - copy:\n        content: \"{{{{ item }}}}\\n\"\n        dest: \"{d}/one\"\n      loop: [first, second, second]\n"),
    );
    for _ in 0..2 {
        let (out, _) = traced(&pb, &[]);
        assert_eq!(changed_items(&out), 2, "{out}");
        assert!(out.contains(&format!("ok: [{HOST}] => (item=second)")), "{out}");
        let (rc, text) = on_host(&format!("cat {d}/one"));
        assert!(rc == 0 && text.contains("second\n") && !text.contains("first"), "{text}");
    }
}

/// The text editors read a file with `cat` alone unless mode, owner or group are asked:
/// edits, idempotence and a mode changed behind their back still work.
#[test]
fn text_editors_read_without_stat_unless_attributes_are_asked() {
    let d = host_dir("text");
    let (rc, out) = on_host(&format!("echo port=80 > {d}/other.conf"));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "text.yml",
        &format!(
            "    - lineinfile:\n        path: {d}/app.conf\n        line: a=1\n        create: true\n\
\x20   - lineinfile:\n        path: {d}/app.conf\n        regexp: '^b='\n        line: b=2\n        mode: '0600'\n\
\x20   - blockinfile:\n        path: {d}/app.conf\n        block: x=3\n\
\x20   - replace:\n        path: {d}/other.conf\n        regexp: '^port=80$'\n        replace: port=8080\n"
        ),
    );
    play_on(HOST, &pb, false, 4);
    let (again, commands) = traced(&pb, &[]);
    assert_eq!((recap_of(&again, HOST).1, commands), (0, 4), "{again}");
    let (rc, out) = on_host(&format!("chmod 0644 {d}/app.conf; cat {d}/app.conf {d}/other.conf"));
    assert!(rc == 0 && out.contains("a=1\nb=2\n# BEGIN ANSIBLE MANAGED BLOCK\nx=3\n# END ANSIBLE MANAGED BLOCK\nport=8080\n"), "{out}");
    play_on(HOST, &pb, true, 1);
    play_on(HOST, &pb, false, 1);
    let (rc, out) = on_host(&format!("stat -c %a {d}/app.conf"));
    assert!(rc == 0 && out.contains("600"), "{out}");
    play_on(HOST, &pb, false, 0);
}
