//! Character classes and text helpers with the exact semantics of the Go
//! functions the reference lexer relies on (`unicode.IsDigit`,
//! `utf8.DecodeRune`, `strings.ToLower` comparisons).

/// The rune the lexer sees at the end of input. The reference also reads a
/// literal NUL byte as this value, so a NUL in the input behaves like EOF in
/// every comparison (it still has a width of one byte).
pub(crate) const EOF: char = '\0';

/// Inclusive ranges of Unicode category `Nd` as of Unicode 13.0 (the table of
/// Go 1.19, which built nats-server 2.9.10).
const DECIMAL_DIGITS: &[(u32, u32)] = &[
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

/// Go's `unicode.IsDigit`: any decimal digit (category `Nd`), not only ASCII.
pub(crate) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    let c = u32::from(c);
    DECIMAL_DIGITS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Go's `unicode.IsSpace` (identical to the Unicode `White_Space` property).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Space or tab: the only whitespace allowed inside a line between tokens.
pub(crate) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Newline characters; only `\n` advances the line counter.
pub(crate) fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Decodes the rune at the start of `bytes` like Go's
/// `utf8.DecodeRuneInString`: an invalid or truncated sequence yields
/// U+FFFD with a width of one byte. `bytes` must not be empty.
pub(crate) fn decode_rune(bytes: &[u8]) -> (char, usize) {
    let window = &bytes[..bytes.len().min(4)];
    let valid = match std::str::from_utf8(window) {
        Ok(text) => text,
        Err(err) => std::str::from_utf8(&window[..err.valid_up_to()]).unwrap_or(""),
    };
    match valid.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// Whether `strings.ToLower(text) == word` in Go, for an ASCII lowercase
/// `word`. Go lowercases rune by rune with the simple case mapping, under
/// which the only non-ASCII rune mapping to an ASCII letter is U+0130 (`İ` →
/// `i`); Kelvin sign and friends map to letters none of our words need.
pub(crate) fn go_lower_eq(text: &[u8], word: &str) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    let mut expected = word.chars();
    for c in text.chars() {
        let Some(want) = expected.next() else {
            return false;
        };
        let lowered = if c == '\u{130}' {
            'i'
        } else {
            c.to_ascii_lowercase()
        };
        if lowered != want {
            return false;
        }
    }
    expected.next().is_none()
}

/// Renders a rune inside a lexer error message the way the reference does:
/// a newline becomes the two characters `\n`, everything else (including the
/// NUL used for EOF) is written as is.
pub(crate) fn escape_special(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_follow_go_unicode_is_digit() {
        assert!(is_digit('0') && is_digit('9'));
        assert!(is_digit('\u{661}')); // ARABIC-INDIC DIGIT ONE
        assert!(is_digit('\u{FF15}')); // FULLWIDTH DIGIT FIVE
        assert!(is_digit('\u{1D7FF}')); // last of the mathematical digits
        assert!(!is_digit('a') && !is_digit('/') && !is_digit(':'));
        assert!(!is_digit('\u{B2}')); // SUPERSCRIPT TWO is `No`, not `Nd`
        assert!(!is_digit('\u{2167}')); // ROMAN NUMERAL EIGHT is `Nl`
        assert!(!is_digit('\u{16AC0}')); // Tangsa digits arrived in Unicode 14
    }

    #[test]
    fn space_classes() {
        for c in [
            ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{2003}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        assert!(!is_space('\0') && !is_space('x'));
        assert!(is_blank(' ') && is_blank('\t') && !is_blank('\n'));
        assert!(is_newline('\n') && is_newline('\r') && !is_newline(' '));
    }

    #[test]
    fn decode_rune_matches_go() {
        assert_eq!(decode_rune(b"a"), ('a', 1));
        assert_eq!(decode_rune("é!".as_bytes()), ('é', 2));
        assert_eq!(decode_rune("€".as_bytes()), ('€', 3));
        assert_eq!(decode_rune("😀x".as_bytes()), ('😀', 4));
        assert_eq!(decode_rune(b"\xff\x41"), ('\u{FFFD}', 1));
        assert_eq!(decode_rune(b"\xe2\x82"), ('\u{FFFD}', 1)); // truncated
        assert_eq!(decode_rune(b"\xed\xa0\x80"), ('\u{FFFD}', 1)); // surrogate
        assert_eq!(decode_rune(b"\xc0\xaf"), ('\u{FFFD}', 1)); // overlong
        assert_eq!(decode_rune(b"\0"), ('\0', 1));
    }

    #[test]
    fn lowercase_comparison() {
        assert!(go_lower_eq(b"include", "include"));
        assert!(go_lower_eq(b"INCLUDE", "include"));
        assert!(go_lower_eq("\u{130}nclude".as_bytes(), "include"));
        assert!(!go_lower_eq(b"includes", "include"));
        assert!(!go_lower_eq(b"inclUd", "include"));
        assert!(!go_lower_eq(b"\xffnclude", "include"));
        assert!(go_lower_eq(b"YeS", "yes"));
    }

    #[test]
    fn special_escaping() {
        assert_eq!(escape_special('\n'), "\\n");
        assert_eq!(escape_special('\0'), "\0");
        assert_eq!(escape_special('x'), "x");
    }
}
