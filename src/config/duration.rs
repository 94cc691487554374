//! Go's `time.ParseDuration`, with its error texts.

/// Nanoseconds per unit, as Go's `unitMap`.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// 2⁶³, the magnitude limit of a Go duration.
const LIMIT: u64 = 1 << 63;

/// Parses a Go duration (`"1h2m3.5s"`, `"-1.5ms"`, `"0"`) into nanoseconds.
///
/// Errors read as Go's: `time: invalid duration "x"`, `time: missing unit in duration "5"`,
/// `time: unknown unit "x" in duration "2x"`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(text.as_bytes()));
    let mut rest = text.as_bytes();
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'-' | b'+')) {
        rest = &rest[1..];
    }
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !(rest[0] == b'.' || rest[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let (whole, after) = leading_int(rest).ok_or_else(invalid)?;
        let had_whole = after.len() != rest.len();
        rest = after;
        let (mut fraction, mut scale, mut had_fraction) = (0, 1.0, false);
        if let Some(after_point) = rest.strip_prefix(b".") {
            let (f, s, after) = leading_fraction(after_point);
            (fraction, scale, had_fraction) = (f, s, after.len() != after_point.len());
            rest = after;
        }
        if !had_whole && !had_fraction {
            return Err(invalid());
        }
        let unit_len = rest
            .iter()
            .position(|&b| b == b'.' || b.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                quote(text.as_bytes())
            ));
        }
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let Some(&(_, per_unit)) = UNITS.iter().find(|(name, _)| name.as_bytes() == unit) else {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                quote(unit),
                quote(text.as_bytes())
            ));
        };
        if whole > LIMIT / per_unit {
            return Err(invalid());
        }
        let mut value = whole * per_unit;
        if fraction > 0 {
            // As Go: float64 keeps this nanosecond-accurate up to hours.
            value += (fraction as f64 * (per_unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        // Go adds in uint64, which wraps (2⁶³ + 2⁶³ is 0): reproduced, not trapped.
        total = total.wrapping_add(value);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        // total <= 2^63, so the negation fits.
        return Ok((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `leadingInt`: the leading digits, or `None` past 2⁶³.
fn leading_int(text: &[u8]) -> Option<(u64, &[u8])> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut value: u64 = 0;
    for &digit in &text[..digits] {
        if value > LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(digit - b'0');
        if value > LIMIT {
            return None;
        }
    }
    Some((value, &text[digits..]))
}

/// Go's `leadingFraction`: the leading digits as `value / scale`, dropping precision
/// rather than overflowing.
fn leading_fraction(text: &[u8]) -> (u64, f64, &[u8]) {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (mut value, mut scale, mut overflow) = (0u64, 1.0, false);
    for &digit in &text[..digits] {
        if overflow {
            continue;
        }
        if value > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(digit - b'0');
        if next > LIMIT {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[digits..])
}

/// The `time` package's own quoting: non-ASCII and control bytes as `\xNN`, `"` and `\`
/// escaped.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7f => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn valid_durations() {
        let cases = [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("2s", 2 * S),
            ("+5m", 300 * S),
            ("-1.5s", -1_500_000_000),
            ("1h2m3.5s", 3723 * S + S / 2),
            ("500ms", 500_000_000),
            ("1us", 1_000),
            ("1µs", 1_000),
            ("1μs", 1_000),
            ("7ns", 7),
            (".5s", 500_000_000),
            ("5.s", 5 * S),
            ("1.0000000001s", S),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
            // ✓ref: Go's sum wraps.
            ("9223372036854775808ns9223372036854775808ns", 0),
            ("9223372036854775808ns9223372036854775808ns30s", 30 * S),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn go_error_texts() {
        let cases = [
            ("", r#"time: invalid duration """#),
            ("x", r#"time: invalid duration "x""#),
            ("-", r#"time: invalid duration "-""#),
            (".s", r#"time: invalid duration ".s""#),
            ("5", r#"time: missing unit in duration "5""#),
            ("1.5.5s", r#"time: missing unit in duration "1.5.5s""#),
            ("2x", r#"time: unknown unit "x" in duration "2x""#),
            (
                "1µx",
                r#"time: unknown unit "\xc2\xb5x" in duration "1\xc2\xb5x""#,
            ),
            ("\u{1}", r#"time: invalid duration "\x01""#),
            ("a\"b", r#"time: invalid duration "a\"b""#),
            (
                "9999999999999999999h",
                r#"time: invalid duration "9999999999999999999h""#,
            ),
            (
                "2562047h47m16.854775808s",
                r#"time: invalid duration "2562047h47m16.854775808s""#,
            ),
            (
                "99999999999999999999ns",
                r#"time: invalid duration "99999999999999999999ns""#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Err(want.to_string()), "{text}");
        }
    }
}
