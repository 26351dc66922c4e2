//! A local HTTP server that records every request and answers as told: the far end of
//! plugin tests, `journey plugin test` and `journey simulate --plugins`.
//!
//! By default it answers `200` with a JSON body carrying an id under the field names common
//! provider APIs use (`id`, `sid`, `name`), so every connector reads an accepted id from it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A request the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (names lower-case), in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Reply {
    /// `200` with a JSON id for request number `n`.
    pub fn accepted(n: usize) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!(
                r#"{{"id":"sink-{n}","sid":"SM{n:08}","name":"projects/sink/messages/{n}"}}"#
            ),
        }
    }

    /// A status with a text body.
    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Responder = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

/// The running server; stops when dropped.
pub struct Sink {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// Starts a sink on a free port of 127.0.0.1 that accepts everything.
    pub fn start() -> std::io::Result<Sink> {
        Sink::with(|n, _| Reply::accepted(n))
    }

    /// Starts a sink that answers request number `n` (from 1) with `respond(n, request)`.
    pub fn with(
        respond: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Sink> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the sink has no IP address"))?;
        let server = Arc::new(server);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let thread = {
            let server = server.clone();
            let requests = requests.clone();
            std::thread::Builder::new()
                .name("journey-sink".into())
                .spawn(move || serve(&server, &requests, &*respond))?
        };
        Ok(Sink {
            addr,
            server,
            requests,
            thread: Some(thread),
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn serve(server: &tiny_http::Server, requests: &Mutex<Vec<Recorded>>, respond: &Responder) {
    for mut req in server.incoming_requests() {
        let mut body = Vec::new();
        let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
        let recorded = Recorded {
            method: req.method().as_str().to_string(),
            path: req.url().to_string(),
            headers: req
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
            body,
        };
        let n = match requests.lock() {
            Ok(mut list) => {
                list.push(recorded.clone());
                list.len()
            }
            Err(_) => 0,
        };
        let reply = respond(n, &recorded);
        let mut response =
            tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
        for (k, v) in reply.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                response.add_header(h);
            }
        }
        let _ = req.respond(response);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
