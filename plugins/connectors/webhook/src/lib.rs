//! The `webhook` channel plugin: posts every message as signed JSON to the channel's `url`.
//!
//! Request: `POST <url>` with
//!
//! - `Content-Type: application/json`, `Idempotency-Key: <key>`;
//! - `X-Journey-Signature: t=<unix seconds of sent_at>,v1=<hex HMAC-SHA256>`, the HMAC of
//!   `"<t>.<body>"` keyed with the `signing_secret` secret, so the receiver can check the
//!   sender and refuse replays;
//! - `Authorization: Bearer <token>` when the `token` secret is set;
//! - the body described by [`body`].
//!
//! A 2xx answer is accepted with the JSON body's `id` if there is one, else the message's
//! idempotency key; other answers follow
//! [`outcome_from_response`](journey_plugin_sdk::outcome_from_response).

use hmac::{Hmac, Mac};
use journey_plugin_sdk::Offer;
use journey_plugin_sdk::spec::{config, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Content, Fields, Host, HttpRequest, Manifest,
    Message, Outcome, deliver_http, require_config, require_secret,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::Sha256;

/// The webhook connector.
pub struct Webhook;

impl Connector for Webhook {
    fn manifest() -> Manifest {
        Manifest {
            name: "webhook".into(),
            version: "1.0.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Webhook,
            description: "Posts each message as signed JSON to an HTTP endpoint.".into(),
            params: vec![],
            open_params: true,
            parts: vec![],
            config: vec![
                config("url", true, "The endpoint messages are posted to."),
                secret(
                    "token",
                    false,
                    "Sent as `Authorization: Bearer <token>` when set.",
                ),
                secret(
                    "signing_secret",
                    true,
                    "Key of the HMAC-SHA256 in `X-Journey-Signature`.",
                ),
            ],
            hosts: vec!["{url}".into()],
            rate_limit: None,
        }
    }

    fn deliver(host: &dyn Host, message: &Message) -> Outcome {
        match request(host, message) {
            Ok(req) => {
                let key = message.idempotency_key.clone();
                deliver_http(host, &req, |r| r.json_field("id").or(Some(key)))
            }
            Err(outcome) => outcome,
        }
    }
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let url = require_config(host, "url")?;
    let signing_secret = require_secret(host, "signing_secret")?;
    let sent_at = chrono::DateTime::parse_from_rfc3339(&message.sent_at).map_err(|e| {
        Outcome::Failed(format!(
            "sent_at {:?} is not an RFC 3339 instant: {e}",
            message.sent_at
        ))
    })?;
    let body = body(message);
    let signature = signature(signing_secret.as_bytes(), sent_at.timestamp(), &body);
    let mut req = HttpRequest::post(url)
        .body(body.into_bytes(), "application/json")
        .header("Idempotency-Key", message.idempotency_key.clone())
        .header("X-Journey-Signature", signature);
    if let Some(token) = host.secret("token").filter(|t| !t.is_empty()) {
        req = req.bearer(&token);
    }
    Ok(req)
}

/// `t=<t>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback keeps
    // the code free of panics all the same.
    let digest = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("t={t},v1={digest}")
}

/// The JSON body, keys in this order:
///
/// ```json
/// {"idempotency_key": "...", "attempt": 1, "customer_id": "...", "channel": "...",
///  "origin": "journey/step", "template": "name" | null,
///  "content": {"rendered": {"part": value, ...}} | {"provider_template": "id"},
///  "params": {...}, "offer": {"id": "...", "fields": {...}} | null,
///  "recipient": {...}, "locale": "fr-FR" | null, "time_zone": "Europe/Paris",
///  "sent_at": "RFC 3339"}
/// ```
///
/// Written straight from the message, without building a `serde_json::Value` tree first:
/// in a component that tree (a sorted map per object, a copy of every string) cost more
/// than the signature.
pub fn body(message: &Message) -> String {
    serde_json::to_string(&Body(message)).unwrap_or_default()
}

struct Body<'a>(&'a Message);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut o = s.serialize_map(Some(13))?;
        o.serialize_entry("idempotency_key", &m.idempotency_key)?;
        o.serialize_entry("attempt", &m.attempt)?;
        o.serialize_entry("customer_id", &m.customer_id)?;
        o.serialize_entry("channel", &m.channel)?;
        o.serialize_entry("origin", &m.origin)?;
        o.serialize_entry("template", &m.template)?;
        o.serialize_entry("content", &ContentBody(&m.content))?;
        o.serialize_entry("params", &Object(&m.params))?;
        o.serialize_entry("offer", &m.offer.as_ref().map(OfferBody))?;
        o.serialize_entry("recipient", &Object(&m.recipient))?;
        o.serialize_entry("locale", &m.locale)?;
        o.serialize_entry("time_zone", &m.time_zone)?;
        o.serialize_entry("sent_at", &m.sent_at)?;
        o.end()
    }
}

struct ContentBody<'a>(&'a Content);

impl Serialize for ContentBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(Some(1))?;
        match self.0 {
            Content::Rendered(parts) => o.serialize_entry("rendered", &Object(parts))?,
            Content::ProviderTemplate(id) => o.serialize_entry("provider_template", id)?,
        }
        o.end()
    }
}

struct OfferBody<'a>(&'a Offer);

impl Serialize for OfferBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(Some(2))?;
        o.serialize_entry("id", &self.0.id)?;
        o.serialize_entry("fields", &Object(&self.0.fields))?;
        o.end()
    }
}

/// Fields as a JSON object, in their order (the runtime gives each name once).
struct Object<'a>(&'a Fields);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::testing::StubHost;
    use journey_plugin_sdk::{HttpError, HttpErrorKind, HttpResponse, ParamValue};
    use serde_json::{Value, json};

    fn message() -> Message {
        Message {
            idempotency_key: "key-1".into(),
            attempt: 2,
            customer_id: "c-42".into(),
            locale: Some("fr-FR".into()),
            time_zone: "Europe/Paris".into(),
            channel: "crm_hook".into(),
            origin: "welcome/hello".into(),
            template: Some("hello".into()),
            content: Content::Rendered(vec![("text".into(), ParamValue::Text("Bonjour".into()))]),
            recipient: vec![("email".into(), ParamValue::Text("a@b.example".into()))],
            params: vec![
                ("score".into(), ParamValue::Number(3.5)),
                ("tags".into(), ParamValue::TextList(vec!["vip".into()])),
            ],
            offer: Some(Offer {
                id: "spring".into(),
                fields: vec![("price".into(), ParamValue::Number(9.0))],
            }),
            sent_at: "2025-03-01T10:00:00Z".into(),
        }
    }

    fn host() -> StubHost {
        StubHost::new()
            .with_config("url", "https://hooks.example.com/journey")
            .with_secret("signing_secret", "s3cret")
    }

    #[test]
    fn manifest_is_sound() {
        let m = Webhook::manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert!(m.open_params);
        assert_eq!(m.hosts, vec!["{url}".to_string()]);
        let required: Vec<_> = m
            .config
            .iter()
            .filter(|c| c.required)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(required, vec!["url", "signing_secret"]);
    }

    #[test]
    fn posts_signed_json() {
        let host = host().respond(HttpResponse::with_json(200, &json!({"id": "evt-7"})));
        assert_eq!(
            Webhook::deliver(&host, &message()),
            Outcome::Accepted("evt-7".into())
        );
        let req = host.only_request();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://hooks.example.com/journey");
        assert_eq!(req.header_value("Content-Type"), Some("application/json"));
        assert_eq!(req.header_value("Idempotency-Key"), Some("key-1"));
        assert_eq!(req.header_value("Authorization"), None);
        assert_eq!(
            req.body_json().expect("json"),
            json!({
                "idempotency_key": "key-1",
                "attempt": 2,
                "customer_id": "c-42",
                "channel": "crm_hook",
                "origin": "welcome/hello",
                "template": "hello",
                "content": {"rendered": {"text": "Bonjour"}},
                "params": {"score": 3.5, "tags": ["vip"]},
                "offer": {"id": "spring", "fields": {"price": 9.0}},
                "recipient": {"email": "a@b.example"},
                "locale": "fr-FR",
                "time_zone": "Europe/Paris",
                "sent_at": "2025-03-01T10:00:00Z"
            })
        );
        // Keys in the documented order, not sorted.
        let text = req.body_text();
        assert!(
            text.starts_with(r#"{"idempotency_key":"key-1","attempt":2,"customer_id":"c-42","#),
            "{text}"
        );
        assert!(
            text.ends_with(r#""sent_at":"2025-03-01T10:00:00Z"}"#),
            "{text}"
        );
        // 2025-03-01T10:00:00Z is 1740823200; the digest is checked independently below.
        let sig = req.header_value("X-Journey-Signature").expect("signed");
        assert_eq!(sig, signature(b"s3cret", 1_740_823_200, &text));
        assert!(sig.starts_with("t=1740823200,v1="));
        assert_eq!(sig.len(), "t=1740823200,v1=".len() + 64);
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // Computed with Python's hmac module: HMAC-SHA256(b"s3cret", b'1740823200.{"a":1}').
        assert_eq!(
            signature(b"s3cret", 1_740_823_200, r#"{"a":1}"#),
            "t=1740823200,v1=83b7655b50255812e8b625e3b39f7ee4b79a205b61fedd96cd54e70ae63e643b"
        );
    }

    #[test]
    fn token_provider_template_and_null_fields() {
        let host = host()
            .with_secret("token", "tok")
            .respond(HttpResponse::new(204));
        let mut m = message();
        m.content = Content::ProviderTemplate("tpl-9".into());
        m.offer = None;
        m.locale = None;
        m.template = None;
        m.sent_at = "2025-03-01T11:00:00+01:00".into();
        // No id in the answer: the idempotency key stands for it.
        assert_eq!(
            Webhook::deliver(&host, &m),
            Outcome::Accepted("key-1".into())
        );
        let req = host.only_request();
        assert_eq!(req.header_value("Authorization"), Some("Bearer tok"));
        let body = req.body_json().expect("json");
        assert_eq!(body["content"], json!({"provider_template": "tpl-9"}));
        assert_eq!(body["offer"], Value::Null);
        assert_eq!(body["locale"], Value::Null);
        assert_eq!(body["template"], Value::Null);
        assert!(
            req.header_value("X-Journey-Signature")
                .is_some_and(|s| s.starts_with("t=1740823200,"))
        );
    }

    #[test]
    fn failures_and_retries() {
        let no_secret = StubHost::new().with_config("url", "https://hooks.example.com/");
        assert_eq!(
            Webhook::deliver(&no_secret, &message()),
            Outcome::Failed("secret `signing_secret` is not set".into())
        );
        assert!(no_secret.requests().is_empty());

        let mut m = message();
        m.sent_at = "yesterday".into();
        assert!(matches!(
            Webhook::deliver(&host(), &m),
            Outcome::Failed(r) if r.contains("not an RFC 3339 instant")
        ));

        let host = host()
            .respond(HttpResponse::new(503).with_header("Retry-After", "7"))
            .respond(HttpResponse::new(410).with_body("gone"))
            .fail(HttpError::new(HttpErrorKind::Denied, "hooks.example.com"));
        assert!(matches!(
            Webhook::deliver(&host, &message()),
            Outcome::RetryAfter { after_ms: 7000, .. }
        ));
        assert_eq!(
            Webhook::deliver(&host, &message()),
            Outcome::Failed("provider answered HTTP 410: gone".into())
        );
        assert!(matches!(
            Webhook::deliver(&host, &message()),
            Outcome::Failed(r) if r.starts_with("configuration problem")
        ));
    }
}
