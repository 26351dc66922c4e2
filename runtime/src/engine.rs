//! The engine: a deterministic, sans-IO state machine. Inputs (profiles, events, API
//! entries) come in with their instant; [`Engine::advance_to`] moves the virtual clock and
//! fires due timers; effects and decisions accumulate until drained. It reads no wall clock
//! and does no IO: the CLI, the tests and (later) the server wrap it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use compact_str::CompactString;
use cranelift_entity::{EntityRef, SecondaryMap};
use jiff::tz::TimeZone;
use journey_bytecode::*;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use thin_vec::ThinVec;

use crate::calendar::{self, CALENDAR_LISTED, CALENDAR_NEW, Item, Plan};
use crate::customer::{
    Customer, EventData, GoalWindow, Instance, JourneyHistory, LIFETIME, Scope, Thread, ThreadState,
};
use crate::drift::ClockReads;
use crate::effects::{CustomerIx, Decision, Effect, ExitReason};
use crate::intern::Interner;
use crate::scheduler::{Scheduler, TimerId};
use crate::segments;
use crate::stats::Stats;
use crate::time::{self, Instant, Zones};
use crate::value::Value;
use crate::vm::Env;

/// How deep emitted events may trigger each other within one input.
const MAX_EMIT_DEPTH: u32 = 16;

/// What an engine records besides effects.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Record decisions with reasons (for `--explain` and tests): all customers, or these ids.
    pub explain: Explain,
    /// Record a `Reached` effect for every step (tests and coverage); off in simulations,
    /// where statistics count steps instead.
    pub record_steps: bool,
}

/// Which customers' decisions are recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Explain {
    /// None.
    #[default]
    Off,
    /// Every customer.
    All,
    /// These customer ids.
    Only(Vec<String>),
}

/// What a timer does when it fires. 8 bytes aligned to 4, so that a pending timer is a
/// 20-byte slot of the scheduler (millions are pending at once): the journey in 16 bits and
/// the kind in 16 (3 for what to do, 13 for its index), which the bytecode validator's limits
/// guarantee (`journey_bytecode::MAX_JOURNEYS`, `MAX_TIMELINE_ENTRIES`, `MAX_ENTRY_CLAUSES`).
///
/// A timer of an instance names no instance: the instance holds the id of each timer it
/// waits for (its threads' states, `Instance::timeline_timer`) and acts on a timer only when
/// it holds that id, and an instance that ends cancels its timers; so a timer left from an
/// ended instance finds nothing, even when the customer is in the same journey again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerKey {
    /// Customer.
    pub customer: CustomerIx,
    /// Journey (for instance timers and schedules); [`TimerKey::NO_JOURNEY`] for the
    /// customer's own.
    journey: u16,
    /// What to do, packed ([`TimerKey::kind`]).
    kind: u16,
}

impl TimerKey {
    /// The journey of a customer-level timer (which has none).
    pub const NO_JOURNEY: u16 = u16::MAX;
    /// Bits of the index in a packed kind.
    const INDEX_BITS: u16 = 13;
    /// The packed index of the end of a lifetime ([`LIFETIME`]).
    const LIFETIME_INDEX: u16 = (1 << Self::INDEX_BITS) - 1;

    /// The timer of `customer` doing `kind`, for journey `journey` (`None` for the customer's
    /// own timers). An index past the limits is clamped; a program the compiler accepts, or
    /// the validator, has none (E0615 journey-too-large).
    pub fn new(customer: CustomerIx, journey: Option<JourneyId>, kind: TimerKind) -> TimerKey {
        let (tag, index) = match kind {
            TimerKind::Resume(t) => (0, t),
            TimerKind::Timeout(t) => (1, t),
            TimerKind::Timeline(LIFETIME) => (2, Self::LIFETIME_INDEX),
            TimerKind::Timeline(k) => (2, k.min(Self::LIFETIME_INDEX - 1)),
            TimerKind::Schedule(e) => (3, e),
            TimerKind::Recheck => (4, 0),
        };
        TimerKey {
            customer,
            journey: journey.map_or(Self::NO_JOURNEY, |j| {
                u16::try_from(j.as_u32()).unwrap_or(Self::NO_JOURNEY - 1)
            }),
            kind: (tag << Self::INDEX_BITS) | (index & Self::LIFETIME_INDEX),
        }
    }

    /// The journey (`None` for a customer-level timer).
    pub fn journey(&self) -> Option<JourneyId> {
        (self.journey != Self::NO_JOURNEY).then(|| JourneyId::from_u32(u32::from(self.journey)))
    }

    /// What to do.
    pub fn kind(&self) -> TimerKind {
        let index = self.kind & Self::LIFETIME_INDEX;
        match self.kind >> Self::INDEX_BITS {
            0 => TimerKind::Resume(index),
            1 => TimerKind::Timeout(index),
            2 if index == Self::LIFETIME_INDEX => TimerKind::Timeline(LIFETIME),
            2 => TimerKind::Timeline(index),
            3 => TimerKind::Schedule(index),
            _ => TimerKind::Recheck,
        }
    }
}

/// Kinds of timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// Resume thread N (after a wait or a deferral).
    Resume(u16),
    /// A wait-for-event of thread N timed out.
    Timeout(u16),
    /// Start timeline entry N, or end the instance's lifetime
    /// (N = [`LIFETIME`]): the next entry of its calendar.
    Timeline(u16),
    /// A scheduled entry (entry clause N) is due.
    Schedule(u16),
    /// Re-evaluate time-dependent segments.
    Recheck,
}

/// Indexes derived from the program once.
struct Derived {
    consts: Vec<Value>,
    entries_by_event: SecondaryMap<EventId, Vec<(JourneyId, u16)>>,
    /// Whether a goal converts on this event: for another event, instances do not read
    /// their open goal windows (a list of their own, cold in memory). Program-wide, not per
    /// journey: valid bytecode may open a goal in another journey's code.
    goal_events: SecondaryMap<EventId, bool>,
    /// Whether an active instance can react to this event at all: a goal converts on it, a
    /// journey exits on it, or a wait waits for it (program-wide). For any other event (a
    /// usage record that only feeds segments) the dispatch does not read the customer's
    /// instances, which are cold in memory.
    instance_events: SecondaryMap<EventId, bool>,
    entries_on_enter: SecondaryMap<SegmentId, Vec<(JourneyId, u16)>>,
    entries_on_leave: SecondaryMap<SegmentId, Vec<(JourneyId, u16)>>,
    scheduled: Vec<(JourneyId, u16)>,
    /// The aggregates grouped by event and filter: each group's occurrences go in one log
    /// per customer (`Customer::logs`, indexed like this).
    groups: Vec<crate::segments::Group>,
    /// The groups over each event.
    groups_by_event: SecondaryMap<EventId, Vec<u16>>,
    /// Per group, the segments that read one of its aggregates, each once.
    segs_by_group: Vec<Vec<SegmentId>>,
    segs_by_attr: SecondaryMap<AttrId, Vec<SegmentId>>,
    segs_by_agg: SecondaryMap<AggId, Vec<SegmentId>>,
    /// Segments in dependency order (a segment after those it uses).
    seg_order: Vec<SegmentId>,
    /// Windowed aggregates whose expiries can change something: read by a segment or by an
    /// `exit when` condition.
    windowed_aggs: Vec<AggId>,
    /// The groups of [`Derived::windowed_aggs`]: the logs a recheck prunes.
    windowed_groups: Vec<u16>,
    /// What segment and `exit when` conditions read of the clock.
    clock_reads: ClockReads,
    /// Segments a recheck re-evaluates: those over a windowed aggregate or reading the clock
    /// (the others change only with the attributes and events that re-evaluate them).
    time_segs: Vec<SegmentId>,
    timeline_steps: SecondaryMap<JourneyId, Vec<Option<StepId>>>,
    /// Per journey: its calendar's plan (bounds of the timeline entries' dates).
    calendars: SecondaryMap<JourneyId, Plan>,
    /// The `exit when` conditions of every journey (what a recheck also re-checks).
    exit_conditions: Vec<Pc>,
    /// The schema's attributes among [`crate::effects::ADDRESS_ATTRIBUTES`], handed to
    /// channels with each send.
    pub(crate) address_attrs: Vec<(AttrId, &'static str)>,
    /// The longest frequency-cap window of all policies, in seconds: how long a customer's
    /// recent sends are kept.
    cap_window: i64,
    /// Expression functions as trees, indexed by entry pc (`None` where no function starts
    /// or where the interpreter runs it).
    exprs: Vec<Option<Box<crate::expr::Function>>>,
    /// What execution may still read from an instance's scope.
    liveness: crate::liveness::Liveness,
}

/// The effects [`Engine::take_effects`] keeps room for whatever it takes (16,384, about
/// 3 MB): enough for the runs of events a server or a simulation feeds at a time.
pub const KEPT_EFFECTS: usize = 1 << 14;

/// How many events [`Engine::events`] reads ahead of the one it runs.
pub const WARM_AHEAD: usize = 16;

/// The engine.
pub struct Engine {
    pub(crate) program: Arc<Program>,
    d: Arc<Derived>,
    config: Config,
    pub(crate) zones: Zones,
    pub(crate) customers: Vec<Customer>,
    /// Every customer's attribute values, one row of [`Engine::stride`] values per customer
    /// in customer order, in one allocation: a condition reads an attribute at an address
    /// computed from the customer's index, not through a pointer read from the customer
    /// first (two cache misses one after the other when the customer is cold).
    profiles: Vec<Value>,
    /// Attributes per customer (the program's attribute count).
    stride: usize,
    pub(crate) tzs: Vec<TimeZone>,
    /// Customers by id. Ids up to 24 bytes are stored in the table itself, so a lookup
    /// compares the key without reading another allocation. The hash is seeded per process
    /// (ids may come from outside): the map is only looked up, never iterated, so the seed
    /// changes nothing the engine does.
    by_id: HashMap<CompactString, CustomerIx, foldhash::fast::RandomState>,
    pub(crate) timers: Scheduler<TimerKey>,
    now: Instant,
    pub(crate) effects: Vec<Effect>,
    pub(crate) decisions: Vec<(CustomerIx, Decision)>,
    explain_all: bool,
    explain_only: Vec<CustomerIx>,
    explain_ids: Vec<String>,
    pub(crate) stack: Vec<Value>,
    pending: VecDeque<(CustomerIx, Arc<EventData>, u32)>,
    pub(crate) stats: Stats,
    epoch: u32,
    /// Instructions executed so far (journey threads and expression functions).
    pub(crate) insns: u64,
    /// Texts shared between customers (event properties, profile values).
    texts: Interner,
    /// Recheck at every instant an occurrence leaves a window, not only when a condition
    /// can change: the plain rule, kept as the reference the tests compare with.
    #[cfg(test)]
    pub(crate) plain_rechecks: bool,
    /// Keep every entry and awaited event for the instance's life: the plain rule, kept as
    /// the reference the tests compare [`crate::liveness`] with.
    #[cfg(test)]
    pub(crate) keep_all_events: bool,
    /// Write every instance's calendar out at entry: the plain rule, kept as the reference
    /// the tests compare [`crate::calendar`] with.
    #[cfg(test)]
    pub(crate) list_calendars: bool,
}

/// Whether a window of goal `gd` opened at `opened` is still open at `now` (a conversion at
/// the window's last second counts).
fn goal_window_open(gd: &GoalDef, opened: Instant, now: Instant) -> bool {
    now.saturating_sub(opened) <= i64::try_from(gd.window_secs).unwrap_or(i64::MAX)
}

impl Engine {
    /// An engine for a program, its clock at `start`.
    pub fn new(program: Arc<Program>, config: Config, start: Instant) -> Engine {
        let d = Arc::new(derive(&program));
        let texts = Interner::new(&program, &d.consts);
        let zones = Zones::new(&program.meta.default_timezone);
        let stats = Stats::new(&program);
        let (explain_all, explain_ids) = match &config.explain {
            Explain::Off => (false, Vec::new()),
            Explain::All => (true, Vec::new()),
            Explain::Only(ids) => (false, ids.clone()),
        };
        let stride = program.attributes.len();
        Engine {
            program,
            d,
            config,
            zones,
            customers: Vec::new(),
            profiles: Vec::new(),
            stride,
            tzs: Vec::new(),
            by_id: HashMap::default(),
            timers: Scheduler::new(),
            now: start,
            effects: Vec::new(),
            decisions: Vec::new(),
            explain_all,
            explain_only: Vec::new(),
            explain_ids,
            stack: Vec::with_capacity(64),
            pending: VecDeque::new(),
            stats,
            epoch: 0,
            insns: 0,
            texts,
            #[cfg(test)]
            plain_rechecks: false,
            #[cfg(test)]
            keep_all_events: false,
            #[cfg(test)]
            list_calendars: false,
        }
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Takes the effects produced so far.
    ///
    /// The engine starts a new buffer, which grows again from nothing: a caller that drains
    /// often, as a server or a long simulation does, should use [`Engine::take_effects`].
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Takes the effects produced so far, in order, keeping the engine's buffer and its room
    /// for the next ones (the effects not read from the iterator are dropped with it).
    ///
    /// A buffer that regrows from nothing after every drain reallocates as it doubles, and
    /// its large blocks come back from the allocator as fresh pages the kernel must zero:
    /// telecom, a million customers, drained daily, spent a sixth of its time zeroing pages.
    ///
    /// The room a burst needed (a million customers entering at the same instant) is given
    /// back at the first take after it: the buffer keeps room for twice what it holds, and
    /// at least [`KEPT_EFFECTS`] effects.
    pub fn take_effects(&mut self) -> std::vec::Drain<'_, Effect> {
        let keep = self.effects.len().max(KEPT_EFFECTS / 2) * 2;
        if self.effects.capacity() > keep {
            self.effects.shrink_to(keep);
        }
        self.effects.drain(..)
    }

    /// How many effects the engine's buffer has room for, taken or not (each is
    /// `size_of::<Effect>()` bytes): for memory accounting.
    pub fn effects_room(&self) -> usize {
        self.effects.capacity()
    }

    /// Takes the decisions recorded so far.
    pub fn drain_decisions(&mut self) -> Vec<(CustomerIx, Decision)> {
        std::mem::take(&mut self.decisions)
    }

    /// Counters per journey, step, channel and reason.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A customer by index.
    pub fn customer(&self, ix: CustomerIx) -> Option<&Customer> {
        self.customers.get(ix as usize)
    }

    /// A customer's attribute values, indexed by attribute (the schema's defaults until set).
    pub fn profile(&self, ix: CustomerIx) -> Option<&[Value]> {
        let start = (ix as usize).checked_mul(self.stride)?;
        self.profiles.get(start..start + self.stride)
    }

    /// The attribute values of an existing customer.
    #[inline]
    pub(crate) fn profile_of(&self, c: CustomerIx) -> &[Value] {
        let start = c as usize * self.stride;
        &self.profiles[start..start + self.stride]
    }

    /// A customer's index by id.
    pub fn customer_ix(&self, id: &str) -> Option<CustomerIx> {
        self.by_id.get(id).copied()
    }

    /// Number of customers.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Pending timers.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// Instructions executed so far: those of journey threads and of expression functions
    /// (conditions, segments, filters, offers), not those of template rendering. A cheap
    /// counter, for benchmarks and capacity planning (VM steps per second).
    pub fn instructions(&self) -> u64 {
        self.insns
    }

    /// Approximate memory of the timer queue in bytes.
    pub fn timer_memory(&self) -> usize {
        self.timers.memory_bytes()
    }

    /// When the next timer is due.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.timers.next_due()
    }

    /// The longest frequency-cap window of all policies, in seconds.
    pub(crate) fn cap_window(&self) -> i64 {
        self.d.cap_window
    }

    /// The customer's addresses for a channel: the [`crate::effects::ADDRESS_ATTRIBUTES`] that
    /// the schema has (found once, in the derived indexes) and the profile sets.
    pub(crate) fn recipient(&self, c: CustomerIx) -> Vec<(&'static str, String)> {
        let profile = self.profile_of(c);
        self.d
            .address_attrs
            .iter()
            .filter_map(|(a, name)| match profile.get(a.index()) {
                Some(Value::String(s)) if !s.is_empty() => Some((*name, s.to_string())),
                _ => None,
            })
            .collect()
    }

    /// A customer's time zone.
    pub fn timezone(&self, ix: CustomerIx) -> TimeZone {
        self.tzs.get(ix as usize).cloned().unwrap_or(TimeZone::UTC)
    }

    pub(crate) fn explaining(&self, c: CustomerIx) -> bool {
        self.explain_all || self.explain_only.contains(&c)
    }

    /// Records a decision for customer `c` if it is being explained. `text` is called only
    /// then, with the engine, so that a caller reads names, formats local times or renders
    /// values inside it: an unexplained customer's decisions cost nothing.
    #[inline]
    pub(crate) fn decide(
        &mut self,
        c: CustomerIx,
        journey: Option<JourneyId>,
        loc: Option<Loc>,
        text: impl FnOnce(&Engine) -> String,
    ) {
        if self.explaining(c) {
            self.record_decision(c, journey, loc, text);
        }
    }

    /// [`Engine::decide`]'s work for an explained customer, kept out of line so that the
    /// text's code does not sit in the hot paths that decide.
    #[cold]
    #[inline(never)]
    fn record_decision(
        &mut self,
        c: CustomerIx,
        journey: Option<JourneyId>,
        loc: Option<Loc>,
        text: impl FnOnce(&Engine) -> String,
    ) {
        let text = text(self);
        self.decisions.push((
            c,
            Decision {
                at: self.now,
                journey,
                text,
                loc,
            },
        ));
    }

    // ------------------------------------------------------------------ inputs

    /// Creates or updates a customer's profile at `at`. Attributes not given keep their value
    /// (their default for a new customer).
    pub fn upsert_customer(
        &mut self,
        id: &str,
        attrs: &[(AttrId, Value)],
        at: Instant,
    ) -> CustomerIx {
        self.advance_to(at);
        self.upsert_now(id, attrs)
    }

    /// [`Engine::upsert_customer`] at the current clock, without firing timers: for a
    /// journey's `set`, which must not run other customers' due timers in the middle of its
    /// thread (nested, once per customer due at the same instant: the stack overflowed with
    /// thousands of birthdays at 09:00).
    pub(crate) fn upsert_now(&mut self, id: &str, attrs: &[(AttrId, Value)]) -> CustomerIx {
        let (c, new) = match self.by_id.get(id) {
            Some(&c) => (c, false),
            None => (self.create_customer(id), true),
        };
        let moved = if new {
            Vec::new()
        } else {
            self.moved_entries(c, attrs)
        };
        let start = c as usize * self.stride;
        for (a, v) in attrs {
            if a.index() < self.stride {
                let slot = &mut self.profiles[start + a.index()];
                *slot = v.clone();
                self.texts.attribute(*a, slot);
            }
        }
        self.refresh_tz(c);
        for (j, e) in moved {
            self.reschedule_entry(c, j, e);
        }
        if new {
            self.schedule_entries(c);
            let d = self.d.clone();
            self.reevaluate(c, &d.seg_order, true);
        } else {
            let changed: Vec<SegmentId> = attrs
                .iter()
                .flat_map(|(a, _)| self.d.segs_by_attr[*a].iter().copied())
                .collect();
            self.reevaluate(c, &changed, false);
            self.check_exit_conditions(c);
        }
        self.run_pending();
        c
    }

    /// Sets one attribute of an existing customer (or a new one) at `at`.
    pub fn set_attribute(&mut self, id: &str, attr: AttrId, value: Value, at: Instant) {
        self.upsert_customer(id, &[(attr, value)], at);
    }

    /// An event of a customer at `at` (a customer not seen before is created with defaults).
    pub fn event(&mut self, id: &str, event: EventId, props: Vec<Value>, at: Instant) {
        self.event_of(id, None, event, props, at);
    }

    /// Events of customers, in order: the same as [`Engine::event`] for each, with the same
    /// effects, but faster for a stream of many customers (a server's queue, a replay).
    ///
    /// An event reads its customer's memory, which is cold when there are millions of
    /// customers: looked one by one, each read waits for the one before it (the customer's
    /// index, then its record, then its aggregate states, then their logs). This looks
    /// [`WARM_AHEAD`] events ahead and makes each of those reads for all of them at once,
    /// stage by stage, so that they overlap; the events then run on memory already read.
    /// Nothing is changed by the reads: they only bring memory closer.
    pub fn events<'a, I>(&mut self, inputs: I)
    where
        I: IntoIterator<Item = (&'a str, EventId, Vec<Value>, Instant)>,
    {
        let mut inputs = inputs.into_iter();
        let mut batch = Vec::with_capacity(WARM_AHEAD);
        let mut found = [None; WARM_AHEAD];
        loop {
            batch.extend(inputs.by_ref().take(WARM_AHEAD));
            if batch.is_empty() {
                return;
            }
            self.warm(&batch, &mut found);
            for ((id, event, props, at), c) in batch.drain(..).zip(found) {
                self.event_of(id, c, event, props, at);
            }
        }
    }

    /// Reads, stage by stage for all of `batch`, the memory its events will read first;
    /// `found` gets each one's customer index where it exists already.
    fn warm(
        &self,
        batch: &[(&str, EventId, Vec<Value>, Instant)],
        found: &mut [Option<CustomerIx>; WARM_AHEAD],
    ) {
        let mut seen = 0usize;
        for (x, c) in batch.iter().zip(found.iter_mut()) {
            *c = self.by_id.get(x.0).copied();
            // The properties, made by the caller a while ago.
            seen ^= x.2.first().is_some_and(|v| matches!(v, Value::None)) as usize;
        }
        let customers = || {
            batch.iter().zip(found.iter()).filter_map(|(x, c)| {
                let c = (*c)?;
                Some((x.1, c, self.customers.get(c as usize)?))
            })
        };
        // Each stage's reads depend on the one before, not on each other.
        for (_, c, cu) in customers() {
            seen ^= cu.aggs.len() ^ cu.logs.len() ^ cu.instances.len() ^ cu.segments.len();
            seen ^= cu.history.len() ^ cu.recent_sends.len();
            if let Some(v) = self.profiles.get(c as usize * self.stride) {
                seen ^= matches!(v, Value::None) as usize;
            }
        }
        let groups = |event: EventId| {
            self.d
                .groups_by_event
                .get(event)
                .into_iter()
                .flatten()
                .filter_map(|&gi| Some((gi, self.d.groups.get(usize::from(gi))?)))
        };
        for (event, _, cu) in customers() {
            for (gi, g) in groups(event) {
                for s in g.members.iter().filter_map(|m| cu.agg(m.agg)) {
                    seen ^= s.skip as usize ^ s.total.0 as usize;
                }
                if let Some(log) = cu.logs.get(usize::from(gi)) {
                    seen ^= log.len();
                }
            }
            // The instances only for an event that they, or an entry, may read them for.
            let read = self.d.instance_events[event] || !self.d.entries_by_event[event].is_empty();
            if read && let Some(i) = cu.instances.first() {
                seen ^= i.epoch as usize;
            }
            seen ^= cu.segments.first().copied().unwrap_or_default() as usize;
        }
        for (event, _, cu) in customers() {
            for (gi, g) in groups(event) {
                let Some(log) = cu.logs.get(usize::from(gi)) else {
                    continue;
                };
                // Only windowed members read the log.
                for s in g.windowed().filter_map(|(m, _)| cu.agg(m.agg)) {
                    seen ^= log.warm(s.skip as usize) as usize;
                }
            }
        }
        std::hint::black_box(seen);
    }

    /// [`Engine::event`], with the customer's index when it is known.
    fn event_of(
        &mut self,
        id: &str,
        known: Option<CustomerIx>,
        event: EventId,
        mut props: Vec<Value>,
        at: Instant,
    ) {
        self.advance_to(at);
        self.texts.event(event, &mut props);
        let c = match known.or_else(|| self.by_id.get(id).copied()) {
            Some(c) => c,
            None => self.upsert_customer(id, &[], at),
        };
        let data = Arc::new(EventData::new(event, props, self.now));
        self.pending.push_back((c, data, 0));
        self.run_pending();
    }

    /// Enters a customer into a journey through the API (`entry by api`, or any journey in tests).
    pub fn enter(&mut self, id: &str, journey: JourneyId, at: Instant) -> bool {
        self.advance_to(at);
        let c = match self.by_id.get(id) {
            Some(&c) => c,
            None => self.upsert_customer(id, &[], at),
        };
        let ok = self.try_enter(c, journey, None, None);
        self.run_pending();
        ok
    }

    /// Moves the clock to `t`, firing every timer due until then, in order.
    pub fn advance_to(&mut self, t: Instant) {
        while let Some((at, id, key)) = self.timers.pop_due(t) {
            if at > self.now {
                self.now = at;
            }
            self.fire(id, key);
            self.run_pending();
        }
        if t > self.now {
            self.now = t;
        }
    }

    // ------------------------------------------------------------------ customers

    fn create_customer(&mut self, id: &str) -> CustomerIx {
        let p = &self.program;
        // Defaults are the program's constants, shared (not a copy per customer).
        self.profiles.extend(p.attributes.values().map(|a| {
            a.default
                .and_then(|c| self.d.consts.get(c.index()))
                .cloned()
                .unwrap_or_default()
        }));
        let c = self.customers.len() as CustomerIx;
        self.customers.push(Customer {
            id: id.to_string(),
            aggs: vec![None; p.aggregates.len()],
            logs: Vec::new(),
            segments: vec![false; p.segments.len()],
            instances: Vec::new(),
            listed: ThinVec::new(),
            history: vec![JourneyHistory::default(); p.journeys.len()],
            recent_sends: VecDeque::new(),
            assignments: Vec::new(),
            recheck: None,
            schedules: Vec::new(),
            reached: Vec::new(),
        });
        self.tzs.push(TimeZone::UTC);
        self.by_id.insert(CompactString::from(id), c);
        if self.explain_ids.iter().any(|x| x == id) {
            self.explain_only.push(c);
        }
        c
    }

    fn refresh_tz(&mut self, c: CustomerIx) {
        let name =
            self.program
                .meta
                .timezone_attr
                .and_then(|a| match self.profile_of(c).get(a.index()) {
                    Some(Value::String(s)) => Some(s.to_string()),
                    _ => None,
                });
        let tz = self.zones.get(name.as_deref());
        if tz == self.tzs[c as usize] {
            return;
        }
        // The dates of the calendars already fixed stay where the old zone put them: each
        // instance still computing its calendar writes the rest out first.
        let old = std::mem::replace(&mut self.tzs[c as usize], tz);
        let customer = &mut self.customers[c as usize];
        for inst in &mut customer.instances {
            self.d.calendars[inst.journey].list(inst, &mut customer.listed, &old);
        }
    }

    pub(crate) fn env<'a>(
        &'a self,
        c: CustomerIx,
        scope: &'a [Arc<EventData>],
        candidate: Option<&'a EventData>,
        offer: Option<OfferId>,
    ) -> Env<'a> {
        Env {
            program: &self.program,
            consts: &self.d.consts,
            customer: &self.customers[c as usize],
            profile: self.profile_of(c),
            tz: &self.tzs[c as usize],
            scope,
            candidate,
            offer,
            now: self.now,
            reads: None,
        }
    }

    /// Evaluates a condition function for a customer.
    pub(crate) fn test(
        &mut self,
        c: CustomerIx,
        pc: Pc,
        scope: &[Arc<EventData>],
        candidate: Option<&EventData>,
    ) -> bool {
        if let Some(f) = self.expr_tree(pc) {
            let (v, n) = f.test(&self.env(c, scope, candidate, None));
            self.insns += n;
            return v;
        }
        let mut stack = std::mem::take(&mut self.stack);
        let (v, n) = self
            .env(c, scope, candidate, None)
            .call_counted(pc, &mut stack);
        self.stack = stack;
        self.insns += n;
        v.truthy()
    }

    /// The tree of the expression function at `pc`, if it has one.
    pub(crate) fn expr_tree(&self, pc: Pc) -> Option<&crate::expr::Function> {
        self.d.exprs.get(pc as usize).and_then(Option::as_deref)
    }

    /// The value of an expression function (an interpolation), by its tree when it has one.
    /// Not counted in [`Engine::instructions`] (template rendering is not).
    pub(crate) fn value_of(&self, env: &Env<'_>, pc: Pc, stack: &mut Vec<Value>) -> Value {
        match self.expr_tree(pc) {
            Some(f) => f.eval(env).0,
            None => env.call(pc, stack),
        }
    }

    // ------------------------------------------------------------------ events

    pub(crate) fn run_pending(&mut self) {
        while let Some((c, data, depth)) = self.pending.pop_front() {
            self.dispatch(c, data, depth);
        }
    }

    pub(crate) fn emit_event(
        &mut self,
        c: CustomerIx,
        event: EventId,
        props: Vec<Value>,
        depth: u32,
    ) {
        self.effects.push(Effect::Emitted {
            customer: c,
            event,
            props: props.clone(),
            at: self.now,
        });
        let data = Arc::new(EventData::new(event, props, self.now));
        self.pending.push_back((c, data, depth + 1));
    }

    fn dispatch(&mut self, c: CustomerIx, data: Arc<EventData>, depth: u32) {
        let event = data.event;
        self.stats.events += 1;
        // 1. History aggregates, then the segments that read them.
        // Shared handles: no per-event copies of the program's tables.
        let d = self.d.clone();
        let program = self.program.clone();
        let mut changed: SmallVec<[SegmentId; 8]> = SmallVec::new();
        let mut recorded = false;
        for &gi in &d.groups_by_event[event] {
            let g = &d.groups[usize::from(gi)];
            if let Some(f) = g.filter
                && !self.test(c, f, &[], Some(&data))
            {
                continue;
            }
            let now = self.now;
            let customer = &mut self.customers[c as usize];
            if customer.logs.len() <= usize::from(gi) {
                customer
                    .logs
                    .resize_with(usize::from(gi) + 1, Default::default);
            }
            let log = &mut customer.logs[usize::from(gi)];
            segments::prune(g, log, &mut customer.aggs, now);
            segments::record(g, gi, log, &mut customer.aggs, now, &data);
            changed.extend_from_slice(&d.segs_by_group[usize::from(gi)]);
            recorded = true;
        }
        if recorded {
            // Segments that read the aggregates, then `exit when` conditions (which may read
            // aggregates directly), and the timer for the next occurrence leaving a window.
            self.reevaluate(c, &changed, false);
            self.check_exit_conditions(c);
        }
        // 2. Active instances: exits, goals, waits (none can react to most events).
        if d.instance_events[event] {
            let journeys: SmallVec<[(JourneyId, u32); 4]> = self.customers[c as usize]
                .instances
                .iter()
                .map(|i| (i.journey, i.epoch))
                .collect();
            for (j, epoch) in journeys {
                self.instance_event(c, j, epoch, &data, depth);
            }
        }
        // 3. Entries.
        for &(j, e) in &d.entries_by_event[event] {
            let cond = program.journeys[j].entries[e as usize].condition;
            if let Some(pc) = cond
                && !self.test(c, pc, &[], Some(&data))
            {
                continue;
            }
            self.try_enter(c, j, Some(data.clone()), Some(depth));
        }
    }

    fn instance_event(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        epoch: u32,
        data: &Arc<EventData>,
        depth: u32,
    ) {
        let event = data.event;
        let program = self.program.clone();
        let jd = &program.journeys[j];
        // Goals first: the event that converts may also be one that exits.
        let open: SmallVec<[GoalWindow; 4]> = if self.d.goal_events[event] {
            self.instance(c, j)
                .map(|i| i.goals.iter().copied().collect())
                .unwrap_or_default()
        } else {
            SmallVec::new()
        };
        for w in open {
            let g = w.goal;
            let gd = &program.goals[g];
            if w.converted || gd.event != event || !goal_window_open(gd, w.opened, self.now) {
                continue;
            }
            let scope = self
                .instance(c, j)
                .map(|i| i.scope.clone())
                .unwrap_or_default();
            if gd
                .condition
                .is_none_or(|pc| self.test(c, pc, &scope, Some(data)))
            {
                if let Some(x) = self
                    .instance_mut(c, j)
                    .and_then(|i| i.goals.iter_mut().find(|x| x.goal == g))
                {
                    x.converted = true;
                }
                self.effects.push(Effect::Goal {
                    customer: c,
                    goal: g,
                    at: self.now,
                });
                self.stats.goal(g);
                let name = &gd.name;
                self.decide(c, Some(j), Some(gd.loc), |_| {
                    format!("goal `{name}` converted")
                });
            }
        }
        // Exit clauses.
        for x in &jd.exits {
            if let ExitDef::Event {
                event: e,
                condition,
                loc,
            } = x
            {
                if *e != event {
                    continue;
                }
                let scope = self
                    .instance(c, j)
                    .map(|i| i.scope.clone())
                    .unwrap_or_default();
                if condition.is_none_or(|pc| self.test(c, pc, &scope, Some(data))) {
                    let ev_name = &program.events[event].name;
                    self.decide(c, Some(j), Some(*loc), |_| {
                        format!("exit: `{ev_name}` happened")
                    });
                    self.end_instance(c, j, ExitReason::Event);
                    return;
                }
            }
        }
        // Waits for this event.
        let waiting: SmallVec<[(usize, WaitId, Option<TimerId>); 2]> = self
            .instance(c, j)
            .filter(|i| i.epoch == epoch)
            .map(|i| {
                i.threads
                    .iter()
                    .enumerate()
                    .filter_map(|(t, th)| match th.state {
                        ThreadState::Waiting(w, timer) if program.waits[w].event == event => {
                            Some((t, w, timer))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (t, w, timer) in waiting {
            let wd = &program.waits[w];
            let scope = self
                .instance(c, j)
                .map(|i| i.scope.clone())
                .unwrap_or_default();
            if let Some(f) = wd.filter
                && !self.test(c, f, &scope, Some(data))
            {
                continue;
            }
            if let Some(timer) = timer {
                self.timers.cancel(timer);
            }
            let keep = self.kept_props(jd, event).map(|props| data.keeping(props));
            if let Some(i) = self.instance_mut(c, j) {
                if let Some(data) = keep {
                    i.scope.keep_live(|e| (e.event != event).then(|| e.clone()));
                    i.scope.push(data);
                }
                if let Some(th) = i.threads.get_mut(t) {
                    th.state = ThreadState::Ready;
                    th.pc += 1;
                }
            }
            let ev_name = &program.events[event].name;
            let loc = program.steps[wd.step].loc;
            self.decide(c, Some(j), Some(loc), |_| {
                format!("`{ev_name}` arrived: the wait ends")
            });
            self.run_thread(c, j, t, depth);
        }
    }

    // ------------------------------------------------------------------ instances

    pub(crate) fn instance(&self, c: CustomerIx, j: JourneyId) -> Option<&Instance> {
        self.customers[c as usize]
            .instances
            .iter()
            .find(|i| i.journey == j)
    }

    pub(crate) fn instance_mut(&mut self, c: CustomerIx, j: JourneyId) -> Option<&mut Instance> {
        self.customers[c as usize]
            .instances
            .iter_mut()
            .find(|i| i.journey == j)
    }

    /// Drops from the instance what none of its code may read any more: the events of its
    /// scope ([`crate::liveness`]) and the goal windows that have closed. A suspended
    /// instance keeps only what it will need.
    pub(crate) fn forget_unread(&mut self, c: CustomerIx, j: JourneyId) {
        let (now, program) = (self.now, &self.program);
        if let Some(inst) = self.customers[c as usize]
            .instances
            .iter_mut()
            .find(|i| i.journey == j)
            && !inst.goals.is_empty()
        {
            // A closed window converts nothing (`instance_event`); an instance that waits for
            // months after its goal's window gives the list back.
            inst.goals
                .retain(|w| goal_window_open(&program.goals[w.goal], w.opened, now));
            if inst.goals.is_empty() {
                inst.goals = ThinVec::new();
            }
        }
        if self.keeps_all() {
            return;
        }
        let needed = match self.instance(c, j) {
            Some(inst) if !inst.scope.is_empty() => {
                let pending = self.entries_pending(c, inst);
                self.d.liveness.needed(&self.program, inst, &pending)
            }
            _ => return,
        };
        // Each event kept holds only the properties still read: a copy with fewer values
        // once, shared again at the next suspension that drops nothing more.
        let liveness = &self.d.liveness;
        if let Some(inst) = self.customers[c as usize]
            .instances
            .iter_mut()
            .find(|i| i.journey == j)
        {
            inst.scope
                .keep_live(|e| match liveness.props(&needed, e.event) {
                    0 => None,
                    props => Some(e.keeping(props)),
                });
        }
    }

    /// The properties of `event` that instances of `jd` keep (a [`KeptEvent::props`] mask);
    /// `None` when they keep no occurrence of it.
    fn kept_props(&self, jd: &JourneyDef, event: EventId) -> Option<u32> {
        if self.keeps_all() {
            return Some(KeptEvent::ALL);
        }
        jd.kept_events
            .binary_search_by_key(&event, |k| k.event)
            .ok()
            .map(|i| jd.kept_events[i].props)
    }

    /// Whether instances keep every event (the tests' reference rule).
    fn keeps_all(&self) -> bool {
        #[cfg(test)]
        let keep = self.keep_all_events;
        #[cfg(not(test))]
        let keep = false;
        keep
    }

    /// Starts an instance if the re-entry rule allows it.
    fn try_enter(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        trigger: Option<Arc<EventData>>,
        depth: Option<u32>,
    ) -> bool {
        let program = self.program.clone();
        let jd = &program.journeys[j];
        let name = &jd.name;
        if self.instance(c, j).is_some() {
            self.decide(c, Some(j), Some(jd.loc), |_| {
                format!("not entered into `{name}`: already in it")
            });
            return false;
        }
        let h = self.customers[c as usize].history[j.index()];
        let allowed = match (jd.reentry, h.last_entry) {
            (_, None) => true,
            (Reentry::Never, Some(_)) => false,
            (Reentry::AfterExit, Some(_)) => true,
            (Reentry::After(secs), Some(last)) => self.now.saturating_sub(last) >= secs as i64,
        };
        if !allowed {
            self.decide(c, Some(j), Some(jd.loc), |_| {
                format!("not entered into `{name}` again: its re-entry rule")
            });
            return false;
        }
        self.epoch = self.epoch.wrapping_add(1);
        let epoch = self.epoch;
        let now = self.now;
        let hist = &mut self.customers[c as usize].history[j.index()];
        hist.last_entry = Some(now);
        hist.entries += 1;
        // The trigger is kept only when the journey's code reads it later (most instances
        // then keep no event while they wait).
        let mut scope = Scope::new();
        if let Some(t) = &trigger
            && let Some(props) = self.kept_props(jd, t.event)
        {
            scope.push(t.keeping(props));
        }
        // The calendar (timeline entries and the end of the lifetime) is fixed by the entry
        // instant and the customer's time zone; only its next item gets a timer (one pending
        // timer per instance, not one per entry), and no list of dates is kept.
        let next = self.d.calendars[j].next(now, &self.tzs[c as usize], None, false);
        let timeline_timer = next.map(|next| self.schedule_timeline(c, j, now, next));
        // The goal windows that open at entry, in a list of their exact length (collecting
        // would leave room for four).
        let entry_goals = || {
            program
                .goals
                .iter()
                .filter(|(_, g)| g.journey == j && g.after.is_none())
                .map(|(goal, _)| GoalWindow {
                    goal,
                    converted: false,
                    opened: now,
                })
        };
        let mut goals = ThinVec::with_capacity(entry_goals().count());
        goals.extend(entry_goals());
        // Exact growth: most customers are in one or two journeys at a time, and an unused
        // `Instance` slot costs as much as a live one.
        let instances = &mut self.customers[c as usize].instances;
        instances.reserve_exact(1);
        instances.push(Instance {
            journey: j,
            epoch,
            entered_at: now,
            threads: smallvec::smallvec![Thread {
                pc: jd.body,
                state: ThreadState::Ready,
                saved: ThinVec::new(),
            }],
            calendar: CALENDAR_NEW,
            timeline_timer,
            scope,
            holdout: false,
            goals,
            sends: 0,
        });
        #[cfg(test)]
        if self.list_calendars {
            let customer = &mut self.customers[c as usize];
            if let Some(inst) = customer.instances.last_mut() {
                self.d.calendars[j].list(inst, &mut customer.listed, &self.tzs[c as usize]);
            }
        }
        self.effects.push(Effect::Entered {
            customer: c,
            journey: j,
            at: now,
        });
        self.stats.entered(j);
        self.decide(c, Some(j), Some(jd.loc), |_| match &trigger {
            Some(t) => format!("entered `{name}` on `{}`", program.events[t.event].name),
            None => format!("entered `{name}`"),
        });
        // An instance that starts while an `exit when` condition holds ends at once.
        if !self.d.exit_conditions.is_empty() && self.end_if_exit_condition(c, j) {
            return true;
        }
        self.run_thread(c, j, 0, depth.unwrap_or(0));
        true
    }

    /// Schedules a timer of the instance of `j` (the instance keeps its id: one left from an
    /// ended instance finds nothing when it fires, see [`TimerKey`]).
    pub(crate) fn schedule_instance_timer(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        at: Instant,
        kind: TimerKind,
    ) -> TimerId {
        self.timers.schedule(at, TimerKey::new(c, Some(j), kind))
    }

    /// The next item of the calendar of `c`'s instance of `j` with this `epoch`: none when
    /// the instance is gone or replaced, or its calendar is done. `reached`, when the caller
    /// knows it, is the item last reached (its date is not converted again).
    fn calendar_next(
        &self,
        c: CustomerIx,
        j: JourneyId,
        epoch: u32,
        reached: Option<Item>,
    ) -> Option<Item> {
        let inst = self.instance(c, j).filter(|i| i.epoch == epoch)?;
        self.next_of(c, inst, reached, false)
    }

    /// The next item of `inst`'s calendar (`c`'s instance), skipping the end of the lifetime
    /// when `entries_only`; `reached` as in [`Engine::calendar_next`].
    fn next_of(
        &self,
        c: CustomerIx,
        inst: &Instance,
        reached: Option<Item>,
        entries_only: bool,
    ) -> Option<Item> {
        if inst.calendar == CALENDAR_LISTED {
            return self.customers[c as usize]
                .listed(inst.journey)
                .iter()
                .rev()
                .find(|&&(_, k)| !entries_only || k != LIFETIME)
                .copied();
        }
        let plan = &self.d.calendars[inst.journey];
        let tz = &self.tzs[c as usize];
        let after = calendar::last_started(inst).map(|k| match reached {
            Some(item) if item.1 == k => item,
            _ => (plan.secs(inst.entered_at, tz, k), k),
        });
        plan.next(inst.entered_at, tz, after, entries_only)
    }

    /// Seconds after entry of item `k` of `inst`'s calendar (`c`'s instance); a listed
    /// calendar answers only for its next item.
    fn item_secs(&self, c: CustomerIx, inst: &Instance, k: u16) -> Option<u32> {
        if inst.calendar == CALENDAR_LISTED {
            return self.customers[c as usize]
                .listed(inst.journey)
                .last()
                .filter(|&&(_, x)| x == k)
                .map(|&(s, _)| s);
        }
        let plan = &self.d.calendars[inst.journey];
        Some(plan.secs(inst.entered_at, &self.tzs[c as usize], k))
    }

    /// The timeline entries of `inst` (`c`'s instance) not started yet, in index order.
    fn entries_pending(&self, c: CustomerIx, inst: &Instance) -> SmallVec<[u16; 8]> {
        if inst.calendar == CALENDAR_LISTED {
            let mut ks: SmallVec<[u16; 8]> = self.customers[c as usize]
                .listed(inst.journey)
                .iter()
                .map(|&(_, k)| k)
                .filter(|&k| k != LIFETIME)
                .collect();
            ks.sort_unstable();
            return ks;
        }
        self.d.calendars[inst.journey]
            .pending(
                inst.entered_at,
                &self.tzs[c as usize],
                calendar::last_started(inst),
            )
            .collect()
    }

    /// The timeline entries of customer `c`'s instance of journey `j` not started yet, in
    /// index order (empty when it is not in the journey).
    pub fn pending_entries(&self, c: CustomerIx, j: JourneyId) -> Vec<u16> {
        self.instance(c, j)
            .map(|i| self.entries_pending(c, i).into_vec())
            .unwrap_or_default()
    }

    /// Schedules the timer of the timeline entry `(secs, k)`, due `secs` after the instance's
    /// entry at `entered_at` (now, if that has passed).
    fn schedule_timeline(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        entered_at: Instant,
        (secs, k): (u32, u16),
    ) -> TimerId {
        let at = entered_at.saturating_add(i64::from(secs)).max(self.now);
        self.schedule_instance_timer(c, j, at, TimerKind::Timeline(k))
    }

    /// Starts timeline entry `k`, the next item of the calendar of the instance of `j` with
    /// this `epoch` ([`Engine::calendar_next`]); false when the instance is gone or replaced.
    fn start_timeline_entry(&mut self, c: CustomerIx, j: JourneyId, epoch: u32, k: u16) -> bool {
        let Some(entry) = self.program.journeys[j].timeline.get(k as usize).cloned() else {
            return false;
        };
        let step = self.d.timeline_steps[j].get(k as usize).copied().flatten();
        let customer = &mut self.customers[c as usize];
        let thread = match customer.instances.iter_mut().find(|i| i.journey == j) {
            Some(i) if i.epoch == epoch => {
                if i.calendar == CALENDAR_LISTED {
                    if let Some(l) = customer.listed.iter_mut().find(|l| l.journey == j) {
                        l.items.pop();
                    }
                } else {
                    i.calendar = k;
                }
                let thread = Thread {
                    pc: entry.code,
                    state: ThreadState::Ready,
                    saved: ThinVec::new(),
                };
                // A finished thread's slot is reused (no timer refers to it any more), so an
                // instance holds the threads that are running, not every entry it has run.
                match i.threads.iter().position(|t| t.state == ThreadState::Done) {
                    Some(ix) => {
                        i.threads[ix] = thread;
                        ix
                    }
                    None => {
                        i.threads.push(thread);
                        i.threads.len() - 1
                    }
                }
            }
            _ => return false,
        };
        if let Some(s) = step {
            self.reached(c, s);
        }
        self.decide(c, Some(j), Some(entry.loc), |_| {
            format!("timeline: {}", entry.offset.describe())
        });
        self.run_thread(c, j, thread, 0);
        true
    }

    /// Ends an instance: cancels its timers, records the exit.
    pub(crate) fn end_instance(&mut self, c: CustomerIx, j: JourneyId, reason: ExitReason) {
        let customer = &mut self.customers[c as usize];
        let Some(pos) = customer.instances.iter().position(|i| i.journey == j) else {
            return;
        };
        let inst = customer.instances.swap_remove(pos);
        customer.unlist(j);
        // The customer's other instances may wait for months: their vector gives back the
        // slot (an instance slot unused costs as much as a live one).
        customer.instances.shrink_to_fit();
        for th in &inst.threads {
            match th.state {
                ThreadState::Sleeping(t)
                | ThreadState::Deferred(t, _)
                | ThreadState::Waiting(_, Some(t)) => self.timers.cancel(t),
                _ => {}
            }
        }
        if let Some(t) = inst.timeline_timer {
            self.timers.cancel(t);
        }
        self.effects.push(Effect::Exited {
            customer: c,
            journey: j,
            reason,
            at: self.now,
        });
        self.stats.exited(j, reason);
        let why = match reason {
            ExitReason::Completed => "its steps and timeline are done",
            ExitReason::Step => "an `exit` step",
            ExitReason::Event => "an `exit on` event",
            ExitReason::Condition => "its `exit when` condition",
            ExitReason::Lifetime => "its `exit after` lifetime",
        };
        self.decide(c, Some(j), None, |e| {
            format!("left `{}`: {why}", e.program.journeys[j].name)
        });
    }

    /// Ends the instance if its body and every timeline entry are done.
    pub(crate) fn maybe_complete(&mut self, c: CustomerIx, j: JourneyId) {
        let done = self.instance(c, j).is_some_and(|i| {
            i.threads.iter().all(|t| t.state == ThreadState::Done)
                && self.next_of(c, i, None, true).is_none()
        });
        if done {
            self.end_instance(c, j, ExitReason::Completed);
        }
    }

    // ------------------------------------------------------------------ timers

    fn fire(&mut self, id: TimerId, key: TimerKey) {
        let c = key.customer;
        if c as usize >= self.customers.len() {
            return;
        }
        let kind = key.kind();
        // The customer's own timer, of no journey.
        if kind == TimerKind::Recheck {
            if self.customers[c as usize]
                .recheck
                .is_some_and(|(_, t)| t == id)
            {
                self.customers[c as usize].recheck = None;
                let d = self.d.clone();
                // Occurrences that left their windows go now: the evaluations below then
                // read the kept totals instead of going over the windows.
                let customer = &mut self.customers[c as usize];
                for &gi in &d.windowed_groups {
                    if let Some(log) = customer.logs.get_mut(usize::from(gi)) {
                        let g = &d.groups[usize::from(gi)];
                        segments::prune(g, log, &mut customer.aggs, self.now);
                    }
                }
                self.reevaluate(c, &d.time_segs, false);
                self.check_exit_conditions(c);
            }
            return;
        }
        let Some(j) = key
            .journey()
            .filter(|&j| self.program.journeys.get(j).is_some())
        else {
            return;
        };
        match kind {
            TimerKind::Schedule(e) => {
                self.customers[c as usize]
                    .schedules
                    .retain(|(jj, ee, ..)| !(*jj == j && *ee == e));
                let cond = self.program.journeys[j]
                    .entries
                    .get(e as usize)
                    .and_then(|x| x.condition);
                if cond.is_none_or(|pc| self.test(c, pc, &[], None)) {
                    self.try_enter(c, j, None, None);
                }
                self.schedule_entry(c, j, e);
            }
            _ => {
                // Each arm acts only if the instance holds this very timer (see `TimerKey`).
                let Some(epoch) = self.instance(c, j).map(|i| i.epoch) else {
                    return;
                };
                match kind {
                    TimerKind::Resume(t) => {
                        if let Some(th) = self
                            .instance_mut(c, j)
                            .and_then(|i| i.threads.get_mut(t as usize))
                        {
                            match th.state {
                                ThreadState::Sleeping(x) if x == id => {
                                    th.state = ThreadState::Ready;
                                    th.pc += 1;
                                }
                                ThreadState::Deferred(x, _) if x == id => {
                                    th.state = ThreadState::Ready
                                }
                                _ => return,
                            }
                        } else {
                            return;
                        }
                        self.run_thread(c, j, t as usize, 0);
                    }
                    TimerKind::Timeout(t) => {
                        let target = match self
                            .instance(c, j)
                            .and_then(|i| i.threads.get(t as usize))
                            .map(|th| th.state.clone())
                        {
                            Some(ThreadState::Waiting(w, Some(x))) if x == id => {
                                self.program.waits[w].on_timeout
                            }
                            _ => return,
                        };
                        if let Some(th) = self
                            .instance_mut(c, j)
                            .and_then(|i| i.threads.get_mut(t as usize))
                        {
                            th.state = ThreadState::Ready;
                            th.pc = target;
                        }
                        let loc = self
                            .program
                            .code
                            .get(target as usize)
                            .and(self.program.locs.get(target as usize))
                            .copied();
                        self.decide(c, Some(j), loc, |_| "the wait timed out".into());
                        self.run_thread(c, j, t as usize, 0);
                    }
                    TimerKind::Timeline(k) => {
                        match self.instance_mut(c, j) {
                            Some(i) if i.timeline_timer == Some(id) => i.timeline_timer = None,
                            _ => return,
                        }
                        // The instance's timer is set for its next item only, so `k` is next:
                        // its date is all there is to find (converted, or read from the list).
                        let Some(due) = self.instance(c, j).and_then(|i| self.item_secs(c, i, k))
                        else {
                            return;
                        };
                        // This entry, then any others due at the same instant, in order: they
                        // run back to back as their timers used to; the end of the lifetime
                        // comes after them.
                        let mut k = k;
                        loop {
                            if k == LIFETIME {
                                self.decide(c, Some(j), None, |_| {
                                    "maximum lifetime reached".into()
                                });
                                self.end_instance(c, j, ExitReason::Lifetime);
                                return;
                            }
                            if !self.start_timeline_entry(c, j, epoch, k) {
                                return;
                            }
                            match self.calendar_next(c, j, epoch, Some((due, k))) {
                                Some((secs, next)) if secs == due => k = next,
                                Some(next) => {
                                    let Some(entered_at) = self
                                        .instance(c, j)
                                        .filter(|i| i.timeline_timer.is_none())
                                        .map(|i| i.entered_at)
                                    else {
                                        return;
                                    };
                                    let timer = self.schedule_timeline(c, j, entered_at, next);
                                    if let Some(i) = self.instance_mut(c, j) {
                                        i.timeline_timer = Some(timer);
                                    }
                                    return;
                                }
                                None => return,
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Schedules the next occurrence of every scheduled entry for a new customer.
    fn schedule_entries(&mut self, c: CustomerIx) {
        let d = self.d.clone();
        for &(j, e) in &d.scheduled {
            self.schedule_entry(c, j, e);
        }
    }

    fn schedule_entry(&mut self, c: CustomerIx, j: JourneyId, e: u16) {
        if let Some(at) = self.next_entry_time(c, j, e, self.now) {
            let id = self
                .timers
                .schedule(at, TimerKey::new(c, Some(j), TimerKind::Schedule(e)));
            self.customers[c as usize].schedules.push((j, e, id, at));
        }
    }

    /// The first instant after `from` at which scheduled entry `e` of journey `j` is due for
    /// customer `c`, in their time zone and from their profile; `None` for an entry that is
    /// not scheduled or a yearly entry on an absent date.
    fn next_entry_time(
        &self,
        c: CustomerIx,
        j: JourneyId,
        e: u16,
        from: Instant,
    ) -> Option<Instant> {
        let entry = self.program.journeys[j].entries.get(e as usize)?;
        let tz = &self.tzs[c as usize];
        match entry.trigger {
            Trigger::Daily { at } => Some(time::next_local_time(from, tz, 7, at)),
            Trigger::Weekly { weekday, at } => Some(time::next_local_time(from, tz, weekday, at)),
            Trigger::Monthly { day, at } => Some(time::next_monthly(from, tz, day, at)),
            Trigger::Yearly { attr, at } => match self.profile_of(c).get(attr.index()) {
                Some(Value::Date(d)) => Some(time::next_yearly(from, tz, *d, at)),
                Some(Value::Timestamp(t)) => {
                    Some(time::next_yearly(from, tz, time::date_of(*t, tz), at))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The scheduled entries of customer `c` that an update of `attrs` moves: all of them
    /// when the time zone changes, the yearly ones on a changed date attribute.
    fn moved_entries(&self, c: CustomerIx, attrs: &[(AttrId, Value)]) -> Vec<(JourneyId, u16)> {
        let profile = self.profile_of(c);
        let changed = |a: AttrId| {
            attrs
                .iter()
                .any(|(x, v)| *x == a && profile.get(a.index()).is_some_and(|old| !old.equals(v)))
        };
        let tz_changed = self.program.meta.timezone_attr.is_some_and(changed);
        self.d
            .scheduled
            .iter()
            .copied()
            .filter(|&(j, e)| {
                tz_changed
                    || self.program.journeys[j]
                        .entries
                        .get(e as usize)
                        .is_some_and(|entry| {
                            matches!(entry.trigger, Trigger::Yearly { attr, .. } if changed(attr))
                        })
            })
            .collect()
    }

    /// Schedules entry `e` of journey `j` again from the customer's current values, unless
    /// its timer is due at this very instant (a `set` runs before the customer's timers due
    /// at the same instant: those still run, and schedule the next one themselves).
    fn reschedule_entry(&mut self, c: CustomerIx, j: JourneyId, e: u16) {
        let now = self.now;
        let schedules = &mut self.customers[c as usize].schedules;
        if let Some(k) = schedules
            .iter()
            .position(|&(jj, ee, ..)| jj == j && ee == e)
        {
            let (_, _, id, at) = schedules[k];
            if at <= now {
                return;
            }
            schedules.swap_remove(k);
            self.timers.cancel(id);
        }
        self.schedule_entry(c, j, e);
    }

    pub(crate) fn reached(&mut self, c: CustomerIx, step: StepId) {
        self.stats.reached(step);
        if self.config.record_steps {
            self.effects.push(Effect::Reached {
                customer: c,
                step,
                at: self.now,
            });
        }
    }

    // ------------------------------------------------------------------ segments

    /// Re-evaluates segments (in dependency order) and raises entries on membership changes;
    /// sets the recheck timer for them (and the `exit when` conditions), even when there is
    /// no segment to re-evaluate.
    fn reevaluate(&mut self, c: CustomerIx, which: &[SegmentId], initial: bool) {
        self.schedule_recheck(c, which);
        if which.is_empty() || self.program.segments.is_empty() {
            return;
        }
        let mut changes: SmallVec<[(SegmentId, bool); 4]> = SmallVec::new();
        let d = self.d.clone();
        for &s in &d.seg_order {
            // A segment is re-evaluated if it was asked for or uses one that changed.
            let asked = which.contains(&s)
                || changes
                    .iter()
                    .any(|(x, _)| self.program.segments[s].uses_segments.contains(x));
            if !asked {
                continue;
            }
            let pc = self.program.segments[s].condition;
            let now_in = self.test(c, pc, &[], None);
            let was = self.customers[c as usize].segments[s.index()];
            if now_in != was {
                self.customers[c as usize].segments[s.index()] = now_in;
                changes.push((s, now_in));
            }
        }
        for (s, entered) in changes {
            let loc = self.program.segments[s].loc;
            self.decide(c, None, Some(loc), |e| {
                format!(
                    "{} segment `{}`",
                    if entered { "entered" } else { "left" },
                    e.program.segments[s].name
                )
            });
            let list = if entered {
                &d.entries_on_enter[s]
            } else {
                &d.entries_on_leave[s]
            };
            let _ = initial;
            for &(j, e) in list {
                let cond = self.program.journeys[j].entries[e as usize].condition;
                if cond.is_none_or(|pc| self.test(c, pc, &[], None)) {
                    self.try_enter(c, j, None, None);
                }
            }
        }
    }

    /// One timer per customer, no later than the next instant a segment's membership or an
    /// `exit when` condition can change with no event (see [`crate::drift`]).
    ///
    /// `which` are the segments whose inputs just changed. An answer depends only on the
    /// customer's windows, so the other segments' answers still stand, and the timer, no later
    /// than all of them, stays unless one of `which` (or an `exit when` condition) needs an
    /// earlier one. A timer set earlier than needed fires, finds nothing to do and is set
    /// again from every segment (the recheck clears it first).
    fn schedule_recheck(&mut self, c: CustomerIx, which: &[SegmentId]) {
        if self.d.time_segs.is_empty() && self.d.exit_conditions.is_empty() {
            return;
        }
        let Some(next) = self.next_recheck(c, which) else {
            return;
        };
        let current = self.customers[c as usize].recheck;
        if current.is_some_and(|(at, _)| at <= next) {
            return;
        }
        if let Some((_, t)) = current {
            self.timers.cancel(t);
        }
        let id = self
            .timers
            .schedule(next, TimerKey::new(c, None, TimerKind::Recheck));
        self.customers[c as usize].recheck = Some((next, id));
    }

    /// When the customer's time-driven conditions among `which` (the segments a recheck
    /// re-evaluates, when asked) and the `exit when` conditions can next change: the earliest
    /// answer of [`crate::drift::Drift`].
    fn next_recheck(&self, c: CustomerIx, which: &[SegmentId]) -> Option<Instant> {
        let mut drift = crate::drift::Drift::new(
            self.env(c, &[], None, None),
            &self.d.exprs,
            &self.d.windowed_aggs,
            self.d.clock_reads,
        );
        #[cfg(test)]
        if self.plain_rechecks {
            return drift.plain();
        }
        let mut next = None;
        for &s in &self.d.time_segs {
            if which.contains(&s) {
                next = crate::drift::earliest(next, drift.segment(s));
            }
        }
        for &pc in &self.d.exit_conditions {
            next = crate::drift::earliest(next, drift.condition(pc));
        }
        next
    }

    fn check_exit_conditions(&mut self, c: CustomerIx) {
        if self.d.exit_conditions.is_empty() {
            return;
        }
        let journeys: SmallVec<[JourneyId; 4]> = self.customers[c as usize]
            .instances
            .iter()
            .map(|i| i.journey)
            .collect();
        for j in journeys {
            self.end_if_exit_condition(c, j);
        }
    }

    /// Ends the instance of `j` if one of its `exit when` conditions holds; whether it did.
    fn end_if_exit_condition(&mut self, c: CustomerIx, j: JourneyId) -> bool {
        let program = self.program.clone();
        for x in &program.journeys[j].exits {
            let ExitDef::When { condition, loc } = x else {
                continue;
            };
            let scope = self
                .instance(c, j)
                .map(|i| i.scope.clone())
                .unwrap_or_default();
            if self.test(c, *condition, &scope, None) {
                self.decide(c, Some(j), Some(*loc), |_| "exit condition met".into());
                self.end_instance(c, j, ExitReason::Condition);
                return true;
            }
        }
        false
    }

    /// The best eligible offer for a customer now (inbound decisions use the same rule as sends).
    pub fn best_offer(&mut self, id: &str) -> Option<OfferId> {
        let c = self.customer_ix(id)?;
        self.choose_offer(c, &[])
    }

    /// Whether a customer is in a segment.
    pub fn in_segment(&self, id: &str, segment: SegmentId) -> bool {
        self.customer_ix(id)
            .and_then(|c| {
                self.customers[c as usize]
                    .segments
                    .get(segment.index())
                    .copied()
            })
            .unwrap_or(false)
    }

    /// The emit depth guard, for the thread runner.
    pub(crate) fn emit_allowed(depth: u32) -> bool {
        depth < MAX_EMIT_DEPTH
    }
    /// Evaluates a segment's condition for a customer (by index) at the current clock, through
    /// the interpreter, and returns the result without recording it: membership, entries and
    /// timers are left as they are (what-if tools, benchmarks). `false` for an unknown customer
    /// or segment. [`Engine::in_segment`] reads the recorded membership instead.
    pub fn evaluate_segment(&mut self, customer: CustomerIx, segment: SegmentId) -> bool {
        if customer as usize >= self.customers.len() {
            return false;
        }
        match self.program.segments.get(segment) {
            Some(s) => {
                let pc = s.condition;
                self.test(customer, pc, &[], None)
            }
            None => false,
        }
    }
}

fn derive(p: &Program) -> Derived {
    let mut d = Derived {
        consts: p.consts.values().map(Value::from_const).collect(),
        entries_by_event: SecondaryMap::new(),
        goal_events: SecondaryMap::new(),
        instance_events: SecondaryMap::new(),
        entries_on_enter: SecondaryMap::new(),
        entries_on_leave: SecondaryMap::new(),
        scheduled: Vec::new(),
        groups: crate::segments::groups(p),
        groups_by_event: SecondaryMap::new(),
        segs_by_group: Vec::new(),
        liveness: crate::liveness::Liveness::new(p),
        segs_by_attr: SecondaryMap::new(),
        segs_by_agg: SecondaryMap::new(),
        seg_order: Vec::new(),
        windowed_aggs: Vec::new(),
        windowed_groups: Vec::new(),
        clock_reads: ClockReads::Nothing,
        time_segs: Vec::new(),
        timeline_steps: SecondaryMap::new(),
        calendars: SecondaryMap::new(),
        exit_conditions: Vec::new(),
        address_attrs: p
            .attributes
            .iter()
            .filter_map(|(id, a)| {
                crate::effects::ADDRESS_ATTRIBUTES
                    .iter()
                    .find(|n| **n == a.name)
                    .map(|n| (id, *n))
            })
            .collect(),
        cap_window: p
            .policies
            .values()
            .flat_map(|p| {
                p.caps
                    .iter()
                    .map(|c| i64::try_from(c.window_secs).unwrap_or(i64::MAX))
            })
            .max()
            .unwrap_or(0),
        exprs: Vec::new(),
    };
    d.exprs = vec![None; p.code.len()];
    for pc in journey_bytecode::expression_entries(p) {
        if let Some(slot) = d.exprs.get_mut(pc as usize) {
            *slot = crate::expr::decompile(p, &d.consts, pc).map(Box::new);
        }
    }
    for g in p.goals.values() {
        d.goal_events[g.event] = true;
        d.instance_events[g.event] = true;
    }
    for w in p.waits.values() {
        d.instance_events[w.event] = true;
    }
    for x in p.journeys.values().flat_map(|j| &j.exits) {
        if let ExitDef::Event { event, .. } = x {
            d.instance_events[*event] = true;
        }
    }
    for (j, jd) in p.journeys.iter() {
        for (e, entry) in jd.entries.iter().enumerate() {
            let slot = (j, e as u16);
            match entry.trigger {
                Trigger::Event(ev) => d.entries_by_event[ev].push(slot),
                Trigger::SegmentEnter(s) => d.entries_on_enter[s].push(slot),
                Trigger::SegmentLeave(s) => d.entries_on_leave[s].push(slot),
                Trigger::Daily { .. }
                | Trigger::Weekly { .. }
                | Trigger::Monthly { .. }
                | Trigger::Yearly { .. } => d.scheduled.push(slot),
                Trigger::Api => {}
            }
        }
        d.calendars[j] = Plan::new(jd);
        d.timeline_steps[j] = jd
            .timeline
            .iter()
            .map(|t| {
                p.steps
                    .iter()
                    .find(|(_, s)| {
                        s.journey == j && s.kind == StepKind::TimelineEntry && s.loc == t.loc
                    })
                    .map(|(id, _)| id)
            })
            .collect();
    }
    for (gi, g) in d.groups.iter().enumerate() {
        d.groups_by_event[g.event].push(gi as u16);
    }
    d.exit_conditions = p
        .journeys
        .values()
        .flat_map(|j| &j.exits)
        .filter_map(|x| match x {
            ExitDef::When { condition, .. } => Some(*condition),
            _ => None,
        })
        .collect();
    for (s, seg) in p.segments.iter() {
        for a in &seg.uses_attributes {
            d.segs_by_attr[*a].push(s);
        }
        for a in &seg.uses_aggregates {
            d.segs_by_agg[*a].push(s);
        }
    }
    d.segs_by_group = d
        .groups
        .iter()
        .map(|g| {
            let mut segs: Vec<SegmentId> = g
                .members
                .iter()
                .flat_map(|m| d.segs_by_agg[m.agg].iter().copied())
                .collect();
            segs.sort_unstable();
            segs.dedup();
            segs
        })
        .collect();
    // Rechecks: only for the windows and clock reads something depends on. An aggregate
    // read only by templates or journey conditions is evaluated when they run, at the
    // current clock.
    let reads_clock = |pc: Pc| {
        function_code(p, pc)
            .iter()
            .map(|i| match i {
                Insn::Now => ClockReads::Instant,
                Insn::Call(Builtin::DaysSince | Builtin::YearsSince, _) => ClockReads::Days,
                _ => ClockReads::Nothing,
            })
            .max()
            .unwrap_or_default()
    };
    let clock_segs: Vec<ClockReads> = p
        .segments
        .values()
        .map(|s| reads_clock(s.condition))
        .collect();
    d.clock_reads = clock_segs
        .iter()
        .copied()
        .chain(d.exit_conditions.iter().map(|pc| reads_clock(*pc)))
        .max()
        .unwrap_or_default();
    // Whole days and years are counted in the customer's time zone: changing it can move
    // them.
    if let Some(tz) = p.meta.timezone_attr {
        for (s, reads) in p.segments.keys().zip(&clock_segs) {
            if *reads != ClockReads::Nothing && !d.segs_by_attr[tz].contains(&s) {
                d.segs_by_attr[tz].push(s);
            }
        }
    }
    let exit_aggs: Vec<AggId> = d
        .exit_conditions
        .iter()
        .flat_map(|pc| function_code(p, *pc))
        .filter_map(|i| match i {
            Insn::Aggregate(a) => Some(*a),
            _ => None,
        })
        .collect();
    for (a, agg) in p.aggregates.iter() {
        if agg.window_secs.is_some() && (!d.segs_by_agg[a].is_empty() || exit_aggs.contains(&a)) {
            d.windowed_aggs.push(a);
            if let Some(gi) = d
                .groups
                .iter()
                .position(|g| g.members.iter().any(|m| m.agg == a))
                && !d.windowed_groups.contains(&(gi as u16))
            {
                d.windowed_groups.push(gi as u16);
            }
        }
    }
    for (s, seg) in p.segments.iter() {
        if clock_segs[s.index()] != ClockReads::Nothing
            || seg
                .uses_aggregates
                .iter()
                .any(|a| d.windowed_aggs.contains(a))
        {
            d.time_segs.push(s);
        }
    }
    // Dependency order (the validator guarantees no cycles).
    let mut placed = vec![false; p.segments.len()];
    fn visit(
        p: &Program,
        s: SegmentId,
        placed: &mut Vec<bool>,
        out: &mut Vec<SegmentId>,
        depth: usize,
    ) {
        if placed[s.index()] || depth > p.segments.len() {
            return;
        }
        for u in &p.segments[s].uses_segments {
            visit(p, *u, placed, out, depth + 1);
        }
        if !placed[s.index()] {
            placed[s.index()] = true;
            out.push(s);
        }
    }
    for s in p.segments.keys() {
        visit(p, s, &mut placed, &mut d.seg_order, 0);
    }
    // In dependency order too.
    d.time_segs = d
        .seg_order
        .iter()
        .copied()
        .filter(|s| d.time_segs.contains(s))
        .collect();
    d
}

/// The instructions of the expression function starting at `entry`, up to its `Return` (the
/// first one past every jump target seen: nested filter functions are skipped over by a jump).
pub(crate) fn function_code(p: &Program, entry: Pc) -> &[Insn] {
    let start = entry as usize;
    let mut reach = start;
    for (k, insn) in p.code.iter().enumerate().skip(start) {
        match *insn {
            Insn::Jump(t)
            | Insn::JumpIfFalse(t)
            | Insn::JumpIfFalseOrPop(t)
            | Insn::JumpIfTrueOrPop(t) => reach = reach.max(t as usize),
            Insn::Return if k >= reach => return &p.code[start..=k],
            _ => {}
        }
    }
    p.code.get(start..).unwrap_or(&[])
}

#[cfg(test)]
mod timer_key_tests {
    use super::*;

    /// Any kind with indexes within the validator's limits, for any journey within them,
    /// reads back as written from an 8-byte key.
    fn kind_strategy() -> impl proptest::strategy::Strategy<Value = TimerKind> {
        use proptest::prelude::*;
        let thread = 0u16..=journey_bytecode::MAX_TIMELINE_ENTRIES as u16;
        let entry = 0u16..journey_bytecode::MAX_TIMELINE_ENTRIES as u16;
        let clause = 0u16..journey_bytecode::MAX_ENTRY_CLAUSES as u16;
        prop_oneof![
            thread.clone().prop_map(TimerKind::Resume),
            thread.prop_map(TimerKind::Timeout),
            entry.prop_map(TimerKind::Timeline),
            Just(TimerKind::Timeline(LIFETIME)),
            clause.prop_map(TimerKind::Schedule),
            Just(TimerKind::Recheck),
        ]
    }

    proptest::proptest! {
        #[test]
        fn timer_keys_read_back_as_written(
            customer in proptest::prelude::any::<u32>(),
            journey in proptest::option::of(0u32..journey_bytecode::MAX_JOURNEYS as u32),
            kind in kind_strategy(),
        ) {
            let journey = journey.map(JourneyId::from_u32);
            let key = TimerKey::new(customer, journey, kind);
            proptest::prop_assert_eq!(key.customer, customer);
            proptest::prop_assert_eq!(key.journey(), journey);
            proptest::prop_assert_eq!(key.kind(), kind);
        }
    }

    #[test]
    fn a_timer_key_is_one_word_aligned_to_four() {
        assert_eq!(size_of::<TimerKey>(), 8);
        // Aligned to 4, it makes the scheduler's slots 20 bytes, not 24.
        assert_eq!(align_of::<TimerKey>(), 4);
    }

    /// The keys name no instance: a timer of an ended instance that fired anyway (an instance
    /// cancels its timers when it ends, so this is the second line of defence) finds that
    /// the customer's new instance of the journey does not hold its id, and does nothing.
    #[test]
    fn a_stale_timer_does_nothing_to_the_next_instance() {
        let p = crate::test_program(
            r#"
event go
event stop
channel email uses "email" { }
journey j {
  entry on go
  reentry after exit
  exit on stop
  timeline {
    day 3: send email "timeline"
  }
  wait 7 days
  send email "a week later"
}
"#,
        );
        let (go, stop) = (crate::test_event(&p, "go"), crate::test_event(&p, "stop"));
        let t0: Instant = 1_799_056_800;
        let mut engine = Engine::new(p.clone(), Config::default(), t0);
        engine.event("a", go, Vec::new(), t0);
        let c = engine.customer_ix("a").expect("customer");
        let j = JourneyId::from_u32(0);
        // The timers the first instance holds: its body's wait and its timeline's next entry.
        let held = |e: &Engine| {
            let i = e.instance(c, j).expect("instance");
            let ThreadState::Sleeping(wait) = i.threads[0].state else {
                panic!("the body waits: {:?}", i.threads[0].state);
            };
            (wait, i.timeline_timer.expect("timeline timer"), i.epoch)
        };
        let (old_wait, old_timeline, old_epoch) = held(&engine);
        engine.event("a", stop, Vec::new(), t0 + 60);
        engine.event("a", go, Vec::new(), t0 + 120);
        let (new_wait, new_timeline, new_epoch) = held(&engine);
        assert_ne!(new_epoch, old_epoch, "a new instance");
        let _ = engine.drain_effects();
        // The old timers fire as if they had not been cancelled.
        engine.fire(old_wait, TimerKey::new(c, Some(j), TimerKind::Resume(0)));
        engine.fire(
            old_timeline,
            TimerKey::new(c, Some(j), TimerKind::Timeline(0)),
        );
        assert!(engine.drain_effects().is_empty(), "no send, no exit");
        assert_eq!(held(&engine), (new_wait, new_timeline, new_epoch));
        // The new instance's own timers run it as usual.
        engine.advance_to(t0 + 120 + 8 * 86_400);
        let sends: Vec<String> = engine
            .drain_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(s) => Some(s.parts[0].1.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(sends, ["timeline", "a week later"]);
    }
}
