//! Client TLS with rustls and its *ring* provider (no C crypto library to build): the
//! `tls {}` block turned into a [`rustls::ServerConfig`] with nats-server's error messages,
//! and [`TlsSession`], the server side of one connection, driven by the reactor over a
//! non-blocking socket it owns (no blocking call, no thread).
//!
//! The reference (Go's `crypto/tls`) implements more than rustls does; natsd accepts every
//! name the reference accepts and does what it can with it:
//! * **Cipher suites.** rustls has no RC4, 3DES, CBC or RSA-key-exchange suites: those names
//!   are skipped with a warning. As in Go, the TLS 1.3 suites are always on whatever the list
//!   says, and the list picks the TLS 1.2 suites. When none of its TLS 1.2 suites is
//!   available, the server speaks TLS 1.3 only, with a warning: falling back to the default
//!   suites would enable suites the administrator left out. The server chooses the suite in
//!   Go's preference order (AES-128-GCM first), not the client's, as the reference does.
//! * **Curves.** *ring* has no P-521: `CurveP521` is skipped with a warning. A list of P-521
//!   alone falls back to the defaults (X25519, P-256, P-384), with a warning, so that it is
//!   accepted as the reference accepts it.
//! * **Versions.** TLS 1.2 and 1.3 only: the reference's minimum is 1.2 as well.
//!
//! Warnings are returned rather than logged: the caller logs them once, whereas the
//! configuration may be built several times (`-t`, start, reload checks).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::{kx_group, ALL_CIPHER_SUITES, ALL_KX_GROUPS};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ResolvesServerCert, ResolvesServerCertUsingSni, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::version::TLS13;
use rustls::{
    CipherSuite, ClientConfig, ClientConnection, Connection, ProtocolVersion, RootCertStore,
    ServerConfig, ServerConnection, SupportedCipherSuite, SupportedProtocolVersion, ALL_VERSIONS,
};

use crate::gofmt::path_error;
use crate::options::{TlsOptions, TLS_CIPHER_SUITES};

/// The suites rustls implements, with their Go names, in the order Go 1.19 prefers them on
/// a CPU with AES-GCM instructions: the server chooses in this order, as the reference does.
const SUITES: [(CipherSuite, &str); 9] = [
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    ),
];

/// The protocol versions when no TLS 1.2 suite is left.
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&TLS13];

/// Where Go looks for the system's CA bundle on Linux (`crypto/x509/root_linux.go`) when
/// `SSL_CERT_FILE` is unset; the first readable file wins.
const SYSTEM_CA_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The first byte of a TLS handshake record, which a ClientHello starts with.
const HANDSHAKE_RECORD: u8 = 0x16;

/// What [`server_config`] builds from a `tls {}` block.
#[derive(Debug)]
pub struct ServerTls {
    /// The rustls configuration every client connection shares ([`TlsSession::new`]).
    pub config: Arc<ServerConfig>,
    /// What the block asks for that natsd cannot do (a cipher suite or curve rustls lacks),
    /// one message each, for the caller to log as warnings.
    pub warnings: Vec<String>,
}

/// Builds the server's TLS configuration from a `tls {}` block, the way nats-server's
/// `GenTLSConfig` does and with its error messages: the certificate and key
/// (`error parsing X509 certificate/key pair: open nope.pem: no such file or directory`),
/// then the CA file (`failed to parse root ca certificate`). Neither `cert_file` nor
/// `key_file` (`tls {}`) gives a configuration without a certificate, whose handshakes all
/// fail, as the reference's do. With `verify`, clients must present a certificate that the
/// CAs of `ca_file` (without one, the system's CAs, as in Go) sign for client use.
pub fn server_config(opts: &TlsOptions) -> Result<ServerTls, String> {
    let mut warnings = Vec::new();
    let cipher_suites = cipher_suites(&opts.cipher_suites, &mut warnings)?;
    let kx_groups = kx_groups(&opts.curve_preferences, &mut warnings)?;
    let versions = versions(&cipher_suites);
    let provider = Arc::new(CryptoProvider {
        cipher_suites,
        kx_groups,
        ..ring_provider()
    });
    let certificate = certificate(opts, &provider)?;
    let ca = opts.ca_file.as_deref().map(load_ca).transpose()?;
    let verifier = client_verifier(opts.verify, ca, provider.clone())?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|err| err.to_string())?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate);
    config.ignore_client_order = true;
    Ok(ServerTls {
        config: Arc::new(config),
        warnings,
    })
}

/// Both ends of route TLS (`cluster { tls {} }`): routes always verify each other.
#[derive(Debug, Clone)]
pub struct RouteTls {
    /// For routes other servers dial (their certificate must be signed by our CAs).
    pub server: Arc<ServerConfig>,
    /// For routes we dial: our certificate, and the CAs the peer's must be signed by.
    pub client: Arc<ClientConfig>,
}

/// Builds route TLS from `cluster.tls`: the server side as [`server_config`] with client
/// certificates required, the client side presenting the same certificate and checking
/// the peer's against `ca_file` (else the system's CAs).
pub fn route_configs(opts: &TlsOptions) -> Result<RouteTls, String> {
    let verified = TlsOptions {
        verify: true,
        ..opts.clone()
    };
    let server = server_config(&verified)?.config;
    let client = client_config(opts)?;
    Ok(RouteTls { server, client })
}

/// rustls' crypto provider backed by ring, natsd's crypto library (for the tests and tools
/// too). rustls 0.23.48 deprecates this constructor because ring offers no post-quantum key
/// exchange; ring stays natsd's choice, small and simple to cross-build.
#[allow(deprecated)]
pub fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The client side of a TLS handshake (routes we dial, leafnode remotes): our certificate
/// when `cert_file`/`key_file` are set, and the peer's checked against `ca_file` (else the
/// system's CAs) unless `insecure`.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(ring_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(ALL_VERSIONS)
        .map_err(|err| err.to_string())?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider.clone())))
    } else {
        let roots = match &opts.ca_file {
            Some(path) => load_ca(path)?,
            None => system_roots(&system_ca_files()),
        };
        builder.with_root_certificates(roots)
    };
    let client = match (&opts.cert_file, &opts.key_file) {
        (Some(cert), Some(key)) => {
            let pair = load_key_pair(cert, key, &provider)
                .map_err(|err| format!("error parsing X509 certificate/key pair: {err}"))?;
            builder
                .with_client_auth_cert(pair.cert, parse_key(&read_file(key)?)?)
                .map_err(|err| err.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(client))
}

/// `insecure`: any server certificate is accepted (its signatures are still checked).
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The suites to offer: every TLS 1.3 suite, and the TLS 1.2 suites of `names` (all of
/// them when `names` is empty), in [`SUITES`] order. Names rustls lacks are warned about.
fn cipher_suites(
    names: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<SupportedCipherSuite>, String> {
    for name in names {
        if !TLS_CIPHER_SUITES.contains(&name.as_str()) {
            return Err(format!("unrecognized cipher {name}"));
        }
        if !SUITES.iter().any(|(_, go_name)| go_name == name) {
            warnings.push(format!(
                "cipher suite {name} is not available in natsd, ignored"
            ));
        }
    }
    let wanted = |go_name: &str| names.is_empty() || names.iter().any(|name| name == go_name);
    let suites: Vec<SupportedCipherSuite> = SUITES
        .iter()
        .filter_map(|&(id, go_name)| {
            let suite = *ALL_CIPHER_SUITES.iter().find(|suite| suite.suite() == id)?;
            (suite.tls13().is_some() || wanted(go_name)).then_some(suite)
        })
        .collect();
    if suites.iter().all(|suite| suite.tls13().is_some()) {
        warnings.push(
            "no TLS 1.2 cipher suite of 'cipher_suites' is available: TLS 1.3 only".to_string(),
        );
    }
    Ok(suites)
}

/// The key exchange groups of `names` in their order (the defaults when `names` is empty
/// or only names curves rustls lacks). Unavailable curves are warned about.
fn kx_groups(
    names: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        match curve(name)? {
            Some(group) => groups.push(group),
            None => warnings.push(format!(
                "curve preference {name} is not available in natsd, ignored"
            )),
        }
    }
    if groups.is_empty() {
        if !names.is_empty() {
            warnings.push(
                "no curve of 'curve_preferences' is available: using X25519, CurveP256, CurveP384"
                    .to_string(),
            );
        }
        groups = ALL_KX_GROUPS.to_vec();
    }
    Ok(groups)
}

/// The *ring* group for a Go curve name; `None` for `CurveP521`, which *ring* lacks.
fn curve(name: &str) -> Result<Option<&'static dyn SupportedKxGroup>, String> {
    match name {
        "X25519" => Ok(Some(kx_group::X25519)),
        "CurveP256" => Ok(Some(kx_group::SECP256R1)),
        "CurveP384" => Ok(Some(kx_group::SECP384R1)),
        "CurveP521" => Ok(None),
        _ => Err(format!("unrecognized curve preference {name}")),
    }
}

/// TLS 1.3, and TLS 1.2 when a TLS 1.2 suite is left.
fn versions(suites: &[SupportedCipherSuite]) -> &'static [&'static SupportedProtocolVersion] {
    if suites.iter().any(|suite| suite.tls13().is_none()) {
        ALL_VERSIONS
    } else {
        TLS13_ONLY
    }
}

/// The server's certificate from `cert_file` and `key_file`; none when neither is set.
fn certificate(
    opts: &TlsOptions,
    provider: &CryptoProvider,
) -> Result<Arc<dyn ResolvesServerCert>, String> {
    let (cert_file, key_file) = match (&opts.cert_file, &opts.key_file) {
        (Some(cert_file), Some(key_file)) => (cert_file, key_file),
        (Some(_), None) => return Err("missing 'key_file' in TLS configuration".to_string()),
        (None, Some(_)) => return Err("missing 'cert_file' in TLS configuration".to_string()),
        (None, None) => return Ok(Arc::new(ResolvesServerCertUsingSni::new())),
    };
    let key_pair = load_key_pair(cert_file, key_file, provider)
        .map_err(|err| format!("error parsing X509 certificate/key pair: {err}"))?;
    Ok(Arc::new(SingleCertAndKey::from(key_pair)))
}

/// Go's `tls.LoadX509KeyPair`: every certificate of `cert_file` (the chain, leaf first) and
/// the first private key of `key_file` (PKCS#8, SEC1 or PKCS#1), which must match the leaf.
fn load_key_pair(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let cert_pem = read_file(cert_file)?;
    let key_pem = read_file(key_file)?;
    let chain = parse_chain(&cert_pem)?;
    let key = parse_key(&key_pem)?;
    CertifiedKey::from_der(chain, key, provider).map_err(|err| {
        match err {
            rustls::Error::InconsistentKeys(_) => "tls: private key does not match public key",
            rustls::Error::InvalidCertificate(_) => "x509: malformed certificate",
            _ => "tls: failed to parse private key",
        }
        .to_string()
    })
}

/// The certificates of a PEM file, or Go's message for a file without any.
fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    if !chain.is_empty() {
        return Ok(chain);
    }
    let labels = pem_labels(pem);
    Err(match labels.as_slice() {
        [] => "tls: failed to find any PEM data in certificate input".to_string(),
        [label] if label.ends_with("PRIVATE KEY") => "tls: failed to find certificate PEM data \
            in certificate input, but did find a private key; PEM inputs may have been switched"
            .to_string(),
        _ => format!(
            "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping \
             PEM blocks of the following types: [{}]",
            labels.join(" ")
        ),
    })
}

/// The first private key of a PEM file, or Go's message for a file without one.
fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    if let Ok(key) = PrivateKeyDer::from_pem_slice(pem) {
        return Ok(key);
    }
    let labels = pem_labels(pem);
    if labels.iter().any(|label| label.ends_with("PRIVATE KEY")) {
        // Present but unreadable: encrypted, or broken base64.
        return Err("tls: failed to parse private key".to_string());
    }
    Err(match labels.as_slice() {
        [] => "tls: failed to find any PEM data in key input".to_string(),
        [label] if label == "CERTIFICATE" => {
            "tls: found a certificate rather than a key in the PEM for the private key".to_string()
        }
        _ => format!(
            "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input \
             after skipping PEM blocks of the following types: [{}]",
            labels.join(" ")
        ),
    })
}

/// The labels of the PEM blocks in a file (`CERTIFICATE`, `EC PRIVATE KEY`…), for messages.
fn pem_labels(pem: &[u8]) -> Vec<String> {
    pem.split(|&byte| byte == b'\n')
        .filter_map(|line| {
            line.trim_ascii_end()
                .strip_prefix(b"-----BEGIN ")?
                .strip_suffix(b"-----")
        })
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect()
}

/// The CAs of `ca_file`; errors as the reference's: the bare `open …` error, or
/// `failed to parse root ca certificate` when the file holds no usable certificate.
fn load_ca(path: &Path) -> Result<RootCertStore, String> {
    let roots = roots_from_pem(&read_file(path)?);
    if roots.is_empty() {
        return Err("failed to parse root ca certificate".to_string());
    }
    Ok(roots)
}

/// The certificates of a PEM bundle that parse, the others skipped (Go's
/// `AppendCertsFromPEM`).
fn roots_from_pem(pem: &[u8]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(CertificateDer::pem_slice_iter(pem).filter_map(Result::ok));
    roots
}

/// Verifies client certificates when `verify` is on: against `ca` or, without a CA file,
/// the system's CAs (Go's default).
fn client_verifier(
    verify: bool,
    ca: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    if !verify {
        return Ok(WebPkiClientVerifier::no_client_auth());
    }
    let roots = ca.unwrap_or_else(|| system_roots(&system_ca_files()));
    if roots.is_empty() {
        return Err(
            "'verify' without 'ca_file' needs the system's CA certificates: none found".to_string(),
        );
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|err| err.to_string())
}

/// Where to look for the system's CA bundle: `SSL_CERT_FILE`, else [`SYSTEM_CA_FILES`].
fn system_ca_files() -> Vec<PathBuf> {
    match std::env::var_os("SSL_CERT_FILE") {
        Some(file) if !file.is_empty() => vec![PathBuf::from(file)],
        _ => SYSTEM_CA_FILES.iter().map(PathBuf::from).collect(),
    }
}

/// The CAs of the first readable file of `candidates` (empty when none is).
fn system_roots(candidates: &[PathBuf]) -> RootCertStore {
    let pem = candidates
        .iter()
        .find_map(|path| read_file(path).ok())
        .unwrap_or_default();
    roots_from_pem(&pem)
}

/// A whole file; errors read as Go's `os.ReadFile` ones
/// (`open nope.pem: no such file or directory`).
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let mut file = File::open(path).map_err(|err| path_error("open", path, &err))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|err| path_error("read", path, &err))?;
    Ok(data)
}

/// Whether a client's first byte starts a TLS handshake (0x16). With `allow_non_tls`, the
/// reference peeks at it to choose between TLS and plain text.
pub fn looks_like_tls(first_byte: u8) -> bool {
    first_byte == HANDSHAKE_RECORD
}

/// The TLS side of one client connection, over a non-blocking socket owned by the caller.
///
/// The server writes INFO in plain text on the socket itself, then creates the session:
/// the client starts the handshake. Every call below returns at once:
/// * **Readable socket:** call [`read_tls_from`](Self::read_tls_from) (one socket read),
///   then [`read_plain`](Self::read_plain) until `WouldBlock`, and again, until
///   `read_tls_from` gives `WouldBlock`. Drain after every read: rustls reads no more while
///   16 KiB of plain text wait.
/// * **Output:** hand pending bytes to [`write_plain`](Self::write_plain) (it takes what
///   fits in rustls' 64 KiB buffer, `WouldBlock` when full; before the handshake ends it
///   keeps them for later), then [`write_tls_to`](Self::write_tls_to) while
///   [`wants_write`](Self::wants_write), until `WouldBlock` (wait for writability). Flush
///   after reads too: the handshake answers the client's messages.
/// * **Errors:** after a `read_tls_from` error (failed handshake, bad record) rustls has
///   queued an alert for the client: flush it (best effort), then close.
#[derive(Debug)]
pub struct TlsSession {
    conn: Connection,
}

impl TlsSession {
    /// A session for a newly accepted connection, with the configuration of
    /// [`server_config`].
    pub fn new(config: Arc<ServerConfig>) -> io::Result<Self> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Self { conn: conn.into() })
    }

    /// A session for a route we dialled to `host` (a name or an address, checked against
    /// the peer's certificate).
    pub fn new_client(config: Arc<ClientConfig>, host: &str) -> io::Result<Self> {
        let name = ServerName::try_from(host.to_string()).map_err(io::Error::other)?;
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Self { conn: conn.into() })
    }

    /// Reads once from `sock` into rustls and processes what came: `Ok(0)` at end of
    /// stream, `WouldBlock` when nothing is waiting, `InvalidData` when the peer breaks TLS
    /// (the message says how: `peer sent no certificates`, …).
    pub fn read_tls_from(&mut self, sock: &mut impl Read) -> io::Result<usize> {
        let read = self.conn.read_tls(sock)?;
        self.conn
            .process_new_packets()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        Ok(read)
    }

    /// Copies decrypted plain text into `out`: `WouldBlock` when there is none yet, `Ok(0)`
    /// after the client's close_notify, `UnexpectedEof` when the socket ended without one.
    pub fn read_plain(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.conn.reader().read(out)
    }

    /// Queues plain text for encryption and returns how much was taken; `WouldBlock` when
    /// rustls' buffer is full (flush with [`write_tls_to`](Self::write_tls_to) first).
    pub fn write_plain(&mut self, data: &[u8]) -> io::Result<usize> {
        match self.conn.writer().write(data)? {
            0 if !data.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            taken => Ok(taken),
        }
    }

    /// Writes queued TLS records (handshake, data, alerts) to `sock`: one write, passing
    /// on its result (`WouldBlock` included).
    pub fn write_tls_to(&mut self, sock: &mut impl Write) -> io::Result<usize> {
        self.conn.write_tls(sock)
    }

    /// Whether TLS records wait for [`write_tls_to`](Self::write_tls_to).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Whether the handshake is still going on (the handshake timeout applies).
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Queues a close_notify alert, as Go's `tls.Conn.Close` sends before closing: flush it
    /// with [`write_tls_to`](Self::write_tls_to).
    pub fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    /// After the handshake, the version and cipher suite as the reference names them in
    /// its debug line and in monitoring: `("1.3", "TLS_AES_128_GCM_SHA256")`.
    pub fn protocol_and_cipher(&self) -> Option<(&'static str, &'static str)> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_2 => "1.2",
            ProtocolVersion::TLSv1_3 => "1.3",
            _ => return None,
        };
        let suite = self.conn.negotiated_cipher_suite()?.suite();
        let (_, name) = SUITES.iter().find(|(id, _)| *id == suite)?;
        Some((version, name))
    }

    /// The client's certificate chain (leaf first) once verified; `None` without `verify`.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use std::time::{Duration, Instant};

    use rustls::pki_types::ServerName;
    use rustls::version::TLS12;
    use rustls::{ClientConfig, ClientConnection};

    use super::*;

    /// A test certificate of `configs/certs/`.
    fn cert(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs/certs")
            .join(name)
    }

    /// `tls {}` with the test server certificate and key.
    fn server_opts() -> TlsOptions {
        TlsOptions {
            cert_file: Some(cert("server-cert.pem")),
            key_file: Some(cert("server-key.pem")),
            ..TlsOptions::default()
        }
    }

    /// [`server_opts`] with `ca_file` and `verify`.
    fn verify_opts() -> TlsOptions {
        TlsOptions {
            ca_file: Some(cert("ca.pem")),
            verify: true,
            ..server_opts()
        }
    }

    fn config(opts: &TlsOptions) -> Arc<ServerConfig> {
        let built = server_config(opts).expect("server config");
        built.config
    }

    fn error(opts: &TlsOptions) -> String {
        server_config(opts).expect_err("config error")
    }

    /// A file in the temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(tag: &str, contents: &[u8]) -> TempFile {
            let name = format!("natsd-tls-{}-{tag}.pem", std::process::id());
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).expect("write temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A rustls client trusting the test CA, with the given versions and client certificate.
    fn client_config(
        versions: &[&'static SupportedProtocolVersion],
        identity: Option<(&str, &str)>,
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(
            CertificateDer::pem_file_iter(cert("ca.pem"))
                .expect("ca.pem")
                .map(|der| der.expect("ca.pem certificate")),
        );
        let builder = ClientConfig::builder_with_provider(Arc::new(ring_provider()))
            .with_protocol_versions(versions)
            .expect("client versions")
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert_file, key_file)) => {
                let chain = CertificateDer::pem_file_iter(cert(cert_file))
                    .expect("client cert")
                    .map(|der| der.expect("client cert PEM"))
                    .collect();
                let key = PrivateKeyDer::from_pem_file(cert(key_file)).expect("client key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client identity")
            }
        };
        Arc::new(config)
    }

    fn would_block(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::WouldBlock
    }

    /// A loopback connection: the server end through [`TlsSession`] as the reactor will
    /// drive it, the client end a rustls client; both sockets non-blocking.
    struct Pair {
        server: TlsSession,
        server_sock: TcpStream,
        server_plain: Vec<u8>,
        client: ClientConnection,
        client_sock: TcpStream,
        client_plain: Vec<u8>,
        /// The client read the server's close_notify.
        client_closed: bool,
    }

    impl Pair {
        /// Connects, sends INFO in plain text first as the reference does, and starts TLS.
        fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Pair {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let mut client_sock =
                TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
            let (mut server_sock, _) = listener.accept().expect("accept");
            server_sock.write_all(b"INFO {}\r\n").expect("write INFO");
            let mut info = [0; 9];
            client_sock.read_exact(&mut info).expect("read INFO");
            assert_eq!(&info, b"INFO {}\r\n");
            server_sock.set_nonblocking(true).expect("nonblocking");
            client_sock.set_nonblocking(true).expect("nonblocking");
            let name = ServerName::try_from("localhost").expect("server name");
            Pair {
                server: TlsSession::new(server).expect("session"),
                server_sock,
                server_plain: Vec::new(),
                client: ClientConnection::new(client, name).expect("client"),
                client_sock,
                client_plain: Vec::new(),
                client_closed: false,
            }
        }

        /// One reactor turn for the server: read until `WouldBlock`, draining the plain
        /// text after each read, then flush.
        fn server_turn(&mut self) -> io::Result<()> {
            loop {
                match self.server.read_tls_from(&mut self.server_sock) {
                    Ok(0) => break,
                    Ok(_) => self.drain_server()?,
                    Err(err) if would_block(&err) => break,
                    Err(err) => {
                        let _ = self.flush_server();
                        return Err(err);
                    }
                }
            }
            self.flush_server()
        }

        fn drain_server(&mut self) -> io::Result<()> {
            let mut buf = [0; 4096];
            loop {
                match self.server.read_plain(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => self.server_plain.extend_from_slice(&buf[..n]),
                    Err(err) if would_block(&err) => return Ok(()),
                    Err(err) => return Err(err),
                }
            }
        }

        fn flush_server(&mut self) -> io::Result<()> {
            while self.server.wants_write() {
                match self.server.write_tls_to(&mut self.server_sock) {
                    Err(err) if would_block(&err) => break,
                    result => {
                        result?;
                    }
                }
            }
            Ok(())
        }

        /// The same for the client end, with rustls' client directly.
        fn client_turn(&mut self) -> io::Result<()> {
            while self.client.wants_write() {
                match self.client.write_tls(&mut self.client_sock) {
                    Err(err) if would_block(&err) => break,
                    result => {
                        result?;
                    }
                }
            }
            loop {
                match self.client.read_tls(&mut self.client_sock) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(err) if would_block(&err) => return Ok(()),
                    Err(err) => return Err(err),
                }
                self.client
                    .process_new_packets()
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
                let mut buf = [0; 4096];
                loop {
                    match self.client.reader().read(&mut buf) {
                        Ok(0) => {
                            self.client_closed = true;
                            break;
                        }
                        Ok(n) => self.client_plain.extend_from_slice(&buf[..n]),
                        Err(err) if would_block(&err) => break,
                        Err(err) => return Err(err),
                    }
                }
            }
        }

        /// Turns both ends until `done`; the first error, with its side, ends it early.
        fn run(&mut self, done: impl Fn(&Pair) -> bool) -> Result<(), String> {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !done(self) {
                assert!(Instant::now() < deadline, "loopback exchange timed out");
                self.server_turn().map_err(|err| format!("server: {err}"))?;
                self.client_turn().map_err(|err| format!("client: {err}"))?;
                thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        }

        /// The client sends `PING\r\n`, the server answers `PONG\r\n`, all inside TLS.
        fn ping_pong(&mut self) -> Result<(), String> {
            self.client
                .writer()
                .write_all(b"PING\r\n")
                .map_err(|err| err.to_string())?;
            self.run(|pair| pair.server_plain.ends_with(b"PING\r\n"))?;
            assert_eq!(self.server.write_plain(b"PONG\r\n").ok(), Some(6));
            self.run(|pair| pair.client_plain.ends_with(b"PONG\r\n"))
        }
    }

    #[test]
    fn test_certificates_make_a_config() {
        let built = server_config(&server_opts()).expect("server only");
        assert!(built.warnings.is_empty(), "{:?}", built.warnings);
        assert!(built.config.ignore_client_order, "server's suite order");
        let built = server_config(&verify_opts()).expect("verify");
        assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    }

    #[test]
    fn missing_cert_or_key_file() {
        let no_key = TlsOptions {
            key_file: None,
            ..server_opts()
        };
        assert_eq!(error(&no_key), "missing 'key_file' in TLS configuration");
        let no_cert = TlsOptions {
            cert_file: None,
            ..server_opts()
        };
        assert_eq!(error(&no_cert), "missing 'cert_file' in TLS configuration");
    }

    #[test]
    fn unreadable_files_read_as_the_reference() {
        let prefix = "error parsing X509 certificate/key pair";
        let no_cert = TlsOptions {
            cert_file: Some("nope.pem".into()),
            ..server_opts()
        };
        assert_eq!(
            error(&no_cert),
            format!("{prefix}: open nope.pem: no such file or directory")
        );
        let no_key = TlsOptions {
            key_file: Some("nokey.pem".into()),
            ..server_opts()
        };
        assert_eq!(
            error(&no_key),
            format!("{prefix}: open nokey.pem: no such file or directory")
        );
        let directory = TlsOptions {
            cert_file: Some(cert("")),
            ..server_opts()
        };
        assert!(error(&directory).ends_with(": is a directory"));
        let no_ca = TlsOptions {
            ca_file: Some("nope.pem".into()),
            ..server_opts()
        };
        assert_eq!(error(&no_ca), "open nope.pem: no such file or directory");
    }

    #[test]
    fn pem_problems_read_as_the_reference() {
        let prefix = "error parsing X509 certificate/key pair: tls";
        let garbage = TempFile::new("garbage", b"garbage\n");
        let with = |cert_file: &Path, key_file: &Path| {
            error(&TlsOptions {
                cert_file: Some(cert_file.into()),
                key_file: Some(key_file.into()),
                ..TlsOptions::default()
            })
        };
        let (server_cert, server_key) = (cert("server-cert.pem"), cert("server-key.pem"));
        assert_eq!(
            with(&garbage.0, &server_key),
            format!("{prefix}: failed to find any PEM data in certificate input")
        );
        assert_eq!(
            with(&server_cert, &garbage.0),
            format!("{prefix}: failed to find any PEM data in key input")
        );
        assert_eq!(
            with(&server_key, &server_cert),
            format!(
                "{prefix}: failed to find certificate PEM data in certificate input, but did \
                 find a private key; PEM inputs may have been switched"
            )
        );
        assert_eq!(
            with(&server_cert, &server_cert),
            format!(
                "{prefix}: found a certificate rather than a key in the PEM for the private key"
            )
        );
        let params = TempFile::new(
            "params",
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
        );
        assert_eq!(
            with(&params.0, &server_key),
            format!(
                "{prefix}: failed to find \"CERTIFICATE\" PEM block in certificate input after \
                 skipping PEM blocks of the following types: [EC PARAMETERS]"
            )
        );
        assert_eq!(
            with(&server_cert, &params.0),
            format!(
                "{prefix}: failed to find PEM block with type ending in \"PRIVATE KEY\" in key \
                 input after skipping PEM blocks of the following types: [EC PARAMETERS]"
            )
        );
        let encrypted = TempFile::new(
            "encrypted",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        assert_eq!(
            with(&server_cert, &encrypted.0),
            format!("{prefix}: failed to parse private key")
        );
        assert_eq!(
            with(&server_cert, &cert("client-key.pem")),
            format!("{prefix}: private key does not match public key")
        );
    }

    #[test]
    fn ca_file_without_certificates() {
        let garbage = TempFile::new("badca", b"garbage\n");
        let opts = TlsOptions {
            ca_file: Some(garbage.0.clone()),
            ..server_opts()
        };
        assert_eq!(error(&opts), "failed to parse root ca certificate");
        let key_as_ca = TlsOptions {
            ca_file: Some(cert("server-key.pem")),
            ..server_opts()
        };
        assert_eq!(error(&key_as_ca), "failed to parse root ca certificate");
    }

    #[test]
    fn unknown_names_are_refused() {
        let cipher = TlsOptions {
            cipher_suites: vec!["BAD".into()],
            ..server_opts()
        };
        assert_eq!(error(&cipher), "unrecognized cipher BAD");
        let curve = TlsOptions {
            curve_preferences: vec!["BAD".into()],
            ..server_opts()
        };
        assert_eq!(error(&curve), "unrecognized curve preference BAD");
    }

    #[test]
    fn every_reference_cipher_name_is_accepted() {
        let opts = TlsOptions {
            cipher_suites: TLS_CIPHER_SUITES
                .iter()
                .map(|name| name.to_string())
                .collect(),
            ..server_opts()
        };
        let built = server_config(&opts).expect("all 24 names");
        // 24 names, 9 implemented: the other 15 (RC4, 3DES, CBC, RSA key exchange) warned.
        assert_eq!(built.warnings.len(), 15, "{:?}", built.warnings);
        assert!(built.warnings.contains(
            &"cipher suite TLS_RSA_WITH_RC4_128_SHA is not available in natsd, ignored".into()
        ));
    }

    #[test]
    fn handshake_after_info_then_ping_pong_over_tls13() {
        let client = client_config(ALL_VERSIONS, None);
        let mut pair = Pair::new(config(&server_opts()), client);
        assert!(pair.server.is_handshaking());
        assert_eq!(pair.server.protocol_and_cipher(), None);
        pair.ping_pong().expect("ping pong");
        assert!(!pair.server.is_handshaking());
        // The server's order wins over rustls' client, which prefers AES-256.
        assert_eq!(
            pair.server.protocol_and_cipher(),
            Some(("1.3", "TLS_AES_128_GCM_SHA256"))
        );
        assert!(pair.server.peer_certificates().is_none());
        pair.server.send_close_notify();
        pair.run(|pair| pair.client_closed).expect("close_notify");
    }

    #[test]
    fn tls12_client_gets_an_ecdhe_gcm_suite() {
        let client = client_config(&[&TLS12], None);
        let mut pair = Pair::new(config(&server_opts()), client);
        pair.ping_pong().expect("ping pong");
        assert_eq!(
            pair.server.protocol_and_cipher(),
            Some(("1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
        );
    }

    #[test]
    fn cbc_only_list_leaves_tls13_only() {
        let opts = TlsOptions {
            cipher_suites: vec!["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA".into()],
            ..server_opts()
        };
        let built = server_config(&opts).expect("config");
        assert_eq!(
            built.warnings,
            [
                "cipher suite TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA is not available in natsd, \
                 ignored",
                "no TLS 1.2 cipher suite of 'cipher_suites' is available: TLS 1.3 only",
            ]
        );
        let tls12 = client_config(&[&TLS12], None);
        let failed = Pair::new(built.config.clone(), tls12).ping_pong();
        assert!(
            failed.is_err_and(|err| err.contains("Tls12NotOfferedOrEnabled")),
            "TLS 1.2 refused"
        );
        let mut pair = Pair::new(built.config, client_config(ALL_VERSIONS, None));
        pair.ping_pong().expect("TLS 1.3 still works");
    }

    #[test]
    fn chosen_tls12_suite_follows_the_list() {
        let opts = TlsOptions {
            cipher_suites: vec!["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".into()],
            ..server_opts()
        };
        let mut pair = Pair::new(config(&opts), client_config(&[&TLS12], None));
        pair.ping_pong().expect("ping pong");
        assert_eq!(
            pair.server.protocol_and_cipher(),
            Some(("1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"))
        );
    }

    #[test]
    fn p521_is_accepted_and_reported_unavailable() {
        let opts = TlsOptions {
            curve_preferences: vec!["CurveP521".into(), "CurveP384".into()],
            ..server_opts()
        };
        let built = server_config(&opts).expect("config");
        assert_eq!(
            built.warnings,
            ["curve preference CurveP521 is not available in natsd, ignored"]
        );
        let alone = TlsOptions {
            curve_preferences: vec!["CurveP521".into()],
            ..server_opts()
        };
        let built = server_config(&alone).expect("config");
        assert_eq!(built.warnings.len(), 2, "{:?}", built.warnings);
        assert!(built.warnings[1].contains("using X25519, CurveP256, CurveP384"));
        let mut pair = Pair::new(built.config, client_config(ALL_VERSIONS, None));
        pair.ping_pong().expect("defaults still work");
    }

    #[test]
    fn verify_accepts_a_client_certificate_signed_by_the_ca() {
        let client = client_config(ALL_VERSIONS, Some(("client-cert.pem", "client-key.pem")));
        let mut pair = Pair::new(config(&verify_opts()), client);
        pair.ping_pong().expect("ping pong");
        let chain = pair.server.peer_certificates().expect("client chain");
        let client_der = CertificateDer::from_pem_file(cert("client-cert.pem")).expect("pem");
        assert_eq!(chain, [client_der]);
    }

    #[test]
    fn verify_refuses_a_client_without_certificate() {
        let mut pair = Pair::new(config(&verify_opts()), client_config(ALL_VERSIONS, None));
        let err = pair.ping_pong().expect_err("refused");
        assert!(err.starts_with("server: "), "{err}");
        assert!(err.contains("no certificates"), "{err}");
    }

    #[test]
    fn verify_refuses_a_certificate_not_for_client_use() {
        // server-cert.pem is for serverAuth only.
        let client = client_config(ALL_VERSIONS, Some(("server-cert.pem", "server-key.pem")));
        let mut pair = Pair::new(config(&verify_opts()), client);
        let err = pair.ping_pong().expect_err("refused");
        assert!(err.starts_with("server: invalid peer certificate"), "{err}");
    }

    #[test]
    fn without_certificate_every_handshake_fails() {
        let mut pair = Pair::new(
            config(&TlsOptions::default()),
            client_config(ALL_VERSIONS, None),
        );
        let err = pair.ping_pong().expect_err("no certificate");
        assert!(err.contains("no server certificate"), "{err}");
    }

    #[test]
    fn tls11_client_hello_is_refused_with_an_alert() {
        let mut session = TlsSession::new(config(&server_opts())).expect("session");
        // A TLS 1.1 ClientHello: version 3.2, no supported_versions extension, one CBC
        // suite, and the signature_algorithms extension rustls checks before the version.
        let mut hello = vec![0x03, 0x02];
        hello.extend_from_slice(&[7; 32]); // random
        hello.extend_from_slice(&[0, 0, 2, 0xc0, 0x13, 1, 0]); // no session, suite, null
        hello.extend_from_slice(&[0, 8, 0, 0x0d, 0, 4, 0, 2, 4, 3]); // ecdsa_secp256r1_sha256
        let mut handshake = vec![1, 0, 0, hello.len() as u8];
        handshake.extend_from_slice(&hello);
        let mut record = vec![HANDSHAKE_RECORD, 3, 1, 0, handshake.len() as u8];
        record.extend_from_slice(&handshake);
        assert!(looks_like_tls(record[0]));
        let err = session
            .read_tls_from(&mut record.as_slice())
            .expect_err("TLS 1.1 refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("Tls12NotOffered"), "{err}");
        let mut alert = Vec::new();
        session.write_tls_to(&mut alert).expect("alert");
        // A fatal protocol_version (70) alert record.
        assert_eq!(alert, [0x15, 3, 3, 0, 2, 2, 70]);
    }

    #[test]
    fn write_plain_would_block_when_rustls_buffer_is_full() {
        let mut session = TlsSession::new(config(&server_opts())).expect("session");
        let chunk = [b'x'; 16 * 1024];
        let mut taken = 0;
        let err = loop {
            match session.write_plain(&chunk) {
                Ok(n) => taken += n,
                Err(err) => break err,
            }
            assert!(taken <= 1 << 20, "no limit");
        };
        assert!(would_block(&err));
        assert!(taken >= 16 * 1024);
        assert_eq!(session.write_plain(&[]).ok(), Some(0));
    }

    #[test]
    fn read_plain_would_block_before_data() {
        let mut session = TlsSession::new(config(&server_opts())).expect("session");
        let err = session.read_plain(&mut [0; 16]).expect_err("nothing yet");
        assert!(would_block(&err));
    }

    #[test]
    fn looks_like_tls_checks_the_handshake_byte() {
        assert!(looks_like_tls(0x16));
        assert!(!looks_like_tls(b'C'));
        assert!(!looks_like_tls(b'P'));
    }

    #[test]
    fn system_roots_come_from_the_first_readable_file() {
        let candidates = [PathBuf::from("nope.pem"), cert("ca.pem")];
        assert_eq!(system_roots(&candidates).len(), 1);
        assert!(system_roots(&[PathBuf::from("nope.pem")]).is_empty());
    }
}
