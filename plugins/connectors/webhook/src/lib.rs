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
use journey_plugin_sdk::spec::{config, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Content, Fields, Host, HttpRequest, Manifest,
    Message, Outcome, deliver_http, require_config, require_secret,
};
use serde_json::{Map, Value, json};
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
    let body = body(message).to_string();
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

/// The JSON body:
///
/// ```json
/// {"idempotency_key": "...", "attempt": 1, "customer_id": "...", "channel": "...",
///  "origin": "journey/step", "template": "name" | null,
///  "content": {"rendered": {"part": value, ...}} | {"provider_template": "id"},
///  "params": {...}, "offer": {"id": "...", "fields": {...}} | null,
///  "recipient": {...}, "locale": "fr-FR" | null, "time_zone": "Europe/Paris",
///  "sent_at": "RFC 3339"}
/// ```
pub fn body(message: &Message) -> Value {
    let content = match &message.content {
        Content::Rendered(parts) => json!({ "rendered": object(parts) }),
        Content::ProviderTemplate(id) => json!({ "provider_template": id }),
    };
    json!({
        "idempotency_key": message.idempotency_key,
        "attempt": message.attempt,
        "customer_id": message.customer_id,
        "channel": message.channel,
        "origin": message.origin,
        "template": message.template,
        "content": content,
        "params": object(&message.params),
        "offer": message.offer.as_ref().map(|o| json!({"id": o.id, "fields": object(&o.fields)})),
        "recipient": object(&message.recipient),
        "locale": message.locale,
        "time_zone": message.time_zone,
        "sent_at": message.sent_at,
    })
}

fn object(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(name, value)| (name.clone(), value.to_json()))
            .collect::<Map<String, Value>>(),
    )
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::testing::StubHost;
    use journey_plugin_sdk::{HttpError, HttpErrorKind, HttpResponse, Offer, ParamValue};

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
        // 2025-03-01T10:00:00Z is 1740823200; the digest is checked independently below.
        let sig = req.header_value("X-Journey-Signature").expect("signed");
        assert_eq!(sig, signature(b"s3cret", 1_740_823_200, &req.body_text()));
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
