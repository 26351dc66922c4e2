//! Moving a syntax tree along its file.
//!
//! A declaration parsed on its own has spans that start at 0. When the same text turns up
//! again at another offset (the user typed above it), its cached tree is reused with every
//! span moved by the distance ([`Shift`]), which is far cheaper than parsing it again.
//! Structs are listed with all their fields and destructured without `..`, so a field added
//! to the tree and forgotten here is a compile error, not a wrong span.

use crate::SyntaxError;
use crate::ast::*;

/// Adds `by` bytes to every span of a tree.
pub(crate) trait Shift {
    /// Moves every span `by` bytes towards the end of the file (wrapping, so
    /// `0u32.wrapping_sub(n)` moves it `n` bytes towards the start).
    fn shift(&mut self, by: u32);
}

impl Shift for Span {
    fn shift(&mut self, by: u32) {
        // Wrapping: a move towards the start is a shift by the two's complement.
        self.start = self.start.wrapping_add(by);
        self.end = self.end.wrapping_add(by);
    }
}

/// Types without spans.
macro_rules! no_spans {
    ($($t:ty),* $(,)?) => {
        $(impl Shift for $t {
            fn shift(&mut self, _: u32) {}
        })*
    };
}

no_spans!(
    String,
    f64,
    i64,
    i32,
    u32,
    bool,
    UnaryOp,
    BinaryOp,
    AggFn,
    TimeUnit,
    CalendarUnit
);

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: u32) {
        if let Some(t) = self {
            t.shift(by);
        }
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: u32) {
        for t in self {
            t.shift(by);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: u32) {
        (**self).shift(by);
    }
}

impl<A: Shift, B: Shift> Shift for (A, B) {
    fn shift(&mut self, by: u32) {
        self.0.shift(by);
        self.1.shift(by);
    }
}

/// Structs: every field is shifted.
macro_rules! structs {
    ($($t:ident { $($f:ident),* $(,)? })*) => {
        $(impl Shift for $t {
            fn shift(&mut self, by: u32) {
                let $t { $($f),* } = self;
                $($f.shift(by);)*
            }
        })*
    };
}

structs! {
    Ident { text, span }
    File { items }
    Item { docs, kind, span }
    Import { path }
    Profile { keyword, fields }
    Field { docs, name, ty, default, span }
    TypeExpr { name, arg, optional, span }
    EventDecl { name, fields }
    SegmentDecl { name, condition }
    ChannelDecl { name, plugin, config, params, consent }
    ConfigEntry { key, value, span }
    TemplateDecl { name, channel, parts }
    TemplatePart { name, text }
    OfferDecl { name, eligible, priority, valid_from, valid_until, fields, repeated }
    PolicyDecl { name, rules }
    JourneyDecl { name, entries, reentry, exits, goals, body, close }
    Entry { trigger, condition, span }
    Goal { name, event, condition, within, after, span }
    Stmt { label, critical, kind, span }
    Send { channel, message, args, args_span, offer }
    Argument { name, value }
    WaitFor { event, condition, timeout, on_timeout }
    Block { stmts, span }
    If { condition, then, otherwise }
    Scenario { arms, otherwise }
    Experiment { name, variants, holdouts }
    Variant { name, percent, body }
    TimelineEntry { offset, at, body, span }
    CalendarOffset { unit, count, span }
    TestDecl { name, items }
    Expr { kind, span }
    Path { segments, span }
    Aggregate { func, func_span, target, filter, window }
    StringLit { pieces, span }
    DurationLit { count, unit, span }
    TimeLit { hour, minute, span }
    DateLit { year, month, day, span }
    TimestampLit { date, time, span }
    SyntaxError { span, message, expected, help }
}

impl Shift for ItemKind {
    fn shift(&mut self, by: u32) {
        match self {
            ItemKind::Import(x) => x.shift(by),
            ItemKind::Profile(x) => x.shift(by),
            ItemKind::Event(x) => x.shift(by),
            ItemKind::Segment(x) => x.shift(by),
            ItemKind::Channel(x) => x.shift(by),
            ItemKind::Template(x) => x.shift(by),
            ItemKind::Offer(x) => x.shift(by),
            ItemKind::Policy(x) => x.shift(by),
            ItemKind::Journey(x) => x.shift(by),
            ItemKind::Test(x) => x.shift(by),
        }
    }
}

impl Shift for ConfigValue {
    fn shift(&mut self, by: u32) {
        match self {
            ConfigValue::Literal(e) => e.shift(by),
            ConfigValue::Env(s) | ConfigValue::Secret(s) => s.shift(by),
        }
    }
}

impl Shift for PolicyRule {
    fn shift(&mut self, by: u32) {
        match self {
            PolicyRule::Cap {
                max,
                channel,
                window,
                span,
            } => {
                max.shift(by);
                channel.shift(by);
                window.shift(by);
                span.shift(by);
            }
            PolicyRule::Quiet {
                from,
                to,
                channels,
                span,
            } => {
                from.shift(by);
                to.shift(by);
                channels.shift(by);
                span.shift(by);
            }
            PolicyRule::Priority(names, span) | PolicyRule::Exempt(names, span) => {
                names.shift(by);
                span.shift(by);
            }
        }
    }
}

impl Shift for Trigger {
    fn shift(&mut self, by: u32) {
        match self {
            Trigger::Event(e) => e.shift(by),
            Trigger::Segment { entering, segment } => {
                entering.shift(by);
                segment.shift(by);
            }
            Trigger::Yearly { date, at } => {
                date.shift(by);
                at.shift(by);
            }
            Trigger::Monthly { day, at } => {
                day.shift(by);
                at.shift(by);
            }
            Trigger::Weekly { weekday, at } => {
                weekday.shift(by);
                at.shift(by);
            }
            Trigger::Daily { at } => at.shift(by),
            Trigger::Api => {}
        }
    }
}

impl Shift for Reentry {
    fn shift(&mut self, by: u32) {
        match self {
            Reentry::Never(s) | Reentry::AfterExit(s) => s.shift(by),
            Reentry::After(d, s) => {
                d.shift(by);
                s.shift(by);
            }
        }
    }
}

impl Shift for ExitClause {
    fn shift(&mut self, by: u32) {
        match self {
            ExitClause::On {
                event,
                condition,
                span,
            } => {
                event.shift(by);
                condition.shift(by);
                span.shift(by);
            }
            ExitClause::When(e, s) => {
                e.shift(by);
                s.shift(by);
            }
            ExitClause::After(d, s) => {
                d.shift(by);
                s.shift(by);
            }
        }
    }
}

impl Shift for StmtKind {
    fn shift(&mut self, by: u32) {
        match self {
            StmtKind::Send(x) => x.shift(by),
            StmtKind::Wait(x) => x.shift(by),
            StmtKind::WaitUntil { weekday, at } => {
                weekday.shift(by);
                at.shift(by);
            }
            StmtKind::WaitFor(x) => x.shift(by),
            StmtKind::If(x) => x.shift(by),
            StmtKind::Scenario(x) => x.shift(by),
            StmtKind::Experiment(x) => x.shift(by),
            StmtKind::Timeline(x) => x.shift(by),
            StmtKind::Set { target, value } => {
                target.shift(by);
                value.shift(by);
            }
            StmtKind::Emit { event, args } => {
                event.shift(by);
                args.shift(by);
            }
            StmtKind::Exit => {}
        }
    }
}

impl Shift for Message {
    fn shift(&mut self, by: u32) {
        match self {
            Message::Template(i) => i.shift(by),
            Message::External(s) | Message::Inline(s) => s.shift(by),
        }
    }
}

impl Shift for OfferChoice {
    fn shift(&mut self, by: u32) {
        match self {
            OfferChoice::Best(names, span) => {
                names.shift(by);
                span.shift(by);
            }
            OfferChoice::Named(i) => i.shift(by),
        }
    }
}

impl Shift for TestItem {
    fn shift(&mut self, by: u32) {
        match self {
            TestItem::Profile(args, span) => {
                args.shift(by);
                span.shift(by);
            }
            TestItem::Customer(s) => s.shift(by),
            TestItem::Event {
                at,
                event,
                args,
                span,
            } => {
                at.shift(by);
                event.shift(by);
                args.shift(by);
                span.shift(by);
            }
            TestItem::Set {
                at,
                target,
                value,
                span,
            } => {
                at.shift(by);
                target.shift(by);
                value.shift(by);
                span.shift(by);
            }
            TestItem::Enter { at, journey, span } => {
                at.shift(by);
                journey.shift(by);
                span.shift(by);
            }
            TestItem::RunUntil(t, s) => {
                t.shift(by);
                s.shift(by);
            }
            TestItem::Expect(e, s) => {
                e.shift(by);
                s.shift(by);
            }
        }
    }
}

impl Shift for Expectation {
    fn shift(&mut self, by: u32) {
        match self {
            Expectation::Send {
                positive,
                channel,
                message,
                at,
            } => {
                positive.shift(by);
                channel.shift(by);
                message.shift(by);
                at.shift(by);
            }
            Expectation::Reached { positive, step, at } => {
                positive.shift(by);
                step.shift(by);
                at.shift(by);
            }
            Expectation::Goal { positive, goal, at } => {
                positive.shift(by);
                goal.shift(by);
                at.shift(by);
            }
            Expectation::Exit { journey, at } => {
                journey.shift(by);
                at.shift(by);
            }
            Expectation::Scenario { segment, journey } => {
                segment.shift(by);
                journey.shift(by);
            }
            Expectation::Variant(p) => p.shift(by),
            Expectation::Emit { event, at } => {
                event.shift(by);
                at.shift(by);
            }
            Expectation::Entered {
                positive,
                journey,
                at,
            } => {
                positive.shift(by);
                journey.shift(by);
                at.shift(by);
            }
        }
    }
}

impl Shift for ExprKind {
    fn shift(&mut self, by: u32) {
        match self {
            ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::String(s) => s.shift(by),
            ExprKind::Date(d) => d.shift(by),
            ExprKind::Timestamp(t) => t.shift(by),
            ExprKind::Duration(d) => d.shift(by),
            ExprKind::List(items) => items.shift(by),
            ExprKind::Path(p) => p.shift(by),
            ExprKind::Call(name, args) => {
                name.shift(by);
                args.shift(by);
            }
            ExprKind::Aggregate(a) => a.shift(by),
            ExprKind::Unary(op, e) => {
                op.shift(by);
                e.shift(by);
            }
            ExprKind::Binary(op, l, r) => {
                op.shift(by);
                l.shift(by);
                r.shift(by);
            }
        }
    }
}

impl Shift for StrPiece {
    fn shift(&mut self, by: u32) {
        match self {
            StrPiece::Text(_) => {}
            StrPiece::Interp(e) => e.shift(by),
        }
    }
}
