//! No input panics the parser, the compiler or the bytecode loader: random text, token soup
//! from the language's vocabulary, mutated and truncated examples, corrupted bytecode.

use std::path::{Path, PathBuf};

use journey_compiler::{Input, MemoryHost, compile};
use journey_tests::{compile_source, load_case};
use proptest::prelude::*;

fn compile_text(text: &str) {
    let c = compile_source(text);
    // Whatever happened, rendering and JSON conversion must not panic either.
    let _ = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
    for d in &c.diagnostics {
        let _ = journey_compiler::diagnostic::to_json(d, &c.sources);
    }
    if let Some(p) = &c.program {
        let bytes = journey_bytecode::encode(p);
        let back = journey_bytecode::decode(&bytes).expect("a compiled program loads");
        assert_eq!(&back, p);
    }
}

fn example_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("journey.toml").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// A project's files as (project dir, path relative to it, text).
type Files = Vec<(PathBuf, String, String)>;

/// All example files, read once per test process (the property tests pick one per case).
fn example_files() -> &'static Files {
    static FILES: std::sync::OnceLock<Files> = std::sync::OnceLock::new();
    FILES.get_or_init(read_example_files)
}

fn read_example_files() -> Files {
    let mut out = Vec::new();
    for dir in example_dirs() {
        let (host, input) = load_case(&dir);
        for root in &input.roots {
            if let Some(text) = journey_compiler::SourceHost::read(&host, root) {
                out.push((dir.clone(), root.clone(), text.to_string()));
            }
        }
    }
    out
}

const VOCABULARY: &[&str] = &[
    "profile",
    "event",
    "segment",
    "channel",
    "template",
    "offer",
    "policy",
    "journey",
    "test",
    "import",
    "entry",
    "on",
    "reentry",
    "never",
    "after",
    "exit",
    "goal",
    "within",
    "send",
    "wait",
    "for",
    "until",
    "if",
    "else",
    "scenario",
    "otherwise",
    "experiment",
    "variant",
    "holdout",
    "timeline",
    "set",
    "emit",
    "critical",
    "with",
    "best",
    "uses",
    "config",
    "params",
    "requires",
    "eligible",
    "when",
    "priority",
    "valid",
    "from",
    "at",
    "most",
    "per",
    "messages",
    "quiet",
    "hours",
    "to",
    "given",
    "expect",
    "no",
    "reached",
    "and",
    "or",
    "not",
    "in",
    "count",
    "sum",
    "over",
    "last",
    "profile.age",
    "signup.plan",
    "x",
    "y",
    "jeune",
    "sms",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "?",
    "%",
    "\"text\"",
    "\"{profile.age}\"",
    "\"{",
    "42",
    "3.5",
    "7 days",
    "2 months",
    "day 3",
    "week 1",
    "month 6",
    "09:00",
    "25:99",
    "2027-01-04",
    "2027-02-30",
    "2027-01-04 09:00",
    "50%",
    "string",
    "number",
    "bool",
    "date",
    "list<string>",
    "\n",
    "//c\n",
    "///d\n",
    "é",
    "\u{1F600}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        compile_text(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        compile_text(&String::from_utf8_lossy(&bytes));
        let _ = journey_bytecode::decode(&bytes);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..120)) {
        compile_text(&tokens.join(" "));
    }

    #[test]
    fn mutated_examples_never_panic(pick in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, proptest::sample::select(VOCABULARY)), 1..6)) {
        prop_assume!(!example_files().is_empty());
        check_mutated(example_files(), pick, &edits);
    }

    /// The loaders around the language: `journey.toml` and the plugin manifests it names
    /// (JSON read by `journey check`), mutated in the examples.
    #[test]
    fn mutated_project_files_never_panic(pick in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, proptest::sample::select(DATA_VOCABULARY)), 1..6)) {
        prop_assume!(!project_files().is_empty());
        check_mutated(project_files(), pick, &edits);
    }
}

/// Compiles the project of one of `files`, picked, with that file mutated by `edits`.
fn check_mutated(
    files: &Files,
    pick: prop::sample::Index,
    edits: &[(prop::sample::Index, u8, &str)],
) {
    let (dir, rel, text) = &files[pick.index(files.len())];
    let (mut host, input) = load_case(dir);
    host.insert(rel.clone(), mutate(text, edits));
    check_all(&host, &input);
}

/// `text` with `edits` applied: (where, what, token) with what = insert the token, delete as
/// many bytes as the token has, delete to the end of the line, or replace a character with
/// the token. Positions move to character boundaries.
fn mutate(text: &str, edits: &[(prop::sample::Index, u8, &str)]) -> String {
    let mut text = text.to_string();
    for (at, kind, token) in edits {
        let pos = text.floor_char_boundary(at.index(text.len() + 1));
        match kind {
            0 => text.insert_str(pos, token),
            1 => {
                let end = text.floor_char_boundary(pos + token.len());
                text.replace_range(pos..end, "");
            }
            2 => {
                let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
                text.replace_range(pos..end, "");
            }
            _ => {
                let end = text.ceil_char_boundary(pos + 1);
                text.replace_range(pos..end, token);
            }
        }
    }
    text
}

/// Compiles, then renders every diagnostic for a terminal and as JSON: none of it may panic.
fn check_all(host: &MemoryHost, input: &Input) {
    let c = compile(host, input);
    let _ = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
    for d in &c.diagnostics {
        let _ = journey_compiler::diagnostic::to_json(d, &c.sources);
    }
}

/// The examples' `journey.toml` and the plugin manifests each names, read once per test
/// process.
fn project_files() -> &'static Files {
    static FILES: std::sync::OnceLock<Files> = std::sync::OnceLock::new();
    FILES.get_or_init(read_project_files)
}

fn read_project_files() -> Files {
    let mut out = Vec::new();
    for dir in example_dirs() {
        let (host, _) = load_case(&dir);
        let Some(toml) = journey_compiler::SourceHost::read(&host, "journey.toml") else {
            continue;
        };
        for rel in journey_tests::plugin_manifest_paths(&toml) {
            if let Some(text) = journey_compiler::SourceHost::read(&host, &rel) {
                out.push((dir.clone(), rel, text.to_string()));
            }
        }
        out.push((dir, "journey.toml".to_string(), toml.to_string()));
    }
    out
}

/// Tokens of JSON and TOML, for the project files.
const DATA_VOCABULARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "=",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "4294967296",
    "1.5",
    "\"\"",
    "\"é\"",
    "\"\u{1F600}\"",
    "\\u0000",
    "\\ud800",
    "\"name\"",
    "\"params\"",
    "\"type\"",
    "\"text\"",
    "\"number\"",
    "\"kind\"",
    "\"contract\"",
    "\"2.0.0\"",
    "\"required\"",
    "\"hosts\"",
    "\"*.\"",
    "[plugins.x]",
    "[project]",
    "manifest = ",
    "component = ",
    "timezone = ",
    "\"Mars/Olympus\"",
    "\"../x.json\"",
    "\"/etc/passwd\"",
    "#",
    "\n",
    "é",
    "\u{1F600}",
    "\t",
    "\r\n",
];

#[test]
fn truncated_examples_never_panic() {
    for (dir, rel, text) in example_files() {
        let (mut host, input) = load_case(dir);
        let step = (text.len() / 40).max(1);
        let mut cut = 0;
        while cut < text.len() {
            let end = text.ceil_char_boundary(cut);
            host.insert(rel.clone(), text[..end].to_string());
            let _ = compile(&host, &input);
            cut += step;
        }
    }
}

/// Plugin manifests whose JSON goes wrong at or after a wide character, reported in
/// `journey.toml` with a label in the manifest: serde_json counts columns in bytes, and the
/// label must cover whole characters; the terminal rendering must place the manifest's
/// section by characters (ariadne's byte mode panicked on both; found by
/// `mutated_project_files_never_panic`).
#[test]
fn manifest_errors_near_wide_characters_are_reported() {
    // (manifest, the text the label covers, its 1-based column in characters)
    let cases = [
        ("{\n  \"name\": \"e\"\u{1F600}\"x\"\n}\n", "\u{1F600}", 14),
        // Not a manifest (an unknown field), reported after the key's closing quote.
        ("{\n  \"é\"open_params\": true\n}\n", "\"", 5),
    ];
    for (manifest, covered, column) in cases {
        let mut host = MemoryHost::new();
        host.insert(
            "journey.toml",
            "[project]\nname = \"p\"\n\n[plugins.sms]\nmanifest = \"sms.json\"\n",
        );
        host.insert("sms.json", manifest);
        host.insert("main.journey", "channel sms uses \"sms\" { }\n");
        let input = Input {
            roots: vec!["main.journey".into()],
            manifest: Some("journey.toml".into()),
            ..Input::default()
        };
        let c = compile(&host, &input);
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.code.name == "invalid-plugin-manifest")
            .expect("the manifest is reported");
        let label = d.labels.first().expect("a label in the manifest");
        let text = &c.sources.files[label.file].text;
        let (start, end) = (label.span.start as usize, label.span.end as usize);
        assert_eq!(&text[start..end], covered, "{manifest:?}");
        let json = journey_compiler::diagnostic::to_json(d, &c.sources);
        assert_eq!(json["labels"][0]["column"], column, "{json}");
        let shown = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
        assert!(
            shown.contains(&format!("sms.json:2:{column}")),
            "the manifest's section is placed by characters:\n{shown}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for open in ["(", "[", "{", "if x {"] {
        let text = format!("segment s = {}", open.repeat(100_000));
        let c = compile_source(text);
        assert!(
            c.diagnostics.iter().any(|d| d.code.code == "E0001"),
            "{open}"
        );
    }
    let long = format!(
        "segment s = {}",
        vec!["profile.age > 1"; 50_000].join(" and ")
    );
    let c = compile_source(long);
    assert!(c.error_count() > 0);
}

#[test]
fn corrupted_bytecode_is_an_error() {
    let text = "profile { age: number }\nevent signup\nsegment jeune = profile.age < 26\njourney j { entry on signup\n send_it: wait 1 day }\n";
    let c = compile_source(text);
    let program = c.program.expect("compiles");
    let bytes = journey_bytecode::encode(&program);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        assert!(
            journey_bytecode::decode(&b).is_err(),
            "flip at {i} went unnoticed"
        );
    }
    for n in 0..bytes.len() {
        assert!(journey_bytecode::decode(&bytes[..n]).is_err());
    }
}
