//! HTTP(S) monitoring: one blocking tiny_http thread serving `/`, `/varz`, `/connz`,
//! `/accountz`, `/accstatz`, `/routez`, `/leafz`, `/subsz`, `/healthz` as nats-server 2.9
//! does, plus Prometheus `/metrics`.
//!
//! The monitor reads the server only through [`ServerView`]: atomic counters and short
//! copies of the connection registry, so a request never stops a reactor.

mod accounts;
mod connz;
mod https;
mod json;
mod leafz;
mod metrics;
mod params;
mod process_usage;
mod root;
mod routez;
mod subsz;
mod timefmt;
mod varz;

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use log::{error, info, warn};
use serde::Serialize;
use tiny_http::{Header, Request, Response, StatusCode};

use crate::gofmt;
use crate::gopath;
use crate::hostport::join_host_port;
use crate::options::{Options, TlsOptions, RANDOM_PORT};
use crate::server::ServerView;
use crate::tls;
use https::TlsTerminator;
use params::{BadParam, Query};
use process_usage::CpuSampler;

/// The monitoring listener, bound before the server starts so that its errors are fatal.
pub struct MonitorListener {
    listener: TcpListener,
    /// For HTTPS: the server's TLS configuration without client certificates, and the
    /// handshake timeout; `None` for plain HTTP.
    tls: Option<(Arc<rustls::ServerConfig>, Duration)>,
    /// `http` or `https`, for the log line and the ports file.
    scheme: &'static str,
}

impl MonitorListener {
    /// Binds the port the options ask for and logs the reference's start line; `None` when
    /// monitoring is off. Errors read as the reference's `Can't start monitoring: …`.
    pub fn bind(opts: &Options) -> io::Result<Option<MonitorListener>> {
        let fail = |text: String| io::Error::other(format!("Can't start monitoring: {text}"));
        let (port, secure) = match (opts.http_port, opts.https_port) {
            (0, 0) => return Ok(None),
            (http, 0) => (http, false),
            (0, https) => (https, true),
            (http, https) => {
                return Err(fail(format!(
                    "can't specify both HTTP ({http}) and HTTPs ({https}) ports"
                )))
            }
        };
        let tls = match (secure, &opts.tls) {
            (false, _) => None,
            (true, Some(tls)) if tls.cert_file.is_some() && tls.key_file.is_some() => {
                // As the reference: the client TLS settings, never asking for certificates.
                let monitoring = TlsOptions {
                    verify: false,
                    ..tls.clone()
                };
                let config = tls::server_config(&monitoring).map_err(fail)?.config;
                Some((config, opts.tls_timeout()))
            }
            (true, _) => return Err(fail("TLS cert and key required for HTTPS".into())),
        };
        let host = monitor_host(opts);
        let port = if port == RANDOM_PORT { 0 } else { port };
        let hostport = join_host_port(&host, port);
        let listen_error = |e: String| {
            fail(format!(
                "can't listen to the monitor port: listen tcp {hostport}: {e}"
            ))
        };
        let port = u16::try_from(port).map_err(|_| listen_error("address: invalid port".into()))?;
        let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
            .to_socket_addrs()
            .map_err(|e| listen_error(e.to_string()))?
            .next()
            .ok_or_else(|| listen_error("no such host".into()))?;
        let listener = TcpListener::bind(addr)
            .map_err(|e| listen_error(format!("bind: {}", gofmt::error_text(&e))))?;
        set_nodelay(&listener);
        let scheme = if secure { "https" } else { "http" };
        let bound = listener.local_addr()?.port();
        info!(
            "Starting {scheme} monitor on {}",
            join_host_port(&host, i64::from(bound))
        );
        Ok(Some(MonitorListener {
            listener,
            tls,
            scheme,
        }))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }
}

/// Sets TCP_NODELAY on the listener, which Linux passes on to accepted sockets: tiny_http
/// writes a response's head and body separately, and with Nagle's algorithm a keep-alive
/// client would wait for a delayed ACK (40 ms) before the body. (Go sets it on every
/// connection.)
fn set_nodelay(listener: &TcpListener) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a plain setsockopt on a socket we own, with a correctly sized int.
    unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The monitoring host: `http: host:port`'s host, else the client listen host.
fn monitor_host(opts: &Options) -> String {
    opts.http_host.clone().unwrap_or_else(|| opts.host.clone())
}

/// The running monitor thread.
pub struct Monitor {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    /// HTTPS only: the thread that takes TLS off before tiny_http.
    terminator: Option<TlsTerminator>,
}

impl Monitor {
    /// Starts serving on a bound listener.
    pub fn start(listener: MonitorListener, view: Box<dyn ServerView>) -> io::Result<Monitor> {
        let base_path = view.settings().opts.http_base_path.clone();
        let fail =
            |e: &dyn std::fmt::Display| io::Error::other(format!("Can't start monitoring: {e}"));
        let (server, terminator) = match listener.tls {
            None => (
                tiny_http::Server::from_listener(listener.listener, None),
                None,
            ),
            Some((config, timeout)) => {
                let (terminator, plain) = TlsTerminator::start(listener.listener, config, timeout)
                    .map_err(|e| fail(&e))?;
                (
                    tiny_http::Server::from_listener(plain, None),
                    Some(terminator),
                )
            }
        };
        let server = server.map_err(|e| fail(&e))?;
        let server = Arc::new(server);
        let mut handler = Handler::new(view, base_path.as_deref().unwrap_or(""));
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    handler.serve(request);
                }
            })?;
        Ok(Monitor {
            server,
            thread: Some(thread),
            terminator,
        })
    }

    /// Stops serving and joins the thread.
    pub fn stop(mut self) {
        if let Some(terminator) = self.terminator.take() {
            terminator.stop();
        }
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Go's `path.Clean` of the base path with a leading `/` (`""` → `/`).
fn normalize_base_path(base: &str) -> String {
    gopath::clean(&format!("/{base}"))
}

/// The endpoints, by the path that counts them in `http_req_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Root,
    Varz,
    Connz,
    Accountz,
    Accstatz,
    Routez,
    Leafz,
    Subsz,
    Healthz,
    Metrics,
}

impl Endpoint {
    /// The endpoint a path below the base path names (`/varz`, `/subscriptionsz`, `/`).
    fn named(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/" => Endpoint::Root,
            "/varz" => Endpoint::Varz,
            "/connz" => Endpoint::Connz,
            "/accountz" => Endpoint::Accountz,
            "/accstatz" => Endpoint::Accstatz,
            "/routez" => Endpoint::Routez,
            "/leafz" => Endpoint::Leafz,
            "/subsz" | "/subscriptionsz" => Endpoint::Subsz,
            "/healthz" => Endpoint::Healthz,
            "/metrics" => Endpoint::Metrics,
            _ => return None,
        })
    }

    /// The `http_req_stats` key (`/metrics` is natsd's own and not counted).
    fn stats_key(self) -> Option<&'static str> {
        Some(match self {
            Endpoint::Root => "/",
            Endpoint::Varz => "/varz",
            Endpoint::Connz => "/connz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Accstatz => "/accstatz",
            Endpoint::Routez => "/routez",
            Endpoint::Leafz => "/leafz",
            Endpoint::Subsz => "/subsz",
            Endpoint::Healthz => "/healthz",
            Endpoint::Metrics => return None,
        })
    }
}

/// An answer before it is framed.
enum Reply {
    /// 200 JSON (JSONP with `callback`).
    Json(String),
    /// 200 HTML (the index page).
    Html(String),
    /// 200 Prometheus text.
    Metrics(String),
    /// 400 with a plain-text reason.
    BadRequest(String),
    /// 503 with a JSON body (unhealthy).
    Unavailable(String),
    NotFound,
}

impl From<BadParam> for Reply {
    fn from(bad: BadParam) -> Reply {
        Reply::BadRequest(bad.0)
    }
}

/// The monitor's request handling without its HTTP server, for the fuzz target in `fuzz/`
/// (feature `fuzzing`): a request target in, the [`Answer`] the monitor thread would frame
/// out, with no socket and no thread. Requests are counted as the monitor counts them.
#[cfg(feature = "fuzzing")]
pub struct Endpoints(Handler);

#[cfg(feature = "fuzzing")]
impl Endpoints {
    /// Endpoints reading `view`, below `base_path` as the `http_base_path` option gives it
    /// (`None`: the one in `view`'s settings).
    pub fn new(view: Box<dyn ServerView>, base_path: Option<&str>) -> Endpoints {
        let configured = view.settings().opts.http_base_path.clone();
        let base_path = base_path
            .or(configured.as_deref())
            .unwrap_or("")
            .to_string();
        Endpoints(Handler::new(view, &base_path))
    }

    /// The answer to a request target: the path, then `?` and the query, as in the request
    /// line (`/connz?subs=1`).
    pub fn answer(&mut self, target: &str) -> Answer {
        self.0.respond(target)
    }
}

/// The monitor thread's state: the server view, the request counts and the CPU sampler.
struct Handler {
    view: Box<dyn ServerView>,
    /// Normalized base path: `/` or `/foo`.
    base: String,
    req_stats: BTreeMap<String, u64>,
    cpu: CpuSampler,
}

impl Handler {
    /// A handler reading `view`, serving below `base_path` (as configured: cleaned here).
    fn new(view: Box<dyn ServerView>, base_path: &str) -> Handler {
        Handler {
            view,
            base: normalize_base_path(base_path),
            req_stats: BTreeMap::new(),
            cpu: CpuSampler::new(),
        }
    }

    fn serve(&mut self, request: Request) {
        let answer = self.respond(request.url());
        if let Err(e) = request.respond(answer.into_response()) {
            error!("monitoring: error writing a response: {e}");
        }
    }

    /// The answer to a request target (the path, then `?` and the query, as in the
    /// request line), counted in `http_req_stats` as the endpoint counts it.
    fn respond(&mut self, target: &str) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = Query::parse(query);
        let reply = match self.endpoint(path) {
            Some(endpoint) => self.answer(endpoint, &query),
            None => Reply::NotFound,
        };
        Answer::of(reply, query.get("callback"))
    }

    /// The endpoint `path` names under the base path.
    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        if path == self.base {
            return Some(Endpoint::Root);
        }
        let below = match self.base.as_str() {
            "/" => path,
            base => path.strip_prefix(base)?,
        };
        Endpoint::named(below).filter(|e| *e != Endpoint::Root)
    }

    fn count(&mut self, endpoint: Endpoint) {
        if let Some(key) = endpoint.stats_key() {
            *self.req_stats.entry(key.to_string()).or_default() += 1;
        }
    }

    fn answer(&mut self, endpoint: Endpoint, query: &Query) -> Reply {
        match endpoint {
            Endpoint::Root => {
                self.count(endpoint);
                let base = if self.base == "/" { "" } else { &self.base };
                Reply::Html(root::page(base, crate::server::COMPATIBLE_VERSION))
            }
            Endpoint::Varz => {
                self.count(endpoint);
                Reply::Json(json::to_indented(&self.varz()))
            }
            Endpoint::Connz => match connz::ConnzQuery::decode(query) {
                Err(bad) => bad.into(),
                Ok(decoded) => {
                    self.count(endpoint);
                    indented(connz::connz(&*self.view, &decoded))
                }
            },
            Endpoint::Accountz => {
                self.count(endpoint);
                indented(accounts::accountz(&*self.view, query))
            }
            Endpoint::Accstatz => {
                self.count(endpoint);
                indented(accounts::accstatz(&*self.view, query))
            }
            Endpoint::Routez => match routez::routez(&*self.view, query) {
                Err(bad) => bad.into(),
                Ok(routez) => {
                    self.count(endpoint);
                    Reply::Json(json::to_indented(&routez))
                }
            },
            Endpoint::Leafz => {
                self.count(endpoint);
                indented(leafz::leafz(&*self.view, query))
            }
            Endpoint::Subsz => {
                self.count(endpoint);
                indented(subsz::subsz(&*self.view, query))
            }
            Endpoint::Healthz => {
                self.count(endpoint);
                for key in ["js-enabled", "js-enabled-only", "js-server-only"] {
                    if let Err(bad) = query.bool(key) {
                        return bad.into();
                    }
                }
                let health = health(&*self.view);
                match health.error {
                    None => Reply::Json(json::to_compact(&health)),
                    Some(_) => Reply::Unavailable(json::to_compact(&health)),
                }
            }
            Endpoint::Metrics => Reply::Metrics(self.metrics()),
        }
    }

    fn varz(&mut self) -> varz::Varz {
        let cpu = self.cpu.percent();
        varz::varz(&*self.view, cpu, self.req_stats.clone())
    }

    /// The Prometheus exposition of `/varz`, `/connz`, `/routez`, `/subsz`, `/healthz`,
    /// `/accstatz` and `/leafz`, each fetched with the exporter's parameters (so `/connz`
    /// sums its default page).
    fn metrics(&mut self) -> String {
        let varz = value(&self.varz());
        let defaults = Query::parse("");
        let connz = connz::ConnzQuery::decode(&defaults)
            .and_then(|q| connz::connz(&*self.view, &q))
            .map(|c| value(&c))
            .unwrap_or_default();
        let routez = routez::routez(&*self.view, &defaults)
            .map(|r| value(&r))
            .unwrap_or_default();
        let subsz = subsz::subsz(&*self.view, &defaults)
            .map(|s| value(&s))
            .unwrap_or_default();
        let healthz = value(&health(&*self.view));
        let accstatz = accounts::accstatz(&*self.view, &Query::parse("unused=1"))
            .map(|a| value(&a))
            .unwrap_or_default();
        let leafz = leafz::leafz(&*self.view, &defaults)
            .map(|l| value(&l))
            .unwrap_or_default();
        let server_id = self.view.settings().info.server_id.clone();
        metrics::render(&metrics::Sources {
            server_id: &server_id,
            varz: &varz,
            connz: &connz,
            routez: &routez,
            subsz: &subsz,
            healthz: &healthz,
            accstatz: &accstatz,
            leafz: &leafz,
        })
    }
}

/// A monitoring document as a JSON value (for `/metrics`).
fn value<T: Serialize>(doc: &T) -> serde_json::Value {
    serde_json::to_value(doc).unwrap_or_default()
}

fn indented<T: Serialize>(doc: Result<T, BadParam>) -> Reply {
    match doc {
        Ok(doc) => Reply::Json(json::to_indented(&doc)),
        Err(bad) => bad.into(),
    }
}

/// The `/healthz` document.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn health(view: &dyn ServerView) -> Health {
    if view.is_ready() {
        return Health {
            status: "ok",
            error: None,
        };
    }
    let error = "failed to be ready for connections after 1ms: server".to_string();
    warn!("Healthcheck failed: {}", gofmt::quote_str(&error));
    Health {
        status: "error",
        error: Some(error),
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// A reply as the reference frames it, before it is an HTTP response: status, content
/// type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    /// The status, content type and body of `reply`; JSON is wrapped in `callback(…)`
    /// (JSONP) when the request named a callback.
    fn of(reply: Reply, callback: &str) -> Answer {
        const TEXT: &str = "text/plain; charset=utf-8";
        let (status, content_type, body) = match reply {
            Reply::Json(body) if !callback.is_empty() => {
                (200, "application/javascript", format!("{callback}({body})"))
            }
            Reply::Json(body) => (200, "application/json", body),
            Reply::Html(body) => (200, "text/html; charset=utf-8", body),
            Reply::Metrics(body) => (200, "text/plain; version=0.0.4; charset=utf-8", body),
            Reply::BadRequest(text) => (400, TEXT, text),
            Reply::Unavailable(body) => (503, TEXT, body),
            Reply::NotFound => (404, TEXT, "404 page not found\n".to_string()),
        };
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// The HTTP response (a 404 also says `X-Content-Type-Options: nosniff`, as Go's
    /// `http.NotFound` does).
    fn into_response(self) -> Response<io::Cursor<Vec<u8>>> {
        let response = Response::from_string(self.body)
            .with_status_code(StatusCode(self.status))
            .with_header(header("Content-Type", self.content_type));
        match self.status {
            404 => response.with_header(header("X-Content-Type-Options", "nosniff")),
            _ => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{LeafnodeOptions, RemoteLeafOptions, TlsOptions};
    use crate::server::{
        AccountSnapshot, ConnInfo, LeafView, RouteView, Settings, StatsSnapshot, SubInfo,
        SubscriptionStats,
    };
    use std::time::SystemTime;

    /// A server that exists only in the test: the monitor sees what it is told.
    struct FakeView {
        settings: Arc<Settings>,
        ready: bool,
        clients: usize,
        /// Open leafnode links: the connection, with its interest, the bound account and
        /// whether we dialled it.
        leafs: Vec<(ConnInfo, Arc<str>, bool)>,
    }

    impl FakeView {
        fn new(ready: bool, clients: usize) -> FakeView {
            FakeView::with_options(Options::default(), ready, clients)
        }

        /// A ready server named `fake` with these options otherwise.
        fn with_options(opts: Options, ready: bool, clients: usize) -> FakeView {
            let opts = Options {
                server_name: Some("fake".into()),
                ..opts
            };
            let settings = Settings::for_options(opts).expect("settings");
            FakeView {
                settings: Arc::new(settings),
                ready,
                clients,
                leafs: Vec::new(),
            }
        }

        /// A server with two leafnode links: one accepted from a leaf on `$G` that is
        /// interested in `foo` and in `bar` (queue `q`), one dialled to a hub on `A`.
        fn linked() -> FakeView {
            let mut view = FakeView::new(true, 0);
            let from_leaf = ConnInfo {
                rtt: Duration::from_nanos(615_432),
                in_msgs: 1,
                out_msgs: 2,
                in_bytes: 3,
                out_bytes: 4,
                ..leaf_conn(5, 40722, &[("bar", Some("q")), ("foo", None)])
            };
            view.leafs = vec![
                (from_leaf, "$G".into(), false),
                (leaf_conn(6, 7422, &[]), "A".into(), true),
            ];
            view
        }
    }

    /// A leafnode link from 127.0.0.1:`port` that registered interest in `subs` (subject
    /// and queue, in key order), keyed `subject [queue]` as links key it.
    fn leaf_conn(cid: u64, port: u16, subs: &[(&str, Option<&str>)]) -> ConnInfo {
        let subs: Vec<SubInfo> = subs
            .iter()
            .map(|(subject, queue)| SubInfo {
                subject: subject.to_string(),
                queue: queue.map(str::to_string),
                sid: queue.map_or(subject.to_string(), |q| format!("{subject} {q}")),
                msgs: 0,
                max: 0,
                cid,
                account: "$G".into(),
            })
            .collect();
        ConnInfo {
            cid,
            kind: "Leafnode",
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            port,
            start: SystemTime::UNIX_EPOCH,
            last_activity: SystemTime::UNIX_EPOCH,
            closed: None,
            rtt: Duration::ZERO,
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            subscriptions: subs.len(),
            account: None,
            meta: Default::default(),
            subs,
        }
    }

    impl ServerView for FakeView {
        fn settings(&self) -> Arc<Settings> {
            self.settings.clone()
        }
        fn client_addr(&self) -> SocketAddr {
            "127.0.0.1:4222".parse().expect("an address")
        }
        fn started(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH
        }
        fn reactors(&self) -> usize {
            1
        }
        fn stats(&self) -> StatsSnapshot {
            StatsSnapshot {
                in_msgs: 7,
                ..StatsSnapshot::default()
            }
        }
        fn route_count(&self) -> usize {
            0
        }
        fn routes(&self, _with_subs: bool) -> Vec<RouteView> {
            Vec::new()
        }
        fn route_permissions(
            &self,
        ) -> (
            Option<crate::options::SubjectPermission>,
            Option<crate::options::SubjectPermission>,
        ) {
            (None, None)
        }
        fn cluster_name(&self) -> Option<String> {
            None
        }
        fn connect_urls(&self) -> Vec<String> {
            Vec::new()
        }
        fn client_count(&self) -> usize {
            self.clients
        }
        fn open_clients(&self, _with_subs: bool) -> Vec<ConnInfo> {
            Vec::new()
        }
        fn open_client(&self, _cid: u64, _with_subs: bool) -> Option<ConnInfo> {
            None
        }
        fn closed_clients(&self) -> Vec<Arc<ConnInfo>> {
            Vec::new()
        }
        fn subscriptions(&self) -> Vec<SubInfo> {
            Vec::new()
        }
        fn subscription_stats(&self) -> SubscriptionStats {
            SubscriptionStats::default()
        }
        fn is_ready(&self) -> bool {
            self.ready
        }

        fn system_account(&self) -> Option<String> {
            None
        }

        fn accounts(&self) -> Vec<AccountSnapshot> {
            vec![AccountSnapshot {
                name: "$G".into(),
                updated: SystemTime::UNIX_EPOCH,
                clients: self.clients,
                subscriptions: Default::default(),
                received: Default::default(),
                sent: Default::default(),
                responses: Vec::new(),
            }]
        }

        fn leafs(&self, with_subs: bool) -> Vec<LeafView> {
            let link = |(conn, account, solicited): &(ConnInfo, Arc<str>, bool)| LeafView {
                conn: ConnInfo {
                    subs: if with_subs {
                        conn.subs.clone()
                    } else {
                        Vec::new()
                    },
                    ..conn.clone()
                },
                account: account.clone(),
                solicited: *solicited,
            };
            self.leafs.iter().map(link).collect()
        }

        fn leaf_addr(&self) -> Option<SocketAddr> {
            let listening = self.settings.opts.leafnodes.port != 0;
            listening.then(|| "127.0.0.1:47422".parse().expect("an address"))
        }
    }

    #[test]
    fn endpoints_read_the_server_only_through_its_view() {
        let down = FakeView::new(false, 0);
        let health = serde_json::to_value(health(&down)).expect("json");
        assert_eq!(health["status"], "error");
        let up = FakeView::new(true, 3);
        let health = serde_json::to_value(super::health(&up)).expect("json");
        assert_eq!(health["status"], "ok");
        let varz = serde_json::to_value(varz::varz(&up, 0.0, BTreeMap::new())).expect("json");
        assert_eq!(varz["connections"], 3);
        assert_eq!(varz["in_msgs"], 7);
        assert_eq!(varz["server_name"], "fake");
        assert_eq!(varz["server_id"], up.settings.info.server_id.as_str());
    }

    #[test]
    fn answers_are_a_function_of_the_request_target() {
        use crate::server::testbed::TestBed;
        let mut bed = TestBed::new(Options::default());
        let subscriber = bed.client();
        bed.feed(subscriber, "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n");
        let publisher = bed.client();
        bed.feed(
            publisher,
            "CONNECT {\"verbose\":false}\r\nPUB foo 2\r\nhi\r\n",
        );
        bed.publish_counts();
        bed.hang_up(publisher);
        let mut handler = Handler::new(Box::new(bed.view()), "/mon/");
        let json = |answer: &Answer| -> serde_json::Value {
            serde_json::from_str(&answer.body).expect("JSON")
        };

        let open = handler.respond("/mon/connz?subs=1");
        assert_eq!((open.status, open.content_type), (200, "application/json"));
        let open = json(&open);
        assert_eq!(open["num_connections"], 1);
        assert_eq!(open["connections"][0]["subscriptions_list"][0], "foo");
        assert_eq!(open["connections"][0]["out_msgs"], 1);
        let closed = json(&handler.respond("/mon/connz?state=closed&sort=reason"));
        assert_eq!(closed["connections"][0]["reason"], "Client Closed");
        assert_eq!(closed["connections"][0]["in_msgs"], 1);

        let jsonp = handler.respond("/mon/subsz?subs=1&callback=cb");
        assert_eq!(jsonp.content_type, "application/javascript");
        assert!(jsonp.body.starts_with("cb({\n") && jsonp.body.ends_with("})"));
        let bad = handler.respond("/mon/connz?sort=nope&callback=cb");
        assert_eq!(
            (bad.status, bad.body.as_str()),
            (400, "invalid sorting option: nope")
        );
        let undecoded = handler.respond("/mon/connz?limit=x");
        assert_eq!(
            (undecoded.status, undecoded.body.as_str()),
            (
                400,
                "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"
            )
        );
        for missing in ["/connz", "/mon/", "/mon/connz/"] {
            let answer = handler.respond(missing);
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (404, "404 page not found\n"),
                "{missing}"
            );
        }
        let varz = json(&handler.respond("/mon/varz"));
        // As the reference: counted once the parameters decoded (a bad sort key too).
        assert_eq!(varz["http_req_stats"]["/connz"], 3);
        assert_eq!(varz["http_req_stats"]["/subsz"], 1);
    }

    #[test]
    fn account_endpoints_are_served_and_counted() {
        let bed = accounts::fixture::busy();
        let mut handler = Handler::new(Box::new(bed.view()), "");
        for (target, text) in [
            ("/accountz?acc=NOPE&callback=cb", "Account NOPE does not exist"),
            (
                "/accstatz?unused=maybe",
                "Error decoding boolean for 'unused': strconv.ParseBool: parsing \"maybe\": invalid syntax",
            ),
        ] {
            let answer = handler.respond(target);
            assert_eq!(
                (answer.status, answer.content_type, answer.body.as_str()),
                (400, "text/plain; charset=utf-8", text)
            );
        }
        let list = handler.respond("/accountz?callback=cb");
        assert_eq!(list.content_type, "application/javascript");
        assert!(
            list.body.starts_with("cb({\n  \"server_id\": \""),
            "{}",
            list.body
        );
        let statz = handler.respond("/accstatz");
        assert!(statz.body.contains("\"acc\": \"A\""), "{}", statz.body);
        let metrics = handler.respond("/metrics").body;
        assert!(metrics.contains(
            "\ngnatsd_accstatz_current_connections{account=\"A\",account_id=\"A\",account_name=\"\","
        ));
        let varz: serde_json::Value =
            serde_json::from_str(&handler.respond("/varz").body).expect("JSON");
        // As the reference: counted before the parameters are read.
        assert_eq!(varz["http_req_stats"]["/accountz"], 2);
        assert_eq!(varz["http_req_stats"]["/accstatz"], 2);
    }

    #[test]
    fn leafz_lists_links_with_their_interest_on_request() {
        let mut handler = Handler::new(Box::new(FakeView::linked()), "/mon");
        let mut json = |target: &str| -> serde_json::Value {
            let answer = handler.respond(target);
            assert_eq!(answer.status, 200, "{target}: {}", answer.body);
            serde_json::from_str(&answer.body).expect("JSON")
        };
        let all = json("/mon/leafz");
        assert_eq!(all["leafnodes"], 2);
        assert_eq!(all["leafs"][0]["subscriptions"], 2);
        assert_eq!(all["leafs"][1]["account"], "A");
        assert!(all["leafs"][0].get("subscriptions_list").is_none());
        let subs = json("/mon/leafz?subs=true");
        assert_eq!(
            subs["leafs"][0]["subscriptions_list"],
            serde_json::json!(["bar", "foo"])
        );
        // As Go's omitempty: a link without interest has no list.
        assert!(subs["leafs"][1].get("subscriptions_list").is_none());
        let of_a = json("/mon/leafz?acc=A");
        assert_eq!(of_a["leafnodes"], 1);
        assert_eq!(of_a["leafs"][0]["port"], 7422);
        let none = json("/mon/leafz?acc=B");
        assert_eq!(none["leafnodes"], 0);
        assert!(none["leafs"].is_null());
    }

    #[test]
    fn leafz_fields_are_the_reference_ones_in_its_order() {
        let view = FakeView::linked();
        let server_id = view.settings.info.server_id.clone();
        let body = Handler::new(Box::new(view), "")
            .respond("/leafz?subs=1&acc=$G")
            .body;
        assert!(
            body.starts_with(&format!(
                "{{\n  \"server_id\": \"{server_id}\",\n  \"now\": \""
            )),
            "{body}"
        );
        let link = body.split_once("\"leafnodes\"").expect("leafnodes").1;
        assert_eq!(
            link,
            r#": 1,
  "leafs": [
    {
      "account": "$G",
      "ip": "127.0.0.1",
      "port": 40722,
      "rtt": "615µs",
      "in_msgs": 1,
      "out_msgs": 2,
      "in_bytes": 3,
      "out_bytes": 4,
      "subscriptions": 2,
      "subscriptions_list": [
        "bar",
        "foo"
      ]
    }
  ]
}"#
        );
        let empty = Handler::new(Box::new(FakeView::new(true, 0)), "")
            .respond("/leafz")
            .body;
        assert!(
            empty.ends_with("\"leafnodes\": 0,\n  \"leafs\": null\n}"),
            "{empty}"
        );
    }

    #[test]
    fn leafz_subs_is_a_boolean_and_every_request_counts() {
        let mut handler = Handler::new(Box::new(FakeView::linked()), "");
        for subs in ["detail", "2"] {
            let bad = handler.respond(&format!("/leafz?subs={subs}&callback=cb"));
            assert_eq!(
                (bad.status, bad.content_type, bad.body),
                (
                    400,
                    "text/plain; charset=utf-8",
                    format!("Error decoding boolean for 'subs': strconv.ParseBool: parsing \"{subs}\": invalid syntax")
                )
            );
        }
        assert_eq!(handler.respond("/leafz?subs=0").status, 200);
        let varz: serde_json::Value =
            serde_json::from_str(&handler.respond("/varz").body).expect("JSON");
        // As the reference: counted before the parameters are read.
        assert_eq!(varz["http_req_stats"]["/leafz"], 3);
    }

    #[test]
    fn metrics_include_the_leafz_families() {
        let mut handler = Handler::new(Box::new(FakeView::linked()), "");
        let metrics = handler.respond("/metrics").body;
        let sample = |name: &str, port: u16, value: &str| {
            let labels = format!("ip=\"127.0.0.1\",name=\"\",port=\"{port}\",server_id=");
            metrics
                .lines()
                .any(|l| l.starts_with(name) && l.contains(&labels) && l.ends_with(value))
        };
        assert!(metrics.contains("\ngnatsd_leafz_conn_nodes_total{server_id="));
        assert!(sample("gnatsd_leafz_info{account=\"$G\"", 40722, "} 1"));
        assert!(sample(
            "gnatsd_leafz_conn_rtt{account=\"$G\"",
            40722,
            "} 0.000615"
        ));
        assert!(sample(
            "gnatsd_leafz_conn_out_bytes{account=\"A\"",
            7422,
            "} 0"
        ));
        // /metrics reads the documents without counting requests to them.
        let varz: serde_json::Value =
            serde_json::from_str(&handler.respond("/varz").body).expect("JSON");
        assert!(varz["http_req_stats"].get("/leafz").is_none());
    }

    /// `/varz` (compact) of a server with these leafnode options.
    fn varz_with(leafnodes: LeafnodeOptions) -> String {
        let view = FakeView::with_options(
            Options {
                leafnodes,
                ..Options::default()
            },
            true,
            0,
        );
        json::to_compact(&varz::varz(&view, 0.0, BTreeMap::new()))
    }

    /// The leafnode remotes of the `/varz` tests: credentials, a scheme and a missing port
    /// in the first's URLs; the second binds `A` and has TLS.
    fn remotes() -> Vec<RemoteLeafOptions> {
        let urls = |urls: &[&str]| urls.iter().map(|u| u.to_string()).collect();
        vec![
            RemoteLeafOptions {
                urls: urls(&["nats-leaf://u:p@127.0.0.1:7000", "tls://hub"]),
                deny_imports: vec!["a.>".into()],
                ..RemoteLeafOptions::default()
            },
            RemoteLeafOptions {
                urls: urls(&["[::1]:7001"]),
                account: Some("A".into()),
                tls: Some(TlsOptions::default()),
                deny_exports: vec!["b".into(), "c".into()],
                ..RemoteLeafOptions::default()
            },
        ]
    }

    #[test]
    fn varz_shows_the_leafnode_listener_with_its_defaults() {
        let none = varz_with(LeafnodeOptions::default());
        assert!(none.contains(r#","leaf":{},"mqtt""#), "{none}");
        assert!(none.contains(r#","cluster":{},"#), "{none}");
        let hub = varz_with(LeafnodeOptions {
            port: -1,
            ..LeafnodeOptions::default()
        });
        let expected =
            r#","leaf":{"host":"0.0.0.0","port":47422,"auth_timeout":2,"tls_timeout":2},"#;
        assert!(hub.contains(expected), "{hub}");
        let secure = varz_with(LeafnodeOptions {
            host: Some("127.0.0.1".into()),
            port: 7422,
            tls: Some(TlsOptions {
                verify: true,
                ..TlsOptions::default()
            }),
            ..LeafnodeOptions::default()
        });
        let expected = concat!(
            r#","leaf":{"host":"127.0.0.1","port":47422,"auth_timeout":3,"tls_timeout":2,"#,
            r#""tls_required":true,"tls_verify":true},"#
        );
        assert!(secure.contains(expected), "{secure}");
    }

    #[test]
    fn varz_shows_the_remotes_of_a_leaf_and_its_cluster_name() {
        let leaf = varz_with(LeafnodeOptions {
            auth_timeout: 5.0,
            tls: Some(TlsOptions::default()),
            remotes: remotes(),
            ..LeafnodeOptions::default()
        });
        // No listener: no listener defaults (the reference's baseline needs a port). Go
        // escapes `>` in JSON strings.
        let expected = concat!(
            r#","leaf":{"auth_timeout":5,"tls_required":true,"remotes":["#,
            r#"{"local_account":"$G","urls":["127.0.0.1:7000","hub:7422"],"deny":{"imports":["a.\u003e"]}},"#,
            r#"{"local_account":"A","tls_timeout":2,"urls":["[::1]:7001"],"deny":{"exports":["b","c"]}}"#,
            r#"]},"#
        );
        assert!(leaf.contains(expected), "{leaf}");
        // A standalone leaf takes its server name as its cluster name, and shows it.
        assert!(leaf.contains(r#","cluster":{"name":"fake"},"#), "{leaf}");
    }

    #[test]
    fn varz_counts_leafnode_links_of_both_roles() {
        let varz = varz::varz(&FakeView::linked(), 0.0, BTreeMap::new());
        let varz = serde_json::to_value(varz).expect("json");
        assert_eq!(varz["leafnodes"], 2);
    }

    #[test]
    fn base_paths_clean_like_go() {
        assert_eq!(normalize_base_path(""), "/");
        assert_eq!(normalize_base_path("foo"), "/foo");
        assert_eq!(normalize_base_path("/foo/"), "/foo");
        assert_eq!(normalize_base_path("/a/./b/../c"), "/a/c");
    }

    #[test]
    fn endpoints_match_exactly() {
        assert_eq!(Endpoint::named("/subscriptionsz"), Some(Endpoint::Subsz));
        assert_eq!(Endpoint::named("/varz/"), None);
        assert_eq!(Endpoint::named("/connz/x"), None);
        assert_eq!(Endpoint::Subsz.stats_key(), Some("/subsz"));
        assert_eq!(Endpoint::named("/leafz"), Some(Endpoint::Leafz));
        assert_eq!(Endpoint::Leafz.stats_key(), Some("/leafz"));
        assert_eq!(Endpoint::Metrics.stats_key(), None);
    }
}
