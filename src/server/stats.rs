//! Server-wide counters: atomics that reactors add to once per batch and readers sum up.

use std::sync::atomic::{AtomicU64, Ordering};

/// Server-wide message, byte and connection counters.
#[derive(Default)]
pub struct Stats {
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    out_msgs: AtomicU64,
    out_bytes: AtomicU64,
    slow_consumers: AtomicU64,
    total_connections: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub total_connections: u64,
}

impl Stats {
    /// Adds a reactor's batch of counts.
    pub fn add(&self, batch: &Snapshot) {
        let pairs = [
            (&self.in_msgs, batch.in_msgs),
            (&self.in_bytes, batch.in_bytes),
            (&self.out_msgs, batch.out_msgs),
            (&self.out_bytes, batch.out_bytes),
            (&self.slow_consumers, batch.slow_consumers),
            (&self.total_connections, batch.total_connections),
        ];
        for (counter, n) in pairs {
            if n != 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: self.out_msgs.load(Ordering::Relaxed),
            out_bytes: self.out_bytes.load(Ordering::Relaxed),
            slow_consumers: self.slow_consumers.load(Ordering::Relaxed),
            total_connections: self.total_connections.load(Ordering::Relaxed),
        }
    }
}
