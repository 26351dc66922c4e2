//! Find references: every use of the name at a position, in every file of the project.

use tower_lsp_server::ls_types::{Location, Position};

use crate::handlers::{def_at, location};
use crate::state::DocSnapshot;

/// The references to the name at a position, with its declaration when asked; in file order,
/// then position.
pub fn references(snap: &DocSnapshot, pos: Position, include_declaration: bool) -> Vec<Location> {
    let Some(target) = def_at(snap, pos) else {
        return Vec::new();
    };
    let Some(def) = target.definition() else {
        return Vec::new();
    };
    let index = &target.view.compilation().index;
    let mut spans: Vec<_> = index
        .references_to(target.def)
        .map(|r| (r.file, r.span))
        .collect();
    if include_declaration {
        spans.push((def.file, def.span));
    }
    spans.sort();
    spans.dedup();
    spans
        .into_iter()
        .filter_map(|(file, span)| location(snap, &target.view, file, span))
        .collect()
}
