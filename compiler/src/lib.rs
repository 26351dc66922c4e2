//! The journey compiler.
//!
//! One entry point, [`compile`]: sources in (through a [`SourceHost`]), a [`Compilation`]
//! out, holding the program (when there is no error), every diagnostic, the loaded sources,
//! an [`Index`] of definitions and references for editors, and the project's channel
//! [`Plugins`] (where their manifests and components are). Pure: no IO, no printing,
//! no panics. The CLI, the language server, hot reload and the tests all call it.
//!
//! Passes, in order: [`load`] (parse, follow imports), [`plugins`] (read the plugin
//! manifests `journey.toml` names), `collect` (ids for every name, schemas),
//! `compile_decls` (segments, channels and templates, checked against their plugin's
//! manifest, offers, policies),
//! `compile_journeys`, `compile_tests`, `post_checks` (cycles, template scopes, consent).
//! Checking and code generation happen in the same walk; diagnostics accumulate in a sink.

pub mod codes;
mod ctx;
mod decls;
pub mod diagnostic;
mod expr;
pub mod index;
mod journey;
pub mod load;
pub mod manifest;
pub mod plugins;
mod post;
pub mod render;
pub mod source;
mod tests_block;
pub mod types;

pub use codes::{Code, Severity};
pub use diagnostic::{Diagnostic, Fix, Label};
pub use index::Index;
pub use journey_bytecode::Program;
pub use plugins::{Plugin, Plugins};
pub use source::{Input, MemoryHost, ParseCache, SourceHost, SourceMap};

use diagnostic::Sink;

/// The version written into programs.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The result of a compilation.
#[derive(Debug)]
pub struct Compilation {
    /// The program, if there was no error.
    pub program: Option<Program>,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The loaded files.
    pub sources: SourceMap,
    /// Definitions and references.
    pub index: Index,
    /// The plugins of `journey.toml`'s `[plugins]` table, by name: the manifest and
    /// component paths (project-relative, as the host reads them) and the manifests that
    /// were read. The CLI and the runtime find the components here.
    pub plugins: Plugins,
}

impl Compilation {
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| !d.is_error()).count()
    }
}

/// Compiles a project.
pub fn compile(host: &dyn SourceHost, input: &Input) -> Compilation {
    let mut sink = Sink::default();
    let mut loaded = load::load(host, input, &mut sink);
    let (name, timezone, plugin_table) = project_settings(&loaded, input, &mut sink);
    let plugins = plugins::load(host, input, &mut loaded, plugin_table.as_ref(), &mut sink);
    let mut ctx = ctx::Ctx::new(&loaded, &plugins, &mut sink);
    ctx.collect();
    ctx.compile_decls();
    ctx.compile_journeys();
    ctx.compile_tests();
    ctx.post_checks();
    let mut program = std::mem::take(&mut ctx.p);
    let index = std::mem::take(&mut ctx.index);
    drop(ctx);
    program.meta.project = name;
    program.meta.default_timezone = timezone;
    program.meta.compiler = COMPILER_VERSION.to_string();
    let mut hash = xxhash_rust::xxh3::Xxh3::new();
    for (_, f) in loaded.sources.files.iter() {
        hash.update(f.path.as_bytes());
        hash.update(&[0]);
        hash.update(f.text.as_bytes());
        hash.update(&[0]);
    }
    program.meta.source_hash = hash.digest();
    for (_, f) in loaded.sources.files.iter() {
        program.files.push(journey_bytecode::SourceFile {
            path: f.path.clone(),
        });
    }
    let ok = sink.errors() == 0;
    Compilation {
        program: ok.then_some(program),
        diagnostics: sink.finish(),
        sources: loaded.sources,
        index,
        plugins,
    }
}

/// The `[plugins]` table of the manifest, if it has one.
type PluginTable = Option<std::collections::BTreeMap<String, manifest::PluginSection>>;

fn project_settings(
    loaded: &load::Loaded,
    input: &Input,
    sink: &mut Sink,
) -> (String, String, PluginTable) {
    let mut name = input.default_name.clone();
    let mut tz = "UTC".to_string();
    let mut plugins = None;
    if let Some(m) = loaded.manifest {
        let text = loaded.sources.files[m].text.clone();
        match manifest::parse(&text) {
            Ok(man) => {
                plugins = man.plugins;
                name = man.project.name;
                if jiff::tz::TimeZone::get(&man.project.timezone).is_err() {
                    let span = text
                        .find(&format!("\"{}\"", man.project.timezone))
                        .map(|s| {
                            journey_grammar::ast::Span::new(s, s + man.project.timezone.len() + 2)
                        })
                        .unwrap_or_default();
                    sink.push(
                        Diagnostic::new(
                            &codes::INVALID_TIMEZONE,
                            m,
                            span,
                            format!("`{}` is not a known time zone", man.project.timezone),
                        )
                        .help("use a name such as `Europe/Paris`"),
                    );
                } else {
                    tz = man.project.timezone;
                }
            }
            Err((msg, range)) => {
                let span = range
                    .map(|r| journey_grammar::ast::Span::new(r.start, r.end))
                    .unwrap_or_default();
                sink.push(
                    Diagnostic::new(&codes::INVALID_MANIFEST, m, span, format!("invalid manifest: {}", msg.trim()))
                        .help("the manifest has a `[project]` table with `name` and optionally `timezone`, `version`, `description`; optional `[plugins.NAME]` tables hold `manifest` and `component`"),
                );
            }
        }
    }
    (name, tz, plugins)
}
