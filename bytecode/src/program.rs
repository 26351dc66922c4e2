//! The compiled program: entity tables, constant pool, code and source locations.

use cranelift_entity::PrimaryMap;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::insn::Insn;
use crate::value::{Const, Date, TimeOfDay, Type};

/// A position in [`Program::code`].
pub type Pc = u32;

/// A whole compiled project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Program {
    /// Project-level facts.
    pub meta: Meta,
    /// Source files, for locations.
    pub files: PrimaryMap<FileId, SourceFile>,
    /// The constant pool.
    pub consts: PrimaryMap<ConstId, Const>,
    /// Profile attributes.
    pub attributes: PrimaryMap<AttrId, AttrDef>,
    /// Event schemas.
    pub events: PrimaryMap<EventId, EventDef>,
    /// Event-history aggregates used by segments and conditions.
    pub aggregates: PrimaryMap<AggId, AggDef>,
    /// Segments.
    pub segments: PrimaryMap<SegmentId, SegmentDef>,
    /// Channels.
    pub channels: PrimaryMap<ChannelId, ChannelDef>,
    /// Templates.
    pub templates: PrimaryMap<TemplateId, TemplateDef>,
    /// The offer library.
    pub offers: PrimaryMap<OfferId, OfferDef>,
    /// Pressure policies.
    pub policies: PrimaryMap<PolicyId, PolicyDef>,
    /// Journeys.
    pub journeys: PrimaryMap<JourneyId, JourneyDef>,
    /// Steps of all journeys.
    pub steps: PrimaryMap<StepId, StepDef>,
    /// Sends (operands of [`Insn::Send`]).
    pub sends: PrimaryMap<SendId, SendDef>,
    /// Emits (operands of [`Insn::Emit`]).
    pub emits: PrimaryMap<EmitId, EmitDef>,
    /// Waits for an event (operands of [`Insn::WaitEvent`]).
    pub waits: PrimaryMap<WaitId, WaitEventDef>,
    /// Experiments (operands of [`Insn::Split`]).
    pub experiments: PrimaryMap<ExperimentId, ExperimentDef>,
    /// Goals of all journeys.
    pub goals: PrimaryMap<GoalId, GoalDef>,
    /// Test blocks.
    pub tests: PrimaryMap<TestId, TestDef>,
    /// All code: expression functions (ending in [`Insn::Return`]) and journey bodies.
    pub code: Vec<Insn>,
    /// The source location of each instruction (same length as `code`).
    pub locs: Vec<Loc>,
}

/// Project-level facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Meta {
    /// Project name (from the manifest, or the file name).
    pub project: String,
    /// Version of the compiler that wrote the program.
    pub compiler: String,
    /// Time zone used when a customer has none (IANA name).
    pub default_timezone: String,
    /// The profile attribute holding the customer's time zone, if the schema has one.
    pub timezone_attr: Option<AttrId>,
    /// Hash of all sources, to tell whether a program is stale.
    pub source_hash: u64,
}

/// A source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Path relative to the project root, with `/` separators.
    pub path: String,
}

/// A source location: file, byte range, and 1-based line and column of the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Loc {
    /// The file.
    pub file: u32,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column (in characters) of `start`.
    pub col: u32,
}

/// A profile attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrDef {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: Type,
    /// Default value.
    pub default: Option<ConstId>,
}

/// An event schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDef {
    /// Name.
    pub name: String,
    /// Properties; [`Insn::EventProp`] indexes into this list.
    pub props: Vec<PropDef>,
}

/// A named, typed property or parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropDef {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: Type,
}

/// Aggregate functions over the event history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggFn {
    /// Number of occurrences.
    Count,
    /// Sum of a number property.
    Sum,
    /// Mean of a number property (none when no occurrence).
    Avg,
    /// Minimum (none when no occurrence).
    Min,
    /// Maximum (none when no occurrence).
    Max,
    /// Property of the latest occurrence (none when no occurrence).
    Last,
}

/// One aggregate, kept per customer as a compact running summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggDef {
    /// Function.
    pub func: AggFn,
    /// Event aggregated.
    pub event: EventId,
    /// Property aggregated (none for `count`).
    pub prop: Option<u16>,
    /// Filter evaluated on each occurrence (the occurrence is the event in scope).
    pub filter: Option<Pc>,
    /// Sliding window in seconds; none means all retained history.
    pub window_secs: Option<u64>,
}

/// A segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDef {
    /// Name.
    pub name: String,
    /// The membership condition (a function returning bool).
    pub condition: Pc,
    /// Segments it uses directly.
    pub uses_segments: Vec<SegmentId>,
    /// Aggregates it uses, directly or through other segments.
    pub uses_aggregates: Vec<AggId>,
    /// Attributes it reads, directly or through other segments.
    pub uses_attributes: Vec<AttrId>,
    /// Where declared.
    pub loc: Loc,
}

/// A channel configuration value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConfigValue {
    /// A literal.
    Const(ConstId),
    /// Read from the environment.
    Env(String),
    /// Read from the secret store.
    Secret(String),
}

/// A channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDef {
    /// Name.
    pub name: String,
    /// Plugin implementing it.
    pub plugin: String,
    /// Configuration.
    pub config: Vec<(String, ConfigValue)>,
    /// Declared parameters of a send.
    pub params: Vec<ParamDef>,
    /// Consent condition (a function returning bool).
    pub consent: Option<Pc>,
    /// Where declared.
    pub loc: Loc,
}

/// A parameter of a channel's sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDef {
    /// Name.
    pub name: String,
    /// Type (optional types are optional parameters).
    pub ty: Type,
}

/// A template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateDef {
    /// Name.
    pub name: String,
    /// Channel it is written for.
    pub channel: ChannelId,
    /// Parts.
    pub parts: Vec<TextDef>,
}

/// A named text with interpolations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDef {
    /// Part name (`subject`, `text`, ...).
    pub name: String,
    /// Pieces.
    pub pieces: Vec<Piece>,
}

/// A piece of an interpolated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// A function whose value is rendered.
    Expr(Pc),
}

/// An offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferDef {
    /// Name.
    pub name: String,
    /// Priority, higher first.
    pub priority: i64,
    /// Eligibility (a function returning bool); none means always eligible.
    pub eligible: Option<Pc>,
    /// First local day it is valid.
    pub valid_from: Option<Date>,
    /// Local day from which it is no longer valid.
    pub valid_until: Option<Date>,
    /// Display fields.
    pub fields: Vec<(String, String)>,
    /// Where declared.
    pub loc: Loc,
}

/// A pressure policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDef {
    /// Name.
    pub name: String,
    /// Frequency caps.
    pub caps: Vec<CapDef>,
    /// Quiet hours.
    pub quiet: Vec<QuietDef>,
    /// Journeys from highest to lowest priority.
    pub priority: Vec<JourneyId>,
    /// Journeys the caps do not apply to.
    pub exempt: Vec<JourneyId>,
}

/// `at most N (messages|channel) per window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapDef {
    /// Maximum sends in any window.
    pub max: u32,
    /// Channel, or none for all channels.
    pub channel: Option<ChannelId>,
    /// Sliding window in seconds.
    pub window_secs: u64,
    /// Where declared.
    pub loc: Loc,
}

/// `quiet hours FROM to TO [on channels]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietDef {
    /// Local start.
    pub from: TimeOfDay,
    /// Local end (may be before `from`: the period crosses midnight).
    pub to: TimeOfDay,
    /// Channels; empty for all.
    pub channels: Vec<ChannelId>,
    /// Where declared.
    pub loc: Loc,
}

/// A journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyDef {
    /// Name.
    pub name: String,
    /// What starts an instance.
    pub entries: Vec<EntryDef>,
    /// Re-entry rule.
    pub reentry: Reentry,
    /// Exit conditions.
    pub exits: Vec<ExitDef>,
    /// Maximum lifetime in seconds (`exit after`).
    pub max_lifetime_secs: Option<u64>,
    /// The body's first instruction.
    pub body: Pc,
    /// Timeline entries, in chronological order.
    pub timeline: Vec<TimelineDef>,
    /// The entry events whose properties the body may read.
    pub entry_events: Vec<EventId>,
    /// The events whose latest occurrence an instance keeps in its scope, sorted by event:
    /// those that code running in the instance reads properties of (its steps, the templates
    /// it sends, its wait, goal and exit conditions), not counting a filter's own candidate,
    /// each with the properties read. An instance of a journey that reads none keeps no
    /// event while it waits.
    pub kept_events: Vec<KeptEvent>,
    /// Where declared.
    pub loc: Loc,
}

/// An event a journey's instances keep in their scope, and which of its properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeptEvent {
    /// The event.
    pub event: EventId,
    /// The properties read: bit `i` for the property at index `i` of the event's schema, or
    /// [`KeptEvent::ALL`] for every property (also when one read has an index of 32 or more).
    pub props: u32,
}

impl KeptEvent {
    /// Every property of the event.
    pub const ALL: u32 = u32::MAX;

    /// The mask that keeps the property at index `prop` ([`KeptEvent::ALL`] past the 32
    /// properties a mask can name).
    pub fn prop_bit(prop: u16) -> u32 {
        if prop < 32 { 1 << prop } else { Self::ALL }
    }

    /// The kept events of a list of property reads `(event, property index)`: one per
    /// event, sorted by event, with the properties read.
    pub fn of_reads(reads: impl IntoIterator<Item = (EventId, u16)>) -> Vec<KeptEvent> {
        let mut kept = Vec::new();
        for (event, prop) in reads {
            KeptEvent::add(
                &mut kept,
                KeptEvent {
                    event,
                    props: KeptEvent::prop_bit(prop),
                },
            );
        }
        kept
    }

    /// Adds `k` to a list sorted by event, joining its properties to the event's entry.
    pub fn add(list: &mut Vec<KeptEvent>, k: KeptEvent) {
        match list.binary_search_by_key(&k.event, |x| x.event) {
            Ok(i) => list[i].props |= k.props,
            Err(i) => list.insert(i, k),
        }
    }

    /// Whether the mask keeps every one of `count` properties (so that nothing is dropped).
    pub fn keeps_all_of(props: u32, count: usize) -> bool {
        count >= 32 && props == Self::ALL
            || count < 32 && props & ((1u32 << count) - 1) == (1u32 << count) - 1
    }
}

/// What starts a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// An event.
    Event(EventId),
    /// Entering a segment.
    SegmentEnter(SegmentId),
    /// Leaving a segment.
    SegmentLeave(SegmentId),
    /// Every year on the anniversary of a date attribute.
    Yearly {
        /// The date attribute.
        attr: AttrId,
        /// Local time.
        at: TimeOfDay,
    },
    /// Every month on a day (clamped to the month's last day).
    Monthly {
        /// Day 1..=31.
        day: u8,
        /// Local time.
        at: TimeOfDay,
    },
    /// Every week.
    Weekly {
        /// 0 = Monday .. 6 = Sunday.
        weekday: u8,
        /// Local time.
        at: TimeOfDay,
    },
    /// Every day.
    Daily {
        /// Local time.
        at: TimeOfDay,
    },
    /// Through the runtime's API.
    Api,
}

/// One `entry` clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryDef {
    /// Trigger.
    pub trigger: Trigger,
    /// Extra condition (a function returning bool).
    pub condition: Option<Pc>,
    /// Where declared.
    pub loc: Loc,
}

/// The re-entry rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reentry {
    /// At most one instance per customer, ever.
    Never,
    /// A new instance may start once the previous one has ended.
    AfterExit,
    /// A new instance may start once the previous one has ended and this long after its entry.
    After(u64),
}

/// An exit condition, checked even while an instance waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExitDef {
    /// On an event (with optional condition, the event in scope).
    Event {
        /// Event.
        event: EventId,
        /// Condition.
        condition: Option<Pc>,
        /// Where declared.
        loc: Loc,
    },
    /// When a condition on the profile and segments becomes true.
    When {
        /// Condition.
        condition: Pc,
        /// Where declared.
        loc: Loc,
    },
}

/// A timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineDef {
    /// Calendar offset from the entry's local date.
    pub offset: CalendarOffset,
    /// Local time of day; none keeps the entry's local time of day.
    pub at: Option<TimeOfDay>,
    /// First instruction of its steps (ends in [`Insn::End`]).
    pub code: Pc,
    /// Where declared.
    pub loc: Loc,
}

/// A calendar offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CalendarOffset {
    /// Whole months (years are 12 months).
    pub months: u32,
    /// Whole local days (weeks are 7 days), applied after the months.
    pub days: u32,
}

/// What a step is, for analytics, coverage and explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// A send.
    Send,
    /// A wait for a duration or calendar offset.
    Wait,
    /// A wait until a local time.
    WaitUntil,
    /// A wait for an event.
    WaitEvent,
    /// An `if`.
    If,
    /// Scenarios.
    Scenario,
    /// An experiment.
    Experiment,
    /// A timeline entry.
    TimelineEntry,
    /// A profile update.
    Set,
    /// An emitted event.
    Emit,
    /// An explicit exit.
    Exit,
}

/// A step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDef {
    /// Journey it belongs to.
    pub journey: JourneyId,
    /// Stable identity: survives edits that do not touch this step (see ARCHITECTURE.md).
    pub key: u64,
    /// The label, or a generated readable name (`send_sms_bienvenue`).
    pub name: String,
    /// Whether the author labelled it.
    pub labelled: bool,
    /// Kind.
    pub kind: StepKind,
    /// Marked as the critical moment.
    pub critical: bool,
    /// Names of its branches (`then`/`else`, segment names, variant names, `timeout`).
    pub arms: Vec<String>,
    /// Where declared.
    pub loc: Loc,
}

/// What a send sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MessageRef {
    /// A declared template.
    Template(TemplateId),
    /// A template id at the provider.
    External(String),
    /// Inline content.
    Inline(TextDef),
}

impl MessageRef {
    /// The template's name in records and reports: a declared template's name, the
    /// provider's id of an external one; `None` for inline content.
    pub fn template_name<'a>(&'a self, p: &'a Program) -> Option<&'a str> {
        match self {
            MessageRef::Template(t) => Some(p.templates[*t].name.as_str()),
            MessageRef::External(id) => Some(id.as_str()),
            MessageRef::Inline(_) => None,
        }
    }
}

/// Offer selection of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferSel {
    /// No offer.
    None,
    /// Best eligible offer among these (all offers if empty).
    Best(Vec<OfferId>),
    /// This offer (the send is skipped if not eligible).
    Named(OfferId),
}

/// A send's operands. Parameter values are on the stack, in `params` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendDef {
    /// Step.
    pub step: StepId,
    /// Channel.
    pub channel: ChannelId,
    /// Message.
    pub message: MessageRef,
    /// Parameter names.
    pub params: Vec<String>,
    /// Offer selection.
    pub offer: OfferSel,
}

/// An emit's operands. Property values are on the stack, in `props` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitDef {
    /// Step.
    pub step: StepId,
    /// Event.
    pub event: EventId,
    /// Property indexes.
    pub props: Vec<u16>,
}

/// A wait-for-event's operands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitEventDef {
    /// Step.
    pub step: StepId,
    /// Event.
    pub event: EventId,
    /// Condition (the candidate event in scope).
    pub filter: Option<Pc>,
    /// Timeout in seconds; none waits until the journey ends.
    pub timeout_secs: Option<u64>,
    /// Where to continue on timeout.
    pub on_timeout: Pc,
}

/// An experiment's operands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentDef {
    /// Step.
    pub step: StepId,
    /// Name (part of the assignment hash).
    pub name: String,
    /// Variants with weights in basis points (1/100 of a percent).
    pub variants: Vec<VariantDef>,
    /// Holdout weight in basis points.
    pub holdout_bp: u32,
    /// Where the holdout group continues (after the experiment).
    pub after: Pc,
}

/// A variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantDef {
    /// Name.
    pub name: String,
    /// Weight in basis points.
    pub weight_bp: u32,
    /// First instruction.
    pub target: Pc,
}

/// A conversion goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalDef {
    /// Journey.
    pub journey: JourneyId,
    /// Name.
    pub name: String,
    /// Converting event.
    pub event: EventId,
    /// Condition on it.
    pub condition: Option<Pc>,
    /// Window in seconds.
    pub window_secs: u64,
    /// The step that opens the window (none: entry).
    pub after: Option<StepId>,
    /// Where declared.
    pub loc: Loc,
}

/// A local date and time as written in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Civil {
    /// Date.
    pub date: Date,
    /// Time.
    pub time: TimeOfDay,
}

/// A test block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestDef {
    /// Description.
    pub name: String,
    /// Customer id (default `test-customer`).
    pub customer: String,
    /// Profile values.
    pub profile: Vec<(AttrId, ConstId)>,
    /// Inputs and expectations, in source order.
    pub steps: Vec<TestStep>,
    /// Where declared.
    pub loc: Loc,
}

/// A line of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TestStep {
    /// An event at a local time.
    Event {
        /// When.
        at: Civil,
        /// Event.
        event: EventId,
        /// Property values.
        props: Vec<(u16, ConstId)>,
    },
    /// A profile update.
    Set {
        /// When.
        at: Civil,
        /// Attribute.
        attr: AttrId,
        /// Value.
        value: ConstId,
    },
    /// An API entry.
    Enter {
        /// When.
        at: Civil,
        /// Journey.
        journey: JourneyId,
    },
    /// Run the clock until then.
    RunUntil(Civil),
    /// An expectation.
    Expect(Expect, Loc),
}

/// A test expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expect {
    /// A send happened (or not).
    Send {
        /// False for `no send`.
        positive: bool,
        /// Channel.
        channel: ChannelId,
        /// Message, if given.
        message: Option<MessageRef>,
        /// Time, if given.
        at: Option<Civil>,
    },
    /// A step was reached (or not).
    Reached {
        /// False for `not reached`.
        positive: bool,
        /// Step.
        step: StepId,
        /// Time, if given.
        at: Option<Civil>,
    },
    /// A goal converted (or not).
    Goal {
        /// False for `no goal`.
        positive: bool,
        /// Goal.
        goal: GoalId,
        /// Time, if given.
        at: Option<Civil>,
    },
    /// The journey ended.
    Exit {
        /// Journey.
        journey: JourneyId,
        /// Time, if given.
        at: Option<Civil>,
    },
    /// A scenario arm was taken.
    Scenario {
        /// Step of the scenario.
        step: StepId,
        /// Arm index.
        arm: u16,
    },
    /// A variant (or the holdout) was assigned.
    Variant {
        /// Experiment.
        experiment: ExperimentId,
        /// Variant index; `variants.len()` means the holdout.
        variant: u16,
    },
    /// An event was emitted.
    Emit {
        /// Event.
        event: EventId,
        /// Time, if given.
        at: Option<Civil>,
    },
    /// The customer entered the journey (or not).
    Entered {
        /// False for `not entered`.
        positive: bool,
        /// Journey.
        journey: JourneyId,
        /// Time, if given.
        at: Option<Civil>,
    },
}

impl Program {
    /// The instructions execution may continue at after the instruction `insn` at `pc`,
    /// pushed onto `out`: none after `return`, `end` and `exit`; the target of a jump; both
    /// ways of a conditional jump; every variant and the join point of a split; the next
    /// instruction and the timeout path of a wait for an event; the next instruction
    /// otherwise. Targets are not checked against the code's length (the validator does).
    pub fn successors(&self, pc: usize, insn: &Insn, out: &mut Vec<usize>) {
        match *insn {
            Insn::Return | Insn::End | Insn::Exit(_) => {}
            Insn::Jump(t) => out.push(t as usize),
            Insn::JumpIfFalse(t) | Insn::JumpIfFalseOrPop(t) | Insn::JumpIfTrueOrPop(t) => {
                out.push(t as usize);
                out.push(pc + 1);
            }
            Insn::Split(x) => {
                if let Some(exp) = self.experiments.get(x) {
                    out.extend(exp.variants.iter().map(|v| v.target as usize));
                    out.push(exp.after as usize);
                }
            }
            Insn::WaitEvent(w) => {
                out.push(pc + 1);
                if let Some(wait) = self.waits.get(w) {
                    out.push(wait.on_timeout as usize);
                }
            }
            _ => out.push(pc + 1),
        }
    }
}

impl CalendarOffset {
    /// Total as (months, days) for ordering and display.
    pub fn describe(self) -> String {
        match (self.months, self.days) {
            (0, d) if d % 7 == 0 && d > 0 => format!("week {}", d / 7),
            (0, d) => format!("day {d}"),
            (m, 0) if m % 12 == 0 => format!("year {}", m / 12),
            (m, 0) => format!("month {m}"),
            (m, d) => format!("month {m} + day {d}"),
        }
    }
}

impl AggFn {
    /// The name used in source (`count`, `sum`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Sum => "sum",
            AggFn::Avg => "avg",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Last => "last",
        }
    }
}

impl AttrDef {
    /// The attribute's default as a constant, if any.
    pub fn default_const<'p>(&self, program: &'p Program) -> Option<&'p Const> {
        self.default.and_then(|c| program.consts.get(c))
    }
}
