//! Configuration files (`provision.toml`, `ansible.cfg`), `provision config dump|view`,
//! the environment's precedence, and the generated shell completions and man page.

mod common;

use std::path::Path;

use common::*;

/// Run provision in `dir` with no configuration from the environment except `env`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut all: Vec<(&str, &str)> = vec![("HOME", home.to_str().unwrap())];
    all.extend_from_slice(env);
    let mut cmd_env = all.clone();
    for var in ["ANSIBLE_CONFIG", "PROVISION_CONFIG", "ANSIBLE_REMOTE_USER", "ANSIBLE_FORKS", "ANSIBLE_BECOME", "ANSIBLE_TIMEOUT"] {
        if !env.iter().any(|(k, _)| *k == var) && std::env::var(var).is_ok() {
            cmd_env.push((var, ""));
        }
    }
    provision_in(dir, args, &cmd_env)
}

#[test]
fn dump_shows_values_and_where_they_came_from() {
    let t = tempdir();
    let d = t.path();
    std::fs::write(d.join("ansible.cfg"), "[defaults]\n# a comment\nforks = 7\nremote_user = deploy\nnocows = 1\n[privilege_escalation]\nbecome = True\n").unwrap();
    let run = run_in(d, &["config", "dump"], &[("ANSIBLE_REMOTE_USER", "fromenv")]);
    run.expect_code(0);
    let out = run.stdout();
    let cfg = d.join("ansible.cfg").display().to_string();
    assert!(out.contains(&format!("forks({cfg}:3) = 7\n")), "{out}");
    assert!(out.contains(&format!("become({cfg}:7) = True\n")), "{out}");
    assert!(out.contains("remote_user(env: ANSIBLE_REMOTE_USER) = fromenv\n"), "{out}");
    assert!(out.contains("timeout(default) = 10\n"), "{out}");
    let changed = run_in(d, &["config", "dump", "--only-changed"], &[]).stdout();
    assert!(!changed.contains("timeout(") && changed.contains("forks("), "{changed}");
    let view = run_in(d, &["config", "view"], &[]);
    view.expect_code(0);
    assert!(view.stdout().contains(&format!("# {cfg}\n[defaults]\n")), "{}", view.stdout());

    // provision.toml comes before ansible.cfg in the same directory.
    std::fs::write(d.join("provision.toml"), "forks = 9\n[privilege_escalation]\nbecome_user = \"admin\"\n").unwrap();
    let out = run_in(d, &["config", "dump"], &[]).stdout();
    assert!(out.contains("forks(") && out.contains(") = 9\n") && out.contains("become_user(") && out.contains("= admin\n"), "{out}");
    assert!(out.contains("become(default) = False"), "{out}");
    // PROVISION_CONFIG / ANSIBLE_CONFIG name the file.
    let out = run_in(d, &["config", "dump"], &[("ANSIBLE_CONFIG", &cfg)]).stdout();
    assert!(out.contains(&format!("forks({cfg}:3) = 7\n")), "{out}");
}

#[test]
fn bad_settings_are_one_error_with_file_and_line() {
    let t = tempdir();
    let d = t.path();
    std::fs::write(d.join("provision.toml"), "remote_user = \"x\"\nforks = \"lots\"\n").unwrap();
    let run = run_in(d, &["config", "dump"], &[]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("`forks` must be a whole number, got `lots`") && err.contains("provision.toml:2:1"), "{err}");
    assert_eq!(err.matches("error").count(), 1, "{err}");
    // Unknown keys in provision.toml warn (with a suggestion); ansible.cfg's many others don't.
    std::fs::write(d.join("provision.toml"), "remote_usr = \"x\"\n").unwrap();
    let run = run_in(d, &["config", "dump"], &[]);
    run.expect_code(0);
    assert!(run.stderr().contains("unknown setting `remote_usr`; did you mean `remote_user`?"), "{}", run.stderr());
    // A bad environment value names the variable.
    std::fs::remove_file(d.join("provision.toml")).unwrap();
    let run = run_in(d, &["config", "dump"], &[("ANSIBLE_BECOME", "perhaps")]);
    run.expect_code(1);
    assert!(run.stderr().contains("ANSIBLE_BECOME"), "{}", run.stderr());
    // Unknown stdout_callback: a warning, not an error.
    std::fs::write(d.join("ansible.cfg"), "[defaults]\nstdout_callback = yaml\n").unwrap();
    let pb = write_playbook(d, "localhost", "pb.yml", "    - debug: msg=hi\n");
    let run = run_in(d, &[pb.to_str().unwrap(), "-i", "localhost,", "-c", "local"], &[]);
    run.expect_code(0);
    assert!(run.stderr().contains("unknown stdout_callback `yaml`"), "{}", run.stderr());
}

/// remote_user + private_key_file (+ inventory, forks, log_path) from ansible.cfg: `provision
/// h5 -m ping` works without -i, -u or --private-key; the command line still wins.
#[test]
fn ansible_cfg_supplies_user_key_and_inventory_on_h5() {
    let f = fleet();
    let t = tempdir();
    let d = t.path();
    std::fs::write(
        d.join("hosts.yml"),
        format!(
            "all:\n  hosts:\n    h5:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_ssh_common_args: -o UserKnownHostsFile={}\n",
            port(5),
            f.known_hosts.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("ansible.cfg"),
        format!("[defaults]\ninventory = hosts.yml\nremote_user = root\nprivate_key_file = {}\nforks = 3\nlog_path = run.log\n", f.key.display()),
    )
    .unwrap();
    let run = run_in(d, &["h5", "-m", "ping"], &[]);
    run.expect_code(0);
    assert!(run.stdout().contains("h5 | SUCCESS"), "{}", run.stdout());
    let run = run_in(d, &["h5", "-m", "command", "-a", "whoami"], &[]);
    run.expect_code(0);
    assert!(run.stdout().contains("root"), "{}", run.stdout());
    // -u wins over remote_user; bob has the same key.
    let run = run_in(d, &["h5", "-m", "command", "-a", "whoami", "-u", "bob"], &[]);
    run.expect_code(0);
    assert!(run.stdout().contains("bob"), "{}", run.stdout());
    // ... and so does ANSIBLE_REMOTE_USER.
    let run = run_in(d, &["h5", "-m", "command", "-a", "whoami"], &[("ANSIBLE_REMOTE_USER", "bob")]);
    assert!(run.stdout().contains("bob"), "{}", run.stdout());
    // host_key_checking = False lets a host with an unknown key in.
    let e = tempdir();
    let e = e.path();
    std::fs::write(e.join("empty_known_hosts"), "").unwrap();
    std::fs::write(
        e.join("hosts.yml"),
        format!("all:\n  hosts:\n    h5:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_ssh_common_args: -o UserKnownHostsFile={}\n", port(5), e.join("empty_known_hosts").display()),
    )
    .unwrap();
    let cfg = format!("[defaults]\ninventory = hosts.yml\nremote_user = root\nprivate_key_file = {}\n", f.key.display());
    std::fs::write(e.join("ansible.cfg"), &cfg).unwrap();
    let run = run_in(e, &["h5", "-m", "ping"], &[]);
    assert_eq!(run.code(), 4, "unknown host key must be refused by default\n{}{}", run.stdout(), run.stderr());
    std::fs::write(e.join("ansible.cfg"), format!("{cfg}host_key_checking = False\n")).unwrap();
    run_in(e, &["h5", "-m", "ping"], &[]).expect_code(0);
    let run = run_in(e, &["h5", "-m", "ping"], &[("ANSIBLE_HOST_KEY_CHECKING", "True")]);
    assert_eq!(run.code(), 4, "the environment wins over the file\n{}{}", run.stdout(), run.stderr());

    let log = std::fs::read_to_string(d.join("run.log")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(log.contains("ad-hoc h5 -m ping | exit 0"), "{log}");
}

#[test]
fn completions_and_man_page_come_from_the_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let run = provision(["completions", shell]);
        run.expect_code(0);
        assert!(run.stdout().contains("check"), "{shell}: {}", run.stdout());
        assert!(run.stdout().contains("vault"), "{shell}");
    }
    provision(["completions", "tcsh"]).expect_code(1);
    let run = provision(["man"]);
    run.expect_code(0);
    let man = run.stdout();
    assert!(man.starts_with(".ie") || man.contains(".TH provision 1"), "{man}");
    assert!(man.contains("\\-\\-check"), "{man}");
}

#[test]
fn roles_path_and_forks_from_provision_toml() {
    let t = tempdir();
    let d = t.path();
    std::fs::create_dir_all(d.join("shared/greet/tasks")).unwrap();
    std::fs::create_dir_all(d.join("plays")).unwrap();
    std::fs::write(d.join("shared/greet/tasks/main.yml"), "- debug: msg=\"forks={{ ansible_forks }}\"\n").unwrap();
    std::fs::write(d.join("provision.toml"), "roles_path = \"shared\"\nforks = 4\n").unwrap();
    std::fs::write(d.join("plays/pb.yml"), "- hosts: localhost\n  gather_facts: no\n  roles: [greet]\n").unwrap();
    let run = run_in(d, &["plays/pb.yml", "-i", "localhost,", "-c", "local"], &[]);
    run.expect_code(0);
    assert!(run.stdout().contains("\"msg\": \"forks=4\""), "{}{}", run.stdout(), run.stderr());
    let run = run_in(d, &["plays/pb.yml", "-i", "localhost,", "-c", "local", "-f", "2"], &[("ANSIBLE_FORKS", "3")]);
    assert!(run.stdout().contains("\"msg\": \"forks=2\""), "{}{}", run.stdout(), run.stderr());
    let run = run_in(d, &["plays/pb.yml", "-i", "localhost,", "-c", "local"], &[("ANSIBLE_FORKS", "3")]);
    assert!(run.stdout().contains("\"msg\": \"forks=3\""), "{}{}", run.stdout(), run.stderr());
}
