//! PUB → MSG: match the subject, pick the targets (every plain subscriber, one member per
//! queue group, each interested route and leaf link once), frame one MSG/HMSG/RMSG per target, and
//! append it to the target's output on this reactor or to this turn's staging for its
//! reactor (handed over at the end of the turn, see `handover`). Flow control happens
//! here too: a target past `max_pending` is a slow consumer, and a publisher whose
//! target fell behind is paused.

use std::cell::OnceCell;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use log::trace;

use super::account::Account;
use super::conn::{ConnShared, Role, SubRef};
use super::imports::{self, StreamImport};
use super::outq::FRAME_SLACK;
use super::service;
use super::turn::Turn;
use crate::logging;
use crate::subject;

/// The header block the server sends for a request nobody answers.
const NO_RESPONDERS: &[u8] = b"NATS/1.0 503\r\n\r\n";
const NO_RESPONDERS_SIZE: &[u8] = b"16";

/// Pending bytes of a consumer above which its producer is paused: half of `max_pending`
/// as in the reference, but at most this. Buffering more adds memory and latency, not
/// throughput: a consumer drains a few MB in the pause (`STALL_PAUSE`, 1 ms) at most.
/// 2 MB rather than 4 MB took the peak RSS of a 1 KB / 16 KB publish-subscribe run from
/// 14-15 MB to 9-11 MB at the same throughput (A/B, 5 rounds; fan-out to 8: 0.92x).
const STALL_PENDING: usize = 2 * 1024 * 1024;

/// Bytes handed over to a consumer on another reactor and not yet taken by it, above which
/// the producer pauses until that reactor takes them (or for `STALL_PAUSE` at most). Keeps
/// a fast publisher from piling batches on a reactor that is busy writing: in a fan-out
/// across reactors, those batches were most of the memory.
const HANDOVER_STALL: usize = 512 * 1024;

/// One message as it is framed for any target.
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Length of the header block when published with HPUB (and not empty).
    pub header_len: Option<usize>,
    /// Headers (if any) followed by the payload.
    pub data: &'a [u8],
    /// The size field(s) as the publisher wrote them (`<size>` or `<hdr> <total>`): the
    /// reference echoes them verbatim, leading zeros included.
    pub sizes: LazySizes<'a>,
    /// It reached this account through a service import: stream importers of the account
    /// do not get it.
    pub via_service: bool,
}

/// The size fields, taken from the control line the first time a target needs them: a
/// message nobody receives never pays for finding them.
pub struct LazySizes<'a> {
    args: &'a [u8],
    with_header: bool,
    fields: OnceCell<SizeFields<'a>>,
}

impl<'a> LazySizes<'a> {
    /// The size fields at the end of PUB/HPUB (or RMSG/HMSG) arguments.
    pub fn of(args: &'a [u8], with_header: bool) -> Self {
        LazySizes {
            args,
            with_header,
            fields: OnceCell::new(),
        }
    }

    /// The size fields of a message with headers, made by the server.
    pub fn with(header: &'a [u8], total: &'a [u8]) -> Self {
        Self::known(SizeFields {
            header: Some(header),
            total,
        })
    }

    /// The same size fields, for a message made from this one (found now).
    pub fn copied<'b>(&self) -> LazySizes<'b>
    where
        'a: 'b,
    {
        LazySizes::known(self.get())
    }

    /// Size fields known already.
    fn known(fields: SizeFields<'a>) -> Self {
        LazySizes {
            args: b"",
            with_header: fields.header.is_some(),
            fields: OnceCell::from(fields),
        }
    }

    fn get(&self) -> SizeFields<'a> {
        *self
            .fields
            .get_or_init(|| SizeFields::from_args(self.args, self.with_header))
    }
}

/// Size fields of a PUB or HPUB control line, as sent.
#[derive(Clone, Copy)]
struct SizeFields<'a> {
    header: Option<&'a [u8]>,
    total: &'a [u8],
}

impl<'a> SizeFields<'a> {
    /// Takes the size field(s) from the end of a PUB/HPUB argument string.
    fn from_args(args: &'a [u8], with_header: bool) -> Self {
        let (rest, total) = split_last_token(args);
        let header = with_header.then(|| split_last_token(rest).1);
        SizeFields { header, total }
    }
}

/// Splits `args` into everything before its last blank-separated token, and that token.
fn split_last_token(args: &[u8]) -> (&[u8], &[u8]) {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let end = args.iter().rposition(|b| !is_blank(b)).map_or(0, |i| i + 1);
    let start = args[..end].iter().rposition(is_blank).map_or(0, |i| i + 1);
    (&args[..start], &args[start..end])
}

impl<'a> Message<'a> {
    /// The `NATS/1.0 503` status a requester gets when nobody answers.
    pub fn no_responders(reply: &'a [u8]) -> Self {
        Message {
            subject: reply,
            reply: None,
            header_len: Some(NO_RESPONDERS.len()),
            data: NO_RESPONDERS,
            sizes: LazySizes::known(SizeFields {
                header: Some(NO_RESPONDERS_SIZE),
                total: NO_RESPONDERS_SIZE,
            }),
            via_service: false,
        }
    }

    /// Appends `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n` (or HMSG with headers,
    /// or MSG without them for a client that did not negotiate headers).
    pub fn frame_into(&self, out: &mut Vec<u8>, sid: &[u8], headers_ok: bool) {
        let body = match self.header_len {
            Some(h) if !headers_ok => &self.data[h..],
            _ => self.data,
        };
        let verb: &[u8] = if headers_ok && self.header_len.is_some() {
            b"HMSG "
        } else {
            b"MSG "
        };
        let reply_len = self.reply.map_or(0, |r| r.len() + 1);
        out.reserve(verb.len() + self.subject.len() + sid.len() + reply_len + body.len() + 32);
        put(out, verb);
        put(out, self.subject);
        out.push(b' ');
        put(out, sid);
        out.push(b' ');
        if let Some(reply) = self.reply {
            put(out, reply);
            out.push(b' ');
        }
        let sizes = self.sizes.get();
        match (self.header_len, sizes.header) {
            (Some(_), _) if !headers_ok => {
                // Headers stripped: the size is the payload alone.
                let _ = write!(out, "{}", body.len());
            }
            (Some(_), Some(header)) => {
                put(out, header);
                out.push(b' ');
                put(out, sizes.total);
            }
            _ => put(out, sizes.total),
        }
        out.extend_from_slice(b"\r\n");
        put(out, body);
        out.extend_from_slice(b"\r\n");
    }
}

impl Message<'_> {
    /// Appends `RMSG <account> <subject> [+ reply queues | | queues | reply] <size>` and
    /// the message for a route, or `LMSG <subject> ...` (no account) for a leaf link
    /// (`HMSG` with sizes when it takes headers; headers stripped when it does not).
    fn frame_routed_into(
        &self,
        out: &mut Vec<u8>,
        account: Option<&[u8]>,
        queues: &[&[u8]],
        headers_ok: bool,
    ) {
        let body = match self.header_len {
            Some(h) if !headers_ok => &self.data[h..],
            _ => self.data,
        };
        let with_headers = headers_ok && self.header_len.is_some();
        out.reserve(64 + account.map_or(0, <[u8]>::len) + self.subject.len() + body.len());
        out.extend_from_slice(match (with_headers, account) {
            (true, _) => b"HMSG ",
            (false, Some(_)) => b"RMSG ",
            (false, None) => b"LMSG ",
        });
        if let Some(account) = account {
            put(out, account);
            out.push(b' ');
        }
        put(out, self.subject);
        out.push(b' ');
        match (self.reply, queues.is_empty()) {
            (Some(reply), false) => {
                out.extend_from_slice(b"+ ");
                put(out, reply);
                out.push(b' ');
            }
            (None, false) => out.extend_from_slice(b"| "),
            (Some(reply), true) => {
                put(out, reply);
                out.push(b' ');
            }
            (None, true) => {}
        }
        for queue in queues {
            put(out, queue);
            out.push(b' ');
        }
        match self.header_len {
            Some(h) if with_headers => {
                let _ = write!(out, "{h} {}", body.len());
            }
            _ => {
                let _ = write!(out, "{}", body.len());
            }
        }
        out.extend_from_slice(b"\r\n");
        put(out, body);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `bytes` to `out`. A short slice (a subject, a sid, a size, a small payload) is
/// copied with two overlapping moves instead of a call to the C library's `memcpy`: musl's
/// starts every copy with `rep movsq`, which at these sizes costs more than the copy
/// (static musl build, 16 B messages: most of the server's CPU was in `memcpy`).
#[inline(always)]
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if !(4..=16).contains(&n) || out.capacity() - out.len() < n {
        out.extend_from_slice(bytes);
        return;
    }
    let len = out.len();
    // SAFETY: `out` has room for `n` more bytes (checked above), and `n` is within the
    // word sizes' bounds `copy_ends` needs.
    unsafe {
        let (src, dst) = (bytes.as_ptr(), out.as_mut_ptr().add(len));
        if n >= 8 {
            copy_ends::<u64>(src, dst, n);
        } else {
            copy_ends::<u32>(src, dst, n);
        }
        out.set_len(len + n);
    }
}

/// Copies `n` bytes from `src` to `dst` as two word moves, the first word and the last
/// (overlapping when `n` is under two words).
///
/// # Safety
/// `size_of::<W>() <= n`, `src` readable and `dst` writable for `n` bytes.
#[inline(always)]
unsafe fn copy_ends<W: Copy>(src: *const u8, dst: *mut u8, n: usize) {
    let last = n - std::mem::size_of::<W>();
    // SAFETY: both words lie within the first `n` bytes of `src` and `dst` (caller).
    unsafe {
        dst.cast::<W>()
            .write_unaligned(src.cast::<W>().read_unaligned());
        let tail = src.add(last).cast::<W>().read_unaligned();
        dst.add(last).cast::<W>().write_unaligned(tail);
    }
}

/// Delivers to every matching subscription and one member per queue group; returns how
/// many copies went out. Routes and leaf links get one copy each (RMSG or LMSG, with the
/// queue groups a member behind them was picked for), by the one-hop rules of
/// [`may_forward`]. A message from a route or a leaf link (`routed_queues` is `Some`)
/// serves only the queue groups it names. `echo`: the publisher may receive its own
/// message.
#[inline]
pub fn deliver(
    turn: &mut Turn,
    account: &Account,
    publisher: &ConnShared,
    echo: bool,
    msg: &Message<'_>,
    routed_queues: Option<&[u8]>,
) -> usize {
    if account.responses.active() && msg.subject.starts_with(b"_R_.") {
        service::respond(turn, account, publisher, msg);
    }
    let matched = turn.caches.lookup(account, msg.subject);
    let echo = echo || routed_queues.is_some();
    let own_cid = publisher.cid;
    let mut delivered = 0;
    let mut forwards = Forwards::default();
    for sub in &matched.plain {
        if sub.conn.role != Role::Client {
            if may_forward(publisher, &sub.conn, msg.subject) {
                forwards.add(sub, None);
            }
            continue;
        }
        if !echo && sub.conn.cid == own_cid {
            continue;
        }
        delivered += usize::from(deliver_to(turn, own_cid, sub, msg));
    }
    for group in &matched.queues {
        let name = group[0].queue.as_deref().unwrap_or_default();
        if let Some(named) = routed_queues {
            if !blank_separated(named).any(|q| q == name) {
                continue;
            }
        }
        // Local and route members share the draw; a leaf link's member is only the
        // fallback when there is neither (as the reference chooses).
        let eligible = |sub: &SubRef| match sub.conn.role {
            Role::Client => echo || sub.conn.cid != own_cid,
            Role::Route => may_forward(publisher, &sub.conn, msg.subject),
            Role::Leaf => false,
        };
        let weights: u64 = group
            .iter()
            .filter(|s| eligible(s))
            .map(|s| s.weight.load(Ordering::Relaxed).max(1))
            .sum();
        let mut served = false;
        if weights > 0 {
            let mut pick = turn.random() % weights;
            let start = group
                .iter()
                .position(|s| {
                    if !eligible(s) {
                        return false;
                    }
                    let weight = s.weight.load(Ordering::Relaxed).max(1);
                    if pick < weight {
                        return true;
                    }
                    pick -= weight;
                    false
                })
                .unwrap_or(0);
            for i in 0..group.len() {
                let sub = &group[(start + i) % group.len()];
                if !eligible(sub) {
                    continue;
                }
                if sub.conn.role == Role::Route {
                    forwards.add(sub, Some(name));
                    served = true;
                    break;
                }
                if deliver_to(turn, own_cid, sub, msg) {
                    delivered += 1;
                    served = true;
                    break;
                }
            }
        }
        if !served {
            let leaf_member = group.iter().find(|s| {
                s.conn.role == Role::Leaf && may_forward(publisher, &s.conn, msg.subject)
            });
            if let Some(sub) = leaf_member {
                forwards.add(sub, Some(name));
            }
        }
    }
    for (target, queues) in forwards.0 {
        forward(turn, own_cid, &account.name, &target, &queues, msg);
        delivered += 1;
    }
    delivered
}

/// Whether a message from `publisher` goes on to route or leaf link `target` (the one-hop
/// rules, leafnodes.md §5.1): a client's goes everywhere; a route's only to links of leafs
/// connected to us; a leaf link's to routes if that leaf connected to us, and to every
/// other link but those to the same remote cluster.
#[inline]
fn may_forward(publisher: &ConnShared, target: &ConnShared, subject: &[u8]) -> bool {
    match (target.role, publisher.role) {
        (Role::Route, Role::Client) => true,
        (Role::Route, Role::Route) | (Role::Client, _) => false,
        _ => may_forward_leaf(publisher, target, subject),
    }
}

/// [`may_forward`] when a leaf link is the publisher or the target.
#[cold]
#[inline(never)]
fn may_forward_leaf(publisher: &ConnShared, target: &ConnShared, subject: &[u8]) -> bool {
    let from_leaf = publisher.leaf.get();
    if target.role == Role::Route {
        return from_leaf.is_some_and(|peer| !peer.solicited);
    }
    let Some(to) = target.leaf.get() else {
        return false;
    };
    target.cid != publisher.cid
        && to.may_send(subject)
        && match publisher.role {
            Role::Client => true,
            Role::Route => !to.solicited,
            Role::Leaf => from_leaf.is_some_and(|from| !from.same_cluster(to)),
        }
}

/// Writes one RMSG (or HMSG) for a route, or one LMSG (or HMSG) for a leaf link.
fn forward(
    turn: &mut Turn,
    publisher: u64,
    account: &str,
    target: &Arc<ConnShared>,
    queues: &[&[u8]],
    msg: &Message<'_>,
) {
    if target.is_closed() {
        return;
    }
    if target.reactor == turn.reactor && target.handover_len.load(Ordering::Relaxed) > 0 {
        // Interest updates (RS+/LS+) wait in the hand-over: they go first, or a reply
        // could reach the peer before the interest that draws it back.
        turn.absorb_handover(target.token);
    }
    let headers_ok = target.headers.load(Ordering::Relaxed);
    let account = (target.role == Role::Route).then_some(account.as_bytes());
    append_to(turn, publisher, target, msg.data.len(), |out| {
        msg.frame_routed_into(out, account, queues, headers_ok);
    });
}

/// Appends one message (framed by `frame`) for `target`: to its output on this reactor,
/// else to this turn's staging for it; counts it, and applies the limits (past
/// `max_pending` a local target is a slow consumer; past half, the publisher is paused
/// unless it is the target itself).
#[inline]
fn append_to(
    turn: &mut Turn,
    publisher: u64,
    target: &Arc<ConnShared>,
    data_len: usize,
    frame: impl FnOnce(&mut Vec<u8>),
) {
    turn.counts.out_msgs += 1;
    turn.counts.out_bytes += data_len as u64;
    turn.budget_left -= data_len as isize;
    let max_pending = turn.settings.opts.max_pending;
    let pending = if target.reactor == turn.reactor {
        let out = turn.output(target.token);
        frame(out.queue.tail(data_len + FRAME_SLACK));
        out.counts.out_msgs += 1;
        out.counts.out_bytes += data_len as u64;
        let pending = out.pending();
        if pending > max_pending {
            turn.slow_consumer_pending(target.token);
        }
        pending
    } else {
        let staged = turn.staging.stage(target);
        frame(&mut staged.bytes);
        staged.counts.out_msgs += 1;
        staged.counts.out_bytes += data_len as u64;
        let handed = staged.bytes.len() + target.handover_len.load(Ordering::Relaxed);
        if handed > HANDOVER_STALL && target.cid != publisher {
            // The consumer's reactor is behind this one: wait until it takes the batches.
            turn.stall_behind(target);
        }
        handed + target.unsent.load(Ordering::Relaxed)
    };
    let mut stall_at = (max_pending / 2).min(STALL_PENDING);
    if turn.budget_left < 0 {
        // Past max_pending_total, a producer pauses as soon as a target holds its share
        // (and stays paused while the server is past it: see the reactor's `resume`).
        stall_at = stall_at.min(turn.share);
    }
    if pending > stall_at && target.cid != publisher {
        turn.stall();
    }
}

/// Frames the message for one subscription; false when the target cannot take it.
fn deliver_to(turn: &mut Turn, publisher: u64, sub: &SubRef, msg: &Message<'_>) -> bool {
    let target = &sub.conn;
    if target.is_closed() {
        return false;
    }
    if let Some(deny) = &sub.deny {
        if deny.iter().any(|d| subject::matches(d, msg.subject)) {
            return false;
        }
    }
    if let Some(import) = &sub.import {
        return !msg.via_service && deliver_imported(turn, publisher, sub, import, msg);
    }
    let Some(last) = sub.claim_delivery() else {
        return false;
    };
    if let Some(reply) = msg.reply {
        if target.tracks_replies.load(Ordering::Relaxed) {
            target.record_reply(reply, std::time::Instant::now());
        }
    }
    let headers_ok = target.headers.load(Ordering::Relaxed);
    if logging::trace_enabled() {
        trace_out(target, sub, msg, headers_ok);
    }
    append_to(turn, publisher, target, msg.data.len(), |out| {
        msg.frame_into(out, &sub.sid, headers_ok);
    });
    if last {
        auto_unsubscribed(turn, sub);
    }
    true
}

/// Delivers through a shadow subscription: with the importer's subject. Kept out of
/// `deliver_to`, which accounts without stream imports never leave.
#[inline(never)]
fn deliver_imported(
    turn: &mut Turn,
    publisher: u64,
    sub: &SubRef,
    import: &StreamImport,
    msg: &Message<'_>,
) -> bool {
    let subject = import.local_subject(msg.subject);
    let local = Message {
        subject: &subject,
        reply: msg.reply,
        header_len: msg.header_len,
        data: msg.data,
        sizes: msg.sizes.copied(),
        via_service: false,
    };
    let Some(last) = sub.claim_delivery() else {
        return false;
    };
    let target = &sub.conn;
    let headers_ok = target.headers.load(Ordering::Relaxed);
    if logging::trace_enabled() {
        trace_out(target, sub, &local, headers_ok);
    }
    append_to(turn, publisher, target, local.data.len(), |out| {
        local.frame_into(out, &sub.sid, headers_ok);
    });
    if last {
        auto_unsubscribed(turn, sub);
    }
    true
}

/// Removes a subscription that reached its auto-unsubscribe limit.
fn auto_unsubscribed(turn: &Turn, sub: &SubRef) {
    if sub
        .account
        .sublist
        .remove(&sub.subject, sub.queue.as_deref(), sub)
    {
        turn.interest_changed(sub, false);
    }
    imports::remove_shadows(turn, sub);
    service::subscription_gone(&sub.account);
    sub.conn.subs.remove_if(sub);
}

/// The routes and leaf links a message goes to, each once, with the queue groups it
/// carries for them.
#[derive(Default)]
struct Forwards<'a>(Vec<(Arc<ConnShared>, Vec<&'a [u8]>)>);

impl<'a> Forwards<'a> {
    fn add(&mut self, sub: &SubRef, queue: Option<&'a [u8]>) {
        let index = match self.0.iter().position(|(r, _)| r.cid == sub.conn.cid) {
            Some(i) => i,
            None => {
                self.0.push((sub.conn.clone(), Vec::new()));
                self.0.len() - 1
            }
        };
        if let Some(queue) = queue {
            self.0[index].1.push(queue);
        }
    }
}

/// The names in a blank-separated list.
fn blank_separated(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|s| !s.is_empty())
}

fn trace_out(target: &ConnShared, sub: &SubRef, msg: &Message<'_>, headers_ok: bool) {
    let mut line = Vec::new();
    msg.frame_into(&mut line, &sub.sid, headers_ok);
    let end = line.iter().position(|&b| b == b'\r').unwrap_or(line.len());
    trace!(
        "{}->> [{}]",
        target.prefix(),
        String::from_utf8_lossy(&line[..end])
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(msg: &Message<'_>, headers_ok: bool) -> Vec<u8> {
        let mut out = Vec::new();
        msg.frame_into(&mut out, b"7", headers_ok);
        out
    }

    /// `put` appends exactly the bytes given, for every length around its short-copy
    /// sizes, whether the buffer has room already, just enough, or none.
    #[test]
    fn put_appends_every_length() {
        let source: Vec<u8> = (1..=40).collect();
        for n in 0..=source.len() {
            let bytes = &source[..n];
            for room in [0, n, n + 8] {
                let mut out = Vec::with_capacity(3 + room);
                out.extend_from_slice(b"abc");
                put(&mut out, bytes);
                assert_eq!(&out[..3], b"abc", "length {n}, room {room}");
                assert_eq!(&out[3..], bytes, "length {n}, room {room}");
            }
        }
    }

    #[test]
    fn frames_msg_hmsg_and_stripped_headers() {
        let plain = Message {
            subject: b"foo",
            reply: None,
            header_len: None,
            data: b"hello",
            sizes: LazySizes::of(b"foo 5", false),
            via_service: false,
        };
        assert_eq!(framed(&plain, true), b"MSG foo 7 5\r\nhello\r\n");
        let with_reply = Message {
            reply: Some(b"rep"),
            ..plain
        };
        assert_eq!(framed(&with_reply, false), b"MSG foo 7 rep 5\r\nhello\r\n");
        let headers = Message {
            subject: b"foo",
            reply: Some(b"rep"),
            header_len: Some(12),
            data: b"NATS/1.0\r\n\r\nhi",
            sizes: LazySizes::of(b"foo rep 12\t 14 ", true),
            via_service: false,
        };
        assert_eq!(
            framed(&headers, true),
            b"HMSG foo 7 rep 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        );
        assert_eq!(framed(&headers, false), b"MSG foo 7 rep 2\r\nhi\r\n");
    }

    #[test]
    fn size_fields_are_echoed_verbatim() {
        let msg = Message {
            subject: b"foo",
            reply: None,
            header_len: None,
            data: b"ab",
            sizes: LazySizes::of(b"foo 0002", false),
            via_service: false,
        };
        assert_eq!(framed(&msg, true), b"MSG foo 7 0002\r\nab\r\n");
        assert_eq!(split_last_token(b" a  bc \t"), (&b" a  "[..], &b"bc"[..]));
        assert_eq!(split_last_token(b""), (&b""[..], &b""[..]));
    }
}
