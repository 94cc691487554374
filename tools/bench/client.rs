//! A minimal synchronous NATS client for load generation.
//!
//! One [`Conn`] is one TCP connection owned by one thread. Writes are queued in
//! a buffer and go out in chunks of about 64 KB (or on [`Conn::write_out`]);
//! reads go through a 1 MB buffer and [`Conn::next_event`] hands out `MSG`
//! frames as slices into it, answering server `PING`s on the way. A flush is a
//! `PING`/`PONG` round trip: when it returns, the server has processed
//! everything sent before it. A `tls://` URL (as servers with TLS list
//! themselves in their ports file) reads the server's plain-text `INFO`, then
//! speaks TLS (rustls, as natsd), trusting the CA given to [`use_tls`].

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const READ_BUF: usize = 1 << 20;
const WRITE_CHUNK: usize = 64 * 1024;
const MAX_LINE: usize = 64 * 1024;
const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

/// How long a write may block before the run is declared stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A delivered message, borrowed from the connection's read buffer.
pub struct Msg<'a> {
    pub subject: &'a [u8],
    pub sid: u64,
    pub reply: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// What [`Conn::next_event`] returns: a message or the answer to our `PING`.
pub enum Event<'a> {
    Msg(Msg<'a>),
    Pong,
}

/// A parsed frame, as ranges into the read buffer.
enum Frame {
    Msg {
        subject: Range<usize>,
        sid: u64,
        reply: Option<Range<usize>>,
        payload: Range<usize>,
    },
    Ping,
    Pong,
    Ignored,
    Err(String),
}

enum Parse {
    /// A whole frame, and the bytes it took.
    Frame(Frame, usize),
    /// At least this many bytes (from the read position) are needed.
    Need(usize),
}

/// The TLS settings of `tls://` connections, once [`use_tls`] has set them.
static TLS: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// Sets the CA certificates (PEM) that `tls://` connections trust; once per process.
pub fn use_tls(ca: &Path) -> Result<(), String> {
    let _ = natsd::tls::ring_provider().install_default();
    let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TLS.set(Arc::new(config))
        .map_err(|_| "TLS is already configured".to_string())
}

/// The connection's byte stream: plain TCP or TLS over it.
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    /// The TCP socket underneath.
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => tls.get_ref(),
        }
    }

    /// Starts TLS after the server's plain-text `INFO` line (read byte by byte, so that
    /// nothing of the handshake is taken with it).
    fn upgrade(mut tcp: TcpStream, host: &str, config: Arc<ClientConfig>) -> io::Result<Self> {
        let mut byte = [0u8; 1];
        while byte[0] != b'\n' {
            tcp.read_exact(&mut byte)?;
        }
        let name = ServerName::try_from(host.to_string()).map_err(io::Error::other)?;
        let session = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Transport::Tls(Box::new(StreamOwned::new(session, tcp))))
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.flush(),
            Transport::Tls(tls) => tls.flush(),
        }
    }
}

/// One client connection.
pub struct Conn {
    stream: Transport,
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    wbuf: Vec<u8>,
}

/// Whether an error is a read timeout rather than a failure.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// Appends the decimal form of `n`.
pub fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

impl Conn {
    /// Connects to `url` (`nats://host:port`, `tls://…` or `host:port`), sends `CONNECT`
    /// (signing in as `login`, user name and password, when given) and waits for the
    /// `PONG` that confirms the server accepted it; a refused login is the server's
    /// `-ERR`, as an error.
    pub fn connect(url: &str, login: Option<(&str, &str)>) -> io::Result<Conn> {
        let (tls, addr) = match url.split_once("://") {
            Some(("tls", addr)) => (true, addr),
            Some((_, addr)) => (false, addr),
            None => (false, url),
        };
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let stream = match (tls, TLS.get()) {
            (false, _) => Transport::Plain(tcp),
            (true, None) => return Err(io::Error::other("a tls:// URL needs --tls DIR")),
            (true, Some(config)) => {
                let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Transport::upgrade(tcp, host, config.clone())?
            }
        };
        let mut conn = Conn {
            stream,
            rbuf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            wbuf: Vec::with_capacity(2 * WRITE_CHUNK),
        };
        match login {
            None => conn.wbuf.extend_from_slice(CONNECT),
            Some((user, pass)) => {
                let options = serde_json::json!({
                    "verbose": false,
                    "pedantic": false,
                    "user": user,
                    "pass": pass,
                });
                conn.wbuf
                    .extend_from_slice(format!("CONNECT {options}\r\n").as_bytes());
            }
        }
        conn.flush()?;
        Ok(conn)
    }

    /// Sets how long [`Conn::next_event`] may wait for data (`None`: forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.tcp().set_read_timeout(timeout)
    }

    fn queued(&mut self) -> io::Result<()> {
        if self.wbuf.len() >= WRITE_CHUNK {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes everything queued so far to the socket.
    pub fn write_out(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf)?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Writes protocol bytes (such as a batch of `PUB` frames) as they are,
    /// after anything queued.
    pub fn write_direct(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_out()?;
        self.stream.write_all(bytes)
    }

    /// Queues `PUB subject [reply] len` and the payload.
    pub fn publish(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        payload: &[u8],
    ) -> io::Result<()> {
        let w = &mut self.wbuf;
        w.extend_from_slice(b"PUB ");
        w.extend_from_slice(subject);
        w.push(b' ');
        if let Some(reply) = reply {
            w.extend_from_slice(reply);
            w.push(b' ');
        }
        push_u64(w, payload.len() as u64);
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(payload);
        w.extend_from_slice(b"\r\n");
        self.queued()
    }

    /// Queues `SUB subject [queue] sid`.
    pub fn subscribe(&mut self, subject: &str, queue: Option<&str>, sid: u64) -> io::Result<()> {
        let w = &mut self.wbuf;
        w.extend_from_slice(b"SUB ");
        w.extend_from_slice(subject.as_bytes());
        w.push(b' ');
        if let Some(queue) = queue {
            w.extend_from_slice(queue.as_bytes());
            w.push(b' ');
        }
        push_u64(w, sid);
        w.extend_from_slice(b"\r\n");
        self.queued()
    }

    /// Queues `UNSUB sid`.
    pub fn unsubscribe(&mut self, sid: u64) -> io::Result<()> {
        self.wbuf.extend_from_slice(b"UNSUB ");
        push_u64(&mut self.wbuf, sid);
        self.wbuf.extend_from_slice(b"\r\n");
        self.queued()
    }

    /// Sends a `PING` (with everything queued before it).
    pub fn ping(&mut self) -> io::Result<()> {
        self.wbuf.extend_from_slice(b"PING\r\n");
        self.write_out()
    }

    /// Sends a `PING` and waits for its `PONG`. A message arriving meanwhile is
    /// an error: only flush connections that expect none.
    pub fn flush(&mut self) -> io::Result<()> {
        self.ping()?;
        match self.next_event()? {
            Event::Pong => Ok(()),
            Event::Msg(m) => Err(protocol_error(format!(
                "unexpected MSG for sid {} while flushing",
                m.sid
            ))),
        }
    }

    /// Whether received bytes are waiting in the read buffer.
    pub fn has_buffered_input(&self) -> bool {
        self.start < self.end
    }

    /// The next `MSG` or `PONG`, reading as needed. Server `PING`s are answered,
    /// `INFO` and `+OK` skipped; `-ERR` and end of stream are errors.
    pub fn next_event(&mut self) -> io::Result<Event<'_>> {
        loop {
            match self.parse()? {
                Parse::Frame(frame, len) => {
                    self.start += len;
                    match frame {
                        Frame::Msg {
                            subject,
                            sid,
                            reply,
                            payload,
                        } => {
                            let buf = &self.rbuf;
                            return Ok(Event::Msg(Msg {
                                subject: &buf[subject],
                                sid,
                                reply: reply.map(|r| &buf[r]),
                                payload: &buf[payload],
                            }));
                        }
                        Frame::Pong => return Ok(Event::Pong),
                        Frame::Ping => {
                            self.wbuf.extend_from_slice(b"PONG\r\n");
                            self.write_out()?;
                        }
                        Frame::Ignored => {}
                        Frame::Err(line) => {
                            return Err(io::Error::other(format!("server said {line}")))
                        }
                    }
                }
                Parse::Need(need) => self.fill(need)?,
            }
        }
    }

    /// Reads more so that at least `need` bytes from the read position fit.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        if self.rbuf.len() - self.start < need {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.rbuf.len() < need {
                self.rbuf.resize(need, 0);
            }
        }
        let n = self.stream.read(&mut self.rbuf[self.end..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        self.end += n;
        Ok(())
    }

    fn parse(&self) -> io::Result<Parse> {
        let buf = &self.rbuf[self.start..self.end];
        if buf.starts_with(b"MSG ") {
            return self.parse_msg(buf);
        }
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return need_line(buf);
        };
        let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
        let frame = match line {
            b"PING" => Frame::Ping,
            b"PONG" => Frame::Pong,
            _ if line.starts_with(b"+OK") || line.starts_with(b"INFO ") => Frame::Ignored,
            _ if line.starts_with(b"-ERR") => {
                Frame::Err(String::from_utf8_lossy(line).into_owned())
            }
            _ => {
                return Err(protocol_error(format!(
                    "unexpected line {:?}",
                    String::from_utf8_lossy(line)
                )))
            }
        };
        Ok(Parse::Frame(frame, nl + 1))
    }

    /// Parses `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n` at the
    /// start of `buf` (single spaces, as servers send it).
    fn parse_msg(&self, buf: &[u8]) -> io::Result<Parse> {
        let mut spaces = [0; 3];
        let Some((nl, n)) = scan_line(buf, 4, &mut spaces) else {
            return need_line(buf);
        };
        let line = &buf[..nl];
        let bad = || protocol_error(format!("bad MSG line {:?}", String::from_utf8_lossy(line)));
        let end = if line.ends_with(b"\r") { nl - 1 } else { nl };
        let (sid_end, reply, size_start) = match n {
            2 => (spaces[1], None, spaces[1] + 1),
            3 => (spaces[1], Some(spaces[1] + 1..spaces[2]), spaces[2] + 1),
            _ => return Err(bad()),
        };
        let sid = parse_u64(&line[spaces[0] + 1..sid_end]).ok_or_else(bad)?;
        let size = parse_u64(&line[size_start..end]).ok_or_else(bad)? as usize;
        if spaces[0] == 4 || reply.as_ref().is_some_and(Range::is_empty) {
            return Err(bad());
        }
        let head = nl + 1;
        let total = head + size + 2;
        if buf.len() < total {
            return Ok(Parse::Need(total));
        }
        if &buf[head + size..total] != b"\r\n" {
            return Err(protocol_error("MSG payload not followed by CRLF"));
        }
        let at = self.start;
        let shift = |r: Range<usize>| at + r.start..at + r.end;
        let frame = Frame::Msg {
            subject: shift(4..spaces[0]),
            sid,
            reply: reply.map(shift),
            payload: shift(head..head + size),
        };
        Ok(Parse::Frame(frame, total))
    }
}

/// What to ask for when `buf` holds no whole line yet.
fn need_line(buf: &[u8]) -> io::Result<Parse> {
    if buf.len() > MAX_LINE {
        return Err(protocol_error("protocol line too long"));
    }
    Ok(Parse::Need(buf.len() + 1))
}

/// The high bit of each byte of `word` that equals `byte` (exact, no false
/// positives).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Finds the `\n` ending the line that starts before `from`, eight bytes at a
/// time, noting where the first spaces from `from` on are. Returns the
/// newline's index and the number of spaces before it.
fn scan_line(buf: &[u8], from: usize, spaces: &mut [usize]) -> Option<(usize, usize)> {
    let mut n = 0;
    let mut note = |at: usize| {
        if let Some(slot) = spaces.get_mut(n) {
            *slot = at;
        }
        n += 1;
    };
    let mut i = from;
    while let Some(chunk) = buf.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let nl = bytes_equal(word, b'\n');
        let mut sp = bytes_equal(word, b' ');
        if nl != 0 {
            // Only the spaces before the newline.
            sp &= (nl & nl.wrapping_neg()) - 1;
        }
        while sp != 0 {
            note(i + (sp.trailing_zeros() / 8) as usize);
            sp &= sp - 1;
        }
        if nl != 0 {
            return Some((i + (nl.trailing_zeros() / 8) as usize, n));
        }
        i += 8;
    }
    for (at, &b) in buf.iter().enumerate().skip(i) {
        match b {
            b'\n' => return Some((at, n)),
            b' ' => note(at),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in [0, 7, 10, 65_536, u64::MAX / 10] {
            let mut buf = Vec::new();
            push_u64(&mut buf, n);
            assert_eq!(parse_u64(&buf), Some(n));
        }
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12x"), None);
    }

    #[test]
    fn lines_are_scanned() {
        let mut spaces = [0; 3];
        let line = b"MSG a.long.subject.name 12 _INBOX.x.y 16\r\npayload";
        assert_eq!(scan_line(line, 4, &mut spaces), Some((41, 3)));
        assert_eq!(spaces, [23, 26, 37]);
        assert_eq!(scan_line(b"MSG a 1 2\r\n", 4, &mut spaces), Some((10, 2)));
        assert_eq!(spaces[..2], [5, 7]);
        assert_eq!(scan_line(b"MSG a 1 2 and more", 4, &mut spaces), None);
        assert_eq!(
            bytes_equal(u64::from_le_bytes(*b"a!\n  \x01\n\x00"), b'\n'),
            0x0080_0000_0080_0000
        );
    }
}
