//! When a customer's conditions can next change value with no event.
//!
//! Between two inputs for a customer, only two things move: windowed aggregates (an
//! occurrence leaves its window) and what reads the clock (`days_since` and `years_since`
//! count whole local days and years, so their value moves at a local midnight). The engine
//! keeps one recheck timer per customer for segment membership and `exit when` conditions.
//! Firing it at every instant an occurrence leaves a window and at every local midnight is
//! correct, but a customer with a daily event then gets a recheck almost every day that
//! changes nothing.
//!
//! [`Drift`] reads a condition's tree and answers with an instant before which its value
//! cannot change, or `None` if it never changes by time alone:
//! - a constant, an attribute, an event property: never;
//! - a windowed aggregate: when its oldest occurrence still inside leaves;
//! - `count(..) op k` and `sum(..) op k` with `op` one of `<`, `<=`, `>`, `>=` and a number
//!   `k`: a windowed count only decreases as time passes, and so does a windowed sum whose
//!   values are none negative or NaN. The comparison then flips at most once, at the instant
//!   found by going back from the newest occurrence; if it does not flip before the window
//!   is empty, never;
//! - `count(..)` or `sum(..)` with any other comparison with a number (`==`, `!=`), `in` a
//!   list of numbers, or over values of both signs: as occurrences leave, oldest first, the
//!   aggregate takes the totals of the newest ones, so the answer changes when the first
//!   occurrence leaves after which it differs (found going over the whole window);
//! - `days_since(x) op k` and `years_since(x) op k`, where `x` does not move with time
//!   (constants, attributes) and `op k` compares with a number (any comparison) or is `in` a
//!   list of numbers: the value only grows, one whole number at a local midnight, and a
//!   comparison with `n` can only change its answer at the whole numbers `ceil(n)` and
//!   `floor(n) + 1`; the answer changes at the local midnight where the value reaches the
//!   first of those, above the value now, that gives another answer (`> 30` once, `== 7` at
//!   day 7 and day 8, then never);
//! - `days_since` and `years_since` anywhere else: the next local midnight;
//! - `not`, `and`, `or`, operators and calls: the earliest of their operands;
//! - another segment: never here, since that segment, if it moves with time, is itself
//!   among those asked about (the caller takes the earliest answer of all of them);
//! - code with no tree ([`Drift::plain`]): the next expiry of any windowed aggregate, and
//!   the next instant the program's clock reads can change, as a plain recheck would.
//!
//! Every answer is no later than the first instant the value can change, so a recheck at
//! that instant sees every change a plain recheck would have seen.

use journey_bytecode::{AggFn, AggId, BinOp, Builtin, Pc, SegmentId};

use crate::expr::{Expr, Function};
use crate::segments::{self, RunningSum};
use crate::time::{self, Instant};
use crate::value::Value;
use crate::vm::{Env, compare_op};

/// The earlier of two optional instants (`None` is never).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// What a program's segment and `exit when` conditions read of the clock: what a plain
/// recheck must follow besides the windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClockReads {
    /// Nothing.
    #[default]
    Nothing,
    /// Whole days or years (`days_since`, `years_since`): values move at local midnights.
    Days,
    /// The instant itself (the `now` instruction): values can move at every second.
    Instant,
}

/// Answers, for one customer at one instant, when conditions can next change value with no
/// event (see the module documentation).
pub(crate) struct Drift<'a> {
    /// The customer, the clock and the customer's time zone: what evaluates the arguments
    /// of clock reads.
    env: Env<'a>,
    /// Expression trees by entry pc.
    trees: &'a [Option<Box<Function>>],
    /// The windowed aggregates whose expiries a plain recheck follows.
    windowed: &'a [AggId],
    /// What the program's conditions read of the clock.
    clock: ClockReads,
    /// The next expiry of any of [`Drift::windowed`], once computed.
    expiry: Option<Option<Instant>>,
}

impl<'a> Drift<'a> {
    /// A drift for the customer and instant of `env` (whose scope is not read).
    pub(crate) fn new(
        env: Env<'a>,
        trees: &'a [Option<Box<Function>>],
        windowed: &'a [AggId],
        clock: ClockReads,
    ) -> Drift<'a> {
        Drift {
            env,
            trees,
            windowed,
            clock,
            expiry: None,
        }
    }

    /// When the expression function at `pc` can next have another value with no event.
    pub(crate) fn condition(&mut self, pc: Pc) -> Option<Instant> {
        let trees = self.trees;
        match trees.get(pc as usize).and_then(Option::as_deref) {
            Some(f) => self.expr(&f.expr),
            None => self.plain(),
        }
    }

    /// When the membership of segment `s` can next change with no event, from its own
    /// condition.
    pub(crate) fn segment(&mut self, s: SegmentId) -> Option<Instant> {
        let program = self.env.program;
        program
            .segments
            .get(s)
            .and_then(|def| self.condition(def.condition))
    }

    /// The answer that holds for any condition: the next expiry of any windowed aggregate,
    /// or the next instant a clock read of the program can change, whichever is first.
    pub(crate) fn plain(&mut self) -> Option<Instant> {
        let expiry = match self.expiry {
            Some(t) => t,
            None => {
                let env = &self.env;
                let t = segments::next_expiry(env.program, env.customer, self.windowed, env.now);
                self.expiry = Some(t);
                t
            }
        };
        let clock = match self.clock {
            ClockReads::Nothing => None,
            ClockReads::Days => Some(self.next_day()),
            ClockReads::Instant => Some(self.env.now.saturating_add(1)),
        };
        earliest(expiry, clock)
    }

    /// The next local midnight of the customer: when whole days and years can next move.
    fn next_day(&self) -> Instant {
        time::next_local_day(self.env.now, self.env.tz)
    }

    fn expr(&mut self, e: &Expr) -> Option<Instant> {
        match e {
            Expr::Const(_)
            | Expr::ConstAt(_)
            | Expr::Attr(_)
            | Expr::EventProp(..)
            | Expr::OfferField(_) => None,
            Expr::Now => Some(self.env.now.saturating_add(1)),
            // Answered for itself (see the module documentation).
            Expr::Segment(_) => None,
            Expr::Aggregate(a) => {
                segments::expiry(self.env.program, self.env.customer, *a, self.env.now)
            }
            Expr::Not(x) | Expr::Neg(x) | Expr::ToText(x) => self.expr(x),
            Expr::Bin(op, pair) => {
                let (l, r) = &**pair;
                match self.threshold(*op, l, r) {
                    Some(t) => t,
                    None => {
                        let t = self.expr(l);
                        earliest(t, self.expr(r))
                    }
                }
            }
            Expr::And(pair, _) | Expr::Or(pair, _) => {
                let t = self.expr(&pair.0);
                earliest(t, self.expr(&pair.1))
            }
            Expr::List(xs) => {
                let mut t = None;
                for x in xs {
                    t = earliest(t, self.expr(x));
                }
                t
            }
            Expr::Call(b, args) => {
                let mut t = match b {
                    Builtin::DaysSince | Builtin::YearsSince => Some(self.next_day()),
                    _ => None,
                };
                for x in args {
                    t = earliest(t, self.expr(x));
                }
                t
            }
        }
    }

    /// `x op constant` (or the mirror) where `x` only moves one way with time (see the
    /// module documentation): `Some(answer)`. `None` for any other shape (the caller then
    /// takes the earliest of the operands).
    fn threshold(&self, op: BinOp, l: &Expr, r: &Expr) -> Option<Option<Instant>> {
        let (op, x, k) = match (l, r) {
            (x, Expr::Const(k)) => (op, x, k),
            (Expr::Const(k), x) => (mirror(op)?, x, k),
            _ => return None,
        };
        match x {
            Expr::Aggregate(a) if numeric_comparison(op, k) => self.window_threshold(op, *a, k),
            Expr::Call(b @ (Builtin::DaysSince | Builtin::YearsSince), args) => {
                self.clock_threshold(op, *b, args, k)
            }
            _ => None,
        }
    }

    /// `aggregate op k` over a windowed count or sum: its value only changes as occurrences
    /// leave, oldest first, so the values it takes until the next event are the totals of
    /// the newest occurrences.
    fn window_threshold(&self, op: BinOp, a: AggId, k: &Value) -> Option<Option<Instant>> {
        let (program, now) = (self.env.program, self.env.now);
        let def = program.aggregates.get(a)?;
        let w = def.window_secs?;
        let sum = match def.func {
            AggFn::Count => false,
            AggFn::Sum => true,
            _ => return None,
        };
        // No occurrence yet: the value stays what it is (zero) until an event.
        let Some(win) = self.env.customer.window(a) else {
            return Some(None);
        };
        let holds = |x: f64| compare_op(op, &Value::Number(x), k);
        let (count, total, ..) = segments::window_totals(win, w, now, false);
        let answer = holds(if sum { total } else { count as f64 });
        let from = now.saturating_sub(w as i64);
        let (mut n, mut acc) = (0u64, RunningSum::Fixed(0));
        let mut total_of_newest = |o: &(Instant, u32, f64, f64, f64)| {
            if sum {
                acc.change(o.2, 1);
                acc.total()
            } else {
                n += u64::from(o.1);
                Some(n as f64)
            }
        };
        let order = matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
        if order && (!sum || win.state.kept.as_ref()?.sum_only_decreases()) {
            // The value only decreases, down to zero when the window is empty, and the
            // comparison flips at most once: if it is the same now and then, it is the same
            // all along. Otherwise, going back from the newest occurrence, the first total
            // (of it and those newer) that gives the answer of now flips when it leaves.
            let when_empty = holds(0.0);
            if answer == when_empty {
                return Some(None);
            }
            // The same occurrence, found from the other end when that is the shorter walk:
            // the first to leave after which what remains no longer gives the answer of now.
            // From the newest, the walk adds up about `k`; from the oldest, it takes away
            // about `total - k` from the kept total.
            // Only with kept totals (a state read back has none until it is pruned) that
            // are exact.
            let kept = win.state.kept.as_ref().and_then(|kept| kept.inside(w, now));
            if let (Some((count, exact)), Value::Number(k)) = (kept, k)
                && exact.is_exact()
                && (if sum { total } else { count as f64 }) - k < *k
            {
                let (mut n, mut rest) = (count, RunningSum::of(exact));
                for o in win.occurrences() {
                    let remaining = if sum {
                        rest.change(o.2, -1);
                        rest.total()?
                    } else {
                        n = n.saturating_sub(u64::from(o.1));
                        n as f64
                    };
                    if holds(remaining) == when_empty {
                        return Some(Some(o.0.saturating_add(w as i64)));
                    }
                }
                return None;
            }
            for o in win.occurrences().rev() {
                if o.0 <= from {
                    break;
                }
                if holds(total_of_newest(&o)?) != when_empty {
                    return Some(Some(o.0.saturating_add(w as i64)));
                }
            }
            // Not reached when the totals and the walk agree; the plain answer otherwise.
            return None;
        }
        // Any comparison, any values: each occurrence, when it leaves, leaves the total of
        // those newer than it; the answer changes at the first departure (the oldest
        // occurrence, so the last one walked) after which it differs.
        let mut first = None;
        let mut after = 0.0;
        for o in win.occurrences().rev() {
            if o.0 <= from {
                break;
            }
            if holds(after) != answer {
                first = Some(o.0.saturating_add(w as i64));
            }
            after = total_of_newest(&o)?;
        }
        Some(first)
    }

    /// `days_since(x) op k` or `years_since(x) op k`, with `x` fixed and `op` a comparison
    /// with a number, or `in` a list of numbers. The value only grows, one whole number at a
    /// local midnight; for whole numbers, a comparison with `n` can only change its answer
    /// at `ceil(n)` or `floor(n) + 1`. So the answer changes at the first of those points,
    /// above the value now, where it differs from the answer now.
    fn clock_threshold(
        &self,
        op: BinOp,
        b: Builtin,
        args: &[Expr],
        k: &Value,
    ) -> Option<Option<Instant>> {
        let [arg] = args else { return None };
        if !numeric_comparison(op, k) || !fixed(arg) {
            return None;
        }
        let numbers: Vec<f64> = match k {
            Value::List(items) => items
                .iter()
                .filter_map(|v| match v {
                    Value::Number(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            &Value::Number(n) => vec![n],
            _ => return None,
        };
        let env = &self.env;
        let arg = arg.eval(env, &mut 0);
        let value_at = |now: Instant| {
            let at = Env { now, ..*env };
            at.builtin(b, std::slice::from_ref(&arg))
        };
        let holds = |v: &Value| compare_op(op, v, k);
        let now_value = value_at(env.now);
        // An absent value (no date): the comparison keeps its answer.
        let Value::Number(v) = now_value else {
            return Some(None);
        };
        let answer = holds(&now_value);
        let mut points: Vec<f64> = numbers
            .iter()
            .flat_map(|n| [n.ceil(), n.floor() + 1.0])
            .filter(|p| p.is_finite() && *p > v)
            .collect();
        points.sort_by(f64::total_cmp);
        let Some(target) = points
            .into_iter()
            .find(|p| holds(&Value::Number(*p)) != answer)
        else {
            return Some(None);
        };
        // Beyond the representable years, never; the cast saturates.
        let target = target as i64;
        let at = match (b, &arg) {
            (Builtin::DaysSince, &Value::Timestamp(t)) => time::day_reaching(t, target, env.tz),
            (Builtin::DaysSince, &Value::Date(d)) => {
                time::day_reaching(time::date_to_instant(d, env.tz), target, env.tz)
            }
            (Builtin::YearsSince, &Value::Date(d)) => time::birthday_reaching(d, target, env.tz),
            (Builtin::YearsSince, &Value::Timestamp(t)) => {
                time::birthday_reaching(time::date_of(t, env.tz), target, env.tz)
            }
            _ => return Some(None),
        };
        let Some(at) = at else {
            return Some(None);
        };
        // The value only grows: still below the target one second before means every value
        // until then is one where the answer is the same. Where a zone's dates do not run
        // as expected, the next midnight is always right.
        let before = match value_at(at - 1) {
            Value::Number(x) => x < target as f64,
            _ => false,
        };
        if at > env.now && before {
            Some(Some(at))
        } else {
            Some(Some(self.next_day()))
        }
    }
}

/// Whether `op k` compares a number with a number (`==`, `!=`, `<`, `<=`, `>`, `>=`) or is
/// `in` a list of numbers.
fn numeric_comparison(op: BinOp, k: &Value) -> bool {
    match (op, k) {
        (
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne,
            Value::Number(_),
        ) => true,
        (BinOp::In, Value::List(items)) => items.iter().all(|v| matches!(v, Value::Number(_))),
        _ => false,
    }
}

/// Whether `e` has the same value at every instant until the next input: it reads only
/// constants and attributes.
fn fixed(e: &Expr) -> bool {
    match e {
        Expr::Const(_) | Expr::ConstAt(_) | Expr::Attr(_) => true,
        Expr::Not(x) | Expr::Neg(x) | Expr::ToText(x) => fixed(x),
        Expr::Bin(_, pair) | Expr::And(pair, _) | Expr::Or(pair, _) => {
            fixed(&pair.0) && fixed(&pair.1)
        }
        Expr::List(xs) => xs.iter().all(fixed),
        Expr::Call(b, args) => {
            !matches!(b, Builtin::DaysSince | Builtin::YearsSince) && args.iter().all(fixed)
        }
        Expr::EventProp(..)
        | Expr::OfferField(_)
        | Expr::Segment(_)
        | Expr::Aggregate(_)
        | Expr::Now => false,
    }
}

/// `k op x` as `x op' k`.
fn mirror(op: BinOp) -> Option<BinOp> {
    Some(match op {
        BinOp::Eq => BinOp::Eq,
        BinOp::Ne => BinOp::Ne,
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cranelift_entity::EntityRef;
    use journey_bytecode::{AttrId, EventId, Program};
    use proptest::prelude::*;

    use crate::engine::{Config, Engine};
    use crate::time::{self, Instant};
    use crate::value::Value;

    const DAY: i64 = 86_400;

    /// Segments of every shape the drift answers: counts and sums against a number (either
    /// side), an equality (not monotone), an average, a mix with an attribute, `not`,
    /// segments over segments, whole days and years since an attribute (against a number, or
    /// not); each with journeys entered on entering and on leaving it. And a journey whose
    /// `exit when` reads windows and days that no segment reads.
    ///
    /// With `anywhere`, a segment and the `exit when` also read days where no threshold can
    /// be found (`years_since(..) + 3`): every customer is then rechecked at every local
    /// midnight, which would hide a late answer for the other shapes; hence the two programs.
    fn program(anywhere: bool) -> Arc<Program> {
        let segments = [
            ("a", "count(e over last 3 days) >= 2"),
            ("b", "sum(e.x over last 2 days) > 5"),
            ("c", "count(e where e.flag over last 4 days) == 0"),
            ("d", "not a and b"),
            ("f", "sum(e.x over last 2 days) <= 3 or profile.limit > 1"),
            ("g", "2 < count(e over last 1 days)"),
            ("h", "avg(e.x over last 2 days) >= 1"),
            ("k", "1.5 >= sum(e.x where e.flag over last 5 days)"),
            // Over another event: an `e` leaves its answer standing, and the other way round.
            ("m", "count(f over last 2 days) >= 2"),
            // The clock: whole days and years in the customer's time zone.
            ("n", "days_since(profile.seen) > 3"),
            (
                "p",
                "days_since(profile.seen) >= 2 and days_since(profile.seen) < 5",
            ),
            ("r", "years_since(profile.born) >= 1"),
            ("s", "3.5 >= days_since(profile.born) and profile.limit < 2"),
            // Comparisons that give another answer more than once.
            (
                "q",
                "days_since(profile.seen) in [1, 4] or count(f over last 1 days) > 1",
            ),
            (
                "u",
                "2 == days_since(profile.born) or years_since(profile.seen) != 0",
            ),
            (
                "v",
                "count(e over last 2 days) == 1 or sum(e.x over last 3 days) in [1, 2.5]",
            ),
            ("w", "0 != count(f over last 3 days)"),
        ];
        let mut source = String::from(
            "profile {\n  limit: number = 0\n  seen: timestamp = 2000-01-01 00:00\n  born: date = 2000-01-01\n  timezone: timezone = \"Europe/Paris\"\n}\nevent e {\n  x: number\n  flag: bool\n}\nevent f\nchannel email uses \"email\" { }\n",
        );
        let generic = [("t", "2 < years_since(profile.seen) + 3")];
        let segments = segments
            .iter()
            .chain(if anywhere { &generic[..] } else { &[] });
        for (name, condition) in segments {
            source.push_str(&format!("segment {name} = {condition}\n"));
            for side in ["entering", "leaving"] {
                source.push_str(&format!(
                    "journey {name}_{side} {{\n  entry on {side} {name}\n  reentry after exit\n  send email \"{name} {side}\"\n}}\n"
                ));
            }
        }
        // `exit when` over windows, read by no segment, while the instance waits.
        source.push_str(&format!(
            "journey busy {{\n  entry on e\n  exit when count(e over last 2 days) >= 3 or avg(e.x over last 1 days) > 3 or days_since(profile.seen) {}\n  wait 4 days\n  send email \"busy done\"\n}}\n",
            if anywhere { "+ 0 == 6" } else { "== 6" }
        ));
        crate::test_program(&source)
    }

    /// The effects of some inputs for three customers (`e` for input kinds 0 to 2, `f` for
    /// 3 to 5, attribute changes for 6 to 8), then ten quiet days: per customer
    /// (the order between customers at the same instant follows the timers' order, which
    /// the rechecks change), in order.
    fn run(
        p: &Arc<Program>,
        plain: bool,
        events: &[(u8, i64, f64, bool)],
    ) -> Vec<(String, String)> {
        let t0: Instant = 1_800_000_000;
        let mut engine = Engine::new(p.clone(), Config::default(), t0);
        engine.plain_rechecks = plain;
        let mut at = t0;
        for &(customer, dt, x, flag) in events {
            at += dt;
            // Customers 0 to 2 send `e`; 3 to 5 are the same customers sending `f`; 6 to 8
            // are the same customers' attribute changes.
            let id = format!("c{}", customer % 3);
            let (event, props) = match customer / 3 {
                0 => (EventId::new(0), vec![Value::Number(x), Value::Bool(flag)]),
                1 => (EventId::new(1), Vec::new()),
                _ => {
                    let (attr, value) = attribute_change(p, at, x, flag);
                    engine.set_attribute(&id, attr, value, at);
                    continue;
                }
            };
            engine.event(&id, event, props, at);
        }
        engine.advance_to(at + 10 * DAY);
        // Sends name the customer by id, the other effects by index.
        let ids: Vec<String> = (0..engine.customer_count() as u32)
            .filter_map(|c| engine.customer(c).map(|x| x.id.clone()))
            .collect();
        let mut effects: Vec<(String, String)> = engine
            .drain_effects()
            .iter()
            .map(|e| {
                let json = serde_json::to_value(e).unwrap_or_default();
                let customer = match &json["customer"] {
                    serde_json::Value::Number(n) => n
                        .as_u64()
                        .and_then(|c| ids.get(c as usize))
                        .cloned()
                        .unwrap_or_default(),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                (customer, json.to_string())
            })
            .collect();
        effects.sort_by(|a, b| a.0.cmp(&b.0));
        effects
    }

    /// The attribute `name` of `p`.
    fn attr(p: &Program, name: &str) -> AttrId {
        p.attributes
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    /// When the first customer's recheck timer is due.
    fn recheck(engine: &Engine) -> Option<Instant> {
        engine.customers[0].recheck.map(|(at, _)| at)
    }

    /// An attribute change at `at`, chosen by `x` and `flag`: when the customer was last seen
    /// or born (some days before `at`), or their time zone.
    fn attribute_change(p: &Program, at: Instant, x: f64, flag: bool) -> (AttrId, Value) {
        let days = if x.is_nan() {
            0
        } else {
            (x * 1.5 * DAY as f64) as i64
        };
        let paris = time::Zones::new("Europe/Paris");
        if x < 0.0 || x.is_nan() {
            let zones = [
                "Indian/Reunion",
                "America/Santiago",
                "Pacific/Apia",
                "Europe/Paris",
            ];
            let zone = zones[usize::from(flag) * 2 + usize::from(x.is_nan())];
            (attr(p, "timezone"), Value::text(zone))
        } else if flag {
            (attr(p, "seen"), Value::Timestamp(at - days))
        } else {
            let born = at - 363 * DAY - days;
            (
                attr(p, "born"),
                Value::Date(time::date_of(born, paris.default_zone())),
            )
        }
    }

    /// A threshold on whole days or years is answered with the midnight where it flips, not
    /// with the next midnight (which would be right, but would recheck every day).
    #[test]
    fn thresholds_on_days_and_years_are_answered_at_their_midnight() {
        let p = crate::test_program(
            "profile {\n  seen: timestamp = 2000-01-01 00:00\n  born: date = 2000-01-01\n}\nsegment a = days_since(profile.seen) > 3\nsegment b = 18 > years_since(profile.born)\n",
        );
        // The program's zone.
        let utc = time::Zones::new("UTC");
        let tz = utc.default_zone();
        // 2027-01-15 09:00.
        let t0: Instant = 1_800_003_600;
        let mut engine = Engine::new(p.clone(), Config::default(), t0);
        let (seen, born) = (attr(&p, "seen"), attr(&p, "born"));
        engine.set_attribute("c", seen, Value::Timestamp(t0 - DAY), t0);
        // Born long ago, so only `a` can flip: four local days after the day before t0.
        engine.set_attribute(
            "c",
            born,
            Value::Date(time::date_of(t0 - 40 * 365 * DAY, tz)),
            t0,
        );
        assert_eq!(recheck(&engine), time::day_reaching(t0 - DAY, 4, tz));
        // Seen long ago (`a` holds for good), and turning 18 in ten days.
        engine.set_attribute("c", seen, Value::Timestamp(t0 - 400 * DAY), t0);
        let birthday = time::date_of(t0 + 10 * DAY, tz);
        let born_on = journey_bytecode::Date {
            year: birthday.year - 18,
            ..birthday
        };
        engine.set_attribute("c", born, Value::Date(born_on), t0);
        // The timer only moves earlier: it fires as set before, finds nothing, and is set
        // again from every segment.
        engine.advance_to(t0 + 4 * DAY);
        assert_eq!(recheck(&engine), Some(t0 + 10 * DAY - 9 * 3600));
        engine.advance_to(t0 + 10 * DAY);
        // Nothing left to flip.
        assert_eq!(recheck(&engine), None);
    }

    /// `== 7` gives another answer twice: on day 7, and on day 8; then never.
    #[test]
    fn an_equality_on_days_is_answered_at_both_midnights() {
        let p = crate::test_program(
            "profile {\n  seen: timestamp = 2000-01-01 00:00\n}\nsegment j7 = days_since(profile.seen) == 7\n",
        );
        let utc = time::Zones::new("UTC");
        let tz = utc.default_zone();
        let t0: Instant = 1_800_003_600;
        let mut engine = Engine::new(p.clone(), Config::default(), t0);
        let seen = attr(&p, "seen");
        engine.set_attribute("c", seen, Value::Timestamp(t0), t0);
        let (day7, day8) = (time::day_reaching(t0, 7, tz), time::day_reaching(t0, 8, tz));
        assert_eq!(recheck(&engine), day7);
        engine.advance_to(day7.unwrap_or_default());
        assert_eq!(recheck(&engine), day8);
        engine.advance_to(day8.unwrap_or_default());
        assert_eq!(recheck(&engine), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Rechecks only when a condition can change see every change that rechecks at
        /// every expiry see, at the same instants.
        #[test]
        fn rechecks_when_a_condition_can_change_miss_nothing(
            events in proptest::collection::vec(
                (
                    0u8..9,
                    prop_oneof![Just(0i64), 1..DAY / 2, DAY / 2..3 * DAY],
                    prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.5), Just(4.0), Just(-1.0), Just(f64::NAN)],
                    any::<bool>(),
                ),
                0..50,
            ),
        ) {
            for anywhere in [false, true] {
                let p = program(anywhere);
                let plain = run(&p, true, &events);
                let drift = run(&p, false, &events);
                prop_assert_eq!(drift, plain);
            }
        }
    }
}
