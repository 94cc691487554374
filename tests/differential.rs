//! Differential test: random client sessions (tests/common/sessions.rs) run against natsd and
//! the reference `nats-server`, comparing the bytes each client receives; a difference is
//! shrunk to a minimal session and printed for both servers.
//!
//! * Each session runs on a fresh connection. One server of each implementation runs per
//!   limits class ([`sessions::limits_classes`]) and serves every session of its class.
//! * A session's output is complete when the server closes the connection: the client sends
//!   its pieces, shuts down its write side and reads to the end of the stream (both servers
//!   close a client whose stream ended, after writing what they had queued).
//! * The client's pieces are cut further where the reference's read buffer would cut them
//!   ([`reference_reads`]), so both servers see the same reads.
//! * INFO lines are compared by their keys in order and the values of the stable keys
//!   ([`common::UNSTABLE_INFO_KEYS`] vary by server and run).
//! * Differences kept on purpose (README, Testing) are printed without failing the test.
//!
//! `NATSD_DIFF_SEED` (default 1) and `NATSD_DIFF_SESSIONS` (default 1000) choose the sessions;
//! `NATSD_DIFF_MAX_FAILURES` (default 1) how many differences to collect before failing.

mod common;

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::sessions::{generate, limits_classes, Session};
use common::{esc, json_keys_in_order, reference_available, Impl, ServerProc};

/// The pause before each write after the first, so the server reads the pieces apart.
const PIECE_PAUSE: Duration = Duration::from_micros(500);
/// How long a client waits for the server to close its connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times a shrunk difference must reproduce before it is reported.
const CONFIRMATIONS: usize = 3;

/// A value from the environment, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")))
        .unwrap_or(default)
}

/// natsd and the reference, started for one limits class.
struct Pair {
    natsd: ServerProc,
    reference: ServerProc,
}

impl Pair {
    /// Starts both servers with the configuration text `config`.
    fn start(config: &str) -> Pair {
        Pair {
            natsd: ServerProc::start_with_config(Impl::Natsd, config, &[]),
            reference: ServerProc::start_with_config(Impl::Reference, config, &[]),
        }
    }

    /// What the client of `session` receives from each server (natsd, reference), the two
    /// run at the same time.
    fn outputs(&self, session: &Session) -> (Vec<u8>, Vec<u8>) {
        let pieces = reference_reads(&session.pieces());
        std::thread::scope(|s| {
            let natsd = s.spawn(|| received(self.natsd.client_addr(), &pieces));
            let reference = received(self.reference.client_addr(), &pieces);
            (natsd.join().expect("natsd client thread"), reference)
        })
    }

    /// The normalized outputs when they differ.
    fn difference(&self, session: &Session) -> Option<(Vec<u8>, Vec<u8>)> {
        let (n, r) = self.outputs(session);
        let (n, r) = (normalize(&n), normalize(&r));
        (n != r).then_some((n, r))
    }
}

/// `pieces` cut further where the reference's read buffer would cut them, so that both
/// servers see the same reads. The reference reads a client into a buffer of 512 bytes
/// that doubles (up to 64 KB) after a read that fills it and halves (down to 64 bytes)
/// after each short read past the third in a row; some of its answers depend on where a
/// read ends (see the README's Testing section).
fn reference_reads(pieces: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let (mut size, mut shorts) = (512, 0);
    let mut reads = Vec::new();
    for piece in pieces {
        let mut rest = &piece[..];
        while !rest.is_empty() {
            let n = rest.len().min(size);
            reads.push(rest[..n].to_vec());
            rest = &rest[n..];
            if n >= size {
                shorts = 0;
            } else if n < size / 2 {
                shorts += 1;
            }
            if n >= size && size < 65536 {
                size *= 2;
            } else if n < size && size > 64 && shorts > 2 {
                size /= 2;
            }
        }
    }
    reads
}

/// Connects to `addr`, sends `pieces` (stopping if the server closes first), shuts down the
/// write side and returns everything read until the server closes.
fn received(addr: SocketAddr, pieces: &[Vec<u8>]) -> Vec<u8> {
    let mut sock = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    sock.set_nodelay(true).expect("nodelay");
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(PIECE_PAUSE);
        }
        if sock.write_all(piece).is_err() {
            break;
        }
    }
    let _ = sock.shutdown(Shutdown::Write);
    read_to_close(&mut sock)
}

/// Reads until the end of the stream or a reset; a server still silent after
/// [`CLOSE_TIMEOUT`] is noted in the output.
fn read_to_close(sock: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            out.extend_from_slice(b"<not closed>");
            return out;
        }
        sock.set_read_timeout(Some(left)).expect("read timeout");
        match sock.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return out,
        }
    }
}

/// `output` with each INFO line's JSON replaced by its keys in order, the values of stable
/// keys kept.
fn normalize(output: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(output.len());
    let mut rest = output;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(rest.len(), |p| p + 2);
        let (line, tail) = rest.split_at(end);
        match info_json(line) {
            Some(json) => out.extend_from_slice(normalized_info(json).as_bytes()),
            None => out.extend_from_slice(line),
        }
        rest = tail;
    }
    out
}

/// The JSON of an `INFO {...}\r\n` line.
fn info_json(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("INFO ")?.strip_suffix("\r\n")
}

fn normalized_info(json: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else {
        return format!("INFO {json}\r\n");
    };
    let fields: Vec<String> = json_keys_in_order(json)
        .into_iter()
        .map(|k| {
            if common::UNSTABLE_INFO_KEYS.contains(&k.as_str()) {
                format!("{k}:*")
            } else {
                format!("{k}:{}", value[&k])
            }
        })
        .collect();
    format!("INFO {{{}}}\r\n", fields.join(","))
}

/// The kept difference of two outputs with the same frames in another order.
const REORDERED: &str = "the same messages in another order";

/// Whether `a` and `b` hold the same frames (lines, and messages with their payloads),
/// only in another order: the reference delivers a message to one connection's
/// subscriptions on the same subject in the order of a Go map, at random.
fn same_frames(a: &[u8], b: &[u8]) -> bool {
    let (mut a, mut b) = (frames(a), frames(b));
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// `output` cut into frames: each line, a `MSG` or `HMSG` line with its payload and `\r\n`.
fn frames(mut output: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    while !output.is_empty() {
        let line = output
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(output.len(), |p| p + 2);
        let message = output.starts_with(b"MSG ") || output.starts_with(b"HMSG ");
        let payload = if message {
            message_size(&output[..line]).map_or(0, |n| n + 2)
        } else {
            0
        };
        let end = (line + payload).min(output.len());
        frames.push(&output[..end]);
        output = &output[end..];
    }
    frames
}

/// The size at the end of a `MSG`/`HMSG` line.
fn message_size(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    text.split_ascii_whitespace().last()?.parse().ok()
}

/// Shrinks `session` while `pair` still gives different outputs for it.
fn shrink(pair: &Pair, mut session: Session) -> Session {
    'outer: loop {
        for candidate in session.shrink_candidates() {
            if pair.difference(&candidate).is_some() {
                session = candidate;
                continue 'outer;
            }
        }
        return session;
    }
}

/// Where a session comes from: enough to generate it again.
struct Origin<'a> {
    seed: u64,
    index: u64,
    class: &'a str,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Origin { seed, index, class } = self;
        write!(f, "NATSD_DIFF_SEED={seed} session {index} (limits {class})")
    }
}

/// What a difference turned out to be once shrunk.
enum Outcome {
    /// A difference to fix: the report.
    Differs(String),
    /// A difference kept on purpose (README, Testing): which one, and the report.
    Kept(&'static str, String),
    /// It did not come back (timing: a read split differently): the first report.
    Flaky(String),
}

/// The report of one difference: where it came from, the shrunk session as the reads
/// sent, and each server's output, all escaped.
fn report(origin: &Origin<'_>, reads: &[Vec<u8>], outputs: &(Vec<u8>, Vec<u8>)) -> String {
    let reads: Vec<String> = reads.iter().map(|p| esc(p)).collect();
    format!(
        "{origin}\n  sent (one write each): {}\n      natsd: {}\n  reference: {}\n",
        reads.join(" "),
        esc(&outputs.0),
        esc(&outputs.1)
    )
}

/// The kept difference that `reads` show, if any: the reference builds a control line
/// that spans reads from the bytes before the first read's end (the last one dropped if a
/// `\r` came before it) and the later bytes without their `\r`s, where one read keeps them
/// all; the two agree unless a `\r` stands before the line's last byte.
fn known_difference(reads: &[Vec<u8>]) -> Option<&'static str> {
    let bytes = reads.concat();
    let mut at = 0;
    for read in &reads[..reads.len().saturating_sub(1)] {
        at += read.len();
        let start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| at + p);
        let line = &bytes[start..end];
        let inner_cr = line[..line.len().saturating_sub(1)].contains(&b'\r');
        if at > start && inner_cr {
            return Some("a control line split across reads with a \\r before its end");
        }
    }
    None
}

/// Shrinks a difference found in a session (`first`: the outputs it gave) and confirms
/// the result reproduces.
fn investigate(
    pair: &Pair,
    origin: &Origin<'_>,
    session: Session,
    first: (Vec<u8>, Vec<u8>),
) -> Outcome {
    let reordered = same_frames(&first.0, &first.1);
    let first = report(origin, &reference_reads(&session.pieces()), &first);
    if reordered {
        return Outcome::Kept(REORDERED, first);
    }
    let small = shrink(pair, session);
    let reads = reference_reads(&small.pieces());
    let mut outputs = None;
    for _ in 0..CONFIRMATIONS {
        match pair.difference(&small) {
            Some(o) => outputs = Some(o),
            None => return Outcome::Flaky(first),
        }
    }
    let report = report(origin, &reads, &outputs.expect("confirmed"));
    match known_difference(&reads) {
        Some(kept) => Outcome::Kept(kept, report),
        None => Outcome::Differs(report),
    }
}

#[test]
fn sessions_match_the_reference() {
    if !reference_available() {
        return;
    }
    let seed = env_or("NATSD_DIFF_SEED", 1);
    let count = env_or("NATSD_DIFF_SESSIONS", 1000);
    let max_failures = env_or("NATSD_DIFF_MAX_FAILURES", 1) as usize;
    let classes = limits_classes();
    let pairs: Vec<Pair> = classes
        .iter()
        .map(|(_, l)| Pair::start(&l.config_text()))
        .collect();
    let started = Instant::now();
    let (mut failures, mut kept, mut flaky) = (Vec::new(), 0, 0);
    for index in 0..count {
        let session = generate(seed, index);
        let pair = &pairs[session.class];
        let Some(first) = pair.difference(&session) else {
            continue;
        };
        let origin = Origin {
            seed,
            index,
            class: classes[session.class].0,
        };
        match investigate(pair, &origin, session, first) {
            Outcome::Differs(r) => {
                eprintln!("{r}");
                failures.push(r);
            }
            Outcome::Kept(what, report) => {
                eprintln!("kept difference ({what}):\n{report}");
                kept += 1;
            }
            Outcome::Flaky(first) => {
                eprintln!("difference did not reproduce, first seen as:\n{first}");
                flaky += 1;
            }
        }
        if failures.len() >= max_failures {
            break;
        }
    }
    eprintln!(
        "{count} sessions of seed {seed} in {:.1?}: {} differences, {kept} kept, {flaky} not reproduced",
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "natsd and the reference differ:\n{}",
        failures.join("\n")
    );
}
