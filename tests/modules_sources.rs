//! `git`, `apt_repository`, `deb822_repository`, `apt_key` and `sudoers` against a real
//! host (h4 of the lab fleet), under /tmp/provision-test-git/, with apt source files
//! named `provision-test-*` (removed at the end of each test) and the sudo rule
//! `provision-test-rule`. Needs `tests/fleet/fleet up`.

mod common;

use common::*;

const HOST: &str = "h4";
const BASE: &str = "/tmp/provision-test-git";

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    shell_on(HOST, cmd)
}

fn ok_on_host(cmd: &str) -> String {
    let (rc, out) = on_host(cmd);
    assert_eq!(rc, 0, "`{cmd}` failed:\n{out}");
    out
}

#[test]
fn git_clone_update_tags_and_local_changes() {
    // apt's cache is the host's: not while the apt sources test runs apt (a rename race).
    {
        let _apt = one_at_a_time();
        ok_on_host("command -v git >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null; }");
    }
    // An upstream with two commits on main and a tag on the first.
    ok_on_host(&format!(
        "set -e; B={BASE}/git; rm -rf $B; mkdir -p $B; git init -q --bare -b main $B/origin.git; git clone -q $B/origin.git $B/work 2>/dev/null; \
cd $B/work; git config user.email t@example.com; git config user.name t; echo one > a.txt; git add a.txt; git commit -qm one; git tag v1; \
echo two > a.txt; git commit -qam two; git push -q origin main v1"
    ));
    let dir = tempdir();
    let head = write_playbook(
        dir.path(),
        HOST,
        "head.yml",
        &format!("    - git:\n        repo: {BASE}/git/origin.git\n        dest: {BASE}/git/app\n"),
    );
    play_on(HOST, &head, true, 1);
    play_on(HOST, &head, false, 1);
    let t = play_on(HOST, &head, false, 0);
    eprintln!("git, nothing to change: {t:?}");
    assert_eq!(ok_on_host(&format!("cat {BASE}/git/app/a.txt")).lines().last(), Some("two"));

    // The tag, through a file:// URL (the same remote for git): changed, then not.
    let tag = write_playbook(
        dir.path(),
        HOST,
        "tag.yml",
        &format!(
            "    - git:\n        repo: file://{BASE}/git/origin.git\n        dest: {BASE}/git/app\n        version: v1\n      register: g\n\
\x20   - assert:\n        that:\n          - g.before != g.after\n          - not g.remote_url_changed\n"
        ),
    );
    play_on(HOST, &tag, true, 1);
    play_on(HOST, &tag, false, 1);
    let tag0 = write_playbook(
        dir.path(),
        HOST,
        "tag0.yml",
        &format!("    - git:\n        repo: file://{BASE}/git/origin.git\n        dest: {BASE}/git/app\n        version: v1\n"),
    );
    play_on(HOST, &tag0, false, 0);
    assert_eq!(ok_on_host(&format!("cat {BASE}/git/app/a.txt")).lines().last(), Some("one"));

    // Back to HEAD, then a new upstream commit: check mode sees it, the run fetches it.
    play_on(HOST, &head, false, 1);
    ok_on_host(&format!("set -e; cd {BASE}/git/work; echo three > a.txt; git commit -qam three; git push -q origin main"));
    let upstream = ok_on_host(&format!("git -C {BASE}/git/origin.git rev-parse main"));
    let sha = upstream.lines().last().unwrap().trim().to_string();
    let check = write_playbook(
        dir.path(),
        HOST,
        "check.yml",
        &format!("    - git:\n        repo: {BASE}/git/origin.git\n        dest: {BASE}/git/app\n      register: g\n    - assert:\n        that:\n          - g.after == '{sha}'\n"),
    );
    play_on(HOST, &check, true, 1);
    play_on(HOST, &check, false, 1);
    play_on(HOST, &check, false, 0);
    assert_eq!(ok_on_host(&format!("cat {BASE}/git/app/a.txt")).lines().last(), Some("three"));

    // A local modification fails without force, and is discarded with it.
    ok_on_host(&format!("echo dirty > {BASE}/git/app/a.txt"));
    let dirty = write_playbook(
        dir.path(),
        HOST,
        "dirty.yml",
        &format!(
            "    - git:\n        repo: {BASE}/git/origin.git\n        dest: {BASE}/git/app\n      register: d\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - d.failed\n          - \"d.msg == 'Local modifications exist in the destination: {BASE}/git/app (force=no).'\"\n\
\x20   - git:\n        repo: {BASE}/git/origin.git\n        dest: {BASE}/git/app\n        force: yes\n"
        ),
    );
    play_on(HOST, &dirty, false, 1);
    assert_eq!(ok_on_host(&format!("cat {BASE}/git/app/a.txt")).lines().last(), Some("three"));
    ok_on_host(&format!("rm -rf {BASE}/git"));
}

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const BACKPORTS: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main";

#[test]
fn apt_sources_deb822_and_one_line() {
    // It updates apt's cache, as the git test's install does.
    let _apt = one_at_a_time();
    // Whatever an earlier run left.
    ok_on_host("rm -f /etc/apt/sources.list.d/provision-test-*");
    let dir = tempdir();
    let add = write_playbook(
        dir.path(),
        HOST,
        "add.yml",
        &format!(
            "    - deb822_repository:\n        name: provision-test-deb822\n        uris: http://deb.debian.org/debian\n        suites: bookworm-backports\n        components: [main]\n        signed_by: {KEYRING}\n      register: d\n\
\x20   - assert:\n        that:\n          - d.dest == '/etc/apt/sources.list.d/provision-test-deb822.sources'\n          - \"'Suites: bookworm-backports' in d.repo\"\n\
\x20   - apt_repository:\n        repo: {BACKPORTS}\n        filename: provision-test-aptrepo\n        update_cache: yes\n      register: a\n"
        ),
    );
    play_on(HOST, &add, true, 2);
    play_on(HOST, &add, false, 2);
    let t = play_on(HOST, &add, false, 0);
    eprintln!("two apt sources, nothing to change: {t:?}");
    let files = ok_on_host("cat /etc/apt/sources.list.d/provision-test-aptrepo.list /etc/apt/sources.list.d/provision-test-deb822.sources; stat -c %a /etc/apt/sources.list.d/provision-test-aptrepo.list");
    assert!(files.contains(&format!("{BACKPORTS}\n")), "{files}");
    assert!(files.contains("Components: main\nX-Repolib-Name: provision-test-deb822\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\nSuites: bookworm-backports\nTypes: deb\nURIs: http://deb.debian.org/debian\n"), "{files}");
    assert!(files.contains("\n644"), "{files}");
    // apt reads both: the backports index is there after the update the module ran.
    let policy = ok_on_host("apt-get update -q 2>&1 | tail -n 3; apt-cache policy | grep -c bookworm-backports");
    assert!(!policy.contains("E:"), "{policy}");
    assert_ne!(policy.lines().last().map(str::trim), Some("0"), "{policy}");

    let remove = write_playbook(
        dir.path(),
        HOST,
        "remove.yml",
        &format!(
            "    - deb822_repository:\n        name: provision-test-deb822\n        state: absent\n\
\x20   - apt_repository:\n        repo: {BACKPORTS}\n        state: absent\n      register: a\n"
        ),
    );
    play_on(HOST, &remove, true, 2);
    play_on(HOST, &remove, false, 2);
    play_on(HOST, &remove, false, 0);
    let left = ok_on_host("ls /etc/apt/sources.list.d/; apt-cache policy | grep -c bookworm-backports || true");
    assert!(!left.contains("provision-test-"), "{left}");
    assert_eq!(left.lines().last().map(str::trim), Some("0"), "{left}");
}

/// ASCII armor for binary key bytes (CRC-24 as RFC 4880 says).
fn armor(bin: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b64 = |data: &[u8]| -> String {
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                out.push(if i <= chunk.len() { ABC[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
            }
        }
        out
    };
    let mut crc: u32 = 0xB704CE;
    for b in bin {
        crc ^= u32::from(*b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x1000000 != 0 {
                crc ^= 0x1864CFB;
            }
        }
    }
    let crc = crc & 0xFFFFFF;
    let body = b64(bin);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{}\n={}\n-----END PGP PUBLIC KEY BLOCK-----\n",
        lines.join("\n"),
        b64(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8])
    )
}

#[test]
fn apt_key_into_keyrings() {
    let src = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg";
    let keys = format!("{BASE}/keys");
    ok_on_host(&format!("rm -rf {keys}"));
    let dir = tempdir();
    // From a key file on the host (binary): the keyring is the same bytes.
    let file = write_playbook(
        dir.path(),
        HOST,
        "file.yml",
        &format!("    - apt_key:\n        file: {src}\n        keyring: {keys}/provision-test.gpg\n      register: k\n    - assert:\n        that:\n          - k.fp | length == 40\n"),
    );
    play_on(HOST, &file, true, 1);
    play_on(HOST, &file, false, 1);
    play_on(HOST, &file, false, 0);
    ok_on_host(&format!("cmp {src} {keys}/provision-test.gpg && [ $(stat -c %a {keys}/provision-test.gpg) = 644 ]"));

    // The same key as armored `data`: dearmored to exactly the binary key.
    let b64 = ok_on_host(&format!("base64 -w0 {src}"));
    let bin = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(b64.lines().last().unwrap().trim()).expect("base64 from the host")
    };
    let armored = armor(&bin);
    let indented: String = armored.lines().map(|l| format!("          {l}\n")).collect();
    let data = write_playbook(
        dir.path(),
        HOST,
        "data.yml",
        &format!("    - apt_key:\n        keyring: {keys}/provision-test-data.gpg\n        data: |\n{indented}      register: k\n"),
    );
    play_on(HOST, &data, true, 1);
    play_on(HOST, &data, false, 1);
    play_on(HOST, &data, false, 0);
    ok_on_host(&format!("cmp {src} {keys}/provision-test-data.gpg"));

    // Removal by the key's id.
    let f = fleet();
    let probe = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "apt_key", "-a", &format!("file={src} keyring={keys}/provision-test.gpg")]);
    let out = probe.stdout();
    let fp = out.split("\"fp\": \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("no fp in {out}")).to_string();
    assert_eq!(fp.len(), 40, "{out}");
    let absent = write_playbook(
        dir.path(),
        HOST,
        "absent.yml",
        &format!("    - apt_key:\n        id: {}\n        keyring: {keys}/provision-test.gpg\n        state: absent\n", &fp[24..]),
    );
    play_on(HOST, &absent, true, 1);
    play_on(HOST, &absent, false, 1);
    play_on(HOST, &absent, false, 0);
    ok_on_host(&format!("[ ! -e {keys}/provision-test.gpg ]"));

    // Without a keyring, on a host without gpg: a clear hint.
    let legacy = write_playbook(
        dir.path(),
        HOST,
        "legacy.yml",
        &format!(
            "    - apt_key:\n        file: {src}\n      register: l\n      ignore_errors: yes\n    - assert:\n        that:\n          - l.failed\n          - \"'keyring' in l.msg\"\n"
        ),
    );
    play_on(HOST, &legacy, false, 0);
    ok_on_host(&format!("rm -rf {keys}"));
}


#[test]
fn sudoers_rule_validated_and_removed() {
    ok_on_host("rm -f /etc/sudoers.d/provision-test-rule");
    let dir = tempdir();
    let add = write_playbook(
        dir.path(),
        HOST,
        "rule.yml",
        "    - community.general.sudoers:\n        name: provision-test-rule\n        user: bob\n        runas: root\n        commands:\n          - /usr/bin/uptime\n          - /usr/bin/df -h\n",
    );
    play_on(HOST, &add, true, 1);
    play_on(HOST, &add, false, 1);
    play_on(HOST, &add, false, 0);
    let out = ok_on_host("cat /etc/sudoers.d/provision-test-rule; stat -c %a /etc/sudoers.d/provision-test-rule; sudo -l -U bob");
    assert!(out.contains("bob ALL=(root)NOPASSWD: /usr/bin/uptime, /usr/bin/df -h\n440\n"), "{out}");
    assert!(out.contains("/usr/bin/uptime"), "{out}");

    // A rule visudo refuses is not written.
    let bad = write_playbook(
        dir.path(),
        HOST,
        "bad.yml",
        "    - community.general.sudoers:\n        name: provision-test-rule\n        user: bob\n        commands: uptime now\n      register: b\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - b.failed\n          - \"'Failed to validate sudoers rule' in b.msg\"\n",
    );
    play_on(HOST, &bad, false, 0);
    let out = ok_on_host("cat /etc/sudoers.d/provision-test-rule");
    assert!(out.contains("/usr/bin/uptime"), "{out}");

    let remove = write_playbook(dir.path(), HOST, "remove.yml", "    - community.general.sudoers:\n        name: provision-test-rule\n        state: absent\n");
    play_on(HOST, &remove, true, 1);
    play_on(HOST, &remove, false, 1);
    play_on(HOST, &remove, false, 0);
    ok_on_host("[ ! -e /etc/sudoers.d/provision-test-rule ]");
}
