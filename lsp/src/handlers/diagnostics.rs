//! Compiler diagnostics as LSP diagnostics: the code (`E0201`) with a link to its explanation
//! in the language reference, `journey` as the source, secondary labels as related
//! information, the primary label, notes and help appended to the message.

use journey_bytecode::FileId;
use journey_compiler::{Diagnostic, Severity};
use tower_lsp_server::ls_types::{
    CodeDescription, Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity,
    DiagnosticTag, NumberOrString, Uri,
};

use crate::state::Analysis;

/// The LSP diagnostics of one file of an analysis.
pub fn for_file(analysis: &Analysis, file: FileId, docs_url: &str) -> Vec<LspDiagnostic> {
    analysis
        .compilation
        .diagnostics
        .iter()
        .filter(|d| d.primary.file == file)
        .filter_map(|d| to_lsp(analysis, d, docs_url))
        .collect()
}

/// The anchor of a code's section in the language reference (`e0201-unknown-name`).
pub fn anchor(code: &str, name: &str) -> String {
    format!("{}-{}", code.to_ascii_lowercase(), name)
}

/// The link to a code's explanation: `docs_url` (the reference, `…/language.md`) and the
/// code's anchor.
pub fn explanation_link(docs_url: &str, code: &str, name: &str) -> Option<Uri> {
    format!("{docs_url}#{}", anchor(code, name)).parse().ok()
}

/// Converts one diagnostic; `None` if its file has no URI.
pub fn to_lsp(analysis: &Analysis, d: &Diagnostic, docs_url: &str) -> Option<LspDiagnostic> {
    let lines = analysis.lines(d.primary.file)?;
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() && d.primary.message != d.message {
        message.push_str(&format!("\n{}", d.primary.message));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: analysis.location(l.file, l.span)?,
                message: l.message.clone(),
            })
        })
        .collect();
    let tags = (d.code.name == "unreachable-step").then(|| vec![DiagnosticTag::UNNECESSARY]);
    Some(LspDiagnostic {
        range: lines.range(d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.code.to_string())),
        code_description: explanation_link(docs_url, d.code.code, d.code.name)
            .map(|href| CodeDescription { href }),
        source: Some("journey".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags,
        data: None,
    })
}
