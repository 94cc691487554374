//! `leafnodes {}` (leafnodes.md §1): every key and alias, every message with its position,
//! natsd's refusals, and the start-time account checks.
//!
//! The tables are ✓ref unless said otherwise: `reference_agrees` re-checks them against
//! `nats-server -t` whenever it is installed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{load, options, reference, reference_disagreements, strings, Report};
use crate::options::{LeafUser, LeafnodeOptions, Options, RemoteLeafOptions, TlsOptions};

/// Files that load without any message.
#[rustfmt::skip]
const VALID: &[&str] = &[
    "leafnodes {}",
    "leaf { port: -1 }",
    "leafnodes { remotes: [] }",
    "leafnodes { remotes: [ {} ] }",
    "leafnodes { remotes: [ {urls: []} ] }",
    "leafnodes { remotes: [ {url: \"nats-leaf://h\"} ] }",
    "leafnodes { remotes: [ {url: \"nats://h:1\", credentials: \"\"} ] }",
    "leafnodes { remotes: [ {url: \"nats://h:1\", hub: false, account: \"$G\"} ] }",
    "leafnodes { remotes: [ {url: \"nats://h:1\", deny_imports: [], deny_exports: \"a q\"} ] }",
    "leafnodes { remotes: [{ X: \"nats://h:1\", url: $X }] }",
    "leafnodes { min_version: \"v2.8.0\" }",
    "leafnodes { min_version: \"2.10.0-beta\" }",
    "leafnodes { tls { verify_and_map: true } }",
    "leafnodes { authorization { timeout: \"x\" } }",
    "leafnodes { authorization { password: p, users: [{user: a}] } }",
    "leafnodes { authorization { user: a, users: [] } }",
    "leafnodes { authorization { users: [{user: a, password: x}, {user: b, account: A}] } }",
    "leafnodes {\n  HOLD: 7422\n  port: $HOLD\n}",
];

/// Files that give exactly these errors (and no warnings).
#[rustfmt::skip]
const ERRORS: &[(&str, &[&str])] = &[
    // The block.
    ("leafnodes = 1", &["t.conf:1:0: Expected map to define a leafnode, got int64"]),
    ("leaf: [1 ]", &["t.conf:1:0: Expected map to define a leafnode, got []interface {}"]),
    ("leafnodes { foo: 1 }", &[r#"t.conf:1:12: unknown field "foo""#]),
    ("leafnodes { users: [] }", &[r#"t.conf:1:12: unknown field "users""#]),
    ("leafnodes { listen: abc }", &[r#"t.conf:1:12: could not parse address string "abc""#]),
    ("leafnodes { listen: \"h:x\" }", &[r#"t.conf:1:12: could not parse port "x""#]),
    ("leafnodes { listen: true }", &["t.conf:1:12: expected port or host:port, got bool"]),
    ("leafnodes { port: \"x\" }", &["t.conf:1:12: interface conversion: interface {} is string, not int64"]),
    ("leafnodes { net: 1 }", &["t.conf:1:12: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { reconnect: \"2s\" }", &["t.conf:1:12: interface conversion: interface {} is string, not int64"]),
    ("leafnodes { reconnect_delay: 1.5 }", &["t.conf:1:12: interface conversion: interface {} is float64, not int64"]),
    ("leafnodes { reconnect: -1, no_advertise: 1 }", &["t.conf:1:27: interface conversion: interface {} is int64, not bool"]),
    ("leafnodes { advertise: 1 }", &["t.conf:1:12: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { leafnode_advertise: true }", &["t.conf:1:12: interface conversion: interface {} is bool, not string"]),
    ("leafnodes { min_version: 2 }", &["t.conf:1:12: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { min_version: \"2.7.0\" }", &["t.conf:1:12: the minimum version should be at least 2.8.0"]),
    ("leafnodes { minimum_version: \"2\" }", &[r#"t.conf:1:12: invalid leafnode's minimum version: strconv.Atoi: parsing "": invalid syntax"#]),
    ("leafnodes { min_version: \"x\" }", &["t.conf:1:12: invalid leafnode's minimum version: invalid semver"]),
    ("leafnodes { min_version: \"\" }", &["t.conf:1:12: invalid leafnode's minimum version: invalid semver"]),
    // tls, in the client context.
    ("leafnodes { tls: 1 }", &["t.conf:1:12: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("leafnodes { tls: {verify_cert_and_check_known_urls: true} }", &["t.conf:1:18: verify_cert_and_check_known_urls not supported in this context"]),
    ("leafnodes { tls { cert_file: a } }", &["t.conf:1:12: missing 'key_file' in TLS configuration"]),
    // The block goes on after an error in tls.
    ("leafnodes { tls { foo: 1 }, bar: 2 }",
        &[r#"t.conf:1:18: error parsing tls config, unknown field ["foo"]"#,
          r#"t.conf:1:28: unknown field "bar""#]),
    // authorization (a wrong type also makes the reference print a nil-pointer panic line,
    // which natsd does not imitate).
    ("leafnodes { authorization: 1 }", &["t.conf:1:12: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("leafnodes { authorization { user: 1 } }", &["t.conf:1:28: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { authorization { password: 1 } }", &["t.conf:1:28: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { authorization { account: 1 } }", &["t.conf:1:28: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { authorization { token: x } }", &[r#"t.conf:1:28: unknown field "token""#]),
    ("leafnodes { authorization { user: a, users: [{user: b}] } }", &["t.conf:1:12: can not have a single user/pass and a users array"]),
    ("leafnodes { authorization { users: [{user: c}, {user: c}] } }", &[r#"t.conf:1:12: duplicate user "c" detected in leafnode authorization"#]),
    ("leafnodes { authorization { users: [{password: x}, {password: y}] } }", &[r#"t.conf:1:12: duplicate user "" detected in leafnode authorization"#]),
    ("leafnodes { authorization { users: x } }", &["t.conf:1:28: Expected users field to be an array, got x"]),
    ("leafnodes { authorization { users: [1 ] } }", &["t.conf:1:36: Expected user entry to be a map/struct, got 1"]),
    ("leafnodes { authorization { users: [{user: a, permissions: {}}] } }", &[r#"t.conf:1:46: unknown field "permissions""#]),
    ("leafnodes { authorization { users: [{user: a, nkey: x}] } }", &[r#"t.conf:1:46: unknown field "nkey""#]),
    ("leafnodes { authorization { users: [{user: a, account: 1}] } }", &["t.conf:1:46: interface conversion: interface {} is int64, not string"]),
    // A wrong type in a user loses the users; the authorization block goes on.
    ("leafnodes { authorization { users: [{user: 1}], foo: 2 } }",
        &["t.conf:1:37: interface conversion: interface {} is int64, not string",
          r#"t.conf:1:48: unknown field "foo""#]),
    // remotes
    ("leafnodes { remotes: \"x\" }", &["t.conf:1:12: Expected remotes field to be an array, got string"]),
    ("leafnodes { remotes: [{ urls: \"nats://h:1\" }], remotes: 5 }", &["t.conf:1:47: Expected remotes field to be an array, got int64"]),
    ("leafnodes { remotes: [ \"nats-leaf://h:1\" ] }", &["t.conf:1:24: Expected remote leafnode entry to be a map/struct, got nats-leaf://h:1"]),
    ("leafnodes { remotes: [ {url: 5} ] }", &["t.conf:1:24: Expected remote leafnode url to be an array or string, got 5"]),
    ("leafnodes { remotes: [ {url: \"nats-leaf://a b:1\"} ] }", &[r#"t.conf:1:24: error parsing leafnode url ["nats-leaf://a b:1"]"#]),
    ("leafnodes { remotes: [ {urls: [\"nats://a b:1\", \"x\", \"://\"]} ] }",
        &[r#"t.conf:1:32: error parsing leafnode url ["nats://a b:1"]"#,
          r#"t.conf:1:53: error parsing leafnode url ["://"]"#]),
    ("leafnodes { remotes: [ {urls: [\"nats://h:1\", 5, \"a b://\"]} ] }", &["t.conf:1:45: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", account: 1} ] }", &["t.conf:1:43: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", local: true} ] }", &["t.conf:1:43: interface conversion: interface {} is bool, not string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", creds: []} ] }", &["t.conf:1:43: interface conversion: interface {} is []interface {}, not string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", dont_randomize: x} ] }", &["t.conf:1:43: interface conversion: interface {} is string, not bool"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", hub: 1} ] }", &["t.conf:1:43: interface conversion: interface {} is int64, not bool"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", ws_compression: 1} ] }", &["t.conf:1:43: interface conversion: interface {} is int64, not bool"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", websocket_no_masking: x} ] }", &["t.conf:1:43: interface conversion: interface {} is string, not bool"]),
    // A wrong type in a remote loses the remotes (the next one is not read); the block goes on.
    ("leafnodes { remotes: [ {url: \"nats://h:1\", no_randomize: 1}, {url: 5} ], foo: 1 }",
        &["t.conf:1:43: interface conversion: interface {} is int64, not bool",
          r#"t.conf:1:73: unknown field "foo""#]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_imports: 1} ] }", &["t.conf:1:43: Expected subject permissions to be a subject, or array of subjects, got int64"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_import: [1 ]} ] }", &["t.conf:1:57: Subject in permissions array cannot be cast to string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_exports: \"a..b\"} ] }", &[r#"t.conf:1:43: subject "a..b" is not a valid subject"#]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_export: [\"a\", \"a..b q\"]} ] }", &[r#"t.conf:1:43: subject "a..b" is not a valid subject"#]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_exports: {a: 1}} ] }", &["t.conf:1:43: Expected subject permissions to be a subject, or array of subjects, got map[string]interface {}"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", tls: 1} ] }", &["t.conf:1:43: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", tls: {verify_cert_and_check_known_urls: true}} ] }", &["t.conf:1:49: verify_cert_and_check_known_urls not supported in this context"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", tls: {cert_file: a}} ] }", &["t.conf:1:43: missing 'key_file' in TLS configuration"]),
];

/// Files that give exactly these warnings and errors.
#[rustfmt::skip]
const WARNINGS: &[(&str, &[&str], &[&str])] = &[
    (
        "leafnodes { remotes: [ {urls: [\"nats-leaf://a:1\", \"nats-leaf://a:1\"]} ] }",
        &[r#"t.conf:1:51: invalid use of field "nats-leaf://a:1": Duplicate leafnode entry detected"#],
        &[],
    ),
    (
        "leafnodes {\n  remotes: [\n    {url: \"nats://h:1\"}\n    \"x\"\n    {urls: [\"nats://h:1\", \"nats://h:1\", \"a b://\"]}\n  ]\n  bar: 1.5\n}",
        &[r#"t.conf:5:28: invalid use of field "nats://h:1": Duplicate leafnode entry detected"#],
        &[
            "t.conf:4:6: Expected remote leafnode entry to be a map/struct, got x",
            r#"t.conf:5:42: error parsing leafnode url ["a b://"]"#,
            r#"t.conf:7:3: unknown field "bar""#,
        ],
    ),
];

/// Where the reference's answer depends on Go's map order (a wrong type ends the block,
/// so whether it reads the other keys varies); natsd reads in file order. Not ✓ref.
#[rustfmt::skip]
const FILE_ORDER: &[(&str, &[&str])] = &[
    ("leafnodes { net: 1, port: x, foo: 2 }", &["t.conf:1:12: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { foo: 2, net: 1, port: x }",
        &[r#"t.conf:1:12: unknown field "foo""#,
          "t.conf:1:20: interface conversion: interface {} is int64, not string"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", foo: 1, credentials: 2, bar: 3} ] }",
        &[r#"t.conf:1:43: unknown field "foo""#,
          "t.conf:1:51: interface conversion: interface {} is int64, not string"]),
];

/// natsd's refusals (not ✓ref: the reference accepts these files).
#[rustfmt::skip]
const NATSD_ONLY: &[(&str, &[&str])] = &[
    ("leafnodes { remotes: [ {url: \"ws://h:1\"} ] }", &["t.conf:1:24: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {urls: [\"nats://h:1\", \"WSS://h:2\"]} ] }", &["t.conf:1:46: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", ws_compression: true} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", ws_compress: false} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", websocket_compression: true} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", websocket_compress: true} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", ws_no_masking: true} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", websocket_no_masking: false} ] }", &["t.conf:1:43: natsd does not support leafnode websocket remotes"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", hub: true} ] }", &["t.conf:1:43: natsd does not support leafnode remotes with hub: true"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", jetstream_cluster_migrate: true} ] }", &["t.conf:1:43: natsd does not support jetstream_cluster_migrate"]),
    ("leafnodes { remotes: [ {url: \"nats://h:1\", JS_Cluster_Migrate: 1} ] }", &["t.conf:1:43: natsd does not support JS_Cluster_Migrate"]),
];

#[test]
fn every_error_with_its_position() {
    for (text, errors) in ERRORS.iter().chain(FILE_ORDER).chain(NATSD_ONLY) {
        let (_, report) = load(text);
        let want = Report {
            errors: strings(errors),
            ..Report::default()
        };
        assert_eq!(report, want, "{text:?}");
    }
    for (text, warnings, errors) in WARNINGS {
        let (_, report) = load(text);
        let want = Report {
            warnings: strings(warnings),
            errors: strings(errors),
            parse_failed: false,
        };
        assert_eq!(report, want, "{text:?}");
    }
    for text in VALID {
        let (_, report) = load(text);
        assert_eq!(report, Report::default(), "{text:?}");
    }
}

#[test]
fn reference_agrees() {
    let warnings = WARNINGS
        .iter()
        .flat_map(|&(text, warnings, errors)| [(text, warnings), (text, errors)]);
    let disagreements = reference_disagreements(VALID, ERRORS.iter().copied().chain(warnings));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    for (text, _) in NATSD_ONLY {
        if let Some(output) = reference(text) {
            assert!(output.contains("is valid"), "{text:?}: {output:?}");
        }
    }
}

/// The remote `{url: <url>}` with the defaults.
fn remote(url: &str) -> RemoteLeafOptions {
    RemoteLeafOptions {
        urls: strings(&[url]),
        ..RemoteLeafOptions::default()
    }
}

/// The leafnode options of `text`, which must load cleanly.
#[track_caller]
fn leafnodes(text: &str) -> LeafnodeOptions {
    options(text).leafnodes
}

/// The default leafnode options changed by `change`.
fn leaf_with(change: impl FnOnce(&mut LeafnodeOptions)) -> LeafnodeOptions {
    let mut leaf = LeafnodeOptions::default();
    change(&mut leaf);
    leaf
}

#[rustfmt::skip]
#[test]
fn every_key_and_alias() {
    let user = |name: &str, password: &str, account: Option<&str>| LeafUser {
        username: name.into(),
        password: password.into(),
        account: account.map(Into::into),
    };
    let cases: Vec<(&str, LeafnodeOptions)> = vec![
        ("leafnodes {}", LeafnodeOptions::default()),
        ("leaf { port: 7422 }", leaf_with(|l| l.port = 7422)),
        ("LeafNodes { Port: -1 }", leaf_with(|l| l.port = -1)),
        ("leafnodes { listen: 7423 }", leaf_with(|l| l.port = 7423)),
        ("leafnodes { listen: \"127.0.0.1:7422\" }",
            leaf_with(|l| (l.host, l.port) = (Some("127.0.0.1".into()), 7422))),
        ("leafnodes { listen: \"[::1]:-1\" }", leaf_with(|l| (l.host, l.port) = (Some("::1".into()), -1))),
        ("leafnodes { host: h }", leaf_with(|l| l.host = Some("h".into()))),
        ("leafnodes { net: h, host: \"\" }", LeafnodeOptions::default()),
        ("leafnodes { advertise: \"leaf.example.com:7422\" }",
            leaf_with(|l| l.advertise = Some("leaf.example.com:7422".into()))),
        ("leafnodes { leafnode_advertise: a }", leaf_with(|l| l.advertise = Some("a".into()))),
        ("leafnodes { no_advertise: true }", leaf_with(|l| l.no_advertise = true)),
        ("leafnodes { reconnect: 5 }", leaf_with(|l| l.reconnect = Duration::from_secs(5))),
        ("leafnodes { reconnect_delay: 2 }", leaf_with(|l| l.reconnect = Duration::from_secs(2))),
        ("leafnodes { reconnect_interval: 3 }", leaf_with(|l| l.reconnect = Duration::from_secs(3))),
        ("leafnodes { reconnect: 0 }", LeafnodeOptions::default()),
        ("leafnodes { reconnect: -1 }", LeafnodeOptions::default()),
        ("leafnodes { min_version: \"2.9.0\" }", leaf_with(|l| l.min_version = Some("2.9.0".into()))),
        ("leafnodes { minimum_version: \"v2.8.0\" }", leaf_with(|l| l.min_version = Some("v2.8.0".into()))),
        ("leafnodes { tls { cert_file: s.pem, key_file: s.key, ca_file: ca.pem, verify: true, timeout: 3 } }",
            leaf_with(|l| l.tls = Some(TlsOptions {
                cert_file: Some("s.pem".into()),
                key_file: Some("s.key".into()),
                ca_file: Some("ca.pem".into()),
                verify: true,
                timeout: 3.0,
                ..TlsOptions::default()
            }))),
        // authorization
        ("leafnodes { authorization { user: lu, password: lp, timeout: 2, account: A } }",
            leaf_with(|l| {
                (l.username, l.password) = (Some("lu".into()), Some("lp".into()));
                (l.auth_timeout, l.account) = (2.0, Some("A".into()));
            })),
        ("leafnodes { authorization { username: lu, pass: lp, timeout: 0.5 } }",
            leaf_with(|l| {
                (l.username, l.password, l.auth_timeout) = (Some("lu".into()), Some("lp".into()), 0.5);
            })),
        ("leafnodes { authorization { timeout: x } }", leaf_with(|l| l.auth_timeout = 1.0)),
        ("leafnodes { authorization { user: \"\", account: \"\" } }", LeafnodeOptions::default()),
        ("leafnodes { authorization { users: [ {user: a, password: b, account: \"$G\"}, {username: c, pass: d}, {user: e, account: \"\"} ] } }",
            leaf_with(|l| l.users = vec![user("a", "b", Some("$G")), user("c", "d", None), user("e", "", None)])),
        // A later authorization block replaces the earlier one.
        ("leafnodes { authorization { user: a }\n authorization { users: [{user: b}] } }",
            leaf_with(|l| l.users = vec![user("b", "", None)])),
        // remotes
        ("leafnodes { remotes: [ {url: \"nats-leaf://lu:lp@hub:7422\"} ] }",
            leaf_with(|l| l.remotes = vec![remote("nats-leaf://lu:lp@hub:7422")])),
        ("leafnodes { remotes: [ {url: \" nats://h \"}, {urls: [\"tls://a:1\", \"b:2\"]} ] }",
            leaf_with(|l| l.remotes = vec![remote("nats://h"), RemoteLeafOptions {
                urls: strings(&["tls://a:1", "b:2"]),
                ..RemoteLeafOptions::default()
            }])),
        // A string adds a URL, an array replaces them.
        ("leafnodes { remotes: [ {url: \"nats://a:1\", urls: \"nats://b:1\"}, {url: \"nats://a:1\", urls: [\"nats://b:1\"]} ] }",
            leaf_with(|l| l.remotes = vec![
                RemoteLeafOptions { urls: strings(&["nats://a:1", "nats://b:1"]), ..RemoteLeafOptions::default() },
                remote("nats://b:1"),
            ])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", no_randomize: true}, {url: \"nats://h:1\", dont_randomize: true} ] }",
            leaf_with(|l| l.remotes = vec![
                RemoteLeafOptions { no_randomize: true, ..remote("nats://h:1") };
                2
            ])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", account: A}, {url: \"nats://h:1\", local: B}, {url: \"nats://h:1\", account: \"\"} ] }",
            leaf_with(|l| l.remotes = vec![
                RemoteLeafOptions { account: Some("A".into()), ..remote("nats://h:1") },
                RemoteLeafOptions { account: Some("B".into()), ..remote("nats://h:1") },
                remote("nats://h:1"),
            ])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", credentials: \"/etc/u.creds\"}, {url: \"nats://h:1\", creds: u.creds} ] }",
            leaf_with(|l| l.remotes = vec![
                RemoteLeafOptions { credentials: Some("/etc/u.creds".into()), ..remote("nats://h:1") },
                RemoteLeafOptions { credentials: Some("u.creds".into()), ..remote("nats://h:1") },
            ])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", tls { ca_file: ca.pem, insecure: true }} ] }",
            leaf_with(|l| l.remotes = vec![RemoteLeafOptions {
                tls: Some(TlsOptions { ca_file: Some("ca.pem".into()), insecure: true, ..TlsOptions::default() }),
                ..remote("nats://h:1")
            }])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", hub: false} ] }",
            leaf_with(|l| l.remotes = vec![remote("nats://h:1")])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_imports: \"a.>\", deny_exports: [b, \"c q\"]} ] }",
            leaf_with(|l| l.remotes = vec![RemoteLeafOptions {
                deny_imports: strings(&["a.>"]),
                deny_exports: strings(&["b", "c q"]),
                ..remote("nats://h:1")
            }])),
        ("leafnodes { remotes: [ {url: \"nats://h:1\", deny_import: a, deny_export: []} ] }",
            leaf_with(|l| l.remotes = vec![RemoteLeafOptions { deny_imports: strings(&["a"]), ..remote("nats://h:1") }])),
    ];
    // The reference also opens the TLS files, which natsd leaves to the TLS setup.
    let texts: Vec<&str> = cases
        .iter()
        .map(|(text, _)| *text)
        .filter(|text| !text.contains("tls {"))
        .collect();
    let disagreements = reference_disagreements(&texts, []);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    for (text, want) in cases {
        assert_eq!(leafnodes(text), want, "{text:?}");
    }
}

#[test]
fn credentials_expand_the_environment_and_home() {
    let Some(home) = std::env::var_os("HOME").filter(|home| !home.is_empty()) else {
        return;
    };
    let home = PathBuf::from(home);
    for (text, want) in [
        ("~/u.creds", home.join("u.creds")),
        ("$HOME/u.creds", home.join("u.creds")),
        ("${HOME}x", PathBuf::from(format!("{}x", home.display()))),
    ] {
        let conf =
            format!("leafnodes {{ remotes: [ {{url: \"nats://h:1\", creds: \"{text}\"}} ] }}");
        let remotes = leafnodes(&conf).remotes;
        assert_eq!(
            remotes[0].credentials.as_deref(),
            Some(Path::new(&want)),
            "{text:?}"
        );
    }
}

#[test]
fn seed_example_configuration() {
    const EXAMPLE: &str = r#"
leafnodes {
  listen: 127.0.0.1:7422
  authorization {
    user: lu, password: lp, timeout: 2
  }
  advertise: "leaf.example.com:7422"
  no_advertise: false
  reconnect: 1
  remotes: [
    { url: "nats-leaf://lu:lp@hub:7422",
      credentials: "/path/user.creds" }
  ]
}
"#;
    if let Some(output) = reference(EXAMPLE) {
        assert!(output.contains("is valid"), "{output}");
    }
    let want = LeafnodeOptions {
        host: Some("127.0.0.1".into()),
        port: 7422,
        username: Some("lu".into()),
        password: Some("lp".into()),
        auth_timeout: 2.0,
        advertise: Some("leaf.example.com:7422".into()),
        remotes: vec![RemoteLeafOptions {
            credentials: Some("/path/user.creds".into()),
            ..remote("nats-leaf://lu:lp@hub:7422")
        }],
        ..LeafnodeOptions::default()
    };
    let opts = options(EXAMPLE);
    assert_eq!(opts.leafnodes, want);
    assert_eq!(opts.unsupported_yet(), None);
}

#[test]
fn accounts_are_checked_at_start_not_by_the_file() {
    // ✓run: `nats-server -c` refuses these, `nats-server -t` does not.
    let cases = [
        (
            "leafnodes { remotes: [ {url: \"nats://h:1\", account: NOPE} ] }",
            Err(r#"cannot find local account "NOPE" specified in leafnode remote"#),
        ),
        (
            "leafnodes { port: -1, authorization: { account: NOPE } }",
            Err(r#"cannot find local account "NOPE" specified in leafnode authorization"#),
        ),
        (
            "leafnodes { port: -1, authorization: { users: [{user: a, account: NOPE}] } }",
            Err(r#"cannot find local account "NOPE" specified in leafnode authorization"#),
        ),
        (
            "no_system_account: true\nleafnodes { remotes: [{url: \"nats://h:1\", account: \"$SYS\"}] }",
            Err(r#"cannot find local account "$SYS" specified in leafnode remote"#),
        ),
        (
            "system_account: SYS\naccounts { SYS {} }\nleafnodes { remotes: [{url: \"nats://h:1\", account: \"$SYS\"}] }",
            Err(r#"cannot find local account "$SYS" specified in leafnode remote"#),
        ),
        (
            "accounts { A {} }\nleafnodes { authorization: { users: [{user: a, account: A}] }, remotes: [{url: \"nats://h:1\", account: \"$SYS\"}, {url: \"nats://h:2\", account: \"$G\"}] }",
            Ok(()),
        ),
    ];
    for (text, want) in cases {
        if let Some(output) = reference(text) {
            assert!(output.contains("is valid"), "{text:?}: {output}");
        }
        assert_eq!(
            options(text).validate(),
            want.map_err(str::to_string),
            "{text:?}"
        );
    }
}

#[test]
fn never_panics_on_odd_values() {
    let values = [
        "1",
        "-1",
        "1.5",
        "true",
        "x",
        "\"\"",
        "\"ws://h\"",
        "[]",
        "[1, x ]",
        "[\"nats://h:1\", \"nats://h:1\"]",
        "{}",
        "{ a: 1 }",
        "2016-01-02T15:04:05Z",
        "9223372036854775807",
    ];
    let keys = [
        "listen",
        "port",
        "host",
        "authorization",
        "remotes",
        "reconnect",
        "tls",
        "advertise",
        "no_advertise",
        "min_version",
        "user",
        "password",
        "timeout",
        "users",
        "account",
        "url",
        "urls",
        "no_randomize",
        "credentials",
        "hub",
        "deny_imports",
        "deny_exports",
        "ws_compression",
        "ws_no_masking",
        "js_cluster_migrate",
        "cert_file",
        "verify",
    ];
    for key in keys {
        for value in values {
            for text in [
                format!("leafnodes {{ {key}: {value} }}"),
                format!("leafnodes {{ authorization {{ {key}: {value} }} }}"),
                format!("leafnodes {{ authorization {{ users: [ {{ {key}: {value} }} ] }} }}"),
                format!("leafnodes {{ remotes: [ {{ {key}: {value} }} ] }}"),
                format!("leafnodes {{ remotes: [ {{ tls {{ {key}: {value} }} }} ] }}"),
            ] {
                if let Ok(map) = crate::conf::parse_str(&text, Path::new("t.conf")) {
                    let _ = super::super::apply_map(&map, &mut Options::default());
                }
            }
        }
    }
}
