//! Walks over the syntax tree for editor features: every duration and calendar offset with
//! the place it is used, and a cheap parse of the one declaration under the cursor (for
//! hover).

use journey_grammar::ast::{
    self, CalendarOffset, DurationLit, Expr, ExprKind, ItemKind, Message, PolicyRule, Reentry,
    Stmt, StmtKind, StrPiece, StringLit, TestItem, TimeLit,
};

/// Where a duration literal is used; decides how hover explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUse {
    /// `wait D`.
    Wait,
    /// `wait for E within D`.
    WaitTimeout,
    /// `exit after D`.
    ExitAfter,
    /// `reentry after D`.
    ReentryAfter,
    /// `goal ... within D`.
    GoalWithin,
    /// `over last D` in an aggregate.
    Window,
    /// `at most N ... per D` in a policy.
    Cap,
    /// A value in an expression.
    Value,
}

/// A literal that measures time.
#[derive(Debug, Clone, Copy)]
pub enum TimeLiteral {
    /// `N unit`: a duration, or a calendar offset for months and years.
    Duration(DurationLit, TimeUse),
    /// A timeline offset `day N`, `week N`, `month N`, `year N`, with its `at HH:MM`.
    Calendar(CalendarOffset, Option<TimeLit>),
}

impl TimeLiteral {
    /// Where it is written.
    pub fn span(&self) -> ast::Span {
        match self {
            TimeLiteral::Duration(d, _) => d.span,
            TimeLiteral::Calendar(c, at) => at.map_or(c.span, |a| c.span.cover(a.span)),
        }
    }
}

/// The time literal under a byte offset.
pub fn time_literal_at(file: &ast::File, offset: u32) -> Option<TimeLiteral> {
    let mut found = None;
    for item in &file.items {
        if !item.span.contains(offset) {
            continue;
        }
        visit_item(item, &mut |t: TimeLiteral| {
            if t.span().contains(offset) {
                found = Some(t);
            }
        });
    }
    found
}

/// Calls `f` on every time literal of an item.
pub fn visit_item(item: &ast::Item, f: &mut impl FnMut(TimeLiteral)) {
    match &item.kind {
        ItemKind::Import(_) | ItemKind::Event(_) => {}
        ItemKind::Profile(p) => {
            for field in &p.fields {
                if let Some(e) = &field.default {
                    visit_expr(e, f);
                }
            }
        }
        ItemKind::Segment(s) => visit_expr(&s.condition, f),
        ItemKind::Channel(c) => {
            if let Some(e) = &c.consent {
                visit_expr(e, f);
            }
        }
        ItemKind::Template(t) => {
            for part in &t.parts {
                visit_string(&part.text, f);
            }
        }
        ItemKind::Offer(o) => {
            for e in [&o.eligible, &o.valid_from, &o.valid_until]
                .into_iter()
                .flatten()
            {
                visit_expr(e, f);
            }
        }
        ItemKind::Policy(p) => {
            for rule in &p.rules {
                if let PolicyRule::Cap { window, .. } = rule {
                    f(TimeLiteral::Duration(*window, TimeUse::Cap));
                }
            }
        }
        ItemKind::Journey(j) => {
            for e in &j.entries {
                if let Some(c) = &e.condition {
                    visit_expr(c, f);
                }
            }
            for r in &j.reentry {
                if let Reentry::After(d, _) = r {
                    f(TimeLiteral::Duration(*d, TimeUse::ReentryAfter));
                }
            }
            for x in &j.exits {
                match x {
                    ast::ExitClause::On { condition, .. } => {
                        if let Some(c) = condition {
                            visit_expr(c, f);
                        }
                    }
                    ast::ExitClause::When(e, _) => visit_expr(e, f),
                    ast::ExitClause::After(d, _) => {
                        f(TimeLiteral::Duration(*d, TimeUse::ExitAfter))
                    }
                }
            }
            for g in &j.goals {
                if let Some(c) = &g.condition {
                    visit_expr(c, f);
                }
                f(TimeLiteral::Duration(g.within, TimeUse::GoalWithin));
            }
            visit_stmts(&j.body, f);
        }
        ItemKind::Test(t) => {
            for it in &t.items {
                match it {
                    TestItem::Profile(args, _) | TestItem::Event { args, .. } => {
                        for a in args {
                            visit_expr(&a.value, f);
                        }
                    }
                    TestItem::Set { value, .. } => visit_expr(value, f),
                    _ => {}
                }
            }
        }
    }
}

fn visit_stmts(stmts: &[Stmt], f: &mut impl FnMut(TimeLiteral)) {
    for s in stmts {
        visit_stmt(s, f);
    }
}

fn visit_stmt(s: &Stmt, f: &mut impl FnMut(TimeLiteral)) {
    match &s.kind {
        StmtKind::Send(send) => {
            if let Message::Inline(text) = &send.message {
                visit_string(text, f);
            }
            for a in &send.args {
                visit_expr(&a.value, f);
            }
        }
        StmtKind::Wait(d) => f(TimeLiteral::Duration(*d, TimeUse::Wait)),
        StmtKind::WaitUntil { .. } | StmtKind::Exit => {}
        StmtKind::WaitFor(w) => {
            if let Some(c) = &w.condition {
                visit_expr(c, f);
            }
            if let Some(d) = &w.timeout {
                f(TimeLiteral::Duration(*d, TimeUse::WaitTimeout));
            }
            if let Some(b) = &w.on_timeout {
                visit_stmts(&b.stmts, f);
            }
        }
        StmtKind::If(i) => {
            visit_expr(&i.condition, f);
            visit_stmts(&i.then.stmts, f);
            if let Some(b) = &i.otherwise {
                visit_stmts(&b.stmts, f);
            }
        }
        StmtKind::Scenario(sc) => {
            for (_, b) in &sc.arms {
                visit_stmts(&b.stmts, f);
            }
            if let Some(b) = &sc.otherwise {
                visit_stmts(&b.stmts, f);
            }
        }
        StmtKind::Experiment(x) => {
            for v in &x.variants {
                visit_stmts(&v.body.stmts, f);
            }
        }
        StmtKind::Timeline(entries) => {
            for e in entries {
                f(TimeLiteral::Calendar(e.offset, e.at));
                visit_stmts(&e.body, f);
            }
        }
        StmtKind::Set { value, .. } => visit_expr(value, f),
        StmtKind::Emit { args, .. } => {
            for a in args {
                visit_expr(&a.value, f);
            }
        }
    }
}

fn visit_string(s: &StringLit, f: &mut impl FnMut(TimeLiteral)) {
    for p in &s.pieces {
        if let StrPiece::Interp(e) = p {
            visit_expr(e, f);
        }
    }
}

fn visit_expr(e: &Expr, f: &mut impl FnMut(TimeLiteral)) {
    match &e.kind {
        ExprKind::Duration(d) => f(TimeLiteral::Duration(*d, TimeUse::Value)),
        ExprKind::String(s) => visit_string(s, f),
        ExprKind::List(items) | ExprKind::Call(_, items) => {
            for x in items {
                visit_expr(x, f);
            }
        }
        ExprKind::Aggregate(a) => {
            if let Some(c) = &a.filter {
                visit_expr(c, f);
            }
            if let Some(w) = &a.window {
                f(TimeLiteral::Duration(*w, TimeUse::Window));
            }
        }
        ExprKind::Unary(_, x) => visit_expr(x, f),
        ExprKind::Binary(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Number(_)
        | ExprKind::Bool(_)
        | ExprKind::Date(_)
        | ExprKind::Timestamp(_)
        | ExprKind::Path(_) => {}
    }
}

/// Parses only the declaration around `offset` (from the last line before it that starts, in
/// column 0, with a declaration keyword, to the next such line), as the parser's recovery
/// cuts files: a cheap parse for requests about one place. Returns the tree and the byte
/// offset its spans are relative to.
pub fn parse_item_at(text: &str, offset: u32) -> (ast::File, u32) {
    let offset = (offset as usize).min(text.len());
    let starts_item = |line: &str| {
        let word: String = line
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        crate::vocabulary::ITEM_KEYWORDS.contains(&word.as_str())
    };
    let mut start = 0;
    let mut end = text.len();
    let mut at = 0;
    let mut doc_start: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        if line.starts_with("///") {
            doc_start.get_or_insert(at);
        } else {
            if starts_item(line) {
                let s = doc_start.unwrap_or(at);
                if at <= offset {
                    start = s;
                } else {
                    end = s;
                    break;
                }
            }
            doc_start = None;
        }
        at += line.len();
    }
    let chunk = text.get(start..end).unwrap_or("");
    (journey_grammar::parse(chunk).file, start as u32)
}

/// A duration in words: `168 hours (604,800 seconds)`.
pub fn seconds_in_words(secs: f64) -> String {
    let total = secs.round() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    let mut parts = Vec::new();
    for (n, unit) in [(d, "day"), (h, "hour"), (m, "minute"), (s, "second")] {
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    let hours = total as f64 / 3_600.0;
    let words = if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(" ")
    };
    if total >= 86_400 {
        format!(
            "{words} = {} hours ({} seconds)",
            trim_float(hours),
            thousands(total)
        )
    } else {
        format!("{words} ({} seconds)", thousands(total))
    }
}

fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{}", x as u64)
    } else {
        format!("{x:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// `604800` → `604,800`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            seconds_in_words(604_800.0),
            "7 days = 168 hours (604,800 seconds)"
        );
        assert_eq!(
            seconds_in_words(5_400.0),
            "1 hour 30 minutes (5,400 seconds)"
        );
        assert_eq!(
            seconds_in_words(129_600.0),
            "1 day 12 hours = 36 hours (129,600 seconds)"
        );
    }
}
