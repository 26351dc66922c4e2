//! The project manifest, `journey.toml`.

use serde::Deserialize;

/// The parsed manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The `[project]` table.
    pub project: ProjectSection,
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
