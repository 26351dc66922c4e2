//! The instruction set.
//!
//! A stack machine. Expression functions (segment conditions, filters, interpolations,
//! eligibility) end in [`Insn::Return`] with one value on the stack. Journey bodies and
//! timeline entries run effect instructions, suspend at waits, and end in [`Insn::End`]
//! or [`Insn::Exit`]. Every effect names the [`StepId`] it implements.

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::program::Pc;
use crate::value::TimeOfDay;

/// Binary operators of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinOp {
    /// `==` (absent equals only absent).
    Eq,
    /// `!=`.
    Ne,
    /// `<` (false when either side is absent).
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// Number addition, or timestamp/date plus duration.
    Add,
    /// Number subtraction, timestamp minus duration, or timestamp minus timestamp (a duration).
    Sub,
    /// Number multiplication, or duration times number.
    Mul,
    /// Number division (division by zero gives absent).
    Div,
    /// Membership of a value in a list, or of a substring in a string.
    In,
}

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Builtin {
    /// `len(list|string)`.
    Len,
    /// `lower(string)`.
    Lower,
    /// `upper(string)`.
    Upper,
    /// `contains(list|string, x)`.
    Contains,
    /// `is_set(optional)`.
    IsSet,
    /// `coalesce(optional, default)`.
    Coalesce,
    /// `days_since(timestamp|date)`: whole days elapsed, in the customer's time zone.
    DaysSince,
    /// `years_since(date)`: whole years elapsed (an age).
    YearsSince,
    /// `round(number)`.
    Round,
}

impl Builtin {
    /// Every built-in, for lookups and documentation.
    pub const ALL: [Builtin; 9] = [
        Builtin::Len,
        Builtin::Lower,
        Builtin::Upper,
        Builtin::Contains,
        Builtin::IsSet,
        Builtin::Coalesce,
        Builtin::DaysSince,
        Builtin::YearsSince,
        Builtin::Round,
    ];

    /// The name used in source.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Len => "len",
            Builtin::Lower => "lower",
            Builtin::Upper => "upper",
            Builtin::Contains => "contains",
            Builtin::IsSet => "is_set",
            Builtin::Coalesce => "coalesce",
            Builtin::DaysSince => "days_since",
            Builtin::YearsSince => "years_since",
            Builtin::Round => "round",
        }
    }
}

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Insn {
    // ---- values
    /// Push a constant.
    Const(ConstId),
    /// Push a profile attribute.
    Attr(AttrId),
    /// Push a property of the event in scope (entry event, awaited event, or filtered occurrence).
    EventProp(EventId, u16),
    /// Push a display field of the offer chosen for the current send.
    OfferField(ConstId),
    /// Push whether the customer is in a segment.
    Segment(SegmentId),
    /// Push the current value of an aggregate.
    Aggregate(AggId),
    /// Push the current instant.
    Now,
    /// Logical not.
    Not,
    /// Numeric negation.
    Neg,
    /// Binary operator on the two top values.
    Bin(BinOp),
    /// Build a list from the top N values.
    MakeList(u16),
    /// Call a built-in with N arguments.
    Call(Builtin, u8),
    /// Format the top value as text (for interpolation).
    ToText,
    /// Discard the top value.
    Pop,

    // ---- control
    /// Jump.
    Jump(Pc),
    /// Pop; jump if false.
    JumpIfFalse(Pc),
    /// If the top is false, jump and keep it; else pop it (`and`).
    JumpIfFalseOrPop(Pc),
    /// If the top is true, jump and keep it; else pop it (`or`).
    JumpIfTrueOrPop(Pc),
    /// End of an expression function: the top value is the result.
    Return,

    // ---- effects
    /// Record that a step took a branch (arm index into the step's `arms`).
    Branch(StepId, u16),
    /// Record that the critical moment was reached.
    Critical(StepId),
    /// Send (parameter values on the stack).
    Send(SendId),
    /// Suspend for an exact duration in seconds (constant).
    Wait(StepId, ConstId),
    /// Suspend for whole calendar months (same local time of day, clamped to month end).
    WaitMonths(StepId, u32),
    /// Suspend until the next local time (weekday 0 = Monday .. 6 = Sunday, 7 = any day).
    WaitUntil(StepId, u8, TimeOfDay),
    /// Suspend until an event or the timeout.
    WaitEvent(WaitId),
    /// Pop a value into a profile attribute.
    Set(StepId, AttrId),
    /// Emit an event (property values on the stack).
    Emit(EmitId),
    /// Assign the customer to a variant (sticky) and jump to it.
    Split(ExperimentId),
    /// Open a goal's conversion window here.
    OpenGoal(GoalId),
    /// End the journey for this customer.
    Exit(StepId),
    /// End of a body or timeline entry.
    End,
}

impl Builtin {
    /// The number of arguments it takes (the `N` of [`Insn::Call`]).
    pub fn arity(self) -> u8 {
        match self {
            Builtin::Contains | Builtin::Coalesce => 2,
            Builtin::Len
            | Builtin::Lower
            | Builtin::Upper
            | Builtin::IsSet
            | Builtin::DaysSince
            | Builtin::YearsSince
            | Builtin::Round => 1,
        }
    }
}

impl BinOp {
    /// The mnemonic used in listings (`eq`, `add`, ...).
    pub fn mnemonic(self) -> &'static str {
        match self {
            BinOp::Eq => "eq",
            BinOp::Ne => "ne",
            BinOp::Lt => "lt",
            BinOp::Le => "le",
            BinOp::Gt => "gt",
            BinOp::Ge => "ge",
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::In => "in",
        }
    }
}

impl Insn {
    /// The mnemonic used in listings and messages (`jump_if_false`, `send`, ...).
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Insn::Const(_) => "const",
            Insn::Attr(_) => "attr",
            Insn::EventProp(..) => "event_prop",
            Insn::OfferField(_) => "offer_field",
            Insn::Segment(_) => "seg",
            Insn::Aggregate(_) => "agg",
            Insn::Now => "now",
            Insn::Not => "not",
            Insn::Neg => "neg",
            Insn::Bin(op) => op.mnemonic(),
            Insn::MakeList(_) => "make_list",
            Insn::Call(..) => "call",
            Insn::ToText => "to_text",
            Insn::Pop => "pop",
            Insn::Jump(_) => "jump",
            Insn::JumpIfFalse(_) => "jump_if_false",
            Insn::JumpIfFalseOrPop(_) => "jump_if_false_or_pop",
            Insn::JumpIfTrueOrPop(_) => "jump_if_true_or_pop",
            Insn::Return => "return",
            Insn::Branch(..) => "branch",
            Insn::Critical(_) => "critical",
            Insn::Send(_) => "send",
            Insn::Wait(..) => "wait",
            Insn::WaitMonths(..) => "wait_months",
            Insn::WaitUntil(..) => "wait_until",
            Insn::WaitEvent(_) => "wait_event",
            Insn::Set(..) => "set",
            Insn::Emit(_) => "emit",
            Insn::Split(_) => "split",
            Insn::OpenGoal(_) => "open_goal",
            Insn::Exit(_) => "exit",
            Insn::End => "end",
        }
    }

    /// Whether execution never continues at the next instruction: [`Insn::Return`],
    /// [`Insn::End`], [`Insn::Exit`], [`Insn::Jump`] and [`Insn::Split`] (which jumps to a
    /// variant or to the experiment's `after`).
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Insn::Return | Insn::End | Insn::Exit(_) | Insn::Jump(_) | Insn::Split(_)
        )
    }
}
