//! The guest SDK for journey channel plugins.
//!
//! A connector is a type implementing [`Connector`] over the contract's plain Rust types
//! (re-exported here from `journey-plugin-api`): it describes itself with a [`Manifest`]
//! and turns each [`Message`] into an [`Outcome`], talking to the world only through a
//! [`Host`] (logs, configuration, secrets, HTTP). The same code therefore runs
//! natively, against [`testing::StubHost`] in unit tests and benchmarks, and as a
//! WebAssembly component, where [`export_connector!`] wires it to the WIT exports
//! (`plugins/wit/channel.wit`) and the host is `journey:channel/host` plus
//! `wasi:http/outgoing-handler`.
//!
//! ```
//! use journey_plugin_sdk::testing::StubHost;
//! use journey_plugin_sdk::{
//!     CONTRACT_VERSION, ChannelKind, Connector, Host, HttpRequest, HttpResponse, Manifest,
//!     Message, Outcome, deliver_http, require_config, spec,
//! };
//!
//! /// Posts each message's text to the channel's `url`.
//! pub struct Echo;
//!
//! impl Connector for Echo {
//!     fn manifest() -> Manifest {
//!         Manifest {
//!             name: "echo".into(),
//!             version: "1.0.0".into(),
//!             contract: CONTRACT_VERSION.into(),
//!             kind: ChannelKind::Other,
//!             description: "Posts the text to a URL.".into(),
//!             params: vec![],
//!             open_params: false,
//!             parts: vec![spec::part("text", true, "The text.")],
//!             config: vec![spec::config("url", true, "Where to post.")],
//!             hosts: vec!["{url}".into()],
//!             rate_limit: None,
//!         }
//!     }
//!
//!     fn deliver(host: &dyn Host, message: &Message) -> Outcome {
//!         let url = match require_config(host, "url") {
//!             Ok(url) => url,
//!             Err(outcome) => return outcome,
//!         };
//!         let request =
//!             HttpRequest::post(url).json(&serde_json::json!({ "text": message.part("text") }));
//!         deliver_http(host, &request, |r| r.json_field("id"))
//!     }
//! }
//!
//! // Only in the component: natively several connectors link into one binary, and their
//! // export symbols would collide.
//! #[cfg(target_arch = "wasm32")]
//! journey_plugin_sdk::export_connector!(Echo);
//!
//! // Natively, against a stub host:
//! let host = StubHost::new()
//!     .with_config("url", "https://echo.example/in")
//!     .respond(HttpResponse::with_json(200, &serde_json::json!({ "id": "e-1" })));
//! let message: Message = serde_json::from_str(
//!     r#"{"idempotency_key": "k", "customer_id": "c", "content": {"rendered": {"text": "hi"}}}"#,
//! )
//! .expect("a message");
//! assert_eq!(Echo::deliver(&host, &message), Outcome::Accepted("e-1".into()));
//! assert_eq!(host.only_request().body_text(), r#"{"text":"hi"}"#);
//! ```
//!
//! Build a connector as a component with
//! `cargo build --profile plugin --target wasm32-wasip2 -p <crate>` (see `plugins/README.md`).

pub use journey_plugin_api::*;

mod batch;
mod net;
mod outcome;
#[cfg(any(target_arch = "wasm32", test))]
mod setup;
pub mod spec;
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
pub use component::ComponentHost;

pub use crate::batch::{
    batch_idempotency_key, deliver_each, deliver_http_batch, for_each_chunk,
    outcomes_from_batch_response, send_prepared,
};
pub use crate::net::{HttpError, HttpErrorKind, HttpRequest, HttpResponse, Target};
pub use crate::outcome::{
    BODY_EXCERPT_CHARS, DEFAULT_RETRY_AFTER_429_MS, DEFAULT_RETRY_AFTER_MS, TIMEOUT_RETRY_AFTER_MS,
    outcome_from_error, outcome_from_response,
};

/// The bindings wit-bindgen generates from `plugins/wit` (world `channel-plugin`).
///
/// Connector authors do not need them: [`export_connector!`] converts between these types
/// and the plain ones.
// The generated code implements the canonical ABI with `unsafe`; it is the only place in the
// crate (with the export functions `export_connector!` emits) where unsafe code is allowed.
#[allow(unsafe_code, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "channel-plugin",
        pub_export_macro: true,
        default_bindings_module: "journey_plugin_sdk::bindings",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use crate::convert::*;
}

mod convert;

/// The severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detail for debugging a plugin.
    Debug,
    /// Normal operation.
    Info,
    /// Something an operator should look at.
    Warn,
    /// A failure.
    Error,
}

/// What the runtime gives a connector while it delivers a message.
pub trait Host {
    /// Writes a line to the runtime's log, tagged with the plugin's name and version.
    fn log(&self, level: Level, message: &str);

    /// The value of a configuration key of the channel being served; `None` if the channel
    /// does not set it. Secrets are not returned here.
    fn config(&self, key: &str) -> Option<String>;

    /// The value of a configuration key declared secret in the manifest.
    fn secret(&self, key: &str) -> Option<String>;

    /// The HMAC-SHA256 of `data` keyed with the secret `key`, computed by the host (contract
    /// 1.1): the plugin signs without holding the key, at native speed. `None` if the
    /// channel does not set the secret, or sets it empty.
    fn hmac_sha256(&self, key: &str, data: &[u8]) -> Option<[u8; 32]>;

    /// Makes an HTTP request. The host refuses hosts the manifest does not declare
    /// ([`HttpErrorKind::Denied`]).
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// A channel connector: what a plugin implements.
pub trait Connector {
    /// Describes the plugin. Called once, when the runtime loads it; must not need a host.
    fn manifest() -> Manifest;

    /// Delivers one message.
    fn deliver(host: &dyn Host, message: &Message) -> Outcome;

    /// Delivers several messages of one channel, returning one outcome per message in the
    /// same order (contract 1.1's `batch.deliver-batch`).
    ///
    /// The default delivers them one by one with [`Connector::deliver`]; even so, the host
    /// calls the component once for all of them, which saves the fixed cost of a call per
    /// message. Override it when the provider takes several messages in one request (see
    /// [`for_each_chunk`] for providers that cap a request's size). The returned list must
    /// have exactly one outcome per message: the host retries every message of a call
    /// whose list has another length.
    fn deliver_batch(host: &dyn Host, messages: &[Message]) -> Vec<Outcome> {
        deliver_each::<Self>(host, messages)
    }
}

/// A configuration key the channel must set, or the [`Outcome::Failed`] that says it is
/// missing (or empty).
pub fn require_config(host: &dyn Host, key: &str) -> Result<String, Outcome> {
    host.config(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Outcome::Failed(format!("configuration key `{key}` is not set")))
}

/// A secret the channel must set, or the [`Outcome::Failed`] that says it is missing (or
/// empty).
pub fn require_secret(host: &dyn Host, key: &str) -> Result<String, Outcome> {
    host.secret(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Outcome::Failed(format!("secret `{key}` is not set")))
}

/// Sends `request` through `host` and maps the result with [`outcome_from_response`] (the
/// id read by `provider_id`) or [`outcome_from_error`].
pub fn deliver_http(
    host: &dyn Host,
    request: &HttpRequest,
    provider_id: impl FnOnce(&HttpResponse) -> Option<String>,
) -> Outcome {
    match host.http(request) {
        Ok(resp) => outcome_from_response(&resp, provider_id),
        Err(e) => outcome_from_error(&e),
    }
}

/// Exports a [`Connector`] as the component's `journey:channel/connector`,
/// `journey:channel/batch` and `journey:channel/packed` interfaces (the last one unpacks
/// each message before the connector sees it).
///
/// Invoke it once, in the connector crate, under `#[cfg(target_arch = "wasm32")]`.
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        // The export functions wit-bindgen emits are `unsafe extern "C"` (canonical ABI).
        #[allow(unsafe_code)]
        const _: () = {
            struct __JourneyConnectorExport;

            impl $crate::bindings::exports::journey::channel::connector::Guest
                for __JourneyConnectorExport
            {
                fn manifest()
                -> $crate::bindings::exports::journey::channel::connector::PluginManifest {
                    $crate::__private::export_manifest::<$ty>()
                }

                fn deliver(
                    message: $crate::bindings::exports::journey::channel::connector::Message,
                ) -> $crate::bindings::exports::journey::channel::connector::Outcome {
                    $crate::__private::export_deliver::<$ty>(message)
                }
            }

            impl $crate::bindings::exports::journey::channel::batch::Guest
                for __JourneyConnectorExport
            {
                fn deliver_batch(
                    messages: ::std::vec::Vec<
                        $crate::bindings::exports::journey::channel::batch::Message,
                    >,
                ) -> ::std::vec::Vec<$crate::bindings::exports::journey::channel::batch::Outcome>
                {
                    $crate::__private::export_deliver_batch::<$ty>(messages)
                }
            }

            impl $crate::bindings::exports::journey::channel::packed::Guest
                for __JourneyConnectorExport
            {
                fn deliver(
                    setup: u64,
                    text: ::std::string::String,
                    message: $crate::bindings::exports::journey::channel::packed::PackedMessage,
                ) -> $crate::bindings::exports::journey::channel::packed::Outcome {
                    $crate::__private::export_deliver_packed::<$ty>(setup, text, message)
                }

                fn deliver_batch(
                    setup: u64,
                    text: ::std::string::String,
                    messages: ::std::vec::Vec<
                        $crate::bindings::exports::journey::channel::packed::PackedMessage,
                    >,
                ) -> ::std::vec::Vec<$crate::bindings::exports::journey::channel::packed::Outcome>
                {
                    $crate::__private::export_deliver_packed_batch::<$ty>(setup, text, messages)
                }
            }

    $crate::bindings::export!(__JourneyConnectorExport with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::StubHost;

    #[test]
    fn required_configuration_and_secrets() {
        let host = StubHost::new()
            .with_config("endpoint", "https://x.example")
            .with_config("blank", "  ")
            .with_secret("api_key", "k");
        assert_eq!(
            require_config(&host, "endpoint"),
            Ok("https://x.example".to_string())
        );
        assert_eq!(
            require_config(&host, "blank"),
            Err(Outcome::Failed(
                "configuration key `blank` is not set".into()
            ))
        );
        assert_eq!(require_secret(&host, "api_key"), Ok("k".to_string()));
        assert_eq!(
            require_secret(&host, "endpoint"),
            Err(Outcome::Failed("secret `endpoint` is not set".into()))
        );
    }

    #[test]
    fn deliver_http_maps_responses_and_errors() {
        let host = StubHost::new()
            .respond(HttpResponse::with_json(
                200,
                &serde_json::json!({"id": "a"}),
            ))
            .fail(HttpError::new(HttpErrorKind::Denied, "no"));
        let req = HttpRequest::post("https://x.example/");
        assert_eq!(
            deliver_http(&host, &req, |r| r.json_field("id")),
            Outcome::Accepted("a".into())
        );
        assert!(matches!(
            deliver_http(&host, &req, |r| r.json_field("id")),
            Outcome::Failed(_)
        ));
    }
}
