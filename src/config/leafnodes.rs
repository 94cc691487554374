//! `leafnodes {}` / `leaf {}` (`parseLeafNodes`, `parseLeafAuthorization`, `parseLeafUsers`,
//! `parseRemoteLeafNodes`, with the checks of `validateLeafNodeAuthOptions` and
//! `checkLeafMinVersionConfig`), leafnodes.md §1.
//!
//! As in the reference, a wrong value type ends the `leafnodes` block, except inside
//! `remotes` (all remotes are lost, the rest of the block is read), inside a `users` entry
//! (the users are lost) and inside a `tls` block. The accounts that `authorization` and the
//! remotes name are checked at start ([`Options::validate`]), not here.
//!
//! natsd refuses what it does not implement (leafnodes.md §1.6): websocket remotes (URLs
//! whose scheme starts with `ws`, as the reference decides, and the `ws_*` keys), remotes
//! with `hub: true`, and `jetstream_cluster_migrate`.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{
    apply_entry, auth, get, key, listen_to, non_empty, positive, tls, url, Apply, Collector, Key,
    Step,
};
use crate::conf::{ConfError, Entry, Kind, Value};
use crate::gofmt::quote_str;
use crate::gopath;
use crate::options::{
    LeafUser, LeafnodeOptions, Options, RemoteLeafOptions, TlsOptions, DEFAULT_LEAF_RECONNECT,
};

/// natsd's refusal of websocket remotes.
const WEBSOCKET: &str = "natsd does not support leafnode websocket remotes";

/// The `leafnodes` and `leaf` keys. A wrong value type inside ends the block (reported by
/// the caller).
pub(super) fn apply(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let value = &entry.value;
    let Kind::Map(map) = &value.kind else {
        let got = value.kind.type_name();
        out.error(value.error(format!("Expected map to define a leafnode, got {got}")));
        return Ok(());
    };
    for entry in map {
        apply_entry(out, LEAFNODES, entry, &mut opts.leafnodes)?;
    }
    Ok(())
}

/// The keys of `leafnodes {}`.
#[rustfmt::skip]
static LEAFNODES: &[Key<LeafnodeOptions>] = &[
    key(&["listen"],                            Apply::With(|out, e, l| listen_to(out, e, &mut l.host, &mut l.port))),
    key(&["port"],                              Apply::Int(|l, n| l.port = n)),
    key(&["host", "net"],                       Apply::Str(|l, s| l.host = non_empty(s))),
    key(&["authorization"],                     Apply::With(authorization)),
    key(&["remotes"],                           Apply::With(remotes)),
    key(&["reconnect", "reconnect_delay", "reconnect_interval"],
                                                Apply::Int(|l, n| l.reconnect = reconnect(n))),
    key(&["tls"],                               Apply::With(|out, e, l| set_tls(out, e, &mut l.tls))),
    key(&["leafnode_advertise", "advertise"],   Apply::Str(|l, s| l.advertise = non_empty(s))),
    key(&["no_advertise"],                      Apply::Bool(|l, b| l.no_advertise = b)),
    key(&["min_version", "minimum_version"],    Apply::With(min_version)),
];

/// The keys of `leafnodes { authorization {} }`.
#[rustfmt::skip]
static AUTHORIZATION: &[Key<LeafnodeOptions>] = &[
    key(&["user", "username"], Apply::Str(|l, s| l.username = non_empty(s))),
    key(&["pass", "password"], Apply::Str(|l, s| l.password = non_empty(s))),
    key(&["timeout"],          Apply::With(auth_timeout)),
    key(&["users"],            Apply::With(users)),
    key(&["account"],          Apply::Str(|l, s| l.account = non_empty(s))),
];

/// The keys of a `users` entry.
#[rustfmt::skip]
static USER: &[Key<LeafUser>] = &[
    key(&["user", "username"], Apply::Str(|u, s| u.username = s.to_string())),
    key(&["pass", "password"], Apply::Str(|u, s| u.password = s.to_string())),
    key(&["account"],          Apply::Str(|u, s| u.account = non_empty(s))),
];

/// The keys of a `remotes` entry.
#[rustfmt::skip]
static REMOTE: &[Key<RemoteLeafOptions>] = &[
    key(&["no_randomize", "dont_randomize"],    Apply::Bool(|r, b| r.no_randomize = b)),
    key(&["url", "urls"],                       Apply::With(remote_urls)),
    key(&["account", "local"],                  Apply::Str(|r, s| r.account = non_empty(s))),
    key(&["creds", "credentials"],              Apply::With(credentials)),
    key(&["tls"],                               Apply::With(|out, e, r| set_tls(out, e, &mut r.tls))),
    key(&["hub"],                               Apply::With(hub)),
    key(&["deny_imports", "deny_import"],       Apply::With(|out, e, r| deny(out, e, &mut r.deny_imports))),
    key(&["deny_exports", "deny_export"],       Apply::With(|out, e, r| deny(out, e, &mut r.deny_exports))),
    key(&["ws_compress", "ws_compression", "websocket_compress", "websocket_compression",
          "ws_no_masking", "websocket_no_masking"],
                                                Apply::With(websocket)),
    key(&["jetstream_cluster_migrate", "js_cluster_migrate"],
                                                Apply::Unsupported),
];

/// `reconnect`: whole seconds between a leaf's connection attempts. Zero means the default,
/// as in the reference; so does a negative delay (natsd's choice: the reference retries
/// without waiting).
fn reconnect(secs: i64) -> std::time::Duration {
    positive(secs.saturating_mul(1_000_000_000)).unwrap_or(DEFAULT_LEAF_RECONNECT)
}

/// `tls` (of the block or of a remote), read in the client context: peers are verified
/// only with `verify`, and `verify_cert_and_check_known_urls` is refused.
fn set_tls(out: &mut Collector, entry: &Entry, target: &mut Option<TlsOptions>) -> Step {
    if let Some(tls) = tls::parse_checked(out, &entry.value, true) {
        *target = Some(tls);
    }
    Ok(())
}

/// `min_version`: a version `x.y.z`, at least 2.8.0.
fn min_version(out: &mut Collector, entry: &Entry, leaf: &mut LeafnodeOptions) -> Step {
    let value = &entry.value;
    let version = get::string(value)?;
    match version_components(version) {
        Err(err) => {
            let message = format!("invalid leafnode's minimum version: {err}");
            out.error(value.error(message));
        }
        Ok(components) if components < [2, 8, 0] => {
            out.error(value.error("the minimum version should be at least 2.8.0"));
        }
        Ok(_) => leaf.min_version = Some(version.to_string()),
    }
    Ok(())
}

/// The reference's `versionComponents`: the regular expression
/// `\Av?([0-9]+)\.?([0-9]+)?\.?([0-9]+)?`, then `strconv.Atoi` of each group (an absent
/// group is an error too).
fn version_components(version: &str) -> Result<[i64; 3], String> {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let (major, rest) = leading_digits(rest);
    if major.is_empty() {
        return Err("invalid semver".to_string());
    }
    let (minor, rest) = leading_digits(rest.strip_prefix('.').unwrap_or(rest));
    let (patch, _) = leading_digits(rest.strip_prefix('.').unwrap_or(rest));
    Ok([atoi(major)?, atoi(minor)?, atoi(patch)?])
}

/// `text` split after its leading ASCII digits.
fn leading_digits(text: &str) -> (&str, &str) {
    text.split_at(text.bytes().take_while(u8::is_ascii_digit).count())
}

/// Go's `strconv.Atoi` of a run of ASCII digits, with its error text.
fn atoi(digits: &str) -> Result<i64, String> {
    digits.parse().map_err(|_| {
        let why = if digits.is_empty() {
            "invalid syntax"
        } else {
            "value out of range"
        };
        format!("strconv.Atoi: parsing {}: {why}", quote_str(digits))
    })
}

/// `authorization`: a single leaf user or a users array, with an account and a timeout;
/// the checks between them are reported at the key. A wrong value type ends the
/// `leafnodes` block.
fn authorization(out: &mut Collector, entry: &Entry, leaf: &mut LeafnodeOptions) -> Step {
    let at = &entry.value;
    // The block replaces every setting of an earlier one.
    (
        leaf.username,
        leaf.password,
        leaf.account,
        leaf.users,
        leaf.auth_timeout,
    ) = Default::default();
    for entry in get::map(at)? {
        apply_entry(out, AUTHORIZATION, entry, leaf)?;
    }
    if let Some(conflict) = users_conflict(leaf) {
        out.error(at.error(conflict));
    }
    Ok(())
}

/// `timeout` of `authorization`, in seconds.
fn auth_timeout(_: &mut Collector, entry: &Entry, leaf: &mut LeafnodeOptions) -> Step {
    leaf.auth_timeout = auth::timeout_secs(&entry.value);
    Ok(())
}

/// `validateLeafNodeAuthOptions`: a users array excludes a single user, and its names are
/// unique.
fn users_conflict(leaf: &LeafnodeOptions) -> Option<String> {
    if leaf.users.is_empty() {
        return None;
    }
    if leaf.username.is_some() {
        return Some("can not have a single user/pass and a users array".to_string());
    }
    let mut names = HashSet::new();
    let dup = leaf
        .users
        .iter()
        .find(|user| !names.insert(&user.username))?;
    Some(format!(
        "duplicate user {} detected in leafnode authorization",
        quote_str(&dup.username)
    ))
}

/// `users`: an array of `{user, password, account}` maps. A wrong value type in an entry
/// loses all the users.
fn users(out: &mut Collector, entry: &Entry, leaf: &mut LeafnodeOptions) -> Step {
    let value = &entry.value;
    let Kind::Array(items) = &value.kind else {
        let got = get::go_text(&value.kind);
        out.error(value.error(format!("Expected users field to be an array, got {got}")));
        return Ok(());
    };
    leaf.users = maps(out, items, "user entry", USER).unwrap_or_else(|err| {
        out.error(err);
        Vec::new()
    });
    Ok(())
}

/// `remotes`: an array of remote maps. A wrong value type in a remote loses all of them,
/// and the rest of the block is read.
fn remotes(out: &mut Collector, entry: &Entry, leaf: &mut LeafnodeOptions) -> Step {
    let value = &entry.value;
    let Kind::Array(items) = &value.kind else {
        let got = value.kind.type_name();
        out.error(value.error(format!("Expected remotes field to be an array, got {got}")));
        return Ok(());
    };
    leaf.remotes = maps(out, items, "remote leafnode entry", REMOTE).unwrap_or_else(|err| {
        out.error(err);
        Vec::new()
    });
    Ok(())
}

/// The map elements of an array, each read by `table`; an element that is not a map is
/// reported (`Expected <what> to be a map/struct, got <v>`) and skipped. `Err` is a wrong
/// value type, which ends the array.
fn maps<T: Default>(
    out: &mut Collector,
    items: &[Value],
    what: &str,
    table: &[Key<T>],
) -> Result<Vec<T>, ConfError> {
    let mut read = Vec::with_capacity(items.len());
    for item in items {
        let Kind::Map(map) = &item.kind else {
            let got = get::go_text(&item.kind);
            out.error(item.error(format!("Expected {what} to be a map/struct, got {got}")));
            continue;
        };
        let mut target = T::default();
        for entry in map {
            apply_entry(out, table, entry, &mut target)?;
        }
        read.push(target);
    }
    Ok(read)
}

/// `url`/`urls`: a URL, added to the remote's, or an array of URLs, replacing them. A
/// websocket URL is refused where it is written.
fn remote_urls(out: &mut Collector, entry: &Entry, remote: &mut RemoteLeafOptions) -> Step {
    const WHAT: &str = "leafnode";
    let value = &entry.value;
    let parsed = match &value.kind {
        Kind::Array(items) => url::parse_urls(out, items, WHAT),
        Kind::String(text) => match url::parse_url(value, text, WHAT) {
            Ok(url) => Some(vec![(value, url)]),
            Err(err) => {
                out.error(err);
                None
            }
        },
        other => {
            let got = get::go_text(other);
            let message =
                format!("Expected remote leafnode url to be an array or string, got {got}");
            out.error(value.error(message));
            None
        }
    };
    let Some(urls) = parsed else {
        return Ok(());
    };
    for (at, url) in &urls {
        if url::go_url_scheme(url).starts_with("ws") {
            out.error(at.error(WEBSOCKET));
        }
    }
    if let Kind::Array(_) = value.kind {
        remote.urls.clear();
    }
    remote.urls.extend(urls.into_iter().map(|(_, url)| url));
    Ok(())
}

/// `credentials`: a file name, `$VAR` and a leading `~` expanded.
fn credentials(out: &mut Collector, entry: &Entry, remote: &mut RemoteLeafOptions) -> Step {
    let value = &entry.value;
    match gopath::expand_path(get::string(value)?) {
        Ok(path) => remote.credentials = non_empty(&path).map(PathBuf::from),
        Err(err) => out.error(value.error(err)),
    }
    Ok(())
}

/// `hub`: natsd's links are never the hub end of a connection they solicit.
fn hub(out: &mut Collector, entry: &Entry, _: &mut RemoteLeafOptions) -> Step {
    if get::boolean(&entry.value)? {
        let message = "natsd does not support leafnode remotes with hub: true";
        out.error(entry.value.error(message));
    }
    Ok(())
}

/// The websocket options of a remote (booleans): refused.
fn websocket(out: &mut Collector, entry: &Entry, _: &mut RemoteLeafOptions) -> Step {
    get::boolean(&entry.value)?;
    out.error(entry.value.error(WEBSOCKET));
    Ok(())
}

/// `deny_imports` / `deny_exports`: a subject or an array of subjects.
fn deny(out: &mut Collector, entry: &Entry, target: &mut Vec<String>) -> Step {
    match auth::parse_subjects(&entry.value, true) {
        Ok(subjects) => *target = subjects.unwrap_or_default(),
        Err(err) => out.error(err),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_components_as_the_reference_reads_them() {
        let cases: [(&str, Result<[i64; 3], &str>); 10] = [
            ("2.8.0", Ok([2, 8, 0])),
            ("v2.9.10", Ok([2, 9, 10])),
            ("2.10.0-beta.1", Ok([2, 10, 0])),
            ("1..2", Err(r#"strconv.Atoi: parsing "": invalid syntax"#)),
            ("280", Err(r#"strconv.Atoi: parsing "": invalid syntax"#)),
            ("2.8", Err(r#"strconv.Atoi: parsing "": invalid syntax"#)),
            ("", Err("invalid semver")),
            ("vv2.8.0", Err("invalid semver")),
            (" 2.8.0", Err("invalid semver")),
            (
                "99999999999999999999.0.0",
                Err(r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#),
            ),
        ];
        for (version, want) in cases {
            assert_eq!(
                version_components(version),
                want.map_err(str::to_string),
                "{version:?}"
            );
        }
    }
}
