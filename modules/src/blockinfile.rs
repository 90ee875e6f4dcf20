//! `blockinfile`: insert, update or remove a block of lines between marker lines.
//!
//! One round trip reads the file with its content; the new content is computed here as
//! Ansible's `blockinfile.py` does ([`edit`]); a second round trip writes it atomically,
//! only when it changed. `insertafter`/`insertbefore` are Python regular expressions
//! (see [`crate::util::pyre`]); one that starts with `(?m)` is searched in the whole
//! file, as in Ansible.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{ArgSpec, ArgType};
use crate::util::pyre::{self, PyRegex, Subject, Template};
use crate::util::textedit::{self, failed_rc, Failure, WriteOptions};
use crate::util::Attrs;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct BlockInFile;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new("path", ArgType::Path, "The file to modify.").required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new("state", ArgType::Str, "Whether the block should be there or not.").default("present").choices(&["absent", "present"]),
    ArgSpec::new("marker", ArgType::Str, "The marker line template; `{mark}` becomes `marker_begin` or `marker_end`.").default("# {mark} ANSIBLE MANAGED BLOCK"),
    ArgSpec::new("block", ArgType::Str, "The text to put between the markers. Empty (the default) removes the block and its markers.").default("").aliases(&["content"]),
    ArgSpec::new(
        "insertafter",
        ArgType::Str,
        "Where a new block goes: after the last line matching this regular expression, or `EOF` (the default). A pattern starting with `(?m)` is searched in the whole file.",
    ),
    ArgSpec::new("insertbefore", ArgType::Str, "Where a new block goes: before the last line matching this regular expression, or `BOF`."),
    ArgSpec::new("create", ArgType::Bool, "Create the file (and its parent directories) when it does not exist; otherwise that is an error.").default("no"),
    ArgSpec::new("backup", ArgType::Bool, "Keep a copy of the old file, named with a timestamp, when the file changes.").default("no"),
    ArgSpec::new("validate", ArgType::Str, "A command run on the new content (`%s` is its path) before it replaces the file; the file is left alone if it fails."),
    ArgSpec::new("marker_begin", ArgType::Str, "What `{mark}` becomes in the first marker line.").default("BEGIN"),
    ArgSpec::new("marker_end", ArgType::Str, "What `{mark}` becomes in the last marker line.").default("END"),
    ArgSpec::new("append_newline", ArgType::Bool, "Add a blank line after the block unless one is already there (or the block ends the file).").default("no"),
    ArgSpec::new("prepend_newline", ArgType::Bool, "Add a blank line before the block unless one is already there (or the block starts the file).").default("no"),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "blockinfile",
    short: "Insert/update/remove a text block surrounded by marker lines",
    description: "Inserts, updates or removes a block of lines in a file, between two marker lines that name it \
(`# BEGIN ANSIBLE MANAGED BLOCK` ... `# END ANSIBLE MANAGED BLOCK` by default). Give each block in a file its own \
`marker`. The file is read in one round trip and, only when it changes, written back atomically in a second one. \
Symlinks are followed. Check mode and diff mode are supported.",
    args: ARGS,
    free_form: false,
    examples: r##"- name: Insert/Update "Match User" configuration block in /etc/ssh/sshd_config
  ansible.builtin.blockinfile:
    path: /etc/ssh/sshd_config
    append_newline: true
    prepend_newline: true
    block: |
      Match User ansible-agent
      PasswordAuthentication no

- name: Insert/Update HTML surrounded by custom markers after <body> line
  ansible.builtin.blockinfile:
    path: /var/www/html/index.html
    marker: "<!-- {mark} ANSIBLE MANAGED BLOCK -->"
    insertafter: "<body>"
    block: |
      <h1>Welcome to {{ ansible_hostname }}</h1>

- name: Remove HTML as well as surrounding markers
  ansible.builtin.blockinfile:
    path: /var/www/html/index.html
    marker: "<!-- {mark} ANSIBLE MANAGED BLOCK -->"
    block: ""

- name: Add mappings to /etc/hosts
  ansible.builtin.blockinfile:
    path: /etc/hosts
    block: |
      {{ item.ip }} {{ item.name }}
    marker: "# {mark} ANSIBLE MANAGED BLOCK {{ item.name }}"
  loop:
    - { name: host1, ip: 10.10.1.10 }
    - { name: host2, ip: 10.10.1.11 }

- name: Insert/Update configuration and validate it
  ansible.builtin.blockinfile:
    path: /etc/ssh/sshd_config
    block: "{{ lookup('ansible.builtin.file', './local/sshd_config') }}"
    backup: yes
    validate: /usr/sbin/sshd -T -f %s
"##,
    returns: &[
        ("changed", "whether the file changed (content, or mode/owner/group)"),
        ("msg", "`Block inserted`, `Block removed`, `File created`, `File PATH not present`, or empty; `... and ownership, perms or SE linux context changed`"),
        ("backup_file", "the backup file's name, when `backup` made one"),
        ("diff", "with `--diff`: `before`, `after`, `before_header`, `after_header` (the whole file)"),
    ],
};

/// The block to put in (or take out), arguments read and patterns compiled.
pub struct Block {
    pub marker_begin: Vec<u8>,
    pub marker_end: Vec<u8>,
    /// The markers and the block's lines; empty to remove the block.
    pub lines: Vec<Vec<u8>>,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub insert_re: Option<PyRegex>,
    pub present: bool,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

fn text(args: &Args, key: &str) -> Option<String> {
    match args.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(v) => Some(v.to_string()),
    }
}

fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(crate::args::to_bool).unwrap_or(false)
}

/// `re.sub('{mark}', begin_or_end, marker)`: the replacement is a Python template.
fn marker_line(marker: &str, mark: &str) -> Result<Vec<u8>, String> {
    let re = pyre::compile(r"\{mark\}", Subject::Line, true)?;
    let t = Template::parse(mark, &re.regex)?;
    let (mut line, _) = pyre::subn(&re.regex, &t, marker.as_bytes());
    line.push(b'\n');
    Ok(line)
}

/// Python's `bytes.splitlines(True)`: lines end at `\n`, `\r\n` or `\r`.
pub fn splitlines(content: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < content.len() {
        let end = match content[i] {
            b'\n' => i + 1,
            b'\r' if content.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(content[start..end].to_vec());
        start = end;
        i = end;
    }
    if start < content.len() {
        out.push(content[start..].to_vec());
    }
    out
}

/// Read the arguments (Ansible's `main()` up to the edit).
pub fn block_params(args: &Args) -> Result<Block, String> {
    if text(args, "insertafter").is_some() && text(args, "insertbefore").is_some() {
        return Err("parameters are mutually exclusive: insertbefore|insertafter".into());
    }
    let present = text(args, "state").as_deref() != Some("absent");
    let marker = text(args, "marker").unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
    let marker_begin = marker_line(&marker, &text(args, "marker_begin").unwrap_or_else(|| "BEGIN".into()))?;
    let marker_end = marker_line(&marker, &text(args, "marker_end").unwrap_or_else(|| "END".into()))?;
    let mut block = text(args, "block").unwrap_or_default().into_bytes();
    let lines = if present && !block.is_empty() {
        if !block.ends_with(b"\n") {
            block.push(b'\n');
        }
        let mut l = vec![marker_begin.clone()];
        l.extend(splitlines(&block));
        l.push(marker_end.clone());
        l
    } else {
        vec![]
    };
    let (mut insertafter, insertbefore) = (text(args, "insertafter"), text(args, "insertbefore"));
    if insertafter.is_none() && insertbefore.is_none() {
        insertafter = Some("EOF".into());
    }
    let insert_re = match (&insertafter, &insertbefore) {
        (Some(a), _) if a != "EOF" => Some(pyre::compile(a, Subject::Line, true)?),
        (_, Some(b)) if b != "BOF" => Some(pyre::compile(b, Subject::Line, true)?),
        _ => None,
    };
    Ok(Block {
        marker_begin,
        marker_end,
        lines,
        insertafter,
        insertbefore,
        insert_re,
        present,
        append_newline: flag(args, "append_newline"),
        prepend_newline: flag(args, "prepend_newline"),
    })
}

/// The new content: Ansible's edit, on the old content (`None`: no file yet).
pub fn edit(original: Option<&[u8]>, b: &Block) -> Vec<u8> {
    let mut lines = splitlines(original.unwrap_or_default());
    let (mut n0, mut n1) = (None, None);
    for (i, l) in lines.iter().enumerate() {
        if *l == b.marker_begin {
            n0 = Some(i);
        }
        if *l == b.marker_end {
            n1 = Some(i);
        }
    }
    let mut at = match (n0, n1) {
        (Some(s), Some(e)) if s < e => {
            lines.drain(s..=e);
            s
        }
        (Some(s), Some(e)) => {
            lines.drain(e..=s);
            e
        }
        _ => match &b.insert_re {
            Some(re) => {
                let mut found = None;
                if re.inline_multiline {
                    let text = original.unwrap_or_default();
                    if let Some(m) = re.regex.find(text) {
                        let upto = if b.insertafter.is_some() { m.end() } else { m.start() };
                        found = Some(text[..upto].iter().filter(|&&c| c == b'\n').count());
                    }
                } else {
                    for (i, l) in lines.iter().enumerate() {
                        if re.regex.is_match(l) {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if b.insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            }
            None if b.insertbefore.is_some() => 0,
            None => lines.len(),
        },
    };
    // Python would fail on an index past the end here; the end of the file is meant.
    at = at.min(lines.len());
    if at > 0 && !lines[at - 1].ends_with(b"\n") {
        lines[at - 1].push(b'\n');
    }
    if b.prepend_newline && b.present && at != 0 && lines[at - 1] != b"\n" {
        lines.insert(at, b"\n".to_vec());
        at += 1;
    }
    let count = b.lines.len();
    lines.splice(at..at, b.lines.iter().cloned());
    if b.append_newline && b.present {
        let after = at + count;
        if after < lines.len() && lines[after] != b"\n" {
            lines.insert(after, b"\n".to_vec());
        }
    }
    lines.concat()
}


#[async_trait]
impl Module for BlockInFile {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let block = match block_params(args) {
            Ok(b) => b,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let path = text(args, "path").unwrap_or_default();
        let target = textedit::read_for(ctx.remote, &path, &Attrs::from_args(args)).await?;
        let path = target.path.clone();
        if let Some(refused) = target.refuse_non_file() {
            return Ok(refused);
        }
        if !target.exists() {
            if !flag(args, "create") {
                return Ok(failed_rc(format!("Path {path} does not exist !"), 257));
            }
            if !block.present {
                let mut r = ModuleResult::ok(false);
                r.set("msg", format!("File {path} not present"));
                return Ok(r);
            }
        }
        let original = target.content();
        let result = edit(original, &block);
        let (changed, msg) = match original {
            Some(o) if o == result.as_slice() => (false, ""),
            None => (true, "File created"),
            Some(_) if block.lines.is_empty() => (true, "Block removed"),
            Some(_) => (true, "Block inserted"),
        };
        let opts = WriteOptions { attrs: Attrs::from_args(args), backup: flag(args, "backup"), validate: text(args, "validate") };
        let done = match textedit::finish(ctx.remote, &target, changed.then_some(result.as_slice()), &opts, ctx.check_mode).await {
            Ok(d) => d,
            Err(Failure::Module(m)) => return Ok(ModuleResult::failed(m)),
            Err(Failure::Remote(e)) => return Err(e),
        };
        let mut r = ModuleResult::ok(changed || done.attrs_changed);
        r.set("msg", if done.attrs_changed { textedit::attrs_message(msg, changed) } else { msg.to_string() });
        if let Some(b) = done.backup {
            r.set("backup_file", b);
        }
        if ctx.diff {
            let header = format!("{path} (content)");
            r.set("diff", textedit::diff(original.unwrap_or_default(), &result, &header, &header));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
