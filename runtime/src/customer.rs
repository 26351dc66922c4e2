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
    /// Property values (see [`EventData::present`]), exactly as many as held: an instance
    /// may keep the occurrence for months, and a boxed slice is one word shorter than a
    /// vector (the whole occurrence is 32 bytes, a 48-byte block with its `Arc` counts).
    pub props: Box<[Value]>,
    /// When it happened.
    pub at: Instant,
}

fn all_props() -> u32 {
    KeptEvent::ALL
}

impl EventData {
    /// An occurrence with every property, in schema order (a vector with room to spare is
    /// fitted to its length).
    pub fn new(event: EventId, props: Vec<Value>, at: Instant) -> EventData {
        EventData {
            event,
            present: KeptEvent::ALL,
            props: props.into_boxed_slice(),
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
            props: props.into_boxed_slice(),
            at: self.at,
        })
    }
}

/// The occurrences of one event (those that passed one filter) still inside the longest
/// window of the aggregates that read them, oldest first: each one's instant once, and one
/// value per aggregated property (a column). The aggregates over the same event share it,
/// each from its own first row ([`AggState::skip`]): `sum(usage.data_gb over last 90 days)`,
/// `sum(usage.data_gb over last 183 days)` and `sum(usage.voice_minutes over last 183 days)`
/// keep 24 bytes per daily occurrence for 183 days, not 16 for 90 and 32 for 183; a count
/// keeps 8. Occurrences that leave the longest window are dropped, so memory follows the
/// window, not the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "LogData", try_from = "LogData")]
pub struct Log {
    /// Values per row (set by the first row).
    columns: u16,
    /// The rows, flattened in one buffer (an occurrence is written at one place): the
    /// instant, then the values as `f64` bits.
    cells: VecDeque<u64>,
}

/// A [`Log`] as it is serialized: the instants, and the values row after row.
#[derive(Serialize, Deserialize)]
struct LogData {
    columns: u16,
    at: Vec<Instant>,
    values: Vec<f64>,
}

impl From<Log> for LogData {
    fn from(log: Log) -> LogData {
        let rows = log.len();
        let columns = usize::from(log.columns);
        LogData {
            columns: log.columns,
            at: (0..rows).map(|i| log.at(i)).collect(),
            values: (0..rows)
                .flat_map(|i| (0..columns).map(move |c| (i, c)))
                .map(|(i, c)| log.value(i, c as u16))
                .collect(),
        }
    }
}

impl TryFrom<LogData> for Log {
    type Error = String;

    fn try_from(data: LogData) -> Result<Log, String> {
        let columns = usize::from(data.columns);
        if data.values.len() != data.at.len() * columns {
            return Err(format!(
                "an occurrence log of {} rows with {} columns holds {} values, not {}",
                data.at.len(),
                columns,
                data.values.len(),
                data.at.len() * columns
            ));
        }
        if let Some(i) = data.at.windows(2).position(|w| w[0] > w[1]) {
            return Err(format!(
                "an occurrence log must be in time order: row {} ({}) comes after row {} ({})",
                i + 1,
                data.at[i + 1],
                i,
                data.at[i]
            ));
        }
        let mut log = Log {
            columns: data.columns,
            cells: VecDeque::with_capacity(data.at.len() * (columns + 1)),
        };
        for (i, at) in data.at.iter().enumerate() {
            log.cells.push_back(*at as u64);
            log.cells.extend(
                data.values[i * columns..(i + 1) * columns]
                    .iter()
                    .map(|x| x.to_bits()),
            );
        }
        Ok(log)
    }
}

impl Log {
    /// Cells per row: the instant and the values.
    #[inline]
    fn stride(&self) -> usize {
        usize::from(self.columns) + 1
    }

    /// Rows (occurrences).
    #[inline]
    pub fn len(&self) -> usize {
        self.cells.len() / self.stride()
    }

    /// No occurrence.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Values per row.
    pub fn columns(&self) -> u16 {
        self.columns
    }

    /// The instant of row `row`.
    #[inline]
    pub fn at(&self, row: usize) -> Instant {
        self.cells
            .get(row * self.stride())
            .map_or(0, |&c| c as Instant)
    }

    /// The value of row `row` in column `column` (0 outside the log).
    #[inline]
    pub fn value(&self, row: usize, column: u16) -> f64 {
        if column >= self.columns {
            return 0.0;
        }
        self.cells
            .get(row * self.stride() + 1 + usize::from(column))
            .map_or(0.0, |&c| f64::from_bits(c))
    }

    /// Reads the cells that pruning and a new occurrence read first (row `row`, an
    /// aggregate's oldest, and the newest), so that they are read early
    /// ([`crate::Engine::events`]); what it returns only keeps the reads.
    pub(crate) fn warm(&self, row: usize) -> u64 {
        self.cells.get(row * self.stride()).copied().unwrap_or(0)
            ^ self.cells.back().copied().unwrap_or(0)
    }

    /// The buffer's capacity in rows.
    pub fn capacity(&self) -> usize {
        self.cells.capacity() / self.stride()
    }

    /// Adds a row, newest. A row added to an empty log sets the number of columns (those
    /// of a group's log are always the same); a row of another width is cut or padded with
    /// zeros.
    pub(crate) fn push(&mut self, at: Instant, values: &[f64]) {
        if self.cells.is_empty() {
            self.columns = u16::try_from(values.len()).unwrap_or(u16::MAX - 1);
        }
        let stride = self.stride();
        if self.cells.len() + stride > self.cells.capacity() {
            // A log fills up to the occurrences of its window (a daily event over 183 days
            // holds 183) and stays there: grow by an eighth, not by doubling, so that it ends
            // with at most an eighth unused instead of up to half (183 in room for 256).
            let rows = (self.len() / 8).max(4);
            self.cells.reserve_exact(rows * stride);
        }
        self.cells.push_back(at as u64);
        for c in 0..stride - 1 {
            self.cells
                .push_back(values.get(c).copied().unwrap_or(0.0).to_bits());
        }
    }

    /// Drops the `rows` oldest rows.
    pub(crate) fn pop_front(&mut self, rows: usize) {
        let cells = (rows * self.stride()).min(self.cells.len());
        self.cells.drain(..cells);
    }

    /// Merges the two oldest rows into one, at the instant of the newer, with the sums of
    /// their values.
    pub(crate) fn merge_front(&mut self) {
        if self.len() < 2 {
            return;
        }
        let stride = self.stride();
        for c in 1..stride {
            let sum = f64::from_bits(self.cells[c]) + f64::from_bits(self.cells[stride + c]);
            self.cells[stride + c] = sum.to_bits();
        }
        self.cells.drain(..stride);
    }
}

/// [`AggState::log`] of an aggregate without window: it keeps only its totals and latest
/// value.
pub const NO_LOG: u16 = u16::MAX;

/// [`AggState::column`] of an aggregate that reads no value from the log: a count (each
/// occurrence counts with the value 0), a `last` (it keeps its latest value itself), or one
/// without window.
pub const NO_COLUMN: u16 = u16::MAX;

/// An occurrence in a window: (instant, count, sum, min, max). It stands for `count`
/// occurrences once merged (past [`AGG_CAP`]).
pub type Occurrence = (Instant, u32, f64, f64, f64);

/// The running summary of one aggregate for one customer. A windowed aggregate reads its
/// occurrences from a [`Log`] it shares with the other aggregates over the same event, from
/// row [`AggState::skip`] on. At most [`AGG_CAP`] occurrences are kept per log: beyond that
/// the two oldest are merged (the count stays exact, the merged occurrence leaves the window
/// with the newer of the two).
///
/// Fields in this order (`repr(C)`): what an occurrence coming in or leaving reads and
/// writes comes first, in the state's first cache lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[repr(C)]
pub struct AggState {
    /// Which of the customer's logs holds the occurrences ([`Customer::logs`]), or
    /// [`NO_LOG`].
    pub log: u16,
    /// Which column of the log holds the aggregated values, or [`NO_COLUMN`].
    pub column: u16,
    /// Rows at the front of the log that have left this aggregate's window (it is shorter
    /// than the log's longest).
    pub skip: u32,
    /// The count and the exact sum of the whole window, kept as occurrences come and go,
    /// so that a `count`, `sum` or `avg` over the window does not go over it. Derived: not
    /// serialized (rebuilt on the next update; until then evaluations go over the window).
    #[serde(skip)]
    pub(crate) kept: Option<crate::segments::Kept>,
    /// When the first occurrence of the window is not the log's row as it is: it stands
    /// for several merged ones (past [`AGG_CAP`]), or the log's row has merged an
    /// occurrence that had already left this window. Its (count, sum, min, max).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Box<(u32, f64, f64, f64)>>,
    /// Occurrences ever counted, with their sum, min and max (kept for an aggregate
    /// without window only).
    pub total: (u64, f64, f64, f64),
    /// Latest value and instant (kept for `last` only).
    pub last: Option<(Instant, Value)>,
}

impl AggState {
    /// A state with no occurrence yet, reading `column` of log `log`.
    pub fn new(log: u16, column: u16) -> AggState {
        AggState {
            log,
            column,
            skip: 0,
            kept: None,
            head: None,
            total: (0, 0.0, 0.0, 0.0),
            last: None,
        }
    }
}

/// Two states are equal when their data is: the kept totals are derived (a state read back
/// from its serialized form has none yet, and is still the same state).
impl PartialEq for AggState {
    fn eq(&self, other: &AggState) -> bool {
        self.log == other.log
            && self.column == other.column
            && self.skip == other.skip
            && self.head == other.head
            && self.last == other.last
            && self.total == other.total
    }
}

/// A windowed aggregate's occurrences: its state and the log it reads.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The aggregate's state.
    pub state: &'a AggState,
    /// The log it reads from row [`AggState::skip`] on.
    pub log: &'a Log,
}

impl<'a> Window<'a> {
    /// The occurrence at row `row` of the log, as this aggregate sees it.
    #[inline]
    pub(crate) fn occurrence(&self, row: usize) -> Occurrence {
        let at = self.log.at(row);
        match self.state.head.as_deref() {
            Some(&(count, sum, min, max)) if row == self.state.skip as usize => {
                (at, count, sum, min, max)
            }
            _ => {
                let x = self.log.value(row, self.state.column);
                (at, 1, x, x, x)
            }
        }
    }

    /// The occurrences in the window, oldest first.
    pub fn occurrences(self) -> impl DoubleEndedIterator<Item = Occurrence> + 'a {
        let rows = (self.state.skip as usize).min(self.log.len())..self.log.len();
        rows.map(move |row| self.occurrence(row))
    }

    /// The oldest occurrence in the window.
    pub fn oldest(self) -> Option<Occurrence> {
        ((self.state.skip as usize) < self.log.len())
            .then(|| self.occurrence(self.state.skip as usize))
    }
}

/// Occurrences kept per log before the oldest are merged.
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

/// The events whose properties an instance can read (the latest occurrence of each): usually
/// none or only the one that started it, held inline; several in a thin vector. 16 bytes (a
/// `SmallVec` with one inline item is 24: it keeps a capacity beside its pointer and length).
/// Reads go through the slice it dereferences to; it serializes as that sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// No event, or one.
    One(Option<Arc<EventData>>),
    /// Two or more.
    Many(ThinVec<Arc<EventData>>),
}

impl Scope {
    /// An empty scope.
    pub const fn new() -> Scope {
        Scope::One(None)
    }

    /// Adds an occurrence after those held (reads look for the latest first).
    pub fn push(&mut self, event: Arc<EventData>) {
        match self {
            Scope::One(None) => *self = Scope::One(Some(event)),
            Scope::One(Some(first)) => {
                let mut many = ThinVec::with_capacity(2);
                many.push(first.clone());
                many.push(event);
                *self = Scope::Many(many);
            }
            Scope::Many(many) => many.push(event),
        }
    }

    /// Replaces each occurrence by what `keep` gives for it (the same one, a copy holding
    /// fewer properties) or drops it (`None`), in order; back to inline once one or none is
    /// left.
    pub fn keep_live(&mut self, mut keep: impl FnMut(&Arc<EventData>) -> Option<Arc<EventData>>) {
        match self {
            Scope::One(one) => {
                if let Some(e) = one {
                    *one = keep(e);
                }
            }
            Scope::Many(many) => *self = many.iter().filter_map(keep).collect(),
        }
    }
}

impl Default for Scope {
    fn default() -> Scope {
        Scope::new()
    }
}

impl std::ops::Deref for Scope {
    type Target = [Arc<EventData>];

    fn deref(&self) -> &[Arc<EventData>] {
        match self {
            Scope::One(one) => one.as_slice(),
            Scope::Many(many) => many,
        }
    }
}

impl FromIterator<Arc<EventData>> for Scope {
    fn from_iter<I: IntoIterator<Item = Arc<EventData>>>(iter: I) -> Scope {
        let mut scope = Scope::new();
        for event in iter {
            scope.push(event);
        }
        scope
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        Ok(Vec::<Arc<EventData>>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// One customer's run of one journey.
///
/// Its layout is kept small (96 bytes, with no heap allocation of its own while it runs only
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
    /// Where the instance is in its calendar (its timeline entries and the end of its
    /// lifetime, `exit after`; see [`crate::calendar`]):
    /// [`CALENDAR_NEW`](crate::calendar::CALENDAR_NEW) before its first entry, then the
    /// index of the last entry started, or
    /// [`CALENDAR_LISTED`](crate::calendar::CALENDAR_LISTED) when the rest is written out in
    /// its customer's [`Customer::listed`]. The dates themselves are computed from
    /// `entered_at` and the customer's time zone when needed, not kept.
    pub calendar: u16,
    /// The timer of the next calendar item.
    pub timeline_timer: Option<TimerId>,
    /// Events whose properties the instance can read (latest occurrence of each).
    pub scope: Scope,
    /// In an experiment's holdout: sends are skipped.
    pub holdout: bool,
    /// Goal windows not closed yet, converted or not (one per goal; a closed one is dropped
    /// at the instance's next step, `Engine::forget_unread`).
    pub goals: ThinVec<GoalWindow>,
    /// Sends made, for idempotency keys.
    pub sends: u32,
}

/// A goal window of an instance: from when the goal may convert, and whether it has (a goal
/// converts once per instance). 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalWindow {
    /// The goal.
    pub goal: GoalId,
    /// Whether the goal has converted in this window.
    pub converted: bool,
    /// When the window opened.
    pub opened: Instant,
}

/// The entry index that stands, in an instance's calendar, for the end of its lifetime
/// (`exit after`).
pub const LIFETIME: u16 = u16::MAX;

/// The rest of an instance's calendar written out, after its customer's time zone changed
/// (the dates fixed in the old zone stay): kept beside the instances
/// ([`Customer::listed`]), not in each, as few instances ever need one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedCalendar {
    /// The journey of the instance (a customer has one instance per journey).
    pub journey: JourneyId,
    /// (seconds from the instance's `entered_at`, entry index, the end of the lifetime being
    /// [`LIFETIME`]), the next one last.
    pub items: ThinVec<(u32, u16)>,
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
    /// Occurrence logs, one per group of aggregates over the same event and filter (see
    /// [`Log`]); as many as the groups that had an occurrence, up to the last.
    #[serde(default)]
    pub logs: Vec<Log>,
    /// Segment membership, indexed by segment.
    pub segments: Vec<bool>,
    /// Active instances.
    pub instances: Vec<Instance>,
    /// The calendars written out of those instances whose
    /// [`Instance::calendar`] is [`CALENDAR_LISTED`](crate::calendar::CALENDAR_LISTED); one
    /// per such instance, none for the others.
    #[serde(default)]
    pub listed: ThinVec<ListedCalendar>,
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
    /// The written-out calendar of the instance of journey `j` (empty when it has none).
    pub fn listed(&self, j: JourneyId) -> &[(u32, u16)] {
        self.listed
            .iter()
            .find(|l| l.journey == j)
            .map_or(&[], |l| &l.items[..])
    }

    /// Forgets the written-out calendar of journey `j` (its instance ended).
    pub(crate) fn unlist(&mut self, j: JourneyId) {
        self.listed.retain(|l| l.journey != j);
    }

    /// The state of aggregate `a`, once it has had an occurrence.
    pub fn agg(&self, a: AggId) -> Option<&AggState> {
        self.aggs.get(a.as_u32() as usize).and_then(Option::as_ref)
    }

    /// The occurrences of windowed aggregate `a`, once it has had one.
    pub fn window(&self, a: AggId) -> Option<Window<'_>> {
        let state = self.agg(a)?;
        let log = self.logs.get(usize::from(state.log))?;
        Some(Window { state, log })
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

    /// An occurrence holds its values with no room to spare, whatever vector it came in,
    /// and one kept whole is shared.
    #[test]
    fn an_occurrence_holds_no_spare_room_and_is_shared_when_kept_whole() {
        let mut props = Vec::with_capacity(8);
        props.extend([Value::Number(1.0), Value::Number(2.0), Value::Number(3.0)]);
        let roomy = Arc::new(EventData::new(EventId::from_u32(1), props, 5));
        assert_eq!(roomy.props.len(), 3);
        assert!(Arc::ptr_eq(&roomy.keeping(KeptEvent::ALL), &roomy));
        assert_eq!(size_of::<EventData>(), 32);
    }

    /// Millions of instances wait at once: their layout is part of the memory budget.
    #[test]
    fn instance_layout_stays_small() {
        assert_eq!(size_of::<Option<TimerId>>(), 8);
        assert_eq!(size_of::<ThreadState>(), 16);
        assert_eq!(size_of::<Thread>(), 32);
        assert!(size_of::<Instance>() <= 96, "{}", size_of::<Instance>());
        assert_eq!(size_of::<GoalWindow>(), 16);
        // A kept occurrence holds its values, a profile row one per attribute.
        assert_eq!(size_of::<Value>(), 16);
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
        assert!(!threads.spilled() && matches!(scope, Scope::One(Some(_))));
        assert_eq!(size_of::<Scope>(), 16);
    }
}
