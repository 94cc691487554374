//! Process-level concerns of the daemon: starting the server and its monitor together
//! ([`start`]), the descriptor limit, the signal loop (stop, reload, log reopen, lame
//! duck), and what the service manager is told of it ([`Systemd`]).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::cli::Invocation;
use crate::configure::{self, lines};
use crate::gofmt;
use crate::logging;
use crate::monitor::{Monitor, MonitorListener};
use crate::notify::{self, Notifier};
use crate::server::{ServerHandle, Starting, Supervision};

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

/// glibc: one malloc arena for every thread, set before the threads start. Each reactor
/// thread would otherwise get an arena of its own, whose free top (megabytes after a
/// burst of big messages) `malloc_trim` does not return; the main arena's it does, so
/// memory settles back to idle. The message path allocates little (small blocks come from
/// per-thread caches): server CPU per message stayed within noise in an A/B run. No-op
/// with other C libraries.
pub fn use_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator parameter; no thread is running yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Signals the daemon handles; registered before the server starts.
pub fn trap_signals() -> std::io::Result<Signals> {
    Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT])
}

/// Tells the service manager the daemon is ready (its listeners accept), then serves
/// signals until one stops the server; returns the process exit status (cli.md §8.1: 0 for
/// SIGINT and after lame duck mode, 1 for SIGTERM, 2 for SIGQUIT).
pub fn run_until_stopped(mut signals: Signals, mut daemon: Daemon, invocation: &Invocation) -> i32 {
    let systemd = Systemd::start(&daemon.server);
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
                systemd.stopping("shutting down");
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
                systemd.reloading();
                let result = reload(invocation, &mut daemon.server);
                match &result {
                    Ok(changes) => {
                        changes.iter().for_each(|line| info!("{line}"));
                        info!("Reloaded server configuration");
                    }
                    Err(e) => error!("Failed to reload server configuration: {e}"),
                }
                systemd.reloaded(result.err());
            }
            SIGUSR2 => {
                debug!("Trapped \"user defined signal 2\" signal");
                let (duration, _) = daemon.server.lame_duck_timings();
                let over = gofmt::duration(duration);
                systemd.stopping(&format!("lame duck mode, closing clients over {over}"));
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

/// What the service manager is told, when `$NOTIFY_SOCKET` names one (see [`notify`]):
/// `READY=1` once the listeners accept and after each reload, `RELOADING=1` when a reload
/// starts, `STOPPING=1` on shutdown and lame duck mode, each with a `STATUS=` line
/// (listeners and connection counts), and `WATCHDOG=1` every half `$WATCHDOG_USEC` while
/// every reactor still turns. Without the variable every call does nothing.
struct Systemd(Option<Arc<Manager>>);

struct Manager {
    notifier: Notifier,
    state: Mutex<ManagerState>,
}

struct ManagerState {
    phase: Phase,
    /// Said after the counts while ready: the last reload's failure.
    note: String,
    /// The last status line sent.
    status: String,
    server: Supervision,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ready,
    Reloading,
    Stopping,
}

impl Systemd {
    /// Sends `READY=1` and starts the watchdog thread, when there is a service manager.
    fn start(server: &ServerHandle) -> Systemd {
        let notifier = match Notifier::from_env() {
            Ok(Some(notifier)) => notifier,
            Ok(None) => return Systemd(None),
            Err(e) => {
                warn!("Not notifying the service manager: {e}");
                return Systemd(None);
            }
        };
        let manager = Arc::new(Manager {
            notifier,
            state: Mutex::new(ManagerState {
                phase: Phase::Ready,
                note: String::new(),
                status: String::new(),
                server: server.supervision(),
            }),
        });
        {
            let mut state = manager.lock();
            state.status = state.ready_status();
            manager.send(&notify::ready(&state.status));
        }
        if let Some(interval) = notify::watchdog_interval_from_env() {
            debug!("Notifying the service manager's watchdog every {interval:?}");
            let watch = (manager.clone(), server.supervision());
            let spawned = std::thread::Builder::new()
                .name("watchdog".into())
                .spawn(move || watchdog(&watch.0, watch.1, interval));
            if let Err(e) = spawned {
                warn!("Unable to start the watchdog thread: {e}");
            }
        }
        Systemd(Some(manager))
    }

    fn reloading(&self) {
        if let Some(manager) = &self.0 {
            let mut state = manager.lock();
            state.phase = Phase::Reloading;
            state.status = "Reloading configuration".into();
            manager.send(&notify::reloading(notify::monotonic_usec(), &state.status));
        }
    }

    /// `READY=1` after a reload, successful (`None`) or refused (the error).
    fn reloaded(&self, error: Option<String>) {
        if let Some(manager) = &self.0 {
            let mut state = manager.lock();
            state.phase = Phase::Ready;
            state.note = error.map_or(String::new(), |e| {
                format!("; last reload failed: {}", first_line(&e, 200))
            });
            state.status = state.ready_status();
            manager.send(&notify::ready(&state.status));
        }
    }

    /// `STOPPING=1`, with `what` (shutting down, lame duck mode) in the status line.
    fn stopping(&self, what: &str) {
        if let Some(manager) = &self.0 {
            let mut state = manager.lock();
            state.phase = Phase::Stopping;
            let connections = counts(&state.server);
            state.status = format!("Stopping: {what}; {connections}");
            manager.send(&notify::stopping(&state.status));
        }
    }
}

impl Manager {
    fn lock(&self) -> std::sync::MutexGuard<'_, ManagerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, message: &str) {
        if let Err(e) = self.notifier.send(message) {
            debug!("Service manager notification failed: {e}");
        }
    }
}

impl ManagerState {
    /// `Ready: clients on 0.0.0.0:4222, monitoring on 127.0.0.1:8222; 12 clients`.
    fn ready_status(&self) -> String {
        let listeners: Vec<String> = self
            .server
            .listeners()
            .iter()
            .map(|(role, addr)| format!("{role} on {addr}"))
            .collect();
        let connections = counts(&self.server);
        format!(
            "Ready: {}; {connections}{}",
            listeners.join(", "),
            self.note
        )
    }
}

/// The first line of `text`, at most `max` characters, `…` when cut: a file's error list
/// must not make the message outgrow the manager's datagram buffer (4 KiB), which drops
/// longer ones whole.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut cut: String = line.chars().take(max).collect();
    if cut.len() < text.trim_end().len() {
        cut.push('…');
    }
    cut
}

/// `12 clients, 2 routes, 1 leafnode` (routes and leafnodes only when configured).
fn counts(server: &Supervision) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let connections = server.connections();
    let mut parts = vec![plural(connections.clients, "client")];
    if let Some(n) = connections.routes {
        parts.push(plural(n, "route"));
    }
    if let Some(n) = connections.leafnodes {
        parts.push(plural(n, "leafnode"));
    }
    parts.join(", ")
}

/// The watchdog thread: every `interval`, `WATCHDOG=1` if every reactor began a turn since
/// the last time (they are woken each time, so an idle server passes and a reactor stuck in
/// a turn does not), with the status line when the counts changed. Ends at `STOPPING=1`.
fn watchdog(manager: &Manager, mut probe: Supervision, interval: Duration) {
    let mut stalled = false;
    loop {
        std::thread::sleep(interval);
        let turned = probe.reactors_turned();
        let mut state = manager.lock();
        if state.phase == Phase::Stopping {
            return;
        }
        if !turned {
            if !stalled {
                let within = gofmt::duration(interval);
                warn!(
                    "A reactor did not turn within {within}: withholding the watchdog notification"
                );
                stalled = true;
            }
            continue;
        }
        if stalled {
            info!("Reactors turn again: notifying the watchdog");
            stalled = false;
        }
        let mut message = notify::WATCHDOG.to_string();
        if state.phase == Phase::Ready {
            let status = state.ready_status();
            if status != state.status {
                message = format!("{message}\n{}", notify::status(&status));
                state.status = status;
            }
        }
        manager.send(&message);
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn reload_errors_are_cut_to_one_short_line() {
        assert_eq!(first_line("bad port", 200), "bad port");
        assert_eq!(
            first_line("a.conf:1:2: x\na.conf:3:4: y\n", 200),
            "a.conf:1:2: x…"
        );
        assert_eq!(
            first_line(&"é".repeat(300), 200),
            format!("{}…", "é".repeat(200))
        );
        assert_eq!(first_line("one\n", 200), "one");
    }
}
