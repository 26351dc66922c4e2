//! Byte offsets ↔ LSP positions: the only place that does position arithmetic.
//!
//! The compiler speaks in byte offsets into UTF-8 text; LSP positions are a 0-based line and
//! a column counted in UTF-16 code units (the clients this server meets offer no other
//! position encoding, so the server announces UTF-16). An `é` is two bytes and one UTF-16
//! unit; an emoji is four bytes and two units. Every conversion clamps: a position past the
//! end of a line is the end of that line, a line past the end of the text is the end of the
//! text, an offset inside a character is moved back to the character's start. Nothing here
//! panics on any input.

use std::sync::Arc;

use journey_grammar::ast::Span;
use tower_lsp_server::ls_types::{Position, Range};

/// The line starts of one text, for converting between byte offsets and LSP positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    text: Arc<str>,
    /// Byte offset of the start of each line; the first is 0.
    line_starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes a text.
    pub fn new(text: Arc<str>) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex { text, line_starts }
    }

    /// The indexed text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// Number of lines (a text ending with a newline has an empty last line).
    pub fn line_count(&self) -> u32 {
        self.line_starts.len() as u32
    }

    /// The byte range of a line, without its line terminator (`\n` or `\r\n`).
    fn line_bounds(&self, line: usize) -> (usize, usize) {
        let len = self.text.len();
        let start = self.line_starts.get(line).map_or(len, |&s| s as usize);
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(len, |&s| s as usize - 1);
        if end > start && self.text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        (start, end.max(start))
    }

    /// The 0-based line holding a byte offset.
    pub fn line_of(&self, offset: u32) -> u32 {
        let offset = offset.min(self.text.len() as u32);
        (self.line_starts.partition_point(|&s| s <= offset) as u32).saturating_sub(1)
    }

    /// The LSP position of a byte offset (clamped to the text, moved back to a character
    /// boundary).
    pub fn position(&self, offset: u32) -> Position {
        let offset = self.floor_char_boundary(offset as usize);
        let line = self.line_of(offset as u32) as usize;
        let (start, end) = self.line_bounds(line);
        let upto = offset.clamp(start, end);
        let character = self
            .text
            .get(start..upto)
            .map_or(0, |s| s.chars().map(char::len_utf16).sum::<usize>());
        Position::new(line as u32, character as u32)
    }

    /// The byte offset of an LSP position, clamped: a column past the end of its line is the
    /// end of the line, a column inside a surrogate pair is the start of that character, and a
    /// line past the end of the text is the end of the text.
    pub fn offset(&self, position: Position) -> u32 {
        let line = position.line as usize;
        if line >= self.line_starts.len() {
            return self.text.len() as u32;
        }
        let (start, end) = self.line_bounds(line);
        let Some(line_text) = self.text.get(start..end) else {
            return start as u32;
        };
        let mut units = 0usize;
        for (i, c) in line_text.char_indices() {
            let next = units + c.len_utf16();
            if next > position.character as usize {
                return (start + i) as u32;
            }
            units = next;
        }
        end as u32
    }

    /// The LSP range of a byte span.
    pub fn range(&self, span: Span) -> Range {
        Range::new(
            self.position(span.start),
            self.position(span.end.max(span.start)),
        )
    }

    /// The byte span of an LSP range (start and end clamped, end never before start).
    pub fn span(&self, range: Range) -> Span {
        let start = self.offset(range.start);
        let end = self.offset(range.end).max(start);
        Span { start, end }
    }

    /// The byte offset where a line starts (the end of the text past the last line).
    pub fn line_start(&self, line: u32) -> u32 {
        self.line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len() as u32)
    }

    /// The last byte offset at or before `offset` that starts a character.
    fn floor_char_boundary(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while o > 0 && !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// The range covering the whole text.
    pub fn full_range(&self) -> Range {
        Range::new(Position::new(0, 0), self.position(self.text.len() as u32))
    }
}

/// Maps a byte offset of `new` to the corresponding offset of `old`, when the two texts differ
/// by one changed region (what an edit does): offsets in the common prefix stay, offsets in
/// the common suffix shift, offsets inside the changed region have no counterpart.
///
/// Used to ask the last analysis without syntax errors about the text being typed.
pub fn map_offset(old: &str, new: &str, offset: u32) -> Option<u32> {
    let offset = offset as usize;
    if offset > new.len() {
        return None;
    }
    let (ob, nb) = (old.as_bytes(), new.as_bytes());
    let mut prefix = ob.iter().zip(nb).take_while(|(a, b)| a == b).count();
    while prefix > 0 && !(old.is_char_boundary(prefix) && new.is_char_boundary(prefix)) {
        prefix -= 1;
    }
    let max_suffix = ob.len().min(nb.len()) - prefix;
    let suffix = ob
        .iter()
        .rev()
        .zip(nb.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    if offset <= prefix {
        Some(offset as u32)
    } else if offset >= nb.len() - suffix {
        Some((offset + ob.len() - nb.len()) as u32)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(s: &str) -> LineIndex {
        LineIndex::new(Arc::from(s))
    }

    #[test]
    fn ascii_round_trip() {
        let li = idx("ab\ncd\n");
        assert_eq!(li.position(0), Position::new(0, 0));
        assert_eq!(li.position(4), Position::new(1, 1));
        assert_eq!(li.position(6), Position::new(2, 0));
        assert_eq!(li.offset(Position::new(1, 1)), 4);
        assert_eq!(li.offset(Position::new(1, 99)), 5);
        assert_eq!(li.offset(Position::new(9, 0)), 6);
    }

    #[test]
    fn utf16_columns() {
        // `é` is 2 bytes / 1 unit, `😀` 4 bytes / 2 units.
        let li = idx("journey café😀x {\n");
        let x = "journey café😀".len() as u32;
        assert_eq!(li.position(x), Position::new(0, 14));
        assert_eq!(li.offset(Position::new(0, 14)), x);
        // Inside the surrogate pair: the start of the emoji.
        assert_eq!(li.offset(Position::new(0, 13)), x - 4);
        // Inside `é` (byte 10): back to its start.
        assert_eq!(li.position(11), Position::new(0, 11));
    }

    #[test]
    fn crlf_lines() {
        let li = idx("a\r\nbé\r\n");
        assert_eq!(li.offset(Position::new(0, 5)), 1);
        assert_eq!(li.position(6), Position::new(1, 2));
        // Inside `é`: its start.
        assert_eq!(li.position(5), Position::new(1, 1));
        assert_eq!(li.offset(Position::new(1, 9)), 6);
    }

    #[test]
    fn mapping_offsets_across_an_edit() {
        let old = "segment jeune = profile.age < 26\n";
        let new = "segment jeune = profile.aXYZ < 26\n";
        assert_eq!(map_offset(old, new, 3), Some(3));
        assert_eq!(map_offset(old, new, 30), Some(29));
        assert_eq!(map_offset(old, new, 26), None);
        assert_eq!(map_offset(old, new, 99), None);
    }
}
