//! Authentication, black-box against natsd and the reference: tokens, single user, users
//! lists, bcrypt secrets, `no_auth_user`, the auth timeout and clients that skip CONNECT.

mod common;

use common::{Impl, ServerProc, Wire};

/// bcrypt (cost 11, `$2a$`) of `T0pS3cr3t`, the seed's example hash.
const BCRYPT_T0PS3CR3T: &str = "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG";

const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

/// Runs `check` against natsd and (when installed) the reference, each started with `args`
/// and, when given, a configuration file.
fn each_server(conf: Option<&str>, args: &[&str], check: impl Fn(&ServerProc)) {
    for imp in Impl::enabled() {
        let server = match conf {
            Some(text) => ServerProc::start_with_config(imp, text, args),
            None => ServerProc::start(imp, args),
        };
        check(&server);
    }
}

/// Connects, checks INFO's `auth_required`, sends CONNECT and returns the connection.
fn connect(server: &ServerProc, auth_required: bool, connect_json: &str) -> Wire {
    let mut wire = Wire::connect(server.client_addr());
    let info = wire.read_info();
    assert_eq!(
        info["auth_required"].as_bool().unwrap_or(false),
        auth_required,
        "{info}"
    );
    wire.send(format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes());
    wire
}

fn accepted(server: &ServerProc, connect_json: &str) {
    let mut wire = connect(server, true, connect_json);
    wire.expect(b"+OK\r\nPONG\r\n");
}

fn refused(server: &ServerProc, connect_json: &str) {
    let mut wire = connect(server, true, connect_json);
    wire.expect(VIOLATION);
    wire.expect_closed();
}

#[test]
fn token_from_the_command_line() {
    each_server(None, &["--auth", "s3cr3t"], |server| {
        accepted(server, r#"{"auth_token":"s3cr3t"}"#);
        refused(server, r#"{"auth_token":"wrong"}"#);
        refused(server, r#"{}"#);
    });
}

#[test]
fn single_user_from_the_command_line() {
    each_server(None, &["--user", "derek", "--pass", "pw"], |server| {
        accepted(server, r#"{"user":"derek","pass":"pw"}"#);
        refused(server, r#"{"user":"derek","pass":"nope"}"#);
        refused(server, r#"{"user":"other","pass":"pw"}"#);
    });
}

#[test]
fn bcrypt_password_in_the_config_file() {
    let conf = format!("authorization {{\n  user: derek\n  password: \"{BCRYPT_T0PS3CR3T}\"\n}}\n");
    each_server(Some(&conf), &[], |server| {
        accepted(server, r#"{"user":"derek","pass":"T0pS3cr3t"}"#);
        accepted(server, r#"{"user":"derek","pass":"T0pS3cr3t"}"#);
        refused(server, r#"{"user":"derek","pass":"t0ps3cr3t"}"#);
    });
}

#[test]
fn users_list_and_the_failure_log_names_the_user() {
    let conf = "authorization {\n  users = [\n    {user: alice, password: a1}\n    {user: bob, password: b2}\n  ]\n}\n";
    each_server(Some(conf), &[], |server| {
        accepted(server, r#"{"user":"alice","pass":"a1"}"#);
        accepted(server, r#"{"user":"bob","pass":"b2"}"#);
        refused(server, r#"{"user":"alice","pass":"b2"}"#);
        server.wait_for_log("authentication error - User \"alice\"", 1);
        assert!(
            !server.log().contains("b2"),
            "password in log:\n{}",
            server.log()
        );
    });
}

#[test]
fn no_auth_user_lets_anonymous_clients_in() {
    let conf =
        "authorization {\n  users = [ {user: guest, password: g} ]\n}\nno_auth_user: guest\n";
    each_server(Some(conf), &[], |server| {
        let mut wire = connect(server, false, "{}");
        wire.expect(b"+OK\r\nPONG\r\n");
    });
}

#[test]
fn first_operation_must_be_connect() {
    each_server(None, &["--auth", "t"], |server| {
        let mut wire = Wire::connect(server.client_addr());
        wire.read_info();
        wire.send(b"PING\r\n");
        wire.expect(VIOLATION);
        wire.expect_closed();
    });
}

#[test]
fn silent_client_times_out() {
    let conf = "authorization {\n  token: t\n  timeout: 0.5\n}\n";
    each_server(Some(conf), &[], |server| {
        let mut wire = Wire::connect(server.client_addr());
        wire.read_info();
        wire.expect(b"-ERR 'Authentication Timeout'\r\n");
        wire.expect_closed();
    });
}

/// bcrypt runs on the verifier pool: while 50 clients of 10 users (cost 11) authenticate
/// at once, an already connected client's PING→PONG stays under 50 ms.
#[test]
fn bcrypt_checks_do_not_stall_other_clients() {
    const USERS: usize = 10;
    const CLIENTS: usize = 50;
    let users: Vec<String> = (0..USERS)
        .map(|i| {
            let hash = bcrypt::hash(format!("pw{i}"), 11).unwrap();
            format!("    {{user: u{i}, password: \"{hash}\"}}\n")
        })
        .collect();
    let conf = format!("authorization {{\n  users = [\n{}  ]\n}}\n", users.concat());
    let server = ServerProc::start_with_config(Impl::Natsd, &conf, &[]);
    let mut steady = connect(
        &server,
        true,
        r#"{"user":"u0","pass":"pw0","verbose":false}"#,
    );
    steady.expect(b"PONG\r\n");

    let addr = server.client_addr();
    let storm: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut wire = Wire::connect(addr);
                wire.read_info();
                let user = i % USERS;
                let hello = format!(
                    "CONNECT {{\"user\":\"u{user}\",\"pass\":\"pw{user}\",\"verbose\":false}}\r\nPING\r\n"
                );
                wire.send(hello.as_bytes());
                wire.expect(b"PONG\r\n");
            })
        })
        .collect();
    let mut worst = std::time::Duration::ZERO;
    while !storm.iter().all(|t| t.is_finished()) {
        let sent = std::time::Instant::now();
        steady.send(b"PING\r\n");
        steady.expect(b"PONG\r\n");
        worst = worst.max(sent.elapsed());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for thread in storm {
        thread.join().expect("every client authenticates");
    }
    assert!(
        worst < std::time::Duration::from_millis(50),
        "PING took {worst:?} during the bcrypt storm"
    );
}
