//! `journey`: the command line of the journey language.

mod deliveries;
mod fmt;
mod plugin;
mod project;
mod scaffold;
mod simulate;
mod testing;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use journey_compiler::{Compilation, codes, compile, render};

/// mimalloc (version 2) rather than the system allocator: the engine allocates and frees
/// many small blocks per event; the figures behind the choice are in ARCHITECTURE.md
/// (runtime), measured with the engine benchmark, which uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "journey",
    version,
    about = "Customer journeys as code: check, build, inspect."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    /// Human-readable, coloured on a terminal.
    Text,
    /// One JSON document, for tools.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check a project directory or a file and report every problem.
    Check {
        /// A project directory or a `.journey` file.
        path: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Compile a project to bytecode.
    Build {
        /// A project directory or a `.journey` file.
        path: PathBuf,
        /// Where to write the bytecode (default: `<project>.jbc` in the project directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print the bytecode of a `.jbc` file, or of a project compiled on the fly.
    Disasm {
        /// A `.jbc` file, a project directory or a `.journey` file.
        path: PathBuf,
    },
    /// Run the `test` blocks of a project on a virtual clock, with branch coverage.
    Test {
        /// A project directory or a `.journey` file (default: the current directory).
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Show every decision of failing tests.
        #[arg(long)]
        explain: bool,
        /// Also deliver each test's sends through the channel plugins of journey.toml's
        /// `[plugins]` (their `component`), against a local server; a message a plugin
        /// fails or dead-letters fails the run.
        #[arg(long)]
        plugins: bool,
    },
    /// Simulate a population of customers through the journeys and report what happened, per
    /// journey, step, channel and template (docs/simulate.md).
    Simulate {
        /// A project directory or a `.journey` file (default: the current directory).
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Customers of the synthetic population.
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        /// Days to simulate.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Seed of the population and event models: the same seed gives the same report.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First simulated day (local date in the project's time zone).
        #[arg(long, default_value = "2027-01-01")]
        start: String,
        /// Profiles to use instead of the synthetic population (JSON lines:
        /// `{"id": "C-1", "age": 34, ...}`).
        #[arg(long, value_name = "FILE.jsonl")]
        profiles: Option<PathBuf>,
        /// Events to use instead of the event model (JSON lines: `{"customer": "C-1",
        /// "event": "signup", "at": "2027-01-04 09:00", ...}`).
        #[arg(long, value_name = "FILE.jsonl")]
        events: Option<PathBuf>,
        /// Print this customer's path, with the reasons and source lines, instead of the report.
        #[arg(long, value_name = "CUSTOMER_ID")]
        explain: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Deliver every send through the channel plugins of journey.toml's `[plugins]`
        /// (their `component`), against a local server, and report the deliveries.
        #[arg(long)]
        plugins: bool,
        /// With `--plugins`: the most messages handed to a plugin in one call (the sends due
        /// at one instant on one channel go together; default 32; 1 makes one call per
        /// message).
        #[arg(long, value_name = "N", requires = "plugins", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: Option<u32>,
    },
    /// Channel plugins: create one, check a component, deliver a test message through it.
    Plugin {
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
    /// Rewrite `.journey` files in the canonical layout (`--check`: only report, for CI).
    Fmt {
        /// Files or directories (every `.journey` file under them); default: the current directory.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Write nothing; list the files that are not formatted and fail if there is one.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server (LSP) on standard input/output, for editors.
    Lsp {
        /// Talk over standard input/output (the only transport; accepted because editor
        /// clients such as vscode-languageclient pass it).
        #[arg(long)]
        stdio: bool,
    },
    /// Explain a diagnostic code (`E0201` or `unknown-name`); without a code, list them all.
    Explain {
        /// The code.
        code: Option<String>,
    },
}

/// Prints to standard output; a closed pipe (`journey ... | head`) ends the output quietly.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { path, format } => {
            let (c, _) = compile_path(&path)?;
            report(&c, format);
            Ok(status(&c))
        }
        Command::Build {
            path,
            output,
            format,
        } => {
            let (c, root) = compile_path(&path)?;
            report(&c, format);
            let Some(program) = &c.program else {
                return Ok(ExitCode::FAILURE);
            };
            let bytes = journey_bytecode::encode(program);
            let out = output.unwrap_or_else(|| root.join(format!("{}.jbc", program.meta.project)));
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write `{}`", out.display()))?;
            if format == Format::Text {
                eprintln!(
                    "built `{}`: {} journeys, {} steps, {} instructions, {} bytes",
                    out.display(),
                    program.journeys.len(),
                    program.steps.len(),
                    program.code.len(),
                    bytes.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Disasm { path } => {
            let program = if path.extension().is_some_and(|e| e == "jbc") {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                journey_bytecode::decode(&bytes)
                    .with_context(|| format!("cannot load `{}`", path.display()))?
            } else {
                let (c, _) = compile_path(&path)?;
                report(&c, Format::Text);
                match c.program {
                    Some(p) => p,
                    None => return Ok(ExitCode::FAILURE),
                }
            };
            out(&journey_bytecode::disasm::disassemble(&program));
            Ok(ExitCode::SUCCESS)
        }
        Command::Test {
            path,
            explain,
            plugins,
        } => {
            let Some((c, program, root)) = runnable(&path)? else {
                return Ok(ExitCode::FAILURE);
            };
            let routing = if plugins {
                Some(deliveries::Routing::load(&c, program.clone(), &root)?)
            } else {
                None
            };
            testing::run(&c, program, explain, routing.as_ref())
        }
        Command::Simulate {
            path,
            customers,
            days,
            seed,
            start,
            profiles,
            events,
            explain,
            format,
            plugins,
            batch_size,
        } => {
            let Some((c, program, root)) = runnable(&path)? else {
                return Ok(ExitCode::FAILURE);
            };
            let plugins = if plugins {
                let mut routing = deliveries::Routing::load(&c, program.clone(), &root)?;
                if let Some(n) = batch_size {
                    routing.set_batch_size(n as usize);
                }
                Some(routing)
            } else {
                None
            };
            let args = simulate::Args {
                customers,
                days,
                seed,
                start,
                profiles,
                events,
                explain,
                format,
                plugins,
            };
            simulate::run(&c, program, args)
        }
        Command::Plugin { command } => Ok(plugin::run(command)),
        Command::Fmt { paths, check } => fmt::run(&paths, check),
        Command::Lsp { stdio: _ } => {
            // Logs go to standard error; standard output carries the protocol.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the language server's runtime")?;
            runtime.block_on(journey_lsp::run_stdio());
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { code } => match code {
            Some(q) => match codes::lookup(&q) {
                Some(c) => {
                    out(&format!(
                        "{} {} ({:?}): {}\n\n{}\n",
                        c.code, c.name, c.severity, c.summary, c.explanation
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no diagnostic code `{q}`; `journey explain` lists them");
                    Ok(ExitCode::from(2))
                }
            },
            None => {
                let list: String = codes::ALL
                    .iter()
                    .map(|c| format!("{}  {:<28} {}\n", c.code, c.name, c.summary))
                    .collect();
                out(&list);
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

/// A compiled project ready to run, with its root directory.
type Runnable = (
    Compilation,
    std::sync::Arc<journey_bytecode::Program>,
    PathBuf,
);

/// Compiles a project to run it (`test`, `simulate`); on errors, reports them and gives `None`.
fn runnable(path: &Path) -> Result<Option<Runnable>> {
    let (c, root) = compile_path(path)?;
    match c.program.clone() {
        Some(p) if c.error_count() == 0 => Ok(Some((c, std::sync::Arc::new(p), root))),
        _ => {
            report(&c, Format::Text);
            Ok(None)
        }
    }
}

fn compile_path(path: &Path) -> Result<(Compilation, PathBuf)> {
    let project = project::open(path)?;
    for root in &project.input.roots {
        if !project.host.root.join(root).is_file() {
            anyhow::bail!("cannot read `{}`", project.host.root.join(root).display());
        }
    }
    let c = compile(&project.host, &project.input);
    Ok((c, project.host.root))
}

fn report(c: &Compilation, format: Format) {
    match format {
        Format::Text => {
            let color = std::io::stderr().is_terminal();
            eprint!("{}", render::render(&c.diagnostics, &c.sources, color));
            let (e, w) = (c.error_count(), c.warning_count());
            let files = c
                .sources
                .files
                .values()
                .filter(|f| f.path.ends_with(".journey"))
                .count();
            if e == 0 && w == 0 {
                eprintln!(
                    "checked {files} file{}: no problems",
                    if files == 1 { "" } else { "s" }
                );
            } else {
                eprintln!(
                    "checked {files} file{}: {e} error{}, {w} warning{}",
                    if files == 1 { "" } else { "s" },
                    plural(e),
                    plural(w)
                );
            }
        }
        Format::Json => {
            let v = serde_json::json!({
                "errors": c.error_count(),
                "warnings": c.warning_count(),
                "diagnostics": c.diagnostics.iter().map(|d| journey_compiler::diagnostic::to_json(d, &c.sources)).collect::<Vec<_>>(),
            });
            out(&format!("{v:#}\n"));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn status(c: &Compilation) -> ExitCode {
    if c.error_count() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
