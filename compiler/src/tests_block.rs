//! `test` blocks: inputs and expectations checked against the project and compiled into the
//! program's test table (the runtime's `journey test` runs them on a virtual clock).

use journey_bytecode::*;
use journey_grammar::ast::{self, Expectation, Span, TestItem};

use crate::codes;
use crate::ctx::{Ctx, Kind};
use crate::index::DefKind;
use crate::types::Ty;

impl Ctx<'_> {
    pub(crate) fn compile_tests(&mut self) {
        for (file, item) in self.items() {
            if let ast::ItemKind::Test(t) = &item.kind {
                self.test(file, t, item.span);
            }
        }
    }

    fn civil(&mut self, file: FileId, t: &ast::TimestampLit) -> Option<Civil> {
        let (date, time) = self.timestamp(file, t)?;
        Some(Civil { date, time })
    }

    fn test(&mut self, file: FileId, t: &ast::TestDecl, full: Span) {
        let name = t.name.plain().unwrap_or_default();
        self.index.define(
            DefKind::Test,
            &name,
            file,
            t.name.span,
            full,
            None,
            format!("test \"{name}\""),
            None,
        );
        let mut def = TestDef {
            name,
            customer: "test-customer".into(),
            profile: Vec::new(),
            steps: Vec::new(),
            loc: self.loc(file, t.name.span),
        };
        let mut last: Option<(Civil, Span)> = None;
        let mut check_order = |this: &mut Self, at: Civil, span: Span| {
            if let Some((prev, pspan)) = last
                && at < prev
            {
                let d = this
                    .diag(
                        &codes::TEST_TIME_ORDER,
                        file,
                        span,
                        format!("{} {} is before the previous input", at.date, at.time),
                    )
                    .primary_label("goes back in time")
                    .label(file, pspan, "previous input")
                    .help("write a test's inputs in chronological order");
                this.emit_diag(d);
            }
            last = Some((at, span));
        };
        let mut profile_seen: Option<Span> = None;
        for item in &t.items {
            match item {
                TestItem::Profile(args, span) => {
                    if let Some(prev) = profile_seen {
                        let d =
                            self.twice(file, *span, "the test's profile", "given", (file, prev));
                        self.emit_diag(d);
                        continue;
                    }
                    profile_seen = Some(*span);
                    let mut given: Vec<AttrId> = Vec::new();
                    for a in args {
                        let Some(attr) = self.attribute(file, &a.name) else {
                            continue;
                        };
                        given.push(attr);
                        if def.profile.iter().any(|(x, _)| *x == attr) {
                            let d = self.diag(
                                &codes::DUPLICATE,
                                file,
                                a.name.span,
                                format!("`{}` is given twice", a.name.text),
                            );
                            self.emit_diag(d);
                            continue;
                        }
                        if let Some(c) = self.test_value(
                            file,
                            &a.value,
                            &Ty::of(&self.p.attributes[attr].ty),
                            &format!("`profile.{}`", a.name.text),
                        ) {
                            if self.p.attributes[attr].ty == Type::Timezone {
                                self.check_timezone(file, a.value.span, &self.p.consts[c].clone());
                            }
                            def.profile.push((attr, c));
                        }
                    }
                    let missing: Vec<String> = self
                        .p
                        .attributes
                        .iter()
                        .filter(|(id, a)| {
                            !self.written_default[*id]
                                && !matches!(a.ty, Type::Optional(_))
                                && !given.contains(id)
                        })
                        .map(|(_, a)| format!("`{}`", a.name))
                        .collect();
                    if !missing.is_empty() {
                        let d = self
                            .diag(&codes::TEST_MISSING_ATTRIBUTE, file, *span, format!("this profile misses {}", missing.join(", ")))
                            .primary_label("incomplete profile")
                            .help("give every attribute that is neither optional (`T?`) nor defaulted");
                        self.emit_diag(d);
                    }
                }
                TestItem::Customer(s) => match s.plain() {
                    Some(c) => def.customer = c,
                    None => {
                        let d = self.diag(
                            &codes::NOT_CONSTANT,
                            file,
                            s.span,
                            "the customer id is plain text",
                        );
                        self.emit_diag(d);
                    }
                },
                TestItem::Event {
                    at,
                    event,
                    args,
                    span,
                } => {
                    let at = self.civil(file, at);
                    let Some(i) = self.resolve(Kind::Event, file, event) else {
                        continue;
                    };
                    let ev: EventId = Ctx::entity(i);
                    let mut props = Vec::new();
                    for a in args {
                        let Some(idx) = self.event_prop(file, ev, &a.name) else {
                            continue;
                        };
                        let want = Ty::of(&self.p.events[ev].props[idx as usize].ty);
                        if let Some(c) = self.test_value(
                            file,
                            &a.value,
                            &want,
                            &format!("the property `{}`", a.name.text),
                        ) {
                            props.push((idx, c));
                        }
                    }
                    self.missing_props(file, ev, args, *span);
                    if let Some(at) = at {
                        check_order(self, at, *span);
                        def.steps.push(TestStep::Event {
                            at,
                            event: ev,
                            props,
                        });
                    }
                }
                TestItem::Set {
                    at,
                    target,
                    value,
                    span,
                } => {
                    let at = self.civil(file, at);
                    let attr = match (target.segments.first(), target.segments.get(1)) {
                        (Some(p), Some(a)) if p.text == "profile" && target.segments.len() == 2 => {
                            self.attribute(file, a)
                        }
                        _ => {
                            let d = self
                                .diag(
                                    &codes::UNKNOWN_PROPERTY,
                                    file,
                                    target.span,
                                    "only profile attributes can be set",
                                )
                                .help("write `set profile.<attribute> = <value>`");
                            self.emit_diag(d);
                            None
                        }
                    };
                    let Some(attr) = attr else { continue };
                    let want = Ty::of(&self.p.attributes[attr].ty);
                    let c = self.test_value(file, value, &want, "the new value");
                    if let (Some(c), true) = (c, self.p.attributes[attr].ty == Type::Timezone) {
                        let k = self.p.consts[c].clone();
                        self.check_timezone(file, value.span, &k);
                    }
                    if let (Some(c), Some(at)) = (c, at) {
                        check_order(self, at, *span);
                        def.steps.push(TestStep::Set { at, attr, value: c });
                    }
                }
                TestItem::Enter { at, journey, span } => {
                    let at = self.civil(file, at);
                    let Some(i) = self.resolve(Kind::Journey, file, journey) else {
                        continue;
                    };
                    if let Some(at) = at {
                        check_order(self, at, *span);
                        def.steps.push(TestStep::Enter {
                            at,
                            journey: Ctx::entity(i),
                        });
                    }
                }
                TestItem::RunUntil(at, span) => {
                    if let Some(at) = self.civil(file, at) {
                        check_order(self, at, *span);
                        def.steps.push(TestStep::RunUntil(at));
                    }
                }
                TestItem::Expect(e, span) => {
                    if let Some(x) = self.expectation(file, e) {
                        let loc = self.loc(file, *span);
                        def.steps.push(TestStep::Expect(x, loc));
                    }
                }
            }
        }
        self.p.tests.push(def);
    }

    /// A literal test input of the wanted type.
    fn test_value(
        &mut self,
        file: FileId,
        e: &ast::Expr,
        want: &Ty,
        what: &str,
    ) -> Option<ConstId> {
        let (c, t) = self.constant(file, e)?;
        if !self.expect_type(file, e.span, &t, want, what) {
            return None;
        }
        Some(self.konst(c))
    }

    fn expect_at(&mut self, file: FileId, at: &Option<ast::TimestampLit>) -> Option<Civil> {
        at.as_ref().and_then(|t| self.civil(file, t))
    }

    fn message_ref(&mut self, file: FileId, m: &ast::Message) -> Option<MessageRef> {
        match m {
            ast::Message::Template(t) => self
                .resolve(Kind::Template, file, t)
                .map(|i| MessageRef::Template(Ctx::entity(i))),
            ast::Message::External(s) | ast::Message::Inline(s) => {
                let Some(text) = s.plain() else {
                    let d = self
                        .diag(
                            &codes::NOT_CONSTANT,
                            file,
                            s.span,
                            "an expected message is plain text",
                        )
                        .primary_label("interpolation is not allowed in an expectation")
                        .help(
                            "expect the template by name, or write the text as it will be rendered",
                        );
                    self.emit_diag(d);
                    return None;
                };
                Some(match m {
                    ast::Message::External(_) => MessageRef::External(text),
                    _ => MessageRef::Inline(TextDef {
                        name: "text".into(),
                        pieces: vec![Piece::Text(text)],
                    }),
                })
            }
        }
    }

    fn expectation(&mut self, file: FileId, e: &Expectation) -> Option<Expect> {
        Some(match e {
            Expectation::Send {
                positive,
                channel,
                message,
                at,
            } => {
                let channel = self
                    .resolve(Kind::Channel, file, channel)
                    .map(Ctx::entity::<ChannelId>);
                let message = match message {
                    Some(m) => Some(self.message_ref(file, m)?),
                    None => None,
                };
                let at = self.expect_at(file, at);
                Expect::Send {
                    positive: *positive,
                    channel: channel?,
                    message,
                    at,
                }
            }
            Expectation::Reached { positive, step, at } => {
                let at = self.expect_at(file, at);
                let (Some(j), Some(label)) = (step.segments.first(), step.segments.get(1)) else {
                    let d = self.diag(
                        &codes::UNKNOWN_NAME,
                        file,
                        step.span,
                        "name the step as `journey.label`",
                    );
                    self.emit_diag(d);
                    return None;
                };
                let jid: JourneyId = Ctx::entity(self.resolve(Kind::Journey, file, j)?);
                let Some(sid) = self.journey_labels[jid].get(&label.text).copied() else {
                    let known: Vec<String> = self.journey_labels[jid].keys().cloned().collect();
                    self.unknown(&format!("step label in `{}`", j.text), file, label, known);
                    return None;
                };
                let jdef = self.names.get(Kind::Journey, &j.text).map(|d| d.def);
                if let Some(d) =
                    jdef.and_then(|jd| self.member_defs.get(&(jd, label.text.clone())).copied())
                {
                    self.index.reference(file, label.span, d);
                }
                Expect::Reached {
                    positive: *positive,
                    step: sid,
                    at,
                }
            }
            Expectation::Goal { positive, goal, at } => {
                let at = self.expect_at(file, at);
                let (journey, name) = match (goal.segments.first(), goal.segments.get(1)) {
                    (Some(j), Some(g)) => (Some(j), g),
                    (Some(g), None) => (None, g),
                    _ => return None,
                };
                let jid: Option<JourneyId> = match journey {
                    Some(j) => Some(Ctx::entity(self.resolve(Kind::Journey, file, j)?)),
                    None => None,
                };
                let found: Vec<GoalId> = self
                    .p
                    .goals
                    .iter()
                    .filter(|(_, g)| g.name == name.text && jid.is_none_or(|j| g.journey == j))
                    .map(|(id, _)| id)
                    .collect();
                match found.as_slice() {
                    [one] => Expect::Goal {
                        positive: *positive,
                        goal: *one,
                        at,
                    },
                    [] => {
                        let known: Vec<String> =
                            self.p.goals.values().map(|g| g.name.clone()).collect();
                        self.unknown("goal", file, name, known);
                        return None;
                    }
                    _ => {
                        let d = self
                            .diag(
                                &codes::UNKNOWN_NAME,
                                file,
                                goal.span,
                                format!("several journeys have a goal `{}`", name.text),
                            )
                            .help(format!(
                                "name the journey: `expect goal <journey>.{}`",
                                name.text
                            ));
                        self.emit_diag(d);
                        return None;
                    }
                }
            }
            Expectation::Exit { journey, at } => {
                let at = self.expect_at(file, at);
                Expect::Exit {
                    journey: Ctx::entity(self.resolve(Kind::Journey, file, journey)?),
                    at,
                }
            }
            Expectation::Scenario { segment, journey } => {
                if segment.text != "otherwise" {
                    self.resolve(Kind::Segment, file, segment)?;
                }
                let jid: Option<JourneyId> = match journey {
                    Some(j) => Some(Ctx::entity(self.resolve(Kind::Journey, file, j)?)),
                    None => None,
                };
                let found = self.p.steps.iter().find_map(|(id, s)| {
                    if s.kind != StepKind::Scenario || jid.is_some_and(|j| s.journey != j) {
                        return None;
                    }
                    s.arms
                        .iter()
                        .position(|a| *a == segment.text)
                        .map(|arm| (id, arm as u16))
                });
                match found {
                    Some((step, arm)) => Expect::Scenario { step, arm },
                    None => {
                        let d = self
                            .diag(
                                &codes::UNKNOWN_NAME,
                                file,
                                segment.span,
                                format!("no scenario is written for `{}`", segment.text),
                            )
                            .primary_label("no `scenario for` this segment");
                        self.emit_diag(d);
                        return None;
                    }
                }
            }
            Expectation::Variant(path) => {
                let (Some(x), Some(v)) = (path.segments.first(), path.segments.get(1)) else {
                    let d = self.diag(
                        &codes::UNKNOWN_NAME,
                        file,
                        path.span,
                        "name the variant as `experiment.variant`",
                    );
                    self.emit_diag(d);
                    return None;
                };
                let Some((exp, _, _)) = self.experiments_by_name.get(&x.text).copied() else {
                    let known: Vec<String> = self.experiments_by_name.keys().cloned().collect();
                    self.unknown("experiment", file, x, known);
                    return None;
                };
                let def = &self.p.experiments[exp];
                let variant = if v.text == "holdout" {
                    def.variants.len()
                } else {
                    match def.variants.iter().position(|x| x.name == v.text) {
                        Some(i) => i,
                        None => {
                            let mut known: Vec<String> =
                                def.variants.iter().map(|x| x.name.clone()).collect();
                            known.push("holdout".into());
                            self.unknown("variant", file, v, known);
                            return None;
                        }
                    }
                };
                Expect::Variant {
                    experiment: exp,
                    variant: variant as u16,
                }
            }
            Expectation::Emit { event, at } => {
                let at = self.expect_at(file, at);
                Expect::Emit {
                    event: Ctx::entity(self.resolve(Kind::Event, file, event)?),
                    at,
                }
            }
            Expectation::Entered {
                positive,
                journey,
                at,
            } => {
                let at = self.expect_at(file, at);
                Expect::Entered {
                    positive: *positive,
                    journey: Ctx::entity(self.resolve(Kind::Journey, file, journey)?),
                    at,
                }
            }
        })
    }
}
