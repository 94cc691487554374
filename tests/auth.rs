//! Authentication, black-box against natsd and the reference: tokens, single user, users
//! lists, bcrypt secrets, `no_auth_user`, the auth timeout and clients that skip CONNECT.

mod common;

use common::{Impl, ServerProc, Wire};
use natsd::nkeys::{encode_signature, UserSeed};

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
    let mut wire = Wire::connect(server.client_addr()).answer_pings();
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

/// A user whose `allowed_connection_types` leave out `STANDARD` (plain NATS clients, the
/// only kind natsd serves) is refused, whatever its password; the names are case-blind.
#[test]
fn allowed_connection_types_must_admit_standard_clients() {
    let user = UserSeed::generate();
    let public = user.public_key();
    let conf = format!(
        "authorization {{\n  users = [\n    {{user: ws, password: p, allowed_connection_types: [\"WEBSOCKET\"]}}\n    {{user: std, password: p, allowed_connection_types: [\"standard\", \"mqtt\"]}}\n    {{user: any, password: p}}\n    {{nkey: {public}, allowed_connection_types: \"LEAFNODE\"}}\n  ]\n}}\n"
    );
    each_server(Some(&conf), &[], |server| {
        refused(server, r#"{"user":"ws","pass":"p"}"#);
        server.wait_for_log("authentication error - Nkey \"\"", 1);
        accepted(server, r#"{"user":"std","pass":"p"}"#);
        accepted(server, r#"{"user":"any","pass":"p"}"#);
        let mut nkey = connect_nkey(server, &public, signed(&user));
        nkey.expect(VIOLATION);
        nkey.expect_closed();
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

/// bcrypt runs on the verifier pool, off the reactors: while 50 clients of 10 users (cost
/// 11) authenticate at once, an already connected client's PING→PONG never waits for a
/// bcrypt run.
///
/// The bound is relative, so that neither a loaded 2-core machine nor emulation makes the
/// test flaky: they slow bcrypt and the round trips alike. `one_run` is what one bcrypt run
/// of this cost takes here (the mean of the ten hashes made for the config). The storm costs
/// the server ten such runs (its 50 checks are 10 distinct user/password pairs, each run
/// once). Were they run on the reactors, the steady client's reactor would spend whole runs
/// inside one turn (about half of them, back to back, with its share of the storm's
/// clients), and a PING sent meanwhile would wait at least one of them: the worst round trip
/// would be a run or more. Off the reactors, a PING only waits for the scheduler to give
/// the reactor a slice beside the busy verifier thread: milliseconds, far below one run.
#[test]
fn bcrypt_checks_do_not_stall_other_clients() {
    use std::time::{Duration, Instant};
    const USERS: usize = 10;
    const CLIENTS: usize = 50;
    let hashing = Instant::now();
    let users: Vec<String> = (0..USERS)
        .map(|i| {
            let hash = bcrypt::hash(format!("pw{i}"), 11).unwrap();
            format!("    {{user: u{i}, password: \"{hash}\"}}\n")
        })
        .collect();
    let one_run = hashing.elapsed() / USERS as u32;
    let conf = format!("authorization {{\n  users = [\n{}  ]\n}}\n", users.concat());
    let server = ServerProc::start_with_config(Impl::Natsd, &conf, &[]);
    let mut steady = connect(
        &server,
        true,
        r#"{"user":"u0","pass":"pw0","verbose":false}"#,
    );
    steady.expect(b"PONG\r\n");

    let addr = server.client_addr();
    let storm_started = Instant::now();
    let storm: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                // A client whose check waits behind the storm may get the server's first
                // keep-alive PING (2 s after it connected) before its PONG. The last ones
                // wait for most of the storm (~1.5 s natively, ~3.2 s with natsd under
                // qemu-user): closer to the usual 5 s read timeout than a test should be.
                let mut wire = Wire::connect(addr)
                    .answer_pings()
                    .patience(Duration::from_secs(30));
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
    let (mut worst, mut pings) = (Duration::ZERO, 0);
    while !storm.iter().all(|t| t.is_finished()) {
        let sent = Instant::now();
        steady.send(b"PING\r\n");
        steady.expect(b"PONG\r\n");
        worst = worst.max(sent.elapsed());
        pings += 1;
        // Pacing only: the loop runs until the storm is over.
        std::thread::sleep(Duration::from_millis(5));
    }
    let storm_took = storm_started.elapsed();
    for thread in storm {
        thread.join().expect("every client authenticates");
    }
    eprintln!("one bcrypt run {one_run:?}; storm {storm_took:?}; worst of {pings} PINGs {worst:?}");
    assert!(
        worst < one_run,
        "PING took {worst:?} during the bcrypt storm, longer than one bcrypt run ({one_run:?}; \
         storm {storm_took:?}, {pings} PINGs)"
    );
}

/// The gnatsd seed's permissions example: admin may do anything, the requestor may only
/// publish requests and read its inbox, everyone else gets the default permissions.
const SEED_PERMISSIONS: &str = r#"
authorization {
  ADMIN = { publish = ">", subscribe = ">" }
  REQUESTOR = { publish = ["req.foo", "req.bar"], subscribe = "_INBOX.>" }
  DEFAULT_PERMISSIONS = { publish = "SANDBOX.*", subscribe = ["PUBLIC.>", "_INBOX.>"] }
  users = [
    {user: alice, password: foo, permissions: $ADMIN}
    {user: bob, password: bar, permissions: $REQUESTOR}
    {user: joe, password: baz}
  ]
}
"#;

fn login(server: &ServerProc, user: &str, pass: &str) -> Wire {
    let json = format!(r#"{{"user":"{user}","pass":"{pass}","verbose":false}}"#);
    let mut wire = connect(server, true, &json);
    wire.expect(b"PONG\r\n");
    wire
}

#[test]
fn seed_permissions_allow_deny_and_deliver_nothing_denied() {
    each_server(Some(SEED_PERMISSIONS), &[], |server| {
        let mut alice = login(server, "alice", "foo");
        let mut bob = login(server, "bob", "bar");
        let mut joe = login(server, "joe", "baz");
        alice.send(b"SUB req.* 1\r\nSUB SANDBOX.* 2\r\nPING\r\n");
        alice.expect(b"PONG\r\n");

        // Allowed publish is delivered.
        bob.send(b"PUB req.foo _INBOX.b 2\r\nhi\r\nPING\r\n");
        bob.expect(b"PONG\r\n");
        alice.expect(b"MSG req.foo 1 _INBOX.b 2\r\nhi\r\n");

        // Denied publish: the error, nothing delivered, the connection stays.
        bob.send(b"PUB req.baz 2\r\nno\r\nPING\r\n");
        bob.expect(b"-ERR 'Permissions Violation for Publish to \"req.baz\"'\r\nPONG\r\n");
        joe.send(b"PUB req.foo 2\r\nno\r\nPUB SANDBOX.x 2\r\nok\r\nPING\r\n");
        joe.expect(b"-ERR 'Permissions Violation for Publish to \"req.foo\"'\r\nPONG\r\n");
        alice.expect(b"MSG SANDBOX.x 2 2\r\nok\r\n");

        // Denied subscribe: the error, and it receives nothing.
        bob.send(b"SUB req.foo 7\r\nPING\r\n");
        bob.expect(b"-ERR 'Permissions Violation for Subscription to \"req.foo\"'\r\nPONG\r\n");
        alice.send(b"PUB req.foo 3\r\nyes\r\nPING\r\n");
        alice.expect(b"MSG req.foo 1 3\r\nyes\r\nPONG\r\n");
        bob.send(b"PING\r\n");
        bob.expect(b"PONG\r\n");
        server.wait_for_log("Publish Violation - User \"bob\", Subject \"req.baz\"", 1);
    });
}

#[test]
fn wildcard_subscription_does_not_receive_denied_subjects() {
    let conf = r#"
authorization {
  users = [
    {user: spy, password: s, permissions: {subscribe: {deny: "secret.>"}}}
    {user: boss, password: b}
  ]
}
"#;
    each_server(Some(conf), &[], |server| {
        let mut spy = login(server, "spy", "s");
        let mut boss = login(server, "boss", "b");
        spy.send(b"SUB > 1\r\nPING\r\n");
        spy.expect(b"PONG\r\n");
        boss.send(b"PUB secret.plan 1\r\nx\r\nPUB public.news 1\r\ny\r\nPING\r\n");
        boss.expect(b"PONG\r\n");
        spy.expect(b"MSG public.news 1 1\r\ny\r\n");
        spy.send(b"PING\r\n");
        spy.expect(b"PONG\r\n");
    });
}

#[test]
fn allow_responses_lets_a_responder_answer_once() {
    let conf = r#"
authorization {
  users = [
    {user: client, password: c, permissions: {publish: "svc", subscribe: "_INBOX.>"}}
    {user: service, password: s, permissions: {subscribe: "svc", allow_responses: true}}
  ]
}
"#;
    each_server(Some(conf), &[], |server| {
        let mut service = login(server, "service", "s");
        let mut client = login(server, "client", "c");
        service.send(b"SUB svc 1\r\nPING\r\n");
        service.expect(b"PONG\r\n");
        client.send(b"SUB _INBOX.r 1\r\nPUB svc _INBOX.r 2\r\nhi\r\nPING\r\n");
        client.expect(b"PONG\r\n");
        service.expect(b"MSG svc 1 _INBOX.r 2\r\nhi\r\n");
        service.send(b"PUB _INBOX.r 2\r\nok\r\nPING\r\n");
        service.expect(b"PONG\r\n");
        client.expect(b"MSG _INBOX.r 1 2\r\nok\r\n");
        // One response per request, and nothing else.
        service.send(b"PUB _INBOX.r 2\r\nno\r\nPUB other 2\r\nno\r\nPING\r\n");
        service.expect(b"-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'\r\n");
        service.expect(b"-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n");
        client.send(b"PING\r\n");
        client.expect(b"PONG\r\n");
    });
}

/// The same seed example with a real client library: what is allowed arrives, a denied
/// publish comes back as the server's permissions error and is not delivered, and a denied
/// subscription receives nothing.
#[test]
fn seed_permissions_with_a_real_client() {
    use futures_util::StreamExt;
    use std::time::Duration;

    async fn client(
        server: &ServerProc,
        user: &str,
        pass: &str,
    ) -> (
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let (errors, seen) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
            .event_callback(move |event| {
                let errors = errors.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        let _ = errors.send(e.to_string());
                    }
                }
            })
            .connect(format!("nats://{}", server.client_addr()))
            .await
            .expect("login");
        (client, seen)
    }

    each_server(Some(SEED_PERMISSIONS), &[], |server| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (alice, _) = client(server, "alice", "foo").await;
            let (bob, mut bob_errors) = client(server, "bob", "bar").await;
            let mut requests = alice.subscribe("req.*").await.unwrap();
            common::settle(&alice).await;

            bob.publish("req.foo", "allowed".into()).await.unwrap();
            bob.publish("req.baz", "denied".into()).await.unwrap();
            bob.flush().await.unwrap();
            let first = tokio::time::timeout(Duration::from_secs(5), requests.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(first.payload, "allowed");
            let error = tokio::time::timeout(Duration::from_secs(5), bob_errors.recv())
                .await
                .expect("a permissions error")
                .unwrap();
            assert!(
                error.to_lowercase().contains("permissions violation"),
                "{error}"
            );
            let nothing = tokio::time::timeout(Duration::from_millis(300), requests.next()).await;
            assert!(nothing.is_err(), "a denied publish was delivered");

            let mut denied = bob.subscribe("req.foo").await.unwrap();
            // The server's refusal proves the SUB was processed before alice publishes.
            let refusal = tokio::time::timeout(Duration::from_secs(5), bob_errors.recv())
                .await
                .expect("a subscription permissions error")
                .unwrap();
            assert!(refusal.to_lowercase().contains("subscription"), "{refusal}");
            alice.publish("req.foo", "secret".into()).await.unwrap();
            alice.flush().await.unwrap();
            let leaked = tokio::time::timeout(Duration::from_millis(300), denied.next()).await;
            assert!(
                !matches!(leaked, Ok(Some(_))),
                "a denied subscription received a message"
            );
        });
    });
}

/// Connects, takes INFO's nonce and sends CONNECT with `nkey` and the signature `sign`
/// makes of that nonce (`None`: no `sig` at all).
fn connect_nkey(server: &ServerProc, nkey: &str, sign: impl Fn(&str) -> Option<String>) -> Wire {
    let mut wire = Wire::connect(server.client_addr()).answer_pings();
    let info = wire.read_info();
    assert_eq!(info["auth_required"], true, "{info}");
    let nonce = info["nonce"].as_str().expect("a nonce in INFO");
    assert_eq!(nonce.len(), 15, "11 random bytes, base64url: {nonce}");
    let connect = match sign(nonce) {
        Some(sig) => format!(r#"{{"nkey":"{nkey}","sig":"{sig}"}}"#),
        None => format!(r#"{{"nkey":"{nkey}"}}"#),
    };
    wire.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    wire
}

#[test]
fn nkey_users_sign_their_nonce() {
    let user = UserSeed::generate();
    let stranger = UserSeed::generate();
    let (public, unknown) = (user.public_key(), stranger.public_key());
    let conf = format!(
        "authorization {{\n  users = [\n    {{nkey: {public}}}\n    {{user: alice, password: a1}}\n  ]\n}}\n"
    );
    each_server(Some(&conf), &["-m", "-1"], |server| {
        let mut signed_in = connect_nkey(server, &public, signed(&user));
        signed_in.expect(b"+OK\r\nPONG\r\n");
        // Monitoring names the client by its nkey.
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        let connz = common::http::get(monitor, "/connz?auth=1").json();
        let names: Vec<_> = connz["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .map(|c| {
                c["authorized_user"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(names, std::slice::from_ref(&public), "{connz}");
        // Both encodings of the signature are accepted.
        let standard = |nonce: &str| {
            let sig = encode_signature(&user.sign(nonce.as_bytes()));
            Some(to_standard_base64(&sig))
        };
        connect_nkey(server, &public, standard).expect(b"+OK\r\nPONG\r\n");
        // Users and nkey users side by side.
        accepted(server, r#"{"user":"alice","pass":"a1"}"#);
        for refusal in [
            connect_nkey(server, &public, signed(&stranger)),
            connect_nkey(server, &public, |_| {
                Some(encode_signature(&user.sign(b"another nonce")))
            }),
            connect_nkey(server, &public, |_| None),
            connect_nkey(server, &public, |_| Some("not base64!".into())),
            connect_nkey(server, &unknown, signed(&stranger)),
        ] {
            let mut wire = refusal;
            wire.expect(VIOLATION);
            wire.expect_closed();
        }
        server.wait_for_log(&format!("authentication error - Nkey \"{unknown}\""), 1);
        server.wait_for_log(&format!("authentication error - Nkey \"{public}\""), 4);
    });
}

/// A signer with `seed`: its signature of the nonce, base64url.
fn signed(seed: &UserSeed) -> impl Fn(&str) -> Option<String> + '_ {
    move |nonce| Some(encode_signature(&seed.sign(nonce.as_bytes())))
}

/// base64url without padding → standard base64 with padding (the other encoding a client
/// may send).
fn to_standard_base64(url: &str) -> String {
    let mut text: String = url
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// A real client library signs in with an nkey seed (async-nats, which signs the INFO nonce
/// itself) and gets its messages; a client with another seed is refused.
#[test]
fn nkey_seed_with_a_real_client() {
    use futures_util::StreamExt;
    use std::time::Duration;

    let user = UserSeed::generate();
    let conf = format!(
        "authorization {{ users = [ {{nkey: {}}} ] }}\n",
        user.public_key()
    );
    each_server(Some(&conf), &[], |server| {
        let url = format!("nats://{}", server.client_addr());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = async_nats::ConnectOptions::with_nkey(user.to_text())
                .connect(&url)
                .await
                .expect("signed in with the seed");
            let mut sub = client.subscribe("nk.hello").await.unwrap();
            common::settle(&client).await;
            client.publish("nk.hello", "hi".into()).await.unwrap();
            let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .expect("the message in time")
                .expect("a message");
            assert_eq!(msg.payload, "hi");
            let stranger = async_nats::ConnectOptions::with_nkey(UserSeed::generate().to_text())
                .max_reconnects(Some(0))
                .connection_timeout(Duration::from_secs(3))
                .connect(&url)
                .await;
            assert!(stranger.is_err(), "a seed the server does not know got in");
        });
    });
}
