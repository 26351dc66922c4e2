//! Folding ranges: every `{ ... }` block over several lines (found by the lexer, so they
//! work on broken text), runs of comment lines, runs of imports, and timeline entries.

use journey_grammar::ast::{ItemKind, Stmt, StmtKind};
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

use crate::lexer::{TokKind, lex};
use crate::line_index::LineIndex;
use crate::state::DocSnapshot;

/// The folding ranges of a document.
pub fn folding_ranges(snap: &DocSnapshot) -> Vec<FoldingRange> {
    let Some(lines) = snap.current.lines() else {
        return Vec::new();
    };
    let text = snap.text();
    let mut out = Vec::new();
    let range = |start: u32, end: u32, kind: Option<FoldingRangeKind>| FoldingRange {
        start_line: start,
        start_character: None,
        end_line: end,
        end_character: None,
        kind,
        collapsed_text: None,
    };

    // Braces: fold from the line of `{` to the line before `}`.
    let mut stack: Vec<u32> = Vec::new();
    let mut comment_run: Option<(u32, u32)> = None;
    let flush = |run: &mut Option<(u32, u32)>, out: &mut Vec<FoldingRange>| {
        if let Some((a, b)) = run.take()
            && b > a
        {
            out.push(range(a, b, Some(FoldingRangeKind::Comment)));
        }
    };
    for tok in lex(text) {
        match tok.kind {
            TokKind::Punct if tok.text(text) == "{" => stack.push(lines.line_of(tok.span.start)),
            TokKind::Punct if tok.text(text) == "}" => {
                if let Some(open) = stack.pop() {
                    let close = lines.line_of(tok.span.start);
                    if close > open + 1 {
                        out.push(range(open, close - 1, None));
                    }
                }
            }
            TokKind::Comment | TokKind::DocComment => {
                let (a, b) = (lines.line_of(tok.span.start), lines.line_of(tok.span.end));
                comment_run = match comment_run {
                    Some((s, e)) if a == e + 1 => Some((s, b)),
                    _ => {
                        flush(&mut comment_run, &mut out);
                        Some((a, b))
                    }
                };
                continue;
            }
            _ => {}
        }
        flush(&mut comment_run, &mut out);
    }
    flush(&mut comment_run, &mut out);

    if let Some(file) = snap.current.ast() {
        // Imports.
        let mut run: Option<(u32, u32)> = None;
        for item in &file.items {
            let (a, b) = (lines.line_of(item.span.start), lines.line_of(item.span.end));
            if matches!(item.kind, ItemKind::Import(_)) {
                run = match run {
                    Some((s, _)) => Some((s, b)),
                    None => Some((a, b)),
                };
            } else if let Some((s, e)) = run.take()
                && e > s
            {
                out.push(range(s, e, Some(FoldingRangeKind::Imports)));
            }
            if let ItemKind::Journey(j) = &item.kind {
                timeline_entries(&j.body, lines, &mut out);
            }
        }
        if let Some((s, e)) = run
            && e > s
        {
            out.push(range(s, e, Some(FoldingRangeKind::Imports)));
        }
    }
    out.sort_by_key(|r| (r.start_line, r.end_line));
    out.dedup_by_key(|r| (r.start_line, r.end_line));
    out
}

fn timeline_entries(stmts: &[Stmt], lines: &LineIndex, out: &mut Vec<FoldingRange>) {
    for s in stmts {
        match &s.kind {
            StmtKind::Timeline(entries) => {
                for e in entries {
                    let (a, b) = (lines.line_of(e.span.start), lines.line_of(e.span.end));
                    if b > a {
                        out.push(FoldingRange {
                            start_line: a,
                            start_character: None,
                            end_line: b,
                            end_character: None,
                            kind: Some(FoldingRangeKind::Region),
                            collapsed_text: None,
                        });
                    }
                }
            }
            StmtKind::If(i) => {
                timeline_entries(&i.then.stmts, lines, out);
                if let Some(b) = &i.otherwise {
                    timeline_entries(&b.stmts, lines, out);
                }
            }
            StmtKind::Scenario(sc) => {
                for (_, b) in &sc.arms {
                    timeline_entries(&b.stmts, lines, out);
                }
                if let Some(b) = &sc.otherwise {
                    timeline_entries(&b.stmts, lines, out);
                }
            }
            _ => {}
        }
    }
}
