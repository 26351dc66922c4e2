//! Editor latency: time from a one-character edit to the diagnostics ready to publish, on a
//! 2,000-line file and on a 20-file project, and completion latency, each over 200 edits or
//! requests; p50, p99 and max against the goals (diagnostics p50 ≤ 10 ms, p99 ≤ 30 ms;
//! completion ≤ 10 ms).
//!
//! How it is measured: in-process, through the same code the server runs. An edit is
//! `State::change` with an incremental `didChange` range (apply the edit, compile the whole
//! project, map every diagnostic to LSP, decide what to publish); completion is
//! `handlers::completion::completion` on a snapshot. The files are real files in a
//! temporary directory (the project is found by its `journey.toml`). A second table runs
//! the same edits through the protocol (JSON-RPC over an in-memory stream, tower-lsp-server's
//! router, our publishing queue) and times edit → `publishDiagnostics` received.
//!
//! The machine is shared (2 cores, other builds running), so wall-clock times include the
//! time other processes hold the cores. Where the work runs on one thread, the table also
//! gives the CPU time of that thread (Linux `schedstat`), which that interference does not
//! inflate: it is the cost of the work itself. `-- --compile-only` times the compiler alone
//! on the same files, for comparison.
//!
//! Run: `cargo bench -p journey-lsp --bench latency`

use std::time::{Duration, Instant};

use journey_lsp::handlers::completion;
use journey_lsp::line_index::LineIndex;
use journey_lsp::testing::{Client, Fixture, temp_dir, uri_of};
use serde_json::json;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

const EDITS: usize = 200;

const SCHEMA: &str = r#"/// What we know about a customer.
profile {
  prénom: string
  âge: number
  enfants: number = 0
  forfait: string
  anniversaire: date
  timezone: timezone = "Europe/Paris"
  optin_sms: bool
  email: string?
}
/// A new line is activated.
event souscription { forfait: string, canal: string }
event conso { data_gb: number }
event achat { sku: string, montant: number }
event connexion
event résiliation
channel sms uses "sms" {
  config { sender: "TELCO" }
  params { lien: string? }
  requires profile.optin_sms
}
channel email uses "email" {
  config { from: "bonjour@telco.example" }
  params { période: string? }
  requires is_set(profile.email)
}
offer pack { title: "Pack" eligible when profile.enfants > 0 priority 10 }
"#;

/// About 30 lines: two segments, a template and a journey.
fn unit(f: usize, i: usize) -> String {
    format!(
        r#"/// Segment {f}-{i}.
segment jeune_{f}_{i} = profile.âge < {age} and count(connexion over last 30 days) > 0
segment été_{f}_{i} = jeune_{f}_{i} or sum(conso.data_gb over last 90 days) > {gb}
template bienvenue_{f}_{i} for email {{
  subject: "Bonjour {{profile.prénom}}"
  text: "Votre forfait {{souscription.forfait}} est actif."
}}
/// Journey {f}-{i}.
journey accueil_{f}_{i} {{
  entry on souscription where souscription.forfait != "prépayé"
  reentry after exit
  exit on résiliation
  exit after 400 days
  goal achat_{f}_{i} on achat within 30 days
  scenario for jeune_{f}_{i} {{ send sms "Salut {{profile.prénom}}" }}
  scenario for été_{f}_{i} {{ send email bienvenue_{f}_{i} {{ période: "1 mois" }} }}
  otherwise {{ send email bienvenue_{f}_{i} }}
  wait for achat where achat.montant > 10 within 3 days else {{
    send email bienvenue_{f}_{i} with best offer
    exit
  }}
  if achat.montant > 100 {{ set profile.forfait = achat.sku }}
  timeline {{
    week 1: send sms "Tout va bien ?"
    month 6 at 10:00: send email bienvenue_{f}_{i} {{ période: "6 mois" }}
    month 10: emit connexion
  }}
}}
"#,
        age = 20 + i % 10,
        gb = 10 + i % 50,
    )
}

/// Files of a project of about `lines` lines: the schema and `files` files of units.
fn project(lines: usize, files: usize) -> Vec<(String, String)> {
    let unit_lines = unit(0, 0).lines().count();
    let units = (lines.saturating_sub(SCHEMA.lines().count()) / unit_lines).max(files);
    let mut out = vec![
        (
            "journey.toml".to_string(),
            "[project]\nname = \"bench\"\ntimezone = \"Europe/Paris\"\n".to_string(),
        ),
        ("schema.journey".to_string(), SCHEMA.to_string()),
    ];
    for f in 0..files {
        let mut text = String::from("import \"schema.journey\"\n");
        for i in 0..units / files + usize::from(f < units % files) {
            text.push_str(&unit(f, i));
        }
        out.push((format!("f{f:02}.journey"), text));
    }
    out
}

/// One file holding everything (a 2,000-line file).
fn single_file(lines: usize) -> Vec<(String, String)> {
    let files = project(lines, 1);
    let mut text = SCHEMA.to_string();
    text.push_str(files[2].1.trim_start_matches("import \"schema.journey\"\n"));
    vec![
        ("journey.toml".to_string(), files[0].1.clone()),
        ("big.journey".to_string(), text),
    ]
}

/// Time the calling thread has spent on a CPU (Linux `schedstat`), if known: unlike the wall
/// clock, it does not count the time other processes of a shared machine hold the cores.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f`, returning its result, its wall time and its CPU time on this thread.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Option<Duration>) {
    let (c0, t0) = (thread_cpu(), Instant::now());
    let out = f();
    let wall = t0.elapsed();
    let cpu = match (c0, thread_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    (out, wall, cpu)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, samples: Vec<Duration>, p50_goal: f64, p99_goal: Option<f64>) {
    report_cpu(what, samples, Vec::new(), p50_goal, p99_goal);
}

fn report_cpu(
    what: &str,
    mut samples: Vec<Duration>,
    mut cpu: Vec<Duration>,
    p50_goal: f64,
    p99_goal: Option<f64>,
) {
    samples.sort();
    cpu.sort();
    let cpu_text = if cpu.is_empty() {
        format!("{:>9} {:>9}", "-", "-")
    } else {
        format!(
            "{:>9.2} {:>9.2}",
            ms(percentile(&cpu, 0.5)),
            ms(percentile(&cpu, 0.99))
        )
    };
    let (p50, p99, max) = (
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&samples, 1.0)),
    );
    let verdict = if p50 <= p50_goal && p99_goal.is_none_or(|g| p99 <= g) {
        "ok"
    } else {
        "OVER GOAL"
    };
    let goal = match p99_goal {
        Some(g) => format!("p50 ≤ {p50_goal} ms, p99 ≤ {g} ms"),
        None => format!("≤ {p50_goal} ms"),
    };
    println!(
        "{what:<44} {:>5} {p50:>9.2} {p99:>9.2} {max:>9.2} {cpu_text}   {goal:<26} {verdict}",
        samples.len()
    );
}

/// The edit sequence: type a character into a name and delete it again, alternately, at
/// places spread over the file (half the edits make an unknown-name error, half fix it).
fn edits(text: &str, n: usize) -> Vec<(Position, Position, &'static str)> {
    let lines = LineIndex::new(text.into());
    let spots: Vec<u32> = text
        .match_indices("send email bienvenue_")
        .map(|(i, _)| (i + "send email bienvenue".len()) as u32)
        .collect();
    let mut out = Vec::with_capacity(n);
    for k in 0..n / 2 {
        let at = spots[(k * 7919) % spots.len()];
        let p = lines.position(at);
        out.push((p, p, "x"));
        out.push((p, Position::new(p.line, p.character + 1), ""));
    }
    out
}

fn bench_edits(what: &str, files: &[(String, String)], edited: &str, threads: usize) {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let mut fx = Fixture::new(&refs);
    if threads == 1 {
        fx.state.set_parse_threads(1);
    }
    let uri = fx.uri(edited);
    let text = fx.state.text(&uri).unwrap_or_default().to_string();
    let (mut samples, mut cpu) = (Vec::new(), Vec::new());
    for (version, (start, end, insert)) in edits(&text, EDITS + 20).into_iter().enumerate() {
        let change = TextDocumentContentChangeEvent {
            range: Some(Range::new(start, end)),
            range_length: None,
            text: insert.to_string(),
        };
        let (published, wall, on_cpu) =
            timed(|| fx.state.change(&uri, version as i32 + 2, vec![change]));
        std::hint::black_box(published);
        if version >= 20 {
            // The first 20 warm up caches.
            samples.push(wall);
            cpu.extend(on_cpu.filter(|_| threads == 1));
        }
    }
    report_cpu(what, samples, cpu, 10.0, Some(30.0));
}

fn bench_completion(what: &str, files: &[(String, String)], edited: &str) {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let fx = Fixture::new(&refs);
    let uri = fx.uri(edited);
    let text = fx.state.text(&uri).unwrap_or_default().to_string();
    let lines = LineIndex::new(text.as_str().into());
    let Some(snap) = fx.state.snapshot(&uri) else {
        return;
    };
    // Contexts: after `send `, after `profile.`, in a condition, at a statement start.
    let contexts = ["send email ", "profile.", "where ", "  exit\n"];
    let (mut samples, mut cpu) = (Vec::new(), Vec::new());
    let mut count = 0usize;
    'outer: for round in 0.. {
        for ctx in contexts {
            let hits: Vec<usize> = text
                .match_indices(ctx)
                .map(|(i, _)| i + ctx.len())
                .collect();
            let at = hits[(round * 131) % hits.len()];
            let p = lines.position(at as u32);
            let (items, wall, on_cpu) = timed(|| completion::completion(&snap, p));
            std::hint::black_box(items);
            if count >= 20 {
                samples.push(wall);
                cpu.extend(on_cpu);
            }
            count += 1;
            if samples.len() >= EDITS {
                break 'outer;
            }
        }
    }
    report_cpu(what, samples, cpu, 10.0, None);
}

/// Edit → `publishDiagnostics` received, through JSON-RPC on an in-memory stream.
fn bench_protocol(what: &str, files: &[(String, String)], edited: &str) {
    let dir = temp_dir("bench");
    for (p, t) in files {
        let _ = std::fs::write(dir.join(p), t);
    }
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let samples = runtime.block_on(async {
        let mut c = Client::start();
        c.initialize().await;
        let uri: Uri = uri_of(&dir.join(edited));
        let text = files.iter().find(|(p, _)| p == edited).map(|(_, t)| t.clone()).unwrap_or_default();
        c.open(uri.as_str(), &text).await;
        c.diagnostics(uri.as_str(), |_| true).await;
        let mut samples = Vec::new();
        for (version, (start, end, insert)) in edits(&text, EDITS + 20).into_iter().enumerate() {
            let t = Instant::now();
            c.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri.as_str(), "version": version + 2},
                       "contentChanges": [{"range": {"start": start, "end": end}, "text": insert}]}),
            )
            .await;
            // Wait for this version's diagnostics of the edited file.
            let want = json!(version + 2);
            loop {
                let msg = c.recv().await;
                if msg["method"] == "textDocument/publishDiagnostics"
                    && msg["params"]["uri"] == uri.as_str()
                    && msg["params"]["version"] == want
                {
                    break;
                }
            }
            if version >= 20 {
                samples.push(t.elapsed());
            }
        }
        c.shutdown().await;
        samples
    });
    let _ = std::fs::remove_dir_all(&dir);
    report(what, samples, 10.0, Some(30.0));
}

/// The compiler alone on the same files (`MemoryHost`), for comparison.
/// With `cached`, the same text is compiled with a warm `ParseCache`: the compiler without
/// the parser.
fn bench_compile(what: &str, files: &[(String, String)], threads: usize, cached: bool) {
    let mut host = journey_compiler::MemoryHost::new();
    let mut roots = Vec::new();
    for (p, t) in files {
        host.insert(p.clone(), t.clone());
        if p.ends_with(".journey") {
            roots.push(p.clone());
        }
    }
    let input = journey_compiler::Input {
        roots,
        manifest: Some("journey.toml".into()),
        default_name: "bench".into(),
        parse_threads: threads,
        parse_cache: cached.then(|| std::sync::Arc::new(journey_compiler::ParseCache::new())),
    };
    let (mut samples, mut cpu) = (Vec::new(), Vec::new());
    for k in 0..EDITS + 20 {
        let (c, wall, on_cpu) = timed(|| journey_compiler::compile(&host, &input));
        std::hint::black_box(c);
        if k >= 20 {
            samples.push(wall);
            cpu.extend(on_cpu.filter(|_| threads == 1));
        }
    }
    report_cpu(what, samples, cpu, 10.0, Some(30.0));
}

fn main() {
    let big = single_file(2_000);
    let many = project(2_000, 20);
    if std::env::args().any(|a| a == "--compile-only") {
        bench_compile("compile only, 2,000-line file", &big, 1, false);
        bench_compile("compile only, 2,000-line file, parse cached", &big, 1, true);
        bench_compile("compile only, 20-file project, 1 thread", &many, 1, false);
        bench_compile("compile only, 20-file project, 2 threads", &many, 2, false);
        for (p, t) in &big {
            if p.ends_with(".journey") {
                let mut v = Vec::new();
                for _ in 0..50 {
                    let s = Instant::now();
                    std::hint::black_box(journey_grammar::parse(t));
                    v.push(s.elapsed());
                }
                report("parse only, 2,000-line file", v, 10.0, None);
                // The language server's parse: one character typed, then `Reparser`.
                let mut text = t.clone();
                let mut reparser = journey_grammar::Reparser::new();
                reparser.parse(&text);
                let mut v = Vec::new();
                for k in 0..EDITS {
                    let mut at = (k * 7_919) % text.len();
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.insert(at, 'x');
                    let s = Instant::now();
                    std::hint::black_box(reparser.parse(&text));
                    v.push(s.elapsed());
                }
                report(
                    "reparse after a 1-char edit, 2,000-line file",
                    v,
                    10.0,
                    None,
                );
            }
        }
        return;
    }
    let lines =
        |files: &[(String, String)]| files.iter().map(|(_, t)| t.lines().count()).sum::<usize>();
    println!(
        "journey-lsp latency ({} samples each after 20 warm-up; 2,000-line file: {} lines; 20-file project: {} files, {} lines)",
        EDITS,
        lines(&big),
        many.len() - 1,
        lines(&many)
    );
    println!(
        "{:<44} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}   {:<26}",
        "in-process (State::change / handlers)",
        "n",
        "p50 ms",
        "p99 ms",
        "max ms",
        "cpu p50",
        "cpu p99",
        "goal"
    );
    bench_edits(
        "edit → diagnostics, 2,000-line file",
        &big,
        "big.journey",
        1,
    );
    bench_edits(
        "edit → diagnostics, 20-file project",
        &many,
        "f07.journey",
        0,
    );
    bench_edits(
        "edit → diagnostics, 20-file project, 1 thread",
        &many,
        "f07.journey",
        1,
    );
    bench_completion("completion, 2,000-line file", &big, "big.journey");
    bench_completion("completion, 20-file project", &many, "f07.journey");
    println!("{:<44}", "through the protocol (in-memory JSON-RPC)");
    bench_protocol(
        "edit → publishDiagnostics, 2,000-line file",
        &big,
        "big.journey",
    );
    bench_protocol(
        "edit → publishDiagnostics, 20-file project",
        &many,
        "f07.journey",
    );
}
