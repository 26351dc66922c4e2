//! Errors of the plugin host. Every error names the plugin and its version, so an operator
//! reading a log line or a dead letter knows which component to look at.

use std::fmt;

/// Which plugin an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginId {
    /// The plugin's name (from its manifest, or its file name before the manifest is read).
    pub name: String,
    /// Its version, when known.
    pub version: Option<String>,
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "plugin `{}` {}", self.name, v),
            None => write!(f, "plugin `{}`", self.name),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io(String),
    /// The bytes are not a WebAssembly component wasmtime can compile.
    Compile(String),
    /// The component was built against a contract this host does not speak.
    Contract(String),
    /// The component imports something the host does not provide.
    Import(String),
    /// Instantiation failed (out of pooled slots, start function trapped).
    Instantiate(String),
    /// The manifest it exported is unsound.
    Manifest(String),
    /// The call ran past its deadline and was stopped.
    Deadline(std::time::Duration),
    /// The instance hit its memory cap.
    Memory(u64),
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap(String),
    /// It returned something the contract forbids (an empty provider id, an absurd delay).
    Malformed(String),
    /// A channel's configuration cannot be resolved (a missing env variable or secret).
    Config(String),
    /// The call cannot run where it was made (a blocking call inside a current-thread tokio
    /// runtime).
    Runtime(String),
}

/// An error of the plugin host, naming the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The plugin.
    pub plugin: PluginId,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl PluginError {
    /// A new error about `plugin`.
    pub fn new(plugin: &PluginId, kind: ErrorKind) -> PluginError {
        PluginError {
            plugin: plugin.clone(),
            kind,
        }
    }

    /// Whether trying the same message again may succeed (the plugin's fault or a passing
    /// condition, not the component itself being unusable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Deadline(_)
                | ErrorKind::Memory(_)
                | ErrorKind::Trap(_)
                | ErrorKind::Malformed(_)
                | ErrorKind::Instantiate(_)
        )
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.plugin;
        match &self.kind {
            ErrorKind::Io(m) => write!(f, "{p}: cannot read the component: {m}"),
            ErrorKind::Compile(m) => write!(
                f,
                "{p}: not a WebAssembly component this runtime can load: {m} (build it with `cargo build --target wasm32-wasip2`)"
            ),
            ErrorKind::Contract(m) => write!(f, "{p}: {m}"),
            ErrorKind::Import(m) => write!(f, "{p}: {m}"),
            ErrorKind::Instantiate(m) => write!(f, "{p}: instantiation failed: {m}"),
            ErrorKind::Manifest(m) => write!(f, "{p}: invalid manifest: {m}"),
            ErrorKind::Deadline(d) => write!(
                f,
                "{p}: the call ran longer than its deadline of {} ms and was stopped",
                d.as_millis()
            ),
            ErrorKind::Memory(cap) => write!(
                f,
                "{p}: the instance reached its memory cap of {} MiB and was stopped",
                cap / (1024 * 1024)
            ),
            ErrorKind::Trap(m) => write!(f, "{p}: trapped: {m}"),
            ErrorKind::Malformed(m) => write!(f, "{p}: returned a malformed result: {m}"),
            ErrorKind::Config(m) => write!(f, "{p}: {m}"),
            ErrorKind::Runtime(m) => write!(f, "{p}: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}
