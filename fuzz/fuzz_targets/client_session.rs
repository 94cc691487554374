//! A client session fed arbitrary bytes in arbitrary pieces, as the reactor feeds it (no
//! sockets): CONNECT JSON, authentication with users, permissions and nkeys, SUB/UNSUB/PUB
//! with two subscribed clients receiving (one in each account: mappings, stream and service
//! imports, responses). Never panics; once the session asks to close, it is fed nothing
//! more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;

use natsd::options::{
    AccountOptions, ExportKind, ExportOptions, ImportKind, ImportOptions, MappingDestination,
    MappingOptions, NkeyUser, Options, Permissions, ResponseType, SubjectPermission, User,
};
use natsd::server::testbed::TestBed;

#[path = "pieces.rs"]
mod pieces;

/// A user `u`/`p` in account A who may publish to `foo.>` and `_INBOX.>` but not subscribe
/// to `secret.>`, with responses allowed; a user `r`/`p` and an nkey user in account B,
/// which exports a stream and a service that A imports; a mapping in A.
fn options() -> Options {
    let mut opts = Options {
        max_payload: 4096,
        max_control_line: 512,
        max_subscriptions: 50,
        ..Options::default()
    };
    let allow = |subjects: &[&str]| SubjectPermission {
        allow: Some(subjects.iter().map(|s| s.to_string()).collect()),
        deny: None,
    };
    opts.auth.users = vec![User {
        username: "u".into(),
        password: Some("p".into()),
        permissions: Some(Permissions {
            publish: Some(allow(&["foo.>", "_INBOX.>"])),
            subscribe: Some(SubjectPermission {
                allow: None,
                deny: Some(vec!["secret.>".into()]),
            }),
            allow_responses: None,
        }),
        account: Some("A".into()),
        ..User::default()
    }];
    opts.auth.users.push(User {
        username: "r".into(),
        password: Some("p".into()),
        account: Some("B".into()),
        ..User::default()
    });
    opts.auth.nkeys = vec![NkeyUser {
        nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4".into(),
        account: Some("B".into()),
        ..NkeyUser::default()
    }];
    let service = ExportKind::Service {
        response: ResponseType::Streamed,
        threshold: Duration::from_secs(1),
    };
    let export = |subject: &str, kind| ExportOptions {
        subject: subject.into(),
        kind,
        accounts: Vec::new(),
    };
    let import = |subject: &str, local: &str, kind| ImportOptions {
        account: "B".into(),
        subject: subject.into(),
        local: local.into(),
        kind,
    };
    opts.accounts = vec![
        AccountOptions {
            name: "A".into(),
            imports: vec![
                import("ev.>", "foo.ev.>", ImportKind::Stream),
                import("svc.*", "foo.svc.*", ImportKind::Service { share: true }),
            ],
            mappings: vec![MappingOptions {
                source: "foo.map.*".into(),
                destinations: vec![MappingDestination {
                    subject: "foo.mapped.$1".into(),
                    weight: 50,
                    cluster: None,
                }],
            }],
            ..AccountOptions::default()
        },
        AccountOptions {
            name: "B".into(),
            exports: vec![export("ev.>", ExportKind::Stream), export("svc.*", service)],
            ..AccountOptions::default()
        },
    ];
    opts
}

fuzz_target!(|data: &[u8]| {
    let (pieces, input) = pieces::pieces_and_input(data);
    let mut bed = TestBed::new(options());
    let watcher = bed.client();
    bed.feed_piece(
        watcher,
        b"CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n",
    );
    let responder = bed.client();
    bed.feed_piece(
        responder,
        b"CONNECT {\"user\":\"r\",\"pass\":\"p\",\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n",
    );
    let fuzzed = bed.client();
    let mut rest = input;
    for &len in pieces.iter().chain(std::iter::once(&usize::MAX)) {
        let (piece, after) = rest.split_at(len.max(1).min(rest.len()));
        bed.feed_piece(fuzzed, piece);
        bed.take_output(fuzzed);
        bed.take_output(watcher);
        bed.take_output(responder);
        rest = after;
        if rest.is_empty() {
            break;
        }
    }
});
