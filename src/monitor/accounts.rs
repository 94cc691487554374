//! `/accountz` (the accounts, or one account's configuration and counts) and `/accstatz`
//! (per-account connection and message counts), as nats-server 2.9.10 serves them for
//! accounts from the configuration file.

use crate::transform::WeightedMapping;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::params::{BadParam, Query};
use super::subsz::SublistStats;
use super::timefmt::rfc3339_nano;
use crate::options::{AccountOptions, ExportKind, ImportKind, MappingOptions, ResponseType};
use crate::server::{AccountSnapshot, ServerView, Traffic};

/// The global account's name.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// The account called `name`, if the server has it.
pub fn find_account(view: &dyn ServerView, name: &str) -> Option<AccountSnapshot> {
    view.accounts().into_iter().find(|a| &*a.name == name)
}

/// The `/accountz` document: the account names, or the detail of the one `acc` names.
#[derive(Serialize)]
pub struct Accountz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// One account in `/accountz?acc=NAME` (the reference's `AccountInfo` without its JWT
/// fields, which static configuration never fills).
#[derive(Serialize)]
struct AccountInfo {
    account_name: String,
    update_time: String,
    #[serde(skip_serializing_if = "is_false")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    mappings: BTreeMap<String, Vec<MapDest>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExportJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ImportJson>,
    sublist_stats: SublistStats,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    responses: BTreeMap<String, ResponseJson>,
}

/// A request through a service export waiting for its response, by its `_R_.` reply:
/// the requester's account and original reply (the reference's internal import, whose
/// type it prints as the number 2).
#[derive(Serialize)]
struct ResponseJson {
    subject: String,
    account: String,
    to: String,
    #[serde(rename = "type")]
    kind: u8,
    invalid: bool,
    share: bool,
    tracking: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One destination of a mapping; `weight` is cumulative within its cluster's list.
#[derive(Serialize, Debug, PartialEq)]
struct MapDest {
    subject: String,
    weight: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
}

/// An export (the reference's `ExtExport`).
#[derive(Serialize)]
struct ExportJson {
    subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    approved_accounts: Vec<String>,
}

/// An import (the reference's `ExtImport`): a stream import names its local subject, a
/// service import the subject on the exporter's side (`to`).
#[derive(Serialize)]
struct ImportJson {
    subject: String,
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_subject: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    invalid: bool,
    share: bool,
    tracking: bool,
}

/// Builds `/accountz`; an unknown `acc` is the plain-text 400 body.
pub fn accountz(view: &dyn ServerView, query: &Query) -> Result<Accountz, BadParam> {
    let system = view.system_account();
    let mut doc = Accountz {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(SystemTime::now()),
        system_account: system.clone(),
        accounts: Vec::new(),
        account_detail: None,
    };
    match query.get("acc") {
        "" => doc.accounts = view.accounts().iter().map(|a| a.name.to_string()).collect(),
        name => {
            let account = find_account(view, name)
                .ok_or_else(|| BadParam(format!("Account {name} does not exist")))?;
            let settings = view.settings();
            let opts = &settings.opts;
            let configured = opts.accounts.iter().find(|a| a.name == name);
            let mappings = match name {
                GLOBAL_ACCOUNT => &opts.mappings,
                _ => configured.map_or(&[][..], |a| &a.mappings),
            };
            doc.account_detail = Some(AccountInfo {
                account_name: name.to_string(),
                update_time: rfc3339_nano(account.updated),
                is_system: system.as_deref() == Some(name),
                expired: false,
                complete: true,
                jetstream_enabled: false,
                leafnode_connections: 0,
                client_connections: account.clients,
                subscriptions: account.subscriptions.count,
                mappings: mappings
                    .iter()
                    .map(|m| (m.source.clone(), destinations(m)))
                    .collect(),
                exports: configured.map_or_else(Vec::new, exports),
                imports: configured.map_or_else(Vec::new, imports),
                sublist_stats: SublistStats::of_account(&account),
                responses: account
                    .responses
                    .iter()
                    .map(|r| {
                        let json = ResponseJson {
                            subject: r.subject.clone(),
                            account: r.requester.clone(),
                            to: r.reply.clone(),
                            kind: 2,
                            invalid: false,
                            share: false,
                            tracking: false,
                        };
                        (r.subject.clone(), json)
                    })
                    .collect(),
            });
        }
    }
    Ok(doc)
}

/// A mapping's destinations as the reference keeps them (see
/// [`WeightedMapping::cumulative_weights`]).
fn destinations(mapping: &MappingOptions) -> Vec<MapDest> {
    let Ok(weighted) = WeightedMapping::new(&mapping.source, &mapping.destinations) else {
        return Vec::new();
    };
    (weighted.cumulative_weights().into_iter())
        .map(|d| MapDest {
            subject: d.subject,
            weight: u32::from(d.weight),
            cluster: d.cluster,
        })
        .collect()
}

/// The exports: services first, then streams, each in configuration order.
fn exports(account: &AccountOptions) -> Vec<ExportJson> {
    let services = account
        .exports
        .iter()
        .filter(|e| e.kind != ExportKind::Stream);
    let streams = account
        .exports
        .iter()
        .filter(|e| e.kind == ExportKind::Stream);
    services
        .chain(streams)
        .map(|e| {
            let (kind, response_type) = match e.kind {
                ExportKind::Stream => ("stream", None),
                ExportKind::Service { response, .. } => ("service", Some(response_name(response))),
            };
            ExportJson {
                subject: e.subject.clone(),
                kind,
                response_type,
                approved_accounts: e.accounts.clone(),
            }
        })
        .collect()
}

/// The reference's name of a response type.
fn response_name(response: ResponseType) -> &'static str {
    match response {
        ResponseType::Singleton => "Singleton",
        ResponseType::Streamed => "Streamed",
        ResponseType::Chunked => "Chunked",
    }
}

/// The imports: streams first, then services, each in configuration order.
fn imports(account: &AccountOptions) -> Vec<ImportJson> {
    let streams = account
        .imports
        .iter()
        .filter(|i| i.kind == ImportKind::Stream);
    let services = account
        .imports
        .iter()
        .filter(|i| i.kind != ImportKind::Stream);
    streams
        .chain(services)
        .map(|i| {
            let (subject, to, local_subject, kind, share) = match i.kind {
                ImportKind::Stream => (&i.subject, None, Some(i.local.clone()), "stream", false),
                ImportKind::Service { share } => {
                    (&i.local, Some(i.subject.clone()), None, "service", share)
                }
            };
            ImportJson {
                subject: subject.clone(),
                account: i.account.clone(),
                to,
                local_subject,
                kind,
                invalid: false,
                share,
                tracking: false,
            }
        })
        .collect()
}

/// The `/accstatz` document.
#[derive(Serialize)]
pub struct AccountStatz {
    server_id: String,
    now: String,
    account_statz: Vec<AccountStat>,
}

/// One account in `/accstatz`.
#[derive(Serialize)]
struct AccountStat {
    acc: String,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

/// Messages and bytes in `/accstatz`.
#[derive(Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
}

impl From<Traffic> for DataStats {
    fn from(traffic: Traffic) -> DataStats {
        DataStats {
            msgs: traffic.msgs,
            bytes: traffic.bytes,
        }
    }
}

/// Builds `/accstatz`: the accounts with local clients, or all with `unused`. As in 2.9.10,
/// `acc` is not read. Slow consumers are not counted per account (always 0).
pub fn accstatz(view: &dyn ServerView, query: &Query) -> Result<AccountStatz, BadParam> {
    let unused = query.bool("unused")?;
    let account_statz = view
        .accounts()
        .into_iter()
        .filter(|a| unused || a.clients > 0)
        .map(|a| AccountStat {
            acc: a.name.to_string(),
            conns: a.clients,
            leafnodes: 0,
            total_conns: a.clients,
            sent: a.sent.into(),
            received: a.received.into(),
            slow_consumers: 0,
        })
        .collect();
    Ok(AccountStatz {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(SystemTime::now()),
        account_statz,
    })
}

/// A server with accounts, for the tests of the endpoints that read them.
#[cfg(test)]
pub(super) mod fixture {
    use std::time::Duration;

    use crate::options::{
        AccountOptions, ExportKind, ExportOptions, ImportKind, ImportOptions, MappingDestination,
        MappingOptions, Options, ResponseType, User,
    };
    use crate::server::testbed::TestBed;

    fn mapping(source: &str, destinations: &[(&str, u8, Option<&str>)]) -> MappingOptions {
        MappingOptions {
            source: source.into(),
            destinations: destinations
                .iter()
                .map(|&(subject, weight, cluster)| MappingDestination {
                    subject: subject.into(),
                    weight,
                    cluster: cluster.map(Into::into),
                })
                .collect(),
        }
    }

    fn export(subject: &str, service: Option<ResponseType>, accounts: &[&str]) -> ExportOptions {
        ExportOptions {
            subject: subject.into(),
            kind: match service {
                None => ExportKind::Stream,
                Some(response) => ExportKind::Service {
                    response,
                    threshold: Duration::from_secs(120),
                },
            },
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn import(subject: &str, local: &str, kind: ImportKind) -> ImportOptions {
        ImportOptions {
            account: "A".into(),
            subject: subject.into(),
            local: local.into(),
            kind,
        }
    }

    /// The configuration the reference captures were made with:
    ///
    /// ```text
    /// accounts {
    ///   A {
    ///     users = [ {user: a, password: a} ]
    ///     exports = [
    ///       {stream: "events.>"}
    ///       {stream: "private.>", accounts: [B]}
    ///       {service: "svc.stream", response_type: stream}
    ///       {service: "svc.restricted", accounts: [B]}
    ///       {service: "svc.chunk", response: chunked, accounts: [B, C]}
    ///     ]
    ///     mappings {
    ///       "m.some": [ {destination: "m.some.dest", weight: 30} ]
    ///       "m.split": [ {destination: "m.s1", weight: 50}, {destination: "m.s2", weight: 50} ]
    ///       "w.*.x": [ {destination: "w.$1.y", weight: 40},
    ///                  {destination: "w.$1.z", weight: 20, cluster: "east"} ]
    ///     }
    ///   }
    ///   B {
    ///     users = [ {user: b, password: b} ]
    ///     imports = [
    ///       {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
    ///       {stream: {account: A, subject: "private.x"}, to: "priv.x"}
    ///       {service: {account: A, subject: "svc.stream"}, to: "echo"}
    ///       {service: {account: A, subject: "svc.restricted"}}
    ///       {service: {account: A, subject: "svc.chunk"}, share: true}
    ///     ]
    ///   }
    ///   C { users = [ {user: c, password: c} ], mappings { "m.in": "m.out" } }
    /// }
    /// authorization { users = [ {user: g, password: g} ] }
    /// mappings { "g.in": "g.out" }
    /// ```
    pub fn options() -> Options {
        let a = AccountOptions {
            name: "A".into(),
            exports: vec![
                export("events.>", None, &[]),
                export("private.>", None, &["B"]),
                export("svc.stream", Some(ResponseType::Streamed), &[]),
                export("svc.restricted", Some(ResponseType::Singleton), &["B"]),
                export("svc.chunk", Some(ResponseType::Chunked), &["B", "C"]),
            ],
            mappings: vec![
                mapping("m.some", &[("m.some.dest", 30, None)]),
                mapping("m.split", &[("m.s1", 50, None), ("m.s2", 50, None)]),
                mapping(
                    "w.*.x",
                    &[("w.$1.y", 40, None), ("w.$1.z", 20, Some("east"))],
                ),
            ],
            ..AccountOptions::default()
        };
        let service = |share| ImportKind::Service { share };
        let b = AccountOptions {
            name: "B".into(),
            imports: vec![
                import("events.>", "fromA.events.>", ImportKind::Stream),
                import("private.x", "priv.x", ImportKind::Stream),
                import("svc.stream", "echo", service(false)),
                import("svc.restricted", "svc.restricted", service(false)),
                import("svc.chunk", "svc.chunk", service(true)),
            ],
            ..AccountOptions::default()
        };
        let c = AccountOptions {
            name: "C".into(),
            mappings: vec![mapping("m.in", &[("m.out", 100, None)])],
            ..AccountOptions::default()
        };
        let user = |name: &str, account: Option<&str>| User {
            username: name.into(),
            password: Some(name.into()),
            account: account.map(Into::into),
            ..User::default()
        };
        let mut opts = Options {
            accounts: vec![a, b, c],
            mappings: vec![mapping("g.in", &[("g.out", 100, None)])],
            ..Options::default()
        };
        opts.auth.users = vec![
            user("a", Some("A")),
            user("b", Some("B")),
            user("c", Some("C")),
            user("g", None),
        ];
        opts
    }

    /// A client of `user` (whose password is its name) that said CONNECT, then `input`;
    /// its output is consumed.
    pub fn client(bed: &mut TestBed, user: &str, input: &str) -> usize {
        let c = bed.client();
        let connect = format!(
            "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false}}\r\n{input}"
        );
        bed.feed(c, &connect);
        bed.take_output(c);
        c
    }

    /// The fixture's server with traffic: `a` subscribes `foo` and `svc.stream` and
    /// publishes 5 bytes on `foo`; `b` subscribes 3 subjects; `g` (in `$G`) subscribes `foo`
    /// and publishes 2 bytes on it; a second `a` publishes 3 bytes; `c` subscribed `bar` and
    /// hung up (the capture's traffic).
    pub fn busy() -> TestBed {
        let mut bed = TestBed::new(options());
        client(
            &mut bed,
            "a",
            "SUB foo 1\r\nSUB svc.stream 2\r\nPUB foo 5\r\nhello\r\n",
        );
        client(
            &mut bed,
            "b",
            "SUB foo 1\r\nSUB fromA.> 2\r\nSUB q.x grp 3\r\n",
        );
        client(&mut bed, "g", "SUB foo 1\r\nPUB foo 2\r\nhi\r\n");
        client(&mut bed, "a", "PUB events.x 3\r\nev1\r\n");
        let c = client(&mut bed, "c", "SUB bar 1\r\n");
        bed.publish_counts();
        bed.hang_up(c);
        bed
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::busy;
    use super::*;
    use crate::monitor::json::to_indented;
    use crate::options::MappingDestination;
    use crate::server::testbed::TestBed;

    /// The detail of `name` as JSON text, its update time replaced by `T`.
    fn detail(view: &dyn ServerView, name: &str) -> String {
        let doc = accountz(view, &Query::parse(&format!("acc={name}"))).expect("an account");
        let updated = doc
            .account_detail
            .as_ref()
            .expect("a detail")
            .update_time
            .clone();
        assert!(updated.ends_with('Z'), "{updated}");
        to_indented(&doc.account_detail).replace(&updated, "T")
    }

    #[test]
    fn the_list_names_every_account_in_creation_order() {
        let bed = TestBed::new(fixture::options());
        let doc = accountz(&bed.view(), &Query::parse("")).unwrap();
        assert_eq!(doc.accounts, ["$G", "A", "B", "C", "$SYS"]);
        let text = to_indented(&doc);
        assert!(text.contains("\n  \"system_account\": \"$SYS\",\n  \"accounts\": [\n"));
        assert!(!text.contains("account_detail"), "{text}");

        let mut opts = fixture::options();
        opts.no_system_account = true;
        let bed = TestBed::new(opts);
        let text = to_indented(&accountz(&bed.view(), &Query::parse("acc=")).unwrap());
        assert!(!text.contains("system_account"), "{text}");
        assert!(text
            .ends_with("\"accounts\": [\n    \"$G\",\n    \"A\",\n    \"B\",\n    \"C\"\n  ]\n}"));
    }

    #[test]
    fn an_unknown_account_is_a_bad_request() {
        let bed = TestBed::new(fixture::options());
        for name in ["NOPE", "a", "$g"] {
            assert_eq!(
                accountz(&bed.view(), &Query::parse(&format!("acc={name}"))).err(),
                Some(BadParam(format!("Account {name} does not exist")))
            );
        }
    }

    /// Exports and mappings as 2.9.10 writes them (captured; the order of its service
    /// exports changes from run to run, natsd keeps the configuration's). B's `fromA.>`
    /// has its shadow in A's table, counted there as the reference counts it.
    #[test]
    fn the_detail_of_an_exporting_account() {
        let bed = busy();
        let expected = r#"{
  "account_name": "A",
  "update_time": "T",
  "expired": false,
  "complete": true,
  "jetstream_enabled": false,
  "leafnode_connections": 0,
  "client_connections": 2,
  "subscriptions": 3,
  "mappings": {
    "m.some": [
      {
        "subject": "m.some.dest",
        "weight": 30
      },
      {
        "subject": "m.some",
        "weight": 100
      }
    ],
    "m.split": [
      {
        "subject": "m.s1",
        "weight": 50
      },
      {
        "subject": "m.s2",
        "weight": 100
      }
    ],
    "w.*.x": [
      {
        "subject": "w.$1.y",
        "weight": 40
      },
      {
        "subject": "w.$1.x",
        "weight": 100
      },
      {
        "subject": "w.$1.z",
        "weight": 20,
        "cluster": "east"
      },
      {
        "subject": "w.$1.x",
        "weight": 100,
        "cluster": "east"
      }
    ]
  },
  "exports": [
    {
      "subject": "svc.stream",
      "type": "service",
      "response_type": "Streamed"
    },
    {
      "subject": "svc.restricted",
      "type": "service",
      "response_type": "Singleton",
      "approved_accounts": [
        "B"
      ]
    },
    {
      "subject": "svc.chunk",
      "type": "service",
      "response_type": "Chunked",
      "approved_accounts": [
        "B",
        "C"
      ]
    },
    {
      "subject": "events.\u003e",
      "type": "stream"
    },
    {
      "subject": "private.\u003e",
      "type": "stream",
      "approved_accounts": [
        "B"
      ]
    }
  ],
  "sublist_stats": {
    "num_subscriptions": 3,
    "num_cache": 0,
    "num_inserts": 3,
    "num_removes": 0,
    "num_matches": 0,
    "cache_hit_rate": 0,
    "max_fanout": 0,
    "avg_fanout": 0
  }
}"#;
        assert_eq!(detail(&bed.view(), "A"), expected);
    }

    /// Imports as 2.9.10 writes them (captured, without its implicit `$SYS` imports):
    /// streams first, then services.
    #[test]
    fn the_detail_of_an_importing_account() {
        let bed = busy();
        let expected = r#"{
  "account_name": "B",
  "update_time": "T",
  "expired": false,
  "complete": true,
  "jetstream_enabled": false,
  "leafnode_connections": 0,
  "client_connections": 1,
  "subscriptions": 3,
  "imports": [
    {
      "subject": "events.\u003e",
      "account": "A",
      "local_subject": "fromA.events.\u003e",
      "type": "stream",
      "invalid": false,
      "share": false,
      "tracking": false
    },
    {
      "subject": "private.x",
      "account": "A",
      "local_subject": "priv.x",
      "type": "stream",
      "invalid": false,
      "share": false,
      "tracking": false
    },
    {
      "subject": "echo",
      "account": "A",
      "to": "svc.stream",
      "type": "service",
      "invalid": false,
      "share": false,
      "tracking": false
    },
    {
      "subject": "svc.restricted",
      "account": "A",
      "to": "svc.restricted",
      "type": "service",
      "invalid": false,
      "share": false,
      "tracking": false
    },
    {
      "subject": "svc.chunk",
      "account": "A",
      "to": "svc.chunk",
      "type": "service",
      "invalid": false,
      "share": true,
      "tracking": false
    }
  ],
  "sublist_stats": {
    "num_subscriptions": 3,
    "num_cache": 0,
    "num_inserts": 3,
    "num_removes": 0,
    "num_matches": 0,
    "cache_hit_rate": 0,
    "max_fanout": 0,
    "avg_fanout": 0
  }
}"#;
        assert_eq!(detail(&bed.view(), "B"), expected);
    }

    /// A streamed request stays pending in the exporter, as the reference lists it.
    #[test]
    fn pending_responses_of_an_exporter() {
        let mut bed = busy();
        super::fixture::client(
            &mut bed,
            "b",
            "SUB _INBOX.r 9\r\nPUB echo _INBOX.r 1\r\nq\r\n",
        );
        let text = detail(&bed.view(), "A");
        let start = text.find("\"responses\"").expect("responses");
        let reply = text[start..].split('"').nth(3).unwrap().to_string();
        assert!(reply.starts_with("_R_.") && reply.len() == 17, "{text}");
        let expected = format!(
            "\"responses\": {{\n    \"{reply}\": {{\n      \"subject\": \"{reply}\",\n      \
             \"account\": \"B\",\n      \"to\": \"_INBOX.r\",\n      \"type\": 2,\n      \
             \"invalid\": false,\n      \"share\": false,\n      \"tracking\": false\n    }}\n  }}\n}}"
        );
        assert_eq!(&text[start..], expected);
        assert!(!detail(&bed.view(), "B").contains("responses"));
    }

    #[test]
    fn global_and_system_accounts() {
        let bed = busy();
        let global = detail(&bed.view(), "$G");
        assert!(
            global.starts_with(concat!(
            "{\n  \"account_name\": \"$G\",\n  \"update_time\": \"T\",\n  \"expired\": false,\n",
            "  \"complete\": true,\n  \"jetstream_enabled\": false,\n",
            "  \"leafnode_connections\": 0,\n  \"client_connections\": 1,\n",
            "  \"subscriptions\": 1,\n  \"mappings\": {\n    \"g.in\": [\n      {\n",
            "        \"subject\": \"g.out\",\n        \"weight\": 100\n      }\n    ]\n  },\n",
            "  \"sublist_stats\": {\n"
        )),
            "{global}"
        );
        let system = detail(&bed.view(), "$SYS");
        assert!(
            system.starts_with(concat!(
                "{\n  \"account_name\": \"$SYS\",\n  \"update_time\": \"T\",\n",
                "  \"is_system\": true,\n  \"expired\": false,\n"
            )),
            "{system}"
        );
        assert!(!system.contains("mappings") && !system.contains("exports"));
        assert!(!detail(&bed.view(), "C").contains("is_system"));
    }

    #[test]
    fn mapping_weights_add_up_with_the_source_as_the_remainder() {
        let dest = |subject: &str, weight, cluster: Option<&str>| MapDest {
            subject: subject.into(),
            weight,
            cluster: cluster.map(Into::into),
        };
        let mapping = |source: &str, dests: &[(&str, u8, Option<&str>)]| MappingOptions {
            source: source.into(),
            destinations: dests
                .iter()
                .map(|&(subject, weight, cluster)| MappingDestination {
                    subject: subject.into(),
                    weight,
                    cluster: cluster.map(Into::into),
                })
                .collect(),
        };
        // Ordered by weight (ties keep their order), then summed.
        assert_eq!(
            destinations(&mapping(
                "s",
                &[("x", 60, None), ("y", 10, None), ("z", 30, None)]
            )),
            [
                dest("y", 10, None),
                dest("z", 40, None),
                dest("x", 100, None)
            ]
        );
        // The source as a destination: no remainder (the reference's "loss").
        assert_eq!(
            destinations(&mapping("s", &[("s", 20, None), ("x", 30, None)])),
            [dest("s", 20, None), dest("x", 50, None)]
        );
        // Only cluster destinations: the source takes all of the others.
        assert_eq!(
            destinations(&mapping("a.*.*.>", &[("b.$2.$1.>", 100, Some("c1"))])),
            [
                dest("a.$1.$2.>", 100, None),
                dest("b.$2.$1.>", 100, Some("c1"))
            ]
        );
    }

    #[test]
    fn accstatz_counts_each_accounts_clients_and_traffic() {
        let bed = busy();
        let view = bed.view();
        let used = accstatz(&view, &Query::parse("acc=C")).unwrap();
        let names: Vec<&str> = used.account_statz.iter().map(|a| a.acc.as_str()).collect();
        assert_eq!(names, ["$G", "A", "B"], "acc= is not read, as in 2.9.10");
        let all = accstatz(&view, &Query::parse("unused=true")).unwrap();
        let names: Vec<&str> = all.account_statz.iter().map(|a| a.acc.as_str()).collect();
        assert_eq!(names, ["$G", "A", "B", "C", "$SYS"]);
        let text = to_indented(&all.account_statz[1]);
        assert_eq!(
            text,
            r#"{
  "acc": "A",
  "conns": 2,
  "leafnodes": 0,
  "total_conns": 2,
  "sent": {
    "msgs": 1,
    "bytes": 5
  },
  "received": {
    "msgs": 2,
    "bytes": 8
  },
  "slow_consumers": 0
}"#
        );
        let empty = to_indented(
            &accstatz(&TestBed::new(Default::default()).view(), &Query::parse("")).unwrap(),
        );
        assert!(empty.ends_with("\"account_statz\": []\n}"), "{empty}");
        assert_eq!(
            accstatz(&view, &Query::parse("unused=maybe")).err(),
            Some(BadParam(
                "Error decoding boolean for 'unused': strconv.ParseBool: parsing \"maybe\": invalid syntax"
                    .into()
            ))
        );
    }
}
