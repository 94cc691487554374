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
//!
//! This module holds the public API, the switches and the choice of sink; the line
//! format is in `format`, the log file with its rotation and reopen in `file`, and
//! local and remote syslog in `syslog`.

mod file;
mod format;
mod syslog;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use log::{LevelFilter, Log, Metadata, Record};

use crate::gofmt;
use crate::options::LogOptions;
use file::FileSink;
use format::{format_line, Label, LocalTime};
use syslog::{parse_remote_url, SyslogSink, SyslogTarget};

/// The process-wide logger handed to the `log` facade.
static LOGGER: Logger = Logger::new();
/// Whether debug lines are written.
static DEBUG: AtomicBool = AtomicBool::new(false);
/// Whether trace lines are written.
static TRACE: AtomicBool = AtomicBool::new(false);

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

#[cfg(test)]
mod tests {
    use super::file::LOG_FILE_MODE;
    use super::test_support::{backups, first_line, limited_sink, rotated_line, temp_dir};
    use super::*;
    use std::net::UdpSocket;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

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
}
