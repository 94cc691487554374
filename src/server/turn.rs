//! What a session's handler may touch during a reactor turn ([`Turn`]): the connections'
//! output buffers on this reactor, the staging for other reactors, the match cache, the
//! counters, the timers and the settings in force. No socket is in reach, so a session can
//! be driven by a test with plain bytes.
//!
//! A handler never closes or pauses a connection itself: it asks the turn ([`Turn::close`],
//! [`Turn::stall`]) and the reactor acts on the request when the handler returns.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{log_enabled, trace, warn, Level};
use slab::Slab;

use super::account::AccountCaches;
use super::conn::{CloseReason, ConnShared, Role, Subscription};
use super::conn_info::{unix_nanos, Counts};
use super::handover::{self, Staging};
use super::leafnodes::Source;
use super::outq::OutQueue;
use super::settings::Settings;
use super::stats::Snapshot;
use super::timer::{Timer, TimerKind, Timers};
use super::ServerShared;
use crate::logging;
use crate::rng::Rng;
use crate::tls::TlsSession;

/// Entries of the per-reactor match cache.
const CACHE_ENTRIES: usize = 4096;
/// Past `max_pending_total`, no connection's share is below this (a consumer that keeps
/// up holds less than one socket write's worth).
const MIN_SHARE: usize = 16 * 1024;

/// How a connection is to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closing {
    pub reason: CloseReason,
    /// Write what is queued (answers, messages, an `-ERR`) first.
    pub flush: bool,
}

/// A pause asked for the connection being served (flow control).
pub enum Stall {
    /// For `STALL_PAUSE`.
    Pause,
    /// Until the reactor of this consumer (on another reactor) takes what was handed over
    /// to it, or for `STALL_PAUSE` at most.
    Behind(Arc<ConnShared>),
}

/// A connection's outbound side on its owner reactor.
pub struct Output {
    pub shared: Arc<ConnShared>,
    /// Outbound bytes not yet written.
    pub queue: Box<OutQueue>,
    /// Listed in the turn's write list.
    pub(super) dirty: bool,
    /// Counts of this turn, not yet added to the shared activity.
    pub counts: Counts,
    /// The memory `queue` held as last added to the server's outbound total.
    pub(super) counted: usize,
    /// Set when the connection must go.
    closing: Option<Closing>,
}

impl Output {
    pub fn new(shared: Arc<ConnShared>) -> Self {
        Output {
            shared,
            queue: Box::default(),
            dirty: false,
            counts: Counts::default(),
            counted: 0,
            closing: None,
        }
    }

    /// How the connection is to close, once it must.
    pub fn closing(&self) -> Option<Closing> {
        self.closing
    }

    /// Bytes queued for this connection and not yet written, including hand-overs.
    pub fn pending(&self) -> usize {
        self.queue.unsent() + self.shared.handover_len.load(Ordering::Relaxed)
    }

    /// Adds this turn's counts to the shared activity, with now as the last activity.
    pub fn publish_counts(&mut self) {
        if !self.counts.is_empty() {
            let now = unix_nanos(SystemTime::now());
            self.shared.add_activity(&self.counts, now);
            self.counts = Counts::default();
        }
    }

    /// Gives back the memory a burst left behind, once everything is written.
    pub fn release_idle_buffer(&mut self) {
        self.queue.release();
    }
}

/// The per-turn context of one reactor (see the module documentation).
pub struct Turn {
    /// This reactor's index.
    pub reactor: usize,
    pub shared: Arc<ServerShared>,
    /// The settings in force, refreshed when their generation moves.
    pub settings: Arc<Settings>,
    settings_generation: u64,
    /// Output of this reactor's connections, by token (the reactor's slab keys).
    pub outputs: Slab<Output>,
    /// Connections with new output, to write at the end of the turn.
    dirty: Vec<usize>,
    /// Connections to tear down at the end of the turn.
    closing: Vec<usize>,
    /// Output for connections on other reactors.
    pub staging: Staging,
    pub caches: AccountCaches,
    /// Messages, bytes and slow consumers of this turn, for the server's stats.
    pub counts: Snapshot,
    pub timers: Timers,
    rng: Rng,
    /// A consumer fell behind: the connection being served must pause.
    stall: Option<Stall>,
    /// This reactor's part of the server's outbound total (`max_pending_total`, see
    /// [`handover::ReactorHandle::outbound`]) as last published, and this turn's change.
    outbound: isize,
    pub(super) pending_delta: isize,
    /// What is left of `max_pending_total` (less what this turn queued so far: negative
    /// once past it), and a connection's share of it (see [`Turn::begin`]).
    pub budget_left: isize,
    pub share: usize,
    /// The connection being served starts TLS now (a leaf, after its hub's INFO), with
    /// this handshake deadline.
    tls_start: Option<(TlsSession, Duration)>,
}

impl Turn {
    /// The context of reactor `reactor`, with the settings in force.
    pub fn new(reactor: usize, shared: Arc<ServerShared>) -> std::io::Result<Turn> {
        Ok(Turn {
            reactor,
            settings: shared.settings.current(),
            settings_generation: shared.settings.generation(),
            shared,
            outputs: Slab::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            staging: Staging::default(),
            caches: AccountCaches::new(CACHE_ENTRIES),
            counts: Snapshot::default(),
            timers: Timers::default(),
            rng: Rng::from_os()?,
            stall: None,
            outbound: 0,
            pending_delta: 0,
            budget_left: isize::MAX,
            share: usize::MAX,
            tls_start: None,
        })
    }

    /// Takes reloaded settings, returning the ones they replace (`None`: no reload).
    pub fn refresh_settings(&mut self) -> Option<Arc<Settings>> {
        let generation = self.shared.settings.generation();
        if generation == self.settings_generation {
            return None;
        }
        self.settings_generation = generation;
        Some(std::mem::replace(
            &mut self.settings,
            self.shared.settings.current(),
        ))
    }

    /// Starts a turn on a reactor with `connections`: what is left of `max_pending_total`
    /// after the server's outbound total, and each connection's share of the limit (over
    /// the connections of all reactors; at least [`MIN_SHARE`]).
    pub fn begin(&mut self, connections: usize) {
        let reactors = &self.shared.reactors;
        reactors[self.reactor].publish_connections(connections);
        let limit = self.settings.opts.max_pending_total;
        if limit == 0 {
            self.budget_left = isize::MAX;
            self.share = usize::MAX;
            return;
        }
        self.budget_left = isize::try_from(limit).unwrap_or(isize::MAX) - self.outbound_total();
        let everywhere: usize = reactors.iter().map(|r| r.connections()).sum();
        self.share = (limit / everywhere.max(1)).max(MIN_SHARE);
    }

    /// The server's outbound total as the reactors last published their parts (see
    /// [`handover::ReactorHandle::outbound`]).
    pub(super) fn outbound_total(&self) -> isize {
        let sent = self.shared.sent_outbound.load(Ordering::Relaxed);
        let parts = self
            .shared
            .reactors
            .iter()
            .map(|r| r.outbound())
            .sum::<isize>();
        // Below 0 for a moment when an owner moved bytes out before the reactor that
        // handed them over published them.
        (parts + isize::try_from(sent).unwrap_or(isize::MAX)).max(0)
    }

    /// Records the memory connection `token`'s output queue holds now in the outbound
    /// total (at the end of the turn); returns its unwritten bytes.
    pub fn account_pending(&mut self, token: usize) -> usize {
        let out = &mut self.outputs[token];
        let held = out.queue.held();
        self.pending_delta += held as isize - out.counted as isize;
        out.counted = held;
        out.queue.unsent()
    }

    /// Moves what other reactors handed over to connection `token` into its output queue,
    /// where the outbound total counts it from now on; returns the bytes now pending.
    pub fn absorb_handover(&mut self, token: usize) -> usize {
        self.output(token); // lists it for writing; `absorb` also needs `self.shared`
        let out = &mut self.outputs[token];
        let (moved, pending) = handover::absorb(&self.shared, &out.shared, &mut out.queue);
        self.pending_delta -= moved as isize;
        pending
    }

    /// Hands what this turn staged to the connections of other reactors (`busy`: input
    /// waits for this reactor's next turn); the bytes left in their hand-overs count in
    /// this reactor's part of the outbound total.
    pub fn hand_over_staged(&mut self, busy: bool) {
        let handed_over = self.staging.hand_over(&self.shared, busy);
        self.pending_delta += handed_over as isize;
    }

    /// Adds this turn's change to this reactor's part of the server's outbound total.
    pub fn publish_pending(&mut self) {
        let delta = std::mem::take(&mut self.pending_delta);
        if delta != 0 {
            self.outbound += delta;
            self.shared.reactors[self.reactor].publish_outbound(self.outbound);
        }
    }

    /// Counts a message of `bytes` received on connection `token` (a route's or a leaf
    /// link's; clients count theirs in bulk).
    pub fn count_in(&mut self, token: usize, bytes: usize) {
        let counts = &mut self.outputs[token].counts;
        counts.in_msgs += 1;
        counts.in_bytes += bytes as u64;
        self.counts.in_msgs += 1;
        self.counts.in_bytes += bytes as u64;
    }

    /// The output of connection `token`, listed for writing at the end of the turn.
    #[inline]
    pub fn output(&mut self, token: usize) -> &mut Output {
        let out = &mut self.outputs[token];
        if !out.dirty {
            out.dirty = true;
            self.dirty.push(token);
        }
        out
    }

    /// The connections to write, emptying the list.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.dirty)
    }

    /// The connections to tear down, emptying the list.
    pub fn take_closing(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.closing)
    }

    /// Queues a protocol line for a connection, traced as `->> [name]`.
    pub fn send(&mut self, token: usize, bytes: &[u8], name: &str) {
        let out = self.output(token);
        if log_enabled!(Level::Trace) && logging::trace_enabled() {
            trace!("{}->> [{name}]", out.shared.prefix());
        }
        out.queue.extend(bytes);
    }

    /// Queues `-ERR '<text>'`; the connection stays open.
    pub fn send_err(&mut self, token: usize, text: &str) {
        let line = format!("-ERR '{text}'\r\n");
        self.send(token, line.as_bytes(), &format!("-ERR {text}"));
    }

    /// Queues `-ERR '<text>'` and closes the connection once it is written.
    pub fn send_err_and_close(&mut self, token: usize, text: &str, reason: CloseReason) {
        self.send_err(token, text);
        self.close(token, reason);
    }

    /// Marks a connection to close at the end of the turn, after writing what is queued
    /// when the reason allows ([`CloseReason::flushes`]). Deliveries to it stop at once.
    pub fn close(&mut self, token: usize, reason: CloseReason) {
        let out = &mut self.outputs[token];
        if out.closing.is_none() {
            let flush = reason.flushes();
            out.closing = Some(Closing { reason, flush });
            out.shared.closed.store(true, Ordering::Relaxed);
            self.closing.push(token);
        }
    }

    /// Whether connection `token` is closing (or gone).
    pub fn is_closing(&self, token: usize) -> bool {
        self.outputs
            .get(token)
            .is_none_or(|out| out.closing.is_some())
    }

    /// Counts, logs and closes a connection whose pending bytes passed `max_pending`.
    pub fn slow_consumer_pending(&mut self, token: usize) {
        self.counts.slow_consumers += 1;
        warn!(
            "{}Slow Consumer Detected: MaxPending of {} Exceeded",
            self.outputs[token].shared.prefix(),
            self.settings.opts.max_pending
        );
        self.close(token, CloseReason::SlowConsumerPendingBytes);
    }

    /// Schedules a timer for connection `token`.
    pub fn schedule(&mut self, token: usize, at: Instant, kind: TimerKind) {
        let cid = self.outputs[token].shared.cid;
        self.timers.schedule(Timer {
            at,
            token,
            cid,
            kind,
        });
    }

    /// Asks for the connection being served to pause (flow control: a consumer fell
    /// behind).
    pub fn stall(&mut self) {
        if self.stall.is_none() {
            self.stall = Some(Stall::Pause);
        }
    }

    /// Asks for the connection being served to pause until `target`'s reactor has taken
    /// what was handed over to it (see [`handover::wait_for_absorb`]).
    #[cold]
    pub fn stall_behind(&mut self, target: &Arc<ConnShared>) {
        if !matches!(self.stall, Some(Stall::Behind(_))) {
            self.stall = Some(Stall::Behind(Arc::clone(target)));
        }
    }

    /// Whether a pause was asked for (and not yet taken).
    pub fn is_stalled(&self) -> bool {
        self.stall.is_some()
    }

    /// Asks for the connection being served to start TLS with `tls` (the handshake must
    /// end within `timeout`); what it queued goes out inside TLS.
    pub fn start_tls(&mut self, tls: TlsSession, timeout: Duration) {
        self.tls_start = Some((tls, timeout));
    }

    /// The TLS start asked for, if any.
    pub fn take_tls_start(&mut self) -> Option<(TlsSession, Duration)> {
        self.tls_start.take()
    }

    /// The pause asked for since the last call, if any.
    pub fn take_stall(&mut self) -> Option<Stall> {
        self.stall.take()
    }

    /// Tells the routes and leaf links that a subscription came or went: a client's goes
    /// to both, a route's to hub-role leaf links, a leaf link's to the other links and,
    /// from a leaf of ours, to the routes.
    pub fn interest_changed(&self, sub: &Subscription, added: bool) {
        let source = match sub.conn.role {
            Role::Client => Source::Local,
            Role::Route => Source::Route,
            Role::Leaf => Source::Link(sub.conn.cid),
        };
        let to_routes = match source {
            Source::Local => true,
            Source::Route => false,
            Source::Link(_) => sub.conn.leaf.get().is_some_and(|peer| !peer.solicited),
        };
        if to_routes {
            if let Some(cluster) = &self.shared.cluster {
                cluster.local_interest(
                    &self.shared,
                    &sub.account.name,
                    &sub.subject,
                    sub.queue.as_deref(),
                    added,
                );
            }
        }
        if let Some(leafnodes) = &self.shared.leafnodes {
            leafnodes.interest(
                &self.shared,
                &sub.account.name,
                &sub.subject,
                sub.queue.as_deref(),
                source,
                added,
            );
        }
    }

    /// A pseudo-random number, for queue member selection and jitter.
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}
