//! Accounts: isolated subject spaces. Every connection is bound to one account and its
//! subscriptions live in that account's sublist; a message is matched only in the
//! account it is published in (plus what the account's imports add).
//!
//! `$G`, the global account, always exists: clients without an account of their own are
//! bound to it. The system account (`$SYS`, or the one `system_account` names) is a plain
//! account here. The registry is shared by all reactors; each reactor keeps its own match
//! cache per account ([`AccountCaches`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use super::conn::SubRef;
use super::conn_info::Activity;
use super::imports::Imports;
use super::service::Responses;
use crate::options::{AccountLimits, MappingOptions, Options, User};
use crate::sublist::{CacheStats, MatchCache, MatchResult, SharedSublist};
use crate::transform::WeightedMapping;

/// The global account's name.
pub const GLOBAL: &str = "$G";
/// The implicit system account's name.
pub const SYSTEM: &str = "$SYS";

/// One account: its name, its subscriptions and what the configuration says of it.
pub struct Account {
    pub name: Arc<str>,
    /// A small number unique to this account for the server's life (indexes the
    /// per-reactor caches).
    pub index: usize,
    pub sublist: SharedSublist<SubRef>,
    /// Local client connections bound to the account.
    pub clients: AtomicUsize,
    /// Messages and bytes the account's clients published (`in`) and received (`out`).
    pub activity: Activity,
    /// The configured limits (`-1` unlimited), replaced on reload.
    limits: RwLock<AccountLimits>,
    /// When the account was last (re)configured (`/accountz` `update_time`).
    updated: RwLock<SystemTime>,
    /// What the account imports, replaced whole on reload.
    imports: RwLock<Arc<Imports>>,
    /// `imports` has stream imports / service imports (tested on every SUB / PUB).
    stream_imports: AtomicBool,
    service_imports: AtomicBool,
    /// Subject mappings applied to what the account's clients publish.
    mappings: RwLock<Arc<[WeightedMapping]>>,
    /// `mappings` is not empty.
    has_mappings: AtomicBool,
    /// Mappings or service imports: publications take the slower path (tested on every
    /// PUB, alone).
    alters_publications: AtomicBool,
    /// Responses to requests that came in through service imports of this account.
    pub responses: Responses,
}

impl Account {
    fn new(name: &str, index: usize) -> Account {
        Account {
            name: name.into(),
            index,
            sublist: SharedSublist::new(),
            clients: AtomicUsize::new(0),
            activity: Activity::default(),
            limits: RwLock::new(AccountLimits::default()),
            updated: RwLock::new(SystemTime::now()),
            imports: RwLock::default(),
            stream_imports: AtomicBool::new(false),
            service_imports: AtomicBool::new(false),
            mappings: RwLock::new(Arc::new([])),
            has_mappings: AtomicBool::new(false),
            alters_publications: AtomicBool::new(false),
            responses: Responses::default(),
        }
    }

    /// What the account imports.
    pub fn imports(&self) -> Arc<Imports> {
        self.imports
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the account imports any stream.
    #[inline]
    pub fn has_stream_imports(&self) -> bool {
        self.stream_imports.load(Ordering::Relaxed)
    }

    /// Whether the account imports any service.
    #[inline]
    pub fn has_service_imports(&self) -> bool {
        self.service_imports.load(Ordering::Relaxed)
    }

    /// Whether publications in the account may be mapped or taken by service imports.
    #[inline]
    pub fn alters_publications(&self) -> bool {
        self.alters_publications.load(Ordering::Relaxed)
    }

    /// Whether the account maps subjects.
    #[inline]
    pub fn has_mappings(&self) -> bool {
        self.has_mappings.load(Ordering::Relaxed)
    }

    /// What a publication on `subject` becomes under the account's mappings; `roll` is a
    /// random number in 0..100 for weighted destinations, `cluster` the server's cluster.
    pub fn map_subject(&self, subject: &[u8], roll: u8, cluster: Option<&str>) -> Mapped {
        let mappings = self
            .mappings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(mapping) = mappings.iter().find(|m| m.matches(subject)) else {
            return Mapped::Unchanged;
        };
        match mapping.select(roll, cluster).and_then(|t| t.apply(subject)) {
            Some(to) => Mapped::To(to),
            None => Mapped::Dropped,
        }
    }

    fn set_mappings(&self, configured: &[MappingOptions]) {
        let mappings: Arc<[WeightedMapping]> = configured
            .iter()
            .filter_map(|m| WeightedMapping::new(&m.source, &m.destinations).ok())
            .collect();
        self.has_mappings
            .store(!mappings.is_empty(), Ordering::Relaxed);
        *self.mappings.write().unwrap_or_else(|e| e.into_inner()) = mappings;
        self.update_alters_publications();
    }

    fn update_alters_publications(&self) {
        let alters = self.has_mappings() || self.has_service_imports();
        self.alters_publications.store(alters, Ordering::Relaxed);
    }

    fn set_imports(&self, imports: Imports) {
        self.stream_imports
            .store(!imports.streams.is_empty(), Ordering::Relaxed);
        self.service_imports
            .store(!imports.services.is_empty(), Ordering::Relaxed);
        *self.imports.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(imports);
        self.update_alters_publications();
    }

    /// When the account was last (re)configured.
    pub fn updated(&self) -> SystemTime {
        *self.updated.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's limits in force.
    pub fn limits(&self) -> AccountLimits {
        *self.limits.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this is `$G`.
    pub fn is_global(&self) -> bool {
        self.index == 0
    }
}

/// What a mapping does to a published subject.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping applies.
    Unchanged,
    /// Published on this subject instead.
    To(Vec<u8>),
    /// The weights left this message without a destination: it goes nowhere.
    Dropped,
}

/// All accounts of the server.
pub struct Accounts {
    global: Arc<Account>,
    by_name: RwLock<HashMap<Arc<str>, Arc<Account>>>,
    next_index: AtomicUsize,
    /// The system account's name, unless `no_system_account`.
    system: Option<Arc<str>>,
}

impl Accounts {
    /// The accounts `opts` configure, with `$G` and the system account. `Err`: the system
    /// account `system_account` names is not configured (a start-time error).
    pub fn new(opts: &Options) -> Result<Accounts, String> {
        let global = Arc::new(Account::new(GLOBAL, 0));
        let accounts = Accounts {
            by_name: RwLock::new(HashMap::from([(global.name.clone(), global.clone())])),
            global,
            next_index: AtomicUsize::new(1),
            system: system_account(opts)?,
        };
        accounts.configure(opts);
        Ok(accounts)
    }

    /// Adds the accounts `opts` name that are missing, sets every account's limits and
    /// forgets the accounts no longer configured (as the reference rebuilds its accounts on
    /// reload; their connections are closed by the reload, their subscriptions go with
    /// them).
    pub fn configure(&self, opts: &Options) {
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        by_name.retain(|name, _| {
            **name == *GLOBAL
                || self.system.as_deref() == Some(&**name)
                || opts.accounts.iter().any(|a| *a.name == **name)
        });
        let mut add = |name: &str, limits: AccountLimits| {
            let account = by_name
                .entry(name.into())
                .or_insert_with(|| {
                    let index = self.next_index.fetch_add(1, Ordering::Relaxed);
                    Arc::new(Account::new(name, index))
                })
                .clone();
            *account.limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
            *account.updated.write().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
        };
        for account in &opts.accounts {
            add(&account.name, account.limits);
        }
        if let Some(system) = &self.system {
            if !opts.accounts.iter().any(|a| *a.name == **system) {
                add(system, AccountLimits::default());
            }
        }
        drop(by_name);
        self.global.set_mappings(&opts.mappings);
        for configured in &opts.accounts {
            if let Some(account) = self.get(configured.name.as_bytes()) {
                account.set_imports(Imports::build(configured, opts, self));
                account.set_mappings(&configured.mappings);
            }
        }
    }

    /// `$G`.
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account called `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<Arc<Account>> {
        let name = std::str::from_utf8(name).ok()?;
        if name == GLOBAL {
            return Some(self.global.clone());
        }
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        by_name.get(name).cloned()
    }

    /// Every account, in no particular order.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        by_name.values().cloned().collect()
    }

    /// The system account's name, unless there is none.
    pub fn system_name(&self) -> Option<&str> {
        self.system.as_deref()
    }
}

impl Drop for Accounts {
    /// Imports hold their exporters: let go of them, so that accounts importing from each
    /// other are freed.
    fn drop(&mut self) {
        for account in self.all() {
            account.set_imports(Imports::default());
        }
    }
}

/// The system account's name: the one `system_account` names (it must be configured),
/// else `$SYS`, unless `no_system_account`.
fn system_account(opts: &Options) -> Result<Option<Arc<str>>, String> {
    match &opts.system_account {
        Some(name) if opts.accounts.iter().any(|a| a.name == *name) => {
            Ok(Some(name.as_str().into()))
        }
        Some(name) if name == SYSTEM => Ok(Some(SYSTEM.into())),
        Some(_) => Err("error resolving system account: account missing".to_string()),
        None if opts.no_system_account => Ok(None),
        None => Ok(Some(SYSTEM.into())),
    }
}

/// The reference's quirk (`configureAccounts`): when the system account is named and is
/// the only configured account, and there is no `no_auth_user`, a `$G` user
/// `nats-XXXXXXXX` (8 random base-62 characters; its password the last 7) is invented as
/// the no-auth user. The same name for the life of the process.
pub fn invented_guest(opts: &Options) -> Option<User> {
    static NAME: OnceLock<String> = OnceLock::new();
    let only_system = match (&opts.system_account, opts.accounts.as_slice()) {
        (Some(system), [only]) => only.name == *system,
        _ => false,
    };
    if !only_system || opts.auth.no_auth_user.is_some() {
        return None;
    }
    let name = NAME.get_or_init(|| {
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut seed = [0u8; 8];
        let _ = getrandom::getrandom(&mut seed);
        let mut n = u64::from_le_bytes(seed);
        let chars = (0..8).map(|_| {
            let c = DIGITS[(n % 62) as usize] as char;
            n /= 62;
            c
        });
        format!("nats-{}", chars.collect::<String>())
    });
    Some(User {
        username: name.clone(),
        password: Some(name[6..].to_string()),
        ..User::default()
    })
}

/// A reactor's match caches, one per account it has seen a message in (`$G`'s apart, so
/// that a server without accounts looks it up as directly as before accounts existed).
pub struct AccountCaches {
    global: MatchCache<SubRef>,
    others: Vec<MatchCache<SubRef>>,
    entries: usize,
}

impl AccountCaches {
    /// Caches of at most `entries` subjects each.
    pub fn new(entries: usize) -> AccountCaches {
        AccountCaches {
            global: MatchCache::new(entries),
            others: Vec::new(),
            entries,
        }
    }

    /// The subscriptions of `account` matching `subject`.
    #[inline]
    pub fn lookup(&mut self, account: &Account, subject: &[u8]) -> Arc<MatchResult<SubRef>> {
        if account.is_global() {
            return self.global.lookup(&account.sublist, subject);
        }
        self.other(account).lookup(&account.sublist, subject)
    }

    /// The cache of an account other than `$G`, made on first use.
    fn other(&mut self, account: &Account) -> &mut MatchCache<SubRef> {
        if account.index > self.others.len() {
            let entries = self.entries;
            self.others
                .resize_with(account.index, || MatchCache::new(entries));
        }
        &mut self.others[account.index - 1]
    }

    /// Drops the caches of accounts other than `$G` (after a reload changed the accounts:
    /// a removed account's cache would keep its subscriptions alive; the others refill).
    pub fn forget_accounts(&mut self) {
        self.others = Vec::new();
    }

    /// Empties every cache (an idle reactor lets go of what the cached results hold).
    pub fn clear(&mut self) {
        self.global.clear();
        self.others.iter_mut().for_each(MatchCache::clear);
    }

    /// The statistics of all caches together.
    pub fn stats(&self) -> CacheStats {
        let mut total = self.global.stats();
        for cache in &self.others {
            total.add(&cache.stats());
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::CloseReason;
    use super::super::testbed::TestBed;
    use super::*;
    use crate::options::{AccountOptions, User};

    /// Accounts A and B with users `a` and `b`, and user `g` in `$G`; A's limits.
    fn two_accounts(limits: AccountLimits) -> Options {
        let user = |name: &str, account: Option<&str>| User {
            username: name.into(),
            password: Some(name.into()),
            account: account.map(Into::into),
            ..User::default()
        };
        let mut opts = with_accounts(&["A", "B"]);
        opts.accounts[0].limits = limits;
        opts.auth.users = vec![user("a", Some("A")), user("b", Some("B")), user("g", None)];
        opts
    }

    /// A client sending CONNECT as `user` (what it answers is left to read).
    fn connect(bed: &mut TestBed, user: &str) -> usize {
        let c = bed.client();
        let connect = format!(
            "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false,\"protocol\":1}}\r\n"
        );
        bed.feed(c, &connect);
        c
    }

    #[test]
    fn each_account_sees_only_its_own_messages() {
        let mut bed = TestBed::new(two_accounts(AccountLimits::default()));
        let clients: Vec<usize> = ["a", "b", "g"]
            .iter()
            .map(|u| connect(&mut bed, u))
            .collect();
        for &c in &clients {
            bed.feed(c, "SUB foo 1\r\n");
        }
        for (c, payload) in clients.iter().zip(["from-a", "from-b", "from-g"]) {
            bed.feed(*c, &format!("PUB foo 6\r\n{payload}\r\n"));
        }
        for (c, payload) in clients.iter().zip(["from-a", "from-b", "from-g"]) {
            assert_eq!(bed.take_output(*c), format!("MSG foo 1 6\r\n{payload}\r\n"));
        }
    }

    #[test]
    fn mappings_rename_what_clients_publish_before_permissions() {
        use crate::options::{MappingDestination, Permissions, SubjectPermission};
        let mut opts = two_accounts(AccountLimits::default());
        opts.accounts[0].mappings = vec![MappingOptions {
            source: "m.in".into(),
            destinations: vec![MappingDestination {
                subject: "m.out".into(),
                weight: 100,
                cluster: None,
            }],
        }];
        opts.auth.users[1].account = Some("A".into());
        opts.auth.users[1].permissions = Some(Permissions {
            publish: Some(SubjectPermission {
                allow: Some(vec!["m.in".into()]),
                deny: None,
            }),
            ..Permissions::default()
        });
        let mut bed = TestBed::new(opts);
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(a, "SUB m.in 1\r\nSUB m.out 2\r\nPUB m.in 2\r\nhi\r\n");
        assert_eq!(bed.take_output(a), "MSG m.out 2 2\r\nhi\r\n");
        bed.feed(b, "PUB m.in 2\r\nhi\r\n");
        assert_eq!(
            bed.take_output(b),
            "-ERR 'Permissions Violation for Publish to \"m.out\"'\r\n"
        );
        // `$G` is not mapped.
        let g = bed.user_client("g");
        bed.feed(g, "SUB m.in 1\r\nPUB m.in 2\r\nhi\r\n");
        assert_eq!(bed.take_output(g), "MSG m.in 1 2\r\nhi\r\n");
    }

    #[test]
    fn a_system_account_alone_invents_a_guest_for_anonymous_clients() {
        let mut opts = with_accounts(&["SYS"]);
        opts.system_account = Some("SYS".into());
        opts.auth.users = vec![User {
            username: "sys".into(),
            password: Some("sys".into()),
            account: Some("SYS".into()),
            ..User::default()
        }];
        let guest = invented_guest(&opts).unwrap();
        assert!(guest.username.starts_with("nats-") && guest.username.len() == 13);
        assert_eq!(
            invented_guest(&opts),
            Some(guest.clone()),
            "one name per process"
        );
        let mut bed = TestBed::new(opts.clone());
        let anonymous = bed.client();
        bed.feed(
            anonymous,
            "CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x 1\r\nx\r\n",
        );
        assert_eq!(bed.take_output(anonymous), "MSG x 1 1\r\nx\r\n");
        let early = bed.client();
        bed.feed(early, "PING\r\n");
        assert_eq!(bed.take_output(early), "-ERR 'Authorization Violation'\r\n");
        // One more account, and anonymous clients are refused.
        opts.accounts.push(AccountOptions {
            name: "A".into(),
            ..AccountOptions::default()
        });
        assert_eq!(invented_guest(&opts), None);
    }

    /// Found by fuzzing (a leak): a client that sends CONNECT again as a user of another
    /// account moves there, and its earlier subscriptions stay where they were made, as in
    /// the reference; closing removes each from its own account.
    #[test]
    fn a_second_connect_moves_the_client_and_leaves_its_subscriptions() {
        use super::super::ServerView;
        let mut bed = TestBed::new(two_accounts(AccountLimits::default()));
        let x = connect(&mut bed, "a");
        bed.feed(x, "SUB x 1\r\n");
        bed.feed(
            x,
            "CONNECT {\"user\":\"b\",\"pass\":\"b\",\"verbose\":false}\r\nSUB y 2\r\n",
        );
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(a, "PUB x 1\r\na\r\nPUB y 1\r\nb\r\n");
        bed.feed(b, "PUB x 1\r\nc\r\nPUB y 1\r\nd\r\n");
        assert_eq!(bed.take_output(x), "MSG x 1 1\r\na\r\nMSG y 2 1\r\nd\r\n");
        let accounts = &bed.view().accounts();
        let clients = |name: &str| accounts.iter().find(|a| &*a.name == name).unwrap().clients;
        assert_eq!((clients("A"), clients("B")), (1, 2));
        bed.hang_up(x);
        let accounts = bed.view().accounts();
        for account in &accounts {
            assert_eq!(account.subscriptions.count, 0, "{}", account.name);
        }
    }

    #[test]
    fn account_limits() {
        let limits = AccountLimits {
            max_connections: 1,
            max_subscriptions: 1,
            max_payload: 4,
        };
        let mut bed = TestBed::new(two_accounts(limits));
        let first = connect(&mut bed, "a");
        bed.feed(first, "SUB x 1\r\nSUB y 2\r\n");
        assert_eq!(
            bed.take_output(first),
            "-ERR 'maximum subscriptions exceeded'\r\n"
        );
        bed.feed(first, "PING\r\n");
        let info = bed.take_output(first);
        assert!(info.starts_with("PONG\r\nINFO {"), "{info}");
        assert!(info.contains("\"max_payload\":4,"), "{info}");
        bed.feed(first, "PING\r\n");
        assert_eq!(bed.take_output(first), "PONG\r\n");
        bed.feed(first, "PUB x 5\r\nhello\r\n");
        assert_eq!(
            bed.take_output(first),
            "-ERR 'Maximum Payload Violation'\r\n"
        );
        let second = connect(&mut bed, "a");
        assert_eq!(
            bed.take_output(second),
            "-ERR 'maximum account active connections exceeded'\r\n"
        );
        assert_eq!(
            bed.closing(second).map(|c| c.reason),
            Some(CloseReason::MaxAccountConnectionsExceeded)
        );
        // Other accounts are not limited.
        let b = connect(&mut bed, "b");
        bed.feed(b, "SUB x 1\r\nSUB y 2\r\nPUB x 5\r\nhello\r\n");
        assert_eq!(bed.take_output(b), "MSG x 1 5\r\nhello\r\n");
    }

    #[test]
    fn no_subscriptions_allowed_closes_at_connect() {
        let limits = AccountLimits {
            max_subscriptions: 0,
            ..AccountLimits::default()
        };
        let mut bed = TestBed::new(two_accounts(limits));
        let a = connect(&mut bed, "a");
        assert_eq!(
            bed.take_output(a),
            "-ERR 'maximum subscriptions exceeded'\r\n"
        );
        assert_eq!(
            bed.closing(a).map(|c| c.reason),
            Some(CloseReason::MaxSubscriptionsExceeded)
        );
    }

    fn with_accounts(names: &[&str]) -> Options {
        Options {
            accounts: names
                .iter()
                .map(|n| AccountOptions {
                    name: n.to_string(),
                    ..AccountOptions::default()
                })
                .collect(),
            ..Options::default()
        }
    }

    #[test]
    fn global_and_system_accounts_always_exist() {
        let accounts = Accounts::new(&with_accounts(&["A"])).unwrap();
        let names: Vec<_> = {
            let mut n: Vec<_> = accounts.all().iter().map(|a| a.name.to_string()).collect();
            n.sort();
            n
        };
        assert_eq!(names, ["$G", "$SYS", "A"]);
        assert!(accounts.get(b"$G").unwrap().is_global());
        assert!(accounts.get(b"a").is_none());
        assert_eq!(accounts.system_name(), Some("$SYS"));
    }

    #[test]
    fn system_account_must_be_configured() {
        let mut opts = with_accounts(&["SYS"]);
        opts.system_account = Some("SYS".into());
        let accounts = Accounts::new(&opts).unwrap();
        assert_eq!(accounts.system_name(), Some("SYS"));
        assert!(accounts.get(b"$SYS").is_none());
        opts.system_account = Some("NOPE".into());
        let err = Accounts::new(&opts).err().unwrap();
        assert_eq!(err, "error resolving system account: account missing");
        let opts = Options {
            no_system_account: true,
            ..Options::default()
        };
        let accounts = Accounts::new(&opts).unwrap();
        assert_eq!(accounts.all().len(), 1);
        assert_eq!(accounts.system_name(), None);
    }

    #[test]
    fn reconfiguring_keeps_accounts_and_their_indexes() {
        let accounts = Accounts::new(&with_accounts(&["A"])).unwrap();
        let a = accounts.get(b"A").unwrap();
        accounts.configure(&with_accounts(&["A", "B"]));
        assert!(Arc::ptr_eq(&a, &accounts.get(b"A").unwrap()));
        let b = accounts.get(b"B").unwrap();
        assert_ne!(a.index, b.index);
        accounts.configure(&with_accounts(&["B"]));
        assert!(
            accounts.get(b"A").is_none(),
            "removed from the configuration"
        );
        assert_eq!(accounts.all().len(), 3, "$G, $SYS and B");
        accounts.configure(&with_accounts(&["A", "B"]));
        assert_ne!(
            accounts.get(b"A").unwrap().index,
            a.index,
            "a new account A"
        );
    }
}
