//! The channel-plugin contract (`plugins/wit/channel.wit`, package `journey:channel`) as plain
//! Rust data.
//!
//! Three parts of the project speak it without WebAssembly: the compiler reads a plugin's
//! [`Manifest`] (from JSON) to type-check `send` parameters and channel configuration; the
//! host converts between these types and the component's; the SDK hands them to connector
//! code, which can therefore also run natively (unit tests, benchmarks). The JSON form of
//! every type is the one `journey plugin check` prints and `journey plugin test --message`
//! reads.

use serde::{Deserialize, Serialize};

/// The contract version this crate describes (the WIT package's version).
pub const CONTRACT_VERSION: &str = "1.2.0";

/// The WIT package name, without version.
pub const CONTRACT_PACKAGE: &str = "journey:channel";

/// The kind of touchpoint a plugin reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// E-mail.
    Email,
    /// Text messages.
    Sms,
    /// Push notifications.
    Push,
    /// A generic HTTP callback.
    Webhook,
    /// A contact-centre task.
    ContactCentre,
    /// Anything else.
    Other,
}

/// The type of a `send` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    /// Text.
    Text,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// A civil date (`YYYY-MM-DD` text on the wire).
    Date,
    /// An instant (RFC 3339 text on the wire).
    Timestamp,
    /// A duration (seconds on the wire).
    Duration,
    /// A list of texts.
    TextList,
    /// A list of numbers.
    NumberList,
}

impl ChannelKind {
    /// The kind as the contract spells it (`contact-centre`).
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Push => "push",
            ChannelKind::Webhook => "webhook",
            ChannelKind::ContactCentre => "contact-centre",
            ChannelKind::Other => "other",
        }
    }
}

impl ParamType {
    /// The type as a journey author writes it in a schema (`string`, `list<number>`).
    pub fn journey_name(self) -> &'static str {
        match self {
            ParamType::Text => "string",
            ParamType::Number => "number",
            ParamType::Boolean => "bool",
            ParamType::Date => "date",
            ParamType::Timestamp => "timestamp",
            ParamType::Duration => "duration",
            ParamType::TextList => "list<string>",
            ParamType::NumberList => "list<number>",
        }
    }
}

/// One parameter a `send` may pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Whether every `send` must pass it.
    #[serde(default)]
    pub required: bool,
    /// Documentation.
    #[serde(default)]
    pub docs: String,
}

/// One configuration key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    /// Key.
    pub name: String,
    /// Whether every channel must set it.
    #[serde(default)]
    pub required: bool,
    /// Whether it must come from `secret("...")`.
    #[serde(default)]
    pub secret: bool,
    /// Documentation.
    #[serde(default)]
    pub docs: String,
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// Name.
    pub name: String,
    /// Whether every template must have it.
    #[serde(default)]
    pub required: bool,
    /// Documentation.
    #[serde(default)]
    pub docs: String,
}

/// A provider's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: u32,
    /// Burst above that.
    #[serde(default)]
    pub burst: u32,
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Name (what `channel X uses "NAME"` names).
    pub name: String,
    /// The plugin's version (semver).
    pub version: String,
    /// The contract version it was built against.
    pub contract: String,
    /// Kind of touchpoint.
    pub kind: ChannelKind,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// The parameters a `send` may pass.
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    /// Whether channels may declare further parameters.
    #[serde(default)]
    pub open_params: bool,
    /// Content parts read from templates.
    #[serde(default)]
    pub parts: Vec<PartSpec>,
    /// Configuration keys.
    #[serde(default)]
    pub config: Vec<ConfigSpec>,
    /// Hosts the plugin may call (`api.example.com`, `*.example.com`, `{url}`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Provider rate limit.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

/// A problem with a manifest, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem(pub String);

impl std::fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `s` is a plugin name: 1 to 64 characters of a-z, 0-9, `-` and `_`.
pub fn is_plugin_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A semver `MAJOR.MINOR.PATCH` (pre-release and build suffixes allowed and ignored).
pub fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// What `host.hmac-sha256` answers (contract 1.1): the HMAC-SHA256 of `data` keyed with
/// `secret`, or `None` for a secret that is empty (the contract reads an empty secret as
/// one the channel does not set). The host computes it for components, and the SDK's
/// `StubHost` for native tests, through this one function.
pub fn hmac_sha256(secret: &str, data: &[u8]) -> Option<[u8; 32]> {
    use hmac::Mac;
    if secret.is_empty() {
        return None;
    }
    // HMAC takes keys of any length: `new_from_slice` does not fail.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().into())
}

/// Whether a host of contract [`CONTRACT_VERSION`] can load a plugin built against
/// `version`: same major version, minor not newer than the host's.
pub fn contract_compatible(version: &str) -> bool {
    match (parse_semver(version), parse_semver(CONTRACT_VERSION)) {
        (Some((pm, pn, _)), Some((hm, hn, _))) => pm == hm && pn <= hn,
        _ => false,
    }
}

impl Manifest {
    /// Every problem with the manifest (empty when it is sound): names, versions, duplicate
    /// entries, host patterns, a zero rate limit.
    pub fn problems(&self) -> Vec<ManifestProblem> {
        let mut out = Vec::new();
        let mut say = |s: String| out.push(ManifestProblem(s));
        if !is_plugin_name(&self.name) {
            say(format!(
                "plugin name {:?} must be 1 to 64 characters of a-z, 0-9, `-` and `_`",
                self.name
            ));
        }
        if parse_semver(&self.version).is_none() {
            say(format!(
                "plugin version {:?} is not semver (MAJOR.MINOR.PATCH)",
                self.version
            ));
        }
        if !contract_compatible(&self.contract) {
            say(format!(
                "contract version {:?} is not compatible with this runtime's {CONTRACT_VERSION}",
                self.contract
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.params {
            if !is_identifier(&p.name) {
                say(format!("parameter name {:?} is not an identifier", p.name));
            }
            if !seen.insert(("param", p.name.as_str())) {
                say(format!("parameter `{}` is declared twice", p.name));
            }
        }
        for c in &self.config {
            if !is_identifier(&c.name) {
                say(format!(
                    "configuration key {:?} is not an identifier",
                    c.name
                ));
            }
            if !seen.insert(("config", c.name.as_str())) {
                say(format!("configuration key `{}` is declared twice", c.name));
            }
        }
        for p in &self.parts {
            if !is_identifier(&p.name) {
                say(format!(
                    "content part name {:?} is not an identifier",
                    p.name
                ));
            }
            if !seen.insert(("part", p.name.as_str())) {
                say(format!("content part `{}` is declared twice", p.name));
            }
        }
        for h in &self.hosts {
            if let Some(key) = h.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
                if !self.config.iter().any(|c| c.name == key) {
                    say(format!(
                        "host {h:?} names the configuration key `{key}`, which the manifest does not declare"
                    ));
                }
            } else if !valid_host_pattern(h) {
                say(format!(
                    "host {h:?} is not a host name, `*.domain` or `host:port` (no scheme, no path)"
                ));
            }
        }
        if let Some(r) = self.rate_limit
            && r.per_second == 0
        {
            say("rate limit of 0 calls per second: omit `rate-limit` instead".to_string());
        }
        out
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The configuration key named `name`.
    pub fn config_key(&self, name: &str) -> Option<&ConfigSpec> {
        self.config.iter().find(|c| c.name == name)
    }

    /// Reads a manifest from its JSON form and checks it.
    pub fn from_json(text: &str) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let problems = m.problems();
        if problems.is_empty() {
            Ok(m)
        } else {
            Err(problems
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>()
                .join("; "))
        }
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn valid_host_pattern(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return false;
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Whether `host` (with `port`) matches an allow-list entry already resolved from
/// `{config-key}` form: `example.com` (any port), `example.com:8443`, `*.example.com` (any
/// subdomain, not the domain itself).
pub fn host_allowed(pattern: &str, host: &str, port: Option<u16>) -> bool {
    let host = host.to_ascii_lowercase();
    let (name, want_port) = match pattern.rsplit_once(':') {
        Some((n, p)) => match p.parse::<u16>() {
            Ok(p) => (n.to_ascii_lowercase(), Some(p)),
            Err(_) => return false,
        },
        None => (pattern.to_ascii_lowercase(), None),
    };
    if let Some(w) = want_port
        && port != Some(w)
    {
        return false;
    }
    match name.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => host == name,
    }
}

/// The value of a parameter, a rendered part or an offer field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// Text, dates and timestamps.
    Text(String),
    /// Numbers and durations (seconds).
    Number(f64),
    /// Booleans.
    Boolean(bool),
    /// A list of texts.
    TextList(Vec<String>),
    /// A list of numbers.
    NumberList(Vec<f64>),
}

impl ParamValue {
    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ParamValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Text(s) => serde_json::Value::from(s.as_str()),
            ParamValue::Number(n) => serde_json::Value::from(*n),
            ParamValue::Boolean(b) => serde_json::Value::from(*b),
            ParamValue::TextList(l) => serde_json::Value::from(l.clone()),
            ParamValue::NumberList(l) => serde_json::Value::from(l.clone()),
        }
    }
}

/// Named values in order (parts, parameters, offer fields, recipient addresses).
pub type Fields = Vec<(String, ParamValue)>;

/// Looks up a field by name.
pub fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a ParamValue> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Content {
    /// Parts rendered from a journey template.
    Rendered(#[serde(with = "fields_as_map")] Fields),
    /// A provider-side template id.
    ProviderTemplate(String),
}

/// The chosen offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Offer name.
    pub id: String,
    /// Its fields.
    #[serde(default, with = "fields_as_map")]
    pub fields: Fields,
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Same on every attempt.
    pub idempotency_key: String,
    /// 1, 2, 3...
    #[serde(default = "one")]
    pub attempt: u32,
    /// Customer id.
    pub customer_id: String,
    /// Locale, if known.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Channel name.
    #[serde(default)]
    pub channel: String,
    /// `journey/step`.
    #[serde(default)]
    pub origin: String,
    /// Template name in the project.
    #[serde(default)]
    pub template: Option<String>,
    /// Content.
    pub content: Content,
    /// Addresses (`email`, `phone`, `push_token`).
    #[serde(default, with = "fields_as_map")]
    pub recipient: Fields,
    /// Parameters.
    #[serde(default, with = "fields_as_map")]
    pub params: Fields,
    /// Chosen offer.
    #[serde(default)]
    pub offer: Option<Offer>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub sent_at: String,
}

fn one() -> u32 {
    1
}

fn utc() -> String {
    "UTC".to_string()
}

impl Message {
    /// A rendered part by name.
    pub fn part(&self, name: &str) -> Option<&str> {
        match &self.content {
            Content::Rendered(parts) => field(parts, name).and_then(ParamValue::as_text),
            Content::ProviderTemplate(_) => None,
        }
    }

    /// A text parameter by name.
    pub fn text_param(&self, name: &str) -> Option<&str> {
        field(&self.params, name).and_then(ParamValue::as_text)
    }

    /// A recipient address by name.
    pub fn address(&self, name: &str) -> Option<&str> {
        field(&self.recipient, name).and_then(ParamValue::as_text)
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Accepted, with the provider's id.
    Accepted(String),
    /// Try again after a delay.
    RetryAfter {
        /// Milliseconds.
        after_ms: u64,
        /// Why.
        reason: String,
    },
    /// Permanent failure.
    Failed(String),
}

/// JSON objects for ordered name/value lists (`{"subject": "...", "text": "..."}`).
mod fields_as_map {
    use super::{Fields, ParamValue};
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(fields: &Fields, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(fields.len()))?;
        for (k, v) in fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, ParamValue>()? {
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            name: "sms".into(),
            version: "1.2.0".into(),
            contract: CONTRACT_VERSION.into(),
            kind: ChannelKind::Sms,
            description: String::new(),
            params: vec![ParamSpec {
                name: "short_link".into(),
                ty: ParamType::Text,
                required: false,
                docs: String::new(),
            }],
            open_params: false,
            parts: vec![],
            config: vec![ConfigSpec {
                name: "endpoint".into(),
                required: true,
                secret: false,
                docs: String::new(),
            }],
            hosts: vec!["{endpoint}".into(), "*.sms.example".into()],
            rate_limit: Some(RateLimit {
                per_second: 10,
                burst: 5,
            }),
        }
    }

    #[test]
    fn sound_manifest_round_trips_through_json() {
        let m = manifest();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(Manifest::from_json(&m.to_json()), Ok(m));
    }

    #[test]
    fn problems_are_named() {
        let mut m = manifest();
        m.name = "SMS!".into();
        m.contract = "2.0.0".into();
        m.hosts.push("https://x.example/path".into());
        m.hosts.push("{nope}".into());
        m.params.push(m.params[0].clone());
        let text: Vec<String> = m.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(text.len(), 5, "{text:?}");
        assert!(text[0].contains("plugin name"));
        assert!(
            text.iter()
                .any(|t| t.contains("contract version \"2.0.0\""))
        );
        assert!(text.iter().any(|t| t.contains("declared twice")));
        assert!(text.iter().any(|t| t.contains("`nope`")));
    }

    #[test]
    fn plugin_names() {
        assert!(is_plugin_name("acme-sms_2"));
        assert!(!is_plugin_name("Acme"));
        assert!(!is_plugin_name(""));
        assert!(!is_plugin_name("a/b"));
        assert!(!is_plugin_name(&"a".repeat(65)));
    }

    #[test]
    fn kind_names_are_the_serde_names() {
        for k in [
            ChannelKind::Email,
            ChannelKind::ContactCentre,
            ChannelKind::Other,
        ] {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(serde_json::Value::from(k.name()))
            );
        }
    }

    #[test]
    fn contract_versions() {
        assert!(contract_compatible("1.0.0"));
        assert!(contract_compatible("1.0.7"));
        assert!(contract_compatible("1.1.0"));
        assert!(contract_compatible("1.1.4"));
        assert!(contract_compatible("1.2.0"));
        assert!(!contract_compatible("1.3.0"));
        assert!(!contract_compatible("0.9.0"));
        assert!(!contract_compatible("2.0.0"));
        assert!(!contract_compatible("one"));
    }

    #[test]
    fn host_patterns() {
        assert!(host_allowed(
            "api.example.com",
            "API.example.com",
            Some(443)
        ));
        assert!(!host_allowed("api.example.com", "evil.com", None));
        assert!(host_allowed("*.example.com", "a.b.example.com", None));
        assert!(!host_allowed("*.example.com", "example.com", None));
        assert!(!host_allowed("*.example.com", "badexample.com", None));
        assert!(host_allowed("localhost:8080", "localhost", Some(8080)));
        assert!(!host_allowed("localhost:8080", "localhost", Some(8081)));
    }

    #[test]
    fn message_json_is_readable() {
        let text = r#"{
            "idempotency_key": "k1", "customer_id": "c1",
            "content": {"rendered": {"subject": "Hi", "text": "Hello"}},
            "recipient": {"email": "a@b.example"},
            "params": {"utm_campaign": "spring", "tags": ["a", "b"], "n": 2}
        }"#;
        let m: Message = serde_json::from_str(text).expect("parses");
        assert_eq!(m.attempt, 1);
        assert_eq!(m.part("subject"), Some("Hi"));
        assert_eq!(m.address("email"), Some("a@b.example"));
        assert_eq!(
            field(&m.params, "tags"),
            Some(&ParamValue::TextList(vec!["a".into(), "b".into()]))
        );
        assert_eq!(field(&m.params, "n"), Some(&ParamValue::Number(2.0)));
    }
}
