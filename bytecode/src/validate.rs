//! Checks that a program is internally consistent.
//!
//! [`validate`] goes over every field of every table and every instruction. Once it has
//! accepted a program, the runtime may index any table with any id, property index, arm
//! index or code position found in the program without a bounds panic, and may step to the
//! next instruction after any non-terminator (the code never runs off its end). It also
//! checks the invariants that the runtime would otherwise have to re-check on each use:
//! calendar values are real dates and times, built-ins get their arity, waits wait for a
//! duration constant, experiment weights add up to 100 %, and names that the outside world
//! uses to address things (events, attributes, journeys, ...) are unique.
//!
//! It also follows the control flow from each entry point: expression functions (conditions,
//! filters, interpolations, eligibility) reach only value and control instructions and end
//! in `return`; journey bodies and timeline entries never reach `return`. Segment conditions
//! read only the segments listed in their `uses_segments`, and that graph has no cycle, so
//! evaluating a segment terminates.
//!
//! It does not check stack discipline (that each function leaves exactly one value): the
//! runtime's stack operations must still fail gracefully on underflow.

use std::collections::HashMap;
use std::fmt::Display;

use cranelift_entity::{EntityRef, PrimaryMap};

use crate::ids::*;
use crate::insn::Insn;
use crate::program::*;
use crate::value::{Const, Date, TimeOfDay};

/// The total of an experiment's variant weights and holdout, in basis points.
pub const TOTAL_BASIS_POINTS: u64 = 10_000;

/// What is inconsistent in a program, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `locs` does not have one location per instruction.
    #[error(
        "the code has {code} instructions but {locs} source locations; \
         there must be one location per instruction"
    )]
    LocsMismatch {
        /// `code.len()`.
        code: usize,
        /// `locs.len()`.
        locs: usize,
    },
    /// An entity id past the end of its table.
    #[error("{at} refers to {target}, which does not exist")]
    DanglingId {
        /// Where the reference is (`step7 (send_welcome)`, `instruction 0042 (send)`).
        at: String,
        /// The missing entity (`journey9`).
        target: String,
    },
    /// A code position past the end of the code.
    #[error("{at} refers to pc {pc}, past the end of the code ({len} instructions)")]
    PcOutOfRange {
        /// Where the reference is.
        at: String,
        /// The position.
        pc: Pc,
        /// `code.len()`.
        len: usize,
    },
    /// An index into a list of an entity (a property, an arm, a variant) out of range.
    #[error("{at} uses {what} {index} of {owner}, which has only {len}")]
    IndexOutOfRange {
        /// Where the index is.
        at: String,
        /// What is indexed (`property`, `arm`, ...).
        what: &'static str,
        /// The index.
        index: u64,
        /// The entity whose list it indexes (`event2 (purchase)`).
        owner: String,
        /// The length of that list.
        len: usize,
    },
    /// An experiment's weights do not add up to 10 000 basis points.
    #[error(
        "{at}: variant weights ({variants} bp) plus holdout ({holdout} bp) make {total} basis \
         points; they must make exactly 10000 (100 %)"
    )]
    BadWeights {
        /// The experiment.
        at: String,
        /// Sum of the variants' weights.
        variants: u64,
        /// Holdout weight.
        holdout: u32,
        /// The total.
        total: u64,
    },
    /// Two entities of a table, or two properties or parameters of one entity, share a name.
    #[error("{first} and {second} are both named `{name}`")]
    DuplicateName {
        /// The first one.
        first: String,
        /// The second one.
        second: String,
        /// The name.
        name: String,
    },
    /// Any other inconsistency (an invalid date, a wrong constant kind, a wrong arity, ...).
    #[error("{at}: {problem}")]
    Inconsistent {
        /// Where.
        at: String,
        /// What is wrong.
        problem: String,
    },
}

type Result<T = (), E = ValidationError> = std::result::Result<T, E>;

/// The most journeys a program has: the runtime names a journey in 16 bits in each pending
/// timer, one value kept for timers of no journey.
pub const MAX_JOURNEYS: usize = u16::MAX as usize;

/// The most timeline entries a journey has: the runtime packs an entry's index (and the
/// index of a thread, at most one per entry besides the body) into 13 bits of a pending
/// timer, one value kept for the end of the lifetime.
pub const MAX_TIMELINE_ENTRIES: usize = (1 << 13) - 2;

/// The most entry clauses a journey has (`entry on ...`, schedules): a scheduled entry's
/// timer names its clause in 13 bits.
pub const MAX_ENTRY_CLAUSES: usize = 1 << 13;

/// Check that every reference of a program is in range and that its invariants hold.
///
/// Returns the first problem found, in table order, then code order.
pub fn validate(program: &Program) -> Result {
    let v = Validator { p: program };
    v.code_shape()?;
    v.meta()?;
    v.consts()?;
    v.attributes()?;
    v.events()?;
    v.aggregates()?;
    v.segments()?;
    v.channels()?;
    v.templates()?;
    v.offers()?;
    v.policies()?;
    v.journeys()?;
    v.steps()?;
    v.sends()?;
    v.emits()?;
    v.waits()?;
    v.experiments()?;
    v.goals()?;
    v.tests()?;
    v.instructions()?;
    v.flow()?;
    v.segment_graph()
}

/// The entry points of a program's expression functions (conditions, filters, consent,
/// eligibility, interpolations), each once, in the order [`validate`] checks them. Each runs
/// value and control instructions only and ends in `return` once the program is valid; the
/// runtime turns them into expression trees when it loads the program.
pub fn expression_entries(program: &Program) -> Vec<Pc> {
    let mut seen = std::collections::HashSet::new();
    Validator { p: program }
        .entry_points()
        .into_iter()
        .filter(|(pc, flow, ..)| *flow == Flow::Expr && seen.insert(*pc))
        .map(|(pc, ..)| pc)
        .collect()
}

struct Validator<'p> {
    p: &'p Program,
}

/// What runs from an entry point.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// An expression function: values and control only, ends in `return`.
    Expr,
    /// A journey body or timeline entry: effects allowed, ends in `end` or `exit`.
    Body,
}

/// Something with a display name, for messages and listings: `seg3 (jeune)`.
pub(crate) trait Named {
    /// The name.
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
        }
    )*};
}

named!(
    AttrDef,
    EventDef,
    SegmentDef,
    ChannelDef,
    TemplateDef,
    OfferDef,
    PolicyDef,
    JourneyDef,
    StepDef,
    ExperimentDef,
    GoalDef,
    TestDef,
    PropDef,
    ParamDef
);

/// `seg3 (jeune)`, or just `seg3` when it does not exist.
fn label<K: EntityRef + Display, V: Named>(map: &PrimaryMap<K, V>, k: K) -> String {
    match map.get(k) {
        Some(v) => format!("{k} ({})", v.name()),
        None => k.to_string(),
    }
}

fn inconsistent(at: impl Into<String>, problem: impl Into<String>) -> ValidationError {
    ValidationError::Inconsistent {
        at: at.into(),
        problem: problem.into(),
    }
}

impl<'p> Validator<'p> {
    // ---- primitive checks

    fn id<K: EntityRef + Display, V>(
        &self,
        map: &PrimaryMap<K, V>,
        k: K,
        at: impl FnOnce() -> String,
    ) -> Result {
        if map.get(k).is_some() {
            Ok(())
        } else {
            Err(ValidationError::DanglingId {
                at: at(),
                target: k.to_string(),
            })
        }
    }

    fn ids<K: EntityRef + Display, V>(
        &self,
        map: &PrimaryMap<K, V>,
        ks: &[K],
        at: impl Fn() -> String,
    ) -> Result {
        ks.iter().try_for_each(|&k| self.id(map, k, &at))
    }

    fn pc(&self, pc: Pc, at: impl FnOnce() -> String) -> Result {
        if (pc as usize) < self.p.code.len() {
            Ok(())
        } else {
            Err(ValidationError::PcOutOfRange {
                at: at(),
                pc,
                len: self.p.code.len(),
            })
        }
    }

    fn opt_pc(&self, pc: Option<Pc>, at: impl FnOnce() -> String) -> Result {
        pc.map_or(Ok(()), |pc| self.pc(pc, at))
    }

    fn index(
        &self,
        index: u64,
        len: usize,
        what: &'static str,
        owner: impl FnOnce() -> String,
        at: impl FnOnce() -> String,
    ) -> Result {
        if index < len as u64 {
            Ok(())
        } else {
            Err(ValidationError::IndexOutOfRange {
                at: at(),
                what,
                index,
                owner: owner(),
                len,
            })
        }
    }

    fn loc(&self, loc: &Loc, at: impl FnOnce() -> String) -> Result {
        if (loc.file as usize) >= self.p.files.len() {
            return Err(ValidationError::DanglingId {
                at: format!("the location of {}", at()),
                target: format!("file{}", loc.file),
            });
        }
        if loc.start > loc.end {
            return Err(inconsistent(
                format!("the location of {}", at()),
                format!("its range {}..{} is reversed", loc.start, loc.end),
            ));
        }
        Ok(())
    }

    fn date(&self, date: Date, at: impl FnOnce() -> String) -> Result {
        if date.is_valid() {
            Ok(())
        } else {
            Err(inconsistent(
                at(),
                format!(
                    "{:04}-{:02}-{:02} is not a valid date",
                    date.year, date.month, date.day
                ),
            ))
        }
    }

    fn time(&self, time: TimeOfDay, at: impl FnOnce() -> String) -> Result {
        if time.is_valid() {
            Ok(())
        } else {
            Err(inconsistent(
                at(),
                format!(
                    "{:02}:{:02} is not a valid time of day",
                    time.hour, time.minute
                ),
            ))
        }
    }

    fn civil(&self, civil: Civil, at: impl Fn() -> String) -> Result {
        self.date(civil.date, &at)?;
        self.time(civil.time, &at)
    }

    fn opt_civil(&self, civil: Option<Civil>, at: impl Fn() -> String) -> Result {
        civil.map_or(Ok(()), |c| self.civil(c, at))
    }

    /// Names of `items` are unique; `what(i)` names the i-th.
    fn unique<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
        what: impl Fn(usize) -> String,
    ) -> Result {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.into_iter().enumerate() {
            if let Some(&first) = seen.get(name) {
                return Err(ValidationError::DuplicateName {
                    first: what(first),
                    second: what(i),
                    name: name.to_owned(),
                });
            }
            seen.insert(name, i);
        }
        Ok(())
    }

    fn unique_entities<K: EntityRef + Display, V: Named>(&self, map: &PrimaryMap<K, V>) -> Result {
        self.unique(map.values().map(|v| v.name()), |i| K::new(i).to_string())
    }

    fn text(&self, text: &TextDef, at: impl Fn() -> String) -> Result {
        for (i, piece) in text.pieces.iter().enumerate() {
            if let Piece::Expr(pc) = piece {
                self.pc(*pc, || format!("{} part `{}` piece {i}", at(), text.name))?;
            }
        }
        Ok(())
    }

    fn message(&self, message: &MessageRef, at: impl Fn() -> String) -> Result {
        match message {
            MessageRef::Template(t) => self.id(&self.p.templates, *t, at),
            MessageRef::External(_) => Ok(()),
            MessageRef::Inline(text) => self.text(text, || format!("{} inline message", at())),
        }
    }

    fn event_prop(&self, event: EventId, prop: u16, at: impl FnOnce() -> String) -> Result {
        let len = self.p.events.get(event).map_or(0, |e| e.props.len());
        self.index(
            prop.into(),
            len,
            "property",
            || label(&self.p.events, event),
            at,
        )
    }

    fn step_arm(&self, step: StepId, arm: u16, at: impl FnOnce() -> String) -> Result {
        let len = self.p.steps.get(step).map_or(0, |s| s.arms.len());
        self.index(arm.into(), len, "arm", || label(&self.p.steps, step), at)
    }

    // ---- tables

    fn code_shape(&self) -> Result {
        let p = self.p;
        if p.code.len() != p.locs.len() {
            return Err(ValidationError::LocsMismatch {
                code: p.code.len(),
                locs: p.locs.len(),
            });
        }
        if p.code.len() > u32::MAX as usize {
            return Err(inconsistent(
                "the code",
                format!("{} instructions do not fit 32-bit positions", p.code.len()),
            ));
        }
        for (pc, loc) in p.locs.iter().enumerate() {
            self.loc(loc, || format!("instruction {pc:04}"))?;
        }
        if let Some(last) = p.code.last()
            && !last.is_terminator()
        {
            return Err(inconsistent(
                format!("instruction {:04} ({})", p.code.len() - 1, last.mnemonic()),
                "the code ends with an instruction that continues to the next one; \
                 it must end with return, end, exit, jump or split",
            ));
        }
        Ok(())
    }

    fn meta(&self) -> Result {
        if let Some(attr) = self.p.meta.timezone_attr {
            self.id(&self.p.attributes, attr, || {
                "the time zone attribute of the project".to_owned()
            })?;
        }
        Ok(())
    }

    fn consts(&self) -> Result {
        fn check(v: &Validator<'_>, c: &Const, at: &dyn Fn() -> String) -> Result {
            match c {
                Const::Date(d) => v.date(*d, at),
                Const::Timestamp(d, t) => {
                    v.date(*d, at)?;
                    v.time(*t, at)
                }
                Const::List(items) => items.iter().try_for_each(|c| check(v, c, at)),
                Const::Number(_)
                | Const::String(_)
                | Const::Bool(_)
                | Const::Duration(_)
                | Const::None => Ok(()),
            }
        }
        for (id, c) in self.p.consts.iter() {
            check(self, c, &|| id.to_string())?;
        }
        Ok(())
    }

    fn attributes(&self) -> Result {
        let p = self.p;
        for (id, attr) in p.attributes.iter() {
            if let Some(c) = attr.default {
                self.id(&p.consts, c, || {
                    format!("the default of {}", label(&p.attributes, id))
                })?;
            }
        }
        self.unique_entities(&p.attributes)
    }

    fn events(&self) -> Result {
        let p = self.p;
        for (id, event) in p.events.iter() {
            if event.props.len() > usize::from(u16::MAX) + 1 {
                return Err(inconsistent(
                    label(&p.events, id),
                    format!("{} properties do not fit 16-bit indexes", event.props.len()),
                ));
            }
            self.unique(event.props.iter().map(|prop| prop.name.as_str()), |i| {
                format!("property {i} of {}", label(&p.events, id))
            })?;
        }
        self.unique_entities(&p.events)
    }

    fn aggregates(&self) -> Result {
        let p = self.p;
        // A customer's occurrence logs are numbered by 16-bit indexes, one value kept
        // for "none" (the runtime groups aggregates, so there are no more logs than them).
        if p.aggregates.len() >= usize::from(u16::MAX) {
            return Err(inconsistent(
                "aggregates",
                format!(
                    "{} aggregates do not fit 16-bit log indexes (at most {})",
                    p.aggregates.len(),
                    u16::MAX - 1
                ),
            ));
        }
        for (id, agg) in p.aggregates.iter() {
            let at = || id.to_string();
            self.id(&p.events, agg.event, at)?;
            match agg.prop {
                Some(prop) => self.event_prop(agg.event, prop, at)?,
                None if agg.func != AggFn::Count => {
                    return Err(inconsistent(
                        at(),
                        format!("`{}` needs a property of {}", agg.func.name(), agg.event),
                    ));
                }
                None => {}
            }
            self.opt_pc(agg.filter, || format!("the filter of {id}"))?;
        }
        Ok(())
    }

    fn segments(&self) -> Result {
        let p = self.p;
        for (id, seg) in p.segments.iter() {
            let at = || label(&p.segments, id);
            self.pc(seg.condition, || format!("the condition of {}", at()))?;
            self.ids(&p.segments, &seg.uses_segments, at)?;
            self.ids(&p.aggregates, &seg.uses_aggregates, at)?;
            self.ids(&p.attributes, &seg.uses_attributes, at)?;
            self.loc(&seg.loc, at)?;
        }
        self.unique_entities(&p.segments)
    }

    fn channels(&self) -> Result {
        let p = self.p;
        for (id, chan) in p.channels.iter() {
            let at = || label(&p.channels, id);
            for (key, value) in &chan.config {
                if let ConfigValue::Const(c) = value {
                    self.id(&p.consts, *c, || format!("setting `{key}` of {}", at()))?;
                }
            }
            self.unique(chan.config.iter().map(|(k, _)| k.as_str()), |i| {
                format!("setting {i} of {}", at())
            })?;
            self.unique(chan.params.iter().map(|prm| prm.name.as_str()), |i| {
                format!("parameter {i} of {}", at())
            })?;
            self.opt_pc(chan.consent, || {
                format!("the consent condition of {}", at())
            })?;
            self.loc(&chan.loc, at)?;
        }
        self.unique_entities(&p.channels)
    }

    fn templates(&self) -> Result {
        let p = self.p;
        for (id, tpl) in p.templates.iter() {
            let at = || label(&p.templates, id);
            self.id(&p.channels, tpl.channel, at)?;
            for part in &tpl.parts {
                self.text(part, at)?;
            }
            self.unique(tpl.parts.iter().map(|part| part.name.as_str()), |i| {
                format!("part {i} of {}", at())
            })?;
        }
        self.unique_entities(&p.templates)
    }

    fn offers(&self) -> Result {
        let p = self.p;
        for (id, offer) in p.offers.iter() {
            let at = || label(&p.offers, id);
            self.opt_pc(offer.eligible, || format!("the eligibility of {}", at()))?;
            if let Some(d) = offer.valid_from {
                self.date(d, || format!("the start of validity of {}", at()))?;
            }
            if let Some(d) = offer.valid_until {
                self.date(d, || format!("the end of validity of {}", at()))?;
            }
            self.loc(&offer.loc, at)?;
        }
        self.unique_entities(&p.offers)
    }

    fn policies(&self) -> Result {
        let p = self.p;
        for (id, policy) in p.policies.iter() {
            let at = || label(&p.policies, id);
            for (i, cap) in policy.caps.iter().enumerate() {
                let at = || format!("cap {i} of {}", at());
                if let Some(c) = cap.channel {
                    self.id(&p.channels, c, at)?;
                }
                self.loc(&cap.loc, at)?;
            }
            for (i, quiet) in policy.quiet.iter().enumerate() {
                let at = || format!("quiet hours {i} of {}", at());
                self.time(quiet.from, at)?;
                self.time(quiet.to, at)?;
                self.ids(&p.channels, &quiet.channels, at)?;
                self.loc(&quiet.loc, at)?;
            }
            self.ids(&p.journeys, &policy.priority, || {
                format!("the priority list of {}", at())
            })?;
            self.ids(&p.journeys, &policy.exempt, || {
                format!("the exemptions of {}", at())
            })?;
        }
        self.unique_entities(&p.policies)
    }

    fn journeys(&self) -> Result {
        let p = self.p;
        if p.journeys.len() > MAX_JOURNEYS {
            return Err(inconsistent(
                "journeys",
                format!(
                    "{} journeys are more than the runtime's timers can name (at most {MAX_JOURNEYS})",
                    p.journeys.len()
                ),
            ));
        }
        for (id, journey) in p.journeys.iter() {
            let at = || label(&p.journeys, id);
            if journey.entries.len() > MAX_ENTRY_CLAUSES {
                return Err(inconsistent(
                    at(),
                    format!(
                        "{} entry clauses are more than the runtime's timers can name (at most {MAX_ENTRY_CLAUSES})",
                        journey.entries.len()
                    ),
                ));
            }
            for (i, entry) in journey.entries.iter().enumerate() {
                let at = || format!("entry {i} of {}", at());
                match &entry.trigger {
                    Trigger::Event(e) => self.id(&p.events, *e, at)?,
                    Trigger::SegmentEnter(s) | Trigger::SegmentLeave(s) => {
                        self.id(&p.segments, *s, at)?
                    }
                    Trigger::Yearly { attr, at: time } => {
                        self.id(&p.attributes, *attr, at)?;
                        self.time(*time, at)?;
                    }
                    Trigger::Monthly { day, at: time } => {
                        if !(1..=31).contains(day) {
                            return Err(inconsistent(
                                at(),
                                format!("day {day} of the month is not in 1..=31"),
                            ));
                        }
                        self.time(*time, at)?;
                    }
                    Trigger::Weekly { weekday, at: time } => {
                        if *weekday > 6 {
                            return Err(inconsistent(
                                at(),
                                format!("weekday {weekday} is not in 0 (Monday)..=6 (Sunday)"),
                            ));
                        }
                        self.time(*time, at)?;
                    }
                    Trigger::Daily { at: time } => self.time(*time, at)?,
                    Trigger::Api => {}
                }
                self.opt_pc(entry.condition, || format!("the condition of {}", at()))?;
                self.loc(&entry.loc, at)?;
            }
            for (i, exit) in journey.exits.iter().enumerate() {
                let at = || format!("exit {i} of {}", at());
                match exit {
                    ExitDef::Event {
                        event,
                        condition,
                        loc,
                    } => {
                        self.id(&p.events, *event, at)?;
                        self.opt_pc(*condition, || format!("the condition of {}", at()))?;
                        self.loc(loc, at)?;
                    }
                    ExitDef::When { condition, loc } => {
                        self.pc(*condition, || format!("the condition of {}", at()))?;
                        self.loc(loc, at)?;
                    }
                }
            }
            self.pc(journey.body, || format!("the body of {}", at()))?;
            // The runtime numbers an instance's timeline entries in 13 bits of its timers
            // and keeps one value apart (the end of the lifetime).
            if journey.timeline.len() > MAX_TIMELINE_ENTRIES {
                return Err(inconsistent(
                    at(),
                    format!(
                        "{} timeline entries are more than the runtime's timers can name (at most {MAX_TIMELINE_ENTRIES})",
                        journey.timeline.len(),
                    ),
                ));
            }
            for (i, entry) in journey.timeline.iter().enumerate() {
                let at = || format!("timeline entry {i} of {}", at());
                if let Some(time) = entry.at {
                    self.time(time, at)?;
                }
                self.pc(entry.code, at)?;
                self.loc(&entry.loc, at)?;
            }
            self.ids(&p.events, &journey.entry_events, || {
                format!("the entry events of {}", at())
            })?;
            journey.kept_events.iter().try_for_each(|k| {
                self.id(&p.events, k.event, || {
                    format!("the events kept by {}", at())
                })
            })?;
            self.loc(&journey.loc, at)?;
        }
        self.unique_entities(&p.journeys)
    }

    fn steps(&self) -> Result {
        let p = self.p;
        let mut keys: HashMap<(JourneyId, u64), StepId> = HashMap::new();
        for (id, step) in p.steps.iter() {
            let at = || label(&p.steps, id);
            self.id(&p.journeys, step.journey, at)?;
            self.loc(&step.loc, at)?;
            if step.arms.len() > usize::from(u16::MAX) + 1 {
                return Err(inconsistent(
                    at(),
                    format!("{} arms do not fit 16-bit indexes", step.arms.len()),
                ));
            }
            if let Some(first) = keys.insert((step.journey, step.key), id) {
                return Err(inconsistent(
                    at(),
                    format!(
                        "it has the same key {:016x} as {} in {}; step keys must be unique \
                         within a journey",
                        step.key,
                        label(&p.steps, first),
                        label(&p.journeys, step.journey)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn sends(&self) -> Result {
        let p = self.p;
        for (id, send) in p.sends.iter() {
            let at = || id.to_string();
            self.id(&p.steps, send.step, at)?;
            self.id(&p.channels, send.channel, at)?;
            self.message(&send.message, at)?;
            if let Some(chan) = p.channels.get(send.channel) {
                for name in &send.params {
                    if !chan.params.iter().any(|prm| &prm.name == name) {
                        return Err(inconsistent(
                            at(),
                            format!(
                                "parameter `{name}` is not declared by {}",
                                label(&p.channels, send.channel)
                            ),
                        ));
                    }
                }
            }
            self.unique(send.params.iter().map(String::as_str), |i| {
                format!("parameter {i} of {id}")
            })?;
            match &send.offer {
                OfferSel::None => {}
                OfferSel::Best(offers) => self.ids(&p.offers, offers, at)?,
                OfferSel::Named(offer) => self.id(&p.offers, *offer, at)?,
            }
        }
        Ok(())
    }

    fn emits(&self) -> Result {
        let p = self.p;
        for (id, emit) in p.emits.iter() {
            let at = || id.to_string();
            self.id(&p.steps, emit.step, at)?;
            self.id(&p.events, emit.event, at)?;
            for &prop in &emit.props {
                self.event_prop(emit.event, prop, at)?;
            }
            let mut seen = emit.props.clone();
            seen.sort_unstable();
            if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                return Err(inconsistent(
                    at(),
                    format!("it sets property {} twice", w[0]),
                ));
            }
        }
        Ok(())
    }

    fn waits(&self) -> Result {
        let p = self.p;
        for (id, wait) in p.waits.iter() {
            let at = || id.to_string();
            self.id(&p.steps, wait.step, at)?;
            self.id(&p.events, wait.event, at)?;
            self.opt_pc(wait.filter, || format!("the filter of {id}"))?;
            self.pc(wait.on_timeout, || format!("the timeout branch of {id}"))?;
        }
        Ok(())
    }

    fn experiments(&self) -> Result {
        let p = self.p;
        for (id, exp) in p.experiments.iter() {
            let at = || label(&p.experiments, id);
            self.id(&p.steps, exp.step, at)?;
            for (i, variant) in exp.variants.iter().enumerate() {
                self.pc(variant.target, || {
                    format!("variant {i} (`{}`) of {}", variant.name, at())
                })?;
            }
            self.pc(exp.after, || format!("the holdout branch of {}", at()))?;
            if exp.variants.len() > usize::from(u16::MAX) {
                return Err(inconsistent(
                    at(),
                    format!("{} variants do not fit 16-bit indexes", exp.variants.len()),
                ));
            }
            let variants: u64 = exp.variants.iter().map(|v| u64::from(v.weight_bp)).sum();
            let total = variants + u64::from(exp.holdout_bp);
            if total != TOTAL_BASIS_POINTS {
                return Err(ValidationError::BadWeights {
                    at: at(),
                    variants,
                    holdout: exp.holdout_bp,
                    total,
                });
            }
            self.unique(exp.variants.iter().map(|v| v.name.as_str()), |i| {
                format!("variant {i} of {}", at())
            })?;
        }
        Ok(())
    }

    fn goals(&self) -> Result {
        let p = self.p;
        for (id, goal) in p.goals.iter() {
            let at = || label(&p.goals, id);
            self.id(&p.journeys, goal.journey, at)?;
            self.id(&p.events, goal.event, at)?;
            self.opt_pc(goal.condition, || format!("the condition of {}", at()))?;
            if let Some(step) = goal.after {
                self.id(&p.steps, step, at)?;
                if let Some(s) = p.steps.get(step)
                    && s.journey != goal.journey
                {
                    return Err(inconsistent(
                        at(),
                        format!(
                            "it opens after {}, which belongs to {}, not to {}",
                            label(&p.steps, step),
                            label(&p.journeys, s.journey),
                            label(&p.journeys, goal.journey)
                        ),
                    ));
                }
            }
            self.loc(&goal.loc, at)?;
        }
        Ok(())
    }

    fn tests(&self) -> Result {
        let p = self.p;
        for (id, test) in p.tests.iter() {
            let at = || label(&p.tests, id);
            for (attr, value) in &test.profile {
                let at = || format!("the profile of {}", at());
                self.id(&p.attributes, *attr, at)?;
                self.id(&p.consts, *value, at)?;
            }
            for (i, step) in test.steps.iter().enumerate() {
                let at = || format!("line {i} of {}", at());
                match step {
                    TestStep::Event {
                        at: t,
                        event,
                        props,
                    } => {
                        self.civil(*t, at)?;
                        self.id(&p.events, *event, at)?;
                        for (prop, value) in props {
                            self.event_prop(*event, *prop, at)?;
                            self.id(&p.consts, *value, at)?;
                        }
                    }
                    TestStep::Set { at: t, attr, value } => {
                        self.civil(*t, at)?;
                        self.id(&p.attributes, *attr, at)?;
                        self.id(&p.consts, *value, at)?;
                    }
                    TestStep::Enter { at: t, journey } => {
                        self.civil(*t, at)?;
                        self.id(&p.journeys, *journey, at)?;
                    }
                    TestStep::RunUntil(t) => self.civil(*t, at)?,
                    TestStep::Expect(expect, loc) => {
                        self.expect(expect, at)?;
                        self.loc(loc, at)?;
                    }
                }
            }
            self.loc(&test.loc, at)?;
        }
        Ok(())
    }

    fn expect(&self, expect: &Expect, at: impl Fn() -> String) -> Result {
        let p = self.p;
        match expect {
            Expect::Send {
                positive: _,
                channel,
                message,
                at: t,
            } => {
                self.id(&p.channels, *channel, &at)?;
                if let Some(m) = message {
                    self.message(m, &at)?;
                }
                self.opt_civil(*t, at)
            }
            Expect::Reached {
                positive: _,
                step,
                at: t,
            } => {
                self.id(&p.steps, *step, &at)?;
                self.opt_civil(*t, at)
            }
            Expect::Goal {
                positive: _,
                goal,
                at: t,
            } => {
                self.id(&p.goals, *goal, &at)?;
                self.opt_civil(*t, at)
            }
            Expect::Exit { journey, at: t } | Expect::Entered { journey, at: t, .. } => {
                self.id(&p.journeys, *journey, &at)?;
                self.opt_civil(*t, at)
            }
            Expect::Scenario { step, arm } => {
                self.id(&p.steps, *step, &at)?;
                self.step_arm(*step, *arm, at)
            }
            Expect::Variant {
                experiment,
                variant,
            } => {
                self.id(&p.experiments, *experiment, &at)?;
                // `variants.len()` is the holdout.
                let len = p
                    .experiments
                    .get(*experiment)
                    .map_or(0, |e| e.variants.len() + 1);
                self.index(
                    (*variant).into(),
                    len,
                    "variant (counting the holdout)",
                    || label(&p.experiments, *experiment),
                    at,
                )
            }
            Expect::Emit { event, at: t } => {
                self.id(&p.events, *event, &at)?;
                self.opt_civil(*t, at)
            }
        }
    }

    // ---- code

    fn instructions(&self) -> Result {
        let p = self.p;
        for (pc, insn) in p.code.iter().enumerate() {
            let at = || {
                let loc = p
                    .locs
                    .get(pc)
                    .and_then(|l| {
                        let file = p.files.as_values_slice().get(l.file as usize)?;
                        Some(format!(", {}:{}:{}", file.path, l.line, l.col))
                    })
                    .unwrap_or_default();
                format!("instruction {pc:04} ({}{loc})", insn.mnemonic())
            };
            match *insn {
                Insn::Const(c) => self.id(&p.consts, c, at)?,
                Insn::Attr(a) => self.id(&p.attributes, a, at)?,
                Insn::EventProp(e, i) => {
                    self.id(&p.events, e, at)?;
                    self.event_prop(e, i, at)?;
                }
                Insn::OfferField(c) => {
                    self.id(&p.consts, c, at)?;
                    if !matches!(p.consts.get(c), Some(Const::String(_))) {
                        return Err(inconsistent(
                            at(),
                            format!("the field name {c} is not a string constant"),
                        ));
                    }
                }
                Insn::Segment(s) => self.id(&p.segments, s, at)?,
                Insn::Aggregate(g) => self.id(&p.aggregates, g, at)?,
                Insn::Now
                | Insn::Not
                | Insn::Neg
                | Insn::Bin(_)
                | Insn::MakeList(_)
                | Insn::ToText
                | Insn::Pop
                | Insn::Return
                | Insn::End => {}
                Insn::Call(builtin, n) => {
                    if n != builtin.arity() {
                        return Err(inconsistent(
                            at(),
                            format!(
                                "`{}` takes {} argument(s), not {n}",
                                builtin.name(),
                                builtin.arity()
                            ),
                        ));
                    }
                }
                Insn::Jump(t)
                | Insn::JumpIfFalse(t)
                | Insn::JumpIfFalseOrPop(t)
                | Insn::JumpIfTrueOrPop(t) => self.pc(t, at)?,
                Insn::Branch(s, arm) => {
                    self.id(&p.steps, s, at)?;
                    self.step_arm(s, arm, at)?;
                }
                Insn::Critical(s) | Insn::WaitMonths(s, _) | Insn::Exit(s) => {
                    self.id(&p.steps, s, at)?
                }
                Insn::Send(s) => self.id(&p.sends, s, at)?,
                Insn::Wait(s, c) => {
                    self.id(&p.steps, s, at)?;
                    self.id(&p.consts, c, at)?;
                    match p.consts.get(c) {
                        Some(Const::Duration(secs)) if *secs >= 0 => {}
                        _ => {
                            return Err(inconsistent(
                                at(),
                                format!("{c} is not a non-negative duration constant"),
                            ));
                        }
                    }
                }
                Insn::WaitUntil(s, weekday, time) => {
                    self.id(&p.steps, s, at)?;
                    if weekday > 7 {
                        return Err(inconsistent(
                            at(),
                            format!(
                                "weekday {weekday} is not in 0 (Monday)..=6 (Sunday) or 7 (any)"
                            ),
                        ));
                    }
                    self.time(time, at)?;
                }
                Insn::WaitEvent(w) => self.id(&p.waits, w, at)?,
                Insn::Set(s, a) => {
                    self.id(&p.steps, s, at)?;
                    self.id(&p.attributes, a, at)?;
                }
                Insn::Emit(e) => self.id(&p.emits, e, at)?,
                Insn::Split(x) => self.id(&p.experiments, x, at)?,
                Insn::OpenGoal(g) => self.id(&p.goals, g, at)?,
            }
        }
        Ok(())
    }
}

impl Validator<'_> {
    /// The entry points of the code, with what runs there and a description.
    fn entry_points(&self) -> Vec<(Pc, Flow, String, Option<SegmentId>)> {
        let p = self.p;
        let mut out = Vec::new();
        let text = |out: &mut Vec<_>, owner: String, text: &TextDef| {
            for (i, piece) in text.pieces.iter().enumerate() {
                if let Piece::Expr(pc) = piece {
                    out.push((
                        *pc,
                        Flow::Expr,
                        format!("piece {i} of part `{}` of {owner}", text.name),
                        None,
                    ));
                }
            }
        };
        for (id, agg) in p.aggregates.iter() {
            if let Some(pc) = agg.filter {
                out.push((pc, Flow::Expr, format!("the filter of {id}"), None));
            }
        }
        for (id, seg) in p.segments.iter() {
            out.push((
                seg.condition,
                Flow::Expr,
                format!("the condition of {}", label(&p.segments, id)),
                Some(id),
            ));
        }
        for (id, chan) in p.channels.iter() {
            if let Some(pc) = chan.consent {
                out.push((
                    pc,
                    Flow::Expr,
                    format!("the consent condition of {}", label(&p.channels, id)),
                    None,
                ));
            }
        }
        for (id, tpl) in p.templates.iter() {
            for part in &tpl.parts {
                text(&mut out, label(&p.templates, id), part);
            }
        }
        for (id, offer) in p.offers.iter() {
            if let Some(pc) = offer.eligible {
                out.push((
                    pc,
                    Flow::Expr,
                    format!("the eligibility of {}", label(&p.offers, id)),
                    None,
                ));
            }
        }
        for (id, j) in p.journeys.iter() {
            let name = label(&p.journeys, id);
            for (i, entry) in j.entries.iter().enumerate() {
                if let Some(pc) = entry.condition {
                    out.push((
                        pc,
                        Flow::Expr,
                        format!("the condition of entry {i} of {name}"),
                        None,
                    ));
                }
            }
            for (i, exit) in j.exits.iter().enumerate() {
                let condition = match exit {
                    ExitDef::Event { condition, .. } => *condition,
                    ExitDef::When { condition, .. } => Some(*condition),
                };
                if let Some(pc) = condition {
                    out.push((
                        pc,
                        Flow::Expr,
                        format!("the condition of exit {i} of {name}"),
                        None,
                    ));
                }
            }
            out.push((j.body, Flow::Body, format!("the body of {name}"), None));
            for (i, t) in j.timeline.iter().enumerate() {
                out.push((
                    t.code,
                    Flow::Body,
                    format!("timeline entry {i} of {name}"),
                    None,
                ));
            }
        }
        for (id, send) in p.sends.iter() {
            if let MessageRef::Inline(t) = &send.message {
                text(&mut out, format!("the inline message of {id}"), t);
            }
        }
        for (id, wait) in p.waits.iter() {
            if let Some(pc) = wait.filter {
                out.push((pc, Flow::Expr, format!("the filter of {id}"), None));
            }
        }
        for (id, goal) in p.goals.iter() {
            if let Some(pc) = goal.condition {
                out.push((
                    pc,
                    Flow::Expr,
                    format!("the condition of {}", label(&p.goals, id)),
                    None,
                ));
            }
        }
        for (id, test) in p.tests.iter() {
            for step in &test.steps {
                if let TestStep::Expect(
                    Expect::Send {
                        message: Some(MessageRef::Inline(t)),
                        ..
                    },
                    _,
                ) = step
                {
                    text(
                        &mut out,
                        format!("an expected message of {}", label(&p.tests, id)),
                        t,
                    );
                }
            }
        }
        out
    }

    /// Follow the control flow from each entry point and check what it reaches.
    fn flow(&self) -> Result {
        let p = self.p;
        // `seen[pc] == generation` when visited by the current walk.
        let mut seen = vec![0u32; p.code.len()];
        let mut stack = Vec::new();
        let mut next = Vec::new();
        for (generation, (entry, flow, what, segment)) in (1u32..).zip(self.entry_points()) {
            let uses = segment
                .and_then(|s| p.segments.get(s))
                .map(|seg| seg.uses_segments.as_slice());
            stack.clear();
            stack.push(entry as usize);
            while let Some(pc) = stack.pop() {
                let (Some(insn), Some(mark)) = (p.code.get(pc), seen.get_mut(pc)) else {
                    return Err(ValidationError::PcOutOfRange {
                        at: format!("the code reachable from {what}"),
                        pc: Pc::try_from(pc).unwrap_or(Pc::MAX),
                        len: p.code.len(),
                    });
                };
                if *mark == generation {
                    continue;
                }
                *mark = generation;
                let bad = match flow {
                    Flow::Expr => is_effect(insn),
                    Flow::Body => matches!(insn, Insn::Return),
                };
                if bad {
                    let rule = match flow {
                        Flow::Expr => {
                            "an expression, which may only compute a value and must end in \
                             return"
                        }
                        Flow::Body => "a journey body, which must end in end or exit",
                    };
                    return Err(inconsistent(
                        format!("instruction {pc:04} ({})", insn.mnemonic()),
                        format!("it is reachable from {what}, {rule}"),
                    ));
                }
                // Segment conditions read only the segments they declare.
                if let (Some(uses), Insn::Segment(used)) = (uses, insn)
                    && !uses.contains(used)
                {
                    return Err(inconsistent(
                        format!("instruction {pc:04} ({})", insn.mnemonic()),
                        format!(
                            "{what} reads {}, which is not in its `uses_segments`",
                            label(&p.segments, *used)
                        ),
                    ));
                }
                next.clear();
                // All in range once `instructions` and `code_shape` passed.
                p.successors(pc, insn, &mut next);
                stack.extend_from_slice(&next);
            }
        }
        Ok(())
    }

    /// `uses_segments` has no cycle (iteratively: a forged chain must not overflow the stack).
    fn segment_graph(&self) -> Result {
        let p = self.p;
        let n = p.segments.len();
        // Kahn: repeatedly remove segments that no remaining segment uses.
        let mut users = vec![0usize; n];
        let mut used_by: Vec<Vec<SegmentId>> = vec![Vec::new(); n];
        for (id, seg) in p.segments.iter() {
            for used in &seg.uses_segments {
                users[used.index()] += 1;
                used_by[used.index()].push(id);
            }
        }
        let mut removed = vec![false; n];
        let mut free: Vec<SegmentId> = p
            .segments
            .keys()
            .filter(|s| users[s.index()] == 0)
            .collect();
        while let Some(s) = free.pop() {
            removed[s.index()] = true;
            for used in &p.segments[s].uses_segments {
                users[used.index()] -= 1;
                if users[used.index()] == 0 {
                    free.push(*used);
                }
            }
        }
        // A remaining segment still has a remaining user: walking up the users from any of
        // them must come back to a segment already on the path.
        let Some(start) = p.segments.keys().find(|s| !removed[s.index()]) else {
            return Ok(());
        };
        let mut path = vec![start];
        let mut current = start;
        while let Some(user) = used_by[current.index()]
            .iter()
            .copied()
            .find(|u| !removed[u.index()])
        {
            if let Some(i) = path.iter().position(|s| *s == user) {
                // `path[i..]` then `user` is the cycle in "used by" order; print "uses" order.
                let mut cycle: Vec<String> =
                    path[i..].iter().map(|s| label(&p.segments, *s)).collect();
                cycle.push(label(&p.segments, user));
                cycle.reverse();
                return Err(inconsistent(
                    label(&p.segments, user),
                    format!(
                        "segments use each other in a cycle: {}",
                        cycle.join(" uses ")
                    ),
                ));
            }
            path.push(user);
            current = user;
        }
        Err(inconsistent(
            label(&p.segments, start),
            "segments use each other in a cycle",
        ))
    }
}

/// Whether an instruction has an effect or suspends (not allowed in expression functions).
fn is_effect(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Branch(..)
            | Insn::Critical(_)
            | Insn::Send(_)
            | Insn::Wait(..)
            | Insn::WaitMonths(..)
            | Insn::WaitUntil(..)
            | Insn::WaitEvent(_)
            | Insn::Set(..)
            | Insn::Emit(_)
            | Insn::Split(_)
            | Insn::OpenGoal(_)
            | Insn::Exit(_)
            | Insn::End
    )
}
