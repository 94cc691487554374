//! Prometheus `/metrics` exposition built from natsd's own monitoring documents.
//!
//! The output reproduces what prometheus-nats-exporter (`collector` package)
//! exports for a server scraped with `-varz -connz -routez -subz -healthz -accstatz
//! -leafz` and `-use_internal_server_id`, so existing dashboards keep working:
//!
//! * `/varz`, `/routez` and `/subsz` are flattened: every number reachable
//!   through nested objects (arrays, booleans and nulls are ignored) becomes the
//!   gauge `gnatsd_<endpoint>_<keys joined by _>` whose HELP is the part after
//!   the endpoint, with `/` turned into `_` and runs of `_` collapsed. Strings
//!   are kept only under a few label keys: RFC 3339 times become epoch
//!   milliseconds, other strings an info gauge `{value="…"} 1`.
//! * `/connz` gives fixed gauges plus counters summed over the connections.
//! * `/healthz` gives `status` (0 when ok) and `status_value{value=…}` (1 when ok).
//! * `/accstatz?unused=1` gives one gauge per account for each of its counts, labelled
//!   `account` and `account_id` (the name) and `account_name` (the exporter reads 2.10's
//!   `name`, which 2.9 has not: empty). `subscriptions` is 0 for the same reason: the
//!   exporter reads 2.10's `num_subscriptions`.
//! * `/leafz` gives `conn_nodes_total` and, per link, `info` (1), `conn_rtt` (seconds) and
//!   its counts, labelled `account`, `account_id` (both the account), `ip`, `port` and
//!   `name` (2.10's, empty with 2.9). The exporter asks without `subs`, so its
//!   per-subscription `conn_subscriptions` family never has a sample.
//!
//! Every sample carries the label `server_id`; labels are written in name order, and the
//! samples of a family in the order of their label values (as client_golang sorts them).

use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// The monitoring documents a scrape is built from (as natsd serves them).
pub struct Sources<'a> {
    /// The value of the `server_id` label on every sample.
    pub server_id: &'a str,
    /// The `/varz` document.
    pub varz: &'a Value,
    /// The `/connz` document with all open connections.
    pub connz: &'a Value,
    /// The `/routez` document.
    pub routez: &'a Value,
    /// The flat `/subsz` stats object.
    pub subsz: &'a Value,
    /// The `/healthz` document: `{"status":"ok"}` or `{"status":"error",…}`.
    pub healthz: &'a Value,
    /// The `/accstatz?unused=1` document.
    pub accstatz: &'a Value,
    /// The `/leafz` document.
    pub leafz: &'a Value,
}

/// The exporter's namespace, kept as `gnatsd` for backward compatibility.
const SYSTEM: &str = "gnatsd";

/// Flattened names the exporter never exports.
const SKIPPED: [&str; 9] = [
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// Keys whose string values are exported (as times or info gauges).
const LABEL_KEYS: [&str; 8] = [
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
    "start",
    "config_load_time",
];

/// The Prometheus type of a metric family.
#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// One metric family and its samples for this server.
struct Family {
    help: String,
    kind: Kind,
    samples: Vec<Sample>,
}

/// One sample: its labels besides `server_id`, and its value.
struct Sample {
    labels: Vec<(&'static str, String)>,
    value: String,
}

/// Families by full metric name: sorted, each name once (first one wins).
type Families = BTreeMap<String, Family>;

/// The Prometheus text exposition (version 0.0.4) of all metrics.
pub fn render(src: &Sources) -> String {
    let mut families = Families::new();
    for (endpoint, doc) in [
        ("varz", src.varz),
        ("routez", src.routez),
        ("subsz", src.subsz),
    ] {
        if let Some(object) = doc.as_object() {
            flatten(&mut families, endpoint, object, &[]);
        }
    }
    connz(&mut families, src.connz);
    healthz(&mut families, src.healthz);
    accstatz(&mut families, src.accstatz);
    leafz(&mut families, src.leafz);

    let mut out = String::new();
    for (name, f) in &families {
        let kind = match f.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        out += &format!("# HELP {name} {}\n# TYPE {name} {kind}\n", f.help);
        let mut samples: Vec<(Vec<(&str, &str)>, &str)> = f
            .samples
            .iter()
            .map(|sample| (sample.labels(src.server_id), sample.value.as_str()))
            .collect();
        // One family's samples have the same label names: this orders by their values.
        samples.sort_unstable();
        for (labels, value) in samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            out += &format!("{name}{{{}}} {value}\n", labels.join(","));
        }
    }
    out
}

impl Sample {
    /// All its labels, `server_id` included, in name order.
    fn labels<'a>(&'a self, server_id: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut labels: Vec<(&str, &str)> = vec![("server_id", server_id)];
        labels.extend(self.labels.iter().map(|(k, v)| (*k, v.as_str())));
        labels.sort_unstable();
        labels
    }
}

/// Adds the family `gnatsd_<endpoint>_<name>` unless it already exists.
fn add(
    families: &mut Families,
    endpoint: &str,
    name: &str,
    kind: Kind,
    info: Option<&str>,
    value: String,
) {
    families
        .entry(format!("{SYSTEM}_{endpoint}_{name}"))
        .or_insert_with(|| Family {
            help: name.to_owned(),
            kind,
            samples: vec![Sample {
                labels: info
                    .map(|v| vec![("value", v.to_owned())])
                    .unwrap_or_default(),
                value,
            }],
        });
}

/// Exports the numbers and label strings of `object`, whose keys sit below `prefix`.
fn flatten(families: &mut Families, endpoint: &str, object: &Map<String, Value>, prefix: &[&str]) {
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    for key in keys {
        let path = [prefix, &[key.as_str()]].concat();
        let name = sanitize(&path.join("_"));
        if SKIPPED.contains(&name.as_str())
            || families.contains_key(&format!("{SYSTEM}_{endpoint}_{name}"))
        {
            continue;
        }
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        match &object[key] {
            Value::Object(inner) => flatten(families, endpoint, inner, &path),
            Value::Number(n) if valid => {
                add(families, endpoint, &name, Kind::Gauge, None, number(n))
            }
            Value::String(s) if valid && LABEL_KEYS.contains(&key.as_str()) => {
                match epoch_millis(s) {
                    Some(ms) => add(families, endpoint, &name, Kind::Gauge, None, ms.to_string()),
                    None => add(
                        families,
                        endpoint,
                        &name,
                        Kind::Gauge,
                        Some(s),
                        "1".to_owned(),
                    ),
                }
            }
            _ => {}
        }
    }
}

/// Exports the `/connz` totals and the sums over its connections.
fn connz(families: &mut Families, doc: &Value) {
    for key in ["num_connections", "total", "offset", "limit"] {
        add(
            families,
            "connz",
            key,
            Kind::Gauge,
            None,
            float(number_at(doc, key)),
        );
    }
    let conns = doc
        .get("connections")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (key, kind) in [
        ("pending_bytes", Kind::Gauge),
        ("subscriptions", Kind::Gauge),
        ("in_msgs", Kind::Counter),
        ("out_msgs", Kind::Counter),
        ("in_bytes", Kind::Counter),
        ("out_bytes", Kind::Counter),
    ] {
        // Not `sum()`, whose empty sum is -0.
        let sum = conns.iter().fold(0.0, |sum, c| sum + number_at(c, key));
        add(families, "connz", key, kind, None, float(sum));
    }
}

/// Exports `/healthz` as `status` (0 = ok, 1 = not ok) and `status_value`.
fn healthz(families: &mut Families, doc: &Value) {
    let status = doc.get("status").and_then(Value::as_str).unwrap_or("");
    let ok = status == "ok";
    let value = |b: bool| u8::from(b).to_string();
    add(families, "healthz", "status", Kind::Gauge, None, value(!ok));
    // Unlike the other families, this one's HELP is not its own name.
    families.insert(
        format!("{SYSTEM}_healthz_status_value"),
        Family {
            help: "status".to_owned(),
            kind: Kind::Gauge,
            samples: vec![Sample {
                labels: vec![("value", status.to_owned())],
                value: value(ok),
            }],
        },
    );
}

/// The exporter's per-account gauges, by name, and where `/accstatz` has each value.
const ACCOUNT_GAUGES: [(&str, &[&str]); 9] = [
    ("current_connections", &["conns"]),
    ("total_connections", &["total_conns"]),
    ("subscriptions", &["num_subscriptions"]),
    ("leaf_nodes", &["leafnodes"]),
    ("sent_messages", &["sent", "msgs"]),
    ("sent_bytes", &["sent", "bytes"]),
    ("received_messages", &["received", "msgs"]),
    ("received_bytes", &["received", "bytes"]),
    ("slow_consumers", &["slow_consumers"]),
];

/// Exports each account of `/accstatz` (absent values are 0, as the exporter decodes them).
fn accstatz(families: &mut Families, doc: &Value) {
    let accounts: Vec<&Value> = doc
        .get("account_statz")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| a.iter().collect());
    for (name, path) in ACCOUNT_GAUGES {
        let samples = accounts
            .iter()
            .map(|a| {
                let value = path.iter().try_fold(*a, |v, key| v.get(key));
                Sample {
                    labels: vec![
                        ("account", text(a, "acc")),
                        ("account_id", text(a, "acc")),
                        ("account_name", text(a, "name")),
                    ],
                    value: float(value.and_then(Value::as_f64).unwrap_or(0.0)),
                }
            })
            .collect();
        add_labelled(families, &format!("accstatz_{name}"), name, samples);
    }
}

/// What a gauge reads from one link of `/leafz`.
type LinkValue = fn(&Value) -> f64;

/// The exporter's per-link gauges (`-leafz`): name, HELP and the value a link gives.
const LEAF_GAUGES: [(&str, &str, LinkValue); 7] = [
    ("info", "info", |_| 1.0),
    ("conn_rtt", "rtt", rtt_seconds),
    ("conn_in_msgs", "in_msgs", |l| number_at(l, "in_msgs")),
    ("conn_out_msgs", "out_msgs", |l| number_at(l, "out_msgs")),
    ("conn_in_bytes", "in_bytes", |l| number_at(l, "in_bytes")),
    ("conn_out_bytes", "out_bytes", |l| number_at(l, "out_bytes")),
    ("conn_subscriptions_total", "subscriptions_total", |l| {
        number_at(l, "subscriptions")
    }),
];

/// Exports `/leafz`: the number of links, and each link's gauges.
fn leafz(families: &mut Families, doc: &Value) {
    let nodes = Sample {
        labels: Vec::new(),
        value: float(number_at(doc, "leafnodes")),
    };
    add_labelled(
        families,
        "leafz_conn_nodes_total",
        "nodes_total",
        vec![nodes],
    );
    let links: Vec<&Value> = doc
        .get("leafs")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |l| l.iter().collect());
    for (name, help, value) in LEAF_GAUGES {
        let samples = links
            .iter()
            .map(|link| Sample {
                labels: vec![
                    ("account", text(link, "account")),
                    ("account_id", text(link, "account")),
                    ("ip", text(link, "ip")),
                    ("port", number_at(link, "port").to_string()),
                    ("name", text(link, "name")),
                ],
                value: float(value(link)),
            })
            .collect();
        add_labelled(families, &format!("leafz_{name}"), help, samples);
    }
}

/// A link's `rtt` in seconds, read as the exporter does (Go's `time.ParseDuration`, 0 if
/// it does not parse, then `Duration.Seconds`).
fn rtt_seconds(link: &Value) -> f64 {
    let rtt = link.get("rtt").and_then(Value::as_str).unwrap_or_default();
    let nanos = crate::config::parse_duration(rtt).unwrap_or(0);
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// Adds the gauge family `gnatsd_<name>` with these samples, unless it has none (as
/// client_golang, which writes no family without samples).
fn add_labelled(families: &mut Families, name: &str, help: &str, samples: Vec<Sample>) {
    if samples.is_empty() {
        return;
    }
    let family = Family {
        help: help.to_owned(),
        kind: Kind::Gauge,
        samples,
    };
    families.insert(format!("{SYSTEM}_{name}"), family);
}

/// The number at `key` of a JSON object; 0 when absent, as the exporter decodes it.
fn number_at(object: &Value, key: &str) -> f64 {
    object.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The string at `key` of a JSON object; empty when absent.
fn text(object: &Value, key: &str) -> String {
    let text = object.get(key).and_then(Value::as_str);
    text.unwrap_or_default().to_owned()
}

/// The exporter's name cleanup: `/` becomes `_`, runs of `_` collapse, no `_` at the ends.
fn sanitize(name: &str) -> String {
    let name = name.replace('/', "_");
    name.split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// A JSON number as a sample value, integers without a fraction or exponent.
fn number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => float(f),
        _ => n.to_string(),
    }
}

/// A float as a sample value: integral values print as integers.
fn float(f: f64) -> String {
    match f {
        f64::INFINITY => "+Inf".to_owned(),
        f64::NEG_INFINITY => "-Inf".to_owned(),
        _ => f.to_string(),
    }
}

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Milliseconds since the Unix epoch of an RFC 3339 time such as Go's
/// `time.RFC3339Nano` output, or `None` if `s` is not one.
fn epoch_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = s.get(from..to)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let ms = &fraction[..len.min(3)];
        millis = ms.parse::<i64>().ok()? * 10_i64.pow(3 - ms.len() as u32);
        rest = &fraction[len..];
    }
    let offset = match rest.as_bytes() {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(s.len() - 5, s.len() - 3)?, num(s.len() - 2, s.len())?);
            if h > 23 || m > 59 {
                return None;
            }
            (h * 60 + m) * 60 * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(seconds * 1_000 + millis)
}

/// Days in `month` (1–12) of `year` in the proleptic Gregorian calendar.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_parse::{Sample, Scrape, Value as Parsed};
    use serde_json::json;

    /// The /varz sample natsd serves.
    const VARZ: &str = r#"{"server_id":"NAUU","server_name":"n1","version":"2.9.10","proto":1,"go":"rust","host":"127.0.0.1","port":14222,"max_connections":65536,"ping_interval":120000000000,"ping_max":2,"http_host":"127.0.0.1","http_port":18222,"http_base_path":"","https_port":0,"auth_timeout":2,"max_control_line":4096,"max_payload":1048576,"max_pending":67108864,"cluster":{},"gateway":{},"leaf":{},"mqtt":{},"websocket":{},"jetstream":{},"tls_timeout":2,"write_deadline":10000000000,"start":"2026-11-25T16:16:32.444482375Z","now":"2026-11-25T16:16:33.46560577Z","uptime":"1s","mem":11886592,"cores":2,"gomaxprocs":2,"cpu":0,"connections":0,"total_connections":0,"routes":0,"remotes":0,"leafnodes":0,"in_msgs":4,"out_msgs":0,"in_bytes":0,"out_bytes":0,"slow_consumers":0,"subscriptions":43,"http_req_stats":{"/varz":1},"config_load_time":"2026-11-25T16:16:32.444482375+01:30"}"#;

    fn varz() -> Value {
        serde_json::from_str(VARZ).unwrap()
    }

    fn subsz() -> Value {
        json!({"num_subscriptions":46,"num_cache":7,"num_inserts":47,"num_removes":1,
            "num_matches":10,"cache_hit_rate":0.1,"max_fanout":1,"avg_fanout":0.7142857142857143})
    }

    fn routez() -> Value {
        json!({"server_id":"NAUU","now":"2026-11-25T16:16:33.46560577Z","num_routes":1,
            "routes":[{"rid":5,"remote_id":"NB","pending_size":7,"in_msgs":3}]})
    }

    fn connz() -> Value {
        let conn = |cid: u64,
                    pending: u64,
                    in_msgs: u64,
                    out_msgs: u64,
                    in_bytes: u64,
                    out_bytes: u64,
                    subs: u64| {
            json!({"cid":cid,"kind":"Client","type":"nats","ip":"127.0.0.1","port":59870,
                "start":"2026-11-25T16:16:32.444482375Z","last_activity":"2026-11-25T16:16:33Z",
                "rtt":"481µs","uptime":"4s","idle":"4s","pending_bytes":pending,"in_msgs":in_msgs,
                "out_msgs":out_msgs,"in_bytes":in_bytes,"out_bytes":out_bytes,"subscriptions":subs,
                "name":"sub","lang":"python3","version":"0.0.1"})
        };
        json!({"server_id":"NAUU","now":"2026-11-25T16:16:33Z","num_connections":2,"total":2,
            "offset":0,"limit":1024,
            "connections":[conn(4, 0, 0, 4, 0, 17, 3), conn(5, 12, 6, 1, 230, 9, 2)]})
    }

    fn accstatz() -> Value {
        let account = |name: &str, conns: u64, sent: u64, received: u64| {
            json!({"acc":name,"conns":conns,"leafnodes":0,"total_conns":conns,
                "sent":{"msgs":sent,"bytes":sent * 10},
                "received":{"msgs":received,"bytes":received * 10},"slow_consumers":0})
        };
        json!({"server_id":"NAUU","now":"2026-11-25T16:16:33Z",
            "account_statz":[account("B", 1, 0, 4), account("$G", 0, 2, 0), account("A", 2, 7, 3)]})
    }

    fn render_with(server_id: &str, varz: &Value, healthz: &Value) -> String {
        render(&Sources {
            server_id,
            varz,
            connz: &connz(),
            routez: &routez(),
            subsz: &subsz(),
            healthz,
            accstatz: &accstatz(),
            leafz: &leafz(),
        })
    }

    /// Three links: two of `A` (a hub's port sorts after a leaf's as text), one of `$G`.
    fn leafz() -> Value {
        let link = |account: &str, port: u16, rtt: &str, n: u64| {
            json!({"account":account,"ip":"127.0.0.1","port":port,"rtt":rtt,"in_msgs":n,
                "out_msgs":n + 1,"in_bytes":n * 10,"out_bytes":n * 10 + 1,"subscriptions":n + 2})
        };
        json!({"server_id":"NAUU","now":"2026-11-25T16:16:33Z","leafnodes":3,
            "leafs":[link("A", 7422, "1.956182ms", 1), link("A", 40722, "615µs", 2),
                link("$G", 40723, "0s", 3)]})
    }

    /// Checks the text strictly (the parser below is lenient) and parses it.
    fn parse(text: &str) -> Scrape {
        assert!(text.ends_with('\n'));
        let mut lines = text.lines().peekable();
        let mut names = Vec::new();
        let mut samples = 0;
        while let Some(help) = lines.next() {
            let name = help
                .strip_prefix("# HELP ")
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name}"
            );
            let kind = lines.next().unwrap();
            let kind = kind.strip_prefix(&format!("# TYPE {name} ")).unwrap();
            assert!(kind == "gauge" || kind == "counter", "{kind}");
            let first = samples;
            while let Some(sample) = lines.next_if(|l| !l.starts_with('#')) {
                let sample = sample.strip_prefix(&format!("{name}{{")).unwrap();
                let (labels, value) = sample.rsplit_once("} ").unwrap();
                assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{value}");
                let unescaped = labels.replace(r"\\", "").replace(r#"\""#, "");
                let names: Vec<&str> = unescaped
                    .split('"')
                    .step_by(2)
                    .filter(|k| !k.is_empty())
                    .map(|k| k.trim_start_matches(',').trim_end_matches('='))
                    .collect();
                assert!(names.windows(2).all(|w| w[0] < w[1]), "{labels}");
                assert!(names.contains(&"server_id"), "{labels}");
                samples += 1;
            }
            assert!(samples > first, "{name} has no sample");
            names.push(name);
        }
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "not sorted or repeated"
        );
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        assert_eq!(scrape.samples.len(), samples);
        scrape
    }

    fn sample<'a>(scrape: &'a Scrape, name: &str) -> &'a Sample {
        let found: Vec<_> = scrape.samples.iter().filter(|s| s.metric == name).collect();
        assert_eq!(found.len(), 1, "{name}");
        found[0]
    }

    fn gauge(scrape: &Scrape, name: &str) -> f64 {
        match sample(scrape, name).value {
            Parsed::Gauge(v) => v,
            ref other => panic!("{name} is {other:?}"),
        }
    }

    fn has(scrape: &Scrape, name: &str) -> bool {
        scrape.samples.iter().any(|s| s.metric == name)
    }

    #[test]
    fn varz_numbers_are_gauges_with_their_key_as_help() {
        let text = render_with("X", &varz(), &json!({"status":"ok"}));
        let scrape = parse(&text);
        assert_eq!(gauge(&scrape, "gnatsd_varz_in_msgs"), 4.0);
        assert_eq!(gauge(&scrape, "gnatsd_varz_subscriptions"), 43.0);
        assert_eq!(
            sample(&scrape, "gnatsd_varz_in_msgs")
                .labels
                .get("server_id"),
            Some("X")
        );
        assert_eq!(scrape.docs["gnatsd_varz_in_msgs"], "in_msgs");
        assert!(
            text.contains("# HELP gnatsd_varz_in_msgs in_msgs\n# TYPE gnatsd_varz_in_msgs gauge\n")
        );
        assert!(text.contains("\ngnatsd_varz_in_msgs{server_id=\"X\"} 4\n"));
        assert!(text.contains("\ngnatsd_varz_ping_interval{server_id=\"X\"} 120000000000\n"));
        assert_eq!(gauge(&scrape, "gnatsd_varz_http_req_stats_varz"), 1.0);
        assert_eq!(
            scrape.docs["gnatsd_varz_http_req_stats_varz"],
            "http_req_stats_varz"
        );
        for absent in [
            "now",
            "uptime",
            "host",
            "go",
            "http_base_path",
            "leaf",
            "cluster",
            "http_req_stats",
        ] {
            assert!(!has(&scrape, &format!("gnatsd_varz_{absent}")), "{absent}");
        }
    }

    #[test]
    fn label_keys_become_times_or_info_gauges() {
        let scrape = parse(&render_with("X", &varz(), &json!({"status":"ok"})));
        assert_eq!(gauge(&scrape, "gnatsd_varz_start"), 1_795_623_392_444.0);
        assert_eq!(
            gauge(&scrape, "gnatsd_varz_config_load_time"),
            1_795_617_992_444.0
        );
        for (name, value) in [
            ("server_id", "NAUU"),
            ("server_name", "n1"),
            ("version", "2.9.10"),
        ] {
            let name = format!("gnatsd_varz_{name}");
            assert_eq!(gauge(&scrape, &name), 1.0);
            assert_eq!(sample(&scrape, &name).labels.get("value"), Some(value));
            assert_eq!(sample(&scrape, &name).labels.get("server_id"), Some("X"));
        }
        let mut doc = varz();
        doc["start"] = json!("yesterday");
        let scrape = parse(&render_with("X", &doc, &json!({"status":"ok"})));
        assert_eq!(gauge(&scrape, "gnatsd_varz_start"), 1.0);
        assert_eq!(
            sample(&scrape, "gnatsd_varz_start").labels.get("value"),
            Some("yesterday")
        );
    }

    #[test]
    fn nested_objects_flatten_and_skip_arrays_booleans_and_skipped_names() {
        let mut doc = varz();
        doc["cluster"] =
            json!({"name":"c1","port":6222,"tls_timeout":2,"urls":["a:1"],"pool":[1,2]});
        doc["gateway"] = json!({"port":7222,"tls_timeout":2,"outbound":{"rtt":3}});
        doc["leaf"] = json!({"port":7422});
        doc["connect_urls"] = json!(["127.0.0.1:4222"]);
        doc["auth_required"] = json!(true);
        doc["http_req_stats"] = json!({"/":2,"/varz":1,"/a//b/":3,"/a.b":4});
        let text = render_with("X", &doc, &json!({"status":"ok"}));
        let scrape = parse(&text);
        assert_eq!(gauge(&scrape, "gnatsd_varz_cluster_port"), 6222.0);
        assert_eq!(
            sample(&scrape, "gnatsd_varz_cluster_name")
                .labels
                .get("value"),
            Some("c1")
        );
        assert_eq!(gauge(&scrape, "gnatsd_varz_gateway_outbound_rtt"), 3.0);
        assert_eq!(gauge(&scrape, "gnatsd_varz_http_req_stats"), 2.0);
        assert_eq!(gauge(&scrape, "gnatsd_varz_http_req_stats_a_b"), 3.0);
        for absent in [
            "cluster_tls_timeout",
            "gateway_port",
            "gateway_tls_timeout",
            "leaf_port",
            "auth_required",
        ] {
            assert!(!has(&scrape, &format!("gnatsd_varz_{absent}")), "{absent}");
        }
        for absent in ["urls", "pool", "connect_urls", "a.b"] {
            assert!(!text.contains(absent), "{absent}");
        }
    }

    #[test]
    fn subsz_and_routez() {
        let text = render_with("X", &varz(), &json!({"status":"ok"}));
        let scrape = parse(&text);
        assert_eq!(gauge(&scrape, "gnatsd_subsz_num_subscriptions"), 46.0);
        assert_eq!(gauge(&scrape, "gnatsd_subsz_num_matches"), 10.0);
        assert!(text.contains("\ngnatsd_subsz_cache_hit_rate{server_id=\"X\"} 0.1\n"));
        assert!(text.contains("\ngnatsd_subsz_avg_fanout{server_id=\"X\"} 0.7142857142857143\n"));
        assert_eq!(gauge(&scrape, "gnatsd_routez_num_routes"), 1.0);
        assert_eq!(
            sample(&scrape, "gnatsd_routez_server_id")
                .labels
                .get("value"),
            Some("NAUU")
        );
        assert!(!text.contains("gnatsd_routez_routes") && !text.contains("gnatsd_routez_now"));
    }

    #[test]
    fn connz_sums_connections_and_counts_traffic() {
        let text = render_with("X", &varz(), &json!({"status":"ok"}));
        let scrape = parse(&text);
        for (name, value) in [
            ("num_connections", 2.0),
            ("total", 2.0),
            ("offset", 0.0),
            ("limit", 1024.0),
            ("pending_bytes", 12.0),
            ("subscriptions", 5.0),
        ] {
            assert_eq!(
                gauge(&scrape, &format!("gnatsd_connz_{name}")),
                value,
                "{name}"
            );
            assert_eq!(scrape.docs[&format!("gnatsd_connz_{name}")], name);
        }
        for (name, value) in [
            ("in_msgs", 6.0),
            ("out_msgs", 5.0),
            ("in_bytes", 230.0),
            ("out_bytes", 26.0),
        ] {
            let s = sample(&scrape, &format!("gnatsd_connz_{name}"));
            assert_eq!(s.value, Parsed::Counter(value), "{name}");
            assert_eq!(scrape.docs[&format!("gnatsd_connz_{name}")], name);
        }
        assert!(text.contains("\ngnatsd_connz_in_bytes{server_id=\"X\"} 230\n"));
        let empty = render(&Sources {
            server_id: "X",
            varz: &json!({}),
            connz: &json!({}),
            routez: &json!({}),
            subsz: &json!({}),
            healthz: &json!({}),
            accstatz: &json!({}),
            leafz: &json!({}),
        });
        assert!(parse(&empty)
            .samples
            .iter()
            .all(|s| s.metric.starts_with("gnatsd_connz_")
                || s.metric.starts_with("gnatsd_healthz_")
                || s.metric == "gnatsd_leafz_conn_nodes_total"));
        assert!(empty.contains("\ngnatsd_connz_in_msgs{server_id=\"X\"} 0\n"));
    }

    #[test]
    fn only_connz_traffic_families_are_counters() {
        let scrape = parse(&render_with("X", &varz(), &json!({"status":"ok"})));
        let counters: Vec<&str> = scrape
            .samples
            .iter()
            .filter(|s| matches!(s.value, Parsed::Counter(_)))
            .map(|s| s.metric.as_str())
            .collect();
        assert_eq!(
            counters,
            [
                "gnatsd_connz_in_bytes",
                "gnatsd_connz_in_msgs",
                "gnatsd_connz_out_bytes",
                "gnatsd_connz_out_msgs"
            ]
        );
        assert!(scrape
            .samples
            .iter()
            .all(|s| matches!(s.value, Parsed::Gauge(_) | Parsed::Counter(_))));
    }

    #[test]
    fn healthz_status() {
        let ok = parse(&render_with("X", &varz(), &json!({"status":"ok"})));
        assert_eq!(gauge(&ok, "gnatsd_healthz_status"), 0.0);
        assert_eq!(gauge(&ok, "gnatsd_healthz_status_value"), 1.0);
        assert_eq!(
            sample(&ok, "gnatsd_healthz_status_value")
                .labels
                .get("value"),
            Some("ok")
        );
        assert_eq!(ok.docs["gnatsd_healthz_status_value"], "status");
        let bad = parse(&render_with(
            "X",
            &varz(),
            &json!({"status":"error","error":"JetStream not ready"}),
        ));
        assert_eq!(gauge(&bad, "gnatsd_healthz_status"), 1.0);
        assert_eq!(gauge(&bad, "gnatsd_healthz_status_value"), 0.0);
        assert_eq!(
            sample(&bad, "gnatsd_healthz_status_value")
                .labels
                .get("value"),
            Some("error")
        );
    }

    #[test]
    fn accstatz_gives_a_gauge_per_account() {
        let text = render_with("X", &varz(), &json!({"status":"ok"}));
        let scrape = parse(&text);
        let of = |name: &str, account: &str| -> f64 {
            let found: Vec<&Sample> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == name && s.labels.get("account") == Some(account))
                .collect();
            assert_eq!(found.len(), 1, "{name} {account}");
            assert_eq!(found[0].labels.get("account_id"), Some(account));
            match found[0].value {
                Parsed::Gauge(v) => v,
                ref other => panic!("{name} is {other:?}"),
            }
        };
        assert_eq!(of("gnatsd_accstatz_current_connections", "A"), 2.0);
        assert_eq!(of("gnatsd_accstatz_total_connections", "B"), 1.0);
        assert_eq!(of("gnatsd_accstatz_sent_messages", "A"), 7.0);
        assert_eq!(of("gnatsd_accstatz_sent_bytes", "$G"), 20.0);
        assert_eq!(of("gnatsd_accstatz_received_messages", "B"), 4.0);
        assert_eq!(of("gnatsd_accstatz_received_bytes", "A"), 30.0);
        assert_eq!(of("gnatsd_accstatz_subscriptions", "A"), 0.0);
        assert_eq!(of("gnatsd_accstatz_leaf_nodes", "A"), 0.0);
        assert_eq!(of("gnatsd_accstatz_slow_consumers", "A"), 0.0);
        assert_eq!(
            scrape.docs["gnatsd_accstatz_current_connections"],
            "current_connections"
        );
        // As client_golang writes them: labels by name, samples by label values.
        assert!(text.contains(concat!(
            "# TYPE gnatsd_accstatz_current_connections gauge\n",
            "gnatsd_accstatz_current_connections",
            "{account=\"$G\",account_id=\"$G\",account_name=\"\",server_id=\"X\"} 0\n",
            "gnatsd_accstatz_current_connections",
            "{account=\"A\",account_id=\"A\",account_name=\"\",server_id=\"X\"} 2\n",
            "gnatsd_accstatz_current_connections",
            "{account=\"B\",account_id=\"B\",account_name=\"\",server_id=\"X\"} 1\n",
        )));
    }

    #[test]
    fn leafz_gives_the_link_count_and_gauges_per_link() {
        let text = render_with("X", &varz(), &json!({"status":"ok"}));
        let scrape = parse(&text);
        assert_eq!(gauge(&scrape, "gnatsd_leafz_conn_nodes_total"), 3.0);
        assert_eq!(scrape.docs["gnatsd_leafz_conn_nodes_total"], "nodes_total");
        let of = |name: &str, port: &str| -> f64 {
            let found: Vec<&Sample> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == name && s.labels.get("port") == Some(port))
                .collect();
            assert_eq!(found.len(), 1, "{name} {port}");
            match found[0].value {
                Parsed::Gauge(v) => v,
                ref other => panic!("{name} is {other:?}"),
            }
        };
        for (name, help, values) in [
            ("info", "info", [1.0, 1.0, 1.0]),
            ("conn_rtt", "rtt", [0.001956182, 0.000615, 0.0]),
            ("conn_in_msgs", "in_msgs", [1.0, 2.0, 3.0]),
            ("conn_out_msgs", "out_msgs", [2.0, 3.0, 4.0]),
            ("conn_in_bytes", "in_bytes", [10.0, 20.0, 30.0]),
            ("conn_out_bytes", "out_bytes", [11.0, 21.0, 31.0]),
            (
                "conn_subscriptions_total",
                "subscriptions_total",
                [3.0, 4.0, 5.0],
            ),
        ] {
            let name = format!("gnatsd_leafz_{name}");
            assert_eq!(scrape.docs[&name], help);
            for (port, value) in ["7422", "40722", "40723"].into_iter().zip(values) {
                assert_eq!(of(&name, port), value, "{name} {port}");
            }
        }
        // As client_golang writes them: labels by name, samples by label values as text.
        assert!(text.contains(concat!(
            "# TYPE gnatsd_leafz_conn_in_msgs gauge\n",
            "gnatsd_leafz_conn_in_msgs{account=\"$G\",account_id=\"$G\",ip=\"127.0.0.1\",",
            "name=\"\",port=\"40723\",server_id=\"X\"} 3\n",
            "gnatsd_leafz_conn_in_msgs{account=\"A\",account_id=\"A\",ip=\"127.0.0.1\",",
            "name=\"\",port=\"40722\",server_id=\"X\"} 2\n",
            "gnatsd_leafz_conn_in_msgs{account=\"A\",account_id=\"A\",ip=\"127.0.0.1\",",
            "name=\"\",port=\"7422\",server_id=\"X\"} 1\n",
        )));
        assert!(!text.contains("gnatsd_leafz_conn_subscriptions{"));
    }

    #[test]
    fn leafz_without_links_gives_only_the_count() {
        let text = render(&Sources {
            server_id: "X",
            varz: &varz(),
            connz: &connz(),
            routez: &routez(),
            subsz: &subsz(),
            healthz: &json!({"status":"ok"}),
            accstatz: &accstatz(),
            leafz: &json!({"server_id":"NAUU","leafnodes":0,"leafs":null}),
        });
        let scrape = parse(&text);
        assert_eq!(gauge(&scrape, "gnatsd_leafz_conn_nodes_total"), 0.0);
        assert!(!text.contains("gnatsd_leafz_info") && !text.contains("gnatsd_leafz_conn_rtt"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut doc = varz();
        doc["server_name"] = json!("a\"b\\c\nd");
        let text = render_with("i\"d", &doc, &json!({"status":"ok"}));
        parse(&text);
        assert!(text.contains(
            "\ngnatsd_varz_server_name{server_id=\"i\\\"d\",value=\"a\\\"b\\\\c\\nd\"} 1\n"
        ));
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(
            epoch_millis("2026-11-25T16:16:32.444482375Z"),
            Some(1_795_623_392_444)
        );
        assert_eq!(
            epoch_millis("2000-02-29T23:59:59.9995-05:00"),
            Some(951_886_799_999)
        );
        assert_eq!(epoch_millis("1969-12-31T23:59:59.5Z"), Some(-500));
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2.9.10",
            "2026-11-25 16:16:32Z",
            "2026-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T16:16:32",
            "2026-11-25T16:16:32.Z",
            "2026-11-25T16:16:32+0100",
            "2026-11-25T16:16:32Zx",
        ] {
            assert_eq!(epoch_millis(bad), None, "{bad}");
        }
    }
}
