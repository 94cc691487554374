//! A connection's unwritten output as a short queue of buffers ("chunks"), written with
//! one `writev` per call.
//!
//! Bytes framed on the owner reactor are appended to the last chunk until it holds
//! [`CHUNK`] bytes; a batch another reactor handed over joins the queue as its own chunk,
//! moved rather than copied. Chunks leave the queue as soon as they are written, so a
//! connection holds about what it has not yet written, not the high-water mark of one
//! buffer that grew for a burst and is refilled while the next batch waits beside it.
//! Up to [`SPARES`] emptied chunks are kept for reuse (see [`OutQueue::take_spare`]).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

/// Bytes appended to one chunk before the next one starts. A socket write of this much
/// costs one system call either way; bigger chunks only keep more memory per connection.
pub const CHUNK: usize = 64 * 1024;

/// What a message's control line (`MSG`/`HMSG` with subject, sid, reply and sizes) may
/// add to its data, as the size hint given to [`OutQueue::tail`].
pub const FRAME_SLACK: usize = 256;

/// The largest emptied buffer kept for reuse, here and in the hand-over's staging pool (a
/// staging buffer of a busy turn, or a chunk that grew for one big message, goes back to
/// the allocator).
pub const MAX_SPARE: usize = 256 * 1024;

/// A batch up to this size is copied onto the last chunk when it fits (request/reply's
/// many small batches stay one chunk); bigger ones are queued whole, not copied.
const COPY_MAX: usize = 4096;

/// Copies a small batch onto `last` if it fits there without growing it; whether it did.
/// The rule for joining batches, in an output queue and in a hand-over alike.
pub fn join_small(last: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let fits = bytes.len() <= COPY_MAX && last.len() + bytes.len() <= last.capacity();
    if fits {
        last.extend_from_slice(bytes);
    }
    fits
}

/// Emptied chunks a queue keeps for reuse, at most (here, and in a connection's hand-over
/// for the reactors handing it batches). Two, not one: the reactor handing a busy
/// connection its batches hands over about 1.5 batches per turn of the owner, and a batch
/// staged without an emptied buffer grows by reallocation, onto freshly faulted pages
/// (A/B, TLS 1 KB 1 -> 1: 0.97x the CPU per message).
pub const SPARES: usize = 2;

/// Chunks given to one `writev`.
const MAX_SLICES: usize = 64;

/// See the module documentation.
#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the first chunk already written.
    wpos: usize,
    /// Bytes in the chunks before the last one (so `unsent` is O(1) however long the
    /// queue of a slow consumer grows).
    settled: usize,
    /// Emptied chunks for the next output (or for the reactors handing batches over).
    spares: Vec<Vec<u8>>,
}

impl OutQueue {
    /// The buffer to append about `additional` bytes to: the last chunk, unless it is
    /// full (then a new one, a spare if there is one).
    #[inline]
    pub fn tail(&mut self, additional: usize) -> &mut Vec<u8> {
        // Full: not empty, and the bytes would make it grow past `CHUNK`.
        let full = match self.chunks.back() {
            Some(last) => {
                let needed = last.len() + additional;
                !last.is_empty() && needed > last.capacity() && needed > CHUNK
            }
            None => true,
        };
        if full {
            self.start_chunk();
        }
        match self.chunks.back_mut() {
            Some(last) => last,
            None => unreachable!("a chunk was just pushed"),
        }
    }

    /// Appends bytes.
    #[inline]
    pub fn extend(&mut self, bytes: &[u8]) {
        self.tail(bytes.len()).extend_from_slice(bytes);
    }

    /// Appends a whole buffer (a hand-over batch, a greeting): queued as it is, or copied
    /// into the last chunk when it is small and fits there (then kept as a spare).
    pub fn append(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.unsent() == 0 {
            // Only an emptied chunk (or none) is queued: the batch takes its place.
            self.recycle_written();
        } else if let Some(last) = self.chunks.back_mut() {
            if join_small(last, &bytes) {
                self.offer_spare(bytes);
                return;
            }
        }
        self.push(bytes);
    }

    /// Starts a new last chunk (a spare, if there is one).
    #[cold]
    #[inline(never)]
    fn start_chunk(&mut self) {
        let fresh = self.spares.pop().unwrap_or_default();
        self.push(fresh);
    }

    fn push(&mut self, chunk: Vec<u8>) {
        if let Some(last) = self.chunks.back() {
            self.settled += last.len();
        }
        self.chunks.push_back(chunk);
    }

    /// Bytes queued and not yet written.
    #[inline]
    pub fn unsent(&self) -> usize {
        let last = self.chunks.back().map_or(0, Vec::len);
        self.settled + last - self.wpos
    }

    /// The memory the queue holds (for the server's outbound total).
    pub fn held(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(Vec::capacity).sum();
        let spares: usize = self.spares.iter().map(Vec::capacity).sum();
        chunks + spares
    }

    /// Marks `n` more bytes written, letting go of the chunks that are done.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(first) = self.chunks.front() else {
                return;
            };
            let left = first.len() - self.wpos;
            if n < left {
                self.wpos += n;
                return;
            }
            n -= left;
            self.wpos = 0;
            if self.chunks.len() == 1 {
                // The last chunk stays in place, emptied, for what comes next (unless a
                // big message made it big).
                if self.chunks[0].capacity() <= MAX_SPARE {
                    self.chunks[0].clear();
                } else {
                    self.chunks.clear();
                }
                return;
            }
            if let Some(done) = self.chunks.pop_front() {
                self.settled -= done.len();
                self.offer_spare(done);
            }
        }
    }

    /// Keeps an emptied chunk for reuse, unless [`SPARES`] are kept or it is oversized.
    fn offer_spare(&mut self, mut chunk: Vec<u8>) {
        let capacity = chunk.capacity();
        if self.spares.len() < SPARES && capacity > 0 && capacity <= MAX_SPARE {
            chunk.clear();
            self.spares.push(chunk);
        }
    }

    /// Moves the (written, emptied) chunks out of the queue, to be reused.
    fn recycle_written(&mut self) {
        while let Some(chunk) = self.chunks.pop_front() {
            self.offer_spare(chunk);
        }
        self.settled = 0;
        self.wpos = 0;
    }

    /// Gives an emptied chunk away (to the reactor that hands this connection its
    /// batches: it stages the next one in it).
    pub fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spares.pop()
    }

    /// Once everything is written: gives back all the memory the queue holds.
    pub fn release(&mut self) {
        if self.unsent() == 0 {
            *self = OutQueue::default();
        }
    }

    /// The first unwritten bytes (one chunk's worth at most).
    pub fn front(&self) -> &[u8] {
        self.chunks.front().map_or(&[], |first| &first[self.wpos..])
    }

    /// Writes what the socket takes with one `writev`; returns the bytes written.
    pub fn write_to(&mut self, sock: &mut impl Write) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        for (i, chunk) in self.chunks.iter().take(MAX_SLICES).enumerate() {
            let from = if i == 0 { self.wpos } else { 0 };
            if from < chunk.len() {
                slices[count] = IoSlice::new(&chunk[from..]);
                count += 1;
            }
        }
        if count == 0 {
            return Ok(0);
        }
        let n = sock.write_vectored(&slices[..count])?;
        self.advance(n);
        Ok(n)
    }

    /// Takes every unwritten byte out, as if written (tests read output this way).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn take_all(&mut self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.unsent());
        while !self.front().is_empty() {
            let front = self.front().to_vec();
            all.extend_from_slice(&front);
            self.advance(front.len());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `limit` bytes per call.
    struct Trickle {
        taken: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let n = bytes.len().min(self.limit);
            self.taken.extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    /// Appended bytes, copied and moved, come out in order whatever the socket takes per
    /// call, and `unsent` counts what is left at every step.
    #[test]
    fn bytes_come_out_in_order_in_any_write_sizes() {
        for limit in [1, 7, 4096, CHUNK - 1, CHUNK + 1, 10 * CHUNK] {
            let mut queue = OutQueue::default();
            let mut expected = Vec::new();
            for round in 0..6u8 {
                let small = pattern(100 + usize::from(round), round);
                queue.extend(&small);
                expected.extend_from_slice(&small);
                let batch = pattern(CHUNK / 2 + 3 * usize::from(round) * 1000, round + 50);
                queue.append(batch.clone());
                expected.extend_from_slice(&batch);
                let big = pattern(3 * CHUNK / 2, round + 100);
                queue.tail(big.len()).extend_from_slice(&big);
                expected.extend_from_slice(&big);
            }
            assert_eq!(queue.unsent(), expected.len());
            let mut sock = Trickle {
                taken: Vec::new(),
                limit,
            };
            while queue.unsent() > 0 {
                let before = queue.unsent();
                let n = queue.write_to(&mut sock).unwrap();
                assert!(n > 0);
                assert_eq!(queue.unsent(), before - n, "limit {limit}");
            }
            assert_eq!(sock.taken, expected, "limit {limit}");
        }
    }

    /// A chunk stops growing at `CHUNK`: more bytes start a new one, and written chunks
    /// are let go (up to `SPARES` kept for reuse), so the memory held follows the
    /// unwritten bytes.
    #[test]
    fn written_chunks_are_let_go() {
        let mut queue = OutQueue::default();
        let message = [b'm'; 1000];
        for _ in 0..(32 * CHUNK / message.len()) {
            queue.extend(&message);
        }
        assert!(queue.chunks.iter().all(|c| c.capacity() <= 2 * CHUNK));
        assert!(queue.held() >= 32 * CHUNK);
        let mut sink = Trickle {
            taken: Vec::new(),
            limit: usize::MAX,
        };
        let mut left = queue.unsent();
        while left > CHUNK {
            let mut one = Trickle {
                taken: Vec::new(),
                limit: CHUNK,
            };
            left -= queue.write_to(&mut one).unwrap();
        }
        // The partly written chunk, the one after it and the spares.
        assert!(
            queue.held() <= 2 * 2 * CHUNK + SPARES * MAX_SPARE,
            "held {}",
            queue.held()
        );
        queue.write_to(&mut sink).unwrap();
        assert_eq!(queue.unsent(), 0);
        assert!(queue.held() <= 2 * CHUNK + SPARES * MAX_SPARE);
        queue.release();
        assert_eq!(queue.held(), 0);
    }

    /// A batch appended to a drained queue replaces the emptied chunk (kept as a spare,
    /// which `take_spare` gives away once).
    #[test]
    fn a_batch_on_a_drained_queue_reuses_nothing_twice() {
        let mut queue = OutQueue::default();
        queue.extend(&[b'a'; 10]);
        let mut sink = Trickle {
            taken: Vec::new(),
            limit: usize::MAX,
        };
        queue.write_to(&mut sink).unwrap();
        queue.append(vec![b'b'; 100]);
        assert_eq!(queue.front(), &[b'b'; 100][..]);
        assert!(queue.take_spare().is_some());
        assert!(queue.take_spare().is_none());
    }
}
