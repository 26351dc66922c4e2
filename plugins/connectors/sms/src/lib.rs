//! The `sms` channel plugin: sends text messages through a provider's form-encoded API.
//!
//! Request: `POST <endpoint>` with `Content-Type: application/x-www-form-urlencoded`, the
//! body `From=<sender>&To=<phone>&Body=<text>`, `Authorization: Bearer <api_key>`,
//! `Idempotency-Key: <key>` and `X-Segments: <n>` (the number of SMS segments the text
//! takes, see [`segments`]). A 2xx answer is accepted with the JSON body's `sid` (else the
//! idempotency key).

use journey_plugin_sdk::spec::{config, param, part, secret};
use journey_plugin_sdk::{
    CONTRACT_VERSION, ChannelKind, Connector, Host, HttpRequest, Manifest, Message, Outcome,
    ParamType, RateLimit, deliver_http, require_config, require_secret,
};

/// The most segments a message may take; longer texts fail rather than cost a fortune.
pub const MAX_SEGMENTS: u32 = 10;

/// The SMS connector.
pub struct Sms;

impl Connector for Sms {
    fn manifest() -> Manifest {
        Manifest {
            name: "sms".into(),
            version: "1.0.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Sms,
            description: "Sends text messages through a provider's form-encoded API.".into(),
            params: vec![
                param(
                    "short_link",
                    ParamType::Text,
                    "A link appended to the text after a space.",
                ),
                param(
                    "sender",
                    ParamType::Text,
                    "Sender id or number; overrides the channel's.",
                ),
            ],
            open_params: false,
            parts: vec![part("text", true, "The message text.")],
            config: vec![
                config("endpoint", true, "The provider's send URL."),
                config("sender", true, "The default sender id or number."),
                secret("api_key", true, "The provider's API key (bearer token)."),
            ],
            hosts: vec!["{endpoint}".into()],
            rate_limit: Some(RateLimit {
                per_second: 30,
                burst: 10,
            }),
        }
    }

    fn deliver(host: &dyn Host, message: &Message) -> Outcome {
        match request(host, message) {
            Ok(req) => {
                let key = message.idempotency_key.clone();
                deliver_http(host, &req, |r| r.json_field("sid").or(Some(key)))
            }
            Err(outcome) => outcome,
        }
    }
}

/// The request for `message`, or the outcome that says why there is none.
pub fn request(host: &dyn Host, message: &Message) -> Result<HttpRequest, Outcome> {
    let endpoint = require_config(host, "endpoint")?;
    let api_key = require_secret(host, "api_key")?;
    let sender = match message.text_param("sender").filter(|s| !s.is_empty()) {
        Some(s) => s.to_string(),
        None => require_config(host, "sender")?,
    };
    let to = message
        .address("phone")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Outcome::Failed("customer has no phone number".into()))?;
    if !is_e164(to) {
        return Err(Outcome::Failed(format!(
            "phone number {to:?} is not in E.164 form (`+`, then 8 to 15 digits, the first not 0)"
        )));
    }
    let mut text = message
        .part("text")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Outcome::Failed("the message has no text".into()))?
        .to_string();
    if let Some(link) = message.text_param("short_link").filter(|l| !l.is_empty()) {
        text.push(' ');
        text.push_str(link);
    }
    let (encoding, n) = segments(&text);
    if n > MAX_SEGMENTS {
        return Err(Outcome::Failed(format!(
            "the text takes {n} {encoding:?} segments, more than {MAX_SEGMENTS}"
        )));
    }
    Ok(HttpRequest::post(endpoint)
        .form(&[("From", &sender), ("To", to), ("Body", &text)])
        .bearer(&api_key)
        .header("Idempotency-Key", message.idempotency_key.clone())
        .header("X-Segments", n.to_string()))
}

/// Whether `phone` is an E.164 number: `+`, then 8 to 15 digits, the first from 1 to 9.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 03.38 7-bit default alphabet (with its extension table).
    Gsm7,
    /// UCS-2 (UTF-16 on modern networks), for any text outside that alphabet.
    Ucs2,
}

/// The characters of the GSM 03.38 default alphabet outside ASCII (one septet each).
const GSM_BASIC_NON_ASCII: &str = "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßɤ¡ÄÖÑܧ¿äöñüà";

/// The septets `c` takes in the GSM 7-bit alphabet: 1 in the default table, 2 in the
/// extension table (escape + code), `None` outside both.
pub fn gsm_septets(c: char) -> Option<u32> {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => Some(1),
        ' ' | '\n' | '\r' | '!' | '"' | '#' | '$' | '%' | '&' | '\'' | '(' | ')' | '*' | '+'
        | ',' | '-' | '.' | '/' | ':' | ';' | '<' | '=' | '>' | '?' | '@' | '_' => Some(1),
        '^' | '{' | '}' | '\\' | '[' | ']' | '~' | '|' | '€' | '\u{0c}' => Some(2),
        c if !c.is_ascii() && GSM_BASIC_NON_ASCII.contains(c) => Some(1),
        _ => None,
    }
}

/// The encoding of `text` and the number of segments it takes: GSM 7-bit when every
/// character is in the GSM 03.38 alphabet (160 septets in one segment, else 153 per
/// segment, an extension character never split across two), UCS-2 otherwise (70 UTF-16
/// units in one segment, else 67 per segment, a surrogate pair never split). An empty text
/// takes no segment.
pub fn segments(text: &str) -> (Encoding, u32) {
    let gsm: Option<Vec<u32>> = text.chars().map(gsm_septets).collect();
    match gsm {
        Some(costs) => (Encoding::Gsm7, count(&costs, 160, 153)),
        None => {
            let costs: Vec<u32> = text.chars().map(|c| c.len_utf16() as u32).collect();
            (Encoding::Ucs2, count(&costs, 70, 67))
        }
    }
}

/// Segments for characters of the given costs: one if they fit in `single`, else filled
/// greedily `multi` units at a time without splitting a character.
fn count(costs: &[u32], single: u32, multi: u32) -> u32 {
    let total: u32 = costs.iter().sum();
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let (mut n, mut used) = (1, 0);
    for &c in costs {
        if used + c > multi {
            n += 1;
            used = 0;
        }
        used += c;
    }
    n
}

#[cfg(target_arch = "wasm32")]
journey_plugin_sdk::export_connector!(Sms);

#[cfg(test)]
mod tests {
    use super::*;
    use journey_plugin_sdk::testing::{self, StubHost, text};
    use journey_plugin_sdk::{Content, HttpResponse};

    fn message(body: &str) -> Message {
        Message {
            locale: Some("fr-FR".into()),
            time_zone: "Europe/Paris".into(),
            channel: "sms".into(),
            origin: "welcome/hello".into(),
            template: Some("hello".into()),
            content: Content::Rendered(vec![("text".into(), text(body))]),
            recipient: vec![("phone".into(), text("+33612345678"))],
            ..testing::message()
        }
    }

    fn host() -> StubHost {
        StubHost::new()
            .with_config("endpoint", "https://sms.example.com/v1/messages")
            .with_config("sender", "SHOP")
            .with_secret("api_key", "k-1")
    }

    #[test]
    fn manifest_is_sound() {
        let m = Sms::manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                per_second: 30,
                burst: 10
            })
        );
        assert!(m.parts.iter().any(|p| p.name == "text" && p.required));
    }

    #[test]
    fn posts_a_form() {
        let host = host().respond(HttpResponse::with_json(201, &json_sid()));
        let mut m = message("Bonjour Ana, -10% ce week-end");
        m.params = vec![("short_link".into(), text("https://s.example/x1"))];
        assert_eq!(Sms::deliver(&host, &m), Outcome::Accepted("SM123".into()));
        let req = host.only_request();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://sms.example.com/v1/messages");
        assert_eq!(
            req.header_value("Content-Type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.header_value("Authorization"), Some("Bearer k-1"));
        assert_eq!(req.header_value("Idempotency-Key"), Some("key-1"));
        assert_eq!(req.header_value("X-Segments"), Some("1"));
        assert_eq!(
            req.body_text(),
            "From=SHOP&To=%2B33612345678&Body=Bonjour+Ana%2C+-10%25+ce+week-end+https%3A%2F%2Fs.example%2Fx1"
        );
    }

    fn json_sid() -> serde_json::Value {
        serde_json::json!({"sid": "SM123", "status": "queued"})
    }

    #[test]
    fn sender_param_overrides_config_and_segments_are_reported() {
        let host = host().respond(HttpResponse::new(200));
        let mut m = message(&"é".repeat(161));
        m.params = vec![("sender".into(), text("+15550001111"))];
        assert_eq!(Sms::deliver(&host, &m), Outcome::Accepted("key-1".into()));
        let req = host.only_request();
        assert_eq!(req.header_value("X-Segments"), Some("2"));
        assert_eq!(
            req.body_form()[0],
            ("From".to_string(), "+15550001111".to_string())
        );
    }

    #[test]
    fn refuses_bad_numbers_and_long_texts() {
        let host = host();
        for bad in [
            "0612345678",
            "+0612345678",
            "+3361234",
            "+33 6 12 34 56 78",
            "+1234567890123456",
        ] {
            let mut m = message("hi");
            m.recipient = vec![("phone".into(), text(bad))];
            match Sms::deliver(&host, &m) {
                Outcome::Failed(r) => assert!(r.contains(&format!("{bad:?}")), "{r}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(is_e164("+33612345"));
        assert!(is_e164("+123456789012345"));
        let mut m = message("hi");
        m.recipient.clear();
        assert_eq!(
            Sms::deliver(&host, &m),
            Outcome::Failed("customer has no phone number".into())
        );
        assert_eq!(
            Sms::deliver(&host, &message(&"a".repeat(153 * 10 + 1))),
            Outcome::Failed("the text takes 11 Gsm7 segments, more than 10".into())
        );
        assert_eq!(
            Sms::deliver(&host, &message("")),
            Outcome::Failed("the message has no text".into())
        );
        assert!(host.requests().is_empty());
        // Exactly ten segments is allowed.
        let host = host.respond(HttpResponse::new(200));
        assert!(matches!(
            Sms::deliver(&host, &message(&"a".repeat(1530))),
            Outcome::Accepted(_)
        ));
    }

    #[test]
    fn gsm_segments() {
        assert_eq!(segments(""), (Encoding::Gsm7, 0));
        assert_eq!(segments("a"), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
        // € is in the extension table: two septets.
        assert_eq!(
            segments(&format!("{}€", "a".repeat(158))),
            (Encoding::Gsm7, 1)
        );
        assert_eq!(
            segments(&format!("{}€", "a".repeat(159))),
            (Encoding::Gsm7, 2)
        );
        assert_eq!(segments(&"[]".repeat(80)), (Encoding::Gsm7, 3));
        // An escape pair is not split: 152 + 2 does not fit in 153.
        assert_eq!(
            segments(&format!("{}{{{}", "a".repeat(152), "a".repeat(10))),
            (Encoding::Gsm7, 2)
        );
        assert_eq!(
            segments(&format!("{}{{{}", "a".repeat(152), "a".repeat(152))),
            (Encoding::Gsm7, 3)
        );
        // é, è, à, ù, Ç, ß, Greek capitals are in the default alphabet.
        assert_eq!(segments("Café à la crème, où Ça? ÇßΩ"), (Encoding::Gsm7, 1));
        assert_eq!(gsm_septets('é'), Some(1));
        assert_eq!(gsm_septets('€'), Some(2));
        assert_eq!(gsm_septets('`'), None);
        assert_eq!(gsm_septets('\t'), None);
    }

    #[test]
    fn ucs2_segments() {
        // œ, ê, ô... are not in the GSM alphabet: the whole text goes UCS-2.
        assert_eq!(segments("Un cœur"), (Encoding::Ucs2, 1));
        assert_eq!(segments("Fête"), (Encoding::Ucs2, 1));
        // The default alphabet has the capital Ç only.
        assert_eq!(segments("ça"), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"œ".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"œ".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"œ".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"œ".repeat(135)), (Encoding::Ucs2, 3));
        // An emoji is a surrogate pair: two UTF-16 units.
        assert_eq!(segments(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(
            segments(&format!("{}😀", "a".repeat(69))),
            (Encoding::Ucs2, 2)
        );
        // A pair is not split across segments: 66 + 2 does not fit in 67.
        assert_eq!(
            segments(&format!("{}😀{}", "a".repeat(66), "a".repeat(66))),
            (Encoding::Ucs2, 3)
        );
        assert_eq!(
            segments(&format!("{}😀{}", "a".repeat(65), "a".repeat(66))),
            (Encoding::Ucs2, 2)
        );
    }
}
