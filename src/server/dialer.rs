//! The route dialer: one thread that resolves route host names and connects, off the
//! reactors, retrying as the reference does (configured routes every second for ever,
//! gossiped ones `connect_retries` times), and hands each connected socket to a reactor.

use std::collections::{HashSet, VecDeque};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, error};

use super::handover::Dialled;
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

/// The dialer's queue, shared with the reactors (which add re-dials).
#[derive(Default)]
pub struct DialQueue {
    jobs: Mutex<(VecDeque<DialJob>, bool)>,
    ready: Condvar,
}

impl DialQueue {
    /// Queues a dial at `due`.
    pub fn push(&self, job: DialJob) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.0.push_back(job);
        self.ready.notify_one();
    }

    /// Ends the dialer thread.
    pub fn stop(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.ready.notify_all();
    }

    /// The next job once it is due; `None` when stopping.
    fn next(&self) -> Option<DialJob> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if jobs.1 {
                return None;
            }
            let now = Instant::now();
            let due = jobs.0.iter().enumerate().min_by_key(|(_, j)| j.due);
            let wait = match due {
                Some((i, job)) if job.due <= now => return jobs.0.remove(i),
                Some((_, job)) => job.due - now,
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
