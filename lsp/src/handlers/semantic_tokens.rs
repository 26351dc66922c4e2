//! Semantic tokens: names coloured by what they are (from the compiler's index of
//! definitions and references), keywords, comments, strings, numbers and operators (from the
//! lexer, so broken text is still coloured).

use std::collections::HashMap;

use journey_compiler::index::DefKind;
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};

use crate::lexer::{TokKind, lex};
use crate::state::DocSnapshot;
use crate::vocabulary::{BUILTIN_FUNCTIONS, KEYWORDS, OTHER_WORDS};

/// The token types, in legend order.
pub const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,     // 0
    SemanticTokenType::COMMENT,     // 1
    SemanticTokenType::STRING,      // 2
    SemanticTokenType::NUMBER,      // 3
    SemanticTokenType::OPERATOR,    // 4
    SemanticTokenType::EVENT,       // 5 events
    SemanticTokenType::PROPERTY,    // 6 attributes, properties
    SemanticTokenType::PARAMETER,   // 7 channel parameters
    SemanticTokenType::VARIABLE,    // 8 segments
    SemanticTokenType::NAMESPACE,   // 9 channels
    SemanticTokenType::STRUCT,      // 10 templates
    SemanticTokenType::ENUM_MEMBER, // 11 offers
    SemanticTokenType::INTERFACE,   // 12 policies
    SemanticTokenType::CLASS,       // 13 journeys
    SemanticTokenType::DECORATOR,   // 14 step labels, goals, experiments
    SemanticTokenType::FUNCTION,    // 15 built-in functions and aggregates
];

/// The token modifiers, in legend order (bit 0, 1).
pub const MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::DOCUMENTATION,
];

/// The legend announced in the server's capabilities.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.to_vec(),
    }
}

fn type_of(kind: DefKind) -> u32 {
    match kind {
        DefKind::Event => 5,
        DefKind::Attribute | DefKind::Property => 6,
        DefKind::Parameter => 7,
        DefKind::Segment => 8,
        DefKind::Channel => 9,
        DefKind::Template => 10,
        DefKind::Offer => 11,
        DefKind::Policy => 12,
        DefKind::Journey => 13,
        DefKind::Step | DefKind::Goal | DefKind::Experiment => 14,
        DefKind::Test => 2,
    }
}

/// Words coloured as keywords when they name nothing.
fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word) || OTHER_WORDS.contains(&word)
}

/// The semantic tokens of a document.
pub fn semantic_tokens(snap: &DocSnapshot) -> SemanticTokens {
    let Some(lines) = snap.current.lines() else {
        return SemanticTokens::default();
    };
    let text = snap.text();
    let cur = &snap.current;
    // Names the compiler resolved in this file: start offset → (type, is declaration).
    let mut names: HashMap<u32, (u32, bool)> = HashMap::new();
    let index = &cur.compilation().index;
    for r in index.refs.iter().filter(|r| r.file == cur.file) {
        if let Some(d) = index.defs.get(r.def as usize) {
            names.insert(r.span.start, (type_of(d.kind), false));
        }
    }
    for d in index.defs.iter().filter(|d| d.file == cur.file) {
        names.insert(d.span.start, (type_of(d.kind), true));
    }

    let toks = lex(text);
    // (start offset, end offset, type, modifiers), in order, single-line.
    let mut raw: Vec<(u32, u32, u32, u32)> = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        let s = tok.text(text);
        let (ty, mods) = match tok.kind {
            TokKind::Comment => (1, 0),
            TokKind::DocComment => (1, 2),
            TokKind::Str | TokKind::InterpOpen | TokKind::InterpClose => (2, 0),
            TokKind::Number => (3, 0),
            TokKind::Punct => match s {
                "==" | "!=" | "<=" | ">=" | "<" | ">" | "+" | "-" | "*" | "/" | "=" => (4, 0),
                _ => continue,
            },
            TokKind::Word => {
                if let Some(&(ty, decl)) = names.get(&tok.span.start) {
                    (ty, u32::from(decl))
                } else if toks
                    .get(i + 1)
                    .is_some_and(|n| n.kind == TokKind::Punct && n.text(text) == "(")
                    && BUILTIN_FUNCTIONS.iter().any(|(f, _)| *f == s)
                {
                    (15, 0)
                } else if is_keyword(s) {
                    (0, 0)
                } else {
                    continue;
                }
            }
        };
        // Split tokens that span lines (block comments).
        let (first, last) = (lines.line_of(tok.span.start), lines.line_of(tok.span.end));
        if first == last {
            raw.push((tok.span.start, tok.span.end, ty, mods));
        } else {
            for line in first..=last {
                let a = lines.line_start(line).max(tok.span.start);
                let b = if line == last {
                    tok.span.end
                } else {
                    lines.line_start(line + 1).saturating_sub(1)
                };
                if b > a {
                    raw.push((a, b, ty, mods));
                }
            }
        }
    }

    let mut data = Vec::with_capacity(raw.len());
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    for (a, b, ty, mods) in raw {
        let start = lines.position(a);
        let end = lines.position(b);
        let length = if end.line == start.line {
            end.character.saturating_sub(start.character)
        } else {
            continue;
        };
        if length == 0 {
            continue;
        }
        let delta_line = start.line.saturating_sub(prev_line);
        let delta_start = if delta_line == 0 {
            start.character.saturating_sub(prev_col)
        } else {
            start.character
        };
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        prev_line = start.line;
        prev_col = start.character;
    }
    SemanticTokens {
        result_id: None,
        data,
    }
}
