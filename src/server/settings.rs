//! The settings in force — the options and the INFO template built from them — swapped
//! whole on reload, and the reload rules: which changes apply to a running server and which
//! the reference refuses.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::info::Info;
use crate::auth::Authenticator;
use crate::gofmt;
use crate::options::{ClusterOptions, Options, DEFAULT_HOST, RANDOM_PORT};

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
    refuse_cluster_changes(&old.cluster, &new.cluster)
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

fn display_path(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
