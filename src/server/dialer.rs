//! The dialers: threads that resolve host names and connect, off the reactors, retrying as
//! the reference does, and hand each connected socket to a reactor. The route dialer
//! retries configured routes every second for ever and gossiped ones `connect_retries`
//! times; the leaf dialer tries each remote's URLs in turn every `reconnect` interval.

use std::collections::{HashSet, VecDeque};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, error};

use super::handover::{Dialled, LeafDialled};
use super::ServerShared;
use crate::route_url::RouteUrl;

/// How long one connection attempt may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between attempts, and before re-dialling a configured route that closed.
pub const RETRY_DELAY: Duration = Duration::from_secs(1);

/// One route to dial.
#[derive(Debug, Clone)]
pub struct DialJob {
    pub url: RouteUrl,
    /// A configured route: retried for ever.
    pub explicit: bool,
    pub due: Instant,
    pub attempts: u32,
}

/// A job that becomes due at some instant.
pub trait Due {
    fn due(&self) -> Instant;
}

impl Due for DialJob {
    fn due(&self) -> Instant {
        self.due
    }
}

/// A dialer's queue, shared with the reactors (which add re-dials).
pub struct DialQueue<J = DialJob> {
    jobs: Mutex<(VecDeque<J>, bool)>,
    ready: Condvar,
}

impl<J> Default for DialQueue<J> {
    fn default() -> Self {
        DialQueue {
            jobs: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        }
    }
}

impl<J: Due> DialQueue<J> {
    /// Queues a dial at its due time.
    pub fn push(&self, job: J) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.0.push_back(job);
        self.ready.notify_one();
    }

    /// How many dials are queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).0.len()
    }

    /// Ends the dialer thread.
    pub fn stop(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.ready.notify_all();
    }

    /// The next job once it is due; `None` when stopping.
    fn next(&self) -> Option<J> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if jobs.1 {
                return None;
            }
            let now = Instant::now();
            let due = jobs.0.iter().enumerate().min_by_key(|(_, j)| j.due());
            let wait = match due {
                Some((i, job)) if job.due() <= now => return jobs.0.remove(i),
                Some((_, job)) => job.due() - now,
                None => Duration::from_secs(3600),
            };
            jobs = self
                .ready
                .wait_timeout(jobs, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Starts the dialer thread.
pub fn start(shared: &Arc<ServerShared>) -> std::io::Result<JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("route-dialer".into())
        .spawn(move || run(&shared))
}

fn run(shared: &Arc<ServerShared>) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let mut next_reactor = 0;
    while let Some(mut job) = cluster.dials.next() {
        if shared.is_shutting_down() {
            return;
        }
        if job.explicit && !cluster.is_explicit(&job.url) {
            continue; // a reload removed it
        }
        let self_addrs = cluster.lock().self_addrs.clone();
        match dial(shared, &self_addrs, &job) {
            Ok(Some((sock, addr))) => {
                let Ok(()) = sock.set_nonblocking(true) else {
                    continue;
                };
                let dialled = Dialled {
                    sock: mio::net::TcpStream::from_std(sock),
                    addr,
                    url: job.url.clone(),
                    explicit: job.explicit,
                };
                let target = next_reactor % shared.reactors.len();
                next_reactor += 1;
                shared.reactors[target].post(|inbox| inbox.dialled.push(dialled));
            }
            Ok(None) => debug!("Not dialling {}: it is this server", job.url),
            Err(e) => {
                job.attempts += 1;
                let text = format!(
                    "Error trying to connect to route (attempt {}): {e}",
                    job.attempts
                );
                if job.explicit && job.attempts == 1 {
                    error!("{text}");
                } else {
                    debug!("{text}");
                }
                let retries = shared.settings.current().opts.cluster.connect_retries;
                if job.explicit || i64::from(job.attempts) <= retries {
                    job.due = Instant::now() + RETRY_DELAY;
                    cluster.dials.push(job);
                }
            }
        }
    }
}

/// Resolves and connects; `Ok(None)` when every address is this server.
fn dial(
    shared: &ServerShared,
    self_addrs: &HashSet<SocketAddr>,
    job: &DialJob,
) -> std::io::Result<Option<(TcpStream, SocketAddr)>> {
    let url = &job.url;
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port).to_socket_addrs()?.collect();
    let Some(addr) = addrs.into_iter().find(|a| !self_addrs.contains(a)) else {
        return Ok(None);
    };
    debug!("Trying to connect to route on {} ({addr})", url.host_port());
    let sock = TcpStream::connect_timeout(&addr, DIAL_TIMEOUT)?;
    let _ = sock.set_nodelay(true);
    if shared.shutdown.load(Ordering::Acquire) {
        return Err(std::io::ErrorKind::Interrupted.into());
    }
    Ok(Some((sock, addr)))
}

/// Starts the leaf dialer thread.
pub fn start_leaf(shared: &Arc<ServerShared>) -> std::io::Result<JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("leaf-dialer".into())
        .spawn(move || run_leaf(&shared))
}

fn run_leaf(shared: &Arc<ServerShared>) {
    let Some(leafnodes) = shared.leafnodes.as_ref() else {
        return;
    };
    let mut next_reactor = 0;
    let mut attempts = vec![0u32; leafnodes.remotes.len()];
    while let Some(mut job) = leafnodes.dials.next() {
        if shared.is_shutting_down() {
            return;
        }
        let remote = &leafnodes.remotes[job.remote];
        if let Some(until) = remote.delayed_until().filter(|u| *u > Instant::now()) {
            job.due = until;
            leafnodes.dials.push(job);
            continue;
        }
        let Some(url) = remote.next_url() else {
            continue;
        };
        debug!(
            "Trying to connect as leafnode to remote server on {:?}",
            url.host_port()
        );
        let connected = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .and_then(|mut addrs| {
                let addr = addrs.next().ok_or(std::io::ErrorKind::NotFound)?;
                let sock = TcpStream::connect_timeout(&addr, DIAL_TIMEOUT)?;
                sock.set_nonblocking(true)?;
                Ok((sock, addr))
            });
        match connected {
            Ok((sock, addr)) => {
                attempts[job.remote] = 0;
                let _ = sock.set_nodelay(true);
                let dialled = LeafDialled {
                    sock: mio::net::TcpStream::from_std(sock),
                    addr,
                    remote: job.remote,
                    url,
                };
                let target = next_reactor % shared.reactors.len();
                next_reactor += 1;
                shared.reactors[target].post(|inbox| inbox.leaf_dialled.push(dialled));
            }
            Err(e) => {
                let settings = shared.settings.current();
                let attempt = &mut attempts[job.remote];
                *attempt += 1;
                let text = format!(
                    "Error trying to connect as leafnode to remote server {:?} (attempt {}): {e}",
                    url.host_port(),
                    attempt
                );
                let every = settings.opts.reconnect_error_reports.max(1);
                if *attempt == 1 || i64::from(*attempt) % every == 0 {
                    error!("{text}");
                } else {
                    debug!("{text}");
                }
                job.due = Instant::now() + settings.opts.leafnodes.reconnect;
                leafnodes.dials.push(job);
            }
        }
    }
}
