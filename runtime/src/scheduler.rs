//! The timer scheduler: millions of pending timers spread over months, served in time order.
//!
//! # Design
//!
//! - **Buckets.** Timers are grouped in buckets by time: aligned intervals of 2^20 seconds
//!   (about 12 days), or finer near the front. Buckets are kept in a `BTreeMap` by start, and
//!   each is a 4-ary min-heap (`Vec<Slot<K>>`) on `(at, id)`. Pops work in the earliest
//!   bucket. When it holds more than 1024 entries it is first split into 16 buckets of a
//!   sixteenth of its width (2^16, 2^12, ... down to one second), so the heap that drains is
//!   small and stays in cache, however crowded the near future is. A schedule finds the bucket
//!   covering its instant (or creates the widest free aligned one), appends to its heap and
//!   sifts up a level on average. An entry is moved by at most five splits: O(1) amortized.
//!   Timers due in the same second share one bucket, a plain 4-ary heap: never worse than
//!   O(log n).
//! - **Ids and FIFO.** A [`TimerId`] is a 64-bit number: a block number (56 bits) and a slot
//!   in the block (8 bits). Each bucket hands out the ids of its own current block in order
//!   and takes a fresh block, from a global counter, when it runs out (a bucket made by a split
//!   starts with a fresh block). So within a bucket ids grow in scheduling order, and timers
//!   due at the same instant (always in the same bucket) are served in scheduling order.
//!   Nothing depends on anything but the calls made: no randomness, no addresses, no
//!   iteration over hash maps.
//! - **Liveness.** One bit per id, in a hash map from block number to the block's 256 bits and
//!   live count; a block is freed when its count drops to zero. The ids of a block are handed
//!   out by one bucket, so they fall due close together and the block goes soon after they
//!   fire: there are about n/256 blocks for n pending timers (at worst one per pending timer,
//!   if cancellations leave a single live id in each). A pop only touches the blocks of the
//!   earliest bucket, which are in cache. Cancelling an unknown, fired or cancelled id finds a
//!   clear bit (or no block) and changes nothing.
//! - **Lazy cancellation.** A cancelled timer's bit is cleared and its entry stays behind as a
//!   tombstone, dropped when it reaches the top of its bucket. When tombstones exceed half of
//!   the entries, every bucket is compacted: O(n) for n entries, but more than n/2 of them are
//!   tombstones, each left by a cancellation since the previous compaction, so O(1) amortized
//!   per cancellation. Memory stays proportional to the pending timers whatever the
//!   cancellations.
//!
//! Costs (n pending timers): `schedule` O(log n) (O(1) on average), `pop_due` O(log n)
//! amortized, `cancel` O(1) amortized, `next_due` O(log n) amortized, `len` and
//! `memory_bytes` O(1). Nothing scans. A pop that splits a bucket moves its entries at once,
//! about 70 ns each: the slowest pop of 5 million timers over a year (a 12-day bucket of
//! 165,000) takes about 12 ms; a finer top width would cut that pause but slow schedules.
//!
//! Memory: one 20-byte slot per pending timer for an 8-byte key aligned to 4 bytes (the
//! engine's): the instant as a 32-bit offset from its bucket's start (a bucket is at most
//! 2^20 seconds wide), the id in two 32-bit halves, and the key; 24 bytes for a key aligned
//! to 8. Buckets grow by a quarter (so that their slack stays small) and are freed when
//! drained; blocks take about 50 bytes per 256 ids. About 22.5 bytes per pending timer for
//! the engine's two million timers at a million customers ([`Scheduler::memory_bytes`]
//! counts capacities).
//!
//! # Persistence
//!
//! `Serialize` writes the whole state that affects behaviour, in a canonical form: ids below
//! `next_id` have been handed out; the buckets as `[start, log2 of width, next id to hand
//! out]` (0 when the bucket needs a fresh block); the live timers and the tombstones, each
//! sorted by `(at, id)`:
//!
//! ```json
//! {"next_id":512,"buckets":[[1798307840,20,258]],
//!  "timers":[{"at":1798761600,"id":256,"key":7}],
//!  "cancelled":[{"at":1798765200,"id":257,"key":8}]}
//! ```
//!
//! A restored scheduler does exactly what the original would have done, down to the ids it
//! hands out next, so a replay from a snapshot matches the uninterrupted run. The heap layout
//! is not written: it never shows, since pops follow the `(at, id)` total order.
//! Deserialization rebuilds the buckets in O(n log n) and rejects, with an error, input that
//! no scheduler writes and that would break ids, order or cancellation: an id or cursor not
//! below `next_id`, overlapping or misaligned buckets, a timer outside every bucket, a live id
//! listed twice, an id both live and cancelled, a cursor that would hand out ids again.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU64;
use std::ops::Bound;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::Instant;

/// Identifies a scheduled timer, for cancellation.
///
/// One word, and so is `Option<TimerId>`: the id is kept plus one, which leaves zero for
/// `None` (ids never reach `u64::MAX`: block numbers wrap below 2^56 - 1). It serializes as
/// the id itself.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct TimerId(NonZeroU64);

impl TimerId {
    /// The timer with id `id`; `None` for `u64::MAX`, which no scheduler hands out.
    pub fn new(id: u64) -> Option<TimerId> {
        NonZeroU64::new(id.wrapping_add(1)).map(TimerId)
    }

    /// The id.
    pub fn get(self) -> u64 {
        self.0.get() - 1
    }
}

impl std::fmt::Debug for TimerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TimerId({})", self.get())
    }
}

impl Serialize for TimerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.get())
    }
}

impl<'de> Deserialize<'de> for TimerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = u64::deserialize(deserializer)?;
        TimerId::new(id)
            .ok_or_else(|| D::Error::custom("timer id 18446744073709551615 is never handed out"))
    }
}

/// Children per heap node.
const ARITY: usize = 4;

/// log2 of the width of the widest buckets, in seconds: 2^20 s is about 12 days.
const TOP_SHIFT: u32 = 20;

/// A split divides a bucket's width by 2^SPLIT_SHIFT.
const SPLIT_SHIFT: u32 = 4;

/// The earliest bucket is split before a pop when it holds more entries than this (and is
/// wider than a second). Smaller in unit tests, so that short operation sequences split.
#[cfg(not(test))]
const SPLIT_MIN: usize = 1024;
#[cfg(test)]
const SPLIT_MIN: usize = 6;

/// A bucket grows by 1/BUCKET_GROWTH of its capacity (at least [`MIN_BUCKET_GROWTH`]).
const BUCKET_GROWTH: usize = 4;

/// Smallest growth step of a bucket, in entries.
const MIN_BUCKET_GROWTH: usize = 4;

/// Ids per block: 2^BLOCK_SHIFT.
const BLOCK_SHIFT: u32 = 8;

/// The slot bits of an id.
const SLOT_MASK: u64 = (1 << BLOCK_SHIFT) - 1;

/// Block numbers wrap at 2^56 - 1 (never reached: that is 2^56 schedules at least), so that
/// the last block, whose last id is `u64::MAX`, is never handed out (see [`TimerId`]).
const BLOCK_MASK: u64 = u64::MAX >> BLOCK_SHIFT;

/// Below this capacity the block map is never shrunk.
const MIN_SHRINK_CAPACITY: usize = 64;

/// Width of a hash-table control group (SSE2); the table allocates this many extra control
/// bytes.
const HASH_GROUP_WIDTH: usize = 16;

/// A timer as written out and read back: when, its id, and the key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry<K> {
    at: Instant,
    id: u64,
    key: K,
}

/// A timer as its bucket holds it: the instant as an offset from the bucket's start (below
/// 2^[`TOP_SHIFT`], so it fits 32 bits), the id in two halves and the key. With no 8-byte
/// field, an 8-byte key of 4-byte alignment (the engine's) makes it 20 bytes, where an
/// absolute instant and a whole `u64` id would take 24.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Slot<K> {
    /// `at - start` of the bucket.
    off: u32,
    /// The id's low and high 32 bits.
    id: [u32; 2],
    key: K,
}

impl<K: Copy> Slot<K> {
    /// The timer `id` at `at`, in the bucket starting at `start`, which covers `at`.
    #[inline]
    fn new(start: Instant, at: Instant, id: u64, key: K) -> Self {
        // `covers(start, shift, at)` with `shift <= TOP_SHIFT` makes the offset fit.
        let off = at.wrapping_sub(start).cast_unsigned() as u32;
        Slot {
            off,
            id: [id as u32, (id >> 32) as u32],
            key,
        }
    }

    /// When the timer is due, in the bucket starting at `start`.
    #[inline]
    fn at(&self, start: Instant) -> Instant {
        start.wrapping_add(Instant::from(self.off))
    }

    /// The timer's id.
    #[inline]
    fn id(&self) -> u64 {
        u64::from(self.id[0]) | (u64::from(self.id[1]) << 32)
    }

    /// The timer as written out, in the bucket starting at `start`.
    fn entry(&self, start: Instant) -> Entry<K> {
        Entry {
            at: self.at(start),
            id: self.id(),
            key: self.key,
        }
    }

    /// The serving order within a bucket as one number, `(at, id)`, so that comparisons
    /// compile to branch-free code (heap sifts compare unpredictable pairs).
    #[inline]
    fn order(&self) -> u128 {
        (u128::from(self.off) << 64) | u128::from(self.id())
    }

    /// Whether `self` is served before `other` (in the same bucket): earlier, or as early and
    /// scheduled first.
    #[inline]
    fn before(&self, other: &Self) -> bool {
        self.order() < other.order()
    }
}

/// The timers due in one bucket's interval, `[start, start + 2^shift)`, `start` being a
/// multiple of the width. Buckets never overlap.
#[derive(Clone, Debug)]
struct Bucket<K> {
    /// 4-ary min-heap on `(at, id)` of live timers and tombstones.
    heap: Vec<Slot<K>>,
    /// The next id this bucket hands out; a multiple of the block size (0 included) means
    /// the bucket needs a fresh block first.
    cursor: u64,
    /// log2 of the width, at most [`TOP_SHIFT`].
    shift: u32,
}

impl<K> Bucket<K> {
    fn new(heap: Vec<Slot<K>>, shift: u32) -> Self {
        Bucket {
            heap,
            cursor: 0,
            shift,
        }
    }
}

/// Whether the interval `[start, start + 2^shift)` contains `at`, without overflow.
#[inline]
fn covers(start: Instant, shift: u32, at: Instant) -> bool {
    at >= start && (at.wrapping_sub(start).cast_unsigned() >> shift) == 0
}

/// Liveness of the 256 ids of a block.
#[derive(Clone, Debug, Default)]
struct Block {
    /// Bit `i` is set when id `block << 8 | i` is live.
    bits: [u64; 4],
    /// Set bits.
    live: u16,
}

/// Hasher for block numbers: the splitmix64 finalizer, a fixed bijective mix. Block numbers
/// are consecutive integers, so any good mix spreads them evenly; a fixed one keeps the
/// scheduler free of per-process randomness and costs a few cycles instead of SipHash's few
/// dozen.
#[derive(Default, Clone, Copy, Debug)]
struct BlockHasher(u64);

impl Hasher for BlockHasher {
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

/// A hash map keyed by block number.
type BlockMap<V> = HashMap<u64, V, BuildHasherDefault<BlockHasher>>;

/// Where the bit of `id` is: block number, word, mask.
#[inline]
fn bit_of(id: u64) -> (u64, usize, u64) {
    (id >> BLOCK_SHIFT, ((id >> 6) & 3) as usize, 1 << (id & 63))
}

/// Whether `id` is live.
#[inline]
fn is_live(blocks: &BlockMap<Block>, id: u64) -> bool {
    let (block, word, mask) = bit_of(id);
    blocks.get(&block).is_some_and(|b| b.bits[word] & mask != 0)
}

/// A deterministic timer queue: schedule keys at instants, cancel them by id, and take them
/// back in time order (ties in scheduling order) once due.
///
/// `K` is the payload handed back when a timer fires (typically a small `Copy` handle such as
/// a customer or instance index); it should be `Copy + Serialize + DeserializeOwned` to
/// persist the scheduler. See the [module documentation](self) for the design and costs.
#[derive(Clone, Debug)]
pub struct Scheduler<K> {
    /// Non-empty buckets by start.
    buckets: BTreeMap<Instant, Bucket<K>>,
    /// Liveness bits of the ids handed out, by block.
    blocks: BlockMap<Block>,
    /// Live timers (set bits in `blocks`). Each has exactly one entry in `buckets`; the other
    /// entries are tombstones.
    live: usize,
    /// Entries in all buckets, live timers and tombstones.
    entries: usize,
    /// Sum of the capacities of the bucket heaps, in entries.
    capacity: usize,
    /// The next block to hand to a bucket.
    next_block: u64,
}

impl<K: Copy> Scheduler<K> {
    /// An empty scheduler. Allocates nothing until the first timer is scheduled.
    pub fn new() -> Self {
        Scheduler {
            buckets: BTreeMap::new(),
            blocks: BlockMap::default(),
            live: 0,
            entries: 0,
            capacity: 0,
            next_block: 0,
        }
    }

    /// Schedules `key` at `at`; returns its id.
    ///
    /// Any instant is accepted, including ones in the past, which are due at once. Ids are
    /// unique until 2^56 blocks of ids have been handed out, which takes at least 2^56
    /// (72 million billion) schedules.
    pub fn schedule(&mut self, at: Instant, key: K) -> TimerId {
        let id = match self.buckets.range_mut(..=at).next_back() {
            Some((&start, bucket)) if covers(start, bucket.shift, at) => {
                let id = take_id(bucket, &mut self.next_block);
                push(bucket, Slot::new(start, at, id, key), &mut self.capacity);
                id
            }
            _ => {
                let (start, shift) = self.free_interval(at);
                let mut bucket = Bucket::new(Vec::new(), shift);
                let id = take_id(&mut bucket, &mut self.next_block);
                push(
                    &mut bucket,
                    Slot::new(start, at, id, key),
                    &mut self.capacity,
                );
                self.buckets.insert(start, bucket);
                id
            }
        };
        self.entries += 1;
        let (block, word, mask) = bit_of(id);
        let block = self.blocks.entry(block).or_default();
        if block.bits[word] & mask == 0 {
            block.bits[word] |= mask;
            block.live += 1;
            self.live += 1;
        }
        TimerId::new(id).unwrap_or_else(|| unreachable!("ids stay below u64::MAX"))
    }

    /// Cancels a timer; cancelling an unknown, fired or cancelled timer does nothing.
    pub fn cancel(&mut self, id: TimerId) {
        // The entry stays in its bucket as a tombstone until it reaches the top.
        if self.kill(id.get()) {
            self.compact_if_mostly_tombstones();
        }
    }

    /// When the earliest live timer is due.
    ///
    /// Takes `&mut self` to drop the tombstones of cancelled timers it finds at the top.
    pub fn next_due(&mut self) -> Option<Instant> {
        loop {
            let mut first = self.buckets.first_entry()?;
            let start = *first.key();
            let heap = &mut first.get_mut().heap;
            if let Some(top) = heap.first().copied() {
                if is_live(&self.blocks, top.id()) {
                    return Some(top.at(start));
                }
                pop_top(heap);
                self.entries -= 1;
            }
            if heap.is_empty() {
                self.capacity -= heap.capacity();
                first.remove();
            }
        }
    }

    /// Removes and returns the earliest live timer due at or before `now` (ties FIFO).
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerId, K)> {
        loop {
            let mut first = self.buckets.first_entry()?;
            let bucket = first.get_mut();
            if bucket.heap.len() > SPLIT_MIN && bucket.shift > 0 {
                let (start, bucket) = first.remove_entry();
                self.split(start, bucket);
                continue;
            }
            let start = *first.key();
            let heap = &mut first.get_mut().heap;
            let top = heap.first().map(|top| top.entry(start));
            if let Some(top) = top {
                if top.at > now && is_live(&self.blocks, top.id) {
                    return None;
                }
                // Due, or a tombstone hiding what is behind it: remove it.
                pop_top(heap);
                self.entries -= 1;
            }
            if heap.is_empty() {
                self.capacity -= heap.capacity();
                first.remove();
            }
            if let Some(top) = top
                && top.at <= now
                && self.kill(top.id)
            {
                self.compact_if_mostly_tombstones();
                return Some((top.at, TimerId::new(top.id)?, top.key));
            }
        }
    }

    /// Number of live (scheduled, not fired, not cancelled) timers.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Approximate heap memory in bytes: the capacity of the bucket heaps, an estimate of the
    /// bucket map's nodes, and the capacity of the block map.
    pub fn memory_bytes(&self) -> usize {
        let entries = self.capacity.saturating_mul(size_of::<Slot<K>>());
        // B-tree nodes hold 6 to 11 (start, bucket) pairs: count 1.5 per bucket.
        let buckets = self
            .buckets
            .len()
            .saturating_mul(size_of::<(Instant, Bucket<K>)>() * 3 / 2);
        entries
            .saturating_add(buckets)
            .saturating_add(hash_map_bytes::<(u64, Block)>(self.blocks.capacity()))
    }

    /// The widest aligned interval of at most 2^TOP_SHIFT seconds that contains `at` and no
    /// bucket, as `(start, shift)`; `at` is in no bucket. Aligned intervals of power-of-two
    /// widths are nested or disjoint, so a bucket overlapping a candidate lies inside it:
    /// checking the buckets just before and just after `at` is enough. A one-second interval
    /// always fits.
    fn free_interval(&self, at: Instant) -> (Instant, u32) {
        let before = self.buckets.range(..=at).next_back().map(|(&s, _)| s);
        let after = self
            .buckets
            .range((Bound::Excluded(at), Bound::Unbounded))
            .next()
            .map(|(&s, _)| s);
        let mut shift = TOP_SHIFT;
        loop {
            let start = at & !((1 << shift) - 1);
            let clear =
                before.is_none_or(|b| b < start) && after.is_none_or(|a| !covers(start, shift, a));
            if clear || shift == 0 {
                return (start, shift);
            }
            shift = shift.saturating_sub(SPLIT_SHIFT);
        }
    }

    /// Splits a bucket into buckets of a sixteenth of its width (the non-empty ones), each
    /// with a fresh block for the ids it hands out next: O(entries).
    fn split(&mut self, start: Instant, parent: Bucket<K>) {
        let shift = parent.shift.saturating_sub(SPLIT_SHIFT);
        // Entries lie in the parent's interval, so the index is below 16 (`min` only keeps
        // the indexing obviously in bounds).
        let child = |e: &Slot<K>| (e.off as usize >> shift).min((1 << SPLIT_SHIFT) - 1);
        let mut counts = [0usize; 1 << SPLIT_SHIFT];
        for e in &parent.heap {
            counts[child(e)] += 1;
        }
        let mut heaps = counts.map(Vec::with_capacity);
        for e in &parent.heap {
            let i = child(e);
            let child_start = start.wrapping_add((i as Instant) << shift);
            heaps[i].push(Slot::new(child_start, e.at(start), e.id(), e.key));
        }
        self.capacity -= parent.heap.capacity();
        for (i, mut heap) in heaps.into_iter().enumerate() {
            if heap.is_empty() {
                continue;
            }
            heapify(&mut heap);
            self.capacity += heap.capacity();
            let child_start = start.wrapping_add((i as Instant) << shift);
            self.buckets.insert(child_start, Bucket::new(heap, shift));
        }
    }

    /// Clears the bit of a live `id`; returns whether it was live. Frees its block when that
    /// was the block's last live id, and gives capacity back when the map drains to a
    /// quarter (amortized O(1): reaching a quarter again takes as many removals as the copy
    /// costs).
    fn kill(&mut self, id: u64) -> bool {
        let (number, word, mask) = bit_of(id);
        let Some(block) = self.blocks.get_mut(&number) else {
            return false;
        };
        if block.bits[word] & mask == 0 {
            return false;
        }
        block.bits[word] &= !mask;
        block.live -= 1;
        self.live -= 1;
        if block.live == 0 {
            self.blocks.remove(&number);
            let (len, cap) = (self.blocks.len(), self.blocks.capacity());
            if cap > MIN_SHRINK_CAPACITY && len < cap / 4 {
                self.blocks
                    .shrink_to(len.saturating_mul(2).max(MIN_SHRINK_CAPACITY));
            }
        }
        true
    }

    /// Compacts when tombstones are more than half of the entries. Compaction is O(n) for n
    /// entries, but more than n/2 of them are tombstones, each left by a cancellation since
    /// the previous compaction: O(1) amortized per cancellation.
    fn compact_if_mostly_tombstones(&mut self) {
        if self.entries - self.live > self.entries / 2 {
            self.compact();
        }
    }

    /// Drops every tombstone, frees empty buckets, trims slack and rebuilds the heaps: O(n).
    fn compact(&mut self) {
        let blocks = &self.blocks;
        let mut capacity = 0usize;
        self.buckets.retain(|_, bucket| {
            let heap = &mut bucket.heap;
            heap.retain(|e| is_live(blocks, e.id()));
            if heap.is_empty() {
                return false;
            }
            if heap.len() < heap.capacity() / 2 {
                heap.shrink_to(heap.len() + heap.len() / BUCKET_GROWTH);
            }
            heapify(heap);
            capacity += heap.capacity();
            true
        });
        self.entries = self.live;
        self.capacity = capacity;
    }
}

impl<K: Copy> Default for Scheduler<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// The next id `bucket` hands out, taking a fresh block first if needed.
#[inline]
fn take_id<K>(bucket: &mut Bucket<K>, next_block: &mut u64) -> u64 {
    if bucket.cursor & SLOT_MASK == 0 {
        bucket.cursor = *next_block << BLOCK_SHIFT;
        *next_block = (*next_block + 1) % BLOCK_MASK;
    }
    let id = bucket.cursor;
    bucket.cursor = bucket.cursor.wrapping_add(1);
    id
}

/// Pushes onto a bucket's heap, growing it by a quarter when full; keeps `capacity` (the sum
/// of the capacities) up to date.
#[inline]
fn push<K: Copy>(bucket: &mut Bucket<K>, entry: Slot<K>, capacity: &mut usize) {
    let heap = &mut bucket.heap;
    let before = heap.capacity();
    if heap.len() == before {
        heap.reserve_exact((before / BUCKET_GROWTH).max(MIN_BUCKET_GROWTH));
    }
    heap.push(entry);
    sift_up(heap);
    *capacity += heap.capacity() - before;
}

/// Bytes allocated by a `HashMap` of `T` slots with the given capacity (hashbrown layout: a
/// power of two of slots at most 7/8 full, one control byte per slot, plus one group of
/// trailing control bytes).
fn hash_map_bytes<T>(capacity: usize) -> usize {
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
        .saturating_mul(size_of::<T>() + 1)
        .saturating_add(HASH_GROUP_WIDTH)
}

/// Removes the top of a heap.
fn pop_top<K: Copy>(heap: &mut Vec<Slot<K>>) {
    let Some(last) = heap.pop() else { return };
    if let Some(root) = heap.first_mut() {
        *root = last;
        sift_down(heap, 0);
    }
}

/// Restores the heap order after pushing onto `heap`: moves the last entry up.
fn sift_up<K: Copy>(heap: &mut [Slot<K>]) {
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
fn sift_down<K: Copy>(heap: &mut [Slot<K>], start: usize) {
    let len = heap.len();
    let Some(&entry) = heap.get(start) else {
        return;
    };
    let mut pos = start;
    loop {
        // No overflow: `pos < len <= isize::MAX / size_of::<Slot<K>>()` and entries are
        // bigger than ARITY + 1 bytes.
        let first = pos * ARITY + 1;
        if first >= len {
            break;
        }
        let best = if let Some(c) = heap.get(first..first + ARITY) {
            // A full node: a branch-free tournament between the four children.
            let (o0, o1, o2, o3) = (c[0].order(), c[1].order(), c[2].order(), c[3].order());
            let (a, oa) = if o1 < o0 { (1, o1) } else { (0, o0) };
            let (b, ob) = if o3 < o2 { (3, o3) } else { (2, o2) };
            first + if ob < oa { b } else { a }
        } else {
            let mut best = first;
            for child in first + 1..len {
                if heap[child].before(&heap[best]) {
                    best = child;
                }
            }
            best
        };
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
fn heapify<K: Copy>(heap: &mut [Slot<K>]) {
    if heap.len() < 2 {
        return;
    }
    let last_parent = (heap.len() - 2) / ARITY;
    for pos in (0..=last_parent).rev() {
        sift_down(heap, pos);
    }
}

/// The serialized form, for writing.
#[derive(Serialize)]
struct SnapshotOut<K> {
    next_id: u64,
    buckets: Vec<(Instant, u32, u64)>,
    timers: Vec<Entry<K>>,
    cancelled: Vec<Entry<K>>,
}

/// The serialized form, owned for reading.
#[derive(Deserialize)]
#[serde(bound(deserialize = "K: Deserialize<'de>"))]
struct Snapshot<K> {
    /// Ids below this one have been handed out (a multiple of the block size).
    next_id: u64,
    /// `(start, shift, cursor)` of each bucket, by start.
    buckets: Vec<(Instant, u32, u64)>,
    /// Live timers, by `(at, id)`.
    timers: Vec<Entry<K>>,
    /// Tombstones not dropped yet, by `(at, id)`.
    #[serde(default)]
    cancelled: Vec<Entry<K>>,
}

/// Writes the whole state in a canonical form (see the [module documentation](self)):
/// `next_id`, the buckets, the live timers and the tombstones, each sorted by `(at, id)`.
/// O(n log n).
impl<K: Copy + Serialize> Serialize for Scheduler<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let mut timers: Vec<Entry<K>> = Vec::with_capacity(self.live);
        let mut cancelled: Vec<Entry<K>> = Vec::with_capacity(self.entries - self.live);
        for (&start, bucket) in &self.buckets {
            let cursor = if bucket.cursor & SLOT_MASK == 0 {
                0
            } else {
                bucket.cursor
            };
            buckets.push((start, bucket.shift, cursor));
            let (live_start, dead_start) = (timers.len(), cancelled.len());
            for e in &bucket.heap {
                if is_live(&self.blocks, e.id()) {
                    timers.push(e.entry(start));
                } else {
                    cancelled.push(e.entry(start));
                }
            }
            for run in [
                timers.get_mut(live_start..),
                cancelled.get_mut(dead_start..),
            ]
            .into_iter()
            .flatten()
            {
                run.sort_unstable_by_key(|e| (e.at, e.id));
            }
        }
        SnapshotOut {
            next_id: self.next_block << BLOCK_SHIFT,
            buckets,
            timers,
            cancelled,
        }
        .serialize(serializer)
    }
}

/// Reads the form written by `Serialize` and rebuilds the buckets: O(n log n). Fails on input
/// that no scheduler writes and that would break ids, order or cancellation (see the
/// [module documentation](self)).
impl<'de, K: Copy + DeserializeOwned> Deserialize<'de> for Scheduler<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let snapshot = Snapshot::<K>::deserialize(deserializer)?;
        restore(snapshot).map_err(D::Error::custom)
    }
}

/// Rebuilds a scheduler from its serialized form, or says what is inconsistent.
fn restore<K: Copy>(snapshot: Snapshot<K>) -> Result<Scheduler<K>, String> {
    let next_id = snapshot.next_id;
    let mut s = Scheduler::new();
    // The first block not below `next_id`.
    s.next_block = (next_id >> BLOCK_SHIFT) + u64::from(next_id & SLOT_MASK != 0);
    if s.next_block >= BLOCK_MASK {
        return Err(format!("next_id {next_id} is beyond the last block"));
    }
    let issued = |id: u64| {
        if id < next_id {
            Ok(())
        } else {
            Err(format!("id {id} is not below next_id {next_id}"))
        }
    };

    // Buckets: aligned, at most the top width, disjoint.
    let mut previous: Option<(Instant, u32)> = None;
    for &(start, shift, _) in &snapshot.buckets {
        let aligned = shift <= TOP_SHIFT && start & ((1 << shift) - 1) == 0;
        let after_previous = previous.is_none_or(|(p, ps)| p < start && !covers(p, ps, start));
        if !aligned || !after_previous {
            return Err(format!(
                "bucket [{start}, 2^{shift}) is misaligned, too wide, out of order or overlapping"
            ));
        }
        previous = Some((start, shift));
        s.buckets.insert(start, Bucket::new(Vec::new(), shift));
    }

    // Liveness.
    for e in &snapshot.timers {
        issued(e.id)?;
        let (block, word, mask) = bit_of(e.id);
        let block = s.blocks.entry(block).or_default();
        if block.bits[word] & mask != 0 {
            return Err(format!("duplicate timer id {}", e.id));
        }
        block.bits[word] |= mask;
        block.live += 1;
        s.live += 1;
    }
    for e in &snapshot.cancelled {
        issued(e.id)?;
        if is_live(&s.blocks, e.id) {
            return Err(format!("timer id {} is both live and cancelled", e.id));
        }
    }

    // Entries, each in the bucket covering it.
    for e in snapshot.timers.into_iter().chain(snapshot.cancelled) {
        match s.buckets.range_mut(..=e.at).next_back() {
            Some((&start, bucket)) if covers(start, bucket.shift, e.at) => {
                bucket.heap.push(Slot::new(start, e.at, e.id, e.key));
            }
            _ => return Err(format!("timer at {} is in no bucket", e.at)),
        }
        s.entries += 1;
    }
    s.buckets.retain(|_, bucket| !bucket.heap.is_empty());

    // Cursors: a cursor's block belongs to its bucket, and the bucket's ids are below the
    // cursor, so that the ids it hands out next are new and come after the others (FIFO).
    let mut cursor_blocks: BlockMap<Instant> = BlockMap::default();
    for &(start, _, cursor) in &snapshot.buckets {
        let Some(bucket) = s.buckets.get_mut(&start) else {
            continue;
        };
        if cursor & SLOT_MASK == 0 {
            continue;
        }
        issued(cursor)?;
        if bucket.heap.iter().any(|e| e.id() >= cursor)
            || cursor_blocks.insert(cursor >> BLOCK_SHIFT, start).is_some()
        {
            return Err(format!(
                "cursor {cursor} of bucket {start} would hand out ids again"
            ));
        }
        bucket.cursor = cursor;
    }
    for (&start, bucket) in &mut s.buckets {
        for e in &bucket.heap {
            if cursor_blocks
                .get(&(e.id() >> BLOCK_SHIFT))
                .is_some_and(|&b| b != start)
            {
                return Err(format!(
                    "timer id {} is in the block of another bucket's cursor",
                    e.id()
                ));
            }
        }
        bucket.heap.shrink_to_fit();
        heapify(&mut bucket.heap);
        s.capacity += bucket.heap.capacity();
    }
    s.compact_if_mostly_tombstones();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pops everything due at or before `now`.
    fn drain(s: &mut Scheduler<u32>, now: Instant) -> Vec<(Instant, TimerId, u32)> {
        std::iter::from_fn(|| s.pop_due(now)).collect()
    }

    /// Checks the internal invariants: bucket membership and heap order, counters, one entry
    /// per live id, block counts, tombstones bounded.
    fn check_invariants<K: Copy>(s: &Scheduler<K>) {
        let (mut entries, mut capacity, mut live_entries) = (0, 0, 0);
        let mut previous: Option<(Instant, u32)> = None;
        for (&b, bucket) in &s.buckets {
            let heap = &bucket.heap;
            assert!(!heap.is_empty(), "empty bucket {b}");
            assert!(bucket.shift <= TOP_SHIFT);
            assert_eq!(b & ((1 << bucket.shift) - 1), 0, "aligned");
            if let Some((p, ps)) = previous {
                assert!(!covers(p, ps, b), "overlapping buckets");
            }
            previous = Some((b, bucket.shift));
            if bucket.cursor & SLOT_MASK != 0 {
                assert!(
                    heap.iter().all(|e| e.id() < bucket.cursor),
                    "cursor above ids"
                );
            }
            for (i, e) in heap.iter().enumerate() {
                assert!(
                    u64::from(e.off) >> bucket.shift == 0,
                    "entry outside its bucket"
                );
                if i > 0 {
                    assert!(!e.before(&heap[(i - 1) / ARITY]), "heap order at {i}");
                }
                live_entries += usize::from(is_live(&s.blocks, e.id()));
            }
            entries += heap.len();
            capacity += heap.capacity();
        }
        let mut bits = 0;
        for block in s.blocks.values() {
            let n: u32 = block.bits.iter().map(|w| w.count_ones()).sum();
            assert!(n > 0, "empty block kept");
            assert_eq!(n, u32::from(block.live));
            bits += n as usize;
        }
        assert_eq!(bits, s.live);
        assert_eq!(entries, s.entries);
        assert_eq!(capacity, s.capacity);
        assert_eq!(live_entries, s.live);
        assert!(
            s.entries <= 2 * s.len(),
            "{} entries for {} live",
            s.entries,
            s.len()
        );
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
    fn ties_are_fifo_across_blocks_and_round_trips() {
        let mut s = Scheduler::new();
        let mut twin: Option<Scheduler<u32>> = None;
        let mut expected = Vec::new();
        for k in 0..1200u32 {
            if k == 600 {
                let json = serde_json::to_string(&s).expect("serialize");
                twin = Some(serde_json::from_str(&json).expect("deserialize"));
            }
            // Other buckets take blocks in between, so the tied timers span many blocks.
            let other = Instant::from(k % 7 + 1) << TOP_SHIFT;
            let id = s.schedule(other, u32::MAX);
            let tied = s.schedule(5, k);
            if let Some(t) = &mut twin {
                assert_eq!(t.schedule(other, u32::MAX), id);
                assert_eq!(t.schedule(5, k), tied);
            }
            expected.push((tied, k));
        }
        let mut twin = twin.expect("restored at 600");
        let got: Vec<(TimerId, u32)> = drain(&mut s, 5).into_iter().map(|t| (t.1, t.2)).collect();
        assert_eq!(got, expected);
        let twin_got: Vec<(TimerId, u32)> = drain(&mut twin, 5)
            .into_iter()
            .map(|t| (t.1, t.2))
            .collect();
        assert_eq!(twin_got, expected);
        let rest = drain(&mut s, Instant::MAX);
        assert_eq!(rest.len(), 1200);
        assert_eq!(drain(&mut twin, Instant::MAX), rest);
    }

    #[test]
    fn blocks_are_freed_as_timers_fire() {
        let mut s = Scheduler::new();
        // A pending timer keeps the bucket alive while others come and go in it.
        s.schedule(10, 0);
        for k in 0..100_000u32 {
            s.schedule(1, k);
            assert_eq!(s.pop_due(1).map(|t| t.2), Some(k));
            assert!(s.blocks.len() <= 2);
        }
        check_invariants(&s);
        assert!(s.memory_bytes() < 16 * 1024, "{}", s.memory_bytes());
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
        s.cancel(TimerId::new(999).expect("id")); // never issued
        assert_eq!(TimerId::new(u64::MAX), None);
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
            s.entries <= 2 * s.len(),
            "tombstones bounded: {}",
            s.entries
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
            assert!(s.entries <= 2);
        }
        assert_eq!(s.len(), 1);
        assert!(s.memory_bytes() < 64 * 1024, "{}", s.memory_bytes());
    }

    #[test]
    fn slots_hold_offsets_and_ids_in_twenty_bytes() {
        // A key of 8 bytes aligned to 4 (like the engine's TimerKey) makes a 20-byte slot.
        assert_eq!(size_of::<Slot<[u32; 2]>>(), 20);
        let start: Instant = -(1 << 40);
        let last = start + (1 << TOP_SHIFT) - 1;
        for (at, id) in [(start, 0), (last, u64::MAX - 1), (start + 5, 1 << 32)] {
            let slot = Slot::new(start, at, id, [7u32, 9]);
            assert_eq!(
                slot.entry(start),
                Entry {
                    at,
                    id,
                    key: [7, 9]
                }
            );
        }
        let early = Slot::new(start, start + 1, u64::MAX - 1, 0u32);
        let late = Slot::new(start, start + 2, 0, 0u32);
        assert!(early.before(&late) && !late.before(&early));
    }

    #[test]
    fn memory_is_given_back() {
        let mut s = Scheduler::new();
        for k in 0..100_000u32 {
            s.schedule(Instant::from(k), k);
        }
        let full = s.memory_bytes();
        assert!(full >= 100_000 * size_of::<Slot<u32>>(), "{full}");
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
    fn serialized_form_is_the_documented_one() {
        let mut s = Scheduler::new();
        s.schedule(0, 0u32); // takes block 0, then fires
        assert!(s.pop_due(0).is_some());
        assert_eq!(s.schedule(1_798_761_600, 7), TimerId::new(256).expect("id"));
        let id = s.schedule(1_798_765_200, 8);
        s.cancel(id);
        let json = serde_json::to_string(&s).expect("serialize");
        assert_eq!(
            json,
            concat!(
                r#"{"next_id":512,"buckets":[[1798307840,20,258]],"#,
                r#""timers":[{"at":1798761600,"id":256,"key":7}],"#,
                r#""cancelled":[{"at":1798765200,"id":257,"key":8}]}"#
            )
        );
    }

    #[test]
    fn timer_ids_are_one_word_even_optional_and_serialize_as_the_id() {
        assert_eq!(size_of::<Option<TimerId>>(), 8);
        let mut s: Scheduler<u32> = Scheduler::new();
        let a = s.schedule(5, 1);
        let b = s.schedule(5, 2);
        assert_eq!((a.get(), b.get()), (0, 1));
        assert_eq!(serde_json::to_string(&Some(b)).expect("json"), "1");
        assert_eq!(serde_json::from_str::<TimerId>("1").expect("id"), b);
        assert!(serde_json::from_str::<TimerId>("18446744073709551615").is_err());
        // The last block, whose last id would be u64::MAX, is never handed out: a snapshot
        // whose next id lies in it is refused, and the block counter wraps before it.
        let last = (BLOCK_MASK << BLOCK_SHIFT) + 1;
        let text = format!(r#"{{"next_id":{last},"buckets":[],"timers":[]}}"#);
        assert!(serde_json::from_str::<Scheduler<u32>>(&text).is_err());
        let mut bucket = Bucket::<u32>::new(Vec::new(), 4);
        let mut next_block = BLOCK_MASK - 1;
        assert_eq!(
            take_id(&mut bucket, &mut next_block),
            (BLOCK_MASK - 1) << BLOCK_SHIFT
        );
        assert_eq!(next_block, 0);
    }

    #[test]
    fn serde_rejects_inconsistent_input() {
        let bad = [
            // Duplicate live id; ids not below next_id; live and cancelled.
            r#"{"next_id":2,"buckets":[[0,20,0]],"timers":[{"at":1,"id":1,"key":0},{"at":2,"id":1,"key":0}]}"#,
            r#"{"next_id":1,"buckets":[[0,20,0]],"timers":[{"at":1,"id":1,"key":0}]}"#,
            r#"{"next_id":2,"buckets":[[0,20,0]],"timers":[],"cancelled":[{"at":1,"id":2,"key":0}]}"#,
            r#"{"next_id":2,"buckets":[[0,20,0]],"timers":[{"at":1,"id":1,"key":0}],"cancelled":[{"at":1,"id":1,"key":0}]}"#,
            r#"{"next_id":18446744073709551615,"buckets":[],"timers":[]}"#,
            // Cursors: not below next_id; not above its bucket's ids; in another bucket's
            // block; two in one block.
            r#"{"next_id":256,"buckets":[[0,20,257]],"timers":[{"at":1,"id":1,"key":0}]}"#,
            r#"{"next_id":256,"buckets":[[0,20,5]],"timers":[{"at":1,"id":9,"key":0}]}"#,
            r#"{"next_id":512,"buckets":[[0,20,10],[1048576,20,0]],"timers":[{"at":1,"id":9,"key":0},{"at":1048577,"id":1,"key":0}]}"#,
            r#"{"next_id":512,"buckets":[[0,20,10],[1048576,20,12]],"timers":[{"at":1,"id":9,"key":0},{"at":1048577,"id":300,"key":0}]}"#,
            // Buckets: misaligned, too wide, overlapping, out of order; a timer outside them.
            r#"{"next_id":0,"buckets":[[5,4,0]],"timers":[]}"#,
            r#"{"next_id":0,"buckets":[[0,21,0]],"timers":[]}"#,
            r#"{"next_id":0,"buckets":[[0,20,0],[16,4,0]],"timers":[]}"#,
            r#"{"next_id":0,"buckets":[[1048576,20,0],[0,20,0]],"timers":[]}"#,
            r#"{"next_id":2,"buckets":[[0,4,0]],"timers":[{"at":100,"id":1,"key":0}]}"#,
            // Not a snapshot.
            r#"{"next_id":-1,"buckets":[],"timers":[]}"#,
            r#"{"next_id":1,"buckets":[[0,20,0]],"timers":[{"at":1,"id":0}]}"#,
            r#"{"next_id":1,"timers":[]}"#,
            r#"[1,2,3]"#,
            "",
        ];
        for text in bad {
            assert!(
                serde_json::from_str::<Scheduler<u32>>(text).is_err(),
                "{text}"
            );
        }
        // Timers in any order are rebuilt into heaps.
        let text = r#"{"next_id":9,"buckets":[[0,20,0]],"timers":[{"at":5,"id":3,"key":30},{"at":1,"id":8,"key":80},{"at":5,"id":0,"key":0}]}"#;
        let mut s: Scheduler<u32> = serde_json::from_str(text).expect("deserialize");
        check_invariants(&s);
        let keys: Vec<u32> = drain(&mut s, Instant::MAX)
            .into_iter()
            .map(|t| t.2)
            .collect();
        assert_eq!(keys, [80, 0, 30]);
        // New ids come from the first block above `next_id`.
        assert_eq!(s.schedule(0, 0), TimerId::new(256).expect("id"));

        // Tombstones and cursors are restored; a bucket without timers is dropped.
        let text = r#"{"next_id":256,"buckets":[[0,20,5],[1048576,20,0]],"timers":[{"at":5,"id":3,"key":30}],"cancelled":[{"at":4,"id":4,"key":40}]}"#;
        let mut s: Scheduler<u32> = serde_json::from_str(text).expect("deserialize");
        check_invariants(&s);
        assert_eq!((s.len(), s.entries, s.buckets.len()), (1, 2, 1));
        assert_eq!(s.schedule(6, 60), TimerId::new(5).expect("id"));
        s.cancel(TimerId::new(4).expect("id"));
        assert_eq!(s.len(), 2);
        assert_eq!(
            drain(&mut s, 10),
            [
                (5, TimerId::new(3).expect("id"), 30),
                (6, TimerId::new(5).expect("id"), 60)
            ]
        );
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
        // 1,000,000 takes over a second in a debug build; 200,000 keeps `cargo test` quick
        // (the benchmark runs 1M and 5M in release).
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
        while let Some((at, id, _)) = s.pop_due(Instant::MAX) {
            assert!(prev < (at, id.get()));
            prev = (at, id.get());
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

    /// Instants: many ties within a bucket, a few neighbouring buckets, anywhere.
    fn instant() -> impl Strategy<Value = Instant> {
        prop_oneof![
            4 => 0..50i64,
            4 => (-3..6i64, 0..4i64).prop_map(|(b, t)| (b << TOP_SHIFT) + t * 300_000),
            4 => (0..4i64, 0..64i64).prop_map(|(b, t)| (b << 12) + t * 60),
            1 => any::<i64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => instant().prop_map(Op::Schedule),
            2 => any::<usize>().prop_map(Op::Cancel),
            3 => instant().prop_map(Op::Pop),
            1 => Just(Op::NextDue),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any snapshot either fails to load or loads into a consistent scheduler that keeps
        /// its promises: time order, FIFO ties after the restored timers, unique ids.
        #[test]
        fn arbitrary_snapshots_load_consistently_or_fail(
            next_id in prop_oneof![3 => Just(2048u64), 1 => any::<u64>()],
            buckets in prop::collection::btree_map(
                -3..6i64,
                (prop_oneof![Just(20u32), Just(12), Just(0)], prop_oneof![3 => Just(0u64), 1 => 0..2304u64]),
                0..4,
            ),
            live_ids in prop::sample::subsequence((0..2048u64).collect::<Vec<_>>(), 0..40),
            cancelled_ids in prop::collection::vec(0..2048u64, 0..10),
            spots in prop::collection::vec((any::<prop::sample::Index>(), any::<u64>()), 50),
        ) {
            let buckets: Vec<(Instant, u32, u64)> =
                buckets.into_iter().map(|(b, (shift, cursor))| (b << TOP_SHIFT, shift, cursor)).collect();
            // Timers inside the buckets (or outside when there are none).
            let place = |(k, &id): (usize, &u64)| {
                let (i, offset) = spots[k % spots.len()];
                let at = if buckets.is_empty() {
                    (offset % 1000) as Instant
                } else {
                    let (start, shift, _) = buckets[i.index(buckets.len())];
                    start + (offset & ((1 << shift) - 1)) as Instant
                };
                (at, id)
            };
            let timers: Vec<(Instant, u64)> = live_ids.iter().enumerate().map(place).collect();
            let cancelled: Vec<(Instant, u64)> =
                cancelled_ids.iter().enumerate().map(|(k, id)| place((k + 40, id))).collect();
            let entry = |&(at, id): &(Instant, u64)| serde_json::json!({"at": at, "id": id, "key": 0});
            let json = serde_json::json!({
                "next_id": next_id,
                "buckets": buckets,
                "timers": timers.iter().map(entry).collect::<Vec<_>>(),
                "cancelled": cancelled.iter().map(entry).collect::<Vec<_>>(),
            });
            if let Ok(mut s) = serde_json::from_value::<Scheduler<u32>>(json) {
                check_invariants(&s);
                let mut ids: Vec<u64> = timers.iter().map(|t| t.1).collect();
                for k in 1..=600u32 {
                    let at = timers.get(k as usize % 50).map_or(0, |t| t.0);
                    ids.push(s.schedule(at, k).get());
                }
                check_invariants(&s);
                ids.sort_unstable();
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are unique");
                let got = drain(&mut s, Instant::MAX);
                prop_assert_eq!(got.len(), timers.len() + 600);
                // Sorted by time; among ties, restored timers (key 0) first, then new ones
                // in scheduling order.
                prop_assert!(got.windows(2).all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].2 <= w[1].2)));
            }
        }

        /// Against a reference model: a Vec of live timers, sorted on each pop. At a random
        /// point the scheduler is serialized and restored, and from there on the restored copy
        /// must do exactly what the original does, ids included.
        #[test]
        fn matches_reference_model(
            ops in prop::collection::vec(op(), 0..300),
            split in any::<prop::sample::Index>(),
        ) {
            let mut s = Scheduler::new();
            let mut twin: Option<Scheduler<u32>> = None;
            let split = split.index(ops.len() + 1);
            let mut model: Vec<(Instant, u64, u32)> = Vec::new();
            let mut issued: Vec<TimerId> = Vec::new();
            for (k, op) in ops.into_iter().enumerate() {
                if k == split {
                    let json = serde_json::to_string(&s).expect("serialize");
                    twin = Some(serde_json::from_str(&json).expect("deserialize"));
                }
                let key = k as u32;
                match op {
                    Op::Schedule(at) => {
                        let id = s.schedule(at, key);
                        if let Some(t) = &mut twin {
                            prop_assert_eq!(t.schedule(at, key), id);
                        }
                        prop_assert!(!issued.contains(&id));
                        issued.push(id);
                        model.push((at, id.get(), key));
                    }
                    Op::Cancel(n) => {
                        let id = if issued.is_empty() { TimerId::new(n as u64).expect("id") } else { issued[n % issued.len()] };
                        s.cancel(id);
                        if let Some(t) = &mut twin {
                            t.cancel(id);
                        }
                        model.retain(|t| t.1 != id.get());
                    }
                    Op::Pop(now) => {
                        model.sort_unstable_by_key(|t| (t.0, t.1));
                        let expected = match model.first() {
                            Some(&(at, id, key)) if at <= now => {
                                model.remove(0);
                                Some((at, TimerId::new(id).expect("id"), key))
                            }
                            _ => None,
                        };
                        prop_assert_eq!(s.pop_due(now), expected);
                        if let Some(t) = &mut twin {
                            prop_assert_eq!(t.pop_due(now), expected);
                        }
                    }
                    Op::NextDue => {
                        let expected = model.iter().map(|t| t.0).min();
                        prop_assert_eq!(s.next_due(), expected);
                        if let Some(t) = &mut twin {
                            prop_assert_eq!(t.next_due(), expected);
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.is_empty(), model.is_empty());
                check_invariants(&s);
                if let Some(t) = &twin {
                    prop_assert_eq!(t.len(), model.len());
                    check_invariants(t);
                }
            }
            // The state survives a round trip.
            let json = serde_json::to_string(&s).expect("serialize");
            let mut back: Scheduler<u32> = serde_json::from_str(&json).expect("deserialize");
            model.sort_unstable_by_key(|t| (t.0, t.1));
            let rest: Vec<(Instant, TimerId, u32)> =
                model.into_iter().map(|(at, id, key)| (at, TimerId::new(id).expect("id"), key)).collect();
            prop_assert_eq!(drain(&mut back, Instant::MAX), rest);
        }
    }
}
