//! `natsd-bench soak`: long mixed load on one server, or on natsd and the reference side
//! by side, watching the server process for leaks.
//!
//! For the whole run, at once:
//!
//! * well-behaved clients: paced publishers of stamped messages, subscribers each checked
//!   by a [`Checker`] and a queue group checked with [`finish_group`]: nothing else may
//!   make them lose, duplicate or reorder a message;
//! * connection churn: clean, abrupt (mid-frame, with or without a reset) and half-open
//!   connections (nothing or a partial line sent, closed seconds later); with TLS,
//!   aborted handshakes (a partial ClientHello) and TLS clients that complete and close;
//! * subscription churn on long-lived connections (literal, wildcard and queue
//!   subscriptions to random `churn.*.*` subjects, unsubscribed at random);
//! * a publisher of random sizes (0 to 64 KB) to random `churn.*.*` subjects;
//! * slow consumers of a busy subject that never read, which the server must cut;
//! * garbage: random bytes and protocol errors on fresh connections.
//!
//! Every second the server's open fds, threads and RSS are read from /proc. Once the load
//! has stopped and every soak connection is closed, fds and threads must come back to
//! their idle values within [`SETTLE_DEADLINE`]; RSS is read again [`RSS_AFTER`] later.
//! The reference's threads are shown but not checked: the Go runtime keeps the OS
//! threads it has started (parked) for good, so nats-server's count stays at its peak.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use natsd::rng::Rng;

use crate::check::{finish_group, stamp, Checker, Tally};
use crate::client::{is_timeout, Conn, Event};
use crate::proc;
use crate::report::table;
use crate::scenarios::drain;
use crate::server::Server;

/// How long fds and threads may take to come back to idle after the load.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
/// When RSS is read again after the load has stopped.
pub const RSS_AFTER: Duration = Duration::from_secs(10);
/// The first share of the run RSS may grow in (warm-up), in tenths.
const WARM_UP_TENTHS: usize = 1;

/// The well-behaved traffic: publishers, each sending this many messages a second of
/// [`GOOD_SIZE`] bytes to [`GOOD_SUBJECT`], to plain subscribers and a queue group.
const GOOD_PUBS: usize = 2;
const GOOD_RATE: f64 = 500.0;
const GOOD_SIZE: usize = 128;
const GOOD_SUBS: usize = 2;
const GOOD_MEMBERS: usize = 3;
const GOOD_SUBJECT: &str = "good.stream";
const GOOD_QUEUE: &str = "good.q";
/// The busy subject slow consumers subscribe to: messages of this size at this rate.
const BUSY_SUBJECT: &str = "busy";
const BUSY_SIZE: usize = 16 * 1024;
const BUSY_RATE: f64 = 200.0;
/// Slow consumers at a time; how long one reads nothing (the server must cut it by
/// then), and how long it may take to read what was sent before the cut.
const SLOW_CONSUMERS: usize = 2;
const SLOW_HOLD: Duration = Duration::from_secs(5);
const SLOW_DRAIN: Duration = Duration::from_secs(10);
/// Random-size publishing to `churn.*.*`: messages a second, largest payload.
const RANDOM_RATE: f64 = 25.0;
const RANDOM_MAX: usize = 64 * 1024;
/// Long-lived connections churning subscriptions, and the most each holds.
const SUB_CHURNERS: usize = 2;
const MAX_CHURN_SUBS: usize = 24;
/// Connection churn threads, and the most half-open connections each holds.
const CONN_CHURNERS: usize = 2;
const MAX_HALF_OPEN: usize = 32;
/// How long raw connections wait on the server.
const RAW_TIMEOUT: Duration = Duration::from_secs(2);
/// How many error messages are kept in full.
const KEPT_ERRORS: usize = 10;

/// The configuration both servers get: slow consumers are cut at 1 MB pending.
pub const CONFIG: &str = "# natsd-bench soak\nmax_pending: 1048576\nwrite_deadline: \"2s\"\n";

/// What to soak and for how long.
pub struct Options {
    /// The server(s).
    pub targets: Targets,
    /// How long the load runs.
    pub duration: Duration,
    /// The test certificates' directory (`ca.pem`, `server-cert.pem`, `server-key.pem`):
    /// TLS clients join the load.
    pub tls: Option<PathBuf>,
}

/// The servers a soak runs against.
pub enum Targets {
    /// natsd and the reference, started here with [`config`], soaked at the same time.
    Pair {
        /// The natsd binary.
        natsd: PathBuf,
        /// The reference binary (nats-server).
        reference: PathBuf,
    },
    /// A server already running.
    Running {
        /// Its client URL.
        url: String,
        /// Its process id, for /proc.
        pid: u32,
    },
}

/// The configuration file of a soaked server: [`CONFIG`], and with `tls` (the
/// certificates' directory) TLS offered on the client port beside plain text.
pub fn config(tls: Option<&std::path::Path>) -> String {
    let mut text = CONFIG.to_string();
    if let Some(dir) = tls {
        let path = |f: &str| dir.join(f).display().to_string();
        text.push_str(&format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\nallow_non_tls: true\n",
            path("server-cert.pem"),
            path("server-key.pem")
        ));
    }
    text
}

/// One soaked server.
struct Endpoint {
    name: String,
    /// `nats://host:port`.
    plain: String,
    /// `tls://host:port`, when TLS clients join.
    tls: Option<String>,
    pid: u32,
    /// Whether its threads must come back to idle: not for the reference, a Go program,
    /// whose runtime parks the OS threads it has started instead of ending them.
    threads_checked: bool,
}

impl Endpoint {
    fn new(name: &str, url: &str, pid: u32, tls: bool) -> Endpoint {
        let addr = url.split_once("://").map_or(url, |(_, addr)| addr);
        Endpoint {
            name: name.to_string(),
            plain: format!("nats://{addr}"),
            tls: tls.then(|| format!("tls://{addr}")),
            pid,
            threads_checked: name != "reference",
        }
    }

    /// The address to open raw TCP connections to.
    fn addr(&self) -> &str {
        self.plain.trim_start_matches("nats://")
    }

    /// The TLS URL one time in `n` (when TLS is on), the plain one otherwise.
    fn some_url(&self, rng: &mut Rng, n: usize) -> &str {
        match &self.tls {
            Some(tls) if rng.below(n) == 0 => tls,
            _ => &self.plain,
        }
    }
}

/// Runs the soak and prints the table; `Ok(false)` when a check failed.
pub fn run(opts: &Options) -> Result<bool, String> {
    let mut servers = Vec::new();
    let endpoints = match &opts.targets {
        Targets::Pair { natsd, reference } => {
            let config = config(opts.tls.as_deref());
            for (name, binary) in [("natsd", natsd), ("reference", reference)] {
                let server = Server::start(binary, &[], Some(&config))?;
                servers.push((name, server));
            }
            servers
                .iter()
                .map(|(name, s)| Endpoint::new(name, s.url(), s.pid(), opts.tls.is_some()))
                .collect()
        }
        Targets::Running { url, pid } => {
            vec![Endpoint::new("server", url, *pid, opts.tls.is_some())]
        }
    };
    // Let the servers finish starting before idle is read.
    sleep(Duration::from_secs(1));
    eprintln!(
        "soaking {} for {} s ...",
        endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(" and "),
        opts.duration.as_secs()
    );
    let results: Vec<Result<Soaked, String>> = thread::scope(|s| {
        let handles: Vec<_> = endpoints
            .iter()
            .map(|ep| s.spawn(move || soak_one(ep, opts.duration)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("soak thread panicked"))
            .collect()
    });
    let mut soaked = Vec::new();
    for (ep, result) in endpoints.iter().zip(results) {
        soaked.push((
            ep.name.clone(),
            result.map_err(|e| format!("{}: {e}", ep.name))?,
        ));
    }
    for (name, server) in &mut servers {
        if let Some(exit) = server.exit_status() {
            return Err(format!("{name}: {exit}"));
        }
    }
    print!("{}", soak_table(&soaked, opts.duration));
    let mut ok = true;
    for (name, s) in &soaked {
        for problem in s.problems() {
            eprintln!("FAIL {name}: {problem}");
            ok = false;
        }
        for e in s.counters.kept_errors() {
            eprintln!("{name}: error seen: {e}");
        }
    }
    Ok(ok)
}

/// What /proc said about the server at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the load started.
    pub at: f64,
    /// Open file descriptors.
    pub fds: u64,
    /// Threads (`Threads:` in /proc/<pid>/status).
    pub threads: u64,
    /// Resident set size, in bytes.
    pub rss: u64,
}

/// Reads fds, threads and RSS of `pid`, stamped `at` seconds.
fn sample(pid: u32, at: f64) -> Result<Sample, String> {
    let fail = |e: io::Error| format!("reading /proc/{pid}: {e}");
    Ok(Sample {
        at,
        fds: proc::open_fds(pid).map_err(fail)?,
        threads: proc::status_value(pid, "Threads").map_err(fail)?,
        rss: proc::status_bytes(pid, "VmRSS").map_err(fail)?,
    })
}

/// Everything measured on one server.
struct Soaked {
    idle: Sample,
    /// One a second during the load.
    samples: Vec<Sample>,
    /// How long after the load fds and threads were back at idle; `None`: not within
    /// [`SETTLE_DEADLINE`], `last` being what they were then.
    settled: Option<Duration>,
    last: Sample,
    /// RSS [`RSS_AFTER`] the load.
    rss_after: u64,
    counters: Counters,
    /// The well-behaved clients' violations, and their failures in words.
    tally: Tally,
    failures: Vec<String>,
    /// Whether `settled` took threads into account.
    threads_checked: bool,
}

impl Soaked {
    /// What makes the run fail: delivery violations, failed well-behaved clients, fds or
    /// threads not back at idle.
    fn problems(&self) -> Vec<String> {
        let mut out = self.failures.clone();
        if self.settled.is_none() {
            out.push(format!(
                "fds{} not back at idle {SETTLE_DEADLINE:?} after the load: fds {} \
                 (idle {}), threads {} (idle {})",
                if self.threads_checked { "/threads" } else { "" },
                self.last.fds,
                self.idle.fds,
                self.last.threads,
                self.idle.threads
            ));
        }
        out
    }
}

/// Counts of one server's load, added to by every load thread.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    checked: AtomicU64,
    slow_tried: AtomicU64,
    slow_cut: AtomicU64,
    churn_received: AtomicU64,
    errors: AtomicU64,
    kept: Mutex<Vec<String>>,
}

impl Counters {
    fn connected(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// Counts an unexpected error, keeping the first few in words.
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut kept = self.kept.lock().expect("error list");
        if kept.len() < KEPT_ERRORS {
            kept.push(what);
        }
    }

    fn kept_errors(&self) -> Vec<String> {
        self.kept.lock().expect("error list").clone()
    }
}

/// Soaks one server: idle figures, the load with sampling, then the wait for idle.
fn soak_one(ep: &Endpoint, duration: Duration) -> Result<Soaked, String> {
    let idle = sample(ep.pid, 0.0)?;
    let counters = Counters::default();
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let deadline = start + duration;
    let (samples, good) = thread::scope(|s| {
        let sampler = s.spawn(|| sample_until(ep.pid, start, &stop));
        let good = s.spawn(|| good_traffic(ep, deadline, &counters));
        run_churn(ep, deadline, &counters);
        let good = good.join().expect("well-behaved clients panicked");
        stop.store(true, Relaxed);
        (sampler.join().expect("sampler panicked"), good)
    });
    let (tally, failures) = good?;
    let end = Instant::now();
    let (settled, last) = wait_for_idle(ep.pid, &idle, ep.threads_checked, end)?;
    sleep((end + RSS_AFTER).saturating_duration_since(Instant::now()));
    let rss_after = sample(ep.pid, 0.0)?.rss;
    Ok(Soaked {
        idle,
        samples: samples?,
        settled,
        last,
        rss_after,
        counters,
        tally,
        failures,
        threads_checked: ep.threads_checked,
    })
}

/// Samples `pid` once a second until `stop`.
fn sample_until(pid: u32, start: Instant, stop: &AtomicBool) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut next = start;
    while !stop.load(Relaxed) {
        let now = Instant::now();
        if now >= next {
            samples.push(sample(pid, (now - start).as_secs_f64())?);
            next += Duration::from_secs(1);
        }
        sleep(Duration::from_millis(50));
    }
    Ok(samples)
}

/// Waits until fds (and threads, if `threads` is set) are at most their idle values;
/// returns how long that took from `end` (`None`: not within [`SETTLE_DEADLINE`]) and the
/// last sample.
fn wait_for_idle(
    pid: u32,
    idle: &Sample,
    threads: bool,
    end: Instant,
) -> Result<(Option<Duration>, Sample), String> {
    loop {
        let now = sample(pid, 0.0)?;
        if now.fds <= idle.fds && (!threads || now.threads <= idle.threads) {
            return Ok((Some(end.elapsed()), now));
        }
        if end.elapsed() >= SETTLE_DEADLINE {
            return Ok((None, now));
        }
        sleep(Duration::from_millis(100));
    }
}

/// Runs every churning part of the load until `deadline`, each in threads of its own.
fn run_churn(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    thread::scope(|s| {
        for _ in 0..CONN_CHURNERS {
            s.spawn(|| conn_churn(ep, deadline, counters));
        }
        for _ in 0..SUB_CHURNERS {
            s.spawn(|| sub_churn(ep, deadline, counters));
        }
        for _ in 0..SLOW_CONSUMERS {
            s.spawn(|| slow_consumers(ep, deadline, counters));
        }
        s.spawn(|| random_publisher(ep, deadline, counters));
        busy_publisher(ep, deadline, counters);
    });
}

/// A generator seeded by the operating system.
fn seeded_rng() -> Rng {
    Rng::from_os().expect("the OS random source works")
}

/// A duration between `lo` and `hi` milliseconds.
fn millis(rng: &mut Rng, lo: usize, hi: usize) -> Duration {
    Duration::from_millis((lo + rng.below(hi - lo + 1)) as u64)
}

/// A subject the random publisher sends to: `churn.<0..8>.<0..32>`.
pub fn random_subject(rng: &mut Rng) -> String {
    format!("churn.{}.{}", rng.below(8), rng.below(32))
}

/// A subscription of subscription churn: mostly partial wildcards and literals, now and
/// then a full wildcard, and in one case in four a queue group.
pub fn random_interest(rng: &mut Rng) -> (String, Option<String>) {
    let (a, b) = (rng.below(8), rng.below(32));
    let subject = match rng.below(20) {
        0 => "churn.>".to_string(),
        1 => "churn.*.*".to_string(),
        2..=7 => format!("churn.{a}.*"),
        8..=9 => format!("churn.*.{b}"),
        _ => format!("churn.{a}.{b}"),
    };
    let queue = (rng.below(4) == 0).then(|| format!("cq{}", rng.below(3)));
    (subject, queue)
}

/// Paces a sender at `rate` messages a second: how many are due by now, given `sent`.
fn due(start: Instant, rate: f64, sent: u64) -> u64 {
    ((start.elapsed().as_secs_f64() * rate) as u64).saturating_sub(sent)
}

// ---------------------------------------------------------------------------------------
// Well-behaved clients.

/// Publishers, subscribers and a queue group on [`GOOD_SUBJECT`] until `deadline`; then
/// every message must have reached each subscriber, and the group, exactly once in order.
/// Returns the violations and the failures in words.
fn good_traffic(
    ep: &Endpoint,
    deadline: Instant,
    counters: &Counters,
) -> Result<(Tally, Vec<String>), String> {
    let mut subs = Vec::new();
    for i in 0..GOOD_SUBS + GOOD_MEMBERS {
        let (who, queue) = match i.checked_sub(GOOD_SUBS) {
            None => (format!("subscriber {i}"), None),
            Some(m) => (format!("queue member {m}"), Some(GOOD_QUEUE)),
        };
        // Every other well-behaved subscriber speaks TLS, when it is on.
        let url = match (&ep.tls, i % 2) {
            (Some(tls), 1) => tls,
            _ => &ep.plain,
        };
        let mut conn = Conn::connect(url, None).map_err(|e| format!("{who}: {e}"))?;
        conn.subscribe(GOOD_SUBJECT, queue, 1)
            .and_then(|_| conn.flush())
            .map_err(|e| format!("{who}: {e}"))?;
        counters.connected();
        subs.push((Checker::new(who, GOOD_PUBS, GOOD_SIZE), conn));
    }
    let published = AtomicBool::new(false);
    let (sent, received) = thread::scope(|s| {
        let receivers: Vec<_> = subs
            .into_iter()
            .map(|(checker, conn)| s.spawn(|| good_receive(conn, checker, &published)))
            .collect();
        let publishers: Vec<_> = (0..GOOD_PUBS)
            .map(|id| s.spawn(move || good_publish(ep, id as u16, deadline)))
            .collect();
        let sent: Vec<_> = publishers
            .into_iter()
            .map(|h| h.join().expect("publisher panicked"))
            .collect();
        published.store(true, Relaxed);
        let received: Vec<_> = receivers
            .into_iter()
            .map(|h| h.join().expect("subscriber panicked"))
            .collect();
        (sent, received)
    });
    counters.connections.fetch_add(GOOD_PUBS as u64, Relaxed);
    let mut failures = Vec::new();
    let counts: Vec<u64> = sent
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|(n, e)| {
                failures.push(e);
                n
            })
        })
        .collect();
    let mut checkers = Vec::new();
    for (checker, error) in received {
        counters.checked.fetch_add(checker.received(), Relaxed);
        failures.extend(error);
        checkers.push(checker);
    }
    let members = checkers.split_off(GOOD_SUBS);
    let mut tally = Tally::default();
    let results = checkers
        .into_iter()
        .map(|c| c.finish(&counts))
        .chain([finish_group("queue group", members, &counts)]);
    for failure in results.filter_map(Result::err) {
        tally.add(&failure.tally);
        failures.push(failure.to_string());
    }
    Ok((tally, failures))
}

/// A well-behaved publisher: [`GOOD_RATE`] stamped messages a second until `deadline`,
/// then a flush. Returns how many it sent (and, on an error, how many it had queued).
fn good_publish(ep: &Endpoint, id: u16, deadline: Instant) -> Result<u64, (u64, String)> {
    let who = format!("publisher {id}");
    let mut conn = Conn::connect(&ep.plain, None).map_err(|e| (0, format!("{who}: {e}")))?;
    let mut payload = vec![b'g'; GOOD_SIZE];
    let start = Instant::now();
    let mut seq = 0;
    let result = (|| {
        while Instant::now() < deadline {
            for _ in 0..due(start, GOOD_RATE, seq) {
                stamp(&mut payload, id, seq);
                conn.publish(GOOD_SUBJECT.as_bytes(), None, &payload)?;
                seq += 1;
            }
            conn.write_out()?;
            sleep(Duration::from_millis(10));
        }
        conn.flush()
    })();
    result
        .map(|_| seq)
        .map_err(|e| (seq, format!("{who}: {e}")))
}

/// A well-behaved subscriber: records every delivery until the publishers are done, then
/// drains what the server still holds for it. Returns its checker, and its error if any.
fn good_receive(
    mut conn: Conn,
    mut checker: Checker,
    published: &AtomicBool,
) -> (Checker, Option<String>) {
    let result = (|| {
        conn.set_read_timeout(Some(Duration::from_millis(100)))?;
        while !published.load(Relaxed) {
            match conn.next_event() {
                Ok(Event::Msg(m)) => checker.record(m.payload),
                Ok(Event::Pong) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        drain(&mut conn, &mut checker)
    })();
    let error = result.err().map(|e| {
        format!(
            "{}: {e} (after {} messages)",
            checker.who(),
            checker.received()
        )
    });
    (checker, error)
}

// ---------------------------------------------------------------------------------------
// Connection churn.

/// The ways a churned connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Churn {
    /// CONNECT, subscribe, publish a little, flush, close.
    Clean,
    /// CONNECT, subscribe, then close in the middle of a PUB, maybe with a reset.
    Abrupt,
    /// Nothing or a partial line, held open for a while.
    HalfOpen,
    /// A partial TLS ClientHello, then close.
    TlsAbort,
    /// A TLS client that completes its handshake and CONNECT, then closes.
    TlsClean,
    /// Random bytes or a protocol error.
    Garbage,
}

impl Churn {
    /// A kind at random (the TLS ones only with `tls`).
    pub fn pick(rng: &mut Rng, tls: bool) -> Churn {
        match rng.below(if tls { 20 } else { 16 }) {
            0..=5 => Churn::Clean,
            6..=8 => Churn::Abrupt,
            9..=11 => Churn::HalfOpen,
            12..=15 => Churn::Garbage,
            16..=17 => Churn::TlsAbort,
            _ => Churn::TlsClean,
        }
    }
}

/// Opens and closes connections of every [`Churn`] kind until `deadline`.
fn conn_churn(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    let mut rng = seeded_rng();
    let mut held: Vec<(TcpStream, Instant)> = Vec::new();
    while Instant::now() < deadline {
        held.retain(|(_, until)| Instant::now() < *until);
        let kind = Churn::pick(&mut rng, ep.tls.is_some());
        let result = match kind {
            Churn::Clean => clean(&mut rng, &ep.plain),
            Churn::TlsClean => clean(&mut rng, ep.tls.as_deref().unwrap_or(&ep.plain)),
            Churn::Abrupt => abrupt(ep, &mut rng),
            Churn::HalfOpen if held.len() < MAX_HALF_OPEN => half_open(ep, &mut rng)
                .map(|conn| held.push((conn, Instant::now() + millis(&mut rng, 1_000, 20_000)))),
            Churn::HalfOpen => Ok(()),
            Churn::TlsAbort => tls_abort(ep, &mut rng),
            Churn::Garbage => garbage(ep, &mut rng),
        };
        counters.connected();
        if let Err(e) = result {
            counters.error(format!("{kind:?} connection: {e}"));
        }
        sleep(millis(&mut rng, 5, 40));
    }
}

/// A raw TCP connection to the server, with [`RAW_TIMEOUT`]s.
fn raw(ep: &Endpoint) -> io::Result<TcpStream> {
    let tcp = TcpStream::connect(ep.addr())?;
    tcp.set_read_timeout(Some(RAW_TIMEOUT))?;
    tcp.set_write_timeout(Some(RAW_TIMEOUT))?;
    Ok(tcp)
}

/// Makes closing `tcp` send a reset rather than a FIN (SO_LINGER with a zero timeout).
fn reset_on_close(tcp: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is an open socket and `linger` is a valid SO_LINGER value of the
    // size given.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A client that does everything right, briefly, at `url`.
fn clean(rng: &mut Rng, url: &str) -> io::Result<()> {
    let mut conn = Conn::connect(url, None)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (subject, queue) = random_interest(rng);
    conn.subscribe(&subject, queue.as_deref(), 1)?;
    for _ in 0..rng.below(5) {
        let payload = vec![b'c'; rng.below(256)];
        conn.publish(random_subject(rng).as_bytes(), None, &payload)?;
    }
    if rng.below(2) == 0 {
        conn.unsubscribe(1)?;
    }
    // Messages may arrive for the subscription: read on to the PONG.
    conn.ping()?;
    while let Event::Msg(_) = conn.next_event()? {}
    Ok(())
}

/// CONNECT and SUB, then part of a PUB, then gone (with a reset one time in two).
fn abrupt(ep: &Endpoint, rng: &mut Rng) -> io::Result<()> {
    let mut tcp = raw(ep)?;
    let (subject, _) = random_interest(rng);
    let size = 1 + rng.below(4096);
    let frame = format!(
        "CONNECT {{\"verbose\":false}}\r\nSUB {subject} 1\r\nPUB {} {size}\r\n",
        random_subject(rng)
    );
    tcp.write_all(frame.as_bytes())?;
    tcp.write_all(&vec![b'a'; rng.below(size)])?;
    if rng.below(2) == 0 {
        reset_on_close(&tcp)?;
    }
    Ok(())
}

/// Connects and sends nothing, or a partial line; the caller holds it open.
fn half_open(ep: &Endpoint, rng: &mut Rng) -> io::Result<TcpStream> {
    const PARTIAL: [&str; 4] = ["", "CONN", "CONNECT {\"verbose\":fal", "PUB churn.0.0 10"];
    let mut tcp = raw(ep)?;
    let line = rng.pick(&PARTIAL);
    tcp.write_all(line.as_bytes())?;
    Ok(tcp)
}

/// Reads the server's INFO line, sends the start of a TLS ClientHello and closes.
fn tls_abort(ep: &Endpoint, rng: &mut Rng) -> io::Result<()> {
    // A handshake record header announcing 512 bytes, then the ClientHello's start.
    const HELLO: [u8; 11] = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut tcp = raw(ep)?;
    read_line(&mut tcp)?;
    let n = 1 + rng.below(HELLO.len());
    tcp.write_all(&HELLO[..n])?;
    tcp.write_all(&vec![0x42; rng.below(64)])?;
    if rng.below(2) == 0 {
        reset_on_close(&tcp)?;
    }
    Ok(())
}

/// Reads up to and including a `\n`, byte by byte.
fn read_line(tcp: &mut TcpStream) -> io::Result<()> {
    let mut byte = [0u8];
    while byte[0] != b'\n' {
        tcp.read_exact(&mut byte)?;
    }
    Ok(())
}

/// Protocol errors a server must answer with `-ERR` (or close on).
const BAD_LINES: [&str; 8] = [
    "PUB\r\n",
    "SUB\r\n",
    "UNSUB\r\n",
    "MSG churn.0.0 1 1\r\nx\r\n",
    "CONNECT {not json}\r\n",
    "PUB churn.0.0 -1\r\n",
    "PUB churn.0.0 99999999999\r\n",
    "HELLO world\r\n",
];

/// Random bytes or a protocol error on a fresh connection, then reads what the server
/// says until it closes (or [`RAW_TIMEOUT`]).
fn garbage(ep: &Endpoint, rng: &mut Rng) -> io::Result<()> {
    let mut tcp = raw(ep)?;
    let bytes: Vec<u8> = if rng.below(2) == 0 {
        let line = rng.pick(&BAD_LINES);
        format!("CONNECT {{\"verbose\":false}}\r\n{line}").into_bytes()
    } else {
        (0..1 + rng.below(512))
            .map(|_| rng.next_u64() as u8)
            .collect()
    };
    // The server may close before all is written: that is its right.
    let _ = tcp.write_all(&bytes);
    let mut sink = [0u8; 4096];
    loop {
        match tcp.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Ok(()),
            // A reset is a close too.
            Err(_) => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Subscription churn and random publishing.

/// A long-lived connection subscribing and unsubscribing at random until `deadline`,
/// reading what arrives; it starts over on a new connection now and then.
fn sub_churn(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    let mut rng = seeded_rng();
    while Instant::now() < deadline {
        let url = ep.some_url(&mut rng, 4).to_string();
        let until = deadline.min(Instant::now() + millis(&mut rng, 10_000, 60_000));
        counters.connected();
        if let Err(e) = churn_subscriptions(&url, &mut rng, until, counters) {
            counters.error(format!("subscription churn on {url}: {e}"));
            sleep(Duration::from_millis(500));
        }
    }
}

/// One connection's share of [`sub_churn`], until `until`.
fn churn_subscriptions(
    url: &str,
    rng: &mut Rng,
    until: Instant,
    counters: &Counters,
) -> io::Result<()> {
    let mut conn = Conn::connect(url, None)?;
    conn.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut live: Vec<u64> = Vec::new();
    let mut next_sid = 1;
    while Instant::now() < until {
        for _ in 0..1 + rng.below(4) {
            if live.len() >= MAX_CHURN_SUBS || (!live.is_empty() && rng.below(2) == 0) {
                let sid = live.swap_remove(rng.below(live.len()));
                conn.unsubscribe(sid)?;
            } else {
                let (subject, queue) = random_interest(rng);
                conn.subscribe(&subject, queue.as_deref(), next_sid)?;
                live.push(next_sid);
                next_sid += 1;
            }
        }
        conn.ping()?;
        read_for(&mut conn, Duration::from_millis(50), counters)?;
    }
    Ok(())
}

/// Reads messages (and PONGs) for about `time`.
fn read_for(conn: &mut Conn, time: Duration, counters: &Counters) -> io::Result<()> {
    let until = Instant::now() + time;
    while Instant::now() < until {
        match conn.next_event() {
            Ok(Event::Msg(_)) => {
                counters.churn_received.fetch_add(1, Relaxed);
            }
            Ok(Event::Pong) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Publishes payloads of random sizes (0 to [`RANDOM_MAX`] bytes) to random subjects,
/// [`RANDOM_RATE`] a second, until `deadline`, with a flush every second.
fn random_publisher(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    let mut rng = seeded_rng();
    let payload = vec![b'r'; RANDOM_MAX];
    let result = paced(ep, deadline, RANDOM_RATE, counters, |conn| {
        let size = rng.below(RANDOM_MAX + 1);
        conn.publish(random_subject(&mut rng).as_bytes(), None, &payload[..size])
    });
    if let Err(e) = result {
        counters.error(format!("random-size publisher: {e}"));
    }
}

/// Publishes [`BUSY_SIZE`] bytes to [`BUSY_SUBJECT`], [`BUSY_RATE`] a second, for the
/// slow consumers.
fn busy_publisher(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    let payload = vec![b'b'; BUSY_SIZE];
    let result = paced(ep, deadline, BUSY_RATE, counters, |conn| {
        conn.publish(BUSY_SUBJECT.as_bytes(), None, &payload)
    });
    if let Err(e) = result {
        counters.error(format!("busy publisher: {e}"));
    }
}

/// Connects to the plain URL and calls `publish` `rate` times a second until `deadline`,
/// flushing once a second.
fn paced(
    ep: &Endpoint,
    deadline: Instant,
    rate: f64,
    counters: &Counters,
    mut publish: impl FnMut(&mut Conn) -> io::Result<()>,
) -> io::Result<()> {
    let mut conn = Conn::connect(&ep.plain, None)?;
    counters.connected();
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let start = Instant::now();
    let mut sent = 0;
    let mut flushed = start;
    while Instant::now() < deadline {
        for _ in 0..due(start, rate, sent) {
            publish(&mut conn)?;
            sent += 1;
        }
        conn.write_out()?;
        if flushed.elapsed() >= Duration::from_secs(1) {
            conn.flush()?;
            flushed = Instant::now();
        }
        sleep(Duration::from_millis(10));
    }
    conn.flush()
}

// ---------------------------------------------------------------------------------------
// Slow consumers.

/// Subscribes to [`BUSY_SUBJECT`] and never reads, over and over until `deadline`,
/// counting how often the server cut the connection.
fn slow_consumers(ep: &Endpoint, deadline: Instant, counters: &Counters) {
    while Instant::now() + SLOW_HOLD < deadline {
        counters.connected();
        counters.slow_tried.fetch_add(1, Relaxed);
        match slow_consumer(ep) {
            Ok(true) => {
                counters.slow_cut.fetch_add(1, Relaxed);
            }
            Ok(false) => counters.error(format!(
                "a slow consumer was not cut in {SLOW_HOLD:?} (still sent to {SLOW_DRAIN:?} later)"
            )),
            Err(e) => counters.error(format!("slow consumer: {e}")),
        }
        sleep(Duration::from_millis(100));
    }
}

/// One slow consumer: whether the server cut it. It reads nothing for [`SLOW_HOLD`];
/// the server's close then waits behind the data it had sent, so it reads all of that
/// quickly: the end of the stream within [`SLOW_DRAIN`] means the server had cut it.
fn slow_consumer(ep: &Endpoint) -> io::Result<bool> {
    let mut tcp = raw(ep)?;
    let subscribe = format!("CONNECT {{\"verbose\":false}}\r\nSUB {BUSY_SUBJECT} 1\r\nPING\r\n");
    tcp.write_all(subscribe.as_bytes())?;
    sleep(SLOW_HOLD);
    let until = Instant::now() + SLOW_DRAIN;
    let mut sink = vec![0u8; 64 * 1024];
    while Instant::now() < until {
        match tcp.read(&mut sink) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            // A reset: cut too.
            Err(_) => return Ok(true),
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------------------
// Figures and the table.

/// RSS per tenth of the run: the lowest and highest sample in each (`None`: no sample).
pub fn tenths(samples: &[Sample], duration: f64) -> Vec<Option<(u64, u64)>> {
    let mut out: Vec<Option<(u64, u64)>> = vec![None; 10];
    for s in samples {
        let i = ((s.at / duration.max(1e-9) * 10.0) as usize).min(9);
        out[i] = Some(match out[i] {
            None => (s.rss, s.rss),
            Some((lo, hi)) => (lo.min(s.rss), hi.max(s.rss)),
        });
    }
    out
}

/// How fast RSS grew after warm-up, in bytes an hour: from the middle of the first
/// tenth after warm-up to the middle of the last (each tenth's midpoint of min and max).
pub fn slope(tenths: &[Option<(u64, u64)>], duration: f64) -> Option<f64> {
    let mid = |t: &Option<(u64, u64)>| t.map(|(lo, hi)| (lo as f64 + hi as f64) / 2.0);
    let first = mid(tenths.get(WARM_UP_TENTHS)?)?;
    let last = mid(tenths.last()?)?;
    let span = (tenths.len() - 1 - WARM_UP_TENTHS) as f64 * duration / 10.0;
    (span > 0.0).then(|| (last - first) / span * 3600.0)
}

/// Bytes as MB with one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// The figures of one server, a row each, in [`ROWS`] order.
fn column(s: &Soaked, duration: f64) -> Vec<String> {
    let peak = |f: fn(&Sample) -> u64| s.samples.iter().map(f).max().unwrap_or(0);
    let c = &s.counters;
    let tenths = tenths(&s.samples, duration);
    let mut col = vec![
        format!("{} / {} / {}", s.idle.fds, peak(|x| x.fds), s.last.fds),
        format!(
            "{} / {} / {}",
            s.idle.threads,
            peak(|x| x.threads),
            s.last.threads
        ),
        match s.settled {
            Some(t) if s.threads_checked => format!("yes, {:.1} s", t.as_secs_f64()),
            Some(t) => format!("fds yes, {:.1} s (threads unchecked)", t.as_secs_f64()),
            None => format!("NO, not in {} s", SETTLE_DEADLINE.as_secs()),
        },
        format!("{} / {}", mb(s.idle.rss), mb(peak(|x| x.rss))),
    ];
    for t in &tenths[WARM_UP_TENTHS..] {
        col.push(t.map_or("-".into(), |(lo, hi)| format!("{} - {}", mb(lo), mb(hi))));
    }
    col.push(slope(&tenths, duration).map_or("-".into(), |b| format!("{:+.2}", b / 1e6)));
    col.push(mb(s.rss_after));
    let n = |a: &AtomicU64| a.load(Relaxed).to_string();
    let t = &s.tally;
    col.extend([
        n(&c.connections),
        n(&c.checked),
        format!(
            "{} / {} / {}",
            t.lost,
            t.duplicated,
            t.reordered + t.unexpected
        ),
        format!("{} of {}", n(&c.slow_cut), n(&c.slow_tried)),
        n(&c.churn_received),
        n(&c.errors),
    ]);
    col
}

/// The names of the rows [`column`] fills.
fn row_names() -> Vec<String> {
    let mut rows = vec![
        "fds idle / peak / after".to_string(),
        "threads idle / peak / after".into(),
        "fds+threads back to idle".into(),
        "RSS idle / peak (MB)".into(),
    ];
    for i in WARM_UP_TENTHS..10 {
        rows.push(format!("RSS tenth {} min - max (MB)", i + 1));
    }
    rows.extend([
        format!("RSS slope tenth {}->10 (MB/h)", WARM_UP_TENTHS + 1),
        format!("RSS {} s after (MB)", RSS_AFTER.as_secs()),
        "connections made".into(),
        "messages checked".into(),
        "lost / duplicated / reordered".into(),
        "slow consumers cut".into(),
        "churn messages received".into(),
        "errors seen".into(),
    ]);
    rows
}

/// The side-by-side table of the soaked servers.
fn soak_table(soaked: &[(String, Soaked)], duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    let columns: Vec<Vec<String>> = soaked.iter().map(|(_, s)| column(s, secs)).collect();
    let mut header = vec!["metric".to_string()];
    header.extend(soaked.iter().map(|(name, _)| name.clone()));
    let mut rows = vec![header];
    for (i, name) in row_names().into_iter().enumerate() {
        let mut row = vec![name];
        row.extend(columns.iter().map(|c| c[i].clone()));
        rows.push(row);
    }
    let mut out = table(&rows);
    out.push_str(&format!(
        "soak of {} s; after = once the load stopped and its connections closed\n",
        duration.as_secs()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at: f64, rss: u64) -> Sample {
        Sample {
            at,
            rss,
            ..Sample::default()
        }
    }

    #[test]
    fn rss_per_tenth_and_slope() {
        // 100 s, RSS 10 MB growing 1 MB per tenth, with a spike in the third tenth.
        let mut samples: Vec<Sample> = (0..100)
            .map(|s| at(s as f64, 10_000_000 + (s / 10) * 1_000_000))
            .collect();
        samples[25].rss = 50_000_000;
        let t = tenths(&samples, 100.0);
        assert_eq!(t[0], Some((10_000_000, 10_000_000)));
        assert_eq!(t[2], Some((12_000_000, 50_000_000)));
        assert_eq!(t[9], Some((19_000_000, 19_000_000)));
        // 8 MB from the middle of tenth 2 to that of tenth 10: 80 s apart.
        let per_hour = slope(&t, 100.0).unwrap();
        assert!((per_hour - 8e6 / 80.0 * 3600.0).abs() < 1.0, "{per_hour}");
        // A sample past the end counts in the last tenth; an empty tenth has no slope.
        assert_eq!(tenths(&[at(120.0, 5)], 100.0)[9], Some((5, 5)));
        assert_eq!(slope(&tenths(&[at(1.0, 5)], 100.0), 100.0), None);
    }

    #[test]
    fn flat_rss_has_no_slope() {
        let samples: Vec<Sample> = (0..45).map(|s| at(s as f64, 7_000_000)).collect();
        assert_eq!(slope(&tenths(&samples, 45.0), 45.0), Some(0.0));
    }

    #[test]
    fn random_choices_stay_in_range() {
        let mut rng = Rng::new(42);
        let mut kinds = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let subject = random_subject(&mut rng);
            let tokens: Vec<&str> = subject.split('.').collect();
            assert_eq!(tokens.len(), 3, "{subject}");
            assert!(tokens[1].parse::<u64>().unwrap() < 8);
            assert!(tokens[2].parse::<u64>().unwrap() < 32);
            let (interest, queue) = random_interest(&mut rng);
            assert!(interest.starts_with("churn."), "{interest}");
            assert!(queue.is_none_or(|q| q.starts_with("cq")));
            assert_ne!(Churn::pick(&mut rng, false), Churn::TlsAbort);
            kinds.insert(format!("{:?}", Churn::pick(&mut rng, true)));
        }
        assert_eq!(kinds.len(), 6, "{kinds:?}");
    }

    #[test]
    fn config_offers_tls_beside_plain_text() {
        assert!(!config(None).contains("tls"));
        let text = config(Some(std::path::Path::new("/certs")));
        assert!(
            text.contains("cert_file: \"/certs/server-cert.pem\""),
            "{text}"
        );
        assert!(text.contains("allow_non_tls: true"), "{text}");
        assert!(text.contains("max_pending: 1048576"), "{text}");
    }
}
