//! Tests of the command line (`parse`) and of the commands (`run`) on files in a temp dir.
//! The built binary (exit statuses, stderr) and a signature the reference server accepts
//! are tested in `tests/nk.rs`.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// The Go nkeys library's example seed and public key (its README).
const GO_SEED: &str = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY";
const GO_PUBLIC: &str = "UD466L6EBCM3YY5HEGHJANNTN4LSKTSUXTH7RILHCKEQMQHTBNLHJJXT";

/// A new empty directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nk-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// `run`'s stdout, or its error message.
fn run_ok(command: Command) -> String {
    let mut out = Vec::new();
    run(&command, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn run_err(command: Command) -> String {
    let mut out = Vec::new();
    let err = run(&command, &mut out).unwrap_err();
    assert!(out.is_empty(), "nothing on stdout on error");
    err
}

fn sign(seed_file: &Path, nonce: &str) -> Command {
    Command::Sign {
        seed_file: seed_file.to_path_buf(),
        nonce: nonce.into(),
    }
}

#[test]
fn command_lines() {
    assert_eq!(parse(&args(&["-h"])), Ok(Command::Help));
    assert_eq!(parse(&args(&["--help"])), Ok(Command::Help));
    assert_eq!(parse(&args(&["help"])), Ok(Command::Help));
    assert_eq!(parse(&args(&["gen", "-h"])), Ok(Command::Help));
    assert_eq!(parse(&args(&["gen"])), Ok(Command::Gen { output: None }));
    assert_eq!(
        parse(&args(&["gen", "-o", "u.seed"])),
        Ok(Command::Gen {
            output: Some("u.seed".into())
        })
    );
    assert_eq!(
        parse(&args(&["pub", "u.seed"])),
        Ok(Command::Pub {
            seed_file: "u.seed".into()
        })
    );
    // A nonce is base64url: it may start with '-'.
    assert_eq!(
        parse(&args(&["sign", "u.seed", "-x_Y0123456789a"])),
        Ok(Command::Sign {
            seed_file: "u.seed".into(),
            nonce: "-x_Y0123456789a".into()
        })
    );
    for bad in [
        &[][..],
        &["gen", "-o"],
        &["gen", "u.seed"],
        &["gen", "-x", "u.seed"],
        &["pub"],
        &["pub", "a", "b"],
        &["sign", "u.seed"],
        &["sign", "u.seed", "n", "x"],
        &["verify"],
        &["-o", "x"],
    ] {
        assert!(parse(&args(bad)).is_err(), "{bad:?}");
    }
    assert_eq!(
        parse(&args(&["sign", "u.seed"])),
        Err("sign takes two arguments: the seed file and the nonce".to_string())
    );
    assert_eq!(
        parse(&args(&["nope"])),
        Err("unknown command \"nope\"".to_string())
    );
}

#[test]
fn gen_prints_seed_and_public_key() {
    let out = run_ok(Command::Gen { output: None });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let seed = UserSeed::from_text(lines[0]).expect("a user seed");
    assert_eq!(seed.public_key(), lines[1]);
    assert!(nkeys::is_valid_public_user_key(lines[1]));
    assert_ne!(run_ok(Command::Gen { output: None }), out);
}

#[test]
fn gen_to_file_is_private_and_not_printed() {
    let dir = TempDir::new();
    let path = dir.0.join("user.seed");
    let out = run_ok(Command::Gen {
        output: Some(path.clone()),
    });
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("SU") && text.ends_with('\n'),
        "a seed line"
    );
    // (A public key may contain "SU" by chance: look for the seed itself.)
    assert!(
        !out.contains(text.trim_end()),
        "the seed is not printed: {out}"
    );
    let public = out.trim_end();
    assert_eq!(out, format!("{public}\n"));
    assert_eq!(UserSeed::from_text(&text).unwrap().public_key(), public);
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    // The file now exists: it is not overwritten.
    let err = run_err(Command::Gen {
        output: Some(path.clone()),
    });
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    // A directory that is not there.
    let err = run_err(Command::Gen {
        output: Some(dir.0.join("none/user.seed")),
    });
    assert!(err.starts_with("cannot create "), "{err}");
}

#[test]
fn pub_and_sign_of_a_seed_file() {
    let dir = TempDir::new();
    let path = dir.file("user.seed", &format!("{GO_SEED}\n"));
    let public = Command::Pub {
        seed_file: path.clone(),
    };
    assert_eq!(run_ok(public), format!("{GO_PUBLIC}\n"));
    let nonce = "kX0m0a_q-7Ir3w4";
    let out = run_ok(sign(&path, nonce));
    let sig = nkeys::decode_signature(out.trim_end()).unwrap();
    assert_eq!(out, format!("{}\n", nkeys::encode_signature(&sig)));
    let key = nkeys::decode_public_user_key(GO_PUBLIC).unwrap();
    assert!(nkeys::verify(&key, nonce.as_bytes(), &sig));
    assert!(!nkeys::verify(&key, b"kX0m0a_q-7Ir3w5", &sig));
    // The nk -sign example of the Go library: "Hello World!\n".
    let hello = run_ok(sign(&path, "Hello World!\n"));
    assert_eq!(
        hello,
        "0CK1XmkxNfUGfudxliWTWeoETgIo23m9qowS9yTfYFSrjR8HgAW63jQ3NxPU_jG38hZPW61IZSun37N690CkDg\n"
    );
}

#[test]
fn seed_found_among_other_lines() {
    let dir = TempDir::new();
    // As in a .creds file: the seed on a line of its own between others.
    let creds = format!(
        "-----BEGIN USER NKEY SEED-----\r\n  {GO_SEED}  \r\n------END USER NKEY SEED------\n"
    );
    let path = dir.file("user.creds", &creds);
    let out = run_ok(Command::Pub { seed_file: path });
    assert_eq!(out, format!("{GO_PUBLIC}\n"));
}

#[test]
fn bad_seed_files_are_errors_without_their_contents() {
    let dir = TempDir::new();
    let missing = dir.0.join("missing.seed");
    let err = run_err(Command::Pub {
        seed_file: missing.clone(),
    });
    assert!(err.starts_with("cannot read seed file "), "{err}");
    assert!(err.contains("missing.seed"), "{err}");
    let err = run_err(sign(&dir.0, "nonce"));
    assert!(
        err.starts_with("cannot read seed file "),
        "a directory: {err}"
    );

    // A seed with one character changed, a public key, junk (other kinds of seed: the
    // library's tests).
    let tampered = GO_SEED.replace("SUAK", "SUAL");
    for (name, contents) in [
        ("tampered", tampered.as_str()),
        ("public", GO_PUBLIC),
        ("empty", ""),
        ("junk", "\u{0}\u{1}SU\u{fffd}"),
    ] {
        let path = dir.file(name, contents);
        for command in [
            Command::Pub {
                seed_file: path.clone(),
            },
            sign(&path, "nonce"),
        ] {
            let err = run_err(command);
            assert_eq!(
                err,
                format!("no user seed (SU…) in {}", path.display()),
                "{name}"
            );
            if contents.len() > 10 {
                assert!(!err.contains(&contents[4..]), "{name}: {err}");
            }
        }
    }
    // Not UTF-8 at all.
    let path = dir.0.join("latin1");
    fs::write(&path, b"\xff\xfe").unwrap();
    assert!(run_err(Command::Pub { seed_file: path }).starts_with("no user seed"));
}
