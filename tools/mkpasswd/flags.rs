//! Command line flags, parsed the way Go's `flag` package parsed them for the
//! original tool: `-p`, `-p=true`, `--p`, `-c 12`, `-c=12`, `--c 12`; parsing
//! stops at the first non-flag argument, at `-` or after `--`; a repeated flag
//! keeps its last value; `-h`/`-help` ask for the usage text.

use natsd::gostrconv;

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
    let Some(value) = value else { return Ok(true) };
    gostrconv::parse_bool(value)
        .map_err(|e| invalid(format!("invalid boolean value {value:?} for -p: {e}")))
}

/// `-c`'s value, from `-c=<v>` or the next argument.
fn int_value(value: Option<&str>) -> Result<i64, FlagError> {
    let value = value.ok_or_else(|| invalid("flag needs an argument: -c".to_string()))?;
    gostrconv::parse_int(value)
        .map_err(|e| invalid(format!("invalid value {value:?} for flag -c: {e}")))
}

fn invalid(msg: String) -> FlagError {
    FlagError::Invalid(msg)
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
    fn usage_texts() {
        assert!(USAGE.ends_with("[-c COST] \n"));
        assert_eq!(DEFAULTS.lines().count(), 3);
    }
}
