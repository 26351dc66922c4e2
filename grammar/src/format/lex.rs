//! A small lexical scan of the source for the formatter.
//!
//! The grammar skips comments, so the syntax tree does not hold them; the formatter finds
//! them here, together with the few token positions the tree does not record (braces,
//! keywords of clauses merged in the tree). The scan knows only what it needs: white space,
//! `//` and `/* */` comments, `///` doc lines, string literals with their `{interpolations}`,
//! brackets, words and single punctuation.

/// A comment of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// First byte (the first `/`).
    pub start: usize,
    /// One past the last byte (trailing white space of a line comment excluded).
    pub end: usize,
    /// The text, trailing white space of a line comment removed.
    pub text: String,
    /// Whether it is a `/* */` comment.
    pub block: bool,
}

/// What a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A word: a name or a keyword.
    Word,
    /// A number (digits and dots).
    Number,
    /// A string literal, interpolations included.
    Str,
    /// Any other single byte.
    Punct(u8),
}

/// One token: its kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Every comment of `src`, in source order. Doc lines (`///`) are not comments, and neither
/// is anything inside a string literal (interpolations included).
pub fn comments(src: &str) -> Vec<Comment> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = line_end(b, i);
                if !is_doc_line(b, i) {
                    let text = src[i..end].trim_end();
                    out.push(Comment {
                        start: i,
                        end: i + text.len(),
                        text: text.to_string(),
                        block: false,
                    });
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = block_end(b, i);
                out.push(Comment {
                    start: i,
                    end,
                    text: src[i..end].to_string(),
                    block: true,
                });
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether the `//` at `i` starts a doc line: exactly three slashes.
fn is_doc_line(b: &[u8], i: usize) -> bool {
    b.get(i + 2) == Some(&b'/') && b.get(i + 3) != Some(&b'/')
}

/// The end of the line that `i` is on (the position of its newline, or the end).
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p)
}

/// One past the `*/` closing the block comment opened at `i` (the end when unclosed).
fn block_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    while j + 1 < b.len() {
        if b[j] == b'*' && b[j + 1] == b'/' {
            return j + 2;
        }
        j += 1;
    }
    b.len()
}

/// One past the closing quote of the string literal opened at `i`. A newline ends an
/// unclosed literal (the grammar does not allow one in literal text).
pub(crate) fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            b'\n' => return j,
            b'{' => j = code_until_brace(b, j + 1),
            _ => j += 1,
        }
    }
    b.len()
}

/// Skips the code of an interpolation from `i` to one past its closing `}`.
fn code_until_brace(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i),
            b'/' if matches!(b.get(i + 1), Some(b'/') | Some(b'*')) => i = trivia_end(b, i),
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                if depth == 0 {
                    return i + 1;
                }
                depth -= 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// The end of the comment (or doc line) starting at `i`.
fn trivia_end(b: &[u8], i: usize) -> usize {
    if b.get(i + 1) == Some(&b'*') {
        block_end(b, i)
    } else {
        line_end(b, i)
    }
}

/// The first position at or after `i` that is neither white space nor a comment.
pub(crate) fn skip_trivia(src: &str, mut i: usize) -> usize {
    let b = src.as_bytes();
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if matches!(b.get(i + 1), Some(b'/') | Some(b'*')) => i = trivia_end(b, i),
            _ => break,
        }
    }
    i.min(b.len())
}

/// The token starting at `i` (which must not be trivia), or `None` at the end.
pub(crate) fn token_at(src: &str, i: usize) -> Option<Token> {
    let b = src.as_bytes();
    let c = *b.get(i)?;
    let (kind, end) = if c == b'"' {
        (Kind::Str, string_end(b, i))
    } else if c.is_ascii_digit() {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
            j += 1;
        }
        (Kind::Number, j)
    } else if is_word_byte(c) {
        let mut j = i;
        while j < b.len() && is_word_byte(b[j]) {
            j += 1;
        }
        (Kind::Word, j)
    } else {
        (Kind::Punct(c), i + 1)
    };
    Some(Token {
        kind,
        start: i,
        end,
    })
}

/// The next token at or after `i`, trivia skipped.
pub(crate) fn next_token(src: &str, i: usize) -> Option<Token> {
    token_at(src, skip_trivia(src, i))
}

/// The position of the bracket closing the one at `open` (`{`, `(` or `[`), or the end.
pub(crate) fn matching(src: &str, open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(t) = next_token(src, i) {
        match t.kind {
            Kind::Punct(b'{' | b'(' | b'[') => depth += 1,
            Kind::Punct(b'}' | b')' | b']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return t.start;
                }
            }
            _ => {}
        }
        i = t.end;
    }
    src.len()
}

/// The tokens between `from` and `to` at bracket depth 0, with each bracketed group reported
/// as its opening bracket only (its contents skipped).
pub(crate) fn top_tokens(src: &str, from: usize, to: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = from;
    while let Some(t) = next_token(src, i) {
        if t.start >= to {
            break;
        }
        out.push(t);
        i = match t.kind {
            Kind::Punct(b'{' | b'(' | b'[') => matching(src, t.start) + 1,
            _ => t.end,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_skip_strings_and_doc_lines() {
        let src = "/// doc\n// a\nx = \"// no {f(\"/* no */\")} \\\" // no\" /* b */ //// c\n";
        let texts: Vec<String> = comments(src).into_iter().map(|c| c.text).collect();
        assert_eq!(texts, ["// a", "/* b */", "//// c"]);
    }

    #[test]
    fn matching_skips_strings_and_comments() {
        let src = "{ \"}\" // }\n { } }";
        assert_eq!(matching(src, 0), src.len() - 1);
    }
}
