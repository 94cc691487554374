//! The configuration error type and the Go wording of file-system errors.

use std::fmt;
use std::io;
use std::path::Path;

use super::value::Pos;

/// A configuration error, displayed exactly as the reference prints it.
///
/// Errors of the language itself (lexing, numbers, variables, includes) carry
/// no position: the reference prints them as plain text, e.g.
/// `Parse error on line 3: '...'` or
/// `variable reference for 'X' on line 2 can not be found`. Errors about a
/// value (raised by the option mapper through [`super::Value::error`]) carry
/// its position and print as `file:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// Where the error is, when it is about a value.
    pub pos: Option<Pos>,
    /// The message, without the position prefix.
    pub message: String,
}

impl ConfError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        ConfError {
            pos: None,
            message: message.into(),
        }
    }

    /// An error at `pos`.
    pub fn at(pos: Pos, message: impl Into<String>) -> Self {
        ConfError {
            pos: Some(pos),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfError {}

/// The step of reading a file that failed, named as Go's `os` package does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FileOp {
    Open,
    Read,
}

/// Formats an I/O error like Go's `*os.PathError`: `open t.conf: no such
/// file or directory`, `read dir: is a directory`.
pub(crate) fn go_path_error(op: FileOp, path: &Path, err: &io::Error) -> String {
    let op = match op {
        FileOp::Open => "open",
        FileOp::Read => "read",
    };
    format!("{op} {}: {}", path.display(), go_errno_text(err))
}

/// The text Go gives an errno: the C library message with its first letter
/// lowercased (`no such file or directory`, `permission denied`).
fn go_errno_text(err: &io::Error) -> String {
    let text = match err.raw_os_error() {
        Some(code) => {
            let full = io::Error::from_raw_os_error(code).to_string();
            let suffix = format!(" (os error {code})");
            full.strip_suffix(&suffix).unwrap_or(&full).to_string()
        }
        None if err.kind() == io::ErrorKind::InvalidInput => "invalid argument".to_string(),
        None => err.to_string(),
    };
    lowercase_first(&text)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn display_with_and_without_position() {
        assert_eq!(ConfError::new("boom").to_string(), "boom");
        let pos = Pos {
            file: Arc::from(Path::new("dir/t.conf")),
            line: 4,
            col: 1,
        };
        assert_eq!(
            ConfError::at(pos, "unknown field \"bogus\"").to_string(),
            "dir/t.conf:4:1: unknown field \"bogus\""
        );
    }

    #[test]
    fn errno_texts_match_go() {
        let path = Path::new("x.conf");
        let cases = [
            (2, FileOp::Open, "open x.conf: no such file or directory"),
            (13, FileOp::Open, "open x.conf: permission denied"),
            (21, FileOp::Read, "read x.conf: is a directory"),
            (20, FileOp::Open, "open x.conf: not a directory"),
        ];
        for (code, op, want) in cases {
            let err = io::Error::from_raw_os_error(code);
            assert_eq!(go_path_error(op, path, &err), want);
        }
        let nul = io::Error::new(io::ErrorKind::InvalidInput, "nul byte");
        assert_eq!(
            go_path_error(FileOp::Open, path, &nul),
            "open x.conf: invalid argument"
        );
    }
}
