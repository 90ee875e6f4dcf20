//! User-facing diagnostics: one error shape for every mistake in user input.
//!
//! A [`Diagnostic`] carries what is wrong, where (file, line, column) when it is known,
//! the source line for context, and an optional `help:` hint. It renders like cargo's
//! manifest errors and reads the same without colour:
//!
//! ```text
//! error: unknown group `dbs` in pattern `dbs:web`
//!   --> inventory/hosts.ini:4:1
//!    |
//!  4 | [dbs:children]
//!    | ^
//!    = help: did you mean `db`?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// One user error, with where it happened and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    /// The text of the offending line, when the file could be read.
    pub source_line: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), location: None, source_line: None, help: None }
    }

    /// Attach a position; the source line is read from `text` when given.
    pub fn at(mut self, file: &Path, line: usize, column: usize, text: Option<&str>) -> Self {
        self.location = Some(Location { file: file.to_path_buf(), line, column });
        if let Some(text) = text {
            self.source_line = text.lines().nth(line.saturating_sub(1)).map(str::to_string);
        }
        self
    }

    /// Attach a file without a position.
    pub fn in_file(mut self, file: &Path) -> Self {
        if self.location.is_none() {
            self.location = Some(Location { file: file.to_path_buf(), line: 0, column: 0 });
        }
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(loc) = &self.location {
            if loc.line == 0 {
                write!(f, "\n  --> {}", loc.file.display())?;
            } else {
                write!(f, "\n  --> {}:{}:{}", loc.file.display(), loc.line, loc.column)?;
                if let Some(src) = &self.source_line {
                    let num = loc.line.to_string();
                    let pad = " ".repeat(num.len());
                    let caret_pad = " ".repeat(loc.column.saturating_sub(1));
                    write!(f, "\n {pad} |\n {num} | {src}\n {pad} | {caret_pad}^")?;
                }
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n   = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The closest candidate to `word`, for "did you mean" hints (swapped letters count
/// as one typo).
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    provision_modules::args::closest(word, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_and_help() {
        let d = Diagnostic::new("unknown key `hots`")
            .at(Path::new("inv.yml"), 2, 3, Some("all:\n  hots:\n"))
            .with_help("did you mean `hosts`?");
        assert_eq!(
            d.to_string(),
            "unknown key `hots`\n  --> inv.yml:2:3\n   |\n 2 |   hots:\n   |   ^\n   = help: did you mean `hosts`?"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("updte_cache", ["update_cache", "name"]), Some("update_cache"));
        assert_eq!(did_you_mean("zzz", ["update_cache", "name"]), None);
    }
}
