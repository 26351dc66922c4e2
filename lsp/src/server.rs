//! The `LanguageServer` implementation: protocol plumbing only. Each method locks the
//! [`State`] briefly (notifications update it and compile; requests take a snapshot), then
//! delegates to a handler in [`crate::handlers`] outside the lock.
//!
//! Robustness: a handler that panics answers with an internal error instead of taking the
//! server down, and a poisoned lock is recovered; diagnostics are published in the order the
//! edits arrived, through one queue drained by one task.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::handlers;
use crate::state::{DocSnapshot, Publish, State};

/// The journey language server.
#[derive(Debug)]
pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    publish: mpsc::UnboundedSender<Publish>,
    watch_files: Mutex<bool>,
}

/// Writes a line to the server's log (standard error; never standard output, which carries
/// the protocol).
pub fn log(message: &str) {
    eprintln!("journey-lsp: {message}");
}

/// Runs `f`, turning a panic into an internal error naming `what`.
fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        log(&format!("internal error in {what}"));
        Error {
            code: ErrorCode::InternalError,
            message: format!("internal error in {what}").into(),
            data: None,
        }
    })
}

impl Backend {
    /// A server talking to `client`. Must be called inside a tokio runtime (the publishing
    /// task is spawned here).
    pub fn new(client: Client) -> Backend {
        let (publish, mut rx) = mpsc::unbounded_channel::<Publish>();
        let out = client.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    while let Some(p) = rx.recv().await {
                        out.publish_diagnostics(p.uri, p.diagnostics, p.version)
                            .await;
                    }
                });
            }
            Err(_) => log("no async runtime: diagnostics will not be published"),
        }
        Backend {
            client,
            state: Arc::new(Mutex::new(State::new())),
            publish,
            watch_files: Mutex::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a change to the state and queues its diagnostics, under the lock so the queue
    /// keeps the order of the edits.
    fn update(&self, what: &str, f: impl FnOnce(&mut State) -> Vec<Publish>) {
        let mut state = self.state();
        match guard(what, || f(&mut state)) {
            Ok(publishes) => {
                for p in publishes {
                    let _ = self.publish.send(p);
                }
            }
            Err(_) => log(&format!("{what} failed; the document state may be stale")),
        }
    }

    fn snapshot(&self, uri: &Uri) -> Option<DocSnapshot> {
        self.state().snapshot(uri)
    }

    /// Runs a request handler on the snapshot of a document (`None` when it is not open).
    fn on_doc<T>(
        &self,
        what: &str,
        uri: &Uri,
        f: impl FnOnce(&DocSnapshot) -> Option<T>,
    ) -> Result<Option<T>> {
        let Some(snap) = self.snapshot(uri) else {
            return Ok(None);
        };
        guard(what, || f(&snap))
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: handlers::semantic_tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                work_done_progress_options: WorkDoneProgressOptions::default(),
            },
        )),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        if let Some(url) = params
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("docsUrl"))
            .and_then(|v| v.as_str())
        {
            self.state().set_docs_url(url.to_string());
        }
        let dynamic_watch = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false);
        *self.watch_files.lock().unwrap_or_else(|e| e.into_inner()) = dynamic_watch;
        Ok(InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "journey-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        log("initialized");
        let watch = *self.watch_files.lock().unwrap_or_else(|e| e.into_inner());
        if !watch {
            return;
        }
        // Plugin manifests (`[plugins.NAME] manifest = "...json"`) change the checks too.
        let watchers = ["**/*.journey", "**/journey.toml", "**/*.json"]
            .into_iter()
            .map(|g| FileSystemWatcher {
                glob_pattern: GlobPattern::String(g.into()),
                kind: None,
            })
            .collect();
        let options = DidChangeWatchedFilesRegistrationOptions { watchers };
        let registration = Registration {
            id: "journey-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        if let Err(e) = self.client.register_capability(vec![registration]).await {
            log(&format!("could not watch files: {e}"));
        }
    }

    async fn shutdown(&self) -> Result<()> {
        log("shutdown");
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.update("didOpen", |s| s.open(doc.uri, doc.text, doc.version));
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let doc = params.text_document;
        self.update("didChange", |s| {
            s.change(&doc.uri, doc.version, params.content_changes)
        });
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        self.update("didSave", |s| {
            s.saved(&params.text_document.uri);
            Vec::new()
        });
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.update("didClose", |s| s.close(&params.text_document.uri));
    }

    async fn did_change_watched_files(&self, _: DidChangeWatchedFilesParams) {
        self.update("didChangeWatchedFiles", State::files_changed);
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        self.on_doc("hover", &p.text_document.uri, |s| {
            handlers::hover::hover(s, p.position)
        })
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        self.on_doc("completion", &p.text_document.uri, |s| {
            Some(CompletionResponse::Array(handlers::completion::completion(
                s, p.position,
            )))
        })
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        self.on_doc("definition", &p.text_document.uri, |s| {
            handlers::definition::definition(s, p.position).map(GotoDefinitionResponse::Scalar)
        })
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let decl = params.context.include_declaration;
        self.on_doc("references", &p.text_document.uri, |s| {
            Some(handlers::references::references(s, p.position, decl))
        })
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        self.on_doc("prepareRename", &params.text_document.uri, |s| {
            handlers::rename::prepare(s, params.position)
        })
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        let result = self.on_doc("rename", &p.text_document.uri, |s| {
            Some(handlers::rename::rename(s, p.position, &params.new_name))
        })?;
        match result {
            None => Ok(None),
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(message)) => Err(Error {
                code: ErrorCode::InvalidParams,
                message: message.into(),
                data: None,
            }),
        }
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        self.on_doc("documentSymbol", &params.text_document.uri, |s| {
            Some(DocumentSymbolResponse::Nested(
                handlers::symbols::document_symbols(s),
            ))
        })
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        let analyses = self.state().analyses();
        guard("workspace/symbol", || {
            Some(WorkspaceSymbolResponse::Nested(
                handlers::symbols::workspace_symbols(&analyses, &params.query, 500),
            ))
        })
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let result = self.on_doc("formatting", &params.text_document.uri, |s| {
            Some(handlers::formatting::format(s))
        })?;
        match result {
            None => Ok(None),
            Some(Ok(edits)) => Ok(Some(edits)),
            Some(Err(message)) => {
                log(&format!("not formatted: {message}"));
                Ok(None)
            }
        }
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        self.on_doc("semanticTokens", &params.text_document.uri, |s| {
            Some(SemanticTokensResult::Tokens(
                handlers::semantic_tokens::semantic_tokens(s),
            ))
        })
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.on_doc("foldingRange", &params.text_document.uri, |s| {
            Some(handlers::folding::folding_ranges(s))
        })
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let docs_url = self.state().docs_url().to_string();
        self.on_doc("codeAction", &params.text_document.uri, |s| {
            Some(handlers::code_action::code_actions(
                s,
                params.range,
                &docs_url,
            ))
        })
    }
}
