//! Accounts, black-box, on natsd and on nats-server alike: isolation on one subject,
//! stream imports (prefix and `to`), a service import's request and single reply,
//! `no_auth_user` into an account (nats.py's `no_auth_user.conf`), nkey users in an
//! account, a mapping with permissions, the reference's `-t` errors for broken account
//! configurations, and clusters (natsd alone and mixed with nats-server) carrying each
//! account's messages and imports across the route.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{free_port, wait_until, Impl, ServerProc, Wire};
use natsd::nkeys::{encode_signature, UserSeed};

/// A exports streams and services, B imports them, C stands alone with a mapping, `g`
/// lives in `$G` (the spec's example configuration, without `no_auth_user`).
const ACCOUNTS: &str = r#"
accounts {
  A {
    users = [
      {user: a, password: a}
      {user: ap, password: ap, permissions: {publish: "ok.>", subscribe: "ok.>"}}
    ]
    exports = [
      {stream: "events.>"}
      {stream: "private.>", accounts: [B]}
      {service: "svc.echo"}
      {service: "svc.restricted", accounts: [B]}
    ]
  }
  B {
    users = [ {user: b, password: b} ]
    imports = [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "private.x"}, to: "priv.x"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {service: {account: A, subject: "svc.restricted"}}
    ]
  }
  C {
    users = [
      {user: c, password: c, permissions: {publish: "m.in", subscribe: ">"}}
      {user: cc, password: cc}
    ]
    mappings { "m.in": "m.out" }
  }
}
authorization { users = [ {user: g, password: g} ] }
"#;

/// A client logged in as `user` (password = name) with headers, that got its PONG.
fn login(addr: SocketAddr, user: &str) -> Wire {
    let mut wire = Wire::connect(addr).answer_pings();
    wire.label = format!("{} {user}", wire.label);
    wire.read_info();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"protocol\":1,\"headers\":true,\"user\":\"{user}\",\
         \"pass\":\"{user}\"}}\r\nPING\r\n"
    );
    wire.send(connect.as_bytes());
    wire.expect(b"PONG\r\n");
    wire
}

/// A PING/PONG round trip: everything sent before it was processed.
fn sync(wire: &mut Wire) {
    wire.send(b"PING\r\n");
    wire.expect(b"PONG\r\n");
}

fn each_server(conf: &str, check: impl Fn(Impl, &ServerProc)) {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, conf, &[]);
        check(imp, &server);
    }
}

#[test]
fn each_account_is_its_own_subject_space() {
    each_server(ACCOUNTS, |_, server| {
        let addr = server.client_addr();
        let users = ["a", "b", "cc", "g"];
        let mut wires: Vec<Wire> = users.map(|u| login(addr, u)).into();
        for wire in &mut wires {
            wire.send(b"SUB iso 1\r\n");
            sync(wire);
        }
        for (wire, user) in wires.iter_mut().zip(users) {
            wire.send(format!("PUB iso {}\r\n{user}\r\n", user.len()).as_bytes());
        }
        for (wire, user) in wires.iter_mut().zip(users) {
            wire.expect(format!("MSG iso 1 {}\r\n{user}\r\n", user.len()).as_bytes());
            // Nothing else came: the next bytes answer this PING.
            sync(wire);
        }
    });
}

#[test]
fn stream_imports_with_prefix_and_to() {
    each_server(ACCOUNTS, |_, server| {
        let addr = server.client_addr();
        let (mut a, mut b) = (login(addr, "a"), login(addr, "b"));
        b.send(
            b"SUB fromA.events.> 2\r\nSUB events.> 3\r\nSUB priv.x 4\r\nSUB private.> 5\r\n\
              SUB fromA.> 6\r\n",
        );
        sync(&mut b);
        a.send(
            b"PUB events.x r.1 3\r\nev1\r\nPUB private.x 4\r\npriv\r\nPUB private.y 5\r\npriv2\r\n",
        );
        sync(&mut a);
        // One copy per matching subscription, in no fixed order (the reference's sublist
        // keeps a node's subscriptions in a Go map).
        let mut copies = [read_msg(&mut b), read_msg(&mut b)];
        copies.sort();
        assert_eq!(
            copies,
            [
                "MSG fromA.events.x 2 r.1 3\r\nev1\r\n",
                "MSG fromA.events.x 6 r.1 3\r\nev1\r\n"
            ]
        );
        b.expect(b"MSG priv.x 4 4\r\npriv\r\n");
        sync(&mut b);
        // An answer to the reply subject lands in B, not in A.
        a.send(b"SUB r.1 9\r\n");
        sync(&mut a);
        b.send(b"PUB r.1 3\r\nans\r\n");
        sync(&mut b);
        a.send(b"PUB events.y 1\r\ny\r\n");
        let mut copies = [read_msg(&mut b), read_msg(&mut b)];
        copies.sort();
        assert_eq!(
            copies,
            [
                "MSG fromA.events.y 2 1\r\ny\r\n",
                "MSG fromA.events.y 6 1\r\ny\r\n"
            ]
        );
        sync(&mut b);
    });
}

/// One MSG (control line and payload) as text.
fn read_msg(wire: &mut Wire) -> String {
    let line = String::from_utf8(wire.read_line()).unwrap();
    let size: usize = line.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
    let body = wire.read_until(|b| (b.len() >= size + 2).then_some(size + 2));
    line + &String::from_utf8(body).unwrap()
}

/// The `_R_.` reply and the payload of a request delivered as HMSG with a
/// `Nats-Request-Info` header naming account B.
fn read_request(wire: &mut Wire, subject: &str, sid: &str) -> (String, String) {
    let line = String::from_utf8(wire.read_line()).unwrap();
    let head: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(&head[..3], ["HMSG", subject, sid], "{line}");
    let reply = head[3].to_string();
    assert!(reply.starts_with("_R_."), "{line}");
    let total: usize = head[5].parse().unwrap();
    let body = wire.read_until(|b| (b.len() >= total + 2).then_some(total + 2));
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.starts_with("NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\""),
        "{body}"
    );
    let payload = body
        .split("\r\n\r\n")
        .nth(1)
        .unwrap()
        .trim_end()
        .to_string();
    (reply, payload)
}

#[test]
fn a_service_import_gets_exactly_one_reply() {
    each_server(ACCOUNTS, |_, server| {
        let addr = server.client_addr();
        let (mut a, mut b) = (login(addr, "a"), login(addr, "b"));
        a.send(b"SUB svc.echo 10\r\n");
        sync(&mut a);
        b.send(b"SUB _INBOX.1 20\r\nPUB echo _INBOX.1 4\r\nreq1\r\n");
        let (reply, payload) = read_request(&mut a, "svc.echo", "10");
        assert_eq!(payload, "req1");
        a.send(format!("PUB {reply} 4\r\nrsp1\r\nPUB {reply} 4\r\nrsp2\r\n").as_bytes());
        sync(&mut a);
        b.expect(b"MSG _INBOX.1 20 4\r\nrsp1\r\n");
        sync(&mut b);
    });
}

#[test]
fn a_restricted_export_and_other_broken_configurations_fail_the_test_flag() {
    let restricted = "\naccounts {\n  A {\n    exports = [ {service: \"svc.r\", accounts: [B]} ]\n  }\n  \
                      B { }\n  C {\n    imports = [ {service: {account: A, subject: \"svc.r\"}} ]\n  }\n}\n";
    let unknown = "# c\nport: 4222\naccounts {\n  B { imports = [ {stream: {account: Z, subject: \"foo\"}} ] }\n}\n";
    let reserved = "# c\naccounts {\n  A { }\n  $G { users = [ {user: x, password: x} ] }\n}\n";
    let cases = [
        (
            restricted,
            "t.conf:2:1: Error adding service import \"svc.r\": service import not authorized",
        ),
        (
            unknown,
            "t.conf:3:1: \"Z\" account not defined for stream import",
        ),
        (reserved, "t.conf:4:3: \"$G\" is a Reserved Account"),
    ];
    for imp in Impl::enabled() {
        for (conf, error) in cases {
            let dir = common::fresh_temp_dir();
            std::fs::write(dir.join("t.conf"), conf).unwrap();
            let out = imp
                .command()
                .args(["-t", "-c", "t.conf"])
                .current_dir(&dir)
                .output()
                .unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{imp}: {stderr}");
            assert!(stderr.contains(error), "{imp}: want {error:?} in {stderr}");
        }
    }
}

/// nats.py's `tests/conf/no_auth_user.conf`.
const NO_AUTH_USER: &str = r#"
accounts {
  a {
    users = [
      {user: foo, pass: bar, permissions: {
        publish: {allow: ["foo", "_INBOX.>"], deny: "bar"},
        subscribe: {allow: ["foo", "_INBOX.>"], deny: "bar"}
      }}
    ]
  }
  b {
    users = [
      {user: bar, pass: bar, permissions: {
        publish: {allow: "bar", deny: ">"},
        subscribe: {allow: "bar", deny: ">"}
      }}
    ]
  }
}
no_auth_user = "foo"
"#;

#[test]
fn no_auth_user_binds_anonymous_clients_to_its_account() {
    each_server(NO_AUTH_USER, |_, server| {
        let addr = server.client_addr();
        let mut bar = Wire::connect(addr).answer_pings();
        let info = bar.read_info();
        assert!(info.get("auth_required").is_none(), "{info}");
        bar.send(b"CONNECT {\"verbose\":false,\"user\":\"bar\",\"pass\":\"bar\"}\r\nSUB foo 1\r\n");
        bar.expect(b"-ERR 'Permissions Violation for Subscription to \"foo\"'\r\n");
        bar.send(b"PUB foo 5\r\nhello\r\n");
        bar.expect(b"-ERR 'Permissions Violation for Publish to \"foo\"'\r\n");
        bar.send(b"SUB bar 2\r\n");
        bar.expect(b"-ERR 'Permissions Violation for Subscription to \"bar\"'\r\n");
        let mut anon = Wire::connect(addr).answer_pings();
        anon.read_info();
        anon.send(
            b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB _INBOX.abc.* 2\r\n\
              PUB foo _INBOX.abc.1 4\r\nping\r\n",
        );
        anon.expect(b"MSG foo 1 _INBOX.abc.1 4\r\nping\r\n");
        anon.send(b"PUB _INBOX.abc.1 4\r\npong\r\n");
        anon.expect(b"MSG _INBOX.abc.1 2 4\r\npong\r\n");
        anon.send(b"SUB bar 3\r\n");
        anon.expect(b"-ERR 'Permissions Violation for Subscription to \"bar\"'\r\n");
    });
}

#[test]
fn mappings_apply_before_publish_permissions() {
    each_server(ACCOUNTS, |_, server| {
        let mut c = login(server.client_addr(), "c");
        c.send(b"SUB m.in 1\r\nSUB m.out 2\r\nPUB m.in 2\r\nhi\r\n");
        c.expect(b"-ERR 'Permissions Violation for Publish to \"m.out\"'\r\n");
        sync(&mut c);
    });
}

/// A node of a two-node cluster with the `ACCOUNTS` configuration and monitoring.
struct Node {
    server: ServerProc,
    monitor: SocketAddr,
}

impl Node {
    fn start(imp: Impl, route_port: u16, seed: u16) -> Node {
        let conf = format!(
            "{ACCOUNTS}\ncluster {{\n  name: acc\n  listen: 127.0.0.1:{route_port}\n  \
             routes: [nats://127.0.0.1:{seed}]\n}}\n"
        );
        let server = ServerProc::start_with_config(imp, &conf, &["-m", "-1"]);
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        Node { server, monitor }
    }

    fn routes(&self) -> u64 {
        let varz = common::http::get(self.monitor, "/varz").json();
        varz["routes"].as_u64().unwrap_or(0)
    }

    /// Whether this node's route lists `subject` among the peer's interest.
    fn knows(&self, subject: &str) -> bool {
        let routez = common::http::get(self.monitor, "/routez?subs=1").json();
        routez["routes"][0]["subscriptions_list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(subject)))
    }
}

/// Node 1 has account A's publisher and responder, node 2 account B's subscriber and
/// requester (and an A subscriber on the same subject that B uses).
fn imports_across_the_route(first: Impl, second: Impl) {
    let ports = [free_port(), free_port()];
    let n1 = Node::start(first, ports[0], ports[1]);
    let n2 = Node::start(second, ports[1], ports[0]);
    let label = format!("{first}+{second}");
    wait_until(
        Duration::from_secs(10),
        || n1.routes() == 1 && n2.routes() == 1,
        || format!("{label}: no route"),
    );
    let (mut a, mut a2) = (
        login(n1.server.client_addr(), "a"),
        login(n2.server.client_addr(), "a"),
    );
    let mut b = login(n2.server.client_addr(), "b");
    a.send(b"SUB svc.echo 10\r\n");
    sync(&mut a);
    a2.send(b"SUB t 1\r\n");
    sync(&mut a2);
    b.send(b"SUB fromA.events.> 2\r\nSUB t 3\r\nSUB _INBOX.b 4\r\n");
    sync(&mut b);
    wait_until(
        Duration::from_secs(10),
        || n1.knows("events.>") && n1.knows("t") && n2.knows("svc.echo"),
        || format!("{label}: interest never crossed the route"),
    );
    a.send(b"PUB t 4\r\ninA1\r\nPUB events.e1 2\r\nev\r\n");
    sync(&mut a);
    a2.expect(b"MSG t 1 4\r\ninA1\r\n");
    b.expect(b"MSG fromA.events.e1 2 2\r\nev\r\n");
    b.send(b"PUB echo _INBOX.b 3\r\nreq\r\n");
    let (reply, payload) = read_request(&mut a, "svc.echo", "10");
    assert_eq!(payload, "req", "{label}");
    a.send(format!("PUB {reply} 4\r\nresp\r\n").as_bytes());
    b.expect(b"MSG _INBOX.b 4 4\r\nresp\r\n");
    sync(&mut b);
}

#[test]
fn a_natsd_cluster_carries_each_account_and_its_imports() {
    imports_across_the_route(Impl::Natsd, Impl::Natsd);
}

#[test]
fn mixed_clusters_carry_each_account_and_its_imports() {
    if !common::reference_available() {
        return;
    }
    imports_across_the_route(Impl::Reference, Impl::Natsd);
    imports_across_the_route(Impl::Natsd, Impl::Reference);
}

#[test]
fn nkey_users_live_in_their_account() {
    let seed = UserSeed::generate();
    let public = seed.public_key();
    let conf = format!(
        "accounts {{\n  A {{ users = [ {{nkey: {public}}} ] }}\n  B {{ users = [ {{user: b, password: b}} ] }}\n}}\n"
    );
    each_server(&conf, |_, server| {
        let addr = server.client_addr();
        let mut nkey = Wire::connect(addr).answer_pings();
        let info = nkey.read_info();
        let nonce = info["nonce"].as_str().expect("a nonce");
        let sig = encode_signature(&seed.sign(nonce.as_bytes()));
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{public}\",\"sig\":\"{sig}\"}}\r\nSUB x 1\r\nPING\r\n"
        );
        nkey.send(connect.as_bytes());
        nkey.expect(b"PONG\r\n");
        let mut b = login(addr, "b");
        b.send(b"SUB x 1\r\nPUB x 1\r\nb\r\n");
        b.expect(b"MSG x 1 1\r\nb\r\n");
        nkey.send(b"PUB x 1\r\na\r\n");
        nkey.expect(b"MSG x 1 1\r\na\r\n");
        sync(&mut b);
    });
}

/// Rewrites the server's configuration and sends SIGHUP; waits for the `nth` outcome.
fn reload(server: &ServerProc, conf: &str, nth: usize) {
    std::fs::write(server.config_path(), conf).unwrap();
    server.signal(libc::SIGHUP);
    wait_until(
        Duration::from_secs(5),
        || {
            let log = server.log();
            log.matches("Reloaded server configuration").count()
                + log.matches("Failed to reload server configuration").count()
                >= nth
        },
        || format!("no reload outcome:\n{}", server.log()),
    );
}

#[test]
fn reload_rebuilds_accounts_users_and_imports() {
    let before = "accounts {\n  A {\n    users = [ {user: a, password: a}, {user: m, password: m} ]\n    \
                  exports = [ {stream: \"ev.>\"} ]\n  }\n  B { users = [ {user: b, password: b} ] }\n}\n";
    let after = "accounts {\n  A {\n    users = [ {user: a, password: a} ]\n    \
                 exports = [ {stream: \"ev.>\"} ]\n  }\n  B {\n    users = [ {user: b, password: b}, {user: m, password: m} ]\n    \
                 imports = [ {stream: {account: A, subject: \"ev.>\"}, prefix: fromA} ]\n  }\n  \
                 C { users = [ {user: c, password: c} ] }\n}\n";
    each_server(before, |_, server| {
        let addr = server.client_addr();
        let (mut a, mut b, mut moved) = (login(addr, "a"), login(addr, "b"), login(addr, "m"));
        b.send(b"SUB fromA.ev.> 1\r\n");
        sync(&mut b);
        reload(server, after, 1);
        // The user that moved to B is closed without an -ERR; it comes back into B.
        moved.expect_closed();
        let mut moved = login(addr, "m");
        moved.send(b"SUB fromA.ev.> 1\r\n");
        sync(&mut moved);
        // B's subscription made before the reload gets the new import; C exists.
        a.send(b"PUB ev.1 1\r\nx\r\n");
        sync(&mut a);
        b.expect(b"MSG fromA.ev.1 1 1\r\nx\r\n");
        moved.expect(b"MSG fromA.ev.1 1 1\r\nx\r\n");
        let mut c = login(addr, "c");
        // The system account cannot change on a running server.
        let with_system = format!("{after}system_account: C\n");
        reload(server, &with_system, 2);
        server.wait_for_log(
            "config reload not supported for SystemAccount: old=, new=C",
            1,
        );
        sync(&mut c);
        // An account removed: its clients are closed without an -ERR.
        reload(server, before, 3);
        c.expect_closed();
    });
}

#[test]
fn connz_names_the_no_auth_user_and_its_account() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, NO_AUTH_USER, &["-m", "-1"]);
        let mut anon = Wire::connect(server.client_addr());
        anon.read_info();
        anon.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        anon.expect(b"PONG\r\n");
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        let connz = common::http::get(monitor, "/connz?auth=1").json();
        let conn = &connz["connections"][0];
        assert_eq!(
            (conn["authorized_user"].as_str(), conn["account"].as_str()),
            (Some("foo"), Some("a")),
            "{imp}: {connz}"
        );
    }
}
