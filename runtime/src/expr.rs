//! Expression trees: the program's expression functions (conditions, filters, consent,
//! eligibility, interpolations) turned back from stack code into trees when the engine loads
//! the program, and evaluated by walking the tree.
//!
//! Stack code pays for every value it moves: each operand is cloned onto the stack (a string
//! or list is an atomic reference-count increment, and a decrement when it is dropped), and
//! every instruction goes through the dispatch loop. A tree reads its operands where they
//! are: `profile.plan != "illimite"` compares the customer's attribute with the constant in
//! place. In a boolean context ([`Expr::test`]) `and`, `or` and `not` short-circuit without
//! building a value.
//!
//! The tree means exactly what the code means (the same [`binary`] and built-ins; `and` and
//! `or` yield their deciding operand, as the jumps leave it on the stack), and counts the
//! instructions the code would have executed, so [`crate::Engine::instructions`] does not
//! depend on which of the two ran. A function the decompiler does not recognise (code it
//! was not written for, a jump backwards, an unbalanced stack, a tree too deep) is left to
//! the interpreter: [`decompile`] returns `None`.

use journey_bytecode::{
    AggId, AttrId, BinOp, Builtin, Const, ConstId, EventId, Insn, Pc, Program, SegmentId,
};

use crate::segments::aggregate_value;
use crate::value::Value;
use crate::vm::{Env, binary, compare_op};

/// Nesting the decompiler accepts; deeper functions stay with the interpreter (tree
/// evaluation recurses).
const MAX_DEPTH: usize = 128;

/// Nodes the decompiler builds for one function before it gives up.
const MAX_NODES: usize = 4096;

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A constant (lists of constants are folded into one).
    Const(Value),
    /// A timestamp constant: its instant depends on the customer's time zone.
    ConstAt(ConstId),
    /// A profile attribute.
    Attr(AttrId),
    /// A property of an event in scope.
    EventProp(EventId, u16),
    /// A display field of the chosen offer.
    OfferField(ConstId),
    /// Segment membership.
    Segment(SegmentId),
    /// An aggregate's current value.
    Aggregate(AggId),
    /// The current instant.
    Now,
    /// Logical not.
    Not(Box<Expr>),
    /// Numeric negation.
    Neg(Box<Expr>),
    /// A binary operator.
    Bin(BinOp, Box<(Expr, Expr)>),
    /// `and`: the left value if it is not true, else the right one. `skip` is the number of
    /// instructions of the right operand (not executed when the left decides).
    And(Box<(Expr, Expr)>, u32),
    /// `or`: the left value if it is true, else the right one.
    Or(Box<(Expr, Expr)>, u32),
    /// A list built from values.
    List(Vec<Expr>),
    /// A built-in call.
    Call(Builtin, Vec<Expr>),
    /// Interpolation: the value as text.
    ToText(Box<Expr>),
}

/// A decompiled function: its tree and the instructions the code runs when no operand is
/// skipped (from the entry to `return`, both included).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Function {
    /// The tree.
    pub expr: Expr,
    /// Instructions of the whole function.
    pub size: u32,
}

/// The absent value, for operands read in place.
static NONE: Value = Value::None;

/// Turns the expression function at `entry` into a tree, or `None` when its code is not the
/// shape the compiler writes (the interpreter then runs it). `consts` are the program's
/// constants as values.
pub(crate) fn decompile(program: &Program, consts: &[Value], entry: Pc) -> Option<Function> {
    let mut d = Decompiler {
        program,
        consts,
        nodes: 0,
        jumped: 0,
    };
    let (mut stack, end) = d.run(entry as usize, None, 0)?;
    let expr = stack.pop()?;
    if !stack.is_empty() {
        return None;
    }
    let size = u32::try_from(end + 1 - entry as usize - d.jumped).ok()?;
    Some(Function { expr, size })
}

struct Decompiler<'a> {
    program: &'a Program,
    consts: &'a [Value],
    nodes: usize,
    /// Instructions jumped over so far (the code of a filter function, which the compiler
    /// writes in place, behind a jump over it).
    jumped: usize,
}

impl Decompiler<'_> {
    /// Symbolically executes the code from `pc` until `stop` (the join point of a
    /// short-circuit) or, without `stop`, until `return`. Returns the values left and the pc
    /// where it stopped (of the `return` at top level).
    fn run(
        &mut self,
        mut pc: usize,
        stop: Option<usize>,
        depth: usize,
    ) -> Option<(Vec<Expr>, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut stack: Vec<Expr> = Vec::new();
        loop {
            if stop == Some(pc) {
                return Some((stack, pc));
            }
            self.nodes += 1;
            if self.nodes > MAX_NODES {
                return None;
            }
            let insn = *self.program.code.get(pc)?;
            let node = match insn {
                Insn::Const(c) => match self.program.consts.get(c) {
                    Some(Const::Timestamp(..)) => Expr::ConstAt(c),
                    _ => Expr::Const(
                        self.consts
                            .get(c.as_u32() as usize)
                            .cloned()
                            .unwrap_or_default(),
                    ),
                },
                Insn::Attr(a) => Expr::Attr(a),
                Insn::EventProp(e, i) => Expr::EventProp(e, i),
                Insn::OfferField(c) => Expr::OfferField(c),
                Insn::Segment(s) => Expr::Segment(s),
                Insn::Aggregate(a) => Expr::Aggregate(a),
                Insn::Now => Expr::Now,
                Insn::Not => Expr::Not(Box::new(stack.pop()?)),
                Insn::Neg => Expr::Neg(Box::new(stack.pop()?)),
                Insn::Bin(op) => {
                    let r = stack.pop()?;
                    let l = stack.pop()?;
                    Expr::Bin(op, Box::new((l, r)))
                }
                Insn::MakeList(n) => {
                    let items = stack.split_off(stack.len().checked_sub(n as usize)?);
                    fold_list(items)
                }
                Insn::Call(b, n) => {
                    let args = stack.split_off(stack.len().checked_sub(n as usize)?);
                    Expr::Call(b, args)
                }
                Insn::ToText => Expr::ToText(Box::new(stack.pop()?)),
                Insn::JumpIfFalseOrPop(t) | Insn::JumpIfTrueOrPop(t) => {
                    let t = t as usize;
                    // Forward, and inside the enclosing operand.
                    if t <= pc || stop.is_some_and(|s| t > s) {
                        return None;
                    }
                    let l = stack.pop()?;
                    let jumped = self.jumped;
                    let (mut right, _) = self.run(pc + 1, Some(t), depth + 1)?;
                    let r = right.pop()?;
                    if !right.is_empty() {
                        return None;
                    }
                    // What the right operand would run: its code, less what it jumps over.
                    let skip = u32::try_from(t - (pc + 1) - (self.jumped - jumped)).ok()?;
                    let pair = Box::new((l, r));
                    stack.push(match insn {
                        Insn::JumpIfFalseOrPop(_) => Expr::And(pair, skip),
                        _ => Expr::Or(pair, skip),
                    });
                    pc = t;
                    continue;
                }
                // Over a filter function written in place: forward, inside the enclosing
                // operand. The jump runs; what it jumps over does not.
                Insn::Jump(t) => {
                    let t = t as usize;
                    if t <= pc || stop.is_some_and(|s| t > s) {
                        return None;
                    }
                    self.jumped += t - (pc + 1);
                    pc = t;
                    continue;
                }
                Insn::Return if stop.is_none() => return Some((stack, pc)),
                // Anything else (effects, `pop`, backward jumps, `return` inside an operand)
                // is not what the compiler writes for an expression.
                _ => return None,
            };
            stack.push(node);
            pc += 1;
        }
    }
}

/// A list whose items are all plain constants becomes one constant.
fn fold_list(items: Vec<Expr>) -> Expr {
    if items.iter().all(|e| matches!(e, Expr::Const(_))) {
        Expr::Const(Value::list(items.into_iter().map(|e| match e {
            Expr::Const(v) => v,
            _ => Value::None,
        })))
    } else {
        Expr::List(items)
    }
}

impl Function {
    /// The function's value and the instructions the code would have executed.
    pub(crate) fn eval(&self, env: &Env<'_>) -> (Value, u64) {
        let mut skipped = 0;
        let v = self.expr.eval(env, &mut skipped);
        (v, u64::from(self.size.saturating_sub(skipped)))
    }

    /// Whether the function's value is true, and the instructions the code would have
    /// executed.
    pub(crate) fn test(&self, env: &Env<'_>) -> (bool, u64) {
        let mut skipped = 0;
        let v = self.expr.test(env, &mut skipped);
        (v, u64::from(self.size.saturating_sub(skipped)))
    }
}

impl Expr {
    /// Whether the value is true (`truthy`), without building it where it can be avoided.
    /// `skipped` counts the instructions of operands a short-circuit did not run.
    pub(crate) fn test(&self, env: &Env<'_>, skipped: &mut u32) -> bool {
        match self {
            Expr::Bin(op, pair) if is_comparison(*op) => {
                let (l, r) = &**pair;
                // Both operands are pure: reading them in either order is the same.
                match (l.place(env), r.place(env)) {
                    (Some(a), Some(b)) => compare_op(*op, a, b),
                    (Some(a), None) => compare_op(*op, a, &r.eval(env, skipped)),
                    (None, Some(b)) => compare_op(*op, &l.eval(env, skipped), b),
                    (None, None) => {
                        let a = l.eval(env, skipped);
                        compare_op(*op, &a, &r.eval(env, skipped))
                    }
                }
            }
            Expr::And(pair, skip) => {
                if pair.0.test(env, skipped) {
                    pair.1.test(env, skipped)
                } else {
                    *skipped += skip;
                    false
                }
            }
            Expr::Or(pair, skip) => {
                if pair.0.test(env, skipped) {
                    *skipped += skip;
                    true
                } else {
                    pair.1.test(env, skipped)
                }
            }
            Expr::Not(x) => !x.test(env, skipped),
            Expr::Segment(s) => env.segment(*s),
            Expr::Const(v) => v.truthy(),
            Expr::Attr(_) | Expr::EventProp(..) => self.place(env).is_some_and(Value::truthy),
            _ => self.eval(env, skipped).truthy(),
        }
    }

    /// The value read in place: attributes, event properties and constants (an absent
    /// attribute or property is the absent value); `None` for a value to compute.
    #[inline]
    fn place<'e>(&'e self, env: &'e Env<'_>) -> Option<&'e Value> {
        match self {
            Expr::Const(v) => Some(v),
            Expr::Attr(a) => Some(env.profile.get(a.as_u32() as usize).unwrap_or(&NONE)),
            Expr::EventProp(e, i) => Some(env.event(*e).and_then(|d| d.prop(*i)).unwrap_or(&NONE)),
            _ => None,
        }
    }

    /// The value.
    pub(crate) fn eval(&self, env: &Env<'_>, skipped: &mut u32) -> Value {
        match self {
            Expr::Const(v) => v.clone(),
            Expr::ConstAt(c) => env.constant(*c),
            Expr::Attr(_) | Expr::EventProp(..) => self.place(env).cloned().unwrap_or_default(),
            Expr::OfferField(c) => env.offer_field(*c),
            Expr::Segment(s) => Value::Bool(env.segment(*s)),
            Expr::Aggregate(a) => aggregate_value(env.program, env.customer, *a, env.now),
            Expr::Now => Value::Timestamp(env.now),
            Expr::Not(x) => Value::Bool(!x.test(env, skipped)),
            Expr::Neg(x) => match x.eval(env, skipped) {
                Value::Number(n) => Value::Number(-n),
                Value::Duration(d) => Value::Duration(-d),
                _ => Value::None,
            },
            Expr::Bin(op, pair) => {
                if is_comparison(*op) {
                    Value::Bool(self.test(env, skipped))
                } else {
                    let l = pair.0.eval(env, skipped);
                    let r = pair.1.eval(env, skipped);
                    binary(*op, l, r)
                }
            }
            Expr::And(pair, skip) => {
                let l = pair.0.eval(env, skipped);
                if l.truthy() {
                    pair.1.eval(env, skipped)
                } else {
                    *skipped += skip;
                    l
                }
            }
            Expr::Or(pair, skip) => {
                let l = pair.0.eval(env, skipped);
                if l.truthy() {
                    *skipped += skip;
                    l
                } else {
                    pair.1.eval(env, skipped)
                }
            }
            Expr::List(items) => Value::list(items.iter().map(|e| e.eval(env, skipped))),
            Expr::Call(b, args) => match args.as_slice() {
                [] => env.builtin(*b, &[]),
                [a] => env.builtin(*b, &[a.eval(env, skipped)]),
                [a, c] => {
                    let a = a.eval(env, skipped);
                    env.builtin(*b, &[a, c.eval(env, skipped)])
                }
                more => {
                    let values: Vec<Value> = more.iter().map(|e| e.eval(env, skipped)).collect();
                    env.builtin(*b, &values)
                }
            },
            Expr::ToText(x) => env.to_text(x.eval(env, skipped)),
        }
    }
}

/// Whether an operator only compares (its result is a boolean computed from references).
fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In
    )
}

#[cfg(test)]
mod tests {
    //! The tree against the interpreter: random well-typed expressions, compiled by the real
    //! compiler, evaluated both ways for customers with random (partly absent) profiles. The
    //! values and the instruction counts must be the same.

    use std::sync::Arc;

    use journey_bytecode::{AttrId, Program};
    use proptest::prelude::*;

    use crate::engine::{Config, Engine};
    use crate::value::Value;

    const SCHEMA: &str = r#"
profile {
  n1: number?
  n2: number = 0
  s1: string?
  s2: string = ""
  b1: bool?
  d1: date?
  t1: timestamp?
  tags: list<string> = []
}
event ping { x: number }
segment base = profile.n2 > 1
"#;

    /// A small deterministic generator of expression source, driven by a seed. Without
    /// quotes, it writes no string literal (an interpolation cannot hold one).
    struct Gen(u64, bool);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn quotes(&self) -> bool {
            self.1
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.next(xs.len() as u64) as usize]
        }

        fn num(&mut self, depth: u32) -> String {
            let leaf = depth == 0 || self.next(3) == 0;
            if leaf {
                return match self.next(7) {
                    0 => "profile.n2".into(),
                    1 => format!("coalesce(profile.n1, {})", self.next(5)),
                    2 => format!("{}", self.next(7)),
                    3 => "count(ping over last 7 days)".into(),
                    // A filter function is written in place, behind a jump over it.
                    4 => format!(
                        "count(ping where ping.x > {} over last 7 days)",
                        self.next(2)
                    ),
                    5 => "sum(ping.x where ping.x >= 1 over last 3 days)".into(),
                    _ => "days_since(coalesce(profile.d1, 2026-12-01))".into(),
                };
            }
            let d = depth - 1;
            match self.next(6) {
                0 => format!(
                    "({} {} {})",
                    self.num(d),
                    self.pick(&["+", "-", "*", "/"]),
                    self.num(d)
                ),
                1 => format!("-({})", self.num(d)),
                2 => format!("len({})", self.str(d)),
                3 => format!("round({} / 3)", self.num(d)),
                4 => "len(profile.tags)".into(),
                _ => format!("coalesce(profile.n1, {})", self.num(d)),
            }
        }

        fn str(&mut self, depth: u32) -> String {
            let leaf = depth == 0 || self.next(3) == 0;
            if leaf && !self.quotes() {
                return ["profile.s2", "coalesce(profile.s1, profile.s2)"][self.next(2) as usize]
                    .into();
            }
            if leaf {
                return match self.next(4) {
                    0 => "profile.s2".into(),
                    1 => format!("coalesce(profile.s1, \"{}\")", self.pick(&["a", "B", ""])),
                    _ => format!("\"{}\"", self.pick(&["a", "ab", "B", "", "mobile_5g"])),
                };
            }
            let d = depth - 1;
            match self.next(3) {
                0 => format!("lower({})", self.str(d)),
                1 => format!("upper({})", self.str(d)),
                _ => format!("({} + {})", self.str(d), self.str(d)),
            }
        }

        fn bool(&mut self, depth: u32) -> String {
            let leaf = depth == 0 || self.next(4) == 0;
            if leaf {
                return match self.next(8) {
                    0 => "base".into(),
                    1 => "is_set(profile.n1)".into(),
                    2 => "coalesce(profile.b1, true)".into(),
                    3 => "profile.b1 == false".into(),
                    4 => "profile.d1 < 2027-01-01".into(),
                    5 => {
                        "coalesce(profile.t1, 2027-01-01 10:00) + 3 days > 2027-01-02 00:00".into()
                    }
                    6 if !self.quotes() => "profile.s1 == profile.s2".into(),
                    6 => format!("profile.s1 == \"{}\"", self.pick(&["a", "B"])),
                    _ => format!(
                        "profile.n1 {} {}",
                        self.pick(&["<", ">=", "==", "!="]),
                        self.next(4)
                    ),
                };
            }
            let d = depth - 1;
            match self.next(9) {
                0 => format!("({} and {})", self.bool(d), self.bool(d)),
                1 => format!("({} or {})", self.bool(d), self.bool(d)),
                2 => format!("not ({})", self.bool(d)),
                3 => format!(
                    "{} {} {}",
                    self.num(d),
                    self.pick(&["<", "<=", ">", ">=", "==", "!="]),
                    self.num(d)
                ),
                4 => format!(
                    "{} {} {}",
                    self.str(d),
                    self.pick(&["==", "!=", "<"]),
                    self.str(d)
                ),
                5 if !self.quotes() => format!("{} in profile.tags", self.str(d)),
                5 => format!(
                    "{} {} [\"a\", \"ab\", {}]",
                    self.str(d),
                    self.pick(&["in", "not in"]),
                    self.str(d)
                ),
                6 => format!("{} in {}", self.str(d), self.str(d)),
                7 => format!("contains(profile.tags, {})", self.str(d)),
                _ => format!("{} in profile.tags", self.str(d)),
            }
        }
    }

    fn program(source: &str) -> Arc<Program> {
        crate::test_program(source)
    }

    fn attr(p: &Program, name: &str) -> AttrId {
        p.attributes
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| id)
            .expect("attribute")
    }

    /// Runs every expression function of the program for every customer both ways.
    fn agree(source: &str, seed: u64) {
        let p = program(source);
        let t0 = 1_798_761_600; // 2027-01-01T00:00:00Z
        let mut engine = Engine::new(p.clone(), Config::default(), t0);
        let ping = p
            .events
            .iter()
            .find(|(_, e)| e.name == "ping")
            .map(|(id, _)| id)
            .expect("ping");
        let mut g = Gen(seed | 1, true);
        for k in 0..12 {
            let strings = ["a", "ab", "B", "", "mobile_5g"];
            let tags: Vec<Value> = (0..g.next(3))
                .map(|_| Value::text(strings[g.next(5) as usize]))
                .collect();
            let day = 1 + g.next(28) as u8;
            let values = [
                ("n1", Value::Number(g.next(5) as f64)),
                ("n2", Value::Number(g.next(4) as f64 - 1.0)),
                ("s1", Value::text(strings[g.next(5) as usize])),
                ("s2", Value::text(strings[g.next(5) as usize])),
                ("b1", Value::Bool(g.next(2) == 0)),
                (
                    "d1",
                    Value::Date(journey_bytecode::Date {
                        year: 2026,
                        month: 12,
                        day,
                    }),
                ),
                ("t1", Value::Timestamp(t0 - g.next(5) as i64 * 86_400)),
                ("tags", Value::list(tags)),
            ];
            // A third of the attributes stay absent (or at their default).
            let attrs: Vec<(AttrId, Value)> = values
                .into_iter()
                .filter(|_| g.next(3) != 0)
                .map(|(name, v)| (attr(&p, name), v))
                .collect();
            let id = format!("C{k}");
            engine.upsert_customer(&id, &attrs, t0);
            for _ in 0..g.next(3) {
                engine.event(&id, ping, vec![Value::Number(1.0)], t0);
            }
        }
        let entries = journey_bytecode::expression_entries(&p);
        assert!(!entries.is_empty());
        for c in 0..engine.customer_count() as u32 {
            let env = engine.env(c, &[], None, None);
            for &pc in &entries {
                let f = engine
                    .expr_tree(pc)
                    .unwrap_or_else(|| panic!("@{pc:04} was not decompiled\n{source}"));
                let mut stack = Vec::new();
                let (want, want_n) = env.call_counted(pc, &mut stack);
                let (got, got_n) = f.eval(&env);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "value of @{pc:04} for customer {c}\n{source}"
                );
                assert_eq!(got_n, want_n, "instructions of @{pc:04}\n{source}");
                assert_eq!(
                    f.test(&env),
                    (want.truthy(), want_n),
                    "test of @{pc:04} for customer {c}\n{source}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn trees_agree_with_the_interpreter(seed in any::<u64>(), depth in 1u32..5) {
            let mut g = Gen(seed | 1, true);
            let mut source = String::from(SCHEMA);
            for i in 0..6 {
                source.push_str(&format!("segment s{i} = {}\n", g.bool(depth)));
            }
            g.1 = false;
            source.push_str(&format!(
                "channel email uses \"email\" {{}}\ntemplate t for email {{\n  text: \"{{{}}} {{{}}} {{{}}}\"\n}}\n",
                g.num(depth),
                g.str(depth),
                g.bool(depth)
            ));
            agree(&source, seed);
        }
    }

    #[test]
    fn decompiled_trees_read_operands_in_place_and_fold_constant_lists() {
        let p = program(&format!(
            "{SCHEMA}segment m = profile.s2 in [\"a\", \"b\"] and not base\n"
        ));
        let engine = Engine::new(p.clone(), Config::default(), 0);
        let seg = p
            .segments
            .iter()
            .find(|(_, s)| s.name == "m")
            .map(|(_, s)| s.condition)
            .expect("segment m");
        let f = engine.expr_tree(seg).expect("tree");
        let text = format!("{:?}", f.expr);
        assert!(text.starts_with("And("), "{text}");
        assert!(
            text.contains("Const(List("),
            "the list is one constant: {text}"
        );
        assert_eq!(
            text.matches("List([").count(),
            text.matches("Const(List([").count(),
            "no list is built at run time: {text}"
        );
    }
}
