//! The `push` channel plugin: sends push notifications through an FCM v1 style API.
//!
//! Request: `POST <endpoint>/v1/projects/<project_id>/messages:send` with
//! `Authorization: Bearer <credentials>`, `Idempotency-Key: <key>`,
//! `Content-Type: application/json` and the body described by [`body`]. A 2xx answer is
//! accepted with the JSON body's `name` (else the idempotency key); a 404, or an error
//! body saying `UNREGISTERED`, fails with "push token unregistered" (the app was
//! uninstalled: retrying cannot help).

use journey_plugin_sdk::spec::{config, param, part, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Host, HttpRequest, HttpResponse, Manifest, Message,
    Outcome, ParamType, ParamValue, RateLimit, field, outcome_from_error, outcome_from_response,
    require_config, require_secret,
};
use serde_json::{Map, Value, json};

/// The push connector.
pub struct Push;

impl Connector for Push {
    fn manifest() -> Manifest {
        Manifest {
            name: "push".into(),
            version: "1.0.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Push,
            description: "Sends push notifications through an FCM v1 style API.".into(),
            params: vec![
                param(
                    "deep_link",
                    ParamType::Text,
                    "Where tapping the notification leads.",
                ),
                param(
                    "badge",
                    ParamType::Number,
                    "The app icon's badge count (iOS).",
                ),
                param(
                    "ttl",
                    ParamType::Duration,
                    "How long the notification may wait for the device (Android).",
                ),
            ],
            open_params: false,
            parts: vec![
                part("title", true, "The notification's title."),
                part("text", true, "The notification's body."),
            ],
            config: vec![
                config(
                    "endpoint",
                    true,
                    "The API's base URL (`https://fcm.googleapis.com`).",
                ),
                config("project_id", true, "The project the app belongs to."),
                config("app_id", false, "Sent to the app in the data payload."),
                secret(
                    "credentials",
                    true,
                    "An access token for the API (bearer token).",
                ),
            ],
            hosts: vec!["{endpoint}".into()],
            rate_limit: Some(RateLimit {
                per_second: 500,
                burst: 500,
            }),
        }
    }

    fn deliver(host: &dyn Host, message: &Message) -> Outcome {
        let req = match request(host, message) {
            Ok(req) => req,
            Err(outcome) => return outcome,
        };
        match host.http(&req) {
            Ok(resp) => outcome(&resp, &message.idempotency_key),
            Err(e) => outcome_from_error(&e),
        }
    }
}

/// What the API's answer means.
pub fn outcome(resp: &HttpResponse, idempotency_key: &str) -> Outcome {
    if !resp.is_success() && (resp.status == 404 || resp.text().contains("UNREGISTERED")) {
        return Outcome::Failed("push token unregistered".into());
    }
    outcome_from_response(resp, |r| {
        r.json_field("name").or(Some(idempotency_key.to_string()))
    })
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let endpoint = require_config(host, "endpoint")?;
    let project_id = require_config(host, "project_id")?;
    if !project_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(Outcome::Failed(format!(
            "configuration key `project_id` {project_id:?} is not a project id (letters, digits, `-`, `_`, `.`, `:`)"
        )));
    }
    let credentials = require_secret(host, "credentials")?;
    let app_id = host.config("app_id").filter(|a| !a.is_empty());
    let body = body(message, app_id.as_deref())?;
    let url = format!(
        "{}/v1/projects/{project_id}/messages:send",
        endpoint.trim_end_matches('/')
    );
    Ok(HttpRequest::post(url)
        .bearer(&credentials)
        .header("Idempotency-Key", message.idempotency_key.clone())
        .json(&body))
}

/// The JSON body (`android` only with a `ttl`, `apns` only with a `badge`; `data` holds
/// strings only, as FCM requires):
///
/// ```json
/// {"message": {"token": "...",
///   "notification": {"title": "...", "body": "..."},
///   "data": {"idempotency_key": "...", "deep_link": "...", "app_id": "..."},
///   "android": {"ttl": "3600s"},
///   "apns": {"payload": {"aps": {"badge": 3}}}}}
/// ```
pub fn body(message: &Message, app_id: Option<&str>) -> Result<Value, Outcome> {
    let token = message
        .address("push_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Outcome::Failed("customer has no push token".into()))?;
    let title = message
        .part("title")
        .ok_or_else(|| Outcome::Failed("the message has no `title` part".into()))?;
    let text = message
        .part("text")
        .ok_or_else(|| Outcome::Failed("the message has no `text` part".into()))?;
    let mut data = Map::new();
    data.insert("idempotency_key".into(), json!(message.idempotency_key));
    if let Some(link) = message.text_param("deep_link") {
        data.insert("deep_link".into(), json!(link));
    }
    if let Some(app) = app_id {
        data.insert("app_id".into(), json!(app));
    }
    let mut out = json!({
        "token": token,
        "notification": {"title": title, "body": text},
        "data": data,
    });
    if let Some(ttl) = number_param(message, "ttl")? {
        if !(ttl.is_finite() && ttl >= 0.0) {
            return Err(Outcome::Failed(format!(
                "parameter `ttl` must be a duration of 0 s or more, got {ttl}"
            )));
        }
        out["android"] = json!({ "ttl": format!("{ttl}s") });
    }
    if let Some(badge) = number_param(message, "badge")? {
        if !(badge.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&badge)) {
            return Err(Outcome::Failed(format!(
                "parameter `badge` must be a whole number of 0 or more, got {badge}"
            )));
        }
        out["apns"] = json!({ "payload": { "aps": { "badge": badge as u64 } } });
    }
    Ok(json!({ "message": out }))
}

fn number_param(message: &Message, name: &str) -> Result<Option<f64>, Outcome> {
    match field(&message.params, name) {
        None => Ok(None),
        Some(ParamValue::Number(n)) => Ok(Some(*n)),
        Some(other) => Err(Outcome::Failed(format!(
            "parameter `{name}` must be a number, got {}",
            other.to_json()
        ))),
    }
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Push);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::testing::{self, StubHost, text};
    use journey_plugin_sdk::{Content, HttpError, HttpErrorKind};

    fn message() -> Message {
        Message {
            channel: "app_push".into(),
            origin: "cart/reminder".into(),
            template: Some("cart".into()),
            content: Content::Rendered(vec![
                ("title".into(), text("Your cart")),
                ("text".into(), text("Still thinking it over?")),
            ]),
            recipient: vec![("push_token".into(), text("tok-abc"))],
            params: vec![
                ("deep_link".into(), text("shop://cart")),
                ("badge".into(), ParamValue::Number(3.0)),
                ("ttl".into(), ParamValue::Number(3600.0)),
            ],
            ..testing::message()
        }
    }

    fn host() -> StubHost {
        StubHost::new()
            .with_config("endpoint", "https://push.example.com/")
            .with_config("project_id", "shop-prod")
            .with_config("app_id", "com.shop.app")
            .with_secret("credentials", "ya29.token")
    }

    #[test]
    fn manifest_is_sound() {
        let m = Push::manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(m.param("ttl").map(|p| p.ty), Some(ParamType::Duration));
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                per_second: 500,
                burst: 500
            })
        );
    }

    #[test]
    fn posts_an_fcm_message() {
        let host = host().respond(HttpResponse::with_json(
            200,
            &json!({"name": "projects/shop-prod/messages/0:123"}),
        ));
        assert_eq!(
            Push::deliver(&host, &message()),
            Outcome::Accepted("projects/shop-prod/messages/0:123".into())
        );
        let req = host.only_request();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "https://push.example.com/v1/projects/shop-prod/messages:send"
        );
        assert_eq!(req.header_value("Authorization"), Some("Bearer ya29.token"));
        assert_eq!(req.header_value("Idempotency-Key"), Some("key-1"));
        assert_eq!(req.header_value("Content-Type"), Some("application/json"));
        assert_eq!(
            req.body_json().expect("json"),
            json!({"message": {
                "token": "tok-abc",
                "notification": {"title": "Your cart", "body": "Still thinking it over?"},
                "data": {
                    "idempotency_key": "key-1",
                    "deep_link": "shop://cart",
                    "app_id": "com.shop.app"
                },
                "android": {"ttl": "3600s"},
                "apns": {"payload": {"aps": {"badge": 3}}}
            }})
        );
    }

    #[test]
    fn optional_parts_are_left_out() {
        let host = StubHost::new()
            .with_config("endpoint", "https://push.example.com")
            .with_config("project_id", "p1")
            .with_secret("credentials", "t")
            .respond(HttpResponse::new(200));
        let mut m = message();
        m.params = vec![("ttl".into(), ParamValue::Number(1.5))];
        assert_eq!(Push::deliver(&host, &m), Outcome::Accepted("key-1".into()));
        let body = host.only_request().body_json().expect("json");
        assert_eq!(body["message"]["data"], json!({"idempotency_key": "key-1"}));
        assert_eq!(body["message"]["android"], json!({"ttl": "1.5s"}));
        assert_eq!(body["message"].get("apns"), None);
    }

    #[test]
    fn unregistered_tokens_fail_for_good() {
        let host = host()
            .respond(HttpResponse::new(404))
            .respond(HttpResponse::with_json(
                400,
                &json!({"error": {"status": "INVALID_ARGUMENT", "details": [{"errorCode": "UNREGISTERED"}]}}),
            ))
            .respond(HttpResponse::new(400).with_body("bad"))
            .respond(HttpResponse::new(503))
            .fail(HttpError::new(HttpErrorKind::Timeout, "slow"));
        let unregistered = Outcome::Failed("push token unregistered".into());
        assert_eq!(Push::deliver(&host, &message()), unregistered);
        assert_eq!(Push::deliver(&host, &message()), unregistered);
        assert_eq!(
            Push::deliver(&host, &message()),
            Outcome::Failed("provider answered HTTP 400: bad".into())
        );
        assert!(matches!(
            Push::deliver(&host, &message()),
            Outcome::RetryAfter { after_ms: 5000, .. }
        ));
        assert!(matches!(
            Push::deliver(&host, &message()),
            Outcome::RetryAfter {
                after_ms: 10_000,
                ..
            }
        ));
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        let host = host();
        let mut m = message();
        m.recipient.clear();
        assert_eq!(
            Push::deliver(&host, &m),
            Outcome::Failed("customer has no push token".into())
        );
        for (name, value) in [
            ("badge", ParamValue::Number(-1.0)),
            ("badge", ParamValue::Number(2.5)),
            ("ttl", ParamValue::Number(-5.0)),
            ("ttl", ParamValue::Text("1h".into())),
        ] {
            let mut m = message();
            m.params = vec![(name.into(), value)];
            assert!(
                matches!(Push::deliver(&host, &m), Outcome::Failed(r) if r.contains(name)),
                "{name}"
            );
        }
        let mut m = message();
        m.content = Content::Rendered(vec![("title".into(), text("T"))]);
        assert!(matches!(Push::deliver(&host, &m), Outcome::Failed(r) if r.contains("`text`")));
        let bad_project = host.with_config("project_id", "a/b");
        assert!(matches!(
            Push::deliver(&bad_project, &message()),
            Outcome::Failed(r) if r.contains("project_id")
        ));
        assert!(bad_project.requests().is_empty());
    }
}
