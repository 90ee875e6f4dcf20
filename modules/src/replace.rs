//! `replace`: replace every match of a regular expression in a file, optionally only
//! between an `after` and a `before` pattern.
//!
//! One round trip reads the file with its content; the substitution is computed here as
//! Ansible's `replace.py` does it (`re.subn` with MULTILINE, the section found with
//! DOTALL), using [`crate::util::pyre`] for Python's pattern and template syntax; a
//! second round trip writes the result atomically, only when it changed.

use async_trait::async_trait;

use crate::args::{ArgSpec, ArgType};
use crate::util::pyre::{self, Subject, Template};
use crate::util::textedit::{self, failed_rc, Failure, WriteOptions};
use crate::util::Attrs;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

pub struct Replace;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("path", ArgType::Path, "The file to modify.").required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new(
        "regexp",
        ArgType::Str,
        "The Python regular expression to look for, in MULTILINE mode (`^`/`$` match at every line). Look-around and backreferences in the pattern are not supported.",
    )
    .required(),
    ArgSpec::new("replace", ArgType::Str, "The replacement for every match; may use `\\1`, `\\g<1>` and `\\g<name>`. Empty (the default) removes the matches.").default(""),
    ArgSpec::new("after", ArgType::Str, "Only replace after the first match of this regular expression (DOTALL)."),
    ArgSpec::new("before", ArgType::Str, "Only replace before the match of this regular expression (DOTALL); with `after`, the nearest one after it."),
    ArgSpec::new("backup", ArgType::Bool, "Keep a copy of the old file, named with a timestamp, when the file changes.").default("no"),
    ArgSpec::new("validate", ArgType::Str, "A command run on the new content (`%s` is its path) before it replaces the file; the file is left alone if it fails."),
    ArgSpec::new("encoding", ArgType::Str, "The file's character encoding: `utf-8` (the default), `ascii` or `latin-1`.").default("utf-8"),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "replace",
    short: "Replace all instances of a particular string in a file using a back-referenced regular expression",
    description: "Replaces every match of `regexp` in a file by `replace`, which may refer to the match's groups. \
`^` and `$` match at every line (MULTILINE). `after`/`before` limit the replacement to a section of the file. The \
file is read in one round trip and, only when it changes, written back atomically in a second one. Symlinks are \
followed. Check mode and diff mode are supported.",
    args: ARGS,
    free_form: false,
    examples: r#"- name: Replace old hostname with new hostname
  ansible.builtin.replace:
    path: /etc/hosts
    regexp: '(\s+)old\.host\.name(\s+.*)?$'
    replace: '\1new.host.name\2'

- name: Comment out everything after the expression till the end of the file
  ansible.builtin.replace:
    path: /etc/apache2/sites-available/default.conf
    after: 'NameVirtualHost [*]'
    regexp: '^(.+)$'
    replace: '# \1'

- name: Replace between the expressions ((?m) makes ^ match any line's beginning)
  ansible.builtin.replace:
    path: /etc/hosts
    after: '(?m)^<VirtualHost [*]>'
    before: '</VirtualHost>'
    regexp: '^(.+)$'
    replace: '# \1'

- name: Explicitly specifying named matched groups
  ansible.builtin.replace:
    path: /etc/ssh/sshd_config
    regexp: '^(?P<dctv>ListenAddress[ ]+)(?P<host>[^\n]+)$'
    replace: '#\g<dctv>\g<host>\n\g<dctv>0.0.0.0'

- name: Supports a validate command
  ansible.builtin.replace:
    path: /etc/apache/ports
    regexp: '^(NameVirtualHost|Listen)\s+80\s*$'
    replace: '\1 127.0.0.1:8080'
    validate: '/usr/sbin/apache2ctl -f %s -t'
"#,
    returns: &[
        ("changed", "whether the file changed (content, or mode/owner/group)"),
        ("msg", "`N replacements made`, `Pattern for before/after params did not match the given file: ...`, or empty; `... and ownership, perms or SE linux context changed`"),
        ("rc", "0"),
        ("backup_file", "the backup file's name, when `backup` made one"),
        ("diff", "with `--diff` and a change: `before`, `after`, `before_header`, `after_header` (the whole file)"),
    ],
};


fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(crate::args::to_bool).unwrap_or(false)
}

/// What [`substitute`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New content and the number of replacements.
    Replaced(Vec<u8>, usize),
    /// Nothing to replace (or the replacements change nothing).
    Unchanged,
    /// `after`/`before` did not match: Ansible's message, with the pattern it built.
    NoSection(String),
}

/// Ansible's substitution on `contents` (UTF-8 text): the section between `after` and
/// `before` (DOTALL), then `re.subn(regexp, replace, section)` with MULTILINE.
pub fn substitute(contents: &[u8], regexp: &str, replace: &str, after: Option<&str>, before: Option<&str>) -> Result<Outcome, String> {
    let (after, before) = (after.filter(|a| !a.is_empty()), before.filter(|b| !b.is_empty()));
    let pattern = match (after, before) {
        (Some(a), Some(b)) => format!("{a}(?P<subsection>.*?){b}"),
        (Some(a), None) => format!("{a}(?P<subsection>.*)"),
        (None, Some(b)) => format!("(?P<subsection>.*){b}"),
        (None, None) => String::new(),
    };
    let section = if pattern.is_empty() {
        0..contents.len()
    } else {
        let re = pyre::compile(&format!("(?s){pattern}"), Subject::Text, false)?;
        let Some(m) = re.regex.captures(contents).and_then(|c| c.name("subsection")) else {
            return Ok(Outcome::NoSection(format!("Pattern for before/after params did not match the given file: {pattern}")));
        };
        m.range()
    };
    let re = pyre::compile(regexp, Subject::Multiline, false)?;
    let template = Template::parse(replace, &re.regex).map_err(|e| format!("Unable to process replace due to error: {e}"))?;
    let old = &contents[section.clone()];
    let (new, count) = pyre::subn(&re.regex, &template, old);
    if count == 0 || new == old {
        return Ok(Outcome::Unchanged);
    }
    let mut out = contents[..section.start].to_vec();
    out.extend_from_slice(&new);
    out.extend_from_slice(&contents[section.end..]);
    Ok(Outcome::Replaced(out, count))
}

/// The file's bytes as UTF-8 (the regular expressions work on UTF-8), and back.
fn decode(bytes: &[u8], encoding: &str) -> Result<Vec<u8>, String> {
    match encoding_kind(encoding)? {
        Encoding::Utf8 => Ok(bytes.to_vec()),
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect::<String>().into_bytes()),
    }
}

fn encode(text: &[u8], encoding: &str) -> Result<Vec<u8>, String> {
    match encoding_kind(encoding)? {
        Encoding::Utf8 => Ok(text.to_vec()),
        Encoding::Latin1 => String::from_utf8_lossy(text)
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("cannot encode {c:?} in {encoding}")))
            .collect(),
    }
}

enum Encoding {
    Utf8,
    Latin1,
}

fn encoding_kind(encoding: &str) -> Result<Encoding, String> {
    match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" | "ascii" | "us-ascii" => Ok(Encoding::Utf8),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => Ok(Encoding::Latin1),
        _ => Err(format!("encoding `{encoding}` is not supported (use utf-8, ascii or latin-1)")),
    }
}


#[async_trait]
impl Module for Replace {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let path = text(args, "path").unwrap_or_default();
        let encoding = text(args, "encoding").unwrap_or_else(|| "utf-8".into());
        if let Err(e) = encoding_kind(&encoding) {
            return Ok(ModuleResult::failed(e));
        }
        let target = textedit::read_for(ctx.remote, &path, &Attrs::from_args(args)).await?;
        let path = target.path.clone();
        if let Some(refused) = target.refuse_non_file() {
            return Ok(refused);
        }
        let Some(raw) = target.content() else {
            return Ok(failed_rc(format!("Path {path} does not exist !"), 257));
        };
        let contents = match decode(raw, &encoding) {
            Ok(c) => c,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let regexp = text(args, "regexp").unwrap_or_default();
        let replace = text(args, "replace").unwrap_or_default();
        let outcome = match substitute(&contents, &regexp, &replace, text(args, "after").as_deref(), text(args, "before").as_deref()) {
            Ok(o) => o,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let (new, msg) = match outcome {
            Outcome::NoSection(msg) => {
                let mut r = ModuleResult::ok(false);
                r.set("rc", 0);
                r.set("msg", msg);
                return Ok(r);
            }
            Outcome::Unchanged => (None, String::new()),
            Outcome::Replaced(new, n) => match encode(&new, &encoding) {
                Ok(bytes) => (Some((new, bytes)), format!("{n} replacements made")),
                Err(e) => return Ok(ModuleResult::failed(e)),
            },
        };
        let changed = new.is_some();
        let opts = WriteOptions { attrs: Attrs::from_args(args), backup: flag(args, "backup"), validate: text(args, "validate") };
        let done = match textedit::finish(ctx.remote, &target, new.as_ref().map(|(_, b)| b.as_slice()), &opts, ctx.check_mode).await {
            Ok(d) => d,
            Err(Failure::Module(m)) => return Ok(ModuleResult::failed(m)),
            Err(Failure::Remote(e)) => return Err(e),
        };
        let mut r = ModuleResult::ok(changed || done.attrs_changed);
        r.set("rc", 0);
        r.set("msg", if done.attrs_changed { textedit::attrs_message(&msg, changed) } else { msg });
        if let Some(b) = done.backup {
            r.set("backup_file", b);
        }
        if let (true, Some((text_after, _))) = (ctx.diff, &new) {
            r.set("diff", textedit::diff(&contents, text_after, &path, &path));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
