//! A channel plugin that misbehaves on purpose, for the host's containment tests.
//!
//! The channel's `mode` configuration key picks the behaviour of `deliver`:
//!
//! | mode | behaviour |
//! | --- | --- |
//! | `ok` | `accepted("ok-<idempotency key>")` |
//! | `loop` | spins forever (the host's deadline must stop it) |
//! | `hog` | allocates and touches 1 MiB chunks forever (the memory cap must stop it) |
//! | `panic` | panics (a trap in the component) |
//! | `garbage` | `accepted("")`: an empty provider id |
//! | `retry-forever` | `retry-after { after-ms: u64::MAX, reason: "" }` |
//! | `sneaky` | `GET http://metadata.internal.example/secrets`, a host it never declared |
//! | `declared` | `POST` to the declared `url`; accepted on 2xx |
//! | `log` | one log line at every level, then accepted |
//! | `stall` | sleeps for an hour, waiting on a WASI clock (the host's deadline must stop the wait) |
//! | `short` | like `ok`, but `deliver-batch` answers one outcome too few |
//! | `batch-size` | `accepted("<n>-<idempotency key>")`, `n` the number of messages of the call |
//! | `echo` | `accepted` with the message as the SDK gave it, written with `{:?}` |
//!
//! Any other mode fails with a message naming it. `deliver-batch` reads `mode` once per
//! call and delivers each message as `deliver` would, but for `short` and `batch-size`.

use std::hint::black_box;

use journey_plugin_sdk::spec::config;
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Host, HttpRequest, Level, Manifest, Message, Outcome,
    deliver_http, require_config,
};

/// The URL `sneaky` mode calls without declaring its host.
pub const SNEAKY_URL: &str = "http://metadata.internal.example/secrets";

/// The misbehaving connector.
pub struct Misbehave;

impl Connector for Misbehave {
    fn manifest() -> Manifest {
        Manifest {
            name: "misbehave".into(),
            version: "1.0.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Other,
            description: "Misbehaves on purpose, for containment tests.".into(),
            params: vec![],
            open_params: false,
            parts: vec![],
            config: vec![
                config(
                    "mode",
                    true,
                    "What to do: ok, loop, hog, panic, garbage, retry-forever, sneaky, declared, log, stall, short, batch-size.",
                ),
                config("url", false, "The declared URL `declared` mode posts to."),
            ],
            hosts: vec!["{url}".into()],
            rate_limit: None,
        }
    }

    fn deliver(host: &dyn Host, message: &Message) -> Outcome {
        match require_config(host, "mode") {
            Ok(mode) => deliver_in(host, &mode, message, 1),
            Err(outcome) => outcome,
        }
    }

    fn deliver_batch(host: &dyn Host, messages: &[Message]) -> Vec<Outcome> {
        let mode = match require_config(host, "mode") {
            Ok(m) => m,
            Err(outcome) => return vec![outcome; messages.len()],
        };
        let answered = match mode.as_str() {
            "short" => &messages[..messages.len().saturating_sub(1)],
            _ => messages,
        };
        answered
            .iter()
            .map(|m| deliver_in(host, &mode, m, messages.len()))
            .collect()
    }
}

/// What `mode` does with `message`, delivered in a call of `size` messages.
fn deliver_in(host: &dyn Host, mode: &str, message: &Message, size: usize) -> Outcome {
    match mode {
        "ok" | "short" => Outcome::Accepted(format!("ok-{}", message.idempotency_key)),
        "batch-size" => Outcome::Accepted(format!("{size}-{}", message.idempotency_key)),
        // `Debug` rather than JSON: exact for every number, NaN included, and it tells an
        // empty number list from an empty text list.
        "echo" => Outcome::Accepted(format!("{message:?}")),
        "loop" => spin(),
        "stall" => {
            // In a component this waits on `wasi:clocks`, not computing: only a deadline
            // on wall time can end it.
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Outcome::Failed("misbehave: woke up after an hour".into())
        }
        "hog" => hog(),
        "panic" => panic!("misbehave: panicking on purpose"),
        "garbage" => Outcome::Accepted(String::new()),
        "retry-forever" => Outcome::RetryAfter {
            after_ms: u64::MAX,
            reason: String::new(),
        },
        "sneaky" => match host.http(&HttpRequest::get(SNEAKY_URL)) {
            Ok(resp) => Outcome::Accepted(format!(
                "sneaky: the undeclared host answered HTTP {} with {} bytes",
                resp.status,
                resp.body.len()
            )),
            Err(e) => Outcome::Failed(format!("sneaky: the undeclared request failed: {e}")),
        },
        "declared" => match require_config(host, "url") {
            Ok(url) => {
                let req = HttpRequest::post(url)
                    .header("Idempotency-Key", message.idempotency_key.clone())
                    .json(&serde_json::json!({
                        "idempotency_key": message.idempotency_key,
                        "customer_id": message.customer_id,
                    }));
                deliver_http(host, &req, |r| {
                    r.json_field("id")
                        .or(Some(format!("declared-{}", message.idempotency_key)))
                })
            }
            Err(outcome) => outcome,
        },
        "log" => {
            for (level, name) in [
                (Level::Debug, "debug"),
                (Level::Info, "info"),
                (Level::Warn, "warn"),
                (Level::Error, "error"),
            ] {
                host.log(
                    level,
                    &format!("misbehave: a {name} line for {}", message.idempotency_key),
                );
            }
            Outcome::Accepted(format!("logged-{}", message.idempotency_key))
        }
        other => Outcome::Failed(format!("misbehave: unknown mode {other:?}")),
    }
}

/// Spins forever; `black_box` keeps the optimizer from proving the loop useless.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates 1 MiB chunks forever, writing to every page so the memory is really used.
fn hog() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        for i in (0..CHUNK).step_by(4096) {
            chunk[i] = black_box(1);
        }
        chunks.push(black_box(chunk));
    }
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Misbehave);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::testing::{self, StubHost};
    use journey_plugin_sdk::{HttpError, HttpErrorKind, HttpResponse};

    fn deliver(mode: &str, host: StubHost) -> (Outcome, StubHost) {
        let host = host.with_config("mode", mode);
        (Misbehave::deliver(&host, &testing::message()), host)
    }

    #[test]
    fn manifest_is_sound() {
        let m = Misbehave::manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(m.hosts, vec!["{url}".to_string()]);
        assert!(m.config_key("mode").is_some_and(|c| c.required));
    }

    #[test]
    fn simple_modes() {
        assert_eq!(
            deliver("ok", StubHost::new()).0,
            Outcome::Accepted("ok-key-1".into())
        );
        assert_eq!(
            deliver("garbage", StubHost::new()).0,
            Outcome::Accepted(String::new())
        );
        assert_eq!(
            deliver("retry-forever", StubHost::new()).0,
            Outcome::RetryAfter {
                after_ms: u64::MAX,
                reason: String::new()
            }
        );
        assert_eq!(
            deliver("echo", StubHost::new()).0,
            Outcome::Accepted(format!("{:?}", testing::message()))
        );
        assert_eq!(
            deliver("dance", StubHost::new()).0,
            Outcome::Failed("misbehave: unknown mode \"dance\"".into())
        );
        assert_eq!(
            Misbehave::deliver(&StubHost::new(), &testing::message()),
            Outcome::Failed("configuration key `mode` is not set".into())
        );
    }

    #[test]
    #[should_panic(expected = "panicking on purpose")]
    fn panic_mode_panics() {
        deliver("panic", StubHost::new());
    }

    #[test]
    fn sneaky_calls_an_undeclared_host_and_says_what_happened() {
        let denied = HttpError::new(HttpErrorKind::Denied, "metadata.internal.example");
        let (outcome, host) = deliver("sneaky", StubHost::new().fail(denied));
        assert_eq!(
            outcome,
            Outcome::Failed(
                "sneaky: the undeclared request failed: request denied by the host: metadata.internal.example"
                    .into()
            )
        );
        let req = host.only_request();
        assert_eq!((req.method.as_str(), req.url.as_str()), ("GET", SNEAKY_URL));
        let (outcome, _) = deliver(
            "sneaky",
            StubHost::new().respond(HttpResponse::new(200).with_body("key")),
        );
        assert_eq!(
            outcome,
            Outcome::Accepted("sneaky: the undeclared host answered HTTP 200 with 3 bytes".into())
        );
    }

    #[test]
    fn declared_posts_to_the_configured_url() {
        let host = StubHost::new()
            .with_config("url", "http://127.0.0.1:9999/hook")
            .respond(HttpResponse::new(204));
        let (outcome, host) = deliver("declared", host);
        assert_eq!(outcome, Outcome::Accepted("declared-key-1".into()));
        let req = host.only_request();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://127.0.0.1:9999/hook");
        assert_eq!(req.header_value("Idempotency-Key"), Some("key-1"));
        assert_eq!(
            req.body_json().expect("json"),
            serde_json::json!({"idempotency_key": "key-1", "customer_id": "c-1"})
        );
        let (outcome, _) = deliver("declared", StubHost::new());
        assert_eq!(
            outcome,
            Outcome::Failed("configuration key `url` is not set".into())
        );
    }

    #[test]
    fn log_writes_every_level() {
        let (outcome, host) = deliver("log", StubHost::new());
        assert_eq!(outcome, Outcome::Accepted("logged-key-1".into()));
        let levels: Vec<Level> = host.logs().into_iter().map(|(l, _)| l).collect();
        assert_eq!(
            levels,
            vec![Level::Debug, Level::Info, Level::Warn, Level::Error]
        );
        assert!(host.logs()[2].1.contains("warn line for key-1"));
    }
}
