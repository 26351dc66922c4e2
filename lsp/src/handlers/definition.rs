//! Go to definition: from a reference (or the declaration itself) to the declared name.

use tower_lsp_server::ls_types::{Location, Position};

use crate::handlers::{def_at, location};
use crate::state::DocSnapshot;

/// Where the name at a position is declared.
pub fn definition(snap: &DocSnapshot, pos: Position) -> Option<Location> {
    let target = def_at(snap, pos)?;
    let def = target.definition()?;
    location(snap, &target.view, def.file, def.span)
}
