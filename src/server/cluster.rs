//! What all reactors share about the cluster: the cluster name, our route INFO, the
//! registered routes by remote server id, and the local interest that routes are told
//! about (RS+/RS-).
//!
//! Interest updates are written into each route's hand-over while the cluster lock is
//! held, so every route sees them in the order they happened; the dump of all interest a
//! new route gets is taken under the same lock at registration.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use super::conn::ConnShared;
use super::dialer::DialQueue;
use super::route_info::RouteInfo;
use super::ServerShared;
use crate::auth::VerifiedPairs;
use crate::options::{Permissions, SubjectPermission};
use crate::permissions::UserPermissions;
use crate::route_url::RouteUrl;
use crate::tls::RouteTls;

/// A registered route, as the cluster sees it.
pub struct RouteEntry {
    pub shared: Arc<ConnShared>,
    pub remote_id: String,
    /// The remote's client URLs (for our clients' `connect_urls`).
    pub connect_urls: Vec<String>,
    /// The remote's leafnode URLs (for our leafs' `leafnode_urls`).
    pub leaf_urls: Vec<String>,
    /// How the route came about and what the peer announced, for `/routez`.
    pub meta: RouteMeta,
}

/// What `/routez` shows about a route besides its connection.
#[derive(Debug, Clone, Default)]
pub struct RouteMeta {
    /// We dialled it.
    pub did_solicit: bool,
    /// It is one of our configured routes.
    pub is_configured: bool,
    /// The URL we dialled.
    pub url: Option<RouteUrl>,
    /// A duplicate of it was closed: when it closes it is dialled once more (if it has a
    /// URL), gossiped or not, since the peer may have kept the connection we closed.
    pub retry: bool,
    /// The permissions the peer announced in its INFO.
    pub import: Option<SubjectPermission>,
    pub export: Option<SubjectPermission>,
}

/// Cluster state behind the cluster lock.
#[derive(Default)]
pub struct ClusterState {
    /// Our cluster name (may change once, when a dynamic name meets another).
    pub name: String,
    pub dynamic: bool,
    /// Registered routes by connection id.
    pub routes: BTreeMap<u64, RouteEntry>,
    /// Local interest by account: `subject` or `subject queue` → number of local
    /// subscriptions.
    interest: HashMap<Box<str>, HashMap<Vec<u8>, u32>>,
    /// Addresses that turned out to be this server (never dialled again).
    pub self_addrs: HashSet<SocketAddr>,
}

impl ClusterState {
    /// The registered route to `server_id`.
    pub fn route_to(&self, server_id: &str) -> Option<&RouteEntry> {
        self.routes.values().find(|r| r.remote_id == server_id)
    }
}

/// The cluster, shared by all reactors and the dialer.
pub struct Cluster {
    state: Mutex<ClusterState>,
    /// Our route INFO without the cluster name (filled in when written).
    pub info: RouteInfo,
    /// Configured routes (dialled for ever; a reload may add and remove some).
    explicit: Mutex<Vec<RouteUrl>>,
    /// This server's client URLs (`host:port`).
    pub own_client_urls: Vec<String>,
    /// Routes waiting to be dialled.
    pub dials: DialQueue,
    /// `cluster.permissions`: which interest we send (import) and accept (export).
    permissions: Option<UserPermissions>,
    /// Route TLS (`cluster.tls`), both ends.
    pub tls: Option<RouteTls>,
    /// Route passwords that matched the configured bcrypt hash: bcrypt runs on the reactor
    /// for a route (routes are few), once per password.
    pub verified_passwords: VerifiedPairs,
}

impl Cluster {
    pub fn new(
        info: RouteInfo,
        name: String,
        dynamic: bool,
        explicit: Vec<RouteUrl>,
        own_client_urls: Vec<String>,
        tls: Option<RouteTls>,
    ) -> Self {
        let permissions = match (&info.import, &info.export) {
            (None, None) => None,
            (import, export) => Some(UserPermissions::new(&Permissions {
                publish: import.clone(),
                subscribe: export.clone(),
                allow_responses: None,
            })),
        };
        Cluster {
            state: Mutex::new(ClusterState {
                name,
                dynamic,
                ..ClusterState::default()
            }),
            info,
            explicit: Mutex::new(explicit),
            own_client_urls,
            dials: DialQueue::default(),
            permissions,
            tls,
            verified_passwords: VerifiedPairs::default(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, ClusterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Our route INFO as it goes out now (with the current cluster name).
    pub fn current_info(&self) -> RouteInfo {
        let state = self.lock();
        RouteInfo {
            cluster: state.name.clone(),
            cluster_dynamic: state.dynamic,
            ..self.info.clone()
        }
    }

    /// Whether we tell routes about local interest in `subject` (`import`: we take the
    /// messages).
    pub fn can_import(&self, subject: &[u8]) -> bool {
        self.permissions
            .as_ref()
            .is_none_or(|p| p.can_publish(subject))
    }

    /// Whether we accept a route's interest in `subject` (`export`: we send the messages).
    pub fn can_export(&self, subject: &[u8]) -> bool {
        self.permissions
            .as_ref()
            .is_none_or(|p| p.can_subscribe(subject, None))
    }

    /// Whether `url` is one of the configured routes.
    pub fn is_explicit(&self, url: &RouteUrl) -> bool {
        self.configured().iter().any(|e| e.same_server(url))
    }

    /// The configured routes.
    pub fn configured(&self) -> Vec<RouteUrl> {
        self.explicit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a reloaded list of configured routes in force: returns the routes added (to
    /// dial) and the registered routes we dialled to the removed ones (to close).
    pub fn reconfigure(
        &self,
        routes: Vec<RouteUrl>,
    ) -> (Vec<RouteUrl>, Vec<(Arc<ConnShared>, RouteUrl)>) {
        let old = std::mem::replace(
            &mut *self.explicit.lock().unwrap_or_else(|e| e.into_inner()),
            routes.clone(),
        );
        let added = routes
            .iter()
            .filter(|r| !old.iter().any(|o| o.same_server(r)))
            .cloned()
            .collect();
        let removed: Vec<RouteUrl> = old
            .into_iter()
            .filter(|o| !routes.iter().any(|r| r.same_server(o)))
            .collect();
        let state = self.lock();
        let to_close = state
            .routes
            .values()
            .filter_map(|r| {
                let url = r.meta.url.as_ref()?;
                let gone = removed.iter().find(|u| u.same_server(url))?;
                Some((r.shared.clone(), gone.clone()))
            })
            .collect();
        (added, to_close)
    }

    /// A local subscription on `subject` (in `queue`) came (`added`) or went: tells every
    /// route when the interest changes (plain: first and last; queue: every weight change).
    pub fn local_interest(
        &self,
        server: &ServerShared,
        account: &str,
        subject: &[u8],
        queue: Option<&[u8]>,
        added: bool,
    ) {
        if !self.can_import(subject) {
            return;
        }
        let mut state = self.lock();
        let key = interest_key(subject, queue);
        if !state.interest.contains_key(account) {
            state.interest.insert(account.into(), HashMap::new());
        }
        let Some(interest) = state.interest.get_mut(account) else {
            return;
        };
        let count = interest.entry(key.clone()).or_insert(0);
        let before = *count;
        *count = if added {
            before + 1
        } else {
            before.saturating_sub(1)
        };
        let after = *count;
        if after == 0 {
            interest.remove(&key);
        }
        let account = account.as_bytes();
        let line = match (queue, before, after) {
            (_, b, a) if b == a => return,
            (None, 0, _) | (Some(_), _, 1..) => interest_line(account, subject, queue, after),
            (_, _, 0) => removal_line(account, subject, queue),
            _ => return,
        };
        for route in state.routes.values() {
            super::handover::send(server, &route.shared, &line);
        }
    }

    /// Registers a route whose INFO arrived: `Err` with the existing route's id when the
    /// server is already connected (a duplicate). On success returns the RS+ dump to send
    /// it first and the other routes (to tell them about the newcomer).
    pub fn register(
        &self,
        shared: &Arc<ConnShared>,
        remote_id: &str,
        urls: PeerUrls,
        meta: RouteMeta,
    ) -> Result<Registered, ()> {
        let mut state = self.lock();
        if state.route_to(remote_id).is_some() {
            return Err(());
        }
        let mut dump = Vec::new();
        for (account, interest) in &state.interest {
            for (key, count) in interest {
                let (subject, queue) = split_key(key);
                let line = interest_line(account.as_bytes(), subject, queue, *count);
                dump.extend_from_slice(&line);
            }
        }
        let others = state.routes.values().map(|r| r.shared.clone()).collect();
        state.routes.insert(
            shared.cid,
            RouteEntry {
                shared: shared.clone(),
                remote_id: remote_id.to_string(),
                connect_urls: urls.clients,
                leaf_urls: urls.leafs,
                meta,
            },
        );
        Ok(Registered { dump, others })
    }

    /// Forgets a closed route; returns it if it was registered.
    pub fn unregister(&self, cid: u64) -> Option<RouteEntry> {
        self.lock().routes.remove(&cid)
    }

    /// A route to `remote_id` arrived while one is registered and is closed as a duplicate:
    /// the registered one is marked to be dialled again when it closes, and takes over the
    /// duplicate's `dial` (its URL, and whether it is a configured one) if it has none.
    /// When two servers dial each other at once, each may keep the connection the other
    /// closes; without this neither would dial again (nats-server's `addRoute` upgrades the
    /// kept route "to solicited" and sets its `retry` likewise).
    pub fn keep_over_duplicate(&self, remote_id: &str, dial: Option<(&RouteUrl, bool)>) {
        let mut state = self.lock();
        let Some(route) = state.routes.values_mut().find(|r| r.remote_id == remote_id) else {
            return;
        };
        route.meta.retry = true;
        if let Some((url, explicit)) = dial {
            if !route.meta.did_solicit {
                route.meta.did_solicit = true;
                route.meta.url = Some(url.clone());
            }
            route.meta.is_configured |= explicit;
        }
    }

    /// Stops advertising the client URLs of route `cid`'s server (lame duck mode).
    pub fn forget_client_urls(&self, cid: u64) {
        if let Some(route) = self.lock().routes.get_mut(&cid) {
            route.connect_urls.clear();
        }
    }

    /// Open routes.
    pub fn route_count(&self) -> usize {
        self.lock().routes.len()
    }

    /// The registered routes: connection, remote id and details.
    pub fn routes(&self) -> Vec<(Arc<ConnShared>, String, RouteMeta)> {
        let state = self.lock();
        state
            .routes
            .values()
            .map(|r| (r.shared.clone(), r.remote_id.clone(), r.meta.clone()))
            .collect()
    }

    /// Our configured permissions (`import`, `export`).
    pub fn permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
        (self.info.import.clone(), self.info.export.clone())
    }

    /// Leafnode URLs of every registered route's server, for leafs' `leafnode_urls`.
    pub fn peer_leaf_urls(&self) -> Vec<String> {
        let state = self.lock();
        state
            .routes
            .values()
            .flat_map(|r| r.leaf_urls.iter().cloned())
            .collect()
    }

    /// Client URLs of every registered route's server, for clients' `connect_urls`.
    pub fn peer_client_urls(&self) -> Vec<String> {
        let state = self.lock();
        state
            .routes
            .values()
            .flat_map(|r| r.connect_urls.iter().cloned())
            .collect()
    }
}

/// What a route's server offers: its client URLs and its leafnode URLs.
pub struct PeerUrls {
    pub clients: Vec<String>,
    pub leafs: Vec<String>,
}

/// What a newly registered route needs.
pub struct Registered {
    /// RS+ lines for all local interest.
    pub dump: Vec<u8>,
    /// The routes registered before it.
    pub others: Vec<Arc<ConnShared>>,
}

/// `subject` or `subject queue`: how interest is keyed (routes and leaf links alike).
pub(super) fn interest_key(subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut key = subject.to_vec();
    if let Some(queue) = queue {
        key.push(b' ');
        key.extend_from_slice(queue);
    }
    key
}

/// The subject and queue of an [`interest_key`].
pub(super) fn split_key(key: &[u8]) -> (&[u8], Option<&[u8]>) {
    match key.iter().position(|&b| b == b' ') {
        Some(i) => (&key[..i], Some(&key[i + 1..])),
        None => (key, None),
    }
}

/// `RS+ <account> subject\r\n` or `RS+ <account> subject queue weight\r\n`.
fn interest_line(account: &[u8], subject: &[u8], queue: Option<&[u8]>, weight: u32) -> Vec<u8> {
    let mut line = b"RS+ ".to_vec();
    line.extend_from_slice(account);
    line.push(b' ');
    line.extend_from_slice(subject);
    if let Some(queue) = queue {
        line.push(b' ');
        line.extend_from_slice(queue);
        line.extend_from_slice(format!(" {weight}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// `RS- <account> subject [queue]\r\n`.
fn removal_line(account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut line = b"RS- ".to_vec();
    line.extend_from_slice(account);
    line.push(b' ');
    line.extend_from_slice(&interest_key(subject, queue));
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_lines() {
        assert_eq!(interest_line(b"$G", b"foo", None, 1), b"RS+ $G foo\r\n");
        assert_eq!(
            interest_line(b"A", b"foo", Some(b"q"), 3),
            b"RS+ A foo q 3\r\n"
        );
        assert_eq!(removal_line(b"B", b"foo", Some(b"q")), b"RS- B foo q\r\n");
        assert_eq!(split_key(b"foo q"), (&b"foo"[..], Some(&b"q"[..])));
        assert_eq!(split_key(b"foo"), (&b"foo"[..], None));
    }
}
