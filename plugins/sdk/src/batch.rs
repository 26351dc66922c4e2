//! Helpers for [`Connector::deliver_batch`](crate::Connector::deliver_batch) when the
//! provider takes several messages per request: cutting a batch to the provider's cap,
//! sending only the messages that could be prepared, a request's idempotency key, and one
//! outcome per message from the provider's answer.

use sha2::Digest;

use crate::outcome::{outcome_from_error, outcome_from_response};
use crate::{Connector, DEFAULT_RETRY_AFTER_MS, Host, HttpRequest, HttpResponse, Message, Outcome};

/// Calls `deliver` on consecutive chunks of at most `size` messages (a `size` of 0 counts
/// as 1) and collects the outcomes in order: for a [`Connector::deliver_batch`](crate::Connector::deliver_batch) whose
/// provider takes at most `size` messages per request.
///
/// A chunk whose `deliver` returns another number of outcomes than it has messages gets, in
/// place of the missing ones, [`Outcome::RetryAfter`] with [`DEFAULT_RETRY_AFTER_MS`] and a
/// reason saying so (extra outcomes are dropped), so one faulty chunk does not make the host
/// retry the whole call.
pub fn for_each_chunk(
    messages: &[Message],
    size: usize,
    mut deliver: impl FnMut(&[Message]) -> Vec<Outcome>,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(size.max(1)) {
        let got = deliver(chunk);
        let reason = format!(
            "the provider's answer covered {} of {} messages",
            got.len().min(chunk.len()),
            chunk.len()
        );
        out.extend(fit(got.into_iter().map(Some), chunk.len(), &reason));
    }
    out
}

/// Exactly `n` outcomes from `answers`: extra ones dropped, missing ones (and `None`s)
/// [`Outcome::RetryAfter`] with [`DEFAULT_RETRY_AFTER_MS`] and `reason`.
fn fit(answers: impl Iterator<Item = Option<Outcome>>, n: usize, reason: &str) -> Vec<Outcome> {
    answers
        .chain(std::iter::repeat_with(|| None))
        .take(n)
        .map(|o| {
            o.unwrap_or_else(|| Outcome::RetryAfter {
                after_ms: DEFAULT_RETRY_AFTER_MS,
                reason: reason.to_string(),
            })
        })
        .collect()
}

/// Prepares each message of `chunk` (a request body, a timestamp: whatever the request
/// needs of it) and sends those `prepare` accepts together with `send`; one outcome per
/// message of `chunk`, in order: `prepare`'s refusal for those it refuses, `send`'s answers
/// for the others. `send` is not called when nothing could be prepared; an answer that
/// falls short leaves the rest to be retried ([`Outcome::RetryAfter`]).
pub fn send_prepared<'m, T>(
    chunk: &'m [Message],
    mut prepare: impl FnMut(&'m Message) -> Result<T, Outcome>,
    send: impl FnOnce(Vec<(&'m Message, T)>) -> Vec<Outcome>,
) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = Vec::with_capacity(chunk.len());
    let mut ready = Vec::with_capacity(chunk.len());
    for m in chunk {
        match prepare(m) {
            Ok(t) => {
                ready.push((m, t));
                out.push(None);
            }
            Err(outcome) => out.push(Some(outcome)),
        }
    }
    if !ready.is_empty() {
        let mut answers = send(ready).into_iter();
        for slot in out.iter_mut().filter(|o| o.is_none()) {
            *slot = answers.next();
        }
    }
    let n = out.len();
    fit(out.into_iter(), n, "no answer for this message")
}

/// Sends `request`, which carries `messages`, through `host`: one outcome per message from
/// the answer ([`outcomes_from_batch_response`]), or [`outcome_from_error`] for each when
/// there is none. The batch form of [`deliver_http`](crate::deliver_http).
pub fn deliver_http_batch(
    host: &dyn Host,
    request: &HttpRequest,
    messages: &[&Message],
) -> Vec<Outcome> {
    match host.http(request) {
        Ok(resp) => outcomes_from_batch_response(&resp, messages),
        Err(e) => vec![outcome_from_error(&e); messages.len()],
    }
}

/// [`Connector::deliver`](crate::Connector::deliver) for each message, in order: the
/// default [`Connector::deliver_batch`](crate::Connector::deliver_batch), and what a
/// connector's own falls back to when the channel does not configure batched requests.
pub fn deliver_each<C: Connector + ?Sized>(host: &dyn Host, messages: &[Message]) -> Vec<Outcome> {
    messages.iter().map(|m| C::deliver(host, m)).collect()
}

/// The idempotency key of a request carrying `messages`: `batch-` and 32 hex digits of the
/// SHA-256 of their keys, in order. The same messages (a retried batch) give the same key.
pub fn batch_idempotency_key<'a>(messages: impl IntoIterator<Item = &'a Message>) -> String {
    let mut h = sha2::Sha256::new();
    for m in messages {
        h.update(m.idempotency_key.as_bytes());
        h.update(b"\n");
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("batch-{hex}")
}

/// One outcome per message of `messages` from a provider's answer to a request carrying
/// them all:
///
/// - a 2xx whose JSON body has `results`, a list in the messages' order: each result
///   `{"id": "..."}` is accepted (without an `id`, or with an empty one, the message's
///   idempotency key stands for it), `{"error": "...", "retry": true, "retry_after_ms": n}`
///   is retried (after `n` ms, or [`DEFAULT_RETRY_AFTER_MS`]), `{"error": "..."}` failed;
///   messages the list does not reach are retried;
/// - a 2xx without `results`: every message accepted under its idempotency key;
/// - any other answer: [`outcome_from_response`] for every message.
pub fn outcomes_from_batch_response(resp: &HttpResponse, messages: &[&Message]) -> Vec<Outcome> {
    if !(200..300).contains(&resp.status) {
        let outcome = outcome_from_response(resp, |_| None);
        return vec![outcome; messages.len()];
    }
    let results = resp
        .json()
        .ok()
        .and_then(|v| v.get("results").and_then(|r| r.as_array().cloned()));
    let Some(results) = results else {
        return messages
            .iter()
            .map(|m| Outcome::Accepted(m.idempotency_key.clone()))
            .collect();
    };
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| match results.get(i) {
            None => Outcome::RetryAfter {
                after_ms: DEFAULT_RETRY_AFTER_MS,
                reason: format!(
                    "the answer has {} results for {} messages",
                    results.len(),
                    messages.len()
                ),
            },
            Some(r) => match r.get("error") {
                Some(error) => {
                    let reason = error
                        .as_str()
                        .map_or_else(|| error.to_string(), str::to_string);
                    if r.get("retry").and_then(|v| v.as_bool()) == Some(true) {
                        Outcome::RetryAfter {
                            after_ms: r
                                .get("retry_after_ms")
                                .and_then(|v| v.as_u64())
                                .unwrap_or(DEFAULT_RETRY_AFTER_MS),
                            reason,
                        }
                    } else {
                        Outcome::Failed(reason)
                    }
                }
                None => Outcome::Accepted(
                    r.get("id")
                        .and_then(|v| v.as_str())
                        .filter(|id| !id.is_empty())
                        .map_or_else(|| m.idempotency_key.clone(), str::to_string),
                ),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manifest;
    use crate::testing::StubHost;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn batch(n: usize) -> Vec<Message> {
        let message = serde_json::from_value(json!({
            "idempotency_key": "",
            "customer_id": "c",
            "content": {"rendered": {}},
        }))
        .expect("a message");
        crate::testing::numbered(&message, n)
    }

    #[test]
    fn chunks_are_delivered_in_order_and_short_answers_padded() {
        let messages = batch(7);
        let mut sizes = Vec::new();
        let out = for_each_chunk(&messages, 3, |chunk| {
            sizes.push(chunk.len());
            // The second chunk's answer falls one short; the third has one too many.
            let keep = match sizes.len() {
                2 => chunk.len() - 1,
                _ => chunk.len(),
            };
            let mut got: Vec<Outcome> = chunk[..keep]
                .iter()
                .map(|m| Outcome::Accepted(m.idempotency_key.clone()))
                .collect();
            if sizes.len() == 3 {
                got.push(Outcome::Accepted("extra".into()));
            }
            got
        });
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(out.len(), 7);
        let ids: Vec<String> = out
            .iter()
            .map(|o| match o {
                Outcome::Accepted(id) => id.clone(),
                Outcome::RetryAfter { reason, .. } => format!("retry: {reason}"),
                Outcome::Failed(why) => format!("failed: {why}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                "key-0",
                "key-1",
                "key-2",
                "key-3",
                "key-4",
                "retry: the provider's answer covered 2 of 3 messages",
                "key-6"
            ]
        );
        // A size of 0 counts as 1.
        let mut calls = 0;
        let out = for_each_chunk(&messages[..2], 0, |chunk| {
            calls += 1;
            chunk
                .iter()
                .map(|_| Outcome::Accepted("x".into()))
                .collect()
        });
        assert_eq!((calls, out.len()), (2, 2));
    }

    #[test]
    fn the_default_batch_delivers_each_message_in_order() {
        struct Keys;
        impl Connector for Keys {
            fn manifest() -> Manifest {
                unreachable!("not called by this test")
            }
            fn deliver(_: &dyn Host, message: &Message) -> Outcome {
                Outcome::Accepted(format!("id-{}", message.idempotency_key))
            }
        }
        let host = StubHost::new();
        let out = Keys::deliver_batch(&host, &batch(3));
        assert_eq!(
            out,
            ["id-key-0", "id-key-1", "id-key-2"].map(|id| Outcome::Accepted(id.into()))
        );
    }

    #[test]
    fn only_prepared_messages_are_sent_and_answers_go_back_in_place() {
        let messages = batch(4);
        let mut sent = Vec::new();
        let out = send_prepared(
            &messages,
            |m| match m.idempotency_key.as_str() {
                "key-1" => Err(Outcome::Failed("no address".into())),
                k => Ok(k.len()),
            },
            |ready| {
                sent = ready
                    .iter()
                    .map(|(m, _)| m.idempotency_key.clone())
                    .collect();
                // One answer short: the last message is left to be retried.
                vec![Outcome::Accepted("a".into()), Outcome::Accepted("b".into())]
            },
        );
        assert_eq!(sent, ["key-0", "key-2", "key-3"]);
        assert_eq!(out[0], Outcome::Accepted("a".into()));
        assert_eq!(out[1], Outcome::Failed("no address".into()));
        assert_eq!(out[2], Outcome::Accepted("b".into()));
        assert!(
            matches!(&out[3], Outcome::RetryAfter { reason, .. } if reason == "no answer for this message")
        );
        // Nothing prepared: nothing sent.
        let out = send_prepared(
            &messages[..1],
            |_| Err::<(), _>(Outcome::Failed("no".into())),
            |_| panic!("nothing to send"),
        );
        assert_eq!(out, [Outcome::Failed("no".into())]);
    }

    #[test]
    fn batch_keys_follow_the_messages_and_their_order() {
        let m = batch(3);
        let k = batch_idempotency_key(&m);
        assert!(k.starts_with("batch-") && k.len() == 6 + 32, "{k}");
        assert_eq!(k, batch_idempotency_key(&m));
        assert_ne!(k, batch_idempotency_key(&m[1..]));
        assert_ne!(k, batch_idempotency_key([&m[1], &m[0], &m[2]]));
    }

    #[test]
    fn results_map_to_outcomes_in_order() {
        let messages = batch(5);
        let refs: Vec<&Message> = messages.iter().collect();
        let resp = HttpResponse::with_json(
            200,
            &json!({"results": [
                {"id": "p-0"},
                {"id": ""},
                {"error": "unknown customer"},
                {"error": "busy", "retry": true, "retry_after_ms": 1500},
            ]}),
        );
        let out = outcomes_from_batch_response(&resp, &refs);
        assert_eq!(out[0], Outcome::Accepted("p-0".into()));
        assert_eq!(out[1], Outcome::Accepted("key-1".into()));
        assert_eq!(out[2], Outcome::Failed("unknown customer".into()));
        assert_eq!(
            out[3],
            Outcome::RetryAfter {
                after_ms: 1500,
                reason: "busy".into()
            }
        );
        assert!(
            matches!(&out[4], Outcome::RetryAfter { reason, .. } if reason == "the answer has 4 results for 5 messages")
        );
        let all = outcomes_from_batch_response(&HttpResponse::new(202), &refs);
        assert!(
            all.iter()
                .zip(&messages)
                .all(|(o, m)| *o == Outcome::Accepted(m.idempotency_key.clone()))
        );
        let refused = outcomes_from_batch_response(&HttpResponse::new(400), &refs);
        assert!(
            refused.iter().all(|o| matches!(o, Outcome::Failed(_))),
            "{refused:?}"
        );
    }

    fn result() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!({})),
            "[a-z0-9]{0,8}".prop_map(|id| json!({ "id": id })),
            any::<i64>().prop_map(|id| json!({ "id": id })),
            ("[a-z ]{0,12}", any::<bool>(), any::<u64>())
                .prop_map(|(e, r, ms)| json!({ "error": e, "retry": r, "retry_after_ms": ms })),
            any::<i64>().prop_map(|e| json!({ "error": e })),
            Just(json!(null)),
            Just(json!([1, 2])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a provider answers a batch with (any status, any body, results of any
        /// shape and length), every message gets exactly one outcome, and none is an
        /// `accepted` with an empty id.
        #[test]
        fn any_answer_to_a_batch_gives_one_outcome_per_message(
            n in 0usize..12,
            status in 100u16..600,
            results in proptest::collection::vec(result(), 0..14),
            shape in 0u8..4,
            junk in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let body = match shape {
                0 => json!({ "results": results }).to_string().into_bytes(),
                1 => json!(results).to_string().into_bytes(),
                2 => json!({ "results": "not a list" }).to_string().into_bytes(),
                _ => junk,
            };
            let resp = HttpResponse::new(status).with_body(body);
            let messages = batch(n);
            let refs: Vec<&Message> = messages.iter().collect();
            let out = outcomes_from_batch_response(&resp, &refs);
            prop_assert_eq!(out.len(), n);
            for o in &out {
                let empty_id = matches!(o, Outcome::Accepted(id) if id.is_empty());
                prop_assert!(!empty_id, "{:?}", o);
            }
        }
    }
}
