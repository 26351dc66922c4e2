//! Document symbols (the outline: declarations, and inside journeys the goals, scenarios,
//! timeline entries, experiments, waits and sends) and workspace symbols (every declaration
//! of every project, filtered by the query).

#![allow(deprecated)] // `DocumentSymbol::deprecated` must still be written.

use std::sync::Arc;

use journey_compiler::index::DefKind;
use journey_grammar::ast::{self, CalendarUnit, ItemKind, Message, Span, Stmt, StmtKind};
use tower_lsp_server::ls_types::{DocumentSymbol, OneOf, SymbolKind, WorkspaceSymbol};

use crate::line_index::LineIndex;
use crate::state::{Analysis, DocSnapshot};

/// The outline of a document, from its current syntax tree (declarations that do not parse
/// are missing until they do).
pub fn document_symbols(snap: &DocSnapshot) -> Vec<DocumentSymbol> {
    let (Some(file), Some(lines)) = (snap.current.ast(), snap.current.lines()) else {
        return Vec::new();
    };
    let b = Builder { lines };
    file.items.iter().filter_map(|i| b.item(i)).collect()
}

struct Builder<'a> {
    lines: &'a LineIndex,
}

impl Builder<'_> {
    fn sym(
        &self,
        name: String,
        detail: Option<String>,
        kind: SymbolKind,
        full: Span,
        selection: Span,
        children: Vec<DocumentSymbol>,
    ) -> DocumentSymbol {
        let full = full.cover(selection);
        DocumentSymbol {
            name: if name.is_empty() { "_".into() } else { name },
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: self.lines.range(full),
            selection_range: self.lines.range(selection),
            children: (!children.is_empty()).then_some(children),
        }
    }

    fn fields(&self, fields: &[ast::Field], kind: SymbolKind) -> Vec<DocumentSymbol> {
        fields
            .iter()
            .map(|f| {
                self.sym(
                    f.name.text.clone(),
                    Some(ty_text(&f.ty)),
                    kind,
                    f.span,
                    f.name.span,
                    Vec::new(),
                )
            })
            .collect()
    }

    fn item(&self, item: &ast::Item) -> Option<DocumentSymbol> {
        let span = item.span;
        Some(match &item.kind {
            ItemKind::Import(i) => self.sym(
                format!("import {}", i.path.plain().unwrap_or_default()),
                None,
                SymbolKind::FILE,
                span,
                i.path.span,
                Vec::new(),
            ),
            ItemKind::Profile(p) => self.sym(
                "profile".into(),
                None,
                SymbolKind::STRUCT,
                span,
                p.keyword,
                self.fields(&p.fields, SymbolKind::FIELD),
            ),
            ItemKind::Event(e) => self.sym(
                e.name.text.clone(),
                Some("event".into()),
                SymbolKind::EVENT,
                span,
                e.name.span,
                self.fields(&e.fields, SymbolKind::PROPERTY),
            ),
            ItemKind::Segment(s) => self.sym(
                s.name.text.clone(),
                Some("segment".into()),
                SymbolKind::BOOLEAN,
                span,
                s.name.span,
                Vec::new(),
            ),
            ItemKind::Channel(c) => self.sym(
                c.name.text.clone(),
                Some(format!(
                    "channel \"{}\"",
                    c.plugin.plain().unwrap_or_default()
                )),
                SymbolKind::INTERFACE,
                span,
                c.name.span,
                c.params
                    .as_deref()
                    .map(|p| self.fields(p, SymbolKind::FIELD))
                    .unwrap_or_default(),
            ),
            ItemKind::Template(t) => self.sym(
                t.name.text.clone(),
                Some(format!("template for {}", t.channel.text)),
                SymbolKind::STRING,
                span,
                t.name.span,
                Vec::new(),
            ),
            ItemKind::Offer(o) => self.sym(
                o.name.text.clone(),
                Some("offer".into()),
                SymbolKind::OBJECT,
                span,
                o.name.span,
                Vec::new(),
            ),
            ItemKind::Policy(p) => self.sym(
                p.name.text.clone(),
                Some("policy".into()),
                SymbolKind::NAMESPACE,
                span,
                p.name.span,
                Vec::new(),
            ),
            ItemKind::Journey(j) => {
                let mut children: Vec<DocumentSymbol> = j
                    .goals
                    .iter()
                    .map(|g| {
                        self.sym(
                            g.name.text.clone(),
                            Some(format!("goal on {}", g.event.text)),
                            SymbolKind::KEY,
                            g.span,
                            g.name.span,
                            Vec::new(),
                        )
                    })
                    .collect();
                children.extend(self.stmts(&j.body));
                self.sym(
                    j.name.text.clone(),
                    Some("journey".into()),
                    SymbolKind::CLASS,
                    span,
                    j.name.span,
                    children,
                )
            }
            ItemKind::Test(t) => self.sym(
                t.name.plain().unwrap_or_default(),
                Some("test".into()),
                SymbolKind::METHOD,
                span,
                t.name.span,
                Vec::new(),
            ),
        })
    }

    fn stmts(&self, stmts: &[Stmt]) -> Vec<DocumentSymbol> {
        stmts.iter().flat_map(|s| self.stmt(s)).collect()
    }

    /// Statements worth an entry in the outline; others only contribute their children.
    fn stmt(&self, s: &Stmt) -> Vec<DocumentSymbol> {
        let label = s.label.as_ref();
        let named = |name: String, detail: Option<String>, kind, children| {
            let (name, selection) = match label {
                Some(l) => (format!("{}: {name}", l.text), l.span),
                None => (name, s.span),
            };
            vec![self.sym(name, detail, kind, s.span, selection, children)]
        };
        match &s.kind {
            StmtKind::Send(send) => {
                let msg = match &send.message {
                    Message::Template(t) => t.text.clone(),
                    Message::External(t) => {
                        format!("template \"{}\"", t.plain().unwrap_or_default())
                    }
                    Message::Inline(_) => "\"…\"".into(),
                };
                named(
                    format!("send {} {msg}", send.channel.text),
                    s.critical.map(|_| "critical".to_string()),
                    SymbolKind::FUNCTION,
                    Vec::new(),
                )
            }
            StmtKind::WaitFor(w) => named(
                format!("wait for {}", w.event.text),
                None,
                SymbolKind::EVENT,
                w.on_timeout
                    .as_ref()
                    .map(|b| self.stmts(&b.stmts))
                    .unwrap_or_default(),
            ),
            StmtKind::Scenario(sc) => {
                let mut out = Vec::new();
                for (seg, block) in &sc.arms {
                    out.push(self.sym(
                        format!("scenario for {}", seg.text),
                        None,
                        SymbolKind::ENUM_MEMBER,
                        seg.span.cover(block.span),
                        seg.span,
                        self.stmts(&block.stmts),
                    ));
                }
                if let Some(block) = &sc.otherwise {
                    out.push(self.sym(
                        "otherwise".into(),
                        None,
                        SymbolKind::ENUM_MEMBER,
                        block.span,
                        block.span,
                        self.stmts(&block.stmts),
                    ));
                }
                out
            }
            StmtKind::Timeline(entries) => {
                let children = entries
                    .iter()
                    .map(|e| {
                        let unit = match e.offset.unit {
                            CalendarUnit::Day => "day",
                            CalendarUnit::Week => "week",
                            CalendarUnit::Month => "month",
                            CalendarUnit::Year => "year",
                        };
                        let mut name = format!("{unit} {}", e.offset.count);
                        if let Some(at) = e.at {
                            name.push_str(&format!(" at {:02}:{:02}", at.hour, at.minute));
                        }
                        self.sym(
                            name,
                            None,
                            SymbolKind::KEY,
                            e.span,
                            e.offset.span,
                            self.stmts(&e.body),
                        )
                    })
                    .collect();
                named("timeline".into(), None, SymbolKind::ARRAY, children)
            }
            StmtKind::Experiment(x) => {
                let children = x
                    .variants
                    .iter()
                    .map(|v| {
                        self.sym(
                            v.name.text.clone(),
                            Some(format!("{}%", v.percent.0)),
                            SymbolKind::ENUM_MEMBER,
                            v.name.span.cover(v.body.span),
                            v.name.span,
                            self.stmts(&v.body.stmts),
                        )
                    })
                    .collect();
                named(
                    format!("experiment {}", x.name.text),
                    None,
                    SymbolKind::ENUM,
                    children,
                )
            }
            StmtKind::If(i) => {
                let mut children = self.stmts(&i.then.stmts);
                if let Some(b) = &i.otherwise {
                    children.extend(self.stmts(&b.stmts));
                }
                if label.is_some() {
                    named("if".into(), None, SymbolKind::OPERATOR, children)
                } else {
                    children
                }
            }
            _ => match label {
                Some(_) => named(
                    step_word(&s.kind).into(),
                    None,
                    SymbolKind::FUNCTION,
                    Vec::new(),
                ),
                None => Vec::new(),
            },
        }
    }
}

fn step_word(kind: &StmtKind) -> &'static str {
    match kind {
        StmtKind::Wait(_) | StmtKind::WaitUntil { .. } => "wait",
        StmtKind::Set { .. } => "set",
        StmtKind::Emit { .. } => "emit",
        StmtKind::Exit => "exit",
        _ => "step",
    }
}

fn ty_text(t: &ast::TypeExpr) -> String {
    let mut s = t.name.text.clone();
    if let Some(arg) = &t.arg {
        s.push_str(&format!("<{}>", ty_text(arg)));
    }
    if t.optional {
        s.push('?');
    }
    s
}

/// The symbol kind of a kind of definition.
pub fn symbol_kind(kind: DefKind) -> SymbolKind {
    match kind {
        DefKind::Event => SymbolKind::EVENT,
        DefKind::Property => SymbolKind::PROPERTY,
        DefKind::Attribute | DefKind::Parameter => SymbolKind::FIELD,
        DefKind::Segment => SymbolKind::BOOLEAN,
        DefKind::Channel => SymbolKind::INTERFACE,
        DefKind::Template => SymbolKind::STRING,
        DefKind::Offer => SymbolKind::OBJECT,
        DefKind::Policy => SymbolKind::NAMESPACE,
        DefKind::Journey => SymbolKind::CLASS,
        DefKind::Step => SymbolKind::FUNCTION,
        DefKind::Goal => SymbolKind::KEY,
        DefKind::Experiment => SymbolKind::ENUM,
        DefKind::Test => SymbolKind::METHOD,
    }
}

/// Whether `query` matches `name`: its characters appear in order, ignoring case (an empty
/// query matches everything).
pub fn fuzzy_match(query: &str, name: &str) -> bool {
    let mut chars = name.chars().flat_map(char::to_lowercase);
    query
        .chars()
        .flat_map(char::to_lowercase)
        .all(|q| chars.any(|c| c == q))
}

/// Every declaration of every project matching `query`, at most `limit`.
pub fn workspace_symbols(
    analyses: &[Arc<Analysis>],
    query: &str,
    limit: usize,
) -> Vec<WorkspaceSymbol> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for analysis in analyses {
        let defs = &analysis.compilation.index.defs;
        for def in defs {
            if def.kind == DefKind::Test || !fuzzy_match(query, &def.name) {
                continue;
            }
            let Some(location) = analysis.location(def.file, def.span) else {
                continue;
            };
            if !seen.insert((location.uri.clone(), location.range.start)) {
                continue;
            }
            out.push(WorkspaceSymbol {
                name: def.name.clone(),
                kind: symbol_kind(def.kind),
                tags: None,
                container_name: def
                    .container
                    .and_then(|c| defs.get(c as usize))
                    .map(|c| c.name.clone()),
                location: OneOf::Left(location),
                data: None,
            });
            if out.len() >= limit {
                return out;
            }
        }
    }
    out
}
