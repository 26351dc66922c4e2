//! A small but complete program, built by hand: every table has entries and most
//! instructions appear. It is what a compiler could produce for a "first year" journey.

use cranelift_entity::EntityRef;

use crate::ids::*;
use crate::insn::{BinOp, Builtin, Insn};
use crate::program::*;
use crate::value::{Const, Date, TimeOfDay, Type};

/// Code and locations, appended together.
#[derive(Default)]
pub struct Asm {
    pub code: Vec<Insn>,
    pub locs: Vec<Loc>,
}

impl Asm {
    pub fn here(&self) -> Pc {
        Pc::try_from(self.code.len()).expect("small program")
    }

    pub fn op(&mut self, insn: Insn, line: u32, col: u32) -> Pc {
        let pc = self.here();
        self.code.push(insn);
        self.locs.push(loc(line, col));
        pc
    }

    pub fn patch(&mut self, pc: Pc, insn: Insn) {
        self.code[pc as usize] = insn;
    }
}

/// A location in `first_year.journey` (file0).
pub fn loc(line: u32, col: u32) -> Loc {
    Loc {
        file: 0,
        start: line * 100 + col,
        end: line * 100 + col + 4,
        line,
        col,
    }
}

fn date(year: i16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn tod(hour: u8, minute: u8) -> TimeOfDay {
    TimeOfDay { hour, minute }
}

fn civil(day: u8, hour: u8) -> Civil {
    Civil {
        date: date(2024, 3, day),
        time: tod(hour, 0),
    }
}

fn prop(name: &str, ty: Type) -> PropDef {
    PropDef {
        name: name.into(),
        ty,
    }
}

fn opt(ty: Type) -> Type {
    Type::Optional(Box::new(ty))
}

fn c(n: usize) -> ConstId {
    ConstId::new(n)
}

fn attr(n: usize) -> AttrId {
    AttrId::new(n)
}

fn event(n: usize) -> EventId {
    EventId::new(n)
}

fn step(n: usize) -> StepId {
    StepId::new(n)
}

/// The pcs of the sample's functions and bodies, for tests that break them.
#[derive(Debug, Clone, Copy)]
pub struct Pcs {
    pub seg_jeune: Pc,
    pub jump_to_join: Pc,
    pub body: Pc,
    pub timeline: Pc,
    pub timeout: Pc,
}

/// The sample program.
pub fn program() -> Program {
    sample().0
}

/// The sample program and some of its pcs.
pub fn sample() -> (Program, Pcs) {
    let mut a = Asm::default();

    // ---- expression functions
    // seg0 jeune: age < 26
    let seg_jeune = a.op(Insn::Attr(attr(0)), 3, 15);
    a.op(Insn::Const(c(0)), 3, 21);
    a.op(Insn::Bin(BinOp::Lt), 3, 19);
    a.op(Insn::Return, 3, 15);
    // seg1 big_spender: sum(purchase.amount) > 100 and jeune
    let seg_big = a.op(Insn::Aggregate(AggId::new(1)), 4, 21);
    a.op(Insn::Const(c(5)), 4, 50);
    a.op(Insn::Bin(BinOp::Gt), 4, 48);
    let and = a.op(Insn::JumpIfFalseOrPop(0), 4, 54);
    a.op(Insn::Segment(SegmentId::new(0)), 4, 58);
    let ret = a.op(Insn::Return, 4, 21);
    a.patch(and, Insn::JumpIfFalseOrPop(ret));
    // agg1 filter: purchase.sku != "premium"
    let agg_filter = a.op(Insn::EventProp(event(1), 1), 5, 40);
    a.op(Insn::Const(c(6)), 5, 47);
    a.op(Insn::Bin(BinOp::Ne), 5, 44);
    a.op(Insn::Return, 5, 40);
    // chan0 consent: optin
    let consent = a.op(Insn::Attr(attr(5)), 7, 13);
    a.op(Insn::Return, 7, 13);
    // tpl0 subject piece: upper(plan)
    let tpl_expr = a.op(Insn::Attr(attr(3)), 10, 30);
    a.op(Insn::Call(Builtin::Upper, 1), 10, 24);
    a.op(Insn::ToText, 10, 24);
    a.op(Insn::Return, 10, 24);
    // offer0 eligible: not big_spender
    let eligible = a.op(Insn::Segment(SegmentId::new(1)), 12, 14);
    a.op(Insn::Not, 12, 10);
    a.op(Insn::Return, 12, 10);
    // journey0 entry condition: signup.plan != "premium"
    let entry_cond = a.op(Insn::EventProp(event(0), 0), 20, 20);
    a.op(Insn::Const(c(6)), 20, 28);
    a.op(Insn::Bin(BinOp::Ne), 20, 25);
    a.op(Insn::Return, 20, 20);
    // journey0 exit when big_spender
    let exit_cond = a.op(Insn::Segment(SegmentId::new(1)), 22, 13);
    a.op(Insn::Return, 22, 13);
    // wait0 filter: purchase.amount >= 100
    let wait_filter = a.op(Insn::EventProp(event(1), 0), 33, 30);
    a.op(Insn::Const(c(5)), 33, 39);
    a.op(Insn::Bin(BinOp::Ge), 33, 36);
    a.op(Insn::Return, 33, 30);
    // send2 inline piece: "{plan} " + days since birthday
    let inline_expr = a.op(Insn::Attr(attr(2)), 38, 20);
    a.op(Insn::Call(Builtin::DaysSince, 1), 38, 10);
    a.op(Insn::ToText, 38, 10);
    a.op(Insn::Return, 38, 10);
    // goal0 condition: purchase.amount > 30
    let goal_cond = a.op(Insn::EventProp(event(1), 0), 25, 30);
    a.op(Insn::Const(c(12)), 25, 39);
    a.op(Insn::Bin(BinOp::Gt), 25, 37);
    a.op(Insn::Return, 25, 30);

    // ---- journey0 body
    let body = a.op(Insn::Attr(attr(4)), 30, 5);
    a.op(Insn::Send(SendId::new(0)), 30, 5);
    a.op(Insn::Critical(step(0)), 30, 5);
    a.op(Insn::OpenGoal(GoalId::new(0)), 30, 5);
    a.op(Insn::Wait(step(1), c(2)), 31, 5);
    a.op(Insn::Segment(SegmentId::new(0)), 32, 8);
    let jif = a.op(Insn::JumpIfFalse(0), 32, 5);
    a.op(Insn::Branch(step(2), 0), 32, 5);
    a.op(Insn::Attr(attr(4)), 33, 9);
    a.op(Insn::OfferField(c(4)), 33, 9);
    a.op(Insn::Send(SendId::new(1)), 33, 9);
    let jump_to_join = a.op(Insn::Jump(0), 32, 5);
    let else_ = a.op(Insn::Branch(step(2), 1), 34, 5);
    a.patch(jif, Insn::JumpIfFalse(else_));
    let join = a.op(Insn::WaitEvent(WaitId::new(0)), 36, 5);
    a.patch(jump_to_join, Insn::Jump(join));
    a.op(Insn::Const(c(6)), 37, 16);
    a.op(Insn::Set(step(5), attr(3)), 37, 5);
    a.op(Insn::Split(ExperimentId::new(0)), 38, 5);
    let variant_a = a.op(Insn::Attr(attr(4)), 39, 9);
    a.op(Insn::Send(SendId::new(2)), 39, 9);
    let jump_a = a.op(Insn::Jump(0), 39, 9);
    let variant_b = a.op(Insn::WaitUntil(step(8), 4, tod(10, 0)), 40, 9);
    let jump_b = a.op(Insn::Jump(0), 40, 9);
    let after = a.op(Insn::EventProp(event(0), 0), 42, 20);
    a.patch(jump_a, Insn::Jump(after));
    a.patch(jump_b, Insn::Jump(after));
    a.op(Insn::Emit(EmitId::new(0)), 42, 5);
    a.op(Insn::End, 43, 1);
    let timeout = a.op(Insn::Exit(step(10)), 44, 5);

    // ---- journey0 timeline[0]: month 6 at 10:00
    let timeline = a.op(Insn::Branch(step(11), 0), 46, 5);
    a.op(Insn::Attr(attr(4)), 47, 9);
    a.op(Insn::Send(SendId::new(3)), 47, 9);
    a.op(Insn::WaitMonths(step(13), 1), 48, 9);
    a.op(Insn::Now, 49, 9);
    a.op(Insn::Const(c(10)), 49, 15);
    a.op(Insn::MakeList(2), 49, 9);
    a.op(Insn::Pop, 49, 9);
    a.op(Insn::End, 50, 1);

    let mut p = Program {
        meta: Meta {
            project: "first_year".into(),
            compiler: "journey 0.1.0".into(),
            default_timezone: "Europe/Paris".into(),
            timezone_attr: Some(attr(1)),
            source_hash: 0x0123_4567_89ab_cdef,
        },
        ..Program::default()
    };
    p.files.push(SourceFile {
        path: "first_year.journey".into(),
    });
    p.files.push(SourceFile {
        path: "schema.journey".into(),
    });

    for k in [
        Const::Number(26.0),
        Const::String("Europe/Paris".into()),
        Const::Duration(3 * 86_400),
        Const::String("JOURNEY".into()),
        Const::String("title".into()),
        Const::Number(100.0),
        Const::String("premium".into()),
        Const::Bool(true),
        Const::Date(date(1990, 5, 17)),
        Const::Timestamp(date(2024, 2, 29), tod(23, 59)),
        Const::List(vec![Const::String("a".into()), Const::Number(1.5)]),
        Const::None,
        Const::Number(30.0),
        Const::Number(20.0),
        Const::String("+33600000000".into()),
    ] {
        p.consts.push(k);
    }

    for (name, ty, default) in [
        ("age", Type::Number, None),
        ("tz", opt(Type::Timezone), Some(c(1))),
        ("birthday", opt(Type::Date), None),
        ("plan", Type::String, None),
        ("phone", opt(Type::String), None),
        ("optin", Type::Bool, Some(c(7))),
        ("tags", Type::List(Box::new(Type::String)), None),
    ] {
        p.attributes.push(AttrDef {
            name: name.into(),
            ty,
            default,
        });
    }

    p.events.push(EventDef {
        name: "signup".into(),
        props: vec![
            prop("plan", Type::String),
            prop("source", opt(Type::String)),
        ],
    });
    p.events.push(EventDef {
        name: "purchase".into(),
        props: vec![prop("amount", Type::Number), prop("sku", Type::String)],
    });
    p.events.push(EventDef {
        name: "unsubscribe".into(),
        props: vec![],
    });
    p.events.push(EventDef {
        name: "welcome_done".into(),
        props: vec![prop("plan", Type::String)],
    });

    p.aggregates.push(AggDef {
        func: AggFn::Count,
        event: event(1),
        prop: None,
        filter: None,
        window_secs: Some(30 * 86_400),
    });
    p.aggregates.push(AggDef {
        func: AggFn::Sum,
        event: event(1),
        prop: Some(0),
        filter: Some(agg_filter),
        window_secs: None,
    });

    p.segments.push(SegmentDef {
        name: "jeune".into(),
        condition: seg_jeune,
        uses_segments: vec![],
        uses_aggregates: vec![],
        uses_attributes: vec![attr(0)],
        loc: loc(3, 1),
    });
    p.segments.push(SegmentDef {
        name: "big_spender".into(),
        condition: seg_big,
        uses_segments: vec![SegmentId::new(0)],
        uses_aggregates: vec![AggId::new(1)],
        uses_attributes: vec![attr(0)],
        loc: loc(4, 1),
    });

    p.channels.push(ChannelDef {
        name: "sms".into(),
        plugin: "twilio".into(),
        config: vec![
            ("sender".into(), ConfigValue::Const(c(3))),
            ("token".into(), ConfigValue::Secret("TWILIO_TOKEN".into())),
            ("region".into(), ConfigValue::Env("TWILIO_REGION".into())),
        ],
        params: vec![
            ParamDef {
                name: "to".into(),
                ty: Type::String,
            },
            ParamDef {
                name: "coupon".into(),
                ty: opt(Type::String),
            },
        ],
        consent: Some(consent),
        loc: loc(6, 1),
    });
    p.channels.push(ChannelDef {
        name: "email".into(),
        plugin: "smtp".into(),
        config: vec![],
        params: vec![ParamDef {
            name: "to".into(),
            ty: Type::String,
        }],
        consent: None,
        loc: Loc {
            file: 1,
            ..loc(2, 1)
        },
    });

    p.templates.push(TemplateDef {
        name: "welcome".into(),
        channel: ChannelId::new(1),
        parts: vec![
            TextDef {
                name: "subject".into(),
                pieces: vec![Piece::Text("Bienvenue ".into()), Piece::Expr(tpl_expr)],
            },
            TextDef {
                name: "text".into(),
                pieces: vec![Piece::Text("Hello!\n".into())],
            },
        ],
    });

    p.offers.push(OfferDef {
        name: "discount10".into(),
        priority: 10,
        eligible: Some(eligible),
        valid_from: Some(date(2024, 1, 1)),
        valid_until: Some(date(2025, 1, 1)),
        fields: vec![("title".into(), "10 % off".into())],
        loc: loc(12, 1),
    });

    p.policies.push(PolicyDef {
        name: "default".into(),
        caps: vec![CapDef {
            max: 3,
            channel: None,
            window_secs: 7 * 86_400,
            loc: loc(14, 5),
        }],
        quiet: vec![QuietDef {
            from: tod(21, 0),
            to: tod(8, 0),
            channels: vec![ChannelId::new(0)],
            loc: loc(15, 5),
        }],
        priority: vec![JourneyId::new(0)],
        exempt: vec![],
    });

    p.journeys.push(JourneyDef {
        name: "premiere_annee".into(),
        entries: vec![
            EntryDef {
                trigger: Trigger::Event(event(0)),
                condition: Some(entry_cond),
                loc: loc(20, 5),
            },
            EntryDef {
                trigger: Trigger::SegmentEnter(SegmentId::new(0)),
                condition: None,
                loc: loc(21, 5),
            },
        ],
        reentry: Reentry::Never,
        exits: vec![
            ExitDef::Event {
                event: event(2),
                condition: None,
                loc: loc(22, 5),
            },
            ExitDef::When {
                condition: exit_cond,
                loc: loc(23, 5),
            },
        ],
        max_lifetime_secs: Some(365 * 86_400),
        body,
        timeline: vec![TimelineDef {
            offset: CalendarOffset { months: 6, days: 0 },
            at: Some(tod(10, 0)),
            code: timeline,
            loc: loc(46, 5),
        }],
        entry_events: vec![event(0)],
        kept_events: vec![KeptEvent {
            event: event(0),
            props: 0b1,
        }],
        loc: loc(19, 1),
    });

    /// Name, kind, critical, arms, (line, col).
    type StepRow = (
        &'static str,
        StepKind,
        bool,
        &'static [&'static str],
        (u32, u32),
    );
    let steps: [StepRow; 14] = [
        ("send_email_welcome", StepKind::Send, true, &[], (30, 5)),
        ("wait_3d", StepKind::Wait, false, &[], (31, 5)),
        ("if_jeune", StepKind::If, false, &["then", "else"], (32, 5)),
        ("send_sms_coupon", StepKind::Send, false, &[], (33, 9)),
        (
            "wait_purchase",
            StepKind::WaitEvent,
            false,
            &["event", "timeout"],
            (36, 5),
        ),
        ("set_plan", StepKind::Set, false, &[], (37, 5)),
        (
            "ab_test",
            StepKind::Experiment,
            false,
            &["a", "b", "holdout"],
            (38, 5),
        ),
        ("send_sms_a", StepKind::Send, false, &[], (39, 9)),
        ("wait_friday", StepKind::WaitUntil, false, &[], (40, 9)),
        ("emit_done", StepKind::Emit, false, &[], (42, 5)),
        ("no_purchase", StepKind::Exit, false, &[], (44, 5)),
        (
            "month_6",
            StepKind::TimelineEntry,
            false,
            &["month 6"],
            (46, 5),
        ),
        ("send_email_month6", StepKind::Send, false, &[], (47, 9)),
        ("wait_month", StepKind::Wait, false, &[], (48, 9)),
    ];
    for (i, (name, kind, critical, arms, (line, col))) in steps.into_iter().enumerate() {
        p.steps.push(StepDef {
            journey: JourneyId::new(0),
            key: 0xfeed_0000_0000_0000 + (i as u64) * 0x1111,
            name: name.into(),
            labelled: name == "no_purchase",
            kind,
            critical,
            arms: arms.iter().map(|s| (*s).into()).collect(),
            loc: loc(line, col),
        });
    }

    p.sends.push(SendDef {
        step: step(0),
        channel: ChannelId::new(1),
        message: MessageRef::Template(TemplateId::new(0)),
        params: vec!["to".into()],
        offer: OfferSel::None,
    });
    p.sends.push(SendDef {
        step: step(3),
        channel: ChannelId::new(0),
        message: MessageRef::External("sms-coupon-v2".into()),
        params: vec!["to".into(), "coupon".into()],
        offer: OfferSel::Named(OfferId::new(0)),
    });
    p.sends.push(SendDef {
        step: step(7),
        channel: ChannelId::new(0),
        message: MessageRef::Inline(TextDef {
            name: "text".into(),
            pieces: vec![Piece::Text("Days: ".into()), Piece::Expr(inline_expr)],
        }),
        params: vec!["to".into()],
        offer: OfferSel::Best(vec![]),
    });
    p.sends.push(SendDef {
        step: step(12),
        channel: ChannelId::new(1),
        message: MessageRef::Template(TemplateId::new(0)),
        params: vec!["to".into()],
        offer: OfferSel::Best(vec![OfferId::new(0)]),
    });

    p.emits.push(EmitDef {
        step: step(9),
        event: event(3),
        props: vec![0],
    });

    p.waits.push(WaitEventDef {
        step: step(4),
        event: event(1),
        filter: Some(wait_filter),
        timeout_secs: Some(7 * 86_400),
        on_timeout: timeout,
    });

    p.experiments.push(ExperimentDef {
        step: step(6),
        name: "welcome_ab".into(),
        variants: vec![
            VariantDef {
                name: "a".into(),
                weight_bp: 4_500,
                target: variant_a,
            },
            VariantDef {
                name: "b".into(),
                weight_bp: 4_500,
                target: variant_b,
            },
        ],
        holdout_bp: 1_000,
        after,
    });

    p.goals.push(GoalDef {
        journey: JourneyId::new(0),
        name: "first_purchase".into(),
        event: event(1),
        condition: Some(goal_cond),
        window_secs: 30 * 86_400,
        after: Some(step(0)),
        loc: loc(25, 5),
    });

    let expect = |e: Expect, line: u32| TestStep::Expect(e, loc(line, 5));
    p.tests.push(TestDef {
        name: "young customer gets the coupon".into(),
        customer: "test-customer".into(),
        profile: vec![(attr(0), c(13)), (attr(4), c(14))],
        steps: vec![
            TestStep::Event {
                at: civil(1, 9),
                event: event(0),
                props: vec![(0, c(6))],
            },
            TestStep::RunUntil(civil(20, 12)),
            expect(
                Expect::Send {
                    positive: true,
                    channel: ChannelId::new(1),
                    message: Some(MessageRef::Template(TemplateId::new(0))),
                    at: Some(civil(1, 9)),
                },
                62,
            ),
            expect(
                Expect::Reached {
                    positive: true,
                    step: step(3),
                    at: None,
                },
                63,
            ),
            expect(
                Expect::Scenario {
                    step: step(2),
                    arm: 0,
                },
                64,
            ),
            expect(
                Expect::Variant {
                    experiment: ExperimentId::new(0),
                    variant: 2,
                },
                65,
            ),
            TestStep::Set {
                at: civil(21, 8),
                attr: attr(3),
                value: c(6),
            },
            TestStep::Enter {
                at: civil(22, 8),
                journey: JourneyId::new(0),
            },
            expect(
                Expect::Goal {
                    positive: false,
                    goal: GoalId::new(0),
                    at: None,
                },
                68,
            ),
            expect(
                Expect::Exit {
                    journey: JourneyId::new(0),
                    at: Some(civil(23, 0)),
                },
                69,
            ),
            expect(
                Expect::Emit {
                    event: event(3),
                    at: None,
                },
                70,
            ),
            expect(
                Expect::Entered {
                    positive: true,
                    journey: JourneyId::new(0),
                    at: None,
                },
                71,
            ),
        ],
        loc: loc(60, 1),
    });

    p.code = a.code;
    p.locs = a.locs;
    let pcs = Pcs {
        seg_jeune,
        jump_to_join,
        body,
        timeline,
        timeout,
    };
    (p, pcs)
}
