//! Every example project checks clean (no error, no warning), its bytecode round-trips
//! through the serialized format, and its disassembly is stable.

use std::path::{Path, PathBuf};

use journey_tests::compile_case;

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("journey.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn there_are_three_examples() {
    let names: Vec<String> = examples()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for want in ["telecom", "lifecycle", "ecommerce"] {
        assert!(
            names.iter().any(|n| n == want),
            "missing example {want}: {names:?}"
        );
    }
}

#[test]
fn examples_check_clean_and_round_trip() {
    for dir in examples() {
        let c = compile_case(&dir);
        let rendered = journey_compiler::render::render(&c.diagnostics, &c.sources, false);
        assert!(
            c.diagnostics.is_empty(),
            "{} has diagnostics:\n{rendered}",
            dir.display()
        );
        let program = c.program.expect("compiles");
        assert!(
            !program.tests.is_empty(),
            "{} has no test block",
            dir.display()
        );
        let bytes = journey_bytecode::encode(&program);
        let back = journey_bytecode::decode(&bytes).expect("loads");
        assert_eq!(back, program, "{} does not round-trip", dir.display());
        assert_eq!(
            journey_bytecode::encode(&back),
            bytes,
            "{} re-encodes differently",
            dir.display()
        );
    }
}

#[test]
fn example_disassembly() {
    for dir in examples() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let c = compile_case(&dir);
        let Some(program) = c.program else {
            panic!("{name} does not compile")
        };
        insta::assert_snapshot!(
            format!("disasm_{name}"),
            journey_bytecode::disasm::disassemble(&program)
        );
    }
}

/// Compiling twice gives the same bytes: builds are reproducible.
#[test]
fn builds_are_deterministic() {
    for dir in examples() {
        let a = compile_case(&dir)
            .program
            .map(|p| journey_bytecode::encode(&p));
        let b = compile_case(&dir)
            .program
            .map(|p| journey_bytecode::encode(&p));
        assert_eq!(a, b, "{}", dir.display());
    }
}

/// Reusing parses across compilations gives exactly what a fresh compilation gives, also
/// after one file changes (the language server relies on it).
#[test]
fn parse_cache_gives_the_same_result() {
    use std::sync::Arc;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/telecom");
    let (mut host, input) = journey_tests::load_case(&dir);
    let cached = journey_compiler::Input {
        parse_cache: Some(Arc::new(journey_compiler::ParseCache::new())),
        ..input.clone()
    };
    let encode =
        |c: &journey_compiler::Compilation| c.program.as_ref().map(journey_bytecode::encode);
    let first = journey_compiler::compile(&host, &cached);
    assert_eq!(
        encode(&first),
        encode(&journey_compiler::compile(&host, &input))
    );
    // Break one file, then fix it: each time the cached compilation matches a fresh one.
    let path = "segments.journey".to_string();
    let text = journey_compiler::SourceHost::read(&host, &path)
        .expect("segments.journey")
        .to_string();
    for version in [text.replace("segment", "segmnt"), text.clone()] {
        host.insert(path.clone(), version);
        let with = journey_compiler::compile(&host, &cached);
        let without = journey_compiler::compile(&host, &input);
        assert_eq!(with.diagnostics, without.diagnostics);
        assert_eq!(encode(&with), encode(&without));
    }
}
