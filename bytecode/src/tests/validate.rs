//! The validator: the sample passes, and each kind of broken reference is reported with
//! a message naming it.

use cranelift_entity::EntityRef;

use super::sample;
use crate::ids::*;
use crate::insn::{Builtin, Insn};
use crate::program::*;
use crate::validate::{ValidationError, validate};
use crate::value::{Const, Date};

/// Validate a broken copy of the sample and return the message.
fn broken(f: impl FnOnce(&mut Program, sample::Pcs)) -> (ValidationError, String) {
    let (mut program, pcs) = sample::sample();
    f(&mut program, pcs);
    let err = validate(&program).expect_err("the broken program must be rejected");
    let msg = err.to_string();
    (err, msg)
}

/// Breaks the sample with `f` and checks that validation refuses it, saying `expected`.
#[track_caller]
fn refused(f: impl FnOnce(&mut Program, sample::Pcs), expected: &str) {
    let (_, msg) = broken(f);
    assert!(msg.contains(expected), "expected `{expected}` in: {msg}");
}

#[test]
fn sample_is_valid() {
    assert_eq!(validate(&sample::program()), Ok(()));
    assert_eq!(validate(&Program::default()), Ok(()));
}

#[test]
fn jump_out_of_range() {
    let (err, msg) = broken(|p, pcs| {
        p.code[pcs.jump_to_join as usize] = Insn::Jump(999);
    });
    assert!(matches!(err, ValidationError::PcOutOfRange { pc: 999, .. }));
    assert!(
        msg.starts_with(&format!(
            "instruction {:04} (jump, first_year.journey:32:5) refers to pc 999, past the end",
            sample::sample().1.jump_to_join
        )),
        "{msg}"
    );
}

#[test]
fn step_refers_to_missing_journey() {
    let (err, msg) = broken(|p, _| {
        p.steps[StepId::new(7)].journey = JourneyId::new(9);
    });
    assert!(matches!(err, ValidationError::DanglingId { .. }));
    assert_eq!(
        msg,
        "step7 (send_sms_a) refers to journey9, which does not exist"
    );
}

#[test]
fn instruction_refers_to_missing_send() {
    refused(
        |p, pcs| {
            p.code[pcs.body as usize + 1] = Insn::Send(SendId::new(42));
        },
        "(send, first_year.journey:30:5) refers to send42",
    );
}

#[test]
fn exit_refers_to_missing_step() {
    let (_, msg) = broken(|p, pcs| {
        p.code[pcs.timeout as usize] = Insn::Exit(StepId::new(50));
    });
    assert!(
        msg.ends_with("(exit, first_year.journey:44:5) refers to step50, which does not exist"),
        "{msg}"
    );
}

#[test]
fn event_prop_out_of_range() {
    let (err, msg) = broken(|p, _| {
        let pc = p
            .code
            .iter()
            .position(|i| matches!(i, Insn::EventProp(..)))
            .expect("an event_prop");
        p.code[pc] = Insn::EventProp(EventId::new(1), 5);
    });
    assert!(matches!(
        err,
        ValidationError::IndexOutOfRange {
            index: 5,
            len: 2,
            ..
        }
    ));
    assert!(
        msg.contains("uses property 5 of event1 (purchase), which has only 2"),
        "{msg}"
    );
}

#[test]
fn branch_arm_out_of_range() {
    refused(
        |p, pcs| {
            p.code[pcs.timeline as usize] = Insn::Branch(StepId::new(11), 3);
        },
        "uses arm 3 of step11 (month_6), which has only 1",
    );
}

#[test]
fn table_pcs_out_of_range() {
    let (_, msg) = broken(|p, _| p.segments[SegmentId::new(0)].condition = 5000);
    assert!(
        msg.starts_with("the condition of seg0 (jeune) refers to pc 5000"),
        "{msg}"
    );
    let (_, msg) = broken(|p, _| p.journeys[JourneyId::new(0)].timeline[0].code = 5000);
    assert!(
        msg.starts_with("timeline entry 0 of journey0 (premiere_annee) refers to pc 5000"),
        "{msg}"
    );
    let (_, msg) = broken(|p, _| p.waits[WaitId::new(0)].on_timeout = 5000);
    assert!(
        msg.starts_with("the timeout branch of wait0 refers to pc 5000"),
        "{msg}"
    );
    let (_, msg) = broken(|p, _| p.experiments[ExperimentId::new(0)].variants[1].target = 5000);
    assert!(
        msg.starts_with("variant 1 (`b`) of exp0 (welcome_ab) refers to pc 5000"),
        "{msg}"
    );
    refused(
        |p, _| {
            p.templates[TemplateId::new(0)].parts[0].pieces[1] = Piece::Expr(5000);
        },
        "part `subject` piece 1 refers to pc 5000",
    );
    let (_, msg) = broken(|p, _| {
        if let MessageRef::Inline(text) = &mut p.sends[SendId::new(2)].message {
            text.pieces[1] = Piece::Expr(5000);
        }
    });
    assert!(
        msg.starts_with("send2 inline message part `text` piece 1"),
        "{msg}"
    );
}

#[test]
fn ids_in_tables() {
    let (_, msg) = broken(|p, _| p.meta.timezone_attr = Some(AttrId::new(70)));
    assert_eq!(
        msg,
        "the time zone attribute of the project refers to attr70, which does not exist"
    );
    refused(
        |p, _| {
            p.policies[PolicyId::new(0)]
                .priority
                .push(JourneyId::new(3))
        },
        "refers to journey3",
    );
    refused(
        |p, _| {
            p.tests[TestId::new(0)].steps.push(TestStep::Expect(
                Expect::Reached {
                    positive: true,
                    step: StepId::new(99),
                    at: None,
                },
                sample::loc(80, 1),
            ));
        },
        "of test0 (young customer gets the coupon) refers to step99",
    );
    let (_, msg) = broken(|p, _| p.sends[SendId::new(1)].offer = OfferSel::Named(OfferId::new(4)));
    assert_eq!(msg, "send1 refers to offer4, which does not exist");
}

#[test]
fn emit_and_test_indexes() {
    refused(
        |p, _| p.emits[EmitId::new(0)].props = vec![1],
        "uses property 1 of event3 (welcome_done), which has only 1",
    );
    refused(
        |p, _| {
            p.tests[TestId::new(0)].steps.push(TestStep::Expect(
                Expect::Variant {
                    experiment: ExperimentId::new(0),
                    variant: 3,
                },
                sample::loc(80, 1),
            ));
        },
        "uses variant (counting the holdout) 3 of exp0",
    );
}

#[test]
fn send_params_must_be_declared() {
    let (_, msg) = broken(|p, _| p.sends[SendId::new(0)].params.push("coupon".into()));
    assert_eq!(
        msg,
        "send0: parameter `coupon` is not declared by chan1 (email)"
    );
}

#[test]
fn locations() {
    let (err, msg) = broken(|p, _| {
        p.locs.pop();
    });
    assert!(matches!(err, ValidationError::LocsMismatch { .. }));
    assert!(msg.contains("one location per instruction"), "{msg}");
    let (_, msg) = broken(|p, _| p.segments[SegmentId::new(0)].loc.file = 7);
    assert_eq!(
        msg,
        "the location of seg0 (jeune) refers to file7, which does not exist"
    );
    refused(
        |p, _| p.locs[3].file = u32::MAX,
        "instruction 0003 refers to file4294967295",
    );
}

#[test]
fn weights() {
    let (err, msg) = broken(|p, _| p.experiments[ExperimentId::new(0)].holdout_bp = 999);
    assert!(matches!(
        err,
        ValidationError::BadWeights { total: 9_999, .. }
    ));
    assert!(
        msg.starts_with("exp0 (welcome_ab): variant weights (9000 bp)"),
        "{msg}"
    );
    // No overflow with huge weights.
    let (err, _) = broken(|p, _| {
        let x = &mut p.experiments[ExperimentId::new(0)];
        x.holdout_bp = u32::MAX;
        for v in &mut x.variants {
            v.weight_bp = u32::MAX;
        }
    });
    assert!(matches!(err, ValidationError::BadWeights { .. }));
}

/// `list` made `n` long with copies of its first item (or cut to `n`).
fn copies_of_first<T: Clone>(list: &mut Vec<T>, n: usize) {
    let first = list[0].clone();
    list.resize(n, first);
}

#[test]
fn other_invariants() {
    // A customer's occurrence logs have 16-bit indexes: one more aggregate than fits is
    // refused (each a copy of the sample's first, so nothing else is wrong).
    refused(
        |p, _| {
            let first = p.aggregates[AggId::new(0)].clone();
            while p.aggregates.len() < usize::from(u16::MAX) {
                p.aggregates.push(first.clone());
            }
        },
        "65535 aggregates do not fit 16-bit log indexes (at most 65534)",
    );
    // A pending timer names a timeline entry (or a thread) in 13 bits, one value kept apart,
    // a journey's entry clause in 13 bits and a journey in 16: one more than fits is refused.
    refused(
        |p, _| {
            copies_of_first(
                &mut p.journeys[JourneyId::new(0)].timeline,
                crate::MAX_TIMELINE_ENTRIES + 1,
            );
        },
        "8191 timeline entries are more than the runtime's timers can name (at most 8190)",
    );
    let mut most = sample::program();
    copies_of_first(
        &mut most.journeys[JourneyId::new(0)].timeline,
        crate::MAX_TIMELINE_ENTRIES,
    );
    assert_eq!(validate(&most), Ok(()));
    refused(
        |p, _| {
            copies_of_first(
                &mut p.journeys[JourneyId::new(0)].entries,
                crate::MAX_ENTRY_CLAUSES + 1,
            );
        },
        "8193 entry clauses are more than the runtime's timers can name (at most 8192)",
    );
    refused(
        |p, _| {
            let first = p.journeys[JourneyId::new(0)].clone();
            while p.journeys.len() <= crate::MAX_JOURNEYS {
                p.journeys.push(first.clone());
            }
        },
        "65536 journeys are more than the runtime's timers can name (at most 65535)",
    );

    let mut most = sample::program();
    let first = most.aggregates[AggId::new(0)].clone();
    while most.aggregates.len() < usize::from(u16::MAX - 1) {
        most.aggregates.push(first.clone());
    }
    assert_eq!(validate(&most), Ok(()));

    let (err, msg) = broken(|p, _| p.events[EventId::new(2)].name = "signup".into());
    assert!(matches!(err, ValidationError::DuplicateName { .. }));
    assert_eq!(msg, "event0 and event2 are both named `signup`");

    refused(
        |p, pcs| {
            p.code[pcs.seg_jeune as usize + 2] = Insn::Call(Builtin::Coalesce, 1);
        },
        "`coalesce` takes 2 argument(s), not 1",
    );

    refused(
        |p, _| {
            p.code.push(Insn::Pop);
            p.locs.push(sample::loc(90, 1));
        },
        "the code ends with an instruction that continues",
    );

    refused(
        |p, _| p.consts[ConstId::new(2)] = Const::Number(3.0),
        "const2 is not a non-negative duration constant",
    );

    let (_, msg) = broken(|p, _| {
        p.consts[ConstId::new(8)] = Const::Date(Date {
            year: 2023,
            month: 2,
            day: 29,
        })
    });
    assert_eq!(msg, "const8: 2023-02-29 is not a valid date");

    let (_, msg) = broken(|p, _| p.steps[StepId::new(3)].key = p.steps[StepId::new(1)].key);
    assert!(
        msg.starts_with("step3 (send_sms_coupon): it has the same key"),
        "{msg}"
    );

    let (_, msg) = broken(|p, _| {
        p.aggregates[AggId::new(1)].prop = None;
    });
    assert_eq!(msg, "agg1: `sum` needs a property of event1");

    refused(
        |p, _| p.goals[GoalId::new(0)].after = Some(StepId::new(99)),
        "refers to step99",
    );
}

#[test]
fn control_flow() {
    // An effect in an expression function.
    let (_, msg) = broken(|p, pcs| p.code[pcs.seg_jeune as usize + 3] = Insn::End);
    assert_eq!(
        msg,
        "instruction 0003 (end): it is reachable from the condition of seg0 (jeune), an \
         expression, which may only compute a value and must end in return"
    );
    // A return in a body (reached through the timeout branch of a wait).
    refused(
        |p, pcs| p.code[pcs.timeout as usize] = Insn::Return,
        "it is reachable from the body of journey0 (premiere_annee), a journey body",
    );
    // A segment read but not declared.
    let (_, msg) = broken(|p, _| p.segments[SegmentId::new(1)].uses_segments.clear());
    assert_eq!(
        msg,
        "instruction 0008 (seg): the condition of seg1 (big_spender) reads seg0 (jeune), which \
         is not in its `uses_segments`"
    );
}

#[test]
fn segment_cycles() {
    let (_, msg) = broken(|p, _| {
        p.segments[SegmentId::new(0)]
            .uses_segments
            .push(SegmentId::new(1));
    });
    assert!(
        msg.contains("segments use each other in a cycle: "),
        "{msg}"
    );
    assert!(
        msg.ends_with("seg0 (jeune) uses seg1 (big_spender) uses seg0 (jeune)")
            || msg.ends_with("seg1 (big_spender) uses seg0 (jeune) uses seg1 (big_spender)"),
        "{msg}"
    );
    // A cycle with a segment hanging below it, and a self-use.
    let (_, msg) = broken(|p, _| {
        let mut seg = p.segments[SegmentId::new(0)].clone();
        seg.name = "loop".into();
        seg.uses_segments = vec![SegmentId::new(2)];
        p.segments.push(seg);
    });
    assert!(msg.ends_with("seg2 (loop) uses seg2 (loop)"), "{msg}");
}
