//! `journey test`: runs the test blocks and prints results like `cargo test`, then coverage.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use journey_bytecode::{Loc, Program};
use journey_compiler::Compilation;
use journey_runtime::testing::{TestOutcome, run_tests, step_label};

use crate::deliveries::{Routing, Totals};

/// `file:line:col` of a location, and its source line.
pub(crate) fn place(c: &Compilation, loc: &Loc) -> (String, String) {
    let file = c.sources.files.values().nth(loc.file as usize);
    let path = file.map(|f| f.path.clone()).unwrap_or_default();
    let line = file
        .and_then(|f| f.text.lines().nth(loc.line.saturating_sub(1) as usize))
        .map(|l| l.trim_end().to_string())
        .unwrap_or_default();
    (format!("{path}:{}:{}", loc.line, loc.col), line)
}

/// Runs the tests and prints the report; the exit code says whether all passed (and, with
/// `plugins`, whether every send was delivered).
pub fn run(
    c: &Compilation,
    program: Arc<Program>,
    explain: bool,
    plugins: Option<&Routing>,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let (outcomes, cov) = run_tests(&program);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nrunning {} test{}",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    );
    for o in &outcomes {
        let (at, _) = place(c, &o.loc);
        let _ = writeln!(
            out,
            "test {} ({at}) ... {}",
            o.name,
            if o.passed() { "ok" } else { "FAILED" }
        );
    }
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed()).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for o in &failed {
            let (at, _) = place(c, &o.loc);
            let _ = writeln!(out, "\n---- {} ({at}) ----", o.name);
            for f in &o.failures {
                let (where_, line) = place(c, &f.loc);
                let _ = writeln!(out, "  --> {where_}\n   | {line}");
                let _ = writeln!(out, "   = expected: {}", f.expected);
                let _ = writeln!(out, "   =   actual: {}", f.actual);
            }
            if explain {
                let _ = writeln!(out, "  decisions:");
                for d in &o.decisions {
                    let tz = jiff::tz::TimeZone::get(&program.meta.default_timezone)
                        .unwrap_or(jiff::tz::TimeZone::UTC);
                    let when = journey_runtime::time::format_local(d.at, &tz, false);
                    let src = d.loc.map(|l| place(c, &l).0).unwrap_or_default();
                    let _ = writeln!(out, "    {when}  {}  {src}", d.text);
                }
            }
        }
    }
    let reached = cov.steps - cov.unreached.len();
    let taken = cov.arms - cov.untaken.len();
    let _ = writeln!(
        out,
        "\ncoverage: {reached}/{} steps reached, {taken}/{} branches taken",
        cov.steps, cov.arms
    );
    for s in &cov.unreached {
        let (at, _) = place(c, &program.steps[*s].loc);
        let _ = writeln!(out, "  not reached: {} ({at})", step_label(&program, *s));
    }
    for (s, arm) in &cov.untaken {
        let (at, _) = place(c, &program.steps[*s].loc);
        let name = program.steps[*s]
            .arms
            .get(*arm as usize)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  branch not taken: {} → {name} ({at})",
            step_label(&program, *s)
        );
    }
    let passed = outcomes.len() - failed.len();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let _ = writeln!(
        out,
        "\ntest result: {}. {passed} passed; {} failed; finished in {ms:.1} ms\n{passed} passed, {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        failed.len()
    );
    let undelivered = match plugins {
        Some(routing) => deliver(c, routing, &outcomes, &mut out)?,
        None => 0,
    };
    crate::out(&out);
    if failed.is_empty() && undelivered == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// Delivers each test's sends through the plugins (a fresh dispatcher per test, so that a
/// failure names its test), appends the summary and the failures to `out`, and returns how
/// many sends were failed permanently or dead-lettered.
fn deliver(
    c: &Compilation,
    routing: &Routing,
    outcomes: &[TestOutcome],
    out: &mut String,
) -> anyhow::Result<usize> {
    let mut totals = Totals::default();
    let mut problems = Vec::new();
    for o in outcomes {
        let mut d = routing.dispatcher()?;
        for send in &o.sends {
            d.submit(send);
        }
        d.flush();
        totals.add(&d);
        let (at, _) = place(c, &o.loc);
        for f in d.failures() {
            problems.push(format!(
                "test {} ({at}): channel `{}`: {} failed the message: {}",
                o.name, f.message.channel, f.plugin, f.reason
            ));
        }
        for dead in d.dead_letters() {
            problems.push(format!(
                "test {} ({at}): channel `{}`: {} dead-lettered the message after {} attempt{}: {}",
                o.name,
                dead.message.channel,
                dead.plugin,
                dead.attempts,
                if dead.attempts == 1 { "" } else { "s" },
                dead.reason
            ));
        }
    }
    out.push_str(&routing.text(&totals));
    if !problems.is_empty() {
        let _ = writeln!(
            out,
            "
delivery failures:"
        );
        for p in &problems {
            let _ = writeln!(out, "  {p}");
        }
        let _ = writeln!(
            out,
            "
deliveries: FAILED. {} message{} not delivered",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
    }
    Ok(problems.len())
}
