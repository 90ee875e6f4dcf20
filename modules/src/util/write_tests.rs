//! The write scripts ([`write_script_with`]) run by real shells on a temporary directory:
//! the local `/bin/sh` (dash on Debian, the hosts' `sh`) and `bash`, each test under both.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;

const SHELLS: [&str; 2] = ["/bin/sh", "bash"];

/// A directory for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("provision-write-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `script` run by `shell` in `dir` (umask 022 unless the script sets another), `stdin`
/// written and closed.
fn run(shell: &str, dir: &Path, script: &str, stdin: &[u8]) -> Ran {
    let mut child = Command::new(shell)
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The script may stop reading early (refused): a broken pipe is fine.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    Ran { ok: out.status.success(), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

/// Write `content` to `path` (relative to `dir` or absolute) as [`write_atomic`] does.
fn write(shell: &str, dir: &Path, path: &str, attrs: &Attrs, content: &[u8]) -> Ran {
    run(shell, dir, &write_script(path, attrs, false, content.len()), &write_stdin(content))
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(".provision")).collect()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn root() -> bool {
    let s = Scratch::new("whoami");
    std::fs::write(s.file("f"), "").unwrap();
    std::fs::metadata(s.file("f")).unwrap().uid() == 0
}

#[test]
fn the_temporary_file_is_beside_the_target() {
    assert_eq!(parent_dir("/etc/motd"), "/etc");
    assert_eq!(parent_dir("/motd"), "/");
    assert_eq!(parent_dir("//motd"), "/");
    assert_eq!(parent_dir("motd"), ".");
    assert_eq!(parent_dir("a/b/"), "a");
    assert_eq!(parent_dir("a//b"), "a");
    assert_eq!(parent_dir("./b"), ".");
    assert_eq!(parent_dir("/"), "/");
    assert!(temp_beside("/motd").starts_with("/.provision."));
    assert!(temp_beside("motd").starts_with("./.provision."));
    assert!(temp_beside("-x/y").starts_with("./-x/.provision."));
    let (a, b) = (temp_beside("/etc/motd"), temp_beside("/etc/motd"));
    assert!(a.starts_with("/etc/.provision.") && a.len() == "/etc/.provision.".len() + 16, "{a}");
    assert_ne!(a, b);
}

#[test]
fn write_script_is_atomic_and_quoted() {
    let s = write_script("/etc/my file", &Attrs { mode: Some("0600".into()), owner: Some("root".into()), group: None }, false, 5);
    assert!(s.starts_with("set -e; p='/etc/my file'; t=; trap "), "{s}");
    assert!(s.contains("umask 077; set -C; : >/etc/.provision."), "{s}");
    assert!(s.contains("dd bs=64K count=5 iflag=count_bytes,fullblock conv=fsync status=none >\"$t\"; "), "{s}");
    assert!(s.contains("chown root \"$t\" || exit 1; chmod 0600 \"$t\" || exit 1; "), "{s}");
    // An octal mode is set: the existing file's mode is not copied first.
    assert!(!s.contains("chmod --reference") && !s.contains("chmod 0644"), "{s}");
    assert!(s.ends_with("mv -f -- \"$t\" \"$p\"; trap - EXIT"), "{s}");
    // No process where a builtin does: no dirname, mktemp, wc, stat or separate sync.
    for tool in ["dirname", "mktemp", "wc ", "stat ", " sync ", "cat "] {
        assert!(!s.contains(tool), "{tool} in {s}");
    }
}

/// A new file: the content, mode 0644 whatever the umask, no temporary file left, the
/// shell's umask as it was.
#[test]
fn a_new_file_is_written_0644() {
    for sh in SHELLS {
        let d = Scratch::new("new");
        let script = format!("umask 027; {}; umask", write_script("new file", &Attrs::default(), false, 6));
        let r = run(sh, d.path(), &script, &write_stdin(b"hello\n"));
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(r.stdout.trim(), "0027", "{sh}: the umask is restored");
        assert_eq!(std::fs::read(d.file("new file")).unwrap(), b"hello\n", "{sh}");
        assert_eq!(mode(&d.file("new file")), 0o644, "{sh}");
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
        // Empty content, and binary content with no final newline.
        let bin: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
        for content in [&b""[..], &bin[..]] {
            let r = write(sh, d.path(), "bin", &Attrs::default(), content);
            assert!(r.ok, "{sh}: {}", r.stderr);
            assert_eq!(std::fs::read(d.file("bin")).unwrap(), content, "{sh}");
        }
    }
}

/// An existing file keeps its mode (setuid included) and owner.
#[test]
fn an_existing_file_keeps_mode_and_owner() {
    let root = root();
    for sh in SHELLS {
        let d = Scratch::new("keep");
        let f = d.file("f");
        std::fs::write(&f, "old\n").unwrap();
        if root {
            std::os::unix::fs::chown(&f, Some(1234), Some(5678)).unwrap();
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(if root { 0o4750 } else { 0o640 })).unwrap();
        let r = write(sh, d.path(), f.to_str().unwrap(), &Attrs::default(), b"new\n");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(std::fs::read(&f).unwrap(), b"new\n");
        assert_eq!(mode(&f), if root { 0o4750 } else { 0o640 }, "{sh}");
        if root {
            let m = std::fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid()), (1234, 5678), "{sh}");
        }
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
    }
}

/// Mode, owner and group asked are applied to the temporary file, before the rename.
#[test]
fn attributes_asked_are_applied() {
    let root = root();
    for sh in SHELLS {
        let d = Scratch::new("attrs");
        let f = d.file("f");
        let r = write(sh, d.path(), "f", &Attrs { mode: Some("0600".into()), ..Attrs::default() }, b"secret\n");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(mode(&f), 0o600, "{sh}");
        // A symbolic mode applies to the existing file's mode.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let r = write(sh, d.path(), "f", &Attrs { mode: Some("u+x,o=r".into()), ..Attrs::default() }, b"x\n");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(mode(&f), 0o744, "{sh}");
        if root {
            let attrs = Attrs { mode: Some("04755".into()), owner: Some("1234".into()), group: Some("5678".into()) };
            let r = write(sh, d.path(), "f", &attrs, b"y\n");
            assert!(r.ok, "{sh}: {}", r.stderr);
            let m = std::fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o4755), "{sh}: chown before chmod keeps setuid");
            // Only the group: the owner and mode (setuid too) are the existing file's.
            let r = write(sh, d.path(), "f", &Attrs { group: Some("42".into()), ..Attrs::default() }, b"z\n");
            assert!(r.ok, "{sh}: {}", r.stderr);
            let m = std::fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 42, 0o4755), "{sh}");
        }
        // A mode chmod refuses: nothing replaced, nothing left.
        let r = write(sh, d.path(), "f", &Attrs { mode: Some("u=bogus".into()), ..Attrs::default() }, b"never\n");
        assert!(!r.ok, "{sh}");
        assert_ne!(std::fs::read(&f).unwrap(), b"never\n", "{sh}");
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
    }
}

/// While the content arrives, the temporary file is readable by its owner only.
#[test]
fn the_temporary_file_is_private_while_written() {
    for sh in SHELLS {
        let d = Scratch::new("private");
        let mut child = Command::new(sh)
            .arg("-c")
            .arg(write_script("f", &Attrs::default(), false, 100))
            .current_dir(d.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(b"partial").unwrap();
        let mut temp = None;
        for _ in 0..500 {
            if let Some(n) = temp_files(d.path()).pop() {
                temp = Some(n);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let temp = temp.expect("the temporary file never appeared");
        assert_eq!(mode(&d.file(&temp)), 0o600, "{sh}");
        child.stdin.as_mut().unwrap().write_all(&[b'x'; 93]).unwrap();
        child.stdin.as_mut().unwrap().write_all(&write_stdin(b"")).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "{sh}");
        assert_eq!(std::fs::read(d.file("f")).unwrap().len(), 100, "{sh}");
    }
}

/// A transfer cut short (stdin ends early, or without the end line): no rename, no
/// temporary file.
#[test]
fn a_write_cut_short_does_not_replace_the_file() {
    for sh in SHELLS {
        let d = Scratch::new("short");
        std::fs::write(d.file("target"), "old\n").unwrap();
        let script = write_script("target", &Attrs::default(), false, 100);
        for stdin in [&b"only part"[..], &[b'x'; 100][..], &write_stdin(&[b'x'; 99])[..]] {
            let r = run(sh, d.path(), &script, stdin);
            assert!(!r.ok, "{sh}");
            assert!(r.stderr.contains("the content did not arrive whole"), "{sh}: {}", r.stderr);
            assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
            assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "old\n", "{sh}");
        }
        // The whole content: written.
        let r = write(sh, d.path(), "target", &Attrs::default(), b"new\n");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "new\n");
    }
}

/// Ctrl-C on the controller signals the remote command's process group: the half
/// written temporary file is removed and the target is left alone.
#[test]
fn an_interrupted_write_leaves_no_temporary_file() {
    use std::os::unix::process::CommandExt;
    for sh in SHELLS {
        for sig in ["INT", "TERM", "HUP"] {
            let d = Scratch::new(&format!("sig{sig}"));
            std::fs::write(d.file("target"), "old\n").unwrap();
            let mut child = Command::new(sh)
                .arg("-c")
                .arg(write_script(d.file("target").to_str().unwrap(), &Attrs::default(), false, 1 << 20))
                .stdin(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            child.stdin.as_mut().unwrap().write_all(b"partial").unwrap();
            for _ in 0..500 {
                if !temp_files(d.path()).is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(!temp_files(d.path()).is_empty(), "{sh} {sig}: the temporary file never appeared");
            let st = Command::new("kill").args(["-s", sig, "--", &format!("-{}", child.id())]).status().unwrap();
            assert!(st.success());
            let status = child.wait().unwrap();
            assert!(!status.success(), "{sh} {sig}: {status:?}");
            assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh} {sig}: a temporary file is left");
            assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "old\n", "{sh} {sig}");
        }
    }
}

/// A validation that fails stops the rename, and the temporary file goes; one that
/// passes sees the final mode on the temporary file.
#[test]
fn a_failing_validation_leaves_the_target() {
    for sh in SHELLS {
        let d = Scratch::new("validate");
        std::fs::write(d.file("target"), "old\n").unwrap();
        let fail = "{ grep -q good \"$t\" || { echo \"VALIDATE $?\"; exit 97; }; } && ";
        let s = write_script_with("target", &Attrs::default(), false, Source::Stdin(4), fail);
        let r = run(sh, d.path(), &s, &write_stdin(b"bad\n"));
        assert!(!r.ok && r.stdout.contains("VALIDATE 1"), "{sh}: {}", r.stdout);
        assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "old\n", "{sh}");
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
        // A hook that is false without exiting also stops it.
        let s = write_script_with("target", &Attrs::default(), false, Source::Stdin(4), "false && ");
        let r = run(sh, d.path(), &s, &write_stdin(b"new\n"));
        assert!(!r.ok, "{sh}");
        assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "old\n", "{sh}");
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
        let s = write_script_with("target", &Attrs { mode: Some("0600".into()), ..Attrs::default() }, false, Source::Stdin(5), "grep -q good \"$t\" && [ \"$(stat -c %a \"$t\")\" = 600 ] && ");
        let r = run(sh, d.path(), &s, &write_stdin(b"good\n"));
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "good\n", "{sh}");
    }
}

/// Paths with spaces and quotes, relative and absolute, and a directory name that looks
/// like an option.
#[test]
fn odd_paths_are_written() {
    for sh in SHELLS {
        let d = Scratch::new("odd");
        std::fs::create_dir_all(d.file("a b'c\"d")).unwrap();
        std::fs::create_dir_all(d.file("-x")).unwrap();
        let abs = d.file("a b'c\"d").join("f 'x\".txt");
        for (path, file) in [
            (abs.to_str().unwrap().to_string(), abs.clone()),
            ("a b'c\"d/g $HOME `x`".to_string(), d.file("a b'c\"d").join("g $HOME `x`")),
            ("rel".to_string(), d.file("rel")),
            ("-x/-y".to_string(), d.file("-x").join("-y")),
            ("-z".to_string(), d.file("-z")),
        ] {
            let r = write(sh, d.path(), &path, &Attrs::default(), b"odd\n");
            assert!(r.ok, "{sh} {path}: {}", r.stderr);
            assert_eq!(std::fs::read(&file).unwrap(), b"odd\n", "{sh} {path}");
            assert_eq!(temp_files(file.parent().unwrap()), Vec::<String>::new(), "{sh} {path}");
        }
    }
}

/// A file of the temporary file's name already there: the write fails, that file stays.
#[test]
fn an_existing_temporary_name_is_never_overwritten() {
    for sh in SHELLS {
        let d = Scratch::new("clash");
        let s = write_script("target", &Attrs::default(), false, 4);
        let at = s.find(".provision.").unwrap();
        let name = &s[at..at + ".provision.".len() + 16];
        std::fs::write(d.file(name), "someone's\n").unwrap();
        let r = run(sh, d.path(), &s, &write_stdin(b"new\n"));
        assert!(!r.ok, "{sh}");
        assert_eq!(std::fs::read_to_string(d.file(name)).unwrap(), "someone's\n", "{sh}");
        assert!(!d.file("target").exists(), "{sh}");
    }
}

/// A backup of the old file, its name printed; the other sources (a file on the host,
/// a command's output).
#[test]
fn backup_and_other_sources() {
    for sh in SHELLS {
        let d = Scratch::new("backup");
        std::fs::write(d.file("target"), "old\n").unwrap();
        std::fs::set_permissions(d.file("target"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = run(sh, d.path(), &write_script("target", &Attrs::default(), true, 4), &write_stdin(b"new\n"));
        assert!(r.ok, "{sh}: {}", r.stderr);
        let b = r.stdout.lines().find_map(|l| l.strip_prefix("backup:")).unwrap().to_string();
        assert!(b.starts_with("target.") && b.ends_with('~'), "{b}");
        assert_eq!(std::fs::read_to_string(d.file(&b)).unwrap(), "old\n");
        assert_eq!(mode(&d.file(&b)), 0o600);
        assert_eq!(std::fs::read_to_string(d.file("target")).unwrap(), "new\n");
        std::fs::remove_file(d.file(&b)).unwrap();

        std::fs::write(d.file("src x"), "from the host\n").unwrap();
        let r = run(sh, d.path(), &write_script_with("copy", &Attrs::default(), false, Source::File("src x"), ""), b"");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(d.file("copy")).unwrap(), "from the host\n");
        let r = run(sh, d.path(), &write_script_with("copy", &Attrs::default(), false, Source::File("absent"), ""), b"");
        assert!(!r.ok, "{sh}");
        assert_eq!(std::fs::read_to_string(d.file("copy")).unwrap(), "from the host\n");

        let r = run(sh, d.path(), &write_script_with("printed", &Attrs::default(), false, Source::Command("printf '%s' 'a b'"), ""), b"");
        assert!(r.ok, "{sh}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(d.file("printed")).unwrap(), "a b");
        assert_eq!(temp_files(d.path()), Vec::<String>::new(), "{sh}");
    }
}
