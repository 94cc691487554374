//! `/connz`: client connections, open or closed, filtered, sorted and paged as nats-server
//! 2.9 does it (including its quirks: `total` counts before filtering, `cid` with
//! `state=any` looks only at closed connections).

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::accounts::{find_account, GLOBAL_ACCOUNT};
use super::params::{BadParam, ConnState, Query, SubsOption};
use super::subsz::{sub_lists, SubDetail};
use super::timefmt::{rfc3339_nano, rtt, uptime};
use crate::server::{AccountSnapshot, ConnInfo, ServerView, TlsPeerCert};

/// Connections listed when `limit` is absent or not positive.
const DEFAULT_LIMIT: i64 = 1024;

/// The `/connz` document.
#[derive(Serialize)]
pub struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: i64,
    limit: i64,
    connections: Option<Vec<ConnJson>>,
}

/// One connection in `/connz` (the reference's `ConnInfo`, in its field order).
#[derive(Serialize)]
struct ConnJson {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    client_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    tls_version: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    tls_cipher_suite: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tls_peer_certs: Vec<PeerCertJson>,
    #[serde(skip_serializing_if = "str::is_empty")]
    authorized_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
}

/// A client certificate in `/connz?auth=1` (the reference's `TLSPeerCert`).
#[derive(Serialize)]
struct PeerCertJson {
    #[serde(skip_serializing_if = "str::is_empty")]
    subject: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    spki_sha256: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    cert_sha256: String,
}

/// How `/connz` orders connections before paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cid,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
}

impl SortBy {
    fn parse(text: &str) -> Result<SortBy, BadParam> {
        Ok(match text {
            "" | "cid" | "start" => SortBy::Cid,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            other => return Err(BadParam(format!("invalid sorting option: {other}"))),
        })
    }

    /// Sorts stably (ties keep cid order).
    fn sort(self, conns: &mut [Arc<ConnInfo>], now: SystemTime) {
        let since = |later: SystemTime, earlier: SystemTime| {
            later.duration_since(earlier).unwrap_or(Duration::ZERO)
        };
        match self {
            SortBy::Cid => conns.sort_by_key(|c| c.cid),
            SortBy::Subs => conns.sort_by_key(|c| Reverse(c.subscriptions)),
            SortBy::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
            SortBy::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
            SortBy::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
            SortBy::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
            SortBy::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
            SortBy::Last => conns.sort_by_key(|c| Reverse(c.last_activity)),
            // 2.9 sorts "idle" by the active span, last activity minus start.
            SortBy::Idle => conns.sort_by_key(|c| Reverse(since(c.last_activity, c.start))),
            SortBy::Uptime => conns.sort_by_key(|c| since(end_of(c, now), c.start)),
            SortBy::Stop => conns.sort_by_key(|c| Reverse(c.closed.map(|(at, _)| at))),
            SortBy::Reason => conns.sort_by(|a, b| reason_of(a).cmp(reason_of(b))),
        }
    }
}

/// A closed connection's stop time, else `now`.
fn end_of(conn: &ConnInfo, now: SystemTime) -> SystemTime {
    conn.closed.map_or(now, |(at, _)| at)
}

fn reason_of(conn: &ConnInfo) -> &str {
    conn.closed.map_or("", |(_, reason)| reason)
}

/// The decoded `/connz` parameters.
pub struct ConnzQuery {
    sort: String,
    auth: bool,
    subs: SubsOption,
    offset: i64,
    limit: i64,
    cid: u64,
    state: ConnState,
    user: String,
    account: String,
    mqtt_client: String,
}

impl ConnzQuery {
    /// Decodes in the reference's order; the first failure is the plain-text 400 body.
    pub fn decode(query: &Query) -> Result<ConnzQuery, BadParam> {
        let sort_text = query.get("sort");
        let auth = query.bool("auth")?;
        let subs = query.subs()?;
        let offset = query.int("offset")?;
        let limit = query.int("limit")?;
        let cid = query.uint64("cid")?;
        let state = query.state()?;
        Ok(ConnzQuery {
            sort: sort_text.to_string(),
            auth,
            subs,
            offset,
            limit,
            cid,
            state,
            user: query.get("user").to_string(),
            account: query.get("acc").to_string(),
            mqtt_client: query.get("mqtt_client").to_string(),
        })
    }
}

/// Builds `/connz` for decoded parameters; an option error is the plain-text 400 body.
pub fn connz(view: &dyn ServerView, q: &ConnzQuery) -> Result<Connz, BadParam> {
    let sort = SortBy::parse(&q.sort)?;
    let offset = q.offset.max(0);
    let mut limit = if q.limit <= 0 { DEFAULT_LIMIT } else { q.limit };
    if q.state != ConnState::Closed {
        for (by, name) in [(SortBy::Stop, "stop"), (SortBy::Reason, "reason")] {
            if sort == by {
                return Err(BadParam(format!(
                    "sort by {name} only valid on closed connections"
                )));
            }
        }
    }
    if q.cid > 0 {
        limit = 1;
    }
    let now = SystemTime::now();
    let server_id = view.settings().info.server_id.clone();
    let account = match q.account.as_str() {
        "" => None,
        name => match find_account(view, name) {
            Some(account) => Some(account),
            // An unknown account: the reference's half-filled answer.
            None => {
                return Ok(Connz {
                    server_id: String::new(),
                    now: rfc3339_nano(now),
                    num_connections: 0,
                    total: 0,
                    offset,
                    limit,
                    connections: None,
                })
            }
        },
    };
    let with_subs = q.subs != SubsOption::None;
    let (mut conns, total) = select(view, q, with_subs, account.as_ref());
    conns.retain(|c| (q.user.is_empty() || c.meta.user == q.user) && q.mqtt_client.is_empty());
    sort.sort(&mut conns, now);
    let len = conns.len() as i64;
    let (from, to) = (offset.min(len), offset.saturating_add(limit).min(len));
    let connections: Vec<ConnJson> = conns[from as usize..to as usize]
        .iter()
        .map(|c| ConnJson::of(c, now, q.subs, q.auth))
        .collect();
    Ok(Connz {
        server_id,
        now: rfc3339_nano(now),
        num_connections: connections.len(),
        total,
        offset,
        limit,
        connections: Some(connections),
    })
}

/// The connections of the requested state (or the one `cid`) bound to `account` when
/// given, and `total` as the reference counts it: before the cid and user filters.
///
/// As in the reference, an open connection asked for by cid is found whatever its account.
fn select(
    view: &dyn ServerView,
    q: &ConnzQuery,
    with_subs: bool,
    account: Option<&AccountSnapshot>,
) -> (Vec<Arc<ConnInfo>>, usize) {
    let in_account = |c: &ConnInfo| account.is_none_or(|a| c.account.as_ref() == Some(&a.name));
    let open_total = || account.map_or_else(|| view.client_count(), |a| a.clients);
    let open = || -> Vec<Arc<ConnInfo>> {
        match q.cid {
            0 => view
                .open_clients(with_subs)
                .into_iter()
                .filter(|c| in_account(c))
                .map(Arc::new)
                .collect(),
            cid => view
                .open_client(cid, with_subs)
                .into_iter()
                .map(Arc::new)
                .collect(),
        }
    };
    // The closed connections (of the account) before the cid filter counts them.
    let closed = || -> (Vec<Arc<ConnInfo>>, usize) {
        let mut closed = view.closed_clients();
        closed.retain(|c| in_account(c));
        let total = closed.len();
        if q.cid > 0 {
            closed.retain(|c| c.cid == q.cid);
            closed.truncate(1);
        }
        (closed, total)
    };
    match q.state {
        ConnState::Open => (open(), open_total()),
        ConnState::Closed => closed(),
        ConnState::Any if q.cid > 0 => {
            let (closed, closed_total) = closed();
            (closed, open_total() + closed_total)
        }
        ConnState::Any => {
            let mut all = open();
            let (closed, closed_total) = closed();
            let total = all.len() + closed_total;
            all.extend(closed);
            (all, total)
        }
    }
}

impl PeerCertJson {
    fn of(cert: &TlsPeerCert) -> PeerCertJson {
        PeerCertJson {
            subject: cert.subject.clone(),
            spki_sha256: cert.spki_sha256.clone(),
            cert_sha256: cert.cert_sha256.clone(),
        }
    }
}

impl ConnJson {
    fn of(c: &ConnInfo, now: SystemTime, subs: SubsOption, auth: bool) -> ConnJson {
        let end = end_of(c, now);
        let since = |earlier: SystemTime| end.duration_since(earlier).unwrap_or_default();
        let (list, detail) = sub_lists(&c.subs, subs, c.closed.is_some());
        ConnJson {
            cid: c.cid,
            kind: c.kind,
            // The reference names the client type of clients only.
            client_type: if c.kind == "Client" { "nats" } else { "" },
            ip: c.ip.to_string(),
            port: c.port,
            start: rfc3339_nano(c.start),
            last_activity: rfc3339_nano(c.last_activity),
            stop: c.closed.map(|(at, _)| rfc3339_nano(at)),
            reason: c.closed.map(|(_, reason)| reason),
            rtt: rtt(c.rtt),
            uptime: uptime(since(c.start)),
            idle: uptime(since(c.last_activity)),
            pending_bytes: c.pending_bytes,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subscriptions,
            name: c.meta.name.clone(),
            lang: c.meta.lang.clone(),
            version: c.meta.version.clone(),
            tls_version: c.meta.tls_version,
            tls_cipher_suite: c.meta.tls_cipher,
            tls_peer_certs: match auth {
                true => c.meta.tls_peer_certs.iter().map(PeerCertJson::of).collect(),
                false => Vec::new(),
            },
            authorized_user: match auth {
                true => c.meta.authorized_user.clone(),
                false => String::new(),
            },
            account: c
                .account
                .as_deref()
                .filter(|name| auth && *name != GLOBAL_ACCOUNT)
                .map(str::to_string),
            subscriptions_list: list,
            subscriptions_list_detail: detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::accounts::fixture::busy;
    use super::super::json::to_indented;
    use super::*;

    /// `/connz` as JSON text and as a value.
    fn get(view: &dyn ServerView, query: &str) -> (String, serde_json::Value) {
        let q = ConnzQuery::decode(&Query::parse(query)).expect("decoded");
        let text = to_indented(&connz(view, &q).expect("a connz"));
        let value = serde_json::from_str(&text).expect("JSON");
        (text, value)
    }

    fn cids(doc: &serde_json::Value) -> Vec<u64> {
        let conns = doc["connections"].as_array().expect("connections");
        conns.iter().map(|c| c["cid"].as_u64().unwrap()).collect()
    }

    #[test]
    fn acc_keeps_the_clients_of_one_account() {
        let bed = busy();
        let view = bed.view();
        let cid_of = |user: &str| -> Vec<u64> {
            let conns = view.open_clients(false);
            let of_user = conns.iter().filter(|c| c.meta.user == user);
            of_user.map(|c| c.cid).collect()
        };
        let (text, a) = get(&view, "acc=A&auth=1");
        assert_eq!(cids(&a), cid_of("a"));
        assert_eq!((&a["total"], &a["num_connections"]), (&2.into(), &2.into()));
        assert!(
            text.contains("\"authorized_user\": \"a\",\n      \"account\": \"A\"\n    }"),
            "{text}"
        );
        let (_, global) = get(&view, "acc=$G&auth=1");
        assert_eq!(cids(&global), cid_of("g"));
        assert!(
            global["connections"][0].get("account").is_none(),
            "never $G"
        );
        let (text, _) = get(&view, "acc=B");
        assert!(!text.contains("\"account\""), "only with auth: {text}");
        let (_, all) = get(&view, "auth=1");
        let accounts: Vec<&str> = all["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["account"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(accounts, ["A", "B", "-", "A"]);
        // As 2.9.10: no filter on the user, counted before it.
        let (_, none) = get(&view, "acc=A&user=g");
        assert_eq!((&none["total"], cids(&none)), (&2.into(), vec![]));
        // As 2.9.10: an open connection asked for by cid is found in any account.
        let g = cid_of("g")[0];
        let (_, quirk) = get(&view, &format!("acc=A&cid={g}"));
        assert_eq!((&quirk["total"], cids(&quirk)), (&2.into(), vec![g]));
    }

    #[test]
    fn closed_connections_keep_their_account() {
        let bed = busy();
        let view = bed.view();
        let (text, c) = get(&view, "acc=C&state=closed&auth=1&subs=detail");
        assert_eq!(c["total"], 1);
        let closed = &c["connections"][0];
        assert_eq!(closed["account"], "C");
        assert_eq!(closed["subscriptions_list_detail"][0]["account"], "C");
        assert!(text.contains("\"authorized_user\": \"c\",\n      \"account\": \"C\",\n"));
        let (_, any) = get(&view, "acc=C&state=any");
        assert_eq!((&any["total"], cids(&any)), (&1.into(), cids(&c)));
        let (_, other) = get(&view, "acc=A&state=closed");
        assert_eq!((&other["total"], cids(&other)), (&0.into(), vec![]));
        let (_, any_a) = get(&view, "acc=A&state=any");
        assert_eq!(any_a["total"], 2);
    }

    #[test]
    fn an_unknown_account_gets_the_half_filled_answer() {
        let bed = busy();
        let (text, _) = get(&bed.view(), "acc=NOPE&limit=5&offset=2");
        let (head, tail) = text.split_once("\n  \"now\": ").unwrap();
        assert_eq!(head, "{\n  \"server_id\": \"\",");
        let tail = tail.split_once('\n').unwrap().1;
        assert_eq!(
            tail,
            "  \"num_connections\": 0,\n  \"total\": 0,\n  \"offset\": 2,\n  \"limit\": 5,\n  \"connections\": null\n}"
        );
    }

    #[test]
    fn sort_keys_as_the_reference_names_them() {
        assert_eq!(SortBy::parse(""), Ok(SortBy::Cid));
        assert_eq!(SortBy::parse("start"), Ok(SortBy::Cid));
        assert_eq!(SortBy::parse("bytes_from"), Ok(SortBy::BytesFrom));
        assert_eq!(
            SortBy::parse("rtt"),
            Err(BadParam("invalid sorting option: rtt".into()))
        );
        assert!(
            SortBy::parse("CID").is_err(),
            "sort keys are case-sensitive"
        );
    }
}
