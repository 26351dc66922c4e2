//! The interpreter: expression functions (pure, over one customer's state) and the value and
//! control instructions that journey threads share with them.

use std::sync::Arc;

use jiff::tz::TimeZone;
use journey_bytecode::{BinOp, Builtin, Const, EventId, Insn, OfferId, Pc, Program};

use crate::customer::{Customer, EventData};
use crate::segments::aggregate_value;
use crate::time::{self, Instant};
use crate::value::Value;

/// Instructions one function may run before it is stopped (compiled code has no loops, so
/// this only guards against a corrupted program).
pub(crate) const FUEL: u32 = 100_000;

/// What an expression can read.
pub(crate) struct Env<'a> {
    pub program: &'a Program,
    pub consts: &'a [Value],
    pub customer: &'a Customer,
    /// The customer's attribute values (see [`crate::Engine::profile`]).
    pub profile: &'a [Value],
    pub tz: &'a TimeZone,
    pub scope: &'a [Arc<EventData>],
    /// An event that takes precedence over the scope (the candidate of a filter).
    pub candidate: Option<&'a EventData>,
    pub offer: Option<OfferId>,
    pub now: Instant,
    /// When explaining: the values read, to show what decided a branch.
    pub reads: Option<&'a std::cell::RefCell<Vec<(String, Value)>>>,
}

/// What a value or control instruction asks of its caller.
pub(crate) enum Step {
    /// Go on with the next instruction.
    Next,
    /// Continue at this pc.
    Jump(Pc),
    /// A function returned.
    Return,
    /// Not a value or control instruction: the caller executes it.
    Effect,
}

impl Env<'_> {
    /// The latest occurrence of an event readable here (the candidate first).
    pub(crate) fn event(&self, event: EventId) -> Option<&EventData> {
        if let Some(c) = self.candidate.filter(|c| c.event == event) {
            return Some(c);
        }
        self.scope
            .iter()
            .rev()
            .find(|e| e.event == event)
            .map(|e| e.as_ref())
    }

    /// A constant's value (timestamps in the customer's zone).
    pub(crate) fn constant(&self, id: journey_bytecode::ConstId) -> Value {
        match self.program.consts.get(id) {
            Some(Const::Timestamp(d, t)) => Value::Timestamp(time::civil_to_instant(
                journey_bytecode::Civil { date: *d, time: *t },
                self.tz,
            )),
            _ => self
                .consts
                .get(id.as_u32() as usize)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Runs a function from `entry` to its `Return`; its value.
    pub(crate) fn call(&self, entry: Pc, stack: &mut Vec<Value>) -> Value {
        self.call_counted(entry, stack).0
    }

    /// Runs a function from `entry` to its `Return`; its value and the instructions executed.
    pub(crate) fn call_counted(&self, entry: Pc, stack: &mut Vec<Value>) -> (Value, u64) {
        let base = stack.len();
        let mut pc = entry as usize;
        let mut fuel = FUEL;
        while let Some(insn) = self.program.code.get(pc) {
            fuel = fuel.saturating_sub(1);
            if fuel == 0 {
                break;
            }
            match self.exec(insn, stack) {
                Step::Next => pc += 1,
                Step::Jump(t) => pc = t as usize,
                Step::Return => {
                    let v = if stack.len() > base {
                        stack.pop().unwrap_or_default()
                    } else {
                        Value::None
                    };
                    stack.truncate(base);
                    return (v, u64::from(FUEL - fuel));
                }
                Step::Effect => break,
            }
        }
        stack.truncate(base);
        (Value::None, u64::from(FUEL - fuel))
    }

    /// Records a value read, when explaining.
    fn note(&self, insn: &Insn, v: &Value) {
        let Some(reads) = self.reads else { return };
        let p = self.program;
        let name = match *insn {
            Insn::Attr(a) => p.attributes.get(a).map(|x| format!("profile.{}", x.name)),
            Insn::EventProp(e, i) => p.events.get(e).and_then(|ev| {
                ev.props
                    .get(i as usize)
                    .map(|pr| format!("{}.{}", ev.name, pr.name))
            }),
            Insn::Segment(s) => p.segments.get(s).map(|x| x.name.clone()),
            Insn::Aggregate(a) => p.aggregates.get(a).map(|x| {
                let ev = p
                    .events
                    .get(x.event)
                    .map(|e| e.name.as_str())
                    .unwrap_or("?");
                let prop = x
                    .prop
                    .and_then(|i| p.events.get(x.event).and_then(|e| e.props.get(i as usize)))
                    .map(|pr| format!(".{}", pr.name))
                    .unwrap_or_default();
                let window = x
                    .window_secs
                    .map(|w| format!(" over last {}", crate::stats::fmt_secs(w)))
                    .unwrap_or_default();
                format!("{}({ev}{prop}{window})", x.func.name())
            }),
            _ => None,
        };
        if let Some(name) = name {
            let mut r = reads.borrow_mut();
            if !r.iter().any(|(n, _)| *n == name) {
                r.push((name, v.clone()));
            }
        }
    }

    /// Executes one value or control instruction.
    pub(crate) fn exec(&self, insn: &Insn, stack: &mut Vec<Value>) -> Step {
        if self.reads.is_some()
            && matches!(
                insn,
                Insn::Attr(_) | Insn::EventProp(..) | Insn::Segment(_) | Insn::Aggregate(_)
            )
        {
            let step = self.exec_inner(insn, stack);
            if let Some(v) = stack.last() {
                self.note(insn, v);
            }
            return step;
        }
        self.exec_inner(insn, stack)
    }

    fn exec_inner(&self, insn: &Insn, stack: &mut Vec<Value>) -> Step {
        match *insn {
            Insn::Const(c) => stack.push(self.constant(c)),
            Insn::Attr(a) => stack.push(
                self.profile
                    .get(a.as_u32() as usize)
                    .cloned()
                    .unwrap_or_default(),
            ),
            Insn::EventProp(e, i) => {
                let v = self
                    .event(e)
                    .and_then(|d| d.prop(i))
                    .cloned()
                    .unwrap_or_default();
                stack.push(v);
            }
            Insn::OfferField(c) => stack.push(self.offer_field(c)),
            Insn::Segment(s) => stack.push(Value::Bool(self.segment(s))),
            Insn::Aggregate(a) => {
                stack.push(aggregate_value(self.program, self.customer, a, self.now))
            }
            Insn::Now => stack.push(Value::Timestamp(self.now)),
            Insn::Not => {
                let v = stack.pop().unwrap_or_default();
                stack.push(Value::Bool(!v.truthy()));
            }
            Insn::Neg => {
                let v = match stack.pop().unwrap_or_default() {
                    Value::Number(n) => Value::Number(-n),
                    Value::Duration(d) => Value::Duration(-d),
                    _ => Value::None,
                };
                stack.push(v);
            }
            Insn::Bin(op) => {
                let r = stack.pop().unwrap_or_default();
                let l = stack.pop().unwrap_or_default();
                stack.push(binary(op, l, r));
            }
            Insn::MakeList(n) => {
                let at = stack.len().saturating_sub(n as usize);
                let items = Value::list(stack.drain(at..));
                stack.push(items);
            }
            Insn::Call(b, n) => {
                let at = stack.len().saturating_sub(n as usize);
                let args: Vec<Value> = stack.drain(at..).collect();
                stack.push(self.builtin(b, &args));
            }
            Insn::ToText => {
                let v = stack.pop().unwrap_or_default();
                stack.push(self.to_text(v));
            }
            Insn::Pop => {
                stack.pop();
            }
            Insn::Jump(t) => return Step::Jump(t),
            Insn::JumpIfFalse(t) => {
                if !stack.pop().unwrap_or_default().truthy() {
                    return Step::Jump(t);
                }
            }
            Insn::JumpIfFalseOrPop(t) => {
                if !stack.last().is_some_and(Value::truthy) {
                    return Step::Jump(t);
                }
                stack.pop();
            }
            Insn::JumpIfTrueOrPop(t) => {
                if stack.last().is_some_and(Value::truthy) {
                    return Step::Jump(t);
                }
                stack.pop();
            }
            Insn::Return => return Step::Return,
            _ => return Step::Effect,
        }
        Step::Next
    }

    /// A display field of the offer chosen for the current send (absent without one).
    pub(crate) fn offer_field(&self, c: journey_bytecode::ConstId) -> Value {
        let field = match self.program.consts.get(c) {
            Some(Const::String(s)) => s.as_str(),
            _ => "",
        };
        self.offer
            .and_then(|o| self.program.offers.get(o))
            .map(|o| {
                if field == "name" {
                    Value::text(&o.name)
                } else {
                    o.fields
                        .iter()
                        .find(|(k, _)| k == field)
                        .map(|(_, v)| Value::text(v))
                        .unwrap_or_default()
                }
            })
            .unwrap_or_default()
    }

    /// Whether the customer is in a segment.
    pub(crate) fn segment(&self, s: journey_bytecode::SegmentId) -> bool {
        self.customer
            .segments
            .get(s.as_u32() as usize)
            .copied()
            .unwrap_or(false)
    }

    /// A value as interpolated text (instants in the customer's zone).
    pub(crate) fn to_text(&self, v: Value) -> Value {
        let s = match v {
            Value::Timestamp(t) => time::format_local(t, self.tz, false),
            other => other.render(),
        };
        Value::String(s.into())
    }

    /// A built-in applied to its arguments.
    pub(crate) fn builtin(&self, b: Builtin, args: &[Value]) -> Value {
        let a0 = args.first().cloned().unwrap_or_default();
        let a1 = args.get(1).cloned().unwrap_or_default();
        match b {
            Builtin::Len => match a0 {
                Value::List(l) => Value::Number(l.len() as f64),
                Value::String(s) => Value::Number(s.chars().count() as f64),
                _ => Value::None,
            },
            Builtin::Lower => match a0 {
                Value::String(s) => Value::text(&s.to_lowercase()),
                _ => Value::None,
            },
            Builtin::Upper => match a0 {
                Value::String(s) => Value::text(&s.to_uppercase()),
                _ => Value::None,
            },
            Builtin::Contains => match (&a0, &a1) {
                (Value::List(l), x) => Value::Bool(l.iter().any(|v| v.equals(x))),
                (Value::String(s), Value::String(x)) => Value::Bool(s.contains(x.as_str())),
                _ => Value::Bool(false),
            },
            Builtin::IsSet => Value::Bool(!matches!(a0, Value::None)),
            Builtin::Coalesce => {
                if matches!(a0, Value::None) {
                    a1
                } else {
                    a0
                }
            }
            Builtin::DaysSince => match a0 {
                Value::Timestamp(t) => {
                    Value::Number(time::days_between(t, self.now, self.tz) as f64)
                }
                Value::Date(d) => Value::Number(time::days_between(
                    time::date_to_instant(d, self.tz),
                    self.now,
                    self.tz,
                ) as f64),
                _ => Value::None,
            },
            Builtin::YearsSince => match a0 {
                Value::Date(d) => Value::Number(time::years_since(d, self.now, self.tz) as f64),
                Value::Timestamp(t) => {
                    Value::Number(
                        time::years_since(time::date_of(t, self.tz), self.now, self.tz) as f64,
                    )
                }
                _ => Value::None,
            },
            Builtin::Round => match a0 {
                Value::Number(n) => Value::Number(n.round()),
                _ => Value::None,
            },
        }
    }
}

/// A binary operator on two values. Absent values compare false and compute absent.
pub(crate) fn binary(op: BinOp, l: Value, r: Value) -> Value {
    match op {
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In => {
            Value::Bool(compare_op(op, &l, &r))
        }
        BinOp::Add => match (l, r) {
            (Value::Number(a), Value::Number(b)) => Value::Number(a + b),
            (Value::String(a), Value::String(b)) => {
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(&a);
                s.push_str(&b);
                Value::String(s.into())
            }
            (Value::Timestamp(t), Value::Duration(d))
            | (Value::Duration(d), Value::Timestamp(t)) => Value::Timestamp(t.saturating_add(d)),
            (Value::Date(dt), Value::Duration(d)) => shift_date(dt, d),
            (Value::Duration(a), Value::Duration(b)) => Value::Duration(a.saturating_add(b)),
            _ => Value::None,
        },
        BinOp::Sub => match (l, r) {
            (Value::Number(a), Value::Number(b)) => Value::Number(a - b),
            (Value::Timestamp(t), Value::Duration(d)) => Value::Timestamp(t.saturating_sub(d)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Value::Duration(a.saturating_sub(b)),
            (Value::Date(dt), Value::Duration(d)) => shift_date(dt, d.saturating_neg()),
            (Value::Duration(a), Value::Duration(b)) => Value::Duration(a.saturating_sub(b)),
            _ => Value::None,
        },
        BinOp::Mul => match (l, r) {
            (Value::Number(a), Value::Number(b)) => Value::Number(a * b),
            (Value::Duration(d), Value::Number(n)) | (Value::Number(n), Value::Duration(d)) => {
                Value::Duration((d as f64 * n) as i64)
            }
            _ => Value::None,
        },
        BinOp::Div => match (l, r) {
            (Value::Number(_), Value::Number(0.0)) => Value::None,
            (Value::Number(a), Value::Number(b)) => Value::Number(a / b),
            (Value::Duration(d), Value::Number(n)) if n != 0.0 => {
                Value::Duration((d as f64 / n) as i64)
            }
            _ => Value::None,
        },
    }
}

/// A comparison operator (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`) on two values read in
/// place; `false` for an arithmetic operator (which [`binary`] computes).
#[inline(always)]
pub(crate) fn compare_op(op: BinOp, l: &Value, r: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => l.equals(r),
        BinOp::Ne => !l.equals(r),
        BinOp::Lt => l.compare(r) == Some(Less),
        BinOp::Le => matches!(l.compare(r), Some(Less | Equal)),
        BinOp::Gt => l.compare(r) == Some(Greater),
        BinOp::Ge => matches!(l.compare(r), Some(Greater | Equal)),
        BinOp::In => match (l, r) {
            (x, Value::List(items)) => items.iter().any(|v| v.equals(x)),
            (Value::String(x), Value::String(s)) => s.contains(x.as_str()),
            _ => false,
        },
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => false,
    }
}

/// A date moved by whole days of a duration.
fn shift_date(d: journey_bytecode::Date, secs: i64) -> Value {
    let days = secs.div_euclid(86_400);
    let Ok(date) = jiff::civil::Date::new(d.year, d.month as i8, d.day as i8) else {
        return Value::None;
    };
    match date.checked_add(jiff::Span::new().days(days.clamp(-3_000_000, 3_000_000))) {
        Ok(n) => Value::Date(journey_bytecode::Date {
            year: n.year(),
            month: n.month() as u8,
            day: n.day() as u8,
        }),
        Err(_) => Value::None,
    }
}
