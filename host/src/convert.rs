//! Conversions between the contract's plain Rust form (`journey_plugin_api`) and the types
//! wasmtime generates from `plugins/wit/channel.wit`.

use journey_plugin_api as api;

use crate::bindings::journey::channel::types as wit;

/// The text-list values of a message's fields as `&str` slices, in the order
/// [`lend_fields`] meets them: the lent fields point into these.
pub(crate) fn text_lists(m: &api::Message) -> Vec<Vec<&str>> {
    let offer = m.offer.iter().flat_map(|o| o.fields.iter());
    let content = match &m.content {
        api::Content::Rendered(parts) => parts.as_slice(),
        api::Content::ProviderTemplate(_) => &[],
    };
    content
        .iter()
        .chain(m.recipient.iter())
        .chain(m.params.iter())
        .chain(offer)
        .filter_map(|(_, v)| match v {
            api::ParamValue::TextList(l) => Some(l.iter().map(String::as_str).collect()),
            _ => None,
        })
        .collect()
}

/// A message's field lists in the component's terms, borrowing the message's strings.
pub(crate) struct LentFields<'a> {
    content: Vec<wit::Field<'a>>,
    recipient: Vec<wit::Field<'a>>,
    params: Vec<wit::Field<'a>>,
    offer: Vec<wit::Field<'a>>,
}

/// Lends `m`'s fields, with `lists` from [`text_lists`] of the same message.
pub(crate) fn lend_fields<'a>(m: &'a api::Message, lists: &'a [Vec<&'a str>]) -> LentFields<'a> {
    let mut next_list = lists.iter();
    let mut lend = |fields: &'a [(String, api::ParamValue)]| -> Vec<wit::Field<'a>> {
        fields
            .iter()
            .map(|(name, value)| wit::Field {
                name,
                value: match value {
                    api::ParamValue::Text(s) => wit::ParamValue::Text(s),
                    api::ParamValue::Number(n) => wit::ParamValue::Number(*n),
                    api::ParamValue::Boolean(b) => wit::ParamValue::Boolean(*b),
                    api::ParamValue::TextList(_) => {
                        wit::ParamValue::TextList(next_list.next().map_or(&[], Vec::as_slice))
                    }
                    api::ParamValue::NumberList(l) => wit::ParamValue::NumberList(l),
                },
            })
            .collect()
    };
    let content = match &m.content {
        api::Content::Rendered(parts) => lend(parts),
        api::Content::ProviderTemplate(_) => Vec::new(),
    };
    let recipient = lend(&m.recipient);
    let params = lend(&m.params);
    let offer = m
        .offer
        .as_ref()
        .map(|o| lend(&o.fields))
        .unwrap_or_default();
    LentFields {
        content,
        recipient,
        params,
        offer,
    }
}

/// A message in the component's terms, borrowing `m` and its lent `fields`.
pub(crate) fn message_to_wit<'a>(
    m: &'a api::Message,
    fields: &'a LentFields<'a>,
) -> wit::Message<'a> {
    wit::Message {
        idempotency_key: &m.idempotency_key,
        attempt: m.attempt,
        customer_id: &m.customer_id,
        locale: m.locale.as_deref(),
        time_zone: &m.time_zone,
        channel: &m.channel,
        origin: &m.origin,
        template: m.template.as_deref(),
        content: match &m.content {
            api::Content::Rendered(_) => wit::Content::Rendered(&fields.content),
            api::Content::ProviderTemplate(id) => wit::Content::ProviderTemplate(id),
        },
        recipient: &fields.recipient,
        params: &fields.params,
        offer: m.offer.as_ref().map(|o| wit::Offer {
            id: &o.id,
            fields: &fields.offer,
        }),
        sent_at: &m.sent_at,
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
