//! A reactor's timers: one heap of (deadline, connection, kind), validated lazily.
//!
//! Entries are never cancelled: when one fires, the reactor checks the connection is still
//! the same (`cid`) and that the deadline still applies, so rescheduling is just pushing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Server PING / stale connection check.
    Ping,
    /// End of a flow-control pause: read the connection again.
    Resume,
    /// A blocked write may have outlived the write deadline.
    WriteDeadline,
    /// The client had this long to send CONNECT with valid credentials.
    AuthTimeout,
    /// The client had this long to complete the TLS handshake.
    TlsTimeout,
}

/// One scheduled timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub at: Instant,
    pub token: usize,
    pub cid: u64,
    pub kind: TimerKind,
}

/// The heap of a reactor's timers.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    /// Schedules a timer.
    pub fn schedule(&mut self, timer: Timer) {
        self.heap.push(Reverse(timer));
    }

    /// Time until the earliest timer, if any (zero when one is already due).
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse(t)| t.at.saturating_duration_since(now))
    }

    /// Removes and returns the earliest timer if it is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse(t)) if t.at <= now => self.heap.pop().map(|Reverse(t)| t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_order() {
        let now = Instant::now();
        let mut timers = Timers::default();
        let at = |ms| now + Duration::from_millis(ms);
        for (ms, token) in [(30, 3), (10, 1), (20, 2)] {
            timers.schedule(Timer {
                at: at(ms),
                token,
                cid: token as u64,
                kind: TimerKind::Ping,
            });
        }
        assert_eq!(timers.next_timeout(now), Some(Duration::from_millis(10)));
        assert!(timers.pop_due(now).is_none());
        let fired: Vec<usize> = std::iter::from_fn(|| timers.pop_due(at(25)))
            .map(|t| t.token)
            .collect();
        assert_eq!(fired, vec![1, 2]);
        assert_eq!(timers.next_timeout(at(40)), Some(Duration::ZERO));
    }
}
