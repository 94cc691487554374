//! PUB → MSG: match the subject, frame one MSG/HMSG per target, stage it, hand it over.
//!
//! Targets on this reactor get the bytes appended straight to their write buffer. Targets
//! on other reactors get them in a staging buffer of this reactor; after the turn each
//! staged buffer is appended to the target's hand-over under one lock, and the target's
//! reactor is woken at most once (see `ReactorHandle::post`).
//!
//! Staging buffers are recycled: the hand-over takes a staged buffer whole when it is empty
//! and gives back the emptied buffer it held, which the target's reactor left there when it
//! moved the previous bytes to its write buffer. So in steady state handing bytes over
//! allocates nothing (an allocator that returns big blocks to the system, as musl's does,
//! would otherwise map and unmap memory every turn).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::SystemTime;

use log::{error, trace};
use slab::Slab;

use super::conn::{Conn, ConnShared, SubRef};
use super::conn_info::{unix_nanos, Counts};
use super::reactor::Reactor;
use super::ServerShared;
use crate::logging;
use crate::proto::RoutedArgs;
use crate::subject;

/// The header block the server sends for a request nobody answers.
const NO_RESPONDERS: &[u8] = b"NATS/1.0 503\r\n\r\n";
const NO_RESPONDERS_SIZE: &[u8] = b"16";

/// Pending bytes of a consumer above which its producer is paused: half of `max_pending`
/// as in the reference, but at most this. Buffering more adds memory and latency, not
/// throughput: a consumer drains a few MB in the pause (`STALL_PAUSE`, 1 ms) at most.
const STALL_PENDING: usize = 4 * 1024 * 1024;

/// Emptied staging buffers a reactor keeps for reuse, at most this many…
const MAX_SPARE_BUFFERS: usize = 8;
/// …of at most this capacity each (a buffer grown by a burst goes back to the allocator).
const MAX_SPARE_CAPACITY: usize = 256 * 1024;

/// One message as it is framed for any target.
struct Message<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Length of the header block when published with HPUB (and not empty).
    header_len: Option<usize>,
    /// Headers (if any) followed by the payload.
    data: &'a [u8],
    /// The size field(s) as the publisher wrote them (`<size>` or `<hdr> <total>`): the
    /// reference echoes them verbatim, leading zeros included.
    sizes: LazySizes<'a>,
}

/// The size fields, taken from the control line the first time a target needs them: a
/// message nobody receives never pays for finding them.
struct LazySizes<'a> {
    args: &'a [u8],
    with_header: bool,
    fields: OnceCell<SizeFields<'a>>,
}

impl<'a> LazySizes<'a> {
    /// The size fields at the end of PUB/HPUB (or RMSG/HMSG) arguments.
    fn of(args: &'a [u8], with_header: bool) -> Self {
        LazySizes {
            args,
            with_header,
            fields: OnceCell::new(),
        }
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

impl Message<'_> {
    /// Appends `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n` (or HMSG with headers,
    /// or MSG without them for a client that did not negotiate headers).
    fn frame_into(&self, out: &mut Vec<u8>, sid: &[u8], headers_ok: bool) {
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
        out.extend_from_slice(verb);
        out.extend_from_slice(self.subject);
        out.push(b' ');
        out.extend_from_slice(sid);
        out.push(b' ');
        if let Some(reply) = self.reply {
            out.extend_from_slice(reply);
            out.push(b' ');
        }
        let sizes = self.sizes.get();
        match (self.header_len, sizes.header) {
            (Some(_), _) if !headers_ok => {
                // Headers stripped: the size is the payload alone.
                let _ = write!(out, "{}", body.len());
            }
            (Some(_), Some(header)) => {
                out.extend_from_slice(header);
                out.push(b' ');
                out.extend_from_slice(sizes.total);
            }
            _ => out.extend_from_slice(sizes.total),
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
}

impl Message<'_> {
    /// Appends `RMSG $G <subject> [+ reply queues | | queues | reply] <size>` and the
    /// message for a route (`HMSG` with sizes when it takes headers; headers stripped when
    /// it does not).
    fn frame_routed_into(&self, out: &mut Vec<u8>, queues: &[&[u8]], headers_ok: bool) {
        let body = match self.header_len {
            Some(h) if !headers_ok => &self.data[h..],
            _ => self.data,
        };
        let with_headers = headers_ok && self.header_len.is_some();
        out.reserve(64 + self.subject.len() + body.len());
        out.extend_from_slice(if with_headers {
            b"HMSG $G "
        } else {
            b"RMSG $G "
        });
        out.extend_from_slice(self.subject);
        out.push(b' ');
        match (self.reply, queues.is_empty()) {
            (Some(reply), false) => {
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(reply);
                out.push(b' ');
            }
            (None, false) => out.extend_from_slice(b"| "),
            (Some(reply), true) => {
                out.extend_from_slice(reply);
                out.push(b' ');
            }
            (None, true) => {}
        }
        for queue in queues {
            out.extend_from_slice(queue);
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
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
}

/// Output produced during a turn: staged bytes for other reactors' connections, and the
/// local connections with new bytes to write.
#[derive(Default)]
pub struct Outbox {
    staged: Vec<Staged>,
    staged_index: HashMap<u64, usize>,
    dirty: Vec<usize>,
    /// Emptied buffers for the next staging (see the module documentation).
    spare: Vec<Vec<u8>>,
}

/// Bytes and counts staged this turn for a connection on another reactor.
struct Staged {
    target: Arc<ConnShared>,
    bytes: Vec<u8>,
    counts: Counts,
}

impl Outbox {
    /// Lists a local connection for writing at the end of the turn.
    pub fn mark_dirty(&mut self, conns: &mut Slab<Conn>, token: usize) {
        let conn = &mut conns[token];
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(token);
        }
    }

    /// The local connections to write, emptying the list.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.dirty)
    }

    /// The staging buffer for a connection on another reactor.
    fn staging_for(&mut self, target: &Arc<ConnShared>) -> &mut Staged {
        let index = *self.staged_index.entry(target.cid).or_insert_with(|| {
            self.staged.push(Staged {
                target: target.clone(),
                bytes: self.spare.pop().unwrap_or_default(),
                counts: Counts::default(),
            });
            self.staged.len() - 1
        });
        &mut self.staged[index]
    }

    /// Appends each staged buffer to its target's hand-over (one lock per target per
    /// turn) and notifies the owning reactors.
    pub fn hand_over(&mut self, shared: &ServerShared) {
        self.staged_index.clear();
        if self.staged.is_empty() {
            return;
        }
        let now = unix_nanos(SystemTime::now());
        let Outbox { staged, spare, .. } = self;
        for Staged {
            target,
            bytes,
            counts,
        } in staged.drain(..)
        {
            if target.is_closed() {
                recycle(spare, bytes);
                continue;
            }
            target.activity.add(&counts, now);
            let handover = target.handover.lock().unwrap_or_else(|e| e.into_inner());
            let mut bytes = bytes;
            if bytes.len() <= DIRECT_WRITE_MAX
                && handover.is_empty()
                && shared.reactors[target.reactor].is_parked()
            {
                // The owner sleeps with nothing queued: write now rather than wake it.
                let written = write_direct(&target, &bytes);
                if written == bytes.len() {
                    recycle(spare, bytes);
                    continue;
                }
                bytes.drain(..written);
            }
            recycle(spare, append_handover(shared, &target, handover, bytes));
        }
    }
}

/// Keeps an emptied buffer for the next staging, within the pool's bounds.
fn recycle(spare: &mut Vec<Vec<u8>>, mut buffer: Vec<u8>) {
    let capacity = buffer.capacity();
    if capacity > 0 && capacity <= MAX_SPARE_CAPACITY && spare.len() < MAX_SPARE_BUFFERS {
        buffer.clear();
        spare.push(buffer);
    }
}

/// Appends `bytes` to a connection's (locked) hand-over and, unless a notice is already
/// queued, tells its reactor to move them out. Returns an emptied buffer for reuse: the
/// one the hand-over held when it takes `bytes` whole, else `bytes` itself.
pub(super) fn append_handover(
    shared: &ServerShared,
    target: &ConnShared,
    mut handover: MutexGuard<'_, Vec<u8>>,
    mut bytes: Vec<u8>,
) -> Vec<u8> {
    if handover.is_empty() {
        std::mem::swap(&mut *handover, &mut bytes);
    } else {
        handover.extend_from_slice(&bytes);
    }
    target.handover_len.store(handover.len(), Ordering::Relaxed);
    let notify = !target.handover_queued.swap(true, Ordering::Relaxed);
    drop(handover);
    if notify {
        let (token, cid) = (target.token, target.cid);
        shared.reactors[target.reactor].post(|inbox| inbox.flush.push((token, cid)));
    }
    bytes
}

impl Reactor {
    /// Handles PUB and HPUB from the connection at `token`.
    pub(super) fn on_pub(
        &mut self,
        token: usize,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        data: &[u8],
        args: &[u8],
    ) {
        let sizes = LazySizes::of(args, header_len.is_some());
        // An empty header block is no header block (the reference's `hdr > 0`).
        let header_len = header_len.filter(|&h| h > 0);
        let conn = &mut self.conns[token];
        conn.counts.in_msgs += 1;
        conn.counts.in_bytes += data.len() as u64;
        self.counts.in_msgs += 1;
        self.counts.in_bytes += data.len() as u64;
        if conn.opts.pedantic && !subject::is_valid_literal_subject(subject) {
            self.send_err(token, "Invalid Publish Subject");
        }
        let conn = &mut self.conns[token];
        if has_prefix(subject, b"_GR_.") || !conn.may_publish(subject) {
            error!(
                "{}Publish Violation - {}, Subject {:?}",
                conn.shared.prefix(),
                conn.auth_user(),
                String::from_utf8_lossy(subject)
            );
            let msg = format!(
                "Permissions Violation for Publish to {:?}",
                String::from_utf8_lossy(subject)
            );
            self.send_err(token, &msg);
            return;
        }
        if let Some(reply) = reply.filter(|r| is_reserved_reply(r)) {
            let msg = format!(
                "Permissions Violation for Publish with Reply of {:?}",
                String::from_utf8_lossy(reply)
            );
            self.send_err(token, &msg);
            return;
        }
        self.send_ok(token);
        let msg = Message {
            subject,
            reply,
            header_len,
            data,
            sizes,
        };
        let delivered = self.deliver(token, &msg, None);
        let conn = &self.conns[token];
        if delivered == 0 && reply.is_some() && conn.opts.no_responders {
            self.send_no_responders(token, reply.unwrap_or_default());
        }
    }

    /// Delivers to every matching subscription and one member per queue group; returns
    /// how many copies went out. A message from a client goes to each interested route
    /// once (with the queue groups a member on that route was picked for); a message from
    /// a route goes to local subscribers only, and to the queue groups it names.
    #[inline]
    fn deliver(
        &mut self,
        publisher: usize,
        msg: &Message<'_>,
        routed_queues: Option<&[u8]>,
    ) -> usize {
        let matched = self.cache.lookup(&self.shared.sublist, msg.subject);
        let echo = self.conns[publisher].opts.echo || routed_queues.is_some();
        let own_cid = self.conns[publisher].shared.cid;
        let mut delivered = 0;
        let mut routes = RouteTargets::default();
        for sub in &matched.plain {
            if sub.conn.is_route {
                if routed_queues.is_none() {
                    routes.add(sub, None);
                }
                continue;
            }
            if !echo && sub.conn.cid == own_cid {
                continue;
            }
            delivered += usize::from(self.deliver_to(publisher, sub, msg));
        }
        for group in &matched.queues {
            let name = group[0].queue.as_deref().unwrap_or_default();
            if let Some(named) = routed_queues {
                if !blank_separated(named).any(|q| q == name) {
                    continue;
                }
            }
            let eligible = |sub: &SubRef| {
                !(sub.conn.is_route && routed_queues.is_some()) && (echo || sub.conn.cid != own_cid)
            };
            let weights: u64 = group
                .iter()
                .filter(|s| eligible(s))
                .map(|s| s.weight.load(Ordering::Relaxed).max(1))
                .sum();
            if weights == 0 {
                continue;
            }
            let mut pick = self.random() % weights;
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
                if sub.conn.is_route {
                    routes.add(sub, Some(name));
                    break;
                }
                if self.deliver_to(publisher, sub, msg) {
                    delivered += 1;
                    break;
                }
            }
        }
        for (route, queues) in routes.0 {
            self.forward(publisher, &route, &queues, msg);
            delivered += 1;
        }
        delivered
    }

    /// Writes one RMSG (or HMSG) for a route.
    fn forward(
        &mut self,
        publisher: usize,
        route: &Arc<ConnShared>,
        queues: &[&[u8]],
        msg: &Message<'_>,
    ) {
        if route.is_closed() {
            return;
        }
        let headers_ok = route.headers.load(Ordering::Relaxed);
        self.append_to(publisher, route, msg.data.len(), |out| {
            msg.frame_routed_into(out, queues, headers_ok);
        });
    }

    /// Appends one message (framed by `frame`) for `target`: to its write buffer on this
    /// reactor, else to this turn's staging for it; counts it, and applies the limits
    /// (past `max_pending` a local target is a slow consumer; past half, the publisher is
    /// paused unless it is the target itself).
    fn append_to(
        &mut self,
        publisher: usize,
        target: &Arc<ConnShared>,
        data_len: usize,
        frame: impl FnOnce(&mut Vec<u8>),
    ) {
        self.counts.out_msgs += 1;
        self.counts.out_bytes += data_len as u64;
        let max_pending = self.settings.opts.max_pending;
        let pending = if target.reactor == self.id {
            let token = target.token;
            let conn = &mut self.conns[token];
            frame(&mut conn.wbuf);
            conn.counts.out_msgs += 1;
            conn.counts.out_bytes += data_len as u64;
            let pending = conn.pending();
            self.out.mark_dirty(&mut self.conns, token);
            if pending > max_pending {
                self.slow_consumer_pending(token);
            }
            pending
        } else {
            let staged = self.out.staging_for(target);
            frame(&mut staged.bytes);
            staged.counts.out_msgs += 1;
            staged.counts.out_bytes += data_len as u64;
            staged.bytes.len() + target.pending_estimate()
        };
        let stall_at = (max_pending / 2).min(STALL_PENDING);
        if pending > stall_at && target.cid != self.conns[publisher].shared.cid {
            self.pause(publisher);
        }
    }

    /// RMSG/HMSG from a route: delivered to local subscribers and the named queue groups.
    pub(super) fn on_routed_msg(
        &mut self,
        token: usize,
        routed: &RoutedArgs<'_>,
        header_len: Option<usize>,
        data: &[u8],
        args: &[u8],
    ) {
        let (subject, reply, queues) = (routed.subject, routed.reply, routed.queues);
        let conn = &mut self.conns[token];
        conn.counts.in_msgs += 1;
        conn.counts.in_bytes += data.len() as u64;
        self.counts.in_msgs += 1;
        self.counts.in_bytes += data.len() as u64;
        let msg = Message {
            subject,
            reply,
            header_len: header_len.filter(|&h| h > 0),
            data,
            sizes: LazySizes::of(args, header_len.is_some()),
        };
        self.deliver(token, &msg, Some(queues));
    }

    /// Frames the message for one subscription; false when the target cannot take it.
    fn deliver_to(&mut self, publisher: usize, sub: &SubRef, msg: &Message<'_>) -> bool {
        let target = &sub.conn;
        if target.is_closed() {
            return false;
        }
        if let Some(deny) = &sub.deny {
            if deny.iter().any(|d| subject::matches(d, msg.subject)) {
                return false;
            }
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
        self.append_to(publisher, target, msg.data.len(), |out| {
            msg.frame_into(out, &sub.sid, headers_ok);
        });
        if last {
            self.auto_unsubscribed(sub);
        }
        true
    }

    /// Removes a subscription that reached its auto-unsubscribe limit.
    fn auto_unsubscribed(&mut self, sub: &SubRef) {
        if self
            .shared
            .sublist
            .remove(&sub.subject, sub.queue.as_deref(), sub)
        {
            self.interest_changed(sub, false);
        }
        sub.conn.subs.remove_if(sub);
    }

    /// The `NATS/1.0 503` status to the publisher's first subscription on the reply subject.
    fn send_no_responders(&mut self, token: usize, reply: &[u8]) {
        let conn = &mut self.conns[token];
        let found = conn
            .shared
            .subs
            .lock()
            .values()
            .find(|s| subject::matches(&s.subject, reply))
            .cloned();
        let Some(sub) = found else {
            return;
        };
        let msg = Message {
            subject: reply,
            reply: None,
            header_len: Some(NO_RESPONDERS.len()),
            data: NO_RESPONDERS,
            sizes: LazySizes::known(SizeFields {
                header: Some(NO_RESPONDERS_SIZE),
                total: NO_RESPONDERS_SIZE,
            }),
        };
        msg.frame_into(&mut conn.wbuf, &sub.sid, true);
        self.out.mark_dirty(&mut self.conns, token);
    }
}

/// The largest batch written straight to a parked reactor's connection. Small batches are
/// the request/reply case, where a wake costs more than the write; big ones are better
/// written by the owner, in parallel with the next read here.
const DIRECT_WRITE_MAX: usize = 4096;

/// Writes `bytes` to a connection owned by a parked reactor, straight to its socket, if
/// nothing of its own is unwritten; returns how much went out (0 when it must wait for
/// the owner: TLS, unwritten bytes, a write under way, a full socket, an error). Called
/// with the target's hand-over locked, so nothing else overtakes it.
fn write_direct(target: &ConnShared, bytes: &[u8]) -> usize {
    if !target.direct.load(Ordering::Relaxed) || target.unsent.load(Ordering::Relaxed) != 0 {
        return 0;
    }
    let Ok(_writing) = target.write_lock.try_lock() else {
        return 0;
    };
    // Checked under the write lock: a closing owner takes it before shutting the socket.
    if target.is_closed() {
        return 0;
    }
    let mut done = 0;
    while done < bytes.len() {
        let rest = &bytes[done..];
        // SAFETY: `fd` is the target's open socket (it cannot close while the write lock
        // is held and `closed` is not set); the buffer is valid for `rest.len()` bytes.
        let n = unsafe {
            libc::send(
                target.fd,
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
    done
}

/// The routes a message goes to, each once, with the queue groups it carries for them.
#[derive(Default)]
struct RouteTargets<'a>(Vec<(Arc<ConnShared>, Vec<&'a [u8]>)>);

impl<'a> RouteTargets<'a> {
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

/// Reply subjects a client may not use (reserved for the server's own routing); as in the
/// reference, a bare `$JS.ACK.` or `_GR_.` is not reserved, a bare `_R_.` is.
fn is_reserved_reply(reply: &[u8]) -> bool {
    reply.starts_with(b"_R_.") || has_prefix(reply, b"$JS.ACK.") || has_prefix(reply, b"_GR_.")
}

/// `s` starts with `prefix` and has more after it.
fn has_prefix(s: &[u8], prefix: &[u8]) -> bool {
    s.len() > prefix.len() && s.starts_with(prefix)
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

    #[test]
    fn frames_msg_hmsg_and_stripped_headers() {
        let plain = Message {
            subject: b"foo",
            reply: None,
            header_len: None,
            data: b"hello",
            sizes: LazySizes::of(b"foo 5", false),
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
        };
        assert_eq!(framed(&msg, true), b"MSG foo 7 0002\r\nab\r\n");
        assert_eq!(split_last_token(b" a  bc \t"), (&b" a  "[..], &b"bc"[..]));
        assert_eq!(split_last_token(b""), (&b""[..], &b""[..]));
    }

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
}
