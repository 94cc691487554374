//! The client protocol as the server runs it: parsed operations in, replies and state
//! changes out. PUB/HPUB delivery lives in `deliver`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, log_enabled, trace, Level};

use super::conn::{CloseReason, SubRef, Subscription};
use super::reactor::Reactor;
use super::timer::TimerKind;
use crate::auth::{Credentials, Identity, Outcome, Refused};
use crate::logging;
use crate::proto::{Frame, Op, ParseError, Parsed};
use crate::subject;

/// How long the first server PING waits after CONNECT at most (the reference's
/// `firstClientPingInterval`).
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// The most input a route operation may hold (routes have no payload limit).
const MAX_ROUTED_INPUT: usize = 64 * 1024 * 1024;

const OK: &[u8] = b"+OK\r\n";
const PONG: &[u8] = b"PONG\r\n";
const PING: &[u8] = b"PING\r\n";

impl Reactor {
    /// Parses and runs every complete operation in `buf` (input of the connection at
    /// `token`); returns the bytes consumed. Stops early when the connection closes or is
    /// paused for flow control.
    pub(super) fn process(&mut self, token: usize, buf: &[u8]) -> usize {
        let mut pos = 0;
        let is_route = self.conns[token].route.is_some();
        let max_held = match is_route {
            true => MAX_ROUTED_INPUT,
            false => self.max_held_input(),
        };
        self.conns[token].needs_input = false;
        while pos < buf.len() {
            let conn = &mut self.conns[token];
            if conn.closing.is_some()
                || conn.paused_until.is_some()
                || conn.awaiting_verdict.is_some()
            {
                break;
            }
            if !conn.connected
                && !is_route
                && !matches!(buf[pos], b'C' | b'c')
                && self.settings.auth.required()
            {
                // The reference rejects the first byte of anything but CONNECT.
                self.auth_violation(token, None);
                break;
            }
            match conn.parser.parse(&buf[pos..]) {
                Ok(Parsed::Frame(frame)) => {
                    pos += frame.consumed;
                    if logging::trace_enabled() {
                        self.trace_in(token, &frame);
                    }
                    match is_route {
                        true => self.dispatch_route(token, frame),
                        false => self.dispatch(token, frame),
                    }
                }
                Ok(Parsed::Incomplete { .. }) if buf.len() - pos > max_held => {
                    // Only blanks after a verb or the tail of a PING line can grow this
                    // far; the reference skips them, natsd will not buffer without bound.
                    self.parse_error(token, ParseError::MaxControlLine, &buf[pos..]);
                    break;
                }
                Ok(Parsed::Incomplete { needed }) => {
                    conn.needs_input = true;
                    conn.needed = needed.unwrap_or(0);
                    break;
                }
                Err(err) => {
                    self.parse_error(token, err, &buf[pos..]);
                    break;
                }
            }
        }
        pos
    }

    /// The most input an incomplete operation can legitimately need.
    fn max_held_input(&self) -> usize {
        let opts = &self.settings.opts;
        opts.max_payload + opts.max_control_line + 64
    }

    /// Runs one operation from a client.
    fn dispatch(&mut self, token: usize, frame: Frame<'_>) {
        match frame.op {
            Op::Connect(json) => self.on_connect(token, json),
            Op::Pub {
                subject,
                reply,
                payload,
            } => self.on_pub(token, subject, reply, None, payload, frame.args),
            Op::HPub {
                subject,
                reply,
                header_len,
                message,
            } => self.on_pub(token, subject, reply, Some(header_len), message, frame.args),
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.on_sub(token, subject, queue, sid),
            Op::Unsub { sid, max } => self.on_unsub(token, sid, max),
            Op::Ping => {
                self.conns[token].ping.last_client_ping = Some(Instant::now());
                self.send_proto(token, PONG, "PONG");
            }
            Op::Pong => self.on_pong(token),
            Op::Err(text) => {
                let conn = &self.conns[token];
                error!(
                    "{}Client Error {}",
                    conn.shared.prefix(),
                    String::from_utf8_lossy(text)
                );
                self.close(token, CloseReason::ParseError, false);
            }
            // Route operations come only from a route's parser.
            Op::Info(_)
            | Op::Ok
            | Op::Ignored
            | Op::RouteSub { .. }
            | Op::RouteUnsub { .. }
            | Op::RouteMsg { .. } => {}
        }
    }

    fn trace_in(&self, token: usize, frame: &Frame<'_>) {
        let prefix = self.conns[token].shared.prefix();
        let args = String::from_utf8_lossy(frame.args);
        let line = match frame.op {
            Op::Connect(_) => format!("{} {}", frame.op.name(), redact_password(&args)),
            _ if args.is_empty() => frame.op.name().to_string(),
            _ => format!("{} {}", frame.op.name(), args),
        };
        trace!("{prefix}<<- [{line}]");
        if let Op::Pub { payload: p, .. } | Op::HPub { message: p, .. } = frame.op {
            let max = self.settings.opts.log.max_traced_msg_len;
            trace!(
                "{prefix}<<- MSG_PAYLOAD: [{}]",
                logging::quote_payload(p, max)
            );
        }
    }

    fn parse_error(&mut self, token: usize, err: ParseError, rest: &[u8]) {
        let prefix = self.conns[token].shared.prefix();
        match err {
            ParseError::UnknownOp => {
                error!(
                    "{prefix}Client parser ERROR: proto='{}...'",
                    logging::quote_payload(&rest[..rest.len().min(32)], 0)
                );
                self.send_err_and_close(
                    token,
                    "Unknown Protocol Operation",
                    CloseReason::ProtocolViolation,
                );
            }
            ParseError::MaxControlLine => {
                error!("{prefix}maximum control line exceeded");
                self.send_err_and_close(
                    token,
                    "maximum control line exceeded",
                    CloseReason::MaxControlLineExceeded,
                );
            }
            ParseError::MaxPayload => {
                error!("{prefix}maximum payload exceeded");
                self.send_err_and_close(
                    token,
                    "Maximum Payload Violation",
                    CloseReason::MaxPayloadExceeded,
                );
            }
            ParseError::BadArgs => {
                error!(
                    "{prefix}processing error: proto='{}...'",
                    logging::quote_payload(&rest[..rest.len().min(32)], 0)
                );
                self.close(token, CloseReason::ProtocolViolation, false);
            }
        }
    }

    fn on_connect(&mut self, token: usize, json: &[u8]) {
        let now = Instant::now();
        let interval = self.settings.opts.ping_interval.min(FIRST_PING_INTERVAL);
        let jitter = Duration::from_nanos(self.random() % (interval.as_nanos() as u64 / 5 + 1));
        let conn = &mut self.conns[token];
        conn.last_activity = now;
        conn.counts.touched = true;
        conn.ping.due = now + interval + jitter;
        let due = conn.ping.due;
        if conn.opts.apply_connect(json).is_err() {
            error!("{}invalid CONNECT document", conn.shared.prefix());
            self.close(token, CloseReason::ProtocolViolation, false);
            return;
        }
        let shared = &conn.shared;
        // Until a PONG measures it, the RTT is the time from accept to CONNECT.
        shared
            .activity
            .set_rtt(shared.start.elapsed().unwrap_or_default());
        let opts = &conn.opts;
        shared
            .async_info
            .store(opts.protocol >= 1, Ordering::Relaxed);
        shared.update_meta(|meta| {
            meta.name.clone_from(&opts.name);
            meta.lang.clone_from(&opts.lang);
            meta.version.clone_from(&opts.version);
            meta.user.clone_from(&opts.user);
            meta.authorized_user = match opts.user.is_empty() {
                true => opts.auth_token.clone(),
                false => opts.user.clone(),
            };
        });
        self.schedule(token, due, TimerKind::Ping);
        self.conns[token].connected = true;
        match self.authenticate(token) {
            Some(Ok(identity)) => self.finish_connect(token, identity),
            Some(Err(refused)) => self.auth_violation(token, Some(refused.to_string())),
            None => {}
        }
    }

    /// Checks the client's CONNECT credentials: the verdict, or `None` when a bcrypt
    /// comparison went to the verifier pool (the client waits; see `on_verdict`).
    fn authenticate(&mut self, token: usize) -> Option<Result<Identity, Refused>> {
        let conn = &mut self.conns[token];
        let creds = Credentials {
            user: &conn.opts.user,
            pass: &conn.opts.pass,
            token: &conn.opts.auth_token,
        };
        match self.settings.auth.check(creds) {
            Outcome::Done(verdict) => Some(verdict),
            Outcome::Verify(pending) => {
                let waiter = (self.id, token, conn.shared.cid);
                let queue = &self.shared.verifier;
                queue.submit(pending.digest, &pending.hash, &pending.password, waiter);
                conn.awaiting_verdict = Some(pending);
                None
            }
        }
    }

    /// A bcrypt verdict for a CONNECT: finish it, then run what the client sent after it.
    pub(super) fn on_verdict(&mut self, token: usize, digest: u64, matched: bool) {
        let Some(pending) = self.conns[token].awaiting_verdict.take() else {
            return;
        };
        if matched {
            self.settings.auth.remember(digest);
        }
        match pending.resolve(matched) {
            Ok(identity) if self.conns[token].established => self.apply_identity(token, identity),
            Err(_) if self.conns[token].established => self.revoke(token),
            Ok(identity) => {
                self.finish_connect(token, identity);
                self.mark_ready(token);
            }
            Err(refused) => self.auth_violation(token, Some(refused.to_string())),
        }
    }

    /// After an authorization reload: checks an established client again, as the
    /// reference does. A client that no longer authenticates is closed; the others get
    /// their new permissions.
    pub(super) fn reauthenticate(&mut self, token: usize) {
        match self.authenticate(token) {
            Some(Ok(identity)) => self.apply_identity(token, identity),
            Some(Err(_)) => self.revoke(token),
            None => {}
        }
    }

    /// A connected client whose credentials a reload removed: closed without an `-ERR`,
    /// as the reference does.
    fn revoke(&mut self, token: usize) {
        self.close(token, CloseReason::AuthenticationFailure, false);
    }

    /// New permissions for a connected client: subscriptions they no longer allow are
    /// removed, each with the reference's `-ERR`.
    fn apply_identity(&mut self, token: usize, identity: Identity) {
        let conn = &mut self.conns[token];
        conn.set_identity(identity);
        let Some(perms) = conn.perms.clone() else {
            return;
        };
        let revoked: Vec<SubRef> = {
            let mut subs = conn.shared.subs.lock();
            let revoked = subs
                .values()
                .filter(|s| !perms.can_subscribe(&s.subject, s.queue.as_deref()))
                .cloned()
                .collect();
            subs.retain(|_, s| perms.can_subscribe(&s.subject, s.queue.as_deref()));
            revoked
        };
        for sub in revoked {
            let sid = &sub.sid;
            if self
                .shared
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), &sub)
            {
                self.interest_changed(&sub, false);
            }
            let text = format!(
                "Permissions Violation for Subscription to {:?} (sid {:?})",
                String::from_utf8_lossy(&sub.subject),
                String::from_utf8_lossy(sid)
            );
            self.send_err(token, &text);
        }
    }

    /// The checks of CONNECT after authentication, then `+OK`.
    fn finish_connect(&mut self, token: usize, identity: Identity) {
        let conn = &mut self.conns[token];
        conn.set_identity(identity);
        conn.established = true;
        if !conn.opts.account.is_empty() || conn.opts.new_account {
            self.auth_violation(token, Some("authentication error".to_string()));
            return;
        }
        if !(0..=1).contains(&conn.opts.protocol) {
            self.send_err_and_close(
                token,
                "invalid client protocol",
                CloseReason::BadClientProtocolVersion,
            );
            return;
        }
        let headers = self.settings.opts.headers && conn.opts.headers;
        conn.shared.headers.store(headers, Ordering::Relaxed);
        conn.parser.set_headers(headers);
        if let Some(descriptor) = conn.opts.descriptor() {
            conn.shared.set_descriptor(conn.addr, &descriptor);
        }
        if conn.opts.no_responders && !headers {
            self.send_err_and_close(
                token,
                "no responders requires headers support",
                CloseReason::NoRespondersRequiresHeaders,
            );
            return;
        }
        self.send_ok(token);
    }

    /// `-ERR 'Authorization Violation'` and close; `log` is the error line, if any.
    fn auth_violation(&mut self, token: usize, log: Option<String>) {
        if let Some(line) = log {
            error!("{}{line}", self.conns[token].shared.prefix());
        }
        self.send_err_and_close(
            token,
            "Authorization Violation",
            CloseReason::AuthenticationFailure,
        );
    }

    /// The auth timer: a client that has not sent CONNECT by now is closed.
    pub(super) fn on_auth_timeout(&mut self, token: usize) {
        if !self.conns[token].connected {
            self.send_err_and_close(
                token,
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            );
        }
    }

    fn on_sub(&mut self, token: usize, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let opts = &self.settings.opts;
        let conn = &mut self.conns[token];
        let denied = conn
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
                    format!("Subscription Violation - {}, Subject {subject:?}, Queue: {queue:?}, SID {sid}", conn.auth_user()),
                ),
                None => (
                    format!("Permissions Violation for Subscription to {subject:?}"),
                    format!("Subscription Violation - {}, Subject {subject:?}, SID {sid}", conn.auth_user()),
                ),
            };
            error!("{}{log}", conn.shared.prefix());
            self.send_err(token, &err);
            return;
        }
        if opts.max_sub_tokens > 0 && subject::token_count(subject) > opts.max_sub_tokens {
            let msg = format!(
                "Permissions Violation for Subscription to {:?}, too many tokens",
                String::from_utf8_lossy(subject)
            );
            self.send_err(token, &msg);
            return;
        }
        let existing = conn.shared.subs.get(sid).is_some_and(|s| !s.is_exhausted());
        if !existing {
            let at_limit =
                opts.max_subscriptions > 0 && conn.shared.subs.live() >= opts.max_subscriptions;
            if at_limit {
                error!("{}maximum subscriptions exceeded", conn.shared.prefix());
                self.send_err(token, "maximum subscriptions exceeded");
                return;
            }
            if !subject::is_valid_subject(subject) {
                self.send_err(token, "Invalid Subject");
                return;
            }
            let sub = SubRef(Arc::new(Subscription {
                conn: conn.shared.clone(),
                subject: subject.into(),
                queue: queue.map(Into::into),
                sid: sid.into(),
                max: AtomicU64::new(0),
                deny: conn.perms.as_ref().and_then(|p| p.delivery_filter(subject)),
                delivered: AtomicU64::new(0),
                weight: AtomicU64::new(1),
            }));
            self.shared.sublist.insert(subject, queue, sub.clone());
            conn.shared.subs.lock().insert(sid.into(), sub.clone());
            conn.counts.touched = true;
            self.interest_changed(&sub, true);
        }
        self.send_ok(token);
    }

    fn on_unsub(&mut self, token: usize, sid: &[u8], max: Option<i64>) {
        let conn = &mut self.conns[token];
        if let Some(sub) = conn.shared.subs.get(sid) {
            conn.counts.touched = true;
            let delivered = sub.delivered.load(Ordering::Relaxed);
            match max {
                Some(max) if max > 0 && max as u64 > delivered => {
                    sub.max.store(max as u64, Ordering::Relaxed);
                }
                _ => {
                    let removed = conn.shared.subs.lock().remove(sid);
                    if let Some(sub) = removed {
                        if self
                            .shared
                            .sublist
                            .remove(&sub.subject, sub.queue.as_deref(), &sub)
                        {
                            self.interest_changed(&sub, false);
                        }
                        let conn = &self.conns[token];
                        if logging::trace_enabled() {
                            let sid = String::from_utf8_lossy(sid);
                            trace!("{}<-> [DELSUB {sid}]", conn.shared.prefix());
                        }
                    }
                }
            }
        }
        self.send_ok(token);
    }

    pub(super) fn on_pong(&mut self, token: usize) {
        let ping = &mut self.conns[token].ping;
        ping.outstanding = 0;
        if let Some(sent) = ping.sent_at.take() {
            let rtt = sent.elapsed();
            ping.rtt = Some(rtt);
            self.conns[token].shared.activity.set_rtt(rtt);
        }
    }

    /// The ping timer: send a PING, or close a connection that left too many unanswered.
    pub(super) fn on_ping_timer(&mut self, token: usize, now: Instant) {
        let interval = self.settings.opts.ping_interval;
        let conn = &mut self.conns[token];
        if conn.ping.due > now {
            return; // superseded by a later schedule
        }
        conn.release_idle_buffers();
        let measured = conn.ping.rtt.is_some();
        let active = now.duration_since(conn.last_activity) < interval;
        let pinged = conn
            .ping
            .last_client_ping
            .is_some_and(|t| now.duration_since(t) < interval);
        if !(measured && (active || pinged)) {
            if conn.ping.outstanding + 1 > self.settings.opts.ping_max {
                debug!("{}Stale Client Connection - Closing", conn.shared.prefix());
                self.send_err_and_close(token, "Stale Connection", CloseReason::StaleConnection);
                return;
            }
            conn.ping.outstanding += 1;
            conn.ping.sent_at = Some(now);
            self.send_proto(token, PING, "PING");
        }
        let conn = &mut self.conns[token];
        conn.ping.due = now + interval;
        self.schedule(token, now + interval, TimerKind::Ping);
    }

    /// Queues a protocol line for the connection, traced as `->> [name]`.
    pub(super) fn send_proto(&mut self, token: usize, bytes: &[u8], name: &str) {
        if log_enabled!(Level::Trace) && logging::trace_enabled() {
            trace!("{}->> [{name}]", self.conns[token].shared.prefix());
        }
        self.conns[token].wbuf.extend_from_slice(bytes);
        self.out.mark_dirty(&mut self.conns, token);
    }

    /// `+OK` when the client asked for verbose replies.
    pub(super) fn send_ok(&mut self, token: usize) {
        if self.conns[token].opts.verbose {
            self.send_proto(token, OK, "OK");
        }
    }

    /// Queues `-ERR '<text>'`; the connection stays open.
    pub(super) fn send_err(&mut self, token: usize, text: &str) {
        let line = format!("-ERR '{text}'\r\n");
        self.send_proto(token, line.as_bytes(), &format!("-ERR {text}"));
    }

    /// Queues `-ERR '<text>'` and closes the connection once it is written.
    pub(super) fn send_err_and_close(&mut self, token: usize, text: &str, reason: CloseReason) {
        self.send_err(token, text);
        self.close(token, reason, true);
    }
}

/// Hides the password of a traced CONNECT, as the reference does (first match only).
fn redact_password(connect: &str) -> String {
    let Some(start) = connect.find("\"pass") else {
        return connect.to_string();
    };
    let after_key = &connect[start..];
    let Some(colon) = after_key.find(':') else {
        return connect.to_string();
    };
    let value_start = start + colon + 1;
    let rest = &connect[value_start..];
    let lead = rest.len() - rest.trim_start().len();
    let quoted = rest.trim_start().starts_with('"');
    let body_start = value_start + lead + usize::from(quoted);
    let body_len = connect[body_start..]
        .find(['"', ',', '}', '\r', '\n'])
        .unwrap_or(connect.len() - body_start);
    format!(
        "{}[REDACTED]{}",
        &connect[..body_start],
        &connect[body_start + body_len..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password(r#"{"user":"a","pass":"secret","x":1}"#),
            r#"{"user":"a","pass":"[REDACTED]","x":1}"#
        );
        assert_eq!(redact_password(r#"{"user":"a"}"#), r#"{"user":"a"}"#);
    }
}
