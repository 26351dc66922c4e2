//! Conversions between the generated WIT types and the plain contract types, used by
//! [`export_connector!`](crate::export_connector). Public only so the macro's expansion in a
//! connector crate can reach them.

use crate::bindings::journey::channel::types as wit;
use journey_plugin_api as api;

fn kind_to_wit(k: api::ChannelKind) -> wit::ChannelKind {
    match k {
        api::ChannelKind::Email => wit::ChannelKind::Email,
        api::ChannelKind::Sms => wit::ChannelKind::Sms,
        api::ChannelKind::Push => wit::ChannelKind::Push,
        api::ChannelKind::Webhook => wit::ChannelKind::Webhook,
        api::ChannelKind::ContactCentre => wit::ChannelKind::ContactCentre,
        api::ChannelKind::Other => wit::ChannelKind::Other,
    }
}

fn param_type_to_wit(t: api::ParamType) -> wit::ParamType {
    match t {
        api::ParamType::Text => wit::ParamType::Text,
        api::ParamType::Number => wit::ParamType::Number,
        api::ParamType::Boolean => wit::ParamType::Boolean,
        api::ParamType::Date => wit::ParamType::Date,
        api::ParamType::Timestamp => wit::ParamType::Timestamp,
        api::ParamType::Duration => wit::ParamType::Duration,
        api::ParamType::TextList => wit::ParamType::TextList,
        api::ParamType::NumberList => wit::ParamType::NumberList,
    }
}

/// A manifest in the component's terms.
#[doc(hidden)]
pub fn manifest_to_wit(m: api::Manifest) -> wit::Manifest {
    wit::Manifest {
        name: m.name,
        version: m.version,
        contract: m.contract,
        kind: kind_to_wit(m.kind),
        description: m.description,
        params: m
            .params
            .into_iter()
            .map(|p| wit::ParamSpec {
                name: p.name,
                type_: param_type_to_wit(p.ty),
                required: p.required,
                docs: p.docs,
            })
            .collect(),
        open_params: m.open_params,
        parts: m
            .parts
            .into_iter()
            .map(|p| wit::PartSpec {
                name: p.name,
                required: p.required,
                docs: p.docs,
            })
            .collect(),
        config: m
            .config
            .into_iter()
            .map(|c| wit::ConfigSpec {
                name: c.name,
                required: c.required,
                secret: c.secret,
                docs: c.docs,
            })
            .collect(),
        hosts: m.hosts,
        rate_limit: m.rate_limit.map(|r| wit::RateLimit {
            per_second: r.per_second,
            burst: r.burst,
        }),
    }
}

fn value_from_wit(v: wit::ParamValue) -> api::ParamValue {
    match v {
        wit::ParamValue::Text(s) => api::ParamValue::Text(s),
        wit::ParamValue::Number(n) => api::ParamValue::Number(n),
        wit::ParamValue::Boolean(b) => api::ParamValue::Boolean(b),
        wit::ParamValue::TextList(l) => api::ParamValue::TextList(l),
        wit::ParamValue::NumberList(l) => api::ParamValue::NumberList(l),
    }
}

fn fields_from_wit(fields: Vec<wit::Field>) -> api::Fields {
    fields
        .into_iter()
        .map(|f| (f.name, value_from_wit(f.value)))
        .collect()
}

/// A message in the contract's plain terms.
#[doc(hidden)]
pub fn message_from_wit(m: wit::Message) -> api::Message {
    api::Message {
        idempotency_key: m.idempotency_key,
        attempt: m.attempt,
        customer_id: m.customer_id,
        locale: m.locale,
        time_zone: m.time_zone,
        channel: m.channel,
        origin: m.origin,
        template: m.template,
        content: match m.content {
            wit::Content::Rendered(parts) => api::Content::Rendered(fields_from_wit(parts)),
            wit::Content::ProviderTemplate(id) => api::Content::ProviderTemplate(id),
        },
        recipient: fields_from_wit(m.recipient),
        params: fields_from_wit(m.params),
        offer: m.offer.map(|o| api::Offer {
            id: o.id,
            fields: fields_from_wit(o.fields),
        }),
        sent_at: m.sent_at,
    }
}

/// An outcome in the component's terms.
#[doc(hidden)]
pub fn outcome_to_wit(o: api::Outcome) -> wit::Outcome {
    match o {
        api::Outcome::Accepted(id) => wit::Outcome::Accepted(id),
        api::Outcome::RetryAfter { after_ms, reason } => {
            wit::Outcome::RetryAfter(wit::Retry { after_ms, reason })
        }
        api::Outcome::Failed(reason) => wit::Outcome::Failed(reason),
    }
}

/// The body of the exported `manifest` function.
#[doc(hidden)]
pub fn export_manifest<C: crate::Connector>() -> wit::Manifest {
    manifest_to_wit(C::manifest())
}

/// The body of the exported `deliver` function: the message converted, delivered through
/// the component's host, the outcome converted back.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub fn export_deliver<C: crate::Connector>(message: wit::Message) -> wit::Outcome {
    let message = message_from_wit(message);
    outcome_to_wit(C::deliver(&crate::component::ComponentHost, &message))
}

/// The body of the exported `deliver-batch` function: the messages converted, delivered
/// together through the component's host, the outcomes converted back.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub fn export_deliver_batch<C: crate::Connector>(messages: Vec<wit::Message>) -> Vec<wit::Outcome> {
    let messages: Vec<api::Message> = messages.into_iter().map(message_from_wit).collect();
    C::deliver_batch(&crate::component::ComponentHost, &messages)
        .into_iter()
        .map(outcome_to_wit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_convert_field_by_field() {
        let m = api::Manifest {
            name: "n".into(),
            version: "1.0.0".into(),
            contract: "1.0.0".into(),
            kind: api::ChannelKind::ContactCentre,
            description: "d".into(),
            params: vec![crate::spec::param("p", api::ParamType::NumberList, "pd")],
            open_params: true,
            parts: vec![crate::spec::part("t", true, "td")],
            config: vec![crate::spec::secret("k", true, "kd")],
            hosts: vec!["{k}".into()],
            rate_limit: Some(api::RateLimit {
                per_second: 3,
                burst: 4,
            }),
        };
        let w = manifest_to_wit(m);
        assert_eq!(w.name, "n");
        assert_eq!(w.kind, wit::ChannelKind::ContactCentre);
        assert_eq!(w.params[0].type_, wit::ParamType::NumberList);
        assert_eq!(w.params[0].docs, "pd");
        assert!(w.open_params);
        assert!(w.parts[0].required);
        assert!(w.config[0].secret && w.config[0].required);
        assert_eq!(w.hosts, vec!["{k}".to_string()]);
        assert_eq!(w.rate_limit.map(|r| (r.per_second, r.burst)), Some((3, 4)));
    }

    #[test]
    fn messages_and_outcomes_convert() {
        let field = |name: &str, value| wit::Field {
            name: name.into(),
            value,
        };
        let w = wit::Message {
            idempotency_key: "k".into(),
            attempt: 2,
            customer_id: "c".into(),
            locale: Some("fr-FR".into()),
            time_zone: "Europe/Paris".into(),
            channel: "ch".into(),
            origin: "j/s".into(),
            template: Some("t".into()),
            content: wit::Content::Rendered(vec![field(
                "text",
                wit::ParamValue::Text("hi".into()),
            )]),
            recipient: vec![field("phone", wit::ParamValue::Text("+33".into()))],
            params: vec![
                field("n", wit::ParamValue::Number(1.5)),
                field("b", wit::ParamValue::Boolean(true)),
                field("l", wit::ParamValue::TextList(vec!["a".into()])),
                field("m", wit::ParamValue::NumberList(vec![2.0])),
            ],
            offer: Some(wit::Offer {
                id: "o".into(),
                fields: vec![field("price", wit::ParamValue::Number(9.0))],
            }),
            sent_at: "2025-01-01T00:00:00Z".into(),
        };
        let m = message_from_wit(w);
        assert_eq!(m.attempt, 2);
        assert_eq!(m.part("text"), Some("hi"));
        assert_eq!(m.address("phone"), Some("+33"));
        assert_eq!(
            m.params,
            vec![
                ("n".to_string(), api::ParamValue::Number(1.5)),
                ("b".to_string(), api::ParamValue::Boolean(true)),
                ("l".to_string(), api::ParamValue::TextList(vec!["a".into()])),
                ("m".to_string(), api::ParamValue::NumberList(vec![2.0])),
            ]
        );
        assert_eq!(m.offer.map(|o| o.id), Some("o".to_string()));
        let w = wit::Message {
            content: wit::Content::ProviderTemplate("tpl-1".into()),
            ..message_with_no_content()
        };
        assert_eq!(
            message_from_wit(w).content,
            api::Content::ProviderTemplate("tpl-1".into())
        );

        assert!(matches!(
            outcome_to_wit(api::Outcome::Accepted("x".into())),
            wit::Outcome::Accepted(id) if id == "x"
        ));
        assert!(matches!(
            outcome_to_wit(api::Outcome::RetryAfter { after_ms: 7, reason: "r".into() }),
            wit::Outcome::RetryAfter(wit::Retry { after_ms: 7, reason }) if reason == "r"
        ));
        assert!(matches!(
            outcome_to_wit(api::Outcome::Failed("f".into())),
            wit::Outcome::Failed(r) if r == "f"
        ));
    }

    fn message_with_no_content() -> wit::Message {
        wit::Message {
            idempotency_key: String::new(),
            attempt: 1,
            customer_id: String::new(),
            locale: None,
            time_zone: "UTC".into(),
            channel: String::new(),
            origin: String::new(),
            template: None,
            content: wit::Content::Rendered(Vec::new()),
            recipient: Vec::new(),
            params: Vec::new(),
            offer: None,
            sent_at: String::new(),
        }
    }
}
