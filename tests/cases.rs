//! Snapshot tests over `tests/cases/**`: diagnostics (source echoed, then the rendered
//! diagnostics), multi-file projects, and disassembly.

use std::path::{Path, PathBuf};

use journey_compiler::codes;
use journey_tests::{check_bytecode, check_diagnostics, codes_of};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

#[test]
fn diagnostics() {
    insta::glob!("cases/diagnostics/*.journey", |path| {
        insta::assert_snapshot!(check_diagnostics(path));
    });
}

#[test]
fn projects() {
    insta::glob!("cases/projects/*/journey.toml", |path| {
        let dir = path.parent().expect("a project directory");
        insta::assert_snapshot!(check_diagnostics(dir));
    });
}

#[test]
fn bytecode() {
    insta::glob!("cases/bytecode/*.journey", |path| {
        insta::assert_snapshot!(check_bytecode(path));
    });
}

/// The codes whose case is too large to keep as a file (thousands of timeline entries or
/// entry clauses): the source is written here, and compiled like a case.
fn generated_case(name: &str) -> Option<String> {
    let limit = |body: &str| {
        format!("event go\nchannel email uses \"email\" {{ }}\njourney grand {{\n{body}}}\n")
    };
    match name {
        "journey-too-large" => {
            // One timeline entry more than the runtime can schedule, and one entry clause more.
            let mut body = String::from("  timeline {\n");
            for day in 0..=journey_bytecode::MAX_TIMELINE_ENTRIES {
                body.push_str(&format!("    day {day}: send email \"d{day}\"\n"));
            }
            body.push_str("  }\n");
            for _ in 0..=journey_bytecode::MAX_ENTRY_CLAUSES {
                body.push_str("  entry on go\n");
            }
            Some(limit(&body))
        }
        _ => None,
    }
}

/// The codes a generated case produces (each once per diagnostic).
fn codes_of_text(text: &str) -> Vec<&'static str> {
    journey_tests::compile_source(text)
        .diagnostics
        .iter()
        .map(|d| d.code.code)
        .collect()
}

/// A journey one timeline entry or one entry clause past the runtime's limits is refused
/// with E0615 at the timeline and at the journey, and one at the limits is not.
#[test]
fn journeys_past_the_runtimes_limits_are_refused() {
    let source = generated_case("journey-too-large").expect("generated");
    let codes = codes_of_text(&source);
    assert_eq!(
        codes.iter().filter(|c| **c == "E0615").count(),
        2,
        "{codes:?}"
    );
    // At the limits: one entry and one clause fewer.
    let at_limits = source.replacen("  entry on go\n", "", 1).replace(
        &format!(
            "    day {0}: send email \"d{0}\"\n",
            journey_bytecode::MAX_TIMELINE_ENTRIES
        ),
        "",
    );
    let codes = codes_of_text(&at_limits);
    assert!(!codes.contains(&"E0615"), "{codes:?}");
}

/// Every diagnostic code has at least one case that produces it, named after it.
#[test]
fn every_code_has_a_case() {
    let mut missing = Vec::new();
    for code in codes::ALL {
        if let Some(text) = generated_case(code.name) {
            if !codes_of_text(&text).contains(&code.code) {
                missing.push(format!(
                    "{} ({}): its generated case does not produce it",
                    code.code, code.name
                ));
            }
            continue;
        }
        let file = cases_dir()
            .join("diagnostics")
            .join(format!("{}.journey", code.name));
        let dir = cases_dir().join("projects").join(code.name);
        let path = if file.exists() { file } else { dir };
        if !path.exists() {
            missing.push(format!(
                "{} ({}): no case at {}",
                code.code,
                code.name,
                path.display()
            ));
            continue;
        }
        if !codes_of(&path).contains(&code.code) {
            missing.push(format!(
                "{} ({}): its case does not produce it",
                code.code, code.name
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a case:\n{}",
        missing.join("\n")
    );
}

/// The language reference lists every code with its name.
#[test]
fn every_code_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md"))
            .expect("docs/language.md");
    let missing: Vec<String> = codes::ALL
        .iter()
        .filter(|c| !doc.contains(&c.code.to_string()) || !doc.contains(c.name))
        .map(|c| format!("{} {}", c.code, c.name))
        .collect();
    assert!(missing.is_empty(), "not in docs/language.md: {missing:?}");
}

/// The `[plugins]` table is exposed on the compilation with its paths resolved against
/// `journey.toml` (for the CLI and the runtime) and the manifests that were read.
#[test]
fn plugin_table_is_exposed() {
    let c = journey_tests::compile_case(&cases_dir().join("projects/plugin-manifests"));
    assert_eq!(c.error_count(), 0);
    assert!(c.plugins.declared);
    let names: Vec<&str> = c.plugins.by_name.keys().map(String::as_str).collect();
    assert_eq!(names, ["email", "push", "sms", "webhook"]);
    let sms = c.plugins.get("sms").expect("sms is listed");
    assert_eq!(sms.manifest_path, "../../../../plugins/manifests/sms.json");
    assert_eq!(
        sms.component_path.as_deref(),
        Some("../../../../plugins/dist/sms.wasm")
    );
    let m = c
        .plugins
        .manifest("sms")
        .expect("the sms manifest was read");
    assert_eq!((m.name.as_str(), m.version.as_str()), ("sms", "1.0.0"));
    // The channel's hover text names the plugin's version and kind.
    assert!(
        c.index
            .defs
            .iter()
            .any(|d| d.detail == "channel sms (plugin \"sms\" 1.0.0, kind sms)"),
        "{:?}",
        c.index.defs.iter().map(|d| &d.detail).collect::<Vec<_>>()
    );
    // Without `[plugins]`, nothing is declared.
    let c = journey_tests::compile_case(&cases_dir().join("projects/not-imported"));
    assert!(!c.plugins.declared && c.plugins.by_name.is_empty());
}
