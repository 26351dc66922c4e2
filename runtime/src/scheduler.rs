//! The timer scheduler: millions of pending timers spread over months, served in time order.
//!
//! # Design
//!
//! - A 4-ary min-heap (`Vec<Entry<K>>`) ordered by `(at, seq)`. `seq` is a counter assigned at
//!   scheduling and doubles as the [`TimerId`], so ties in time are served in scheduling order
//!   (FIFO) and the order never depends on anything but the calls made. A 4-ary heap has half
//!   the levels of a binary heap and its four children share one or two cache lines, which
//!   matters when the heap is hundreds of megabytes.
//! - A hash set of the ids of the live timers (scheduled, neither fired nor cancelled). It makes
//!   [`Scheduler::cancel`] O(1) and exact: cancelling an unknown, fired or cancelled id finds
//!   nothing and changes nothing. Cancellation is lazy: the heap entry stays behind as a
//!   tombstone (its id is no longer in the set) and is dropped when it reaches the top.
//! - Tombstones are bounded: when they exceed half of the heap, the heap is compacted. That is
//!   O(n) for n entries, but more than n/2 of them are tombstones, each left by a cancellation
//!   since the previous compaction: O(1) amortized per cancellation. Capacity is given back
//!   when a table drains to a quarter of it.
//!
//! Costs: `schedule` O(log n) (O(1) on average for random times), `pop_due` O(log n),
//! `cancel` O(1) amortized, `next_due` O(1) amortized, `len` O(1). Nothing scans.
//!
//! Memory: one 24-byte entry per pending timer for an 8-byte key (`at`, `seq`, `key`) plus
//! 9 bytes per hash-set slot (8-byte id and a control byte, at most 7/8 full), plus the growth
//! slack of both tables: [`Scheduler::memory_bytes`] counts capacities, so it is an upper bound
//! on what the allocator hands out.
//!
//! # Persistence
//!
//! The serialized form is canonical: the next id and the live timers sorted by `(at, id)`,
//! without tombstones, so two schedulers that would behave the same serialize to the same
//! bytes. Deserialization rebuilds the heap in O(n) and rejects inconsistent input (duplicate
//! ids, ids not below the next id) with an error instead of misbehaving later.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::Instant;

/// Identifies a scheduled timer, for cancellation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerId(u64);

/// Children per heap node.
const ARITY: usize = 4;

/// Below this capacity (in elements) the tables are never shrunk.
const MIN_SHRINK_CAPACITY: usize = 1024;

/// Width of a hash-table control group (SSE2); the table allocates this many extra control
/// bytes.
const HASH_GROUP_WIDTH: usize = 16;

/// One heap entry: when, the scheduling sequence number (the timer's id), and the key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry<K> {
    at: Instant,
    id: u64,
    key: K,
}

impl<K> Entry<K> {
    /// Whether `self` is served before `other`: earlier, or as early and scheduled first.
    #[inline]
    fn before(&self, other: &Self) -> bool {
        (self.at, self.id) < (other.at, other.id)
    }
}

/// Hasher for timer ids: the splitmix64 finalizer, a fixed bijective mix. Ids are consecutive
/// integers, so any good mix spreads them evenly; a fixed one keeps the scheduler free of
/// per-process randomness and costs a few cycles instead of SipHash's few dozen.
#[derive(Default, Clone, Copy, Debug)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

/// The set of live timer ids.
type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A deterministic timer queue: schedule keys at instants, cancel them by id, and take them
/// back in time order (ties in scheduling order) once due.
///
/// `K` is the payload handed back when a timer fires (typically a small `Copy` handle such as
/// a customer or instance index); it should be `Copy + Serialize + DeserializeOwned` to
/// persist the scheduler. See the [module documentation](self) for the design and costs.
#[derive(Clone, Debug)]
pub struct Scheduler<K> {
    /// 4-ary min-heap on `(at, id)` of live timers and tombstones of cancelled ones.
    heap: Vec<Entry<K>>,
    /// Ids of live timers. Every live id has exactly one entry in `heap`; the other entries
    /// of `heap` are tombstones, so `heap.len() - live.len()` is the tombstone count.
    live: IdSet,
    /// Id of the next scheduled timer.
    next_id: u64,
}

impl<K: Copy> Scheduler<K> {
    /// An empty scheduler. Allocates nothing until the first timer is scheduled.
    pub fn new() -> Self {
        Scheduler {
            heap: Vec::new(),
            live: IdSet::default(),
            next_id: 0,
        }
    }

    /// Schedules `key` at `at`; returns its id.
    ///
    /// Ids are unique for the first 2^64 timers (they wrap after that, which at a billion
    /// timers per second takes 584 years). Any instant is accepted, including ones in the
    /// past, which are due at once.
    pub fn schedule(&mut self, at: Instant, key: K) -> TimerId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.heap.push(Entry { at, id, key });
        sift_up(&mut self.heap);
        self.live.insert(id);
        TimerId(id)
    }

    /// Cancels a timer; cancelling an unknown, fired or cancelled timer does nothing.
    pub fn cancel(&mut self, id: TimerId) {
        if self.live.remove(&id.0) {
            // The entry stays in the heap as a tombstone until it reaches the top.
            self.after_removal();
        }
    }

    /// When the earliest live timer is due.
    ///
    /// Takes `&mut self` to drop the tombstones of cancelled timers it finds at the top.
    pub fn next_due(&mut self) -> Option<Instant> {
        loop {
            let top = self.heap.first()?;
            if self.live.contains(&top.id) {
                return Some(top.at);
            }
            self.pop_top();
        }
    }

    /// Removes and returns the earliest live timer due at or before `now` (ties FIFO).
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerId, K)> {
        loop {
            let top = *self.heap.first()?;
            if top.at > now {
                if self.live.contains(&top.id) {
                    return None;
                }
                // A tombstone hides the real top: drop it and look again.
                self.pop_top();
                continue;
            }
            self.pop_top();
            if self.live.remove(&top.id) {
                self.after_removal();
                return Some((top.at, TimerId(top.id), top.key));
            }
        }
    }

    /// Number of live (scheduled, not fired, not cancelled) timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Approximate heap memory in bytes: the capacity of the heap plus that of the id set
    /// (slots and control bytes). Growth slack included, so this is an upper bound on what
    /// the allocator hands out for the scheduler's tables.
    pub fn memory_bytes(&self) -> usize {
        let heap = self.heap.capacity().saturating_mul(size_of::<Entry<K>>());
        heap.saturating_add(id_set_bytes(self.live.capacity()))
    }

    /// Removes the top of the heap (live or tombstone).
    fn pop_top(&mut self) {
        let Some(last) = self.heap.pop() else { return };
        if let Some(root) = self.heap.first_mut() {
            *root = last;
            sift_down(&mut self.heap, 0);
        }
    }

    /// Keeps tombstones at most half of the heap and memory proportionate, after a live timer
    /// was removed (fired or cancelled).
    ///
    /// Compaction is O(n) and runs only after more than n/2 cancellations since the last one
    /// (live timers that fire leave no tombstone), so it costs O(1) amortized per
    /// cancellation.
    fn after_removal(&mut self) {
        let tombstones = self.heap.len() - self.live.len();
        if tombstones > self.heap.len() / 2 {
            self.compact();
        } else {
            self.shrink_if_sparse();
        }
    }

    /// Drops every tombstone and rebuilds the heap: O(n).
    fn compact(&mut self) {
        let live = &self.live;
        self.heap.retain(|e| live.contains(&e.id));
        heapify(&mut self.heap);
        self.shrink_if_sparse();
    }

    /// Gives memory back once a table is less than a quarter full, keeping room to double:
    /// amortized O(1), as reaching a quarter again takes as many removals as the copy costs.
    fn shrink_if_sparse(&mut self) {
        let (len, cap) = (self.heap.len(), self.heap.capacity());
        if cap > MIN_SHRINK_CAPACITY && len < cap / 4 {
            self.heap
                .shrink_to(len.saturating_mul(2).max(MIN_SHRINK_CAPACITY));
        }
        let (len, cap) = (self.live.len(), self.live.capacity());
        if cap > MIN_SHRINK_CAPACITY && len < cap / 4 {
            self.live
                .shrink_to(len.saturating_mul(2).max(MIN_SHRINK_CAPACITY));
        }
    }
}

impl<K: Copy> Default for Scheduler<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes allocated by a `HashSet<u64>` of the given capacity (hashbrown layout: a power of
/// two of slots at most 7/8 full, 8 bytes and one control byte per slot, plus one group of
/// trailing control bytes).
fn id_set_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let slots = if capacity < 8 {
        capacity.saturating_add(1)
    } else {
        capacity.saturating_mul(8) / 7
    };
    let slots = slots.checked_next_power_of_two().unwrap_or(slots);
    slots
        .saturating_mul(size_of::<u64>() + 1)
        .saturating_add(HASH_GROUP_WIDTH)
}

/// Restores the heap order after pushing onto `heap`: moves the last entry up.
fn sift_up<K: Copy>(heap: &mut [Entry<K>]) {
    let Some(&entry) = heap.last() else { return };
    let mut pos = heap.len() - 1;
    while pos > 0 {
        let parent = (pos - 1) / ARITY;
        let p = heap[parent];
        if !entry.before(&p) {
            break;
        }
        heap[pos] = p;
        pos = parent;
    }
    heap[pos] = entry;
}

/// Restores the heap order below `start` when only the entry at `start` may be out of place.
///
/// Bottom-up: the hole descends along the smallest children to a leaf (one comparison per
/// child, none against the moving entry), then the entry climbs back to its place. The entry
/// comes from the bottom of the heap, so it rarely climbs far, which saves about a quarter of
/// the comparisons of the textbook version.
fn sift_down<K: Copy>(heap: &mut [Entry<K>], start: usize) {
    let len = heap.len();
    let Some(&entry) = heap.get(start) else {
        return;
    };
    let mut pos = start;
    loop {
        // No overflow: `pos < len <= isize::MAX / size_of::<Entry<K>>()` and entries are
        // bigger than ARITY + 1 bytes.
        let first = pos * ARITY + 1;
        if first >= len {
            break;
        }
        let end = (first + ARITY).min(len);
        let mut best = first;
        for child in first + 1..end {
            if heap[child].before(&heap[best]) {
                best = child;
            }
        }
        heap[pos] = heap[best];
        pos = best;
    }
    while pos > start {
        let parent = (pos - 1) / ARITY;
        let p = heap[parent];
        if !entry.before(&p) {
            break;
        }
        heap[pos] = p;
        pos = parent;
    }
    heap[pos] = entry;
}

/// Arranges `heap` into heap order: O(n).
fn heapify<K: Copy>(heap: &mut [Entry<K>]) {
    if heap.len() < 2 {
        return;
    }
    let last_parent = (heap.len() - 2) / ARITY;
    for pos in (0..=last_parent).rev() {
        sift_down(heap, pos);
    }
}

/// The serialized form, borrowed for writing: live timers in `(at, id)` order.
#[derive(Serialize)]
struct SnapshotRef<'a, K> {
    next_id: u64,
    timers: Vec<&'a Entry<K>>,
}

/// The serialized form, owned for reading.
#[derive(Deserialize)]
struct Snapshot<K> {
    next_id: u64,
    timers: Vec<Entry<K>>,
}

/// Writes the canonical form: the next id and the live timers sorted by `(at, id)`
/// (tombstones are left out). O(n log n) for the sort.
impl<K: Copy + Serialize> Serialize for Scheduler<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut timers: Vec<&Entry<K>> = self
            .heap
            .iter()
            .filter(|e| self.live.contains(&e.id))
            .collect();
        timers.sort_unstable_by_key(|e| (e.at, e.id));
        SnapshotRef {
            next_id: self.next_id,
            timers,
        }
        .serialize(serializer)
    }
}

/// Reads the form written by `Serialize` (the timers may come in any order) and rebuilds the
/// heap in O(n). Fails on duplicate ids and on ids not below `next_id`, which no scheduler
/// writes and which would break cancellation or id uniqueness.
impl<'de, K: Copy + DeserializeOwned> Deserialize<'de> for Scheduler<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Snapshot { next_id, timers } = Snapshot::<K>::deserialize(deserializer)?;
        let mut live = IdSet::with_capacity_and_hasher(timers.len(), Default::default());
        for e in &timers {
            if e.id >= next_id {
                return Err(D::Error::custom(format_args!(
                    "timer id {} is not below next_id {next_id}",
                    e.id
                )));
            }
            if !live.insert(e.id) {
                return Err(D::Error::custom(format_args!(
                    "duplicate timer id {}",
                    e.id
                )));
            }
        }
        let mut heap = timers;
        heapify(&mut heap);
        Ok(Scheduler {
            heap,
            live,
            next_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pops everything due at or before `now`.
    fn drain(s: &mut Scheduler<u32>, now: Instant) -> Vec<(Instant, TimerId, u32)> {
        std::iter::from_fn(|| s.pop_due(now)).collect()
    }

    /// Checks the internal invariants: heap order, one entry per live id.
    fn check_invariants<K: Copy>(s: &Scheduler<K>) {
        for (i, e) in s.heap.iter().enumerate().skip(1) {
            assert!(!e.before(&s.heap[(i - 1) / ARITY]), "heap order at {i}");
        }
        let live_entries = s.heap.iter().filter(|e| s.live.contains(&e.id)).count();
        assert_eq!(live_entries, s.live.len());
        assert!(s.heap.len() >= s.live.len());
    }

    #[test]
    fn pops_in_time_order() {
        let mut s = Scheduler::new();
        for (i, at) in [50, 10, 40, 20, 30, -5, 60].into_iter().enumerate() {
            s.schedule(at, i as u32);
        }
        assert_eq!(s.next_due(), Some(-5));
        let got: Vec<Instant> = drain(&mut s, 100).into_iter().map(|t| t.0).collect();
        assert_eq!(got, [-5, 10, 20, 30, 40, 50, 60]);
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn only_due_timers_pop() {
        let mut s = Scheduler::new();
        s.schedule(10, 1);
        s.schedule(20, 2);
        assert_eq!(s.pop_due(9), None);
        assert_eq!(s.pop_due(10).map(|t| t.2), Some(1));
        assert_eq!(s.pop_due(19), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_due(), Some(20));
        assert_eq!(s.pop_due(Instant::MAX).map(|t| t.2), Some(2));
        assert_eq!(s.pop_due(Instant::MAX), None);
    }

    #[test]
    fn ties_are_fifo() {
        let mut s = Scheduler::new();
        let mut ids = Vec::new();
        for k in 0..100u32 {
            // Interleave two instants so the heap has to reorder.
            ids.push((
                if k % 2 == 0 { 7 } else { 3 },
                s.schedule(if k % 2 == 0 { 7 } else { 3 }, k),
            ));
        }
        let got = drain(&mut s, 7);
        let keys: Vec<u32> = got.iter().map(|t| t.2).collect();
        let expected: Vec<u32> = (0..100)
            .filter(|k| k % 2 == 1)
            .chain((0..100).filter(|k| k % 2 == 0))
            .collect();
        assert_eq!(keys, expected);
        for (at, id, key) in got {
            assert_eq!(ids[key as usize], (at, id));
        }
    }

    #[test]
    fn ids_are_distinct() {
        let mut s = Scheduler::new();
        let a = s.schedule(1, 0u32);
        let b = s.schedule(1, 0u32);
        assert_ne!(a, b);
    }

    #[test]
    fn cancel_before_firing() {
        let mut s = Scheduler::new();
        let a = s.schedule(10, 1);
        let b = s.schedule(20, 2);
        let c = s.schedule(30, 3);
        s.cancel(a);
        assert_eq!(s.len(), 2);
        assert_eq!(s.next_due(), Some(20));
        s.cancel(c);
        assert_eq!(s.len(), 1);
        assert_eq!(drain(&mut s, 100), [(20, b, 2)]);
        assert!(s.is_empty());
    }

    #[test]
    fn cancelled_top_does_not_block_due_timers() {
        let mut s = Scheduler::new();
        let a = s.schedule(5, 1);
        s.schedule(6, 2);
        s.schedule(100, 3);
        s.cancel(a);
        // The tombstone at 5 must not hide the live timer at 6, nor count as due.
        assert_eq!(s.pop_due(5), None);
        assert_eq!(s.pop_due(6).map(|t| t.2), Some(2));
    }

    #[test]
    fn cancel_after_firing_unknown_or_twice_does_nothing() {
        let mut s = Scheduler::new();
        let a = s.schedule(10, 1);
        let b = s.schedule(20, 2);
        assert_eq!(s.pop_due(10), Some((10, a, 1)));
        s.cancel(a); // fired
        assert_eq!(s.len(), 1);
        s.cancel(TimerId(999)); // never issued
        s.cancel(TimerId(u64::MAX));
        assert_eq!(s.len(), 1);
        let c = s.schedule(30, 3);
        s.cancel(c);
        s.cancel(c); // twice
        assert_eq!(s.len(), 1);
        check_invariants(&s);
        assert_eq!(drain(&mut s, 100), [(20, b, 2)]);
        s.cancel(b);
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn len_accounting() {
        let mut s = Scheduler::new();
        assert_eq!((s.len(), s.is_empty()), (0, true));
        let ids: Vec<TimerId> = (0..10).map(|i| s.schedule(i, i as u32)).collect();
        assert_eq!(s.len(), 10);
        s.cancel(ids[3]);
        s.cancel(ids[3]);
        assert_eq!(s.len(), 9);
        assert!(s.pop_due(1).is_some());
        assert!(s.pop_due(1).is_some());
        assert_eq!(s.len(), 7);
        assert!(s.pop_due(1).is_none());
        assert_eq!(s.len(), 7);
        s.cancel(ids[0]); // fired
        assert_eq!(s.len(), 7);
        s.next_due();
        assert_eq!(s.len(), 7);
        drain(&mut s, 100);
        assert_eq!((s.len(), s.is_empty()), (0, true));
    }

    #[test]
    fn compaction_keeps_order() {
        let mut s = Scheduler::new();
        let mut rng = 0x1234_5678_u64;
        let mut ids = Vec::new();
        for k in 0..10_000u32 {
            let at = (xorshift(&mut rng) % 1000) as Instant;
            ids.push(s.schedule(at, k));
        }
        // Cancel two thirds: this compacts at least once.
        for (k, id) in ids.iter().enumerate() {
            if k % 3 != 0 {
                s.cancel(*id);
            }
        }
        assert_eq!(s.len(), 3334);
        assert!(
            s.heap.len() <= 2 * s.len() + 1,
            "tombstones bounded: {}",
            s.heap.len()
        );
        check_invariants(&s);
        let got = drain(&mut s, Instant::MAX);
        assert_eq!(got.len(), 3334);
        assert!(got.iter().all(|t| t.2 % 3 == 0));
        assert!(
            got.windows(2)
                .all(|w| (w[0].0, w[0].1.0) < (w[1].0, w[1].1.0))
        );
    }

    #[test]
    fn cancel_churn_does_not_leak() {
        let mut s = Scheduler::new();
        s.schedule(0, 0);
        for k in 0..100_000u32 {
            let id = s.schedule(Instant::from(k), k);
            s.cancel(id);
            assert!(s.heap.len() <= 3);
        }
        assert_eq!(s.len(), 1);
        assert!(s.memory_bytes() < 64 * 1024, "{}", s.memory_bytes());
    }

    #[test]
    fn memory_is_given_back() {
        let mut s = Scheduler::new();
        for k in 0..100_000u32 {
            s.schedule(Instant::from(k), k);
        }
        let full = s.memory_bytes();
        assert!(full >= 100_000 * (size_of::<Entry<u32>>() + 9), "{full}");
        drain(&mut s, Instant::MAX);
        assert!(s.memory_bytes() < 64 * 1024, "{}", s.memory_bytes());
        assert_eq!(Scheduler::<u32>::new().memory_bytes(), 0);
    }

    #[test]
    fn serde_round_trip_preserves_order_and_ids() {
        let mut s = Scheduler::new();
        let mut rng = 42u64;
        let mut ids = Vec::new();
        for k in 0..500u32 {
            ids.push(s.schedule((xorshift(&mut rng) % 50) as Instant, k));
        }
        for id in ids.iter().step_by(4) {
            s.cancel(*id);
        }
        for _ in 0..10 {
            s.pop_due(Instant::MAX);
        }
        let json = serde_json::to_string(&s).expect("serialize");
        let mut back: Scheduler<u32> = serde_json::from_str(&json).expect("deserialize");
        check_invariants(&back);
        assert_eq!(back.len(), s.len());
        // Canonical: the copy serializes to the same text.
        assert_eq!(serde_json::to_string(&back).expect("serialize"), json);
        // Cancelling by an id issued before the round trip works on the copy.
        let victim = ids[1];
        s.cancel(victim);
        back.cancel(victim);
        // New ids continue the sequence, so they stay unique and FIFO.
        assert_eq!(s.schedule(7, 1000), back.schedule(7, 1000));
        assert_eq!(drain(&mut back, Instant::MAX), drain(&mut s, Instant::MAX));
    }

    #[test]
    fn serde_rejects_inconsistent_input() {
        let bad = [
            r#"{"next_id":2,"timers":[{"at":1,"id":1,"key":0},{"at":2,"id":1,"key":0}]}"#,
            r#"{"next_id":1,"timers":[{"at":1,"id":1,"key":0}]}"#,
            r#"{"next_id":-1,"timers":[]}"#,
            r#"{"timers":[]}"#,
            r#"[1,2,3]"#,
            "",
        ];
        for text in bad {
            assert!(
                serde_json::from_str::<Scheduler<u32>>(text).is_err(),
                "{text}"
            );
        }
        // Any order is accepted and rebuilt into a heap.
        let text = r#"{"next_id":9,"timers":[{"at":5,"id":3,"key":30},{"at":1,"id":8,"key":80},{"at":5,"id":0,"key":0}]}"#;
        let mut s: Scheduler<u32> = serde_json::from_str(text).expect("deserialize");
        let keys: Vec<u32> = drain(&mut s, Instant::MAX)
            .into_iter()
            .map(|t| t.2)
            .collect();
        assert_eq!(keys, [80, 0, 30]);
        assert_eq!(s.schedule(0, 0), TimerId(9));
    }

    #[test]
    fn extreme_instants() {
        let mut s = Scheduler::new();
        s.schedule(Instant::MAX, 1);
        s.schedule(Instant::MIN, 2);
        s.schedule(0, 3);
        assert_eq!(s.pop_due(Instant::MIN).map(|t| t.2), Some(2));
        assert_eq!(s.next_due(), Some(0));
        let keys: Vec<u32> = drain(&mut s, Instant::MAX)
            .into_iter()
            .map(|t| t.2)
            .collect();
        assert_eq!(keys, [3, 1]);
    }

    /// A small deterministic generator for the larger tests.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn many_timers_in_order() {
        // 1,000,000 takes 3 s in a debug build; 200,000 keeps `cargo test` quick (the
        // benchmark runs 1M and 5M in release).
        const N: u32 = 200_000;
        const YEAR: u64 = 365 * 86_400;
        let mut s = Scheduler::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for k in 0..N {
            s.schedule(1_800_000_000 + (xorshift(&mut rng) % YEAR) as Instant, k);
        }
        assert_eq!(s.len(), N as usize);
        let mut count = 0u32;
        let mut prev = (Instant::MIN, 0u64);
        while let Some((at, id, key)) = s.pop_due(Instant::MAX) {
            assert_eq!(id.0, u64::from(key));
            assert!(prev < (at, id.0));
            prev = (at, id.0);
            count += 1;
        }
        assert_eq!(count, N);
        assert!(s.is_empty());
    }

    /// One operation of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Schedule(Instant),
        /// Cancel the n-th id ever issued (modulo their number), or an unknown one if none.
        Cancel(usize),
        Pop(Instant),
        NextDue,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..50i64).prop_map(Op::Schedule),
            2 => any::<usize>().prop_map(Op::Cancel),
            3 => (0..60i64).prop_map(Op::Pop),
            1 => Just(Op::NextDue),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Against a reference model: a Vec of live timers, sorted on each pop.
        #[test]
        fn matches_reference_model(ops in prop::collection::vec(op(), 0..300)) {
            let mut s = Scheduler::new();
            let mut model: Vec<(Instant, u64, u32)> = Vec::new();
            let mut issued: Vec<TimerId> = Vec::new();
            for (k, op) in ops.into_iter().enumerate() {
                let key = k as u32;
                match op {
                    Op::Schedule(at) => {
                        let id = s.schedule(at, key);
                        prop_assert!(!issued.contains(&id));
                        issued.push(id);
                        model.push((at, id.0, key));
                    }
                    Op::Cancel(n) => {
                        let id = if issued.is_empty() { TimerId(n as u64) } else { issued[n % issued.len()] };
                        s.cancel(id);
                        model.retain(|t| t.1 != id.0);
                    }
                    Op::Pop(now) => {
                        model.sort_unstable_by_key(|t| (t.0, t.1));
                        let expected = match model.first() {
                            Some(&(at, id, key)) if at <= now => {
                                model.remove(0);
                                Some((at, TimerId(id), key))
                            }
                            _ => None,
                        };
                        prop_assert_eq!(s.pop_due(now), expected);
                    }
                    Op::NextDue => {
                        let expected = model.iter().map(|t| t.0).min();
                        prop_assert_eq!(s.next_due(), expected);
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.is_empty(), model.is_empty());
                prop_assert!(s.heap.len() <= 2 * s.len() + 1);
            }
            check_invariants(&s);
            // The state survives a round trip.
            let json = serde_json::to_string(&s).expect("serialize");
            let mut back: Scheduler<u32> = serde_json::from_str(&json).expect("deserialize");
            model.sort_unstable_by_key(|t| (t.0, t.1));
            let rest: Vec<(Instant, TimerId, u32)> =
                model.into_iter().map(|(at, id, key)| (at, TimerId(id), key)).collect();
            prop_assert_eq!(drain(&mut back, Instant::MAX), rest);
        }
    }
}
