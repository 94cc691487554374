//! URL lists of `cluster { routes }` and leafnode remotes (`parseURLs`, `parseURL`), and
//! whether Go's `url.Parse` accepts a string: the reference reports a URL it rejects as
//! `error parsing route url ["..."]`. Only acceptance matters here (the message does not
//! say why), so this follows `net/url`'s checks without building the URL.

use std::collections::HashSet;

use super::{get, Collector};
use crate::conf::{ConfError, Value};
use crate::gofmt::quote_str;

/// `parseURLs`: an array of URL strings for `what` (`route`, `leafnode`). A duplicate (as
/// written) is a warning and dropped; each URL is kept trimmed, with the element it came
/// from. `None` after an error (a non-string element ends the list).
pub(super) fn parse_urls<'a>(
    out: &mut Collector,
    items: &'a [Value],
    what: &str,
) -> Option<Vec<(&'a Value, String)>> {
    let mut seen = HashSet::new();
    let (mut urls, mut failed) = (Vec::new(), false);
    for item in items {
        let text = get::string(item).map_err(|err| out.error(err)).ok()?;
        if !seen.insert(text) {
            out.warn(item, text, &format!("Duplicate {what} entry detected"));
            continue;
        }
        match parse_url(item, text, what) {
            Ok(url) => urls.push((item, url)),
            Err(err) => {
                out.error(err);
                failed = true;
            }
        }
    }
    (!failed).then_some(urls)
}

/// `parseURL`: `text` trimmed, if Go's `url.Parse` accepts it; else the reference's error
/// at `at`.
pub(super) fn parse_url(at: &Value, text: &str, what: &str) -> Result<String, ConfError> {
    let trimmed = text.trim();
    if go_url_parses(trimmed) {
        Ok(trimmed.to_string())
    } else {
        let message = format!("error parsing {what} url [{}]", quote_str(trimmed));
        Err(at.error(message))
    }
}

/// The scheme Go's `url.Parse` finds in `text` (lower-cased, as Go stores it; empty when
/// there is none).
pub(super) fn go_url_scheme(text: &str) -> String {
    split_scheme(text).map_or_else(String::new, |(scheme, _)| scheme.to_lowercase())
}

/// Whether Go's `url.Parse(text)` succeeds.
pub(super) fn go_url_parses(text: &str) -> bool {
    let (url, fragment) = text.split_once('#').unwrap_or((text, ""));
    parses_without_fragment(url) && unescape_ok(fragment.as_bytes(), Mode::Other)
}

/// Go's `parse(rawURL, viaRequest=false)`.
fn parses_without_fragment(url: &str) -> bool {
    if url.bytes().any(|b| b < b' ' || b == 0x7f) {
        return false;
    }
    if url == "*" {
        return true;
    }
    let Some((scheme, rest)) = split_scheme(url) else {
        return false;
    };
    let rest = match rest.strip_suffix('?') {
        Some(stripped) if rest.matches('?').count() == 1 => stripped,
        _ => rest.split_once('?').map_or(rest, |(before, _)| before),
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // scheme:opaque
            return true;
        }
        let segment = rest.split_once('/').map_or(rest, |(first, _)| first);
        if segment.contains(':') {
            return false;
        }
    }
    let mut path = rest;
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, tail) = after.find('/').map_or((after, ""), |i| after.split_at(i));
        if !authority_ok(authority) {
            return false;
        }
        path = tail;
    }
    unescape_ok(path.as_bytes(), Mode::Other)
}

/// Go's `getScheme`: `Some((scheme, rest))`, scheme empty when there is none; `None` for
/// "missing protocol scheme" (a leading `:`).
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    for (i, c) in url.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return None,
            b':' => return Some((&url[..i], &url[i + 1..])),
            _ => return Some(("", url)),
        }
    }
    Some(("", url))
}

/// Go's `parseAuthority`: `[userinfo@]host[:port]`.
fn authority_ok(authority: &str) -> bool {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if !host_ok(host) {
        return false;
    }
    userinfo.is_none_or(|info| {
        let (user, password) = info.split_once(':').unwrap_or((info, ""));
        info.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b))
            && unescape_ok(user.as_bytes(), Mode::Other)
            && unescape_ok(password.as_bytes(), Mode::Other)
    })
}

/// Go's `parseHost`.
fn host_ok(host: &str) -> bool {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return false;
        };
        if !optional_port_ok(&host[close + 1..]) {
            return false;
        }
        let bytes = host.as_bytes();
        return match host[..close].find("%25") {
            Some(zone) => {
                unescape_ok(&bytes[..zone], Mode::Host)
                    && unescape_ok(&bytes[zone..close], Mode::Zone)
                    && unescape_ok(&bytes[close..], Mode::Host)
            }
            None => unescape_ok(host.as_bytes(), Mode::Host),
        };
    }
    if let Some(colon) = host.rfind(':') {
        if !optional_port_ok(&host[colon..]) {
            return false;
        }
    }
    unescape_ok(host.as_bytes(), Mode::Host)
}

/// Go's `validOptionalPort`: empty, or `:` followed by digits.
fn optional_port_ok(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Which part of a URL is being unescaped (Go's `encoding` modes that matter here).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Host,
    Zone,
    Other,
}

/// Go's `unescape` error checks: `%` needs two hex digits; in a host, `%` may only encode
/// non-ASCII bytes (or be `%25`) and ASCII bytes outside its set are invalid; in a zone
/// every escape must stand for a byte allowed in a host (or a space).
fn unescape_ok(text: &[u8], mode: Mode) -> bool {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let (Some(&hi), Some(&lo)) = (text.get(i + 1), text.get(i + 2)) else {
                return false;
            };
            let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) else {
                return false;
            };
            let escaped = &text[i..i + 3];
            match mode {
                Mode::Host if hi < 8 && escaped != b"%25" => return false,
                Mode::Zone => {
                    let byte = (hi << 4) | lo;
                    if escaped != b"%25" && byte != b' ' && !host_byte_ok(byte) {
                        return false;
                    }
                }
                _ => {}
            }
            i += 3;
        } else {
            if mode != Mode::Other && text[i] < 0x80 && !host_byte_ok(text[i]) {
                return false;
            }
            i += 1;
        }
    }
    true
}

/// ASCII bytes Go's `shouldEscape(c, encodeHost)` leaves alone.
fn host_byte_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c)
}

fn hex(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_like_go() {
        for url in [
            "nats-route://user1:pass1@127.0.0.1:4245",
            "nats://a:1",
            "nats://a:1:2",
            "nats://[::1]:4222",
            "nats://[fe80::1%25en0]:4222",
            "nats://h:4222/path?q#frag",
            "nats://h%C3%A9:1",
            "localhost:4222",
            "nats://:4222",
            "nats://u%20x:p@h:1",
            "relative/path",
            "*",
            "",
        ] {
            assert!(go_url_parses(url), "{url}");
        }
    }

    #[test]
    fn rejected_like_go() {
        for url in [
            "://x",
            ":",
            "nats://a b:1",
            "nats://h:x",
            "nats://[::1",
            "nats://[::1]x",
            "nats://h%41:1",
            "nats://h:1/%zz",
            "nats://u^:p@h:1",
            "nats://ü:p@h:1",
            "nats://u:p:%zz@h:1",
            "nats://h\u{1}:1",
            "nats://h:1#%x",
            "1a:b",
        ] {
            assert!(!go_url_parses(url), "{url}");
        }
    }
}
