//! TLS for clients, against natsd and the reference with the test certificates in
//! `configs/certs`: a real client (async-nats over rustls) with server-only TLS and with
//! client certificates, a plain-text client, and a client that never starts the handshake.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Impl, ServerProc, Wire};
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
