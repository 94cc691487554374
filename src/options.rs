//! Every server setting in one place, with the nats-server 2.9 defaults.
//!
//! The configuration file (`config`) and the command line (`cli`) fill an [`Options`];
//! nothing below the server reads argv or files.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// Default listen host.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Default maximum payload size (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Default maximum control line length.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default maximum pending outbound bytes per connection (64 MiB).
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// Default maximum number of client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;

/// The port value that asks the operating system for a free port (`-p -1`).
pub const RANDOM_PORT: i64 = -1;
/// Default number of consecutive failed route/gateway/leaf connect attempts between two
/// error reports (`connect_error_reports`).
pub const DEFAULT_CONNECT_ERROR_REPORTS: i64 = 3600;
/// Default number of failed reconnect attempts between two error reports.
pub const DEFAULT_RECONNECT_ERROR_REPORTS: i64 = 1;
/// Default delay between a leaf's attempts to connect to a remote (`leafnodes { reconnect }`).
pub const DEFAULT_LEAF_RECONNECT: Duration = Duration::from_secs(1);

/// The TLS cipher suite names nats-server 2.9 accepts in `cipher_suites` (`cipherMap`).
pub const TLS_CIPHER_SUITES: [&str; 24] = [
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// The curve names nats-server 2.9 accepts in `curve_preferences` (`curvePreferenceMap`).
pub const TLS_CURVES: [&str; 4] = ["X25519", "CurveP256", "CurveP384", "CurveP521"];

/// Where log lines go (`ConfigureLogger` order: file, remote syslog, local syslog, stderr).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `-l/--log`: append to this file.
    pub file: Option<PathBuf>,
    /// `-T/--logtime`: prefix lines with the local time (default true).
    pub logtime: bool,
    /// `-s/--syslog`: log to the local syslog.
    pub syslog: bool,
    /// `-r/--remote_syslog`: `udp://host:port`, `tcp://host:port` or `unix:///path`.
    pub remote_syslog: Option<String>,
    /// `-D/--debug`.
    pub debug: bool,
    /// `-V/--trace`.
    pub trace: bool,
    /// `-VV`: trace the system account as well (accepted; natsd has no system account).
    pub trace_verbose: bool,
    /// `--max_traced_msg_len`: truncate traced payloads to this many bytes (0 = no limit).
    pub max_traced_msg_len: usize,
    /// `log_size_limit`: rotate the log file when it passes this many bytes (0 = never).
    pub size_limit: u64,
}

/// All settings of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Client listen host (`-a/--addr/--net`), an IPv4 or IPv6 address or a host name.
    pub host: String,
    /// Client listen port (`-p/--port`) as given: [`RANDOM_PORT`] picks a free one, 0 means
    /// the default; anything outside 0..=65535 fails at listen time, as in the reference.
    pub port: i64,
    /// Server name (`-n/--name/--server_name`); the server id when unset.
    pub server_name: Option<String>,
    /// `host:port` advertised to clients instead of the listen address.
    pub client_advertise: Option<String>,
    /// `-P/--pid`: write the process id here.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`: write `<exe>_<pid>.ports` here.
    pub ports_file_dir: Option<PathBuf>,
    /// Logging.
    pub log: LogOptions,
    /// Largest accepted PUB/HPUB payload.
    pub max_payload: usize,
    /// Longest accepted control line (client connections).
    pub max_control_line: usize,
    /// Pending outbound bytes after which a connection is a slow consumer.
    pub max_pending: usize,
    /// natsd only (`max_pending_total`, `--max_pending_total`): the most bytes held for
    /// all connections' outbound buffers together. Past it, a connection whose socket is
    /// full and that holds more than its share (this / connections) is a slow consumer.
    /// 0 = no limit.
    pub max_pending_total: usize,
    /// Maximum client connections.
    pub max_connections: usize,
    /// Maximum subscriptions per connection (0 = unlimited).
    pub max_subscriptions: usize,
    /// Maximum tokens in a subscription subject (0 = unlimited).
    pub max_sub_tokens: usize,
    /// Interval of server PINGs.
    pub ping_interval: Duration,
    /// Unanswered PINGs after which the connection is stale.
    pub ping_max: u32,
    /// A write that makes no progress for this long closes the connection (slow consumer).
    pub write_deadline: Duration,
    /// Send `headers: true` in INFO and accept HPUB.
    pub headers: bool,
    /// Number of reactor threads (natsd only; 0 = choose automatically).
    pub reactors: usize,
    /// Lame duck mode closes clients spread over this long.
    pub lame_duck_duration: Duration,
    /// Lame duck mode waits this long before it starts closing clients.
    pub lame_duck_grace_period: Duration,
    /// The configuration file the options were read from (`-c`), for reload.
    pub config_file: Option<PathBuf>,
    /// Monitoring listen host (`http: host:port`); the client host when unset.
    pub http_host: Option<String>,
    /// Monitoring HTTP port (`http_port`, `-m`) as given: 0 = off, -1 = random.
    pub http_port: i64,
    /// Monitoring HTTPS port (`https_port`, `-ms`) as given: 0 = off, -1 = random.
    pub https_port: i64,
    /// Monitoring URL prefix (`http_base_path`); `/` when unset.
    pub http_base_path: Option<String>,
    /// Client authentication and authorization (`authorization {}`, `no_auth_user`).
    pub auth: AuthOptions,
    /// Client TLS (`tls {}`); `None` = plain connections.
    pub tls: Option<TlsOptions>,
    /// `allow_non_tls`: accept plain connections alongside TLS.
    pub allow_non_tls: bool,
    /// Clustering (`cluster {}`).
    pub cluster: ClusterOptions,
    /// `prof_port`: Go profiling port (0 = off).
    pub prof_port: i64,
    /// `connect_error_reports`: report every Nth failed connect attempt.
    pub connect_error_reports: i64,
    /// `reconnect_error_reports`: report every Nth failed reconnect attempt.
    pub reconnect_error_reports: i64,
    /// `disable_sublist_cache`/`no_sublist_cache`.
    pub no_sublist_cache: bool,
    /// `server_tags`: lower-cased, without duplicates or empty tags.
    pub server_tags: Vec<String>,
    /// `system_account`/`system`: the account named as the system account.
    pub system_account: Option<String>,
    /// `no_system_account`/`no_system`/`no_sys_acc`.
    pub no_system_account: bool,
    /// `accounts {}` (map or array form), in file order. Their users are in `auth`, each
    /// with its `account`.
    pub accounts: Vec<AccountOptions>,
    /// Top-level `mappings {}`/`maps {}`: the mappings of the global account `$G`, in file
    /// order (a source given in both blocks: the later one, in the earlier one's place).
    pub mappings: Vec<MappingOptions>,
    /// Leaf node connections (`leafnodes {}`): the hub-side listener and the remotes this
    /// server solicits as a leaf.
    pub leafnodes: LeafnodeOptions,
}

/// One account of the `accounts {}` block (static configuration mode).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountOptions {
    /// The account name (case-sensitive; never `$G`).
    pub name: String,
    /// `exports`, in file order. A subject exported twice as the same kind is one entry, as
    /// the reference merges them: the approved accounts of both (public only if both are),
    /// for a service the last non-singleton response type and the last threshold.
    pub exports: Vec<ExportOptions>,
    /// `imports`, in file order.
    pub imports: Vec<ImportOptions>,
    /// `mappings {}`/`maps {}` of the account.
    pub mappings: Vec<MappingOptions>,
    /// `limits {}`.
    pub limits: AccountLimits,
    /// `nkey`: the account's public nkey (`A…`), validated only; natsd does not use it.
    pub nkey: Option<String>,
}

/// One element of an account's `exports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// `stream`/`service`: the exported subject (wildcards allowed).
    pub subject: String,
    /// A stream, or a service with its response settings.
    pub kind: ExportKind,
    /// `accounts: [...]`: the accounts allowed to import; empty = public.
    pub accounts: Vec<String>,
}

/// What an export offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// `stream`: messages published in the exporter, delivered to the importers.
    Stream,
    /// `service`: requests from importers, answered in the exporter.
    Service {
        /// `response_type`/`response`.
        response: ResponseType,
        /// `response_threshold` (and aliases): how long a response mapping lives (2 min).
        threshold: Duration,
    },
}

/// How many responses a service request may get (`response_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseType {
    /// `singleton`/`single`: one response.
    #[default]
    Singleton,
    /// `stream`: any number, until the threshold passes.
    Streamed,
    /// `chunked`/`chunk`: any number, until an empty one or the threshold.
    Chunked,
}

/// One element of an account's `imports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// `stream`/`service` `{ account }`: the exporting account.
    pub account: String,
    /// `stream`/`service` `{ subject }`: the subject on the exporter's side.
    pub subject: String,
    /// The subject on the importer's side: `<prefix>.<subject>` for a stream import with
    /// `prefix` (which wins over `to`), else `to`, else `subject`. May use the import
    /// subject's wildcards (`*`, `$N`): `transform::ImportMapping::new(subject, local)`
    /// maps between the two sides.
    pub local: String,
    /// A stream or a service import.
    pub kind: ImportKind,
}

/// The kind of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A stream import.
    Stream,
    /// A service import; `share`: responders get the requester's details in
    /// `Nats-Request-Info`.
    Service { share: bool },
}

/// One entry of a `mappings {}` block: a source subject and its destinations.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingOptions {
    /// The source subject (wildcards allowed).
    pub source: String,
    /// The destinations as written (a plain string value is one destination of weight
    /// 100). Weights are per destination, not cumulative; they are valid for
    /// `transform::WeightedMapping::new(source, destinations)`.
    pub destinations: Vec<MappingDestination>,
}

/// One destination of a mapping (also how `/accountz` lists them, weights cumulative).
#[derive(Debug, Clone, PartialEq)]
pub struct MappingDestination {
    /// `destination`/`dest`: the subject template (`$N`, `{{wildcard(N)}}`).
    pub subject: String,
    /// `weight`: 0–100 percent.
    pub weight: u8,
    /// `cluster`: applies only in the cluster of this name.
    pub cluster: Option<String>,
}

/// `limits {}` of an account; -1 = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// `max_connections`/`max_conn`: client connections bound to the account.
    pub max_connections: i64,
    /// `max_subscriptions`/`max_subs`: subscriptions per connection of the account.
    pub max_subscriptions: i64,
    /// `max_payload`/`max_pay`: payload per message of the account's connections.
    pub max_payload: i64,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_connections: -1,
            max_subscriptions: -1,
            max_payload: -1,
        }
    }
}

/// Client authentication: one of a single user, a token, or a list of users (the reference
/// rejects combinations while reading the file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthOptions {
    /// `authorization { user }` (`--user`): the single user.
    pub user: Option<String>,
    /// `authorization { password }` (`--pass`): plain text or a bcrypt hash.
    pub password: Option<String>,
    /// `authorization { token }` (`--auth`): plain text or a bcrypt hash.
    pub token: Option<String>,
    /// `authorization { timeout }` in seconds; 0 = the default (2, or the TLS timeout + 1
    /// when TLS is on).
    pub timeout: f64,
    /// `authorization { users [...] }` with user names; default permissions already applied
    /// to users that have none of their own.
    pub users: Vec<User>,
    /// `users` entries that authenticate with an nkey.
    pub nkeys: Vec<NkeyUser>,
    /// `authorization { default_permissions }`, as written.
    pub default_permissions: Option<Permissions>,
    /// `no_auth_user`: the user a client that gives no credentials is treated as.
    pub no_auth_user: Option<String>,
}

/// One entry of `users` with a user name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    /// `user`/`username`, never empty.
    pub username: String,
    /// `password`/`pass`: plain text or a bcrypt hash.
    pub password: Option<String>,
    /// `permissions`: the user's own, else the block's default permissions.
    pub permissions: Option<Permissions>,
    /// `allowed_connection_types`/`connection_types`/`clients`, upper-cased (`STANDARD`,
    /// `WEBSOCKET`, `LEAFNODE`, `LEAFNODE_WS`, `MQTT`, `MQTT_WS`); empty = any.
    pub allowed_connection_types: BTreeSet<String>,
    /// The account the user is bound to (`None` = `$G`).
    pub account: Option<String>,
}

/// One entry of `users` that authenticates with an nkey (a public user key, `U...`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NkeyUser {
    /// The public user nkey.
    pub nkey: String,
    /// As for [`User::permissions`].
    pub permissions: Option<Permissions>,
    /// As for [`User::allowed_connection_types`].
    pub allowed_connection_types: BTreeSet<String>,
    /// As for [`User::account`].
    pub account: Option<String>,
}

/// What a user may publish and subscribe to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    /// `publish`/`pub`/`import`; `None` = no restriction.
    pub publish: Option<SubjectPermission>,
    /// `subscribe`/`sub`/`export`; `None` = no restriction. A subject may be `"subject queue"`.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: may publish to the reply subjects of requests it received. When set,
    /// `publish.allow` is present (empty if the file gave none: only responses are allowed).
    pub allow_responses: Option<ResponsePermission>,
}

/// Allow and deny lists of subjects (wildcards allowed). Deny wins over allow. Serialized
/// as in route INFO and `/routez` (`{"allow": [...], "deny": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SubjectPermission {
    /// `None` = everything is allowed; `Some` = only matching subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Subjects that are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

/// `allow_responses`: how many responses, for how long, to each request received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePermission {
    /// `max`: responses per request; `None` = unlimited (negative in the file).
    pub max_msgs: Option<u64>,
    /// `expires`: how long the reply subject stays open; `None` = forever (negative).
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    /// One response within two minutes (the reference's defaults).
    fn default() -> Self {
        ResponsePermission {
            max_msgs: Some(1),
            expires: Some(Duration::from_secs(120)),
        }
    }
}

/// A `tls {}` block (client TLS, or the cluster's route TLS).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// `cert_file`: the certificate chain presented to peers (PEM).
    pub cert_file: Option<PathBuf>,
    /// `key_file`: its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `ca_file`: CA certificates that verify peer certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// `verify` (also set by `verify_and_map` and `verify_cert_and_check_known_urls`):
    /// require and verify peer certificates.
    pub verify: bool,
    /// `verify_and_map`: map the client certificate's subject to a user.
    pub verify_and_map: bool,
    /// `insecure`: skip verifying the server certificate (client side only).
    pub insecure: bool,
    /// `verify_cert_and_check_known_urls` (cluster only).
    pub verify_cert_and_check_known_urls: bool,
    /// `timeout`: TLS handshake timeout in seconds; 0 = the default (2).
    pub timeout: f64,
    /// `cipher_suites` (names from [`TLS_CIPHER_SUITES`]); empty = the defaults.
    pub cipher_suites: Vec<String>,
    /// `curve_preferences` (names from [`TLS_CURVES`]); empty = the defaults.
    pub curve_preferences: Vec<String>,
    /// `pinned_certs`: lower-case hex SHA-256 of accepted peer SubjectPublicKeyInfo.
    pub pinned_certs: BTreeSet<String>,
    /// `connection_rate_limit`: new TLS connections per second (0 = unlimited).
    pub connection_rate_limit: i64,
}

/// A `cluster {}` block: route listener, route authentication and solicited routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterOptions {
    /// `name`: the cluster name (dynamic when unset).
    pub name: Option<String>,
    /// Route listen host (`listen`, `host`/`net`); 0.0.0.0 when unset.
    pub host: Option<String>,
    /// Route listen port as given: 0 = no route listener, -1 = random.
    pub port: i64,
    /// `authorization { user }` for route connections.
    pub username: Option<String>,
    /// `authorization { password }` for route connections.
    pub password: Option<String>,
    /// `authorization { timeout }` in seconds; 0 = the default.
    pub auth_timeout: f64,
    /// `tls {}` for route connections (peers are always verified).
    pub tls: Option<TlsOptions>,
    /// `advertise`/`cluster_advertise`: `host:port` announced to other servers.
    pub advertise: Option<String>,
    /// `no_advertise`: do not announce client URLs of this cluster to clients.
    pub no_advertise: bool,
    /// `connect_retries`: attempts for implicit (gossiped) routes.
    pub connect_retries: i64,
    /// `permissions`: which subjects routes import and export.
    pub permissions: Option<RoutePermissions>,
    /// `routes`: URLs of servers to connect to, as written (surrounding space removed).
    pub routes: Vec<String>,
}

/// A `leafnodes {}` (alias `leaf`) block: the listener leafs connect to (hub role) and
/// the hubs this server connects to (leaf role).
#[derive(Debug, Clone, PartialEq)]
pub struct LeafnodeOptions {
    /// Listen host (`listen`, `host`/`net`); 0.0.0.0 when unset.
    pub host: Option<String>,
    /// Listen port as given: 0 = no leafnode listener, -1 = random.
    pub port: i64,
    /// `authorization { user, password }`: the single leaf user.
    pub username: Option<String>,
    pub password: Option<String>,
    /// `authorization { account }`: the account the single user binds to.
    pub account: Option<String>,
    /// `authorization { users [...] }`.
    pub users: Vec<LeafUser>,
    /// `authorization { timeout }` in seconds; 0 = the default (2, or TLS timeout + 1).
    pub auth_timeout: f64,
    /// `tls {}` for accepted leaf connections (peer certificates checked only with
    /// `verify`).
    pub tls: Option<TlsOptions>,
    /// `advertise`/`leafnode_advertise`: `host[:port]` announced to leafs.
    pub advertise: Option<String>,
    /// `no_advertise`: our leaf URL is not gossiped to cluster peers.
    pub no_advertise: bool,
    /// `reconnect` (seconds between attempts, leaf role).
    pub reconnect: Duration,
    /// `min_version`: leafs announcing a lower version are refused (empty = any).
    pub min_version: Option<String>,
    /// `remotes`: the hubs to connect to, in file order.
    pub remotes: Vec<RemoteLeafOptions>,
}

impl Default for LeafnodeOptions {
    fn default() -> Self {
        LeafnodeOptions {
            host: None,
            port: 0,
            username: None,
            password: None,
            account: None,
            users: Vec::new(),
            auth_timeout: 0.0,
            tls: None,
            advertise: None,
            no_advertise: false,
            reconnect: DEFAULT_LEAF_RECONNECT,
            min_version: None,
            remotes: Vec::new(),
        }
    }
}

impl LeafnodeOptions {
    /// How long an accepted leaf has to complete the TLS handshake (`tls { timeout }`,
    /// default 2 s).
    pub fn tls_timeout(&self) -> Duration {
        let secs = self.tls.as_ref().map_or(0.0, |tls| tls.timeout);
        seconds_or(secs, Duration::from_secs(2))
    }

    /// How long an accepted leaf has to send its CONNECT: `authorization { timeout }`, else
    /// 2 s (the TLS timeout + 1 s with TLS), as the reference.
    pub fn auth_timeout(&self) -> Duration {
        match &self.tls {
            _ if self.auth_timeout > 0.0 => seconds_or(self.auth_timeout, Duration::ZERO),
            Some(_) => self.tls_timeout() + Duration::from_secs(1),
            None => Duration::from_secs(2),
        }
    }
}

/// A user of `leafnodes { authorization { users [...] } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafUser {
    pub username: String,
    /// Plain text or a bcrypt hash.
    pub password: String,
    /// The account the link binds to (`None`: `$G`).
    pub account: Option<String>,
}

/// One entry of `leafnodes { remotes [...] }`: a hub to connect to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteLeafOptions {
    /// `url`/`urls`, as written (surrounding space removed), duplicates dropped.
    pub urls: Vec<String>,
    /// `no_randomize`/`dont_randomize`: try the URLs in order.
    pub no_randomize: bool,
    /// `account`/`local`: the local account the link binds to (`None`: `$G`).
    pub account: Option<String>,
    /// `credentials`/`creds`: a JWT + nkey seed file, `$ENV` and `~` expanded.
    pub credentials: Option<PathBuf>,
    /// `tls {}`: the client side of the handshake.
    pub tls: Option<TlsOptions>,
    /// `deny_imports`: subjects this leaf will not receive from the hub.
    pub deny_imports: Vec<String>,
    /// `deny_exports`: subjects this leaf will not send to the hub.
    pub deny_exports: Vec<String>,
}

impl RemoteLeafOptions {
    /// How long the TLS handshake with the hub may take when the remote has a `tls` block
    /// (`timeout`, default 2 s).
    pub fn tls_timeout(&self) -> Option<Duration> {
        let tls = self.tls.as_ref()?;
        Some(seconds_or(tls.timeout, Duration::from_secs(2)))
    }
}

/// Route permissions (`import` = the peer's publishes we accept, `export` = the interest we
/// accept from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    /// `import` (also `publish`).
    pub import: Option<SubjectPermission>,
    /// `export` (also `subscribe`).
    pub export: Option<SubjectPermission>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT as i64,
            server_name: None,
            client_advertise: None,
            pid_file: None,
            ports_file_dir: None,
            log: LogOptions {
                logtime: true,
                ..LogOptions::default()
            },
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_total: default_max_pending_total(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            headers: true,
            reactors: 0,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            config_file: None,
            http_host: None,
            http_port: 0,
            https_port: 0,
            http_base_path: None,
            auth: AuthOptions::default(),
            tls: None,
            allow_non_tls: false,
            cluster: ClusterOptions::default(),
            prof_port: 0,
            connect_error_reports: DEFAULT_CONNECT_ERROR_REPORTS,
            reconnect_error_reports: DEFAULT_RECONNECT_ERROR_REPORTS,
            no_sublist_cache: false,
            server_tags: Vec::new(),
            system_account: None,
            no_system_account: false,
            accounts: Vec::new(),
            mappings: Vec::new(),
            leafnodes: LeafnodeOptions::default(),
        }
    }
}

impl Options {
    /// Checks settings that cannot work together, in the reference's words and order
    /// (`validateOptions`): lame duck timings, payload against pending, the accounts leaf
    /// node links bind to, `no_auth_user`.
    pub fn validate(&self) -> Result<(), String> {
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                crate::gofmt::duration(self.lame_duck_grace_period),
                crate::gofmt::duration(self.lame_duck_duration)
            ));
        }
        if self.max_payload > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        self.check_leafnode_accounts()?;
        if let Some(name) = &self.auth.no_auth_user {
            if self.auth.users.is_empty() {
                return Err(format!(
                    "no_auth_user: \"{name}\" present, but users are not defined"
                ));
            }
            if !self.auth.users.iter().any(|u| &u.username == name) {
                return Err(format!(
                    "no_auth_user: \"{name}\" not present as user in authorization block or account configuration"
                ));
            }
        }
        Ok(())
    }

    /// The accounts `leafnodes` binds links to must exist (`validateLeafNode`).
    fn check_leafnode_accounts(&self) -> Result<(), String> {
        let leaf = &self.leafnodes;
        let users = leaf.users.iter().filter_map(|user| user.account.as_ref());
        let remotes = leaf
            .remotes
            .iter()
            .filter_map(|remote| remote.account.as_ref());
        let mut named = leaf
            .account
            .iter()
            .chain(users)
            .map(|name| (name, "authorization"))
            .chain(remotes.map(|name| (name, "remote")));
        match named.find(|(name, _)| !self.has_account(name)) {
            Some((name, what)) => Err(format!(
                "cannot find local account {} specified in leafnode {what}",
                crate::gofmt::quote_str(name)
            )),
            None => Ok(()),
        }
    }

    /// Whether an account exists once the server runs: `$G`, a configured account, or
    /// `$SYS` unless `system_account` names another or `no_system_account` is set.
    fn has_account(&self, name: &str) -> bool {
        name == "$G"
            || self.accounts.iter().any(|account| account.name == name)
            || (name == "$SYS" && self.system_account.is_none() && !self.no_system_account)
    }

    /// How long a client has to complete the TLS handshake (`tls { timeout }`, default 2 s).
    pub fn tls_timeout(&self) -> Duration {
        let secs = self.tls.as_ref().map_or(0.0, |tls| tls.timeout);
        seconds_or(secs, Duration::from_secs(2))
    }

    /// How long a client has to authenticate: `authorization { timeout }`, else 2 s (the
    /// TLS timeout + 1 s with TLS), as the reference.
    pub fn auth_timeout(&self) -> Duration {
        if self.auth.timeout > 0.0 {
            return seconds_or(self.auth.timeout, Duration::ZERO);
        }
        match &self.tls {
            Some(tls) if tls.timeout > 0.0 => seconds_or(tls.timeout + 1.0, Duration::ZERO),
            Some(_) => Duration::from_secs(3),
            None => Duration::from_secs(2),
        }
    }

    /// The first configured feature natsd does not implement yet, named for a
    /// "... is not supported yet" message: the server must refuse to start rather than run
    /// without authentication, in plain text, unclustered or unmonitored. (`no_auth_user`
    /// alone is left to [`Options::validate`], which refuses it in the reference's words.)
    pub fn unsupported_yet(&self) -> Option<&'static str> {
        (self.prof_port != 0).then_some("profiling (prof_port)")
    }

    /// Whether a password is configured in plain text (not a bcrypt hash): the server then
    /// warns `Plaintext passwords detected, use nkeys or bcrypt`, as the reference does.
    /// Users without a password count unless TLS maps certificates to users.
    pub fn has_plaintext_passwords(&self) -> bool {
        let tls_map = self.tls.as_ref().is_some_and(|tls| tls.verify_and_map);
        let single = self.auth.password.as_deref().is_some_and(|p| !is_bcrypt(p));
        single
            || self.auth.users.iter().any(|user| match &user.password {
                Some(password) => !is_bcrypt(password),
                None => !tls_map,
            })
    }
}

/// Whether a password or token is a bcrypt hash (`^\$2[abxy]\$\d{2}\$`), which the server
/// compares with bcrypt instead of as plain text.
pub fn is_bcrypt(secret: &str) -> bool {
    let b = secret.as_bytes();
    b.len() >= 7
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// The default `max_pending_total`: a quarter of the machine's memory, at most 1 GiB and
/// at least 16 MiB. Outbound buffers are what slow or hostile consumers make a server
/// hold; a quarter leaves the rest to everything else on a small board (64 MiB of a
/// 256 MiB one) while a big server is not limited below what its clients could use.
pub fn default_max_pending_total() -> usize {
    const MIN: usize = 16 << 20;
    const MAX: usize = 1 << 30;
    // SAFETY: sysconf has no preconditions.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let memory = usize::try_from(pages)
        .unwrap_or(0)
        .saturating_mul(usize::try_from(page_size).unwrap_or(0));
    (memory / 4).clamp(MIN, MAX)
}

/// The longest Go `time.Duration` (2⁶³−1 ns, about 292 years).
const GO_MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// A timeout in seconds from the configuration (`timeout: 0.5`) as a [`Duration`]: `default`
/// unless positive, and at most Go's longest duration. (Rust's conversion panics on the
/// seconds a file may give, `timeout: 100000000000000000000.0`; the reference's
/// `time.Duration(secs * float64(time.Second))` overflows into a negative duration.)
pub fn seconds_or(secs: f64, default: Duration) -> Duration {
    if secs > 0.0 {
        Duration::try_from_secs_f64(secs).map_or(GO_MAX_DURATION, |d| d.min(GO_MAX_DURATION))
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_from_huge_seconds_are_capped() {
        // Found with the `config` fuzz target: `authorization { timeout: 1e20 }` panicked in
        // auth_timeout() (and so when a client connected).
        let mut files = crate::conf::MemoryFiles::new();
        files.insert(
            "t.conf",
            "authorization { timeout: 100000000000000000000000.0 }\n",
        );
        let mut opts = Options::default();
        let path = std::path::Path::new("t.conf");
        let report = crate::config::apply_file_from(path, &files, &mut opts);
        assert_eq!(report, crate::config::Report::default());
        assert_eq!(opts.auth.timeout, 1e23);
        assert_eq!(opts.auth_timeout(), GO_MAX_DURATION);
        assert_eq!(seconds_or(1e300, Duration::ZERO), GO_MAX_DURATION);
        assert_eq!(seconds_or(f64::INFINITY, Duration::ZERO), GO_MAX_DURATION);
        assert_eq!(
            seconds_or(f64::NAN, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(
            seconds_or(-1.0, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(seconds_or(0.5, Duration::ZERO), Duration::from_millis(500));
        opts.tls = Some(TlsOptions {
            timeout: f64::MAX,
            ..TlsOptions::default()
        });
        assert_eq!(opts.tls_timeout(), GO_MAX_DURATION);
        opts.auth.timeout = 0.0;
        assert_eq!(opts.auth_timeout(), GO_MAX_DURATION);
    }

    #[test]
    fn bcrypt_prefix() {
        assert!(is_bcrypt(
            "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
        ));
        assert!(is_bcrypt("$2y$04$"));
        assert!(!is_bcrypt("$2c$11$abc"));
        assert!(!is_bcrypt("$2a$1$abc"));
        assert!(!is_bcrypt("T0pS3cr3t"));
        assert!(!is_bcrypt(""));
    }

    #[test]
    fn plaintext_passwords() {
        let mut opts = Options::default();
        assert!(!opts.has_plaintext_passwords());
        opts.auth.password = Some("$2a$11$abc".into());
        assert!(!opts.has_plaintext_passwords());
        opts.auth.password = Some("secret".into());
        assert!(opts.has_plaintext_passwords());
        opts.auth.password = None;
        opts.auth.users.push(User {
            username: "a".into(),
            ..User::default()
        });
        assert!(opts.has_plaintext_passwords(), "no password, no TLS map");
        opts.tls = Some(TlsOptions {
            verify_and_map: true,
            ..TlsOptions::default()
        });
        assert!(!opts.has_plaintext_passwords(), "certificate-mapped user");
        opts.auth.users[0].password = Some("plain".into());
        assert!(opts.has_plaintext_passwords());
    }

    #[test]
    fn validate_in_reference_order() {
        let mut opts = Options {
            max_payload: DEFAULT_MAX_PENDING + 1,
            lame_duck_grace_period: Duration::from_secs(200),
            ..Options::default()
        };
        assert_eq!(
            opts.validate().unwrap_err(),
            "lame duck grace period (3m20s) should be strictly lower than lame duck duration (2m0s)"
        );
        opts.lame_duck_grace_period = Duration::from_secs(10);
        assert_eq!(
            opts.validate().unwrap_err(),
            "max_payload (67108865) cannot be higher than max_pending (67108864)"
        );
        opts.max_payload = DEFAULT_MAX_PAYLOAD;
        opts.auth.no_auth_user = Some("b".into());
        assert_eq!(
            opts.validate().unwrap_err(),
            r#"no_auth_user: "b" present, but users are not defined"#
        );
        opts.auth.users.push(User {
            username: "a".into(),
            ..User::default()
        });
        assert_eq!(
            opts.validate().unwrap_err(),
            r#"no_auth_user: "b" not present as user in authorization block or account configuration"#
        );
        opts.auth.no_auth_user = Some("a".into());
        assert_eq!(opts.validate(), Ok(()));
    }

    #[test]
    fn leafnode_timeouts() {
        let secs = Duration::from_secs;
        let mut leaf = LeafnodeOptions::default();
        assert_eq!(
            (leaf.auth_timeout(), leaf.tls_timeout()),
            (secs(2), secs(2))
        );
        leaf.tls = Some(TlsOptions {
            timeout: 4.0,
            ..TlsOptions::default()
        });
        assert_eq!(
            (leaf.auth_timeout(), leaf.tls_timeout()),
            (secs(5), secs(4))
        );
        leaf.auth_timeout = 0.5;
        assert_eq!(leaf.auth_timeout(), Duration::from_millis(500));
        let mut remote = RemoteLeafOptions::default();
        assert_eq!(remote.tls_timeout(), None);
        remote.tls = Some(TlsOptions::default());
        assert_eq!(remote.tls_timeout(), Some(secs(2)));
    }

    #[test]
    fn unsupported_features_are_named() {
        let mut opts = Options {
            tls: Some(TlsOptions {
                verify_and_map: true,
                ..TlsOptions::default()
            }),
            ..Options::default()
        };
        assert_eq!(opts.unsupported_yet(), None, "verify_and_map is supported");
        opts.prof_port = 6060;
        assert_eq!(opts.unsupported_yet(), Some("profiling (prof_port)"));
        opts.prof_port = 0;
        opts.accounts.push(AccountOptions::default());
        assert_eq!(opts.unsupported_yet(), None, "accounts are supported");
        opts.leafnodes.remotes.push(RemoteLeafOptions::default());
        assert_eq!(opts.unsupported_yet(), None, "leafnodes are supported");
    }
}
