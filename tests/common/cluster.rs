//! A cluster node under test ([`Node`]: a [`ServerProc`] with monitoring and a route port)
//! and waits on the cluster as the monitor shows it: a full mesh ([`wait_for_mesh`]) and
//! interest spread over the routes ([`wait_for_route_interest`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{wait_until, Impl, ServerProc, Wire, TIMEOUT};

/// A cluster node with monitoring, its client, monitoring and route addresses.
pub struct Node {
    pub server: ServerProc,
    pub monitor: SocketAddr,
    pub route_port: u16,
}

impl Node {
    /// Starts `imp` with `--cluster nats://127.0.0.1:<route_port>` and `--routes <seed>`.
    pub fn start(imp: Impl, route_port: u16, seed: u16, extra: &[&str]) -> Node {
        let cluster = format!("nats://127.0.0.1:{route_port}");
        let routes = format!("nats://127.0.0.1:{seed}");
        let mut args = vec!["-m", "-1", "--cluster", &cluster, "--routes", &routes];
        args.extend_from_slice(extra);
        Self::from(ServerProc::start(imp, &args), route_port)
    }

    /// Wraps a started server (with monitoring on) whose routes listen on `route_port`.
    pub fn from(server: ServerProc, route_port: u16) -> Node {
        let monitor = super::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        Node {
            server,
            monitor,
            route_port,
        }
    }

    /// The number of routes (`/varz`).
    pub fn routes(&self) -> u64 {
        super::http::get(self.monitor, "/varz").json()["routes"]
            .as_u64()
            .unwrap_or(0)
    }

    /// How many of this node's routes list `subject` among their remote interest
    /// (`/routez?subs=1`): a message published here on `subject` goes to that many routes.
    pub fn routes_interested_in(&self, subject: &str) -> usize {
        let routez = super::http::get(self.monitor, "/routez?subs=1").json();
        let lists = |route: &serde_json::Value| {
            route["subscriptions_list"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(subject)))
        };
        routez["routes"]
            .as_array()
            .map_or(0, |routes| routes.iter().filter(|r| lists(r)).count())
    }

    /// A client that said CONNECT and got its PONG.
    pub fn client(&self) -> Wire {
        let mut wire = Wire::connect(self.server.client_addr()).answer_pings();
        wire.read_info();
        wire.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        wire.expect(b"PONG\r\n");
        wire
    }
}

/// Waits until every node has `want` routes; returns how long it took.
pub fn wait_for_mesh(nodes: &[&Node], want: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let routes: Vec<u64> = nodes.iter().map(|n| n.routes()).collect();
        if routes.iter().all(|&r| r == want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "no full mesh after {within:?}: routes per node {routes:?}; logs:\n{}",
            nodes
                .iter()
                .map(|n| n.server.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until each of `nodes` has `routes` routes that list every one of `subjects` (see
/// [`Node::routes_interested_in`]): interest travels asynchronously.
pub fn wait_for_route_interest(nodes: &[&Node], subjects: &[&str], routes: usize) {
    wait_for_interest(
        nodes,
        subjects,
        &vec![vec![routes; subjects.len()]; nodes.len()],
    );
}

/// Waits until node `n` has `want[n][s]` routes that list `subjects[s]` (see
/// [`Node::routes_interested_in`]), for every node and subject.
pub fn wait_for_interest(nodes: &[&Node], subjects: &[&str], want: &[Vec<usize>]) {
    let counts = || {
        nodes
            .iter()
            .map(|n| subjects.iter().map(|s| n.routes_interested_in(s)).collect())
            .collect::<Vec<Vec<usize>>>()
    };
    wait_until(
        TIMEOUT,
        || counts() == want,
        || {
            let got = counts();
            format!("interest never spread: routes per node and subject {subjects:?}: {got:?}, want {want:?}")
        },
    );
}
