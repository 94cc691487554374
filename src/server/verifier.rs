//! The bcrypt verifier pool: a few plain threads that run the slow password comparisons so
//! no reactor ever does. Identical checks in flight (same hash and password) share one
//! computation; each verdict goes back to the waiting connections' reactors through their
//! inboxes, as `(token, cid, digest, matched)`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::ServerShared;
use crate::auth::verify_bcrypt;

/// A connection waiting for a verdict: (reactor, token, cid).
pub type Waiter = (usize, usize, u64);

/// One comparison and the connections waiting for it.
struct Job {
    hash: String,
    password: String,
    waiters: Vec<Waiter>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<u64>,
    jobs: HashMap<u64, Job>,
    stopping: bool,
}

/// The queue the reactors submit to; the pool's threads take from it.
#[derive(Default)]
pub struct VerifierQueue {
    state: Mutex<State>,
    work: Condvar,
}

impl VerifierQueue {
    /// Asks for `password` to be checked against `hash`; `digest` identifies the pair.
    pub fn submit(&self, digest: u64, hash: &str, password: &str, waiter: Waiter) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = state.jobs.get_mut(&digest) {
            job.waiters.push(waiter);
            return;
        }
        let job = Job {
            hash: hash.to_string(),
            password: password.to_string(),
            waiters: vec![waiter],
        };
        state.jobs.insert(digest, job);
        state.queue.push_back(digest);
        drop(state);
        self.work.notify_one();
    }

    /// Wakes the threads so they exit.
    pub fn stop(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stopping = true;
        self.work.notify_all();
    }

    /// The next job's digest and inputs, or `None` when stopping.
    pub(super) fn next(&self) -> Option<(u64, String, String)> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.stopping {
                return None;
            }
            if let Some(digest) = state.queue.pop_front() {
                let job = &state.jobs[&digest];
                return Some((digest, job.hash.clone(), job.password.clone()));
            }
            state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Removes a finished job, returning who waited for it.
    fn finish(&self, digest: u64) -> Vec<Waiter> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .jobs
            .remove(&digest)
            .map_or_else(Vec::new, |job| job.waiters)
    }
}

/// Threads for the pool: the cores the reactors leave, at least one.
pub fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Starts `count` verifier threads.
pub fn start(shared: &Arc<ServerShared>, count: usize) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..count)
        .map(|i| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("verifier-{i}"))
                .spawn(move || run(&shared))
        })
        .collect()
}

fn run(shared: &ServerShared) {
    while let Some((digest, hash, password)) = shared.verifier.next() {
        let matched = verify_bcrypt(&password, &hash);
        for (reactor, token, cid) in shared.verifier.finish(digest) {
            shared.reactors[reactor]
                .post(|inbox| inbox.verdicts.push((token, cid, digest, matched)));
        }
    }
}
