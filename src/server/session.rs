//! Connection roles. Each role (client, route) is a session type in its own file that
//! implements [`Role`]; [`Session`] is the one enum the reactor holds. This module has what
//! every role shares: the parse loop that feeds a role its operations, the answers to
//! parse errors, and liveness (PING/PONG, stale connections).
//!
//! Adding a role: a new file with its session type and `impl Role`, a parser mode in
//! `proto` if it speaks other operations, a variant in [`Session`] and its arm in
//! `each_role!`, and the reactor's accept or dial path that creates it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, trace};

use super::client::ClientSession;
use super::conn::{CloseReason, ConnShared};
use super::route::RouteSession;
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::logging;
use crate::proto::{Frame, Op, ParseError, Parsed, Parser};

const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";

/// What a connection role provides to the reactor.
pub trait Role {
    /// The connection's shared face (its id, token, log prefix).
    fn shared(&self) -> &Arc<ConnShared>;
    /// The role's parser (its mode decides which operations exist).
    fn parser(&mut self) -> &mut Parser;
    /// The most input an incomplete operation may hold.
    fn max_held_input(&self, settings: &Settings) -> usize;
    /// Runs one parsed operation.
    fn on_frame(&mut self, frame: Frame<'_>, turn: &mut Turn);
    /// Checked before each operation with its first byte: false when the session refused
    /// the input (it has asked to close).
    fn admits(&mut self, _first: u8, _turn: &mut Turn) -> bool {
        true
    }
    /// Input waits (e.g. behind a password check).
    fn holds_input(&self) -> bool {
        false
    }
    /// PING/PONG state.
    fn liveness(&mut self) -> &mut Liveness;
    /// The auth timer fired.
    fn on_auth_timeout(&mut self, turn: &mut Turn);
    /// The connection is being torn down (its output is flushed; the socket closes next).
    fn closed(self, reason: CloseReason, turn: &mut Turn);
}

/// A connection's protocol state, by role.
///
/// Held inline in the reactor's slab: boxing the larger client variant would put a pointer
/// chase on every operation of the most common role to save memory only on routes.
#[allow(clippy::large_enum_variant)]
pub enum Session {
    Client(ClientSession),
    Route(RouteSession),
}

/// Runs `$body` with `$role` bound to the session's role, whichever it is.
macro_rules! each_role {
    ($session:expr, $role:ident => $body:expr) => {
        match $session {
            Session::Client($role) => $body,
            Session::Route($role) => $body,
        }
    };
}

impl Session {
    pub fn shared(&self) -> &Arc<ConnShared> {
        each_role!(self, role => role.shared())
    }

    /// Parses and runs every complete operation in `buf`; stops early when the connection
    /// closes, must pause for flow control, or holds its input. (One loop for every role,
    /// so the parser is inlined into it once.)
    pub fn process(&mut self, buf: &[u8], turn: &mut Turn) -> Fed {
        let mut pos = 0;
        let max_held = each_role!(self, role => role.max_held_input(&turn.settings));
        let token = self.shared().token;
        while pos < buf.len() {
            if turn.is_closing(token)
                || each_role!(self, role => role.holds_input() || !role.admits(buf[pos], turn))
            {
                break;
            }
            let parser = each_role!(self, role => role.parser());
            match parser.parse(&buf[pos..]) {
                Ok(Parsed::Frame(frame)) => {
                    pos += frame.consumed;
                    if logging::trace_enabled() {
                        trace_in(self.shared(), &frame, &turn.settings);
                    }
                    each_role!(self, role => role.on_frame(frame, turn));
                    if turn.is_stalled() {
                        break;
                    }
                }
                Ok(Parsed::Incomplete { .. }) if buf.len() - pos > max_held => {
                    // Only blanks after a verb or the tail of a PING line can grow this
                    // far; the reference skips them, natsd will not buffer without bound.
                    parse_error(self.shared(), ParseError::MaxControlLine, &buf[pos..], turn);
                    break;
                }
                Ok(Parsed::Incomplete { needed }) => {
                    return Fed {
                        used: pos,
                        incomplete: Some(needed.unwrap_or(0)),
                    };
                }
                Err(err) => {
                    parse_error(self.shared(), err, &buf[pos..], turn);
                    break;
                }
            }
        }
        Fed {
            used: pos,
            incomplete: None,
        }
    }

    /// New limits after a reload (routes have none: their parser ignores them).
    pub fn set_limits(&mut self, max_control_line: usize, max_payload: usize) {
        each_role!(self, role => role.parser().set_limits(max_control_line, max_payload));
    }

    /// A role's timer fired.
    pub fn on_timer(&mut self, kind: TimerKind, now: Instant, last_read: Instant, turn: &mut Turn) {
        each_role!(self, role => match kind {
            TimerKind::Ping => {
                let token = role.shared().token;
                role.liveness().on_timer(token, now, last_read, turn);
            }
            TimerKind::AuthTimeout => role.on_auth_timeout(turn),
            TimerKind::Resume | TimerKind::WriteDeadline | TimerKind::TlsTimeout => {}
        })
    }

    /// The connection is being torn down.
    pub fn closed(self, reason: CloseReason, turn: &mut Turn) {
        each_role!(self, role => role.closed(reason, turn))
    }
}

/// How far [`Session::process`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Bytes consumed.
    pub used: usize,
    /// It stopped in an incomplete operation that needs this many bytes in total (0 when
    /// the parser cannot tell yet).
    pub incomplete: Option<usize>,
}

/// Answers an operation the parser refused, as the reference does.
fn parse_error(shared: &ConnShared, err: ParseError, rest: &[u8], turn: &mut Turn) {
    let prefix = shared.prefix();
    let token = shared.token;
    match err {
        ParseError::UnknownOp => {
            error!(
                "{prefix}Client parser ERROR: proto='{}...'",
                logging::quote_payload(&rest[..rest.len().min(32)], 0)
            );
            turn.send_err_and_close(
                token,
                "Unknown Protocol Operation",
                CloseReason::ProtocolViolation,
            );
        }
        ParseError::MaxControlLine => {
            error!("{prefix}maximum control line exceeded");
            turn.send_err_and_close(
                token,
                "maximum control line exceeded",
                CloseReason::MaxControlLineExceeded,
            );
        }
        ParseError::MaxPayload => {
            error!("{prefix}maximum payload exceeded");
            turn.send_err_and_close(
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
            turn.close(token, CloseReason::ProtocolViolation, false);
        }
    }
}

/// Traces an operation as received: `<<- [OP args]`, and the payload of a message.
fn trace_in(shared: &ConnShared, frame: &Frame<'_>, settings: &Settings) {
    let prefix = shared.prefix();
    let args = String::from_utf8_lossy(frame.args);
    let line = match frame.op {
        Op::Connect(_) => format!("{} {}", frame.op.name(), redact_password(&args)),
        _ if args.is_empty() => frame.op.name().to_string(),
        _ => format!("{} {}", frame.op.name(), args),
    };
    trace!("{prefix}<<- [{line}]");
    if let Op::Pub { payload: p, .. } | Op::HPub { message: p, .. } = frame.op {
        let max = settings.opts.log.max_traced_msg_len;
        trace!(
            "{prefix}<<- MSG_PAYLOAD: [{}]",
            logging::quote_payload(p, max)
        );
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

/// Server PINGs, the peer's PINGs and PONGs, and the round-trip time.
pub struct Liveness {
    /// When the ping timer should next fire.
    due: Instant,
    /// PINGs sent and not yet answered.
    outstanding: u32,
    /// Last time the peer sent us a PING.
    last_peer_ping: Option<Instant>,
    /// When our last PING went out (for the RTT).
    sent_at: Option<Instant>,
    /// Round-trip time measured from our last answered PING.
    rtt: Option<Duration>,
}

impl Liveness {
    /// The first PING is due at `due` (the caller schedules its timer).
    pub fn new(due: Instant) -> Self {
        Liveness {
            due,
            outstanding: 0,
            last_peer_ping: None,
            sent_at: None,
            rtt: None,
        }
    }

    /// Moves the next PING to `due` (the caller schedules its timer).
    pub fn reschedule(&mut self, due: Instant) {
        self.due = due;
    }

    /// The peer sent PING: answer PONG.
    pub fn on_ping(&mut self, token: usize, turn: &mut Turn) {
        self.last_peer_ping = Some(Instant::now());
        turn.send(token, PONG, "PONG");
    }

    /// The peer answered our PING: measure the round trip.
    pub fn on_pong(&mut self, shared: &ConnShared) {
        self.outstanding = 0;
        if let Some(sent) = self.sent_at.take() {
            let rtt = sent.elapsed();
            self.rtt = Some(rtt);
            shared.activity.set_rtt(rtt);
        }
    }

    /// The ping timer: send a PING (unless the connection proved alive lately), or close
    /// a connection that left too many unanswered. `last_read` is when input last came.
    pub fn on_timer(&mut self, token: usize, now: Instant, last_read: Instant, turn: &mut Turn) {
        if self.due > now {
            return; // superseded by a later schedule
        }
        let interval = turn.settings.opts.ping_interval;
        let measured = self.rtt.is_some();
        let active = now.duration_since(last_read) < interval;
        let pinged = self
            .last_peer_ping
            .is_some_and(|t| now.duration_since(t) < interval);
        if !(measured && (active || pinged)) {
            if self.outstanding + 1 > turn.settings.opts.ping_max {
                debug!(
                    "{}Stale Client Connection - Closing",
                    turn.outputs[token].shared.prefix()
                );
                turn.send_err_and_close(token, "Stale Connection", CloseReason::StaleConnection);
                return;
            }
            self.outstanding += 1;
            self.sent_at = Some(now);
            turn.send(token, PING, "PING");
        }
        self.due = now + interval;
        turn.schedule(token, self.due, TimerKind::Ping);
    }
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
