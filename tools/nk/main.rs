//! `nk`: user nkeys for natsd configuration files, and nonce signatures for trying nkey
//! authentication by hand (telnet). Keys are those of the Go `nkeys` library (see
//! `natsd::nkeys`), so nats-server and its clients take them too.
//!
//! ```text
//! nk gen [-o FILE]         a new user key pair: the seed (SU…), then the public key (U…);
//!                          with -o, the seed goes to FILE (mode 0600) and only the public
//!                          key is printed
//! nk pub SEEDFILE          the public key of a seed file
//! nk sign SEEDFILE NONCE   the signature of NONCE, base64url, for CONNECT's "sig"
//! ```
//!
//! A seed is never printed but by `nk gen` without `-o`, and never in an error. Errors go
//! to stderr with exit status 1; a bad command line prints the usage with exit status 2,
//! `-h` with 0.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::exit;

use natsd::nkeys::{self, UserSeed};

const USAGE: &str = "\
Usage: nk gen [-o FILE] | nk pub SEEDFILE | nk sign SEEDFILE NONCE

User nkeys for natsd (authorization { users: [ { nkey: U… } ] }), as the Go nkeys
library makes them, and signatures of a server's nonce for trying nkey
authentication by hand.

Commands:
  gen [-o FILE]         Make a user key pair. Prints the seed (SU…), then the
                        public key (U…). With -o, writes the seed to FILE instead
                        (a new file, mode 0600) and prints only the public key
  pub SEEDFILE          Print the public key of the seed in SEEDFILE
  sign SEEDFILE NONCE   Print the signature of NONCE (the text of INFO's \"nonce\")
                        in base64url without padding, for CONNECT's \"sig\"

Options:
  -h, --help            Show this help

A seed file holds the seed on a line of its own (a .creds file does too). The
seed is the private key: keep the file private. nk never prints a seed it reads.

By hand (telnet or nc to a server with that public key in its users):
  <- INFO {...,\"nonce\":\"<NONCE>\",...}
  $  nk sign user.seed <NONCE>
  -> CONNECT {\"verbose\":false,\"nkey\":\"<U…>\",\"sig\":\"<signature>\"}
  -> PING
  <- PONG
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Gen { output: Option<PathBuf> },
    Pub { seed_file: PathBuf },
    Sign { seed_file: PathBuf, nonce: OsString },
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = match parse(&args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            exit(0);
        }
        Ok(command) => command,
        Err(msg) => {
            eprintln!("nk: {msg}");
            eprint!("{USAGE}");
            exit(2);
        }
    };
    let mut stdout = io::stdout().lock();
    let result = run(&command, &mut stdout).and_then(|()| {
        stdout
            .flush()
            .map_err(|e| format!("cannot write the output: {e}"))
    });
    if let Err(msg) = result {
        eprintln!("nk: {msg}");
        exit(1);
    }
}

/// The command line (less the program name). `-h`/`--help` anywhere asks for help; other
/// arguments of `pub` and `sign` are taken literally (a nonce may start with `-`).
fn parse(args: &[OsString]) -> Result<Command, String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    let Some((command, rest)) = args.split_first() else {
        return Err("a command is needed".to_string());
    };
    match (command.to_str(), rest) {
        (Some("help"), []) => Ok(Command::Help),
        (Some("gen"), []) => Ok(Command::Gen { output: None }),
        (Some("gen"), [flag, file]) if flag == "-o" => Ok(Command::Gen {
            output: Some(PathBuf::from(file)),
        }),
        (Some("gen"), [flag]) if flag == "-o" => Err("-o needs a file name".to_string()),
        (Some("pub"), [seed_file]) => Ok(Command::Pub {
            seed_file: PathBuf::from(seed_file),
        }),
        (Some("sign"), [seed_file, nonce]) => Ok(Command::Sign {
            seed_file: PathBuf::from(seed_file),
            nonce: nonce.clone(),
        }),
        (Some("gen"), _) => Err("gen takes no arguments but -o FILE".to_string()),
        (Some("pub"), _) => Err("pub takes one argument: the seed file".to_string()),
        (Some("sign"), _) => {
            Err("sign takes two arguments: the seed file and the nonce".to_string())
        }
        _ => Err(format!("unknown command {:?}", command.to_string_lossy())),
    }
}

/// Does what `command` asks, writing to `out`; `Err` holds the message for stderr.
fn run(command: &Command, out: &mut dyn Write) -> Result<(), String> {
    let output = match command {
        Command::Help => USAGE.to_string(),
        Command::Gen { output: None } => {
            let seed = UserSeed::generate();
            format!("{}\n{}\n", seed.to_text(), seed.public_key())
        }
        Command::Gen { output: Some(path) } => {
            let seed = UserSeed::generate();
            write_seed_file(path, &seed)?;
            format!("{}\n", seed.public_key())
        }
        Command::Pub { seed_file } => format!("{}\n", read_seed_file(seed_file)?.public_key()),
        Command::Sign { seed_file, nonce } => {
            let seed = read_seed_file(seed_file)?;
            let sig = seed.sign(nonce.as_bytes());
            format!("{}\n", nkeys::encode_signature(&sig))
        }
    };
    out.write_all(output.as_bytes())
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// Writes the seed to a new file, readable and writable by its owner only. An existing
/// file is left alone (it may hold another key).
fn write_seed_file(path: &Path, seed: &UserSeed) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => {
                format!("{} already exists; not overwritten", path.display())
            }
            _ => format!("cannot create {}: {e}", path.display()),
        })?;
    let mut text = seed.to_text().into_bytes();
    text.push(b'\n');
    let written = file.write_all(&text).and_then(|()| file.sync_all());
    text.fill(0);
    written.map_err(|e| {
        let _ = fs::remove_file(path);
        format!("cannot write {}: {e}", path.display())
    })
}

/// The user seed in `path`: the first line that is one (surrounding whitespace ignored).
/// Errors never quote the file.
fn read_seed_file(path: &Path) -> Result<UserSeed, String> {
    let mut bytes =
        fs::read(path).map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
    let seed = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| text.lines().find_map(UserSeed::from_text));
    bytes.fill(0);
    std::hint::black_box(&bytes);
    seed.ok_or_else(|| format!("no user seed (SU…) in {}", path.display()))
}

#[cfg(test)]
mod tests;
