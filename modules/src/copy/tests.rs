//! `copy` against a fake host: arguments and what the host reports → what is sent.

use serde_json::json;

use super::*;
use crate::file::tests::{absent, after, args, block_on, dir, file, host, Fake, run_module};
use crate::ExecOutput;

fn run(a: Value, answers: &[&str], check: bool, diff: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
    let fake = Fake::new(answers);
    let r = run_module(&Copy, a, &fake, check, diff);
    let sent = fake.sent.lock().unwrap().clone();
    (r, sent)
}

fn with_sum(mut st: util::PathState, content: &[u8]) -> util::PathState {
    st.checksum = Some(util::sha1_hex(content));
    st.size = content.len() as u64;
    st
}

#[test]
fn new_content_is_written_atomically_in_one_more_round_trip() {
    // dest, its parent.
    let probe = host(&[(absent(), 0), (dir("0755"), 2)], "");
    let done = after(with_sum(file("0644", "root", 0, 0), b"hello\n"));
    let (r, sent) = run(json!({"content": "hello\n", "dest": "/etc/motd"}), &[&probe, &done], false, false);
    assert_eq!(sent.len(), 2);
    assert!(sent[0].0.contains("p=/etc/motd;") && sent[0].0.contains("p=/etc;"), "{}", sent[0].0);
    assert!(sent[0].1.is_empty());
    let (script, stdin) = &sent[1];
    assert!(script.starts_with("set -e; p=/etc/motd; t=; trap "), "{script}");
    assert!(script.contains(": >/etc/.provision."), "{script}");
    assert!(script.contains("chmod 0644 \"$t\""), "{script}");
    assert!(script.contains("mv -f -- \"$t\" \"$p\"; trap - EXIT; set +e;"), "{script}");
    // The checksum of what was sent is known: no sha1sum after the write.
    assert!(!script.contains("sha1sum"), "{script}");
    assert_eq!(crate::util::unframed(stdin), b"hello\n");
    assert!(stdin.len() > 6);
    assert!(r.changed());
    assert_eq!(r.0["dest"], "/etc/motd");
    assert_eq!(r.0["checksum"], util::sha1_hex(b"hello\n"));
    assert_eq!((r.0["mode"].as_str(), r.0["state"].as_str(), r.0["size"].as_u64()), (Some("0644"), Some("file"), Some(6)));
}

#[test]
fn same_content_sends_nothing() {
    let probe = host(&[(with_sum(file("0644", "root", 0, 0), b"hello\n"), 5), (dir("0755"), 2)], "");
    let (r, sent) = run(json!({"content": "hello\n", "dest": "/etc/motd", "mode": "0644", "owner": "root"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed(), "{r:?}");
    assert_eq!(r.0["checksum"], util::sha1_hex(b"hello\n"));
    assert_eq!(r.0["dest"], "/etc/motd");
}

#[test]
fn same_content_other_mode_is_a_chmod() {
    let probe = host(&[(with_sum(file("0600", "root", 0, 0), b"x"), 5), (dir("0755"), 2)], "");
    let done = after(with_sum(file("0644", "root", 0, 0), b"x"));
    let (r, sent) = run(json!({"content": "x", "dest": "/etc/x", "mode": "u=rw,go=r"}), &[&probe, &done], false, true);
    assert_eq!(sent.len(), 2);
    assert!(sent[1].0.starts_with("set -e; chmod 0644 -- /etc/x; set +e;"), "{}", sent[1].0);
    assert!(sent[1].1.is_empty(), "no content sent");
    assert!(r.changed());
    assert_eq!(r.0["diff"], json!({"before": {"path": "/etc/x", "mode": "0600"}, "after": {"path": "/etc/x", "mode": "0644"}}));
}

#[test]
fn changed_content_keeps_the_old_mode_and_shows_a_diff() {
    let probe = host(&[(with_sum(file("0640", "root", 0, 0), b"old\n"), 5), (dir("0755"), 2)], "");
    // The diff reads the old content (one round trip, --diff only).
    let old = "__provision_probe_1f3a__ file 640 root root 0 0 4\n__provision_probe_1f3a__content\nold\n";
    let done = after(with_sum(file("0640", "root", 0, 0), b"new\n"));
    let (r, sent) = run(json!({"content": "new\n", "dest": "/etc/x", "backup": true}), &[&probe, old, &done], false, true);
    assert_eq!(sent.len(), 3);
    let script = &sent[2].0;
    assert!(script.contains("chmod --reference=\"$p\" \"$t\"") && !script.contains("fi; chmod"), "the old mode is kept: {script}");
    assert!(script.contains("cp -p -- \"$p\" \"$b\""), "backup: {script}");
    assert_eq!(r.0["diff"], json!([{"before": "old\n", "before_header": "/etc/x", "after": "new\n", "after_header": "/etc/x"}]));
}

#[test]
fn check_mode_sends_no_content() {
    let probe = host(&[(with_sum(file("0644", "root", 0, 0), b"old"), 5), (dir("0755"), 2)], "");
    let (r, sent) = run(json!({"content": "new", "dest": "/etc/x"}), &[&probe], true, false);
    assert_eq!(sent.len(), 1);
    assert!(r.changed());
}

#[test]
fn bad_arguments_and_missing_parents_fail() {
    let (r, sent) = run(json!({"content": "x", "src": "/etc/hosts", "dest": "/x"}), &[], false, false);
    assert_eq!(r.0["msg"], "src and content are mutually exclusive");
    assert!(sent.is_empty());
    let (r, _) = run(json!({"dest": "/x"}), &[], false, false);
    assert_eq!(r.0["msg"], "src (or content) is required");
    let (r, _) = run(json!({"content": "x", "dest": "/x/"}), &[], false, false);
    assert_eq!(r.0["msg"], "can not use content with a dir as dest");
    let (r, _) = run(json!({"content": "x", "dest": "/x", "validate": "visudo -c"}), &[], false, false);
    assert_eq!(r.0["msg"], "validate must contain %s: visudo -c");
    let probe = host(&[(absent(), 0), (absent(), 0)], "");
    let (r, sent) = run(json!({"content": "x", "dest": "/no/such/x"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert_eq!(r.0["msg"], "Destination directory /no/such does not exist");
}

#[test]
fn a_src_file_goes_inside_a_destination_directory() {
    let dir_ = tempfile_dir();
    let src = dir_.join("app.conf");
    std::fs::write(&src, b"conf\n").unwrap();
    let src = src.to_str().unwrap().to_string();
    // dest, its parent, dest/app.conf.
    let probe = host(&[(dir("0755"), 1), (dir("0755"), 2), (absent(), 0)], "");
    let done = after(with_sum(file("0644", "root", 0, 0), b"conf\n"));
    let (r, sent) = run(json!({"src": src, "dest": "/etc/app", "validate": "check -f %s"}), &[&probe, &done], false, false);
    assert!(sent[0].0.contains("p=/etc/app/app.conf;"), "{}", sent[0].0);
    assert!(sent[1].0.contains("p=/etc/app/app.conf;"), "{}", sent[1].0);
    assert!(sent[1].0.contains(&format!("{{ check -f \"$t\" >&2 || {{ echo \"{VALIDATE_MARK} $?\"; exit 97; }}; }} && : || exit 1; mv -f")), "{}", sent[1].0);
    assert_eq!(crate::util::unframed(&sent[1].1), b"conf\n");
    assert_eq!(r.0["dest"], "/etc/app/app.conf");
    assert_eq!(r.0["src"], src);
}

#[test]
fn a_failed_validation_is_reported() {
    let probe = host(&[(absent(), 0), (dir("0755"), 2)], "");
    let fake = Fake::with(vec![
        ExecOutput { rc: 0, stdout: probe.into_bytes(), stderr: vec![] },
        ExecOutput { rc: 97, stdout: format!("{VALIDATE_MARK} 1\n").into_bytes(), stderr: b"syntax error\n".to_vec() },
    ]);
    let ctx = Context { remote: &fake, check_mode: false, diff: false };
    let a = crate::validate("copy", DOC.args, &args(json!({"content": "x", "dest": "/etc/sudoers", "validate": "visudo -cf %s"})), &[]).unwrap();
    let r = block_on(Copy.run(&a, &ctx)).unwrap();
    assert!(r.is_failed());
    assert_eq!(r.0["msg"], "failed to validate");
    assert_eq!(r.0["exit_status"], 1);
    assert_eq!(r.0["stderr"], "syntax error\n");
}

#[test]
fn force_no_leaves_an_existing_file() {
    let probe = host(&[(with_sum(file("0644", "root", 0, 0), b"old"), 5), (dir("0755"), 2)], "");
    let (r, sent) = run(json!({"content": "new", "dest": "/etc/x", "force": false}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed());
}

#[test]
fn content_lists_are_json_like_python() {
    assert_eq!(python_json(&json!({"a": [1, "é"], "b": null})), "{\"a\": [1, \"\\u00e9\"], \"b\": null}");
}

#[test]
fn a_remote_source_is_copied_on_the_host() {
    // First: what the source is. Then: dest, parent, dest/basename, source.
    let src = with_sum(file("0600", "root", 0, 0), b"hosts");
    let first = host(&[(src.clone(), 3)], "");
    let probe = host(&[(absent(), 0), (dir("0755"), 2), (absent(), 0), (src.clone(), 3)], "");
    let done = after(with_sum(file("0600", "root", 0, 0), b"hosts"));
    let (r, sent) = run(json!({"src": "/etc/hosts", "dest": "/etc/hosts.orig", "remote_src": true}), &[&first, &probe, &done], false, false);
    assert_eq!(sent.len(), 3);
    assert!(sent[2].0.contains("dd if=/etc/hosts bs=64K conv=fsync status=none >\"$t\""), "{}", sent[2].0);
    assert!(sent[2].0.contains("chmod 0600 \"$t\""), "the source's mode: {}", sent[2].0);
    assert!(sent[2].1.is_empty());
    assert!(r.changed());
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("provision-copy-test-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

mod trees {
    use super::*;

    fn tree_probe(lines: &str) -> String {
        format!("__provision_copy_3e9a__ umask 0022\n{lines}")
    }

    fn local_tree() -> std::path::PathBuf {
        let d = tempfile_dir().join("site");
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("css")).unwrap();
        std::fs::write(d.join("index.html"), b"<h1>hi</h1>\n").unwrap();
        std::fs::write(d.join("css/a.css"), b"a{}\n").unwrap();
        d
    }

    #[test]
    fn a_new_tree_goes_in_one_tar_stream() {
        let d = local_tree();
        let src = d.to_str().unwrap().to_string();
        let probe = tree_probe("__provision_copy_3e9a__ s 41ed 0 0 root root /srv\n");
        let (r, sent) = run(json!({"src": src, "dest": "/srv/www", "directory_mode": "0750"}), &[&probe, ""], false, false);
        assert_eq!(sent.len(), 2);
        let paths: Vec<&str> = std::str::from_utf8(&sent[0].1).unwrap().split('\0').filter(|p| !p.is_empty()).collect();
        assert_eq!(paths, vec!["/srv", "/srv/www", "/srv/www/site", "/srv/www/site/css", "/srv/www/site/css/a.css", "/srv/www/site/index.html"]);
        assert_eq!(
            sent[1].0,
            "set -e; mkdir -p -- /srv/www; s=$(mktemp -d /srv/www/.provision.XXXXXXXX); trap 'rm -rf \"$s\"' EXIT; tar -xof - -C \"$s\"; . \"$s/.script\""
        );
        let tar = &sent[1].1;
        let script_at = tar.windows(8).position(|w| w == b".script\0").unwrap();
        let script = String::from_utf8_lossy(&tar[script_at + 512..]).trim_end_matches('\0').to_string();
        assert_eq!(
            script.trim_end(),
            "mkdir -p -- /srv/www\nchmod 0750 -- /srv/www\nmkdir -p -- /srv/www/site\nchmod 0750 -- /srv/www/site\n\
mkdir -p -- /srv/www/site/css\nchmod 0750 -- /srv/www/site/css\nchmod 0644 -- \"$s\"/d0/a.css \"$s\"/d1/index.html\n\
mv -f -- \"$s\"/d1/index.html /srv/www/site\nmv -f -- \"$s\"/d0/a.css /srv/www/site/css"
        );
        assert!(r.changed());
        assert_eq!(r.0["dest"], "/srv/www/");
    }

    #[test]
    fn an_unchanged_tree_is_one_round_trip() {
        let d = local_tree();
        let src = format!("{}/", d.to_str().unwrap());
        let a = util::sha1_hex(b"a{}\n");
        let i = util::sha1_hex(b"<h1>hi</h1>\n");
        let probe = tree_probe(&format!(
            "__provision_copy_3e9a__ s 41ed 0 0 root root /srv\n__provision_copy_3e9a__ s 41ed 0 0 root root /srv/www\n\
__provision_copy_3e9a__ s 41ed 0 0 root root /srv/www/css\n__provision_copy_3e9a__ s 81a4 0 0 root root /srv/www/css/a.css\n\
__provision_copy_3e9a__ s 81a4 0 0 root root /srv/www/index.html\n{a}  /srv/www/css/a.css\n{i}  /srv/www/index.html\n"
        ));
        let (r, sent) = run(json!({"src": src, "dest": "/srv/www/", "mode": "0644"}), &[&probe], false, false);
        assert_eq!(sent.len(), 1);
        assert!(!r.changed(), "{r:?}");
        // One file changed on the host: only it is sent, keeping its owner.
        let probe = probe.replace(&format!("{i}  /srv/www/index.html"), &format!("{a}  /srv/www/index.html")).replace("81a4 0 0 root root /srv/www/index.html", "81a4 33 33 www-data www-data /srv/www/index.html");
        let (r, sent) = run(json!({"src": src, "dest": "/srv/www/"}), &[&probe, ""], false, false);
        assert!(r.changed());
        let tar = &sent[1].1;
        assert_eq!(tar.len(), 512 * 2 + 512 * 2 + 1024, "one file and the script");
        let script_at = tar.windows(8).position(|w| w == b".script\0").unwrap();
        let script = String::from_utf8_lossy(&tar[script_at + 512..]).trim_end_matches('\0').to_string();
        assert_eq!(script.trim_end(), "chown -- 33:33 \"$s\"/d0/index.html\nchmod 0644 -- \"$s\"/d0/index.html\nmv -f -- \"$s\"/d0/index.html /srv/www");
    }
}

fn sh(script: &str) -> ExecOutput {
    let out = std::process::Command::new("/bin/sh").arg("-c").arg(script).output().expect("/bin/sh");
    ExecOutput { rc: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr }
}

/// A loop's probes in one command: run by the local shell on files, links, a directory
/// as `dest`, absent paths and odd names, the batch cut into pieces gives each item the
/// very command and bytes its own probe gives.
#[test]
fn a_prefetch_answers_each_item_as_its_own_probe_would() {
    let base = std::env::temp_dir().join(format!("provision-prefetch-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("host")).unwrap();
    std::fs::create_dir_all(base.join("local")).unwrap();
    let d = base.join("host").to_str().unwrap().to_string();
    let p = |name: &str| format!("{d}/{name}");
    std::fs::write(p("plain"), b"one\n").unwrap();
    std::fs::write(p("with space"), b"two\n").unwrap();
    std::fs::write(p("it's"), b"").unwrap();
    std::fs::write(p("new\nline"), b"three\n").unwrap();
    std::fs::write(p("back\\slash"), b"four\n").unwrap();
    std::fs::create_dir(p("sub dir")).unwrap();
    std::fs::write(p("sub dir/src.txt"), b"in the directory\n").unwrap();
    std::os::unix::fs::symlink("plain", p("link")).unwrap();
    std::os::unix::fs::symlink("sub dir", p("dirlink")).unwrap();
    std::os::unix::fs::symlink("nowhere", p("dangling")).unwrap();
    let local = base.join("local");
    let src = local.join("src.txt");
    std::fs::write(&src, b"x").unwrap();
    let src = src.to_str().unwrap().to_string();
    let items: Vec<Args> = [
        json!({"content": "1", "dest": p("plain"), "mode": "0644"}),
        json!({"content": "2", "dest": p("with space")}),
        json!({"content": "3", "dest": p("it's")}),
        json!({"content": "4", "dest": p("new\nline")}),
        json!({"content": "5", "dest": p("back\\slash")}),
        json!({"content": "6", "dest": p("absent")}),
        json!({"content": "7", "dest": p("no dir/absent")}),
        json!({"content": "8", "dest": p("link"), "follow": true}),
        json!({"content": "9", "dest": p("dangling")}),
        json!({"content": "10", "dest": p("sub dir")}),
        json!({"src": src, "dest": p("sub dir")}),
        json!({"src": src, "dest": p("dirlink/")}),
        json!({"src": src, "dest": p("plain")}),
        // Not prefetched: a tree, a remote source, a home to expand.
        json!({"src": local.to_str().unwrap(), "dest": p("tree")}),
        json!({"src": p("plain"), "remote_src": true, "dest": p("copy")}),
        json!({"content": "x", "dest": "~/x"}),
    ]
    .into_iter()
    .map(|v| v.as_object().unwrap().clone())
    .collect();
    let refs: Vec<&Args> = items.iter().collect();
    let pre = Copy.prefetch(&refs).expect("a prefetch");
    let merged = sh(&pre.script);
    // Read each file once first: its access time no longer moves when probes read it.
    let firsts: Vec<String> = refs.iter().filter_map(|a| first_probe(a)).map(|q| file::facts::probe_script(&q)).collect();
    assert_eq!(firsts.len(), 13);
    for c in &firsts {
        sh(c);
    }
    let merged_again = sh(&pre.script);
    let answers = (pre.split)(&merged_again).unwrap_or_else(|| panic!("{merged:?}"));
    assert_eq!(answers.len(), 13);
    for ((command, got), first) in answers.iter().zip(&firsts) {
        assert_eq!(command, first);
        let alone = sh(command);
        assert_eq!(got, &alone, "{command}\n{}\n---\n{}", String::from_utf8_lossy(&got.stdout), String::from_utf8_lossy(&alone.stdout));
    }
    // One `stat` and one `sha1sum`, whatever the number of items.
    assert_eq!(pre.script.matches("stat -c").count(), 1, "{}", pre.script);
    assert_eq!(pre.script.matches("sha1sum").count(), 1, "{}", pre.script);
    // Anything unexpected: no answers at all.
    assert!((pre.split)(&ExecOutput { rc: 90, ..merged_again.clone() }).is_none());
    assert!((pre.split)(&ExecOutput { stderr: b"stat: oops\n".to_vec(), ..merged_again.clone() }).is_none());
    let cut = merged_again.stdout[..merged_again.stdout.len() - 45].to_vec();
    assert!((pre.split)(&ExecOutput { stdout: cut, ..merged_again }).is_none());
    // A single item is no batch.
    assert!(Copy.prefetch(&refs[..1]).is_none());
    let _ = std::fs::remove_dir_all(&base);
}
