//! The scenarios: what connections each opens, what they send, how the run
//! ends, and which figures it reports. Every scenario that moves messages
//! checks their delivery (see [`crate::check`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crate::check::{finish_group, read_stamp, stamp, Checker, STAMP_LEN};
use crate::client::{is_timeout, push_u64, Conn, Event};
use crate::proc;
use crate::report::{percentile, Better, Report};

/// Bytes a publisher writes at once.
const BATCH: usize = 64 * 1024;
/// How long a subscriber waits between looks at the run's state.
const POLL: Duration = Duration::from_millis(20);
/// How long subscribers wait for missing messages once publishing is over
/// (counted from the last delivery).
const IDLE: Duration = Duration::from_secs(3);
/// How long a requester waits for a reply before declaring it lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a two-server scenario (route, leaf, hub) waits for interest to
/// cross the link between its servers.
const LINK_TIMEOUT: Duration = Duration::from_secs(10);

pub type Res<T> = Result<T, String>;

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pub,
    PubSub,
    Fanout,
    Queue,
    ReqRep,
    Conns,
    Subs,
    Route,
    /// pubsub in each of several accounts, all on the same subject.
    Accounts,
    /// Across a leafnode link, upstream: publishers on the leaf, subscribers
    /// on its hub.
    Leaf,
    /// Across a leafnode link, downstream: publishers on the hub, subscribers
    /// on its leaf.
    Hub,
}

impl Kind {
    pub const ALL: [(&'static str, Kind); 11] = [
        ("pub", Kind::Pub),
        ("pubsub", Kind::PubSub),
        ("fanout", Kind::Fanout),
        ("queue", Kind::Queue),
        ("reqrep", Kind::ReqRep),
        ("conns", Kind::Conns),
        ("subs", Kind::Subs),
        ("route", Kind::Route),
        ("accounts", Kind::Accounts),
        ("leaf", Kind::Leaf),
        ("hub", Kind::Hub),
    ];

    /// Default (publishers, subscribers).
    fn default_clients(self) -> (usize, usize) {
        match self {
            Kind::Pub => (1, 0),
            Kind::Fanout => (1, 8),
            Kind::Queue => (1, 4),
            _ => (1, 1),
        }
    }
}

/// Tunables of a run, from the command line and the scenario's `key=value`s.
#[derive(Clone, Debug)]
pub struct Params {
    /// Payload bytes per message.
    pub size: usize,
    /// Messages in all (requests, for reqrep); `None`: run for `duration`.
    pub count: Option<u64>,
    pub duration: Duration,
    pub pubs: Option<usize>,
    pub subs: Option<usize>,
    /// Idle connections opened by `conns`.
    pub conns: usize,
    /// Distinct subscriptions inserted by `subs`.
    pub subjects: usize,
    /// Accounts of `accounts`, each with `pubs` publishers and `subs`
    /// subscribers of its own.
    pub accounts: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            size: 128,
            count: None,
            duration: Duration::from_secs(2),
            pubs: None,
            subs: None,
            conns: 10_000,
            subjects: 10_000,
            accounts: 4,
        }
    }
}

impl Params {
    fn pubs(&self) -> usize {
        self.pubs.unwrap_or(1)
    }

    fn subs(&self) -> usize {
        self.subs.unwrap_or(1)
    }

    /// Sets one `key=value` (a scenario suffix such as `size=16`).
    pub fn set(&mut self, key: &str, value: &str) -> Res<()> {
        let bad = |e: std::num::ParseIntError| format!("{key}={value}: {e}");
        match key {
            "size" => self.size = value.parse().map_err(bad)?,
            "count" => self.count = Some(value.parse().map_err(bad)?),
            "duration" => {
                let secs: f64 = value.parse().map_err(|e| format!("{key}={value}: {e}"))?;
                self.duration =
                    Duration::try_from_secs_f64(secs).map_err(|e| format!("{key}={value}: {e}"))?;
                self.count = None;
            }
            "pubs" => self.pubs = Some(value.parse().map_err(bad)?),
            "subs" => self.subs = Some(value.parse().map_err(bad)?),
            "conns" => self.conns = value.parse().map_err(bad)?,
            "subjects" => self.subjects = value.parse().map_err(bad)?,
            "accounts" => self.accounts = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown scenario option {key:?}")),
        }
        Ok(())
    }
}

/// A scenario with its parameters, e.g. `pubsub:size=16,subs=2`.
#[derive(Clone, Debug)]
pub struct Spec {
    pub label: String,
    pub kind: Kind,
    pub params: Params,
}

impl Spec {
    /// Parses `NAME[:key=value,...]` over the given defaults.
    pub fn parse(text: &str, defaults: &Params) -> Res<Spec> {
        let (name, opts) = text.split_once(':').unwrap_or((text, ""));
        let kind = Kind::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, k)| k)
            .ok_or_else(|| format!("unknown scenario {name:?}"))?;
        let mut params = defaults.clone();
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| format!("{opt:?} is not key=value"))?;
            params.set(key, value)?;
        }
        if params.size < STAMP_LEN {
            return Err(format!(
                "{text}: message size must be at least {STAMP_LEN} bytes"
            ));
        }
        let (pubs, subs) = kind.default_clients();
        params.pubs.get_or_insert(pubs);
        params.subs.get_or_insert(subs);
        if params.accounts == 0 {
            return Err(format!("{text}: accounts must be at least 1"));
        }
        // Publisher ids are unique over all accounts.
        let accounts = if kind == Kind::Accounts {
            params.accounts
        } else {
            1
        };
        let max = usize::from(u16::MAX / 2);
        if params.pubs() == 0 || params.pubs().saturating_mul(accounts) > max {
            return Err(format!(
                "{text}: publishers must be 1..{max} (over all accounts)"
            ));
        }
        let needs_subs = matches!(
            kind,
            Kind::PubSub
                | Kind::Fanout
                | Kind::Queue
                | Kind::Route
                | Kind::Accounts
                | Kind::Leaf
                | Kind::Hub
        );
        if (needs_subs && params.subs() == 0) || params.conns == 0 || params.subjects == 0 {
            return Err(format!(
                "{text}: subs, conns and subjects must be at least 1"
            ));
        }
        Ok(Spec {
            label: text.to_string(),
            kind,
            params,
        })
    }

    /// The accounts clients sign in to: `A0`, `A1`, ... for the accounts
    /// scenario, none (anonymous clients) for the others.
    pub fn accounts(&self) -> Vec<Account> {
        if self.kind != Kind::Accounts {
            return Vec::new();
        }
        (0..self.params.accounts)
            .map(|k| Account {
                name: format!("A{k}"),
                user: format!("a{k}"),
                password: format!("a{k}"),
            })
            .collect()
    }

    /// The configuration file the server needs for this scenario, if any:
    /// for accounts, one account per [`Spec::accounts`] with its user.
    pub fn server_config(&self) -> Option<String> {
        let accounts = self.accounts();
        if accounts.is_empty() {
            return None;
        }
        let mut conf = format!("# natsd-bench {}\naccounts {{\n", self.label);
        for a in &accounts {
            conf.push_str(&format!(
                "  {} {{ users = [{{user: {}, password: {}}}] }}\n",
                a.name, a.user, a.password
            ));
        }
        conf.push_str("}\n");
        Some(conf)
    }
}

/// An account of the accounts scenario: an isolated subject space, and the
/// one user (with a plain-text password) whose clients sign in to it.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub user: String,
    pub password: String,
}

/// Where a scenario runs: server URLs, and the servers' pids when known.
pub struct Target {
    pub urls: Vec<String>,
    pub pids: Vec<u32>,
}

/// How long a run waits after its load for the servers' memory to settle.
const SETTLE_WAIT: Duration = Duration::from_secs(10);
/// Settled: back within this of the RSS before the load.
const SETTLED_MARGIN: u64 = 1024 * 1024;

/// Runs a scenario once; a delivery violation or a client error is an `Err`.
/// With the servers' pids, the report adds their CPU seconds per million
/// messages of work, their peak resident memory, their RSS before the load and
/// once it settled after it (within 1 MB of that, or after 10 s), summed over the
/// servers.
pub fn run(spec: &Spec, target: &Target) -> Res<Report> {
    if target.pids.is_empty() {
        return run_scenario(spec, target);
    }
    let cpu_seconds = || -> Res<f64> {
        let mut total = 0.0;
        for &pid in &target.pids {
            total += proc::cpu_seconds(pid)
                .map_err(|e| format!("{}: server process {pid}: {e}", spec.label))?;
        }
        Ok(total)
    };
    let rss = || -> Res<u64> {
        let mut total = 0;
        for &pid in &target.pids {
            total += proc::status_bytes(pid, "VmRSS")
                .map_err(|e| format!("{}: server process {pid}: {e}", spec.label))?;
        }
        Ok(total)
    };
    let idle_rss = rss()?;
    let mut idle_private = 0;
    for &pid in &target.pids {
        idle_private += proc::private_bytes(pid)
            .map_err(|e| format!("{}: server process {pid}: {e}", spec.label))?;
    }
    let cpu_before = cpu_seconds()?;
    let mut report = run_scenario(spec, target)?;
    let cpu = cpu_seconds()? - cpu_before;
    if report.work > 0 {
        let per_million = cpu / report.work as f64 * 1e6;
        report.add(
            "server_cpu_s_per_million",
            "s/M msgs",
            Better::Lower,
            per_million,
        );
    }
    let mut peak = 0;
    for &pid in &target.pids {
        peak += proc::status_bytes(pid, "VmHWM")
            .map_err(|e| format!("{}: server process {pid}: {e}", spec.label))?;
    }
    report.add("server_peak_rss_mb", "MB", Better::Lower, peak as f64 / 1e6);
    // What the servers give back once the load is over: RSS when it is back within
    // SETTLED_MARGIN of the idle RSS measured before, or after SETTLE_WAIT.
    let settle_until = Instant::now() + SETTLE_WAIT;
    let settled = loop {
        let now = rss()?;
        if now <= idle_rss + SETTLED_MARGIN || Instant::now() >= settle_until {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    report.add(
        "server_idle_rss_mb",
        "MB",
        Better::Lower,
        idle_rss as f64 / 1e6,
    );
    report.add(
        "server_idle_uss_mb",
        "MB",
        Better::Lower,
        idle_private as f64 / 1e6,
    );
    report.add(
        "server_settled_rss_mb",
        "MB",
        Better::Lower,
        settled as f64 / 1e6,
    );
    Ok(report)
}

fn run_scenario(spec: &Spec, target: &Target) -> Res<Report> {
    let url = target.urls.first().ok_or("no server URL")?;
    let p = &spec.params;
    let subject = format!("bench.{}", std::process::id());
    // Two-server scenarios: route's URLs are (publishers, subscribers), the
    // leafnode ones' (hub, leaf) whichever way the messages go.
    let (pub_url, sub_url) = match (spec.kind, &target.urls[..]) {
        (Kind::Route, [a, b]) => (a, b),
        (Kind::Leaf, [hub, leaf]) => (leaf, hub),
        (Kind::Hub, [hub, leaf]) => (hub, leaf),
        (Kind::Route, _) => {
            return Err(
                "route needs two --url values: node A (publishers) and node B (subscribers)".into(),
            )
        }
        (Kind::Leaf | Kind::Hub, _) => {
            return Err(format!(
                "{} needs two --url values: the hub's, then its leaf's",
                spec.label
            ))
        }
        _ => (url, url),
    };
    let accounts = spec.accounts();
    let flow = |queue| Flow {
        label: &spec.label,
        size: p.size,
        count: p.count,
        duration: p.duration,
        queue,
        idle: IDLE,
        accounts: &accounts,
    };
    let pubs = p.pubs();
    match spec.kind {
        Kind::Pub => stream(&flow(false), pub_url, sub_url, &subject, pubs, 0),
        Kind::PubSub | Kind::Fanout | Kind::Route | Kind::Accounts | Kind::Leaf | Kind::Hub => {
            stream(&flow(false), pub_url, sub_url, &subject, pubs, p.subs())
        }
        Kind::Queue => stream(&flow(true), pub_url, sub_url, &subject, pubs, p.subs()),
        Kind::ReqRep => reqrep(spec, url, &subject),
        Kind::Conns => conns(spec, url, target.pids.first().copied()),
        Kind::Subs => subs(&flow(false), url, &subject, pubs, p.subjects),
    }
}

/// Client `i`'s share of `count` messages split between `clients`.
fn share(count: Option<u64>, clients: usize, i: usize) -> Option<u64> {
    let clients = clients as u64;
    count.map(|n| n / clients + u64::from((i as u64) < n % clients))
}

fn connect(url: &str, who: &str) -> Res<Conn> {
    connect_as(url, who, None)
}

/// [`connect`], signing in as (user, password) when given.
fn connect_as(url: &str, who: &str, login: Option<(&str, &str)>) -> Res<Conn> {
    Conn::connect(url, login).map_err(|e| format!("{who}: connecting to {url}: {e}"))
}

fn io_err(who: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{who}: {e}")
}

/// The shape of a publish/deliver run.
struct Flow<'a> {
    label: &'a str,
    size: usize,
    count: Option<u64>,
    duration: Duration,
    /// Subscribers form one queue group (each message to exactly one).
    queue: bool,
    /// How long subscribers wait for missing messages once publishing is over.
    idle: Duration,
    /// The accounts clients sign in to, each an isolated subject space with
    /// publishers and subscribers of its own (as many in each); empty: one
    /// space of anonymous clients.
    accounts: &'a [Account],
}

impl Flow<'_> {
    /// Subject spaces: one per account, or the one of anonymous clients.
    fn spaces(&self) -> usize {
        self.accounts.len().max(1)
    }

    /// Names client `i` of a `role` in a subject space, e.g. `pubsub
    /// subscriber 0` or `accounts A2 publisher 0`.
    fn who(&self, role: &str, space: usize, i: usize) -> String {
        match self.accounts.get(space) {
            Some(account) => format!("{} {} {role} {i}", self.label, account.name),
            None => format!("{} {role} {i}", self.label),
        }
    }

    /// The (user, password) of a subject space's clients.
    fn login(&self, space: usize) -> Option<(&str, &str)> {
        let account = self.accounts.get(space)?;
        Some((&account.user, &account.password))
    }
}

/// Which subjects a publisher cycles through: `prefix` alone, or
/// `prefix.<seq % n>`.
#[derive(Clone)]
struct Subjects {
    prefix: String,
    cycle: Option<u64>,
}

/// State shared by the threads of a run.
struct Shared {
    /// Set once every publisher has flushed; the totals are final then.
    done: AtomicBool,
    /// Per subject space (see [`Flow::accounts`]).
    spaces: Vec<Space>,
    /// Set when any thread failed, so the others stop early.
    failed: AtomicBool,
    /// When publishers stop, unless they have a count to send.
    deadline: Instant,
}

/// The counts of one subject space.
#[derive(Default)]
struct Space {
    /// Messages its publishers sent.
    total: AtomicU64,
    /// Messages received by all members of its queue group together.
    group: AtomicU64,
}

/// What a publish/deliver run produced, before its checks are finished.
struct Outcome {
    sent: Vec<u64>,
    checkers: Vec<Checker>,
    subs: Vec<Conn>,
    /// From the start to the last publisher's flush, and to the last delivery.
    pub_elapsed: Duration,
    sub_elapsed: Duration,
}

/// Publishers `0..pubs` (ids from `first_id`) publish on `pub_conns` while
/// `sub_conns` receive; returns once every subscriber has everything or has
/// waited `flow.idle` for it. Both lists hold the clients of each subject
/// space in turn, as many in each; a subscriber expects the messages of its
/// space's publishers (by index) and flags any other.
fn drive(
    flow: &Flow,
    subjects: &Subjects,
    first_id: u16,
    pub_conns: Vec<Conn>,
    sub_conns: Vec<Conn>,
) -> Res<Outcome> {
    let pubs = pub_conns.len();
    let spaces = flow.spaces();
    let (space_pubs, space_subs) = (pubs / spaces, sub_conns.len() / spaces);
    let start = Instant::now();
    let shared = Shared {
        done: AtomicBool::new(false),
        spaces: (0..spaces).map(|_| Space::default()).collect(),
        failed: AtomicBool::new(false),
        deadline: start + flow.duration,
    };
    thread::scope(|s| {
        let subs: Vec<_> = sub_conns
            .into_iter()
            .enumerate()
            .map(|(i, conn)| {
                let shared = &shared;
                let space = i / space_subs;
                let who = flow.who("subscriber", space, i % space_subs);
                let checker = Checker::new(who, space_pubs, flow.size)
                    .first_publisher((space * space_pubs) as u16);
                s.spawn(move || receive(conn, checker, flow, shared, &shared.spaces[space]))
            })
            .collect();
        let publishers: Vec<_> = pub_conns
            .into_iter()
            .enumerate()
            .map(|(i, conn)| {
                let (shared, subjects) = (&shared, subjects.clone());
                let id = first_id + i as u16;
                let who = flow.who("publisher", i / space_pubs, i % space_pubs);
                s.spawn(move || {
                    publish(
                        conn,
                        &who,
                        id,
                        &subjects,
                        flow.size,
                        share(flow.count, pubs, i),
                        shared,
                    )
                })
            })
            .collect();
        let mut errors = Vec::new();
        let mut sent = Vec::new();
        let mut pub_end = start;
        for handle in publishers {
            match handle.join().expect("publisher thread panicked") {
                Ok((n, end)) => {
                    sent.push(n);
                    pub_end = pub_end.max(end);
                }
                Err(e) => {
                    sent.push(0);
                    errors.push(e);
                }
            }
        }
        for (k, space) in shared.spaces.iter().enumerate() {
            let own = &sent[k * space_pubs..(k + 1) * space_pubs];
            space.total.store(own.iter().sum(), Relaxed);
        }
        shared.done.store(true, Relaxed);
        let mut checkers = Vec::new();
        let mut conns = Vec::new();
        let mut sub_end = pub_end;
        for handle in subs {
            match handle.join().expect("subscriber thread panicked") {
                Ok((conn, checker, last)) => {
                    sub_end = sub_end.max(last);
                    conns.push(conn);
                    checkers.push(checker);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(Outcome {
            sent,
            checkers,
            subs: conns,
            pub_elapsed: pub_end - start,
            sub_elapsed: sub_end - start,
        })
    })
}

/// A publisher: `quota` messages, or as many as fit before the deadline, then
/// a flush. Returns how many it sent and when the flush came back.
fn publish(
    mut conn: Conn,
    who: &str,
    id: u16,
    subjects: &Subjects,
    size: usize,
    quota: Option<u64>,
    shared: &Shared,
) -> Res<(u64, Instant)> {
    let result = (|| {
        let mut seq = 0;
        let more = |seq: u64| match quota {
            Some(q) => q - seq,
            None if Instant::now() < shared.deadline => u64::MAX,
            None => 0,
        };
        match subjects.cycle {
            // One subject: a 64 KB batch of prebuilt frames whose stamps are
            // rewritten in place, written as it is.
            None => {
                let mut frame = format!("PUB {} {size}\r\n", subjects.prefix).into_bytes();
                let at = frame.len();
                frame.resize(at + size, b'x');
                frame.extend_from_slice(b"\r\n");
                let mut batch = frame.repeat((BATCH / frame.len()).max(1));
                while !shared.failed.load(Relaxed) {
                    let n = more(seq).min((batch.len() / frame.len()) as u64) as usize;
                    if n == 0 {
                        break;
                    }
                    for f in batch.chunks_mut(frame.len()).take(n) {
                        stamp(&mut f[at..], id, seq);
                        seq += 1;
                    }
                    conn.write_direct(&batch[..n * frame.len()])?;
                }
            }
            // A cycle of subjects: each PUB formatted.
            Some(cycle) => {
                let mut payload = vec![b'x'; size];
                let mut subject = subjects.prefix.as_bytes().to_vec();
                loop {
                    let check = seq % 256 == 0 && (shared.failed.load(Relaxed) || more(seq) == 0);
                    if check || quota == Some(seq) {
                        break;
                    }
                    stamp(&mut payload, id, seq);
                    subject.truncate(subjects.prefix.len());
                    subject.push(b'.');
                    push_u64(&mut subject, seq % cycle);
                    conn.publish(&subject, None, &payload)?;
                    seq += 1;
                }
            }
        }
        conn.flush()?;
        Ok((seq, Instant::now()))
    })();
    result.map_err(|e: std::io::Error| {
        shared.failed.store(true, Relaxed);
        format!("{who}: {e}")
    })
}

/// A subscriber: records every delivery until it (or its queue group) has
/// all that was sent in its subject `space`, then drains what the server
/// still holds for it. Returns the connection, the checker and the time of
/// the last delivery.
fn receive(
    mut conn: Conn,
    mut checker: Checker,
    flow: &Flow,
    shared: &Shared,
    space: &Space,
) -> Res<(Conn, Checker, Instant)> {
    let fail = |e: std::io::Error, checker: &Checker| {
        shared.failed.store(true, Relaxed);
        format!(
            "{}: {e} (after {} messages)",
            checker.who(),
            checker.received()
        )
    };
    conn.set_read_timeout(Some(POLL))
        .map_err(|e| fail(e, &checker))?;
    let mut last = Instant::now();
    // Whether every message has arrived (at this subscriber, or at the whole
    // queue group); `counted` is what this member has added to the group.
    let mut counted = 0;
    let mut complete = |checker: &Checker| {
        let total = space.total.load(Relaxed);
        if !flow.queue {
            return checker.received() >= total;
        }
        let delta = checker.received() - counted;
        counted = checker.received();
        space.group.fetch_add(delta, Relaxed) + delta >= total
    };
    loop {
        match conn.next_event() {
            Ok(Event::Msg(m)) => {
                checker.record(m.payload);
                if conn.has_buffered_input() {
                    continue;
                }
                last = Instant::now();
                if shared.done.load(Relaxed) && complete(&checker) {
                    break;
                }
            }
            Ok(Event::Pong) => {}
            Err(e) if is_timeout(&e) => {
                if shared.failed.load(Relaxed) {
                    break;
                }
                if shared.done.load(Relaxed) && (complete(&checker) || last.elapsed() >= flow.idle)
                {
                    break;
                }
            }
            Err(e) => return Err(fail(e, &checker)),
        }
    }
    // Whatever the server still queued for us (a duplicate, say) comes
    // before the answer to this PING.
    if let Err(e) = drain(&mut conn, &mut checker) {
        return Err(fail(e, &checker));
    }
    Ok((conn, checker, last))
}

/// Sends a `PING` and records every message that arrives before its `PONG`.
pub(crate) fn drain(conn: &mut Conn, checker: &mut Checker) -> std::io::Result<()> {
    conn.set_read_timeout(Some(REPLY_TIMEOUT))?;
    conn.ping()?;
    loop {
        match conn.next_event()? {
            Event::Msg(m) => checker.record(m.payload),
            Event::Pong => return Ok(()),
        }
    }
}

/// Finishes the checks of a run: each subscriber alone, or the queue group.
fn finish_checks(flow: &Flow, checkers: Vec<Checker>, sent: &[u64]) -> Res<()> {
    if flow.queue {
        return finish_group(&format!("{} queue group", flow.label), checkers, sent)
            .map_err(|f| f.to_string());
    }
    let errors: Vec<String> = checkers
        .into_iter()
        .filter_map(|c| c.finish(sent).err())
        .map(|f| f.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// pub, pubsub, fanout, queue, route, accounts, leaf and hub: `pubs` publishers on
/// `pub_url` send to `subject`, `subs` subscribers on `sub_url` receive it;
/// with accounts, that many in each account, on the same subject.
fn stream(
    flow: &Flow,
    pub_url: &str,
    sub_url: &str,
    subject: &str,
    pubs: usize,
    subs: usize,
) -> Res<Report> {
    let mut sub_conns = Vec::new();
    for space in 0..flow.spaces() {
        for i in 0..subs {
            let who = flow.who("subscriber", space, i);
            let mut conn = connect_as(sub_url, &who, flow.login(space))?;
            let queue = flow.queue.then_some("q");
            conn.subscribe(subject, queue, 1)
                .and_then(|_| conn.flush())
                .map_err(io_err(&who))?;
            sub_conns.push(conn);
        }
    }
    if pub_url != sub_url {
        await_interest(flow.label, pub_url, &mut sub_conns, subject)?;
    }
    let mut pub_conns = Vec::new();
    for space in 0..flow.spaces() {
        for i in 0..pubs {
            let who = flow.who("publisher", space, i);
            pub_conns.push(connect_as(pub_url, &who, flow.login(space))?);
        }
    }
    let subjects = Subjects {
        prefix: subject.to_string(),
        cycle: None,
    };
    let out = drive(flow, &subjects, 0, pub_conns, sub_conns)?;
    let mut report = Report::new(flow.label);
    report.published = out.sent.iter().sum();
    report.delivered = out.checkers.iter().map(Checker::received).sum();
    if subs == 0 {
        report.elapsed_s = out.pub_elapsed.as_secs_f64();
        report.work = report.published;
    } else {
        report.elapsed_s = out.sub_elapsed.as_secs_f64();
        report.work = report.delivered;
    }
    report.add_rate(report.work, flow.size);
    finish_checks(flow, out.checkers, &out.sent)?;
    Ok(report)
}

/// Waits until a message published on `pub_url` reaches every subscriber on
/// another server (across a route or a leafnode link, which also tells that
/// the link is up): each subscribes to a probe subject (after the real one, so
/// the link has carried both) and probes are sent until one arrives.
fn await_interest(label: &str, pub_url: &str, subs: &mut [Conn], subject: &str) -> Res<()> {
    let who = format!("{label} interest probe");
    let mut prober = connect(pub_url, &who)?;
    let deadline = Instant::now() + LINK_TIMEOUT;
    for (i, conn) in subs.iter_mut().enumerate() {
        let probe = format!("{subject}.probe.{i}");
        let result = (|| {
            conn.subscribe(&probe, None, 2)?;
            conn.flush()?;
            conn.set_read_timeout(Some(Duration::from_millis(100)))?;
            'probing: loop {
                if Instant::now() >= deadline {
                    return Err(std::io::Error::other(format!(
                        "interest did not cross to the publishers' server within {LINK_TIMEOUT:?}"
                    )));
                }
                prober.publish(probe.as_bytes(), None, b"probe")?;
                prober.write_out()?;
                loop {
                    match conn.next_event() {
                        Ok(Event::Msg(m)) if m.sid == 2 => break 'probing,
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => continue 'probing,
                        Err(e) => return Err(e),
                    }
                }
            }
            // Late probes arrive before the PONG that follows the UNSUB.
            conn.unsubscribe(2)?;
            conn.ping()?;
            while let Event::Msg(_) = conn.next_event()? {}
            conn.set_read_timeout(None)
        })();
        result.map_err(io_err(&who))?;
    }
    Ok(())
}

/// subs: one connection inserts `n` subscriptions on distinct subjects; then
/// publishers send to those subjects in turn (each message matching one), and
/// then to as many subjects that match none.
fn subs(flow: &Flow, url: &str, subject: &str, pubs: usize, n: usize) -> Res<Report> {
    let who = format!("{} subscriber 0", flow.label);
    let mut sub = connect(url, &who)?;
    let start = Instant::now();
    for i in 0..n {
        sub.subscribe(&format!("{subject}.match.{i}"), None, i as u64 + 1)
            .map_err(io_err(&who))?;
    }
    sub.flush().map_err(io_err(&who))?;
    let insert = start.elapsed();
    let connect_pubs = || {
        (0..pubs)
            .map(|i| connect(url, &format!("{} publisher {i}", flow.label)))
            .collect::<Res<Vec<_>>>()
    };
    let matching = Subjects {
        prefix: format!("{subject}.match"),
        cycle: Some(n as u64),
    };
    let hits = drive(flow, &matching, 0, connect_pubs()?, vec![sub])?;
    // The publishers of the second phase have ids beyond the checker's
    // publishers: any delivery to the subscriber is flagged.
    let nomatch = Subjects {
        prefix: format!("{subject}.none"),
        cycle: Some(n as u64),
    };
    let misses = drive(flow, &nomatch, pubs as u16, connect_pubs()?, Vec::new())?;
    let mut stray = Checker::new(
        format!("{} subscriber 0 (non-matching phase)", flow.label),
        pubs,
        flow.size,
    );
    let mut sub_conn = hits.subs.into_iter().next().ok_or("subscriber lost")?;
    drain(&mut sub_conn, &mut stray).map_err(io_err(&who))?;

    let mut report = Report::new(flow.label);
    let (hit_sent, miss_sent) = (
        hits.sent.iter().sum::<u64>(),
        misses.sent.iter().sum::<u64>(),
    );
    report.published = hit_sent + miss_sent;
    report.delivered = hits.checkers.iter().map(Checker::received).sum();
    report.work = report.published;
    report.elapsed_s = (insert + hits.sub_elapsed + misses.pub_elapsed).as_secs_f64();
    let rate = |msgs: u64, d: Duration| msgs as f64 / d.as_secs_f64().max(1e-9);
    report.add(
        "sub_inserts_per_sec",
        "subs/s",
        Better::Higher,
        rate(n as u64, insert),
    );
    report.add(
        "match_msgs_per_sec",
        "msgs/s",
        Better::Higher,
        rate(report.delivered, hits.sub_elapsed),
    );
    report.add(
        "nomatch_msgs_per_sec",
        "msgs/s",
        Better::Higher,
        rate(miss_sent, misses.pub_elapsed),
    );
    finish_checks(flow, hits.checkers, &hits.sent)?;
    stray.finish(&vec![0; pubs]).map_err(|f| f.to_string())?;
    Ok(report)
}

/// reqrep: one responder answers; `pubs` requesters each send a request, wait
/// for its reply on a wildcard inbox subscription, and send the next.
fn reqrep(spec: &Spec, url: &str, subject: &str) -> Res<Report> {
    let p = &spec.params;
    let label = &spec.label;
    let requesters = p.pubs();
    let service = format!("{subject}.req");
    let responder_who = format!("{label} responder");
    let mut responder = connect(url, &responder_who)?;
    responder
        .subscribe(&service, None, 1)
        .and_then(|_| responder.flush())
        .map_err(io_err(&responder_who))?;
    let mut clients = Vec::new();
    for id in 0..requesters {
        let who = format!("{label} requester {id}");
        let mut conn = connect(url, &who)?;
        let inbox = format!("_INBOX.{}.{id}", std::process::id());
        conn.subscribe(&format!("{inbox}.*"), None, 1)
            .and_then(|_| conn.flush())
            .map_err(io_err(&who))?;
        let quota = share(p.count, requesters, id);
        clients.push(Requester {
            id,
            who,
            inbox,
            conn,
            quota,
        });
    }
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let plan = Requests {
        service: service.as_bytes(),
        size: p.size,
        deadline: start + p.duration,
        requesters,
    };
    let (results, answered) = thread::scope(|s| {
        let done = &done;
        let answering = s.spawn(move || answer(responder, requesters, p.size, done));
        let plan = &plan;
        let handles: Vec<_> = clients
            .into_iter()
            .map(|client| s.spawn(move || request(client, plan)))
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("requester thread panicked"))
            .collect();
        done.store(true, Relaxed);
        (
            results,
            answering.join().expect("responder thread panicked"),
        )
    });
    let elapsed = start.elapsed();
    let mut latencies = Vec::new();
    let mut sent = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok((n, lat, check)) => {
                sent.push(n);
                latencies.extend(lat);
                if let Err(e) = check {
                    errors.push(e);
                }
            }
            Err(e) => {
                sent.push(0);
                errors.push(e);
            }
        }
    }
    match answered {
        Ok(checker) => {
            if let Err(f) = checker.finish(&sent) {
                errors.push(f.to_string());
            }
        }
        Err(e) => errors.push(format!("{responder_who}: {e}")),
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    latencies.sort_unstable();
    let mut report = Report::new(label);
    report.published = sent.iter().sum();
    report.delivered = latencies.len() as u64;
    report.work = report.delivered;
    report.elapsed_s = elapsed.as_secs_f64();
    let rate = report.delivered as f64 / report.elapsed_s.max(1e-9);
    report.add("msgs_per_sec", "req/s", Better::Higher, rate);
    for (name, q) in [
        ("latency_p50_us", 0.5),
        ("latency_p90_us", 0.9),
        ("latency_p99_us", 0.99),
        ("latency_p99_9_us", 0.999),
        ("latency_max_us", 1.0),
    ] {
        report.add(
            name,
            "µs",
            Better::Lower,
            percentile(&latencies, q) as f64 / 1e3,
        );
    }
    Ok(report)
}

/// The responder: echoes each request's payload to its reply subject,
/// writing out whenever no more input is buffered.
fn answer(
    mut conn: Conn,
    requesters: usize,
    size: usize,
    done: &AtomicBool,
) -> std::io::Result<Checker> {
    let mut checker = Checker::new("reqrep responder", requesters, size);
    let (mut reply, mut payload) = (Vec::new(), Vec::new());
    conn.set_read_timeout(Some(POLL))?;
    loop {
        match conn.next_event() {
            Ok(Event::Msg(m)) => {
                checker.record(m.payload);
                let to = m
                    .reply
                    .ok_or_else(|| std::io::Error::other("request without a reply subject"))?;
                reply.clear();
                reply.extend_from_slice(to);
                payload.clear();
                payload.extend_from_slice(m.payload);
                conn.publish(&reply, None, &payload)?;
                if !conn.has_buffered_input() {
                    conn.write_out()?;
                }
            }
            Ok(Event::Pong) => {}
            Err(e) if is_timeout(&e) => {
                if done.load(Relaxed) {
                    return Ok(checker);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// What all requesters of a reqrep run share.
struct Requests<'a> {
    service: &'a [u8],
    size: usize,
    deadline: Instant,
    requesters: usize,
}

/// One requester, with its connection subscribed to `<inbox>.*`.
struct Requester {
    id: usize,
    who: String,
    inbox: String,
    conn: Conn,
    quota: Option<u64>,
}

/// A requester: sequential requests; returns how many it sent, the latency
/// of each in nanoseconds, and the check of its replies.
fn request(client: Requester, plan: &Requests) -> Res<(u64, Vec<u64>, Res<()>)> {
    let Requester {
        id,
        who,
        inbox,
        mut conn,
        quota,
    } = client;
    let (who, size, requesters) = (who.as_str(), plan.size, plan.requesters);
    let mut checker = Checker::new(who, requesters, size);
    let mut payload = vec![b'x'; size];
    let mut reply = format!("{inbox}.").into_bytes();
    let prefix_len = reply.len();
    let mut latencies = Vec::new();
    let mut seq = 0;
    conn.set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(io_err(who))?;
    'requests: while quota.map_or(Instant::now() < plan.deadline, |q| seq < q) {
        stamp(&mut payload, id as u16, seq);
        reply.truncate(prefix_len);
        push_u64(&mut reply, seq);
        let t0 = Instant::now();
        conn.publish(plan.service, Some(&reply), &payload)
            .and_then(|_| conn.write_out())
            .map_err(io_err(who))?;
        seq += 1;
        loop {
            match conn.next_event() {
                Ok(Event::Msg(m)) => {
                    checker.record(m.payload);
                    if read_stamp(m.payload) == Some((id as u16, seq - 1)) {
                        latencies.push(t0.elapsed().as_nanos() as u64);
                        if m.subject != reply {
                            let to = String::from_utf8_lossy(m.subject);
                            return Err(format!(
                                "{who}: reply to seq {} delivered on {to}",
                                seq - 1
                            ));
                        }
                        break;
                    }
                }
                Ok(Event::Pong) => {}
                // The reply is lost: the check below reports it.
                Err(e) if is_timeout(&e) => break 'requests,
                Err(e) => return Err(format!("{who}: {e}")),
            }
        }
    }
    let mut sent = vec![0; requesters];
    sent[id] = seq;
    Ok((
        seq,
        latencies,
        checker.finish(&sent).map_err(|f| f.to_string()),
    ))
}

/// conns: opens `n` idle connections and reports how much the server's
/// resident memory grew per connection; every connection must still answer a
/// `PING` at the end.
fn conns(spec: &Spec, url: &str, pid: Option<u32>) -> Res<Report> {
    let pid = pid.ok_or("conns needs the server's pid: use --pid, or compare mode")?;
    let n = spec.params.conns;
    let rss = || {
        proc::status_bytes(pid, "VmRSS").map_err(|e| format!("{}: server memory: {e}", spec.label))
    };
    let before = rss()?;
    let start = Instant::now();
    let mut open = Vec::with_capacity(n);
    for i in 0..n {
        open.push(connect(url, &format!("{} connection {i}", spec.label))?);
    }
    let elapsed = start.elapsed();
    // Let the server settle (buffers it frees after the handshake).
    thread::sleep(Duration::from_millis(200));
    let after = rss()?;
    for (i, conn) in open.iter_mut().enumerate() {
        conn.ping()
            .map_err(|e| format!("{} connection {i}: {e}", spec.label))?;
    }
    for (i, conn) in open.iter_mut().enumerate() {
        let alive = (|| {
            conn.set_read_timeout(Some(REPLY_TIMEOUT))?;
            match conn.next_event()? {
                Event::Pong => Ok(()),
                Event::Msg(_) => Err(std::io::Error::other("unexpected MSG")),
            }
        })();
        alive.map_err(|e| format!("{} connection {i}: {e}", spec.label))?;
    }
    let mut report = Report::new(&spec.label);
    report.elapsed_s = elapsed.as_secs_f64();
    report.add(
        "conns_per_sec",
        "conns/s",
        Better::Higher,
        n as f64 / report.elapsed_s.max(1e-9),
    );
    report.add(
        "server_idle_rss_mb",
        "MB",
        Better::Lower,
        before as f64 / 1e6,
    );
    let growth = after.saturating_sub(before) as f64 / n.max(1) as f64;
    report.add("rss_per_conn_kb", "kB", Better::Lower, growth / 1e3);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// Subscriptions: the subscriber's user (its account), subject, sid, and
    /// its connection.
    type Subscribers = Arc<Mutex<Vec<(String, String, String, TcpStream)>>>;

    /// What a fake server gets wrong, counting messages in the order it
    /// relays them.
    #[derive(Clone, Copy)]
    enum Fault {
        None,
        /// Loses message number n.
        Drop(u64),
        /// Also delivers message number n to the subscribers of its subject in
        /// every other account.
        Leak(u64),
    }

    /// A fake "server": it relays each PUB to the subscribers of its exact
    /// subject in the publisher's account (its user name), apart from `fault`.
    fn fake_server(fault: Fault) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let subs = Subscribers::default();
        let relayed = Arc::new(AtomicU64::new(0));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (subs, relayed) = (subs.clone(), relayed.clone());
                thread::spawn(move || serve(stream, &subs, &relayed, fault));
            }
        });
        url
    }

    fn serve(
        mut out: TcpStream,
        subs: &Subscribers,
        relayed: &AtomicU64,
        fault: Fault,
    ) -> std::io::Result<()> {
        let mut input = BufReader::new(out.try_clone()?);
        out.write_all(b"INFO {}\r\n")?;
        let mut user = String::new();
        let mut line = String::new();
        while input.read_line(&mut line)? > 0 {
            if let Some(options) = line.strip_prefix("CONNECT ") {
                let options: serde_json::Value = serde_json::from_str(options).unwrap();
                user = options["user"].as_str().unwrap_or_default().into();
            }
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["PING"] => out.write_all(b"PONG\r\n")?,
                ["SUB", subject, sid] => subs.lock().unwrap().push((
                    user.clone(),
                    subject.into(),
                    sid.into(),
                    out.try_clone()?,
                )),
                ["PUB", subject, size] => {
                    let mut payload = vec![0; size.parse::<usize>().unwrap() + 2];
                    input.read_exact(&mut payload)?;
                    let n = relayed.fetch_add(1, Relaxed);
                    let to = |account: &str| match fault {
                        Fault::Drop(d) if d == n => false,
                        Fault::Leak(l) if l == n => true,
                        _ => account == user,
                    };
                    for (_, _, sid, sub) in subs
                        .lock()
                        .unwrap()
                        .iter_mut()
                        .filter(|s| s.1 == subject && to(&s.0))
                    {
                        sub.write_all(format!("MSG {subject} {sid} {size}\r\n").as_bytes())?;
                        sub.write_all(&payload)?;
                    }
                }
                _ => {}
            }
            line.clear();
        }
        Ok(())
    }

    fn flow(label: &str) -> Flow<'_> {
        let idle = Duration::from_millis(200);
        Flow {
            label,
            size: 16,
            count: Some(50),
            duration: Duration::ZERO,
            queue: false,
            idle,
            accounts: &[],
        }
    }

    #[test]
    fn a_server_that_drops_a_message_is_caught() {
        let url = fake_server(Fault::None);
        stream(&flow("pubsub"), &url, &url, "t", 1, 2).expect("a faithful relay passes");

        let url = fake_server(Fault::Drop(7));
        let err = stream(&flow("pubsub"), &url, &url, "t", 1, 1).unwrap_err();
        assert!(
            err.contains("pubsub subscriber 0") && err.contains("publisher 0 seq 7: lost"),
            "{err}"
        );
    }

    /// Each account's subscribers get exactly their account's messages: one
    /// message delivered into other accounts as well (the same subject in
    /// each) fails the run at those accounts' subscribers, though every
    /// subscriber has all of its own.
    #[test]
    fn a_server_that_leaks_a_message_across_accounts_is_caught() {
        let spec = Spec::parse("accounts:accounts=3", &Params::default()).unwrap();
        let accounts = spec.accounts();
        let flow = Flow {
            accounts: &accounts,
            count: Some(60),
            ..flow("accounts")
        };
        let url = fake_server(Fault::None);
        stream(&flow, &url, &url, "t", 2, 2).expect("a relay that keeps accounts apart passes");

        let url = fake_server(Fault::Leak(7));
        let err = stream(&flow, &url, &url, "t", 1, 1).unwrap_err();
        let leaked: Vec<&str> = err.lines().collect();
        assert_eq!(leaked.len(), 2, "{err}");
        for line in leaked {
            assert!(
                line.starts_with("accounts A")
                    && line.contains(
                        " subscriber 0: 1 delivery violation(s): unexpected message: publisher "
                    )
                    && line.contains("(not one of publishers "),
                "{err}"
            );
        }
    }

    /// The accounts scenario's server configuration: one account per
    /// account, each with its user, as nats-server reads it.
    #[test]
    fn accounts_config() {
        let spec = Spec::parse("accounts:accounts=2", &Params::default()).unwrap();
        assert_eq!(
            spec.server_config().unwrap(),
            "# natsd-bench accounts:accounts=2\naccounts {\n  \
             A0 { users = [{user: a0, password: a0}] }\n  \
             A1 { users = [{user: a1, password: a1}] }\n}\n"
        );
        let pubsub = Spec::parse("pubsub", &Params::default()).unwrap();
        assert!(pubsub.server_config().is_none() && pubsub.accounts().is_empty());
        assert!(Spec::parse("accounts:accounts=0", &Params::default()).is_err());
        assert!(Spec::parse("accounts:accounts=2000,pubs=20", &Params::default()).is_err());
    }

    /// The checks hold over TLS too: a `tls://` URL (natsd with the test certificates, in
    /// this process) carries a checked pubsub run.
    #[test]
    fn pubsub_over_tls_is_checked() {
        let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/certs");
        let tls = natsd::options::TlsOptions {
            cert_file: Some(certs.join("server-cert.pem")),
            key_file: Some(certs.join("server-key.pem")),
            ..Default::default()
        };
        let opts = natsd::Options {
            host: "127.0.0.1".into(),
            port: natsd::RANDOM_PORT,
            tls: Some(tls),
            ..Default::default()
        };
        let server = natsd::Server::start(opts).expect("natsd with TLS starts");
        crate::client::use_tls(&certs.join("ca.pem")).expect("test CA");
        let url = format!("tls://{}", server.client_addr());
        stream(&flow("pubsub"), &url, &url, "t", 1, 2).expect("checked run over TLS");
        let plain = format!("nats://{}", server.client_addr());
        assert!(stream(&flow("pubsub"), &plain, &plain, "t", 1, 1).is_err());
    }

    /// The leafnode scenarios over natsd in this process, a hub and a leaf of it
    /// configured with the files compare writes: the probe waits for the link, and
    /// every message crosses it exactly once and in order, both ways.
    #[test]
    fn leafnode_scenarios_cross_the_link_checked() {
        use crate::server::{free_port, hub_config, leaf_config};
        let port = free_port().expect("a free loopback port");
        let dir = std::env::temp_dir().join(format!("natsd-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let start = |file: &str, conf: String| {
            let path = dir.join(file);
            std::fs::write(&path, conf).unwrap();
            let mut opts = natsd::Options::default();
            let read = natsd::config::apply_file(&path, &mut opts);
            assert!(read.errors.is_empty(), "{file}: {:?}", read.errors);
            opts.host = "127.0.0.1".into();
            opts.port = natsd::RANDOM_PORT;
            natsd::Server::start(opts).expect("natsd starts")
        };
        let hub = start("hub.conf", hub_config(port));
        let leaf = start("leaf.conf", leaf_config(port));
        let _ = std::fs::remove_dir_all(&dir);
        let url = |s: &natsd::ServerHandle| format!("nats://{}", s.client_addr());
        let target = Target {
            urls: vec![url(&hub), url(&leaf)],
            pids: Vec::new(),
        };
        for name in ["leaf", "hub"] {
            let spec = Spec::parse(
                &format!("{name}:size=16,count=5000,pubs=2"),
                &Params::default(),
            )
            .unwrap();
            let report = run(&spec, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((report.published, report.delivered), (5000, 5000), "{name}");
            let one = Target {
                urls: vec![url(&hub)],
                pids: Vec::new(),
            };
            let err = run(&spec, &one).unwrap_err();
            assert!(err.contains("needs two --url values"), "{err}");
        }
    }

    #[test]
    fn scenario_specs_parse() {
        let spec = Spec::parse("fanout:size=16,duration=0.5", &Params::default()).unwrap();
        assert_eq!(
            (spec.kind, spec.params.size, spec.params.subs),
            (Kind::Fanout, 16, Some(8))
        );
        assert_eq!(spec.params.duration, Duration::from_millis(500));
        assert!(Spec::parse("pubsub:size=4", &Params::default()).is_err());
        assert!(Spec::parse("nope", &Params::default()).is_err());
        assert!(Spec::parse("pub:colour=red", &Params::default()).is_err());
    }
}
