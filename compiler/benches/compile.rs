//! Compile-time benchmark: check and build generated projects of 1k, 10k and 100k lines
//! spread over 50 files, and print the figures with per-line cost ratios (measured in the
//! same run) so superlinear growth shows.
//!
//! Run: `cargo bench -p journey-compiler --bench compile`

use std::time::{Duration, Instant};

use journey_compiler::{Input, MemoryHost, compile};

const SCHEMA: &str = r#"profile {
  first_name: string
  age: number
  household_children: number = 0
  plan: string
  birthday: date
  timezone: timezone = "Europe/Paris"
  optin_sms: bool
}
event signup { plan: string, channel: string }
event usage { data_gb: number }
event purchase { sku: string, amount: number }
event login
event churn
channel sms uses "sms" {
  config { sender: "TELCO" }
  params { short_link: string? }
  requires profile.optin_sms
}
channel email uses "email" {
  config { from: "bonjour@telco.example" }
  params { period: string? }
}
offer pack { title: "Pack" eligible when profile.household_children > 0 priority 10 }
"#;

/// One unit: two segments, a template and a journey (about 30 lines).
fn unit(f: usize, i: usize) -> String {
    format!(
        r#"/// Segment {f}-{i}.
segment s{f}_{i} = profile.age < {age} and count(login over last 30 days) > 0
segment t{f}_{i} = s{f}_{i} or sum(usage.data_gb over last 90 days) > {gb}
template w{f}_{i} for email {{
  subject: "Bonjour {{profile.first_name}}"
  text: "Votre forfait {{signup.plan}} est actif."
}}
/// Journey {f}-{i}.
journey j{f}_{i} {{
  entry on signup where signup.plan != "prepaid"
  reentry after exit
  exit on churn
  exit after 400 days
  goal achat{f}_{i} on purchase within 30 days
  scenario for s{f}_{i} {{ send sms "Salut {{profile.first_name}}" }}
  scenario for t{f}_{i} {{ send email w{f}_{i} {{ period: "1 mois" }} }}
  otherwise {{ send email w{f}_{i} }}
  wait for purchase where purchase.amount > 10 within 3 days else {{
    send email w{f}_{i} with best offer
    exit
  }}
  if purchase.amount > 100 {{ set profile.plan = purchase.sku }}
  timeline {{
    week 1: send sms "Tout va bien ?"
    month 6 at 10:00: send email w{f}_{i} {{ period: "6 mois" }}
    month 10: emit login
  }}
}}
"#,
        age = 20 + i % 10,
        gb = 10 + i % 50,
    )
}

fn project(target_lines: usize, files: usize) -> (MemoryHost, Input, usize) {
    let mut host = MemoryHost::new();
    host.insert("schema.journey", SCHEMA.to_string());
    let unit_lines = unit(0, 0).lines().count();
    let units = (target_lines.saturating_sub(SCHEMA.lines().count()) / unit_lines).max(files);
    let mut roots = vec!["schema.journey".to_string()];
    let mut lines = SCHEMA.lines().count();
    for f in 0..files {
        let mut text = String::from("import \"schema.journey\"\n");
        let per_file = units / files + usize::from(f < units % files);
        for i in 0..per_file {
            text.push_str(&unit(f, i));
        }
        lines += text.lines().count();
        let name = format!("f{f}.journey");
        host.insert(name.clone(), text);
        roots.push(name);
    }
    let parse_threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let input = Input {
        roots,
        manifest: None,
        default_name: "bench".into(),
        parse_threads,
        parse_cache: None,
    };
    (host, input, lines)
}

/// The fastest run: on a shared, noisy machine the minimum is the most stable estimate of
/// the work itself (slower runs measure interference).
fn best(v: Vec<Duration>) -> Duration {
    v.into_iter().min().unwrap_or_default()
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    best(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    // `--profile-parse` / `--profile-check`: one 10k-line run of one phase, for profilers
    // (callgrind counts instructions, which noise does not change).
    if let Some(mode) = std::env::args().find(|a| a.starts_with("--profile-")) {
        let (host, input, _) = project(10_000, 50);
        match mode.as_str() {
            "--profile-parse" => {
                for r in &input.roots {
                    if let Some(t) = journey_compiler::SourceHost::read(&host, r) {
                        std::hint::black_box(journey_grammar::parse(&t));
                    }
                }
            }
            _ => {
                std::hint::black_box(compile(&host, &input));
            }
        }
        return;
    }
    println!(
        "journey compiler benchmark (best of several runs, release build, {} threads available)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:>8} {:>6} {:>10} {:>12} {:>11} {:>11} {:>14} {:>14}",
        "lines",
        "files",
        "parse ms",
        "check 1T ms",
        "check ms",
        "build ms",
        "check µs/line",
        "vs 1k per-line"
    );
    let mut base: Option<f64> = None;
    for target in [1_000usize, 10_000, 100_000] {
        let (host, input, lines) = project(target, 50);
        let runs = if target >= 100_000 { 7 } else { 25 };
        let texts: Vec<String> = input
            .roots
            .iter()
            .filter_map(|r| journey_compiler::SourceHost::read(&host, r).map(|t| t.to_string()))
            .collect();
        let parse = measure(runs, || {
            for t in &texts {
                std::hint::black_box(journey_grammar::parse(t));
            }
        });
        let one_thread = Input {
            parse_threads: 1,
            ..input.clone()
        };
        let check1 = measure(runs, || {
            let c = compile(&host, &one_thread);
            assert_eq!(c.error_count(), 0, "generated project must compile");
        });
        let check = measure(runs, || {
            let c = compile(&host, &input);
            assert_eq!(c.error_count(), 0, "generated project must compile");
        });
        let build = measure(runs, || {
            let c = compile(&host, &input);
            let bytes = journey_bytecode::encode(c.program.as_ref().expect("program"));
            std::hint::black_box(bytes);
        });
        let per_line = check.as_secs_f64() * 1e6 / lines as f64;
        let ratio = per_line / *base.get_or_insert(per_line);
        println!(
            "{:>8} {:>6} {:>10.2} {:>12.2} {:>11.2} {:>11.2} {:>14.3} {:>13.2}x",
            lines,
            50,
            parse.as_secs_f64() * 1e3,
            check1.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e3,
            per_line,
            ratio
        );
    }
    println!(
        "goals on the 2-core machine at 10k lines: check <= 50 ms, build <= 100 ms; per-line ratio stays near 1x (no superlinear growth)"
    );
}
