//! Event-history aggregates kept as compact running summaries, and segment membership
//! evaluated incrementally: only the segments that read what changed are re-evaluated, and a
//! customer whose membership can change by the passage of time alone gets one timer at the
//! next instant an occurrence leaves a window (no scanning).

use journey_bytecode::{AggFn, AggId, Program};
use smallvec::{SmallVec, smallvec};

use crate::customer::{AGG_CAP, AggState, Customer};
use crate::time::Instant;
use crate::value::Value;

/// Adds an occurrence (with the aggregated property's value, if any) to an aggregate.
pub(crate) fn record(state: &mut AggState, at: Instant, value: &Value) {
    let x = match value {
        Value::Number(n) => *n,
        _ => 0.0,
    };
    let (n, sum, min, max) = state.total;
    state.total = if n == 0 {
        (1, x, x, x)
    } else {
        (n + 1, sum + x, min.min(x), max.max(x))
    };
    if !matches!(value, Value::None) || state.last.is_none() {
        state.last = Some((at, value.clone()));
    }
    let window = &mut state.window;
    if window.len() == window.capacity() {
        // A window fills up to the occurrences of its length (a daily event over 183 days
        // holds 183) and stays there: grow by an eighth, not by doubling, so that it ends
        // with at most an eighth unused instead of up to half (183 in a buffer of 256).
        window.reserve_exact((window.len() / 8).max(4));
    }
    window.push_back((at, x));
    if let Some(k) = &mut state.kept {
        k.enter(1, x);
        k.newest = at;
        if k.count == 1 {
            k.oldest = at;
        }
    }
    if state.window.len() > AGG_CAP {
        // Merge the two oldest: counts stay exact; the merged occurrence leaves the window
        // with the newer one. Its sum is rounded once, so the kept totals are rebuilt from
        // the window as it now is.
        let pair = {
            let mut two = state.occurrences();
            (two.next(), two.next())
        };
        if let (Some(a), Some(b)) = pair {
            state.window.pop_front();
            state.window.pop_front();
            state.window.push_front((b.0, a.2 + b.2));
            state.merged = Some((a.1 + b.1, a.3.min(b.3), a.4.max(b.4)));
        }
        state.kept = Some(Kept::of(state.occurrences()));
    }
}

/// 1 for a value that would make a window's sum grow as it leaves (negative or NaN).
fn irregular(x: f64) -> u32 {
    u32::from(x.is_nan() || x < 0.0)
}

/// An occurrence in a window: (instant, count, sum, min, max).
type Occurrence = (Instant, u32, f64, f64, f64);

/// The count and the exact sum of a window's occurrences, and the instants of its oldest
/// and newest: a question about the window that they answer reads no occurrence (a cold
/// customer's occurrences are another cache miss away from its state).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kept {
    count: u64,
    sum: ExactSum,
    /// The oldest occurrence's instant (meaningless while `count` is 0).
    oldest: Instant,
    /// The newest occurrence's instant (meaningless while `count` is 0).
    newest: Instant,
    /// Occurrences whose value is negative or NaN: while there are none, the window's sum
    /// can only decrease as occurrences leave (see [`crate::drift`]).
    irregular: u32,
}

impl Kept {
    /// No occurrence has a negative or NaN value: the window's sum can only decrease as
    /// occurrences leave.
    pub(crate) fn sum_only_decreases(&self) -> bool {
        self.irregular == 0
    }

    /// An occurrence standing for `count` ones, of value (sum) `x`, enters the window.
    fn enter(&mut self, count: u32, x: f64) {
        self.count += u64::from(count);
        self.sum.add(x);
        self.irregular += irregular(x);
    }

    /// An occurrence that entered with [`Kept::enter`] leaves the window.
    fn leave(&mut self, count: u32, x: f64) {
        self.count -= u64::from(count);
        self.sum.remove(x);
        self.irregular -= irregular(x);
    }

    /// The totals of some occurrences, in time order.
    fn of(occurrences: impl Iterator<Item = Occurrence>) -> Kept {
        let mut k = Kept::default();
        for o in occurrences {
            if k.count == 0 {
                k.oldest = o.0;
            }
            k.newest = o.0;
            k.enter(o.1, o.2);
        }
        k
    }

    /// Whether every occurrence is inside `(from, now]` (an empty window is).
    fn all_inside(&self, from: Instant, now: Instant) -> bool {
        self.count == 0 || (self.oldest > from && self.newest <= now)
    }
}

/// A sum of floating-point numbers kept exactly, as non-overlapping partial sums (Shewchuk's
/// method): adding `-x` removes `x` exactly, and the total is rounded once, so it does not
/// depend on the order in which values came and went. Infinities and NaN are counted aside;
/// partial sums that overflow make the sum fall back to plain addition of the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// Inline up to three (a window of daily decimal amounts needs one to three): no
    /// allocation of its own to reach when an occurrence comes or goes.
    partials: SmallVec<[f64; 3]>,
    /// +inf, -inf and NaN values currently in the sum.
    special: [u32; 3],
    /// Partial sums overflowed: `partials[0]` holds a plain running sum.
    overflowed: bool,
}

impl ExactSum {
    /// Adds a value.
    pub fn add(&mut self, x: f64) {
        self.change(x, 1);
    }

    /// Removes a value added before.
    pub fn remove(&mut self, x: f64) {
        self.change(-x, -1);
    }

    fn change(&mut self, x: f64, sign: i32) {
        if !x.is_finite() {
            let k = if x.is_nan() {
                2
            } else if (x > 0.0) == (sign > 0) {
                0
            } else {
                1
            };
            self.special[k] = self.special[k].saturating_add_signed(sign);
            return;
        }
        if self.overflowed {
            match self.partials.first_mut() {
                Some(p) => *p += x,
                None => self.partials.push(x),
            }
            return;
        }
        // Partial sums can only overflow near the largest doubles (the partials do not
        // overlap, so their sum is within twice the largest): keep the old ones aside then.
        let near_max = f64::MAX / 8.0;
        let saved = (x.abs() >= near_max
            || self.partials.last().is_some_and(|p| p.abs() >= near_max))
        .then(|| (self.partials.clone(), x));
        let mut x = x;
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
        if let Some((before, added)) = saved
            && self.partials.iter().any(|p| !p.is_finite())
        {
            // Finite values whose sum overflows: no exact representation here.
            self.partials = smallvec![before.iter().sum::<f64>() + added];
            self.overflowed = true;
        }
    }

    /// The sum is exact: no partial sum overflowed.
    pub fn is_exact(&self) -> bool {
        !self.overflowed
    }

    /// The sum, rounded once to the nearest double (ties to even).
    pub fn total(&self) -> f64 {
        let [pos, neg, nan] = self.special;
        if nan > 0 || (pos > 0 && neg > 0) {
            return f64::NAN;
        }
        if pos > 0 {
            return f64::INFINITY;
        }
        if neg > 0 {
            return f64::NEG_INFINITY;
        }
        let p = &self.partials;
        let Some(&last) = p.last() else {
            return 0.0;
        };
        if self.overflowed {
            return last;
        }
        // Add the partials from the largest down until the sum is inexact; then correct
        // for a tie that the partials below would break.
        let mut n = p.len() - 1;
        let mut hi = last;
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            let y = p[n - 1];
            n -= 1;
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

/// Drops occurrences that left a window of `window` seconds at `now` (and builds the kept
/// totals if the state has none yet).
pub(crate) fn prune(state: &mut AggState, window: u64, now: Instant) {
    let from = now.saturating_sub(window as i64);
    // The kept bounds tell when nothing left: the occurrences are not read.
    if state
        .kept
        .as_ref()
        .is_some_and(|k| k.count == 0 || k.oldest > from)
    {
        return;
    }
    let mut left = false;
    while let Some(o) = state.oldest().filter(|o| o.0 <= from) {
        state.window.pop_front();
        state.merged = None;
        left = true;
        if let Some(k) = &mut state.kept {
            k.leave(o.1, o.2);
        }
    }
    match &mut state.kept {
        None => state.kept = Some(Kept::of(state.occurrences())),
        Some(k) => {
            if left && let Some(&(at, _)) = state.window.front() {
                k.oldest = at;
            }
        }
    }
}

/// The current value of an aggregate for a customer.
pub(crate) fn aggregate_value(
    program: &Program,
    customer: &Customer,
    agg: AggId,
    now: Instant,
) -> Value {
    let Some(def) = program.aggregates.get(agg) else {
        return Value::None;
    };
    let state = customer.agg(agg);
    let (count, sum, min, max) = match (state, def.window_secs) {
        (None, _) => (0, 0.0, f64::INFINITY, f64::NEG_INFINITY),
        (Some(s), None) => (s.total.0, s.total.1, s.total.2, s.total.3),
        (Some(s), Some(w)) => window_totals(s, w, now, matches!(def.func, AggFn::Min | AggFn::Max)),
    };
    match def.func {
        AggFn::Count => Value::Number(count as f64),
        AggFn::Sum => Value::Number(sum),
        AggFn::Avg if count > 0 => Value::Number(sum / count as f64),
        AggFn::Min if count > 0 => Value::Number(min),
        AggFn::Max if count > 0 => Value::Number(max),
        AggFn::Last => match (state.and_then(|s| s.last.clone()), def.window_secs) {
            (Some((at, v)), Some(w)) if at > now.saturating_sub(w as i64) => v,
            (Some((_, v)), None) => v,
            _ => Value::None,
        },
        _ => Value::None,
    }
}

/// (count, exact sum, min, max) of the occurrences inside a window of `w` seconds ending at
/// `now`; min and max only when `extremes` (else infinite).
pub(crate) fn window_totals(
    s: &AggState,
    w: u64,
    now: Instant,
    extremes: bool,
) -> (u64, f64, f64, f64) {
    let from = now.saturating_sub(w as i64);
    let inside = |at: Instant| at > from && at <= now;
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    if extremes {
        for o in s.occurrences().filter(|o| inside(o.0)) {
            min = min.min(o.3);
            max = max.max(o.4);
        }
    }
    match &s.kept {
        // Occurrences are in time order: when the oldest and the newest are inside, all
        // are, and the kept totals are the answer.
        Some(k) if k.all_inside(from, now) => (k.count, k.sum.total(), min, max),
        _ => {
            let k = Kept::of(s.occurrences().filter(|o| inside(o.0)));
            (k.count, k.sum.total(), min, max)
        }
    }
}

/// The next instant an occurrence leaves one of these windows, after `now`.
pub(crate) fn next_expiry(
    program: &Program,
    customer: &Customer,
    aggs: &[AggId],
    now: Instant,
) -> Option<Instant> {
    aggs.iter()
        .filter_map(|a| expiry(program, customer, *a, now))
        .min()
}

/// The next instant an occurrence leaves the window of aggregate `a`, after `now` (`None`
/// without a window or an occurrence inside it).
pub(crate) fn expiry(
    program: &Program,
    customer: &Customer,
    a: AggId,
    now: Instant,
) -> Option<Instant> {
    let w = program.aggregates.get(a)?.window_secs? as i64;
    leaves_at(customer.agg(a)?, w, now)
}

/// The next instant an occurrence leaves a window of `w` seconds, after `now`.
fn leaves_at(state: &AggState, w: i64, now: Instant) -> Option<Instant> {
    if let Some(k) = &state.kept {
        if k.count == 0 {
            return None;
        }
        let leaves = k.oldest.saturating_add(w);
        if leaves > now {
            return Some(leaves);
        }
    }
    // Occurrences are in time order; those that already left may not be pruned yet.
    let first = state
        .window
        .partition_point(|o| o.0.saturating_add(w) <= now);
    state.window.get(first).map(|o| o.0.saturating_add(w))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The exactly rounded sum, computed independently: exact rational arithmetic on the
    /// values scaled to integers (every value below is a multiple of 2^-20 within ±2^40).
    fn exact(values: &[f64]) -> f64 {
        let scaled: i128 = values.iter().map(|v| (v * 1_048_576.0) as i128).sum();
        scaled as f64 / 1_048_576.0
    }

    fn grid() -> impl Strategy<Value = f64> {
        (-(1i64 << 40)..(1i64 << 40), 0u32..21).prop_map(|(m, e)| m as f64 / f64::from(1u32 << e))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Adding and removing values leaves the exactly rounded sum of what remains,
        /// whatever the order.
        #[test]
        fn exact_sums_round_once(values in proptest::collection::vec(grid(), 0..60), cut in 0usize..60) {
            let mut s = ExactSum::default();
            for v in &values {
                s.add(*v);
            }
            prop_assert_eq!(s.total().to_bits(), exact(&values).to_bits());
            let cut = cut.min(values.len());
            for v in &values[..cut] {
                s.remove(*v);
            }
            prop_assert_eq!(s.total().to_bits(), exact(&values[cut..]).to_bits());
        }

        /// The kept totals give what going over the window gives: after additions, expiries
        /// and merges, at any later instant.
        #[test]
        fn kept_totals_are_the_window_totals(
            steps in proptest::collection::vec((0i64..200, grid(), any::<bool>()), 1..120),
            window in 1u64..600,
            cap_merge in any::<bool>(),
        ) {
            let mut state = AggState::default();
            let mut now = 1_000;
            // Every occurrence recorded, for the count, min and max a window must give.
            let mut all: Vec<(Instant, f64)> = Vec::new();
            for (dt, x, prune_first) in steps {
                now += dt;
                if prune_first {
                    prune(&mut state, window, now);
                }
                record(&mut state, now, &Value::Number(x));
                all.push((now, x));
                if !cap_merge {
                    let later = now + dt;
                    let inside: Vec<f64> = all
                        .iter()
                        .filter(|o| o.0 > later - window as i64 && o.0 <= later)
                        .map(|o| o.1)
                        .collect();
                    let (count, _, min, max) = window_totals(&state, window, later, true);
                    prop_assert_eq!(count, inside.len() as u64);
                    prop_assert_eq!(min, inside.iter().copied().fold(f64::INFINITY, f64::min));
                    prop_assert_eq!(max, inside.iter().copied().fold(f64::NEG_INFINITY, f64::max));
                }
                if cap_merge {
                    // Up to the cap: the next occurrence merges the two oldest.
                    while state.window.len() < AGG_CAP {
                        record(&mut state, now, &Value::Number(x / 4.0));
                    }
                }
                for later in [now, now + dt, now + window as i64 / 2] {
                    let kept = window_totals(&state, window, later, true);
                    // The kept bounds are the window's (what lets a read skip it).
                    if let Some(k) = &state.kept && k.count > 0 {
                        prop_assert_eq!(Some(k.oldest), state.window.front().map(|o| o.0));
                        prop_assert_eq!(Some(k.newest), state.window.back().map(|o| o.0));
                    }
                    let bare = AggState { kept: None, ..state.clone() };
                    let over = window_totals(&bare, window, later, true);
                    prop_assert_eq!(
                        leaves_at(&state, window as i64, later),
                        leaves_at(&bare, window as i64, later)
                    );
                    prop_assert_eq!(
                        (kept.0, kept.1.to_bits(), kept.2.to_bits(), kept.3.to_bits()),
                        (over.0, over.1.to_bits(), over.2.to_bits(), over.3.to_bits())
                    );
                }
            }
        }
    }

    #[test]
    fn exact_sums_keep_infinities_and_overflow_apart() {
        let mut s = ExactSum::default();
        s.add(1.0);
        s.add(f64::INFINITY);
        assert_eq!(s.total(), f64::INFINITY);
        s.add(f64::NEG_INFINITY);
        assert!(s.total().is_nan());
        s.remove(f64::INFINITY);
        s.remove(f64::NEG_INFINITY);
        assert_eq!(s.total(), 1.0);
        // 0.1 + 0.2 + 0.3 added one by one is 0.6000000000000001; rounded once it is 0.6.
        let mut t = ExactSum::default();
        for v in [0.1, 0.2, 0.3] {
            t.add(v);
        }
        assert_eq!(t.total(), 0.6);
        t.remove(0.2);
        assert_eq!(t.total(), 0.1 + 0.3);
        let mut big = ExactSum::default();
        big.add(f64::MAX);
        big.add(f64::MAX);
        assert_eq!(big.total(), f64::INFINITY);
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    /// The kept totals are not part of the serialized state; a state read back equals the
    /// original and evaluates the same.
    #[test]
    fn a_state_read_back_is_the_same_state() {
        let mut state = AggState::default();
        for (at, x) in [(10, 0.1), (20, 0.2), (30, 0.3)] {
            prune(&mut state, 100, at);
            record(&mut state, at, &Value::Number(x));
        }
        let text = serde_json::to_string(&state).expect("serialize");
        assert!(!text.contains("kept"), "{text}");
        let back: AggState = serde_json::from_str(&text).expect("deserialize");
        assert!(back.kept.is_none() && state.kept.is_some());
        assert_eq!(back, state);
        let t = |s: &AggState| window_totals(s, 100, 40, false).1.to_bits();
        assert_eq!(t(&back), t(&state));
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    /// A daily event over a 183-day window fills it with 183 occurrences and stays there:
    /// the buffer ends at most an eighth (and four) above that, not at the next power of two
    /// (256), and the occurrences are all there, in order.
    #[test]
    fn a_full_window_wastes_at_most_an_eighth() {
        const DAY: Instant = 86_400;
        let window = 183 * 86_400u64;
        let mut state = AggState::default();
        for day in 0..400 {
            let at = day * DAY;
            prune(&mut state, window, at);
            record(&mut state, at, &Value::Number(day as f64));
        }
        let len = state.window.len();
        assert_eq!(len, 183);
        assert!(
            state.window.capacity() <= len + len / 8 + 4,
            "{len} occurrences in a buffer of {}",
            state.window.capacity()
        );
        let days: Vec<f64> = state.window.iter().map(|o| o.1).collect();
        let want: Vec<f64> = (217..400).map(|d| d as f64).collect();
        assert_eq!(days, want);
    }

    /// Past the cap, the two oldest occurrences merge into one: the window keeps the cap,
    /// and its count, sum, min and max stay those of every occurrence recorded.
    #[test]
    fn merged_occurrences_keep_count_sum_and_extremes() {
        let mut state = AggState::default();
        let n = AGG_CAP + 7;
        for i in 0..n {
            let at = 1_000 + i as Instant;
            prune(&mut state, 1_000_000, at);
            // Values 1..=n, with the extremes among the first ones (those merged).
            let x = match i {
                0 => -5.0,
                1 => 10_000.0,
                _ => i as f64,
            };
            record(&mut state, at, &Value::Number(x));
        }
        assert_eq!(state.window.len(), AGG_CAP);
        assert!(state.merged.is_some());
        let want_sum: f64 = -5.0 + 10_000.0 + (2..n).map(|i| i as f64).sum::<f64>();
        let (count, sum, min, max) = window_totals(&state, 1_000_000, 1_000 + n as Instant, true);
        assert_eq!(count, n as u64);
        assert_eq!(sum, want_sum);
        assert_eq!((min, max), (-5.0, 10_000.0));
        // The merged occurrence leaves with the newest of those it stands for.
        let merged_at = state.window[0].0;
        prune(&mut state, 10, merged_at + 10);
        assert!(state.merged.is_none());
        assert!(state.window.iter().all(|o| o.0 > merged_at));
    }
}
