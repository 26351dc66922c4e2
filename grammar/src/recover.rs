//! Parsing with recovery.
//!
//! pest stops at the first error. To report every broken declaration of a file, a file that
//! fails to parse is cut into chunks at lines that start, in column 0, with a top-level
//! keyword (doc comments above such a line go with it), and each chunk is parsed on its own.
//! The formatter puts every declaration in column 0, so this matches how files are written.

use pest::Parser;

use crate::lower::Lowerer;
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
    match parse_chunk(text, 0, text.len(), &mut parsed) {
        Ok(()) => {}
        Err(_) => {
            parsed = Parsed::default();
            let bounds = chunk_starts(text);
            for (i, &start) in bounds.iter().enumerate() {
                let end = bounds.get(i + 1).copied().unwrap_or(text.len());
                if let Some(chunk) = text.get(start..end)
                    && let Err(e) = parse_chunk(chunk, start, text.len(), &mut parsed)
                {
                    parsed.errors.push(e);
                }
            }
        }
    }
    parsed.errors.sort_by_key(|e| e.span);
    parsed
}

fn parse_chunk(
    text: &str,
    base: usize,
    file_len: usize,
    out: &mut Parsed,
) -> Result<(), SyntaxError> {
    let ends_file = base + text.len() == file_len;
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
        if line.starts_with("///") {
            doc_start.get_or_insert(offset);
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
