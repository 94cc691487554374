//! How bytes and work cross from one reactor (or another thread) to a reactor: the inbox
//! and its wake-up, the staging of output for connections owned by other reactors, the
//! recycled hand-over buffers, and the direct write to a parked reactor's connection.
//!
//! **Staging.** During a turn, output for a connection on another reactor goes into a
//! staging buffer of this reactor ([`Staging::stage`]); after the turn each staged buffer is
//! appended to the target's `handover` under one lock ([`Staging::hand_over`]) and the
//! target's reactor gets one flush notice in its [`Inbox`], waking it at most once per batch
//! (see [`ReactorHandle::post`]). The owner moves the batches to its output queue with
//! [`absorb`], whole: bytes cross reactors without being copied, and each stays in memory
//! only until it is written (see `outq`).
//!
//! **Recycling.** A batch is handed over whole (a small one is copied onto the last
//! batch waiting), and the hand-over gives back the emptied buffer the owner left there
//! when it absorbed the previous batches, so in steady state handing bytes over rarely
//! allocates (an allocator that returns big blocks to the system, as musl's does, would
//! otherwise map and unmap memory every turn).
//!
//! **Direct writes and the write lock.** When the target's reactor is parked in `poll` and
//! nothing of the target's is unwritten, a small batch (or a turn's only batch, see
//! [`Staging::hand_over`]) is written straight to its socket instead of waking the owner;
//! on a TLS connection whose handshake is done, it is encrypted into the connection's
//! session first (taken with `try_lock`: an owner using it means the owner is awake, and
//! the batch goes through the hand-over). The invariant that makes this safe: every write
//! to a connection's socket and the closing of that socket happen under its
//! [`ConnShared::write_lock`] ([`lock_socket`]); a direct write also checks, under that
//! lock, that the connection is not closed (the owner sets `closed` before it takes the
//! lock to close), so it never interleaves with the owner's writes nor reaches a reused
//! descriptor; and it only writes while `unsent` is 0 (the owner publishes `unsent` under
//! the hand-over lock when it absorbs), so it never overtakes bytes the owner holds.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use mio::net::TcpStream;
use mio::Waker;

use super::conn::ConnShared;
use super::conn_info::{unix_nanos, Counts};
use super::outq::{self, OutQueue};
use super::ServerShared;
use crate::route_url::RouteUrl;
use crate::sublist::CacheStats;

/// The largest batch written straight to a parked reactor's connection, unless it is
/// the turn's only batch (see [`Staging::hand_over`]). Small batches are the
/// request/reply case, where a wake costs more than the write; a fan-out's big ones are
/// better written by their owners, in parallel with each other and with the next read
/// here.
const DIRECT_WRITE_MAX: usize = 4096;

/// Emptied staging buffers a reactor keeps for reuse, at most this many (of at most
/// `outq::MAX_SPARE` each).
const MAX_SPARE_BUFFERS: usize = 8;

/// What other reactors handed one connection and its owner has not yet moved out.
#[derive(Default)]
pub struct Handover {
    /// Batches, oldest first.
    batches: Vec<Vec<u8>>,
    /// Their bytes.
    len: usize,
    /// Emptied buffers from the owner (up to `outq::SPARES`), for the next reactors
    /// handing over to stage in.
    spares: Vec<Vec<u8>>,
    /// Producers (reactor, token, cid) paused until the owner takes these batches.
    waiting: Vec<(usize, usize, u64)>,
}

impl Handover {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a batch: copied onto the last one when it is small and fits there, else kept
    /// whole. Returns an emptied buffer for reuse: `bytes` when copied, else one of the
    /// owner's spares, if any.
    fn push(&mut self, mut bytes: Vec<u8>) -> Option<Vec<u8>> {
        self.len += bytes.len();
        if let Some(last) = self.batches.last_mut() {
            if outq::join_small(last, &bytes) {
                bytes.clear();
                return Some(bytes);
            }
        }
        self.batches.push(bytes);
        self.spares.pop()
    }
}

/// Work handed to a reactor by other threads.
#[derive(Default)]
pub struct Inbox {
    /// Accepted sockets with their client id, for this reactor to own.
    pub accepted: Vec<(TcpStream, SocketAddr, u64)>,
    /// Connections (token, cid) whose `handover` has bytes to move out.
    pub flush: Vec<(usize, u64)>,
    /// Lame duck steps, from the signal thread.
    pub lame_duck: Vec<LameDuckStep>,
    /// bcrypt verdicts from the verifier pool: (token, cid, digest, matched).
    pub verdicts: Vec<(usize, u64, u64, bool)>,
    /// Accepted route sockets with their connection id.
    pub routes: Vec<(TcpStream, SocketAddr, u64)>,
    /// Route sockets the dialer connected.
    pub dialled: Vec<Dialled>,
    /// Routes (token, cid) a reload removed: close them.
    pub close: Vec<(usize, u64)>,
    /// Accepted leafnode sockets with their connection id.
    pub leaves: Vec<(TcpStream, SocketAddr, u64)>,
    /// Sockets the leaf dialer connected to a remote hub.
    pub leaf_dialled: Vec<LeafDialled>,
    /// Leaf links (token, cid) a newer link from the same leaf server replaces.
    pub replaced_leaves: Vec<(usize, u64)>,
    /// Producers (token, cid) paused behind a hand-over that has now been taken.
    pub resume: Vec<(usize, u64)>,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.accepted.is_empty()
            && self.flush.is_empty()
            && self.lame_duck.is_empty()
            && self.verdicts.is_empty()
            && self.routes.is_empty()
            && self.dialled.is_empty()
            && self.close.is_empty()
            && self.leaves.is_empty()
            && self.leaf_dialled.is_empty()
            && self.replaced_leaves.is_empty()
            && self.resume.is_empty()
    }
}

/// A route socket the dialer connected, for a reactor to own.
pub struct Dialled {
    pub sock: TcpStream,
    pub addr: SocketAddr,
    pub url: RouteUrl,
    /// A configured route (dialled again when it closes).
    pub explicit: bool,
}

/// A socket connected to a remote hub, for a reactor to own.
pub struct LeafDialled {
    pub sock: TcpStream,
    pub addr: SocketAddr,
    /// Index of the remote in the leafnode configuration.
    pub remote: usize,
    /// The URL dialled (its credentials go in CONNECT).
    pub url: RouteUrl,
}

/// What lame duck mode asks of a reactor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LameDuckStep {
    /// Close the client listener (reactor 0) and tell clients with `"ldm":true`.
    Enter,
    /// Close one client connection, if this reactor has any.
    CloseOne,
}

/// How other threads reach one reactor: its inbox and its waker.
///
/// A busy reactor looks at `has_work` every turn, so it is woken (an eventfd write) only
/// when it is parked in `poll` and its inbox was empty: at most once per batch.
pub struct ReactorHandle {
    inbox: Mutex<Inbox>,
    has_work: AtomicBool,
    parked: AtomicBool,
    waker: Waker,
    /// The reactor's match-cache statistics as of its last turn that used the cache.
    cache_stats: Mutex<CacheStats>,
    /// Turns begun (counted in [`ReactorHandle::unpark`]; only the reactor writes it): the
    /// watchdog's proof that the reactor is not stuck (see `supervision`).
    turns: AtomicU64,
    /// The reactor's connections as of its last turn (each connection's share of
    /// `max_pending_total` is taken over the connections of all reactors).
    connections: AtomicUsize,
    /// The reactor's part of the server's outbound total (`max_pending_total`), as of its
    /// last turn: the memory its output buffers hold, plus the bytes it handed over to
    /// other reactors' connections, less those it moved out of its own connections'
    /// hand-overs (so it may be negative). Written by the reactor only: no contended
    /// read-modify-write on the delivery path.
    outbound: AtomicIsize,
}

impl ReactorHandle {
    pub fn new(waker: Waker) -> Self {
        ReactorHandle {
            inbox: Mutex::new(Inbox::default()),
            has_work: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            waker,
            cache_stats: Mutex::new(CacheStats::default()),
            turns: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            outbound: AtomicIsize::new(0),
        }
    }

    /// Records the reactor's part of the outbound total (only the reactor writes it).
    pub fn publish_outbound(&self, outbound: isize) {
        self.outbound.store(outbound, Ordering::Relaxed);
    }

    /// The reactor's part of the outbound total as of its last turn.
    pub fn outbound(&self) -> isize {
        self.outbound.load(Ordering::Relaxed)
    }

    /// Records the reactor's connection count (only the reactor writes it).
    pub fn publish_connections(&self, connections: usize) {
        if self.connections.load(Ordering::Relaxed) != connections {
            self.connections.store(connections, Ordering::Relaxed);
        }
    }

    /// The reactor's connection count as of its last turn.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn cache_stats(&self) -> CacheStats {
        *self.cache_stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn publish_cache_stats(&self, stats: CacheStats) {
        *self.cache_stats.lock().unwrap_or_else(|e| e.into_inner()) = stats;
    }

    /// Adds work, waking the reactor if it needs it.
    pub fn post(&self, add: impl FnOnce(&mut Inbox)) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = inbox.is_empty();
        add(&mut inbox);
        self.has_work.store(true, Ordering::SeqCst);
        drop(inbox);
        if was_empty && self.parked.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    pub fn wake(&self) {
        // A failed wake means the poll is gone: the server is shutting down.
        let _ = self.waker.wake();
    }

    /// Called by the reactor before blocking in `poll`: false if work arrived meanwhile
    /// (then it must not block).
    pub fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        !self.has_work.load(Ordering::SeqCst)
    }

    /// Whether the reactor sleeps in `poll`.
    fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// Called by the reactor when `poll` returns: a turn begins.
    pub fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
        // A plain load and store: only this reactor writes the count.
        let turns = self.turns.load(Ordering::Relaxed);
        self.turns.store(turns.wrapping_add(1), Ordering::Relaxed);
    }

    /// Turns begun so far.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    /// Takes the queued work, if any.
    pub fn take(&self) -> Option<Inbox> {
        if !self.has_work.load(Ordering::SeqCst) {
            return None;
        }
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        self.has_work.store(false, Ordering::SeqCst);
        Some(std::mem::take(&mut *inbox))
    }
}

/// Output of one turn for connections on other reactors.
#[derive(Default)]
pub struct Staging {
    staged: Vec<Staged>,
    index: HashMap<u64, usize>,
    /// The last target staged for and its place in `staged`: a burst to one target skips
    /// the hash lookup (SipHash was a tenth of a 1 → 1 publication's instructions).
    last: Option<(u64, usize)>,
    /// Emptied buffers for the next staging (see the module documentation).
    spare: Vec<Vec<u8>>,
}

/// Bytes and counts staged this turn for a connection on another reactor.
pub struct Staged {
    target: Arc<ConnShared>,
    pub bytes: Vec<u8>,
    pub counts: Counts,
}

impl Staging {
    /// The staging buffer for a connection on another reactor.
    #[inline]
    pub fn stage(&mut self, target: &Arc<ConnShared>) -> &mut Staged {
        let index = match self.last {
            Some((cid, index)) if cid == target.cid => index,
            _ => {
                let index = *self.index.entry(target.cid).or_insert_with(|| {
                    self.staged.push(Staged {
                        target: target.clone(),
                        bytes: self.spare.pop().unwrap_or_default(),
                        counts: Counts::default(),
                    });
                    self.staged.len() - 1
                });
                self.last = Some((target.cid, index));
                index
            }
        };
        &mut self.staged[index]
    }

    /// Drops the emptied buffers kept for reuse (an idle reactor gives its memory back).
    pub fn release_spares(&mut self) {
        self.spare = Vec::new();
    }

    /// Appends each staged buffer to its target's hand-over (one lock per target per
    /// turn) and notifies the owning reactors; writes small batches straight to the
    /// sockets of parked reactors' connections. Returns the bytes left in hand-overs (for
    /// this reactor's part of the outbound total).
    ///
    /// The turn's only batch goes straight whatever its size when it is plain text, or
    /// when this reactor is not `busy` (no input waits for its next turn): waking the owner
    /// to write one connection costs more than the write (the wake, and the buffer that
    /// crosses threads). A busy reactor still hands a big TLS batch to its owner, whose
    /// encrypting it runs in parallel with the next read here. A/B, one publisher to one
    /// subscriber on two reactors: 1 KB messages 1.21x the throughput at 0.62x the CPU
    /// per message (TLS: 0.95x the CPU), 16 KB 1.10x at 0.63x; fan-out, queue groups,
    /// request/reply, routes and leafnodes within noise.
    pub fn hand_over(&mut self, shared: &ServerShared, busy: bool) -> usize {
        self.index.clear();
        self.last = None;
        if self.staged.is_empty() {
            return 0;
        }
        let mut handed_over = 0;
        let now = unix_nanos(SystemTime::now());
        let alone = self.staged.len() == 1;
        let Staging { staged, spare, .. } = self;
        for Staged {
            target,
            bytes,
            counts,
        } in staged.drain(..)
        {
            if target.is_closed() {
                recycle(spare, bytes);
                continue;
            }
            target.add_activity(&counts, now);
            let handover = target.handover.lock().unwrap_or_else(|e| e.into_inner());
            let mut bytes = bytes;
            let any_size = alone && (!busy || target.tls.get().is_none());
            if (any_size || bytes.len() <= DIRECT_WRITE_MAX)
                && handover.is_empty()
                && shared.reactors[target.reactor].is_parked()
            {
                // The owner sleeps with nothing queued: write now rather than wake it.
                let (written, records_left) = write_direct(&target, &bytes);
                if written == bytes.len() && !records_left {
                    recycle(spare, bytes);
                    continue;
                }
                // The owner writes the rest (bytes, or TLS records the socket refused).
                bytes.drain(..written);
            }
            let (emptied, appended) = append_handover(shared, &target, handover, bytes);
            handed_over += appended;
            if let Some(emptied) = emptied {
                recycle(spare, emptied);
            }
        }
        handed_over
    }
}

/// Gives back the hand-over buffer of a connection when it holds nothing.
pub fn release_idle(shared: &ConnShared) {
    let mut handover = shared.handover.lock().unwrap_or_else(|e| e.into_inner());
    if handover.is_empty() {
        handover.batches = Vec::new();
        handover.spares = Vec::new();
    }
}

/// Sends `bytes` to a connection on any reactor through its hand-over (interest updates,
/// async INFO: rare, so not staged).
pub fn send(shared: &ServerShared, target: &ConnShared, bytes: &[u8]) {
    if target.is_closed() {
        return;
    }
    let handover = target.handover.lock().unwrap_or_else(|e| e.into_inner());
    // The emptied buffer it gives back is not worth keeping here.
    let (_, appended) = append_handover(shared, target, handover, bytes.to_vec());
    shared.sent_outbound.fetch_add(appended, Ordering::Relaxed);
}

/// The owner's side: moves the batches other reactors handed over to connection `shared`
/// to the end of its output queue, leaves emptied chunks of the queue in the hand-over
/// for the next stagings, and resumes the producers that waited for this. Returns the bytes
/// moved (they leave the hand-over's part of the outbound total: the owner counts its
/// queue) and the bytes now unwritten.
pub fn absorb(server: &ServerShared, shared: &ConnShared, queue: &mut OutQueue) -> (usize, usize) {
    let mut handover = shared.handover.lock().unwrap_or_else(|e| e.into_inner());
    let moved = handover.len;
    handover.len = 0;
    for batch in handover.batches.drain(..) {
        queue.append(batch);
    }
    while handover.spares.len() < outq::SPARES {
        let Some(spare) = queue.take_spare() else {
            break;
        };
        handover.spares.push(spare);
    }
    let waiting = std::mem::take(&mut handover.waiting);
    shared.handover_len.store(0, Ordering::Relaxed);
    shared.handover_queued.store(false, Ordering::Relaxed);
    // Unwritten bytes stop direct writes by other reactors (they would overtake).
    let unsent = queue.unsent();
    shared.unsent.store(unsent, Ordering::Relaxed);
    drop(handover);
    for (reactor, token, cid) in waiting {
        server.reactors[reactor].post(|inbox| inbox.resume.push((token, cid)));
    }
    (moved, unsent)
}

/// A producer (connection `token`, `cid` of reactor `reactor`) pauses until the owner of
/// `target` takes its hand-over: it is resumed then rather than when its pause ends.
pub fn wait_for_absorb(target: &ConnShared, reactor: usize, token: usize, cid: u64) {
    let mut handover = target.handover.lock().unwrap_or_else(|e| e.into_inner());
    if !handover.waiting.contains(&(reactor, token, cid)) {
        handover.waiting.push((reactor, token, cid));
    }
}

/// The owner's side when connection `shared` closes: drops what is left in its hand-over
/// (and its buffer); returns the bytes dropped, which leave the server's outbound total.
/// Nothing is handed over after this: `closed` is set before, and checked under the lock.
pub fn discard(shared: &ConnShared) -> usize {
    let mut handover = shared.handover.lock().unwrap_or_else(|e| e.into_inner());
    let dropped = handover.len;
    *handover = Handover::default();
    shared.handover_len.store(0, Ordering::Relaxed);
    dropped
}

/// Held by the owner around every write to the connection's socket and around closing it
/// (see the module documentation).
pub fn lock_socket(shared: &ConnShared) -> MutexGuard<'_, ()> {
    shared.write_lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps an emptied buffer for the next staging, within the pool's bounds.
fn recycle(spare: &mut Vec<Vec<u8>>, mut buffer: Vec<u8>) {
    let capacity = buffer.capacity();
    if capacity > 0 && capacity <= outq::MAX_SPARE && spare.len() < MAX_SPARE_BUFFERS {
        buffer.clear();
        spare.push(buffer);
    }
}

/// Appends `bytes` to a connection's (locked) hand-over and, unless a notice is already
/// queued, tells its reactor to move them out. Returns an emptied buffer for reuse (see
/// [`Handover::push`]; `bytes` itself when the connection is closed) and the bytes
/// appended, which the caller counts in the outbound total until the owner moves them
/// out: none when the connection closed meanwhile (its owner has discarded its
/// hand-over, or will).
fn append_handover(
    shared: &ServerShared,
    target: &ConnShared,
    mut handover: MutexGuard<'_, Handover>,
    mut bytes: Vec<u8>,
) -> (Option<Vec<u8>>, usize) {
    if target.is_closed() || bytes.is_empty() {
        bytes.clear();
        return (Some(bytes), 0);
    }
    let appended = bytes.len();
    let emptied = handover.push(bytes);
    target.handover_len.store(handover.len, Ordering::Relaxed);
    let notify = !target.handover_queued.swap(true, Ordering::Relaxed);
    drop(handover);
    if notify {
        let (token, cid) = (target.token, target.cid);
        shared.reactors[target.reactor].post(|inbox| inbox.flush.push((token, cid)));
    }
    (emptied, appended)
}

/// Writes `bytes` to a connection owned by a parked reactor, straight to its socket (or
/// through its TLS session), if nothing of its own is unwritten; returns how much it took
/// (0 when it must wait for the owner: unwritten bytes, a write or read under way, a full
/// socket, an error), and whether TLS records are left for the owner to write (the socket
/// filled up). Called with the target's hand-over locked, so nothing else overtakes it.
fn write_direct(target: &ConnShared, bytes: &[u8]) -> (usize, bool) {
    if !target.direct.load(Ordering::Relaxed) || target.unsent.load(Ordering::Relaxed) != 0 {
        return (0, false);
    }
    let Ok(_writing) = target.write_lock.try_lock() else {
        return (0, false);
    };
    // Checked under the write lock: a closing owner takes it before shutting the socket.
    if target.is_closed() {
        return (0, false);
    }
    let mut socket = DirectSocket(target.fd);
    let Some(tls) = target.tls.get() else {
        return (socket.write_all_it_takes(bytes), false);
    };
    // A session in use (the owner reading) or with records the owner has yet to send is
    // left to the owner.
    let Some(mut tls) = tls.try_lock().filter(|tls| !tls.wants_write()) else {
        return (0, false);
    };
    let taken = tls.write_plain(bytes).unwrap_or(0);
    while tls.wants_write() {
        if tls.write_tls_to(&mut socket).is_err() {
            return (taken, true);
        }
    }
    (taken, false)
}

/// A connection's socket, written by a reactor that does not own it (under its write
/// lock, see the module documentation).
struct DirectSocket(std::os::fd::RawFd);

impl DirectSocket {
    /// Writes as much of `bytes` as the socket takes now; returns how much.
    fn write_all_it_takes(&mut self, bytes: &[u8]) -> usize {
        let mut done = 0;
        while done < bytes.len() {
            match self.write(&bytes[done..]) {
                Ok(n) => done += n,
                Err(_) => break,
            }
        }
        done
    }
}

impl Write for DirectSocket {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // SAFETY: the descriptor is the target's open socket (it cannot close while the
        // write lock is held and `closed` is not set); the buffer is valid for its length.
        let n = unsafe {
            libc::send(
                self.0,
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        match n {
            n if n > 0 => Ok(n as usize),
            0 => Err(io::ErrorKind::WriteZero.into()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::server::testbed::TestBed;

    /// Bytes waiting in a hand-over count in the server's outbound total
    /// (`max_pending_total`) until the owner moves them into its write buffer, which it
    /// then counts itself, or discards them when the connection closes; a closed
    /// connection is handed nothing more.
    #[test]
    fn handed_over_bytes_count_in_the_outbound_total() {
        let mut bed = TestBed::new(Options::default());
        let (open, closing) = (bed.client(), bed.client());
        let turn = &mut bed.turn;
        let hand_over = |turn: &mut crate::server::turn::Turn, token: usize, len: usize| {
            let target = Arc::clone(&turn.outputs[token].shared);
            turn.staging.stage(&target).bytes.resize(len, b'x');
            turn.hand_over_staged(false);
            turn.publish_pending();
        };

        hand_over(turn, open, 1000);
        hand_over(turn, closing, 300);
        assert_eq!(turn.outbound_total(), 1300);
        assert_eq!(turn.absorb_handover(open), 1000);
        turn.publish_pending();
        assert_eq!(turn.outbound_total(), 300);
        turn.account_pending(open);
        turn.publish_pending();
        let held = turn.outputs[open].queue.held() as isize;
        assert!(held >= 1000);
        assert_eq!(turn.outbound_total(), held + 300);

        let to_closing = Arc::clone(&turn.outputs[closing].shared);
        turn.close(closing, crate::server::conn::CloseReason::ClientClosed);
        hand_over(turn, closing, 500);
        assert_eq!(
            turn.outbound_total(),
            held + 300,
            "handed to a closed connection"
        );
        assert_eq!(discard(&to_closing), 300);
        assert_eq!(to_closing.pending_estimate(), 0);

        send(&turn.shared, &turn.outputs[open].shared, b"INFO {}\r\n");
        assert_eq!(turn.outbound_total(), held + 300 + 9);
    }

    /// A turn's only batch for a parked reactor's plain-text connection is written straight
    /// to its socket whatever its size, even from a busy reactor; beside another batch, a
    /// big one goes through the hand-over (its owner writes it, in parallel with the other
    /// owners), and a small one is written straight either way.
    #[test]
    fn a_lone_batch_is_written_straight_to_a_parked_reactors_connection() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;

        let bed = TestBed::new(Options::default());
        let shared = &bed.turn.shared;
        let connect = |cid: u64, sock: &UnixStream| {
            let addr = "127.0.0.1:4222".parse().expect("an address");
            let conn = ConnShared::new(
                cid,
                0,
                cid as usize,
                addr,
                crate::server::conn::Role::Client,
                sock.as_raw_fd(),
            );
            conn.direct.store(true, Ordering::Relaxed);
            Arc::new(conn)
        };
        let (a_sock, mut a_peer) = UnixStream::pair().expect("a socket pair");
        let (b_sock, mut b_peer) = UnixStream::pair().expect("a socket pair");
        let (a, b) = (connect(1, &a_sock), connect(2, &b_sock));
        let received = |peer: &mut UnixStream, len: usize| {
            let mut bytes = vec![0; len];
            peer.read_exact(&mut bytes).expect("the bytes written");
            bytes
        };
        shared.reactors[0].park();
        let mut staging = Staging::default();

        staging.stage(&a).bytes.resize(32_000, b'a');
        assert_eq!(
            staging.hand_over(shared, true),
            0,
            "nothing left to hand over"
        );
        assert_eq!(received(&mut a_peer, 32_000), vec![b'a'; 32_000]);

        staging.stage(&a).bytes.resize(32_000, b'A');
        staging.stage(&b).bytes.resize(100, b'b');
        assert_eq!(
            staging.hand_over(shared, false),
            32_000,
            "the big batch waits"
        );
        assert_eq!(a.handover_len.load(Ordering::Relaxed), 32_000);
        assert_eq!(received(&mut b_peer, 100), vec![b'b'; 100]);
    }

    /// The owner leaves up to two emptied chunks of its queue in the hand-over (a busy
    /// connection is handed more than one batch per turn of its owner), so the reactors
    /// handing over stage their next batches in buffers that have already grown.
    #[test]
    fn the_owner_leaves_its_emptied_chunks_for_the_next_batches() {
        let mut bed = TestBed::new(Options::default());
        let consumer = bed.client();
        let turn = &mut bed.turn;
        let target = Arc::clone(&turn.outputs[consumer].shared);
        let hand_over = |turn: &mut crate::server::turn::Turn| {
            turn.staging.stage(&target).bytes.resize(10_000, b'x');
            turn.hand_over_staged(false);
        };
        hand_over(turn);
        hand_over(turn);
        turn.absorb_handover(consumer);
        let queue = &mut turn.outputs[consumer].queue;
        queue.advance(queue.unsent());
        hand_over(turn);
        turn.absorb_handover(consumer);

        let handover = turn.outputs[consumer].shared.handover.lock().unwrap();
        let grown: Vec<bool> = handover
            .spares
            .iter()
            .map(|s| s.capacity() >= 10_000)
            .collect();
        assert_eq!(grown, vec![true, true]);
    }

    /// A producer paused behind a consumer's hand-over is told to resume (once) when the
    /// consumer's reactor takes what was handed over.
    #[test]
    fn a_producer_waiting_on_a_hand_over_resumes_when_it_is_taken() {
        let mut bed = TestBed::new(Options::default());
        let (producer, consumer) = (bed.client(), bed.client());
        let turn = &mut bed.turn;
        let target = Arc::clone(&turn.outputs[consumer].shared);
        let cid = turn.outputs[producer].shared.cid;
        let resumes = |turn: &crate::server::turn::Turn| {
            turn.shared.reactors[0]
                .take()
                .map_or_else(Vec::new, |inbox| inbox.resume)
        };
        turn.staging.stage(&target).bytes.resize(1000, b'x');
        turn.hand_over_staged(false);
        wait_for_absorb(&target, 0, producer, cid);
        wait_for_absorb(&target, 0, producer, cid);
        assert_eq!(resumes(turn), vec![], "before the hand-over is taken");

        turn.absorb_handover(consumer);
        assert_eq!(resumes(turn), vec![(producer, cid)]);
        turn.absorb_handover(consumer);
        assert_eq!(resumes(turn), vec![], "resumed once");
    }
}
