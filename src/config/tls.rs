//! `tls {}` (`parseTLS`, and the option checks of `GenTLSConfig`). Loading and checking the
//! certificate, key and CA files is left to the TLS setup.

use std::collections::BTreeSet;

use super::{get, parse_duration, Collector, Step};
use crate::conf::{ConfError, Entry, Kind, Value};
use crate::gofmt::quote_str;
use crate::options::{Options, TlsOptions, TLS_CIPHER_SUITES, TLS_CURVES};

/// Prefix of most of the reference's TLS messages.
const WHAT: &str = "error parsing tls config";

/// The top-level `tls` key: client TLS.
pub(super) fn apply_top_level(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    if let Some(tls) = parse_checked(out, &entry.value, true) {
        opts.tls = Some(tls);
    }
    Ok(())
}

/// A TLS block with its file-name checks, reported at the block's key; `None` after a
/// reported error. The reference reads the block in a function of its own that recovers
/// its panics, so even a wrong value type does not end the block around it.
pub(super) fn parse_checked(
    out: &mut Collector,
    value: &Value,
    client_context: bool,
) -> Option<TlsOptions> {
    let tls = parse(value, client_context)
        .map_err(|err| out.error(err))
        .ok()?;
    let missing = match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => "key_file",
        (None, Some(_)) => "cert_file",
        _ => return Some(tls),
    };
    out.error(value.error(format!("missing '{missing}' in TLS configuration")));
    None
}

/// Reads a TLS map, stopping at the first problem. `client_context` is true for the
/// client `tls` block, where `verify_cert_and_check_known_urls` is refused.
fn parse(value: &Value, client_context: bool) -> Result<TlsOptions, ConfError> {
    let mut tls = TlsOptions::default();
    for entry in get::map(value)? {
        let key = entry.key.to_lowercase();
        let value = &entry.value;
        match key.as_str() {
            "cert_file" | "key_file" | "ca_file" => {
                let Kind::String(path) = &value.kind else {
                    return Err(value.error(format!("{WHAT}, expected '{key}' to be filename")));
                };
                let path = (!path.is_empty()).then(|| path.into());
                match key.as_str() {
                    "cert_file" => tls.cert_file = path,
                    "key_file" => tls.key_file = path,
                    _ => tls.ca_file = path,
                }
            }
            "insecure" | "verify" | "verify_and_map" | "verify_cert_and_check_known_urls" => {
                let Kind::Bool(on) = value.kind else {
                    return Err(value.error(format!("{WHAT}, expected '{key}' to be a boolean")));
                };
                match key.as_str() {
                    "insecure" => tls.insecure = on,
                    "verify" => tls.verify = on,
                    "verify_and_map" => {
                        tls.verify |= on;
                        tls.verify_and_map = on;
                    }
                    _ => {
                        if on && client_context {
                            return Err(value.error(
                                "verify_cert_and_check_known_urls not supported in this context",
                            ));
                        }
                        tls.verify |= on;
                        tls.verify_cert_and_check_known_urls = on;
                    }
                }
            }
            "cipher_suites" => {
                tls.cipher_suites = names(value, &key, &TLS_CIPHER_SUITES, "cipher")?;
            }
            "curve_preferences" => {
                tls.curve_preferences = names(value, &key, &TLS_CURVES, "curve preference")?;
            }
            "timeout" => {
                tls.timeout = match &value.kind {
                    Kind::Int(n) => *n as f64,
                    Kind::Float(f) => *f,
                    Kind::String(text) => match parse_duration(text) {
                        Ok(nanos) => nanos as f64 / 1e9,
                        Err(err) => return Err(value.error(format!("{WHAT}, 'timeout' {err}"))),
                    },
                    _ => return Err(value.error(format!("{WHAT}, 'timeout' wrong type"))),
                }
            }
            "connection_rate_limit" => {
                let Kind::Int(n) = value.kind else {
                    return Err(value.error(format!("{WHAT}, 'connection_rate_limit' wrong type")));
                };
                tls.connection_rate_limit = n;
            }
            "pinned_certs" => tls.pinned_certs = pinned_certs(value)?,
            _ => {
                let field = quote_str(&entry.key);
                return Err(value.error(format!("{WHAT}, unknown field [{field}]")));
            }
        }
    }
    Ok(tls)
}

/// `cipher_suites` / `curve_preferences`: a non-empty array of known names.
fn names(value: &Value, key: &str, known: &[&str], what: &str) -> Result<Vec<String>, ConfError> {
    let items = get::array(value)?;
    if items.is_empty() {
        return Err(value.error(format!("{WHAT}, '{key}' cannot be empty")));
    }
    items
        .iter()
        .map(|item| {
            let name = get::string(item)?;
            if known.contains(&name) {
                Ok(name.to_string())
            } else {
                Err(item.error(format!("unrecognized {what} {name}")))
            }
        })
        .collect()
}

/// `pinned_certs`: hex SHA-256 digests, lower-cased.
fn pinned_certs(value: &Value) -> Result<BTreeSet<String>, ConfError> {
    const SPKI: &str = "hex-encoded sha256 of DER encoded SubjectPublicKeyInfo";
    let Kind::Array(items) = &value.kind else {
        let message = format!("{WHAT}, expected 'pinned_certs' to be a list of {SPKI}");
        return Err(value.error(message));
    };
    items
        .iter()
        .map(|item| {
            let digest = get::string(item)?.to_lowercase();
            if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(digest)
            } else {
                let message =
                    format!("{WHAT}, 'pinned_certs' key {digest} does not look like {SPKI}");
                Err(item.error(message))
            }
        })
        .collect()
}
