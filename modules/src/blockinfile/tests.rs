//! `blockinfile` against a table of cases whose expected results come from running
//! ansible-core 2.19's own `blockinfile.py` on the same content and arguments (markers
//! found, reversed or missing; insertafter/insertbefore, `(?m)` multiline search;
//! prepend/append_newline; CRLF files; create; absent). Each case runs the whole module,
//! scripts included, through a local shell.

use serde_json::json;

use super::BlockInFile;
use crate::util::textedit::testing::run;
use crate::util::textedit::tests_support::{Case, Scratch};

const CASES: &[Case] = &[
    Case { name: "insert_eof", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"Match User ansible-agent\\nPasswordAuthentication no\\n\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n# BEGIN ANSIBLE MANAGED BLOCK\nMatch User ansible-agent\nPasswordAuthentication no\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insert_eof_again", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n# BEGIN ANSIBLE MANAGED BLOCK\nMatch User ansible-agent\nPasswordAuthentication no\n# END ANSIBLE MANAGED BLOCK\n"), args: "{\"block\": \"Match User ansible-agent\\nPasswordAuthentication no\\n\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n# BEGIN ANSIBLE MANAGED BLOCK\nMatch User ansible-agent\nPasswordAuthentication no\n# END ANSIBLE MANAGED BLOCK\n"), changed: false, failed: false, msg: "" },
    Case { name: "update_in_place", content: Some("# sshd_config\nPort 22\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\n#ListenAddress 0.0.0.0\n"), args: "{\"block\": \"new1\\nnew2\"}", check: false, after: Some("# sshd_config\nPort 22\n# BEGIN ANSIBLE MANAGED BLOCK\nnew1\nnew2\n# END ANSIBLE MANAGED BLOCK\n#ListenAddress 0.0.0.0\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "remove_block", content: Some("# sshd_config\nPort 22\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\n#ListenAddress 0.0.0.0\n"), args: "{\"block\": \"\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n"), changed: true, failed: false, msg: "Block removed" },
    Case { name: "remove_state_absent", content: Some("# sshd_config\nPort 22\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\n#ListenAddress 0.0.0.0\n"), args: "{\"state\": \"absent\", \"block\": \"ignored\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n"), changed: true, failed: false, msg: "Block removed" },
    Case { name: "remove_absent_nothing", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"state\": \"absent\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), changed: false, failed: false, msg: "" },
    Case { name: "absent_no_file", content: None, args: "{\"state\": \"absent\"}", check: false, after: None, changed: false, failed: true, msg: "Path DIR/f.txt does not exist !" },
    Case { name: "absent_no_file_create", content: None, args: "{\"state\": \"absent\", \"create\": true}", check: false, after: None, changed: false, failed: false, msg: "File DIR/f.txt not present" },
    Case { name: "missing_no_create", content: None, args: "{\"block\": \"x\"}", check: false, after: None, changed: false, failed: true, msg: "Path DIR/f.txt does not exist !" },
    Case { name: "create", content: None, args: "{\"block\": \"x\", \"create\": true}", check: false, after: Some("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "File created" },
    Case { name: "create_empty_block", content: None, args: "{\"create\": true}", check: false, after: Some(""), changed: true, failed: false, msg: "File created" },
    Case { name: "insertbefore_bof", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertbefore\": \"BOF\"}", check: false, after: Some("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertafter_regex", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertafter\": \"^Port\"}", check: false, after: Some("# sshd_config\nPort 22\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertbefore_regex", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertbefore\": \"^Match\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nMatch User git\n    X11Forwarding no\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertafter_no_match", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertafter\": \"^nomatch\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertbefore_no_match", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertbefore\": \"^nomatch\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertafter_last_of_many", content: Some("a\nb\na\nc\n"), args: "{\"block\": \"x\", \"insertafter\": \"^a\"}", check: false, after: Some("a\nb\na\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "insertafter_bof_is_regex", content: Some("BOF here\na\n"), args: "{\"block\": \"x\", \"insertafter\": \"BOF\"}", check: false, after: Some("BOF here\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "multiline_insertafter", content: Some("SID_LIST_LISTENER_DG =\n  (SID_LIST =\n  )\n"), args: "{\"block\": \"  x\", \"insertafter\": \"(?m)SID_LIST_LISTENER_DG =\\\\n.*\\\\(SID_LIST =\", \"marker\": \"    <!-- {mark} ANSIBLE MANAGED BLOCK -->\"}", check: false, after: Some("SID_LIST_LISTENER_DG =\n  (SID_LIST =\n    <!-- BEGIN ANSIBLE MANAGED BLOCK -->\n  x\n    <!-- END ANSIBLE MANAGED BLOCK -->\n  )\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "multiline_insertbefore", content: Some("a\nb\nc\n"), args: "{\"block\": \"x\", \"insertbefore\": \"(?m)^b\\\\nc\"}", check: false, after: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\nc\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "custom_marker", content: Some("<body>\n</body>\n"), args: "{\"block\": \"<h1>hi</h1>\", \"marker\": \"<!-- {mark} ANSIBLE MANAGED BLOCK -->\", \"insertafter\": \"<body>\"}", check: false, after: Some("<body>\n<!-- BEGIN ANSIBLE MANAGED BLOCK -->\n<h1>hi</h1>\n<!-- END ANSIBLE MANAGED BLOCK -->\n</body>\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "custom_begin_end", content: Some("a\n"), args: "{\"block\": \"x\", \"marker_begin\": \"START\", \"marker_end\": \"STOP\"}", check: false, after: Some("a\n# START ANSIBLE MANAGED BLOCK\nx\n# STOP ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "no_trailing_newline_file", content: Some("a\nb"), args: "{\"block\": \"x\"}", check: false, after: Some("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "no_trailing_newline_insertafter", content: Some("a\nb"), args: "{\"block\": \"x\", \"insertafter\": \"^b\"}", check: false, after: Some("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "block_without_newline", content: Some("a\n"), args: "{\"block\": \"x\\ny\"}", check: false, after: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "prepend_append", content: Some("a\nb\n"), args: "{\"block\": \"x\", \"insertafter\": \"^a\", \"prepend_newline\": true, \"append_newline\": true}", check: false, after: Some("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "prepend_append_again", content: Some("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n"), args: "{\"block\": \"x\", \"insertafter\": \"^a\", \"prepend_newline\": true, \"append_newline\": true}", check: false, after: Some("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n"), changed: false, failed: false, msg: "" },
    Case { name: "prepend_at_bof", content: Some("a\n"), args: "{\"block\": \"x\", \"insertbefore\": \"BOF\", \"prepend_newline\": true, \"append_newline\": true}", check: false, after: Some("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\na\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "append_at_eof", content: Some("a\n"), args: "{\"block\": \"x\", \"append_newline\": true, \"prepend_newline\": true}", check: false, after: Some("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "markers_reversed", content: Some("a\n# END ANSIBLE MANAGED BLOCK\nold\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n"), args: "{\"block\": \"new\"}", check: false, after: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\nb\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "only_begin_marker", content: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n"), args: "{\"block\": \"new\"}", check: false, after: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "crlf_file", content: Some("a\r\nb\r\n"), args: "{\"block\": \"x\"}", check: false, after: Some("a\r\nb\r\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "crlf_markers", content: Some("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\r\nold\r\n# END ANSIBLE MANAGED BLOCK\r\n"), args: "{\"block\": \"x\"}", check: false, after: Some("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\r\nold\r\n# END ANSIBLE MANAGED BLOCK\r\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "cr_only_lines", content: Some("a\rb\r"), args: "{\"block\": \"x\", \"insertafter\": \"^a\"}", check: false, after: Some("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\r"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "check_mode", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\"}", check: true, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "mutually_exclusive", content: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), args: "{\"block\": \"x\", \"insertafter\": \"a\", \"insertbefore\": \"b\"}", check: false, after: Some("# sshd_config\nPort 22\n#ListenAddress 0.0.0.0\n\nMatch User git\n    X11Forwarding no\n"), changed: false, failed: true, msg: "parameters are mutually exclusive: insertbefore|insertafter" },
    Case { name: "empty_file", content: Some(""), args: "{\"block\": \"x\"}", check: false, after: Some("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "marker_template_escape", content: Some("a\n"), args: "{\"block\": \"x\", \"marker_begin\": \"B\\\\tEGIN\"}", check: false, after: Some("a\n# B\tEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "two_blocks", content: Some("a\n"), args: "{\"block\": \"x\", \"marker\": \"# {mark} one\"}", check: false, after: Some("a\n# BEGIN one\nx\n# END one\n"), changed: true, failed: false, msg: "Block inserted" },
    Case { name: "unicode_block", content: Some("é\n"), args: "{\"block\": \"ü\\nß\"}", check: false, after: Some("é\n# BEGIN ANSIBLE MANAGED BLOCK\nü\nß\n# END ANSIBLE MANAGED BLOCK\n"), changed: true, failed: false, msg: "Block inserted" },
];

#[test]
fn cases_match_ansible() {
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(e) = case.run(&BlockInFile) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn one_round_trip_when_the_block_is_there() {
    let s = Scratch::new("bi-noop");
    let f = s.file("f.txt", "a\n");
    let args = json!({"path": f, "block": "x\ny\n", "backup": true});
    let (r, trips) = run(&BlockInFile, args.clone(), false, false);
    assert_eq!((r.changed(), trips), (true, 2), "{r:?}");
    let backup = r.0["backup_file"].as_str().unwrap_or_default().to_string();
    assert_eq!(std::fs::read_to_string(backup).unwrap_or_default(), "a\n");
    let (r, trips) = run(&BlockInFile, args, false, false);
    assert_eq!((r.changed(), trips), (false, 1), "{r:?}");
    assert!(r.0.get("backup_file").is_none());
}

#[test]
fn check_mode_and_diff() {
    let s = Scratch::new("bi-check");
    let f = s.file("f.txt", "a\n");
    let (r, trips) = run(&BlockInFile, json!({"path": f, "block": "x"}), true, true);
    assert_eq!((r.changed(), trips), (true, 1));
    assert_eq!(r.0["diff"]["after"], "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n");
    assert_eq!(r.0["diff"]["before_header"], format!("{f} (content)"));
    assert_eq!(s.read("f.txt"), "a\n");
    let (r, _) = run(&BlockInFile, json!({"path": s.path("d/new.txt"), "block": "x", "create": true, "mode": "0640"}), false, false);
    assert_eq!(r.0["msg"], "File created and ownership, perms or SE linux context changed", "{r:?}");
    assert_eq!(s.mode("d/new.txt"), 0o640);
}

#[test]
fn validate_failure_leaves_the_file() {
    let s = Scratch::new("bi-validate");
    let f = s.file("f.txt", "a\n");
    let (r, _) = run(&BlockInFile, json!({"path": f, "block": "x", "validate": "false %s"}), false, false);
    assert!(r.is_failed());
    assert_eq!(r.0["msg"], "failed to validate: rc:1 error:");
    assert_eq!(s.read("f.txt"), "a\n");
    let (r, _) = run(&BlockInFile, json!({"path": f, "block": "x", "validate": "grep -q '^x$' %s"}), false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
}
