//! Delivery checking.
//!
//! Every payload starts with an 8-byte stamp: the publisher id (16 bits) and the
//! publisher's sequence number (48 bits), little-endian. A [`Checker`] sits on
//! one subscriber and records every stamp it sees; at the end of the run it is
//! finished against the number of messages each publisher sent:
//!
//! * [`Checker::finish`] for a subscriber that must see every message exactly
//!   once and in per-publisher order (pubsub, fanout, route, subs, reqrep);
//! * [`finish_group`] for the members of a queue group, where each member sees
//!   an in-order subset and the union must hold every message exactly once.
//!
//! A checker expects publishers `0..n`, or (see [`Checker::first_publisher`]) a
//! range of ids further on: the accounts scenario gives each account's
//! publishers ids of their own, so that a message delivered into another
//! account is a violation, not just one message too many.

use std::fmt;

/// Bytes taken by the stamp at the start of every payload.
pub const STAMP_LEN: usize = 8;

/// Highest sequence number a checker accepts; anything above is corruption.
const MAX_SEQ: u64 = 1 << 31;

/// How many violations a failure keeps in full (the rest are only counted).
const KEPT: usize = 8;

/// Writes the stamp for (`publisher`, `seq`) at the start of `payload`.
pub fn stamp(payload: &mut [u8], publisher: u16, seq: u64) {
    let word = (u64::from(publisher) << 48) | (seq & ((1 << 48) - 1));
    payload[..STAMP_LEN].copy_from_slice(&word.to_le_bytes());
}

/// Reads the (publisher, seq) stamp of a payload, if it is long enough.
pub fn read_stamp(payload: &[u8]) -> Option<(u16, u64)> {
    let bytes: [u8; STAMP_LEN] = payload.get(..STAMP_LEN)?.try_into().ok()?;
    let word = u64::from_le_bytes(bytes);
    Some(((word >> 48) as u16, word & ((1 << 48) - 1)))
}

/// One way a delivery went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `count` consecutive messages from `seq` on never arrived.
    Missing {
        publisher: u16,
        seq: u64,
        count: u64,
    },
    /// The message arrived more than once (at one subscriber, or at two
    /// members of a queue group).
    Duplicate { publisher: u16, seq: u64 },
    /// The message arrived after a later one from the same publisher.
    Reorder {
        publisher: u16,
        seq: u64,
        after: u64,
    },
    /// Something that no publisher sent (wrong size, publisher, sequence).
    Unexpected { what: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Missing {
                publisher,
                seq,
                count: 1,
            } => {
                write!(f, "publisher {publisher} seq {seq}: lost")
            }
            Violation::Missing {
                publisher,
                seq,
                count,
            } => {
                write!(
                    f,
                    "publisher {publisher} seq {seq}..={}: lost",
                    seq + count - 1
                )
            }
            Violation::Duplicate { publisher, seq } => {
                write!(f, "publisher {publisher} seq {seq}: duplicated")
            }
            Violation::Reorder {
                publisher,
                seq,
                after,
            } => {
                write!(
                    f,
                    "publisher {publisher} seq {seq}: reordered (after seq {after})"
                )
            }
            Violation::Unexpected { what } => write!(f, "unexpected message: {what}"),
        }
    }
}

/// A failed delivery check: who saw it, and what went wrong.
#[derive(Debug)]
pub struct Failure {
    /// The scenario and subscriber, e.g. `pubsub subscriber 2`.
    pub who: String,
    /// The first few violations, in the order found.
    pub violations: Vec<Violation>,
    /// How many violations there were in all.
    pub total: u64,
    /// The violations by kind (a lost run counts each message).
    pub tally: Tally,
}

/// Violations counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages that never arrived.
    pub lost: u64,
    /// Messages that arrived more than once.
    pub duplicated: u64,
    /// Messages that arrived after a later one of their publisher.
    pub reordered: u64,
    /// Messages no publisher sent.
    pub unexpected: u64,
}

impl Tally {
    /// Counts `n` violations of `v`'s kind.
    fn count(&mut self, v: &Violation, n: u64) {
        match v {
            Violation::Missing { .. } => self.lost += n,
            Violation::Duplicate { .. } => self.duplicated += n,
            Violation::Reorder { .. } => self.reordered += n,
            Violation::Unexpected { .. } => self.unexpected += n,
        }
    }

    /// Adds another tally's counts to this one.
    pub fn add(&mut self, other: &Tally) {
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.unexpected += other.unexpected;
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} delivery violation(s): ", self.who, self.total)?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        if self.total > self.violations.len() as u64 {
            f.write_str("; ...")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// A growable set of sequence numbers.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    /// Sets `i`; returns whether it was already set.
    fn insert(&mut self, i: u64) -> bool {
        let word = (i / 64) as usize;
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let mask = 1 << (i % 64);
        let was = self.0[word] & mask != 0;
        self.0[word] |= mask;
        was
    }

    fn contains(&self, i: u64) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// What one subscriber has seen of one publisher.
#[derive(Default)]
struct Track {
    seen: Bits,
    /// Highest sequence seen so far.
    last: Option<u64>,
}

/// Records the stamps one subscriber receives and finds violations.
pub struct Checker {
    who: String,
    size: usize,
    /// The id of the publisher of `tracks[0]`.
    first: u16,
    tracks: Vec<Track>,
    received: u64,
    violations: Vec<Violation>,
    total: u64,
    tally: Tally,
}

impl Checker {
    /// A checker for `who`, expecting payloads of `size` bytes from
    /// publishers `0..publishers`.
    pub fn new(who: impl Into<String>, publishers: usize, size: usize) -> Checker {
        Checker {
            who: who.into(),
            size,
            first: 0,
            tracks: (0..publishers).map(|_| Track::default()).collect(),
            received: 0,
            violations: Vec::new(),
            total: 0,
            tally: Tally::default(),
        }
    }

    /// The same checker expecting publishers `first..first + publishers`
    /// instead: messages of any other publisher are violations.
    pub fn first_publisher(mut self, first: u16) -> Checker {
        self.first = first;
        self
    }

    /// Messages recorded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The scenario and subscriber this checker belongs to.
    pub fn who(&self) -> &str {
        &self.who
    }

    fn violation(&mut self, v: Violation) {
        self.violations_of(v, 1);
    }

    /// Counts `n` violations of `v`'s kind and keeps `v` (while fewer than [`KEPT`] are).
    fn violations_of(&mut self, v: Violation, n: u64) {
        self.total += n;
        self.tally.count(&v, n);
        self.keep(v);
    }

    /// Keeps `v` in full while fewer than [`KEPT`] are.
    fn keep(&mut self, v: Violation) {
        if self.violations.len() < KEPT {
            self.violations.push(v);
        }
    }

    /// Records one delivered payload.
    pub fn record(&mut self, payload: &[u8]) {
        self.received += 1;
        if payload.len() != self.size {
            let what = format!("payload of {} bytes, expected {}", payload.len(), self.size);
            return self.violation(Violation::Unexpected { what });
        }
        let Some((publisher, seq)) = read_stamp(payload) else {
            return self.violation(Violation::Unexpected {
                what: "no stamp".into(),
            });
        };
        let index = publisher.checked_sub(self.first).map(usize::from);
        let Some(track) = index.and_then(|i| self.tracks.get_mut(i)) else {
            let what = match self.tracks.len() {
                0 => format!("publisher {publisher} seq {seq} (no publisher expected)"),
                n => format!(
                    "publisher {publisher} seq {seq} (not one of publishers {}..={})",
                    self.first,
                    usize::from(self.first) + n - 1
                ),
            };
            return self.violation(Violation::Unexpected { what });
        };
        if seq > MAX_SEQ {
            let what = format!("publisher {publisher} seq {seq} (out of range)");
            return self.violation(Violation::Unexpected { what });
        }
        let dup = track.seen.insert(seq);
        match track.last {
            Some(last) if seq <= last => {
                let v = if dup {
                    Violation::Duplicate { publisher, seq }
                } else {
                    Violation::Reorder {
                        publisher,
                        seq,
                        after: last,
                    }
                };
                self.violation(v);
            }
            _ => track.last = Some(seq),
        }
    }

    fn into_result(self) -> Result<(), Failure> {
        if self.total == 0 {
            return Ok(());
        }
        Err(Failure {
            who: self.who,
            violations: self.violations,
            total: self.total,
            tally: self.tally,
        })
    }

    /// Each expected publisher's id, index in `tracks`, and how many messages
    /// it sent (`sent[id]`; none beyond the end of `sent`).
    fn expected(&self, sent: &[u64]) -> Vec<(u16, usize, u64)> {
        (0..self.tracks.len())
            .map(|i| {
                let id = usize::from(self.first) + i;
                (id as u16, i, sent.get(id).copied().unwrap_or(0))
            })
            .collect()
    }

    /// Flags sequences at or beyond what each publisher sent.
    fn check_beyond(&mut self, sent: &[u64]) {
        for (publisher, i, n) in self.expected(sent) {
            match self.tracks[i].last {
                Some(last) if last >= n => {
                    let what = format!("publisher {publisher} seq {last} (only {n} sent)");
                    self.violation(Violation::Unexpected { what });
                }
                _ => {}
            }
        }
    }

    /// Finishes a subscriber that must have seen every message of its
    /// publishers exactly once in order; `sent[p]` is how many messages
    /// publisher `p` sent (indexed by id, whatever the checker's first id).
    pub fn finish(mut self, sent: &[u64]) -> Result<(), Failure> {
        self.check_beyond(sent);
        for (publisher, i, n) in self.expected(sent) {
            let missing = missing_runs(n, |seq| self.tracks[i].seen.contains(seq));
            for (seq, count) in missing {
                let v = Violation::Missing {
                    publisher,
                    seq,
                    count,
                };
                self.violations_of(v, count);
            }
        }
        self.into_result()
    }
}

/// Runs of sequence numbers below `n` for which `seen` is false.
fn missing_runs(n: u64, seen: impl Fn(u64) -> bool) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for seq in (0..n).filter(|&seq| !seen(seq)) {
        match runs.last_mut() {
            Some((start, count)) if *start + *count == seq => *count += 1,
            _ => runs.push((seq, 1)),
        }
    }
    runs
}

/// Finishes the members of a queue group: each member must have seen its
/// share in order, and together they must have seen every message exactly
/// once. `who` names the group in the failure. The members expect
/// publishers from 0 on (a queue group lies within one subject space).
pub fn finish_group(who: &str, members: Vec<Checker>, sent: &[u64]) -> Result<(), Failure> {
    let mut group = Checker::new(who, sent.len(), 0);
    for mut member in members {
        member.check_beyond(sent);
        group.total += member.total;
        group.tally.add(&member.tally);
        for v in member.violations.drain(..) {
            group.keep(v);
        }
        for (publisher, track) in member.tracks.into_iter().enumerate() {
            let union = &mut group.tracks[publisher].seen.0;
            if union.len() < track.seen.0.len() {
                union.resize(track.seen.0.len(), 0);
            }
            let mut dups = Vec::new();
            for (i, (u, w)) in union.iter_mut().zip(&track.seen.0).enumerate() {
                let both = *u & w;
                if both != 0 {
                    dups.push((
                        i as u64 * 64 + u64::from(both.trailing_zeros()),
                        both.count_ones(),
                    ));
                }
                *u |= w;
            }
            for (seq, count) in dups {
                let v = Violation::Duplicate {
                    publisher: publisher as u16,
                    seq,
                };
                group.violations_of(v, u64::from(count));
            }
        }
    }
    group.finish(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 16;

    fn payload(publisher: u16, seq: u64) -> Vec<u8> {
        let mut p = vec![0; SIZE];
        stamp(&mut p, publisher, seq);
        p
    }

    fn run(seqs: &[(u16, u64)], sent: &[u64]) -> Result<(), Failure> {
        let mut c = Checker::new("test subscriber 0", sent.len(), SIZE);
        for &(p, s) in seqs {
            c.record(&payload(p, s));
        }
        c.finish(sent)
    }

    #[test]
    fn stamp_round_trips() {
        assert_eq!(read_stamp(&payload(7, 123_456_789)), Some((7, 123_456_789)));
        assert_eq!(read_stamp(&[1, 2, 3]), None);
    }

    #[test]
    fn correct_interleaved_sequence_passes() {
        let seqs = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)];
        run(&seqs, &[3, 3]).unwrap();
    }

    #[test]
    fn missing_message_fails() {
        let err = run(&[(0, 0), (0, 1), (0, 3)], &[4]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Missing {
                publisher: 0,
                seq: 2,
                count: 1
            }]
        );
        assert!(err.to_string().contains("test subscriber 0"), "{err}");
        // A lost tail is missing too.
        let err = run(&[(0, 0)], &[3]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Missing {
                publisher: 0,
                seq: 1,
                count: 2
            }]
        );
        assert_eq!(err.total, 2);
        assert_eq!(
            err.tally,
            Tally {
                lost: 2,
                ..Tally::default()
            }
        );
    }

    #[test]
    fn duplicated_message_fails() {
        let err = run(&[(0, 0), (0, 1), (0, 1), (0, 2)], &[3]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Duplicate {
                publisher: 0,
                seq: 1
            }]
        );
    }

    #[test]
    fn reordered_message_fails() {
        let err = run(&[(0, 0), (0, 2), (0, 1), (0, 3)], &[4]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Reorder {
                publisher: 0,
                seq: 1,
                after: 2
            }]
        );
    }

    #[test]
    fn foreign_messages_fail() {
        let mut c = Checker::new("t", 1, SIZE);
        c.record(&payload(5, 0));
        c.record(&[0; 3]);
        c.record(&payload(0, 0));
        c.record(&payload(0, 1));
        let err = c.finish(&[1]).unwrap_err();
        assert_eq!(err.total, 3);
        assert!(err
            .violations
            .iter()
            .all(|v| matches!(v, Violation::Unexpected { .. })));
    }

    /// A checker of publishers 2..=3 (another account's being 0..=1) takes a
    /// message of publisher 1 for a violation even when its own are complete.
    #[test]
    fn messages_of_other_publishers_fail() {
        let mut c = Checker::new("A1 subscriber 0", 2, SIZE).first_publisher(2);
        for (p, s) in [(2, 0), (3, 0), (1, 0), (2, 1), (3, 1)] {
            c.record(&payload(p, s));
        }
        let err = c.finish(&[1, 1, 2, 2]).unwrap_err();
        assert_eq!(err.total, 1);
        assert_eq!(
            err.violations,
            [Violation::Unexpected {
                what: "publisher 1 seq 0 (not one of publishers 2..=3)".into()
            }]
        );
        // Its own publishers' losses name their ids.
        let mut c = Checker::new("A1 subscriber 0", 2, SIZE).first_publisher(2);
        c.record(&payload(2, 0));
        let err = c.finish(&[0, 0, 1, 1]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Missing {
                publisher: 3,
                seq: 0,
                count: 1
            }]
        );
    }

    #[test]
    fn queue_group_union_is_checked() {
        let member = |seqs: &[u64]| {
            let mut c = Checker::new("q", 1, SIZE);
            seqs.iter().for_each(|&s| c.record(&payload(0, s)));
            c
        };
        finish_group("q", vec![member(&[0, 2, 4]), member(&[1, 3])], &[5]).unwrap();
        let err = finish_group("q", vec![member(&[0, 2]), member(&[1, 2, 3])], &[4]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Duplicate {
                publisher: 0,
                seq: 2
            }]
        );
        assert_eq!(err.tally.duplicated, 1);
        let err = finish_group("q", vec![member(&[0, 2]), member(&[3])], &[4]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Missing {
                publisher: 0,
                seq: 1,
                count: 1
            }]
        );
        let err = finish_group("q", vec![member(&[0, 3, 2]), member(&[1])], &[4]).unwrap_err();
        assert_eq!(
            err.violations,
            [Violation::Reorder {
                publisher: 0,
                seq: 2,
                after: 3
            }]
        );
    }
}
