//! The settings in force — the options and the INFO template built from them — swapped
//! whole on reload, and the reload rules: which changes apply to a running server and which
//! the reference refuses.

use std::collections::BTreeSet;
use std::fmt::{self, Debug, Display};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use super::info::Info;
use crate::auth::Authenticator;
use crate::gofmt;
use crate::options::{
    seconds_or, ClusterOptions, LeafUser, LeafnodeOptions, Options, RemoteLeafOptions,
    DEFAULT_HOST, RANDOM_PORT,
};

/// Options and what is built from them: the INFO template and the authenticator.
pub struct Settings {
    pub opts: Options,
    pub info: Info,
    pub auth: Authenticator,
    /// The TLS configuration clients must use, when `tls {}` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// When these options were loaded (start or last reload): `/varz` `config_load_time`.
    pub loaded_at: SystemTime,
}

/// The current [`Settings`], shared by all reactors. A reactor keeps its own `Arc` and
/// fetches a new one only when the generation moves (one atomic load per turn).
pub struct SharedSettings {
    current: RwLock<Arc<Settings>>,
    generation: AtomicU64,
}

impl SharedSettings {
    /// Shares the initial settings.
    pub fn new(settings: Settings) -> Self {
        SharedSettings {
            current: RwLock::new(Arc::new(settings)),
            generation: AtomicU64::new(0),
        }
    }

    /// The settings in force.
    pub fn current(&self) -> Arc<Settings> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Bumped by every [`SharedSettings::replace`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts new settings in force.
    pub fn replace(&self, settings: Settings) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// What a reload changes: one `Reloaded: …` line per changed setting (the reference's
/// wording), or the reference's refusal when a setting cannot change on a running server.
pub fn reload_changes(old: &Options, new: &Options) -> Result<Vec<String>, String> {
    refuse_fixed(old, new)?;
    let mut lines = Vec::new();
    let mut changed = |differs: bool, line: String| {
        if differs {
            lines.push(line);
        }
    };
    let (o, n) = (&old.log, &new.log);
    changed(o.trace != n.trace, format!("Reloaded: trace = {}", n.trace));
    changed(
        o.trace_verbose != n.trace_verbose,
        format!("Reloaded: trace_verbose = {}", n.trace_verbose),
    );
    changed(o.debug != n.debug, format!("Reloaded: debug = {}", n.debug));
    changed(
        o.logtime != n.logtime,
        format!("Reloaded: logtime = {}", n.logtime),
    );
    changed(
        o.file != n.file,
        format!("Reloaded: log_file = {}", display_path(&n.file)),
    );
    changed(
        o.syslog != n.syslog,
        format!("Reloaded: syslog = {}", n.syslog),
    );
    changed(
        o.remote_syslog != n.remote_syslog,
        format!(
            "Reloaded: remote_syslog = {}",
            n.remote_syslog.as_deref().unwrap_or("")
        ),
    );
    let (oa, na) = (&old.auth, &new.auth);
    changed(
        oa.user != na.user,
        "Reloaded: authorization username".into(),
    );
    changed(
        oa.password != na.password,
        "Reloaded: authorization password".into(),
    );
    changed(oa.token != na.token, "Reloaded: authorization token".into());
    changed(
        oa.timeout != na.timeout,
        format!(
            "Reloaded: authorization timeout = {}",
            gofmt::float(na.timeout)
        ),
    );
    changed(
        oa.nkeys != na.nkeys,
        "Reloaded: authorization nkey users".into(),
    );
    changed(oa.users != na.users, "Reloaded: authorization users".into());
    changed(
        old.accounts != new.accounts || old.mappings != new.mappings,
        "Reloaded: accounts".into(),
    );
    changed(
        o.max_traced_msg_len != n.max_traced_msg_len,
        format!("Reloaded: max_traced_msg_len = {}", n.max_traced_msg_len),
    );
    changed(
        old.client_advertise != new.client_advertise,
        format!(
            "Reload: client_advertise = {}",
            new.client_advertise.as_deref().unwrap_or("")
        ),
    );
    changed(
        old.cluster.routes != new.cluster.routes,
        "Reloaded: cluster routes".into(),
    );
    changed(
        old.max_connections != new.max_connections,
        format!("Reloaded: max_connections = {}", new.max_connections),
    );
    changed(
        old.pid_file != new.pid_file,
        format!("Reloaded: pid_file = {}", display_path(&new.pid_file)),
    );
    changed(
        old.ports_file_dir != new.ports_file_dir,
        format!(
            "Reloaded: ports_file_dir = {}",
            display_path(&new.ports_file_dir)
        ),
    );
    changed(
        old.max_control_line != new.max_control_line,
        format!("Reloaded: max_control_line = {}", new.max_control_line),
    );
    changed(
        old.max_payload != new.max_payload,
        format!("Reloaded: max_payload = {}", new.max_payload),
    );
    changed(
        old.ping_interval != new.ping_interval,
        format!(
            "Reloaded: ping_interval = {}",
            gofmt::duration(new.ping_interval)
        ),
    );
    changed(
        old.ping_max != new.ping_max,
        format!("Reloaded: ping_max = {}", new.ping_max),
    );
    changed(
        old.max_pending_total != new.max_pending_total,
        format!("Reloaded: max_pending_total = {}", new.max_pending_total),
    );
    changed(
        old.write_deadline != new.write_deadline,
        format!(
            "Reloaded: write_deadline = {}",
            gofmt::duration(new.write_deadline)
        ),
    );
    Ok(lines)
}

/// The first setting that differs and cannot be reloaded, in the reference's words.
fn refuse_fixed(old: &Options, new: &Options) -> Result<(), String> {
    fn check<T: PartialEq + Display>(field: &str, old: T, new: T) -> Result<(), String> {
        if old == new {
            return Ok(());
        }
        Err(format!(
            "config reload not supported for {field}: old={old}, new={new}"
        ))
    }
    let name = |n: &Option<String>| n.clone().unwrap_or_default();
    check("ServerName", name(&old.server_name), name(&new.server_name))?;
    check("Host", &old.host, &new.host)?;
    if new.port != RANDOM_PORT {
        check("Port", old.port, new.port)?;
    }
    let http_host = |o: &Options| o.http_host.clone().unwrap_or_else(|| o.host.clone());
    check("HTTPHost", http_host(old), http_host(new))?;
    check("HTTPPort", old.http_port, new.http_port)?;
    check(
        "HTTPBasePath",
        name(&old.http_base_path),
        name(&new.http_base_path),
    )?;
    check("HTTPSPort", old.https_port, new.https_port)?;
    check("NoHeaderSupport", !old.headers, !new.headers)?;
    let no_auth_user = |o: &Options| o.auth.no_auth_user.clone().unwrap_or_default();
    check("NoAuthUser", no_auth_user(old), no_auth_user(new))?;
    let system = |o: &Options| o.system_account.clone().unwrap_or_default();
    check("SystemAccount", system(old), system(new))?;
    check("MaxSubs", old.max_subscriptions, new.max_subscriptions)?;
    check("MaxSubTokens", old.max_sub_tokens, new.max_sub_tokens)?;
    check("MaxPending", old.max_pending, new.max_pending)?;
    check(
        "LameDuckDuration",
        gofmt::duration(old.lame_duck_duration),
        gofmt::duration(new.lame_duck_duration),
    )?;
    check(
        "LameDuckGracePeriod",
        gofmt::duration(old.lame_duck_grace_period),
        gofmt::duration(new.lame_duck_grace_period),
    )?;
    check("LogSizeLimit", old.log.size_limit, new.log.size_limit)?;
    let tls_map = |o: &Options| o.tls.as_ref().is_some_and(|tls| tls.verify_and_map);
    check("TLSMap", tls_map(old), tls_map(new))?;
    check("Reactors", old.reactors, new.reactors)?;
    refuse_cluster_changes(&old.cluster, &new.cluster)?;
    refuse_leafnode_changes(&old.leafnodes, &new.leafnodes)
}

/// The reference refuses a new cluster host or port; natsd also keeps every other cluster
/// setting (routes, name, authorization, permissions, TLS) as it was at start.
fn refuse_cluster_changes(old: &ClusterOptions, new: &ClusterOptions) -> Result<(), String> {
    let host = |c: &ClusterOptions| match (&c.host, c.port) {
        (Some(host), _) => host.clone(),
        (None, 0) => String::new(),
        (None, _) => DEFAULT_HOST.to_string(),
    };
    if host(old) != host(new) {
        return Err(format!(
            "config reload not supported for cluster host: old={}, new={}",
            host(old),
            host(new)
        ));
    }
    if old.port != new.port {
        return Err(format!(
            "config reload not supported for cluster port: old={}, new={}",
            old.port, new.port
        ));
    }
    let same_routes = ClusterOptions {
        routes: old.routes.clone(),
        ..new.clone()
    };
    if *old != same_routes {
        return Err(
            "config reload not supported for cluster: natsd applies only a new `routes` list"
                .to_string(),
        );
    }
    Ok(())
}

/// The reference refuses every change of `leafnodes {}` but its TLS configurations
/// (`diffOptions`, case "leafnode"): the blocks are compared as [`LeafnodeReload`] views. A
/// new random port (-1) stands for the port in use.
fn refuse_leafnode_changes(old: &LeafnodeOptions, new: &LeafnodeOptions) -> Result<(), String> {
    let new_port = if new.port == RANDOM_PORT {
        old.port
    } else {
        new.port
    };
    let (old, new) = (
        LeafnodeReload::of(old, old.port),
        LeafnodeReload::of(new, new_port),
    );
    if old == new {
        return Ok(());
    }
    Err(format!(
        "config reload not supported for LeafNode: old={old:?}, new={new:?}"
    ))
}

/// What the reference compares of `leafnodes {}` on reload, once `setBaselineOptions` has
/// given the listener its defaults: everything but the TLS configurations (whose timeouts,
/// `verify_and_map` and pinned certificates still count); users and remotes in any order;
/// a remote's unset account as `$G`, its deny lists left out.
#[derive(Debug, PartialEq)]
struct LeafnodeReload<'a> {
    host: &'a str,
    port: i64,
    username: Option<&'a str>,
    password: Secret<'a>,
    account: Option<&'a str>,
    /// Sorted by name.
    users: Vec<UserReload<'a>>,
    auth_timeout: Duration,
    tls_timeout: Duration,
    tls_map: bool,
    pinned_certs: Option<&'a BTreeSet<String>>,
    advertise: Option<&'a str>,
    no_advertise: bool,
    reconnect: Duration,
    min_version: Option<&'a str>,
    /// Sorted.
    remotes: Vec<RemoteReload<'a>>,
}

impl<'a> LeafnodeReload<'a> {
    /// The view of `leaf` listening on `port`.
    fn of(leaf: &'a LeafnodeOptions, port: i64) -> Self {
        let tls = leaf.tls.as_ref();
        let (host, auth_timeout, tls_timeout) = listener(leaf, port);
        let mut users: Vec<UserReload> = leaf.users.iter().map(UserReload::of).collect();
        users.sort();
        let mut remotes: Vec<RemoteReload> = leaf.remotes.iter().map(RemoteReload::of).collect();
        remotes.sort();
        LeafnodeReload {
            host,
            port,
            username: leaf.username.as_deref(),
            password: Secret(leaf.password.as_deref().unwrap_or_default()),
            account: leaf.account.as_deref(),
            users,
            auth_timeout,
            tls_timeout,
            tls_map: tls.is_some_and(|tls| tls.verify_and_map),
            pinned_certs: tls
                .map(|tls| &tls.pinned_certs)
                .filter(|certs| !certs.is_empty()),
            advertise: leaf.advertise.as_deref(),
            no_advertise: leaf.no_advertise,
            reconnect: leaf.reconnect,
            min_version: leaf.min_version.as_deref(),
            remotes,
        }
    }
}

/// The listener's host, authorization timeout and TLS timeout: with a port, their defaults
/// filled in (`setBaselineOptions`); without, as written.
fn listener(leaf: &LeafnodeOptions, port: i64) -> (&str, Duration, Duration) {
    if port != 0 {
        let host = leaf.host.as_deref().unwrap_or(DEFAULT_HOST);
        return (host, leaf.auth_timeout(), leaf.tls_timeout());
    }
    let exactly = |secs| seconds_or(secs, Duration::ZERO);
    let tls_secs = leaf.tls.as_ref().map_or(0.0, |tls| tls.timeout);
    let host = leaf.host.as_deref().unwrap_or_default();
    (host, exactly(leaf.auth_timeout), exactly(tls_secs))
}

/// A leaf user as a reload compares it: name, password and account.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct UserReload<'a> {
    username: &'a str,
    password: Secret<'a>,
    account: Option<&'a str>,
}

impl<'a> UserReload<'a> {
    fn of(user: &'a LeafUser) -> Self {
        UserReload {
            username: &user.username,
            password: Secret(&user.password),
            account: user.account.as_deref(),
        }
    }
}

/// A remote as a reload compares it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RemoteReload<'a> {
    urls: &'a [String],
    no_randomize: bool,
    account: &'a str,
    credentials: Option<&'a Path>,
    /// `None` without a `tls` block.
    tls_timeout: Option<Duration>,
}

impl<'a> RemoteReload<'a> {
    fn of(remote: &'a RemoteLeafOptions) -> Self {
        RemoteReload {
            urls: &remote.urls,
            no_randomize: remote.no_randomize,
            account: remote.account.as_deref().unwrap_or("$G"),
            credentials: remote.credentials.as_deref(),
            tls_timeout: remote.tls_timeout(),
        }
    }
}

/// A password, compared but not shown (empty: none).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Secret<'a>(&'a str);

impl Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[REDACTED]"
        })
    }
}

fn display_path(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloadable_changes_are_listed() {
        let old = Options::default();
        let mut new = old.clone();
        new.log.debug = true;
        new.max_payload = 512;
        new.ping_interval = Duration::from_secs(30);
        assert_eq!(
            reload_changes(&old, &new).unwrap(),
            [
                "Reloaded: debug = true",
                "Reloaded: max_payload = 512",
                "Reloaded: ping_interval = 30s"
            ]
        );
        assert!(reload_changes(&old, &old).unwrap().is_empty());
    }

    #[test]
    fn fixed_settings_are_refused_in_the_reference_words() {
        let old = Options {
            host: "127.0.0.1".into(),
            ..Options::default()
        };
        let new = Options {
            host: "0.0.0.0".into(),
            ..old.clone()
        };
        assert_eq!(
            reload_changes(&old, &new),
            Err("config reload not supported for Host: old=127.0.0.1, new=0.0.0.0".into())
        );
        let new = Options {
            port: 4333,
            ..old.clone()
        };
        assert_eq!(
            reload_changes(&old, &new),
            Err("config reload not supported for Port: old=4222, new=4333".into())
        );
        let new = Options {
            port: RANDOM_PORT,
            ..old.clone()
        };
        assert!(reload_changes(&old, &new).is_ok());
        let new = Options {
            tls: Some(crate::options::TlsOptions {
                verify: true,
                verify_and_map: true,
                ..Default::default()
            }),
            ..old.clone()
        };
        assert_eq!(
            reload_changes(&old, &new),
            Err("config reload not supported for TLSMap: old=false, new=true".into())
        );
    }

    /// The options of a configuration file's text.
    fn options_of(text: &str) -> Options {
        let mut files = crate::conf::MemoryFiles::new();
        files.insert("t.conf", text);
        let mut opts = Options::default();
        let report = crate::config::apply_file_from(Path::new("t.conf"), &files, &mut opts);
        assert!(report.errors.is_empty(), "{text:?}: {report:?}");
        opts
    }

    #[test]
    fn leafnodes_reload_only_their_tls() {
        const TLS: &str = "tls { cert_file: c.pem, key_file: k.pem }";
        const TLS_VERIFY: &str = "tls { cert_file: c.pem, key_file: k.pem, verify: true }";
        const TLS_MAP: &str = "tls { cert_file: c.pem, key_file: k.pem, verify_and_map: true }";
        const REMOTE: &str = "{url: \"nats://h:1\"}";
        const REMOTE_TLS: &str = "{url: \"nats://h:1\", tls { ca_file: ca.pem }}";
        const REMOTE_INSECURE: &str =
            "{url: \"nats://h:1\", tls { ca_file: ca.pem, insecure: true }}";
        let hub = |inside: &str| format!("leafnodes {{ port: 7422, {inside} }}");
        let leaf = |remotes: &[&str]| format!("leafnodes {{ remotes: [{}] }}", remotes.join(", "));
        // (old, new, accepted), ✓run with nats-server 2.9.10 and SIGHUP.
        let cases = [
            (String::new(), "leafnodes {}".to_string(), true),
            (
                String::new(),
                "leafnodes { reconnect: 1 }".to_string(),
                true,
            ),
            (String::new(), hub(""), false),
            (hub(""), String::new(), false),
            (hub(""), "leafnodes { port: -1 }".to_string(), true),
            (hub(""), hub("host: 0.0.0.0"), true),
            (hub(""), hub("authorization { timeout: 2 }"), true),
            (hub(""), hub("reconnect: 2"), false),
            (hub(TLS), hub(TLS_VERIFY), true),
            (hub(TLS), hub(TLS_MAP), false),
            (
                hub(TLS),
                hub("tls { cert_file: c.pem, key_file: k.pem, timeout: 5 }"),
                false,
            ),
            // With TLS the default authorization timeout is one second longer.
            (hub(""), hub(TLS), false),
            (
                hub(&format!("authorization {{ timeout: 3 }}, {TLS}")),
                hub("authorization { timeout: 3 }"),
                true,
            ),
            (
                hub("authorization { user: a, password: b }"),
                hub("authorization { user: a, password: c }"),
                false,
            ),
            (
                hub("authorization { users: [{user: a, password: b}, {user: c, password: d}] }"),
                hub("authorization { users: [{user: c, password: d}, {user: a, password: b}] }"),
                true,
            ),
            (
                hub("authorization { users: [{user: a, password: b}] }"),
                hub("authorization { users: [{user: a, password: c}] }"),
                false,
            ),
            (leaf(&[REMOTE]), leaf(&[REMOTE_TLS]), false),
            (leaf(&[REMOTE_TLS]), leaf(&[REMOTE_INSECURE]), true),
            (
                leaf(&["{url: \"nats://h:1\", tls { ca_file: ca.pem, timeout: 3 }}"]),
                leaf(&["{url: \"nats://h:1\", tls { ca_file: ca.pem, timeout: 4 }}"]),
                false,
            ),
            (
                leaf(&[REMOTE, "{url: \"nats://h:2\"}"]),
                leaf(&["{url: \"nats://h:2\"}", REMOTE]),
                true,
            ),
            (
                leaf(&["{url: \"nats://h:1\", deny_imports: a}"]),
                leaf(&["{url: \"nats://h:1\", deny_imports: b}"]),
                true,
            ),
            (
                leaf(&[REMOTE]),
                leaf(&["{url: \"nats://h:1\", account: \"$G\"}"]),
                true,
            ),
            (leaf(&[REMOTE]), leaf(&["{url: \"nats://h:3\"}"]), false),
            (leaf(&[REMOTE]), leaf(&[REMOTE, REMOTE]), false),
        ];
        for (old, new, accepted) in cases {
            let result = reload_changes(&options_of(&old), &options_of(&new));
            assert_eq!(result.is_ok(), accepted, "{old:?} -> {new:?}: {result:?}");
            if let Err(refusal) = result {
                assert!(
                    refusal.starts_with("config reload not supported for LeafNode: old="),
                    "{refusal}"
                );
            }
        }
    }

    #[test]
    fn leafnode_refusal_dumps_hide_passwords() {
        let old = options_of("leafnodes { port: 7422, authorization { user: a, password: b } }");
        let new = options_of("leafnodes { port: 7422, authorization { user: a, password: c } }");
        let refusal = reload_changes(&old, &new).unwrap_err();
        let dump = r#"LeafnodeReload { host: "0.0.0.0", port: 7422, username: Some("a"), password: [REDACTED], account: None, users: [], auth_timeout: 2s, tls_timeout: 2s, tls_map: false, pinned_certs: None, advertise: None, no_advertise: false, reconnect: 1s, min_version: None, remotes: [] }"#;
        assert_eq!(
            refusal,
            format!("config reload not supported for LeafNode: old={dump}, new={dump}")
        );
    }
}
