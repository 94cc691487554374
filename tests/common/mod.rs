//! Black-box test harness shared by the integration test binaries.
//!
//! * [`ServerProc`]: a server binary (natsd or the reference `nats-server`) on a random port,
//!   with its own temp dir, stderr log and ports file; killed on drop.
//! * [`TestServer`]: "something listening for clients" — a [`ServerProc`] or an in-process
//!   natsd [`natsd::ServerHandle`] — started from [`Limits`], so one test runs against both.
//!
//! natsd is the binary cargo built, or `NATSD_BIN` run through `NATSD_RUNNER` (a cross build
//! under qemu-user: [`natsd_exe`], [`natsd_runner`]).
//! * [`Wire`]: a raw TCP client with timeouts and exact-byte expectations.
//! * [`Transcript`]: scripted steps over one or more connections; [`check`] runs a transcript
//!   against natsd and the reference and compares their INFO lines.
//!
//! Nothing here uses a fixed port, and every read has a timeout.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub mod cluster;
pub mod http;
pub mod jwt;
pub mod proxy;
pub mod sessions;

/// How long a read waits for expected bytes (and a server for its ports file) before failing.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Name of the reference binary looked up on `PATH`.
pub const REFERENCE_EXE: &str = "nats-server";

/// True if `nats-server` is on `PATH`. Otherwise panics when `NATSD_REQUIRE_REFERENCE=1`,
/// else prints `skipped: nats-server not installed` to stderr and returns false.
pub fn reference_available() -> bool {
    if find_on_path(REFERENCE_EXE).is_some() {
        return true;
    }
    if std::env::var("NATSD_REQUIRE_REFERENCE").is_ok_and(|v| v == "1") {
        panic!("{REFERENCE_EXE} not installed but NATSD_REQUIRE_REFERENCE=1");
    }
    eprintln!("skipped: {REFERENCE_EXE} not installed");
    false
}

fn find_on_path(exe: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(exe))
        .find(|p| p.is_file())
}

/// The implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// This crate's server.
    Natsd,
    /// The reference `nats-server` found on `PATH`.
    Reference,
}

impl Impl {
    /// The implementations to test: natsd always, the reference if [`reference_available`].
    pub fn enabled() -> Vec<Impl> {
        let mut v = vec![Impl::Natsd];
        if reference_available() {
            v.push(Impl::Reference);
        }
        v
    }

    /// The program: [`natsd_exe`], or the reference's name (looked up on `PATH`).
    pub fn exe(self) -> PathBuf {
        match self {
            Impl::Natsd => natsd_exe(),
            Impl::Reference => PathBuf::from(REFERENCE_EXE),
        }
    }

    /// A command that runs this implementation's program ([`Impl::exe`]); see
    /// [`Impl::command_for`].
    pub fn command(self) -> Command {
        self.command_for(&self.exe())
    }

    /// A command that runs `program` (this implementation's binary, or a link to it) with
    /// nothing before it, except natsd's [`natsd_runner`]. The process is the server itself
    /// either way (qemu-user runs the guest in its own process): its pid gets the signals
    /// and names the ports file.
    pub fn command_for(self, program: &Path) -> Command {
        let runner = match self {
            Impl::Natsd => natsd_runner(),
            Impl::Reference => Vec::new(),
        };
        match runner.split_first() {
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }
}

/// The natsd binary the black-box tests run: `NATSD_BIN` (e.g. a cross-built
/// `target/aarch64-unknown-linux-musl/release/natsd`, made absolute here, since some tests
/// run the server in another directory), else the one cargo built with the tests.
pub fn natsd_exe() -> PathBuf {
    match std::env::var_os("NATSD_BIN").filter(|v| !v.is_empty()) {
        Some(bin) => {
            let bin = std::path::absolute(&bin)
                .unwrap_or_else(|e| panic!("NATSD_BIN {}: {e}", bin.to_string_lossy()));
            assert!(bin.is_file(), "NATSD_BIN {}: no such file", bin.display());
            bin
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_natsd")),
    }
}

/// `NATSD_RUNNER` split on whitespace: the program (and its arguments) that runs natsd, e.g.
/// `qemu-aarch64-static` or `qemu-arm-static -L /usr/arm-linux-gnueabihf`. Empty when unset.
pub fn natsd_runner() -> Vec<String> {
    std::env::var("NATSD_RUNNER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// True when natsd runs through [`natsd_runner`] (an emulator such as qemu-user, whose own
/// `/proc/self/stat` shows the guest no memory or CPU use).
pub fn emulated() -> bool {
    !natsd_runner().is_empty()
}

/// True when `NATSD_BIN` or `NATSD_RUNNER` is set: the tests are run against a given
/// binary (a cross build under qemu), so natsd runs as that binary wherever a test would
/// otherwise start it in-process.
pub fn natsd_binary_given() -> bool {
    std::env::var_os("NATSD_BIN").is_some_and(|v| !v.is_empty()) || !natsd_runner().is_empty()
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Natsd => "natsd",
            Impl::Reference => "reference",
        })
    }
}

/// A fresh, empty directory under the system temp dir (removed by its owner).
pub fn fresh_temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "natsd-test-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let dir = std::env::temp_dir().join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A server process listening on 127.0.0.1 on a random port. Killed (and its temp dir removed)
/// on drop.
pub struct ServerProc {
    imp: Impl,
    child: Child,
    dir: PathBuf,
    ports: Value,
    client_addr: SocketAddr,
}

impl ServerProc {
    /// Spawns `imp` with `args` plus `-a 127.0.0.1 -p -1 --ports_file_dir <temp dir>` (the
    /// first two only if `args` sets no host/port), stderr to `<temp dir>/server.log`, and
    /// waits for the ports file. Panics (with the log) if the server exits or times out.
    pub fn start(imp: Impl, args: &[&str]) -> ServerProc {
        Self::spawn(imp, fresh_temp_dir(), args, true, &[])
    }

    /// Like [`ServerProc::start`], with `conf_text` written to `<temp dir>/server.conf` and
    /// passed as `-c <file>`.
    pub fn start_with_config(imp: Impl, conf_text: &str, args: &[&str]) -> ServerProc {
        Self::with_config(imp, conf_text, args, true, &[])
    }

    /// Like [`ServerProc::start_with_config`], with `env` (name, value) added to the
    /// server's environment.
    pub fn start_with_config_env(
        imp: Impl,
        conf_text: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProc {
        Self::with_config(imp, conf_text, args, true, env)
    }

    /// Like [`ServerProc::start_with_config`] but without `-a`/`-p`: the file says where to
    /// listen.
    pub fn start_with_config_listen(imp: Impl, conf_text: &str) -> ServerProc {
        Self::with_config(imp, conf_text, &[], false, &[])
    }

    fn with_config(
        imp: Impl,
        conf_text: &str,
        args: &[&str],
        listen_flags: bool,
        env: &[(&str, &str)],
    ) -> ServerProc {
        let dir = fresh_temp_dir();
        let conf = dir.join("server.conf");
        fs::write(&conf, conf_text).expect("write config");
        let mut all = vec!["-c", conf.to_str().expect("utf-8 temp path")];
        all.extend_from_slice(args);
        Self::spawn(imp, dir, &all, listen_flags, env)
    }

    fn spawn(
        imp: Impl,
        dir: PathBuf,
        args: &[&str],
        listen_flags: bool,
        env: &[(&str, &str)],
    ) -> ServerProc {
        // Does `args` set one of `flags` (`-p 4222` or `-p=4222`)?
        let has = |flags: &[&str]| {
            args.iter()
                .any(|a| flags.contains(&a.split('=').next().unwrap_or(a)))
        };
        let mut cmd = imp.command();
        cmd.args(args).envs(env.iter().copied());
        if listen_flags && !has(&["-a", "--addr", "--net"]) {
            cmd.args(["-a", "127.0.0.1"]);
        }
        if listen_flags && !has(&["-p", "--port"]) {
            cmd.args(["-p", "-1"]);
        }
        cmd.arg("--ports_file_dir").arg(&dir);
        let log = File::create(dir.join("server.log")).expect("create log");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", imp.exe().display()));
        let mut proc = ServerProc {
            imp,
            child,
            dir,
            ports: Value::Null,
            client_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        proc.ports = proc.wait_for_ports_file();
        let url = proc.ports["nats"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{imp}: no nats URL in ports file: {}", proc.ports));
        proc.client_addr = url_addr(url);
        proc
    }

    fn wait_for_ports_file(&mut self) -> Value {
        let exe = self.imp.exe();
        let base = exe.file_name().expect("exe name").to_string_lossy();
        let file = self.dir.join(format!("{base}_{}.ports", self.child.id()));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            // The file may be caught half-written: retry until it parses.
            if let Some(v) = fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{}: exited with {status} at startup; log:\n{}",
                    self.imp,
                    self.log()
                );
            }
            if Instant::now() > deadline {
                let listing: Vec<_> = fs::read_dir(&self.dir)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect())
                    .unwrap_or_default();
                panic!(
                    "{}: no ports file {} after {TIMEOUT:?} (dir has {listing:?}); log:\n{}",
                    self.imp,
                    file.display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The client listener address.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The parsed ports file (`{"nats":[...],"monitoring":[...],...}`).
    pub fn ports(&self) -> &Value {
        &self.ports
    }

    /// The server's private temp dir (holds `server.log`, the config and the ports file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `count` times; panics with the log on timeout.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "{}: no {needle:?} (x{count}) in log:\n{}",
                self.imp,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The configuration file of [`ServerProc::start_with_config`].
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("server.conf")
    }

    /// Sends `signal` to the server process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill {}", self.child.id());
    }

    /// Waits for the process to exit and returns its exit code; panics on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running; log:\n{}",
                self.imp,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `nats://127.0.0.1:4222` (any scheme) -> socket address.
pub fn url_addr(url: &str) -> SocketAddr {
    let hostport = url.split_once("://").map_or(url, |(_, rest)| rest);
    hostport
        .parse()
        .unwrap_or_else(|e| panic!("bad URL {url:?}: {e}"))
}

/// Server limits a test needs, stated once and mapped both to reference config text and to
/// natsd [`natsd::Options`]. `None` = the server default.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// `max_payload`.
    pub max_payload: Option<usize>,
    /// `max_control_line`.
    pub max_control_line: Option<usize>,
    /// `max_connections`.
    pub max_connections: Option<usize>,
    /// `max_subscriptions`.
    pub max_subscriptions: Option<usize>,
    /// `max_sub_tokens`.
    pub max_sub_tokens: Option<usize>,
    /// `ping_interval`.
    pub ping_interval: Option<Duration>,
    /// `ping_max`.
    pub ping_max: Option<u32>,
}

impl Limits {
    /// True when every limit is the default (no config needed).
    pub fn is_default(&self) -> bool {
        self.config_text().is_empty()
    }

    /// The limits as nats-server config text, one `key: value` line each.
    pub fn config_text(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!("{k}: {v}\n"));
            }
        };
        line("max_payload", self.max_payload.map(|v| v.to_string()));
        line(
            "max_control_line",
            self.max_control_line.map(|v| v.to_string()),
        );
        line(
            "max_connections",
            self.max_connections.map(|v| v.to_string()),
        );
        line(
            "max_subscriptions",
            self.max_subscriptions.map(|v| v.to_string()),
        );
        line("max_sub_tokens", self.max_sub_tokens.map(|v| v.to_string()));
        line(
            "ping_interval",
            self.ping_interval
                .map(|d| format!("\"{}ms\"", d.as_millis())),
        );
        line("ping_max", self.ping_max.map(|v| v.to_string()));
        s
    }

    /// natsd options for 127.0.0.1, a random port and these limits.
    pub fn options(&self) -> natsd::Options {
        let mut o = natsd::Options {
            host: "127.0.0.1".to_string(),
            port: natsd::RANDOM_PORT,
            ..natsd::Options::default()
        };
        if let Some(v) = self.max_payload {
            o.max_payload = v;
        }
        if let Some(v) = self.max_control_line {
            o.max_control_line = v;
        }
        if let Some(v) = self.max_connections {
            o.max_connections = v;
        }
        if let Some(v) = self.max_subscriptions {
            o.max_subscriptions = v;
        }
        if let Some(v) = self.max_sub_tokens {
            o.max_sub_tokens = v;
        }
        if let Some(v) = self.ping_interval {
            o.ping_interval = v;
        }
        if let Some(v) = self.ping_max {
            o.ping_max = v;
        }
        o
    }
}

/// A server a test talks to: its client address and how it stops (on drop).
pub struct TestServer {
    /// Which implementation this is.
    pub imp: Impl,
    addr: SocketAddr,
    proc: Option<ServerProc>,
    handle: Option<natsd::ServerHandle>,
}

impl TestServer {
    /// Starts `imp` with `limits`: the reference as a process (with a config file if the
    /// limits are not default); natsd as its binary when the limits are default or the binary
    /// is not cargo's ([`natsd_binary_given`]: then with the same config file), else
    /// in-process via `natsd::Server::start` with [`Limits::options`].
    pub fn start(imp: Impl, limits: &Limits) -> TestServer {
        let (proc, handle) = match imp {
            _ if limits.is_default() => (Some(ServerProc::start(imp, &[])), None),
            Impl::Reference => {
                let p = ServerProc::start_with_config(imp, &limits.config_text(), &[]);
                (Some(p), None)
            }
            Impl::Natsd if natsd_binary_given() => {
                let p = ServerProc::start_with_config(imp, &limits.config_text(), &[]);
                (Some(p), None)
            }
            Impl::Natsd => {
                let h = natsd::Server::start(limits.options())
                    .unwrap_or_else(|e| panic!("natsd::Server::start: {e}"));
                (None, Some(h))
            }
        };
        let addr = match (&proc, &handle) {
            (Some(p), _) => p.client_addr(),
            (_, Some(h)) => h.client_addr(),
            _ => unreachable!(),
        };
        TestServer {
            imp,
            addr,
            proc,
            handle,
        }
    }

    /// The client listener address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process, when the server runs as one (for its log, ports file, ...).
    pub fn proc(&self) -> Option<&ServerProc> {
        self.proc.as_ref()
    }

    /// A new raw connection to this server, labelled for failure messages.
    pub fn connect(&self) -> Wire {
        let mut w = Wire::connect(self.addr);
        w.label = format!("{} {}", self.imp, self.addr);
        w
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }
}

/// Bytes shown as an escaped string: `"MSG foo 1 2\r\nhi\r\n"`.
pub fn esc(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

/// A raw client connection with a receive buffer. Every read has a timeout; failures panic
/// with both sides escaped.
pub struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    /// Answer and skip the server's keep-alive PINGs between expected messages.
    answer_pings: bool,
    /// How long a read waits ([`TIMEOUT`] unless [`Wire::patience`] says otherwise).
    timeout: Duration,
    /// Prefix of failure messages (implementation and address).
    pub label: String,
}

impl Wire {
    /// Connects within [`TIMEOUT`].
    pub fn connect(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).ok();
        stream.set_write_timeout(Some(TIMEOUT)).ok();
        Wire {
            stream,
            buf: Vec::new(),
            eof: false,
            answer_pings: false,
            timeout: TIMEOUT,
            label: addr.to_string(),
        }
    }

    /// From now on, a server `PING` between expected messages is answered and skipped
    /// (for tests that may run past the server's first keep-alive PING, ~2 s after CONNECT).
    pub fn answer_pings(mut self) -> Wire {
        self.answer_pings = true;
        self
    }

    /// From now on, reads wait up to `timeout` instead of [`TIMEOUT`] (for an answer that
    /// waits its turn behind work the test piles on the server).
    pub fn patience(mut self, timeout: Duration) -> Wire {
        self.timeout = timeout;
        self
    }

    /// Shuts down the client's write side: the server reads the end of the stream.
    pub fn end_input(&mut self) {
        if let Err(e) = self.stream.shutdown(std::net::Shutdown::Write) {
            eprintln!("[{}] shutdown failed: {e}", self.label);
        }
    }

    /// Writes all of `bytes`. A write error (the server already closed) is only reported on
    /// stderr: the reads that follow show what really happened.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            eprintln!("[{}] send {} failed: {e}", self.label, esc(bytes));
        }
    }

    /// Reads once into the buffer, waiting at most until `deadline`. Returns false on
    /// timeout; sets `eof` on EOF or reset.
    fn fill(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if self.eof || now >= deadline {
            return false;
        }
        self.stream
            .set_read_timeout(Some(deadline - now))
            .expect("set_read_timeout");
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                true
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                // Reset / aborted: the peer is gone.
                self.eof = true;
                true
            }
        }
    }

    /// Reads until `done(buffer)` returns `Some(n)`, then removes and returns the first `n`
    /// bytes. Panics on timeout or close, showing the buffer.
    pub fn read_until(&mut self, mut done: impl FnMut(&[u8]) -> Option<usize>) -> Vec<u8> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(n) = done(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            if !self.fill(deadline) || (self.eof && done(&self.buf).is_none()) {
                let why = if self.eof {
                    "connection closed"
                } else {
                    "timeout"
                };
                panic!("[{}] {why}; buffered {}", self.label, esc(&self.buf));
            }
        }
    }

    /// Reads through the first `\n` and returns the line including it.
    pub fn read_line(&mut self) -> Vec<u8> {
        self.read_until(|b| b.iter().position(|&c| c == b'\n').map(|i| i + 1))
    }

    /// Reads one INFO line, checks its exact framing (`INFO ` + JSON + ` \r\n`) and
    /// returns the JSON text.
    pub fn read_info_raw(&mut self) -> String {
        let line = self.read_line();
        let ok = line.starts_with(b"INFO {") && line.ends_with(b"} \r\n");
        assert!(ok, "[{}] bad INFO framing: {}", self.label, esc(&line));
        let json = &line[5..line.len() - 3];
        let text = String::from_utf8(json.to_vec()).expect("INFO is UTF-8");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("[{}] INFO JSON: {e}: {text}", self.label));
        assert!(v.is_object(), "[{}] INFO is not an object", self.label);
        text
    }

    /// Reads one INFO line (framing checked, see [`Wire::read_info_raw`]) and parses it.
    pub fn read_info(&mut self) -> Value {
        serde_json::from_str(&self.read_info_raw()).expect("checked above")
    }

    /// Reads exactly `expected` within [`TIMEOUT`] (or [`Wire::patience`]); panics at the
    /// first differing byte, on close or on timeout, showing both sides.
    pub fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + self.timeout;
        loop {
            while self.answer_pings
                && self.buf.starts_with(b"PING\r\n")
                && !expected.starts_with(b"PING")
            {
                self.buf.drain(..6);
                self.send(b"PONG\r\n");
            }
            let n = self.buf.len().min(expected.len());
            if self.buf[..n] != expected[..n] {
                // Grab whatever else is already on its way, for a readable message.
                let _ = self.fill(Instant::now() + Duration::from_millis(50));
                panic!(
                    "[{}] mismatch\n expected: {}\n      got: {}",
                    self.label,
                    esc(expected),
                    esc(&self.buf)
                );
            }
            if n == expected.len() {
                self.buf.drain(..n);
                return;
            }
            if !self.fill(deadline) || (self.eof && self.buf.len() < expected.len()) {
                let why = if self.eof {
                    "connection closed"
                } else {
                    "timeout"
                };
                panic!(
                    "[{}] {why}\n expected: {}\n      got: {}",
                    self.label,
                    esc(expected),
                    esc(&self.buf)
                );
            }
        }
    }

    /// Expects EOF or a reset within [`TIMEOUT`] (or [`Wire::patience`]), with no other
    /// bytes arriving first.
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.answer_pings && self.buf.starts_with(b"PING\r\n") {
                self.buf.drain(..6);
            }
            if !self.buf.is_empty() || self.eof {
                break;
            }
            if !self.fill(deadline) {
                panic!(
                    "[{}] expected close, still open after {:?}",
                    self.label, self.timeout
                );
            }
        }
        assert!(
            self.buf.is_empty(),
            "[{}] expected close, got {}",
            self.label,
            esc(&self.buf)
        );
    }

    /// Expects that nothing arrives (and the connection stays open) for `dur`.
    pub fn expect_silence(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        while self.fill(deadline) && self.buf.is_empty() && !self.eof {}
        assert!(
            self.buf.is_empty() && !self.eof,
            "[{}] expected silence for {dur:?}, got {}{}",
            self.label,
            esc(&self.buf),
            if self.eof { " then close" } else { "" }
        );
    }
}

/// One transcript step on one connection.
#[derive(Clone, PartialEq)]
pub enum Step {
    /// Client writes these bytes.
    Send(Vec<u8>),
    /// Client shuts down its write side (the server reads the end of the stream).
    EndInput,
    /// Server must send exactly these bytes next.
    Expect(Vec<u8>),
    /// Server must close the connection, sending nothing more.
    ExpectClosed,
    /// Nothing may arrive for this many milliseconds.
    Silence(u64),
    /// Wait this many milliseconds (only for timers; prefer a PING/PONG barrier).
    Sleep(u64),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(b) => write!(f, "Send({})", esc(b)),
            Step::EndInput => write!(f, "EndInput"),
            Step::Expect(b) => write!(f, "Expect({})", esc(b)),
            Step::ExpectClosed => write!(f, "ExpectClosed"),
            Step::Silence(ms) => write!(f, "Silence({ms}ms)"),
            Step::Sleep(ms) => write!(f, "Sleep({ms}ms)"),
        }
    }
}

/// Scripted client/server exchange over connections numbered from 0. A connection is opened
/// (and its INFO line read and recorded) on its first step. Built fluently:
/// `Transcript::new().send(b"PING\r\n").expect(b"PONG\r\n").conn(1).send(..)`.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// `(connection index, step)` in execution order.
    pub steps: Vec<(usize, Step)>,
    cur: usize,
}

impl Transcript {
    /// An empty transcript; steps go to connection 0 until [`Transcript::conn`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Following steps go to connection `i`.
    pub fn conn(mut self, i: usize) -> Self {
        self.cur = i;
        self
    }

    fn step(mut self, s: Step) -> Self {
        self.steps.push((self.cur, s));
        self
    }

    /// Adds [`Step::Send`].
    pub fn send(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(Step::Send(bytes.as_ref().to_vec()))
    }

    /// Adds [`Step::EndInput`].
    pub fn end_input(self) -> Self {
        self.step(Step::EndInput)
    }

    /// Adds [`Step::Expect`].
    pub fn expect(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(Step::Expect(bytes.as_ref().to_vec()))
    }

    /// Adds [`Step::ExpectClosed`].
    pub fn expect_closed(self) -> Self {
        self.step(Step::ExpectClosed)
    }

    /// Adds [`Step::Silence`].
    pub fn silence(self, ms: u64) -> Self {
        self.step(Step::Silence(ms))
    }

    /// Adds [`Step::Sleep`].
    pub fn sleep(self, ms: u64) -> Self {
        self.step(Step::Sleep(ms))
    }

    /// `PING` then exactly `PONG`: proves everything sent before was processed and that
    /// nothing else was queued for this connection.
    pub fn ping_pong(self) -> Self {
        self.send("PING\r\n").expect("PONG\r\n")
    }
}

/// An INFO line as received: the JSON text (for key order) and its parsed value.
#[derive(Debug, Clone)]
pub struct Info {
    /// The JSON between `INFO ` and ` \r\n`.
    pub raw: String,
    /// The parsed JSON object.
    pub json: Value,
}

/// Runs `t` against `server`, panicking at the first failing step (the steps run so far are
/// printed to stderr). Returns each connection's INFO by connection index.
pub fn run(server: &TestServer, t: &Transcript) -> Infos {
    let mut conns: BTreeMap<usize, Wire> = BTreeMap::new();
    let mut infos = BTreeMap::new();
    for (n, (i, step)) in t.steps.iter().enumerate() {
        eprintln!("[{} c{i}] step {n}: {step:?}", server.imp);
        let w = conns.entry(*i).or_insert_with(|| {
            let mut w = server.connect();
            w.label = format!("{} c{i}", w.label);
            let raw = w.read_info_raw();
            let json = serde_json::from_str(&raw).expect("checked by read_info_raw");
            infos.insert(*i, Info { raw, json });
            w
        });
        match step {
            Step::Send(b) => w.send(b),
            Step::EndInput => w.end_input(),
            Step::Expect(b) => w.expect(b),
            Step::ExpectClosed => w.expect_closed(),
            Step::Silence(ms) => w.expect_silence(Duration::from_millis(*ms)),
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    infos
}

/// INFO keys whose values legitimately differ between servers and runs.
pub const UNSTABLE_INFO_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "go",
    "host",
    "port",
    "client_id",
    "client_ip",
    "nonce",
];

/// Top-level keys of a JSON object text, in order.
pub fn json_keys_in_order(obj: &str) -> Vec<String> {
    let (mut keys, mut depth, mut in_str, mut escaped) = (Vec::new(), 0, false, false);
    let mut expect_key = false;
    let mut cur: Option<String> = None;
    for c in obj.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
                if let Some(k) = cur.take() {
                    keys.push(k);
                }
                continue;
            }
            if let Some(k) = cur.as_mut() {
                k.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                if depth == 1 && expect_key {
                    cur = Some(String::new());
                    expect_key = false;
                }
            }
            '{' | '[' => {
                depth += 1;
                expect_key = depth == 1;
            }
            '}' | ']' => depth -= 1,
            ',' if depth == 1 => expect_key = true,
            _ => {}
        }
    }
    keys
}

/// Asserts two INFO lines agree: same keys in the same order, same values except
/// [`UNSTABLE_INFO_KEYS`].
pub fn assert_info_equivalent(natsd: &Info, reference: &Info) {
    assert_eq!(
        json_keys_in_order(&natsd.raw),
        json_keys_in_order(&reference.raw),
        "INFO keys differ\n    natsd: {}\nreference: {}",
        natsd.raw,
        reference.raw
    );
    let obj = reference.json.as_object().expect("INFO object");
    for (k, v) in obj {
        if !UNSTABLE_INFO_KEYS.contains(&k.as_str()) {
            assert_eq!(&natsd.json[k], v, "INFO value of {k:?} differs");
        }
    }
}

/// INFO lines of one run, by connection index.
pub type Infos = BTreeMap<usize, Info>;

/// Runs `t` against natsd and, when given, the reference, and compares their INFO lines
/// connection by connection. Returns the INFO lines of every run, for further checks.
pub fn compare(t: &Transcript, natsd: &TestServer, reference: Option<&TestServer>) -> Vec<Infos> {
    let n = run(natsd, t);
    let r = reference.map(|s| run(s, t));
    if let Some(r) = &r {
        for (i, ri) in r {
            let ni = n.get(i).expect("same connections on both");
            assert_info_equivalent(ni, ri);
        }
    }
    std::iter::once(n).chain(r).collect()
}

/// Starts every enabled implementation ([`Impl::enabled`]) with `limits` and calls `f` on
/// each, one after the other. For tests that cannot be a fixed transcript.
pub fn for_each_server(limits: &Limits, mut f: impl FnMut(&TestServer)) {
    for imp in Impl::enabled() {
        let server = TestServer::start(imp, limits);
        f(&server);
    }
}

/// The usual test body: starts the enabled implementations with `limits`, runs `t` on each
/// and compares INFO lines (see [`compare`], whose result it returns).
pub fn check(limits: &Limits, t: &Transcript) -> Vec<Infos> {
    let natsd = TestServer::start(Impl::Natsd, limits);
    let reference = reference_available().then(|| TestServer::start(Impl::Reference, limits));
    compare(t, &natsd, reference.as_ref())
}

/// Polls `condition` every 10 ms until it holds; panics with `what()` once `within` has
/// passed. For conditions seen from outside a connection (a monitoring count, a file); reads
/// on a [`Wire`] wait by themselves.
pub fn wait_until(
    within: Duration,
    mut condition: impl FnMut() -> bool,
    what: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "still not the case after {within:?}: {}",
            what()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port that is free now and cannot be handed out meanwhile to a server binding port 0
/// (`-p -1`, `-m -1`): it lies below the kernel's ephemeral range (Linux's default starts
/// at 32768), where only explicit binds land. No port is returned twice in one test
/// process; the start differs per process, so test binaries run side by side rarely meet.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    const FIRST: usize = 10_000;
    const SPAN: usize = 22_000;
    let start = std::process::id() as usize * 7_919;
    loop {
        let port = FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(port).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until every subscription an async-nats client has made is in place on the server.
/// (async-nats can put a SUB on the wire after a flush's PING, so `flush` alone does not
/// prove it.) A marker subscription made last is probed until it receives: SUBs of one
/// connection are processed in order, so the earlier ones are in place too.
pub async fn settle(client: &async_nats::Client) {
    use futures_util::StreamExt;
    static MARKERS: AtomicUsize = AtomicUsize::new(0);
    let marker = format!("_SETTLE.{}", MARKERS.fetch_add(1, Ordering::Relaxed));
    let mut sub = client
        .subscribe(marker.clone())
        .await
        .expect("subscribe marker");
    loop {
        client
            .publish(marker.clone(), "probe".into())
            .await
            .expect("publish probe");
        client.flush().await.expect("flush");
        let probe = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
        if let Ok(Some(_)) = probe {
            break;
        }
    }
    let _ = sub.unsubscribe().await;
}
