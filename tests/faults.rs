//! Cluster faults under load, and clients failing over through rolling restarts.
//!
//! Three-node clusters whose routes all pass through fault-injecting proxies
//! ([`common::proxy::Proxy`], one in front of each node's route port, which the node
//! advertises), natsd alone and mixed with nats-server. Two publishers on node 0 each number
//! their messages and send each number on `load` (a plain subscriber on every node) and on
//! `work` (a queue group with a member on nodes 1 and 2). Then node 1 is killed with
//! SIGKILL and restarted on the same ports, or its route to node 0 is cut (bytes dropped,
//! then both sides closed) and healed, or every route is throttled. Afterwards every
//! subscription is known on every node again (`/routez`), and once the publishers stop every
//! subscriber has caught up; then the numbers received are checked per publisher.
//!
//! The bounds: nobody receives a message twice or out of order. The subscribers on nodes 0
//! and 2 lose nothing. NATS keeps no messages for a subscriber it cannot reach (and routes
//! do not pass messages on), so the plain subscriber on node 1 loses what is published while
//! its node is down or cut off: only numbers from [`SLACK`] before the fault (in flight on
//! the broken path) to the moment its interest is back on every node. The queue group has a
//! member on node 2 throughout, so it loses only what was in flight to node 1: numbers from
//! [`SLACK`] before the fault until [`SLACK`] after node 0 saw the route close. A throttled
//! route loses nothing.
//!
//! The rolling restart: an async-nats publisher on node 0 and subscriber on node 1 (each
//! given all three URLs) while the nodes are restarted one by one (SIGTERM, on the same
//! ports), the clients' own nodes included. async-nats does not resend what it had written
//! before a disconnect, so there are no duplicates at all; the subscriber loses only numbers
//! from [`SLACK`] before a restart until it receives again after the cluster is whole.
//!
//! Each test prints its measured losses (`cargo test --test faults -- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::cluster::{wait_for_interest, wait_for_mesh, Node};
use common::proxy::Proxy;
use common::{free_port, reference_available, wait_until, Impl, ServerProc};

/// How often each publisher sends a number (so [`SLACK`] numbers are about 250 ms).
const PACE: Duration = Duration::from_millis(1);

/// How many numbers before a fault may still be lost: those in flight on the broken path
/// (socket and server buffers, the proxy), with room for a busy two-core machine.
const SLACK: u64 = 250;

/// How long traffic flows before a fault and after recovery (pacing only).
const STEADY: Duration = Duration::from_millis(300);

/// How long a cut route drops bytes before both its sides are closed.
const DROP_FOR: Duration = Duration::from_millis(150);

/// How long a route stays cut after its close was noticed, and how long routes stay
/// throttled (pacing only).
const OUTAGE: Duration = Duration::from_millis(500);

/// The throttle on slowed routes: 2 KiB per pause, below the publishers' rate.
const THROTTLE: Duration = Duration::from_millis(10);

/// How long recoveries and the final catch-up may take.
const RECOVERY: Duration = Duration::from_secs(15);

/// Padding that makes each message about 100 bytes.
const PAD: &str =
    "................................................................................";

/// A three-node cluster whose routes all pass through a [`Proxy`] in front of each node's
/// route port. A node restarts with the same configuration, on the same ports.
struct Cluster {
    imps: Vec<Impl>,
    confs: Vec<String>,
    nodes: Vec<Node>,
    route_ports: Vec<u16>,
    proxies: Vec<Proxy>,
}

impl Cluster {
    /// Starts one node of each of `imps` (cluster `faults`, monitoring on) and waits for
    /// the full mesh.
    fn start(imps: &[Impl]) -> Cluster {
        let route_ports: Vec<u16> = imps.iter().map(|_| free_port()).collect();
        let proxies: Vec<Proxy> = route_ports
            .iter()
            .map(|&port| Proxy::start(SocketAddr::from(([127, 0, 0, 1], port))))
            .collect();
        let confs: Vec<String> = (0..imps.len())
            .map(|i| node_conf(free_port(), route_ports[i], &proxies, i))
            .collect();
        let nodes = imps
            .iter()
            .zip(&confs)
            .zip(&route_ports)
            .map(|((&imp, conf), &port)| start_node(imp, conf, port))
            .collect();
        let cluster = Cluster {
            imps: imps.to_vec(),
            confs,
            nodes,
            route_ports,
            proxies,
        };
        cluster.wait_for_mesh();
        cluster
    }

    /// Every node.
    fn all(&self) -> Vec<&Node> {
        self.nodes.iter().collect()
    }

    /// Waits until every node has a route to every other.
    fn wait_for_mesh(&self) {
        let want = self.nodes.len() as u64 - 1;
        wait_for_mesh(&self.all(), want, RECOVERY);
    }

    /// Node `i`'s client address.
    fn client_addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].server.client_addr()
    }

    /// Node `i`'s server id (`/varz`).
    fn server_id(&self, i: usize) -> String {
        let varz = common::http::get(self.nodes[i].monitor, "/varz").json();
        varz["server_id"].as_str().expect("server_id").to_string()
    }

    /// Sends `signal` to node `i` and waits for it to exit.
    fn stop(&mut self, i: usize, signal: i32) {
        self.nodes[i].server.signal(signal);
        self.nodes[i].server.wait_exit(RECOVERY);
    }

    /// Starts node `i` again (after [`Cluster::stop`]) and waits for the full mesh.
    fn restart(&mut self, i: usize) {
        self.nodes[i] = start_node(self.imps[i], &self.confs[i], self.route_ports[i]);
        self.wait_for_mesh();
    }

    /// Cuts the route between nodes `a` and `b`: its bytes are dropped for [`DROP_FOR`],
    /// then both its sides are closed; neither node can dial the other until
    /// [`Cluster::heal`].
    fn cut(&self, a: usize, b: usize) {
        let (id_a, id_b) = (self.server_id(a), self.server_id(b));
        self.proxies[b].cut(&id_a);
        self.proxies[a].cut(&id_b);
        thread::sleep(DROP_FOR);
        self.proxies[b].reset(&id_a);
        self.proxies[a].reset(&id_b);
    }

    /// Lets nodes `a` and `b` connect again after [`Cluster::cut`].
    fn heal(&self, a: usize, b: usize) {
        let (id_a, id_b) = (self.server_id(a), self.server_id(b));
        self.proxies[b].heal(&id_a);
        self.proxies[a].heal(&id_b);
    }

    /// Throttles every route (see [`Proxy::throttle`]).
    fn throttle(&self, pause: Duration) {
        for proxy in &self.proxies {
            proxy.throttle(pause);
        }
    }
}

/// Node `i`'s configuration: clients on `client_port`, routes on `route_port` advertised as
/// its proxy's address, and routes to every other node's proxy.
fn node_conf(client_port: u16, route_port: u16, proxies: &[Proxy], i: usize) -> String {
    let routes: Vec<String> = (0..proxies.len())
        .filter(|&j| j != i)
        .map(|j| format!("\"nats://{}\"", proxies[j].addr()))
        .collect();
    format!(
        "listen: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:-1\ncluster {{\n  name: faults\n  listen: 127.0.0.1:{route_port}\n  advertise: \"{}\"\n  routes: [{}]\n}}\n",
        proxies[i].addr(),
        routes.join(", ")
    )
}

/// Starts `imp` with `conf` (which says where to listen).
fn start_node(imp: Impl, conf: &str, route_port: u16) -> Node {
    Node::from(ServerProc::start_with_config_listen(imp, conf), route_port)
}

/// One numbered message as received.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// Received through the queue group (`work`) rather than the plain subscription.
    queued: bool,
    publisher: usize,
    seq: u64,
}

/// The payload of publisher `publisher`'s message number `seq`.
fn payload(publisher: usize, seq: u64) -> String {
    format!("{publisher}.{seq}.{PAD}")
}

/// Parses a [`payload`] received on `subject`.
fn arrival(subject: &[u8], payload: &[u8]) -> Arrival {
    let text = String::from_utf8_lossy(payload);
    let mut parts = text.split('.');
    let mut number = || parts.next().and_then(|p| p.parse().ok());
    let (publisher, seq) = (number(), number());
    let (Some(publisher), Some(seq)) = (publisher, seq) else {
        panic!("not a numbered message: {text:?}");
    };
    Arrival {
        queued: subject == b"work",
        publisher: usize::try_from(publisher).expect("small"),
        seq,
    }
}

/// A stop flag and the thread it stops.
struct Worker<T> {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<T>,
}

impl<T: Send + 'static> Worker<T> {
    /// Runs `body(stop)` on a new thread.
    fn spawn(body: impl FnOnce(Arc<AtomicBool>) -> T + Send + 'static) -> Worker<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || body(flag));
        Worker { stop, thread }
    }

    /// Stops the thread and returns its result (a panic in it fails the test here).
    fn finish(self) -> T {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("worker thread")
    }
}

/// A raw client on node 0 sending numbered messages on `load` and `work` every [`PACE`].
struct Publisher {
    sent: Arc<AtomicU64>,
    worker: Worker<()>,
}

impl Publisher {
    /// Starts publisher number `publisher` on `addr`.
    fn start(addr: SocketAddr, publisher: usize) -> Publisher {
        let sent = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&sent);
        let worker = Worker::spawn(move |stop| {
            let mut wire = TcpStream::connect(addr).expect("publisher connects");
            let _ = wire.set_nodelay(true);
            let mut send = |bytes: &[u8]| wire.write_all(bytes).expect("publisher writes");
            send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
            for seq in 1.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = payload(publisher, seq);
                let len = body.len();
                send(
                    format!("PUB load {len}\r\n{body}\r\nPUB work {len}\r\n{body}\r\n").as_bytes(),
                );
                count.store(seq, Ordering::SeqCst);
                thread::sleep(PACE);
            }
        });
        Publisher { sent, worker }
    }

    /// The last number sent.
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops publishing; returns the last number sent.
    fn stop(self) -> u64 {
        self.worker.finish();
        self.sent.load(Ordering::SeqCst)
    }
}

/// A raw client subscribed to `load` (and to `work` in queue group `grp` when `queued`)
/// that records every message and reconnects to the same address whenever its connection
/// ends (subscribing again).
struct Subscriber {
    log: Arc<Mutex<Vec<Arrival>>>,
    worker: Worker<()>,
}

impl Subscriber {
    /// Starts a subscriber on `addr`.
    fn start(addr: SocketAddr, queued: bool) -> Subscriber {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let worker = Worker::spawn(move |stop| {
            while !stop.load(Ordering::SeqCst) {
                match TcpStream::connect(addr) {
                    Ok(wire) => read_session(wire, queued, &sink, &stop),
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Subscriber { log, worker }
    }

    /// True once `last[p]` of every publisher `p` arrived on `load`.
    fn has_all(&self, last: &[u64]) -> bool {
        let log = self.log.lock().expect("log");
        last.iter().enumerate().all(|(p, &seq)| {
            log.iter()
                .any(|a| !a.queued && a.publisher == p && a.seq == seq)
        })
    }

    /// Stops; returns everything received.
    fn stop(self) -> Vec<Arrival> {
        self.worker.finish();
        Arc::try_unwrap(self.log)
            .map(|m| m.into_inner().expect("log"))
            .unwrap_or_else(|log| log.lock().expect("log").clone())
    }
}

/// Subscribes on `wire` and records messages into `log` until the connection ends or
/// `stop` is set; answers PINGs.
fn read_session(mut wire: TcpStream, queued: bool, log: &Mutex<Vec<Arrival>>, stop: &AtomicBool) {
    let subs = if queued {
        "SUB load 1\r\nSUB work grp 2\r\n"
    } else {
        "SUB load 1\r\n"
    };
    let hello = format!("CONNECT {{\"verbose\":false,\"protocol\":1}}\r\n{subs}");
    if wire.write_all(hello.as_bytes()).is_err() {
        return;
    }
    let _ = wire.set_read_timeout(Some(Duration::from_millis(100)));
    let (mut buf, mut chunk) = (Vec::new(), vec![0; 64 * 1024]);
    while !stop.load(Ordering::SeqCst) {
        match wire.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        let mut arrivals = Vec::new();
        let (used, pings) = parse_frames(&buf, &mut arrivals);
        buf.drain(..used);
        log.lock().expect("log").extend(arrivals);
        if pings > 0 && wire.write_all(b"PONG\r\n").is_err() {
            return;
        }
    }
}

/// Parses the complete frames at the start of `buf`: MSGs into `out`, other lines
/// skipped. Returns the bytes used and the number of PINGs.
fn parse_frames(buf: &[u8], out: &mut Vec<Arrival>) -> (usize, usize) {
    let (mut at, mut pings) = (0, 0);
    while let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") {
        let line = &buf[at..at + eol];
        let Some(args) = line.strip_prefix(b"MSG ") else {
            pings += usize::from(line == b"PING");
            at += eol + 2;
            continue;
        };
        let args: Vec<&[u8]> = args.split(|&b| b == b' ').collect();
        let len: usize = String::from_utf8_lossy(args[args.len() - 1])
            .parse()
            .expect("MSG length");
        let start = at + eol + 2;
        if buf.len() < start + len + 2 {
            break;
        }
        out.push(arrival(args[0], &buf[start..start + len]));
        at = start + len + 2;
    }
    (at, pings)
}

/// The numbers of one publisher as received, judged against what it sent.
#[derive(Debug)]
struct Tally {
    /// Numbers in `1..=last` nobody received.
    missing: Vec<u64>,
    /// Numbers received more than once (by one subscriber or by several queue members).
    duplicates: usize,
    /// Numbers received after a higher one on the same connection.
    reordered: usize,
}

/// Tallies publisher `publisher`'s numbers `1..=last` over `streams` (one per receiving
/// connection, in arrival order; several for a queue group).
fn tally(streams: &[Vec<Arrival>], queued: bool, publisher: usize, last: u64) -> Tally {
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut reordered = 0;
    for stream in streams {
        let mut previous = 0;
        let numbers = stream
            .iter()
            .filter(|a| a.queued == queued && a.publisher == publisher);
        for a in numbers {
            reordered += usize::from(a.seq <= previous);
            previous = a.seq;
            *seen.entry(a.seq).or_default() += 1;
        }
    }
    Tally {
        missing: (1..=last).filter(|n| !seen.contains_key(n)).collect(),
        duplicates: seen.values().map(|&n| n - 1).sum(),
        reordered,
    }
}

/// Asserts that `tally` has no duplicates, nothing out of order, and misses only numbers in
/// one of `allowed`; returns how many it misses.
fn check_tally(what: &str, tally: &Tally, allowed: &[RangeInclusive<u64>]) -> usize {
    assert_eq!(tally.duplicates, 0, "{what}: duplicates");
    assert_eq!(tally.reordered, 0, "{what}: out of order");
    let stray: Vec<u64> = tally
        .missing
        .iter()
        .copied()
        .filter(|n| !allowed.iter().any(|r| r.contains(n)))
        .collect();
    assert!(
        stray.is_empty(),
        "{what}: lost {} numbers outside {allowed:?}: {stray:?}",
        stray.len()
    );
    tally.missing.len()
}

/// Numbers from [`SLACK`] before `from` through `to`.
fn window(from: u64, to: u64) -> RangeInclusive<u64> {
    from.saturating_sub(SLACK)..=to
}

/// A fault injected on node 1 while traffic flows.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL, then a restart on the same ports.
    Kill,
    /// The route between nodes 0 and 1 cut, then healed.
    Cut,
    /// Every route throttled for a while.
    Slow,
}

/// Per-publisher numbers at the moments that bound a fault's losses.
struct Marks {
    /// Sent when the fault began.
    fault: Vec<u64>,
    /// Sent when node 0 had seen its route to node 1 close.
    noticed: Vec<u64>,
    /// Sent when every subscription was known on every node again.
    recovered: Vec<u64>,
}

/// The last number each publisher sent.
fn sent(pubs: &[Publisher]) -> Vec<u64> {
    pubs.iter().map(Publisher::sent).collect()
}

/// Waits until every node knows, over its routes, the plain subscribers of the other two
/// nodes and the queue members of the other nodes among 1 and 2.
fn wait_for_all_interest(cluster: &Cluster) {
    let want = vec![vec![2, 2], vec![2, 1], vec![2, 1]];
    wait_for_interest(&cluster.all(), &["load", "work"], &want);
}

/// Injects `fault` (see [`Fault`]) and waits for recovery; returns the marks.
fn inject(cluster: &mut Cluster, fault: Fault, pubs: &[Publisher]) -> Marks {
    let fault_at = sent(pubs);
    match fault {
        Fault::Kill => cluster.stop(1, libc::SIGKILL),
        Fault::Cut => cluster.cut(0, 1),
        Fault::Slow => {
            cluster.throttle(THROTTLE);
            thread::sleep(OUTAGE);
            cluster.throttle(Duration::ZERO);
            let now = sent(pubs);
            return Marks {
                fault: fault_at,
                noticed: now.clone(),
                recovered: now,
            };
        }
    }
    let node0 = &cluster.nodes[0];
    wait_until(
        RECOVERY,
        || node0.routes() == 1,
        || "route close noticed".into(),
    );
    let noticed = sent(pubs);
    match fault {
        Fault::Kill => cluster.restart(1),
        _ => {
            thread::sleep(OUTAGE);
            cluster.heal(0, 1);
            cluster.wait_for_mesh();
        }
    }
    wait_for_all_interest(cluster);
    Marks {
        fault: fault_at,
        noticed,
        recovered: sent(pubs),
    }
}

/// Runs `fault` on a cluster of `imps` under traffic and checks the bounds of the module
/// documentation; prints the losses measured.
fn fault_under_load(imps: &[Impl], fault: Fault) {
    let mut cluster = Cluster::start(imps);
    let subs: Vec<Subscriber> = (0..3)
        .map(|i| Subscriber::start(cluster.client_addr(i), i > 0))
        .collect();
    wait_for_all_interest(&cluster);
    let pubs: Vec<Publisher> = (0..2)
        .map(|p| Publisher::start(cluster.client_addr(0), p))
        .collect();
    thread::sleep(STEADY);
    let marks = inject(&mut cluster, fault, &pubs);
    thread::sleep(STEADY);
    let last: Vec<u64> = pubs.into_iter().map(Publisher::stop).collect();
    wait_until(
        RECOVERY,
        || subs.iter().all(|s| s.has_all(&last)),
        || format!("{fault:?}: subscribers never caught up with {last:?}"),
    );
    let streams: Vec<Vec<Arrival>> = subs.into_iter().map(Subscriber::stop).collect();
    let affected = !matches!(fault, Fault::Slow);
    let mut report = Vec::new();
    for (p, &last) in last.iter().enumerate() {
        let outage = window(marks.fault[p], marks.recovered[p]);
        let in_flight = window(marks.fault[p], marks.noticed[p] + SLACK);
        for (i, stream) in streams.iter().enumerate() {
            let allowed = if i == 1 && affected {
                vec![outage.clone()]
            } else {
                vec![]
            };
            let what = format!("{imps:?} {fault:?}: publisher {p}, plain subscriber on node {i}");
            let lost = check_tally(
                &what,
                &tally(std::slice::from_ref(stream), false, p, last),
                &allowed,
            );
            report.push(format!("node {i} plain lost {lost}/{last}"));
        }
        let allowed = if affected { vec![in_flight] } else { vec![] };
        let what = format!("{imps:?} {fault:?}: publisher {p}, queue group");
        let lost = check_tally(&what, &tally(&streams[1..], true, p, last), &allowed);
        report.push(format!("queue lost {lost}/{last}"));
        report.push(format!(
            "(fault at {}, noticed at {}, recovered at {})",
            marks.fault[p], marks.noticed[p], marks.recovered[p]
        ));
    }
    eprintln!("{imps:?} {fault:?}: {}", report.join(", "));
}

/// The mixed cluster: natsd publishes and is faulted, nats-server is the third node. None
/// when the reference is not installed.
fn mixed() -> Option<Vec<Impl>> {
    reference_available().then(|| vec![Impl::Natsd, Impl::Natsd, Impl::Reference])
}

#[test]
fn a_killed_node_restarts_and_delivery_resumes() {
    fault_under_load(&[Impl::Natsd; 3], Fault::Kill);
}

#[test]
fn a_killed_node_restarts_and_delivery_resumes_mixed() {
    if let Some(imps) = mixed() {
        fault_under_load(&imps, Fault::Kill);
    }
}

#[test]
fn a_cut_route_heals_and_delivery_resumes() {
    fault_under_load(&[Impl::Natsd; 3], Fault::Cut);
}

#[test]
fn a_cut_route_heals_and_delivery_resumes_mixed() {
    if let Some(imps) = mixed() {
        fault_under_load(&imps, Fault::Cut);
    }
}

#[test]
fn slow_routes_lose_and_reorder_nothing() {
    fault_under_load(&[Impl::Natsd; 3], Fault::Slow);
}

#[test]
fn slow_routes_lose_and_reorder_nothing_mixed() {
    if let Some(imps) = mixed() {
        fault_under_load(&imps, Fault::Slow);
    }
}

/// async-nats clients given the URLs of every node, tried in the order given: a subscriber
/// on `roll` recording numbers, and a publisher sending one every [`PACE`] while
/// `publishing` is set. Runs on its own thread (a current-thread runtime).
struct Failover {
    ready: Arc<AtomicBool>,
    publishing: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<u64>>>,
    worker: Worker<()>,
}

impl Failover {
    /// Connects the subscriber to `sub_urls`; the publisher connects to `pub_urls` once
    /// [`Failover::publish`] is called.
    fn start(pub_urls: Vec<String>, sub_urls: Vec<String>) -> Failover {
        let ready = Arc::new(AtomicBool::new(false));
        let publishing = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = (ready.clone(), publishing.clone(), sent.clone(), log.clone());
        let worker = Worker::spawn(move |stop| {
            let (ready, publishing, sent, log) = shared;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let sub = subscribe(&sub_urls, log, stop).await;
                ready.store(true, Ordering::SeqCst);
                publish(&pub_urls, &sent, &publishing).await;
                sub.await.expect("subscriber task");
            });
        });
        wait_until(
            RECOVERY,
            || ready.load(Ordering::SeqCst),
            || "subscriber never ready".into(),
        );
        Failover {
            ready,
            publishing,
            sent,
            log,
            worker,
        }
    }

    /// Starts publishing.
    fn publish(&self) {
        self.publishing.store(true, Ordering::SeqCst);
    }

    /// The last number published.
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// True once a number above `seq` arrived.
    fn received_after(&self, seq: u64) -> bool {
        self.log
            .lock()
            .expect("log")
            .last()
            .is_some_and(|&n| n > seq)
    }

    /// Stops publishing, waits until the last number arrived, stops; returns the
    /// numbers received, in arrival order, and the last one sent.
    fn finish(self) -> (Vec<u64>, u64) {
        self.publishing.store(false, Ordering::SeqCst);
        wait_until(
            RECOVERY,
            || {
                self.ready.load(Ordering::SeqCst) && self.sent() > 0 && {
                    let last = self.sent();
                    self.log.lock().expect("log").contains(&last)
                }
            },
            || "the last number never arrived".into(),
        );
        let last = self.sent();
        self.worker.finish();
        let log = self.log.lock().expect("log").clone();
        (log, last)
    }
}

/// An async-nats client for `urls` (tried in order) that never stops reconnecting.
async fn connect(urls: &[String]) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = urls.iter().map(|u| u.parse().expect("URL")).collect();
    async_nats::ConnectOptions::new()
        .retain_servers_order()
        .max_reconnects(None)
        .connect(addrs)
        .await
        .expect("connect")
}

/// Subscribes to `roll` (settled) and returns the task recording its numbers into `log`
/// until `stop`.
async fn subscribe(
    urls: &[String],
    log: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    let client = connect(urls).await;
    let mut sub = client.subscribe("roll").await.expect("subscribe");
    common::settle(&client).await;
    tokio::spawn(async move {
        let _client = client;
        while !stop.load(Ordering::SeqCst) {
            let next = tokio::time::timeout(Duration::from_millis(100), sub.next()).await;
            if let Ok(Some(msg)) = next {
                let seq = arrival(b"roll", &msg.payload).seq;
                log.lock().expect("log").push(seq);
            }
        }
    })
}

/// Waits for `publishing`, then publishes numbered messages on `roll` while it lasts.
async fn publish(urls: &[String], sent: &AtomicU64, publishing: &AtomicBool) {
    while !publishing.load(Ordering::SeqCst) {
        tokio::time::sleep(PACE).await;
    }
    let client = connect(urls).await;
    for seq in 1.. {
        if !publishing.load(Ordering::SeqCst) {
            break;
        }
        let body = payload(0, seq);
        client.publish("roll", body.into()).await.expect("publish");
        sent.store(seq, Ordering::SeqCst);
        tokio::time::sleep(PACE).await;
    }
    client.flush().await.expect("final flush");
}

/// Restarts the nodes of a cluster of `imps` one by one (SIGTERM, then again on the same
/// ports) while an async-nats publisher on node 0 and subscriber on node 1 carry on;
/// checks the bounds of the module documentation and prints the losses.
fn rolling_restart(imps: &[Impl]) {
    let mut cluster = Cluster::start(imps);
    let urls = |first: usize| {
        (0..imps.len())
            .map(|i| format!("nats://{}", cluster.client_addr((first + i) % imps.len())))
            .collect::<Vec<_>>()
    };
    let traffic = Failover::start(urls(0), urls(1));
    wait_for_interest(&cluster.all(), &["roll"], &[vec![1], vec![0], vec![1]]);
    traffic.publish();
    let mut windows = Vec::new();
    for node in [2, 0, 1] {
        thread::sleep(STEADY);
        let stopped = traffic.sent();
        cluster.stop(node, libc::SIGTERM);
        cluster.restart(node);
        let whole = traffic.sent();
        wait_until(
            RECOVERY,
            || traffic.received_after(whole),
            || format!("{imps:?}: nothing arrives after restarting node {node}"),
        );
        windows.push(window(stopped, traffic.sent()));
    }
    thread::sleep(STEADY);
    let (log, last) = traffic.finish();
    let arrivals: Vec<Arrival> = log
        .iter()
        .map(|&seq| Arrival {
            queued: false,
            publisher: 0,
            seq,
        })
        .collect();
    let what = format!("{imps:?} rolling restart");
    let tally = tally(&[arrivals], false, 0, last);
    check_tally(&what, &tally, &windows);
    let per_restart: Vec<usize> = windows
        .iter()
        .map(|w| tally.missing.iter().filter(|n| w.contains(n)).count())
        .collect();
    eprintln!("{what}: lost {per_restart:?} of {last} at the restarts of nodes 2, 0, 1 (windows {windows:?})");
}

#[test]
fn clients_fail_over_through_a_rolling_restart() {
    rolling_restart(&[Impl::Natsd; 3]);
}

#[test]
fn clients_fail_over_through_a_rolling_restart_mixed() {
    if reference_available() {
        rolling_restart(&[Impl::Natsd, Impl::Reference, Impl::Natsd]);
    }
}
