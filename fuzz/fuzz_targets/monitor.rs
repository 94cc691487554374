//! The monitoring endpoints fed arbitrary request targets (no sockets, no HTTP server):
//! the input up to the first 0xFF byte is the target (path, `?`, query), what follows it,
//! if anything, the `http_base_path` option. The server behind them is a test bed with
//! open and closed clients, subscriptions (plain, queue, with a maximum), traffic and a
//! route with remote interest, so `/connz`, `/subsz` and `/routez` paging, sorting and
//! filters have something to work on.
//!
//! Beyond not panicking, every answer must hold up: a status the monitor can give (200,
//! 400, 404; 503 only for an unhealthy `/healthz`), the content type that goes with it,
//! JSON (and JSONP) bodies that parse, strict Prometheus text, 404 exactly for the paths
//! that name no endpoint below the base path, and `/connz` and `/subsz` pages no longer
//! than their limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsd::monitor::{Answer, Endpoints};
use natsd::options::{Options, User, RANDOM_PORT};
use natsd::server::testbed::TestBed;
use serde_json::Value;

/// The endpoints the monitor serves below its base path (`/` is the base path itself).
const ENDPOINTS: [&str; 10] = [
    "varz",
    "connz",
    "accountz",
    "accstatz",
    "routez",
    "leafz",
    "subsz",
    "subscriptionsz",
    "healthz",
    "metrics",
];

const TEXT: &str = "text/plain; charset=utf-8";

/// Two users, clustered (routes are accepted from the bed, nothing listens).
fn options() -> Options {
    let mut opts = Options {
        server_name: Some("fuzz<&>".into()),
        ..Options::default()
    };
    opts.cluster.port = RANDOM_PORT;
    opts.cluster.name = Some("c1".into());
    opts.auth.users = ["u", "v"]
        .iter()
        .map(|name| User {
            username: name.to_string(),
            password: Some("p".into()),
            ..User::default()
        })
        .collect();
    opts
}

/// The server the monitor looks at, built once: clients with traffic and subscriptions,
/// two of them closed, one that never said CONNECT, a route with remote interest.
fn bed() -> TestBed {
    let mut bed = TestBed::new(options());
    let route = bed.accepted_route();
    bed.feed(
        route,
        "CONNECT {\"echo\":true,\"name\":\"PEER\",\"cluster\":\"c1\"}\r\n\
         INFO {\"server_id\":\"PEER\",\"name\":\"PEER\",\"cluster\":\"c1\"}\r\n\
         RS+ $G foo.bar\r\nRS+ $G work q 1\r\n",
    );
    let a = bed.client();
    bed.feed(
        a,
        "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\",\
         \"name\":\"a<&>\\u2028\\u0001\",\"lang\":\"rust\",\"version\":\"1.0\"}\r\n\
         SUB foo.bar 1\r\nSUB foo.* q 2\r\nSUB > 3\r\nUNSUB 3 100\r\n",
    );
    let b = bed.client();
    bed.feed(
        b,
        "CONNECT {\"verbose\":false,\"user\":\"v\",\"pass\":\"p\",\"name\":\"b\"}\r\n\
         SUB foo.> 1\r\nSUB work q 2\r\n\
         PUB foo.bar 5\r\nhello\r\nPUB foo.baz 3\r\nbye\r\nPUB work 1\r\nx\r\n",
    );
    let c = bed.client();
    bed.feed(
        c,
        "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\",\"name\":\"c\"}\r\n\
         SUB _INBOX.x 1\r\nPUB foo.bar _INBOX.x 11\r\nhello again\r\n",
    );
    let _silent = bed.client();
    let gone = bed.client();
    for token in [route, a, b, c] {
        bed.take_output(token);
        assert!(
            bed.closing(token).is_none(),
            "the bed's connections stay open"
        );
    }
    bed.publish_counts();
    bed.hang_up(c);
    bed.hang_up(gone);
    bed
}

thread_local! {
    static BED: TestBed = bed();
}

fuzz_target!(|data: &[u8]| {
    let (target, base) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let target = String::from_utf8_lossy(target);
    let base = base.map(String::from_utf8_lossy);
    let answer = BED.with(|bed| {
        let mut endpoints = Endpoints::new(Box::new(bed.view()), base.as_deref());
        endpoints.answer(&target)
    });
    check(&answer, &target, base.as_deref().unwrap_or(""));
});

/// The invariants every answer keeps.
fn check(answer: &Answer, target: &str, base: &str) {
    // Routing as natsd does it: on the raw path, neither percent-decoded nor cleaned (the
    // reference's ServeMux decodes escapes and redirects unclean paths with a 301).
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let base = natsd::gopath::clean(&format!("/{base}"));
    let below = if base == "/" { "" } else { base.as_str() };
    let routed = path == base || ENDPOINTS.iter().any(|e| path == format!("{below}/{e}"));
    assert_eq!(
        answer.status != 404,
        routed,
        "{target:?} below {base:?}: {answer:?}"
    );
    match answer.status {
        200 => match answer.content_type {
            "application/json" => {
                json_object(&answer.body);
            }
            "application/javascript" => {
                jsonp(&answer.body);
            }
            "text/html; charset=utf-8" => {
                assert_eq!(path, base);
                assert!(answer.body.contains("<html"), "{answer:?}");
            }
            "text/plain; version=0.0.4; charset=utf-8" => {
                assert!(path.ends_with("/metrics"), "{answer:?}");
                prometheus(&answer.body);
            }
            other => panic!("200 with content type {other:?}"),
        },
        400 => {
            assert_eq!(answer.content_type, TEXT);
            assert!(!answer.body.is_empty(), "an empty 400 for {target:?}");
            assert!(!path.ends_with("/metrics"), "/metrics takes no parameters");
        }
        404 => {
            assert_eq!(
                (answer.content_type, answer.body.as_str()),
                (TEXT, "404 page not found\n")
            );
        }
        // The bed's server is ready: /healthz has no reason to fail.
        status => panic!("status {status} for {target:?}: {answer:?}"),
    }
}

/// A JSON object (the monitoring documents), with the paging of `/connz` and `/subsz`
/// checked where the document has a list.
fn json_object(body: &str) -> Value {
    let doc: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    assert!(doc.is_object(), "{body}");
    let limit = doc["limit"].as_i64();
    if let Some(connections) = doc.get("connections").and_then(Value::as_array) {
        assert_eq!(
            doc["num_connections"].as_u64(),
            Some(connections.len() as u64)
        );
        assert!(doc["offset"].as_i64() >= Some(0), "{body}");
        assert!(
            limit.is_some_and(|limit| limit > 0 && connections.len() as i64 <= limit),
            "{body}"
        );
    }
    if let Some(subs) = doc.get("subscriptions_list").and_then(Value::as_array) {
        assert!(!subs.is_empty(), "an empty list is left out: {body}");
        assert_eq!(doc["total"].as_u64(), Some(subs.len() as u64));
        assert!(
            limit.is_some_and(|limit| limit > 0 && subs.len() as i64 <= limit),
            "{body}"
        );
    }
    doc
}

/// `callback(json)`: some opening parenthesis after a non-empty callback starts a JSON
/// object that runs to the closing one at the end.
fn jsonp(body: &str) -> Value {
    let inner = body.strip_suffix(')').expect("JSONP ends with ')'");
    let at = inner
        .match_indices('(')
        .map(|(at, _)| at)
        .find(|&at| at > 0 && serde_json::from_str::<Value>(&inner[at + 1..]).is_ok())
        .unwrap_or_else(|| panic!("no callback(JSON): {body:?}"));
    json_object(&inner[at + 1..])
}

/// Strict Prometheus text as the monitor writes it: families of HELP, TYPE and one or more
/// samples (one per account for the `accstatz` gauges), each carrying `server_id`.
fn prometheus(text: &str) {
    assert!(text.ends_with('\n'));
    let mut lines = text.lines().peekable();
    while let Some(help) = lines.next() {
        let name = help
            .strip_prefix("# HELP ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("HELP: {help:?}"));
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{name:?}"
        );
        let kind = lines
            .next()
            .and_then(|line| line.strip_prefix(&format!("# TYPE {name} ")));
        assert!(
            matches!(kind, Some("gauge" | "counter")),
            "{name}: {kind:?}"
        );
        let mut samples = 0;
        while let Some(sample) = lines.next_if(|line| !line.starts_with('#')) {
            let labels = sample
                .strip_prefix(&format!("{name}{{"))
                .unwrap_or_else(|| panic!("sample: {sample:?}"));
            let (labels, value) = labels.rsplit_once("} ").expect("a value");
            assert!(labels.contains("server_id=\""), "{sample:?}");
            assert!(value.parse::<f64>().is_ok(), "{sample:?}");
            samples += 1;
        }
        assert!(samples > 0, "{name}: no sample");
    }
}
