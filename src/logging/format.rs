//! The pieces of a log line as the reference writes them (`logger/log.go`): level labels (plain,
//! colored for terminals, syslog severities), the local time in each of its printed forms, and
//! the gnatsd-style `[<pid>] <time> [INF] message` line of stderr and the log file.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Month abbreviations of Go's `time.Stamp`.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The kind of a log line: its label and its syslog severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
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
    pub(super) fn text(self, colors: bool) -> &'static str {
        if colors {
            self.colored()
        } else {
            self.plain()
        }
    }

    /// Plain label (file, redirected stderr).
    pub(super) fn plain(self) -> &'static str {
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
    pub(super) fn severity(self) -> u8 {
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
pub(super) struct LocalTime {
    pub(super) year: i32,
    /// 1..=12.
    pub(super) month: i32,
    pub(super) day: i32,
    pub(super) hour: i32,
    pub(super) minute: i32,
    pub(super) second: i32,
    /// 0..1_000_000_000.
    pub(super) nanos: u32,
    /// Seconds east of UTC.
    pub(super) utc_offset: libc::c_long,
}

impl LocalTime {
    /// The current local time.
    // The libc crate marks musl's `time_t` deprecated (it is to become 64-bit there);
    // converting with `try_from` stays right either way.
    #[allow(deprecated)]
    pub(super) fn now() -> Self {
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
    pub(super) fn backup_suffix(&self) -> String {
        format!(
            ".{:04}.{:02}.{:02}.{:02}.{:02}.{:02}.{:09}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanos
        )
    }

    /// `Mmm _d hh:mm:ss`, Go's `time.Stamp` (day padded with a space).
    pub(super) fn syslog_stamp(&self) -> String {
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
    pub(super) fn rfc3339(&self) -> String {
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

/// One stderr/file line: `[<pid>] [<time> ]<label><message>\n`. Like Go's `log`
/// package, no newline is added to a message that already ends with one.
pub(super) fn format_line(
    pid: u32,
    time: Option<&LocalTime>,
    label: &str,
    message: &str,
) -> String {
    let mut line = line_start(pid, time, label, message.len());
    line.push_str(message);
    line.push_str(newline_unless_present(message));
    line
}

/// A line the file rotator writes itself (Go `fileLogger.logDirect`): the same
/// prefix, but always terminated by `\r\n`.
pub(super) fn format_direct_line(
    pid: u32,
    time: Option<&LocalTime>,
    label: &str,
    message: &str,
) -> String {
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
pub(super) fn newline_unless_present(message: &str) -> &'static str {
    if message.ends_with('\n') {
        ""
    } else {
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::test_support::sample_time;

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
    fn local_time_is_plausible() {
        let now = LocalTime::now();
        assert!(now.year >= 2024 && (1..=12).contains(&now.month) && (1..=31).contains(&now.day));
        assert!(now.nanos < 1_000_000_000 && now.utc_offset.abs() <= 14 * 3600);
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
    fn direct_lines_end_in_crlf() {
        let line = format_direct_line(7, Some(&sample_time(0)), "[ERR] ", "oops");
        assert_eq!(line, "[7] 2026/11/05 16:18:05.059853 [ERR] oops\r\n");
        assert_eq!(
            format_direct_line(7, None, "[INF] ", "x"),
            "[7] [INF] x\r\n"
        );
    }
}
