//! One way to quote for the remote POSIX shell. Every user value that reaches a shell
//! string goes through [`quote`]; nothing is `format!`ed into a command unquoted.

/// Quote `s` as one word for a POSIX shell. Single quotes protect everything but a
/// single quote, which is closed, escaped and reopened. NUL cannot be passed to a shell
/// at all and is reported by [`check_nul`].
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quote each word and join them with spaces: an argv for the shell.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    words.into_iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

/// A shell string cannot carry NUL bytes.
pub fn check_nul(s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err("a command cannot contain a NUL byte".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_plain() {
        assert_eq!(quote("ls"), "ls");
        assert_eq!(quote("/usr/bin/env"), "/usr/bin/env");
    }

    #[test]
    fn specials_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("a\nb"), "'a\nb'");
        assert_eq!(join(["echo", "a b", "$x"]), "echo 'a b' '$x'");
    }
}
