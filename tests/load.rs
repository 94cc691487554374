//! Load behaviour: many publishers and subscribers across reactors, a slow consumer that
//! is cut off without hurting others, and flow control that loses nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use natsd::options::LogOptions;
use natsd::rng::Rng;
use natsd::{Options, Server, ServerHandle, RANDOM_PORT};

fn start(tune: impl FnOnce(&mut Options)) -> ServerHandle {
    let mut opts = Options {
        host: "127.0.0.1".into(),
        port: RANDOM_PORT,
        ..Options::default()
    };
    tune(&mut opts);
    Server::start(opts).expect("server starts")
}

/// A connected client with verbose off, ready after a PING/PONG round trip.
fn client(addr: SocketAddr, setup: &str) -> BufReader<TcpStream> {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("INFO "));
    let hello = format!("CONNECT {{\"verbose\":false}}\r\n{setup}PING\r\n");
    reader.get_mut().write_all(hello.as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "PONG\r\n");
    reader
}

/// Reads one `MSG <subject> <sid> <size>` frame and returns its payload, answering the
/// server's PINGs on the way.
fn read_msg(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read MSG line");
    while line == "PING\r\n" {
        reader.get_mut().write_all(b"PONG\r\n").unwrap();
        line.clear();
        reader.read_line(&mut line).expect("read MSG line");
    }
    let size: usize = line
        .strip_suffix("\r\n")
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a MSG line: {line:?}"));
    let mut payload = vec![0; size + 2];
    reader.read_exact(&mut payload).unwrap();
    assert_eq!(&payload[size..], b"\r\n");
    payload.truncate(size);
    payload
}

/// Publishes `count` messages `"<publisher>:<seq>"` padded to `size` bytes, in batches, and
/// waits for the PONG that follows them. (Closing without reading the server's PINGs would
/// make the kernel reset the connection and drop what the server has not read yet.)
fn publish_all(mut sock: TcpStream, subject: &str, publisher: usize, count: usize, size: usize) {
    let mut batch = Vec::with_capacity(64 * 1024);
    for seq in 0..count {
        let mut payload = format!("{publisher}:{seq}:").into_bytes();
        payload.resize(size.max(payload.len()), b'x');
        write!(batch, "PUB {subject} {}\r\n", payload.len()).unwrap();
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
        if batch.len() > 60 * 1024 {
            sock.write_all(&batch).unwrap();
            batch.clear();
        }
    }
    batch.extend_from_slice(b"PING\r\n");
    sock.write_all(&batch).unwrap();
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    while line != "PONG\r\n" {
        line.clear();
        reader
            .read_line(&mut line)
            .expect("PONG after the last PUB");
    }
}

/// Parses `"<publisher>:<seq>:..."`.
fn origin(payload: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(payload).unwrap();
    let mut parts = text.split(':');
    let publisher = parts.next().unwrap().parse().unwrap();
    let seq = parts.next().unwrap().parse().unwrap();
    (publisher, seq)
}

/// Receives `publishers * per_publisher` messages and checks each publisher's sequence
/// arrives complete and in order.
fn receive_in_order(mut reader: BufReader<TcpStream>, publishers: usize, per_publisher: usize) {
    let mut next = vec![0usize; publishers];
    for _ in 0..publishers * per_publisher {
        let (publisher, seq) = origin(&read_msg(&mut reader));
        assert_eq!(seq, next[publisher], "publisher {publisher} out of order");
        next[publisher] += 1;
    }
    assert!(next.iter().all(|&n| n == per_publisher));
}

#[test]
fn four_publishers_four_subscribers_across_reactors() {
    const PUBLISHERS: usize = 4;
    const MESSAGES: usize = 100_000;
    let server = start(|o| o.reactors = 3);
    let addr = server.client_addr();
    let subscribers: Vec<_> = (0..4)
        .map(|_| client(addr, "SUB load 1\r\n"))
        .map(|reader| thread::spawn(move || receive_in_order(reader, PUBLISHERS, MESSAGES)))
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let sock = client(addr, "").into_inner();
            thread::spawn(move || publish_all(sock, "load", p, MESSAGES, 16))
        })
        .collect();
    for handle in publishers.into_iter().chain(subscribers) {
        handle.join().unwrap();
    }
    // Reactors add their counts at the end of a turn, just after writing: wait for them.
    let expected = (
        (PUBLISHERS * MESSAGES) as u64,
        (4 * PUBLISHERS * MESSAGES) as u64,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stats = server.stats();
    while (stats.in_msgs, stats.out_msgs) != expected && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        stats = server.stats();
    }
    assert_eq!((stats.in_msgs, stats.out_msgs), expected);
    assert_eq!(stats.slow_consumers, 0);
}

/// Sends this test binary's log lines to a file (once) and returns its path.
fn log_file() -> std::path::PathBuf {
    static INIT: Once = Once::new();
    let path = std::env::temp_dir().join(format!("natsd-load-{}.log", std::process::id()));
    INIT.call_once(|| {
        let opts = LogOptions {
            file: Some(path.clone()),
            logtime: true,
            ..LogOptions::default()
        };
        natsd::logging::init(&opts).unwrap();
    });
    path
}

#[test]
fn slow_consumer_is_cut_off_and_others_keep_everything() {
    const MESSAGES: usize = 20_000;
    let log = log_file();
    let server = start(|o| {
        o.max_payload = 64 * 1024;
        o.max_pending = 1024 * 1024;
        o.write_deadline = Duration::from_secs(2);
    });
    let addr = server.client_addr();
    let mut stuck = client(addr, "SUB feed 1\r\n");
    let healthy = client(addr, "SUB feed 1\r\n");
    let reader = thread::spawn(move || receive_in_order(healthy, 1, MESSAGES));
    let publisher = client(addr, "").into_inner();
    publish_all(publisher, "feed", 0, MESSAGES, 1024);
    reader.join().unwrap();

    // The stuck subscriber is closed without an -ERR: draining its socket ends in EOF
    // after nothing but MSG frames.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tail = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        assert!(Instant::now() < deadline, "slow consumer was not closed");
        match stuck.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend_from_slice(&chunk[..n]);
                let keep = tail.len().saturating_sub(1024);
                tail.drain(..keep);
            }
            Err(e) => panic!("read error: {e}"),
        }
    }
    assert!(!String::from_utf8_lossy(&tail).contains("-ERR"));
    assert_eq!(server.stats().slow_consumers, 1);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("Slow Consumer Detected"),
        "log has no slow consumer line:\n{logged}"
    );
}

#[test]
fn fast_producer_is_paused_not_dropped() {
    const MESSAGES: usize = 50_000;
    let server = start(|o| {
        o.max_payload = 16 * 1024;
        o.max_pending = 256 * 1024;
    });
    let addr = server.client_addr();
    let subscribers: Vec<_> = (0..4)
        .map(|_| client(addr, "SUB flow 1\r\n"))
        .map(|reader| thread::spawn(move || receive_in_order(reader, 1, MESSAGES)))
        .collect();
    let publisher = client(addr, "").into_inner();
    publish_all(publisher, "flow", 0, MESSAGES, 512);
    for handle in subscribers {
        handle.join().unwrap();
    }
    assert_eq!(server.stats().slow_consumers, 0);
}

/// Random bytes biased towards protocol-looking input, so the parser gets deep.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"PUB ",
        b"SUB ",
        b"UNSUB ",
        b"HPUB ",
        b"CONNECT ",
        b"PING",
        b"PONG",
        b"MSG ",
        b"foo",
        b".",
        b"*",
        b">",
        b" ",
        b"\t",
        b"\r\n",
        b"\n",
        b"\r",
        b"5",
        b"-1",
        b"99999999999",
        b"{",
        b"}",
        b"\"headers\":true",
        b"\x00",
        b"\xff",
        b"NATS/1.0\r\n",
    ];
    let len = rng.below(64);
    let mut out = Vec::new();
    for _ in 0..len {
        let r = rng.next_u64();
        if r.is_multiple_of(4) {
            out.push((r >> 8) as u8);
        } else {
            out.extend_from_slice(PIECES[(r >> 8) as usize % PIECES.len()]);
        }
    }
    out
}

#[test]
fn garbage_input_never_hurts_other_clients() {
    let server = start(|o| o.reactors = 2);
    let addr = server.client_addr();
    let mut watcher = client(addr, "SUB watch 1\r\n");
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for round in 0..300u32 {
        let mut sock = TcpStream::connect(addr).unwrap();
        // The server may close the connection at the first bad byte: ignore write errors.
        let _ = sock.write_all(&garbage(&mut rng));
        let _ = sock.write_all(&garbage(&mut rng));
        // Wait until the server has processed it all and closed its side.
        let _ = sock.shutdown(std::net::Shutdown::Write);
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut sink = Vec::new();
        sock.read_to_end(&mut sink)
            .expect("server closes a connection whose client is done");
        if round.is_multiple_of(50) {
            let mut publisher = client(addr, "").into_inner();
            publisher.write_all(b"PUB watch 2\r\nok\r\n").unwrap();
            assert_eq!(read_msg(&mut watcher), b"ok");
        }
    }
    let mut probe = client(addr, "SUB a.* 9\r\n");
    probe.get_mut().write_all(b"PUB a.b 3\r\nyes\r\n").unwrap();
    assert_eq!(read_msg(&mut probe), b"yes");
}

/// Messages of every size class arrive whole and in order however the reads split them:
/// written in uneven pieces with pauses, so the server keeps partial operations between
/// reads, small ones in front of its read buffer and big ones (from 32 KB up to the 1 MB
/// maximum payload) in the connection's own.
#[test]
fn messages_of_every_size_survive_any_read_split() {
    const SIZES: [usize; 10] = [
        0,
        1,
        100,
        4095,
        4096,
        20_000,
        40_000,
        70_000,
        300_000,
        1 << 20,
    ];
    let server = start(|o| o.reactors = 2);
    let addr = server.client_addr();
    let mut sub = client(addr, "SUB sizes 1\r\n");
    let mut stream = Vec::new();
    for (i, &size) in SIZES.iter().cycle().take(3 * SIZES.len()).enumerate() {
        let payload: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
        write!(stream, "PUB sizes {size}\r\n").unwrap();
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(b"\r\n");
    }
    let publisher = thread::spawn(move || {
        let mut sock = client(addr, "").into_inner();
        sock.set_nodelay(true).unwrap();
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let piece = (1 + rng.below(9000)).min(rest.len());
            sock.write_all(&rest[..piece]).unwrap();
            rest = &rest[piece..];
            if rng.below(8) == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        sock
    });
    for (i, &size) in SIZES.iter().cycle().take(3 * SIZES.len()).enumerate() {
        let payload = read_msg(&mut sub);
        assert_eq!(payload.len(), size, "message {i}");
        assert!(
            payload
                .iter()
                .enumerate()
                .all(|(b, &v)| v == (b * 7 + i) as u8),
            "message {i} ({size} bytes) corrupted"
        );
    }
    drop(publisher.join().unwrap());
}

/// The server's resident memory high-water mark (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// A subscriber to `subject` that never reads once subscribed, with a small receive
/// buffer so that the server, not the kernel, ends up holding what it is sent.
fn hostile_consumer(addr: SocketAddr, subject: &str) -> TcpStream {
    use std::os::fd::AsRawFd;
    let reader = client(addr, &format!("SUB {subject} 1\r\n"));
    let sock = reader.into_inner();
    let size: libc::c_int = 4096;
    // SAFETY: setsockopt reads an int we own for the duration of the call.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    sock
}

/// The `max_pending_total` of the hostile-consumer tests.
const PENDING_LIMIT: usize = 4 << 20;
/// Consumers that never read, in the hostile-consumer tests.
const HOSTILE: usize = 300;

/// A natsd with a 4 MB `max_pending_total`, a 2 s write deadline, two reactors and a
/// monitoring port.
fn start_with_pending_limit() -> common::ServerProc {
    common::ServerProc::start_with_config(
        common::Impl::Natsd,
        "write_deadline: \"2s\"\n",
        &[
            "--max_pending_total",
            &PENDING_LIMIT.to_string(),
            "--reactors",
            "2",
            "-m",
            "-1",
        ],
    )
}

/// Publishes 64 MB in 16 KB messages on `big` (19 GB if every hostile consumer were
/// sent its copy) while `healthy` reads them all in order, then checks that the server
/// stayed within the limit plus a stated overhead (its size with its connections when
/// they were `connected`, two 16 KB shares per hostile connection and 8 MB in flight):
/// past the limit the publisher waits, and the write deadline closes the hostile ones.
fn publish_past_hostile_consumers(
    server: &common::ServerProc,
    healthy: BufReader<TcpStream>,
    publisher: TcpStream,
    connected: usize,
) {
    const MESSAGES: usize = 4_000;
    let reader = thread::spawn(move || receive_in_order(healthy, 1, MESSAGES));
    publish_all(publisher, "big", 0, MESSAGES, 16 * 1024);
    reader.join().unwrap();
    let overhead = connected + HOSTILE * 32 * 1024 + (8 << 20);
    let peak = peak_rss(server.pid());
    assert!(
        peak <= PENDING_LIMIT + overhead,
        "peak RSS {peak} past the limit {PENDING_LIMIT} + overhead {overhead} (connected: \
         {connected}); log:\n{}",
        server.log()
    );
    assert!(
        server
            .log()
            .contains("Slow Consumer Detected: WriteDeadline"),
        "no consumer was cut off; log:\n{}",
        server.log()
    );
}

/// natsd's `max_pending_total`: hundreds of consumers that never read cannot push the
/// server's memory past the limit, and a consumer that reads keeps getting every message.
#[test]
fn hostile_consumers_stay_within_max_pending_total() {
    let server = start_with_pending_limit();
    let addr = server.client_addr();
    let hostile: Vec<TcpStream> = (0..HOSTILE)
        .map(|_| hostile_consumer(addr, "big"))
        .collect();
    let healthy = client(addr, "SUB big 1\r\n");
    let connected = peak_rss(server.pid());
    let publisher = client(addr, "").into_inner();
    publish_past_hostile_consumers(&server, healthy, publisher, connected);
    drop(hostile);
}

/// The same with every hostile consumer on one reactor and the publisher alone on the
/// other (connections are dealt to the reactors in turn): a connection's share of the
/// limit is taken over the whole server's connections, not the publisher's reactor's,
/// and bytes handed from one reactor to the other count in the total.
#[test]
fn hostile_consumers_on_another_reactor_stay_within_max_pending_total() {
    let server = start_with_pending_limit();
    let addr = server.client_addr();
    let (hostile, idle): (Vec<TcpStream>, Vec<BufReader<TcpStream>>) = (0..HOSTILE)
        .map(|_| (hostile_consumer(addr, "big"), client(addr, "")))
        .unzip();
    let healthy = client(addr, "SUB big 1\r\n");
    let publisher = client(addr, "").into_inner();
    let connected = peak_rss(server.pid());
    drop(idle);
    let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::http::get(monitor, "/varz").json()["connections"] != HOSTILE + 2 {
        assert!(
            Instant::now() < deadline,
            "the idle clients are still connected"
        );
        thread::sleep(Duration::from_millis(10));
    }
    publish_past_hostile_consumers(&server, healthy, publisher, connected);
    drop(hostile);
}
