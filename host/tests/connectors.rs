//! The four real connectors, built as components, each delivering to a local HTTP server
//! started by the test, which records the requests and answers like a provider.

mod common;

use common::{host, load, message, setup};
use journey_host::sink::{Reply, Sink};
use journey_plugin_api::{Outcome, ParamValue};

fn sink() -> Sink {
    Sink::start().expect("the local server starts")
}

#[test]
fn webhook_posts_signed_json() {
    let s = sink();
    let h = host();
    let p = load(&h, "webhook");
    assert_eq!(p.manifest().name, "webhook");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "call_center",
        &[("url", &s.url("/tasks"))],
        &[("signing_secret", "s3cret"), ("token", "tok")],
        &[&s.addr().to_string()],
    );
    let m = message(
        &[("script", "Rappeler le client")],
        &[("phone", "+33612345678")],
        &[
            ("queue", ParamValue::Text("fidelisation".into())),
            ("urgency", ParamValue::Number(1.0)),
        ],
    );
    let d = i.deliver(&ch, &m).expect("delivers");
    assert_eq!(d.outcome, Outcome::Accepted("sink-1".into()));
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/tasks");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("idempotency-key"), Some("0123456789abcdef"));
    assert_eq!(r.header("authorization"), Some("Bearer tok"));
    let body = r.json().expect("a JSON body");
    assert_eq!(body["customer_id"], "C42");
    assert_eq!(body["params"]["queue"], "fidelisation");
    assert_eq!(body["params"]["urgency"], 1.0);
    assert_eq!(body["content"]["rendered"]["script"], "Rappeler le client");
    // The signature: t=<unix seconds of sent_at>,v1=<hex HMAC-SHA256(secret, "t.body")>.
    let sig = r.header("x-journey-signature").expect("signed");
    let t = 1_803_893_400; // 2027-03-01T09:30:00Z
    let expected = hmac_sha256_hex(b"s3cret", format!("{t}.{}", r.text()).as_bytes());
    assert_eq!(sig, format!("t={t},v1={expected}"));
}

#[test]
fn webhook_posts_a_batch_in_one_signed_request_to_batch_url() {
    let s = sink();
    let h = host();
    let p = load(&h, "webhook");
    assert!(p.batches());
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "call_center",
        &[("url", &s.url("/tasks")), ("batch_url", &s.url("/batch"))],
        &[("signing_secret", "s3cret")],
        &[&s.addr().to_string()],
    );
    let messages: Vec<_> = (0..3)
        .map(|n| {
            let mut m = message(&[("script", "Rappeler le client")], &[], &[]);
            m.idempotency_key = format!("key-{n}");
            m
        })
        .collect();
    let d = i.deliver_batch(&ch, &messages);
    assert_eq!(d.calls, 1);
    let ids: Vec<_> = d
        .results
        .iter()
        .map(|r| r.as_ref().expect("an outcome").clone())
        .collect();
    // The sink answers `{"id": ...}` without `results`: each message is accepted under its
    // own key.
    assert_eq!(
        ids,
        ["key-0", "key-1", "key-2"].map(|k| Outcome::Accepted(k.into()))
    );
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1, "one request for the batch");
    let r = &reqs[0];
    assert_eq!(r.path, "/batch");
    let body = r.json().expect("a JSON body");
    let posted = body["messages"].as_array().expect("messages");
    assert_eq!(posted.len(), 3);
    assert_eq!(posted[1]["idempotency_key"], "key-1");
    assert!(
        r.header("idempotency-key")
            .is_some_and(|k| k.starts_with("batch-")),
        "{:?}",
        r.header("idempotency-key")
    );
    // Signed by the host with the channel's secret, checked independently.
    let sig = r.header("x-journey-signature").expect("signed");
    let t = 1_803_893_400; // 2027-03-01T09:30:00Z
    let expected = hmac_sha256_hex(b"s3cret", format!("{t}.{}", r.text()).as_bytes());
    assert_eq!(sig, format!("t={t},v1={expected}"));
    // Without the secret the host signs nothing and every message fails, unsent.
    let unsigned = setup(
        "call_center",
        &[("url", &s.url("/tasks")), ("batch_url", &s.url("/batch"))],
        &[],
        &[&s.addr().to_string()],
    );
    let d = i.deliver_batch(&unsigned, &messages);
    for r in &d.results {
        assert_eq!(
            r.as_ref().expect("an outcome"),
            &Outcome::Failed("secret `signing_secret` is not set".into())
        );
    }
    assert_eq!(s.requests().len(), 1);
}

/// HMAC-SHA256 written out from FIPS 198 over the `sha2` crate, independently of the
/// host's use of the `hmac` crate (`host.hmac-sha256`).
fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(data.iter().copied())
        .collect();
    let ih = Sha256::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(ih.iter().copied())
        .collect();
    Sha256::digest(&outer)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn email_posts_to_the_provider_api() {
    let s = sink();
    let h = host();
    let p = load(&h, "email");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "email",
        &[
            ("endpoint", &s.url("/v3/mail/send")),
            ("from", "bonjour@telco.example"),
        ],
        &[("api_key", "key-123")],
        &[&s.addr().to_string()],
    );
    let m = message(
        &[("subject", "Bienvenue"), ("text", "Bonjour Zoé")],
        &[("email", "zoe@example.org")],
        &[("utm_campaign", ParamValue::Text("printemps".into()))],
    );
    let d = i.deliver(&ch, &m).expect("delivers");
    assert_eq!(d.outcome, Outcome::Accepted("sink-1".into()));
    let r = &s.requests()[0];
    assert_eq!(r.path, "/v3/mail/send");
    assert_eq!(r.header("authorization"), Some("Bearer key-123"));
    assert_eq!(r.header("idempotency-key"), Some("0123456789abcdef"));
    let body = r.json().expect("JSON");
    assert_eq!(body["from"], "bonjour@telco.example");
    assert_eq!(body["to"], "zoe@example.org");
    assert_eq!(body["subject"], "Bienvenue");
    assert_eq!(body["text"], "Bonjour Zoé");
    assert_eq!(body["metadata"]["utm_campaign"], "printemps");

    // No address: a permanent failure, and nothing is sent.
    let d = i
        .deliver(&ch, &message(&[("subject", "x"), ("text", "y")], &[], &[]))
        .expect("the call completes");
    assert!(
        matches!(d.outcome, Outcome::Failed(ref why) if why.contains("e-mail")),
        "{:?}",
        d.outcome
    );
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn sms_posts_a_form_and_counts_segments() {
    let s = sink();
    let h = host();
    let p = load(&h, "sms");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "sms",
        &[
            ("endpoint", &s.url("/2010-04-01/Messages.json")),
            ("sender", "TELCO"),
        ],
        &[("api_key", "k")],
        &[&s.addr().to_string()],
    );
    let text = "Joyeux anniversaire ! Votre cadeau vous attend.";
    let m = message(
        &[("text", text)],
        &[("phone", "+33612345678")],
        &[("short_link", ParamValue::Text("https://t.co/x".into()))],
    );
    let d = i.deliver(&ch, &m).expect("delivers");
    assert_eq!(d.outcome, Outcome::Accepted("SM00000001".into()));
    let r = &s.requests()[0];
    assert_eq!(r.path, "/2010-04-01/Messages.json");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.header("x-segments"), Some("1"));
    let form = r.text();
    assert!(form.contains("From=TELCO"), "{form}");
    assert!(form.contains("To=%2B33612345678"), "{form}");
    assert!(form.contains("https%3A%2F%2Ft.co%2Fx"), "{form}");

    // Not E.164: refused before any request.
    let bad = message(&[("text", "x")], &[("phone", "0612345678")], &[]);
    let d = i.deliver(&ch, &bad).expect("the call completes");
    assert!(
        matches!(d.outcome, Outcome::Failed(ref why) if why.contains("0612345678")),
        "{:?}",
        d.outcome
    );
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn push_posts_an_fcm_v1_message() {
    let s = sink();
    let h = host();
    let p = load(&h, "push");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "push",
        &[("endpoint", &s.url("")), ("project_id", "telco-app")],
        &[("credentials", "ya29.token")],
        &[&s.addr().to_string()],
    );
    let m = message(
        &[
            ("title", "Nouvelle facture"),
            ("text", "Votre facture est disponible."),
        ],
        &[("push_token", "device-token-1")],
        &[
            ("deep_link", ParamValue::Text("telco://factures".into())),
            ("badge", ParamValue::Number(3.0)),
        ],
    );
    let d = i.deliver(&ch, &m).expect("delivers");
    assert_eq!(
        d.outcome,
        Outcome::Accepted("projects/sink/messages/1".into())
    );
    let r = &s.requests()[0];
    assert_eq!(r.path, "/v1/projects/telco-app/messages:send");
    assert_eq!(r.header("authorization"), Some("Bearer ya29.token"));
    let body = r.json().expect("JSON");
    assert_eq!(body["message"]["token"], "device-token-1");
    assert_eq!(body["message"]["notification"]["title"], "Nouvelle facture");
    assert_eq!(body["message"]["data"]["deep_link"], "telco://factures");
    assert_eq!(body["message"]["apns"]["payload"]["aps"]["badge"], 3);
}

#[test]
fn provider_answers_map_to_outcomes() {
    // 429 with Retry-After, then 503 without, then 400: retry (7 s), retry (default), failed.
    let s = Sink::with(|n, _| match n {
        1 => Reply::status(429, "slow down").with_header("Retry-After", "7"),
        2 => Reply::status(503, "maintenance"),
        _ => Reply::status(400, r#"{"error":"invalid number"}"#),
    })
    .expect("sink");
    let h = host();
    let p = load(&h, "sms");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "sms",
        &[("endpoint", &s.url("/send")), ("sender", "TELCO")],
        &[("api_key", "k")],
        &[&s.addr().to_string()],
    );
    let m = message(&[("text", "x")], &[("phone", "+33612345678")], &[]);
    let first = i.deliver(&ch, &m).expect("completes").outcome;
    assert!(
        matches!(first, Outcome::RetryAfter { after_ms: 7000, .. }),
        "{first:?}"
    );
    let second = i.deliver(&ch, &m).expect("completes").outcome;
    assert!(matches!(second, Outcome::RetryAfter { .. }), "{second:?}");
    let third = i.deliver(&ch, &m).expect("completes").outcome;
    assert!(
        matches!(third, Outcome::Failed(ref why) if why.contains("400")),
        "{third:?}"
    );
}

#[test]
fn the_sink_transport_reroutes_declared_hosts_only() {
    // The channel names the provider's real host; the host sends to the local sink instead.
    let s = sink();
    let h = common::host_with(journey_host::Transport::Sink(s.addr()));
    let p = load(&h, "email");
    let mut i = p.instantiate().expect("instantiates");
    let ch = setup(
        "email",
        &[
            ("endpoint", "https://api.mail.example/v3/send"),
            ("from", "a@b.example"),
        ],
        &[("api_key", "k")],
        &["api.mail.example"],
    );
    let m = message(
        &[("subject", "s"), ("text", "t")],
        &[("email", "z@y.example")],
        &[],
    );
    let d = i.deliver(&ch, &m).expect("delivers");
    assert!(matches!(d.outcome, Outcome::Accepted(_)), "{:?}", d.outcome);
    assert_eq!(s.requests()[0].path, "/v3/send");
    assert_eq!(d.http[0].url, "https://api.mail.example/v3/send");
}
