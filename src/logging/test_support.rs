//! Helpers shared by the logging tests: a fixed local time, scratch directories, and the
//! log file's lines and rotation backups.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::file::FileSink;
use super::format::LocalTime;

/// 2026-11-05 16:18:05.059853123, `utc_offset` seconds east of UTC.
pub(super) fn sample_time(utc_offset: libc::c_long) -> LocalTime {
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
pub(super) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("natsd-logging-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) fn first_line(path: &Path) -> String {
    let mut line = String::new();
    BufReader::new(File::open(path).unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// The files in `dir` whose names start with `prefix.`: the rotation backups.
pub(super) fn backups(dir: &Path, prefix: &str) -> Vec<PathBuf> {
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

pub(super) fn rotated_line(pid: u32, backup: &Path) -> String {
    format!(
        "[{pid}] [INF] Rotated log, backup saved as \"{}\"\r\n",
        backup.display()
    )
}

/// A file sink on `path` with this size limit.
pub(super) fn limited_sink(path: &Path, limit: u64) -> FileSink {
    let mut sink = FileSink::open(path).unwrap();
    sink.set_limit(limit);
    sink
}
