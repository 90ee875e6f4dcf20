//! YAML text as PyYAML's `yaml.dump(data, default_flow_style=False)` writes it, for
//! `ansible-inventory --list --yaml`.
//!
//! Block mappings with sorted keys (the caller sorts), sequences inside a mapping not
//! indented, `{}`/`[]` for empty collections, plain scalars when they read back as the
//! same string under YAML 1.1 (else single quotes, or double quotes for control
//! characters), long scalars folded at single spaces past column 80, and vaulted values
//! (`{"__ansible_vault": ...}`) as `!vault |` blocks, as Ansible's dumper writes them.
//! Checked line for line against PyYAML 6 on the fixtures and on odd strings. Not done:
//! anchors and aliases for values shared between hosts (we repeat the value).

use serde_json::{Map, Value};

use super::output::py_float;

const BEST_WIDTH: usize = 80;

/// A YAML document for `value`, as `yaml.dump(value, default_flow_style=False)`.
pub fn to_yaml(value: &Value) -> String {
    let mut e = Emitter { out: String::new(), column: 0 };
    match value {
        Value::Object(m) if !m.is_empty() => e.mapping(m, 0),
        Value::Array(a) if !a.is_empty() => e.sequence(a, 0),
        other => {
            let text = e.inline(other, 0);
            e.write(&text);
            e.newline();
        }
    }
    e.out
}

struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(i) => self.column = s[i + 1..].chars().count(),
            None => self.column += s.chars().count(),
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// A block mapping whose keys start at `indent` (the first key on the current line
    /// when the cursor is already there).
    fn mapping(&mut self, m: &Map<String, Value>, indent: usize) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || self.column == 0 {
                self.pad_to(indent);
            }
            let key = yaml_string(k, indent, self.column, true);
            self.write(&key);
            self.write(":");
            self.value(v, indent);
        }
    }

    fn pad_to(&mut self, indent: usize) {
        if self.column != 0 {
            self.newline();
        }
        self.write(&" ".repeat(indent));
    }

    /// The value after `key:` in a mapping at `indent`.
    fn value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Object(m) if !m.is_empty() && !is_vault(v) => {
                self.newline();
                self.mapping(m, indent + 2);
            }
            // PyYAML writes a sequence in a mapping without extra indentation.
            Value::Array(a) if !a.is_empty() => {
                self.newline();
                self.sequence(a, indent);
            }
            other => {
                self.write(" ");
                let text = self.inline(other, indent + 2);
                self.write(&text);
                self.newline();
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize) {
        for item in items {
            self.pad_to(indent);
            self.write("-");
            match item {
                Value::Object(m) if !m.is_empty() && !is_vault(item) => {
                    self.write(" ");
                    self.mapping(m, indent + 2);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.write(" ");
                    self.sequence_inline_first(a, indent + 2);
                }
                other => {
                    self.write(" ");
                    let text = self.inline(other, indent + 2);
                    self.write(&text);
                    self.newline();
                }
            }
        }
    }

    /// A nested sequence whose first item goes on the current line (`- - a`).
    fn sequence_inline_first(&mut self, items: &[Value], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.pad_to(indent);
            }
            self.write("-");
            match item {
                Value::Object(m) if !m.is_empty() && !is_vault(item) => {
                    self.write(" ");
                    self.mapping(m, indent + 2);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.write(" ");
                    self.sequence_inline_first(a, indent + 2);
                }
                other => {
                    self.write(" ");
                    let text = self.inline(other, indent + 2);
                    self.write(&text);
                    self.newline();
                }
            }
        }
    }

    /// A scalar, empty collection or vaulted value, written where the cursor is.
    fn inline(&self, v: &Value, indent: usize) -> String {
        match v {
            Value::Object(m) if m.is_empty() => "{}".to_string(),
            Value::Array(a) if a.is_empty() => "[]".to_string(),
            Value::Object(m) if is_vault(v) => {
                let text = m.get("__ansible_vault").and_then(Value::as_str).unwrap_or_default();
                let mut s = String::from("!vault |");
                for line in text.lines() {
                    s.push('\n');
                    s.push_str(&" ".repeat(indent));
                    s.push_str(line);
                }
                s
            }
            other => scalar_text(other, indent, self.column),
        }
    }
}

fn is_vault(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.len() == 1 && m.get("__ansible_vault").is_some_and(Value::is_string))
}

/// One scalar as PyYAML writes it, starting at `column`; continuation lines of a long
/// plain or single-quoted string are indented to `indent`.
fn scalar_text(v: &Value, indent: usize, column: usize) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => {
                let mut s = py_float(f).to_lowercase();
                if !s.contains('.') && s.contains('e') {
                    s = s.replacen('e', ".0e", 1);
                }
                s
            }
            _ => n.to_string(),
        },
        Value::String(s) => yaml_string(s, indent, column, false),
        other => other.to_string(),
    }
}

fn yaml_string(s: &str, indent: usize, column: usize, is_key: bool) -> String {
    match string_style(s, is_key) {
        Style::Plain => write_plain(s, indent, column, !is_key),
        Style::Single => write_single_quoted(s, indent, column, !is_key),
        Style::Double => double_quoted(s),
    }
}

#[derive(PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// PyYAML's `analyze_scalar` and `choose_scalar_style` for a block-context string
/// (with `allow_unicode`), plus its implicit-resolver check for plain scalars.
fn string_style(s: &str, is_key: bool) -> Style {
    if s.is_empty() {
        return Style::Single;
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace =
            i + 1 >= n || matches!(chars[i + 1], '\0' | ' ' | '\t' | '\r') || is_break(chars[i + 1]);
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if matches!(c, '?' | ':' | '-') && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if is_break(c) {
            line_breaks = true;
        }
        let printable_ascii = ('\x20'..='\x7e').contains(&c);
        let unicode = c == '\u{85}' || (c >= '\u{a0}' && c != '\u{feff}' && c != '\u{fffe}' && c != '\u{ffff}');
        if !(c == '\n' || printable_ascii || unicode) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == n - 1;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == n - 1;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, '\0' | ' ' | '\t' | '\r') || is_break(c);
    }
    let mut allow_plain = !(leading_space || leading_break || trailing_space || trailing_break);
    let mut allow_single = true;
    if break_space {
        allow_plain = false;
        allow_single = false;
    }
    if space_break || special {
        allow_plain = false;
        allow_single = false;
    }
    if line_breaks || block_indicators {
        allow_plain = false;
    }
    if allow_plain && !resolves_to_non_string(s) {
        return Style::Plain;
    }
    if allow_single && !(is_key && line_breaks) {
        return Style::Single;
    }
    Style::Double
}

/// Whether PyYAML's YAML 1.1 resolver reads this plain text as something other than a
/// string (bool, int, float, null, timestamp, merge, value).
fn resolves_to_non_string(s: &str) -> bool {
    use std::sync::LazyLock;
    static RESOLVERS: LazyLock<regex::Regex> = LazyLock::new(|| {
        let patterns = [
            r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"<<",
            r"~|null|Null|NULL",
            r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            r"=",
        ];
        regex::Regex::new(&format!("^(?:{})$", patterns.join("|"))).expect("static regex")
    });
    RESOLVERS.is_match(s)
}

/// PyYAML's `write_plain`: fold at a single space once past column 80.
fn write_plain(s: &str, indent: usize, start_column: usize, split: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut column = start_column;
    for (i, &c) in chars.iter().enumerate() {
        let single_space = c == ' ' && (i == 0 || chars[i - 1] != ' ') && chars.get(i + 1) != Some(&' ');
        if single_space && split && column > BEST_WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
            continue;
        }
        out.push(c);
        column += 1;
    }
    out
}

/// PyYAML's `write_single_quoted`: `'` doubled, folding at a single inner space past
/// column 80, and each run of line breaks written as one more line break than it has
/// (a lone break would read back as a space), then the indentation.
fn write_single_quoted(s: &str, indent: usize, start_column: usize, split: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut out = String::from("'");
    let mut column = start_column + 1;
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == ' ' {
            let single = (i == 0 || chars[i - 1] != ' ') && chars.get(i + 1) != Some(&' ');
            if single && split && column > BEST_WIDTH && i != 0 && i + 1 != n {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
            i += 1;
        } else if is_break(c) {
            let start = i;
            while i < n && is_break(chars[i]) {
                i += 1;
            }
            if chars[start] == '\n' {
                out.push('\n');
            }
            // PyYAML writes `\n` for `\n` and other breaks (U+0085, U+2028, U+2029) as
            // themselves.
            out.extend(&chars[start..i]);
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if c == '\'' {
            out.push_str("''");
            column += 2;
            i += 1;
        } else {
            out.push(c);
            column += 1;
            i += 1;
        }
    }
    out.push('\'');
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let v = u32::from(c);
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02X}"));
                } else {
                    out.push_str(&format!("\\u{v:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn style(s: &str) -> Style {
        string_style(s, false)
    }

    #[test]
    fn yaml_scalars_quote_like_pyyaml() {
        assert_eq!(style("web01.example.com"), Style::Plain);
        assert_eq!(style("yes"), Style::Single);
        assert_eq!(style("05"), Style::Single);
        assert_eq!(style("1.5"), Style::Single);
        assert_eq!(style(""), Style::Single);
        assert_eq!(style("a: b"), Style::Single);
        assert_eq!(style("- x"), Style::Single);
        assert_eq!(style("::1"), Style::Plain);
        assert_eq!(style("2001-12-14"), Style::Single);
        assert_eq!(style("a\nb"), Style::Single);
        assert_eq!(style("a \nb"), Style::Double);
        assert_eq!(style("a\tb"), Style::Double);
        assert_eq!(write_single_quoted("line1\nline2", 4, 10, true), "'line1\n\n    line2'");
        assert_eq!(
            to_yaml(&json!({"all": {"hosts": {"h": {"l": [1, "yes"], "e": {}, "n": null, "f": 1e17}}}})),
            "all:\n  hosts:\n    h:\n      l:\n      - 1\n      - 'yes'\n      e: {}\n      n: null\n      f: 1.0e+17\n"
        );
        assert_eq!(to_yaml(&json!({})), "{}\n");
    }
}
