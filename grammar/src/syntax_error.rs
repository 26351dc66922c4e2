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
    ///
    /// `ends_file` tells whether `text` runs to the end of the file; when it does not (a chunk
    /// cut before the next declaration), reaching its end means the declaration is incomplete.
    pub(crate) fn from_pest(
        err: &pest::error::Error<Rule>,
        text: &str,
        base: usize,
        ends_file: bool,
    ) -> SyntaxError {
        let pos = match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
        let mut pos = pos.min(text.len());
        if text[pos..].trim().is_empty() {
            // Point just after the last token rather than at the white space or the next line.
            pos = text[..pos].trim_end().len();
        }
        let found = found_at(text, pos);
        let incomplete = text[pos..].trim().is_empty();
        let span = if found.is_empty() || incomplete {
            Span::new(base + pos, base + pos)
        } else {
            Span::new(base + pos, base + pos + found.len())
        };
        let (positives, negatives): (&[Rule], &[Rule]) = match &err.variant {
            ErrorVariant::ParsingError {
                positives,
                negatives,
            } => (positives, negatives),
            ErrorVariant::CustomError { .. } => (&[], &[]),
        };
        let mut words: Vec<String> = Vec::new();
        for rule in positives {
            let w = match (keyword(*rule), *rule) {
                (Some(k), _) => format!("`{k}`"),
                (None, Rule::EOI) if !ends_file => "the end of the declaration".to_string(),
                (None, r) => rule_words(r).to_string(),
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
        let message = if incomplete {
            if ends_file {
                "the file ends too early".to_string()
            } else {
                "this declaration is incomplete".to_string()
            }
        } else if negatives.contains(&Rule::reserved) || is_reserved(&found) {
            format!("`{found}` is a reserved word and cannot be used as a name here")
        } else {
            format!("unexpected `{}`", found.escape_debug())
        };
        let help = suggest_keyword(&found, positives)
            .map(|k| format!("did you mean `{k}`?"))
            .or_else(|| hint(&found, positives));
        SyntaxError {
            span,
            message,
            expected,
            help,
        }
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
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect(),
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
        .flat_map(|r| {
            keyword(*r)
                .into_iter()
                .chain(starting_keywords(*r).iter().copied())
        })
        .map(|k| (k, strsim::damerau_levenshtein(found, k)))
        .filter(|(k, d)| *d > 0 && *d <= 2 && *d < k.len())
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k)
}

/// Keywords that can start a construct, so a typo of one can be suggested where the parser
/// only says "expected a step".
fn starting_keywords(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::statement | Rule::block => &[
            "send",
            "wait",
            "if",
            "scenario",
            "otherwise",
            "experiment",
            "timeline",
            "set",
            "emit",
            "exit",
            "critical",
        ],
        Rule::item | Rule::item_eoi | Rule::file => &[
            "import", "profile", "event", "segment", "channel", "template", "offer", "policy",
            "journey", "test",
        ],
        Rule::entry_clause | Rule::reentry_clause | Rule::exit_clause | Rule::goal_clause => {
            &["entry", "reentry", "exit", "goal"]
        }
        Rule::expect => &[
            "send", "no", "reached", "not", "goal", "exit", "scenario", "variant", "emit",
            "entered",
        ],
        Rule::cap_rule | Rule::quiet_rule | Rule::priority_rule | Rule::exempt_rule => {
            &["at", "quiet", "priority", "exempt"]
        }
        _ => &[],
    }
}

/// Hints for frequent mistakes.
fn hint(found: &str, positives: &[Rule]) -> Option<String> {
    let wants = |r: Rule| positives.contains(&r);
    if (wants(Rule::duration) || wants(Rule::time_unit))
        && found.chars().all(|c| c.is_ascii_digit())
    {
        return Some("write a unit after the number, such as `7 days` or `12 hours`".into());
    }
    if found == "=" && wants(Rule::op_eq) {
        return Some("compare with `==` (and `<=`, `>=` for order)".into());
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
