//! Syntax errors: pest's "expected rules" translated into human words.

use pest::error::{ErrorVariant, InputLocation};

use crate::Rule;
use crate::ast::Span;
use crate::words::{keyword, rule_words};

/// A syntax error with its location, message and an optional fix hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub span: Span,
    /// The headline ("unexpected `sned`").
    pub message: String,
    /// What the parser would have accepted there, in words.
    pub expected: String,
    /// A fix hint, when one is known.
    pub help: Option<String>,
}

impl SyntaxError {
    /// Translates a pest error on `text` (a slice starting at byte `base` of the file).
    pub(crate) fn from_pest(err: &pest::error::Error<Rule>, text: &str, base: usize) -> SyntaxError {
        let pos = match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
        let pos = pos.min(text.len());
        let found = found_at(text, pos);
        let span = Span::new(base + pos, base + pos + found.len());
        let (positives, negatives): (&[Rule], &[Rule]) = match &err.variant {
            ErrorVariant::ParsingError { positives, negatives } => (positives, negatives),
            ErrorVariant::CustomError { .. } => (&[], &[]),
        };
        let mut words: Vec<String> = Vec::new();
        for rule in positives {
            let w = match keyword(*rule) {
                Some(k) => format!("`{k}`"),
                None => rule_words(*rule).to_string(),
            };
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let expected = match words.len() {
            0 => "something else".to_string(),
            1 => words[0].clone(),
            n if n > 8 => format!("{}, or {} other things", words[..6].join(", "), n - 6),
            n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
        };
        let message = if found.is_empty() {
            "unexpected end of file".to_string()
        } else if negatives.contains(&Rule::reserved) || is_reserved(&found) {
            format!("`{found}` is a reserved word and cannot be used as a name here")
        } else {
            format!("unexpected `{}`", found.escape_debug())
        };
        let help = suggest_keyword(&found, positives)
            .map(|k| format!("did you mean `{k}`?"))
            .or_else(|| hint(&found, positives));
        SyntaxError { span, message, expected, help }
    }

    /// An error for a pair the lowering did not expect (a grammar/lowering mismatch).
    pub(crate) fn unexpected_shape(span: Span, expected: &str) -> SyntaxError {
        SyntaxError {
            span,
            message: "this could not be read".to_string(),
            expected: expected.to_string(),
            help: None,
        }
    }
}

/// The token at `pos`: a word, or one character, or empty at end of input.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let mut chars = rest.chars();
    match chars.next() {
        None => String::new(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
        }
        Some(c) => c.to_string(),
    }
}

fn is_reserved(word: &str) -> bool {
    crate::JourneyParser::parse_reserved(word)
}

/// A keyword among the expected ones that `found` is probably a typo of.
fn suggest_keyword(found: &str, positives: &[Rule]) -> Option<&'static str> {
    if found.len() < 2 {
        return None;
    }
    positives
        .iter()
        .filter_map(|r| keyword(*r))
        .map(|k| (k, strsim::damerau_levenshtein(found, k)))
        .filter(|(k, d)| *d > 0 && *d <= 2 && *d < k.len())
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k)
}

/// Hints for frequent mistakes.
fn hint(found: &str, positives: &[Rule]) -> Option<String> {
    let wants = |r: Rule| positives.contains(&r);
    if (wants(Rule::duration) || wants(Rule::time_unit)) && found.chars().all(|c| c.is_ascii_digit()) {
        return Some("write a unit after the number, such as `7 days` or `12 hours`".into());
    }
    if found == "=" && wants(Rule::op_eq) {
        return Some("compare with `==`".into());
    }
    if found == "&" || found == "|" {
        return Some("write `and` / `or`".into());
    }
    if found == "'" {
        return Some("strings use double quotes: \"...\"".into());
    }
    None
}

impl crate::JourneyParser {
    fn parse_reserved(word: &str) -> bool {
        use pest::Parser;
        matches!(crate::JourneyParser::parse(Rule::reserved, word), Ok(p) if p.as_str().len() == word.len())
    }
}
