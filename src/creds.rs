//! NATS credentials files: the user JWT and nkey seed a leafnode remote presents to an
//! operator-mode hub (leafnodes.md §2.5), read as nats-server 2.9 reads them, and the
//! signature of the hub's nonce.
//!
//! nats-server finds the parts with the regular expression
//! `\s*(?:(?:[-]{3,}[^\n]*[-]{3,}\n)(.+)(?:\n\s*[-]{3,}[^\n]*[-]{3,}\n))`: a line opening
//! and closing with at least three dashes, one content line, then (after any blank space)
//! another such line, each ended by `\n` (so a file with `\r\n` line ends is malformed). The
//! first content is the JWT, the second the seed. [`Framed`] follows that expression.

use std::path::Path;

use crate::conf::{FileSystem, Files};
use crate::nkeys::{self, UserSeed};

/// The reference's error when a file has fewer than two framed parts.
const MALFORMED: &str = "Credentials file malformed";

/// The reference's error when the second part is not a user seed.
const MALFORMED_SEED: &str = "Credentials file has malformed seed";

/// A credentials file's user JWT and nkey seed.
#[derive(Debug)]
pub struct Credentials {
    /// The user JWT as written in the file (CONNECT `jwt`).
    pub jwt: String,
    seed: UserSeed,
}

impl Credentials {
    /// The CONNECT `sig` for the hub's INFO `nonce`: the Ed25519 signature of the nonce's
    /// bytes as received (not decoded), in base64url without padding.
    pub fn sign_nonce(&self, nonce: &str) -> String {
        nkeys::encode_signature(&self.seed.sign(nonce.as_bytes()))
    }
}

/// Reads the credentials file at `path` (at each connection attempt, as the reference). The
/// error completes the log line `Error reading LeafNode Remote Credentials file "<path>":
/// <error>`: Go's text for an I/O error (`open /x.creds: no such file or directory`), or
/// [`parse`]'s.
pub fn read(path: &Path) -> Result<Credentials, String> {
    let mut data = FileSystem.read(path)?;
    let credentials = parse_bytes(&data);
    nkeys::wipe(&mut data);
    credentials
}

/// The credentials in a file's text: `Credentials file malformed` without a JWT and a seed
/// part, `Credentials file has malformed seed` when the second part is not a user seed.
pub fn parse(text: &str) -> Result<Credentials, String> {
    parse_bytes(text.as_bytes())
}

/// [`parse`] of the file's bytes (only the two parts need to be text).
fn parse_bytes(data: &[u8]) -> Result<Credentials, String> {
    let mut parts = Framed { data, at: 0 };
    let (Some(jwt), Some(seed)) = (parts.next(), parts.next()) else {
        return Err(MALFORMED.to_string());
    };
    // Go's base32 decoder skips `\r`; any other blank space is an error.
    let seed = std::str::from_utf8(seed)
        .ok()
        .filter(|seed| !seed.contains(|c: char| c.is_whitespace() && c != '\r'))
        .and_then(UserSeed::from_text)
        .ok_or(MALFORMED_SEED)?;
    let jwt = String::from_utf8_lossy(jwt).into_owned();
    Ok(Credentials { jwt, seed })
}

/// The content lines of the reference's expression, each match searched from where the
/// previous one ended.
struct Framed<'a> {
    data: &'a [u8],
    /// Where the search goes on.
    at: usize,
}

impl<'a> Iterator for Framed<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.at < self.data.len() {
            // A match starting anywhere in a run of blank space starts after it.
            let start = skip_space(self.data, self.at);
            if let Some((content, end)) = framed_at(self.data, start) {
                self.at = end;
                return Some(content);
            }
            self.at = start + 1;
        }
        None
    }
}

/// The framed content line whose opening dash line starts at `start`, and the end of the
/// closing dash line.
fn framed_at(data: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let content_start = dash_line(data, start)?;
    let content_len = line_len(data, content_start).filter(|&len| len > 0)?;
    let content_end = content_start + content_len;
    let end = dash_line(data, skip_space(data, content_end + 1))?;
    Some((&data[content_start..content_end], end))
}

/// `[-]{3,}[^\n]*[-]{3,}\n` at `at`: a line of at least six bytes that begins and ends with
/// three dashes. Returns where the next line starts.
fn dash_line(data: &[u8], at: usize) -> Option<usize> {
    let len = line_len(data, at)?;
    let line = &data[at..at + len];
    let framed = len >= 6 && line.starts_with(b"---") && line.ends_with(b"---");
    framed.then_some(at + len + 1)
}

/// The length of the line at `at`, without its `\n`; `None` when no `\n` ends it.
fn line_len(data: &[u8], at: usize) -> Option<usize> {
    data.get(at..)?.iter().position(|&b| b == b'\n')
}

/// Past the blank space at `at` (Go's `\s`: tab, newline, form feed, carriage return and
/// space).
fn skip_space(data: &[u8], at: usize) -> usize {
    let blank = data[at..]
        .iter()
        .take_while(|b| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .count();
    at + blank
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Go nkeys library's example seed, its public key, and `nk -sign` of "Hello
    /// World!\n" with it (the nkeys README).
    const SEED: &str = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY";
    const PUBLIC: &str = "UD466L6EBCM3YY5HEGHJANNTN4LSKTSUXTH7RILHCKEQMQHTBNLHJJXT";
    const GO_SIG: &str =
        "0CK1XmkxNfUGfudxliWTWeoETgIo23m9qowS9yTfYFSrjR8HgAW63jQ3NxPU_jG38hZPW61IZSun37N690CkDg";

    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJYIn0.c2ln";

    /// A file as `nsc` writes it.
    fn creds_file(jwt: &str, seed: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        )
    }

    #[test]
    fn reads_the_jwt_and_signs_the_nonce_with_the_seed() {
        let credentials = parse(&creds_file(JWT, SEED)).unwrap();
        assert_eq!(credentials.jwt, JWT);
        assert_eq!(credentials.seed.public_key(), PUBLIC);
        let nonce = "Sn3CHGGXXEzM51M";
        let sig = credentials.sign_nonce(nonce);
        assert_eq!(sig.len(), 86, "64 bytes, no padding");
        assert!(sig
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let public = nkeys::decode_public_user_key(PUBLIC).unwrap();
        let raw = nkeys::decode_signature(&sig).unwrap();
        assert!(nkeys::verify(&public, nonce.as_bytes(), &raw));
        assert!(!nkeys::verify(&public, b"Sn3CHGGXXEzM51N", &raw));
    }

    #[test]
    fn signature_is_the_go_library_one() {
        let credentials = parse(&creds_file(JWT, SEED)).unwrap();
        assert_eq!(credentials.sign_nonce("Hello World!\n"), GO_SIG);
    }

    /// ✓run: nats-server finds the two parts in the valid texts (it then logs `has malformed
    /// user jwt` for this JWT) and logs `malformed` for the others.
    #[test]
    fn framing_as_the_reference_expression() {
        let valid = [
            // Blank space before a closing line, a frame starting mid-line, dashes inside.
            format!("------\n{JWT}\n \n\t------\nnoise x---a---\n{SEED}\n---b-c---\n"),
            // Indented frames.
            format!("  ---BEGIN---\n{JWT}\n  ---END---\n  ---BEGIN---\n{SEED}\n  ---END---\n"),
            // A dash line without content before the real ones.
            format!("---a---\n---b---\n{JWT}\n---c---\n---d---\n{SEED}\n---e---\n"),
            // Go's base32 decoder skips a carriage return.
            format!("------\n{JWT}\n------\n------\n{SEED}\r\n------\n"),
        ];
        for text in &valid {
            let credentials = parse(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
            assert_eq!(credentials.jwt, JWT, "{text:?}");
        }
        let malformed = [
            String::new(),
            format!("-----BEGIN NATS USER JWT-----\n{JWT}\n------END NATS USER JWT------\n"),
            creds_file(JWT, SEED).replace('\n', "\r\n"),
            // The closing line needs its newline.
            creds_file(JWT, SEED)
                .trim_end_matches(
                    "\n\n*************************************************************\n",
                )
                .to_string(),
            format!("-----\n{JWT}\n-----\n-----\n{SEED}\n-----\n"),
            format!("------\n\n{JWT}\n------\n------\n{SEED}\n------\n"),
            format!("------\n{JWT}\nx------\n------\n{SEED}\n------\n"),
        ];
        for text in &malformed {
            assert_eq!(parse(text).unwrap_err(), MALFORMED, "{text:?}");
        }
    }

    /// ✓run: nats-server logs `has malformed seed` for all but the account seed, which it
    /// would sign with.
    #[test]
    fn bad_seeds() {
        let account_seed = "SAAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4HYMHI";
        for seed in [
            "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZX",
            &format!("{SEED}  "),
            PUBLIC,
            account_seed,
            "x",
        ] {
            let err = parse(&creds_file(JWT, seed)).unwrap_err();
            assert_eq!(err, MALFORMED_SEED, "{seed}");
        }
    }

    #[test]
    fn read_reports_go_file_errors() {
        let dir = std::env::temp_dir().join(format!("natsd-creds-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("u.creds");
        std::fs::write(&path, creds_file(JWT, SEED)).unwrap();
        let read_back = read(&path).map(|credentials| credentials.jwt);
        let missing = read(&dir.join("nope.creds")).unwrap_err();
        let directory = read(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read_back, Ok(JWT.to_string()));
        let name = dir.display();
        assert_eq!(
            missing,
            format!("open {name}/nope.creds: no such file or directory")
        );
        assert_eq!(directory, format!("read {name}: is a directory"));
    }
}
