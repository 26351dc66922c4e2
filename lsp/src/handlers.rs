//! One module per LSP feature. Each handler is a plain function from a [`DocSnapshot`] (and
//! the request's parameters) to LSP data, so tests call them directly without a protocol.
//!
//! Names are looked up in the current analysis first; where the text under the cursor no
//! longer parses, in the last analysis without syntax errors, with offsets mapped across the
//! edit (see [`crate::line_index::map_offset`]).

pub mod code_action;
pub mod completion;
pub mod definition;
pub mod diagnostics;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod references;
pub mod rename;
pub mod semantic_tokens;
pub mod symbols;

use journey_bytecode::FileId;
use journey_compiler::index::Definition;
use journey_grammar::ast::Span;
use tower_lsp_server::ls_types::{Location, Position};

use crate::line_index::map_offset;
use crate::state::{DocSnapshot, FileView};

/// A definition found under the cursor, in the analysis that knows it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The analysis (current or last good).
    pub view: FileView,
    /// Index into the analysis' `index.defs`.
    pub def: u32,
}

impl Target {
    /// The definition.
    pub fn definition(&self) -> Option<&Definition> {
        self.view.compilation().index.defs.get(self.def as usize)
    }
}

/// The byte offset of a position in the document's current text.
pub fn offset(snap: &DocSnapshot, pos: Position) -> Option<u32> {
    Some(snap.current.lines()?.offset(pos))
}

/// The definition named at a position (a reference or the declaration itself).
pub fn def_at(snap: &DocSnapshot, pos: Position) -> Option<Target> {
    let offset = offset(snap, pos)?;
    let cur = &snap.current;
    if let Some(def) = cur.compilation().index.at(cur.file, offset) {
        return Some(Target {
            view: cur.clone(),
            def,
        });
    }
    if snap.syntax_ok() {
        return None;
    }
    let (good, mapped) = snap.good_at(offset)?;
    let def = good.compilation().index.at(good.file, mapped)?;
    Some(Target {
        view: good.clone(),
        def,
    })
}

/// The LSP location of a span of `file` in `view`'s analysis. When `view` is the last good
/// analysis and `file` is the document itself, the span is mapped to the current text (and
/// dropped if it lies in the region edited since).
pub fn location(snap: &DocSnapshot, view: &FileView, file: FileId, span: Span) -> Option<Location> {
    let stale = !std::sync::Arc::ptr_eq(&view.analysis, &snap.current.analysis);
    if stale && file == view.file {
        let (old, new) = (view.text(), snap.current.text());
        let start = map_offset(new, old, span.start)?;
        let end = map_offset(new, old, span.end)?;
        let lines = snap.current.lines()?;
        return Some(Location::new(
            snap.uri.clone(),
            lines.range(Span { start, end }),
        ));
    }
    view.analysis.location(file, span)
}

/// The span of the word (name) touching `offset` in `text`.
pub fn word_at(text: &str, offset: u32) -> Option<Span> {
    let offset = (offset as usize).min(text.len());
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let before = text.get(..offset)?;
    let after = text.get(offset..)?;
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = offset
        + after
            .char_indices()
            .find(|&(_, c)| !is_word(c))
            .map_or(after.len(), |(i, _)| i);
    (end > start).then(|| Span::new(start, end))
}
