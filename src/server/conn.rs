//! The face of a connection that other threads may see ([`ConnShared`]: hand-over, flow
//! control estimates, monitoring), its subscriptions as the sublist holds them, and why it
//! closed. What only the owner reactor touches is in `reactor` (socket, input), `session`
//! (the role's protocol state) and `turn` (output).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use super::account::Account;
use super::conn_info::{unix_nanos, Activity, ConnMeta, Counts, SubTable};
use super::handover::Handover;
use super::imports::StreamImport;
use super::leafnodes::LeafPeer;
use super::link::SharedTls;
use crate::options::ResponsePermission;

/// Why a connection was closed, with the reference's wording (logs and `/connz`).
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
    MaxAccountConnectionsExceeded,
    MaxSubscriptionsExceeded,
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
    ClusterNamesIdentical,
    MinimumVersionRequired,
    DuplicateRemoteLeafnode,
}

impl CloseReason {
    /// Whether what is queued for the connection is written before it closes: always, as
    /// in the reference, except after a failed read or write, for a slow consumer and after
    /// a failed TLS handshake.
    pub fn flushes(self) -> bool {
        !matches!(
            self,
            CloseReason::ReadError
                | CloseReason::WriteError
                | CloseReason::SlowConsumerPendingBytes
                | CloseReason::SlowConsumerWriteDeadline
                | CloseReason::TlsHandshakeFailure
        )
    }

    /// The reference's wording (logs and `/connz`).
    pub fn as_str(self) -> &'static str {
        match self {
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
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            CloseReason::MaxSubscriptionsExceeded => "Maximum Subscriptions Exceeded",
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
            CloseReason::ClusterNamesIdentical => "Cluster Names Identical",
            CloseReason::MinimumVersionRequired => "Minimum Version Required",
            CloseReason::DuplicateRemoteLeafnode => "Duplicate Remote LeafNode Connection",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a connection is, as deliveries and logs tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Route,
    Leaf,
}

impl Role {
    /// The id's label in log prefixes: `cid:7` for a client, `rid:7` for a route, `lid:7`
    /// for a leafnode link.
    fn id_label(self) -> &'static str {
        match self {
            Role::Client => "cid",
            Role::Route => "rid",
            Role::Leaf => "lid",
        }
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
    pub handover: Mutex<Handover>,
    /// Bytes in `handover`, readable without the lock.
    pub handover_len: AtomicUsize,
    /// Set while a flush notice for this connection sits in the owner's inbox.
    pub handover_queued: AtomicBool,
    /// Unsent bytes in the owner's output queue, as of its last flush.
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
    /// The account a client is bound to, once CONNECT bound it; its counters add up the
    /// counters of its clients. Read once per batch, written at CONNECT.
    account: Mutex<Option<Arc<Account>>>,
    /// CONNECT details and TLS parameters, for the monitor.
    pub meta: Mutex<ConnMeta>,
    /// The subscriptions by sid.
    pub subs: SubTable,
    /// What the connection is: a client or a route.
    pub role: Role,
    /// The socket, for writes by another reactor while the owner is parked.
    pub fd: std::os::fd::RawFd,
    /// Other reactors may write to the socket directly (see `handover`): a plain socket,
    /// or TLS once its handshake is done.
    pub direct: AtomicBool,
    /// The TLS session, for those direct writes (set when its handshake is done).
    pub tls: OnceLock<SharedTls>,
    /// Serialises writes to the socket and its closing (the invariant is in `handover`).
    pub write_lock: Mutex<()>,
    /// The client understands async INFO (CONNECT `protocol` 1).
    pub async_info: AtomicBool,
    /// A leafnode link's peer, once its handshake is done.
    pub leaf: OnceLock<Arc<LeafPeer>>,
}

impl ConnShared {
    /// A new shared face for connection `cid` living at `token` on `reactor`.
    pub fn new(
        cid: u64,
        reactor: usize,
        token: usize,
        addr: SocketAddr,
        role: Role,
        fd: std::os::fd::RawFd,
    ) -> Self {
        let start = SystemTime::now();
        let activity = Activity::default();
        activity.last.store(unix_nanos(start), Ordering::Relaxed);
        ConnShared {
            cid,
            reactor,
            token,
            handover: Mutex::new(Handover::default()),
            handover_len: AtomicUsize::new(0),
            handover_queued: AtomicBool::new(false),
            unsent: AtomicUsize::new(0),
            headers: AtomicBool::new(false),
            tracks_replies: AtomicBool::new(false),
            replies: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            prefix: Mutex::new(format!("{addr} - {}:{cid} - ", role.id_label()).into()),
            addr,
            start,
            activity,
            account: Mutex::new(None),
            meta: Mutex::new(ConnMeta::default()),
            subs: SubTable::default(),
            role,
            fd,
            direct: AtomicBool::new(false),
            tls: OnceLock::new(),
            write_lock: Mutex::new(()),
            async_info: AtomicBool::new(false),
            leaf: OnceLock::new(),
        }
    }

    /// Adds a batch of counts to the connection's activity (and its account's); `now`
    /// becomes the last activity.
    pub fn add_activity(&self, counts: &Counts, now: u64) {
        self.activity.add(counts, now);
        if let Some(account) = &*self.account.lock().unwrap_or_else(|e| e.into_inner()) {
            account.activity.add(counts, now);
        }
    }

    /// The account the client is bound to, if any.
    pub fn account(&self) -> Option<Arc<Account>> {
        self.account
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Binds the client to `account` (at CONNECT).
    pub fn set_account(&self, account: &Arc<Account>) {
        *self.account.lock().unwrap_or_else(|e| e.into_inner()) = Some(account.clone());
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
    /// The account whose sublist holds this subscription.
    pub account: Arc<Account>,
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
    /// For a shadow (in an exporter's sublist): the stream import it delivers through.
    pub import: Option<Arc<StreamImport>>,
    /// For a client's subscription: its shadows in the exporters it imports from.
    pub shadows: Mutex<Vec<SubRef>>,
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
