//! The sample configurations in `configs/` and the test certificates in `configs/certs/`.
//!
//! * Every `configs/*.conf` passes `-t` (test the configuration and exit): the reference
//!   `nats-server` (skipped loudly when it is not installed, see
//!   [`common::reference_available`]) and natsd must both exit 0 with
//!   `<program>: configuration file configs/<name>.conf is valid`.
//! * The certificate files are PEM with exactly one certificate each, the keys unencrypted
//!   PEM, and (when `openssl` is on `PATH`) every leaf chains to the test CA for its purpose
//!   and carries the `localhost` / `127.0.0.1` / `::1` SANs.
//!
//! The samples name their certificates relative to the repository root (nats-server resolves
//! `cert_file` & co. against the current directory, not the config file's), so every command
//! runs with the crate root as its current directory. Nothing here writes a file or opens a
//! port, and every child process is killed after [`DEADLINE`].

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Impl;

/// How long one `-t` run may take before it is killed and reported as hung.
const DEADLINE: Duration = Duration::from_secs(10);

/// The samples the configuration issue asks for; more may be added.
const REQUIRED_SAMPLES: [&str; 6] = [
    "cluster-tls.conf",
    "full.conf",
    "multi-user.conf",
    "seed.conf",
    "tls.conf",
    "tlsverify.conf",
];

/// The certificate files in `configs/certs/`.
const CERT_FILES: [&str; 4] = [
    "ca.pem",
    "server-cert.pem",
    "client-cert.pem",
    "route-cert.pem",
];

/// The private key files in `configs/certs/`.
const KEY_FILES: [&str; 4] = [
    "ca-key.pem",
    "server-key.pem",
    "client-key.pem",
    "route-key.pem",
];

/// Leaf certificates and the `openssl verify -purpose` values each must satisfy.
const LEAF_PURPOSES: [(&str, &[&str]); 3] = [
    ("server-cert.pem", &["sslserver"]),
    ("client-cert.pem", &["sslclient"]),
    ("route-cert.pem", &["sslserver", "sslclient"]),
];

/// SAN entries every leaf must carry, as `openssl x509 -ext subjectAltName` prints them.
const SANS: [&str; 3] = [
    "DNS:localhost",
    "IP Address:127.0.0.1",
    "IP Address:0:0:0:0:0:0:0:1",
];

/// The crate root: the current directory of every command run here.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `configs/certs/<name>` relative to the crate root.
fn cert_path(name: &str) -> String {
    format!("configs/certs/{name}")
}

/// Every `configs/*.conf` as a path relative to the crate root (`configs/tls.conf`), sorted.
fn sample_configs() -> Vec<String> {
    let dir = root().join("configs");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    let mut files: Vec<String> = entries
        .map(|entry| entry.expect("read configs/ entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".conf"))
        .map(|name| format!("configs/{name}"))
        .collect();
    files.sort();
    files
}

/// Exit code (`None` if killed by a signal or the deadline), stdout and stderr of one run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Reads all of `pipe` on its own thread, so a chatty child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for `child` until [`DEADLINE`]; kills it (this child, by its handle) when it is late.
fn wait_or_kill(child: &mut Child) -> Option<i32> {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => return status.code(),
            None if start.elapsed() > DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Runs `program args...` in the crate root with a deadline.
fn run(program: &Path, args: &[&str]) -> Run {
    run_command(Command::new(program), args)
}

/// Runs `imp` (natsd through `NATSD_RUNNER`, see [`Impl::command`]) like [`run`].
fn run_imp(imp: Impl, args: &[&str]) -> Run {
    run_command(imp.command(), args)
}

fn run_command(mut command: Command, args: &[&str]) -> Run {
    let program = command.get_program().to_owned();
    let mut child = command
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.to_string_lossy()));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let code = wait_or_kill(&mut child);
    Run {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs `program -t -c <file>` for every sample and asserts that each one exits 0 with exactly
/// `<prog>: configuration file <file> is valid` on stderr; reports all failures at once.
fn assert_every_sample_valid(imp: Impl, prog: &str) {
    let samples = sample_configs();
    assert!(!samples.is_empty(), "no configs/*.conf found");
    let failures: Vec<String> = samples
        .iter()
        .filter_map(|file| {
            let got = run_imp(imp, &["-t", "-c", file]);
            let want = format!("{prog}: configuration file {file} is valid\n");
            let ok = got.code == Some(0) && got.stderr == want;
            (!ok).then(|| {
                format!(
                    "{prog} -t -c {file}: exit {:?}, want Some(0)\n  stderr: {:?}\n  want:   {want:?}\n  stdout: {:?}",
                    got.code, got.stderr, got.stdout
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// True if `openssl` runs; otherwise prints a skip line for `test`.
fn openssl_available(test: &str) -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped {test}: openssl not installed");
    }
    found
}

/// The PEM blocks of `text` as `(label, base64 body)`; panics on text outside a block or an
/// unterminated / mismatched block.
fn pem_blocks(file: &str, text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end())) {
        let marker = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("-----"))
                .map(str::to_owned)
        };
        match (&mut open, marker("-----BEGIN "), marker("-----END ")) {
            (None, Some(label), _) => open = Some((label, String::new())),
            (None, None, _) if line.is_empty() => {}
            (None, None, _) => panic!("{file}:{n}: text outside a PEM block: {line:?}"),
            (Some((label, _)), _, Some(end)) => {
                assert_eq!(&end, label, "{file}:{n}: END does not match BEGIN");
                blocks.push(open.take().expect("open block"));
            }
            (Some(_), Some(_), _) => panic!("{file}:{n}: BEGIN inside a PEM block"),
            (Some((_, body)), None, None) => {
                let base64 = |c: char| c.is_ascii_alphanumeric() || "+/=".contains(c);
                assert!(
                    !line.is_empty() && line.chars().all(base64),
                    "{file}:{n}: not a base64 line: {line:?}"
                );
                body.push_str(line);
            }
        }
    }
    assert!(open.is_none(), "{file}: unterminated PEM block");
    blocks
}

/// Reads `configs/certs/<name>`.
fn read_cert_file(name: &str) -> String {
    let path = root().join(cert_path(name));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn required_samples_exist() {
    let samples = sample_configs();
    for name in REQUIRED_SAMPLES {
        let file = format!("configs/{name}");
        assert!(samples.contains(&file), "{file} missing (have {samples:?})");
    }
}

#[test]
fn every_sample_is_valid_for_reference() {
    if !common::reference_available() {
        return;
    }
    assert_every_sample_valid(Impl::Reference, "nats-server");
}

// ---------------------------------------------------------------------------------------
// natsd half: natsd's own `-t`. (Fails until natsd implements `-t`; the reference half above
// is the check that the files themselves are right.)
// ---------------------------------------------------------------------------------------

#[test]
fn natsd_every_sample_is_valid() {
    assert_every_sample_valid(Impl::Natsd, "natsd");
}

#[test]
fn cert_files_hold_one_pem_certificate_each() {
    for name in CERT_FILES {
        let blocks = pem_blocks(name, &read_cert_file(name));
        assert_eq!(blocks.len(), 1, "{name}: want exactly one PEM block");
        assert_eq!(blocks[0].0, "CERTIFICATE", "{name}: wrong PEM label");
        assert!(!blocks[0].1.is_empty(), "{name}: empty certificate");
    }
}

#[test]
fn key_files_hold_one_unencrypted_pem_key_each() {
    const LABELS: [&str; 3] = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"];
    for name in KEY_FILES {
        let text = read_cert_file(name);
        assert!(!text.contains("ENCRYPTED"), "{name}: key is encrypted");
        let blocks = pem_blocks(name, &text);
        assert_eq!(blocks.len(), 1, "{name}: want exactly one PEM block");
        assert!(
            LABELS.contains(&blocks[0].0.as_str()),
            "{name}: unexpected PEM label {:?}",
            blocks[0].0
        );
    }
}

#[test]
fn leaf_certs_chain_to_the_ca_with_localhost_sans() {
    if !openssl_available("leaf_certs_chain_to_the_ca_with_localhost_sans") {
        return;
    }
    let openssl = Path::new("openssl");
    let ca = cert_path("ca.pem");
    for (name, purposes) in LEAF_PURPOSES {
        let cert = cert_path(name);
        for purpose in purposes {
            let got = run(
                openssl,
                &["verify", "-purpose", purpose, "-CAfile", &ca, &cert],
            );
            assert_eq!(
                (got.code, got.stdout.as_str()),
                (Some(0), format!("{cert}: OK\n").as_str()),
                "openssl verify -purpose {purpose} {cert}; stderr: {}",
                got.stderr
            );
        }
        let got = run(
            openssl,
            &["x509", "-noout", "-ext", "subjectAltName", "-in", &cert],
        );
        assert_eq!(got.code, Some(0), "openssl x509 {cert}: {}", got.stderr);
        for san in SANS {
            assert!(
                got.stdout.contains(san),
                "{cert}: SAN {san} missing in {:?}",
                got.stdout
            );
        }
    }
}

/// Options the reference refuses when it creates the server (past `-t`) end the process
/// with `<prog>: <error>` on stderr and status 1, before any banner is logged.
#[test]
fn options_refused_at_start_print_the_program_and_the_error() {
    let dir = common::fresh_temp_dir();
    let file = dir.join("no-users.conf");
    let nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    fs::write(
        &file,
        format!("authorization {{ users: [ {{nkey: {nkey}}} ] }}\nno_auth_user: {nkey}\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let mut programs = vec![(Impl::Natsd, "natsd")];
    if common::reference_available() {
        programs.push((Impl::Reference, "nats-server"));
    }
    for (imp, prog) in programs {
        let got = run_imp(imp, &["-c", file, "-p", "-1"]);
        assert_eq!(got.code, Some(1), "{prog}: {}", got.stderr);
        assert_eq!(
            got.stderr,
            format!("{prog}: no_auth_user: \"{nkey}\" present, but users are not defined\n"),
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}
