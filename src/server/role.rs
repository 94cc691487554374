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
/// How often a connection busy enough to need no PING gets one anyway, to measure the RTT
/// again (the reference's `DEFAULT_RTT_MEASUREMENT_INTERVAL`).
const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);
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
    /// When our last PING went out (for the RTT), until its PONG.
    sent_at: Option<Instant>,
    /// When our last PING went out, answered or not (the reference's `rttStart`).
    last_sent: Option<Instant>,
    /// Round-trip time measured from our last answered PING, or estimated at CONNECT.
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
            last_sent: None,
            rtt: None,
        }
    }

    /// A client's CONNECT came `rtt` after it was accepted: that is its RTT until a PONG
    /// measures it (as the reference does), so a busy client is not pinged on every
    /// timer just because it never answered one.
    pub fn estimate_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// Whether the ping timer firing at `now` sends a PING (input last came at
    /// `last_read`): when the RTT is still unknown or an hour old, or when neither input
    /// nor a PING of the peer's came within the last `interval`.
    fn wants_ping(&self, now: Instant, last_read: Instant, interval: Duration) -> bool {
        let need_rtt = self.rtt.is_none()
            || self
                .last_sent
                .is_none_or(|t| now.duration_since(t) > RTT_MEASUREMENT_INTERVAL);
        let active = now.duration_since(last_read) < interval;
        let pinged = self
            .last_peer_ping
            .is_some_and(|t| now.duration_since(t) < interval);
        need_rtt || !(active || pinged)
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
        if self.wants_ping(now, last_read, interval) {
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
            self.last_sent = Some(now);
            turn.send(token, PING, "PING");
        }
        self.due = now + interval;
        turn.schedule(token, self.due, TimerKind::Ping);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(120);

    /// A client that publishes all the time and never reads (so never answers a PING) is
    /// pinged once to measure its RTT, then not again for an hour: it does not go stale
    /// after two ping intervals, as the reference keeps it (found by `natsd-bench soak`).
    #[test]
    fn busy_client_is_not_pinged_on_every_timer() {
        let start = Instant::now();
        let mut l = Liveness::new(start);
        l.estimate_rtt(Duration::from_millis(1));
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert!(
            l.wants_ping(at(2), at(2), INTERVAL),
            "the first measures the RTT"
        );
        l.last_sent = Some(at(2));
        for t in [122, 242, 1800, 3600] {
            assert!(!l.wants_ping(at(t), at(t), INTERVAL), "busy at {t} s");
        }
        assert!(l.wants_ping(at(3603), at(3603), INTERVAL), "an hour on");
    }

    /// A quiet connection is pinged on every timer, a connection whose peer pings us is
    /// not, and one without an RTT always is.
    #[test]
    fn quiet_or_unmeasured_connections_are_pinged() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut l = Liveness::new(start);
        assert!(l.wants_ping(at(10), at(10), INTERVAL), "no RTT yet");
        l.estimate_rtt(Duration::from_millis(1));
        l.last_sent = Some(at(10));
        assert!(l.wants_ping(at(130), at(0), INTERVAL), "quiet");
        l.last_peer_ping = Some(at(100));
        assert!(
            !l.wants_ping(at(130), at(0), INTERVAL),
            "the peer pinged us"
        );
    }
}
