//! Parsing with recovery.
//!
//! pest stops at the first error. To report every broken declaration of a file, a file that
//! fails to parse is cut into chunks at lines that start, in column 0, with a top-level
//! keyword (doc comments above such a line go with it), and each chunk is parsed on its own.
//! The formatter puts every declaration in column 0, so this matches how files are written.
//!
//! The same cut serves the language server, which parses a file again after every keystroke:
//! [`Reparser`] keeps the tree of each chunk by its text and parses only the chunks whose text
//! changed, moving the trees of the others to their new offsets.

use std::collections::HashMap;

use pest::Parser;

use crate::lower::Lowerer;
use crate::shift::Shift;
use crate::{JourneyParser, Parsed, Rule, SyntaxError};

const ITEM_KEYWORDS: &[&str] = &[
    "import", "profile", "event", "segment", "channel", "template", "offer", "policy", "journey",
    "test",
];

/// Parses one file. Never fails: errors are returned alongside the declarations that parsed.
pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    if let Some(e) = too_deep(text) {
        parsed.errors.push(e);
        return parsed;
    }
    match parse_chunk(text, 0, true, &mut parsed) {
        Ok(()) => {}
        Err(_) => {
            parsed = Parsed::default();
            let bounds = chunk_starts(text);
            for (i, &start) in bounds.iter().enumerate() {
                let end = bounds.get(i + 1).copied().unwrap_or(text.len());
                if let Some(chunk) = text.get(start..end)
                    && let Err(e) = parse_chunk(chunk, start, end == text.len(), &mut parsed)
                {
                    parsed.errors.push(e);
                }
            }
        }
    }
    parsed.errors.sort_by_key(|e| e.span);
    parsed
}

/// Parses successive versions of one file, reusing the trees of unchanged declarations.
///
/// The result of [`Reparser::parse`] is always what [`parse`] gives for the same text; only
/// the work differs. The file is cut into declarations as recovery cuts it; a declaration
/// whose text was in the previous version is not parsed again: its tree is moved out of the
/// previous result and its spans shifted to its new offset. When every declaration parses,
/// their concatenation is the file's parse. When one does not, the text from that chunk to
/// the end is parsed as a whole, as [`parse`] would (a cut may have fallen inside a
/// declaration); recovery's result is used only if that fails, which costs little since pest
/// stops at the error. Declarations not in the latest version are forgotten.
#[derive(Debug, Default, Clone)]
pub struct Reparser {
    /// The text of the latest version.
    text: String,
    /// Its parse.
    last: Parsed,
    /// Trees of chunks that parsed but whose text was parsed as part of a larger whole (a
    /// cut fell inside a declaration before them): kept for the next version.
    spare: Vec<crate::ast::Item>,
    /// Each chunk of the latest version by its text: where its trees are.
    chunks: HashMap<String, Chunk>,
    /// Bytes of text the latest call handed to the parser.
    bytes_parsed: usize,
}

/// Where one declaration's parse sits in the latest result.
#[derive(Debug, Clone)]
struct Chunk {
    /// Byte offset of the chunk in the latest version.
    start: u32,
    /// Its items in `Reparser::last`, or in `Reparser::spare` if `spare`.
    items: std::ops::Range<usize>,
    /// Whether `items` are in `Reparser::spare`.
    spare: bool,
    /// Its syntax errors, with spans in the latest version.
    errors: Vec<SyntaxError>,
    /// Whether it ran to the end of the file (pest reports the end of input differently).
    ends_file: bool,
    /// False if it did not parse.
    ok: bool,
}

impl Reparser {
    /// A reparser that has seen nothing yet.
    pub fn new() -> Reparser {
        Reparser::default()
    }

    /// How many bytes of text the latest [`Reparser::parse`] handed to the parser: the
    /// declarations that changed, plus the rest of the file when a cut fell inside a
    /// declaration. What the reuse saved is the file's length minus this.
    pub fn bytes_parsed(&self) -> usize {
        self.bytes_parsed
    }

    /// Parses `text`, the file's current version. Same result as [`parse`]; an unchanged
    /// text returns the latest result as it is.
    pub fn parse(&mut self, text: &str) -> &Parsed {
        self.bytes_parsed = 0;
        // The initial state is the parse of the empty text.
        if text == self.text {
            return &self.last;
        }
        self.text.clear();
        self.text.push_str(text);
        let mut old_chunks = std::mem::take(&mut self.chunks);
        let options = |items: Vec<crate::ast::Item>| -> Vec<Option<crate::ast::Item>> {
            items.into_iter().map(Some).collect()
        };
        let mut old_items = options(std::mem::take(&mut self.last.file.items));
        let mut old_spare = options(std::mem::take(&mut self.spare));
        if too_deep(text).is_some() {
            self.bytes_parsed = text.len();
            self.last = parse(text);
            return &self.last;
        }
        let bounds = chunk_starts(text);
        let mut chunks: HashMap<String, Chunk> = HashMap::with_capacity(bounds.len());
        let mut out = Parsed::default();
        // Where the first chunk that did not parse starts, with the item and error counts
        // before it.
        let mut first_bad: Option<(usize, usize, usize)> = None;
        for (i, &start) in bounds.iter().enumerate() {
            let end = bounds.get(i + 1).copied().unwrap_or(text.len());
            let Some(chunk_text) = text.get(start..end) else {
                continue;
            };
            let ends_file = end == text.len();
            let first = out.file.items.len();
            // Each old chunk is used once: a second copy of the same text is parsed again.
            let reused = old_chunks
                .remove_entry(chunk_text)
                .filter(|(_, c)| c.ends_file == ends_file)
                .and_then(|(key, c)| {
                    let from = if c.spare {
                        &mut old_spare
                    } else {
                        &mut old_items
                    };
                    let items: Option<Vec<_>> =
                        c.items.clone().map(|k| from.get_mut(k)?.take()).collect();
                    Some((key, c, items?))
                });
            let (key, chunk) = match reused {
                Some((key, mut chunk, mut items)) => {
                    // Moving by a negative distance wraps around, which `Shift` allows.
                    let by = (start as u32).wrapping_sub(chunk.start);
                    if by != 0 {
                        items.shift(by);
                        chunk.errors.shift(by);
                    }
                    out.file.items.append(&mut items);
                    chunk.start = start as u32;
                    chunk.items = first..out.file.items.len();
                    chunk.spare = false;
                    (key, chunk)
                }
                None => {
                    self.bytes_parsed += chunk_text.len();
                    let mut parsed = Parsed::default();
                    let ok = match parse_chunk(chunk_text, start, ends_file, &mut parsed) {
                        Ok(()) => true,
                        Err(e) => {
                            parsed.errors.push(e);
                            false
                        }
                    };
                    out.file.items.append(&mut parsed.file.items);
                    let chunk = Chunk {
                        start: start as u32,
                        items: first..out.file.items.len(),
                        spare: false,
                        errors: parsed.errors,
                        ends_file,
                        ok,
                    };
                    (chunk_text.to_string(), chunk)
                }
            };
            if !chunk.ok && first_bad.is_none() {
                first_bad = Some((start, first, out.errors.len()));
            }
            out.errors.extend(chunk.errors.iter().cloned());
            chunks.insert(key, chunk);
        }
        if let Some((from, items, errors)) = first_bad {
            // `parse` first tries the whole file, whose declarations before this chunk are
            // the chunks that parsed. If the rest parses as a whole (a cut fell inside a
            // declaration), that is the file's parse; else recovery's result stands.
            let mut rest = Parsed::default();
            self.bytes_parsed += text.len() - from;
            if let Some(rest_text) = text.get(from..)
                && parse_chunk(rest_text, from, true, &mut rest).is_ok()
            {
                // The chunks' trees from here on are kept aside for the next version, so
                // a wrong cut costs this parse of the rest, not every chunk after it again.
                self.spare = out.file.items.split_off(items);
                for c in chunks.values_mut() {
                    if c.start as usize >= from {
                        c.spare = true;
                        c.items = c.items.start - items..c.items.end - items;
                    }
                }
                out.file.items.append(&mut rest.file.items);
                out.errors.truncate(errors);
                out.errors.append(&mut rest.errors);
            }
        }
        out.errors.sort_by_key(|e| e.span);
        self.last = out;
        self.chunks = chunks;
        &self.last
    }
}

/// Parses `text`, which starts at byte `base` of the file and runs to its end if `ends_file`,
/// adding its declarations and shape errors to `out`. A syntax error leaves `out` as it was.
fn parse_chunk(
    text: &str,
    base: usize,
    ends_file: bool,
    out: &mut Parsed,
) -> Result<(), SyntaxError> {
    let mut pairs = JourneyParser::parse(Rule::file, text)
        .map_err(|e| SyntaxError::from_pest(&e, text, base, ends_file))?;
    let Some(file) = pairs.next() else {
        return Ok(());
    };
    let (items, errors) = Lowerer::new(base).items(file);
    out.file.items.extend(items);
    out.errors.extend(
        errors
            .into_iter()
            .map(|e| SyntaxError::unexpected_shape(e.span, e.expected)),
    );
    Ok(())
}

/// Byte offsets where chunks start: 0, then each line that begins a declaration.
fn chunk_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut doc_start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("///") && !trimmed.starts_with("////") {
            // Indented too: the grammar skips the white space before a doc comment.
            doc_start.get_or_insert(offset);
        } else if trimmed.is_empty() || trimmed.starts_with("//") {
            // Blank lines and comments between doc comments and their declaration: the
            // grammar skips them, so the doc comments still belong to the declaration.
        } else {
            let word: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if ITEM_KEYWORDS.contains(&word.as_str()) {
                let start = doc_start.unwrap_or(offset);
                if start > 0 {
                    starts.push(start);
                }
            }
            doc_start = None;
        }
        offset += line.len();
    }
    starts.dedup();
    starts
}

/// How deeply brackets may nest. Real journeys nest a handful of levels; the limit keeps the
/// recursive parser, lowering and compiler far from the stack's end on any input.
pub const MAX_NESTING: usize = 48;

/// The first bracket that nests deeper than [`MAX_NESTING`], as an error.
fn too_deep(text: &str) -> Option<SyntaxError> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(SyntaxError {
                        span: crate::ast::Span::new(i, i + 1),
                        message: format!("brackets nest more than {MAX_NESTING} levels deep"),
                        expected: "less nesting".into(),
                        help: Some("split the condition into named segments, or the steps into smaller blocks".into()),
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}
