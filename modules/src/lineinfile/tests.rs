//! `lineinfile` against a table of cases whose expected results come from running
//! ansible-core 2.19's own `lineinfile.py` on the same content and arguments (most are
//! the cases of Ansible's integration target `lineinfile`: insertafter/insertbefore with
//! and without regexp, backrefs, firstmatch, absent, create, issues 58923 and 63684).
//! Where provision differs on purpose (patterns the `regex` crate cannot run, the
//! error text for a bad pattern), the expectation says so. Each case runs the whole
//! module, scripts included, through a local shell.

use serde_json::{json, Value};

use super::LineInFile;
use crate::util::textedit::testing::run;
use crate::util::textedit::tests_support::{Case, Scratch};

const CASES: &[Case] = &[
    Case { name: "insertbefore_bof", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New line at the beginning\", \"insertbefore\": \"BOF\"}", check: false, after: Some("New line at the beginning\nThis is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertbefore_bof_again", content: Some("New line at the beginning\nThis is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New line at the beginning\", \"insertbefore\": \"BOF\"}", check: false, after: Some("New line at the beginning\nThis is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: false, msg: "" },
    Case { name: "insertafter_eof", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New line at the end\", \"insertafter\": \"EOF\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\nNew line at the end\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "default_eof_present_already", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"This is line 4\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: false, msg: "" },
    Case { name: "insertafter_regex", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New line after line 1\", \"insertafter\": \"^This is line 1$\"}", check: false, after: Some("This is line 1\nNew line after line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertbefore_regex", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New line before line 5\", \"insertbefore\": \"^This is line 5$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nNew line before line 5\nThis is line 5\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "backrefs_replace", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New \\\\1 created with the backref\", \"backrefs\": true, \"regexp\": \"^This is (line 4)$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nNew line 4 created with the backref\nThis is line 5\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "backrefs_named", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"\\\\g<n>=\\\\g<1>\", \"backrefs\": true, \"regexp\": \"^This is (?P<n>line) (\\\\d)$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nline=line\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "backrefs_no_match_unchanged", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"x \\\\1\", \"backrefs\": true, \"regexp\": \"^nothing (here)$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: false, msg: "" },
    Case { name: "backrefs_pattern_backreference", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"This is line 3\", \"backrefs\": true, \"regexp\": \"^(REF) .* \\\\1$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "cannot use regular expression `^(REF) .* \\1$`: a backreference `\\N` is not supported (the `regex` engine has no look-around, backreferences, atomic groups or conditionals)" },
    Case { name: "absent_regex", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\", \"regexp\": \"^This is line 3$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: false, msg: "" },
    Case { name: "absent_regex_two", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\", \"regexp\": \"^This is line [45]$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\n"), changed: true, failed: false, msg: "2 line(s) removed" },
    Case { name: "absent_line", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\", \"line\": \"This is line 2\"}", check: false, after: Some("This is line 1\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "1 line(s) removed" },
    Case { name: "absent_search_string", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\", \"search_string\": \"line for\"}", check: false, after: Some("This is line 1\nThis is line 2\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "1 line(s) removed" },
    Case { name: "absent_nothing", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\", \"regexp\": \"^nope$\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: false, msg: "" },
    Case { name: "absent_no_file", content: None, args: "{\"state\": \"absent\", \"regexp\": \"x\"}", check: false, after: None, changed: false, failed: false, msg: "file not present" },
    Case { name: "absent_needs_something", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"state\": \"absent\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "one of line, search_string, or regexp is required with state=absent" },
    Case { name: "create_bof", content: None, args: "{\"line\": \"This is a new file\", \"insertbefore\": \"BOF\", \"create\": true}", check: false, after: Some("This is a new file\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "missing_without_create", content: None, args: "{\"line\": \"x\"}", check: false, after: None, changed: false, failed: true, msg: "Destination DIR/f.txt does not exist !" },
    Case { name: "noeof_append", content: Some("line one\nline two"), args: "{\"line\": \"New line at the end\", \"insertafter\": \"EOF\"}", check: false, after: Some("line one\nline two\nNew line at the end\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "empty_append", content: Some(""), args: "{\"line\": \"New line at the end\", \"insertafter\": \"EOF\"}", check: false, after: Some("New line at the end\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiline_line", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"This is a line\\nwith \\\\n character\", \"insertafter\": \"EOF\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\nThis is a line\nwith \\n character\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "quote_single", content: Some("x\n"), args: "{\"line\": \"import g'\"}", check: false, after: Some("x\nimport g'\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "quote_double", content: Some("x\n"), args: "{\"line\": \"\\\"quote\\\" and \\\"unquote\\\"\"}", check: false, after: Some("x\n\"quote\" and \"unquote\"\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertafter_1", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertafter\": \"1\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nbar\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertbefore_1", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertbefore\": \"1\", \"line\": \"bar\"}", check: false, after: Some("bar\nThis is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertafter_2", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertafter\": \"2\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\nbar\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertbefore_2", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertbefore\": \"2\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\nbar\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertafter_3", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertafter\": \"3\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nThis is line 3\nbar\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertbefore_3", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertbefore\": \"3\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nbar\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertafter_4", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertafter\": \"4\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\nbar\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "multiple_insertbefore_4", content: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n"), args: "{\"insertbefore\": \"4\", \"line\": \"bar\"}", check: false, after: Some("This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\nbar\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "befaf_after_one", content: Some("[section_one]\n\n[section_two]\n\n[section_three]\n"), args: "{\"regexp\": \"option_one=\", \"line\": \"option_one=1\", \"insertafter\": \"section_one\"}", check: false, after: Some("[section_one]\noption_one=1\n\n[section_two]\n\n[section_three]\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "befaf_before_one", content: Some("[section_one]\n\n[section_two]\n\n[section_three]\n"), args: "{\"regexp\": \"option_one=\", \"line\": \"option_one=1\", \"insertbefore\": \"section_three\"}", check: false, after: Some("[section_one]\n\n[section_two]\n\noption_one=1\n[section_three]\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "befaf_after_two", content: Some("[section_one]\n\n[section_two]\n\n[section_three]\n"), args: "{\"regexp\": \"option_two=\", \"line\": \"option_two=2\", \"insertafter\": \"section_one\"}", check: false, after: Some("[section_one]\noption_two=2\n\n[section_two]\n\n[section_three]\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "befaf_before_two", content: Some("[section_one]\n\n[section_two]\n\n[section_three]\n"), args: "{\"regexp\": \"option_two=\", \"line\": \"option_two=2\", \"insertbefore\": \"section_three\"}", check: false, after: Some("[section_one]\n\n[section_two]\n\noption_two=2\n[section_three]\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "befaf_after_present", content: Some("[section_one]\noption_one=1\n\n[section_two]\n"), args: "{\"regexp\": \"option_one=\", \"line\": \"option_one=1\", \"insertafter\": \"section_one\"}", check: false, after: Some("[section_one]\noption_one=1\n\n[section_two]\n"), changed: false, failed: false, msg: "" },
    Case { name: "befaf_after_present_no_regexp", content: Some("[section_one]\noption_one=1\n\n[section_two]\n"), args: "{\"line\": \"option_one=1\", \"insertafter\": \"section_one\"}", check: false, after: Some("[section_one]\noption_one=1\n\n[section_two]\n"), changed: false, failed: false, msg: "" },
    Case { name: "befaf_replace_value", content: Some("[section_one]\noption_one=0\n"), args: "{\"regexp\": \"option_one=\", \"line\": \"option_one=1\", \"insertafter\": \"section_one\"}", check: false, after: Some("[section_one]\noption_one=1\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "insertbefore_empty_file", content: Some(""), args: "{\"line\": \"top\", \"insertbefore\": \"^not in the file$\"}", check: false, after: Some("top\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertbefore_one_line", content: Some("top\n"), args: "{\"line\": \"top\", \"insertbefore\": \"^not in the file$\"}", check: false, after: Some("top\n"), changed: false, failed: false, msg: "" },
    Case { name: "empty_regexp", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"regexp\": \"\", \"line\": \"This is line 6\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 6\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "empty_search_string", content: Some("This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\n<FilesMatch \".py[45]?$\">\n"), args: "{\"search_string\": \"\", \"line\": \"This is line 6\"}", check: false, after: Some("This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\nThis is line 6\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "search_string_replace", content: Some("This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\n<FilesMatch \".py[45]?$\">\n"), args: "{\"search_string\": \"<FilesMatch \\\".py[45]?$\\\">\", \"line\": \"<FilesMatch \\\".py[34]?$\\\">\"}", check: false, after: Some("This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\n<FilesMatch \".py[34]?$\">\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "search_string_regex_chars", content: Some("This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\n<FilesMatch \".py[45]?$\">\n"), args: "{\"search_string\": \"(\\\\\\\\w)(\\\\\\\\s+)([\\\\\\\\.,])\", \"line\": \"replaced\"}", check: false, after: Some("This is line 1\nThis is line 2\nreplaced\nThis is line 4\n<FilesMatch \".py[45]?$\">\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "firstmatch_insertafter", content: Some("line1\nline1\nline1\nline2\nline3\n"), args: "{\"line\": \"INSERT\", \"insertafter\": \"line1\", \"firstmatch\": true}", check: false, after: Some("line1\nINSERT\nline1\nline1\nline2\nline3\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "firstmatch_insertafter_again", content: Some("line1\nINSERT\nline1\nline1\nline2\nline3\n"), args: "{\"line\": \"INSERT\", \"insertafter\": \"line1\", \"firstmatch\": true}", check: false, after: Some("line1\nINSERT\nline1\nline1\nline2\nline3\n"), changed: false, failed: false, msg: "" },
    Case { name: "lastmatch_insertafter", content: Some("line1\nline1\nline1\nline2\nline3\n"), args: "{\"line\": \"INSERT\", \"insertafter\": \"line1\"}", check: false, after: Some("line1\nline1\nline1\nINSERT\nline2\nline3\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "58923_regexp_insertafter", content: Some("#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertafter\": \"^#!/bin/sh\", \"regexp\": \"^export FISHEYE_OPTS\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("#!/bin/sh\nexport FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "58923_insertafter", content: Some("#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertafter\": \"^#!/bin/sh\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("#!/bin/sh\nexport FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "58923_regexp_insertbefore", content: Some("#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertbefore\": \"^#!/bin/sh\", \"regexp\": \"^export FISHEYE_OPTS\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("export FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "58923_insertbefore", content: Some("#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertbefore\": \"^#!/bin/sh\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("export FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "58923_insertbefore_present", content: Some("export FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertbefore\": \"   Darwin\\\\*\\\\) if \\\\[ -z \\\\\\\"\\\\$JAVA_HOME\\\\\\\" \\\\] ; then\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("export FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: false, failed: false, msg: "" },
    Case { name: "58923_search_insertafter", content: Some("#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), args: "{\"insertafter\": \"^#!/bin/sh\", \"search_string\": \"export FISHEYE_OPTS\", \"firstmatch\": true, \"line\": \"export FISHEYE_OPTS=\\\"-Xmx4096m -Xms2048m\\\"\"}", check: false, after: Some("#!/bin/sh\nexport FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\"\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "63684_end_regexp", content: Some("testline\n"), args: "{\"insertafter\": \"testline\", \"regexp\": \"line at the end\", \"line\": \"line at the end\"}", check: false, after: Some("testline\nline at the end\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "63684_end_search", content: Some("testline\n"), args: "{\"insertafter\": \"testline\", \"search_string\": \"line at the end\", \"line\": \"line at the end\"}", check: false, after: Some("testline\nline at the end\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertafter_last_line_no_newline", content: Some("a\nb"), args: "{\"insertafter\": \"^b\", \"line\": \"c\"}", check: false, after: Some("a\nbc\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertafter_last_line_no_newline_present", content: Some("a\nc"), args: "{\"insertafter\": \"^a\", \"line\": \"c\"}", check: false, after: Some("a\nc\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "regexp_replaces_last_match", content: Some("x=1\nx=2\nx=3\n"), args: "{\"regexp\": \"^x=\", \"line\": \"x=9\"}", check: false, after: Some("x=1\nx=2\nx=9\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "regexp_firstmatch_replaces_first", content: Some("x=1\nx=2\nx=3\n"), args: "{\"regexp\": \"^x=\", \"line\": \"x=9\", \"firstmatch\": true}", check: false, after: Some("x=9\nx=2\nx=3\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "regexp_no_match_exact_present", content: Some("a\nx=9\n"), args: "{\"regexp\": \"^y=\", \"line\": \"x=9\"}", check: false, after: Some("a\nx=9\n"), changed: false, failed: false, msg: "" },
    Case { name: "crlf_line_kept", content: Some("a\r\nb\r\n"), args: "{\"line\": \"a\"}", check: false, after: Some("a\nb\r\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "crlf_regexp_replace", content: Some("a=1\r\nb\r\n"), args: "{\"regexp\": \"^a=\", \"line\": \"a=2\"}", check: false, after: Some("a=2\nb\r\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "crlf_dollar", content: Some("a=1\r\n"), args: "{\"regexp\": \"^a=1$\", \"line\": \"a=2\"}", check: false, after: Some("a=1\r\na=2\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "dollar_before_newline", content: Some("a=1\nb\n"), args: "{\"regexp\": \"^a=1$\", \"line\": \"a=2\"}", check: false, after: Some("a=2\nb\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "empty_line_regexp_absent", content: Some("a\n\nb\n\n"), args: "{\"state\": \"absent\", \"regexp\": \"^$\"}", check: false, after: Some("a\nb\n"), changed: true, failed: false, msg: "2 line(s) removed" },
    Case { name: "unicode_word", content: Some("café=1\n"), args: "{\"regexp\": \"^\\\\w+=\", \"line\": \"x\"}", check: false, after: Some("café=1\nx\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "ascii_ignorecase", content: Some("KEY=1\n"), args: "{\"regexp\": \"(?i)^key=\", \"line\": \"key=2\"}", check: false, after: Some("key=2\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "python_braces_literal", content: Some("{foo}=1\n"), args: "{\"regexp\": \"^{foo}=\", \"line\": \"{foo}=2\"}", check: false, after: Some("{foo}=2\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "escaped_chars", content: Some("a-b c/d\n"), args: "{\"regexp\": \"^a\\\\-b\\\\ c\\\\/d$\", \"line\": \"z\"}", check: false, after: Some("z\n"), changed: true, failed: false, msg: "line replaced" },
    Case { name: "lookahead_unsupported", content: Some("a\n"), args: "{\"regexp\": \"^a(?=b)\", \"line\": \"z\"}", check: false, after: Some("a\n"), changed: false, failed: true, msg: "cannot use regular expression `^a(?=b)`: look-around is not supported (the `regex` engine has no look-around, backreferences, atomic groups or conditionals)" },
    Case { name: "bad_escape", content: Some("a\n"), args: "{\"regexp\": \"\\\\q\", \"line\": \"z\"}", check: false, after: Some("a\n"), changed: false, failed: true, msg: "cannot use regular expression `\\q`: bad escape \\q" },
    Case { name: "mutually_exclusive_ins", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"x\", \"insertafter\": \"a\", \"insertbefore\": \"b\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "parameters are mutually exclusive: insertbefore|insertafter" },
    Case { name: "mutually_exclusive_re_ss", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"x\", \"regexp\": \"a\", \"search_string\": \"b\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "parameters are mutually exclusive: regexp|search_string" },
    Case { name: "backrefs_needs_regexp", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"x\", \"backrefs\": true}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "regexp is required with backrefs=true" },
    Case { name: "line_required", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"regexp\": \"x\"}", check: false, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: false, failed: true, msg: "line is required with state=present" },
    Case { name: "check_mode_insert", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"New\"}", check: true, after: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "insertafter_bof", content: Some("This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), args: "{\"line\": \"first\", \"insertafter\": \"BOF\"}", check: false, after: Some("first\nThis is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"), changed: true, failed: false, msg: "line added" },
    Case { name: "backrefs_template_escapes", content: Some("k = v\n"), args: "{\"regexp\": \"^(\\\\w+) = (\\\\w+)$\", \"line\": \"\\\\2\\\\t\\\\1\\\\\\\\x\", \"backrefs\": true}", check: false, after: Some("v\tk\\x\n"), changed: true, failed: false, msg: "line replaced" },
];

#[test]
fn cases_match_ansible() {
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(e) = case.run(&LineInFile) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn nothing_to_change_is_one_round_trip() {
    let s = Scratch::new("li-noop");
    let f = s.file("f.txt", "a=1\nb=2\n");
    let (r, trips) = run(&LineInFile, json!({"path": f, "regexp": "^a=", "line": "a=1"}), false, false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(trips, 1);
    let (r, trips) = run(&LineInFile, json!({"path": f, "regexp": "^a=", "line": "a=2"}), false, false);
    assert!(r.changed(), "{r:?}");
    assert_eq!(trips, 2);
    assert_eq!(s.read("f.txt"), "a=2\nb=2\n");
}

#[test]
fn check_mode_reports_the_diff_and_writes_nothing() {
    let s = Scratch::new("li-check");
    let f = s.file("f.txt", "a\n");
    let (r, trips) = run(&LineInFile, json!({"path": f, "line": "b"}), true, true);
    assert!(r.changed());
    assert_eq!(trips, 1);
    let header = format!("{f} (content)");
    assert_eq!(r.0["diff"], json!({"before": "a\n", "after": "a\nb\n", "before_header": header, "after_header": header}));
    assert_eq!(s.read("f.txt"), "a\n");
    // A file that does not exist yet: reported, not created.
    let new = s.path("new/g.txt");
    let (r, _) = run(&LineInFile, json!({"path": new, "line": "x", "create": true}), true, false);
    assert!(r.changed() && r.0["msg"] == "line added", "{r:?}");
    assert!(!std::path::Path::new(&new).exists());
}

#[test]
fn create_makes_parent_directories_and_mode() {
    let s = Scratch::new("li-create");
    let new = s.path("a/b/c.txt");
    let (r, _) = run(&LineInFile, json!({"path": new, "line": "First line", "create": true, "mode": "0600"}), false, false);
    assert_eq!(r.0["msg"], "line added and ownership, perms or SE linux context changed", "{r:?}");
    assert_eq!(s.read("a/b/c.txt"), "First line\n");
    assert_eq!(s.mode("a/b/c.txt"), 0o600);
    let (r, trips) = run(&LineInFile, json!({"path": new, "line": "First line", "create": true, "mode": "0600"}), false, false);
    assert!(!r.changed(), "{r:?}");
    assert_eq!(trips, 1);
}

#[test]
fn mode_alone_is_a_change() {
    let s = Scratch::new("li-mode");
    let f = s.file("f.txt", "a\n");
    let (r, trips) = run(&LineInFile, json!({"path": f, "line": "a", "mode": "u=rw,go="}), true, false);
    assert_eq!((r.changed(), trips), (true, 1));
    assert_eq!(r.0["msg"], "ownership, perms or SE linux context changed");
    assert_eq!(s.mode("f.txt"), 0o644);
    let (r, trips) = run(&LineInFile, json!({"path": f, "line": "a", "mode": "u=rw,go="}), false, false);
    assert_eq!((r.changed(), trips), (true, 2));
    assert_eq!(s.mode("f.txt"), 0o600);
    let (r, _) = run(&LineInFile, json!({"path": f, "line": "a", "mode": 384}), false, false);
    assert!(!r.changed(), "mode 384 is YAML's 0600: {r:?}");
}

#[test]
fn backup_validate_and_symlinks() {
    let s = Scratch::new("li-backup");
    let f = s.file("f.txt", "a\n");
    let (r, _) = run(&LineInFile, json!({"path": f, "line": "b", "backup": true, "validate": "grep -q b %s"}), false, false);
    let backup = r.0["backup"].as_str().unwrap_or_default().to_string();
    assert!(backup.starts_with(&format!("{f}.")) && backup.ends_with('~'), "{r:?}");
    assert_eq!(std::fs::read_to_string(&backup).unwrap_or_default(), "a\n");
    assert_eq!(s.read("f.txt"), "a\nb\n");
    // Validation fails: the file is left alone, the message is Ansible's.
    let (r, _) = run(&LineInFile, json!({"path": f, "line": "c", "validate": "sh -c 'echo no >&2; exit 3' %s"}), false, false);
    assert!(r.is_failed());
    assert_eq!(r.0["msg"], "failed to validate: rc:3 error:no\n");
    assert_eq!(s.read("f.txt"), "a\nb\n");
    let (r, _) = run(&LineInFile, json!({"path": f, "line": "c", "validate": "/some/path"}), false, false);
    assert_eq!(r.0["msg"], "validate must contain %s: /some/path");
    // Through a symlink: the target is edited, the link stays a link (issue 76727).
    std::os::unix::fs::symlink("f.txt", s.path("link.txt")).unwrap();
    let (r, _) = run(&LineInFile, json!({"path": s.path("link.txt"), "line": "d"}), false, false);
    assert!(r.changed(), "{r:?}");
    assert_eq!(s.read("f.txt"), "a\nb\nd\n");
    assert!(std::fs::symlink_metadata(s.path("link.txt")).unwrap().file_type().is_symlink());
}

#[test]
fn directories_fail_and_warnings_are_given() {
    let s = Scratch::new("li-dir");
    let (r, _) = run(&LineInFile, json!({"path": s.path(""), "line": "x"}), false, false);
    assert_eq!(r.0["msg"], Value::String(format!("Path {} is a directory !", s.path(""))));
    assert_eq!(r.0["rc"], 256);
    let f = s.file("f.txt", "a\n");
    let (r, _) = run(&LineInFile, json!({"path": f, "regexp": "", "line": "x"}), false, false);
    assert!(r.0["warnings"][0].as_str().unwrap_or_default().starts_with("The regular expression is an empty string"), "{r:?}");
    let (r, _) = run(&LineInFile, json!({"path": f, "state": "absent", "regexp": "^x$"}), false, false);
    assert_eq!((r.0["msg"].clone(), r.0["found"].clone()), (json!("1 line(s) removed"), json!(1)));
}
