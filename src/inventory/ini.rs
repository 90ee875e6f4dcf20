//! INI inventories, read as Ansible's `ini` inventory plugin reads them.
//!
//! ```ini
//! solo ansible_host=10.0.0.9       # before any section: ungrouped
//! [web]
//! web[01:03].example.com http_port=8080 ansible_port=2222
//! db1:2222                         # host:port sets ansible_port
//! [web:vars]
//! proxy=proxy.example.com
//! [prod:children]
//! web
//! ```
//!
//! A host line is split like a POSIX shell line (Python's `shlex.split` with comments):
//! quotes group words and are removed, `#` starts a comment. Every value, inline or in a
//! `[g:vars]` section, is typed by [`parse_value`] (Python literals, else text). A section
//! `[g:vars]` or a child in `[g:children]` may name a group that is declared later in the
//! file; one that is never declared is an error. Lines starting with `#` or `;` are
//! comments.

use std::path::Path;
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use super::pyliteral::parse_value;
use super::{group_index, ranges, suggest, Inventory, UNGROUPED};
use crate::diag::{did_you_mean, Diagnostic};

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("static regex"));
static GROUP_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("static regex"));

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Hosts,
    Children,
    Vars,
}

/// A group named before it is declared, waiting for its `[g]` or `[g:children]`.
struct Pending {
    line: usize,
    state: State,
    /// For a pending child: the groups whose `[p:children]` named it.
    parents: Vec<usize>,
}

/// Parse one INI inventory file into `inv`.
pub(super) fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), Diagnostic> {
    let mut parser = IniParser { inv, text, path, pending: IndexMap::new() };
    parser.run()
}

struct IniParser<'a> {
    inv: &'a mut Inventory,
    text: &'a str,
    path: &'a Path,
    /// Pending declarations by group name, in the order first seen.
    pending: IndexMap<String, Pending>,
}

impl IniParser<'_> {
    fn error(&self, message: impl Into<String>, line: usize, column: usize) -> Diagnostic {
        Diagnostic::new(message).at(self.path, line, column, Some(self.text))
    }

    fn run(&mut self) -> Result<(), Diagnostic> {
        let mut group = UNGROUPED;
        let mut group_name = "ungrouped".to_string();
        let mut state = State::Hosts;
        for (index, raw) in self.text.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            // Column (1-based, in characters) where the trimmed line starts.
            let indent = raw[..raw.len() - raw.trim_start().len()].chars().count();
            if let Some(c) = SECTION.captures(line) {
                let name = c[1].to_string();
                let kind = c.get(2).map(|m| m.as_str());
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("children") => State::Children,
                    Some("vars") => State::Vars,
                    Some(other) => {
                        let column = indent + line.find(':').map_or(1, |i| line[..i].chars().count() + 2);
                        let mut d = self.error(format!("unknown section type `{other}` in `{line}`"), number, column);
                        d = match did_you_mean(other, ["hosts", "children", "vars"]) {
                            Some(s) => d.with_help(format!("did you mean `[{name}:{s}]`?")),
                            None => d.with_help(format!(
                                "a section is `[{name}]` (hosts), `[{name}:children]` or `[{name}:vars]`"
                            )),
                        };
                        return Err(d);
                    }
                };
                self.declare_section(&name, state, number)?;
                group = group_index(self.inv, &name).unwrap_or(UNGROUPED);
                group_name = name;
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                return Err(self.error(format!("invalid section header `{line}`"), number, indent + 1).with_help(
                    "write `[name]`, `[name:vars]` or `[name:children]`; group names cannot contain spaces, `:` or `]`",
                ));
            }
            match state {
                State::Hosts => self.host_line(line, number, indent, group)?,
                State::Vars => {
                    let Some((key, value)) = line.split_once('=') else {
                        return Err(self
                            .error(
                                format!("expected `key=value` in `[{group_name}:vars]`, found `{line}`"),
                                number,
                                indent + 1,
                            )
                            .with_help("each line of a `:vars` section sets one variable, as `name=value`"));
                    };
                    let value = parse_value(value.trim());
                    self.inv.set_group_var(group, key.trim(), value).map_err(|m| self.error(m, number, indent + 1))?;
                }
                State::Children => {
                    let Some(c) = GROUP_NAME.captures(line) else {
                        return Err(self
                            .error(
                                format!("expected a group name in `[{group_name}:children]`, found `{line}`"),
                                number,
                                indent + 1,
                            )
                            .with_help("list one child group per line"));
                    };
                    let child = c[1].to_string();
                    match group_index(self.inv, &child) {
                        Some(child_id) => {
                            self.inv.add_child(group, child_id).map_err(|m| self.error(m, number, indent + 1))?
                        }
                        None => {
                            let entry = self.pending.entry(child.clone()).or_insert(Pending {
                                line: number,
                                state: State::Children,
                                parents: Vec::new(),
                            });
                            entry.parents.push(group);
                        }
                    }
                }
            }
        }
        self.check_pending()
    }

    /// A `[name]`, `[name:children]` or `[name:vars]` header.
    fn declare_section(&mut self, name: &str, state: State, line: usize) -> Result<(), Diagnostic> {
        if group_index(self.inv, name).is_none() {
            // `[g:vars]` alone does not declare `g`; remember to check it is declared.
            if state == State::Vars && !self.pending.contains_key(name) {
                self.pending.insert(name.to_string(), Pending { line, state, parents: Vec::new() });
            }
            self.inv.add_group(name);
        }
        if state != State::Vars {
            if let Some(p) = self.pending.get(name) {
                match p.state {
                    State::Children => self.add_pending_children(name, line)?,
                    _ => {
                        self.pending.shift_remove(name);
                    }
                }
            }
        }
        Ok(())
    }

    fn add_pending_children(&mut self, name: &str, line: usize) -> Result<(), Diagnostic> {
        let Some(pending) = self.pending.shift_remove(name) else {
            return Ok(());
        };
        let child = self.inv.add_group(name);
        for parent in pending.parents {
            self.inv.add_child(parent, child).map_err(|m| self.error(m, line, 1))?;
            let parent_name = self.inv.groups[parent].name.clone();
            if self.pending.get(&parent_name).is_some_and(|p| p.state == State::Children) {
                self.add_pending_children(&parent_name, line)?;
            }
        }
        Ok(())
    }

    /// Groups named but never declared: Ansible reports the first.
    fn check_pending(&self) -> Result<(), Diagnostic> {
        let Some((name, p)) = self.pending.first() else {
            return Ok(());
        };
        let declared = self.inv.groups.keys().filter(|g| !self.pending.contains_key(g.as_str())).map(String::as_str);
        let hint = suggest(name, declared);
        let d = match p.state {
            State::Vars => self
                .error(format!("`[{name}:vars]` sets variables of group `{name}`, which is not defined"), p.line, 1)
                .with_help(match hint {
                    Some(h) => format!("did you mean `[{h}:vars]`?"),
                    None => format!("declare the group with a `[{name}]` or `[{name}:children]` section"),
                }),
            _ => {
                let parent = p.parents.last().map(|g| self.inv.groups[*g].name.clone()).unwrap_or_default();
                self.error(format!("`[{parent}:children]` names group `{name}`, which is not defined"), p.line, 1)
                    .with_help(match hint {
                        Some(h) => format!("did you mean `{h}`?"),
                        None => format!("declare the group with a `[{name}]` section, even an empty one"),
                    })
            }
        };
        Err(d)
    }

    /// `name[range][:port] key=value ...` in a hosts section.
    fn host_line(&mut self, line: &str, number: usize, indent: usize, group: usize) -> Result<(), Diagnostic> {
        let tokens = shlex_split(line).map_err(|m| {
            self.error(format!("cannot parse host line: {m}"), number, indent + 1)
                .with_help("quote values that contain spaces, and close every quote")
        })?;
        let Some((pattern, _)) = tokens.first() else {
            return Ok(());
        };
        let column = indent + 1;
        let (names, port) = ranges::expand_hostpattern(pattern).map_err(|m| {
            self.error(format!("invalid host range in `{pattern}`: {m}"), number, column)
                .with_help("ranges are `[01:20]`, `[a:f]` or `[1:20:2]` (begin:end:step, end included)")
        })?;
        if pattern.trim().ends_with(':') && port.is_none() {
            return Err(self
                .error(format!("invalid host `{pattern}`: a trailing `:` must be followed by a port"), number, column)
                .with_help("write `host:2222`, or set `ansible_port=2222`"));
        }
        if names.iter().any(|n| n.trim() == "---") {
            return Err(self
                .error("`---` is not a host name; this looks like a YAML file read as INI", number, column)
                .with_help("give YAML inventories a `.yml` or `.yaml` extension"));
        }
        let mut vars = Vec::with_capacity(tokens.len() - 1);
        for (token, offset) in &tokens[1..] {
            let Some((key, value)) = token.split_once('=') else {
                return Err(self
                    .error(
                        format!("expected `key=value` after the host name, found `{token}`"),
                        number,
                        indent + offset + 1,
                    )
                    .with_help("host variables are `name=value`; quote a value that contains spaces"));
            };
            vars.push((key.to_string(), parse_value(value)));
        }
        let source = self.path.to_path_buf();
        for name in names {
            let id = self.inv.insert_host(&name, Some(group), port, Some(&source));
            for (k, v) in &vars {
                self.inv.set_host_var(id, k, v.clone());
            }
        }
        Ok(())
    }
}

/// Python's `shlex.split(line, comments=True)` (POSIX mode), with the character offset
/// where each token starts.
pub(super) fn shlex_split(line: &str) -> Result<Vec<(String, usize)>, String> {
    #[derive(PartialEq, Clone, Copy)]
    enum S {
        Space,
        Word,
        Quote(char),
        Escape(char), // the state to return to: 'a' (word) or the quote char
    }
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut start = 0;
    let mut state = S::Space;
    let mut i = 0;
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    loop {
        let c = chars.get(i).copied();
        match state {
            S::Space => match c {
                None => break,
                Some(c) if is_space(c) => {}
                Some('#') => break,
                Some('\\') => {
                    start = i;
                    state = S::Escape('a');
                }
                Some(q @ ('\'' | '"')) => {
                    start = i;
                    state = S::Quote(q);
                }
                Some(c) => {
                    start = i;
                    token.push(c);
                    state = S::Word;
                }
            },
            S::Word => match c {
                None => break,
                Some(c) if is_space(c) => {
                    tokens.push((std::mem::take(&mut token), start));
                    quoted = false;
                    state = S::Space;
                }
                Some('#') => break,
                Some(q @ ('\'' | '"')) => state = S::Quote(q),
                Some('\\') => state = S::Escape('a'),
                Some(c) => token.push(c),
            },
            S::Quote(q) => {
                quoted = true;
                match c {
                    None => return Err("no closing quotation".to_string()),
                    Some(c) if c == q => state = S::Word,
                    Some('\\') if q == '"' => state = S::Escape(q),
                    Some(c) => token.push(c),
                }
            }
            S::Escape(back) => {
                let Some(c) = c else {
                    return Err("no escaped character".to_string());
                };
                // Inside double quotes only `"` and `\` are escaped; the backslash stays.
                if back != 'a' && c != '\\' && c != back {
                    token.push('\\');
                }
                token.push(c);
                state = if back == 'a' { S::Word } else { S::Quote(back) };
            }
        }
        i += 1;
    }
    if !token.is_empty() || quoted {
        tokens.push((token, start));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        shlex_split(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn shlex_like_python() {
        assert_eq!(split(r#"h1 a=1 s="hi there" q='05'"#), ["h1", "a=1", "s=hi there", "q=05"]);
        assert_eq!(split("h1 x=ab#c y=2"), ["h1", "x=ab"]);
        assert_eq!(split(r#"h1 m="'03#pa'""#), ["h1", "m='03#pa'"]);
        assert_eq!(split(r#"h1 e="" z=a\ b"#), ["h1", "e=", "z=a b"]);
        assert_eq!(split(r#"h1 d="a\"b\n""#), ["h1", "d=a\"b\\n"]);
        assert!(shlex_split("h1 x='open").is_err());
        assert_eq!(shlex_split("  h1   x=1").unwrap()[1], ("x=1".to_string(), 7));
    }
}
