//! The subscription trie, its shared (locked, versioned) form, and the per-reactor match cache.
//!
//! * [`Sublist`] is a trie with one level per subject token. Each node has a hash map from
//!   literal token to child plus separate `*` and `>` children, and holds the subscriptions
//!   whose subject ends there. Nodes left empty by a removal are freed at once, so churn
//!   (a fresh `_INBOX.<id>` subscription per request) does not leak memory.
//! * [`SharedSublist`] wraps it in an `RwLock`, with an atomic generation number bumped on every
//!   change and a bounded log of the subject patterns changed at each generation.
//! * [`MatchCache`] is owned by one reactor thread. A hit costs one atomic load and one hash
//!   lookup. When the generation moves, the cache replays the change log and evicts only the
//!   cached subjects that a changed pattern matches, so unrelated subscription churn keeps it warm.
//!
//! Subscriptions are stored in `Vec`s and removed by equality (linear in the number of
//! subscriptions on the same subject and queue group). Matching recurses only into `*`
//! branches, and removal once per token, so stack depth is bounded by the token count of the
//! subjects involved, which the protocol's control-line limit bounds in turn.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::subject;

/// Token separator.
const SEP: u8 = b'.';
/// Number of changed patterns the shared change log keeps.
const CHANGE_LOG_CAPACITY: usize = 1024;
/// Containers at least this large are shrunk when mostly empty.
const SHRINK_MIN_CAPACITY: usize = 64;

/// Builds [`FastHasher`]s with a per-process random seed.
#[derive(Clone, Copy)]
struct FastHash {
    seed: u64,
}

impl Default for FastHash {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed = *SEED.get_or_init(|| RandomState::new().build_hasher().finish());
        Self { seed }
    }
}

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher { hash: self.seed }
    }
}

/// A small, fast, non-cryptographic hasher: one folded 64x64->128 multiply per 8 input bytes.
struct FastHasher {
    hash: u64,
}

impl FastHasher {
    /// Mixes one 64-bit word into the state.
    fn add(&mut self, word: u64) {
        let product = u128::from(self.hash ^ word) * 0x9e37_79b9_7f4a_7c15;
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map using [`FastHash`].
type FastMap<K, V> = HashMap<K, V, FastHash>;

/// Splits off the first token: `(token, rest after the separator)`, rest `None` at the end.
fn split_token(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == SEP) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Releases memory of a vector that has become mostly empty.
fn shrink_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() >= SHRINK_MIN_CAPACITY && v.len() * 4 < v.capacity() {
        v.shrink_to(v.len() * 2);
    }
}

/// Removes one element equal to `item`; returns whether there was one.
fn remove_one<T: PartialEq>(v: &mut Vec<T>, item: &T) -> bool {
    let Some(i) = v.iter().position(|x| x == item) else {
        return false;
    };
    v.swap_remove(i);
    shrink_sparse(v);
    true
}

/// Subscribers that match one subject: plain subscribers and one Vec per queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult<T> {
    /// Every plain (non-queue) matching subscriber.
    pub plain: Vec<T>,
    /// One non-empty Vec per distinct queue group name, holding all its matching members.
    pub queues: Vec<Vec<T>>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> MatchResult<T> {
    /// Whether nothing matched (no plain subscriber and no queue group).
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// How many deliveries a message gets: one per plain subscriber and per queue group.
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }
}

/// The members of one queue group at one node.
struct QueueGroup<T> {
    name: Box<[u8]>,
    members: Vec<T>,
}

/// The subscriptions whose subject ends at one node.
struct Subs<T> {
    plain: Vec<T>,
    queues: Vec<QueueGroup<T>>,
}

impl<T: PartialEq> Subs<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    fn insert(&mut self, queue: Option<&[u8]>, item: T) {
        let Some(name) = queue else {
            self.plain.push(item);
            return;
        };
        match self.queues.iter_mut().find(|g| &*g.name == name) {
            Some(group) => group.members.push(item),
            None => self.queues.push(QueueGroup {
                name: name.into(),
                members: vec![item],
            }),
        }
    }

    fn remove(&mut self, queue: Option<&[u8]>, item: &T) -> bool {
        let Some(name) = queue else {
            return remove_one(&mut self.plain, item);
        };
        let Some(i) = self.queues.iter().position(|g| &*g.name == name) else {
            return false;
        };
        let group = &mut self.queues[i];
        let removed = remove_one(&mut group.members, item);
        if group.members.is_empty() {
            self.queues.swap_remove(i);
        }
        removed
    }
}

/// One trie node: the subscriptions ending here and the children for the next token.
struct Node<T> {
    subs: Subs<T>,
    literal: FastMap<Box<[u8]>, Node<T>>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            subs: Subs {
                plain: Vec::new(),
                queues: Vec::new(),
            },
            literal: FastMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<T: Clone + PartialEq> Node<T> {
    fn is_empty(&self) -> bool {
        self.subs.is_empty() && self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    /// The child for `token`, created if missing.
    fn child_or_insert(&mut self, token: &[u8]) -> &mut Node<T> {
        match token {
            b"*" => self.pwc.get_or_insert_with(Box::default),
            b">" => self.fwc.get_or_insert_with(Box::default),
            _ => self.literal.entry(token.into()).or_default(),
        }
    }

    /// Adds every subscription of this subtree matching the publish subject `rest` (whose
    /// tokens are all non-empty). Follows literal children in a loop, recursing only for `*`.
    fn collect<'a>(&'a self, rest: &[u8], out: &mut Collector<'a, T>) {
        let mut node = self;
        let mut rest = rest;
        loop {
            let (token, tail) = split_token(rest);
            if let Some(fwc) = &node.fwc {
                out.add(&fwc.subs);
            }
            if let Some(pwc) = &node.pwc {
                pwc.collect_at(tail, out);
            }
            let Some(child) = node.literal.get(token) else {
                return;
            };
            match tail {
                Some(tail) => (node, rest) = (child, tail),
                None => return out.add(&child.subs),
            }
        }
    }

    /// Collects this node's own subscriptions if the subject ends here, else matches below.
    fn collect_at<'a>(&'a self, tail: Option<&[u8]>, out: &mut Collector<'a, T>) {
        match tail {
            Some(tail) => self.collect(tail, out),
            None => out.add(&self.subs),
        }
    }

    /// Removes one subscription on the pattern `rest` below this node, pruning empty children.
    fn remove(&mut self, rest: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let (token, tail) = split_token(rest);
        match token {
            b"*" => Self::remove_boxed(&mut self.pwc, tail, queue, item),
            b">" => Self::remove_boxed(&mut self.fwc, tail, queue, item),
            _ => self.remove_literal(token, tail, queue, item),
        }
    }

    /// Removes from this node's own subscriptions if the pattern ends here, else below.
    fn remove_at(&mut self, tail: Option<&[u8]>, queue: Option<&[u8]>, item: &T) -> bool {
        match tail {
            Some(tail) => self.remove(tail, queue, item),
            None => self.subs.remove(queue, item),
        }
    }

    fn remove_boxed(
        slot: &mut Option<Box<Node<T>>>,
        tail: Option<&[u8]>,
        queue: Option<&[u8]>,
        item: &T,
    ) -> bool {
        let Some(child) = slot else {
            return false;
        };
        let removed = child.remove_at(tail, queue, item);
        if removed && child.is_empty() {
            *slot = None;
        }
        removed
    }

    fn remove_literal(
        &mut self,
        token: &[u8],
        tail: Option<&[u8]>,
        queue: Option<&[u8]>,
        item: &T,
    ) -> bool {
        let Some(child) = self.literal.get_mut(token) else {
            return false;
        };
        let removed = child.remove_at(tail, queue, item);
        if removed && child.is_empty() {
            self.literal.remove(token);
            self.shrink_literal();
        }
        removed
    }

    /// Releases the literal map's memory once it has become mostly empty.
    fn shrink_literal(&mut self) {
        let (len, cap) = (self.literal.len(), self.literal.capacity());
        if cap >= SHRINK_MIN_CAPACITY && len * 4 < cap {
            self.literal.shrink_to(len * 2);
        }
    }
}

/// Accumulates a [`MatchResult`], merging queue groups of the same name across nodes.
struct Collector<'a, T> {
    plain: Vec<T>,
    queues: Vec<(&'a [u8], Vec<T>)>,
}

impl<'a, T: Clone> Collector<'a, T> {
    fn new() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    fn add(&mut self, subs: &'a Subs<T>) {
        self.plain.extend_from_slice(&subs.plain);
        for group in &subs.queues {
            match self
                .queues
                .iter_mut()
                .find(|(name, _)| **name == *group.name)
            {
                Some((_, members)) => members.extend_from_slice(&group.members),
                None => self.queues.push((&group.name, group.members.clone())),
            }
        }
    }

    fn finish(self) -> MatchResult<T> {
        MatchResult {
            plain: self.plain,
            queues: self
                .queues
                .into_iter()
                .map(|(_, members)| members)
                .collect(),
        }
    }
}

/// The subscription trie. Not synchronized itself; see [`SharedSublist`].
pub struct Sublist<T> {
    root: Node<T>,
    count: usize,
}

impl<T: Clone + PartialEq> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq> Sublist<T> {
    /// An empty sublist.
    pub fn new() -> Self {
        Self {
            root: Node::default(),
            count: 0,
        }
    }

    /// Adds `item` on `subject` (already checked with [`subject::is_valid_subject`]), in queue
    /// group `queue` if given. An invalid subject is stored but never matches.
    pub fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>, item: T) {
        let mut node = &mut self.root;
        for token in subject.split(|&b| b == SEP) {
            node = node.child_or_insert(token);
        }
        node.subs.insert(queue, item);
        self.count += 1;
    }

    /// Removes one entry equal to `item` on `subject` and `queue`; returns whether it was there.
    /// Nodes left empty are freed.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let removed = self.root.remove(subject, queue, item);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Uncached match of a publish subject. Subjects with empty tokens match nothing.
    pub fn match_subject(&self, subject: &[u8]) -> MatchResult<T> {
        let mut out = Collector::new();
        if !subject::has_empty_token(subject) {
            self.root.collect(subject, &mut out);
        }
        out.finish()
    }

    /// Number of stored subscriptions.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// One logged change: a subject pattern inserted or removed at a generation.
struct Change {
    generation: u64,
    pattern: Vec<u8>,
}

/// The bounded log of changed patterns, oldest first.
struct ChangeLog {
    entries: VecDeque<Change>,
    /// Highest generation some of whose changes have been dropped from the log.
    dropped_through: u64,
}

impl ChangeLog {
    fn new() -> Self {
        Self {
            entries: VecDeque::with_capacity(CHANGE_LOG_CAPACITY),
            dropped_through: 0,
        }
    }

    /// Logs `pattern` as changed at `generation`, reusing the oldest entry's buffer when full.
    fn record(&mut self, generation: u64, pattern: &[u8]) {
        let mut buf = Vec::new();
        if self.entries.len() >= CHANGE_LOG_CAPACITY {
            if let Some(oldest) = self.entries.pop_front() {
                self.dropped_through = oldest.generation;
                buf = oldest.pattern;
                buf.clear();
            }
        }
        buf.extend_from_slice(pattern);
        self.entries.push_back(Change {
            generation,
            pattern: buf,
        });
    }

    /// The patterns changed after `generation`, or `None` if the log no longer reaches back.
    fn since(&self, generation: u64) -> Option<impl Iterator<Item = &[u8]>> {
        if self.dropped_through > generation {
            return None;
        }
        let start = self.entries.partition_point(|c| c.generation <= generation);
        Some(self.entries.range(start..).map(|c| c.pattern.as_slice()))
    }
}

/// What the lock of a [`SharedSublist`] guards.
struct Shared<T> {
    list: Sublist<T>,
    log: ChangeLog,
    inserts: u64,
    removes: u64,
}

/// Subscription totals of a [`SharedSublist`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SublistTotals {
    /// Subscriptions stored now.
    pub count: usize,
    /// Insertions since the start.
    pub inserts: u64,
    /// Removals since the start.
    pub removes: u64,
}

impl SublistTotals {
    /// Adds another sublist's totals to these.
    pub fn add(&mut self, other: &SublistTotals) {
        self.count += other.count;
        self.inserts += other.inserts;
        self.removes += other.removes;
    }
}

/// The sublist as the server shares it: an `RwLock`ed [`Sublist`] plus an atomic generation
/// number (bumped on every change) and a bounded log of the subject patterns changed at each
/// generation, so that [`MatchCache`]s can invalidate precisely without locking on a hit.
pub struct SharedSublist<T> {
    inner: RwLock<Shared<T>>,
    generation: AtomicU64,
}

impl<T: Clone + PartialEq> Default for SharedSublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq> SharedSublist<T> {
    /// An empty shared sublist at generation 0.
    pub fn new() -> Self {
        Self {
            inner: RwLock::new(Shared {
                list: Sublist::new(),
                log: ChangeLog::new(),
                inserts: 0,
                removes: 0,
            }),
            generation: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Shared<T>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Shared<T>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation the next change will publish; call with the write lock held.
    fn next_generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed) + 1
    }

    /// Adds `item` on `subject` (already validated), in queue group `queue` if given.
    pub fn insert(&self, subject: &[u8], queue: Option<&[u8]>, item: T) {
        let mut guard = self.write();
        let shared = &mut *guard;
        let generation = self.next_generation();
        shared.list.insert(subject, queue, item);
        shared.inserts += 1;
        shared.log.record(generation, subject);
        self.generation.store(generation, Ordering::Release);
    }

    /// Removes one entry equal to `item`; returns whether it was there. The generation moves
    /// only if something was removed.
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        self.remove_counted([(subject, queue, item)]) == [true]
    }

    /// Removes many entries under one write lock (used when a connection with many
    /// subscriptions closes); says for each whether it was there. The generation moves
    /// once, if anything was removed.
    pub fn remove_batch<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>, &'a T)>,
    ) -> Vec<bool>
    where
        T: 'a,
    {
        self.remove_counted(items)
    }

    /// Removes entries under one write lock and one generation; says for each whether it
    /// was there.
    fn remove_counted<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>, &'a T)>,
    ) -> Vec<bool>
    where
        T: 'a,
    {
        let mut guard = self.write();
        let shared = &mut *guard;
        let generation = self.next_generation();
        let mut found = Vec::new();
        for (subject, queue, item) in items {
            let was_there = shared.list.remove(subject, queue, item);
            if was_there {
                shared.log.record(generation, subject);
            }
            found.push(was_there);
        }
        let removed = found.iter().filter(|f| **f).count();
        if removed > 0 {
            shared.removes += removed as u64;
            self.generation.store(generation, Ordering::Release);
        }
        found
    }

    /// Number of stored subscriptions.
    pub fn count(&self) -> usize {
        self.read().list.count()
    }

    /// Whether any subscription matches publish subject `subject` (not cached).
    pub fn matches_any(&self, subject: &[u8]) -> bool {
        !self.read().list.match_subject(subject).is_empty()
    }

    /// Stored subscriptions, insertions and removals.
    pub fn totals(&self) -> SublistTotals {
        let shared = self.read();
        SublistTotals {
            count: shared.list.count(),
            inserts: shared.inserts,
            removes: shared.removes,
        }
    }

    /// The current generation (one atomic load).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A per-reactor (single-thread, no locks of its own) cache: subject -> `Arc<MatchResult<T>>`.
/// Use one cache with one [`SharedSublist`] only.
pub struct MatchCache<T> {
    entries: FastMap<Box<[u8]>, Arc<MatchResult<T>>>,
    /// The last subject answered and its result: a burst on one subject costs a byte
    /// comparison instead of a hash lookup. Valid only at `generation`.
    last_subject: Vec<u8>,
    last_result: Option<Arc<MatchResult<T>>>,
    /// The shared generation the cached results are consistent with.
    generation: u64,
    max_entries: usize,
    hits: u64,
    misses: u64,
    /// How many cached results have each fanout (for the maximum and the sum).
    fanouts: BTreeMap<usize, usize>,
}

/// What a [`MatchCache`] has done and holds, for `/subsz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Cached subjects.
    pub entries: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to match in the sublist.
    pub misses: u64,
    /// Largest fanout of a cached result.
    pub max_fanout: usize,
    /// Sum of the cached results' fanouts.
    pub fanout_sum: usize,
}

impl CacheStats {
    /// Adds another cache's statistics to these.
    pub fn add(&mut self, other: &CacheStats) {
        self.entries += other.entries;
        self.hits += other.hits;
        self.misses += other.misses;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
        self.fanout_sum += other.fanout_sum;
    }
}

impl<T: Clone + PartialEq> MatchCache<T> {
    /// An empty cache holding at most `max_entries` subjects (0 disables caching).
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: FastMap::default(),
            last_subject: Vec::new(),
            last_result: None,
            generation: 0,
            max_entries,
            hits: 0,
            misses: 0,
            fanouts: BTreeMap::new(),
        }
    }

    /// Returns the match for publish subject `subject`.
    ///
    /// Fast path: one atomic load and one hash lookup, no lock. If the generation moved, takes
    /// the read lock once, evicts the cached subjects matched by the patterns changed since (or
    /// everything if the change log no longer reaches back), and on a miss computes the match
    /// under that same lock. When full, drops about half of the entries.
    pub fn lookup(&mut self, shared: &SharedSublist<T>, subject: &[u8]) -> Arc<MatchResult<T>> {
        if shared.generation() == self.generation {
            if let Some(last) = &self.last_result {
                if self.last_subject == subject {
                    self.hits += 1;
                    return Arc::clone(last);
                }
            }
            if let Some(result) = self.entries.get(subject) {
                self.hits += 1;
                let result = Arc::clone(result);
                self.remember_last(subject, &result);
                return result;
            }
        }
        self.last_result = None;
        let result = self.lookup_locked(shared, subject);
        if self.max_entries > 0 {
            self.remember_last(subject, &result);
        }
        result
    }

    fn remember_last(&mut self, subject: &[u8], result: &Arc<MatchResult<T>>) {
        self.last_subject.clear();
        self.last_subject.extend_from_slice(subject);
        self.last_result = Some(Arc::clone(result));
    }

    /// Number of cached subjects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every cached result (they hold the subscriptions they matched, and through
    /// them connections that may have closed since).
    pub fn clear(&mut self) {
        self.entries = FastMap::default();
        self.last_subject = Vec::new();
        self.last_result = None;
        self.fanouts.clear();
    }

    /// Whether no subject is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Lookups that had to match in the sublist.
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Entries, hits, misses and fanouts.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            hits: self.hits,
            misses: self.misses,
            max_fanout: self.fanouts.last_key_value().map_or(0, |(f, _)| *f),
            fanout_sum: self.fanouts.iter().map(|(f, n)| f * n).sum(),
        }
    }

    /// The slow path of [`lookup`](Self::lookup): catch up and look up under the read lock.
    fn lookup_locked(&mut self, shared: &SharedSublist<T>, subject: &[u8]) -> Arc<MatchResult<T>> {
        let guard = shared.read();
        self.catch_up(&guard.log, shared.generation());
        if let Some(result) = self.entries.get(subject) {
            self.hits += 1;
            return Arc::clone(result);
        }
        self.misses += 1;
        let result = Arc::new(guard.list.match_subject(subject));
        drop(guard);
        self.store(subject, Arc::clone(&result));
        result
    }

    /// Brings the cache to `generation` by replaying the change log (read lock held).
    fn catch_up(&mut self, log: &ChangeLog, generation: u64) {
        if generation == self.generation {
            return;
        }
        if !self.entries.is_empty() {
            match log.since(self.generation) {
                Some(patterns) => patterns.for_each(|p| self.evict_matching(p)),
                None => {
                    self.entries.clear();
                    self.fanouts.clear();
                }
            }
        }
        self.generation = generation;
    }

    /// Drops the cached subjects that subscription pattern `pattern` matches.
    fn evict_matching(&mut self, pattern: &[u8]) {
        if subject::is_literal(pattern) {
            if let Some(result) = self.entries.remove(pattern) {
                forget_fanout(&mut self.fanouts, &result);
            }
        } else {
            let fanouts = &mut self.fanouts;
            self.entries.retain(|cached, result| {
                let keep = !subject::matches(pattern, cached);
                if !keep {
                    forget_fanout(fanouts, result);
                }
                keep
            });
        }
    }

    /// Caches `result` for `subject`, first dropping about half of the entries if full.
    fn store(&mut self, subject: &[u8], result: Arc<MatchResult<T>>) {
        if self.max_entries == 0 {
            return;
        }
        if self.entries.len() >= self.max_entries {
            let mut keep = false;
            let fanouts = &mut self.fanouts;
            self.entries.retain(|_, result| {
                keep = !keep;
                if !keep {
                    forget_fanout(fanouts, result);
                }
                keep
            });
        }
        *self.fanouts.entry(result.fanout()).or_default() += 1;
        if let Some(old) = self.entries.insert(subject.into(), result) {
            forget_fanout(&mut self.fanouts, &old);
        }
    }
}

/// Takes a result leaving the cache out of the fanout tally.
fn forget_fanout<T>(fanouts: &mut BTreeMap<usize, usize>, result: &MatchResult<T>) {
    let fanout = result.fanout();
    if let Some(n) = fanouts.get_mut(&fanout) {
        *n -= 1;
        if *n == 0 {
            fanouts.remove(&fanout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::sync::atomic::AtomicBool;
    use std::thread;

    /// A match result in canonical order, for comparisons.
    type Canon = (Vec<u32>, Vec<Vec<u32>>);

    fn canon(r: &MatchResult<u32>) -> Canon {
        let mut plain = r.plain.clone();
        plain.sort_unstable();
        let mut queues: Vec<Vec<u32>> = r
            .queues
            .iter()
            .map(|q| {
                let mut q = q.clone();
                q.sort_unstable();
                q
            })
            .collect();
        queues.sort();
        (plain, queues)
    }

    fn canon_match(s: &Sublist<u32>, subject: &str) -> Canon {
        canon(&s.match_subject(subject.as_bytes()))
    }

    fn plain(s: &Sublist<u32>, subject: &str) -> Vec<u32> {
        canon_match(s, subject).0
    }

    impl<T> Node<T> {
        fn node_count(&self) -> usize {
            1 + self.literal.values().map(Node::node_count).sum::<usize>()
                + self.pwc.as_ref().map_or(0, |n| n.node_count())
                + self.fwc.as_ref().map_or(0, |n| n.node_count())
        }
    }

    #[test]
    fn literal_match() {
        let mut s = Sublist::new();
        s.insert(b"foo.bar", None, 1);
        s.insert(b"foo.bar", None, 2);
        s.insert(b"foo.baz", None, 3);
        s.insert(b"foo", None, 4);
        assert_eq!(plain(&s, "foo.bar"), [1, 2]);
        assert_eq!(plain(&s, "foo.baz"), [3]);
        assert_eq!(plain(&s, "foo"), [4]);
        assert!(plain(&s, "foo.bar.baz").is_empty());
        assert!(plain(&s, "bar").is_empty());
        assert_eq!(s.count(), 4);
    }

    #[test]
    fn pwc_match() {
        let mut s = Sublist::new();
        s.insert(b"foo.*", None, 1);
        s.insert(b"*.bar", None, 2);
        s.insert(b"*", None, 3);
        s.insert(b"foo.*.baz", None, 4);
        assert_eq!(plain(&s, "foo.bar"), [1, 2]);
        assert_eq!(plain(&s, "foo.x"), [1]);
        assert_eq!(plain(&s, "foo"), [3]);
        assert_eq!(plain(&s, "foo.x.baz"), [4]);
        assert!(plain(&s, "foo.x.y").is_empty());
    }

    #[test]
    fn fwc_match() {
        let mut s = Sublist::new();
        s.insert(b">", None, 1);
        s.insert(b"foo.>", None, 2);
        s.insert(b"foo.*.>", None, 3);
        assert_eq!(plain(&s, "foo"), [1]);
        assert_eq!(plain(&s, "foo.bar"), [1, 2]);
        assert_eq!(plain(&s, "foo.bar.baz"), [1, 2, 3]);
        assert_eq!(plain(&s, "bar.baz"), [1]);
    }

    #[test]
    fn mixed_match() {
        let mut s = Sublist::new();
        for (i, p) in [
            "a.b.c", "a.*.c", "a.b.*", "*.*.*", "a.>", "*.b.>", ">", "a.b",
        ]
        .iter()
        .enumerate()
        {
            s.insert(p.as_bytes(), None, i as u32);
        }
        assert_eq!(plain(&s, "a.b.c"), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(plain(&s, "a.b"), [4, 6, 7]);
        assert_eq!(plain(&s, "x.b.c"), [3, 5, 6]);
    }

    #[test]
    fn publish_wildcards_are_literal() {
        let mut s = Sublist::new();
        s.insert(b"foo.bar", None, 1);
        s.insert(b"foo.*", None, 2);
        s.insert(b"foo.>", None, 3);
        s.insert(b"b*r", None, 4);
        assert_eq!(plain(&s, "foo.*"), [2, 3]);
        assert_eq!(plain(&s, "foo.>"), [2, 3]);
        assert_eq!(plain(&s, "b*r"), [4]);
        assert!(plain(&s, "bar").is_empty());
    }

    #[test]
    fn empty_tokens_match_nothing() {
        let mut s = Sublist::new();
        s.insert(b">", None, 1);
        s.insert(b"foo.*", None, 2);
        for subject in ["", ".", "foo.", ".foo", "foo..bar"] {
            assert!(
                s.match_subject(subject.as_bytes()).is_empty(),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn queue_groups_merge_across_nodes() {
        let mut s = Sublist::new();
        s.insert(b"foo.bar", Some(b"q1"), 1);
        s.insert(b"foo.*", Some(b"q1"), 2);
        s.insert(b"foo.>", Some(b"q2"), 3);
        s.insert(b"foo.bar", Some(b"q2"), 4);
        s.insert(b"foo.bar", None, 5);
        s.insert(b"foo.bar", Some(b"q3"), 6);
        let (plain, queues) = canon_match(&s, "foo.bar");
        assert_eq!(plain, [5]);
        assert_eq!(queues, [vec![1, 2], vec![3, 4], vec![6]]);
        let (plain, queues) = canon_match(&s, "foo.baz");
        assert!(plain.is_empty());
        assert_eq!(queues, [vec![2], vec![3]]);
    }

    #[test]
    fn remove_entries() {
        let mut s = Sublist::new();
        s.insert(b"foo.bar", None, 1);
        s.insert(b"foo.bar", None, 1);
        s.insert(b"foo.*", Some(b"q"), 2);
        assert!(!s.remove(b"foo.bar", None, &9));
        assert!(!s.remove(b"foo.bar", Some(b"q"), &1));
        assert!(!s.remove(b"foo.*", None, &2));
        assert!(!s.remove(b"foo.*", Some(b"r"), &2));
        assert!(!s.remove(b"nope.x", None, &1));
        assert!(s.remove(b"foo.bar", None, &1));
        assert_eq!(plain(&s, "foo.bar"), [1]);
        assert!(s.remove(b"foo.bar", None, &1));
        assert!(!s.remove(b"foo.bar", None, &1));
        assert!(s.remove(b"foo.*", Some(b"q"), &2));
        assert!(s.match_subject(b"foo.bar").is_empty());
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn remove_frees_empty_nodes() {
        let mut s = Sublist::new();
        s.insert(b"a.b.c", None, 1);
        s.insert(b"a.*.>", Some(b"q"), 2);
        s.insert(b"a.b", None, 3);
        // root, a, a.b, a.b.c, a.*, a.*.>
        assert_eq!(s.root.node_count(), 6);
        assert!(s.remove(b"a.b.c", None, &1));
        assert_eq!(s.root.node_count(), 5);
        assert!(s.remove(b"a.*.>", Some(b"q"), &2));
        assert_eq!(s.root.node_count(), 3);
        assert!(s.remove(b"a.b", None, &3));
        assert_eq!(s.root.node_count(), 1);
        assert!(s.root.is_empty());
    }

    #[test]
    fn inbox_churn_does_not_leak() {
        let mut s = Sublist::new();
        s.insert(b"_INBOX.keep", None, 0);
        for i in 1..5000u32 {
            s.insert(format!("_INBOX.{i}").as_bytes(), None, i);
        }
        for i in 1..5000u32 {
            assert!(s.remove(format!("_INBOX.{i}").as_bytes(), None, &i));
        }
        for i in 0..100_000u32 {
            let subject = format!("_INBOX.r{i}.x");
            s.insert(subject.as_bytes(), None, i);
            assert!(s.remove(subject.as_bytes(), None, &i));
        }
        assert_eq!(s.root.node_count(), 3);
        let inbox = &s.root.literal[&b"_INBOX"[..]];
        assert!(
            inbox.literal.capacity() < SHRINK_MIN_CAPACITY,
            "{}",
            inbox.literal.capacity()
        );
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn invalid_patterns_are_stored_but_never_match() {
        let mut s = Sublist::new();
        for p in ["", "foo..bar", "foo.>.bar", ".x"] {
            s.insert(p.as_bytes(), None, 1);
        }
        for subject in ["", "foo..bar", "foo.x.bar", "foo.>.bar", ".x", "x"] {
            assert!(
                s.match_subject(subject.as_bytes()).is_empty(),
                "{subject:?}"
            );
        }
        for p in ["", "foo..bar", "foo.>.bar", ".x"] {
            assert!(s.remove(p.as_bytes(), None, &1));
        }
        assert!(s.root.is_empty());
    }

    #[test]
    fn shared_generation_moves_on_change_only() {
        let shared = SharedSublist::new();
        assert_eq!(shared.generation(), 0);
        shared.insert(b"foo", None, 1);
        assert_eq!(shared.generation(), 1);
        assert!(!shared.remove(b"foo", None, &2));
        assert_eq!(shared.generation(), 1);
        assert!(shared.remove(b"foo", None, &1));
        assert_eq!(shared.generation(), 2);
        assert_eq!(shared.count(), 0);
    }

    #[test]
    fn remove_batch_removes_all() {
        let shared = SharedSublist::new();
        let subjects: Vec<String> = (0..50).map(|i| format!("s.{i}")).collect();
        for (i, subject) in subjects.iter().enumerate() {
            shared.insert(subject.as_bytes(), Some(b"q"), i as u32);
        }
        shared.insert(b"s.*", None, 99);
        let ids: Vec<u32> = (0..50).collect();
        let before = shared.generation();
        shared.remove_batch(
            subjects
                .iter()
                .zip(&ids)
                .map(|(s, i)| (s.as_bytes(), Some(&b"q"[..]), i)),
        );
        assert_eq!(shared.generation(), before + 1);
        assert_eq!(shared.count(), 1);
        shared.remove_batch([(&b"nope"[..], None, &1u32)]);
        assert_eq!(shared.generation(), before + 1);
    }

    #[test]
    fn cache_hits_and_precise_invalidation() {
        let shared = SharedSublist::new();
        let mut cache = MatchCache::new(1024);
        shared.insert(b"foo.bar", None, 1);
        let first = cache.lookup(&shared, b"foo.bar");
        assert_eq!(first.plain, [1]);
        assert_eq!((cache.hits(), cache.misses()), (0, 1));
        let again = cache.lookup(&shared, b"foo.bar");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((cache.hits(), cache.misses()), (1, 1));

        shared.insert(b"_INBOX.x", None, 7);
        assert!(shared.remove(b"_INBOX.x", None, &7));
        shared.insert(b"_INBOX.*.y", None, 8);
        let warm = cache.lookup(&shared, b"foo.bar");
        assert!(Arc::ptr_eq(&first, &warm));
        assert_eq!((cache.hits(), cache.misses()), (2, 1));

        shared.insert(b"foo.*", None, 2);
        let fresh = cache.lookup(&shared, b"foo.bar");
        assert_eq!((cache.hits(), cache.misses()), (2, 2));
        assert_eq!(canon(&fresh).0, [1, 2]);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_literal_change_evicts_only_that_subject() {
        let shared = SharedSublist::new();
        let mut cache = MatchCache::new(16);
        shared.insert(b">", None, 1);
        cache.lookup(&shared, b"a");
        cache.lookup(&shared, b"b");
        shared.insert(b"a", None, 2);
        assert_eq!(canon(&cache.lookup(&shared, b"a")).0, [1, 2]);
        assert_eq!(cache.lookup(&shared, b"b").plain, [1]);
        assert_eq!((cache.hits(), cache.misses()), (1, 3));
        assert!(shared.remove(b">", None, &1));
        assert_eq!(cache.lookup(&shared, b"a").plain, [2]);
        assert!(cache.lookup(&shared, b"b").is_empty());
    }

    #[test]
    fn cache_clears_when_log_is_outrun() {
        let shared = SharedSublist::new();
        let mut cache = MatchCache::new(16);
        shared.insert(b"foo", None, 1);
        cache.lookup(&shared, b"foo");
        for i in 0..CHANGE_LOG_CAPACITY as u32 + 10 {
            shared.insert(format!("other.{i}").as_bytes(), None, i);
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lookup(&shared, b"foo").plain, [1]);
        assert_eq!((cache.hits(), cache.misses()), (0, 2));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_is_bounded() {
        let shared = SharedSublist::new();
        shared.insert(b">", None, 1);
        let mut cache = MatchCache::new(8);
        for i in 0..100 {
            assert_eq!(cache.lookup(&shared, format!("s{i}").as_bytes()).plain, [1]);
            assert!(cache.len() <= 8);
        }
        let mut off = MatchCache::new(0);
        assert_eq!(off.lookup(&shared, b"x").plain, [1]);
        assert!(off.is_empty());
    }

    #[test]
    fn cache_stats_track_fanout_through_evictions() {
        let shared = SharedSublist::new();
        let mut cache = MatchCache::new(4);
        shared.insert(b"a.>", None, 1);
        shared.insert(b"a.b", None, 2);
        shared.insert(b"a.b", Some(b"q".as_slice()), 3);
        cache.lookup(&shared, b"a.b");
        cache.lookup(&shared, b"a.c");
        cache.lookup(&shared, b"a.c");
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.hits, stats.misses), (2, 1, 2));
        assert_eq!((stats.max_fanout, stats.fanout_sum), (3, 4));
        assert!(shared.remove(b"a.b", None, &2));
        cache.lookup(&shared, b"a.c");
        let stats = cache.stats();
        assert_eq!(
            (stats.entries, stats.max_fanout, stats.fanout_sum),
            (1, 1, 1)
        );
        for i in 0..10 {
            cache.lookup(&shared, format!("a.{i}").as_bytes());
        }
        let stats = cache.stats();
        assert!(stats.entries <= 4);
        assert_eq!(
            stats.fanout_sum, stats.entries,
            "every cached result has fanout 1"
        );
        assert_eq!(
            shared.totals(),
            SublistTotals {
                count: 2,
                inserts: 3,
                removes: 1
            }
        );
    }

    /// A random valid subscription pattern over a small alphabet.
    fn random_pattern(rng: &mut Rng) -> String {
        let n = 1 + rng.below(3);
        let mut tokens: Vec<&str> = (0..n).map(|_| ["a", "b", "c", "*"][rng.below(4)]).collect();
        if rng.below(4) == 0 {
            tokens.push(">");
        }
        tokens.join(".")
    }

    /// A random publish subject, sometimes with literal wildcard tokens or empty tokens.
    fn random_subject(rng: &mut Rng) -> String {
        const TOKENS: [&str; 7] = ["a", "b", "c", "d", "*", ">", ""];
        let n = 1 + rng.below(4);
        let alphabet = if rng.below(8) == 0 { 7 } else { 4 };
        let tokens: Vec<&str> = (0..n).map(|_| TOKENS[rng.below(alphabet)]).collect();
        tokens.join(".")
    }

    /// The expected match, by brute force over the live entries.
    fn brute_force(live: &[(String, Option<&[u8]>, u32)], subject: &str) -> Canon {
        let mut plain = Vec::new();
        let mut groups: Vec<(&[u8], Vec<u32>)> = Vec::new();
        for (pattern, queue, item) in live {
            if !subject::matches(pattern.as_bytes(), subject.as_bytes()) {
                continue;
            }
            match queue {
                None => plain.push(*item),
                Some(q) => match groups.iter_mut().find(|(name, _)| name == q) {
                    Some((_, members)) => members.push(*item),
                    None => groups.push((q, vec![*item])),
                },
            }
        }
        let queues = groups.into_iter().map(|(_, members)| members).collect();
        canon(&MatchResult { plain, queues })
    }

    #[test]
    fn randomized_cache_agrees_with_trie_and_brute_force() {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        let shared = SharedSublist::new();
        let mut big = MatchCache::new(1024);
        let mut small = MatchCache::new(4);
        let mut live: Vec<(String, Option<&[u8]>, u32)> = Vec::new();
        let queues: [Option<&[u8]>; 3] = [None, Some(b"q1"), Some(b"q2")];
        for step in 0..4000u32 {
            if live.is_empty() || rng.below(5) < 3 {
                let entry = (random_pattern(&mut rng), queues[rng.below(3)], step % 17);
                shared.insert(entry.0.as_bytes(), entry.1, entry.2);
                live.push(entry);
            } else {
                let (pattern, queue, item) = live.swap_remove(rng.below(live.len()));
                assert!(shared.remove(pattern.as_bytes(), queue, &item));
            }
            if rng.below(50) == 0 {
                assert!(!shared.remove(random_pattern(&mut rng).as_bytes(), None, &99));
            }
            for _ in 0..8 {
                let subject = random_subject(&mut rng);
                let expected = brute_force(&live, &subject);
                let uncached = shared.read().list.match_subject(subject.as_bytes());
                assert_eq!(canon(&uncached), expected, "{subject}");
                assert_eq!(canon(&big.lookup(&shared, subject.as_bytes())), expected);
                assert_eq!(canon(&small.lookup(&shared, subject.as_bytes())), expected);
            }
        }
        assert_eq!(shared.count(), live.len());
        assert!(big.hits() > 1000, "{}", big.hits());
        assert!(small.len() <= 4);
    }

    /// The writer's operations in the threaded test; every one changes the sublist.
    fn threaded_ops() -> Vec<(bool, String, u32)> {
        let mut ops = Vec::new();
        for i in 0..1500u32 {
            ops.push((true, "foo.bar".to_string(), i));
            ops.push((true, format!("_INBOX.{i}"), i));
            ops.push((false, format!("_INBOX.{i}"), i));
            if i % 2 == 0 {
                ops.push((true, "foo.*".to_string(), i));
            } else {
                ops.push((false, "foo.*".to_string(), i - 1));
            }
            if i >= 3 {
                ops.push((false, "foo.bar".to_string(), i - 3));
            }
        }
        ops
    }

    #[test]
    fn threaded_readers_see_consistent_states() {
        const SUBJECTS: [&str; 3] = ["foo.bar", "foo.baz", "_INBOX.7"];
        let ops = threaded_ops();
        // expected[g][k]: the match for SUBJECTS[k] after the first g operations.
        let mut model = Sublist::new();
        let mut expected = vec![SUBJECTS.map(|s| canon_match(&model, s))];
        for (insert, subject, item) in &ops {
            if *insert {
                model.insert(subject.as_bytes(), None, *item);
            } else {
                assert!(model.remove(subject.as_bytes(), None, item));
            }
            expected.push(SUBJECTS.map(|s| canon_match(&model, s)));
        }

        let shared = SharedSublist::new();
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut cache = MatchCache::new(64);
                    let mut lookups = 0u64;
                    while !done.load(Ordering::Acquire) || lookups < 1000 {
                        for (k, subject) in SUBJECTS.iter().enumerate() {
                            let before = shared.generation() as usize;
                            let got = canon(&cache.lookup(&shared, subject.as_bytes()));
                            let after = shared.generation() as usize;
                            assert!(
                                (before..=after).any(|g| expected[g][k] == got),
                                "{subject} between generations {before} and {after}: {got:?}"
                            );
                            lookups += 1;
                        }
                    }
                    assert!(cache.hits() > 0);
                });
            }
            for (n, (insert, subject, item)) in ops.iter().enumerate() {
                if *insert {
                    shared.insert(subject.as_bytes(), None, *item);
                } else {
                    assert!(shared.remove(subject.as_bytes(), None, item));
                }
                if n % 64 == 0 {
                    thread::yield_now();
                }
            }
            done.store(true, Ordering::Release);
        });
        assert_eq!(shared.generation() as usize, ops.len());
    }
}
