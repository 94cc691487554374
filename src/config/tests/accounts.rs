//! `accounts {}` and `mappings {}`: every message with its position, the resolution phase,
//! and the options the valid files give (accounts.md §1).
//!
//! The tables are ✓ref unless said otherwise: `reference_agrees` re-checks them against
//! `nats-server -t` whenever it is installed.

use std::time::Duration;

use super::{allow, load, options, reference, reference_disagreements, strings, Report};
use crate::options::{
    AccountLimits, AccountOptions, ExportKind, ExportOptions, ImportKind, ImportOptions,
    MappingDestination, MappingOptions, Permissions, ResponseType, User,
};

/// A public account nkey (the reference accepts it).
const ACCOUNT_NKEY: &str = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSAXJQ";

/// Files that load without any message.
#[rustfmt::skip]
const VALID: &[&str] = &[
    // Other value types are ignored.
    "accounts: \"A\"",
    "accounts: 5",
    "accounts: []",
    "accounts: [A, B]",
    "accounts { A {}, a {} }",
    "accounts { \"a b\" {}, \"a.b\" {}, \"\" {}, \"$SYS\" {} }",
    "accounts { A { nkey: AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSAXJQ } }",
    "accounts { A { jetstream: disabled } }",
    "accounts { A { limits { max_leafnodes: 2, max_connections: 1k, max_subs: -1 } } }",
    "accounts { A { users: [] } }",
    "accounts { A { exports: [{accounts: [A]}] } }",
    "accounts { A { exports: [{stream: \"a.>\", accounts: []}] } }",
    "accounts { A { exports: [{service: a, response_type: Chunked, threshold: \"1s\"}] } }",
    // Importing from oneself.
    "accounts { A { exports: [{stream: foo}], imports: [{stream: {account: A, subject: foo}, prefix: p}] } }",
    // Covering exports.
    "accounts { A { exports: [{stream: \"events.>\"}] }, B { imports: [{stream: {account: A, subject: \"events.x\"}}] } }",
    "accounts { A { exports: [{service: \"svc.*\"}] }, B { imports: [{service: {account: A, subject: \"svc.x\"}}] } }",
    // Service `to` with wildcards, and a literal service imported as a wildcard subject.
    "accounts { A { exports: [{service: \"svc.wc.*\"}] }, B { imports: [{service: {account: A, subject: \"svc.wc.*\"}, to: \"wc.*\"}] } }",
    "accounts { A { exports: [{service: svc}] }, B { imports: [{service: {account: A, subject: svc}, to: \"wc.*\"}] } }",
    "accounts { A { exports: [{stream: \"foo.*\"}] }, B { imports: [{stream: {account: A, subject: \"foo.*\"}, to: \"bar.$1\"}] } }",
    // Exports of one subject add up their accounts.
    "accounts { A { exports: [{stream: foo, accounts: [B]}, {stream: foo, accounts: [C]}] }, C { imports: [{stream: {account: A, subject: foo}}] }, B {} }",
    // A configured $SYS is an account like any other.
    "accounts { \"$SYS\" { exports: [{service: x}] }, A { imports: [{service: {account: \"$SYS\", subject: x}}] } }",
    "system_account: SYS\naccounts { SYS { users: [{user: s}] } }",
    "authorization { users: [{user: g}] }\naccounts { A { users: [{user: a}] } }",
    // Mappings.
    "mappings { \"a.*\": \"b.$0\" }",
    "mappings { \"a.*.*\": \"b.$1.$1\" }",
    "mappings { \"foo\": \"bar.$1\" }",
    "mappings { \"foo.*\": \"bar.{{ wildcard( 1 ) }}\" }",
    "mappings { \"foo\": [] }",
    "maps { foo: bar }\nmappings { foo: baz }",
    "mappings { foo: [{dest: a, weight: 100%}] }",
    "mappings { foo: {destination: a, weight: \"50%\", cluster: c} }",
    "mappings { foo: [{dest: a, weight: 60, cluster: c}, {dest: b, weight: 40}] }",
    "accounts { A { maps { \"a.*\": [{dest: \"b.$1\", weight: 0}] } } }",
];

/// Files that give exactly these errors (and no warnings).
#[rustfmt::skip]
const ERRORS: &[(&str, &[&str])] = &[
    // The accounts key.
    ("accounts { A: 5 }", &["t.conf:1:11: Expected map entries for accounts"]),
    ("accounts: [A, A]", &["t.conf:1:14: Duplicate Account Entry: A"]),
    ("accounts: [A, \"$G\"]", &[r#"t.conf:1:15: "$G" is a Reserved Account"#]),
    ("# comment\naccounts {\n  $G { users = [ {user: g} ] }\n}", &[r#"t.conf:3:3: "$G" is a Reserved Account"#]),
    ("accounts: [A, 5 ]", &["t.conf:1:14: interface conversion: interface {} is int64, not string"]),
    // Keys of an account.
    ("accounts { A { bogus: 1 } }", &[r#"t.conf:1:15: unknown field "bogus""#]),
    ("accounts { A { nkey: ABAD } }", &[r#"t.conf:1:15: Not a valid public nkey for an account: "ABAD""#]),
    ("accounts { A { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 } }",
        &[r#"t.conf:1:15: Not a valid public nkey for an account: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4""#]),
    ("accounts { A { nkey: 5 } }", &[r"t.conf:1:15: Not a valid public nkey for an account: '\x05'"]),
    ("accounts { A { nkey: true } }", &["t.conf:1:15: Not a valid public nkey for an account: %!q(bool=true)"]),
    ("accounts { A { exports: {a: 1} } }", &["t.conf:1:15: Exports should be an array, got map[string]interface {}"]),
    ("accounts { A { imports: x } }", &["t.conf:1:15: Imports should be an array, got string"]),
    ("accounts { A { limits: 5 } }", &["t.conf:1:15: Expected account limits to be a map/struct, got 5"]),
    ("accounts { A { limits: { bogus: 1, max_leafnodes: 2 } } }", &[r#"t.conf:1:25: Unknown field "bogus" parsing account limits"#]),
    ("accounts { A { limits: { max_conn: \"x\" } } }", &["t.conf:1:25: interface conversion: interface {} is string, not int64"]),
    ("accounts { A { default_permissions: 1 } }", &["t.conf:1:15: Expected permissions to be a map/struct, got 1"]),
    // Users.
    ("accounts { A { users: [{user: a, account: B}] } }", &[r#"t.conf:1:33: unknown field "account""#]),
    ("accounts { A { users: [{user: a}, {user: a}, {user: b}, {user: b}] } }",
        &[r#"t.conf:1:15: Duplicate user "a" detected"#, r#"t.conf:1:15: Duplicate user "b" detected"#]),
    // Exports.
    ("accounts { A { exports: [x] } }", &["t.conf:1:25: Export Items should be a map with type entry, got string"]),
    ("accounts { A { exports: [{stream: 5}] } }", &["t.conf:1:26: Expected stream name to be string, got int64"]),
    ("accounts { A { exports: [{service: 5}] } }", &["t.conf:1:26: Expected service name to be string, got int64"]),
    ("accounts { A { exports: [{service: a, response: bogus}] } }", &[r#"t.conf:1:38: Unknown response type: "bogus""#]),
    ("accounts { A { exports: [{service: a, response: 5}] } }", &["t.conf:1:38: Expected response type to be string, got int64"]),
    ("accounts { A { exports: [{stream: a, response: stream}] } }", &["t.conf:1:37: Detected response directive on non-service"]),
    ("accounts { A { exports: [{service: a, threshold: \"abc\"}] } }", &[r#"t.conf:1:38: Expected response threshold to be a parseable time duration, got "abc""#]),
    ("accounts { A { exports: [{service: a, threshold: 5}] } }", &["t.conf:1:38: Expected response threshold to be a parseable time duration, got int64"]),
    ("accounts { A { exports: [{response: stream, stream: a}] } }", &["t.conf:1:26: Detected response directive on non-service"]),
    ("accounts { A { exports: [{stream: a, bogus: 1}] } }", &[r#"t.conf:1:37: unknown field "bogus""#]),
    ("accounts { A { exports: [{stream: a, accounts: B}] } }", &["t.conf:1:37: interface conversion: interface {} is string, not []interface {}"]),
    ("accounts { A { exports: [{stream: a, accounts: [5 ]}] } }", &["t.conf:1:48: interface conversion: interface {} is int64, not string"]),
    // Imports.
    ("accounts { A { imports: [x] } }", &["t.conf:1:25: Import Items should be a map with type entry, got string"]),
    ("accounts { A { imports: [{stream: x}] } }", &["t.conf:1:26: Stream entry should be an account map, got string"]),
    ("accounts { A { imports: [{service: x}] } }", &["t.conf:1:26: Service entry should be an account map, got string"]),
    ("accounts { A { imports: [{stream: {account: A}}] } }", &["t.conf:1:26: Expect an account name and a subject"]),
    ("accounts { A { imports: [{stream: {account: A, subject: x, bogus: 1}}] } }", &[r#"t.conf:1:59: unknown field "bogus""#]),
    ("accounts { A { imports: [{stream: {account: 5, subject: x}}] } }",
        &["t.conf:1:35: interface conversion: interface {} is int64, not string", "t.conf:1:26: Expect an account name and a subject"]),
    ("accounts { A { exports: [{stream: x}], imports: [{stream: {account: A, subject: x}, bogus: 1}] } }", &[r#"t.conf:1:84: unknown field "bogus""#]),
    ("accounts { A { exports: [{service: x}], imports: [{service: {account: A, subject: x}, share: 5}] } }",
        &["t.conf:1:86: interface conversion: interface {} is int64, not bool"]),
    ("accounts { A { exports: [{stream: x}], imports: [{stream: {account: A, subject: x}, prefix: 5}] } }",
        &["t.conf:1:84: interface conversion: interface {} is int64, not string"]),
    ("accounts { A { exports: [{service: x}, {service: foo}], imports: [{service: {account: A, subject: foo}, to: x}\n {service: {account: A, subject: x}}] } }",
        &[r#"t.conf:2:37: Duplicate service import subject "x", previously used in import for account "A", subject "foo""#]),
    // The resolution phase, at the accounts key.
    ("accounts { A { imports: [{stream: {account: Z, subject: x}}] } }", &[r#"t.conf:1:0: "Z" account not defined for stream import"#]),
    ("accounts { A { imports: [{service: {account: \"$G\", subject: x}}] } }", &[r#"t.conf:1:0: "$G" account not defined for service import"#]),
    ("accounts { A { imports: [{service: {account: \"$SYS\", subject: x}}] } }", &[r#"t.conf:1:0: "$SYS" account not defined for service import"#]),
    ("accounts { A { exports: [{stream: x, accounts: [Z]}] } }", &[r#"t.conf:1:0: "Z" account not defined for stream export"#]),
    ("accounts { A { exports: [{service: x, accounts: [Z]}] } }", &[r#"t.conf:1:0: "Z" account not defined for service export"#]),
    ("accounts { A { exports: [{stream: \"foo.bar\"}] }, B { imports: [{stream: {account: A, subject: \"foo.>\"}}] } }",
        &[r#"t.conf:1:0: Error adding stream import "foo.>": stream import not authorized"#]),
    ("accounts { A { exports: [{stream: foo, accounts: [C]}] }, B { imports: [{stream: {account: A, subject: foo}}] }, C {} }",
        &[r#"t.conf:1:0: Error adding stream import "foo": stream import not authorized"#]),
    ("accounts { A { exports: [{stream: foo, accounts: [B]}, {stream: foo}] }, C { imports: [{stream: {account: A, subject: foo}}] }, B {} }",
        &[r#"t.conf:1:0: Error adding stream import "foo": stream import not authorized"#]),
    ("accounts { A { exports: [{stream: \"foo..bar\"}] }, C { imports: [{stream: {account: A, subject: \"foo..bar\"}}] } }",
        &[r#"t.conf:1:0: Error adding stream import "foo..bar": stream import not authorized"#]),
    ("accounts { A { exports: [{stream: foo}] }, B { imports: [{stream: {account: A, subject: foo}}, {stream: {account: A, subject: foo}, prefix: x}] } }",
        &[r#"t.conf:1:0: Error adding stream import "foo": stream import already exists"#]),
    ("accounts { A { exports: [{stream: foo}] }, B { imports: [{stream: {account: A, subject: foo}, prefix: \"x.*\"}] } }",
        &[r#"t.conf:1:0: Error adding stream import "foo": stream import prefix can not contain wildcard tokens"#]),
    ("accounts { A { exports: [{stream: \"foo.*\"}] }, B { imports: [{stream: {account: A, subject: \"foo.*\"}, to: bar}] } }",
        &[r#"t.conf:1:0: Error adding stream import "foo.*": failed to create mapping transform for stream import subject "foo.*" to "bar": invalid mapping destination: not using all of the token wildcard(s) in bar"#]),
    ("accounts { A { exports: [{service: \"svc.*\"}] }, B { imports: [{service: {account: A, subject: \"svc.*\"}, to: \"x.*.*\"}] } }",
        &[r#"t.conf:1:0: Error adding service import "svc.*": failed to create mapping transform for service import subject "x.*.*" to "svc.*": invalid mapping destination: wildcard index out of range in $2: [2]"#]),
    ("accounts { A { exports: [{service: \"svc.*\"}] }, B { imports: [{service: {account: A, subject: \"svc.*\"}, to: wc}] } }",
        &[r#"t.conf:1:0: Error adding service import "svc.*": failed to create mapping transform for service import subject "wc" to "svc.*": invalid mapping destination: not using all of the token wildcard(s) in wc"#]),
    ("accounts { A { exports: [{service: q}], imports: [{service: {account: B, subject: q}}] }, B { exports: [{service: q}], imports: [{service: {account: A, subject: q}}] } }",
        &[r#"t.conf:1:0: Error adding service import "q": import forms a cycle"#]),
    ("accounts { A { exports: [{stream: q}], imports: [{stream: {account: B, subject: q}}] }, B { exports: [{stream: q}], imports: [{stream: {account: A, subject: q}}] } }",
        &[r#"t.conf:1:0: Error adding stream import "q": import forms a cycle"#]),
    // Mappings, top level and in an account.
    ("mappings { \"w.*\": \"w2\" }", &[r#"t.conf:1:12: Error adding mapping for "w.*" to "w2" : invalid mapping destination: not using all of the token wildcard(s) in w2"#]),
    ("mappings { \"foo.*\": \"bar.$2\" }", &[r#"t.conf:1:12: Error adding mapping for "foo.*" to "bar.$2" : invalid mapping destination: wildcard index out of range in $2: [2]"#]),
    ("mappings { \"foo.*\": \"bar.{{partition(3)}}\" }", &[r#"t.conf:1:12: Error adding mapping for "foo.*" to "bar.{{partition(3)}}" : invalid mapping destination: not enough arguments passed to the function in {{partition(3)}}"#]),
    ("mappings { \"a.*\": \"b.{{wildcard(x)}}\" }", &[r#"t.conf:1:12: Error adding mapping for "a.*" to "b.{{wildcard(x)}}" : invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(x)}}"#]),
    ("mappings { \"foo\": \"bar.{{bogus(3)}}\" }", &[r#"t.conf:1:12: Error adding mapping for "foo" to "bar.{{bogus(3)}}" : invalid mapping destination: unknown function in {{bogus(3)}}"#]),
    ("mappings { \"foo\": \"bar..x\" }", &[r#"t.conf:1:12: Error adding mapping for "foo" to "bar..x" : invalid mapping destination: invalid subject in "#]),
    ("mappings { \"foo\": \"bar baz\" }", &[r#"t.conf:1:12: Error adding mapping for "foo" to "bar baz" : invalid mapping destination: invalid subject"#]),
    ("mappings { \"foo\": \"bar.*\" }", &[r#"t.conf:1:12: Error adding mapping for "foo" to "bar.*" : invalid subject"#]),
    ("mappings { \"a.>\": \"b.$1\" }", &[r#"t.conf:1:12: Error adding mapping for "a.>" to "b.$1" : invalid subject"#]),
    ("accounts { A { mappings: 5 } }", &["t.conf:1:15: interface conversion: interface {} is int64, not map[string]interface {}"]),
    ("accounts { A { mappings { \"foo..x\": a } } }", &[r#"t.conf:1:15: Subject "foo..x" is not a valid subject"#]),
    ("accounts { A { mappings { \"foo\": 5 } } }", &["t.conf:1:27: Expected an entry for the mapping destination"]),
    ("accounts { A { mappings { \"foo\": [5 ] } } }", &["t.conf:1:34: Expected an entry for the mapping destination"]),
    ("accounts { A { mappings { \"foo\": [{dest: 5, weight: 50}] } } }", &["t.conf:1:55: interface conversion: interface {} is int64, not string"]),
    ("accounts { A { mappings { \"foo\": {dest: 5, weight: 50} } } }", &["t.conf:1:27: interface conversion: interface {} is int64, not string"]),
    ("mappings { \"foo\": [{dest: a, weight: 50, cluster: 5}] }", &["t.conf:1:52: interface conversion: interface {} is int64, not string"]),
    ("accounts { A { mappings { \"foo\": [{dest: a, weight: \"abc%\"}] } } }", &[r#"t.conf:1:44: Invalid weight "abc" for mapping destination"#]),
    ("accounts { A { mappings { \"foo\": [{dest: a, weight: 50.5}] } } }", &["t.conf:1:44: Unknown entry type for weight of 50.5\n"]),
    ("accounts { A { mappings { \"foo\": [{dest: a}] } } }", &[r#"t.conf:1:43: Missing weight for mapping destination "a""#]),
    ("accounts { A { mappings { \"foo\": [{dest: a, weight: 10, bogus: 1}] } } }", &[r#"t.conf:1:56: Unknown field "bogus" for mapping destination"#]),
    ("mappings { \"foo\": [{dest: a, weight: 101}] }", &["t.conf:1:29: Invalid weight 101 for mapping destination"]),
    ("mappings { \"foo\": {dest: a, weight: -1} }", &["t.conf:1:28: Invalid weight -1 for mapping destination"]),
    // accounts.md §1.13's broken variants.
    ("# A exports, B imports\nport: 4222\naccounts {\n  A { exports = [ {stream: \"events.>\"} ] }\n  B { imports = [ {stream: {account: Z, subject: \"foo\"}} ] }\n}",
        &[r#"t.conf:3:1: "Z" account not defined for stream import"#]),
    ("# cycle\nport: 4222\naccounts {\n  A { exports = [ {service: q} ], imports = [ {service: {account: B, subject: q}} ] }\n  B { exports = [ {service: q} ], imports = [ {service: {account: A, subject: q}} ] }\n}",
        &[r#"t.conf:3:1: Error adding service import "q": import forms a cycle"#]),
    ("# restricted\naccounts {\n  A { exports = [ {service: \"svc.restricted\", accounts: [B]} ] }\n  B {}\n  C { imports = [ {service: {account: A, subject: \"svc.restricted\"}} ] }\n}",
        &[r#"t.conf:2:1: Error adding service import "svc.restricted": service import not authorized"#]),
    ("\n  accounts {\n  A { exports = [ {stream: bar} ] }\n  B { imports = [ {stream: {account: A, subject: foo}} ] }\n}",
        &[r#"t.conf:2:3: Error adding stream import "foo": stream import not authorized"#]),
];

/// Weighted mappings the reference cannot add: it then panics with a Go type error at the
/// last element of the array (the line is ✓ref); natsd names the reason there.
#[rustfmt::skip]
const WEIGHTED_PANICS: &[(&str, &str)] = &[
    ("mappings { \"split\": [{dest: a, weight: 50}, {dest: a, weight: 10}]\n \"bar\": 5 }",
        r#"t.conf:1:65: Error adding mapping for "split" : duplicate entry for "a""#),
    ("mappings { \"split\": [{dest: a, weight: 50}, {dest: b, weight: 60, cluster: x}] }",
        r#"t.conf:1:77: Error adding mapping for "split" : total weight needs to be <= 100"#),
    ("mappings { \"w.*\": [\n{dest: \"x.$2\", weight: 50}\n] }",
        r#"t.conf:2:27: Error adding mapping for "w.*" : invalid mapping destination: wildcard index out of range in $2: [2]"#),
];

/// natsd's own answers (not ✓ref): refusals, and where the reference's answer depends on
/// Go map order.
#[rustfmt::skip]
const NATSD_ONLY: &[(&str, &[&str])] = &[
    ("accounts { A { jetstream: enabled } }", &["t.conf:1:15: natsd does not support jetstream"]),
    ("accounts { A { JetStream { max_mem: 1G } } }", &["t.conf:1:15: natsd does not support JetStream"]),
    ("accounts { A { exports: [{service: a, latency: lat}] } }", &["t.conf:1:38: natsd does not support latency"]),
    ("accounts { A { exports: [{stream: \"a.*\", account_token_position: 2}] } }",
        &["t.conf:1:41: natsd does not support account_token_position"]),
    ("mappings { \"a.*\": \"b.{{partition(3,1)}}\" }", &["t.conf:1:12: natsd does not support mapping function b.{{partition(3,1)}}"]),
    ("mappings { \"a.*\": [{dest: \"b.{{split(1,-)}}\", weight: 50}] }",
        &["t.conf:1:12: natsd does not support mapping function b.{{split(1,-)}}"]),
    // Which of two accounts, or of an account and `authorization`, the reference names
    // follows Go map order; natsd names the later in the file, and a conflict with a single
    // user or token always at the accounts' `users` keys.
    ("accounts { A { users: [{user: a}] }, B { users: [{user: a}] } }", &[r#"t.conf:1:41: Duplicate user "a" detected"#]),
    ("accounts { A { users: [{nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}] }\n B { users: [{nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}] } }",
        &[r#"t.conf:2:6: Duplicate nkey "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4" detected"#]),
    ("authorization { user: x, password: y }\naccounts {\n  A { users: [{user: a}] }\n}",
        &["t.conf:3:7: Can not have a single user/pass and accounts"]),
    ("accounts {\n  A { users: [{user: a}] }\n}\nauthorization { user: x, password: y }",
        &["t.conf:2:7: Can not have a single user/pass and accounts"]),
    ("accounts {\n  A { users: [{user: a}] }\n  B { users: [{nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}] }\n  C { users: [] }\n}\nauthorization { token: t }",
        &["t.conf:2:7: Can not have a token and accounts", "t.conf:3:7: Can not have a token and accounts"]),
    ("authorization { users: [{user: a}] }\naccounts { A { users: [{user: a}] } }", &[r#"t.conf:2:16: Duplicate user "a" detected"#]),
    ("accounts { A { users: [{user: a}] } }\nauthorization { users: [{user: a}] }", &[r#"t.conf:2:1: Duplicate user "a" detected"#]),
    // Where the reference's answer depends on the order of keys in an element.
    ("accounts { A { exports: [{stream: a, service: b}] } }", &[r#"t.conf:1:37: Detected service "b" but already saw a stream"#]),
    ("accounts { A { exports: [{stream: x}], imports: [{stream: {account: A, subject: x}, prefix: p, to: t}] } }",
        &["t.conf:1:95: Stream import can not have a 'prefix' and a 'to' property"]),
    ("accounts { A { exports: [{stream: x}], imports: [{stream: {account: A, subject: x}, service: {account: A, subject: y}}] } }",
        &["t.conf:1:84: Detected service but already saw a stream"]),
    ("accounts { A { exports: [{stream: x}], imports: [{stream: {account: A, subject: x}, to: t, prefix: p}] } }", &[]),
    ("accounts { A { exports: [{threshold: \"5s\", stream: x}] } }", &[]),
    ("accounts { A { exports: [{stream: a, threshold: \"5s\"}] } }", &["t.conf:1:37: Detected response directive on non-service"]),
    ("accounts { A { exports: [{service: a, response: single, response_type: stream}] } }", &["t.conf:1:56: Duplicate response type definition"]),
    ("accounts { A { exports: [{service: a, threshold: \"1s\", response_time: \"2s\"}] } }", &["t.conf:1:55: Duplicate response threshold detected"]),
    ("accounts { A { exports: [{service: a, stream: b}] } }", &[r#"t.conf:1:38: Detected stream "b" but already saw a service"#]),
];

#[test]
fn every_error_with_its_position() {
    let weighted = WEIGHTED_PANICS
        .iter()
        .map(|(text, error)| (*text, std::slice::from_ref(error)));
    for (text, errors) in ERRORS
        .iter()
        .copied()
        .chain(NATSD_ONLY.iter().copied())
        .chain(weighted)
    {
        let (_, report) = load(text);
        let want = Report {
            errors: strings(errors),
            ..Report::default()
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
    let mut disagreements = reference_disagreements(VALID, ERRORS.iter().copied());
    for (text, line) in WEIGHTED_PANICS {
        let output = reference(text).unwrap_or_default();
        let (at, _) = line.split_at(line.find(": Error").unwrap_or_default());
        let panic =
            format!("{at}: interface conversion: interface {{}} is []interface {{}}, not string");
        if !output.contains(&panic) {
            disagreements.push(format!("{text:?}: {panic:?} not in {output:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// accounts.md §1.13 (✓ref: valid).
const EXAMPLE: &str = r#"
# A exports, B imports, C stands alone, g lives in $G
accounts {
  A {
    users = [
      {user: a, password: a}
      {user: ap, password: ap, permissions: {publish: "ok.>", subscribe: "ok.>"}}
    ]
    exports = [
      {stream: "events.>"}
      {stream: "private.>", accounts: [B]}
      {service: "svc.echo"}
      {service: "svc.restricted", accounts: [B]}
    ]
  }
  B {
    users = [ {user: b, password: b} ]
    imports = [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "private.x"}, to: "priv.x"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {service: {account: A, subject: "svc.restricted"}}
    ]
  }
  C {
    users = [ {user: c, password: c} ]
    mappings { "m.in": "m.out" }
  }
}
authorization { users = [ {user: g, password: g} ] }
no_auth_user: b
"#;

fn user(name: &str, account: Option<&str>) -> User {
    User {
        username: name.into(),
        password: Some(name.into()),
        account: account.map(Into::into),
        ..User::default()
    }
}

fn export(subject: &str, kind: ExportKind, accounts: &[&str]) -> ExportOptions {
    ExportOptions {
        subject: subject.into(),
        kind,
        accounts: strings(accounts),
    }
}

fn import(account: &str, subject: &str, local: &str, kind: ImportKind) -> ImportOptions {
    ImportOptions {
        account: account.into(),
        subject: subject.into(),
        local: local.into(),
        kind,
    }
}

fn mapping(source: &str, destinations: &[(&str, u8, Option<&str>)]) -> MappingOptions {
    let destinations = destinations
        .iter()
        .map(|&(subject, weight, cluster)| MappingDestination {
            subject: subject.into(),
            weight,
            cluster: cluster.map(Into::into),
        });
    MappingOptions {
        source: source.into(),
        destinations: destinations.collect(),
    }
}

const SERVICE: ExportKind = ExportKind::Service {
    response: ResponseType::Singleton,
    threshold: Duration::from_secs(120),
};

#[test]
fn example_configuration() {
    if let Some(output) = reference(EXAMPLE) {
        assert!(output.contains("is valid"), "{output}");
    }
    let opts = options(EXAMPLE);
    let mut ap = user("ap", Some("A"));
    ap.permissions = Some(Permissions {
        publish: allow(&["ok.>"]),
        subscribe: allow(&["ok.>"]),
        allow_responses: None,
    });
    let users = [
        user("a", Some("A")),
        ap,
        user("b", Some("B")),
        user("c", Some("C")),
        user("g", None),
    ];
    assert_eq!(opts.auth.users, users);
    assert_eq!(opts.auth.no_auth_user.as_deref(), Some("b"));
    let a = AccountOptions {
        name: "A".into(),
        exports: vec![
            export("events.>", ExportKind::Stream, &[]),
            export("private.>", ExportKind::Stream, &["B"]),
            export("svc.echo", SERVICE, &[]),
            export("svc.restricted", SERVICE, &["B"]),
        ],
        ..AccountOptions::default()
    };
    let b = AccountOptions {
        name: "B".into(),
        imports: vec![
            import("A", "events.>", "fromA.events.>", ImportKind::Stream),
            import("A", "private.x", "priv.x", ImportKind::Stream),
            import(
                "A",
                "svc.echo",
                "echo",
                ImportKind::Service { share: false },
            ),
            import(
                "A",
                "svc.restricted",
                "svc.restricted",
                ImportKind::Service { share: false },
            ),
        ],
        ..AccountOptions::default()
    };
    let c = AccountOptions {
        name: "C".into(),
        mappings: vec![mapping("m.in", &[("m.out", 100, None)])],
        ..AccountOptions::default()
    };
    assert_eq!(opts.accounts, [a, b, c]);
    assert!(opts.has_plaintext_passwords(), "account users count");
    assert_eq!(
        opts.validate(),
        Ok(()),
        "no_auth_user may name an account user"
    );
}

#[test]
fn array_form_and_account_keys() {
    let opts = options("accounts: [A, B]");
    let names: Vec<&str> = opts.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);

    let opts = options(&format!(
        "accounts {{ A {{ NKEY: {ACCOUNT_NKEY}, Limits {{ max_conn: 3, max_subs: 0, MAX_PAY: 1kb, max_leafs: 1 }} }}, B {{ limits {{ max_connections: 4294967297 }} }} }}"
    ));
    assert_eq!(opts.accounts[0].nkey.as_deref(), Some(ACCOUNT_NKEY));
    let limits = AccountLimits {
        max_connections: 3,
        max_subscriptions: 0,
        max_payload: 1024,
    };
    assert_eq!(opts.accounts[0].limits, limits);
    assert_eq!(
        opts.accounts[1].limits.max_connections, 1,
        "the reference keeps 32 bits"
    );
    assert_eq!(opts.accounts[1].limits.max_payload, -1);
    // A variable holder in the accounts block is not an account.
    let opts = options("accounts { LIMIT: 5, A { limits { max_conn: $LIMIT } } }");
    assert_eq!(opts.accounts.len(), 1);
    assert_eq!(opts.accounts[0].limits.max_connections, 5);
    assert_eq!(
        options("system_account: SYS\naccounts { SYS {} }")
            .system_account
            .as_deref(),
        Some("SYS")
    );
}

#[test]
fn default_permissions_per_account() {
    let opts = options(
        r#"
authorization {
  default_permissions: { publish: "top" }
  users = [ {user: g} ]
}
accounts {
  A {
    users = [ {user: a}, {user: a2, permissions: { subscribe: "own" }} ]
    default_permissions: { publish: "acc" }
  }
  B { users = [ {user: b} ] }
}
"#,
    );
    let permissions = |name: &str| {
        let user = opts.auth.users.iter().find(|u| u.username == name).unwrap();
        user.permissions.clone()
    };
    let publish = |subject: &str| Permissions {
        publish: allow(&[subject]),
        ..Permissions::default()
    };
    assert_eq!(permissions("g"), Some(publish("top")));
    assert_eq!(permissions("a"), Some(publish("acc")));
    assert_eq!(
        permissions("a2"),
        Some(Permissions {
            subscribe: allow(&["own"]),
            ..Permissions::default()
        })
    );
    assert_eq!(
        permissions("b"),
        None,
        "authorization's defaults stay in $G"
    );
}

#[test]
fn exports_and_imports() {
    let opts = options(
        r#"
accounts {
  A {
    exports = [
      {stream: foo, accounts: [B]}
      {stream: foo, accounts: [C, B]}
      {service: foo}
      {service: svc, response_type: STREAM, response_threshold: "5s"}
      {service: svc, response: single}
      {service: chunks, response: chunk, threshold: "0s"}
    ]
  }
  B {
    imports = [
      {to: "t.$1", stream: {account: A, subject: "foo"}}
      {service: {account: A, subject: svc}, share: true, to: "local.svc"}
    ]
  }
  C {
    imports = [
      {stream: {account: A, subject: foo}, to: t, prefix: "p."}
    ]
  }
}
"#,
    );
    let streamed = ExportKind::Service {
        response: ResponseType::Streamed,
        threshold: Duration::from_secs(120),
    };
    let chunked = ExportKind::Service {
        response: ResponseType::Chunked,
        threshold: Duration::from_secs(120),
    };
    assert_eq!(
        opts.accounts[0].exports,
        [
            export("foo", ExportKind::Stream, &["B", "C"]),
            export("foo", SERVICE, &[]),
            export("svc", streamed, &[]),
            export("chunks", chunked, &[]),
        ]
    );
    assert_eq!(
        opts.accounts[1].imports,
        [
            import("A", "foo", "t.$1", ImportKind::Stream),
            import("A", "svc", "local.svc", ImportKind::Service { share: true }),
        ]
    );
    assert_eq!(
        opts.accounts[2].imports,
        [import("A", "foo", "p.foo", ImportKind::Stream)]
    );
}

#[test]
fn mappings_options() {
    let opts = options(
        r#"
mappings {
  "m.in": "m.out"
  "split": [ {destination: "s1", weight: 50%}, {dest: "s2", weight: "50"} ]
  "canary": { destination: "c", weight: 10, cluster: "east" }
  "w.*": "w2.$1"
}
maps { "m.in": "m.other" }
accounts { A { maps { "a": [ {dest: b, weight: 0, cluster: ""} ] } } }
"#,
    );
    assert_eq!(
        opts.mappings,
        [
            mapping("m.in", &[("m.other", 100, None)]),
            mapping("split", &[("s1", 50, None), ("s2", 50, None)]),
            mapping("canary", &[("c", 10, Some("east"))]),
            mapping("w.*", &[("w2.$1", 100, None)]),
        ]
    );
    assert_eq!(opts.accounts[0].mappings, [mapping("a", &[("b", 0, None)])]);
}

#[test]
fn errors_end_their_block_as_in_the_reference() {
    // A weighted mapping the reference cannot add ends the mappings block; a wrong type in
    // an export or import drops the element.
    let (opts, report) = load(
        "mappings {\n  a: [{dest: x, weight: 60}, {dest: y, weight: 60}]\n  b: 5\n}\naccounts {\n  A { exports: [{stream: x, accounts: 5}, {stream: y}] }\n}",
    );
    assert_eq!(
        report.errors,
        [
            r#"t.conf:2:51: Error adding mapping for "a" : total weight needs to be <= 100"#,
            "t.conf:6:29: interface conversion: interface {} is int64, not []interface {}",
        ]
    );
    assert_eq!(
        opts.accounts[0].exports,
        [export("y", ExportKind::Stream, &[])]
    );
    // Parse errors skip the resolution phase.
    let (_, report) =
        load("accounts { A { bogus: 1, imports: [{stream: {account: Z, subject: x}}] } }");
    assert_eq!(report.errors, [r#"t.conf:1:15: unknown field "bogus""#]);
    // Resolution errors in order: exports, then stream imports, then service imports.
    let (_, report) = load(
        "accounts {\n A { imports: [{service: {account: Y, subject: x}}, {stream: {account: Z, subject: x}}] }\n B { exports: [{service: s, accounts: [W]}, {stream: t, accounts: [V]}] }\n}",
    );
    assert_eq!(
        report.errors,
        [
            r#"t.conf:1:0: "V" account not defined for stream export"#,
            r#"t.conf:1:0: "W" account not defined for service export"#,
            r#"t.conf:1:0: "Z" account not defined for stream import"#,
            r#"t.conf:1:0: "Y" account not defined for service import"#,
        ]
    );
}

#[test]
fn cycles_through_chains() {
    // C → B → A → C, closed by the last import in the file.
    let chain = "accounts {\n  A { exports: [{service: q}], imports: [{service: {account: C, subject: q}}] }\n  B { exports: [{service: q}], imports: [{service: {account: A, subject: q}}] }\n  C { exports: [{service: q}], imports: [{service: {account: B, subject: q}}] }\n}";
    let (_, report) = load(chain);
    assert_eq!(
        report.errors,
        [r#"t.conf:1:0: Error adding service import "q": import forms a cycle"#]
    );
    // Without the closing import, a chain is fine.
    options("accounts {\n  A { exports: [{service: q}] }\n  B { exports: [{service: q}], imports: [{service: {account: A, subject: q}}] }\n  C { imports: [{service: {account: B, subject: q}}] }\n}");
    // Streams only through accounts exporting the subject.
    options("accounts {\n  A { exports: [{stream: q}], imports: [{stream: {account: B, subject: q}, prefix: b}] }\n  B { exports: [{stream: q}], imports: [{stream: {account: A, subject: q}, prefix: a}] }\n}");
}
