//! Formatting: the same formatter as `journey fmt` (`journey_grammar::format::format`), as
//! one edit replacing the whole document. A document that does not parse is left alone.

use tower_lsp_server::ls_types::TextEdit;

use crate::state::DocSnapshot;

/// The edits formatting a document: none when it is already formatted; an error message when
/// the formatter refuses it (a syntax error).
pub fn format(snap: &DocSnapshot) -> Result<Vec<TextEdit>, String> {
    let text = snap.text();
    let formatted = journey_grammar::format::format(text).map_err(|e| e.to_string())?;
    if formatted == text {
        return Ok(Vec::new());
    }
    let lines = snap.current.lines().ok_or("the document is not analysed")?;
    Ok(vec![TextEdit::new(lines.full_range(), formatted)])
}
