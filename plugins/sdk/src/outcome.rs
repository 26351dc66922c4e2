//! The usual mapping from HTTP results to delivery outcomes.

use crate::net::{HttpError, HttpErrorKind, HttpResponse};
use journey_plugin_api::Outcome;

/// How long to wait after a `429` without a usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_429_MS: u64 = 30_000;
/// How long to wait after another retryable status (408, 425, 5xx) without a usable
/// `Retry-After`, and after a transport error.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 5_000;
/// How long to wait after a timeout.
pub const TIMEOUT_RETRY_AFTER_MS: u64 = 10_000;
/// How many characters of a response body an outcome's reason quotes.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// The outcome a provider's response means:
///
/// - 2xx: [`Outcome::Accepted`] with the id `provider_id` reads from the response (a
///   connector's fallback, such as the idempotency key, goes inside `provider_id`); when it
///   gives none, or an empty one, the id is `http-<status>` so it is never empty;
/// - 408, 425, 429 and 500–599: [`Outcome::RetryAfter`] after the `Retry-After` header's
///   seconds if it has some, else 30 s for 429 and 5 s for the others;
/// - anything else: [`Outcome::Failed`] with the status and the body's first 200
///   characters.
pub fn outcome_from_response(
    resp: &HttpResponse,
    provider_id: impl FnOnce(&HttpResponse) -> Option<String>,
) -> Outcome {
    let status = resp.status;
    if resp.is_success() {
        let id = provider_id(resp)
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("http-{status}"));
        return Outcome::Accepted(id);
    }
    if matches!(status, 408 | 425 | 429 | 500..=599) {
        let default = if status == 429 {
            DEFAULT_RETRY_AFTER_429_MS
        } else {
            DEFAULT_RETRY_AFTER_MS
        };
        let after_ms = retry_after_seconds(resp)
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(default);
        return Outcome::RetryAfter {
            after_ms,
            reason: format!("provider answered HTTP {status}{}", excerpt(resp)),
        };
    }
    Outcome::Failed(format!("provider answered HTTP {status}{}", excerpt(resp)))
}

/// The outcome a failed call means: a denied request or an invalid URL is a configuration
/// problem ([`Outcome::Failed`]: retrying cannot help); a transport error or a timeout is
/// transient ([`Outcome::RetryAfter`], 5 s and 10 s).
pub fn outcome_from_error(err: &HttpError) -> Outcome {
    match err.kind {
        HttpErrorKind::Denied | HttpErrorKind::InvalidUrl => {
            Outcome::Failed(format!("configuration problem: {err}"))
        }
        HttpErrorKind::Transport => Outcome::RetryAfter {
            after_ms: DEFAULT_RETRY_AFTER_MS,
            reason: err.to_string(),
        },
        HttpErrorKind::Timeout => Outcome::RetryAfter {
            after_ms: TIMEOUT_RETRY_AFTER_MS,
            reason: err.to_string(),
        },
    }
}

/// `Retry-After` as a number of seconds (the HTTP-date form is not used: a plugin has no
/// reliable clock to compare it with).
fn retry_after_seconds(resp: &HttpResponse) -> Option<u64> {
    resp.header("Retry-After")?.trim().parse().ok()
}

/// `": <first 200 characters of the body>"`, or nothing for an empty body.
fn excerpt(resp: &HttpResponse) -> String {
    let text = resp.text();
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut out: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
    if text.chars().nth(BODY_EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    format!(": {out}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(r: &HttpResponse) -> Option<String> {
        r.json_field("id")
    }

    #[test]
    fn success_is_accepted_with_the_provider_id_or_a_fallback() {
        let ok = HttpResponse::with_json(202, &json!({"id": "p-9"}));
        assert_eq!(
            outcome_from_response(&ok, id),
            Outcome::Accepted("p-9".into())
        );
        let bare = HttpResponse::new(204);
        assert_eq!(
            outcome_from_response(&bare, id),
            Outcome::Accepted("http-204".into())
        );
        assert_eq!(
            outcome_from_response(&bare, |r| id(r).or(Some("key-1".into()))),
            Outcome::Accepted("key-1".into())
        );
        assert_eq!(
            outcome_from_response(&bare, |_| Some(String::new())),
            Outcome::Accepted("http-204".into())
        );
    }

    #[test]
    fn transient_statuses_retry_honouring_retry_after() {
        let r = HttpResponse::new(429);
        assert_eq!(
            outcome_from_response(&r, id),
            Outcome::RetryAfter {
                after_ms: 30_000,
                reason: "provider answered HTTP 429".into()
            }
        );
        let r = HttpResponse::new(503)
            .with_header("retry-after", " 12 ")
            .with_body("down for maintenance");
        assert_eq!(
            outcome_from_response(&r, id),
            Outcome::RetryAfter {
                after_ms: 12_000,
                reason: "provider answered HTTP 503: down for maintenance".into()
            }
        );
        for status in [408, 425, 500, 599] {
            let r = HttpResponse::new(status).with_header("Retry-After", "Wed, 21 Oct 2015");
            match outcome_from_response(&r, id) {
                Outcome::RetryAfter { after_ms, reason } => {
                    assert_eq!(after_ms, 5_000, "{status}");
                    assert!(reason.contains(&status.to_string()));
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        let huge = HttpResponse::new(503).with_header("Retry-After", &u64::MAX.to_string());
        assert!(matches!(
            outcome_from_response(&huge, id),
            Outcome::RetryAfter {
                after_ms: u64::MAX,
                ..
            }
        ));
    }

    #[test]
    fn other_statuses_fail_with_an_excerpt() {
        let r = HttpResponse::new(400).with_body("x".repeat(300));
        let Outcome::Failed(reason) = outcome_from_response(&r, id) else {
            panic!("not failed")
        };
        assert_eq!(
            reason,
            format!("provider answered HTTP 400: {}…", "x".repeat(200))
        );
        assert_eq!(
            outcome_from_response(&HttpResponse::new(404), id),
            Outcome::Failed("provider answered HTTP 404".into())
        );
        assert!(matches!(
            outcome_from_response(&HttpResponse::new(301), id),
            Outcome::Failed(_)
        ));
        // Multi-byte characters are counted as characters, not bytes.
        let r = HttpResponse::new(422).with_body("é".repeat(200));
        assert_eq!(
            outcome_from_response(&r, id),
            Outcome::Failed(format!("provider answered HTTP 422: {}", "é".repeat(200)))
        );
    }

    #[test]
    fn errors_map_to_failed_or_retry() {
        let e = |kind| HttpError::new(kind, "m");
        assert_eq!(
            outcome_from_error(&e(HttpErrorKind::Denied)),
            Outcome::Failed("configuration problem: request denied by the host: m".into())
        );
        assert!(matches!(
            outcome_from_error(&e(HttpErrorKind::InvalidUrl)),
            Outcome::Failed(r) if r.starts_with("configuration problem: invalid URL")
        ));
        assert_eq!(
            outcome_from_error(&e(HttpErrorKind::Transport)),
            Outcome::RetryAfter {
                after_ms: 5_000,
                reason: "transport error: m".into()
            }
        );
        assert_eq!(
            outcome_from_error(&e(HttpErrorKind::Timeout)),
            Outcome::RetryAfter {
                after_ms: 10_000,
                reason: "timed out: m".into()
            }
        );
    }
}
