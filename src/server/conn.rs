//! One client connection: the part only its owner reactor touches ([`Conn`]) and the part
//! other reactors and the monitor may read ([`ConnShared`]).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpStream;

use super::conn_info::{unix_nanos, Activity, ConnMeta, Counts, SubTable};
use super::info::ClientOpts;
use crate::options::ResponsePermission;
use crate::permissions::UserPermissions;
use crate::proto::Parser;
use crate::tls::TlsSession;

/// Why a connection was closed, with the reference's wording (logs and, later, `/connz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ReadError,
    WriteError,
    ProtocolViolation,
    ParseError,
    BadClientProtocolVersion,
    NoRespondersRequiresHeaders,
    AuthenticationFailure,
    AuthenticationTimeout,
    TlsHandshakeFailure,
    MaxConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    ServerShutdown,
    WrongPort,
    WrongGateway,
    DuplicateRoute,
    RouteRemoved,
    ClusterNameConflict,
    DuplicateServerName,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ReadError => "Read Error",
            CloseReason::WriteError => "Write Error",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::ParseError => "Parse Error",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::AuthenticationFailure => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::WrongPort => "Incorrect Port",
            CloseReason::WrongGateway => "Wrong Gateway",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::RouteRemoved => "Route Removed",
            CloseReason::ClusterNameConflict => "Cluster Name Conflict",
            CloseReason::DuplicateServerName => "Duplicate Server Name",
        })
    }
}

/// The thread-safe face of a connection, shared through subscriptions.
///
/// Other reactors deliver into `handover` (once per batch, not per message) and read the
/// pending estimate for flow control; everything else about the connection stays with its
/// owner reactor.
pub struct ConnShared {
    /// Client id, unique for the server's lifetime (INFO `client_id`).
    pub cid: u64,
    /// Index of the owning reactor.
    pub reactor: usize,
    /// Slab key on the owning reactor.
    pub token: usize,
    /// Bytes delivered by other reactors, waiting for the owner to move them out.
    pub handover: Mutex<Vec<u8>>,
    /// Length of `handover`, readable without the lock.
    pub handover_len: AtomicUsize,
    /// Set while a flush notice for this connection sits in the owner's inbox.
    pub handover_queued: AtomicBool,
    /// Unsent bytes in the owner's write buffer, as of its last flush.
    pub unsent: AtomicUsize,
    /// The client negotiated headers: deliver HMSG rather than MSG.
    pub headers: AtomicBool,
    /// The user has `allow_responses`: reply subjects delivered to it are recorded.
    pub tracks_replies: AtomicBool,
    /// Reply subjects of requests delivered to this client: when, and responses sent.
    replies: Mutex<HashMap<Box<[u8]>, TrackedReply>>,
    /// The connection is gone or going: deliver nothing more.
    pub closed: AtomicBool,
    /// Log line prefix, `ip:port - cid:N - ` plus the client descriptor after CONNECT.
    prefix: Mutex<Arc<str>>,
    /// The peer's address.
    pub addr: SocketAddr,
    /// When the connection was accepted.
    pub start: SystemTime,
    /// Counters, last activity and RTT, for the monitor.
    pub activity: Activity,
    /// CONNECT details and TLS parameters, for the monitor.
    pub meta: Mutex<ConnMeta>,
    /// The subscriptions by sid.
    pub subs: SubTable,
    /// A route to another server (not a client).
    pub is_route: bool,
    /// The socket, for writes by another reactor while the owner is parked (plain TCP
    /// only: `direct` is false with TLS).
    pub fd: std::os::fd::RawFd,
    /// Other reactors may write to the socket directly (see `Outbox::hand_over`).
    pub direct: AtomicBool,
    /// Held around every write to the socket and around closing it, so that a direct
    /// write never interleaves with the owner's, nor reaches a reused descriptor.
    pub write_lock: Mutex<()>,
    /// The client understands async INFO (CONNECT `protocol` 1).
    pub async_info: AtomicBool,
}

impl ConnShared {
    /// A new shared face for connection `cid` living at `token` on `reactor`.
    pub fn new(
        cid: u64,
        reactor: usize,
        token: usize,
        addr: SocketAddr,
        is_route: bool,
        fd: std::os::fd::RawFd,
    ) -> Self {
        let start = SystemTime::now();
        let activity = Activity::default();
        activity.last.store(unix_nanos(start), Ordering::Relaxed);
        ConnShared {
            cid,
            reactor,
            token,
            handover: Mutex::new(Vec::new()),
            handover_len: AtomicUsize::new(0),
            handover_queued: AtomicBool::new(false),
            unsent: AtomicUsize::new(0),
            headers: AtomicBool::new(false),
            tracks_replies: AtomicBool::new(false),
            replies: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            prefix: Mutex::new(
                format!("{addr} - {}:{cid} - ", if is_route { "rid" } else { "cid" }).into(),
            ),
            addr,
            start,
            activity,
            meta: Mutex::new(ConnMeta::default()),
            subs: SubTable::default(),
            is_route,
            fd,
            direct: AtomicBool::new(false),
            write_lock: Mutex::new(()),
            async_info: AtomicBool::new(false),
        }
    }

    /// Sets the CONNECT or TLS details the monitor shows.
    pub fn update_meta(&self, change: impl FnOnce(&mut ConnMeta)) {
        change(&mut self.meta.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The log prefix for lines about this connection.
    pub fn prefix(&self) -> Arc<str> {
        self.prefix
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds the client descriptor after CONNECT: `ip:port - cid:N - "v1.2:go:app" - `.
    pub fn set_descriptor(&self, addr: SocketAddr, descriptor: &str) {
        let prefix = format!("{addr} - cid:{} - {descriptor} - ", self.cid);
        *self.prefix.lock().unwrap_or_else(|e| e.into_inner()) = prefix.into();
    }

    /// Records the reply subject of a request delivered to this client.
    pub fn record_reply(&self, reply: &[u8], now: Instant) {
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        if replies.len() >= MAX_TRACKED_REPLIES {
            // Forget the oldest half rather than grow without bound.
            let mut ages: Vec<Instant> = replies.values().map(|(at, _)| *at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            replies.retain(|_, (at, _)| *at > cutoff);
        }
        replies.insert(reply.into(), (now, 0));
    }

    /// Whether this client may publish a response to `subject` now (`allow_responses`),
    /// counting it if so.
    pub fn take_response(&self, subject: &[u8], allowed: &ResponsePermission) -> bool {
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        let Some((at, sent)) = replies.get_mut(subject) else {
            return false;
        };
        let expired = allowed.expires.is_some_and(|ttl| at.elapsed() > ttl);
        if expired {
            replies.remove(subject);
            return false;
        }
        *sent += 1;
        if allowed.max_msgs.is_some_and(|max| *sent >= max) {
            replies.remove(subject);
        }
        true
    }

    /// Pending outbound bytes as another reactor can estimate them.
    pub fn pending_estimate(&self) -> usize {
        self.unsent.load(Ordering::Relaxed) + self.handover_len.load(Ordering::Relaxed)
    }

    /// Whether the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// Reply subjects remembered per client for `allow_responses`.
const MAX_TRACKED_REPLIES: usize = 4096;

/// When a request's reply subject was delivered, and how many responses went to it.
type TrackedReply = (Instant, u64);

/// One subscription, as stored in the sublist.
pub struct Subscription {
    pub conn: Arc<ConnShared>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Auto-unsubscribe limit (0 = none).
    pub max: AtomicU64,
    /// Subjects this wildcard subscription must not receive (the owner's subscribe deny).
    pub deny: Option<Arc<[Box<[u8]>]>>,
    /// Messages delivered so far.
    pub delivered: AtomicU64,
    /// Queue members this entry stands for: 1 locally, the remote server's count for a
    /// route's queue interest (RS+ weight).
    pub weight: AtomicU64,
}

impl Subscription {
    /// Counts one delivery attempt; `None` when the auto-unsubscribe limit was already
    /// reached, else whether this delivery is the last one allowed.
    pub fn claim_delivery(&self) -> Option<bool> {
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        match max {
            0 => Some(false),
            _ if n > max => None,
            _ => Some(n == max),
        }
    }

    /// Whether the auto-unsubscribe limit has been used up.
    pub fn is_exhausted(&self) -> bool {
        let max = self.max.load(Ordering::Relaxed);
        max != 0 && self.delivered.load(Ordering::Relaxed) >= max
    }
}

/// A subscription handle compared by identity, the sublist's item type.
#[derive(Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for SubRef {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}

/// Server-initiated PING bookkeeping.
pub struct PingState {
    /// When the ping timer should next fire.
    pub due: Instant,
    /// PINGs sent and not yet answered.
    pub outstanding: u32,
    /// Last time the client sent us a PING.
    pub last_client_ping: Option<Instant>,
    /// When our last PING went out (for the RTT).
    pub sent_at: Option<Instant>,
    /// Round-trip time measured from our last answered PING.
    pub rtt: Option<Duration>,
}

/// A client connection as its owner reactor holds it.
pub struct Conn {
    pub shared: Arc<ConnShared>,
    pub sock: TcpStream,
    pub addr: SocketAddr,
    pub parser: Parser,
    pub opts: ClientOpts,
    /// A CONNECT has been received (the auth timer no longer applies).
    pub connected: bool,
    /// The CONNECT was accepted (authenticated and checked).
    pub established: bool,
    /// CONNECT waits for a bcrypt verdict; later operations wait behind it.
    pub awaiting_verdict: Option<crate::auth::Pending>,
    /// The authenticated user's name, for violation log lines.
    pub user: Option<String>,
    /// The user's permissions (`None`: everything allowed).
    pub perms: Option<Arc<UserPermissions>>,
    /// Publish permission verdicts by subject (bounded), so the hot path rarely re-checks.
    pub pub_verdicts: HashMap<Box<[u8]>, bool>,
    /// The TLS session when the server requires TLS (INFO went out in plain text first).
    pub tls: Option<TlsSession>,
    /// The handshake's outcome has been logged.
    pub tls_announced: bool,
    /// Input not yet consumed by the parser (only a partial operation, or input held back
    /// while the connection is paused).
    pub rbuf: Vec<u8>,
    /// The parser needs more bytes than `rbuf` holds.
    pub needs_input: bool,
    /// Total bytes the incomplete operation needs, when the parser knows it.
    pub needed: usize,
    /// Outbound bytes; `wpos` of them already written.
    pub wbuf: Vec<u8>,
    pub wpos: usize,
    /// Listed in the reactor's flush list.
    pub dirty: bool,
    /// Listed in the reactor's ready list.
    pub queued_ready: bool,
    /// Readiness as data (edge-triggered registration).
    pub readable: bool,
    /// The peer closed its side (or the socket failed): read to the end of stream.
    pub read_closed: bool,
    pub writable: bool,
    /// Reading is paused for flow control until this instant.
    pub paused_until: Option<Instant>,
    /// Output is blocked (socket full) since this instant.
    pub blocked_since: Option<Instant>,
    /// Set when the connection must go: flush first when the bool is true.
    pub closing: Option<(CloseReason, bool)>,
    pub ping: PingState,
    /// Last time input arrived.
    pub last_activity: Instant,
    /// Counts of this turn, not yet added to the shared [`Activity`].
    pub counts: Counts,
    /// Route state, for a route connection.
    pub route: Option<Box<super::route::RouteConn>>,
}

/// Publish verdicts kept per connection before the cache starts over.
const PUB_VERDICTS: usize = 128;

impl Conn {
    /// Reads client input: from the socket, or decrypted through TLS. `Interrupted` means
    /// "TLS consumed bytes but has no plain text yet: read again".
    pub fn read_input(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return self.sock.read(buf);
        };
        match tls.read_plain(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            done => return done,
        }
        if tls.read_tls_from(&mut self.sock)? == 0 {
            return Ok(0);
        }
        self.flush_tls()?;
        let tls = self.tls.as_mut().expect("checked above");
        match tls.read_plain(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::ErrorKind::Interrupted.into())
            }
            done => done,
        }
    }

    /// Writes queued TLS records until done or the socket is full (then `writable` drops).
    pub fn flush_tls(&mut self) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls_to(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes queued output: straight to the socket, or through TLS.
    pub fn write_output(&mut self) -> io::Result<()> {
        while self.wpos < self.wbuf.len() && self.writable {
            let pending = &self.wbuf[self.wpos..];
            let written = match self.tls.as_mut() {
                None => self.sock.write(pending),
                Some(tls) => tls.write_plain(pending),
            };
            match written {
                Ok(0) => break,
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.tls.is_none() => {
                    self.writable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            self.flush_tls()?;
        }
        self.flush_tls()
    }

    /// Output is fully written (including TLS records).
    pub fn output_done(&self) -> bool {
        self.wpos == self.wbuf.len() && !self.tls.as_ref().is_some_and(TlsSession::wants_write)
    }

    /// Whether the user may publish to `subject`: its publish permissions (cached), else a
    /// response it is allowed to send (`allow_responses`).
    pub fn may_publish(&mut self, subject: &[u8]) -> bool {
        let Some(perms) = &self.perms else {
            return true;
        };
        let verdict = match self.pub_verdicts.get(subject) {
            Some(&verdict) => verdict,
            None => {
                let verdict = perms.can_publish(subject);
                if self.pub_verdicts.len() >= PUB_VERDICTS {
                    self.pub_verdicts.clear();
                }
                self.pub_verdicts.insert(subject.into(), verdict);
                verdict
            }
        };
        verdict
            || perms
                .responses()
                .is_some_and(|allowed| self.shared.take_response(subject, allowed))
    }

    /// Takes on an authenticated identity: user name and permissions.
    pub fn set_identity(&mut self, identity: crate::auth::Identity) {
        self.user = identity.user;
        let tracks = identity
            .permissions
            .as_ref()
            .is_some_and(|p| p.responses().is_some());
        self.shared.tracks_replies.store(tracks, Ordering::Relaxed);
        self.perms = identity.permissions;
        self.pub_verdicts.clear();
    }

    /// The user as violation log lines name it: `User "alice"` or `User "N/A"`.
    pub fn auth_user(&self) -> String {
        format!("User {:?}", self.user.as_deref().unwrap_or("N/A"))
    }

    /// Returns the memory of buffers a burst left behind, once they are empty (called from
    /// the ping timer, so an idle connection costs little and a busy one reallocates not).
    pub fn release_idle_buffers(&mut self) {
        if self.wbuf.is_empty() {
            self.wbuf = Vec::new();
        }
        if self.rbuf.is_empty() {
            self.rbuf = Vec::new();
        }
    }

    /// Adds this turn's counts to the shared [`Activity`], with now as the last activity.
    pub fn publish_counts(&mut self) {
        if !self.counts.is_empty() {
            let now = unix_nanos(SystemTime::now());
            self.shared.activity.add(&self.counts, now);
            self.counts = Counts::default();
        }
    }

    /// Bytes queued for this connection and not yet written, including hand-overs.
    pub fn pending(&self) -> usize {
        self.wbuf.len() - self.wpos + self.shared.handover_len.load(Ordering::Relaxed)
    }
}
