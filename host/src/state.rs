//! What a plugin instance's store holds: its WASI context (no files, no sockets, no
//! environment), the `wasi:http` hooks that enforce the host allow-list, the channel being
//! served, and what the plugin logged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::bindings::journey::channel::host::{self, Level};

/// Bytes of a plugin's standard error kept to explain a trap (a Rust panic message).
const STDERR_CAPACITY: usize = 16 * 1024;

/// The channel a call serves: its resolved configuration and the hosts it may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSetup {
    /// The channel's name.
    pub channel: String,
    /// Non-secret configuration values (`config` import).
    pub config: BTreeMap<String, String>,
    /// Secret values (`secret` import).
    pub secrets: BTreeMap<String, String>,
    /// Allowed hosts (`api.example.com`, `*.example.com`, `localhost:8080`), with the
    /// manifest's `{key}` entries already resolved from the configuration.
    pub allowed_hosts: Vec<String>,
}

/// One line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Severity (`debug`, `info`, `warn`, `error`).
    pub level: &'static str,
    /// Text.
    pub message: String,
}

/// One HTTP request a plugin made, with what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    /// Method.
    pub method: String,
    /// The URL the plugin asked for.
    pub url: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Response status, or `None` when the request was refused or failed.
    pub status: Option<u16>,
    /// Why it was refused or failed.
    pub error: Option<String>,
}

/// Where a plugin's requests go: the network, or one local sink for every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The real destination.
    Network,
    /// Every allowed request is sent to this address instead (the original host is kept in
    /// the `Host` header and the URL path is unchanged).
    Sink(SocketAddr),
    /// No network: every allowed request is answered at once, in the host, with this status
    /// and a JSON body carrying an id (`{"id":"stub","sid":"stub","name":"stub"}`, with its
    /// `Content-Length`, as most providers send it); for benchmarks and dry runs.
    Stub(u16),
}

/// The body [`Transport::Stub`] answers with.
pub const STUB_BODY: &str = r#"{"id":"stub","sid":"stub","name":"stub"}"#;

/// The `wasi:http` hooks: allow-list, transport, recording, timeout.
pub(crate) struct HttpHooks {
    /// The channel being served; its `allowed_hosts` is the allow-list.
    pub(crate) setup: Arc<ChannelSetup>,
    pub(crate) transport: Transport,
    pub(crate) timeout: Duration,
    pub(crate) exchanges: Arc<Mutex<Vec<HttpExchange>>>,
}

fn header_list(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        let setup = self.setup.clone();
        let transport = self.transport;
        let timeout = self.timeout;
        let exchanges = self.exchanges.clone();
        Box::new(async move {
            use wasmtime_wasi_http::Error;
            let (mut parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let host = parts.uri.host().unwrap_or_default().to_string();
            let port = parts.uri.port_u16().or(match parts.uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            });
            let mut exchange = HttpExchange {
                method: parts.method.to_string(),
                url: url.clone(),
                headers: header_list(&parts.headers),
                body: Vec::new(),
                status: None,
                error: None,
            };
            let record = |e: HttpExchange| {
                if let Ok(mut list) = exchanges.lock() {
                    list.push(e);
                }
            };
            let allowed = &setup.allowed_hosts;
            let permitted = allowed
                .iter()
                .any(|p| journey_plugin_api::host_allowed(p, &host, port));
            if !permitted {
                exchange.error = Some(format!(
                    "refused: `{host}` is not among the hosts the plugin declared ({})",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ));
                record(exchange);
                return Err(Error::HttpRequestDenied);
            }
            let bytes: Bytes = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    exchange.error = Some(format!("reading the request body: {e}"));
                    record(exchange);
                    return Err(e);
                }
            };
            exchange.body = bytes.to_vec();
            if let Transport::Stub(status) = transport {
                exchange.status = Some(status);
                record(exchange);
                let resp = http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .header("content-length", STUB_BODY.len())
                    .body(
                        http_body_util::Full::new(Bytes::from_static(STUB_BODY.as_bytes()))
                            .map_err(|never| match never {})
                            .boxed_unsync(),
                    )
                    .map_err(|e| Error::InternalError(Some(e.to_string())))?;
                let io: Box<dyn Future<Output = Result<(), Error>> + Send> =
                    Box::new(async { Ok(()) });
                return Ok((resp, io));
            }
            if let Transport::Sink(addr) = transport {
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".to_string());
                match format!("http://{addr}{path}").parse::<http::Uri>() {
                    Ok(u) => parts.uri = u,
                    Err(_) => return Err(Error::HttpRequestUriInvalid),
                }
            }
            let req = http::Request::from_parts(
                parts,
                http_body_util::Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            );
            let mut options = options.unwrap_or_default();
            options.connect_timeout = Some(options.connect_timeout.unwrap_or(timeout).min(timeout));
            options.first_byte_timeout =
                Some(options.first_byte_timeout.unwrap_or(timeout).min(timeout));
            options.between_bytes_timeout = Some(
                options
                    .between_bytes_timeout
                    .unwrap_or(timeout)
                    .min(timeout),
            );
            let sent = tokio::time::timeout(
                timeout,
                wasmtime_wasi_http::default_send_request(req, Some(options)),
            )
            .await;
            match sent {
                Ok(Ok((resp, io))) => {
                    exchange.status = Some(resp.status().as_u16());
                    record(exchange);
                    Ok((
                        resp.map(BodyExt::boxed_unsync),
                        Box::new(io) as Box<dyn Future<Output = _> + Send>,
                    ))
                }
                Ok(Err(e)) => {
                    exchange.error = Some(format!("{e:?}"));
                    record(exchange);
                    Err(e)
                }
                Err(_) => {
                    exchange.error = Some(format!("no response within {} ms", timeout.as_millis()));
                    record(exchange);
                    Err(Error::ConnectionTimeout)
                }
            }
        })
    }
}

/// Caps an instance's linear memory and remembers that it said no, so that the trap which
/// follows (a Rust guest aborts when its allocator gets no memory) is reported as the cap.
pub(crate) struct MemoryCap {
    pub(crate) bytes: usize,
    pub(crate) refused: bool,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one plugin instance's store.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    pub(crate) hooks: HttpHooks,
    pub(crate) limits: MemoryCap,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) stderr: MemoryOutputPipe,
    /// Whether host imports may be used (not while the manifest is read).
    pub(crate) serving: bool,
}

impl State {
    pub(crate) fn new(limits: MemoryCap, transport: Transport, timeout: Duration) -> State {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: HttpHooks {
                setup: Arc::new(ChannelSetup::default()),
                transport,
                timeout,
                exchanges: Arc::new(Mutex::new(Vec::new())),
            },
            limits,
            logs: Vec::new(),
            stderr,
            serving: false,
        }
    }

    /// What the plugin wrote to standard error, trimmed (a panic message).
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl crate::bindings::journey::channel::types::Host for State {}

impl host::Host for State {
    fn log(&mut self, level: Level, message: String) {
        const MAX_LINES: usize = 1000;
        const MAX_LEN: usize = 4096;
        if self.logs.len() >= MAX_LINES {
            return;
        }
        let mut message = message;
        if message.len() > MAX_LEN {
            let mut cut = MAX_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.logs.push(LogLine { level, message });
    }

    fn config(&mut self, key: String) -> Option<String> {
        if !self.serving {
            return None;
        }
        self.hooks.setup.config.get(&key).cloned()
    }

    fn secret(&mut self, key: String) -> Option<String> {
        if !self.serving {
            return None;
        }
        self.hooks.setup.secrets.get(&key).cloned()
    }

    fn hmac_sha256(&mut self, key: String, data: Vec<u8>) -> Option<Vec<u8>> {
        if !self.serving {
            return None;
        }
        let secret = self.hooks.setup.secrets.get(&key)?;
        journey_plugin_api::hmac_sha256(secret, &data).map(|mac| mac.to_vec())
    }
}
