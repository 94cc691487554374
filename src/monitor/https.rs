//! HTTPS monitoring: TLS ends here, with natsd's own rustls configuration (the `tls {}`
//! block without client certificates, as the reference's monitoring TLS), and tiny_http
//! serves the decrypted HTTP from a private Unix socket in Linux's abstract namespace (no
//! file, no port). So the binary carries one TLS stack with one set of cipher suites and
//! curves, and a client that connects and never completes the handshake is dropped after
//! the TLS timeout.
//!
//! One thread accepts; each connection gets a thread that completes the handshake and then
//! relays bytes both ways, as tiny_http itself gives each connection a thread.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use crate::tls::TlsSession;

/// Bytes relayed per read, either way.
const CHUNK: usize = 16 * 1024;
/// Decrypted bytes held for tiny_http at most: beyond, the client is not read.
const MAX_TO_PLAIN: usize = 64 * 1024;

/// First bytes of a plain HTTP request (Go's `tlsRecordHeaderLooksLikeHTTP`)…
const HTTP_STARTS: [&[u8; 5]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];
/// …which get the reference's answer instead of a TLS alert.
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The accepting side of HTTPS monitoring.
pub struct TlsTerminator {
    listener: Arc<TcpListener>,
    thread: Option<JoinHandle<()>>,
}

impl TlsTerminator {
    /// Starts accepting on `public`, and returns the private listener tiny_http serves.
    pub fn start(
        public: TcpListener,
        config: Arc<ServerConfig>,
        handshake_timeout: Duration,
    ) -> io::Result<(TlsTerminator, UnixListener)> {
        let private = private_address()?;
        let plain = UnixListener::bind_addr(&private)?;
        let listener = Arc::new(public);
        let accepting = listener.clone();
        let thread = std::thread::Builder::new()
            .name("monitor-tls".into())
            .spawn(move || accept_loop(&accepting, &config, &private, handshake_timeout))?;
        let terminator = TlsTerminator {
            listener,
            thread: Some(thread),
        };
        Ok((terminator, plain))
    }

    /// Stops accepting (shutting the listening socket down wakes the blocked `accept`) and
    /// joins the accept thread; connections already relayed finish on their own.
    pub fn stop(mut self) {
        // SAFETY: shutdown on a socket this struct keeps open.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A fresh abstract socket name: `natsd-monitor-<pid>-<random>`.
fn private_address() -> io::Result<SocketAddr> {
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(io::Error::other)?;
    let name = format!(
        "natsd-monitor-{}-{:016x}",
        std::process::id(),
        u64::from_ne_bytes(random)
    );
    SocketAddr::from_abstract_name(name.as_bytes())
}

fn accept_loop(
    listener: &TcpListener,
    config: &Arc<ServerConfig>,
    private: &SocketAddr,
    handshake_timeout: Duration,
) {
    loop {
        let tcp = match listener.accept() {
            Ok((tcp, _)) => tcp,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if is_transient_accept_error(&err) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // The listener was shut down (TlsTerminator::stop).
            Err(_) => return,
        };
        let Ok(session) = TlsSession::new(config.clone()) else {
            continue;
        };
        let private = private.clone();
        let _ = std::thread::Builder::new()
            .name("monitor-tls-conn".into())
            .spawn(move || {
                let _ = Relay::new(tcp, session)
                    .and_then(|relay| relay.run(&private, Instant::now() + handshake_timeout));
            });
    }
}

/// Accept errors that concern one connection or a passing shortage, not the listener.
fn is_transient_accept_error(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One HTTPS connection: TLS records on `tcp`, plain HTTP on `plain` (tiny_http's side,
/// connected once the handshake is done).
struct Relay {
    tcp: TcpStream,
    tls: TlsSession,
    /// Whether the client's first bytes were looked at (for a plain HTTP request).
    checked_start: bool,
    plain: Option<UnixStream>,
    /// Decrypted bytes not yet taken by tiny_http.
    to_plain: Vec<u8>,
    /// The client closed (or sent close_notify): tiny_http gets end of stream.
    client_done: bool,
    /// tiny_http closed: close_notify goes out, then the connection ends.
    plain_done: bool,
}

impl Relay {
    fn new(tcp: TcpStream, tls: TlsSession) -> io::Result<Relay> {
        tcp.set_nonblocking(true)?;
        Ok(Relay {
            tcp,
            tls,
            checked_start: false,
            plain: None,
            to_plain: Vec::new(),
            client_done: false,
            plain_done: false,
        })
    }

    /// Relays until either side is finished; an error on either ends the connection.
    fn run(mut self, private: &SocketAddr, handshake_deadline: Instant) -> io::Result<()> {
        loop {
            self.flush_tls()?;
            let client_gone = self.client_done && self.plain.is_none();
            if (self.plain_done || client_gone) && !self.tls.wants_write() {
                return Ok(());
            }
            if self.plain.is_none() && !self.tls.is_handshaking() {
                let plain = UnixStream::connect_addr(private)?;
                plain.set_nonblocking(true)?;
                self.plain = Some(plain);
            }
            let timeout = if self.tls.is_handshaking() {
                let left = handshake_deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ErrorKind::TimedOut.into());
                }
                Some(left)
            } else {
                None
            };
            let (client_ready, plain_ready) = self.wait(timeout)?;
            if client_ready && !self.checked_start {
                self.checked_start = true;
                if self.sent_plain_http() {
                    return Ok(());
                }
            }
            if client_ready {
                self.read_client()?;
            }
            self.take_plaintext()?;
            self.write_plain()?;
            if plain_ready {
                self.read_plain()?;
            }
        }
    }

    /// Waits for what the relay can act on: `(client readable or writable, tiny_http
    /// readable or writable)`. Reading from a side waits while the other side has not taken
    /// what came before (backpressure both ways).
    fn wait(&self, timeout: Option<Duration>) -> io::Result<(bool, bool)> {
        let mut client_events = 0;
        if !self.client_done && self.to_plain.is_empty() {
            client_events |= libc::POLLIN;
        }
        if self.tls.wants_write() {
            client_events |= libc::POLLOUT;
        }
        let mut fds = vec![poll_fd(self.tcp.as_raw_fd(), client_events)];
        if let Some(plain) = &self.plain {
            let mut events = 0;
            if !self.plain_done && !self.tls.wants_write() {
                events |= libc::POLLIN;
            }
            if !self.to_plain.is_empty() {
                events |= libc::POLLOUT;
            }
            fds.push(poll_fd(plain.as_raw_fd(), events));
        }
        let timeout_ms = timeout.map_or(-1, |t| t.as_millis().clamp(1, i32::MAX as u128) as i32);
        // SAFETY: `fds` is a live, correctly sized array of pollfd.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                ErrorKind::Interrupted => Ok((false, false)),
                _ => Err(err),
            };
        }
        let plain_ready = fds.get(1).is_some_and(|fd| fd.revents != 0);
        Ok((fds[0].revents != 0, plain_ready))
    }

    /// Answers a plain HTTP request as Go's HTTPS server does (`400`, then close), so that
    /// `curl http://…` on the HTTPS port says what is wrong; whether it did.
    fn sent_plain_http(&mut self) -> bool {
        let mut start = [0u8; 5];
        let looks_like_http =
            matches!(self.tcp.peek(&mut start), Ok(5)) && HTTP_STARTS.contains(&&start);
        if looks_like_http {
            let _ = self.tcp.set_nonblocking(false);
            let _ = self.tcp.write_all(PLAIN_HTTP_ANSWER);
        }
        looks_like_http
    }

    /// Takes the client's TLS records (one socket read; `poll` reports more).
    fn read_client(&mut self) -> io::Result<()> {
        match self.tls.read_tls_from(&mut self.tcp) {
            Ok(0) => self.client_done = true,
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) => {
                // rustls queued an alert saying why: send it, best effort.
                let _ = self.flush_tls();
                return Err(err);
            }
        }
        Ok(())
    }

    /// Moves what rustls decrypted into `to_plain`, up to [`MAX_TO_PLAIN`] (the rest stays
    /// in rustls, and the client is not read, until tiny_http has taken it).
    fn take_plaintext(&mut self) -> io::Result<()> {
        let mut buf = [0u8; CHUNK];
        while self.to_plain.len() < MAX_TO_PLAIN {
            match self.tls.read_plain(&mut buf) {
                Ok(0) => self.client_done = true,
                Ok(n) => {
                    self.to_plain.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::UnexpectedEof => self.client_done = true,
                Err(err) => return Err(err),
            }
            break;
        }
        Ok(())
    }

    /// Hands decrypted bytes to tiny_http; once the client is done and everything is
    /// handed over, tiny_http sees end of stream.
    fn write_plain(&mut self) -> io::Result<()> {
        let Some(plain) = &mut self.plain else {
            return Ok(());
        };
        while !self.to_plain.is_empty() {
            match plain.write(&self.to_plain) {
                Ok(n) => drop(self.to_plain.drain(..n)),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(err) => return Err(err),
            }
        }
        if self.client_done {
            let _ = plain.shutdown(std::net::Shutdown::Write);
        }
        Ok(())
    }

    /// Encrypts what tiny_http answered; at its end of stream, queues close_notify.
    fn read_plain(&mut self) -> io::Result<()> {
        let Some(plain) = &mut self.plain else {
            return Ok(());
        };
        let mut buf = [0u8; CHUNK];
        match plain.read(&mut buf) {
            Ok(0) => {
                self.plain_done = true;
                self.tls.send_close_notify();
                Ok(())
            }
            Ok(n) => {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    match self.tls.write_plain(rest) {
                        Ok(taken) => rest = &rest[taken..],
                        Err(err) if err.kind() == ErrorKind::WouldBlock => self.flush_blocking()?,
                        Err(err) => return Err(err),
                    }
                }
                Ok(())
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Writes queued TLS records until done or the socket is full.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls_to(&mut self.tcp) {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Makes room in rustls' buffer when a read from tiny_http did not fit: waits for the
    /// client's socket to take records.
    fn flush_blocking(&mut self) -> io::Result<()> {
        self.flush_tls()?;
        if self.tls.wants_write() {
            let mut fds = [poll_fd(self.tcp.as_raw_fd(), libc::POLLOUT)];
            // SAFETY: `fds` is a live one-element array of pollfd.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) };
        }
        Ok(())
    }
}

/// A pollfd for `events`; with none, a negative fd that `poll` skips (it would otherwise
/// report a hung-up socket again and again).
fn poll_fd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: if events == 0 { -1 } else { fd },
        events,
        revents: 0,
    }
}
