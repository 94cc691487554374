//! Service imports at runtime: the request path (a client of the importer publishes on the
//! import's local subject: the message becomes a request in the exporter, with a
//! `Nats-Request-Info` header and a `_R_.` reply of the exporter's own) and the response
//! path (an answer on that `_R_.` subject, from a local client or a route, goes to the
//! requester's original reply in the importer).
//!
//! Each exporter account keeps its pending responses ([`Responses`]) under a reply prefix
//! `_R_.<P>.` made on first use, which routes are told about once (`RS+ <E> _R_.<P>.>`) so
//! that answers given on other servers come back here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::account::{Account, Mapped};
use super::conn::{ConnShared, Role};
use super::deliver::{self, LazySizes, Message};
use super::imports::ServiceImport;
use super::turn::Turn;
use crate::options::ResponseType;

/// Reply subjects the server makes for requests start with this.
const REPLY_ROOT: &[u8] = b"_R_.";
/// Random characters in the prefix and in each reply token.
const TOKEN_LEN: usize = 6;
const TOKEN_CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Service imports followed through exporters that import further, at most.
const MAX_CHAIN: usize = 8;
const REQUEST_INFO: &[u8] = b"Nats-Request-Info:";

/// The responses an exporter account waits for.
#[derive(Default)]
pub struct Responses {
    /// `_R_.<P>.`, made on the first request that needs it.
    prefix: OnceLock<Box<[u8]>>,
    /// Some response is pending (a lock-free test for every publication in the account).
    active: AtomicBool,
    pending: Mutex<HashMap<Box<[u8]>, Pending>>,
}

/// One request waiting for its response(s).
struct Pending {
    /// The requester's account and original reply subject.
    requester: Arc<Account>,
    reply: Box<[u8]>,
    kind: ResponseType,
    threshold: Duration,
    /// The request, or the last streamed response.
    at: Instant,
}

/// A pending response as `/accountz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingResponse {
    pub subject: String,
    pub requester: String,
    pub reply: String,
}

impl Responses {
    /// Whether some response may be pending.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The pending responses, for the monitor.
    pub fn list(&self) -> Vec<PendingResponse> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .iter()
            .filter(|(_, p)| p.at.elapsed() <= p.threshold)
            .map(|(subject, p)| PendingResponse {
                subject: text(subject),
                requester: p.requester.name.to_string(),
                reply: text(&p.reply),
            })
            .collect()
    }

    /// A new reply subject for a request from `requester` answering to `reply`; on the
    /// first one, the prefix is made and announced to the routes.
    fn track(
        &self,
        turn: &mut Turn,
        exporter: &Account,
        requester: &Arc<Account>,
        reply: &[u8],
        import: &ServiceImport,
    ) -> Box<[u8]> {
        let prefix = self.prefix.get_or_init(|| {
            let mut prefix = REPLY_ROOT.to_vec();
            prefix.extend(random_token(turn));
            prefix.push(b'.');
            let mut interest = prefix.clone();
            interest.push(b'>');
            if let Some(cluster) = &turn.shared.cluster {
                cluster.local_interest(&turn.shared, &exporter.name, &interest, None, true);
            }
            prefix.into()
        });
        let mut subject = prefix.to_vec();
        subject.extend(random_token(turn));
        let subject: Box<[u8]> = subject.into();
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| now.duration_since(p.at) <= p.threshold);
        pending.insert(
            subject.clone(),
            Pending {
                requester: requester.clone(),
                reply: reply.into(),
                kind: import.response,
                threshold: import.threshold,
                at: now,
            },
        );
        self.active.store(true, Ordering::Relaxed);
        subject
    }

    /// Forgets the requests of `requester` whose reply subject no subscription of the
    /// requester's account matches any more.
    fn forget_unreachable(&self, requester: &Account) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| {
            p.requester.index != requester.index || requester.sublist.matches_any(&p.reply)
        });
        self.active.store(!pending.is_empty(), Ordering::Relaxed);
    }

    /// Forgets a request nobody received.
    fn forget(&self, subject: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.remove(subject);
        self.active.store(!pending.is_empty(), Ordering::Relaxed);
    }

    /// The requester of a response published on `subject`, updating or ending the entry
    /// as its response type says. `None`: not one of ours, expired or already answered.
    fn take(&self, subject: &[u8], empty: bool) -> Option<(Arc<Account>, Box<[u8]>)> {
        let prefix = self.prefix.get()?;
        if !subject.starts_with(prefix) {
            return None;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.get_mut(subject)?;
        let now = Instant::now();
        let expired = now.duration_since(entry.at) > entry.threshold;
        let found = (!expired).then(|| (entry.requester.clone(), entry.reply.clone()));
        let done = expired
            || match entry.kind {
                ResponseType::Singleton => true,
                ResponseType::Streamed => false,
                ResponseType::Chunked => empty,
            };
        entry.at = now;
        if done {
            pending.remove(subject);
            self.active.store(!pending.is_empty(), Ordering::Relaxed);
        }
        found
    }
}

/// Six random characters of `0-9A-Za-z`.
fn random_token(turn: &mut Turn) -> impl Iterator<Item = u8> {
    let mut bits = turn.random();
    (0..TOKEN_LEN).map(move |_| {
        let c = TOKEN_CHARS[(bits % TOKEN_CHARS.len() as u64) as usize];
        bits /= TOKEN_CHARS.len() as u64;
        c
    })
}

/// A client of `importer` published `msg`: when it matches one of the account's service
/// imports, delivers it as a request in the exporter (and on through the exporter's own
/// imports). Returns whether an import took it (the requester then gets no 503).
#[cold]
#[inline(never)]
pub fn request(
    turn: &mut Turn,
    importer: &Arc<Account>,
    publisher: &ConnShared,
    msg: &Message<'_>,
) -> bool {
    let mut chain = Chain {
        requester: importer.clone(),
        through: Vec::new(),
    };
    forward_request(turn, importer, publisher, msg, &mut chain)
}

/// The accounts a request went through.
struct Chain {
    requester: Arc<Account>,
    /// The importers after the first, and the exporters passed, for the loop guard.
    through: Vec<Arc<Account>>,
}

fn forward_request(
    turn: &mut Turn,
    importer: &Arc<Account>,
    publisher: &ConnShared,
    msg: &Message<'_>,
    chain: &mut Chain,
) -> bool {
    let imports = importer.imports();
    let Some(import) = imports.service_for(msg.subject) else {
        return false;
    };
    let exporter = &import.exporter;
    let looped = chain.through.iter().any(|a| import.exports_from(a))
        || import.exports_from(&chain.requester);
    if looped || chain.through.len() >= MAX_CHAIN {
        return true;
    }
    let mut subject = import.remote_subject(msg.subject);
    if exporter.has_mappings() {
        let roll = (turn.random() % 100) as u8;
        let cluster = turn.settings.opts.cluster.name.as_deref();
        match exporter.map_subject(&subject, roll, cluster) {
            Mapped::Unchanged => {}
            Mapped::To(to) => subject = to,
            Mapped::Dropped => return true,
        }
    }
    let reply = msg.reply.map(|reply| {
        exporter
            .responses
            .track(turn, exporter, importer, reply, import)
    });
    let info = request_info(turn, chain, importer, publisher, import.share);
    let data = with_request_info(msg, &info);
    let header_len = data.len() - payload(msg).len();
    let (header_size, total_size) = (header_len.to_string(), data.len().to_string());
    let request = Message {
        subject: &subject,
        reply: reply.as_deref(),
        header_len: Some(header_len),
        data: &data,
        sizes: LazySizes::with(header_size.as_bytes(), total_size.as_bytes()),
        via_service: true,
    };
    let delivered = deliver::deliver(turn, exporter, publisher, true, &request, None);
    if delivered == 0 {
        if let Some(reply) = &reply {
            exporter.responses.forget(reply);
        }
    }
    if exporter.has_service_imports() {
        chain.through.push(importer.clone());
        chain.through.push(exporter.clone());
        forward_request(turn, exporter, publisher, &request, chain);
    }
    true
}

/// A subscription of `importer` went: the requests it made through service imports whose
/// replies nobody in it can receive any more are forgotten (as the reference does when
/// the requester loses interest), rather than waiting for the response threshold.
pub fn subscription_gone(importer: &Account) {
    if !importer.has_service_imports() {
        return;
    }
    let imports = importer.imports();
    for (i, import) in imports.services.iter().enumerate() {
        let seen = imports.services[..i]
            .iter()
            .any(|earlier| earlier.exports_from(&import.exporter));
        if !seen && import.exporter.responses.active() {
            import.exporter.responses.forget_unreachable(importer);
        }
    }
}

/// A message published (or routed) in `exporter` on one of its `_R_.` reply subjects:
/// delivered to the requester's original reply in the requester's account.
#[cold]
#[inline(never)]
pub fn respond(turn: &mut Turn, exporter: &Account, publisher: &ConnShared, msg: &Message<'_>) {
    let empty = payload(msg).is_empty();
    let Some((requester, reply)) = exporter.responses.take(msg.subject, empty) else {
        return;
    };
    let response = Message {
        subject: &reply,
        reply: msg.reply,
        header_len: msg.header_len,
        data: msg.data,
        sizes: msg.sizes.copied(),
        via_service: true,
    };
    // A response that came over a route goes to local subscribers only.
    let local_only: Option<&[u8]> = (publisher.role == Role::Route).then_some(b"");
    deliver::deliver(turn, &requester, publisher, true, &response, local_only);
}

/// The payload of a message, without its headers.
fn payload<'a>(msg: &Message<'a>) -> &'a [u8] {
    &msg.data[msg.header_len.unwrap_or(0)..]
}

/// The message's header block with `Nats-Request-Info: <info>` (replacing one it had),
/// followed by its payload.
fn with_request_info(msg: &Message<'_>, info: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(msg.data.len() + info.len() + 40);
    match msg.header_len {
        Some(len) => {
            let block = &msg.data[..len];
            let block = block.strip_suffix(b"\r\n\r\n").unwrap_or(block);
            let mut lines = block.split(|&b| b == b'\n');
            if let Some(status) = lines.next() {
                data.extend_from_slice(status);
                data.push(b'\n');
            }
            for line in lines {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let named = line.len() >= REQUEST_INFO.len()
                    && line[..REQUEST_INFO.len()].eq_ignore_ascii_case(REQUEST_INFO);
                if !named {
                    data.extend_from_slice(line);
                    data.extend_from_slice(b"\r\n");
                }
            }
        }
        None => data.extend_from_slice(b"NATS/1.0\r\n"),
    }
    data.extend_from_slice(REQUEST_INFO);
    data.push(b' ');
    data.extend_from_slice(info.as_bytes());
    data.extend_from_slice(b"\r\n\r\n");
    data.extend_from_slice(payload(msg));
    data
}

/// The reference's `ClientInfo` as `Nats-Request-Info` carries it (compact, empty fields
/// left out).
#[derive(Serialize, Default)]
struct RequestInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "is_zero")]
    id: u64,
    acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    svc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ver: String,
    #[serde(skip_serializing_if = "is_zero")]
    rtt: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    server: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    client_type: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The `Nats-Request-Info` JSON for a request: the requester's account and RTT (and the
/// account it came through in a chain); with `share`, the requester's details too (not
/// its start time, which the reference also sends).
fn request_info(
    turn: &Turn,
    chain: &Chain,
    importer: &Arc<Account>,
    publisher: &ConnShared,
    share: bool,
) -> String {
    let mut info = RequestInfo {
        acc: chain.requester.name.to_string(),
        rtt: publisher.activity.rtt.load(Ordering::Relaxed),
        ..RequestInfo::default()
    };
    if !Arc::ptr_eq(&chain.requester, importer) || !chain.through.is_empty() {
        info.svc = importer.name.to_string();
    }
    if share {
        let meta = publisher
            .meta
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        info.host = publisher.addr.ip().to_string();
        info.id = publisher.cid;
        info.user = meta.authorized_user;
        info.name = meta.name;
        info.lang = meta.lang;
        info.ver = meta.version;
        info.server = turn.settings.info.server_name.clone();
        info.kind = "Client".into();
        info.client_type = "nats".into();
    }
    serde_json::to_string(&info).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::testbed::TestBed;
    use crate::options::{
        AccountOptions, ExportKind, ExportOptions, ImportKind, ImportOptions, Options,
        ResponseType, User,
    };
    use std::time::Duration;

    /// A exports service `svc.echo` (of `response`); B imports it as `echo`; users `a`,
    /// `b` in them.
    fn service(response: ResponseType) -> Options {
        let exporter = AccountOptions {
            name: "A".into(),
            exports: vec![ExportOptions {
                subject: "svc.echo".into(),
                kind: ExportKind::Service {
                    response,
                    threshold: Duration::from_secs(120),
                },
                accounts: Vec::new(),
            }],
            ..AccountOptions::default()
        };
        let importer = AccountOptions {
            name: "B".into(),
            imports: vec![ImportOptions {
                account: "A".into(),
                subject: "svc.echo".into(),
                local: "echo".into(),
                kind: ImportKind::Service { share: false },
            }],
            ..AccountOptions::default()
        };
        let user = |name: &str, account: &str| User {
            username: name.into(),
            password: Some(name.into()),
            account: Some(account.into()),
            ..User::default()
        };
        Options {
            accounts: vec![exporter, importer],
            auth: crate::options::AuthOptions {
                users: vec![user("a", "A"), user("b", "B")],
                ..Default::default()
            },
            ..Options::default()
        }
    }

    /// The reply subject and payload of a request delivered as HMSG with
    /// `Nats-Request-Info` naming account B.
    fn request_parts(delivered: &str) -> (String, String) {
        let mut lines = delivered.split("\r\n");
        let head: Vec<&str> = lines.next().unwrap().split(' ').collect();
        assert_eq!(&head[..3], ["HMSG", "svc.echo", "10"], "{delivered}");
        assert!(
            head[3].starts_with("_R_.") && head[3].len() == 17,
            "{delivered}"
        );
        assert_eq!(lines.next(), Some("NATS/1.0"));
        let info = lines.next().unwrap();
        assert!(
            info.starts_with("Nats-Request-Info: {\"acc\":\"B\""),
            "{info}"
        );
        assert_eq!(lines.next(), Some(""));
        let payload = lines.next().unwrap().to_string();
        let sizes: Vec<usize> = head[4..].iter().map(|n| n.parse().unwrap()).collect();
        assert_eq!(sizes[1] - sizes[0], payload.len());
        (head[3].to_string(), payload)
    }

    #[test]
    fn a_request_through_an_import_gets_one_reply() {
        let mut bed = TestBed::new(service(ResponseType::Singleton));
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(a, "SUB svc.echo 10\r\n");
        bed.feed(b, "SUB _INBOX.1 20\r\nPUB echo _INBOX.1 4\r\nreq1\r\n");
        let (reply, payload) = request_parts(&bed.take_output(a));
        assert_eq!(payload, "req1");
        bed.feed(
            a,
            &format!("PUB {reply} 4\r\nrsp1\r\nPUB {reply} 4\r\nrsp2\r\n"),
        );
        assert_eq!(bed.take_output(b), "MSG _INBOX.1 20 4\r\nrsp1\r\n");
        // Nobody in B sees the exporter's own subject.
        bed.feed(b, "PUB svc.echo 2\r\nno\r\n");
        assert_eq!(bed.take_output(a), "");
    }

    #[test]
    fn chunked_responses_end_with_an_empty_one() {
        let mut bed = TestBed::new(service(ResponseType::Chunked));
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(a, "SUB svc.echo 10\r\n");
        bed.feed(b, "SUB _INBOX.1 20\r\nPUB echo _INBOX.1 1\r\nq\r\n");
        let (reply, _) = request_parts(&bed.take_output(a));
        for chunk in ["c1", "c2", ""] {
            bed.feed(a, &format!("PUB {reply} {}\r\n{chunk}\r\n", chunk.len()));
        }
        bed.feed(a, &format!("PUB {reply} 4\r\nlate\r\n"));
        assert_eq!(
            bed.take_output(b),
            "MSG _INBOX.1 20 2\r\nc1\r\nMSG _INBOX.1 20 2\r\nc2\r\nMSG _INBOX.1 20 0\r\n\r\n"
        );
    }

    #[test]
    fn a_requester_that_stops_listening_frees_its_pending_responses() {
        use super::super::ServerView;
        let mut bed = TestBed::new(service(ResponseType::Streamed));
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(a, "SUB svc.echo 10\r\n");
        bed.feed(
            b,
            "SUB _INBOX.> 20\r\nSUB _INBOX.1 21\r\nPUB echo _INBOX.1 1\r\nq\r\n",
        );
        let pending = |bed: &TestBed| {
            let accounts = bed.view().accounts();
            let a = accounts.iter().find(|a| &*a.name == "A").unwrap();
            a.responses.len()
        };
        assert_eq!(pending(&bed), 1);
        // Another subscription still matches the reply: the request stays.
        bed.feed(b, "UNSUB 21\r\n");
        assert_eq!(pending(&bed), 1);
        bed.feed(b, "UNSUB 20\r\n");
        assert_eq!(pending(&bed), 0);
        bed.take_output(a);
    }

    #[test]
    fn an_imported_request_without_responders_gets_no_503() {
        let mut bed = TestBed::new(service(ResponseType::Singleton));
        let b = bed.client();
        bed.feed(
            b,
            "CONNECT {\"user\":\"b\",\"pass\":\"b\",\"verbose\":false,\"headers\":true,\
             \"no_responders\":true}\r\nSUB _INBOX.1 20\r\nPUB echo _INBOX.1 1\r\nq\r\n\
             PUB nothing _INBOX.1 1\r\nq\r\n",
        );
        assert_eq!(
            bed.take_output(b),
            "HMSG _INBOX.1 20 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
            "only the request nobody imports gets a 503"
        );
    }
}
