//! The corpus of broken playbooks (tests/playbooks/errors): each must give exactly the
//! message in its `.stderr` file, exit 1, and touch no host (the inventory names a host
//! on a closed port, so touching it would show UNREACHABLE on stdout).
//! `PROVISION_BLESS=1 cargo test --test errors` rewrites the `.stderr` files.

mod common;

use common::*;

#[test]
fn every_broken_playbook_gives_its_message() {
    let dir = root().join("tests/playbooks/errors");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    let bless = std::env::var_os("PROVISION_BLESS").is_some();
    let mut failures = Vec::new();
    for name in &names {
        let run = provision_in(&dir, [name.as_str(), "-i", "nowhere,", "-e", "ansible_port=1"], &[]);
        let expected_path = dir.join(name.replace(".yml", ".stderr"));
        if bless {
            std::fs::write(&expected_path, run.stderr()).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if run.code() != 1 || run.stderr() != expected || !run.stdout().is_empty() {
            failures.push(format!("{name}: exit {}\n--- got:\n{}--- expected:\n{}--- stdout:\n{}", run.code(), run.stderr(), expected, run.stdout()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn yaml_boolean_trap_is_a_warning_with_its_place() {
    let dir = root().join("tests/playbooks/warnings");
    let run = provision_in(&dir, ["norway.yml", "-i", "nowhere,", "--syntax-check"], &[]);
    run.expect_code(0);
    assert_eq!(
        run.stderr(),
        "[WARNING]: `data: no` is read as the boolean false (YAML 1.1), but `ping` wants text here\n  --> norway.yml:6:9\n   |\n 6 |         data: no\n   |         ^\n   = help: quote it if you meant the word: `data: \"no\"`\n"
    );
}
