//! The canonical layout of a `.journey` file, for `journey fmt` and the language server.
//!
//! [`format()`] parses the text, refuses it when it has a syntax error (so it never destroys
//! text) or holds something the tree keeps only once (an offer item or a channel's `requires`
//! written twice), and prints the syntax tree in one layout:
//!
//! - two spaces of indentation; declarations in column 0, separated by one blank line
//!   (consecutive `import`s stay together unless a blank line separated them);
//! - doc comments (`///`) above their declaration or field;
//! - a block of fields on one line (`event e { a: string, b: number }`) when it has at most
//!   three fields, no doc comment and no comment, else one field per line; `config` on one
//!   line when it has one entry; arguments (`{ name: value }`) on one line when the line fits in
//!   100 columns, else one per line in journeys and, in tests, on the next line or packed
//!   into lines of 88 columns;
//! - blocks of steps always multi-line, except `{}` and `{ exit }`; timeline entries with
//!   their steps on the following lines;
//! - inside a block, one blank line where the author left at least one;
//! - expressions with canonical spacing, parentheses where precedence needs them and where
//!   the author wrote them; literals (strings, numbers, dates) exactly as written.
//!
//! Comments (`//`, `/* */`) are found by a lexical scan of the source, since the grammar
//! skips them. Each comment is kept: at the end of its line when it followed code on the
//! same line, otherwise on its own line before the next declaration, field, clause or step.
//! A comment inside an expression moves before the line that holds the expression.
//!
//! The printing follows the source through the spans of the tree: clauses the tree keeps in
//! separate lists (journey clauses, offer items) are printed in their source order, and the
//! few tokens the tree does not record (braces, `local`, `messages`) are read back from
//! the source.

mod lex;

pub use lex::{Comment, comments};

use std::fmt;

use crate::SyntaxError;
use crate::ast::*;
use lex::{Kind, Token};

/// The width the layout aims for: arguments that do not fit go on several lines.
const WIDTH: usize = 100;
/// The width of the lines of packed arguments (test inputs): narrower, so they read as a table.
const FILL_WIDTH: usize = 88;
const INDENT: &str = "  ";

/// Why a file was not formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file has a syntax error (the first one is given); nothing is formatted.
    Syntax {
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1, in characters.
        column: usize,
        /// The error.
        error: SyntaxError,
    },
    /// The file parses but holds a construct that formatting would lose (an offer item or a
    /// channel's `requires` written twice: only the last one counts).
    Unsupported {
        /// Line of the construct, from 1.
        line: usize,
        /// Column of the construct, from 1, in characters.
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Syntax {
                line,
                column,
                error,
            } => {
                write!(
                    f,
                    "{line}:{column}: syntax error: {} (expected {})",
                    error.message, error.expected
                )?;
                if let Some(help) = &error.help {
                    write!(f, "; {help}")?;
                }
                write!(f, "; not formatted")
            }
            FormatError::Unsupported {
                line,
                column,
                message,
            } => write!(f, "{line}:{column}: {message}; not formatted"),
        }
    }
}

impl std::error::Error for FormatError {}

/// Line and column (from 1, column in characters) of byte `pos` of `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = text.get(..pos).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Formats one `.journey` file: the canonical layout of the text, with every comment.
///
/// Pure: the same text always gives the same result, and formatting a formatted text gives
/// it back unchanged. A text with a syntax error is refused with the first error.
pub fn format(text: &str) -> Result<String, FormatError> {
    let parsed = crate::parse(text);
    if let Some(error) = parsed.errors.first() {
        let (line, column) = line_col(text, error.span.start as usize);
        return Err(FormatError::Syntax {
            line,
            column,
            error: error.clone(),
        });
    }
    let mut printer = Printer::new(text);
    printer.check(&parsed.file)?;
    printer.file(&parsed.file);
    Ok(printer.finish())
}

/// How a multi-line argument block is laid out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One argument per line (steps).
    OnePerLine,
    /// As many arguments per line as fit (test inputs).
    Fill,
}

/// A line-level element of a journey: a clause or a step, in source order.
enum JourneyPart<'a> {
    Entry(&'a Entry),
    Reentry(&'a Reentry),
    Exit(&'a ExitClause),
    Goal(&'a Goal),
    Step(&'a Stmt),
}

/// An item of an experiment, in source order.
enum ExperimentPart<'a> {
    Variant(&'a Variant),
    Holdout(Span),
}

/// Where a channel's sub-blocks are: `(keyword, open brace, close brace)` for each `config`
/// and `params` block, the position of each `requires`.
#[derive(Default)]
struct ChannelParts {
    config: Vec<(usize, usize, usize)>,
    params: Vec<(usize, usize, usize)>,
    requires: Vec<usize>,
}

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    done: Vec<bool>,
    /// Every comment before this index is printed.
    pending: usize,
    out: String,
    depth: usize,
    /// Source position of the end of the last element printed, for blank lines.
    last_end: usize,
    /// The next line is the first of its block: no blank line before it.
    first: bool,
    /// The next line is a new declaration: a blank line before it.
    force_blank: bool,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// White space runs collapsed to one space (`7   days` is `7 days`).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_bare_exit(s: &Stmt) -> bool {
    s.label.is_none() && s.critical.is_none() && matches!(s.kind, StmtKind::Exit)
}

impl<'a> Printer<'a> {
    fn new(src: &'a str) -> Printer<'a> {
        let comments = comments(src);
        Printer {
            src,
            done: vec![false; comments.len()],
            pending: 0,
            comments,
            out: String::with_capacity(src.len() + src.len() / 8),
            depth: 0,
            last_end: 0,
            first: true,
            force_blank: false,
        }
    }

    fn finish(self) -> String {
        let mut out = self.out;
        out.truncate(out.trim_end().len());
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    // ------------------------------------------------------------ source

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.range()).unwrap_or("")
    }

    fn text_at(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    /// The end of the last token of `span`: pest may include the white space and comments
    /// it skipped while looking for an optional part that was not there.
    fn real_end(&self, span: Span) -> usize {
        let start = span.start as usize;
        let mut end = (span.end as usize).min(self.src.len()).max(start);
        loop {
            end = start
                + self
                    .text_at(start, end)
                    .trim_end_matches([' ', '\t', '\r', '\n'])
                    .len();
            match self.comments.binary_search_by_key(&end, |c| c.end) {
                Ok(i) if self.comments[i].start >= start && self.comments[i].start < end => {
                    end = self.comments[i].start;
                }
                _ => return end,
            }
        }
    }

    /// The next token at or after `pos`.
    fn token(&self, pos: usize) -> Option<Token> {
        lex::next_token(self.src, pos)
    }

    /// The `{ ... }` starting at the next token after `pos`, before `limit`.
    fn braces_after(&self, pos: usize, limit: usize) -> Option<(usize, usize)> {
        match self.token(pos) {
            Some(t) if t.kind == Kind::Punct(b'{') && t.start < limit => {
                Some((t.start, lex::matching(self.src, t.start)))
            }
            _ => None,
        }
    }

    /// The first `{ ... }` at bracket depth 0 between `from` and `to`.
    fn first_braces(&self, from: usize, to: usize) -> Option<(usize, usize)> {
        lex::top_tokens(self.src, from, to)
            .into_iter()
            .find(|t| t.kind == Kind::Punct(b'{'))
            .map(|t| (t.start, lex::matching(self.src, t.start)))
    }

    /// The braces of a declaration whose name (or last header token) ends at `pos`.
    fn decl_braces(&self, pos: usize) -> (usize, usize) {
        let open = lex::skip_trivia(self.src, pos);
        (open, lex::matching(self.src, open))
    }

    fn has_comment_in(&self, from: usize, to: usize) -> bool {
        let i = self.comments.partition_point(|c| c.start < from);
        self.comments.get(i).is_some_and(|c| c.start < to)
    }

    /// Whether the source between `from` and `to` holds a blank line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let lines: Vec<&str> = self.text_at(from, to).split('\n').collect();
        lines.len() >= 3
            && lines[1..lines.len() - 1]
                .iter()
                .any(|l| l.trim().is_empty())
    }

    // ------------------------------------------------------------ output

    fn pad(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    fn col(&self) -> usize {
        self.out.rsplit('\n').next().map_or(0, width)
    }

    fn fits(&self, line: &str) -> bool {
        self.depth * INDENT.len() + width(line) <= WIDTH
    }

    /// Starts a line for an element whose source starts at `start`: a blank line first when
    /// the element is a new declaration or the author left one, then the indentation.
    fn line(&mut self, start: usize) {
        let blank = if self.force_blank {
            !self.out.is_empty()
        } else {
            !self.first && self.blank_between(self.last_end, start)
        };
        if blank {
            self.out.push('\n');
        }
        self.force_blank = false;
        self.first = false;
        self.pad();
    }

    /// Prints, each on its own line, the pending comments that start before `pos` and that
    /// `keep` selects.
    fn flush_where(&mut self, pos: usize, keep: impl Fn(&Comment) -> bool) {
        while self.pending < self.comments.len() && self.done[self.pending] {
            self.pending += 1;
        }
        for i in self.pending..self.comments.len() {
            if self.comments[i].start >= pos {
                break;
            }
            if self.done[i] || !keep(&self.comments[i]) {
                continue;
            }
            self.done[i] = true;
            let (start, end) = (self.comments[i].start, self.comments[i].end);
            self.line(start);
            self.out.push_str(&self.comments[i].text);
            self.out.push('\n');
            self.last_end = end;
        }
    }

    /// Prints the pending comments that start before `pos`.
    fn flush(&mut self, pos: usize) {
        self.flush_where(pos, |_| true);
    }

    /// Prints the pending comments that start before `pos`, except those inside the braces
    /// `open..close` (they are printed inside the block).
    fn flush_outside(&mut self, pos: usize, open: usize, close: usize) {
        self.flush_where(pos, |c| !(c.start > open && c.start < close));
    }

    /// Ends the current line, with the comment that follows `after` on the same source line.
    fn end(&mut self, after: usize) {
        let first = self.comments.partition_point(|c| c.start < after);
        let next = (first..self.comments.len()).find(|&i| !self.done[i]);
        if let Some(i) = next {
            let gap = self.text_at(after, self.comments[i].start);
            if gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b',')) {
                self.done[i] = true;
                self.out.push(' ');
                self.out.push_str(&self.comments[i].text);
                self.last_end = self.comments[i].end;
            }
        }
        self.out.push('\n');
    }

    /// A whole element on one line: its comments before it, then its text.
    fn leaf(&mut self, start: usize, end: usize, text: &str) {
        self.flush(end);
        self.line(start);
        self.out.push_str(text);
        self.last_end = end;
        self.end(end);
    }

    /// Opens a multi-line block at the brace `open`, at the end of the current line.
    fn open(&mut self, open: usize) {
        self.out.push_str(" {");
        self.last_end = open + 1;
        self.end(open + 1);
        self.depth += 1;
        self.first = true;
    }

    /// Closes a multi-line block at the brace `close`, with the comments before it.
    fn close(&mut self, close: usize) {
        self.flush(close);
        self.depth = self.depth.saturating_sub(1);
        self.pad();
        self.out.push('}');
        self.last_end = close + 1;
        self.first = false;
    }

    fn docs(&mut self, docs: &Option<String>) {
        if let Some(docs) = docs {
            for l in docs.split('\n') {
                self.out.push_str("///");
                if !l.is_empty() {
                    self.out.push(' ');
                    self.out.push_str(l);
                }
                self.out.push('\n');
                self.pad();
            }
        }
    }

    // ------------------------------------------------------------ checks

    /// Refuses what formatting would lose: items the syntax tree keeps only once.
    fn check(&self, file: &File) -> Result<(), FormatError> {
        let unsupported = |pos: usize, message: String| {
            let (line, column) = line_col(self.src, pos);
            Err(FormatError::Unsupported {
                line,
                column,
                message,
            })
        };
        for item in &file.items {
            match &item.kind {
                ItemKind::Offer(o) => {
                    if let Some((what, span)) = o.repeated.first() {
                        return unsupported(
                            span.start as usize,
                            format!(
                                "offer `{}` has `{what}` twice and only the last one counts: remove one",
                                o.name.text
                            ),
                        );
                    }
                }
                ItemKind::Channel(c) => {
                    let (open, close) = self.decl_braces(c.plugin.span.end as usize);
                    let parts = self.channel_parts(c, open, close);
                    if parts.requires.len() > 1 {
                        return unsupported(
                            parts.requires[0],
                            format!(
                                "channel `{}` has `requires` twice and only the last one counts: join the conditions with `and`",
                                c.name.text
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ declarations

    fn file(&mut self, file: &File) {
        let mut prev_import = None;
        for item in &file.items {
            let import = matches!(item.kind, ItemKind::Import(_));
            if let Some(prev) = prev_import {
                self.force_blank = !(prev && import);
            }
            self.item(item);
            prev_import = Some(import);
        }
        self.force_blank = !file.items.is_empty();
        self.flush(usize::MAX);
    }

    /// The start of a declaration: its comments up to `header_end`, its doc comment.
    fn head(&mut self, item: &Item, header_end: usize) {
        self.flush(header_end);
        self.line(item.span.start as usize);
        self.docs(&item.docs);
    }

    fn item(&mut self, item: &Item) {
        let end = self.real_end(item.span);
        match &item.kind {
            ItemKind::Import(i) => {
                self.head(item, end);
                self.out.push_str("import ");
                self.out.push_str(self.text(i.path.span));
                self.last_end = end;
                self.end(end);
            }
            ItemKind::Profile(p) => {
                let (open, close) = self.decl_braces(p.keyword.end as usize);
                self.head(item, open);
                self.out.push_str("profile");
                self.fields_block(&p.fields, open, close);
            }
            ItemKind::Event(e) => {
                let braces = self.braces_after(e.name.span.end as usize, end);
                self.head(item, braces.map_or(end, |b| b.0));
                self.out.push_str("event ");
                self.out.push_str(&e.name.text);
                match braces {
                    Some((open, close))
                        if !e.fields.is_empty() || self.has_comment_in(open, close) =>
                    {
                        self.fields_block(&e.fields, open, close)
                    }
                    _ => {
                        self.last_end = end;
                        self.end(end);
                    }
                }
            }
            ItemKind::Segment(s) => {
                self.head(item, end);
                let text = format!("segment {} = {}", s.name.text, self.expr(&s.condition));
                self.out.push_str(&text);
                self.last_end = end;
                self.end(end);
            }
            ItemKind::Channel(c) => self.channel(item, c),
            ItemKind::Template(t) => {
                let (open, close) = self.decl_braces(t.channel.span.end as usize);
                self.head(item, open);
                let head = format!("template {} for {}", t.name.text, t.channel.text);
                self.out.push_str(&head);
                let lines = t
                    .parts
                    .iter()
                    .map(|p| {
                        (
                            p.name.span.start as usize,
                            p.text.span.end as usize,
                            format!("{}: {}", p.name.text, self.text(p.text.span)),
                        )
                    })
                    .collect();
                self.lines_block(lines, open, close);
            }
            ItemKind::Offer(o) => {
                let (open, close) = self.decl_braces(o.name.span.end as usize);
                self.head(item, open);
                self.out.push_str("offer ");
                self.out.push_str(&o.name.text);
                let lines = self.offer_lines(o, open, close);
                self.lines_block(lines, open, close);
            }
            ItemKind::Policy(p) => {
                let (open, close) = self.decl_braces(p.name.span.end as usize);
                self.head(item, open);
                self.out.push_str("policy ");
                self.out.push_str(&p.name.text);
                let lines = p.rules.iter().map(|r| self.policy_rule(r)).collect();
                self.lines_block(lines, open, close);
            }
            ItemKind::Journey(j) => self.journey(item, j),
            ItemKind::Test(t) => self.test(item, t),
        }
    }

    /// ` { line line ... }` after the current header: one element per line, or `{}`.
    fn lines_block(&mut self, lines: Vec<(usize, usize, String)>, open: usize, close: usize) {
        if lines.is_empty() && !self.has_comment_in(open, close) {
            self.out.push_str(" {}");
            self.last_end = close + 1;
            self.end(close + 1);
            return;
        }
        self.open(open);
        for (start, end, text) in lines {
            self.leaf(start, end, &text);
        }
        self.close(close);
        self.end(close + 1);
    }

    /// ` { a: t, b: u }` or one field per line, after the current header.
    fn fields_block(&mut self, fields: &[Field], open: usize, close: usize) {
        let texts: Vec<String> = fields.iter().map(|f| self.field(f)).collect();
        let one = if texts.is_empty() {
            " {}".to_string()
        } else {
            format!(" {{ {} }}", texts.join(", "))
        };
        if fields.len() <= 3
            && fields.iter().all(|f| f.docs.is_none())
            && !self.has_comment_in(open, close)
            && self.col() + width(&one) <= WIDTH
        {
            self.out.push_str(&one);
            self.last_end = close + 1;
            self.end(close + 1);
            return;
        }
        self.open(open);
        for (f, text) in fields.iter().zip(texts) {
            let end = self.real_end(f.span);
            self.flush(end);
            self.line(f.span.start as usize);
            self.docs(&f.docs);
            self.out.push_str(&text);
            self.last_end = end;
            self.end(end);
        }
        self.close(close);
        self.end(close + 1);
    }

    fn field(&self, f: &Field) -> String {
        let mut s = format!("{}: {}", f.name.text, type_expr(&f.ty));
        if let Some(d) = &f.default {
            s.push_str(" = ");
            s.push_str(&self.expr(d));
        }
        s
    }

    fn channel_parts(&self, c: &ChannelDecl, open: usize, close: usize) -> ChannelParts {
        let consent = c
            .consent
            .as_ref()
            .map_or(0..0, |e| e.span.start as usize..e.span.end as usize);
        let tokens: Vec<Token> = lex::top_tokens(self.src, open + 1, close)
            .into_iter()
            .filter(|t| !consent.contains(&t.start))
            .collect();
        let mut parts = ChannelParts::default();
        for (i, t) in tokens.iter().enumerate() {
            if t.kind != Kind::Word {
                continue;
            }
            let word = self.text_at(t.start, t.end);
            let brace = tokens
                .get(i + 1)
                .filter(|n| n.kind == Kind::Punct(b'{'))
                .map(|n| (t.start, n.start, lex::matching(self.src, n.start)));
            match (word, brace) {
                ("config", Some(b)) => parts.config.push(b),
                ("params", Some(b)) => parts.params.push(b),
                ("requires", _) => parts.requires.push(t.start),
                _ => {}
            }
        }
        parts
    }

    fn channel(&mut self, item: &Item, c: &ChannelDecl) {
        let (open, close) = self.decl_braces(c.plugin.span.end as usize);
        self.head(item, open);
        let head = format!("channel {} uses {}", c.name.text, self.text(c.plugin.span));
        self.out.push_str(&head);
        let parts = self.channel_parts(c, open, close);
        let config_quiet = parts
            .config
            .iter()
            .all(|&(_, o, cl)| !self.has_comment_in(o, cl));
        let has_config = !parts.config.is_empty() && (!c.config.is_empty() || !config_quiet);
        if !has_config
            && c.params.is_none()
            && c.consent.is_none()
            && !self.has_comment_in(open, close)
        {
            self.out.push_str(" {}");
            self.last_end = close + 1;
            self.end(close + 1);
            return;
        }
        self.open(open);
        if let (true, Some(&(kw, first_open, _)), Some(&(_, _, last_close))) =
            (has_config, parts.config.first(), parts.config.last())
        {
            let entries: Vec<(usize, usize, String)> = c
                .config
                .iter()
                .map(|e| {
                    let value = match &e.value {
                        ConfigValue::Literal(x) => self.expr(x),
                        ConfigValue::Env(s) => format!("env({})", self.text(s.span)),
                        ConfigValue::Secret(s) => format!("secret({})", self.text(s.span)),
                    };
                    (
                        e.key.span.start as usize,
                        self.real_end(e.span),
                        format!("{}: {value}", e.key.text),
                    )
                })
                .collect();
            let one = if entries.is_empty() {
                "config {}".to_string()
            } else {
                let texts: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
                format!("config {{ {} }}", texts.join(", "))
            };
            if config_quiet && entries.len() <= 1 && self.fits(&one) {
                self.leaf(kw, last_close + 1, &one);
            } else {
                self.flush(first_open);
                self.line(kw);
                self.out.push_str("config");
                self.open(first_open);
                for (start, end, text) in entries {
                    self.leaf(start, end, &text);
                }
                self.close(last_close);
                self.end(last_close + 1);
            }
        }
        if let (Some(fields), Some(&(kw, first_open, _)), Some(&(_, _, last_close))) =
            (&c.params, parts.params.first(), parts.params.last())
        {
            self.flush(first_open);
            self.line(kw);
            self.out.push_str("params");
            self.fields_block(fields, first_open, last_close);
        }
        if let Some(consent) = &c.consent {
            let kw = parts
                .requires
                .last()
                .copied()
                .unwrap_or(consent.span.start as usize);
            let text = format!("requires {}", self.expr(consent));
            self.leaf(kw, self.real_end(consent.span), &text);
        }
        self.close(close);
        self.end(close + 1);
    }

    /// The lines of an offer in source order: `(start, end, text)`.
    fn offer_lines(&self, o: &OfferDecl, open: usize, close: usize) -> Vec<(usize, usize, String)> {
        let mut lines = Vec::new();
        let mut taken: Vec<(usize, usize)> = Vec::new();
        for f in &o.fields {
            let (start, end) = (f.name.span.start as usize, f.text.span.end as usize);
            taken.push((start, end));
            lines.push((
                start,
                end,
                format!("{}: {}", f.name.text, self.text(f.text.span)),
            ));
        }
        let spans = [
            o.eligible.as_ref().map(|e| e.span),
            o.priority.map(|p| p.1),
            o.valid_from.as_ref().map(|e| e.span),
            o.valid_until.as_ref().map(|e| e.span),
        ];
        taken.extend(
            spans
                .iter()
                .flatten()
                .map(|s| (s.start as usize, s.end as usize)),
        );
        let keywords: Vec<(usize, &str)> = lex::top_tokens(self.src, open + 1, close)
            .into_iter()
            .filter(|t| t.kind == Kind::Word)
            .filter(|t| !taken.iter().any(|&(s, e)| t.start >= s && t.start < e))
            .map(|t| (t.start, self.text_at(t.start, t.end)))
            .filter(|(_, w)| matches!(*w, "eligible" | "priority" | "valid"))
            .collect();
        let mut starts: Vec<usize> = keywords.iter().map(|k| k.0).collect();
        starts.extend(o.fields.iter().map(|f| f.name.span.start as usize));
        starts.sort_unstable();
        for &(pos, word) in &keywords {
            let next = starts.iter().copied().find(|&s| s > pos).unwrap_or(close);
            match word {
                "eligible" => {
                    if let Some(e) = &o.eligible {
                        lines.push((
                            pos,
                            self.real_end(e.span),
                            format!("eligible when {}", self.expr(e)),
                        ));
                    }
                }
                "priority" => {
                    if let Some((_, span)) = o.priority {
                        lines.push((
                            pos,
                            span.end as usize,
                            format!("priority {}", self.text(span)),
                        ));
                    }
                }
                _ => {
                    let within =
                        |e: &&Expr| (e.span.start as usize) > pos && (e.span.start as usize) < next;
                    let mut text = "valid".to_string();
                    let mut end = pos + text.len();
                    if let Some(from) = o.valid_from.as_ref().filter(within) {
                        text.push_str(" from ");
                        text.push_str(&self.expr(from));
                        end = end.max(self.real_end(from.span));
                    }
                    if let Some(until) = o.valid_until.as_ref().filter(within) {
                        text.push_str(" until ");
                        text.push_str(&self.expr(until));
                        end = end.max(self.real_end(until.span));
                    }
                    lines.push((pos, end, text));
                }
            }
        }
        lines.sort_by_key(|l| l.0);
        lines
    }

    fn policy_rule(&self, rule: &PolicyRule) -> (usize, usize, String) {
        let (span, text) = match rule {
            PolicyRule::Cap {
                max,
                channel,
                window,
                span,
            } => {
                let subject = match channel {
                    Some(c) => c.text.clone(),
                    None => match self.token(max.1.end as usize) {
                        Some(t) if t.kind == Kind::Word => self.text_at(t.start, t.end).to_string(),
                        _ => "messages".to_string(),
                    },
                };
                let text = format!(
                    "at most {} {subject} per {}",
                    self.text(max.1),
                    squash(self.text(window.span))
                );
                (*span, text)
            }
            PolicyRule::Quiet {
                from,
                to,
                channels,
                span,
            } => {
                let mut text = format!(
                    "quiet hours {} to {}",
                    self.text(from.span),
                    self.text(to.span)
                );
                if let Some(t) = self.token(to.span.end as usize)
                    && t.start < span.end as usize
                    && self.text_at(t.start, t.end) == "local"
                {
                    text.push_str(" local");
                }
                if !channels.is_empty() {
                    text.push_str(" on ");
                    text.push_str(&idents(channels));
                }
                (*span, text)
            }
            PolicyRule::Priority(list, span) => (*span, format!("priority {}", idents(list))),
            PolicyRule::Exempt(list, span) => (*span, format!("exempt {}", idents(list))),
        };
        (span.start as usize, self.real_end(span), text)
    }

    // ------------------------------------------------------------ journeys

    fn journey(&mut self, item: &Item, j: &JourneyDecl) {
        let (open, close) = self.decl_braces(j.name.span.end as usize);
        self.head(item, open);
        self.out.push_str("journey ");
        self.out.push_str(&j.name.text);
        let mut parts: Vec<(u32, JourneyPart<'_>)> = Vec::new();
        parts.extend(
            j.entries
                .iter()
                .map(|e| (e.span.start, JourneyPart::Entry(e))),
        );
        parts.extend(j.reentry.iter().map(|r| {
            let span = match r {
                Reentry::Never(s) | Reentry::AfterExit(s) | Reentry::After(_, s) => s,
            };
            (span.start, JourneyPart::Reentry(r))
        }));
        parts.extend(j.exits.iter().map(|x| {
            let span = match x {
                ExitClause::On { span, .. }
                | ExitClause::When(_, span)
                | ExitClause::After(_, span) => span,
            };
            (span.start, JourneyPart::Exit(x))
        }));
        parts.extend(j.goals.iter().map(|g| (g.span.start, JourneyPart::Goal(g))));
        parts.extend(j.body.iter().map(|s| (s.span.start, JourneyPart::Step(s))));
        parts.sort_by_key(|p| p.0);
        if parts.is_empty() && !self.has_comment_in(open, close) {
            self.out.push_str(" {}");
            self.last_end = close + 1;
            self.end(close + 1);
            return;
        }
        self.open(open);
        for (_, part) in parts {
            match part {
                JourneyPart::Entry(e) => {
                    let text = format!(
                        "entry {}{}",
                        self.trigger(&e.trigger),
                        self.where_(&e.condition)
                    );
                    self.leaf(e.span.start as usize, self.real_end(e.span), &text);
                }
                JourneyPart::Reentry(r) => {
                    let (span, text) = match r {
                        Reentry::Never(s) => (s, "reentry never".to_string()),
                        Reentry::AfterExit(s) => (s, "reentry after exit".to_string()),
                        Reentry::After(d, s) => (s, format!("reentry after {}", self.duration(d))),
                    };
                    self.leaf(span.start as usize, self.real_end(*span), &text);
                }
                JourneyPart::Exit(x) => {
                    let (span, text) = match x {
                        ExitClause::On {
                            event,
                            condition,
                            span,
                        } => (
                            span,
                            format!("exit on {}{}", event.text, self.where_(condition)),
                        ),
                        ExitClause::When(e, span) => (span, format!("exit when {}", self.expr(e))),
                        ExitClause::After(d, span) => {
                            (span, format!("exit after {}", self.duration(d)))
                        }
                    };
                    self.leaf(span.start as usize, self.real_end(*span), &text);
                }
                JourneyPart::Goal(g) => {
                    let mut text = format!(
                        "goal {} on {}{}",
                        g.name.text,
                        g.event.text,
                        self.where_(&g.condition)
                    );
                    text.push_str(" within ");
                    text.push_str(&self.duration(&g.within));
                    if let Some(a) = &g.after {
                        text.push_str(" after ");
                        text.push_str(&a.text);
                    }
                    self.leaf(g.span.start as usize, self.real_end(g.span), &text);
                }
                JourneyPart::Step(s) => self.stmt(s),
            }
        }
        self.close(close);
        self.end(close + 1);
    }

    fn where_(&self, condition: &Option<Expr>) -> String {
        match condition {
            Some(c) => format!(" where {}", self.expr(c)),
            None => String::new(),
        }
    }

    fn at(&self, at: &Option<TimeLit>) -> String {
        match at {
            Some(t) => format!(" at {}", self.text(t.span)),
            None => String::new(),
        }
    }

    fn trigger(&self, t: &Trigger) -> String {
        match t {
            Trigger::Event(e) => format!("on {}", e.text),
            Trigger::Segment { entering, segment } => format!(
                "on {} {}",
                if *entering { "entering" } else { "leaving" },
                segment.text
            ),
            Trigger::Yearly { date, at } => format!("yearly on {}{}", path(date), self.at(at)),
            Trigger::Monthly { day, at } => {
                format!("monthly on day {}{}", self.text(day.1), self.at(at))
            }
            Trigger::Weekly { weekday, at } => format!("weekly on {}{}", weekday.text, self.at(at)),
            Trigger::Daily { at } => format!("daily at {}", self.text(at.span)),
            Trigger::Api => "by api".to_string(),
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        let start = s.span.start as usize;
        let end = self.real_end(s.span);
        let mut prefix = String::new();
        if let Some(l) = &s.label {
            prefix.push_str(&l.text);
            prefix.push_str(": ");
        }
        if s.critical.is_some() {
            prefix.push_str("critical ");
        }
        match &s.kind {
            StmtKind::Send(send) => {
                let head = format!(
                    "{prefix}send {} {}",
                    send.channel.text,
                    self.message(&send.message)
                );
                let tail = match &send.offer {
                    None => String::new(),
                    Some(OfferChoice::Best(list, _)) if list.is_empty() => {
                        " with best offer".into()
                    }
                    Some(OfferChoice::Best(list, _)) => {
                        format!(" with best offer from {}", idents(list))
                    }
                    Some(OfferChoice::Named(o)) => format!(" with offer {}", o.text),
                };
                let braces = send
                    .args_span
                    .map(|a| (a.start as usize, (a.end as usize).saturating_sub(1)));
                self.arguments(
                    start,
                    end,
                    &head,
                    &send.args,
                    braces,
                    &tail,
                    Layout::OnePerLine,
                    true,
                );
            }
            StmtKind::Wait(d) => {
                self.leaf(start, end, &format!("{prefix}wait {}", self.duration(d)))
            }
            StmtKind::WaitUntil { weekday, at } => {
                let text = match weekday {
                    Some(w) => format!("{prefix}wait until {}{}", w.text, self.at(at)),
                    None => format!(
                        "{prefix}wait until {}",
                        at.map_or("", |t| self.text(t.span))
                    ),
                };
                self.leaf(start, end, &text);
            }
            StmtKind::WaitFor(w) => {
                let mut text = format!(
                    "{prefix}wait for {}{}",
                    w.event.text,
                    self.where_(&w.condition)
                );
                if let Some(d) = &w.timeout {
                    text.push_str(" within ");
                    text.push_str(&self.duration(d));
                }
                match &w.on_timeout {
                    None => self.leaf(start, end, &text),
                    Some(b) => {
                        self.flush(b.span.start as usize);
                        self.line(start);
                        self.out.push_str(&text);
                        self.out.push_str(" else");
                        self.block(b);
                        self.last_end = end;
                        self.end(end);
                    }
                }
            }
            StmtKind::If(i) => {
                // Comments outside the multi-line blocks (in conditions, around `else`) go
                // before the statement.
                let holes = self.if_holes(i);
                self.flush_where(end, |c| {
                    !holes.iter().any(|&(o, cl)| c.start > o && c.start < cl)
                });
                self.line(start);
                let head = format!("{prefix}if {}", self.expr(&i.condition));
                self.out.push_str(&head);
                self.block(&i.then);
                let mut current = i;
                while let Some(b) = &current.otherwise {
                    match self.else_if(b) {
                        Some(inner) => {
                            let head = format!(" else if {}", self.expr(&inner.condition));
                            self.out.push_str(&head);
                            self.block(&inner.then);
                            current = inner;
                        }
                        None => {
                            self.out.push_str(" else");
                            self.block(b);
                            break;
                        }
                    }
                }
                self.last_end = end;
                self.end(end);
            }
            StmtKind::Scenario(sc) => {
                let mut arms: Vec<(String, &Block)> = sc
                    .arms
                    .iter()
                    .map(|(segment, b)| (format!("scenario for {}", segment.text), b))
                    .collect();
                if let Some(o) = &sc.otherwise {
                    arms.push(("otherwise".to_string(), o));
                }
                for (k, (head, b)) in arms.into_iter().enumerate() {
                    if k == 0 {
                        self.flush(b.span.start as usize);
                        self.line(start);
                        self.out.push_str(&prefix);
                    } else {
                        self.end(self.last_end);
                        self.flush(b.span.start as usize);
                        self.pad();
                    }
                    self.out.push_str(&head);
                    self.block(b);
                }
                self.last_end = end;
                self.end(end);
            }
            StmtKind::Experiment(x) => self.experiment(start, end, &prefix, x),
            StmtKind::Timeline(entries) => self.timeline(start, end, &prefix, entries),
            StmtKind::Set { target, value } => {
                let text = format!("{prefix}set {} = {}", path(target), self.expr(value));
                self.leaf(start, end, &text);
            }
            StmtKind::Emit { event, args } => {
                let head = format!("{prefix}emit {}", event.text);
                let braces = self.braces_after(event.span.end as usize, end);
                self.arguments(
                    start,
                    end,
                    &head,
                    args,
                    braces,
                    "",
                    Layout::OnePerLine,
                    false,
                );
            }
            StmtKind::Exit => self.leaf(start, end, &format!("{prefix}exit")),
        }
    }

    /// The `if` of an `else if` (a block the lowering made around it, without braces).
    fn else_if<'b>(&self, b: &'b Block) -> Option<&'b If> {
        if self.src.as_bytes().get(b.span.start as usize) == Some(&b'{') {
            return None;
        }
        match b.stmts.as_slice() {
            [
                Stmt {
                    kind: StmtKind::If(inner),
                    ..
                },
            ] => Some(inner),
            _ => None,
        }
    }

    /// The braces of the blocks of an `if ... else if ... else` chain that [`Self::block`]
    /// prints on several lines.
    fn if_holes(&self, i: &If) -> Vec<(usize, usize)> {
        let mut holes = Vec::new();
        let mut current = i;
        loop {
            let mut blocks = vec![&current.then];
            let next = match &current.otherwise {
                Some(b) => match self.else_if(b) {
                    Some(inner) => Some(inner),
                    None => {
                        blocks.push(b);
                        None
                    }
                },
                None => None,
            };
            for b in blocks {
                let (open, close) = (
                    b.span.start as usize,
                    (b.span.end as usize).saturating_sub(1),
                );
                if !self.inline_block(b, open, close) {
                    holes.push((open, close));
                }
            }
            match next {
                Some(inner) => current = inner,
                None => return holes,
            }
        }
    }

    /// Whether [`Self::block`] prints the block on the current line: `{}` or `{ exit }`.
    fn inline_block(&self, b: &Block, open: usize, close: usize) -> bool {
        !self.has_comment_in(open, close)
            && (b.stmts.is_empty() || (b.stmts.len() == 1 && is_bare_exit(&b.stmts[0])))
    }

    /// ` { steps }` at the end of the current line; the line is left open after the `}`.
    fn block(&mut self, b: &Block) {
        let open = b.span.start as usize;
        let close = (b.span.end as usize).saturating_sub(1);
        if self.inline_block(b, open, close) {
            self.out.push_str(if b.stmts.is_empty() {
                " {}"
            } else {
                " { exit }"
            });
            self.last_end = close + 1;
            return;
        }
        self.open(open);
        for s in &b.stmts {
            self.stmt(s);
        }
        self.close(close);
    }

    fn experiment(&mut self, start: usize, end: usize, prefix: &str, x: &Experiment) {
        let (open, close) = self.decl_braces(x.name.span.end as usize);
        self.flush(open);
        self.line(start);
        self.out.push_str(prefix);
        self.out.push_str("experiment ");
        self.out.push_str(&x.name.text);
        let mut parts: Vec<(u32, ExperimentPart<'_>)> = x
            .variants
            .iter()
            .map(|v| (v.name.span.start, ExperimentPart::Variant(v)))
            .collect();
        parts.extend(
            x.holdouts
                .iter()
                .map(|h| (h.1.start, ExperimentPart::Holdout(h.1))),
        );
        parts.sort_by_key(|p| p.0);
        if parts.is_empty() && !self.has_comment_in(open, close) {
            self.out.push_str(" {}");
        } else {
            self.open(open);
            for (_, part) in parts {
                match part {
                    ExperimentPart::Variant(v) => {
                        self.flush(v.body.span.start as usize);
                        self.line(v.name.span.start as usize);
                        let head = format!("variant {} {}", v.name.text, self.text(v.percent.1));
                        self.out.push_str(&head);
                        self.block(&v.body);
                        self.last_end = v.body.span.end as usize;
                        self.end(v.body.span.end as usize);
                    }
                    ExperimentPart::Holdout(span) => {
                        let text = format!("holdout {}", self.text(span));
                        self.leaf(span.start as usize, span.end as usize, &text);
                    }
                }
            }
            self.close(close);
        }
        self.last_end = end;
        self.end(end);
    }

    fn timeline(&mut self, start: usize, end: usize, prefix: &str, entries: &[TimelineEntry]) {
        let Some((open, close)) = self.first_braces(start, end) else {
            return self.leaf(start, end, &format!("{prefix}timeline {{}}"));
        };
        self.flush(open);
        self.line(start);
        self.out.push_str(prefix);
        self.out.push_str("timeline");
        if entries.is_empty() && !self.has_comment_in(open, close) {
            self.out.push_str(" {}");
            self.last_end = end;
            self.end(end);
            return;
        }
        self.open(open);
        for e in entries {
            let head_end = e.at.map_or(e.offset.span.end, |a| a.span.end) as usize;
            let after_colon = match self.token(head_end) {
                Some(t) if t.kind == Kind::Punct(b':') => t.end,
                _ => head_end,
            };
            let head = format!("{}{}:", squash(self.text(e.offset.span)), self.at(&e.at));
            let braces = self.braces_after(after_colon, end);
            if e.body.is_empty() {
                let (o, c) = braces.unwrap_or((after_colon, after_colon));
                self.flush(o);
                self.line(e.span.start as usize);
                self.out.push_str(&head);
                if self.has_comment_in(o, c) {
                    self.open(o);
                    self.close(c);
                } else {
                    self.out.push_str(" {}");
                    self.last_end = c + 1;
                }
                self.end(c + 1);
                continue;
            }
            self.flush(after_colon);
            self.line(e.span.start as usize);
            self.out.push_str(&head);
            self.last_end = after_colon;
            self.end(after_colon);
            self.depth += 1;
            self.first = true;
            for s in &e.body {
                self.stmt(s);
            }
            // Comments after the last step (and before the brace of a braced entry) go with
            // the next entry, as they do when the entry has no braces.
            self.depth -= 1;
        }
        self.close(close);
        self.last_end = end;
        self.end(end);
    }

    /// A line that ends with arguments: `head { a: 1, b: 2 } tail`, broken over several
    /// lines when it does not fit.
    #[allow(clippy::too_many_arguments)]
    fn arguments(
        &mut self,
        start: usize,
        end: usize,
        head: &str,
        args: &[Argument],
        braces: Option<(usize, usize)>,
        tail: &str,
        layout: Layout,
        keep_empty: bool,
    ) {
        let quiet = braces.is_none_or(|(o, c)| !self.has_comment_in(o, c));
        let texts: Vec<String> = args
            .iter()
            .map(|a| format!("{}: {}", a.name.text, self.expr(&a.value)))
            .collect();
        let braced = !args.is_empty() || (braces.is_some() && (keep_empty || !quiet));
        let inline = if !braced {
            String::new()
        } else if texts.is_empty() {
            " {}".to_string()
        } else {
            format!(" {{ {} }}", texts.join(", "))
        };
        let one = format!("{head}{inline}{tail}");
        let (open, close) = match braces {
            Some(b) if quiet => {
                if self.fits(&one) || (texts.len() <= 1 && tail.is_empty()) {
                    return self.leaf(start, end, &one);
                }
                b
            }
            Some(b) => b,
            None => return self.leaf(start, end, &one),
        };
        if quiet && !tail.is_empty() && (texts.len() <= 1 || self.fits(&format!("{head}{inline}")))
        {
            // The offer choice on a continuation line.
            self.flush(end);
            self.line(start);
            self.out.push_str(head);
            self.out.push_str(&inline);
            self.out.push('\n');
            self.depth += 1;
            self.pad();
            self.depth -= 1;
            self.out.push_str(tail.trim_start());
            self.last_end = end;
            self.end(end);
            return;
        }
        self.flush_outside(end, open, close);
        self.line(start);
        self.out.push_str(head);
        self.open(open);
        if layout == Layout::OnePerLine || !quiet {
            for (a, text) in args.iter().zip(&texts) {
                let a_end = self.real_end(a.value.span);
                self.flush(a_end);
                self.line(a.name.span.start as usize);
                self.out.push_str(text);
                self.out.push(',');
                self.last_end = a_end;
                self.end(a_end);
            }
        } else {
            // All on one line when they fit, else packed into narrower lines.
            let all = texts.join(", ");
            let room = if self.fits(&all) {
                width(&all)
            } else {
                FILL_WIDTH.saturating_sub(self.depth * INDENT.len())
            };
            let mut current = String::new();
            let n = texts.len();
            for (k, text) in texts.iter().enumerate() {
                let piece = if k + 1 < n {
                    format!("{text},")
                } else {
                    text.clone()
                };
                if current.is_empty() {
                    current = piece;
                } else if width(&current) + 1 + width(&piece) <= room {
                    current.push(' ');
                    current.push_str(&piece);
                } else {
                    self.pad();
                    self.out.push_str(&current);
                    self.out.push('\n');
                    current = piece;
                }
            }
            if !current.is_empty() {
                self.pad();
                self.out.push_str(&current);
                self.out.push('\n');
            }
            self.first = false;
        }
        self.close(close);
        self.out.push_str(tail);
        self.last_end = end;
        self.end(end);
    }

    // ------------------------------------------------------------ tests

    fn test(&mut self, item: &Item, t: &TestDecl) {
        let (open, close) = self.decl_braces(t.name.span.end as usize);
        self.head(item, open);
        self.out.push_str("test ");
        self.out.push_str(self.text(t.name.span));
        if t.items.is_empty() && !self.has_comment_in(open, close) {
            self.out.push_str(" {}");
            self.last_end = close + 1;
            self.end(close + 1);
            return;
        }
        self.open(open);
        for ti in &t.items {
            self.test_item(ti);
        }
        self.close(close);
        self.end(close + 1);
    }

    fn test_item(&mut self, ti: &TestItem) {
        match ti {
            TestItem::Profile(args, span) => {
                let (start, end) = (span.start as usize, self.real_end(*span));
                let braces = self.first_braces(start, end);
                let head = "given profile".to_string();
                self.arguments(start, end, &head, args, braces, "", Layout::Fill, true);
            }
            TestItem::Customer(s) => {
                let end = s.span.end as usize;
                self.leaf(
                    s.span.start as usize,
                    end,
                    &format!("given customer {}", self.text(s.span)),
                );
            }
            TestItem::Event {
                at,
                event,
                args,
                span,
            } => {
                let (start, end) = (span.start as usize, self.real_end(*span));
                let braces = self.braces_after(event.span.end as usize, end);
                let head = format!("at {} event {}", self.timestamp(at), event.text);
                self.arguments(start, end, &head, args, braces, "", Layout::Fill, false);
            }
            TestItem::Set {
                at,
                target,
                value,
                span,
            } => {
                let text = format!(
                    "at {} set {} = {}",
                    self.timestamp(at),
                    path(target),
                    self.expr(value)
                );
                self.leaf(span.start as usize, self.real_end(*span), &text);
            }
            TestItem::Enter { at, journey, span } => {
                let text = format!("at {} enter {}", self.timestamp(at), journey.text);
                self.leaf(span.start as usize, self.real_end(*span), &text);
            }
            TestItem::RunUntil(at, span) => {
                let text = format!("run until {}", self.timestamp(at));
                self.leaf(span.start as usize, self.real_end(*span), &text);
            }
            TestItem::Expect(e, span) => {
                let text = format!("expect {}", self.expectation(e));
                self.leaf(span.start as usize, self.real_end(*span), &text);
            }
        }
    }

    fn expectation(&self, e: &Expectation) -> String {
        let at = |at: &Option<TimestampLit>| match at {
            Some(t) => format!(" at {}", self.timestamp(t)),
            None => String::new(),
        };
        match e {
            Expectation::Send {
                positive,
                channel,
                message,
                at: when,
            } => {
                let mut s = if *positive { "send " } else { "no send " }.to_string();
                s.push_str(&channel.text);
                if let Some(m) = message {
                    s.push(' ');
                    s.push_str(&self.message(m));
                }
                if *positive {
                    s.push_str(&at(when));
                }
                s
            }
            Expectation::Reached {
                positive: true,
                step,
                at: when,
            } => format!("reached {}{}", path(step), at(when)),
            Expectation::Reached { step, .. } => format!("not reached {}", path(step)),
            Expectation::Goal {
                positive: true,
                goal,
                at: when,
            } => format!("goal {}{}", path(goal), at(when)),
            Expectation::Goal { goal, .. } => format!("no goal {}", path(goal)),
            Expectation::Exit { journey, at: when } => format!("exit {}{}", journey.text, at(when)),
            Expectation::Scenario { segment, journey } => match journey {
                Some(j) => format!("scenario {} in {}", segment.text, j.text),
                None => format!("scenario {}", segment.text),
            },
            Expectation::Variant(p) => format!("variant {}", path(p)),
            Expectation::Emit { event, at: when } => format!("emit {}{}", event.text, at(when)),
            Expectation::Entered {
                positive: true,
                journey,
                at: when,
            } => format!("entered {}{}", journey.text, at(when)),
            Expectation::Entered { journey, .. } => format!("not entered {}", journey.text),
        }
    }

    // ------------------------------------------------------------ leaves

    fn message(&self, m: &Message) -> String {
        match m {
            Message::Template(t) => t.text.clone(),
            Message::External(s) => format!("template {}", self.text(s.span)),
            Message::Inline(s) => self.text(s.span).to_string(),
        }
    }

    fn duration(&self, d: &DurationLit) -> String {
        squash(self.text(d.span))
    }

    fn timestamp(&self, t: &TimestampLit) -> String {
        squash(self.text(t.span))
    }

    /// Whether the author wrote parentheses around `e`.
    fn parenthesized(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Binary(_, lhs, _) => e.span.start < lhs.span.start,
            _ => self.src.as_bytes().get(e.span.start as usize) == Some(&b'('),
        }
    }

    /// How tightly `e` binds as printed: its operator's precedence, atoms highest.
    fn precedence(&self, e: &Expr) -> u8 {
        if self.parenthesized(e) {
            return u8::MAX;
        }
        match &e.kind {
            ExprKind::Binary(op, ..) => binary_precedence(*op),
            ExprKind::Unary(UnaryOp::Not, _) => 3,
            ExprKind::Unary(UnaryOp::Neg, _) => 7,
            _ => u8::MAX,
        }
    }

    /// An expression, in parentheses when the author wrote them.
    fn expr(&self, e: &Expr) -> String {
        let inner = self.bare_expr(e);
        if self.parenthesized(e) {
            format!("({inner})")
        } else {
            inner
        }
    }

    /// An operand, in parentheses when precedence needs them or the author wrote them.
    fn operand(&self, e: &Expr, needs_parens: bool) -> String {
        if needs_parens && !self.parenthesized(e) {
            format!("({})", self.bare_expr(e))
        } else {
            self.expr(e)
        }
    }

    fn bare_expr(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(n) => self.number(e, *n),
            ExprKind::String(s) => self.text(s.span).to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Date(d) => self.text(d.span).to_string(),
            ExprKind::Timestamp(t) => self.timestamp(t),
            ExprKind::Duration(d) => self.duration(d),
            ExprKind::List(items) => {
                let items: Vec<String> = items.iter().map(|i| self.expr(i)).collect();
                format!("[{}]", items.join(", "))
            }
            ExprKind::Path(p) => path(p),
            ExprKind::Call(name, args) => {
                let args: Vec<String> = args.iter().map(|a| self.expr(a)).collect();
                format!("{}({})", name.text, args.join(", "))
            }
            ExprKind::Aggregate(a) => {
                let mut s = format!("{}({}", self.text(a.func_span), path(&a.target));
                if let Some(f) = &a.filter {
                    s.push_str(" where ");
                    s.push_str(&self.expr(f));
                }
                if let Some(w) = &a.window {
                    s.push_str(" over last ");
                    s.push_str(&self.duration(w));
                }
                s.push(')');
                s
            }
            ExprKind::Unary(UnaryOp::Not, x) => {
                format!("not {}", self.operand(x, self.precedence(x) < 3))
            }
            ExprKind::Unary(UnaryOp::Neg, x) => {
                let operand = self.operand(x, self.precedence(x) < 7);
                // `- -x`, not `--x`.
                let space = if operand.starts_with('-') { " " } else { "" };
                format!("-{space}{operand}")
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let p = binary_precedence(*op);
                format!(
                    "{} {} {}",
                    self.operand(lhs, self.precedence(lhs) < p),
                    op.symbol(),
                    self.operand(rhs, self.precedence(rhs) <= p)
                )
            }
        }
    }

    /// A number as written (it may sit inside the author's parentheses).
    fn number(&self, e: &Expr, n: f64) -> String {
        let b = self.src.as_bytes();
        let mut i = e.span.start as usize;
        loop {
            i = lex::skip_trivia(self.src, i);
            if b.get(i) == Some(&b'(') {
                i += 1;
            } else {
                break;
            }
        }
        match lex::token_at(self.src, i) {
            Some(t) if t.kind == Kind::Number => self.text_at(t.start, t.end).to_string(),
            _ => n.to_string(),
        }
    }
}

/// Binding strength of binary operators (`not` is 3 and unary minus 7).
fn binary_precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => 1,
        BinaryOp::And => 2,
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::In
        | BinaryOp::NotIn => 4,
        BinaryOp::Add | BinaryOp::Sub => 5,
        BinaryOp::Mul | BinaryOp::Div => 6,
    }
}

fn path(p: &Path) -> String {
    let segments: Vec<&str> = p.segments.iter().map(|s| s.text.as_str()).collect();
    segments.join(".")
}

fn idents(list: &[Ident]) -> String {
    let names: Vec<&str> = list.iter().map(|i| i.text.as_str()).collect();
    names.join(", ")
}

fn type_expr(t: &TypeExpr) -> String {
    let mut s = t.name.text.clone();
    if let Some(arg) = &t.arg {
        s.push('<');
        s.push_str(&type_expr(arg));
        s.push('>');
    }
    if t.optional {
        s.push('?');
    }
    s
}
