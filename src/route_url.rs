//! Route URLs: `nats-route://user:pass@host:port`, `nats://host:port` or `host:port`, as
//! `cluster.routes`, `--routes` and gossiped route INFOs give them.

use std::fmt;

use crate::hostport::{join_host_port, split_host_port};

/// The port of a leafnode remote URL that names none.
pub const DEFAULT_LEAF_PORT: u16 = 7422;

/// A parsed route URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteUrl {
    /// The scheme as written (`nats-route` when none was).
    pub scheme: String,
    /// Credentials from the URL's userinfo (`user:pass@`).
    pub user: Option<String>,
    pub pass: Option<String>,
    /// Host name or address, without brackets.
    pub host: String,
    pub port: u16,
}

impl RouteUrl {
    /// Parses a route URL; the scheme and any path are optional and ignored.
    pub fn parse(text: &str) -> Result<RouteUrl, String> {
        Self::parse_with(text, None)
    }

    /// Parses a leafnode remote URL: as a route URL, with port 7422 when none is given.
    pub fn parse_leaf(text: &str) -> Result<RouteUrl, String> {
        Self::parse_with(text, Some(DEFAULT_LEAF_PORT))
    }

    fn parse_with(text: &str, default_port: Option<u16>) -> Result<RouteUrl, String> {
        let fail = |why: &str| format!("invalid route URL {text:?}: {why}");
        let text = text.trim();
        let (scheme, rest) = text.split_once("://").unwrap_or(("nats-route", text));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (user, pass) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, pass)) => (Some(unescape(user)), Some(unescape(pass))),
                None => (Some(unescape(info)), None),
            },
        };
        let (host, port) = match (split_host_port(hostport), default_port) {
            (Ok((host, port)), _) => (host, port.parse::<u16>().map_err(|_| fail("invalid port"))?),
            (Err(_), Some(port)) if !hostport.contains(':') || hostport.ends_with(']') => {
                (hostport.trim_start_matches('[').trim_end_matches(']'), port)
            }
            (Err(e), _) => return Err(fail(&e)),
        };
        if host.is_empty() {
            return Err(fail("missing host"));
        }
        Ok(RouteUrl {
            scheme: scheme.to_string(),
            user,
            pass,
            host: host.to_string(),
            port,
        })
    }

    /// `host:port` (brackets around IPv6), the form `/varz` lists and peers compare.
    pub fn host_port(&self) -> String {
        join_host_port(&self.host, self.port)
    }

    /// `scheme://host:port`, as configured but without credentials (for logs).
    pub fn without_credentials(&self) -> String {
        format!("{}://{}", self.scheme, self.host_port())
    }

    /// Whether two URLs name the same server (credentials aside), case-insensitively.
    pub fn same_server(&self, other: &RouteUrl) -> bool {
        self.port == other.port && self.host.eq_ignore_ascii_case(&other.host)
    }
}

impl fmt::Display for RouteUrl {
    /// `nats-route://host:port/`, without credentials (for logs and INFO `ip`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nats-route://{}/", self.host_port())
    }
}

/// Undoes `%XX` escapes in userinfo (a bad escape is kept as written).
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_urls_default_to_port_7422() {
        let url = RouteUrl::parse_leaf("nats-leaf://u:p@hub").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("hub", 7422));
        assert_eq!(url.user.as_deref(), Some("u"));
        assert_eq!(
            RouteUrl::parse_leaf("tls://[::1]").unwrap().host_port(),
            "[::1]:7422"
        );
        assert_eq!(RouteUrl::parse_leaf("hub:4000").unwrap().port, 4000);
        assert!(RouteUrl::parse("nats://hub").is_err());
    }

    #[test]
    fn parses_the_forms_in_use() {
        let url = RouteUrl::parse("nats-route://ru:p%40ss@127.0.0.1:6222").unwrap();
        assert_eq!(
            url,
            RouteUrl {
                scheme: "nats-route".into(),
                user: Some("ru".into()),
                pass: Some("p@ss".into()),
                host: "127.0.0.1".into(),
                port: 6222
            }
        );
        assert_eq!(url.to_string(), "nats-route://127.0.0.1:6222/");
        let plain = RouteUrl::parse(" nats://Host.example:4248/ ").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.user.as_deref()),
            ("Host.example", 4248, None)
        );
        let v6 = RouteUrl::parse("nats-route://[::1]:7000").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.host_port()),
            ("::1", "[::1]:7000".to_string())
        );
        assert_eq!(
            RouteUrl::parse("host:6222").unwrap().without_credentials(),
            "nats-route://host:6222"
        );
        assert_eq!(plain.without_credentials(), "nats://Host.example:4248");
        assert!(v6.same_server(&RouteUrl::parse("nats://[::1]:7000").unwrap()));
        assert!(plain.same_server(&RouteUrl::parse("nats://host.EXAMPLE:4248").unwrap()));
    }

    #[test]
    fn rejects_what_cannot_be_dialled() {
        assert!(RouteUrl::parse("nats-route://127.0.0.1").is_err());
        assert!(RouteUrl::parse("nats-route://:6222").is_err());
        assert!(RouteUrl::parse("nats-route://h:99999").is_err());
    }
}
