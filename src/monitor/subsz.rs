//! `/subsz` (and its alias `/subscriptionsz`): sublist and match-cache statistics, with the
//! list of client subscriptions on request, filtered by a `test` subject and an account.

use std::time::SystemTime;

use serde::Serialize;

use super::accounts::find_account;
use super::params::{BadParam, Query, SubsOption};
use super::timefmt::rfc3339_nano;
use crate::server::{AccountSnapshot, ServerView, SubInfo, SubscriptionStats};
use crate::subject;

/// Subscriptions listed when `limit` is absent or not positive.
const DEFAULT_LIMIT: i64 = 1024;

/// One subscription in `/subsz`, `/connz?subs=detail` and closed connections.
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<String>,
    sid: String,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SubDetail {
    /// A subscription's detail; the account is named where the reference names it.
    pub fn of(sub: &SubInfo, with_account: bool) -> SubDetail {
        SubDetail {
            account: with_account.then(|| sub.account.to_string()),
            subject: sub.subject.clone(),
            qgroup: sub.queue.clone(),
            sid: sub.sid.clone(),
            msgs: sub.msgs,
            max: sub.max,
            cid: sub.cid,
        }
    }
}

/// The `subscriptions_list` and `subscriptions_list_detail` of a connection or route, as
/// `subs` asks (neither when it has no subscriptions).
pub fn sub_lists(
    subs: &[SubInfo],
    option: SubsOption,
    with_account: bool,
) -> (Option<Vec<String>>, Option<Vec<SubDetail>>) {
    match option {
        _ if subs.is_empty() => (None, None),
        SubsOption::None => (None, None),
        SubsOption::Subjects => (Some(subs.iter().map(|s| s.subject.clone()).collect()), None),
        SubsOption::Detail => (
            None,
            Some(
                subs.iter()
                    .map(|s| SubDetail::of(s, with_account))
                    .collect(),
            ),
        ),
    }
}

/// The sublist statistics object.
#[derive(Serialize, Default)]
pub struct SublistStats {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
}

impl SublistStats {
    /// The statistics of all accounts' sublists and the reactors' match caches.
    fn of(stats: SubscriptionStats) -> SublistStats {
        let (totals, caches) = (stats.totals, stats.caches);
        let matches = caches.hits + caches.misses;
        let ratio = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
        SublistStats {
            num_subscriptions: totals.count as u64,
            num_cache: caches.entries as u64,
            num_inserts: totals.inserts,
            num_removes: totals.removes,
            num_matches: matches,
            cache_hit_rate: ratio(caches.hits as f64, matches as f64),
            max_fanout: caches.max_fanout as u64,
            avg_fanout: ratio(caches.fanout_sum as f64, caches.entries as f64),
        }
    }

    /// The statistics of one account's sublist. The reactors keep match-cache statistics
    /// for all accounts together, so the cache figures of an account are zero.
    pub fn of_account(account: &AccountSnapshot) -> SublistStats {
        SublistStats::of(SubscriptionStats {
            totals: account.subscriptions,
            caches: Default::default(),
        })
    }
}

/// `/subsz` with a non-empty subscription list.
#[derive(Serialize)]
pub struct SubszList {
    server_id: String,
    now: String,
    #[serde(flatten)]
    stats: SublistStats,
    total: usize,
    offset: i64,
    limit: i64,
    subscriptions_list: Vec<SubDetail>,
}

/// The `/subsz` answer: the statistics alone, or with a list.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Subsz {
    Stats(SublistStats),
    List(SubszList),
}

/// Builds `/subsz`; a bad parameter is the plain-text 400 body.
pub fn subsz(view: &dyn ServerView, query: &Query) -> Result<Subsz, BadParam> {
    let with_list = query.bool("subs")?;
    let offset = query.int("offset")?.max(0);
    let limit = match query.int("limit")? {
        n if n <= 0 => DEFAULT_LIMIT,
        n => n,
    };
    let test = query.get("test");
    // The reference's `IsValidLiteralSubject`: no empty token and no wildcard token, but,
    // unlike a PUB subject, spaces and control characters allowed.
    let literal = |t: &[u8]| !subject::has_empty_token(t) && subject::is_literal(t);
    if !test.is_empty() && !literal(test.as_bytes()) {
        return Err(BadParam(format!(
            "invalid test subject, must be valid publish subject: {test}"
        )));
    }
    let (stats, account) = match query.get("acc") {
        "" => (SublistStats::of(view.subscription_stats()), None),
        name => match find_account(view, name) {
            Some(account) => (SublistStats::of_account(&account), Some(account.name)),
            // An unknown account has nothing: all-zero statistics.
            None => return Ok(Subsz::Stats(SublistStats::default())),
        },
    };
    if !with_list {
        return Ok(Subsz::Stats(stats));
    }
    let mut subs = view.subscriptions();
    subs.retain(|s| {
        account.as_ref().is_none_or(|a| s.account == *a)
            && (test.is_empty() || subject::matches(s.subject.as_bytes(), test.as_bytes()))
    });
    let len = subs.len() as i64;
    let (from, to) = (offset.min(len), offset.saturating_add(limit).min(len));
    let page: Vec<SubDetail> = subs[from as usize..to as usize]
        .iter()
        .map(|s| SubDetail::of(s, true))
        .collect();
    if page.is_empty() {
        return Ok(Subsz::Stats(stats));
    }
    Ok(Subsz::List(SubszList {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(SystemTime::now()),
        stats,
        total: page.len(),
        offset,
        limit,
        subscriptions_list: page,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::server::testbed::TestBed;

    fn listed(subsz: Subsz) -> Vec<String> {
        match subsz {
            Subsz::Stats(_) => Vec::new(),
            Subsz::List(list) => list
                .subscriptions_list
                .into_iter()
                .map(|s| s.subject)
                .collect(),
        }
    }

    fn stats_and_list(query: &str) -> (String, Vec<(String, String)>) {
        let bed = super::super::accounts::fixture::busy();
        let subsz = subsz(&bed.view(), &Query::parse(query)).expect("a subsz");
        let text = super::super::json::to_indented(&subsz);
        let list = match subsz {
            Subsz::Stats(_) => Vec::new(),
            Subsz::List(list) => list
                .subscriptions_list
                .into_iter()
                .map(|s| (s.account.unwrap_or_default(), s.subject))
                .collect(),
        };
        (text, list)
    }

    #[test]
    fn acc_keeps_one_accounts_table() {
        let (text, list) = stats_and_list("acc=B&subs=1");
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, s)| (a.to_string(), s.to_string()))
                .collect()
        };
        assert_eq!(list, pairs(&[("B", "foo"), ("B", "fromA.>"), ("B", "q.x")]));
        assert!(
            text.contains(
                "\n  \"num_subscriptions\": 3,\n  \"num_cache\": 0,\n  \"num_inserts\": 3,\n"
            ),
            "{text}"
        );
        let (_, list) = stats_and_list("acc=$G&subs=1");
        assert_eq!(list, pairs(&[("$G", "foo")]));
        let (_, list) = stats_and_list("subs=1&test=foo");
        let mut list = list;
        list.sort();
        assert_eq!(list, pairs(&[("$G", "foo"), ("A", "foo"), ("B", "foo")]));
        let (text, list) = stats_and_list("acc=NOPE&subs=1");
        assert!(list.is_empty());
        assert_eq!(
            text,
            "{\n  \"num_subscriptions\": 0,\n  \"num_cache\": 0,\n  \"num_inserts\": 0,\n  \"num_removes\": 0,\n  \"num_matches\": 0,\n  \"cache_hit_rate\": 0,\n  \"max_fanout\": 0,\n  \"avg_fanout\": 0\n}"
        );
    }

    #[test]
    fn a_test_subject_may_hold_spaces_as_in_the_reference() {
        let mut bed = TestBed::new(Options::default());
        let client = bed.client();
        bed.feed(
            client,
            "CONNECT {\"verbose\":false}\r\nSUB > 1\r\nSUB a.* 2\r\n",
        );
        let view = bed.view();
        let test = |query: &str| subsz(&view, &Query::parse(query)).map(listed);
        // 2.9.10 answers these (its literal-subject check looks at wildcards only).
        assert_eq!(test("subs=1&test=a+b.c"), Ok(vec![">".to_string()]));
        assert_eq!(
            test("subs=1&test=a.%09%00"),
            Ok(vec![">".to_string(), "a.*".to_string()])
        );
        for bad in ["a.*", ">", "a..b", ".a", "a."] {
            let query = format!("subs=1&test={bad}");
            assert_eq!(
                test(&query),
                Err(BadParam(format!(
                    "invalid test subject, must be valid publish subject: {bad}"
                ))),
                "{bad}"
            );
        }
    }
}
