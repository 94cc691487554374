//! The server's logger, installed behind the `log` crate facade, producing the
//! same output as nats-server 2.9 (`logger/log.go`, `logger/syslog.go`, `server/log.go`).
//!
//! One sink is chosen at [`init`], in the reference's order: log file, else remote
//! syslog, else local syslog, else stderr. Stderr and file lines look like
//! `[<pid>] 2026/11/25 16:18:05.759853 [INF] message` (local time; the timestamp is
//! left out without `logtime`); labels are colored only when stderr is a terminal.
//! Syslog messages carry no label and no pid prefix; the level becomes the severity.
//!
//! `log::Level` maps to labels as Error → `[ERR]`, Warn → `[WRN]`, Info → `[INF]`,
//! Debug → `[DBG]`, Trace → `[TRC]`; [`fatal`] writes `[FTL]` and exits with status 1.
//! Debug and trace lines are written only while enabled ([`set_levels`]).
//!
//! Every line is written with a single write while the sink's mutex is held, so
//! lines from different threads never interleave.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::IntoRawFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

use crate::gofmt;
use crate::options::LogOptions;

/// The process-wide logger handed to the `log` facade.
static LOGGER: Logger = Logger::new();
/// Whether debug lines are written.
static DEBUG: AtomicBool = AtomicBool::new(false);
/// Whether trace lines are written.
static TRACE: AtomicBool = AtomicBool::new(false);

/// Local syslog sockets, tried in this order (Go `log/syslog` `unixSyslog`).
const LOCAL_SYSLOG_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
/// Syslog facility `kern`: what Go's `syslog.Dial(…, LOG_DEBUG, …)` ends up using.
const FACILITY_KERN: u8 = 0;
/// Syslog facility `daemon`, used for the local syslog.
const FACILITY_DAEMON: u8 = 3;
/// File mode of a newly created log file (before the umask).
const LOG_FILE_MODE: u32 = 0o660;
/// Month abbreviations of Go's `time.Stamp`.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// Installs the global logger for these options (sink chosen as the reference does:
/// file, else remote syslog, else local syslog, else stderr).
///
/// With a log file and `size_limit > 0`, the file is rotated whenever it passes the
/// limit (see [`FileSink`]); a file already larger than the limit is rotated at once
/// (`Rotating logfile...`).
///
/// Errors are the reference's message texts, e.g. `error invalid network type: "xyz"`,
/// `error connecting to syslog: "<err>"` or `error opening file: open <path>: <err>`.
/// May be called again to replace the sink (config reload, as `ConfigureLogger` is
/// re-run there): the file is reopened and the new options, `size_limit` included,
/// take effect.
pub fn init(opts: &LogOptions) -> Result<(), String> {
    let sink = Sink::open(opts)?;
    install_global()?;
    LOGGER.configure(sink, opts.logtime, opts.size_limit);
    set_levels(opts.debug, opts.trace);
    Ok(())
}

/// Switches debug and trace lines on or off at runtime (config reload).
pub fn set_levels(debug: bool, trace: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
    log::set_max_level(max_level(debug, trace));
}

/// SIGUSR1: reopens the log file and logs `File log re-opened` as the first line of
/// the new file, or logs `File log re-open ignored, not a file logger`.
///
/// Like the reference, a file that cannot be reopened is fatal: the error goes to
/// stderr and the process exits with status 1.
pub fn reopen() {
    if let Err(err) = LOGGER.reopen() {
        eprintln!("{err}");
        std::process::exit(1);
    }
}

/// Logs an `[FTL]` line (syslog severity `crit`) and exits the process with status 1.
pub fn fatal(args: fmt::Arguments) -> ! {
    LOGGER.emit(Label::Fatal, &args.to_string());
    std::process::exit(1)
}

/// Whether trace lines are written; a cheap check for skipping the building of trace
/// lines on the hot path.
pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Renders a message payload for `<<- MSG_PAYLOAD: [...]` trace lines like Go's `%q`.
///
/// When `max_len > 0` and the payload is longer, the reference (`client.traceMsg`)
/// quotes the first `max_len` bytes and keeps the first `max_len` bytes of that
/// escaped text, followed by `...`: `"hel..."`. Where that cut splits a UTF-8
/// character (Go writes the partial bytes), the partial character is dropped.
pub fn quote_payload(payload: &[u8], max_len: usize) -> String {
    if max_len == 0 || payload.len() <= max_len {
        return gofmt::quote(payload);
    }
    let quoted = gofmt::quote(&payload[..max_len]);
    let escaped = &quoted[1..];
    let cut = escaped.floor_char_boundary(max_len);
    format!("\"{}...\"", &escaped[..cut])
}

/// Installs [`LOGGER`] as the `log` facade's logger, once per process.
fn install_global() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| log::set_logger(&LOGGER).map_err(|err| err.to_string()))
        .clone()
}

/// The `log` filter level for these switches (trace without debug still passes debug
/// records through the facade; [`level_enabled`] drops them).
fn max_level(debug: bool, trace: bool) -> LevelFilter {
    if trace {
        LevelFilter::Trace
    } else if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    }
}

/// Whether lines of this level are currently written.
fn level_enabled(level: log::Level) -> bool {
    match level {
        log::Level::Error | log::Level::Warn | log::Level::Info => true,
        log::Level::Debug => DEBUG.load(Ordering::Relaxed),
        log::Level::Trace => TRACE.load(Ordering::Relaxed),
    }
}

/// The kind of a log line: its label and its syslog severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<log::Level> for Label {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Label::Error,
            log::Level::Warn => Label::Warn,
            log::Level::Info => Label::Info,
            log::Level::Debug => Label::Debug,
            log::Level::Trace => Label::Trace,
        }
    }
}

impl Label {
    /// The label with its trailing space, colored for terminals when `colors`.
    fn text(self, colors: bool) -> &'static str {
        if colors {
            self.colored()
        } else {
            self.plain()
        }
    }

    /// Plain label (file, redirected stderr).
    fn plain(self) -> &'static str {
        match self {
            Label::Fatal => "[FTL] ",
            Label::Error => "[ERR] ",
            Label::Warn => "[WRN] ",
            Label::Info => "[INF] ",
            Label::Debug => "[DBG] ",
            Label::Trace => "[TRC] ",
        }
    }

    /// ANSI-colored label (`setColoredLabelFormats`).
    fn colored(self) -> &'static str {
        match self {
            Label::Fatal => "[\x1b[31mFTL\x1b[0m] ",
            Label::Error => "[\x1b[31mERR\x1b[0m] ",
            Label::Warn => "[\x1b[0;93mWRN\x1b[0m] ",
            Label::Info => "[\x1b[32mINF\x1b[0m] ",
            Label::Debug => "[\x1b[36mDBG\x1b[0m] ",
            Label::Trace => "[\x1b[33mTRC\x1b[0m] ",
        }
    }

    /// Syslog severity; trace goes out as `notice` like in the reference.
    fn severity(self) -> u8 {
        match self {
            Label::Fatal => 2,
            Label::Error => 3,
            Label::Warn => 4,
            Label::Info | Label::Trace => 5,
            Label::Debug => 7,
        }
    }
}

/// A wall-clock instant broken down in the local time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LocalTime {
    year: i32,
    /// 1..=12.
    month: i32,
    day: i32,
    hour: i32,
    minute: i32,
    second: i32,
    /// 0..1_000_000_000.
    nanos: u32,
    /// Seconds east of UTC.
    utc_offset: libc::c_long,
}

impl LocalTime {
    /// The current local time.
    // The libc crate marks musl's `time_t` deprecated (it is to become 64-bit there);
    // converting with `try_from` stays right either way.
    #[allow(deprecated)]
    fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = libc::time_t::try_from(since_epoch.as_secs()).unwrap_or(libc::time_t::MAX);
        let tm = local_tm(secs);
        LocalTime {
            year: tm.tm_year + 1900,
            month: tm.tm_mon + 1,
            day: tm.tm_mday,
            hour: tm.tm_hour,
            minute: tm.tm_min,
            second: tm.tm_sec,
            nanos: since_epoch.subsec_nanos(),
            utc_offset: tm.tm_gmtoff,
        }
    }

    /// `YYYY/MM/DD hh:mm:ss.micro6`, the Go `log` flags `LstdFlags | Lmicroseconds`.
    fn log_stamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1000
        )
    }

    /// `.YYYY.MM.DD.hh.mm.ss.nano9`, the suffix of a rotated log file's backup name.
    fn backup_suffix(&self) -> String {
        format!(
            ".{:04}.{:02}.{:02}.{:02}.{:02}.{:02}.{:09}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanos
        )
    }

    /// `Mmm _d hh:mm:ss`, Go's `time.Stamp` (day padded with a space).
    fn syslog_stamp(&self) -> String {
        let month = usize::try_from(self.month - 1)
            .ok()
            .and_then(|index| MONTHS.get(index))
            .unwrap_or(&"???");
        format!(
            "{month} {:>2} {:02}:{:02}:{:02}",
            self.day, self.hour, self.minute, self.second
        )
    }

    /// `YYYY-MM-DDThh:mm:ss±hh:mm` (`Z` for UTC), Go's `time.RFC3339`.
    fn rfc3339(&self) -> String {
        let mut stamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.utc_offset == 0 {
            stamp.push('Z');
        } else {
            let sign = if self.utc_offset < 0 { '-' } else { '+' };
            let offset = self.utc_offset.abs();
            let _ = write!(
                stamp,
                "{sign}{:02}:{:02}",
                offset / 3600,
                offset % 3600 / 60
            );
        }
        stamp
    }
}

/// Breaks `secs` since the epoch down in the local time zone (all zero if the C
/// library cannot represent it).
#[allow(deprecated)] // musl's `time_t`, as in `LocalTime::now`.
fn local_tm(secs: libc::time_t) -> libc::tm {
    // SAFETY: `libc::tm` is a plain C struct for which all-zero bytes are a valid
    // value; `localtime_r` reads only `secs` and writes only into our own `tm`
    // (it leaves it untouched when it fails, which the zeroed value covers).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    }
}

/// This machine's host name (`localhost` if it cannot be read).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, the length we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&byte| byte == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One stderr/file line: `[<pid>] [<time> ]<label><message>\n`. Like Go's `log`
/// package, no newline is added to a message that already ends with one.
fn format_line(pid: u32, time: Option<&LocalTime>, label: &str, message: &str) -> String {
    let mut line = line_start(pid, time, label, message.len());
    line.push_str(message);
    line.push_str(newline_unless_present(message));
    line
}

/// A line the file rotator writes itself (Go `fileLogger.logDirect`): the same
/// prefix, but always terminated by `\r\n`.
fn format_direct_line(pid: u32, time: Option<&LocalTime>, label: &str, message: &str) -> String {
    let mut line = line_start(pid, time, label, message.len());
    line.push_str(message);
    line.push_str("\r\n");
    line
}

/// `[<pid>] [<time> ]<label>`, with room for the message that follows.
fn line_start(pid: u32, time: Option<&LocalTime>, label: &str, message_len: usize) -> String {
    let mut line = String::with_capacity(message_len + 48);
    let _ = write!(line, "[{pid}] ");
    if let Some(time) = time {
        line.push_str(&time.log_stamp());
        line.push(' ');
    }
    line.push_str(label);
    line
}

/// `"\n"`, or nothing if `message` already ends with a newline.
fn newline_unless_present(message: &str) -> &'static str {
    if message.ends_with('\n') {
        ""
    } else {
        "\n"
    }
}

/// A message in the local syslog form: `<PRI>Mmm _d hh:mm:ss TAG[PID]: MSG\n`.
fn syslog_local_message(pri: u8, time: &LocalTime, tag: &str, pid: u32, message: &str) -> String {
    let stamp = time.syslog_stamp();
    let newline = newline_unless_present(message);
    format!("<{pri}>{stamp} {tag}[{pid}]: {message}{newline}")
}

/// A message in the network syslog form: `<PRI>RFC3339 HOST TAG[PID]: MSG\n`.
fn syslog_remote_message(
    pri: u8,
    time: &LocalTime,
    host: &str,
    tag: &str,
    pid: u32,
    message: &str,
) -> String {
    let stamp = time.rfc3339();
    let newline = newline_unless_present(message);
    format!("<{pri}>{stamp} {host} {tag}[{pid}]: {message}{newline}")
}

/// The syslog tag for a program path: its last non-empty `/`-separated part.
fn syslog_tag(argv0: &str) -> &str {
    argv0
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(argv0)
}

/// The syslog tag of this process (basename of argv\[0\]).
fn process_tag() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    syslog_tag(&argv0.to_string_lossy()).to_string()
}

/// The process-wide logger state behind a mutex.
struct Logger {
    state: Mutex<State>,
}

/// The current sink and line options.
struct State {
    sink: Sink,
    logtime: bool,
}

/// Where lines go.
enum Sink {
    Stderr { colors: bool },
    File(FileSink),
    Syslog(SyslogSink),
}

impl Logger {
    /// A logger writing timestamped plain lines to stderr until configured.
    const fn new() -> Self {
        Logger {
            state: Mutex::new(State {
                sink: Sink::Stderr { colors: false },
                logtime: true,
            }),
        }
    }

    /// The state, even if a thread panicked while logging.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the sink (closing the previous one) and applies the log file size
    /// limit (0 = never rotate).
    ///
    /// Like the reference's `SetSizeLimit`, a file already larger than the limit gets
    /// a `Rotating logfile...` line, which rotates it at once: that line ends the
    /// backup and the new file starts with `Rotated log, backup saved as "<bak>"`.
    fn configure(&self, sink: Sink, logtime: bool, size_limit: u64) {
        let mut state = self.lock();
        *state = State { sink, logtime };
        if let Sink::File(file) = &mut state.sink {
            file.set_limit(size_limit);
        }
        state.rotate_if_oversized();
    }

    /// Writes one line, whatever the debug/trace switches.
    fn emit(&self, label: Label, message: &str) {
        self.lock().write(label, message);
    }

    /// Reopens a file sink and logs the outcome, both under one lock so the notice is
    /// the first line of the new file.
    ///
    /// As in the reference (a new file logger with the size limit set), a reopened
    /// file already larger than the limit is rotated first (`Rotating logfile...`).
    fn reopen(&self) -> Result<(), String> {
        let mut state = self.lock();
        let notice = match &mut state.sink {
            Sink::File(file) => {
                file.reopen()?;
                "File log re-opened"
            }
            Sink::Stderr { .. } | Sink::Syslog(_) => "File log re-open ignored, not a file logger",
        };
        state.rotate_if_oversized();
        state.write(Label::Info, notice);
        Ok(())
    }
}

impl Log for Logger {
    /// Only natsd's own records: dependencies (mio traces every registration) stay quiet.
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.target().starts_with("natsd") && level_enabled(metadata.level())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let label = Label::from(record.level());
        match record.args().as_str() {
            Some(message) => self.emit(label, message),
            None => self.emit(label, &record.args().to_string()),
        }
    }

    fn flush(&self) {}
}

impl State {
    /// Writes one line to the sink. As in the reference, a failed write is dropped.
    fn write(&mut self, label: Label, message: &str) {
        let now = LocalTime::now();
        let time = self.logtime.then_some(&now);
        let pid = std::process::id();
        match &mut self.sink {
            Sink::Stderr { colors } => {
                let line = format_line(pid, time, label.text(*colors), message);
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File(file) => {
                let line = format_line(pid, time, label.plain(), message);
                if let Err(err) = file.write(line.as_bytes(), self.logtime) {
                    // The reference panics here: message on stderr, exit status 2.
                    eprintln!("panic: {err}");
                    std::process::exit(2);
                }
            }
            Sink::Syslog(syslog) => syslog.write(label, message, &now),
        }
    }

    /// Logs `Rotating logfile...` when the file sink is already past its size limit;
    /// writing that line rotates the file.
    fn rotate_if_oversized(&mut self) {
        if matches!(&self.sink, Sink::File(file) if file.oversized()) {
            self.write(Label::Info, "Rotating logfile...");
        }
    }
}

impl Sink {
    /// Opens the sink the options select (`ConfigureLogger` order).
    fn open(opts: &LogOptions) -> Result<Sink, String> {
        let file = opts
            .file
            .as_ref()
            .filter(|path| !path.as_os_str().is_empty());
        let remote = opts.remote_syslog.as_ref().filter(|url| !url.is_empty());
        if let Some(path) = file {
            FileSink::open(path).map(Sink::File)
        } else if let Some(url) = remote {
            SyslogSink::open(parse_remote_url(url)?).map(Sink::Syslog)
        } else if opts.syslog {
            SyslogSink::open(SyslogTarget::Local).map(Sink::Syslog)
        } else {
            Ok(Sink::Stderr {
                colors: io::stderr().is_terminal(),
            })
        }
    }
}

/// An append-only log file that can be reopened under the same path and that
/// rotates itself past a size limit (Go `logger.fileLogger`).
///
/// Rotation: once a line takes the file past the limit (strictly greater), the file
/// is closed, renamed to `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` (local time of the
/// rotation, nanoseconds) and a new file is created at `path`, whose first line is
/// `[<pid>] [<time> ][INF] Rotated log, backup saved as "<backup>"\r\n` (path as
/// given, Go `%q`). The line that crossed the limit stays in the backup.
struct FileSink {
    /// The path as given (relative paths stay relative, also in backup names).
    path: PathBuf,
    /// `None` only while rotating.
    file: Option<File>,
    /// Bytes in the file: its size when opened plus every line written since.
    size: u64,
    /// Rotate once `size` passes this; 0 = never. Doubled after a failed close.
    limit: u64,
    /// The configured limit, restored after each rotation.
    base_limit: u64,
}

impl FileSink {
    /// Opens (creating with mode 0660) `path` for appending; no size limit yet.
    fn open(path: &Path) -> Result<FileSink, String> {
        let (file, size) = open_log_file(path)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            limit: 0,
            base_limit: 0,
        })
    }

    /// Sets the size limit (0 = never rotate), as Go's `SetSizeLimit`.
    fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        self.base_limit = limit;
    }

    /// Whether the file is already past its (nonzero) size limit.
    fn oversized(&self) -> bool {
        self.limit > 0 && self.size > self.limit
    }

    /// Replaces the file with a freshly opened one at the same path (logrotate); its
    /// current size counts towards the limit again.
    fn reopen(&mut self) -> Result<(), String> {
        let (file, size) = open_log_file(&self.path)?;
        self.file = Some(file);
        self.size = size;
        self.limit = self.base_limit;
        Ok(())
    }

    /// Appends one formatted line, then rotates if it took the file past the limit.
    /// A failed write is dropped (and not counted), as in the reference.
    ///
    /// The only error is a file that cannot be recreated after the rotation renamed
    /// it away (`Unable to re-open the logfile "<path>" after rotation: <err>`), on
    /// which the reference panics.
    fn write(&mut self, line: &[u8], logtime: bool) -> Result<(), String> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        if file.write_all(line).is_err() {
            return Ok(());
        }
        self.size = self.size.saturating_add(line.len() as u64);
        if self.oversized() {
            self.rotate(logtime)?;
        }
        Ok(())
    }

    /// Closes, renames and recreates the file; see [`FileSink`].
    fn rotate(&mut self, logtime: bool) -> Result<(), String> {
        if let Some(file) = self.file.take() {
            if let Err(err) = close_file(file) {
                return self.close_failed(&err, logtime);
            }
        }
        let now = LocalTime::now();
        let backup = backup_path(&self.path, &now);
        let _ = std::fs::rename(&self.path, &backup);
        let file = open_log_file_raw(&self.path).map_err(|err| self.reopen_error(&err))?;
        self.file = Some(file);
        let message = format!(
            "Rotated log, backup saved as {}",
            gofmt::quote(backup.as_os_str().as_bytes())
        );
        self.size = self.write_direct(Label::Info, &message, logtime);
        self.limit = self.base_limit;
        Ok(())
    }

    /// A close before rotation failed: the reference doubles the limit, logs
    /// `Unable to close logfile for rotation (<err>), will attempt next rotation at
    /// size <limit>` and keeps the file. Its descriptor is gone after a failed
    /// close(2) (where Go then loses every later line), so the file is reopened
    /// under the same path to carry that line and the ones after it.
    fn close_failed(&mut self, err: &io::Error, logtime: bool) -> Result<(), String> {
        self.limit = self.limit.saturating_mul(2);
        let file = open_log_file_raw(&self.path).map_err(|err| self.reopen_error(&err))?;
        self.file = Some(file);
        let message = format!(
            "Unable to close logfile for rotation ({}), will attempt next rotation at size {}",
            gofmt::path_error("close", &self.path, err),
            self.limit
        );
        self.write_direct(Label::Error, &message, logtime);
        Ok(())
    }

    /// The reference's panic text for a file that cannot be recreated.
    fn reopen_error(&self, err: &io::Error) -> String {
        format!(
            "Unable to re-open the logfile {} after rotation: {}",
            gofmt::quote(self.path.as_os_str().as_bytes()),
            gofmt::path_error("open", &self.path, err)
        )
    }

    /// Writes one of the rotator's own `\r\n` lines (not counted towards the size
    /// here) and returns its length.
    fn write_direct(&mut self, label: Label, message: &str, logtime: bool) -> u64 {
        let now = LocalTime::now();
        let time = logtime.then_some(&now);
        let line = format_direct_line(std::process::id(), time, label.plain(), message);
        if let Some(file) = &mut self.file {
            let _ = file.write_all(line.as_bytes());
        }
        line.len() as u64
    }
}

/// `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn`: where a rotated log file is kept.
fn backup_path(path: &Path, time: &LocalTime) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(time.backup_suffix());
    PathBuf::from(name)
}

/// Closes a file, reporting what close(2) says (dropping a `File` ignores it).
fn close_file(file: File) -> io::Result<()> {
    let fd = file.into_raw_fd();
    // SAFETY: `into_raw_fd` handed us sole ownership of `fd`; it is closed exactly
    // once, here, and not used afterwards.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens a log file for appending, creating it with mode 0660, and returns it with
/// its current size. Errors read `error opening file: open <path>: <err>`.
fn open_log_file(path: &Path) -> Result<(File, u64), String> {
    let file = open_log_file_raw(path).map_err(|err| {
        format!(
            "error opening file: {}",
            gofmt::path_error("open", path, &err)
        )
    })?;
    let size = file
        .metadata()
        .map_err(|err| {
            format!(
                "error opening file: {}",
                gofmt::path_error("stat", path, &err)
            )
        })?
        .len();
    Ok((file, size))
}

/// Opens a log file for appending, creating it with mode 0660.
fn open_log_file_raw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(LOG_FILE_MODE)
        .open(path)
}

/// Where syslog messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SyslogTarget {
    /// The local syslog daemon's socket (`-s`).
    Local,
    /// `udp://host:port`.
    Udp(String),
    /// `tcp://host:port`.
    Tcp(String),
    /// `unix:///path` (a stream socket).
    Unix(String),
}

impl SyslogTarget {
    /// Facility: `daemon` locally, `kern` for remote targets (Go `syslog.Dial` quirk).
    fn facility(&self) -> u8 {
        match self {
            SyslogTarget::Local => FACILITY_DAEMON,
            SyslogTarget::Udp(_) | SyslogTarget::Tcp(_) | SyslogTarget::Unix(_) => FACILITY_KERN,
        }
    }

    /// Unix sockets get the local form (no host name, `time.Stamp`), as in Go.
    fn uses_local_format(&self) -> bool {
        matches!(self, SyslogTarget::Local | SyslogTarget::Unix(_))
    }

    /// Connects; errors are Go's `net.Dial` / `log/syslog` texts.
    fn connect(&self) -> Result<SyslogConn, String> {
        match self {
            SyslogTarget::Local => {
                connect_local().ok_or_else(|| "Unix syslog delivery error".to_string())
            }
            SyslogTarget::Udp(addr) => {
                dial_each("udp", resolve("udp", addr)?, connect_udp).map(SyslogConn::Udp)
            }
            SyslogTarget::Tcp(addr) => dial_each("tcp", resolve("tcp", addr)?, |target| {
                TcpStream::connect(target)
            })
            .map(SyslogConn::Tcp),
            SyslogTarget::Unix(path) => UnixStream::connect(path)
                .map(SyslogConn::Stream)
                .map_err(|err| dial_error("unix", path, &err)),
        }
    }
}

/// Parses a `remote_syslog` URL the way the reference does (`url.Parse`, then the
/// scheme picks the network: host for `udp`/`tcp`, path for `unix`).
fn parse_remote_url(url: &str) -> Result<SyslogTarget, String> {
    let (scheme, rest) =
        url_scheme(url).map_err(|err| format!("parse {}: {err}", gofmt::quote(url.as_bytes())))?;
    let scheme = scheme.to_ascii_lowercase();
    let (host, path) = url_host_and_path(rest);
    match scheme.as_str() {
        "udp" => Ok(SyslogTarget::Udp(host.to_string())),
        "tcp" => Ok(SyslogTarget::Tcp(host.to_string())),
        "unix" => Ok(SyslogTarget::Unix(path.to_string())),
        _ => Err(format!(
            "error invalid network type: {}",
            gofmt::quote(scheme.as_bytes())
        )),
    }
}

/// Splits off a URL scheme like Go's `getScheme`: `("", url)` when there is none.
fn url_scheme(url: &str) -> Result<(&str, &str), &'static str> {
    for (i, byte) in url.bytes().enumerate() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok((&url[..i], &url[i + 1..])),
            _ => break,
        }
    }
    Ok(("", url))
}

/// Host (without user info) and path of what follows a URL scheme; an opaque
/// remainder (no leading `/`) has neither.
fn url_host_and_path(rest: &str) -> (&str, &str) {
    let rest = rest.split(['#', '?']).next().unwrap_or_default();
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            (host, &after[end..])
        }
        None if rest.starts_with('/') => ("", rest),
        None => ("", ""),
    }
}

/// Resolves `host:port` for dialing, with Go's texts for the common failures.
fn resolve(network: &str, addr: &str) -> Result<Vec<SocketAddr>, String> {
    let Some((host, _port)) = addr.rsplit_once(':') else {
        return Err(format!(
            "dial {network}: address {addr}: missing port in address"
        ));
    };
    addr.to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|err| format!("dial {network}: lookup {host}: {err}"))
}

/// Tries each address in turn; the first failure is reported if none succeeds.
fn dial_each<T>(
    network: &str,
    targets: Vec<SocketAddr>,
    dial: impl Fn(SocketAddr) -> io::Result<T>,
) -> Result<T, String> {
    let mut first_error = None;
    for target in targets {
        match dial(target) {
            Ok(conn) => return Ok(conn),
            Err(err) => {
                first_error.get_or_insert_with(|| dial_error(network, &target.to_string(), &err));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| format!("dial {network}: no suitable address found")))
}

/// Go's `net.Dial` error text for a failed connect.
fn dial_error(network: &str, addr: &str, err: &io::Error) -> String {
    format!("dial {network} {addr}: connect: {}", gofmt::error_text(err))
}

/// A UDP socket connected to `target`.
fn connect_udp(target: SocketAddr) -> io::Result<UdpSocket> {
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    Ok(socket)
}

/// The local syslog socket: datagram first, then stream, over the usual paths.
fn connect_local() -> Option<SyslogConn> {
    let datagram = LOCAL_SYSLOG_PATHS.iter().find_map(|path| {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(path).ok()?;
        Some(SyslogConn::Datagram(socket))
    });
    datagram.or_else(|| {
        LOCAL_SYSLOG_PATHS
            .iter()
            .find_map(|path| UnixStream::connect(path).ok().map(SyslogConn::Stream))
    })
}

/// A connected syslog socket.
enum SyslogConn {
    Datagram(UnixDatagram),
    Stream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl SyslogConn {
    /// Sends one whole message.
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            SyslogConn::Datagram(socket) => socket.send(message).map(drop),
            SyslogConn::Udp(socket) => socket.send(message).map(drop),
            SyslogConn::Stream(stream) => stream.write_all(message),
            SyslogConn::Tcp(stream) => stream.write_all(message),
        }
    }
}

/// A syslog destination with its connection and message header fields.
struct SyslogSink {
    target: SyslogTarget,
    conn: SyslogConn,
    tag: String,
    hostname: String,
}

impl SyslogSink {
    /// Connects to `target`; errors read `error connecting to syslog: "<err>"`.
    fn open(target: SyslogTarget) -> Result<SyslogSink, String> {
        let conn = target.connect().map_err(|err| {
            format!(
                "error connecting to syslog: {}",
                gofmt::quote(err.as_bytes())
            )
        })?;
        Ok(SyslogSink {
            target,
            conn,
            tag: process_tag(),
            hostname: hostname(),
        })
    }

    /// Sends one message; on failure reconnects and retries once (Go `writeAndRetry`).
    fn write(&mut self, label: Label, message: &str, now: &LocalTime) {
        let text = self.format(label, message, now);
        if self.conn.send(text.as_bytes()).is_ok() {
            return;
        }
        if let Ok(conn) = self.target.connect() {
            self.conn = conn;
            let _ = self.conn.send(text.as_bytes());
        }
    }

    /// The message text for this target.
    fn format(&self, label: Label, message: &str, now: &LocalTime) -> String {
        let pri = self.target.facility() * 8 + label.severity();
        let pid = std::process::id();
        if self.target.uses_local_format() {
            syslog_local_message(pri, now, &self.tag, pid, message)
        } else {
            syslog_remote_message(pri, now, &self.hostname, &self.tag, pid, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    fn sample_time(utc_offset: libc::c_long) -> LocalTime {
        LocalTime {
            year: 2026,
            month: 11,
            day: 5,
            hour: 16,
            minute: 18,
            second: 5,
            nanos: 59_853_123,
            utc_offset,
        }
    }

    /// A fresh directory under the system temp dir, removed by the caller.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("natsd-logging-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn first_line(path: &Path) -> String {
        let mut line = String::new();
        BufReader::new(File::open(path).unwrap())
            .read_line(&mut line)
            .unwrap();
        line
    }

    #[test]
    fn line_with_time() {
        let line = format_line(7034, Some(&sample_time(0)), "[INF] ", "Server is ready");
        assert_eq!(
            line,
            "[7034] 2026/11/05 16:18:05.059853 [INF] Server is ready\n"
        );
    }

    #[test]
    fn line_without_time() {
        let line = format_line(8194, None, "[INF] ", "Starting nats-server");
        assert_eq!(line, "[8194] [INF] Starting nats-server\n");
    }

    #[test]
    fn line_keeps_a_single_trailing_newline() {
        assert_eq!(format_line(1, None, "[ERR] ", "oops\n"), "[1] [ERR] oops\n");
    }

    #[test]
    fn plain_labels() {
        let labels: Vec<_> = [
            log::Level::Error,
            log::Level::Warn,
            log::Level::Info,
            log::Level::Debug,
            log::Level::Trace,
        ]
        .into_iter()
        .map(|level| Label::from(level).plain())
        .collect();
        assert_eq!(labels, ["[ERR] ", "[WRN] ", "[INF] ", "[DBG] ", "[TRC] "]);
        assert_eq!(Label::Fatal.text(false), "[FTL] ");
    }

    #[test]
    fn colored_labels() {
        assert_eq!(Label::Info.text(true), "[\x1b[32mINF\x1b[0m] ");
        assert_eq!(Label::Debug.text(true), "[\x1b[36mDBG\x1b[0m] ");
        assert_eq!(Label::Warn.text(true), "[\x1b[0;93mWRN\x1b[0m] ");
        assert_eq!(Label::Error.text(true), "[\x1b[31mERR\x1b[0m] ");
        assert_eq!(Label::Fatal.text(true), "[\x1b[31mFTL\x1b[0m] ");
        assert_eq!(Label::Trace.text(true), "[\x1b[33mTRC\x1b[0m] ");
    }

    #[test]
    fn syslog_severities() {
        let severities: Vec<_> = [
            Label::Fatal,
            Label::Error,
            Label::Warn,
            Label::Info,
            Label::Debug,
            Label::Trace,
        ]
        .into_iter()
        .map(Label::severity)
        .collect();
        assert_eq!(severities, [2, 3, 4, 5, 7, 5]);
    }

    #[test]
    fn level_switches() {
        assert_eq!(max_level(false, false), LevelFilter::Info);
        assert_eq!(max_level(true, false), LevelFilter::Debug);
        assert_eq!(max_level(false, true), LevelFilter::Trace);
        set_levels(false, true);
        assert!(trace_enabled() && level_enabled(log::Level::Trace));
        assert!(!level_enabled(log::Level::Debug));
        set_levels(true, false);
        assert!(!trace_enabled() && level_enabled(log::Level::Debug));
        assert!(level_enabled(log::Level::Info));
    }

    #[test]
    fn local_time_is_plausible() {
        let now = LocalTime::now();
        assert!(now.year >= 2024 && (1..=12).contains(&now.month) && (1..=31).contains(&now.day));
        assert!(now.nanos < 1_000_000_000 && now.utc_offset.abs() <= 14 * 3600);
    }

    #[test]
    fn payload_untruncated() {
        assert_eq!(quote_payload(b"hello", 0), r#""hello""#);
        assert_eq!(quote_payload(b"hello", 5), r#""hello""#);
        assert_eq!(quote_payload(b"", 3), r#""""#);
    }

    #[test]
    fn payload_truncated_like_trace_msg() {
        assert_eq!(quote_payload(b"hello world", 3), r#""hel...""#);
        // The cut counts bytes of the escaped text, as `tm[1:maxTrace+1]` does.
        assert_eq!(quote_payload(b"a\r\nbc", 3), r#""a\r...""#);
        assert_eq!(quote_payload(b"\x00bcdef", 3), r#""\x0...""#);
        // A character split by the cut is dropped.
        assert_eq!(quote_payload("\néx".as_bytes(), 3), r#""\n...""#);
    }

    #[test]
    fn timestamps() {
        let time = sample_time(0);
        assert_eq!(time.syslog_stamp(), "Nov  5 16:18:05");
        assert_eq!(time.rfc3339(), "2026-11-05T16:18:05Z");
        assert_eq!(
            sample_time(5 * 3600 + 1800).rfc3339(),
            "2026-11-05T16:18:05+05:30"
        );
        assert_eq!(
            sample_time(-8 * 3600).rfc3339(),
            "2026-11-05T16:18:05-08:00"
        );
    }

    #[test]
    fn syslog_messages() {
        let time = sample_time(0);
        let local = syslog_local_message(29, &time, "nats-server", 42, "Server is ready");
        assert_eq!(
            local,
            "<29>Nov  5 16:18:05 nats-server[42]: Server is ready\n"
        );
        let remote = syslog_remote_message(7, &time, "vm", "nats-server", 42, "Go build\n");
        assert_eq!(
            remote,
            "<7>2026-11-05T16:18:05Z vm nats-server[42]: Go build\n"
        );
    }

    #[test]
    fn syslog_tags() {
        assert_eq!(syslog_tag("/usr/sbin/nats-server"), "nats-server");
        assert_eq!(syslog_tag("natsd"), "natsd");
        assert_eq!(syslog_tag("./bin/natsd/"), "natsd");
    }

    #[test]
    fn remote_url_targets() {
        let parse = |url| parse_remote_url(url).unwrap();
        assert_eq!(
            parse("udp://127.0.0.1:514"),
            SyslogTarget::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            parse("UDP://[::1]:514"),
            SyslogTarget::Udp("[::1]:514".into())
        );
        assert_eq!(
            parse("tcp://me@host:1/x?y#z"),
            SyslogTarget::Tcp("host:1".into())
        );
        assert_eq!(
            parse("unix:///dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
        assert_eq!(
            parse("unix:/dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
    }

    #[test]
    fn remote_url_errors() {
        let error = |url| parse_remote_url(url).unwrap_err();
        assert_eq!(
            error("xyz://host:1"),
            r#"error invalid network type: "xyz""#
        );
        assert_eq!(error("xyz"), r#"error invalid network type: """#);
        assert_eq!(
            error("localhost:514"),
            r#"error invalid network type: "localhost""#
        );
        assert_eq!(error(":foo"), r#"parse ":foo": missing protocol scheme"#);
    }

    #[test]
    fn sink_errors_are_reference_texts() {
        let open = |remote: &str| {
            let opts = LogOptions {
                remote_syslog: Some(remote.to_string()),
                ..LogOptions::default()
            };
            Sink::open(&opts).err().unwrap()
        };
        assert_eq!(open("xyz"), r#"error invalid network type: """#);
        assert_eq!(
            open("tcp://localhost"),
            r#"error connecting to syslog: "dial tcp: address localhost: missing port in address""#
        );
        assert_eq!(
            open("unix:///nonexistent/natsd.sock"),
            r#"error connecting to syslog: "dial unix /nonexistent/natsd.sock: connect: no such file or directory""#
        );
    }

    #[test]
    fn udp_remote_syslog() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let url = format!("udp://{}", receiver.local_addr().unwrap());
        let mut sink = SyslogSink::open(parse_remote_url(&url).unwrap()).unwrap();
        sink.write(Label::Trace, "<<- [PING]", &sample_time(0));
        let mut buf = [0u8; 512];
        let len = receiver.recv(&mut buf).unwrap();
        let expected = format!(
            "<5>2026-11-05T16:18:05Z {} {}[{}]: <<- [PING]\n",
            hostname(),
            process_tag(),
            std::process::id()
        );
        assert_eq!(String::from_utf8_lossy(&buf[..len]), expected);
    }

    #[test]
    fn unix_remote_syslog_uses_local_form() {
        let dir = temp_dir("unix");
        let path = dir.join("syslog.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let url = format!("unix://{}", path.display());
        let mut sink = SyslogSink::open(parse_remote_url(&url).unwrap()).unwrap();
        sink.write(Label::Debug, "debug line", &sample_time(0));
        drop(sink);
        let mut received = String::new();
        listener
            .accept()
            .unwrap()
            .0
            .read_to_string(&mut received)
            .unwrap();
        let expected = format!(
            "<7>Nov  5 16:18:05 {}[{}]: debug line\n",
            process_tag(),
            std::process::id()
        );
        assert_eq!(received, expected);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_sink_creates_and_reopens() {
        let dir = temp_dir("file");
        let path = dir.join("natsd.log");
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 0);
        logger.emit(Label::Warn, "before rotation");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !LOG_FILE_MODE, 0, "mode {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "mode {mode:o}");

        let rotated = dir.join("natsd.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        logger.reopen().unwrap();
        logger.emit(Label::Info, "after rotation");

        let pid = std::process::id();
        assert_eq!(
            first_line(&rotated),
            format!("[{pid}] [WRN] before rotation\n")
        );
        let reopened = std::fs::read_to_string(&path).unwrap();
        let expected = format!("[{pid}] [INF] File log re-opened\n[{pid}] [INF] after rotation\n");
        assert_eq!(reopened, expected);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_sink_lines_carry_time() {
        let dir = temp_dir("time");
        let path = dir.join("natsd.log");
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), true, 0);
        logger.emit(Label::Error, "boom");
        let line = first_line(&path);
        let prefix = format!("[{}] ", std::process::id());
        let stamp = line.strip_prefix(&prefix).unwrap();
        assert_eq!(stamp.len(), "2026/11/05 16:18:05.059853 [ERR] boom\n".len());
        assert!(stamp.ends_with(" [ERR] boom\n") && stamp.as_bytes()[4] == b'/');
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reopen_without_file_is_ignored() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let target = SyslogTarget::Udp(receiver.local_addr().unwrap().to_string());
        let logger = Logger::new();
        logger.configure(Sink::Syslog(SyslogSink::open(target).unwrap()), true, 0);
        logger.reopen().unwrap();
        let mut buf = [0u8; 512];
        let len = receiver.recv(&mut buf).unwrap();
        let received = String::from_utf8_lossy(&buf[..len]);
        assert!(received.starts_with("<5>"), "{received}");
        assert!(received.ends_with("]: File log re-open ignored, not a file logger\n"));
    }

    /// The files in `dir` whose names start with `prefix.`: the rotation backups.
    fn backups(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(&format!("{prefix}."))
            })
            .collect();
        found.sort();
        found
    }

    /// Checks `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` and returns the numbers.
    fn parse_backup_name(path: &Path, backup: &Path) -> Vec<u32> {
        let name = backup.as_os_str().to_str().unwrap();
        let suffix = name
            .strip_prefix(path.to_str().unwrap())
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or_else(|| panic!("{name}"));
        let fields: Vec<&str> = suffix.split('.').collect();
        let widths: Vec<usize> = fields.iter().map(|field| field.len()).collect();
        assert_eq!(widths, [4, 2, 2, 2, 2, 2, 9], "{name}");
        let numbers: Vec<u32> = fields.iter().map(|field| field.parse().unwrap()).collect();
        let (month, day, hour, minute, second) =
            (numbers[1], numbers[2], numbers[3], numbers[4], numbers[5]);
        assert!(numbers[0] >= 2024 && (1..=12).contains(&month) && (1..=31).contains(&day));
        assert!(hour < 24 && minute < 60 && second < 61, "{name}");
        numbers
    }

    fn rotated_line(pid: u32, backup: &Path) -> String {
        format!(
            "[{pid}] [INF] Rotated log, backup saved as \"{}\"\r\n",
            backup.display()
        )
    }

    /// A file sink on `path` with this size limit.
    fn limited_sink(path: &Path, limit: u64) -> FileSink {
        let mut sink = FileSink::open(path).unwrap();
        sink.set_limit(limit);
        sink
    }

    #[test]
    fn rotates_once_past_the_limit() {
        let dir = temp_dir("rotate");
        let path = dir.join("natsd.log");
        let pid = std::process::id();
        // Larger than the `Rotated log` line, so that alone does not rotate again.
        let mut sink = limited_sink(&path, 400);
        let line = "x".repeat(99) + "\n";
        for _ in 0..4 {
            sink.write(line.as_bytes(), false).unwrap();
        }
        // Exactly at the limit: not past it yet.
        assert!(backups(&dir, "natsd.log").is_empty());
        assert_eq!(sink.size, 400);

        sink.write(b"crossing\n", false).unwrap();
        let found = backups(&dir, "natsd.log");
        assert_eq!(found.len(), 1, "{found:?}");
        // The line that crossed the limit ends the backup.
        let backup_text = std::fs::read_to_string(&found[0]).unwrap();
        assert_eq!(backup_text, line.repeat(4) + "crossing\n");
        let rotated = rotated_line(pid, &found[0]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), rotated);
        // The new file counts from its first line; the limit applies again.
        assert_eq!(sink.size, rotated.len() as u64);
        sink.write(b"after\n", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{rotated}after\n")
        );
        while backups(&dir, "natsd.log").len() < 2 {
            sink.write(line.as_bytes(), false).unwrap();
        }
        let found = backups(&dir, "natsd.log");
        assert_eq!(first_line(&found[1]), rotated);
        assert_eq!(first_line(&path), rotated_line(pid, &found[1]));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !LOG_FILE_MODE, 0, "mode {mode:o}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn backup_name_format() {
        assert_eq!(
            backup_path(Path::new("n.log"), &sample_time(0)),
            Path::new("n.log.2026.11.05.16.18.05.059853123")
        );
        let dir = temp_dir("backup-name");
        let path = dir.join("n.log");
        let mut sink = limited_sink(&path, 10);
        let before = LocalTime::now();
        sink.write(b"more than ten bytes\n", true).unwrap();
        let after = LocalTime::now();
        let found = backups(&dir, "n.log");
        assert_eq!(found.len(), 1, "{found:?}");
        let numbers = parse_backup_name(&path, &found[0]);
        let stamp = |time: &LocalTime| {
            [
                time.year as u32,
                time.month as u32,
                time.day as u32,
                time.hour as u32,
                time.minute as u32,
                time.second as u32,
                time.nanos,
            ]
        };
        assert!(
            stamp(&before).as_slice() <= numbers.as_slice(),
            "{numbers:?}"
        );
        assert!(
            numbers.as_slice() <= stamp(&after).as_slice(),
            "{numbers:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rotated_first_line_carries_time_and_crlf() {
        let dir = temp_dir("rotated-line");
        let path = dir.join("natsd.log");
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), true, 300);
        logger.emit(Label::Info, &"long ".repeat(60));
        let found = backups(&dir, "natsd.log");
        assert_eq!(found.len(), 1, "{found:?}");
        let line = first_line(&path);
        let prefix = format!("[{}] ", std::process::id());
        let rest = line.strip_prefix(&prefix).unwrap();
        let (stamp, rest) = rest.split_at("2026/11/05 16:18:05.059853 ".len());
        assert!(
            stamp.as_bytes()[4] == b'/' && stamp.ends_with(' '),
            "{line:?}"
        );
        let expected = format!(
            "[INF] Rotated log, backup saved as \"{}\"\r\n",
            found[0].display()
        );
        assert_eq!(rest, expected);
        // Lines logged after the rotation keep their plain `\n`.
        logger.emit(Label::Warn, "next");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" [WRN] next\n"), "{text:?}");
        assert_eq!(text.matches('\r').count(), 1, "{text:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn oversized_file_rotates_at_configure() {
        let dir = temp_dir("startup");
        let path = dir.join("natsd.log");
        let old = "x".repeat(1500) + "\n";
        std::fs::write(&path, &old).unwrap();
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 1000);
        logger.emit(Label::Info, "Starting nats-server");

        let pid = std::process::id();
        let found = backups(&dir, "natsd.log");
        assert_eq!(found.len(), 1, "{found:?}");
        let backup_text = std::fs::read_to_string(&found[0]).unwrap();
        assert_eq!(
            backup_text,
            format!("{old}[{pid}] [INF] Rotating logfile...\n")
        );
        let expected = format!(
            "{}[{pid}] [INF] Starting nats-server\n",
            rotated_line(pid, &found[0])
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_within_limit_is_kept_at_configure() {
        let dir = temp_dir("startup-small");
        let path = dir.join("natsd.log");
        std::fs::write(&path, "x".repeat(999) + "\n").unwrap();
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 1000);
        assert!(backups(&dir, "natsd.log").is_empty());
        // The existing bytes count: the next line passes the limit.
        logger.emit(Label::Info, "x");
        assert_eq!(backups(&dir, "natsd.log").len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reconfigure_applies_new_limit() {
        let dir = temp_dir("reconfigure");
        let path = dir.join("natsd.log");
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 0);
        for _ in 0..20 {
            logger.emit(Label::Info, "twenty-odd bytes");
        }
        assert!(backups(&dir, "natsd.log").is_empty());
        // Re-init (config reload) with a limit below the current size.
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 100);
        let found = backups(&dir, "natsd.log");
        assert_eq!(found.len(), 1, "{found:?}");
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            rotated_line(pid, &found[0])
        );
        // And back to no limit.
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 0);
        for _ in 0..20 {
            logger.emit(Label::Info, "twenty-odd bytes");
        }
        assert_eq!(backups(&dir, "natsd.log").len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reopen_rotates_an_oversized_file_first() {
        let dir = temp_dir("reopen-oversized");
        let path = dir.join("natsd.log");
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), false, 300);
        logger.emit(Label::Info, "short");
        std::fs::write(&path, "y".repeat(400)).unwrap();
        logger.reopen().unwrap();
        let pid = std::process::id();
        let found = backups(&dir, "natsd.log");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(std::fs::read_to_string(&found[0])
            .unwrap()
            .ends_with(&format!("[{pid}] [INF] Rotating logfile...\n")));
        let expected = format!(
            "{}[{pid}] [INF] File log re-opened\n",
            rotated_line(pid, &found[0])
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_rotation_without_limit() {
        let dir = temp_dir("unlimited");
        let path = dir.join("natsd.log");
        std::fs::write(&path, "z".repeat(5000)).unwrap();
        let logger = Logger::new();
        logger.configure(Sink::File(FileSink::open(&path).unwrap()), true, 0);
        let mut sink = limited_sink(&path, 0);
        for _ in 0..200 {
            logger.emit(Label::Info, "a line of some length, written many times");
            sink.write(b"direct line\n", true).unwrap();
        }
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(std::fs::metadata(&path).unwrap().len() > 5000 + 200 * 50);
        assert!(!std::fs::read_to_string(&path).unwrap().contains("Rotat"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failed_close_doubles_the_limit() {
        let dir = temp_dir("close-failed");
        let path = dir.join("natsd.log");
        let mut sink = limited_sink(&path, 100);
        sink.write(&[b'a'; 150], false).unwrap();
        assert_eq!(backups(&dir, "natsd.log").len(), 1);
        std::fs::remove_file(&path).unwrap();
        sink.file = None;
        sink.size = 150;
        let err = io::Error::from_raw_os_error(libc::EIO);
        sink.close_failed(&err, false).unwrap();
        assert_eq!(sink.limit, 200);
        let expected = format!(
            "[{}] [ERR] Unable to close logfile for rotation (close {}: input/output error), will attempt next rotation at size 200\r\n",
            std::process::id(),
            path.display()
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        // Not counted; the next rotation waits for the doubled limit, then resets it.
        sink.write(&[b'b'; 50], false).unwrap();
        assert_eq!(backups(&dir, "natsd.log").len(), 1);
        sink.write(b"c", false).unwrap();
        assert_eq!(backups(&dir, "natsd.log").len(), 2);
        assert_eq!(sink.limit, 100);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rotation_without_a_directory_fails_like_the_reference() {
        let dir = temp_dir("vanished");
        let path = dir.join("natsd.log");
        let mut sink = limited_sink(&path, 10);
        std::fs::remove_dir_all(&dir).unwrap();
        let err = sink.write(b"past the limit\n", false).unwrap_err();
        assert_eq!(
            err,
            format!(
                "Unable to re-open the logfile \"{0}\" after rotation: open {0}: no such file or directory",
                path.display()
            )
        );
    }

    #[test]
    fn direct_lines_end_in_crlf() {
        let line = format_direct_line(7, Some(&sample_time(0)), "[ERR] ", "oops");
        assert_eq!(line, "[7] 2026/11/05 16:18:05.059853 [ERR] oops\r\n");
        assert_eq!(
            format_direct_line(7, None, "[INF] ", "x"),
            "[7] [INF] x\r\n"
        );
    }

    #[test]
    fn unopenable_file_is_reported() {
        let err = FileSink::open(Path::new("/nonexistent/dir/natsd.log"))
            .err()
            .unwrap();
        assert_eq!(
            err,
            "error opening file: open /nonexistent/dir/natsd.log: no such file or directory"
        );
    }
}
