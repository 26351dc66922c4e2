//! Terminal rendering of diagnostics with ariadne. The only module that knows ariadne.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};

use crate::codes::Severity;
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;

/// Renders diagnostics as text, with colours when `color` is set.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = Vec::new();
    for d in diagnostics {
        render_one(d, sources, color, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn render_one(d: &Diagnostic, sources: &SourceMap, color: bool, out: &mut Vec<u8>) {
    let path = |f| {
        sources
            .files
            .get(f)
            .map(|s: &crate::source::SourceFile| s.path.clone())
            .unwrap_or_default()
    };
    // Spans are byte ranges; ariadne is given character ranges. Its byte mode mixes the two
    // when a report spans several files (the header of a second file's section is placed
    // with a character index read as a byte offset, and panics inside a wide character).
    // A span from outside the grammar (a JSON parser's error position) may also end inside
    // a character: it is widened to whole characters within the text.
    let clamp = |f, span: journey_grammar::ast::Span| {
        let text = sources
            .files
            .get(f)
            .map(|s: &crate::source::SourceFile| &*s.text)
            .unwrap_or("");
        let start = text.floor_char_boundary(span.start as usize);
        let end = text.ceil_char_boundary((span.end as usize).max(start));
        let chars_before = text[..start].chars().count();
        chars_before..chars_before + text[start..end].chars().count()
    };
    let (kind, main_color) = match d.severity {
        Severity::Error => (ReportKind::Error, Color::Red),
        Severity::Warning => (ReportKind::Warning, Color::Yellow),
    };
    let primary = (path(d.primary.file), clamp(d.primary.file, d.primary.span));
    let mut report = Report::build(kind, primary.clone())
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Char),
        )
        .with_code(format!("{}/{}", d.code.code, d.code.name))
        .with_message(&d.message);
    // Labels go in source order within each file (ariadne opens a new section, titled with the
    // report's location, whenever a label comes before the previous one).
    let mut labels: Vec<(bool, &crate::diagnostic::Label)> = std::iter::once((true, &d.primary))
        .chain(d.labels.iter().map(|l| (false, l)))
        .collect();
    labels.sort_by_key(|(is_primary, l)| {
        (l.file != d.primary.file, l.file, l.span.start, !*is_primary)
    });
    for (is_primary, l) in labels {
        let mut label = Label::new((path(l.file), clamp(l.file, l.span)));
        if !l.message.is_empty() {
            label = label.with_message(&l.message);
        }
        label = if is_primary {
            label.with_color(main_color).with_priority(10)
        } else {
            label.with_color(Color::Blue)
        };
        report = report.with_label(label);
    }
    for n in &d.notes {
        report = report.with_note(n);
    }
    if let Some(h) = &d.help {
        report = report.with_help(h);
    }
    let mut files: Vec<(String, String)> = Vec::new();
    for f in std::iter::once(d.primary.file).chain(d.labels.iter().map(|l| l.file)) {
        if let Some(src) = sources.files.get(f)
            && !files.iter().any(|(p, _)| *p == src.path)
        {
            files.push((src.path.clone(), src.text.to_string()));
        }
    }
    let _ = report.finish().write(ariadne::sources(files), &mut *out);
}
