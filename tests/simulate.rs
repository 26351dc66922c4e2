//! `journey simulate`: reports are deterministic, consistent, and follow the population and
//! event models; profiles and events files parse with errors that name the line.

use std::path::Path;
use std::sync::Arc;

use journey_bytecode::Program;
use journey_runtime::simulate::{
    self, ExplainEntry, Options, Report, parse_events, parse_profiles,
};
use journey_tests::compile_case;

fn telecom() -> Arc<Program> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/telecom");
    let c = compile_case(&dir);
    Arc::new(c.program.expect("the telecom example compiles"))
}

fn simulate(program: &Arc<Program>, options: &Options) -> Report {
    simulate::run(program.clone(), options, &mut |_, _| {})
        .expect("simulation runs")
        .report
}

fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("report serializes")
}

fn small(seed: u64) -> Options {
    Options {
        customers: 200,
        days: 45,
        seed,
        ..Options::default()
    }
}

#[test]
fn the_same_seed_gives_byte_identical_reports() {
    let p = telecom();
    let mut calls = 0;
    let a = simulate::run(p.clone(), &small(7), &mut |done, total| {
        calls += 1;
        assert!(done <= total && total == 45);
    })
    .expect("runs");
    assert_eq!(calls, 45, "progress is reported once a day");
    let b = simulate(&p, &small(7));
    assert_eq!(json(&a.report), json(&b));
    let c = simulate(&p, &small(8));
    assert_ne!(json(&a.report), json(&c), "another seed, another report");
}

#[test]
fn report_counts_are_consistent() {
    let p = telecom();
    let r = simulate(&p, &small(42));
    let t = &r.totals;
    assert_eq!(t.customers, 200);
    assert!(t.events > 0 && t.sends > 0 && t.entries > 0);
    let per_channel: u64 = r.channels.iter().map(|c| c.sent).sum();
    assert_eq!(
        per_channel, t.sends,
        "sends per channel add up to the total"
    );
    for c in &r.channels {
        let per_template: u64 = c.templates.iter().map(|t| t.sent).sum();
        assert_eq!(per_template, c.sent, "templates of {} add up", c.name);
        // One row per template name, in name order, none of them empty.
        assert!(
            c.templates
                .windows(2)
                .all(|w| w[0].template < w[1].template),
            "templates of {}: {:?}",
            c.name,
            c.templates.iter().map(|t| &t.template).collect::<Vec<_>>()
        );
        assert!(c.templates.iter().all(|t| t.sent > 0), "{}", c.name);
    }
    let per_step: u64 = r
        .journeys
        .iter()
        .flat_map(|j| &j.steps)
        .map(|s| s.sent)
        .sum();
    assert_eq!(per_step, t.sends, "sends per step add up to the total");
    let mut entries = 0;
    for j in &r.journeys {
        let exits: u64 = j.exits.values().sum();
        assert!(j.entered >= exits, "{}: more exits than entries", j.name);
        assert_eq!(
            j.entered,
            exits + j.active,
            "{}: every instance entered has ended or is still active",
            j.name
        );
        entries += j.entered;
        for s in &j.steps {
            let taken: u64 = s.arms.iter().map(|a| a.taken).sum();
            if s.kind == "if" || s.kind == "scenario" {
                assert_eq!(taken, s.reached, "{}.{}: one arm per run", j.name, s.name);
            }
            if s.kind != "send" {
                assert_eq!(s.sent, 0);
            }
        }
    }
    assert_eq!(entries, t.entries);
}

#[test]
fn telecom_sends_on_every_channel_of_the_welcome() {
    let p = telecom();
    let r = simulate(
        &p,
        &Options {
            customers: 500,
            days: 60,
            ..Options::default()
        },
    );
    let sent = |channel: &str, template: &str| {
        r.channels
            .iter()
            .filter(|c| c.name == channel)
            .flat_map(|c| &c.templates)
            .filter(|t| t.template == template)
            .map(|t| t.sent)
            .sum::<u64>()
    };
    // The welcome of `premiere_annee`, per scenario, on each of its channels.
    assert!(sent("sms", "bienvenue_jeune") > 0, "{}", json(&r));
    assert!(sent("push", "decouvrir_app") > 0, "{}", json(&r));
    assert!(sent("email", "bienvenue_famille") > 0, "{}", json(&r));
    assert!(sent("email", "bienvenue") > 0, "{}", json(&r));
    // And the week-1 call, deferred by the contact centre's quiet hours for evening signups.
    assert!(sent("call_center", "appel_satisfaction") > 0);
    let first_year = r
        .journeys
        .iter()
        .find(|j| j.name == "premiere_annee")
        .expect("premiere_annee");
    assert!(
        first_year.entered > 300,
        "most customers sign up for a plan"
    );
    let call = first_year
        .steps
        .iter()
        .find(|s| s.name == "appel_s1")
        .expect("appel_s1");
    assert!(call.deferred.get("quiet-hours").copied().unwrap_or(0) > 0);
    assert!(call.at.starts_with("first_year.journey:"));
    // Customers skipped for lack of consent are reported with that reason.
    let skipped: u64 = first_year
        .steps
        .iter()
        .map(|s| s.skipped.get("no-consent").copied().unwrap_or(0))
        .sum();
    assert!(skipped > 0);
}

#[test]
fn profiles_file_errors_name_the_line() {
    let p = telecom();
    let err = |text: &str| {
        parse_profiles(&p, text, "profiles.jsonl")
            .expect_err("invalid")
            .to_string()
    };
    let ok = r#"{"id": "C-1", "age": 34, "plan": "mobile_5g", "birthday": "1992-04-01"}"#;
    let e = err(&format!("{ok}\n\n{{\"id\": \"C-2\", \"age\": \"old\"}}\n"));
    assert!(e.starts_with("profiles.jsonl:3: "), "{e}");
    assert!(e.contains("`age`") && e.contains("number"), "{e}");
    let e = err(&format!("{ok}\n{{\"id\": \"C-2\", \"agee\": 3}}"));
    assert!(e.starts_with("profiles.jsonl:2: "), "{e}");
    assert!(
        e.contains("no attribute `agee`") && e.contains("did you mean `age`"),
        "{e}"
    );
    let e = err(&format!("{ok}\n{ok}"));
    assert!(
        e.starts_with("profiles.jsonl:2: ") && e.contains("line 1"),
        "{e}"
    );
    let e = err("{\"age\": 3}");
    assert!(e.starts_with("profiles.jsonl:1: missing `id`"), "{e}");
    let e = err("{\"id\": \"C-1\",");
    assert!(e.starts_with("profiles.jsonl:1: invalid JSON"), "{e}");
    let e = err("{\"id\": \"C-1\", \"timezone\": \"Mars/Olympus\"}");
    assert!(e.contains("unknown time zone"), "{e}");
    let e = err("{\"id\": \"C-1\", \"birthday\": \"01/04/1992\"}");
    assert!(e.contains("`birthday`") && e.contains("2027-01-04"), "{e}");

    let rows =
        parse_profiles(&p, &format!("# a comment\n{ok}\n"), "profiles.jsonl").expect("valid");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].id, "C-1");
    assert_eq!(rows[0].attrs.len(), 3);
}

#[test]
fn events_file_errors_name_the_line() {
    let p = telecom();
    let err = |text: &str| {
        parse_events(&p, text, "events.jsonl")
            .expect_err("invalid")
            .to_string()
    };
    let ok = r#"{"customer": "C-1", "event": "login", "at": "2027-01-04 09:00", "device": "ios"}"#;
    let e = err(&format!(
        "{ok}\n{{\"customer\": \"C-1\", \"event\": \"logn\", \"at\": \"2027-01-04 09:00\"}}"
    ));
    assert!(e.starts_with("events.jsonl:2: "), "{e}");
    assert!(
        e.contains("no event `logn`") && e.contains("`login`"),
        "{e}"
    );
    let e = err(&format!(
        "{ok}\n{ok}\n{{\"customer\": \"C-1\", \"event\": \"login\", \"at\": \"tomorrow\"}}"
    ));
    assert!(e.starts_with("events.jsonl:3: `at`"), "{e}");
    let e = err(
        r#"{"customer": "C-1", "event": "usage", "at": "2027-01-04T09:00:00Z", "data_gb": "lots"}"#,
    );
    assert!(e.starts_with("events.jsonl:1: `usage.data_gb`"), "{e}");
    let e = err(r#"{"customer": "C-1", "event": "login", "at": "2027-01-04 09:00", "phone": "x"}"#);
    assert!(e.contains("has no property `phone`"), "{e}");
    let e = err(r#"{"event": "login", "at": "2027-01-04 09:00"}"#);
    assert!(e.contains("missing `customer`"), "{e}");
}

#[test]
fn given_profiles_and_events_drive_the_simulation_and_explain() {
    let p = telecom();
    let profiles = parse_profiles(
        &p,
        r#"{"id": "C-100234", "customer_ref": "C-100234", "first_name": "Léa", "age": 22, "plan": "mobile_5g", "birthday": "2004-09-18", "email": "lea@example.com", "phone": "+33612345678", "optin_sms": true, "optin_email": true}"#,
        "profiles.jsonl",
    )
    .expect("profiles");
    let events = parse_events(
        &p,
        concat!(
            r#"{"customer": "C-100234", "event": "signup", "at": "2027-01-04 21:40", "plan": "mobile_5g", "channel": "web", "monthly_price": 15.99}"#,
            "\n",
            r#"{"customer": "C-100234", "event": "login", "at": "2027-01-05T11:30:00Z", "device": "android"}"#,
            "\n",
            r#"{"customer": "C-999", "event": "login", "at": "2027-01-06 10:00", "device": "web"}"#,
            "\n",
            r#"{"customer": "C-100234", "event": "login", "at": "2027-12-31 10:00", "device": "web"}"#,
        ),
        "events.jsonl",
    )
    .expect("events");
    let options = Options {
        days: 30,
        profiles: Some(profiles),
        events: Some(events),
        explain: Some("C-100234".into()),
        ..Options::default()
    };
    let out = simulate::run(p.clone(), &options, &mut |_, _| {}).expect("runs");
    let r = &out.report;
    assert_eq!(r.population, "profiles file");
    assert_eq!(r.events, "events file");
    assert_eq!(r.totals.customers, 2, "the file's customer and C-999");
    assert_eq!(r.totals.events, 3);
    assert_eq!(r.totals.events_after_end, 1);
    let first_year = r
        .journeys
        .iter()
        .find(|j| j.name == "premiere_annee")
        .expect("premiere_annee");
    assert_eq!(first_year.entered, 1);
    let welcome = first_year
        .steps
        .iter()
        .find(|s| s.name == "send_sms_bienvenue_jeune")
        .expect("the welcome SMS");
    assert_eq!(welcome.sent, 1);
    assert_eq!(welcome.deferred.get("quiet-hours"), Some(&1));
    let x = out.explanation.expect("an explanation");
    assert_eq!(x.customer, "C-100234");
    let texts: Vec<String> = x
        .entries
        .iter()
        .map(|e| match e {
            ExplainEntry::Input { text, .. } => text.clone(),
            ExplainEntry::Decision(d) => d.text.clone(),
        })
        .collect();
    let pos = |needle: &str| {
        texts
            .iter()
            .position(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {texts:#?}"))
    };
    assert!(pos("event signup") < pos("entered `premiere_annee`"));
    assert!(pos("entered `premiere_annee`") < pos("send deferred"));
    assert!(pos("send deferred") < pos("send `bienvenue_jeune`"));
    assert!(x.entries.iter().any(|e| matches!(
        e,
        ExplainEntry::Decision(d) if d.loc.is_some() && d.text.contains("scenario")
    )));

    let unknown = Options {
        explain: Some("nobody".into()),
        ..small(1)
    };
    let e = simulate::run(p.clone(), &unknown, &mut |_, _| {}).expect_err("unknown customer");
    assert!(e.to_string().contains("`nobody`"), "{e}");
}

#[test]
fn the_population_uses_the_programs_own_values() {
    let p = telecom();
    let population = simulate::Population::new(&p, 42, simulate::Options::default().start);
    let attr = |name: &str| {
        p.attributes
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| id)
            .expect("attribute")
    };
    let (plan, age, optin) = (attr("plan"), attr("age"), attr("optin_sms"));
    let mut plans = std::collections::BTreeSet::new();
    let mut optins = 0;
    for i in 0..500 {
        let profile = population.profile(i);
        assert_eq!(profile, population.profile(i), "deterministic");
        for (a, v) in profile {
            match v {
                journey_runtime::Value::String(s) if a == plan => {
                    plans.insert(s.to_string());
                }
                journey_runtime::Value::Number(n) if a == age => {
                    assert!((18.0..=80.0).contains(&n), "age {n}")
                }
                journey_runtime::Value::Bool(true) if a == optin => optins += 1,
                _ => {}
            }
        }
    }
    // Values the journeys compare the plan to, and those the tests use.
    for want in ["prepaye", "illimite", "mobile_5g", "mobile_essentiel"] {
        assert!(plans.contains(want), "{want} not drawn: {plans:?}");
    }
    assert!((300..400).contains(&optins), "opt-ins about 70 %: {optins}");
    let model = simulate::EventModel::new(&p);
    let signup = p
        .events
        .iter()
        .find(|(_, e)| e.name == "signup")
        .map(|(id, _)| id);
    assert_eq!(
        model.first, signup,
        "signup starts a journey and is nothing else"
    );
}

#[test]
fn an_events_file_alone_gives_synthetic_profiles_to_its_customers() {
    let p = telecom();
    let events = parse_events(
        &p,
        concat!(
            r#"{"customer": "A", "event": "login", "at": "2027-01-02 10:00", "device": "web"}"#,
            "\n",
            r#"{"customer": "B", "event": "login", "at": "2027-01-03T10:00:00+01:00", "device": "ios"}"#,
            "\n",
            r#"{"customer": "A", "event": "login", "at": "2027-01-04 10:00", "device": "web"}"#,
        ),
        "events.jsonl",
    )
    .expect("events");
    let options = Options {
        days: 10,
        events: Some(events),
        ..Options::default()
    };
    let r = simulate(&p, &options);
    assert_eq!(r.totals.customers, 2, "only the customers the file names");
    assert_eq!(r.totals.events, 3);
    assert!(
        r.event_rates.is_empty(),
        "no event model with an events file"
    );
    assert_eq!(json(&r), json(&simulate(&p, &options)));
}

/// Values a file may hold where another was expected: the ends of every range, impossible
/// dates, local times in daylight-saving gaps and overlaps, durations that overflow, wrong
/// types, unknown zones, random text and numbers.
fn odd_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::json;
    prop_oneof![
        proptest::sample::select(vec![
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e308),
            json!(-1e308),
            json!(0.5),
            json!(""),
            json!("9999-12-31"),
            json!("0001-01-01"),
            json!("-009999-01-01"),
            json!("2027-02-29"),
            json!("2028-02-29"),
            json!("2027-03-28 02:30"),
            json!("2027-10-31 02:30"),
            json!("9999-12-31T23:59:59Z"),
            json!("-009999-01-01T00:00:00Z"),
            json!("1970-01-01T00:00:00Z"),
            json!("2027-01-04 09:00"),
            json!("9223372036854775807s"),
            json!("99999999999999d"),
            json!("-5d"),
            json!("1w"),
            json!("Pacific/Apia"),
            json!("Pacific/Kiritimati"),
            json!("Mars/Olympus"),
            json!("mobile_5g"),
            json!("é😀"),
            json!([]),
            json!([1, "a", null]),
            json!({"a": 1}),
        ]),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)),
    ]
}

/// A valid profile line and valid event lines of the telecom example, as objects.
fn valid_lines() -> (serde_json::Value, Vec<serde_json::Value>) {
    let profile = serde_json::json!({
        "id": "C-1", "customer_ref": "C-1", "first_name": "Léa", "age": 22,
        "plan": "mobile_5g", "birthday": "2004-09-18", "email": "lea@example.com",
        "phone": "+33612345678", "optin_sms": true, "optin_email": true,
        "timezone": "Europe/Paris"
    });
    let events = vec![
        serde_json::json!({"customer": "C-1", "event": "signup", "at": "2027-01-04 21:40",
            "plan": "mobile_5g", "channel": "web", "monthly_price": 15.99}),
        serde_json::json!({"customer": "C-1", "event": "login", "at": "2027-01-05T11:30:00Z",
            "device": "android"}),
        serde_json::json!({"customer": "C-1", "event": "usage", "at": "2027-01-06 08:00",
            "data_gb": 1.5, "voice_minutes": 30}),
    ];
    (profile, events)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..proptest::prelude::ProptestConfig::default() })]

    /// Profiles and events files whose values were changed: each parses, or fails naming
    /// its file and line; what parses is simulated (and explained) without a panic, every
    /// event line accounted for, or refused as the simulation refuses inputs.
    #[test]
    fn changed_input_files_parse_or_fail_and_what_parses_runs(
        profile_edits in proptest::collection::vec((proptest::sample::select(vec![
            "id", "age", "plan", "birthday", "phone", "optin_sms", "timezone", "first_name", "unknown",
        ]), odd_value()), 0..4),
        event_edits in proptest::collection::vec((0usize..3, proptest::sample::select(vec![
            "customer", "event", "at", "plan", "monthly_price", "device", "data_gb", "voice_minutes",
        ]), odd_value()), 0..4),
    ) {
        let p = telecom();
        let (mut profile, mut events) = valid_lines();
        for (key, value) in profile_edits {
            profile[key] = value;
        }
        for (line, key, value) in event_edits {
            events[line][key] = value;
        }
        let line_of = |v: &serde_json::Value| serde_json::to_string(v).expect("json");
        let profiles = parse_profiles(&p, &line_of(&profile), "profiles.jsonl");
        let events_text: Vec<String> = events.iter().map(line_of).collect();
        let events = parse_events(&p, &events_text.join("\n"), "events.jsonl");
        if let Err(e) = &profiles {
            proptest::prop_assert!(e.to_string().starts_with("profiles.jsonl:1: "), "{}", e);
        }
        if let Err(e) = &events {
            proptest::prop_assert!(e.to_string().starts_with("events.jsonl:"), "{}", e);
        }
        if let (Ok(profiles), Ok(events)) = (profiles, events) {
            let options = Options {
                days: 30,
                profiles: Some(profiles),
                events: Some(events),
                explain: Some("C-1".into()),
                ..Options::default()
            };
            match simulate::run(p.clone(), &options, &mut |_, _| {}) {
                // Every line of the file is either simulated or counted as after the end.
                Ok(out) => proptest::prop_assert_eq!(
                    out.report.totals.events + out.report.totals.events_after_end,
                    3
                ),
                // An event before the start, or `C-1` renamed away: refused, in words.
                Err(e) => proptest::prop_assert!(
                    matches!(
                        e,
                        simulate::SimError::BeforeStart { .. } | simulate::SimError::UnknownCustomer(..)
                    ),
                    "{}",
                    e
                ),
            }
        }
    }
}
