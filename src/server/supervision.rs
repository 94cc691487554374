//! What a service manager asks of a running server (`process` tells systemd, see
//! `crate::notify`): the listeners and connection counts for a status line, and a liveness
//! probe for the watchdog — proof that every reactor still turns, not only that the
//! signal thread is alive.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{ServerHandle, ServerShared};

/// Connections open now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    pub clients: usize,
    /// `None` without a route listener or routes.
    pub routes: Option<usize>,
    /// `None` without leafnodes.
    pub leafnodes: Option<usize>,
}

/// A cheap handle for a status line and the watchdog (see [`ServerHandle::supervision`]).
pub struct Supervision {
    shared: Arc<ServerShared>,
    listeners: Vec<(&'static str, SocketAddr)>,
    /// Each reactor's turn count at the last probe.
    seen: Vec<u64>,
}

impl ServerHandle {
    /// A handle on the listeners, the connection counts and the reactors' liveness.
    pub fn supervision(&self) -> Supervision {
        let mut listeners = vec![("clients", self.listening.client)];
        if let Some(addr) = self.listening.cluster {
            listeners.push(("routes", addr));
        }
        if let Some(addr) = self.shared.leafnodes.as_ref().and_then(|l| l.bound) {
            listeners.push(("leafnodes", addr));
        }
        if let Some((_, addr)) = self.listening.monitor {
            listeners.push(("monitoring", addr));
        }
        let mut supervision = Supervision {
            shared: self.shared.clone(),
            listeners,
            seen: Vec::new(),
        };
        supervision.reactors_turned();
        supervision
    }
}

impl Supervision {
    /// The bound listeners, by role (`clients`, `routes`, `leafnodes`, `monitoring`).
    pub fn listeners(&self) -> &[(&'static str, SocketAddr)] {
        &self.listeners
    }

    /// Connections open now (a few short locks).
    pub fn connections(&self) -> Connections {
        Connections {
            clients: self.shared.clients().len(),
            routes: self.shared.cluster.as_ref().map(|c| c.route_count()),
            leafnodes: self.shared.leafnodes.as_ref().map(|l| l.links().len()),
        }
    }

    /// True when every reactor began a turn since the previous probe (the first probe is
    /// made when the handle is created), then wakes every reactor, so an idle one turns once
    /// before the next probe. A reactor stuck in a turn, or gone, makes it false. Costs one
    /// eventfd write per reactor.
    pub fn reactors_turned(&mut self) -> bool {
        let reactors = &self.shared.reactors;
        let mut all = self.seen.len() == reactors.len() && !self.shared.is_shutting_down();
        self.seen.resize(reactors.len(), 0);
        for (reactor, seen) in reactors.iter().zip(&mut self.seen) {
            let turns = reactor.turns();
            all &= turns != *seen;
            *seen = turns;
            reactor.wake();
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use crate::options::{Options, RANDOM_PORT};
    use crate::server::Server;
    use std::time::{Duration, Instant};

    #[test]
    fn reactors_that_turn_pass_the_probe_and_a_stopped_server_fails_it() {
        let server = Server::start(Options {
            host: "127.0.0.1".into(),
            port: RANDOM_PORT,
            reactors: 2,
            ..Options::default()
        })
        .unwrap();
        let mut supervision = server.supervision();
        assert_eq!(
            supervision.listeners()[0],
            ("clients", server.client_addr())
        );
        assert_eq!(supervision.connections().clients, 0);
        assert_eq!(supervision.connections().routes, None);
        // Idle reactors turn once when woken by the previous probe.
        for _ in 0..3 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !supervision.reactors_turned() {
                assert!(Instant::now() < deadline, "idle reactors never turned");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let shared = supervision.shared.clone();
        server.shutdown();
        assert!(shared.reactors.iter().all(|r| r.turns() > 0));
        assert!(!supervision.reactors_turned());
        assert!(!supervision.reactors_turned());
    }
}
