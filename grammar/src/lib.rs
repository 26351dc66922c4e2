//! The surface syntax of the journey language.
//!
//! - [`parse`]: text in, a [`ast::File`] and every syntax error out. Parsing never fails:
//!   a broken declaration is reported and skipped, the others are kept. [`Reparser`] gives
//!   the same result for successive versions of a file, parsing only what changed.
//! - [`ast`]: the typed syntax tree with byte spans.
//! - [`SyntaxError`]: what went wrong, in human words, where.
//! - [`format()`]: the canonical layout of a file, comments kept (`journey fmt`).
//!
//! The grammar itself is `src/journey.pest` (pest).

pub mod ast;
pub mod format;
mod lower;
mod recover;
mod shift;
mod syntax_error;
mod words;

pub use format::{FormatError, format};
pub use recover::{Reparser, parse};
pub use syntax_error::SyntaxError;
pub use words::{keyword, rule_words};

mod parser {
    #![allow(missing_docs)]
    /// The pest parser generated from `journey.pest`; [`Rule`] names its rules.
    #[derive(pest_derive::Parser)]
    #[grammar = "journey.pest"]
    pub struct JourneyParser;
}
pub use parser::{JourneyParser, Rule};

/// The result of parsing one file.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The declarations that parsed.
    pub file: ast::File,
    /// Every syntax error, in source order.
    pub errors: Vec<SyntaxError>,
}
