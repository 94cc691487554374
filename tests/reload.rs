//! Configuration on a running server: `-t`, reload by SIGHUP and `--signal`, refusals that
//! keep the old configuration, lame duck mode. Black-box, against the natsd binary, and
//! against the reference where the observable behaviour must match.

mod common;

use std::fs;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{free_port, reference_available, Impl, ServerProc, Wire, TIMEOUT};
use natsd::nkeys::{encode_signature, UserSeed};

/// CONNECT with verbose off and async INFO on (protocol 1), as real clients send.
const QUIET: &[u8] = b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n";

/// natsd and, when installed, the reference.
fn implementations() -> Vec<Impl> {
    Impl::enabled()
}

/// Rewrites the server's config file and sends SIGHUP; waits for the `nth` reload outcome
/// (success or failure) in the log.
fn reload(server: &ServerProc, conf: &str, nth: usize) {
    fs::write(server.config_path(), conf).unwrap();
    server.signal(libc::SIGHUP);
    wait_for_reloads(server, nth);
}

fn wait_for_reloads(server: &ServerProc, nth: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = server.log();
        let outcomes = log.matches("Reloaded server configuration").count()
            + log.matches("Failed to reload server configuration").count();
        if outcomes >= nth {
            return;
        }
        assert!(Instant::now() < deadline, "no reload outcome:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connected client that has seen its PONG.
fn client(server: &ServerProc) -> Wire {
    let mut wire = Wire::connect(server.client_addr()).answer_pings();
    wire.read_info();
    wire.send(QUIET);
    wire.send(b"PING\r\n");
    wire.expect(b"PONG\r\n");
    wire
}

fn still_serves(wire: &mut Wire) {
    wire.send(b"PING\r\n");
    wire.expect(b"PONG\r\n");
}

#[test]
fn reload_turns_on_debug_and_keeps_clients() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "debug: false\n", &[]);
        let mut steady = client(&server);
        reload(&server, "debug: true\n", 1);
        server.wait_for_log("Reloaded: debug = true", 1);
        let _second = client(&server);
        server.wait_for_log("[DBG] ", 1);
        still_serves(&mut steady);
    }
}

#[test]
fn lowered_max_payload_applies_to_the_next_pub() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "max_payload: 1024\n", &[]);
        let mut wire = client(&server);
        wire.send(b"SUB big 1\r\nPUB big 20\r\n01234567890123456789\r\n");
        wire.expect(b"MSG big 1 20\r\n01234567890123456789\r\n");
        reload(&server, "max_payload: 16\n", 1);
        server.wait_for_log("Reloaded: max_payload = 16", 1);
        wire.send(b"PUB big 20\r\n");
        wire.expect(b"-ERR 'Maximum Payload Violation'\r\n");
        wire.expect_closed();
        let info = Wire::connect(server.client_addr()).read_info();
        assert_eq!(info["max_payload"], 16, "{imp}");
    }
}

#[test]
fn port_change_is_refused_and_the_old_port_keeps_serving() {
    for imp in implementations() {
        let port = free_port();
        let server =
            ServerProc::start_with_config_listen(imp, &format!("listen: 127.0.0.1:{port}\n"));
        let mut wire = client(&server);
        let other = free_port();
        reload(&server, &format!("listen: 127.0.0.1:{other}\n"), 1);
        server.wait_for_log(
            &format!(
                "Failed to reload server configuration: config reload not supported for Port: old={port}, new={other}"
            ),
            1,
        );
        still_serves(&mut wire);
        assert_eq!(server.client_addr().port(), port);
        still_serves(&mut client(&server));
    }
}

#[test]
fn monitoring_port_change_is_refused() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "http_port: -1\n", &[]);
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        reload(&server, "http_port: 18999\n", 1);
        server.wait_for_log(
            "Failed to reload server configuration: config reload not supported for HTTPPort: old=-1, new=18999",
            1,
        );
        std::net::TcpStream::connect(monitor).expect("the monitor still listens");
        reload(&server, "http_port: -1\nhttp_base_path: /x\n", 2);
        server.wait_for_log(
            "config reload not supported for HTTPBasePath: old=, new=/x",
            1,
        );
    }
}

#[test]
fn cluster_port_change_is_refused() {
    for imp in implementations() {
        let (port, other) = (free_port(), free_port());
        let conf = |p: u16| format!("cluster {{ listen: 127.0.0.1:{p} }}\n");
        let server = ServerProc::start_with_config(imp, &conf(port), &[]);
        reload(&server, &conf(other), 1);
        server.wait_for_log(
            &format!("config reload not supported for cluster port: old={port}, new={other}"),
            1,
        );
        still_serves(&mut client(&server));
    }
}

#[test]
fn broken_file_keeps_the_running_configuration() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "max_payload: 64\n", &[]);
        let mut wire = client(&server);
        reload(&server, "max_payload: [\n", 1);
        server.wait_for_log("Failed to reload server configuration: ", 1);
        // Still 64: a 40-byte message goes through, a 65-byte one would not.
        wire.send(b"SUB s 1\r\nPUB s 40\r\n0123456789012345678901234567890123456789\r\n");
        wire.expect(b"MSG s 1 40\r\n0123456789012345678901234567890123456789\r\n");
        reload(&server, "max_payload: 32\n", 2);
        server.wait_for_log("Reloaded: max_payload = 32", 1);
    }
}

#[test]
fn reload_without_a_config_file_is_refused() {
    for imp in implementations() {
        let server = ServerProc::start(imp, &[]);
        server.signal(libc::SIGHUP);
        server.wait_for_log(
            "[ERR] Failed to reload server configuration: can only reload config when a file is provided using -c or --config",
            1,
        );
        still_serves(&mut client(&server));
    }
}

#[test]
fn signal_flag_reloads_by_pid_and_by_pid_file() {
    let pid_file = common::fresh_temp_dir().join("natsd.pid");
    let pid_arg = format!("-P={}", pid_file.display());
    let server = ServerProc::start_with_config(Impl::Natsd, "debug: false\n", &[&pid_arg]);
    fs::write(server.config_path(), "debug: true\n").unwrap();
    let by_pid = natsd(&["--signal", &format!("reload={}", server.pid())]);
    assert!(by_pid.status.success(), "{by_pid:?}");
    wait_for_reloads(&server, 1);
    let by_file = natsd(&["-sl", &format!("reload={}", pid_file.display())]);
    assert!(by_file.status.success(), "{by_file:?}");
    wait_for_reloads(&server, 2);
    server.wait_for_log("Reloaded: debug = true", 1);
    let _ = fs::remove_dir_all(pid_file.parent().unwrap());
}

#[test]
fn signal_flag_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["-sl", "bogus=1"], "natsd: unknown signal \"bogus\"\n"),
        (&["-sl", "reload=abc"], "natsd: invalid pid: abc\n"),
        (
            &["-sl", "reload=1=2"],
            "natsd: invalid signal parameters: [2]\n",
        ),
        (&["-sl", "reload=999999999"], "natsd: no such process\n"),
    ];
    for (args, stderr) in cases {
        let out = natsd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), *stderr, "{args:?}");
    }
}

#[test]
fn signal_flag_quit_stops_the_server() {
    let mut server = ServerProc::start(Impl::Natsd, &[]);
    let out = natsd(&["-sl", &format!("quit={}", server.pid())]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(server.wait_exit(TIMEOUT), Some(0));
}

#[test]
fn lame_duck_tells_clients_closes_them_and_exits() {
    for imp in implementations() {
        let conf = "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n";
        let mut server = ServerProc::start_with_config(imp, conf, &[]);
        let mut wire = client(&server);
        server.signal(libc::SIGUSR2);
        let info = wire.read_info();
        assert_eq!(info["ldm"], true, "{imp}: {info}");
        server.wait_for_log("Entering lame duck mode, stop accepting new clients", 1);
        wire.expect_closed();
        assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0), "{imp}");
    }
}

/// `-t` on good and bad files: same verdict and same message (after the program name) as
/// the reference.
#[test]
fn check_flag_matches_reference() {
    let dir = common::fresh_temp_dir();
    let cases = [
        ("good.conf", "port: 4222\ndebug: true\n", true),
        ("unknown.conf", "port: 4222\nbogus: 1\n", false),
        ("type.conf", "port: \"abc\"\n", false),
        ("syntax.conf", "port: [\n", false),
    ];
    for (name, text, valid) in cases {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        let ours = natsd(&["-t", "-c", path]);
        assert_eq!(ours.status.success(), valid, "{name}: {ours:?}");
        let ours_text = String::from_utf8_lossy(&ours.stderr).replacen("natsd: ", "", 1);
        if valid {
            assert_eq!(ours_text, format!("configuration file {path} is valid\n"));
        }
        if reference_available() {
            let theirs = Command::new("nats-server")
                .args(["-t", "-c", path])
                .output()
                .unwrap();
            let theirs_text =
                String::from_utf8_lossy(&theirs.stderr).replacen("nats-server: ", "", 1);
            assert_eq!(theirs.status.success(), valid, "{name}: {theirs:?}");
            assert_eq!(ours_text, theirs_text, "{name}");
        }
    }
    let no_file = natsd(&["-t"]);
    assert_eq!(no_file.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&no_file.stderr),
        "natsd: must specify [-c, --config] option to check configuration file syntax\n"
    );
    let _ = fs::remove_dir_all(dir);
}

fn natsd(args: &[&str]) -> Output {
    Impl::Natsd
        .command()
        .args(args)
        .output()
        .expect("run natsd")
}

#[test]
fn config_load_time_moves_only_on_a_successful_reload() {
    let opts = natsd::Options {
        host: "127.0.0.1".into(),
        port: natsd::RANDOM_PORT,
        ..natsd::Options::default()
    };
    let mut server = natsd::Server::start(opts.clone()).unwrap();
    let started = server.config_load_time();
    std::thread::sleep(Duration::from_millis(20));
    let refused = natsd::Options {
        host: "0.0.0.0".into(),
        ..opts.clone()
    };
    assert!(server.reload(refused).is_err());
    assert_eq!(server.config_load_time(), started);
    let smaller = natsd::Options {
        max_payload: 512,
        ..opts
    };
    assert_eq!(
        server.reload(smaller).unwrap(),
        ["Reloaded: max_payload = 512"]
    );
    assert!(server.config_load_time() > started);
}

#[test]
fn reloaded_token_applies_to_new_clients() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "authorization { token: old }\n", &[]);
        reload(&server, "authorization { token: new }\n", 1);
        server.wait_for_log("Reloaded: authorization token", 1);
        let mut fresh = Wire::connect(server.client_addr());
        fresh.read_info();
        fresh.send(b"CONNECT {\"auth_token\":\"old\",\"verbose\":false}\r\nPING\r\n");
        fresh.expect(b"-ERR 'Authorization Violation'\r\n");
        let mut good = Wire::connect(server.client_addr());
        good.read_info();
        good.send(b"CONNECT {\"auth_token\":\"new\",\"verbose\":false}\r\nPING\r\n");
        good.expect(b"PONG\r\n");
    }
}

fn login(server: &ServerProc, user: &str, pass: &str) -> Wire {
    let mut wire = Wire::connect(server.client_addr()).answer_pings();
    wire.read_info();
    let hello = format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{pass}\",\"verbose\":false}}\r\nPING\r\n"
    );
    wire.send(hello.as_bytes());
    wire.expect(b"PONG\r\n");
    wire
}

#[test]
fn reloaded_users_and_permissions_apply_to_connected_clients() {
    let before = "authorization {\n  users = [\n    {user: alice, password: a}\n    {user: bob, password: b}\n  ]\n}\n";
    let after = "authorization {\n  users = [\n    {user: alice, password: a, permissions: {subscribe: {deny: \"secret.>\"}}}\n  ]\n}\n";
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, before, &[]);
        let mut alice = login(&server, "alice", "a");
        let mut bob = login(&server, "bob", "b");
        alice.send(b"SUB secret.> 1\r\nSUB public.> 2\r\nPING\r\n");
        alice.expect(b"PONG\r\n");
        reload(&server, after, 1);
        server.wait_for_log("Reloaded server configuration", 1);
        // bob's user is gone: he is closed (without an -ERR, as the reference).
        bob.expect_closed();
        // alice stays, loses the subscription her new permissions deny, keeps the other.
        alice.expect(
            b"-ERR 'Permissions Violation for Subscription to \"secret.>\" (sid \"1\")'\r\n",
        );
        alice.send(b"PUB secret.x 1\r\nx\r\nPUB public.x 1\r\ny\r\nPING\r\n");
        alice.expect(b"MSG public.x 2 1\r\ny\r\nPONG\r\n");
    }
}

#[test]
fn a_changed_password_refuses_its_connected_clients() {
    let before = "authorization {\n  users = [\n    {user: alice, password: a}\n  ]\n}\n";
    let after = "authorization {\n  users = [\n    {user: alice, password: new}\n  ]\n}\n";
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, before, &[]);
        let mut alice = login(&server, "alice", "a");
        reload(&server, after, 1);
        alice.expect(b"-ERR 'Authorization Violation'\r\n");
        alice.expect_closed();
        login(&server, "alice", "new");
    }
}

/// A reload lowering `max_connections` closes clients until the limit holds: the reference
/// picks them at random (map order), natsd the oldest; either way exactly the excess goes,
/// each with `-ERR 'maximum connections exceeded'`.
#[test]
fn lowered_max_connections_closes_the_excess_clients() {
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, "max_connections: 10\n", &[]);
        let mut wires: Vec<Wire> = (0..3).map(|_| client(&server)).collect();
        reload(&server, "max_connections: 1\n", 1);
        server.wait_for_log("Closed 2 connections to fall within max_connections", 1);
        let mut closed = 0;
        for wire in &mut wires {
            wire.send(b"PING\r\n");
            let line = wire.read_line();
            if line == b"-ERR 'maximum connections exceeded'\r\n" {
                wire.expect_closed();
                closed += 1;
            } else {
                assert_eq!(line, b"PONG\r\n", "{imp}");
            }
        }
        assert_eq!(closed, 2, "{imp}");
    }
}

/// A connected nkey user: CONNECT with the nonce of its INFO signed by `seed`.
fn login_nkey(server: &ServerProc, seed: &UserSeed) -> Wire {
    let mut wire = Wire::connect(server.client_addr()).answer_pings();
    let info = wire.read_info();
    let nonce = info["nonce"].as_str().expect("a nonce");
    let sig = encode_signature(&seed.sign(nonce.as_bytes()));
    let hello = format!(
        "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"verbose\":false}}\r\nPING\r\n",
        seed.public_key()
    );
    wire.send(hello.as_bytes());
    wire.expect(b"PONG\r\n");
    wire
}

/// Reloaded nkey users: a connected nkey user whose key is gone is closed, one that stays
/// is checked again (its signature of its own nonce still holds) and keeps being served.
#[test]
fn reloaded_nkey_users_apply_to_connected_clients() {
    let (kept, dropped) = (UserSeed::generate(), UserSeed::generate());
    let users = |seeds: &[&UserSeed]| {
        let entries: Vec<String> = seeds
            .iter()
            .map(|s| format!("{{nkey: {}}}", s.public_key()))
            .collect();
        format!("authorization {{ users = [ {} ] }}\n", entries.join(", "))
    };
    for imp in implementations() {
        let server = ServerProc::start_with_config(imp, &users(&[&kept, &dropped]), &[]);
        let mut stays = login_nkey(&server, &kept);
        let mut goes = login_nkey(&server, &dropped);
        reload(&server, &users(&[&kept]), 1);
        server.wait_for_log("Reloaded: authorization nkey users", 1);
        goes.expect_closed();
        still_serves(&mut stays);
    }
}

/// A reload may change only the TLS settings of `leafnodes`: another change is refused
/// with the reference's words, and the link stays.
#[test]
fn reload_refuses_leafnode_changes_but_tls() {
    for imp in implementations() {
        let port = free_port();
        let conf = |auth_user: &str| {
            format!(
                "leafnodes {{ listen: \"127.0.0.1:{port}\", \
                 authorization {{ user: {auth_user}, password: p }} }}\n"
            )
        };
        let server = ServerProc::start_with_config(imp, &conf("a"), &[]);
        reload(&server, &conf("b"), 1);
        let log = server.log();
        assert!(
            log.contains("Failed to reload server configuration: config reload not supported for LeafNode: old="),
            "{imp}: {log}"
        );
        reload(&server, &conf("a"), 2);
        assert!(
            server.log().contains("Reloaded server configuration"),
            "{imp}"
        );
    }
}
