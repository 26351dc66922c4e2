//! `journey simulate`: runs a synthetic (or given) population through the journeys for a
//! number of days and prints a report per journey, step, channel and template; or, with
//! `--explain ID`, one customer's path with the reasons and source lines.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use journey_bytecode::Program;
use journey_compiler::Compilation;
use journey_runtime::simulate::{self, ExplainEntry, Explanation, Options, Report};

use crate::Format;
use crate::deliveries::{Routing, Totals};
use crate::testing::place;

/// The command line's options of `journey simulate`.
pub struct Args {
    /// Customers of the synthetic population.
    pub customers: usize,
    /// Days simulated.
    pub days: u32,
    /// Seed.
    pub seed: u64,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// A JSONL file of profiles.
    pub profiles: Option<PathBuf>,
    /// A JSONL file of events.
    pub events: Option<PathBuf>,
    /// A customer to explain.
    pub explain: Option<String>,
    /// Output format.
    pub format: Format,
    /// With `--plugins`: the plugins every send is delivered through.
    pub plugins: Option<Routing>,
}

/// Runs the simulation and prints the report (or the explanation).
pub fn run(c: &Compilation, program: Arc<Program>, args: Args) -> Result<ExitCode> {
    let start = simulate::parse_date(&args.start).with_context(|| {
        format!(
            "`--start {}`: expected a date like `2027-01-01`",
            args.start
        )
    })?;
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
    };
    let profiles = match &args.profiles {
        Some(path) => Some(simulate::parse_profiles(
            &program,
            &read(path)?,
            &path.display().to_string(),
        )?),
        None => None,
    };
    let events = match &args.events {
        Some(path) => Some(simulate::parse_events(
            &program,
            &read(path)?,
            &path.display().to_string(),
        )?),
        None => None,
    };
    let options = Options {
        customers: args.customers,
        days: args.days,
        seed: args.seed,
        start,
        profiles,
        events,
        explain: args.explain.clone(),
    };

    let bar = if args.format == Format::Text && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(u64::from(args.days));
        let style = indicatif::ProgressStyle::with_template(
            "simulating {bar:40} day {pos}/{len} ({elapsed}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let mut dispatcher = match &args.plugins {
        Some(routing) => {
            let mut d = routing.dispatcher()?;
            d.keep_records(false);
            Some(d)
        }
        None => None,
    };
    let outcome = simulate::run_with_channel(
        program.clone(),
        &options,
        &mut |done, _| bar.set_position(done),
        dispatcher
            .as_mut()
            .map(|d| d as &mut dyn journey_runtime::ChannelSink),
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    // Retries still due after the last day run to their end.
    let deliveries = match (&args.plugins, &mut dispatcher) {
        (Some(routing), Some(d)) => {
            d.flush();
            let mut totals = Totals::default();
            totals.add(d);
            Some((routing, totals))
        }
        _ => None,
    };
    let secs = started.elapsed().as_secs_f64();

    let text = match (&outcome.explanation, args.format) {
        (Some(x), Format::Text) => explain_text(c, &program, x),
        (Some(x), Format::Json) => {
            let mut v = explain_json(c, &program, x);
            if let (Some((routing, totals)), Some(obj)) = (&deliveries, v.as_object_mut()) {
                obj.insert("deliveries".into(), routing.json(totals));
            }
            format!("{v:#}\n")
        }
        (None, Format::Text) => report_text(&outcome.report),
        (None, Format::Json) => {
            let mut text = serde_json::to_string_pretty(&outcome.report)
                .context("cannot serialize the report")?;
            // The deliveries go last, after the report's fields in their own order.
            if let Some((routing, totals)) = &deliveries
                && text.ends_with('}')
            {
                text.pop();
                let section = serde_json::to_string_pretty(&routing.json(totals))
                    .context("cannot serialize the deliveries")?;
                let section = section.replace('\n', "\n  ");
                text = format!("{},\n  \"deliveries\": {section}\n}}", text.trim_end());
            }
            format!("{text}\n")
        }
    };
    let text = match (&deliveries, args.format) {
        (Some((routing, totals)), Format::Text) => format!("{text}{}", routing.text(totals)),
        _ => text,
    };
    crate::out(&text);
    // Wall time is not part of the report, which must not change from run to run.
    eprintln!(
        "simulated {} customers over {} days in {secs:.2} s",
        outcome.report.totals.customers, outcome.report.days
    );
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------- report

/// A table: rows of cells, left- or right-aligned per column, and lines that span the row.
pub(crate) struct Table {
    right: Vec<bool>,
    rows: Vec<Row>,
}

enum Row {
    Cells(Vec<String>),
    Span(String),
}

impl Table {
    pub(crate) fn new(right: &[bool]) -> Table {
        Table {
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(Row::Cells(cells));
    }

    fn span(&mut self, text: String) {
        self.rows.push(Row::Span(text));
    }

    pub(crate) fn render(&self, indent: &str, out: &mut String) {
        let cols = self.right.len();
        let mut widths = vec![0; cols];
        for r in &self.rows {
            if let Row::Cells(cells) = r {
                for (i, cell) in cells.iter().enumerate().take(cols) {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        for r in &self.rows {
            let cells = match r {
                Row::Span(text) => {
                    let _ = writeln!(out, "{indent}{text}");
                    continue;
                }
                Row::Cells(cells) => cells,
            };
            let mut line = String::from(indent);
            for (i, cell) in cells.iter().enumerate().take(cols) {
                let pad = widths[i] - cell.chars().count();
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

/// `quiet-hours 40, cap 3`, or `-`.
fn reasons(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn num(n: u64) -> String {
    n.to_string()
}

/// The report as text: totals, then a table per journey, then channels and templates.
pub fn report_text(r: &Report) -> String {
    let mut out = String::new();
    let t = &r.totals;
    let _ = writeln!(
        out,
        "simulation of `{}`: {} customers over {} days from {} (seed {}; population: {}, events: {})",
        r.project, t.customers, r.days, r.start, r.seed, r.population, r.events
    );
    let _ = writeln!(
        out,
        "{} events in (+{} emitted by journeys), {} entries, {} exits, {} sends, {} deferred, {} skipped, {} goals converted",
        t.events, t.emitted, t.entries, t.exits, t.sends, t.deferred, t.skipped, t.goals
    );
    if t.events_after_end > 0 {
        let _ = writeln!(
            out,
            "{} events of the file fall after the simulated period and were not fed",
            t.events_after_end
        );
    }
    for j in &r.journeys {
        let _ = writeln!(out, "\njourney {} ({})", j.name, j.at);
        let exits = if j.exits.is_empty() {
            "none".to_string()
        } else {
            reasons(&j.exits)
        };
        let _ = writeln!(
            out,
            "  entered {}, active {}; exits: {exits}",
            j.entered, j.active
        );
        if !j.goals.is_empty() {
            let goals: Vec<String> = j
                .goals
                .iter()
                .map(|g| format!("{} {}", g.name, g.converted))
                .collect();
            let _ = writeln!(out, "  goals: {}", goals.join(", "));
        }
        let mut table = Table::new(&[false, false, false, true, true, true, false, false]);
        table.row(
            [
                "step", "kind", "where", "reached", "waiting", "sent", "deferred", "skipped",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        );
        for s in &j.steps {
            table.row(vec![
                s.name.clone(),
                s.kind.clone(),
                s.at.clone(),
                num(s.reached),
                num(s.waiting),
                if s.kind == "send" {
                    num(s.sent)
                } else {
                    "-".into()
                },
                reasons(&s.deferred),
                reasons(&s.skipped),
            ]);
            if !s.arms.is_empty() {
                let arms: Vec<String> = s
                    .arms
                    .iter()
                    .map(|a| format!("{} {}", a.name, a.taken))
                    .collect();
                table.span(format!("  → {}", arms.join(" · ")));
            }
        }
        table.render("  ", &mut out);
    }
    let _ = writeln!(out, "\nchannels");
    let mut table = Table::new(&[false, false, true]);
    table.row(vec!["channel".into(), "template".into(), "sent".into()]);
    for ch in &r.channels {
        table.row(vec![ch.name.clone(), "(all)".into(), num(ch.sent)]);
        for tpl in &ch.templates {
            table.row(vec![String::new(), tpl.template.clone(), num(tpl.sent)]);
        }
    }
    table.render("  ", &mut out);
    if !r.event_rates.is_empty() {
        let rates: Vec<String> = r
            .event_rates
            .iter()
            .map(|e| {
                if e.first {
                    format!("{} (first event)", e.event)
                } else {
                    format!("{} {}", e.event, e.per_day)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "\nevent model (per customer per day): {}",
            rates.join(", ")
        );
    }
    out
}

// ---------------------------------------------------------------------------------- explain

fn journey_name(program: &Program, d: &journey_runtime::Decision) -> Option<String> {
    d.journey
        .and_then(|j| program.journeys.get(j))
        .map(|j| j.name.clone())
}

/// One customer's path as text: each input and decision at its local time, with the source
/// location and line that decided it.
pub fn explain_text(c: &Compilation, program: &Program, x: &Explanation) -> String {
    let mut out = String::new();
    let zone = x.timezone.iana_name().unwrap_or("UTC");
    let _ = writeln!(out, "customer {} ({zone})", x.customer);
    if x.entries.is_empty() {
        let _ = writeln!(out, "  nothing happened to this customer");
    }
    for e in &x.entries {
        match e {
            ExplainEntry::Input { at, text } => {
                let when = journey_runtime::time::format_local(*at, &x.timezone, true);
                let _ = writeln!(out, "\n{when}  ← {text}");
            }
            ExplainEntry::Decision(d) => {
                let when = journey_runtime::time::format_local(d.at, &x.timezone, true);
                let journey = journey_name(program, d)
                    .map(|j| format!("[{j}] "))
                    .unwrap_or_default();
                let _ = writeln!(out, "{when}  {journey}{}", d.text);
                if let Some(loc) = d.loc {
                    let (at, line) = place(c, &loc);
                    let _ = writeln!(out, "    --> {at}\n     | {}", line.trim());
                }
            }
        }
    }
    out
}

/// One customer's path as JSON.
pub fn explain_json(c: &Compilation, program: &Program, x: &Explanation) -> serde_json::Value {
    let path: Vec<serde_json::Value> = x
        .entries
        .iter()
        .map(|e| match e {
            ExplainEntry::Input { at, text } => serde_json::json!({
                "when": journey_runtime::time::format_local(*at, &x.timezone, true),
                "kind": "input",
                "text": text,
            }),
            ExplainEntry::Decision(d) => {
                let (at, line) = d.loc.map(|l| place(c, &l)).unwrap_or_default();
                serde_json::json!({
                    "when": journey_runtime::time::format_local(d.at, &x.timezone, true),
                    "kind": "decision",
                    "journey": journey_name(program, d),
                    "text": d.text,
                    "where": if at.is_empty() { None } else { Some(at) },
                    "source": if line.is_empty() { None } else { Some(line.trim().to_string()) },
                })
            }
        })
        .collect();
    serde_json::json!({
        "customer": x.customer,
        "timezone": x.timezone.iana_name(),
        "path": path,
    })
}
