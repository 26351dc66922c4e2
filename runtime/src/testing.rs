//! Runs a program's `test` blocks: each on a fresh engine with one customer, on a virtual
//! clock that starts at the test's first input. After the inputs, the clock runs to the
//! latest instant the test mentions (inputs, `run until`, expectation times) plus
//! [`RUN_AFTER_DAYS`] days, unless `run until` gives the end; then every expectation is
//! checked against what happened. Coverage counts the steps and branch arms no test exercised.

use std::sync::Arc;

use cranelift_entity::EntityRef;
use journey_bytecode::*;
use serde::Serialize;

use crate::effects::{Decision, Effect, SendRecord};
use crate::engine::{Config, Engine, Explain};
use crate::stats::Stats;
use crate::time::{self, Instant, Zones};
use crate::value::Value;

/// Days the clock runs past the latest instant a test mentions, when it has no `run until`.
pub const RUN_AFTER_DAYS: i64 = 400;

/// The result of one test.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    /// Test description.
    pub name: String,
    /// Where it is declared.
    pub loc: Loc,
    /// Failed expectations (empty: passed).
    pub failures: Vec<Failure>,
    /// The customer's decisions, for explaining a failure.
    pub decisions: Vec<Decision>,
    /// Microseconds it took.
    pub micros: u64,
    /// The messages the test's customer was sent, in order (`journey test --plugins`
    /// delivers them through the channel plugins).
    pub sends: Vec<SendRecord>,
}

impl TestOutcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A failed expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Where the expectation is written.
    pub loc: Loc,
    /// What it expected, in words.
    pub expected: String,
    /// What happened instead, in words.
    pub actual: String,
}

/// Steps and branch arms no test exercised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    /// Steps in all.
    pub steps: usize,
    /// Steps never reached.
    pub unreached: Vec<StepId>,
    /// Branch arms in all.
    pub arms: usize,
    /// Arms never taken: (step, arm index).
    pub untaken: Vec<(StepId, u16)>,
}

/// Runs every test of a program.
pub fn run_tests(program: &Arc<Program>) -> (Vec<TestOutcome>, Coverage) {
    let mut outcomes = Vec::new();
    let mut total = Stats::new(program);
    for test in program.tests.values() {
        let started = std::time::Instant::now();
        let (failures, decisions, stats, sends) = run_one(program, test);
        for (id, s) in stats.steps.iter() {
            total.steps[id].reached += s.reached;
            let arms = &mut total.steps[id].arms;
            if arms.len() < s.arms.len() {
                arms.resize(s.arms.len(), 0);
            }
            for (i, n) in s.arms.iter().enumerate() {
                arms[i] += n;
            }
        }
        outcomes.push(TestOutcome {
            name: test.name.clone(),
            loc: test.loc,
            failures,
            decisions,
            micros: started.elapsed().as_micros() as u64,
            sends,
        });
    }
    let mut cov = Coverage {
        steps: program.steps.len(),
        ..Coverage::default()
    };
    for (id, step) in program.steps.iter() {
        let s = &total.steps[id];
        if s.reached == 0 {
            cov.unreached.push(id);
        }
        // Arms of reached steps only: an unreached step already says its arms were not taken.
        if step.arms.is_empty() {
            continue;
        }
        // A `wait for` without `within` cannot time out: its timeout arm is not a branch.
        let no_timeout = step.kind == StepKind::WaitEvent
            && program
                .waits
                .values()
                .any(|w| w.step == id && w.timeout_secs.is_none());
        let arms = if no_timeout { 1 } else { step.arms.len() };
        cov.arms += arms;
        if s.reached > 0 || step.kind == StepKind::WaitEvent {
            for i in 0..arms {
                if s.arms.get(i).copied().unwrap_or(0) == 0 {
                    cov.untaken.push((id, i as u16));
                }
            }
        }
    }
    (outcomes, cov)
}

/// What one test produced: failed expectations, decisions, statistics, sends.
type RunOne = (Vec<Failure>, Vec<Decision>, Stats, Vec<SendRecord>);

fn run_one(program: &Arc<Program>, test: &TestDef) -> RunOne {
    // The customer's zone: the profile's time zone attribute if the test gives it.
    let mut zones = Zones::new(&program.meta.default_timezone);
    let tz_name = program.meta.timezone_attr.and_then(|a| {
        test.profile
            .iter()
            .find(|(x, _)| *x == a)
            .and_then(|(_, c)| match program.consts.get(*c) {
                Some(Const::String(s)) => Some(s.clone()),
                _ => None,
            })
    });
    let tz_name = tz_name.or_else(|| {
        program
            .meta
            .timezone_attr
            .and_then(|a| program.attributes[a].default_const(program))
            .and_then(|c| match c {
                Const::String(s) => Some(s.clone()),
                _ => None,
            })
    });
    let tz = zones.get(tz_name.as_deref());
    let inst = |c: Civil| time::civil_to_instant(c, &tz);
    let value = |c: ConstId| match program.consts.get(c) {
        Some(Const::Timestamp(d, t)) => {
            Value::Timestamp(time::civil_to_instant(Civil { date: *d, time: *t }, &tz))
        }
        Some(k) => Value::from_const(k),
        None => Value::None,
    };
    let mut mentioned: Vec<Instant> = Vec::new();
    let mut run_until: Option<Instant> = None;
    for s in &test.steps {
        match s {
            TestStep::Event { at, .. } | TestStep::Set { at, .. } | TestStep::Enter { at, .. } => {
                mentioned.push(inst(*at))
            }
            TestStep::RunUntil(at) => {
                let t = inst(*at);
                mentioned.push(t);
                run_until = Some(run_until.map_or(t, |u: Instant| u.max(t)));
            }
            TestStep::Expect(x, _) => {
                if let Some(at) = expect_at(x) {
                    mentioned.push(inst(at));
                }
            }
        }
    }
    let start = mentioned.iter().copied().min().unwrap_or(0);
    let config = Config {
        explain: Explain::All,
        record_steps: true,
    };
    let mut engine = Engine::new(program.clone(), config, start);
    let profile: Vec<(AttrId, Value)> = test.profile.iter().map(|(a, c)| (*a, value(*c))).collect();
    engine.upsert_customer(&test.customer, &profile, start);
    for s in &test.steps {
        match s {
            TestStep::Event { at, event, props } => {
                let mut values = vec![Value::None; program.events[*event].props.len()];
                for (i, c) in props {
                    if let Some(slot) = values.get_mut(*i as usize) {
                        *slot = value(*c);
                    }
                }
                engine.event(&test.customer, *event, values, inst(*at));
            }
            TestStep::Set { at, attr, value: v } => {
                engine.set_attribute(&test.customer, *attr, value(*v), inst(*at))
            }
            TestStep::Enter { at, journey } => {
                engine.enter(&test.customer, *journey, inst(*at));
            }
            TestStep::RunUntil(at) => engine.advance_to(inst(*at)),
            TestStep::Expect(..) => {}
        }
    }
    let end = run_until.unwrap_or_else(|| {
        mentioned
            .iter()
            .copied()
            .max()
            .unwrap_or(start)
            .saturating_add(RUN_AFTER_DAYS * 86_400)
    });
    engine.advance_to(end);
    let effects = engine.drain_effects();
    let decisions = engine
        .drain_decisions()
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let stats = engine.stats().clone();
    let mut failures = Vec::new();
    for s in &test.steps {
        if let TestStep::Expect(x, loc) = s
            && let Some((expected, actual)) = check(program, &effects, x, &inst, &tz)
        {
            failures.push(Failure {
                loc: *loc,
                expected,
                actual,
            });
        }
    }
    let sends = effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send(s) => Some(s),
            _ => None,
        })
        .collect();
    (failures, decisions, stats, sends)
}

fn expect_at(x: &Expect) -> Option<Civil> {
    match x {
        Expect::Send { at, .. }
        | Expect::Reached { at, .. }
        | Expect::Goal { at, .. }
        | Expect::Exit { at, .. }
        | Expect::Emit { at, .. }
        | Expect::Entered { at, .. } => *at,
        Expect::Scenario { .. } | Expect::Variant { .. } => None,
    }
}

/// Same minute.
fn same_minute(a: Instant, b: Instant) -> bool {
    a.div_euclid(60) == b.div_euclid(60)
}

fn message_matches(program: &Program, record: &SendRecord, m: &MessageRef) -> bool {
    match m {
        MessageRef::Template(t) => {
            !record.external
                && record.template.as_deref() == Some(program.templates[*t].name.as_str())
        }
        MessageRef::External(id) => {
            record.external && record.template.as_deref() == Some(id.as_str())
        }
        MessageRef::Inline(t) => {
            let text: String = t
                .pieces
                .iter()
                .map(|p| {
                    if let Piece::Text(s) = p {
                        s.as_str()
                    } else {
                        ""
                    }
                })
                .collect();
            record.template.is_none() && record.parts.first().is_some_and(|(_, body)| *body == text)
        }
    }
}

fn describe_message(program: &Program, m: &Option<MessageRef>) -> String {
    match m {
        Some(MessageRef::Template(t)) => format!(" `{}`", program.templates[*t].name),
        Some(MessageRef::External(id)) => format!(" template \"{id}\""),
        Some(MessageRef::Inline(t)) => {
            let text: String = t
                .pieces
                .iter()
                .map(|p| {
                    if let Piece::Text(s) = p {
                        s.as_str()
                    } else {
                        ""
                    }
                })
                .collect();
            format!(" \"{text}\"")
        }
        None => String::new(),
    }
}

/// Checks one expectation; `Some((expected, actual))` when it fails.
fn check(
    program: &Program,
    effects: &[Effect],
    x: &Expect,
    inst: &dyn Fn(Civil) -> Instant,
    tz: &jiff::tz::TimeZone,
) -> Option<(String, String)> {
    let local = |t: Instant| time::format_local(t, tz, false);
    let at_text = |at: &Option<Civil>| {
        at.map(|c| format!(" at {} {}", c.date, c.time))
            .unwrap_or_default()
    };
    let at_ok = |at: &Option<Civil>, t: Instant| at.is_none_or(|c| same_minute(inst(c), t));
    match x {
        Expect::Send {
            positive,
            channel,
            message,
            at,
        } => {
            let ch = &program.channels[*channel].name;
            let on_channel: Vec<&SendRecord> = effects
                .iter()
                .filter_map(|e| {
                    if let Effect::Send(s) = e {
                        Some(s)
                    } else {
                        None
                    }
                })
                .filter(|s| s.channel == *channel)
                .collect();
            let matching: Vec<&&SendRecord> = on_channel
                .iter()
                .filter(|s| {
                    message
                        .as_ref()
                        .is_none_or(|m| message_matches(program, s, m))
                        && at_ok(at, s.at)
                })
                .collect();
            let found = !matching.is_empty();
            if found == *positive {
                return None;
            }
            let expected = format!(
                "{}send on `{ch}`{}{}",
                if *positive { "" } else { "no " },
                describe_message(program, message),
                at_text(at)
            );
            let actual = if on_channel.is_empty() {
                let why = effects
                    .iter()
                    .filter_map(|e| match e {
                        Effect::Skipped {
                            step, reason, at, ..
                        } if program
                            .sends
                            .values()
                            .any(|s| s.step == *step && s.channel == *channel) =>
                        {
                            Some(format!("skipped ({}) at {}", reason.name(), local(*at)))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                if why.is_empty() {
                    format!("nothing was sent on `{ch}`")
                } else {
                    format!("nothing was sent on `{ch}`: {}", why.join(", "))
                }
            } else {
                let list: Vec<String> = on_channel
                    .iter()
                    .map(|s| {
                        format!(
                            "{} at {}",
                            s.template.clone().unwrap_or_else(|| "inline text".into()),
                            local(s.at)
                        )
                    })
                    .collect();
                format!("sent on `{ch}`: {}", list.join("; "))
            };
            Some((expected, actual))
        }
        Expect::Reached { positive, step, at } => {
            let times = instants(
                effects,
                |e| matches!(e, Effect::Reached { step: s, .. } if s == step),
            );
            let name = &program.steps[*step].name;
            let not = if *positive { "" } else { "not " };
            timed(
                tz,
                &times,
                *positive,
                at,
                format!("{not}reached `{name}`"),
                "never reached",
                "reached",
            )
        }
        Expect::Goal { positive, goal, at } => {
            let times = instants(
                effects,
                |e| matches!(e, Effect::Goal { goal: g, .. } if g == goal),
            );
            let name = &program.goals[*goal].name;
            let no = if *positive { "" } else { "no " };
            timed(
                tz,
                &times,
                *positive,
                at,
                format!("{no}goal `{name}`"),
                "no conversion",
                "converted",
            )
        }
        Expect::Exit { journey, at } => {
            let exits: Vec<(Instant, String)> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Exited {
                        journey: j,
                        at,
                        reason,
                        ..
                    } if j == journey => Some((*at, format!("{reason:?}").to_lowercase())),
                    _ => None,
                })
                .collect();
            if exits.iter().any(|(t, _)| at_ok(at, *t)) {
                return None;
            }
            let name = &program.journeys[*journey].name;
            let actual = if exits.is_empty() {
                "still in it".to_string()
            } else {
                exits
                    .iter()
                    .map(|(t, r)| format!("left at {} ({r})", local(*t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Some((format!("leaves `{name}`{}", at_text(at)), actual))
        }
        Expect::Scenario { step, arm } => {
            let taken: Vec<u16> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Branch { step: s, arm, .. } if s == step => Some(*arm),
                    _ => None,
                })
                .collect();
            if taken.contains(arm) {
                return None;
            }
            let arms = &program.steps[*step].arms;
            let name = |a: u16| arms.get(a as usize).cloned().unwrap_or_default();
            let actual = if taken.is_empty() {
                "the scenarios were not reached".into()
            } else {
                format!(
                    "took `{}`",
                    taken
                        .iter()
                        .map(|a| name(*a))
                        .collect::<Vec<_>>()
                        .join("`, `")
                )
            };
            Some((format!("scenario `{}`", name(*arm)), actual))
        }
        Expect::Variant {
            experiment,
            variant,
        } => {
            let got: Vec<u16> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Assigned {
                        experiment: x,
                        variant,
                        ..
                    } if x == experiment => Some(*variant),
                    _ => None,
                })
                .collect();
            if got.contains(variant) {
                return None;
            }
            let xd = &program.experiments[*experiment];
            let name = |v: u16| {
                xd.variants
                    .get(v as usize)
                    .map(|v| v.name.clone())
                    .unwrap_or_else(|| "holdout".into())
            };
            let actual = if got.is_empty() {
                "not assigned".into()
            } else {
                format!("assigned to `{}`", name(got[0]))
            };
            Some((format!("variant `{}.{}`", xd.name, name(*variant)), actual))
        }
        Expect::Emit { event, at } => {
            let times = instants(
                effects,
                |e| matches!(e, Effect::Emitted { event: ev, .. } if ev == event),
            );
            let name = &program.events[*event].name;
            timed(
                tz,
                &times,
                true,
                at,
                format!("emits `{name}`"),
                "not emitted",
                "emitted",
            )
        }
        Expect::Entered {
            positive,
            journey,
            at,
        } => {
            let times = instants(
                effects,
                |e| matches!(e, Effect::Entered { journey: j, .. } if j == journey),
            );
            let name = &program.journeys[*journey].name;
            let never = if *positive { "" } else { "never " };
            timed(
                tz,
                &times,
                *positive,
                at,
                format!("{never}enters `{name}`"),
                "never entered",
                "entered",
            )
        }
    }
}

/// The instants of the effects that match.
fn instants(effects: &[Effect], matches: impl Fn(&Effect) -> bool) -> Vec<Instant> {
    effects
        .iter()
        .filter(|e| matches(e))
        .filter_map(effect_at)
        .collect()
}

fn effect_at(e: &Effect) -> Option<Instant> {
    Some(match e {
        Effect::Entered { at, .. }
        | Effect::Reached { at, .. }
        | Effect::Branch { at, .. }
        | Effect::Assigned { at, .. }
        | Effect::Deferred { at, .. }
        | Effect::Skipped { at, .. }
        | Effect::Emitted { at, .. }
        | Effect::Goal { at, .. }
        | Effect::Exited { at, .. } => *at,
        Effect::Send(s) => s.at,
    })
}

/// Checks a "happened (at T)" expectation against the instants it happened at; `None` when
/// it holds, else (expected, actual) in words.
fn timed(
    tz: &jiff::tz::TimeZone,
    times: &[Instant],
    positive: bool,
    at: &Option<Civil>,
    expected: String,
    never: &str,
    happened: &str,
) -> Option<(String, String)> {
    let found = times
        .iter()
        .any(|t| at.is_none_or(|c| same_minute(time::civil_to_instant(c, tz), *t)));
    if found == positive {
        return None;
    }
    let at_text = at
        .map(|c| format!(" at {} {}", c.date, c.time))
        .unwrap_or_default();
    let actual = if times.is_empty() {
        never.to_string()
    } else {
        format!(
            "{happened} at {}",
            times
                .iter()
                .map(|t| time::format_local(*t, tz, false))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some((format!("{expected}{at_text}"), actual))
}

/// The name of a step with its journey, for coverage reports.
pub fn step_label(program: &Program, step: StepId) -> String {
    let s = &program.steps[step];
    let j = program
        .journeys
        .get(s.journey)
        .map(|j| j.name.as_str())
        .unwrap_or("?");
    let _ = s.journey.index();
    format!("{j}.{}", s.name)
}
