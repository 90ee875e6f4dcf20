//! The command line without a fleet: flags, bad input, docs. Bad input must give one
//! clear message (with file:line:col when there is a file), exit status 1, and touch no
//! host: every inventory here points at a closed port, so a run would show UNREACHABLE.

mod common;

use common::*;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn unknown_flag_is_an_error() {
    let run = provision(["all", "-m", "ping", "--frobnicate"]);
    run.expect_code(1);
    assert!(run.stderr().contains("unexpected argument '--frobnicate'"), "{}", run.stderr());
    assert!(run.stdout().is_empty());
}

#[test]
fn help_and_version_succeed() {
    let run = provision(["--version"]);
    run.expect_code(0);
    assert!(run.stdout().starts_with("provision "));
    let run = provision(["--help"]);
    run.expect_code(0);
    assert!(run.stdout().contains("--become-method"));
}

#[test]
fn malformed_yaml_inventory_names_file_line_and_column() {
    let dir = tempdir();
    let inv = write(dir.path(), "bad.yml", "all:\n  hosts:\n    web1:\n      ansible_port: [1, 2\n");
    let run = provision(["all", "-m", "ping", "-i", &inv]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&format!("--> {inv}:")), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "one message: {err}");
    assert!(run.stdout().is_empty());
}

#[test]
fn malformed_ini_inventory_names_the_line() {
    let dir = tempdir();
    let inv = write(dir.path(), "hosts.ini", "[web]\nweb1 ansible_port=1\n\n[web:varz]\nx=1\n");
    let run = provision(["all", "-m", "ping", "-i", &inv]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains(&format!("--> {inv}:4:")), "{err}");
    assert!(run.stdout().is_empty());
}

#[test]
fn unknown_group_in_a_pattern_touches_no_host() {
    let dir = tempdir();
    let inv = write(dir.path(), "hosts.ini", "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=1\n[db]\ndb1 ansible_host=127.0.0.1 ansible_port=1\n");
    let run = provision(["web:dbs", "-m", "ping", "-i", &inv]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("`dbs`"), "{err}");
    assert!(err.contains("did you mean `db`?"), "{err}");
    assert!(run.stdout().is_empty(), "no host was run: {}", run.stdout());
}

#[test]
fn unknown_module_and_bad_arguments() {
    let dir = tempdir();
    let inv = write(dir.path(), "hosts.ini", "web1 ansible_host=127.0.0.1 ansible_port=1\n");
    let run = provision(["all", "-m", "pnig", "-i", &inv]);
    run.expect_code(1);
    assert!(run.stderr().contains("unknown module `pnig`") && run.stderr().contains("did you mean `ping`?"), "{}", run.stderr());
    let run = provision(["all", "-m", "ping", "-a", "dta=x", "-i", &inv]);
    run.expect_code(1);
    assert!(run.stderr().contains("unknown argument `dta` for module `ping`") && run.stderr().contains("did you mean `data`?"), "{}", run.stderr());
    let run = provision(["all", "-m", "shell", "-i", &inv]);
    run.expect_code(1);
    assert!(run.stderr().contains("no command given"), "{}", run.stderr());
    let run = provision(["all", "-m", "command", "-a", "echo 'unbalanced", "-i", &inv]);
    run.expect_code(1);
    assert!(run.stderr().contains("unbalanced quotes"), "{}", run.stderr());
    assert!(run.stdout().is_empty());
}

#[test]
fn missing_inventory_file() {
    let run = provision(["all", "-m", "ping", "-i", "/nonexistent/inventory.yml"]);
    run.expect_code(1);
    assert!(run.stderr().contains("/nonexistent/inventory.yml"), "{}", run.stderr());
}

#[test]
fn bad_extra_vars() {
    let dir = tempdir();
    let inv = write(dir.path(), "hosts.ini", "web1 ansible_host=127.0.0.1 ansible_port=1\n");
    let bad = write(dir.path(), "vars.yml", "a: [1\n");
    let run = provision(["all", "-m", "ping", "-i", &inv, "-e", &format!("@{bad}")]);
    run.expect_code(1);
    assert!(run.stderr().contains(&format!("{bad}:")), "{}", run.stderr());
}

#[test]
fn doc_lists_and_describes_modules() {
    let run = provision(["doc", "--list"]);
    run.expect_code(0);
    for m in ["ping", "command", "shell", "raw"] {
        assert!(run.stdout().lines().any(|l| l.starts_with(m)), "{m} in {}", run.stdout());
    }
    let run = provision(["doc", "command"]);
    run.expect_code(0);
    assert!(run.stdout().contains("- creates") && run.stdout().contains("EXAMPLES") && run.stdout().contains("RETURN VALUES"));
    let run = provision(["doc", "comand"]);
    run.expect_code(1);
    assert!(run.stderr().contains("did you mean `command`?"));
}

#[test]
fn list_hosts_touches_nothing() {
    let dir = tempdir();
    let inv = write(dir.path(), "hosts.ini", "[web]\nweb[1:3] ansible_host=127.0.0.1 ansible_port=1\n");
    let run = provision(["web[0:1]", "-m", "ping", "-i", &inv, "--list-hosts"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "  hosts (2):\n    web1\n    web2\n");
}
