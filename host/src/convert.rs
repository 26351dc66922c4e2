//! Conversions between the contract's plain Rust form (`journey_plugin_api`) and the types
//! wasmtime generates from `plugins/wit/channel.wit`.

use journey_plugin_api as api;

use crate::bindings::journey::channel::types as wit;
use packed::{PackedField, PackedMessage, PackedValue, Section, Span};

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

/// The types of contract 1.2's `packed` interface, which the host's bindings (of world
/// `channel-plugin-core`) do not include; a plugin's load checks them against its export.
pub(crate) mod packed {
    use wasmtime::component::{ComponentType, Lower};

    /// `span`.
    #[derive(Debug, Clone, Copy, ComponentType, Lower)]
    #[component(record)]
    pub(crate) struct Span {
        pub(crate) start: u32,
        pub(crate) len: u32,
    }

    /// `packed-value`.
    #[derive(Debug, Clone, ComponentType, Lower)]
    #[component(variant)]
    pub(crate) enum PackedValue {
        #[component(name = "text")]
        Text(Span),
        #[component(name = "number")]
        Number(f64),
        #[component(name = "boolean")]
        Boolean(bool),
        #[component(name = "text-list")]
        TextList(Vec<Span>),
        #[component(name = "number-list")]
        NumberList(Vec<f64>),
    }

    /// `section`.
    #[derive(Debug, Clone, Copy, ComponentType, Lower)]
    #[component(enum)]
    #[repr(u8)]
    pub(crate) enum Section {
        #[component(name = "content")]
        Content,
        #[component(name = "recipient")]
        Recipient,
        #[component(name = "params")]
        Params,
        #[component(name = "offer")]
        Offer,
    }

    /// `packed-field`.
    #[derive(Debug, Clone, ComponentType, Lower)]
    #[component(record)]
    pub(crate) struct PackedField {
        pub(crate) section: Section,
        pub(crate) name: Span,
        pub(crate) value: PackedValue,
    }

    /// `packed-message`.
    #[derive(Debug, Clone, ComponentType, Lower)]
    #[component(record)]
    pub(crate) struct PackedMessage {
        #[component(name = "idempotency-key")]
        pub(crate) idempotency_key: Span,
        pub(crate) attempt: u32,
        #[component(name = "customer-id")]
        pub(crate) customer_id: Span,
        pub(crate) locale: Option<Span>,
        #[component(name = "time-zone")]
        pub(crate) time_zone: Span,
        pub(crate) channel: Span,
        pub(crate) origin: Span,
        pub(crate) template: Option<Span>,
        #[component(name = "provider-template")]
        pub(crate) provider_template: Option<Span>,
        #[component(name = "offer-id")]
        pub(crate) offer_id: Option<Span>,
        pub(crate) fields: Vec<PackedField>,
        #[component(name = "sent-at")]
        pub(crate) sent_at: Span,
    }
}

/// Appends messages to one text and describes each as a packed message of spans of it
/// (contract 1.2's `packed` interface).
pub(crate) struct Packer {
    text: String,
}

impl Packer {
    /// A packer with an empty text that has room for the strings of `messages`.
    pub(crate) fn for_messages(messages: &[api::Message]) -> Packer {
        Packer {
            text: String::with_capacity(messages.iter().map(text_bytes).sum()),
        }
    }

    /// The text, every packed message's strings in it.
    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// `s` appended to the text, as its span; `None` past 4 GiB of text, which spans cannot
    /// reach.
    fn span(&mut self, s: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        start.checked_add(len)?;
        self.text.push_str(s);
        Some(Span { start, len })
    }

    fn optional(&mut self, s: Option<&str>) -> Option<Option<Span>> {
        s.map(|s| self.span(s)).map_or(Some(None), |s| s.map(Some))
    }

    fn fields(
        &mut self,
        section: Section,
        fields: &[(String, api::ParamValue)],
        out: &mut Vec<PackedField>,
    ) -> Option<()> {
        for (name, value) in fields {
            let name = self.span(name)?;
            let value = match value {
                api::ParamValue::Text(s) => PackedValue::Text(self.span(s)?),
                api::ParamValue::Number(n) => PackedValue::Number(*n),
                api::ParamValue::Boolean(b) => PackedValue::Boolean(*b),
                api::ParamValue::TextList(l) => {
                    PackedValue::TextList(l.iter().map(|s| self.span(s)).collect::<Option<_>>()?)
                }
                api::ParamValue::NumberList(l) => PackedValue::NumberList(l.clone()),
            };
            out.push(PackedField {
                section,
                name,
                value,
            });
        }
        Some(())
    }

    /// `m` packed: its strings appended to the text, its fields in their sections; `None`
    /// when the text would pass 4 GiB.
    pub(crate) fn pack(&mut self, m: &api::Message) -> Option<PackedMessage> {
        let offer = m.offer.as_ref();
        let count = m.recipient.len()
            + m.params.len()
            + offer.map_or(0, |o| o.fields.len())
            + match &m.content {
                api::Content::Rendered(parts) => parts.len(),
                api::Content::ProviderTemplate(_) => 0,
            };
        let mut fields = Vec::with_capacity(count);
        let provider_template = match &m.content {
            api::Content::Rendered(parts) => {
                self.fields(Section::Content, parts, &mut fields)?;
                None
            }
            api::Content::ProviderTemplate(id) => Some(self.span(id)?),
        };
        self.fields(Section::Recipient, &m.recipient, &mut fields)?;
        self.fields(Section::Params, &m.params, &mut fields)?;
        let offer_id = match offer {
            Some(o) => {
                self.fields(Section::Offer, &o.fields, &mut fields)?;
                Some(self.span(&o.id)?)
            }
            None => None,
        };
        Some(PackedMessage {
            idempotency_key: self.span(&m.idempotency_key)?,
            attempt: m.attempt,
            customer_id: self.span(&m.customer_id)?,
            locale: self.optional(m.locale.as_deref())?,
            time_zone: self.span(&m.time_zone)?,
            channel: self.span(&m.channel)?,
            origin: self.span(&m.origin)?,
            template: self.optional(m.template.as_deref())?,
            provider_template,
            offer_id,
            fields,
            sent_at: self.span(&m.sent_at)?,
        })
    }
}

/// The bytes of text `m`'s strings take, for a [`Packer`]'s capacity.
fn text_bytes(m: &api::Message) -> usize {
    let value = |v: &api::ParamValue| match v {
        api::ParamValue::Text(s) => s.len(),
        api::ParamValue::TextList(l) => l.iter().map(String::len).sum(),
        _ => 0,
    };
    let fields = |f: &[(String, api::ParamValue)]| -> usize {
        f.iter().map(|(n, v)| n.len() + value(v)).sum()
    };
    let content = match &m.content {
        api::Content::Rendered(parts) => fields(parts),
        api::Content::ProviderTemplate(id) => id.len(),
    };
    m.idempotency_key.len()
        + m.customer_id.len()
        + m.locale.as_ref().map_or(0, String::len)
        + m.time_zone.len()
        + m.channel.len()
        + m.origin.len()
        + m.template.as_ref().map_or(0, String::len)
        + content
        + fields(&m.recipient)
        + fields(&m.params)
        + m.offer
            .as_ref()
            .map_or(0, |o| o.id.len() + fields(&o.fields))
        + m.sent_at.len()
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
