//! Command line flags, parsed the way Go's `flag` package parsed them for the
//! original tool: `-p`, `-p=true`, `--p`, `-c 12`, `-c=12`, `--c 12`; parsing
//! stops at the first non-flag argument, at `-` or after `--`; a repeated flag
//! keeps its last value; `-h`/`-help` ask for the usage text.

use std::fmt;

/// mkpasswd's default bcrypt cost.
pub const DEFAULT_COST: i64 = 11;

/// The usage line, printed on stdout (the trailing space is Go's).
pub const USAGE: &str = "Usage: mkpasswd [-p <stdin password>] [-c COST] \n";

/// Go's `flag.PrintDefaults()` output, printed on stderr after [`USAGE`].
pub const DEFAULTS: &str =
    "  -c int\n    \tThe cost weight, range of 4-31 (default 11)\n  -p\tInput password via stdin\n";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-p`: read the password from stdin instead of generating one.
    pub prompt: bool,
    /// `-c`: the bcrypt cost, as given (range checks happen when hashing).
    pub cost: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prompt: false,
            cost: DEFAULT_COST,
        }
    }
}

/// Why the command line was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    /// `-h`/`-help`: print the usage, exit 0.
    Help,
    /// A bad flag: print this message and the usage, exit 2.
    Invalid(String),
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Options, FlagError> {
    let mut opts = Options::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(flag) = flag_body(arg)? else { break };
        let (name, value) = split_value(flag);
        match name {
            "p" => opts.prompt = bool_value(value)?,
            "c" => {
                let value = value.or_else(|| rest.next().map(String::as_str));
                opts.cost = int_value(value)?;
            }
            "h" | "help" => return Err(FlagError::Help),
            _ => return Err(invalid(format!("flag provided but not defined: -{name}"))),
        }
    }
    Ok(opts)
}

/// The flag text after its dashes, `None` when `arg` ends the flags.
fn flag_body(arg: &str) -> Result<Option<&str>, FlagError> {
    if arg == "--" || arg.len() < 2 || !arg.starts_with('-') {
        return Ok(None);
    }
    let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
    if body.is_empty() || body.starts_with(['-', '=']) {
        return Err(invalid(format!("bad flag syntax: {arg}")));
    }
    Ok(Some(body))
}

/// Splits `name=value` at the first `=` (a flag name is never empty).
fn split_value(flag: &str) -> (&str, Option<&str>) {
    match flag.bytes().skip(1).position(|b| b == b'=') {
        Some(at) => (&flag[..=at], Some(&flag[at + 2..])),
        None => (flag, None),
    }
}

/// `-p` alone means true; `-p=<v>` takes Go's `strconv.ParseBool` spellings.
fn bool_value(value: Option<&str>) -> Result<bool, FlagError> {
    match value {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(invalid(format!(
            "invalid boolean value {v:?} for -p: parse error"
        ))),
    }
}

/// `-c`'s value, from `-c=<v>` or the next argument.
fn int_value(value: Option<&str>) -> Result<i64, FlagError> {
    let value = value.ok_or_else(|| invalid("flag needs an argument: -c".to_string()))?;
    parse_go_int(value).map_err(|e| invalid(format!("invalid value {value:?} for flag -c: {e}")))
}

fn invalid(msg: String) -> FlagError {
    FlagError::Invalid(msg)
}

/// Why a number did not parse, worded as Go's `flag` package words it.
#[derive(Debug, PartialEq, Eq)]
pub enum IntError {
    Syntax,
    Range,
}

impl fmt::Display for IntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntError::Syntax => "parse error",
            IntError::Range => "value out of range",
        })
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b`/`0`
/// prefixes, `_` digit separators.
pub fn parse_go_int(s: &str) -> Result<i64, IntError> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_go_uint(unsigned)?;
    let limit = 1u64 << 63;
    match (negative, magnitude) {
        (false, m) if m < limit => Ok(m as i64),
        (true, m) if m <= limit => Ok((m as i64).wrapping_neg()),
        _ => Err(IntError::Range),
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_go_uint(s: &str) -> Result<u64, IntError> {
    if s.is_empty() {
        return Err(IntError::Syntax);
    }
    let (radix, digits) = split_radix(s);
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(radix).ok_or(IntError::Syntax)?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(IntError::Range)?;
    }
    if underscores && !underscores_ok(s) {
        return Err(IntError::Syntax);
    }
    Ok(n)
}

/// The radix a base prefix names and the digits after it.
fn split_radix(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b[0] != b'0' {
        return (10, s);
    }
    match b.get(1).map(u8::to_ascii_lowercase) {
        Some(b'b') if b.len() >= 3 => (2, &s[2..]),
        Some(b'o') if b.len() >= 3 => (8, &s[2..]),
        Some(b'x') if b.len() >= 3 => (16, &s[2..]),
        _ => (8, &s[1..]),
    }
}

/// Go's `underscoreOK`: each `_` sits between digits (a base prefix counts
/// as a digit).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut i, mut saw, mut hex) = (0, b'^', false);
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        (i, saw, hex) = (2, b'0', b[1].eq_ignore_ascii_case(&b'x'));
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parsed(list: &[&str]) -> Options {
        parse(&args(list)).expect("flags parse")
    }

    fn error(list: &[&str]) -> String {
        match parse(&args(list)) {
            Err(FlagError::Invalid(msg)) => msg,
            other => panic!("expected an invalid flag, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parsed(&[]),
            Options {
                prompt: false,
                cost: 11
            }
        );
    }

    #[test]
    fn cost_spellings() {
        for list in [
            &["-c", "12"][..],
            &["-c=12"],
            &["--c", "12"],
            &["--c=12"],
            &["-c", "0xc"],
            &["-c", "014"],
            &["-c", "1_2"],
            &["-c", "+12"],
            &["-c", "3", "-c", "12"],
        ] {
            assert_eq!(parsed(list).cost, 12, "{list:?}");
        }
        assert_eq!(parsed(&["-c", "-5"]).cost, -5);
    }

    #[test]
    fn prompt_spellings() {
        for list in [&["-p"][..], &["--p"], &["-p=true"], &["-p=1"], &["-p=T"]] {
            assert!(parsed(list).prompt, "{list:?}");
        }
        for list in [&["-p=false"][..], &["-p", "-p=0"], &[]] {
            assert!(!parsed(list).prompt, "{list:?}");
        }
        // A bool flag never takes the next argument: parsing stops there.
        assert_eq!(
            parsed(&["-p", "false", "-c", "40"]),
            Options {
                prompt: true,
                cost: 11
            }
        );
    }

    #[test]
    fn parsing_stops_at_non_flags() {
        for list in [&["x", "-c", "40"][..], &["-", "-c=40"], &["--", "-c=40"]] {
            assert_eq!(parsed(list).cost, 11, "{list:?}");
        }
        assert_eq!(
            parsed(&["-c", "5", "--", "-p"]),
            Options {
                prompt: false,
                cost: 5
            }
        );
    }

    #[test]
    fn help() {
        for list in [
            &["-h"][..],
            &["--help"],
            &["-help"],
            &["-h=x"],
            &["-c", "5", "-h"],
        ] {
            assert_eq!(parse(&args(list)), Err(FlagError::Help), "{list:?}");
        }
    }

    #[test]
    fn go_error_messages() {
        assert_eq!(error(&["-x"]), "flag provided but not defined: -x");
        assert_eq!(error(&["--cost=3"]), "flag provided but not defined: -cost");
        assert_eq!(error(&["---c"]), "bad flag syntax: ---c");
        assert_eq!(error(&["-=5"]), "bad flag syntax: -=5");
        assert_eq!(error(&["-c"]), "flag needs an argument: -c");
        assert_eq!(
            error(&["-c", "abc"]),
            r#"invalid value "abc" for flag -c: parse error"#
        );
        assert_eq!(
            error(&["-c="]),
            r#"invalid value "" for flag -c: parse error"#
        );
        assert_eq!(
            error(&["-c", "99999999999999999999"]),
            r#"invalid value "99999999999999999999" for flag -c: value out of range"#
        );
        assert_eq!(
            error(&["-p=yes"]),
            r#"invalid boolean value "yes" for -p: parse error"#
        );
    }

    #[test]
    fn go_int_syntax() {
        assert_eq!(parse_go_int("0"), Ok(0));
        assert_eq!(parse_go_int("0b101"), Ok(5));
        assert_eq!(parse_go_int("0O17"), Ok(15));
        assert_eq!(parse_go_int("0x_1F"), Ok(31));
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_go_int("9223372036854775808"), Err(IntError::Range));
        for bad in ["", "-", "0x", "08", "1__2", "_12", "12_", "1 2", "١٢"] {
            assert_eq!(parse_go_int(bad), Err(IntError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn usage_texts() {
        assert!(USAGE.ends_with("[-c COST] \n"));
        assert_eq!(DEFAULTS.lines().count(), 3);
    }
}
