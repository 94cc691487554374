//! The configuration keys, value tree ([`crate::conf`]) → [`Options`]: nats-server 2.9's
//! option names, checks and messages.
//!
//! nats-server reads a file in "pedantic" mode (`ProcessConfigFile` → `processConfigFileLine`
//! in `server/opts.go`): every option name is matched case-insensitively, an unknown key is an
//! error unless the file used it as a `$variable`, a value of the wrong type is the Go panic
//! text `interface conversion: interface {} is string, not int64`, deprecated forms are
//! warnings. All warnings and errors of a file are collected and reported together,
//! warnings first; each is a complete line `file:line:col: message` located at the key
//! (a few of the reference's messages carry no position, and natsd keeps that).
//!
//! Where a wrong type makes the reference's Go code panic, the panic is recovered at the
//! function that parses the enclosing block, so the rest of that block is skipped: natsd
//! does the same (a type error ends the block it is in, or just the `tls` block, which the
//! reference reads in a function of its own; the top level goes on with the next key).
//! Unlike the reference, natsd does not add the nil-pointer panic line that follows a type
//! error inside `authorization`. The reference iterates Go maps, so its order between keys
//! is random; natsd reports in file order. Settings the reference takes "0 = default" for
//! get their default here; negative limits, which the reference accepts with odd effects,
//! mean the default (sizes), unlimited (`max_connections`, `max_subscriptions`) or nothing
//! (`ping_interval`, `write_deadline`: the default).
//!
//! Blocks of nats-server features natsd will never have (JetStream, gateways, MQTT,
//! websocket, operators and resolvers, OCSP) are errors `natsd does not support <key>`
//! (`jetstream: false` / `"disabled"` is accepted). `authorization`, `tls`, `cluster`,
//! `accounts`, `mappings` and `leafnodes` are read completely into their option types, with
//! every check that needs no file (certificates are loaded by the TLS setup);
//! [`Options::unsupported_yet`] tells the server which of them it cannot honour yet.

mod accounts;
mod auth;
mod cluster;
mod duration;
mod get;
mod leafnodes;
mod tls;
mod url;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use crate::conf::{self, ConfError, Entry, Kind, Map, Pos, Value};
use crate::gofmt;
use crate::options::{
    Options, DEFAULT_CONNECT_ERROR_REPORTS, DEFAULT_HOST, DEFAULT_MAX_CONTROL_LINE,
    DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING, DEFAULT_RECONNECT_ERROR_REPORTS,
};

pub use duration::parse_duration;

/// What loading a config file produced: warnings are printed (and make `-t` fail); errors
/// stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Complete lines, e.g. `t.conf:1:0: invalid use of field "ping_interval": ping_interval
    /// should be converted to a duration`.
    pub warnings: Vec<String>,
    /// Complete lines, e.g. `t.conf:4:1: unknown field "bogus"`, or the single language
    /// error (`Parse error on line 3: '...'`, `open t.conf: no such file or directory`).
    pub errors: Vec<String>,
    /// The file could not be read or parsed: `errors` holds that one message, which the
    /// reference prints on its own, without the newline that ends collected messages.
    pub parse_failed: bool,
}

impl Report {
    /// The reference's error text (what follows `nats-server: `, before the final newline
    /// the printer adds): the language error as is, or every warning then every error, each
    /// followed by a newline (so the output ends with an empty line).
    pub fn message(&self) -> String {
        if self.parse_failed {
            return self.errors.concat();
        }
        self.warnings
            .iter()
            .chain(&self.errors)
            .map(|line| format!("{line}\n"))
            .collect()
    }
}

/// Applies the file at `path` onto `opts` (which holds defaults; command-line flags are
/// applied by the caller afterwards).
///
/// Messages are complete lines in the reference's format (`file:line:col: unknown field
/// "x"`, `Parse error on line 3: '…'`, …), the file named as `path` is written. Sets
/// `opts.config_file`. When the report has errors, `opts` may be partly updated: discard it.
pub fn apply_file(path: &Path, opts: &mut Options) -> Report {
    apply_file_from(path, &conf::FileSystem, opts)
}

/// [`apply_file`] with the file and its includes read from `files` (the file system or
/// files in memory, see [`conf::Files`]).
pub fn apply_file_from(path: &Path, files: &dyn conf::Files, opts: &mut Options) -> Report {
    opts.config_file = Some(path.to_path_buf());
    match conf::parse_file_from(path, files) {
        Ok(map) => apply_map(&map, opts),
        Err(err) => Report {
            warnings: Vec::new(),
            errors: vec![err.to_string()],
            parse_failed: true,
        },
    }
}

/// Applies a parsed file's top-level keys.
fn apply_map(map: &Map, opts: &mut Options) -> Report {
    let mut out = Collector::default();
    // The reference reads the system account first, by the exact key names, and skips both
    // names (any case) in the main loop.
    if let Some(value) = map.get("system_account").or_else(|| map.get("system")) {
        match &value.kind {
            Kind::String(name) => opts.system_account = non_empty(name),
            _ => out.error(value.error("system account name must be a string")),
        }
    }
    for entry in map {
        if let Err(err) = apply_entry(&mut out, TOP_LEVEL, entry, opts) {
            out.error(err);
        }
    }
    accounts::check_auth_conflicts(&mut out, opts);
    out.report
}

/// Collects warnings and errors as the reference reports them, and what is checked once
/// all keys are read.
#[derive(Default)]
struct Collector {
    report: Report,
    /// The `users` keys of accounts that have users, in file order: they conflict with a
    /// single `authorization` user or token, which may come before or after `accounts`.
    account_users: Vec<Pos>,
}

impl Collector {
    /// Records an error.
    fn error(&mut self, err: ConfError) {
        self.report.errors.push(err.to_string());
    }

    /// Records the reference's pedantic warning `invalid use of field "<field>": <reason>`.
    fn warn(&mut self, at: &Value, field: &str, reason: &str) {
        self.report.warnings.push(format!(
            "{}: invalid use of field {}: {reason}",
            at.pos,
            gofmt::quote_str(field)
        ));
    }

    /// Records `unknown field "<key>"`, unless the file used the key as a variable.
    fn unknown(&mut self, entry: &Entry) {
        if !entry.used_as_variable {
            let message = format!("unknown field {}", gofmt::quote_str(&entry.key));
            self.error(entry.value.error(message));
        }
    }
}

/// Result of applying one key: `Err` is a wrong value type, which ends the enclosing block
/// (where the reference's Go code panics). Other problems are recorded in the
/// [`Collector`] and give `Ok`.
type Step = Result<(), ConfError>;

/// How a key's value is applied to a `T` (the options, or a block's option type).
enum Apply<T> {
    /// A boolean value.
    Bool(fn(&mut T, bool)),
    /// An integer value (size suffixes already applied).
    Int(fn(&mut T, i64)),
    /// A string value; an empty string means "not set" for optional settings.
    Str(fn(&mut T, &str)),
    /// Anything else: the function reads the entry itself.
    With(fn(&mut Collector, &Entry, &mut T) -> Step),
    /// A nats-server feature natsd does not implement: an error.
    Unsupported,
    /// Accepted and handled elsewhere.
    Skip,
}

/// Option names (lower case) and how their value is applied.
struct Key<T> {
    names: &'static [&'static str],
    apply: Apply<T>,
}

const fn key<T>(names: &'static [&'static str], apply: Apply<T>) -> Key<T> {
    Key { names, apply }
}

/// Applies one entry by the table, matching its key case-insensitively; an unknown key is
/// an error unless used as a variable.
fn apply_entry<T>(out: &mut Collector, table: &[Key<T>], entry: &Entry, target: &mut T) -> Step {
    let name = entry.key.to_lowercase();
    let Some(known) = table.iter().find(|k| k.names.contains(&name.as_str())) else {
        out.unknown(entry);
        return Ok(());
    };
    let value = &entry.value;
    match known.apply {
        Apply::Bool(set) => set(target, get::boolean(value)?),
        Apply::Int(set) => set(target, get::int(value)?),
        Apply::Str(set) => set(target, get::string(value)?),
        Apply::With(apply) => apply(out, entry, target)?,
        Apply::Unsupported => {
            out.error(value.error(format!("natsd does not support {}", entry.key)));
        }
        Apply::Skip => {}
    }
    Ok(())
}

/// The top-level keys (`processConfigFileLine`).
#[rustfmt::skip]
static TOP_LEVEL: &[Key<Options>] = &[
    key(&["listen"],                    Apply::With(listen)),
    key(&["port"],                      Apply::Int(|o, n| o.port = n)),
    key(&["host", "net"],               Apply::Str(|o, s| o.host = host_or_default(s))),
    key(&["server_name"],               Apply::Str(|o, s| o.server_name = non_empty(s))),
    key(&["client_advertise"],          Apply::Str(|o, s| o.client_advertise = non_empty(s))),
    key(&["debug"],                     Apply::Bool(|o, b| o.log.debug = b)),
    key(&["trace"],                     Apply::Bool(|o, b| o.log.trace = b)),
    key(&["trace_verbose"],             Apply::Bool(|o, b| (o.log.trace_verbose, o.log.trace) = (b, b))),
    key(&["logtime"],                   Apply::Bool(|o, b| o.log.logtime = b)),
    key(&["logfile", "log_file"],       Apply::Str(|o, s| o.log.file = non_empty(s).map(Into::into))),
    key(&["logfile_size_limit", "log_size_limit"],
                                        Apply::Int(|o, n| o.log.size_limit = u64::try_from(n).unwrap_or(0))),
    key(&["syslog"],                    Apply::Bool(|o, b| o.log.syslog = b)),
    key(&["remote_syslog"],             Apply::Str(|o, s| o.log.remote_syslog = non_empty(s))),
    key(&["max_traced_msg_len"],        Apply::Int(|o, n| o.log.max_traced_msg_len = usize::try_from(n).unwrap_or(0))),
    key(&["pidfile", "pid_file"],       Apply::Str(|o, s| o.pid_file = non_empty(s).map(Into::into))),
    key(&["ports_file_dir"],            Apply::Str(|o, s| o.ports_file_dir = non_empty(s).map(Into::into))),
    key(&["http"],                      Apply::With(|out, e, o| monitor_listen(out, e, o, false))),
    key(&["https"],                     Apply::With(|out, e, o| monitor_listen(out, e, o, true))),
    key(&["http_port", "monitor_port"], Apply::Int(|o, n| o.http_port = n)),
    key(&["https_port"],                Apply::Int(|o, n| o.https_port = n)),
    key(&["http_base_path"],            Apply::Str(|o, s| o.http_base_path = non_empty(s))),
    key(&["authorization"],             Apply::With(auth::apply_top_level)),
    key(&["no_auth_user"],              Apply::Str(|o, s| o.auth.no_auth_user = non_empty(s))),
    key(&["tls"],                       Apply::With(tls::apply_top_level)),
    key(&["allow_non_tls"],             Apply::Bool(|o, b| o.allow_non_tls = b)),
    key(&["cluster"],                   Apply::With(cluster::apply)),
    key(&["max_connections", "max_conn"],
                                        Apply::Int(|o, n| o.max_connections = max_connections(n))),
    key(&["max_control_line"],          Apply::With(|out, e, o| limit_31(out, e, &mut o.max_control_line, DEFAULT_MAX_CONTROL_LINE))),
    key(&["max_payload"],               Apply::With(|out, e, o| limit_31(out, e, &mut o.max_payload, DEFAULT_MAX_PAYLOAD))),
    key(&["max_pending"],               Apply::Int(|o, n| o.max_pending = size_or(n, DEFAULT_MAX_PENDING))),
    key(&["max_pending_total"],         Apply::Int(|o, n| o.max_pending_total = usize::try_from(n).unwrap_or(0))),
    key(&["max_subscriptions", "max_subs"],
                                        Apply::Int(|o, n| o.max_subscriptions = usize::try_from(n).unwrap_or(0))),
    key(&["max_sub_tokens", "max_subscription_tokens"],
                                        Apply::With(max_sub_tokens)),
    key(&["ping_interval"],             Apply::With(|out, e, o| duration_or_seconds(out, e, &mut o.ping_interval, 120))),
    key(&["ping_max"],                  Apply::Int(|o, n| o.ping_max = ping_max(n))),
    key(&["write_deadline"],            Apply::With(|out, e, o| duration_or_seconds(out, e, &mut o.write_deadline, 10))),
    key(&["lame_duck_duration"],        Apply::With(lame_duck_duration)),
    key(&["lame_duck_grace_period"],    Apply::With(lame_duck_grace_period)),
    key(&["prof_port"],                 Apply::Int(|o, n| o.prof_port = n)),
    key(&["connect_error_reports"],     Apply::Int(|o, n| o.connect_error_reports = nonzero_or(n, DEFAULT_CONNECT_ERROR_REPORTS))),
    key(&["reconnect_error_reports"],   Apply::Int(|o, n| o.reconnect_error_reports = nonzero_or(n, DEFAULT_RECONNECT_ERROR_REPORTS))),
    key(&["disable_sublist_cache", "no_sublist_cache"],
                                        Apply::Bool(|o, b| o.no_sublist_cache = b)),
    key(&["no_header_support"],         Apply::Bool(|o, b| o.headers = !b)),
    key(&["server_tags"],               Apply::With(server_tags)),
    key(&["system_account", "system"],  Apply::Skip),
    key(&["no_system_account", "no_system", "no_sys_acc"],
                                        Apply::Bool(|o, b| o.no_system_account = b)),
    key(&["jetstream"],                 Apply::With(jetstream)),
    key(&["accounts"],                  Apply::With(accounts::apply)),
    key(&["mappings", "maps"],          Apply::With(accounts::apply_mappings)),
    key(&["leafnodes", "leaf"],         Apply::With(leafnodes::apply)),
    key(&["store_dir", "storedir", "default_js_domain", "gateway",
          "mqtt", "websocket", "ws", "operator", "operators", "roots", "root",
          "root_operators", "root_operator", "resolver", "account_resolver",
          "accounts_resolver", "resolver_tls", "resolver_preload", "resolver_pinned_accounts",
          "trusted", "trusted_keys", "ocsp"],
                                        Apply::Unsupported),
];

/// An optional string setting: empty means "not set", as in the reference.
fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// A listen host: empty means the default host.
fn host_or_default(text: &str) -> String {
    if text.is_empty() { DEFAULT_HOST } else { text }.to_string()
}

/// The reference's `parseListen`: a port, or `host:port` (Go `net.SplitHostPort` and
/// `strconv.Atoi`). The port is returned as given.
fn parse_listen(value: &Value) -> Result<(String, i64), ConfError> {
    match &value.kind {
        Kind::Int(port) => Ok((String::new(), *port)),
        Kind::String(text) => {
            let (host, port) = crate::hostport::split_host_port(text).map_err(|_| {
                value.error(format!(
                    "could not parse address string {}",
                    gofmt::quote_str(text)
                ))
            })?;
            let port = port.parse().map_err(|_| {
                value.error(format!("could not parse port {}", gofmt::quote_str(port)))
            })?;
            Ok((host.to_string(), port))
        }
        other => Err(value.error(format!(
            "expected port or host:port, got {}",
            other.type_name()
        ))),
    }
}

/// `listen` of a block with a host and port of its own (`cluster`, `leafnodes`).
fn listen_to(
    out: &mut Collector,
    entry: &Entry,
    host: &mut Option<String>,
    port: &mut i64,
) -> Step {
    match parse_listen(&entry.value) {
        Ok((parsed_host, parsed_port)) => (*host, *port) = (non_empty(&parsed_host), parsed_port),
        Err(err) => out.error(err),
    }
    Ok(())
}

/// `listen`: client host and port.
fn listen(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    match parse_listen(&entry.value) {
        Ok((host, port)) => (opts.host, opts.port) = (host_or_default(&host), port),
        Err(err) => out.error(err),
    }
    Ok(())
}

/// `http` / `https`: monitoring host and port.
fn monitor_listen(out: &mut Collector, entry: &Entry, opts: &mut Options, https: bool) -> Step {
    match parse_listen(&entry.value) {
        Ok((host, port)) => {
            opts.http_host = non_empty(&host);
            *if https {
                &mut opts.https_port
            } else {
                &mut opts.http_port
            } = port;
        }
        Err(err) => out.error(err),
    }
    Ok(())
}

/// A count where 0 means the default.
fn nonzero_or(n: i64, default: i64) -> i64 {
    if n == 0 {
        default
    } else {
        n
    }
}

/// A byte or count limit: 0 (and, natsd's choice, a negative value, which the reference
/// accepts with odd effects) means the default.
fn size_or(n: i64, default: usize) -> usize {
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// `max_connections`: 0 means the default; negative means unlimited (the reference only
/// enforces a positive limit).
fn max_connections(n: i64) -> usize {
    match n {
        0 => crate::options::DEFAULT_MAX_CONNECTIONS,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

/// `ping_max`: 0 means the default (2); a negative value, which makes the reference close
/// a connection at its first ping, is 0 (no unanswered ping allowed).
fn ping_max(n: i64) -> u32 {
    match n {
        0 => 2,
        n => u32::try_from(n.max(0)).unwrap_or(u32::MAX),
    }
}

/// `max_control_line` / `max_payload`: at most 2³¹−1 (`<key> value is too big`, the key as
/// written).
fn limit_31(out: &mut Collector, entry: &Entry, target: &mut usize, default: usize) -> Step {
    let n = get::int(&entry.value)?;
    if n > i64::from(i32::MAX) {
        out.error(entry.value.error(format!("{} value is too big", entry.key)));
    } else {
        *target = size_or(n, default);
    }
    Ok(())
}

/// `max_sub_tokens`: 1 to 255.
fn max_sub_tokens(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let n = get::int(&entry.value)?;
    match u8::try_from(n) {
        Ok(0) | Err(_) => {
            let why = if n > 0 {
                "is too big"
            } else {
                "can not be negative"
            };
            out.error(entry.value.error(format!("{} value {why}", entry.key)));
        }
        Ok(tokens) => opts.max_sub_tokens = usize::from(tokens),
    }
    Ok(())
}

/// A positive Go duration in nanoseconds as a [`Duration`]; `None` for zero or negative.
fn positive(nanos: i64) -> Option<Duration> {
    u64::try_from(nanos)
        .ok()
        .filter(|&n| n > 0)
        .map(Duration::from_nanos)
}

/// `ping_interval` / `write_deadline` (the reference's `parseDuration`): a duration string,
/// or (deprecated, with a warning) an integer number of seconds. Zero (and, natsd's choice,
/// a negative duration) means the default.
fn duration_or_seconds(
    out: &mut Collector,
    entry: &Entry,
    target: &mut Duration,
    default_secs: u64,
) -> Step {
    let value = &entry.value;
    let field = entry.key.to_lowercase();
    let nanos = match &value.kind {
        Kind::String(text) => match parse_duration(text) {
            Ok(nanos) => nanos,
            Err(err) => {
                out.error(value.error(format!("error parsing {field}: {err}")));
                return Ok(());
            }
        },
        _ => {
            out.warn(
                value,
                &field,
                &format!("{field} should be converted to a duration"),
            );
            get::int(value)?.saturating_mul(1_000_000_000)
        }
    };
    *target = positive(nanos).unwrap_or(Duration::from_secs(default_secs));
    Ok(())
}

/// `lame_duck_duration`: a duration string of at least 30s.
fn lame_duck_duration(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let value = &entry.value;
    match parse_duration(get::string(value)?) {
        Err(err) => out.error(value.error(format!("error parsing lame_duck_duration: {err}"))),
        Ok(nanos) if nanos < 30_000_000_000 => out.error(value.error(format!(
            "invalid lame_duck_duration of {}, minimum is 30 seconds",
            gofmt::duration_nanos(nanos)
        ))),
        Ok(nanos) => opts.lame_duck_duration = positive(nanos).unwrap_or_default(),
    }
    Ok(())
}

/// `lame_duck_grace_period`: a duration string, not negative; zero means the default.
fn lame_duck_grace_period(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let value = &entry.value;
    match parse_duration(get::string(value)?) {
        Err(err) => out.error(value.error(format!("error parsing lame_duck_grace_period: {err}"))),
        Ok(nanos) if nanos < 0 => {
            out.error(value.error("invalid lame_duck_grace_period, needs to be positive"));
        }
        Ok(nanos) => {
            opts.lame_duck_grace_period = positive(nanos).unwrap_or(Duration::from_secs(10));
        }
    }
    Ok(())
}

/// `server_tags`: a string or an array of strings; tags are lower-cased, empty and
/// duplicate tags dropped (jwt `TagList.Add`).
fn server_tags(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let value = &entry.value;
    let tags: Vec<&str> = match &value.kind {
        Kind::String(tag) => vec![tag],
        Kind::Array(items) => {
            let mut tags = Vec::with_capacity(items.len());
            for item in items {
                let Kind::String(tag) = &item.kind else {
                    // The reference prints the Go type of its token wrapper here.
                    out.error(value.error(
                        "error parsing tags: unsupported type *conf.token where string is expected",
                    ));
                    return Ok(());
                };
                tags.push(tag.as_str());
            }
            tags
        }
        other => {
            out.error(value.error(format!(
                "error parsing tags: unsupported type {}",
                other.type_name()
            )));
            return Ok(());
        }
    };
    for tag in tags {
        let tag = tag.to_lowercase();
        if !tag.is_empty() && !opts.server_tags.contains(&tag) {
            opts.server_tags.push(tag);
        }
    }
    Ok(())
}

/// `jetstream` (at the top level or in an account): natsd has none, but a file that turns
/// it off explicitly (`false`, `"disabled"`) asks for nothing natsd lacks.
fn jetstream<T>(out: &mut Collector, entry: &Entry, _: &mut T) -> Step {
    let disabled = match &entry.value.kind {
        Kind::Bool(on) => !on,
        Kind::String(text) => matches!(text.to_lowercase().as_str(), "disabled" | "disable"),
        _ => false,
    };
    if !disabled {
        out.error(
            entry
                .value
                .error(format!("natsd does not support {}", entry.key)),
        );
    }
    Ok(())
}
