//! The typed syntax tree of one `.journey` file.
//!
//! Every node carries the byte [`Span`] of its source text. The tree is plain data: the
//! compiler, the formatter and the language server read it; nothing here resolves names.

use serde::Serialize;

/// A half-open byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
    /// The span as a `usize` range.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// Whether `offset` lies inside the span (end inclusive, for cursors).
    pub fn contains(self, offset: u32) -> bool {
        self.start <= offset && offset <= self.end
    }
}

/// A name with its span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    /// The name as written.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// A parsed file: its items in source order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct File {
    /// Top-level declarations.
    pub items: Vec<Item>,
}

/// A top-level declaration with its doc comment.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// The `///` lines above the item, without the slashes.
    pub docs: Option<String>,
    /// What is declared.
    pub kind: ItemKind,
    /// The whole item, docs included.
    pub span: Span,
}

/// The kinds of top-level declarations.
#[derive(Debug, Clone, Serialize)]
pub enum ItemKind {
    /// `import "file.journey"`.
    Import(Import),
    /// `profile { ... }`: the customer profile schema.
    Profile(Profile),
    /// `event name { ... }`: an event schema.
    Event(EventDecl),
    /// `segment name = condition`.
    Segment(SegmentDecl),
    /// `channel name uses "plugin" { ... }`.
    Channel(ChannelDecl),
    /// `template name for channel { ... }`.
    Template(TemplateDecl),
    /// `offer name { ... }`.
    Offer(OfferDecl),
    /// `policy name { ... }`: communication pressure rules.
    Policy(PolicyDecl),
    /// `journey name { ... }`.
    Journey(JourneyDecl),
    /// `test "description" { ... }`.
    Test(TestDecl),
}

/// `import "path"`.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// The path as written, relative to the importing file.
    pub path: StringLit,
}

/// The profile schema.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The `profile` keyword, for diagnostics.
    pub keyword: Span,
    /// The attributes.
    pub fields: Vec<Field>,
}

/// `name: type = default`.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Doc comment.
    pub docs: Option<String>,
    /// The attribute or property name.
    pub name: Ident,
    /// Its declared type.
    pub ty: TypeExpr,
    /// Optional default value.
    pub default: Option<Expr>,
    /// The whole field.
    pub span: Span,
}

/// A type as written: `string`, `list<number>`, `date?`.
#[derive(Debug, Clone, Serialize)]
pub struct TypeExpr {
    /// The type's name.
    pub name: Ident,
    /// The argument of `list<...>`.
    pub arg: Option<Box<TypeExpr>>,
    /// Whether `?` follows.
    pub optional: bool,
    /// The whole type.
    pub span: Span,
}

/// `event name { fields }`.
#[derive(Debug, Clone, Serialize)]
pub struct EventDecl {
    /// The event name.
    pub name: Ident,
    /// Its properties.
    pub fields: Vec<Field>,
}

/// `segment name = condition`.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentDecl {
    /// The segment name.
    pub name: Ident,
    /// The membership condition.
    pub condition: Expr,
}

/// `channel name uses "plugin" { config {...} params {...} requires cond }`.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelDecl {
    /// The channel name.
    pub name: Ident,
    /// The plugin implementing it.
    pub plugin: StringLit,
    /// Plugin configuration entries.
    pub config: Vec<ConfigEntry>,
    /// The declared parameter schema of `send` on this channel, if any block was written.
    pub params: Option<Vec<Field>>,
    /// The consent condition (`requires profile.optin_sms`).
    pub consent: Option<Expr>,
}

/// `key: value` in a channel's `config`.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigEntry {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: ConfigValue,
    /// The whole entry.
    pub span: Span,
}

/// A configuration value.
#[derive(Debug, Clone, Serialize)]
pub enum ConfigValue {
    /// A literal.
    Literal(Expr),
    /// `env("NAME")`: read from the runtime's environment.
    Env(StringLit),
    /// `secret("NAME")`: read from the runtime's secret store.
    Secret(StringLit),
}

/// `template name for channel { part: "text" }`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateDecl {
    /// The template name.
    pub name: Ident,
    /// The channel it is written for.
    pub channel: Ident,
    /// Its parts (subject, text, html, ...).
    pub parts: Vec<TemplatePart>,
}

/// One named part of a template.
#[derive(Debug, Clone, Serialize)]
pub struct TemplatePart {
    /// The part name.
    pub name: Ident,
    /// The text with interpolations.
    pub text: StringLit,
}

/// `offer name { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct OfferDecl {
    /// The offer name.
    pub name: Ident,
    /// `eligible when`.
    pub eligible: Option<Expr>,
    /// `priority N` (higher wins).
    pub priority: Option<(i64, Span)>,
    /// `valid from` (inclusive).
    pub valid_from: Option<Expr>,
    /// `valid until` (exclusive).
    pub valid_until: Option<Expr>,
    /// Display fields (`title: "..."`).
    pub fields: Vec<TemplatePart>,
    /// Items written twice, for diagnostics: (what, second occurrence).
    pub repeated: Vec<(String, Span)>,
}

/// `policy name { ... }`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDecl {
    /// The policy name.
    pub name: Ident,
    /// Its rules in order.
    pub rules: Vec<PolicyRule>,
}

/// One rule of a policy.
#[derive(Debug, Clone, Serialize)]
pub enum PolicyRule {
    /// `at most N messages|CHANNEL per WINDOW`.
    Cap {
        /// N.
        max: (i64, Span),
        /// `None` for all messages, else the channel.
        channel: Option<Ident>,
        /// The sliding window.
        window: DurationLit,
        /// The whole rule.
        span: Span,
    },
    /// `quiet hours 21:00 to 08:00 [on ch, ...]`.
    Quiet {
        /// Start of the quiet period (local time).
        from: TimeLit,
        /// End of the quiet period (local time).
        to: TimeLit,
        /// Channels it applies to; empty means all.
        channels: Vec<Ident>,
        /// The whole rule.
        span: Span,
    },
    /// `priority a, b, c`: journeys from highest to lowest.
    Priority(Vec<Ident>, Span),
    /// `exempt a, b`: journeys not subject to the caps (transactional).
    Exempt(Vec<Ident>, Span),
}

/// `journey name { clauses and steps }`.
#[derive(Debug, Clone, Serialize)]
pub struct JourneyDecl {
    /// The journey name.
    pub name: Ident,
    /// `entry ...` clauses.
    pub entries: Vec<Entry>,
    /// `reentry ...` clauses (more than one is an error).
    pub reentry: Vec<Reentry>,
    /// `exit on|when|after` clauses.
    pub exits: Vec<ExitClause>,
    /// `goal ...` clauses.
    pub goals: Vec<Goal>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Span of the closing brace, where "end of journey" points.
    pub close: Span,
}

/// `entry TRIGGER [where COND]`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// What starts an instance.
    pub trigger: Trigger,
    /// Extra condition.
    pub condition: Option<Expr>,
    /// The whole clause.
    pub span: Span,
}

/// What starts a journey.
#[derive(Debug, Clone, Serialize)]
pub enum Trigger {
    /// `on EVENT`.
    Event(Ident),
    /// `on entering SEGMENT` / `on leaving SEGMENT`.
    Segment {
        /// True for `entering`.
        entering: bool,
        /// The segment.
        segment: Ident,
    },
    /// `yearly on profile.date_attr [at HH:MM]`.
    Yearly {
        /// The date attribute.
        date: Path,
        /// Local time of day.
        at: Option<TimeLit>,
    },
    /// `monthly on day N [at HH:MM]`.
    Monthly {
        /// Day of month, 1..=31 (clamped to the month's last day).
        day: (i64, Span),
        /// Local time of day.
        at: Option<TimeLit>,
    },
    /// `weekly on WEEKDAY [at HH:MM]`.
    Weekly {
        /// Weekday name.
        weekday: Ident,
        /// Local time of day.
        at: Option<TimeLit>,
    },
    /// `daily at HH:MM`.
    Daily {
        /// Local time of day.
        at: TimeLit,
    },
    /// `by api`.
    Api,
}

/// The re-entry rule.
#[derive(Debug, Clone, Serialize)]
pub enum Reentry {
    /// `reentry never`.
    Never(Span),
    /// `reentry after exit`.
    AfterExit(Span),
    /// `reentry after DURATION` (since the last entry).
    After(DurationLit, Span),
}

/// An exit condition.
#[derive(Debug, Clone, Serialize)]
pub enum ExitClause {
    /// `exit on EVENT [where COND]`.
    On {
        /// The event.
        event: Ident,
        /// Condition on it.
        condition: Option<Expr>,
        /// Whole clause.
        span: Span,
    },
    /// `exit when COND`.
    When(Expr, Span),
    /// `exit after DURATION`.
    After(DurationLit, Span),
}

/// `goal NAME on EVENT [where COND] within DURATION [after STEP]`.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// Goal name.
    pub name: Ident,
    /// The converting event.
    pub event: Ident,
    /// Condition on the event.
    pub condition: Option<Expr>,
    /// Conversion window.
    pub within: DurationLit,
    /// The labelled step the window starts at (default: entry).
    pub after: Option<Ident>,
    /// Whole clause.
    pub span: Span,
}

/// A statement with its optional label and critical marker.
#[derive(Debug, Clone, Serialize)]
pub struct Stmt {
    /// `label:` before the statement.
    pub label: Option<Ident>,
    /// The `critical` marker, if present.
    pub critical: Option<Span>,
    /// The statement.
    pub kind: StmtKind,
    /// Whole statement, label included.
    pub span: Span,
}

/// Statement kinds.
#[derive(Debug, Clone, Serialize)]
pub enum StmtKind {
    /// `send CHANNEL MESSAGE [{args}] [with offer]`.
    Send(Send),
    /// `wait DURATION` or `wait N months`.
    Wait(DurationLit),
    /// `wait until [WEEKDAY] [at] HH:MM`.
    WaitUntil {
        /// Weekday, if any.
        weekday: Option<Ident>,
        /// Local time of day, if any.
        at: Option<TimeLit>,
    },
    /// `wait for EVENT [where C] [within D] [else {...}]`.
    WaitFor(WaitFor),
    /// `if C {..} else ..`.
    If(If),
    /// `scenario for S {..} ... otherwise {..}`.
    Scenario(Scenario),
    /// `experiment NAME { variant .. holdout .. }`.
    Experiment(Experiment),
    /// `timeline { entries }`.
    Timeline(Vec<TimelineEntry>),
    /// `set profile.attr = expr`.
    Set {
        /// The attribute path.
        target: Path,
        /// The new value.
        value: Expr,
    },
    /// `emit EVENT {args}`.
    Emit {
        /// The event.
        event: Ident,
        /// Its properties.
        args: Vec<Argument>,
    },
    /// `exit`.
    Exit,
}

/// A send.
#[derive(Debug, Clone, Serialize)]
pub struct Send {
    /// The channel.
    pub channel: Ident,
    /// What is sent.
    pub message: Message,
    /// Parameters.
    pub args: Vec<Argument>,
    /// The span of the `{ ... }` parameter block, if written.
    pub args_span: Option<Span>,
    /// Offer selection.
    pub offer: Option<OfferChoice>,
}

/// The message of a send.
#[derive(Debug, Clone, Serialize)]
pub enum Message {
    /// A declared template.
    Template(Ident),
    /// `template "id"`: a template stored at the provider.
    External(StringLit),
    /// Inline content.
    Inline(StringLit),
}

/// Offer selection on a send.
#[derive(Debug, Clone, Serialize)]
pub enum OfferChoice {
    /// `with best offer [from a, b]`.
    Best(Vec<Ident>, Span),
    /// `with offer NAME`.
    Named(Ident),
}

/// `name: expr`.
#[derive(Debug, Clone, Serialize)]
pub struct Argument {
    /// The parameter name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// `wait for`.
#[derive(Debug, Clone, Serialize)]
pub struct WaitFor {
    /// The awaited event.
    pub event: Ident,
    /// Condition on it.
    pub condition: Option<Expr>,
    /// Timeout.
    pub timeout: Option<DurationLit>,
    /// The path taken on timeout.
    pub on_timeout: Option<Block>,
}

/// A braced block.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    /// Statements.
    pub stmts: Vec<Stmt>,
    /// The braces.
    pub span: Span,
}

/// `if`.
#[derive(Debug, Clone, Serialize)]
pub struct If {
    /// The condition.
    pub condition: Expr,
    /// Taken when true.
    pub then: Block,
    /// Taken when false (an `else if` is a block holding one `if`).
    pub otherwise: Option<Block>,
}

/// Scenarios by macro-segment.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// `scenario for SEGMENT { .. }` arms, first match wins.
    pub arms: Vec<(Ident, Block)>,
    /// `otherwise { .. }`.
    pub otherwise: Option<Block>,
}

/// An experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// Experiment name.
    pub name: Ident,
    /// Variants with their percentage.
    pub variants: Vec<Variant>,
    /// Holdout percentages (more than one is an error).
    pub holdouts: Vec<(f64, Span)>,
}

/// `variant NAME P% { .. }`.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// Variant name.
    pub name: Ident,
    /// Percentage.
    pub percent: (f64, Span),
    /// Its steps.
    pub body: Block,
}

/// `OFFSET [at HH:MM]: steps`.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// The calendar offset from entry.
    pub offset: CalendarOffset,
    /// Local time of day.
    pub at: Option<TimeLit>,
    /// The steps.
    pub body: Vec<Stmt>,
    /// Whole entry.
    pub span: Span,
}

/// `day N`, `week N`, `month N`, `year N`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CalendarOffset {
    /// The unit.
    pub unit: CalendarUnit,
    /// The count.
    pub count: i64,
    /// Where written.
    pub span: Span,
}

/// Units of calendar offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum CalendarUnit {
    /// Local calendar days.
    Day,
    /// Seven local calendar days.
    Week,
    /// Calendar months.
    Month,
    /// Calendar years.
    Year,
}

/// A test block.
#[derive(Debug, Clone, Serialize)]
pub struct TestDecl {
    /// The description.
    pub name: StringLit,
    /// Its lines in order.
    pub items: Vec<TestItem>,
}

/// One line of a test.
#[derive(Debug, Clone, Serialize)]
pub enum TestItem {
    /// `given profile { .. }`.
    Profile(Vec<Argument>, Span),
    /// `given customer "id"`.
    Customer(StringLit),
    /// `at T event E {..}`.
    Event {
        /// When.
        at: TimestampLit,
        /// The event.
        event: Ident,
        /// Properties.
        args: Vec<Argument>,
        /// Whole line.
        span: Span,
    },
    /// `at T set profile.x = v`.
    Set {
        /// When.
        at: TimestampLit,
        /// The attribute.
        target: Path,
        /// New value.
        value: Expr,
        /// Whole line.
        span: Span,
    },
    /// `at T enter JOURNEY` (API entry).
    Enter {
        /// When.
        at: TimestampLit,
        /// The journey.
        journey: Ident,
        /// Whole line.
        span: Span,
    },
    /// `run until T`.
    RunUntil(TimestampLit, Span),
    /// `expect ..`.
    Expect(Expectation, Span),
}

/// What a test expects.
#[derive(Debug, Clone, Serialize)]
pub enum Expectation {
    /// `send CH [MSG] [at T]` or `no send CH [MSG]`.
    Send {
        /// False for `no send`.
        positive: bool,
        /// Channel.
        channel: Ident,
        /// Message.
        message: Option<Message>,
        /// Time.
        at: Option<TimestampLit>,
    },
    /// `reached J.STEP [at T]` / `not reached J.STEP`.
    Reached {
        /// False for `not reached`.
        positive: bool,
        /// `journey.label`.
        step: Path,
        /// Time.
        at: Option<TimestampLit>,
    },
    /// `goal [J.]G [at T]` / `no goal [J.]G`.
    Goal {
        /// False for `no goal`.
        positive: bool,
        /// `goal` or `journey.goal`.
        goal: Path,
        /// Time.
        at: Option<TimestampLit>,
    },
    /// `exit J [at T]`.
    Exit {
        /// Journey.
        journey: Ident,
        /// Time.
        at: Option<TimestampLit>,
    },
    /// `scenario SEG [in J]`.
    Scenario {
        /// Segment of the arm.
        segment: Ident,
        /// Journey.
        journey: Option<Ident>,
    },
    /// `variant EXP.VARIANT` (`EXP.holdout` for the holdout).
    Variant(Path),
    /// `emit E [at T]`.
    Emit {
        /// Event.
        event: Ident,
        /// Time.
        at: Option<TimestampLit>,
    },
    /// `entered J [at T]` / `not entered J`.
    Entered {
        /// False for `not entered`.
        positive: bool,
        /// Journey.
        journey: Ident,
        /// Time.
        at: Option<TimestampLit>,
    },
}

/// An expression.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Expression kinds.
#[derive(Debug, Clone, Serialize)]
pub enum ExprKind {
    /// A number.
    Number(f64),
    /// A string, possibly interpolated.
    String(StringLit),
    /// `true` / `false`.
    Bool(bool),
    /// `2027-01-04`.
    Date(DateLit),
    /// `2027-01-04 09:00`.
    Timestamp(TimestampLit),
    /// `7 days` or `6 months`.
    Duration(DurationLit),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `profile.age`, `signup.plan`, `jeune`, `offer.title`.
    Path(Path),
    /// `f(args)`.
    Call(Ident, Vec<Expr>),
    /// `count(e where c over last 30 days)`.
    Aggregate(Box<Aggregate>),
    /// Unary operator.
    Unary(UnaryOp, Box<Expr>),
    /// Binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// `not`.
    Not,
    /// `-`.
    Neg,
}

/// Binary operators, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`.
    In,
    /// `not in`.
    NotIn,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
}

/// A dotted path: `profile.age`, `signup.plan`, `jeune`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Path {
    /// The segments.
    pub segments: Vec<Ident>,
    /// Whole path.
    pub span: Span,
}

/// An aggregate over the event history.
#[derive(Debug, Clone, Serialize)]
pub struct Aggregate {
    /// The function.
    pub func: AggFn,
    /// Function name span.
    pub func_span: Span,
    /// `event` or `event.property`.
    pub target: Path,
    /// `where` filter.
    pub filter: Option<Expr>,
    /// `over last D` window (none: all retained history).
    pub window: Option<DurationLit>,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AggFn {
    /// Number of occurrences.
    Count,
    /// Sum of a number property.
    Sum,
    /// Mean of a number property.
    Avg,
    /// Minimum of a number property.
    Min,
    /// Maximum of a number property.
    Max,
    /// The property of the most recent occurrence.
    Last,
}

/// A string literal: literal text and interpolations.
#[derive(Debug, Clone, Serialize)]
pub struct StringLit {
    /// Pieces in order.
    pub pieces: Vec<StrPiece>,
    /// Whole literal, quotes included.
    pub span: Span,
}

impl StringLit {
    /// The text if the literal has no interpolation.
    pub fn plain(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                StrPiece::Text(t) => out.push_str(t),
                StrPiece::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

/// A piece of a string literal.
#[derive(Debug, Clone, Serialize)]
pub enum StrPiece {
    /// Literal text, escapes resolved.
    Text(String),
    /// `{expr}`.
    Interp(Expr),
}

/// `N unit`, kept as written; the compiler decides whether it is a duration or a calendar offset.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DurationLit {
    /// The count as written (may be fractional: `1.5 hours`).
    pub count: f64,
    /// The unit.
    pub unit: TimeUnit,
    /// Where written.
    pub span: Span,
}

/// Units of `N unit` literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TimeUnit {
    /// Seconds (duration).
    Second,
    /// Minutes (duration).
    Minute,
    /// Hours (duration).
    Hour,
    /// Days of 24 hours (duration).
    Day,
    /// Weeks of 7 × 24 hours (duration).
    Week,
    /// Calendar months (calendar offset).
    Month,
    /// Calendar years (calendar offset).
    Year,
}

impl TimeUnit {
    /// Seconds in one unit, or `None` for calendar units.
    pub fn seconds(self) -> Option<u64> {
        match self {
            TimeUnit::Second => Some(1),
            TimeUnit::Minute => Some(60),
            TimeUnit::Hour => Some(3_600),
            TimeUnit::Day => Some(86_400),
            TimeUnit::Week => Some(604_800),
            TimeUnit::Month | TimeUnit::Year => None,
        }
    }
}

/// `HH:MM` as written (validated by the compiler).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeLit {
    /// Hour as written.
    pub hour: u32,
    /// Minute as written.
    pub minute: u32,
    /// Where written.
    pub span: Span,
}

/// `YYYY-MM-DD` as written (validated by the compiler).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DateLit {
    /// Year.
    pub year: i32,
    /// Month as written.
    pub month: u32,
    /// Day as written.
    pub day: u32,
    /// Where written.
    pub span: Span,
}

/// `YYYY-MM-DD HH:MM` as written, in the customer's local time.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimestampLit {
    /// The date.
    pub date: DateLit,
    /// The time.
    pub time: TimeLit,
    /// Where written.
    pub span: Span,
}
