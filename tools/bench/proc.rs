//! What /proc says about a server process: CPU time and memory.

use std::fs;
use std::io;

/// User plus system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: fields are
    // counted after its closing parenthesis, where field 3 (state) comes first.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc stat line"))
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    let ticks = tick(11)? + tick(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / hz.max(1) as f64)
}

/// A `kB` figure from /proc/<pid>/status, such as `VmRSS` or `VmHWM`, in bytes.
pub fn status_bytes(pid: u32, field: &str) -> io::Result<u64> {
    Ok(status_value(pid, field)? * 1024)
}

/// A number from /proc/<pid>/status, such as `Threads`, as it is written there
/// (without its `kB` unit, if any).
pub fn status_value(pid: u32, field: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {field} in /proc/{pid}/status"),
            )
        })
}

/// How many file descriptors the process has open (the entries of /proc/<pid>/fd).
pub fn open_fds(pid: u32) -> io::Result<u64> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

/// The process's private memory (USS: `Private_Clean` + `Private_Dirty` from
/// /proc/<pid>/smaps_rollup), in bytes: its RSS without the pages it shares with other
/// processes, such as those of a shared libc.
pub fn private_bytes(pid: u32) -> io::Result<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let kb = |field: &str| {
        rollup
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    match (kb("Private_Clean"), kb("Private_Dirty")) {
        (Some(clean), Some(dirty)) => Ok((clean + dirty) * 1024),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no private memory in /proc/{pid}/smaps_rollup"),
        )),
    }
}

/// Raises this process's open-file limit to its hard limit, so thousands of
/// connections fit (servers started from here inherit it too).
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit for the call to fill and then read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(status_bytes(pid, "VmRSS").unwrap() > 0);
        assert!(status_bytes(pid, "VmHWM").unwrap() > 0);
        assert!(status_bytes(pid, "NoSuchField").is_err());
        assert!(status_value(pid, "Threads").unwrap() >= 1);
        assert!(open_fds(pid).unwrap() >= 3);
        let private = private_bytes(pid).unwrap();
        assert!(private > 0 && private <= status_bytes(pid, "VmRSS").unwrap() + (1 << 20));
    }
}
