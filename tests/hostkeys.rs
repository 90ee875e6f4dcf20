//! Host-key verification against known_hosts files: unknown keys are refused unless
//! the policy is `accept-new` (which records them), a changed key is always refused,
//! and hashed entries match. Needs the fleet.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The fleet's known_hosts line for host `n`'s ed25519 key (the one negotiated).
fn line_for(n: usize) -> String {
    let f = fleet();
    let text = std::fs::read_to_string(&f.known_hosts).unwrap();
    let prefix = format!("[127.0.0.1]:{} ssh-ed25519 ", port(n));
    text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no ed25519 known_hosts line for h{n}")).to_string()
}

fn inventory(dir: &Path, known_hosts: &Path, policy: &str) -> String {
    let f = fleet();
    let p = dir.join("inv.yml");
    std::fs::write(
        &p,
        format!(
            "all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: root\n      ansible_ssh_private_key_file: {}\n      ansible_ssh_common_args: -o UserKnownHostsFile={} -o StrictHostKeyChecking={policy}\n",
            port(1),
            f.key.display(),
            known_hosts.display()
        ),
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn unknown_host_key_is_refused() {
    let dir = tempdir();
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let run = provision(["all", "-m", "ping", "-i", &inventory(dir.path(), &kh, "yes")]);
    run.expect_code(4);
    let out = run.stdout();
    assert!(out.contains("h1 | UNREACHABLE!"), "{out}");
    assert!(out.contains("host key for [127.0.0.1]:22201 is not known"), "{out}");
    assert!(out.contains("StrictHostKeyChecking=accept-new"), "{out}");
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "", "nothing recorded");
}

#[test]
fn accept_new_records_the_key() {
    let dir = tempdir();
    let kh = dir.path().join("sub/known_hosts");
    let inv = inventory(dir.path(), &kh, "accept-new");
    provision(["all", "-m", "ping", "-i", &inv]).expect_code(0);
    let recorded = std::fs::read_to_string(&kh).unwrap();
    let expected = line_for(1);
    let key_part = expected.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    assert!(recorded.starts_with("[127.0.0.1]:22201 "), "{recorded}");
    assert!(recorded.contains(&key_part), "recorded {recorded:?}, fleet has {expected:?}");
    // Known now, so strict checking accepts it.
    provision(["all", "-m", "ping", "-i", &inventory(dir.path(), &kh, "yes")]).expect_code(0);
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded, "recorded once");
}

#[test]
fn changed_key_is_always_refused() {
    let dir = tempdir();
    let kh = dir.path().join("known_hosts");
    // h2's key (same algorithm) written down for h1's address.
    let other = line_for(2).replacen(&format!("]:{} ", port(2)), &format!("]:{} ", port(1)), 1);
    std::fs::write(&kh, format!("{other}\n")).unwrap();
    for policy in ["yes", "accept-new", "no"] {
        let run = provision(["all", "-m", "ping", "-i", &inventory(dir.path(), &kh, policy)]);
        run.expect_code(4);
        assert!(run.stdout().contains("has CHANGED"), "policy {policy}: {}", run.stdout());
    }
}

#[test]
fn hashed_known_hosts_entries_match() {
    let dir = tempdir();
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, format!("@cert-authority *.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n{}\n", line_for(1))).unwrap();
    let status = Command::new("ssh-keygen").arg("-H").arg("-f").arg(&kh).output().expect("ssh-keygen");
    assert!(status.status.success());
    let text = std::fs::read_to_string(&kh).unwrap();
    assert!(text.contains("|1|"), "{text}");
    provision(["all", "-m", "ping", "-i", &inventory(dir.path(), &kh, "yes")]).expect_code(0);
}
