//! The log file (`logger.fileLogger`): opened for appending with mode 0660, reopened under the
//! same path on SIGUSR1, and rotated to a timestamped backup once it passes its size limit.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};

use super::format::{format_direct_line, Label, LocalTime};
use crate::gofmt;

/// File mode of a newly created log file (before the umask).
pub(super) const LOG_FILE_MODE: u32 = 0o660;

/// An append-only log file that can be reopened under the same path and that
/// rotates itself past a size limit (Go `logger.fileLogger`).
///
/// Rotation: once a line takes the file past the limit (strictly greater), the file
/// is closed, renamed to `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` (local time of the
/// rotation, nanoseconds) and a new file is created at `path`, whose first line is
/// `[<pid>] [<time> ][INF] Rotated log, backup saved as "<backup>"\r\n` (path as
/// given, Go `%q`). The line that crossed the limit stays in the backup.
pub(super) struct FileSink {
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
    pub(super) fn open(path: &Path) -> Result<FileSink, String> {
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
    pub(super) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        self.base_limit = limit;
    }

    /// Whether the file is already past its (nonzero) size limit.
    pub(super) fn oversized(&self) -> bool {
        self.limit > 0 && self.size > self.limit
    }

    /// Replaces the file with a freshly opened one at the same path (logrotate); its
    /// current size counts towards the limit again.
    pub(super) fn reopen(&mut self) -> Result<(), String> {
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
    pub(super) fn write(&mut self, line: &[u8], logtime: bool) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::test_support::{
        backups, first_line, limited_sink, rotated_line, sample_time, temp_dir,
    };
    use std::os::unix::fs::PermissionsExt;

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
