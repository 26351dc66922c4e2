//! When a customer's conditions can next change value with no event.
//!
//! Between two inputs for a customer, only two things move: windowed aggregates (an
//! occurrence leaves its window) and what reads the clock. The engine keeps one recheck
//! timer per customer for segment membership and `exit when` conditions. Firing it at every
//! instant an occurrence leaves a window is correct, but a customer with a daily event then
//! gets a recheck almost every day that changes nothing.
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
//! - `not`, `and`, `or`, operators and calls: the earliest of their operands;
//! - another segment: never here, since that segment, if it moves with time, is itself
//!   among those asked about (the caller takes the earliest answer of all of them);
//! - the clock (`now`, `days_since`, `years_since`), or code with no tree: the next expiry
//!   of any windowed aggregate, as a plain recheck would.
//!
//! Every answer is no later than the first instant the value can change, so a recheck at
//! that instant sees every change a recheck at each expiry would have seen.

use journey_bytecode::{AggFn, AggId, BinOp, Builtin, Pc, Program, SegmentId};

use crate::customer::Customer;
use crate::expr::{Expr, Function};
use crate::segments::{self, ExactSum};
use crate::time::Instant;
use crate::value::Value;
use crate::vm::compare_op;

/// The earlier of two optional instants (`None` is never).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Answers, for one customer at one instant, when conditions can next change value with no
/// event (see the module documentation).
pub(crate) struct Drift<'a> {
    program: &'a Program,
    customer: &'a Customer,
    /// Expression trees by entry pc.
    trees: &'a [Option<Box<Function>>],
    /// The windowed aggregates whose expiries a plain recheck follows.
    windowed: &'a [AggId],
    now: Instant,
    /// The next expiry of any of [`Drift::windowed`], once computed.
    clock: Option<Option<Instant>>,
}

impl<'a> Drift<'a> {
    /// A drift for `customer` at `now`.
    pub(crate) fn new(
        program: &'a Program,
        customer: &'a Customer,
        trees: &'a [Option<Box<Function>>],
        windowed: &'a [AggId],
        now: Instant,
    ) -> Drift<'a> {
        Drift {
            program,
            customer,
            trees,
            windowed,
            now,
            clock: None,
        }
    }

    /// When the expression function at `pc` can next have another value with no event.
    pub(crate) fn condition(&mut self, pc: Pc) -> Option<Instant> {
        let trees = self.trees;
        match trees.get(pc as usize).and_then(Option::as_deref) {
            Some(f) => self.expr(&f.expr),
            None => self.clock(),
        }
    }

    /// When the membership of segment `s` can next change with no event, from its own
    /// condition.
    pub(crate) fn segment(&mut self, s: SegmentId) -> Option<Instant> {
        let program = self.program;
        program
            .segments
            .get(s)
            .and_then(|def| self.condition(def.condition))
    }

    /// The next expiry of any windowed aggregate: what the clock readers are given.
    fn clock(&mut self) -> Option<Instant> {
        if let Some(t) = self.clock {
            return t;
        }
        let t = segments::next_expiry(self.program, self.customer, self.windowed, self.now);
        self.clock = Some(t);
        t
    }

    fn expr(&mut self, e: &Expr) -> Option<Instant> {
        match e {
            Expr::Const(_)
            | Expr::ConstAt(_)
            | Expr::Attr(_)
            | Expr::EventProp(..)
            | Expr::OfferField(_) => None,
            Expr::Now => self.clock(),
            // Answered for itself (see the module documentation).
            Expr::Segment(_) => None,
            Expr::Aggregate(a) => segments::expiry(self.program, self.customer, *a, self.now),
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
                    Builtin::DaysSince | Builtin::YearsSince => self.clock(),
                    _ => None,
                };
                for x in args {
                    t = earliest(t, self.expr(x));
                }
                t
            }
        }
    }

    /// `aggregate op number` (or the mirror) over a windowed count, or over a windowed sum of
    /// values none negative or NaN, with an order comparison: `Some(answer)`. `None` for any
    /// other shape (the caller then takes the earliest of the operands).
    fn threshold(&self, op: BinOp, l: &Expr, r: &Expr) -> Option<Option<Instant>> {
        let (op, a, k) = match (l, r) {
            (Expr::Aggregate(a), Expr::Const(k)) => (op, *a, k),
            (Expr::Const(k), Expr::Aggregate(a)) => (mirror(op)?, *a, k),
            _ => return None,
        };
        if !matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
            || !matches!(k, Value::Number(_))
        {
            return None;
        }
        let def = self.program.aggregates.get(a)?;
        let w = def.window_secs?;
        let sum = match def.func {
            AggFn::Count => false,
            AggFn::Sum => true,
            _ => return None,
        };
        // No occurrence yet: the value stays what it is (zero) until an event.
        let Some(state) = self.customer.agg(a) else {
            return Some(None);
        };
        if sum && !state.kept.as_ref()?.sum_only_decreases() {
            return None;
        }
        let holds = |x: f64| compare_op(op, &Value::Number(x), k);
        // The value only decreases, down to zero when the window is empty: if the
        // comparison is the same now and then, it is the same all along.
        let (count, total, ..) = segments::window_totals(state, w, self.now, false);
        let when_empty = holds(0.0);
        if holds(if sum { total } else { count as f64 }) == when_empty {
            return Some(None);
        }
        // Going back from the newest occurrence: with it and those after it inside (and the
        // older ones gone), does the comparison still give what it gives now? The first
        // time it does not, it changes when this occurrence leaves.
        let from = self.now.saturating_sub(w as i64);
        let (mut n, mut acc) = (0u64, ExactSum::default());
        for o in state.occurrences().rev() {
            if o.0 <= from {
                break;
            }
            let x = if sum {
                acc.add(o.2);
                if !acc.is_exact() {
                    return None;
                }
                acc.total()
            } else {
                n += u64::from(o.1);
                n as f64
            };
            if holds(x) != when_empty {
                return Some(Some(o.0.saturating_add(w as i64)));
            }
        }
        // Not reached when the totals and the walk agree; the plain answer otherwise.
        None
    }
}

/// `k op x` as `x op' k`.
fn mirror(op: BinOp) -> Option<BinOp> {
    Some(match op {
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
    use journey_bytecode::{EventId, Program};
    use proptest::prelude::*;

    use crate::engine::{Config, Engine};
    use crate::time::Instant;
    use crate::value::Value;

    const DAY: i64 = 86_400;

    /// Segments of every shape the drift answers: counts and sums against a number (either
    /// side), an equality (not monotone), an average, a mix with an attribute, `not`,
    /// segments over segments; each with journeys entered on entering and on leaving it. And
    /// a journey whose `exit when` reads windows no segment reads.
    fn program() -> Arc<Program> {
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
        ];
        let mut source = String::from(
            "profile {\n  limit: number = 0\n}\nevent e {\n  x: number\n  flag: bool\n}\nevent f\nchannel email uses \"email\" { }\n",
        );
        for (name, condition) in segments {
            source.push_str(&format!("segment {name} = {condition}\n"));
            for side in ["entering", "leaving"] {
                source.push_str(&format!(
                    "journey {name}_{side} {{\n  entry on {side} {name}\n  reentry after exit\n  send email \"{name} {side}\"\n}}\n"
                ));
            }
        }
        // `exit when` over windows, read by no segment, while the instance waits.
        source.push_str(
            "journey busy {\n  entry on e\n  exit when count(e over last 2 days) >= 3 or avg(e.x over last 1 days) > 3\n  wait 4 days\n  send email \"busy done\"\n}\n",
        );
        crate::test_program(&source)
    }

    /// The effects of some events (`e`, or `f` for a customer number past 2) for three
    /// customers, then ten quiet days: per customer
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
            // Customers 0 to 2 send `e`; 3 to 5 are the same customers sending `f`.
            let (event, props) = match customer / 3 {
                0 => (EventId::new(0), vec![Value::Number(x), Value::Bool(flag)]),
                _ => (EventId::new(1), Vec::new()),
            };
            engine.event(&format!("c{}", customer % 3), event, props, at);
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Rechecks only when a condition can change see every change that rechecks at
        /// every expiry see, at the same instants.
        #[test]
        fn rechecks_when_a_condition_can_change_miss_nothing(
            events in proptest::collection::vec(
                (
                    0u8..6,
                    prop_oneof![Just(0i64), 1..DAY / 2, DAY / 2..3 * DAY],
                    prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.5), Just(4.0), Just(-1.0), Just(f64::NAN)],
                    any::<bool>(),
                ),
                0..50,
            ),
        ) {
            let p = program();
            let plain = run(&p, true, &events);
            let drift = run(&p, false, &events);
            prop_assert_eq!(drift, plain);
        }
    }
}
