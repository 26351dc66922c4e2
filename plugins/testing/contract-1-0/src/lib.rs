//! A channel plugin built against contract `journey:channel@1.0.0`, as a plugin compiled
//! before contract 1.1 would be: its own copy of that contract's WIT (`wit/channel.wit`),
//! bound with wit-bindgen directly, and no `batch` export. The host's compatibility tests
//! load it beside plugins of the current contract.
//!
//! `deliver` reads the channel's `prefix` configuration key and answers
//! `accepted("<prefix><idempotency key>")`, or panics (a trap) when the prefix is `trap`; the
//! manifest declares that key and nothing else.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "channel-plugin",
    });
}

/// The provider id `deliver` answers for a message: the channel's `prefix`, then the
/// message's idempotency key.
pub fn provider_id(prefix: Option<&str>, idempotency_key: &str) -> String {
    format!("{}{idempotency_key}", prefix.unwrap_or("v1.0-"))
}

// The export functions `export!` emits use `unsafe` for the canonical ABI.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    use crate::bindings::exports::journey::channel::connector::{
        Guest, Message, Outcome, PluginManifest,
    };
    use crate::bindings::journey::channel::host;
    use crate::bindings::journey::channel::types::{ChannelKind, ConfigSpec};

    struct Plugin;

    impl Guest for Plugin {
        fn manifest() -> PluginManifest {
            PluginManifest {
                name: "contract-1-0".into(),
                version: "1.0.0".into(),
                contract: "1.0.0".into(),
                kind: ChannelKind::Other,
                description: "Built against contract 1.0.0, for compatibility tests.".into(),
                params: Vec::new(),
                open_params: false,
                parts: Vec::new(),
                config: vec![ConfigSpec {
                    name: "prefix".into(),
                    required: false,
                    secret: false,
                    docs: "Put before the idempotency key in the provider id.".into(),
                }],
                hosts: Vec::new(),
                rate_limit: None,
            }
        }

        fn deliver(message: Message) -> Outcome {
            let prefix = host::config("prefix");
            if prefix.as_deref() == Some("trap") {
                panic!("contract-1-0: trapping as asked");
            }
            Outcome::Accepted(crate::provider_id(
                prefix.as_deref(),
                &message.idempotency_key,
            ))
        }
    }

    crate::bindings::export!(Plugin with_types_in crate::bindings);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_provider_id_is_the_prefix_then_the_key() {
        assert_eq!(super::provider_id(Some("p-"), "k1"), "p-k1");
        assert_eq!(super::provider_id(None, "k1"), "v1.0-k1");
    }
}
