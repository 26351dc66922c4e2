//! Code actions: the compiler's machine-applicable fixes ("did you mean `signup`?", "add
//! `import \"schema.journey\"`") as quick fixes on the diagnostics they belong to.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit,
};

use crate::handlers::diagnostics;
use crate::state::DocSnapshot;

/// The quick fixes for the diagnostics of the document that touch `range`.
pub fn code_actions(snap: &DocSnapshot, range: Range, docs_url: &str) -> Vec<CodeActionOrCommand> {
    let cur = &snap.current;
    let analysis = &cur.analysis;
    let Some(lines) = cur.lines() else {
        return Vec::new();
    };
    let wanted = lines.span(range);
    let mut out = Vec::new();
    for d in &analysis.compilation.diagnostics {
        if d.primary.file != cur.file {
            continue;
        }
        let span = d.primary.span;
        if span.end < wanted.start || span.start > wanted.end {
            continue;
        }
        let Some(fix) = &d.fix else { continue };
        let Some(loc) = analysis.location(fix.file, fix.span) else {
            continue;
        };
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        changes.insert(
            loc.uri,
            vec![TextEdit::new(loc.range, fix.replacement.clone())],
        );
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: fix.title.clone(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: diagnostics::to_lsp(analysis, d, docs_url).map(|d| vec![d]),
            edit: Some(WorkspaceEdit::new(changes)),
            command: None,
            is_preferred: Some(true),
            disabled: None,
            data: None,
        }));
    }
    out
}
