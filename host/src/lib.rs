//! The channel-plugin host.
//!
//! Channel connectors (e-mail, SMS, push, webhooks, contact centres) are WebAssembly
//! components built against the contract in `plugins/wit/channel.wit`. This crate loads
//! them with wasmtime and delivers the runtime's sends through them:
//!
//! - [`PluginHost`]: one wasmtime engine (Cranelift, component model, pooling allocator,
//!   epoch interruption), a linker that grants WASI without files, sockets or environment,
//!   `wasi:http` restricted to the hosts a plugin declares, and the `journey:channel/host`
//!   interface; compiled artifacts cached by content hash.
//! - [`Plugin`] / [`Instance`]: a loaded, contract-checked component and one sandboxed
//!   instance of it (memory cap, deadline per call).
//! - [`Dispatcher`]: the runtime's [`journey_runtime::ChannelSink`] over plugins: converts
//!   sends to messages, resolves each channel's configuration and secrets, rate-limits per
//!   plugin, retries with exponential backoff and jitter (honouring `retry-after`), and
//!   dead-letters a message after its last attempt.
//! - [`sink`]: a local HTTP server that records requests, for tests, `journey plugin test`
//!   and `journey simulate --plugins`.

mod convert;
mod dispatch;
mod error;
mod plugin;
pub mod sink;
mod state;

/// Types and traits wasmtime generates from `plugins/wit/channel.wit`.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../plugins/wit",
        world: "channel-plugin-core",
        // Calls run on a fiber (`call_async`) so that a plugin's `wasi:http` waits are
        // futures on the calling thread's runtime instead of hops to another thread.
        exports: { default: async },
        // The message is lent to the call (`MessageParam<'_>` borrows the runtime's
        // strings) rather than deep-copied before being copied again into the guest.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

pub use dispatch::{
    DEFAULT_BATCH_SIZE, DeadLetter, DeliveryRecord, DeliveryStats, Dispatcher, Failure,
    RetryPolicy, Secrets, allowed_hosts, message_for, resolve_channel,
};
pub use error::{ErrorKind, PluginError, PluginId};
pub use plugin::{
    BatchDelivery, CallFailure, Delivery, HostConfig, Instance, MAX_RETRY_AFTER, PERF_MAP_VAR,
    Plugin, PluginHost,
};
pub use state::{ChannelSetup, HttpExchange, LogLine, STUB_BODY, Transport};
