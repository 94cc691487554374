//! The session the reactor holds for each connection ([`Session`], one variant per role),
//! the parse loop that feeds a role its operations, and the answers to parse errors.
//!
//! Adding a role: a new file with its session type and `impl Role` (`role`), a parser mode
//! in `proto` if it speaks other operations, a variant in [`Session`] and its arm in
//! `each_role!`, and the reactor's accept or dial path that creates it.

use std::sync::Arc;
use std::time::Instant;

use log::{error, trace};

use super::client::ClientSession;
use super::conn::{CloseReason, ConnShared};
use super::leaf::LeafSession;
use super::role::Role;
use super::route::RouteSession;
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::Turn;
use crate::logging;
use crate::proto::{Frame, Op, ParseError, Parsed};

/// A connection's protocol state, by role.
///
/// Held inline in the reactor's slab: boxing the larger client variant would put a pointer
/// chase on every operation of the most common role to save memory only on routes.
#[allow(clippy::large_enum_variant)]
pub enum Session {
    Client(ClientSession),
    Route(RouteSession),
    Leaf(LeafSession),
}

/// Runs `$body` with `$role` bound to the session's role, whichever it is.
macro_rules! each_role {
    ($session:expr, $role:ident => $body:expr) => {
        match $session {
            Session::Client($role) => $body,
            Session::Route($role) => $body,
            Session::Leaf($role) => $body,
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
                    self.ended_inside(&buf[pos..], turn);
                    return Fed {
                        used: pos,
                        incomplete: Some(needed.unwrap_or(0)),
                    };
                }
                Err(err) => {
                    self.failed_to_parse(&buf[pos..], turn);
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

    /// The input ended inside the operation that starts `pending` (out of the parse loop,
    /// which stays small enough to keep the parser inlined).
    #[inline(never)]
    fn ended_inside(&mut self, pending: &[u8], turn: &mut Turn) {
        each_role!(self, role => role.on_incomplete(pending, turn));
    }

    /// The operation that starts `pending` failed to parse.
    #[cold]
    fn failed_to_parse(&mut self, pending: &[u8], turn: &mut Turn) {
        each_role!(self, role => role.on_parse_error(pending, turn));
    }

    /// New limits after a reload (routes have none; leaf links only a PUB payload limit).
    pub fn set_limits(&mut self, max_control_line: usize, max_payload: usize) {
        match self {
            Session::Client(client) => client.set_limits(max_control_line, max_payload),
            Session::Leaf(leaf) => leaf.parser().set_limits(max_control_line, max_payload),
            Session::Route(_) => {}
        }
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
            turn.close(token, CloseReason::ProtocolViolation);
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
