//! Route connections on a reactor: the handshake (CONNECT and INFO), registration with
//! duplicate and self detection, gossip of new servers, remote interest (RS+/RS-) and
//! routed messages (RMSG/HMSG), as nats-server 2.9 speaks them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, info};
use mio::net::TcpStream;

use super::cluster::{self, RouteMeta, GLOBAL_ACCOUNT};
use super::conn::{CloseReason, ConnShared, SubRef, Subscription};
use super::dialer::{DialJob, RETRY_DELAY};
use super::reactor::Reactor;
use super::route_info::{RouteConnect, RouteInfo};
use super::timer::TimerKind;
use crate::auth::secret_matches;
use crate::proto::{Frame, Op, RoutedArgs};
use crate::route_url::RouteUrl;
use crate::tls::TlsSession;

/// When the first PING goes to a new route.
const FIRST_ROUTE_PING: Duration = Duration::from_secs(1);

/// What only a route connection has, kept by its owner reactor.
#[derive(Default)]
pub struct RouteConn {
    /// The URL we dialled (`None`: the peer dialled us).
    pub url: Option<RouteUrl>,
    /// The URL is a configured route.
    pub explicit: bool,
    /// The peer's server id, once its INFO arrived.
    pub remote_id: Option<String>,
    /// Registered with the cluster (its INFO was accepted).
    pub registered: bool,
    /// The peer sent CONNECT.
    pub connected: bool,
    /// The peer address dialled (to remember it if it turns out to be us).
    pub dialled: Option<SocketAddr>,
    /// The two servers were settling on one dynamic cluster name when this route closed
    /// (one adopts the other's): dial again at once rather than after the retry delay.
    pub quick_redial: bool,
}

impl Reactor {
    /// Takes on a route socket: accepted (`url` = `None`) or dialled.
    pub(super) fn register_route(
        &mut self,
        sock: TcpStream,
        addr: SocketAddr,
        cid: u64,
        url: Option<(RouteUrl, bool)>,
    ) {
        let Some(cluster) = self.shared.cluster.clone() else {
            return;
        };
        let Some(token) = self.adopt(sock, addr, cid, true) else {
            return;
        };
        let opts = self.settings.opts.clone();
        let info = cluster.current_info();
        let mut hello = Vec::new();
        let solicited = url.is_some();
        if let Some((url, _)) = &url {
            let connect = RouteConnect {
                echo: true,
                user: url.user.clone().unwrap_or_default(),
                pass: url.pass.clone().unwrap_or_default(),
                tls_required: info.tls_required,
                headers: info.headers,
                name: info.server_id.clone(),
                cluster: info.cluster.clone(),
                cluster_dynamic: info.cluster_dynamic,
                ..RouteConnect::default()
            };
            hello.extend_from_slice(&connect.line());
        }
        hello.extend_from_slice(&info.first_line());
        // Route TLS starts before anything else is said, on both ends.
        let tls = match (&cluster.tls, &url) {
            (None, _) => None,
            (Some(tls), None) => TlsSession::new(tls.server.clone()).ok(),
            (Some(tls), Some((url, _))) => {
                TlsSession::new_client(tls.client.clone(), &url.host).ok()
            }
        };
        let handshaking = tls.is_some();
        let conn = &mut self.conns[token];
        conn.shared.direct.store(!handshaking, Ordering::Relaxed);
        conn.tls = tls;
        conn.wbuf = hello;
        conn.route = Some(Box::new(RouteConn {
            explicit: url.as_ref().is_some_and(|(_, e)| *e),
            url: url.map(|(u, _)| u),
            dialled: solicited.then_some(addr),
            ..RouteConn::default()
        }));
        let now = Instant::now();
        conn.ping.due = now + FIRST_ROUTE_PING;
        self.schedule(token, now + FIRST_ROUTE_PING, TimerKind::Ping);
        if handshaking {
            let timeout = opts.cluster.tls.as_ref().map_or(2.0, |t| t.timeout);
            let timeout = Duration::from_secs_f64(if timeout > 0.0 { timeout } else { 2.0 });
            self.schedule(token, now + timeout, TimerKind::TlsTimeout);
        }
        if !solicited && opts.cluster.username.is_some() {
            let timeout = match opts.cluster.auth_timeout {
                t if t > 0.0 => Duration::from_secs_f64(t),
                _ => Duration::from_secs(2),
            };
            self.schedule(token, now + timeout, TimerKind::AuthTimeout);
        }
        self.out.mark_dirty(&mut self.conns, token);
        info!(
            "{}Route connection created",
            self.conns[token].shared.prefix()
        );
    }

    /// Runs one operation from a route.
    pub(super) fn dispatch_route(&mut self, token: usize, frame: Frame<'_>) {
        let auth_required = self.settings.opts.cluster.username.is_some();
        let route = self.conns[token].route.as_ref().expect("a route");
        let accepted = route.url.is_none();
        if accepted && auth_required && !route.connected && !matches!(frame.op, Op::Connect(_)) {
            self.route_refused(
                token,
                "Authorization Violation",
                CloseReason::AuthenticationFailure,
            );
            return;
        }
        match frame.op {
            Op::Connect(json) => self.on_route_connect(token, json),
            Op::Info(json) => self.on_route_info(token, json),
            Op::Ping => self.send_proto(token, b"PONG\r\n", "PONG"),
            Op::Pong => self.on_pong(token),
            Op::RouteSub {
                account,
                subject,
                queue,
                weight,
            } => self.on_route_sub(token, account, subject, queue, weight),
            Op::RouteUnsub {
                account,
                subject,
                queue,
            } => self.on_route_unsub(token, account, subject, queue),
            Op::RouteMsg {
                header_len,
                message,
            } => {
                let Some(routed) = RoutedArgs::parse(frame.args, header_len.is_some()) else {
                    return;
                };
                if routed.account == GLOBAL_ACCOUNT {
                    self.on_routed_msg(token, &routed, header_len, message, frame.args);
                } else {
                    debug!(
                        "{}Unknown account {:?} for routed message on subject: {:?}",
                        self.conns[token].shared.prefix(),
                        String::from_utf8_lossy(routed.account),
                        String::from_utf8_lossy(routed.subject)
                    );
                }
            }
            Op::Err(text) => {
                error!(
                    "{}Router Error {}",
                    self.conns[token].shared.prefix(),
                    String::from_utf8_lossy(text)
                );
                self.close(token, CloseReason::ParseError, false);
            }
            _ => {}
        }
    }

    /// `-ERR '<text>'`, then close.
    fn route_refused(&mut self, token: usize, text: &str, reason: CloseReason) {
        error!("{}{text}", self.conns[token].shared.prefix());
        self.send_err_and_close(token, text, reason);
    }

    fn on_route_connect(&mut self, token: usize, json: &[u8]) {
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            self.close(token, CloseReason::ProtocolViolation, false);
            return;
        };
        let cluster_opts = &self.settings.opts.cluster;
        if let Some(user) = &cluster_opts.username {
            let pass = cluster_opts.password.as_deref().unwrap_or("");
            let cluster = self
                .shared
                .cluster
                .clone()
                .expect("routes run with a cluster");
            let pass_ok = secret_matches(pass, &connect.pass, &cluster.verified_passwords);
            if connect.user != *user || !pass_ok {
                // Logged as the reference does; answered with the usual violation.
                error!("{}authentication error", self.conns[token].shared.prefix());
                self.send_err_and_close(
                    token,
                    "Authorization Violation",
                    CloseReason::AuthenticationFailure,
                );
                return;
            }
        }
        if !connect.lang.is_empty() {
            self.route_refused(
                token,
                "attempted to connect to route port",
                CloseReason::WrongPort,
            );
            return;
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {:?} on the Route port",
                connect.gateway
            );
            self.route_refused(token, &text, CloseReason::WrongGateway);
            return;
        }
        let cluster = self
            .shared
            .cluster
            .clone()
            .expect("routes run with a cluster");
        let (ours, dynamic) = {
            let state = cluster.lock();
            (state.name.clone(), state.dynamic)
        };
        if !connect.cluster.is_empty() && connect.cluster != ours && !dynamic {
            let text = format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                connect.cluster, ours
            );
            self.route_refused(token, &text, CloseReason::ClusterNameConflict);
            return;
        }
        let conn = &mut self.conns[token];
        conn.connected = true;
        if let Some(route) = conn.route.as_mut() {
            route.connected = true;
        }
    }

    fn on_route_info(&mut self, token: usize, json: &[u8]) {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            self.close(token, CloseReason::ProtocolViolation, false);
            return;
        };
        let cluster = self
            .shared
            .cluster
            .clone()
            .expect("routes run with a cluster");
        let our = self.settings.info.clone();
        let conn = &mut self.conns[token];
        let route = conn.route.as_mut().expect("a route");
        if info.server_id == our.server_id {
            // A route to ourselves: remember the address so it is never dialled again.
            if let Some(addr) = route.dialled {
                cluster.lock().self_addrs.insert(addr);
            }
            route.remote_id = Some(info.server_id);
            self.close(token, CloseReason::DuplicateRoute, false);
            return;
        }
        if !info.cluster.is_empty() {
            let mut state = cluster.lock();
            if info.cluster != state.name {
                let adopt = state.dynamic && (!info.cluster_dynamic || state.name < info.cluster);
                if !adopt {
                    drop(state);
                    // A dynamic peer adopts our name when it reads our INFO.
                    self.conns[token]
                        .route
                        .as_mut()
                        .expect("a route")
                        .quick_redial = info.cluster_dynamic;
                    self.close(token, CloseReason::ClusterNameConflict, false);
                    return;
                }
                state.name = info.cluster.clone();
                state.dynamic = info.cluster_dynamic;
                info!("Cluster name updated to {}", info.cluster);
                drop(state);
                if let Some(route) = self.conns[token].route.as_mut() {
                    route.quick_redial = true;
                }
            }
        }
        let route = self.conns[token].route.as_mut().expect("a route");
        if route.registered {
            if route.remote_id.as_deref() != Some(info.server_id.as_str()) {
                self.implicit_route(&info);
            } else if info.ldm {
                // The peer is in lame duck mode: stop advertising its client URLs.
                let cid = self.conns[token].shared.cid;
                cluster.forget_client_urls(cid);
                self.shared.client_urls_changed();
            }
            return;
        }
        if route.url.is_none() && info.server_name == our.server_name {
            error!(
                "{}Remote server has a duplicate name: {:?}",
                self.conns[token].shared.prefix(),
                info.server_name
            );
            self.close(token, CloseReason::DuplicateServerName, false);
            return;
        }
        route.remote_id = Some(info.server_id.clone());
        let meta = RouteMeta {
            did_solicit: route.url.is_some(),
            is_configured: route.explicit,
            url: route.url.clone(),
            import: info.import.clone(),
            export: info.export.clone(),
        };
        let shared = self.conns[token].shared.clone();
        shared.headers.store(info.headers, Ordering::Relaxed);
        let connect_urls = match self.settings.opts.cluster.no_advertise {
            true => Vec::new(),
            false => info.connect_urls.clone(),
        };
        let Ok(registered) = cluster.register(&shared, &info.server_id, connect_urls, meta) else {
            debug!(
                "{}Detected duplicate remote route {:?}",
                shared.prefix(),
                info.server_id
            );
            self.close(token, CloseReason::DuplicateRoute, false);
            return;
        };
        debug!(
            "{}Registering remote route {:?}",
            shared.prefix(),
            info.server_id
        );
        let conn = &mut self.conns[token];
        conn.route.as_mut().expect("a route").registered = true;
        conn.established = true;
        conn.wbuf.extend_from_slice(&registered.dump);
        self.out.mark_dirty(&mut self.conns, token);
        debug!("{}Sent local subscriptions to route", shared.prefix());
        if !registered.others.is_empty() {
            let mut gossip = info;
            gossip.nonce.clear();
            if gossip.ip.is_empty() {
                let peer = self.conns[token].addr.ip();
                let host = crate::hostport::join_host_port(&peer.to_string(), gossip.port);
                gossip.ip = format!("nats-route://{host}/");
            }
            let line = gossip.gossip_line();
            for other in &registered.others {
                cluster::send(&self.shared, other, &line);
            }
        }
        self.shared.client_urls_changed();
    }

    /// A gossiped INFO about another server: dial it unless we know it already.
    fn implicit_route(&mut self, info: &RouteInfo) {
        let cluster = self
            .shared
            .cluster
            .clone()
            .expect("routes run with a cluster");
        if info.server_id == self.settings.info.server_id || info.ip.is_empty() {
            return;
        }
        if cluster.lock().route_to(&info.server_id).is_some() {
            return;
        }
        let Ok(mut url) = RouteUrl::parse(&info.ip) else {
            error!("Error parsing URL from INFO: {:?}", info.ip);
            return;
        };
        let configured = RouteUrl::parse(&format!("{}:{}", info.host, info.port));
        if configured.is_ok_and(|c| cluster.is_explicit(&c)) {
            return;
        }
        if info.auth_required {
            let opts = &self.settings.opts.cluster;
            url.user = opts.username.clone();
            url.pass = opts.password.clone();
        }
        cluster.dials.push(DialJob {
            url,
            explicit: false,
            due: Instant::now(),
            attempts: 0,
        });
    }

    fn on_route_sub(
        &mut self,
        token: usize,
        account: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
        weight: i32,
    ) {
        let prefix = self.conns[token].shared.prefix();
        if account != GLOBAL_ACCOUNT {
            debug!(
                "{prefix}Unknown account {:?} for remote subject {:?}",
                String::from_utf8_lossy(account),
                String::from_utf8_lossy(subject)
            );
            return;
        }
        let cluster = self
            .shared
            .cluster
            .clone()
            .expect("routes run with a cluster");
        if !cluster.can_export(subject) {
            debug!(
                "{prefix}Can not export {:?}, ignoring remote subscription request",
                String::from_utf8_lossy(subject)
            );
            return;
        }
        let key = remote_key(account, subject, queue);
        let shared = self.conns[token].shared.clone();
        let weight = u64::try_from(weight.max(1)).unwrap_or(1);
        if let Some(existing) = shared.subs.get(&key) {
            existing.weight.store(weight, Ordering::Relaxed);
            return;
        }
        let sub = SubRef(Arc::new(Subscription {
            conn: shared,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: key.clone(),
            max: AtomicU64::new(0),
            deny: None,
            delivered: AtomicU64::new(0),
            weight: AtomicU64::new(weight),
        }));
        self.shared.sublist.insert(subject, queue, sub.clone());
        self.conns[token].shared.subs.lock().insert(key, sub);
    }

    fn on_route_unsub(
        &mut self,
        token: usize,
        account: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
    ) {
        let key = remote_key(account, subject, queue);
        let removed = self.conns[token].shared.subs.lock().remove(&key);
        if let Some(sub) = removed {
            self.shared.sublist.remove(subject, queue, &sub);
        }
    }

    /// Route teardown: its remote interest goes, the cluster forgets it, a dialled route
    /// is dialled again.
    pub(super) fn route_closed(&mut self, route: RouteConn, shared: &ConnShared) {
        let cid = shared.cid;
        let subs: Vec<SubRef> = shared.subs.lock().drain().map(|(_, s)| s).collect();
        self.shared
            .sublist
            .remove_batch(subs.iter().map(|s| (&*s.subject, s.queue.as_deref(), s)));
        let Some(cluster) = self.shared.cluster.clone() else {
            return;
        };
        if cluster.unregister(cid) {
            self.shared.client_urls_changed();
        }
        if self.shared.is_shutting_down() {
            return;
        }
        let Some(url) = route.url else {
            return;
        };
        // Not again to ourselves, nor to a server reached another way meanwhile; only
        // configured routes are dialled again (gossiped ones are re-learnt by gossip).
        let connected = route.remote_id.as_deref().is_some_and(|id| {
            id == self.settings.info.server_id || cluster.lock().route_to(id).is_some()
        });
        if connected || !route.explicit || !cluster.is_explicit(&url) {
            return;
        }
        debug!(
            "Attempting reconnect for solicited route {:?}",
            url.to_string()
        );
        let jitter = Duration::from_millis(self.random() % 100);
        let delay = match route.quick_redial {
            true => jitter,
            false => RETRY_DELAY + jitter,
        };
        cluster.dials.push(DialJob {
            url,
            explicit: true,
            due: Instant::now() + delay,
            attempts: 0,
        });
    }
}

/// `account subject [queue]`: how a remote subscription is keyed (and shown as its sid).
fn remote_key(account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Box<[u8]> {
    let mut key = account.to_vec();
    key.push(b' ');
    key.extend_from_slice(subject);
    if let Some(queue) = queue {
        key.push(b' ');
        key.extend_from_slice(queue);
    }
    key.into()
}
