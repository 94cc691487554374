//! A reactor thread: one `mio::Poll`, a slab of connections, timers and the read scratch.
//!
//! Each turn: wait for readiness, note it as data on the connections, serve every
//! connection with input (at most [`READ_BUDGET`] bytes each, the rest next turn), fire due
//! timers, then hand staged bytes to other reactors and write what is queued locally.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, error, trace, warn};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::conn::{CloseReason, Conn, ConnShared, PingState, Subscription};
use super::deliver::Outbox;
use super::settings::Settings;
use super::stats::Snapshot;
use super::timer::{Timer, TimerKind, Timers};
use super::{LameDuckStep, Listeners, ServerShared};
use crate::proto::Parser;
use crate::sublist::{CacheStats, MatchCache};
use crate::tls::TlsSession;

/// Token of the reactor's waker.
pub const WAKER: Token = Token(usize::MAX);
/// Token of the client listener (reactor 0).
const LISTENER: Token = Token(usize::MAX - 1);
/// Token of the route listener (reactor 0, when clustered).
const ROUTE_LISTENER: Token = Token(usize::MAX - 2);
/// Bytes read from one connection per turn before the others get their go.
const READ_BUDGET: usize = 64 * 1024;
/// Size of the per-reactor read scratch buffer.
const SCRATCH_SIZE: usize = 64 * 1024;
/// Entries of the per-reactor match cache.
const CACHE_ENTRIES: usize = 4096;
/// Written bytes at the front of a write buffer are dropped once there are this many and
/// they are at least half of it.
const COMPACT_WBUF: usize = 64 * 1024;
/// How long a fast producer is paused when a consumer falls behind.
pub const STALL_PAUSE: Duration = Duration::from_millis(1);

/// One reactor thread's state.
pub struct Reactor {
    pub(super) id: usize,
    poll: Poll,
    pub(super) shared: Arc<ServerShared>,
    /// The settings in force, refreshed when their generation moves.
    pub(super) settings: Arc<Settings>,
    settings_generation: u64,
    pub(super) conns: Slab<Conn>,
    listener: Option<TcpListener>,
    route_listener: Option<TcpListener>,
    pub(super) cache: MatchCache<super::conn::SubRef>,
    scratch: Vec<u8>,
    pub(super) out: Outbox,
    pub(super) timers: Timers,
    ready: Vec<usize>,
    closing: Vec<usize>,
    pub(super) counts: Snapshot,
    /// Match-cache statistics as last published to the reactor's handle.
    published_cache: CacheStats,
    rng: u64,
    next_target: usize,
}

impl Reactor {
    /// A reactor with its poll; `listeners` only for reactor 0.
    pub fn new(
        id: usize,
        poll: Poll,
        shared: Arc<ServerShared>,
        listeners: Option<Listeners>,
    ) -> io::Result<Reactor> {
        let (mut listener, mut route_listener) = match listeners {
            Some(l) => (Some(l.clients), l.routes),
            None => (None, None),
        };
        if let Some(l) = listener.as_mut() {
            poll.registry().register(l, LISTENER, Interest::READABLE)?;
        }
        if let Some(l) = route_listener.as_mut() {
            poll.registry()
                .register(l, ROUTE_LISTENER, Interest::READABLE)?;
        }
        let mut seed = [0u8; 8];
        getrandom::getrandom(&mut seed).map_err(io::Error::other)?;
        Ok(Reactor {
            id,
            poll,
            settings: shared.settings.current(),
            settings_generation: shared.settings.generation(),
            shared,
            conns: Slab::new(),
            listener,
            route_listener,
            cache: MatchCache::new(CACHE_ENTRIES),
            scratch: vec![0; SCRATCH_SIZE],
            out: Outbox::default(),
            timers: Timers::default(),
            ready: Vec::new(),
            closing: Vec::new(),
            counts: Snapshot::default(),
            published_cache: CacheStats::default(),
            rng: u64::from_le_bytes(seed) | 1,
            next_target: 0,
        })
    }

    /// Runs until the server shuts down.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        while !self.shared.is_shutting_down() {
            let handle = &self.shared.reactors[self.id];
            let timeout = if self.ready.is_empty() && handle.park() {
                self.timers.next_timeout(Instant::now())
            } else {
                Some(Duration::ZERO)
            };
            let polled = self.poll.poll(&mut events, timeout);
            handle.unpark();
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    error!("Reactor {} poll error: {e}", self.id);
                    break;
                }
            }
            self.refresh_settings();
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
        let generation = self.shared.settings.generation();
        if generation == self.settings_generation {
            return;
        }
        self.settings_generation = generation;
        let old = std::mem::replace(&mut self.settings, self.shared.settings.current());
        let opts = &self.settings.opts;
        for (_, conn) in self.conns.iter_mut() {
            conn.parser
                .set_limits(opts.max_control_line, opts.max_payload);
        }
        self.shed_oldest();
        if old.opts.auth != self.settings.opts.auth {
            let established: Vec<usize> = self
                .conns
                .iter()
                .filter(|(_, c)| c.established && c.closing.is_none())
                .map(|(token, _)| token)
                .collect();
            for token in established {
                self.reauthenticate(token);
            }
        }
    }

    /// After `max_connections` was lowered: closes this reactor's clients among the
    /// server's oldest. (nats-server 2.9 closes random ones, in map order; the spec says the
    /// newest. Closing the oldest keeps the choice deterministic.)
    fn shed_oldest(&mut self) {
        let up_to = self.shared.shed_up_to.load(Ordering::Relaxed);
        let doomed: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.shared.cid <= up_to && c.closing.is_none())
            .map(|(token, _)| token)
            .collect();
        for token in doomed {
            self.max_connections_exceeded(token);
        }
    }

    /// Logs and closes a client over `max_connections`, with the reference's `-ERR`.
    fn max_connections_exceeded(&mut self, token: usize) {
        error!(
            "{}maximum connections exceeded",
            self.conns[token].shared.prefix()
        );
        self.send_err_and_close(
            token,
            "maximum connections exceeded",
            CloseReason::MaxConnectionsExceeded,
        );
    }

    fn on_event(&mut self, event: &Event) {
        match event.token() {
            WAKER => {} // the inbox is drained every turn
            LISTENER => self.accept_all(false),
            ROUTE_LISTENER => self.accept_all(true),
            Token(token) => {
                let Some(conn) = self.conns.get_mut(token) else {
                    return;
                };
                if event.is_writable() {
                    conn.writable = true;
                    conn.blocked_since = None;
                    self.out.mark_dirty(&mut self.conns, token);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    let conn = &mut self.conns[token];
                    conn.readable = true;
                    conn.read_closed |= event.is_read_closed() || event.is_error();
                    self.mark_ready(token);
                }
            }
        }
    }

    /// Queues a connection to be served this turn.
    pub(super) fn mark_ready(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        if !conn.queued_ready {
            conn.queued_ready = true;
            self.ready.push(token);
        }
    }

    fn drain_inbox(&mut self) {
        let Some(inbox) = self.shared.reactors[self.id].take() else {
            return;
        };
        for (sock, addr, cid) in inbox.accepted {
            self.register(sock, addr, cid);
        }
        for (sock, addr, cid) in inbox.routes {
            self.register_route(sock, addr, cid, None);
        }
        for dialled in inbox.dialled {
            let cid = self.shared.next_cid.fetch_add(1, Ordering::Relaxed);
            let url = Some((dialled.url, dialled.explicit));
            self.register_route(dialled.sock, dialled.addr, cid, url);
        }
        for (token, cid) in inbox.flush {
            if let Some(conn) = self.conns.get_mut(token) {
                if conn.shared.cid == cid {
                    self.absorb_handover(token);
                }
            }
        }
        for (token, cid) in inbox.close {
            if self.conns.get(token).is_some_and(|c| c.shared.cid == cid) {
                self.close(token, CloseReason::RouteRemoved, false);
            }
        }
        for step in inbox.lame_duck {
            self.lame_duck(step);
        }
        for (token, cid, digest, matched) in inbox.verdicts {
            if self.conns.get(token).is_some_and(|c| c.shared.cid == cid) {
                self.on_verdict(token, digest, matched);
            }
        }
    }

    fn lame_duck(&mut self, step: LameDuckStep) {
        match step {
            LameDuckStep::Enter => {
                if let Some(mut listener) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut listener);
                }
                let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
                for token in tokens {
                    self.send_lame_duck_info(token);
                }
            }
            LameDuckStep::CloseOne => {
                let open = self
                    .conns
                    .iter()
                    .find(|(_, c)| c.closing.is_none() && c.route.is_none());
                if let Some((token, _)) = open {
                    self.close(token, CloseReason::ServerShutdown, true);
                }
            }
        }
    }

    /// An async INFO with `"ldm":true`, for clients that accept async INFO (protocol 1).
    fn send_lame_duck_info(&mut self, token: usize) {
        let conn = &self.conns[token];
        if conn.opts.protocol < 1 {
            return;
        }
        let info = super::info::Info {
            ldm: true,
            ..self.shared.client_info(&self.settings)
        };
        let line = info.line_for(conn.shared.cid, conn.addr.ip().to_string());
        self.conns[token].wbuf.extend_from_slice(&line);
        self.out.mark_dirty(&mut self.conns, token);
    }

    /// Moves bytes other reactors delivered into the connection's write buffer.
    fn absorb_handover(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        {
            let mut handover = conn
                .shared
                .handover
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if conn.wpos == conn.wbuf.len() {
                conn.wbuf.clear();
                conn.wpos = 0;
                std::mem::swap(&mut conn.wbuf, &mut handover);
            } else {
                conn.wbuf.extend_from_slice(&handover);
                handover.clear();
            }
            conn.shared.handover_len.store(0, Ordering::Relaxed);
            conn.shared.handover_queued.store(false, Ordering::Relaxed);
            // Unwritten bytes stop direct writes by other reactors (they would overtake).
            conn.shared
                .unsent
                .store(conn.wbuf.len() - conn.wpos, Ordering::Relaxed);
        }
        if conn.wbuf.len() - conn.wpos > self.settings.opts.max_pending {
            self.slow_consumer_pending(token);
            return;
        }
        self.out.mark_dirty(&mut self.conns, token);
    }

    /// Accepts every waiting connection on the client listener (`routes` false) or the
    /// route listener, dealing them out round-robin to the reactors.
    fn accept_all(&mut self, routes: bool) {
        loop {
            let listener = match routes {
                false => self.listener.as_ref(),
                true => self.route_listener.as_ref(),
            };
            let Some(listener) = listener else {
                return;
            };
            match listener.accept() {
                Ok((sock, addr)) => {
                    let cid = self.shared.next_cid.fetch_add(1, Ordering::Relaxed);
                    let target = self.next_target;
                    self.next_target = (self.next_target + 1) % self.shared.reactors.len();
                    match (target == self.id, routes) {
                        (true, false) => self.register(sock, addr, cid),
                        (true, true) => self.register_route(sock, addr, cid, None),
                        (false, false) => self.shared.reactors[target]
                            .post(|inbox| inbox.accepted.push((sock, addr, cid))),
                        (false, true) => self.shared.reactors[target]
                            .post(|inbox| inbox.routes.push((sock, addr, cid))),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors and the like: log and retry on the next event.
                    let kind = if routes { "route" } else { "client" };
                    error!("Error accepting {kind} connection: {e}");
                    return;
                }
            }
        }
    }

    /// The client INFO line for a new client: the template with this client's id and
    /// address, and the cluster's name and client URLs.
    fn client_info_line(&self, cid: u64, addr: SocketAddr) -> Vec<u8> {
        let info = self.shared.client_info(&self.settings);
        info.line_for(cid, addr.ip().to_string())
    }

    /// Takes ownership of an accepted client socket: sends INFO, arms timers, checks the
    /// limit.
    fn register(&mut self, mut sock: TcpStream, addr: SocketAddr, cid: u64) {
        let settings = self.settings.clone();
        let opts = &settings.opts;
        let mut info = self.client_info_line(cid, addr);
        let tls = match &settings.tls {
            // INFO goes out in plain text, then everything is inside TLS. A fresh socket
            // takes a few hundred bytes at once; one that does not is dropped.
            Some(config) => match sock.write(&info) {
                Ok(n) if n == info.len() => {
                    info.clear();
                    TlsSession::new(config.clone()).ok()
                }
                _ => return,
            },
            None => None,
        };
        let Some(token) = self.adopt(sock, addr, cid, false) else {
            return;
        };
        let handshaking = tls.is_some();
        let now = Instant::now();
        let conn = &mut self.conns[token];
        conn.shared.direct.store(!handshaking, Ordering::Relaxed);
        conn.tls = tls;
        conn.wbuf = info;
        self.counts.total_connections += 1;
        self.out.mark_dirty(&mut self.conns, token);
        self.schedule(token, now + opts.ping_interval, TimerKind::Ping);
        if settings.auth.required() {
            self.schedule(token, now + opts.auth_timeout(), TimerKind::AuthTimeout);
        }
        if handshaking {
            self.schedule(token, now + opts.tls_timeout(), TimerKind::TlsTimeout);
        }
        debug!(
            "{}Client connection created",
            self.conns[token].shared.prefix()
        );
        let clients = {
            let mut clients = self.shared.clients();
            clients.insert(cid, self.conns[token].shared.clone());
            clients.len()
        };
        if clients > opts.max_connections {
            self.max_connections_exceeded(token);
        }
    }

    /// Registers a socket with this reactor's poll and adds its connection (client or
    /// route) to the slab, with nothing to write yet; `None` if the poll refused it.
    pub(super) fn adopt(
        &mut self,
        mut sock: TcpStream,
        addr: SocketAddr,
        cid: u64,
        is_route: bool,
    ) -> Option<usize> {
        let _ = sock.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut sock,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            error!("Error registering connection: {e}");
            return None;
        }
        let opts = &self.settings.opts;
        let now = Instant::now();
        let parser = match is_route {
            true => Parser::new_route(),
            false => Parser::new(opts.max_control_line, opts.max_payload),
        };
        entry.insert(Conn {
            shared: Arc::new(ConnShared::new(
                cid,
                self.id,
                token,
                addr,
                is_route,
                sock.as_raw_fd(),
            )),
            sock,
            addr,
            parser,
            opts: Default::default(),
            connected: false,
            established: false,
            awaiting_verdict: None,
            user: None,
            perms: None,
            pub_verdicts: Default::default(),
            tls: None,
            tls_announced: false,
            rbuf: Vec::new(),
            needs_input: false,
            needed: 0,
            wbuf: Vec::new(),
            wpos: 0,
            dirty: false,
            queued_ready: false,
            readable: false,
            read_closed: false,
            writable: true,
            paused_until: None,
            blocked_since: None,
            closing: None,
            ping: PingState {
                due: now + opts.ping_interval,
                outstanding: 0,
                last_client_ping: None,
                sent_at: None,
                rtt: None,
            },
            last_activity: now,
            counts: Default::default(),
            route: None,
        });
        Some(token)
    }

    /// Schedules a timer for the connection at `token`.
    pub(super) fn schedule(&mut self, token: usize, at: Instant, kind: TimerKind) {
        let cid = self.conns[token].shared.cid;
        self.timers.schedule(Timer {
            at,
            token,
            cid,
            kind,
        });
    }

    fn serve_ready(&mut self) {
        let ready = std::mem::take(&mut self.ready);
        for &token in &ready {
            if let Some(conn) = self.conns.get_mut(token) {
                conn.queued_ready = false;
                self.serve_input(token);
            }
        }
        let mut ready = ready;
        ready.clear();
        if self.ready.is_empty() {
            self.ready = ready;
        }
    }

    /// Serves the connection's input, then adds what it counted to its activity.
    fn serve_input(&mut self, token: usize) {
        self.read_and_process(token);
        self.conns[token].publish_counts();
    }

    /// Processes held-back input, then reads until the socket is drained or the budget is
    /// spent (then the connection stays on the ready list for the next turn).
    fn read_and_process(&mut self, token: usize) {
        let conn = &self.conns[token];
        if !conn.rbuf.is_empty() && !conn.needs_input {
            self.process_held(token);
        }
        let mut budget = READ_BUDGET;
        loop {
            let conn = &self.conns[token];
            if conn.closing.is_some() || conn.paused_until.is_some() || !conn.readable {
                return;
            }
            if budget == 0 {
                self.mark_ready(token);
                return;
            }
            // A held partial operation that fits the scratch buffer with room to spare
            // goes there with the next read; only a big one grows the connection's buffer.
            let fits = conn.rbuf.len() <= SCRATCH_SIZE / 2 && conn.needed <= SCRATCH_SIZE;
            let result = if fits {
                self.read_into_scratch(token)
            } else {
                self.read_into_held(token)
            };
            match result {
                Ok((0, _)) => self.close(token, CloseReason::ClientClosed, false),
                Ok((n, asked)) => {
                    budget = budget.saturating_sub(n);
                    let conn = &mut self.conns[token];
                    conn.last_activity = Instant::now();
                    // A plain socket that filled less than was asked has been drained:
                    // epoll (edge-triggered) reports the next bytes, so the read that would
                    // only say WouldBlock is saved. Not under TLS, whose reads go through
                    // rustls' buffer, and not once the peer has closed: no event would
                    // follow for the end of stream behind the bytes.
                    if n < asked && conn.tls.is_none() && !conn.read_closed {
                        conn.readable = false;
                    }
                    self.announce_tls(token);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.conns[token].readable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let conn = &mut self.conns[token];
                    let handshaking = conn.tls.as_ref().is_some_and(TlsSession::is_handshaking);
                    let reason = match e.kind() {
                        _ if handshaking => {
                            error!("{}TLS handshake error: {e}", conn.shared.prefix());
                            // rustls queued an alert for the client: send it on the way out.
                            let _ = conn.flush_tls();
                            CloseReason::TlsHandshakeFailure
                        }
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                            CloseReason::ClientClosed
                        }
                        _ => CloseReason::ReadError,
                    };
                    self.close(token, reason, false);
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
        let held = conn.rbuf.len();
        scratch[..held].copy_from_slice(&conn.rbuf);
        let asked = scratch.len() - held;
        let result = conn.read_input(&mut scratch[held..]);
        if let Ok(n) = result {
            if n > 0 {
                conn.rbuf.clear();
                conn.needs_input = false;
                let end = held + n;
                let used = self.process(token, &scratch[..end]);
                let conn = &mut self.conns[token];
                conn.rbuf.extend_from_slice(&scratch[used..end]);
            }
        }
        self.scratch = scratch;
        result.map(|n| (n, asked))
    }

    /// Reads more bytes after a held partial operation and processes the whole. Returns the
    /// bytes read and the room offered.
    fn read_into_held(&mut self, token: usize) -> io::Result<(usize, usize)> {
        let conn = &mut self.conns[token];
        let mut held = std::mem::take(&mut conn.rbuf);
        let want = conn
            .needed
            .max(held.len() + 4096)
            .min(held.len() + READ_BUDGET);
        let start = held.len();
        held.resize(want.max(start + 1), 0);
        let asked = held.len() - start;
        let result = conn.read_input(&mut held[start..]);
        let n = *result.as_ref().unwrap_or(&0);
        held.truncate(start + n);
        if n > 0 {
            self.conns[token].needs_input = false;
            let used = self.process(token, &held);
            held.drain(..used);
        }
        self.restore_held(token, held);
        result.map(|n| (n, asked))
    }

    /// Processes input kept from an earlier turn (after a flow-control pause).
    fn process_held(&mut self, token: usize) {
        let mut held = std::mem::take(&mut self.conns[token].rbuf);
        let used = self.process(token, &held);
        held.drain(..used);
        self.restore_held(token, held);
    }

    fn restore_held(&mut self, token: usize, mut held: Vec<u8>) {
        if held.is_empty() && held.capacity() > SCRATCH_SIZE {
            held = Vec::new();
        }
        self.conns[token].rbuf = held;
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            let live = self
                .conns
                .get(timer.token)
                .is_some_and(|c| c.shared.cid == timer.cid && c.closing.is_none());
            if !live {
                continue;
            }
            match timer.kind {
                TimerKind::Ping => self.on_ping_timer(timer.token, now),
                TimerKind::Resume => self.resume(timer.token, now),
                TimerKind::WriteDeadline => self.check_write_deadline(timer.token, now),
                TimerKind::AuthTimeout => self.on_auth_timeout(timer.token),
                TimerKind::TlsTimeout => self.on_tls_timeout(timer.token),
            }
        }
    }

    fn resume(&mut self, token: usize, now: Instant) {
        let conn = &mut self.conns[token];
        if conn.paused_until.is_some_and(|t| t <= now) {
            conn.paused_until = None;
            self.mark_ready(token);
        }
    }

    /// Logs the TLS version and cipher suite once the handshake is done (debug).
    fn announce_tls(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        if conn.tls_announced {
            return;
        }
        if let Some((version, cipher)) = conn.tls.as_ref().and_then(TlsSession::protocol_and_cipher)
        {
            conn.tls_announced = true;
            conn.shared.update_meta(|meta| {
                meta.tls_version = version;
                meta.tls_cipher = cipher;
            });
            let prefix = conn.shared.prefix();
            debug!("{prefix}TLS handshake complete");
            debug!("{prefix}TLS version {version}, cipher suite {cipher}");
        }
    }

    /// The TLS handshake timer: a client still handshaking is closed. (The reference's
    /// `-ERR 'Secure Connection - TLS Required'` goes into the unfinished TLS session and
    /// never reaches the client, so nothing is sent.)
    fn on_tls_timeout(&mut self, token: usize) {
        let conn = &self.conns[token];
        if conn.tls.as_ref().is_some_and(TlsSession::is_handshaking) {
            error!("{}TLS handshake timeout", conn.shared.prefix());
            self.close(token, CloseReason::TlsHandshakeFailure, false);
        }
    }

    /// Pauses reading a producer whose consumers fell behind.
    pub(super) fn pause(&mut self, token: usize) {
        let until = Instant::now() + STALL_PAUSE;
        self.conns[token].paused_until = Some(until);
        self.schedule(token, until, TimerKind::Resume);
    }

    fn check_write_deadline(&mut self, token: usize, now: Instant) {
        let deadline = self.settings.opts.write_deadline;
        let conn = &self.conns[token];
        if conn
            .blocked_since
            .is_some_and(|since| now >= since + deadline)
        {
            let pending = conn.pending();
            self.counts.slow_consumers += 1;
            warn!(
                "{}Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                conn.shared.prefix(),
                crate::gofmt::duration(deadline),
                pending
            );
            self.close(token, CloseReason::SlowConsumerWriteDeadline, false);
        }
    }

    /// Counts, logs and closes a connection whose pending bytes passed `max_pending`.
    pub(super) fn slow_consumer_pending(&mut self, token: usize) {
        self.counts.slow_consumers += 1;
        warn!(
            "{}Slow Consumer Detected: MaxPending of {} Exceeded",
            self.conns[token].shared.prefix(),
            self.settings.opts.max_pending
        );
        self.close(token, CloseReason::SlowConsumerPendingBytes, false);
    }

    /// Marks a connection to close at the end of the turn; `flush` sends what is queued
    /// (an `-ERR`) first.
    pub(super) fn close(&mut self, token: usize, reason: CloseReason, flush: bool) {
        let conn = &mut self.conns[token];
        if conn.closing.is_none() {
            conn.closing = Some((reason, flush));
            conn.shared.closed.store(true, Ordering::Relaxed);
            self.closing.push(token);
        }
    }

    /// Adds this turn's counts to the server's, hands staged bytes to other reactors,
    /// writes local output and tears down closed connections. The counts go first: a
    /// client that has its answer (a PONG after a PUB) must find them in monitoring.
    fn flush(&mut self) {
        self.publish_stats();
        self.out.hand_over(&self.shared);
        for token in self.out.take_dirty() {
            if let Some(conn) = self.conns.get_mut(token) {
                conn.dirty = false;
                conn.publish_counts();
                if conn.closing.is_none() {
                    self.write(token);
                }
            }
        }
        for token in std::mem::take(&mut self.closing) {
            self.teardown(token);
        }
    }

    /// Adds the turn's message counts and the subject cache's statistics to the shared
    /// ones, when they changed (writing and teardown change neither).
    fn publish_stats(&mut self) {
        if self.counts != Snapshot::default() {
            self.shared.stats.add(&self.counts);
            self.counts = Snapshot::default();
        }
        let cache = self.cache.stats();
        if cache != self.published_cache {
            self.published_cache = cache;
            self.shared.reactors[self.id].publish_cache_stats(cache);
        }
    }

    /// Writes queued bytes until done or the socket is full.
    fn write(&mut self, token: usize) {
        let conn = &mut self.conns[token];
        let shared = Arc::clone(&conn.shared);
        let written = {
            let _writing = shared.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            conn.write_output()
        };
        if written.is_err() {
            self.close(token, CloseReason::WriteError, false);
            return;
        }
        if conn.output_done() {
            conn.wpos = 0;
            conn.wbuf.clear();
            conn.blocked_since = None;
        } else {
            if conn.wpos >= COMPACT_WBUF && conn.wpos * 2 >= conn.wbuf.len() {
                // A consumer that never quite catches up must not grow the buffer forever.
                conn.wbuf.drain(..conn.wpos);
                conn.wpos = 0;
            }
            if conn.blocked_since.is_none() {
                let now = Instant::now();
                conn.blocked_since = Some(now);
                let at = now + self.settings.opts.write_deadline;
                self.schedule(token, at, TimerKind::WriteDeadline);
            }
        }
        let conn = &self.conns[token];
        conn.shared
            .unsent
            .store(conn.wbuf.len() - conn.wpos, Ordering::Relaxed);
    }

    /// Removes a closed connection: its subscriptions, its socket, its slot.
    fn teardown(&mut self, token: usize) {
        let Some((reason, flush)) = self.conns[token].closing else {
            return;
        };
        if flush {
            self.conns[token].writable = true;
            self.write(token);
        }
        if let Some(tls) = self.conns[token].tls.as_mut() {
            if !tls.is_handshaking() {
                tls.send_close_notify();
                let _ = self.conns[token].flush_tls();
            }
        }
        self.conns[token].publish_counts();
        if self.conns[token].route.is_none() {
            let mut info = self.conns[token].shared.info(true);
            info.closed = Some((SystemTime::now(), reason.to_string()));
            self.shared.closed.push(info);
        }
        let shared = Arc::clone(&self.conns[token].shared);
        // No direct write may be under way on this socket while it closes.
        let writing = shared.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = self.conns.remove(token);
        let _ = self.poll.registry().deregister(&mut conn.sock);
        let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        drop(writing);
        if let Some(route) = conn.route.take() {
            debug!("{}Router connection closed: {reason}", conn.shared.prefix());
            self.route_closed(*route, &conn.shared);
            return;
        }
        let subs: Vec<_> = conn
            .shared
            .subs
            .lock()
            .drain()
            .map(|(_, sub)| sub)
            .collect();
        let removed = self
            .shared
            .sublist
            .remove_batch(subs.iter().map(|s| (&*s.subject, s.queue.as_deref(), s)));
        for (sub, _) in subs.iter().zip(removed).filter(|(_, removed)| *removed) {
            self.interest_changed(sub, false);
        }
        self.shared.clients().remove(&conn.shared.cid);
        let prefix = conn.shared.prefix();
        debug!("{prefix}Client connection closed: {reason}");
        if crate::logging::trace_enabled() {
            for sub in &subs {
                trace!("{prefix}<-> [DELSUB {}]", String::from_utf8_lossy(&sub.sid));
            }
        }
    }

    /// Tells the cluster that a local subscription came or went.
    pub(super) fn interest_changed(&self, sub: &Subscription, added: bool) {
        if let Some(cluster) = &self.shared.cluster {
            cluster.local_interest(&self.shared, &sub.subject, sub.queue.as_deref(), added);
        }
    }

    /// Shutdown: flush what each connection has queued and close it.
    fn close_all(&mut self) {
        self.listener = None;
        self.drain_inbox();
        self.out.hand_over(&self.shared);
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for token in tokens {
            self.close(token, CloseReason::ServerShutdown, true);
        }
        for token in std::mem::take(&mut self.closing) {
            self.teardown(token);
        }
        self.shared.stats.add(&self.counts);
    }

    /// A pseudo-random number (xorshift), for queue member selection.
    pub(super) fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}
