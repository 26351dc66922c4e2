//! Condition benchmark: the same predicates over the same N customer records (default
//! 1,000,000) evaluated by the journey VM, by a native Rust closure over a struct (the limit),
//! by Rhai (precompiled AST, scope reused) and by `cel-interpreter` (compiled program, context
//! reused) — what users would otherwise embed. Printed: ns per evaluation for each, and the
//! ratios to native and to the VM, measured in the same run. Goal: the VM within 3x of native
//! and faster than both interpreters.
//!
//! The predicates (segments of a tiny program for the VM):
//! 1. `profile.age < 26`
//! 2. `profile.household_children > 0 and profile.plan != "illimite"`
//! 3. `sum(usage.data_gb over last 90 days) > 60`: for native, Rhai and CEL a precomputed
//!    `data_gb_90` field; the VM runs it twice, over the same precomputed attribute
//!    (`profile.data_gb_90 > 60`, the like-for-like figure) and over the real sliding-window
//!    aggregate fed by three `usage` events per customer (3b, informative);
//! 4. `profile.plan in ["mobile_essentiel", "mobile_5g"]`
//!
//! Each engine evaluates predicate p for every customer in turn (records in memory, in index
//! order), several rounds; the best round counts. Every engine's count of true results must be
//! the same, or the benchmark stops.
//!
//! Run: `cargo bench -p journey-runtime --bench conditions [-- --customers N] [--only vm|native|rhai|cel] [--rounds R]`

use std::collections::HashMap;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant as Wall};

use journey_bytecode::{AttrId, Program, SegmentId};
use journey_compiler::{Input, MemoryHost, compile};
use journey_runtime::{Config, Engine, Value};

/// 2027-01-01T00:00:00Z.
const T0: i64 = 1_798_761_600;
const DAY: i64 = 86_400;
/// Rounds per measurement (`--rounds R` changes it, to give a profiler a longer run).
static ROUNDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(3);

const SOURCE: &str = r#"
profile {
  age: number
  household_children: number = 0
  plan: string
  /// The 90-day data volume, precomputed (what the other engines get).
  data_gb_90: number = 0
}

event usage { data_gb: number }

segment jeune = profile.age < 26
segment famille_hors_illimite = profile.household_children > 0 and profile.plan != "illimite"
segment gros_attr = profile.data_gb_90 > 60
segment gros_agg = sum(usage.data_gb over last 90 days) > 60
segment forfait_mobile = profile.plan in ["mobile_essentiel", "mobile_5g"]
"#;

/// (label, segment name, Rhai source, CEL source).
const PREDICATES: [(&str, &str, &str, &str); 5] = [
    (
        "1 age < 26",
        "jeune",
        "profile.age < 26",
        "profile.age < 26",
    ),
    (
        "2 children > 0 and plan != illimite",
        "famille_hors_illimite",
        r#"profile.household_children > 0 && profile.plan != "illimite""#,
        r#"profile.household_children > 0 && profile.plan != "illimite""#,
    ),
    (
        "3 data over 90 days > 60 (attribute)",
        "gros_attr",
        "profile.data_gb_90 > 60.0",
        "profile.data_gb_90 > 60.0",
    ),
    (
        "3b same, VM over the real aggregate",
        "gros_agg",
        "profile.data_gb_90 > 60.0",
        "profile.data_gb_90 > 60.0",
    ),
    (
        "4 plan in [2 plans]",
        "forfait_mobile",
        r#"profile.plan in ["mobile_essentiel", "mobile_5g"]"#,
        r#"profile.plan in ["mobile_essentiel", "mobile_5g"]"#,
    ),
];

const PLANS: [&str; 4] = ["mobile_essentiel", "mobile_5g", "illimite", "prepaye"];

/// One customer record, as a native program would hold it.
#[derive(Debug, Clone)]
struct Rec {
    age: i64,
    children: i64,
    plan: String,
    data_gb_90: f64,
    /// The three monthly usage reports that make up `data_gb_90`.
    usage: [f64; 3],
}

fn records(n: usize) -> Vec<Rec> {
    let mut s = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|_| {
            // Whole-ish numbers, so that the sums are exact in binary floating point too.
            let usage = [
                (next() % 40) as f64 + 0.5,
                (next() % 40) as f64 + 0.25,
                (next() % 40) as f64,
            ];
            Rec {
                age: 18 + (next() % 60) as i64,
                children: if next() % 2 == 0 {
                    0
                } else {
                    1 + (next() % 3) as i64
                },
                plan: PLANS[(next() % 4) as usize].to_string(),
                data_gb_90: usage.iter().sum(),
                usage,
            }
        })
        .collect()
}

fn compile_program() -> Arc<Program> {
    let mut host = MemoryHost::new();
    host.insert("conditions.journey", SOURCE);
    let input = Input {
        roots: vec!["conditions.journey".into()],
        default_name: "conditions".into(),
        ..Input::default()
    };
    let c = compile(&host, &input);
    match c.program {
        Some(p) => Arc::new(p),
        None => panic!(
            "the benchmark program does not compile: {:?}",
            c.diagnostics
        ),
    }
}

/// Customers of the in-cache variant (evaluated over and over).
const HOT: usize = 1024;

/// Runs `eval(i)` for every record, [`ROUNDS`] times; the best time and the count of `true`.
/// With `hot`, `n` evaluations over the first [`HOT`] records only (they stay in cache: the
/// cost of interpretation without the memory traffic).
fn measure(n: usize, hot: bool, mut eval: impl FnMut(usize) -> bool) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut hits = 0;
    let mask = if hot { HOT - 1 } else { usize::MAX };
    for _ in 0..ROUNDS.load(std::sync::atomic::Ordering::Relaxed) {
        let t = Wall::now();
        let mut h = 0u64;
        for i in 0..n {
            h += u64::from(eval(black_box(i & mask)));
        }
        best = best.min(t.elapsed());
        hits = black_box(h);
    }
    (best, hits)
}

/// The profile Rhai scripts see: a registered type with getters (cheaper to hand over than an
/// object map, which is cloned into the scope field by field).
#[derive(Clone)]
struct RhaiProfile(Rc<RhaiRec>);

struct RhaiRec {
    age: rhai::INT,
    children: rhai::INT,
    plan: rhai::ImmutableString,
    data_gb_90: rhai::FLOAT,
}

fn main() {
    let mut n = 1_000_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(k) = args.iter().position(|a| a == "--customers")
        && let Some(v) = args
            .get(k + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
    {
        n = v;
    }
    let n = n.max(1);
    if let Some(k) = args.iter().position(|a| a == "--rounds")
        && let Some(r) = args.get(k + 1).and_then(|v| v.parse::<usize>().ok())
    {
        ROUNDS.store(r.max(1), std::sync::atomic::Ordering::Relaxed);
    }
    // `--only ENGINE` (vm, native, rhai, cel): time that engine alone, for a profiler; the
    // others are skipped and print 0.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|k| args.get(k + 1).cloned());
    let runs = |engine: &str| only.as_deref().is_none_or(|o| o == engine);
    println!(
        "== condition benchmark: {} customer records, best of {} rounds ==",
        n,
        ROUNDS.load(std::sync::atomic::Ordering::Relaxed)
    );
    let recs = records(n);

    // The journey VM: customers in an engine, segments evaluated through the interpreter.
    let t = Wall::now();
    let program = compile_program();
    let attr = |name: &str| -> AttrId {
        program
            .attributes
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| id)
            .expect("attribute")
    };
    let segment = |name: &str| -> SegmentId {
        program
            .segments
            .iter()
            .find(|(_, s)| s.name == name)
            .map(|(id, _)| id)
            .expect("segment")
    };
    let (age, children, plan, data) = (
        attr("age"),
        attr("household_children"),
        attr("plan"),
        attr("data_gb_90"),
    );
    let usage = program
        .events
        .iter()
        .find(|(_, e)| e.name == "usage")
        .map(|(id, _)| id)
        .expect("usage event");
    let mut engine = Engine::new(program.clone(), Config::default(), T0);
    let plan_values: Vec<Value> = PLANS.iter().map(|p| Value::text(p)).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("C-{i}")).collect();
    for (i, r) in recs.iter().enumerate() {
        let p = PLANS.iter().position(|x| *x == r.plan).unwrap_or(0);
        engine.upsert_customer(
            &ids[i],
            &[
                (age, Value::Number(r.age as f64)),
                (children, Value::Number(r.children as f64)),
                (plan, plan_values[p].clone()),
                (data, Value::Number(r.data_gb_90)),
            ],
            T0,
        );
    }
    // Three monthly usage reports per customer, all within the last 90 days at the end.
    for (m, at) in [T0 + DAY, T0 + 31 * DAY, T0 + 61 * DAY]
        .into_iter()
        .enumerate()
    {
        for (i, r) in recs.iter().enumerate() {
            engine.event(&ids[i], usage, vec![Value::Number(r.usage[m])], at);
        }
        engine.drain_effects();
    }
    engine.advance_to(T0 + 62 * DAY);
    engine.drain_effects();
    println!(
        "setup              journey engine: {} customers, {} usage events in {:.1} s",
        n,
        3 * n,
        t.elapsed().as_secs_f64()
    );

    // Rhai.
    let mut rhai_engine = rhai::Engine::new();
    rhai_engine
        .register_type_with_name::<RhaiProfile>("Profile")
        .register_get("age", |p: &mut RhaiProfile| p.0.age)
        .register_get("household_children", |p: &mut RhaiProfile| p.0.children)
        .register_get("plan", |p: &mut RhaiProfile| p.0.plan.clone())
        .register_get("data_gb_90", |p: &mut RhaiProfile| p.0.data_gb_90);
    let rhai_recs: Vec<RhaiProfile> = recs
        .iter()
        .map(|r| {
            RhaiProfile(Rc::new(RhaiRec {
                age: r.age,
                children: r.children,
                plan: r.plan.as_str().into(),
                data_gb_90: r.data_gb_90,
            }))
        })
        .collect();

    // CEL: one map per customer, built once.
    let cel_recs: Vec<cel_interpreter::Value> = recs
        .iter()
        .map(|r| {
            let mut m: HashMap<String, cel_interpreter::Value> = HashMap::new();
            m.insert("age".into(), r.age.into());
            m.insert("household_children".into(), r.children.into());
            m.insert("plan".into(), r.plan.clone().into());
            m.insert("data_gb_90".into(), r.data_gb_90.into());
            m.into()
        })
        .collect();

    let mut rows = Vec::new();
    for (label, seg, rhai_src, cel_src) in PREDICATES {
        let s = segment(seg);
        let native: Box<dyn Fn(&Rec) -> bool> = match seg {
            "jeune" => Box::new(|r| r.age < 26),
            "famille_hors_illimite" => Box::new(|r| r.children > 0 && r.plan != "illimite"),
            "forfait_mobile" => {
                Box::new(|r| ["mobile_essentiel", "mobile_5g"].contains(&r.plan.as_str()))
            }
            _ => Box::new(|r| r.data_gb_90 > 60.0),
        };
        let ast = rhai_engine.compile(rhai_src).expect("Rhai script");
        let mut scope = rhai::Scope::new();
        scope.push("profile", rhai_recs[0].clone());
        let cel = cel_interpreter::Program::compile(cel_src).expect("CEL program");
        let mut ctx = cel_interpreter::Context::default();
        let mut row = [0.0; 10];
        let mut counts = [0u64; 5];
        for (k, hot) in [false, true].into_iter().enumerate() {
            let skip = (Duration::ZERO, u64::MAX);
            let (vm_t, vm_hits) = if runs("vm") {
                measure(n, hot, |i| engine.evaluate_segment(i as u32, s))
            } else {
                skip
            };
            // Generic over the closure so that it is inlined: the limit.
            let (nat_t, nat_hits) = if !runs("native") {
                skip
            } else {
                match seg {
                    "jeune" => measure(n, hot, |i| recs[i].age < 26),
                    "famille_hors_illimite" => measure(n, hot, |i| {
                        recs[i].children > 0 && recs[i].plan != "illimite"
                    }),
                    "forfait_mobile" => measure(n, hot, |i| {
                        ["mobile_essentiel", "mobile_5g"].contains(&recs[i].plan.as_str())
                    }),
                    _ => measure(n, hot, |i| recs[i].data_gb_90 > 60.0),
                }
            };
            let (dyn_t, dyn_hits) = if runs("native") {
                measure(n, hot, |i| native(&recs[i]))
            } else {
                skip
            };
            let (rhai_t, rhai_hits) = if runs("rhai") {
                measure(n, hot, |i| {
                    scope.set_value("profile", rhai_recs[i].clone());
                    rhai_engine
                        .eval_ast_with_scope::<bool>(&mut scope, &ast)
                        .expect("Rhai evaluation")
                })
            } else {
                skip
            };
            let (cel_t, cel_hits) = if runs("cel") {
                measure(n, hot, |i| {
                    ctx.add_variable_from_value("profile", cel_recs[i].clone());
                    matches!(cel.execute(&ctx), Ok(cel_interpreter::Value::Bool(true)))
                })
            } else {
                skip
            };
            let ns = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
            row[k * 5..k * 5 + 5].copy_from_slice(&[
                ns(nat_t),
                ns(dyn_t),
                ns(vm_t),
                ns(rhai_t),
                ns(cel_t),
            ]);
            let c = [vm_hits, nat_hits, dyn_hits, rhai_hits, cel_hits];
            let ran: Vec<u64> = c.iter().copied().filter(|x| *x != u64::MAX).collect();
            assert!(
                ran.iter().all(|x| *x == ran[0]),
                "engines disagree on `{label}`: VM, native, boxed native, Rhai, CEL = {c:?}"
            );
            if !hot {
                counts = c;
            }
        }
        rows.push((label, counts[0], row));
    }
    for (k, title) in [
        (0, format!("over all {n} records (memory traffic included)")),
        (
            1,
            format!("in cache: the first {HOT} records, {n} evaluations"),
        ),
    ] {
        println!("{title}");
        println!(
            "  {:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>7} {:>7} {:>7}",
            "ns/evaluation",
            "true",
            "native",
            "dyn Fn",
            "VM",
            "Rhai",
            "CEL",
            "VM/nat",
            "Rhai/VM",
            "CEL/VM"
        );
        // A figure, or `-` for an engine `--only` skipped.
        let fig = |x: f64, precision: usize| {
            if x.is_finite() && x > 0.0 {
                format!("{x:.precision$}")
            } else {
                "-".to_string()
            }
        };
        for (label, hits, r) in &rows {
            let r = &r[k * 5..k * 5 + 5];
            println!(
                "  {:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>6}x {:>6}x {:>6}x",
                label,
                hits,
                fig(r[0], 2),
                fig(r[1], 2),
                fig(r[2], 1),
                fig(r[3], 1),
                fig(r[4], 1),
                fig(r[2] / r[0], 1),
                fig(r[3] / r[2], 1),
                fig(r[4] / r[2], 1)
            );
        }
        if only.is_some() {
            continue;
        }
        // Geometric means over the like-for-like predicates (1, 2, 3, 4).
        let geo = |f: &dyn Fn(&[f64]) -> f64| {
            let like: Vec<f64> = rows
                .iter()
                .filter(|r| !r.0.starts_with("3b"))
                .map(|r| f(&r.2[k * 5..k * 5 + 5]))
                .collect();
            (like.iter().map(|x| x.ln()).sum::<f64>() / like.len() as f64).exp()
        };
        let vm_nat = geo(&|r| r[2] / r[0]);
        let vm_dyn = geo(&|r| r[2] / r[1]);
        let rhai_vm = geo(&|r| r[3] / r[2]);
        let cel_vm = geo(&|r| r[4] / r[2]);
        println!("  ratios (geometric mean over predicates 1, 2, 3, 4)");
        println!(
            "    VM vs native closure: {vm_nat:.1}x (goal: within 3x: {}); VM vs a boxed dyn Fn: {vm_dyn:.1}x",
            if vm_nat <= 3.0 { "met" } else { "not met" }
        );
        println!(
            "    Rhai vs VM: {rhai_vm:.1}x slower; CEL vs VM: {cel_vm:.1}x slower (goal: VM faster than both: {})",
            if rhai_vm > 1.0 && cel_vm > 1.0 {
                "met"
            } else {
                "not met"
            }
        );
    }
    black_box(&engine);
}
