//! Event-history aggregates kept as compact running summaries, and segment membership
//! evaluated incrementally: only the segments that read what changed are re-evaluated, and a
//! customer whose membership can change by the passage of time alone gets one timer at the
//! next instant an occurrence leaves a window (no scanning).

use journey_bytecode::{AggFn, AggId, Program};

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
    state.window.push_back((at, 1, x, x, x));
    if state.window.len() > AGG_CAP {
        // Merge the two oldest: counts and sums stay exact; the merged occurrence leaves the
        // window with the newer one.
        if let (Some(a), Some(b)) = (state.window.pop_front(), state.window.pop_front()) {
            state
                .window
                .push_front((b.0, a.1 + b.1, a.2 + b.2, a.3.min(b.3), a.4.max(b.4)));
        }
    }
}

/// Drops occurrences that left the window at `now`.
pub(crate) fn prune(state: &mut AggState, window: Option<u64>, now: Instant) {
    match window {
        Some(w) => {
            let from = now.saturating_sub(w as i64);
            while state.window.front().is_some_and(|o| o.0 <= from) {
                state.window.pop_front();
            }
        }
        None => state.window.clear(),
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
    let state = customer
        .aggs
        .get(agg.as_u32() as usize)
        .and_then(|s| s.as_deref());
    let (count, sum, min, max) = match (state, def.window_secs) {
        (None, _) => (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY),
        (Some(s), None) => (s.total.0, s.total.1, s.total.2, s.total.3),
        (Some(s), Some(w)) => {
            let from = now.saturating_sub(w as i64);
            s.window.iter().filter(|o| o.0 > from && o.0 <= now).fold(
                (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY),
                |(c, su, mi, ma), o| (c + o.1 as u64, su + o.2, mi.min(o.3), ma.max(o.4)),
            )
        }
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

/// The next instant an occurrence leaves one of these windows, after `now`.
pub(crate) fn next_expiry(
    program: &Program,
    customer: &Customer,
    aggs: &[AggId],
    now: Instant,
) -> Option<Instant> {
    aggs.iter()
        .filter_map(|a| {
            let w = program.aggregates.get(*a)?.window_secs? as i64;
            let state = customer.aggs.get(a.as_u32() as usize)?.as_deref()?;
            let oldest = state
                .window
                .iter()
                .map(|o| o.0)
                .find(|t| t.saturating_add(w) > now)?;
            Some(oldest.saturating_add(w))
        })
        .min()
}
