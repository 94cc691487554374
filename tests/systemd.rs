//! Black-box: natsd as a systemd `Type=notify` service. The test plays the service manager:
//! it binds the datagram socket `$NOTIFY_SOCKET` names (a path in a temp dir, or an
//! abstract name) and checks what natsd sends and when: `READY=1` once the listeners
//! accept, `RELOADING=1` (stamped on `CLOCK_MONOTONIC`) then `READY=1` around a reload,
//! `STOPPING=1` on SIGTERM and at the start of lame duck mode, `WATCHDOG=1` under
//! `$WATCHDOG_USEC`, and the `STATUS=` lines.

mod common;

use std::net::SocketAddr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self, UnixDatagram};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{free_port, fresh_temp_dir, http, Impl, ServerProc, Wire, TIMEOUT};

/// The test's end of `$NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
    /// The value for `NOTIFY_SOCKET`.
    name: String,
    /// The temp dir of a path socket (removed on drop).
    dir: Option<PathBuf>,
}

impl Manager {
    /// A socket at `<temp dir>/notify.sock`.
    fn at_path() -> Manager {
        let dir = fresh_temp_dir();
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        Manager::with(
            socket,
            path.to_str().expect("utf-8 path").to_string(),
            Some(dir),
        )
    }

    /// A socket with an abstract name (`@…`).
    fn abstract_name() -> Manager {
        let name = format!("natsd-systemd-test-{}", std::process::id());
        let addr = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket");
        Manager::with(socket, format!("@{name}"), None)
    }

    fn with(socket: UnixDatagram, name: String, dir: Option<PathBuf>) -> Manager {
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        Manager { socket, name, dir }
    }

    /// The next message, as its lines; panics after [`TIMEOUT`] (`waiting_for` says what
    /// was expected).
    fn next(&self, waiting_for: &str) -> Vec<String> {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no message while waiting for {waiting_for}: {e}"));
        let text = std::str::from_utf8(&buf[..n]).expect("utf-8 message");
        text.lines().map(str::to_string).collect()
    }

    /// The next message, which must begin with `first` (`READY=1`, …).
    fn expect(&self, first: &str) -> Vec<String> {
        let message = self.next(first);
        assert_eq!(message[0], first, "expected {first}, got {message:?}");
        message
    }

    /// The next message that is not a watchdog ping alone.
    fn next_event(&self, waiting_for: &str) -> Vec<String> {
        loop {
            let message = self.next(waiting_for);
            if message != ["WATCHDOG=1"] {
                return message;
            }
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The value of `KEY=` in a message.
fn value<'a>(message: &'a [String], key: &str) -> &'a str {
    let prefix = format!("{key}=");
    message
        .iter()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {message:?}"))
}

fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct we pass.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) },
        0
    );
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A client that has sent CONNECT and had its PING answered: counted by the server.
fn connected_client(addr: SocketAddr) -> Wire {
    let mut wire = Wire::connect(addr).answer_pings();
    wire.read_info();
    wire.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    wire.expect(b"PONG\r\n");
    wire
}

/// The next INFO on `wire`, answering the server's PINGs before it.
fn next_info(wire: &mut Wire) -> serde_json::Value {
    loop {
        let line = wire.read_line();
        if line == b"PING\r\n" {
            wire.send(b"PONG\r\n");
            continue;
        }
        let text = std::str::from_utf8(&line).expect("utf-8 line");
        let json = text
            .strip_prefix("INFO ")
            .unwrap_or_else(|| panic!("not INFO: {text:?}"));
        return serde_json::from_str(json.trim_end()).expect("INFO JSON");
    }
}

/// Receives the first message in a thread started before natsd, and the moment `READY=1`
/// arrives checks that the client and monitoring listeners answer: a `READY=1` sent before
/// they are up finds them closed. Gives the manager back with the client it connected.
fn probe_at_ready(
    manager: Manager,
    client: SocketAddr,
    monitor: SocketAddr,
) -> JoinHandle<(Manager, Vec<String>, Wire)> {
    std::thread::spawn(move || {
        let ready = manager.expect("READY=1");
        let wire = connected_client(client);
        let health = http::get(monitor, "/healthz");
        assert!(
            health.body.contains("ok"),
            "/healthz at READY=1: {}",
            health.body
        );
        (manager, ready, wire)
    })
}

/// The variables natsd gets: the socket, and no watchdog unless the test asks (an
/// inherited `WATCHDOG_USEC` would mix pings into the sequences).
fn env<'a>(notify_socket: &'a str, watchdog_usec: &'a str) -> [(&'a str, &'a str); 2] {
    [
        ("NOTIFY_SOCKET", notify_socket),
        ("WATCHDOG_USEC", watchdog_usec),
    ]
}

#[test]
fn ready_reload_and_stop_on_a_path_socket() {
    let manager = Manager::at_path();
    let name = manager.name.clone();
    let (port, http_port) = (free_port(), free_port());
    let conf = |max_payload: u32, max_pending: &str| {
        format!("http: 127.0.0.1:{http_port}\nmax_payload: {max_payload}\n{max_pending}")
    };
    let probe = probe_at_ready(manager, addr(port), addr(http_port));
    let mut server = ServerProc::start_with_config_env(
        Impl::Natsd,
        &conf(1000, ""),
        &["-p", &port.to_string()],
        &env(&name, ""),
    );
    let (manager, ready, wire) = probe.join().expect("READY=1 with the listeners up");
    assert_eq!(
        value(&ready, "STATUS"),
        format!(
            "Ready: clients on 127.0.0.1:{port}, monitoring on 127.0.0.1:{http_port}; 0 clients"
        )
    );

    // A reload: RELOADING=1 stamped now, then READY=1 once the new settings are in force.
    std::fs::write(server.config_path(), conf(2000, "")).unwrap();
    let before = monotonic_usec();
    server.signal(libc::SIGHUP);
    let reloading = manager.expect("RELOADING=1");
    let after = monotonic_usec();
    let stamp: u64 = value(&reloading, "MONOTONIC_USEC").parse().unwrap();
    assert!(
        (before..=after).contains(&stamp),
        "MONOTONIC_USEC={stamp} not within the test's {before}..={after}"
    );
    assert_eq!(value(&reloading, "STATUS"), "Reloading configuration");
    let ready = manager.expect("READY=1");
    assert!(
        server.log().contains("Reloaded server configuration"),
        "READY=1 before the reload was done; log:\n{}",
        server.log()
    );
    let info = Wire::connect(addr(port)).read_info();
    assert_eq!(
        info["max_payload"], 2000,
        "READY=1 before the reload took effect"
    );
    assert_eq!(
        value(&ready, "STATUS"),
        format!(
            "Ready: clients on 127.0.0.1:{port}, monitoring on 127.0.0.1:{http_port}; 1 client"
        )
    );

    // A refused reload (max_pending cannot change) also ends in READY=1, and says so.
    std::fs::write(server.config_path(), conf(2000, "max_pending: 1000\n")).unwrap();
    server.signal(libc::SIGHUP);
    manager.expect("RELOADING=1");
    let ready = manager.expect("READY=1");
    assert!(
        server
            .log()
            .contains("Failed to reload server configuration"),
        "READY=1 before the reload was done; log:\n{}",
        server.log()
    );
    let status = value(&ready, "STATUS");
    assert!(
        status.contains("; 1 client; last reload failed: "),
        "{status}"
    );

    // SIGTERM: STOPPING=1, then the process ends (status 1, as the reference).
    server.signal(libc::SIGTERM);
    let stopping = manager.expect("STOPPING=1");
    assert_eq!(
        value(&stopping, "STATUS"),
        "Stopping: shutting down; 1 client"
    );
    assert_eq!(server.wait_exit(TIMEOUT), Some(1));
    drop(wire);
}

#[test]
fn lame_duck_says_stopping_when_it_starts_on_an_abstract_socket() {
    let manager = Manager::abstract_name();
    // A long grace period: STOPPING=1 must come when lame duck mode starts, not when the
    // server finally stops (SIGINT cuts lame duck mode short).
    let conf = "lame_duck_duration: \"60s\"\nlame_duck_grace_period: \"50s\"\n";
    let mut server =
        ServerProc::start_with_config_env(Impl::Natsd, conf, &[], &env(&manager.name, ""));
    let ready = manager.expect("READY=1");
    let port = server.client_addr().port();
    assert_eq!(
        value(&ready, "STATUS"),
        format!("Ready: clients on 127.0.0.1:{port}; 0 clients")
    );
    let mut wire = connected_client(server.client_addr());
    server.signal(libc::SIGUSR2);
    let stopping = manager.expect("STOPPING=1");
    assert_eq!(
        value(&stopping, "STATUS"),
        "Stopping: lame duck mode, closing clients over 1m0s; 1 client"
    );
    // The server still serves its client after STOPPING=1: it came at the start.
    assert_eq!(next_info(&mut wire)["ldm"], true);
    wire.send(b"PING\r\n");
    wire.expect(b"PONG\r\n");
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(TIMEOUT), Some(0));
}

#[test]
fn watchdog_pings_repeatedly_and_stops_at_stopping() {
    let manager = Manager::at_path();
    let mut server =
        ServerProc::start_with_config_env(Impl::Natsd, "", &[], &env(&manager.name, "200000"));
    manager.expect("READY=1");
    // Every 100 ms: ten pings within a few seconds.
    let start = Instant::now();
    for _ in 0..10 {
        assert_eq!(manager.next("WATCHDOG=1")[0], "WATCHDOG=1");
    }
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    // A ping carries the status line again when the counts change.
    let _client = connected_client(server.client_addr());
    loop {
        let ping = manager.expect("WATCHDOG=1");
        if ping.len() > 1 {
            assert!(value(&ping, "STATUS").ends_with("; 1 client"), "{ping:?}");
            break;
        }
    }
    server.signal(libc::SIGTERM);
    manager.next_event("STOPPING=1");
    assert_eq!(server.wait_exit(TIMEOUT), Some(1));
    // Nothing after STOPPING=1: no ping slipped in behind it.
    manager.socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let after = manager.socket.recv(&mut buf);
    assert!(after.is_err(), "a message after STOPPING=1: {after:?}");
}
