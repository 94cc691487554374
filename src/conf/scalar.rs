//! Conversion of scalar tokens to typed values, with the reference's rules
//! and error messages (`conf/parse.go` and Go's `strconv`/`time`).

use super::chars::is_digit;
use super::value::Datetime;

/// Size suffixes and their multipliers. Bare letters are powers of 1000;
/// `b`, `i` and `ib` forms are powers of 1024. Matching is case-insensitive.
/// An integer token with any other suffix (`1kbb`) yields no value at all.
const SIZE_SUFFIXES: [(&str, i64); 25] = [
    ("", 1),
    ("k", 1000),
    ("kb", 1 << 10),
    ("ki", 1 << 10),
    ("kib", 1 << 10),
    ("m", 1_000_000),
    ("mb", 1 << 20),
    ("mi", 1 << 20),
    ("mib", 1 << 20),
    ("g", 1_000_000_000),
    ("gb", 1 << 30),
    ("gi", 1 << 30),
    ("gib", 1 << 30),
    ("t", 1_000_000_000_000),
    ("tb", 1 << 40),
    ("ti", 1 << 40),
    ("tib", 1 << 40),
    ("p", 1_000_000_000_000_000),
    ("pb", 1 << 50),
    ("pi", 1 << 50),
    ("pib", 1 << 50),
    ("e", 1_000_000_000_000_000_000),
    ("eb", 1 << 60),
    ("ei", 1 << 60),
    ("eib", 1 << 60),
];

/// Why Go's `strconv.ParseInt` rejected a number.
#[derive(Debug, PartialEq, Eq)]
enum IntError {
    Syntax,
    Range,
}

/// Converts an integer token (`123`, `-5`, `64MiB`).
///
/// `Ok(None)` means the suffix is not one the reference knows: the key then
/// silently gets no value. The multiplication wraps like Go's `int64`.
pub(crate) fn integer(text: &str) -> Result<Option<i64>, String> {
    // The reference counts leading digit/'-' *runes* but slices *bytes*.
    let digit_runes = text
        .chars()
        .take_while(|&c| is_digit(c) || c == '-')
        .count();
    let bytes = text.as_bytes();
    let (number, suffix) = bytes.split_at(digit_runes.min(bytes.len()));
    let value = go_parse_int(number).map_err(|err| match err {
        IntError::Range => format!("integer '{text}' is out of the range"),
        IntError::Syntax => format!("expected integer, but got '{text}'"),
    })?;
    let suffix = String::from_utf8_lossy(suffix).trim().to_ascii_lowercase();
    Ok(SIZE_SUFFIXES
        .iter()
        .find(|(name, _)| *name == suffix)
        .map(|(_, multiplier)| value.wrapping_mul(*multiplier)))
}

/// Go's `strconv.ParseInt(s, 10, 64)`, including which error wins when a
/// string both overflows and has a bad character (the first one met).
fn go_parse_int(bytes: &[u8]) -> Result<i64, IntError> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return Err(IntError::Syntax);
    }
    let mut magnitude: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return Err(IntError::Syntax);
        }
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(byte - b'0')))
            .ok_or(IntError::Range)?;
    }
    let limit = 1u64 << 63;
    match (negative, magnitude) {
        (false, m) if m >= limit => Err(IntError::Range),
        (true, m) if m > limit => Err(IntError::Range),
        (true, m) => Ok((m as i64).wrapping_neg()),
        (false, m) => Ok(m as i64),
    }
}

/// Converts a float token (`1.5`, `-0.25`) like Go's `strconv.ParseFloat`.
pub(crate) fn float(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_infinite() => Err(format!("float '{text}' is out of the range")),
        Ok(value) => Ok(value),
        Err(_) => Err(format!("expected float, but got '{text}'")),
    }
}

/// Converts a boolean word (already known to be one of the six).
pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => Err(format!("expected boolean value, but got '{text}'")),
    }
}

/// Converts `YYYY-MM-DDTHH:MM:SSZ`, validating it like Go's `time.Parse`
/// (month 1–12, a day that exists in that month, hour < 24, minute and
/// second < 60).
pub(crate) fn datetime(text: &str) -> Result<Datetime, String> {
    parse_datetime(text.as_bytes())
        .ok_or_else(|| format!("expected Zulu formatted DateTime, but got '{text}'"))
}

fn parse_datetime(bytes: &[u8]) -> Option<Datetime> {
    let [y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2, b'Z'] =
        *bytes
    else {
        return None;
    };
    let year = u16::from(number(&[y1, y2])?) * 100 + u16::from(number(&[y3, y4])?);
    let month = number(&[mo1, mo2])?;
    let day = number(&[d1, d2])?;
    let hour = number(&[h1, h2])?;
    let minute = number(&[mi1, mi2])?;
    let second = number(&[s1, s2])?;
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(month, year)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then_some(Datetime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

/// Two ASCII digits as a number.
fn number(pair: &[u8; 2]) -> Option<u8> {
    if pair.iter().all(u8::is_ascii_digit) {
        Some((pair[0] - b'0') * 10 + (pair[1] - b'0'))
    } else {
        None
    }
}

fn days_in_month(month: u8, year: u16) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers() {
        assert_eq!(integer("0"), Ok(Some(0)));
        assert_eq!(integer("4222"), Ok(Some(4222)));
        assert_eq!(integer("-5"), Ok(Some(-5)));
        assert_eq!(integer("9223372036854775807"), Ok(Some(i64::MAX)));
        assert_eq!(integer("-9223372036854775808"), Ok(Some(i64::MIN)));
    }

    #[test]
    fn integer_range_errors() {
        // ✓run: `integer '99999999999999999999' is out of the range`
        assert_eq!(
            integer("99999999999999999999"),
            Err("integer '99999999999999999999' is out of the range".to_string())
        );
        assert_eq!(
            integer("9223372036854775808"),
            Err("integer '9223372036854775808' is out of the range".to_string())
        );
        assert_eq!(
            integer("-9223372036854775809"),
            Err("integer '-9223372036854775809' is out of the range".to_string())
        );
        assert_eq!(
            integer("99999999999999999999k"),
            Err("integer '99999999999999999999k' is out of the range".to_string())
        );
    }

    #[test]
    fn non_ascii_digits_are_a_syntax_error() {
        // Lexed as an integer (unicode.IsDigit) but rejected by ParseInt.
        assert_eq!(
            integer("1\u{661}"),
            Err("expected integer, but got '1\u{661}'".to_string())
        );
        // Overflow is detected before the bad byte is reached.
        let text = "99999999999999999999\u{661}";
        assert_eq!(
            integer(text),
            Err(format!("integer '{text}' is out of the range"))
        );
    }

    #[test]
    fn size_suffix_multipliers() {
        let cases: [(&str, i64); 30] = [
            ("8k", 8_000),
            ("8K", 8_000),
            ("4kb", 4 * 1024),
            ("3ki", 3 * 1024),
            ("4KiB", 4 * 1024),
            ("1m", 1_000_000),
            ("2MB", 2 << 20),
            ("2Mi", 2 << 20),
            ("64MiB", 64 << 20),
            ("2mib", 2_097_152),
            ("2g", 2_000_000_000),
            ("22GB", 22 << 30),
            ("22Gi", 22 << 30),
            ("22GiB", 22 << 30),
            ("3t", 3_000_000_000_000),
            ("22TB", 22 << 40),
            ("22Ti", 22 << 40),
            ("22TiB", 22 << 40),
            ("2p", 2_000_000_000_000_000),
            ("22PB", 22 << 50),
            ("22Pi", 22 << 50),
            ("22PiB", 22 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("1EB", 1 << 60),
            ("1ei", 1 << 60),
            ("1eib", 1 << 60),
            ("-1m", -1_000_000),
            ("-1GB", -(1 << 30)),
            ("1KB", 1024),
            ("1k", 1000),
        ];
        for (text, want) in cases {
            assert_eq!(integer(text), Ok(Some(want)), "{text}");
        }
    }

    #[test]
    fn size_multiplication_wraps_like_go() {
        assert_eq!(integer("16e"), Ok(Some(16i64.wrapping_mul(10i64.pow(18)))));
        assert_eq!(integer("8eb"), Ok(Some(i64::MIN)));
    }

    #[test]
    fn unknown_suffixes_give_no_value() {
        // ✓run: `max_payload = 1kbb` is "valid" and sets nothing.
        for text in ["1kbb", "1bi", "1kbi", "1mbib", "1ii", "1kB B"] {
            assert_eq!(integer(text), Ok(None), "{text}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(float("2.2"), Ok(2.2));
        assert_eq!(float("-0.25"), Ok(-0.25));
        assert_eq!(float("0.000"), Ok(0.0));
        let huge = format!("1{}.0", "0".repeat(400));
        assert_eq!(
            float(&huge),
            Err(format!("float '{huge}' is out of the range"))
        );
        let tiny = format!("0.{}1", "0".repeat(400));
        assert_eq!(float(&tiny), Ok(0.0));
        assert_eq!(
            float("1.\u{661}"),
            Err("expected float, but got '1.\u{661}'".to_string())
        );
    }

    #[test]
    fn booleans() {
        for word in ["true", "TRUE", "Yes", "on", "ON"] {
            assert_eq!(boolean(word), Ok(true), "{word}");
        }
        for word in ["false", "No", "off", "OFF"] {
            assert_eq!(boolean(word), Ok(false), "{word}");
        }
        assert_eq!(
            boolean("maybe"),
            Err("expected boolean value, but got 'maybe'".to_string())
        );
    }

    #[test]
    fn datetimes() {
        let dt = datetime("2016-05-04T18:53:41Z").unwrap();
        assert_eq!(
            (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second),
            (2016, 5, 4, 18, 53, 41)
        );
        assert!(datetime("2016-02-29T00:00:00Z").is_ok());
        assert!(datetime("2000-02-29T23:59:59Z").is_ok());
        assert!(datetime("0000-02-29T00:00:00Z").is_ok());
        for bad in [
            "2015-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-00-01T00:00:00Z",
            "2016-04-31T00:00:00Z",
            "2016-04-00T00:00:00Z",
            "2016-04-01T24:00:00Z",
            "2016-04-01T00:60:00Z",
            "2016-04-01T00:00:60Z",
            "2016-04-01T00:00:0\u{661}Z",
        ] {
            assert_eq!(
                datetime(bad),
                Err(format!("expected Zulu formatted DateTime, but got '{bad}'")),
                "{bad}"
            );
        }
    }
}
