//! A leafnode connection fed arbitrary bytes in arbitrary pieces, as the reactor feeds it
//! (no sockets), on a hub that is also a leaf and sits in a cluster: the fuzzed link is
//! accepted (the hub's side: CONNECT, authorization, LS+/LS-/LMSG/HMSG) or solicited (the
//! leaf's side: the hub's INFOs, then the same operations), next to a registered leaf link,
//! a route and a client subscribed to everything, which all receive what crosses. Never
//! panics; once the session asks to close, it is fed nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;

use natsd::options::{Options, RemoteLeafOptions, RANDOM_PORT};
use natsd::server::testbed::TestBed;

#[path = "pieces.rs"]
mod pieces;

/// A hub (leaf user `l`/`p`, small limits) in cluster `c1`, soliciting one remote itself.
fn options() -> Options {
    let mut opts = Options {
        max_payload: 4096,
        max_subscriptions: 50,
        server_name: Some("HUB".into()),
        ..Options::default()
    };
    opts.leafnodes.port = RANDOM_PORT;
    opts.leafnodes.username = Some("l".into());
    opts.leafnodes.password = Some("p".into());
    opts.leafnodes.remotes = vec![RemoteLeafOptions {
        urls: vec!["nats-leaf://u:p@hub:7422".into()],
        deny_exports: vec!["secret.>".into()],
        ..RemoteLeafOptions::default()
    }];
    opts.cluster.port = RANDOM_PORT;
    opts.cluster.name = Some("c1".into());
    opts
}

fuzz_target!(|data: &[u8]| {
    let Some((&role, data)) = data.split_first() else {
        return;
    };
    let (pieces, input) = pieces::pieces_and_input(data);
    let mut bed = TestBed::new(options());
    let route = bed.registered_route("PEER");
    bed.feed_piece(route, b"RS+ $G foo.>\r\nRS+ $G q grp 2\r\n");
    let other = bed.accepted_leaf();
    bed.feed_piece(
        other,
        b"CONNECT {\"user\":\"l\",\"pass\":\"p\",\"name\":\"O\",\"cluster\":\"OC\",\"headers\":true}\r\nLS+ >\r\n",
    );
    let watcher = bed.client();
    bed.feed_piece(watcher, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\nSUB q grp 2\r\n");
    let fuzzed = match role % 2 {
        0 => bed.accepted_leaf(),
        _ => bed.solicited_leaf(0, "nats-leaf://u:p@hub:7422"),
    };
    let mut rest = input;
    for &len in pieces.iter().chain(std::iter::once(&usize::MAX)) {
        let (piece, after) = rest.split_at(len.max(1).min(rest.len()));
        bed.feed_piece(fuzzed, piece);
        for token in [fuzzed, route, other, watcher] {
            bed.take_output(token);
        }
        rest = after;
        if rest.is_empty() {
            break;
        }
    }
});
