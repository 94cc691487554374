//! The read-only face of a running server for the monitor: settings in force, counters,
//! connections open and closed, subscriptions and match-cache statistics. Reading never
//! stops a reactor: counters are atomics, the registries are copied out under short locks.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::cluster::RouteMeta;
use super::conn_info::{ConnInfo, SubInfo};
use super::settings::Settings;
use super::stats::Snapshot;
use super::ServerShared;
use crate::options::SubjectPermission;
use crate::sublist::{CacheStats, SublistTotals};

/// A cheap, cloneable handle on a running server's observable state.
#[derive(Clone)]
pub struct ServerView {
    shared: Arc<ServerShared>,
    client_addr: SocketAddr,
}

/// A route as `/routez` shows it.
pub struct RouteView {
    /// The connection (its id is the route id; subscriptions are the remote interest).
    pub conn: ConnInfo,
    pub remote_id: String,
    pub meta: RouteMeta,
}

/// Sublist totals and the reactors' match caches summed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriptionStats {
    pub totals: SublistTotals,
    pub caches: CacheStats,
}

impl ServerView {
    pub(super) fn new(shared: Arc<ServerShared>, client_addr: SocketAddr) -> Self {
        ServerView {
            shared,
            client_addr,
        }
    }

    /// The options and INFO template in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.shared.settings.current()
    }

    /// The address the client listener is bound to.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// When the server started.
    pub fn started(&self) -> SystemTime {
        self.shared.started
    }

    /// Reactor threads.
    pub fn reactors(&self) -> usize {
        self.shared.reactors.len()
    }

    /// Message, byte and connection counters.
    pub fn stats(&self) -> Snapshot {
        self.shared.stats.snapshot()
    }

    /// Open routes (each to a distinct server).
    pub fn route_count(&self) -> usize {
        self.shared.cluster.as_ref().map_or(0, |c| c.route_count())
    }

    /// The registered routes in id order, with their remote interest when `with_subs`.
    pub fn routes(&self, with_subs: bool) -> Vec<RouteView> {
        let Some(cluster) = &self.shared.cluster else {
            return Vec::new();
        };
        let mut routes: Vec<RouteView> = cluster
            .routes()
            .into_iter()
            .map(|(shared, remote_id, meta)| RouteView {
                conn: shared.info(with_subs),
                remote_id,
                meta,
            })
            .collect();
        routes.sort_by_key(|r| r.conn.cid);
        routes
    }

    /// This server's route permissions (`import`, `export`).
    pub fn route_permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
        self.shared
            .cluster
            .as_ref()
            .map_or((None, None), |c| c.permissions())
    }

    /// The cluster name, when clustered.
    pub fn cluster_name(&self) -> Option<String> {
        self.shared.cluster.as_ref().map(|c| c.lock().name.clone())
    }

    /// The client URLs of this server and its cluster peers, when clustered.
    pub fn connect_urls(&self) -> Vec<String> {
        match &self.shared.cluster {
            Some(_) => self.shared.connect_urls(),
            None => Vec::new(),
        }
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.shared.clients().len()
    }

    /// The open client connections in id order, with their subscriptions when `with_subs`.
    pub fn open_clients(&self, with_subs: bool) -> Vec<ConnInfo> {
        let conns: Vec<_> = self.shared.clients().values().cloned().collect();
        conns.iter().map(|c| c.info(with_subs)).collect()
    }

    /// The open client connection `cid`, if there is one.
    pub fn open_client(&self, cid: u64, with_subs: bool) -> Option<ConnInfo> {
        let conn = self.shared.clients().get(&cid).cloned();
        conn.map(|c| c.info(with_subs))
    }

    /// The remembered closed client connections, oldest first.
    pub fn closed_clients(&self) -> Vec<Arc<ConnInfo>> {
        self.shared.closed.list()
    }

    /// Every client subscription.
    pub fn subscriptions(&self) -> Vec<SubInfo> {
        let conns: Vec<_> = self.shared.clients().values().cloned().collect();
        conns.iter().flat_map(|c| c.subs.describe()).collect()
    }

    /// Sublist totals and match-cache statistics of all reactors.
    pub fn subscription_stats(&self) -> SubscriptionStats {
        let mut caches = CacheStats::default();
        for reactor in &self.shared.reactors {
            let cache = reactor.cache_stats();
            caches.entries += cache.entries;
            caches.hits += cache.hits;
            caches.misses += cache.misses;
            caches.max_fanout = caches.max_fanout.max(cache.max_fanout);
            caches.fanout_sum += cache.fanout_sum;
        }
        SubscriptionStats {
            totals: self.shared.sublist.totals(),
            caches,
        }
    }

    /// Whether the server is accepting clients (not in lame duck mode, not shutting down).
    pub fn is_ready(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire) && !self.shared.is_shutting_down()
    }
}
