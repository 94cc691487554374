//! `/varz`: the server's identity, the options in force and its counters, field for field
//! as nats-server 2.9 prints them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::process_usage;
use super::timefmt::{rfc3339_nano, uptime};
use crate::server::ServerView;

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
    #[serde(skip_serializing_if = "is_false")]
    auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    connect_urls: Vec<String>,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
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
    leaf: Empty,
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
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    addr: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    cluster_port: i64,
    #[serde(skip_serializing_if = "is_zero_f64")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_f64")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

impl ClusterVarz {
    fn of(view: &dyn ServerView, opts: &crate::options::Options) -> ClusterVarz {
        let Some(name) = view.cluster_name() else {
            return ClusterVarz::default();
        };
        let c = &opts.cluster;
        let host_port = |r: &String| {
            crate::route_url::RouteUrl::parse(r).map_or_else(|_| r.clone(), |u| u.host_port())
        };
        ClusterVarz {
            name,
            addr: c
                .host
                .clone()
                .unwrap_or_else(|| crate::options::DEFAULT_HOST.to_string()),
            cluster_port: c.port,
            auth_timeout: if c.auth_timeout > 0.0 {
                c.auth_timeout
            } else {
                2.0
            },
            urls: c.routes.iter().map(host_port).collect(),
            tls_timeout: c
                .tls
                .as_ref()
                .map_or(2.0, |t| if t.timeout > 0.0 { t.timeout } else { 2.0 }),
            tls_required: c.tls.is_some(),
            tls_verify: c.tls.is_some(),
        }
    }
}

/// An option block natsd does not have (gateways, leaf nodes, MQTT, …): Go prints `{}`.
#[derive(Serialize)]
struct Empty {}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
        cluster: ClusterVarz::of(view, opts),
        gateway: Empty {},
        leaf: Empty {},
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
        leafnodes: 0,
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
