//! `host:port` strings with Go's rules (`net.SplitHostPort`, `net.JoinHostPort` and the
//! reference's `parseHostPort`), so errors read exactly as nats-server's.

use std::fmt::Display;

/// `host:port`, with brackets around a host that contains a colon (IPv6).
pub fn join_host_port(host: &str, port: impl Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host:port` or `[host]:port`; errors are Go's `address <s>: <why>`.
pub fn split_host_port(s: &str) -> Result<(&str, &str), String> {
    let fail = |why: &str| Err(format!("address {s}: {why}"));
    let Some(colon) = s.rfind(':') else {
        return fail(MISSING_PORT);
    };
    let (host, after_host) = if s.starts_with('[') {
        let Some(end) = s.find(']') else {
            return fail("missing ']' in address");
        };
        if end + 1 == s.len() {
            return fail(MISSING_PORT);
        }
        if end + 1 != colon {
            return fail(if s.as_bytes()[end + 1] == b':' {
                TOO_MANY_COLONS
            } else {
                MISSING_PORT
            });
        }
        (&s[1..end], end + 1)
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return fail(TOO_MANY_COLONS);
        }
        (host, 0)
    };
    let start = usize::from(s.starts_with('['));
    if s[start..].contains('[') {
        return fail("unexpected '[' in address");
    }
    if s[after_host..].contains(']') {
        return fail("unexpected ']' in address");
    }
    Ok((host, &s[colon + 1..]))
}

const MISSING_PORT: &str = "missing port in address";
const TOO_MANY_COLONS: &str = "too many colons in address";

/// The reference's `parseHostPort`: a missing port, `0` or `-1` means `default_port`.
pub fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no hostport specified".to_string());
    }
    let with_default;
    let (host, port) = match split_host_port(s) {
        Err(e) if e.ends_with(MISSING_PORT) => {
            with_default = format!("{s}:{default_port}");
            split_host_port(&with_default)?
        }
        other => other?,
    };
    let port_text = port.trim();
    let port: i64 = port_text
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {port_text:?}: invalid syntax"))?;
    let port = match port {
        0 | -1 => default_port,
        p => u16::try_from(p).map_err(|_| format!("invalid port {p}"))?,
    };
    Ok((host.trim().to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_go() {
        assert_eq!(split_host_port("h:1"), Ok(("h", "1")));
        assert_eq!(split_host_port("[::1]:77"), Ok(("::1", "77")));
        assert_eq!(
            split_host_port("::1"),
            Err("address ::1: too many colons in address".into())
        );
        assert_eq!(
            split_host_port("h"),
            Err("address h: missing port in address".into())
        );
        assert_eq!(
            split_host_port("[::1"),
            Err("address [::1: missing ']' in address".into())
        );
        assert_eq!(
            split_host_port("[::1]"),
            Err("address [::1]: missing port in address".into())
        );
        assert_eq!(
            split_host_port("a]:1"),
            Err("address a]:1: unexpected ']' in address".into())
        );
    }

    #[test]
    fn parse_with_default_port() {
        assert_eq!(parse_host_port("myhost", 4222), Ok(("myhost".into(), 4222)));
        assert_eq!(
            parse_host_port("myhost:5222", 1),
            Ok(("myhost".into(), 5222))
        );
        assert_eq!(parse_host_port("h:-1", 9), Ok(("h".into(), 9)));
        assert_eq!(parse_host_port("[::1]:77", 9), Ok(("::1".into(), 77)));
        assert_eq!(
            parse_host_port("::1", 9),
            Err("address ::1: too many colons in address".into())
        );
        assert_eq!(
            parse_host_port("h:x", 9),
            Err("strconv.Atoi: parsing \"x\": invalid syntax".into())
        );
    }

    #[test]
    fn join_brackets_ipv6() {
        assert_eq!(join_host_port("::1", 4222), "[::1]:4222");
        assert_eq!(join_host_port("127.0.0.1", -2), "127.0.0.1:-2");
    }
}
