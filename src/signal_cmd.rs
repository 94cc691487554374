//! `natsd --signal <command>[=<pid or pid file>]`: signal a running server and exit, as
//! nats-server's `-sl` (cli.md §8.2). Without a pid, the running natsd is found by name.

use std::path::Path;

use crate::gofmt;

/// The signal for a `-sl` command.
fn signal_for(command: &str) -> Option<libc::c_int> {
    Some(match command {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        _ => return None,
    })
}

/// Sends the signal `request` names; the error is the text to print after `natsd: `.
pub fn send(request: &str) -> Result<(), String> {
    let parts: Vec<&str> = request.split('=').collect();
    if parts.len() > 2 {
        return Err(format!(
            "invalid signal parameters: [{}]",
            parts[2..].join(" ")
        ));
    }
    let command = parts[0];
    let signal = signal_for(command).ok_or_else(|| format!("unknown signal {command:?}"))?;
    let pid = match parts.get(1) {
        Some(given) => parse_pid(&pid_text(given))?,
        None => find_running()?,
    };
    // SAFETY: kill only sends a signal; no memory is shared.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(gofmt::error_text(&std::io::Error::last_os_error()));
    }
    Ok(())
}

/// A pid, or the content of the pid file at that path (used verbatim, as the reference).
fn pid_text(given: &str) -> String {
    std::fs::read_to_string(given).unwrap_or_else(|_| given.to_string())
}

fn parse_pid(text: &str) -> Result<libc::pid_t, String> {
    text.parse().map_err(|_| format!("invalid pid: {text}"))
}

/// The one other running process with natsd's executable name.
fn find_running() -> Result<libc::pid_t, String> {
    let name = own_name();
    let own = std::process::id() as libc::pid_t;
    let pids: Vec<libc::pid_t> = std::fs::read_dir("/proc")
        .map_err(|_| "unable to resolve pid, try providing one".to_string())?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| pid != own && process_name(pid).as_deref() == Some(name.as_str()))
        .collect();
    match pids.as_slice() {
        [] => Err(format!("no {name} processes running")),
        [pid] => Ok(*pid),
        many => Err(format!(
            "multiple {name} processes running:\n{}",
            many.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// This executable's name as the kernel reports it (`comm`, at most 15 bytes).
fn own_name() -> String {
    process_name(std::process::id() as libc::pid_t).unwrap_or_else(|| "natsd".to_string())
}

fn process_name(pid: libc::pid_t) -> Option<String> {
    let comm = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("comm"));
    comm.ok().map(|c| c.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_in_the_reference_words() {
        assert_eq!(send("bogus=1"), Err("unknown signal \"bogus\"".into()));
        assert_eq!(send("reload=abc"), Err("invalid pid: abc".into()));
        assert_eq!(
            send("reload=1=c"),
            Err("invalid signal parameters: [c]".into())
        );
        assert_eq!(send("reload=999999999"), Err("no such process".into()));
    }

    #[test]
    fn pid_files_are_read_verbatim() {
        let path = std::env::temp_dir().join(format!("natsd-sl-{}.pid", std::process::id()));
        std::fs::write(&path, "12\n").unwrap();
        let text = pid_text(path.to_str().unwrap());
        assert_eq!(parse_pid(&text), Err("invalid pid: 12\n".into()));
        std::fs::remove_file(&path).unwrap();
    }
}
