//! Rename: the declaration and every reference, across the files of the project, after
//! checking that the new name is a name the grammar accepts in that place.

use std::collections::HashMap;

use journey_compiler::index::DefKind;
use tower_lsp_server::ls_types::{Position, PrepareRenameResponse, TextEdit, Uri, WorkspaceEdit};

use crate::handlers::{def_at, location, offset, word_at};
use crate::state::DocSnapshot;

/// The range of the name that would be renamed, with the name as placeholder.
pub fn prepare(snap: &DocSnapshot, pos: Position) -> Option<PrepareRenameResponse> {
    let target = def_at(snap, pos)?;
    let def = target.definition()?;
    if def.kind == DefKind::Test {
        return None;
    }
    let at = offset(snap, pos)?;
    let span = word_at(snap.text(), at)?;
    Some(PrepareRenameResponse::RangeWithPlaceholder {
        range: snap.current.lines()?.range(span),
        placeholder: def.name.clone(),
    })
}

/// The edits renaming the name at a position to `new_name`, or why it cannot be done.
pub fn rename(snap: &DocSnapshot, pos: Position, new_name: &str) -> Result<WorkspaceEdit, String> {
    let target = def_at(snap, pos).ok_or("there is no name to rename here")?;
    let def = target
        .definition()
        .ok_or("there is no name to rename here")?;
    if def.kind == DefKind::Test {
        return Err("a test is named by its description; edit the string instead".into());
    }
    check_name(def.kind, new_name)?;
    let index = &target.view.compilation().index;
    let mut spans: Vec<_> = index
        .references_to(target.def)
        .map(|r| (r.file, r.span))
        .collect();
    spans.push((def.file, def.span));
    spans.sort();
    spans.dedup();
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (file, span) in spans {
        if let Some(loc) = location(snap, &target.view, file, span) {
            changes
                .entry(loc.uri)
                .or_default()
                .push(TextEdit::new(loc.range, new_name.to_string()));
        }
    }
    Ok(WorkspaceEdit::new(changes))
}

/// Whether `name` can replace a name of this kind: a word for attributes, properties and
/// parameters (`name` in the grammar), a word that is not reserved for declarations
/// (`ident`). The grammar itself decides, by parsing a small declaration.
pub fn check_name(kind: DefKind, name: &str) -> Result<(), String> {
    let probe = match kind {
        DefKind::Attribute | DefKind::Property | DefKind::Parameter => {
            format!("profile {{ {name}: string }}")
        }
        _ => format!("segment {name} = true"),
    };
    let parsed = journey_grammar::parse(&probe);
    let ok = parsed.errors.is_empty()
        && parsed.file.items.len() == 1
        && !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid name here"))
    }
}
