//! Per-customer state: profile, event-history aggregates, segment membership, journey
//! instances and the recent sends that pressure policies count. Plain data (serde), so a
//! durable store can persist it as is.

use std::collections::VecDeque;
use std::sync::Arc;

use journey_bytecode::{
    AggId, EventId, ExperimentId, GoalId, JourneyId, KeptEvent, Pc, SendId, StepId, WaitId,
};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use thin_vec::ThinVec;

use crate::scheduler::TimerId;
use crate::time::Instant;
use crate::value::Value;

/// An event occurrence: as it came in (every property), or as an instance keeps it in its
/// scope (only the properties its journey reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// Which event.
    pub event: EventId,
    /// Which properties [`EventData::props`] holds: [`KeptEvent::ALL`] for every one, in
    /// schema order; otherwise bit `i` for the property at schema index `i`, held in index
    /// order. Read them with [`EventData::prop`].
    #[serde(default = "all_props")]
    pub present: u32,
    /// Property values (see [`EventData::present`]).
    pub props: Vec<Value>,
    /// When it happened.
    pub at: Instant,
}

fn all_props() -> u32 {
    KeptEvent::ALL
}

impl EventData {
    /// An occurrence with every property, in schema order.
    pub fn new(event: EventId, props: Vec<Value>, at: Instant) -> EventData {
        EventData {
            event,
            present: KeptEvent::ALL,
            props,
            at,
        }
    }

    /// The property at schema index `i`; `None` when the occurrence does not hold it.
    #[inline]
    pub fn prop(&self, i: u16) -> Option<&Value> {
        if self.present == KeptEvent::ALL {
            return self.props.get(usize::from(i));
        }
        let bit = KeptEvent::prop_bit(i);
        if bit == KeptEvent::ALL || self.present & bit == 0 {
            return None;
        }
        self.props
            .get((self.present & (bit - 1)).count_ones() as usize)
    }

    /// The occurrence holding only the properties in `keep` (a [`KeptEvent::props`] mask):
    /// this one, shared, when that would drop nothing; otherwise a copy with fewer values.
    pub fn keeping(self: &Arc<EventData>, keep: u32) -> Arc<EventData> {
        let full = self.present == KeptEvent::ALL;
        if keep == KeptEvent::ALL
            || (full && KeptEvent::keeps_all_of(keep, self.props.len()))
            || (!full && self.present & keep == self.present)
        {
            return Arc::clone(self);
        }
        let held = (self.present & keep).count_ones() as usize;
        let mut props = Vec::with_capacity(held.min(self.props.len()));
        let mut present = 0;
        for i in 0..32 {
            let bit = 1 << i;
            if keep & bit != 0
                && let Some(v) = self.prop(i)
            {
                props.push(v.clone());
                present |= bit;
            }
        }
        Arc::new(EventData {
            event: self.event,
            present,
            props,
            at: self.at,
        })
    }
}

/// The running summary of one aggregate for one customer: the occurrences still inside the
/// window (instant, value), oldest first, plus the latest value for `last`. Occurrences that
/// leave the window are dropped, so memory follows the window, not the history. At most
/// [`AGG_CAP`] occurrences are kept: beyond that the two oldest are merged (the count stays
/// exact, the merged occurrence leaves the window with the newer of the two).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AggState {
    /// (instant, value) of the occurrences in the window, oldest first (16 bytes each).
    pub window: VecDeque<(Instant, f64)>,
    /// When the oldest occurrence stands for several merged ones (past [`AGG_CAP`]): their
    /// (count, min, max); its value is their sum. Only the oldest can be merged: a merge
    /// takes the two oldest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<(u32, f64, f64)>,
    /// Latest value and instant.
    pub last: Option<(Instant, Value)>,
    /// Occurrences ever counted (for aggregates without window).
    pub total: (u64, f64, f64, f64),
    /// The count and the exact sum of the whole of [`AggState::window`], kept as
    /// occurrences come and go, so that a `count`, `sum` or `avg` over the window does not go
    /// over it. Derived: not serialized (rebuilt on the next update; until then evaluations
    /// go over the window).
    #[serde(skip)]
    pub(crate) kept: Option<crate::segments::Kept>,
}

impl AggState {
    /// The oldest occurrence in the window, as (instant, count, sum, min, max).
    pub fn oldest(&self) -> Option<(Instant, u32, f64, f64, f64)> {
        self.occurrences().next()
    }

    /// The occurrences in the window, oldest first, as (instant, count, sum, min, max).
    pub fn occurrences(
        &self,
    ) -> impl DoubleEndedIterator<Item = (Instant, u32, f64, f64, f64)> + '_ {
        self.window
            .iter()
            .enumerate()
            .map(|(i, &(at, x))| match self.merged {
                Some((count, min, max)) if i == 0 => (at, count, x, min, max),
                _ => (at, 1, x, x, x),
            })
    }
}

/// Two states are equal when their data is: the kept totals are derived (a state read back
/// from its serialized form has none yet, and is still the same state).
impl PartialEq for AggState {
    fn eq(&self, other: &AggState) -> bool {
        self.window == other.window
            && self.merged == other.merged
            && self.last == other.last
            && self.total == other.total
    }
}

/// Occurrences kept per aggregate before the oldest are merged.
pub const AGG_CAP: usize = 1024;

/// What a thread of an instance is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ThreadState {
    /// Ready to run at `pc`.
    Ready,
    /// Suspended until a timer fires.
    Sleeping(TimerId),
    /// Waiting for an event, with an optional timeout timer.
    Waiting(WaitId, Option<TimerId>),
    /// A send postponed by a policy: retried when the timer fires.
    Deferred(TimerId, SendId),
    /// Finished.
    Done,
}

/// A thread: the journey body, or one timeline entry. 32 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// Next instruction.
    pub pc: Pc,
    /// State.
    pub state: ThreadState,
    /// The stack saved across a deferral (the send's parameter values); empty otherwise.
    pub saved: ThinVec<Value>,
}

/// An instance's threads: the body first, then the timeline entries running. Most instances
/// run only their body, which is kept inline.
pub type Threads = SmallVec<[Thread; 1]>;

/// The events whose properties an instance can read. Usually only the one that started it,
/// kept inline.
pub type Scope = SmallVec<[Arc<EventData>; 1]>;

/// One customer's run of one journey.
///
/// Its layout is kept small (120 bytes, with no heap allocation of its own while it runs only
/// its body in the scope of one event): millions wait at once, mostly for a timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Journey.
    pub journey: JourneyId,
    /// Distinguishes successive instances of the same journey (stale timers are ignored).
    pub epoch: u32,
    /// When it started.
    pub entered_at: Instant,
    /// The body (index 0) and timeline entries that have started.
    pub threads: Threads,
    /// The instance's calendar: timeline entries not started yet and the end of its lifetime
    /// (`exit after`, entry index [`LIFETIME`]), as (seconds from `entered_at`, entry index),
    /// the next one last; at the same instant, entries start before the lifetime ends. Their
    /// times are fixed at entry; only the next one has a timer
    /// ([`Instance::timeline_timer`]), set again as each one comes.
    pub timeline: ThinVec<(u32, u16)>,
    /// The timer of the next calendar entry (the last of [`Instance::timeline`]).
    pub timeline_timer: Option<TimerId>,
    /// Events whose properties the instance can read (latest occurrence of each).
    pub scope: Scope,
    /// In an experiment's holdout: sends are skipped.
    pub holdout: bool,
    /// Open goal windows: (goal, opened at).
    pub goals: ThinVec<(GoalId, Instant)>,
    /// Goals converted.
    pub converted: ThinVec<GoalId>,
    /// Sends made, for idempotency keys.
    pub sends: u32,
}

/// The entry index that stands, in [`Instance::timeline`], for the end of the instance's
/// lifetime (`exit after`).
pub const LIFETIME: u16 = u16::MAX;

impl Instance {
    /// Timeline entries not started yet (their indexes), the next one first; the end of the
    /// lifetime is not one.
    pub fn entries_pending(&self) -> impl Iterator<Item = u16> + '_ {
        self.timeline
            .iter()
            .rev()
            .map(|&(_, k)| k)
            .filter(|&k| k != LIFETIME)
    }

    /// When the instance's lifetime ends (`exit after`), if it has one.
    pub fn lifetime_end(&self) -> Option<Instant> {
        self.timeline
            .iter()
            .find(|&&(_, k)| k == LIFETIME)
            .map(|&(secs, _)| self.entered_at.saturating_add(i64::from(secs)))
    }
}

/// What a customer remembers of a journey after leaving it (re-entry rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JourneyHistory {
    /// Last entry.
    pub last_entry: Option<Instant>,
    /// Entries so far.
    pub entries: u32,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// External id.
    pub id: String,
    /// Aggregate states, indexed by aggregate (set on the first occurrence). In one
    /// allocation: an event reaches each state it updates at a computed address, not through
    /// a pointer of its own, so the memory reads of several states overlap.
    pub aggs: Vec<Option<AggState>>,
    /// Segment membership, indexed by segment.
    pub segments: Vec<bool>,
    /// Active instances.
    pub instances: Vec<Instance>,
    /// Per journey: entry history.
    pub history: Vec<JourneyHistory>,
    /// Recent sends (instant, channel index), oldest first, for caps.
    pub recent_sends: VecDeque<(Instant, u32)>,
    /// Experiment assignments made (for `expect variant` and reports).
    pub assignments: Vec<(ExperimentId, u16)>,
    /// The timer that re-evaluates time-dependent segments.
    pub recheck: Option<(Instant, TimerId)>,
    /// Timers of scheduled entries, per (journey, entry index), with the instant each is due.
    pub schedules: Vec<(JourneyId, u16, TimerId, Instant)>,
    /// Steps reached, when the engine traces (tests, explanations).
    pub reached: Vec<StepId>,
}

impl Customer {
    /// The state of aggregate `a`, once it has had an occurrence.
    pub fn agg(&self, a: AggId) -> Option<&AggState> {
        self.aggs.get(a.as_u32() as usize).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A copy keeping some properties reads exactly those, at their schema index, and
        /// nothing else; keeping again keeps what both masks keep; a mask that drops nothing
        /// shares the occurrence.
        #[test]
        fn kept_properties_read_as_in_the_occurrence(
            count in 0usize..40,
            first in proptest::prelude::any::<u32>(),
            second in proptest::prelude::any::<u32>(),
            all_first in proptest::prelude::any::<bool>(),
        ) {
            let first = if all_first { KeptEvent::ALL } else { first };
            let props: Vec<Value> = (0..count).map(|i| Value::Number(i as f64)).collect();
            let full = Arc::new(EventData::new(EventId::from_u32(3), props, 7));
            let once = full.keeping(first);
            let twice = once.keeping(second);
            for i in 0..(count as u16 + 2) {
                let bit = KeptEvent::prop_bit(i);
                let expect = |mask: u32| (mask & bit == bit).then(|| full.prop(i)).flatten();
                proptest::prop_assert_eq!(once.prop(i), expect(first));
                proptest::prop_assert_eq!(twice.prop(i), expect(first & second));
            }
            proptest::prop_assert_eq!((once.event, once.at), (full.event, full.at));
            let drops = (0..count as u16).any(|i| first & KeptEvent::prop_bit(i) != KeptEvent::prop_bit(i));
            proptest::prop_assert_eq!(Arc::ptr_eq(&once, &full), !drops);
            if drops {
                proptest::prop_assert!(once.props.len() < count);
            }
        }
    }

    /// Millions of instances wait at once: their layout is part of the memory budget.
    #[test]
    fn instance_layout_stays_small() {
        assert_eq!(size_of::<Option<TimerId>>(), 8);
        assert_eq!(size_of::<ThreadState>(), 16);
        assert_eq!(size_of::<Thread>(), 32);
        assert!(size_of::<Instance>() <= 120, "{}", size_of::<Instance>());
        // The body thread and one scope event are inline: no heap allocation.
        let event = Arc::new(EventData::new(EventId::from_u32(0), Vec::new(), 0));
        let mut threads = Threads::new();
        threads.push(Thread {
            pc: 0,
            state: ThreadState::Ready,
            saved: ThinVec::new(),
        });
        let mut scope = Scope::new();
        scope.push(event);
        assert!(!threads.spilled() && !scope.spilled());
    }
}
