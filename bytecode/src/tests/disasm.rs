//! The disassembler: expected lines, determinism, and no panic on broken programs.

use cranelift_entity::EntityRef;

use super::sample;
use crate::disasm::disassemble;
use crate::ids::*;
use crate::insn::{BinOp, Builtin, Insn};
use crate::program::*;
use crate::value::{Const, Date, TimeOfDay, Type};

#[test]
fn listing_has_expected_lines() {
    let text = disassemble(&sample::program());
    for expected in [
        "journey bytecode, format version 3\n",
        "project:     first_year\n",
        "compiler:    journey 0.1.0\n",
        "default tz:  Europe/Paris\n",
        "  attr1  tz: timezone?  default const1 = \"Europe/Paris\"\n",
        "  event1  purchase(amount: number, sku: string)\n",
        "  agg1  sum(event1.0 (purchase.amount))  filter @0010\n",
        "  seg0  jeune  condition @0000  attributes [attr0]  ; first_year.journey:3:1\n",
        "  chan1  email  plugin \"smtp\"  ; schema.journey:2:1\n",
        "    subject: \"Bienvenue \" {@0016}\n",
        "    quiet 21:00 to 08:00 on chan0 (sms)  ; first_year.journey:15:5\n",
        "  journey0  premiere_annee  body @0041  ; first_year.journey:19:1\n",
        "    timeline[0] month 6 at 10:00 -> @0067  ; first_year.journey:46:5\n",
        "    keeps event0 (signup) [plan]\n",
        "  step0  key feed000000000000  journey0  send_email_welcome  send  critical  \
         ; first_year.journey:30:5\n",
        "  step2  key feed000000002222  journey0  if_jeune  if  arms [then, else]  \
         ; first_year.journey:32:5\n",
        "    holdout  1000 bp -> @0063\n",
        "    expect variant exp0 (welcome_ab) 2 (holdout)  ; first_year.journey:65:5\n",
        // Code.
        "\ncode:\nseg0 jeune:\n  0000  attr attr0 (age)                          \
         ; first_year.journey:3:15\n",
        "  0001  const const0 = 26                         ; first_year.journey:3:21\n",
        "\nseg1 big_spender:\n",
        "  0004  agg agg1 (sum purchase.amount)            ; first_year.journey:4:21\n",
        "  0007  jump_if_false_or_pop @0009                ; first_year.journey:4:54\n",
        "  0010  event_prop event1.1 (purchase.sku)        ; first_year.journey:5:40\n",
        "\ntpl0 welcome subject[1]:\n",
        "  0017  call upper/1 ",
        "\njourney0 premiere_annee body:\n  0041  attr attr4 (phone) ",
        "  0042  send send0 (send_email_welcome via email)  ; first_year.journey:30:5\n",
        "  0045  wait step1 (wait_3d) const2 = 3d          ; first_year.journey:31:5\n",
        "  0048  branch step2 (if_jeune) arm 0 (then)      ; first_year.journey:32:5\n",
        "  0054  wait_event wait0 (wait_purchase for purchase, timeout -> @0066)  \
         ; first_year.journey:36:5\n",
        "\nexp0 welcome_ab variant a:\n",
        "\nwait0 timeout:\n  0066  exit step10 (no_purchase) ",
        "\njourney0 premiere_annee timeline[0] (month 6 at 10:00):\n  0067  branch step11",
        "  0061  wait_until step8 (wait_friday) fri 10:00  ; first_year.journey:40:9\n",
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?} in the listing:\n{text}"
        );
    }
}

#[test]
fn one_line_per_instruction() {
    let program = sample::program();
    let text = disassemble(&program);
    let code = text.split("\ncode:\n").nth(1).expect("a code section");
    let lines = code
        .lines()
        .filter(|l| l.starts_with("  ") && l[2..6].bytes().all(|b| b.is_ascii_digit()))
        .count();
    assert_eq!(lines, program.code.len());
}

#[test]
fn deterministic() {
    assert_eq!(
        disassemble(&sample::program()),
        disassemble(&sample::program())
    );
}

#[test]
fn empty_program() {
    let text = disassemble(&Program::default());
    assert!(text.starts_with("journey bytecode, format version 3\n"));
    assert!(!text.contains("code:\n"));
}

/// Every reference dangles: the listing still comes out, with bare ids.
#[test]
fn broken_program_does_not_panic() {
    let (mut p, _) = sample::sample();
    let bad = 1_000_000;
    let s = StepId::new(bad);
    p.code = vec![
        Insn::Const(ConstId::new(bad)),
        Insn::Attr(AttrId::new(bad)),
        Insn::EventProp(EventId::new(bad), 9),
        Insn::EventProp(EventId::new(0), 9),
        Insn::OfferField(ConstId::new(bad)),
        Insn::Segment(SegmentId::new(bad)),
        Insn::Aggregate(AggId::new(bad)),
        Insn::Bin(BinOp::In),
        Insn::Call(Builtin::Round, 7),
        Insn::Jump(u32::MAX),
        Insn::Branch(s, 9),
        Insn::Branch(StepId::new(0), 9),
        Insn::Critical(s),
        Insn::Send(SendId::new(bad)),
        Insn::Wait(s, ConstId::new(bad)),
        Insn::WaitMonths(s, 3),
        Insn::WaitUntil(
            s,
            200,
            TimeOfDay {
                hour: 99,
                minute: 99,
            },
        ),
        Insn::WaitEvent(WaitId::new(bad)),
        Insn::Set(s, AttrId::new(bad)),
        Insn::Emit(EmitId::new(bad)),
        Insn::Split(ExperimentId::new(bad)),
        Insn::OpenGoal(GoalId::new(bad)),
        Insn::Exit(s),
    ];
    // Fewer locations than instructions, one with a missing file.
    p.locs = vec![Loc {
        file: u32::MAX,
        ..Loc::default()
    }];
    p.meta.timezone_attr = Some(AttrId::new(bad));
    p.attributes.push(AttrDef {
        name: "x".into(),
        ty: Type::Optional(Box::new(Type::List(Box::new(Type::Date)))),
        default: Some(ConstId::new(bad)),
    });
    p.consts.push(Const::Date(Date {
        year: -5,
        month: 13,
        day: 0,
    }));
    p.aggregates[AggId::new(1)].event = EventId::new(bad);
    p.segments[SegmentId::new(0)].loc.file = 99;
    p.templates[TemplateId::new(0)].channel = ChannelId::new(bad);
    p.steps[StepId::new(0)].journey = JourneyId::new(bad);
    p.sends[SendId::new(0)].message = MessageRef::Template(TemplateId::new(bad));
    p.emits[EmitId::new(0)].props = vec![77];
    p.waits[WaitId::new(0)].on_timeout = u32::MAX;
    p.experiments[ExperimentId::new(0)].after = 12345;
    p.goals[GoalId::new(0)].after = Some(s);
    p.journeys[JourneyId::new(0)].entries[0].trigger = Trigger::Weekly {
        weekday: 9,
        at: TimeOfDay { hour: 0, minute: 0 },
    };
    p.journeys[JourneyId::new(0)].reentry = Reentry::After(u64::MAX);
    p.tests[TestId::new(0)].steps.push(TestStep::Expect(
        Expect::Variant {
            experiment: ExperimentId::new(bad),
            variant: 3,
        },
        Loc::default(),
    ));

    let text = disassemble(&p);
    assert!(
        text.contains("  0000  const const1000000                        ; <file4294967295>:0:0\n"),
        "{text}"
    );
    assert!(text.contains("  0001  attr attr1000000 (?)\n"), "{text}");
    assert!(text.contains("event_prop event0.9 (signup.?)"), "{text}");
    assert!(text.contains("  0009  jump @4294967295\n"), "{text}");
    assert!(
        text.contains("  0016  wait_until step1000000 (?) weekday200? 99:99\n"),
        "{text}"
    );
    assert!(text.contains("; <file99>:3:1"), "{text}");
    assert!(
        text.contains("\nwait0 timeout: @4294967295 is past the end of the code\n"),
        "{text}"
    );
    assert!(text.contains("const15 = -005-13-00"), "{text}");
}
