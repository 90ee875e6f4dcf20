//! INI values as Ansible types them: Python's `ast.literal_eval`, else the text itself.
//!
//! Ansible's INI plugin passes every value (inline host variables and `[group:vars]`
//! lines alike) through `ast.literal_eval` and keeps the original string when that fails
//! (`_parse_value` in `ansible/plugins/inventory/ini.py`). So `port=22` is an integer,
//! `on=True` a boolean, `x=None` null, `l=[1,'a']` a list, `t=1,2` a list (a tuple), while
//! `yes`, `05`, `true` and `a b` stay strings. A trailing `# comment` is Python syntax
//! here: `http_port=8080 # web` is 8080, but `name=web # x` is the string `web # x`.
//!
//! A bytes literal (`b'x'`) becomes `{"__ansible_unsafe": "x"}`, as Ansible marks it.
//! Not reproduced: complex numbers (kept as the original text, Ansible prints
//! `str(complex)`), integers beyond 64 bits and infinite floats (kept as text), and
//! `\N{...}` escapes (the value stays text).

use serde_json::{Map, Number, Value};

/// Type an INI value the way Ansible's `_parse_value` does.
pub fn parse_value(text: &str) -> Value {
    literal_eval(text).unwrap_or_else(|| Value::String(text.to_string()))
}

/// `ast.literal_eval(text)`, or `None` where Python raises.
pub fn literal_eval(text: &str) -> Option<Value> {
    let text = text.trim_start_matches([' ', '\t']);
    let mut p = Parser { chars: text.chars().collect(), pos: 0, depth: 0 };
    let value = p.expression_list()?;
    p.skip_space(true);
    if p.pos != p.chars.len() {
        return None;
    }
    Some(value.into_json())
}

/// A parsed literal, before it becomes JSON.
#[derive(Debug, Clone)]
enum Lit {
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
    Ellipsis,
}

impl Lit {
    fn into_json(self) -> Value {
        match self {
            Lit::Int(i) => Value::Number(i.into()),
            Lit::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Lit::Bool(b) => Value::Bool(b),
            Lit::None => Value::Null,
            Lit::Str(s) => Value::String(s),
            // Ansible only marks `str` values trusted; decoded bytes come out unsafe.
            Lit::Bytes(b) => {
                let mut m = Map::new();
                m.insert("__ansible_unsafe".to_string(), Value::String(String::from_utf8_lossy(&b).into_owned()));
                Value::Object(m)
            }
            Lit::List(items) => Value::Array(items.into_iter().map(Lit::into_json).collect()),
            Lit::Dict(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.key_string(), v.into_json());
                }
                Value::Object(m)
            }
            // literal_eval accepts `...`; Ansible turns it into the string "...".
            Lit::Ellipsis => Value::String("...".to_string()),
        }
    }

    /// A dict key as `json.dumps` writes it.
    fn key_string(&self) -> String {
        match self {
            Lit::Str(s) => s.clone(),
            Lit::Int(i) => i.to_string(),
            Lit::Float(f) => super::output::py_float(*f),
            Lit::Bool(true) => "true".to_string(),
            Lit::Bool(false) => "false".to_string(),
            Lit::None => "null".to_string(),
            Lit::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Lit::Ellipsis => "...".to_string(),
            other => other.clone().into_json().to_string(),
        }
    }

    fn is_hashable(&self) -> bool {
        !matches!(self, Lit::List(_) | Lit::Dict(_))
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Bracket nesting: newlines are whitespace only inside brackets.
    depth: usize,
}

const MAX_DEPTH: usize = 200;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    /// Skip blanks and `#` comments; newlines only inside brackets (or at the very end
    /// when `at_end`).
    fn skip_space(&mut self, at_end: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\x0c' => self.pos += 1,
                '#' => {
                    while let Some(c) = self.peek() {
                        if c == '\n' || c == '\r' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                '\\' if matches!(self.peek_at(1), Some('\n') | Some('\r')) => self.pos += 2,
                '\n' | '\r' if self.depth > 0 || at_end => self.pos += 1,
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space(false);
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `a` or `a, b, ...` (a tuple, which becomes a list).
    fn expression_list(&mut self) -> Option<Lit> {
        let first = self.expression()?;
        self.skip_space(false);
        if self.peek() != Some(',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(',') {
            self.skip_space(false);
            match self.peek() {
                None | Some(')') | Some(']') | Some('}') => break,
                Some('\n') | Some('\r') if self.depth == 0 => break,
                _ => items.push(self.expression()?),
            }
        }
        Some(Lit::List(items))
    }

    /// An atom with optional unary `+`/`-` on a number.
    fn expression(&mut self) -> Option<Lit> {
        self.skip_space(false);
        match self.peek()? {
            c @ ('+' | '-') => {
                self.pos += 1;
                let operand = self.expression_no_sign_chain()?;
                let negate = c == '-';
                match operand {
                    Lit::Int(i) => Some(Lit::Int(if negate { i.checked_neg()? } else { i })),
                    Lit::Float(f) => Some(Lit::Float(if negate { -f } else { f })),
                    Lit::Bool(b) => Some(Lit::Int(if negate { -i64::from(b) } else { i64::from(b) })),
                    _ => None,
                }
            }
            _ => {
                let value = self.atom()?;
                // `1 + 2j` is the only binary operation literal_eval accepts; complex
                // numbers are not supported here, so any operator fails.
                self.skip_space(false);
                if matches!(self.peek(), Some('+') | Some('-')) {
                    return None;
                }
                Some(value)
            }
        }
    }

    /// The operand of a unary sign: literal_eval rejects `--1`, so no further sign.
    fn expression_no_sign_chain(&mut self) -> Option<Lit> {
        self.skip_space(false);
        if matches!(self.peek(), Some('+') | Some('-')) {
            return None;
        }
        let value = self.atom()?;
        self.skip_space(false);
        if matches!(self.peek(), Some('+') | Some('-')) {
            return None;
        }
        Some(value)
    }

    fn atom(&mut self) -> Option<Lit> {
        self.skip_space(false);
        let c = self.peek()?;
        match c {
            '[' => self.bracketed(']').map(Lit::List),
            '(' => self.parenthesized(),
            '{' => self.braced(),
            '.' if self.peek_at(1) == Some('.') && self.peek_at(2) == Some('.') => {
                self.pos += 3;
                Some(Lit::Ellipsis)
            }
            '0'..='9' | '.' => self.number(),
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                if matches!(self.peek(), Some('\'') | Some('"')) && is_string_prefix(&word) {
                    self.pos = start;
                    return self.strings();
                }
                match word.as_str() {
                    "True" => Some(Lit::Bool(true)),
                    "False" => Some(Lit::Bool(false)),
                    "None" => Some(Lit::None),
                    "set" => {
                        // `set()` is the empty set.
                        if self.eat('(') && self.eat(')') {
                            Some(Lit::List(Vec::new()))
                        } else {
                            None
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Items up to `close`, the opening bracket already current.
    fn bracketed(&mut self, close: char) -> Option<Vec<Lit>> {
        self.pos += 1;
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_space(false);
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.expression()?);
            self.skip_space(false);
            if self.eat(',') {
                continue;
            }
            if self.eat(close) {
                break;
            }
            return None;
        }
        self.depth -= 1;
        Some(items)
    }

    fn parenthesized(&mut self) -> Option<Lit> {
        self.pos += 1;
        self.enter()?;
        self.skip_space(false);
        if self.eat(')') {
            self.depth -= 1;
            return Some(Lit::List(Vec::new()));
        }
        let value = self.expression_list()?;
        if !self.eat(')') {
            return None;
        }
        self.depth -= 1;
        Some(value)
    }

    fn braced(&mut self) -> Option<Lit> {
        self.pos += 1;
        self.enter()?;
        self.skip_space(false);
        if self.eat('}') {
            self.depth -= 1;
            return Some(Lit::Dict(Vec::new()));
        }
        let first = self.expression()?;
        if self.eat(':') {
            let mut entries = vec![(first, self.expression()?)];
            loop {
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return None;
                }
                if self.eat('}') {
                    break;
                }
                let k = self.expression()?;
                if !self.eat(':') {
                    return None;
                }
                entries.push((k, self.expression()?));
            }
            // Unhashable keys make Python raise TypeError; treat as not a literal.
            if !entries.iter().all(|(k, _)| k.is_hashable()) {
                return None;
            }
            // Later duplicates win, in the position of the first.
            let mut dedup: Vec<(Lit, Lit)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let ks = k.key_string();
                match dedup.iter_mut().find(|(dk, _)| dk.key_string() == ks) {
                    Some(slot) => slot.1 = v,
                    None => dedup.push((k, v)),
                }
            }
            self.depth -= 1;
            Some(Lit::Dict(dedup))
        } else {
            // A set literal: becomes a list, as Ansible coerces sets.
            let mut items = vec![first];
            loop {
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return None;
                }
                if self.eat('}') {
                    break;
                }
                items.push(self.expression()?);
            }
            if !items.iter().all(Lit::is_hashable) {
                return None;
            }
            self.depth -= 1;
            Some(Lit::List(items))
        }
    }

    fn number(&mut self) -> Option<Lit> {
        let start = self.pos;
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        while self.peek().is_some_and(|c| is_ident(c) || c == '.') {
            // An exponent sign belongs to the number: 1e-5.
            let c = self.peek()?;
            self.pos += 1;
            if (c == 'e' || c == 'E')
                && matches!(self.peek(), Some('+') | Some('-'))
                && !self.chars[start..self.pos].iter().any(|c| *c == 'x' || *c == 'X')
            {
                self.pos += 1;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        parse_number(&text)
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Lit> {
        let mut text: Option<String> = None;
        let mut bytes: Option<Vec<u8>> = None;
        loop {
            self.skip_space(false);
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.pos += 1;
            }
            let prefix: String = self.chars[start..self.pos].iter().collect::<String>().to_ascii_lowercase();
            if !matches!(self.peek(), Some('\'') | Some('"')) || !is_string_prefix(&prefix) {
                self.pos = start;
                break;
            }
            if prefix.contains('f') {
                return None;
            }
            let raw = prefix.contains('r');
            let body = self.string_body(raw, prefix.contains('b'))?;
            match body {
                StrPart::Text(s) => {
                    if bytes.is_some() {
                        return None;
                    }
                    text.get_or_insert_with(String::new).push_str(&s);
                }
                StrPart::Bytes(b) => {
                    if text.is_some() {
                        return None;
                    }
                    bytes.get_or_insert_with(Vec::new).extend(b);
                }
            }
        }
        match (text, bytes) {
            (Some(s), None) => Some(Lit::Str(s)),
            (None, Some(b)) => Some(Lit::Bytes(b)),
            _ => None,
        }
    }

    fn string_body(&mut self, raw: bool, is_bytes: bool) -> Option<StrPart> {
        let quote = self.peek()?;
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote) {
                    self.pos += 3;
                    break;
                }
            }
            if (c == '\n' || c == '\r') && !triple {
                return None;
            }
            if c == '\\' {
                let next = self.peek_at(1)?;
                if raw {
                    // Raw strings keep the backslash; it only stops a quote from closing.
                    out.push('\\');
                    out.push(next);
                    self.pos += 2;
                    continue;
                }
                self.pos += 2;
                match next {
                    '\n' => {}
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    '"' => out.push('"'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '0'..='7' => {
                        let mut value = next.to_digit(8)?;
                        for _ in 0..2 {
                            match self.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    value = value * 8 + d;
                                    self.pos += 1;
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(value)?);
                    }
                    'x' => out.push(self.hex_escape(2)?),
                    'u' if !is_bytes => out.push(self.hex_escape(4)?),
                    'U' if !is_bytes => out.push(self.hex_escape(8)?),
                    'N' if !is_bytes => return None,
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
        if is_bytes {
            // Bytes literals hold ASCII source characters; escapes give raw bytes.
            let mut b = Vec::with_capacity(out.len());
            for ch in out.chars() {
                let v = u32::from(ch);
                if v > 255 {
                    return None;
                }
                b.push(v as u8);
            }
            Some(StrPart::Bytes(b))
        } else {
            Some(StrPart::Text(out))
        }
    }

    fn hex_escape(&mut self, n: usize) -> Option<char> {
        let mut value = 0u32;
        for _ in 0..n {
            let d = self.peek()?.to_digit(16)?;
            value = value.checked_mul(16)? + d;
            self.pos += 1;
        }
        char::from_u32(value)
    }
}

enum StrPart {
    Text(String),
    Bytes(Vec<u8>),
}

fn is_string_prefix(p: &str) -> bool {
    matches!(p.to_ascii_lowercase().as_str(), "" | "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf")
}

/// Digits with single underscores between them.
fn digits_ok(s: &str, radix: u32) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c == '_' || c.is_digit(radix))
}

fn parse_number(text: &str) -> Option<Lit> {
    let lower = text.to_ascii_lowercase();
    if lower.ends_with('j') {
        return None; // complex
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.strip_prefix('_').unwrap_or(rest);
            if !digits_ok(rest, radix) {
                return None;
            }
            let clean: String = rest.chars().filter(|c| *c != '_').collect();
            return i64::from_str_radix(&clean, radix).ok().map(Lit::Int);
        }
    }
    let is_float = lower.contains('.') || lower.contains('e');
    if !is_float {
        if !digits_ok(&lower, 10) {
            return None;
        }
        let clean: String = lower.chars().filter(|c| *c != '_').collect();
        // Python 3 refuses leading zeros in a non-zero decimal integer: `05`.
        if clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
            return None;
        }
        return clean.parse::<i64>().ok().map(Lit::Int);
    }
    // Float: digits [. digits] [e [sign] digits], or . digits ...
    let (mantissa, exponent) = match lower.find('e') {
        Some(i) => (&lower[..i], Some(&lower[i + 1..])),
        None => (lower.as_str(), None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return None;
    }
    if !int_part.is_empty() && !digits_ok(int_part, 10) {
        return None;
    }
    if let Some(f) = frac_part {
        if !f.is_empty() && !digits_ok(f, 10) {
            return None;
        }
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digits_ok(e, 10) {
            return None;
        }
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    let clean = if clean.starts_with('.') { format!("0{clean}") } else { clean };
    let v: f64 = clean.parse().ok()?;
    v.is_finite().then_some(Lit::Float(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_booleans_and_none() {
        assert_eq!(parse_value("22"), json!(22));
        assert_eq!(parse_value("-5"), json!(-5));
        assert_eq!(parse_value("1_000"), json!(1000));
        assert_eq!(parse_value("0x1F"), json!(31));
        assert_eq!(parse_value("1.5"), json!(1.5));
        assert_eq!(parse_value("1e3"), json!(1000.0));
        assert_eq!(parse_value(".5"), json!(0.5));
        assert_eq!(parse_value("True"), json!(true));
        assert_eq!(parse_value("None"), json!(null));
        assert_eq!(parse_value("00"), json!(0));
    }

    #[test]
    fn what_python_rejects_stays_text() {
        for s in ["05", "yes", "true", "a b", "", "foo # comment", "1.2.3", "--1", "x=1", "[1, foo]", "1j", "'open"] {
            assert_eq!(parse_value(s), json!(s), "{s}");
        }
    }

    #[test]
    fn strings_lists_dicts_and_comments() {
        assert_eq!(parse_value("'05'"), json!("05"));
        assert_eq!(parse_value("\"a\\tb\""), json!("a\tb"));
        assert_eq!(parse_value("r'a\\tb'"), json!("a\\tb"));
        assert_eq!(parse_value("'a' \"b\""), json!("ab"));
        assert_eq!(parse_value("[1, 'x', {'k': None}]"), json!([1, "x", {"k": null}]));
        assert_eq!(parse_value("1,2"), json!([1, 2]));
        assert_eq!(parse_value("(1,)"), json!([1]));
        assert_eq!(parse_value("{1: 'a', 'b': [True]}"), json!({"1": "a", "b": [true]}));
        assert_eq!(parse_value("8080 # the web port"), json!(8080));
        assert_eq!(parse_value("'03#pa33w0rd'"), json!("03#pa33w0rd"));
        assert_eq!(parse_value("..."), json!("..."));
        assert_eq!(parse_value("set()"), json!([]));
        assert_eq!(parse_value("b'raw'"), json!({"__ansible_unsafe": "raw"}));
    }
}
