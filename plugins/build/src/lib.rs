//! Builds the channel-plugin components (the four connectors, the misbehaving test plugin
//! and the plugin built against contract 1.0.0) for tests, benchmarks and the CLI.
//!
//! [`components`] runs, once per process,
//!
//! ```text
//! cargo build --profile plugin --target wasm32-wasip2 \
//!     -p journey-connector-webhook -p journey-connector-email -p journey-connector-sms \
//!     -p journey-connector-push -p journey-plugin-misbehave \
//!     -p journey-plugin-contract-1-0 \
//!     --target-dir <target>/wasm-plugins
//! ```
//!
//! in the workspace, where `<target>` is `$CARGO_TARGET_DIR` or the workspace's `target`.
//! The separate target directory means a nested cargo inside `cargo test` never waits for
//! the lock the outer cargo holds on the main one. Cargo's own freshness checks make the
//! build a no-op when nothing changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The WebAssembly target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The cargo profile plugins are built with (root `Cargo.toml`, `[profile.plugin]`).
pub const PROFILE: &str = "plugin";

/// The plugins built, by name, with their package names.
pub const PLUGINS: [(&str, &str); 6] = [
    ("webhook", "journey-connector-webhook"),
    ("email", "journey-connector-email"),
    ("sms", "journey-connector-sms"),
    ("push", "journey-connector-push"),
    ("misbehave", "journey-plugin-misbehave"),
    ("contract-1-0", "journey-plugin-contract-1-0"),
];

/// The first bytes of a WebAssembly component (magic, then version 0x0d, layer 1), as
/// opposed to a core module (version 1, layer 0).
pub const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Why the components could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The Rust target is not installed.
    #[error("the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`")]
    TargetMissing,
    /// A tool could not be run at all.
    #[error("could not run `{command}`: {message}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's error.
        message: String,
    },
    /// Cargo failed.
    #[error("building the plugin components failed ({status}):\n{stderr}")]
    Cargo {
        /// How cargo exited.
        status: String,
        /// What cargo printed on standard error.
        stderr: String,
    },
    /// Cargo succeeded but a component is missing or is not a component.
    #[error("{path}: {problem}")]
    BadOutput {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The built components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Components {
    dir: PathBuf,
    paths: BTreeMap<String, PathBuf>,
}

impl Components {
    /// The `.wasm` file of the plugin named `name` (`webhook`, `email`, `sms`, `push`,
    /// `misbehave`), or `None` for another name.
    pub fn get(&self, name: &str) -> Option<&Path> {
        self.paths.get(name).map(PathBuf::as_path)
    }

    /// The `.wasm` file of the plugin named `name`.
    ///
    /// # Panics
    ///
    /// If `name` is not one of [`PLUGINS`] (a mistake in the calling test or bench).
    pub fn path(&self, name: &str) -> &Path {
        match self.get(name) {
            Some(path) => path,
            None => panic!(
                "no plugin component named {name:?}; the built ones are {:?}",
                self.paths.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// Every plugin name with its file, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.paths.iter().map(|(n, p)| (n.as_str(), p.as_path()))
    }

    /// The directory that holds the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Builds the components (once per process; later calls return the first result).
pub fn components() -> Result<&'static Components, BuildError> {
    static BUILT: OnceLock<Result<Components, BuildError>> = OnceLock::new();
    BUILT.get_or_init(build).as_ref().map_err(Clone::clone)
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// Where the components are built: `<target>/wasm-plugins`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    };
    target.join("wasm-plugins")
}

/// Whether the `wasm32-wasip2` standard library is installed for the `rustc` cargo uses.
pub fn target_installed() -> Result<bool, BuildError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| BuildError::Spawn {
            command: format!("{rustc} --print sysroot"),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BuildError::Spawn {
            command: format!("{rustc} --print sysroot"),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(Path::new(&sysroot)
        .join("lib")
        .join("rustlib")
        .join(TARGET)
        .is_dir())
}

fn build() -> Result<Components, BuildError> {
    if !target_installed()? {
        return Err(BuildError::TargetMissing);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = target_dir();
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--profile", PROFILE, "--target", TARGET])
        .args(PLUGINS.iter().flat_map(|(_, package)| ["-p", package]))
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the native build (coverage instrumentation, `target-cpu=native`)
        // would break or slow the WebAssembly one.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    let out = cmd.output().map_err(|e| BuildError::Spawn {
        command: format!("{cargo} build"),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(BuildError::Cargo {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let dir = target_dir.join(TARGET).join(PROFILE);
    let mut paths = BTreeMap::new();
    for (name, package) in PLUGINS {
        let path = dir.join(format!("{}.wasm", package.replace('-', "_")));
        check_component(&path)?;
        paths.insert(name.to_string(), path);
    }
    Ok(Components { dir, paths })
}

/// Where [`install_dist`] puts the components: `plugins/dist` in the workspace.
pub fn dist_dir() -> PathBuf {
    workspace_root().join("plugins").join("dist")
}

/// Copies every component to [`dist_dir`] as `<name>.wasm` (what the examples'
/// `[plugins.NAME] component` entries point to), replacing each file through a rename so
/// that a runtime reading the old one never sees half a file. Returns the directory.
pub fn install_dist(components: &Components) -> std::io::Result<PathBuf> {
    let dist = dist_dir();
    std::fs::create_dir_all(&dist)?;
    for (name, path) in components.iter() {
        let tmp = dist.join(format!(".{name}.wasm.{}", std::process::id()));
        std::fs::copy(path, &tmp)?;
        std::fs::rename(&tmp, dist.join(format!("{name}.wasm")))?;
    }
    Ok(dist)
}

/// Checks that `path` exists and starts with [`COMPONENT_HEADER`].
pub fn check_component(path: &Path) -> Result<(), BuildError> {
    let bad = |problem: String| BuildError::BadOutput {
        path: path.display().to_string(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if !bytes.starts_with(&COMPONENT_HEADER) {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(bad(format!(
            "not a WebAssembly component (starts with {})",
            head.join(" ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_six_components() {
        let components = match components() {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<&str> = components.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            vec![
                "contract-1-0",
                "email",
                "misbehave",
                "push",
                "sms",
                "webhook"
            ]
        );
        for (name, path) in components.iter() {
            assert!(path.is_file(), "{name}: {}", path.display());
            assert!(path.starts_with(components.dir()));
            let bytes = std::fs::read(path).expect("readable");
            assert_eq!(bytes[..8], COMPONENT_HEADER, "{name}");
            // Every component exports the contract's connector interface, of the contract it
            // was built against.
            let export: &[u8] = if name == "contract-1-0" {
                b"journey:channel/connector@1.0.0"
            } else {
                b"journey:channel/connector@1.2.0"
            };
            assert!(
                bytes.windows(export.len()).any(|w| w == export),
                "{name} does not name {}",
                String::from_utf8_lossy(export)
            );
        }
        assert_eq!(
            components.get("sms"),
            components.iter().find(|(n, _)| *n == "sms").map(|(_, p)| p)
        );
        assert_eq!(Some(components.path("push")), components.get("push"));
        assert_eq!(components.get("nope"), None);
        let unknown = std::panic::catch_unwind(|| components.path("nope").to_path_buf());
        assert!(unknown.is_err());
        // A second call returns the same, already built, set.
        assert!(std::ptr::eq(
            components,
            super::components().expect("built once")
        ));
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            BuildError::TargetMissing.to_string(),
            "the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`"
        );
        let dir = std::env::temp_dir().join(format!("journey-plugin-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let module = dir.join("module.wasm");
        std::fs::write(&module, [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]).expect("write");
        let err = check_component(&module).expect_err("a core module");
        assert!(
            err.to_string()
                .contains("not a WebAssembly component (starts with 00 61 73 6d 01 00 00 00)")
        );
        assert!(check_component(&dir.join("missing.wasm")).is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
