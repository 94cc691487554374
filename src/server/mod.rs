//! The running server: shared state, reactor threads, connections and delivery.
//!
//! [`Server::start`] binds the client listener, builds the shared state and starts a fixed
//! pool of reactor threads (`reactor`), each owning a `mio::Poll` and a slab of
//! connections. Reactor 0 also owns the listener and deals accepted sockets round-robin.

mod account;
mod client;
mod cluster;
mod conn;
mod conn_info;
mod deliver;
mod dialer;
mod files;
mod handover;
mod imports;
mod info;
mod leaf;
mod leaf_info;
mod leafnodes;
mod link;
mod outq;
mod reactor;
mod role;
mod route;
mod route_info;
mod service;
mod session;
mod settings;
mod stats;
mod supervision;
#[cfg(any(test, feature = "fuzzing"))]
pub mod testbed;
mod timer;
mod turn;
mod verifier;
mod view;

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Poll, Waker};

use crate::auth::Authenticator;
use crate::hostport::{join_host_port, parse_host_port};
use crate::options::{Options, DEFAULT_PORT, RANDOM_PORT};
pub use cluster::RouteMeta;
use conn::ConnShared;
use conn_info::ClosedRing;
pub use conn_info::{ConnInfo, SubInfo, TlsPeerCert};
use handover::{LameDuckStep, ReactorHandle};
use info::Info;
pub use info::COMPATIBLE_VERSION;
pub use leaf::auth_timeout as leaf_auth_timeout;
use reactor::Reactor;
pub use settings::Settings;
use settings::SharedSettings;
pub use stats::Snapshot as StatsSnapshot;
use stats::Stats;
pub use supervision::{Connections, Supervision};
pub use view::{
    AccountSnapshot, LeafView, LiveView, RouteView, ServerView, SubscriptionStats, Traffic,
};

/// natsd's own version line: `natsd v0.1.0 (nats-server 2.9.10 compatible)`.
pub fn version_line() -> String {
    format!(
        "natsd v{} (nats-server {} compatible)",
        env!("CARGO_PKG_VERSION"),
        COMPATIBLE_VERSION
    )
}

/// Entry point: starts a server from [`Options`].
pub struct Server;

/// A server whose options are checked, before it logs its banner and writes its pid file
/// ([`Starting::announce`]) and binds its listeners ([`Starting::listen`]). Between the
/// last two, the caller may bind the monitoring port, as the reference does at this point.
pub struct Starting {
    settings: Settings,
    accounts: account::Accounts,
}

/// A running server: its bound address and the way to stop it.
pub struct ServerHandle {
    client_addr: SocketAddr,
    /// The bound addresses, for the ports file.
    listening: files::Listening,
    shared: Arc<ServerShared>,
    threads: Vec<JoinHandle<()>>,
    verifiers: Vec<JoinHandle<()>>,
    ports_file: Option<PathBuf>,
}

/// State every reactor shares.
struct ServerShared {
    settings: SharedSettings,
    verifier: verifier::VerifierQueue,
    accounts: account::Accounts,
    reactors: Vec<ReactorHandle>,
    next_cid: AtomicU64,
    /// The connected clients by id (their count is the connection count).
    clients: Mutex<BTreeMap<u64, Arc<ConnShared>>>,
    /// The last closed clients, for the monitor.
    closed: ClosedRing,
    /// After a reload lowered `max_connections`: clients with an id up to this one are
    /// closed (the oldest). 0 = none.
    shed_up_to: AtomicU64,
    stats: Stats,
    /// Bytes ever handed over by [`handover::send`] (interest updates, async INFO: from
    /// any thread), the part of the outbound total (`max_pending_total`) the reactors'
    /// own parts do not count; their owners subtract them from theirs as they move them
    /// out (see [`handover::ReactorHandle::outbound`]).
    sent_outbound: AtomicUsize,
    /// The cluster, when routing is on.
    cluster: Option<Arc<cluster::Cluster>>,
    /// Leafnode links, when this server is a hub or a leaf.
    leafnodes: Option<Arc<leafnodes::Leafnodes>>,
    /// `connect_urls` of the client INFO: ours and the cluster peers'.
    connect_urls: Mutex<Vec<String>>,
    /// When `connect_urls` last changed (Unix nanoseconds; 0: never).
    connect_urls_changed_at: AtomicU64,
    shutdown: AtomicBool,
    /// The client listener is open (false in lame duck mode): `/healthz` is ok.
    accepting: AtomicBool,
    /// When the server started.
    started: SystemTime,
}

impl ServerShared {
    /// The shared state of a server starting with `settings`, reached through `reactors`.
    fn new(
        settings: Settings,
        accounts: account::Accounts,
        reactors: Vec<ReactorHandle>,
        cluster: Option<Arc<cluster::Cluster>>,
        leafnodes: Option<Arc<leafnodes::Leafnodes>>,
    ) -> ServerShared {
        ServerShared {
            started: settings.loaded_at,
            settings: SharedSettings::new(settings),
            verifier: verifier::VerifierQueue::default(),
            accounts,
            reactors,
            next_cid: AtomicU64::new(1),
            clients: Mutex::new(BTreeMap::new()),
            closed: ClosedRing::default(),
            shed_up_to: AtomicU64::new(0),
            stats: Stats::default(),
            sent_outbound: AtomicUsize::new(0),
            cluster,
            leafnodes,
            connect_urls: Mutex::new(Vec::new()),
            connect_urls_changed_at: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            accepting: AtomicBool::new(true),
        }
    }

    /// The connected clients by id.
    fn clients(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnShared>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// The client INFO `connect_urls` now.
    fn connect_urls(&self) -> Vec<String> {
        self.connect_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client INFO template in force: the settings' INFO with, when clustered, the
    /// cluster's name and client URLs.
    fn client_info(&self, settings: &Settings) -> Info {
        let Some(cluster) = &self.cluster else {
            return settings.info.clone();
        };
        Info {
            cluster: cluster.lock().name.clone(),
            connect_urls: self.connect_urls(),
            ..settings.info.clone()
        }
    }

    /// Recomputes the client `connect_urls` (ours and every route's server's, unless
    /// `no_advertise`) and sends clients that take async INFO the new INFO.
    /// When the client URLs of the cluster last changed (Unix nanoseconds; 0: never).
    fn client_urls_changed_at(&self) -> u64 {
        self.connect_urls_changed_at.load(Ordering::Acquire)
    }

    /// Recomputes the leaf URLs a hub offers its leafs (ours and every route's server's)
    /// and sends the leafs the new INFO.
    fn leaf_urls_changed(&self) {
        let (Some(leafnodes), Some(cluster)) = (&self.leafnodes, &self.cluster) else {
            return;
        };
        if self.is_shutting_down() {
            return;
        }
        let cluster_name = cluster.lock().name.clone();
        leafnodes.set_urls(self, cluster.peer_leaf_urls(), cluster_name);
    }

    fn client_urls_changed(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        // Routes closing while the server stops tell the clients nothing: they would
        // forget the servers they are about to fail over to (the reference sends no INFO
        // while shutting down).
        if self.is_shutting_down() {
            return;
        }
        let settings = self.settings.current();
        let mut urls = cluster.own_client_urls.clone();
        if !settings.opts.cluster.no_advertise {
            for url in cluster.peer_client_urls() {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        let mut current = self.connect_urls.lock().unwrap_or_else(|e| e.into_inner());
        if *current == urls {
            return;
        }
        *current = urls;
        drop(current);
        let now = conn_info::unix_nanos(SystemTime::now());
        self.connect_urls_changed_at.store(now, Ordering::Release);
        let info = self.client_info(&settings);
        let clients: Vec<_> = self.clients().values().cloned().collect();
        for client in clients {
            if client.async_info.load(Ordering::Relaxed) {
                let line = info.line_for(client.cid, client.addr.ip().to_string());
                handover::send(self, &client, &line);
            }
        }
    }
}

/// The listeners reactor 0 owns.
struct Listeners {
    clients: TcpListener,
    routes: Option<TcpListener>,
    leafs: Option<TcpListener>,
}

fn bind_leafs(opts: &Options) -> io::Result<TcpListener> {
    let leaf = &opts.leafnodes;
    let host = leaf
        .host
        .clone()
        .unwrap_or_else(|| crate::options::DEFAULT_HOST.to_string());
    let port = match leaf.port {
        RANDOM_PORT => 0,
        p => {
            u16::try_from(p).map_err(|_| io::Error::other(format!("invalid leafnode port {p}")))?
        }
    };
    let addr = resolve(&host, port)?;
    TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "Error listening on leafnode port: {}, \"listen tcp {}: bind: {}\"",
                port,
                join_host_port(&host, port),
                bind_error_text(&e)
            ),
        )
    })
}

/// The leafnode state: the hub INFO when there is a listener (bound at `leaf_addr`), the
/// remotes to solicit.
fn new_leafnodes(
    opts: &Options,
    info: &Info,
    leaf_addr: Option<SocketAddr>,
) -> io::Result<leafnodes::Leafnodes> {
    let leaf = &opts.leafnodes;
    let mut leafnodes = leafnodes::Leafnodes::new(leaf, &mut crate::rng::Rng::from_os()?);
    let Some(bound) = leaf_addr else {
        return Ok(leafnodes);
    };
    let host = leaf
        .host
        .clone()
        .unwrap_or_else(|| crate::options::DEFAULT_HOST.to_string());
    info!(
        "Listening for leafnode connections on {}",
        join_host_port(&host, bound.port())
    );
    let (info_host, info_port) = match &leaf.advertise {
        Some(adv) => {
            info!("Advertise address for leafnode is set to {adv}");
            parse_host_port(adv, bound.port()).map_err(io::Error::other)?
        }
        None => match files::host_ports(&host, bound.port()).into_iter().next() {
            Some(url) => parse_host_port(&url, bound.port()).map_err(io::Error::other)?,
            None => (host.clone(), bound.port()),
        },
    };
    let url = join_host_port(&info_host, info_port);
    leafnodes.bound = Some(bound);
    leafnodes.own_urls = vec![url.clone()];
    leafnodes.hub = Some(leaf_info::LeafInfo {
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
        version: info.version.to_string(),
        proto: leaf_info::LEAF_PROTOCOL,
        go: info.go.to_string(),
        host: info_host,
        port: info_port,
        headers: opts.headers,
        auth_required: true,
        tls_required: leaf.tls.is_some(),
        tls_verify: leaf.tls.as_ref().is_some_and(|t| t.verify),
        max_payload: opts.max_payload,
        ip: url.clone(),
        info_on_connect: true,
        leafnode_urls: Some(vec![url]),
        ..leaf_info::LeafInfo::default()
    });
    let warnings = leafnodes.configure_tls(leaf).map_err(io::Error::other)?;
    warnings.iter().for_each(|w| warn!("{w}"));
    Ok(leafnodes)
}

fn bind_routes(opts: &Options) -> io::Result<TcpListener> {
    let cluster = &opts.cluster;
    let host = cluster
        .host
        .clone()
        .unwrap_or_else(|| crate::options::DEFAULT_HOST.to_string());
    let port = match cluster.port {
        RANDOM_PORT => 0,
        p => u16::try_from(p).map_err(|_| io::Error::other(format!("invalid cluster port {p}")))?,
    };
    let addr = resolve(&host, port)?;
    TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "Error listening on router port: {}, \"listen tcp {}: bind: {}\"",
                port,
                join_host_port(&host, port),
                bind_error_text(&e)
            ),
        )
    })
}

/// The cluster: its name (configured or generated), our route INFO and the configured
/// routes; logs the reference's cluster lines.
fn new_cluster(
    opts: &Options,
    info: &Info,
    client_addr: SocketAddr,
    route_addr: SocketAddr,
) -> io::Result<cluster::Cluster> {
    let c = &opts.cluster;
    // The name (configured or generated) is in the INFO template already.
    let (name, dynamic) = (info.cluster.clone(), c.name.is_none());
    info!("Cluster name is {name}");
    if dynamic {
        warn!("Cluster name was dynamically generated, consider setting one");
    }
    let host = c
        .host
        .clone()
        .unwrap_or_else(|| crate::options::DEFAULT_HOST.to_string());
    let (info_host, info_port, ip) = match &c.advertise {
        Some(adv) => {
            let (h, p) = parse_host_port(adv, route_addr.port()).map_err(io::Error::other)?;
            let ip = format!("nats-route://{}/", join_host_port(&h, p));
            (h, p, ip)
        }
        None => (host.clone(), route_addr.port(), String::new()),
    };
    info!(
        "Listening for route connections on {}",
        join_host_port(&host, route_addr.port())
    );
    let own_urls = match &opts.client_advertise {
        Some(adv) => vec![adv.clone()],
        None => files::host_ports(&opts.host, client_addr.port()),
    };
    let route_info = route_info::RouteInfo {
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
        version: info.version.to_string(),
        proto: route_info::ROUTE_PROTOCOL,
        go: info.go.to_string(),
        host: info_host,
        port: info_port,
        headers: opts.headers,
        auth_required: c.username.is_some(),
        tls_required: c.tls.is_some(),
        tls_verify: c.tls.is_some(),
        max_payload: opts.max_payload,
        ip,
        connect_urls: if c.no_advertise {
            Vec::new()
        } else {
            own_urls.clone()
        },
        import: c.permissions.as_ref().and_then(|p| p.import.clone()),
        export: c.permissions.as_ref().and_then(|p| p.export.clone()),
        ..Default::default()
    };
    let explicit = c
        .routes
        .iter()
        .map(|r| crate::route_url::RouteUrl::parse(r).map_err(io::Error::other))
        .collect::<io::Result<Vec<_>>>()?;
    let tls = match &c.tls {
        Some(tls) => Some(crate::tls::route_configs(tls).map_err(io::Error::other)?),
        None => None,
    };
    Ok(cluster::Cluster::new(
        route_info, name, dynamic, explicit, own_urls, tls,
    ))
}

/// Reactor threads to run when the options leave it to us.
fn default_reactors() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("no address for host {host:?}")))
}

fn bind_clients(opts: &Options) -> io::Result<TcpListener> {
    let port = match opts.port {
        RANDOM_PORT => 0,
        0 => DEFAULT_PORT,
        p => u16::try_from(p).map_err(|_| {
            io::Error::other(format!(
                "Error listening on port: {}, \"listen tcp: address {p}: invalid port\"",
                join_host_port(&opts.host, p)
            ))
        })?,
    };
    let addr = resolve(&opts.host, port)?;
    TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "Error listening on port: {}:{}, \"listen tcp {}:{}: bind: {}\"",
                opts.host,
                port,
                opts.host,
                port,
                bind_error_text(&e)
            ),
        )
    })
}

/// The Go spelling of common bind errors.
fn bind_error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::AddrNotAvailable => "cannot assign requested address".to_string(),
        _ => e.to_string(),
    }
}

/// INFO host/port: the advertised address when set, else the listener's.
fn advertised(opts: &Options, bound: SocketAddr) -> io::Result<(String, u16)> {
    match &opts.client_advertise {
        Some(adv) => parse_host_port(adv, bound.port()).map_err(|e| {
            io::Error::other(format!(
                "Error setting server INFO with ClientAdvertise value of {adv}, err={e}"
            ))
        }),
        None => Ok((opts.host.clone(), bound.port())),
    }
}

/// The client authenticator for these options: `authorization`, with client certificates
/// mapped to users under `tls { verify_and_map }`.
fn authenticator(opts: &Options) -> Authenticator {
    let guest = account::invented_guest(opts);
    let auth = match &guest {
        None => std::borrow::Cow::Borrowed(&opts.auth),
        Some(user) => {
            let mut auth = opts.auth.clone();
            auth.no_auth_user = Some(user.username.clone());
            auth.users.push(user.clone());
            std::borrow::Cow::Owned(auth)
        }
    };
    let authenticator = match opts.tls.as_ref().is_some_and(|tls| tls.verify_and_map) {
        true => Authenticator::mapping_certificates(&auth),
        false => Authenticator::new(&auth),
    };
    match guest {
        Some(_) => authenticator.with_invented_guest(),
        None => authenticator,
    }
}

/// The rustls configuration for `tls {}`, logging what natsd cannot honour.
fn tls_config(opts: &Options) -> io::Result<Option<Arc<rustls::ServerConfig>>> {
    let Some(tls) = &opts.tls else {
        return Ok(None);
    };
    let built = crate::tls::server_config(tls).map_err(io::Error::other)?;
    built.warnings.iter().for_each(|w| warn!("{w}"));
    Ok(Some(built.config))
}

/// The client INFO template for `opts`: a new server id, the server and cluster names
/// (generated when not configured), the limits and what the client must do; the address
/// is filled in once the listener is bound.
fn info_template(opts: &Options, auth: &Authenticator) -> Info {
    let server_id = info::new_server_id();
    let server_name = opts
        .server_name
        .clone()
        .unwrap_or_else(|| server_id.clone());
    let cluster = match opts.cluster.port {
        // A standalone leaf with a server name takes it as its cluster name, as the
        // reference does: hubs use it to tell leaf clusters apart.
        0 if !opts.leafnodes.remotes.is_empty() => opts.server_name.clone().unwrap_or_default(),
        0 => String::new(),
        _ => opts
            .cluster
            .name
            .clone()
            .unwrap_or_else(info::new_cluster_name),
    };
    Info {
        server_id,
        server_name,
        version: COMPATIBLE_VERSION,
        proto: info::PROTOCOL_VERSION,
        go: "rust",
        host: String::new(),
        port: 0,
        headers: opts.headers,
        auth_required: auth.required(),
        tls_required: opts.tls.is_some() && !opts.allow_non_tls,
        tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
        tls_available: opts.tls.is_some() && opts.allow_non_tls,
        max_payload: opts.max_payload,
        client_id: 0,
        client_ip: String::new(),
        nonce: String::new(),
        cluster,
        connect_urls: Vec::new(),
        ldm: false,
    }
}

fn log_banner(info: &Info, opts: &Options) {
    info!("Starting {}", version_line());
    info!("  Version:  {}", COMPATIBLE_VERSION);
    info!("  Git:      [not set]");
    debug!("  Build:    natsd {}", env!("CARGO_PKG_VERSION"));
    if !info.cluster.is_empty() {
        info!("  Cluster:  {}", info.cluster);
    }
    info!("  Name:     {}", info.server_name);
    info!("  ID:       {}", info.server_id);
    if opts.has_plaintext_passwords() {
        warn!("Plaintext passwords detected, use nkeys or bcrypt");
    }
    if let Some(path) = &opts.config_file {
        info!("Using configuration file: {}", path.display());
    }
}

impl Server {
    /// Starts a server without monitoring: [`Server::prepare`], [`Starting::announce`],
    /// then [`Starting::listen`].
    pub fn start(opts: Options) -> io::Result<ServerHandle> {
        let starting = Server::prepare(opts)?;
        starting.announce()?;
        starting.listen(None)
    }

    /// Checks the options and builds the settings to start with (the reference's
    /// `NewServer`: its errors end the process before anything is logged).
    pub fn prepare(opts: Options) -> io::Result<Starting> {
        opts.validate().map_err(io::Error::other)?;
        let accounts = account::Accounts::new(&opts).map_err(io::Error::other)?;
        Ok(Starting {
            settings: Settings::for_options(opts)?,
            accounts,
        })
    }
}

impl Settings {
    /// The settings a server starts with: the options, an INFO template with a new server
    /// id, the authenticator and the client TLS configuration.
    pub fn for_options(opts: Options) -> io::Result<Settings> {
        let auth = authenticator(&opts);
        Ok(Settings {
            info: info_template(&opts, &auth),
            tls: tls_config(&opts)?,
            auth,
            opts,
            loaded_at: SystemTime::now(),
        })
    }
}

impl Starting {
    /// The options the server starts with.
    pub fn options(&self) -> &Options {
        &self.settings.opts
    }

    /// Logs the banner and writes the pid file (the first steps of the reference's
    /// `Start`).
    pub fn announce(&self) -> io::Result<()> {
        log_banner(&self.settings.info, &self.settings.opts);
        if let Some(path) = &self.settings.opts.pid_file {
            files::write_pid_file(path)?;
        }
        Ok(())
    }

    /// Binds the client (and route) listeners, writes the ports file (listing `monitor`,
    /// the monitoring scheme and address, when the caller bound one) and starts the
    /// reactor threads.
    pub fn listen(self, monitor: Option<(&'static str, SocketAddr)>) -> io::Result<ServerHandle> {
        let mut settings = self.settings;
        let opts = &settings.opts;
        let listener = bind_clients(opts)?;
        let client_addr = listener.local_addr()?;
        let route_listener = match opts.cluster.port {
            0 => None,
            _ => Some(bind_routes(opts)?),
        };
        let leaf_listener = match opts.leafnodes.port {
            0 => None,
            _ => Some(bind_leafs(opts)?),
        };
        let listening = files::Listening {
            client: client_addr,
            monitor,
            cluster: match &route_listener {
                Some(l) => Some(l.local_addr()?),
                None => None,
            },
        };
        let leafnodes = match (&leaf_listener, opts.leafnodes.remotes.is_empty()) {
            (None, true) => None,
            (listener, _) => {
                let bound = listener.as_ref().map(TcpListener::local_addr).transpose()?;
                Some(Arc::new(new_leafnodes(opts, &settings.info, bound)?))
            }
        };
        let cluster = match &route_listener {
            Some(l) => {
                let mut cluster = new_cluster(opts, &settings.info, client_addr, l.local_addr()?)?;
                // Our leaf URL goes to the cluster peers, which offer it to their leafs.
                if !opts.leafnodes.no_advertise {
                    cluster.info.leafnode_urls = leafnodes
                        .as_ref()
                        .map(|l| l.own_urls.clone())
                        .unwrap_or_default();
                }
                Some(Arc::new(cluster))
            }
            None => None,
        };
        info!(
            "Listening for client connections on {}",
            join_host_port(&opts.host, client_addr.port())
        );
        if settings.tls.is_some() {
            info!("TLS required for client connections");
        }
        let (host, port) = advertised(opts, client_addr)?;

        let count = match opts.reactors {
            0 => default_reactors(),
            n => n,
        };
        let polls = (0..count)
            .map(|_| Poll::new())
            .collect::<io::Result<Vec<_>>>()?;
        let reactors = polls
            .iter()
            .map(|poll| {
                Ok(ReactorHandle::new(Waker::new(
                    poll.registry(),
                    reactor::WAKER,
                )?))
            })
            .collect::<io::Result<Vec<_>>>()?;
        debug!("Starting {count} reactor thread(s)");
        let ports_file = opts
            .ports_file_dir
            .as_ref()
            .and_then(|dir| files::write_ports_file(dir, opts, listening));
        (settings.info.host, settings.info.port) = (host, port);
        let shared = Arc::new(ServerShared::new(
            settings,
            self.accounts,
            reactors,
            cluster,
            leafnodes,
        ));
        let mut listener = Some(Listeners {
            clients: listener,
            routes: route_listener,
            leafs: leaf_listener,
        });
        let threads = polls
            .into_iter()
            .enumerate()
            .map(|(id, poll)| {
                let reactor = Reactor::new(id, poll, shared.clone(), listener.take())?;
                std::thread::Builder::new()
                    .name(format!("reactor-{id}"))
                    .spawn(move || reactor.run())
            })
            .collect::<io::Result<Vec<_>>>()?;
        let mut verifiers = verifier::start(&shared, verifier::pool_size())?;
        if let Some(cluster) = &shared.cluster {
            shared.client_urls_changed();
            for url in cluster.configured() {
                cluster.dials.push(dialer::DialJob {
                    url,
                    explicit: true,
                    due: std::time::Instant::now(),
                    attempts: 0,
                });
            }
            verifiers.push(dialer::start(&shared)?);
        }
        if let Some(leafnodes) = &shared.leafnodes {
            for remote in 0..leafnodes.remotes.len() {
                leafnodes.dials.push(leafnodes::LeafDial {
                    remote,
                    due: std::time::Instant::now(),
                });
            }
            verifiers.push(dialer::start_leaf(&shared)?);
        }
        info!("Server is ready");
        Ok(ServerHandle {
            client_addr,
            listening,
            shared,
            threads,
            verifiers,
            ports_file,
        })
    }
}

impl ServerHandle {
    /// The address the client listener is bound to (the real port when `-p -1`).
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The read-only view the monitor uses.
    pub fn view(&self) -> LiveView {
        LiveView::new(self.shared.clone(), self.client_addr)
    }

    /// Messages and bytes received and sent so far, and slow consumers seen.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Puts new options in force (SIGHUP): returns one `Reloaded: …` line per change, or the
    /// reference's refusal, in which case nothing changes.
    pub fn reload(&mut self, new: Options) -> Result<Vec<String>, String> {
        let current = self.shared.settings.current();
        let lines = settings::reload_changes(&current.opts, &new)?;
        new.validate()?;
        let new_routes = new
            .cluster
            .routes
            .iter()
            .map(|r| crate::route_url::RouteUrl::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut info = current.info.clone();
        info.max_payload = new.max_payload;
        let auth = authenticator(&new);
        info.auth_required = auth.required();
        let tls = tls_config(&new).map_err(|e| e.to_string())?;
        info.tls_required = tls.is_some() && !new.allow_non_tls;
        info.tls_available = tls.is_some() && new.allow_non_tls;
        info.tls_verify = new.tls.as_ref().is_some_and(|t| t.verify);
        (info.host, info.port) = advertised(&new, self.client_addr).map_err(|e| e.to_string())?;
        if new.pid_file != current.opts.pid_file {
            if let Some(path) = &new.pid_file {
                files::write_pid_file(path).map_err(|e| e.to_string())?;
            }
        }
        if new.ports_file_dir != current.opts.ports_file_dir {
            if let Some(path) = self.ports_file.take() {
                files::remove_ports_file(&path);
            }
            self.ports_file = new
                .ports_file_dir
                .as_ref()
                .and_then(|dir| files::write_ports_file(dir, &new, self.listening));
        }
        if let Some(leafnodes) = &self.shared.leafnodes {
            leafnodes.configure_tls(&new.leafnodes)?;
        }
        let max_connections = new.max_connections;
        self.shared.accounts.configure(&new);
        self.shared.settings.replace(Settings {
            auth,
            tls,
            opts: new,
            info,
            loaded_at: SystemTime::now(),
        });
        let excess = {
            let clients = self.shared.clients();
            let excess = clients.len().saturating_sub(max_connections);
            let last = excess.checked_sub(1).and_then(|n| clients.keys().nth(n));
            self.shared
                .shed_up_to
                .store(last.copied().unwrap_or(0), Ordering::Relaxed);
            excess
        };
        let mut lines = lines;
        if let Some(cluster) = &self.shared.cluster {
            self.reload_routes(cluster, new_routes);
        }
        if excess > 0 {
            lines.insert(
                0,
                format!("Closed {excess} connections to fall within max_connections"),
            );
        }
        // Parked reactors pick the new settings up now, not at their next event.
        for reactor in &self.shared.reactors {
            reactor.wake();
        }
        Ok(lines)
    }

    /// Applies a reloaded `cluster.routes`: dials the new ones, closes routes to the
    /// removed ones (never to be dialled again).
    fn reload_routes(&self, cluster: &cluster::Cluster, routes: Vec<crate::route_url::RouteUrl>) {
        let (added, to_close) = cluster.reconfigure(routes);
        for (route, url) in to_close {
            let (token, cid) = (route.token, route.cid);
            self.shared.reactors[route.reactor].post(|inbox| inbox.close.push((token, cid)));
            info!("Removed route {}", url.without_credentials());
        }
        for url in added {
            cluster.dials.push(dialer::DialJob {
                url,
                explicit: true,
                due: std::time::Instant::now(),
                attempts: 0,
            });
        }
    }

    /// Lame duck mode (SIGUSR2): stops accepting and tells the clients; returns how many
    /// clients are still connected.
    pub fn enter_lame_duck(&self) -> usize {
        info!("Entering lame duck mode, stop accepting new clients");
        self.shared.accepting.store(false, Ordering::Release);
        if let Some(cluster) = &self.shared.cluster {
            // Peers stop advertising our client URLs.
            let line = route_info::RouteInfo {
                ldm: true,
                ..cluster.current_info()
            }
            .gossip_line();
            for (route, _, _) in cluster.routes() {
                handover::send(&self.shared, &route, &line);
            }
        }
        self.post_all(LameDuckStep::Enter);
        self.shared.clients().len()
    }

    /// Closes one more client during lame duck mode (taking turns across reactors).
    pub fn close_one_client(&self, turn: usize) {
        let reactor = &self.shared.reactors[turn % self.shared.reactors.len()];
        reactor.post(|inbox| inbox.lame_duck.push(LameDuckStep::CloseOne));
    }

    /// `lame_duck_duration` and `lame_duck_grace_period` in force.
    pub fn lame_duck_timings(&self) -> (std::time::Duration, std::time::Duration) {
        let settings = self.shared.settings.current();
        (
            settings.opts.lame_duck_duration,
            settings.opts.lame_duck_grace_period,
        )
    }

    /// When the options in force were loaded (start or last successful reload).
    pub fn config_load_time(&self) -> SystemTime {
        self.shared.settings.current().loaded_at
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.shared.clients().len()
    }

    fn post_all(&self, step: LameDuckStep) {
        for reactor in &self.shared.reactors {
            reactor.post(|inbox| inbox.lame_duck.push(step));
        }
    }

    /// Stops accepting, flushes what is queued, closes every connection and joins the
    /// reactor threads. Removes the ports file.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        info!("Initiating Shutdown...");
        self.shared.shutdown.store(true, Ordering::Release);
        for reactor in &self.shared.reactors {
            reactor.wake();
        }
        self.shared.verifier.stop();
        if let Some(cluster) = &self.shared.cluster {
            cluster.dials.stop();
        }
        if let Some(leafnodes) = &self.shared.leafnodes {
            leafnodes.dials.stop();
        }
        for thread in self.threads.drain(..).chain(self.verifiers.drain(..)) {
            let _ = thread.join();
        }
        if let Some(path) = self.ports_file.take() {
            files::remove_ports_file(&path);
        }
        info!("Server Exiting..");
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
