//! `file` against a fake host: arguments and what the host reports → the commands sent.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::json;

use super::facts::TAG;
use super::*;
use crate::util::PathState;
use crate::ExecOutput;

/// A host that answers each command from a list, in order, and records what it got.
pub(crate) struct Fake {
    pub sent: Mutex<Vec<(String, Vec<u8>)>>,
    answers: Mutex<VecDeque<ExecOutput>>,
}

impl Fake {
    pub fn new(answers: &[&str]) -> Fake {
        let answers = answers.iter().map(|a| ExecOutput { rc: 0, stdout: a.as_bytes().to_vec(), stderr: vec![] }).collect();
        Fake { sent: Mutex::new(vec![]), answers: Mutex::new(answers) }
    }
    pub fn with(answers: Vec<ExecOutput>) -> Fake {
        Fake { sent: Mutex::new(vec![]), answers: Mutex::new(answers.into()) }
    }
    pub fn commands(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(|(c, _)| c.clone()).collect()
    }
}

#[async_trait]
impl crate::Remote for Fake {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        self.sent.lock().unwrap().push((command.to_string(), stdin.to_vec()));
        self.answers.lock().unwrap().pop_front().ok_or_else(|| RemoteError::Other(format!("unexpected command: {command}")))
    }
    async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        self.exec(command, b"").await
    }
}

/// Run `module` as the engine does — arguments validated, aliases resolved, defaults
/// filled in — against `fake`; an argument error comes back as a failed result.
pub(crate) fn run_module(module: &dyn crate::Module, a: Value, fake: &Fake, check: bool, diff: bool) -> ModuleResult {
    let doc = module.doc();
    match crate::validate(doc.name, doc.args, &args(a), &[]) {
        Ok(a) => block_on(module.run(&a, &Context { remote: fake, check_mode: check, diff })).expect("module ran"),
        Err(e) => ModuleResult::failed(e.message),
    }
}

/// Run a future that never waits on anything real.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

pub(crate) fn args(v: Value) -> Args {
    v.as_object().cloned().unwrap_or_default()
}

pub(crate) fn file(mode: &str, owner: &str, uid: u32, size: u64) -> PathState {
    PathState { exists: true, kind: "file".into(), mode: mode.into(), owner: owner.into(), group: owner.into(), uid, gid: uid, size, ..PathState::default() }
}

pub(crate) fn dir(mode: &str) -> PathState {
    PathState { kind: "directory".into(), size: 4096, ..file(mode, "root", 0, 0) }
}

fn link(target: &str) -> PathState {
    PathState { kind: "link".into(), link_target: Some(target.into()), size: target.len() as u64, ..file("0777", "root", 0, 0) }
}

pub(crate) fn absent() -> PathState {
    PathState::default()
}

/// What the host prints for the first probe: the umask, then for each described path
/// (query index = position) its inode line, whether it exists followed, and its state.
pub(crate) fn host(paths: &[(PathState, u64)], extra: &str) -> String {
    let mut s = format!("{TAG} umask 0022\n");
    for (i, (st, inode)) in paths.iter().enumerate() {
        if st.exists {
            s.push_str(&format!("{TAG} ext{i} 1 {inode} 2049 1700000000 1700000000\n"));
            s.push_str(&format!("{TAG} exists{i}\n"));
        }
    }
    s.push_str(extra);
    let states: Vec<PathState> = paths.iter().map(|(st, _)| st.clone()).collect();
    s.push_str(&util::probe_output(&states));
    s
}

/// What the host prints after the commands: the new state of the path.
pub(crate) fn after(st: PathState) -> String {
    format!("{TAG} ext0 1 5 2049 1700000000 1700000000\n{}", util::probe_output(&[st]))
}

fn run(a: Value, answers: &[&str], check: bool, diff: bool) -> (ModuleResult, Vec<String>) {
    let fake = Fake::new(answers);
    let r = run_module(&File, a, &fake, check, diff);
    (r, fake.commands())
}

#[test]
fn creates_a_directory_with_its_parents_and_mode() {
    let probe = host(&[(absent(), 0)], "");
    let (r, sent) = run(json!({"path": "/srv/app/data", "state": "directory", "mode": "0750", "owner": "app"}), &[&probe, &after(dir("0750"))], false, true);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with(&format!("printf '%s ' '{TAG} umask'; umask; [ -e /srv/app/data ]")), "{}", sent[0]);
    assert!(sent[1].starts_with(
        "set -e; if [ ! -e /srv ]; then mkdir -- /srv && chown -h app -- /srv && chmod 0750 -- /srv; fi; \
if [ ! -e /srv/app ]; then mkdir -- /srv/app && chown -h app -- /srv/app && chmod 0750 -- /srv/app; fi; \
if [ ! -e /srv/app/data ]; then mkdir -- /srv/app/data && chown -h app -- /srv/app/data && chmod 0750 -- /srv/app/data; fi; set +e; "
    ), "{}", sent[1]);
    assert!(r.changed());
    assert_eq!(r.0["path"], "/srv/app/data");
    assert_eq!(r.0["state"], "directory");
    assert_eq!(r.0["mode"], "0750");
    assert_eq!(r.0["diff"], json!({"before": {"path": "/srv/app/data", "state": "absent", "mode": "0755"}, "after": {"path": "/srv/app/data", "state": "directory", "mode": "0750"}}));
}

#[test]
fn check_mode_predicts_without_changing() {
    let probe = host(&[(absent(), 0)], "");
    let (r, sent) = run(json!({"path": "/srv/app", "state": "directory"}), &[&probe], true, false);
    assert_eq!(sent.len(), 1);
    assert!(r.changed());
    assert!(!r.0.contains_key("diff"));
}

#[test]
fn an_existing_directory_as_asked_costs_one_round_trip() {
    let probe = host(&[(dir("0755"), 7)], "");
    let (r, sent) = run(json!({"path": "/srv/app", "state": "directory", "mode": "u=rwx,g=rx,o=rx", "owner": "root", "group": "0"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed(), "{r:?}");
    assert_eq!(r.0["mode"], "0755");
    assert_eq!(r.0["owner"], "root");
}

#[test]
fn symbolic_mode_and_owner_change_an_existing_file() {
    let probe = host(&[(file("0600", "root", 0, 3), 7)], "");
    let (r, sent) = run(json!({"path": "/etc/my app.conf", "mode": "u=rw,g=r,o=r", "owner": "www-data", "group": "33"}), &[&probe, &after(file("0644", "www-data", 33, 3))], false, true);
    assert_eq!(sent.len(), 2);
    assert!(sent[1].starts_with("set -e; chown -h www-data:33 -- '/etc/my app.conf'; chmod 0644 -- '/etc/my app.conf'; set +e;"), "{}", sent[1]);
    assert!(r.changed());
    assert_eq!(r.0["state"], "file");
    assert_eq!(r.0["owner"], "www-data");
    assert_eq!(
        r.0["diff"],
        json!({"before": {"path": "/etc/my app.conf", "owner": 0, "group": 0, "mode": "0600"}, "after": {"path": "/etc/my app.conf", "owner": "www-data", "group": 33, "mode": "0644"}})
    );
}

#[test]
fn state_file_does_not_create() {
    let probe = host(&[(absent(), 0)], "");
    let (r, sent) = run(json!({"path": "/nope", "state": "file"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(r.is_failed());
    assert_eq!(r.0["msg"], "file (/nope) is absent, cannot continue");
}

#[test]
fn absent_removes_a_tree_and_lists_it_in_the_diff() {
    let probe = host(&[(dir("0755"), 7)], "");
    let contents = format!("{TAG} d0 /srv/old/sub\n{TAG} f0 /srv/old/sub/a\n");
    let (r, sent) = run(json!({"path": "/srv/old", "state": "absent"}), &[&probe, &contents, &after(absent())], false, true);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].contains("find /srv/old -mindepth 1 -type d"), "{}", sent[1]);
    assert!(sent[2].starts_with("set -e; rm -rf -- /srv/old; set +e;"), "{}", sent[2]);
    assert!(r.changed());
    assert_eq!(r.0["state"], "absent");
    assert_eq!(r.0["diff"]["before"]["path_content"], json!({"directories": ["/srv/old/sub"], "files": ["/srv/old/sub/a"]}));
}

#[test]
fn absent_when_already_gone_is_ok() {
    let probe = host(&[(absent(), 0)], "");
    let (r, sent) = run(json!({"path": "/srv/old", "state": "absent"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed());
    assert_eq!(r.0["state"], "absent");
}

#[test]
fn bad_arguments_fail_before_the_host_is_asked() {
    let (r, sent) = run(json!({"path": "/x", "mode": "u=rq"}), &[], false, false);
    assert!(r.is_failed());
    assert!(r.0["msg"].as_str().unwrap().starts_with("mode must be in octal or symbolic form"), "{r:?}");
    assert!(sent.is_empty());
    let (r, _) = run(json!({"path": "/x", "state": "touch", "modification_time": "2024-13-01"}), &[], false, false);
    assert!(r.0["msg"].as_str().unwrap().starts_with("Error while obtaining timestamp for time 2024-13-01"), "{r:?}");
}

#[test]
fn recurse_needs_state_directory() {
    let probe = host(&[(file("0644", "root", 0, 1), 3)], "");
    let (r, _) = run(json!({"path": "/x", "state": "file", "recurse": true}), &[&probe], false, false);
    assert_eq!(r.0["msg"], "recurse option requires state to be 'directory'");
}

#[test]
fn symlink_is_created_replaced_or_left() {
    // Create: the target exists (described beside the link).
    let probe = host(&[(absent(), 0), (file("0644", "root", 0, 1), 9)], "");
    let (r, sent) = run(json!({"src": "releases/42", "dest": "/opt/app/current", "state": "link"}), &[&probe, &after(link("releases/42"))], false, false);
    assert!(sent[0].contains("p=/opt/app/releases/42;"), "{}", sent[0]);
    assert!(sent[1].starts_with("set -e; ln -s -- releases/42 /opt/app/current; set +e;"), "{}", sent[1]);
    assert!(r.changed());
    assert_eq!((r.0["dest"].as_str(), r.0["src"].as_str(), r.0["state"].as_str()), (Some("/opt/app/current"), Some("releases/42"), Some("link")));
    // Already there.
    let probe = host(&[(link("releases/42"), 5), (file("0644", "root", 0, 1), 9)], "");
    let (r, sent) = run(json!({"src": "releases/42", "dest": "/opt/app/current", "state": "link"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed());
    // Pointing elsewhere: replaced atomically.
    let probe = host(&[(link("releases/41"), 5), (file("0644", "root", 0, 1), 9)], "");
    let (r, sent) = run(json!({"src": "releases/42", "dest": "/opt/app/current", "state": "link"}), &[&probe, &after(link("releases/42"))], false, true);
    assert!(sent[1].starts_with(
        "set -e; ln -s -- releases/42 \"$(dirname -- /opt/app/current)/.provision-link.$$\" && mv -fT -- \"$(dirname -- /opt/app/current)/.provision-link.$$\" /opt/app/current;"
    ), "{}", sent[1]);
    assert_eq!(r.0["diff"]["before"]["src"], "releases/41");
    assert_eq!(r.0["diff"]["after"]["src"], "releases/42");
}

#[test]
fn symlink_refuses_a_missing_source_or_a_file_without_force() {
    let probe = host(&[(absent(), 0), (absent(), 0)], "");
    let (r, _) = run(json!({"src": "/nowhere", "dest": "/l", "state": "link"}), &[&probe], false, false);
    assert_eq!(r.0["msg"], "src file does not exist, use 'force=yes' if you really want to create the link: /nowhere");
    let probe = host(&[(file("0644", "root", 0, 1), 3), (file("0644", "root", 0, 1), 9)], "");
    let (r, _) = run(json!({"src": "/t", "dest": "/l", "state": "link"}), &[&probe], false, false);
    assert_eq!(r.0["msg"], "refusing to convert from file to symlink for /l");
}

#[test]
fn hard_link_compares_inodes() {
    // path, path/basename(src) (not looked at: path is no directory), src.
    let mut linked = file("0644", "root", 0, 1);
    linked.size = 1;
    let probe = format!(
        "{TAG} umask 0022\n{TAG} ext0 2 77 2049 1 1\n{TAG} exists0\n{TAG} ext2 2 77 2049 1 1\n{TAG} exists2\n{}",
        util::probe_output(&[linked.clone(), absent(), linked.clone()])
    );
    let (r, sent) = run(json!({"src": "/data/a", "dest": "/data/b", "state": "hard"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed(), "{r:?}");
    assert_eq!(r.0["state"], "hard");
    // Another file there: refused without force, replaced with it.
    let probe = format!(
        "{TAG} umask 0022\n{TAG} ext0 1 78 2049 1 1\n{TAG} exists0\n{TAG} ext2 1 77 2049 1 1\n{TAG} exists2\n{}",
        util::probe_output(&[linked.clone(), absent(), linked.clone()])
    );
    let (r, _) = run(json!({"src": "/data/a", "dest": "/data/b", "state": "hard"}), &[&probe], false, false);
    assert_eq!(r.0["msg"], "Cannot link, file exists at destination");
    let (r, sent) = run(json!({"src": "/data/a", "dest": "/data/b", "state": "hard", "force": true}), &[&probe, &after(linked)], false, false);
    assert!(sent[1].starts_with("set -e; ln -L -- /data/a \"$(dirname -- /data/b)/.provision-link.$$\" && mv -fT"), "{}", sent[1]);
    assert!(r.changed());
}

#[test]
fn touch_creates_then_always_updates_times() {
    let probe = host(&[(absent(), 0)], "");
    let (r, sent) = run(json!({"path": "/tmp/stamp", "state": "touch", "mode": "0600"}), &[&probe, &after(file("0600", "root", 0, 0))], false, false);
    assert!(sent[1].starts_with("set -e; touch -- /tmp/stamp; chmod 0600 -- /tmp/stamp; set +e;"), "{}", sent[1]);
    assert!(r.changed());
    assert_eq!(r.0["dest"], "/tmp/stamp");
    let probe = host(&[(file("0600", "root", 0, 0), 4)], "");
    let (r, sent) = run(json!({"path": "/tmp/stamp", "state": "touch", "mode": "0600"}), &[&probe, &after(file("0600", "root", 0, 0))], false, false);
    assert!(sent[1].starts_with("set -e; touch -c -- /tmp/stamp; set +e;"), "{}", sent[1]);
    assert!(r.changed());
    // Preserved times: idempotent.
    let (r, sent) = run(json!({"path": "/tmp/stamp", "state": "touch", "modification_time": "preserve", "access_time": "preserve"}), &[&probe], false, false);
    assert_eq!(sent.len(), 1);
    assert!(!r.changed());
}

#[test]
fn explicit_times_are_compared_on_the_host() {
    let probe = host(&[(file("0644", "root", 0, 0), 4)], &format!("{TAG} epoch1 1700000000\n"));
    let (r, sent) = run(json!({"path": "/f", "state": "file", "modification_time": "202311142213.20"}), &[&probe], false, false);
    assert!(sent[0].contains("echo \"__provision_file_7d2c__ epoch1 $(date -d '2023-11-14 22:13:20' +%s 2>/dev/null)\""), "{}", sent[0]);
    assert!(!r.changed(), "{r:?}");
    let probe = host(&[(file("0644", "root", 0, 0), 4)], &format!("{TAG} epoch1 1600000000\n"));
    let (r, sent) = run(json!({"path": "/f", "state": "file", "modification_time": "202009131226.40"}), &[&probe, &after(file("0644", "root", 0, 0))], false, false);
    assert!(sent[1].starts_with("set -e; touch -c -m -t 202009131226.40 -- /f; set +e;"), "{}", sent[1]);
    assert!(r.changed());
}

#[test]
fn recurse_batches_the_changes() {
    let tree = format!(
        "{TAG} e1 41ed 0 0 1 1 root root /srv/d/sub\n{TAG} e1 8180 0 0 1 1 root root /srv/d/sub/a\n{TAG} e1 81a4 33 33 1 1 www-data www-data /srv/d/b c\n{TAG} e1 a1ff 0 0 1 1 root root /srv/d/l\n"
    );
    let probe = host(&[(dir("0755"), 7)], &tree);
    let (r, sent) = run(
        json!({"path": "/srv/d", "state": "directory", "recurse": true, "owner": "www-data", "mode": "u=rwX,g=rX,o=rX"}),
        &[&probe, &after(dir("0755"))],
        false,
        false,
    );
    assert!(sent[0].contains("find /srv/d -mindepth 1 -exec stat -c"), "{}", sent[0]);
    assert_eq!(
        sent[1].split("; set +e;").next().unwrap(),
        "set -e; chown -h www-data -- /srv/d; chown -h www-data:0 -- /srv/d/sub /srv/d/sub/a /srv/d/l; chmod 0644 -- /srv/d/sub/a"
    );
    assert!(r.changed());
}

#[test]
fn follows_a_symlink_to_its_target() {
    let first = format!("{TAG} umask 0022\n{TAG} ext0 1 5 2049 1 1\n{TAG} exists0\n{TAG} real0 /etc/real.conf\n{}", util::probe_output(&[link("real.conf")]));
    let second = format!("{TAG} umask 0022\n{TAG} ext0 1 6 2049 1 1\n{TAG} exists0\n{}", util::probe_output(&[file("0600", "root", 0, 3)]));
    let (r, sent) = run(json!({"path": "/etc/link.conf", "state": "file", "mode": "0644"}), &[&first, &second, &after(file("0644", "root", 0, 3))], false, false);
    assert_eq!(sent.len(), 3);
    assert!(sent[1].contains("p=/etc/real.conf;"), "{}", sent[1]);
    assert!(sent[2].starts_with("set -e; chmod 0644 -- /etc/real.conf;"), "{}", sent[2]);
    assert_eq!(r.0["path"], "/etc/real.conf");
    assert!(r.changed());
}

#[test]
fn a_failing_command_fails_the_task() {
    let probe = host(&[(file("0644", "root", 0, 1), 3)], "");
    let fake = Fake::with(vec![
        ExecOutput { rc: 0, stdout: probe.into_bytes(), stderr: vec![] },
        ExecOutput { rc: 1, stdout: vec![], stderr: b"chown: invalid user: 'nobody2'\n".to_vec() },
    ]);
    let ctx = Context { remote: &fake, check_mode: false, diff: false };
    let r = block_on(File.run(&args(json!({"path": "/x", "owner": "nobody2"})), &ctx)).unwrap();
    assert!(r.is_failed());
    assert_eq!(r.0["msg"], "chown: invalid user: 'nobody2'");
}

#[test]
fn strptime_subset() {
    assert_eq!(parse_time("202311142213.20", "%Y%m%d%H%M.%S").unwrap(), ("2023-11-14 22:13:20".into(), "202311142213.20".into()));
    assert_eq!(parse_time("14/11/23 9:05", "%d/%m/%y %H:%M").unwrap().0, "2023-11-14 09:05:00");
    assert!(parse_time("2023", "%Y%m").is_err());
    assert!(parse_time("2023x", "%Y").is_err());
    assert!(parse_time("2023", "%j").is_err());
}

#[test]
fn a_long_script_goes_on_stdin() {
    // 3000 entries to give to another owner: the commands outgrow a command line.
    let tree: String = (0..3000).map(|i| format!("{TAG} e1 81a4 0 0 1 1 root root /srv/big/some-long-file-name-{i:05}.txt\n")).collect();
    let probe = host(&[(dir("0755"), 7)], &tree);
    let (r, sent) = run(json!({"path": "/srv/big", "state": "directory", "recurse": true, "owner": "www-data"}), &[&probe, &after(dir("0755"))], false, false);
    assert!(r.changed());
    assert_eq!(sent, vec![sent[0].clone(), "sh -s".to_string()]);
}

#[test]
fn home_is_expanded_on_the_host() {
    let fake = Fake::new(&["/home/alice\n"]);
    assert_eq!(block_on(util::expand_home(&fake, "~/.bashrc")).unwrap(), "/home/alice/.bashrc");
    assert_eq!(fake.commands(), vec!["printf '%s\\n' \"$HOME\""]);
    let fake = Fake::new(&["/home/bob\n"]);
    assert_eq!(block_on(util::expand_home(&fake, "~bob")).unwrap(), "/home/bob");
    assert_eq!(fake.commands(), vec!["getent passwd bob | cut -d: -f6"]);
    let fake = Fake::new(&[]);
    assert_eq!(block_on(util::expand_home(&fake, "/etc/x")).unwrap(), "/etc/x");
    assert!(fake.commands().is_empty());
}

#[test]
fn an_empty_directory_becomes_a_link_with_force() {
    // Whether the directory is empty is asked only when it matters.
    let probe = host(&[(dir("0755"), 7), (file("0644", "root", 0, 1), 9)], "");
    let (r, sent) = run(json!({"src": "f", "dest": "/d/sub", "state": "link", "force": true}), &[&probe, &format!("{TAG} umask 0022\n"), &after(link("f"))], false, false);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].ends_with("echo __provision_file_7d2c__ full0; true"), "{}", sent[1]);
    assert!(sent[2].starts_with("set -e; rmdir -- /d/sub; ln -s -- f \"$(dirname -- /d/sub)/.provision-link.$$\" && mv -fT"), "{}", sent[2]);
    assert!(r.changed());
    let full = format!("{TAG} umask 0022\n{TAG} full0\n");
    let (r, _) = run(json!({"src": "f", "dest": "/d/sub", "state": "link", "force": true}), &[&probe, &full], false, false);
    assert_eq!(r.0["msg"], "the directory /d/sub is not empty, refusing to convert it");
}
