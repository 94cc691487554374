//! Leafnodes, black-box: natsd as the hub and as the leaf, each with nats-server in the
//! other role and with itself. The link comes up and shows in `/leafz`; messages (with
//! headers, replies and queue groups) cross it both ways exactly once; unsubscribing
//! withdraws interest; the leaf heals after its hub restarts; hub authorization; a hub
//! cluster with the leaf on one node; two leaves on one hub without duplicates; a natsd leaf
//! with a credentials file under an operator-mode nats-server hub (JWTs from common::jwt).

mod common;

use std::net::SocketAddr;

use common::{free_port, jwt, wait_until, Impl, ServerProc, Wire, TIMEOUT};
use serde_json::Value;

/// A server with monitoring on a random port.
struct Node {
    server: ServerProc,
    monitor: SocketAddr,
}

impl Node {
    fn start(imp: Impl, conf: &str) -> Node {
        let server = ServerProc::start_with_config(imp, conf, &["-m", "-1"]);
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        Node { server, monitor }
    }

    /// A hub listening for leafs on `leaf_port`, with `extra` in its leafnodes block.
    fn hub(imp: Impl, leaf_port: u16, extra: &str) -> Node {
        Self::start(
            imp,
            &format!(
                "server_name: HUB\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\"\n{extra} }}\n"
            ),
        )
    }

    /// A leaf named `name` soliciting `url`.
    fn leaf(imp: Impl, name: &str, url: &str) -> Node {
        Self::start(
            imp,
            &format!("server_name: {name}\nleafnodes {{ remotes: [ {{ url: \"{url}\" }} ] }}\n"),
        )
    }

    fn varz(&self) -> Value {
        common::http::get(self.monitor, "/varz").json()
    }

    fn leafz(&self) -> Value {
        common::http::get(self.monitor, "/leafz?subs=1").json()
    }

    /// Waits until this server has `want` leafnode links.
    fn wait_links(&self, want: u64) {
        wait_until(
            TIMEOUT,
            || self.varz()["leafnodes"].as_u64() == Some(want),
            || format!("not {want} leaf links; log:\n{}", self.server.log()),
        );
    }

    /// Waits until one of this server's links lists `subject` as the peer's interest.
    fn wait_interest(&self, subject: &str, present: bool) {
        let listed = || {
            self.leafz()["leafs"].as_array().is_some_and(|leafs| {
                leafs.iter().any(|l| {
                    l["subscriptions_list"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(subject)))
                })
            })
        };
        wait_until(
            TIMEOUT,
            || listed() == present,
            || {
                format!(
                    "interest in {subject:?} never became {present}: {}\nlog:\n{}",
                    self.leafz(),
                    self.server.log()
                )
            },
        );
    }

    /// A client that said CONNECT (headers on) and got its PONG.
    fn client(&self) -> Wire {
        let mut wire = Wire::connect(self.server.client_addr()).answer_pings();
        wire.read_info();
        wire.send(b"CONNECT {\"verbose\":false,\"protocol\":1,\"headers\":true}\r\nPING\r\n");
        wire.expect(b"PONG\r\n");
        wire
    }
}

/// (hub, leaf): natsd with itself, and with nats-server in either role when installed.
fn pairs() -> Vec<(Impl, Impl)> {
    let mut pairs = vec![(Impl::Natsd, Impl::Natsd)];
    if common::reference_available() {
        pairs.push((Impl::Reference, Impl::Natsd));
        pairs.push((Impl::Natsd, Impl::Reference));
    }
    pairs
}

/// A hub and a leaf of it, linked.
fn linked(hub_imp: Impl, leaf_imp: Impl) -> (Node, Node) {
    let port = free_port();
    let hub = Node::hub(hub_imp, port, "");
    let leaf = Node::leaf(leaf_imp, "LEAF", &format!("nats-leaf://127.0.0.1:{port}"));
    hub.wait_links(1);
    leaf.wait_links(1);
    (hub, leaf)
}

/// Everything a client receives up to the PONG of a PING sent now.
fn drain(wire: &mut Wire) -> String {
    wire.send(b"PING\r\n");
    let got = wire.read_until(|b| b.windows(6).position(|w| w == b"PONG\r\n").map(|p| p + 6));
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn the_link_comes_up_and_shows_in_leafz_on_both_ends() {
    for (hub_imp, leaf_imp) in pairs() {
        let (hub, leaf) = linked(hub_imp, leaf_imp);
        let what = format!("hub {hub_imp}, leaf {leaf_imp}");
        for (node, peer_port) in [(&hub, None), (&leaf, Some(hub.server.client_addr().port()))] {
            let leafz = node.leafz();
            assert_eq!(leafz["leafnodes"], 1, "{what}: {leafz}");
            let link = &leafz["leafs"][0];
            assert_eq!(link["account"], "$G", "{what}: {leafz}");
            assert_eq!(link["ip"], "127.0.0.1", "{what}: {leafz}");
            assert!(link["subscriptions"].as_u64() >= Some(1), "{what}: {leafz}");
            // The leaf's link goes to the hub's leaf port, not its client port.
            if let Some(client_port) = peer_port {
                assert_ne!(link["port"].as_u64(), Some(u64::from(client_port)));
            }
        }
        assert_eq!(leaf.varz()["cluster"]["name"], "LEAF", "{what}");
    }
}

#[test]
fn messages_cross_both_ways_once_with_headers_and_replies() {
    for (hub_imp, leaf_imp) in pairs() {
        let what = format!("hub {hub_imp}, leaf {leaf_imp}");
        let (hub, leaf) = linked(hub_imp, leaf_imp);
        let mut on_hub = hub.client();
        let mut on_leaf = leaf.client();
        on_hub.send(b"SUB up 1\r\nPING\r\n");
        on_hub.expect(b"PONG\r\n");
        on_leaf.send(b"SUB down 1\r\nPING\r\n");
        on_leaf.expect(b"PONG\r\n");
        leaf.wait_interest("up", true);
        hub.wait_interest("down", true);
        on_leaf.send(b"PUB up r.1 5\r\nhello\r\nHPUB up 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        on_hub.send(b"PUB down 3\r\nabc\r\n");
        on_hub.expect(b"MSG up 1 r.1 5\r\nhello\r\nHMSG up 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        on_leaf.expect(b"MSG down 1 3\r\nabc\r\n");
        // Exactly once: a marker published after them arrives next.
        on_leaf.send(b"PUB up 4\r\nmark\r\n");
        on_hub.expect(b"MSG up 1 4\r\nmark\r\n");
        assert_eq!(drain(&mut on_hub), "PONG\r\n", "{what}");
        // A publisher's own server never sends it back through the link.
        on_leaf.send(b"SUB up 2\r\nPUB up 2\r\nme\r\n");
        on_leaf.expect(b"MSG up 2 2\r\nme\r\n");
        on_hub.expect(b"MSG up 1 2\r\nme\r\n");
        assert_eq!(drain(&mut on_leaf), "PONG\r\n", "{what}");

        // Request/reply both ways: the requester's inbox interest crosses first.
        request_reply(&mut on_leaf, &mut on_hub, &leaf);
        request_reply(&mut on_hub, &mut on_leaf, &hub);
    }
}

/// A request from `requester` answered by `responder` on the other side of the link, whose
/// interest `requester_node` sees arrive.
fn request_reply(requester: &mut Wire, responder: &mut Wire, requester_node: &Node) {
    responder.send(b"SUB svc 9\r\nPING\r\n");
    responder.expect(b"PONG\r\n");
    requester_node.wait_interest("svc", true);
    requester.send(b"SUB _INBOX.x 8\r\nPUB svc _INBOX.x 2\r\nq?\r\n");
    responder.expect(b"MSG svc 9 _INBOX.x 2\r\nq?\r\n");
    responder.send(b"PUB _INBOX.x 2\r\na!\r\nUNSUB 9\r\n");
    requester.expect(b"MSG _INBOX.x 8 2\r\na!\r\n");
    requester.send(b"UNSUB 8\r\n");
}

#[test]
fn unsubscribing_withdraws_interest_and_requests_then_get_no_responders() {
    for (hub_imp, leaf_imp) in pairs() {
        let (hub, leaf) = linked(hub_imp, leaf_imp);
        let mut on_hub = hub.client();
        let mut on_leaf = leaf.client();
        on_hub.send(b"SUB gone 1\r\nPING\r\n");
        on_hub.expect(b"PONG\r\n");
        leaf.wait_interest("gone", true);
        on_hub.send(b"UNSUB 1\r\nPING\r\n");
        on_hub.expect(b"PONG\r\n");
        leaf.wait_interest("gone", false);
        on_leaf.send(b"CONNECT {\"headers\":true,\"no_responders\":true,\"verbose\":false}\r\n");
        on_leaf.send(b"SUB _INBOX.r 1\r\nPUB gone _INBOX.r 0\r\n\r\n");
        on_leaf.expect(b"HMSG _INBOX.r 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    }
}

#[test]
fn queue_groups_span_the_link_and_serve_each_message_once() {
    for (hub_imp, leaf_imp) in pairs() {
        let what = format!("hub {hub_imp}, leaf {leaf_imp}");
        let (hub, leaf) = linked(hub_imp, leaf_imp);
        let mut hub_member = hub.client();
        let mut leaf_member = leaf.client();
        hub_member.send(b"SUB work grp 1\r\nPING\r\n");
        hub_member.expect(b"PONG\r\n");
        leaf.wait_interest("work", true);
        // With a member only on the hub, leaf publishers reach it through the link.
        let mut publisher = leaf.client();
        publisher.send(b"PUB work 1\r\na\r\n");
        hub_member.expect(b"MSG work 1 1\r\na\r\n");
        // With members on both sides, each side's publishers are served locally, once.
        leaf_member.send(b"SUB work grp 1\r\nPING\r\n");
        leaf_member.expect(b"PONG\r\n");
        hub.wait_interest("work", true);
        for i in 0..20 {
            publisher.send(format!("PUB work 2\r\n{i:02}\r\n").as_bytes());
        }
        publisher.send(b"PING\r\n");
        publisher.expect(b"PONG\r\n");
        let on_leaf = drain(&mut leaf_member).matches("MSG work").count();
        let on_hub = drain(&mut hub_member).matches("MSG work").count();
        assert_eq!((on_leaf, on_hub), (20, 0), "{what}");
    }
}

#[test]
fn the_leaf_heals_after_its_hub_restarts() {
    for (hub_imp, leaf_imp) in pairs() {
        let port = free_port();
        let hub = Node::hub(hub_imp, port, "");
        let leaf = Node::leaf(leaf_imp, "LEAF", &format!("nats-leaf://127.0.0.1:{port}"));
        hub.wait_links(1);
        let mut on_leaf = leaf.client();
        on_leaf.send(b"SUB back 1\r\nPING\r\n");
        on_leaf.expect(b"PONG\r\n");
        hub.wait_interest("back", true);
        drop(hub);
        let hub = Node::hub(hub_imp, port, "");
        hub.wait_links(1);
        hub.wait_interest("back", true);
        let mut on_hub = hub.client();
        on_hub.send(b"PUB back 5\r\nagain\r\n");
        on_leaf.expect(b"MSG back 1 5\r\nagain\r\n");
    }
}

#[test]
fn hub_authorization_admits_the_right_password_only() {
    for (hub_imp, leaf_imp) in pairs() {
        let port = free_port();
        let auth = "authorization { user: lu, password: lp }";
        let hub = Node::hub(hub_imp, port, auth);
        let wrong = Node::leaf(
            leaf_imp,
            "WRONG",
            &format!("nats-leaf://lu:no@127.0.0.1:{port}"),
        );
        let right = Node::leaf(
            leaf_imp,
            "RIGHT",
            &format!("nats-leaf://lu:lp@127.0.0.1:{port}"),
        );
        right.wait_links(1);
        hub.wait_links(1);
        // The wrong one is refused (and keeps trying): seen in the hub's closed connections.
        wait_until(
            TIMEOUT,
            || {
                let closed = common::http::get(hub.monitor, "/connz?state=closed").json();
                closed["connections"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["reason"] == "Authentication Failure"))
            },
            || format!("no refused leaf; hub log:\n{}", hub.server.log()),
        );
        assert_eq!(wrong.varz()["leafnodes"], 0);
        assert_eq!(hub.varz()["leafnodes"], 1);
    }
}

#[test]
fn two_leaves_on_one_hub_get_each_message_once() {
    for (hub_imp, leaf_imp) in pairs() {
        let what = format!("hub {hub_imp}, leaves {leaf_imp}");
        let port = free_port();
        let hub = Node::hub(hub_imp, port, "");
        let url = format!("nats-leaf://127.0.0.1:{port}");
        let (a, b) = (
            Node::leaf(leaf_imp, "A", &url),
            Node::leaf(leaf_imp, "B", &url),
        );
        hub.wait_links(2);
        let mut on_a = a.client();
        let mut on_b = b.client();
        let mut on_hub = hub.client();
        for wire in [&mut on_a, &mut on_b, &mut on_hub] {
            wire.send(b"SUB all 1\r\nPING\r\n");
            wire.expect(b"PONG\r\n");
        }
        a.wait_interest("all", true);
        b.wait_interest("all", true);
        hub.wait_interest("all", true);
        on_a.send(b"PUB all 4\r\nfrom\r\n");
        for wire in [&mut on_a, &mut on_b, &mut on_hub] {
            wire.expect(b"MSG all 1 4\r\nfrom\r\n");
        }
        on_a.send(b"PUB all 4\r\nmark\r\n");
        for wire in [&mut on_a, &mut on_b, &mut on_hub] {
            wire.expect(b"MSG all 1 4\r\nmark\r\n");
            assert_eq!(drain(wire), "PONG\r\n", "{what}: no duplicate");
        }
    }
}

#[test]
fn a_leaf_on_one_node_of_a_hub_cluster_reaches_every_node() {
    let mut clusters = vec![[Impl::Natsd, Impl::Natsd]];
    if common::reference_available() {
        clusters.push([Impl::Natsd, Impl::Reference]);
        clusters.push([Impl::Reference, Impl::Natsd]);
    }
    for [first, second] in clusters {
        let what = format!("hub cluster {first}+{second}");
        let (leaf_a, leaf_b) = (free_port(), free_port());
        let (route_a, route_b) = (free_port(), free_port());
        let node = |imp, name: &str, leaf_port, route_port, peer| {
            Node::start(
                imp,
                &format!(
                    "server_name: {name}\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n\
                     cluster {{ name: HC, listen: \"127.0.0.1:{route_port}\", \
                     routes: [\"nats://127.0.0.1:{peer}\"] }}\n"
                ),
            )
        };
        let a = node(first, "A", leaf_a, route_a, route_b);
        let b = node(second, "B", leaf_b, route_b, route_a);
        wait_until(
            TIMEOUT,
            || a.varz()["routes"] == 1 && b.varz()["routes"] == 1,
            || format!("{what}: no route"),
        );
        let leaf = Node::leaf(
            Impl::Natsd,
            "LEAF",
            &format!("nats-leaf://127.0.0.1:{leaf_a}"),
        );
        leaf.wait_links(1);
        let mut on_b = b.client();
        let mut on_leaf = leaf.client();
        on_b.send(b"SUB foo 1\r\nPING\r\n");
        on_b.expect(b"PONG\r\n");
        on_leaf.send(b"SUB bar 1\r\nPING\r\n");
        on_leaf.expect(b"PONG\r\n");
        leaf.wait_interest("foo", true);
        wait_until(
            TIMEOUT,
            || {
                let routez = common::http::get(b.monitor, "/routez?subs=1").json();
                routez["routes"][0]["subscriptions_list"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|s| s == "bar"))
            },
            || format!("{what}: the leaf's interest never reached B"),
        );
        on_leaf.send(b"PUB foo r 2\r\nhi\r\n");
        on_b.expect(b"MSG foo 1 r 2\r\nhi\r\n");
        on_b.send(b"PUB bar 2\r\nho\r\n");
        on_leaf.expect(b"MSG bar 1 2\r\nho\r\n");
        assert_eq!(drain(&mut on_leaf), "PONG\r\n", "{what}");
        assert_eq!(drain(&mut on_b), "PONG\r\n", "{what}");
    }
}

/// `configs/certs/<name>`.
fn cert(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs/certs")
        .join(name);
    path.to_str().expect("a UTF-8 path").to_string()
}

#[test]
fn the_link_runs_over_tls_when_the_hub_asks_for_it() {
    for (hub_imp, leaf_imp) in pairs() {
        let what = format!("hub {hub_imp}, leaf {leaf_imp}");
        let port = free_port();
        let hub_tls = format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
            cert("server-cert.pem"),
            cert("server-key.pem")
        );
        let hub = Node::hub(hub_imp, port, &hub_tls);
        let leaf = Node::start(
            leaf_imp,
            &format!(
                "server_name: LEAF\nleafnodes {{ remotes: [ {{ url: \"tls://127.0.0.1:{port}\", \
                 tls {{ ca_file: \"{}\" }} }} ] }}\n",
                cert("ca.pem")
            ),
        );
        hub.wait_links(1);
        leaf.wait_links(1);
        let mut on_hub = hub.client();
        let mut on_leaf = leaf.client();
        on_hub.send(b"SUB secure 1\r\nPING\r\n");
        on_hub.expect(b"PONG\r\n");
        leaf.wait_interest("secure", true);
        on_leaf.send(b"PUB secure 6\r\nsecret\r\n");
        on_hub.expect(b"MSG secure 1 6\r\nsecret\r\n");
        assert_eq!(drain(&mut on_hub), "PONG\r\n", "{what}");
    }
}

#[test]
fn two_servers_soliciting_each_other_detect_the_loop() {
    let mut pairs = vec![[Impl::Natsd, Impl::Natsd]];
    if common::reference_available() {
        pairs.push([Impl::Natsd, Impl::Reference]);
    }
    for [first, second] in pairs {
        let (port_a, port_b) = (free_port(), free_port());
        let server = |imp, name: &str, listen, remote| {
            Node::start(
                imp,
                &format!(
                    "server_name: {name}\nleafnodes {{ listen: \"127.0.0.1:{listen}\", \
                     remotes: [ {{ url: \"nats-leaf://127.0.0.1:{remote}\" }} ] }}\n"
                ),
            )
        };
        let a = server(first, "A", port_a, port_b);
        let b = server(second, "B", port_b, port_a);
        let detected = "Loop detected for leafnode account=\"$G\". \
                        Delaying attempt to reconnect for 30s";
        wait_until(
            TIMEOUT,
            || a.server.log().contains(detected) || b.server.log().contains(detected),
            || {
                format!(
                    "no loop detected ({first} and {second}); logs:\n{}\n----\n{}",
                    a.server.log(),
                    b.server.log()
                )
            },
        );
    }
}

#[test]
fn a_leaf_cluster_linked_node_by_node_delivers_once() {
    let hub_port = free_port();
    let hub = Node::hub(Impl::Natsd, hub_port, "");
    let (route_1, route_2) = (free_port(), free_port());
    let leaf = |name: &str, route_port, peer| {
        Node::start(
            Impl::Natsd,
            &format!(
                "server_name: {name}\ncluster {{ name: LC, listen: \"127.0.0.1:{route_port}\", \
                 routes: [\"nats://127.0.0.1:{peer}\"] }}\n\
                 leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{hub_port}\" }} ] }}\n"
            ),
        )
    };
    let l1 = leaf("L1", route_1, route_2);
    let l2 = leaf("L2", route_2, route_1);
    hub.wait_links(2);
    wait_until(
        TIMEOUT,
        || l1.varz()["routes"] == 1 && l2.varz()["routes"] == 1,
        || "no route between the leaf nodes".to_string(),
    );
    let mut wires = [l1.client(), l2.client(), hub.client()];
    for wire in &mut wires {
        wire.send(b"SUB lc 1\r\nPING\r\n");
        wire.expect(b"PONG\r\n");
    }
    l1.wait_interest("lc", true);
    l2.wait_interest("lc", true);
    hub.wait_interest("lc", true);
    for publisher in 0..3 {
        wires[publisher].send(format!("PUB lc 1\r\n{publisher}\r\n").as_bytes());
        for wire in &mut wires {
            wire.expect(format!("MSG lc 1 1\r\n{publisher}\r\n").as_bytes());
        }
    }
    for wire in &mut wires {
        assert_eq!(drain(wire), "PONG\r\n", "no duplicate");
    }
}

/// An operator-mode nats-server hub (operator JWT, MEMORY resolver with one account
/// preloaded), its operator and account keys, and a temp dir for credentials files.
struct OperatorHub {
    node: Node,
    port: u16,
    tls: bool,
    account: jwt::KeyPair,
    dir: std::path::PathBuf,
}

impl OperatorHub {
    /// With `tls`, the leaf port asks for TLS (`configs/certs/server-*.pem`).
    fn start(tls: bool) -> OperatorHub {
        let operator = jwt::KeyPair::generate(jwt::Kind::Operator);
        let account = jwt::KeyPair::generate(jwt::Kind::Account);
        let port = free_port();
        let tls_block = if tls {
            format!(
                "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
                cert("server-cert.pem"),
                cert("server-key.pem")
            )
        } else {
            String::new()
        };
        // `debug` for the `Authenticated JWT` line.
        let node = Node::start(
            Impl::Reference,
            &format!(
                "server_name: HUB\ndebug: true\noperator: \"{}\"\nresolver: MEMORY\n\
                 resolver_preload: {{ {}: \"{}\" }}\n\
                 leafnodes {{ listen: \"127.0.0.1:{port}\"\n{tls_block} }}\n",
                jwt::operator_jwt(&operator),
                account.public_key(),
                jwt::account_jwt(&account, &operator),
            ),
        );
        let dir = common::fresh_temp_dir();
        OperatorHub {
            node,
            port,
            tls,
            account,
            dir,
        }
    }

    /// A new user of `account` written as `<name>.creds`: its key and the file's path.
    fn user_creds(&self, name: &str, account: &jwt::KeyPair) -> (jwt::KeyPair, String) {
        let user = jwt::KeyPair::generate(jwt::Kind::User);
        let text = jwt::creds(&jwt::user_jwt(&user, account), &user);
        (user, self.write_creds(name, &text))
    }

    /// `text` written as `<name>.creds`: the file's path.
    fn write_creds(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(format!("{name}.creds"));
        std::fs::write(&path, text).expect("write creds");
        path.to_str().expect("a UTF-8 path").to_string()
    }

    /// A natsd leaf named `name` soliciting this hub with the credentials file `creds` (and
    /// the test CA when the hub asks for TLS).
    fn leaf(&self, name: &str, creds: &str) -> Node {
        let (scheme, tls) = if self.tls {
            (
                "tls",
                format!(", tls {{ ca_file: \"{}\" }}", cert("ca.pem")),
            )
        } else {
            ("nats-leaf", String::new())
        };
        Node::start(
            Impl::Natsd,
            &format!(
                "server_name: {name}\nleafnodes {{ remotes: [ {{ \
                 url: \"{scheme}://127.0.0.1:{}\", credentials: \"{creds}\"{tls} }} ] }}\n",
                self.port
            ),
        )
    }

    /// A client of the hub authenticated as a new user of the account: a CONNECT with the
    /// user's JWT and its signature of the INFO nonce.
    fn client(&self) -> Wire {
        let user = jwt::KeyPair::generate(jwt::Kind::User);
        let mut wire = Wire::connect(self.node.server.client_addr()).answer_pings();
        let info = wire.read_info();
        let nonce = info["nonce"]
            .as_str()
            .expect("an operator-mode INFO has a nonce");
        let connect = serde_json::json!({
            "verbose": false, "protocol": 1, "headers": true,
            "jwt": jwt::user_jwt(&user, &self.account),
            "sig": user.sign(nonce.as_bytes()),
        });
        wire.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        wire.expect(b"PONG\r\n");
        wire
    }
}

impl Drop for OperatorHub {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_credentials_file_authenticates_the_leaf_to_an_operator_mode_hub() {
    if !common::reference_available() {
        return;
    }
    // Plain, then over TLS (the README's example).
    for tls in [false, true] {
        let hub = OperatorHub::start(tls);
        let (user, creds) = hub.user_creds("leaf", &hub.account);
        // The helper's seed is one natsd reads as the same user.
        let seed = natsd::nkeys::UserSeed::from_text(&user.seed()).expect("a user seed");
        assert_eq!(seed.public_key(), user.public_key());
        let leaf = hub.leaf("LEAF", &creds);
        hub.node.wait_links(1);
        leaf.wait_links(1);
        let log = hub.node.server.log();
        let authenticated = format!(
            "Authenticated JWT: Leafnode \"{}\" (claim-name: \"USR\", claim-tags: []) \
             signed with \"{}\"",
            user.public_key(),
            hub.account.public_key()
        );
        assert!(log.contains(&authenticated), "hub log:\n{log}");
        assert_eq!(
            log.contains("Starting TLS leafnode server handshake"),
            tls,
            "hub log:\n{log}"
        );
        let leafz = hub.node.leafz();
        assert_eq!(
            leafz["leafs"][0]["account"],
            hub.account.public_key().as_str(),
            "{leafz}"
        );

        // Messages cross both ways, once, between the leaf's $G and the hub's account.
        let mut on_hub = hub.client();
        let mut on_leaf = leaf.client();
        on_hub.send(b"SUB up 1\r\nPING\r\n");
        on_hub.expect(b"PONG\r\n");
        on_leaf.send(b"SUB down 1\r\nPING\r\n");
        on_leaf.expect(b"PONG\r\n");
        leaf.wait_interest("up", true);
        hub.node.wait_interest("down", true);
        on_leaf.send(b"PUB up 5\r\nhello\r\n");
        on_hub.send(b"PUB down 3\r\nabc\r\n");
        on_hub.expect(b"MSG up 1 5\r\nhello\r\n");
        on_leaf.expect(b"MSG down 1 3\r\nabc\r\n");
        assert_eq!(drain(&mut on_hub), "PONG\r\n");
        assert_eq!(drain(&mut on_leaf), "PONG\r\n");
    }
}

#[test]
fn a_user_of_an_unknown_account_or_a_wrong_seed_is_refused_and_the_leaf_keeps_trying() {
    if !common::reference_available() {
        return;
    }
    let hub = OperatorHub::start(false);
    let stranger = jwt::KeyPair::generate(jwt::Kind::Account);
    let (_, unknown_account) = hub.user_creds("stranger", &stranger);
    // A JWT of the account's user with the seed of another user: the nonce's signature
    // does not verify.
    let (user, _) = hub.user_creds("user", &hub.account);
    let other = jwt::KeyPair::generate(jwt::Kind::User);
    let wrong_seed = hub.write_creds(
        "wrong",
        &jwt::creds(&jwt::user_jwt(&user, &hub.account), &other),
    );
    for (creds, why) in [
        (unknown_account, "Account JWT lookup error: account missing"),
        (wrong_seed, "Signature not verified"),
    ] {
        let leaf = hub.leaf("LEAF", &creds);
        // Refused twice: the leaf retries.
        leaf.server
            .wait_for_log("Leafnode Error 'Authorization Violation'", 2);
        hub.node.server.wait_for_log(why, 2);
        assert_eq!(hub.node.varz()["leafnodes"], 0);
        assert_eq!(leaf.varz()["leafnodes"], 0);
    }
}
