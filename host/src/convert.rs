//! Conversions between the contract's plain Rust form (`journey_plugin_api`) and the types
//! wasmtime generates from `plugins/wit/channel.wit`.

use journey_plugin_api as api;

use crate::bindings::journey::channel::types as wit;

fn value_to_wit(v: &api::ParamValue) -> wit::ParamValue {
    match v {
        api::ParamValue::Text(s) => wit::ParamValue::Text(s.clone()),
        api::ParamValue::Number(n) => wit::ParamValue::Number(*n),
        api::ParamValue::Boolean(b) => wit::ParamValue::Boolean(*b),
        api::ParamValue::TextList(l) => wit::ParamValue::TextList(l.clone()),
        api::ParamValue::NumberList(l) => wit::ParamValue::NumberList(l.clone()),
    }
}

fn fields_to_wit(fields: &api::Fields) -> Vec<wit::Field> {
    fields
        .iter()
        .map(|(name, value)| wit::Field {
            name: name.clone(),
            value: value_to_wit(value),
        })
        .collect()
}

/// A message in the component's terms.
pub(crate) fn message_to_wit(m: &api::Message) -> wit::Message {
    wit::Message {
        idempotency_key: m.idempotency_key.clone(),
        attempt: m.attempt,
        customer_id: m.customer_id.clone(),
        locale: m.locale.clone(),
        time_zone: m.time_zone.clone(),
        channel: m.channel.clone(),
        origin: m.origin.clone(),
        template: m.template.clone(),
        content: match &m.content {
            api::Content::Rendered(parts) => wit::Content::Rendered(fields_to_wit(parts)),
            api::Content::ProviderTemplate(id) => wit::Content::ProviderTemplate(id.clone()),
        },
        recipient: fields_to_wit(&m.recipient),
        params: fields_to_wit(&m.params),
        offer: m.offer.as_ref().map(|o| wit::Offer {
            id: o.id.clone(),
            fields: fields_to_wit(&o.fields),
        }),
        sent_at: m.sent_at.clone(),
    }
}

/// An outcome in plain terms.
pub(crate) fn outcome_from_wit(o: wit::Outcome) -> api::Outcome {
    match o {
        wit::Outcome::Accepted(id) => api::Outcome::Accepted(id),
        wit::Outcome::RetryAfter(r) => api::Outcome::RetryAfter {
            after_ms: r.after_ms,
            reason: r.reason,
        },
        wit::Outcome::Failed(why) => api::Outcome::Failed(why),
    }
}

/// A manifest in plain terms.
pub(crate) fn manifest_from_wit(m: wit::Manifest) -> api::Manifest {
    api::Manifest {
        name: m.name,
        version: m.version,
        contract: m.contract,
        kind: match m.kind {
            wit::ChannelKind::Email => api::ChannelKind::Email,
            wit::ChannelKind::Sms => api::ChannelKind::Sms,
            wit::ChannelKind::Push => api::ChannelKind::Push,
            wit::ChannelKind::Webhook => api::ChannelKind::Webhook,
            wit::ChannelKind::ContactCentre => api::ChannelKind::ContactCentre,
            wit::ChannelKind::Other => api::ChannelKind::Other,
        },
        description: m.description,
        params: m
            .params
            .into_iter()
            .map(|p| api::ParamSpec {
                name: p.name,
                ty: match p.type_ {
                    wit::ParamType::Text => api::ParamType::Text,
                    wit::ParamType::Number => api::ParamType::Number,
                    wit::ParamType::Boolean => api::ParamType::Boolean,
                    wit::ParamType::Date => api::ParamType::Date,
                    wit::ParamType::Timestamp => api::ParamType::Timestamp,
                    wit::ParamType::Duration => api::ParamType::Duration,
                    wit::ParamType::TextList => api::ParamType::TextList,
                    wit::ParamType::NumberList => api::ParamType::NumberList,
                },
                required: p.required,
                docs: p.docs,
            })
            .collect(),
        open_params: m.open_params,
        parts: m
            .parts
            .into_iter()
            .map(|p| api::PartSpec {
                name: p.name,
                required: p.required,
                docs: p.docs,
            })
            .collect(),
        config: m
            .config
            .into_iter()
            .map(|c| api::ConfigSpec {
                name: c.name,
                required: c.required,
                secret: c.secret,
                docs: c.docs,
            })
            .collect(),
        hosts: m.hosts,
        rate_limit: m.rate_limit.map(|r| api::RateLimit {
            per_second: r.per_second,
            burst: r.burst,
        }),
    }
}
