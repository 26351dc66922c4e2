//! The `email` channel plugin: sends e-mail through a provider's JSON API.
//!
//! Request: `POST <endpoint>` with `Authorization: Bearer <api_key>`,
//! `Idempotency-Key: <key>`, `Content-Type: application/json` and the body described by
//! [`body`]. A 2xx answer is accepted with the JSON body's `id` (else the idempotency key).
//!
//! **Batches.** When the channel sets `batch_endpoint`, the e-mails the runtime hands over
//! together go in one request, [`MAX_BATCH`] at most: `POST <batch_endpoint>` with the body
//! `{"messages": [<body>, ...]}` and `Idempotency-Key: batch-<32 hex digits>` (the same for
//! the same messages). The answer maps to one outcome per message as
//! [`outcomes_from_batch_response`](journey_plugin_sdk::outcomes_from_batch_response) says (per-message `results`, or one verdict for all).
//! An e-mail that cannot be written (no address, no subject) fails alone; the others are
//! sent. Without `batch_endpoint`, a batch is sent message by message to `endpoint`.

use journey_plugin_sdk::spec::{config, param, part, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Content, Host, HttpRequest, Manifest, Message,
    Outcome, ParamType, ParamValue, RateLimit, batch_idempotency_key, deliver_each, deliver_http,
    deliver_http_batch, field, for_each_chunk, require_config, require_secret, send_prepared,
};
use serde_json::{Map, Value, json};

/// The e-mail connector.
pub struct Email;

impl Connector for Email {
    fn manifest() -> Manifest {
        Manifest {
            name: "email".into(),
            version: "1.1.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Email,
            description: "Sends e-mail through a provider's JSON API.".into(),
            params: vec![
                param(
                    "reply_to",
                    ParamType::Text,
                    "Reply-To address; overrides the channel's.",
                ),
                param(
                    "utm_campaign",
                    ParamType::Text,
                    "Campaign tag, sent in the metadata.",
                ),
                param(
                    "attachment_url",
                    ParamType::Text,
                    "URL of a file to attach.",
                ),
                param("tags", ParamType::TextList, "Provider tags for reporting."),
            ],
            open_params: false,
            parts: vec![
                part("subject", true, "The subject line."),
                part("text", false, "The plain-text body."),
                part("html", false, "The HTML body."),
            ],
            config: vec![
                config("endpoint", true, "The provider's send URL."),
                config(
                    "batch_endpoint",
                    false,
                    "The provider's batch send URL; when set, e-mails delivered together go in one request.",
                ),
                config("from", true, "The sender address."),
                config("reply_to", false, "Default Reply-To address."),
                secret("api_key", true, "The provider's API key (bearer token)."),
            ],
            hosts: vec!["{endpoint}".into(), "{batch_endpoint}".into()],
            rate_limit: Some(RateLimit {
                per_second: 100,
                burst: 50,
            }),
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
        let Some(url) = host
            .config("batch_endpoint")
            .filter(|u| !u.trim().is_empty())
        else {
            return deliver_each::<Self>(host, messages);
        };
        let (from, api_key) = match (
            require_config(host, "from"),
            require_secret(host, "api_key"),
        ) {
            (Ok(f), Ok(k)) => (f, k),
            (Err(o), _) | (_, Err(o)) => return vec![o; messages.len()],
        };
        let default_reply_to = host.config("reply_to");
        for_each_chunk(messages, MAX_BATCH, |chunk| {
            send_prepared(
                chunk,
                |m| {
                    body(
                        m,
                        &from,
                        reply_to(m, default_reply_to.as_deref()).as_deref(),
                    )
                },
                |ready| {
                    let (posted, bodies): (Vec<&Message>, Vec<Value>) = ready.into_iter().unzip();
                    let req = HttpRequest::post(url.clone())
                        .bearer(&api_key)
                        .header(
                            "Idempotency-Key",
                            batch_idempotency_key(posted.iter().copied()),
                        )
                        .json(&json!({ "messages": bodies }));
                    deliver_http_batch(host, &req, &posted)
                },
            )
        })
    }
}

/// The most e-mails sent to `batch_endpoint` in one request; a larger batch is split.
pub const MAX_BATCH: usize = 500;

/// The Reply-To of `message`: its `reply_to` parameter, else the channel's default; an
/// empty one means "not given".
fn reply_to(message: &Message, default: Option<&str>) -> Option<String> {
    message
        .text_param("reply_to")
        .filter(|r| !r.is_empty())
        .or(default)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let endpoint = require_config(host, "endpoint")?;
    let from = require_config(host, "from")?;
    let api_key = require_secret(host, "api_key")?;
    let reply_to = reply_to(message, host.config("reply_to").as_deref());
    let body = body(message, &from, reply_to.as_deref())?;
    Ok(HttpRequest::post(endpoint)
        .bearer(&api_key)
        .header("Idempotency-Key", message.idempotency_key.clone())
        .json(&body))
}

/// The JSON body. Keys whose value is absent are left out:
///
/// ```json
/// {"from": "...", "to": "...", "reply_to": "...",
///  "subject": "...", "text": "...", "html": "...",          (rendered content)
///  "template_id": "...", "template_data": {params},          (provider template)
///  "tags": ["..."],
///  "metadata": {"customer_id": "...", "channel": "...", "origin": "...", "utm_campaign": "..."},
///  "attachments": [{"url": "..."}]}
/// ```
///
/// Fails when the customer has no `email` address, or when rendered content lacks a
/// subject or has neither `text` nor `html`.
pub fn body(message: &Message, from: &str, reply_to: Option<&str>) -> Result<Value, Outcome> {
    let to = message
        .address("email")
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| Outcome::Failed("customer has no e-mail address".into()))?;
    let mut out = Map::new();
    out.insert("from".into(), json!(from));
    out.insert("to".into(), json!(to));
    if let Some(r) = reply_to {
        out.insert("reply_to".into(), json!(r));
    }
    match &message.content {
        Content::Rendered(_) => {
            let subject = message
                .part("subject")
                .ok_or_else(|| Outcome::Failed("the template has no `subject` part".into()))?;
            let (text, html) = (message.part("text"), message.part("html"));
            if text.is_none() && html.is_none() {
                return Err(Outcome::Failed(
                    "the template has neither a `text` nor an `html` part".into(),
                ));
            }
            out.insert("subject".into(), json!(subject));
            if let Some(t) = text {
                out.insert("text".into(), json!(t));
            }
            if let Some(h) = html {
                out.insert("html".into(), json!(h));
            }
        }
        Content::ProviderTemplate(id) => {
            out.insert("template_id".into(), json!(id));
            let data: Map<String, Value> = message
                .params
                .iter()
                .map(|(n, v)| (n.clone(), v.to_json()))
                .collect();
            out.insert("template_data".into(), Value::Object(data));
        }
    }
    if let Some(ParamValue::TextList(tags)) = field(&message.params, "tags") {
        out.insert("tags".into(), json!(tags));
    }
    let mut metadata = json!({
        "customer_id": message.customer_id,
        "channel": message.channel,
        "origin": message.origin,
    });
    if let Some(campaign) = message.text_param("utm_campaign") {
        metadata["utm_campaign"] = json!(campaign);
    }
    out.insert("metadata".into(), metadata);
    if let Some(url) = message.text_param("attachment_url") {
        out.insert("attachments".into(), json!([{ "url": url }]));
    }
    Ok(Value::Object(out))
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Email);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::HttpResponse;
    use journey_plugin_sdk::testing::{self, StubHost, text};

    fn message() -> Message {
        Message {
            channel: "mail".into(),
            origin: "welcome/hello".into(),
            template: Some("hello".into()),
            content: Content::Rendered(vec![
                ("subject".into(), text("Bienvenue")),
                ("text".into(), text("Bonjour")),
                ("html".into(), text("<p>Bonjour</p>")),
            ]),
            recipient: vec![("email".into(), text("ana@example.org"))],
            params: vec![
                ("utm_campaign".into(), text("spring")),
                (
                    "attachment_url".into(),
                    text("https://cdn.example.com/a.pdf"),
                ),
                (
                    "tags".into(),
                    ParamValue::TextList(vec!["welcome".into(), "fr".into()]),
                ),
            ],
            ..testing::message()
        }
    }

    fn host() -> StubHost {
        StubHost::new()
            .with_config("endpoint", "https://mail.example.com/v1/send")
            .with_config("from", "news@shop.example")
            .with_config("reply_to", "help@shop.example")
            .with_secret("api_key", "k-1")
    }

    #[test]
    fn reply_to_parameter_overrides_the_default_unless_empty() {
        let reply_to = |param: Option<&str>| {
            let host = host().respond(HttpResponse::with_json(202, &json!({"id": "em-1"})));
            let mut m = message();
            if let Some(p) = param {
                m.params.push(("reply_to".into(), text(p)));
            }
            Email::deliver(&host, &m);
            host.only_request().body_json().expect("json")["reply_to"].clone()
        };
        assert_eq!(reply_to(None), json!("help@shop.example"));
        assert_eq!(
            reply_to(Some("ops@shop.example")),
            json!("ops@shop.example")
        );
        assert_eq!(reply_to(Some("")), json!("help@shop.example"));
    }

    #[test]
    fn batches_go_in_one_request_to_batch_endpoint() {
        let batching = host()
            .with_config("batch_endpoint", "https://mail.example.com/v1/batch")
            .respond(HttpResponse::with_json(
                200,
                &serde_json::json!({"results": [{"id": "m-0"}, {"error": "bounced"}]}),
            ));
        let mut messages = journey_plugin_sdk::testing::numbered(&message(), 3);
        // The second has no address: it fails alone, unsent.
        messages[1].recipient.clear();
        let out = Email::deliver_batch(&batching, &messages);
        assert_eq!(
            out,
            vec![
                Outcome::Accepted("m-0".into()),
                Outcome::Failed("customer has no e-mail address".into()),
                Outcome::Failed("bounced".into()),
            ]
        );
        let req = batching.only_request();
        assert_eq!(req.url, "https://mail.example.com/v1/batch");
        assert_eq!(req.header_value("Authorization"), Some("Bearer k-1"));
        let body = req.body_json().expect("json");
        let sent = body["messages"].as_array().expect("a list");
        assert_eq!(sent.len(), 2);
        let one = body_of(&messages[0]);
        assert_eq!(sent[0], one);
        assert_eq!(sent[0]["reply_to"], "help@shop.example");
        let key = req.header_value("Idempotency-Key").expect("a key");
        assert_eq!(key, batch_idempotency_key([&messages[0], &messages[2]]));
        // Without `batch_endpoint`: one request per e-mail, to `endpoint`.
        let single = host()
            .respond(HttpResponse::new(202))
            .respond(HttpResponse::new(202));
        let out = Email::deliver_batch(&single, &messages[..1]);
        assert_eq!(out, vec![Outcome::Accepted("key-0".into())]);
        assert_eq!(
            single.only_request().url,
            "https://mail.example.com/v1/send"
        );
        // A missing secret fails every message, unsent.
        let no_key = StubHost::new()
            .with_config("batch_endpoint", "https://mail.example.com/v1/batch")
            .with_config("from", "news@shop.example");
        let out = Email::deliver_batch(&no_key, &messages);
        assert!(
            out.iter()
                .all(|o| *o == Outcome::Failed("secret `api_key` is not set".into()))
        );
        assert!(no_key.requests().is_empty());
    }

    /// What `request` posts for `m` alone, with the test host's configuration.
    fn body_of(m: &Message) -> serde_json::Value {
        body(
            m,
            "news@shop.example",
            reply_to(m, Some("help@shop.example")).as_deref(),
        )
        .expect("a body")
    }

    #[test]
    fn manifest_is_sound() {
        let m = Email::manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                per_second: 100,
                burst: 50
            })
        );
        assert_eq!(m.param("tags").map(|p| p.ty), Some(ParamType::TextList));
        assert!(m.parts.iter().any(|p| p.name == "subject" && p.required));
        assert!(
            m.config_key("api_key")
                .is_some_and(|c| c.secret && c.required)
        );
    }

    #[test]
    fn posts_the_rendered_message() {
        let host = host().respond(HttpResponse::with_json(202, &json!({"id": "em-1"})));
        assert_eq!(
            Email::deliver(&host, &message()),
            Outcome::Accepted("em-1".into())
        );
        let req = host.only_request();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://mail.example.com/v1/send");
        assert_eq!(req.header_value("Authorization"), Some("Bearer k-1"));
        assert_eq!(req.header_value("Idempotency-Key"), Some("key-1"));
        assert_eq!(req.header_value("Content-Type"), Some("application/json"));
        assert_eq!(
            req.body_json().expect("json"),
            json!({
                "from": "news@shop.example",
                "to": "ana@example.org",
                "reply_to": "help@shop.example",
                "subject": "Bienvenue",
                "text": "Bonjour",
                "html": "<p>Bonjour</p>",
                "tags": ["welcome", "fr"],
                "metadata": {
                    "customer_id": "c-1",
                    "channel": "mail",
                    "origin": "welcome/hello",
                    "utm_campaign": "spring"
                },
                "attachments": [{"url": "https://cdn.example.com/a.pdf"}]
            })
        );
    }

    #[test]
    fn reply_to_param_overrides_config_and_absent_keys_are_left_out() {
        let host = host().respond(HttpResponse::new(200));
        let mut m = message();
        m.params = vec![("reply_to".into(), text("ana.manager@shop.example"))];
        m.content = Content::Rendered(vec![
            ("subject".into(), text("S")),
            ("html".into(), text("<b>H</b>")),
        ]);
        assert_eq!(Email::deliver(&host, &m), Outcome::Accepted("key-1".into()));
        let body = host.only_request().body_json().expect("json");
        assert_eq!(
            body,
            json!({
                "from": "news@shop.example",
                "to": "ana@example.org",
                "reply_to": "ana.manager@shop.example",
                "subject": "S",
                "html": "<b>H</b>",
                "metadata": {"customer_id": "c-1", "channel": "mail", "origin": "welcome/hello"}
            })
        );
    }

    #[test]
    fn provider_templates_carry_the_params() {
        let host = StubHost::new()
            .with_config("endpoint", "https://mail.example.com/v1/send")
            .with_config("from", "news@shop.example")
            .with_secret("api_key", "k-1")
            .respond(HttpResponse::with_json(200, &json!({"id": 12})));
        let mut m = message();
        m.content = Content::ProviderTemplate("tpl-welcome".into());
        m.params = vec![
            ("first_name".into(), text("Ana")),
            ("n".into(), ParamValue::Number(2.0)),
        ];
        assert_eq!(Email::deliver(&host, &m), Outcome::Accepted("12".into()));
        let body = host.only_request().body_json().expect("json");
        assert_eq!(body["template_id"], json!("tpl-welcome"));
        assert_eq!(
            body["template_data"],
            json!({"first_name": "Ana", "n": 2.0})
        );
        assert_eq!(body.get("subject"), None);
        assert_eq!(body.get("reply_to"), None);
    }

    #[test]
    fn refuses_messages_it_cannot_send() {
        let host = host();
        let mut m = message();
        m.recipient.clear();
        assert_eq!(
            Email::deliver(&host, &m),
            Outcome::Failed("customer has no e-mail address".into())
        );
        let mut m = message();
        m.content = Content::Rendered(vec![("subject".into(), text("S"))]);
        assert_eq!(
            Email::deliver(&host, &m),
            Outcome::Failed("the template has neither a `text` nor an `html` part".into())
        );
        let mut m = message();
        m.content = Content::Rendered(vec![("text".into(), text("T"))]);
        assert!(matches!(Email::deliver(&host, &m), Outcome::Failed(r) if r.contains("subject")));
        assert!(host.requests().is_empty());
        let unconfigured = StubHost::new().with_config("endpoint", "https://mail.example.com/");
        assert_eq!(
            Email::deliver(&unconfigured, &message()),
            Outcome::Failed("configuration key `from` is not set".into())
        );
    }

    #[test]
    fn provider_errors_map_to_outcomes() {
        let host = host()
            .respond(HttpResponse::new(429))
            .respond(HttpResponse::new(422).with_body(r#"{"error":"bad address"}"#));
        assert!(matches!(
            Email::deliver(&host, &message()),
            Outcome::RetryAfter {
                after_ms: 30_000,
                ..
            }
        ));
        assert_eq!(
            Email::deliver(&host, &message()),
            Outcome::Failed(r#"provider answered HTTP 422: {"error":"bad address"}"#.into())
        );
    }
}
