//! `replace` against a table of cases whose expected results come from running
//! ansible-core 2.19's own `replace.py` on the same content and arguments (most from
//! Ansible's integration target `replace`: before/after sections, `^`/`$` in MULTILINE,
//! word boundaries, backups, bad template escapes, issue 79364). Each case runs the
//! whole module, scripts included, through a local shell.

use serde_json::json;

use super::{substitute, Outcome, Replace};
use crate::util::textedit::testing::run;
use crate::util::textedit::tests_support::{Case, Scratch};

const CASES: &[Case] = &[
    Case { name: "before", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"before\": \"quilt\", \"regexp\": \" \"}", check: false, after: Some("Thequickbrownfoxjumpsoverthelazydog.\nWepromptlyjudgedantiqueivorybucklesforthenextprize.\nJinxedwizardspluckivyfromthebigquilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), changed: true, failed: false, msg: "24 replacements made" },
    Case { name: "after", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"after\": \"promptly\", \"regexp\": \" \"}", check: false, after: Some("The quick brown fox jumps over the lazy dog.\nWe promptlyjudgedantiqueivorybucklesforthenextprize.\nJinxedwizardspluckivyfromthebigquilt.\nJadedzombiesactedquaintlybutkeptdrivingtheiroxenforward."), changed: true, failed: false, msg: "24 replacements made" },
    Case { name: "after_before_no_match", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"before\": \"promptly\", \"after\": \"quilt\", \"regexp\": \"e\", \"replace\": \"3\"}", check: false, after: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), changed: false, failed: false, msg: "Pattern for before/after params did not match the given file: quilt(?P<subsection>.*?)promptly" },
    Case { name: "after_before", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"before\": \"quilt\", \"after\": \"promptly\", \"regexp\": \"e\", \"replace\": \"3\"}", check: false, after: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judg3d antiqu3 ivory buckl3s for th3 n3xt priz3.\nJinx3d wizards pluck ivy from th3 big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), changed: true, failed: false, msg: "8 replacements made" },
    Case { name: "bof_eof", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"regexp\": \"^([\\\\S\\\\s]+)$\", \"replace\": \"\\\"\\\\1\\\"\"}", check: false, after: Some("\"The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward.\""), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "bol_eol", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"regexp\": \"^(.+)$\", \"replace\": \"\\\"\\\\1\\\"\"}", check: false, after: Some("\"The quick brown fox jumps over the lazy dog.\"\n\"We promptly judged antique ivory buckles for the next prize.\"\n\"Jinxed wizards pluck ivy from the big quilt.\"\n\"Jaded zombies acted quaintly but kept driving their oxen forward.\""), changed: true, failed: false, msg: "4 replacements made" },
    Case { name: "word_boundaries", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"regexp\": \"\\\\b(.+)\\\\b\", \"replace\": \"\\\"\\\\1\\\"\"}", check: false, after: Some("\"The quick brown fox jumps over the lazy dog\".\n\"We promptly judged antique ivory buckles for the next prize\".\n\"Jinxed wizards pluck ivy from the big quilt\".\n\"Jaded zombies acted quaintly but kept driving their oxen forward\"."), changed: true, failed: false, msg: "4 replacements made" },
    Case { name: "escaped_word_boundaries", content: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), args: "{\"regexp\": \"\\\\\\\\b(.+)\\\\\\\\b\", \"replace\": \"\\\"\\\\1\\\"\"}", check: false, after: Some("The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward."), changed: false, failed: false, msg: "" },
    Case { name: "subsection_madness", content: Some("# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n"), args: "{\"after\": \"# start of group\", \"before\": \"# end of group\", \"regexp\": \"0\", \"replace\": \"9\"}", check: false, after: Some("# start of group\n9.9.9.9\n127.9.9.1\n127.9.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n"), changed: true, failed: false, msg: "7 replacements made" },
    Case { name: "bad_template_escape", content: Some(""), args: "{\"after\": \"^\", \"before\": \"$\", \"regexp\": \"\\\\.\", \"replace\": \"\\\\D\"}", check: false, after: Some(""), changed: false, failed: true, msg: "Unable to process replace due to error: bad escape \\D at position 0" },
    Case { name: "missing", content: None, args: "{\"regexp\": \"x\"}", check: false, after: None, changed: false, failed: true, msg: "Path DIR/f.txt does not exist !" },
    Case { name: "hosts", content: Some("127.0.0.1 localhost\n10.0.0.5   old.host.name   old\n10.0.0.6 other\n"), args: "{\"regexp\": \"(\\\\s+)old\\\\.host\\\\.name(\\\\s+.*)?$\", \"replace\": \"\\\\1new.host.name\\\\2\"}", check: false, after: Some("127.0.0.1 localhost\n10.0.0.5   new.host.name   old\n10.0.0.6 other\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "hosts_again", content: Some("127.0.0.1 localhost\n10.0.0.5   new.host.name   old\n"), args: "{\"regexp\": \"(\\\\s+)old\\\\.host\\\\.name(\\\\s+.*)?$\", \"replace\": \"\\\\1new.host.name\\\\2\"}", check: false, after: Some("127.0.0.1 localhost\n10.0.0.5   new.host.name   old\n"), changed: false, failed: false, msg: "" },
    Case { name: "vhost_between", content: Some("NameVirtualHost *\n<VirtualHost *>\nServerName a\n</VirtualHost>\nother\n"), args: "{\"after\": \"(?m)^<VirtualHost [*]>\", \"before\": \"</VirtualHost>\", \"regexp\": \"^(.+)$\", \"replace\": \"# \\\\1\"}", check: false, after: Some("NameVirtualHost *\n<VirtualHost *>\n# ServerName a\n</VirtualHost>\nother\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "after_till_end", content: Some("NameVirtualHost *\n<VirtualHost *>\nServerName a\n</VirtualHost>\nother\n"), args: "{\"after\": \"NameVirtualHost [*]\", \"regexp\": \"^(.+)$\", \"replace\": \"# \\\\1\"}", check: false, after: Some("NameVirtualHost *\n# <VirtualHost *>\n# ServerName a\n# </VirtualHost>\n# other\n"), changed: true, failed: false, msg: "4 replacements made" },
    Case { name: "named_groups", content: Some("ListenAddress 1.2.3.4\n"), args: "{\"regexp\": \"^(?P<dctv>ListenAddress[ ]+)(?P<host>[^\\\\n]+)$\", \"replace\": \"#\\\\g<dctv>\\\\g<host>\\\\n\\\\g<dctv>0.0.0.0\"}", check: false, after: Some("#ListenAddress 1.2.3.4\nListenAddress 0.0.0.0\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "g1_positional", content: Some("ListenAddress 1.2.3.4\n"), args: "{\"regexp\": \"^(ListenAddress[ ]+)[^\\\\n]+$\", \"replace\": \"\\\\g<1>0.0.0.0\"}", check: false, after: Some("ListenAddress 0.0.0.0\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "remove_lines", content: Some("keep\nold.host.name x\nkeep2\n"), args: "{\"regexp\": \"^old\\\\.host\\\\.name[^\\\\n]*\\\\n\"}", check: false, after: Some("keep\nkeep2\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "same_replacement_no_change", content: Some("aaa\n"), args: "{\"regexp\": \"a\", \"replace\": \"a\"}", check: false, after: Some("aaa\n"), changed: false, failed: false, msg: "" },
    Case { name: "no_match", content: Some("abc\n"), args: "{\"regexp\": \"z\", \"replace\": \"y\"}", check: false, after: Some("abc\n"), changed: false, failed: false, msg: "" },
    Case { name: "empty_matches", content: Some("abxd"), args: "{\"regexp\": \"x*\", \"replace\": \"-\"}", check: false, after: Some("-a-b--d-"), changed: true, failed: false, msg: "5 replacements made" },
    Case { name: "dollar_multiline", content: Some("a\nb\n"), args: "{\"regexp\": \"$\", \"replace\": \";\"}", check: false, after: Some("a;\nb;\n;"), changed: true, failed: false, msg: "3 replacements made" },
    Case { name: "caret_multiline", content: Some("a\nb\n"), args: "{\"regexp\": \"^\", \"replace\": \"> \"}", check: false, after: Some("> a\n> b\n> "), changed: true, failed: false, msg: "3 replacements made" },
    Case { name: "unicode_word", content: Some("café crème\n"), args: "{\"regexp\": \"\\\\w+\", \"replace\": \"w\"}", check: false, after: Some("w w\n"), changed: true, failed: false, msg: "2 replacements made" },
    Case { name: "invalid_group", content: Some("a\n"), args: "{\"regexp\": \"a\", \"replace\": \"\\\\2\"}", check: false, after: Some("a\n"), changed: false, failed: true, msg: "Unable to process replace due to error: invalid group reference 2 at position 1" },
    Case { name: "octal_template", content: Some("a\n"), args: "{\"regexp\": \"a\", \"replace\": \"\\\\101\"}", check: false, after: Some("A\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "trailing_newline_dollar_text", content: Some("x = 1\nend\n"), args: "{\"before\": \"end$\", \"regexp\": \"1\", \"replace\": \"2\"}", check: false, after: Some("x = 2\nend\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "after_empty_string", content: Some("a\n"), args: "{\"after\": \"\", \"regexp\": \"a\", \"replace\": \"b\"}", check: false, after: Some("b\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "check_mode", content: Some("a\n"), args: "{\"regexp\": \"a\", \"replace\": \"b\"}", check: true, after: Some("a\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "braces_literal", content: Some("x{y}\n"), args: "{\"regexp\": \"{y}\", \"replace\": \"[y]\"}", check: false, after: Some("x[y]\n"), changed: true, failed: false, msg: "1 replacements made" },
    Case { name: "latin1", content: Some("café\n"), args: "{\"regexp\": \"é\", \"replace\": \"e\", \"encoding\": \"latin-1\"}", check: false, after: Some("café\n"), changed: false, failed: false, msg: "" },
];

#[test]
fn cases_match_ansible() {
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(e) = case.run(&Replace) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn one_round_trip_when_nothing_matches_and_backup_when_it_does() {
    let s = Scratch::new("re-noop");
    let f = s.file("f.txt", "a=1\n");
    let (r, trips) = run(&Replace, json!({"path": f, "regexp": "^b=.*$", "replace": "b=2"}), false, false);
    assert_eq!((r.changed(), trips), (false, 1), "{r:?}");
    let (r, trips) = run(&Replace, json!({"path": f, "regexp": "^(a)=.*$", "replace": "\\1=2", "backup": true}), false, true);
    assert_eq!((r.changed(), trips), (true, 2), "{r:?}");
    assert_eq!(s.read("f.txt"), "a=2\n");
    assert_eq!(r.0["diff"], json!({"before": "a=1\n", "after": "a=2\n", "before_header": f, "after_header": f}));
    let backup = r.0["backup_file"].as_str().unwrap_or_default().to_string();
    assert_eq!(std::fs::read_to_string(backup).unwrap_or_default(), "a=1\n");
}

#[test]
fn check_mode_writes_nothing() {
    let s = Scratch::new("re-check");
    let f = s.file("f.txt", "a\n");
    let (r, trips) = run(&Replace, json!({"path": f, "regexp": "a", "replace": "b"}), true, false);
    assert_eq!((r.changed(), trips, r.0["msg"].clone()), (true, 1, json!("1 replacements made")));
    assert_eq!(s.read("f.txt"), "a\n");
}

#[test]
fn latin1_round_trips_bytes() {
    let s = Scratch::new("re-latin1");
    let path = s.path("f.txt");
    std::fs::write(&path, b"caf\xe9 ok\n").unwrap_or_default();
    let (r, _) = run(&Replace, json!({"path": path, "regexp": "caf\u{e9}", "replace": "th\u{e9}", "encoding": "latin-1"}), false, false);
    assert!(r.changed(), "{r:?}");
    assert_eq!(std::fs::read(&path).unwrap_or_default(), b"th\xe9 ok\n");
    let (r, _) = run(&Replace, json!({"path": path, "regexp": "x", "encoding": "cp273"}), false, false);
    assert_eq!(r.0["msg"], "encoding `cp273` is not supported (use utf-8, ascii or latin-1)");
}

#[test]
fn unsupported_patterns_say_why() {
    let e = substitute(b"ab", "a(?=b)", "", None, None).unwrap_err();
    assert!(e.contains("look-around is not supported"), "{e}");
    assert_eq!(substitute(b"ab", "z", "", Some("q"), None), Ok(Outcome::NoSection("Pattern for before/after params did not match the given file: q(?P<subsection>.*)".into())));
}
