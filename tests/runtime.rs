//! Runtime semantics: every `test` block of the runtime cases (`tests/cases/runtime/*/`) and of
//! the examples passes; a test block can fail, and says what it expected and what happened;
//! experiment proportions and sticky assignment; determinism; no panic on random inputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use journey_bytecode::{Civil, Date, EventId, JourneyId, KeptEvent, Program, TimeOfDay, Type};
use journey_compiler::{Compilation, compile};
use journey_runtime::effects::Effect;
use journey_runtime::engine::KEPT_EFFECTS;
use journey_runtime::testing::{TestOutcome, run_tests};
use journey_runtime::time::{Instant, Zones, civil_to_instant};
use journey_runtime::{Config, Engine, Explain, Value};
use journey_tests::{compile_case, load_case};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------- helpers

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn runtime_cases() -> Vec<PathBuf> {
    project_dirs(&root().join("cases/runtime"))
}

fn examples() -> Vec<PathBuf> {
    project_dirs(&root().join("../examples"))
}

/// The directories under `dir` that hold a `journey.toml`, sorted.
fn project_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("journey.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Compiles a project that must compile, and returns the compilation with its program.
fn program_of(c: Compilation, what: &str) -> (Compilation, Arc<Program>) {
    let rendered = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
    let program = c
        .program
        .clone()
        .unwrap_or_else(|| panic!("{what} does not compile:\n{rendered}"));
    (c, Arc::new(program))
}

/// `file:line` and the source line of a location.
fn place(c: &Compilation, loc: &journey_bytecode::Loc) -> String {
    let file = c.sources.files.values().nth(loc.file as usize);
    let path = file.map(|f| f.path.clone()).unwrap_or_default();
    let line = file
        .and_then(|f| f.text.lines().nth(loc.line.saturating_sub(1) as usize))
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    format!("{path}:{}: {line}", loc.line)
}

/// A failed test block in words: where, what was expected, what happened.
fn describe_failure(case: &str, c: &Compilation, o: &TestOutcome) -> String {
    let mut out = format!("[{case}] test \"{}\" FAILED\n", o.name);
    for f in &o.failures {
        out.push_str(&format!(
            "    {}\n      expected: {}\n        actual: {}\n",
            place(c, &f.loc),
            f.expected,
            f.actual
        ));
    }
    out
}

/// Test blocks that fail because the runtime breaks a rule of docs/language.md: (case, test).
/// They stay in their case, are left out of the all-pass check, and must keep failing (when
/// one passes, the runtime was fixed: remove it from this list).
const KNOWN_RUNTIME_BUGS: &[(&str, &str)] = &[];

fn known_bug(case: &str, test: &str) -> bool {
    KNOWN_RUNTIME_BUGS
        .iter()
        .any(|(c, t)| *c == case && *t == test)
}

/// The instant of a local time in Europe/Paris.
fn paris(year: i16, month: u8, day: u8, hour: u8, minute: u8) -> Instant {
    let tz = Zones::new("Europe/Paris").get(None);
    civil_to_instant(
        Civil {
            date: Date { year, month, day },
            time: TimeOfDay { hour, minute },
        },
        &tz,
    )
}

/// The id of the item called `name` among a table's (id, name) pairs; panics naming `what`.
fn named<'a, K>(items: impl Iterator<Item = (K, &'a str)>, what: &str, name: &str) -> K {
    items
        .into_iter()
        .find(|(_, n)| *n == name)
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no {what} `{name}`"))
}

fn journey_named(p: &Program, name: &str) -> JourneyId {
    named(
        p.journeys.iter().map(|(id, j)| (id, j.name.as_str())),
        "journey",
        name,
    )
}

fn event_named(p: &Program, name: &str) -> EventId {
    named(
        p.events.iter().map(|(id, e)| (id, e.name.as_str())),
        "event",
        name,
    )
}

fn segment_named(p: &Program, name: &str) -> journey_bytecode::SegmentId {
    named(
        p.segments.iter().map(|(id, s)| (id, s.name.as_str())),
        "segment",
        name,
    )
}

fn attr_named(p: &Program, name: &str) -> journey_bytecode::AttrId {
    named(
        p.attributes.iter().map(|(id, a)| (id, a.name.as_str())),
        "attribute",
        name,
    )
}

// ------------------------------------------------------------------- (a) every test passes

/// The rules the runtime cases pin down; a case that disappears is a rule no longer checked.
const EXPECTED_CASES: &[&str] = &[
    "best-offer",
    "caps",
    "clock-segments",
    "consent",
    "dst-march",
    "dst-october",
    "emit",
    "exits",
    "experiment",
    "goals",
    "holdout",
    "leap-day",
    "month-ends",
    "quiet-hours",
    "reentry",
    "scenarios",
    "schedules",
    "segment-time",
    "timeline",
    "wait-for",
];

#[test]
fn every_test_block_of_the_runtime_cases_and_examples_passes() {
    let cases = runtime_cases();
    let names: Vec<String> = cases.iter().map(|p| name_of(p)).collect();
    for want in EXPECTED_CASES {
        assert!(
            names.iter().any(|n| n == want),
            "missing runtime case tests/cases/runtime/{want}: {names:?}"
        );
    }
    let mut failures = Vec::new();
    let mut still_broken = Vec::new();
    let mut fixed = Vec::new();
    let mut total = 0;
    for dir in cases.iter().chain(examples().iter()) {
        let case = name_of(dir);
        let (c, program) = program_of(compile_case(dir), &dir.display().to_string());
        if dir.starts_with(root().join("cases/runtime")) {
            let rendered = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
            assert!(
                c.diagnostics.is_empty(),
                "runtime case {case} has diagnostics:\n{rendered}"
            );
        }
        let (outcomes, _) = run_tests(&program);
        assert!(!outcomes.is_empty(), "{case} has no test block");
        total += outcomes.len();
        for o in &outcomes {
            match (known_bug(&case, &o.name), o.passed()) {
                (false, true) => {}
                (false, false) => failures.push(describe_failure(&case, &c, o)),
                (true, false) => still_broken.push(describe_failure(&case, &c, o)),
                (true, true) => fixed.push(format!("[{case}] {}", o.name)),
            }
        }
    }
    if !still_broken.is_empty() {
        eprintln!(
            "known runtime bugs (left out of this check):\n{}",
            still_broken.join("\n")
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {total} test blocks failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these known runtime bugs are fixed: remove them from KNOWN_RUNTIME_BUGS:\n{}",
        fixed.join("\n")
    );
    for (case, test) in KNOWN_RUNTIME_BUGS {
        assert!(
            names.iter().any(|n| n == case),
            "KNOWN_RUNTIME_BUGS names a missing case: {case} / {test}"
        );
    }
    assert_eq!(
        still_broken.len(),
        KNOWN_RUNTIME_BUGS.len(),
        "every entry of KNOWN_RUNTIME_BUGS must name an existing test block"
    );
}

// ------------------------------------------------------------------- (b) a test block can fail

#[test]
fn a_test_block_with_a_time_one_minute_off_fails_and_names_both_times() {
    let dir = root().join("cases/runtime/quiet-hours");
    let file = "quiet.journey";
    let line = "expect send sms \"Bienvenue\" at 2027-01-05 08:00";
    let (mut host, input) = load_case(&dir);

    // As written, every test of the case passes.
    let (_, program) = program_of(compile(&host, &input), "quiet-hours");
    let (outcomes, _) = run_tests(&program);
    assert!(outcomes.iter().all(TestOutcome::passed));

    // One minute later in one expectation: that test, and only that one, fails.
    let text = std::fs::read_to_string(dir.join(file)).expect("quiet.journey");
    let first = text.find(line).expect("the expectation is in the case");
    let mut changed = text.clone();
    changed.replace_range(first..first + line.len(), &line.replace("08:00", "08:01"));
    host.insert(file, changed);
    let (c, program) = program_of(compile(&host, &input), "quiet-hours (changed)");
    let (outcomes, _) = run_tests(&program);
    let failed: Vec<&TestOutcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    assert_eq!(
        failed.len(),
        1,
        "exactly one test should fail: {:#?}",
        failed.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    let o = failed[0];
    assert_eq!(o.name, "a send at 22:30 is deferred to 08:00 the next day");
    assert_eq!(
        o.failures.len(),
        1,
        "{}",
        describe_failure("quiet-hours", &c, o)
    );
    let f = &o.failures[0];
    assert!(
        f.expected.contains("2027-01-05 08:01"),
        "the message names the expected time: {}",
        f.expected
    );
    assert!(
        f.actual.contains("2027-01-05 08:00"),
        "the message names the actual time: {}",
        f.actual
    );
    assert!(place(&c, &f.loc).contains("08:01"), "{}", place(&c, &f.loc));
}

// ---------------------------------------------------- (c) experiment proportions, stickiness

/// Enters `n` customers into the experiment case's journey; returns each one's group
/// (variant index; 2 is the holdout), in the order of `ids`.
fn assign_all(program: &Arc<Program>, ids: &[String], at: Instant) -> HashMap<String, u16> {
    let journey = journey_named(program, "split");
    let mut engine = Engine::new(program.clone(), Config::default(), at);
    let mut groups = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        for id in chunk {
            assert!(engine.enter(id, journey, at), "{id} did not enter");
        }
        for e in engine.drain_effects() {
            if let Effect::Assigned {
                customer, variant, ..
            } = e
            {
                let id = engine.customer(customer).expect("customer").id.clone();
                assert!(groups.insert(id, variant).is_none(), "assigned twice");
            }
        }
    }
    groups
}

#[test]
fn experiment_proportions_within_one_point_and_sticky_assignment() {
    let (_, program) = program_of(
        compile_case(&root().join("cases/runtime/experiment")),
        "experiment",
    );
    let x = program
        .experiments
        .values()
        .find(|x| x.name == "ton")
        .expect("experiment ton");
    assert_eq!(x.variants.len(), 2);
    let n = 100_000;
    let ids: Vec<String> = (0..n).map(|i| format!("customer-{i:06}")).collect();
    let first = assign_all(&program, &ids, paris(2027, 1, 4, 10, 0));
    assert_eq!(first.len(), n, "every customer is assigned once");
    let mut counts = [0usize; 3];
    for v in first.values() {
        counts[*v as usize] += 1;
    }
    for (i, (group, want)) in [("a", 45.0), ("b", 45.0), ("holdout", 10.0)]
        .into_iter()
        .enumerate()
    {
        let share = counts[i] as f64 * 100.0 / n as f64;
        assert!(
            (share - want).abs() <= 1.0,
            "group {group}: {share:.2}% of {n} customers, expected {want}% ± 1 (counts {counts:?})"
        );
    }

    // Sticky: a second engine, other instants, customers in the reverse order.
    let reversed: Vec<String> = ids.iter().rev().cloned().collect();
    let second = assign_all(&program, &reversed, paris(2028, 6, 1, 18, 30));
    let differ: Vec<&String> = ids
        .iter()
        .filter(|id| first.get(*id) != second.get(*id))
        .take(5)
        .collect();
    assert!(
        differ.is_empty(),
        "assignment is not sticky for {differ:?} (first {:?}, second {:?})",
        differ.first().map(|id| first.get(*id)),
        differ.first().map(|id| second.get(*id)),
    );
}

// ------------------------------------------------------------------------ (d) determinism

#[test]
fn finished_timeline_threads_leave_their_slot_to_the_next_entry() {
    // `longue` sleeps 30 days in its body while three timeline entries run, one a day: the
    // instance keeps two threads (the body, and the slot each entry reuses), not four.
    let (_, program) = program_of(
        compile_case(&root().join("cases/runtime/timeline")),
        "timeline",
    );
    let p = program.as_ref();
    let start = paris(2027, 1, 4, 10, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    engine.upsert_customer("C-1", &[], start);
    engine.event("C-1", event_named(p, "renew"), Vec::new(), start);
    engine.advance_to(paris(2027, 1, 8, 0, 0));
    let customer = engine.customer(0).expect("the customer");
    let longue = journey_named(p, "longue");
    let instance = customer
        .instances
        .iter()
        .find(|i| i.journey == longue)
        .expect("still sleeping in its body");
    assert_eq!(
        engine.pending_entries(0, longue),
        Vec::<u16>::new(),
        "the three entries ran"
    );
    assert_eq!(instance.threads.len(), 2, "{:?}", instance.threads);
}

#[test]
fn an_instance_lets_a_closed_goal_window_go_at_its_next_step() {
    // `fenetres` opens a one-day goal window at entry, then waits 3 days and 30 more: from
    // the second wait on, its window list is given back (nothing allocated for it).
    let (_, program) = program_of(compile_case(&root().join("cases/runtime/goals")), "goals");
    let p = program.as_ref();
    let start = paris(2027, 1, 4, 10, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    engine.upsert_customer("C-1", &[], start);
    engine.event("C-1", event_named(p, "visite"), Vec::new(), start);
    let fenetres = journey_named(p, "fenetres");
    let windows = |engine: &Engine| {
        let instance = engine
            .customer(0)
            .expect("the customer")
            .instances
            .iter()
            .find(|i| i.journey == fenetres)
            .expect("in the journey");
        (instance.goals.len(), instance.goals.capacity())
    };
    assert_eq!(windows(&engine), (1, 1), "the window is open at entry");
    engine.advance_to(paris(2027, 1, 8, 0, 0));
    assert_eq!(windows(&engine), (0, 0), "closed, and given back");
}

fn telecom() -> Arc<Program> {
    program_of(compile_case(&root().join("../examples/telecom")), "telecom").1
}

/// A small deterministic generator (xorshift64*), so the inputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The properties of an event, in schema order, given by name (the others absent).
fn props(p: &Program, event: EventId, given: &[(&str, Value)]) -> Vec<Value> {
    let schema = &p.events[event].props;
    let mut values = vec![Value::None; schema.len()];
    for (name, v) in given {
        let i = schema
            .iter()
            .position(|x| x.name == *name)
            .unwrap_or_else(|| panic!("no property `{name}` in `{}`", p.events[event].name));
        values[i] = v.clone();
    }
    values
}

/// Feeds a scripted year of 60 telecom customers to a fresh engine, explaining `explain`;
/// returns its effects as JSON and its decisions, each as its customer's id and its JSON.
/// With `batched`, the year's events go through [`Engine::events`] in runs of 1 to 40 (a
/// customer the engine has not seen appears twice in some runs); otherwise one by one
/// through [`Engine::event`].
fn scripted_run(
    program: &Arc<Program>,
    batched: bool,
    explain: Explain,
) -> (String, Vec<(String, String)>) {
    let p = program.as_ref();
    let start = paris(2027, 1, 1, 0, 0);
    let config = Config {
        explain,
        record_steps: true,
    };
    let mut engine = Engine::new(program.clone(), config, start);
    let mut rng = Rng(0x5EED_2027);
    let text = |s: &str| Value::text(s);
    let num = |n: u64| Value::Number(n as f64);
    let attr = |n: &str| attr_named(p, n);
    let ev = |n: &str| event_named(p, n);
    let mut effects = Vec::new();
    // Batched, the effects are taken as a server takes them (the engine keeps its buffer);
    // one by one, drained (a new buffer each time): the same effects either way.
    let take = |engine: &mut Engine, effects: &mut Vec<Effect>| {
        if batched {
            effects.extend(engine.take_effects());
        } else {
            effects.extend(engine.drain_effects());
        }
    };
    let mut t = start;
    let customers: Vec<String> = (0..60).map(|i| format!("C-{:06}", 100_000 + i)).collect();
    let mut invoices: HashMap<String, String> = HashMap::new();
    for (i, id) in customers.iter().enumerate() {
        let age = 18 + rng.below(60);
        let profile = vec![
            (attr("customer_ref"), text(id)),
            (
                attr("first_name"),
                text(rng.pick(&["Léa", "Nadia", "Hugo", "Paul"])),
            ),
            (attr("last_name"), text("Martin")),
            (attr("age"), num(age)),
            (attr("household_children"), num(rng.below(3))),
            (
                attr("plan"),
                text(rng.pick(&["mobile_essentiel", "mobile_5g", "illimite", "prepaye"])),
            ),
            (
                attr("birthday"),
                Value::Date(Date {
                    year: 2027 - age as i16,
                    month: 1 + rng.below(12) as u8,
                    day: 1 + rng.below(28) as u8,
                }),
            ),
            (
                attr("timezone"),
                text(rng.pick(&["Europe/Paris", "Europe/Paris", "Indian/Reunion"])),
            ),
            (attr("email"), text("client@example.com")),
            (attr("phone"), text("+33600000000")),
            (attr("optin_sms"), Value::Bool(rng.below(2) == 0)),
            (attr("optin_email"), Value::Bool(rng.below(3) != 0)),
            (attr("app_installed"), Value::Bool(rng.below(2) == 0)),
            (attr("optin_push"), Value::Bool(true)),
            (
                attr("payment_method"),
                text(rng.pick(&["prelevement", "carte"])),
            ),
        ];
        t += 3_600 * (1 + i as i64 % 7);
        engine.upsert_customer(id, &profile, t);
        let plan = rng.pick(&["mobile_essentiel", "mobile_5g", "prepaye"]);
        let e = ev("signup");
        let values = props(
            p,
            e,
            &[
                ("plan", text(plan)),
                ("channel", text("web")),
                ("monthly_price", Value::Number(9.99)),
            ],
        );
        engine.event(id, e, values, t);
    }
    // A year of activity, one input every few hours.
    let end = paris(2028, 1, 15, 0, 0);
    let mut invoice = 0;
    let mut run: Vec<(String, EventId, Vec<Value>, Instant)> = Vec::new();
    let mut runs = 0usize;
    let feed = |engine: &mut Engine, run: &mut Vec<(String, EventId, Vec<Value>, Instant)>| {
        if batched {
            engine.events(
                run.iter()
                    .map(|(id, e, values, at)| (id.as_str(), *e, values.clone(), *at)),
            );
        } else {
            for (id, e, values, at) in run.iter() {
                engine.event(id, *e, values.clone(), *at);
            }
        }
        run.clear();
    };
    let mut newcomers = 0;
    while t < end {
        t += 600 + rng.below(8 * 3_600) as i64;
        let id = customers[rng.below(customers.len() as u64) as usize].clone();
        let (name, given): (&str, Vec<(&str, Value)>) = match rng.below(12) {
            0..=2 => ("login", vec![("device", text("android"))]),
            3 | 4 => (
                "usage",
                vec![
                    ("data_gb", num(rng.below(30))),
                    ("voice_minutes", num(rng.below(300))),
                    ("roaming", Value::Bool(rng.below(5) == 0)),
                ],
            ),
            5 => (
                "purchase",
                vec![
                    ("sku", text("SKU")),
                    ("amount", num(5 + rng.below(50))),
                    (
                        "category",
                        text(rng.pick(&["forfait", "option", "box", "terminal"])),
                    ),
                ],
            ),
            6 | 7 => {
                invoice += 1;
                let iid = format!("F-{invoice}");
                invoices.insert(id.clone(), iid.clone());
                (
                    "invoice_ready",
                    vec![
                        ("invoice_id", text(&iid)),
                        ("amount", Value::Number(19.99)),
                        (
                            "due_date",
                            Value::Date(Date {
                                year: 2028,
                                month: 1,
                                day: 31,
                            }),
                        ),
                        ("pdf_url", text("https://telco.example/f.pdf")),
                    ],
                )
            }
            8 => match invoices.get(&id) {
                Some(iid) => (
                    "invoice_paid",
                    vec![("invoice_id", text(iid)), ("amount", Value::Number(19.99))],
                ),
                None => ("login", vec![("device", text("web"))]),
            },
            9 => (
                "satisfaction_survey",
                vec![("score", num(1 + rng.below(5)))],
            ),
            10 => ("bonus_activated", vec![("bonus", text("10GO-ANNIV"))]),
            _ => {
                if rng.below(10) == 0 {
                    ("churn", vec![("reason", text("concurrence"))])
                } else {
                    ("referral_signup", vec![("referee_plan", text("mobile_5g"))])
                }
            }
        };
        let e = ev(name);
        let values = props(p, e, &given);
        run.push((id, e, values, t));
        if run.len() % 13 == 5 {
            // A customer not seen before, twice: created by the first of the two.
            newcomers += 1;
            let id = format!("N-{newcomers}");
            let login = ev("login");
            for dt in [1, 2] {
                let values = props(p, login, &[("device", text("web"))]);
                run.push((id.clone(), login, values, t + dt));
            }
            t += 2;
        }
        if run.len() > (runs * 7) % 40 {
            runs += 1;
            feed(&mut engine, &mut run);
            take(&mut engine, &mut effects);
        }
    }
    feed(&mut engine, &mut run);
    engine.advance_to(end + 400 * 86_400);
    take(&mut engine, &mut effects);
    let decisions: Vec<(String, String)> = engine
        .drain_decisions()
        .into_iter()
        .map(|(c, d)| {
            let id = engine.customer(c).map(|x| x.id.to_string());
            (
                id.expect("a decision's customer exists"),
                serde_json::to_string(&d).expect("a decision serializes"),
            )
        })
        .collect();
    assert!(
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Send(_)))
            .count()
            > 100,
        "the scripted run sends too little to be a meaningful comparison"
    );
    (
        serde_json::to_string(&effects).expect("effects serialize"),
        decisions,
    )
}

/// Taking effects keeps the engine's buffer, in order and complete, but gives back the room
/// a burst needed once it has passed.
#[test]
fn taking_effects_keeps_room_for_a_run_not_for_a_past_burst() {
    let program = telecom();
    let p = program.as_ref();
    let start = paris(2027, 1, 1, 0, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    let signup = event_named(p, "signup");
    let values = props(
        p,
        signup,
        &[
            ("plan", Value::text("mobile_5g")),
            ("channel", Value::text("web")),
            ("monthly_price", Value::Number(15.99)),
        ],
    );
    // A burst: thousands of signups at the same instant, taken at once.
    let ids: Vec<String> = (0..6_000).map(|i| format!("B-{i:05}")).collect();
    engine.events(
        ids.iter()
            .map(|id| (id.as_str(), signup, values.clone(), start + 60)),
    );
    let burst = engine.take_effects().count();
    assert!(
        burst > KEPT_EFFECTS,
        "the burst made only {burst} effects, not more than {KEPT_EFFECTS}"
    );
    assert!(
        engine.effects_room() >= burst,
        "the room for the burst ({}) was given back while it was taken",
        engine.effects_room()
    );
    // Then a small run: its effects come out, and the burst's room goes.
    engine.event("B-late", signup, values.clone(), start + 120);
    let late: Vec<Effect> = engine.take_effects().collect();
    assert!(
        late.iter().any(|e| matches!(e, Effect::Entered { .. })),
        "the late signup entered nothing: {late:?}"
    );
    assert!(
        engine.effects_room() <= KEPT_EFFECTS,
        "{} effects of room kept after a run of {}",
        engine.effects_room(),
        late.len()
    );
    assert_eq!(engine.take_effects().count(), 0, "effects taken twice");
}

/// Two engines fed the same inputs give the same effects and decisions, byte for byte, one
/// fed event by event, the other in runs through [`Engine::events`] (which reads ahead).
#[test]
fn the_same_inputs_give_the_same_effects_one_by_one_or_in_runs() {
    let program = telecom();
    let (effects1, decisions1) = scripted_run(&program, false, Explain::All);
    let (effects2, decisions2) = scripted_run(&program, true, Explain::All);
    if effects1 != effects2 {
        let at = effects1
            .bytes()
            .zip(effects2.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(effects1.len().min(effects2.len()));
        let from = at.saturating_sub(300);
        panic!(
            "the effects differ at byte {at} (lengths {} and {}):\n  first: …{}…\n second: …{}…",
            effects1.len(),
            effects2.len(),
            String::from_utf8_lossy(&effects1.as_bytes()[from..(at + 300).min(effects1.len())]),
            String::from_utf8_lossy(&effects2.as_bytes()[from..(at + 300).min(effects2.len())]),
        );
    }
    assert!(decisions1 == decisions2, "the decisions differ");
}

/// Explaining changes no effect: the engine writes a decision's text only for a customer it
/// explains (the run without explanations skips that work), and a customer explained alone
/// gets exactly the decisions it gets when every customer is explained, of every kind.
#[test]
fn explaining_some_customers_changes_no_effect_and_misses_no_decision() {
    let program = telecom();
    let (all_effects, all) = scripted_run(&program, true, Explain::All);
    let (off_effects, off) = scripted_run(&program, true, Explain::Off);
    assert!(off.is_empty(), "{} decisions without explaining", off.len());
    assert!(off_effects == all_effects, "explaining changed the effects");
    // The three customers with the most decisions.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &all {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let chosen: Vec<String> = ranked
        .iter()
        .take(3)
        .map(|(id, _)| id.to_string())
        .collect();
    let (only_effects, only) = scripted_run(&program, true, Explain::Only(chosen.clone()));
    assert!(
        only_effects == all_effects,
        "explaining three customers changed the effects"
    );
    let expected: Vec<(String, String)> = all
        .iter()
        .filter(|(id, _)| chosen.contains(id))
        .cloned()
        .collect();
    assert_eq!(only.len(), expected.len(), "decisions of {chosen:?}");
    assert!(only == expected, "the decisions of {chosen:?} differ");
    for kind in [
        " → ",
        "wait for `",
        "arrived: the wait ends",
        "send deferred to ",
        "critical moment: ",
        "segment `",
        "goal `",
        "exit: `",
        "left `",
    ] {
        assert!(
            all.iter().any(|(_, d)| d.contains(kind)),
            "no decision with `{kind}` in the scripted year"
        );
    }
}

// ---------------------------------------------------------------------- (e) no panic

/// One input of a random session.
#[derive(Debug, Clone)]
enum Op {
    /// An event of a customer, after `delay` seconds.
    Event {
        customer: u8,
        event: u16,
        seed: u64,
        number: f64,
        text: String,
        delay: u32,
    },
    /// The clock moves forward.
    Advance(u32),
    /// One attribute of a customer changes.
    Profile {
        customer: u8,
        attr: u16,
        seed: u64,
        number: f64,
        text: String,
    },
    /// An API entry into a journey.
    Enter { customer: u8, journey: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (
            0u8..8,
            any::<u16>(),
            any::<u64>(),
            any::<f64>(),
            "\\PC{0,12}",
            0u32..(3 * 86_400),
        )
            .prop_map(|(customer, event, seed, number, text, delay)| Op::Event {
                customer,
                event,
                seed,
                number,
                text,
                delay,
            }),
        2 => (0u32..(90 * 86_400)).prop_map(Op::Advance),
        // Years at once: every schedule fires again and again.
        1 => (0u32..(5 * 365 * 86_400)).prop_map(Op::Advance),
        2 => (0u8..8, any::<u16>(), any::<u64>(), any::<f64>(), "\\PC{0,12}").prop_map(
            |(customer, attr, seed, number, text)| Op::Profile {
                customer,
                attr,
                seed,
                number,
                text,
            }
        ),
        1 => (0u8..8, any::<u16>()).prop_map(|(customer, journey)| Op::Enter { customer, journey }),
    ]
}

/// A value of type `ty` made from random material; now and then absent, or of another type.
fn value_of(ty: &Type, seed: u64, number: f64, text: &str) -> Value {
    match seed % 23 {
        0 => return Value::None,
        1 => return Value::Number(number),
        2 => return Value::text(text),
        _ => {}
    }
    let s = seed / 23;
    match ty {
        Type::String => Value::text(text),
        Type::Number => Value::Number(if s.is_multiple_of(3) {
            number
        } else {
            (s % 200) as f64
        }),
        Type::Bool => Value::Bool(s.is_multiple_of(2)),
        Type::Date => Value::Date(if s.is_multiple_of(5) {
            // Out of range fields: the runtime clamps them.
            Date {
                year: (s >> 8) as i16,
                month: (s >> 24) as u8,
                day: (s >> 32) as u8,
            }
        } else {
            clamp_day(Date {
                year: 1900 + (s % 200) as i16,
                month: 1 + (s / 200 % 12) as u8,
                day: 1 + (s / 2400 % 31) as u8,
            })
        }),
        Type::Timestamp => Value::Timestamp(if s.is_multiple_of(4) {
            s as i64
        } else {
            1_798_761_600 + (s % 100_000_000) as i64
        }),
        Type::Duration => Value::Duration(s as i64 % 10_000_000),
        Type::Timezone => Value::text(
            [
                "Europe/Paris",
                "Indian/Reunion",
                "America/New_York",
                "Pacific/Kiritimati",
                "UTC",
                text,
            ][(s % 6) as usize],
        ),
        Type::List(inner) => Value::list(
            (0..s % 4).map(|i| value_of(inner, s.wrapping_add(i * 7919) | 3, number, text)),
        ),
        Type::Optional(inner) => {
            if s.is_multiple_of(3) {
                Value::None
            } else {
                value_of(inner, s, number, text)
            }
        }
    }
}

/// A date with its day clamped to its month's length.
fn clamp_day(d: Date) -> Date {
    let last = journey_bytecode::value::days_in_month(d.year, d.month);
    Date {
        day: d.day.min(last),
        ..d
    }
}

/// Runs a random session against the telecom example; panics are the failure.
fn run_session(program: &Arc<Program>, ops: &[Op]) {
    let p = program.as_ref();
    let mut t = paris(2027, 1, 1, 0, 0);
    let config = Config {
        explain: Explain::All,
        record_steps: true,
    };
    let mut engine = Engine::new(program.clone(), config, t);
    let events: Vec<EventId> = p.events.keys().collect();
    let attrs: Vec<journey_bytecode::AttrId> = p.attributes.keys().collect();
    let journeys: Vec<JourneyId> = p.journeys.keys().collect();
    let id = |c: u8| format!("P-{c}");
    for op in ops {
        match op {
            Op::Event {
                customer,
                event,
                seed,
                number,
                text,
                delay,
            } => {
                let e = events[*event as usize % events.len()];
                // Now and then one property too many or too few.
                let mut props: Vec<Value> = p.events[e]
                    .props
                    .iter()
                    .enumerate()
                    .map(|(i, prop)| {
                        value_of(&prop.ty, seed.rotate_left(i as u32 * 7), *number, text)
                    })
                    .collect();
                match seed % 31 {
                    0 => props.push(Value::Bool(true)),
                    1 => {
                        props.pop();
                    }
                    _ => {}
                }
                t += i64::from(*delay);
                engine.event(&id(*customer), e, props, t);
            }
            Op::Advance(secs) => {
                t += i64::from(*secs);
                engine.advance_to(t);
            }
            Op::Profile {
                customer,
                attr,
                seed,
                number,
                text,
            } => {
                let a = attrs[*attr as usize % attrs.len()];
                let v = value_of(&p.attributes[a].ty, *seed, *number, text);
                engine.upsert_customer(&id(*customer), &[(a, v)], t);
            }
            Op::Enter { customer, journey } => {
                let j = journeys[*journey as usize % journeys.len()];
                engine.enter(&id(*customer), j, t);
            }
        }
        let _ = engine.drain_effects();
        let _ = engine.drain_decisions();
        let _ = engine.stats();
        let _ = engine.next_due();
    }
    // Let every wait, timeline, schedule and lifetime run out.
    engine.advance_to(t + 800 * 86_400);
    for e in engine.drain_effects() {
        serde_json::to_string(&e).expect("effects serialize");
    }
    let _ = engine.drain_decisions();
    for c in 0..8u8 {
        let _ = engine.best_offer(&id(c));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_never_panic_the_engine(ops in proptest::collection::vec(op(), 1..48)) {
        let program = TELECOM.with(|p| p.clone());
        run_session(&program, &ops);
    }
}

thread_local! {
    static TELECOM: Arc<Program> = telecom();
}

// ------------------------------------------------------------------- profile rows

/// Attribute values live in one engine-wide array, a row per customer: each customer's row
/// starts at the schema's defaults, an update changes that row only, conditions read the
/// row of the customer they are asked about, and an index past the last customer has none.
#[test]
fn each_customer_reads_and_updates_its_own_profile_row() {
    let program = telecom();
    let p = program.as_ref();
    let (age, children, first_name) = (
        attr_named(p, "age"),
        attr_named(p, "household_children"),
        attr_named(p, "first_name"),
    );
    let jeune = segment_named(p, "jeune");
    let start = paris(2027, 1, 1, 0, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    let a = engine.upsert_customer(
        "A",
        &[(age, Value::Number(22.0)), (first_name, Value::text("Ana"))],
        start,
    );
    let b = engine.upsert_customer("B", &[(age, Value::Number(40.0))], start);
    let row = |e: &Engine, c| e.profile(c).expect("a row").to_vec();
    assert_eq!(row(&engine, a).len(), p.attributes.len());
    assert_eq!(
        row(&engine, a)[first_name.as_u32() as usize],
        Value::text("Ana")
    );
    assert_eq!(row(&engine, b)[first_name.as_u32() as usize], Value::None);
    // The schema's default (`household_children: number = 0`), for both.
    assert_eq!(
        row(&engine, b)[children.as_u32() as usize],
        Value::Number(0.0)
    );
    assert_eq!(
        row(&engine, a)[children.as_u32() as usize],
        Value::Number(0.0)
    );
    assert!(engine.evaluate_segment(a, jeune));
    assert!(!engine.evaluate_segment(b, jeune));
    // Updating B leaves A as it was.
    engine.set_attribute("B", age, Value::Number(19.0), start + 60);
    engine.set_attribute("B", first_name, Value::text("Bea"), start + 60);
    assert_eq!(row(&engine, b)[age.as_u32() as usize], Value::Number(19.0));
    assert_eq!(row(&engine, a)[age.as_u32() as usize], Value::Number(22.0));
    assert_eq!(
        row(&engine, a)[first_name.as_u32() as usize],
        Value::text("Ana")
    );
    assert!(engine.evaluate_segment(b, jeune));
    assert!(engine.in_segment("B", jeune));
    assert!(engine.profile(2).is_none());
    assert!(engine.profile(u32::MAX).is_none());
}

/// An instance keeps an event in its scope only when its own code reads it later: the
/// compiler lists those events per journey (`kept_events`), reads in filters of their own
/// event (entry, exit on, goal, wait) excluded, reads in the templates a journey sends
/// included. A journey that reads none keeps no event while it waits; one that reads its
/// trigger in a template renders the trigger's values a month later.
#[test]
fn instances_keep_only_the_events_their_code_reads() {
    let (_, program) = program_of(
        compile_case(&root().join("cases/runtime/kept-events")),
        "kept-events",
    );
    let p = program.as_ref();
    let inscription = event_named(p, "inscription");
    let achat = event_named(p, "achat");
    let kept = |name: &str| p.journeys[journey_named(p, name)].kept_events.clone();
    // A kept event with the named properties.
    let k = |event: EventId, names: &[&str]| KeptEvent {
        event,
        props: names
            .iter()
            .map(|n| {
                let i = p.events[event].props.iter().position(|x| x.name == *n);
                1u32 << i.expect("property")
            })
            .fold(0, |a, b| a | b),
    };
    assert_eq!(kept("sans_lecture"), Vec::<KeptEvent>::new());
    assert_eq!(kept("filtres_seuls"), Vec::<KeptEvent>::new());
    let both = k(inscription, &["offre", "prix"]);
    let offre = k(inscription, &["offre"]);
    // The template reads both properties; the `if` the price, the messages the plan; the
    // goal the price, the `exit when` the plan.
    for name in [
        "par_modele",
        "par_etapes",
        "par_objectif",
        "propriete_par_propriete",
    ] {
        assert_eq!(kept(name), vec![both], "{name}");
    }
    for name in ["par_emission", "lecture_puis_attente"] {
        assert_eq!(kept(name), vec![offre], "{name}");
    }
    // `achat` is read in the message after its wait: the awaited occurrence is kept too,
    // both of its properties; of `inscription`, the wait filter reads only the plan.
    assert_eq!(
        kept("par_attente"),
        vec![offre, k(achat, &["montant", "offre"])]
    );
    assert_eq!(
        kept("confirmee"),
        vec![k(event_named(p, "confirmation"), &["offre"])],
        "read in a step right after entry"
    );

    let start = paris(2027, 1, 4, 10, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    engine.event(
        "C1",
        inscription,
        props(
            p,
            inscription,
            &[("offre", Value::text("5G")), ("prix", Value::Number(25.0))],
        ),
        start,
    );
    let c = engine.customer_ix("C1").expect("customer");
    // The events an instance of `name` keeps in its scope; `None` once it has ended.
    let scope_of = |e: &Engine, name: &str| {
        let j = journey_named(p, name);
        e.customer(c)
            .expect("customer")
            .instances
            .iter()
            .find(|i| i.journey == j)
            .map(|i| i.scope.iter().map(|d| d.event).collect::<Vec<_>>())
    };
    let none = Some(Vec::<EventId>::new());
    let entry = Some(vec![inscription]);
    // Statically: these never read their trigger after the entry condition.
    assert_eq!(scope_of(&engine, "sans_lecture"), none);
    assert_eq!(scope_of(&engine, "filtres_seuls"), none);
    for name in ["par_modele", "par_etapes", "par_objectif", "par_emission"] {
        assert_eq!(scope_of(&engine, name), entry, "{name} on entry");
    }
    // The values held: both properties where both are read (the incoming occurrence,
    // shared), only the plan where only the plan is.
    let held = |e: &Engine, name: &str| {
        let j = journey_named(p, name);
        let cu = e.customer(c).expect("customer");
        let i = cu.instances.iter().find(|i| i.journey == j).expect(name);
        let d = i.scope.first().expect("scope event");
        let read = |prop: &str| {
            let ix = p.events[inscription]
                .props
                .iter()
                .position(|x| x.name == prop);
            d.prop(ix.expect("property") as u16).cloned()
        };
        (d.props.len(), read("offre"), read("prix"))
    };
    let five_g = Some(Value::text("5G"));
    assert_eq!(
        held(&engine, "par_modele"),
        (2, five_g.clone(), Some(Value::Number(25.0)))
    );
    assert_eq!(held(&engine, "par_emission"), (1, five_g.clone(), None));
    assert_eq!(held(&engine, "par_attente"), (1, five_g.clone(), None));
    // By liveness, property by property: the price was last read at entry, the plan is read
    // again on day 7.
    assert_eq!(
        held(&engine, "propriete_par_propriete"),
        (1, five_g, None),
        "the plan alone while it waits a week"
    );
    // By liveness: its only read was the welcome, made at entry; it waits two months with
    // nothing.
    assert_eq!(scope_of(&engine, "lecture_puis_attente"), none);
    // Day 8: `par_etapes` read it for the last time on day 7 and waits for nothing else
    // that reads it; the others still have a read ahead (a template on day 30, goal and
    // exit conditions for the instance's life, a timeline entry in week 2).
    engine.advance_to(paris(2027, 1, 12, 12, 0));
    assert_eq!(
        scope_of(&engine, "par_etapes"),
        None,
        "ended after its last send"
    );
    for name in ["par_modele", "par_objectif", "par_emission"] {
        assert_eq!(scope_of(&engine, name), entry, "{name} on day 8");
    }
    assert_eq!(
        scope_of(&engine, "propriete_par_propriete"),
        none,
        "nothing once the plan was read on day 7"
    );
    // Day 20: the week-2 entry has run; `par_modele` still has its template ahead.
    engine.advance_to(paris(2027, 1, 24, 12, 0));
    assert_eq!(scope_of(&engine, "par_modele"), entry);
    assert_eq!(scope_of(&engine, "par_objectif"), entry);
    assert_eq!(
        scope_of(&engine, "par_emission"),
        none,
        "month 2 reads nothing"
    );
    engine.advance_to(paris(2027, 2, 10, 0, 0));
    let subjects: Vec<String> = engine
        .drain_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send(s) if s.template.as_deref() == Some("rappel_offre") => s
                .parts
                .iter()
                .find(|(k, _)| k == "subject")
                .map(|(_, v)| v.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(subjects, vec!["Votre offre 5G".to_string()]);
}

/// A telecom subscriber's daily `usage` feeds three windows (`data_gb` over 90 and 183
/// days, `voice_minutes` over 183 days): the engine keeps each occurrence once, for the
/// longest, with its two values; the segment over the 90-day window still sees only its
/// own days, also as they leave with no event; and the customer's state reads back equal.
#[test]
fn a_subscribers_usage_is_kept_once_for_its_longest_window() {
    let program = telecom();
    let p = program.as_ref();
    let usage = event_named(p, "usage");
    let heavy = segment_named(p, "gros_consommateur");
    let start = paris(2027, 1, 4, 20, 0);
    let mut engine = Engine::new(program.clone(), Config::default(), start);
    const DAY: Instant = 86_400;
    let mut day_of_entry = None;
    for day in 0..250 {
        let given = [
            ("data_gb", Value::Number(1.0)),
            ("voice_minutes", Value::Number(10.0)),
            ("roaming", Value::Bool(false)),
        ];
        engine.event("C1", usage, props(p, usage, &given), start + day * DAY);
        if day_of_entry.is_none() && engine.in_segment("C1", heavy) {
            day_of_entry = Some(day);
        }
    }
    // More than 60 GB over 90 days: on the 61st day.
    assert_eq!(day_of_entry, Some(60));
    let c = engine.customer_ix("C1").expect("customer");
    let customer = engine.customer(c).expect("customer");
    let logged: Vec<(usize, u16)> = customer
        .logs
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| (l.len(), l.columns()))
        .collect();
    assert_eq!(
        logged,
        vec![(183, 2)],
        "one log of 183 days, two values a day"
    );
    let text = serde_json::to_string(customer).expect("serialize");
    let back: journey_runtime::customer::Customer =
        serde_json::from_str(&text).expect("deserialize");
    assert_eq!(&back, customer);
    // No usage from day 250: the 90-day sum falls to 60 GB on day 279, by the clock alone.
    engine.advance_to(start + 278 * DAY + 3_600);
    assert!(engine.in_segment("C1", heavy));
    engine.advance_to(start + 279 * DAY + 3_600);
    assert!(!engine.in_segment("C1", heavy));
}
