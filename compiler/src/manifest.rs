//! The project manifest, `journey.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The parsed manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The `[project]` table.
    pub project: ProjectSection,
    /// The `[plugins]` table: one `[plugins.NAME]` table per channel plugin, by name.
    /// `None` when the manifest has no `[plugins]` table at all (channels are then not
    /// checked against plugin manifests).
    #[serde(default)]
    pub plugins: Option<BTreeMap<String, PluginSection>>,
}

/// `[plugins.NAME]`: where a channel plugin's manifest (and component) are.
///
/// ```toml
/// [plugins.sms]
/// manifest = "../../plugins/manifests/sms.json"   # relative to journey.toml
/// component = "../../plugins/dist/sms.wasm"       # optional; read by the runtime only
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    /// The plugin manifest in its JSON form (what `journey plugin check X.wasm --format
    /// json` prints), relative to `journey.toml`, with the span of the value.
    pub manifest: Spanned<String>,
    /// The WebAssembly component, relative to `journey.toml`, if given; the compiler does
    /// not read it.
    #[serde(default)]
    pub component: Option<Spanned<String>>,
}

/// `[project]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// Project name.
    pub name: String,
    /// Default customer time zone (IANA name).
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Project version, informative.
    #[serde(default)]
    pub version: Option<String>,
    /// Free text, informative.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_tz() -> String {
    "UTC".to_string()
}

/// Parses a manifest; the error carries a byte range when TOML gives one.
pub fn parse(text: &str) -> Result<Manifest, (String, Option<std::ops::Range<usize>>)> {
    toml::from_str::<Manifest>(text).map_err(|e| (e.message().to_string(), e.span()))
}
