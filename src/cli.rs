//! The command line: argv → [`Command`], with nats-server 2.9's flags and Go `flag` syntax.
//!
//! nats-server parses its arguments with Go's `flag` package, whose grammar is not the one
//! pico-args implements: every name may take one or two dashes, values come as `-name value` or
//! `-name=value`, a bool flag never takes the next argument but accepts `-name=false`, parsing
//! stops at the first non-flag argument or `--`, integers use Go's `ParseInt(s, 0, 64)` syntax,
//! and the first problem met left to right is reported in Go's words. pico-args looks flags up
//! by key anywhere in the list and reports errors in its own words, so natsd puts a small
//! normaliser in front of it: `normalise` walks argv with Go's rules, checks every value with
//! the same Go-syntax parsers, and turns the flags into a canonical list `--key value …` (one
//! key per flag, aliases resolved, bools given an explicit value); pico-args then extracts the
//! typed values from that list, pair by pair in argv order, so a repeated flag's last value wins
//! as in Go. One table (`FLAGS`) drives both steps.
//!
//! Flags of features natsd does not have yet are parsed with their real type (so their syntax
//! errors are Go's), then refused with `natsd: flag --user is not supported yet` rather than
//! ignored.
//!
//! A server command line becomes an [`Invocation`]: the flags are kept and applied on top of
//! the configuration file's options, at start and again on every reload, so flags always win
//! (nats-server's `FlagSnapshot`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::gofmt;
use crate::gostrconv::{parse_bool, parse_int, parse_uint, ParseError};
use crate::options::{Options, TlsOptions, DEFAULT_HOST, TLS_CIPHER_SUITES, TLS_CURVES};
use Value::{Bool, Int, Str, Uint};

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Run a server (or, with `-t`, check its configuration).
    Run(Invocation),
    /// Print this text to stdout as is (it ends with a newline) and exit 0: help, version,
    /// `--help_tls`.
    Print(String),
    /// `-sl <command>[=<pid or pid file>]`: signal a running server and exit.
    Signal(String),
}

/// A server command line: the configuration file to read, and the flags that override it.
#[derive(Debug, Clone)]
pub struct Invocation {
    flags: Normalised,
    /// `-c`: the configuration file.
    pub config_file: Option<PathBuf>,
    /// `-t`: check the configuration and exit.
    pub check_config: bool,
}

impl Invocation {
    /// The options to run with: `base` (the defaults, or what the configuration file set)
    /// with the command-line flags applied on top.
    pub fn options(&self, base: Options) -> Result<Options, String> {
        self.flags
            .extract(base)
            .map_err(|e| e.to_string())?
            .into_options()
    }
}

/// A command line that cannot run: print `stderr` (if non-empty) to stderr, `stdout` (if
/// non-empty) to stdout, and exit with `code`. Both texts are complete and end with a newline,
/// so print them as is (`eprint!`/`print!`).
///
/// Flag syntax errors exit 0 with the usage on stdout, as nats-server does; everything else
/// exits 1 with a `natsd: ` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Text for stderr.
    pub stderr: String,
    /// Text for stdout.
    pub stdout: String,
    /// Process exit status.
    pub code: i32,
}

impl CliError {
    /// A flag syntax error: Go's message, then the usage, exit 0 (nats-server's usage function
    /// exits 0 before the `flag` package can exit 2).
    fn syntax(message: String) -> Self {
        CliError {
            stderr: message + "\n",
            stdout: usage(),
            code: 0,
        }
    }

    /// A fatal error natsd reports itself: `natsd: <message>`, exit 1.
    fn fatal(message: impl fmt::Display) -> Self {
        CliError {
            stderr: format!("natsd: {message}\n"),
            stdout: String::new(),
            code: 1,
        }
    }
}

/// Parses the arguments after argv\[0\].
///
/// Order as nats-server's `ConfigureOptions`: flag syntax errors; then `-v`, `-h`, `--help_tls`
/// (in that order of precedence); then the first positional argument (`version`, `help`, or an
/// error); then flags that are not supported yet; then `-sl`, which never reads the
/// configuration. Options are checked ([`Options::validate`]) once the file is applied.
pub fn parse(args: &[String]) -> Result<Command, CliError> {
    let normalised = normalise(args)?;
    let settings = normalised
        .extract(Options::default())
        .map_err(CliError::fatal)?;
    if settings.version {
        return Ok(Command::Print(version()));
    }
    if settings.help {
        return Ok(Command::Print(usage()));
    }
    if settings.help_tls {
        return Ok(Command::Print(tls_help()));
    }
    if let Some(arg) = &normalised.positional {
        return match arg.to_lowercase().as_str() {
            "version" => Ok(Command::Print(version())),
            "help" => Ok(Command::Print(usage())),
            _ => Err(CliError::fatal(format_args!(
                "unrecognized command: {}",
                gofmt::quote_str(arg)
            ))),
        };
    }
    if let Some(given) = normalised.given.iter().find(|g| !g.flag.supported()) {
        return Err(CliError::fatal(format_args!(
            "flag {} is not supported yet",
            given.spelled
        )));
    }
    if settings.jetstream {
        return Err(CliError::fatal("natsd does not support JetStream (-js)"));
    }
    if let Some(signal) = settings.signal {
        return Ok(Command::Signal(signal));
    }
    Ok(Command::Run(Invocation {
        config_file: settings.config_file,
        check_config: settings.check_config,
        flags: normalised,
    }))
}

/// The `--help` text: nats-server 2.9.10's usage with `natsd` in the Usage line and the
/// natsd-only `--reactors` and `--max_pending_total` flags, framed as nats-server prints it (`"\n" + body + "\n\n"`).
pub fn usage() -> String {
    USAGE.to_string()
}

/// The `-v` text.
fn version() -> String {
    format!(
        "natsd v{} (nats-server 2.9.10 compatible)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `--help_tls` text: nats-server's, with the cipher suite and curve names it accepts.
fn tls_help() -> String {
    let mut text = TLS_HELP.to_string();
    for name in TLS_CIPHER_SUITES {
        text.push_str("    ");
        text.push_str(name);
        text.push('\n');
    }
    text.push_str("\nAvailable curve preferences include:\n");
    for name in TLS_CURVES {
        text.push_str("    ");
        text.push_str(name);
        text.push('\n');
    }
    text
}

/// One command-line flag.
#[derive(Debug)]
struct Flag {
    /// Canonical name with two dashes: the flag's key in the normalised list. The name without
    /// the dashes is accepted on the command line too.
    key: &'static str,
    /// Other names bound to the same setting.
    aliases: &'static [&'static str],
    /// Value type and where the value goes.
    value: Value,
}

/// Setter of a flag's value; `None` for a flag of a feature natsd does not have yet.
type Set<T> = Option<fn(&mut Settings, T)>;

/// A flag's value type, as Go's `flag` package parses it, and its setter.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// `flag.BoolVar`: `-name` alone means true; `-name=value` with `strconv.ParseBool` syntax.
    Bool(Set<bool>),
    /// `flag.IntVar`/`Int64Var`: `strconv.ParseInt(s, 0, 64)`.
    Int(Set<i64>),
    /// As `flag.UintVar` (`strconv.ParseUint(s, 0, 64)`), for natsd's own counts.
    Uint(Set<u64>),
    /// `flag.StringVar`.
    Str(Set<String>),
}

impl Flag {
    /// Whether the command line may call this flag `name` (given without dashes).
    fn is_named(&self, name: &str) -> bool {
        &self.key[2..] == name || self.aliases.contains(&name)
    }

    /// Whether natsd implements what this flag asks for.
    fn supported(&self) -> bool {
        match self.value {
            Bool(set) => set.is_some(),
            Int(set) => set.is_some(),
            Uint(set) => set.is_some(),
            Str(set) => set.is_some(),
        }
    }

    /// Checks a value's syntax the way the flag's Go type would.
    fn check(&self, text: &str) -> Result<(), ParseError> {
        match self.value {
            Bool(_) => parse_bool(text).map(drop),
            Int(_) => parse_int(text).map(drop),
            Uint(_) => parse_uint(text).map(drop),
            Str(_) => Ok(()),
        }
    }

    /// Takes this flag's next `key value` pair out of `args` and applies the typed value.
    fn extract(
        &self,
        args: &mut pico_args::Arguments,
        settings: &mut Settings,
    ) -> Result<(), pico_args::Error> {
        fn apply<T>(set: Set<T>, settings: &mut Settings, value: T) {
            if let Some(set) = set {
                set(settings, value);
            }
        }
        match self.value {
            Bool(set) => apply(set, settings, args.value_from_fn(self.key, parse_bool)?),
            Int(set) => apply(set, settings, args.value_from_fn(self.key, parse_int)?),
            Uint(set) => apply(set, settings, args.value_from_fn(self.key, parse_uint)?),
            Str(set) => apply(set, settings, args.value_from_str(self.key)?),
        }
        Ok(())
    }
}

/// Shorthand for a [`Flag`] in [`FLAGS`].
const fn flag(key: &'static str, aliases: &'static [&'static str], value: Value) -> Flag {
    Flag {
        key,
        aliases,
        value,
    }
}

/// Every flag natsd accepts: nats-server 2.9.10's (`ConfigureOptions`), `--reactors` and
/// `--max_pending_total`.
#[rustfmt::skip]
static FLAGS: &[Flag] = &[
    // Common options.
    flag("--help",               &["h"],         Bool(Some(|s, on| s.help = on))),
    flag("--version",            &["v"],         Bool(Some(|s, on| s.version = on))),
    flag("--help_tls",           &[],            Bool(Some(|s, on| s.help_tls = on))),
    // Server options.
    flag("--addr",               &["a", "net"],  Str(Some(|s, v| s.opts.host = v))),
    flag("--port",               &["p"],         Int(Some(|s, v| s.port = Some(v)))),
    flag("--server_name",        &["n", "name"], Str(Some(|s, v| s.opts.server_name = non_empty(v)))),
    flag("--client_advertise",   &[],            Str(Some(|s, v| s.opts.client_advertise = non_empty(v)))),
    flag("--pid",                &["P"],         Str(Some(|s, v| s.opts.pid_file = path(v)))),
    flag("--ports_file_dir",     &[],            Str(Some(|s, v| s.opts.ports_file_dir = path(v)))),
    flag("--reactors",           &[],            Uint(Some(|s, v| s.opts.reactors = v.try_into().unwrap_or(usize::MAX)))),
    flag("--max_pending_total",  &[],            Uint(Some(|s, v| s.opts.max_pending_total = v.try_into().unwrap_or(usize::MAX)))),
    // Logging options.
    flag("--log",                &["l"],         Str(Some(|s, v| s.opts.log.file = path(v)))),
    flag("--logtime",            &["T"],         Bool(Some(|s, on| s.opts.log.logtime = on))),
    flag("--syslog",             &["s"],         Bool(Some(|s, on| s.opts.log.syslog = on))),
    flag("--remote_syslog",      &["r"],         Str(Some(|s, v| s.opts.log.remote_syslog = non_empty(v)))),
    flag("--debug",              &["D"],         Bool(Some(|s, on| s.opts.log.debug = on))),
    flag("--trace",              &["V"],         Bool(Some(|s, on| s.opts.log.trace = on))),
    flag("--VV",                 &[],            Bool(Some(|s, on| s.trace_verbose = Some(on)))),
    flag("--DV",                 &[],            Bool(Some(|s, on| s.debug_trace = Some(on)))),
    flag("--DVV",                &[],            Bool(Some(|s, on| s.debug_trace_verbose = Some(on)))),
    // Negative means unlimited, like 0: Go truncates traced payloads only when it is positive.
    flag("--max_traced_msg_len", &[],            Int(Some(|s, v| s.opts.log.max_traced_msg_len = v.try_into().unwrap_or(0)))),
    // Not supported yet: profiling.
    flag("--config",             &["c"],         Str(Some(|s, v| s.config_file = path(v)))),
    flag("--t",                  &[],            Bool(Some(|s, on| s.check_config = on))),
    flag("--signal",             &["sl"],        Str(Some(|s, v| s.signal = non_empty(v)))),
    flag("--log_size_limit",     &[],            Int(Some(|s, v| s.opts.log.size_limit = v.max(0) as u64))),
    flag("--http_port",          &["m"],         Int(Some(|s, v| s.opts.http_port = v))),
    flag("--https_port",         &["ms"],        Int(Some(|s, v| s.opts.https_port = v))),
    flag("--user",               &[],            Str(Some(|s, v| s.opts.auth.user = non_empty(v)))),
    flag("--pass",               &[],            Str(Some(|s, v| s.opts.auth.password = non_empty(v)))),
    flag("--auth",               &[],            Str(Some(|s, v| s.opts.auth.token = non_empty(v)))),
    flag("--tls",                &[],            Bool(Some(|s, on| s.tls.enabled = Some(on)))),
    flag("--tlscert",            &[],            Str(Some(|s, v| s.tls.cert = path(v)))),
    flag("--tlskey",             &[],            Str(Some(|s, v| s.tls.key = path(v)))),
    flag("--tlsverify",          &[],            Bool(Some(|s, on| s.tls.verify = Some(on)))),
    flag("--tlscacert",          &[],            Str(Some(|s, v| s.tls.ca = path(v)))),
    flag("--routes",             &[],            Str(Some(|s, v| s.routes = Some(v.to_string())))),
    flag("--cluster",            &["cluster_listen"], Str(Some(|s, v| s.cluster_listen = Some(v.to_string())))),
    flag("--cluster_name",       &[],            Str(Some(|s, v| s.opts.cluster.name = non_empty(v)))),
    flag("--no_advertise",       &[],            Bool(Some(|s, on| s.opts.cluster.no_advertise = on))),
    flag("--cluster_advertise",  &[],            Str(Some(|s, v| s.opts.cluster.advertise = non_empty(v)))),
    flag("--connect_retries",    &[],            Int(Some(|s, v| s.opts.cluster.connect_retries = v))),
    flag("--profile",            &[],            Int(None)),
    // JetStream is not part of natsd: `-js` is refused; a store dir alone does nothing, as
    // in the reference without `-js`.
    flag("--jetstream",          &["js"],        Bool(Some(|s, on| s.jetstream = on))),
    flag("--store_dir",          &["sd"],        Str(Some(|_, _| {}))),
];

/// An empty string flag means "not set", as in nats-server.
fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// A path flag: empty means "not set".
fn path(value: String) -> Option<PathBuf> {
    non_empty(value).map(PathBuf::from)
}

/// Flag values on their way into [`Options`].
#[derive(Default)]
struct Settings {
    /// Everything that maps directly.
    opts: Options,
    /// `-v`.
    version: bool,
    /// `-h`.
    help: bool,
    /// `--help_tls`.
    help_tls: bool,
    /// `-p` as given.
    port: Option<i64>,
    /// `-c`.
    config_file: Option<PathBuf>,
    /// `-t`.
    check_config: bool,
    /// `-sl`.
    signal: Option<String>,
    /// `-js`.
    jetstream: bool,
    /// `--tls*`.
    tls: TlsFlags,
    /// `-DV`.
    debug_trace: Option<bool>,
    /// `-DVV`.
    debug_trace_verbose: Option<bool>,
    /// `-VV`.
    trace_verbose: Option<bool>,
    /// `--cluster` as given.
    cluster_listen: Option<String>,
    /// `--routes` as given.
    routes: Option<String>,
}

impl Settings {
    /// Applies defaults for empty values, what depends on more than one flag, and the port.
    fn into_options(self) -> Result<Options, String> {
        let mut options = self.opts;
        if options.host.is_empty() {
            options.host = DEFAULT_HOST.to_string();
        }
        // After all other flags, in Go's order (`flag.Visit` sorts by name: DV, DVV, VV).
        let log = &mut options.log;
        if let Some(on) = self.debug_trace {
            (log.debug, log.trace) = (on, on);
        }
        if let Some(on) = self.debug_trace_verbose {
            (log.debug, log.trace, log.trace_verbose) = (on, on, on);
        }
        if let Some(on) = self.trace_verbose {
            (log.trace, log.trace_verbose) = (on, on);
        }
        if let Some(port) = self.port {
            options.port = port;
        }
        self.tls.apply(&mut options)?;
        let cluster = &mut options.cluster;
        if let Some(listen) = self.cluster_listen.filter(|l| !l.is_empty()) {
            override_cluster(cluster, &listen)?;
        }
        if let Some(routes) = self.routes {
            let given = !routes.is_empty();
            cluster.routes = routes
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect();
            if given && cluster.host.is_none() && cluster.port == 0 {
                return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
            }
        }
        Ok(options)
    }
}

/// `--cluster nats://[user:pass@]host:port` (`:-1` for a random port), as the reference's
/// `overrideCluster`: credentials in the URL replace the file's, no credentials clear them.
fn override_cluster(
    cluster: &mut crate::options::ClusterOptions,
    listen: &str,
) -> Result<(), String> {
    let (listen, random) = match listen.strip_suffix(":-1") {
        Some(base) => (format!("{base}:0"), true),
        None => (listen.to_string(), false),
    };
    let url = crate::route_url::RouteUrl::parse(&listen)?;
    if url.user.is_some() && url.pass.is_none() {
        return Err("expected cluster password to be set".into());
    }
    cluster.host = Some(url.host);
    cluster.port = if random { -1 } else { i64::from(url.port) };
    cluster.username = url.user;
    cluster.password = url.pass;
    Ok(())
}

/// The `--tls*` flags: with any of them (but `--tls=false`) TLS comes from the flags alone,
/// as in the reference; `--tls=false` drops the file's `tls {}`.
#[derive(Default)]
struct TlsFlags {
    enabled: Option<bool>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
    verify: Option<bool>,
}

impl TlsFlags {
    fn apply(self, options: &mut Options) -> Result<(), String> {
        if self.enabled == Some(false) {
            options.tls = None;
            return Ok(());
        }
        let given = self.enabled.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.ca.is_some()
            || self.verify.is_some();
        if !given {
            return Ok(());
        }
        if self.cert.is_none() {
            return Err("TLS Server certificate must be present and valid".into());
        }
        if self.key.is_none() {
            return Err("TLS Server private key must be present and valid".into());
        }
        options.tls = Some(TlsOptions {
            cert_file: self.cert,
            key_file: self.key,
            ca_file: self.ca,
            verify: self.verify.unwrap_or(false),
            ..TlsOptions::default()
        });
        Ok(())
    }
}

/// A command line after Go's `flag` rules, before typed extraction.
#[derive(Debug, Clone)]
struct Normalised {
    /// The flags, in argv order.
    given: Vec<Given>,
    /// The first argument after the flags (after `--` or the first non-flag).
    positional: Option<String>,
}

/// One flag occurrence on the command line.
#[derive(Debug, Clone)]
struct Given {
    /// The flag.
    flag: &'static Flag,
    /// Its name with dashes as the user wrote it (`-c`, `--config`), for messages.
    spelled: String,
    /// Its value (`true` for a bare bool flag), already checked.
    value: String,
}

/// Walks argv with Go's `flag` rules and checks every value; the first problem is reported in
/// Go's words.
fn normalise(args: &[String]) -> Result<Normalised, CliError> {
    let mut given = Vec::new();
    let mut rest = args;
    while let Some((arg, after)) = rest.split_first() {
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        rest = after;
        if arg == "--" {
            break;
        }
        let dashes = if arg.starts_with("--") { 2 } else { 1 };
        let body = &arg[dashes..];
        if body.is_empty() || body.starts_with(['-', '=']) {
            return Err(CliError::syntax(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(flag) = FLAGS.iter().find(|f| f.is_named(name)) else {
            return Err(CliError::syntax(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value = match (inline, &flag.value) {
            (Some(value), _) => value,
            (None, Bool(_)) => "true",
            (None, _) => {
                let Some((value, after)) = rest.split_first() else {
                    return Err(CliError::syntax(format!("flag needs an argument: -{name}")));
                };
                rest = after;
                value
            }
        };
        flag.check(value).map_err(|reason| {
            let value = gofmt::quote_str(value);
            CliError::syntax(match flag.value {
                Bool(_) => format!("invalid boolean value {value} for -{name}: {reason}"),
                _ => format!("invalid value {value} for flag -{name}: {reason}"),
            })
        })?;
        given.push(Given {
            flag,
            spelled: arg[..dashes + name.len()].to_string(),
            value: value.to_string(),
        });
    }
    Ok(Normalised {
        given,
        positional: rest.first().cloned(),
    })
}

impl Normalised {
    /// The canonical argument list: `--key value` for each flag, in argv order.
    fn canonical_args(&self) -> Vec<OsString> {
        self.given
            .iter()
            .flat_map(|g| [g.flag.key.into(), g.value.as_str().into()])
            .collect()
    }

    /// Extracts the typed values with pico-args onto `base`. Pairs are taken in argv order,
    /// so each lookup finds the pair at the front (a value can never be mistaken for a key)
    /// and a repeated flag's last value wins.
    fn extract(&self, base: Options) -> Result<Settings, pico_args::Error> {
        let mut args = pico_args::Arguments::from_vec(self.canonical_args());
        let mut settings = Settings {
            opts: base,
            ..Settings::default()
        };
        for given in &self.given {
            given.flag.extract(&mut args, &mut settings)?;
        }
        debug_assert!(args.finish().is_empty());
        Ok(settings)
    }
}

/// The `--help` text (starts and ends with an empty line, as nats-server prints it).
const USAGE: &str = "
Usage: natsd [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to nats-server process (ldm, stop, quit, term, reopen, reload)
                                     pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/nats-server.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).
        --reactors <n>               Number of reactor threads (default: 0 = auto)
        --max_pending_total <bytes>  Outbound bytes held for all connections (natsd only; 0 = no limit)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help

";

/// The `--help_tls` text before the cipher suite names.
const TLS_HELP: &str = r#"
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      "./certs/server-cert.pem"
        key_file:       "./certs/server-key.pem"
        ca_file:        "./certs/ca.pem"
        verify:         true
        verify_and_map: true

        cipher_suites: [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
        curve_preferences: [
            "CurveP256",
            "CurveP384",
            "CurveP521"
        ]
    }

Available cipher suites include:
"#;

#[cfg(test)]
mod tests {
    //! Cases marked "ref" were checked against nats-server v2.9.10 (same message, same exit
    //! status; natsd says `natsd` where it says `nats-server`).

    use super::*;
    use crate::options::LogOptions;

    fn parse_strs(list: &[&str]) -> Result<Command, CliError> {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn run(list: &[&str]) -> Options {
        match parse_strs(list) {
            Ok(Command::Run(invocation)) => invocation.options(Options::default()).unwrap(),
            other => panic!("{list:?}: expected Run, got {other:?}"),
        }
    }

    fn printed(list: &[&str]) -> String {
        match parse_strs(list) {
            Ok(Command::Print(text)) => text,
            other => panic!("{list:?}: expected Print, got {other:?}"),
        }
    }

    /// A Go `flag` error: message on stderr, usage on stdout, exit 0.
    fn assert_syntax_error(list: &[&str], message: &str) {
        let expected = CliError {
            stderr: format!("{message}\n"),
            stdout: usage(),
            code: 0,
        };
        assert_eq!(parse_strs(list).err(), Some(expected), "{list:?}");
    }

    /// A natsd error: `natsd: <message>` on stderr, nothing on stdout, exit 1.
    fn assert_fatal(list: &[&str], message: &str) {
        let expected = CliError {
            stderr: format!("natsd: {message}\n"),
            stdout: String::new(),
            code: 1,
        };
        assert_eq!(parse_strs(list).err(), Some(expected), "{list:?}");
    }

    fn canonical(list: &[&str]) -> Vec<String> {
        let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        let normalised = normalise(&args).unwrap_or_else(|e| panic!("{e:?}"));
        normalised
            .canonical_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn no_arguments_run_with_defaults() {
        assert_eq!(run(&[]), Options::default());
    }

    #[test]
    fn one_or_two_dashes_for_every_name() {
        for list in [
            &["-p", "5"][..],
            &["--p", "5"],
            &["-port", "5"],
            &["--port", "5"],
            &["--p=5"],
            &["-port=5"],
        ] {
            assert_eq!(run(list).port, 5, "{list:?}");
        }
        assert!(run(&["--D"]).log.debug);
        assert!(run(&["-debug"]).log.debug);
        assert!(run(&["--DV"]).log.trace);
        assert_eq!(run(&["-addr", "h1"]).host, "h1");
        assert_eq!(run(&["--net", "h2"]).host, "h2");
        assert_eq!(run(&["--a", "h3"]).host, "h3");
    }

    #[test]
    fn normaliser_resolves_aliases_and_bool_values() {
        assert_eq!(
            canonical(&["-p=5", "-D", "--net", "x", "-T=F", "-n", "-a"]),
            [
                "--port",
                "5",
                "--debug",
                "true",
                "--addr",
                "x",
                "--logtime",
                "F",
                "--server_name",
                "-a"
            ]
        );
    }

    #[test]
    fn value_after_equals_keeps_later_equals_and_may_be_empty() {
        let options = run(&["-n=a=b", "--addr=::1", "-l="]);
        assert_eq!(options.server_name.as_deref(), Some("a=b"));
        assert_eq!(options.host, "::1");
        assert_eq!(options.log.file, None);
    }

    #[test]
    fn value_flag_takes_next_argument_even_with_dash() {
        assert_eq!(run(&["-n", "-D"]).server_name.as_deref(), Some("-D"));
        assert!(!run(&["-n", "-D"]).log.debug);
        // ref: `-p -x` is a bad value for -p, not an unknown flag.
        assert_syntax_error(
            &["-p", "-x"],
            r#"invalid value "-x" for flag -p: parse error"#,
        );
    }

    #[test]
    fn bool_flag_values() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert!(run(&[&format!("-D={text}")]).log.debug, "{text}");
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert!(
                !run(&["-T", &format!("--logtime={text}")]).log.logtime,
                "{text}"
            );
        }
        assert!(run(&[]).log.logtime);
        assert!(!run(&["-T=false"]).log.logtime);
        assert!(run(&["-s"]).log.syslog);
        // ref
        assert_syntax_error(
            &["-D=maybe"],
            r#"invalid boolean value "maybe" for -D: parse error"#,
        );
        assert_syntax_error(
            &["-DV=yes"],
            r#"invalid boolean value "yes" for -DV: parse error"#,
        );
        assert_syntax_error(
            &["--syslog="],
            r#"invalid boolean value "" for -syslog: parse error"#,
        );
    }

    #[test]
    fn bool_flag_never_consumes_next_argument_ref() {
        assert_fatal(&["-D", "false"], r#"unrecognized command: "false""#);
        assert_fatal(&["-T", "0"], r#"unrecognized command: "0""#);
    }

    #[test]
    fn parsing_stops_at_first_positional_ref() {
        assert_fatal(&["foo", "-x"], r#"unrecognized command: "foo""#);
        assert_fatal(&["-D", "foo", "bar"], r#"unrecognized command: "foo""#);
        assert_fatal(&["FOO"], r#"unrecognized command: "FOO""#);
        assert_fatal(&["-"], r#"unrecognized command: "-""#);
        // Only the first positional is looked at.
        assert_eq!(printed(&["help", "bogus"]), usage());
    }

    #[test]
    fn double_dash_ends_flags_ref() {
        assert_fatal(&["--", "-x"], r#"unrecognized command: "-x""#);
        assert!(run(&["-D", "--"]).log.debug);
        assert_eq!(printed(&["--", "version"]), version());
    }

    #[test]
    fn positional_is_go_quoted_ref() {
        assert_fatal(&["fo\"o"], r#"unrecognized command: "fo\"o""#);
        assert_fatal(
            &["a\tb\x01é\u{a0}\\"],
            r#"unrecognized command: "a\tb\x01é\u00a0\\""#,
        );
    }

    #[test]
    fn unknown_flag_prints_usage_and_exits_0_ref() {
        assert_syntax_error(&["-x"], "flag provided but not defined: -x");
        assert_syntax_error(&["--x=1"], "flag provided but not defined: -x");
        // Names are case-sensitive.
        assert_syntax_error(&["-dv"], "flag provided but not defined: -dv");
        // The first problem from the left wins.
        assert_syntax_error(
            &["-p", "5", "-x", "-p", "abc"],
            "flag provided but not defined: -x",
        );
    }

    #[test]
    fn bad_flag_syntax_ref() {
        for arg in ["---x", "-=x", "--=x"] {
            assert_syntax_error(&[arg], &format!("bad flag syntax: {arg}"));
        }
    }

    #[test]
    fn bad_values_ref() {
        assert_syntax_error(
            &["-p", "abc"],
            r#"invalid value "abc" for flag -p: parse error"#,
        );
        assert_syntax_error(
            &["-p", "99999999999999999999"],
            r#"invalid value "99999999999999999999" for flag -p: value out of range"#,
        );
        for text in [" 5", "09", "0b12", "_1", "", "0x", "1__0", "1_", "-"] {
            let message = format!(
                "invalid value {} for flag -port: parse error",
                gofmt::quote_str(text)
            );
            assert_syntax_error(&[&format!("--port={text}")], &message);
        }
        // Unsupported flags keep Go's syntax errors.
        assert_syntax_error(
            &["-log_size_limit", "1x"],
            r#"invalid value "1x" for flag -log_size_limit: parse error"#,
        );
        assert_syntax_error(
            &["-m", "abc"],
            r#"invalid value "abc" for flag -m: parse error"#,
        );
        assert_syntax_error(
            &["-tls=maybe"],
            r#"invalid boolean value "maybe" for -tls: parse error"#,
        );
        // `--reactors` is unsigned.
        assert_syntax_error(
            &["--reactors", "-1"],
            r#"invalid value "-1" for flag -reactors: parse error"#,
        );
    }

    #[test]
    fn missing_value_ref() {
        assert_syntax_error(&["-p"], "flag needs an argument: -p");
        assert_syntax_error(&["-D", "--port"], "flag needs an argument: -port");
        assert_syntax_error(&["-c"], "flag needs an argument: -c");
    }

    #[test]
    fn repeated_flag_last_wins() {
        assert_eq!(run(&["-p", "1", "-p", "2"]).port, 2);
        assert_eq!(run(&["-a", "x", "--net", "y", "-addr=z"]).host, "z");
        assert!(!run(&["-D", "-debug=false"]).log.debug);
        assert_eq!(run(&["-a", "x", "-a", ""]).host, DEFAULT_HOST);
        // A value that looks like a key is still a value.
        let options = run(&["-n", "--port", "-p", "7", "-n", "--port"]);
        assert_eq!(options.server_name.as_deref(), Some("--port"));
        assert_eq!(options.port, 7);
    }

    #[test]
    fn go_int_syntax_ref() {
        for (text, port) in [
            ("0x10", 16),
            ("0X1f", 31),
            ("0o17", 15),
            ("010", 8),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1_0", 16),
            ("+5", 5),
        ] {
            assert_eq!(run(&["-p", text]).port, port, "{text}");
        }
    }

    #[test]
    fn port_values_pass_through_for_the_listener_to_judge() {
        for port in [-1, 0, 65535, 70000, -2] {
            assert_eq!(run(&["-p", &port.to_string()]).port, port);
        }
    }

    #[test]
    fn server_and_logging_flags_set_options() {
        let argv = "-a 127.0.0.1 -n srv --client_advertise h:1 -P /tmp/p --ports_file_dir /tmp/d \
                    -l /tmp/l -T=false -s -r udp://h:514 -D -V --max_traced_msg_len 10 --reactors 3";
        let options = run(&argv.split_whitespace().collect::<Vec<_>>());
        let expected = Options {
            host: "127.0.0.1".into(),
            server_name: Some("srv".into()),
            client_advertise: Some("h:1".into()),
            pid_file: Some("/tmp/p".into()),
            ports_file_dir: Some("/tmp/d".into()),
            log: LogOptions {
                file: Some("/tmp/l".into()),
                logtime: false,
                syslog: true,
                remote_syslog: Some("udp://h:514".into()),
                debug: true,
                trace: true,
                trace_verbose: false,
                max_traced_msg_len: 10,
                ..LogOptions::default()
            },
            reactors: 3,
            ..Options::default()
        };
        assert_eq!(options, expected);
        assert_eq!(run(&["--name", "a"]).server_name.as_deref(), Some("a"));
        assert_eq!(
            run(&["--server_name", "b"]).server_name.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn empty_strings_mean_unset() {
        assert_eq!(
            run(&["-a", "", "-n", "", "-P", "", "-l", "", "-r", ""]),
            Options::default()
        );
    }

    #[test]
    fn negative_max_traced_msg_len_is_unlimited() {
        assert_eq!(
            run(&["--max_traced_msg_len", "-5"]).log.max_traced_msg_len,
            0
        );
    }

    #[test]
    fn debug_trace_combinations() {
        let log = run(&["-DV"]).log;
        assert!(log.debug && log.trace && !log.trace_verbose);
        let log = run(&["-D", "-V", "-DV=false"]).log;
        assert!(!log.debug && !log.trace);
        // As in Go, -DV/-DVV/-VV apply after -D/-V whatever the order.
        let log = run(&["-DV", "-D=false"]).log;
        assert!(log.debug && log.trace);
        let log = run(&["-VV"]).log;
        assert!(!log.debug && log.trace && log.trace_verbose);
        let log = run(&["-DVV"]).log;
        assert!(log.debug && log.trace && log.trace_verbose);
        // Go's order: DV, then DVV, then VV.
        let log = run(&["-DVV", "-DV=false"]).log;
        assert!(log.debug && log.trace && log.trace_verbose);
        let log = run(&["-VV=false", "-DVV"]).log;
        assert!(log.debug && !log.trace && !log.trace_verbose);
    }

    #[test]
    fn flags_of_later_work_are_refused() {
        assert_fatal(
            &["--profile", "6060"],
            "flag --profile is not supported yet",
        );
        // The first one from the left is named.
        assert_fatal(
            &["-D", "--profile", "1", "--routes", "nats://h:1"],
            "flag --profile is not supported yet",
        );
    }

    #[test]
    fn cluster_flags_as_the_reference_reads_them() {
        let options_of = |list: &[&str]| match parse_strs(list) {
            Ok(Command::Run(invocation)) => invocation.options(Options::default()),
            other => panic!("{list:?}: expected Run, got {other:?}"),
        };
        let opts = options_of(&[
            "--cluster",
            "nats://ru:rp@127.0.0.1:-1",
            "--routes",
            "nats://a:1, nats://b:2",
            "--cluster_name",
            "c1",
            "--no_advertise",
            "--cluster_advertise",
            "h:9",
            "--connect_retries",
            "3",
        ])
        .unwrap();
        let c = &opts.cluster;
        assert_eq!((c.host.as_deref(), c.port), (Some("127.0.0.1"), -1));
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (Some("ru"), Some("rp"))
        );
        assert_eq!(c.routes, ["nats://a:1", "nats://b:2"]);
        assert_eq!((c.name.as_deref(), c.no_advertise), (Some("c1"), true));
        assert_eq!(
            (c.advertise.as_deref(), c.connect_retries),
            (Some("h:9"), 3)
        );
        assert_eq!(
            options_of(&["--routes", "nats://a:1"]),
            Err("solicited routes require cluster capabilities, e.g. --cluster".into())
        );
        assert_eq!(
            options_of(&["--cluster", "nats://ru@127.0.0.1:4248"]),
            Err("expected cluster password to be set".into())
        );
        let file = Options {
            cluster: crate::options::ClusterOptions {
                port: 6222,
                username: Some("old".into()),
                ..Default::default()
            },
            ..Options::default()
        };
        let Ok(Command::Run(invocation)) =
            parse_strs(&["--cluster", "nats://0.0.0.0:7000", "--routes", "nats://x:1"])
        else {
            panic!("expected Run");
        };
        let merged = invocation.options(file).unwrap();
        assert_eq!((merged.cluster.port, merged.cluster.username), (7000, None));
    }

    #[test]
    fn tls_flags_build_tls_alone() {
        let options_of = |list: &[&str]| match parse_strs(list) {
            Ok(Command::Run(invocation)) => invocation.options(Options::default()),
            other => panic!("{list:?}: expected Run, got {other:?}"),
        };
        assert_eq!(
            options_of(&["--tls"]).unwrap_err(),
            "TLS Server certificate must be present and valid"
        );
        assert_eq!(
            options_of(&["--tlscert", "c.pem"]).unwrap_err(),
            "TLS Server private key must be present and valid"
        );
        let tls = run(&["--tlscert", "c.pem", "--tlskey", "k.pem", "--tlsverify"])
            .tls
            .expect("TLS from the flags");
        assert_eq!(tls.cert_file, Some(PathBuf::from("c.pem")));
        assert!(tls.verify);
        let Ok(Command::Run(invocation)) = parse_strs(&["--tls=false"]) else {
            panic!("expected Run");
        };
        let file = Options {
            tls: Some(TlsOptions::default()),
            ..Options::default()
        };
        assert_eq!(invocation.options(file).unwrap().tls, None);
    }

    #[test]
    fn jetstream_is_refused_store_dir_alone_is_harmless() {
        for list in [&["-js"][..], &["--jetstream=true", "-sd", "/tmp"]] {
            assert_fatal(list, "natsd does not support JetStream (-js)");
        }
        assert_eq!(run(&["-js=false", "-sd", "/tmp"]), Options::default());
    }

    #[test]
    fn config_check_and_signal_flags() {
        let Ok(Command::Run(invocation)) = parse_strs(&["-c", "x.conf", "-t", "-D"]) else {
            panic!("expected Run");
        };
        assert_eq!(invocation.config_file, Some(PathBuf::from("x.conf")));
        assert!(invocation.check_config);
        assert!(invocation.options(Options::default()).unwrap().log.debug);
        let Ok(Command::Signal(request)) = parse_strs(&["--signal=reload=12", "-c", "x"]) else {
            panic!("expected Signal");
        };
        assert_eq!(request, "reload=12");
        assert_eq!(run(&["--log_size_limit", "1000"]).log.size_limit, 1000);
    }

    #[test]
    fn flags_override_the_file_options() {
        let Ok(Command::Run(invocation)) = parse_strs(&["-p", "14999", "-D=false", "-ms", "-1"])
        else {
            panic!("expected Run");
        };
        let mut file = Options {
            port: 4000,
            max_payload: 100,
            ..Options::default()
        };
        file.log.debug = true;
        let merged = invocation.options(file).unwrap();
        assert_eq!(
            (merged.port, merged.log.debug, merged.max_payload),
            (14999, false, 100)
        );
        assert_eq!((merged.http_port, merged.https_port), (0, -1));
    }

    #[test]
    fn version_and_help_positionals_case_insensitive_ref() {
        assert_eq!(printed(&["version"]), version());
        assert_eq!(printed(&["Version"]), version());
        assert_eq!(printed(&["help"]), usage());
        assert_eq!(printed(&["HELP"]), usage());
        assert_eq!(printed(&["-D", "help"]), usage());
    }

    #[test]
    fn precedence_version_help_help_tls_ref() {
        assert_eq!(printed(&["-v"]), version());
        assert_eq!(printed(&["--version"]), version());
        assert_eq!(printed(&["-h", "-v"]), version());
        assert_eq!(printed(&["--help_tls", "-v", "-h"]), version());
        assert_eq!(printed(&["-help"]), usage());
        assert_eq!(printed(&["--help_tls", "-h"]), usage());
        assert_eq!(printed(&["-help_tls"]), tls_help());
        assert_eq!(printed(&["--version=false", "-h"]), usage());
        // Flags win over positionals and over not-supported flags.
        assert_eq!(printed(&["-h", "version"]), usage());
        assert_eq!(printed(&["-v", "bogus"]), version());
        assert_eq!(printed(&["-c", "/nonexistent", "-v"]), version());
        // Flag errors come first.
        assert_syntax_error(
            &["-v", "-p", "abc"],
            r#"invalid value "abc" for flag -p: parse error"#,
        );
        assert_syntax_error(
            &["-help_tls=0", "-p", "abcd"],
            r#"invalid value "abcd" for flag -p: parse error"#,
        );
        // -h=false runs the server.
        assert_eq!(run(&["-h=false", "-help_tls=0"]), Options::default());
    }

    #[test]
    fn version_text() {
        assert_eq!(
            version(),
            format!(
                "natsd v{} (nats-server 2.9.10 compatible)\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn usage_text() {
        let text = usage();
        assert!(text.starts_with("\nUsage: natsd [options]\n\nServer Options:\n"));
        assert!(text.ends_with("\n        --help_tls                   TLS help\n\n"));
        assert!(text.contains(
            "\n        --reactors <n>               Number of reactor threads (default: 0 = auto)\n"
        ));
        assert!(text.lines().all(|line| !line.ends_with(' ')));
        // Every name in the table is documented.
        for flag in FLAGS {
            for name in std::iter::once(&flag.key[2..]).chain(flag.aliases.iter().copied()) {
                let documented = text.match_indices(name).any(|(at, _)| {
                    let before = &text[..at];
                    let after = text[at + name.len()..].chars().next();
                    before.ends_with('-')
                        && !matches!(after, Some(c) if c.is_alphanumeric() || c == '_')
                });
                assert!(documented, "-{name} not in --help");
            }
        }
    }

    #[test]
    fn tls_help_text() {
        let text = tls_help();
        assert!(text.starts_with("\nTLS configuration is specified in the tls section"));
        let ciphers = text
            .split("Available cipher suites include:\n")
            .nth(1)
            .unwrap()
            .split("\nAvailable curve preferences include:\n")
            .collect::<Vec<_>>();
        assert_eq!(ciphers[0].lines().count(), 24);
        assert!(ciphers[0].lines().all(|l| l.starts_with("    TLS_")));
        assert_eq!(
            ciphers[1],
            "    X25519\n    CurveP256\n    CurveP384\n    CurveP521\n"
        );
    }

    #[test]
    fn flag_names_are_unique() {
        let mut names: Vec<&str> = FLAGS
            .iter()
            .flat_map(|f| std::iter::once(&f.key[2..]).chain(f.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
