//! The process's memory and CPU use for `/varz`, from `/proc/self/stat` (Linux; elsewhere
//! both read as 0). CPU is sampled like the reference: the percentage of one core used
//! over the last window of at least a second, with one decimal.

use std::time::{Duration, Instant};

/// Resident set size in bytes (`mem`).
pub fn resident_bytes() -> i64 {
    stat_fields().map_or(0, |f| f.rss_pages * page_size())
}

/// CPU seconds the process has used so far (user + system).
fn cpu_seconds() -> f64 {
    stat_fields().map_or(0.0, |f| f.cpu_ticks as f64 / ticks_per_second())
}

/// The `cpu` sampler: remembers the last sample and the value computed from it.
pub struct CpuSampler {
    at: Instant,
    cpu_seconds: f64,
    percent: f64,
}

/// The shortest window a new CPU figure is computed over.
const WINDOW: Duration = Duration::from_secs(1);

impl CpuSampler {
    /// A sampler whose first window starts now.
    pub fn new() -> Self {
        CpuSampler {
            at: Instant::now(),
            cpu_seconds: cpu_seconds(),
            percent: 0.0,
        }
    }

    /// CPU use in percent of one core over the last window (the previous figure while the
    /// current window is shorter than a second).
    pub fn percent(&mut self) -> f64 {
        let elapsed = self.at.elapsed();
        if elapsed >= WINDOW {
            let now = cpu_seconds();
            let used = (now - self.cpu_seconds).max(0.0);
            self.percent = (used / elapsed.as_secs_f64() * 1000.0).round() / 10.0;
            self.at = Instant::now();
            self.cpu_seconds = now;
        }
        self.percent
    }
}

/// The fields of `/proc/self/stat` the monitor reads.
struct StatFields {
    cpu_ticks: u64,
    rss_pages: i64,
}

fn stat_fields() -> Option<StatFields> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is at index N - 3.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    let ticks = field(14)? + field(15)?;
    Some(StatFields {
        cpu_ticks: u64::try_from(ticks).unwrap_or(0),
        rss_pages: field(24)?,
    })
}

fn page_size() -> i64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        // `c_long`: 32 bits on armv7.
        size as i64
    } else {
        4096
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let rss = resident_bytes();
        assert!(rss > 100_000, "a test process uses more than 100 kB: {rss}");
        let mut sampler = CpuSampler::new();
        sampler.at -= WINDOW;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            std::hint::black_box(cpu_seconds());
        }
        let percent = sampler.percent();
        assert!(percent > 0.0 && percent < 1000.0, "busy loop: {percent}%");
        assert_eq!(percent, (percent * 10.0).round() / 10.0, "one decimal");
    }
}
