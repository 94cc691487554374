//! `mkpasswd`: makes bcrypt password hashes for natsd configuration files,
//! a port of the `util/mkpasswd` tool shipped with gnatsd/nats-server ≤ 2.2.
//!
//! ```text
//! mkpasswd            generate a random 22-character password, print it and its hash
//! mkpasswd -p         read the password twice from stdin (not echoed on a terminal)
//! mkpasswd -c COST    bcrypt cost, 4-31 (default 11)
//! ```
//!
//! Output is `pass: <password>` (generated passwords only) then
//! `bcrypt hash: <hash>`, the hash in the `$2a$` form Go's `crypto/bcrypt`
//! writes. Errors go to stderr with exit status 1; a bad flag prints the
//! usage with exit status 2, `-h` with 0. When stdin is not a terminal, `-p`
//! reads the two passwords as lines, so the tool can be scripted.

mod flags;
mod input;

use std::io::{self, Write};
use std::process::exit;

use flags::{FlagError, Options};
use input::PasswordSource;

/// Length of a generated password.
const PASSWORD_LENGTH: usize = 22;

/// The characters a generated password is drawn from.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@$#%^&*()";

/// bcrypt's cost bounds.
const MIN_COST: i64 = 4;
const MAX_COST: i64 = 31;

/// The cost Go's `bcrypt.GenerateFromPassword` substitutes for one below
/// [`MIN_COST`] (its `bcrypt.DefaultCost`, not mkpasswd's default of 11).
const BELOW_MIN_COST: i64 = 10;

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let opts = flags::parse(&args).unwrap_or_else(|err| exit(usage(err)));
    let mut source = input::stdin_source();
    if let Err(msg) = run(&opts, source.as_mut(), &mut io::stdout()) {
        eprintln!("{msg}");
        exit(1);
    }
}

/// Prints the usage for a rejected command line; returns the exit status.
fn usage(err: FlagError) -> i32 {
    let status = match err {
        FlagError::Help => 0,
        FlagError::Invalid(msg) => {
            eprintln!("{msg}");
            2
        }
    };
    print!("{}", flags::USAGE);
    let _ = io::stdout().flush();
    eprint!("{}", flags::DEFAULTS);
    status
}

/// Does what `opts` asks, writing to `out`; `Err` holds the message for
/// stderr (exit status 1).
fn run(opts: &Options, source: &mut dyn PasswordSource, out: &mut dyn Write) -> Result<(), String> {
    let password = if opts.prompt {
        prompt_password(source, out)?
    } else {
        let password = generate_password()?;
        emit(out, &format!("pass: {password}\n"));
        password.into_bytes()
    };
    let hash = hash_password(&password, opts.cost)?;
    emit(out, &format!("bcrypt hash: {hash}\n"));
    Ok(())
}

/// The `-p` dialogue: the password twice, which must match.
fn prompt_password(
    source: &mut dyn PasswordSource,
    out: &mut dyn Write,
) -> Result<Vec<u8>, String> {
    emit(out, "Enter Password: ");
    let first = read_password(source)?;
    emit(out, "\nReenter Password: ");
    let second = read_password(source)?;
    if first != second {
        return Err("Error, passwords do not match".to_string());
    }
    emit(out, "\n");
    Ok(first)
}

fn read_password(source: &mut dyn PasswordSource) -> Result<Vec<u8>, String> {
    source
        .read_password()
        .map_err(|e| format!("Error reading password: {}", input::go_error_text(&e)))
}

/// Writes to stdout as Go's `fmt.Printf` did: at once, errors ignored.
fn emit(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A random password of [`PASSWORD_LENGTH`] characters from [`ALPHABET`].
fn generate_password() -> Result<String, String> {
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    let mut random = [0u8; 2 * PASSWORD_LENGTH];
    while password.len() < PASSWORD_LENGTH {
        getrandom::getrandom(&mut random)
            .map_err(|e| format!("Error producing random integer: {e}"))?;
        let picked = random.iter().filter_map(|&b| pick(b));
        password.extend(picked.take(PASSWORD_LENGTH - password.len()));
    }
    Ok(password)
}

/// Maps a random byte to an alphabet character, rejecting the bytes above
/// the largest multiple of the alphabet size so every character is equally
/// likely.
fn pick(byte: u8) -> Option<char> {
    let limit = 256 - 256 % ALPHABET.len();
    let byte = usize::from(byte);
    (byte < limit).then(|| char::from(ALPHABET[byte % ALPHABET.len()]))
}

/// The `$2a$` bcrypt hash of `password`, with Go's cost handling: below 4
/// means 10, above 31 is an error.
fn hash_password(password: &[u8], cost: i64) -> Result<String, String> {
    let cost = if cost < MIN_COST {
        BELOW_MIN_COST
    } else {
        cost
    };
    if cost > MAX_COST {
        return Err(format!(
            "Error producing bcrypt hash: crypto/bcrypt: cost {cost} is outside allowed range ({MIN_COST},{MAX_COST})"
        ));
    }
    let cost = u32::try_from(cost).expect("cost is within 4..=31");
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| format!("Error producing bcrypt hash: {e}"))
}

#[cfg(test)]
mod tests;
