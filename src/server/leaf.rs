//! The leafnode role: a [`LeafSession`] speaks nats-server 2.9's leafnode protocol, as the
//! hub (a leaf dialled our leafnode port) or as the spoke (we dialled a remote hub): the
//! handshake (INFO, CONNECT, the hub's `connect_info` INFO), authentication on the hub,
//! interest (LS+/LS-, with `$LDS` loop detection) and messages (LMSG/HMSG). Which interest
//! and messages cross a link is decided by `leafnodes` and `deliver`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use log::{debug, error, info};

use super::account::Account;
use super::cluster::interest_key;
use super::conn::{CloseReason, ConnShared, SubRef, Subscription};
use super::deliver::{self, LazySizes, Message};
use super::leaf_info::{LeafConnect, LeafInfo};
use super::leafnodes::{LeafDial, LeafPeer, Leafnodes};
use super::role::{Liveness, Role};
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::options::LeafnodeOptions;
use crate::proto::{Frame, LeafArgs, Op, Parser};
use crate::route_url::RouteUrl;
use crate::subject;

/// When the first PING goes to a new link, after registration.
const FIRST_LEAF_PING: Duration = Duration::from_secs(1);
/// How long a leaf waits for the hub's first INFO.
const INFO_WAIT: Duration = Duration::from_secs(1);
/// How long a leaf waits for the hub's answer to its CONNECT.
const CONNECT_INFO_WAIT: Duration = Duration::from_secs(2);
/// The pause before soliciting again after a loop or a same-cluster rejection.
const LONG_RECONNECT_DELAY: Duration = Duration::from_secs(30);
/// The most input a leaf operation may hold (links have no payload limit).
const MAX_LEAF_INPUT: usize = 64 * 1024 * 1024;

/// How the link came about.
pub enum LeafOrigin {
    /// A leaf dialled our leafnode port: we are its hub.
    Accepted,
    /// We dialled remote number `remote` at `url`: we are the spoke.
    Solicited { remote: usize, url: RouteUrl },
}

/// Where a link is in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Hub: waiting for the leaf's CONNECT (the auth timer runs).
    AwaitingConnect,
    /// Spoke: waiting for the hub's first INFO.
    AwaitingInfo,
    /// Spoke: CONNECT sent, waiting for the hub's `connect_info` INFO.
    AwaitingConnectInfo,
    /// Interest and messages flow.
    Registered,
}

/// A leafnode connection's protocol state.
pub struct LeafSession {
    shared: Arc<ConnShared>,
    leafnodes: Arc<Leafnodes>,
    parser: Parser,
    origin: LeafOrigin,
    phase: Phase,
    liveness: Liveness,
    /// The account the link is bound to (`$G` until the handshake says otherwise).
    account: Arc<Account>,
    /// Our `$LDS` subject in that account (an `LS+` for it means a loop).
    lds: Vec<u8>,
    /// The hub's cluster, from its INFO (spoke role).
    hub_cluster: String,
}

/// The hub's first INFO to a new leaf connection (with the nonce), or `None` when this
/// server has no leafnode listener.
pub fn hub_greeting(turn: &Turn, cid: u64) -> Option<Vec<u8>> {
    let leafnodes = turn.shared.leafnodes.as_ref()?;
    let info = LeafInfo {
        client_id: cid,
        nonce: crate::nkeys::new_nonce(),
        cluster: cluster_name(turn),
        leafnode_urls: Some(leafnodes.offered_urls()),
        ..leafnodes.hub.clone()?
    };
    Some(info.line())
}

/// The hub's cluster name, when it is in a cluster.
fn cluster_name(turn: &Turn) -> String {
    turn.shared
        .cluster
        .as_ref()
        .map(|c| c.lock().name.clone())
        .unwrap_or_default()
}

/// The auth timeout of accepted leaf connections: configured, else 2 s, or the TLS
/// timeout + 1 s with TLS.
pub fn auth_timeout(opts: &LeafnodeOptions) -> Duration {
    let tls_default = opts
        .tls
        .as_ref()
        .map(|t| crate::options::seconds_or(t.timeout, Duration::from_secs(2)));
    let default = tls_default.map_or(Duration::from_secs(2), |t| t + Duration::from_secs(1));
    crate::options::seconds_or(opts.auth_timeout, default)
}

impl LeafSession {
    /// The session of a link just accepted (its INFO is queued) or dialled: arms its
    /// handshake timer.
    pub fn start(
        shared: Arc<ConnShared>,
        leafnodes: Arc<Leafnodes>,
        origin: LeafOrigin,
        turn: &mut Turn,
    ) -> LeafSession {
        let token = shared.token;
        let now = Instant::now();
        let (phase, deadline) = match origin {
            LeafOrigin::Accepted => (
                Phase::AwaitingConnect,
                auth_timeout(&turn.settings.opts.leafnodes),
            ),
            LeafOrigin::Solicited { .. } => (Phase::AwaitingInfo, INFO_WAIT),
        };
        turn.schedule(token, now + deadline, TimerKind::AuthTimeout);
        let account = turn.shared.accounts.global().clone();
        let lds = leafnodes.lds_subject(&account.name).into_bytes();
        let mut parser = Parser::new_leaf();
        // A PUB/HPUB on a leaf link is held to max_payload, as the reference does.
        parser.set_limits(
            turn.settings.opts.max_control_line,
            turn.settings.opts.max_payload,
        );
        LeafSession {
            shared,
            leafnodes,
            parser,
            origin,
            phase,
            liveness: Liveness::new(now + FIRST_LEAF_PING),
            account,
            lds,
            hub_cluster: String::new(),
        }
    }

    fn token(&self) -> usize {
        self.shared.token
    }

    fn solicited(&self) -> bool {
        matches!(self.origin, LeafOrigin::Solicited { .. })
    }

    /// `-ERR '<text>'`, logged as an error, then close.
    fn refuse(&self, text: &str, reason: CloseReason, turn: &mut Turn) {
        error!("{}{text}", self.shared.prefix());
        turn.send_err_and_close(self.token(), text, reason);
    }

    /// Hub: the leaf's CONNECT (leafnodes.md §2.1).
    fn on_connect(&mut self, json: &[u8], turn: &mut Turn) {
        if self.phase != Phase::AwaitingConnect {
            return;
        }
        let Ok(connect) = serde_json::from_slice::<LeafConnect>(json) else {
            turn.close(self.token(), CloseReason::ProtocolViolation);
            return;
        };
        let Some(account) = self.authorize(&connect, turn) else {
            error!("{}authentication error", self.shared.prefix());
            turn.send_err_and_close(
                self.token(),
                "Authorization Violation",
                CloseReason::AuthenticationFailure,
            );
            return;
        };
        if !connect.lang.is_empty() {
            let text = "attempted to connect to leaf node port";
            self.refuse(text, CloseReason::WrongPort, turn);
            return;
        }
        let ours = cluster_name(turn);
        if !connect.cluster.is_empty() && connect.cluster == ours {
            let text = "remote leafnode has same cluster name";
            self.refuse(text, CloseReason::ClusterNamesIdentical, turn);
            return;
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {:?} on the leafnode port",
                connect.gateway
            );
            self.refuse(&text, CloseReason::WrongGateway, turn);
            return;
        }
        if let Some(min) = &turn.settings.opts.leafnodes.min_version {
            if !version_at_least(&connect.version, min) {
                let text = format!("connection rejected since minimum version required is {min:?}");
                self.refuse(&text, CloseReason::MinimumVersionRequired, turn);
                return;
            }
        }
        self.account = account;
        self.lds = self.leafnodes.lds_subject(&self.account.name).into_bytes();
        let peer = LeafPeer {
            solicited: false,
            remote_cluster: connect.cluster.as_str().into(),
            deny_out: connect
                .deny_pub
                .iter()
                .map(|s| s.as_bytes().into())
                .collect(),
            deny_interest: Vec::new(),
        };
        let headers = turn.settings.opts.headers && connect.headers;
        let name = match connect.name.is_empty() {
            true => connect.server_id.clone(),
            false => connect.name.clone(),
        };
        let Some(hub) = self.leafnodes.hub.clone() else {
            return;
        };
        let info = LeafInfo {
            client_id: self.shared.cid,
            cluster: ours,
            connect_info: true,
            remote_account: self.account.name.to_string(),
            leafnode_urls: Some(self.leafnodes.offered_urls()),
            ..hub
        };
        turn.send(self.token(), &info.line(), "INFO");
        self.register(peer, headers, &name, turn);
    }

    /// Hub: who may connect (leafnodes.md §2.4), and the account the link binds to.
    fn authorize(&self, connect: &LeafConnect, turn: &Turn) -> Option<Arc<Account>> {
        let opts = &turn.settings.opts;
        let leaf = &opts.leafnodes;
        let verified = &self.leafnodes.verified_passwords;
        let matches =
            |password: &str| crate::auth::secret_matches(password, &connect.pass, verified);
        let account = if let Some(user) = &leaf.username {
            (connect.user == *user && matches(leaf.password.as_deref().unwrap_or("")))
                .then(|| leaf.account.clone())?
        } else if !leaf.users.is_empty() {
            let user = leaf.users.iter().find(|u| u.username == connect.user)?;
            matches(&user.password).then(|| user.account.clone())?
        } else if connect.user.is_empty() {
            // The reference accepts a leaf that names no user whatever the client
            // authorization, and never checks a single user or token for leafs.
            None
        } else if opts.auth.users.is_empty() {
            None
        } else {
            let user = opts
                .auth
                .users
                .iter()
                .find(|u| u.username == connect.user)?;
            let types = &user.allowed_connection_types;
            let allowed = types.is_empty() || types.contains("LEAFNODE");
            (allowed && matches(user.password.as_deref().unwrap_or("")))
                .then(|| user.account.clone())?
        };
        match account {
            Some(name) => turn.shared.accounts.get(name.as_bytes()),
            None => Some(turn.shared.accounts.global().clone()),
        }
    }

    /// Spoke: an INFO from our hub (leafnodes.md §2.2).
    fn on_info(&mut self, json: &[u8], turn: &mut Turn) {
        let Ok(info) = serde_json::from_slice::<LeafInfo>(json) else {
            turn.close(self.token(), CloseReason::ProtocolViolation);
            return;
        };
        let LeafOrigin::Solicited { remote, url } = &self.origin else {
            return; // a leaf has nothing to tell its hub in an INFO
        };
        let remote = &self.leafnodes.remotes[*remote];
        if let Some(urls) = &info.leafnode_urls {
            remote.learn_urls(urls);
        }
        match self.phase {
            Phase::AwaitingInfo => {
                if info.client_id == 0 || info.leafnode_urls.is_none() {
                    error!("{}attempted to connect to wrong port", self.shared.prefix());
                    turn.close(self.token(), CloseReason::WrongPort);
                    return;
                }
                self.hub_cluster = info.cluster.clone();
                let headers = turn.settings.opts.headers && info.headers;
                self.shared.headers.store(headers, Ordering::Relaxed);
                let tls = remote
                    .opts()
                    .tls
                    .or_else(|| info.tls_required.then(crate::options::TlsOptions::default));
                if let Some(tls) = tls {
                    let session = crate::tls::client_config(&tls).and_then(|config| {
                        crate::tls::TlsSession::new_client(config, &url.host)
                            .map_err(|e| e.to_string())
                    });
                    let Ok(session) = session.map_err(|e| {
                        error!("{}TLS setup failed: {e}", self.shared.prefix());
                    }) else {
                        turn.close(self.token(), CloseReason::TlsHandshakeFailure);
                        return;
                    };
                    let timeout = crate::options::seconds_or(tls.timeout, Duration::from_secs(2));
                    turn.start_tls(session, timeout);
                }
                let Some(connect) = self.connect_line(&info, url, turn) else {
                    turn.close(self.token(), CloseReason::ClientClosed);
                    return;
                };
                turn.send(self.token(), &connect, "CONNECT");
                debug!("{}Remote leafnode connect msg sent", self.shared.prefix());
                if info.info_on_connect {
                    self.phase = Phase::AwaitingConnectInfo;
                    let due = Instant::now() + CONNECT_INFO_WAIT;
                    turn.schedule(self.token(), due, TimerKind::AuthTimeout);
                } else {
                    self.register_with_hub(turn);
                }
            }
            Phase::AwaitingConnectInfo if info.connect_info => self.register_with_hub(turn),
            _ => {}
        }
    }

    /// Spoke: our CONNECT, with the URL's credentials or a signed nonce (§2.3, §2.5).
    fn connect_line(&self, info: &LeafInfo, url: &RouteUrl, turn: &Turn) -> Option<Vec<u8>> {
        let LeafOrigin::Solicited { remote, .. } = &self.origin else {
            return None;
        };
        let remote = self.leafnodes.remotes[*remote].opts();
        let our = &turn.settings.info;
        let mut connect = LeafConnect {
            version: our.version.to_string(),
            tls_required: remote.tls.is_some() || info.tls_required,
            server_id: our.server_id.clone(),
            name: our.server_name.clone(),
            cluster: turn.settings.info.cluster.clone(),
            headers: turn.settings.opts.headers,
            deny_pub: remote.deny_imports.clone(),
            ..LeafConnect::default()
        };
        match &remote.credentials {
            Some(path) => match crate::creds::read(path) {
                Ok(creds) => {
                    connect.sig = creds.sign_nonce(&info.nonce);
                    connect.jwt = creds.jwt;
                }
                Err(e) => {
                    error!(
                        "Error reading LeafNode Remote Credentials file {:?}: {e}",
                        path.display().to_string()
                    );
                    return None;
                }
            },
            None => {
                connect.user = url.user.clone().unwrap_or_default();
                connect.pass = url.pass.clone().unwrap_or_default();
            }
        }
        Some(connect.line())
    }

    /// Spoke: the hub accepted our CONNECT.
    fn register_with_hub(&mut self, turn: &mut Turn) {
        let LeafOrigin::Solicited { remote, .. } = &self.origin else {
            return;
        };
        let remote = self.leafnodes.remotes[*remote].opts();
        if let Some(name) = &remote.account {
            if let Some(account) = turn.shared.accounts.get(name.as_bytes()) {
                self.account = account;
                self.lds = self.leafnodes.lds_subject(&self.account.name).into_bytes();
            }
        }
        let peer = LeafPeer {
            solicited: true,
            remote_cluster: self.hub_cluster.as_str().into(),
            deny_out: remote
                .deny_exports
                .iter()
                .map(|s| s.as_bytes().into())
                .collect(),
            deny_interest: remote
                .deny_imports
                .iter()
                .map(|s| s.as_bytes().into())
                .collect(),
        };
        let headers = self.shared.headers.load(Ordering::Relaxed);
        self.register(peer, headers, "", turn);
    }

    /// Both roles, once the handshake is done: bind the account, register the link, send
    /// it our interest, start pinging.
    fn register(&mut self, peer: LeafPeer, headers: bool, name: &str, turn: &mut Turn) {
        let token = self.token();
        let shared = &self.shared;
        shared.headers.store(headers, Ordering::Relaxed);
        shared.set_account(&self.account);
        let peer = Arc::new(peer);
        let _ = shared.leaf.set(peer.clone());
        let registered = self
            .leafnodes
            .register(shared, peer, &self.account.name, name);
        if let Some(old) = registered.replaced {
            info!("{}Replacing connection from same server", shared.prefix());
            turn.shared.reactors[old.reactor]
                .post(|inbox| inbox.replaced_leaves.push((old.token, old.cid)));
        }
        self.phase = Phase::Registered;
        turn.output(token).queue.extend(&registered.dump);
        match self.solicited() {
            true => info!(
                "{}Leafnode connection created for account: {} ",
                shared.prefix(),
                self.account.name
            ),
            false => info!("{}Leafnode connection created ", shared.prefix()),
        }
        let due = Instant::now() + FIRST_LEAF_PING;
        self.liveness.reschedule(due);
        turn.schedule(token, due, TimerKind::Ping);
    }

    /// LS+: the peer has interest (leafnodes.md §3.1).
    fn on_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, weight: i32, turn: &mut Turn) {
        if self.phase != Phase::Registered {
            return;
        }
        let token = self.token();
        if subject == self.lds.as_slice() {
            let text = format!(
                "Loop detected for leafnode account={:?}. Delaying attempt to reconnect for 30s",
                &*self.account.name
            );
            self.delay_reconnect();
            self.refuse(&text, CloseReason::ProtocolViolation, turn);
            return;
        }
        if !subject::is_valid_subject(subject)
            || queue.is_some_and(|q| !subject::is_valid_literal_subject(q))
        {
            turn.send_err(token, "Invalid Subscription");
            return;
        }
        let Some(peer) = self.shared.leaf.get().cloned() else {
            return;
        };
        if !peer.may_send(subject) {
            if self.solicited() || !subject::is_literal(subject) {
                return; // filtered when messages are delivered
            }
            let text = format!(
                "Permissions Violation for Subscription to {:?}",
                String::from_utf8_lossy(subject)
            );
            self.refuse(&text, CloseReason::ProtocolViolation, turn);
            return;
        }
        let key: Box<[u8]> = interest_key(subject, queue).into();
        let weight = u64::try_from(weight.max(1)).unwrap_or(1);
        if let Some(existing) = self.shared.subs.get(&key) {
            existing.weight.store(weight, Ordering::Relaxed);
            return;
        }
        let max = turn.settings.opts.max_subscriptions;
        if max > 0 && self.shared.subs.live() >= max {
            error!("{}maximum subscriptions exceeded", self.shared.prefix());
            turn.send_err(token, "maximum subscriptions exceeded");
            return;
        }
        let sub = SubRef(Arc::new(Subscription {
            conn: self.shared.clone(),
            account: self.account.clone(),
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
        self.account.sublist.insert(subject, queue, sub.clone());
        self.shared.subs.lock().insert(key, sub.clone());
        turn.interest_changed(&sub, true);
    }

    /// LS-: the peer's interest is gone.
    fn on_unsub(&mut self, subject: &[u8], queue: Option<&[u8]>, turn: &mut Turn) {
        let key: Box<[u8]> = interest_key(subject, queue).into();
        let removed = self.shared.subs.lock().remove(&key);
        if let Some(sub) = removed {
            if sub.account.sublist.remove(subject, queue, &sub) {
                turn.interest_changed(&sub, false);
            }
        }
    }

    /// LMSG/HMSG: delivered by the forwarding rules of a message from this link.
    fn on_msg(&mut self, args: &[u8], header_len: Option<usize>, data: &[u8], turn: &mut Turn) {
        if self.phase != Phase::Registered {
            return;
        }
        let Some(leaf) = LeafArgs::parse(args, header_len.is_some()) else {
            return;
        };
        turn.count_in(self.token(), data.len());
        let msg = Message {
            subject: leaf.subject,
            reply: leaf.reply,
            header_len: header_len.filter(|&h| h > 0),
            data,
            sizes: LazySizes::of(args, header_len.is_some()),
            via_service: false,
        };
        let account = self.account.clone();
        deliver::deliver(turn, &account, &self.shared, false, &msg, Some(leaf.queues));
    }

    /// `-ERR` from the peer: logged; a loop or a same-cluster rejection delays our next
    /// attempt (the peer closes the link).
    fn on_err(&mut self, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        let text = text.trim().trim_matches('\'');
        error!("{}Leafnode Error '{text}'", self.shared.prefix());
        if text.starts_with("Loop detected") || text.contains("has same cluster name") {
            self.delay_reconnect();
        }
    }

    /// Our next attempt on this remote waits the long delay.
    fn delay_reconnect(&self) {
        if let LeafOrigin::Solicited { remote, .. } = &self.origin {
            self.leafnodes.remotes[*remote].delay_until(Instant::now() + LONG_RECONNECT_DELAY);
        }
    }
}

impl Role for LeafSession {
    fn shared(&self) -> &Arc<ConnShared> {
        &self.shared
    }

    fn parser(&mut self) -> &mut Parser {
        &mut self.parser
    }

    fn max_held_input(&self, _settings: &Settings) -> usize {
        MAX_LEAF_INPUT
    }

    fn on_frame(&mut self, frame: Frame<'_>, turn: &mut Turn) {
        if self.phase == Phase::AwaitingConnect && !matches!(frame.op, Op::Connect(_)) {
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
            Op::LeafSub {
                subject,
                queue,
                weight,
            } => self.on_sub(subject, queue, weight, turn),
            Op::LeafUnsub { subject, queue } => self.on_unsub(subject, queue, turn),
            Op::LeafMsg {
                header_len,
                message,
            } => self.on_msg(frame.args, header_len, message, turn),
            Op::Err(text) => self.on_err(text),
            _ => {}
        }
    }

    fn liveness(&mut self) -> &mut Liveness {
        &mut self.liveness
    }

    /// The handshake took too long: the hub's auth timeout, or the leaf's wait for an INFO.
    fn on_auth_timeout(&mut self, turn: &mut Turn) {
        let token = self.token();
        match self.phase {
            Phase::AwaitingConnect => turn.send_err_and_close(
                token,
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            ),
            Phase::AwaitingInfo => turn.close(token, CloseReason::ReadError),
            Phase::AwaitingConnectInfo => {
                error!(
                    "{}Stale Leaf Node Connection - Closing",
                    self.shared.prefix()
                );
                turn.send_err_and_close(
                    token,
                    "Stale Leaf Node Connection - Closing",
                    CloseReason::StaleConnection,
                );
            }
            Phase::Registered => {}
        }
    }

    /// Link teardown: its interest goes (and with it what we told others about it), the
    /// registry forgets it, a solicited link is dialled again.
    fn closed(self, reason: CloseReason, turn: &mut Turn) {
        let shared = &self.shared;
        let mut closed = shared.info(true);
        closed.closed = Some((SystemTime::now(), reason.as_str()));
        turn.shared.closed.push(closed);
        let subs: Vec<SubRef> = shared.subs.lock().drain().map(|(_, s)| s).collect();
        let removed = self
            .account
            .sublist
            .remove_batch(subs.iter().map(|s| (&*s.subject, s.queue.as_deref(), s)));
        for (sub, _) in subs.iter().zip(removed).filter(|(_, removed)| *removed) {
            turn.interest_changed(sub, false);
        }
        if self.leafnodes.unregister(shared.cid) {
            info!(
                "{}Leafnode connection closed: {reason} account: {}",
                shared.prefix(),
                self.account.name
            );
        }
        if turn.shared.is_shutting_down() {
            return;
        }
        if let LeafOrigin::Solicited { remote, .. } = self.origin {
            let due = Instant::now() + turn.settings.opts.leafnodes.reconnect;
            self.leafnodes.dials.push(LeafDial { remote, due });
        }
    }
}

/// Whether version `given` (`x.y.z`) is at least `min`; an unparsable one is not.
fn version_at_least(given: &str, min: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.trim_start_matches('v')
            .split(['.', '-'])
            .take(3)
            .map(|n| n.parse().ok())
            .collect()
    };
    match (parse(given), parse(min)) {
        (Some(given), Some(min)) => given >= min,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testbed::TestBed;
    use super::*;
    use crate::options::{Options, RemoteLeafOptions, RANDOM_PORT};

    fn hub_opts() -> Options {
        let mut opts = Options::default();
        opts.leafnodes.port = RANDOM_PORT;
        opts
    }

    /// A leaf connected to the bed's hub with `connect`; returns its token and what the
    /// hub answered (the connect_info INFO and the LS+ dump).
    fn connected_leaf(bed: &mut TestBed, connect: &str) -> (usize, String) {
        let leaf = bed.accepted_leaf();
        bed.feed(leaf, &format!("CONNECT {connect}\r\n"));
        (leaf, bed.take_output(leaf))
    }

    fn quiet_client(bed: &mut TestBed) -> usize {
        let client = bed.client();
        bed.feed(client, "CONNECT {\"verbose\":false,\"headers\":true}\r\n");
        client
    }

    /// The `$LDS` line of a dump.
    fn lds_line(answer: &str) -> &str {
        answer
            .lines()
            .find(|l| l.starts_with("LS+ $LDS."))
            .expect("a loop-detection subject")
    }

    #[test]
    fn a_hub_answers_connect_with_its_info_and_interest() {
        let mut bed = TestBed::new(hub_opts());
        let client = quiet_client(&mut bed);
        bed.feed(client, "SUB foo 1\r\nSUB q.> grp 2\r\nSUB q.> grp 3\r\n");
        let (leaf, answer) = connected_leaf(&mut bed, r#"{"name":"L","headers":true}"#);
        let first = answer.lines().next().unwrap();
        assert!(
            first.starts_with("INFO {") && first.ends_with("} "),
            "{first}"
        );
        assert!(first.contains("\"connect_info\":true"));
        assert!(first.contains("\"remote_account\":\"$G\""));
        assert!(!first.contains("\"nonce\""));
        let mut dump: Vec<&str> = answer.lines().skip(1).collect();
        dump.sort_unstable();
        assert_eq!(dump.len(), 3, "{answer}");
        assert_eq!(&dump[1..], ["LS+ foo", "LS+ q.> grp 2"]);
        assert!(lds_line(&answer).len() == "LS+ $LDS.".len() + 22);
        assert_eq!(bed.closing(leaf), None);
        // Later interest is announced as it changes: first and last for plain subjects,
        // every weight for queues.
        bed.feed(client, "SUB foo 4\r\nSUB bar 5\r\nUNSUB 3\r\nUNSUB 5\r\n");
        assert_eq!(
            bed.take_output(leaf),
            "LS+ bar\r\nLS+ q.> grp 1\r\nLS- bar\r\n"
        );
    }

    #[test]
    fn messages_cross_the_link_both_ways_once_and_not_back() {
        let mut bed = TestBed::new(hub_opts());
        let (leaf, _) = connected_leaf(&mut bed, r#"{"name":"L","headers":true}"#);
        let client = quiet_client(&mut bed);
        bed.feed(client, "SUB foo 1\r\n");
        bed.take_output(leaf);
        bed.feed(leaf, "LS+ bar\r\nLS+ foo\r\n");
        bed.feed(
            client,
            "PUB bar r 2\r\nhi\r\nHPUB bar 12 14\r\nNATS/1.0\r\n\r\nho\r\n",
        );
        assert_eq!(
            bed.take_output(leaf),
            "LMSG bar r 2\r\nhi\r\nHMSG bar 12 14\r\nNATS/1.0\r\n\r\nho\r\n"
        );
        bed.feed(leaf, "LMSG foo reply.1 5\r\nhello\r\n");
        assert_eq!(bed.take_output(client), "MSG foo 1 reply.1 5\r\nhello\r\n");
        assert_eq!(bed.take_output(leaf), "", "no echo back to the link");
        bed.feed(leaf, "LS- bar\r\n");
        bed.feed(client, "PUB bar 2\r\nhi\r\nPUB foo 2\r\nok\r\n");
        assert_eq!(bed.take_output(client), "MSG foo 1 2\r\nok\r\n");
        assert_eq!(
            bed.take_output(leaf),
            "LMSG foo 2\r\nok\r\n",
            "bar's interest is gone"
        );
    }

    #[test]
    fn two_leaves_hear_each_other_unless_in_the_same_cluster() {
        let mut bed = TestBed::new(hub_opts());
        let (a, _) = connected_leaf(&mut bed, r#"{"name":"A","cluster":"CA"}"#);
        let (b, _) = connected_leaf(&mut bed, r#"{"name":"B","cluster":"CB"}"#);
        let (a2, _) = connected_leaf(&mut bed, r#"{"name":"A2","cluster":"CA"}"#);
        // A's own $LDS reached B and A2 when A registered; B's reached A and A2.
        bed.take_output(a);
        bed.feed(a, "LS+ foo\r\n");
        assert_eq!(bed.take_output(b), "LS+ foo\r\n");
        assert_eq!(bed.take_output(a2), "", "same remote cluster");
        bed.feed(b, "LS+ foo\r\n");
        assert_eq!(bed.take_output(a), "LS+ foo\r\n");
        bed.feed(b, "LMSG foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(a), "LMSG foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(b), "", "not back to the publisher");
        bed.feed(a2, "LMSG foo 2\r\nho\r\n");
        assert_eq!(bed.take_output(b), "LMSG foo 2\r\nho\r\n");
        assert_eq!(bed.take_output(a), "", "not to a link of the same cluster");
    }

    #[test]
    fn queue_groups_prefer_local_members_and_fall_back_to_the_link() {
        let mut bed = TestBed::new(hub_opts());
        let (leaf, _) = connected_leaf(&mut bed, r#"{"name":"L"}"#);
        bed.feed(leaf, "LS+ work grp 1\r\n");
        let member = quiet_client(&mut bed);
        let publisher = quiet_client(&mut bed);
        bed.take_output(leaf);
        bed.feed(publisher, "PUB work 2\r\nhi\r\n");
        assert_eq!(bed.take_output(leaf), "LMSG work | grp 2\r\nhi\r\n");
        bed.feed(member, "SUB work grp 1\r\n");
        bed.take_output(leaf);
        for _ in 0..5 {
            bed.feed(publisher, "PUB work r 2\r\nhi\r\n");
        }
        assert_eq!(bed.take_output(member).matches("MSG work 1 r 2").count(), 5);
        assert_eq!(
            bed.take_output(leaf),
            "",
            "a local member takes every message"
        );
        // From the link: only the named groups, and the plain subscribers.
        bed.feed(leaf, "LMSG work 2\r\nno\r\nLMSG work + r grp 2\r\nok\r\n");
        assert_eq!(bed.take_output(member), "MSG work 1 r 2\r\nok\r\n");
    }

    #[test]
    fn the_hub_refuses_what_it_must() {
        let mut opts = hub_opts();
        opts.leafnodes.username = Some("lu".into());
        opts.leafnodes.password = Some("lp".into());
        let mut bed = TestBed::new(opts);
        let (wrong, answer) = connected_leaf(&mut bed, r#"{"user":"lu","pass":"x"}"#);
        assert_eq!(answer, "-ERR 'Authorization Violation'\r\n");
        assert_eq!(
            bed.closing(wrong).map(|c| c.reason),
            Some(CloseReason::AuthenticationFailure)
        );
        let early = bed.accepted_leaf();
        bed.feed(early, "LS+ foo\r\n");
        assert_eq!(bed.take_output(early), "-ERR 'Authorization Violation'\r\n");
        let late = bed.accepted_leaf();
        bed.fire(late, TimerKind::AuthTimeout);
        assert_eq!(bed.take_output(late), "-ERR 'Authentication Timeout'\r\n");
        let client = bed.accepted_leaf();
        bed.feed(
            client,
            "CONNECT {\"user\":\"lu\",\"pass\":\"lp\",\"lang\":\"go\"}\r\n",
        );
        assert_eq!(
            bed.take_output(client),
            "-ERR 'attempted to connect to leaf node port'\r\n"
        );
        let (good, _) = connected_leaf(&mut bed, r#"{"user":"lu","pass":"lp"}"#);
        bed.feed(good, "LS+ a..b\r\n");
        assert_eq!(bed.take_output(good), "-ERR 'Invalid Subscription'\r\n");
        assert_eq!(bed.closing(good), None);
        bed.feed(good, "LS+ $KV.>\r\nLS+ $KV.b.k\r\n");
        assert_eq!(
            bed.take_output(good),
            "-ERR 'Permissions Violation for Subscription to \"$KV.b.k\"'\r\n"
        );
        assert_eq!(
            bed.closing(good).map(|c| c.reason),
            Some(CloseReason::ProtocolViolation)
        );
    }

    #[test]
    fn our_own_loop_detection_subject_coming_back_closes_the_link() {
        let mut bed = TestBed::new(hub_opts());
        let (leaf, answer) = connected_leaf(&mut bed, r#"{"name":"L"}"#);
        let lds = lds_line(&answer).to_string();
        bed.feed(leaf, &format!("{lds}\r\n"));
        assert_eq!(
            bed.take_output(leaf),
            "-ERR 'Loop detected for leafnode account=\"$G\". \
             Delaying attempt to reconnect for 30s'\r\n"
        );
        assert_eq!(
            bed.closing(leaf).map(|c| c.reason),
            Some(CloseReason::ProtocolViolation)
        );
    }

    #[test]
    fn a_hub_in_a_cluster_bridges_its_leafs_and_routes_one_hop() {
        let mut opts = hub_opts();
        opts.cluster.port = RANDOM_PORT;
        opts.cluster.name = Some("c1".into());
        let mut bed = TestBed::new(opts);
        let route = bed.registered_route("PEER");
        bed.feed(route, "RS+ $G foo\r\n");
        let (leaf, answer) = connected_leaf(&mut bed, r#"{"name":"L","cluster":"LC"}"#);
        assert!(answer.contains("\"cluster\":\"c1\""), "{answer}");
        assert!(answer.contains("LS+ foo\r\n"), "route interest in the dump");
        bed.feed(leaf, "LS+ bar\r\n");
        assert_eq!(bed.take_output(route), "RS+ $G bar\r\n");
        bed.feed(leaf, "LMSG foo r 2\r\nhi\r\n");
        assert_eq!(bed.take_output(route), "RMSG $G foo r 2\r\nhi\r\n");
        bed.feed(route, "RMSG $G bar 2\r\nho\r\nRS- $G foo\r\n");
        assert_eq!(bed.take_output(leaf), "LMSG bar 2\r\nho\r\nLS- foo\r\n");
        bed.feed(leaf, "LS- bar\r\n");
        assert_eq!(bed.take_output(route), "RS- $G bar\r\n");
    }

    fn leaf_opts() -> Options {
        let mut opts = Options {
            server_name: Some("LEAF".into()),
            ..Options::default()
        };
        opts.leafnodes.remotes = vec![RemoteLeafOptions {
            urls: vec!["nats-leaf://lu:lp@hub:7422".into()],
            deny_imports: vec!["private.>".into()],
            ..Default::default()
        }];
        opts
    }

    const HUB_INFO: &str = "INFO {\"server_id\":\"NHUB\",\"server_name\":\"HUB\",\
        \"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"auth_required\":true,\
        \"max_payload\":1048576,\"client_id\":5,\"nonce\":\"abc\",\"cluster\":\"HC\",\
        \"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:7422\"]} \r\n";

    #[test]
    fn a_leaf_connects_after_the_hub_info_and_sends_interest_once_accepted() {
        let mut bed = TestBed::new(leaf_opts());
        let client = quiet_client(&mut bed);
        bed.feed(client, "SUB foo 1\r\nSUB private.x 2\r\nSUB $KV.b.k 3\r\n");
        let hub = bed.solicited_leaf(0, "nats-leaf://lu:lp@hub:7422");
        bed.feed(hub, HUB_INFO);
        let connect = bed.take_output(hub);
        assert!(
            connect.starts_with(
                "CONNECT {\"version\":\"2.9.10\",\"user\":\"lu\",\"pass\":\"lp\",\
                 \"tls_required\":false,\"server_id\":\"N"
            ),
            "{connect}"
        );
        assert!(connect.ends_with(
            "\"name\":\"LEAF\",\"cluster\":\"LEAF\",\"headers\":true,\"deny_pub\":[\"private.>\"]}\r\n"
        ));
        bed.feed(hub, "LS+ bar\r\n");
        assert_eq!(bed.take_output(hub), "", "nothing before the hub's answer");
        bed.feed(
            hub,
            "INFO {\"server_id\":\"NHUB\",\"client_id\":5,\"connect_info\":true,\
             \"leafnode_urls\":[\"127.0.0.1:7422\"],\"remote_account\":\"$G\"} \r\n",
        );
        let dump = bed.take_output(hub);
        assert!(dump.starts_with("LS+ foo\r\nLS+ $LDS."), "{dump}");
        assert_eq!(
            dump.lines().count(),
            2,
            "no denied or JetStream API subjects"
        );
        bed.feed(hub, "LS+ bar\r\nLMSG foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(client), "MSG foo 1 2\r\nhi\r\n");
        bed.feed(client, "PUB bar 2\r\nho\r\n");
        assert_eq!(bed.take_output(hub), "LMSG bar 2\r\nho\r\n");
        // An -ERR from the hub is only logged: the hub closes the link.
        bed.feed(hub, "-ERR 'Loop detected'\r\n");
        assert_eq!(bed.closing(hub), None);
    }

    #[test]
    fn a_leaf_gives_up_on_a_port_that_is_not_a_hub_and_on_a_silent_hub() {
        let mut bed = TestBed::new(leaf_opts());
        let wrong = bed.solicited_leaf(0, "hub");
        bed.feed(wrong, "INFO {\"server_id\":\"N\",\"max_payload\":1} \r\n");
        assert_eq!(
            bed.closing(wrong).map(|c| c.reason),
            Some(CloseReason::WrongPort)
        );
        let silent = bed.solicited_leaf(0, "hub");
        bed.feed(silent, HUB_INFO);
        bed.take_output(silent);
        bed.fire(silent, TimerKind::AuthTimeout);
        assert_eq!(
            bed.take_output(silent),
            "-ERR 'Stale Leaf Node Connection - Closing'\r\n"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("2.9.10", "2.9.0"));
        assert!(!version_at_least("2.8.4", "2.9.0"));
        assert!(version_at_least("2.10.0", "2.9.10"));
        assert!(!version_at_least("", "2.8.0"));
    }
}
