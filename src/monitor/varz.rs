//! `/varz`: the server's identity, the options in force and its counters, field for field
//! as nats-server 2.9 prints them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::process_usage;
use super::timefmt::{rfc3339_nano, uptime};
use crate::options::{LeafnodeOptions, RemoteLeafOptions, TlsOptions, DEFAULT_HOST};
use crate::route_url::RouteUrl;
use crate::server::{ServerView, Settings};

/// The `/varz` document (the reference's field order).
#[derive(Serialize)]
pub struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u8,
    go: &'static str,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "is_empty")]
    auth_required: bool,
    #[serde(skip_serializing_if = "is_empty")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_empty")]
    tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    connect_urls: Vec<String>,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_empty")]
    max_subscriptions: usize,
    ping_interval: u128,
    ping_max: u32,
    http_host: String,
    http_port: i64,
    http_base_path: String,
    https_port: i64,
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: ClusterVarz,
    gateway: Empty,
    leaf: LeafVarz,
    mqtt: Empty,
    websocket: Empty,
    jetstream: Empty,
    tls_timeout: f64,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: i64,
    cores: usize,
    gomaxprocs: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: usize,
    remotes: usize,
    leafnodes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<String, u64>,
    config_load_time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    system_account: String,
}

/// The cluster options (`{}` when not clustered; every field omitted when empty).
#[derive(Serialize, Default)]
struct ClusterVarz {
    #[serde(skip_serializing_if = "is_empty")]
    name: String,
    #[serde(skip_serializing_if = "is_empty")]
    addr: String,
    #[serde(skip_serializing_if = "is_empty")]
    cluster_port: i64,
    #[serde(skip_serializing_if = "is_empty")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "is_empty")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_empty")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_empty")]
    tls_verify: bool,
}

impl ClusterVarz {
    fn of(view: &dyn ServerView, settings: &Settings) -> ClusterVarz {
        let Some(name) = view.cluster_name() else {
            // A standalone leaf has a cluster name (its server name) but no cluster options.
            return ClusterVarz {
                name: settings.info.cluster.clone(),
                ..ClusterVarz::default()
            };
        };
        let c = &settings.opts.cluster;
        let host_port =
            |r: &String| RouteUrl::parse(r).map_or_else(|_| r.clone(), |u| u.host_port());
        ClusterVarz {
            name,
            addr: c.host.clone().unwrap_or_else(|| DEFAULT_HOST.to_string()),
            cluster_port: c.port,
            auth_timeout: seconds_or(c.auth_timeout, 2.0),
            urls: c.routes.iter().map(host_port).collect(),
            tls_timeout: c.tls.as_ref().map_or(2.0, tls_timeout),
            tls_required: c.tls.is_some(),
            tls_verify: c.tls.is_some(),
        }
    }
}

/// The leafnode options (`{}` when not configured; every field omitted when empty). The
/// listener's fields have the reference's defaults only when there is a listener.
#[derive(Serialize, Default)]
struct LeafVarz {
    #[serde(skip_serializing_if = "is_empty")]
    host: String,
    /// The bound port.
    #[serde(skip_serializing_if = "is_empty")]
    port: u16,
    #[serde(skip_serializing_if = "is_empty")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "is_empty")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_empty")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_empty")]
    tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remotes: Vec<RemoteLeafVarz>,
}

impl LeafVarz {
    fn of(view: &dyn ServerView, ln: &LeafnodeOptions) -> LeafVarz {
        let listening = ln.port != 0;
        let (auth_timeout, tls_default) = match listening {
            true => (crate::server::leaf_auth_timeout(ln).as_secs_f64(), 2.0),
            false => (ln.auth_timeout, 0.0),
        };
        let default_host = listening.then(|| DEFAULT_HOST.to_string());
        LeafVarz {
            host: ln.host.clone().or(default_host).unwrap_or_default(),
            port: view.leaf_addr().map_or(0, |addr| addr.port()),
            auth_timeout,
            tls_timeout: seconds_or(ln.tls.as_ref().map_or(0.0, |t| t.timeout), tls_default),
            tls_required: ln.tls.is_some(),
            tls_verify: ln.tls.as_ref().is_some_and(|t| t.verify),
            remotes: ln.remotes.iter().map(RemoteLeafVarz::of).collect(),
        }
    }
}

/// A remote hub of `leafnodes { remotes [...] }`.
#[derive(Serialize)]
struct RemoteLeafVarz {
    /// The configured account, `$G` when none is (the reference shows the `$G` it fills
    /// in only once the remote connected before the first `/varz`).
    local_account: String,
    #[serde(skip_serializing_if = "is_empty")]
    tls_timeout: f64,
    /// `host:port`: no scheme, no credentials, port 7422 when none is given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deny: Option<DenyRules>,
}

impl RemoteLeafVarz {
    fn of(remote: &RemoteLeafOptions) -> RemoteLeafVarz {
        let host_port = |url: &String| {
            RouteUrl::parse_leaf(url).map_or_else(|_| url.clone(), |u| u.host_port())
        };
        let (imports, exports) = (&remote.deny_imports, &remote.deny_exports);
        RemoteLeafVarz {
            local_account: remote.account.clone().unwrap_or_else(|| "$G".into()),
            tls_timeout: remote.tls.as_ref().map_or(0.0, tls_timeout),
            urls: remote.urls.iter().map(host_port).collect(),
            deny: (!imports.is_empty() || !exports.is_empty()).then(|| DenyRules {
                exports: exports.clone(),
                imports: imports.clone(),
            }),
        }
    }
}

/// The subjects a remote does not take from its hub (`imports`) or send to it (`exports`).
#[derive(Serialize)]
struct DenyRules {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<String>,
}

/// A TLS block's handshake timeout in seconds (2 when not configured).
fn tls_timeout(tls: &TlsOptions) -> f64 {
    seconds_or(tls.timeout, 2.0)
}

/// A timeout in seconds as configured, `default` when not (zero or negative).
fn seconds_or(configured: f64, default: f64) -> f64 {
    if configured > 0.0 {
        configured
    } else {
        default
    }
}

/// An option block natsd does not have (gateways, MQTT, …): Go prints `{}`.
#[derive(Serialize)]
struct Empty {}

/// Go's `omitempty`: false, zero, the empty string.
fn is_empty<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Builds `/varz` now; `cpu` comes from the monitor's sampler, `http_req_stats` from its
/// request counts.
pub fn varz(view: &dyn ServerView, cpu: f64, http_req_stats: BTreeMap<String, u64>) -> Varz {
    let settings = view.settings();
    let (opts, info) = (&settings.opts, &settings.info);
    let stats = view.stats();
    let now = SystemTime::now();
    let started = view.started();
    Varz {
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
        version: info.version,
        proto: info.proto,
        go: info.go,
        host: info.host.clone(),
        port: info.port,
        auth_required: info.auth_required,
        tls_required: info.tls_required,
        tls_verify: info.tls_verify,
        connect_urls: view.connect_urls(),
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: opts.ping_interval.as_nanos(),
        ping_max: opts.ping_max,
        http_host: opts.http_host.clone().unwrap_or_else(|| opts.host.clone()),
        http_port: opts.http_port,
        http_base_path: opts.http_base_path.clone().unwrap_or_default(),
        https_port: opts.https_port,
        auth_timeout: opts.auth_timeout().as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: ClusterVarz::of(view, &settings),
        gateway: Empty {},
        leaf: LeafVarz::of(view, &opts.leafnodes),
        mqtt: Empty {},
        websocket: Empty {},
        jetstream: Empty {},
        tls_timeout: opts.tls_timeout().as_secs_f64(),
        write_deadline: opts.write_deadline.as_nanos(),
        start: rfc3339_nano(started),
        now: rfc3339_nano(now),
        uptime: uptime(now.duration_since(started).unwrap_or_default()),
        mem: process_usage::resident_bytes(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        gomaxprocs: view.reactors(),
        cpu,
        connections: view.client_count(),
        total_connections: stats.total_connections,
        routes: view.route_count(),
        remotes: view.route_count(),
        leafnodes: view.leafs(false).len(),
        in_msgs: stats.in_msgs,
        out_msgs: stats.out_msgs,
        in_bytes: stats.in_bytes,
        out_bytes: stats.out_bytes,
        slow_consumers: stats.slow_consumers,
        subscriptions: view.subscription_stats().totals.count,
        http_req_stats,
        config_load_time: rfc3339_nano(settings.loaded_at),
        tags: opts.server_tags.clone(),
        system_account: view.system_account().unwrap_or_default(),
    }
}
