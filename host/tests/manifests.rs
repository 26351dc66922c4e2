//! The manifest files the compiler reads (`plugins/manifests/*.json`) are exactly what the
//! built connectors export. Regenerate them with
//! `JOURNEY_UPDATE_MANIFESTS=1 cargo test -p journey-host --test manifests`
//! (or `journey plugin check COMPONENT.wasm --format json > FILE`).

mod common;

use journey_plugin_api::Manifest;

#[test]
fn committed_manifests_match_the_components() {
    let h = common::host();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/manifests");
    let update = std::env::var_os("JOURNEY_UPDATE_MANIFESTS").is_some();
    let mut stale = Vec::new();
    for name in ["webhook", "email", "sms", "push"] {
        let exported = common::load(&h, name).manifest().clone();
        let path = dir.join(format!("{name}.json"));
        if update {
            std::fs::write(&path, exported.to_json() + "\n").expect("write manifest");
            continue;
        }
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let committed =
            Manifest::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if committed != exported {
            stale.push(format!(
                "{}:\n--- committed\n{}\n+++ exported by the component\n{}",
                path.display(),
                committed.to_json(),
                exported.to_json()
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "stale manifest files; rerun with JOURNEY_UPDATE_MANIFESTS=1:\n{}",
        stale.join("\n")
    );
}
