//! The route role: a [`RouteSession`] speaks the nats-server 2.9 route protocol with
//! another server of the cluster: the handshake (CONNECT and INFO), registration with
//! duplicate and self detection, gossip of new servers, remote interest (RS+/RS-) and
//! routed messages (RMSG/HMSG, delivered to local subscribers only: the one-hop rule).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, error, info};

use super::account::Account;
use super::cluster::{Cluster, PeerUrls, RouteMeta};
use super::conn::{CloseReason, ConnShared, SubRef, Subscription};
use super::deliver::{self, LazySizes, Message};
use super::dialer::{DialJob, RETRY_DELAY};
use super::handover;
use super::role::{Liveness, Role};
use super::route_info::{RouteConnect, RouteInfo};
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::proto::{Frame, Op, Parser, RoutedArgs};
use crate::route_url::RouteUrl;
use crate::tls::TlsSession;

/// When the first PING goes to a new route.
const FIRST_ROUTE_PING: Duration = Duration::from_secs(1);

/// The most input a route operation may hold (routes have no payload limit).
const MAX_ROUTED_INPUT: usize = 64 * 1024 * 1024;

/// How the route came about.
pub enum Origin {
    /// The peer dialled us.
    Accepted,
    /// We dialled `url` (a configured route when `explicit`) at `addr`.
    Dialled {
        url: RouteUrl,
        explicit: bool,
        addr: SocketAddr,
    },
}

/// Where a route is in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// An accepted route before the peer's CONNECT (with route auth, nothing else is
    /// allowed; the auth timer runs).
    AwaitingConnect,
    /// Waiting for the peer's INFO.
    AwaitingInfo,
    /// Registered with the cluster: interest and messages flow.
    Registered,
}

/// A route connection's protocol state.
pub struct RouteSession {
    shared: Arc<ConnShared>,
    cluster: Arc<Cluster>,
    parser: Parser,
    origin: Origin,
    phase: Phase,
    /// The peer's server id, once its INFO arrived.
    remote_id: Option<String>,
    /// The two servers were settling on one dynamic cluster name when this route closed
    /// (one adopts the other's): dial again at once rather than after the retry delay.
    quick_redial: bool,
    liveness: Liveness,
    /// The account of the last routed message (most routes carry one account's traffic).
    last_account: Option<Arc<Account>>,
}

/// What we say first on a new route: CONNECT when we dialled, then our INFO.
pub fn hello(cluster: &Cluster, origin: &Origin) -> Vec<u8> {
    let info = cluster.current_info();
    let mut hello = Vec::new();
    if let Origin::Dialled { url, .. } = origin {
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
    hello
}

/// The TLS session of a new route, when route TLS is on (it starts before anything else
/// is said, on both ends), and how long its handshake may take.
pub fn tls_session(
    cluster: &Cluster,
    origin: &Origin,
    settings: &Settings,
) -> Option<(TlsSession, Duration)> {
    let tls = cluster.tls.as_ref()?;
    let session = match origin {
        Origin::Accepted => TlsSession::new(tls.server.clone()).ok()?,
        Origin::Dialled { url, .. } => {
            TlsSession::new_client(tls.client.clone(), &url.host).ok()?
        }
    };
    let timeout = settings
        .opts
        .cluster
        .tls
        .as_ref()
        .map_or(0.0, |t| t.timeout);
    let timeout = crate::options::seconds_or(timeout, Duration::from_secs(2));
    Some((session, timeout))
}

impl RouteSession {
    /// The session of a route just accepted or dialled (its hello is queued): arms its
    /// timers.
    pub fn start(
        shared: Arc<ConnShared>,
        cluster: Arc<Cluster>,
        origin: Origin,
        turn: &mut Turn,
    ) -> RouteSession {
        let token = shared.token;
        let now = Instant::now();
        turn.schedule(token, now + FIRST_ROUTE_PING, TimerKind::Ping);
        let cluster_opts = &turn.settings.opts.cluster;
        let phase = match origin {
            Origin::Accepted => {
                if cluster_opts.username.is_some() {
                    let timeout = crate::options::seconds_or(
                        cluster_opts.auth_timeout,
                        Duration::from_secs(2),
                    );
                    turn.schedule(token, now + timeout, TimerKind::AuthTimeout);
                }
                Phase::AwaitingConnect
            }
            Origin::Dialled { .. } => Phase::AwaitingInfo,
        };
        info!("{}Route connection created", shared.prefix());
        RouteSession {
            shared,
            cluster,
            parser: Parser::new_route(),
            origin,
            phase,
            remote_id: None,
            quick_redial: false,
            last_account: None,
            liveness: Liveness::new(now + FIRST_ROUTE_PING),
        }
    }

    fn token(&self) -> usize {
        self.shared.token
    }

    /// `-ERR '<text>'`, then close.
    fn refuse(&self, text: &str, reason: CloseReason, turn: &mut Turn) {
        error!("{}{text}", self.shared.prefix());
        turn.send_err_and_close(self.token(), text, reason);
    }

    fn on_connect(&mut self, json: &[u8], turn: &mut Turn) {
        let token = self.token();
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            turn.close(token, CloseReason::ProtocolViolation);
            return;
        };
        let cluster_opts = &turn.settings.opts.cluster;
        if let Some(user) = &cluster_opts.username {
            let pass = cluster_opts.password.as_deref().unwrap_or("");
            let pass_ok =
                crate::auth::secret_matches(pass, &connect.pass, &self.cluster.verified_passwords);
            if connect.user != *user || !pass_ok {
                // Logged as the reference does; answered with the usual violation.
                error!("{}authentication error", self.shared.prefix());
                turn.send_err_and_close(
                    token,
                    "Authorization Violation",
                    CloseReason::AuthenticationFailure,
                );
                return;
            }
        }
        if !connect.lang.is_empty() {
            self.refuse(
                "attempted to connect to route port",
                CloseReason::WrongPort,
                turn,
            );
            return;
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {:?} on the Route port",
                connect.gateway
            );
            self.refuse(&text, CloseReason::WrongGateway, turn);
            return;
        }
        let (ours, dynamic) = {
            let state = self.cluster.lock();
            (state.name.clone(), state.dynamic)
        };
        if !connect.cluster.is_empty() && connect.cluster != ours && !dynamic {
            let text = format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                connect.cluster, ours
            );
            self.refuse(&text, CloseReason::ClusterNameConflict, turn);
            return;
        }
        if self.phase == Phase::AwaitingConnect {
            self.phase = Phase::AwaitingInfo;
        }
    }

    fn on_info(&mut self, json: &[u8], turn: &mut Turn) {
        let token = self.token();
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            turn.close(token, CloseReason::ProtocolViolation);
            return;
        };
        let our = &turn.settings.info;
        if info.server_id == our.server_id {
            // A route to ourselves: remember the address so it is never dialled again.
            if let Origin::Dialled { addr, .. } = &self.origin {
                self.cluster.lock().self_addrs.insert(*addr);
            }
            self.remote_id = Some(info.server_id);
            turn.close(token, CloseReason::DuplicateRoute);
            return;
        }
        if !info.cluster.is_empty() {
            let mut state = self.cluster.lock();
            if info.cluster != state.name {
                let adopt = state.dynamic && (!info.cluster_dynamic || state.name < info.cluster);
                if !adopt {
                    drop(state);
                    // A dynamic peer adopts our name when it reads our INFO.
                    self.quick_redial = info.cluster_dynamic;
                    turn.close(token, CloseReason::ClusterNameConflict);
                    return;
                }
                state.name = info.cluster.clone();
                state.dynamic = info.cluster_dynamic;
                info!("Cluster name updated to {}", info.cluster);
                drop(state);
                self.quick_redial = true;
            }
        }
        if self.phase == Phase::Registered {
            if self.remote_id.as_deref() != Some(info.server_id.as_str()) {
                self.implicit_route(&info, turn);
            } else if info.ldm {
                // The peer is in lame duck mode: stop advertising its client URLs.
                self.cluster.forget_client_urls(self.shared.cid);
                turn.shared.client_urls_changed();
            }
            return;
        }
        let accepted = matches!(self.origin, Origin::Accepted);
        if accepted && info.server_name == our.server_name {
            error!(
                "{}Remote server has a duplicate name: {:?}",
                self.shared.prefix(),
                info.server_name
            );
            turn.close(token, CloseReason::DuplicateServerName);
            return;
        }
        self.register(info, turn);
    }

    /// Registers the route with the cluster under the peer's server id, sends it our
    /// interest, and tells the other routes about the new server.
    fn register(&mut self, info: RouteInfo, turn: &mut Turn) {
        let token = self.token();
        self.remote_id = Some(info.server_id.clone());
        let info_leaf_urls_empty = info.leafnode_urls.is_empty();
        let meta = match &self.origin {
            Origin::Accepted => RouteMeta {
                import: info.import.clone(),
                export: info.export.clone(),
                ..RouteMeta::default()
            },
            Origin::Dialled { url, explicit, .. } => RouteMeta {
                did_solicit: true,
                is_configured: *explicit,
                url: Some(url.clone()),
                import: info.import.clone(),
                export: info.export.clone(),
                ..RouteMeta::default()
            },
        };
        let shared = &self.shared;
        shared.headers.store(info.headers, Ordering::Relaxed);
        let connect_urls = match turn.settings.opts.cluster.no_advertise {
            true => Vec::new(),
            false => info.connect_urls.clone(),
        };
        let urls = PeerUrls {
            clients: connect_urls,
            leafs: info.leafnode_urls.clone(),
        };
        let Ok(registered) = self.cluster.register(shared, &info.server_id, urls, meta) else {
            debug!(
                "{}Detected duplicate remote route {:?}",
                shared.prefix(),
                info.server_id
            );
            let dial = match &self.origin {
                Origin::Dialled { url, explicit, .. } => Some((url, *explicit)),
                Origin::Accepted => None,
            };
            self.cluster.keep_over_duplicate(&info.server_id, dial);
            turn.close(token, CloseReason::DuplicateRoute);
            return;
        };
        debug!(
            "{}Registering remote route {:?}",
            shared.prefix(),
            info.server_id
        );
        self.phase = Phase::Registered;
        turn.output(token).queue.extend(&registered.dump);
        debug!("{}Sent local subscriptions to route", shared.prefix());
        if !registered.others.is_empty() {
            let mut gossip = info;
            gossip.nonce.clear();
            if gossip.ip.is_empty() {
                let peer = shared.addr.ip();
                let host = crate::hostport::join_host_port(&peer.to_string(), gossip.port);
                gossip.ip = format!("nats-route://{host}/");
            }
            let line = gossip.gossip_line();
            for other in &registered.others {
                handover::send(&turn.shared, other, &line);
            }
        }
        turn.shared.client_urls_changed();
        if !info_leaf_urls_empty {
            turn.shared.leaf_urls_changed();
        }
    }

    /// A gossiped INFO about another server: dial it unless we know it already.
    fn implicit_route(&self, info: &RouteInfo, turn: &Turn) {
        if info.server_id == turn.settings.info.server_id || info.ip.is_empty() {
            return;
        }
        if self.cluster.lock().route_to(&info.server_id).is_some() {
            return;
        }
        let Ok(mut url) = RouteUrl::parse(&info.ip) else {
            error!("Error parsing URL from INFO: {:?}", info.ip);
            return;
        };
        let configured = RouteUrl::parse(&format!("{}:{}", info.host, info.port));
        if configured.is_ok_and(|c| self.cluster.is_explicit(&c)) {
            return;
        }
        if info.auth_required {
            let opts = &turn.settings.opts.cluster;
            url.user = opts.username.clone();
            url.pass = opts.password.clone();
        }
        self.cluster.dials.push(DialJob {
            url,
            explicit: false,
            due: Instant::now(),
            attempts: 0,
        });
    }

    /// RS+: remote interest, kept as a subscription of the route (weighted for queues).
    fn on_sub(
        &mut self,
        account: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
        weight: i32,
        turn: &mut Turn,
    ) {
        let prefix = self.shared.prefix();
        let Some(account) = turn.shared.accounts.get(account) else {
            error!(
                "{prefix}Unknown account {:?} for remote subject {:?}",
                String::from_utf8_lossy(account),
                String::from_utf8_lossy(subject)
            );
            return;
        };
        if !self.cluster.can_export(subject) {
            debug!(
                "{prefix}Can not export {:?}, ignoring remote subscription request",
                String::from_utf8_lossy(subject)
            );
            return;
        }
        let key = remote_key(account.name.as_bytes(), subject, queue);
        let weight = u64::try_from(weight.max(1)).unwrap_or(1);
        if let Some(existing) = self.shared.subs.get(&key) {
            existing.weight.store(weight, Ordering::Relaxed);
            return;
        }
        let sub = SubRef(Arc::new(Subscription {
            conn: self.shared.clone(),
            account: account.clone(),
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: key.clone(),
            max: AtomicU64::new(0),
            deny: None,
            delivered: AtomicU64::new(0),
            weight: AtomicU64::new(weight),
            import: None,
            shadows: Mutex::default(),
        }));
        account.sublist.insert(subject, queue, sub.clone());
        self.shared.subs.lock().insert(key, sub.clone());
        turn.interest_changed(&sub, true);
    }

    /// RS-: the remote interest is gone.
    fn on_unsub(&mut self, account: &[u8], subject: &[u8], queue: Option<&[u8]>, turn: &Turn) {
        let key = remote_key(account, subject, queue);
        let removed = self.shared.subs.lock().remove(&key);
        match removed {
            Some(sub) => {
                if sub.account.sublist.remove(subject, queue, &sub) {
                    turn.interest_changed(&sub, false);
                }
            }
            None => debug!(
                "{}Unknown account {:?} for subject {:?}",
                self.shared.prefix(),
                String::from_utf8_lossy(account),
                String::from_utf8_lossy(subject)
            ),
        }
    }

    /// The account a routed message names, if this server has it.
    fn routed_account(&mut self, name: &[u8], turn: &Turn) -> Option<Arc<Account>> {
        match &self.last_account {
            Some(last) if last.name.as_bytes() == name => Some(last.clone()),
            _ => {
                let account = turn.shared.accounts.get(name)?;
                self.last_account = Some(account.clone());
                Some(account)
            }
        }
    }

    /// RMSG/HMSG: delivered to local subscribers and the named queue groups.
    fn on_msg(&mut self, args: &[u8], header_len: Option<usize>, data: &[u8], turn: &mut Turn) {
        let Some(routed) = RoutedArgs::parse(args, header_len.is_some()) else {
            return;
        };
        let Some(account) = self.routed_account(routed.account, turn) else {
            debug!(
                "{}Unknown account {:?} for routed message on subject: {:?}",
                self.shared.prefix(),
                String::from_utf8_lossy(routed.account),
                String::from_utf8_lossy(routed.subject)
            );
            return;
        };
        turn.count_in(self.token(), data.len());
        let msg = Message {
            subject: routed.subject,
            reply: routed.reply,
            header_len: header_len.filter(|&h| h > 0),
            data,
            sizes: LazySizes::of(args, header_len.is_some()),
            via_service: false,
        };
        deliver::deliver(
            turn,
            &account,
            &self.shared,
            true,
            &msg,
            Some(routed.queues),
        );
    }
}

impl Role for RouteSession {
    fn shared(&self) -> &Arc<ConnShared> {
        &self.shared
    }

    fn parser(&mut self) -> &mut Parser {
        &mut self.parser
    }

    fn max_held_input(&self, _settings: &Settings) -> usize {
        MAX_ROUTED_INPUT
    }

    #[inline]
    fn on_frame(&mut self, frame: Frame<'_>, turn: &mut Turn) {
        let auth_required = turn.settings.opts.cluster.username.is_some();
        if auth_required
            && self.phase == Phase::AwaitingConnect
            && !matches!(frame.op, Op::Connect(_))
        {
            self.refuse(
                "Authorization Violation",
                CloseReason::AuthenticationFailure,
                turn,
            );
            return;
        }
        match frame.op {
            Op::Connect(json) => self.on_connect(json, turn),
            Op::Info(json) => self.on_info(json, turn),
            Op::Ping => self.liveness.on_ping(self.shared.token, turn),
            Op::Pong => self.liveness.on_pong(&self.shared),
            Op::RouteSub {
                account,
                subject,
                queue,
                weight,
            } => self.on_sub(account, subject, queue, weight, turn),
            Op::RouteUnsub {
                account,
                subject,
                queue,
            } => self.on_unsub(account, subject, queue, turn),
            Op::RouteMsg {
                header_len,
                message,
            } => self.on_msg(frame.args, header_len, message, turn),
            Op::Err(text) => {
                error!(
                    "{}Router Error {}",
                    self.shared.prefix(),
                    String::from_utf8_lossy(text)
                );
                turn.close(self.token(), CloseReason::ParseError);
            }
            // Client and leaf operations come only from their parsers.
            Op::Pub { .. }
            | Op::HPub { .. }
            | Op::Sub { .. }
            | Op::Unsub { .. }
            | Op::Ok
            | Op::Ignored
            | Op::LeafSub { .. }
            | Op::LeafUnsub { .. }
            | Op::LeafMsg { .. } => {}
        }
    }

    fn liveness(&mut self) -> &mut Liveness {
        &mut self.liveness
    }

    /// An accepted route that has not sent CONNECT by now is closed.
    fn on_auth_timeout(&mut self, turn: &mut Turn) {
        if self.phase == Phase::AwaitingConnect {
            turn.send_err_and_close(
                self.token(),
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            );
        }
    }

    /// Route teardown: its remote interest goes, the cluster forgets it, a dialled route
    /// is dialled again.
    fn closed(self, reason: CloseReason, turn: &mut Turn) {
        let shared = &self.shared;
        debug!("{}Router connection closed: {reason}", shared.prefix());
        let subs: Vec<SubRef> = shared.subs.lock().drain().map(|(_, s)| s).collect();
        // By the account each subscription was made in (one a reload removed included).
        let mut accounts: Vec<&Arc<Account>> = subs.iter().map(|s| &s.account).collect();
        accounts.sort_by_key(|a| a.index);
        accounts.dedup_by_key(|a| a.index);
        for account in accounts {
            let own: Vec<&SubRef> = subs
                .iter()
                .filter(|s| Arc::ptr_eq(&s.account, account))
                .collect();
            debug!(
                "{}Removing {} subscriptions for account {:?}",
                shared.prefix(),
                own.len(),
                &*account.name
            );
            let removed = account
                .sublist
                .remove_batch(own.iter().map(|s| (&*s.subject, s.queue.as_deref(), *s)));
            for (sub, _) in own.iter().zip(removed).filter(|(_, removed)| *removed) {
                turn.interest_changed(sub, false);
            }
        }
        let cluster = &self.cluster;
        let entry = cluster.unregister(shared.cid);
        if entry.is_some() {
            turn.shared.client_urls_changed();
            turn.shared.leaf_urls_changed();
        }
        if turn.shared.is_shutting_down() {
            return;
        }
        // What to dial again: a registered route's dial (it may have taken one over from a
        // duplicate, see `Cluster::keep_over_duplicate`), else the one that made this
        // connection.
        let (dial, retry) = match (entry, self.origin) {
            (Some(e), _) => (
                e.meta.url.map(|url| (url, e.meta.is_configured)),
                e.meta.retry,
            ),
            (None, Origin::Dialled { url, explicit, .. }) => (Some((url, explicit)), false),
            (None, Origin::Accepted) => (None, false),
        };
        let Some((url, explicit)) = dial else {
            return;
        };
        // Not again to ourselves, nor to a server reached another way meanwhile; configured
        // routes are dialled again until they connect, gossiped ones once after a duplicate
        // was closed (else they are re-learnt by gossip).
        let connected = self.remote_id.as_deref().is_some_and(|id| {
            id == turn.settings.info.server_id || cluster.lock().route_to(id).is_some()
        });
        let configured = explicit && cluster.is_explicit(&url);
        if connected || !(configured || retry) {
            return;
        }
        debug!(
            "Attempting reconnect for solicited route {:?}",
            url.to_string()
        );
        let jitter = Duration::from_millis(turn.random() % 100);
        let delay = match self.quick_redial {
            true => jitter,
            false => RETRY_DELAY + jitter,
        };
        cluster.dials.push(DialJob {
            url,
            explicit: configured,
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

#[cfg(test)]
mod tests {
    use super::super::testbed::TestBed;
    use super::*;
    use crate::options::{Options, RANDOM_PORT};

    fn clustered() -> Options {
        let mut opts = Options::default();
        opts.cluster.port = RANDOM_PORT;
        opts.cluster.name = Some("c1".into());
        opts
    }

    fn quiet_client(bed: &mut TestBed) -> usize {
        let client = bed.client();
        bed.feed(client, "CONNECT {\"verbose\":false}\r\n");
        client
    }

    #[test]
    fn route_auth_refuses_anything_before_connect() {
        let mut opts = clustered();
        opts.cluster.username = Some("r".into());
        opts.cluster.password = Some("s".into());
        let mut bed = TestBed::new(opts);
        let route = bed.accepted_route();
        bed.take_output(route);
        bed.feed(route, "INFO {\"server_id\":\"PEER\"}\r\n");
        assert_eq!(bed.take_output(route), "-ERR 'Authorization Violation'\r\n");
        assert_eq!(
            bed.closing(route).map(|c| c.reason),
            Some(CloseReason::AuthenticationFailure)
        );
        let late = bed.accepted_route();
        bed.fire(late, TimerKind::AuthTimeout);
        assert_eq!(bed.take_output(late), "-ERR 'Authentication Timeout'\r\n");
        assert_eq!(
            bed.closing(late).map(|c| c.reason),
            Some(CloseReason::AuthenticationTimeout)
        );
    }

    #[test]
    fn routes_carry_each_account_apart() {
        let mut opts = clustered();
        opts.accounts = ["A", "B"]
            .iter()
            .map(|name| crate::options::AccountOptions {
                name: name.to_string(),
                ..Default::default()
            })
            .collect();
        opts.auth.users = ["A", "B"]
            .iter()
            .map(|name| crate::options::User {
                username: name.to_lowercase(),
                password: Some("p".into()),
                account: Some(name.to_string()),
                ..Default::default()
            })
            .collect();
        let mut bed = TestBed::new(opts);
        let route = bed.registered_route("PEER");
        let connect = |bed: &mut TestBed, user: &str| {
            let client = bed.client();
            let line =
                format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"p\"}}\r\n");
            bed.feed(client, &line);
            bed.take_output(client);
            client
        };
        let (a, b) = (connect(&mut bed, "a"), connect(&mut bed, "b"));
        bed.feed(a, "SUB foo 1\r\n");
        bed.feed(b, "SUB foo q 1\r\n");
        assert_eq!(bed.take_output(route), "RS+ A foo\r\nRS+ B foo q 1\r\n");
        bed.feed(route, "RMSG B foo | q 2\r\nhi\r\nRMSG A foo 2\r\nho\r\n");
        assert_eq!(bed.take_output(b), "MSG foo 1 2\r\nhi\r\n");
        assert_eq!(bed.take_output(a), "MSG foo 1 2\r\nho\r\n");
        // Remote interest in one account draws only that account's messages; an unknown
        // account is ignored and the route stays.
        bed.feed(route, "RS+ B bar\r\nRS+ Z bar\r\nRMSG Z foo 2\r\nhi\r\n");
        bed.feed(a, "PUB bar 1\r\na\r\n");
        bed.feed(b, "PUB bar 1\r\nb\r\n");
        assert_eq!(bed.take_output(route), "RMSG B bar 1\r\nb\r\n");
        assert_eq!(bed.closing(route), None);
        bed.feed(a, "UNSUB 1\r\n");
        assert_eq!(bed.take_output(route), "RS- A foo\r\n");
    }

    #[test]
    fn local_interest_is_announced_and_remote_interest_draws_messages() {
        let mut bed = TestBed::new(clustered());
        let route = bed.registered_route("PEER");
        let local = quiet_client(&mut bed);
        bed.feed(local, "SUB foo 1\r\nSUB foo q 2\r\n");
        assert_eq!(bed.take_output(route), "RS+ $G foo\r\nRS+ $G foo q 1\r\n");
        bed.feed(route, "RS+ $G bar\r\n");
        let publisher = quiet_client(&mut bed);
        bed.feed(publisher, "PUB bar 5\r\nhello\r\n");
        assert_eq!(bed.take_output(route), "RMSG $G bar 5\r\nhello\r\n");
        bed.feed(route, "RS- $G bar\r\n");
        // The local subscriber proves the next message was published.
        bed.feed(local, "SUB bar 3\r\n");
        bed.take_output(route);
        bed.feed(publisher, "PUB bar 5\r\nagain\r\n");
        assert_eq!(bed.take_output(local), "MSG bar 3 5\r\nagain\r\n");
        assert_eq!(bed.take_output(route), "", "the route's interest is gone");
    }

    #[test]
    fn routed_messages_go_to_local_clients_only() {
        let mut bed = TestBed::new(clustered());
        let first = bed.registered_route("PEER1");
        let second = bed.registered_route("PEER2");
        bed.feed(first, "RS+ $G foo\r\n");
        bed.feed(second, "RS+ $G foo\r\n");
        let local = quiet_client(&mut bed);
        bed.feed(local, "SUB foo 1\r\n");
        bed.take_output(first);
        bed.take_output(second);
        bed.feed(first, "RMSG $G foo reply 5\r\nhello\r\n");
        assert_eq!(bed.take_output(local), "MSG foo 1 reply 5\r\nhello\r\n");
        assert_eq!(bed.take_output(second), "", "one hop: not forwarded");
        assert_eq!(bed.take_output(first), "", "not back where it came from");
        // A local publish does reach both routes, once each.
        bed.feed(local, "PUB foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(first), "RMSG $G foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(second), "RMSG $G foo 2\r\nhi\r\n");
    }

    #[test]
    fn routed_queue_messages_reach_only_the_named_groups() {
        let mut bed = TestBed::new(clustered());
        let route = bed.registered_route("PEER");
        let member = quiet_client(&mut bed);
        bed.feed(member, "SUB foo q1 1\r\nSUB foo q2 2\r\n");
        bed.feed(route, "RMSG $G foo | q1 2\r\nhi\r\n");
        assert_eq!(bed.take_output(member), "MSG foo 1 2\r\nhi\r\n");
        bed.feed(route, "RMSG $G foo + rep q2 2\r\nho\r\n");
        assert_eq!(bed.take_output(member), "MSG foo 2 rep 2\r\nho\r\n");
    }

    /// Both servers dialled each other at once and each registered the connection the
    /// other dialled: our dialled one is the duplicate, and when the peer closes the one we
    /// kept (its duplicate), that one is dialled again.
    #[test]
    fn a_kept_route_takes_over_the_dial_of_its_duplicate() {
        let url = "nats://127.0.0.1:7777";
        let mut opts = clustered();
        opts.cluster.routes = vec![url.into()];
        let mut bed = TestBed::new(opts);
        let cluster = bed.turn.shared.cluster.clone().expect("clustered");
        let queued = cluster.dials.len();
        let kept = bed.registered_route("PEER");
        let dialled = bed.dialled_route(url, true);
        bed.feed(
            dialled,
            "INFO {\"server_id\":\"PEER\",\"name\":\"PEER\",\"cluster\":\"c1\"}\r\n",
        );
        assert_eq!(
            bed.closing(dialled).map(|c| c.reason),
            Some(CloseReason::DuplicateRoute)
        );
        let meta = &cluster.routes()[0].2;
        assert!(
            meta.did_solicit && meta.is_configured,
            "upgraded to solicited"
        );
        bed.hang_up(kept);
        assert_eq!(
            cluster.dials.len(),
            queued + 1,
            "the kept route is dialled again"
        );
    }

    /// Two servers dialled each other after gossip (no configured route) and each kept the
    /// connection the other closes as a duplicate: the kept one is dialled once more when
    /// it closes, or the two would stay apart.
    #[test]
    fn a_gossiped_route_kept_over_a_duplicate_is_dialled_again() {
        let mut bed = TestBed::new(clustered());
        let cluster = bed.turn.shared.cluster.clone().expect("clustered");
        let queued = cluster.dials.len();
        let peer_info = "INFO {\"server_id\":\"PEER\",\"name\":\"PEER\",\"cluster\":\"c1\"}\r\n";
        let kept = bed.dialled_route("nats://127.0.0.1:7777", false);
        bed.feed(kept, peer_info);
        assert_eq!(bed.closing(kept), None);
        let duplicate = bed.accepted_route();
        bed.feed(
            duplicate,
            &format!(
                "CONNECT {{\"echo\":true,\"name\":\"PEER\",\"cluster\":\"c1\"}}\r\n{peer_info}"
            ),
        );
        assert_eq!(
            bed.closing(duplicate).map(|c| c.reason),
            Some(CloseReason::DuplicateRoute)
        );
        bed.hang_up(kept);
        assert_eq!(cluster.dials.len(), queued + 1, "dialled once more");
    }

    #[test]
    fn a_route_to_ourselves_is_closed_as_a_duplicate() {
        let mut bed = TestBed::new(clustered());
        let route = bed.accepted_route();
        let own_id = bed.turn.settings.info.server_id.clone();
        bed.feed(route, &format!("INFO {{\"server_id\":\"{own_id}\"}}\r\n"));
        assert_eq!(
            bed.closing(route).map(|c| c.reason),
            Some(CloseReason::DuplicateRoute)
        );
    }
}
