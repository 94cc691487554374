//! The client role: a [`ClientSession`] runs the client protocol (CONNECT and
//! authentication, SUB/UNSUB, PUB/HPUB with permissions, PING/PONG) on parsed operations,
//! through the turn's context; delivery itself is in `deliver`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use log::{debug, error, trace, warn};
use rustls::pki_types::CertificateDer;

use super::account::{Account, Mapped};
use super::conn::{CloseReason, ConnShared, SubRef, Subscription};
use super::conn_info;
use super::deliver::{self, LazySizes, Message};
use super::imports;
use super::info::{ClientOpts, Info};
use super::outq::FRAME_SLACK;
use super::role::{Liveness, Role};
use super::service;
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::auth::{Credentials, Identity, Note, Outcome, PeerCertificates, Pending, Refused};
use crate::logging;
use crate::permissions::UserPermissions;
use crate::proto::{Frame, Op, Parser};
use crate::subject;

/// How long the first server PING waits after CONNECT at most (the reference's
/// `firstClientPingInterval`).
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// Publish verdicts kept per connection before the cache starts over.
const PUB_VERDICTS: usize = 128;

const OK: &[u8] = b"+OK\r\n";

/// Where a client is in its life.
#[derive(Debug)]
enum Phase {
    /// Until CONNECT arrives (the auth timer runs; with auth required, anything else is a
    /// violation).
    AwaitingConnect,
    /// CONNECT's password is checked on the verifier pool; input waits behind it.
    Verifying(Pending),
    /// The CONNECT was accepted.
    Established,
    /// Established, and checked again after an authorization reload; input waits.
    Reverifying(Pending),
}

/// A client connection's protocol state.
pub struct ClientSession {
    shared: Arc<ConnShared>,
    /// The account the client is bound to (`$G` until CONNECT binds it).
    account: Arc<Account>,
    /// CONNECT bound the client to `account` (and counted it there).
    bound: bool,
    /// The client's first PING was answered (only the first may bring an updated INFO).
    first_ping_answered: bool,
    parser: Parser,
    opts: ClientOpts,
    phase: Phase,
    /// The authenticated user's name, for violation log lines.
    user: Option<String>,
    /// The user's permissions (`None`: everything allowed).
    perms: Option<Arc<UserPermissions>>,
    /// Publish permission verdicts by subject (bounded), so the hot path rarely re-checks.
    pub_verdicts: HashMap<Box<[u8]>, bool>,
    /// The nonce of this client's INFO, which an nkey user signs (empty when none).
    nonce: String,
    /// With `verify_and_map`, what the client's TLS handshake showed (read when it
    /// completed); `None` for a plain-text client.
    tls_peer: Option<Box<PeerCertificates>>,
    liveness: Liveness,
    /// A read ended inside the message of the current `PUB` or `HPUB`, whose subject
    /// was checked then (see [`ClientSession::on_incomplete`]).
    publish_checked: bool,
}

/// What a new client is told first: its INFO line (the template in force with its id and
/// address) and, when nkey users are configured, the fresh nonce that INFO carries.
pub struct Greeting {
    pub info: Vec<u8>,
    pub nonce: String,
}

impl Greeting {
    pub fn new(turn: &Turn, cid: u64, addr: SocketAddr) -> Greeting {
        let nonce = match turn.settings.auth.needs_nonce() {
            true => crate::nkeys::new_nonce(),
            false => String::new(),
        };
        let template = turn.shared.client_info(&turn.settings);
        let info = template.line_with_nonce(cid, addr.ip().to_string(), nonce.clone());
        Greeting { info, nonce }
    }
}

impl ClientSession {
    /// The session of a client just accepted (its INFO, with `nonce`, is queued or sent):
    /// arms its timers, registers it, and enforces `max_connections`.
    pub fn start(shared: Arc<ConnShared>, nonce: String, turn: &mut Turn) -> ClientSession {
        let settings = Arc::clone(&turn.settings);
        let opts = &settings.opts;
        let token = shared.token;
        let now = Instant::now();
        let session = ClientSession {
            parser: Parser::new(opts.max_control_line, opts.max_payload),
            opts: ClientOpts::default(),
            phase: Phase::AwaitingConnect,
            user: None,
            perms: None,
            pub_verdicts: HashMap::new(),
            nonce,
            tls_peer: None,
            liveness: Liveness::new(now + opts.ping_interval),
            publish_checked: false,
            account: turn.shared.accounts.global().clone(),
            bound: false,
            first_ping_answered: false,
            shared,
        };
        turn.counts.total_connections += 1;
        turn.schedule(token, now + opts.ping_interval, TimerKind::Ping);
        if settings.auth.required() {
            turn.schedule(token, now + opts.auth_timeout(), TimerKind::AuthTimeout);
        }
        debug!("{}Client connection created", session.shared.prefix());
        let clients = {
            let mut clients = turn.shared.clients();
            clients.insert(session.shared.cid, session.shared.clone());
            clients.len()
        };
        if clients > opts.max_connections {
            max_connections_exceeded(&session.shared, turn);
        }
        session
    }

    fn token(&self) -> usize {
        self.shared.token
    }

    /// The account's stream imports changed (a reload): the subscriptions' shadows are
    /// made again.
    pub fn reimport(&self, turn: &Turn) {
        let subs: Vec<SubRef> = self.shared.subs.lock().values().cloned().collect();
        for sub in &subs {
            imports::remove_shadows(turn, sub);
            if sub.account.has_stream_imports() {
                imports::add_shadows(turn, &sub.account, sub);
            }
        }
    }

    /// Over `max_connections` after a reload lowered it.
    pub fn shed(&self, turn: &mut Turn) {
        max_connections_exceeded(&self.shared, turn);
    }

    /// The TLS handshake completed with these client certificates (leaf first; none
    /// without `verify`): read them now if they are to be mapped to a user at CONNECT.
    pub fn tls_established(&mut self, chain: Option<&[CertificateDer<'_>]>, settings: &Settings) {
        if settings.auth.maps_certificates() {
            let peer = PeerCertificates::read(chain.unwrap_or_default());
            self.tls_peer = Some(Box::new(peer));
        }
    }

    /// INFO from a client: ignored if it is a JSON object (or `null`), as the reference
    /// decodes it and drops it; anything else closes the connection without an `-ERR`.
    fn on_info(&mut self, json: &[u8], turn: &mut Turn) {
        let decodes = serde_json::from_slice::<serde_json::Value>(json)
            .is_ok_and(|v| v.is_object() || v.is_null());
        if !decodes {
            error!(
                "{}invalid INFO document: {}",
                self.shared.prefix(),
                String::from_utf8_lossy(json)
            );
            turn.close(self.token(), CloseReason::ProtocolViolation);
        }
    }

    fn on_connect(&mut self, json: &[u8], turn: &mut Turn) {
        let now = Instant::now();
        let interval = turn.settings.opts.ping_interval.min(FIRST_PING_INTERVAL);
        let jitter = Duration::from_nanos(turn.random() % (interval.as_nanos() as u64 / 5 + 1));
        let token = self.token();
        turn.outputs[token].counts.touched = true;
        let due = now + interval + jitter;
        self.liveness.reschedule(due);
        if self.opts.apply_connect(json).is_err() {
            error!("{}invalid CONNECT document", self.shared.prefix());
            turn.close(token, CloseReason::ProtocolViolation);
            return;
        }
        let shared = &self.shared;
        // Until a PONG measures it, the RTT is the time from accept to CONNECT.
        let rtt = shared.start.elapsed().unwrap_or_default();
        shared.activity.set_rtt(rtt);
        self.liveness.estimate_rtt(rtt);
        let opts = &self.opts;
        shared
            .async_info
            .store(opts.protocol >= 1, Ordering::Relaxed);
        shared.update_meta(|meta| {
            meta.name.clone_from(&opts.name);
            meta.lang.clone_from(&opts.lang);
            meta.version.clone_from(&opts.version);
            meta.user.clone_from(&opts.user);
            // As the reference's raw auth user: the nkey, else the user, else the token.
            meta.authorized_user = [&opts.nkey, &opts.user, &opts.auth_token]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_default();
        });
        turn.schedule(token, due, TimerKind::Ping);
        match self.authenticate(turn) {
            Ok(Some(identity)) => self.finish_connect(identity, turn),
            Ok(None) => {}
            Err(refused) => {
                if let Some(detail) = refused.detail {
                    debug!("{}{detail}", self.shared.prefix());
                }
                self.auth_violation(Some(refused.to_string()), turn);
            }
        }
    }

    /// Checks the CONNECT credentials: the identity, or `None` when a bcrypt comparison
    /// went to the verifier pool (the phase then says so; see [`Self::on_verdict`]).
    fn authenticate(&mut self, turn: &mut Turn) -> Result<Option<Identity>, Refused> {
        let creds = Credentials {
            user: &self.opts.user,
            pass: &self.opts.pass,
            token: &self.opts.auth_token,
            nkey: &self.opts.nkey,
            sig: &self.opts.sig,
            nonce: &self.nonce,
            tls: self.tls_peer.as_deref(),
        };
        let mut notes = Vec::new();
        let outcome = turn.settings.auth.check_noted(creds, &mut notes);
        for note in notes {
            match note {
                Note::Debug(line) => debug!("{}{line}", self.shared.prefix()),
                Note::Warn(line) => warn!("{line}"),
            }
        }
        match outcome {
            Outcome::Done(verdict) => verdict.map(Some),
            Outcome::Verify(pending) => {
                let waiter = (turn.reactor, self.token(), self.shared.cid);
                let queue = &turn.shared.verifier;
                queue.submit(pending.digest, &pending.hash, &pending.password, waiter);
                self.phase = match self.phase {
                    Phase::Established | Phase::Reverifying(_) => Phase::Reverifying(pending),
                    Phase::AwaitingConnect | Phase::Verifying(_) => Phase::Verifying(pending),
                };
                Ok(None)
            }
        }
    }

    /// A bcrypt verdict: finishes the CONNECT (or the re-check) it was for. Returns
    /// whether input held behind it may run now.
    pub fn on_verdict(&mut self, digest: u64, matched: bool, turn: &mut Turn) -> bool {
        let phase = std::mem::replace(&mut self.phase, Phase::AwaitingConnect);
        let (pending, reverifying) = match phase {
            Phase::Verifying(pending) => (pending, false),
            Phase::Reverifying(pending) => (pending, true),
            other => {
                self.phase = other;
                return false;
            }
        };
        if matched {
            turn.settings.auth.remember(digest);
        }
        match (pending.resolve(matched), reverifying) {
            (Ok(identity), false) => self.finish_connect(identity, turn),
            (Err(refused), false) => self.auth_violation(Some(refused.to_string()), turn),
            (Ok(identity), true) => {
                self.phase = Phase::Established;
                self.apply_identity(identity, turn);
            }
            (Err(_), true) => {
                self.phase = Phase::Established;
                self.refuse_after_reload(turn);
            }
        }
        true
    }

    /// After an authorization reload: checks an established client again, as the
    /// reference does. A client that no longer authenticates is closed; the others get
    /// their new permissions.
    pub fn reauthenticate(&mut self, turn: &mut Turn) {
        if !matches!(self.phase, Phase::Established) {
            return;
        }
        match self.authenticate(turn) {
            Ok(Some(identity)) => self.apply_identity(identity, turn),
            Ok(None) => {}
            Err(_) => self.refuse_after_reload(turn),
        }
    }

    /// Credentials a reload no longer accepts: `-ERR 'Authorization Violation'` and close
    /// when the user is still configured (a new password), a silent close when it is gone,
    /// as the reference does.
    fn refuse_after_reload(&mut self, turn: &mut Turn) {
        let user = self.user.as_deref().unwrap_or_default();
        if !user.is_empty() && turn.settings.auth.has_user(user) {
            self.auth_violation(None, turn);
        } else {
            self.revoke(turn);
        }
    }

    /// A connected client whose user a reload removed or moved to another account: closed
    /// without an `-ERR`, as the reference does.
    fn revoke(&mut self, turn: &mut Turn) {
        turn.close(self.token(), CloseReason::AuthenticationFailure);
    }

    /// New permissions for a connected client: subscriptions they no longer allow are
    /// removed, each with the reference's `-ERR`.
    fn apply_identity(&mut self, identity: Identity, turn: &mut Turn) {
        let moved = match &identity.account {
            Some(name) => **name != *self.account.name,
            None => !self.account.is_global(),
        };
        if moved {
            self.revoke(turn);
            return;
        }
        self.set_identity(identity);
        let Some(perms) = self.perms.clone() else {
            return;
        };
        let revoked: Vec<SubRef> = {
            let mut subs = self.shared.subs.lock();
            let revoked = subs
                .values()
                .filter(|s| !perms.can_subscribe(&s.subject, s.queue.as_deref()))
                .cloned()
                .collect();
            subs.retain(|_, s| perms.can_subscribe(&s.subject, s.queue.as_deref()));
            revoked
        };
        for sub in revoked {
            if sub
                .account
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), &sub)
            {
                turn.interest_changed(&sub, false);
            }
            imports::remove_shadows(turn, &sub);
            service::subscription_gone(&sub.account);
            let text = format!(
                "Permissions Violation for Subscription to {:?} (sid {:?})",
                String::from_utf8_lossy(&sub.subject),
                String::from_utf8_lossy(&sub.sid)
            );
            turn.send_err(self.token(), &text);
        }
    }

    /// The checks of CONNECT after authentication, then `+OK`.
    fn finish_connect(&mut self, identity: Identity, turn: &mut Turn) {
        let account = identity.account.clone();
        self.set_identity(identity);
        self.phase = Phase::Established;
        let token = self.token();
        if !self.opts.account.is_empty() || self.opts.new_account {
            self.auth_violation(Some("authentication error".to_string()), turn);
            return;
        }
        if !self.bind(account.as_deref(), turn) {
            return;
        }
        if !(0..=1).contains(&self.opts.protocol) {
            turn.send_err_and_close(
                token,
                "invalid client protocol",
                CloseReason::BadClientProtocolVersion,
            );
            return;
        }
        let headers = turn.settings.opts.headers && self.opts.headers;
        self.shared.headers.store(headers, Ordering::Relaxed);
        self.parser.set_headers(headers);
        if let Some(descriptor) = self.opts.descriptor() {
            self.shared.set_descriptor(self.shared.addr, &descriptor);
        }
        if self.opts.no_responders && !headers {
            turn.send_err_and_close(
                token,
                "no responders requires headers support",
                CloseReason::NoRespondersRequiresHeaders,
            );
            return;
        }
        self.send_ok(turn);
    }

    /// Binds the client to its user's account (`None`: `$G`), within the account's
    /// `max_connections`; false when the client was closed instead. A client that sends
    /// CONNECT again as a user of another account moves there, as in the reference; the
    /// subscriptions it made stay in the account they were made in.
    fn bind(&mut self, name: Option<&str>, turn: &mut Turn) -> bool {
        let accounts = &turn.shared.accounts;
        let account = match name {
            None => accounts.global().clone(),
            Some(name) => match accounts.get(name.as_bytes()) {
                Some(account) => account,
                None => {
                    self.revoke(turn);
                    return false;
                }
            },
        };
        if self.bound {
            self.account.clients.fetch_sub(1, Ordering::Relaxed);
        }
        let clients = account.clients.fetch_add(1, Ordering::Relaxed) + 1;
        let limit = account.limits().max_connections;
        self.shared.set_account(&account);
        self.account = account;
        self.bound = true;
        if limit >= 0 && clients as i64 > limit {
            error!(
                "{}maximum account active connections exceeded",
                self.shared.prefix()
            );
            turn.send_err_and_close(
                self.token(),
                "maximum account active connections exceeded",
                CloseReason::MaxAccountConnectionsExceeded,
            );
            return false;
        }
        if self.max_subscriptions(turn) == Some(0) {
            self.subscriptions_exceeded(turn);
            turn.close(self.token(), CloseReason::MaxSubscriptionsExceeded);
            return false;
        }
        let opts = &turn.settings.opts;
        self.set_limits(opts.max_control_line, opts.max_payload);
        true
    }

    /// The server's limits, lowered by the account's `max_payload`.
    pub fn set_limits(&mut self, max_control_line: usize, max_payload: usize) {
        let max_payload = self.max_payload(max_payload);
        self.parser.set_limits(max_control_line, max_payload);
    }

    /// The server's `max_payload`, lowered by the account's.
    fn max_payload(&self, server: usize) -> usize {
        match usize::try_from(self.account.limits().max_payload) {
            Ok(account) => account.min(server),
            Err(_) => server,
        }
    }

    /// Subscriptions a connection may have: the server's `max_subscriptions` (0 =
    /// unlimited) lowered by the account's (-1 = unlimited); `None` = unlimited.
    fn max_subscriptions(&self, turn: &Turn) -> Option<usize> {
        let server = Some(turn.settings.opts.max_subscriptions).filter(|&n| n > 0);
        let account = usize::try_from(self.account.limits().max_subscriptions).ok();
        match (server, account) {
            (Some(s), Some(a)) => Some(s.min(a)),
            (limit, None) | (None, limit) => limit,
        }
    }

    /// Logs and answers a SUB over the subscription limit.
    fn subscriptions_exceeded(&self, turn: &mut Turn) {
        error!("{}maximum subscriptions exceeded", self.shared.prefix());
        turn.send_err(self.token(), "maximum subscriptions exceeded");
    }

    /// PING: PONG, and after the client's first PING (with CONNECT `protocol` 1) an updated
    /// INFO when its account lowered `max_payload` or the cluster's client URLs changed
    /// since the client connected: it may have read its INFO before the change and sent
    /// CONNECT after the async INFO went out (the reference's `processPing`).
    fn on_ping(&mut self, turn: &mut Turn) {
        self.liveness.on_ping(self.shared.token, turn);
        if std::mem::replace(&mut self.first_ping_answered, true) || self.opts.protocol < 1 {
            return;
        }
        let template = turn.shared.client_info(&turn.settings);
        let max_payload = self.max_payload(template.max_payload);
        let started = conn_info::unix_nanos(self.shared.start);
        let urls_changed = turn.shared.client_urls_changed_at() >= started;
        if max_payload == template.max_payload && !urls_changed {
            return;
        }
        let info = Info {
            max_payload,
            ..template
        };
        let line = info.line_for(self.shared.cid, self.shared.addr.ip().to_string());
        turn.output(self.token()).queue.extend(&line);
    }

    /// Takes on an authenticated identity: user name and permissions. A user mapped from
    /// the certificate becomes the connection's CONNECT user, as in the reference (which
    /// `/connz` shows and filters by).
    fn set_identity(&mut self, identity: Identity) {
        if let (true, Some(name)) = (identity.mapped, &identity.user) {
            if self.opts.user != *name {
                self.opts.user.clone_from(name);
                self.shared.update_meta(|meta| {
                    meta.user.clone_from(name);
                    meta.authorized_user.clone_from(name);
                });
            }
        }
        let anonymous = [&self.opts.user, &self.opts.auth_token, &self.opts.nkey]
            .iter()
            .all(|s| s.is_empty());
        if let (true, Some(name)) = (anonymous, &identity.user) {
            // `no_auth_user` stood in: `/connz?auth=1` names it, as the reference does.
            self.shared
                .update_meta(|meta| meta.authorized_user.clone_from(name));
        }
        self.user = identity.user;
        let tracks = identity
            .permissions
            .as_ref()
            .is_some_and(|p| p.responses().is_some());
        self.shared.tracks_replies.store(tracks, Ordering::Relaxed);
        self.perms = identity.permissions;
        self.pub_verdicts.clear();
    }

    /// `-ERR 'Authorization Violation'` and close; `log` is the error line, if any.
    fn auth_violation(&mut self, log: Option<String>, turn: &mut Turn) {
        if let Some(line) = log {
            error!("{}{line}", self.shared.prefix());
        }
        turn.send_err_and_close(
            self.token(),
            "Authorization Violation",
            CloseReason::AuthenticationFailure,
        );
    }

    /// The user as violation log lines name it: `Nkey "U…"`, `User "alice"` or
    /// `User "N/A"`.
    fn auth_user(&self) -> String {
        match &self.user {
            Some(nkey) if *nkey == self.opts.nkey => format!("Nkey {nkey:?}"),
            user => format!("User {:?}", user.as_deref().unwrap_or("N/A")),
        }
    }

    /// `+OK` when the client asked for verbose replies.
    fn send_ok(&self, turn: &mut Turn) {
        if self.opts.verbose {
            turn.send(self.token(), OK, "OK");
        }
    }

    fn on_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8], turn: &mut Turn) {
        let token = self.token();
        let denied = self
            .perms
            .as_ref()
            .is_some_and(|p| !p.can_subscribe(subject, queue));
        if denied {
            let (subject, sid) = (
                String::from_utf8_lossy(subject),
                String::from_utf8_lossy(sid),
            );
            let (err, log) = match queue.map(String::from_utf8_lossy) {
                Some(queue) => (
                    format!("Permissions Violation for Subscription to {subject:?} using queue {queue:?}"),
                    format!("Subscription Violation - {}, Subject {subject:?}, Queue: {queue:?}, SID {sid}", self.auth_user()),
                ),
                None => (
                    format!("Permissions Violation for Subscription to {subject:?}"),
                    format!("Subscription Violation - {}, Subject {subject:?}, SID {sid}", self.auth_user()),
                ),
            };
            error!("{}{log}", self.shared.prefix());
            turn.send_err(token, &err);
            return;
        }
        let opts = &turn.settings.opts;
        if opts.max_sub_tokens > 0 && subject::token_count(subject) > opts.max_sub_tokens {
            let msg = format!(
                "Permissions Violation for Subscription to {:?}, too many tokens",
                String::from_utf8_lossy(subject)
            );
            turn.send_err(token, &msg);
            return;
        }
        // At the limit, even a SUB that repeats a sid is refused, as in the reference.
        let at_limit = self
            .max_subscriptions(turn)
            .is_some_and(|limit| self.shared.subs.live() >= limit);
        if at_limit {
            self.subscriptions_exceeded(turn);
            return;
        }
        let existing = self.shared.subs.get(sid).is_some_and(|s| !s.is_exhausted());
        if !existing {
            if !subject::is_valid_subject(subject) {
                turn.send_err(token, "Invalid Subject");
                return;
            }
            let sub = SubRef(Arc::new(Subscription {
                conn: self.shared.clone(),
                account: self.account.clone(),
                subject: subject.into(),
                queue: queue.map(Into::into),
                sid: sid.into(),
                max: AtomicU64::new(0),
                deny: self.perms.as_ref().and_then(|p| p.delivery_filter(subject)),
                delivered: AtomicU64::new(0),
                weight: AtomicU64::new(1),
                import: None,
                shadows: Mutex::default(),
            }));
            self.account.sublist.insert(subject, queue, sub.clone());
            self.shared.subs.lock().insert(sid.into(), sub.clone());
            turn.outputs[token].counts.touched = true;
            turn.interest_changed(&sub, true);
            if self.account.has_stream_imports() {
                imports::add_shadows(turn, &self.account, &sub);
            }
        }
        self.send_ok(turn);
    }

    fn on_unsub(&mut self, sid: &[u8], max: Option<i64>, turn: &mut Turn) {
        if let Some(sub) = self.shared.subs.get(sid) {
            turn.outputs[self.token()].counts.touched = true;
            let delivered = sub.delivered.load(Ordering::Relaxed);
            match max {
                Some(max) if max > 0 && max as u64 > delivered => {
                    sub.max.store(max as u64, Ordering::Relaxed);
                }
                _ => {
                    let removed = self.shared.subs.lock().remove(sid);
                    if let Some(sub) = removed {
                        if sub
                            .account
                            .sublist
                            .remove(&sub.subject, sub.queue.as_deref(), &sub)
                        {
                            turn.interest_changed(&sub, false);
                        }
                        imports::remove_shadows(turn, &sub);
                        service::subscription_gone(&sub.account);
                        if logging::trace_enabled() {
                            let sid = String::from_utf8_lossy(sid);
                            trace!("{}<-> [DELSUB {sid}]", self.shared.prefix());
                        }
                    }
                }
            }
        }
        self.send_ok(turn);
    }

    /// PUB and HPUB: counted, then mapped (when the account maps subjects), checked and
    /// delivered.
    fn on_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        data: &[u8],
        args: &[u8],
        turn: &mut Turn,
    ) {
        let token = self.token();
        // An empty header block is no header block (the reference's `hdr > 0`).
        let msg = Message {
            subject,
            reply,
            header_len: header_len.filter(|&h| h > 0),
            data,
            sizes: LazySizes::of(args, header_len.is_some()),
            via_service: false,
        };
        let counts = &mut turn.outputs[token].counts;
        counts.in_msgs += 1;
        counts.in_bytes += data.len() as u64;
        turn.counts.in_msgs += 1;
        turn.counts.in_bytes += data.len() as u64;
        if self.opts.pedantic {
            self.check_pedantic_publish(subject, turn);
        }
        match self.account.alters_publications() {
            false => self.publish(&msg, false, turn),
            true => self.publish_altered(&msg, turn),
        }
    }

    /// A pedantic client's complete publication: its subject is checked, unless a read
    /// that ended inside its message checked it already.
    #[cold]
    fn check_pedantic_publish(&mut self, subject: &[u8], turn: &mut Turn) {
        if !std::mem::take(&mut self.publish_checked) {
            self.check_publish_subject(subject, 1, turn);
        }
    }

    /// A pedantic client's `-ERR` (`times` over) for a publish subject with wildcards or
    /// empty tokens; the message is delivered all the same.
    fn check_publish_subject(&self, subject: &[u8], times: usize, turn: &mut Turn) {
        if self.opts.pedantic && !subject::is_valid_literal_subject(subject) {
            for _ in 0..times {
                turn.send_err(self.token(), "Invalid Publish Subject");
            }
        }
    }

    /// A publication in an account with mappings or service imports: the mapped subject is
    /// the one checked and delivered, and service imports may take it.
    #[cold]
    #[inline(never)]
    fn publish_altered(&mut self, msg: &Message<'_>, turn: &mut Turn) {
        let mapped = match self.account.has_mappings() {
            false => Mapped::Unchanged,
            true => self.map_subject(msg.subject, turn),
        };
        let subject = match &mapped {
            Mapped::Unchanged => msg.subject,
            Mapped::To(to) => to,
            Mapped::Dropped => return,
        };
        let msg = Message {
            subject,
            reply: msg.reply,
            header_len: msg.header_len,
            data: msg.data,
            sizes: msg.sizes.copied(),
            via_service: false,
        };
        self.publish(&msg, self.account.has_service_imports(), turn);
    }

    /// Permissions, then delivery in the account (and through its service imports when
    /// `imports`), then the 503 for a request nobody took. Always inlined: the plain path
    /// of `on_pub` is the hottest code of the server.
    #[inline(always)]
    fn publish(&mut self, msg: &Message<'_>, imports: bool, turn: &mut Turn) {
        let token = self.token();
        let subject = msg.subject;
        if has_prefix(subject, b"_GR_.") || !self.may_publish(subject) {
            error!(
                "{}Publish Violation - {}, Subject {:?}",
                self.shared.prefix(),
                self.auth_user(),
                String::from_utf8_lossy(subject)
            );
            let text = format!(
                "Permissions Violation for Publish to {:?}",
                String::from_utf8_lossy(subject)
            );
            turn.send_err(token, &text);
            return;
        }
        if let Some(reply) = msg.reply.filter(|r| is_reserved_reply(r)) {
            let text = format!(
                "Permissions Violation for Publish with Reply of {:?}",
                String::from_utf8_lossy(reply)
            );
            turn.send_err(token, &text);
            return;
        }
        self.send_ok(turn);
        let delivered =
            deliver::deliver(turn, &self.account, &self.shared, self.opts.echo, msg, None);
        let imported = imports && service::request(turn, &self.account, &self.shared, msg);
        let answerable = delivered > 0 || imported;
        if let Some(reply) = msg.reply.filter(|_| !answerable && self.opts.no_responders) {
            self.send_no_responders(reply, turn);
        }
    }

    /// The account's mapping of a published subject (traced as the reference does). Out of
    /// the publication's hot path: most accounts map nothing.
    #[cold]
    #[inline(never)]
    fn map_subject(&self, subject: &[u8], turn: &mut Turn) -> Mapped {
        let roll = (turn.random() % 100) as u8;
        let cluster = turn.settings.opts.cluster.name.as_deref();
        let mapped = self.account.map_subject(subject, roll, cluster);
        if let (Mapped::To(to), true) = (&mapped, logging::trace_enabled()) {
            trace!(
                "{}<<- [MAPPING {} -> {}]",
                self.shared.prefix(),
                String::from_utf8_lossy(subject),
                String::from_utf8_lossy(to)
            );
        }
        mapped
    }

    /// Whether the user may publish to `subject` (the test for a user without permissions
    /// stays in the publication's hot path).
    #[inline(always)]
    fn may_publish(&mut self, subject: &[u8]) -> bool {
        self.perms.is_none() || self.permitted_publish(subject)
    }

    /// A user with permissions: its publish permissions (cached), else a response it is
    /// allowed to send (`allow_responses`).
    fn permitted_publish(&mut self, subject: &[u8]) -> bool {
        let Some(perms) = &self.perms else {
            return true;
        };
        let verdict = match self.pub_verdicts.get(subject) {
            Some(&verdict) => verdict,
            None => {
                let verdict = perms.can_publish(subject);
                if self.pub_verdicts.len() >= PUB_VERDICTS {
                    self.pub_verdicts.clear();
                }
                self.pub_verdicts.insert(subject.into(), verdict);
                verdict
            }
        };
        verdict
            || perms
                .responses()
                .is_some_and(|allowed| self.shared.take_response(subject, allowed))
    }

    /// The `NATS/1.0 503` status to the publisher's first subscription on the reply subject
    /// (not a queue subscription: the reference looks at plain ones only).
    fn send_no_responders(&self, reply: &[u8], turn: &mut Turn) {
        let found = self
            .shared
            .subs
            .lock()
            .values()
            .find(|s| s.queue.is_none() && subject::matches(&s.subject, reply))
            .cloned();
        let Some(sub) = found else {
            return;
        };
        let out = turn.output(self.token());
        let framed = out.queue.tail(FRAME_SLACK);
        Message::no_responders(reply).frame_into(framed, &sub.sid, true);
    }

    /// Lame duck mode: an async INFO with `"ldm":true`, for clients that accept async
    /// INFO (protocol 1).
    pub fn announce_lame_duck(&self, turn: &mut Turn) {
        if self.opts.protocol < 1 {
            return;
        }
        let info = Info {
            ldm: true,
            ..turn.shared.client_info(&turn.settings)
        };
        let line = info.line_for(self.shared.cid, self.shared.addr.ip().to_string());
        turn.output(self.token()).queue.extend(&line);
    }
}

impl Role for ClientSession {
    fn shared(&self) -> &Arc<ConnShared> {
        &self.shared
    }

    fn parser(&mut self) -> &mut Parser {
        &mut self.parser
    }

    fn max_held_input(&self, settings: &Settings) -> usize {
        let opts = &settings.opts;
        opts.max_payload + opts.max_control_line + 64
    }

    /// Inlined into the parse loop, as it was before accounts made it larger: the call
    /// per operation costs a publisher about a tenth of its rate (callgrind: 38
    /// instructions a PUB).
    #[inline]
    fn on_frame(&mut self, frame: Frame<'_>, turn: &mut Turn) {
        match frame.op {
            Op::Connect(json) => self.on_connect(json, turn),
            Op::Pub {
                subject,
                reply,
                payload,
            } => self.on_pub(subject, reply, None, payload, frame.args, turn),
            Op::HPub {
                subject,
                reply,
                header_len,
                message,
            } => self.on_pub(subject, reply, Some(header_len), message, frame.args, turn),
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.on_sub(subject, queue, sid, turn),
            Op::Unsub { sid, max } => self.on_unsub(sid, max, turn),
            Op::Ping => self.on_ping(turn),
            Op::Pong => self.liveness.on_pong(&self.shared),
            Op::Err(text) => {
                error!(
                    "{}Client Error {}",
                    self.shared.prefix(),
                    String::from_utf8_lossy(text)
                );
                turn.close(self.token(), CloseReason::ParseError);
            }
            Op::Info(json) => self.on_info(json, turn),
            // Route and leaf operations come only from their parsers.
            Op::Ok
            | Op::Ignored
            | Op::RouteSub { .. }
            | Op::RouteUnsub { .. }
            | Op::RouteMsg { .. }
            | Op::LeafSub { .. }
            | Op::LeafUnsub { .. }
            | Op::LeafMsg { .. } => {}
        }
    }

    /// A read ended inside the message of a `PUB` or `HPUB`. The reference checks a
    /// pedantic client's publish subject at the end of the control line, and again when it
    /// keeps the line for a message that the read did not complete.
    fn on_incomplete(&mut self, pending: &[u8], turn: &mut Turn) {
        if !self.opts.pedantic || self.publish_checked {
            return;
        }
        if let Some(subject) = self.parser.pending_publish(pending) {
            self.check_publish_subject(subject, 2, turn);
            self.publish_checked = true;
        }
    }

    /// A `PUB` or `HPUB` whose message ended badly had its subject checked at the end of
    /// its control line in the reference, before the error.
    fn on_parse_error(&mut self, pending: &[u8], turn: &mut Turn) {
        if !self.opts.pedantic || self.publish_checked {
            return;
        }
        if let Some(subject) = self.parser.publish_subject(pending) {
            self.check_publish_subject(subject, 1, turn);
        }
    }

    /// The reference rejects the first byte of anything but CONNECT when auth is required.
    fn admits(&mut self, first: u8, turn: &mut Turn) -> bool {
        let refused = matches!(self.phase, Phase::AwaitingConnect)
            && !matches!(first, b'C' | b'c')
            && turn.settings.auth.required();
        if refused {
            self.auth_violation(None, turn);
        }
        !refused
    }

    fn holds_input(&self) -> bool {
        matches!(self.phase, Phase::Verifying(_) | Phase::Reverifying(_))
    }

    fn liveness(&mut self) -> &mut Liveness {
        &mut self.liveness
    }

    /// A client that has not sent CONNECT by now is closed.
    fn on_auth_timeout(&mut self, turn: &mut Turn) {
        if matches!(self.phase, Phase::AwaitingConnect) {
            turn.send_err_and_close(
                self.token(),
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            );
        }
    }

    /// Records the closed connection for the monitor, removes its subscriptions and
    /// unregisters it.
    fn closed(self, reason: CloseReason, turn: &mut Turn) {
        let shared = self.shared;
        let mut info = shared.info(true);
        info.closed = Some((SystemTime::now(), reason.as_str()));
        turn.shared.closed.push(info);
        let subs: Vec<_> = shared.subs.lock().drain().map(|(_, sub)| sub).collect();
        // Subscriptions live in the account they were made in (see `bind`): nearly always
        // the client's, removed in one batch.
        let (own, moved): (Vec<&SubRef>, Vec<&SubRef>) = subs
            .iter()
            .partition(|s| Arc::ptr_eq(&s.account, &self.account));
        let removed = self
            .account
            .sublist
            .remove_batch(own.iter().map(|s| (&*s.subject, s.queue.as_deref(), *s)));
        for (sub, _) in own.iter().zip(removed).filter(|(_, removed)| *removed) {
            turn.interest_changed(sub, false);
        }
        for sub in moved {
            if sub
                .account
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), sub)
            {
                turn.interest_changed(sub, false);
            }
        }
        for sub in &subs {
            imports::remove_shadows(turn, sub);
        }
        service::subscription_gone(&self.account);
        turn.shared.clients().remove(&shared.cid);
        if self.bound {
            self.account.clients.fetch_sub(1, Ordering::Relaxed);
        }
        let prefix = shared.prefix();
        debug!("{prefix}Client connection closed: {reason}");
        if logging::trace_enabled() {
            for sub in &subs {
                trace!("{prefix}<-> [DELSUB {}]", String::from_utf8_lossy(&sub.sid));
            }
        }
    }
}

/// Logs and closes a client over `max_connections`, with the reference's `-ERR`.
fn max_connections_exceeded(shared: &ConnShared, turn: &mut Turn) {
    error!("{}maximum connections exceeded", shared.prefix());
    turn.send_err_and_close(
        shared.token,
        "maximum connections exceeded",
        CloseReason::MaxConnectionsExceeded,
    );
}

/// Reply subjects a client may not use (reserved for the server's own routing); as in the
/// reference, a bare `$JS.ACK.` or `_GR_.` is not reserved, a bare `_R_.` is.
fn is_reserved_reply(reply: &[u8]) -> bool {
    reply.starts_with(b"_R_.") || has_prefix(reply, b"$JS.ACK.") || has_prefix(reply, b"_GR_.")
}

/// `s` starts with `prefix` and has more after it.
fn has_prefix(s: &[u8], prefix: &[u8]) -> bool {
    s.len() > prefix.len() && s.starts_with(prefix)
}

#[cfg(test)]
mod tests {
    use super::super::testbed::TestBed;
    use super::*;
    use crate::options::{Options, Permissions, SubjectPermission, User};

    /// Options with one user `u`/`p` (or the given password, e.g. a bcrypt hash).
    fn with_user(password: &str, permissions: Option<Permissions>) -> Options {
        let mut opts = Options::default();
        opts.auth.users = vec![User {
            username: "u".into(),
            password: Some(password.into()),
            permissions,
            ..User::default()
        }];
        opts
    }

    const QUIET: &str = "CONNECT {\"verbose\":false}\r\n";

    #[test]
    fn reserved_replies() {
        assert!(is_reserved_reply(b"_R_."));
        assert!(!is_reserved_reply(b"$JS.ACK."));
        assert!(!is_reserved_reply(b"_GR_."));
        assert!(is_reserved_reply(b"_GR_.x"));
        assert!(is_reserved_reply(b"_R_.x"));
        assert!(is_reserved_reply(b"$JS.ACK.x"));
        assert!(!is_reserved_reply(b"_INBOX.x"));
    }

    #[test]
    fn verbose_clients_get_ok_and_pong() {
        let mut bed = TestBed::new(Options::default());
        let loud = bed.client();
        bed.feed(loud, "CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPING\r\n");
        assert_eq!(bed.take_output(loud), "+OK\r\n+OK\r\nPONG\r\n");
        let quiet = bed.client();
        bed.feed(quiet, &format!("{QUIET}SUB foo 1\r\nPING\r\n"));
        assert_eq!(bed.take_output(quiet), "PONG\r\n");
    }

    #[test]
    fn auth_refuses_anything_before_connect_at_its_first_byte() {
        let mut bed = TestBed::new(with_user("p", None));
        let c = bed.client();
        let fed = bed.feed(c, "PING\r\n");
        assert_eq!(fed.used, 0);
        assert_eq!(bed.take_output(c), "-ERR 'Authorization Violation'\r\n");
        let closing = bed.closing(c).expect("closing");
        assert_eq!(closing.reason, CloseReason::AuthenticationFailure);
        assert!(closing.flush, "the -ERR is written before closing");
    }

    #[test]
    fn passwords_decide_the_connect() {
        let mut bed = TestBed::new(with_user("p", None));
        let wrong = bed.client();
        bed.feed(wrong, "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\nPING\r\n");
        assert_eq!(bed.take_output(wrong), "-ERR 'Authorization Violation'\r\n");
        assert_eq!(
            bed.closing(wrong).map(|c| c.reason),
            Some(CloseReason::AuthenticationFailure)
        );
        let right = bed.client();
        bed.feed(right, "CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n");
        assert_eq!(bed.take_output(right), "+OK\r\nPONG\r\n");
        assert_eq!(bed.closing(right), None);
    }

    #[test]
    fn bcrypt_connect_holds_input_until_the_verdict() {
        let hash = bcrypt::hash("p", 4).expect("a hash");
        let mut bed = TestBed::new(with_user(&hash, None));
        let c = bed.client();
        let connect = "CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\n";
        let fed = bed.feed(c, &format!("{connect}PING\r\n"));
        assert_eq!(fed.used, connect.len(), "the PING waits behind the check");
        assert_eq!(bed.take_output(c), "");
        assert!(bed.run_verifier(c));
        assert_eq!(bed.take_output(c), "+OK\r\n");
        bed.feed(c, "PING\r\n");
        assert_eq!(bed.take_output(c), "PONG\r\n");

        let wrong = bed.client();
        bed.feed(wrong, "CONNECT {\"user\":\"u\",\"pass\":\"q\"}\r\nPING\r\n");
        bed.run_verifier(wrong);
        assert_eq!(bed.take_output(wrong), "-ERR 'Authorization Violation'\r\n");
        assert!(bed.closing(wrong).is_some());
    }

    #[test]
    fn auth_timeout_closes_only_before_connect() {
        let mut bed = TestBed::new(with_user("p", None));
        let late = bed.client();
        bed.fire(late, TimerKind::AuthTimeout);
        assert_eq!(bed.take_output(late), "-ERR 'Authentication Timeout'\r\n");
        assert_eq!(
            bed.closing(late).map(|c| c.reason),
            Some(CloseReason::AuthenticationTimeout)
        );
        let prompt = bed.client();
        bed.feed(
            prompt,
            "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n",
        );
        bed.fire(prompt, TimerKind::AuthTimeout);
        assert_eq!(bed.take_output(prompt), "");
        assert_eq!(bed.closing(prompt), None);
    }

    #[test]
    fn permissions_refuse_publish_and_subscribe_but_keep_the_connection() {
        let perms = Permissions {
            publish: Some(SubjectPermission {
                allow: Some(vec!["foo".into()]),
                deny: None,
            }),
            subscribe: Some(SubjectPermission {
                allow: None,
                deny: Some(vec!["secret.>".into()]),
            }),
            allow_responses: None,
        };
        let mut bed = TestBed::new(with_user("p", Some(perms)));
        let c = bed.client();
        bed.feed(
            c,
            "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n",
        );
        bed.feed(c, "PUB bar 2\r\nhi\r\n");
        assert_eq!(
            bed.take_output(c),
            "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n"
        );
        bed.feed(c, "SUB secret.x 1\r\nSUB secret.x q 2\r\n");
        assert_eq!(
            bed.take_output(c),
            "-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"secret.x\" using queue \"q\"'\r\n"
        );
        bed.feed(c, "SUB foo 1\r\nPUB foo 2\r\nhi\r\n");
        assert_eq!(bed.take_output(c), "MSG foo 1 2\r\nhi\r\n");
        assert_eq!(bed.closing(c), None);
    }

    #[test]
    fn pedantic_and_subject_errors() {
        let mut bed = TestBed::new(Options::default());
        let c = bed.client();
        bed.feed(c, "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n");
        bed.feed(c, "SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n");
        // The reference warns and still delivers.
        assert_eq!(
            bed.take_output(c),
            "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n"
        );
        bed.feed(c, "SUB foo..bar 2\r\n");
        assert_eq!(bed.take_output(c), "-ERR 'Invalid Subject'\r\n");
        assert_eq!(bed.closing(c), None);
    }

    #[test]
    fn max_payload_closes_with_the_reference_error() {
        let opts = Options {
            max_payload: 8,
            ..Options::default()
        };
        let mut bed = TestBed::new(opts);
        let c = bed.client();
        bed.feed(c, &format!("{QUIET}PUB foo 9\r\n"));
        assert_eq!(bed.take_output(c), "-ERR 'Maximum Payload Violation'\r\n");
        let closing = bed.closing(c).expect("closing");
        assert_eq!(closing.reason, CloseReason::MaxPayloadExceeded);
        assert!(closing.flush);
    }

    #[test]
    fn delivery_auto_unsubscribe_and_no_echo() {
        let mut bed = TestBed::new(Options::default());
        let sub = bed.client();
        let publisher = bed.client();
        bed.feed(sub, &format!("{QUIET}SUB foo 7\r\nUNSUB 7 2\r\n"));
        bed.feed(
            publisher,
            "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\n",
        );
        bed.feed(
            publisher,
            "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n",
        );
        assert_eq!(
            bed.take_output(sub),
            "MSG foo 7 1\r\na\r\nMSG foo 7 1\r\nb\r\n",
            "two messages, then the subscription is gone"
        );
        assert_eq!(bed.take_output(publisher), "", "echo is off");
        bed.feed(sub, "PUB foo 1\r\nd\r\n");
        assert_eq!(bed.take_output(publisher), "MSG foo 1 1\r\nd\r\n");
        assert_eq!(bed.take_output(sub), "");
    }

    #[test]
    fn no_responders_status_goes_to_the_requester() {
        let mut bed = TestBed::new(Options::default());
        let c = bed.client();
        bed.feed(
            c,
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
        );
        bed.feed(c, "SUB _INBOX.1 9\r\nPUB svc _INBOX.1 2\r\nhi\r\n");
        assert_eq!(
            bed.take_output(c),
            "HMSG _INBOX.1 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
        );
    }

    #[test]
    fn verify_and_map_finds_the_user_in_the_certificate() {
        use crate::options::TlsOptions;
        use rustls::pki_types::pem::PemObject;
        let cert = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("configs/certs")
                .join(name);
            CertificateDer::from_pem_file(path).expect("a certificate")
        };
        let own = SubjectPermission {
            allow: Some(vec!["carol.>".into()]),
            deny: None,
        };
        let mut opts = Options::default();
        opts.auth.users = vec![User {
            username: "CN=carol,OU=dev,O=natsd".into(),
            permissions: Some(Permissions {
                publish: Some(own.clone()),
                subscribe: Some(own),
                allow_responses: None,
            }),
            ..User::default()
        }];
        opts.tls = Some(TlsOptions {
            verify: true,
            verify_and_map: true,
            ..TlsOptions::default()
        });
        let mut bed = TestBed::new(opts);
        let carol = bed.tls_client(&[cert("map-subject-cert.pem")]);
        bed.feed(carol, &format!("{QUIET}SUB secret 1\r\nSUB carol.> 2\r\n"));
        bed.feed(carol, "PUB secret 1\r\nx\r\nPUB carol.x 1\r\ny\r\n");
        assert_eq!(
            bed.take_output(carol),
            "-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n\
             -ERR 'Permissions Violation for Publish to \"secret\"'\r\n\
             MSG carol.x 2 1\r\ny\r\n"
        );
        assert_eq!(bed.closing(carol), None);
        // A certificate of no user, or no certificate at all: refused, whatever CONNECT says.
        let nobody = bed.tls_client(&[cert("map-none-cert.pem")]);
        let plain = bed.client();
        for client in [nobody, plain] {
            bed.feed(
                client,
                "CONNECT {\"user\":\"CN=carol,OU=dev,O=natsd\"}\r\nPING\r\n",
            );
            assert_eq!(
                bed.take_output(client),
                "-ERR 'Authorization Violation'\r\n"
            );
            assert_eq!(
                bed.closing(client).map(|c| c.reason),
                Some(CloseReason::AuthenticationFailure)
            );
        }
    }

    #[test]
    fn nkey_users_sign_the_nonce_of_their_own_info() {
        use crate::nkeys::{encode_signature, UserSeed};
        use crate::options::NkeyUser;
        let seed = UserSeed::generate();
        let public = seed.public_key();
        let mut opts = Options::default();
        opts.auth.nkeys = vec![NkeyUser {
            nkey: public.clone(),
            ..NkeyUser::default()
        }];
        let mut bed = TestBed::new(opts);
        let (c, nonce) = bed.client_with_nonce();
        let sig = encode_signature(&seed.sign(nonce.as_bytes()));
        let connect =
            format!("CONNECT {{\"verbose\":false,\"nkey\":\"{public}\",\"sig\":\"{sig}\"}}\r\n");
        bed.feed(c, &format!("{connect}PUB x 1\r\n1\r\nPING\r\n"));
        assert_eq!(bed.take_output(c), "PONG\r\n");
        // Another client's INFO has another nonce: the first signature does not carry over.
        let (replay, other_nonce) = bed.client_with_nonce();
        assert_ne!(nonce, other_nonce);
        bed.feed(replay, &format!("{connect}PING\r\n"));
        assert_eq!(
            bed.take_output(replay),
            "-ERR 'Authorization Violation'\r\n"
        );
        assert_eq!(
            bed.closing(replay).map(|c| c.reason),
            Some(CloseReason::AuthenticationFailure)
        );
    }
}
