//! Subject trie throughput: matches per second at 10k and 1M subscriptions, cached and
//! uncached, and subscribe/unsubscribe churn.
//!
//! Each size builds one [`Sublist`] and one [`SharedSublist`] holding the same subscriptions
//! (built once, lazily, outside the measured loop; the build time is printed to stderr):
//!
//! * 90% literal `svc.<n>.req`; 5% `svc.<n>.*`; 2% `svc.<n>.>`; 2% `*.<n>.req`;
//! * 1%: `svc.<n>.req` in queue group `workers`, three members each;
//! * one `svc.>` (an audit tap that every `svc` publish also matches).
//!
//! Items are `Arc`s compared by pointer, as the server's `SubRef`, so a match pays the same
//! reference-count traffic as in the server.
//!
//! Benchmarks (throughput in elements: matches, or requests for churn):
//!
//! * `match/uncached`: [`Sublist::match_subject`] over a hot set of 256 publish subjects
//!   spread over the whole key space (one in 16 matches nothing).
//! * `match/cached`: [`MatchCache::lookup`] over the same set, with a warm cache of the
//!   server's size (4096): one atomic load and one hash lookup per match.
//! * `match/shared_nocache`: [`MatchCache::lookup`] with caching disabled, i.e. the read lock
//!   plus the trie walk, as the server does on every cache miss.
//! * `churn/sub_unsub`: subscribe and unsubscribe a fresh `_INBOX.<id>` on the shared
//!   sublist (old-style request/reply inboxes).
//! * `churn/request_reply`: one whole request through a warm cache: subscribe the inbox,
//!   look up the request subject (the cache replays the change log), look up the inbox (the
//!   reply), unsubscribe.
//!
//! Run with `cargo bench --bench sublist`; for a short run,
//! `cargo bench --bench sublist -- --warm-up-time 1 --measurement-time 1`, or pass a filter
//! such as `cargo bench --bench sublist -- 10k` (the 1M trie is then never built).

use std::cell::OnceCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natsd::sublist::{MatchCache, SharedSublist, Sublist};

/// The server's per-reactor cache size (`server/reactor.rs`).
const CACHE_ENTRIES: usize = 4096;
/// Publish subjects in the hot set.
const HOT_SUBJECTS: usize = 256;
/// Distinct inbox subjects the churn benchmarks cycle through.
const INBOXES: usize = 4096;

/// A subscription handle compared by identity, like the server's `SubRef`.
#[derive(Clone)]
struct Sub(Arc<u64>);

impl PartialEq for Sub {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The subscriptions of one size, in both forms, plus the hot publish subjects.
struct Fixture {
    list: Sublist<Sub>,
    shared: SharedSublist<Sub>,
    hot: Vec<Vec<u8>>,
    inboxes: Vec<Vec<u8>>,
}

impl Fixture {
    fn build(n: usize) -> Fixture {
        let started = Instant::now();
        let mut list = Sublist::new();
        let shared = SharedSublist::new();
        let mut id = 0u64;
        let mut add = |subject: &[u8], queue: Option<&[u8]>| {
            id += 1;
            let sub = Sub(Arc::new(id));
            list.insert(subject, queue, sub.clone());
            shared.insert(subject, queue, sub);
        };
        for i in 0..n {
            match i % 100 {
                0..=89 => add(format!("svc.{i}.req").as_bytes(), None),
                90..=94 => add(format!("svc.{i}.*").as_bytes(), None),
                95..=96 => add(format!("svc.{i}.>").as_bytes(), None),
                97..=98 => add(format!("*.{i}.req").as_bytes(), None),
                _ => {
                    for _ in 0..3 {
                        add(format!("svc.{i}.req").as_bytes(), Some(b"workers"));
                    }
                }
            }
        }
        add(b"svc.>", None);
        assert_eq!(list.count(), shared.count());

        // A prime stride coprime with 100 visits every kind of subscription above.
        let hot: Vec<Vec<u8>> = (0..HOT_SUBJECTS)
            .map(|k| match k % 16 {
                15 => format!("metrics.host{k}.cpu").into_bytes(),
                _ => format!("svc.{}.req", (k * 104_729) % n).into_bytes(),
            })
            .collect();
        let inboxes = (0..INBOXES)
            .map(|k| format!("_INBOX.Xq5Yd2aLtP0vR8sW{k:06}").into_bytes())
            .collect();

        let matched: usize = hot
            .iter()
            .map(|s| {
                let r = list.match_subject(s);
                r.plain.len() + r.queues.iter().map(Vec::len).sum::<usize>()
            })
            .sum();
        eprintln!(
            "sublist fixture: {} subscriptions (x2 tries) built in {:.2?}; \
             {:.2} subscribers per hot-set match",
            list.count(),
            started.elapsed(),
            matched as f64 / HOT_SUBJECTS as f64,
        );
        Fixture {
            list,
            shared,
            hot,
            inboxes,
        }
    }
}

fn bench_sublist(c: &mut Criterion) {
    for (label, n) in [("10k", 10_000), ("1M", 1_000_000)] {
        let fixture = OnceCell::new();
        let fx = || fixture.get_or_init(|| Fixture::build(n));

        let mut group = c.benchmark_group("sublist/match");
        group.throughput(Throughput::Elements(HOT_SUBJECTS as u64));
        group.bench_function(BenchmarkId::new("uncached", label), |b| {
            let fx = fx();
            b.iter(|| {
                for subject in &fx.hot {
                    black_box(fx.list.match_subject(black_box(subject)));
                }
            });
        });
        let mut cache = MatchCache::new(CACHE_ENTRIES);
        group.bench_function(BenchmarkId::new("cached", label), |b| {
            let fx = fx();
            b.iter(|| {
                for subject in &fx.hot {
                    black_box(cache.lookup(&fx.shared, black_box(subject)));
                }
            });
        });
        let mut no_cache = MatchCache::new(0);
        group.bench_function(BenchmarkId::new("shared_nocache", label), |b| {
            let fx = fx();
            b.iter(|| {
                for subject in &fx.hot {
                    black_box(no_cache.lookup(&fx.shared, black_box(subject)));
                }
            });
        });
        group.finish();

        let mut group = c.benchmark_group("sublist/churn");
        group.throughput(Throughput::Elements(1));
        let inbox_sub = Sub(Arc::new(0));
        let mut next = 0;
        group.bench_function(BenchmarkId::new("sub_unsub", label), |b| {
            let fx = fx();
            b.iter(|| {
                let inbox = &fx.inboxes[next % INBOXES];
                next += 1;
                fx.shared.insert(inbox, None, inbox_sub.clone());
                assert!(fx.shared.remove(inbox, None, &inbox_sub));
            });
        });
        group.bench_function(BenchmarkId::new("request_reply", label), |b| {
            let fx = fx();
            b.iter(|| {
                let inbox = &fx.inboxes[next % INBOXES];
                let request = &fx.hot[next % HOT_SUBJECTS];
                next += 1;
                fx.shared.insert(inbox, None, inbox_sub.clone());
                black_box(cache.lookup(&fx.shared, request));
                black_box(cache.lookup(&fx.shared, inbox));
                assert!(fx.shared.remove(inbox, None, &inbox_sub));
            });
        });
        group.finish();
        if cache.hits() + cache.misses() > 0 {
            eprintln!(
                "sublist {label}: cache {} hits, {} misses, {} entries",
                cache.hits(),
                cache.misses(),
                cache.len()
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_sublist
}
criterion_main!(benches);
