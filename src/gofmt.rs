//! Values printed the way the Go reference prints them: `%q` quoting, OS error texts,
//! durations. Messages that tools and people grep for must read exactly as nats-server's.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

/// Go's `%q` of a string: double-quoted, Go escapes, invalid UTF-8 as `\xNN`.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        chunk
            .valid()
            .chars()
            .for_each(|c| push_escaped(&mut out, c));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

/// Appends one character as `strconv.Quote` writes it.
fn push_escaped(out: &mut String, c: char) {
    let code = u32::from(c);
    let _ = match c {
        '"' | '\\' => write!(out, "\\{c}"),
        _ if is_go_printable(c) => write!(out, "{c}"),
        '\x07' => write!(out, "\\a"),
        '\x08' => write!(out, "\\b"),
        '\x0c' => write!(out, "\\f"),
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        '\x0b' => write!(out, "\\v"),
        _ if code < 0x20 || code == 0x7f => write!(out, "\\x{code:02x}"),
        _ if code < 0x10000 => write!(out, "\\u{code:04x}"),
        _ => write!(out, "\\U{code:08x}"),
    };
}

/// Approximates Go's `unicode.IsPrint`: everything but controls, spaces other than
/// U+0020, format and private-use characters and noncharacters. (Unassigned code
/// points, which Go also escapes, are kept.)
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let code = u32::from(c);
    let noncharacter = (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE;
    let format_or_private = FORMAT_AND_PRIVATE_USE
        .iter()
        .any(|&(first, last)| (first..=last).contains(&code));
    !(c.is_control() || c.is_whitespace() || noncharacter || format_or_private)
}

/// [`quote`] of a `str`.
pub fn quote_str(text: &str) -> String {
    quote(text.as_bytes())
}

/// Format (Cf) and private-use (Co) code point ranges; Go's `strconv.IsPrint` rejects them.
const FORMAT_AND_PRIVATE_USE: &[(u32, u32)] = &[
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xE000, 0xF8FF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xF0000, 0xFFFFD),
    (0x100000, 0x10FFFD),
];

/// Go's text for an I/O error: errno messages in lower case without `(os error N)`.
pub fn error_text(err: &io::Error) -> String {
    let text = err.to_string();
    if err.raw_os_error().is_none() {
        return text;
    }
    let text = text
        .rsplit_once(" (os error")
        .map_or(text.as_str(), |(msg, _)| msg);
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// Go's `*PathError` text: `open /x: no such file or directory`.
pub fn path_error(op: &str, path: &std::path::Path, err: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), error_text(err))
}

/// A duration as Go prints it: `10s`, `1m30s`, `2m0s`, `500ms`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 {
        return match nanos {
            0 => "0s".to_string(),
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}{frac}s"),
        (0, _) => format!("{m}m{s}{frac}s"),
        _ => format!("{h}h{m}m{s}{frac}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"hello"), r#""hello""#);
        assert_eq!(quote(b"a\r\nb\t\"\\"), r#""a\r\nb\t\"\\""#);
        assert_eq!(
            quote(b"\x00\x07\x08\x0b\x0c\x1b\x7f"),
            r#""\x00\a\b\v\f\x1b\x7f""#
        );
        assert_eq!(quote(b"\xff\xe2\x82A"), r#""\xff\xe2\x82A""#);
        assert_eq!(quote("héllo 😀 ü".as_bytes()), "\"héllo 😀 ü\"");
        assert_eq!(
            quote("\u{85}\u{a0}\u{200b}\u{fffe}".as_bytes()),
            r#""\u0085\u00a0\u200b\ufffe""#
        );
        assert_eq!(
            quote("\u{e0001}\u{10fffd}".as_bytes()),
            r#""\U000e0001\U0010fffd""#
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(10)), "10s");
        assert_eq!(duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(3661)), "1h1m1s");
    }

    #[test]
    fn os_errors_read_like_go() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(error_text(&err), "no such file or directory");
        assert_eq!(
            path_error("open", std::path::Path::new("/x"), &err),
            "open /x: no such file or directory"
        );
    }
}
