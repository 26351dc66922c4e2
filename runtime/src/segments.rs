//! Event-history aggregates kept as compact running summaries, and segment membership
//! evaluated incrementally: only the segments that read what changed are re-evaluated, and a
//! customer whose membership can change by the passage of time alone gets one timer at the
//! next instant an occurrence leaves a window (no scanning).

use cranelift_entity::EntityRef;
use journey_bytecode::{AggFn, AggId, EventId, Insn, Pc, Program};
use smallvec::{SmallVec, smallvec};

use crate::customer::{
    AGG_CAP, AggState, Customer, EventData, Log, NO_COLUMN, NO_LOG, Occurrence, Window,
};
use crate::time::Instant;
use crate::value::Value;

/// Aggregates over the same event through the same filter (or none): their occurrences go
/// in one [`Log`] per customer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    /// The event.
    pub(crate) event: EventId,
    /// The filter every occurrence must pass.
    pub(crate) filter: Option<Pc>,
    /// The aggregates.
    pub(crate) members: Vec<Member>,
    /// The property each column of the log holds.
    pub(crate) columns: Vec<u16>,
}

/// An aggregate in a [`Group`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Member {
    /// The aggregate.
    pub(crate) agg: AggId,
    /// Its property (none for `count`).
    pub(crate) prop: Option<u16>,
    /// Its window in seconds (none: all history, no log).
    pub(crate) window: Option<u64>,
    /// It is a `last`: it keeps the latest value.
    pub(crate) last: bool,
    /// Its column in the log, or [`NO_COLUMN`].
    pub(crate) column: u16,
}

impl Group {
    /// The members with a window, which read the log.
    pub(crate) fn windowed(&self) -> impl Iterator<Item = (&Member, u64)> {
        self.members.iter().filter_map(|m| m.window.map(|w| (m, w)))
    }

    /// Whether occurrences are logged (a member has a window).
    pub(crate) fn logs(&self) -> bool {
        self.windowed().next().is_some()
    }
}

/// The program's aggregates grouped by event and filter, in the order of their first
/// aggregate.
pub(crate) fn groups(p: &Program) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (agg, def) in p.aggregates.iter() {
        let g = match groups
            .iter()
            .position(|g| g.event == def.event && same_filter(p, g.filter, def.filter))
        {
            Some(g) => g,
            None => {
                groups.push(Group {
                    event: def.event,
                    filter: def.filter,
                    members: Vec::new(),
                    columns: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[g];
        // A count counts occurrences and `last` keeps its own latest value: neither reads
        // a column.
        let column = match (def.prop, def.func, def.window_secs) {
            (Some(prop), AggFn::Sum | AggFn::Avg | AggFn::Min | AggFn::Max, Some(_)) => {
                match group.columns.iter().position(|c| *c == prop) {
                    Some(c) => c as u16,
                    None => {
                        group.columns.push(prop);
                        (group.columns.len() - 1) as u16
                    }
                }
            }
            _ => NO_COLUMN,
        };
        group.members.push(Member {
            agg,
            prop: def.prop,
            window: def.window_secs,
            last: def.func == AggFn::Last,
            column,
        });
    }
    groups
}

/// Whether two filters are the same function: the same code, jumps aside from where
/// each starts. The same condition written in two aggregates (over two windows) is compiled
/// twice; its occurrences are still logged once.
fn same_filter(p: &Program, a: Option<Pc>, b: Option<Pc>) -> bool {
    let (a, b) = match (a, b) {
        (None, None) => return true,
        (Some(a), Some(b)) if a == b => return true,
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    let (fa, fb) = (
        crate::engine::function_code(p, a),
        crate::engine::function_code(p, b),
    );
    let relative = |insn: Insn, start: Pc| match insn {
        Insn::Jump(t) => Insn::Jump(t.wrapping_sub(start)),
        Insn::JumpIfFalse(t) => Insn::JumpIfFalse(t.wrapping_sub(start)),
        Insn::JumpIfFalseOrPop(t) => Insn::JumpIfFalseOrPop(t.wrapping_sub(start)),
        Insn::JumpIfTrueOrPop(t) => Insn::JumpIfTrueOrPop(t.wrapping_sub(start)),
        other => other,
    };
    fa.len() == fb.len()
        && fa
            .iter()
            .zip(fb)
            .all(|(x, y)| relative(*x, a) == relative(*y, b))
}

/// The number an occurrence adds to a sum: its property's, or 0.
fn number(value: Option<&Value>) -> f64 {
    match value {
        Some(Value::Number(n)) => *n,
        _ => 0.0,
    }
}

/// Adds an occurrence to the aggregates of group `g` (number `gi`, whose log is `log`):
/// one row in the log, and each member's totals.
pub(crate) fn record(
    g: &Group,
    gi: u16,
    log: &mut Log,
    aggs: &mut [Option<AggState>],
    at: Instant,
    data: &EventData,
) {
    let logged = g.logs();
    if logged {
        let values: SmallVec<[f64; 4]> = g.columns.iter().map(|p| number(data.prop(*p))).collect();
        log.push(at, &values);
    }
    for m in &g.members {
        let Some(slot) = aggs.get_mut(m.agg.index()) else {
            continue;
        };
        let state = slot.get_or_insert_with(|| {
            let mut state = AggState::new(if m.window.is_some() { gi } else { NO_LOG }, m.column);
            // Its window is the log so far (this occurrence comes in below).
            state.kept = m.window.is_some().then(|| {
                let rows = log.len().saturating_sub(1);
                let all = Window { state: &state, log };
                Kept::of(all.occurrences().take(rows))
            });
            state
        });
        // Only what the aggregate reads is written: a windowed one reads its window, one
        // without reads its totals, and a `last` its latest value (a state's cache lines
        // not touched are not read from memory).
        let value = m.prop.and_then(|i| data.prop(i));
        if m.last {
            let value = value.unwrap_or(&Value::None);
            if !matches!(value, Value::None) || state.last.is_none() {
                state.last = Some((at, value.clone()));
            }
        }
        if m.window.is_none() {
            let x = number(value);
            let (n, sum, min, max) = state.total;
            state.total = if n == 0 {
                (1, x, x, x)
            } else {
                (n + 1, sum + x, min.min(x), max.max(x))
            };
        } else if let Some(k) = &mut state.kept {
            k.enter(1, log.value(log.len() - 1, m.column));
            k.newest = at;
            if k.count == 1 {
                k.oldest = at;
            }
        }
    }
    if logged && log.len() > AGG_CAP {
        merge_front(g, log, aggs);
    }
}

/// Merges the log's two oldest rows: counts stay exact; the merged occurrence leaves the
/// windows with the newer one. A member whose window starts at the newer row keeps its
/// own view of it (its head); one whose window holds both now has a head standing for
/// them. The two values are added in floating point (one rounding), so its kept totals
/// are rebuilt from what it now holds.
fn merge_front(g: &Group, log: &mut Log, aggs: &mut [Option<AggState>]) {
    if log.len() < 2 {
        return;
    }
    let mut rebuild: SmallVec<[usize; 4]> = SmallVec::new();
    for (m, _) in g.windowed() {
        let Some(s) = aggs.get_mut(m.agg.index()).and_then(Option::as_mut) else {
            continue;
        };
        // The two rows as this member sees them (its head, if any, on its first row).
        let seen = |row: usize| {
            let (_, count, sum, min, max) = (Window { state: s, log }).occurrence(row);
            (count, sum, min, max)
        };
        match s.skip {
            0 => {
                let (a, b) = (seen(0), seen(1));
                s.head = Some(Box::new((a.0 + b.0, a.1 + b.1, a.2.min(b.2), a.3.max(b.3))));
                rebuild.push(m.agg.index());
            }
            1 => {
                s.head = Some(Box::new(seen(1)));
                s.skip = 0;
            }
            _ => s.skip -= 1,
        }
    }
    log.merge_front();
    for i in rebuild {
        if let Some(s) = aggs.get_mut(i).and_then(Option::as_mut) {
            s.kept = Some(Kept::of(Window { state: s, log }.occurrences()));
        }
    }
}

/// 1 for a value that would make a window's sum grow as it leaves (negative or NaN).
fn irregular(x: f64) -> u32 {
    u32::from(x.is_nan() || x < 0.0)
}

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

    /// An occurrence that entered with [`Kept::enter`] leaves the window. (Saturating: a
    /// state read back from a damaged copy may make an occurrence leave that never
    /// entered; its totals are then wrong, not a panic.)
    fn leave(&mut self, count: u32, x: f64) {
        self.count = self.count.saturating_sub(u64::from(count));
        self.sum.remove(x);
        self.irregular = self.irregular.saturating_sub(irregular(x));
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

    /// The count and exact sum of the window at `now` (a window of `w` seconds), when the
    /// kept totals are those of its occurrences inside it: every one is inside
    /// `(now - w, now]` (an empty window is). Occurrences are in time order, so the oldest
    /// and the newest tell.
    pub(crate) fn inside(&self, w: u64, now: Instant) -> Option<(u64, &ExactSum)> {
        let from = now.saturating_sub(w as i64);
        (self.count == 0 || (self.oldest > from && self.newest <= now))
            .then_some((self.count, &self.sum))
    }
}

/// A sum of floating-point numbers kept exactly: adding `-x` removes `x` exactly, and the
/// total is rounded once, so it does not depend on the order in which values came and went.
///
/// Most values (every double below 2^39 whose last bit is worth at least 2^-64: amounts,
/// counts, durations, decimal data volumes) are added as integers in units of 2^-64, in one
/// 128-bit fixed-point sum: two integer additions. The others are kept as non-overlapping
/// partial sums (Shewchuk's method). The value is the fixed part plus the partials.
/// Infinities and NaN are counted aside; partial sums that overflow make the sum fall back to
/// plain addition of the rest. A sum of exactly zero is `+0.0`, whatever zeros it held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// The fixed-point part, in units of 2^-64 (as two halves: an `i128` field would align
    /// the whole state on 16 bytes).
    fixed: [u64; 2],
    /// Inline up to two: values outside the fixed-point range are rare, and no allocation
    /// of its own is reached when an occurrence comes or goes.
    partials: SmallVec<[f64; 2]>,
    /// +inf, -inf and NaN values currently in the sum.
    special: [u32; 3],
    /// Partial sums overflowed: `partials[0]` holds a plain running sum.
    overflowed: bool,
}

/// The fixed-point part is moved to the partial sums before it reaches this magnitude, so
/// that adding one more value (below 2^103 units) cannot overflow it.
const FIXED_LIMIT: u128 = 1 << 126;

/// `x` in units of 2^-64, when it is a whole number of them below 2^103 (`x` below 2^39).
fn to_fixed(x: f64) -> Option<i128> {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    if exponent == 0 {
        // Zero; subnormals are far below a unit.
        return (fraction == 0).then_some(0);
    }
    let mantissa = u128::from(fraction | (1 << 52));
    // x = mantissa × 2^(exponent - 1075), that is mantissa × 2^shift units.
    let shift = exponent - 1075 + 64;
    let units = if shift >= 0 {
        if shift > 50 {
            return None;
        }
        mantissa << shift
    } else {
        let drop = -shift;
        if drop > 52 || mantissa & ((1 << drop) - 1) != 0 {
            return None;
        }
        mantissa >> drop
    };
    let units = units as i128;
    Some(if x.is_sign_negative() { -units } else { units })
}

/// A number of units of 2^-64, rounded once to the nearest double (ties to even).
fn fixed_to_f64(units: i128) -> f64 {
    // The top 64 bits, the ones below folded into the last (they can only break a tie),
    // convert with one rounding; scaling by a power of two is exact (a non-zero result is
    // at least 2^-64, far from the subnormals). No 128-bit conversion (a library call).
    let magnitude = units.unsigned_abs();
    let bits = 128 - magnitude.leading_zeros();
    let (top, scale) = if bits <= 64 {
        (magnitude as u64, -64)
    } else {
        let drop = bits - 64;
        let sticky = u64::from(magnitude & ((1 << drop) - 1) != 0);
        ((magnitude >> drop) as u64 | sticky, drop as i32 - 64)
    };
    let x = top as f64 * f64::from_bits(((scale + 1023) as u64) << 52);
    if units < 0 { -x } else { x }
}

/// Three doubles whose exact sum is `units` units of 2^-64 (an `i128` has at most 127
/// significant bits, a double 53).
fn fixed_parts(units: i128) -> [f64; 3] {
    const UNIT: f64 = 1.0 / 18_446_744_073_709_551_616.0;
    let mut rest = units;
    let mut parts = [0.0; 3];
    for part in &mut parts {
        // Truncated to 53 significant bits, so that it converts back exactly.
        let bits = 128 - rest.unsigned_abs().leading_zeros();
        let keep = rest >> bits.saturating_sub(53) << bits.saturating_sub(53);
        *part = keep as f64 * UNIT;
        rest -= keep;
    }
    parts
}

/// Adds `x` to non-overlapping partial sums; false when a partial sum overflowed (they are
/// left as they were before, with `x` not added).
fn partials_add(partials: &mut SmallVec<[f64; 2]>, x: f64) -> bool {
    // Partial sums can only overflow near the largest doubles (the partials do not overlap,
    // so their sum is within twice the largest): keep the old ones aside then.
    let near_max = f64::MAX / 8.0;
    let saved = (x.abs() >= near_max || partials.last().is_some_and(|p| p.abs() >= near_max))
        .then(|| partials.clone());
    let mut x = x;
    let mut i = 0;
    for j in 0..partials.len() {
        let mut y = partials[j];
        if x.abs() < y.abs() {
            std::mem::swap(&mut x, &mut y);
        }
        let hi = x + y;
        let lo = y - (hi - x);
        if lo != 0.0 {
            partials[i] = lo;
            i += 1;
        }
        x = hi;
    }
    partials.truncate(i);
    partials.push(x);
    match saved {
        Some(before) if partials.iter().any(|p| !p.is_finite()) => {
            *partials = before;
            false
        }
        _ => true,
    }
}

/// The exact sum of non-overlapping partial sums, rounded once (ties to even).
fn partials_total(p: &[f64]) -> f64 {
    let Some(&last) = p.last() else {
        return 0.0;
    };
    // Add the partials from the largest down until the sum is inexact; then correct for a
    // tie that the partials below would break.
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

impl ExactSum {
    /// Adds a value.
    pub fn add(&mut self, x: f64) {
        self.change(x, 1);
    }

    /// Removes a value added before.
    pub fn remove(&mut self, x: f64) {
        self.change(-x, -1);
    }

    fn fixed(&self) -> i128 {
        (i128::from(self.fixed[1] as i64) << 64) | i128::from(self.fixed[0])
    }

    fn set_fixed(&mut self, units: i128) {
        self.fixed = [units as u64, (units >> 64) as u64];
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
        if let Some(units) = to_fixed(x) {
            let sum = self.fixed() + units;
            if sum.unsigned_abs() < FIXED_LIMIT {
                self.set_fixed(sum);
                return;
            }
            // Move the fixed part to the partials, and this value with it.
            self.set_fixed(0);
            for part in fixed_parts(sum) {
                self.add_partial(part);
            }
            return;
        }
        self.add_partial(x);
    }

    fn add_partial(&mut self, x: f64) {
        if self.overflowed {
            match self.partials.first_mut() {
                Some(p) => *p += x,
                None => self.partials.push(x),
            }
            return;
        }
        if !partials_add(&mut self.partials, x) {
            // Finite values whose sum overflows: no exact representation here.
            let plain = self.partials.iter().sum::<f64>() + x;
            self.partials = smallvec![plain];
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
        let fixed = self.fixed();
        if self.partials.is_empty() {
            return fixed_to_f64(fixed);
        }
        if self.overflowed {
            return self.partials[0] + fixed_to_f64(fixed);
        }
        if fixed == 0 {
            return partials_total(&self.partials);
        }
        let mut all = self.partials.clone();
        for part in fixed_parts(fixed) {
            if !partials_add(&mut all, part) {
                return self.partials.iter().sum::<f64>() + fixed_to_f64(fixed);
            }
        }
        partials_total(&all)
    }
}

/// A running [`ExactSum`] for walks that add or remove one value at a time and read the
/// total after each (when a window's aggregate crosses a threshold, [`crate::drift`]): the
/// same totals, but while the values and the sum are whole numbers of fixed-point units (the
/// usual case) it is the bare 128-bit sum, with none of the general case's branches and
/// calls; it becomes a whole [`ExactSum`] at the first value that needs one.
#[derive(Debug, Clone)]
pub(crate) enum RunningSum {
    /// Only fixed-point units: what [`ExactSum::total`] reads when the sum holds nothing else.
    Fixed(i128),
    /// Anything else.
    Exact(ExactSum),
}

impl RunningSum {
    /// Starts from `sum`.
    pub(crate) fn of(sum: &ExactSum) -> RunningSum {
        let plain = sum.partials.is_empty() && !sum.overflowed && sum.special == [0; 3];
        if plain {
            RunningSum::Fixed(sum.fixed())
        } else {
            RunningSum::Exact(sum.clone())
        }
    }

    /// Adds `x` (`sign` 1) or removes it (`sign` -1), as [`ExactSum::add`] and
    /// [`ExactSum::remove`] do.
    pub(crate) fn change(&mut self, x: f64, sign: i32) {
        let x = if sign < 0 { -x } else { x };
        if let RunningSum::Fixed(units) = self {
            if let Some(v) = to_fixed(x) {
                let sum = *units + v;
                if sum.unsigned_abs() < FIXED_LIMIT {
                    *units = sum;
                    return;
                }
            }
            let mut exact = ExactSum::default();
            exact.set_fixed(*units);
            *self = RunningSum::Exact(exact);
        }
        if let RunningSum::Exact(exact) = self {
            exact.change(x, sign);
        }
    }

    /// The total, rounded once; `None` when it is not exact ([`ExactSum::is_exact`]).
    pub(crate) fn total(&self) -> Option<f64> {
        match self {
            RunningSum::Fixed(units) => Some(fixed_to_f64(*units)),
            RunningSum::Exact(exact) => exact.is_exact().then(|| exact.total()),
        }
    }
}

/// Drops the occurrences that left the windows of group `g`'s members at `now` (and
/// builds the kept totals of those that have none yet): each member's window starts later
/// in the log, and the rows that left every window leave the log.
pub(crate) fn prune(g: &Group, log: &mut Log, aggs: &mut [Option<AggState>], now: Instant) {
    let mut gone = usize::MAX;
    for (m, w) in g.windowed() {
        let Some(s) = aggs.get_mut(m.agg.index()).and_then(Option::as_mut) else {
            // Not created yet: it reads the whole log when it is.
            gone = 0;
            continue;
        };
        prune_one(s, log, w, now);
        gone = gone.min(s.skip as usize);
    }
    if gone > 0 && gone != usize::MAX {
        log.pop_front(gone);
        for (m, _) in g.windowed() {
            if let Some(s) = aggs.get_mut(m.agg.index()).and_then(Option::as_mut) {
                s.skip -= gone as u32;
            }
        }
    }
}

/// Moves one member's window start past the occurrences that left a window of `window`
/// seconds at `now`.
fn prune_one(s: &mut AggState, log: &Log, window: u64, now: Instant) {
    let from = now.saturating_sub(window as i64);
    // The kept bounds tell when nothing left: the occurrences are not read.
    if s.kept
        .as_ref()
        .is_some_and(|k| k.count == 0 || k.oldest > from)
    {
        return;
    }
    let mut left = false;
    while let Some(o) = (Window { state: s, log }).oldest().filter(|o| o.0 <= from) {
        s.skip += 1;
        s.head = None;
        left = true;
        if let Some(k) = &mut s.kept {
            k.leave(o.1, o.2);
        }
    }
    match &mut s.kept {
        None => s.kept = Some(Kept::of(Window { state: s, log }.occurrences())),
        Some(k) => {
            if left && (s.skip as usize) < log.len() {
                k.oldest = log.at(s.skip as usize);
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
    let none = (0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    let (count, sum, min, max) = match (state, def.window_secs) {
        (None, _) => none,
        (Some(s), None) => (s.total.0, s.total.1, s.total.2, s.total.3),
        (Some(_), Some(w)) => match customer.window(agg) {
            Some(win) => window_totals(win, w, now, matches!(def.func, AggFn::Min | AggFn::Max)),
            None => none,
        },
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
    s: Window<'_>,
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
    match s.state.kept.as_ref().and_then(|k| k.inside(w, now)) {
        Some((count, sum)) => (count, sum.total(), min, max),
        None => {
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
    leaves_at(customer.window(a)?, w, now)
}

/// The next instant an occurrence leaves a window of `w` seconds, after `now`.
fn leaves_at(win: Window<'_>, w: i64, now: Instant) -> Option<Instant> {
    if let Some(k) = &win.state.kept {
        if k.count == 0 {
            return None;
        }
        let leaves = k.oldest.saturating_add(w);
        if leaves > now {
            return Some(leaves);
        }
    }
    // Occurrences are in time order; those that already left may not be pruned yet: the
    // first that has not, by bisection.
    let (mut lo, mut hi) = (win.state.skip as usize, win.log.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if win.log.at(mid).saturating_add(w) <= now {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo < win.log.len()).then(|| win.log.at(lo).saturating_add(w))
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

    /// The exactly rounded sum of values that are multiples of 2^-80 below 2^41, computed
    /// independently in integers.
    fn exact_fine(values: &[f64]) -> f64 {
        let scale = 2f64.powi(80);
        let scaled: i128 = values.iter().map(|v| (v * scale) as i128).sum();
        scaled as f64 / scale
    }

    /// Values of both kinds: whole numbers of 2^-64 below 2^39 (kept in fixed point), and
    /// finer or larger ones (kept as partial sums).
    fn mixed() -> impl Strategy<Value = f64> {
        prop_oneof![
            grid(),
            (-(1i64 << 40)..(1i64 << 40), 0u32..41)
                .prop_map(|(m, e)| m as f64 / 2f64.powi(e as i32 + 40)),
            (-(1i64 << 20)..(1i64 << 20)).prop_map(|m| m as f64 * 2f64.powi(20)),
        ]
    }

    /// Values of every kind a sum meets: [`mixed`] ones, a few near the largest doubles (whose
    /// sums overflow), infinities and NaN.
    fn extreme() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => mixed(),
            1 => (1u32..8).prop_map(|k| f64::MAX / f64::from(k)),
            1 => prop_oneof![
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(f64::NAN),
                Just(-f64::MAX)
            ],
        ]
    }

    /// Adds `values`, then removes the first `cut` of them: each time the total is `exact`
    /// of what the sum holds, to the bit.
    fn adds_and_removes(
        values: &[f64],
        cut: usize,
        exact: fn(&[f64]) -> f64,
    ) -> Result<(), TestCaseError> {
        let mut s = ExactSum::default();
        for v in values {
            s.add(*v);
        }
        prop_assert_eq!(s.total().to_bits(), exact(values).to_bits());
        let cut = cut.min(values.len());
        for v in &values[..cut] {
            s.remove(*v);
        }
        prop_assert_eq!(s.total().to_bits(), exact(&values[cut..]).to_bits());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Values kept in fixed point and values kept as partial sums, mixed, added and
        /// removed in any order: the total is the exactly rounded sum of what remains.
        #[test]
        fn exact_sums_round_once_across_fixed_and_partials(
            values in proptest::collection::vec(mixed(), 0..60),
            cut in 0usize..60,
        ) {
            adds_and_removes(&values, cut, exact_fine)?;
        }

        /// A fixed-point sum converts as the library's 128-bit conversion rounds it (once,
        /// ties to even), exact ties and bits far below the last kept one included.
        #[test]
        fn fixed_point_sums_round_once(
            high in any::<i64>(),
            low in any::<u64>(),
            shift in 0u32..127,
            case in 0u8..3,
        ) {
            let mut units = ((i128::from(high) << 64) | i128::from(low)) >> shift;
            let bits = 128 - units.unsigned_abs().leading_zeros();
            if case > 0 && bits > 70 {
                // Half-way between two doubles: 53 bits, then a one, then zeros; with a
                // last bit far below (case 2) it is no longer a tie and rounds away.
                let half = 1i128 << (bits - 54);
                units = (units >> (bits - 53) << (bits - 53)) | half;
                if case == 2 {
                    units |= 1;
                }
            }
            prop_assert_eq!(
                fixed_to_f64(units).to_bits(),
                (units as f64 * 2f64.powi(-64)).to_bits()
            );
        }

        /// The three doubles a fixed-point sum is split into add up to it exactly.
        #[test]
        fn fixed_parts_add_up_exactly(high in any::<i64>(), low in any::<u64>(), shift in 0u32..64) {
            let units = (i128::from(high) << 63 >> shift) ^ i128::from(low);
            let sum: i128 = fixed_parts(units)
                .iter()
                .map(|p| (p * 2f64.powi(64)) as i128)
                .sum();
            prop_assert_eq!(sum, units);
        }

        /// A running sum, started from any sum, gives after every addition and removal the
        /// total the exact sum gives (bit for bit, `None` where that one is not exact):
        /// fixed-point values, finer or larger ones, infinities, NaN and sums that overflow.
        #[test]
        fn running_sums_total_as_exact_sums_do(
            start in proptest::collection::vec(extreme(), 0..6),
            steps in proptest::collection::vec((extreme(), any::<bool>()), 0..60),
        ) {
            let mut exact = ExactSum::default();
            for v in &start {
                exact.add(*v);
            }
            let mut running = RunningSum::of(&exact);
            for (v, add) in steps {
                if add {
                    exact.add(v);
                } else {
                    exact.remove(v);
                }
                running.change(v, if add { 1 } else { -1 });
                let expected = exact.is_exact().then(|| exact.total().to_bits());
                prop_assert_eq!(running.total().map(f64::to_bits), expected);
            }
        }

        /// Adding and removing values leaves the exactly rounded sum of what remains,
        /// whatever the order.
        #[test]
        fn exact_sums_round_once(values in proptest::collection::vec(grid(), 0..60), cut in 0usize..60) {
            adds_and_removes(&values, cut, exact)?;
        }

        /// Members of one group, sharing one log, each give what going over its own
        /// window of everything recorded gives (count, sum, min, max), and their kept
        /// totals give what going over their occurrences in the log gives: after
        /// additions, expiries and merges, at any later instant.
        #[test]
        fn shared_logs_give_each_window_its_totals(
            steps in proptest::collection::vec((0i64..200, grid(), grid(), any::<bool>()), 1..120),
            windows in proptest::collection::vec(1u64..600, 3),
            cap_merge in any::<bool>(),
        ) {
            let h = Harness::new(&[
                (Some(windows[0]), Some(0)),
                (Some(windows[1]), Some(1)),
                (Some(windows[2]), None),
                (None, Some(0)),
            ]);
            let (mut log, mut aggs) = (Log::default(), h.states());
            let mut now = 1_000;
            // Every occurrence recorded, for what a window must give.
            let mut all: Vec<(Instant, f64, f64)> = Vec::new();
            for (dt, x, y, prune_first) in steps {
                now += dt;
                if prune_first {
                    prune(&h.group, &mut log, &mut aggs, now);
                }
                h.record(&mut log, &mut aggs, now, x, y);
                all.push((now, x, y));
                if cap_merge {
                    // Up to the cap: the next occurrence merges the two oldest rows.
                    while log.len() < AGG_CAP {
                        h.record(&mut log, &mut aggs, now, x / 4.0, y / 2.0);
                        all.push((now, x / 4.0, y / 2.0));
                    }
                }
                for later in [now, now + dt, now + windows[0] as i64 / 2] {
                    for (i, m) in h.group.members.iter().enumerate() {
                        let s = aggs[i].as_ref().expect("recorded");
                        let Some(w) = m.window else {
                            // No window: every occurrence, and no log of its own.
                            prop_assert_eq!(s.log, NO_LOG);
                            prop_assert_eq!(s.total.0, all.len() as u64);
                            continue;
                        };
                        let win = Window { state: s, log: &log };
                        let kept = window_totals(win, w, later, true);
                        // The kept bounds are the window's (what lets a read skip it).
                        if let Some(k) = &s.kept && k.count > 0 {
                            prop_assert_eq!(Some(k.oldest), win.oldest().map(|o| o.0));
                            prop_assert_eq!(Some(k.newest), win.occurrences().next_back().map(|o| o.0));
                        }
                        let bare_state = AggState { kept: None, ..s.clone() };
                        let bare = Window { state: &bare_state, log: &log };
                        let over = window_totals(bare, w, later, true);
                        prop_assert_eq!(leaves_at(win, w as i64, later), leaves_at(bare, w as i64, later));
                        prop_assert_eq!(
                            (kept.0, kept.1.to_bits(), kept.2.to_bits(), kept.3.to_bits()),
                            (over.0, over.1.to_bits(), over.2.to_bits(), over.3.to_bits())
                        );
                        if !cap_merge {
                            let inside: Vec<f64> = all
                                .iter()
                                .filter(|o| o.0 > later - w as i64 && o.0 <= later)
                                .map(|o| match m.prop { Some(0) => o.1, Some(_) => o.2, None => 0.0 })
                                .collect();
                            prop_assert_eq!(kept.0, inside.len() as u64);
                            prop_assert_eq!(kept.2, inside.iter().copied().fold(f64::INFINITY, f64::min));
                            prop_assert_eq!(kept.3, inside.iter().copied().fold(f64::NEG_INFINITY, f64::max));
                            prop_assert_eq!(kept.1.to_bits(), exact(&inside).to_bits());
                        }
                    }
                }
            }
        }
    }

    /// A fixed-point part about to overflow moves to the partial sums, exactly.
    #[test]
    fn a_full_fixed_point_sum_moves_to_the_partials() {
        let near = FIXED_LIMIT as i128 - 3;
        let mut s = ExactSum::default();
        s.set_fixed(near);
        let big = 2f64.powi(38);
        s.add(big);
        assert_eq!(s.fixed(), 0, "the fixed part moved");
        let units = to_fixed(big).expect("2^38 is kept in fixed point");
        assert_eq!(s.total(), fixed_to_f64(near + units));
        s.add(0.75);
        s.remove(big);
        assert_eq!(s.total(), fixed_to_f64(near + (3 << 62)));
        let mut again = ExactSum::default();
        again.set_fixed(-near);
        again.add(-big);
        again.add(1.0);
        assert_eq!(again.total(), fixed_to_f64(-near - units + (1 << 64)));
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
        // A sum of exactly zero is +0.0, whatever zeros it held, in whatever order.
        let mut zero = ExactSum::default();
        zero.add(-0.0);
        assert_eq!(zero.total().to_bits(), 0.0f64.to_bits());
        zero.add(1.5);
        zero.remove(1.5);
        assert_eq!(zero.total().to_bits(), 0.0f64.to_bits());
    }
}

/// A group of aggregates over one event with two number properties (0 and 1), for tests.
#[cfg(test)]
struct Harness {
    group: Group,
}

#[cfg(test)]
impl Harness {
    /// Members (window, property): a sum of the property, or a count without one.
    fn new(members: &[(Option<u64>, Option<u16>)]) -> Harness {
        use journey_bytecode::AggDef;
        let mut p = Program::default();
        let event = EventId::from_u32(0);
        for (window, prop) in members {
            p.aggregates.push(AggDef {
                func: if prop.is_some() {
                    AggFn::Sum
                } else {
                    AggFn::Count
                },
                event,
                prop: *prop,
                filter: None,
                window_secs: *window,
            });
        }
        let mut groups = groups(&p);
        assert_eq!(groups.len(), 1);
        Harness {
            group: groups.remove(0),
        }
    }

    /// No state yet.
    fn states(&self) -> Vec<Option<AggState>> {
        vec![None; self.group.members.len()]
    }

    /// Records an occurrence with properties `x` and `y` at `at`, pruning first.
    fn record(&self, log: &mut Log, aggs: &mut [Option<AggState>], at: Instant, x: f64, y: f64) {
        let data = EventData::new(
            self.group.event,
            vec![Value::Number(x), Value::Number(y)],
            at,
        );
        prune(&self.group, log, aggs, at);
        record(&self.group, 0, log, aggs, at, &data);
    }

    /// (count, sum, min, max) of member `i` at `now`.
    fn totals(
        &self,
        log: &Log,
        aggs: &[Option<AggState>],
        i: usize,
        now: Instant,
    ) -> (u64, f64, f64, f64) {
        let state = aggs[i].as_ref().expect("recorded");
        let w = self.group.members[i].window.expect("windowed");
        window_totals(Window { state, log }, w, now, true)
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    /// The kept totals are not part of the serialized state; a log and states read back
    /// equal the originals and evaluate the same.
    #[test]
    fn a_state_read_back_is_the_same_state() {
        let h = Harness::new(&[(Some(100), Some(0)), (Some(25), None)]);
        let (mut log, mut aggs) = (Log::default(), h.states());
        for (at, x) in [(10, 0.1), (20, 0.2), (30, 0.3)] {
            h.record(&mut log, &mut aggs, at, x, 0.0);
        }
        h.record(&mut log, &mut aggs, 40, 0.4, 0.0);
        let text = serde_json::to_string(&(&log, &aggs)).expect("serialize");
        assert!(!text.contains("kept"), "{text}");
        let (back_log, back): (Log, Vec<Option<AggState>>) =
            serde_json::from_str(&text).expect("deserialize");
        assert!(back[0].as_ref().is_some_and(|s| s.kept.is_none()));
        assert!(aggs[0].as_ref().is_some_and(|s| s.kept.is_some()));
        assert_eq!((&back_log, &back), (&log, &aggs));
        for i in 0..2 {
            let t = |log: &Log, aggs: &[Option<AggState>]| {
                let (n, sum, ..) = h.totals(log, aggs, i, 45);
                (n, sum.to_bits())
            };
            assert_eq!(t(&back_log, &back), t(&log, &aggs));
        }
        assert_eq!(h.totals(&log, &aggs, 1, 45).0, 2);
    }

    /// A state read back from a damaged copy (a head on a row the log does not have yet,
    /// a column the log does not have, a start past its end) gives wrong totals, not a
    /// panic, as occurrences come and go.
    #[test]
    fn a_damaged_state_does_not_panic() {
        let h = Harness::new(&[(Some(10), Some(0)), (Some(100), Some(1))]);
        let damaged = r#"[{"log":0,"column":0,"skip":0,"head":[5,10.0,1.0,5.0],"total":[0,0.0,0.0,0.0],"last":null},
                          {"log":0,"column":9,"skip":7,"total":[0,0.0,0.0,0.0],"last":null}]"#;
        let mut aggs: Vec<Option<AggState>> = serde_json::from_str(damaged).expect("well-formed");
        let mut log = Log::default();
        for at in [100, 105, 200, 260, 400] {
            h.record(&mut log, &mut aggs, at, -1.0, -2.0);
            for i in 0..2 {
                let _ = h.totals(&log, &aggs, i, at + 50);
                let _ = leaves_at(
                    Window {
                        state: aggs[i].as_ref().expect("state"),
                        log: &log,
                    },
                    10,
                    at,
                );
            }
        }
        assert!(log.len() <= 2);
    }

    /// A log read back must be one the engine could have written: a clear error otherwise.
    #[test]
    fn malformed_logs_are_refused_with_the_reason() {
        let short = r#"{"columns":2,"at":[1,2],"values":[0.5,1.5,2.5]}"#;
        let err = serde_json::from_str::<Log>(short).expect_err("3 values for 2 rows of 2");
        assert!(
            err.to_string()
                .contains("2 rows with 2 columns holds 3 values, not 4"),
            "{err}"
        );
        let disorder = r#"{"columns":0,"at":[5,3],"values":[]}"#;
        let err = serde_json::from_str::<Log>(disorder).expect_err("out of order");
        assert!(
            err.to_string()
                .contains("time order: row 1 (3) comes after row 0 (5)"),
            "{err}"
        );
        let fine: Log =
            serde_json::from_str(r#"{"columns":1,"at":[3,5],"values":[0.5,1.5]}"#).expect("valid");
        assert_eq!((fine.len(), fine.at(1), fine.value(1, 0)), (2, 5, 1.5));
        // A column the log does not have reads as 0, not as a neighbour's cell or a panic.
        assert_eq!(fine.value(1, 1), 0.0);
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    const DAY: Instant = 86_400;

    /// A daily event read by three aggregates (two properties over 183 days, one of them
    /// also over 90 days) fills one log of 183 rows of three cells: the instants once,
    /// not three times. The buffer ends at most an eighth (and four rows) above that, not
    /// at the next power of two (256), and each window holds its own days, in order.
    #[test]
    fn one_log_serves_the_aggregates_of_an_event_and_wastes_at_most_an_eighth() {
        let h = Harness::new(&[
            (Some(90 * DAY as u64), Some(0)),
            (Some(183 * DAY as u64), Some(0)),
            (Some(183 * DAY as u64), Some(1)),
        ]);
        assert_eq!(h.group.columns, vec![0, 1]);
        let (mut log, mut aggs) = (Log::default(), h.states());
        for day in 0..400 {
            h.record(&mut log, &mut aggs, day * DAY, day as f64, 2.0 * day as f64);
        }
        let len = log.len();
        assert_eq!((len, log.columns()), (183, 2));
        assert!(
            log.capacity() <= len + len / 8 + 4,
            "{len} occurrences in room for {}",
            log.capacity()
        );
        let days = |i: usize| -> Vec<f64> {
            let state = aggs[i].as_ref().expect("recorded");
            Window { state, log: &log }
                .occurrences()
                .map(|o| o.2)
                .collect()
        };
        assert_eq!(days(0), (310..400).map(|d| d as f64).collect::<Vec<_>>());
        assert_eq!(days(1), (217..400).map(|d| d as f64).collect::<Vec<_>>());
        assert_eq!(
            days(2),
            (217..400).map(|d| 2.0 * d as f64).collect::<Vec<_>>()
        );
    }

    /// Past the cap, the two oldest rows merge into one: the log keeps the cap; a long
    /// window's count, sum, min and max stay those of every occurrence recorded; a shorter
    /// window whose start was the newer of the two rows still sees only its own
    /// occurrences, exactly.
    #[test]
    fn merged_occurrences_keep_count_sum_and_extremes() {
        let n = AGG_CAP + 7;
        // The short window holds the cap's worth of occurrences: at every merge, the older
        // of the two rows has just left it and the newer has not.
        let short = AGG_CAP as u64;
        let h = Harness::new(&[(Some(1_000_000), Some(0)), (Some(short), Some(0))]);
        let (mut log, mut aggs) = (Log::default(), h.states());
        let value = |i: usize| match i {
            0 => -5.0,
            1 => 10_000.0,
            _ => i as f64,
        };
        for i in 0..n {
            // Values 1..=n, with the extremes among the first ones (those merged).
            h.record(&mut log, &mut aggs, 1_000 + i as Instant, value(i), 0.0);
        }
        let now = 1_000 + n as Instant - 1;
        assert_eq!(log.len(), AGG_CAP);
        assert!(aggs[0].as_ref().is_some_and(|s| s.head.is_some()));
        let want_sum: f64 = (0..n).map(value).sum();
        let (count, sum, min, max) = h.totals(&log, &aggs, 0, now);
        assert_eq!(count, n as u64);
        assert_eq!(sum, want_sum);
        assert_eq!((min, max), (-5.0, 10_000.0));
        // The short window holds exactly its own occurrences, though each was merged, in
        // the log, with ones it no longer holds.
        let (count, sum, min, max) = h.totals(&log, &aggs, 1, now);
        let first = n - AGG_CAP;
        assert_eq!(count, AGG_CAP as u64);
        assert_eq!(sum, (first..n).map(value).sum::<f64>());
        assert_eq!((min, max), (first as f64, (n - 1) as f64));
        // The merged occurrence leaves with the newest of those it stands for.
        let merged_at = log.at(0);
        h.record(&mut log, &mut aggs, merged_at + 1_000_000, 1.0, 0.0);
        assert!(aggs.iter().flatten().all(|s| s.head.is_none()));
        assert!((0..log.len()).all(|r| log.at(r) > merged_at));
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;

    /// Aggregates over one event share a log when their filters are the same, written
    /// twice or not at all; another filter, or another event, has its own. A column is
    /// shared by the aggregates reading the same property; a count or a `last` reads none.
    #[test]
    fn aggregates_share_a_log_by_event_and_filter() {
        let p = crate::test_program(
            "event e {\n  x: number\n  y: number\n  tag: string\n}\nevent f {\n  x: number\n}\n\
             segment a = sum(e.x over last 9 days) > 1\n\
             segment b = sum(e.x over last 90 days) + coalesce(avg(e.y over last 3 days), 0) > 1\n\
             segment c = count(e over last 30 days) > 0 and last(e.tag over last 4 days) == \"k\"\n\
             segment d = count(e where e.x > 1 and e.tag == \"k\" over last 5 days) > 0\n\
             segment g = count(e where e.x > 1 and e.tag == \"k\" over last 50 days) > 2\n\
             segment h = count(e where e.x > 2 and e.tag == \"k\" over last 5 days) > 0\n\
             segment i = sum(f.x over last 5 days) > 0 and sum(e.x) > 0\n",
        );
        let groups = groups(&p);
        let e = p
            .events
            .iter()
            .find(|(_, d)| d.name == "e")
            .map(|(id, _)| id);
        let shape: Vec<(bool, bool, usize, Vec<u16>)> = groups
            .iter()
            .map(|g| {
                (
                    Some(g.event) == e,
                    g.filter.is_some(),
                    g.members.len(),
                    g.members.iter().map(|m| m.column).collect(),
                )
            })
            .collect();
        let n = NO_COLUMN;
        assert_eq!(
            shape,
            vec![
                // x over 9 and 90 days in column 0, y in column 1; the count, the `last`
                // and the windowless sum of x read none.
                (true, false, 6, vec![0, 0, 1, n, n, n]),
                // `x > 1 and tag == "k"`, written twice (it has a jump).
                (true, true, 2, vec![n, n]),
                (true, true, 1, vec![n]),
                (false, false, 1, vec![0]),
            ]
        );
        assert_eq!(groups[0].columns.len(), 2);
    }
}
