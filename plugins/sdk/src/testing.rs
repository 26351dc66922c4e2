//! A [`Host`] for running connectors natively: unit tests and the native side of
//! benchmarks.
//!
//! ```
//! use journey_plugin_sdk::testing::StubHost;
//! use journey_plugin_sdk::{Host, HttpRequest, HttpResponse};
//!
//! let host = StubHost::new()
//!     .with_config("endpoint", "https://api.example.com")
//!     .respond(HttpResponse::new(202));
//! let resp = host.http(&HttpRequest::post("https://api.example.com/send"));
//! assert_eq!(resp.map(|r| r.status), Ok(202));
//! assert_eq!(host.requests()[0].url, "https://api.example.com/send");
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use crate::net::{HttpError, HttpErrorKind, HttpRequest, HttpResponse};
use crate::{Content, Host, Level, Message, ParamValue};

/// A first attempt at a message holding only what every message has: idempotency key
/// `key-1`, customer `c-1`, time zone `UTC`, channel `test`, origin `journey/step`, sent at
/// 2025-03-01T10:00:00Z, no content, recipient, parameter or offer. A test sets what its
/// connector reads with struct update syntax:
///
/// ```
/// use journey_plugin_sdk::testing::{message, text};
/// use journey_plugin_sdk::{Content, Message};
///
/// let m = Message {
///     content: Content::Rendered(vec![("text".into(), text("Bonjour"))]),
///     ..message()
/// };
/// assert_eq!(m.part("text"), Some("Bonjour"));
/// ```
pub fn message() -> Message {
    Message {
        idempotency_key: "key-1".into(),
        attempt: 1,
        customer_id: "c-1".into(),
        locale: None,
        time_zone: "UTC".into(),
        channel: "test".into(),
        origin: "journey/step".into(),
        template: None,
        content: Content::Rendered(Vec::new()),
        recipient: Vec::new(),
        params: Vec::new(),
        offer: None,
        sent_at: "2025-03-01T10:00:00Z".into(),
    }
}

/// A text value, for the fields of a test message.
pub fn text(s: &str) -> ParamValue {
    ParamValue::Text(s.into())
}

/// A batch of `n` copies of `message`, told apart by their idempotency keys `key-0`,
/// `key-1`, ... (what a connector's batch tests deliver).
pub fn numbered(message: &Message, n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let mut m = message.clone();
            m.idempotency_key = format!("key-{i}");
            m
        })
        .collect()
}

type Responder = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse, HttpError>>;

/// A host with fixed configuration and secrets and canned HTTP answers, which records every
/// request and log line.
///
/// Answers come first from the queue filled by [`respond`](StubHost::respond) and
/// [`fail`](StubHost::fail), in order, then from the [`responder`](StubHost::responder)
/// if one is set; with neither, a request gets a [`HttpErrorKind::Transport`] error.
#[derive(Default)]
pub struct StubHost {
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    queue: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    responder: RefCell<Option<Responder>>,
    requests: RefCell<Vec<HttpRequest>>,
    logs: RefCell<Vec<(Level, String)>>,
    record: bool,
}

impl StubHost {
    /// A host with no configuration, no secrets and no answers, recording requests.
    pub fn new() -> StubHost {
        StubHost {
            record: true,
            ..StubHost::default()
        }
    }

    /// Sets a configuration key.
    pub fn with_config(mut self, key: &str, value: &str) -> StubHost {
        self.config.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets a secret.
    pub fn with_secret(mut self, key: &str, value: &str) -> StubHost {
        self.secrets.insert(key.to_string(), value.to_string());
        self
    }

    /// Queues a response for the next request.
    pub fn respond(self, response: HttpResponse) -> StubHost {
        self.queue.borrow_mut().push_back(Ok(response));
        self
    }

    /// Queues an error for the next request.
    pub fn fail(self, error: HttpError) -> StubHost {
        self.queue.borrow_mut().push_back(Err(error));
        self
    }

    /// Answers every request the queue does not with `responder`.
    pub fn responder(
        self,
        responder: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) -> StubHost {
        *self.responder.borrow_mut() = Some(Box::new(responder));
        self
    }

    /// Stops recording requests and log lines (for benchmarks, whose loops would otherwise
    /// grow the records without bound).
    pub fn without_recording(mut self) -> StubHost {
        self.record = false;
        self
    }

    /// Every request made so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    /// The only request made so far; panics (it is for tests) if there were none or several.
    pub fn only_request(&self) -> HttpRequest {
        let requests = self.requests.borrow();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests[0].clone()
    }

    /// Removes and returns the requests recorded so far.
    pub fn take_requests(&self) -> Vec<HttpRequest> {
        std::mem::take(&mut *self.requests.borrow_mut())
    }

    /// Every log line written so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }
}

impl Host for StubHost {
    fn log(&self, level: Level, message: &str) {
        if self.record {
            self.logs.borrow_mut().push((level, message.to_string()));
        }
    }

    fn config(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    fn secret(&self, key: &str) -> Option<String> {
        self.secrets.get(key).cloned()
    }

    fn hmac_sha256(&self, key: &str, data: &[u8]) -> Option<[u8; 32]> {
        journey_plugin_api::hmac_sha256(self.secrets.get(key)?, data)
    }

    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        if self.record {
            self.requests.borrow_mut().push(request.clone());
        }
        if let Some(answer) = self.queue.borrow_mut().pop_front() {
            return answer;
        }
        match self.responder.borrow_mut().as_mut() {
            Some(respond) => respond(request),
            None => Err(HttpError::new(
                HttpErrorKind::Transport,
                format!(
                    "StubHost has no answer for {} {}",
                    request.method, request.url
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_from_the_queue_then_the_responder() {
        let host = StubHost::new()
            .with_config("a", "1")
            .with_secret("s", "2")
            .respond(HttpResponse::new(201))
            .fail(HttpError::new(HttpErrorKind::Timeout, "slow"));
        assert_eq!(host.config("a").as_deref(), Some("1"));
        assert_eq!(host.config("s"), None);
        assert_eq!(host.secret("s").as_deref(), Some("2"));
        let req = HttpRequest::get("http://x.example/");
        assert_eq!(host.http(&req).map(|r| r.status), Ok(201));
        assert_eq!(
            host.http(&req).map_err(|e| e.kind),
            Err(HttpErrorKind::Timeout)
        );
        assert_eq!(
            host.http(&req).map_err(|e| e.kind),
            Err(HttpErrorKind::Transport)
        );
        let host = host.responder(|r| Ok(HttpResponse::new(200).with_body(r.url.clone())));
        assert_eq!(
            host.http(&req).map(|r| r.text()),
            Ok("http://x.example/".to_string())
        );
        assert_eq!(host.requests().len(), 4);
        assert_eq!(host.take_requests().len(), 4);
        assert!(host.requests().is_empty());
        host.log(Level::Warn, "careful");
        assert_eq!(host.logs(), vec![(Level::Warn, "careful".to_string())]);
    }

    #[test]
    fn recording_can_be_turned_off() {
        let host = StubHost::new()
            .without_recording()
            .responder(|_| Ok(HttpResponse::new(200)));
        for _ in 0..3 {
            assert!(host.http(&HttpRequest::get("http://x.example/")).is_ok());
        }
        host.log(Level::Info, "x");
        assert!(host.requests().is_empty());
        assert!(host.logs().is_empty());
    }
}
