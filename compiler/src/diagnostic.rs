//! Diagnostics as data: code, severity, primary label, secondary labels, notes, help and an
//! optional machine-applicable fix. The CLI renders them with ariadne (`render.rs`), the
//! language server maps them to LSP diagnostics; nothing else formats them.

use journey_bytecode::FileId;
use journey_grammar::ast::Span;
use serde::Serialize;

use crate::codes::{Code, Severity};

/// A located message about the sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// The stable code.
    pub code: &'static Code,
    /// Error or warning.
    pub severity: Severity,
    /// The headline.
    pub message: String,
    /// Where the problem is.
    pub primary: Label,
    /// Related places.
    pub labels: Vec<Label>,
    /// Extra facts.
    pub notes: Vec<String>,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// A replacement that fixes it, for editors' quick fixes.
    pub fix: Option<Fix>,
}

/// A span in a file with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// The file.
    #[serde(serialize_with = "ser_file")]
    pub file: FileId,
    /// The bytes.
    pub span: Span,
    /// What it says about them.
    pub message: String,
}

/// Replace `span` in `file` with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The file.
    #[serde(serialize_with = "ser_file")]
    pub file: FileId,
    /// The bytes replaced.
    pub span: Span,
    /// The new text.
    pub replacement: String,
    /// A short title ("replace with `jeune`").
    pub title: String,
}

fn ser_file<S: serde::Serializer>(file: &FileId, s: S) -> Result<S::Ok, S::Error> {
    use cranelift_entity::EntityRef;
    s.serialize_u32(file.index() as u32)
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(
        code: &'static Code,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity,
            message: message.into(),
            primary: Label {
                file,
                span,
                message: String::new(),
            },
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            fix: None,
        }
    }

    /// Sets the primary label's message.
    pub fn primary_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Adds a secondary label.
    pub fn label(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line if there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Attaches a fix.
    pub fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Where diagnostics accumulate during a compilation.
#[derive(Debug, Default)]
pub struct Sink {
    diagnostics: Vec<Diagnostic>,
    errors: usize,
}

impl Sink {
    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
        }
        self.diagnostics.push(d);
    }
    /// Number of errors so far.
    pub fn errors(&self) -> usize {
        self.errors
    }
    /// All diagnostics, sorted by file and position.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        use cranelift_entity::EntityRef;
        self.diagnostics.sort_by_key(|d| {
            (
                d.primary.file.index(),
                d.primary.span.start,
                d.primary.span.end,
            )
        });
        self.diagnostics.dedup();
        self.diagnostics
    }
}

/// A diagnostic as JSON for tools (`journey check --format json`): file paths, 1-based
/// lines and columns (in characters), labels, notes, help and fix.
pub fn to_json(d: &Diagnostic, sources: &crate::source::SourceMap) -> serde_json::Value {
    let place = |file: FileId, span: Span| {
        let start = sources.loc(file, span);
        let end = sources.loc(
            file,
            Span {
                start: span.end,
                end: span.end,
            },
        );
        serde_json::json!({
            "file": sources.files.get(file).map(|f| f.path.clone()).unwrap_or_default(),
            "start": span.start, "end": span.end,
            "line": start.line, "column": start.col,
            "end_line": end.line, "end_column": end.col,
        })
    };
    let mut primary = place(d.primary.file, d.primary.span);
    primary["message"] = d.primary.message.clone().into();
    serde_json::json!({
        "code": d.code.code,
        "name": d.code.name,
        "severity": d.severity,
        "message": d.message,
        "primary": primary,
        "labels": d.labels.iter().map(|l| {
            let mut v = place(l.file, l.span);
            v["message"] = l.message.clone().into();
            v
        }).collect::<Vec<_>>(),
        "notes": d.notes,
        "help": d.help,
        "fix": d.fix.as_ref().map(|f| {
            let mut v = place(f.file, f.span);
            v["replacement"] = f.replacement.clone().into();
            v["title"] = f.title.clone().into();
            v
        }),
    })
}
