//! Black-box tests of the natsd command line and process: `--version` and `--help` output, Go
//! `flag` syntax and its errors, flags of features that have not landed yet, startup and
//! shutdown log lines and their format, the log sinks (stderr, file, remote syslog), protocol
//! trace lines, pid and ports files, signals, IPv6, `--client_advertise` and `--name`.
//!
//! Every test runs the real `natsd` binary and, where the behaviour must be the same, the
//! reference `nats-server` as well (skipped loudly when it is not installed, see
//! [`common::reference_available`]), comparing after replacing the program name. Expected
//! strings were taken from nats-server 2.9.10 runs; where a test asserts one fixed value for
//! both implementations, that value is what the reference produces.
//!
//! Servers listen on random loopback ports only, each process has its own temp dir (its cwd,
//! holding its stdout/stderr and ports file), and every wait has a deadline after which the
//! process is killed by its pid.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, fresh_temp_dir, reference_available, Impl, ServerProc, Wire, TIMEOUT};
use serde_json::Value;

/// natsd's `--version` output.
const NATSD_VERSION: &str = "natsd v0.1.0 (nats-server 2.9.10 compatible)\n";
/// The reference's `--version` output.
const REFERENCE_VERSION: &str = "nats-server: v2.9.10\n";
/// Usage line of natsd's help text.
const NATSD_USAGE: &str = "\nUsage: natsd [options]\n";
/// Usage line of the reference's help text.
const REFERENCE_USAGE: &str = "\nUsage: nats-server [options]\n";
/// Starts of the natsd-only help lines.
const NATSD_ONLY_HELP: [&str; 2] = [
    "        --reactors <n> ",
    "        --max_pending_total <bytes> ",
];
/// The last help line, followed by the empty line that ends the text.
const HELP_END: &str = "        --help_tls                   TLS help\n\n";
/// How `--help_tls` starts.
const HELP_TLS_START: &str =
    "\nTLS configuration is specified in the tls section of a configuration file:\n\ne.g.\n";
/// Ends the `--help_tls` text before the (unordered) cipher list.
const HELP_TLS_CIPHERS: &str = "Available cipher suites include:\n";
/// Separates the cipher list from the (unordered) curve list in `--help_tls`.
const HELP_TLS_CURVES: &str = "\nAvailable curve preferences include:\n";
/// Bind to loopback on a random port.
const LOOPBACK: [&str; 4] = ["-a", "127.0.0.1", "-p", "-1"];
/// The last startup line.
const READY: &str = "Server is ready";
/// CONNECT that turns verbose (`+OK`) off.
const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
/// Log line labels.
const LABELS: [&str; 6] = ["INF", "DBG", "TRC", "WRN", "ERR", "FTL"];

/// The program name in messages, syslog tags and ports file names.
fn prog(imp: Impl) -> &'static str {
    match imp {
        Impl::Natsd => "natsd",
        Impl::Reference => "nats-server",
    }
}

/// The first log line.
fn starting_line(imp: Impl) -> &'static str {
    match imp {
        Impl::Natsd => "Starting natsd v0.1.0 (nats-server 2.9.10 compatible)",
        Impl::Reference => "Starting nats-server",
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The file's text, empty if it does not exist (yet).
fn read_text(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// A server binary run with exactly the given arguments, its own temp dir as cwd and stdout /
/// stderr going to files there. Killed by pid (and the dir removed) on drop.
struct Proc {
    imp: Impl,
    /// Basename of the program run (names the ports file).
    name: String,
    child: Child,
    dir: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    fn spawn(imp: Impl, dir: PathBuf, args: &[&str]) -> Proc {
        Proc::spawn_as(imp, &imp.exe(), dir, args)
    }

    /// Like [`Proc::spawn`], running `program` (e.g. a symlink to the binary) instead (through
    /// `NATSD_RUNNER` for natsd, see [`Impl::command_for`]).
    fn spawn_as(imp: Impl, program: &Path, dir: PathBuf, args: &[&str]) -> Proc {
        let out = |name: &str| File::create(dir.join(name)).expect("create output file");
        let name = program.file_name().expect("program name");
        let child = imp
            .command_for(program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out("stdout"))
            .stderr(out("stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {imp} {args:?}: {e}"));
        Proc {
            imp,
            name: name.to_string_lossy().into_owned(),
            child,
            dir,
            status: None,
        }
    }

    /// Spawns a server with `args` plus `--ports_file_dir <dir>` and waits for its ports file.
    fn server(imp: Impl, dir: PathBuf, args: &[&str]) -> Proc {
        Proc::server_as(imp, &imp.exe(), dir, args)
    }

    /// Like [`Proc::server`], running `program` instead.
    fn server_as(imp: Impl, program: &Path, dir: PathBuf, args: &[&str]) -> Proc {
        let dir_arg = path_str(&dir).to_string();
        let mut all = args.to_vec();
        all.extend(["--ports_file_dir", &dir_arg]);
        let mut p = Proc::spawn_as(imp, program, dir, &all);
        p.wait_for("its ports file", Proc::ports);
        p
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stdout(&self) -> String {
        read_text(&self.dir.join("stdout"))
    }

    fn stderr(&self) -> String {
        read_text(&self.dir.join("stderr"))
    }

    /// `<dir>/<program basename>_<pid>.ports`.
    fn ports_file(&self) -> PathBuf {
        let name = format!("{}_{}.ports", self.name, self.pid());
        self.dir.join(name)
    }

    /// The parsed ports file; None while it is absent or half-written.
    fn ports(&self) -> Option<Value> {
        let bytes = fs::read(self.ports_file()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The client URL of the ports file as an address.
    fn client_addr(&self) -> SocketAddr {
        let ports = self.ports().expect("ports file");
        let url = ports["nats"][0].as_str().expect("nats URL in ports file");
        common::url_addr(url)
    }

    /// Sends `sig` to this process (by pid).
    fn signal(&self, sig: libc::c_int) {
        assert!(self.status.is_none(), "{}: already exited", self.imp);
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Polls `probe` until it returns a value; panics (with stderr) if the process exits or
    /// [`TIMEOUT`] passes first.
    fn wait_for<T>(&mut self, what: &str, mut probe: impl FnMut(&Proc) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                panic!(
                    "{}: exited ({status}) while waiting for {what}; stderr:\n{}",
                    self.imp,
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what} after {TIMEOUT:?}; stderr:\n{}",
                self.imp,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the text returned by `read` contains the line `line` and returns the text.
    fn wait_for_line(&mut self, read: impl Fn(&Proc) -> String, line: &str) -> String {
        let needle = format!("{line}\n");
        self.wait_for(&format!("line {line:?}"), |p| {
            let text = read(p);
            text.contains(&needle).then_some(text)
        })
    }

    /// Waits (at most [`TIMEOUT`], then panics and is killed on drop) for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        while self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
            assert!(
                self.status.is_some() || Instant::now() < deadline,
                "{}: still running after {TIMEOUT:?}; stderr:\n{}",
                self.imp,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.status.expect("set above")
    }

    /// The exit code; panics if a signal ended the process.
    fn exit_code(&mut self) -> i32 {
        let status = self.wait_exit();
        status
            .code()
            .unwrap_or_else(|| panic!("{}: ended by a signal: {status}", self.imp))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of a run that is expected to exit by itself.
#[derive(Debug, PartialEq)]
struct CliRun {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_cli(imp: Impl, args: &[&str]) -> CliRun {
    let mut p = Proc::spawn(imp, fresh_temp_dir(), args);
    let code = p.exit_code();
    CliRun {
        code,
        stdout: p.stdout(),
        stderr: p.stderr(),
    }
}

/// natsd's help text as the reference prints it: usage line renamed, the natsd-only lines
/// (each asserted to be there exactly once) dropped. Other text is returned unchanged.
fn help_as_reference(text: &str) -> String {
    if !text.contains(NATSD_USAGE) {
        return text.to_string();
    }
    let natsd_only = |l: &str| NATSD_ONLY_HELP.iter().any(|start| l.starts_with(start));
    for start in NATSD_ONLY_HELP {
        let lines = text.lines().filter(|l| l.starts_with(start)).count();
        assert_eq!(lines, 1, "{start:?} lines in help:\n{text}");
    }
    text.replace(NATSD_USAGE, REFERENCE_USAGE)
        .split_inclusive('\n')
        .filter(|l| !natsd_only(l))
        .collect()
}

/// A natsd run as the reference would print it: help text normalised and the `natsd: `
/// message prefix renamed.
fn as_reference(run: &CliRun) -> CliRun {
    let stderr = run
        .stderr
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("natsd: ") {
            Some(rest) => format!("nats-server: {rest}"),
            None => l.to_string(),
        })
        .collect();
    CliRun {
        code: run.code,
        stdout: help_as_reference(&run.stdout),
        stderr,
    }
}

/// Runs the reference with `args`, if installed, and asserts it prints what natsd printed in
/// `natsd` (modulo the program name).
fn assert_same_as_reference(args: &[&str], natsd: &CliRun) {
    if reference_available() {
        let reference = run_cli(Impl::Reference, args);
        assert_eq!(
            as_reference(natsd),
            reference,
            "natsd vs reference for {args:?}"
        );
    }
}

/// natsd's `-h` output.
fn natsd_help() -> String {
    run_cli(Impl::Natsd, &["-h"]).stdout
}

/// One log line: `[pid] [YYYY/MM/DD hh:mm:ss.micros ]<[LABEL]> <msg>`.
#[derive(Debug, Clone, PartialEq)]
struct LogLine {
    label: String,
    msg: String,
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses `s` as exactly `len` digits within `range`.
fn number_in(s: &str, len: usize, range: std::ops::RangeInclusive<u32>) -> bool {
    all_digits(s, len) && s.parse().is_ok_and(|n| range.contains(&n))
}

/// Checks `YYYY/MM/DD`.
fn assert_date(date: &str, line: &str) {
    let f: Vec<&str> = date.split('/').collect();
    let ok = f.len() == 3
        && all_digits(f[0], 4)
        && number_in(f[1], 2, 1..=12)
        && number_in(f[2], 2, 1..=31);
    assert!(ok, "bad date {date:?} in {line:?}");
}

/// Checks `hh:mm:ss.micro6`.
fn assert_time(time: &str, line: &str) {
    let (hms, micros) = time.split_once('.').unwrap_or((time, ""));
    let f: Vec<&str> = hms.split(':').collect();
    let ok = f.len() == 3
        && number_in(f[0], 2, 0..=23)
        && number_in(f[1], 2, 0..=59)
        && number_in(f[2], 2, 0..=60)
        && all_digits(micros, 6);
    assert!(ok, "bad time {time:?} in {line:?}");
}

fn parse_log_line(line: &str, pid: u32, timestamps: bool) -> LogLine {
    let n = if timestamps { 5 } else { 3 };
    let parts: Vec<&str> = line.splitn(n, ' ').collect();
    assert_eq!(parts.len(), n, "too few fields in log line {line:?}");
    assert_eq!(parts[0], format!("[{pid}]"), "pid prefix of {line:?}");
    if timestamps {
        assert_date(parts[1], line);
        assert_time(parts[2], line);
    }
    let label = parts[n - 2]
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .filter(|l| LABELS.contains(l))
        .unwrap_or_else(|| panic!("bad label in log line {line:?}"));
    LogLine {
        label: label.to_string(),
        msg: parts[n - 1].to_string(),
    }
}

/// Parses a whole log, checking every line's format and pid.
fn parse_log(text: &str, pid: u32, timestamps: bool) -> Vec<LogLine> {
    assert!(
        text.ends_with('\n'),
        "log does not end in a newline:\n{text}"
    );
    text.lines()
        .map(|l| parse_log_line(l, pid, timestamps))
        .collect()
}

/// Asserts `expected` `(label, message)` pairs occur in `lines` in this order.
fn assert_in_order(lines: &[LogLine], expected: &[(&str, &str)]) {
    let mut rest = lines.iter();
    for (label, msg) in expected {
        assert!(
            rest.any(|l| l.label == *label && l.msg == *msg),
            "[{label}] {msg:?} missing or out of order in {lines:#?}"
        );
    }
}

#[test]
fn version_flags_print_version_and_exit_0() {
    let forms: [&[&str]; 8] = [
        &["-v"],
        &["--version"],
        &["-version"],
        &["--v"],
        &["version"],
        &["VERSION"],
        &["--", "version"],
        &["-h", "-v"],
    ];
    for imp in Impl::enabled() {
        let expected = match imp {
            Impl::Natsd => NATSD_VERSION,
            Impl::Reference => REFERENCE_VERSION,
        };
        for args in forms {
            let run = run_cli(imp, args);
            let want = CliRun {
                code: 0,
                stdout: expected.to_string(),
                stderr: String::new(),
            };
            assert_eq!(run, want, "{imp} {args:?}");
        }
    }
}

#[test]
fn help_matches_reference_except_usage_and_reactors_lines() {
    let help = natsd_help();
    assert!(
        help.starts_with("\nUsage: natsd [options]\n\nServer Options:\n"),
        "{help}"
    );
    assert!(help.ends_with(HELP_END), "{help}");
    for args in [
        &["-h"][..],
        &["--help"],
        &["-help"],
        &["--h=true"],
        &["help"],
        &["HELP"],
    ] {
        let run = run_cli(Impl::Natsd, args);
        let want = CliRun {
            code: 0,
            stdout: help.clone(),
            stderr: String::new(),
        };
        assert_eq!(run, want, "natsd {args:?}");
        assert_same_as_reference(args, &run);
    }
}

#[test]
fn help_tls_matches_reference_up_to_unordered_lists() {
    let run = run_cli(Impl::Natsd, &["--help_tls"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let text = run.stdout;
    assert!(text.starts_with(HELP_TLS_START), "{text}");
    // Prefix up to the cipher list, then the cipher and curve lists as sorted lines.
    let split = |t: &str| -> (String, Vec<String>, Vec<String>) {
        let (head, lists) = t
            .split_once(HELP_TLS_CIPHERS)
            .unwrap_or_else(|| panic!("no cipher list in {t}"));
        let (ciphers, curves) = lists
            .split_once(HELP_TLS_CURVES)
            .unwrap_or_else(|| panic!("no curve list in {t}"));
        let sorted = |s: &str| {
            let mut v: Vec<String> = s.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        (head.to_string(), sorted(ciphers), sorted(curves))
    };
    let natsd = split(&text);
    assert_eq!(natsd.1.len(), 24, "cipher names: {:?}", natsd.1);
    assert_eq!(
        natsd.2,
        [
            "    CurveP256",
            "    CurveP384",
            "    CurveP521",
            "    X25519"
        ]
    );
    if reference_available() {
        let reference = run_cli(Impl::Reference, &["--help_tls"]);
        assert_eq!(natsd, split(&reference.stdout));
    }
}

/// A command line that must fail before a server starts.
struct FlagError {
    args: &'static [&'static str],
    code: i32,
    /// natsd's exact stderr.
    stderr: &'static str,
    /// Whether the usage text follows on stdout.
    usage: bool,
}

#[test]
fn flag_syntax_errors_match_reference() {
    let cases = [
        FlagError {
            args: &["-x"],
            code: 0,
            stderr: "flag provided but not defined: -x\n",
            usage: true,
        },
        FlagError {
            args: &["--x=1"],
            code: 0,
            stderr: "flag provided but not defined: -x\n",
            usage: true,
        },
        FlagError {
            args: &["-p", "abc"],
            code: 0,
            stderr: "invalid value \"abc\" for flag -p: parse error\n",
            usage: true,
        },
        FlagError {
            args: &["--port=abc"],
            code: 0,
            stderr: "invalid value \"abc\" for flag -port: parse error\n",
            usage: true,
        },
        FlagError {
            args: &["-p", "99999999999999999999"],
            code: 0,
            stderr: "invalid value \"99999999999999999999\" for flag -p: value out of range\n",
            usage: true,
        },
        FlagError {
            args: &["-p"],
            code: 0,
            stderr: "flag needs an argument: -p\n",
            usage: true,
        },
        FlagError {
            args: &["-T=2"],
            code: 0,
            stderr: "invalid boolean value \"2\" for -T: parse error\n",
            usage: true,
        },
        FlagError {
            args: &["---p", "5"],
            code: 0,
            stderr: "bad flag syntax: ---p\n",
            usage: true,
        },
        // A bool never consumes the next argument: `false` is a positional argument.
        FlagError {
            args: &["-D", "false"],
            code: 1,
            stderr: "natsd: unrecognized command: \"false\"\n",
            usage: false,
        },
        // After `--` everything is positional, flags included.
        FlagError {
            args: &["--", "-p", "5"],
            code: 1,
            stderr: "natsd: unrecognized command: \"-p\"\n",
            usage: false,
        },
        // Parsing stops at the first non-flag; only the first positional is looked at.
        FlagError {
            args: &["foo", "-x", "bar"],
            code: 1,
            stderr: "natsd: unrecognized command: \"foo\"\n",
            usage: false,
        },
    ];
    let help = natsd_help();
    for case in cases {
        // Loopback and a random port first: should a case start a server, it binds nothing
        // shared (and is killed at the deadline).
        let args = [&LOOPBACK[..], case.args].concat();
        let run = run_cli(Impl::Natsd, &args);
        let want = CliRun {
            code: case.code,
            stdout: if case.usage {
                help.clone()
            } else {
                String::new()
            },
            stderr: case.stderr.to_string(),
        };
        assert_eq!(run, want, "natsd {args:?}");
        assert_same_as_reference(&args, &run);
    }
}

#[test]
fn equals_syntax_dashes_and_last_repeat_win() {
    for imp in Impl::enabled() {
        // The first -p would fail (port taken): the later random port must win.
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken_port = taken.local_addr().expect("local_addr").port().to_string();
        let first_taken = [
            "-a",
            "0.0.0.0",
            "--addr=127.0.0.1",
            &format!("-p={taken_port}"),
            "--port",
            "-1",
        ];
        let p = Proc::server(imp, fresh_temp_dir(), &first_taken);
        let addr = p.client_addr();
        assert_eq!(addr.ip().to_string(), "127.0.0.1", "{imp}: --addr= wins");
        assert_ne!(addr.port().to_string(), taken_port, "{imp}: last -p wins");
        drop(p);

        // A random port first, then a fixed one: the fixed one is used.
        let port = free_port();
        let last_fixed = ["--a", "127.0.0.1", "-port", "-1", &format!("--p={port}")];
        let p = Proc::server(imp, fresh_temp_dir(), &last_fixed);
        assert_eq!(p.client_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    }
}

#[test]
fn unsupported_flags_exit_1_without_starting() {
    let dir = fresh_temp_dir();
    let args = [
        &LOOPBACK[..],
        &["--profile", "0", "--ports_file_dir", path_str(&dir)],
    ]
    .concat();
    let mut p = Proc::spawn(Impl::Natsd, dir.clone(), &args);
    assert_eq!(p.exit_code(), 1, "natsd {args:?}");
    let stderr = "natsd: flag --profile is not supported yet\n".to_string();
    assert_eq!((p.stdout(), p.stderr()), (String::new(), stderr));
    assert!(!p.ports_file().exists(), "{args:?} wrote a ports file");
}

#[test]
fn routes_without_a_cluster_listener_are_refused() {
    for imp in Impl::enabled() {
        let args = [&LOOPBACK[..], &["--routes", "nats://127.0.0.1:1"]].concat();
        let mut p = Proc::spawn(imp, fresh_temp_dir(), &args);
        assert_eq!(p.exit_code(), 1, "{imp}");
        let stderr = p.stderr();
        assert!(
            stderr.ends_with(": solicited routes require cluster capabilities, e.g. --cluster\n"),
            "{imp}: {stderr}"
        );
    }
}

/// Startup lines after the first (`Starting ...`), by their fixed prefix, in order.
const STARTUP_PREFIXES: [&str; 6] = [
    "  Version:  ",
    "  Git:      ",
    "  Name:     ",
    "  ID:       ",
    "Listening for client connections on ",
    READY,
];

/// What kind of startup line `msg` is (`Starting` or its prefix), or the whole message if
/// unknown.
fn startup_kind(imp: Impl, msg: &str) -> String {
    if msg == starting_line(imp) {
        return "Starting".to_string();
    }
    let kind = STARTUP_PREFIXES.iter().find(|p| msg.starts_with(*p));
    kind.map_or(msg, |k| k).to_string()
}

#[test]
fn random_port_startup_lines_in_reference_order() {
    let expected_kinds: Vec<&str> = std::iter::once("Starting")
        .chain(STARTUP_PREFIXES)
        .collect();
    let mut sequences = Vec::new();
    for imp in Impl::enabled() {
        let mut p = Proc::server(imp, fresh_temp_dir(), &LOOPBACK);
        let text = p.wait_for_line(Proc::stderr, READY);
        let lines = parse_log(&text, p.pid(), true);
        assert!(lines.iter().all(|l| l.label == "INF"), "{imp}: {text}");
        let kinds: Vec<String> = lines.iter().map(|l| startup_kind(imp, &l.msg)).collect();
        assert_eq!(kinds, expected_kinds, "{imp}: {text}");

        let msgs: Vec<&str> = lines.iter().map(|l| l.msg.as_str()).collect();
        assert_eq!(msgs[1..3], ["  Version:  2.9.10", "  Git:      [not set]"]);
        let id = &msgs[4]["  ID:       ".len()..];
        let base32 = |c: char| c.is_ascii_uppercase() || ('2'..='7').contains(&c);
        let id_ok = id.len() == 56 && id.starts_with('N') && id.chars().all(base32);
        assert!(id_ok, "{imp}: bad server id {id:?}");
        assert_eq!(
            msgs[3],
            format!("  Name:     {id}"),
            "{imp}: default name = id"
        );

        let port = p.client_addr().port();
        assert_ne!(port, 0);
        let listening = format!("Listening for client connections on 127.0.0.1:{port}");
        assert_eq!(msgs[5], listening, "{imp}: logged port = ports file port");
        let ports_text = read_text(&p.ports_file());
        let want = format!(r#"{{"nats":["nats://127.0.0.1:{port}"]}}"#);
        assert_eq!(ports_text, want, "{imp}: ports file");
        sequences.push(kinds);
    }
    // Spelled out: natsd's line kinds are the reference's.
    if let [natsd, reference] = &sequences[..] {
        assert_eq!(natsd, reference);
    }
}

/// With client TLS and route TLS, the ports file's URLs use the `tls` scheme (which clients
/// and tools read to know they must start TLS), as the reference writes them.
#[test]
fn ports_file_names_tls_listeners_tls() {
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/certs");
    let cert = |name: &str| path_str(&certs.join(name)).to_string();
    let conf_text = format!(
        "tls {{ cert_file: {server:?}, key_file: {key:?} }}\n\
         cluster {{ listen: \"127.0.0.1:-1\", name: ports\n  \
         tls {{ cert_file: {route:?}, key_file: {route_key:?}, ca_file: {ca:?} }} }}\n",
        server = cert("server-cert.pem"),
        key = cert("server-key.pem"),
        route = cert("route-cert.pem"),
        route_key = cert("route-key.pem"),
        ca = cert("ca.pem"),
    );
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let conf = dir.join("tls.conf");
        fs::write(&conf, &conf_text).unwrap();
        let args = [&LOOPBACK[..], &["-c", path_str(&conf)]].concat();
        let p = Proc::server(imp, dir.clone(), &args);
        let ports = p.ports().expect("ports file");
        let scheme = |key: &str| {
            let url = ports[key][0].as_str().unwrap_or_default().to_string();
            url.split_once("://").map(|(scheme, _)| scheme.to_string())
        };
        assert_eq!(scheme("nats").as_deref(), Some("tls"), "{imp}: {ports}");
        assert_eq!(scheme("cluster").as_deref(), Some("tls"), "{imp}: {ports}");
    }
}

#[test]
fn logtime_false_drops_timestamps() {
    for imp in Impl::enabled() {
        let args = [&LOOPBACK[..], &["-T=false"]].concat();
        let mut p = Proc::server(imp, fresh_temp_dir(), &args);
        let text = p.wait_for_line(Proc::stderr, READY);
        let lines = parse_log(&text, p.pid(), false);
        let first = format!("[{}] [INF] {}\n", p.pid(), starting_line(imp));
        assert!(text.starts_with(&first), "{imp}: {text}");
        assert_eq!(lines.last().map(|l| l.msg.as_str()), Some(READY));
    }
}

#[test]
fn log_file_gets_every_line_and_stderr_nothing() {
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let log = dir.join("server.log");
        let args = [&LOOPBACK[..], &["-l", path_str(&log)]].concat();
        let mut p = Proc::server(imp, dir, &args);
        p.wait_for_line(|_| read_text(&log), READY);
        p.signal(libc::SIGINT);
        assert_eq!(p.exit_code(), 0, "{imp}");
        let lines = parse_log(&read_text(&log), p.pid(), true);
        assert_eq!(lines[0].msg, starting_line(imp), "{imp}");
        assert_in_order(
            &lines,
            &[
                ("INF", READY),
                ("INF", "Initiating Shutdown..."),
                ("INF", "Server Exiting.."),
            ],
        );
        assert_eq!((p.stdout(), p.stderr()), (String::new(), String::new()));
    }
}

#[test]
fn sigint_exits_0_after_shutdown_lines_and_debug_shows_dbg() {
    for imp in Impl::enabled() {
        let args = [&LOOPBACK[..], &["-D"]].concat();
        let mut p = Proc::server(imp, fresh_temp_dir(), &args);
        p.wait_for_line(Proc::stderr, READY);
        p.signal(libc::SIGINT);
        assert_eq!(p.exit_code(), 0, "{imp}: SIGINT exit code");
        let lines = parse_log(&p.stderr(), p.pid(), true);
        assert_in_order(
            &lines,
            &[
                ("INF", READY),
                ("DBG", "Trapped \"interrupt\" signal"),
                ("INF", "Initiating Shutdown..."),
                ("INF", "Server Exiting.."),
            ],
        );
        assert_eq!(
            lines.last().map(|l| l.msg.as_str()),
            Some("Server Exiting..")
        );
        assert!(!p.ports_file().exists(), "{imp}: ports file left behind");
    }
}

#[test]
fn sigterm_exits_1_keeps_pid_file_removes_ports_file() {
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let pid_file = dir.join("server.pid");
        let args = [&LOOPBACK[..], &["-P", path_str(&pid_file)]].concat();
        let mut p = Proc::server(imp, dir, &args);
        let pid = p.pid().to_string();
        assert_eq!(read_text(&pid_file), pid, "{imp}: pid file, no newline");
        p.signal(libc::SIGTERM);
        assert_eq!(p.exit_code(), 1, "{imp}: SIGTERM exit code");
        assert_eq!(read_text(&pid_file), pid, "{imp}: pid file kept");
        assert!(!p.ports_file().exists(), "{imp}: ports file left behind");
    }
}

#[test]
fn sigusr1_reopens_log_file() {
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let log = dir.join("server.log");
        let rotated = dir.join("server.log.1");
        let args = [&LOOPBACK[..], &["-l", path_str(&log)]].concat();
        let mut p = Proc::server(imp, dir, &args);
        p.wait_for_line(|_| read_text(&log), READY);
        fs::rename(&log, &rotated).expect("rename log");
        p.signal(libc::SIGUSR1);
        let text = p.wait_for_line(|_| read_text(&log), "[INF] File log re-opened");
        let first = &parse_log(&text, p.pid(), true)[0];
        assert_eq!(
            (first.label.as_str(), first.msg.as_str()),
            ("INF", "File log re-opened")
        );
        let old = read_text(&rotated);
        assert!(
            old.contains(READY) && !old.contains("re-opened"),
            "{imp}: {old}"
        );
        assert_eq!(p.stderr(), "", "{imp}");
    }
}

#[test]
fn shutdown_flushes_pending_messages_then_closes_clients() {
    for imp in Impl::enabled() {
        let mut p = Proc::server(imp, fresh_temp_dir(), &LOOPBACK);
        let connect = || {
            let mut w = Wire::connect(p.client_addr());
            w.label = format!("{imp} {}", w.label);
            w.read_info();
            w
        };
        let mut sub = connect();
        sub.send(format!("{CONNECT}SUB foo 1\r\nPING\r\n").as_bytes());
        sub.expect(b"PONG\r\n");
        let mut publisher = connect();
        publisher.send(format!("{CONNECT}PUB foo 5\r\nhello\r\nPING\r\n").as_bytes());
        publisher.expect(b"PONG\r\n");
        p.signal(libc::SIGINT);
        sub.expect(b"MSG foo 1 5\r\nhello\r\n");
        sub.expect_closed();
        publisher.expect_closed();
        assert_eq!(p.exit_code(), 0, "{imp}");
    }
}

/// A raw client on `addr` sends CONNECT, `SUB foo 1`, `PUB foo 5 hello` and PING in one write,
/// checks the exact reply and closes. Returns the log prefix of its connection:
/// `127.0.0.1:<client port> - cid:<client_id> - `.
fn pub_sub_session(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut info = String::new();
    reader.read_line(&mut info).expect("read INFO");
    let json: Value = serde_json::from_str(
        info.strip_prefix("INFO ")
            .and_then(|i| i.strip_suffix(" \r\n"))
            .unwrap_or_else(|| panic!("bad INFO line {info:?}")),
    )
    .expect("INFO JSON");
    let session = format!("{CONNECT}SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n");
    stream.write_all(session.as_bytes()).expect("write");
    let expected = "MSG foo 1 5\r\nhello\r\nPONG\r\n";
    let mut reply = vec![0; expected.len()];
    reader.read_exact(&mut reply).expect("read reply");
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    let port = stream.local_addr().expect("local_addr").port();
    format!("127.0.0.1:{port} - cid:{} - ", json["client_id"])
}

/// Runs [`pub_sub_session`] against `imp` started with `-DV` and `extra` args, waits for the
/// server to log the close, stops it (SIGINT, so everything is logged) and returns that
/// connection's log lines as `[LABEL] message` without the connection prefix.
fn traced_session(imp: Impl, extra: &[&str]) -> Vec<String> {
    let args = [&LOOPBACK[..], &["-DV"], extra].concat();
    let mut p = Proc::server(imp, fresh_temp_dir(), &args);
    let prefix = pub_sub_session(p.client_addr());
    let closed = format!("[DBG] {prefix}Client connection closed: Client Closed");
    p.wait_for_line(Proc::stderr, &closed);
    p.signal(libc::SIGINT);
    assert_eq!(p.exit_code(), 0, "{imp}");
    parse_log(&p.stderr(), p.pid(), true)
        .into_iter()
        .filter_map(|l| {
            let msg = l.msg.strip_prefix(&prefix)?;
            Some(format!("[{}] {msg}", l.label))
        })
        .collect()
}

#[test]
fn trace_shows_protocol_lines_with_connection_prefix() {
    let expected = [
        "[DBG] Client connection created",
        r#"[TRC] <<- [CONNECT {"verbose":false,"pedantic":false}]"#,
        "[TRC] <<- [SUB foo 1]",
        "[TRC] <<- [PUB foo 5]",
        r#"[TRC] <<- MSG_PAYLOAD: ["hello"]"#,
        "[TRC] ->> [MSG foo 1 5]",
        "[TRC] <<- [PING]",
        "[TRC] ->> [PONG]",
        "[DBG] Client connection closed: Client Closed",
        "[TRC] <-> [DELSUB 1]",
    ];
    for imp in Impl::enabled() {
        assert_eq!(traced_session(imp, &[]), expected, "{imp}");
    }
}

#[test]
fn max_traced_msg_len_truncates_payload_trace() {
    for imp in Impl::enabled() {
        let lines = traced_session(imp, &["--max_traced_msg_len", "3"]);
        let payload: Vec<&String> = lines.iter().filter(|l| l.contains("MSG_PAYLOAD")).collect();
        assert_eq!(payload, [r#"[TRC] <<- MSG_PAYLOAD: ["hel..."]"#], "{imp}");
    }
}

/// This machine's host name (what remote syslog lines carry).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it here.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname");
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A UDP socket on a random loopback port, with a read timeout, and its `udp://` URL.
fn syslog_socket() -> (UdpSocket, String) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    sock.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let url = format!("udp://{}", sock.local_addr().expect("local_addr"));
    (sock, url)
}

/// Receives remote syslog datagrams up to and including [`READY`], checking each is
/// `<5>TIMESTAMP HOST TAG: MESSAGE\n` with this host and `tag` (`name[pid]:`); returns the
/// messages.
fn syslog_until_ready(sock: &UdpSocket, tag: &str) -> Vec<String> {
    let host = hostname();
    let mut msgs = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while msgs.last().map(String::as_str) != Some(READY) {
        assert!(Instant::now() < deadline, "no {READY:?} in {msgs:?}");
        let mut buf = [0u8; 2048];
        let n = sock.recv(&mut buf).expect("syslog datagram");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // `<5>2026-11-25T16:18:22Z host tag[pid]: message\n`
        let fields: Vec<&str> = text.splitn(4, ' ').collect();
        assert_eq!(fields.len(), 4, "{text:?}");
        assert!(
            fields[0].starts_with("<5>") && fields[0].contains('T'),
            "{text:?}"
        );
        assert_eq!(fields[1..3], [host.as_str(), tag], "{text:?}");
        let msg = fields[3].strip_suffix('\n').expect("ends in newline");
        msgs.push(msg.to_string());
    }
    msgs
}

#[test]
fn remote_syslog_udp_sends_tagged_datagrams() {
    for imp in Impl::enabled() {
        let (sock, url) = syslog_socket();
        let args = [&LOOPBACK[..], &["-r", &url]].concat();
        let p = Proc::server(imp, fresh_temp_dir(), &args);
        let msgs = syslog_until_ready(&sock, &format!("{}[{}]:", prog(imp), p.pid()));
        assert_eq!(msgs[0], starting_line(imp), "{imp}");
        assert_eq!(
            p.stderr(),
            "",
            "{imp}: remote syslog writes nothing to stderr"
        );
    }
}

/// `imp`'s binary as an absolute path (the reference is looked up on `PATH`).
fn absolute_exe(imp: Impl) -> PathBuf {
    let exe = imp.exe();
    if exe.is_absolute() {
        return exe;
    }
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{} not on PATH", exe.display()))
}

#[test]
fn argv0_basename_names_syslog_tag_and_ports_file_not_messages() {
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let link = dir.join("mynats");
        std::os::unix::fs::symlink(absolute_exe(imp), &link).expect("symlink");
        let (sock, url) = syslog_socket();
        let args = [&LOOPBACK[..], &["-r", &url]].concat();
        // Waits for `<dir>/mynats_<pid>.ports`.
        let p = Proc::server_as(imp, &link, dir.clone(), &args);
        let msgs = syslog_until_ready(&sock, &format!("mynats[{}]:", p.pid()));
        assert_eq!(msgs[0], starting_line(imp), "{imp}");
        // Error messages keep the fixed program name.
        let mut bad = Proc::spawn_as(imp, &link, fresh_temp_dir(), &["-D", "false"]);
        assert_eq!(bad.exit_code(), 1, "{imp}");
        let want = format!("{}: unrecognized command: \"false\"\n", prog(imp));
        assert_eq!(bad.stderr(), want, "{imp}");
    }
}

/// Whether this machine can listen on IPv6 loopback.
fn ipv6_available() -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: cannot bind [::1]:0 on this machine: {e}");
            false
        }
    }
}

#[test]
fn ipv6_listen_address() {
    if !ipv6_available() {
        return;
    }
    for imp in Impl::enabled() {
        let server = ServerProc::start(imp, &["-a", "::1"]);
        let addr = server.client_addr();
        assert_eq!(addr.ip().to_string(), "::1", "{imp}: ports file URL");
        let mut w = Wire::connect(addr);
        let info = w.read_info();
        assert_eq!(info["client_ip"], "::1", "{imp}: {info}");
        assert_eq!(info["host"], "::1", "{imp}: {info}");
        assert_eq!(info["port"], addr.port(), "{imp}: {info}");
        w.send(b"PING\r\n");
        w.expect(b"PONG\r\n");
        let listening = format!("Listening for client connections on [::1]:{}", addr.port());
        assert!(server.log().contains(&listening), "{imp}: {}", server.log());
    }
}

/// The last stderr line of an exited process, without its `[pid] date time ` prefix when it
/// has one.
fn last_stderr_line(p: &Proc) -> String {
    let stderr = p.stderr();
    let line = stderr.lines().last().unwrap_or_default();
    let pid = format!("[{}] ", p.pid());
    match line.strip_prefix(&pid) {
        Some(rest) => rest.splitn(3, ' ').nth(2).unwrap_or(rest).to_string(),
        None => line.to_string(),
    }
}

#[test]
fn startup_failures_exit_1_with_reference_messages() {
    let mut failures = Vec::new();
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let held = TcpListener::bind("127.0.0.1:0").expect("bind");
        let held_port = held.local_addr().expect("local_addr").port().to_string();
        let missing = dir.join("missing");
        let pid_file = missing.join("x.pid");
        let log_file = missing.join("x.log");
        let (pid_file, log_file) = (path_str(&pid_file), path_str(&log_file));
        // (args after `-a 127.0.0.1`, the last stderr line without pid and time)
        let cases: [(&[&str], String); 4] = [
            (
                &["-p", &held_port],
                format!(
                    "[FTL] Error listening on port: 127.0.0.1:{held_port}, \
                     \"listen tcp 127.0.0.1:{held_port}: bind: address already in use\""
                ),
            ),
            (
                &["-p", "70000"],
                "[FTL] Error listening on port: 127.0.0.1:70000, \
                 \"listen tcp: address 70000: invalid port\""
                    .to_string(),
            ),
            (
                &["-p", "-1", "-P", pid_file],
                format!(
                    "[FTL] Could not write pidfile: open {pid_file}: no such file or directory"
                ),
            ),
            // Before logging starts: Go's log.Fatalf (the reference prefixes its date and time).
            (
                &["-p", "-1", "-l", log_file],
                format!("error opening file: open {log_file}: no such file or directory"),
            ),
        ];
        for (args, fatal) in cases {
            let args = [&["-a", "127.0.0.1"][..], args].concat();
            let mut p = Proc::spawn(imp, fresh_temp_dir(), &args);
            let (code, last) = (p.exit_code(), last_stderr_line(&p));
            if code != 1 || !last.ends_with(&fatal) {
                failures.push(format!(
                    "{imp} {args:?}: exit {code}\n got: {last}\nwant: {fatal}"
                ));
            }
        }
        drop(held);
        let _ = fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unwritable_ports_file_dir_is_an_error_not_fatal() {
    for imp in Impl::enabled() {
        let dir = fresh_temp_dir();
        let missing = dir.join("missing");
        let args = [&LOOPBACK[..], &["--ports_file_dir", path_str(&missing)]].concat();
        let mut p = Proc::spawn(imp, dir, &args);
        let file = missing.join(format!("{}_{}.ports", prog(imp), p.pid()));
        let file = path_str(&file);
        let error = format!(
            "[ERR] Error writing ports file ({file}): open {file}: no such file or directory"
        );
        let text = p.wait_for_line(Proc::stderr, &error);
        // Still serving clients.
        let listening = "[INF] Listening for client connections on ";
        let addr = text
            .lines()
            .find_map(|l| Some(l.split_once(listening)?.1))
            .unwrap_or_else(|| panic!("{imp}: no listening line in {text}"));
        let mut w = Wire::connect(addr.parse().expect("listen address"));
        w.read_info();
        w.send(b"PING\r\n");
        w.expect(b"PONG\r\n");
    }
}

/// INFO of the first client of `imp` started with `args`, and the client port.
fn first_info(imp: Impl, args: &[&str]) -> (Value, u16) {
    let server = ServerProc::start(imp, args);
    let info = Wire::connect(server.client_addr()).read_info();
    (info, server.client_addr().port())
}

#[test]
fn client_advertise_sets_info_host_and_port() {
    for imp in Impl::enabled() {
        let (info, _) = first_info(imp, &["--client_advertise", "myhost:5222"]);
        let got = (&info["host"], &info["port"]);
        assert_eq!(got, (&Value::from("myhost"), &Value::from(5222)), "{imp}");
        // Without a port the client port is advertised.
        let (info, port) = first_info(imp, &["--client_advertise=myhost"]);
        let got = (&info["host"], &info["port"]);
        assert_eq!(got, (&Value::from("myhost"), &Value::from(port)), "{imp}");
        // A bracketed IPv6 literal loses its brackets.
        let (info, _) = first_info(imp, &["-client_advertise", "[::1]:77"]);
        let got = (&info["host"], &info["port"]);
        assert_eq!(got, (&Value::from("::1"), &Value::from(77)), "{imp}");
    }
}

#[test]
fn client_advertise_without_brackets_is_fatal_like_reference() {
    for imp in Impl::enabled() {
        let args = [&LOOPBACK[..], &["--client_advertise", "::1"]].concat();
        let mut p = Proc::spawn(imp, fresh_temp_dir(), &args);
        assert_eq!(p.exit_code(), 1, "{imp}: {}", p.stderr());
        let fatal = "[FTL] Error setting server INFO with ClientAdvertise value of ::1, \
                     err=address ::1: too many colons in address";
        assert_eq!(last_stderr_line(&p), fatal, "{imp}");
    }
}

#[test]
fn server_name_flag_sets_info_and_log_name() {
    let forms: [&[&str]; 3] = [
        &["-n", "myname"],
        &["--server_name=myname"],
        &["-name", "first", "--n", "myname"],
    ];
    for imp in Impl::enabled() {
        for args in forms {
            let server = ServerProc::start(imp, args);
            let info = Wire::connect(server.client_addr()).read_info();
            assert_eq!(info["server_name"], "myname", "{imp} {args:?}");
            let log = server.log();
            assert!(log.contains("[INF]   Name:     myname\n"), "{imp}: {log}");
        }
    }
}
