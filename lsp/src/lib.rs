//! `journey lsp`: the language server of the journey language.
//!
//! It calls the same [`journey_compiler::compile`] as the command line on every edit and
//! turns its plain data (diagnostics, the index of definitions and references, the syntax
//! tree) into LSP answers. Only this crate knows LSP types and JSON.
//!
//! - [`run_stdio`] serves standard input/output (`journey lsp [--stdio]`); [`serve`] serves
//!   any byte stream pair (tests use an in-memory duplex).
//! - [`server`]: the `LanguageServer` implementation, plumbing only.
//! - [`state`]: open documents overlaying the disk, project detection, compiling, the
//!   analyses handlers read, and the last analysis without syntax errors.
//! - [`handlers`]: one module per feature (diagnostics, hover, completion, definition,
//!   references, rename, symbols, formatting, semantic tokens, folding, code actions).
//! - [`line_index`]: the only place that converts byte offsets to UTF-16 LSP positions.
//! - [`lexer`]: a forgiving tokenizer for broken text (completion context, colouring,
//!   folding); [`syntax`]: walks over the syntax tree.
//! - [`vocabulary`]: the words of the language (keywords, built-ins) the editor offers.
//! - [`testing`]: temporary projects with cursor markers and an in-memory protocol client,
//!   for tests and benchmarks.

pub mod handlers;
pub mod lexer;
pub mod line_index;
pub mod server;
pub mod state;
pub mod syntax;
pub mod testing;
pub mod vocabulary;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

/// Serves the protocol on standard input and output until the client exits.
pub async fn run_stdio() {
    serve(tokio::io::stdin(), tokio::io::stdout()).await;
}

/// Serves the protocol on a pair of byte streams until the client exits or the input ends.
pub async fn serve<I, O>(input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (service, socket) = LspService::new(server::Backend::new);
    Server::new(input, output, socket).serve(service).await;
}
