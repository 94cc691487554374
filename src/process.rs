//! Process-level concerns of the daemon: the descriptor limit and the signal loop.

use log::{debug, error, warn};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::logging;
use crate::server::ServerHandle;

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

/// Signals the daemon handles; registered before the server starts.
pub fn trap_signals() -> std::io::Result<Signals> {
    Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT])
}

/// Serves signals until one stops the server; returns the process exit status
/// (cli.md §8.1: 0 for SIGINT, 1 for SIGTERM, 2 for SIGQUIT).
pub fn run_until_stopped(mut signals: Signals, server: ServerHandle) -> i32 {
    for signal in signals.forever() {
        match signal {
            SIGINT | SIGTERM => {
                let (name, status) = if signal == SIGINT {
                    ("interrupt", 0)
                } else {
                    ("terminated", 1)
                };
                debug!("Trapped \"{name}\" signal");
                server.shutdown();
                return status;
            }
            SIGQUIT => return 2,
            SIGUSR1 => {
                debug!("Trapped \"user defined signal 1\" signal");
                logging::reopen();
            }
            SIGHUP => {
                debug!("Trapped \"hangup\" signal");
                error!("Failed to reload server configuration: can only reload config when a file is provided using -c or --config");
            }
            SIGUSR2 => {
                debug!("Trapped \"user defined signal 2\" signal");
                warn!("Lame duck mode is not supported yet; signal ignored");
            }
            _ => {}
        }
    }
    0
}
