//! Resumable, zero-copy parser for the operations a client, a cluster route
//! or a leafnode connection sends.
//!
//! The connection keeps its unconsumed input in its own buffer and calls
//! [`Parser::parse`] with those bytes, which always start at the next
//! operation. The parser either returns one complete [`Frame`] borrowing from
//! the buffer, or [`Parsed::Incomplete`]; in the latter case it remembers how
//! far it got (verb, argument offsets, position of the `'\n'` search, parsed
//! message arguments), so the next call with the same bytes plus more appended
//! continues from there instead of rescanning. Payloads are never copied and
//! the hot path does not allocate.
//!
//! Behaviour follows nats-server 2.9.10 (`server/parser.go`, `client.go`):
//!
//! * Verbs are case-insensitive and checked byte by byte, so an unknown verb is
//!   reported as soon as its first wrong byte arrives (`PUX`, `MSG`, and `RS+`
//!   on a client connection). Every verb but `CONNECT`, `INFO`, `PING`,
//!   `PONG` and `+OK` needs a space or tab after it; `CONNECT` and `INFO` may
//!   be followed directly by their JSON.
//! * After the verb's whitespace, the first byte always starts the arguments,
//!   whatever it is (even `'\r'` or `'\n'`); the line then ends at the next
//!   `'\n'`. If a `'\r'` occurs in the arguments after their first byte, the
//!   byte before the `'\n'` is dropped, which makes `\r\n` and a bare `\n`
//!   equivalent.
//! * `PING`, `PONG` and `+OK` ignore everything up to `'\n'`.
//! * An argument line longer than the control-line limit is an error, checked
//!   both when the line is complete and while it is still waiting for its
//!   `'\n'` (the trailing byte that a `'\r'` would drop is not counted).
//!   Whitespace after the verb and the ignored tail of `PING`/`PONG`/`+OK` are
//!   not limited, as in the reference.
//! * `PUB`/`HPUB` arguments split on spaces and tabs, `SUB`/`UNSUB` arguments
//!   also on `'\r'` and `'\n'`. Sizes are 1 to 9 ASCII digits. Argument errors
//!   are checked in the reference order: headers negotiated (`HPUB`), argument
//!   count, header size, total size, header size > total size, then the
//!   maximum payload.
//! * After exactly `size` payload bytes the next two bytes must be `\r\n`.
//! * `HMSG` from a client is rejected once its control line is complete (the
//!   reference accepts the line and then fails on the byte that follows).
//!
//! A route connection ([`Parser::new_route`]) follows the same rules, with
//! the route protocol of the reference (`parser.go`, `route.go`):
//!
//! * No control-line and no payload limit.
//! * `RS+`, `RS-`, `RMSG` and `HMSG` become [`Op::RouteSub`],
//!   [`Op::RouteUnsub`] and [`Op::RouteMsg`]; `UNSUB` takes the `RS-`
//!   arguments. Their arguments split on spaces, tabs, `'\r'` and `'\n'`.
//!   `RMSG` arguments are `<account> <subject> [reply] <size>`, or, from five
//!   on, `<account> <subject> <indicator> ...` where the indicator is `+`
//!   (`<reply> <queues...> <size>`) or `|` (`<queues...> <size>`); `HMSG`
//!   has `<header size> <total size>` in place of `<size>`.
//! * `A+`/`A-` (gateway interest; `Au` is `A-` too) and `SUB` (arguments
//!   unchecked) are
//!   [`Op::Ignored`], and so are `PUB`/`HPUB` (client arguments, then the
//!   payload): the reference drops them all on a route.
//! * `MSG` is rejected on its first byte, and so are `LS+`, `LS-` and `LMSG`,
//!   which peers only send to servers that advertise `lnoc` (natsd does not).
//!
//! A leafnode connection ([`Parser::new_leaf`], either end of the link)
//! follows the same rules, with what the reference does on a connection of
//! kind `LEAF` (`parser.go`, `leafnode.go`):
//!
//! * No control-line limit, and no payload limit on `LMSG`/`HMSG`. `PUB` and
//!   `HPUB` do have the server's maximum payload, which a leaf parser only
//!   gets from [`Parser::set_limits`].
//! * `LS+`, `LS-`, `LMSG` and `HMSG` become [`Op::LeafSub`],
//!   [`Op::LeafUnsub`] and [`Op::LeafMsg`]. The reference parses `SUB` and
//!   `RS+` as `LS+`, `UNSUB` and `RS-` as `LS-`, and `RMSG` as `LMSG`, with
//!   the same leaf arguments; so does this parser. These arguments split on
//!   spaces, tabs, `'\r'` and `'\n'`; there is no account.
//! * `LS+` arguments are `<subject>` or `<subject> <queue> <weight>`; other
//!   counts are [`ParseError::BadArgs`]. `LS-` arguments are `<subject>
//!   [<queue>]`; the reference looks its whole argument text up as a
//!   subscription key and never fails, so other counts are [`Op::Ignored`].
//! * `LMSG` arguments are `<subject> [reply] <size>`, or, from four on,
//!   `<subject> <indicator> ...` with the route indicators; `HMSG` has
//!   `<header size> <total size>` in place of `<size>` ([`LeafArgs`]). `HMSG`
//!   does not depend on negotiated headers.
//! * `PUB` and `HPUB` keep their client arguments and checks (headers
//!   negotiated for `HPUB`, no queues) and become [`Op::LeafMsg`] too: the
//!   reference delivers them as messages from the leaf. Their arguments
//!   split on spaces and tabs only, so one holding a `'\r'` or `'\n'` (which
//!   [`LeafArgs::parse`] would split elsewhere) is [`ParseError::BadArgs`]
//!   once the message is complete; the reference accepts it.
//! * `A+`/`A-` (and `Au`) are [`Op::Ignored`]; `MSG` is rejected on its
//!   first byte.

use std::fmt;

/// Longest accepted size field (`999999999`), as `parseSize` in the reference.
const MAX_SIZE_DIGITS: usize = 9;

/// The outcome of a successful [`Parser::parse`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete operation that occupied `buf[..consumed]`. The parser is
    /// reset for the next operation.
    Frame(Frame<'a>),
    /// The operation is not complete yet. Call again with the same
    /// unconsumed bytes followed by more.
    Incomplete {
        /// Total bytes this operation needs, when known: for `PUB`/`HPUB`
        /// once the control line is parsed, control line + payload + 2, so
        /// the caller can reserve capacity. `None` otherwise.
        needed: Option<usize>,
    },
}

/// One complete operation, borrowing from the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The operation.
    pub op: Op<'a>,
    /// Raw argument bytes of the control line (after the verb and its
    /// whitespace, without the line terminator), for trace lines such as
    /// `<<- [PUB foo 5]`. Empty for `PING`, `PONG` and `+OK`.
    pub args: &'a [u8],
    /// Number of bytes of the buffer this operation occupied.
    pub consumed: usize,
}

/// An operation sent by a client, a route or a leafnode connection.
///
/// The route variants (`RouteSub`, `RouteUnsub`, `RouteMsg`) only come from a
/// route parser ([`Parser::new_route`]), the leaf variants (`LeafSub`,
/// `LeafUnsub`, `LeafMsg`) only from a leaf parser ([`Parser::new_leaf`]),
/// and `Ignored` from either; a client connection rejects their verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// `CONNECT <json>`: the JSON text.
    Connect(&'a [u8]),
    /// `INFO <json>`: the JSON text.
    Info(&'a [u8]),
    /// `PUB <subject> [reply] <size>` and its payload.
    Pub {
        /// Subject published to (not validated).
        subject: &'a [u8],
        /// Reply subject, if given.
        reply: Option<&'a [u8]>,
        /// The message payload.
        payload: &'a [u8],
    },
    /// `HPUB <subject> [reply] <header size> <total size>` and its message.
    HPub {
        /// Subject published to (not validated).
        subject: &'a [u8],
        /// Reply subject, if given.
        reply: Option<&'a [u8]>,
        /// Length of the header block at the start of `message`.
        header_len: usize,
        /// Headers followed by the payload (`total size` bytes).
        message: &'a [u8],
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Subject subscribed to (not validated).
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
        /// Subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id.
        sid: &'a [u8],
        /// `None` when no maximum was given; a maximum that is not a valid
        /// size is `Some(-1)` (the reference then unsubscribes immediately).
        max: Option<i64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR <text>`: the text (the server logs it and closes).
    Err(&'a [u8]),
    /// `RS+ <account> <subject> [<queue> <weight>]` on a route: the remote
    /// server has interest.
    RouteSub {
        /// Account name (`$G` for the global account).
        account: &'a [u8],
        /// Subject (not validated).
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
        /// Number of queue members on the remote server; 1 without a queue.
        /// A weight that is not a valid size is -1, as in the reference.
        weight: i32,
    },
    /// `RS- <account> <subject> [<queue>]`, or `UNSUB` with the same
    /// arguments, on a route: the remote server lost interest.
    RouteUnsub {
        /// Account name.
        account: &'a [u8],
        /// Subject.
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
    },
    /// `RMSG` or `HMSG` on a route, with the message. The account, subject,
    /// reply and queues are read from the frame's `args` with
    /// [`RoutedArgs::parse`] (kept out of `Op` so that every operation stays
    /// small to move on the client hot path).
    RouteMsg {
        /// `Some` (length of the header block at the start of `message`) for
        /// `HMSG`, `None` for `RMSG`.
        header_len: Option<usize>,
        /// Headers (if any) followed by the payload.
        message: &'a [u8],
    },
    /// `LS+ <subject> [<queue> <weight>]` on a leaf connection, also sent as
    /// `SUB` or `RS+` with the same arguments: the peer has interest.
    LeafSub {
        /// Subject (not validated).
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
        /// Number of queue members the peer knows of; 1 without a queue.
        /// A weight that is not a valid size is -1, as in the reference.
        weight: i32,
    },
    /// `LS- <subject> [<queue>]` on a leaf connection, also sent as `UNSUB`
    /// or `RS-`: the peer lost interest.
    LeafUnsub {
        /// Subject.
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
    },
    /// `LMSG` or `HMSG` on a leaf connection (also `RMSG`, and `PUB`/`HPUB`
    /// with their client arguments), with the message. The subject, reply
    /// and queues are read from the frame's `args` with [`LeafArgs::parse`].
    LeafMsg {
        /// `Some` (length of the header block at the start of `message`) for
        /// `HMSG`/`HPUB`, `None` for `LMSG`/`RMSG`/`PUB`.
        header_len: Option<usize>,
        /// Headers (if any) followed by the payload.
        message: &'a [u8],
    },
    /// An operation the server ignores. On a route: `A+`, `A-`, `SUB`, and
    /// `PUB`/`HPUB` (whose payload the frame includes). On a leaf
    /// connection: `A+`, `A-`, and an `LS-` (or `UNSUB`, `RS-`) with no
    /// argument or more than two, which names no subscription.
    Ignored,
}

impl Op<'_> {
    /// The upper-case protocol verb, for trace lines.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Op::Connect(_) => "CONNECT",
            Op::Info(_) => "INFO",
            Op::Pub { .. } => "PUB",
            Op::HPub { .. } => "HPUB",
            Op::Sub { .. } => "SUB",
            Op::Unsub { .. } => "UNSUB",
            Op::Ping => "PING",
            Op::Pong => "PONG",
            Op::Ok => "+OK",
            Op::Err(_) => "-ERR",
            Op::RouteSub { .. } => "RS+",
            Op::RouteUnsub { .. } => "RS-",
            Op::RouteMsg {
                header_len: None, ..
            } => "RMSG",
            Op::RouteMsg { .. } => "HMSG",
            Op::LeafSub { .. } => "LS+",
            Op::LeafUnsub { .. } => "LS-",
            Op::LeafMsg {
                header_len: None, ..
            } => "LMSG",
            Op::LeafMsg { .. } => "HMSG",
            Op::Ignored => "IGNORED",
        }
    }
}

/// Why the input is not acceptable; every error closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Unknown or malformed verb, or bad payload terminator: the server sends
    /// `-ERR 'Unknown Protocol Operation'` and closes.
    UnknownOp,
    /// Control line too long: `-ERR 'maximum control line exceeded'`, close.
    MaxControlLine,
    /// Payload size above the limit: `-ERR 'Maximum Payload Violation'`,
    /// close.
    MaxPayload,
    /// Wrong argument count, bad size, header size above total size, or
    /// `HPUB` without negotiated headers: the server closes silently.
    BadArgs,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::UnknownOp => "unknown protocol operation",
            ParseError::MaxControlLine => "maximum control line exceeded",
            ParseError::MaxPayload => "maximum payload exceeded",
            ParseError::BadArgs => "malformed protocol arguments",
        })
    }
}

impl std::error::Error for ParseError {}

/// Resumable parser for one client, route or leafnode connection.
#[derive(Debug, Clone)]
pub struct Parser {
    max_control_line: usize,
    max_payload: usize,
    headers: bool,
    /// The kind of connection.
    mode: Mode,
    /// What a `PUB`/`HPUB` becomes on this kind of connection (kept here so
    /// that parsing a `PUB` does not look at the mode).
    pub_kind: MsgKind,
    phase: Phase,
}

/// The kinds of connection, each with its own operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Client,
    Route,
    Leaf,
}

impl Parser {
    /// Creates a parser with the server's `max_control_line` and
    /// `max_payload` limits. Headers are off until [`Parser::set_headers`].
    #[must_use]
    pub fn new(max_control_line: usize, max_payload: usize) -> Parser {
        Parser {
            max_control_line,
            max_payload,
            headers: false,
            mode: Mode::Client,
            pub_kind: MsgKind::Client,
            phase: Phase::Start,
        }
    }

    /// Creates a parser for a cluster route connection: route operations,
    /// no control-line or payload limit, and headers on (route `HMSG` is
    /// always accepted; [`Parser::set_headers`] only affects `HPUB`).
    #[must_use]
    pub fn new_route() -> Parser {
        Parser {
            max_control_line: usize::MAX,
            max_payload: usize::MAX,
            headers: true,
            mode: Mode::Route,
            pub_kind: MsgKind::Ignored,
            phase: Phase::Start,
        }
    }

    /// Creates a parser for a leafnode connection (either end): leaf
    /// operations, no control-line limit, no payload limit on `LMSG`/`HMSG`,
    /// and headers on (`HMSG` is always accepted; [`Parser::set_headers`]
    /// only affects `HPUB`). `PUB`/`HPUB` have no payload limit until
    /// [`Parser::set_limits`].
    #[must_use]
    pub fn new_leaf() -> Parser {
        Parser {
            max_control_line: usize::MAX,
            max_payload: usize::MAX,
            headers: true,
            mode: Mode::Leaf,
            pub_kind: MsgKind::Remote,
            phase: Phase::Start,
        }
    }

    /// After [`Parsed::Incomplete`] for `buf`: the subject of the client `PUB` or `HPUB`
    /// whose message it stopped in.
    pub fn pending_publish<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        match &self.phase {
            Phase::Payload(msg) if matches!(msg.kind, MsgKind::Client) => Some(msg.subject.of(buf)),
            _ => None,
        }
    }

    /// The subject of the client `PUB` or `HPUB` whose control line, complete and valid,
    /// starts `buf` (what follows the line is not looked at).
    pub fn publish_subject<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        if self.mode != Mode::Client {
            return None;
        }
        let line = &buf[..find_byte(buf, b'\n')? + 1];
        let mut probe = Parser::new(self.max_control_line, self.max_payload);
        probe.headers = self.headers;
        match probe.parse(line) {
            Ok(Parsed::Incomplete { .. }) => probe.pending_publish(line),
            _ => None,
        }
    }

    /// Sets whether this connection negotiated headers (`CONNECT` with
    /// `"headers":true`). Without headers an `HPUB` is [`ParseError::BadArgs`]
    /// once its control line is complete.
    pub fn set_headers(&mut self, on: bool) {
        self.headers = on;
    }

    /// Changes the limits (configuration reload); they apply from the next
    /// operation. Routes have no limits: a route parser ignores this. A leaf
    /// connection has no control-line limit and applies `max_payload` to
    /// `PUB`/`HPUB` only, as the reference does (it never limits
    /// `LMSG`/`HMSG`): give a leaf parser the server's `max_payload` once
    /// created to match it.
    pub fn set_limits(&mut self, max_control_line: usize, max_payload: usize) {
        match self.mode {
            Mode::Client => {
                self.max_control_line = max_control_line;
                self.max_payload = max_payload;
            }
            Mode::Leaf => self.max_payload = max_payload,
            Mode::Route => {}
        }
    }

    /// Parses the next operation at the start of `buf`.
    ///
    /// After [`Parsed::Incomplete`], call again with the same bytes followed
    /// by more; after a frame, with the bytes that follow it. A `buf` shorter
    /// than what was already examined is treated as a new operation.
    ///
    /// # Errors
    ///
    /// Returns the [`ParseError`] that ends the connection as soon as the
    /// bytes received so far make the operation invalid; the parser is then
    /// reset.
    pub fn parse<'a>(&mut self, buf: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        if matches!(self.phase, Phase::Start) {
            if let Some(result) = self.pub_with_line(buf) {
                return result;
            }
        }
        self.parse_in_phases(buf)
    }

    /// The common case in one pass: a `PUB` whose control line is all in `buf`, taken
    /// through the same steps as [`scan_args`](Self::scan_args) and
    /// [`PendingMsg::finish`] without going round the state machine between them (a
    /// payload still to come leaves the same phase it would). `None` leaves anything else
    /// (other verbs, a partial line) to the state machine, which returns the same for
    /// such a `PUB`, only slower: the tests feed input whole and byte by byte and compare.
    #[inline(always)]
    fn pub_with_line<'a>(&mut self, buf: &'a [u8]) -> Option<Result<Parsed<'a>, ParseError>> {
        let [p, u, b, blank, ..] = *buf else {
            return None;
        };
        // `| 0x20` lower-cases letters and maps no other byte onto these three.
        if (p | 0x20, u | 0x20, b | 0x20) != (b'p', b'u', b'b') || !is_blank(blank) {
            return None;
        }
        let start = 4 + buf[4..].iter().position(|&b| !is_blank(b))?;
        let newline = start + 1 + find_byte(&buf[start + 1..], b'\n')?;
        let msg = match self
            .control_line(buf, start, newline)
            .and_then(|args| self.pub_msg(buf, args, newline + 1))
        {
            Ok(msg) => msg,
            Err(err) => return Some(Err(err)),
        };
        let parsed = msg.finish(buf, self.mode);
        if let Ok(Parsed::Incomplete { .. }) = parsed {
            self.phase = Phase::Payload(msg);
        }
        Some(parsed)
    }

    /// [`parse`](Self::parse) by the state machine alone.
    fn parse_in_phases<'a>(&mut self, buf: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        if buf.len() < self.phase.resume_offset() {
            self.phase = Phase::Start;
        }
        let result = self.advance(buf);
        if !matches!(result, Ok(Parsed::Incomplete { .. })) {
            self.phase = Phase::Start;
        }
        result
    }

    /// Runs the state machine from the saved phase as far as `buf` allows.
    fn advance<'a>(&mut self, buf: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        loop {
            let outcome = match self.phase {
                Phase::Start => self.start(buf)?,
                Phase::SkipBlanks { verb, pos } => self.skip_blanks(buf, verb, pos),
                Phase::Args { verb, start, scan } => self.scan_args(buf, verb, start, scan)?,
                Phase::SkipLine { op, scan } => self.skip_line(buf, op, scan),
                Phase::Payload(msg) => Some(msg.finish(buf, self.mode)?),
            };
            if let Some(parsed) = outcome {
                return Ok(parsed);
            }
        }
    }

    // The phase handlers below return `Some` to end the call, or `None`
    // after moving to the next phase.

    /// Recognises the verb.
    fn start(&mut self, buf: &[u8]) -> Result<Option<Parsed<'static>>, ParseError> {
        match match_keyword(buf, self.mode)? {
            None => return Ok(Some(INCOMPLETE)),
            Some((Keyword::Bare(op), end)) => self.phase = Phase::SkipLine { op, scan: end },
            Some((Keyword::Args(verb), end)) => self.phase = Phase::SkipBlanks { verb, pos: end },
        }
        Ok(None)
    }

    /// Skips the blanks between the verb and its arguments.
    fn skip_blanks(&mut self, buf: &[u8], verb: Verb, pos: usize) -> Option<Parsed<'static>> {
        match buf[pos..].iter().position(|&b| !is_blank(b)) {
            None => {
                self.phase = Phase::SkipBlanks {
                    verb,
                    pos: buf.len(),
                };
                Some(INCOMPLETE)
            }
            Some(skipped) => {
                let start = pos + skipped;
                self.phase = Phase::Args {
                    verb,
                    start,
                    scan: start + 1,
                };
                None
            }
        }
    }

    /// Looks for the end of an argument line and interprets it.
    fn scan_args<'a>(
        &mut self,
        buf: &'a [u8],
        verb: Verb,
        start: usize,
        scan: usize,
    ) -> Result<Option<Parsed<'a>>, ParseError> {
        let Some(offset) = find_byte(&buf[scan..], b'\n') else {
            self.check_partial_line(buf, start)?;
            self.phase = Phase::Args {
                verb,
                start,
                scan: buf.len(),
            };
            return Ok(Some(INCOMPLETE));
        };
        let newline = scan + offset;
        let args = self.control_line(buf, start, newline)?;
        match self.line_op(verb, buf, args, newline + 1)? {
            LineOp::Done(op) => Ok(Some(frame(op, args.of(buf), newline + 1))),
            LineOp::Payload(msg) => {
                self.phase = Phase::Payload(msg);
                Ok(None)
            }
        }
    }

    /// Ignores the rest of a `PING`, `PONG` or `+OK` line.
    fn skip_line(&mut self, buf: &[u8], op: Op<'static>, scan: usize) -> Option<Parsed<'static>> {
        match find_byte(&buf[scan..], b'\n') {
            None => {
                self.phase = Phase::SkipLine {
                    op,
                    scan: buf.len(),
                };
                Some(INCOMPLETE)
            }
            Some(offset) => Some(frame(op, &[], scan + offset + 1)),
        }
    }

    /// Enforces the control-line limit on an argument line still waiting for
    /// its `'\n'`, like the reference does at the end of each read.
    fn check_partial_line(&self, buf: &[u8], start: usize) -> Result<(), ParseError> {
        let received = &buf[start..];
        if received.len() > self.max_control_line
            && received.len() - usize::from(drops_last_byte(received)) > self.max_control_line
        {
            return Err(ParseError::MaxControlLine);
        }
        Ok(())
    }

    /// Returns the argument span of a line whose arguments start at `start`
    /// and which ends at `newline`, enforcing the control-line limit.
    #[inline(always)]
    fn control_line(&self, buf: &[u8], start: usize, newline: usize) -> Result<Span, ParseError> {
        let raw = &buf[start..newline];
        let end = newline - usize::from(drops_last_byte(raw));
        let args = Span { start, end };
        if args.len() > self.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        Ok(args)
    }

    /// Interprets a complete argument line; `body` is where a payload would
    /// start.
    fn line_op<'a>(
        &self,
        verb: Verb,
        buf: &'a [u8],
        args: Span,
        body: usize,
    ) -> Result<LineOp<'a>, ParseError> {
        let text = args.of(buf);
        // The remote verbs (RS+, RMSG, ...) only come on the modes that
        // recognise them (see `identify_keyword`).
        let op = match (verb, self.mode) {
            (Verb::Connect, _) => Op::Connect(text),
            (Verb::Info, _) => Op::Info(text),
            (Verb::Err, _) => Op::Err(text),
            (Verb::Account, _) => Op::Ignored,
            (Verb::Pub, _) => return self.pub_msg(buf, args, body).map(LineOp::Payload),
            (Verb::HPub, _) => return self.hpub_msg(buf, args, body).map(LineOp::Payload),
            (Verb::Sub, Mode::Client) => sub_op(buf, args)?,
            (Verb::Sub, Mode::Route) => Op::Ignored,
            (Verb::Sub | Verb::RemoteSub, Mode::Leaf) => leaf_sub_op(buf, args)?,
            (Verb::RemoteSub, _) => route_sub_op(buf, args)?,
            (Verb::Unsub, Mode::Client) => unsub_op(buf, args)?,
            (Verb::Unsub | Verb::RemoteUnsub, Mode::Leaf) => leaf_unsub_op(buf, args),
            (Verb::Unsub | Verb::RemoteUnsub, _) => route_unsub_op(buf, args)?,
            (Verb::RemoteMsg, _) => {
                return remote_msg(buf, args, body, false, self.mode).map(LineOp::Payload)
            }
            (Verb::HMsg, Mode::Route | Mode::Leaf) => {
                return remote_msg(buf, args, body, true, self.mode).map(LineOp::Payload)
            }
            (Verb::HMsg, Mode::Client) => return Err(ParseError::UnknownOp),
        };
        Ok(LineOp::Done(op))
    }

    /// Parses `PUB` arguments: `<subject> [reply] <size>`.
    #[inline(always)]
    fn pub_msg(&self, buf: &[u8], args: Span, body: usize) -> Result<PendingMsg, ParseError> {
        // Tokens taken one by one into locals: a `Tokens` array here costs a store-to-load
        // forwarding stall per message (spans written as words, read back as pairs).
        let token_after = |pos: usize| next_token(buf, pos, args.end, is_blank);
        let subject = token_after(args.start).ok_or(ParseError::BadArgs)?;
        let second = token_after(subject.end).ok_or(ParseError::BadArgs)?;
        let (reply, size) = match token_after(second.end) {
            None => (None, second),
            Some(third) if token_after(third.end).is_none() => (Some(second), third),
            Some(_) => return Err(ParseError::BadArgs),
        };
        let size = parse_size(size.of(buf)).ok_or(ParseError::BadArgs)?;
        self.check_payload(size)?;
        Ok(PendingMsg {
            args,
            kind: self.pub_kind,
            subject,
            reply,
            header_len: None,
            body,
            size,
        })
    }

    /// Parses `HPUB` arguments: `<subject> [reply] <header size> <total size>`.
    fn hpub_msg(&self, buf: &[u8], args: Span, body: usize) -> Result<PendingMsg, ParseError> {
        if !self.headers {
            return Err(ParseError::BadArgs);
        }
        let tokens = Tokens::<4>::split(buf, args, is_blank).ok_or(ParseError::BadArgs)?;
        let (subject, reply, header_len, size) = match *tokens.as_slice() {
            [subject, header_len, size] => (subject, None, header_len, size),
            [subject, reply, header_len, size] => (subject, Some(reply), header_len, size),
            _ => return Err(ParseError::BadArgs),
        };
        let header_len = parse_size(header_len.of(buf)).ok_or(ParseError::BadArgs)?;
        let size = parse_size(size.of(buf)).ok_or(ParseError::BadArgs)?;
        if header_len > size {
            return Err(ParseError::BadArgs);
        }
        self.check_payload(size)?;
        Ok(PendingMsg {
            args,
            kind: self.pub_kind,
            subject,
            reply,
            header_len: Some(header_len),
            body,
            size,
        })
    }

    /// Rejects payloads above the maximum.
    fn check_payload(&self, size: usize) -> Result<(), ParseError> {
        if size > self.max_payload {
            return Err(ParseError::MaxPayload);
        }
        Ok(())
    }
}

/// `Incomplete` with an unknown total.
const INCOMPLETE: Parsed<'static> = Parsed::Incomplete { needed: None };

/// Builds a frame result.
fn frame<'a>(op: Op<'a>, args: &'a [u8], consumed: usize) -> Parsed<'a> {
    Parsed::Frame(Frame { op, args, consumed })
}

/// Parses `SUB` arguments: `<subject> [queue] <sid>`.
fn sub_op(buf: &[u8], args: Span) -> Result<Op<'_>, ParseError> {
    let tokens = Tokens::<3>::split(buf, args, is_blank_or_eol).ok_or(ParseError::BadArgs)?;
    match *tokens.as_slice() {
        [subject, sid] => Ok(Op::Sub {
            subject: subject.of(buf),
            queue: None,
            sid: sid.of(buf),
        }),
        [subject, queue, sid] => Ok(Op::Sub {
            subject: subject.of(buf),
            queue: Some(queue.of(buf)),
            sid: sid.of(buf),
        }),
        _ => Err(ParseError::BadArgs),
    }
}

/// Parses `UNSUB` arguments: `<sid> [max]`.
fn unsub_op(buf: &[u8], args: Span) -> Result<Op<'_>, ParseError> {
    let tokens = Tokens::<2>::split(buf, args, is_blank_or_eol).ok_or(ParseError::BadArgs)?;
    match *tokens.as_slice() {
        [sid] => Ok(Op::Unsub {
            sid: sid.of(buf),
            max: None,
        }),
        [sid, max] => {
            let max = parse_size(max.of(buf)).and_then(|n| i64::try_from(n).ok());
            Ok(Op::Unsub {
                sid: sid.of(buf),
                max: Some(max.unwrap_or(-1)),
            })
        }
        _ => Err(ParseError::BadArgs),
    }
}

/// Parses `RS+` arguments: `<account> <subject> [<queue> <weight>]`.
fn route_sub_op(buf: &[u8], args: Span) -> Result<Op<'_>, ParseError> {
    let tokens = Tokens::<4>::split(buf, args, is_blank_or_eol).ok_or(ParseError::BadArgs)?;
    match *tokens.as_slice() {
        [account, subject] => Ok(Op::RouteSub {
            account: account.of(buf),
            subject: subject.of(buf),
            queue: None,
            weight: 1,
        }),
        [account, subject, queue, weight] => Ok(Op::RouteSub {
            account: account.of(buf),
            subject: subject.of(buf),
            queue: Some(queue.of(buf)),
            weight: queue_weight(weight.of(buf)),
        }),
        _ => Err(ParseError::BadArgs),
    }
}

/// A queue weight: a size, or -1 (as `parseSize` in the reference).
fn queue_weight(digits: &[u8]) -> i32 {
    parse_size(digits)
        .and_then(|w| i32::try_from(w).ok())
        .unwrap_or(-1)
}

/// Parses `RS-` (and route `UNSUB`) arguments: `<account> <subject> [<queue>]`.
fn route_unsub_op(buf: &[u8], args: Span) -> Result<Op<'_>, ParseError> {
    let tokens = Tokens::<3>::split(buf, args, is_blank_or_eol).ok_or(ParseError::BadArgs)?;
    match *tokens.as_slice() {
        [account, subject] => Ok(Op::RouteUnsub {
            account: account.of(buf),
            subject: subject.of(buf),
            queue: None,
        }),
        [account, subject, queue] => Ok(Op::RouteUnsub {
            account: account.of(buf),
            subject: subject.of(buf),
            queue: Some(queue.of(buf)),
        }),
        _ => Err(ParseError::BadArgs),
    }
}

/// Parses leaf `LS+` (and `SUB`, `RS+`) arguments: `<subject> [<queue>
/// <weight>]`.
fn leaf_sub_op(buf: &[u8], args: Span) -> Result<Op<'_>, ParseError> {
    let tokens = Tokens::<3>::split(buf, args, is_blank_or_eol).ok_or(ParseError::BadArgs)?;
    match *tokens.as_slice() {
        [subject] => Ok(Op::LeafSub {
            subject: subject.of(buf),
            queue: None,
            weight: 1,
        }),
        [subject, queue, weight] => Ok(Op::LeafSub {
            subject: subject.of(buf),
            queue: Some(queue.of(buf)),
            weight: queue_weight(weight.of(buf)),
        }),
        _ => Err(ParseError::BadArgs),
    }
}

/// Parses leaf `LS-` (and `UNSUB`, `RS-`) arguments: `<subject> [<queue>]`.
/// The reference looks the whole argument text up as a subscription key and
/// never fails: other counts name no subscription and are ignored.
fn leaf_unsub_op(buf: &[u8], args: Span) -> Op<'_> {
    let tokens = Tokens::<2>::split(buf, args, is_blank_or_eol);
    match tokens.as_ref().map(Tokens::as_slice) {
        Some(&[subject]) => Op::LeafUnsub {
            subject: subject.of(buf),
            queue: None,
        },
        Some(&[subject, queue]) => Op::LeafUnsub {
            subject: subject.of(buf),
            queue: Some(queue.of(buf)),
        },
        _ => Op::Ignored,
    }
}

/// Parses `RMSG` arguments, or `HMSG` ones when `headers` (a header size
/// before the total size): on a route `<account> <subject> <sizes>`,
/// `<account> <subject> <reply> <sizes>`, `<account> <subject> + <reply>
/// <queues...> <sizes>` or `<account> <subject> | <queues...> <sizes>`; on a
/// leaf connection (`LMSG` too) the same without the account. Errors are
/// checked in the reference order: argument count, indicator, header size,
/// total size, header size > total size.
fn remote_msg(
    buf: &[u8],
    args: Span,
    body: usize,
    headers: bool,
    mode: Mode,
) -> Result<PendingMsg, ParseError> {
    let fields = msg_fields(buf, args, headers, mode == Mode::Route)?;
    Ok(PendingMsg {
        args,
        kind: MsgKind::Remote,
        subject: fields.subject,
        reply: fields.reply,
        header_len: fields.header_len,
        body,
        size: fields.size,
    })
}

/// The parts of a routed message's control line.
struct MsgFields {
    /// Empty on a leaf connection.
    account: Span,
    subject: Span,
    reply: Option<Span>,
    /// All queue names, or empty.
    queues: Span,
    header_len: Option<usize>,
    size: usize,
}

/// Splits and checks the arguments of a routed message (see [`remote_msg`]);
/// `with_account`: they start with an account, as on a route.
fn msg_fields(
    buf: &[u8],
    args: Span,
    headers: bool,
    with_account: bool,
) -> Result<MsgFields, ParseError> {
    let sizes = 1 + usize::from(headers);
    // Where the subject and the reply (or indicator) are.
    let subject = usize::from(with_account);
    let after = subject + 1;
    let tokens = EndTokens::split(buf, args);
    let count = tokens.count;
    if count < after + sizes {
        return Err(ParseError::BadArgs);
    }
    let (reply, first_queue) = match count - after - sizes {
        0 => (None, count),
        1 => (Some(tokens.first(after)), count),
        _ => match tokens.first(after).of(buf) {
            b"+" => (Some(tokens.first(after + 1)), after + 2),
            b"|" => (None, after + 1),
            _ => return Err(ParseError::BadArgs),
        },
    };
    // The queue names end before the sizes.
    let queues = if first_queue < count - sizes {
        Span {
            start: tokens.first(first_queue).start,
            end: tokens.last(sizes).end,
        }
    } else {
        Span::default()
    };
    let header_len = if headers {
        Some(parse_size(tokens.last(1).of(buf)).ok_or(ParseError::BadArgs)?)
    } else {
        None
    };
    let size = parse_size(tokens.last(0).of(buf)).ok_or(ParseError::BadArgs)?;
    if header_len.is_some_and(|header_len| header_len > size) {
        return Err(ParseError::BadArgs);
    }
    Ok(MsgFields {
        account: if with_account {
            tokens.first(0)
        } else {
            Span::default()
        },
        subject: tokens.first(subject),
        reply,
        queues,
        header_len,
        size,
    })
}

/// The fields of a routed message's control line (`RMSG`/`HMSG` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedArgs<'a> {
    /// Account name.
    pub account: &'a [u8],
    /// Subject (not validated).
    pub subject: &'a [u8],
    /// Reply subject, if given.
    pub reply: Option<&'a [u8]>,
    /// The queue groups the message is for, as one slice of the control line:
    /// names separated by runs of spaces or tabs (or `'\r'`/`'\n'`, which the
    /// reference also splits on). Empty when there are none.
    pub queues: &'a [u8],
}

impl<'a> RoutedArgs<'a> {
    /// Reads the arguments of an `Op::RouteMsg` frame (`headers`: it was an
    /// `HMSG`); `None` only for arguments the parser did not accept.
    #[must_use]
    pub fn parse(args: &'a [u8], headers: bool) -> Option<RoutedArgs<'a>> {
        let fields = line_fields(args, headers, true)?;
        Some(RoutedArgs {
            account: fields.account.of(args),
            subject: fields.subject.of(args),
            reply: fields.reply.map(|r| r.of(args)),
            queues: fields.queues.of(args),
        })
    }
}

/// The fields of a leaf message's control line: the arguments of `LMSG`
/// and `HMSG` (or `RMSG`, `PUB` and `HPUB`) on a leaf connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafArgs<'a> {
    /// Subject (not validated).
    pub subject: &'a [u8],
    /// Reply subject, if given.
    pub reply: Option<&'a [u8]>,
    /// The queue groups the message is for, as one slice of the control line:
    /// names separated by runs of spaces or tabs (or `'\r'`/`'\n'`, which the
    /// reference also splits on). Empty when there are none.
    pub queues: &'a [u8],
}

impl<'a> LeafArgs<'a> {
    /// Reads the arguments of an `Op::LeafMsg` frame (`with_header`: its
    /// `header_len` is `Some`); `None` only for arguments the parser did not
    /// accept.
    #[must_use]
    pub fn parse(args: &'a [u8], with_header: bool) -> Option<LeafArgs<'a>> {
        let fields = line_fields(args, with_header, false)?;
        Some(LeafArgs {
            subject: fields.subject.of(args),
            reply: fields.reply.map(|r| r.of(args)),
            queues: fields.queues.of(args),
        })
    }
}

/// [`msg_fields`] of a whole control line's arguments.
fn line_fields(args: &[u8], headers: bool, with_account: bool) -> Option<MsgFields> {
    let whole = Span {
        start: 0,
        end: args.len(),
    };
    msg_fields(args, whole, headers, with_account).ok()
}

/// Where the parser stands within the current operation. Offsets are
/// relative to the start of the buffer passed to [`Parser::parse`].
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Nothing recognised yet (the verb is rematched on each call; it is at
    /// most 8 bytes).
    Start,
    /// Verb recognised; skipping the blanks before its arguments.
    SkipBlanks {
        /// The verb.
        verb: Verb,
        /// Next byte to examine.
        pos: usize,
    },
    /// Arguments start at `start`; looking for the `'\n'` from `scan`.
    Args {
        /// The verb.
        verb: Verb,
        /// First argument byte.
        start: usize,
        /// Next byte to examine.
        scan: usize,
    },
    /// `PING`, `PONG` or `+OK` recognised; ignoring bytes up to `'\n'`.
    SkipLine {
        /// The operation to return.
        op: Op<'static>,
        /// Next byte to examine.
        scan: usize,
    },
    /// Control line parsed; waiting for the message and its `\r\n`.
    Payload(PendingMsg),
}

impl Phase {
    /// How many bytes the parser has already examined.
    fn resume_offset(&self) -> usize {
        match *self {
            Phase::Start => 0,
            Phase::SkipBlanks { pos, .. } => pos,
            Phase::Args { scan, .. } | Phase::SkipLine { scan, .. } => scan,
            Phase::Payload(msg) => msg.body,
        }
    }
}

/// Verbs followed by an argument line.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Connect,
    Info,
    Pub,
    HPub,
    HMsg,
    Sub,
    Unsub,
    Err,
    /// `RS+`, or `LS+` on a leaf connection (not on clients).
    RemoteSub,
    /// `RS-`, or `LS-` on a leaf connection (not on clients).
    RemoteUnsub,
    /// `RMSG`, or `LMSG` on a leaf connection (not on clients).
    RemoteMsg,
    /// `A+`/`A-` (or `Au`): gateway interest, ignored (not on clients).
    Account,
}

impl Verb {
    /// Whether a space or tab must follow the verb.
    fn needs_blank(self) -> bool {
        !matches!(self, Verb::Connect | Verb::Info)
    }
}

/// A recognised keyword.
#[derive(Debug, Clone, Copy)]
enum Keyword {
    /// `PING`, `PONG`, `+OK`: the rest of the line is ignored.
    Bare(Op<'static>),
    /// A verb with arguments.
    Args(Verb),
}

/// Matches the keyword at the start of `buf`, including the blank that must
/// follow some verbs; `mode` decides which verbs exist. Returns the keyword
/// and the offset after it, or `None` if `buf` ends before the keyword is
/// decided.
fn match_keyword(buf: &[u8], mode: Mode) -> Result<Option<(Keyword, usize)>, ParseError> {
    let Some((text, keyword)) = identify_keyword(buf, mode)? else {
        return Ok(None);
    };
    for (i, &expected) in text.iter().enumerate() {
        match buf.get(i) {
            None => return Ok(None),
            Some(b) if b.to_ascii_uppercase() == expected => {}
            Some(_) => return Err(ParseError::UnknownOp),
        }
    }
    let mut end = text.len();
    if matches!(keyword, Keyword::Args(verb) if verb.needs_blank()) {
        match buf.get(end) {
            None => return Ok(None),
            Some(&b) if is_blank(b) => end += 1,
            Some(_) => return Err(ParseError::UnknownOp),
        }
    }
    Ok(Some((keyword, end)))
}

/// Picks the candidate keyword from the first bytes (up to three); a
/// candidate whose remaining bytes do not match is rejected by the caller at
/// the first wrong byte.
fn identify_keyword(
    buf: &[u8],
    mode: Mode,
) -> Result<Option<(&'static [u8], Keyword)>, ParseError> {
    let Some(first) = buf.first() else {
        return Ok(None);
    };
    let remote = mode != Mode::Client;
    let leaf = mode == Mode::Leaf;
    let second = buf.get(1).map(u8::to_ascii_uppercase);
    let found: (&'static [u8], Keyword) = match (first.to_ascii_uppercase(), second) {
        (b'C', _) => (b"CONNECT", Keyword::Args(Verb::Connect)),
        (b'I', _) => (b"INFO", Keyword::Args(Verb::Info)),
        (b'S', _) => (b"SUB", Keyword::Args(Verb::Sub)),
        (b'U', _) => (b"UNSUB", Keyword::Args(Verb::Unsub)),
        (b'+', _) => (b"+OK", Keyword::Bare(Op::Ok)),
        (b'-', _) => (b"-ERR", Keyword::Args(Verb::Err)),
        (b'P' | b'H', None) => return Ok(None),
        (b'P', Some(b'U')) => (b"PUB", Keyword::Args(Verb::Pub)),
        (b'P', Some(b'I')) => (b"PING", Keyword::Bare(Op::Ping)),
        (b'P', Some(b'O')) => (b"PONG", Keyword::Bare(Op::Pong)),
        (b'H', Some(b'P')) => (b"HPUB", Keyword::Args(Verb::HPub)),
        (b'H', Some(b'M')) => (b"HMSG", Keyword::Args(Verb::HMsg)),
        (b'R', Some(b'S')) if remote => match buf.get(2) {
            Some(b'-') => (b"RS-", Keyword::Args(Verb::RemoteUnsub)),
            _ => (b"RS+", Keyword::Args(Verb::RemoteSub)),
        },
        (b'R', _) if remote => (b"RMSG", Keyword::Args(Verb::RemoteMsg)),
        (b'L', Some(b'S')) if leaf => match buf.get(2) {
            Some(b'-') => (b"LS-", Keyword::Args(Verb::RemoteUnsub)),
            _ => (b"LS+", Keyword::Args(Verb::RemoteSub)),
        },
        (b'L', _) if leaf => (b"LMSG", Keyword::Args(Verb::RemoteMsg)),
        (b'A', Some(b'-')) if remote => (b"A-", Keyword::Args(Verb::Account)),
        // The reference also takes `Au` (lower-case `u` only) as `A-`.
        (b'A', _) if remote && buf.get(1) == Some(&b'u') => (b"AU", Keyword::Args(Verb::Account)),
        (b'A', _) if remote => (b"A+", Keyword::Args(Verb::Account)),
        // Includes MSG, the leaf verbs (LS+, LMSG, ...) on client and route
        // connections and, on client connections, the route verbs (RS+,
        // RMSG, A+, ...): all rejected on their first byte.
        _ => return Err(ParseError::UnknownOp),
    };
    Ok(Some(found))
}

/// Result of a complete argument line.
enum LineOp<'a> {
    /// The operation is complete.
    Done(Op<'a>),
    /// A message payload follows.
    Payload(PendingMsg),
}

/// A parsed `PUB`/`HPUB`/`RMSG`/`LMSG`/`HMSG` control line waiting for its
/// message.
#[derive(Debug, Clone, Copy)]
struct PendingMsg {
    /// The control line's arguments.
    args: Span,
    /// What the message becomes.
    kind: MsgKind,
    subject: Span,
    reply: Option<Span>,
    /// `Some` for `HPUB` and `HMSG`.
    header_len: Option<usize>,
    /// Offset of the first message byte.
    body: usize,
    /// Message length (payload, or headers + payload).
    size: usize,
}

impl PendingMsg {
    /// Returns the frame once the message and its `\r\n` are in `buf` (which
    /// starts with the operation's verb); a wrong terminator byte is an error
    /// as soon as it arrives. `mode` is the parser's.
    #[inline(always)]
    fn finish<'a>(&self, buf: &'a [u8], mode: Mode) -> Result<Parsed<'a>, ParseError> {
        let end = self.body.saturating_add(self.size);
        let needed = end.saturating_add(2);
        for (offset, expected) in [(end, b'\r'), (end.saturating_add(1), b'\n')] {
            match buf.get(offset) {
                None => {
                    return Ok(Parsed::Incomplete {
                        needed: Some(needed),
                    })
                }
                Some(&b) if b == expected => {}
                Some(_) => return Err(ParseError::UnknownOp),
            }
        }
        let message = &buf[self.body..end];
        let subject = self.subject.of(buf);
        let reply = self.reply.map(|reply| reply.of(buf));
        let op = match (self.kind, self.header_len) {
            (MsgKind::Client, None) => Op::Pub {
                subject,
                reply,
                payload: message,
            },
            (MsgKind::Client, Some(header_len)) => Op::HPub {
                subject,
                reply,
                header_len,
                message,
            },
            (MsgKind::Remote, header_len) if mode == Mode::Route => Op::RouteMsg {
                header_len,
                message,
            },
            (MsgKind::Remote, header_len) => {
                // A leaf connection's PUB/HPUB (the verb starts `buf`) keep
                // their client arguments, split on blanks only: with a '\r'
                // or '\n' among them, `LeafArgs::parse` would read other
                // fields.
                let from_pub = buf[0] | 0x20 == b'p' || buf[1] | 0x20 == b'p';
                if from_pub && self.args.of(buf).iter().any(|&b| b == b'\r' || b == b'\n') {
                    return Err(ParseError::BadArgs);
                }
                Op::LeafMsg {
                    header_len,
                    message,
                }
            }
            (MsgKind::Ignored, _) => Op::Ignored,
        };
        Ok(frame(op, self.args.of(buf), needed))
    }
}

/// What a pending message becomes once complete.
#[derive(Debug, Clone, Copy)]
enum MsgKind {
    /// `PUB`/`HPUB` from a client.
    Client,
    /// `RMSG`/`HMSG` from a route; `LMSG`/`RMSG`/`HMSG` and `PUB`/`HPUB`
    /// from a leaf connection. The parser's mode tells which: with a kind
    /// per connection, the match in [`PendingMsg::finish`] became a jump
    /// table, an indirect branch for every client `PUB` (callgrind).
    Remote,
    /// `PUB`/`HPUB` on a route: parsed, then dropped.
    Ignored,
}

/// A byte range of the parsed buffer.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn len(self) -> usize {
        self.end - self.start
    }

    fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start..self.end]
    }
}

/// Up to `N` argument tokens.
struct Tokens<const N: usize> {
    spans: [Span; N],
    count: usize,
}

impl<const N: usize> Tokens<N> {
    /// Splits `args` into tokens separated by runs of bytes matching
    /// `is_sep`; `None` if there are more than `N` tokens.
    fn split(buf: &[u8], args: Span, is_sep: impl Fn(u8) -> bool) -> Option<Self> {
        let mut tokens = Tokens {
            spans: [Span::default(); N],
            count: 0,
        };
        for span in token_spans(buf, args, is_sep) {
            tokens.push(span)?;
        }
        Some(tokens)
    }

    /// Appends a token; `None` when full.
    fn push(&mut self, span: Span) -> Option<()> {
        *self.spans.get_mut(self.count)? = span;
        self.count += 1;
        Some(())
    }

    fn as_slice(&self) -> &[Span] {
        &self.spans[..self.count]
    }
}

/// The first [`EndTokens::HEAD`] and last [`EndTokens::TAIL`] tokens of a
/// route message's arguments, which may have any number of queue names in
/// between.
struct EndTokens {
    head: [Span; EndTokens::HEAD],
    /// The last tokens, oldest first.
    tail: [Span; EndTokens::TAIL],
    count: usize,
}

impl EndTokens {
    /// Enough for `<account> <subject> + <reply> <first queue>`.
    const HEAD: usize = 5;
    /// Enough for `<last queue> <header size> <total size>`.
    const TAIL: usize = 3;

    /// Splits `args` on runs of spaces, tabs, `'\r'` and `'\n'`.
    fn split(buf: &[u8], args: Span) -> Self {
        let mut tokens = EndTokens {
            head: [Span::default(); Self::HEAD],
            tail: [Span::default(); Self::TAIL],
            count: 0,
        };
        for span in token_spans(buf, args, is_blank_or_eol) {
            if let Some(slot) = tokens.head.get_mut(tokens.count) {
                *slot = span;
            }
            tokens.tail.rotate_left(1);
            tokens.tail[Self::TAIL - 1] = span;
            tokens.count += 1;
        }
        tokens
    }

    /// Token `i`; needs `i < HEAD` and `i < count`.
    fn first(&self, i: usize) -> Span {
        self.head[i]
    }

    /// Token `count - 1 - i` (0 is the last); needs `i < TAIL` and `i < count`.
    fn last(&self, i: usize) -> Span {
        self.tail[Self::TAIL - 1 - i]
    }
}

/// The tokens of `args`, separated by runs of bytes matching `is_sep`.
fn token_spans<'b>(
    buf: &'b [u8],
    args: Span,
    is_sep: impl Fn(u8) -> bool + 'b,
) -> impl Iterator<Item = Span> + 'b {
    let mut pos = args.start;
    std::iter::from_fn(move || {
        let span = next_token(buf, pos, args.end, &is_sep)?;
        pos = span.end;
        Some(span)
    })
}

/// The first token of `buf[from..end]`, separated by runs of bytes matching `is_sep`.
#[inline(always)]
fn next_token(buf: &[u8], from: usize, end: usize, is_sep: impl Fn(u8) -> bool) -> Option<Span> {
    let start = from + buf[from..end].iter().position(|&b| !is_sep(b))?;
    let stop = buf[start..end]
        .iter()
        .position(|&b| is_sep(b))
        .map_or(end, |len| start + len);
    Some(Span { start, end: stop })
}

/// Space or tab: separates the verb from its arguments and `PUB` arguments.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Separators of `SUB`/`UNSUB` and route arguments.
fn is_blank_or_eol(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether the reference drops the last byte of raw argument bytes: it does
/// when a `'\r'` occurs after the first byte (the first byte after the verb's
/// whitespace is taken as the argument start without being looked at).
fn drops_last_byte(raw: &[u8]) -> bool {
    match raw.split_first() {
        Some((_, rest)) => rest.last() == Some(&b'\r') || find_byte(rest, b'\r').is_some(),
        None => false,
    }
}

/// Parses a size field: 1 to 9 ASCII digits.
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > MAX_SIZE_DIGITS {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// Position of the first `needle` in `haystack`, scanning eight bytes at a
/// time.
fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = ONES * u64::from(needle);
    let (words, tail) = haystack.as_chunks::<8>();
    for (index, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ pattern;
        // Sets the high bit of each zero byte of `x` (and possibly of bytes
        // above a zero byte, which does not affect the lowest one).
        let zero_bytes = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero_bytes != 0 {
            return Some(index * 8 + (zero_bytes.trailing_zeros() / 8) as usize);
        }
    }
    let tail_start = words.len() * 8;
    tail.iter()
        .position(|&b| b == needle)
        .map(|i| tail_start + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const MCL: usize = 4096;
    const MAX_PAYLOAD: usize = 1024 * 1024;

    fn parser() -> Parser {
        let mut p = Parser::new(MCL, MAX_PAYLOAD);
        p.set_headers(true);
        p
    }

    /// Parses `input` in one call with `p`, expecting one frame using all of
    /// it.
    fn frame_with(mut p: Parser, input: &[u8]) -> Frame<'_> {
        match p.parse(input) {
            Ok(Parsed::Frame(f)) => {
                assert_eq!(f.consumed, input.len(), "{input:?}");
                f
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }

    fn frame_of(input: &[u8]) -> Frame<'_> {
        frame_with(parser(), input)
    }

    fn op_of(input: &[u8]) -> Op<'_> {
        frame_of(input).op
    }

    #[test]
    fn pending_and_failed_publications_name_their_subject() {
        let mut p = parser();
        let partial = b"HPUB foo.* 12 14\r\nNATS";
        assert!(matches!(p.parse(partial), Ok(Parsed::Incomplete { .. })));
        assert_eq!(p.pending_publish(partial), Some(&b"foo.*"[..]));
        let mut p = parser();
        assert!(matches!(p.parse(b"PUB foo"), Ok(Parsed::Incomplete { .. })));
        assert_eq!(
            p.pending_publish(b"PUB foo"),
            None,
            "the line is not complete"
        );
        let p = parser();
        assert_eq!(p.publish_subject(b"PUB a.> r 2\r\nhixx"), Some(&b"a.>"[..]));
        assert_eq!(p.publish_subject(b"PUB a 2\r\n"), Some(&b"a"[..]));
        for refused in [&b"PUB a x\r\n"[..], b"PUB a 2", b"SUB a 1\r\n", b"PING\r\n"] {
            assert_eq!(p.publish_subject(refused), None, "{refused:?}");
        }
        let route = Parser::new_route();
        assert_eq!(
            route.publish_subject(b"PUB a 2\r\nhi\r\n"),
            None,
            "clients only"
        );
    }

    fn route_frame_of(input: &[u8]) -> Frame<'_> {
        frame_with(Parser::new_route(), input)
    }

    fn route_op_of(input: &[u8]) -> Op<'_> {
        route_frame_of(input).op
    }

    /// A routed message as the tests compare it: the op's fields and its line's.
    #[derive(Debug, PartialEq)]
    struct Routed<'a> {
        account: &'a [u8],
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        queues: &'a [u8],
        header_len: Option<usize>,
        message: &'a [u8],
    }

    fn routed(frame: Frame<'_>) -> Routed<'_> {
        let Op::RouteMsg {
            header_len,
            message,
        } = frame.op
        else {
            panic!("expected a routed message, got {frame:?}");
        };
        let args = RoutedArgs::parse(frame.args, header_len.is_some()).expect("its arguments");
        Routed {
            account: args.account,
            subject: args.subject,
            reply: args.reply,
            queues: args.queues,
            header_len,
            message,
        }
    }

    fn routed_of(input: &[u8]) -> Routed<'_> {
        routed(route_frame_of(input))
    }

    fn leaf_frame_of(input: &[u8]) -> Frame<'_> {
        frame_with(Parser::new_leaf(), input)
    }

    fn leaf_op_of(input: &[u8]) -> Op<'_> {
        leaf_frame_of(input).op
    }

    /// A leaf message as the tests compare it: the op's fields and its line's.
    #[derive(Debug, PartialEq)]
    struct Leafed<'a> {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        queues: &'a [u8],
        header_len: Option<usize>,
        message: &'a [u8],
    }

    fn leafed(frame: Frame<'_>) -> Leafed<'_> {
        let Op::LeafMsg {
            header_len,
            message,
        } = frame.op
        else {
            panic!("expected a leaf message, got {frame:?}");
        };
        let args = LeafArgs::parse(frame.args, header_len.is_some()).expect("its arguments");
        Leafed {
            subject: args.subject,
            reply: args.reply,
            queues: args.queues,
            header_len,
            message,
        }
    }

    fn leafed_of(input: &[u8]) -> Leafed<'_> {
        leafed(leaf_frame_of(input))
    }

    fn error_of(p: &mut Parser, input: &[u8]) -> ParseError {
        match p.parse(input) {
            Err(e) => e,
            other => panic!("{input:?}: expected an error, got {other:?}"),
        }
    }

    fn incomplete(p: &mut Parser, input: &[u8]) -> Option<usize> {
        match p.parse(input) {
            Ok(Parsed::Incomplete { needed }) => needed,
            other => panic!("{input:?}: expected incomplete, got {other:?}"),
        }
    }

    /// What a connection observes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        /// Debug representation of the frame (op, args, consumed).
        Frame(String),
        /// The error and how many input bytes had been received when it was
        /// reported.
        Error(ParseError),
    }

    /// Feeds `input` as a connection would, the received bytes growing to
    /// each of `ends` in turn; every call sees all unconsumed bytes received
    /// so far. Returns the events and, on error, the received byte count at
    /// which it was reported.
    fn feed(
        mut p: Parser,
        input: &[u8],
        ends: impl IntoIterator<Item = usize>,
    ) -> (Vec<Event>, Option<usize>) {
        let mut events = Vec::new();
        let mut pos = 0;
        let mut announced: Option<usize> = None;
        for end in ends {
            loop {
                match p.parse(&input[pos..end]) {
                    Ok(Parsed::Frame(f)) => {
                        if let Some(needed) = announced.take() {
                            assert_eq!(needed, f.consumed, "announced size differs");
                        }
                        events.push(Event::Frame(format!("{f:?}")));
                        pos += f.consumed;
                    }
                    Ok(Parsed::Incomplete { needed }) => {
                        if let Some(needed) = needed {
                            assert!(needed > end - pos);
                            assert!(announced.is_none_or(|a| a == needed));
                            announced = Some(needed);
                        }
                        break;
                    }
                    Err(e) => {
                        events.push(Event::Error(e));
                        return (events, Some(end));
                    }
                }
            }
        }
        (events, None)
    }

    /// Checks that every way of splitting `input` gives the same events as
    /// parsing it whole, and that an error is reported as soon as the
    /// received bytes reach the same offset. Returns the events and that
    /// offset.
    fn check_splits(make: impl Fn() -> Parser, input: &[u8]) -> (Vec<Event>, Option<usize>) {
        let len = input.len();
        let (whole, whole_err) = feed(make(), input, [len]);
        let (bytewise, err_at) = feed(make(), input, 1..=len);
        assert_eq!(whole, bytewise, "byte by byte: {input:?}");
        assert_eq!(whole_err.is_some(), err_at.is_some());
        for cut in 0..=len {
            let (split, split_err) = feed(make(), input, [cut, len]);
            assert_eq!(whole, split, "split at {cut}: {input:?}");
            let expected_err = err_at.map(|at| if cut >= at { cut } else { len });
            assert_eq!(split_err, expected_err, "split at {cut}: {input:?}");
        }
        (whole, err_at)
    }

    #[test]
    fn connect_and_info() {
        assert_eq!(
            op_of(b"CONNECT {\"verbose\":false}\r\n"),
            Op::Connect(b"{\"verbose\":false}")
        );
        assert_eq!(op_of(b"connect{}\r\n"), Op::Connect(b"{}"));
        assert_eq!(op_of(b"CoNnEcT \t {} \n"), Op::Connect(b"{} "));
        assert_eq!(op_of(b"CONNECTX{}\r\n"), Op::Connect(b"X{}"));
        assert_eq!(op_of(b"INFO {\"a\":1}\r\n"), Op::Info(b"{\"a\":1}"));
        assert_eq!(op_of(b"info{}\n"), Op::Info(b"{}"));
        let f = frame_of(b"CONNECT {\"x\":1}\r\n");
        assert_eq!(f.args, b"{\"x\":1}");
        assert_eq!(f.op.name(), "CONNECT");
    }

    #[test]
    fn verb_followed_by_line_end_swallows_it() {
        // The first byte after the verb's whitespace starts the arguments
        // without being looked at, even a line terminator.
        assert_eq!(op_of(b"CONNECT\r\n"), Op::Connect(b"\r"));
        assert_eq!(incomplete(&mut parser(), b"CONNECT\n"), None);
        assert_eq!(op_of(b"CONNECT\n{}\n"), Op::Connect(b"\n{}"));
        let sub = frame_of(b"SUB \nfoo 1\r\n");
        assert_eq!(
            sub.op,
            Op::Sub {
                subject: b"foo",
                queue: None,
                sid: b"1"
            }
        );
        assert_eq!(sub.args, b"\nfoo 1");
        assert_eq!(
            op_of(b"PUB \nfoo 1\r\nx\r\n"),
            Op::Pub {
                subject: b"\nfoo",
                reply: None,
                payload: b"x"
            }
        );
        assert_eq!(op_of(b"-ERR \r\n"), Op::Err(b"\r"));
    }

    #[test]
    fn pub_variants() {
        let f = frame_of(b"PUB foo 5\r\nhello\r\n");
        assert_eq!(
            f.op,
            Op::Pub {
                subject: b"foo",
                reply: None,
                payload: b"hello"
            }
        );
        assert_eq!(f.args, b"foo 5");
        assert_eq!(f.op.name(), "PUB");
        assert_eq!(
            op_of(b"pub foo bar 3\r\na\r\n\r\n"),
            Op::Pub {
                subject: b"foo",
                reply: Some(b"bar"),
                payload: b"a\r\n"
            }
        );
        let f = frame_of(b"PuB\t foo\t\tbar  0 \t\r\n\r\n");
        assert_eq!(
            f.op,
            Op::Pub {
                subject: b"foo",
                reply: Some(b"bar"),
                payload: b""
            }
        );
        assert_eq!(f.args, b"foo\t\tbar  0 \t");
        assert_eq!(
            op_of(b"PUB foo 2\nab\r\n"),
            Op::Pub {
                subject: b"foo",
                reply: None,
                payload: b"ab"
            }
        );
        assert_eq!(
            op_of(b"PUB foo 000000002\r\nab\r\n"),
            Op::Pub {
                subject: b"foo",
                reply: None,
                payload: b"ab"
            }
        );
    }

    #[test]
    fn pub_args_split_only_on_blanks() {
        // A '\r' inside the line drops the byte before '\n' and stays part
        // of a PUB token.
        assert_eq!(
            op_of(b"PUB f\ro 1x\n1\r\n"),
            Op::Pub {
                subject: b"f\ro",
                reply: None,
                payload: b"1"
            }
        );
        assert_eq!(
            error_of(&mut parser(), b"PUB foo\r 5\n"),
            ParseError::BadArgs
        );
    }

    #[test]
    fn pub_at_max_payload() {
        let mut p = Parser::new(MCL, 3);
        assert!(matches!(
            p.parse(b"PUB foo 3\r\nabc\r\n"),
            Ok(Parsed::Frame(_))
        ));
        assert_eq!(error_of(&mut p, b"PUB foo 4\r\n"), ParseError::MaxPayload);
    }

    #[test]
    fn hpub_variants() {
        let f = frame_of(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(
            f.op,
            Op::HPub {
                subject: b"foo",
                reply: None,
                header_len: 12,
                message: b"NATS/1.0\r\n\r\nhi"
            }
        );
        assert_eq!(f.args, b"foo 12 14");
        assert_eq!(f.op.name(), "HPUB");
        assert_eq!(
            op_of(b"hpub\tfoo rep 0 0\n\r\n"),
            Op::HPub {
                subject: b"foo",
                reply: Some(b"rep"),
                header_len: 0,
                message: b""
            }
        );
    }

    #[test]
    fn sub_and_unsub() {
        let f = frame_of(b"SUB foo 1\r\n");
        assert_eq!(
            f.op,
            Op::Sub {
                subject: b"foo",
                queue: None,
                sid: b"1"
            }
        );
        assert_eq!(f.op.name(), "SUB");
        assert_eq!(
            op_of(b"sub\tfoo.*  q  \t sid.x \r\n"),
            Op::Sub {
                subject: b"foo.*",
                queue: Some(b"q"),
                sid: b"sid.x"
            }
        );
        // SUB splits on '\r' too.
        assert_eq!(
            op_of(b"SUB foo\rx 1\n"),
            Op::Sub {
                subject: b"foo",
                queue: None,
                sid: b"x"
            }
        );
        let f = frame_of(b"UNSUB 1\r\n");
        assert_eq!(
            f.op,
            Op::Unsub {
                sid: b"1",
                max: None
            }
        );
        assert_eq!(f.op.name(), "UNSUB");
        assert_eq!(
            op_of(b"unsub 1 10\r\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(10)
            }
        );
        assert_eq!(
            op_of(b"UNSUB 1 0\r\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(0)
            }
        );
        assert_eq!(
            op_of(b"UNSUB 1 abc\r\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(-1)
            }
        );
        assert_eq!(
            op_of(b"UNSUB 1 -5\r\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(-1)
            }
        );
        assert_eq!(
            op_of(b"UNSUB 1 1234567890\r\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(-1)
            }
        );
        assert_eq!(
            op_of(b"UNSUB 1 999999999\n"),
            Op::Unsub {
                sid: b"1",
                max: Some(999_999_999)
            }
        );
    }

    #[test]
    fn bare_ops_ignore_rest_of_line() {
        for (input, op) in [
            (&b"PING\r\n"[..], Op::Ping),
            (b"ping\n", Op::Ping),
            (b"PING foo\r\n", Op::Ping),
            (b"PINGX\r\n", Op::Ping),
            (b"ping\r\r\n", Op::Ping),
            (b"PONG\r\n", Op::Pong),
            (b"pOnG whatever\n", Op::Pong),
            (b"+OK\r\n", Op::Ok),
            (b"+ok trailing\r\n", Op::Ok),
        ] {
            let f = frame_of(input);
            assert_eq!(f.op, op);
            assert_eq!(f.args, b"");
        }
        assert_eq!(Op::Ping.name(), "PING");
        assert_eq!(Op::Pong.name(), "PONG");
        assert_eq!(Op::Ok.name(), "+OK");
    }

    #[test]
    fn client_err() {
        let f = frame_of(b"-ERR 'Stale Connection'\r\n");
        assert_eq!(f.op, Op::Err(b"'Stale Connection'"));
        assert_eq!(f.op.name(), "-ERR");
        assert_eq!(op_of(b"-err\tx\n"), Op::Err(b"x"));
        assert_eq!(Op::Info(b"").name(), "INFO");
    }

    #[test]
    fn frame_consumes_only_its_bytes() {
        let input = b"PING\r\nPONG\r\n";
        let mut p = parser();
        let Ok(Parsed::Frame(f)) = p.parse(input) else {
            panic!()
        };
        assert_eq!((f.op, f.consumed), (Op::Ping, 6));
        let Ok(Parsed::Frame(f)) = p.parse(&input[6..]) else {
            panic!()
        };
        assert_eq!((f.op, f.consumed), (Op::Pong, 6));
    }

    #[test]
    fn unknown_operations() {
        for input in [
            &b"\r\n"[..],
            b"\n",
            b"PUX",
            b"PIX",
            b"PINX",
            b"POX",
            b"PONX",
            b"PX",
            b"HX",
            b"HPX",
            b"HMX",
            b"SX",
            b"UNSX",
            b"CONX",
            b"CONNECX",
            b"INX",
            b"+X",
            b"+OX",
            b"-X",
            b"-ERX",
            b"-ERR\r\n",
            b"PUB\r\n",
            b"PUBX",
            b"HPUB\n",
            b"SUB\r\n",
            b"UNSUB\r\n",
            b"MSG foo 1 1\r\n",
            b"RS+ foo\r\n",
            b"RS- foo\r\n",
            b"RMSG $G foo 1\r\n",
            b"LS+ foo\r\n",
            b"LMSG",
            b"A+ foo\r\n",
            b"a- foo\r\n",
            b"x",
            b" PING\r\n",
            b"\x00",
            b"\xff",
            b"HMSG foo 1 2\r\n",
            b"HMSG foo\r\n\r\n",
            b"PUB foo 5\r\nhelloX",
            b"PUB foo 5\r\nhello\rX",
            b"PUB foo 5\r\nhello\n",
            b"PUB foo 0\r\n\n",
            b"PUB foo 1\r\nab\r\n",
            b"HPUB foo 0 1\r\nab\r\n",
        ] {
            assert_eq!(
                error_of(&mut parser(), input),
                ParseError::UnknownOp,
                "{input:?}"
            );
        }
    }

    #[test]
    fn unknown_operation_reported_at_offending_byte() {
        let mut p = parser();
        assert_eq!(incomplete(&mut p, b"PU"), None);
        assert_eq!(error_of(&mut p, b"PUX"), ParseError::UnknownOp);
        assert_eq!(incomplete(&mut p, b"PUB foo 5\r\nhello"), Some(18));
        assert_eq!(
            error_of(&mut p, b"PUB foo 5\r\nhelloX"),
            ParseError::UnknownOp
        );
    }

    #[test]
    fn bad_arguments() {
        for input in [
            &b"PUB foo\r\n"[..],
            b"PUB \r\n",
            b"PUB foo bar baz 5\r\n",
            b"PUB foo bar baz 99999999999\r\n",
            b"PUB foo -1\r\n",
            b"PUB foo +1\r\n",
            b"PUB foo 1x\r\n",
            b"PUB foo 0000000001\r\n",
            b"PUB foo 1000000000\r\n",
            b"HPUB foo 5\r\n",
            b"HPUB foo a b 1 2\r\n",
            b"HPUB foo x 5\r\n",
            b"HPUB foo 1 y\r\n",
            b"HPUB foo 10 5\r\n",
            b"HPUB foo 2000000 1000000000\r\n",
            b"HPUB foo 20000000 10000000\r\n",
            b"SUB foo\r\n",
            b"SUB \r\n",
            b"SUB a b c d\r\n",
            b"UNSUB \r\n",
            b"UNSUB a b c\r\n",
        ] {
            assert_eq!(
                error_of(&mut parser(), input),
                ParseError::BadArgs,
                "{input:?}"
            );
        }
    }

    #[test]
    fn hpub_requires_headers() {
        let mut p = Parser::new(MCL, MAX_PAYLOAD);
        assert_eq!(incomplete(&mut p, b"HPUB foo 12 12"), None);
        assert_eq!(error_of(&mut p, b"HPUB foo 12 12\r\n"), ParseError::BadArgs);
        p.set_headers(true);
        assert_eq!(incomplete(&mut p, b"HPUB foo 12 12\r\n"), Some(30));
        let mut p = Parser::new(MCL, MAX_PAYLOAD);
        assert_eq!(
            error_of(&mut p, b"HPUB foo 99999999 2000000\r\n"),
            ParseError::BadArgs
        );
    }

    #[test]
    fn max_payload() {
        let mut p = parser();
        assert_eq!(
            error_of(&mut p, b"PUB foo 1048577\r\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            error_of(&mut p, b"pub foo reply 999999999\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            error_of(&mut p, b"HPUB foo 12 1048577\r\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            error_of(&mut p, b"HPUB foo 2000000 3000000\r\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            incomplete(&mut p, b"PUB foo 1048576\r\n"),
            Some(17 + 1_048_576 + 2)
        );
    }

    #[test]
    fn max_control_line() {
        let make = || Parser::new(8, MAX_PAYLOAD);
        let mut p = make();
        // Complete lines: the argument part (without \r\n) is limited.
        assert!(matches!(p.parse(b"SUB foo 1234\r\n"), Ok(Parsed::Frame(_))));
        assert!(matches!(
            p.parse(b"SUB foo 12345\r\n"),
            Err(ParseError::MaxControlLine)
        ));
        assert!(matches!(
            p.parse(b"CONNECT {\"a\":123}\r\n"),
            Err(ParseError::MaxControlLine)
        ));
        assert!(matches!(
            p.parse(b"-ERR 123456789\n"),
            Err(ParseError::MaxControlLine)
        ));
        // The limit comes before argument checks.
        assert!(matches!(
            p.parse(b"UNSUB 1 2 3 4 5\r\n"),
            Err(ParseError::MaxControlLine)
        ));
        assert!(matches!(
            p.parse(b"HMSG a b c d e\r\n"),
            Err(ParseError::MaxControlLine)
        ));
        // Partial lines too, not counting a byte a '\r' would drop.
        assert_eq!(incomplete(&mut make(), b"PUB 12345678"), None);
        assert_eq!(
            error_of(&mut make(), b"PUB 123456789"),
            ParseError::MaxControlLine
        );
        assert_eq!(incomplete(&mut make(), b"PUB 12345678\r"), None);
        assert_eq!(incomplete(&mut make(), b"PUB 1234\r5678"), None);
        assert_eq!(
            error_of(&mut make(), b"PUB 1234\r56789"),
            ParseError::MaxControlLine
        );
        assert_eq!(
            error_of(&mut make(), b"CONNECT {\"a\":123}"),
            ParseError::MaxControlLine
        );
        assert!(matches!(
            make().parse(b"PUB 12345678\r\n"),
            Err(ParseError::BadArgs)
        ));
        // Not limited: blanks after the verb, and the tail of PING/PONG/+OK.
        let long = [b' '; 100];
        assert_eq!(
            incomplete(&mut make(), &[&b"PUB"[..], &long].concat()),
            None
        );
        assert_eq!(
            incomplete(&mut make(), &[&b"CONNECT"[..], &long].concat()),
            None
        );
        assert_eq!(
            incomplete(&mut make(), &[&b"PING"[..], &[b'x'; 100]].concat()),
            None
        );
        let ok = [&b"+OK"[..], &[b'x'; 100], b"\r\n"].concat();
        assert!(matches!(
            make().parse(&ok),
            Ok(Parsed::Frame(Frame { op: Op::Ok, .. }))
        ));
    }

    #[test]
    fn needed_is_reported_for_messages() {
        let mut p = parser();
        assert_eq!(incomplete(&mut p, b""), None);
        assert_eq!(incomplete(&mut p, b"PUB foo 5\r"), None);
        assert_eq!(incomplete(&mut p, b"PUB foo 5\r\n"), Some(18));
        assert_eq!(incomplete(&mut p, b"PUB foo 5\r\nhello\r"), Some(18));
        assert!(matches!(
            p.parse(b"PUB foo 5\r\nhello\r\n"),
            Ok(Parsed::Frame(_))
        ));
    }

    #[test]
    fn shorter_buffer_starts_over() {
        let mut p = parser();
        assert_eq!(incomplete(&mut p, b"PUB foo 5\r\nhel"), Some(18));
        assert_eq!(op_of(b"PING\r\n"), Op::Ping);
        let Ok(Parsed::Frame(f)) = p.parse(b"PING\r\n") else {
            panic!()
        };
        assert_eq!(f.op, Op::Ping);
    }

    /// A stream with every kind of operation, payloads containing `\r\n`,
    /// tabs, mixed case and the odd whitespace rules.
    const STREAM: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\n\
connect{}\n\
INFO {\"server_id\":\"x\"}\r\n\
PING\r\nping\nPiNg extra junk\r\nPINGX\r\nPONG\r\npong\n+OK\r\n+ok trailing\n\
SUB foo 1\r\nsub\tbar.*  q1 \t 22\r\nSUB \nfoo 3\r\nSUB a\rb 5\n\
PUB foo 5\r\nhello\r\n\
pub foo reply.to 12\r\nline1\r\nline2\r\n\
PUB\t foo\t\t0\t\r\n\r\n\
PUB foo 7\nab\tc\r\nd\r\n\
PUB foo 3\r\nPUB\r\n\
HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n\
hpub foo rep 12 12\r\nNATS/1.0\r\n\r\n\r\n\
UNSUB 1\r\nunsub 22 10\r\nUNSUB 3 abc\n\
-ERR 'some error'\r\n\
PING\r\n";

    #[test]
    fn every_split_gives_the_same_frames() {
        let (events, err_at) = check_splits(parser, STREAM);
        assert_eq!(err_at, None);
        assert_eq!(events.len(), 27);
        let consumed: usize = {
            let mut p = parser();
            let mut pos = 0;
            while let Ok(Parsed::Frame(f)) = p.parse(&STREAM[pos..]) {
                pos += f.consumed;
            }
            pos
        };
        assert_eq!(consumed, STREAM.len());
    }

    #[test]
    fn every_split_reports_errors_at_the_same_byte() {
        let prefix: &[u8] = b"PING\r\nPUB foo 2\r\nhi\r\n";
        let small = || {
            let mut p = Parser::new(16, 10);
            p.set_headers(true);
            p
        };
        let cases: &[(&[u8], ParseError, usize)] = &[
            (b"PUX", ParseError::UnknownOp, 3),
            (b"\r\n", ParseError::UnknownOp, 1),
            (b"MSG foo 1 1\r\n", ParseError::UnknownOp, 1),
            (b"RS+ foo\r\n", ParseError::UnknownOp, 1),
            (b"ls+ foo\r\n", ParseError::UnknownOp, 1),
            (b"A+ foo\r\n", ParseError::UnknownOp, 1),
            (b"UNSUB\r\n", ParseError::UnknownOp, 6),
            (b"HMSG foo 1 5\r\nhello\r\n", ParseError::UnknownOp, 14),
            (b"PUB foo 5\r\nhelloX\r\n", ParseError::UnknownOp, 17),
            (b"PUB foo 5\r\nhello\rX\n", ParseError::UnknownOp, 18),
            (b"PUB foo 5\r\nhel\r\n\n\r\n", ParseError::UnknownOp, 17),
            (b"PUB foo 11\r\n", ParseError::MaxPayload, 12),
            (b"HPUB foo 1 11\r\n", ParseError::MaxPayload, 15),
            (b"HPUB foo 5 1\r\n", ParseError::BadArgs, 14),
            (b"PUB foo\r\nPING\r\n", ParseError::BadArgs, 9),
            (b"SUB a b c d\r\n", ParseError::BadArgs, 13),
            (b"PUB 12345678901234567\r\n", ParseError::MaxControlLine, 21),
            (
                b"SUB 1234567890123456\r\r\n",
                ParseError::MaxControlLine,
                22,
            ),
            (
                b"CONNECT {\"verbose\":false}\r\n",
                ParseError::MaxControlLine,
                25,
            ),
            (
                b"-ERR 'a long error text'\r\n",
                ParseError::MaxControlLine,
                22,
            ),
        ];
        for &(case, error, at) in cases {
            let input = [prefix, case].concat();
            let (events, err_at) = check_splits(small, &input);
            assert_eq!(events.len(), 3, "{case:?}");
            assert_eq!(events[2], Event::Error(error), "{case:?}");
            assert_eq!(err_at, Some(prefix.len() + at), "{case:?}");
        }
    }

    #[test]
    fn random_input_never_panics_and_splits_agree() {
        const PIECES: &[&[u8]] = &[
            b"PUB ",
            b"pub\t",
            b"HPUB ",
            b"SUB ",
            b"UNSUB ",
            b"PING",
            b"PONG",
            b"+OK",
            b"-ERR ",
            b"CONNECT",
            b"INFO ",
            b"HMSG ",
            b"MSG ",
            b"foo",
            b"bar",
            b" ",
            b"\t",
            b"\r",
            b"\n",
            b"\r\n",
            b"0",
            b"1",
            b"2",
            b"5",
            b"12",
            b"99999999999",
            b"-1",
            b"x",
            b"P",
            b"U",
            b"N",
            b"G",
        ];
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..1500 {
            let mut input = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(8) == 0 {
                    input.push(rng.next_u64() as u8);
                } else {
                    input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
            }
            let mcl = 1 + rng.below(24);
            let max_payload = rng.below(16);
            let headers = rng.below(2) == 0;
            let make = || {
                let mut p = Parser::new(mcl, max_payload);
                p.set_headers(headers);
                p
            };
            let (whole, whole_err) = feed(make(), &input, [input.len()]);
            let (bytewise, _) = feed(make(), &input, 1..=input.len());
            assert_eq!(whole, bytewise, "{input:?}");
            let cut = rng.below(input.len() + 1);
            let (split, split_err) = feed(make(), &input, [cut, input.len()]);
            assert_eq!(whole, split, "{input:?}");
            assert_eq!(whole_err.is_some(), split_err.is_some());
        }
    }

    /// A `RouteMsg` without headers.
    fn rmsg<'a>(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        queues: &'a [u8],
        message: &'a [u8],
    ) -> Routed<'a> {
        Routed {
            account: b"$G",
            subject,
            reply,
            queues,
            header_len: None,
            message,
        }
    }

    #[test]
    fn route_msg_forms() {
        // The forms nats-server 2.9 emits (routes.md section 3).
        let f = route_frame_of(b"RMSG $G foo | qq 2\r\nhi\r\n");
        assert_eq!(routed(f), rmsg(b"foo", None, b"qq", b"hi"));
        assert_eq!(f.args, b"$G foo | qq 2");
        assert_eq!(f.op.name(), "RMSG");
        assert_eq!(
            routed_of(b"RMSG $G foo + rep qq 2\r\nhi\r\n"),
            rmsg(b"foo", Some(b"rep"), b"qq", b"hi")
        );
        assert_eq!(
            routed_of(b"RMSG $G foo reply 2\r\nhi\r\n"),
            rmsg(b"foo", Some(b"reply"), b"", b"hi")
        );
        assert_eq!(
            routed_of(b"RMSG $G foo 2\r\nhi\r\n"),
            rmsg(b"foo", None, b"", b"hi")
        );
        // Several queues: one slice, separators included.
        assert_eq!(
            routed_of(b"RMSG $G foo | q1 q2  q3 2\r\nhi\r\n"),
            rmsg(b"foo", None, b"q1 q2  q3", b"hi")
        );
        assert_eq!(
            routed_of(b"RMSG $G foo + r q1\tq2 0\r\n\r\n"),
            rmsg(b"foo", Some(b"r"), b"q1\tq2", b"")
        );
        // `+` with a reply and no queue.
        assert_eq!(
            routed_of(b"RMSG $G foo + r 1\r\nx\r\n"),
            rmsg(b"foo", Some(b"r"), b"", b"x")
        );
        // A one-byte reply that looks like an indicator, in the 4-argument form.
        assert_eq!(
            routed_of(b"RMSG $G foo + 1\r\nx\r\n"),
            rmsg(b"foo", Some(b"+"), b"", b"x")
        );
        // Case, tabs, bare '\n'; the other accounts.
        assert_eq!(
            routed_of(b"rMsG\t $G\t\tfoo \t|\tq  2 \n\r\n\r\n"),
            rmsg(b"foo", None, b"q", b"\r\n")
        );
        assert_eq!(
            routed_of(b"RMSG $SYS $SYS.REQ.x 1\nx\r\n"),
            Routed {
                account: b"$SYS",
                subject: b"$SYS.REQ.x",
                reply: None,
                queues: b"",
                header_len: None,
                message: b"x"
            }
        );
        // Route arguments also split on '\r' (here the '\r' also drops the
        // byte before '\n').
        assert_eq!(
            routed_of(b"RMSG $G foo\r 1x\n1\r\n"),
            rmsg(b"foo", None, b"", b"1")
        );
    }

    #[test]
    fn route_hmsg_forms() {
        let f = route_frame_of(b"HMSG $G foo + rep qq 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(
            routed(f),
            Routed {
                account: b"$G",
                subject: b"foo",
                reply: Some(b"rep"),
                queues: b"qq",
                header_len: Some(12),
                message: b"NATS/1.0\r\n\r\nhi"
            }
        );
        assert_eq!(f.args, b"$G foo + rep qq 12 14");
        assert_eq!(f.op.name(), "HMSG");
        for (input, reply, queues, header_len, message) in [
            (
                &b"HMSG $G foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"[..],
                None,
                &b""[..],
                12,
                &b"NATS/1.0\r\n\r\n"[..],
            ),
            (
                b"HMSG $G foo rep 0 2\r\nhi\r\n",
                Some(&b"rep"[..]),
                b"",
                0,
                b"hi",
            ),
            (b"HMSG $G foo | a b c 0 1\r\nx\r\n", None, b"a b c", 0, b"x"),
            (
                b"hmsg\t$G\tfoo\t+\tr\tq\t1\t1\nx\r\n",
                Some(b"r"),
                b"q",
                1,
                b"x",
            ),
            // The last two arguments are always the sizes.
            (
                b"HMSG $G foo + r q 1 2 3\r\nabc\r\n",
                Some(b"r"),
                b"q 1",
                2,
                b"abc",
            ),
        ] {
            assert_eq!(
                routed_of(input),
                Routed {
                    account: b"$G",
                    subject: b"foo",
                    reply,
                    queues,
                    header_len: Some(header_len),
                    message
                },
                "{input:?}"
            );
        }
    }

    #[test]
    fn route_sub_and_unsub() {
        let f = route_frame_of(b"RS+ $G foo\r\n");
        assert_eq!(
            f.op,
            Op::RouteSub {
                account: b"$G",
                subject: b"foo",
                queue: None,
                weight: 1
            }
        );
        assert_eq!(f.args, b"$G foo");
        assert_eq!(f.op.name(), "RS+");
        for (input, weight) in [
            (&b"RS+ $G foo.* grp 3\r\n"[..], 3),
            (b"rs+\t$G  foo.*\tgrp\t3\n", 3),
            (b"RS+ $G foo.* grp 0\r\n", 0),
            (b"RS+ $G foo.* grp 999999999\r\n", 999_999_999),
            // An invalid weight is -1, as `parseSize` in the reference.
            (b"RS+ $G foo.* grp x\r\n", -1),
            (b"RS+ $G foo.* grp -2\r\n", -1),
            (b"RS+ $G foo.* grp 1000000000\r\n", -1),
        ] {
            assert_eq!(
                route_op_of(input),
                Op::RouteSub {
                    account: b"$G",
                    subject: b"foo.*",
                    queue: Some(b"grp"),
                    weight
                },
                "{input:?}"
            );
        }
        let f = route_frame_of(b"RS- $G foo\r\n");
        assert_eq!(
            f.op,
            Op::RouteUnsub {
                account: b"$G",
                subject: b"foo",
                queue: None
            }
        );
        assert_eq!(f.args, b"$G foo");
        assert_eq!(f.op.name(), "RS-");
        let grp = Op::RouteUnsub {
            account: b"$G",
            subject: b"foo",
            queue: Some(b"grp"),
        };
        assert_eq!(route_op_of(b"rs-\t$G foo\tgrp\n"), grp);
        // UNSUB on a route takes the RS- arguments.
        let f = route_frame_of(b"UNSUB $G foo grp\r\n");
        assert_eq!((f.op, f.args), (grp, &b"$G foo grp"[..]));
        assert_eq!(
            route_op_of(b"unsub $G foo\n"),
            Op::RouteUnsub {
                account: b"$G",
                subject: b"foo",
                queue: None
            }
        );
        // Split on '\r' too.
        assert_eq!(
            route_op_of(b"RS+ $G\rfoo\r\n"),
            Op::RouteSub {
                account: b"$G",
                subject: b"foo",
                queue: None,
                weight: 1
            }
        );
    }

    #[test]
    fn route_common_and_ignored_ops() {
        for (input, op, args) in [
            (
                &b"CONNECT {\"name\":\"N\"}\r\n"[..],
                Op::Connect(b"{\"name\":\"N\"}"),
                &b"{\"name\":\"N\"}"[..],
            ),
            (b"INFO {} \r\n", Op::Info(b"{} "), b"{} "),
            (b"PING\r\n", Op::Ping, b""),
            (b"pong\n", Op::Pong, b""),
            (b"+OK\r\n", Op::Ok, b""),
            (b"-ERR 'x'\r\n", Op::Err(b"'x'"), b"'x'"),
            // Gateway interest and SUB (whatever its arguments) are ignored.
            (b"A+ $G\r\n", Op::Ignored, b"$G"),
            (b"a- $G foo\n", Op::Ignored, b"$G foo"),
            (b"Au $G\r\n", Op::Ignored, b"$G"),
            (b"au\t$G\n", Op::Ignored, b"$G"),
            (b"SUB foo 1\r\n", Op::Ignored, b"foo 1"),
            (b"sub a b c d e\r\n", Op::Ignored, b"a b c d e"),
            (b"SUB \r\n", Op::Ignored, b"\r"),
            // PUB/HPUB: client arguments, the payload is consumed and dropped.
            (b"PUB foo 2\r\nhi\r\n", Op::Ignored, b"foo 2"),
            (
                b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                Op::Ignored,
                b"foo r 12 14",
            ),
        ] {
            let f = route_frame_of(input);
            assert_eq!((f.op, f.args), (op, args), "{input:?}");
        }
        assert_eq!(Op::Ignored.name(), "IGNORED");
    }

    #[test]
    fn route_has_no_limits() {
        let payload = vec![b'x'; MAX_PAYLOAD + 1];
        let input = [&b"RMSG $G foo 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert_eq!(routed_of(&input), rmsg(b"foo", None, b"", &payload));
        let hinput = [&b"HMSG $G foo 0 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert!(matches!(
            route_op_of(&hinput),
            Op::RouteMsg { header_len: Some(0), message, .. } if message.len() == MAX_PAYLOAD + 1
        ));
        let pinput = [&b"PUB foo 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert_eq!(route_op_of(&pinput), Op::Ignored);
        // Limits set on a route parser do not apply.
        let mut p = Parser::new_route();
        p.set_limits(8, 1);
        assert_eq!(
            incomplete(&mut p, b"RMSG $G foo.bar.baz 999999999\r\n"),
            Some(999_999_999 + 33)
        );
        let subject = vec![b's'; 2 * MCL];
        let line = [&b"RS+ $G "[..], &subject, b"\r\n"].concat();
        let mut p = Parser::new_route();
        p.set_limits(8, 1);
        assert!(
            matches!(p.parse(&line), Ok(Parsed::Frame(Frame { op: Op::RouteSub { subject: s, .. }, .. })) if s.len() == 2 * MCL)
        );
    }

    #[test]
    fn route_bad_arguments() {
        for input in [
            &b"RMSG $G foo\r\n"[..],
            b"RMSG $G\r\n",
            b"RMSG \r\n",
            b"RMSG $G foo x\r\n",
            b"RMSG $G foo -1\r\n",
            b"RMSG $G foo 1000000000\r\n",
            b"RMSG $G foo rep x\r\n",
            b"RMSG $G foo * q 2\r\n",
            b"RMSG $G foo ++ rep q 2\r\n",
            b"RMSG $G foo || q 2\r\n",
            b"RMSG $G foo rep q1 q2 2\r\n",
            b"RMSG $G foo | q x\r\n",
            b"RMSG $G foo + r q 2x\r\n",
            b"HMSG $G foo 2\r\n",
            b"HMSG $G foo\r\n",
            b"HMSG $G foo 3 2\r\n",
            b"HMSG $G foo rep 3 2\r\n",
            b"HMSG $G foo | q 3 2\r\n",
            b"HMSG $G foo x 2\r\n",
            b"HMSG $G foo 0 x\r\n",
            b"HMSG $G foo * r q 0 2\r\n",
            b"HMSG $G foo + r q x 2\r\n",
            b"RS+ $G\r\n",
            b"RS+ \r\n",
            b"RS+ $G foo q\r\n",
            b"RS+ $G foo q 1 x\r\n",
            b"RS- $G\r\n",
            b"RS- $G foo q x\r\n",
            b"UNSUB 1\r\n",
            b"UNSUB $G foo q x\r\n",
            b"PUB foo\r\n",
            b"HPUB foo 3 2\r\n",
        ] {
            assert_eq!(
                error_of(&mut Parser::new_route(), input),
                ParseError::BadArgs,
                "{input:?}"
            );
        }
    }

    #[test]
    fn route_unknown_operations() {
        for input in [
            &b"MSG foo 1 1\r\n"[..],
            b"msg",
            b"LS+ C1 $G foo\r\n",
            b"LS- $G foo\r\n",
            b"LMSG C1 $G foo 0 2\r\n",
            b"RX",
            b"RS",
            b"RS*",
            b"RSUB",
            b"RM",
            b"RMSX",
            b"RS+\r\n",
            b"RS-$G",
            b"RMSG\n",
            b"A",
            b"AX",
            b"A+\r\n",
            b"A-x",
            b"AU $G\r\n",
            b"Au\r\n",
            b"RMSG $G foo 2\r\nhiX",
            b"HMSG $G foo 0 2\r\nhi\n",
            b"PUB foo 1\r\nab",
        ] {
            let mut p = Parser::new_route();
            match p.parse(input) {
                Err(e) => assert_eq!(e, ParseError::UnknownOp, "{input:?}"),
                // Still undecided: the next byte decides.
                Ok(Parsed::Incomplete { .. }) => {
                    let more = [input, b"?"].concat();
                    assert_eq!(error_of(&mut p, &more), ParseError::UnknownOp, "{input:?}");
                }
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_rejects_route_operations() {
        for input in [
            &b"RS+ $G foo\r\n"[..],
            b"rs- $G foo\r\n",
            b"RMSG $G foo 2\r\nhi\r\n",
            b"A+ $G\r\n",
            b"A- $G\r\n",
            b"au $G\r\n",
        ] {
            let mut p = parser();
            assert_eq!(
                error_of(&mut p, &input[..1]),
                ParseError::UnknownOp,
                "{input:?}"
            );
            assert_eq!(error_of(&mut p, input), ParseError::UnknownOp, "{input:?}");
        }
        // A client HMSG is rejected once its line is complete.
        let mut p = parser();
        assert_eq!(incomplete(&mut p, b"HMSG $G foo + rep qq 12 14\r"), None);
        assert_eq!(
            error_of(&mut p, b"HMSG $G foo + rep qq 12 14\r\n"),
            ParseError::UnknownOp
        );
        // UNSUB and SUB keep their client meaning.
        assert_eq!(
            op_of(b"UNSUB $G foo\r\n"),
            Op::Unsub {
                sid: b"$G",
                max: Some(-1)
            }
        );
        assert!(matches!(op_of(b"SUB foo 1\r\n"), Op::Sub { .. }));
    }

    /// Every route operation, with the odd whitespace rules.
    const ROUTE_STREAM: &[u8] = b"INFO {\"server_id\":\"N\"} \r\n\
CONNECT {\"name\":\"N\",\"headers\":true}\r\n\
PING\r\npong\n+OK\r\n\
RS+ $G foo\r\nrs+\t$G  bar.>\tq1 \t 2 \nRS+ $SYS $SYS.REQ.x\r\n\
RS- $G foo\r\nRS- $G bar.> q1\nUNSUB $G baz\r\n\
RMSG $G foo 2\r\nhi\r\n\
RMSG $G foo reply 2\r\nhi\r\n\
RMSG $G foo | qq 2\r\nhi\r\n\
RMSG $G foo + rep qq 2\r\nhi\r\n\
rmsg\t$G foo + rep q1 q2\tq3 7\nab\r\nc\r\n\r\n\
RMSG $G foo 0\r\n\r\n\
HMSG $G foo + rep qq 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
hmsg $G foo 12 12\nNATS/1.0\r\n\r\n\r\n\
HMSG $G foo | a b 0 3\r\nRS+\r\n\
A+ $G\r\na- $G\nAu $G\r\nSUB foo 1\r\nsub x\r\n\
PUB foo 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
-ERR 'Unknown Protocol Operation'\r\n\
PING\r\n";

    #[test]
    fn route_every_split_gives_the_same_frames() {
        let (events, err_at) = check_splits(Parser::new_route, ROUTE_STREAM);
        assert_eq!(err_at, None);
        assert_eq!(events.len(), 29);
        let mut p = Parser::new_route();
        let mut pos = 0;
        let mut names = Vec::new();
        while let Ok(Parsed::Frame(f)) = p.parse(&ROUTE_STREAM[pos..]) {
            names.push(f.op.name());
            pos += f.consumed;
        }
        assert_eq!(pos, ROUTE_STREAM.len());
        assert_eq!(
            names.join(" "),
            "INFO CONNECT PING PONG +OK RS+ RS+ RS+ RS- RS- RS- RMSG RMSG RMSG RMSG RMSG RMSG \
             HMSG HMSG HMSG IGNORED IGNORED IGNORED IGNORED IGNORED IGNORED IGNORED -ERR PING"
        );
    }

    #[test]
    fn route_every_split_reports_errors_at_the_same_byte() {
        let prefix: &[u8] = b"PING\r\nRMSG $G foo 2\r\nhi\r\n";
        let cases: &[(&[u8], ParseError, usize)] = &[
            (b"MSG foo 1 1\r\n", ParseError::UnknownOp, 1),
            (b"LS+ C $G foo\r\n", ParseError::UnknownOp, 1),
            (b"LMSG C $G foo 0 0\r\n", ParseError::UnknownOp, 1),
            (b"RSX", ParseError::UnknownOp, 3),
            (b"RMX", ParseError::UnknownOp, 3),
            (b"RS+\r\n", ParseError::UnknownOp, 4),
            (b"A+\r\n", ParseError::UnknownOp, 3),
            (b"AU $G\r\n", ParseError::UnknownOp, 2),
            (b"Au$G\r\n", ParseError::UnknownOp, 3),
            (b"RMSG $G foo 2\r\nhiX", ParseError::UnknownOp, 18),
            (b"HMSG $G foo 0 2\r\nhi\r\r\n", ParseError::UnknownOp, 21),
            (b"RMSG $G foo\r\nPING\r\n", ParseError::BadArgs, 13),
            (b"RMSG $G foo * q 2\r\n", ParseError::BadArgs, 19),
            (b"RMSG $G foo | q x\r\n", ParseError::BadArgs, 19),
            (b"HMSG $G foo 3 2\r\n", ParseError::BadArgs, 17),
            (b"RS+ $G foo q\r\n", ParseError::BadArgs, 14),
            (b"RS- $G\n", ParseError::BadArgs, 7),
            (b"UNSUB 1\r\n", ParseError::BadArgs, 9),
        ];
        for &(case, error, at) in cases {
            let input = [prefix, case].concat();
            let (events, err_at) = check_splits(Parser::new_route, &input);
            assert_eq!(events.len(), 3, "{case:?}");
            assert_eq!(events[2], Event::Error(error), "{case:?}");
            assert_eq!(err_at, Some(prefix.len() + at), "{case:?}");
        }
    }

    #[test]
    fn route_random_input_never_panics_and_splits_agree() {
        const PIECES: &[&[u8]] = &[
            b"RMSG ", b"HMSG ", b"RS+ ", b"RS- ", b"UNSUB ", b"SUB ", b"PUB ", b"A+ ", b"PING",
            b"$G ", b"foo ", b"+ ", b"| ", b"q ", b" ", b"\t", b"\r", b"\n", b"\r\n", b"0", b"1",
            b"2", b"12", b"x", b"R", b"S",
        ];
        let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..1500 {
            let mut input = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(8) == 0 {
                    input.push(rng.next_u64() as u8);
                } else {
                    input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
            }
            let (whole, whole_err) = feed(Parser::new_route(), &input, [input.len()]);
            let (bytewise, _) = feed(Parser::new_route(), &input, 1..=input.len());
            assert_eq!(whole, bytewise, "{input:?}");
            let cut = rng.below(input.len() + 1);
            let (split, split_err) = feed(Parser::new_route(), &input, [cut, input.len()]);
            assert_eq!(whole, split, "{input:?}");
            assert_eq!(whole_err.is_some(), split_err.is_some());
        }
    }

    /// A `LeafMsg` without headers.
    fn lmsg<'a>(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        queues: &'a [u8],
        message: &'a [u8],
    ) -> Leafed<'a> {
        Leafed {
            subject,
            reply,
            queues,
            header_len: None,
            message,
        }
    }

    #[test]
    fn leaf_msg_forms() {
        // The forms nats-server 2.9.10 emits (leafnodes.md section 3.2).
        let f = leaf_frame_of(b"LMSG foo reply.1 5\r\nhello\r\n");
        assert_eq!(leafed(f), lmsg(b"foo", Some(b"reply.1"), b"", b"hello"));
        assert_eq!(f.args, b"foo reply.1 5");
        assert_eq!(f.op.name(), "LMSG");
        assert_eq!(
            leafed_of(b"LMSG q.x | grp 2\r\nhi\r\n"),
            lmsg(b"q.x", None, b"grp", b"hi")
        );
        assert_eq!(
            leafed_of(b"LMSG q.y + r grp 2\r\nhi\r\n"),
            lmsg(b"q.y", Some(b"r"), b"grp", b"hi")
        );
        assert_eq!(
            leafed_of(b"LMSG lq + rep lgrp 3\r\nabc\r\n"),
            lmsg(b"lq", Some(b"rep"), b"lgrp", b"abc")
        );
        assert_eq!(
            leafed_of(b"LMSG bar rr 3\r\nabc\r\n"),
            lmsg(b"bar", Some(b"rr"), b"", b"abc")
        );
        assert_eq!(
            leafed_of(b"LMSG foo 2\r\nhi\r\n"),
            lmsg(b"foo", None, b"", b"hi")
        );
        // No account: a route's layout reads as a reply.
        assert_eq!(
            leafed_of(b"LMSG $G foo 2\r\nhi\r\n"),
            lmsg(b"$G", Some(b"foo"), b"", b"hi")
        );
        // Several queues: one slice, separators included.
        assert_eq!(
            leafed_of(b"LMSG foo | q1 q2  q3 2\r\nhi\r\n"),
            lmsg(b"foo", None, b"q1 q2  q3", b"hi")
        );
        assert_eq!(
            leafed_of(b"LMSG foo + r q1\tq2 0\r\n\r\n"),
            lmsg(b"foo", Some(b"r"), b"q1\tq2", b"")
        );
        // `+` with a reply and no queue.
        assert_eq!(
            leafed_of(b"LMSG foo + r 1\r\nx\r\n"),
            lmsg(b"foo", Some(b"r"), b"", b"x")
        );
        // A one-byte reply that looks like an indicator, in the 3-argument form.
        assert_eq!(
            leafed_of(b"LMSG foo + 1\r\nx\r\n"),
            lmsg(b"foo", Some(b"+"), b"", b"x")
        );
        assert_eq!(
            leafed_of(b"LMSG foo | 1\r\nx\r\n"),
            lmsg(b"foo", Some(b"|"), b"", b"x")
        );
        // Case, tabs, bare '\n'.
        assert_eq!(
            leafed_of(b"lMsG\t foo\t\t|\tq  2 \n\r\n\r\n"),
            lmsg(b"foo", None, b"q", b"\r\n")
        );
        // Leaf arguments also split on '\r' (here the '\r' also drops the
        // byte before '\n').
        assert_eq!(
            leafed_of(b"LMSG foo\r 1x\n1\r\n"),
            lmsg(b"foo", None, b"", b"1")
        );
        // RMSG is LMSG on a leaf connection (leafnodes.md section 3: `RMSG x.a 2`).
        let f = leaf_frame_of(b"RMSG x.a 2\r\nhi\r\n");
        assert_eq!(leafed(f), lmsg(b"x.a", None, b"", b"hi"));
        assert_eq!(f.op.name(), "LMSG");
        assert_eq!(
            leafed_of(b"rmsg x.a + r q 2\r\nhi\r\n"),
            lmsg(b"x.a", Some(b"r"), b"q", b"hi")
        );
        // So is PUB, with its client arguments (`PUB x.b 2`).
        let f = leaf_frame_of(b"PUB x.b 2\r\nhi\r\n");
        assert_eq!(leafed(f), lmsg(b"x.b", None, b"", b"hi"));
        assert_eq!((f.args, f.op.name()), (&b"x.b 2"[..], "LMSG"));
        assert_eq!(
            leafed_of(b"pub\tx.b  r\t2\r\nhi\r\n"),
            lmsg(b"x.b", Some(b"r"), b"", b"hi")
        );
        // What the parser accepts, LeafArgs::parse reads; nothing else.
        assert_eq!(
            LeafArgs::parse(b"foo + r a b 2", false),
            Some(LeafArgs {
                subject: b"foo",
                reply: Some(b"r"),
                queues: b"a b"
            })
        );
        assert_eq!(LeafArgs::parse(b"foo", false), None);
        assert_eq!(LeafArgs::parse(b"foo 2", true), None);
        assert_eq!(LeafArgs::parse(b"foo * q 2", false), None);
    }

    #[test]
    fn leaf_hmsg_forms() {
        let f = leaf_frame_of(b"HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(
            leafed(f),
            Leafed {
                subject: b"foo",
                reply: None,
                queues: b"",
                header_len: Some(12),
                message: b"NATS/1.0\r\n\r\nhi"
            }
        );
        assert_eq!(f.args, b"foo 12 14");
        assert_eq!(f.op.name(), "HMSG");
        for (input, reply, queues, header_len, message) in [
            (
                &b"HMSG foo + rep qq 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"[..],
                Some(&b"rep"[..]),
                &b"qq"[..],
                12,
                &b"NATS/1.0\r\n\r\nhi"[..],
            ),
            (b"HMSG foo rep 0 2\r\nhi\r\n", Some(b"rep"), b"", 0, b"hi"),
            (b"HMSG foo | a b c 0 1\r\nx\r\n", None, b"a b c", 0, b"x"),
            (
                b"hmsg\tfoo\t+\tr\tq\t1\t1\nx\r\n",
                Some(b"r"),
                b"q",
                1,
                b"x",
            ),
            // The last two arguments are always the sizes.
            (
                b"HMSG foo + r q 1 2 3\r\nabc\r\n",
                Some(b"r"),
                b"q 1",
                2,
                b"abc",
            ),
            // HPUB is HMSG on a leaf connection, with its client arguments.
            (
                b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                None,
                b"",
                12,
                b"NATS/1.0\r\n\r\nhi",
            ),
            (b"hpub foo r 0 2\r\nhi\r\n", Some(b"r"), b"", 0, b"hi"),
        ] {
            let f = leaf_frame_of(input);
            assert_eq!(f.op.name(), "HMSG", "{input:?}");
            assert_eq!(
                leafed(f),
                Leafed {
                    subject: b"foo",
                    reply,
                    queues,
                    header_len: Some(header_len),
                    message
                },
                "{input:?}"
            );
        }
        // Without negotiated headers HPUB is refused; HMSG never is.
        let mut p = Parser::new_leaf();
        p.set_headers(false);
        assert_eq!(error_of(&mut p, b"HPUB foo 0 2\r\n"), ParseError::BadArgs);
        assert!(matches!(
            p.parse(b"HMSG foo 0 2\r\nhi\r\n"),
            Ok(Parsed::Frame(Frame {
                op: Op::LeafMsg {
                    header_len: Some(0),
                    ..
                },
                ..
            }))
        ));
    }

    #[test]
    fn leaf_sub_and_unsub() {
        let f = leaf_frame_of(b"LS+ foo\r\n");
        assert_eq!(
            f.op,
            Op::LeafSub {
                subject: b"foo",
                queue: None,
                weight: 1
            }
        );
        assert_eq!(f.args, b"foo");
        assert_eq!(f.op.name(), "LS+");
        assert_eq!(
            leaf_op_of(b"LS+ $LDS.9EALlqCWjliuCvoy3TCiU2\r\n"),
            Op::LeafSub {
                subject: b"$LDS.9EALlqCWjliuCvoy3TCiU2",
                queue: None,
                weight: 1
            }
        );
        for (input, weight) in [
            (&b"LS+ q.> grp 1\r\n"[..], 1),
            (b"ls+\tq.>  grp\t2\n", 2),
            (b"LS+ q.> grp 0\r\n", 0),
            (b"LS+ q.> grp 999999999\r\n", 999_999_999),
            // An invalid weight is -1, as `parseSize` in the reference.
            (b"LS+ q.> grp x\r\n", -1),
            (b"LS+ q.> grp -2\r\n", -1),
            (b"LS+ q.> grp 1000000000\r\n", -1),
            // SUB and RS+ take the LS+ arguments on a leaf connection.
            (b"SUB q.> grp 3\r\n", 3),
            (b"rs+ q.> grp 3\r\n", 3),
            // Split on '\r' too.
            (b"LS+ q.>\rgrp 4\r\n", 4),
        ] {
            let op = leaf_op_of(input);
            assert_eq!(
                op,
                Op::LeafSub {
                    subject: b"q.>",
                    queue: Some(b"grp"),
                    weight
                },
                "{input:?}"
            );
            assert_eq!(op.name(), "LS+");
        }
        for input in [&b"SUB foo\r\n"[..], b"RS+ foo\r\n", b"ls+  foo \r\n"] {
            assert_eq!(
                leaf_op_of(input),
                Op::LeafSub {
                    subject: b"foo",
                    queue: None,
                    weight: 1
                },
                "{input:?}"
            );
        }
        let f = leaf_frame_of(b"LS- foo\r\n");
        assert_eq!(
            f.op,
            Op::LeafUnsub {
                subject: b"foo",
                queue: None
            }
        );
        assert_eq!(f.args, b"foo");
        assert_eq!(f.op.name(), "LS-");
        let grp = Op::LeafUnsub {
            subject: b"q.>",
            queue: Some(b"grp"),
        };
        for input in [
            &b"LS- q.> grp\r\n"[..],
            b"ls-\tq.>  grp\n",
            b"LS-  q.>\rgrp\r\n",
            // UNSUB and RS- take the LS- arguments on a leaf connection.
            b"UNSUB q.> grp\r\n",
            b"RS- q.> grp\r\n",
        ] {
            let op = leaf_op_of(input);
            assert_eq!(op, grp, "{input:?}");
            assert_eq!(op.name(), "LS-");
        }
        // The reference looks LS- arguments up as a key and never fails:
        // other counts name no subscription.
        for (input, args) in [
            (&b"LS- \r\n"[..], &b"\r"[..]),
            (b"LS- a b c\r\n", b"a b c"),
            (b"UNSUB a b c d\r\n", b"a b c d"),
            (b"rs- a b c\r\n", b"a b c"),
        ] {
            let f = leaf_frame_of(input);
            assert_eq!((f.op, f.args), (Op::Ignored, args), "{input:?}");
        }
    }

    #[test]
    fn leaf_common_and_ignored_ops() {
        for (input, op, args) in [
            (
                &b"CONNECT {\"version\":\"2.9.10\",\"headers\":true}\r\n"[..],
                Op::Connect(b"{\"version\":\"2.9.10\",\"headers\":true}"),
                &b"{\"version\":\"2.9.10\",\"headers\":true}"[..],
            ),
            (b"INFO {} \r\n", Op::Info(b"{} "), b"{} "),
            (b"PING\r\n", Op::Ping, b""),
            (b"pong\n", Op::Pong, b""),
            (b"+OK\r\n", Op::Ok, b""),
            (
                b"-ERR 'Loop detected'\r\n",
                Op::Err(b"'Loop detected'"),
                b"'Loop detected'",
            ),
            // Gateway interest is ignored.
            (b"A+ $G\r\n", Op::Ignored, b"$G"),
            (b"a- $G foo\n", Op::Ignored, b"$G foo"),
            (b"Au $G\r\n", Op::Ignored, b"$G"),
        ] {
            let f = leaf_frame_of(input);
            assert_eq!((f.op, f.args), (op, args), "{input:?}");
        }
    }

    #[test]
    fn leaf_limits() {
        let payload = vec![b'x'; MAX_PAYLOAD + 1];
        let input = [&b"LMSG foo 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert_eq!(leafed_of(&input), lmsg(b"foo", None, b"", &payload));
        let hinput = [&b"HMSG foo 0 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert!(matches!(
            leaf_op_of(&hinput),
            Op::LeafMsg { header_len: Some(0), message } if message.len() == MAX_PAYLOAD + 1
        ));
        // PUB/HPUB have no limit until one is set.
        let pinput = [&b"PUB foo 1048577\r\n"[..], &payload, b"\r\n"].concat();
        assert_eq!(leafed_of(&pinput), lmsg(b"foo", None, b"", &payload));
        // The maximum payload applies to PUB/HPUB only, never to LMSG/HMSG,
        // and there is no control-line limit.
        let limited = || {
            let mut p = Parser::new_leaf();
            p.set_limits(8, 3);
            p
        };
        assert_eq!(
            error_of(&mut limited(), b"PUB foo 4\r\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            error_of(&mut limited(), b"HPUB foo 0 4\r\n"),
            ParseError::MaxPayload
        );
        assert_eq!(
            incomplete(&mut limited(), b"PUB foo.bar.baz 3\r\n"),
            Some(24)
        );
        assert_eq!(
            incomplete(&mut limited(), b"LMSG foo.bar.baz 999999999\r\n"),
            Some(999_999_999 + 30)
        );
        assert_eq!(
            incomplete(&mut limited(), b"HMSG foo.bar.baz 0 999999999\r\n"),
            Some(999_999_999 + 32)
        );
        let subject = vec![b's'; 2 * MCL];
        let line = [&b"LS+ "[..], &subject, b"\r\n"].concat();
        assert!(matches!(
            limited().parse(&line),
            Ok(Parsed::Frame(Frame { op: Op::LeafSub { subject: s, .. }, .. })) if s.len() == 2 * MCL
        ));
    }

    #[test]
    fn leaf_bad_arguments() {
        for input in [
            &b"LMSG foo\r\n"[..],
            b"LMSG \r\n",
            b"LMSG foo x\r\n",
            b"LMSG foo -1\r\n",
            b"LMSG foo 1000000000\r\n",
            b"LMSG foo rep x\r\n",
            b"LMSG foo * q 2\r\n",
            b"LMSG foo ++ rep q 2\r\n",
            b"LMSG foo || q 2\r\n",
            b"LMSG foo rep q 2\r\n",
            b"LMSG foo | q x\r\n",
            b"LMSG foo + r q 2x\r\n",
            // A route's layout has the account where the indicator goes.
            b"RMSG $G foo | q 2\r\n",
            b"HMSG foo 2\r\n",
            b"HMSG foo\r\n",
            b"HMSG foo 3 2\r\n",
            b"HMSG foo rep 3 2\r\n",
            b"HMSG foo | q 3 2\r\n",
            b"HMSG foo x 2\r\n",
            b"HMSG foo 0 x\r\n",
            b"HMSG foo * r q 0 2\r\n",
            b"HMSG foo + r q x 2\r\n",
            // LS+ takes one or three arguments.
            b"LS+ \r\n",
            b"LS+ foo bar\r\n",
            b"LS+ foo grp 1 x\r\n",
            b"SUB foo 1\r\n",
            b"RS+ $G foo\r\n",
            b"RS+ $G foo grp 1\r\n",
            // PUB/HPUB keep their client argument counts (no queues).
            b"PUB foo\r\n",
            b"PUB foo | q 2\r\n",
            b"PUB foo x\r\n",
            b"HPUB foo 2\r\n",
            b"HPUB foo 3 2\r\n",
            b"HPUB foo | q 0 2\r\n",
        ] {
            assert_eq!(
                error_of(&mut Parser::new_leaf(), input),
                ParseError::BadArgs,
                "{input:?}"
            );
        }
        // PUB arguments split on blanks only: with a '\r' or '\n' among them
        // (here the first byte, then a '\r'), LeafArgs::parse would find other
        // fields, so such a PUB is refused once its message is complete.
        for input in [
            &b"PUB \nfoo 1\r\nx"[..],
            b"PUB f\ro 1x\n1",
            b"HPUB a\rb 0 1x\n1",
        ] {
            let mut p = Parser::new_leaf();
            assert!(incomplete(&mut p, input).is_some(), "{input:?}");
            let whole = [input, b"\r\n"].concat();
            assert_eq!(error_of(&mut p, &whole), ParseError::BadArgs, "{input:?}");
        }
    }

    #[test]
    fn leaf_unknown_operations() {
        for input in [
            &b"MSG foo 1 1\r\n"[..],
            b"msg",
            b"LX",
            b"LS",
            b"LS*",
            b"LSUB",
            b"LM",
            b"LMX",
            b"LMSX",
            b"LS+\r\n",
            b"LS-foo",
            b"LMSG\n",
            b"RX",
            b"RS*",
            b"RMSG\n",
            b"A",
            b"AX",
            b"A+\r\n",
            b"AU $G\r\n",
            b"x",
            b"LMSG foo 2\r\nhiX",
            b"HMSG foo 0 2\r\nhi\n",
            b"PUB foo 1\r\nab",
        ] {
            let mut p = Parser::new_leaf();
            match p.parse(input) {
                Err(e) => assert_eq!(e, ParseError::UnknownOp, "{input:?}"),
                // Still undecided: the next byte decides.
                Ok(Parsed::Incomplete { .. }) => {
                    let more = [input, b"?"].concat();
                    assert_eq!(error_of(&mut p, &more), ParseError::UnknownOp, "{input:?}");
                }
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_and_route_reject_leaf_operations() {
        for input in [&b"LS+ foo\r\n"[..], b"ls- foo\r\n", b"LMSG foo 2\r\nhi\r\n"] {
            for make in [parser as fn() -> Parser, Parser::new_route] {
                let mut p = make();
                assert_eq!(
                    error_of(&mut p, &input[..1]),
                    ParseError::UnknownOp,
                    "{input:?}"
                );
            }
        }
    }

    /// Every leaf operation and synonym, with the odd whitespace rules.
    const LEAF_STREAM: &[u8] = b"INFO {\"server_id\":\"NHUB\",\"headers\":true} \r\n\
CONNECT {\"version\":\"2.9.10\",\"headers\":true}\r\n\
PING\r\npong\n+OK\r\n\
LS+ $LDS.9EALlqCWjliuCvoy3TCiU2\r\nLS+ foo\r\nls+\tq.>  grp \t 2 \nSUB bar\r\nRS+ baz q 1\r\n\
LS- foo\r\nLS- q.> grp\nUNSUB bar\r\nrs- baz q\r\nLS- a b c\r\n\
LMSG foo reply.1 5\r\nhello\r\n\
LMSG q.x | grp 2\r\nhi\r\n\
LMSG q.y + r grp 2\r\nhi\r\n\
lmsg\tfoo + rep q1 q2\tq3 7\nab\r\nc\r\n\r\n\
LMSG foo 0\r\n\r\n\
RMSG x.a 2\r\nhi\r\n\
PUB x.b 2\r\nhi\r\n\
pub x.c r 3\r\nLS+\r\n\
HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
hmsg foo + rep qq 12 12\nNATS/1.0\r\n\r\n\r\n\
HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
A+ $G\r\na- $G\nau\t$G\r\n\
-ERR 'Unknown Protocol Operation'\r\n\
PING\r\n";

    #[test]
    fn leaf_every_split_gives_the_same_frames() {
        let (events, err_at) = check_splits(Parser::new_leaf, LEAF_STREAM);
        assert_eq!(err_at, None);
        assert_eq!(events.len(), 31);
        let mut p = Parser::new_leaf();
        let mut pos = 0;
        let mut names = Vec::new();
        while let Ok(Parsed::Frame(f)) = p.parse(&LEAF_STREAM[pos..]) {
            names.push(f.op.name());
            pos += f.consumed;
        }
        assert_eq!(pos, LEAF_STREAM.len());
        assert_eq!(
            names.join(" "),
            "INFO CONNECT PING PONG +OK LS+ LS+ LS+ LS+ LS+ LS- LS- LS- LS- IGNORED \
             LMSG LMSG LMSG LMSG LMSG LMSG LMSG LMSG HMSG HMSG HMSG IGNORED IGNORED IGNORED -ERR PING"
        );
    }

    #[test]
    fn leaf_every_split_reports_errors_at_the_same_byte() {
        let prefix: &[u8] = b"PING\r\nLMSG foo 2\r\nhi\r\n";
        let cases: &[(&[u8], ParseError, usize)] = &[
            (b"MSG foo 1 1\r\n", ParseError::UnknownOp, 1),
            (b"LX", ParseError::UnknownOp, 2),
            (b"LS*", ParseError::UnknownOp, 3),
            (b"LMX", ParseError::UnknownOp, 3),
            (b"LS+\r\n", ParseError::UnknownOp, 4),
            (b"A+\r\n", ParseError::UnknownOp, 3),
            (b"AU $G\r\n", ParseError::UnknownOp, 2),
            (b"LMSG foo 2\r\nhiX", ParseError::UnknownOp, 15),
            (b"HMSG foo 0 2\r\nhi\r\r\n", ParseError::UnknownOp, 18),
            (b"LMSG foo\r\nPING\r\n", ParseError::BadArgs, 10),
            (b"LMSG foo * q 2\r\n", ParseError::BadArgs, 16),
            (b"HMSG foo 3 2\r\n", ParseError::BadArgs, 14),
            (b"LS+ foo grp\r\n", ParseError::BadArgs, 13),
            (b"SUB foo 1\r\n", ParseError::BadArgs, 11),
            (b"PUB foo | q 2\r\n", ParseError::BadArgs, 15),
            (b"PUB f\ro 1x\n1\r\n", ParseError::BadArgs, 14),
        ];
        for &(case, error, at) in cases {
            let input = [prefix, case].concat();
            let (events, err_at) = check_splits(Parser::new_leaf, &input);
            assert_eq!(events.len(), 3, "{case:?}");
            assert_eq!(events[2], Event::Error(error), "{case:?}");
            assert_eq!(err_at, Some(prefix.len() + at), "{case:?}");
        }
    }

    #[test]
    fn leaf_random_input_never_panics_and_splits_agree() {
        const PIECES: &[&[u8]] = &[
            b"LMSG ", b"HMSG ", b"LS+ ", b"LS- ", b"RMSG ", b"RS+ ", b"UNSUB ", b"SUB ", b"PUB ",
            b"HPUB ", b"A+ ", b"PING", b"foo ", b"+ ", b"| ", b"q ", b" ", b"\t", b"\r", b"\n",
            b"\r\n", b"0", b"1", b"2", b"12", b"x", b"L", b"S",
        ];
        let mut rng = Rng::new(0x853c_49e6_748f_ea9b);
        for _ in 0..1500 {
            let mut input = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(8) == 0 {
                    input.push(rng.next_u64() as u8);
                } else {
                    input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
            }
            let max_payload = rng.below(16);
            let headers = rng.below(2) == 0;
            let make = || {
                let mut p = Parser::new_leaf();
                p.set_limits(1, max_payload);
                p.set_headers(headers);
                p
            };
            let (whole, whole_err) = feed(make(), &input, [input.len()]);
            let (bytewise, _) = feed(make(), &input, 1..=input.len());
            assert_eq!(whole, bytewise, "{input:?}");
            let cut = rng.below(input.len() + 1);
            let (split, split_err) = feed(make(), &input, [cut, input.len()]);
            assert_eq!(whole, split, "{input:?}");
            assert_eq!(whole_err.is_some(), split_err.is_some());
            // Every leaf message the parser gives has arguments LeafArgs reads.
            let mut p = make();
            let mut pos = 0;
            while let Ok(Parsed::Frame(f)) = p.parse(&input[pos..]) {
                if let Op::LeafMsg { header_len, .. } = f.op {
                    let args = LeafArgs::parse(f.args, header_len.is_some());
                    assert!(args.is_some(), "{input:?}");
                }
                pos += f.consumed;
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng::new(42);
        let mut p = Parser::new(32, 64);
        for _ in 0..2000 {
            let len = rng.below(64);
            let input: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let mut pos = 0;
            while let Ok(Parsed::Frame(f)) = p.parse(&input[pos..]) {
                assert!(f.consumed > 0 && f.consumed <= input.len() - pos);
                pos += f.consumed;
            }
        }
    }

    #[test]
    fn find_byte_matches_naive_search() {
        let mut rng = Rng::new(7);
        for _ in 0..500 {
            let len = rng.below(40);
            let hay: Vec<u8> = (0..len)
                .map(|_| [b'\n', b'\r', b'a', 0x8a, 0x0b][rng.below(5)])
                .collect();
            for needle in [b'\n', b'\r'] {
                assert_eq!(
                    find_byte(&hay, needle),
                    hay.iter().position(|&b| b == needle),
                    "{hay:?}"
                );
            }
        }
    }

    #[test]
    fn parse_size_limits() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"1000000000"), None);
        assert_eq!(parse_size(b"1 "), None);
    }

    #[test]
    fn op_stays_small() {
        // Every frame moves an `Op`: the client hot path must not pay for
        // the route and leaf variants.
        assert!(std::mem::size_of::<Op>() <= 64);
    }

    #[test]
    fn error_display() {
        assert_eq!(
            ParseError::MaxControlLine.to_string(),
            "maximum control line exceeded"
        );
    }
}
