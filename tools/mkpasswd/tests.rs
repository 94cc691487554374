//! Tests of the tool's core (`run`), fed from byte slices instead of a
//! terminal. They hash at cost 4 except where the default cost is the point.

use super::*;
use input::LineSource;

/// The result of one `run`: its stdout, and its stderr message if it failed.
struct Outcome {
    stdout: String,
    error: Option<String>,
}

fn run_with(prompt: bool, cost: i64, stdin: &[u8]) -> Outcome {
    let mut out = Vec::new();
    let error = run(&Options { prompt, cost }, &mut LineSource(stdin), &mut out).err();
    let stdout = String::from_utf8(out).expect("stdout is UTF-8");
    Outcome { stdout, error }
}

/// The hash from a `bcrypt hash: <hash>` line.
fn hash_of(stdout: &str) -> &str {
    let line = stdout.lines().last().expect("output");
    line.strip_prefix("bcrypt hash: ").expect("a hash line")
}

fn assert_hash(hash: &str, prefix: &str, password: &[u8]) {
    assert_eq!(hash.len(), 60, "{hash}");
    assert!(hash.starts_with(prefix), "{hash}");
    assert!(bcrypt::verify(password, hash).unwrap(), "{hash}");
    assert!(!bcrypt::verify(b"wrong", hash).unwrap(), "{hash}");
}

#[test]
fn generated_password_has_22_alphabet_chars() {
    for _ in 0..50 {
        let password = generate_password().unwrap();
        assert_eq!(password.len(), PASSWORD_LENGTH);
        assert!(
            password.bytes().all(|b| ALPHABET.contains(&b)),
            "{password}"
        );
    }
    assert_ne!(generate_password().unwrap(), generate_password().unwrap());
}

#[test]
fn alphabet_is_the_go_one() {
    assert_eq!(ALPHABET.len(), 72);
    assert!(ALPHABET.ends_with(b"0123456789!@$#%^&*()"));
}

#[test]
fn pick_is_uniform() {
    let mut counts = [0u32; 72];
    let mut rejected = 0;
    for byte in 0..=255u8 {
        match pick(byte) {
            Some(c) => counts[ALPHABET.iter().position(|&a| char::from(a) == c).unwrap()] += 1,
            None => rejected += 1,
        }
    }
    assert!(counts.iter().all(|&n| n == 3), "{counts:?}");
    assert_eq!(rejected, 256 - 3 * 72);
}

#[test]
fn generate_prints_password_then_hash() {
    let got = run_with(false, 4, b"");
    assert_eq!(got.error, None);
    let lines: Vec<&str> = got.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", got.stdout);
    let password = lines[0].strip_prefix("pass: ").expect("a pass line");
    assert_eq!(password.len(), PASSWORD_LENGTH);
    assert_hash(hash_of(&got.stdout), "$2a$04$", password.as_bytes());
    assert!(got.stdout.ends_with('\n'));
}

#[test]
fn default_cost_is_11() {
    let got = run_with(false, flags::DEFAULT_COST, b"");
    let password = got
        .stdout
        .lines()
        .next()
        .unwrap()
        .strip_prefix("pass: ")
        .unwrap();
    assert_hash(hash_of(&got.stdout), "$2a$11$", password.as_bytes());
}

#[test]
fn prompt_reads_two_matching_lines() {
    let got = run_with(true, 4, b"s3cret pw\ns3cret pw\n");
    assert_eq!(got.error, None);
    let hash = hash_of(&got.stdout);
    assert_eq!(
        got.stdout,
        format!("Enter Password: \nReenter Password: \nbcrypt hash: {hash}\n")
    );
    assert_hash(hash, "$2a$04$", b"s3cret pw");
}

#[test]
fn prompt_accepts_crlf_and_a_missing_final_newline() {
    let got = run_with(true, 4, b"pw\r\npw");
    assert_eq!(got.error, None);
    assert_hash(hash_of(&got.stdout), "$2a$04$", b"pw");
}

#[test]
fn prompt_mismatch_fails() {
    let got = run_with(true, 4, b"one\ntwo\n");
    assert_eq!(got.error.as_deref(), Some("Error, passwords do not match"));
    assert_eq!(got.stdout, "Enter Password: \nReenter Password: ");
}

#[test]
fn prompt_without_input_fails_like_go() {
    let got = run_with(true, 4, b"only once\n");
    assert_eq!(got.error.as_deref(), Some("Error reading password: EOF"));
    let got = run_with(true, 4, b"");
    assert_eq!(got.error.as_deref(), Some("Error reading password: EOF"));
    assert_eq!(got.stdout, "Enter Password: ");
}

#[test]
fn cost_above_31_fails() {
    let got = run_with(true, 40, b"pw\npw\n");
    assert_eq!(
        got.error.as_deref(),
        Some("Error producing bcrypt hash: crypto/bcrypt: cost 40 is outside allowed range (4,31)")
    );
    assert_eq!(got.stdout, "Enter Password: \nReenter Password: \n");
    let got = run_with(false, 32, b"");
    assert!(
        got.stdout.starts_with("pass: "),
        "the password is printed first"
    );
    assert!(got
        .error
        .unwrap()
        .ends_with("cost 32 is outside allowed range (4,31)"));
}

#[test]
fn cost_below_4_means_go_default_10() {
    // Go's bcrypt.GenerateFromPassword replaces a cost below MinCost with 10.
    assert!(hash_password(b"pw", 3).unwrap().starts_with("$2a$10$"));
    assert!(hash_password(b"pw", -1).unwrap().starts_with("$2a$10$"));
}

#[test]
fn cost_bounds() {
    assert!(hash_password(b"pw", 4).unwrap().starts_with("$2a$04$"));
    assert_hash(&hash_password(b"", 5).unwrap(), "$2a$05$", b"");
    let err = hash_password(b"pw", i64::MAX).unwrap_err();
    assert!(err.contains("cost 9223372036854775807 is outside"), "{err}");
}

#[test]
fn long_passwords_use_their_first_72_bytes() {
    // As Go's bcrypt of the time: bytes past the 72nd are ignored.
    let long = [b'x'; 100];
    let hash = hash_password(&long, 4).unwrap();
    assert!(bcrypt::verify(&long[..72], &hash).unwrap());
}

#[test]
fn go_hashes_verify() {
    // Known vector from Go's x/crypto/bcrypt tests (TestBcryptingIsCorrect).
    let go_hash = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga";
    assert!(bcrypt::verify("allmine", go_hash).unwrap());
    assert!(!bcrypt::verify("notmine", go_hash).unwrap());
}
