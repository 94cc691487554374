//! HTTP(S) monitoring, black-box: natsd (and the reference, where the behaviour is shared)
//! started with `-m -1`, real traffic, then the values of `/varz`, `/connz`, `/subsz`,
//! `/routez`, `/accountz`, `/accstatz`, `/healthz`, `/` and `/metrics` checked; key sets
//! and JSON types compared with the reference's; HTTPS with the test certificates; polling
//! under load.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{request_on, shape, Http};
use common::{Impl, ServerProc, Wire};
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

/// A server with monitoring on a random port.
struct Monitored {
    server: ServerProc,
    http: SocketAddr,
}

impl Monitored {
    fn start(imp: Impl, args: &[&str]) -> Monitored {
        let mut all = vec!["-m", "-1"];
        all.extend_from_slice(args);
        Self::from(ServerProc::start(imp, &all))
    }

    fn with_config(imp: Impl, conf: &str) -> Monitored {
        Self::from(ServerProc::start_with_config(imp, conf, &[]))
    }

    fn from(server: ServerProc) -> Monitored {
        let url = server.ports()["monitoring"][0]
            .as_str()
            .unwrap_or_else(|| panic!("no monitoring URL: {}", server.ports()))
            .to_string();
        let http = common::url_addr(&url);
        Monitored { server, http }
    }

    fn request(&self, method: &str, path: &str) -> Http {
        let stream = TcpStream::connect(self.http).expect("connect to the monitor");
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        request_on(stream, method, path)
    }

    fn get(&self, path: &str) -> Http {
        self.request("GET", path)
    }

    /// GETs a JSON endpoint that must answer 200.
    fn json(&self, path: &str) -> Value {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.json()
    }

    /// A client that said CONNECT (with `name`) and got its PONG.
    fn client(&self, name: &str) -> Wire {
        let mut wire = Wire::connect(self.server.client_addr()).answer_pings();
        wire.read_info();
        let connect = format!("CONNECT {{\"verbose\":false,\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"1.2.3\"}}\r\nPING\r\n");
        wire.send(connect.as_bytes());
        wire.expect(b"PONG\r\n");
        wire
    }

    /// Polls `/connz?…` until `done` holds (the reference records closed clients
    /// asynchronously).
    fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let doc = self.json(path);
            if done(&doc) {
                return doc;
            }
            assert!(Instant::now() < deadline, "{path} never satisfied: {doc:#}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_rfc3339(v: &Value) -> bool {
    let text = v.as_str().unwrap_or("");
    let bytes = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        bytes
            .get(r)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    text.ends_with('Z')
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && bytes.get(10) == Some(&b'T')
        && digits(11..13)
        && digits(14..16)
        && digits(17..19)
        && (text.len() == 20 || (bytes[19] == b'.' && !text.ends_with("0Z")))
}

/// `myUptime` form: the leading unit is non-zero unless it is `0s`.
fn is_uptime(v: &Value) -> bool {
    let text = v.as_str().unwrap_or("");
    let mut rest = text;
    let mut units = Vec::new();
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Some(unit) = rest[digits..].chars().next() else {
            return false;
        };
        if digits == 0 || !"ydhms".contains(unit) {
            return false;
        }
        units.push((rest[..digits].to_string(), unit));
        rest = &rest[digits + 1..];
    }
    units.last().is_some_and(|(_, u)| *u == 's') && (units.len() == 1 || units[0].0 != "0")
}

#[test]
fn varz_counts_traffic_and_echoes_options() {
    for imp in Impl::enabled() {
        let m = Monitored::with_config(imp, "http: 127.0.0.1:-1\nmax_payload: 65536\n");
        let mut sub = m.client("sub");
        sub.send(b"SUB foo 1\r\nSUB bar.* 2\r\nPING\r\n");
        sub.expect(b"PONG\r\n");
        let mut publisher = m.client("pub");
        publisher.send(b"PUB foo 5\r\nhello\r\nPUB foo 5\r\nworld\r\nPUB bar.x 2\r\nhi\r\nPUB none 3\r\nabc\r\nPING\r\n");
        publisher.expect(b"PONG\r\n");
        sub.expect(b"MSG foo 1 5\r\nhello\r\nMSG foo 1 5\r\nworld\r\nMSG bar.x 2 2\r\nhi\r\n");

        let first = m.get("/varz");
        assert_eq!(first.status, 200);
        assert_eq!(first.header("content-type"), "application/json");
        assert!(
            first.body.starts_with("{\n  \"server_id\": \""),
            "{imp}: {}",
            first.body
        );
        assert!(!first.body.ends_with('\n'));
        let varz = first.json();
        assert_eq!(varz["in_msgs"], 4, "{imp}");
        assert_eq!(varz["in_bytes"], 15, "{imp}");
        assert_eq!(varz["out_msgs"], 3, "{imp}");
        assert_eq!(varz["out_bytes"], 12, "{imp}");
        assert_eq!(varz["connections"], 2, "{imp}");
        assert_eq!(varz["total_connections"], 2, "{imp}");
        assert_eq!(varz["max_payload"], 65536, "{imp}");
        assert_eq!(varz["port"], m.server.client_addr().port(), "{imp}");
        assert_eq!(varz["http_port"], -1, "{imp}: the configured value");
        assert_eq!(varz["host"], "127.0.0.1");
        assert_eq!(varz["ping_interval"], 120_000_000_000u64);
        assert_eq!(varz["write_deadline"], 10_000_000_000u64);
        assert_eq!(varz["auth_timeout"], 2);
        assert_eq!(
            varz["http_req_stats"],
            serde_json::json!({"/varz": 1}),
            "{imp}"
        );
        // qemu-user answers the guest's /proc/self/stat itself, with a resident size of 0.
        let mem = varz["mem"].as_i64().unwrap();
        assert!(
            mem > 0 || (common::emulated() && mem == 0),
            "{imp}: mem {mem}"
        );
        assert!(varz["cpu"].as_f64().unwrap() >= 0.0);
        assert!(
            is_rfc3339(&varz["start"]) && is_rfc3339(&varz["now"]),
            "{imp}: {varz}"
        );
        assert_eq!(varz["start"], varz["config_load_time"], "{imp}");
        assert!(is_uptime(&varz["uptime"]), "{imp}: {}", varz["uptime"]);
        assert_eq!(varz["server_name"], varz["server_id"]);

        m.get("/connz");
        let again = m.json("/varz");
        assert_eq!(
            again["http_req_stats"],
            serde_json::json!({"/connz": 1, "/varz": 2}),
            "{imp}"
        );
        assert!(
            again["now"].as_str() > varz["now"].as_str(),
            "{imp}: now advances"
        );
    }
}

/// Three publishers that sent 5, 2 and 9 messages, and a subscriber.
fn traffic(m: &Monitored) -> Vec<Wire> {
    let mut sub = m.client("subscriber");
    sub.send(b"SUB foo 1\r\nSUB bar.* q1 2\r\nUNSUB 2 5\r\nSUB baz.> 3\r\nPING\r\n");
    sub.expect(b"PONG\r\n");
    let mut wires = vec![sub];
    for (name, count) in [("five", 5), ("two", 2), ("nine", 9)] {
        let mut wire = m.client(name);
        wire.send(&b"PUB other 3\r\nabc\r\n".repeat(count));
        wire.send(b"PING\r\n");
        wire.expect(b"PONG\r\n");
        wires.push(wire);
    }
    wires
}

#[test]
fn connz_sorts_pages_and_lists_subscriptions() {
    for imp in Impl::enabled() {
        let m = Monitored::start(imp, &[]);
        let _wires = traffic(&m);

        let top = m.json("/connz?sort=msgs_from&limit=2");
        let names: Vec<&str> = top["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["nine", "five"], "{imp}: {top:#}");
        assert_eq!(
            (top["num_connections"].as_u64(), top["total"].as_u64()),
            (Some(2), Some(4))
        );
        assert_eq!(
            (top["offset"].as_u64(), top["limit"].as_u64()),
            (Some(0), Some(2))
        );
        let nine = &top["connections"][0];
        assert_eq!(
            (nine["in_msgs"].as_u64(), nine["in_bytes"].as_u64()),
            (Some(9), Some(27))
        );
        assert_eq!(
            (nine["kind"].as_str(), nine["type"].as_str()),
            (Some("Client"), Some("nats"))
        );
        assert_eq!(
            (nine["lang"].as_str(), nine["version"].as_str()),
            (Some("raw"), Some("1.2.3"))
        );
        assert!(
            is_uptime(&nine["uptime"]) && is_uptime(&nine["idle"]),
            "{imp}: {nine}"
        );
        assert!(is_rfc3339(&nine["start"]) && is_rfc3339(&nine["last_activity"]));
        assert!(
            nine["rtt"].as_str().unwrap().ends_with('s'),
            "{imp}: {}",
            nine["rtt"]
        );

        let page = m.json("/connz?sort=msgs_from&offset=3");
        assert_eq!(page["connections"][0]["name"], "subscriber", "{imp}");
        let past = m.json("/connz?offset=10");
        assert_eq!(
            (past["num_connections"].as_u64(), past["offset"].as_u64()),
            (Some(0), Some(10))
        );
        assert_eq!(past["connections"], serde_json::json!([]));

        let all = m.json("/connz?sort=cid");
        let cids: Vec<u64> = all["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cid"].as_u64().unwrap())
            .collect();
        assert!(cids.windows(2).all(|w| w[0] < w[1]), "{imp}: {cids:?}");
        let sub_cid = cids[0];
        let uptime_order = m.json("/connz?sort=uptime");
        assert_eq!(
            uptime_order["connections"][3]["cid"], sub_cid,
            "{imp}: oldest last"
        );

        let subs = m.json(&format!("/connz?cid={sub_cid}&subs=1"));
        assert_eq!(
            (subs["limit"].as_u64(), subs["total"].as_u64()),
            (Some(1), Some(4)),
            "{imp}"
        );
        let mut list: Vec<&str> = subs["connections"][0]["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        list.sort_unstable();
        assert_eq!(list, ["bar.*", "baz.>", "foo"], "{imp}");
        assert_eq!(subs["connections"][0]["subscriptions"], 3);

        let detail = m.json(&format!("/connz?cid={sub_cid}&subs=DETAIL"));
        let conn = &detail["connections"][0];
        assert!(conn.get("subscriptions_list").is_none());
        let queue = conn["subscriptions_list_detail"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subject"] == "bar.*")
            .unwrap_or_else(|| panic!("{imp}: {conn:#}"));
        assert_eq!(queue["qgroup"], "q1");
        assert_eq!(
            (queue["sid"].as_str(), queue["max"].as_u64()),
            (Some("2"), Some(5))
        );
        assert_eq!(queue["cid"], sub_cid);
        assert!(
            queue.get("account").is_none(),
            "{imp}: open connections name no account"
        );
        let raw = m.get(&format!("/connz?cid={sub_cid}&subs=detail"));
        assert!(
            raw.body.contains("\"subject\": \"baz.\\u003e\""),
            "{imp}: Go escapes >"
        );

        assert!(m.json("/connz?user=nobody")["connections"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(m.json("/connz?user=nobody")["total"], 4);
    }
}

#[test]
fn connz_rejects_bad_parameters_with_the_reference_texts() {
    let cases = [
        ("/connz?sort=bogus", "invalid sorting option: bogus"),
        ("/connz?sort=rtt", "invalid sorting option: rtt"),
        ("/connz?sort=stop", "sort by stop only valid on closed connections"),
        ("/connz?sort=reason&state=any", "sort by reason only valid on closed connections"),
        ("/connz?limit=abc", "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax"),
        ("/connz?offset=99999999999999999999", "Error decoding int for 'offset': strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
        ("/connz?cid=-1", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"),
        ("/connz?state=foo", "Error decoding state for foo"),
        ("/connz?auth=maybe&subs=x", "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        ("/routez?subs=maybe", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        ("/subsz?test=foo.*", "invalid test subject, must be valid publish subject: foo.*"),
        ("/healthz?js-enabled-only=x", "Error decoding boolean for 'js-enabled-only': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ];
    for imp in Impl::enabled() {
        let m = Monitored::start(imp, &[]);
        for (path, text) in cases {
            let answer = m.get(path);
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (400, text),
                "{imp} {path}"
            );
            assert_eq!(
                answer.header("content-type"),
                "text/plain; charset=utf-8",
                "{imp} {path}"
            );
        }
        let closed = m.get("/connz?state=closed&sort=stop");
        assert_eq!(closed.status, 200, "{imp}");
        let stats = m.json("/varz")["http_req_stats"].clone();
        // Counted once the parameters decoded: the four sort errors and the closed list.
        assert_eq!(stats["/connz"], 5, "{imp}: {stats}");
        assert_eq!(stats["/subsz"], 1, "{imp}: /subsz counts before validation");
    }
}

#[test]
fn closed_connections_keep_their_reason() {
    for imp in Impl::enabled() {
        let m = Monitored::with_config(imp, "http: 127.0.0.1:-1\nmax_payload: 1024\n");
        let mut quits = m.client("quits");
        quits.send(b"SUB x.y 9\r\nPUB x.z 2\r\nhi\r\nPING\r\n");
        quits.expect(b"PONG\r\n");
        drop(quits);
        let mut bad = m.client("bad-op");
        bad.send(b"FOO BAR\r\n");
        bad.expect(b"-ERR 'Unknown Protocol Operation'\r\n");
        bad.expect_closed();
        let mut big = m.client("too-big");
        big.send(b"PUB foo 2000\r\n");
        big.expect(b"-ERR 'Maximum Payload Violation'\r\n");
        big.expect_closed();

        let closed = m.wait_for("/connz?state=closed&subs=detail&sort=reason", |d| {
            d["num_connections"] == 3
        });
        let by_name: BTreeMap<&str, &Value> = closed["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c))
            .collect();
        assert_eq!(by_name["quits"]["reason"], "Client Closed", "{imp}");
        assert_eq!(by_name["bad-op"]["reason"], "Protocol Violation", "{imp}");
        assert_eq!(
            by_name["too-big"]["reason"], "Maximum Message Payload Exceeded",
            "{imp}"
        );
        let reasons: Vec<&str> = closed["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["reason"].as_str().unwrap())
            .collect();
        let mut sorted = reasons.clone();
        sorted.sort_unstable();
        assert_eq!(reasons, sorted, "{imp}: sort=reason");
        let quits = by_name["quits"];
        assert!(is_rfc3339(&quits["stop"]), "{imp}");
        assert_eq!(
            (quits["in_msgs"].as_u64(), quits["subscriptions"].as_u64()),
            (Some(1), Some(1))
        );
        let detail = &quits["subscriptions_list_detail"][0];
        assert_eq!(
            (
                detail["account"].as_str(),
                detail["subject"].as_str(),
                detail["sid"].as_str()
            ),
            (Some("$G"), Some("x.y"), Some("9")),
            "{imp}"
        );

        let cid = quits["cid"].as_u64().unwrap();
        let one = m.json(&format!("/connz?state=any&cid={cid}"));
        assert_eq!(
            one["connections"][0]["reason"], "Client Closed",
            "{imp}: cid looks in the closed ring"
        );
        let open = m.json(&format!("/connz?cid={cid}"));
        assert_eq!(open["connections"], serde_json::json!([]), "{imp}");
        let any = m.json("/connz?state=any");
        assert_eq!(any["total"], 3, "{imp}");
    }
}

#[test]
fn subsz_counts_and_filters_by_test_subject() {
    for imp in Impl::enabled() {
        let m = Monitored::start(imp, &[]);
        let mut wire = m.client("subs");
        wire.send(b"SUB foo.bar 1\r\nSUB foo.* q 2\r\nSUB baz 3\r\nSUB gone 4\r\nUNSUB 4\r\nPUB foo.bar 1\r\nx\r\nPING\r\n");
        wire.expect(b"MSG foo.bar 1 1\r\nx\r\nMSG foo.bar 2 1\r\nx\r\nPONG\r\n");

        let stats_only = m.get("/subsz");
        assert!(
            !stats_only.body.contains("server_id"),
            "{imp}: {}",
            stats_only.body
        );
        let stats = stats_only.json();
        assert!(stats["num_subscriptions"].as_u64().unwrap() >= 3, "{imp}");
        assert!(
            stats["num_inserts"].as_u64().unwrap() >= 4
                && stats["num_removes"].as_u64().unwrap() >= 1
        );
        assert!(
            stats["num_matches"].as_u64().unwrap() >= 1,
            "{imp}: {stats}"
        );
        assert!(stats["max_fanout"].as_u64().unwrap() >= 2, "{imp}: {stats}");

        let matching = m.json("/subsz?subs=1&test=foo.bar");
        assert_eq!(matching["total"], 2, "{imp}: {matching:#}");
        let mut subjects: Vec<&str> = matching["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["subject"].as_str().unwrap())
            .collect();
        subjects.sort_unstable();
        assert_eq!(subjects, ["foo.*", "foo.bar"], "{imp}");
        let queue = matching["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["qgroup"] == "q")
            .unwrap();
        assert_eq!(
            (
                queue["account"].as_str(),
                queue["sid"].as_str(),
                queue["msgs"].as_u64()
            ),
            (Some("$G"), Some("2"), Some(1))
        );

        let paged = m.json("/subsz?subs=1&test=foo.bar&offset=1&limit=5");
        assert_eq!(
            (
                paged["total"].as_u64(),
                paged["offset"].as_u64(),
                paged["limit"].as_u64()
            ),
            (Some(1), Some(1), Some(5)),
            "{imp}"
        );
        let none = m.get("/subscriptionsz?subs=1&test=nothing.here");
        assert!(
            !none.body.contains("subscriptions_list"),
            "{imp}: an empty list is the stats object"
        );
        assert_eq!(
            m.json("/varz")["http_req_stats"]["/subsz"],
            4,
            "{imp}: the alias counts as /subsz"
        );
    }
}

#[test]
fn paths_health_jsonp_and_base_path() {
    for imp in Impl::enabled() {
        let m = Monitored::with_config(imp, "http: 127.0.0.1:-1\nhttp_base_path: \"/foo\"\n");
        let root = m.get("/foo");
        assert_eq!(root.status, 200, "{imp}");
        assert!(
            root.header("content-type").starts_with("text/html"),
            "{imp}"
        );
        for page in [
            "varz", "connz", "accountz", "accstatz", "subsz", "routez", "leafz", "healthz",
        ] {
            assert!(
                root.body.contains(&format!("<a href=./foo/{page}")),
                "{imp}: link to {page}"
            );
        }
        // The reference also links endpoints natsd does not serve; natsd leaves them out.
        for page in ["jsz", "gatewayz"] {
            let linked = root.body.contains(&format!("<a href=./foo/{page}"));
            assert_eq!(linked, imp == Impl::Reference, "{imp}: link to {page}");
        }
        for missing in [
            "/varz",
            "/foo/",
            "/",
            "/foo/varz/",
            "/foo/connz/x",
            "/foo/nope",
        ] {
            let answer = m.get(missing);
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (404, "404 page not found\n"),
                "{imp} {missing}"
            );
            assert_eq!(answer.header("x-content-type-options"), "nosniff");
        }
        let health = m.get("/foo/healthz");
        assert_eq!(
            (health.status, health.body.as_str()),
            (200, "{\"status\":\"ok\"}"),
            "{imp}"
        );
        assert_eq!(
            m.request("POST", "/foo/healthz?js-enabled-only=true")
                .status,
            200
        );

        let jsonp = m.get("/foo/routez?callback=cb");
        assert_eq!(
            jsonp.header("content-type"),
            "application/javascript",
            "{imp}"
        );
        assert!(
            jsonp.body.starts_with("cb({\n") && jsonp.body.ends_with("})"),
            "{imp}: {}",
            jsonp.body
        );
        let routez: Value = serde_json::from_str(&jsonp.body[3..jsonp.body.len() - 1]).unwrap();
        assert_eq!(
            (
                routez["num_routes"].as_u64(),
                routez["routes"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );

        let head = m.request("HEAD", "/foo/varz");
        assert_eq!((head.status, head.body.as_str()), (200, ""), "{imp}");

        let varz = m.json("/foo/varz");
        assert_eq!(varz["http_base_path"], "/foo", "{imp}");
        let stats = &varz["http_req_stats"];
        assert_eq!(
            (
                stats["/"].as_u64(),
                stats["/healthz"].as_u64(),
                stats["/routez"].as_u64()
            ),
            (Some(1), Some(2), Some(1)),
            "{imp}: {stats}"
        );
        assert_eq!(stats["/varz"], 2, "{imp}: HEAD counts too");
    }
}

#[test]
fn bad_monitoring_options_are_fatal() {
    for imp in Impl::enabled() {
        let dir = common::fresh_temp_dir();
        let both = imp
            .command()
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "18001", "-ms", "18002"])
            .output()
            .expect("run");
        assert!(!both.status.success(), "{imp}");
        let log = String::from_utf8_lossy(&both.stderr);
        assert!(
            log.contains("can't specify both HTTP (18001) and HTTPs (18002) ports"),
            "{imp}: {log}"
        );
        let https = imp
            .command()
            .args(["-a", "127.0.0.1", "-p", "-1", "-ms", "-1"])
            .output()
            .expect("run");
        let log = String::from_utf8_lossy(&https.stderr);
        assert!(
            !https.status.success() && log.contains("TLS cert and key required for HTTPS"),
            "{imp}: {log}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn key_sets_and_types_match_the_reference() {
    if !common::reference_available() {
        return;
    }
    // `cpu` is integral (`0`) or not depending on load: compare as a number.
    let number = |t: &'static str| if t == "float" { "integer" } else { t };
    let shapes = |imp: Impl| {
        let m = Monitored::start(imp, &[]);
        let _wires = traffic(&m);
        std::thread::sleep(Duration::from_millis(1100));
        [
            "/varz",
            "/connz?subs=1",
            "/connz?subs=detail&auth=1",
            "/routez",
            "/subsz",
            "/subsz?subs=1",
            "/healthz",
            "/accountz",
            "/accountz?acc=$G",
            "/accstatz?unused=1",
        ]
        .map(|path| {
            let mut out = BTreeMap::new();
            shape(&m.json(path), "", &mut out);
            // The reference's implicit `$SYS` service imports: natsd has none.
            out.retain(|k, _| !k.starts_with(".account_detail.imports"));
            (path, out)
        })
    };
    let natsd = shapes(Impl::Natsd);
    let reference = shapes(Impl::Reference);
    for ((path, ours), (_, theirs)) in natsd.iter().zip(reference.iter()) {
        let ours: BTreeMap<_, _> = ours.iter().map(|(k, t)| (k.clone(), number(t))).collect();
        let theirs: BTreeMap<_, _> = theirs.iter().map(|(k, t)| (k.clone(), number(t))).collect();
        assert_eq!(ours, theirs, "{path}: key paths and types");
    }
}

#[test]
fn metrics_parse_and_match_varz_and_connz() {
    let m = Monitored::start(Impl::Natsd, &[]);
    let _wires = traffic(&m);
    let varz = m.json("/varz");
    let connz = m.json("/connz");
    let answer = m.get("/metrics");
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .starts_with("text/plain; version=0.0.4"));
    let lines = answer.body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let server_id = varz["server_id"].as_str().unwrap();
    let value = |name: &str| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("no {name} in\n{}", answer.body));
        assert_eq!(sample.labels.get("server_id"), Some(server_id), "{name}");
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    };
    for key in [
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "connections",
        "total_connections",
        "slow_consumers",
        "subscriptions",
        "max_payload",
        "ping_interval",
    ] {
        assert_eq!(
            value(&format!("gnatsd_varz_{key}")),
            varz[key].as_f64().unwrap(),
            "{key}"
        );
    }
    assert_eq!(value("gnatsd_varz_in_msgs"), 16.0);
    assert_eq!(value("gnatsd_connz_num_connections"), 4.0);
    let sum = |key: &str| {
        connz["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[key].as_f64().unwrap())
            .sum::<f64>()
    };
    for key in [
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "subscriptions",
        "pending_bytes",
    ] {
        assert_eq!(
            value(&format!("gnatsd_connz_{key}")),
            sum(key),
            "connz {key}"
        );
    }
    assert_eq!(value("gnatsd_routez_num_routes"), 0.0);
    assert!(value("gnatsd_subsz_num_subscriptions") >= 3.0);
    assert_eq!(value("gnatsd_healthz_status"), 0.0);
    assert_eq!(
        value("gnatsd_varz_http_req_stats_varz"),
        1.0,
        "/metrics itself is not counted"
    );
    let start = value("gnatsd_varz_start");
    assert!(start > 1.7e12, "start as epoch milliseconds: {start}");
    let global = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "gnatsd_accstatz_current_connections"
                && s.labels.get("account") == Some("$G")
        })
        .unwrap_or_else(|| panic!("no $G connections in\n{}", answer.body));
    assert_eq!(global.value, prometheus_parse::Value::Gauge(4.0));
}

fn cert(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs/certs")
        .join(name)
}

/// A TLS client on `sock` that trusts only the test CA.
fn tls_client(sock: TcpStream) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let _ = natsd::tls::ring_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(cert("ca.pem")).unwrap();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(&pem).expect("CA certificate");
    roots.add(ca).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// GET over HTTPS, trusting only the test CA.
fn https_get(addr: SocketAddr, path: &str) -> Http {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    request_on(tls_client(sock), "GET", path)
}

#[test]
fn https_monitoring_with_the_test_certificates() {
    for imp in Impl::enabled() {
        let conf = format!(
            "https: 127.0.0.1:-1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
            cert("server-cert.pem").display(),
            cert("server-key.pem").display()
        );
        let server = ServerProc::start_with_config(imp, &conf, &[]);
        let url = server.ports()["monitoring"][0]
            .as_str()
            .unwrap()
            .to_string();
        assert!(url.starts_with("https://"), "{imp}: {url}");
        // A client that connects and never starts TLS holds up no one else.
        let _silent = TcpStream::connect(common::url_addr(&url)).unwrap();
        let answer = https_get(common::url_addr(&url), "/varz");
        assert_eq!(answer.status, 200, "{imp}");
        let varz = answer.json();
        assert_eq!(
            (varz["https_port"].as_i64(), varz["http_port"].as_i64()),
            (Some(-1), Some(0)),
            "{imp}"
        );
        assert_eq!(varz["tls_required"], true, "{imp}");
        assert_eq!(varz["auth_timeout"], 3, "{imp}: tls timeout + 1");
        https_keep_alive_and_large_answers(imp, &server, common::url_addr(&url));
        let plain = TcpStream::connect(common::url_addr(&url)).map(|s| {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut s = s;
            let _ = s.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            buf
        });
        let plain = plain.unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&plain),
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
            "{imp}: plain HTTP on the HTTPS port"
        );
    }
}

/// Two pipelined requests on one TLS connection get both answers; an answer bigger than
/// TLS buffers (`/connz?subs=1` listing 3000 subscriptions of a TLS client) arrives whole.
fn https_keep_alive_and_large_answers(imp: Impl, server: &ServerProc, monitor: SocketAddr) {
    let sock = TcpStream::connect(monitor).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut tls = tls_client(sock);
    tls.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{imp}: {text}");
    assert!(
        text.contains("server_id") && text.contains("\"status\""),
        "{imp}"
    );

    const SUBS: usize = 3000;
    let mut client = TcpStream::connect(server.client_addr()).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut info = [0u8; 1];
    while info[0] != b'\n' {
        client.read_exact(&mut info).unwrap();
    }
    let mut client = tls_client(client);
    let mut protocol = String::from("CONNECT {\"verbose\":false}\r\n");
    for i in 0..SUBS {
        protocol.push_str(&format!("SUB large.answer.subject.{i:05} {i}\r\n"));
    }
    protocol.push_str("PING\r\n");
    client.write_all(protocol.as_bytes()).unwrap();
    let mut pong = Vec::new();
    while !pong.ends_with(b"PONG\r\n") {
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).unwrap();
        pong.push(byte[0]);
    }
    let connz = https_get(monitor, "/connz?subs=1");
    assert_eq!(connz.status, 200, "{imp}");
    assert!(
        connz.body.len() > 64 * 1024,
        "{imp}: {} bytes",
        connz.body.len()
    );
    let connz = connz.json();
    let subs = connz["connections"][0]["subscriptions_list"]
        .as_array()
        .unwrap_or_else(|| panic!("{imp}: {connz}"));
    assert_eq!(subs.len(), SUBS, "{imp}");
}

#[test]
fn polling_under_load_loses_nothing() {
    let m = Monitored::start(Impl::Natsd, &[]);
    const PUBLISHERS: usize = 4;
    const PER_PUBLISHER: usize = 20_000;
    let mut sub = m.client("sink");
    sub.send(b"SUB load.> 1\r\nPING\r\n");
    sub.expect(b"PONG\r\n");
    let addr = m.server.client_addr();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut wire = Wire::connect(addr).answer_pings();
                wire.read_info();
                wire.send(b"CONNECT {\"verbose\":false}\r\n");
                let line = format!("PUB load.{p} 16\r\n0123456789abcdef\r\n");
                let batch = line.repeat(500);
                for _ in 0..PER_PUBLISHER / 500 {
                    wire.send(batch.as_bytes());
                }
                wire.send(b"PING\r\n");
                wire.expect(b"PONG\r\n");
            })
        })
        .collect();
    let mut polls = 0;
    let mut slowest = Duration::ZERO;
    while publishers.iter().any(|p| !p.is_finished()) {
        for path in ["/varz", "/connz?subs=1", "/subsz?subs=1", "/metrics"] {
            let started = Instant::now();
            assert_eq!(m.get(path).status, 200, "{path}");
            slowest = slowest.max(started.elapsed());
            polls += 1;
        }
    }
    for p in publishers {
        p.join().expect("publisher");
    }
    let expected = PUBLISHERS * PER_PUBLISHER;
    let mut per_publisher = [0usize; PUBLISHERS];
    while per_publisher.iter().sum::<usize>() < expected {
        let line = sub.read_line();
        if line == b"PING\r\n" {
            sub.send(b"PONG\r\n");
            continue;
        }
        let line = String::from_utf8(line).expect("UTF-8");
        let publisher: usize = line
            .strip_prefix("MSG load.")
            .and_then(|rest| rest[..1].parse().ok())
            .unwrap_or_else(|| panic!("unexpected {line:?}"));
        assert_eq!(sub.read_line(), b"0123456789abcdef\r\n");
        per_publisher[publisher] += 1;
    }
    assert_eq!(
        per_publisher, [PER_PUBLISHER; PUBLISHERS],
        "exactly every message"
    );
    sub.send(b"PING\r\n");
    sub.expect(b"PONG\r\n");
    let varz = m.json("/varz");
    assert_eq!(varz["in_msgs"], expected as u64);
    assert_eq!(varz["out_msgs"], expected as u64);
    assert!(
        polls >= 4,
        "the monitor answered while publishers ran ({polls} requests)"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "slowest request {slowest:?}"
    );
}

#[test]
fn healthz_fails_in_lame_duck_mode() {
    for imp in Impl::enabled() {
        let conf =
            "http: 127.0.0.1:-1\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"10s\"\n";
        let m = Monitored::with_config(imp, conf);
        let _client = m.client("stays");
        assert_eq!(m.get("/healthz").status, 200, "{imp}");
        m.server.signal(libc::SIGUSR2);
        m.server.wait_for_log("Entering lame duck mode", 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        let health = loop {
            let health = m.get("/healthz");
            if health.status != 200 || Instant::now() > deadline {
                break health;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(health.status, 503, "{imp}");
        let body = health.json();
        assert_eq!(body["status"], "error", "{imp}");
        assert_eq!(
            body["error"], "failed to be ready for connections after 1ms: server",
            "{imp}"
        );
        m.server.wait_for_log("Healthcheck failed: ", 1);
    }
}

#[test]
fn connz_auth_names_the_user_open_and_closed() {
    for imp in Impl::enabled() {
        let conf =
            "http: 127.0.0.1:-1\nauthorization { users = [ {user: alice, password: secret} ] }\n";
        let m = Monitored::with_config(imp, conf);
        let mut alice = Wire::connect(m.server.client_addr());
        alice.read_info();
        alice.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"secret\",\"name\":\"ok\"}\r\nPING\r\n");
        alice.expect(b"PONG\r\n");
        let mut wrong = Wire::connect(m.server.client_addr());
        wrong.read_info();
        wrong.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\",\"name\":\"bad\"}\r\n");
        wrong.expect(b"-ERR 'Authorization Violation'\r\n");
        wrong.expect_closed();

        let open = m.json("/connz?auth=true");
        assert_eq!(
            open["connections"][0]["authorized_user"], "alice",
            "{imp}: {open:#}"
        );
        assert!(
            m.json("/connz")["connections"][0]
                .get("authorized_user")
                .is_none(),
            "{imp}"
        );
        let closed = m.wait_for("/connz?state=closed&auth=1", |d| d["num_connections"] == 1);
        let failed = &closed["connections"][0];
        assert_eq!(failed["reason"], "Authentication Failure", "{imp}");
        assert_eq!(failed["authorized_user"], "alice", "{imp}");
        assert_eq!(m.json("/connz?user=alice")["num_connections"], 1, "{imp}");
        assert_eq!(m.json("/varz")["auth_required"], true, "{imp}");
    }
}

#[test]
fn connz_shows_the_tls_version_and_cipher() {
    for imp in Impl::enabled() {
        let conf = format!(
            "http: 127.0.0.1:-1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
            cert("server-cert.pem").display(),
            cert("server-key.pem").display()
        );
        let m = Monitored::with_config(imp, &conf);
        let mut sock = TcpStream::connect(m.server.client_addr()).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut info = Vec::new();
        let mut byte = [0u8; 1];
        while !info.ends_with(b"\r\n") {
            sock.read_exact(&mut byte).expect("INFO in plain text");
            info.push(byte[0]);
        }
        let mut tls = tls_client(sock);
        tls.write_all(b"CONNECT {\"verbose\":false,\"name\":\"sealed\"}\r\nPING\r\n")
            .unwrap();
        let mut pong = [0u8; 6];
        tls.read_exact(&mut pong).expect("PONG over TLS");
        assert_eq!(&pong, b"PONG\r\n");
        let conn = &m.json("/connz")["connections"][0];
        assert_eq!(conn["name"], "sealed", "{imp}");
        assert_eq!(conn["tls_version"], "1.3", "{imp}: {conn:#}");
        let cipher = conn["tls_cipher_suite"].as_str().unwrap_or_default();
        assert!(
            cipher.starts_with("TLS_AES_") || cipher.starts_with("TLS_CHACHA20_"),
            "{imp}: {cipher}"
        );
        if imp == Impl::Natsd {
            assert_eq!(cipher, "TLS_AES_128_GCM_SHA256", "the server's preference");
        }
    }
}

/// The names under `key` of the documents in `list`, sorted (the reference lists accounts
/// in no particular order).
fn sorted_names(list: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| match key {
            "" => v.as_str().unwrap().to_string(),
            key => v[key].as_str().unwrap().to_string(),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn accounts_endpoints_without_an_accounts_block() {
    for imp in Impl::enabled() {
        let m = Monitored::start(imp, &[]);
        let mut client = m.client("g");
        client.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
        client.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n");

        let list = m.json("/accountz");
        assert_eq!(list["system_account"], "$SYS", "{imp}");
        assert_eq!(sorted_names(&list["accounts"], ""), ["$G", "$SYS"], "{imp}");
        let global = &m.json("/accountz?acc=$G")["account_detail"];
        assert_eq!(global["account_name"], "$G", "{imp}");
        assert_eq!(global["client_connections"], 1, "{imp}");
        assert!(global.get("is_system").is_none(), "{imp}");
        assert!(is_rfc3339(&global["update_time"]), "{imp}: {global}");
        assert_eq!(
            global["sublist_stats"]["num_inserts"]
                .as_u64()
                .map(|n| n > 0),
            Some(true)
        );
        let system = &m.json("/accountz?acc=$SYS")["account_detail"];
        assert_eq!(system["is_system"], true, "{imp}");
        let unknown = m.get("/accountz?acc=NOPE");
        assert_eq!(
            (unknown.status, unknown.body.as_str()),
            (400, "Account NOPE does not exist"),
            "{imp}"
        );

        let used = m.json("/accstatz?acc=$SYS");
        assert_eq!(sorted_names(&used["account_statz"], "acc"), ["$G"], "{imp}");
        let g = &used["account_statz"][0];
        assert_eq!(
            (&g["conns"], &g["total_conns"], &g["leafnodes"]),
            (&1.into(), &1.into(), &0.into()),
            "{imp}"
        );
        let all = m.json("/accstatz?unused=1");
        assert_eq!(
            sorted_names(&all["account_statz"], "acc"),
            ["$G", "$SYS"],
            "{imp}"
        );
        let bad = m.get("/accstatz?unused=maybe");
        assert_eq!(
            (bad.status, bad.body.as_str()),
            (400, "Error decoding boolean for 'unused': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
            "{imp}"
        );

        assert_eq!(m.json("/connz?acc=$G")["num_connections"], 1, "{imp}");
        let nope = m.json("/connz?acc=NOPE");
        assert_eq!(
            (&nope["server_id"], &nope["connections"]),
            (&"".into(), &Value::Null),
            "{imp}"
        );
        let subs = m.json("/subsz?acc=$G&subs=1");
        assert_eq!(subs["subscriptions_list"][0]["account"], "$G", "{imp}");
        let nope = m.json("/subsz?acc=NOPE&subs=1");
        assert_eq!(
            (&nope["num_subscriptions"], nope.get("server_id")),
            (&0.into(), None),
            "{imp}"
        );

        let stats = &m.json("/varz")["http_req_stats"];
        assert_eq!(
            (&stats["/accountz"], &stats["/accstatz"]),
            (&4.into(), &3.into()),
            "{imp}"
        );
    }
}

/// Accounts A (exports, mappings), B (imports) and C, users in each and `g` in `$G`.
const ACCOUNTS_CONF: &str = r#"
http: 127.0.0.1:-1
accounts {
  A {
    users = [ {user: a, password: a} ]
    exports = [
      {stream: "events.>"}
      {stream: "private.>", accounts: [B]}
      {service: "svc.stream", response_type: stream}
      {service: "svc.restricted", accounts: [B]}
    ]
    mappings {
      "m.some": [ {destination: "m.some.dest", weight: 30} ]
      "m.split": [ {destination: "m.s1", weight: 50}, {destination: "m.s2", weight: 50} ]
    }
  }
  B {
    users = [ {user: b, password: b} ]
    imports = [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {service: {account: A, subject: "svc.stream"}, to: "echo"}
    ]
  }
  C { users = [ {user: c, password: c} ] }
}
authorization { users = [ {user: g, password: g} ] }
"#;

/// `/accountz`, `/accstatz`, `/connz` and `/subsz` with an `accounts` block, on natsd and
/// on the reference.
#[test]
fn accounts_block_in_every_endpoint() {
    for imp in Impl::enabled() {
        let m = Monitored::with_config(imp, ACCOUNTS_CONF);
        let login = |user: &str, then: &[u8]| {
            let mut wire = Wire::connect(m.server.client_addr()).answer_pings();
            wire.read_info();
            let connect = format!(
                "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n"
            );
            wire.send(connect.as_bytes());
            wire.send(then);
            wire.send(b"PING\r\n");
            wire.expect(b"PONG\r\n");
            wire
        };
        let _a = login("a", b"SUB foo 1\r\n");
        let _b = login("b", b"SUB foo 1\r\nSUB bar 2\r\n");
        let _g = login("g", b"SUB foo 1\r\n");
        let c = login("c", b"SUB baz 1\r\n");
        drop(c);

        let list = m.json("/accountz");
        assert_eq!(
            sorted_names(&list["accounts"], ""),
            ["$G", "$SYS", "A", "B", "C"],
            "{imp}"
        );
        let a = &m.json("/accountz?acc=A")["account_detail"];
        assert_eq!(a["client_connections"], 1, "{imp}");
        assert_eq!(
            a["mappings"],
            serde_json::json!({
                "m.some": [{"subject": "m.some.dest", "weight": 30}, {"subject": "m.some", "weight": 100}],
                "m.split": [{"subject": "m.s1", "weight": 50}, {"subject": "m.s2", "weight": 100}],
            }),
            "{imp}"
        );
        let exports = a["exports"].as_array().unwrap();
        let kinds: Vec<&str> = exports
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["service", "service", "stream", "stream"], "{imp}");
        let restricted = exports
            .iter()
            .find(|e| e["subject"] == "svc.restricted")
            .unwrap();
        assert_eq!(
            *restricted,
            serde_json::json!({"subject": "svc.restricted", "type": "service",
                "response_type": "Singleton", "approved_accounts": ["B"]}),
            "{imp}"
        );
        let b = &m.json("/accountz?acc=B")["account_detail"];
        let imports: Vec<&Value> = b["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["account"] != "$SYS")
            .collect();
        assert_eq!(
            imports,
            [
                &serde_json::json!({"subject": "events.>", "account": "A",
                    "local_subject": "fromA.events.>", "type": "stream",
                    "invalid": false, "share": false, "tracking": false}),
                &serde_json::json!({"subject": "echo", "account": "A", "to": "svc.stream",
                    "type": "service", "invalid": false, "share": false, "tracking": false}),
            ],
            "{imp}"
        );

        let connz = m.json("/connz?acc=B&auth=1");
        assert_eq!(connz["num_connections"], 1, "{imp}");
        assert_eq!(connz["connections"][0]["account"], "B", "{imp}");
        let global = m.json("/connz?acc=$G&auth=1");
        assert!(global["connections"][0].get("account").is_none(), "{imp}");
        let closed = m.wait_for("/connz?acc=C&state=closed&auth=1", |d| {
            d["num_connections"] == 1
        });
        assert_eq!(closed["connections"][0]["account"], "C", "{imp}");

        let subsz = m.json("/subsz?acc=B&subs=1");
        let subjects: Vec<&Value> = subsz["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["subject"] == "foo" || s["subject"] == "bar")
            .collect();
        assert_eq!(subjects.len(), 2, "{imp}: {subsz:#}");
        assert!(subjects.iter().all(|s| s["account"] == "B"), "{imp}");

        let statz = m.json("/accstatz");
        assert_eq!(
            sorted_names(&statz["account_statz"], "acc"),
            ["$G", "A", "B"],
            "{imp}"
        );
    }
}
