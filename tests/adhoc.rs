//! Ad-hoc runs against the real fleet: ping, command/shell/raw, become, quoting,
//! unreachable hosts. Needs `tests/fleet/fleet up` (five hosts).

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;

#[test]
fn ping_five_hosts_and_one_unreachable() {
    let f = fleet();
    let dir = tempdir();
    // The lab's five hosts, plus one on a port where nothing listens.
    let lab = std::fs::read_to_string(&f.inventory).unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let extra = dir.path().join("extra.ini");
    std::fs::write(&extra, format!("[broken]\nnowhere ansible_host=127.0.0.1 ansible_port={closed_port}\n")).unwrap();
    assert!(lab.contains("h5"), "the fleet must have five hosts");
    let run = provision(["all", "-m", "ping", "-i", f.inventory.to_str().unwrap(), "-i", extra.to_str().unwrap(), "-T", "10"]);
    run.expect_code(4);
    let out = run.stdout();
    assert_eq!(out.matches("| SUCCESS =>").count(), 5, "{out}");
    assert_eq!(out.matches("| UNREACHABLE! =>").count(), 1, "{out}");
    assert!(out.contains("nowhere | UNREACHABLE! => {\n    \"changed\": false,\n    \"msg\": \"Failed to connect to the host via ssh: "), "{out}");
    assert!(out.contains("Connection refused"), "{out}");
    assert!(out.contains("h1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}"), "{out}");
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}, longer than the connect timeout", run.elapsed);
}

#[test]
fn a_silent_host_times_out_without_holding_up_the_others() {
    let f = fleet();
    let dir = tempdir();
    // A port that accepts TCP but never speaks SSH: only the connect timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(1).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(6));
        drop(conns);
    });
    let extra = dir.path().join("extra.ini");
    std::fs::write(&extra, format!("silent ansible_host=127.0.0.1 ansible_port={silent_port}\n")).unwrap();
    let run = provision(["all", "-m", "ping", "-o", "-T", "2", "-i", f.inventory.to_str().unwrap(), "-i", extra.to_str().unwrap()]);
    run.expect_code(4);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    // Results print as they come: the five answering hosts before the silent one.
    assert!(lines[5].starts_with("silent | UNREACHABLE!: "), "{out}");
    assert!(lines[5].contains("timed out"), "{out}");
    assert!(run.elapsed >= Duration::from_secs(2) && run.elapsed < Duration::from_secs(6), "{:?}", run.elapsed);
    holder.join().unwrap();
}

#[test]
fn command_output_rc_and_failure() {
    let f = fleet();
    let inv = f.inventory.to_str().unwrap();
    let run = provision(["h1", "-i", inv, "-a", "uname -s"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h1 | CHANGED | rc=0 >>\nLinux\n");

    // `command` passes shell operators literally.
    let run = provision(["h1", "-i", inv, "-m", "command", "-a", "echo a | wc -l"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h1 | CHANGED | rc=0 >>\na | wc -l\n");

    let run = provision(["h1", "-i", inv, "-m", "shell", "-a", "echo out; echo err >&2; exit 3"]);
    run.expect_code(2);
    assert_eq!(run.stdout(), "h1 | FAILED | rc=3 >>\nout\nerr\nnon-zero return code\n");

    // raw keeps the output as it came, trailing newline included (as Ansible does).
    let run = provision(["h1", "-i", inv, "-m", "raw", "-a", "echo raw; hostname"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h1 | CHANGED | rc=0 >>\nraw\nh1\n\n");

    let run = provision(["h1:h2", "-i", inv, "-m", "command", "-a", "hostname", "-o"]);
    run.expect_code(0);
    let mut lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["h1 | CHANGED | rc=0 | (stdout) h1", "h2 | CHANGED | rc=0 | (stdout) h2"]);

    // creates: skipped, in one round trip, reported as not changed.
    let run = provision(["h1", "-i", inv, "-a", "touch /nonexistent/x creates=/etc/hostname"]);
    run.expect_code(0);
    assert!(run.stdout().starts_with("h1 | SUCCESS | rc=0 >>\nskipped, since /etc/hostname exists"), "{}", run.stdout());
}

#[test]
fn quoting_torture() {
    let f = fleet();
    let inv = f.inventory.to_str().unwrap();
    // Every word reaches printf as written: spaces, both quotes, $, backslashes, globs.
    let run = provision([
        "h2",
        "-i",
        inv,
        "-m",
        "command",
        "-a",
        r#"printf '[%s]\n' "a b" 'it'"'"'s' '$HOME' "\$(id)" '*' 'x;y' "back\\slash""#,
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h2 | CHANGED | rc=0 >>\n[a b]\n[it's]\n[$HOME]\n[$(id)]\n[*]\n[x;y]\n[back\\slash]\n");

    // argv form through JSON args: a newline inside one word.
    let run = provision(["h2", "-i", inv, "-m", "command", "-a", r#"{"argv": ["printf", "<%s>", "line1\nline2 $x 'q'"]}"#]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h2 | CHANGED | rc=0 >>\n<line1\nline2 $x 'q'>\n");

    // shell sees its own syntax, and quotes inside stay intact.
    let run = provision(["h2", "-i", inv, "-m", "shell", "-a", r#"x='single "double" $dollar'; echo "$x" | tr a-z A-Z"#]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h2 | CHANGED | rc=0 >>\nSINGLE \"DOUBLE\" $DOLLAR\n");
}

#[test]
fn non_utf8_output_is_replaced_not_fatal() {
    let f = fleet();
    let run = provision(["h3", "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", r"printf 'ok \377\376 end\n'"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h3 | CHANGED | rc=0 >>\nok \u{FFFD}\u{FFFD} end\n");
}

fn secret_file(dir: &std::path::Path, text: &str) -> String {
    let p = dir.join("pw");
    std::fs::write(&p, format!("{text}\n")).unwrap();
    p.display().to_string()
}

#[test]
fn become_sudo_with_password_nopasswd_and_su() {
    let dir = tempdir();
    // alice needs her password for sudo.
    let inv = inventory_for(dir.path(), &[4], "alice", "");
    let inv = inv.to_str().unwrap();
    let pw = secret_file(dir.path(), ALICE_PASSWORD);
    let run = provision(["all", "-i", inv, "-b", "--become-password-file", &pw, "-a", "id -un"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h4 | CHANGED | rc=0 >>\nroot\n");
    assert!(!run.stdout().contains(ALICE_PASSWORD) && !run.stderr().contains(ALICE_PASSWORD));

    // stdin still reaches the command after the password was answered.
    let run = provision(["all", "-i", inv, "-b", "--become-password-file", &pw, "-m", "command", "-a", "cat stdin=fed-through-sudo"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h4 | CHANGED | rc=0 >>\nfed-through-sudo\n");

    // Without a password: a clear failure, not a hang.
    let run = provision(["all", "-i", inv, "-b", "-a", "id -un"]);
    run.expect_code(2);
    assert!(run.stdout().contains("\"msg\": \"Missing sudo password (give it with -K, --become-password-file FILE"), "{}", run.stdout());

    // A wrong one.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let run = provision(["all", "-i", inv, "-b", "--become-password-file", wrong.to_str().unwrap(), "-a", "id -un"]);
    run.expect_code(2);
    assert!(run.stdout().contains("\"msg\": \"Incorrect sudo password\""), "{}", run.stdout());

    // bob has NOPASSWD; a password given anyway is not fed to the command.
    let dir2 = tempdir();
    let inv2 = inventory_for(dir2.path(), &[4], "bob", "ansible_become: true\nansible_become_password: unused");
    let run = provision(["all", "-i", inv2.to_str().unwrap(), "-m", "command", "-a", "cat stdin=only-this"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h4 | CHANGED | rc=0 >>\nonly-this\n");

    // su from bob to alice, answering alice's password on a terminal.
    let dir3 = tempdir();
    let inv3 = inventory_for(
        dir3.path(),
        &[4],
        "bob",
        &format!("ansible_become: true\nansible_become_method: su\nansible_become_user: alice\nansible_become_password: {ALICE_PASSWORD}"),
    );
    let run = provision(["all", "-i", inv3.to_str().unwrap(), "-m", "shell", "-a", "id -un; echo two"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h4 | CHANGED | rc=0 >>\nalice\ntwo\n");

    // become_user with sudo.
    let run = provision(["all", "-i", inv2.to_str().unwrap(), "--become-user", "alice", "-a", "id -un"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h4 | CHANGED | rc=0 >>\nalice\n");
}

#[test]
fn password_authentication() {
    let dir = tempdir();
    let f = fleet();
    let inv = dir.path().join("inv.ini");
    std::fs::write(
        &inv,
        format!(
            "h5 ansible_host=127.0.0.1 ansible_port={} ansible_user=alice ansible_ssh_private_key_file=/nonexistent ansible_ssh_common_args='-o UserKnownHostsFile={}'\n",
            port(5),
            f.known_hosts.display()
        ),
    )
    .unwrap();
    let pw = secret_file(dir.path(), ALICE_PASSWORD);
    let run = provision(["all", "-i", inv.to_str().unwrap(), "--connection-password-file", &pw, "-a", "id -un"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "h5 | CHANGED | rc=0 >>\nalice\n");
    let bad = secret_file(dir.path(), "wrong");
    let run = provision(["all", "-i", inv.to_str().unwrap(), "--connection-password-file", &bad, "-a", "id -un"]);
    run.expect_code(4);
    assert!(run.stdout().contains("Permission denied"), "{}", run.stdout());
}

#[test]
fn local_connection_runs_on_the_control_machine() {
    let run = provision(["localhost", "-c", "local", "-m", "shell", "-a", "echo here; exit 0"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "localhost | CHANGED | rc=0 >>\nhere\n");
    let run = provision(["localhost", "-m", "ping"]);
    run.expect_code(0);
    assert!(run.stdout().starts_with("localhost | SUCCESS => {"), "{}", run.stdout());
}

