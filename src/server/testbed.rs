//! A reactor's context without sockets or threads, for session tests and the session fuzz
//! target (feature `fuzzing`): sessions are fed plain bytes and their output is read back
//! from the turn, as the reactor would write it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::{Poll, Waker};
use rustls::pki_types::CertificateDer;
use slab::Slab;

use super::account::Accounts;
use super::client::{ClientSession, Greeting};
use super::conn::{CloseReason, ConnShared, Role};
use super::handover::ReactorHandle;
use super::leaf::{LeafOrigin, LeafSession};
use super::reactor::WAKER;
use super::route::{Origin, RouteSession};
use super::session::{Fed, Session};
use super::settings::Settings;
use super::timer::TimerKind;
use super::turn::{Closing, Turn};
use super::{new_cluster, new_leafnodes, LiveView, ServerShared};
use crate::auth::verify_bcrypt;
use crate::options::Options;
use crate::route_url::RouteUrl;

/// The client listen address the bed's server says it has (nothing is bound).
const CLIENT_ADDR: &str = "127.0.0.1:4222";

/// One reactor's turn and its sessions, by token.
pub struct TestBed {
    pub(super) turn: Turn,
    sessions: Slab<Session>,
    /// Input a session has not consumed yet (a partial operation), by token.
    held: std::collections::HashMap<usize, Vec<u8>>,
    /// The reactor's poll, which its waker needs (nothing is registered).
    _poll: Poll,
}

impl TestBed {
    /// A server with `opts` (clustered when `opts.cluster.port` is set) and one reactor.
    pub fn new(opts: Options) -> TestBed {
        let poll = Poll::new().expect("a poll");
        let waker = Waker::new(poll.registry(), WAKER).expect("a waker");
        let settings = Settings::for_options(opts).expect("settings");
        let addr: SocketAddr = CLIENT_ADDR.parse().expect("an address");
        let cluster = (settings.opts.cluster.port != 0).then(|| {
            let cluster = new_cluster(&settings.opts, &settings.info, addr, addr);
            Arc::new(cluster.expect("a cluster"))
        });
        let leaf = &settings.opts.leafnodes;
        let leafnodes = (leaf.port != 0 || !leaf.remotes.is_empty()).then(|| {
            let bound = (leaf.port != 0).then_some(addr);
            let leafnodes = new_leafnodes(&settings.opts, &settings.info, bound);
            Arc::new(leafnodes.expect("leafnodes"))
        });
        let accounts = Accounts::new(&settings.opts).expect("accounts");
        let shared = Arc::new(ServerShared::new(
            settings,
            accounts,
            vec![ReactorHandle::new(waker)],
            cluster,
            leafnodes,
        ));
        TestBed {
            turn: Turn::new(0, shared).expect("a turn"),
            sessions: Slab::new(),
            held: std::collections::HashMap::new(),
            _poll: poll,
        }
    }

    /// Adds a connection whose session `start` makes; returns its token.
    fn connect(
        &mut self,
        role: Role,
        start: impl FnOnce(Arc<ConnShared>, &mut Turn) -> Session,
    ) -> usize {
        let token = self.sessions.vacant_entry().key();
        let cid = self
            .turn
            .shared
            .next_cid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addr = format!("127.0.0.1:{}", 50000 + cid)
            .parse()
            .expect("an address");
        let shared = Arc::new(ConnShared::new(cid, 0, token, addr, role, -1));
        let out = self
            .turn
            .outputs
            .insert(super::turn::Output::new(shared.clone()));
        assert_eq!(out, token);
        let session = start(shared, &mut self.turn);
        self.sessions.insert(session);
        token
    }

    /// A new client (its INFO is not queued: tests read only what follows), and the nonce
    /// its INFO carried (empty unless nkey users are configured).
    pub fn client_with_nonce(&mut self) -> (usize, String) {
        let mut nonce = String::new();
        let token = self.connect(Role::Client, |shared, turn| {
            nonce = Greeting::new(turn, shared.cid, shared.addr).nonce;
            Session::Client(ClientSession::start(shared, nonce.clone(), turn))
        });
        (token, nonce)
    }

    /// A new client (its INFO is not queued: tests read only what follows).
    pub fn client(&mut self) -> usize {
        self.client_with_nonce().0
    }

    /// A client connected as `user` with password `user` (headers on, protocol 1, not
    /// verbose); what CONNECT answered is discarded.
    pub fn user_client(&mut self, user: &str) -> usize {
        let client = self.client();
        let connect = format!(
            "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false,\
             \"protocol\":1,\"headers\":true}}\r\n"
        );
        self.feed(client, &connect);
        self.take_output(client);
        client
    }

    /// A new client whose TLS handshake presented `chain` (leaf first), as the reactor
    /// reports it when the handshake completes.
    pub fn tls_client(&mut self, chain: &[CertificateDer<'_>]) -> usize {
        let token = self.client();
        let settings = Arc::clone(&self.turn.settings);
        if let Session::Client(client) = &mut self.sessions[token] {
            client.tls_established(Some(chain), &settings);
        }
        token
    }

    /// A new route that the peer dialled; its hello (our INFO) is discarded.
    pub fn accepted_route(&mut self) -> usize {
        let cluster = self.turn.shared.cluster.clone().expect("a clustered bed");
        self.connect(Role::Route, |shared, turn| {
            Session::Route(RouteSession::start(shared, cluster, Origin::Accepted, turn))
        })
    }

    /// A new route we dialled to `url` (a configured route when `explicit`, else one
    /// learnt by gossip); our hello is discarded.
    pub fn dialled_route(&mut self, url: &str, explicit: bool) -> usize {
        let cluster = self.turn.shared.cluster.clone().expect("a clustered bed");
        let url = RouteUrl::parse(url).expect("a route URL");
        let addr = url.host_port().parse().expect("an address");
        let origin = Origin::Dialled {
            url,
            explicit,
            addr,
        };
        let token = self.connect(Role::Route, |shared, turn| {
            Session::Route(RouteSession::start(shared, cluster, origin, turn))
        });
        self.take_output(token);
        token
    }

    /// An accepted route from server `peer` of cluster `c1`, registered, with its hello
    /// taken.
    pub fn registered_route(&mut self, peer: &str) -> usize {
        let route = self.accepted_route();
        self.feed(
            route,
            &format!(
                "CONNECT {{\"echo\":true,\"name\":\"{peer}\",\"cluster\":\"c1\"}}\r\n\
                 INFO {{\"server_id\":\"{peer}\",\"name\":\"{peer}\",\"cluster\":\"c1\"}}\r\n"
            ),
        );
        self.take_output(route);
        assert_eq!(self.closing(route), None);
        route
    }

    /// A new leafnode connection a leaf made to us (we are its hub); its INFO is
    /// discarded.
    pub fn accepted_leaf(&mut self) -> usize {
        let leafnodes = self.turn.shared.leafnodes.clone().expect("a hub bed");
        self.connect(Role::Leaf, |shared, turn| {
            let origin = LeafOrigin::Accepted;
            Session::Leaf(LeafSession::start(shared, leafnodes, origin, turn))
        })
    }

    /// A new leafnode connection we made to remote number `remote` at `url`.
    pub fn solicited_leaf(&mut self, remote: usize, url: &str) -> usize {
        let leafnodes = self.turn.shared.leafnodes.clone().expect("a leaf bed");
        let url = RouteUrl::parse_leaf(url).expect("a leaf URL");
        self.connect(Role::Leaf, |shared, turn| {
            let origin = LeafOrigin::Solicited { remote, url };
            Session::Leaf(LeafSession::start(shared, leafnodes, origin, turn))
        })
    }

    /// Fires a session's timer now (the reactor checks the connection is still there).
    pub fn fire(&mut self, token: usize, kind: TimerKind) {
        let now = Instant::now();
        self.sessions[token].on_timer(kind, now, now, &mut self.turn);
    }

    /// Feeds `input` to a session as one read.
    pub fn feed(&mut self, token: usize, input: &str) -> Fed {
        self.sessions[token].process(input.as_bytes(), &mut self.turn)
    }

    /// Feeds `piece` after what the session left unconsumed, as the reactor does with the
    /// next read; nothing once the connection is closing or waits for a verdict.
    pub fn feed_piece(&mut self, token: usize, piece: &[u8]) {
        let held = self.held.entry(token).or_default();
        held.extend_from_slice(piece);
        if self.turn.is_closing(token) {
            return;
        }
        let fed = self.sessions[token].process(held, &mut self.turn);
        held.drain(..fed.used);
    }

    /// Takes what a connection was sent so far (handed-over bytes included), as text.
    pub fn take_output(&mut self, token: usize) -> String {
        self.turn.absorb_handover(token);
        let out = &mut self.turn.outputs[token];
        String::from_utf8_lossy(&out.queue.take_all()).into_owned()
    }

    /// How a connection is closing, if it is.
    pub fn closing(&self, token: usize) -> Option<Closing> {
        self.turn.outputs[token].closing()
    }

    /// Ends the turn as the reactor does before it writes: the server's message counters,
    /// each connection's activity and the match cache's statistics take what the turn
    /// counted, so that the monitor sees them.
    pub fn publish_counts(&mut self) {
        let turn = &mut self.turn;
        turn.shared.stats.add(&turn.counts);
        turn.counts = Default::default();
        turn.shared.reactors[turn.reactor].publish_cache_stats(turn.caches.stats());
        for (_, out) in turn.outputs.iter_mut() {
            out.publish_counts();
        }
    }

    /// The monitor's view of the bed's server (its connections, subscriptions, routes and
    /// counters), as `ServerHandle::view` gives it for a running server.
    pub fn view(&self) -> LiveView {
        LiveView::new(
            self.turn.shared.clone(),
            CLIENT_ADDR.parse().expect("an address"),
        )
    }

    /// The peer closes the connection: the session is torn down as the reactor does when
    /// a read returns end of file (a client is then listed among the closed ones).
    pub fn hang_up(&mut self, token: usize) {
        let session = self.sessions.remove(token);
        self.turn.outputs.remove(token);
        self.held.remove(&token);
        session.closed(CloseReason::ClientClosed, &mut self.turn);
    }

    /// Runs the bcrypt check a client waits for, as the verifier pool would, and hands
    /// the verdict to the session; returns whether its held input may run.
    pub fn run_verifier(&mut self, token: usize) -> bool {
        let (digest, hash, password) = self.turn.shared.verifier.next().expect("a job");
        let matched = verify_bcrypt(&password, &hash);
        match &mut self.sessions[token] {
            Session::Client(client) => client.on_verdict(digest, matched, &mut self.turn),
            Session::Route(_) | Session::Leaf(_) => false,
        }
    }
}

/// Tears every session down as the reactor does at shutdown, so that what a session holds
/// (subscriptions pointing back at it, its place in the registries) is let go: a leak
/// checker then sees what teardown really leaves behind.
impl Drop for TestBed {
    fn drop(&mut self) {
        let tokens: Vec<usize> = self.sessions.iter().map(|(token, _)| token).collect();
        for token in tokens {
            let session = self.sessions.remove(token);
            self.turn.outputs.remove(token);
            session.closed(CloseReason::ServerShutdown, &mut self.turn);
        }
    }
}
