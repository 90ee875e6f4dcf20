use super::*;
use crate::file::tests::{run_module, Fake};

fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<(String, Vec<u8>)>) {
    let fake = Fake::new(answers);
    let r = run_module(&Unarchive, a, &fake, check, false);
    let sent = fake.sent.lock().unwrap().clone();
    (r, sent)
}

struct Archive(std::path::PathBuf);
impl Drop for Archive {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn archive(tag: &str) -> (Archive, String) {
    let dir = std::env::temp_dir().join(format!("provision-unarchive-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("a.tar.gz");
    std::fs::write(&p, b"ARCHIVE").unwrap();
    let s = p.display().to_string();
    (Archive(dir), s)
}

/// What round trip 1 prints for an archive with `app/` and `app/one.txt` (4 bytes,
/// 2026-01-02 03:04:05 UTC = 1767323045) and the given stat lines.
fn probe_answer(dest: &str, stats: &[&str]) -> String {
    let mut s = format!(
        "{TAG} who 0 0022\n{TAG} v drwxr-xr-x 0/0               0 2026-01-02 03:04:05 app/\n\
{TAG} v -rw-r--r-- 1000/1000         4 2026-01-02 03:04:05 app/one.txt\n{TAG} names\n{TAG} n app/\n{TAG} n app/one.txt\n"
    );
    for st in stats {
        s.push_str(&format!("{TAG} s {st}\n").replace("DEST", dest));
    }
    s.push_str(&format!("{TAG} end\n"));
    s
}

const DIR_OK: &str = "41ed 4096 1767323045 0 0 DEST/app/";
const TOP_OK: &str = "41ed 4096 1767323045 0 0 DEST/app";
const FILE_OK: &str = "81a4 4 1767323045 0 0 DEST/app/one.txt";

#[test]
fn listings_parse() {
    assert_eq!(epoch("1970-01-01", "00:00:00"), Some(0));
    assert_eq!(epoch("2026-01-02", "03:04:05"), Some(1767323045));
    assert_eq!(perm_bits("rwxr-sr-T"), 0o3754);
    let m = parse_tar_line("-rw-r--r-- 0/0   4 2026-01-02 03:04:05 a b/c d.txt").unwrap();
    assert_eq!((m.name.as_str(), m.kind, m.mode, m.size, m.mtime), ("a b/c d.txt", '-', 0o644, 4, 1767323045));
    let l = parse_tar_line("lrwxrwxrwx 0/0 0 2026-01-02 03:04:05 app/link -> one.txt").unwrap();
    assert_eq!((l.name.as_str(), l.kind), ("app/link", 'l'));
    let z = parse_zip_line("- 644 4 1767323045 app/one two.txt").unwrap();
    assert_eq!((z.name.as_str(), z.kind, z.mode, z.size), ("app/one two.txt", '-', 0o644, 4));
}

#[test]
fn nothing_to_do_is_one_round_trip_with_the_archive_on_stdin() {
    let (_d, src) = archive("same");
    let answer = probe_answer("/opt/my app", &[DIR_OK, TOP_OK, FILE_OK]);
    let (r, sent) = run(json!({"src": src, "dest": "/opt/my app", "list_files": true}), &[&answer], false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, b"ARCHIVE");
    let s = &sent[0].0;
    assert!(s.contains("cat > \"$a\"") && s.contains("D='/opt/my app'"), "{s}");
    assert!(s.contains("tar -tzf \"$a\"") && s.contains("tar -tv --numeric-owner --full-time -zf \"$a\""), "{s}");
    assert!(s.contains("xargs -0 -r stat -c"), "{s}");
    assert_eq!(r.0["files"], json!(["app/", "app/one.txt"]));
    assert_eq!(r.0["handler"], "TgzArchive");
}

#[test]
fn a_difference_extracts_in_a_second_round_trip_and_check_mode_stops_before() {
    let (_d, src) = archive("differ");
    // one.txt was edited: another size.
    let answer = probe_answer("/opt", &[DIR_OK, TOP_OK, "81a4 8 1767400000 0 0 /opt/app/one.txt"]);
    let (r, sent) = run(json!({"src": src, "dest": "/opt"}), &[&answer], true);
    assert!(r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    let (r, sent) = run(
        json!({"src": src, "dest": "/opt", "extra_opts": ["--no-same-owner"]}),
        &[&answer, &format!("{TAG} extracted 0\n")],
        false,
    );
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].1, b"ARCHIVE");
    assert!(sent[0].0.contains("--show-transformed-names --no-same-owner"), "{}", sent[0].0);
    assert!(sent[1].0.contains("tar -xzf \"$a\" -C \"$D\" --no-same-owner"), "{}", sent[1].0);
    assert!(!sent[1].0.contains("chown"), "{}", sent[1].0);
    assert_eq!(r.0["extract_results"]["rc"], 0);
    // A missing member, or a failed extraction.
    let answer = probe_answer("/opt", &[DIR_OK]);
    let (r, _) = run(json!({"src": src, "dest": "/opt"}), &[&answer, &format!("{TAG} extracted 2\n{TAG} o tar: boom\n")], false);
    assert!(r.is_failed(), "{r:?}");
    assert!(r.0["msg"].as_str().unwrap().contains("tar: boom"), "{r:?}");
}

#[test]
fn owner_and_mode_are_compared_and_set_only_where_they_differ() {
    let (_d, src) = archive("attrs");
    let answer = format!("{TAG} uid 1000\n{}", probe_answer("/opt", &[DIR_OK, TOP_OK, "81a4 4 1767323045 1000 0 /opt/app/one.txt"]));
    // Content is the same; the directory is not owned by 1000 and the file has 0644, not 0600.
    let a = json!({"src": src, "dest": "/opt", "owner": "app", "mode": "u=rwX,go="});
    let (r, sent) = run(a.clone(), &[&answer, &format!("{TAG} attrs 0\n")], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[0].0.contains("id -u -- app"), "{}", sent[0].0);
    assert!(!sent[1].0.contains("tar -x"), "{}", sent[1].0);
    assert!(sent[1].0.contains("{ cd \"$D\" && chown -h -- app app/ app/one.txt app"), "{}", sent[1].0);
    assert!(sent[1].0.contains("chmod -- u=rwX,go= app/ app/one.txt app; } 2>&1"), "{}", sent[1].0);
    // Already so: nothing to do.
    let answer = format!(
        "{TAG} uid 1000\n{}",
        probe_answer("/opt", &["41c0 4096 1 1000 0 /opt/app/", "41c0 4096 1 1000 0 /opt/app", "8180 4 1767323045 1000 0 /opt/app/one.txt"])
    );
    let (r, sent) = run(a, &[&answer], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    // An unknown user fails.
    let (r, _) = run(json!({"src": src, "dest": "/opt", "owner": "nobody-here"}), &[&format!("{TAG} uid \n{}", probe_answer("/opt", &[]))], false);
    assert_eq!(r.0["msg"], "failed to look up user nobody-here");
}

#[test]
fn exclude_include_and_keep_newer() {
    let (_d, src) = archive("filter");
    // one.txt is excluded: its absence does not matter.
    let answer = probe_answer("/opt", &[DIR_OK, TOP_OK]);
    let (r, _) = run(json!({"src": src, "dest": "/opt", "exclude": ["app/*.txt"], "list_files": true}), &[&answer], false);
    assert!(!r.changed(), "{r:?}");
    assert_eq!(r.0["files"], json!(["app/"]));
    let (r, sent) = run(json!({"src": src, "dest": "/opt", "include": ["app/one.txt"]}), &[&answer, &format!("{TAG} extracted 0\n")], false);
    assert!(r.changed(), "{r:?}");
    assert!(sent[1].0.contains("--no-recursion -- app/one.txt"), "{}", sent[1].0);
    // A newer file on the host is kept.
    let newer = probe_answer("/opt", &[DIR_OK, TOP_OK, "81a4 9 1767400000 0 0 /opt/app/one.txt"]);
    let (r, sent) = run(json!({"src": src, "dest": "/opt", "keep_newer": true}), &[&newer], false);
    assert!(!r.changed() && sent.len() == 1, "{r:?}");
    let (r, _) = run(json!({"src": src, "dest": "/opt", "include": ["a"], "exclude": ["b"]}), &[], false);
    assert!(r.is_failed());
}

#[test]
fn creates_missing_dest_and_zip_tools() {
    let (r, sent) = run(json!({"src": "/srv/a.tar", "remote_src": true, "dest": "/opt", "creates": "/opt/x"}), &[&format!("{TAG} skipped\n")], false);
    assert!(!r.changed() && !r.is_failed() && r.0["skipped"] == true);
    assert!(sent[0].0.contains("D=/opt; if [ -e /opt/x ]; then"), "{}", sent[0].0);
    assert!(sent[0].0.find("/opt/x").unwrap() < sent[0].0.find("a=/srv/a.tar").unwrap());
    assert!(sent[0].1.is_empty());
    let (r, _) = run(json!({"src": "/srv/a.tar", "remote_src": true, "dest": "/nope"}), &[&format!("{TAG} nodest\n")], false);
    assert_eq!(r.0["msg"], "dest '/nope' must be an existing dir");
    let (r, sent) = run(json!({"src": "/srv/a.zip", "copy": false, "dest": "/opt"}), &[&format!("{TAG} who 0 0022\n{TAG} nozip\n")], false);
    assert!(sent[0].0.contains("command -v python3") && sent[0].0.contains("unzip -Z1"), "{}", sent[0].0);
    assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("unzip"), "{r:?}");
    let (r, sent) = run(json!({"src": "/srv/a.rar", "remote_src": true, "dest": "/opt"}), &[], false);
    assert!(r.is_failed() && sent.is_empty());
    let (r, sent) = run(json!({"src": "/srv/a.tar", "remote_src": true, "dest": "/opt", "attributes": "+i"}), &[], false);
    assert!(r.is_failed() && sent.is_empty());
}

#[test]
fn a_zip_compares_its_listing_and_extracts_with_python_without_unzip() {
    let zip = format!(
        "{TAG} who 0 0022\n{TAG} v d 755 0 1767323045 app/\n{TAG} v - 640 4 1767323045 app/one.txt\n{TAG} names\n{TAG} n app/\n{TAG} n app/one.txt\n\
{TAG} s 41ed 4096 5 0 0 /opt/app/\n{TAG} s 81a4 4 1767323045 0 0 /opt/app/one.txt\n{TAG} end\n"
    );
    // one.txt is 0644 on the host, 0640 in the archive.
    let (r, sent) = run(json!({"src": "/srv/a.zip", "remote_src": true, "dest": "/opt"}), &[&zip, &format!("{TAG} extracted 0\n")], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(r.0["handler"], "ZipArchive");
    assert!(sent[1].0.contains("unzip -o \"$a\" -d \"$D\"; else python3 -c"), "{}", sent[1].0);
}

#[test]
fn a_url_is_downloaded_on_the_host() {
    let answer = format!("{}{}", "__provision_http_7c1d__ via curl\n__provision_http_7c1d__ rc 0\n__provision_http_7c1d__ w 404 0 http://h/a.tgz\n", probe_answer("/opt", &[]));
    let (r, sent) = run(json!({"src": "http://h/a.tgz?x=1", "remote_src": true, "dest": "/opt"}), &[&answer], false);
    assert!(sent[0].0.contains("curl -K"), "{}", sent[0].0);
    assert!(!sent[0].1.is_empty(), "the request travels on stdin");
    assert!(r.is_failed() && r.0["msg"].as_str().unwrap().starts_with("Failure downloading http://h/a.tgz?x=1"), "{r:?}");
}
