//! Loading plugins and calling them: the wasmtime engine with its pooling allocator and epoch
//! ticker, the artifact cache, the contract check before instantiation, and sandboxed calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use journey_plugin_api::{self as api, Manifest, Message, Outcome};
use wasmtime::component::TypedFunc;
use wasmtime::component::{
    Component, ComponentExportIndex, Func, HasSelf, Linker, types::ComponentItem,
};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use crate::bindings::journey::channel::types as wit;
use crate::bindings::{
    ChannelPluginCore as ChannelPlugin, ChannelPluginCorePre as ChannelPluginPre,
};
use crate::convert;
use crate::error::{ErrorKind, PluginError, PluginId};
use crate::state::{ChannelSetup, HttpExchange, LogLine, State, Transport};

/// How often the epoch ticker advances; a call's deadline is counted in these ticks.
const TICK: Duration = Duration::from_millis(1);

/// Set to `1`, the host writes `/tmp/perf-PID.map` so that `perf` names the functions of
/// plugins (profiling a slow connector); off by default.
pub const PERF_MAP_VAR: &str = "JOURNEY_PLUGIN_PERFMAP";

/// The longest `retry-after` a plugin may ask for; longer is a malformed result.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// How much of each of a pooled instance's tables is zeroed in place when the instance is
/// dropped, rather than handed back to the kernel (`madvise`) and faulted in again by the
/// next instance: 64 KiB, 8,192 function references, more than a connector's tables hold.
/// A fresh instance took 17-22 µs without it, 10-15 µs with it (`host/benches/deliver.rs`,
/// `--only fresh`, alternating runs); keeping linear memory resident as well made no
/// difference. It costs at most this much resident memory per pooled table.
const TABLE_KEEP_RESIDENT: usize = 64 * 1024;

/// The longest text a plugin may return (a provider id, a reason).
const MAX_TEXT: usize = 16 * 1024;

/// How the host sandboxes and runs plugins.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Linear memory one instance may use, in bytes (default 64 MiB).
    pub memory_limit: u64,
    /// The longest a `deliver` (or `manifest`) call may run, HTTP included (default 10 s).
    pub call_deadline: Duration,
    /// The longest one outgoing HTTP request may take (default 5 s).
    pub http_timeout: Duration,
    /// Instances that may exist at once, all plugins together (pooled slots; default 64).
    pub max_instances: u32,
    /// Where compiled components are kept, by content hash (`None`: compile every load).
    pub cache_dir: Option<PathBuf>,
    /// Where plugins' HTTP requests go.
    pub transport: Transport,
    /// Whether a plugin that exports `packed` (contract 1.2) gets its messages packed, all
    /// their text in one string, rather than through `connector.deliver` and
    /// `batch.deliver-batch` (default true: the same messages, a lone 1 KB message about
    /// 1.4× and a batch's about 1.6× faster; false is for comparing the two).
    pub packed_messages: bool,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            memory_limit: 64 * 1024 * 1024,
            call_deadline: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
            max_instances: 64,
            cache_dir: None,
            transport: Transport::Network,
            packed_messages: true,
        }
    }
}

/// Advances the engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shared {
    engine: Engine,
    linker: Linker<State>,
    config: HostConfig,
    _ticker: Ticker,
}

/// The plugin host: one wasmtime engine, shared by every plugin it loads.
#[derive(Clone)]
pub struct PluginHost {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

fn host_error(context: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::new(
        &PluginId {
            name: "(host)".to_string(),
            version: None,
        },
        ErrorKind::Instantiate(format!("{context}: {e}")),
    )
}

impl PluginHost {
    /// A host with `config`: compiles with Cranelift, allocates instances from a pool, stops
    /// calls at their deadline through epoch interruption.
    pub fn new(config: HostConfig) -> Result<PluginHost, PluginError> {
        let mut pool = PoolingAllocationConfig::new();
        let slots = config.max_instances.max(1);
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(4))
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            // The store limiter enforces `memory_limit` with a clear error; the pool's slot
            // is a little larger so that the limiter, not the pool, is what says no.
            .max_memory_size((config.memory_limit as usize).saturating_mul(2))
            .table_keep_resident(TABLE_KEEP_RESIDENT);
        let mut wt = Config::new();
        wt.wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os(PERF_MAP_VAR).is_some_and(|v| v == "1") {
            // Names plugins' compiled functions for `perf report` (/tmp/perf-PID.map).
            wt.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&wt).map_err(|e| host_error("configuring wasmtime", e))?;
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| host_error("linking WASI", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| host_error("linking wasi:http", e))?;
        ChannelPlugin::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| host_error("linking the journey:channel host interface", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("journey-plugin-epoch".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| host_error("starting the epoch ticker", e))?
        };
        Ok(PluginHost {
            shared: Arc::new(Shared {
                engine,
                linker,
                config,
                _ticker: Ticker {
                    stop,
                    thread: Some(thread),
                },
            }),
        })
    }

    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.shared.config
    }

    /// Loads a component from a file (see [`PluginHost::load`]).
    pub fn load_file(&self, path: &Path) -> Result<Plugin, PluginError> {
        let hint = PluginId {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            version: None,
        };
        let bytes = std::fs::read(path).map_err(|e| {
            PluginError::new(&hint, ErrorKind::Io(format!("{}: {e}", path.display())))
        })?;
        self.load(&hint.name, &bytes)
    }

    /// Loads a component: compiles it (or takes it from the cache), checks the contract
    /// version it exports and every import it needs before instantiating anything, then
    /// reads and checks its manifest in a throwaway instance.
    pub fn load(&self, name_hint: &str, bytes: &[u8]) -> Result<Plugin, PluginError> {
        let mut id = PluginId {
            name: name_hint.to_string(),
            version: None,
        };
        let started = Instant::now();
        let hash = xxhash_rust::xxh3::xxh3_128(bytes);
        let (component, cached) = self.compile(&id, bytes, hash)?;
        let compile_time = started.elapsed();
        check_contract(&self.shared.engine, &component, &id)?;
        let pre = self
            .shared
            .linker
            .instantiate_pre(&component)
            .and_then(ChannelPluginPre::new)
            .map_err(|e| PluginError::new(&id, ErrorKind::Import(format!("{e:#}"))))?;
        let exports = Exports {
            batch: batch_export(&component),
            packed: packed_exports(&component),
        };
        let mut probe = self.instantiate(&pre, &exports, &id)?;
        probe.check_batch_type()?;
        let manifest = probe.manifest()?;
        id.name = manifest.name.clone();
        id.version = Some(manifest.version.clone());
        let problems = manifest.problems();
        if !problems.is_empty() {
            let text: Vec<String> = problems.into_iter().map(|p| p.0).collect();
            return Err(PluginError::new(&id, ErrorKind::Manifest(text.join("; "))));
        }
        Ok(Plugin {
            id,
            manifest,
            pre,
            exports,
            host: self.clone(),
            hash,
            cached,
            compile_time,
        })
    }

    /// A fresh instance of `pre` in its own store, from the pool, with this host's limits;
    /// the functions of `exports` are looked up (the type of `deliver-batch` is checked
    /// once, at load; those of `packed`, at each instantiation).
    fn instantiate(
        &self,
        pre: &ChannelPluginPre<State>,
        exports: &Exports,
        id: &PluginId,
    ) -> Result<Instance, PluginError> {
        let config = &self.shared.config;
        let limits = crate::state::MemoryCap {
            bytes: config.memory_limit as usize,
            refused: false,
        };
        let mut store = Store::new(
            &self.shared.engine,
            State::new(limits, config.transport, config.http_timeout),
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(ticks(config.call_deadline));
        let instantiate =
            |e: wasmtime::Error| PluginError::new(id, ErrorKind::Instantiate(format!("{e:#}")));
        let instance = on_this_thread(pre.instance_pre().instantiate_async(&mut store), true)
            .map(|(instance, _)| instance)
            .map_err(|kind| PluginError::new(id, kind))?
            .map_err(instantiate)?;
        let bindings = ChannelPlugin::new(&mut store, &instance).map_err(instantiate)?;
        let packed = match &exports.packed {
            Some(p) if config.packed_messages => Some(packed_funcs(&mut store, &instance, p, id)?),
            _ => None,
        };
        let batch = match &exports.batch {
            None => None,
            Some(ix) => Some(instance.get_func(&mut store, ix).ok_or_else(|| {
                PluginError::new(
                    id,
                    ErrorKind::Contract(format!(
                        "its `{}/batch` export has no function `deliver-batch`",
                        api::CONTRACT_PACKAGE
                    )),
                )
            })?),
        };
        Ok(Instance {
            store,
            bindings,
            batch,
            packed,
            setup_id: 0,
            id: id.clone(),
            deadline: config.call_deadline,
            memory_limit: config.memory_limit,
            poisoned: false,
            waits: false,
        })
    }

    fn compile(
        &self,
        id: &PluginId,
        bytes: &[u8],
        hash: u128,
    ) -> Result<(Component, bool), PluginError> {
        let engine = &self.shared.engine;
        let compile = || {
            Component::new(engine, bytes)
                .map_err(|e| PluginError::new(id, ErrorKind::Compile(format!("{e:#}"))))
        };
        let Some(dir) = &self.shared.config.cache_dir else {
            return Ok((compile()?, false));
        };
        let path = dir.join(format!("{hash:032x}-{}.cwasm", compat_key(engine)));
        if path.is_file()
            && let Ok(c) = deserialize_cached(engine, &path)
        {
            return Ok((c, true));
        }
        let component = compile()?;
        // A failure to write the cache only costs a compilation next time.
        if let Ok(artifact) = component.serialize()
            && std::fs::create_dir_all(dir).is_ok()
        {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, sealed(artifact)).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        Ok((component, false))
    }
}

/// A short, stable key for "artifacts this engine can load": wasmtime's own compatibility
/// hash (version, target, settings) through a fixed-key hasher.
fn compat_key(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The length of the seal after a cached artifact: the xxh3-128 hash of the artifact's
/// bytes, little-endian.
const SEAL: usize = 16;

/// A compiled artifact as the cache keeps it: followed by its seal.
fn sealed(mut artifact: Vec<u8>) -> Vec<u8> {
    let seal = xxhash_rust::xxh3::xxh3_128(&artifact).to_le_bytes();
    artifact.extend_from_slice(&seal);
    artifact
}

/// The artifact in a cache file's bytes, if its seal matches; `None` for a file altered
/// since it was written (a flipped bit, a torn write, a truncation, another program's file).
fn unsealed(file: &[u8]) -> Option<&[u8]> {
    let (artifact, seal) = file.split_at_checked(file.len().checked_sub(SEAL)?)?;
    (xxhash_rust::xxh3::xxh3_128(artifact).to_le_bytes() == seal).then_some(artifact)
}

/// Loads a compiled artifact from the host's cache. The file is read into memory rather than
/// mapped, so that a cache file truncated or replaced behind the runtime's back can never
/// pull code pages from under a running plugin, and its seal is checked before wasmtime sees
/// it: wasmtime checks an artifact's header, not its code, which it runs as it finds it.
#[allow(unsafe_code)]
fn deserialize_cached(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    let file = std::fs::read(path)?;
    let Some(artifact) = unsealed(&file) else {
        wasmtime::bail!("the cached artifact `{}` is damaged", path.display());
    };
    // SAFETY: wasmtime requires that the bytes were produced by `Component::serialize` of a
    // compatible engine and not altered since: the cache directory belongs to the runtime
    // (only `PluginHost::compile` writes it, through a rename), its file names carry the
    // content hash of the source component and the engine's compatibility key, the seal
    // (a 128-bit hash of the artifact written with it) shows the bytes are the ones written,
    // and wasmtime itself checks the artifact's header and rejects other versions and
    // configurations.
    unsafe { Component::deserialize(engine, artifact) }
}

/// Checks, before any instantiation, that the component exports a `connector` of a
/// contract version this host speaks and imports nothing but WASI and the host interface.
fn check_contract(
    engine: &Engine,
    component: &Component,
    id: &PluginId,
) -> Result<(), PluginError> {
    let ty = component.component_type();
    let prefix = format!("{}/connector@", api::CONTRACT_PACKAGE);
    let mut found = None;
    for (name, item) in ty.exports(engine) {
        if let Some(version) = name.strip_prefix(&prefix) {
            found = Some((
                version.to_string(),
                matches!(item.ty, ComponentItem::ComponentInstance(_)),
            ));
        }
    }
    match found {
        None => {
            return Err(PluginError::new(
                id,
                ErrorKind::Contract(format!(
                    "the component does not export `{}/connector`; is it a channel plugin built with journey-plugin-sdk?",
                    api::CONTRACT_PACKAGE
                )),
            ));
        }
        Some((version, _)) if !api::contract_compatible(&version) => {
            return Err(PluginError::new(
                id,
                ErrorKind::Contract(format!(
                    "built against contract {}@{version}; this runtime speaks {}@{} (same major version, minor not newer)",
                    api::CONTRACT_PACKAGE,
                    api::CONTRACT_PACKAGE,
                    api::CONTRACT_VERSION
                )),
            ));
        }
        Some((_, false)) => {
            return Err(PluginError::new(
                id,
                ErrorKind::Contract("its `connector` export is not an interface".to_string()),
            ));
        }
        Some(_) => {}
    }
    for (name, _) in ty.imports(engine) {
        let ours = name
            .strip_prefix(&format!("{}/", api::CONTRACT_PACKAGE))
            .and_then(|rest| rest.split_once('@'))
            .is_some_and(|(iface, v)| {
                matches!(iface, "host" | "types") && api::contract_compatible(v)
            });
        if !(ours || name.starts_with("wasi:")) {
            return Err(PluginError::new(
                id,
                ErrorKind::Import(format!(
                    "it imports `{name}`, which a channel plugin cannot have: plugins get `{}/host`, outgoing HTTP and WASI, nothing else",
                    api::CONTRACT_PACKAGE
                )),
            ));
        }
    }
    Ok(())
}

/// A loaded plugin, ready to be instantiated.
#[derive(Clone)]
pub struct Plugin {
    id: PluginId,
    manifest: Manifest,
    pre: ChannelPluginPre<State>,
    /// Where its optional functions are.
    exports: Exports,
    host: PluginHost,
    hash: u128,
    cached: bool,
    compile_time: Duration,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .field("hash", &format_args!("{:032x}", self.hash))
            .finish_non_exhaustive()
    }
}

/// What one call produced besides its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The plugin's answer.
    pub outcome: Outcome,
    /// Lines it logged.
    pub logs: Vec<LogLine>,
    /// HTTP requests it made.
    pub http: Vec<HttpExchange>,
    /// How long the call took.
    pub elapsed: Duration,
}

/// A failed call, with what the plugin did before failing.
#[derive(Debug, Clone)]
pub struct CallFailure {
    /// Why it failed.
    pub error: Box<PluginError>,
    /// Lines it logged.
    pub logs: Vec<LogLine>,
    /// HTTP requests it made.
    pub http: Vec<HttpExchange>,
}

/// What a call for several messages produced ([`Instance::deliver_batch`]).
#[derive(Debug, Clone, Default)]
pub struct BatchDelivery {
    /// One per message, in order: the plugin's answer, or why there is none.
    pub results: Vec<Result<Outcome, Box<PluginError>>>,
    /// Lines the plugin logged.
    pub logs: Vec<LogLine>,
    /// HTTP requests it made.
    pub http: Vec<HttpExchange>,
    /// Calls made into the component: 1 for a plugin with `deliver-batch`, else one per
    /// message reached.
    pub calls: u32,
    /// How long it took.
    pub elapsed: Duration,
}

/// `n` results, each the failure `error`.
fn all_failed(n: usize, error: &PluginError) -> Vec<Result<Outcome, Box<PluginError>>> {
    (0..n).map(|_| Err(Box::new(error.clone()))).collect()
}

impl Plugin {
    /// Name and version.
    pub fn id(&self) -> &PluginId {
        &self.id
    }

    /// Its checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The xxh3-128 hash of the component's bytes (the cache key).
    pub fn content_hash(&self) -> u128 {
        self.hash
    }

    /// Whether the compiled code came from the artifact cache.
    pub fn from_cache(&self) -> bool {
        self.cached
    }

    /// Time spent compiling (or loading from the cache).
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// A fresh instance in its own store, from the pool.
    pub fn instantiate(&self) -> Result<Instance, PluginError> {
        self.host.instantiate(&self.pre, &self.exports, &self.id)
    }

    /// Whether it exports `batch.deliver-batch` (contract 1.1): [`Instance::deliver_batch`]
    /// then makes one call for all its messages, instead of one per message.
    pub fn batches(&self) -> bool {
        self.exports.batch.is_some()
    }

    /// Whether it exports `packed` (contract 1.2) and its instances use it
    /// ([`HostConfig::packed_messages`]): calls then carry each message's text in one
    /// string.
    pub fn packs(&self) -> bool {
        self.exports.packed.is_some() && self.host.shared.config.packed_messages
    }
}

fn ticks(d: Duration) -> u64 {
    (d.as_micros() / TICK.as_micros().max(1)).max(1) as u64
}

/// One instance of a plugin. Reused across calls while they succeed; after a trap, a
/// deadline or a memory-cap stop it is poisoned and must be replaced.
pub struct Instance {
    store: Store<State>,
    bindings: ChannelPlugin,
    /// Its `deliver-batch`, if it has one; the plugin's load checked its type.
    batch: Option<Func>,
    /// Its `packed` functions, if it has them and the host uses them.
    packed: Option<PackedFuncs>,
    /// The number `packed` calls give the channel set-up they serve: it changes when the
    /// set-up does.
    setup_id: u64,
    id: PluginId,
    deadline: Duration,
    memory_limit: u64,
    poisoned: bool,
    /// Whether this instance's last call waited (on HTTP or a clock): the next call then
    /// goes to the scheduler at once instead of being tried straight through first.
    waits: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// Whether the instance can take another call.
    pub fn is_usable(&self) -> bool {
        !self.poisoned
    }

    fn classify(&mut self, e: wasmtime::Error) -> PluginError {
        self.poisoned = true;
        let text = format!("{e:#}");
        let kind = if matches!(
            e.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        ) {
            ErrorKind::Deadline(self.deadline)
        } else if self.store.data().limits.refused {
            ErrorKind::Memory(self.memory_limit)
        } else {
            let stderr = self.store.data().stderr_text();
            let trap = match e.downcast_ref::<wasmtime::Trap>() {
                Some(t) => t.to_string(),
                None => text.lines().next().unwrap_or_default().to_string(),
            };
            if stderr.is_empty() {
                ErrorKind::Trap(trap)
            } else {
                ErrorKind::Trap(format!("{trap}; it wrote: {}", last_lines(&stderr, 3)))
            }
        };
        PluginError::new(&self.id, kind)
    }

    /// Calls `manifest()`; host imports answer nothing during this call. Blocks on this
    /// thread's plugin runtime (see [`Instance::deliver`]).
    pub fn manifest(&mut self) -> Result<Manifest, PluginError> {
        match on_this_thread(self.manifest_async(), true) {
            Ok((result, _)) => result,
            Err(kind) => Err(PluginError::new(&self.id, kind)),
        }
    }

    /// [`Instance::manifest`] for callers that are already async.
    pub async fn manifest_async(&mut self) -> Result<Manifest, PluginError> {
        self.store.data_mut().serving = false;
        self.store.set_epoch_deadline(ticks(self.deadline));
        let call = self
            .bindings
            .journey_channel_connector()
            .call_manifest(&mut self.store);
        let result = within(Instant::now(), self.deadline, std::pin::pin!(call)).await;
        self.settle(result).map(convert::manifest_from_wit)
    }

    /// A call's result in the host's terms: a trap classified, or `None` (the call outlived
    /// its deadline while waiting, on HTTP or a clock, rather than computing) as a deadline.
    /// Either failure poisons the instance.
    fn settle<T>(&mut self, result: Option<wasmtime::Result<T>>) -> Result<T, PluginError> {
        match result {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(self.classify(e)),
            None => {
                self.poisoned = true;
                Err(PluginError::new(
                    &self.id,
                    ErrorKind::Deadline(self.deadline),
                ))
            }
        }
    }

    /// Delivers one message for the channel `setup` describes.
    ///
    /// The call runs on a fiber driven by this thread's current-thread tokio runtime (made
    /// on first use), so the tasks `wasi:http` starts for a request run here too, without
    /// waking another thread. From a task of a multi-thread tokio runtime it hands the
    /// worker over while it blocks (`block_in_place`); inside a current-thread runtime it
    /// fails with [`ErrorKind::Runtime`] instead of stalling it: use
    /// [`Instance::deliver_async`] there.
    pub fn deliver(
        &mut self,
        setup: &Arc<ChannelSetup>,
        message: &Message,
    ) -> Result<Delivery, CallFailure> {
        let straight = !self.waits;
        // Pinned here and lent down: the future is over a KB, and moving it down the calls
        // below (or boxing it) would copy it on every call.
        let ran = {
            let call = std::pin::pin!(self.deliver_async(setup, message));
            on_this_thread(call, straight)
        };
        match ran {
            Ok((result, waited)) => {
                self.waits = waited;
                result
            }
            Err(kind) => Err(CallFailure {
                error: Box::new(PluginError::new(&self.id, kind)),
                logs: Vec::new(),
                http: Vec::new(),
            }),
        }
    }

    /// [`Instance::deliver`] for callers that are already async, on a tokio runtime with its
    /// time driver enabled. The deadline covers the whole call: computing (epoch
    /// interruption) and waiting (a timer on the runtime).
    pub async fn deliver_async(
        &mut self,
        setup: &Arc<ChannelSetup>,
        message: &Message,
    ) -> Result<Delivery, CallFailure> {
        if self.poisoned {
            return Err(CallFailure {
                error: Box::new(self.reused()),
                logs: Vec::new(),
                http: Vec::new(),
            });
        }
        let started = self.begin(setup, self.deadline);
        let packed = self.packed.and_then(|f| Some((f, pack_one(message)?)));
        let result = match packed {
            Some((funcs, (text, packed))) => {
                let args = (self.setup_id, text, packed);
                let call = funcs.deliver.call_async(&mut self.store, args);
                within(started, self.deadline, std::pin::pin!(call))
                    .await
                    .map(|r| r.map(|(outcome,)| outcome))
            }
            _ => {
                let lists = convert::text_lists(message);
                let fields = convert::lend_fields(message, &lists);
                let call = self
                    .bindings
                    .journey_channel_connector()
                    .call_deliver(&mut self.store, convert::message_to_wit(message, &fields));
                within(started, self.deadline, std::pin::pin!(call)).await
            }
        };
        let (logs, http) = self.finish();
        let outcome = match self.settle(result) {
            Ok(o) => convert::outcome_from_wit(o),
            Err(error) => {
                let error = Box::new(error);
                return Err(CallFailure { error, logs, http });
            }
        };
        if let Some(why) = malformed(&outcome) {
            return Err(CallFailure {
                error: Box::new(PluginError::new(&self.id, ErrorKind::Malformed(why))),
                logs,
                http,
            });
        }
        Ok(Delivery {
            outcome,
            logs,
            http,
            elapsed: started.elapsed(),
        })
    }

    /// Delivers several messages of the channel `setup` describes.
    ///
    /// A plugin with `batch.deliver-batch` ([`Plugin::batches`]) gets them all in one call,
    /// under a deadline of one call's per message; its answer must have one outcome per
    /// message, or every message gets [`ErrorKind::Malformed`]. A plugin without it (built
    /// against contract 1.0) gets one `deliver` call per message, until a call fails in a
    /// way that stops the instance: the messages after it get that error.
    ///
    /// Blocks on this thread's plugin runtime, as [`Instance::deliver`] does.
    pub fn deliver_batch(
        &mut self,
        setup: &Arc<ChannelSetup>,
        messages: &[Message],
    ) -> BatchDelivery {
        let straight = !self.waits;
        let ran = {
            let call = std::pin::pin!(self.deliver_batch_async(setup, messages));
            on_this_thread(call, straight)
        };
        match ran {
            Ok((result, waited)) => {
                self.waits = waited;
                result
            }
            Err(kind) => BatchDelivery {
                results: all_failed(messages.len(), &PluginError::new(&self.id, kind)),
                ..BatchDelivery::default()
            },
        }
    }

    /// [`Instance::deliver_batch`] for callers that are already async (see
    /// [`Instance::deliver_async`]).
    pub async fn deliver_batch_async(
        &mut self,
        setup: &Arc<ChannelSetup>,
        messages: &[Message],
    ) -> BatchDelivery {
        let Some(func) = self.batch else {
            return self.deliver_each(setup, messages).await;
        };
        if self.poisoned {
            return BatchDelivery {
                results: all_failed(messages.len(), &self.reused()),
                ..BatchDelivery::default()
            };
        }
        if messages.is_empty() {
            return BatchDelivery::default();
        }
        let deadline = self
            .deadline
            .saturating_mul(u32::try_from(messages.len()).unwrap_or(u32::MAX));
        let started = self.begin(setup, deadline);
        let packed = self.packed.and_then(|f| Some((f, pack_all(messages)?)));
        let result = match packed {
            Some((funcs, (text, packed))) => {
                let args = (self.setup_id, text, packed);
                let call = funcs.batch.call_async(&mut self.store, args);
                within(started, deadline, std::pin::pin!(call)).await
            }
            None => {
                let lists: Vec<Vec<Vec<&str>>> = messages.iter().map(convert::text_lists).collect();
                let fields: Vec<convert::LentFields<'_>> = messages
                    .iter()
                    .zip(&lists)
                    .map(|(m, l)| convert::lend_fields(m, l))
                    .collect();
                let lent: Vec<wit::Message<'_>> = messages
                    .iter()
                    .zip(&fields)
                    .map(|(m, f)| convert::message_to_wit(m, f))
                    .collect();
                match batch_typed(&self.store, func) {
                    Ok(typed) => {
                        let call = typed.call_async(&mut self.store, (lent.as_slice(),));
                        within(started, deadline, std::pin::pin!(call)).await
                    }
                    Err(e) => Some(Err(e)),
                }
            }
        };
        let (logs, http) = self.finish();
        let results = match self.settle(result) {
            Err(mut error) => {
                // The batch's own deadline, not one call's.
                if let ErrorKind::Deadline(d) = &mut error.kind {
                    *d = deadline;
                }
                all_failed(messages.len(), &error)
            }
            Ok((outcomes,)) if outcomes.len() != messages.len() => {
                let why = format!(
                    "`deliver-batch` answered {} outcomes for {} messages",
                    outcomes.len(),
                    messages.len()
                );
                all_failed(
                    messages.len(),
                    &PluginError::new(&self.id, ErrorKind::Malformed(why)),
                )
            }
            Ok((outcomes,)) => outcomes
                .into_iter()
                .map(|o| {
                    let outcome = convert::outcome_from_wit(o);
                    match malformed(&outcome) {
                        None => Ok(outcome),
                        Some(why) => Err(Box::new(PluginError::new(
                            &self.id,
                            ErrorKind::Malformed(why),
                        ))),
                    }
                })
                .collect(),
        };
        BatchDelivery {
            results,
            logs,
            http,
            calls: 1,
            elapsed: started.elapsed(),
        }
    }

    /// One `deliver` call per message, for a plugin without `batch`.
    async fn deliver_each(
        &mut self,
        setup: &Arc<ChannelSetup>,
        messages: &[Message],
    ) -> BatchDelivery {
        let started = Instant::now();
        let mut out = BatchDelivery::default();
        for message in messages {
            if self.poisoned {
                // The call that stopped the instance gave the reason the others share.
                let error = match out.results.last() {
                    Some(Err(e)) => e.clone(),
                    _ => Box::new(self.reused()),
                };
                out.results.push(Err(error));
                continue;
            }
            out.calls += 1;
            match self.deliver_async(setup, message).await {
                Ok(d) => {
                    out.results.push(Ok(d.outcome));
                    out.logs.extend(d.logs);
                    out.http.extend(d.http);
                }
                Err(f) => {
                    out.results.push(Err(f.error));
                    out.logs.extend(f.logs);
                    out.http.extend(f.http);
                }
            }
        }
        out.elapsed = started.elapsed();
        out
    }

    /// Refuses, at load, a `batch` export whose `deliver-batch` does not have the contract's
    /// type (each call checks it again, as it must to call it without `unsafe`).
    fn check_batch_type(&self) -> Result<(), PluginError> {
        match self.batch {
            Some(func) => batch_typed(&self.store, func).map(|_| ()).map_err(|e| {
                PluginError::new(
                    &self.id,
                    ErrorKind::Contract(format!(
                        "its `deliver-batch` does not have the contract's type: {e:#}"
                    )),
                )
            }),
            None => Ok(()),
        }
    }

    /// The error of a call on an instance that failed earlier.
    fn reused(&self) -> PluginError {
        PluginError::new(
            &self.id,
            ErrorKind::Instantiate("the instance failed earlier and cannot be reused".into()),
        )
    }

    /// Prepares the store for a call serving `setup` under `deadline`; the call's start.
    fn begin(&mut self, setup: &Arc<ChannelSetup>, deadline: Duration) -> Instant {
        let started = Instant::now();
        let data = self.store.data_mut();
        data.serving = true;
        // The set-up is immutable behind its `Arc`, and the one of the last call is held
        // here, so its address cannot be reused by another: the same `Arc` is the same
        // configuration and secrets.
        if !Arc::ptr_eq(&data.hooks.setup, setup) {
            self.setup_id = self.setup_id.wrapping_add(1);
        }
        data.hooks.setup = setup.clone();
        data.logs.clear();
        if let Ok(mut x) = data.hooks.exchanges.lock() {
            x.clear();
        }
        self.store.set_epoch_deadline(ticks(deadline));
        started
    }

    /// Ends a call: what it logged and the HTTP exchanges it made.
    fn finish(&mut self) -> (Vec<LogLine>, Vec<HttpExchange>) {
        let data = self.store.data_mut();
        data.serving = false;
        let logs = std::mem::take(&mut data.logs);
        let http = data
            .hooks
            .exchanges
            .lock()
            .map(|mut x| std::mem::take(&mut *x))
            .unwrap_or_default();
        (logs, http)
    }
}

/// The typed `deliver-batch` function: the message list is lent, as `deliver`'s message is.
type BatchFunc<'a> =
    wasmtime::component::TypedFunc<(&'a [wit::Message<'a>],), (Vec<wit::Outcome>,)>;

/// `func` as [`BatchFunc`], or why its type is not the contract's.
fn batch_typed<'a>(store: &Store<State>, func: Func) -> wasmtime::Result<BatchFunc<'a>> {
    func.typed(store)
}

/// Where a component's optional functions are.
#[derive(Clone)]
struct Exports {
    /// `batch.deliver-batch` (contract 1.1).
    batch: Option<ComponentExportIndex>,
    /// `packed.deliver` and `packed.deliver-batch` (contract 1.2).
    packed: Option<PackedExports>,
}

/// Where a component's `packed` functions are.
#[derive(Clone)]
struct PackedExports {
    deliver: ComponentExportIndex,
    batch: ComponentExportIndex,
}

/// An instance's `packed` functions, typed. Their arguments are owned (a lent argument's
/// lifetime would be part of the type, which would then be checked again on every call).
#[derive(Clone, Copy)]
struct PackedFuncs {
    deliver: TypedFunc<(u64, String, convert::packed::PackedMessage), (wit::Outcome,)>,
    batch: TypedFunc<(u64, String, Vec<convert::packed::PackedMessage>), (Vec<wit::Outcome>,)>,
}

/// Where function `func` of the contract's interface `iface` is, if the component exports
/// it.
fn export_func(component: &Component, iface: &str, func: &str) -> Option<ComponentExportIndex> {
    let iface = component.get_export_index(
        None,
        format!(
            "{}/{iface}@{}",
            api::CONTRACT_PACKAGE,
            api::CONTRACT_VERSION
        ),
    )?;
    component.get_export_index(Some(&iface), func)
}

/// Where a component's `packed` functions are, if it exports the interface (contract 1.2).
fn packed_exports(component: &Component) -> Option<PackedExports> {
    Some(PackedExports {
        deliver: export_func(component, "packed", "deliver")?,
        batch: export_func(component, "packed", "deliver-batch")?,
    })
}

/// The `packed` functions of `instance`, typed; a function missing or of another type than
/// the contract's is a contract error.
fn packed_funcs(
    store: &mut Store<State>,
    instance: &wasmtime::component::Instance,
    at: &PackedExports,
    id: &PluginId,
) -> Result<PackedFuncs, PluginError> {
    Ok(PackedFuncs {
        deliver: packed_func(store, instance, &at.deliver, id, "deliver")?,
        batch: packed_func(store, instance, &at.batch, id, "deliver-batch")?,
    })
}

/// The `packed` function `what` of `instance`, at `ix`, typed `P -> R`; one missing or of
/// another type is a contract error.
fn packed_func<P, R>(
    store: &mut Store<State>,
    instance: &wasmtime::component::Instance,
    ix: &ComponentExportIndex,
    id: &PluginId,
    what: &str,
) -> Result<TypedFunc<P, R>, PluginError>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let refused = |why: String| {
        PluginError::new(
            id,
            ErrorKind::Contract(format!(
                "its `{}/packed` export's `{what}` {why}",
                api::CONTRACT_PACKAGE
            )),
        )
    };
    let func = instance
        .get_func(&mut *store, ix)
        .ok_or_else(|| refused("is not a function".to_string()))?;
    func.typed(&*store)
        .map_err(|e| refused(format!("does not have the contract's type: {e:#}")))
}

/// `message` packed in its text; `None` when it would pass 4 GiB.
fn pack_one(message: &Message) -> Option<(String, convert::packed::PackedMessage)> {
    let mut packer = convert::Packer::for_messages(std::slice::from_ref(message));
    let packed = packer.pack(message)?;
    Some((packer.into_text(), packed))
}

/// `messages` packed in one text; `None` when it would pass 4 GiB.
fn pack_all(messages: &[Message]) -> Option<(String, Vec<convert::packed::PackedMessage>)> {
    let mut packer = convert::Packer::for_messages(messages);
    let packed = messages
        .iter()
        .map(|m| packer.pack(m))
        .collect::<Option<Vec<_>>>()?;
    Some((packer.into_text(), packed))
}

/// Where a component's `batch.deliver-batch` is, if it exports one (contract 1.1).
fn batch_export(component: &Component) -> Option<ComponentExportIndex> {
    export_func(component, "batch", "deliver-batch")
}

thread_local! {
    /// This thread's runtime for plugin calls, made on first use.
    static RUNTIME: std::cell::OnceCell<Result<tokio::runtime::Runtime, String>> =
        const { std::cell::OnceCell::new() };
}

/// Runs `f` to completion on this thread's current-thread runtime. A call and every task
/// `wasi:http` spawns for it then run on this thread: wake-ups are local, not across
/// threads.
///
/// Called from a task of a multi-thread tokio runtime, the worker is handed over for the
/// duration (`block_in_place`) so that blocking here does not stall the others. A
/// current-thread runtime has no other worker to hand over to: the call is refused there,
/// rather than panicking or deadlocking, and the `_async` method serves.
///
/// With `straight`, `f` is first polled once outside the scheduler (see [`run_here`]). The
/// output comes with whether `f` waited.
fn on_this_thread<F: Future>(f: F, straight: bool) -> Result<(F::Output, bool), ErrorKind> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => run_here(f, straight),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| run_here(f, straight)),
        Ok(_) => Err(ErrorKind::Runtime(
            "a blocking plugin call was made inside a current-thread tokio runtime, which it would stall; call the `_async` method there"
                .to_string(),
        )),
    }
}

/// Runs `f` on this thread's runtime, made on first use; the output comes with whether `f`
/// waited.
///
/// A call that runs straight through (no HTTP, no clock) needs no scheduler: with
/// `straight`, one poll inside the runtime's context (so that `wasi:http` could spawn its
/// tasks and timers could register) finishes it, without `block_on`'s cost (about 0.15 µs).
/// A call that waits is then handed to `block_on`, which polls it again with a real waker;
/// but a task spawned outside the scheduler goes through its shared queue and wakes its
/// driver (about 0.7 µs), so callers pass `straight` only when the call is expected not to
/// wait: [`Instance::deliver`] remembers whether the instance's last call waited.
fn run_here<F: Future>(f: F, straight: bool) -> Result<(F::Output, bool), ErrorKind> {
    RUNTIME.with(|cell| {
        let runtime = cell.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        });
        match runtime {
            Ok(rt) => {
                let mut f = std::pin::pin!(f);
                if straight {
                    let _context = rt.enter();
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    if let std::task::Poll::Ready(output) = f.as_mut().poll(&mut cx) {
                        return Ok((output, false));
                    }
                }
                Ok((rt.block_on(f), true))
            }
            Err(e) => Err(ErrorKind::Runtime(format!(
                "the plugin runtime could not start: {e}"
            ))),
        }
    })
}

/// `f`'s output, or `None` once `limit` has passed since `started` while it waited. The
/// timer is armed only when `f` first waits: a call that runs straight through (no HTTP, no
/// clock) costs no timer, and epoch interruption bounds its computing. `f` is lent, not
/// moved: a call's future is over a KB, and the move would copy it.
async fn within<F: Future>(
    started: Instant,
    limit: Duration,
    mut f: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    let started = tokio::time::Instant::from_std(started);
    let mut timer = std::pin::pin!(None::<tokio::time::Sleep>);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(output) = f.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(output));
        }
        if timer.is_none() {
            timer.set(Some(tokio::time::sleep_until(started + limit)));
        }
        match timer.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| None),
            None => std::task::Poll::Pending,
        }
    })
    .await
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// What the contract forbids in an outcome, in words.
fn malformed(o: &Outcome) -> Option<String> {
    match o {
        Outcome::Accepted(id) if id.trim().is_empty() => {
            Some("`accepted` with an empty provider id".to_string())
        }
        Outcome::Accepted(id) if id.len() > MAX_TEXT => Some(format!(
            "a provider id of {} bytes (at most {MAX_TEXT})",
            id.len()
        )),
        Outcome::RetryAfter { after_ms, .. } if *after_ms > MAX_RETRY_AFTER.as_millis() as u64 => {
            Some(format!(
                "`retry-after` of {after_ms} ms (at most {} days)",
                MAX_RETRY_AFTER.as_secs() / 86400
            ))
        }
        Outcome::RetryAfter { reason, .. } | Outcome::Failed(reason) if reason.len() > MAX_TEXT => {
            Some(format!(
                "a reason of {} bytes (at most {MAX_TEXT})",
                reason.len()
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_artifact_reads_back_and_any_change_is_refused() {
        let artifact: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
        let file = sealed(artifact.clone());
        assert_eq!(file.len(), artifact.len() + SEAL);
        assert_eq!(unsealed(&file), Some(artifact.as_slice()));
        for at in (0..file.len()).step_by(97).chain([file.len() - 1]) {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert_eq!(unsealed(&bad), None, "a bit flipped at {at}");
        }
        for len in [0, 1, SEAL - 1, SEAL, file.len() - 1] {
            assert_eq!(unsealed(&file[..len]), None, "truncated to {len} bytes");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(unsealed(&longer), None, "a byte appended");
    }
}
