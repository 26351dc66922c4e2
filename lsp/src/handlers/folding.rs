//! Folding ranges: every `{ ... }` block over several lines, runs of comment lines, runs of
//! imports, and timeline entries. All found by the lexer, so they work on broken text and
//! cost no parse.

use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

use crate::lexer::{TokKind, Token, lex};
use crate::state::DocSnapshot;

fn range(start: u32, end: u32, kind: Option<FoldingRangeKind>) -> FoldingRange {
    FoldingRange {
        start_line: start,
        start_character: None,
        end_line: end,
        end_character: None,
        kind,
        collapsed_text: None,
    }
}

/// An open brace: its line, whether it opens a timeline, and the timeline entry being read
/// inside it (first line, last line so far).
struct Open {
    line: u32,
    timeline: bool,
    entry: Option<(u32, u32)>,
}

/// The folding ranges of a document.
pub fn folding_ranges(snap: &DocSnapshot) -> Vec<FoldingRange> {
    let Some(lines) = snap.current.lines() else {
        return Vec::new();
    };
    let text = snap.text();
    let toks = lex(text);
    let mut out = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    // (kind, first line, last line) of the current run of comment or import lines.
    let mut run: Option<(FoldingRangeKind, u32, u32)> = None;
    let mut prev_line: Option<u32> = None;
    let word = |t: Option<&Token>| t.filter(|t| t.kind == TokKind::Word).map(|t| t.text(text));
    let close_entry = |entry: Option<(u32, u32)>, out: &mut Vec<FoldingRange>| {
        if let Some((a, b)) = entry
            && b > a
        {
            out.push(range(a, b, Some(FoldingRangeKind::Region)));
        }
    };

    for (i, tok) in toks.iter().enumerate() {
        let line = lines.line_of(tok.span.start);
        let starts_line = prev_line != Some(line);
        prev_line = Some(lines.line_of(tok.span.end));

        // Runs of whole-line comments, and of `import` lines.
        let kind = match tok.kind {
            TokKind::Comment | TokKind::DocComment if starts_line => {
                Some(FoldingRangeKind::Comment)
            }
            TokKind::Word
                if starts_line
                    && tok.text(text) == "import"
                    && lines.line_start(line) == tok.span.start =>
            {
                Some(FoldingRangeKind::Imports)
            }
            _ => None,
        };
        let end_line = lines.line_of(tok.span.end);
        match (&mut run, kind) {
            (Some((k, _, last)), Some(kind)) if *k == kind && line <= *last + 1 => *last = end_line,
            (Some((k, _, last)), _) if !starts_line && *k == FoldingRangeKind::Imports => {
                *last = end_line
            }
            (_, kind) => {
                if let Some((k, a, b)) = run.take()
                    && b > a
                {
                    out.push(range(a, b, Some(k)));
                }
                run = kind.map(|k| (k, line, end_line));
            }
        }

        // Timeline entries: `day|week|month|year N` starting a line directly in a timeline.
        if let Some(top) = stack.last_mut()
            && top.timeline
        {
            let is_entry = starts_line
                && matches!(word(Some(tok)), Some("day" | "week" | "month" | "year"))
                && toks.get(i + 1).is_some_and(|t| t.kind == TokKind::Number);
            if is_entry {
                let done = top.entry.take();
                close_entry(done, &mut out);
                top.entry = Some((line, end_line));
            } else if tok.text(text) != "}"
                && let Some((_, last)) = &mut top.entry
            {
                *last = end_line;
            }
        } else if let Some(top) = stack.iter_mut().rev().find(|o| o.timeline)
            && let Some((_, last)) = &mut top.entry
        {
            *last = end_line;
        }

        // Braces: fold from the line of `{` to the line before `}`.
        match (tok.kind, tok.text(text)) {
            (TokKind::Punct, "{") => {
                let timeline = i > 0 && word(toks.get(i - 1)) == Some("timeline");
                stack.push(Open {
                    line,
                    timeline,
                    entry: None,
                });
            }
            (TokKind::Punct, "}") => {
                if let Some(open) = stack.pop() {
                    close_entry(open.entry, &mut out);
                    if line > open.line + 1 {
                        out.push(range(open.line, line - 1, None));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some((k, a, b)) = run
        && b > a
    {
        out.push(range(a, b, Some(k)));
    }
    out.sort_by_key(|r| (r.start_line, r.end_line));
    out.dedup_by_key(|r| (r.start_line, r.end_line));
    out
}
