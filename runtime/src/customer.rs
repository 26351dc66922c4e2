//! Per-customer state: profile, event-history aggregates, segment membership, journey
//! instances and the recent sends that pressure policies count. Plain data (serde), so a
//! durable store can persist it as is.

use std::collections::VecDeque;
use std::sync::Arc;

use journey_bytecode::{EventId, ExperimentId, GoalId, JourneyId, Pc, SendId, StepId, WaitId};
use serde::{Deserialize, Serialize};

use crate::scheduler::TimerId;
use crate::time::Instant;
use crate::value::Value;

/// An event occurrence kept in an instance's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// Which event.
    pub event: EventId,
    /// Property values, in schema order.
    pub props: Vec<Value>,
    /// When it happened.
    pub at: Instant,
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
    pub fn occurrences(&self) -> impl Iterator<Item = (Instant, u32, f64, f64, f64)> + '_ {
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

/// A thread: the journey body, or one timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// Next instruction.
    pub pc: Pc,
    /// State.
    pub state: ThreadState,
    /// The stack saved across a deferral (the send's parameter values).
    pub saved: Vec<Value>,
}

/// One customer's run of one journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Journey.
    pub journey: JourneyId,
    /// Distinguishes successive instances of the same journey (stale timers are ignored).
    pub epoch: u32,
    /// When it started.
    pub entered_at: Instant,
    /// The body (index 0) and timeline entries that have started.
    pub threads: Vec<Thread>,
    /// Timeline entries not started yet: (seconds from `entered_at` to the entry's time,
    /// entry index), the next one last. Their times are fixed at entry; only the next one
    /// has a timer ([`Instance::timeline_timer`]), set again as each entry starts.
    pub timeline: Vec<(u32, u16)>,
    /// The timer of the next timeline entry (the last of [`Instance::timeline`]).
    pub timeline_timer: Option<TimerId>,
    /// Lifetime timer (`exit after`).
    pub lifetime: Option<TimerId>,
    /// Events whose properties the instance can read (latest occurrence of each).
    pub scope: Vec<Arc<EventData>>,
    /// In an experiment's holdout: sends are skipped.
    pub holdout: bool,
    /// Open goal windows: (goal, opened at).
    pub goals: Vec<(GoalId, Instant)>,
    /// Goals converted.
    pub converted: Vec<GoalId>,
    /// Sends made, for idempotency keys.
    pub sends: u32,
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
    /// Attribute values, indexed by attribute.
    pub profile: Vec<Value>,
    /// Aggregate states, indexed by aggregate (allocated on first occurrence).
    pub aggs: Vec<Option<Box<AggState>>>,
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
    /// Timers of scheduled entries, per (journey, entry index).
    pub schedules: Vec<(JourneyId, u16, TimerId)>,
    /// Steps reached, when the engine traces (tests, explanations).
    pub reached: Vec<StepId>,
}
