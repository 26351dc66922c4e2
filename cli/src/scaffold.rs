//! `journey plugin new`: writes a channel-plugin crate that builds as is, a small connector
//! that posts each message as JSON to the channel's `endpoint`, with a native unit test.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::plugin::Kind;

/// The SDK of the sources this binary was built from.
fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("plugins")
        .join("sdk")
}

/// `acme-sms` → `AcmeSms`; a name starting with a digit gets a `Plugin` prefix.
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(['-', '_']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Plugin");
    }
    out
}

fn kind_variant(kind: Kind) -> &'static str {
    match kind {
        Kind::Email => "Email",
        Kind::Sms => "Sms",
        Kind::Push => "Push",
        Kind::Webhook => "Webhook",
        Kind::ContactCentre => "ContactCentre",
        Kind::Other => "Other",
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Creates the crate; prints what it wrote and what to run next.
pub fn run(name: &str, dir: Option<&Path>, kind: Kind, sdk: Option<&Path>) -> Result<ExitCode> {
    if !journey_plugin_api::is_plugin_name(name) {
        bail!(
            "`{name}` is not a plugin name: use 1 to 64 characters of a-z, 0-9, `-` and `_` (for example `acme-sms`)"
        );
    }
    let parent = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let root = parent.join(name);
    if root.exists() {
        let empty = root.is_dir()
            && std::fs::read_dir(&root)
                .with_context(|| format!("cannot read `{}`", root.display()))?
                .next()
                .is_none();
        if !empty {
            bail!(
                "`{}` already exists and is not empty: choose another name or `--dir`, or remove it",
                root.display()
            );
        }
    }
    let sdk = sdk.map_or_else(default_sdk, Path::to_path_buf);
    if !sdk.join("Cargo.toml").is_file() {
        bail!(
            "no journey-plugin-sdk crate at `{}`: pass its directory with `--sdk PATH` (plugins/sdk in the journey sources)",
            sdk.display()
        );
    }
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("cannot resolve `{}`", sdk.display()))?;
    let ty = type_name(name);
    let fill = |template: &str| {
        template
            .replace("@NAME@", name)
            .replace("@TYPE@", &ty)
            .replace("@KIND@", kind_variant(kind))
            .replace(
                "@LIB@",
                &format!("journey_connector_{}", name.replace('-', "_")),
            )
            .replace("@SDK@", &toml_string(&sdk.to_string_lossy()))
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("README.md", fill(README)),
        ("message.json", MESSAGE.to_string()),
        (".gitignore", "/target\n".to_string()),
    ];
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("cannot create `{}`", root.display()))?;
    for (path, text) in &files {
        let p = root.join(path);
        std::fs::write(&p, text).with_context(|| format!("cannot write `{}`", p.display()))?;
    }
    crate::out(&format!(
        "created the plugin `{name}` in `{}`\n\nnext:\n  cd {}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  journey plugin check target/wasm32-wasip2/release/journey_connector_{}.wasm\n",
        root.display(),
        root.display(),
        name.replace('-', "_")
    ));
    Ok(ExitCode::SUCCESS)
}

const CARGO_TOML: &str = r#"[package]
name = "journey-connector-@NAME@"
description = "The `@NAME@` channel plugin for journey: posts each message as JSON to an HTTP endpoint."
version = "0.1.0"
edition = "2024"
publish = false

# Its own workspace: the crate builds wherever it is, inside another workspace or not.
[workspace]

[lib]
# `cdylib`: the WebAssembly component (`cargo build --target wasm32-wasip2`); `rlib`: the
# native library the unit tests link.
crate-type = ["cdylib", "rlib"]

[dependencies]
journey-plugin-sdk = { path = @SDK@ }
serde_json = "1"

# Optimised for speed: every send runs this code (optimised for size, a signed-JSON
# connector took 1.7x as long per call, for a component under a tenth smaller).
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
debug = false
"#;

const LIB_RS: &str = r#"//! The `@NAME@` channel plugin: posts every message as JSON to the channel's `endpoint`.
//!
//! Request: `POST <endpoint>` with `Authorization: Bearer <api_key>`,
//! `Idempotency-Key: <key>` (the same on every attempt of a message) and the JSON body
//! described by [`body`]. A 2xx answer is accepted with the response's `id`, or the
//! idempotency key when it has none; 408, 425, 429 and 5xx are retried (after
//! `Retry-After` when given); other statuses fail.
//!
//! A journey project uses it with
//!
//! ```text
//! channel @NAME@ uses "@NAME@" {
//!   config {
//!     endpoint: env("@NAME@_URL")
//!     api_key: secret("@NAME@_API_KEY")
//!   }
//! }
//! ```

use journey_plugin_sdk::spec::{config, param, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Content, Fields, Host, HttpRequest, Level,
    Manifest, Message, Outcome, ParamType, outcome_from_error, outcome_from_response,
    require_config, require_secret,
};
use serde_json::{Map, Value, json};

/// The `@NAME@` connector.
pub struct @TYPE@;

impl Connector for @TYPE@ {
    fn manifest() -> Manifest {
        Manifest {
            name: "@NAME@".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::@KIND@,
            description: "Posts each message as JSON to an HTTP endpoint.".into(),
            params: vec![param(
                "tag",
                ParamType::Text,
                "A label the provider files the message under.",
            )],
            open_params: false,
            // The content parts templates must have (`part("subject", true, "...")`); none
            // declared: every rendered part is forwarded.
            parts: vec![],
            config: vec![
                config("endpoint", true, "The provider's send API URL."),
                secret("api_key", true, "The provider's API key, sent as a bearer token."),
            ],
            // Requests may go only to the host of the channel's `endpoint`.
            hosts: vec!["{endpoint}".into()],
            rate_limit: None,
        }
    }

    fn deliver(host: &dyn Host, message: &Message) -> Outcome {
        let request = match request(host, message) {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        host.log(
            Level::Debug,
            &format!("POST {} ({})", request.url, message.idempotency_key),
        );
        match host.http(&request) {
            Ok(response) => {
                let key = message.idempotency_key.clone();
                outcome_from_response(&response, |r| r.json_field("id").or(Some(key)))
            }
            Err(e) => outcome_from_error(&e),
        }
    }

    // `deliver_batch` (the messages due together on a channel, in one call from the
    // runtime) defaults to `deliver` for each. If the provider takes several messages per
    // request, override it and send them together (see `journey_plugin_sdk::for_each_chunk`).
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let endpoint = require_config(host, "endpoint")?;
    let api_key = require_secret(host, "api_key")?;
    Ok(HttpRequest::post(endpoint)
        .bearer(&api_key)
        .header("Idempotency-Key", message.idempotency_key.clone())
        .json(&body(message)))
}

/// The JSON body: who, what (the rendered parts or the provider's template id) and the
/// `tag` parameter.
pub fn body(message: &Message) -> Value {
    let content = match &message.content {
        Content::Rendered(parts) => json!({ "parts": fields(parts) }),
        Content::ProviderTemplate(id) => json!({ "template_id": id }),
    };
    json!({
        "id": message.idempotency_key,
        "customer": message.customer_id,
        "recipient": fields(&message.recipient),
        "locale": message.locale,
        "content": content,
        "tag": message.text_param("tag"),
        "sent_at": message.sent_at,
    })
}

fn fields(f: &Fields) -> Value {
    Value::Object(
        f.iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect::<Map<String, Value>>(),
    )
}

// Only in the component: natively, the export symbols are not needed (and would collide if
// several connectors linked into one binary).
#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(@TYPE@);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::HttpResponse;
    use journey_plugin_sdk::testing::StubHost;

    fn message() -> Message {
        serde_json::from_value(json!({
            "idempotency_key": "k-1",
            "customer_id": "C-1",
            "content": { "rendered": { "text": "Hello Ada" } },
            "recipient": { "email": "ada@example.com" },
            "params": { "tag": "welcome" },
            "sent_at": "2027-01-04T09:00:00Z"
        }))
        .expect("a valid message")
    }

    fn host() -> StubHost {
        StubHost::new()
            .with_config("endpoint", "https://api.example.com/v1/messages")
            .with_secret("api_key", "key-1")
    }

    #[test]
    fn the_manifest_is_sound() {
        assert_eq!(@TYPE@::manifest().problems(), vec![]);
    }

    #[test]
    fn posts_json_and_reads_the_provider_id() {
        let host = host().respond(HttpResponse::with_json(202, &json!({ "id": "m-42" })));
        assert_eq!(
            @TYPE@::deliver(&host, &message()),
            Outcome::Accepted("m-42".into())
        );
        let request = host.only_request();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://api.example.com/v1/messages");
        assert_eq!(request.header_value("authorization"), Some("Bearer key-1"));
        assert_eq!(request.header_value("idempotency-key"), Some("k-1"));
        let body = request.body_json().expect("a JSON body");
        assert_eq!(body["recipient"]["email"], "ada@example.com");
        assert_eq!(body["content"]["parts"]["text"], "Hello Ada");
        assert_eq!(body["tag"], "welcome");
    }

    #[test]
    fn rate_limits_are_retried_and_bad_requests_fail() {
        let host = host()
            .respond(HttpResponse::new(429).with_header("Retry-After", "7"))
            .respond(HttpResponse::new(400).with_body("bad recipient"));
        assert!(matches!(
            @TYPE@::deliver(&host, &message()),
            Outcome::RetryAfter { after_ms: 7000, .. }
        ));
        assert!(matches!(
            @TYPE@::deliver(&host, &message()),
            Outcome::Failed(reason) if reason.contains("bad recipient")
        ));
    }

    #[test]
    fn missing_configuration_fails_without_a_request() {
        let host = StubHost::new().with_secret("api_key", "key-1");
        assert!(matches!(
            @TYPE@::deliver(&host, &message()),
            Outcome::Failed(reason) if reason.contains("endpoint")
        ));
        assert!(host.requests().is_empty());
    }
}
"#;

/// A message for `journey plugin test --message`.
const MESSAGE: &str = r#"{
  "idempotency_key": "example-1",
  "customer_id": "C-1",
  "locale": "en",
  "time_zone": "Europe/Paris",
  "channel": "example",
  "origin": "welcome/hello",
  "template": "hello",
  "content": { "rendered": { "text": "Hello Ada, welcome aboard." } },
  "recipient": { "email": "ada@example.com" },
  "params": { "tag": "welcome" },
  "sent_at": "2027-01-04T09:00:00Z"
}
"#;

const README: &str = r#"# @NAME@

A journey channel plugin: posts each message as JSON to the channel's `endpoint`, with the
`api_key` secret as a bearer token (see `src/lib.rs`).

Build and check it (the component needs the `wasm32-wasip2` target:
`rustup target add wasm32-wasip2`):

```sh
cargo test                                          # native unit tests (StubHost)
cargo build --release --target wasm32-wasip2        # the component
journey plugin check target/wasm32-wasip2/release/@LIB@.wasm
```

Deliver one message through it against a local server that records the request:

```sh
journey plugin test target/wasm32-wasip2/release/@LIB@.wasm \
  --message message.json \
  --config endpoint=https://api.example.com/v1/messages --secret api_key=test
```

Use it in a project: write its manifest next to `journey.toml` and list it there.

```sh
journey plugin check target/wasm32-wasip2/release/@LIB@.wasm --format json > @NAME@.json
```

```toml
[plugins.@NAME@]
manifest = "@NAME@.json"
component = "path/to/@LIB@.wasm"
```
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_name("acme-sms_v2"), "AcmeSmsV2");
        assert_eq!(type_name("2fa"), "Plugin2fa");
        assert_eq!(type_name("_"), "Plugin");
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
