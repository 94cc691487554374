//! Process-level concerns of the daemon: starting the server and its monitor together
//! ([`start`]), the descriptor limit, and the signal loop (stop, reload, log reopen, lame
//! duck).

use std::io;
use std::time::{Duration, Instant};

use log::{debug, error, info};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::cli::Invocation;
use crate::configure::{self, lines};
use crate::logging;
use crate::monitor::{Monitor, MonitorListener};
use crate::server::{ServerHandle, Starting};

/// The running daemon: the server and, when configured, its monitoring endpoint.
pub struct Daemon {
    pub server: ServerHandle,
    monitor: Option<Monitor>,
}

/// Starts a checked server ([`crate::server::Server::prepare`]) and its monitor in the
/// reference's order: banner and pid file, the monitoring port (its errors are fatal before
/// any client port is bound), the client and route listeners and the ports file, then
/// monitoring serves from the server's view.
pub fn start(starting: Starting) -> io::Result<Daemon> {
    starting.announce()?;
    let listener = MonitorListener::bind(starting.options())?;
    let monitor_addr = match &listener {
        Some(l) => Some((l.scheme(), l.local_addr()?)),
        None => None,
    };
    let server = starting.listen(monitor_addr)?;
    let monitor = match listener {
        Some(l) => Some(Monitor::start(l, Box::new(server.view()))?),
        None => None,
    };
    Ok(Daemon { server, monitor })
}

impl Daemon {
    /// Stops monitoring, then the server (see [`ServerHandle::shutdown`]).
    pub fn shutdown(mut self) {
        if let Some(monitor) = self.monitor.take() {
            monitor.stop();
        }
        self.server.shutdown();
    }
}

/// Raises RLIMIT_NOFILE to its hard limit, so many thousands of connections are possible.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    debug!("Maximum file descriptors: {}", limit.rlim_cur);
}

/// Buffers at least this big get their own mappings from glibc's allocator, returned to the
/// system as soon as they are freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Makes glibc's allocator give memory back after a burst, as musl's does: a fixed mmap
/// threshold (glibc raises it after each large free, after which big buffers stay in the
/// heap for good) and a trim threshold of the same size. No-op elsewhere.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Signals the daemon handles; registered before the server starts.
pub fn trap_signals() -> std::io::Result<Signals> {
    Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT])
}

/// Serves signals until one stops the server; returns the process exit status
/// (cli.md §8.1: 0 for SIGINT and after lame duck mode, 1 for SIGTERM, 2 for SIGQUIT).
pub fn run_until_stopped(mut signals: Signals, mut daemon: Daemon, invocation: &Invocation) -> i32 {
    loop {
        let Some(signal) = signals.forever().next() else {
            return 0;
        };
        match signal {
            SIGINT | SIGTERM => {
                let (name, status) = if signal == SIGINT {
                    ("interrupt", 0)
                } else {
                    ("terminated", 1)
                };
                debug!("Trapped \"{name}\" signal");
                daemon.shutdown();
                return status;
            }
            SIGQUIT => return 2,
            SIGUSR1 => {
                debug!("Trapped \"user defined signal 1\" signal");
                logging::reopen();
            }
            SIGHUP => {
                debug!("Trapped \"hangup\" signal");
                match reload(invocation, &mut daemon.server) {
                    Ok(changes) => {
                        changes.iter().for_each(|line| info!("{line}"));
                        info!("Reloaded server configuration");
                    }
                    Err(e) => error!("Failed to reload server configuration: {e}"),
                }
            }
            SIGUSR2 => {
                debug!("Trapped \"user defined signal 2\" signal");
                lame_duck(&mut signals, daemon);
                return 0;
            }
            _ => {}
        }
    }
}

/// Re-reads the configuration file, applies the original flags on top and puts the result
/// in force; the running configuration stays whole on any error.
fn reload(invocation: &Invocation, server: &mut ServerHandle) -> Result<Vec<String>, String> {
    if invocation.config_file.is_none() {
        return Err(
            "can only reload config when a file is provided using -c or --config".to_string(),
        );
    }
    let configured = configure::configure(invocation).map_err(|e| e.trim_end().to_string())?;
    if !configured.warnings.is_empty() {
        eprint!("{}", lines(&configured.warnings));
    }
    let options = configured.options;
    if let Some(feature) = options.unsupported_yet() {
        return Err(format!("{feature} is not supported yet"));
    }
    let log = options.log.clone();
    let changes = server.reload(options)?;
    logging::init(&log)?;
    Ok(changes)
}

/// Lame duck mode: stop accepting, tell the clients, wait the grace period, then close the
/// clients spread over the rest of `lame_duck_duration` (at most a second apart) and stop.
/// SIGTERM is ignored meanwhile; SIGINT stops at once.
fn lame_duck(signals: &mut Signals, daemon: Daemon) {
    let server = &daemon.server;
    let clients = server.enter_lame_duck();
    let (duration, grace) = server.lame_duck_timings();
    if clients > 0 && !interrupted(signals, grace) {
        info!("Closing existing clients");
        let spread = duration.saturating_sub(grace).max(Duration::from_secs(1));
        let interval = (spread / clients as u32).min(Duration::from_secs(1));
        for turn in 0..clients {
            server.close_one_client(turn);
            if turn + 1 < clients && interrupted(signals, interval) {
                break;
            }
        }
    }
    daemon.shutdown();
}

/// Sleeps for `wait`, returning early (true) on SIGINT; other signals are ignored.
fn interrupted(signals: &mut Signals, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if signals.pending().any(|s| s == SIGINT) {
            debug!("Trapped \"interrupt\" signal");
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
