//! The pid file and the ports file (cli.md §10).

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use log::error;

use crate::gofmt;
use crate::hostport::join_host_port;

use crate::options::Options;

/// Writes the process id, without a newline, mode 0660, replacing any old file.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    write_file(path, std::process::id().to_string().as_bytes(), 0o660).map_err(|e| {
        let text = gofmt::path_error("open", path, &e);
        io::Error::new(e.kind(), format!("Could not write pidfile: {text}"))
    })
}

/// The listeners a ports file lists.
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    pub client: SocketAddr,
    /// The monitoring scheme (`http`/`https`) and address.
    pub monitor: Option<(&'static str, SocketAddr)>,
    /// The route listener.
    pub cluster: Option<SocketAddr>,
}

/// Writes `<dir>/<exe>_<pid>.ports` with the client, monitoring and cluster URLs and
/// returns its path; a failure is logged, not fatal, as in the reference.
pub fn write_ports_file(dir: &Path, opts: &Options, listening: Listening) -> Option<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natsd".to_string());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let client = listening.client;
    let client_scheme = tls_scheme(opts.tls.is_some());
    let mut ports = serde_json::json!({ "nats": urls(client_scheme, &opts.host, client.port()) });
    if let Some((scheme, addr)) = listening.monitor {
        ports["monitoring"] = urls(scheme, &addr.ip().to_string(), addr.port()).into();
    }
    if let Some(addr) = listening.cluster {
        let scheme = tls_scheme(opts.cluster.tls.is_some());
        ports["cluster"] = urls(scheme, &addr.ip().to_string(), addr.port()).into();
    }
    let json = ports.to_string();
    match write_file(&path, json.as_bytes(), 0o666) {
        Ok(()) => Some(path),
        Err(e) => {
            let text = gofmt::path_error("open", &path, &e);
            error!("Error writing ports file ({}): {text}", path.display());
            None
        }
    }
}

/// Removes the ports file at shutdown, logging a failure as the reference does.
pub fn remove_ports_file(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        error!("Error cleaning up ports file {}: {e}", path.display());
    }
}

/// The scheme of client and route URLs: `tls` when the listener requires TLS, as the
/// reference writes them.
fn tls_scheme(tls: bool) -> &'static str {
    if tls {
        "tls"
    } else {
        "nats"
    }
}

/// `scheme://host:port` URLs; a wildcard host lists every interface address, as the
/// reference does.
fn urls(scheme: &str, host: &str, port: u16) -> Vec<String> {
    host_ports(host, port)
        .into_iter()
        .map(|hp| format!("{scheme}://{hp}"))
        .collect()
}

/// `host:port` for a listener; a wildcard host lists every interface address.
pub fn host_ports(host: &str, port: u16) -> Vec<String> {
    let hosts = match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => interface_addresses(),
        _ => Vec::new(),
    };
    let hosts = if hosts.is_empty() {
        vec![host.to_string()]
    } else {
        hosts.iter().map(IpAddr::to_string).collect()
    };
    hosts.iter().map(|h| join_host_port(h, port)).collect()
}

/// The IPv4 and IPv6 addresses of all interfaces, grouped by interface like Go's
/// `net.Interfaces`.
fn interface_addresses() -> Vec<IpAddr> {
    let mut found: Vec<(u32, IpAddr)> = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read, then free once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return Vec::new();
        }
        let mut cursor = list;
        while let Some(entry) = cursor.as_ref() {
            if let Some(ip) = sockaddr_ip(entry.ifa_addr) {
                found.push((libc::if_nametoindex(entry.ifa_name), ip));
            }
            cursor = entry.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found.sort_by_key(|(index, _)| *index);
    found.into_iter().map(|(_, ip)| ip).collect()
}

/// The IP address in a `sockaddr`, if it is an IPv4 or IPv6 one.
///
/// # Safety
/// `addr` is null or points to a valid `sockaddr` of the size its family implies.
unsafe fn sockaddr_ip(addr: *const libc::sockaddr) -> Option<IpAddr> {
    let family = i32::from(addr.as_ref()?.sa_family);
    match family {
        libc::AF_INET => {
            let v4 = &*(addr as *const libc::sockaddr_in);
            Some(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()))
        }
        libc::AF_INET6 => {
            let v6 = &*(addr as *const libc::sockaddr_in6);
            Some(IpAddr::from(v6.sin6_addr.s6_addr))
        }
        _ => None,
    }
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
    fn wildcard_hosts_list_interfaces() {
        assert_eq!(urls("nats", "127.0.0.1", 1), vec!["nats://127.0.0.1:1"]);
        let any = urls("nats", "0.0.0.0", 1);
        assert!(any.contains(&"nats://127.0.0.1:1".to_string()), "{any:?}");
    }
}
