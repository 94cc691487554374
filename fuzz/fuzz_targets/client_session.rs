//! A client session fed arbitrary bytes in arbitrary pieces, as the reactor feeds it (no
//! sockets): CONNECT JSON, authentication with users, permissions and nkeys, SUB/UNSUB/PUB
//! with a second, subscribed client receiving. Never panics; once the session asks to close,
//! it is fed nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsd::options::{NkeyUser, Options, Permissions, SubjectPermission, User};
use natsd::server::testbed::TestBed;

#[path = "pieces.rs"]
mod pieces;

/// A user `u`/`p` who may publish to `foo.>` and `_INBOX.>` but not subscribe to `secret.>`,
/// with responses allowed; and one nkey user.
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
        ..User::default()
    }];
    opts.auth.nkeys = vec![NkeyUser {
        nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4".into(),
        ..NkeyUser::default()
    }];
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
    let fuzzed = bed.client();
    let mut rest = input;
    for &len in pieces.iter().chain(std::iter::once(&usize::MAX)) {
        let (piece, after) = rest.split_at(len.max(1).min(rest.len()));
        bed.feed_piece(fuzzed, piece);
        bed.take_output(fuzzed);
        bed.take_output(watcher);
        rest = after;
        if rest.is_empty() {
            break;
        }
    }
});
