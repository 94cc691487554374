//! A connection's transport as its owner reactor drives it: the socket, the TLS session
//! when there is one, and the socket's readiness kept as data (edge-triggered
//! registration: a flag stays set until a read or write says `WouldBlock`).
//!
//! The TLS session sits behind a lock ([`SharedTls`]) so that, once its handshake is done,
//! another reactor can encrypt a small batch into it and write it to the socket while the
//! owner is parked (see `handover`); every write of TLS records to the socket happens with
//! that lock held.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use log::debug;
use mio::net::TcpStream;

use super::conn::ConnShared;
use super::turn::Output;
use crate::tls::TlsSession;

/// A connection's TLS session, shared by its owner with other reactors' direct writes.
#[derive(Clone, Debug)]
pub struct SharedTls(Arc<Mutex<TlsSession>>);

impl SharedTls {
    pub fn new(session: TlsSession) -> Self {
        SharedTls(Arc::new(Mutex::new(session)))
    }

    /// The session, for the owner (waits for a direct write under way).
    pub fn lock(&self) -> MutexGuard<'_, TlsSession> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session, unless someone else is using it (a direct writer then stands back).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, TlsSession>> {
        match self.0.try_lock() {
            Ok(session) => Some(session),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// The socket, its TLS session, and its readiness.
pub struct Link {
    pub sock: TcpStream,
    /// The TLS session (clients: after the plain-text INFO; routes: from the start).
    pub tls: Option<SharedTls>,
    /// The peer may speak plain text instead (`allow_non_tls`): its first byte decides.
    tls_optional: bool,
    /// The handshake's outcome has been logged.
    tls_announced: bool,
    pub readable: bool,
    /// The peer closed its side (or the socket failed): read to the end of stream.
    pub read_closed: bool,
    pub writable: bool,
}

impl Link {
    pub fn new(sock: TcpStream, tls: Option<TlsSession>, tls_optional: bool) -> Self {
        Link {
            sock,
            tls: tls.map(SharedTls::new),
            tls_optional,
            tls_announced: false,
            readable: false,
            read_closed: false,
            writable: true,
        }
    }

    /// The TLS handshake is under way.
    pub fn is_handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.lock().is_handshaking())
    }

    /// With `allow_non_tls`, decides from the peer's first byte whether it speaks TLS (a
    /// handshake record, 0x16, as the reference checks) or plain text, dropping the TLS
    /// session for the latter. Returns true when the link just turned plain. Nothing is
    /// decided before a byte arrives.
    pub fn settle_optional_tls(&mut self) -> io::Result<bool> {
        if !self.tls_optional {
            return Ok(false);
        }
        let mut first = [0u8; 1];
        match self.sock.peek(&mut first) {
            Ok(0) => Ok(false),
            Ok(_) if first[0] == 0x16 => {
                self.tls_optional = false;
                Ok(false)
            }
            Ok(_) => Ok(self.give_up_optional_tls()),
            Err(e) => Err(e),
        }
    }

    /// With `allow_non_tls` and nothing received yet: the peer is taken to speak plain
    /// text. Returns whether that happened.
    pub fn give_up_optional_tls(&mut self) -> bool {
        if !self.tls_optional {
            return false;
        }
        self.tls_optional = false;
        self.tls = None;
        true
    }

    /// Reads input: from the socket, or decrypted through TLS. `Interrupted` means "TLS
    /// consumed bytes but has no plain text yet: read again".
    pub fn read_input(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_ref() else {
            return self.sock.read(buf);
        };
        let mut tls = tls.lock();
        match tls.read_plain(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            done => return done,
        }
        if tls.read_tls_from(&mut self.sock)? == 0 {
            return Ok(0);
        }
        flush_records(&mut tls, &mut self.sock, &mut self.writable)?;
        match tls.read_plain(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::ErrorKind::Interrupted.into())
            }
            done => done,
        }
    }

    /// Writes queued TLS records until done or the socket is full (then `writable` drops).
    pub fn flush_tls(&mut self) -> io::Result<()> {
        match self.tls.as_ref() {
            Some(tls) => flush_records(&mut tls.lock(), &mut self.sock, &mut self.writable),
            None => Ok(()),
        }
    }

    /// Writes the output's unwritten bytes: straight to the socket, or through TLS.
    pub fn write_output(&mut self, out: &mut Output) -> io::Result<()> {
        let Some(tls) = self.tls.as_ref() else {
            while out.queue.unsent() > 0 && self.writable {
                match out.queue.write_to(&mut self.sock) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        };
        let mut tls = tls.lock();
        while out.queue.unsent() > 0 && self.writable {
            // Encrypt chunk after chunk until the session's buffer is full, then write the
            // records: one socket write for many chunks.
            while out.queue.unsent() > 0 {
                match tls.write_plain(out.queue.front()) {
                    Ok(0) => break,
                    Ok(n) => out.queue.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            flush_records(&mut tls, &mut self.sock, &mut self.writable)?;
        }
        flush_records(&mut tls, &mut self.sock, &mut self.writable)
    }

    /// Everything written, TLS records included.
    pub fn output_done(&self, out: &Output) -> bool {
        out.queue.unsent() == 0
            && !self
                .tls
                .as_ref()
                .is_some_and(|tls| tls.lock().wants_write())
    }

    /// Sends TLS `close_notify` once the handshake is done (best effort, on closing).
    pub fn close_tls(&mut self) {
        if let Some(tls) = self.tls.as_ref() {
            let mut tls = tls.lock();
            if !tls.is_handshaking() {
                tls.send_close_notify();
                let _ = flush_records(&mut tls, &mut self.sock, &mut self.writable);
            }
        }
    }

    /// Logs the TLS version and cipher suite once the handshake is done (debug), and
    /// records them for the monitor. Returns true that once.
    pub fn announce_tls(&mut self, shared: &ConnShared) -> bool {
        if self.tls_announced {
            return false;
        }
        let Some((version, cipher)) = self
            .tls
            .as_ref()
            .and_then(|tls| tls.lock().protocol_and_cipher())
        else {
            return false;
        };
        self.tls_announced = true;
        shared.update_meta(|meta| {
            meta.tls_version = version;
            meta.tls_cipher = cipher;
        });
        let prefix = shared.prefix();
        debug!("{prefix}TLS handshake complete");
        debug!("{prefix}TLS version {version}, cipher suite {cipher}");
        true
    }
}

/// Writes a session's queued TLS records until done or the socket is full (then
/// `writable` drops).
fn flush_records(
    tls: &mut TlsSession,
    sock: &mut impl Write,
    writable: &mut bool,
) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls_to(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *writable = false;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
