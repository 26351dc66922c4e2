//! Whatever bytes arrive as a plugin, loading them ends in a plugin or in an error that
//! names the plugin, never in a panic: the real components, truncated and with bytes
//! changed. What does load is used once, as the runtime would: its manifest is read and a
//! message delivered, and that too ends in an outcome or an error.

mod common;

use std::sync::OnceLock;

use journey_host::PluginHost;
use proptest::prelude::*;

/// The built components' bytes, by name.
fn components() -> &'static Vec<(&'static str, Vec<u8>)> {
    static BYTES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    BYTES.get_or_init(|| {
        ["misbehave", "webhook"]
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(common::component(name)).expect("component bytes");
                (name, bytes)
            })
            .collect()
    })
}

fn host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(common::host)
}

proptest! {
    // Few cases: a damaged component that still validates is compiled by Cranelift.
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn damaged_components_load_or_are_refused_never_a_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (name, bytes) = &components()[pick.index(components().len())];
        let mut bytes = bytes.clone();
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        for (at, value) in &edits {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
        }
        match host().load(name, &bytes) {
            Ok(plugin) => {
                // Usable as the runtime would use it, or failing with an error.
                if let Ok(mut inst) = plugin.instantiate() {
                    let setup = common::setup("robust", &[("mode", "ok")], &[], &[]);
                    let _ = inst.deliver(&setup, &common::message(&[("text", "x")], &[], &[]));
                }
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains(name), "the error names the plugin: {}", text);
            }
        }
    }
}

/// The undamaged components load: the property above is not vacuous.
#[test]
fn the_undamaged_components_load() {
    for (name, bytes) in components() {
        let plugin = host()
            .load(name, bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plugin.manifest().name, *name);
    }
}
