//! Expressions: name resolution, type checking and code generation in one walk.

use journey_bytecode::*;
use journey_grammar::ast::{self, BinaryOp, ExprKind, Span, StrPiece, UnaryOp};

use crate::codes;
use crate::ctx::{Ctx, Kind, suggest};
use crate::types::Ty;

/// Which events' properties an expression may read.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// These events (sorted).
    Events(Vec<EventId>),
    /// Any event; the ones read are recorded (templates, checked at their sends).
    Record,
}

/// Whether `offer.<field>` may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfferScope {
    Forbidden,
    Allowed,
    Record,
}

/// The environment of an expression.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub file: FileId,
    pub scope: Scope,
    pub offer: OfferScope,
    /// What is being compiled, for messages ("a segment condition").
    pub what: &'static str,
    /// Set when compiling a segment: its dependencies are recorded.
    pub segment: Option<SegmentId>,
    /// Set when compiling a channel's consent condition.
    pub consent_of: Option<ChannelId>,
    /// Recorded event property reads: event, property index, where.
    pub used_events: Vec<(EventId, u16, Span)>,
    /// Recorded offer read.
    pub used_offer: Option<Span>,
    /// The event a filter is tested against (an entry, exit, goal, wait or aggregate
    /// condition): reading it reads that occurrence, not the instance's scope.
    pub candidate: Option<EventId>,
}

impl Env {
    pub(crate) fn new(file: FileId, scope: Scope, offer: OfferScope, what: &'static str) -> Env {
        Env {
            file,
            scope,
            offer,
            what,
            segment: None,
            consent_of: None,
            used_events: Vec::new(),
            used_offer: None,
            candidate: None,
        }
    }

    /// The same environment for a filter tested against an occurrence of `event`.
    pub(crate) fn with_candidate(mut self, event: EventId) -> Env {
        self.candidate = Some(event);
        self
    }
}

impl Ctx<'_> {
    /// Compiles a condition: an expression that must be a bool.
    pub(crate) fn condition(&mut self, e: &ast::Expr, env: &mut Env) {
        let t = self.expr(e, env);
        self.expect_type(env.file, e.span, &t, &Ty::Bool, env.what);
    }

    /// Reports a type mismatch unless `found` fits `expected`.
    pub(crate) fn expect_type(
        &mut self,
        file: FileId,
        span: Span,
        found: &Ty,
        expected: &Ty,
        what: &str,
    ) -> bool {
        if found.assignable_to(expected) {
            return true;
        }
        let want = match expected {
            Ty::Optional(inner) => format!("{inner} (or absent)"),
            t => t.to_string(),
        };
        let mut d = self
            .diag(
                &codes::TYPE_MISMATCH,
                file,
                span,
                format!("{what} must be {want}, but this is {found}"),
            )
            .primary_label(format!("this is {found}"));
        if let (Ty::Optional(inner), _) = (found, expected) {
            if inner.assignable_to(expected) {
                d = d.help("this value may be absent: use `coalesce(value, default)` or test it with `is_set(value)`");
            }
        } else if *expected == Ty::Bool && *found == Ty::Number {
            d = d.help("compare it, for example `... > 0`");
        } else if *expected == Ty::Number && *found == Ty::String {
            d = d.help("write the number without quotes");
        }
        self.emit_diag(d);
        false
    }

    /// Compiles an expression as a separate function (ending in `Return`), jumped over by the
    /// code being generated around it. Returns its entry and type.
    pub(crate) fn function(&mut self, e: &ast::Expr, env: &mut Env, to_text: bool) -> (Pc, Ty) {
        let loc = self.loc(env.file, e.span);
        let jump = self.emit(Insn::Jump(0), loc);
        let entry = self.pc();
        let t = self.expr(e, env);
        if to_text {
            self.check_text(env.file, e.span, &t);
            self.emit(Insn::ToText, loc);
        }
        self.emit(Insn::Return, loc);
        let after = self.pc();
        self.patch(jump, after);
        (entry, t)
    }

    /// A condition compiled as a function.
    pub(crate) fn condition_function(&mut self, e: &ast::Expr, env: &mut Env) -> Pc {
        let (pc, t) = self.function(e, env, false);
        self.expect_type(env.file, e.span, &t, &Ty::Bool, env.what);
        pc
    }

    fn check_text(&mut self, file: FileId, span: Span, t: &Ty) {
        if matches!(t.strip(), Ty::List(_) | Ty::EmptyList) {
            let d = self
                .diag(
                    &codes::TYPE_MISMATCH,
                    file,
                    span,
                    format!("a {t} cannot be written into text"),
                )
                .primary_label("interpolate a single value")
                .help("use `len(...)` or pick one value");
            self.emit_diag(d);
        }
    }

    /// Compiles an interpolated text into pieces (each interpolation a function).
    pub(crate) fn text(&mut self, name: &str, s: &ast::StringLit, env: &mut Env) -> TextDef {
        let mut pieces = Vec::new();
        for piece in &s.pieces {
            match piece {
                StrPiece::Text(t) => pieces.push(Piece::Text(t.clone())),
                StrPiece::Interp(e) => {
                    let (pc, _) = self.function(e, env, true);
                    pieces.push(Piece::Expr(pc));
                }
            }
        }
        TextDef {
            name: name.to_string(),
            pieces,
        }
    }

    /// Compiles an expression, leaving its value on the stack; returns its type.
    pub(crate) fn expr(&mut self, e: &ast::Expr, env: &mut Env) -> Ty {
        let loc = self.loc(env.file, e.span);
        match &e.kind {
            ExprKind::Number(n) => {
                let c = self.konst(Const::Number(*n));
                self.emit(Insn::Const(c), loc);
                Ty::Number
            }
            ExprKind::Bool(b) => {
                let c = self.konst(Const::Bool(*b));
                self.emit(Insn::Const(c), loc);
                Ty::Bool
            }
            ExprKind::Date(_) | ExprKind::Timestamp(_) | ExprKind::Duration(_) => {
                match self.constant(env.file, e) {
                    Some((c, t)) => {
                        let c = self.konst(c);
                        self.emit(Insn::Const(c), loc);
                        t
                    }
                    None => Ty::Error,
                }
            }
            ExprKind::String(s) => {
                let mut first = true;
                if s.pieces.is_empty() {
                    let c = self.konst(Const::String(String::new()));
                    self.emit(Insn::Const(c), loc);
                }
                for piece in &s.pieces {
                    match piece {
                        StrPiece::Text(t) => {
                            let c = self.konst(Const::String(t.clone()));
                            self.emit(Insn::Const(c), loc);
                        }
                        StrPiece::Interp(inner) => {
                            let t = self.expr(inner, env);
                            self.check_text(env.file, inner.span, &t);
                            self.emit(Insn::ToText, loc);
                        }
                    }
                    if !first {
                        self.emit(Insn::Bin(BinOp::Add), loc);
                    }
                    first = false;
                }
                Ty::String
            }
            ExprKind::List(items) => {
                let mut elem: Option<Ty> = None;
                for item in items {
                    let t = self.expr(item, env);
                    match &elem {
                        Some(et) if !t.assignable_to(et) => {
                            let d = self
                                .diag(
                                    &codes::TYPE_MISMATCH,
                                    env.file,
                                    item.span,
                                    format!("list elements must all be {et}"),
                                )
                                .primary_label(format!("this is {t}"));
                            self.emit_diag(d);
                        }
                        Some(_) => {}
                        None => elem = Some(t),
                    }
                }
                self.emit(
                    Insn::MakeList(items.len().min(u16::MAX as usize) as u16),
                    loc,
                );
                elem.map(|t| Ty::List(Box::new(t))).unwrap_or(Ty::EmptyList)
            }
            ExprKind::Path(path) => self.path(path, env),
            ExprKind::Call(name, args) => self.call(name, args, env, e.span),
            ExprKind::Aggregate(agg) => self.aggregate(agg, env),
            ExprKind::Unary(op, inner) => {
                let t = self.expr(inner, env);
                match op {
                    UnaryOp::Not => {
                        self.expect_type(
                            env.file,
                            inner.span,
                            &t,
                            &Ty::Bool,
                            "the operand of `not`",
                        );
                        self.emit(Insn::Not, loc);
                        Ty::Bool
                    }
                    UnaryOp::Neg => {
                        if !matches!(t, Ty::Number | Ty::Duration | Ty::Error) {
                            let d = self
                                .diag(
                                    &codes::TYPE_MISMATCH,
                                    env.file,
                                    inner.span,
                                    format!("cannot negate a {t}"),
                                )
                                .primary_label("only numbers and durations can be negated");
                            self.emit_diag(d);
                        }
                        self.emit(Insn::Neg, loc);
                        t
                    }
                }
            }
            ExprKind::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs, env, e.span),
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        env: &mut Env,
        span: Span,
    ) -> Ty {
        let loc = self.loc(env.file, span);
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let lt = self.expr(lhs, env);
            self.expect_type(
                env.file,
                lhs.span,
                &lt,
                &Ty::Bool,
                &format!("each side of `{}`", op.symbol()),
            );
            let jump = self.emit(
                if op == BinaryOp::And {
                    Insn::JumpIfFalseOrPop(0)
                } else {
                    Insn::JumpIfTrueOrPop(0)
                },
                loc,
            );
            let rt = self.expr(rhs, env);
            self.expect_type(
                env.file,
                rhs.span,
                &rt,
                &Ty::Bool,
                &format!("each side of `{}`", op.symbol()),
            );
            let end = self.pc();
            self.patch(jump, end);
            return Ty::Bool;
        }
        let lt = self.expr(lhs, env);
        let rt = self.expr(rhs, env);
        if lt.is_error() || rt.is_error() {
            self.emit_bin(op, loc);
            return match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => Ty::Error,
                _ => Ty::Bool,
            };
        }
        let mismatch = |this: &mut Self, msg: String, help: Option<&str>| {
            let mut d = this
                .diag(&codes::TYPE_MISMATCH, env.file, span, msg)
                .primary_label(format!("`{}` between {lt} and {rt}", op.symbol()))
                .label(env.file, lhs.span, format!("{lt}"))
                .label(env.file, rhs.span, format!("{rt}"));
            if let Some(h) = help {
                d = d.help(h);
            }
            this.emit_diag(d);
        };
        let result = match op {
            BinaryOp::Eq | BinaryOp::Ne => {
                if !lt.comparable(&rt) {
                    mismatch(self, format!("cannot compare {lt} with {rt}"), None);
                }
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                if !lt.comparable(&rt) {
                    let help = match (lt.strip(), rt.strip()) {
                        (Ty::Number, Ty::String) | (Ty::String, Ty::Number) => {
                            Some("write numbers without quotes")
                        }
                        (Ty::Date, Ty::Timestamp) | (Ty::Timestamp, Ty::Date) => Some(
                            "compare a date with a date such as `2027-01-04`, a timestamp with `2027-01-04 09:00`",
                        ),
                        _ => None,
                    };
                    mismatch(self, format!("cannot compare {lt} with {rt}"), help);
                } else if !lt.ordered() {
                    mismatch(
                        self,
                        format!("{lt} values have no order"),
                        Some("use `==` or `!=`"),
                    );
                }
                Ty::Bool
            }
            BinaryOp::In | BinaryOp::NotIn => {
                match rt.strip() {
                    Ty::List(elem) => {
                        if !lt.comparable(elem) {
                            mismatch(
                                self,
                                format!("cannot look for a {lt} in a list<{elem}>"),
                                None,
                            );
                        }
                    }
                    Ty::EmptyList => {}
                    Ty::String | Ty::Timezone => {
                        if !matches!(lt.strip(), Ty::String | Ty::Timezone) {
                            mismatch(self, format!("cannot look for a {lt} in a string"), None);
                        }
                    }
                    _ => mismatch(
                        self,
                        format!("`{}` needs a list or a string on its right", op.symbol()),
                        None,
                    ),
                }
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                if matches!(lt, Ty::Optional(_)) || matches!(rt, Ty::Optional(_)) {
                    mismatch(
                        self,
                        format!(
                            "cannot compute `{}` with a value that may be absent",
                            op.symbol()
                        ),
                        Some("use `coalesce(value, default)` to give it a value"),
                    );
                    Ty::Error
                } else {
                    match (op, &lt, &rt) {
                        (_, Ty::Number, Ty::Number) => Ty::Number,
                        (BinaryOp::Add, Ty::String, Ty::String) => Ty::String,
                        (BinaryOp::Add | BinaryOp::Sub, Ty::Timestamp, Ty::Duration) => {
                            Ty::Timestamp
                        }
                        (BinaryOp::Add | BinaryOp::Sub, Ty::Date, Ty::Duration) => Ty::Date,
                        (BinaryOp::Add, Ty::Duration, Ty::Timestamp) => Ty::Timestamp,
                        (BinaryOp::Sub, Ty::Timestamp, Ty::Timestamp) => Ty::Duration,
                        (BinaryOp::Add | BinaryOp::Sub, Ty::Duration, Ty::Duration) => Ty::Duration,
                        (BinaryOp::Mul | BinaryOp::Div, Ty::Duration, Ty::Number) => Ty::Duration,
                        (BinaryOp::Mul, Ty::Number, Ty::Duration) => Ty::Duration,
                        _ => {
                            mismatch(
                                self,
                                format!("cannot compute {lt} {} {rt}", op.symbol()),
                                None,
                            );
                            Ty::Error
                        }
                    }
                }
            }
            BinaryOp::And | BinaryOp::Or => Ty::Bool,
        };
        self.emit_bin(op, loc);
        result
    }

    fn emit_bin(&mut self, op: BinaryOp, loc: Loc) {
        let b = match op {
            BinaryOp::Eq => BinOp::Eq,
            BinaryOp::Ne => BinOp::Ne,
            BinaryOp::Lt => BinOp::Lt,
            BinaryOp::Le => BinOp::Le,
            BinaryOp::Gt => BinOp::Gt,
            BinaryOp::Ge => BinOp::Ge,
            BinaryOp::In | BinaryOp::NotIn => BinOp::In,
            BinaryOp::Add => BinOp::Add,
            BinaryOp::Sub => BinOp::Sub,
            BinaryOp::Mul => BinOp::Mul,
            BinaryOp::Div => BinOp::Div,
            BinaryOp::And | BinaryOp::Or => return,
        };
        self.emit(Insn::Bin(b), loc);
        if op == BinaryOp::NotIn {
            self.emit(Insn::Not, loc);
        }
    }

    fn path(&mut self, path: &ast::Path, env: &mut Env) -> Ty {
        let loc = self.loc(env.file, path.span);
        let segs = &path.segments;
        let Some(first) = segs.first() else {
            return Ty::Error;
        };
        if first.text == "profile" {
            let Some(attr) = segs.get(1) else {
                let d = self
                    .diag(
                        &codes::UNKNOWN_PROPERTY,
                        env.file,
                        path.span,
                        "`profile` alone is not a value",
                    )
                    .help("name an attribute, such as `profile.age`");
                self.emit_diag(d);
                return Ty::Error;
            };
            let id = if env.consent_of.is_some() && !self.attrs.contains_key(&attr.text) {
                if let Some(ch) = env.consent_of {
                    self.consent_missing[ch] = Some((env.file, attr.span, attr.text.clone()));
                }
                None
            } else {
                self.attribute(env.file, attr)
            };
            let Some(id) = id else { return Ty::Error };
            if let Some(extra) = segs.get(2) {
                let d = self
                    .diag(
                        &codes::UNKNOWN_PROPERTY,
                        env.file,
                        extra.span,
                        "profile attributes have no fields",
                    )
                    .primary_label("remove this");
                self.emit_diag(d);
                return Ty::Error;
            }
            self.emit(Insn::Attr(id), loc);
            return Ty::of(&self.p.attributes[id].ty);
        }
        if first.text == "offer" && !self.names.contains(Kind::Event, "offer") {
            return self.offer_field(path, env, loc);
        }
        if segs.len() == 1 {
            // A segment, or a mistake.
            if self.names.contains(Kind::Segment, &first.text) {
                let Some(idx) = self.resolve(Kind::Segment, env.file, first) else {
                    return Ty::Error;
                };
                let seg: SegmentId = Ctx::entity(idx);
                if let Some(current) = env.segment {
                    self.segment_deps[current].push((seg, env.file, first.span));
                }
                self.emit(Insn::Segment(seg), loc);
                return Ty::Bool;
            }
            if self.names.contains(Kind::Event, &first.text) {
                let d = self
                    .diag(&codes::TYPE_MISMATCH, env.file, first.span, format!("the event `{}` is not a value", first.text))
                    .primary_label("an event")
                    .help(format!("count its occurrences with `count({} over last 30 days) > 0`, or read a property: `{}.<property>`", first.text, first.text));
                self.emit_diag(d);
                return Ty::Error;
            }
            self.resolve(Kind::Segment, env.file, first);
            return Ty::Error;
        }
        // EVENT.prop
        if !self.names.contains(Kind::Event, &first.text) {
            let mut candidates: Vec<String> = self
                .names
                .of_kind(Kind::Event)
                .map(|(n, _)| n.clone())
                .collect();
            candidates.push("profile".into());
            candidates.push("offer".into());
            let mut d = self
                .diag(
                    &codes::UNKNOWN_NAME,
                    env.file,
                    first.span,
                    format!("unknown event `{}`", first.text),
                )
                .primary_label("`x.y` reads a property of an event, `profile.y` an attribute");
            if let Some(best) = suggest(&first.text, candidates.iter().map(String::as_str)) {
                d = d
                    .help(format!("did you mean `{best}`?"))
                    .fix(crate::diagnostic::Fix {
                        file: env.file,
                        span: first.span,
                        replacement: best.clone(),
                        title: format!("replace with `{best}`"),
                    });
            }
            self.emit_diag(d);
            return Ty::Error;
        }
        let Some(idx) = self.resolve(Kind::Event, env.file, first) else {
            return Ty::Error;
        };
        let event: EventId = Ctx::entity(idx);
        let Some(prop_name) = segs.get(1) else {
            return Ty::Error;
        };
        let Some(prop) = self.event_prop(env.file, event, prop_name) else {
            return Ty::Error;
        };
        if let Some(extra) = segs.get(2) {
            let d = self.diag(
                &codes::UNKNOWN_PROPERTY,
                env.file,
                extra.span,
                "event properties have no fields",
            );
            self.emit_diag(d);
            return Ty::Error;
        }
        match &env.scope {
            Scope::Record => env.used_events.push((event, prop, path.span)),
            Scope::Events(list) => {
                if env.candidate != Some(event) && list.binary_search(&event).is_ok() {
                    self.scope_reads.push((event, prop));
                }
                if list.binary_search(&event).is_err() {
                    let ev = first.text.clone();
                    let mut d = self
                        .diag(
                            &codes::EVENT_NOT_IN_SCOPE,
                            env.file,
                            path.span,
                            format!("`{ev}` has not happened here"),
                        )
                        .primary_label(format!(
                            "`{ev}.{}` is read in {}",
                            prop_name.text, env.what
                        ));
                    d = if env.what.contains("segment")
                        || env.what.contains("offer")
                        || env.what.contains("consent")
                    {
                        d.help(format!(
                            "{} cannot read event properties; use an aggregate such as `last({ev}.{})`",
                            env.what, prop_name.text
                        ))
                    } else {
                        d.help(format!(
                            "event properties can be read after `entry on {ev}` or after `wait for {ev}` (when its timeout path cannot continue)"
                        ))
                    };
                    self.emit_diag(d);
                }
            }
        }
        self.emit(Insn::EventProp(event, prop), loc);
        Ty::of(&self.p.events[event].props[prop as usize].ty)
    }

    fn offer_field(&mut self, path: &ast::Path, env: &mut Env, loc: Loc) -> Ty {
        let Some(field) = path.segments.get(1) else {
            let d = self
                .diag(
                    &codes::UNKNOWN_PROPERTY,
                    env.file,
                    path.span,
                    "`offer` alone is not a value",
                )
                .help("name a field, such as `offer.title`");
            self.emit_diag(d);
            return Ty::Error;
        };
        match env.offer {
            OfferScope::Forbidden => {
                let d = self
                    .diag(
                        &codes::OFFER_NOT_IN_SCOPE,
                        env.file,
                        path.span,
                        format!("no offer is chosen in {}", env.what),
                    )
                    .primary_label("`offer.*` is only known in what a send sends")
                    .help("send it `with best offer` or `with offer NAME`");
                self.emit_diag(d);
            }
            OfferScope::Record => {
                env.used_offer.get_or_insert(path.span);
            }
            OfferScope::Allowed => {}
        }
        if field.text != "name" && !self.offer_fields.contains(&field.text) {
            let mut fields = self.offer_fields.clone();
            fields.push("name".into());
            let mut d = self
                .diag(
                    &codes::UNKNOWN_PROPERTY,
                    env.file,
                    field.span,
                    format!("no offer has a field `{}`", field.text),
                )
                .primary_label("unknown offer field");
            if let Some(best) = suggest(&field.text, fields.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{best}`?"));
            } else {
                d = d.note(format!("offer fields: {}", fields.join(", ")));
            }
            self.emit_diag(d);
            return Ty::Error;
        }
        let c = self.konst(Const::String(field.text.clone()));
        self.emit(Insn::OfferField(c), loc);
        Ty::String
    }

    fn call(&mut self, name: &ast::Ident, args: &[ast::Expr], env: &mut Env, span: Span) -> Ty {
        let loc = self.loc(env.file, span);
        let Some(b) = Builtin::ALL.iter().copied().find(|b| b.name() == name.text) else {
            for a in args {
                self.expr(a, env);
            }
            let names: Vec<String> = Builtin::ALL.iter().map(|b| b.name().to_string()).collect();
            self.unknown("function", env.file, name, names);
            return Ty::Error;
        };
        let arity = match b {
            Builtin::Contains | Builtin::Coalesce => 2,
            _ => 1,
        };
        let types: Vec<Ty> = args.iter().map(|a| self.expr(a, env)).collect();
        if args.len() != arity {
            let d = self
                .diag(
                    &codes::WRONG_ARGUMENTS,
                    env.file,
                    span,
                    format!(
                        "`{}` takes {arity} argument{}, not {}",
                        b.name(),
                        if arity == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .primary_label("wrong number of arguments");
            self.emit_diag(d);
            return Ty::Error;
        }
        self.emit(Insn::Call(b, arity as u8), loc);
        let t0 = &types[0];
        let bad = |this: &mut Self, i: usize, want: &str| {
            let d = this
                .diag(
                    &codes::TYPE_MISMATCH,
                    env.file,
                    args[i].span,
                    format!("`{}` needs {want}, but this is {}", b.name(), types[i]),
                )
                .primary_label(format!("this is {}", types[i]));
            this.emit_diag(d);
            Ty::Error
        };
        if types.iter().any(Ty::is_error) {
            return match b {
                Builtin::Len | Builtin::DaysSince | Builtin::YearsSince | Builtin::Round => {
                    Ty::Number
                }
                Builtin::Lower | Builtin::Upper => Ty::String,
                Builtin::Contains | Builtin::IsSet => Ty::Bool,
                Builtin::Coalesce => Ty::Error,
            };
        }
        match b {
            Builtin::Len => match t0.strip() {
                Ty::List(_) | Ty::EmptyList | Ty::String => Ty::Number,
                _ => bad(self, 0, "a list or a string"),
            },
            Builtin::Lower | Builtin::Upper => match t0.strip() {
                Ty::String | Ty::Timezone => Ty::String,
                _ => bad(self, 0, "a string"),
            },
            Builtin::Contains => match t0.strip() {
                Ty::List(elem) => {
                    if types[1].comparable(elem) {
                        Ty::Bool
                    } else {
                        bad(self, 1, &format!("a {elem}"))
                    }
                }
                Ty::String => {
                    if matches!(types[1].strip(), Ty::String) {
                        Ty::Bool
                    } else {
                        bad(self, 1, "a string")
                    }
                }
                _ => bad(self, 0, "a list or a string"),
            },
            Builtin::IsSet => Ty::Bool,
            Builtin::Coalesce => {
                let inner = t0.strip().clone();
                if types[1].assignable_to(&inner) {
                    inner
                } else {
                    bad(self, 1, &format!("a {inner}"))
                }
            }
            Builtin::DaysSince => match t0.strip() {
                Ty::Date | Ty::Timestamp => Ty::Number,
                _ => bad(self, 0, "a date or a timestamp"),
            },
            Builtin::YearsSince => match t0.strip() {
                Ty::Date | Ty::Timestamp => Ty::Number,
                _ => bad(self, 0, "a date or a timestamp"),
            },
            Builtin::Round => match t0.strip() {
                Ty::Number => Ty::Number,
                _ => bad(self, 0, "a number"),
            },
        }
    }

    fn aggregate(&mut self, agg: &ast::Aggregate, env: &mut Env) -> Ty {
        let loc = self.loc(env.file, agg.target.span);
        let Some(first) = agg.target.segments.first() else {
            return Ty::Error;
        };
        let Some(idx) = self.resolve(Kind::Event, env.file, first) else {
            return Ty::Error;
        };
        let event: EventId = Ctx::entity(idx);
        let prop = match agg.target.segments.get(1) {
            Some(p) => match self.event_prop(env.file, event, p) {
                Some(i) => Some(i),
                None => return Ty::Error,
            },
            None => None,
        };
        let func = match agg.func {
            ast::AggFn::Count => AggFn::Count,
            ast::AggFn::Sum => AggFn::Sum,
            ast::AggFn::Avg => AggFn::Avg,
            ast::AggFn::Min => AggFn::Min,
            ast::AggFn::Max => AggFn::Max,
            ast::AggFn::Last => AggFn::Last,
        };
        let prop_ty = prop.map(|i| Ty::of(&self.p.events[event].props[i as usize].ty));
        let fname = match func {
            AggFn::Count => "count",
            AggFn::Sum => "sum",
            AggFn::Avg => "avg",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Last => "last",
        };
        let result = match (func, &prop_ty) {
            (AggFn::Count, None) => Ty::Number,
            (AggFn::Count, Some(_)) => {
                let d = self
                    .diag(
                        &codes::TYPE_MISMATCH,
                        env.file,
                        agg.target.span,
                        "`count` counts occurrences of an event, not a property",
                    )
                    .help(format!(
                        "write `count({})`, or filter: `count({} where ...)`",
                        first.text, first.text
                    ));
                self.emit_diag(d);
                return Ty::Error;
            }
            (_, None) => {
                let d = self
                    .diag(
                        &codes::TYPE_MISMATCH,
                        env.file,
                        agg.target.span,
                        format!("`{fname}` needs a property of the event"),
                    )
                    .help(format!("write `{fname}({}.<property>)`", first.text));
                self.emit_diag(d);
                return Ty::Error;
            }
            (AggFn::Sum, Some(t)) if t.strip() == &Ty::Number => Ty::Number,
            (AggFn::Avg | AggFn::Min | AggFn::Max, Some(t)) if t.strip() == &Ty::Number => {
                Ty::Optional(Box::new(Ty::Number))
            }
            (AggFn::Last, Some(t)) => Ty::Optional(Box::new(t.strip().clone())),
            (_, Some(t)) => {
                let d = self
                    .diag(
                        &codes::TYPE_MISMATCH,
                        env.file,
                        agg.target.span,
                        format!("`{fname}` needs a number property, but this is {t}"),
                    )
                    .primary_label(format!("this is {t}"));
                self.emit_diag(d);
                return Ty::Error;
            }
        };
        let window_secs = match &agg.window {
            Some(w) => match self.duration_secs(env.file, w) {
                Some(s) => Some(s),
                None => return result,
            },
            None => None,
        };
        let filter = agg.filter.as_ref().map(|f| {
            let mut fenv = Env::new(
                env.file,
                Scope::Events(vec![event]),
                OfferScope::Forbidden,
                "an aggregate filter",
            )
            .with_candidate(event);
            fenv.segment = env.segment;
            self.condition_function(f, &mut fenv)
        });
        let key = (func as u8, event, prop, window_secs);
        let id = match (filter, self.agg_dedup.get(&key)) {
            (None, Some(&id)) => id,
            _ => {
                let id = self.p.aggregates.push(AggDef {
                    func,
                    event,
                    prop,
                    filter,
                    window_secs,
                });
                if filter.is_none() {
                    self.agg_dedup.insert(key, id);
                }
                id
            }
        };
        self.emit(Insn::Aggregate(id), loc);
        result
    }
}
