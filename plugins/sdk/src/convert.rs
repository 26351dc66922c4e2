//! Conversions between the generated WIT types and the plain contract types, used by
//! [`export_connector!`](crate::export_connector). Public only so the macro's expansion in a
//! connector crate can reach them.

use crate::bindings::exports::journey::channel::packed as pw;
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

/// The text of span `s` of `text`, `what` naming it for the error.
fn span_str<'t>(text: &'t str, s: pw::Span, what: &str) -> Result<&'t str, String> {
    let start = s.start as usize;
    start
        .checked_add(s.len as usize)
        .and_then(|end| text.get(start..end))
        .ok_or_else(|| {
            format!(
                "{what}: span {}+{} is not text of the call's {} bytes (out of range, or it splits a character)",
                s.start,
                s.len,
                text.len()
            )
        })
}

/// `into` made the text of span `s`, in the allocation it has.
fn refill(into: &mut String, text: &str, s: pw::Span, what: &str) -> Result<(), String> {
    let s = span_str(text, s, what)?;
    into.clear();
    into.push_str(s);
    Ok(())
}

/// `into` made the text of span `s` when there is one (in the allocation it has), else
/// `None`.
fn refill_optional(
    into: &mut Option<String>,
    text: &str,
    s: Option<pw::Span>,
    what: &str,
) -> Result<(), String> {
    match (s, into.as_mut()) {
        (None, _) => *into = None,
        (Some(s), Some(old)) => refill(old, text, s, what)?,
        (Some(s), None) => *into = Some(span_str(text, s, what)?.to_string()),
    }
    Ok(())
}

/// `into` made the value `v` describes, reusing the strings it holds.
fn refill_value(
    into: &mut api::ParamValue,
    text: &str,
    v: pw::PackedValue,
    what: &str,
) -> Result<(), String> {
    match (v, &mut *into) {
        (pw::PackedValue::Text(s), api::ParamValue::Text(old)) => refill(old, text, s, what)?,
        (pw::PackedValue::TextList(spans), api::ParamValue::TextList(old)) => {
            old.truncate(spans.len());
            for (i, s) in spans.into_iter().enumerate() {
                match old.get_mut(i) {
                    Some(item) => refill(item, text, s, what)?,
                    None => old.push(span_str(text, s, what)?.to_string()),
                }
            }
        }
        (pw::PackedValue::Text(s), _) => {
            *into = api::ParamValue::Text(span_str(text, s, what)?.to_string());
        }
        (pw::PackedValue::TextList(spans), _) => {
            let items = spans
                .into_iter()
                .map(|s| span_str(text, s, what).map(str::to_string))
                .collect::<Result<_, _>>()?;
            *into = api::ParamValue::TextList(items);
        }
        (pw::PackedValue::Number(n), _) => *into = api::ParamValue::Number(n),
        (pw::PackedValue::Boolean(b), _) => *into = api::ParamValue::Boolean(b),
        (pw::PackedValue::NumberList(l), _) => *into = api::ParamValue::NumberList(l),
    }
    Ok(())
}

/// A message with nothing in it, for [`message_into`] to fill.
#[cfg(any(target_arch = "wasm32", test))]
fn blank_message() -> api::Message {
    api::Message {
        idempotency_key: String::new(),
        attempt: 0,
        customer_id: String::new(),
        locale: None,
        time_zone: String::new(),
        channel: String::new(),
        origin: String::new(),
        template: None,
        content: api::Content::Rendered(Vec::new()),
        recipient: Vec::new(),
        params: Vec::new(),
        offer: None,
        sent_at: String::new(),
    }
}

/// Makes `out` the message a packed message describes, its spans read from the call's
/// `text`, or says why it is malformed (a span that is not text of `text`, content fields
/// beside a provider template, offer fields without an offer). It reuses the strings and
/// lists `out` holds: a component that unpacks every call's message into the same one
/// allocates only where a message outgrows the ones before it. Every field of `out` is set;
/// after an error, `out` holds part of the message.
#[doc(hidden)]
pub fn message_into(
    text: &str,
    m: pw::PackedMessage,
    out: &mut api::Message,
) -> Result<(), String> {
    let mut counts = [0usize; 4];
    for f in &m.fields {
        counts[f.section as usize] += 1;
    }
    let [content, _, _, offer] = counts;
    if m.provider_template.is_some() && content > 0 {
        return Err("content fields beside a provider template".to_string());
    }
    if m.offer_id.is_none() && offer > 0 {
        return Err("offer fields without an offer".to_string());
    }
    refill(
        &mut out.idempotency_key,
        text,
        m.idempotency_key,
        "idempotency-key",
    )?;
    out.attempt = m.attempt;
    refill(&mut out.customer_id, text, m.customer_id, "customer-id")?;
    refill_optional(&mut out.locale, text, m.locale, "locale")?;
    refill(&mut out.time_zone, text, m.time_zone, "time-zone")?;
    refill(&mut out.channel, text, m.channel, "channel")?;
    refill(&mut out.origin, text, m.origin, "origin")?;
    refill_optional(&mut out.template, text, m.template, "template")?;
    refill(&mut out.sent_at, text, m.sent_at, "sent-at")?;
    match (m.provider_template, &mut out.content) {
        (Some(s), api::Content::ProviderTemplate(id)) => refill(id, text, s, "provider-template")?,
        (Some(s), content) => {
            let id = span_str(text, s, "provider-template")?.to_string();
            *content = api::Content::ProviderTemplate(id);
        }
        (None, api::Content::Rendered(_)) => {}
        (None, content) => *content = api::Content::Rendered(Vec::new()),
    }
    match (m.offer_id, &mut out.offer) {
        (Some(s), Some(o)) => refill(&mut o.id, text, s, "offer-id")?,
        (Some(s), offer) => {
            *offer = Some(api::Offer {
                id: span_str(text, s, "offer-id")?.to_string(),
                fields: Vec::new(),
            });
        }
        (None, offer) => *offer = None,
    }
    let mut filled = [0usize; 4];
    for f in m.fields {
        let section = f.section as usize;
        let list = match f.section {
            pw::Section::Content => match &mut out.content {
                api::Content::Rendered(parts) => parts,
                // Refused above.
                api::Content::ProviderTemplate(_) => continue,
            },
            pw::Section::Recipient => &mut out.recipient,
            pw::Section::Params => &mut out.params,
            pw::Section::Offer => match &mut out.offer {
                Some(o) => &mut o.fields,
                // Refused above.
                None => continue,
            },
        };
        let at = filled[section];
        filled[section] += 1;
        if at == 0 {
            list.truncate(counts[section]);
            list.reserve(counts[section] - list.len());
        }
        match list.get_mut(at) {
            Some((name, value)) => {
                refill(name, text, f.name, "a field's name")?;
                refill_value(value, text, f.value, name)?;
            }
            None => {
                let name = span_str(text, f.name, "a field's name")?.to_string();
                let mut value = api::ParamValue::Boolean(false);
                refill_value(&mut value, text, f.value, &name)?;
                list.push((name, value));
            }
        }
    }
    // The lists this message has no field in.
    if let api::Content::Rendered(parts) = &mut out.content {
        parts.truncate(filled[0]);
    }
    out.recipient.truncate(filled[1]);
    out.params.truncate(filled[2]);
    if let Some(o) = &mut out.offer {
        o.fields.truncate(filled[3]);
    }
    Ok(())
}

/// The outcome of a message that could not be unpacked.
#[cfg(any(target_arch = "wasm32", test))]
fn malformed(why: String) -> api::Outcome {
    api::Outcome::Failed(format!("malformed packed message: {why}"))
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
    crate::component::begin_call(None);
    let message = message_from_wit(message);
    outcome_to_wit(C::deliver(&crate::component::ComponentHost, &message))
}

/// The body of the exported `deliver-batch` function: the messages converted, delivered
/// together through the component's host, the outcomes converted back.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub fn export_deliver_batch<C: crate::Connector>(messages: Vec<wit::Message>) -> Vec<wit::Outcome> {
    crate::component::begin_call(None);
    let messages: Vec<api::Message> = messages.into_iter().map(message_from_wit).collect();
    C::deliver_batch(&crate::component::ComponentHost, &messages)
        .into_iter()
        .map(outcome_to_wit)
        .collect()
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// The message every packed call of this component unpacks into: its strings and lists
    /// keep their allocations from one call to the next.
    static UNPACKED: std::cell::RefCell<api::Message> = std::cell::RefCell::new(blank_message());
    /// The same for packed batches.
    static UNPACKED_BATCH: std::cell::RefCell<Vec<api::Message>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The body of the exported `packed.deliver` function, for channel set-up `setup`: the
/// message unpacked from `text` (into the component's reused [`api::Message`]), then
/// delivered as `deliver` delivers it; a malformed one fails without reaching the
/// connector.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub fn export_deliver_packed<C: crate::Connector>(
    setup: u64,
    text: String,
    message: pw::PackedMessage,
) -> wit::Outcome {
    crate::component::begin_call(Some(setup));
    let outcome = UNPACKED.with_borrow_mut(|m| match message_into(&text, message, m) {
        Ok(()) => C::deliver(&crate::component::ComponentHost, m),
        Err(why) => malformed(why),
    });
    outcome_to_wit(outcome)
}

/// The body of the exported `packed.deliver-batch` function: the messages unpacked from
/// `text`, the sound ones delivered together as `deliver-batch` delivers them, the
/// malformed ones failed in their places.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub fn export_deliver_packed_batch<C: crate::Connector>(
    setup: u64,
    text: String,
    messages: Vec<pw::PackedMessage>,
) -> Vec<wit::Outcome> {
    crate::component::begin_call(Some(setup));
    UNPACKED_BATCH
        .with_borrow_mut(|scratch| {
            unpacked_batch(&text, messages, scratch, |sound| {
                C::deliver_batch(&crate::component::ComponentHost, sound)
            })
        })
        .into_iter()
        .map(outcome_to_wit)
        .collect()
}

/// The outcomes of packed `messages`: `deliver` of the sound ones, all in one call (none
/// when there are none), with each malformed one's failure in its place. An answer of
/// another length than the sound messages stays so, for the host to refuse. The messages
/// are unpacked into `scratch`, whose messages are reused.
#[cfg(any(target_arch = "wasm32", test))]
fn unpacked_batch(
    text: &str,
    messages: Vec<pw::PackedMessage>,
    scratch: &mut Vec<api::Message>,
    deliver: impl FnOnce(&[api::Message]) -> Vec<api::Outcome>,
) -> Vec<api::Outcome> {
    let mut sound = 0;
    // Per message: `None` when it is sound (`deliver` answers for it), else why not.
    let mut slots: Vec<Option<String>> = Vec::with_capacity(messages.len());
    for m in messages {
        // The sound messages so far fill `scratch[..sound]`; the next one goes after them.
        if scratch.len() == sound {
            scratch.push(blank_message());
        }
        match message_into(text, m, &mut scratch[sound]) {
            Ok(()) => {
                sound += 1;
                slots.push(None);
            }
            Err(why) => slots.push(Some(why)),
        }
    }
    let sound = &scratch[..sound];
    if sound.len() == slots.len() {
        return deliver(sound);
    }
    let mut answers = if sound.is_empty() {
        Vec::new().into_iter()
    } else {
        deliver(sound).into_iter()
    };
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Some(why) => out.push(malformed(why)),
            None => match answers.next() {
                Some(o) => out.push(o),
                None => return out,
            },
        }
    }
    out.extend(answers);
    out
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

    /// A packed message and its text: each string of `strings` appended to the text, its
    /// span returned in order.
    fn packer(strings: &[&str]) -> (String, Vec<pw::Span>) {
        let mut text = String::new();
        let spans = strings
            .iter()
            .map(|s| {
                let start = text.len() as u32;
                text.push_str(s);
                pw::Span {
                    start,
                    len: s.len() as u32,
                }
            })
            .collect();
        (text, spans)
    }

    /// A packed message of the strings `packer` made from [`PACKED_STRINGS`].
    fn packed(s: &[pw::Span]) -> pw::PackedMessage {
        let field = |section, name, value| pw::PackedField {
            section,
            name,
            value,
        };
        pw::PackedMessage {
            idempotency_key: s[0],
            attempt: 3,
            customer_id: s[1],
            locale: Some(s[2]),
            time_zone: s[3],
            channel: s[4],
            origin: s[5],
            template: None,
            provider_template: None,
            offer_id: Some(s[6]),
            fields: vec![
                field(pw::Section::Params, s[7], pw::PackedValue::Number(2.5)),
                field(pw::Section::Content, s[8], pw::PackedValue::Text(s[9])),
                field(
                    pw::Section::Recipient,
                    s[10],
                    pw::PackedValue::TextList(vec![s[11], s[9]]),
                ),
                field(pw::Section::Offer, s[12], pw::PackedValue::Boolean(true)),
                field(
                    pw::Section::Params,
                    s[13],
                    pw::PackedValue::NumberList(vec![1.0, -0.0]),
                ),
                field(pw::Section::Content, s[14], pw::PackedValue::Text(s[15])),
            ],
            sent_at: s[16],
        }
    }

    const PACKED_STRINGS: [&str; 17] = [
        "key-1",
        "C-42",
        "fr-FR",
        "Europe/Paris",
        "sms_service",
        "j/step",
        "promo",
        "urgency",
        "subject",
        "Réduction de 10 €",
        "phones",
        "+33612345678",
        "free",
        "codes",
        "text",
        "",
        "2027-03-01T09:30:00Z",
    ];

    /// The message a packed message describes, unpacked into a blank one.
    fn message_from_packed(text: &str, m: pw::PackedMessage) -> Result<api::Message, String> {
        let mut out = blank_message();
        message_into(text, m, &mut out)?;
        Ok(out)
    }

    #[test]
    fn packed_messages_unpack_to_the_messages_they_describe() {
        let (text, spans) = packer(&PACKED_STRINGS);
        let m = message_from_packed(&text, packed(&spans)).expect("sound");
        let text = |s: &str| api::ParamValue::Text(s.into());
        let expected = api::Message {
            idempotency_key: "key-1".into(),
            attempt: 3,
            customer_id: "C-42".into(),
            locale: Some("fr-FR".into()),
            time_zone: "Europe/Paris".into(),
            channel: "sms_service".into(),
            origin: "j/step".into(),
            template: None,
            content: api::Content::Rendered(vec![
                ("subject".into(), text("Réduction de 10 €")),
                ("text".into(), text("")),
            ]),
            recipient: vec![(
                "phones".into(),
                api::ParamValue::TextList(vec!["+33612345678".into(), "Réduction de 10 €".into()]),
            )],
            params: vec![
                ("urgency".into(), api::ParamValue::Number(2.5)),
                ("codes".into(), api::ParamValue::NumberList(vec![1.0, -0.0])),
            ],
            offer: Some(api::Offer {
                id: "promo".into(),
                fields: vec![("free".into(), api::ParamValue::Boolean(true))],
            }),
            sent_at: "2027-03-01T09:30:00Z".into(),
        };
        assert_eq!(m, expected);

        // A provider template, no offer.
        let (text, spans) = packer(&PACKED_STRINGS);
        let mut p = packed(&spans);
        p.provider_template = Some(spans[6]);
        p.template = Some(spans[4]);
        p.offer_id = None;
        p.locale = None;
        p.fields.retain(|f| f.section == pw::Section::Params);
        let m = message_from_packed(&text, p).expect("sound");
        assert_eq!(m.content, api::Content::ProviderTemplate("promo".into()));
        assert_eq!(m.template.as_deref(), Some("sms_service"));
        assert_eq!((m.offer, m.locale, m.params.len()), (None, None, 2));
    }

    #[test]
    fn malformed_packed_messages_say_what_is_wrong() {
        let (text, spans) = packer(&PACKED_STRINGS);
        let euro = text.find('€').expect("a euro sign") as u32;
        /// Breaks a packed message, given the offset of `€` and the text's length.
        type Break = fn(&mut pw::PackedMessage, u32, u32);
        let cases: [(Break, &str); 6] = [
            (
                |p, _, len| p.customer_id = pw::Span { start: len, len: 1 },
                "customer-id: span",
            ),
            (
                |p, _, _| {
                    p.sent_at = pw::Span {
                        start: u32::MAX,
                        len: u32::MAX,
                    }
                },
                "sent-at: span 4294967295+4294967295 is not text",
            ),
            // Into the middle of the three bytes of `€`.
            (
                |p, euro, _| {
                    p.locale = Some(pw::Span {
                        start: euro + 1,
                        len: 1,
                    })
                },
                "locale: span",
            ),
            (
                |p, euro, _| {
                    p.fields[1].value = pw::PackedValue::TextList(vec![pw::Span {
                        start: euro,
                        len: 2,
                    }]);
                },
                "subject: span",
            ),
            (
                |p, _, _| p.provider_template = Some(p.origin),
                "content fields beside a provider template",
            ),
            (|p, _, _| p.offer_id = None, "offer fields without an offer"),
        ];
        for (break_it, expected) in cases {
            let mut p = packed(&spans);
            break_it(&mut p, euro, text.len() as u32);
            let why = message_from_packed(&text, p).expect_err(expected);
            assert!(why.starts_with(expected), "{why}");
        }
    }

    #[test]
    fn packed_batches_keep_malformed_messages_in_their_places() {
        let (text, spans) = packer(&PACKED_STRINGS);
        let broken = || {
            let mut p = packed(&spans);
            p.offer_id = None;
            p
        };
        let messages = vec![packed(&spans), broken(), packed(&spans), broken()];
        let accept = |sound: &[api::Message]| -> Vec<api::Outcome> {
            (0..sound.len())
                .map(|i| api::Outcome::Accepted(format!("{i}-{}", sound[i].customer_id)))
                .collect()
        };
        let failed = malformed("offer fields without an offer".into());
        assert_eq!(
            unpacked_batch(&text, messages, &mut Vec::new(), accept),
            vec![
                api::Outcome::Accepted("0-C-42".into()),
                failed.clone(),
                api::Outcome::Accepted("1-C-42".into()),
                failed.clone(),
            ]
        );
        // All malformed: the connector is not called.
        let outcomes = unpacked_batch(&text, vec![broken()], &mut Vec::new(), |_| panic!("called"));
        assert_eq!(outcomes, vec![failed.clone()]);
        // A short answer stays short; a long one stays long.
        let short = unpacked_batch(
            &text,
            vec![packed(&spans), broken()],
            &mut Vec::new(),
            |_| Vec::new(),
        );
        assert!(short.is_empty());
        let long = unpacked_batch(
            &text,
            vec![broken(), packed(&spans)],
            &mut Vec::new(),
            |s| vec![api::Outcome::Accepted("a".into()); s.len() + 1],
        );
        assert_eq!(long.len(), 3);
    }

    /// Any span: mostly inside a short text, sometimes anywhere at all.
    fn any_span() -> impl proptest::strategy::Strategy<Value = pw::Span> + Clone {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u32..24, 0u32..24).prop_map(|(start, len)| pw::Span { start, len }),
            1 => (any::<u32>(), any::<u32>()).prop_map(|(start, len)| pw::Span { start, len }),
        ]
    }

    /// A span of the first 48 bytes of a text, always text of an ASCII one that long.
    fn sound_span() -> impl proptest::strategy::Strategy<Value = pw::Span> + Clone {
        use proptest::prelude::*;
        (0u32..24, 0u32..24).prop_map(|(start, len)| pw::Span { start, len })
    }

    fn any_packed_message() -> impl proptest::strategy::Strategy<Value = pw::PackedMessage> {
        packed_message_of(any_span())
    }

    /// Packed messages whose spans come from `span`.
    fn packed_message_of(
        span: impl proptest::strategy::Strategy<Value = pw::Span> + Clone + 'static,
    ) -> impl proptest::strategy::Strategy<Value = pw::PackedMessage> {
        use proptest::prelude::*;
        let any_span = move || span.clone();
        let section = prop_oneof![
            Just(pw::Section::Content),
            Just(pw::Section::Recipient),
            Just(pw::Section::Params),
            Just(pw::Section::Offer),
        ];
        let value = prop_oneof![
            any_span().prop_map(pw::PackedValue::Text),
            any::<f64>().prop_map(pw::PackedValue::Number),
            any::<bool>().prop_map(pw::PackedValue::Boolean),
            prop::collection::vec(any_span(), 0..3).prop_map(pw::PackedValue::TextList),
            prop::collection::vec(any::<f64>(), 0..3).prop_map(pw::PackedValue::NumberList),
        ];
        let field =
            (section, any_span(), value).prop_map(|(section, name, value)| pw::PackedField {
                section,
                name,
                value,
            });
        let optional = || prop::option::of(any_span());
        (
            (any_span(), any::<u32>(), any_span(), optional(), any_span()),
            (any_span(), any_span(), optional(), optional(), optional()),
            (prop::collection::vec(field, 0..5), any_span()),
        )
            .prop_map(
                |(
                    (idempotency_key, attempt, customer_id, locale, time_zone),
                    (channel, origin, template, provider_template, offer_id),
                    (fields, sent_at),
                )| pw::PackedMessage {
                    idempotency_key,
                    attempt,
                    customer_id,
                    locale,
                    time_zone,
                    channel,
                    origin,
                    template,
                    provider_template,
                    offer_id,
                    fields,
                    sent_at,
                },
            )
    }

    /// Every span of `m` (names, values, list items, optional ones).
    fn spans_of(m: &pw::PackedMessage) -> Vec<pw::Span> {
        let mut out = vec![
            m.idempotency_key,
            m.customer_id,
            m.time_zone,
            m.channel,
            m.origin,
            m.sent_at,
        ];
        out.extend(
            [m.locale, m.template, m.provider_template, m.offer_id]
                .into_iter()
                .flatten(),
        );
        for f in &m.fields {
            out.push(f.name);
            match &f.value {
                pw::PackedValue::Text(s) => out.push(*s),
                pw::PackedValue::TextList(l) => out.extend(l.iter().copied()),
                _ => {}
            }
        }
        out
    }

    proptest::proptest! {
        /// Unpacking into a message that held others gives what unpacking into a blank one
        /// gives, after sound messages of any shape and after malformed ones (which leave
        /// it half filled).
        #[test]
        fn unpacking_into_a_reused_message_is_unpacking_afresh(
            text in "[ -~]{48}",
            messages in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => packed_message_of(sound_span()),
                    1 => any_packed_message(),
                ],
                1..12,
            ),
        ) {
            let mut reused = blank_message();
            for m in messages {
                let fresh = message_from_packed(&text, m.clone());
                let again = message_into(&text, m, &mut reused).map(|()| reused.clone());
                proptest::prop_assert_eq!(again, fresh);
            }
        }

        /// Whatever a host sends, unpacking answers a message or why not, and never panics;
        /// it refuses exactly the messages with a span that is not text of the call's text
        /// or with fields their sections cannot hold.
        #[test]
        fn unpacking_any_packed_message_answers_and_never_panics(
            text in "[a-z€é]{0,16}",
            m in any_packed_message(),
        ) {
            let spans_sound = spans_of(&m).iter().all(|s| {
                let start = s.start as usize;
                start
                    .checked_add(s.len as usize)
                    .is_some_and(|end| text.get(start..end).is_some())
            });
            let has = |section| m.fields.iter().any(|f| f.section == section);
            let template_clash = m.provider_template.is_some() && has(pw::Section::Content);
            let stray_offer = m.offer_id.is_none() && has(pw::Section::Offer);
            let sections_sound = !(template_clash || stray_offer);
            let fields = m.fields.len();
            match message_from_packed(&text, m) {
                Ok(message) => {
                    proptest::prop_assert!(spans_sound && sections_sound);
                    let content = match &message.content {
                        api::Content::Rendered(parts) => parts.len(),
                        api::Content::ProviderTemplate(_) => 0,
                    };
                    let offer = message.offer.as_ref().map_or(0, |o| o.fields.len());
                    proptest::prop_assert_eq!(
                        content + message.recipient.len() + message.params.len() + offer,
                        fields
                    );
                }
                Err(why) => {
                    proptest::prop_assert!(!(spans_sound && sections_sound), "{}", why);
                }
            }
        }
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
