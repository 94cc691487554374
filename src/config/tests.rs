//! Configuration files applied onto options: every key, every message with its position,
//! variables, includes and the seed's examples.
//!
//! "✓ref" marks expectations checked against the reference binary (nats-server v2.9.10,
//! `nats-server -t -c t.conf`). The case tables below are all ✓ref unless a case says
//! otherwise, and `reference_agrees` re-checks them whenever `nats-server` is installed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{apply_file, Report};

mod accounts;
mod leafnodes;
use crate::options::{
    AuthOptions, ClusterOptions, NkeyUser, Options, Permissions, ResponsePermission,
    RoutePermissions, SubjectPermission, TlsOptions, User,
};

// ----- helpers ----------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("natsd-config-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }

    /// Messages with this directory removed from file names, so they read `t.conf:1:0: …`.
    fn relative(&self, lines: Vec<String>) -> Vec<String> {
        let prefix = format!("{}/", self.0.display());
        lines.into_iter().map(|l| l.replace(&prefix, "")).collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Applies `text` (as `t.conf`) onto the defaults.
fn load(text: &str) -> (Options, Report) {
    let dir = TempDir::new();
    let path = dir.write("t.conf", text);
    let mut opts = Options::default();
    let report = apply_file(&path, &mut opts);
    assert_eq!(opts.config_file.as_deref(), Some(path.as_path()));
    opts.config_file = None;
    let report = Report {
        warnings: dir.relative(report.warnings),
        errors: dir.relative(report.errors),
        ..report
    };
    (opts, report)
}

/// Applies `text`, which must load without warnings or errors.
#[track_caller]
fn options(text: &str) -> Options {
    let (opts, report) = load(text);
    assert_eq!(report, Report::default(), "{text:?}");
    opts
}

/// The defaults changed by `change`.
fn defaults_with(change: impl FnOnce(&mut Options)) -> Options {
    let mut opts = Options::default();
    change(&mut opts);
    opts
}

/// What `nats-server -t -c t.conf` prints for `text`, when the reference is installed.
fn reference(text: &str) -> Option<String> {
    let dir = TempDir::new();
    dir.write("t.conf", text);
    let output = Command::new("nats-server")
        .args(["-t", "-c", "t.conf"])
        .current_dir(&dir.0)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stderr).into_owned())
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn allow(subjects: &[&str]) -> Option<SubjectPermission> {
    Some(SubjectPermission {
        allow: Some(strings(subjects)),
        deny: None,
    })
}

const BCRYPT_DEREK: &str = "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG";
const NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

// ----- the case tables (all ✓ref unless marked) --------------------------------

/// Files that load without any message.
#[rustfmt::skip]
const VALID: &[&str] = &[
    "listen: \":-1\"",
    "SYSTEM_ACCOUNT: 1",
    "x: 1\nport: $x",
    "tls { }",
    "ping_interval: \"+5m\"",
    "max_payload: 0",
    "jetstream: false",
    "jetstream: Disabled",
    "lame_duck_grace_period: \"0\"\nlame_duck_duration: \"30s\"",
    "lame_duck_grace_period: \"30s\"\nlame_duck_duration: \"30s\"",
    "authorization { timeout: \"x\" }",
    "authorization { users: [{user: a, password: b, user: c}] }",
    "authorization { users: [{nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}] }",
    "authorization { permissions: { subscribe: \"foo q\" } }",
    "authorization { permissions: { publish: { } } }",
    "authorization { permissions: { publish: [] } }",
    "authorization { users: [] }\nno_auth_user: b",
    "no_auth_user: x",
    "cluster { listen: \"1.2.3.4:6222\" }",
    "cluster { routes: [\"nats://a:1:2\"] }",
    "cluster { permissions: { import: a, export: b } }",
    "cluster { tls { verify_cert_and_check_known_urls: true } }",
    "authorization {\n  PASS: secret\n  ADMIN = { publish: \">\" }\n  users = [ {user: a, password: $PASS, permissions: $ADMIN} ]\n}",
    "cluster {\n  HOLDER: 1\n  port: $HOLDER\n}",
];

/// Files that give exactly these errors (and no warnings).
#[rustfmt::skip]
const ERRORS: &[(&str, &[&str])] = &[
    // Top level.
    ("foo: 1", &[r#"t.conf:1:0: unknown field "foo""#]),
    ("x: 1", &[r#"t.conf:1:0: unknown field "x""#]),
    ("port: 4222\n   foo: 1", &[r#"t.conf:2:4: unknown field "foo""#]),
    ("  foo: 1", &[r#"t.conf:1:2: unknown field "foo""#]),
    ("foo\\x01: 1", &[r#"t.conf:1:0: unknown field "foo\\x01""#]),
    ("port: \"abc\"", &["t.conf:1:0: interface conversion: interface {} is string, not int64"]),
    ("port: 1.5", &["t.conf:1:0: interface conversion: interface {} is float64, not int64"]),
    ("debug: maybe", &["t.conf:1:0: interface conversion: interface {} is string, not bool"]),
    ("server_name: 1", &["t.conf:1:0: interface conversion: interface {} is int64, not string"]),
    ("no_system_account: 1", &["t.conf:1:0: interface conversion: interface {} is int64, not bool"]),
    ("max_payload: [1, 2 ]", &["t.conf:1:0: interface conversion: interface {} is []interface {}, not int64"]),
    ("pid_file: { a: 1 }", &["t.conf:1:0: interface conversion: interface {} is map[string]interface {}, not string"]),
    ("port: 2016-01-02T15:04:05Z", &["t.conf:1:0: interface conversion: interface {} is time.Time, not int64"]),
    ("listen: abc", &[r#"t.conf:1:0: could not parse address string "abc""#]),
    ("listen: \"h:x\"", &[r#"t.conf:1:0: could not parse port "x""#]),
    ("listen: true", &["t.conf:1:0: expected port or host:port, got bool"]),
    ("listen: 1.5", &["t.conf:1:0: expected port or host:port, got float64"]),
    ("http: abc", &[r#"t.conf:1:0: could not parse address string "abc""#]),
    ("https: \"1.2.3.4:x\"", &[r#"t.conf:1:0: could not parse port "x""#]),
    ("ping_interval: \"2x\"", &[r#"t.conf:1:0: error parsing ping_interval: time: unknown unit "x" in duration "2x""#]),
    ("ping_interval: \"1µx\"", &[r#"t.conf:1:0: error parsing ping_interval: time: unknown unit "\xc2\xb5x" in duration "1\xc2\xb5x""#]),
    ("ping_interval: \"1.5.5s\"", &[r#"t.conf:1:0: error parsing ping_interval: time: missing unit in duration "1.5.5s""#]),
    ("ping_interval: \".s\"", &[r#"t.conf:1:0: error parsing ping_interval: time: invalid duration ".s""#]),
    ("ping_interval: \"9999999999999999999h\"", &[r#"t.conf:1:0: error parsing ping_interval: time: invalid duration "9999999999999999999h""#]),
    ("write_deadline: \"x\"", &[r#"t.conf:1:0: error parsing write_deadline: time: invalid duration "x""#]),
    ("lame_duck_duration: 10", &["t.conf:1:0: interface conversion: interface {} is int64, not string"]),
    ("lame_duck_duration: \"10s\"", &["t.conf:1:0: invalid lame_duck_duration of 10s, minimum is 30 seconds"]),
    ("lame_duck_duration: \"-1s\"", &["t.conf:1:0: invalid lame_duck_duration of -1s, minimum is 30 seconds"]),
    ("lame_duck_duration: \"1.5ms\"", &["t.conf:1:0: invalid lame_duck_duration of 1.5ms, minimum is 30 seconds"]),
    ("lame_duck_duration: \"1500ns\"", &["t.conf:1:0: invalid lame_duck_duration of 1.5µs, minimum is 30 seconds"]),
    ("lame_duck_duration: \"0\"", &["t.conf:1:0: invalid lame_duck_duration of 0s, minimum is 30 seconds"]),
    ("lame_duck_grace_period: \"-1s\"", &["t.conf:1:0: invalid lame_duck_grace_period, needs to be positive"]),
    ("lame_duck_grace_period: \"1x\"", &[r#"t.conf:1:0: error parsing lame_duck_grace_period: time: unknown unit "x" in duration "1x""#]),
    ("MAX_CONTROL_LINE: 3000000000", &["t.conf:1:0: MAX_CONTROL_LINE value is too big"]),
    ("max_payload: 3000000000", &["t.conf:1:0: max_payload value is too big"]),
    ("Max_Sub_Tokens: 256", &["t.conf:1:0: Max_Sub_Tokens value is too big"]),
    ("max_sub_tokens: 0", &["t.conf:1:0: max_sub_tokens value can not be negative"]),
    ("max_subscription_tokens: -3", &["t.conf:1:0: max_subscription_tokens value can not be negative"]),
    ("server_tags: 1", &["t.conf:1:0: error parsing tags: unsupported type int64"]),
    ("server_tags: [a, [b]]", &["t.conf:1:0: error parsing tags: unsupported type *conf.token where string is expected"]),
    ("system_account: 1", &["t.conf:1:0: system account name must be a string"]),
    ("system: 1", &["t.conf:1:0: system account name must be a string"]),
    // authorization (a wrong type also makes the reference print a nil-pointer panic line,
    // which natsd does not imitate).
    ("authorization = 1", &["t.conf:1:0: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("authorization { user: 1, password: x }", &["t.conf:1:16: interface conversion: interface {} is int64, not string"]),
    ("authorization { user: a\n password: 2 }", &["t.conf:2:2: interface conversion: interface {} is int64, not string"]),
    ("authorization { foo: 1 }", &[r#"t.conf:1:16: unknown field "foo""#]),
    ("authorization { user: a, token: b }", &["t.conf:1:0: Cannot have a user/pass and token"]),
    ("authorization { password: a, token: b }", &["t.conf:1:0: Cannot have a user/pass and token"]),
    ("authorization { user: a\n users: [] }", &["t.conf:1:0: Can not have a single user/pass and a users array"]),
    ("authorization { token: a\n users: [] }", &["t.conf:1:0: Can not have a token and a users array"]),
    ("authorization { users: [{user: a}, {user: a}] }", &[r#"t.conf:1:0: Duplicate user "a" detected"#]),
    ("authorization { users: [{user: a},\n {user: a}] }", &[r#"t.conf:1:0: Duplicate user "a" detected"#]),
    ("authorization { users: x }", &["t.conf:1:16: Expected users field to be an array, got x"]),
    ("authorization { users: 1.5 }", &["t.conf:1:16: Expected users field to be an array, got 1.5"]),
    ("authorization { users: [1 ] }", &["t.conf:1:24: Expected user entry to be a map/struct, got 1"]),
    ("authorization { users: [ 2016-01-02T15:04:05Z ] }", &["t.conf:1:25: Expected user entry to be a map/struct, got 2016-01-02 15:04:05 +0000 UTC"]),
    ("authorization { users: [{pass: x}] }", &["t.conf:1:25: User entry requires a user"]),
    ("authorization { users: [ {} ] }", &["t.conf:1:27: User entry requires a user"]),
    ("authorization { users: [ {user: 1} ] }", &["t.conf:1:26: interface conversion: interface {} is int64, not string"]),
    ("authorization { users: [{nkey: x}] }", &["t.conf:1:25: Not a valid public nkey for a user"]),
    ("authorization { users: [{user: a, foo: 1}] }", &[r#"t.conf:1:34: unknown field "foo""#]),
    ("authorization { users: [{user: a, clients: [foo, STANDARD]}] }", &[r#"t.conf:1:34: invalid connection types ["FOO"]"#]),
    ("authorization { users: [{user: a, clients: 1}] }", &["t.conf:1:34: error parsing allowed connection types: unsupported type int64"]),
    ("authorization { users: [{user: a, clients: [1 ]}] }", &["t.conf:1:44: error parsing allowed connection types: unsupported type in array int64"]),
    ("authorization { users: [ {user: a, permissions: 1} ] }", &["t.conf:1:35: Expected permissions to be a map/struct, got 1"]),
    ("authorization { users: [ {user: a, permissions: {publish: 1}} ] }", &["Expected subject permissions to be a subject, or array of subjects, got int64"]),
    // permissions
    ("authorization { permissions: 1 }", &["t.conf:1:16: Expected permissions to be a map/struct, got 1"]),
    ("authorization { permissions: { foo: 1 } }", &[r#"t.conf:1:31: Unknown field "foo" parsing permissions"#]),
    ("authorization { permissions: { publish: 1 } }", &["Expected subject permissions to be a subject, or array of subjects, got int64"]),
    ("authorization { permissions: { publish: [1 ] } }", &["t.conf:1:41: Subject in permissions array cannot be cast to string"]),
    ("authorization { permissions: { publish: \"foo..bar\" } }", &[r#"subject "foo..bar" is not a valid subject"#]),
    ("authorization { permissions: { publish: [\"a\", \"foo..bar\"] } }", &[r#"subject "foo..bar" is not a valid subject"#]),
    ("authorization { permissions: { subscribe: \"foo.. q\" } }", &[r#"subject "foo.." is not a valid subject"#]),
    ("authorization { permissions: { publish: { allow: \"foo..bar\" } } }", &[r#"t.conf:1:42: subject "foo..bar" is not a valid subject"#]),
    ("authorization { permissions: { publish: { deny: 1 } } }", &["t.conf:1:42: Expected subject permissions to be a subject, or array of subjects, got int64"]),
    ("authorization { permissions: { publish: { allow: [1 ] } } }", &["t.conf:1:50: Subject in permissions array cannot be cast to string"]),
    ("authorization { permissions: { publish: { allow: \"a\", x: 1 } } }", &[r#"t.conf:1:54: Unknown field name "x" parsing subject permissions, only 'allow' or 'deny' are permitted"#]),
    ("authorization { permissions: { allow_responses: 1 } }", &["t.conf:1:31: error parsing response permissions, expected a boolean or a map"]),
    ("authorization { permissions: { allow_responses: { max: \"x\" } } }", &["t.conf:1:50: interface conversion: interface {} is string, not int64"]),
    ("authorization { permissions: { allow_responses: { expires: 1 } } }", &["t.conf:1:50: error parsing expires, not a duration string"]),
    ("authorization { permissions: { allow_responses: { expires: \"x\" } } }", &[r#"t.conf:1:50: error parsing expires: time: invalid duration "x""#]),
    ("authorization { permissions: { allow_responses: { foo: 1 } } }", &[r#"t.conf:1:50: Unknown field "foo" parsing permissions"#]),
    // tls
    ("tls = 1", &["t.conf:1:0: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("tls { foo: 1 }", &[r#"t.conf:1:6: error parsing tls config, unknown field ["foo"]"#]),
    ("tls { X: a, cert_file: $X, key_file: $X }", &[r#"t.conf:1:6: error parsing tls config, unknown field ["X"]"#]),
    ("tls { cert_file: 1 }", &["t.conf:1:6: error parsing tls config, expected 'cert_file' to be filename"]),
    ("tls { key_file: 1 }", &["t.conf:1:6: error parsing tls config, expected 'key_file' to be filename"]),
    ("tls { ca_file: 1 }", &["t.conf:1:6: error parsing tls config, expected 'ca_file' to be filename"]),
    ("tls { verify: 1 }", &["t.conf:1:6: error parsing tls config, expected 'verify' to be a boolean"]),
    ("tls { insecure: 1 }", &["t.conf:1:6: error parsing tls config, expected 'insecure' to be a boolean"]),
    ("tls { verify_and_map: 1 }", &["t.conf:1:6: error parsing tls config, expected 'verify_and_map' to be a boolean"]),
    ("tls { verify_cert_and_check_known_urls: 1 }", &["t.conf:1:6: error parsing tls config, expected 'verify_cert_and_check_known_urls' to be a boolean"]),
    ("tls { verify_cert_and_check_known_urls: true }", &["t.conf:1:6: verify_cert_and_check_known_urls not supported in this context"]),
    ("tls { cipher_suites: [] }", &["t.conf:1:6: error parsing tls config, 'cipher_suites' cannot be empty"]),
    ("tls { cipher_suites: 1 }", &["t.conf:1:6: interface conversion: interface {} is int64, not []interface {}"]),
    ("tls { cipher_suites: [BAD] }", &["t.conf:1:22: unrecognized cipher BAD"]),
    ("tls { cipher_suites: [1 ] }", &["t.conf:1:22: interface conversion: interface {} is int64, not string"]),
    ("tls { curve_preferences: [] }", &["t.conf:1:6: error parsing tls config, 'curve_preferences' cannot be empty"]),
    ("tls { curve_preferences: [BAD] }", &["t.conf:1:26: unrecognized curve preference BAD"]),
    ("tls { timeout: \"x\" }", &[r#"t.conf:1:6: error parsing tls config, 'timeout' time: invalid duration "x""#]),
    ("tls { timeout: true }", &["t.conf:1:6: error parsing tls config, 'timeout' wrong type"]),
    ("tls { connection_rate_limit: \"x\" }", &["t.conf:1:6: error parsing tls config, 'connection_rate_limit' wrong type"]),
    ("tls { pinned_certs: 1 }", &["t.conf:1:6: error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"]),
    ("tls { pinned_certs: [abc] }", &["t.conf:1:21: error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"]),
    ("tls { pinned_certs: [1 ] }", &["t.conf:1:21: interface conversion: interface {} is int64, not string"]),
    ("tls { cert_file: a }", &["t.conf:1:0: missing 'key_file' in TLS configuration"]),
    ("tls { key_file: a }", &["t.conf:1:0: missing 'cert_file' in TLS configuration"]),
    // cluster
    ("cluster = 1", &["t.conf:1:0: Expected map to define cluster, got int64"]),
    ("cluster { foo: 1 }", &[r#"t.conf:1:10: unknown field "foo""#]),
    ("cluster {\n  foo: 1\n}", &[r#"t.conf:2:3: unknown field "foo""#]),
    ("cluster { listen: abc }", &[r#"t.conf:1:10: could not parse address string "abc""#]),
    ("cluster { port: \"x\"\nname: a }", &["t.conf:1:10: interface conversion: interface {} is string, not int64"]),
    ("cluster { no_advertise: 1 }", &["t.conf:1:10: interface conversion: interface {} is int64, not bool"]),
    ("cluster { connect_retries: x }", &["t.conf:1:10: interface conversion: interface {} is string, not int64"]),
    ("cluster { advertise: 1 }", &["t.conf:1:10: interface conversion: interface {} is int64, not string"]),
    ("cluster { authorization: 1 }", &["t.conf:1:10: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("cluster { authorization { users: [] } }", &["t.conf:1:10: Cluster authorization does not allow multiple users"]),
    ("cluster { authorization { token: x } }", &["t.conf:1:10: Cluster authorization does not support tokens"]),
    ("cluster { authorization { foo: 1 } }", &[r#"t.conf:1:26: unknown field "foo""#]),
    ("cluster { routes: \"nats://a:1\" }", &["t.conf:1:10: interface conversion: interface {} is string, not []interface {}"]),
    ("cluster { routes: [\"nats://a b:1\"] }", &[r#"t.conf:1:20: error parsing route url ["nats://a b:1"]"#]),
    ("cluster { routes: [\"://x\"] }", &[r#"t.conf:1:20: error parsing route url ["://x"]"#]),
    ("cluster { routes: [1 ] }", &["t.conf:1:19: interface conversion: interface {} is int64, not string"]),
    ("cluster { tls: 1 }", &["t.conf:1:10: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("cluster { tls { foo: 1 } }", &[r#"t.conf:1:16: error parsing tls config, unknown field ["foo"]"#]),
    ("cluster { tls { cert_file: a } }", &["t.conf:1:10: missing 'key_file' in TLS configuration"]),
    ("cluster { permissions: 1 }", &["Expected permissions to be a map/struct, got 1"]),
    ("cluster { permissions: { import: 1 } }", &["Expected subject permissions to be a subject, or array of subjects, got int64"]),
    ("cluster { permissions: { foo: 1 } }", &[r#"t.conf:1:25: Unknown field "foo" parsing permissions"#]),
    ("cluster { permissions: { allow_responses: true } }", &["t.conf:1:10: Cluster permissions do not support dynamic responses"]),
    // The language's own errors (reported by `conf`, no position).
    ("port: 4222 xx", &["Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead.'"]),
    ("port: $nope", &["variable reference for 'nope' on line 1 can not be found"]),
];

/// Files that give exactly these warnings and errors.
#[rustfmt::skip]
const WARNINGS: &[(&str, &[&str], &[&str])] = &[
    (
        "ping_interval: 10",
        &[
            r#"t.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration"#,
        ],
        &[],
    ),
    (
        "write_deadline: 5",
        &[
            r#"t.conf:1:0: invalid use of field "write_deadline": write_deadline should be converted to a duration"#,
        ],
        &[],
    ),
    (
        "Ping_Interval: 2m",
        &[
            r#"t.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration"#,
        ],
        &[],
    ),
    (
        "ping_interval: 1.5",
        &[
            r#"t.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration"#,
        ],
        &["t.conf:1:0: interface conversion: interface {} is float64, not int64"],
    ),
    (
        "cluster { routes: [\"nats://a:1\", \"nats://a:1\"] }",
        &[r#"t.conf:1:34: invalid use of field "nats://a:1": Duplicate route entry detected"#],
        &[],
    ),
    (
        "cluster { authorization { user: a, permissions: { publish: a } } }",
        &[
            r#"t.conf:1:10: invalid use of field "authorization": setting "permissions" within cluster authorization block is deprecated"#,
        ],
        &[],
    ),
    (
        "ping_interval: 10\nfoo: 1",
        &[
            r#"t.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration"#,
        ],
        &[r#"t.conf:2:1: unknown field "foo""#],
    ),
];

/// Errors the reference locates at whichever key of the entry its map iteration visits
/// last (random); natsd takes the last key in the file. ✓ref for the message.
#[rustfmt::skip]
const LAST_KEY_OF_ENTRY: &[(&str, &str)] = &[
    (
        "authorization { users: [{nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, user: a}] }",
        "t.conf:1:89: Nkey users do not take usernames or passwords",
    ),
    (
        "authorization { users: [{nkey: x, permissions: {}}] }",
        "t.conf:1:34: Not a valid public nkey for a user",
    ),
    (
        "authorization { users: [{password: x, clients: []}] }",
        "t.conf:1:38: User entry requires a user",
    ),
];

/// Where natsd deliberately differs from the reference (not ✓ref).
#[rustfmt::skip]
const NATSD_ONLY: &[(&str, &[&str])] = &[
    (
        "jetstream {}",
        &["t.conf:1:0: natsd does not support jetstream"],
    ),
    (
        "jetstream: enabled",
        &["t.conf:1:0: natsd does not support jetstream"],
    ),
    (
        "JetStream: true",
        &["t.conf:1:0: natsd does not support JetStream"],
    ),
    (
        "store_dir: /tmp/js",
        &["t.conf:1:0: natsd does not support store_dir"],
    ),
    (
        "gateway { name: a }",
        &["t.conf:1:0: natsd does not support gateway"],
    ),
    (
        "mqtt { port: 1883 }",
        &["t.conf:1:0: natsd does not support mqtt"],
    ),
    (
        "websocket { port: 8080 }",
        &["t.conf:1:0: natsd does not support websocket"],
    ),
    ("ws {}", &["t.conf:1:0: natsd does not support ws"]),
    (
        "operator: op.jwt",
        &["t.conf:1:0: natsd does not support operator"],
    ),
    (
        "resolver: MEMORY",
        &["t.conf:1:0: natsd does not support resolver"],
    ),
    (
        "trusted: []",
        &["t.conf:1:0: natsd does not support trusted"],
    ),
    ("ocsp: false", &["t.conf:1:0: natsd does not support ocsp"]),
    (
        "default_js_domain: {}",
        &["t.conf:1:0: natsd does not support default_js_domain"],
    ),
    // The reference prints its tokens' addresses inside arrays and maps.
    (
        "authorization { users: { a: 1 } }",
        &["t.conf:1:16: Expected users field to be an array, got map[a:1]"],
    ),
    (
        "authorization { permissions: [a, b ] }",
        &["t.conf:1:16: Expected permissions to be a map/struct, got [a b]"],
    ),
];

// ----- the tables --------------------------------------------------------------

#[test]
fn valid_files_load_cleanly() {
    for text in VALID {
        let (_, report) = load(text);
        assert_eq!(report, Report::default(), "{text:?}");
    }
}

#[test]
fn every_error_with_its_position() {
    let last_key = LAST_KEY_OF_ENTRY
        .iter()
        .map(|(text, error)| (*text, std::slice::from_ref(error)));
    for (text, errors) in ERRORS
        .iter()
        .copied()
        .chain(NATSD_ONLY.iter().copied())
        .chain(last_key)
    {
        let (_, report) = load(text);
        let want = Report {
            warnings: Vec::new(),
            errors: strings(errors),
            parse_failed: ["Parse error", "variable reference"]
                .iter()
                .any(|language| errors[0].starts_with(language)),
        };
        assert_eq!(report, want, "{text:?}");
    }
}

#[test]
fn warnings_come_with_their_errors() {
    for &(text, warnings, errors) in WARNINGS {
        let (_, report) = load(text);
        let want = Report {
            warnings: strings(warnings),
            errors: strings(errors),
            parse_failed: false,
        };
        assert_eq!(report, want, "{text:?}");
    }
}

/// Runs every ✓ref case through `nats-server -t` when it is installed: a valid file is
/// valid there too, and every natsd message appears in the reference's output.
#[test]
fn reference_agrees() {
    let cases = ERRORS.iter().map(|&(text, errors)| (text, errors)).chain(
        WARNINGS
            .iter()
            .flat_map(|&(text, warnings, errors)| [(text, warnings), (text, errors)]),
    );
    let mut disagreements = reference_disagreements(VALID, cases);
    for (text, line) in LAST_KEY_OF_ENTRY {
        let output = reference(text).unwrap_or_default();
        let message = line.splitn(4, ':').nth(3).unwrap_or_default();
        if !output.contains(message) {
            disagreements.push(format!("{text:?}: {message:?} not in {output:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Where `nats-server -t` disagrees (nothing when it is not installed): each of `valid`
/// must be valid there, and each line of `cases` must be in its output for that file.
fn reference_disagreements<'a>(
    valid: &[&str],
    cases: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
) -> Vec<String> {
    if reference("port: 4222").is_none() {
        eprintln!("nats-server not installed: reference comparison skipped");
        return Vec::new();
    }
    let mut disagreements = Vec::new();
    for text in valid {
        let output = reference(text).unwrap_or_default();
        if !output.contains("is valid") {
            disagreements.push(format!("{text:?} is valid in natsd, not in: {output:?}"));
        }
    }
    for (text, lines) in cases {
        let output = reference(text).unwrap_or_default();
        for line in lines {
            if !output.contains(line) || output.contains("is valid") {
                disagreements.push(format!("{text:?}: {line:?} not in {output:?}"));
            }
        }
    }
    disagreements
}

// ----- every key with a good value ---------------------------------------------

#[rustfmt::skip]
#[test]
fn top_level_keys() {
    let cases: Vec<(&str, Options)> = vec![
        (
            "listen: 127.0.0.1:4333",
            defaults_with(|o| (o.host, o.port) = ("127.0.0.1".into(), 4333)),
        ),
        ("listen: 4333", defaults_with(|o| o.port = 4333)),
        (
            "listen: \"[::1]:-1\"",
            defaults_with(|o| (o.host, o.port) = ("::1".into(), -1)),
        ),
        ("listen: \":70000\"", defaults_with(|o| o.port = 70000)),
        ("port: -1", defaults_with(|o| o.port = -1)),
        ("port: 99999", defaults_with(|o| o.port = 99999)),
        ("PORT: 4333", defaults_with(|o| o.port = 4333)),
        (
            "host: 10.0.0.1",
            defaults_with(|o| o.host = "10.0.0.1".into()),
        ),
        ("net: \"::\"", defaults_with(|o| o.host = "::".into())),
        ("host: \"\"", Options::default()),
        (
            "server_name: srv-1",
            defaults_with(|o| o.server_name = Some("srv-1".into())),
        ),
        (
            "client_advertise: \"example.com:4000\"",
            defaults_with(|o| o.client_advertise = Some("example.com:4000".into())),
        ),
        ("http: 8222", defaults_with(|o| o.http_port = 8222)),
        (
            "http: localhost:8222",
            defaults_with(|o| (o.http_host, o.http_port) = (Some("localhost".into()), 8222)),
        ),
        (
            "https: \"0.0.0.0:-1\"",
            defaults_with(|o| (o.http_host, o.https_port) = (Some("0.0.0.0".into()), -1)),
        ),
        ("http_port: 8222", defaults_with(|o| o.http_port = 8222)),
        ("monitor_port: -1", defaults_with(|o| o.http_port = -1)),
        ("https_port: 8443", defaults_with(|o| o.https_port = 8443)),
        (
            "http_base_path: /mon",
            defaults_with(|o| o.http_base_path = Some("/mon".into())),
        ),
        ("debug: true", defaults_with(|o| o.log.debug = true)),
        ("trace: yes", defaults_with(|o| o.log.trace = true)),
        (
            "trace_verbose: on",
            defaults_with(|o| (o.log.trace, o.log.trace_verbose) = (true, true)),
        ),
        ("logtime: false", defaults_with(|o| o.log.logtime = false)),
        (
            "log_file: /tmp/n.log",
            defaults_with(|o| o.log.file = Some("/tmp/n.log".into())),
        ),
        (
            "logfile: \"/tmp/n.log\"",
            defaults_with(|o| o.log.file = Some("/tmp/n.log".into())),
        ),
        (
            "log_size_limit: 1MB",
            defaults_with(|o| o.log.size_limit = 1 << 20),
        ),
        (
            "logfile_size_limit: 100",
            defaults_with(|o| o.log.size_limit = 100),
        ),
        ("log_size_limit: -5", Options::default()),
        ("syslog: true", defaults_with(|o| o.log.syslog = true)),
        (
            "remote_syslog: \"udp://h:514\"",
            defaults_with(|o| o.log.remote_syslog = Some("udp://h:514".into())),
        ),
        (
            "max_traced_msg_len: 512",
            defaults_with(|o| o.log.max_traced_msg_len = 512),
        ),
        ("max_traced_msg_len: -1", Options::default()),
        (
            "pid_file: /tmp/n.pid",
            defaults_with(|o| o.pid_file = Some("/tmp/n.pid".into())),
        ),
        (
            "pidfile: /tmp/n.pid",
            defaults_with(|o| o.pid_file = Some("/tmp/n.pid".into())),
        ),
        (
            "ports_file_dir: /tmp",
            defaults_with(|o| o.ports_file_dir = Some("/tmp".into())),
        ),
        (
            "max_connections: 100",
            defaults_with(|o| o.max_connections = 100),
        ),
        ("max_conn: 1k", defaults_with(|o| o.max_connections = 1000)),
        ("max_connections: 0", Options::default()),
        (
            "max_connections: -1",
            defaults_with(|o| o.max_connections = usize::MAX),
        ),
        (
            "max_control_line: 512",
            defaults_with(|o| o.max_control_line = 512),
        ),
        ("max_control_line: 0", Options::default()),
        ("max_payload: 1KB", defaults_with(|o| o.max_payload = 1024)),
        (
            "Max_Payload: 2147483647",
            defaults_with(|o| o.max_payload = 2147483647),
        ),
        ("max_payload: -1", Options::default()),
        (
            "max_pending: 2mib",
            defaults_with(|o| o.max_pending = 2 << 20),
        ),
        (
            "max_subscriptions: 10",
            defaults_with(|o| o.max_subscriptions = 10),
        ),
        ("max_subs: -1", Options::default()),
        (
            "max_sub_tokens: 255",
            defaults_with(|o| o.max_sub_tokens = 255),
        ),
        (
            "max_subscription_tokens: 1",
            defaults_with(|o| o.max_sub_tokens = 1),
        ),
        (
            "ping_interval: \"30s\"",
            defaults_with(|o| o.ping_interval = Duration::from_secs(30)),
        ),
        (
            "ping_interval: 30s",
            defaults_with(|o| o.ping_interval = Duration::from_secs(30)),
        ),
        ("ping_interval: \"0s\"", Options::default()),
        ("ping_interval: \"-5s\"", Options::default()),
        ("ping_max: 5", defaults_with(|o| o.ping_max = 5)),
        ("ping_max: 0", Options::default()),
        ("ping_max: -1", defaults_with(|o| o.ping_max = 0)),
        (
            "write_deadline: \"2.5s\"",
            defaults_with(|o| o.write_deadline = Duration::from_millis(2500)),
        ),
        (
            "lame_duck_duration: \"1m\"",
            defaults_with(|o| o.lame_duck_duration = Duration::from_secs(60)),
        ),
        (
            "lame_duck_grace_period: \"5s\"",
            defaults_with(|o| o.lame_duck_grace_period = Duration::from_secs(5)),
        ),
        ("lame_duck_grace_period: \"0s\"", Options::default()),
        (
            "no_header_support: true",
            defaults_with(|o| o.headers = false),
        ),
        ("prof_port: 6060", defaults_with(|o| o.prof_port = 6060)),
        (
            "connect_error_reports: 10",
            defaults_with(|o| o.connect_error_reports = 10),
        ),
        ("connect_error_reports: 0", Options::default()),
        (
            "reconnect_error_reports: 5",
            defaults_with(|o| o.reconnect_error_reports = 5),
        ),
        (
            "disable_sublist_cache: true",
            defaults_with(|o| o.no_sublist_cache = true),
        ),
        (
            "no_sublist_cache: true",
            defaults_with(|o| o.no_sublist_cache = true),
        ),
        (
            "server_tags: [\"Az\", b, az, \"\"]",
            defaults_with(|o| o.server_tags = strings(&["az", "b"])),
        ),
        (
            "server_tags: single",
            defaults_with(|o| o.server_tags = strings(&["single"])),
        ),
        (
            "system_account: SYS",
            defaults_with(|o| o.system_account = Some("SYS".into())),
        ),
        (
            "system: SYS",
            defaults_with(|o| o.system_account = Some("SYS".into())),
        ),
        (
            "system_account: A\nsystem: B",
            defaults_with(|o| o.system_account = Some("A".into())),
        ),
        (
            "no_system_account: true",
            defaults_with(|o| o.no_system_account = true),
        ),
        (
            "no_system: true",
            defaults_with(|o| o.no_system_account = true),
        ),
        (
            "no_sys_acc: true",
            defaults_with(|o| o.no_system_account = true),
        ),
        (
            "allow_non_tls: true",
            defaults_with(|o| o.allow_non_tls = true),
        ),
        (
            "no_auth_user: a",
            defaults_with(|o| o.auth.no_auth_user = Some("a".into())),
        ),
        ("jetstream: disable", Options::default()),
        (
            "{ \"port\": 4333, \"debug\": true }",
            defaults_with(|o| (o.port, o.log.debug) = (4333, true)),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(options(text), want, "{text:?}");
    }
}

#[test]
fn later_keys_win_in_file_order() {
    let opts = options("host: 1.2.3.4\nport: 1\nlisten: 5555\n");
    assert_eq!((opts.host.as_str(), opts.port), ("0.0.0.0", 5555));
    let opts = options("listen: \"1.2.3.4:1\"\nport: 2\n");
    assert_eq!((opts.host.as_str(), opts.port), ("1.2.3.4", 2));
}

#[test]
fn authorization_block() {
    let opts = options("authorization {\n  USER: derek\n  password: secret\n  timeout: 0.5\n}\n");
    assert_eq!(
        opts.auth,
        AuthOptions {
            user: Some("derek".into()),
            password: Some("secret".into()),
            timeout: 0.5,
            ..AuthOptions::default()
        }
    );
    assert!(opts.has_plaintext_passwords());
    assert_eq!(opts.unsupported_yet(), None);

    let opts = options("authorization { token: $2a$11$abc, timeout: 3 }");
    assert_eq!(opts.auth.token.as_deref(), Some("$2a$11$abc"));
    assert_eq!(opts.auth.timeout, 3.0);
    assert!(!opts.has_plaintext_passwords());

    let opts = options("authorization { username: a, pass: \"\", timeout: x }");
    assert_eq!(opts.auth.user.as_deref(), Some("a"));
    assert_eq!(opts.auth.password, None);
    assert_eq!(
        opts.auth.timeout, 1.0,
        "a timeout of another type is one second"
    );
}

#[test]
fn users_permissions_and_defaults() {
    let opts = options(
        r#"
authorization {
  default_permissions: { publish: "SANDBOX.*", subscribe: ["PUBLIC.>", "_INBOX.>"] }
  users = [
    {user: a, password: x, permissions: { pub: { allow: ["a.>"], deny: "a.secret" }, sub: "q.* workers" }}
    {username: b, pass: $2a$11$abc, clients: [standard, "Mqtt"]}
    {user: c, permission: { publish: [], allow_responses: true }}
    {user: d, authorization: { subscribe: { deny: ">" }, allow_responses: { max: -1, expires: "-1s" } }}
    {user: e, permissions: { export: x, import: y, publish_allow_responses: { max_msgs: 5, ttl: "1m" } }}
    {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, connection_types: websocket}
  ]
}
"#,
    );
    let defaults = Permissions {
        publish: allow(&["SANDBOX.*"]),
        subscribe: allow(&["PUBLIC.>", "_INBOX.>"]),
        allow_responses: None,
    };
    let responses_only = SubjectPermission {
        allow: Some(Vec::new()),
        deny: None,
    };
    let want = AuthOptions {
        users: vec![
            User {
                username: "a".into(),
                password: Some("x".into()),
                permissions: Some(Permissions {
                    publish: Some(SubjectPermission {
                        allow: Some(strings(&["a.>"])),
                        deny: Some(strings(&["a.secret"])),
                    }),
                    subscribe: allow(&["q.* workers"]),
                    allow_responses: None,
                }),
                ..User::default()
            },
            User {
                username: "b".into(),
                password: Some("$2a$11$abc".into()),
                permissions: Some(defaults.clone()),
                allowed_connection_types: names(&["MQTT", "STANDARD"]),
                account: None,
            },
            User {
                username: "c".into(),
                password: None,
                permissions: Some(Permissions {
                    publish: Some(responses_only.clone()),
                    subscribe: None,
                    allow_responses: Some(ResponsePermission::default()),
                }),
                ..User::default()
            },
            User {
                username: "d".into(),
                permissions: Some(Permissions {
                    publish: Some(responses_only.clone()),
                    subscribe: Some(SubjectPermission {
                        allow: None,
                        deny: Some(strings(&[">"])),
                    }),
                    allow_responses: Some(ResponsePermission {
                        max_msgs: None,
                        expires: None,
                    }),
                }),
                ..User::default()
            },
            User {
                username: "e".into(),
                permissions: Some(Permissions {
                    publish: allow(&["y"]),
                    subscribe: allow(&["x"]),
                    allow_responses: Some(ResponsePermission {
                        max_msgs: Some(5),
                        expires: Some(Duration::from_secs(60)),
                    }),
                }),
                ..User::default()
            },
        ],
        nkeys: vec![NkeyUser {
            nkey: NKEY.into(),
            permissions: Some(defaults.clone()),
            allowed_connection_types: names(&["WEBSOCKET"]),
            account: None,
        }],
        default_permissions: Some(defaults),
        ..AuthOptions::default()
    };
    assert_eq!(opts.auth, want);
    assert!(opts.has_plaintext_passwords(), "a, c and d");
}

#[test]
fn variables_are_holders_not_unknown_fields() {
    // ✓ref: valid.
    let opts = options(
        "PORT_VAR = 4333\nport: $PORT_VAR\nauthorization {\n  PASS: s3cret\n  \
         PERMS = { publish: \"a\" }\n  users: [ {user: u, password: $PASS, permissions: $PERMS \
         } ]\n}\ncluster {\n  ROUTE: \"nats://h:6222\"\n  routes: [ $ROUTE ]\n}\n",
    );
    assert_eq!(opts.port, 4333);
    assert_eq!(opts.auth.users[0].password.as_deref(), Some("s3cret"));
    assert_eq!(
        opts.auth.users[0].permissions.as_ref().unwrap().publish,
        allow(&["a"])
    );
    assert_eq!(opts.cluster.routes, strings(&["nats://h:6222"]));
    // Unused holders inside blocks are unknown fields (✓ref).
    let (_, report) = load("authorization {\n  HOLDER: x\n  user: a\n}");
    assert_eq!(report.errors, [r#"t.conf:2:3: unknown field "HOLDER""#]);
    // In permission maps too, with their own wording.
    let (_, report) = load("authorization { permissions: { X: a, publish: $X } }");
    assert_eq!(report, Report::default());
    let (_, report) = load("authorization { permissions: { publish: { X: a, allow: $X } } }");
    assert_eq!(report, Report::default());
}

#[test]
fn tls_block() {
    let opts = options(
        r#"
tls {
  cert_file: "./certs/server-cert.pem"
  KEY_FILE:  "./certs/server-key.pem"
  ca_file:   "./certs/ca.pem"
  verify_and_map: true
  insecure: false
  timeout: "1.5s"
  cipher_suites: ["TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_SHA"]
  curve_preferences: [X25519, CurveP521]
  pinned_certs: ["A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"]
  connection_rate_limit: 100
}
allow_non_tls: true
"#,
    );
    let want = TlsOptions {
        cert_file: Some("./certs/server-cert.pem".into()),
        key_file: Some("./certs/server-key.pem".into()),
        ca_file: Some("./certs/ca.pem".into()),
        verify: true,
        verify_and_map: true,
        timeout: 1.5,
        cipher_suites: strings(&["TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_SHA"]),
        curve_preferences: strings(&["X25519", "CurveP521"]),
        pinned_certs: names(&["a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"]),
        connection_rate_limit: 100,
        ..TlsOptions::default()
    };
    assert_eq!(opts.tls, Some(want));
    assert!(opts.allow_non_tls);
    assert_eq!(opts.unsupported_yet(), None);
    for (text, timeout) in [("2", 2.0), ("0.5", 0.5), ("\"500ms\"", 0.5)] {
        let opts = options(&format!("tls {{ timeout: {text} }}"));
        assert_eq!(opts.tls.map(|t| t.timeout), Some(timeout), "{text}");
    }
    // Loading the files is the TLS setup's job: a missing file is no error here (the
    // reference reports `error parsing X509 certificate/key pair: open a: ...`).
    let opts = options("tls { cert_file: a, key_file: b }");
    assert!(opts.tls.is_some());
}

#[test]
fn cluster_block() {
    let opts = options(
        r#"
cluster {
  name: C1
  listen: localhost:4244
  authorization { user: route_user, password: $2a$11$xH8dkGrty1cBNtZjhPeWJewu/YPbSU.rXJWmS6SFilOBXzmZoMk9m, timeout: 0.5 }
  routes = [
    nats-route://user1:pass1@127.0.0.1:4245
    " nats-route://user2:pass2@127.0.0.1:4246 "
  ]
  cluster_advertise: "10.0.0.1:4244"
  no_advertise: true
  connect_retries: 3
  permissions { import: "a.>", export: { deny: "secret.>" } }
  tls { cert_file: r.pem, key_file: r.key, verify_cert_and_check_known_urls: true }
}
"#,
    );
    let want = ClusterOptions {
        name: Some("C1".into()),
        host: Some("localhost".into()),
        port: 4244,
        username: Some("route_user".into()),
        password: Some("$2a$11$xH8dkGrty1cBNtZjhPeWJewu/YPbSU.rXJWmS6SFilOBXzmZoMk9m".into()),
        auth_timeout: 0.5,
        tls: Some(TlsOptions {
            cert_file: Some("r.pem".into()),
            key_file: Some("r.key".into()),
            verify: true,
            verify_cert_and_check_known_urls: true,
            ..TlsOptions::default()
        }),
        advertise: Some("10.0.0.1:4244".into()),
        no_advertise: true,
        connect_retries: 3,
        permissions: Some(RoutePermissions {
            import: allow(&["a.>"]),
            export: Some(SubjectPermission {
                allow: None,
                deny: Some(strings(&["secret.>"])),
            }),
        }),
        routes: strings(&[
            "nats-route://user1:pass1@127.0.0.1:4245",
            "nats-route://user2:pass2@127.0.0.1:4246",
        ]),
    };
    assert_eq!(opts.cluster, want);
    assert_eq!(opts.unsupported_yet(), None);

    let opts = options("cluster { host: 127.0.0.1, port: -1 }");
    assert_eq!(opts.cluster.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(opts.cluster.port, -1);
    let opts = options("cluster { net: h, listen: 6222 }");
    assert_eq!((opts.cluster.host, opts.cluster.port), (None, 6222));
}

#[test]
fn cluster_authorization_permissions_are_deprecated_defaults() {
    let (opts, report) = load("cluster { authorization { user: a, permissions: { publish: x } } }");
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(
        opts.cluster.permissions,
        Some(RoutePermissions {
            import: allow(&["x"]),
            export: None
        })
    );
    let (opts, _) = load(
        "cluster {\n  permissions: { export: y }\n  authorization { permissions: { publish: x } }\n}",
    );
    assert_eq!(
        opts.cluster.permissions,
        Some(RoutePermissions {
            import: None,
            export: allow(&["y"])
        }),
        "the block's own permissions win"
    );
}

// ----- files, includes, whole examples -------------------------------------------

#[test]
fn missing_file_and_language_errors() {
    let mut opts = Options::default();
    let report = apply_file(Path::new("/nonexistent/natsd.conf"), &mut opts);
    assert_eq!(
        report.errors,
        ["open /nonexistent/natsd.conf: no such file or directory"]
    );
    assert!(report.parse_failed);
    // ✓ref: a language error is printed alone, collected messages each end in a newline.
    assert_eq!(
        report.message(),
        "open /nonexistent/natsd.conf: no such file or directory"
    );
    let (_, report) = load("port: [\n");
    assert_eq!(
        report.message(),
        "Parse error on line 2: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"
    );
    let (_, report) = load("ping_interval: 10\nfoo: 1\n");
    assert!(!report.parse_failed);
    assert_eq!(
        report.message(),
        "t.conf:1:0: invalid use of field \"ping_interval\": ping_interval should be converted to a duration\nt.conf:2:1: unknown field \"foo\"\n"
    );
    assert_eq!(
        opts.config_file.as_deref(),
        Some(Path::new("/nonexistent/natsd.conf"))
    );
}

#[test]
fn errors_in_included_files_name_them() {
    // ✓ref: `inc.conf:1:0: unknown field "foo"`.
    let dir = TempDir::new();
    dir.write("inc.conf", "foo: 1\nport: 4333\n");
    let main = dir.write("t.conf", "include ./inc.conf\ndebug: true\n");
    let mut opts = Options::default();
    let report = apply_file(&main, &mut opts);
    assert_eq!(
        dir.relative(report.errors),
        [r#"inc.conf:1:0: unknown field "foo""#]
    );
    assert_eq!(opts.port, 4333);
    assert!(opts.log.debug);
}

#[test]
fn a_wrong_type_ends_its_block() {
    // The reference recovers the panic at the block's parser, so the rest of the block is
    // not read (which keys it had read depends on Go's map order).
    let (opts, report) = load("cluster {\n  port: x\n  name: 1\n  foo: 2\n}\ndebug: true\n");
    assert_eq!(
        report.errors,
        ["t.conf:2:3: interface conversion: interface {} is string, not int64"]
    );
    assert!(opts.log.debug, "the top level goes on");
    // A TLS block is read by a function of its own: the cluster block goes on.
    let (opts, report) = load("cluster {\n  tls: 1\n  port: 6222\n}\n");
    assert_eq!(
        report.errors,
        ["t.conf:2:3: interface conversion: interface {} is int64, not map[string]interface {}"]
    );
    assert_eq!(opts.cluster.port, 6222);
}

#[test]
fn several_errors_in_file_order() {
    let (_, report) = load("foo: 1\nport: x\ncluster { bar: 2 }\nmax_payload: 3000000000\n");
    assert_eq!(
        report.errors,
        [
            r#"t.conf:1:0: unknown field "foo""#,
            "t.conf:2:1: interface conversion: interface {} is string, not int64",
            r#"t.conf:3:11: unknown field "bar""#,
            "t.conf:4:1: max_payload value is too big",
        ]
    );
}

/// The seed's full example (config.md §10), as the seed gives it (✓ref: valid).
const SEED_FULL: &str = r#"
listen: localhost:4242 # host/port to listen for client connections

http: localhost:8222 # HTTP monitoring port

# Authorization for client connections
authorization {
  user:     derek
  # ./util/mkpasswd -p T0pS3cr3t
  password: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG
  timeout:  1
}

# Cluster definition

cluster {

  listen: localhost:4244 # host/port for inbound route connections

  # Authorization for route connections
  authorization {
    user: route_user
    # ./util/mkpasswd -p T0pS3cr3tT00!
    password: $2a$11$xH8dkGrty1cBNtZjhPeWJewu/YPbSU.rXJWmS6SFilOBXzmZoMk9m
    timeout: 0.5
  }

  # Routes are actively solicited and connected to from this server.
  # Other servers can connect to us if they supply the correct credentials
  # in their routes definitions from above.

  routes = [
    nats-route://user1:pass1@127.0.0.1:4245
    nats-route://user2:pass2@127.0.0.1:4246
  ]
}

# logging options
debug:   false
trace:   true
logtime: false
log_file: "/tmp/nats-server.log"

# pid file
pid_file: "/tmp/nats-server.pid"

# Some system overides

# max_connections
max_connections: 100

# maximum protocol control line
max_control_line: 512

# maximum payload
max_payload: 65536
"#;

/// The seed's multi-user example with variables, permissions and default permissions
/// (✓ref: valid).
const SEED_MULTI_USER: &str = r#"
authorization {
  ADMIN = {
    publish = ">"
    subscribe = ">"
  }
  REQUESTOR = {
    publish = ["req.foo", "req.bar"]
    subscribe = "_INBOX.>"
  }
  RESPONDER = {
    subscribe = ["req.foo", "req.bar"]
    publish = "_INBOX.>"
  }
  DEFAULT_PERMISSIONS = {
    publish = "SANDBOX.*"
    subscribe = ["PUBLIC.>", "_INBOX.>"]
  }

  PASS: abcdefghijklmnopqrstuvwxwz0123456789
  users = [
    {user: joe,     password: foo,   permissions: $ADMIN}
    {user: alice,   password: bar,   permissions: $REQUESTOR}
    {user: bob,     password: $PASS, permissions: $RESPONDER}
    {user: charlie, password: bar}
  ]
}
"#;

#[test]
fn seed_full_example() {
    let opts = options(SEED_FULL);
    assert_eq!((opts.host.as_str(), opts.port), ("localhost", 4242));
    assert_eq!(
        (opts.http_host.as_deref(), opts.http_port),
        (Some("localhost"), 8222)
    );
    assert_eq!(opts.auth.user.as_deref(), Some("derek"));
    assert_eq!(opts.auth.password.as_deref(), Some(BCRYPT_DEREK));
    assert_eq!(opts.auth.timeout, 1.0);
    assert!(!opts.has_plaintext_passwords());
    let cluster = &opts.cluster;
    assert_eq!(
        (cluster.host.as_deref(), cluster.port),
        (Some("localhost"), 4244)
    );
    assert_eq!(cluster.username.as_deref(), Some("route_user"));
    assert_eq!(cluster.auth_timeout, 0.5);
    assert_eq!(cluster.routes.len(), 2);
    assert!(!opts.log.debug && opts.log.trace && !opts.log.logtime);
    assert_eq!(
        opts.log.file.as_deref(),
        Some(Path::new("/tmp/nats-server.log"))
    );
    assert_eq!(
        opts.pid_file.as_deref(),
        Some(Path::new("/tmp/nats-server.pid"))
    );
    assert_eq!(opts.max_connections, 100);
    assert_eq!(opts.max_control_line, 512);
    assert_eq!(opts.max_payload, 65536);
    assert_eq!(opts.validate(), Ok(()));
    assert_eq!(opts.unsupported_yet(), None);
}

#[test]
fn seed_multi_user_example() {
    let opts = options(SEED_MULTI_USER);
    let users: Vec<(&str, Option<&str>)> = opts
        .auth
        .users
        .iter()
        .map(|u| (u.username.as_str(), u.password.as_deref()))
        .collect();
    assert_eq!(
        users,
        [
            ("joe", Some("foo")),
            ("alice", Some("bar")),
            ("bob", Some("abcdefghijklmnopqrstuvwxwz0123456789")),
            ("charlie", Some("bar")),
        ]
    );
    let permissions = |i: usize| opts.auth.users[i].permissions.clone().unwrap();
    assert_eq!(permissions(0).publish, allow(&[">"]));
    assert_eq!(permissions(1).publish, allow(&["req.foo", "req.bar"]));
    assert_eq!(permissions(2).subscribe, allow(&["req.foo", "req.bar"]));
    assert_eq!(
        permissions(3).publish,
        allow(&["SANDBOX.*"]),
        "default permissions"
    );
    assert_eq!(permissions(3).subscribe, allow(&["PUBLIC.>", "_INBOX.>"]));
    assert!(opts.has_plaintext_passwords());
}

#[test]
fn seed_examples_pass_the_reference() {
    for text in [SEED_FULL, SEED_MULTI_USER] {
        if let Some(output) = reference(text) {
            assert!(output.contains("is valid"), "{output}");
        }
    }
}

#[test]
fn sample_configs_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "conf") {
            let mut opts = Options::default();
            let report = apply_file(&path, &mut opts);
            assert_eq!(report, Report::default(), "{}", path.display());
        }
    }
}

#[test]
fn never_panics_on_odd_values() {
    // Every key, in every block, with every type of value.
    let values = [
        "1",
        "-1",
        "0",
        "1.5",
        "true",
        "x",
        "\"\"",
        "[]",
        "[1, x ]",
        "{}",
        "{ a: 1 }",
        "2016-01-02T15:04:05Z",
        "9223372036854775807",
        "-9223372036854775808",
    ];
    let keys: Vec<&str> = super::TOP_LEVEL
        .iter()
        .flat_map(|k| k.names.iter().copied())
        .chain([
            "name",
            "routes",
            "advertise",
            "no_advertise",
            "connect_retries",
            "import",
            "export",
            "user",
            "password",
            "token",
            "timeout",
            "users",
            "permissions",
            "publish",
            "subscribe",
            "allow_responses",
            "allow",
            "deny",
            "max",
            "expires",
            "cert_file",
            "verify",
            "cipher_suites",
            "curve_preferences",
            "pinned_certs",
            "nkey",
            "clients",
        ])
        .collect();
    for key in &keys {
        for value in values {
            for text in [
                format!("{key}: {value}"),
                format!("authorization {{ {key}: {value} }}"),
                format!("authorization {{ users: [ {{ user: u, {key}: {value} }} ] }}"),
                format!("authorization {{ permissions: {{ {key}: {value} }} }}"),
                format!("authorization {{ permissions: {{ publish: {{ {key}: {value} }} }} }}"),
                format!(
                    "authorization {{ permissions: {{ allow_responses: {{ {key}: {value} }} }} }}"
                ),
                format!("tls {{ {key}: {value} }}"),
                format!("cluster {{ {key}: {value} }}"),
                format!("cluster {{ tls {{ {key}: {value} }} }}"),
            ] {
                if let Ok(map) = crate::conf::parse_str(&text, Path::new("t.conf")) {
                    let _ = super::apply_map(&map, &mut Options::default());
                }
            }
        }
    }
}
