//! What all reactors share about leafnode connections: the registered links (those leafs
//! made to us, where we are the hub, and those we made to our hubs, where we are the
//! spoke), the interest ledger that decides which `LS+`/`LS-` each link is told, our
//! loop-detection subjects, and the remotes we solicit with their URL lists.
//!
//! Which interest a link hears (nats-server 2.9, leafnodes.md §4): a hub-role link hears
//! every subscription of its account (local clients, routes, other links) except its own
//! and those of a link with the same remote cluster; a spoke link (to our hub) hears only
//! local clients and hub-role links. As for routes, updates are written into each link's
//! hand-over while the lock is held, so a link sees them in the order they happened, and
//! the dump a new link gets is taken under the same lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cluster::{interest_key, split_key};
use super::conn::ConnShared;
use super::dialer::DialQueue;
use super::handover;
use super::leaf_info::LeafInfo;
use super::ServerShared;
use crate::auth::VerifiedPairs;
use crate::options::{LeafnodeOptions, RemoteLeafOptions};
use crate::rng::Rng;
use crate::route_url::RouteUrl;
use crate::subject;

/// Subjects no leaf link carries when the two ends share no JetStream domain (always, for
/// natsd): a nats-server hub closes a link that advertises a literal subject under them.
const JETSTREAM_DENIES: [&[u8]; 3] = [b"$JS.API.>", b"$KV.>", b"$OBJ.>"];

/// Where a subscription came from, as the ledger tells sources apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A client of this server.
    Local,
    /// A route (one hop: never sent to our hubs).
    Route,
    /// The leaf link with this connection id.
    Link(u64),
}

/// What a registered leaf link is, as deliveries and the ledger need it.
#[derive(Debug)]
pub struct LeafPeer {
    /// We dialled it (we are the spoke; the peer is our hub).
    pub solicited: bool,
    /// The peer's cluster (its CONNECT `cluster`, or the hub's INFO `cluster`): messages
    /// and interest never go from one link to another with the same one.
    pub remote_cluster: Box<str>,
    /// Subjects we must not send on this link (publish deny: our `deny_exports`, the
    /// leaf's `deny_pub`, the JetStream API).
    pub deny_out: Vec<Box<[u8]>>,
    /// Subjects whose interest we must not send (our `deny_imports`).
    pub deny_interest: Vec<Box<[u8]>>,
}

impl LeafPeer {
    /// Whether a message on `subject` may go out on this link.
    pub fn may_send(&self, subject: &[u8]) -> bool {
        !JETSTREAM_DENIES
            .iter()
            .any(|deny| subject::matches(deny, subject))
            && !self.deny_out.iter().any(|d| subject::matches(d, subject))
    }

    /// Whether interest in `subject` may be advertised on this link: never a literal
    /// JetStream API subject (a nats-server hub would close the link), never a denied one.
    fn may_advertise(&self, subject: &[u8]) -> bool {
        let literal_js = subject::is_literal(subject)
            && JETSTREAM_DENIES
                .iter()
                .any(|deny| subject::matches(deny, subject));
        !literal_js
            && !self
                .deny_interest
                .iter()
                .any(|d| subject::matches(d, subject))
    }

    /// Whether two links lead to the same remote cluster.
    pub fn same_cluster(&self, other: &LeafPeer) -> bool {
        !self.remote_cluster.is_empty() && self.remote_cluster == other.remote_cluster
    }
}

/// A registered link.
struct LinkEntry {
    shared: Arc<ConnShared>,
    peer: Arc<LeafPeer>,
    /// The account it is bound to.
    account: Arc<str>,
    /// Interest advertised on it: key → count (queue keys: total weight).
    smap: HashMap<Vec<u8>, u32>,
    /// The peer's `name`, for the duplicate check (hub role).
    name: String,
}

/// One account's interest: by key (`subject` or `subject queue`), the count per source.
type Interest = HashMap<Vec<u8>, Vec<(Source, u32)>>;

/// State behind the leafnodes lock.
#[derive(Default)]
struct LeafState {
    links: BTreeMap<u64, LinkEntry>,
    /// Interest by account, by key (`subject` or `subject queue`), by source: counts.
    ledger: HashMap<Arc<str>, Interest>,
    /// Our loop-detection subject per account (`$LDS.<22 characters>`).
    lds: HashMap<Arc<str>, String>,
}

/// Leafnode links and interest, shared by all reactors and the leaf dialer.
pub struct Leafnodes {
    state: Mutex<LeafState>,
    /// The remotes we solicit, in configuration order.
    pub remotes: Vec<Remote>,
    /// Remotes waiting to be dialled.
    pub dials: DialQueue<LeafDial>,
    /// Leaf passwords that matched a configured bcrypt hash (checked once per password).
    pub verified_passwords: VerifiedPairs,
    /// The hub's INFO template, when this server has a leafnode listener.
    pub hub: Option<LeafInfo>,
    /// Where the leafnode listener is bound.
    pub bound: Option<std::net::SocketAddr>,
    /// Our own leaf URL (`host:port`, the advertised one), when we are a hub.
    pub own_urls: Vec<String>,
    /// The leaf URLs offered to leafs: ours, then our cluster peers'.
    urls: Mutex<Vec<String>>,
    /// TLS for accepted leaf connections (`leafnodes.tls`, replaced by a reload), and its
    /// handshake timeout.
    hub_tls: Mutex<Option<(Arc<rustls::ServerConfig>, Duration)>>,
}

/// A remote hub we solicit: its settings and the URLs to try.
pub struct Remote {
    /// Its settings (a reload may change its `tls`).
    opts: Mutex<RemoteLeafOptions>,
    urls: Mutex<RemoteUrls>,
}

/// The URL list of a remote (leafnodes.md §2.6).
struct RemoteUrls {
    /// What to try, the next one first.
    list: Vec<RouteUrl>,
    /// The URL tried last.
    current: Option<RouteUrl>,
    /// The configured URLs (after the one-time shuffle).
    configured: Vec<RouteUrl>,
    /// Credentials from the first configured URL that had some, for URLs the hub gave.
    userinfo: Option<(String, Option<String>)>,
    /// The next attempt waits until then (a loop or a same-cluster rejection).
    delay_until: Option<Instant>,
}

/// A remote to dial.
#[derive(Debug, Clone)]
pub struct LeafDial {
    /// Index into [`Leafnodes::remotes`].
    pub remote: usize,
    pub due: Instant,
}

impl super::dialer::Due for LeafDial {
    fn due(&self) -> Instant {
        self.due
    }
}

impl Remote {
    fn new(opts: &RemoteLeafOptions, rng: &mut Rng) -> Remote {
        let mut configured: Vec<RouteUrl> = opts
            .urls
            .iter()
            .filter_map(|u| RouteUrl::parse_leaf(u).ok())
            .collect();
        if !opts.no_randomize {
            for i in (1..configured.len()).rev() {
                configured.swap(i, rng.below(i + 1));
            }
        }
        let userinfo = configured
            .iter()
            .find(|u| u.user.is_some())
            .map(|u| (u.user.clone().unwrap_or_default(), u.pass.clone()));
        Remote {
            opts: Mutex::new(opts.clone()),
            urls: Mutex::new(RemoteUrls {
                list: configured.clone(),
                current: None,
                configured,
                userinfo,
                delay_until: None,
            }),
        }
    }

    /// Its settings now.
    pub fn opts(&self) -> RemoteLeafOptions {
        self.opts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn urls(&self) -> MutexGuard<'_, RemoteUrls> {
        self.urls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The URL to try now: the first of the list, after moving the one tried last to the
    /// end if it is first. Credentials a hub-given URL lacks come from the configured ones.
    pub fn next_url(&self) -> Option<RouteUrl> {
        let mut urls = self.urls();
        let current_first = match (&urls.current, urls.list.first()) {
            (Some(current), Some(first)) => current.same_server(first),
            _ => false,
        };
        if current_first && urls.list.len() > 1 {
            let first = urls.list.remove(0);
            urls.list.push(first);
        }
        let mut url = urls.list.first()?.clone();
        urls.current = Some(url.clone());
        if url.user.is_none() {
            if let Some((user, pass)) = &urls.userinfo {
                url.user = Some(user.clone());
                url.pass = pass.clone();
            }
        }
        Some(url)
    }

    /// The hub's INFO listed `leafnode_urls`: they come first, then the configured ones.
    pub fn learn_urls(&self, hub_urls: &[String]) {
        let mut urls = self.urls();
        let mut list: Vec<RouteUrl> = hub_urls
            .iter()
            .filter_map(|u| RouteUrl::parse_leaf(&format!("nats-leaf://{u}")).ok())
            .filter(|u| !urls.configured.iter().any(|c| c.same_server(u)))
            .collect();
        list.extend(urls.configured.iter().cloned());
        urls.list = list;
    }

    /// The next attempt waits until `until` at least.
    pub fn delay_until(&self, until: Instant) {
        self.urls().delay_until = Some(until);
    }

    /// When the next attempt may start, after a delay was asked for.
    pub fn delayed_until(&self) -> Option<Instant> {
        self.urls().delay_until.take()
    }
}

/// What a newly registered link needs.
pub struct Registered {
    /// `LS+` lines for the interest it hears, our `$LDS` subject included.
    pub dump: Vec<u8>,
    /// A hub-role link from the same leaf server that this one replaces.
    pub replaced: Option<Arc<ConnShared>>,
}

impl Leafnodes {
    /// The leafnode state for `opts`; `rng` shuffles the remotes' URLs.
    pub fn new(opts: &LeafnodeOptions, rng: &mut Rng) -> Leafnodes {
        Leafnodes {
            state: Mutex::default(),
            remotes: opts.remotes.iter().map(|r| Remote::new(r, rng)).collect(),
            dials: DialQueue::default(),
            verified_passwords: VerifiedPairs::default(),
            hub: None,
            bound: None,
            own_urls: Vec::new(),
            urls: Mutex::default(),
            hub_tls: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LeafState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// TLS for a leaf connection just accepted, with its handshake deadline.
    pub fn hub_tls(&self) -> Option<(Arc<rustls::ServerConfig>, Duration)> {
        self.hub_tls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts the TLS settings of `opts` in force (start and reload; the reload checks have
    /// refused any other change): the hub's `tls`, and each remote's, found by its URLs.
    pub fn configure_tls(&self, opts: &LeafnodeOptions) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        let hub_tls = match &opts.tls {
            Some(tls) => {
                let built = crate::tls::server_config(tls)?;
                warnings.extend(built.warnings);
                let timeout = crate::options::seconds_or(tls.timeout, Duration::from_secs(2));
                Some((built.config, timeout))
            }
            None => None,
        };
        *self.hub_tls.lock().unwrap_or_else(|e| e.into_inner()) = hub_tls;
        for remote in &self.remotes {
            let mut current = remote.opts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(new) = opts.remotes.iter().find(|r| r.urls == current.urls) {
                current.tls.clone_from(&new.tls);
            }
        }
        Ok(warnings)
    }

    /// Our loop-detection subject in `account`.
    pub fn lds_subject(&self, account: &Arc<str>) -> String {
        lds_of(&mut self.lock(), account)
    }

    /// The leaf URLs a hub offers now: ours, then our cluster peers'.
    pub fn offered_urls(&self) -> Vec<String> {
        let urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        match urls.is_empty() {
            true => self.own_urls.clone(),
            false => urls.clone(),
        }
    }

    /// Our cluster peers' leaf URLs are now `peers`: when that changes what we offer,
    /// every leaf connected to us gets an async INFO with the new list.
    pub fn set_urls(&self, server: &ServerShared, peers: Vec<String>, cluster: String) {
        let Some(hub) = &self.hub else {
            return;
        };
        let mut offered = self.own_urls.clone();
        for url in peers {
            if !offered.contains(&url) {
                offered.push(url);
            }
        }
        {
            let mut urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
            if *urls == offered {
                return;
            }
            urls.clone_from(&offered);
        }
        let info = LeafInfo {
            cluster,
            leafnode_urls: Some(offered),
            ..hub.clone()
        };
        let line = info.line();
        for link in self.lock().links.values() {
            if !link.peer.solicited {
                handover::send(server, &link.shared, &line);
            }
        }
    }

    /// The registered links, in connection order.
    pub fn links(&self) -> Vec<(Arc<ConnShared>, Arc<LeafPeer>, Arc<str>)> {
        self.lock()
            .links
            .values()
            .map(|l| (l.shared.clone(), l.peer.clone(), l.account.clone()))
            .collect()
    }

    /// A subscription of `account` came (`added`) or went: updates the ledger and tells
    /// every link that hears it when its advertised interest changes.
    #[allow(clippy::too_many_arguments)]
    pub fn interest(
        &self,
        server: &ServerShared,
        account: &Arc<str>,
        subject: &[u8],
        queue: Option<&[u8]>,
        source: Source,
        added: bool,
    ) {
        let mut state = self.lock();
        let key = interest_key(subject, queue);
        let sources = state
            .ledger
            .entry(account.clone())
            .or_default()
            .entry(key.clone())
            .or_default();
        match sources.iter_mut().find(|(s, _)| *s == source) {
            Some((_, count)) if added => *count += 1,
            Some((_, count)) => *count = count.saturating_sub(1),
            None if added => sources.push((source, 1)),
            None => return,
        }
        sources.retain(|(_, count)| *count > 0);
        if sources.is_empty() {
            if let Some(keys) = state.ledger.get_mut(account) {
                keys.remove(&key);
            }
        }
        let source_peer = match source {
            Source::Link(cid) => state.links.get(&cid).map(|l| l.peer.clone()),
            _ => None,
        };
        for link in state.links.values_mut() {
            if link.account != *account
                || !hears(link, source, source_peer.as_deref(), &key)
                || !link.peer.may_advertise(subject)
            {
                continue;
            }
            let count = link.smap.entry(key.clone()).or_insert(0);
            let before = *count;
            *count = if added {
                before + 1
            } else {
                before.saturating_sub(1)
            };
            let after = *count;
            if after == 0 {
                link.smap.remove(&key);
            }
            let line = match (queue, before, after) {
                (None, 0, 1..) | (Some(_), _, 1..) => interest_line(subject, queue, after),
                (_, 1.., 0) => removal_line(subject, queue),
                _ => continue,
            };
            handover::send(server, &link.shared, &line);
        }
    }

    /// Registers a link whose handshake is done, bound to `account`: returns the `LS+`
    /// dump it is sent first, and (hub role) the older link of the same leaf server it
    /// replaces.
    pub fn register(
        &self,
        shared: &Arc<ConnShared>,
        peer: Arc<LeafPeer>,
        account: &Arc<str>,
        name: &str,
    ) -> Registered {
        let mut state = self.lock();
        let replaced = match peer.solicited {
            true => None,
            false => state
                .links
                .values()
                .find(|l| {
                    !l.peer.solicited
                        && l.name == name
                        && l.peer.remote_cluster == peer.remote_cluster
                        && l.account == *account
                })
                .map(|l| l.shared.clone()),
        };
        let mut entry = LinkEntry {
            shared: shared.clone(),
            peer,
            account: account.clone(),
            smap: HashMap::new(),
            name: name.to_string(),
        };
        let mut dump = Vec::new();
        if let Some(keys) = state.ledger.get(account) {
            for (key, sources) in keys {
                let count: u32 = sources
                    .iter()
                    .filter(|(source, _)| {
                        let source_peer = match source {
                            Source::Link(cid) => state.links.get(cid).map(|l| l.peer.as_ref()),
                            _ => None,
                        };
                        hears(&entry, *source, source_peer, key)
                    })
                    .map(|(_, count)| count)
                    .sum();
                let (subject, queue) = split_key(key);
                if count == 0 || !entry.peer.may_advertise(subject) {
                    continue;
                }
                entry.smap.insert(key.clone(), count);
                dump.extend_from_slice(&interest_line(subject, queue, count));
            }
        }
        let lds = lds_of(&mut state, account);
        dump.extend_from_slice(&interest_line(lds.as_bytes(), None, 1));
        state.links.insert(shared.cid, entry);
        Registered { dump, replaced }
    }

    /// Forgets a closed link (after its interest was withdrawn).
    pub fn unregister(&self, cid: u64) -> bool {
        self.lock().links.remove(&cid).is_some()
    }
}

/// Whether `link` hears interest from `source` (whose link, if any, is `source_peer`).
fn hears(link: &LinkEntry, source: Source, source_peer: Option<&LeafPeer>, key: &[u8]) -> bool {
    match source {
        Source::Local => true,
        Source::Route => !link.peer.solicited,
        Source::Link(cid) => {
            let Some(from) = source_peer else {
                return false;
            };
            cid != link.shared.cid
                && (!from.solicited || !link.peer.solicited)
                && (key.starts_with(b"$LDS.") || !from.same_cluster(&link.peer))
        }
    }
}

fn lds_of(state: &mut LeafState, account: &Arc<str>) -> String {
    state
        .lds
        .entry(account.clone())
        .or_insert_with(|| format!("$LDS.{}", super::info::new_cluster_name()))
        .clone()
}

/// `LS+ subject\r\n` or `LS+ subject queue weight\r\n`.
fn interest_line(subject: &[u8], queue: Option<&[u8]>, weight: u32) -> Vec<u8> {
    let mut line = b"LS+ ".to_vec();
    line.extend_from_slice(subject);
    if let Some(queue) = queue {
        line.push(b' ');
        line.extend_from_slice(queue);
        line.extend_from_slice(format!(" {weight}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// `LS- subject [queue]\r\n`.
fn removal_line(subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut line = b"LS- ".to_vec();
    line.extend_from_slice(&interest_key(subject, queue));
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_lines() {
        assert_eq!(interest_line(b"foo", None, 1), b"LS+ foo\r\n");
        assert_eq!(interest_line(b"foo", Some(b"q"), 3), b"LS+ foo q 3\r\n");
        assert_eq!(removal_line(b"foo", Some(b"q")), b"LS- foo q\r\n");
        assert_eq!(split_key(b"foo q"), (&b"foo"[..], Some(&b"q"[..])));
    }

    #[test]
    fn literal_jetstream_subjects_are_never_advertised() {
        let peer = LeafPeer {
            solicited: true,
            remote_cluster: "".into(),
            deny_out: Vec::new(),
            deny_interest: vec![b"secret.>".to_vec().into()],
        };
        assert!(!peer.may_advertise(b"$KV.b.k"));
        assert!(!peer.may_advertise(b"$JS.API.INFO"));
        assert!(peer.may_advertise(b"$KV.>"));
        assert!(!peer.may_advertise(b"secret.x"));
        assert!(peer.may_advertise(b"foo"));
        assert!(!peer.may_send(b"$JS.API.INFO"));
        assert!(peer.may_send(b"foo"));
    }

    #[test]
    fn remotes_rotate_their_urls_and_lend_credentials_to_learnt_ones() {
        let opts = RemoteLeafOptions {
            urls: vec!["nats-leaf://u:p@a:1".into(), "b:2".into()],
            no_randomize: true,
            ..Default::default()
        };
        let remote = Remote::new(&opts, &mut Rng::new(0));
        assert_eq!(remote.next_url().unwrap().host, "a");
        assert_eq!(remote.next_url().unwrap().host, "b");
        let again = remote.next_url().unwrap();
        assert_eq!(
            (again.host.as_str(), again.user.as_deref()),
            ("a", Some("u"))
        );
        // The hub's URLs go first (not the configured ones again), then the configured.
        remote.learn_urls(&["c:3".into(), "a:1".into()]);
        let learnt = remote.next_url().unwrap();
        assert_eq!(
            (learnt.host.as_str(), learnt.user.as_deref()),
            ("c", Some("u"))
        );
        assert_eq!(remote.next_url().unwrap().host, "a");
    }
}
