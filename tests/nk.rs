//! Black-box tests of the `nk` binary: exit statuses, help, the seed file it writes (mode
//! 0600) and errors that never show a seed; and the proof that its keys and signatures are
//! the Go library's: the reference `nats-server` and natsd let a client in with a key from
//! `nk gen` and the nonce signed by `nk sign` (the reference's run is skipped loudly when it
//! is not installed, see [`common::reference_available`]).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{fresh_temp_dir, reference_available, Impl, ServerProc, Wire};

/// Runs `nk` with `args` in `dir`.
fn nk(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nk"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run nk")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// `nk` that must succeed with nothing on stderr: its stdout.
fn nk_ok(dir: &Path, args: &[&str]) -> String {
    let out = nk(dir, args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "nk {args:?}: {}, stderr {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `nk` that must fail with `code`, nothing on stdout: its stderr.
fn nk_err(dir: &Path, args: &[&str], code: i32) -> String {
    let out = nk(dir, args);
    assert_eq!(out.status.code(), Some(code), "nk {args:?}");
    assert!(out.stdout.is_empty(), "nk {args:?}: {}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn help_and_bad_command_lines() {
    let dir = fresh_temp_dir();
    let help = nk_ok(&dir, &["--help"]);
    assert!(help.starts_with("Usage: nk gen [-o FILE]"), "{help}");
    assert_eq!(nk_ok(&dir, &["-h"]), help);
    for bad in [&[][..], &["frobnicate"], &["pub"], &["sign", "user.seed"]] {
        let err = nk_err(&dir, bad, 2);
        assert!(err.starts_with("nk: "), "{bad:?}: {err}");
        assert!(err.ends_with(&help), "{bad:?}: usage follows");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gen_writes_a_private_seed_file() {
    let dir = fresh_temp_dir();
    let public = nk_ok(&dir, &["gen", "-o", "user.seed"]);
    let public = public.strip_suffix('\n').expect("one line");
    assert!(natsd::nkeys::is_valid_public_user_key(public), "{public}");
    let seed = fs::read_to_string(dir.join("user.seed")).unwrap();
    assert!(seed.starts_with("SU"), "a user seed");
    let mode = fs::metadata(dir.join("user.seed")).unwrap().permissions();
    assert_eq!(mode.mode() & 0o777, 0o600, "mode {:o}", mode.mode());
    assert_eq!(nk_ok(&dir, &["pub", "user.seed"]), format!("{public}\n"));

    // Not overwritten, and the seed is in no message.
    let err = nk_err(&dir, &["gen", "-o", "user.seed"], 1);
    assert_eq!(err, "nk: user.seed already exists; not overwritten\n");
    assert_eq!(fs::read_to_string(dir.join("user.seed")).unwrap(), seed);

    // Without -o: the seed, then its public key.
    let pair = nk_ok(&dir, &["gen"]);
    let lines: Vec<&str> = pair.lines().collect();
    assert_eq!(lines.len(), 2, "{pair}");
    fs::write(dir.join("other.seed"), lines[0]).unwrap();
    assert_eq!(
        nk_ok(&dir, &["pub", "other.seed"]),
        format!("{}\n", lines[1])
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_seed_files_fail_without_showing_them() {
    let dir = fresh_temp_dir();
    let err = nk_err(&dir, &["pub", "missing.seed"], 1);
    assert!(
        err.starts_with("nk: cannot read seed file missing.seed: "),
        "{err}"
    );
    let err = nk_err(&dir, &["sign", "missing.seed", "nonce"], 1);
    assert!(err.starts_with("nk: cannot read seed file "), "{err}");

    // A real seed with its checksum broken: one character of the key changed (not the
    // last, whose low bits are base32 padding that decoding ignores).
    nk_ok(&dir, &["gen", "-o", "user.seed"]);
    let seed = fs::read_to_string(dir.join("user.seed")).unwrap();
    let changed = if seed.as_bytes()[10] == b'A' {
        'B'
    } else {
        'A'
    };
    let broken = format!("{}{changed}{}", &seed[..10], &seed[11..]);
    fs::write(dir.join("broken.seed"), &broken).unwrap();
    for args in [&["pub", "broken.seed"][..], &["sign", "broken.seed", "abc"]] {
        let err = nk_err(&dir, args, 1);
        assert_eq!(err, "nk: no user seed (SU…) in broken.seed\n");
        assert!(!err.contains(&broken[2..20]));
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// The nonce of an INFO line.
fn nonce_of(info: &serde_json::Value) -> String {
    info["nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("no nonce in INFO {info}"))
        .to_string()
}

/// A server with one nkey user made by `nk gen` lets in a client that signs the nonce with
/// `nk sign`, and refuses a signature of another nonce or with a flipped character.
fn nk_signatures_accepted(imp: Impl) {
    let dir = fresh_temp_dir();
    let public = nk_ok(&dir, &["gen", "-o", "user.seed"]);
    let public = public.trim_end();
    let conf = format!("authorization {{ users: [ {{ nkey: {public} }} ] }}\n");
    let server = ServerProc::start_with_config(imp, &conf, &[]);
    let connect = |sig: &str| {
        format!("CONNECT {{\"verbose\":false,\"nkey\":\"{public}\",\"sig\":\"{sig}\"}}\r\nPING\r\n")
    };

    let mut wire = Wire::connect(server.client_addr());
    let nonce = nonce_of(&wire.read_info());
    assert_eq!(nonce.len(), 15, "{imp}: {nonce}");
    let sig = nk_ok(&dir, &["sign", "user.seed", &nonce]);
    let sig = sig.trim_end();
    wire.send(connect(sig).as_bytes());
    wire.expect(b"PONG\r\n");

    // Each connection has its own nonce: the first signature no longer fits.
    let mut replay = Wire::connect(server.client_addr());
    assert_ne!(nonce_of(&replay.read_info()), nonce, "{imp}: a fresh nonce");
    replay.send(connect(sig).as_bytes());
    replay.expect(b"-ERR 'Authorization Violation'\r\n");
    replay.expect_closed();

    let mut tampered = Wire::connect(server.client_addr());
    let nonce = nonce_of(&tampered.read_info());
    let sig = nk_ok(&dir, &["sign", "user.seed", &nonce]);
    let sig = sig.trim_end();
    let flip = if sig.starts_with('A') { "B" } else { "A" };
    tampered.send(connect(&format!("{flip}{}", &sig[1..])).as_bytes());
    tampered.expect(b"-ERR 'Authorization Violation'\r\n");
    tampered.expect_closed();
    drop(server);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn natsd_accepts_nk_signatures() {
    nk_signatures_accepted(Impl::Natsd);
}

#[test]
fn reference_accepts_nk_signatures() {
    if !reference_available() {
        return;
    }
    nk_signatures_accepted(Impl::Reference);
}
