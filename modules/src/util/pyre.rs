//! Python regular expressions on the `regex` crate, for `lineinfile`, `blockinfile` and
//! `replace`.
//!
//! Ansible's modules take Python `re` patterns and replacement templates. The `regex`
//! crate has a close syntax but not the same one, so [`translate`] rewrites a Python
//! pattern into the crate's syntax, and says clearly what cannot be translated:
//! look-around (`(?=…)`, `(?<!…)`), backreferences (`\1`, `(?P=name)`), atomic groups
//! and conditionals have no equivalent there. [`Template`] parses Python's replacement
//! syntax (`\1`, `\g<name>`, `\n`) and [`subn`] is `re.subn` with Python's handling of
//! empty matches.
//!
//! What differs from Python and why:
//! - `$` without MULTILINE matches "at the end, or before a newline at the end". On
//!   one line ([`Subject::Line`]) that is `(?m:$)`, exactly. On a whole text
//!   ([`Subject::Text`]) it becomes `\n?\z`, which consumes that last newline: the
//!   crate has no look-ahead to leave it unconsumed.
//! - Bytes patterns (lineinfile, blockinfile) have ASCII `\w`, `\d`, `\s` and
//!   case folding, as in Python; text patterns (replace) are Unicode-aware, as in Python.

use regex::bytes::{Captures, Regex, RegexBuilder};

/// What a pattern is matched against, which decides what Python's `$` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// One line with its newline (lineinfile, blockinfile): exact.
    Line,
    /// A whole text with `re.MULTILINE` (replace's `regexp`): exact.
    Multiline,
    /// A whole text without MULTILINE (replace's `after`/`before`).
    Text,
}

/// A compiled Python pattern.
#[derive(Debug, Clone)]
pub struct PyRegex {
    pub regex: Regex,
    /// The pattern turned MULTILINE on itself with a leading `(?m)`
    /// (Python: `pattern.flags & re.MULTILINE`).
    pub inline_multiline: bool,
}

/// Compile a Python pattern. `bytes` gives Python's bytes-pattern semantics (ASCII
/// classes), as lineinfile and blockinfile use.
pub fn compile(pattern: &str, subject: Subject, bytes: bool) -> Result<PyRegex, String> {
    let tr = translate(pattern, subject, bytes)?;
    let regex = RegexBuilder::new(&tr.pattern)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| format!("cannot compile regular expression `{pattern}`: {}", last_line(&e.to_string())))?;
    Ok(PyRegex { regex, inline_multiline: tr.multiline })
}

fn last_line(s: &str) -> String {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim().trim_start_matches("error: ").to_string()
}

/// A pattern rewritten for the `regex` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub pattern: String,
    /// MULTILINE is in effect (asked by the caller or by a leading `(?m)`).
    pub multiline: bool,
}

fn unsupported(pattern: &str, what: &str) -> String {
    format!("cannot use regular expression `{pattern}`: {what} is not supported (the `regex` engine has no look-around, backreferences, atomic groups or conditionals)")
}

/// Rewrite Python `re` syntax into the `regex` crate's.
pub fn translate(pattern: &str, subject: Subject, bytes: bool) -> Result<Translated, String> {
    let c: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut multiline = subject == Subject::Multiline;
    let mut flags = String::new();
    let mut ascii = bytes;
    // Global flags may only lead the pattern (Python 3.11+).
    while c.get(i) == Some(&'(') && c.get(i + 1) == Some(&'?') {
        let mut j = i + 2;
        let mut f = String::new();
        while j < c.len() && "aiLmsux".contains(c[j]) {
            f.push(c[j]);
            j += 1;
        }
        if f.is_empty() || c.get(j) != Some(&')') {
            break;
        }
        for ch in f.chars() {
            match ch {
                'm' => multiline = true,
                'a' => ascii = true,
                'u' => ascii = false,
                'L' => return Err(unsupported(pattern, "the locale flag `(?L)`")),
                other => flags.push(other),
            }
        }
        i = j + 1;
    }
    let mut out = String::new();
    if ascii {
        out.push_str("(?-u)");
    }
    if multiline {
        flags.push('m');
    }
    if !flags.is_empty() {
        out.push_str(&format!("(?{flags})"));
    }
    let dollar = match (multiline, subject) {
        (true, _) => "$",
        (false, Subject::Line) => "(?m:$)",
        (false, _) => "(?:\\n?\\z)",
    };
    // Whether something precedes that a `{m,n}` could repeat.
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                let (text, used) = escape(pattern, &c, i, false, ascii)?;
                out.push_str(&text);
                i += used;
            }
            '[' => {
                let (text, used) = class(pattern, &c, i, ascii)?;
                out.push_str(&text);
                i += used;
            }
            '(' if c.get(i + 1) == Some(&'?') => {
                let rest: String = c[i + 2..].iter().take(3).collect();
                if rest.starts_with('=') || rest.starts_with('!') || rest.starts_with("<=") || rest.starts_with("<!") {
                    return Err(unsupported(pattern, "look-around"));
                } else if rest.starts_with("P=") {
                    return Err(unsupported(pattern, "a backreference `(?P=name)`"));
                } else if rest.starts_with('>') {
                    return Err(unsupported(pattern, "an atomic group `(?>…)`"));
                } else if rest.starts_with('(') {
                    return Err(unsupported(pattern, "a conditional group `(?(…)…)`"));
                } else if rest.starts_with('#') {
                    // A comment: dropped.
                    match c[i..].iter().position(|&x| x == ')') {
                        Some(p) => i += p + 1,
                        None => return Err(format!("cannot use regular expression `{pattern}`: missing ), unterminated comment")),
                    }
                    continue;
                } else {
                    // Scoped flags: Python's `a`/`u`/`L` have no scoped equivalent here.
                    let mut j = i + 2;
                    let mut f = String::new();
                    while j < c.len() && (c[j].is_ascii_alphabetic() || c[j] == '-') {
                        f.push(c[j]);
                        j += 1;
                    }
                    if c.get(j) == Some(&':') && !f.is_empty() {
                        let f: String = f.chars().filter(|x| !matches!(x, 'a' | 'u' | 'L')).collect();
                        out.push_str(&format!("(?{f}:"));
                        i = j + 1;
                        continue;
                    }
                    out.push_str("(?");
                    i += 2;
                }
            }
            '{' => match quantifier(&c, i) {
                Some((text, used)) => {
                    out.push_str(&text);
                    i += used;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            '}' | ']' => {
                out.push('\\');
                out.push(ch);
                i += 1;
            }
            '$' => {
                out.push_str(dollar);
                i += 1;
            }
            _ => {
                out.push(ch);
                i += 1;
            }
        }
    }
    Ok(Translated { pattern: out, multiline })
}

/// Python's `{m,n}`: a quantifier only when it is well formed, else a literal `{`.
fn quantifier(c: &[char], i: usize) -> Option<(String, usize)> {
    let mut j = i + 1;
    let mut lo = String::new();
    while j < c.len() && c[j].is_ascii_digit() {
        lo.push(c[j]);
        j += 1;
    }
    let hi = if c.get(j) == Some(&',') {
        j += 1;
        let mut hi = String::new();
        while j < c.len() && c[j].is_ascii_digit() {
            hi.push(c[j]);
            j += 1;
        }
        Some(hi)
    } else {
        None
    };
    if c.get(j) != Some(&'}') || (lo.is_empty() && hi.is_none()) {
        return None;
    }
    let lo = if lo.is_empty() { "0".to_string() } else { lo };
    let text = match hi {
        None => format!("{{{lo}}}"),
        Some(h) => format!("{{{lo},{h}}}"),
    };
    Some((text, j + 1 - i))
}

/// One escape at `c[i] == '\\'`; returns the translation and how many chars it used.
fn escape(pattern: &str, c: &[char], i: usize, in_class: bool, ascii: bool) -> Result<(String, usize), String> {
    let Some(&e) = c.get(i + 1) else {
        return Err(format!("cannot use regular expression `{pattern}`: bad escape (end of pattern)"));
    };
    let hex = |n: usize| -> Option<String> {
        let s: String = c.get(i + 2..i + 2 + n)?.iter().collect();
        s.chars().all(|x| x.is_ascii_hexdigit()).then_some(s)
    };
    Ok(match e {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' | 'a' => (format!("\\{e}"), 2),
        'b' if in_class => ("\\x08".into(), 2),
        'b' | 'B' | 'A' if !in_class => (format!("\\{e}"), 2),
        'Z' if !in_class => ("\\z".into(), 2),
        'x' => match hex(2) {
            Some(h) => (format!("\\x{h}"), 4),
            None => return Err(format!("cannot use regular expression `{pattern}`: incomplete escape \\x")),
        },
        'u' | 'U' if !ascii => {
            let n = if e == 'u' { 4 } else { 8 };
            match hex(n) {
                Some(h) => (format!("\\x{{{h}}}"), 2 + n),
                None => return Err(format!("cannot use regular expression `{pattern}`: incomplete escape \\{e}")),
            }
        }
        '0'..='7' if e == '0' || (in_class || octal3(c, i)) => {
            // An octal escape: `\0`, `\0oo`, or three octal digits.
            let mut j = i + 1;
            let mut s = String::new();
            while j < c.len() && s.len() < 3 && ('0'..='7').contains(&c[j]) {
                s.push(c[j]);
                j += 1;
            }
            let v = u32::from_str_radix(&s, 8).unwrap_or(0);
            (format!("\\x{{{v:x}}}"), j - i)
        }
        '1'..='9' => return Err(unsupported(pattern, "a backreference `\\N`")),
        e if e.is_ascii_alphanumeric() => {
            return Err(format!("cannot use regular expression `{pattern}`: bad escape \\{e}"));
        }
        // Escaped punctuation or space is that character, literally.
        e if e.is_ascii() => (format!("\\x{:02X}", e as u32), 2),
        e => (literal_char(e, in_class, ascii), 2),
    })
}

fn octal3(c: &[char], i: usize) -> bool {
    (1..=3).all(|k| c.get(i + k).is_some_and(|x| ('0'..='7').contains(x)))
}

/// A non-ASCII character. In a bytes pattern a class holds bytes, so the character's
/// UTF-8 bytes go in one by one, as Python's bytes pattern has them.
fn literal_char(ch: char, in_class: bool, ascii: bool) -> String {
    if in_class && ascii && !ch.is_ascii() {
        let mut buf = [0u8; 4];
        ch.encode_utf8(&mut buf).bytes().map(|b| format!("\\x{b:02X}")).collect()
    } else {
        ch.to_string()
    }
}

/// A character class starting at `c[i] == '['`.
fn class(pattern: &str, c: &[char], i: usize, ascii: bool) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    let mut j = i + 1;
    if c.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    loop {
        let Some(&ch) = c.get(j) else {
            return Err(format!("cannot use regular expression `{pattern}`: unterminated character set"));
        };
        match ch {
            ']' if !first => {
                out.push(']');
                return Ok((out, j + 1 - i));
            }
            '\\' => {
                let (text, used) = escape(pattern, c, j, true, ascii)?;
                out.push_str(&text);
                j += used;
            }
            // Literal in Python, special in the crate's classes (nesting, set operations).
            '[' | ']' | '&' | '~' => {
                out.push_str(&format!("\\{ch}"));
                j += 1;
            }
            '-' if c.get(j + 1) == Some(&'-') => {
                out.push_str("\\-");
                j += 1;
            }
            _ => {
                out.push_str(&literal_char(ch, true, ascii));
                j += 1;
            }
        }
        first = false;
    }
}

/// One piece of a parsed replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Group(usize),
}

/// A Python replacement template (`re.sub`'s `repl`, `match.expand`), parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Parse `template` for `regex`, as Python's `parse_template` does: `\1`..`\99`,
    /// `\g<1>`, `\g<name>`, `\n`-style escapes and octal escapes are understood,
    /// other escapes of ASCII letters are errors, other escapes stay as written.
    pub fn parse(template: &str, regex: &Regex) -> Result<Template, String> {
        let b = template.as_bytes();
        let groups = regex.captures_len() - 1;
        let mut pieces: Vec<Piece> = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let mut i = 0;
        let push_group = |pieces: &mut Vec<Piece>, lit: &mut Vec<u8>, g: usize, at: usize| -> Result<(), String> {
            if g > groups {
                return Err(format!("invalid group reference {g} at position {at}"));
            }
            if !lit.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(lit)));
            }
            pieces.push(Piece::Group(g));
            Ok(())
        };
        while i < b.len() {
            if b[i] != b'\\' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            let at = i + 1;
            let Some(&e) = b.get(i + 1) else {
                return Err(format!("bad escape (end of pattern) at position {i}"));
            };
            let is_oct = |x: Option<&u8>| x.is_some_and(|d| (b'0'..=b'7').contains(d));
            match e {
                b'g' => {
                    if b.get(i + 2) != Some(&b'<') {
                        return Err(format!("missing < at position {}", i + 2));
                    }
                    let Some(end) = b[i + 3..].iter().position(|&x| x == b'>') else {
                        return Err(format!("missing >, unterminated name at position {}", i + 3));
                    };
                    let name = &template[i + 3..i + 3 + end];
                    let g = if let Ok(n) = name.parse::<usize>() {
                        n
                    } else if name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        regex.capture_names().position(|n| n == Some(name)).ok_or_else(|| format!("unknown group name '{name}'"))?
                    } else {
                        return Err(format!("bad character in group name '{name}' at position {}", i + 3));
                    };
                    push_group(&mut pieces, &mut lit, g, at)?;
                    i += 4 + end;
                }
                b'0' => {
                    let mut j = i + 2;
                    while j < i + 4 && is_oct(b.get(j)) {
                        j += 1;
                    }
                    let v = u32::from_str_radix(&template[i + 1..j], 8).unwrap_or(0) & 0xff;
                    push_char(&mut lit, v);
                    i = j;
                }
                b'1'..=b'9' => {
                    if b.get(i + 2).is_some_and(u8::is_ascii_digit) {
                        if is_oct(Some(&e)) && is_oct(b.get(i + 2)) && is_oct(b.get(i + 3)) {
                            let v = u32::from_str_radix(&template[i + 1..i + 4], 8).unwrap_or(0);
                            if v > 0o377 {
                                return Err(format!("octal escape value \\{} outside of range 0-0o377 at position {i}", &template[i + 1..i + 4]));
                            }
                            push_char(&mut lit, v);
                            i += 4;
                        } else {
                            let g: usize = template[i + 1..i + 3].parse().unwrap_or(0);
                            push_group(&mut pieces, &mut lit, g, at)?;
                            i += 3;
                        }
                    } else {
                        push_group(&mut pieces, &mut lit, usize::from(e - b'0'), at)?;
                        i += 2;
                    }
                }
                b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' => {
                    lit.push(match e {
                        b'a' => 7,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 11,
                        _ => b'\\',
                    });
                    i += 2;
                }
                e if e.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{} at position {i}", e as char));
                }
                _ => {
                    lit.push(b'\\');
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template(pieces))
    }

    /// The replacement for one match; groups that did not take part are empty.
    pub fn expand(&self, caps: &Captures<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Piece::Literal(l) => out.extend_from_slice(l),
                Piece::Group(g) => {
                    if let Some(m) = caps.get(*g) {
                        out.extend_from_slice(m.as_bytes());
                    }
                }
            }
        }
        out
    }
}

/// A character given by its code in a template (`\0`, `\101`): as UTF-8, the way
/// Python's text template would produce it.
fn push_char(lit: &mut Vec<u8>, v: u32) {
    let ch = char::from_u32(v).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    lit.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
}

/// Python's `re.subn(regex, template, text)`: every match replaced, and the count.
/// An empty match right after another empty match at the same place is skipped (and
/// one right after a non-empty match is not), as Python 3.7+ does.
pub fn subn(regex: &Regex, template: &Template, text: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(text.len());
    let mut n = 0;
    let mut last = 0;
    let mut pos = 0;
    let mut last_empty_at: Option<usize> = None;
    while pos <= text.len() {
        let Some(caps) = regex.captures_at(text, pos) else { break };
        let m = caps.get(0).map_or(0..0, |m| m.range());
        if m.is_empty() && last_empty_at == Some(m.start) {
            // Must advance: try again one character further on.
            pos = next_char(text, m.start);
            continue;
        }
        out.extend_from_slice(&text[last..m.start]);
        out.extend_from_slice(&template.expand(&caps));
        n += 1;
        last = m.end;
        last_empty_at = if m.is_empty() { Some(m.start) } else { None };
        pos = m.end;
    }
    out.extend_from_slice(&text[last.min(text.len())..]);
    (out, n)
}

fn next_char(text: &[u8], at: usize) -> usize {
    let mut j = at + 1;
    while j < text.len() && (text[j] & 0xC0) == 0x80 {
        j += 1;
    }
    j.max(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(p: &str) -> String {
        translate(p, Subject::Line, false).unwrap().pattern
    }

    #[test]
    fn python_syntax_is_rewritten() {
        assert_eq!(tr(r"^foo$"), r"^foo(?m:$)");
        assert_eq!(tr(r"a{,3}b{2}c{1,}"), r"a{0,3}b{2}c{1,}");
        assert_eq!(tr(r"{foo} a{ }"), r"\{foo\} a\{ \}");
        assert_eq!(tr(r"\Z\<\ \'"), r"\z\x3C\x20\x27");
        assert_eq!(tr(r"[[&\b]"), r"[\[\&\x08]");
        assert_eq!(tr(r"[[]]"), r"[\[]\]");
        assert_eq!(tr(r"[]a]"), r"[\]a]");
        assert_eq!(tr(r"(?P<n>x)(?#note)"), r"(?P<n>x)");
        assert_eq!(translate("(?m)^a$", Subject::Line, true).unwrap(), Translated { pattern: "(?-u)(?m)^a$".into(), multiline: true });
        assert_eq!(translate("a$", Subject::Text, false).unwrap().pattern, r"a(?:\n?\z)");
        assert_eq!(translate("a$", Subject::Multiline, false).unwrap().pattern, "(?m)a$");
    }

    #[test]
    fn what_cannot_be_translated_says_so() {
        for p in [r"(?=a)", r"(?<!a)b", r"(a)\1", r"(?P<x>a)(?P=x)", r"(?>a)"] {
            let e = compile(p, Subject::Line, false).unwrap_err();
            assert!(e.contains("is not supported"), "{p}: {e}");
        }
        assert!(compile(r"\q", Subject::Line, false).unwrap_err().contains("bad escape \\q"));
        assert!(compile(r"(", Subject::Line, false).unwrap_err().starts_with("cannot compile regular expression `(`"));
    }

    #[test]
    fn line_dollar_matches_before_the_newline_only() {
        let r = compile("^$", Subject::Line, true).unwrap().regex;
        assert!(r.is_match(b"\n") && r.is_match(b""));
        assert!(!r.is_match(b"foo\n"));
        let r = compile("^foo$", Subject::Line, true).unwrap().regex;
        assert!(r.is_match(b"foo\n") && r.is_match(b"foo") && !r.is_match(b"foo \n"));
    }

    #[test]
    fn bytes_patterns_have_ascii_classes() {
        let r = compile(r"^\w+$", Subject::Line, true).unwrap().regex;
        assert!(!r.is_match("café\n".as_bytes()));
        let r = compile(r"^\w+$", Subject::Line, false).unwrap().regex;
        assert!(r.is_match("café\n".as_bytes()));
        let r = compile("[é]", Subject::Line, true).unwrap().regex;
        assert!(r.is_match(b"\xc3"));
    }

    fn sub(p: &str, t: &str, text: &str) -> Result<(String, usize), String> {
        let r = compile(p, Subject::Multiline, false)?.regex;
        let t = Template::parse(t, &r)?;
        let (out, n) = subn(&r, &t, text.as_bytes());
        Ok((String::from_utf8(out).unwrap(), n))
    }

    #[test]
    fn templates_and_empty_matches_as_python() {
        assert_eq!(sub("x*", "-", "abxd").unwrap(), ("-a-b--d-".into(), 5));
        assert_eq!(sub(r"(\w+)@(?P<host>\w+)", r"\g<host>:\1\n\\\.", "me@box").unwrap().0, "box:me\n\\\\.");
        assert_eq!(sub("(a)|b", r"[\1]", "ab").unwrap().0, "[a][]");
        assert_eq!(sub("a", r"\101\0", "a").unwrap().0, "A\0");
        assert_eq!(sub("a", r"\D", "a").unwrap_err(), "bad escape \\D at position 0");
        assert_eq!(sub("a", r"\2", "a").unwrap_err(), "invalid group reference 2 at position 1");
        assert_eq!(sub("^(.+)$", "\"\\1\"", "one\ntwo\n").unwrap().0, "\"one\"\n\"two\"\n");
    }
}
