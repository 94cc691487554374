//! Parser throughput (MB/s) on buffers of client operations.
//!
//! Each benchmark parses a whole buffer the way the reactor does
//! (`server/client.rs`, `Reactor::process`): call [`Parser::parse`] on the
//! unconsumed bytes, advance by [`Frame::consumed`], repeat. Nothing is
//! dispatched, so this is the cost of framing alone. Throughput is reported in
//! bytes of protocol input per second.
//!
//! * `pub_16b`: about 64 KiB of `PUB foo.bar 16\r\n<16 bytes>\r\n`, the
//!   small-message case where per-operation overhead dominates.
//! * `pub_1k`: about 64 KiB of `PUB foo.bar 1024\r\n<1 KiB>\r\n`, where the
//!   payload scan dominates.
//! * `pub_1k_reads_1460b`: the same bytes, arriving in 1460-byte reads (one
//!   TCP segment each), so most operations straddle a read and go through
//!   [`Parsed::Incomplete`] and the resume path first.
//! * `mixed`: a cycle of `SUB`, `PUB` with and without reply, `HPUB`, `PING`,
//!   `PONG` and `UNSUB`, as a request/reply client sends them.
//!
//! Run with `cargo bench --bench parser`; for a short run,
//! `cargo bench --bench parser -- --warm-up-time 1 --measurement-time 1`, or
//! pass a filter such as `cargo bench --bench parser -- pub_16b`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natsd::proto::{Frame, Op, Parsed, Parser};

/// Server defaults (`max_control_line`, `max_payload`).
const MAX_CONTROL_LINE: usize = 4096;
const MAX_PAYLOAD: usize = 1024 * 1024;
/// Approximate size of each benchmark buffer.
const BUF_TARGET: usize = 64 * 1024;

/// Repeats the operations built by `one(i)` until the buffer reaches [`BUF_TARGET`] bytes;
/// returns the buffer and the number of operations in it.
fn build(mut one: impl FnMut(usize, &mut Vec<u8>) -> usize) -> (Vec<u8>, usize) {
    let mut buf = Vec::with_capacity(BUF_TARGET + 4096);
    let mut ops = 0;
    let mut i = 0;
    while buf.len() < BUF_TARGET {
        ops += one(i, &mut buf);
        i += 1;
    }
    (buf, ops)
}

/// `PUB foo.bar <len>\r\n<len bytes>\r\n`.
fn push_pub(buf: &mut Vec<u8>, len: usize) -> usize {
    buf.extend_from_slice(format!("PUB foo.bar {len}\r\n").as_bytes());
    buf.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    buf.extend_from_slice(b"\r\n");
    1
}

/// One request/reply client cycle: subscribe an inbox, publish a request with reply, an
/// `HPUB`, a plain event, keep-alives, unsubscribe.
fn push_mixed(i: usize, buf: &mut Vec<u8>) -> usize {
    let headers = b"NATS/1.0\r\nNats-Msg-Id: 42\r\n\r\n";
    let payload = b"{\"id\":17,\"op\":\"get\"}";
    buf.extend_from_slice(format!("SUB _INBOX.Xq5Yd2aL.{i} {i}\r\n").as_bytes());
    buf.extend_from_slice(
        format!(
            "PUB svc.{}.req _INBOX.Xq5Yd2aL.{i} {}\r\n",
            i % 100,
            payload.len()
        )
        .as_bytes(),
    );
    buf.extend_from_slice(payload);
    buf.extend_from_slice(b"\r\n");
    let total = headers.len() + payload.len();
    buf.extend_from_slice(format!("HPUB events.orders {} {total}\r\n", headers.len()).as_bytes());
    buf.extend_from_slice(headers);
    buf.extend_from_slice(payload);
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(b"PING\r\n");
    buf.extend_from_slice(format!("PUB metrics.cpu {}\r\n", payload.len()).as_bytes());
    buf.extend_from_slice(payload);
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(b"PONG\r\n");
    buf.extend_from_slice(format!("UNSUB {i}\r\n").as_bytes());
    7
}

/// A parser as a connection that negotiated headers has it.
fn parser() -> Parser {
    let mut parser = Parser::new(MAX_CONTROL_LINE, MAX_PAYLOAD);
    parser.set_headers(true);
    parser
}

/// Folds a frame into a checksum so the parse results are used.
fn touch(frame: &Frame<'_>) -> usize {
    let body = match frame.op {
        Op::Pub { payload, .. } => payload.len(),
        Op::HPub { message, .. } => message.len(),
        Op::Sub { subject, .. } => subject.len(),
        Op::Unsub { sid, .. } => sid.len(),
        _ => 0,
    };
    body + frame.args.len()
}

/// Parses all of `buf` as one read; returns the operation count and a checksum.
fn parse_all(parser: &mut Parser, buf: &[u8]) -> (usize, usize) {
    let (mut pos, mut ops, mut sum) = (0, 0, 0);
    while pos < buf.len() {
        match parser.parse(&buf[pos..]) {
            Ok(Parsed::Frame(frame)) => {
                pos += frame.consumed;
                ops += 1;
                sum += touch(&frame);
            }
            other => panic!("unexpected {other:?} at byte {pos}"),
        }
    }
    (ops, sum)
}

/// Parses `buf` arriving in reads of `read` bytes: parse what has arrived, and on
/// `Incomplete` wait for the next read, calling again with the same unconsumed bytes.
fn parse_in_reads(parser: &mut Parser, buf: &[u8], read: usize) -> (usize, usize) {
    let (mut pos, mut ops, mut sum) = (0, 0, 0);
    let mut avail = read.min(buf.len());
    while pos < buf.len() {
        match parser.parse(&buf[pos..avail]) {
            Ok(Parsed::Frame(frame)) => {
                pos += frame.consumed;
                ops += 1;
                sum += touch(&frame);
            }
            Ok(Parsed::Incomplete { .. }) if avail < buf.len() => {
                avail = (avail + read).min(buf.len());
            }
            other => panic!("unexpected {other:?} at byte {pos}"),
        }
    }
    (ops, sum)
}

fn bench_parser(c: &mut Criterion) {
    let cases = [
        ("pub_16b", build(|_, buf| push_pub(buf, 16)), None),
        ("pub_1k", build(|_, buf| push_pub(buf, 1024)), None),
        (
            "pub_1k_reads_1460b",
            build(|_, buf| push_pub(buf, 1024)),
            Some(1460),
        ),
        ("mixed", build(push_mixed), None),
    ];

    let mut group = c.benchmark_group("parser");
    for (name, (buf, ops), read) in &cases {
        // Check once, outside the measurement, that the whole buffer parses as expected.
        let parsed = match read {
            None => parse_all(&mut parser(), buf),
            Some(read) => parse_in_reads(&mut parser(), buf, *read),
        };
        assert_eq!(parsed.0, *ops, "{name}: operation count");

        group.throughput(Throughput::Bytes(buf.len() as u64));
        let id = BenchmarkId::new(*name, format!("{}B_{ops}ops", buf.len()));
        let mut p = parser();
        match read {
            None => group.bench_function(id, |b| b.iter(|| parse_all(&mut p, black_box(buf)))),
            Some(read) => group.bench_function(id, |b| {
                b.iter(|| parse_in_reads(&mut p, black_box(buf), *read))
            }),
        };
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_parser
}
criterion_main!(benches);
