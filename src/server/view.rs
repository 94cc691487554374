//! The read-only face of a running server for the monitor: settings in force, counters,
//! connections open and closed, subscriptions and match-cache statistics. Reading never
//! stops a reactor: counters are atomics, the registries are copied out under short locks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::account::Account;
use super::cluster::RouteMeta;
use super::conn_info::{ConnInfo, SubInfo};
use super::service::PendingResponse;
use super::settings::Settings;
use super::stats::Snapshot;
use super::ServerShared;
use crate::options::SubjectPermission;
use crate::sublist::{CacheStats, SublistTotals};

/// A cheap, cloneable handle on a running server's observable state.
#[derive(Clone)]
pub struct LiveView {
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

/// A leafnode link as `/leafz` shows it.
pub struct LeafView {
    /// The connection (its subscriptions are the peer's interest, keyed `subject [queue]`).
    pub conn: ConnInfo,
    /// The account the link is bound to.
    pub account: Arc<str>,
    /// We dialled it (the peer is our hub).
    pub solicited: bool,
}

/// Sublist totals and the reactors' match caches summed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriptionStats {
    pub totals: SublistTotals,
    pub caches: CacheStats,
}

/// Messages and their payload bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub msgs: u64,
    pub bytes: u64,
}

/// An account as the monitor sees it (`/accountz`, `/accstatz`, the `acc` filters of
/// `/connz` and `/subsz`). What the configuration says of it is in the settings.
#[derive(Debug, Clone)]
pub struct AccountSnapshot {
    pub name: Arc<str>,
    /// When it was last (re)configured.
    pub updated: SystemTime,
    /// Local client connections bound to it.
    pub clients: usize,
    /// Its sublist's totals (client, route and internal subscriptions).
    pub subscriptions: SublistTotals,
    /// What its clients published.
    pub received: Traffic,
    /// What was delivered to its clients.
    pub sent: Traffic,
    /// Requests through its service exports still waiting for responses.
    pub responses: Vec<PendingResponse>,
}

impl AccountSnapshot {
    fn of(account: &Account) -> AccountSnapshot {
        let activity = &account.activity;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        AccountSnapshot {
            name: account.name.clone(),
            updated: account.updated(),
            clients: account.clients.load(Ordering::Relaxed),
            responses: account.responses.list(),
            subscriptions: account.sublist.totals(),
            received: Traffic {
                msgs: load(&activity.in_msgs),
                bytes: load(&activity.in_bytes),
            },
            sent: Traffic {
                msgs: load(&activity.out_msgs),
                bytes: load(&activity.out_bytes),
            },
        }
    }
}

/// What the monitor may read of a running server: settings in force, counters,
/// connections open and closed, routes, subscriptions. The server provides [`LiveView`];
/// tests may fake it.
pub trait ServerView: Send + Sync {
    /// The options and INFO template in force.
    fn settings(&self) -> Arc<Settings>;

    /// The address the client listener is bound to.
    fn client_addr(&self) -> SocketAddr;

    /// When the server started.
    fn started(&self) -> SystemTime;

    /// Reactor threads.
    fn reactors(&self) -> usize;

    /// Message, byte and connection counters.
    fn stats(&self) -> Snapshot;

    /// Open routes (each to a distinct server).
    fn route_count(&self) -> usize;

    /// The registered routes in id order, with their remote interest when `with_subs`.
    fn routes(&self, with_subs: bool) -> Vec<RouteView>;

    /// This server's route permissions (`import`, `export`).
    fn route_permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>);

    /// The cluster name, when clustered.
    fn cluster_name(&self) -> Option<String>;

    /// The client URLs of this server and its cluster peers, when clustered.
    fn connect_urls(&self) -> Vec<String>;

    /// Clients connected now.
    fn client_count(&self) -> usize;

    /// The open client connections in id order, with their subscriptions when `with_subs`.
    fn open_clients(&self, with_subs: bool) -> Vec<ConnInfo>;

    /// The open client connection `cid`, if there is one.
    fn open_client(&self, cid: u64, with_subs: bool) -> Option<ConnInfo>;

    /// The remembered closed client connections, oldest first.
    fn closed_clients(&self) -> Vec<Arc<ConnInfo>>;

    /// Every client subscription.
    fn subscriptions(&self) -> Vec<SubInfo>;

    /// Sublist totals and match-cache statistics of all reactors.
    fn subscription_stats(&self) -> SubscriptionStats;

    /// Whether the server is accepting clients (not in lame duck mode, not shutting down).
    fn is_ready(&self) -> bool;

    /// The system account's name, unless there is none (`no_system_account`).
    fn system_account(&self) -> Option<String>;

    /// Every account, in the order they were created (`$G` first).
    fn accounts(&self) -> Vec<AccountSnapshot>;

    /// Open leafnode links, both roles, in id order, with their interest when `with_subs`.
    fn leafs(&self, with_subs: bool) -> Vec<LeafView>;

    /// The address the leafnode listener is bound to (a hub).
    fn leaf_addr(&self) -> Option<SocketAddr>;
}

impl LiveView {
    pub(super) fn new(shared: Arc<ServerShared>, client_addr: SocketAddr) -> Self {
        LiveView {
            shared,
            client_addr,
        }
    }
}

impl ServerView for LiveView {
    fn settings(&self) -> Arc<Settings> {
        self.shared.settings.current()
    }

    fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    fn started(&self) -> SystemTime {
        self.shared.started
    }

    fn reactors(&self) -> usize {
        self.shared.reactors.len()
    }

    fn stats(&self) -> Snapshot {
        self.shared.stats.snapshot()
    }

    fn route_count(&self) -> usize {
        self.shared.cluster.as_ref().map_or(0, |c| c.route_count())
    }

    fn routes(&self, with_subs: bool) -> Vec<RouteView> {
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

    fn route_permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
        self.shared
            .cluster
            .as_ref()
            .map_or((None, None), |c| c.permissions())
    }

    fn cluster_name(&self) -> Option<String> {
        self.shared.cluster.as_ref().map(|c| c.lock().name.clone())
    }

    fn connect_urls(&self) -> Vec<String> {
        match &self.shared.cluster {
            Some(_) => self.shared.connect_urls(),
            None => Vec::new(),
        }
    }

    fn client_count(&self) -> usize {
        self.shared.clients().len()
    }

    fn open_clients(&self, with_subs: bool) -> Vec<ConnInfo> {
        let conns: Vec<_> = self.shared.clients().values().cloned().collect();
        conns.iter().map(|c| c.info(with_subs)).collect()
    }

    fn open_client(&self, cid: u64, with_subs: bool) -> Option<ConnInfo> {
        let conn = self.shared.clients().get(&cid).cloned();
        conn.map(|c| c.info(with_subs))
    }

    fn closed_clients(&self) -> Vec<Arc<ConnInfo>> {
        self.shared.closed.list()
    }

    fn subscriptions(&self) -> Vec<SubInfo> {
        let conns: Vec<_> = self.shared.clients().values().cloned().collect();
        conns.iter().flat_map(|c| c.subs.describe()).collect()
    }

    fn subscription_stats(&self) -> SubscriptionStats {
        let mut caches = CacheStats::default();
        for reactor in &self.shared.reactors {
            caches.add(&reactor.cache_stats());
        }
        let mut totals = SublistTotals::default();
        for account in self.shared.accounts.all() {
            totals.add(&account.sublist.totals());
        }
        SubscriptionStats { totals, caches }
    }

    fn system_account(&self) -> Option<String> {
        self.shared.accounts.system_name().map(str::to_string)
    }

    fn accounts(&self) -> Vec<AccountSnapshot> {
        let mut accounts = self.shared.accounts.all();
        accounts.sort_by_key(|a| a.index);
        accounts.iter().map(|a| AccountSnapshot::of(a)).collect()
    }

    fn leafs(&self, with_subs: bool) -> Vec<LeafView> {
        let Some(leafnodes) = &self.shared.leafnodes else {
            return Vec::new();
        };
        let mut leafs: Vec<LeafView> = leafnodes
            .links()
            .into_iter()
            .map(|(shared, peer, account)| LeafView {
                conn: shared.info(with_subs),
                account,
                solicited: peer.solicited,
            })
            .collect();
        leafs.sort_by_key(|l| l.conn.cid);
        leafs
    }

    fn leaf_addr(&self) -> Option<SocketAddr> {
        self.shared.leafnodes.as_ref()?.bound
    }

    fn is_ready(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire) && !self.shared.is_shutting_down()
    }
}
