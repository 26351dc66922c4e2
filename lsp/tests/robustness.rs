//! Property test: random edits (tokens inserted, text deleted, at UTF-16 positions that may
//! fall inside a character) applied to the example projects, and after each edit every
//! request at several positions. No handler may panic, and every answer must make sense:
//! ranges inside the document, semantic tokens in order, edits that apply.

use std::path::Path;

use journey_lsp::handlers::{
    code_action, completion, definition, folding, formatting, hover, references, rename,
    semantic_tokens, symbols,
};
use journey_lsp::line_index::LineIndex;
use journey_lsp::state::DocSnapshot;
use journey_lsp::testing::Fixture;
use proptest::prelude::*;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

const TOKENS: &[&str] = &[
    "send ",
    "sms ",
    "email ",
    "wait ",
    "for ",
    "within ",
    "7 days",
    "2 months",
    "{",
    "}",
    "(",
    ")",
    "\"",
    ".",
    ":",
    ",",
    "\n",
    "profile.",
    "signup.",
    "journey x {",
    "segment s = ",
    "if ",
    "timeline {\n month 3: ",
    "scenario for ",
    "é",
    "😀",
    "été",
    "{profile.",
    "/* ",
    "// ",
    "///",
    "import \"",
    "42",
    "09:00",
    "==",
    "and ",
    "count(",
    "$",
    "\\",
    "\t",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert { file: usize, at: f64, token: usize },
    Delete { file: usize, at: f64, len: u32 },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0usize..64, 0.0f64..1.0, 0..TOKENS.len()).prop_map(|(file, at, token)| Edit::Insert {
            file,
            at,
            token
        }),
        (0usize..64, 0.0f64..1.0, 1u32..40).prop_map(|(file, at, len)| Edit::Delete {
            file,
            at,
            len
        }),
    ]
}

fn example(name: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("example dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "journey" || x == "toml") {
                let rel = p
                    .strip_prefix(&dir)
                    .expect("under")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((rel, std::fs::read_to_string(&p).expect("read")));
            }
        }
    }
    files.sort();
    files
}

/// A position in UTF-16 units, on an existing line, possibly past its end or inside a
/// surrogate pair (the server must clamp).
fn position_at(lines: &LineIndex, frac: f64, wobble: u32) -> Position {
    let len = lines.text().len() as f64;
    let p = lines.position((len * frac) as u32);
    Position::new(p.line, p.character + wobble % 3)
}

fn in_doc(lines: &LineIndex, r: &Range) -> bool {
    let end = lines.position(lines.text().len() as u32);
    let ok =
        |p: &Position| p.line < end.line || (p.line == end.line && p.character <= end.character);
    ok(&r.start) && ok(&r.end) && (r.start.line, r.start.character) <= (r.end.line, r.end.character)
}

fn check_all_requests(snap: &DocSnapshot, fx: &Fixture, pos: Position) {
    let lines = snap.current.lines().expect("lines");
    let uri = &snap.uri;
    if let Some(h) = hover::hover(snap, pos)
        && let Some(r) = h.range
    {
        assert!(in_doc(lines, &r), "hover range {r:?}");
    }
    let items = completion::completion(snap, pos);
    assert!(items.iter().all(|i| !i.label.is_empty()));
    if let Some(loc) = definition::definition(snap, pos)
        && &loc.uri == uri
    {
        assert!(in_doc(lines, &loc.range), "definition {loc:?}");
    }
    for loc in references::references(snap, pos, true) {
        if &loc.uri == uri {
            assert!(in_doc(lines, &loc.range), "reference {loc:?}");
        }
    }
    let _ = rename::prepare(snap, pos);
    if let Ok(edit) = rename::rename(snap, pos, "nouveau_nom")
        && let Some(changes) = edit.changes
        && let Some(edits) = changes.get(uri)
    {
        for e in edits {
            assert!(in_doc(lines, &e.range), "rename edit {e:?}");
        }
    }
    let _ = code_action::code_actions(snap, Range::new(pos, pos), "file:///x");
    let _ = fx;
}

fn check_document(snap: &DocSnapshot, fx: &Fixture) {
    let lines = snap.current.lines().expect("lines");
    fn walk(lines: &LineIndex, syms: &[tower_lsp_server::ls_types::DocumentSymbol]) {
        for s in syms {
            assert!(in_doc(lines, &s.range), "symbol {s:?}");
            assert!(in_doc(lines, &s.selection_range), "symbol {s:?}");
            walk(lines, s.children.as_deref().unwrap_or_default());
        }
    }
    walk(lines, &symbols::document_symbols(snap));
    let tokens = semantic_tokens::semantic_tokens(snap).data;
    let (mut line, mut col) = (0u32, 0u32);
    for t in &tokens {
        if t.delta_line > 0 {
            line += t.delta_line;
            col = t.delta_start;
        } else {
            col += t.delta_start;
        }
        assert!(t.length > 0);
        assert!(in_doc(
            lines,
            &Range::new(
                Position::new(line, col),
                Position::new(line, col + t.length)
            )
        ));
        assert!((t.token_type as usize) < semantic_tokens::TYPES.len());
    }
    for f in folding::folding_ranges(snap) {
        assert!(
            f.start_line < f.end_line && f.end_line < lines.line_count(),
            "{f:?}"
        );
    }
    if let Ok(edits) = formatting::format(snap) {
        for e in edits {
            assert!(in_doc(lines, &e.range));
        }
    }
    let analyses = fx.state.analyses();
    let _ = symbols::workspace_symbols(&analyses, "a", 50);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_never_break_a_request(
        project in 0usize..3,
        edits in prop::collection::vec(edit(), 1..6),
        probes in prop::collection::vec((0.0f64..1.0, 0u32..3), 3),
    ) {
        let name = ["telecom", "ecommerce", "lifecycle"][project];
        let files = example(name);
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let mut fx = Fixture::new(&refs);
        let journeys: Vec<String> = files.iter().map(|(p, _)| p.clone()).filter(|p| p.ends_with(".journey")).collect();
        let mut version = 1;
        for e in edits {
            let (file, at) = match &e {
                Edit::Insert { file, at, .. } | Edit::Delete { file, at, .. } => (*file, *at),
            };
            let path = &journeys[file % journeys.len()];
            let uri = fx.uri(path);
            let text = fx.state.text(&uri).expect("open").to_string();
            let lines = LineIndex::new(text.as_str().into());
            let start = position_at(&lines, at, 0);
            let change = match e {
                Edit::Insert { token, .. } => TextDocumentContentChangeEvent {
                    range: Some(Range::new(start, start)),
                    range_length: None,
                    text: TOKENS[token].to_string(),
                },
                Edit::Delete { len, .. } => TextDocumentContentChangeEvent {
                    range: Some(Range::new(start, Position::new(start.line, start.character + len))),
                    range_length: None,
                    text: String::new(),
                },
            };
            version += 1;
            let published = fx.state.change(&uri, version, vec![change]);
            for p in &published {
                for d in &p.diagnostics {
                    prop_assert!(d.code.is_some() && d.source.as_deref() == Some("journey"));
                }
            }
            let snap = fx.state.snapshot(&uri).expect("snapshot");
            check_document(&snap, &fx);
            let lines = snap.current.lines().expect("lines").clone();
            check_all_requests(&snap, &fx, start);
            for (frac, wobble) in &probes {
                check_all_requests(&snap, &fx, position_at(&lines, *frac, *wobble));
            }
        }
    }
}

/// The same through the protocol: after every edit, every request gets an answer (a result
/// or an error response, never silence), and the server still shuts down cleanly.
fn protocol_session(files: &[(String, String)], edits: &[Edit]) {
    use journey_lsp::testing::{Client, temp_dir, uri_of};
    use serde_json::json;
    let dir = temp_dir("fuzz");
    for (p, t) in files {
        let full = dir.join(p);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&full, t).expect("write");
    }
    let journeys: Vec<&(String, String)> = files
        .iter()
        .filter(|(p, _)| p.ends_with(".journey"))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut c = Client::start();
        c.initialize().await;
        let mut texts: Vec<String> = Vec::new();
        for (p, t) in &journeys {
            c.open(uri_of(&dir.join(p)).as_str(), t).await;
            texts.push(t.clone());
        }
        for (version, e) in edits.iter().enumerate() {
            let (file, at) = match e {
                Edit::Insert { file, at, .. } | Edit::Delete { file, at, .. } => (*file, *at),
            };
            let i = file % journeys.len();
            let uri = uri_of(&dir.join(&journeys[i].0)).as_str().to_string();
            let lines = LineIndex::new(texts[i].as_str().into());
            let start = position_at(&lines, at, 0);
            let (end, insert) = match e {
                Edit::Insert { token, .. } => (start, TOKENS[*token]),
                Edit::Delete { len, .. } => (Position::new(start.line, start.character + len), ""),
            };
            let span = lines.span(Range::new(start, end));
            texts[i].replace_range(span.range(), insert);
            c.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version + 2},
                       "contentChanges": [{"range": {"start": start, "end": end}, "text": insert}]}),
            )
            .await;
            let doc = json!({"uri": uri});
            let at = json!({"textDocument": doc, "position": start});
            for (method, params) in [
                ("textDocument/hover", at.clone()),
                ("textDocument/completion", at.clone()),
                ("textDocument/definition", at.clone()),
                ("textDocument/references", json!({"textDocument": doc, "position": start, "context": {"includeDeclaration": true}})),
                ("textDocument/prepareRename", at.clone()),
                ("textDocument/documentSymbol", json!({"textDocument": doc})),
                ("textDocument/semanticTokens/full", json!({"textDocument": doc})),
                ("textDocument/foldingRange", json!({"textDocument": doc})),
                ("textDocument/formatting", json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}})),
                ("textDocument/codeAction", json!({"textDocument": doc, "range": {"start": start, "end": start}, "context": {"diagnostics": []}})),
                ("workspace/symbol", json!({"query": "a"})),
            ] {
                let response = c.request_raw(method, params).await;
                assert!(response.get("error").is_none(), "{method}: {response}");
            }
            // The server's text is the client's text: diagnostics come for this version.
            c.diagnostics(&uri, |_| true).await;
        }
        c.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_through_the_protocol(
        project in 0usize..3,
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let name = ["telecom", "ecommerce", "lifecycle"][project];
        protocol_session(&example(name), &edits);
    }
}
