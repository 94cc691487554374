//! What the monitor can see of a client connection: its counters and last activity
//! ([`Activity`]), its CONNECT details ([`ConnMeta`]), its subscriptions ([`SubTable`]), and
//! the plain snapshot `/connz` is built from ([`ConnInfo`]), kept for closed connections in
//! a [`ClosedRing`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::conn::{ConnShared, Role, SubRef};

/// Closed connections remembered for `/connz?state=closed` (the reference's fixed size).
pub const CLOSED_CONNECTIONS: usize = 10_000;

/// Nanoseconds since the Unix epoch (0 before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The instant `unix_nanos` stands for.
pub fn from_unix_nanos(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A connection's message counters, last activity and round-trip time: written by the
/// reactors once per batch, read by the monitor.
#[derive(Default)]
pub struct Activity {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    /// Last message, subscription change or delivery (Unix nanoseconds).
    pub last: AtomicU64,
    /// Last measured round-trip time in nanoseconds (0: not measured yet).
    pub rtt: AtomicU64,
}

impl Activity {
    /// Adds a batch of counts; `now` becomes the last activity.
    pub fn add(&self, counts: &Counts, now: u64) {
        let pairs = [
            (&self.in_msgs, counts.in_msgs),
            (&self.in_bytes, counts.in_bytes),
            (&self.out_msgs, counts.out_msgs),
            (&self.out_bytes, counts.out_bytes),
        ];
        for (counter, n) in pairs {
            if n != 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.last.store(now, Ordering::Relaxed);
    }

    pub fn set_rtt(&self, rtt: Duration) {
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.rtt.store(nanos, Ordering::Relaxed);
    }
}

/// Counts a reactor gathers for one connection during a turn, before adding them to its
/// [`Activity`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// A subscription changed or CONNECT arrived: activity without a message.
    pub touched: bool,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// CONNECT details and TLS parameters, set once they are known.
#[derive(Debug, Default, Clone)]
pub struct ConnMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    /// CONNECT `user`.
    pub user: String,
    /// CONNECT `user`, else the token (the reference's `authorized_user`).
    pub authorized_user: String,
    pub tls_version: &'static str,
    pub tls_cipher: &'static str,
    /// The certificates the client presented, leaf first (`/connz?auth=1`).
    pub tls_peer_certs: Vec<TlsPeerCert>,
}

/// A client certificate as `/connz?auth=1` shows it (the reference's `TLSPeerCert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPeerCert {
    /// The subject, as Go prints a distinguished name.
    pub subject: String,
    /// SHA-256 of the subjectPublicKeyInfo, hex.
    pub spki_sha256: String,
    /// SHA-256 of the whole certificate, hex.
    pub cert_sha256: String,
}

impl TlsPeerCert {
    /// The summary of one DER certificate (a certificate natsd cannot read keeps only its
    /// hash).
    pub fn of(der: &[u8]) -> TlsPeerCert {
        let read = crate::x509::Certificate::from_der(der).ok();
        TlsPeerCert {
            subject: read
                .as_ref()
                .map(|c| c.subject_string())
                .unwrap_or_default(),
            spki_sha256: read
                .as_ref()
                .map(|c| sha256_hex(&c.public_key_info))
                .unwrap_or_default(),
            cert_sha256: sha256_hex(der),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A connection's subscriptions by sid. The owner reactor changes it on SUB/UNSUB; a
/// reactor that delivers a subscription's last message removes it; the monitor lists it.
#[derive(Default)]
pub struct SubTable(Mutex<HashMap<Box<[u8]>, SubRef>>);

impl SubTable {
    pub fn lock(&self) -> MutexGuard<'_, HashMap<Box<[u8]>, SubRef>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The subscription with this sid.
    pub fn get(&self, sid: &[u8]) -> Option<SubRef> {
        self.lock().get(sid).cloned()
    }

    /// Removes the subscription with this sid, if it is still `sub`.
    pub fn remove_if(&self, sub: &SubRef) {
        let mut subs = self.lock();
        if subs.get(&sub.sid).is_some_and(|s| s == sub) {
            subs.remove(&sub.sid);
        }
    }

    /// How many subscriptions are live (not waiting out a used-up auto-unsubscribe limit).
    pub fn live(&self) -> usize {
        self.lock().values().filter(|s| !s.is_exhausted()).count()
    }

    /// The live subscriptions, described for the monitor.
    pub fn describe(&self) -> Vec<SubInfo> {
        let mut subs: Vec<SubInfo> = self
            .lock()
            .values()
            .filter(|s| !s.is_exhausted())
            .map(SubInfo::of)
            .collect();
        subs.sort_by(|a, b| a.sid.cmp(&b.sid));
        subs
    }
}

/// One subscription as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubInfo {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    /// Messages delivered to it.
    pub msgs: u64,
    /// Auto-unsubscribe limit (0: none).
    pub max: u64,
    pub cid: u64,
    /// The account whose sublist holds it.
    pub account: Arc<str>,
}

impl SubInfo {
    pub fn of(sub: &SubRef) -> SubInfo {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        SubInfo {
            account: sub.account.name.clone(),
            subject: text(&sub.subject),
            queue: sub.queue.as_deref().map(text),
            sid: text(&sub.sid),
            msgs: sub.delivered.load(Ordering::Relaxed),
            max: sub.max.load(Ordering::Relaxed),
            cid: sub.conn.cid,
        }
    }
}

/// A client connection at one moment, open or closed.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub cid: u64,
    /// `/connz` `kind`: `Client`, `Router` or `Leafnode`.
    pub kind: &'static str,
    pub ip: IpAddr,
    pub port: u16,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    /// When and why it closed (closed connections only).
    pub closed: Option<(SystemTime, &'static str)>,
    pub rtt: Duration,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    /// The account the client is bound to (`None` before CONNECT bound it).
    pub account: Option<Arc<str>>,
    pub meta: ConnMeta,
    /// The subscriptions, when asked for (always kept for closed connections).
    pub subs: Vec<SubInfo>,
}

impl ConnShared {
    /// This connection now; its subscriptions listed when `with_subs`.
    pub fn info(&self, with_subs: bool) -> ConnInfo {
        let activity = &self.activity;
        let subs = if with_subs {
            self.subs.describe()
        } else {
            Vec::new()
        };
        ConnInfo {
            cid: self.cid,
            kind: match self.role {
                Role::Client => "Client",
                Role::Route => "Router",
                Role::Leaf => "Leafnode",
            },
            ip: self.addr.ip(),
            port: self.addr.port(),
            start: self.start,
            last_activity: from_unix_nanos(activity.last.load(Ordering::Relaxed)),
            closed: None,
            rtt: Duration::from_nanos(activity.rtt.load(Ordering::Relaxed)),
            pending_bytes: self.pending_estimate() as u64,
            in_msgs: activity.in_msgs.load(Ordering::Relaxed),
            out_msgs: activity.out_msgs.load(Ordering::Relaxed),
            in_bytes: activity.in_bytes.load(Ordering::Relaxed),
            out_bytes: activity.out_bytes.load(Ordering::Relaxed),
            subscriptions: if with_subs {
                subs.len()
            } else {
                self.subs.live()
            },
            account: self.account().map(|a| a.name.clone()),
            meta: self.meta.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            subs,
        }
    }
}

/// The last [`CLOSED_CONNECTIONS`] closed client connections, oldest first.
#[derive(Default)]
pub struct ClosedRing(Mutex<VecDeque<Arc<ConnInfo>>>);

impl ClosedRing {
    pub fn push(&self, mut info: ConnInfo) {
        // A record is kept long: no spare capacity (a one-subscription list has room for 4).
        info.subs.shrink_to_fit();
        let mut ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == CLOSED_CONNECTIONS {
            ring.pop_front();
        }
        ring.push_back(Arc::new(info));
    }

    /// The remembered connections, oldest first.
    pub fn list(&self) -> Vec<Arc<ConnInfo>> {
        let ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(cid: u64) -> ConnInfo {
        ConnInfo {
            cid,
            kind: "Client",
            ip: IpAddr::from([0, 0, 0, 0]),
            port: 0,
            start: UNIX_EPOCH,
            last_activity: UNIX_EPOCH,
            closed: Some((UNIX_EPOCH, "Client Closed")),
            rtt: Duration::ZERO,
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            subscriptions: 0,
            account: None,
            meta: ConnMeta::default(),
            subs: Vec::new(),
        }
    }

    #[test]
    fn ring_keeps_the_newest_ten_thousand() {
        let ring = ClosedRing::default();
        for cid in 1..=(CLOSED_CONNECTIONS as u64 + 5) {
            ring.push(closed(cid));
        }
        let list = ring.list();
        assert_eq!(list.len(), CLOSED_CONNECTIONS);
        assert_eq!(list[0].cid, 6);
        assert_eq!(
            list.last().map(|c| c.cid),
            Some(CLOSED_CONNECTIONS as u64 + 5)
        );
    }

    #[test]
    fn activity_adds_counts_and_marks_time() {
        let activity = Activity::default();
        let counts = Counts {
            in_msgs: 2,
            in_bytes: 10,
            ..Counts::default()
        };
        activity.add(&counts, 42);
        activity.add(&counts, 43);
        assert_eq!(activity.in_msgs.load(Ordering::Relaxed), 4);
        assert_eq!(activity.in_bytes.load(Ordering::Relaxed), 20);
        assert_eq!(activity.out_msgs.load(Ordering::Relaxed), 0);
        assert_eq!(activity.last.load(Ordering::Relaxed), 43);
        activity.set_rtt(Duration::ZERO);
        assert_eq!(
            activity.rtt.load(Ordering::Relaxed),
            1,
            "a measured RTT is never 0"
        );
    }

    #[test]
    fn unix_nanos_round_trips() {
        let t = UNIX_EPOCH + Duration::new(1_764_000_000, 123);
        assert_eq!(from_unix_nanos(unix_nanos(t)), t);
    }
}
