//! The service manager's notification protocol (systemd's `sd_notify(3)`), spoken without
//! libsystemd: one datagram of newline-separated `KEY=VALUE` assignments per message, sent
//! on an unbound `AF_UNIX` datagram socket to the address in `$NOTIFY_SOCKET` (a path, or an
//! abstract name when it starts with `@`). The kernel attaches our credentials, which is how
//! the manager knows the sender (`NotifyAccess=main`).
//!
//! This module only knows the protocol: the socket ([`Notifier`]), the messages
//! ([`ready`], [`reloading`], [`stopping`], [`WATCHDOG`], [`status`]), the watchdog interval
//! from `$WATCHDOG_USEC`/`$WATCHDOG_PID` ([`watchdog_interval`]) and `CLOCK_MONOTONIC`
//! ([`monotonic_usec`]). When each is sent is the daemon's business (`process`). Without
//! `$NOTIFY_SOCKET` nothing is created and nothing is sent.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The watchdog keep-alive.
pub const WATCHDOG: &str = "WATCHDOG=1";

/// A socket to the service manager.
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names; `None` when it is unset or empty.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) if !name.is_empty() => Notifier::connect(&name).map(Some),
            _ => Ok(None),
        }
    }

    /// A notifier for `name`: `@abstract` or `/absolute/path` (the forms systemd sets).
    pub fn connect(name: &OsStr) -> io::Result<Notifier> {
        let addr = address(name.as_bytes())?;
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            addr,
        })
    }

    /// Sends one message (one datagram).
    pub fn send(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.addr)
            .map(drop)
    }
}

/// The socket address of a `$NOTIFY_SOCKET` value.
fn address(name: &[u8]) -> io::Result<SocketAddr> {
    match name {
        [b'@', abstract_name @ ..] => abstract_address(abstract_name),
        [b'/', ..] => SocketAddr::from_pathname(OsStr::from_bytes(name)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "unsupported NOTIFY_SOCKET {:?} (neither an absolute path nor @abstract)",
                String::from_utf8_lossy(name)
            ),
        )),
    }
}

#[cfg(target_os = "linux")]
fn abstract_address(name: &[u8]) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_address(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract NOTIFY_SOCKET names need Linux",
    ))
}

/// `READY=1` with a status line: start-up is complete, or a reload is.
pub fn ready(status_text: &str) -> String {
    format!("READY=1\n{}", status(status_text))
}

/// `RELOADING=1` stamped with `now` (µs of `CLOCK_MONOTONIC`, see [`monotonic_usec`]), with a
/// status line. [`ready`] must follow when the reload is done.
pub fn reloading(now: u64, status_text: &str) -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={now}\n{}", status(status_text))
}

/// `STOPPING=1` with a status line: shutting down (or draining, in lame duck mode).
pub fn stopping(status_text: &str) -> String {
    format!("STOPPING=1\n{}", status(status_text))
}

/// `STATUS=<text>`, the line `systemctl status` shows; line breaks become spaces, since
/// each line of a message is an assignment.
pub fn status(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("STATUS={text}")
}

/// How often to send [`WATCHDOG`]: half of `watchdog_usec` (`$WATCHDOG_USEC`), as
/// `sd_watchdog_enabled(3)` advises, when it is a positive number and `watchdog_pid`
/// (`$WATCHDOG_PID`), if given, is `own_pid`. `None`: no watchdog.
pub fn watchdog_interval(
    watchdog_usec: Option<&str>,
    watchdog_pid: Option<&str>,
    own_pid: u32,
) -> Option<Duration> {
    let usec: u64 = watchdog_usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = watchdog_pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_micros(1)))
}

/// [`watchdog_interval`] from the environment and our pid.
pub fn watchdog_interval_from_env() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// Now on `CLOCK_MONOTONIC` in microseconds (the clock systemd stamps reloads with).
pub fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct we pass; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique name for this test process.
    fn unique(what: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("natsd-notify-{what}-{}-{n}", std::process::id())
    }

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a datagram");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(unique("dir"));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("notify.sock");
        let manager = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::connect(path.as_os_str()).unwrap();
        notifier.send(&ready("up")).unwrap();
        notifier.send(WATCHDOG).unwrap();
        assert_eq!(receive(&manager), "READY=1\nSTATUS=up");
        assert_eq!(receive(&manager), "WATCHDOG=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = unique("abstract");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::connect(&OsString::from(format!("@{name}"))).unwrap();
        notifier.send(&stopping("bye")).unwrap();
        assert_eq!(receive(&manager), "STOPPING=1\nSTATUS=bye");
    }

    #[test]
    fn a_missing_listener_is_an_error_not_a_panic() {
        let notifier = Notifier::connect(OsStr::new("/nonexistent/natsd/notify.sock")).unwrap();
        assert!(notifier.send(WATCHDOG).is_err());
    }

    #[test]
    fn other_socket_forms_are_refused() {
        for name in ["relative.sock", "vsock:2:1234", ""] {
            assert!(Notifier::connect(OsStr::new(name)).is_err(), "{name:?}");
        }
    }

    #[test]
    fn message_formats() {
        assert_eq!(ready("Ready: x"), "READY=1\nSTATUS=Ready: x");
        assert_eq!(
            reloading(1_234_567, "Reloading"),
            "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=Reloading"
        );
        assert_eq!(stopping("Stopping"), "STOPPING=1\nSTATUS=Stopping");
        assert_eq!(status("a\nb\r\nc"), "STATUS=a b  c");
        assert_eq!(WATCHDOG, "WATCHDOG=1");
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_us() {
        let half = Some(Duration::from_millis(100));
        assert_eq!(watchdog_interval(Some("200000"), None, 7), half);
        assert_eq!(watchdog_interval(Some("200000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval(Some("200000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("200000"), Some("x"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("-5"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, Some("7"), 7), None);
        assert_eq!(
            watchdog_interval(Some("1"), None, 7),
            Some(Duration::from_micros(1))
        );
    }

    #[test]
    fn monotonic_usec_follows_the_monotonic_clock() {
        let before = monotonic_usec();
        let start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let after = monotonic_usec();
        let elapsed = start.elapsed().as_micros() as u64;
        assert!(after >= before + 20_000, "{before} → {after}");
        assert!(after - before <= elapsed + 5_000, "{before} → {after}");
    }
}
