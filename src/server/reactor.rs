//! A reactor thread: one `mio::Poll`, a slab of connections, the read scratch, and the
//! turn's context (outputs, staging, match cache, timers: `turn`).
//!
//! Each turn: wait for readiness, note it as data on the connections, serve every
//! connection with input (at most [`READ_BUDGET`] bytes each, the rest next turn) by
//! feeding it to the connection's session, fire due timers, then hand staged bytes to
//! other reactors, write what is queued locally and tear down what closed. The reactor
//! knows sockets, readiness, buffers, timers and flow control; the protocol of each
//! connection role is in its session (`session`, `client`, `route`).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, warn};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::client::{ClientSession, Greeting};
use super::conn::{CloseReason, ConnShared, Role};
use super::conn_info::TlsPeerCert;
use super::handover::{self, LameDuckStep};
use super::leaf::{self, LeafOrigin, LeafSession};
use super::link::{Link, SharedTls};
use super::route::{self, Origin, RouteSession};
use super::session::Session;
use super::stats::Snapshot;
use super::timer::TimerKind;
use super::turn::{Output, Stall, Turn};
use super::{Listeners, ServerShared};
use crate::sublist::CacheStats;
use crate::tls::TlsSession;

/// Token of the reactor's waker.
pub const WAKER: Token = Token(usize::MAX);
/// Token of the client listener (reactor 0).
const LISTENER: Token = Token(usize::MAX - 1);
/// Token of the route listener (reactor 0, when clustered).
const ROUTE_LISTENER: Token = Token(usize::MAX - 2);
/// Token of the leafnode listener (reactor 0, when this server is a hub).
const LEAF_LISTENER: Token = Token(usize::MAX - 3);
/// Bytes read from one connection per turn before the others get their go.
const READ_BUDGET: usize = 64 * 1024;
/// Size of the per-reactor read scratch buffer.
const SCRATCH_SIZE: usize = 64 * 1024;
/// After this long without events, a reactor gives back what the last burst left behind
/// (buffers, spare hand-over buffers, and the allocator's free pages).
const IDLE_RELEASE: Duration = Duration::from_secs(1);
/// How long a fast producer is paused when a consumer falls behind.
pub const STALL_PAUSE: Duration = Duration::from_millis(1);

/// A connection as its owner reactor holds it: transport, held input, flow-control state
/// and the role's session. Its output is in the turn's `outputs` under the same token.
struct Conn {
    link: Link,
    session: Session,
    /// Input not yet consumed by the session (only a partial operation, or input held back
    /// while the connection is paused or waits for a verdict).
    held: Vec<u8>,
    /// The parser needs more bytes than `held` has.
    needs_input: bool,
    /// Total bytes the incomplete operation needs, when the parser knows it.
    needed: usize,
    /// Listed in the reactor's ready list.
    queued_ready: bool,
    /// Reading is paused for flow control until this instant.
    paused_until: Option<Instant>,
    /// Output is blocked (socket full) since this instant.
    blocked_since: Option<Instant>,
    /// Last time input arrived.
    last_read: Instant,
}

/// One reactor thread's state.
pub struct Reactor {
    id: usize,
    poll: Poll,
    conns: Slab<Conn>,
    turn: Turn,
    listener: Option<TcpListener>,
    route_listener: Option<TcpListener>,
    leaf_listener: Option<TcpListener>,
    scratch: Vec<u8>,
    ready: Vec<usize>,
    /// Match-cache statistics as last published to the reactor's handle.
    published_cache: CacheStats,
    next_target: usize,
    /// The last turn with events, until the memory it left behind was given back.
    busy_at: Option<Instant>,
}

impl Reactor {
    /// A reactor with its poll; `listeners` only for reactor 0.
    pub fn new(
        id: usize,
        poll: Poll,
        shared: Arc<ServerShared>,
        listeners: Option<Listeners>,
    ) -> io::Result<Reactor> {
        let (mut listener, mut route_listener, mut leaf_listener) = match listeners {
            Some(l) => (Some(l.clients), l.routes, l.leafs),
            None => (None, None, None),
        };
        let registry = poll.registry();
        for (listener, token) in [
            (&mut listener, LISTENER),
            (&mut route_listener, ROUTE_LISTENER),
            (&mut leaf_listener, LEAF_LISTENER),
        ] {
            if let Some(l) = listener.as_mut() {
                registry.register(l, token, Interest::READABLE)?;
            }
        }
        Ok(Reactor {
            id,
            poll,
            conns: Slab::new(),
            turn: Turn::new(id, shared)?,
            listener,
            route_listener,
            leaf_listener,
            scratch: vec![0; SCRATCH_SIZE],
            ready: Vec::new(),
            published_cache: CacheStats::default(),
            next_target: 0,
            busy_at: None,
        })
    }

    fn shared(&self) -> &ServerShared {
        &self.turn.shared
    }

    /// Runs until the server shuts down.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        while !self.shared().is_shutting_down() {
            let handle = &self.turn.shared.reactors[self.id];
            let timeout = if self.ready.is_empty() && handle.park() {
                let now = Instant::now();
                let timer = self.turn.timers.next_timeout(now);
                let release = self
                    .busy_at
                    .map(|at| (at + IDLE_RELEASE).saturating_duration_since(now));
                match (timer, release) {
                    (Some(t), Some(r)) => Some(t.min(r)),
                    (t, r) => t.or(r),
                }
            } else {
                Some(Duration::ZERO)
            };
            let polled = self.poll.poll(&mut events, timeout);
            handle.unpark();
            let now = Instant::now();
            if !events.is_empty() {
                self.busy_at = Some(now);
            } else if self.busy_at.is_some_and(|at| now >= at + IDLE_RELEASE) {
                self.busy_at = None;
                self.release_idle_memory();
            }
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    error!("Reactor {} poll error: {e}", self.id);
                    break;
                }
            }
            self.refresh_settings();
            self.turn.begin(self.conns.len());
            self.drain_inbox();
            for event in events.iter() {
                self.on_event(event);
            }
            self.serve_ready();
            self.fire_timers();
            self.flush();
        }
        self.close_all();
    }

    /// Picks up reloaded settings: new limits apply to existing connections too.
    fn refresh_settings(&mut self) {
        let Some(old) = self.turn.refresh_settings() else {
            return;
        };
        let opts = &self.turn.settings.opts;
        for (_, conn) in self.conns.iter_mut() {
            conn.session
                .set_limits(opts.max_control_line, opts.max_payload);
        }
        self.shed_oldest();
        if old.opts.accounts != self.turn.settings.opts.accounts {
            self.turn.caches.forget_accounts();
            for (_, conn) in self.conns.iter_mut() {
                if let Session::Client(client) = &conn.session {
                    client.reimport(&self.turn);
                }
            }
        }
        if old.opts.auth != self.turn.settings.opts.auth {
            for (token, conn) in self.conns.iter_mut() {
                if let Session::Client(client) = &mut conn.session {
                    if !self.turn.is_closing(token) {
                        client.reauthenticate(&mut self.turn);
                    }
                }
            }
        }
    }

    /// After `max_connections` was lowered: closes this reactor's clients among the
    /// server's oldest. (nats-server 2.9 closes random ones, in map order; the spec says the
    /// newest. Closing the oldest keeps the choice deterministic.)
    fn shed_oldest(&mut self) {
        let up_to = self.shared().shed_up_to.load(Ordering::Relaxed);
        for (token, conn) in self.conns.iter() {
            if let Session::Client(client) = &conn.session {
                let cid = conn.session.shared().cid;
                if cid <= up_to && !self.turn.is_closing(token) {
                    client.shed(&mut self.turn);
                }
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event.token() {
            WAKER => {} // the inbox is drained every turn
            LISTENER => self.accept_all(Listening::Clients),
            ROUTE_LISTENER => self.accept_all(Listening::Routes),
            LEAF_LISTENER => self.accept_all(Listening::Leafs),
            Token(token) => {
                let Some(conn) = self.conns.get_mut(token) else {
                    return;
                };
                if event.is_writable() {
                    conn.link.writable = true;
                    conn.blocked_since = None;
                    self.turn.output(token);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    conn.link.readable = true;
                    conn.link.read_closed |= event.is_read_closed() || event.is_error();
                    self.mark_ready(token);
                }
            }
        }
    }

    /// Queues a connection to be served this turn.
    fn mark_ready(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        if !conn.queued_ready {
            conn.queued_ready = true;
            self.ready.push(token);
        }
    }

    /// The connection at `token`, if it is still connection `cid`.
    fn live(&self, token: usize, cid: u64) -> bool {
        self.conns
            .get(token)
            .is_some_and(|c| c.session.shared().cid == cid)
    }

    fn drain_inbox(&mut self) {
        let Some(inbox) = self.shared().reactors[self.id].take() else {
            return;
        };
        for (sock, addr, cid) in inbox.accepted {
            self.accept_client(sock, addr, cid);
        }
        for (sock, addr, cid) in inbox.routes {
            self.accept_route(sock, addr, cid, Origin::Accepted);
        }
        for dialled in inbox.dialled {
            let cid = self.shared().next_cid.fetch_add(1, Ordering::Relaxed);
            let origin = Origin::Dialled {
                url: dialled.url,
                explicit: dialled.explicit,
                addr: dialled.addr,
            };
            self.accept_route(dialled.sock, dialled.addr, cid, origin);
        }
        for (token, cid) in inbox.flush {
            if self.live(token, cid) {
                self.absorb_handover(token);
            }
        }
        for (token, cid) in inbox.resume {
            if self.live(token, cid) {
                self.resume_early(token);
            }
        }
        for (token, cid) in inbox.close {
            if self.live(token, cid) {
                self.turn.close(token, CloseReason::RouteRemoved);
            }
        }
        for (sock, addr, cid) in inbox.leaves {
            self.accept_leaf(sock, addr, cid, LeafOrigin::Accepted);
        }
        for dialled in inbox.leaf_dialled {
            let cid = self.shared().next_cid.fetch_add(1, Ordering::Relaxed);
            let origin = LeafOrigin::Solicited {
                remote: dialled.remote,
                url: dialled.url,
            };
            self.accept_leaf(dialled.sock, dialled.addr, cid, origin);
        }
        for (token, cid) in inbox.replaced_leaves {
            if self.live(token, cid) {
                self.turn.send_err_and_close(
                    token,
                    "Duplicate Remote LeafNode Connection",
                    CloseReason::DuplicateRemoteLeafnode,
                );
            }
        }
        for step in inbox.lame_duck {
            self.lame_duck(step);
        }
        for (token, cid, digest, matched) in inbox.verdicts {
            if !self.live(token, cid) {
                continue;
            }
            if let Session::Client(client) = &mut self.conns[token].session {
                if client.on_verdict(digest, matched, &mut self.turn) {
                    self.mark_ready(token);
                }
            }
        }
    }

    fn lame_duck(&mut self, step: LameDuckStep) {
        match step {
            LameDuckStep::Enter => {
                if let Some(mut listener) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut listener);
                }
                for (_, conn) in self.conns.iter() {
                    if let Session::Client(client) = &conn.session {
                        client.announce_lame_duck(&mut self.turn);
                    }
                }
            }
            LameDuckStep::CloseOne => {
                let open = self.conns.iter().find(|(token, c)| {
                    matches!(c.session, Session::Client(_)) && !self.turn.is_closing(*token)
                });
                if let Some((token, _)) = open {
                    self.turn.close(token, CloseReason::ServerShutdown);
                }
            }
        }
    }

    /// Moves bytes other reactors delivered into the connection's write buffer.
    fn absorb_handover(&mut self, token: usize) {
        let pending = self.turn.absorb_handover(token);
        if self.turn.budget_left < 0 {
            // Past max_pending_total, the emptied hand-over buffer goes back at once.
            handover::release_idle(&self.turn.outputs[token].shared);
        }
        if pending > self.turn.settings.opts.max_pending {
            self.turn.slow_consumer_pending(token);
        }
    }

    /// Accepts every waiting connection on one listener, dealing them out round-robin to
    /// the reactors.
    fn accept_all(&mut self, kind: Listening) {
        loop {
            let listener = match kind {
                Listening::Clients => self.listener.as_ref(),
                Listening::Routes => self.route_listener.as_ref(),
                Listening::Leafs => self.leaf_listener.as_ref(),
            };
            let Some(listener) = listener else {
                return;
            };
            match listener.accept() {
                Ok((sock, addr)) => {
                    let shared = &self.turn.shared;
                    let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
                    let target = self.next_target;
                    self.next_target = (self.next_target + 1) % shared.reactors.len();
                    if target == self.id {
                        self.take_accepted(kind, sock, addr, cid);
                        continue;
                    }
                    shared.reactors[target].post(|inbox| {
                        let list = match kind {
                            Listening::Clients => &mut inbox.accepted,
                            Listening::Routes => &mut inbox.routes,
                            Listening::Leafs => &mut inbox.leaves,
                        };
                        list.push((sock, addr, cid));
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors and the like: log and retry on the next event.
                    error!("Error accepting {} connection: {e}", kind.name());
                    return;
                }
            }
        }
    }

    /// Takes on a socket accepted on the `kind` listener.
    fn take_accepted(&mut self, kind: Listening, sock: TcpStream, addr: SocketAddr, cid: u64) {
        match kind {
            Listening::Clients => self.accept_client(sock, addr, cid),
            Listening::Routes => self.accept_route(sock, addr, cid, Origin::Accepted),
            Listening::Leafs => self.accept_leaf(sock, addr, cid, LeafOrigin::Accepted),
        }
    }

    /// Takes on an accepted client socket: INFO, then (when required) TLS, then the
    /// client session.
    fn accept_client(&mut self, mut sock: TcpStream, addr: SocketAddr, cid: u64) {
        let settings = self.turn.settings.clone();
        let Greeting { mut info, nonce } = Greeting::new(&self.turn, cid, addr);
        let tls = match &settings.tls {
            // INFO goes out in plain text, then everything is inside TLS. A fresh socket
            // takes a few hundred bytes at once; one that does not is dropped.
            Some(config) => match sock.write(&info) {
                Ok(n) if n == info.len() => {
                    info.clear();
                    TlsSession::new(config.clone())
                        .ok()
                        .map(|tls| (tls, settings.opts.tls_timeout()))
                }
                _ => return,
            },
            None => None,
        };
        let optional = settings.opts.allow_non_tls;
        self.adopt(
            sock,
            addr,
            cid,
            Role::Client,
            tls,
            optional,
            info,
            |shared, turn| Session::Client(ClientSession::start(shared, nonce, turn)),
        );
    }

    /// Takes on a route socket, accepted or dialled.
    fn accept_route(&mut self, sock: TcpStream, addr: SocketAddr, cid: u64, origin: Origin) {
        let Some(cluster) = self.turn.shared.cluster.clone() else {
            return;
        };
        let hello = route::hello(&cluster, &origin);
        let tls = route::tls_session(&cluster, &origin, &self.turn.settings);
        self.adopt(
            sock,
            addr,
            cid,
            Role::Route,
            tls,
            false,
            hello,
            |shared, turn| Session::Route(RouteSession::start(shared, cluster, origin, turn)),
        );
    }

    /// Takes on a leafnode socket, accepted (we are the hub: INFO first, then TLS when
    /// configured) or dialled (we are the spoke: the hub speaks first).
    fn accept_leaf(&mut self, mut sock: TcpStream, addr: SocketAddr, cid: u64, origin: LeafOrigin) {
        let Some(leafnodes) = self.turn.shared.leafnodes.clone() else {
            return;
        };
        let (greeting, tls) = match origin {
            LeafOrigin::Accepted => {
                let Some(mut info) = leaf::hub_greeting(&self.turn, cid) else {
                    return;
                };
                let tls = match leafnodes.hub_tls() {
                    Some((config, timeout)) => match sock.write(&info) {
                        Ok(n) if n == info.len() => {
                            info.clear();
                            TlsSession::new(config).ok().map(|tls| (tls, timeout))
                        }
                        _ => return,
                    },
                    None => None,
                };
                (info, tls)
            }
            LeafOrigin::Solicited { .. } => (Vec::new(), None),
        };
        self.adopt(
            sock,
            addr,
            cid,
            Role::Leaf,
            tls,
            false,
            greeting,
            |shared, turn| Session::Leaf(LeafSession::start(shared, leafnodes, origin, turn)),
        );
    }

    /// Registers a socket with this reactor's poll and adds the connection: its output
    /// (with `greeting` queued), its TLS session (with the handshake's deadline; optional
    /// when `tls_optional`), and the session `start` makes. Nothing happens if the poll
    /// refuses the socket.
    #[allow(clippy::too_many_arguments)]
    fn adopt(
        &mut self,
        mut sock: TcpStream,
        addr: SocketAddr,
        cid: u64,
        role: Role,
        tls: Option<(TlsSession, Duration)>,
        tls_optional: bool,
        greeting: Vec<u8>,
        start: impl FnOnce(Arc<ConnShared>, &mut Turn) -> Session,
    ) {
        let _ = sock.set_nodelay(true);
        let token = self.conns.vacant_entry().key();
        if let Err(e) = self.poll.registry().register(
            &mut sock,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            error!("Error registering connection: {e}");
            return;
        }
        let shared = Arc::new(ConnShared::new(
            cid,
            self.id,
            token,
            addr,
            role,
            sock.as_raw_fd(),
        ));
        shared.direct.store(tls.is_none(), Ordering::Relaxed);
        // The two slabs change together, so their keys agree.
        let out_token = self.turn.outputs.insert(Output::new(shared.clone()));
        debug_assert_eq!(out_token, token);
        self.turn.output(token).queue.append(greeting);
        let now = Instant::now();
        let tls = tls.map(|(tls, timeout)| {
            self.turn
                .schedule(token, now + timeout, TimerKind::TlsTimeout);
            tls
        });
        let session = start(shared, &mut self.turn);
        self.conns.insert(Conn {
            link: Link::new(sock, tls, tls_optional),
            session,
            held: Vec::new(),
            needs_input: false,
            needed: 0,
            queued_ready: false,
            paused_until: None,
            blocked_since: None,
            last_read: now,
        });
    }

    fn serve_ready(&mut self) {
        let ready = std::mem::take(&mut self.ready);
        for &token in &ready {
            if let Some(conn) = self.conns.get_mut(token) {
                conn.queued_ready = false;
                self.read_and_process(token);
                self.turn.outputs[token].publish_counts();
            }
        }
        let mut ready = ready;
        ready.clear();
        if self.ready.is_empty() {
            self.ready = ready;
        }
    }

    /// Processes held-back input, then reads until the socket is drained or the budget is
    /// spent (then the connection stays on the ready list for the next turn).
    fn read_and_process(&mut self, token: usize) {
        if self.turn.is_closing(token) || self.conns[token].paused_until.is_some() {
            return;
        }
        let conn = &self.conns[token];
        if !conn.held.is_empty() && !conn.needs_input {
            self.process_held(token);
        }
        let mut budget = READ_BUDGET;
        loop {
            let conn = &self.conns[token];
            if self.turn.is_closing(token) || conn.paused_until.is_some() || !conn.link.readable {
                return;
            }
            if budget == 0 {
                self.mark_ready(token);
                return;
            }
            match self.conns[token].link.settle_optional_tls() {
                Ok(true) => self.turned_plain(token),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.conns[token].link.readable = false;
                    return;
                }
                // Undecided, TLS, or an error the read below reports.
                _ => {}
            }
            let conn = &self.conns[token];
            // A held partial operation that fits the scratch buffer with room to spare
            // goes there with the next read; only a big one grows the connection's buffer.
            let fits = conn.held.len() <= SCRATCH_SIZE / 2 && conn.needed <= SCRATCH_SIZE;
            let result = if fits {
                self.read_into_scratch(token)
            } else {
                self.read_into_held(token)
            };
            let conn = &mut self.conns[token];
            match result {
                Ok((0, _)) => self.turn.close(token, CloseReason::ClientClosed),
                Ok((n, asked)) => {
                    budget = budget.saturating_sub(n);
                    conn.last_read = Instant::now();
                    // A plain socket that filled less than was asked has been drained:
                    // epoll (edge-triggered) reports the next bytes, so the read that would
                    // only say WouldBlock is saved. Not under TLS, whose reads go through
                    // rustls' buffer, and not once the peer has closed: no event would
                    // follow for the end of stream behind the bytes.
                    if n < asked && conn.link.tls.is_none() && !conn.link.read_closed {
                        conn.link.readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.link.readable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let reason = match e.kind() {
                        _ if conn.link.is_handshaking() => {
                            error!("{}TLS handshake error: {e}", conn.session.shared().prefix());
                            // rustls queued an alert for the peer: send it on the way out.
                            let _ = conn.link.flush_tls();
                            CloseReason::TlsHandshakeFailure
                        }
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                            CloseReason::ClientClosed
                        }
                        _ => CloseReason::ReadError,
                    };
                    self.turn.close(token, reason);
                }
            }
        }
    }

    /// Reads into the reactor's scratch buffer, after the held partial operation (if any),
    /// and processes in place; only an incomplete tail is copied back to the connection.
    /// Returns the bytes read and the room offered.
    fn read_into_scratch(&mut self, token: usize) -> io::Result<(usize, usize)> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let conn = &mut self.conns[token];
        let held = conn.held.len();
        scratch[..held].copy_from_slice(&conn.held);
        let asked = scratch.len() - held;
        let result = conn.link.read_input(&mut scratch[held..]);
        if let Ok(n) = result {
            if n > 0 {
                self.announce_tls(token);
                let conn = &mut self.conns[token];
                conn.held.clear();
                let end = held + n;
                let used = self.feed(token, &scratch[..end]);
                self.conns[token]
                    .held
                    .extend_from_slice(&scratch[used..end]);
            }
        }
        self.scratch = scratch;
        result.map(|n| (n, asked))
    }

    /// Reads more bytes after a held partial operation and processes the whole. Returns the
    /// bytes read and the room offered.
    fn read_into_held(&mut self, token: usize) -> io::Result<(usize, usize)> {
        let conn = &mut self.conns[token];
        let mut held = std::mem::take(&mut conn.held);
        let want = conn
            .needed
            .max(held.len() + 4096)
            .min(held.len() + READ_BUDGET);
        let start = held.len();
        held.resize(want.max(start + 1), 0);
        let asked = held.len() - start;
        let result = conn.link.read_input(&mut held[start..]);
        let n = *result.as_ref().unwrap_or(&0);
        held.truncate(start + n);
        if n > 0 {
            self.announce_tls(token);
            let used = self.feed(token, &held);
            held.drain(..used);
        }
        self.restore_held(token, held);
        result.map(|n| (n, asked))
    }

    /// Once the TLS handshake is done (seen when the first plain text arrives, before it is
    /// processed): logs and records it, and gives a client session the certificates the
    /// client presented (`verify_and_map` maps them to a user at CONNECT).
    fn announce_tls(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        if !conn.link.announce_tls(conn.session.shared()) {
            return;
        }
        let Some(tls) = conn.link.tls.clone() else {
            return;
        };
        let session = tls.lock();
        let chain = session.peer_certificates();
        if let Some(chain) = chain.filter(|c| !c.is_empty()) {
            let certs = chain.iter().map(|c| TlsPeerCert::of(c)).collect();
            conn.session
                .shared()
                .update_meta(|meta| meta.tls_peer_certs = certs);
        }
        if let Session::Client(client) = &mut conn.session {
            client.tls_established(chain, &self.turn.settings);
        }
        drop(session);
        // Other reactors may now write to it directly, through the session.
        let shared = conn.session.shared();
        if shared.tls.set(tls).is_ok() {
            shared.direct.store(true, Ordering::Relaxed);
        }
    }

    /// Processes input kept from an earlier turn (after a pause or a verdict).
    fn process_held(&mut self, token: usize) {
        let mut held = std::mem::take(&mut self.conns[token].held);
        let used = self.feed(token, &held);
        held.drain(..used);
        self.restore_held(token, held);
    }

    fn restore_held(&mut self, token: usize, mut held: Vec<u8>) {
        if held.is_empty() && held.capacity() > SCRATCH_SIZE {
            held = Vec::new();
        }
        self.conns[token].held = held;
    }

    /// Gives input to the connection's session; returns the bytes it consumed. Pauses the
    /// connection when a consumer of its messages fell behind.
    fn feed(&mut self, token: usize, input: &[u8]) -> usize {
        let conn = &mut self.conns[token];
        let fed = conn.session.process(input, &mut self.turn);
        conn.needs_input = fed.incomplete.is_some();
        conn.needed = fed.incomplete.unwrap_or(0);
        if let Some((tls, timeout)) = self.turn.take_tls_start() {
            // A leaf's hub asked for TLS after its INFO: what follows is inside TLS.
            conn.link.tls = Some(SharedTls::new(tls));
            conn.session.shared().direct.store(false, Ordering::Relaxed);
            let due = Instant::now() + timeout;
            self.turn.schedule(token, due, TimerKind::TlsTimeout);
        }
        if let Some(stall) = self.turn.take_stall() {
            self.pause(token);
            if let Stall::Behind(target) = stall {
                let cid = self.conns[token].session.shared().cid;
                handover::wait_for_absorb(&target, self.id, token, cid);
            }
        }
        fed.used
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.turn.timers.pop_due(now) {
            let token = timer.token;
            if !self.live(token, timer.cid) || self.turn.is_closing(token) {
                continue;
            }
            match timer.kind {
                TimerKind::Resume => self.resume(token, now),
                TimerKind::WriteDeadline => self.check_write_deadline(token, now),
                TimerKind::TlsTimeout => self.on_tls_timeout(token),
                TimerKind::Ping | TimerKind::AuthTimeout => {
                    let conn = &mut self.conns[token];
                    if timer.kind == TimerKind::Ping {
                        // A good moment to give back what a burst left behind.
                        if conn.held.is_empty() {
                            conn.held = Vec::new();
                        }
                        self.turn.outputs[token].release_idle_buffer();
                        self.turn.account_pending(token);
                    }
                    let last_read = conn.last_read;
                    conn.session
                        .on_timer(timer.kind, now, last_read, &mut self.turn);
                }
            }
        }
    }

    /// The reactor has been idle for [`IDLE_RELEASE`]: every drained buffer, the spare
    /// hand-over buffers, and (glibc) the allocator's free pages go back to the system, so
    /// that memory returns to its idle level after a burst.
    fn release_idle_memory(&mut self) {
        for (token, conn) in self.conns.iter_mut() {
            if conn.held.is_empty() {
                conn.held = Vec::new();
            }
            let out = &mut self.turn.outputs[token];
            out.release_idle_buffer();
            handover::release_idle(&out.shared);
            self.turn.account_pending(token);
        }
        self.turn.publish_pending();
        self.turn.staging.release_spares();
        // Cached match results keep closed connections (and their buffers) alive.
        self.turn.caches.clear();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory of the allocator to the system.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// A producer paused behind a consumer's hand-over, which its reactor has taken.
    fn resume_early(&mut self, token: usize) {
        let now = Instant::now();
        let conn = &mut self.conns[token];
        if conn.paused_until.is_some() {
            conn.paused_until = Some(now);
            self.resume(token, now);
        }
    }

    fn resume(&mut self, token: usize, now: Instant) {
        if self.turn.budget_left < 0 {
            // Past max_pending_total: a paused producer waits until consumers drain, or
            // until the write deadline closes those that do not.
            self.pause(token);
            return;
        }
        let conn = &mut self.conns[token];
        if conn.paused_until.is_some_and(|t| t <= now) {
            conn.paused_until = None;
            self.mark_ready(token);
        }
    }

    /// A connection that could speak TLS or plain text (`allow_non_tls`) speaks plain text:
    /// other reactors may write to its socket directly.
    fn turned_plain(&mut self, token: usize) {
        let shared = self.conns[token].session.shared();
        shared.direct.store(true, Ordering::Relaxed);
    }

    /// The TLS handshake timer: a connection still handshaking is closed. (The reference's
    /// `-ERR 'Secure Connection - TLS Required'` goes into the unfinished TLS session and
    /// never reaches the client, so nothing is sent.) One that may speak plain text and has
    /// said nothing yet is taken as plain, as the reference does when its wait for the
    /// first bytes ends.
    fn on_tls_timeout(&mut self, token: usize) {
        if self.conns[token].link.give_up_optional_tls() {
            self.turned_plain(token);
            return;
        }
        let conn = &self.conns[token];
        if conn.link.is_handshaking() {
            error!("{}TLS handshake timeout", conn.session.shared().prefix());
            self.turn.close(token, CloseReason::TlsHandshakeFailure);
        }
    }

    /// Pauses reading a producer whose consumers fell behind.
    fn pause(&mut self, token: usize) {
        let until = Instant::now() + STALL_PAUSE;
        self.conns[token].paused_until = Some(until);
        self.turn.schedule(token, until, TimerKind::Resume);
    }

    fn check_write_deadline(&mut self, token: usize, now: Instant) {
        let deadline = self.turn.settings.opts.write_deadline;
        let conn = &self.conns[token];
        if conn
            .blocked_since
            .is_some_and(|since| now >= since + deadline)
        {
            let out = &self.turn.outputs[token];
            self.turn.counts.slow_consumers += 1;
            warn!(
                "{}Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                out.shared.prefix(),
                crate::gofmt::duration(deadline),
                out.pending()
            );
            self.turn
                .close(token, CloseReason::SlowConsumerWriteDeadline);
        }
    }

    /// Adds this turn's counts to the server's, hands staged bytes to other reactors,
    /// writes local output and tears down closed connections. The counts go first: a
    /// client that has its answer (a PONG after a PUB) must find them in monitoring.
    fn flush(&mut self) {
        self.publish_stats();
        self.turn.hand_over_staged(!self.ready.is_empty());
        for token in self.turn.take_dirty() {
            if let Some(out) = self.turn.outputs.get_mut(token) {
                out.dirty = false;
                out.publish_counts();
                if out.closing().is_none() {
                    self.write(token);
                }
            }
        }
        for token in self.turn.take_closing() {
            self.teardown(token);
        }
        self.turn.publish_pending();
    }

    /// Adds the turn's message counts and the subject cache's statistics to the shared
    /// ones, when they changed (writing and teardown change neither).
    fn publish_stats(&mut self) {
        let turn = &mut self.turn;
        if turn.counts != Snapshot::default() {
            turn.shared.stats.add(&turn.counts);
            turn.counts = Snapshot::default();
        }
        let cache = turn.caches.stats();
        if cache != self.published_cache {
            self.published_cache = cache;
            turn.shared.reactors[self.id].publish_cache_stats(cache);
        }
    }

    /// Writes queued bytes until done or the socket is full.
    fn write(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        let out = &mut self.turn.outputs[token];
        let shared = Arc::clone(&out.shared);
        let written = {
            let _writing = handover::lock_socket(&shared);
            conn.link.write_output(out)
        };
        if written.is_err() {
            self.turn.close(token, CloseReason::WriteError);
            return;
        }
        if conn.link.output_done(out) {
            conn.blocked_since = None;
            if self.turn.budget_left < 0 {
                // Past max_pending_total, drained buffers go back at once.
                out.queue.release();
                handover::release_idle(&shared);
            }
        } else {
            if conn.blocked_since.is_none() {
                let now = Instant::now();
                conn.blocked_since = Some(now);
                let at = now + self.turn.settings.opts.write_deadline;
                self.turn.schedule(token, at, TimerKind::WriteDeadline);
            }
        }
        let unsent = self.turn.account_pending(token);
        self.turn.outputs[token]
            .shared
            .unsent
            .store(unsent, Ordering::Relaxed);
    }

    /// Removes a closed connection: flushes what it must, lets its session clean up,
    /// closes the socket and frees the slot.
    fn teardown(&mut self, token: usize) {
        let Some(closing) = self.turn.outputs.get(token).and_then(Output::closing) else {
            return;
        };
        if closing.flush {
            self.conns[token].link.writable = true;
            self.write(token);
        }
        let mut conn = self.conns.remove(token);
        let mut out = self.turn.outputs.remove(token);
        let dropped = handover::discard(&out.shared);
        self.turn.pending_delta -= (out.counted + dropped) as isize;
        conn.link.close_tls();
        out.publish_counts();
        conn.session.closed(closing.reason, &mut self.turn);
        // No direct write may be under way on this socket while it closes.
        let _writing = handover::lock_socket(&out.shared);
        let _ = self.poll.registry().deregister(&mut conn.link.sock);
        let _ = conn.link.sock.shutdown(std::net::Shutdown::Both);
    }

    /// Shutdown: flush what each connection has queued and close it.
    fn close_all(&mut self) {
        self.listener = None;
        self.drain_inbox();
        self.turn.hand_over_staged(false);
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for token in tokens {
            self.turn.close(token, CloseReason::ServerShutdown);
        }
        for token in self.turn.take_closing() {
            self.teardown(token);
        }
        self.turn.shared.stats.add(&self.turn.counts);
    }
}

/// The listeners reactor 0 accepts on.
#[derive(Debug, Clone, Copy)]
enum Listening {
    Clients,
    Routes,
    Leafs,
}

impl Listening {
    fn name(self) -> &'static str {
        match self {
            Listening::Clients => "client",
            Listening::Routes => "route",
            Listening::Leafs => "leafnode",
        }
    }
}
