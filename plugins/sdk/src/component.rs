//! The [`Host`] of a plugin running as a component: `journey:channel/host` for logs,
//! configuration and secrets, `wasi:http/outgoing-handler` for HTTP.

use crate::bindings::journey::channel::host as imports;
use crate::net::{HttpError, HttpErrorKind, HttpRequest, HttpResponse, Target};
use crate::{Host, Level};

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, HeaderError, IncomingBody, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, Scheme,
};
use wasi::io::streams::StreamError;

/// The largest body [`blocking_write_and_flush`] accepts in one call.
///
/// [`blocking_write_and_flush`]: wasi::io::streams::OutputStream::blocking_write_and_flush
const WRITE_CHUNK: usize = 4096;
/// How much of a response body to ask for per read.
const READ_CHUNK: u64 = 64 * 1024;
/// Responses larger than this are abandoned (a connector reads ids and error texts, not
/// downloads), so a hostile server cannot fill the plugin's memory.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

thread_local! {
    /// The answers of `host.config` and `host.secret` kept for the current channel set-up.
    static SETUP: std::cell::RefCell<crate::setup::SetupCache> =
        std::cell::RefCell::new(crate::setup::SetupCache::default());
}

/// A call into the component begins, for the channel set-up `setup` when the host names it
/// (packed calls, contract 1.2): configuration and secrets read during the call are kept
/// for the next calls of the same set-up.
pub(crate) fn begin_call(setup: Option<u64>) {
    SETUP.with_borrow_mut(|c| c.begin(setup));
}

/// The host as a component sees it. Constructed by [`export_connector!`](crate::export_connector).
#[derive(Debug, Clone, Copy, Default)]
pub struct ComponentHost;

impl Host for ComponentHost {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => imports::Level::Debug,
            Level::Info => imports::Level::Info,
            Level::Warn => imports::Level::Warn,
            Level::Error => imports::Level::Error,
        };
        imports::log(level, message);
    }

    fn config(&self, key: &str) -> Option<String> {
        SETUP.with_borrow_mut(|c| c.config(key, imports::config))
    }

    fn secret(&self, key: &str) -> Option<String> {
        SETUP.with_borrow_mut(|c| c.secret(key, imports::secret))
    }

    fn hmac_sha256(&self, key: &str, data: &[u8]) -> Option<[u8; 32]> {
        imports::hmac_sha256(key, data).and_then(|mac| mac.try_into().ok())
    }

    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        send(request)
    }
}

fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let target = request.target()?;
    exchange(request, &target).map_err(|mut e| {
        e.message = format!("{} {}: {}", request.method, target.authority, e.message);
        e
    })
}

fn exchange(request: &HttpRequest, target: &Target) -> Result<HttpResponse, HttpError> {
    let mut entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    if !request.body.is_empty() && request.header_value("Content-Length").is_none() {
        entries.push((
            "Content-Length".to_string(),
            request.body.len().to_string().into_bytes(),
        ));
    }
    let headers = Fields::from_list(&entries).map_err(header_error)?;
    let outgoing = OutgoingRequest::new(headers);
    let internal = |what: &str| HttpError::new(HttpErrorKind::Transport, what.to_string());
    outgoing
        .set_method(&method(&request.method))
        .map_err(|()| {
            HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("method {:?} refused", request.method),
            )
        })?;
    let scheme = if target.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| internal("scheme refused"))?;
    outgoing
        .set_authority(Some(&target.authority))
        .map_err(|()| {
            HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("authority {:?} refused", target.authority),
            )
        })?;
    outgoing
        .set_path_with_query(Some(&target.path_and_query))
        .map_err(|()| {
            HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("path {:?} refused", target.path_and_query),
            )
        })?;
    let body = outgoing
        .body()
        .map_err(|()| internal("request body already taken"))?;

    // No request options: the journey host applies its own timeouts to every request
    // (`HostConfig::http_timeout`) and would only ever lower them to it; setting them took
    // five host calls per request.
    let future = outgoing_handler::handle(outgoing, None).map_err(error_code)?;

    // The body is written after `handle`, so the host is already sending it while we write
    // (a large body could otherwise fill the pipe and block forever).
    let write_error = write_body(&body, &request.body);
    let finish_error = OutgoingBody::finish(body, None).err();

    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(error_code(code)),
        Some(Err(())) => return Err(internal("response already taken")),
        None => return Err(internal("response not ready after waiting for it")),
    };
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Some(code) = finish_error {
        return Err(error_code(code));
    }
    read_response(response)
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Option<HttpError> {
    let stream = match body.write() {
        Ok(s) => s,
        Err(()) => {
            return Some(HttpError::new(
                HttpErrorKind::Transport,
                "request body stream already taken",
            ));
        }
    };
    for chunk in bytes.chunks(WRITE_CHUNK) {
        if let Err(e) = stream.blocking_write_and_flush(chunk) {
            return Some(stream_error(e, "writing the request body"));
        }
    }
    None
}

fn read_response(response: IncomingResponse) -> Result<HttpResponse, HttpError> {
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let declared = crate::net::declared_length(&headers);
    let incoming = response
        .consume()
        .map_err(|()| HttpError::new(HttpErrorKind::Transport, "response body already taken"))?;
    let body = read_body(&incoming, declared);
    // Dropped, not finished: `finish` hands back a future of the trailers, which connectors
    // have no use for, and costs two more host calls.
    drop(incoming);
    drop(response);
    Ok(HttpResponse {
        status,
        headers,
        body: body?,
    })
}

/// Reads the body to its end, or to its declared length: a body that has all the bytes its
/// `Content-Length` announced is complete, and the read that would only learn that the
/// stream is closed is skipped (one host call per request). A body that ends earlier ends
/// the read as before.
fn read_body(incoming: &IncomingBody, declared: Option<usize>) -> Result<Vec<u8>, HttpError> {
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::new(HttpErrorKind::Transport, "response stream already taken"))?;
    // Room for what a short answer declares, not for whatever a server claims it will send.
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(READ_CHUNK as usize));
    loop {
        if declared == Some(body.len()) {
            return Ok(body);
        }
        match stream.blocking_read(READ_CHUNK) {
            Ok(bytes) => {
                body.extend_from_slice(&bytes);
                if body.len() > MAX_RESPONSE_BODY {
                    return Err(HttpError::new(
                        HttpErrorKind::Transport,
                        format!("response body larger than {MAX_RESPONSE_BODY} bytes"),
                    ));
                }
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(stream_error(e, "reading the response body")),
        }
    }
}

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_string()),
    }
}

fn header_error(e: HeaderError) -> HttpError {
    match e {
        HeaderError::Forbidden => HttpError::new(
            HttpErrorKind::Denied,
            "a header the host does not let plugins set (Host, Connection, Transfer-Encoding...)",
        ),
        HeaderError::InvalidSyntax => HttpError::new(
            HttpErrorKind::Denied,
            "a header name or value is not valid HTTP",
        ),
        HeaderError::Immutable => {
            HttpError::new(HttpErrorKind::Transport, "request headers are immutable")
        }
    }
}

fn stream_error(e: StreamError, doing: &str) -> HttpError {
    match e {
        StreamError::Closed => HttpError::new(
            HttpErrorKind::Transport,
            format!("connection closed while {doing}"),
        ),
        StreamError::LastOperationFailed(err) => match wasi::http::types::http_error_code(&err) {
            Some(code) => {
                let mut e = error_code(code);
                e.message = format!("{doing}: {}", e.message);
                e
            }
            None => HttpError::new(
                HttpErrorKind::Transport,
                format!("{doing}: {}", err.to_debug_string()),
            ),
        },
    }
}

/// The error the host reported, classified.
fn error_code(code: ErrorCode) -> HttpError {
    let kind = match code {
        ErrorCode::HttpRequestDenied => HttpErrorKind::Denied,
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestMethodInvalid => {
            HttpErrorKind::InvalidUrl
        }
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpErrorKind::Timeout,
        _ => HttpErrorKind::Transport,
    };
    let what = match code {
        ErrorCode::HttpRequestDenied => "not among the hosts the plugin declared".to_string(),
        other => format!("{other:?}"),
    };
    HttpError::new(kind, what)
}
