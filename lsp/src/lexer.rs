//! A forgiving tokenizer for editor features that must work on broken text: semantic
//! tokens, folding, and the completion context (what precedes the cursor).
//!
//! The grammar (pest) is the authority on what parses; this lexer only cuts text into words,
//! numbers, strings, comments and punctuation, never fails, and keeps going after anything
//! it does not understand. Strings are cut at their interpolations: the text pieces are
//! [`TokKind::Str`] tokens and the code inside `{...}` is tokenized like any code.

use journey_grammar::ast::Span;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A name or keyword.
    Word,
    /// A number, date or time of day (`42`, `1.5`, `2027-01-04`, `09:00`).
    Number,
    /// A piece of string literal text (with its quotes when they are inside the piece).
    Str,
    /// `{` opening an interpolation inside a string.
    InterpOpen,
    /// `}` closing an interpolation.
    InterpClose,
    /// A `//` or `/* */` comment.
    Comment,
    /// A `///` doc comment line.
    DocComment,
    /// Punctuation or an operator (`{`, `.`, `==`...).
    Punct,
}

/// A token and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokKind,
    /// Its bytes.
    pub span: Span,
}

impl Token {
    /// The token's text in `src`.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.range()).unwrap_or("")
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Cuts `text` into tokens; white space is dropped. Never fails.
pub fn lex(text: &str) -> Vec<Token> {
    Lexer {
        text,
        pos: 0,
        out: Vec::new(),
        // One entry per open interpolation: the brace depth inside it.
        interps: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    out: Vec<Token>,
    interps: Vec<u32>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().nth(n))
    }

    fn push(&mut self, kind: TokKind, start: usize) {
        self.out.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn bump_while(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn run(mut self) -> Vec<Token> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '/' && self.peek_at(1) == Some('/') {
                let doc = self.text[start..].starts_with("///")
                    && !self.text[start..].starts_with("////");
                self.bump_while(|c| c != '\n');
                self.push(
                    if doc {
                        TokKind::DocComment
                    } else {
                        TokKind::Comment
                    },
                    start,
                );
            } else if c == '/' && self.peek_at(1) == Some('*') {
                self.pos += 2;
                match self.text[self.pos..].find("*/") {
                    Some(i) => self.pos += i + 2,
                    None => self.pos = self.text.len(),
                }
                self.push(TokKind::Comment, start);
            } else if c == '"' {
                self.pos += 1;
                self.string_rest(start);
            } else if c.is_ascii_digit() {
                self.bump_while(|c| c.is_ascii_digit());
                // Dates, times and decimals: digits joined by `-`, `:` or `.`.
                while matches!(self.peek(), Some('-' | ':' | '.'))
                    && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                {
                    self.pos += 1;
                    self.bump_while(|c| c.is_ascii_digit());
                }
                self.push(TokKind::Number, start);
            } else if is_word_start(c) {
                self.bump_while(is_word_char);
                self.push(TokKind::Word, start);
            } else if c == '{' {
                self.pos += 1;
                if let Some(depth) = self.interps.last_mut() {
                    *depth += 1;
                }
                self.push(TokKind::Punct, start);
            } else if c == '}' {
                self.pos += 1;
                match self.interps.last_mut() {
                    Some(0) => {
                        self.interps.pop();
                        self.push(TokKind::InterpClose, start);
                        let rest = self.pos;
                        self.string_rest(rest);
                    }
                    Some(depth) => {
                        *depth -= 1;
                        self.push(TokKind::Punct, start);
                    }
                    None => self.push(TokKind::Punct, start),
                }
            } else {
                let two = self.text.get(start..start + 2);
                self.pos += if matches!(two, Some("==" | "!=" | "<=" | ">=")) {
                    2
                } else {
                    c.len_utf8()
                };
                self.push(TokKind::Punct, start);
            }
        }
        self.out
    }

    /// Lexes string text from the current position (just after `"` or after an
    /// interpolation's `}`), up to the closing quote, an interpolation, or the end of the line.
    fn string_rest(&mut self, start: usize) {
        loop {
            match self.peek() {
                None | Some('\n') => {
                    if self.pos > start {
                        self.push(TokKind::Str, start);
                    }
                    return;
                }
                Some('"') => {
                    self.pos += 1;
                    self.push(TokKind::Str, start);
                    return;
                }
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek().filter(|&c| c != '\n') {
                        self.pos += c.len_utf8();
                    }
                }
                Some('{') => {
                    if self.pos > start {
                        self.push(TokKind::Str, start);
                    }
                    let open = self.pos;
                    self.pos += 1;
                    self.push(TokKind::InterpOpen, open);
                    self.interps.push(0);
                    return;
                }
                Some(c) => self.pos += c.len_utf8(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokKind, String)> {
        lex(text)
            .iter()
            .map(|t| (t.kind, t.text(text).to_string()))
            .collect()
    }

    #[test]
    fn interpolated_string() {
        let k = kinds(r#"send sms "Salut {profile.first_name} !" // hé"#);
        assert_eq!(
            k,
            vec![
                (TokKind::Word, "send".into()),
                (TokKind::Word, "sms".into()),
                (TokKind::Str, "\"Salut ".into()),
                (TokKind::InterpOpen, "{".into()),
                (TokKind::Word, "profile".into()),
                (TokKind::Punct, ".".into()),
                (TokKind::Word, "first_name".into()),
                (TokKind::InterpClose, "}".into()),
                (TokKind::Str, " !\"".into()),
                (TokKind::Comment, "// hé".into()),
            ]
        );
    }

    #[test]
    fn numbers_and_operators() {
        let k = kinds("at 2027-01-04 09:00 x>=1.5");
        assert_eq!(k[1], (TokKind::Number, "2027-01-04".into()));
        assert_eq!(k[2], (TokKind::Number, "09:00".into()));
        assert_eq!(k[4], (TokKind::Punct, ">=".into()));
        assert_eq!(k[5], (TokKind::Number, "1.5".into()));
    }

    #[test]
    fn unterminated_things_end() {
        assert_eq!(lex("\"abc\nx").len(), 2);
        assert_eq!(lex("/* abc").len(), 1);
        assert_eq!(lex("\"{").len(), 2);
    }
}
