//! Host addresses and host ranges, as Ansible reads them.
//!
//! [`parse_address`] splits `host:port` / `[v6]:port` and checks that what is left is an
//! IPv4 address, an IPv6 address or a host name (each possibly with `[x:y]` ranges). It is
//! a port of `ansible/parsing/utils/addresses.py`. [`expand_hostname_range`] expands
//! `web[01:20].example.com`, `db-[a:c]` and `[1:10:2]` steps, keeping zero padding, as
//! `expand_hostname_range` in `ansible/plugins/inventory/__init__.py` does.
//! [`expand_hostpattern`] combines the two the way inventory plugins call them.

use std::sync::LazyLock;

use regex::Regex;

/// Expanding more hosts than this from one pattern is refused rather than exhausting
/// memory (`web[1:1000000000]` is almost certainly a typo). Ansible has no such limit.
pub const MAX_RANGE_HOSTS: usize = 1_000_000;

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

fn ipv4_component() -> String {
    format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})")
}

fn ipv6_component() -> String {
    format!(r"(?:[0-9a-f]{{1,4}}|{HEX_RANGE})")
}

/// A host name label. Python's version ends with the look-behind `(?<![_-])`, which the
/// `regex` crate lacks; the same language is spelled here as "one character that is not
/// `_`, or a first character, a middle, and a last character that is not `_` or `-`".
fn label() -> String {
    let r = ALNUM_RANGE;
    format!(r"(?:(?:\w|{r})(?:[\w-]|{r})*(?:[^\W_]|{r})|[^\W_]|{r})")
}

static BRACKETED_HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(.+)\]:([0-9]+)$").expect("static regex"));
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").expect("static regex"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let c = ipv4_component();
    Regex::new(&format!(r"(?i)^(?:{c}\.){{3}}{c}$")).expect("static regex")
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let c = ipv6_component();
    let alternatives = [
        format!("(?:{c}:){{7}}{c}"),
        format!("(?:{c}:){{1,6}}:"),
        format!("(?:{c}:)(?::{c}){{1,6}}"),
        format!("(?:{c}:){{2}}(?::{c}){{1,5}}"),
        format!("(?:{c}:){{3}}(?::{c}){{1,4}}"),
        format!("(?:{c}:){{4}}(?::{c}){{1,3}}"),
        format!("(?:{c}:){{5}}(?::{c}){{1,2}}"),
        format!("(?:{c}:){{6}}(?::{c})"),
        format!(":(?::{c}){{1,6}}"),
        format!("{c}?::"),
        format!(r"(?:0:){{6}}(?:{c}\.){{3}}{c}"),
        format!(r"::(?:ffff:)?(?:{c}\.){{3}}{c}"),
        format!(r"(?:0:){{5}}ffff:(?:{c}\.){{3}}{c}"),
    ];
    Regex::new(&format!("(?i)^(?:{})$", alternatives.join("|"))).expect("static regex")
});
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    let l = label();
    Regex::new(&format!(r"(?i)^{l}(?:\.{l})*$")).expect("static regex")
});

/// Whether `name` is an IPv4 or IPv6 address (ranges allowed), as Ansible decides when it
/// computes `inventory_hostname_short`.
pub fn is_ip_address(name: &str) -> bool {
    IPV4.is_match(name) || IPV6.is_match(name)
}

/// Split an optional port off `address` and check the rest is a host identifier.
///
/// Returns `None` where Ansible's `parse_address` raises ("not a valid network hostname",
/// or a range where ranges are not allowed).
pub fn parse_address(address: &str, allow_ranges: bool) -> Option<(String, Option<u64>)> {
    let mut address = address.to_string();
    let mut port = None;
    // Both forms are tried in turn, as in Python (`continue`, not `break`).
    for re in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        if let Some(c) = re.captures(&address) {
            let p = c[2].parse::<u64>().ok()?;
            let host = c[1].to_string();
            address = host;
            port = Some(p);
        }
    }
    let valid = IPV4.is_match(&address) || IPV6.is_match(&address) || HOSTNAME.is_match(&address);
    if !valid || (!allow_ranges && address.contains('[')) {
        return None;
    }
    Some((address, port))
}

/// Host names and port from one host entry (`web[1:3]:2222`), as inventory plugins read
/// it: what is not a recognisable address is kept whole, then any `[..]` is expanded.
pub fn expand_hostpattern(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (name, port) = parse_address(pattern, true).unwrap_or_else(|| (pattern.to_string(), None));
    if name.contains('[') {
        Ok((expand_hostname_range(&name)?, port))
    } else {
        Ok((vec![name], port))
    }
}

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expand every `[begin:end(:step)]` in `line` (see the module docs).
pub fn expand_hostname_range(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(line, &mut out)?;
    Ok(out)
}

fn expand_into(line: &str, out: &mut Vec<String>) -> Result<(), String> {
    if line.is_empty() {
        return Ok(());
    }
    // Python: line.replace('[', '|', 1).replace(']', '|', 1).split('|') into exactly 3.
    let replaced = line.replacen('[', "|", 1).replacen(']', "|", 1);
    let parts: Vec<&str> = replaced.split('|').collect();
    let [head, nrange, tail] = parts[..] else {
        return Err(format!("unbalanced brackets in host range `{line}`"));
    };
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".to_string());
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    let step = bounds.get(2).copied();
    if end.is_empty() {
        return Err("host range must specify end value".to_string());
    }
    let pad = if beg.starts_with('0') && beg.len() > 1 {
        if beg.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".to_string());
        }
        Some(beg.len())
    } else {
        None
    };
    let fill = |s: String| match pad {
        Some(width) => zfill(&s, width),
        None => s,
    };
    let step_value = || -> Result<i64, String> {
        match step {
            None => Ok(1),
            Some(s) => py_int(s).ok_or_else(|| format!("invalid step `{s}` in host range `[{nrange}]`")),
        }
    };

    let items: Vec<String> = match (ASCII_LETTERS.find(beg), ASCII_LETTERS.find(end)) {
        (Some(i_beg), Some(i_end)) => {
            if i_beg > i_end {
                return Err("host range must have begin <= end".to_string());
            }
            let step = step_value()?;
            if step == 0 {
                return Err("host range step cannot be zero".to_string());
            }
            // A negative step over begin <= end selects nothing, as Python's slice does.
            let letters = ASCII_LETTERS.as_bytes();
            if step < 0 {
                Vec::new()
            } else {
                (i_beg..=i_end).step_by(step as usize).map(|i| (letters[i] as char).to_string()).collect()
            }
        }
        _ => {
            let (Some(b), Some(e)) = (py_int(beg), py_int(end)) else {
                return Err(format!("invalid host range `[{nrange}]`: bounds must be numbers or single letters"));
            };
            let step = step_value()?;
            if step == 0 {
                return Err("host range step cannot be zero".to_string());
            }
            // The length of Python's range(b, e + 1, step).
            let (b128, stop, st) = (b as i128, e as i128 + 1, step as i128);
            let count = if st > 0 && stop > b128 {
                ((stop - b128 - 1) / st + 1) as u128
            } else if st < 0 && b128 > stop {
                ((b128 - stop - 1) / (-st) + 1) as u128
            } else {
                0
            };
            if count > MAX_RANGE_HOSTS as u128 {
                return Err(format!("host range `[{nrange}]` expands to more than {MAX_RANGE_HOSTS} hosts"));
            }
            let mut v = Vec::with_capacity(count as usize);
            let mut i = b;
            for _ in 0..count {
                v.push(i.to_string());
                i = i.wrapping_add(step);
            }
            v
        }
    };
    for item in items {
        let name = format!("{head}{}{tail}", fill(item));
        if name.contains('[') {
            expand_into(&name, out)?;
        } else {
            out.push(name);
        }
        if out.len() > MAX_RANGE_HOSTS {
            return Err(format!("host range in `{line}` expands to more than {MAX_RANGE_HOSTS} hosts"));
        }
    }
    Ok(())
}

/// Python's `str.zfill`: pad with zeros after any sign.
fn zfill(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let zeros = "0".repeat(width - len);
    match s.strip_prefix(['-', '+']) {
        Some(rest) => format!("{}{zeros}{rest}", &s[..1]),
        None => format!("{zeros}{s}"),
    }
}

/// Python's `int(str)`: optional sign, decimal digits with single `_` between them,
/// surrounding whitespace.
pub fn py_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i64 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(s: &str) -> Vec<String> {
        expand_hostname_range(s).unwrap()
    }

    #[test]
    fn numeric_ranges_keep_zero_padding() {
        assert_eq!(ex("web[01:03].example.com"), ["web01.example.com", "web02.example.com", "web03.example.com"]);
        assert_eq!(ex("web[1:3]"), ["web1", "web2", "web3"]);
        assert_eq!(ex("web[:2]"), ["web0", "web1", "web2"]);
        assert_eq!(ex("n[8:11]"), ["n8", "n9", "n10", "n11"]);
    }

    #[test]
    fn alpha_ranges_steps_and_nesting() {
        assert_eq!(ex("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(ex("h[1:10:3]"), ["h1", "h4", "h7", "h10"]);
        assert_eq!(ex("h[01:10:2]"), ["h01", "h03", "h05", "h07", "h09"]);
        assert_eq!(ex("r[1:2]c[a:b]"), ["r1ca", "r1cb", "r2ca", "r2cb"]);
        assert_eq!(ex("z[y:B]"), ["zy", "zz", "zA", "zB"]);
        // A descending numeric range is empty in Ansible (range() with begin > end).
        assert!(ex("web[3:1]").is_empty());
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in ["web[a:1]", "web[01:3]", "web[1:]", "web[1]", "web[c:a]", "web[1:3:0]", "web[1:3", "web[1:3:x]"] {
            assert!(expand_hostname_range(bad).is_err(), "{bad}");
        }
        assert!(expand_hostname_range("h[1:100000000]").unwrap_err().contains("more than"));
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(parse_address("db1:2222", false), Some(("db1".into(), Some(2222))));
        assert_eq!(parse_address("10.0.0.1:22", false), Some(("10.0.0.1".into(), Some(22))));
        assert_eq!(parse_address("[::1]:2222", false), Some(("::1".into(), Some(2222))));
        assert_eq!(parse_address("fe80::1", false), Some(("fe80::1".into(), None)));
        assert_eq!(parse_address("web[1:3]:22", true), Some(("web[1:3]".into(), Some(22))));
        assert_eq!(parse_address("web[1:3]", false), None);
        assert_eq!(parse_address("bad-", false), None);
        assert_eq!(parse_address("under_score", false), Some(("under_score".into(), None)));
        assert_eq!(parse_address("web:&db", true), None);
        assert!(is_ip_address("192.168.1.10"));
        assert!(!is_ip_address("web1.example.com"));
    }

    #[test]
    fn host_patterns_keep_unparseable_names_whole() {
        assert_eq!(expand_hostpattern("a_b-:22").unwrap(), (vec!["a_b-:22".to_string()], None));
        assert_eq!(
            expand_hostpattern("web[1:2]:2200").unwrap(),
            (vec!["web1".to_string(), "web2".to_string()], Some(2200))
        );
    }
}
