//! Syslog (`logger/syslog.go`, Go's `log/syslog`): the local daemon's socket (`-s`) or a remote
//! `udp://`, `tcp://` or `unix://` URL (`-r`), in the local or the network message form, with
//! the label's severity and no pid prefix; a failed send reconnects and retries once.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};

use super::format::{newline_unless_present, Label, LocalTime};
use crate::gofmt;

/// Local syslog sockets, tried in this order (Go `log/syslog` `unixSyslog`).
const LOCAL_SYSLOG_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
/// Syslog facility `kern`: what Go's `syslog.Dial(…, LOG_DEBUG, …)` ends up using.
const FACILITY_KERN: u8 = 0;
/// Syslog facility `daemon`, used for the local syslog.
const FACILITY_DAEMON: u8 = 3;

/// This machine's host name (`localhost` if it cannot be read).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, the length we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&byte| byte == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A message in the local syslog form: `<PRI>Mmm _d hh:mm:ss TAG[PID]: MSG\n`.
fn syslog_local_message(pri: u8, time: &LocalTime, tag: &str, pid: u32, message: &str) -> String {
    let stamp = time.syslog_stamp();
    let newline = newline_unless_present(message);
    format!("<{pri}>{stamp} {tag}[{pid}]: {message}{newline}")
}

/// A message in the network syslog form: `<PRI>RFC3339 HOST TAG[PID]: MSG\n`.
fn syslog_remote_message(
    pri: u8,
    time: &LocalTime,
    host: &str,
    tag: &str,
    pid: u32,
    message: &str,
) -> String {
    let stamp = time.rfc3339();
    let newline = newline_unless_present(message);
    format!("<{pri}>{stamp} {host} {tag}[{pid}]: {message}{newline}")
}

/// The syslog tag for a program path: its last non-empty `/`-separated part.
fn syslog_tag(argv0: &str) -> &str {
    argv0
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(argv0)
}

/// The syslog tag of this process (basename of argv\[0\]).
fn process_tag() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    syslog_tag(&argv0.to_string_lossy()).to_string()
}

/// Where syslog messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SyslogTarget {
    /// The local syslog daemon's socket (`-s`).
    Local,
    /// `udp://host:port`.
    Udp(String),
    /// `tcp://host:port`.
    Tcp(String),
    /// `unix:///path` (a stream socket).
    Unix(String),
}

impl SyslogTarget {
    /// Facility: `daemon` locally, `kern` for remote targets (Go `syslog.Dial` quirk).
    fn facility(&self) -> u8 {
        match self {
            SyslogTarget::Local => FACILITY_DAEMON,
            SyslogTarget::Udp(_) | SyslogTarget::Tcp(_) | SyslogTarget::Unix(_) => FACILITY_KERN,
        }
    }

    /// Unix sockets get the local form (no host name, `time.Stamp`), as in Go.
    fn uses_local_format(&self) -> bool {
        matches!(self, SyslogTarget::Local | SyslogTarget::Unix(_))
    }

    /// Connects; errors are Go's `net.Dial` / `log/syslog` texts.
    fn connect(&self) -> Result<SyslogConn, String> {
        match self {
            SyslogTarget::Local => {
                connect_local().ok_or_else(|| "Unix syslog delivery error".to_string())
            }
            SyslogTarget::Udp(addr) => {
                dial_each("udp", resolve("udp", addr)?, connect_udp).map(SyslogConn::Udp)
            }
            SyslogTarget::Tcp(addr) => dial_each("tcp", resolve("tcp", addr)?, |target| {
                TcpStream::connect(target)
            })
            .map(SyslogConn::Tcp),
            SyslogTarget::Unix(path) => UnixStream::connect(path)
                .map(SyslogConn::Stream)
                .map_err(|err| dial_error("unix", path, &err)),
        }
    }
}

/// Parses a `remote_syslog` URL the way the reference does (`url.Parse`, then the
/// scheme picks the network: host for `udp`/`tcp`, path for `unix`).
pub(super) fn parse_remote_url(url: &str) -> Result<SyslogTarget, String> {
    let (scheme, rest) =
        url_scheme(url).map_err(|err| format!("parse {}: {err}", gofmt::quote(url.as_bytes())))?;
    let scheme = scheme.to_ascii_lowercase();
    let (host, path) = url_host_and_path(rest);
    match scheme.as_str() {
        "udp" => Ok(SyslogTarget::Udp(host.to_string())),
        "tcp" => Ok(SyslogTarget::Tcp(host.to_string())),
        "unix" => Ok(SyslogTarget::Unix(path.to_string())),
        _ => Err(format!(
            "error invalid network type: {}",
            gofmt::quote(scheme.as_bytes())
        )),
    }
}

/// Splits off a URL scheme like Go's `getScheme`: `("", url)` when there is none.
fn url_scheme(url: &str) -> Result<(&str, &str), &'static str> {
    for (i, byte) in url.bytes().enumerate() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok((&url[..i], &url[i + 1..])),
            _ => break,
        }
    }
    Ok(("", url))
}

/// Host (without user info) and path of what follows a URL scheme; an opaque
/// remainder (no leading `/`) has neither.
fn url_host_and_path(rest: &str) -> (&str, &str) {
    let rest = rest.split(['#', '?']).next().unwrap_or_default();
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            (host, &after[end..])
        }
        None if rest.starts_with('/') => ("", rest),
        None => ("", ""),
    }
}

/// Resolves `host:port` for dialing, with Go's texts for the common failures.
fn resolve(network: &str, addr: &str) -> Result<Vec<SocketAddr>, String> {
    let Some((host, _port)) = addr.rsplit_once(':') else {
        return Err(format!(
            "dial {network}: address {addr}: missing port in address"
        ));
    };
    addr.to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|err| format!("dial {network}: lookup {host}: {err}"))
}

/// Tries each address in turn; the first failure is reported if none succeeds.
fn dial_each<T>(
    network: &str,
    targets: Vec<SocketAddr>,
    dial: impl Fn(SocketAddr) -> io::Result<T>,
) -> Result<T, String> {
    let mut first_error = None;
    for target in targets {
        match dial(target) {
            Ok(conn) => return Ok(conn),
            Err(err) => {
                first_error.get_or_insert_with(|| dial_error(network, &target.to_string(), &err));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| format!("dial {network}: no suitable address found")))
}

/// Go's `net.Dial` error text for a failed connect.
fn dial_error(network: &str, addr: &str, err: &io::Error) -> String {
    format!("dial {network} {addr}: connect: {}", gofmt::error_text(err))
}

/// A UDP socket connected to `target`.
fn connect_udp(target: SocketAddr) -> io::Result<UdpSocket> {
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    Ok(socket)
}

/// The local syslog socket: datagram first, then stream, over the usual paths.
fn connect_local() -> Option<SyslogConn> {
    let datagram = LOCAL_SYSLOG_PATHS.iter().find_map(|path| {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(path).ok()?;
        Some(SyslogConn::Datagram(socket))
    });
    datagram.or_else(|| {
        LOCAL_SYSLOG_PATHS
            .iter()
            .find_map(|path| UnixStream::connect(path).ok().map(SyslogConn::Stream))
    })
}

/// A connected syslog socket.
enum SyslogConn {
    Datagram(UnixDatagram),
    Stream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl SyslogConn {
    /// Sends one whole message.
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            SyslogConn::Datagram(socket) => socket.send(message).map(drop),
            SyslogConn::Udp(socket) => socket.send(message).map(drop),
            SyslogConn::Stream(stream) => stream.write_all(message),
            SyslogConn::Tcp(stream) => stream.write_all(message),
        }
    }
}

/// A syslog destination with its connection and message header fields.
pub(super) struct SyslogSink {
    target: SyslogTarget,
    conn: SyslogConn,
    tag: String,
    hostname: String,
}

impl SyslogSink {
    /// Connects to `target`; errors read `error connecting to syslog: "<err>"`.
    pub(super) fn open(target: SyslogTarget) -> Result<SyslogSink, String> {
        let conn = target.connect().map_err(|err| {
            format!(
                "error connecting to syslog: {}",
                gofmt::quote(err.as_bytes())
            )
        })?;
        Ok(SyslogSink {
            target,
            conn,
            tag: process_tag(),
            hostname: hostname(),
        })
    }

    /// Sends one message; on failure reconnects and retries once (Go `writeAndRetry`).
    pub(super) fn write(&mut self, label: Label, message: &str, now: &LocalTime) {
        let text = self.format(label, message, now);
        if self.conn.send(text.as_bytes()).is_ok() {
            return;
        }
        if let Ok(conn) = self.target.connect() {
            self.conn = conn;
            let _ = self.conn.send(text.as_bytes());
        }
    }

    /// The message text for this target.
    fn format(&self, label: Label, message: &str, now: &LocalTime) -> String {
        let pri = self.target.facility() * 8 + label.severity();
        let pid = std::process::id();
        if self.target.uses_local_format() {
            syslog_local_message(pri, now, &self.tag, pid, message)
        } else {
            syslog_remote_message(pri, now, &self.hostname, &self.tag, pid, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::test_support::{sample_time, temp_dir};
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    #[test]
    fn syslog_messages() {
        let time = sample_time(0);
        let local = syslog_local_message(29, &time, "nats-server", 42, "Server is ready");
        assert_eq!(
            local,
            "<29>Nov  5 16:18:05 nats-server[42]: Server is ready\n"
        );
        let remote = syslog_remote_message(7, &time, "vm", "nats-server", 42, "Go build\n");
        assert_eq!(
            remote,
            "<7>2026-11-05T16:18:05Z vm nats-server[42]: Go build\n"
        );
    }

    #[test]
    fn syslog_tags() {
        assert_eq!(syslog_tag("/usr/sbin/nats-server"), "nats-server");
        assert_eq!(syslog_tag("natsd"), "natsd");
        assert_eq!(syslog_tag("./bin/natsd/"), "natsd");
    }

    #[test]
    fn remote_url_targets() {
        let parse = |url| parse_remote_url(url).unwrap();
        assert_eq!(
            parse("udp://127.0.0.1:514"),
            SyslogTarget::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            parse("UDP://[::1]:514"),
            SyslogTarget::Udp("[::1]:514".into())
        );
        assert_eq!(
            parse("tcp://me@host:1/x?y#z"),
            SyslogTarget::Tcp("host:1".into())
        );
        assert_eq!(
            parse("unix:///dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
        assert_eq!(
            parse("unix:/dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
    }

    #[test]
    fn remote_url_errors() {
        let error = |url| parse_remote_url(url).unwrap_err();
        assert_eq!(
            error("xyz://host:1"),
            r#"error invalid network type: "xyz""#
        );
        assert_eq!(error("xyz"), r#"error invalid network type: """#);
        assert_eq!(
            error("localhost:514"),
            r#"error invalid network type: "localhost""#
        );
        assert_eq!(error(":foo"), r#"parse ":foo": missing protocol scheme"#);
    }

    #[test]
    fn udp_remote_syslog() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let url = format!("udp://{}", receiver.local_addr().unwrap());
        let mut sink = SyslogSink::open(parse_remote_url(&url).unwrap()).unwrap();
        sink.write(Label::Trace, "<<- [PING]", &sample_time(0));
        let mut buf = [0u8; 512];
        let len = receiver.recv(&mut buf).unwrap();
        let expected = format!(
            "<5>2026-11-05T16:18:05Z {} {}[{}]: <<- [PING]\n",
            hostname(),
            process_tag(),
            std::process::id()
        );
        assert_eq!(String::from_utf8_lossy(&buf[..len]), expected);
    }

    #[test]
    fn unix_remote_syslog_uses_local_form() {
        let dir = temp_dir("unix");
        let path = dir.join("syslog.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let url = format!("unix://{}", path.display());
        let mut sink = SyslogSink::open(parse_remote_url(&url).unwrap()).unwrap();
        sink.write(Label::Debug, "debug line", &sample_time(0));
        drop(sink);
        let mut received = String::new();
        listener
            .accept()
            .unwrap()
            .0
            .read_to_string(&mut received)
            .unwrap();
        let expected = format!(
            "<7>Nov  5 16:18:05 {}[{}]: debug line\n",
            process_tag(),
            std::process::id()
        );
        assert_eq!(received, expected);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
