//! The pid file and the ports file (cli.md §10).

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use log::error;

use crate::options::Options;

/// Writes the process id, without a newline, mode 0660, replacing any old file.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    write_file(path, std::process::id().to_string().as_bytes(), 0o660)
        .map_err(|e| io::Error::new(e.kind(), format!("Could not write pidfile: {e}")))
}

/// `host:port`, with brackets around an IPv6 host.
pub fn host_port(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// Writes `<dir>/<exe>_<pid>.ports` with the client URLs; returns its path.
pub fn write_ports_file(dir: &Path, opts: &Options, client: SocketAddr) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natsd".to_string());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let urls = client_urls(&opts.host, client.port());
    let json = serde_json::json!({ "nats": urls }).to_string();
    write_file(&path, json.as_bytes(), 0o666)?;
    Ok(path)
}

/// Removes the ports file at shutdown, logging a failure as the reference does.
pub fn remove_ports_file(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        error!("Error cleaning up ports file {}: {e}", path.display());
    }
}

/// `nats://host:port` URLs; a wildcard host expands to the loopback address, as natsd has
/// no portable list of interface addresses without another crate.
fn client_urls(host: &str, port: u16) -> Vec<String> {
    let host = match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        Ok(ip) if ip.is_unspecified() => "::1".to_string(),
        _ => host.to_string(),
    };
    vec![format!("nats://{}", host_port(&host, port))]
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    file.write_all(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("::1", 4222), "[::1]:4222");
        assert_eq!(host_port("127.0.0.1", 4222), "127.0.0.1:4222");
        assert_eq!(client_urls("0.0.0.0", 1), vec!["nats://127.0.0.1:1"]);
    }
}
