//! Go's `strconv` number and bool syntax, as Go's `flag` package accepts values: `ParseBool`,
//! and `ParseInt`/`ParseUint` with base 0 and 64 bits (`0x`/`0o`/`0b` prefixes, a leading `0`
//! for octal, `_` between digits). Used by natsd's command line (`cli`) and by `mkpasswd`.

use std::fmt;

/// Why a value does not parse; displays as Go's `flag` package words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// `strconv.ErrSyntax`.
    Syntax,
    /// `strconv.ErrRange`.
    Range,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Syntax => "parse error",
            ParseError::Range => "value out of range",
        })
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Result<bool, ParseError> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ParseError::Syntax),
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`: optional sign, then as [`parse_uint`].
pub fn parse_int(text: &str) -> Result<i64, ParseError> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_uint(digits)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
    .ok_or(ParseError::Range)
}

/// Go's `strconv.ParseUint(text, 0, 64)`: `0x`/`0o`/`0b` prefixes, a leading `0` for octal,
/// `_` between digits. As in Go, overflow is reported as soon as it happens, before a syntax
/// error later in the text.
pub fn parse_uint(text: &str) -> Result<u64, ParseError> {
    let bytes = text.as_bytes();
    let (base, digits): (u8, &[u8]) = match bytes {
        [] => return Err(ParseError::Syntax),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'b') => (2, &bytes[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'o') => (8, &bytes[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'x') => (16, &bytes[2..]),
        [b'0', ..] => (8, &bytes[1..]),
        _ => (10, bytes),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let digit = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' | b'A'..=b'Z' => c.to_ascii_lowercase() - b'a' + 10,
            _ => return Err(ParseError::Syntax),
        };
        if digit >= base {
            return Err(ParseError::Syntax);
        }
        n = n
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(digit)))
            .ok_or(ParseError::Range)?;
    }
    if underscores && !underscores_ok(bytes) {
        return Err(ParseError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.underscoreOK` for an unsigned number: each `_` sits between digits, or between
/// a base prefix and a digit.
fn underscores_ok(bytes: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Other;
    let mut rest = bytes;
    let mut hex = false;
    if let [b'0', prefix, tail @ ..] = bytes {
        let prefix = prefix.to_ascii_lowercase();
        if matches!(prefix, b'b' | b'o' | b'x') {
            saw = Saw::Digit;
            hex = prefix == b'x';
            rest = tail;
        }
    }
    for &c in rest {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_prefixes_and_underscores() {
        for (text, value) in [
            ("0", 0),
            ("0x10", 16),
            ("0X1f", 31),
            ("0o17", 15),
            ("0O17", 15),
            ("010", 8),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1_0", 16),
            ("0x_1F", 31),
            ("+5", 5),
            ("-5", -5),
        ] {
            assert_eq!(parse_int(text), Ok(value), "{text}");
        }
    }

    #[test]
    fn int_limits() {
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int("9223372036854775808"), Err(ParseError::Range));
        assert_eq!(parse_int("-9223372036854775809"), Err(ParseError::Range));
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        // Overflow is reported before a later syntax error, as in Go.
        assert_eq!(parse_uint("99999999999999999999x"), Err(ParseError::Range));
    }

    #[test]
    fn syntax_errors() {
        for bad in ["", "-", "0x", "08", "1__2", "_12", "12_", "1 2", "١٢"] {
            assert_eq!(parse_int(bad), Err(ParseError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_uint("+1"), Err(ParseError::Syntax));
    }

    #[test]
    fn bools_and_error_words() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(text), Ok(true), "{text}");
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(text), Ok(false), "{text}");
        }
        assert_eq!(parse_bool("yes"), Err(ParseError::Syntax));
        assert_eq!(ParseError::Syntax.to_string(), "parse error");
        assert_eq!(ParseError::Range.to_string(), "value out of range");
    }
}
