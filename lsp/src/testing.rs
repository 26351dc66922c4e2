//! Fixtures for tests and benchmarks: files written to a fresh temporary directory, opened
//! in a [`State`], with an optional cursor marker `$0` in one of them; and a minimal LSP
//! [`Client`] talking to a server over an in-memory stream.
//!
//! ```
//! use journey_lsp::testing::Fixture;
//! let fx = Fixture::new(&[("a.journey", "segment s = profile.a$0ge < 26\n")]);
//! let (snap, pos) = fx.cursor();
//! assert_eq!(pos.character, 21);
//! assert!(snap.text().contains("segment s"));
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, WriteHalf};
use tokio::sync::{Mutex, mpsc};

use tower_lsp_server::ls_types::{Position, Uri};

use crate::line_index::LineIndex;
use crate::state::{DocSnapshot, Publish, State};

/// The cursor marker in fixture texts.
pub const CURSOR: &str = "$0";

/// A temporary project: files on disk, all `.journey` files open in a [`State`].
#[derive(Debug)]
pub struct Fixture {
    /// The directory (removed when the fixture is dropped).
    pub dir: PathBuf,
    /// The server state with the files open.
    pub state: State,
    /// The URI of each file, by relative path.
    pub uris: HashMap<String, Uri>,
    /// Where the cursor marker was: the file and the position.
    pub marker: Option<(Uri, Position)>,
    /// What opening the files published, in order.
    pub published: Vec<Publish>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("journey-lsp-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The URI of an absolute path.
pub fn uri_of(path: &Path) -> Uri {
    Uri::from_file_path(path).expect("fixture paths are absolute")
}

impl Fixture {
    /// Writes the files (the marker `$0`, if any, is removed and remembered) and opens every
    /// `.journey` file. A `journey.toml` among them makes a project.
    pub fn new(files: &[(&str, &str)]) -> Fixture {
        Fixture::with_open(files, |p| p.ends_with(".journey"))
    }

    /// Like [`Fixture::new`], opening only the files `open` selects.
    pub fn with_open(files: &[(&str, &str)], open: impl Fn(&str) -> bool) -> Fixture {
        let dir = temp_dir("fx");
        let mut state = State::new();
        let mut uris = HashMap::new();
        let mut marker = None;
        let mut texts = Vec::new();
        for (path, text) in files {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let clean = match text.find(CURSOR) {
                Some(at) => {
                    let clean = text.replacen(CURSOR, "", 1);
                    let lines = LineIndex::new(clean.as_str().into());
                    marker = Some((uri_of(&full), lines.position(at as u32)));
                    clean
                }
                None => text.to_string(),
            };
            let _ = std::fs::write(&full, &clean);
            uris.insert(path.to_string(), uri_of(&full));
            texts.push((path.to_string(), clean));
        }
        let mut published = Vec::new();
        for (path, text) in texts {
            if open(&path) {
                let uri = uris[&path].clone();
                published.extend(state.open(uri, text, 1));
            }
        }
        Fixture {
            dir,
            state,
            uris,
            marker,
            published,
        }
    }

    /// The URI of a file of the fixture.
    pub fn uri(&self, path: &str) -> Uri {
        self.uris
            .get(path)
            .cloned()
            .unwrap_or_else(|| uri_of(&self.dir.join(path)))
    }

    /// The snapshot of a file.
    pub fn snapshot(&self, path: &str) -> Option<DocSnapshot> {
        self.state.snapshot(&self.uri(path))
    }

    /// The snapshot of the file with the marker, and the marker's position. Panics without a
    /// marker (a fixture mistake).
    pub fn cursor(&self) -> (DocSnapshot, Position) {
        let Some((uri, pos)) = self.marker.clone() else {
            panic!("the fixture has no `$0` marker")
        };
        let Some(snap) = self.state.snapshot(&uri) else {
            panic!("the file with the marker is not open")
        };
        (snap, pos)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minimal LSP client: writes framed messages, reads them on a task, answers the server's
/// own requests (`client/registerCapability`) with `null`.
pub struct Client {
    writer: Arc<Mutex<WriteHalf<DuplexStream>>>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Notifications received and not yet consumed.
    pub notifications: Vec<Value>,
    next_id: i64,
    server: tokio::task::JoinHandle<()>,
}

async fn write_message(writer: &Mutex<WriteHalf<DuplexStream>>, msg: &Value) {
    let body = msg.to_string();
    let mut w = writer.lock().await;
    w.write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await
        .expect("write");
    w.flush().await.expect("flush");
}

impl Client {
    /// Starts a server on an in-memory duplex stream and a client talking to it. Must be
    /// called inside a tokio runtime.
    pub fn start() -> Client {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_io);
        let server = tokio::spawn(crate::serve(server_read, server_write));
        let (read, write_half) = tokio::io::split(client_io);
        let writer = Arc::new(Mutex::new(write_half));
        let (tx, incoming) = mpsc::unbounded_channel();
        let answer = writer.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(read);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().expect("length");
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                let msg: Value = serde_json::from_slice(&body).expect("json");
                if msg.get("method").is_some() && msg.get("id").is_some() {
                    let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": null});
                    write_message(&answer, &reply).await;
                    continue;
                }
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        Client {
            writer,
            incoming,
            notifications: Vec::new(),
            next_id: 1,
            server,
        }
    }

    /// The next message from the server (panics after 20 s of silence).
    pub async fn recv(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(20), self.incoming.recv())
            .await
            .expect("a message within 20 s")
            .expect("the server is still talking")
    }

    /// Sends a request and returns the whole response (`result` or `error`); notifications
    /// that arrive meanwhile are kept.
    pub async fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        write_message(
            &self.writer,
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await;
        loop {
            let msg = self.recv().await;
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
            self.notifications.push(msg);
        }
    }

    /// Sends a request and returns its result (panics on an error response).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params).await;
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) {
        write_message(
            &self.writer,
            &json!({"jsonrpc": "2.0", "method": method, "params": params}),
        )
        .await;
    }

    /// The next diagnostics published for `uri` that satisfy `pred`.
    pub async fn diagnostics(&mut self, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        loop {
            let pos = self.notifications.iter().position(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri
            });
            if let Some(p) = pos {
                let n = self.notifications.remove(p);
                let diags = n["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if pred(&diags) {
                    return diags;
                }
                continue;
            }
            let msg = self.recv().await;
            self.notifications.push(msg);
        }
    }

    /// The initialize handshake, as a client that can watch files; returns the result.
    pub async fn initialize(&mut self) -> Value {
        let result = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": null,
                    "capabilities": {
                        "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}
                    }
                }),
            )
            .await;
        self.notify("initialized", json!({})).await;
        result
    }

    /// Opens a document (version 1).
    pub async fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "journey", "version": 1, "text": text}}),
        )
        .await;
    }

    /// `shutdown` then `exit`; waits for the server to stop.
    pub async fn shutdown(mut self) {
        self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .expect("the server stops after `exit`")
            .expect("the server task ends cleanly");
    }
}
