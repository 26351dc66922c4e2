//! The `webhook` channel plugin: posts every message as signed JSON to the channel's `url`.
//!
//! Request: `POST <url>` with
//!
//! - `Content-Type: application/json`, `Idempotency-Key: <key>`;
//! - `X-Journey-Signature: t=<unix seconds of sent_at>,v1=<hex HMAC-SHA256>`, the HMAC of
//!   `"<t>.<body>"` keyed with the `signing_secret` secret, so the receiver can check the
//!   sender and refuse replays (the host computes it: the plugin never reads the secret);
//! - `Authorization: Bearer <token>` when the `token` secret is set;
//! - the body described by [`body`].
//!
//! A 2xx answer is accepted with the JSON body's `id` if there is one, else the message's
//! idempotency key; other answers follow
//! [`outcome_from_response`](journey_plugin_sdk::outcome_from_response).
//!
//! **Batches.** When the channel sets `batch_url`, the messages the runtime hands over
//! together (`deliver-batch`) go in one request, [`MAX_BATCH`] at most: `POST <batch_url>`
//! with the body `{"messages": [<body>, ...]}` (each as above), signed the same way with `t`
//! the latest `sent_at` of the request, and `Idempotency-Key: batch-<32 hex digits>`, a
//! hash of the messages' keys in order. The receiver answers per message with a 2xx and
//! `{"results": [<result>, ...]}` in the same order, each result `{"id": "..."}` (accepted;
//! without `id`, the message's idempotency key stands for it) or `{"error": "...", "retry":
//! true|false, "retry_after_ms": n}` (retried when `retry` is true, after `retry_after_ms` or
//! 5 s; failed otherwise); a 2xx without `results` accepts them all. Messages the results do
//! not reach are retried. Any other answer applies to every message of the request. Without
//! `batch_url`, a batch is posted message by message to `url`.

use journey_plugin_sdk::Offer;
use journey_plugin_sdk::spec::{config, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Content, Fields, Host, HttpRequest, Manifest,
    Message, Outcome, batch_idempotency_key, deliver_each, deliver_http, deliver_http_batch,
    for_each_chunk, require_config, send_prepared,
};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The webhook connector.
pub struct Webhook;

impl Connector for Webhook {
    fn manifest() -> Manifest {
        Manifest {
            name: "webhook".into(),
            version: "1.1.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Webhook,
            description: "Posts each message as signed JSON to an HTTP endpoint.".into(),
            params: vec![],
            open_params: true,
            parts: vec![],
            config: vec![
                config("url", true, "The endpoint messages are posted to."),
                config(
                    "batch_url",
                    false,
                    "When set, messages delivered together are posted here in one request.",
                ),
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
            hosts: vec!["{url}".into(), "{batch_url}".into()],
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

    fn deliver_batch(host: &dyn Host, messages: &[Message]) -> Vec<Outcome> {
        match host.config("batch_url").filter(|u| !u.trim().is_empty()) {
            Some(url) => for_each_chunk(messages, MAX_BATCH, |chunk| {
                deliver_chunk(host, &url, chunk)
            }),
            None => deliver_each::<Self>(host, messages),
        }
    }
}

/// The most messages posted to `batch_url` in one request; a larger batch is split.
pub const MAX_BATCH: usize = 100;

/// Posts `chunk` to `url` in one request; one outcome per message, in order. A message
/// whose `sent_at` is not an instant fails alone; the others are posted.
fn deliver_chunk(host: &dyn Host, url: &str, chunk: &[Message]) -> Vec<Outcome> {
    send_prepared(chunk, sent_at, |ready| {
        let latest = ready.iter().map(|(_, t)| *t).max().unwrap_or_default();
        let posted: Vec<&Message> = ready.into_iter().map(|(m, _)| m).collect();
        match batch_request(host, url, &posted, latest) {
            Ok(req) => deliver_http_batch(host, &req, &posted),
            Err(outcome) => vec![outcome; posted.len()],
        }
    })
}

/// The request posting `messages` to `url`, signed with `t`, or why there is none.
pub fn batch_request(
    host: &dyn Host,
    url: &str,
    messages: &[&Message],
    t: i64,
) -> Result<HttpRequest, Outcome> {
    let body = serde_json::to_string(&BatchBody(messages)).unwrap_or_default();
    let signature = signature(host, t, &body)?;
    let mut req = HttpRequest::post(url)
        .body(body.into_bytes(), "application/json")
        .header(
            "Idempotency-Key",
            batch_idempotency_key(messages.iter().copied()),
        )
        .header("X-Journey-Signature", signature);
    if let Some(token) = host.secret("token").filter(|t| !t.is_empty()) {
        req = req.bearer(&token);
    }
    Ok(req)
}

/// The body of a batch request: `{"messages": [...]}`.
struct BatchBody<'a>(&'a [&'a Message]);

impl Serialize for BatchBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(Some(1))?;
        o.serialize_entry("messages", &Bodies(self.0))?;
        o.end()
    }
}

struct Bodies<'a>(&'a [&'a Message]);

impl Serialize for Bodies<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| Body(m)))
    }
}

/// `sent_at` in Unix seconds, or the outcome that says it is not an instant.
fn sent_at(message: &Message) -> Result<i64, Outcome> {
    chrono::DateTime::parse_from_rfc3339(&message.sent_at)
        .map(|t| t.timestamp())
        .map_err(|e| {
            Outcome::Failed(format!(
                "sent_at {:?} is not an RFC 3339 instant: {e}",
                message.sent_at
            ))
        })
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let url = require_config(host, "url")?;
    let sent_at = sent_at(message)?;
    let body = body(message);
    let signature = signature(host, sent_at, &body)?;
    let mut req = HttpRequest::post(url)
        .body(body.into_bytes(), "application/json")
        .header("Idempotency-Key", message.idempotency_key.clone())
        .header("X-Journey-Signature", signature);
    if let Some(token) = host.secret("token").filter(|t| !t.is_empty()) {
        req = req.bearer(&token);
    }
    Ok(req)
}

/// `t=<t>,v1=<lowercase hex HMAC-SHA256(signing_secret, "<t>.<body>")>`, the HMAC
/// computed by the host ([`Host::hmac_sha256`]), or the failure that says the secret is not
/// set.
pub fn signature(host: &dyn Host, t: i64, body: &str) -> Result<String, Outcome> {
    let t_text = t.to_string();
    let mut data = Vec::with_capacity(t_text.len() + 1 + body.len());
    data.extend_from_slice(t_text.as_bytes());
    data.push(b'.');
    data.extend_from_slice(body.as_bytes());
    let mac = host
        .hmac_sha256("signing_secret", &data)
        .ok_or_else(|| Outcome::Failed("secret `signing_secret` is not set".into()))?;
    Ok(format!("t={t},v1={}", hex::encode(mac)))
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
        assert_eq!(
            m.hosts,
            vec!["{url}".to_string(), "{batch_url}".to_string()]
        );
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
        assert_eq!(Ok(sig.to_string()), signature(&host, 1_740_823_200, &text));
        assert!(sig.starts_with("t=1740823200,v1="));
        assert_eq!(sig.len(), "t=1740823200,v1=".len() + 64);
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // Computed with Python's hmac module: HMAC-SHA256(b"s3cret", b'1740823200.{"a":1}').
        assert_eq!(
            signature(&host(), 1_740_823_200, r#"{"a":1}"#),
            Ok(
                "t=1740823200,v1=83b7655b50255812e8b625e3b39f7ee4b79a205b61fedd96cd54e70ae63e643b"
                    .to_string()
            )
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

    fn batch(n: usize) -> Vec<Message> {
        let mut messages = journey_plugin_sdk::testing::numbered(&message(), n);
        for (i, m) in messages.iter_mut().enumerate() {
            m.sent_at = format!("2025-03-01T10:{:02}:{:02}Z", i / 60, i % 60);
        }
        messages
    }

    #[test]
    fn batches_go_in_one_signed_request_to_batch_url() {
        let host = host()
            .with_config("batch_url", "https://hooks.example.com/batch")
            .respond(HttpResponse::with_json(
                200,
                &json!({"results": [
                    {"id": "evt-0"},
                    {},
                    {"error": "unknown customer"},
                    {"error": "busy", "retry": true, "retry_after_ms": 1500},
                ]}),
            ));
        let messages = batch(4);
        let out = Webhook::deliver_batch(&host, &messages);
        assert_eq!(
            out,
            vec![
                Outcome::Accepted("evt-0".into()),
                Outcome::Accepted("key-1".into()),
                Outcome::Failed("unknown customer".into()),
                Outcome::RetryAfter {
                    after_ms: 1500,
                    reason: "busy".into()
                },
            ]
        );
        let req = host.only_request();
        assert_eq!(req.url, "https://hooks.example.com/batch");
        let body = req.body_json().expect("json");
        let posted = body["messages"].as_array().expect("a list");
        assert_eq!(posted.len(), 4);
        assert_eq!(
            posted[2],
            serde_json::from_str::<Value>(&super::body(&messages[2])).expect("json")
        );
        // Signed with the latest `sent_at` (10:00:03).
        let sig = req.header_value("X-Journey-Signature").expect("signed");
        assert_eq!(
            Ok(sig.to_string()),
            signature(&host, 1_740_823_203, &req.body_text())
        );
        let key = req.header_value("Idempotency-Key").expect("a key");
        assert!(key.starts_with("batch-") && key.len() == 6 + 32, "{key}");
        // The same messages make the same key; others another.
        let again = host_answering(HttpResponse::new(204));
        Webhook::deliver_batch(&again, &messages);
        assert_eq!(
            again.only_request().header_value("Idempotency-Key"),
            Some(key)
        );
        let other = host_answering(HttpResponse::new(204));
        Webhook::deliver_batch(&other, &messages[1..]);
        assert_ne!(
            other.only_request().header_value("Idempotency-Key"),
            Some(key)
        );
    }

    fn host_answering(resp: HttpResponse) -> StubHost {
        host()
            .with_config("batch_url", "https://hooks.example.com/batch")
            .respond(resp)
    }

    #[test]
    fn batch_answers_without_results_short_results_and_errors() {
        // A 2xx without `results` accepts every message under its own key.
        let h = host_answering(HttpResponse::new(202));
        assert_eq!(
            Webhook::deliver_batch(&h, &batch(2)),
            vec![
                Outcome::Accepted("key-0".into()),
                Outcome::Accepted("key-1".into())
            ]
        );
        // Results that stop short leave the rest to be retried.
        let h = host_answering(HttpResponse::with_json(200, &json!({"results": [{}]})));
        let out = Webhook::deliver_batch(&h, &batch(3));
        assert_eq!(out[0], Outcome::Accepted("key-0".into()));
        for o in &out[1..] {
            assert!(
                matches!(o, Outcome::RetryAfter { reason, .. } if reason == "the answer has 1 results for 3 messages"),
                "{o:?}"
            );
        }
        // Any other answer applies to every message.
        let h = host_answering(HttpResponse::new(503).with_header("Retry-After", "7"));
        let out = Webhook::deliver_batch(&h, &batch(2));
        assert!(
            out.iter()
                .all(|o| matches!(o, Outcome::RetryAfter { after_ms: 7000, .. })),
            "{out:?}"
        );
        // A message that is not an instant fails alone; the others are posted.
        let h = host_answering(HttpResponse::new(204));
        let mut messages = batch(3);
        messages[1].sent_at = "yesterday".into();
        let out = Webhook::deliver_batch(&h, &messages);
        assert_eq!(out[0], Outcome::Accepted("key-0".into()));
        assert!(matches!(&out[1], Outcome::Failed(r) if r.contains("not an RFC 3339 instant")));
        assert_eq!(out[2], Outcome::Accepted("key-2".into()));
        let body = h.only_request().body_json().expect("json");
        assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn large_batches_are_split_and_no_batch_url_posts_one_by_one() {
        let mut h = host().with_config("batch_url", "https://hooks.example.com/batch");
        for _ in 0..2 {
            h = h.respond(HttpResponse::new(204));
        }
        let out = Webhook::deliver_batch(&h, &batch(MAX_BATCH + 1));
        assert_eq!(out.len(), MAX_BATCH + 1);
        let sizes: Vec<usize> = h
            .requests()
            .iter()
            .map(|r| {
                r.body_json().expect("json")["messages"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .collect();
        assert_eq!(sizes, [MAX_BATCH, 1]);
        // Without `batch_url`: one request per message, to `url`.
        let h = host()
            .respond(HttpResponse::new(204))
            .respond(HttpResponse::new(204));
        let out = Webhook::deliver_batch(&h, &batch(2));
        assert_eq!(out.len(), 2);
        assert!(
            h.requests()
                .iter()
                .all(|r| r.url == "https://hooks.example.com/journey")
        );
        assert_eq!(h.requests().len(), 2);
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
