//! Outgoing HTTP as plain data: the request a connector builds, the response it reads, and
//! the ways a call can fail. The [`Host`](crate::Host) carries requests out (`wasi:http` in
//! a component, canned answers in [`StubHost`](crate::testing::StubHost)).

use std::fmt;

/// An HTTP request a connector asks the host to make.
///
/// Built with [`HttpRequest::post`] (or [`HttpRequest::new`]) and the builder methods;
/// the fields stay public so tests can compare what a connector built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, upper case (`POST`).
    pub method: String,
    /// The absolute URL (`https://api.example.com/v1/send?x=1`).
    pub url: String,
    /// Header names and values, in the order they were added.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

/// The parts of a request URL the host needs: scheme, authority and path with query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// `host` or `host:port`.
    pub authority: String,
    /// The host name alone.
    pub host: String,
    /// The port, when the URL names one.
    pub port: Option<u16>,
    /// The path and query (`/v1/send?x=1`); `/` when the URL has none.
    pub path_and_query: String,
}

impl HttpRequest {
    /// A request with `method` (upper-cased) to `url`, without headers or body.
    pub fn new(method: &str, url: impl Into<String>) -> HttpRequest {
        HttpRequest {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> HttpRequest {
        HttpRequest::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> HttpRequest {
        HttpRequest::new("POST", url)
    }

    /// Adds a header (after any of the same name).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets a header, replacing every header of the same name (case-insensitive).
    pub fn set_header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> HttpRequest {
        self.set_header("Authorization", format!("Bearer {token}"))
    }

    /// Sets the body to `value` as JSON and `Content-Type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> HttpRequest {
        self.body(value.to_string().into_bytes(), "application/json")
    }

    /// Sets the body to the form-encoded `pairs` and
    /// `Content-Type: application/x-www-form-urlencoded`.
    pub fn form(self, pairs: &[(&str, &str)]) -> HttpRequest {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.body(body.into_bytes(), "application/x-www-form-urlencoded")
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, body: Vec<u8>, content_type: &str) -> HttpRequest {
        self.body = body;
        self.set_header("Content-Type", content_type)
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn body_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The form-encoded body as name/value pairs.
    pub fn body_form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// Splits the URL into what the host needs, with [`http::Uri`]. Only absolute `http`
    /// and `https` URLs with a host are accepted.
    pub fn target(&self) -> Result<Target, HttpError> {
        let invalid =
            |why: &str| HttpError::new(HttpErrorKind::InvalidUrl, format!("{:?}: {why}", self.url));
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                s.to_ascii_lowercase()
            }
            Some(s) => return Err(invalid(&format!("scheme `{s}` is not http or https"))),
            None => return Err(invalid("not an absolute URL (no scheme)")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        if authority.host().is_empty() {
            return Err(invalid("no host"));
        }
        Ok(Target {
            scheme,
            authority: authority.as_str().to_string(),
            host: authority.host().to_string(),
            port: authority.port_u16(),
            path_and_query: uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_string(),
        })
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with `status` and `value` as its JSON body.
    pub fn with_json(status: u16, value: &serde_json::Value) -> HttpResponse {
        HttpResponse::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(value.to_string())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpResponse {
        self.body = body.into();
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A top-level field of a JSON object body, as text: strings as they are, numbers
    /// written out; `None` if the body is not a JSON object, the field is missing, or it is
    /// an empty string. Connectors read the provider's message id with it.
    pub fn json_field(&self, name: &str) -> Option<String> {
        match self.json().ok()?.get(name)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// The body length response headers declare (`Content-Length`), when it is a plain number.
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn declared_length(headers: &[(String, String)]) -> Option<usize> {
    find_header(headers, "content-length")?.trim().parse().ok()
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why an HTTP call produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpErrorKind {
    /// The host refused the request: its host is not in the manifest's `hosts`, or a
    /// header is one the host does not let plugins set.
    Denied,
    /// The connection failed or broke (DNS, TLS, reset, malformed response).
    Transport,
    /// No connection or no response in time.
    Timeout,
    /// The URL is not an absolute `http`/`https` URL.
    InvalidUrl,
}

/// A failed HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// What went wrong.
    pub kind: HttpErrorKind,
    /// Details, for logs.
    pub message: String,
}

impl HttpError {
    /// An error of `kind`.
    pub fn new(kind: HttpErrorKind, message: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            HttpErrorKind::Denied => "request denied by the host",
            HttpErrorKind::Transport => "transport error",
            HttpErrorKind::Timeout => "timed out",
            HttpErrorKind::InvalidUrl => "invalid URL",
        };
        write!(f, "{what}: {}", self.message)
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builders_set_headers_and_bodies() {
        let r = HttpRequest::post("https://api.example.com/v1")
            .header("X-A", "1")
            .bearer("tok")
            .json(&json!({"a": 1}));
        assert_eq!(r.method, "POST");
        assert_eq!(r.header_value("authorization"), Some("Bearer tok"));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(r.body_text(), r#"{"a":1}"#);
        // Setting the body again replaces the content type instead of adding one.
        let r = r.form(&[("To", "+33 6"), ("Body", "a&b=é")]);
        assert_eq!(
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .count(),
            1
        );
        assert_eq!(r.body_text(), "To=%2B33+6&Body=a%26b%3D%C3%A9");
        assert_eq!(
            r.body_form(),
            vec![
                ("To".to_string(), "+33 6".to_string()),
                ("Body".to_string(), "a&b=é".to_string())
            ]
        );
    }

    #[test]
    fn targets_are_parsed_with_uri() {
        let t = HttpRequest::get("https://API.example.com:8443/v1/x?y=1")
            .target()
            .expect("valid");
        assert_eq!(t.scheme, "https");
        assert_eq!(t.authority, "API.example.com:8443");
        assert_eq!(t.host, "API.example.com");
        assert_eq!(t.port, Some(8443));
        assert_eq!(t.path_and_query, "/v1/x?y=1");
        let t = HttpRequest::get("http://localhost")
            .target()
            .expect("valid");
        assert_eq!(t.path_and_query, "/");
        assert_eq!(t.port, None);
        for bad in [
            "ftp://example.com/",
            "/relative",
            "example.com",
            "https://user:pw@example.com/",
            "",
            "http://exa mple.com/",
        ] {
            let err = HttpRequest::get(bad).target().expect_err(bad);
            assert_eq!(err.kind, HttpErrorKind::InvalidUrl, "{bad}");
        }
    }

    #[test]
    fn responses_read_headers_json_and_ids() {
        let r = HttpResponse::with_json(201, &json!({"id": "m-1", "n": 7, "e": ""}))
            .with_header("Retry-After", "3");
        assert!(r.is_success());
        assert_eq!(r.header("retry-after"), Some("3"));
        assert_eq!(r.json_field("id").as_deref(), Some("m-1"));
        assert_eq!(r.json_field("n").as_deref(), Some("7"));
        assert_eq!(r.json_field("e"), None);
        assert_eq!(r.json_field("missing"), None);
        assert_eq!(
            HttpResponse::new(200).with_body("nope").json_field("id"),
            None
        );
        assert_eq!(
            HttpResponse::new(500).with_body(vec![0xff]).text(),
            "\u{fffd}"
        );
    }

    #[test]
    fn a_declared_length_is_read_when_it_is_a_number() {
        let headers = |v: &str| vec![("Content-Length".to_string(), v.to_string())];
        assert_eq!(declared_length(&headers("42")), Some(42));
        assert_eq!(declared_length(&headers(" 0 ")), Some(0));
        assert_eq!(declared_length(&headers("4x")), None);
        assert_eq!(declared_length(&headers("-1")), None);
        assert_eq!(
            declared_length(&[("content-length".to_string(), "7".to_string())]),
            Some(7)
        );
        assert_eq!(
            declared_length(&[("Content-Type".to_string(), "7".to_string())]),
            None
        );
    }

    #[test]
    fn errors_display_their_kind() {
        let e = HttpError::new(HttpErrorKind::Denied, "evil.example is not declared");
        assert_eq!(
            e.to_string(),
            "request denied by the host: evil.example is not declared"
        );
    }
}
