//! The `template` action on the fleet: rendered on the control machine with the host's
//! variables and facts, written by `copy`; --check --diff predicts a change exactly,
//! the first run makes it, the second changes nothing.

mod common;

use common::*;

fn recap_changed(out: &str) -> usize {
    recap_of(out, "h1").1
}

#[test]
fn template_twice_and_check_diff_predicts() {
    let f = fleet();
    let dir = tempdir();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/motd.j2"),
        "# {{ ansible_managed }}\nWelcome to {{ inventory_hostname }} ({{ ansible_distribution }})\n{% for u in users %}\n- {{ u }}\n{% endfor %}\n",
    )
    .unwrap();
    let write_play = |users: &str| {
        std::fs::write(
            dir.path().join("site.yml"),
            format!("- hosts: h1\n  vars:\n    users: {users}\n  tasks:\n    - name: motd\n      template:\n        src: motd.j2\n        dest: /tmp/provision-test-template/motd\n        mode: \"0640\"\n"),
        )
        .unwrap();
    };
    let inv = f.inventory.display().to_string();
    provision(["h1", "-i", &inv, "-m", "shell", "-a", "rm -rf /tmp/provision-test-template && mkdir -p /tmp/provision-test-template"]).expect_code(0);
    write_play("[alice, bob]");
    let check = provision_in(dir.path(), ["site.yml", "-i", &inv, "--check"], &[]);
    check.expect_code(0);
    assert_eq!(recap_changed(&check.stdout()), 1);
    provision(["h1", "-i", &inv, "-a", "test ! -e /tmp/provision-test-template/motd"]).expect_code(0);
    let first = provision_in(dir.path(), ["site.yml", "-i", &inv], &[]);
    first.expect_code(0);
    assert_eq!(recap_changed(&first.stdout()), 1);
    let second = provision_in(dir.path(), ["site.yml", "-i", &inv], &[]);
    assert_eq!(recap_changed(&second.stdout()), 0);
    let cat = provision(["h1", "-i", &inv, "-m", "shell", "-a", "stat -c %a /tmp/provision-test-template/motd; cat /tmp/provision-test-template/motd"]);
    assert_eq!(cat.stdout(), "h1 | CHANGED | rc=0 >>\n640\n# Ansible managed\nWelcome to h1 (Debian)\n- alice\n- bob\n");
    // A change to the template's input: --check --diff shows exactly that line.
    write_play("[alice, bob, carol]");
    let diff = provision_in(dir.path(), ["site.yml", "-i", &inv, "--check", "--diff"], &[]);
    assert_eq!(recap_changed(&diff.stdout()), 1);
    let out = diff.stdout();
    assert!(out.contains("@@ -2,3 +2,4 @@\n Welcome to h1 (Debian)\n - alice\n - bob\n+- carol\n"), "{out}");
    assert_eq!(out.matches("\n+").count(), 2, "only the header and carol are added: {out}");
    let after = provision_in(dir.path(), ["site.yml", "-i", &inv], &[]);
    assert_eq!(recap_changed(&after.stdout()), 1);
    assert_eq!(recap_changed(&provision_in(dir.path(), ["site.yml", "-i", &inv], &[]).stdout()), 0);
}
