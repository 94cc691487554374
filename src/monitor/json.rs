//! JSON text byte-identical to Go's `encoding/json` (as of Go 1.19, the
//! toolchain of nats-server 2.9), for the monitoring endpoints.
//!
//! serde_json's layout already matches Go's: `MarshalIndent(v, "", "  ")`
//! puts every member and element on its own line, writes `"key": value`,
//! and prints empty arrays and objects as `[]` and `{}`, exactly as
//! [`PrettyFormatter`] with a two-space indent does. What differs is the
//! text of scalars, which [`GoFormatter`] rewrites while serde_json emits it:
//!
//! * Strings: `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`; U+2028
//!   and U+2029 become `\u2028` and `\u2029`; control characters other than
//!   `\n`, `\r` and `\t` use `\u00XX` with lowercase hex digits (Go 1.19 has
//!   no `\b` or `\f` short forms). Other non-ASCII text and DEL are written
//!   raw. Object keys go through the same escaping, as in Go.
//! * Floats: integral values print without a fraction (`2`), others with the
//!   shortest digits that round-trip (`0.1`); exponent form only when the
//!   magnitude is below 1e-6 or at least 1e21, written `1e-7` and `1e+21`.
//!   `-0.0` prints `-0`, as Go does.
//!
//! Known differences that the caller must avoid:
//!
//! * NaN and ±Inf: Go's `Marshal` fails on them; serde_json writes `null`
//!   before the formatter sees the value. natsd never emits them.
//! * A unit struct (`struct S;`) serializes as `null`; declare empty
//!   structs as `struct S {}` to get Go's `{}`.
//! * Go sorts map keys by their string form (so integer key `10` sorts
//!   before `9`); use a `BTreeMap<String, _>` to get Go's order.
//! * `Vec<u8>` serializes as an array of numbers, not Go's base64 string.

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};
use std::fmt::{Display, LowerExp};
use std::io;

/// `json.MarshalIndent(v, "", "  ")`: two-space indent, `"key": value`, no
/// trailing newline.
///
/// # Panics
///
/// If `value`'s `Serialize` implementation fails, e.g. a map whose keys are
/// not strings or integers; natsd's monitoring types never do.
pub fn to_indented<T: Serialize + ?Sized>(value: &T) -> String {
    serialize(value, PrettyFormatter::with_indent(b"  "))
}

/// `json.Marshal(v)`: compact output, no trailing newline.
///
/// # Panics
///
/// As [`to_indented`].
pub fn to_compact<T: Serialize + ?Sized>(value: &T) -> String {
    serialize(value, CompactFormatter)
}

fn serialize<T: Serialize + ?Sized, F: Formatter>(value: &T, layout: F) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter { layout });
    value
        .serialize(&mut ser)
        .expect("gojson: value failed to serialize");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Wraps a layout formatter (pretty or compact) and writes strings and floats
/// the way Go's `encoding/json` does.
struct GoFormatter<F> {
    layout: F,
}

/// Forwards the listed structural [`Formatter`] methods to `self.layout`.
macro_rules! forward_layout {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                self.layout.$name(w $(, $arg)*)
            }
        )*
    };
}

impl<F: Formatter> Formatter for GoFormatter<F> {
    forward_layout! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        // Go compares in float32 for 32-bit floats.
        let abs = value.abs();
        write_go_float(w, value, abs != 0.0 && !(1e-6..1e21).contains(&abs))
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        let abs = value.abs();
        write_go_float(w, value, abs != 0.0 && !(1e-6..1e21).contains(&abs))
    }

    /// serde_json hands over runs of text that need no JSON escaping; Go
    /// additionally escapes HTML-significant characters and the JavaScript
    /// line terminators U+2028/U+2029.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(escape)?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let byte = match escape {
            CharEscape::Quote => return w.write_all(b"\\\""),
            CharEscape::ReverseSolidus => return w.write_all(b"\\\\"),
            // Go never escapes '/'; serde_json never asks for it either.
            CharEscape::Solidus => return w.write_all(b"/"),
            CharEscape::LineFeed => return w.write_all(b"\\n"),
            CharEscape::CarriageReturn => return w.write_all(b"\\r"),
            CharEscape::Tab => return w.write_all(b"\\t"),
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0c,
            CharEscape::AsciiControl(byte) => byte,
        };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        w.write_all(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ])
    }
}

/// Writes a finite float as Go's `floatEncoder` does: `strconv` shortest
/// digits in `'f'` form, or in `'e'` form when `exponent` is set, with the
/// exponent's leading zero dropped (`1e-07` → `1e-7`) but its `+` sign kept.
///
/// Rust's `Display` and `LowerExp` without a precision print the same
/// shortest round-trip digits; `LowerExp` never pads the exponent and omits
/// the `+`, so only the sign needs adding.
fn write_go_float<W, V>(w: &mut W, value: V, exponent: bool) -> io::Result<()>
where
    W: ?Sized + io::Write,
    V: Display + LowerExp,
{
    if !exponent {
        return write!(w, "{value}");
    }
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => write!(w, "{mantissa}e+{exp}"),
        _ => w.write_all(text.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Empty {}

    #[derive(Serialize)]
    struct Inner {
        name: String,
        tags: Vec<String>,
        ratio: f64,
    }

    #[derive(Serialize)]
    struct Outer {
        server_id: &'static str,
        now: &'static str,
        empty_list: Vec<u32>,
        empty_map: BTreeMap<String, u32>,
        empty_struct: Empty,
        list: Vec<Inner>,
        map: BTreeMap<String, u64>,
        missing: Option<u32>,
        ok: bool,
        cpu: f64,
        mem: i64,
    }

    fn sample() -> Outer {
        let mut map = BTreeMap::new();
        map.insert("a<b".to_string(), 1);
        map.insert("z".to_string(), 18_446_744_073_709_551_615);
        Outer {
            server_id: "NABC",
            now: "2024-02-29T12:00:00.5Z",
            empty_list: Vec::new(),
            empty_map: BTreeMap::new(),
            empty_struct: Empty {},
            list: vec![
                Inner {
                    name: "µ & co".into(),
                    tags: vec!["x".into(), "y".into()],
                    ratio: 2.0,
                },
                Inner {
                    name: String::new(),
                    tags: Vec::new(),
                    ratio: 0.7142857142857143,
                },
            ],
            map,
            missing: None,
            ok: true,
            cpu: 0.1,
            mem: -42,
        }
    }

    #[test]
    fn indented_matches_go_marshal_indent() {
        let expected = r#"{
  "server_id": "NABC",
  "now": "2024-02-29T12:00:00.5Z",
  "empty_list": [],
  "empty_map": {},
  "empty_struct": {},
  "list": [
    {
      "name": "µ \u0026 co",
      "tags": [
        "x",
        "y"
      ],
      "ratio": 2
    },
    {
      "name": "",
      "tags": [],
      "ratio": 0.7142857142857143
    }
  ],
  "map": {
    "a\u003cb": 1,
    "z": 18446744073709551615
  },
  "missing": null,
  "ok": true,
  "cpu": 0.1,
  "mem": -42
}"#;
        assert_eq!(to_indented(&sample()), expected);
    }

    #[test]
    fn compact_matches_go_marshal() {
        let expected = concat!(
            r#"{"server_id":"NABC","now":"2024-02-29T12:00:00.5Z","empty_list":[],"#,
            r#""empty_map":{},"empty_struct":{},"list":[{"name":"µ \u0026 co","#,
            r#""tags":["x","y"],"ratio":2},{"name":"","tags":[],"ratio":0.7142857142857143}],"#,
            r#""map":{"a\u003cb":1,"z":18446744073709551615},"missing":null,"ok":true,"#,
            r#""cpu":0.1,"mem":-42}"#
        );
        assert_eq!(to_compact(&sample()), expected);
    }

    #[test]
    fn top_level_empty_containers() {
        assert_eq!(to_indented(&Empty {}), "{}");
        assert_eq!(to_indented(&Vec::<u8>::new()), "[]");
        assert_eq!(to_indented(&vec![Empty {}]), "[\n  {}\n]");
        assert_eq!(to_compact(&vec![Vec::<u8>::new()]), "[[]]");
        assert_eq!(to_indented(&vec![Vec::<u8>::new()]), "[\n  []\n]");
    }

    #[test]
    fn float64_format() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (2.0, "2"),
            (-3.0, "-3"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (0.7142857142857143, "0.7142857142857143"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (123456789.125, "123456789.125"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-7, "1e-7"),
            (-1e-7, "-1e-7"),
            (1.2345e-8, "1.2345e-8"),
            (1e-10, "1e-10"),
            (5e-324, "5e-324"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (-2e22, "-2e+22"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for &(value, expected) in cases {
            assert_eq!(to_compact(&value), expected, "{value:?}");
        }
    }

    #[test]
    fn float32_format() {
        let cases: &[(f32, &str)] = &[
            (0.0, "0"),
            (2.0, "2"),
            (0.1, "0.1"),
            (3.4028235e38, "3.4028235e+38"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (16777216.0, "16777216"),
        ];
        for &(value, expected) in cases {
            assert_eq!(to_compact(&value), expected, "{value:?}");
        }
    }

    #[test]
    fn non_finite_floats_print_null() {
        assert_eq!(to_compact(&f64::NAN), "null");
        assert_eq!(to_compact(&f64::INFINITY), "null");
    }

    #[test]
    fn string_escaping() {
        let cases: &[(&str, &str)] = &[
            ("plain", r#""plain""#),
            (
                "<a href=\"x\">&</a>",
                r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#,
            ),
            ("µs", "\"µs\""),
            ("日本", "\"日本\""),
            ("a\u{2028}b\u{2029}c", r#""a\u2028b\u2029c""#),
            ("\u{2027}\u{202a}", "\"\u{2027}\u{202a}\""),
            ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
            ("\u{8}\u{c}", r#""\u0008\u000c""#),
            ("\u{0}\u{1}\u{1f}\u{b}", r#""\u0000\u0001\u001f\u000b""#),
            ("back\\slash /", r#""back\\slash /""#),
            ("del\u{7f}", "\"del\u{7f}\""),
            ("'", r#""'""#),
            ("<", r#""\u003c""#),
            ("", r#""""#),
        ];
        for &(input, expected) in cases {
            assert_eq!(to_compact(input), expected, "{input:?}");
            assert_eq!(to_indented(input), expected, "{input:?}");
        }
    }

    #[test]
    fn char_and_keys_escaped() {
        assert_eq!(to_compact(&'&'), r#""\u0026""#);
        let mut map = BTreeMap::new();
        map.insert("<k>", "\u{2028}");
        assert_eq!(
            to_indented(&map),
            "{\n  \"\\u003ck\\u003e\": \"\\u2028\"\n}"
        );
    }

    #[test]
    fn serde_json_value_uses_go_rules() {
        let value = serde_json::json!({"f": 3.0, "s": ">", "n": [], "o": {}});
        assert_eq!(to_compact(&value), r#"{"f":3,"n":[],"o":{},"s":"\u003e"}"#);
    }
}
