//! Contract 1.2's `packed` interface: a plugin that exports it gets each call's text in one
//! string and every string as a span of it; the SDK rebuilds the messages. Whatever the
//! path, the connector must see exactly the message the runtime sent.

mod common;

use common::{host, load, message as message_with, mode, test_config};
use std::sync::LazyLock;

use journey_host::{Plugin, PluginHost, Transport};
use journey_plugin_api::{Content, Message, Offer, Outcome, ParamValue};
use proptest::prelude::*;

/// A host that calls `connector.deliver` and `batch.deliver-batch` even for plugins that
/// export `packed`.
fn unpacked_host() -> PluginHost {
    PluginHost::new(journey_host::HostConfig {
        packed_messages: false,
        ..test_config(Transport::Network)
    })
    .expect("host starts")
}

/// `misbehave`'s answer in `echo` mode when it got `m`.
fn echo_of(m: &Message) -> Outcome {
    Outcome::Accepted(format!("{m:?}"))
}

#[test]
fn plugins_of_contract_1_2_pack_unless_the_host_is_told_not_to() {
    let h = host();
    assert!(PLUGINS[0].packs());
    assert!(load(&h, "webhook").packs());
    assert!(!load(&h, "contract-1-0").packs(), "1.0 has no `packed`");
    assert!(!PLUGINS[1].packs());
}

/// The SDK keeps what `host.config` answers for as long as the host names the same
/// channel set-up; a call for another set-up must see that one's configuration.
#[test]
fn every_call_sees_its_own_channel_configuration() {
    let mut i = PLUGINS[0].instantiate().expect("instance");
    let m = message_with(&[("text", "bonjour")], &[], &[]);
    let key = &m.idempotency_key;
    let ok = mode("ok");
    let sized = mode("batch-size");
    for (setup, expected) in [(&ok, "ok"), (&sized, "1"), (&sized, "1"), (&ok, "ok")] {
        let d = i.deliver(setup, &m).expect("delivers");
        assert_eq!(d.outcome, Outcome::Accepted(format!("{expected}-{key}")));
    }
    let two = [m.clone(), m.clone()];
    for (setup, expected) in [(&sized, "2"), (&ok, "ok"), (&mode("batch-size"), "2")] {
        let d = i.deliver_batch(setup, &two);
        let answers: Vec<Outcome> = d.results.into_iter().map(|r| r.expect("ok")).collect();
        assert_eq!(
            answers,
            vec![Outcome::Accepted(format!("{expected}-{key}")); 2]
        );
    }
}

/// Text of any script, empty included, a little of it.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9_+@. -]{1,12}",
        "\\PC{1,8}",
        "[é€𝄞\u{0}\u{7f}\"\\\\\n]{1,6}",
    ]
}

fn value() -> impl Strategy<Value = ParamValue> {
    let number = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::MIN_POSITIVE / 2.0),
    ];
    prop_oneof![
        text().prop_map(ParamValue::Text),
        number.clone().prop_map(ParamValue::Number),
        any::<bool>().prop_map(ParamValue::Boolean),
        prop::collection::vec(text(), 0..4).prop_map(ParamValue::TextList),
        prop::collection::vec(number, 0..4).prop_map(ParamValue::NumberList),
    ]
}

fn fields() -> impl Strategy<Value = Vec<(String, ParamValue)>> {
    prop::collection::vec((text(), value()), 0..4)
}

fn message() -> impl Strategy<Value = Message> {
    let content = prop_oneof![
        fields().prop_map(Content::Rendered),
        text().prop_map(Content::ProviderTemplate),
    ];
    let offer = prop::option::of((text(), fields()).prop_map(|(id, fields)| Offer { id, fields }));
    (
        (
            text(),
            any::<u32>(),
            text(),
            prop::option::of(text()),
            text(),
        ),
        (text(), text(), prop::option::of(text()), content),
        (fields(), fields(), offer, text()),
    )
        .prop_map(
            |(
                (idempotency_key, attempt, customer_id, locale, time_zone),
                (channel, origin, template, content),
                (recipient, params, offer, sent_at),
            )| Message {
                idempotency_key,
                attempt,
                customer_id,
                locale,
                time_zone,
                channel,
                origin,
                template,
                content,
                recipient,
                params,
                offer,
                sent_at,
            },
        )
}

/// `misbehave`, loaded once by a host that packs and once by one that does not.
static PLUGINS: LazyLock<[Plugin; 2]> = LazyLock::new(|| {
    [
        load(&host(), "misbehave"),
        load(&unpacked_host(), "misbehave"),
    ]
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any message reaches the connector as it was sent: packed one at a time, packed in a
    /// batch, and through the typed functions.
    #[test]
    fn messages_reach_the_connector_unchanged(batch in prop::collection::vec(message(), 1..5)) {
        let echo = mode("echo");
        for plugin in PLUGINS.iter() {
            let mut i = plugin.instantiate().expect("instance");
            for m in &batch {
                let d = i.deliver(&echo, m).expect("delivers");
                prop_assert_eq!(d.outcome, echo_of(m));
            }
            let d = i.deliver_batch(&echo, &batch);
            prop_assert_eq!(d.calls, 1);
            let got: Vec<Outcome> = d
                .results
                .into_iter()
                .map(|r| r.expect("accepted"))
                .collect();
            let expected: Vec<Outcome> = batch.iter().map(echo_of).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
