//! Every server setting in one place, with the nats-server 2.9 defaults.
//!
//! The command line (`cli`) and, later, the configuration file fill an [`Options`];
//! nothing below the server reads argv or files.

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
        }
    }
}

impl Options {
    /// Checks settings that cannot work together, in the reference's words.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_payload > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                crate::gofmt::duration(self.lame_duck_grace_period),
                crate::gofmt::duration(self.lame_duck_duration)
            ));
        }
        Ok(())
    }
}
