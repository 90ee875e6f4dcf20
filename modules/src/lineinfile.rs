//! `lineinfile`: make sure one line is in a text file (or is not), replacing the line
//! a regular expression or a literal string finds.
//!
//! One round trip reads the file with its content; the edit is computed here, exactly as
//! Ansible's `lineinfile.py` computes it (ported line by line in [`present`] and
//! [`absent`]); a second round trip writes the new content atomically, only when it
//! changed. Patterns are Python regular expressions translated for the `regex` crate
//! ([`crate::util::pyre`]): look-around and backreferences inside the pattern are
//! reported as unsupported.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{ArgSpec, ArgType};
use crate::util::pyre::{self, PyRegex, Subject, Template};
use crate::util::textedit::{self, failed_rc, split_lines, Failure, Target, WriteOptions};
use crate::util::Attrs;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

pub struct LineInFile;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("path", ArgType::Path, "The file to modify.").required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new("state", ArgType::Str, "Whether the line should be there or not.").default("present").choices(&["absent", "present"]),
    ArgSpec::new(
        "regexp",
        ArgType::Str,
        "A Python regular expression looked for in every line. With `state=present` the last matching line is replaced by `line` \
(the first with `firstmatch`); with `state=absent` every matching line is removed. Look-around and backreferences in the pattern are not supported.",
    )
    .aliases(&["regex"]),
    ArgSpec::new("search_string", ArgType::Str, "A literal string looked for in every line, instead of `regexp`. Mutually exclusive with `regexp` and `backrefs`."),
    ArgSpec::new("line", ArgType::Str, "The line to insert or replace. Required for `state=present`; with `backrefs` it may use `\\1` and `\\g<name>`.").aliases(&["value"]),
    ArgSpec::new(
        "backrefs",
        ArgType::Bool,
        "Expand `\\1`/`\\g<name>` in `line` from the `regexp` match; when `regexp` matches nothing the file is left unchanged \
(`insertafter`/`insertbefore` are ignored).",
    )
    .default("no"),
    ArgSpec::new("insertafter", ArgType::Str, "Insert after the last line matching this regular expression (first with `firstmatch`), or `EOF` (the default). Ignored when `regexp`/`search_string` matches."),
    ArgSpec::new("insertbefore", ArgType::Str, "Insert before the last line matching this regular expression (first with `firstmatch`), or `BOF`."),
    ArgSpec::new("create", ArgType::Bool, "Create the file (and its parent directories) when it does not exist; otherwise that is an error.").default("no"),
    ArgSpec::new("backup", ArgType::Bool, "Keep a copy of the old file, named with a timestamp, when the file changes.").default("no"),
    ArgSpec::new("firstmatch", ArgType::Bool, "`insertafter`/`insertbefore` (and `regexp`) use the first matching line instead of the last.").default("no"),
    ArgSpec::new("validate", ArgType::Str, "A command run on the new content (`%s` is its path) before it replaces the file; the file is left alone if it fails."),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "lineinfile",
    short: "Manage lines in text files",
    description: "Makes sure a particular line is in a file, or replaces an existing line found by a regular expression \
(`regexp`) or a literal string (`search_string`), or removes matching lines (`state=absent`). Useful to change a \
single line; use `replace` for many similar lines and `blockinfile` for a block. The file is read in one round trip \
and, only when it changes, written back atomically (through a temporary file beside it) in a second one. Symlinks are \
followed. Check mode and diff mode are supported.",
    args: ARGS,
    free_form: false,
    examples: r#"- name: Ensure SELinux is set to enforcing mode
  ansible.builtin.lineinfile:
    path: /etc/selinux/config
    regexp: '^SELINUX='
    line: SELINUX=enforcing

- name: Make sure group wheel is not in the sudoers configuration
  ansible.builtin.lineinfile:
    path: /etc/sudoers
    state: absent
    regexp: '^%wheel'

- name: Replace a localhost entry searching for a literal string to avoid escaping
  ansible.builtin.lineinfile:
    path: /etc/hosts
    search_string: '127.0.0.1'
    line: 127.0.0.1 localhost
    owner: root
    group: root
    mode: '0644'

- name: Ensure the default Apache port is 8080
  ansible.builtin.lineinfile:
    path: /etc/httpd/conf/httpd.conf
    regexp: '^Listen '
    insertafter: '^#Listen '
    line: Listen 8080

- name: Add a line to a file, creating it if needed
  ansible.builtin.lineinfile:
    path: /tmp/testfile
    line: 192.168.1.99 foo.lab.net foo
    create: yes

- name: Ensure the JBoss memory settings are exactly as needed
  ansible.builtin.lineinfile:
    path: /opt/jboss-as/bin/standalone.conf
    regexp: '^(.*)Xms(\d+)m(.*)$'
    line: '\1Xms${xms}m\3'
    backrefs: yes

- name: Validate the sudoers file before saving
  ansible.builtin.lineinfile:
    path: /etc/sudoers
    regexp: '^%ADMIN ALL='
    line: '%ADMIN ALL=(ALL) NOPASSWD: ALL'
    validate: /usr/sbin/visudo -cf %s
"#,
    returns: &[
        ("changed", "whether the file changed (content, or mode/owner/group)"),
        ("msg", "`line added`, `line replaced`, `N line(s) removed`, `file not present`, or empty; `... and ownership, perms or SE linux context changed`"),
        ("backup", "the backup file's name when `backup` made one, else empty"),
        ("found", "with `state=absent`: how many lines were removed"),
        ("diff", "with `--diff`: `before`, `after`, `before_header`, `after_header` (the whole file)"),
        ("warnings", "a warning when `regexp` or `search_string` is empty (it matches every line)"),
    ],
};

/// How a line is looked for.
pub enum Search {
    Regexp(PyRegex),
    Literal(Vec<u8>),
    /// Neither: only an identical line counts.
    None,
}

/// `state=present`, arguments read and regular expressions compiled.
pub struct Present {
    pub search: Search,
    pub line: Vec<u8>,
    /// After the `EOF` default is applied (only when `insertbefore` is not given).
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    /// The `insertafter`/`insertbefore` pattern, when it is not `BOF`/`EOF`.
    pub insert_re: Option<PyRegex>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

/// What an edit produced, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub content: Vec<u8>,
    pub changed: bool,
    pub msg: String,
    /// Lines removed (`state=absent`).
    pub found: usize,
}

fn compile(pattern: &str) -> Result<PyRegex, String> {
    pyre::compile(pattern, Subject::Line, true)
}


fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(crate::args::to_bool).unwrap_or(false)
}

fn exclusive(args: &Args, a: &str, b: &str) -> Result<(), String> {
    let given = |k: &str| match args.get(k) {
        Some(Value::Bool(v)) => *v,
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    if given(a) && given(b) {
        return Err(format!("parameters are mutually exclusive: {a}|{b}"));
    }
    Ok(())
}

/// Read `state=present`'s arguments (Ansible's checks in `main()`).
pub fn present_params(args: &Args) -> Result<Present, String> {
    let regexp = text(args, "regexp");
    let search_string = text(args, "search_string");
    let backrefs = flag(args, "backrefs");
    if backrefs && regexp.is_none() {
        return Err("regexp is required with backrefs=true".into());
    }
    let Some(line) = text(args, "line") else {
        return Err("line is required with state=present".into());
    };
    let (mut insertafter, insertbefore) = (text(args, "insertafter"), text(args, "insertbefore"));
    if insertafter.is_none() && insertbefore.is_none() {
        insertafter = Some("EOF".into());
    }
    let insert_re = match (&insertafter, &insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(compile(a)?),
        (_, Some(b)) if b != "BOF" => Some(compile(b)?),
        _ => None,
    };
    let search = match (regexp, search_string) {
        (Some(r), _) => Search::Regexp(compile(&r)?),
        (None, Some(s)) => Search::Literal(s.into_bytes()),
        (None, None) => Search::None,
    };
    Ok(Present { search, line: line.into_bytes(), insertafter, insertbefore, insert_re, backrefs, firstmatch: flag(args, "firstmatch") })
}

fn rstrip_eol(l: &[u8]) -> &[u8] {
    let end = l.iter().rposition(|&b| b != b'\r' && b != b'\n').map_or(0, |i| i + 1);
    &l[..end]
}

fn with_eol(l: &[u8]) -> Vec<u8> {
    let mut v = l.to_vec();
    v.push(b'\n');
    v
}

/// `state=present`: Ansible's `present()`, on the file's content (empty for a file
/// about to be created).
pub fn present(content: &[u8], p: &Present) -> Result<Edited, String> {
    let mut lines = split_lines(content);
    let line = p.line.as_slice();
    // index0: the line the search (or an identical line) found; index1: where to insert.
    let mut index0: Option<usize> = None;
    let mut index1: Option<usize> = None;
    let mut matched = false;
    // 1. and 2.: is the regexp or the search string anywhere?
    for (n, l) in lines.iter().enumerate() {
        let found = match &p.search {
            Search::Regexp(r) => r.regex.is_match(l),
            Search::Literal(s) => contains(l, s),
            Search::None => false,
        };
        if found {
            index0 = Some(n);
            matched = true;
            if p.firstmatch {
                break;
            }
        }
    }
    // 3. Not found: look for the identical line, and for where to insert.
    if !matched {
        for (n, l) in lines.iter().enumerate() {
            if line == rstrip_eol(l) {
                index0 = Some(n);
            } else if p.insert_re.as_ref().is_some_and(|r| r.regex.is_match(l)) {
                if p.insertafter.is_some() {
                    index1 = Some(n + 1);
                } else {
                    index1 = Some(n);
                }
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    let mut msg = "";
    let after = p.insertafter.as_deref();
    let before = p.insertbefore.as_deref();
    if let Some(i0) = index0 {
        let mut new_line = match (&p.search, p.backrefs && matched) {
            (Search::Regexp(r), true) => {
                let template = Template::parse(&String::from_utf8_lossy(line), &r.regex)?;
                // Found above on this very line, so it matches again.
                r.regex.captures(&lines[i0]).map_or_else(|| line.to_vec(), |c| template.expand(&c))
            }
            _ => line.to_vec(),
        };
        if !new_line.ends_with(b"\n") {
            new_line.push(b'\n');
        }
        // Ansible has an insert branch here for "no regexp, no search string and no
        // identical line"; with index0 set one of those always holds, so it never runs.
        if lines[i0] != new_line {
            lines[i0] = new_line;
            msg = "line replaced";
        }
    } else if p.backrefs {
        // Nothing: the line cannot be built without a match to fill its backrefs.
    } else if before == Some("BOF") || after == Some("BOF") {
        lines.insert(0, with_eol(line));
        msg = "line added";
    } else if after == Some("EOF") || index1.is_none() {
        if lines.last().is_some_and(|l| !l.ends_with(b"\n") && !l.ends_with(b"\r")) {
            lines.push(b"\n".to_vec());
        }
        lines.push(with_eol(line));
        msg = "line added";
    } else if let (Some(_), Some(i1)) = (after, index1) {
        // Not again when the line is already right there.
        if lines.len() == i1 {
            if rstrip_eol(&lines[i1 - 1]) != line {
                lines.push(with_eol(line));
                msg = "line added";
            }
        } else if line != rstrip_eol(&lines[i1]) {
            lines.insert(i1, with_eol(line));
            msg = "line added";
        }
    } else if let Some(i1) = index1 {
        lines.insert(i1, with_eol(line));
        msg = "line added";
    }
    Ok(Edited { content: lines.concat(), changed: !msg.is_empty(), msg: msg.to_string(), found: 0 })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `state=absent`: Ansible's `absent()`. Lines matching `regexp`, containing
/// `search_string`, or else identical to `line`, are removed.
pub fn absent(content: &[u8], search: &Search, line: Option<&[u8]>) -> Edited {
    let lines = split_lines(content);
    let before = lines.len();
    let kept: Vec<Vec<u8>> = lines
        .into_iter()
        .filter(|l| {
            !match search {
                Search::Regexp(r) => r.regex.is_match(l),
                Search::Literal(s) => contains(l, s),
                Search::None => line.is_some_and(|x| x == rstrip_eol(l)),
            }
        })
        .collect();
    let found = before - kept.len();
    let msg = if found > 0 { format!("{found} line(s) removed") } else { String::new() };
    Edited { content: kept.concat(), changed: found > 0, msg, found }
}

/// Ansible's warning for an empty `regexp`/`search_string`.
fn empty_pattern_warning(args: &Args) -> Option<String> {
    let base = "which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending.";
    if text(args, "regexp").as_deref() == Some("") {
        Some(format!("The regular expression is an empty string, {base} If this is desired, use '^' to match every line in the file and avoid this warning."))
    } else if text(args, "search_string").as_deref() == Some("") {
        Some(format!("The search string is an empty string, {base}"))
    } else {
        None
    }
}

fn check_args(args: &Args) -> Result<(), String> {
    exclusive(args, "insertbefore", "insertafter")?;
    exclusive(args, "regexp", "search_string")?;
    exclusive(args, "backrefs", "search_string")
}


/// What to do with the file, decided from the arguments and the file's content.
fn decide(args: &Args, target: &Target) -> Result<Result<Edited, ModuleResult>, String> {
    let path = &target.path;
    if text(args, "state").as_deref() == Some("absent") {
        let (regexp, search_string, line) = (text(args, "regexp"), text(args, "search_string"), text(args, "line"));
        if regexp.is_none() && search_string.is_none() && line.is_none() {
            return Err("one of line, search_string, or regexp is required with state=absent".into());
        }
        let Some(content) = target.content() else {
            let mut r = ModuleResult::ok(false);
            r.set("msg", "file not present");
            return Ok(Err(r));
        };
        let search = match (regexp, search_string) {
            (Some(r), _) => Search::Regexp(compile(&r)?),
            (None, Some(s)) => Search::Literal(s.into_bytes()),
            (None, None) => Search::None,
        };
        return Ok(Ok(absent(content, &search, line.as_deref().map(str::as_bytes))));
    }
    let p = present_params(args)?;
    if !target.exists() && !flag(args, "create") {
        return Ok(Err(failed_rc(format!("Destination {path} does not exist !"), 257)));
    }
    present(target.content().unwrap_or_default(), &p).map(Ok)
}

#[async_trait]
impl Module for LineInFile {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        if let Err(e) = check_args(args) {
            return Ok(ModuleResult::failed(e));
        }
        let path = text(args, "path").unwrap_or_default();
        let target = textedit::read_for(ctx.remote, &path, &Attrs::from_args(args)).await?;
        let path = target.path.clone();
        if let Some(refused) = target.refuse_non_file() {
            return Ok(refused);
        }
        let edited = match decide(args, &target) {
            Ok(Ok(e)) => e,
            Ok(Err(r)) => return Ok(r),
            Err(msg) => return Ok(ModuleResult::failed(msg)),
        };
        let absent = text(args, "state").as_deref() == Some("absent");
        let before = target.content().unwrap_or_default();
        let opts = WriteOptions { attrs: Attrs::from_args(args), backup: flag(args, "backup"), validate: text(args, "validate") };
        let new = edited.changed.then_some(edited.content.as_slice());
        let done = match textedit::finish(ctx.remote, &target, new, &opts, ctx.check_mode).await {
            Ok(d) => d,
            Err(Failure::Module(m)) => return Ok(ModuleResult::failed(m)),
            Err(Failure::Remote(e)) => return Err(e),
        };
        let mut r = ModuleResult::ok(edited.changed || done.attrs_changed);
        r.set("msg", if done.attrs_changed { textedit::attrs_message(&edited.msg, edited.changed) } else { edited.msg.clone() });
        r.set("backup", done.backup.unwrap_or_default());
        if absent {
            r.set("found", edited.found);
        }
        if ctx.diff {
            let header = format!("{path} (content)");
            r.set("diff", textedit::diff(before, &edited.content, &header, &header));
        }
        if let Some(w) = empty_pattern_warning(args) {
            r.set("warnings", vec![Value::String(w)]);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
