//! What a connection role provides to the reactor ([`Role`]: its parser, its handling of
//! each operation, its timers and its teardown), and what every role shares: liveness
//! ([`Liveness`]: PING/PONG, stale connections). The roles are `client` and `route`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;

use super::conn::{CloseReason, ConnShared};
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::proto::{Frame, Parser};

const PING: &[u8] = b"PING\r\n";
const PONG: &[u8] = b"PONG\r\n";

/// What a connection role provides to the reactor.
pub trait Role {
    /// The connection's shared face (its id, token, log prefix).
    fn shared(&self) -> &Arc<ConnShared>;
    /// The role's parser (its mode decides which operations exist).
    fn parser(&mut self) -> &mut Parser;
    /// The most input an incomplete operation may hold.
    fn max_held_input(&self, settings: &Settings) -> usize;
    /// Runs one parsed operation.
    fn on_frame(&mut self, frame: Frame<'_>, turn: &mut Turn);
    /// Checked before each operation with its first byte: false when the session refused
    /// the input (it has asked to close).
    fn admits(&mut self, _first: u8, _turn: &mut Turn) -> bool {
        true
    }
    /// The input ended inside an operation, which starts at `pending[0]` (the reference
    /// answers some operations before they are complete).
    fn on_incomplete(&mut self, _pending: &[u8], _turn: &mut Turn) {}
    /// The operation that starts at `pending[0]` failed to parse; the error is answered
    /// next (the reference answers some operations before their end fails).
    fn on_parse_error(&mut self, _pending: &[u8], _turn: &mut Turn) {}
    /// Input waits (e.g. behind a password check).
    fn holds_input(&self) -> bool {
        false
    }
    /// PING/PONG state.
    fn liveness(&mut self) -> &mut Liveness;
    /// The auth timer fired.
    fn on_auth_timeout(&mut self, turn: &mut Turn);
    /// The connection is being torn down (its output is flushed; the socket closes next).
    fn closed(self, reason: CloseReason, turn: &mut Turn);
}

/// Server PINGs, the peer's PINGs and PONGs, and the round-trip time.
pub struct Liveness {
    /// When the ping timer should next fire.
    due: Instant,
    /// PINGs sent and not yet answered.
    outstanding: u32,
    /// Last time the peer sent us a PING.
    last_peer_ping: Option<Instant>,
    /// When our last PING went out (for the RTT).
    sent_at: Option<Instant>,
    /// Round-trip time measured from our last answered PING.
    rtt: Option<Duration>,
}

impl Liveness {
    /// The first PING is due at `due` (the caller schedules its timer).
    pub fn new(due: Instant) -> Self {
        Liveness {
            due,
            outstanding: 0,
            last_peer_ping: None,
            sent_at: None,
            rtt: None,
        }
    }

    /// Moves the next PING to `due` (the caller schedules its timer).
    pub fn reschedule(&mut self, due: Instant) {
        self.due = due;
    }

    /// The peer sent PING: answer PONG.
    pub fn on_ping(&mut self, token: usize, turn: &mut Turn) {
        self.last_peer_ping = Some(Instant::now());
        turn.send(token, PONG, "PONG");
    }

    /// The peer answered our PING: measure the round trip.
    pub fn on_pong(&mut self, shared: &ConnShared) {
        self.outstanding = 0;
        if let Some(sent) = self.sent_at.take() {
            let rtt = sent.elapsed();
            self.rtt = Some(rtt);
            shared.activity.set_rtt(rtt);
        }
    }

    /// The ping timer: send a PING (unless the connection proved alive lately), or close
    /// a connection that left too many unanswered. `last_read` is when input last came.
    pub fn on_timer(&mut self, token: usize, now: Instant, last_read: Instant, turn: &mut Turn) {
        if self.due > now {
            return; // superseded by a later schedule
        }
        let interval = turn.settings.opts.ping_interval;
        let measured = self.rtt.is_some();
        let active = now.duration_since(last_read) < interval;
        let pinged = self
            .last_peer_ping
            .is_some_and(|t| now.duration_since(t) < interval);
        if !(measured && (active || pinged)) {
            if self.outstanding + 1 > turn.settings.opts.ping_max {
                debug!(
                    "{}Stale Client Connection - Closing",
                    turn.outputs[token].shared.prefix()
                );
                turn.send_err_and_close(token, "Stale Connection", CloseReason::StaleConnection);
                return;
            }
            self.outstanding += 1;
            self.sent_at = Some(now);
            turn.send(token, PING, "PING");
        }
        self.due = now + interval;
        turn.schedule(token, self.due, TimerKind::Ping);
    }
}
