//! Completion in context.
//!
//! The text at the cursor is usually broken while typing (`send |` does not parse), so the
//! context is read from the tokens before the cursor (the [`crate::lexer`], from the start of
//! the enclosing declaration): the open brackets say which construct the cursor is in (a
//! journey body, a send's `{ params }`, an interpolation, an aggregate...), the last words of
//! the line say what comes next (`send` → channels, `send sms` → the templates for `sms`,
//! `profile.` → attributes, `signup.` → the properties of `signup`...). The names come from
//! the compiler's index of the current analysis and of the last analysis without syntax
//! errors. The syntax tree is not used here: the declaration being typed rarely parses, and
//! parsing the file on every keystroke would cost milliseconds; the tokens of the
//! declaration (its `entry on E` clauses, the `wait for E` above the cursor) give the
//! events in scope.

use std::collections::HashSet;

use journey_compiler::index::{DefKind, Definition};
use journey_grammar::ast::ItemKind;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind, Position,
};

use crate::handlers::hover::signature;
use crate::handlers::offset;
use crate::lexer::{TokKind, Token, lex};
use crate::state::{Analysis, DocSnapshot};
mod rules;

use crate::vocabulary::{
    AGGREGATES, BUILTIN_FUNCTIONS, CLAUSES, ITEM_KEYWORDS, KEYWORDS, STATEMENTS, TIME_UNITS, TYPES,
};

/// The construct an open bracket starts.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    Journey(String),
    Block,
    Timeline,
    Experiment,
    Fields,
    Params,
    Config,
    Channel,
    Template,
    Offer,
    Policy,
    Test,
    TestProfile,
    Args {
        event: Option<String>,
        channel: Option<String>,
    },
    Aggregate,
    Paren,
    List,
    Interp,
}

/// The completions at a position.
pub fn completion(snap: &DocSnapshot, pos: Position) -> Vec<CompletionItem> {
    let Some(at) = offset(snap, pos) else {
        return Vec::new();
    };
    let text = snap.text();
    let start = item_start(text, at as usize);
    let Some(chunk) = text.get(start..at as usize) else {
        return Vec::new();
    };
    let mut toks = lex(chunk);
    if let Some(last) = toks.last() {
        let s = last.text(chunk);
        let in_comment = matches!(last.kind, TokKind::Comment | TokKind::DocComment)
            && !(s.starts_with("/*") && s.ends_with("*/") && s.len() >= 4);
        if in_comment || inside_string(&toks, chunk) {
            return Vec::new();
        }
        // The word being typed is the client's to filter; it is not context.
        if last.kind == TokKind::Word && last.span.end as usize == chunk.len() {
            toks.pop();
        }
    }
    let ctx = Context::new(snap, chunk, toks);
    let mut out = Out::default();
    ctx.complete(&mut out);
    out.items
}

/// The byte offset where the declaration holding `offset` starts: the last line before it
/// that begins, in column 0, with a top-level keyword (as the parser's recovery cuts files).
fn item_start(text: &str, offset: usize) -> usize {
    let mut line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    loop {
        let line = text.get(line_start..).unwrap_or("");
        let word: String = line
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ITEM_KEYWORDS.contains(&word.as_str()) && line_start < offset {
            return line_start;
        }
        if line_start == 0 {
            return 0;
        }
        line_start = text
            .get(..line_start - 1)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1);
    }
}

/// Whether the lexed text ends inside a string literal's text.
fn inside_string(toks: &[Token], src: &str) -> bool {
    let Some(last) = toks.last() else {
        return false;
    };
    if last.kind != TokKind::Str {
        return false;
    }
    let s = last.text(src);
    let after_interp = toks.len() >= 2 && toks[toks.len() - 2].kind == TokKind::InterpClose;
    let closed = s.ends_with('"') && (s.len() >= 2 || after_interp) && !s.ends_with("\\\"");
    !closed
}

#[derive(Default)]
struct Out {
    items: Vec<CompletionItem>,
    seen: HashSet<String>,
}

impl Out {
    fn push(&mut self, item: CompletionItem) {
        if self.seen.insert(item.label.clone()) {
            self.items.push(item);
        }
    }
    fn keyword(&mut self, word: &str, detail: Option<&str>) {
        self.push(CompletionItem {
            label: word.to_string(),
            kind: Some(CompletionItemKind::KEYWORD),
            detail: detail.map(str::to_string),
            ..CompletionItem::default()
        });
    }
    fn keywords(&mut self, words: &[&str]) {
        for w in words {
            self.keyword(w, None);
        }
    }
}

struct Context<'a> {
    snap: &'a DocSnapshot,
    src: &'a str,
    toks: Vec<Token>,
    /// Open brackets: (frame, index of the first token after the opener).
    frames: Vec<(Frame, usize)>,
    /// The top-level keyword of the declaration, if the chunk starts with one.
    item: Option<&'a str>,
    /// The name after it.
    item_name: Option<&'a str>,
}

fn item_completion_kind(kind: DefKind) -> CompletionItemKind {
    match kind {
        DefKind::Event => CompletionItemKind::EVENT,
        DefKind::Property => CompletionItemKind::PROPERTY,
        DefKind::Attribute | DefKind::Parameter => CompletionItemKind::FIELD,
        DefKind::Segment => CompletionItemKind::VARIABLE,
        DefKind::Channel => CompletionItemKind::INTERFACE,
        DefKind::Template => CompletionItemKind::TEXT,
        DefKind::Offer => CompletionItemKind::VALUE,
        DefKind::Policy => CompletionItemKind::MODULE,
        DefKind::Journey => CompletionItemKind::CLASS,
        DefKind::Step | DefKind::Goal | DefKind::Experiment => CompletionItemKind::REFERENCE,
        DefKind::Test => CompletionItemKind::TEXT,
    }
}

impl<'a> Context<'a> {
    fn new(snap: &'a DocSnapshot, src: &'a str, toks: Vec<Token>) -> Context<'a> {
        let word = |i: usize| -> Option<&'a str> {
            toks.get(i)
                .filter(|t| t.kind == TokKind::Word)
                .map(|t| t.text(src))
        };
        let item = word(0).filter(|w| ITEM_KEYWORDS.contains(w));
        let item_name = item.and_then(|_| word(1));
        let mut ctx = Context {
            snap,
            src,
            toks,
            frames: Vec::new(),
            item,
            item_name,
        };
        ctx.frames = ctx.scan_frames();
        ctx
    }

    fn text(&self, i: usize) -> &'a str {
        let src = self.src;
        self.toks.get(i).map_or("", |t| t.text(src))
    }

    fn is_word(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.kind == TokKind::Word)
    }

    fn scan_frames(&self) -> Vec<(Frame, usize)> {
        let mut frames: Vec<(Frame, usize)> = Vec::new();
        for (i, tok) in self.toks.iter().enumerate() {
            let s = self.text(i);
            match tok.kind {
                TokKind::InterpOpen => frames.push((Frame::Interp, i + 1)),
                TokKind::InterpClose => {
                    frames.pop();
                }
                TokKind::Punct => match s {
                    "{" => {
                        let frame = self.classify_brace(i, &frames);
                        frames.push((frame, i + 1));
                    }
                    "(" => {
                        let agg = i > 0 && AGGREGATES.iter().any(|(a, _)| *a == self.text(i - 1));
                        frames.push((if agg { Frame::Aggregate } else { Frame::Paren }, i + 1));
                    }
                    "[" => frames.push((Frame::List, i + 1)),
                    "}" | ")" | "]" => {
                        frames.pop();
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        frames
    }

    /// What the `{` at token `i` opens, from the words before it.
    fn classify_brace(&self, i: usize, frames: &[(Frame, usize)]) -> Frame {
        let from = frames.last().map_or(0, |(_, s)| *s);
        // The words since the enclosing opener, back to the last closing brace.
        let mut head: Vec<usize> = Vec::new();
        let brace_line = self.line_of(i);
        let mut j = i;
        while j > from {
            j -= 1;
            if matches!(self.text(j), "}" | "{") || self.line_of(j) != brace_line {
                break;
            }
            head.push(j);
        }
        head.reverse();
        let w: Vec<&str> = head.iter().map(|&k| self.text(k)).collect();
        let outer = frames.last().map(|(f, _)| f);
        let first = w.first().copied().unwrap_or("");
        let last = w.last().copied().unwrap_or("");
        if outer.is_none() {
            return match (first, self.item) {
                (_, Some("journey")) => Frame::Journey(self.item_name.unwrap_or("").to_string()),
                (_, Some("profile" | "event")) => Frame::Fields,
                (_, Some("channel")) => Frame::Channel,
                (_, Some("template")) => Frame::Template,
                (_, Some("offer")) => Frame::Offer,
                (_, Some("policy")) => Frame::Policy,
                (_, Some("test")) => Frame::Test,
                _ => Frame::Block,
            };
        }
        if let Some(p) = w.iter().rposition(|x| *x == "send") {
            let channel = w.get(p + 1).map(|s| s.to_string());
            if w.len() > p + 2 {
                return Frame::Args {
                    event: None,
                    channel,
                };
            }
        }
        let before_last = w.len().checked_sub(2).and_then(|k| w.get(k)).copied();
        match (outer, first, last) {
            (Some(Frame::Channel), _, "params") => Frame::Params,
            (Some(Frame::Channel), _, "config") => Frame::Config,
            (Some(Frame::Test), _, "profile") if before_last == Some("given") => Frame::TestProfile,
            (Some(Frame::Test), _, _) if before_last == Some("event") => Frame::Args {
                event: Some(last.to_string()),
                channel: None,
            },
            _ if before_last == Some("emit") => Frame::Args {
                event: Some(last.to_string()),
                channel: None,
            },
            (_, _, "timeline") => Frame::Timeline,
            _ if before_last == Some("experiment") => Frame::Experiment,
            _ => Frame::Block,
        }
    }

    /// The 0-based line of token `i` in the chunk.
    fn line_of(&self, i: usize) -> usize {
        let at = self.toks.get(i).map_or(0, |t| t.span.start as usize);
        self.src.get(..at).map_or(0, |s| s.matches('\n').count())
    }

    /// Tokens after the innermost opener that are on the cursor's line.
    fn line_tokens(&self) -> Vec<usize> {
        let from = self.frames.last().map_or(0, |(_, s)| *s);
        let cursor_line_start = self.src.rfind('\n').map_or(0, |i| i + 1) as u32;
        (from..self.toks.len())
            .filter(|&i| self.toks[i].span.start >= cursor_line_start)
            .collect()
    }

    // ------------------------------------------------------------------ names

    fn analyses(&self) -> Vec<&'a Analysis> {
        let mut v = vec![&*self.snap.current.analysis];
        if let Some(g) = &self.snap.good
            && !std::sync::Arc::ptr_eq(&g.analysis, &self.snap.current.analysis)
        {
            v.push(&*g.analysis);
        }
        v
    }

    fn push_def(&self, out: &mut Out, analysis: &Analysis, def: &Definition) {
        let detail = signature(&analysis.compilation.index.defs, def);
        out.push(CompletionItem {
            label: def.name.clone(),
            kind: Some(item_completion_kind(def.kind)),
            detail: Some(detail),
            documentation: def.docs.as_ref().map(|d| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: d.trim().to_string(),
                })
            }),
            ..CompletionItem::default()
        });
    }

    /// Every definition of a kind (optionally filtered).
    fn names(&self, out: &mut Out, kind: DefKind, filter: impl Fn(&Definition) -> bool) {
        for a in self.analyses() {
            for d in &a.compilation.index.defs {
                if d.kind == kind && filter(d) {
                    self.push_def(out, a, d);
                }
            }
        }
    }

    /// The members of a kind of a named container (the properties of an event...).
    fn members(&self, out: &mut Out, parent: DefKind, name: &str, kind: DefKind, skip: &[&str]) {
        for a in self.analyses() {
            let defs = &a.compilation.index.defs;
            let parents: Vec<u32> = defs
                .iter()
                .enumerate()
                .filter(|(_, d)| d.kind == parent && d.name == name)
                .map(|(i, _)| i as u32)
                .collect();
            for d in defs {
                if d.kind == kind
                    && d.container.is_some_and(|c| parents.contains(&c))
                    && !skip.contains(&d.name.as_str())
                {
                    self.push_def(out, a, d);
                }
            }
        }
    }

    fn is_def(&self, kind: DefKind, name: &str) -> bool {
        self.analyses().iter().any(|a| {
            a.compilation
                .index
                .defs
                .iter()
                .any(|d| d.kind == kind && d.name == name)
        })
    }

    fn offer_fields(&self, out: &mut Out) {
        out.push(CompletionItem {
            label: "name".into(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some("offer.name: string — the offer's declared name".into()),
            ..CompletionItem::default()
        });
        for a in self.analyses() {
            for file in a.file_ids() {
                let Some(ast) = a.ast(file) else { continue };
                for item in &ast.items {
                    if let ItemKind::Offer(o) = &item.kind {
                        for f in &o.fields {
                            out.push(CompletionItem {
                                label: f.name.text.clone(),
                                kind: Some(CompletionItemKind::FIELD),
                                detail: Some(format!("offer.{}: string", f.name.text)),
                                ..CompletionItem::default()
                            });
                        }
                    }
                }
            }
        }
    }

    /// The events whose properties can be read at the cursor (an approximation of the
    /// compiler's flow analysis: the entry event, events waited for earlier in the journey,
    /// the event of the clause being written).
    fn events_in_scope(&self, line: &[usize]) -> Vec<String> {
        let mut events = Vec::new();
        let words: Vec<&str> = line.iter().map(|&i| self.text(i)).collect();
        // `entry on E where`, `exit on E where`, `goal G on E where`, `wait for E where`.
        if let Some(p) = words.iter().position(|w| *w == "where")
            && p >= 2
            && matches!(words[p - 2], "on" | "for")
        {
            events.push(words[p - 1].to_string());
        }
        match self.item {
            Some("journey") => {
                // From the tokens, not the syntax tree: the journey being edited rarely
                // parses, and parsing the file on every completion would cost milliseconds.
                events.extend(self.lexical_entry_event());
                for i in 1..self.toks.len() {
                    if self.text(i - 1) == "for"
                        && i >= 2
                        && self.text(i - 2) == "wait"
                        && self.is_word(i)
                    {
                        events.push(self.text(i).to_string());
                    }
                }
            }
            Some("template") => {
                for a in self.analyses() {
                    for d in &a.compilation.index.defs {
                        if d.kind == DefKind::Event {
                            events.push(d.name.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        let mut seen = HashSet::new();
        events.retain(|e| seen.insert(e.clone()));
        events
    }

    /// The entry event, read from the tokens: when every `entry` of the journey is
    /// `entry on EVENT` with the same event (the compiler's rule for the steps' scope).
    fn lexical_entry_event(&self) -> Option<String> {
        let mut event: Option<&str> = None;
        for i in 0..self.toks.len() {
            if self.text(i) != "entry" || !self.is_word(i) {
                continue;
            }
            let (on, e) = (self.text(i + 1), self.text(i + 2));
            if on != "on" || matches!(e, "entering" | "leaving") || !self.is_word(i + 2) {
                return None;
            }
            match event {
                Some(prev) if prev != e => return None,
                _ => event = Some(e),
            }
        }
        event.map(str::to_string)
    }

    fn expression(&self, out: &mut Out, events: &[String], offer: bool) {
        for a in self.analyses() {
            for d in &a.compilation.index.defs {
                if d.kind == DefKind::Event && events.contains(&d.name) {
                    let mut item = CompletionItem {
                        label: d.name.clone(),
                        kind: Some(CompletionItemKind::EVENT),
                        detail: Some(format!(
                            "{} (in scope: read its properties with `{}.`)",
                            signature(&a.compilation.index.defs, d),
                            d.name
                        )),
                        ..CompletionItem::default()
                    };
                    item.sort_text = Some(format!("0{}", d.name));
                    out.push(item);
                }
            }
        }
        out.keyword("profile", Some("the customer's profile: `profile.ATTR`"));
        if offer {
            out.keyword(
                "offer",
                Some("the offer chosen for this send: `offer.FIELD`"),
            );
        }
        self.names(out, DefKind::Segment, |_| true);
        for (f, sig) in AGGREGATES.iter().chain(BUILTIN_FUNCTIONS) {
            out.push(CompletionItem {
                label: f.to_string(),
                kind: Some(CompletionItemKind::FUNCTION),
                detail: Some(sig.to_string()),
                ..CompletionItem::default()
            });
        }
        out.keywords(&["true", "false", "not"]);
    }

    fn statements(&self, out: &mut Out, journey_level: bool) {
        for (kw, doc) in STATEMENTS {
            out.keyword(kw, Some(doc));
        }
        if journey_level {
            for (kw, doc) in CLAUSES {
                out.keyword(kw, Some(doc));
            }
        }
    }

    fn journey_members(&self, out: &mut Out, kind: DefKind) {
        let name = self.item_name.unwrap_or("");
        self.members(out, DefKind::Journey, name, kind, &[]);
    }

    // ------------------------------------------------------------------ the decision

    fn complete(&self, out: &mut Out) {
        let n = self.toks.len();
        let frame = self.frames.last().map(|(f, _)| f.clone());
        let frame_start = self.frames.last().map_or(0, |(_, s)| *s);
        let mut line = self.line_tokens();
        let t = |k: usize| -> &str {
            // The k-th word from the end (1 = last).
            if k == 0 || k > n {
                ""
            } else {
                self.text(n - k)
            }
        };

        // `X.`: members of X.
        if t(1) == "." && n >= 2 {
            let x = t(2);
            match x {
                "profile" => self.names(out, DefKind::Attribute, |_| true),
                "offer" => self.offer_fields(out),
                _ if self.is_def(DefKind::Event, x) => {
                    self.members(out, DefKind::Event, x, DefKind::Property, &[])
                }
                _ if self.is_def(DefKind::Journey, x) => {
                    self.members(out, DefKind::Journey, x, DefKind::Step, &[]);
                    self.members(out, DefKind::Journey, x, DefKind::Goal, &[]);
                }
                _ => {}
            }
            return;
        }

        // Name positions of `{ name: value, ... }` blocks.
        let after_colon = (frame_start..n)
            .rev()
            .take_while(|&i| self.text(i) != ",")
            .any(|i| self.text(i) == ":");
        match &frame {
            Some(Frame::Args { event, channel }) => {
                let given: Vec<&str> = (frame_start..n)
                    .filter(|&i| self.is_word(i) && self.text(i + 1) == ":")
                    .map(|i| self.text(i))
                    .collect();
                if !after_colon {
                    if let Some(ch) = channel {
                        self.members(out, DefKind::Channel, ch, DefKind::Parameter, &given);
                    }
                    if let Some(ev) = event {
                        self.members(out, DefKind::Event, ev, DefKind::Property, &given);
                    }
                    return;
                }
                let events = self.events_in_scope(&line);
                self.expression(out, &events, channel.is_some());
                return;
            }
            Some(Frame::TestProfile) => {
                if !after_colon {
                    let given: Vec<&str> = (frame_start..n)
                        .filter(|&i| self.is_word(i) && self.text(i + 1) == ":")
                        .map(|i| self.text(i))
                        .collect();
                    self.names(out, DefKind::Attribute, |d| {
                        !given.contains(&d.name.as_str())
                    });
                }
                return;
            }
            Some(Frame::Fields | Frame::Params) => {
                if t(1) == ":" || t(1) == "<" {
                    out.keywords(TYPES);
                }
                return;
            }
            Some(Frame::Config | Frame::Template) => return,
            _ => {}
        }

        // Leading `label:` and `critical` do not change what a statement can be.
        if line.len() >= 2
            && self.is_word(line[0])
            && self.text(line[1]) == ":"
            && matches!(
                frame,
                Some(Frame::Journey(_) | Frame::Block | Frame::Timeline)
            )
        {
            line.drain(..2);
        }
        if line.first().is_some_and(|&i| self.text(i) == "critical") {
            line.remove(0);
        }
        let words: Vec<&str> = line.iter().map(|&i| self.text(i)).collect();
        let w = |k: usize| -> &str {
            if k == 0 || k > words.len() {
                ""
            } else {
                words[words.len() - k]
            }
        };

        // Aggregates: `count(|` takes an event, `count(E where |` a condition on it.
        if frame == Some(Frame::Aggregate) {
            let inner: Vec<&str> = (frame_start..n).map(|i| self.text(i)).collect();
            match inner.as_slice() {
                [] => self.names(out, DefKind::Event, |_| true),
                [_] | [_, ".", _] => out.keywords(&["where", "over last"]),
                _ if w(1) == "over" => out.keyword("last", None),
                _ if matches!(w(1), "last") => {}
                _ => {
                    let ev = inner
                        .first()
                        .map(|s| s.to_string())
                        .into_iter()
                        .collect::<Vec<_>>();
                    if is_operand_end(w(1)) && !inner.contains(&"over") {
                        out.keywords(&["and", "or", "over last"]);
                    } else {
                        self.expression(out, &ev, false);
                    }
                }
            }
            return;
        }

        // What the last words of the line ask for.
        if self.keyword_rules(out, &words, frame.as_ref()) {
            return;
        }

        // Expressions.
        let in_expr_frame = matches!(frame, Some(Frame::Paren | Frame::List | Frame::Interp));
        let introducer = is_introducer(w(1));
        if introducer || (in_expr_frame && (words.is_empty() || matches!(w(1), "," | "(" | "["))) {
            let events = self.events_in_scope(&line);
            let in_send = words.contains(&"send")
                || self.frames.iter().any(|(f, _)| {
                    matches!(
                        f,
                        Frame::Args {
                            channel: Some(_),
                            ..
                        }
                    )
                });
            self.expression(out, &events, in_send || self.item == Some("template"));
            return;
        }
        if in_expr_frame || (!words.is_empty() && words.iter().any(|x| is_introducer(x))) {
            if is_operand_end(w(1)) {
                out.keywords(&["and", "or", "not in", "in"]);
                if words.contains(&"wait") {
                    out.keywords(&["within", "else"]);
                }
                if words.contains(&"goal") {
                    out.keyword("within", None);
                }
            }
            return;
        }

        // Statement starts.
        if words.is_empty() {
            match &frame {
                None => {
                    if self.toks.is_empty()
                        || self.text(n - 1) == "}"
                        || self.item.is_none()
                        || line_is_item_start(self.src)
                    {
                        out.keywords(ITEM_KEYWORDS);
                    } else if self.item == Some("segment") {
                        self.expression(out, &[], false);
                    }
                }
                Some(Frame::Journey(_)) => self.statements(out, true),
                Some(Frame::Block) => self.statements(out, false),
                Some(Frame::Timeline) => {
                    out.keywords(&["day", "week", "month", "year"]);
                    self.statements(out, false);
                }
                Some(Frame::Experiment) => out.keywords(&["variant", "holdout"]),
                Some(Frame::Channel) => out.keywords(&["config", "params", "requires"]),
                Some(Frame::Offer) => {
                    out.keywords(&["eligible when", "priority", "valid from", "valid until"])
                }
                Some(Frame::Policy) => {
                    out.keywords(&["at most", "quiet hours", "priority", "exempt"])
                }
                Some(Frame::Test) => out.keywords(&[
                    "given profile",
                    "given customer",
                    "at",
                    "run until",
                    "expect",
                ]),
                _ => {}
            }
        }
    }
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && !KEYWORDS.contains(&s)
}

fn is_unit(s: &str) -> bool {
    TIME_UNITS.contains(&s)
}

/// Words after which an expression starts.
fn is_introducer(s: &str) -> bool {
    matches!(
        s,
        "where"
            | "when"
            | "if"
            | "="
            | "=="
            | "!="
            | "<"
            | "<="
            | ">"
            | ">="
            | "+"
            | "-"
            | "*"
            | "/"
            | "and"
            | "or"
            | "not"
            | "in"
            | "requires"
    )
}

/// Whether a word can end an operand (so an operator may follow).
fn is_operand_end(s: &str) -> bool {
    s == ")"
        || s == "]"
        || s.ends_with('"')
        || s.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !matches!(
                s,
                "where" | "when" | "if" | "and" | "or" | "not" | "in" | "requires"
            )
}

/// Whether the cursor's line is empty before the cursor and starts in column 0 (a place for
/// a new declaration).
fn line_is_item_start(src: &str) -> bool {
    let line = src.rsplit('\n').next().unwrap_or("");
    line.is_empty()
}
