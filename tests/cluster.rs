//! Clustering, black-box: the gnatsd README's seed example on random ports (natsd alone and
//! mixed with nats-server), delivery exactly once across the mesh (plain and queue
//! subscribers), healing after a node restarts, route authorization, and the route port's
//! refusals of clients and strangers.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::cluster::{wait_for_mesh, wait_for_route_interest, Node};
use common::{free_port, wait_until, Impl, ServerProc, Wire, TIMEOUT};

/// The README's example: a seed that lists itself, two servers pointed at the seed, no
/// cluster name; ports relative to free bases.
fn seed_cluster(imps: [Impl; 3]) -> [Node; 3] {
    let ports = [free_port(), free_port(), free_port()];
    let seed = Node::start(imps[0], ports[0], ports[0], &["-D"]);
    let second = Node::start(imps[1], ports[1], ports[0], &["-D"]);
    let third = Node::start(imps[2], ports[2], ports[0], &["-D"]);
    [seed, second, third]
}

/// Everything a client receives up to the PONG of a PING sent now.
fn drain(wire: &mut Wire) -> String {
    wire.send(b"PING\r\n");
    let got = wire.read_until(|b| b.windows(6).position(|w| w == b"PONG\r\n").map(|p| p + 6));
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads until every one of `needles` has arrived; returns the text through the last one.
fn read_through(wire: &mut Wire, needles: &[String]) -> String {
    let got = wire.read_until(|buf| {
        needles.iter().try_fold(0, |end, needle| {
            let at = buf
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())?;
            Some(end.max(at + needle.len()))
        })
    });
    String::from_utf8_lossy(&got).into_owned()
}

/// A fence through every path of the mesh: each publisher publishes `<tag><i>` on `mesh`
/// and each subscriber reads until it has all of them; returns what each subscriber read.
/// A route carries messages in order, so whatever a node sent a subscriber before its fence
/// message has arrived once that has. A second fence also covers what a node passed on
/// after receiving it (it had received it before the first fence reached its subscriber).
fn fence(pubs: &mut [Wire], subs: &mut [Wire], tag: &str) -> Vec<String> {
    for (i, publisher) in pubs.iter_mut().enumerate() {
        let payload = format!("{tag}{i}");
        publisher.send(format!("PUB mesh {}\r\n{payload}\r\n", payload.len()).as_bytes());
        drain(publisher);
    }
    let needles: Vec<String> = (0..pubs.len())
        .map(|i| format!("\r\n{tag}{i}\r\n"))
        .collect();
    subs.iter_mut()
        .map(|sub| read_through(sub, &needles))
        .collect()
}

/// Two [`fence`]s; returns what each subscriber read up to the second.
fn double_fence(pubs: &mut [Wire], subs: &mut [Wire], tag: &str) -> Vec<String> {
    let first = fence(pubs, subs, &format!("{tag}a"));
    let second = fence(pubs, subs, &format!("{tag}b"));
    first.into_iter().zip(second).map(|(a, b)| a + &b).collect()
}

/// Subscribes on every node and waits until every node knows the other nodes' interest
/// (`/routez`) and a probe from every node reaches every subscriber; then each node
/// publishes one message, which each subscriber gets exactly once, and a queue group with a
/// member on every node gets each of `queued` messages exactly once in total. "Exactly
/// once" is judged when [`double_fence`] has come through every path after the messages.
fn check_delivery(nodes: &[Node; 3], queued: usize) {
    let mut subs: Vec<Wire> = nodes.iter().map(Node::client).collect();
    for (s, sub) in subs.iter_mut().enumerate() {
        sub.label = format!("subscriber on node {s}");
        sub.send(b"SUB mesh 1\r\nSUB work grp 2\r\nPING\r\n");
        sub.expect(b"PONG\r\n");
    }
    let all: Vec<&Node> = nodes.iter().collect();
    wait_for_route_interest(&all, &["mesh", "work"], nodes.len() - 1);
    let mut pubs: Vec<Wire> = nodes.iter().map(Node::client).collect();
    fence(&mut pubs, &mut subs, "probe");
    for (i, publisher) in pubs.iter_mut().enumerate() {
        publisher.send(format!("PUB mesh 5\r\nreal{i}\r\n").as_bytes());
        drain(publisher);
    }
    let texts = double_fence(&mut pubs, &mut subs, "real");
    for (s, text) in texts.iter().enumerate() {
        for i in 0..3 {
            let copies = text.matches(&format!("real{i}")).count();
            assert_eq!(
                copies, 1,
                "subscriber {s} got message {i} {copies} times: {text:?}"
            );
        }
    }
    let batch: Vec<u8> = (0..queued)
        .flat_map(|n| format!("PUB work 8\r\n{n:08}\r\n").into_bytes())
        .collect();
    pubs[0].send(&batch);
    drain(&mut pubs[0]);
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for sub in subs.iter_mut() {
            let text = drain(sub);
            let numbers = text
                .split("\r\n")
                .filter(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()));
            for n in numbers {
                *seen.entry(n.parse().unwrap()).or_default() += 1;
            }
        }
        let total: usize = seen.values().sum();
        if total >= queued {
            break;
        }
        assert!(Instant::now() < deadline, "queue: {total} of {queued}");
        std::thread::sleep(Duration::from_millis(20));
    }
    for text in double_fence(&mut pubs, &mut subs, "queue") {
        assert!(!text.contains("MSG work"), "a queued message arrived twice");
    }
    assert_eq!(seen.len(), queued, "every queued message arrived");
    assert!(seen.values().all(|&n| n == 1), "no queued message twice");
}

#[test]
fn seed_example_forms_a_full_mesh_and_delivers_once() {
    let nodes = seed_cluster([Impl::Natsd; 3]);
    let took = wait_for_mesh(
        &[&nodes[0], &nodes[1], &nodes[2]],
        2,
        Duration::from_secs(5),
    );
    assert!(took < Duration::from_secs(2), "full mesh took {took:?}");
    check_delivery(&nodes, 10_000);
    let varz = common::http::get(nodes[1].monitor, "/varz").json();
    assert_eq!(varz["remotes"], 2);
    // The reference's walkthrough lines (the second at debug level).
    for node in &nodes {
        node.server.wait_for_log("Route connection created", 2);
        node.server.wait_for_log("Registering remote route \"N", 2);
    }
}

/// The next async INFO a client receives, as JSON.
fn next_info(wire: &mut Wire) -> serde_json::Value {
    let line = wire.read_line();
    let text = String::from_utf8_lossy(&line);
    let json = text
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("expected an async INFO, got {text:?}"));
    serde_json::from_str(json.trim_end()).expect("INFO JSON")
}

fn urls_of(info: &serde_json::Value) -> Vec<String> {
    let mut urls: Vec<String> = info["connect_urls"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    urls.sort();
    urls
}

#[test]
fn clients_learn_the_cluster_urls() {
    let ports = [free_port(), free_port(), free_port()];
    let seed = Node::start(Impl::Natsd, ports[0], ports[0], &[]);
    let second = Node::start(Impl::Natsd, ports[1], ports[0], &[]);
    wait_for_mesh(&[&seed, &second], 1, Duration::from_secs(5));
    let mut watcher = Wire::connect(seed.server.client_addr());
    let info = watcher.read_info();
    assert!(info["cluster"].as_str().is_some_and(|c| !c.is_empty()));
    let addr = |n: &Node| n.server.client_addr().to_string();
    let mut two = vec![addr(&seed), addr(&second)];
    two.sort();
    assert_eq!(urls_of(&info), two);
    watcher.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    watcher.expect(b"PONG\r\n");
    let third = Node::start(Impl::Natsd, ports[2], ports[0], &[]);
    wait_for_mesh(&[&seed, &second, &third], 2, Duration::from_secs(5));
    let mut three = vec![addr(&seed), addr(&second), addr(&third)];
    three.sort();
    assert_eq!(
        urls_of(&next_info(&mut watcher)),
        three,
        "async INFO when a server joins"
    );
    third.server.signal(libc::SIGUSR2);
    assert_eq!(
        urls_of(&next_info(&mut watcher)),
        two,
        "async INFO when one enters lame duck mode"
    );
}

#[test]
fn a_restarted_node_rejoins_and_its_interest_works() {
    restart_third_and_check(Impl::Natsd, 1000);
}

/// A seed cluster of `seeds` servers and natsd as the third: the natsd node is killed, the
/// other two keep their route, and the restarted node rejoins with working interest.
fn restart_third_and_check(seeds: Impl, queued: usize) {
    let [seed, second, third] = seed_cluster([seeds, seeds, Impl::Natsd]);
    wait_for_mesh(&[&seed, &second, &third], 2, Duration::from_secs(5));
    let port = third.route_port;
    drop(third);
    wait_for_mesh(&[&seed, &second], 1, Duration::from_secs(5));
    let third = Node::start(Impl::Natsd, port, seed.route_port, &[]);
    wait_for_mesh(&[&seed, &second, &third], 2, Duration::from_secs(5));
    check_delivery(&[seed, second, third], queued);
}

#[test]
fn mixed_with_nats_server() {
    if !common::reference_available() {
        return;
    }
    let nodes = seed_cluster([Impl::Natsd, Impl::Reference, Impl::Natsd]);
    wait_for_mesh(
        &[&nodes[0], &nodes[1], &nodes[2]],
        2,
        Duration::from_secs(5),
    );
    check_delivery(&nodes, 10_000);
}

#[test]
fn natsd_rejoins_a_nats_server_cluster() {
    if !common::reference_available() {
        return;
    }
    restart_third_and_check(Impl::Reference, 2000);
}

#[test]
fn route_authorization() {
    let hashed = bcrypt::hash("rp", 4).unwrap();
    let cases = Impl::enabled()
        .into_iter()
        .map(|imp| (imp, "rp".to_string()))
        .chain([(Impl::Natsd, hashed)]);
    for (imp, password) in cases {
        let port = free_port();
        let conf = format!(
            "http: 127.0.0.1:-1\ncluster {{\n  listen: 127.0.0.1:{port}\n  authorization {{ user: ru, password: \"{password}\", timeout: 1 }}\n}}\n"
        );
        let seed = Node::from(ServerProc::start_with_config(imp, &conf, &[]), port);
        let wrong = format!("nats://ru:nope@127.0.0.1:{port}");
        let bad = Node::start(Impl::Natsd, free_port(), 0, &["--routes", &wrong]);
        // The seed refused an attempt; it never counts a route that did not authenticate.
        seed.server.wait_for_log("- authentication error", 1);
        assert_eq!(seed.routes(), 0, "{imp}: wrong password refused");
        // The dialler counts its route from the seed's INFO until the -ERR that follows, and
        // dials again every second: it must get back to none.
        let routes = || (seed.routes(), bad.routes());
        wait_until(
            TIMEOUT,
            || routes() == (0, 0),
            || format!("{imp}: wrong password refused: routes {:?}", routes()),
        );
        let right = format!("nats://ru:rp@127.0.0.1:{port}");
        let good = Node::start(Impl::Natsd, free_port(), 0, &["--routes", &right]);
        wait_for_mesh(&[&seed, &good], 1, Duration::from_secs(5));
    }
}

#[test]
fn the_route_port_refuses_clients_and_strangers() {
    for imp in Impl::enabled() {
        let port = free_port();
        let node = Node::start(imp, port, port, &["--cluster_name", "c1"]);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut client = Wire::connect(addr);
        let info = client.read_info();
        assert_eq!(info["cluster"], "c1", "{imp}: route INFO");
        assert_eq!(info["proto"], 2, "{imp}");
        client.send(b"CONNECT {\"verbose\":false,\"lang\":\"go\",\"version\":\"1.0\"}\r\n");
        client.expect(b"-ERR 'attempted to connect to route port'\r\n");
        client.expect_closed();
        let mut stranger = Wire::connect(addr);
        stranger.read_info();
        stranger.send(b"CONNECT {\"verbose\":false,\"name\":\"NX\",\"cluster\":\"other\"}\r\n");
        stranger.expect(
            b"-ERR 'Rejecting connection, cluster name \"other\" does not match \"c1\"'\r\n",
        );
        stranger.expect_closed();
        assert_eq!(node.routes(), 0, "{imp}");
    }
}

/// `/routez?subs=detail` and `/varz` of a two-node cluster of `imp`, once node 0 knows
/// node 1's two subscriptions.
fn two_node_documents(imp: Impl) -> (serde_json::Value, serde_json::Value) {
    let ports = [free_port(), free_port()];
    let first = Node::start(imp, ports[0], ports[0], &["--cluster_name", "demo"]);
    let second = Node::start(imp, ports[1], ports[0], &["--cluster_name", "demo"]);
    wait_for_mesh(&[&first, &second], 1, Duration::from_secs(5));
    let mut client = second.client();
    client.send(b"SUB foo.bar 1\r\nSUB foo.q grp 2\r\nPING\r\n");
    client.expect(b"PONG\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut routez = common::http::get(first.monitor, "/routez?subs=detail").json();
        // Only our two (the reference also routes its system account's interest).
        let detail = &mut routez["routes"][0]["subscriptions_list_detail"];
        if let Some(list) = detail.as_array_mut() {
            list.retain(|s| s["subject"].as_str().is_some_and(|s| s.starts_with("foo.")));
            list.sort_by_key(|s| s["subject"].as_str().map(String::from));
            list.reverse();
        }
        let subs = detail.as_array().map_or(0, Vec::len);
        if subs == 2 {
            let varz = common::http::get(first.monitor, "/varz").json();
            return (routez, varz);
        }
        assert!(
            Instant::now() < deadline,
            "{imp}: interest never arrived: {routez:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn routez_and_varz_describe_the_cluster() {
    let (routez, varz) = two_node_documents(Impl::Natsd);
    assert_eq!(routez["num_routes"], 1);
    let route = &routez["routes"][0];
    // The seed only dialled itself: its route to the other node was accepted.
    assert_eq!(
        (
            route["did_solicit"].as_bool(),
            route["is_configured"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let detail = route["subscriptions_list_detail"].as_array().unwrap();
    let queue = detail.iter().find(|s| s["subject"] == "foo.q").unwrap();
    assert_eq!(
        (queue["sid"].as_str(), queue["qgroup"].as_str()),
        (Some("$G foo.q grp"), Some("grp"))
    );
    assert_eq!(queue["cid"], route["rid"]);
    assert!(queue.get("account").is_none());
    assert_eq!(varz["cluster"]["name"], "demo");
    assert_eq!(
        (varz["routes"].as_u64(), varz["remotes"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(varz["connect_urls"].as_array().map(Vec::len), Some(2));
    if !common::reference_available() {
        return;
    }
    let (ref_routez, ref_varz) = two_node_documents(Impl::Reference);
    for ((ours, theirs), path) in [(&routez, &ref_routez), (&varz, &ref_varz)]
        .into_iter()
        .zip(["/routez", "/varz"])
    {
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        common::http::shape(ours, "", &mut a);
        common::http::shape(theirs, "", &mut b);
        // `cpu` may be integral or not.
        for m in [&mut a, &mut b] {
            for t in m.values_mut() {
                if *t == "float" {
                    *t = "integer";
                }
            }
        }
        assert_eq!(a, b, "{path}: key paths and types");
    }
}

#[test]
fn route_permissions_filter_interest_both_ways() {
    for imp in Impl::enabled() {
        let port = free_port();
        let conf = format!(
            "http: 127.0.0.1:-1\ncluster {{\n  listen: 127.0.0.1:{port}\n  permissions {{\n    import: {{ allow: [\"in.>\"] }}\n    export: {{ allow: [\"out.>\"], deny: [\"out.secret\"] }}\n  }}\n}}\n"
        );
        let guarded = Node::from(ServerProc::start_with_config(imp, &conf, &[]), port);
        let other = Node::start(Impl::Natsd, free_port(), port, &[]);
        wait_for_mesh(&[&guarded, &other], 1, Duration::from_secs(5));
        // Interest on the guarded node: only what it imports reaches the other node.
        let mut inside = guarded.client();
        inside.send(b"SUB in.x 1\r\nSUB elsewhere 2\r\nPING\r\n");
        inside.expect(b"PONG\r\n");
        // Interest on the other node: only what the guarded node exports is accepted.
        let mut outside = other.client();
        outside.send(b"SUB out.x 1\r\nSUB out.secret 2\r\nPING\r\n");
        outside.expect(b"PONG\r\n");
        // The allowed interest has crossed both ways.
        wait_for_route_interest(&[&other], &["in.x"], 1);
        wait_for_route_interest(&[&guarded], &["out.x"], 1);
        // Each publisher ends with a message its subscriber does get, through the same route
        // after the forbidden one: when it has arrived, the forbidden one would have too.
        let mut publisher = other.client();
        publisher.send(b"PUB in.x 1\r\na\r\nPUB elsewhere 1\r\nb\r\nPUB in.x 1\r\nz\r\nPING\r\n");
        publisher.expect(b"PONG\r\n");
        let mut publisher = guarded.client();
        publisher
            .send(b"PUB out.x 1\r\nc\r\nPUB out.secret 1\r\nd\r\nPUB out.x 1\r\ny\r\nPING\r\n");
        publisher.expect(b"PONG\r\n");
        inside.label = format!("{imp} inside");
        let got_inside = read_through(&mut inside, &["MSG in.x 1 1\r\nz\r\n".into()]);
        assert!(
            got_inside.contains("MSG in.x 1 1\r\na"),
            "{imp}: {got_inside:?}"
        );
        assert!(
            !got_inside.contains("elsewhere"),
            "{imp}: not imported: {got_inside:?}"
        );
        outside.label = format!("{imp} outside");
        let got_outside = read_through(&mut outside, &["MSG out.x 1 1\r\ny\r\n".into()]);
        assert!(
            got_outside.contains("MSG out.x 1 1\r\nc"),
            "{imp}: {got_outside:?}"
        );
        assert!(
            !got_outside.contains("secret"),
            "{imp}: not exported: {got_outside:?}"
        );
        let routez = common::http::get(guarded.monitor, "/routez").json();
        assert_eq!(
            routez["import"]["allow"],
            serde_json::json!(["in.>"]),
            "{imp}"
        );
        assert_eq!(
            routez["export"]["deny"],
            serde_json::json!(["out.secret"]),
            "{imp}"
        );
    }
}

fn cert(name: &str) -> String {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs/certs")
        .join(name)
        .display()
        .to_string()
}

/// A node whose routes use TLS with the test route certificate, trusting `ca`.
fn tls_node(imp: Impl, port: u16, seed: u16, ca: &str) -> Node {
    let conf = format!(
        "http: 127.0.0.1:-1\ncluster {{\n  name: secure\n  listen: 127.0.0.1:{port}\n  routes: [\"nats://localhost:{seed}\"]\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n    timeout: 2\n  }}\n}}\n",
        cert("route-cert.pem"),
        cert("route-key.pem"),
        cert(ca)
    );
    Node::from(ServerProc::start_with_config(imp, &conf, &[]), port)
}

/// natsd's log line for a failed TLS handshake.
const TLS_FAILED: &str = "TLS handshake error";

#[test]
fn tls_routes_verify_both_ends() {
    for imp in Impl::enabled() {
        let (a, b) = (free_port(), free_port());
        let first = tls_node(Impl::Natsd, a, a, "ca.pem");
        let second = tls_node(imp, b, a, "ca.pem");
        wait_for_mesh(&[&first, &second], 1, Duration::from_secs(5));
        let mut sub = second.client();
        sub.send(b"SUB sealed 1\r\nPING\r\n");
        sub.expect(b"PONG\r\n");
        wait_for_route_interest(&[&first], &["sealed"], 1);
        let mut publisher = first.client();
        publisher.send(b"PUB sealed 2\r\nok\r\nPING\r\n");
        publisher.expect(b"PONG\r\n");
        sub.label = format!("{imp}: no message over the TLS route");
        sub.expect(b"MSG sealed 1 2\r\nok\r\n");
        let varz = common::http::get(first.monitor, "/varz").json();
        assert_eq!(varz["cluster"]["tls_required"], true, "{imp}");
        // A server that trusts another CA (here: a leaf certificate, no CA at all) is refused.
        let failures = first.server.log().matches(TLS_FAILED).count();
        let stranger = tls_node(Impl::Natsd, free_port(), a, "client-cert.pem");
        // Both ends saw the handshake fail (routes count only after it).
        stranger.server.wait_for_log(TLS_FAILED, 1);
        first.server.wait_for_log(TLS_FAILED, failures + 1);
        assert_eq!(
            (stranger.routes(), first.routes()),
            (0, 1),
            "{imp}: wrong CA refused"
        );
    }
}

#[test]
fn reload_adds_and_removes_configured_routes() {
    for imp in Impl::enabled() {
        let (a, b, dead) = (free_port(), free_port(), free_port());
        let first = Node::from(
            ServerProc::start_with_config(
                Impl::Natsd,
                &format!("http: 127.0.0.1:-1\ncluster {{ name: r, listen: 127.0.0.1:{a} }}\n"),
                &[],
            ),
            a,
        );
        // `second` also has a route to a port nobody listens on: its dialler tries it every
        // second and logs each attempt (at debug level), a clock of the server's own.
        let conf = |routes: &str| {
            format!("debug: true\nhttp: 127.0.0.1:-1\ncluster {{ name: r, listen: 127.0.0.1:{b}, routes: [\"nats://127.0.0.1:{dead}\"{routes}] }}\n")
        };
        let second = Node::from(ServerProc::start_with_config(imp, &conf(""), &[]), b);
        std::fs::write(
            second.server.config_path(),
            conf(&format!(", \"nats://127.0.0.1:{a}\"")),
        )
        .unwrap();
        second.server.signal(libc::SIGHUP);
        wait_for_mesh(&[&first, &second], 1, Duration::from_secs(5));
        second.server.wait_for_log("Reloaded: cluster routes", 1);
        std::fs::write(second.server.config_path(), conf("")).unwrap();
        second.server.signal(libc::SIGHUP);
        second
            .server
            .wait_for_log("Removed route nats://127.0.0.1:", 1);
        wait_for_mesh(&[&first, &second], 0, Duration::from_secs(5));
        // Three more attempts on the dead route span two whole retry periods: a closed
        // configured route is dialled again one period after it closed, so by then `second`
        // would have tried `first` again, had the reload not removed it.
        let tries = |port: u16| format!("Trying to connect to route on 127.0.0.1:{port} (");
        let count = |port: u16| second.server.log().matches(&tries(port)).count();
        let (to_first, to_dead) = (count(a), count(dead));
        second.server.wait_for_log(&tries(dead), to_dead + 3);
        assert_eq!(
            count(a),
            to_first,
            "{imp}: a removed route is not dialled again"
        );
        assert_eq!(
            (first.routes(), second.routes()),
            (0, 0),
            "{imp}: a removed route stays gone"
        );
    }
}

/// Sends `hello` then `bad` on a fresh route connection and returns everything the
/// server wrote until it closed the connection (panics if it does not within 5 s).
fn route_reply_until_closed(addr: SocketAddr, hello: &str, bad: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    sock.write_all(hello.as_bytes()).unwrap();
    sock.write_all(bad).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match sock.read(&mut chunk) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => {
                return String::from_utf8_lossy(&got).into_owned()
            }
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "not closed: {}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn a_broken_route_peer_is_closed_and_hurts_no_one() {
    for imp in Impl::enabled() {
        let port = free_port();
        let node = Node::start(imp, port, port, &["--cluster_name", "c1"]);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let hello = |id: &str| {
            format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"c1\"}}\r\nINFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"c1\"}}\r\n")
        };
        // Bad RMSG arguments: closed without an -ERR.
        let got = route_reply_until_closed(addr, &hello("NFAKEA"), b"RMSG $G foo bar baz\r\n");
        assert!(!got.contains("-ERR"), "{imp}: {got:?}");
        // An operation routes never send: -ERR, then closed.
        let got = route_reply_until_closed(addr, &hello("NFAKEB"), b"MSG foo 1 2\r\nhi\r\n");
        assert!(
            got.contains("-ERR 'Unknown Protocol Operation'\r\n"),
            "{imp}: {got:?}"
        );
        // Clients are unaffected.
        let mut client = node.client();
        client.send(b"SUB ok 1\r\nPUB ok 2\r\nhi\r\n");
        client.expect(b"MSG ok 1 2\r\nhi\r\n");
        // The peers said INFO (a route counts from then): both must be forgotten.
        wait_until(
            TIMEOUT,
            || node.routes() == 0,
            || format!("{imp}: broken peers still counted: {}", node.routes()),
        );
    }
}

/// Rolling restarts, as a client library's failover tests do them: a client that read its
/// INFO before a server joined and sent CONNECT after gets the new URLs with the PONG to its
/// first PING; a server that stops sends its clients no INFO without its peers.
#[test]
fn clients_keep_the_cluster_urls_through_joins_and_stops() {
    for imp in Impl::enabled() {
        let ports = [free_port(), free_port()];
        let seed = Node::start(imp, ports[0], ports[0], &[]);
        let mut early = Wire::connect(seed.server.client_addr());
        early.read_info();
        let second = Node::start(imp, ports[1], ports[0], &[]);
        wait_for_mesh(&[&seed, &second], 1, Duration::from_secs(5));
        // The async INFO of the join went to CONNECTed clients only.
        early.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        early.expect(b"PONG\r\n");
        let addr = |n: &Node| n.server.client_addr().to_string();
        let mut two = vec![addr(&seed), addr(&second)];
        two.sort();
        assert_eq!(
            urls_of(&next_info(&mut early)),
            two,
            "{imp}: INFO after PONG"
        );
        early.send(b"PING\r\n");
        early.expect(b"PONG\r\n");
        // Stopping the seed: its clients see the connection close, no INFO before it.
        let mut watcher = Wire::connect(seed.server.client_addr());
        watcher.read_info();
        watcher.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        watcher.expect(b"PONG\r\n");
        seed.server.signal(libc::SIGTERM);
        watcher.expect_closed();
    }
}
