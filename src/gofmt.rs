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
            .for_each(|c| push_escaped(&mut out, c, '"'));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of an integer: the character with that code, single-quoted as
/// `strconv.QuoteRune` writes it (`'A'`, `'\x05'`); `'�'` for a value that is not one.
pub fn quote_rune(code: i64) -> String {
    let c = u32::try_from(code)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Appends one character as `strconv.Quote` (`quote` = `"`) or `strconv.QuoteRune`
/// (`quote` = `'`) writes it.
fn push_escaped(out: &mut String, c: char, quote: char) {
    let code = u32::from(c);
    let _ = match c {
        _ if c == quote || c == '\\' => write!(out, "\\{c}"),
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

/// A duration as Go prints it (`time.Duration.String`): `10s`, `1m30s`, `2m0s`, `1h0m0s`,
/// `500ms`, `1.5ms`, `1.5µs`, `0s`.
pub fn duration(d: Duration) -> String {
    go_duration(false, d.as_nanos())
}

/// A signed Go `time.Duration` (nanoseconds) as Go prints it: `-1s`, `1m30s`.
pub fn duration_nanos(nanos: i64) -> String {
    go_duration(nanos < 0, u128::from(nanos.unsigned_abs()))
}

/// `time.Duration.String` on a magnitude in nanoseconds, with a leading `-` when negative.
fn go_duration(negative: bool, nanos: u128) -> String {
    const SECOND: u128 = 1_000_000_000;
    let sign = if negative { "-" } else { "" };
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < SECOND {
        // Below a second Go picks the largest unit that keeps an integer part.
        let (unit, digits) = match nanos {
            n if n < 1_000 => ("ns", 0),
            n if n < 1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        return format!("{sign}{}{unit}", with_fraction(nanos, digits));
    }
    let seconds = with_fraction(nanos % (60 * SECOND), 9);
    let minutes = nanos / (60 * SECOND);
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `value / 10^digits` with the fraction's trailing zeros (and a bare `.`) left out.
fn with_fraction(value: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// A float64 as Go's `%v` prints it (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest
/// digits that read back the same, in exponent form when the decimal exponent is below -4
/// or at least 6: `0.5`, `2`, `123456`, `1e+06`, `1.5e-05`.
pub fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.25e-7`, `0e0`.
    let shortest = format!("{f:e}");
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}{rest}e{exp_sign}{:02}", exponent.abs());
    }
    // Plain notation: the decimal point goes after `exponent + 1` digits.
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{text}")
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
    fn quotes_runes_like_go() {
        assert_eq!(quote_rune(65), "'A'");
        assert_eq!(quote_rune(5), r"'\x05'");
        assert_eq!(quote_rune(39), r"'\''");
        assert_eq!(quote_rune(34), "'\"'");
        assert_eq!(quote_rune(0xe9), "'é'");
        assert_eq!(quote_rune(-1), "'\u{fffd}'");
        assert_eq!(quote_rune(0xd800), "'\u{fffd}'");
        assert_eq!(quote_rune(0x11_0000), "'\u{fffd}'");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(10)), "10s");
        assert_eq!(duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(duration(Duration::from_nanos(1_500_000)), "1.5ms");
        assert_eq!(duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(
            duration(Duration::from_nanos(61_000_000_001)),
            "1m1.000000001s"
        );
        assert_eq!(duration_nanos(-1_000_000_000), "-1s");
        assert_eq!(duration_nanos(-90_000_000_000), "-1m30s");
        assert_eq!(duration_nanos(i64::MIN), "-2562047h47m16.854775808s");
        assert_eq!(duration_nanos(i64::MAX), "2562047h47m16.854775807s");
    }

    #[test]
    fn floats_like_go_v() {
        let cases = [
            (0.5, "0.5"),
            (2.0, "2"),
            (0.0, "0"),
            (-0.25, "-0.25"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(float(f), want, "{f}");
        }
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
