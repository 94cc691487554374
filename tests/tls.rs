//! TLS for clients, against natsd and the reference with the test certificates in
//! `configs/certs`: a real client (async-nats over rustls) with server-only TLS and with
//! client certificates, a plain-text client, a client that never starts the handshake, and
//! `verify_and_map` (client certificates mapped to users, over a byte-exact TLS wire).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Impl, ServerProc, Wire, TIMEOUT};
use futures_util::StreamExt;

fn cert(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs/certs")
        .join(name)
}

/// A `tls {}` block with the test server certificate; `verify` adds client verification.
fn tls_conf(verify: bool) -> String {
    let mut conf = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  timeout: 0.5\n",
        cert("server-cert.pem").display(),
        cert("server-key.pem").display()
    );
    if verify {
        conf += &format!(
            "  ca_file: \"{}\"\n  verify: true\n",
            cert("ca.pem").display()
        );
    }
    conf + "}\n"
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connects with async-nats over TLS (optionally with a client certificate: `client`,
/// or `server` to present the wrong one) and does a publish/subscribe round trip.
async fn round_trip_as(server: &ServerProc, identity: Option<&str>) -> Result<(), String> {
    let mut options = async_nats::ConnectOptions::new()
        .add_root_certificates(cert("ca.pem"))
        .require_tls(true)
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(3));
    if let Some(name) = identity {
        options = options.add_client_certificate(
            cert(&format!("{name}-cert.pem")),
            cert(&format!("{name}-key.pem")),
        );
    }
    let url = format!("tls://{}", server.client_addr());
    let client = options.connect(url).await.map_err(|e| e.to_string())?;
    let mut sub = client
        .subscribe("secure")
        .await
        .map_err(|e| e.to_string())?;
    common::settle(&client).await;
    client
        .publish("secure", "sealed".into())
        .await
        .map_err(|e| e.to_string())?;
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .map_err(|_| "no message".to_string())?
        .ok_or("subscription closed")?;
    assert_eq!(msg.payload, "sealed");
    Ok(())
}

async fn round_trip(server: &ServerProc, client_cert: bool) -> Result<(), String> {
    round_trip_as(server, client_cert.then_some("client")).await
}

#[test]
fn server_only_tls_with_a_real_client() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &tls_conf(false), &[]);
        let info = Wire::connect(server.client_addr()).read_info();
        assert_eq!(info["tls_required"], true, "{imp}: {info}");
        runtime()
            .block_on(round_trip(&server, false))
            .unwrap_or_else(|e| panic!("{imp}: {e}"));
    }
}

/// Connects a real client over TLS with the test CA.
async fn tls_client(server: &ServerProc) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .add_root_certificates(cert("ca.pem"))
        .require_tls(true)
        .max_reconnects(Some(0))
        .connect(format!("tls://{}", server.client_addr()))
        .await
        .expect("TLS client connects")
}

/// Requests and a numbered stream between TLS clients on different reactors (natsd runs
/// two and deals connections out in turn): other reactors encrypt small batches straight
/// into a parked reactor's TLS sessions, and nothing may be lost, reordered or garbled.
async fn requests_and_stream_over_tls(server: &ServerProc) {
    const REQUESTS: usize = 500;
    const STREAM: usize = 5000;
    let responder = tls_client(server).await;
    let requester = tls_client(server).await;
    let publisher = tls_client(server).await;
    let subscriber = tls_client(server).await;
    let mut service = responder.subscribe("svc").await.unwrap();
    let mut stream = subscriber.subscribe("stream").await.unwrap();
    common::settle(&responder).await;
    common::settle(&subscriber).await;
    let serving = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let mut answer = b"re:".to_vec();
            answer.extend_from_slice(&request.payload);
            let reply = request.reply.expect("request has a reply subject");
            responder.publish(reply, answer.into()).await.unwrap();
        }
    });
    let streaming = tokio::spawn(async move {
        for n in 0..STREAM {
            publisher
                .publish("stream", n.to_string().into())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
    });
    for n in 0..REQUESTS {
        let payload = format!("{n}-{}", "x".repeat(n % 300));
        let reply = tokio::time::timeout(TIMEOUT, requester.request("svc", payload.clone().into()))
            .await
            .unwrap_or_else(|_| panic!("request {n} timed out"))
            .unwrap_or_else(|e| panic!("request {n}: {e}"));
        assert_eq!(reply.payload, format!("re:{payload}"), "request {n}");
    }
    for n in 0..STREAM {
        let msg = tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("stream message {n} missing"))
            .expect("stream open");
        assert_eq!(msg.payload, n.to_string(), "stream out of order");
    }
    streaming.await.unwrap();
    serving.abort();
}

#[test]
fn requests_and_a_stream_cross_reactors_over_tls() {
    for imp in Impl::enabled() {
        let args: &[&str] = match imp {
            Impl::Natsd => &["--reactors", "2"],
            Impl::Reference => &[],
        };
        let server = ServerProc::start_with_config(imp, &tls_conf(false), args);
        runtime().block_on(requests_and_stream_over_tls(&server));
    }
}

#[test]
fn verify_requires_a_client_certificate() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &tls_conf(true), &[]);
        let info = Wire::connect(server.client_addr()).read_info();
        assert_eq!(info["tls_verify"], true, "{imp}: {info}");
        runtime()
            .block_on(round_trip(&server, true))
            .unwrap_or_else(|e| panic!("{imp} with a client certificate: {e}"));
        let refused = runtime().block_on(round_trip(&server, false));
        assert!(
            refused.is_err(),
            "{imp}: accepted without a client certificate"
        );
    }
}

/// Reads whatever comes until the server closes; panics if it stays open.
fn drain_until_closed(mut sock: std::net::TcpStream) -> Vec<u8> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(_) => {}
        }
    }
    panic!(
        "connection still open; got {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn plain_text_client_is_refused() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &tls_conf(false), &[]);
        let mut wire = Wire::connect(server.client_addr());
        wire.read_info();
        let mut sock = std::net::TcpStream::connect(server.client_addr()).unwrap();
        let mut info = [0u8; 2048];
        let _ = sock.read(&mut info);
        std::io::Write::write_all(&mut sock, b"CONNECT {}\r\nPING\r\n").unwrap();
        let got = drain_until_closed(sock);
        assert!(
            !String::from_utf8_lossy(&got).contains("PONG"),
            "{imp}: a plain client was served"
        );
    }
}

/// The reference closes a client that never starts the handshake after `tls.timeout`,
/// without the `-ERR` protocol.md describes (it is written into the unfinished TLS session).
#[test]
fn silent_client_is_closed_after_the_handshake_timeout() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &tls_conf(false), &[]);
        let mut wire = Wire::connect(server.client_addr());
        wire.read_info();
        let started = Instant::now();
        wire.expect_closed();
        assert!(started.elapsed() >= Duration::from_millis(400), "{imp}");
    }
}

#[test]
fn tls_from_the_command_line() {
    let cert_path = cert("server-cert.pem");
    let key_path = cert("server-key.pem");
    let args = [
        "--tls",
        "--tlscert",
        cert_path.to_str().unwrap(),
        "--tlskey",
        key_path.to_str().unwrap(),
    ];
    for imp in Impl::enabled() {
        let server = ServerProc::start(imp, &args);
        runtime()
            .block_on(round_trip(&server, false))
            .unwrap_or_else(|e| panic!("{imp}: {e}"));
    }
}

/// `allow_non_tls`: one port serves plain-text and TLS clients; INFO offers TLS
/// (`tls_available`) without requiring it, and the client's first byte decides.
#[test]
fn allow_non_tls_serves_plain_and_tls_clients_on_one_port() {
    let conf = tls_conf(false) + "allow_non_tls: true\n";
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &conf, &[]);
        let mut plain = Wire::connect(server.client_addr());
        let info = plain.read_info();
        assert_eq!(info["tls_available"], true, "{imp}: {info}");
        assert!(info.get("tls_required").is_none(), "{imp}: {info}");
        plain.send(b"CONNECT {\"verbose\":false}\r\nSUB mixed 1\r\nPING\r\n");
        plain.expect(b"PONG\r\n");
        runtime()
            .block_on(round_trip(&server, false))
            .unwrap_or_else(|e| panic!("{imp}: {e}"));
        // The TLS client's messages reach the plain one.
        runtime()
            .block_on(async {
                let client = async_nats::ConnectOptions::new()
                    .add_root_certificates(cert("ca.pem"))
                    .require_tls(true)
                    .connect(format!("tls://{}", server.client_addr()))
                    .await
                    .map_err(|e| e.to_string())?;
                client
                    .publish("mixed", "both".into())
                    .await
                    .map_err(|e| e.to_string())?;
                client.flush().await.map_err(|e| e.to_string())
            })
            .unwrap_or_else(|e| panic!("{imp}: {e}"));
        plain.expect(b"MSG mixed 1 4\r\nboth\r\n");
    }
}

/// A `tls {}` block with `verify_and_map`, and users named by the `map-*` certificates
/// (configs/certs/generate.sh): alice by email, bob by DNS name, carol by subject DN, erin
/// by subject string with domain components (and a password).
fn map_conf() -> String {
    let tls = tls_conf(true).replace("verify: true", "verify_and_map: true");
    tls + r#"authorization {
  users = [
    {user: "alice@natsd.test", permissions: {publish: "alice.>", subscribe: "alice.>"}}
    {user: "bob.natsd.test"}
    {user: "CN=carol,OU=dev,O=natsd", permissions: {publish: "carol.>", subscribe: "carol.>"}}
    {user: "CN=erin,DC=org,DC=natsd", password: "3rin"}
  ]
}
"#
}

/// A client's TLS connection, byte-exact: INFO in plain text, then the handshake with the
/// client certificate `NAME-cert.pem`, then the protocol inside TLS.
struct TlsWire {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
    label: String,
}

impl TlsWire {
    fn connect(server: &ServerProc, identity: &str) -> TlsWire {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut sock = TcpStream::connect(server.client_addr()).unwrap();
        // INFO and the handshake wait up to TIMEOUT: a server that is slow to start serving
        // (emulated, on a loaded machine) can take more than the 100 ms of a read in `fill`.
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut info = Vec::new();
        let mut byte = [0u8];
        while !info.ends_with(b"\r\n") {
            sock.read_exact(&mut byte).expect("INFO");
            info.push(byte[0]);
        }
        assert!(info.starts_with(b"INFO "), "{info:?}");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(cert("ca.pem")).unwrap())
            .unwrap();
        let provider = Arc::new(natsd::tls::ring_provider());
        let chain =
            vec![CertificateDer::from_pem_file(cert(&format!("{identity}-cert.pem"))).unwrap()];
        let key = PrivateKeyDer::from_pem_file(cert(&format!("{identity}-key.pem"))).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        let name = "localhost".try_into().unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .unwrap_or_else(|e| panic!("[{identity}] TLS handshake: {e}"));
        }
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        TlsWire {
            stream: rustls::StreamOwned::new(conn, sock),
            buf: Vec::new(),
            label: identity.to_string(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    /// Reads more until `deadline`; false on end of stream.
    fn fill(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Reads exactly `expected` (server PINGs aside).
    fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n = self.buf.len().min(expected.len());
            assert_eq!(
                String::from_utf8_lossy(&self.buf[..n]),
                String::from_utf8_lossy(&expected[..n]),
                "[{}]",
                self.label
            );
            if n == expected.len() {
                self.buf.drain(..n);
                return;
            }
            let open = self.fill(deadline);
            assert!(
                open && Instant::now() < deadline,
                "[{}] closed or timed out; got {:?}",
                self.label,
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads until the server closes; panics if it stays open.
    fn expect_closed(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.fill(deadline) {
            assert!(Instant::now() < deadline, "[{}] still open", self.label);
        }
    }
}

/// `CONNECT` and a `PING`, expecting `reply` then `PONG` (or an Authorization Violation
/// and the close, when `reply` is that).
fn connect_as(server: &ServerProc, identity: &str, connect: &str) -> TlsWire {
    let mut wire = TlsWire::connect(server, identity);
    wire.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    wire
}

const PONG: &[u8] = b"PONG\r\n";
const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

#[test]
fn verify_and_map_gives_each_certificate_its_user() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &map_conf(), &["-D", "-m", "-1"]);
        // An email SAN comes before the DNS name bob has: alice's permissions.
        let mut alice = connect_as(&server, "map-email", r#"{"verbose":false}"#);
        alice.expect(PONG);
        alice.send(
            b"SUB carol.x 1\r\nSUB alice.> 2\r\nPUB carol.x 1\r\nc\r\nPUB alice.x 1\r\na\r\n",
        );
        alice.expect(
            b"-ERR 'Permissions Violation for Subscription to \"carol.x\"'\r\n\
              -ERR 'Permissions Violation for Publish to \"carol.x\"'\r\n\
              MSG alice.x 2 1\r\na\r\n",
        );
        server.wait_for_log(
            r#"Using email found in cert for auth ["alice@natsd.test"]"#,
            1,
        );
        server.wait_for_log(
            r#"Subscription Violation - User "alice@natsd.test", Subject "carol.x", SID 1"#,
            1,
        );
        // A DNS name only: bob, who may do anything.
        let mut bob = connect_as(&server, "map-dns", r#"{"verbose":false}"#);
        bob.expect(PONG);
        bob.send(b"SUB alice.x 1\r\nPING\r\n");
        bob.expect(PONG);
        server.wait_for_log(r#"Using SAN found in cert for auth ["bob.natsd.test"]"#, 1);
        // A subject only, as a DN: carol.
        let mut carol = connect_as(&server, "map-subject", r#"{"verbose":false}"#);
        carol.expect(PONG);
        carol.send(b"PUB alice.x 1\r\nc\r\nPING\r\n");
        carol.expect(b"-ERR 'Permissions Violation for Publish to \"alice.x\"'\r\nPONG\r\n");
        server.wait_for_log(
            r#"Using DistinguishedNameMatch for auth ["CN=carol,OU=dev,O=natsd"]"#,
            1,
        );
        // The subject with its domain components: erin, who has a password too.
        let mut erin = connect_as(&server, "map-dc", r#"{"verbose":false,"pass":"3rin"}"#);
        erin.expect(PONG);
        server.wait_for_log(
            r#"Using RDNSequence for auth ["CN=erin,DC=org,DC=natsd"]"#,
            1,
        );
        let mut wrong = connect_as(&server, "map-dc", r#"{"verbose":false,"pass":"nope"}"#);
        wrong.expect(VIOLATION);
        wrong.expect_closed();
        server.wait_for_log(
            r#"authentication error - User "CN=erin,DC=org,DC=natsd""#,
            1,
        );
        // No user has these names.
        let mut nobody = connect_as(&server, "map-none", r#"{"verbose":false}"#);
        nobody.expect(VIOLATION);
        nobody.expect_closed();
        server.wait_for_log(
            r#"User in cert ["CN=nobody,OU=map,O=natsd test"], not found"#,
            1,
        );
        server.wait_for_log(r#"authentication error - User """#, 1);
        // Monitoring names each client by its mapped user.
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        let connz = common::http::get(monitor, "/connz?auth=1").json();
        let mut users: Vec<_> = connz["connections"]
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
        users.sort();
        assert_eq!(
            users,
            [
                "CN=carol,OU=dev,O=natsd",
                "CN=erin,DC=org,DC=natsd",
                "alice@natsd.test",
                "bob.natsd.test"
            ],
            "{imp}: {connz}"
        );
        let filtered = common::http::get(monitor, "/connz?user=bob.natsd.test").json();
        assert_eq!(filtered["num_connections"], 1, "{imp}: {filtered}");
        drop((alice, bob, carol, erin));
    }
}

/// The certificate decides, whatever CONNECT says: its user is warned about and ignored,
/// and a client without the certificate of a user is refused even with a valid name.
#[test]
fn verify_and_map_overrules_the_connect_user() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &map_conf(), &[]);
        let mut bob = connect_as(
            &server,
            "map-dns",
            r#"{"verbose":false,"user":"alice@natsd.test"}"#,
        );
        bob.expect(PONG);
        bob.send(b"SUB carol.x 1\r\nPING\r\n");
        bob.expect(PONG);
        server.wait_for_log(
            r#"User "alice@natsd.test" found in connect proto, but user required from cert"#,
            1,
        );
        let mut client = connect_as(
            &server,
            "client",
            r#"{"verbose":false,"user":"bob.natsd.test"}"#,
        );
        client.expect(VIOLATION);
        client.expect_closed();
        server.wait_for_log(r#"authentication error - User "bob.natsd.test""#, 1);
    }
}

#[test]
fn verify_and_map_with_a_real_client() {
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &map_conf(), &[]);
        runtime()
            .block_on(round_trip_as(&server, Some("map-dns")))
            .unwrap_or_else(|e| panic!("{imp}: bob: {e}"));
        let refused = runtime().block_on(round_trip_as(&server, Some("map-none")));
        assert!(
            refused.is_err(),
            "{imp}: an unmapped certificate was served"
        );
    }
}

/// A reload maps connected clients again, against the new users: a removed user's client
/// is closed, a changed user's permissions apply (and, as the client's CONNECT user is now
/// the mapped one, the reference warns that CONNECT names a user). Turning
/// `verify_and_map` on or off is refused, as the reference refuses it.
#[test]
fn verify_and_map_after_a_reload() {
    for imp in Impl::enabled() {
        let conf = map_conf();
        let server = ServerProc::start_with_config(imp, &conf, &[]);
        let mut alice = connect_as(&server, "map-email", r#"{"verbose":false}"#);
        alice.expect(PONG);
        let mut carol = connect_as(&server, "map-subject", r#"{"verbose":false}"#);
        carol.expect(PONG);
        let carol_entry = r#"{user: "CN=carol,OU=dev,O=natsd", permissions: {publish: "carol.>", subscribe: "carol.>"}}"#;
        let reloaded = conf.replace(carol_entry, "").replace(
            r#"permissions: {publish: "alice.>", subscribe: "alice.>"}"#,
            r#"permissions: {publish: "open.>", subscribe: "open.>"}"#,
        );
        assert!(!reloaded.contains("carol") && reloaded.contains("open.>"));
        std::fs::write(server.config_path(), &reloaded).unwrap();
        server.signal(libc::SIGHUP);
        server.wait_for_log("Reloaded server configuration", 1);
        carol.expect_closed();
        alice.send(b"PUB alice.x 1\r\na\r\nPUB open.x 1\r\no\r\nPING\r\n");
        alice.expect(b"-ERR 'Permissions Violation for Publish to \"alice.x\"'\r\nPONG\r\n");
        server.wait_for_log(
            r#"User "alice@natsd.test" found in connect proto, but user required from cert"#,
            1,
        );
        let unmapped = reloaded.replace("verify_and_map", "verify");
        std::fs::write(server.config_path(), unmapped).unwrap();
        server.signal(libc::SIGHUP);
        server.wait_for_log(
            "config reload not supported for TLSMap: old=true, new=false",
            1,
        );
    }
}

/// `/connz?auth=1` lists a client's certificates (`tls_peer_certs`: subject, SHA-256 of the
/// public key info and of the certificate), the same on both servers.
#[test]
fn connz_shows_the_client_certificates() {
    let mut seen = Vec::new();
    for imp in Impl::enabled() {
        let server = ServerProc::start_with_config(imp, &tls_conf(true), &["-m", "-1"]);
        let monitor = common::url_addr(server.ports()["monitoring"][0].as_str().unwrap());
        let certs = runtime().block_on(async {
            let client = async_nats::ConnectOptions::new()
                .add_root_certificates(cert("ca.pem"))
                .add_client_certificate(cert("client-cert.pem"), cert("client-key.pem"))
                .require_tls(true)
                .connect(format!("tls://{}", server.client_addr()))
                .await
                .unwrap_or_else(|e| panic!("{imp}: {e}"));
            client.flush().await.unwrap();
            let connz = common::http::get(monitor, "/connz?auth=1").json();
            let without_auth = common::http::get(monitor, "/connz").json();
            assert!(
                without_auth["connections"][0]
                    .get("tls_peer_certs")
                    .is_none(),
                "{imp}: shown without auth=1: {without_auth}"
            );
            let certs = connz["connections"][0]["tls_peer_certs"].clone();
            drop(client);
            certs
        });
        let leaf = &certs[0];
        assert!(
            leaf["subject"].as_str().is_some_and(|s| s.contains("CN=")),
            "{imp}: {certs}"
        );
        for hash in ["spki_sha256", "cert_sha256"] {
            assert_eq!(
                leaf[hash].as_str().map(str::len),
                Some(64),
                "{imp}: {certs}"
            );
        }
        seen.push(certs);
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "natsd and the reference differ: {seen:?}");
}
