//! Journeys: entries, re-entry, exits, goals and the body, with the journey-level checks
//! (event scope along every path, unreachable steps, waits without timeout, timelines,
//! goal windows, critical moments) done in the same walk that generates code.

use std::collections::HashMap;

use journey_bytecode::*;
use journey_grammar::ast::{self, Span, StmtKind};

use crate::codes;
use crate::ctx::{Ctx, Kind};
use crate::expr::{Env, OfferScope, Scope};
use crate::index::DefKind;
use crate::types::Ty;

/// The longest a month can be, for upper bounds of calendar waits.
const MONTH_MAX: u64 = 31 * 86_400;
const MONTH_MIN: u64 = 28 * 86_400;
const DAY: u64 = 86_400;

/// What is known at a point of the body.
#[derive(Debug, Clone)]
struct Flow {
    /// Events whose properties are readable (sorted).
    events: Vec<EventId>,
    /// Whether the point can be reached.
    reachable: bool,
}

impl Flow {
    fn merge(arms: Vec<Flow>) -> Flow {
        let live: Vec<&Flow> = arms.iter().filter(|f| f.reachable).collect();
        match live.split_first() {
            None => Flow {
                events: arms.first().map(|f| f.events.clone()).unwrap_or_default(),
                reachable: false,
            },
            Some((first, rest)) => {
                let events = first
                    .events
                    .iter()
                    .copied()
                    .filter(|e| rest.iter().all(|f| f.events.binary_search(e).is_ok()))
                    .collect();
                Flow {
                    events,
                    reachable: true,
                }
            }
        }
    }
    fn with(&self, event: EventId) -> Flow {
        let mut events = self.events.clone();
        if let Err(i) = events.binary_search(&event) {
            events.insert(i, event);
        }
        Flow {
            events,
            reachable: self.reachable,
        }
    }
}

/// Upper bound of time spent, in seconds; `None` is unbounded.
type Dur = Option<u64>;

fn add(a: Dur, b: Dur) -> Dur {
    Some(a?.saturating_add(b?))
}
fn max(a: Dur, b: Dur) -> Dur {
    Some(a?.max(b?))
}

/// State of the journey being compiled.
struct JCtx {
    id: JourneyId,
    name: String,
    file: FileId,
    def: u32,
    /// Arms path for stable keys (`scenario#0[jeune]/`).
    /// Hash of the arms path for stable keys (`scenario#..[jeune]/...`), one per nesting level.
    path: Vec<u64>,
    occurrences: HashMap<(u64, u64), u32>,
    names_used: HashMap<String, u32>,
    labels: HashMap<String, StepId>,
    goals_after: HashMap<String, Vec<GoalId>>,
    critical: Vec<Span>,
    entry_events: Vec<EventId>,
    depth: u32,
    in_timeline: bool,
    timeline_seen: Option<Span>,
    timeline_max: Dur,
    has_exit_after: bool,
    max_life: Option<u64>,
}

impl Ctx<'_> {
    pub(crate) fn compile_journeys(&mut self) {
        let mut count = 0usize;
        for (file, item) in self.items() {
            if let ast::ItemKind::Journey(j) = &item.kind {
                count += 1;
                if count == journey_bytecode::MAX_JOURNEYS + 1 {
                    self.too_large(
                        file,
                        j.name.span,
                        format!(
                            "the journey `{}` is one more than the {} a project can have",
                            j.name.text,
                            journey_bytecode::MAX_JOURNEYS
                        ),
                        "one journey too many",
                        "split the project".to_string(),
                    );
                }
                let Some(d) = self.names.get(Kind::Journey, &j.name.text) else {
                    continue;
                };
                if d.file != file || d.span != j.name.span {
                    // A duplicate (already reported): still check its body, in a journey of its
                    // own that no name refers to (no program is produced after an error anyway).
                    let loc = self.loc(file, j.name.span);
                    let mut shadow = self.p.journeys[Ctx::entity::<JourneyId>(d.index)].clone();
                    shadow.loc = loc;
                    let id = self.p.journeys.push(shadow);
                    self.journey(file, j, id, d.def);
                    continue;
                }
                self.journey(file, j, Ctx::entity(d.index), d.def);
            }
        }
    }

    fn journey(&mut self, file: FileId, j: &ast::JourneyDecl, id: JourneyId, def: u32) {
        // What this journey's code reads from its instances' scope is recorded from here on.
        self.scope_reads.clear();
        // Entries.
        let mut entries = Vec::new();
        let mut entry_events: Option<Vec<EventId>> = None;
        let mut scheduled: Option<Span> = None;
        for e in &j.entries {
            let loc = self.loc(file, e.span);
            let mut scope = Vec::new();
            let trigger = match &e.trigger {
                ast::Trigger::Event(ev) => {
                    let Some(i) = self.resolve(Kind::Event, file, ev) else {
                        continue;
                    };
                    let ev: EventId = Ctx::entity(i);
                    scope.push(ev);
                    Trigger::Event(ev)
                }
                ast::Trigger::Segment { entering, segment } => {
                    let Some(i) = self.resolve(Kind::Segment, file, segment) else {
                        continue;
                    };
                    if *entering {
                        Trigger::SegmentEnter(Ctx::entity(i))
                    } else {
                        Trigger::SegmentLeave(Ctx::entity(i))
                    }
                }
                ast::Trigger::Yearly { date, at } => {
                    scheduled = Some(e.span);
                    let at = self.at_or(file, at, TimeOfDay { hour: 9, minute: 0 });
                    let attr = match (date.segments.first(), date.segments.get(1)) {
                        (Some(p), Some(a)) if p.text == "profile" && date.segments.len() == 2 => {
                            self.attribute(file, a)
                        }
                        _ => {
                            let d = self
                                .diag(
                                    &codes::TYPE_MISMATCH,
                                    file,
                                    date.span,
                                    "a yearly entry needs a date attribute of the profile",
                                )
                                .help("write `yearly on profile.birthday`");
                            self.emit_diag(d);
                            None
                        }
                    };
                    let Some(attr) = attr else { continue };
                    let ty = Ty::of(&self.p.attributes[attr].ty);
                    if !matches!(ty.strip(), Ty::Date | Ty::Timestamp) {
                        let d = self
                            .diag(
                                &codes::TYPE_MISMATCH,
                                file,
                                date.span,
                                format!("a yearly entry needs a date, but this is {ty}"),
                            )
                            .primary_label(format!("this is {ty}"));
                        self.emit_diag(d);
                        continue;
                    }
                    Trigger::Yearly { attr, at }
                }
                ast::Trigger::Monthly { day, at } => {
                    scheduled = Some(e.span);
                    let at = self.at_or(file, at, TimeOfDay { hour: 9, minute: 0 });
                    if !(1..=31).contains(&day.0) {
                        let d = self
                            .diag(&codes::INVALID_LITERAL, file, day.1, format!("there is no day {} in a month", day.0))
                            .primary_label("a day of the month is 1 to 31")
                            .help("days past a month's end run on its last day: `day 31` is the last day of every month");
                        self.emit_diag(d);
                        continue;
                    }
                    Trigger::Monthly {
                        day: day.0 as u8,
                        at,
                    }
                }
                ast::Trigger::Weekly { weekday, at } => {
                    scheduled = Some(e.span);
                    let at = self.at_or(file, at, TimeOfDay { hour: 9, minute: 0 });
                    Trigger::Weekly {
                        weekday: weekday_index(&weekday.text),
                        at,
                    }
                }
                ast::Trigger::Daily { at } => {
                    scheduled = Some(e.span);
                    let Some(at) = self.time(file, at) else {
                        continue;
                    };
                    Trigger::Daily { at }
                }
                ast::Trigger::Api => Trigger::Api,
            };
            let condition = e.condition.as_ref().map(|c| {
                let mut env = Env::new(
                    file,
                    Scope::Events(scope.clone()),
                    OfferScope::Forbidden,
                    "an entry condition",
                );
                // Tested before the instance exists: what it reads is the trigger.
                if let Some(&ev) = scope.first() {
                    env = env.with_candidate(ev);
                }
                self.condition_function(c, &mut env)
            });
            entry_events = Some(match entry_events {
                None => scope,
                Some(prev) => prev.into_iter().filter(|e| scope.contains(e)).collect(),
            });
            entries.push(EntryDef {
                trigger,
                condition,
                loc,
            });
        }
        if j.entries.len() > journey_bytecode::MAX_ENTRY_CLAUSES {
            self.too_large(
                file,
                j.name.span,
                format!(
                    "the journey `{}` has {} entry clauses, more than the runtime can schedule",
                    j.name.text,
                    j.entries.len()
                ),
                "too many `entry` clauses",
                format!(
                    "keep to {} entry clauses per journey: split the journey",
                    journey_bytecode::MAX_ENTRY_CLAUSES
                ),
            );
        }
        if j.entries.is_empty() {
            let d = self
                .diag(&codes::NO_ENTRY, file, j.name.span, format!("the journey `{}` has no entry", j.name.text))
                .primary_label("nothing starts this journey")
                .help("add an entry such as `entry on signup`, `entry monthly on day 1 at 09:00` or `entry by api`");
            self.emit_diag(d);
        }
        let mut entry_events = entry_events.unwrap_or_default();
        entry_events.sort();
        // Re-entry.
        let mut reentry = Reentry::Never;
        for (i, r) in j.reentry.iter().enumerate() {
            let span = match r {
                ast::Reentry::Never(s) | ast::Reentry::AfterExit(s) | ast::Reentry::After(_, s) => {
                    *s
                }
            };
            if i > 0 {
                let d = self
                    .diag(
                        &codes::DUPLICATE,
                        file,
                        span,
                        "the re-entry rule is written twice",
                    )
                    .help("keep one `reentry` line");
                self.emit_diag(d);
                continue;
            }
            reentry = match r {
                ast::Reentry::Never(_) => Reentry::Never,
                ast::Reentry::AfterExit(_) => Reentry::AfterExit,
                ast::Reentry::After(d, _) => match self.duration_secs(file, d) {
                    Some(s) => Reentry::After(s),
                    None => Reentry::Never,
                },
            };
        }
        if let (Some(span), Reentry::Never) = (scheduled, reentry) {
            let d = self
                .diag(
                    &codes::SCHEDULE_WITHOUT_REENTRY,
                    file,
                    span,
                    "this recurring entry will start the journey only once per customer",
                )
                .primary_label("recurring entry")
                .note("without a `reentry` rule, a customer enters a journey once in their life")
                .help("add `reentry after exit`");
            self.emit_diag(d);
        }
        // Exits.
        let mut exits = Vec::new();
        let mut max_lifetime: Option<(u64, Span)> = None;
        for x in &j.exits {
            match x {
                ast::ExitClause::On {
                    event,
                    condition,
                    span,
                } => {
                    let Some(i) = self.resolve(Kind::Event, file, event) else {
                        continue;
                    };
                    let ev: EventId = Ctx::entity(i);
                    let condition = condition.as_ref().map(|c| {
                        let mut env = Env::new(
                            file,
                            Scope::Events(vec![ev]),
                            OfferScope::Forbidden,
                            "an exit condition",
                        )
                        .with_candidate(ev);
                        self.condition_function(c, &mut env)
                    });
                    let loc = self.loc(file, *span);
                    exits.push(ExitDef::Event {
                        event: ev,
                        condition,
                        loc,
                    });
                }
                ast::ExitClause::When(c, span) => {
                    let mut env = Env::new(
                        file,
                        Scope::Events(entry_events.clone()),
                        OfferScope::Forbidden,
                        "an exit condition",
                    );
                    let condition = self.condition_function(c, &mut env);
                    let loc = self.loc(file, *span);
                    exits.push(ExitDef::When { condition, loc });
                }
                ast::ExitClause::After(d, span) => {
                    if let Some((_, prev)) = max_lifetime {
                        let d = self.twice(file, *span, "`exit after`", "written", (file, prev));
                        self.emit_diag(d);
                        continue;
                    }
                    if let Some(s) = self.duration_secs(file, d) {
                        max_lifetime = Some((s, d.span));
                    }
                }
            }
        }
        // Labels and goals.
        let mut jc = JCtx {
            id,
            name: j.name.text.clone(),
            file,
            def,
            path: Vec::new(),
            occurrences: HashMap::new(),
            names_used: HashMap::new(),
            labels: HashMap::new(),
            goals_after: HashMap::new(),
            critical: Vec::new(),
            entry_events: entry_events.clone(),
            depth: 0,
            in_timeline: false,
            timeline_seen: None,
            timeline_max: Some(0),
            has_exit_after: max_lifetime.is_some(),
            max_life: max_lifetime.map(|(s, _)| s),
        };
        let mut label_spans: HashMap<String, Span> = HashMap::new();
        collect_labels(&j.body, &mut |l: &ast::Ident| {
            if let Some(prev) = label_spans.get(&l.text) {
                let what = format!("the label `{}`", l.text);
                let d = self.twice(file, l.span, what, "used", (file, *prev));
                self.emit_diag(d);
            } else {
                label_spans.insert(l.text.clone(), l.span);
            }
        });
        let mut goal_ids = Vec::new();
        for (gi, g) in j.goals.iter().enumerate() {
            if let Some(prev) = j.goals[..gi].iter().find(|p| p.name.text == g.name.text) {
                let what = format!("the goal `{}`", g.name.text);
                let d = self.twice(file, g.name.span, what, "declared", (file, prev.name.span));
                self.emit_diag(d);
                continue;
            }
            // A goal with an error is still registered, so tests naming it do not cascade.
            let ev: EventId = self
                .resolve(Kind::Event, file, &g.event)
                .map(Ctx::entity)
                .unwrap_or(EventId::from_u32(0));
            let condition = g.condition.as_ref().map(|c| {
                let mut scope = entry_events.clone();
                if let Err(i) = scope.binary_search(&ev) {
                    scope.insert(i, ev);
                }
                let mut env = Env::new(
                    file,
                    Scope::Events(scope),
                    OfferScope::Forbidden,
                    "a goal condition",
                )
                .with_candidate(ev);
                self.condition_function(c, &mut env)
            });
            let window = self.duration_secs(file, &g.within).unwrap_or(0);
            if let Some(after) = &g.after
                && !label_spans.contains_key(&after.text)
            {
                let known: Vec<String> = label_spans.keys().cloned().collect();
                self.unknown(
                    &format!("step label in `{}`", j.name.text),
                    file,
                    after,
                    known,
                );
            }
            let loc = self.loc(file, g.name.span);
            let gid = self.p.goals.push(GoalDef {
                journey: id,
                name: g.name.text.clone(),
                event: ev,
                condition,
                window_secs: window,
                after: None,
                loc,
            });
            self.index.define(
                DefKind::Goal,
                &g.name.text,
                file,
                g.name.span,
                g.span,
                None,
                format!("goal on {} within {}", g.event.text, fmt_secs(window)),
                Some(def),
            );
            if let Some(after) = &g.after {
                jc.goals_after
                    .entry(after.text.clone())
                    .or_default()
                    .push(gid);
            }
            goal_ids.push((gid, g));
        }
        // Body.
        let body = self.pc();
        let flow = Flow {
            events: entry_events.clone(),
            reachable: true,
        };
        let (_, body_dur) = self.block(&j.body, flow, &mut jc);
        let end_loc = self.loc(file, j.close);
        self.emit(Insn::End, end_loc);
        // Goals opened after a step.
        for (gid, g) in &goal_ids {
            if let Some(after) = &g.after
                && let Some(step) = jc.labels.get(&after.text).copied()
            {
                self.p.goals[*gid].after = Some(step);
                if let Some(d) = self.member_defs.get(&(def, after.text.clone())).copied() {
                    self.index.reference(file, after.span, d);
                }
            }
        }
        // Lifetime checks.
        let natural = max(body_dur, jc.timeline_max);
        let lifetime = match (max_lifetime, natural) {
            (Some((m, _)), Some(n)) => Some(m.min(n)),
            (Some((m, _)), None) => Some(m),
            (None, n) => n,
        };
        for (gid, g) in &goal_ids {
            let window = self.p.goals[*gid].window_secs;
            if g.after.is_none()
                && let Some(life) = lifetime
                && window > life
            {
                let mut d = self
                    .diag(
                        &codes::GOAL_WINDOW,
                        file,
                        g.within.span,
                        format!(
                            "this window ({}) is longer than the journey can live",
                            fmt_secs(window)
                        ),
                    )
                    .primary_label("conversion window")
                    .note(format!(
                        "a customer leaves `{}` at most {} after entry",
                        j.name.text,
                        fmt_secs(life)
                    ));
                if let Some((_, span)) = max_lifetime {
                    d = d.label(file, span, "maximum lifetime");
                }
                self.emit_diag(
                    d.help("shorten the window or let the journey live longer (`exit after ...`)"),
                );
            }
        }
        if jc.critical.len() > 1 {
            let mut d = self
                .diag(
                    &codes::MULTIPLE_CRITICAL,
                    file,
                    jc.critical[1],
                    format!(
                        "`{}` marks {} critical moments",
                        j.name.text,
                        jc.critical.len()
                    ),
                )
                .primary_label("another critical moment")
                .label(file, jc.critical[0], "first critical moment");
            for extra in &jc.critical[2..] {
                d = d.label(file, *extra, "another one");
            }
            self.emit_diag(d.help("keep `critical` on the one touchpoint that matters most"));
        }
        let jd = &mut self.p.journeys[id];
        jd.entries = entries;
        jd.reentry = reentry;
        jd.exits = exits;
        jd.max_lifetime_secs = max_lifetime.map(|(s, _)| s);
        jd.body = body;
        jd.entry_events = entry_events;
        // Templates add what they read when their sends are checked (`template_scopes`).
        jd.kept_events = KeptEvent::of_reads(std::mem::take(&mut self.scope_reads));
        let labels = std::mem::take(&mut jc.labels);
        self.journey_labels[id] = labels;
        self.index.defs[def as usize].detail = format!("journey {}", j.name.text);
    }

    fn at_or(&mut self, file: FileId, at: &Option<ast::TimeLit>, default: TimeOfDay) -> TimeOfDay {
        match at {
            Some(t) => self.time(file, t).unwrap_or(default),
            None => default,
        }
    }

    /// Compiles a sequence of statements; returns the flow after it and its longest duration.
    fn block(&mut self, stmts: &[ast::Stmt], mut flow: Flow, jc: &mut JCtx) -> (Flow, Dur) {
        let mut dur: Dur = Some(0);
        let mut warned = false;
        for s in stmts {
            if !flow.reachable && !warned {
                warned = true;
                let d = self
                    .diag(
                        &codes::UNREACHABLE_STEP,
                        jc.file,
                        s.span,
                        "this step can never run",
                    )
                    .primary_label("unreachable")
                    .note("every path before it ends the journey")
                    .help("remove it or move it before the `exit`");
                self.emit_diag(d);
            }
            let (f, d) = self.stmt(s, flow, jc);
            flow = f;
            dur = add(dur, d);
        }
        (flow, dur)
    }

    fn new_step(
        &mut self,
        s: &ast::Stmt,
        kind: StepKind,
        signature: String,
        readable: String,
        arms: Vec<String>,
        jc: &mut JCtx,
    ) -> StepId {
        let path = jc.path.last().copied().unwrap_or(0);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(jc.name.as_bytes());
        let key = match &s.label {
            Some(l) => {
                h.update(b"\0label\0");
                h.update(l.text.as_bytes());
                h.digest()
            }
            None => {
                let sig = xxhash_rust::xxh3::xxh3_64(signature.as_bytes());
                let n = jc.occurrences.entry((path, sig)).or_insert(0);
                *n += 1;
                h.update(&path.to_le_bytes());
                h.update(&sig.to_le_bytes());
                h.update(&n.to_le_bytes());
                h.digest()
            }
        };
        let name = match &s.label {
            Some(l) => l.text.clone(),
            None => {
                let n = jc.names_used.entry(readable.clone()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    readable
                } else {
                    format!("{readable}#{n}")
                }
            }
        };
        if let Some(c) = s.critical {
            jc.critical.push(c);
        }
        let loc = self.loc(jc.file, s.span);
        let id = self.p.steps.push(StepDef {
            journey: jc.id,
            key,
            name: name.clone(),
            labelled: s.label.is_some(),
            kind,
            critical: s.critical.is_some(),
            arms,
            loc,
        });
        if let Some(l) = &s.label {
            jc.labels.insert(l.text.clone(), id);
            let d = self.index.define(
                DefKind::Step,
                &l.text,
                jc.file,
                l.span,
                s.span,
                None,
                format!("step {} of {}", l.text, jc.name),
                Some(jc.def),
            );
            self.member_defs.insert((jc.def, l.text.clone()), d);
        }
        if s.critical.is_some() {
            self.emit(Insn::Critical(id), loc);
        }
        id
    }

    /// Emits the goals opened by a labelled statement, after it.
    fn open_goals(&mut self, s: &ast::Stmt, jc: &JCtx) {
        if let Some(l) = &s.label
            && let Some(goals) = jc.goals_after.get(&l.text)
        {
            let loc = self.loc(jc.file, s.span);
            for g in goals.clone() {
                self.emit(Insn::OpenGoal(g), loc);
            }
        }
    }

    fn in_arm<T>(
        &mut self,
        jc: &mut JCtx,
        arm: String,
        f: impl FnOnce(&mut Self, &mut JCtx) -> T,
    ) -> T {
        let parent = jc.path.last().copied().unwrap_or(0);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&parent.to_le_bytes());
        h.update(arm.as_bytes());
        jc.path.push(h.digest());
        jc.depth += 1;
        let r = f(self, jc);
        jc.depth -= 1;
        jc.path.pop();
        r
    }

    fn stmt(&mut self, s: &ast::Stmt, flow: Flow, jc: &mut JCtx) -> (Flow, Dur) {
        let file = jc.file;
        let loc = self.loc(file, s.span);
        let out = match &s.kind {
            StmtKind::Send(send) => {
                let word = match &send.message {
                    ast::Message::Inline(_) => "inline".to_string(),
                    m => message_word(m),
                };
                let readable = format!("send_{}_{}", send.channel.text, word);
                let step = self.new_step(
                    s,
                    StepKind::Send,
                    format!("send:{}:{}", send.channel.text, message_word(&send.message)),
                    readable,
                    Vec::new(),
                    jc,
                );
                self.send(send, step, &flow, file, s.span, loc);
                (flow, Some(0))
            }
            StmtKind::Wait(d) => {
                if jc.in_timeline {
                    self.misplaced(
                        file,
                        s.span,
                        "a timeline entry cannot wait",
                        "give the entry its own time: `week 2: ...`",
                    );
                }
                let step = self.new_step(
                    s,
                    StepKind::Wait,
                    "wait".into(),
                    format!("wait_{}", fmt_count(d)),
                    Vec::new(),
                    jc,
                );
                match d.unit {
                    ast::TimeUnit::Month | ast::TimeUnit::Year => {
                        let per = if d.unit == ast::TimeUnit::Year {
                            12.0
                        } else {
                            1.0
                        };
                        let months = d.count * per;
                        if months.fract() != 0.0 || months <= 0.0 || months > 1200.0 {
                            let diag = self
                                .diag(
                                    &codes::INVALID_LITERAL,
                                    file,
                                    d.span,
                                    "a calendar wait counts whole months or years",
                                )
                                .primary_label("not a whole number of months")
                                .help(format!(
                                    "write a duration instead, such as `{} days`",
                                    (d.count * per * 30.0).round()
                                ));
                            self.emit_diag(diag);
                            (flow, Some(0))
                        } else {
                            self.emit(Insn::WaitMonths(step, months as u32), loc);
                            (flow, Some(months as u64 * MONTH_MAX))
                        }
                    }
                    _ => match self.duration_secs(file, d) {
                        Some(secs) => {
                            let c = self.konst(Const::Duration(secs as i64));
                            self.emit(Insn::Wait(step, c), loc);
                            (flow, Some(secs))
                        }
                        None => (flow, Some(0)),
                    },
                }
            }
            StmtKind::WaitUntil { weekday, at } => {
                if jc.in_timeline {
                    self.misplaced(
                        file,
                        s.span,
                        "a timeline entry cannot wait",
                        "give the entry its own time with `at HH:MM`",
                    );
                }
                let wd = weekday
                    .as_ref()
                    .map(|w| weekday_index(&w.text))
                    .unwrap_or(7);
                let readable = match weekday {
                    Some(w) => format!("wait_until_{}", w.text),
                    None => "wait_until".into(),
                };
                let step = self.new_step(
                    s,
                    StepKind::WaitUntil,
                    "wait_until".into(),
                    readable,
                    Vec::new(),
                    jc,
                );
                let time = self.at_or(file, at, TimeOfDay { hour: 0, minute: 0 });
                self.emit(Insn::WaitUntil(step, wd, time), loc);
                (flow, Some(if wd == 7 { DAY } else { 7 * DAY }))
            }
            StmtKind::WaitFor(w) => self.wait_for(s, w, flow, jc, loc),
            StmtKind::If(i) => {
                let step = self.new_step(
                    s,
                    StepKind::If,
                    "if".into(),
                    "if".into(),
                    vec!["then".into(), "else".into()],
                    jc,
                );
                let mut env = Env::new(
                    file,
                    Scope::Events(flow.events.clone()),
                    OfferScope::Forbidden,
                    "a condition",
                );
                self.condition(&i.condition, &mut env);
                let jf = self.emit(Insn::JumpIfFalse(0), loc);
                self.emit(Insn::Branch(step, 0), loc);
                let key = format!("if#{:016x}", self.p.steps[step].key);
                let (f1, d1) = self.in_arm(jc, format!("{key}[then]"), |this, jc| {
                    this.block(&i.then.stmts, flow.clone(), jc)
                });
                let jend = self.emit(Insn::Jump(0), loc);
                let else_pc = self.pc();
                self.patch(jf, else_pc);
                self.emit(Insn::Branch(step, 1), loc);
                let (f2, d2) = match &i.otherwise {
                    Some(b) => self.in_arm(jc, format!("{key}[else]"), |this, jc| {
                        this.block(&b.stmts, flow.clone(), jc)
                    }),
                    None => (flow.clone(), Some(0)),
                };
                let end = self.pc();
                self.patch(jend, end);
                (Flow::merge(vec![f1, f2]), max(d1, d2))
            }
            StmtKind::Scenario(sc) => {
                let mut arms: Vec<String> =
                    sc.arms.iter().map(|(seg, _)| seg.text.clone()).collect();
                arms.push("otherwise".into());
                let step = self.new_step(
                    s,
                    StepKind::Scenario,
                    "scenario".into(),
                    "scenario".into(),
                    arms,
                    jc,
                );
                let mut flows = Vec::new();
                let mut dur = Some(0);
                let mut ends = Vec::new();
                for (i, (seg, block)) in sc.arms.iter().enumerate() {
                    if let Some(prev) = sc.arms[..i].iter().find(|(p, _)| p.text == seg.text) {
                        let what = format!("a scenario for `{}`", seg.text);
                        let d = self
                            .twice(file, seg.span, what, "written", (file, prev.0.span))
                            .note("the first matching scenario wins, so this one never runs");
                        self.emit_diag(d);
                    }
                    let seg_id = self
                        .resolve(Kind::Segment, file, seg)
                        .map(Ctx::entity::<SegmentId>);
                    let aloc = self.loc(file, seg.span);
                    if let Some(sid) = seg_id {
                        self.emit(Insn::Segment(sid), aloc);
                    } else {
                        let c = self.konst(Const::Bool(false));
                        self.emit(Insn::Const(c), aloc);
                    }
                    let jf = self.emit(Insn::JumpIfFalse(0), aloc);
                    self.emit(Insn::Branch(step, i as u16), aloc);
                    let (f, d) = self.in_arm(
                        jc,
                        format!("scenario#{:016x}[{}]", self.p.steps[step].key, seg.text),
                        |this, jc| this.block(&block.stmts, flow.clone(), jc),
                    );
                    flows.push(f);
                    dur = max(dur, d);
                    ends.push(self.emit(Insn::Jump(0), aloc));
                    let next = self.pc();
                    self.patch(jf, next);
                }
                self.emit(Insn::Branch(step, sc.arms.len() as u16), loc);
                match &sc.otherwise {
                    Some(b) => {
                        let (f, d) = self.in_arm(
                            jc,
                            format!("scenario#{:016x}[otherwise]", self.p.steps[step].key),
                            |this, jc| this.block(&b.stmts, flow.clone(), jc),
                        );
                        flows.push(f);
                        dur = max(dur, d);
                    }
                    None => flows.push(flow.clone()),
                }
                let end = self.pc();
                for j in ends {
                    self.patch(j, end);
                }
                (Flow::merge(flows), dur)
            }
            StmtKind::Experiment(x) => self.experiment(s, x, flow, jc, loc),
            StmtKind::Timeline(entries) => self.timeline(s, entries, flow, jc, loc),
            StmtKind::Set { target, value } => {
                let attr = match (target.segments.first(), target.segments.get(1)) {
                    (Some(p), Some(a)) if p.text == "profile" && target.segments.len() == 2 => {
                        self.attribute(file, a)
                    }
                    _ => {
                        let d = self
                            .diag(
                                &codes::UNKNOWN_PROPERTY,
                                file,
                                target.span,
                                "only profile attributes can be set",
                            )
                            .help("write `set profile.<attribute> = <value>`");
                        self.emit_diag(d);
                        None
                    }
                };
                let readable = format!(
                    "set_{}",
                    target
                        .segments
                        .last()
                        .map(|i| i.text.as_str())
                        .unwrap_or("attribute")
                );
                let step =
                    self.new_step(s, StepKind::Set, readable.clone(), readable, Vec::new(), jc);
                let mut env = Env::new(
                    file,
                    Scope::Events(flow.events.clone()),
                    OfferScope::Forbidden,
                    "a profile update",
                );
                let t = self.expr(value, &mut env);
                if let Some(attr) = attr {
                    let want = Ty::of(&self.p.attributes[attr].ty);
                    let name = self.p.attributes[attr].name.clone();
                    if self.expect_type(file, value.span, &t, &want, &format!("`profile.{name}`"))
                        && self.p.attributes[attr].ty == Type::Timezone
                        && let ast::ExprKind::String(lit) = &value.kind
                        && let Some(text) = lit.plain()
                    {
                        self.check_timezone(file, value.span, &Const::String(text));
                    }
                    self.emit(Insn::Set(step, attr), loc);
                } else {
                    self.emit(Insn::Pop, loc);
                }
                (flow, Some(0))
            }
            StmtKind::Emit { event, args } => {
                let readable = format!("emit_{}", event.text);
                let step = self.new_step(
                    s,
                    StepKind::Emit,
                    readable.clone(),
                    readable,
                    Vec::new(),
                    jc,
                );
                if let Some(i) = self.resolve(Kind::Event, file, event) {
                    let ev: EventId = Ctx::entity(i);
                    let mut env = Env::new(
                        file,
                        Scope::Events(flow.events.clone()),
                        OfferScope::Forbidden,
                        "an emitted event",
                    );
                    let props = self.event_args(file, ev, args, s.span, &mut env);
                    let emit = self.p.emits.push(EmitDef {
                        step,
                        event: ev,
                        props,
                    });
                    self.emit(Insn::Emit(emit), loc);
                }
                (flow, Some(0))
            }
            StmtKind::Exit => {
                let step = self.new_step(
                    s,
                    StepKind::Exit,
                    "exit".into(),
                    "exit".into(),
                    Vec::new(),
                    jc,
                );
                self.emit(Insn::Exit(step), loc);
                (
                    Flow {
                        events: flow.events,
                        reachable: false,
                    },
                    Some(0),
                )
            }
        };
        self.open_goals(s, jc);
        out
    }

    /// E0615 journey-too-large at `span`: past what the runtime's timers can name.
    fn too_large(&mut self, file: FileId, span: Span, msg: String, label: &str, help: String) {
        let d = self
            .diag(&codes::JOURNEY_TOO_LARGE, file, span, msg)
            .primary_label(label)
            .help(help);
        self.emit_diag(d);
    }

    fn misplaced(&mut self, file: FileId, span: Span, msg: &str, help: &str) {
        let d = self
            .diag(&codes::MISPLACED_STEP, file, span, msg.to_string())
            .primary_label("not allowed here")
            .help(help.to_string());
        self.emit_diag(d);
    }

    /// Checks and pushes event properties (emit and tests share the checks); returns the
    /// property indexes in the order their values are pushed.
    pub(crate) fn event_args(
        &mut self,
        file: FileId,
        ev: EventId,
        args: &[ast::Argument],
        span: Span,
        env: &mut Env,
    ) -> Vec<u16> {
        let mut props = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if let Some(prev) = args[..i].iter().find(|p| p.name.text == a.name.text) {
                let what = format!("`{}`", a.name.text);
                let d = self.twice(file, a.name.span, what, "given", (file, prev.name.span));
                self.emit_diag(d);
                continue;
            }
            let Some(idx) = self.event_prop(file, ev, &a.name) else {
                self.expr(&a.value, env);
                self.emit(Insn::Pop, Loc::default());
                continue;
            };
            let t = self.expr(&a.value, env);
            let want = Ty::of(&self.p.events[ev].props[idx as usize].ty);
            self.expect_type(
                file,
                a.value.span,
                &t,
                &want,
                &format!("the property `{}`", a.name.text),
            );
            props.push(idx);
        }
        self.missing_props(file, ev, args, span);
        props
    }

    pub(crate) fn missing_props(
        &mut self,
        file: FileId,
        ev: EventId,
        args: &[ast::Argument],
        span: Span,
    ) {
        let missing: Vec<String> = self.p.events[ev]
            .props
            .iter()
            .filter(|p| {
                !matches!(p.ty, Type::Optional(_)) && !args.iter().any(|a| a.name.text == p.name)
            })
            .map(|p| format!("`{}: {}`", p.name, p.ty))
            .collect();
        if !missing.is_empty() {
            let name = self.p.events[ev].name.clone();
            let d = self
                .diag(
                    &codes::MISSING_PARAMETER,
                    file,
                    span,
                    format!("the event `{name}` needs {}", missing.join(", ")),
                )
                .primary_label("missing properties")
                .help("give every property that is not optional (`T?`)");
            self.emit_diag(d);
        }
    }

    fn send(
        &mut self,
        send: &ast::Send,
        step: StepId,
        flow: &Flow,
        file: FileId,
        span: Span,
        loc: Loc,
    ) {
        let channel = self
            .resolve(Kind::Channel, file, &send.channel)
            .map(Ctx::entity::<ChannelId>);
        let (offer, has_offer) = match &send.offer {
            None => (OfferSel::None, false),
            Some(ast::OfferChoice::Best(list, _)) => {
                let ids: Vec<OfferId> = list
                    .iter()
                    .filter_map(|o| self.resolve(Kind::Offer, file, o).map(Ctx::entity))
                    .collect();
                (OfferSel::Best(ids), true)
            }
            Some(ast::OfferChoice::Named(o)) => match self.resolve(Kind::Offer, file, o) {
                Some(i) => (OfferSel::Named(Ctx::entity(i)), true),
                None => (OfferSel::None, true),
            },
        };
        let offer_scope = if has_offer {
            OfferScope::Allowed
        } else {
            OfferScope::Forbidden
        };
        let message = match &send.message {
            ast::Message::Template(t) => {
                match self.resolve(Kind::Template, file, t) {
                    Some(i) => {
                        let tid: TemplateId = Ctx::entity(i);
                        if let Some(ch) = channel {
                            let tch = self.p.templates[tid].channel;
                            if tch != ch && self.template_channel_known[tid] {
                                let tch_name = self
                                    .p
                                    .channels
                                    .get(tch)
                                    .map(|c| c.name.clone())
                                    .unwrap_or_default();
                                let d = self
                                .diag(&codes::TYPE_MISMATCH, file, t.span, format!("the template `{}` is written for `{tch_name}`, not `{}`", t.text, send.channel.text))
                                .primary_label(format!("a {tch_name} template"))
                                .label(file, send.channel.span, "sent on this channel")
                                .help(format!("send it on `{tch_name}`, or write a template for `{}`", send.channel.text));
                                self.emit_diag(d);
                            }
                        }
                        self.template_uses.push(crate::ctx::TemplateUse {
                            template: tid,
                            journey: self.p.steps[step].journey,
                            file,
                            span: t.span,
                            scope: flow.events.clone(),
                            has_offer,
                        });
                        Some(MessageRef::Template(tid))
                    }
                    None => None,
                }
            }
            ast::Message::External(s) => match s.plain() {
                Some(id) => Some(MessageRef::External(id)),
                None => {
                    let d = self.diag(
                        &codes::NOT_CONSTANT,
                        file,
                        s.span,
                        "a provider template id is plain text",
                    );
                    self.emit_diag(d);
                    None
                }
            },
            ast::Message::Inline(s) => {
                let mut env = Env::new(
                    file,
                    Scope::Events(flow.events.clone()),
                    offer_scope,
                    "a message",
                );
                Some(MessageRef::Inline(self.text("text", s, &mut env)))
            }
        };
        let mut env = Env::new(
            file,
            Scope::Events(flow.events.clone()),
            offer_scope,
            "a send parameter",
        );
        let mut params = Vec::new();
        let schema: Vec<ParamDef> = channel
            .map(|c| self.p.channels[c].params.clone())
            .unwrap_or_default();
        let chan_name = send.channel.text.clone();
        for (i, a) in send.args.iter().enumerate() {
            let t = self.expr(&a.value, &mut env);
            if let Some(prev) = send.args[..i].iter().find(|p| p.name.text == a.name.text) {
                let what = format!("`{}`", a.name.text);
                let d = self.twice(file, a.name.span, what, "given", (file, prev.name.span));
                self.emit_diag(d);
                self.emit(Insn::Pop, loc);
                continue;
            }
            if channel.is_none() {
                params.push(a.name.text.clone());
                continue;
            }
            match schema.iter().find(|p| p.name == a.name.text) {
                Some(p) => {
                    let chan_def = self.names.get(Kind::Channel, &chan_name).map(|d| d.def);
                    if let Some(def) =
                        chan_def.and_then(|c| self.member_defs.get(&(c, p.name.clone())).copied())
                    {
                        self.index.reference(file, a.name.span, def);
                    }
                    let want = Ty::of(&p.ty);
                    self.expect_type(
                        file,
                        a.value.span,
                        &t,
                        &want,
                        &format!("the parameter `{}`", p.name),
                    );
                    params.push(a.name.text.clone());
                }
                None => {
                    let names: Vec<&str> = schema.iter().map(|p| p.name.as_str()).collect();
                    let mut d = self
                        .diag(
                            &codes::UNKNOWN_PARAMETER,
                            file,
                            a.name.span,
                            format!(
                                "the channel `{chan_name}` takes no parameter `{}`",
                                a.name.text
                            ),
                        )
                        .primary_label("unknown parameter");
                    if let Some(best) = crate::ctx::suggest(&a.name.text, names.iter().copied()) {
                        d = d
                            .help(format!("did you mean `{best}`?"))
                            .fix(crate::diagnostic::Fix {
                                file,
                                span: a.name.span,
                                replacement: best.clone(),
                                title: format!("replace with `{best}`"),
                            });
                    } else if names.is_empty() {
                        d = d.help(format!(
                            "declare it on the channel: `params {{ {}: <type> }}`",
                            a.name.text
                        ));
                    } else {
                        d = d.note(format!("`{chan_name}` takes: {}", names.join(", ")));
                    }
                    if let Some(decl) = self.names.get(Kind::Channel, &chan_name) {
                        d = d.label(decl.file, decl.span, "channel declared here");
                    }
                    self.emit_diag(d);
                    self.emit(Insn::Pop, loc);
                }
            }
        }
        if channel.is_some() {
            let missing: Vec<String> = schema
                .iter()
                .filter(|p| {
                    !matches!(p.ty, Type::Optional(_))
                        && !send.args.iter().any(|a| a.name.text == p.name)
                })
                .map(|p| format!("`{}: {}`", p.name, p.ty))
                .collect();
            if !missing.is_empty() {
                let d = self
                    .diag(
                        &codes::MISSING_PARAMETER,
                        file,
                        send.args_span.unwrap_or(span),
                        format!("this send on `{chan_name}` needs {}", missing.join(", ")),
                    )
                    .primary_label("missing parameters")
                    .help(format!(
                        "add `{{ {} }}`",
                        missing
                            .iter()
                            .map(|m| m
                                .trim_matches('`')
                                .split(':')
                                .next()
                                .unwrap_or("")
                                .to_string()
                                + ": ...")
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                self.emit_diag(d);
            }
        }
        let (Some(channel), Some(message)) = (channel, message) else {
            return;
        };
        self.channel_sends[channel].push((file, span));
        let send_id = self.p.sends.push(SendDef {
            step,
            channel,
            message,
            params,
            offer,
        });
        self.emit(Insn::Send(send_id), loc);
    }

    fn wait_for(
        &mut self,
        s: &ast::Stmt,
        w: &ast::WaitFor,
        flow: Flow,
        jc: &mut JCtx,
        loc: Loc,
    ) -> (Flow, Dur) {
        let file = jc.file;
        if jc.in_timeline {
            self.misplaced(
                file,
                s.span,
                "a timeline entry cannot wait for an event",
                "move the wait into the journey's body",
            );
        }
        let readable = format!("wait_for_{}", w.event.text);
        let step = self.new_step(
            s,
            StepKind::WaitEvent,
            readable.clone(),
            readable,
            vec!["event".into(), "timeout".into()],
            jc,
        );
        let Some(i) = self.resolve(Kind::Event, file, &w.event) else {
            return (flow, None);
        };
        let ev: EventId = Ctx::entity(i);
        let with_event = flow.with(ev);
        let filter = w.condition.as_ref().map(|c| {
            let mut env = Env::new(
                file,
                Scope::Events(with_event.events.clone()),
                OfferScope::Forbidden,
                "a wait condition",
            )
            .with_candidate(ev);
            self.condition_function(c, &mut env)
        });
        let timeout = match &w.timeout {
            Some(d) => self.duration_secs(file, d),
            None => {
                if !jc.has_exit_after {
                    let d = self
                        .diag(
                            &codes::WAIT_WITHOUT_TIMEOUT,
                            file,
                            w.event.span,
                            format!(
                                "customers wait for `{}` forever if it never comes",
                                w.event.text
                            ),
                        )
                        .primary_label("no timeout")
                        .help(format!(
                            "add a timeout: `wait for {} within 7 days else {{ ... }}`",
                            w.event.text
                        ));
                    self.emit_diag(d);
                }
                None
            }
        };
        if w.timeout.is_none()
            && let Some(b) = &w.on_timeout
        {
            let d = self
                .diag(
                    &codes::UNREACHABLE_STEP,
                    file,
                    b.span,
                    "this `else` never runs: the wait has no timeout",
                )
                .help("add `within <duration>` before `else`");
            self.emit_diag(d);
        }
        let wait = self.p.waits.push(WaitEventDef {
            step,
            event: ev,
            filter,
            timeout_secs: timeout,
            on_timeout: 0,
        });
        self.emit(Insn::WaitEvent(wait), loc);
        self.emit(Insn::Branch(step, 0), loc);
        let (after_flow, dur) = match &w.on_timeout {
            Some(b) => {
                let jend = self.emit(Insn::Jump(0), loc);
                let t_pc = self.pc();
                self.p.waits[wait].on_timeout = t_pc;
                self.emit(Insn::Branch(step, 1), loc);
                let (f2, d2) = self.in_arm(
                    jc,
                    format!("wait#{:016x}[timeout]", self.p.steps[step].key),
                    |this, jc| this.block(&b.stmts, flow.clone(), jc),
                );
                let end = self.pc();
                self.patch(jend, end);
                (Flow::merge(vec![with_event, f2]), add(timeout, d2))
            }
            None => {
                // On timeout, record the branch and continue after the wait.
                let jend = self.emit(Insn::Jump(0), loc);
                let t_pc = self.pc();
                self.p.waits[wait].on_timeout = t_pc;
                self.emit(Insn::Branch(step, 1), loc);
                let end = self.pc();
                self.patch(jend, end);
                let merged = if timeout.is_some() {
                    Flow::merge(vec![with_event, flow.clone()])
                } else {
                    with_event
                };
                (merged, timeout)
            }
        };
        (after_flow, dur)
    }

    fn experiment(
        &mut self,
        s: &ast::Stmt,
        x: &ast::Experiment,
        flow: Flow,
        jc: &mut JCtx,
        loc: Loc,
    ) -> (Flow, Dur) {
        let file = jc.file;
        let mut arms: Vec<String> = x.variants.iter().map(|v| v.name.text.clone()).collect();
        arms.push("holdout".into());
        let readable = format!("experiment_{}", x.name.text);
        let step = self.new_step(
            s,
            StepKind::Experiment,
            readable.clone(),
            readable,
            arms,
            jc,
        );
        for (i, v) in x.variants.iter().enumerate() {
            if let Some(prev) = x.variants[..i].iter().find(|p| p.name.text == v.name.text) {
                let what = format!("the variant `{}`", v.name.text);
                let d = self.twice(file, v.name.span, what, "declared", (file, prev.name.span));
                self.emit_diag(d);
            }
            if v.name.text == "holdout" {
                let d = self
                    .diag(
                        &codes::DUPLICATE,
                        file,
                        v.name.span,
                        "`holdout` is the name of the holdout group",
                    )
                    .help("rename the variant");
                self.emit_diag(d);
            }
        }
        for extra in x.holdouts.iter().skip(1) {
            let d = self.twice(
                file,
                extra.1,
                "the holdout",
                "declared",
                (file, x.holdouts[0].1),
            );
            self.emit_diag(d);
        }
        let bp = |p: f64| -> u32 { (p * 100.0).round().clamp(0.0, 10_000.0) as u32 };
        let holdout_bp = x.holdouts.first().map(|h| bp(h.0)).unwrap_or(0);
        let raw: f64 = x.variants.iter().map(|v| v.percent.0).sum::<f64>()
            + x.holdouts.first().map(|h| h.0).unwrap_or(0.0);
        let total = (raw * 100.0).round().clamp(0.0, 1e9) as u32;
        let over = x.variants.iter().any(|v| v.percent.0 > 100.0)
            || x.holdouts.iter().any(|h| h.0 > 100.0);
        if total != 10_000 || x.variants.is_empty() || over {
            let shown = total as f64 / 100.0;
            let mut d = self
                .diag(
                    &codes::EXPERIMENT_WEIGHTS,
                    file,
                    x.name.span,
                    format!(
                        "the groups of `{}` add up to {shown}%, not 100%",
                        x.name.text
                    ),
                )
                .primary_label(format!("{shown}% in all"));
            for v in &x.variants {
                d = d.label(file, v.percent.1, v.name.text.to_string());
            }
            if let Some(h) = x.holdouts.first() {
                d = d.label(file, h.1, "holdout");
            }
            let help = if total < 10_000 {
                format!(
                    "add `holdout {}%` or raise a variant",
                    (10_000 - total) as f64 / 100.0
                )
            } else {
                "lower the variants' percentages so they add up to 100%".to_string()
            };
            self.emit_diag(d.help(help));
        }
        if let Some((_, pfile, pspan)) = self.experiments_by_name.get(&x.name.text).copied() {
            let what = format!("the experiment `{}`", x.name.text);
            let d = self
                .twice(file, x.name.span, what, "declared", (pfile, pspan))
                .primary_label("second declaration")
                .note("experiment names are unique in a project: they decide each customer's sticky assignment");
            self.emit_diag(d);
        }
        let exp = self.p.experiments.push(ExperimentDef {
            step,
            name: x.name.text.clone(),
            variants: Vec::new(),
            holdout_bp,
            after: 0,
        });
        self.experiments_by_name
            .entry(x.name.text.clone())
            .or_insert((exp, file, x.name.span));
        self.index.define(
            DefKind::Experiment,
            &x.name.text,
            file,
            x.name.span,
            s.span,
            None,
            format!("experiment {}", x.name.text),
            Some(jc.def),
        );
        self.emit(Insn::Split(exp), loc);
        let mut variants = Vec::new();
        let mut flows = Vec::new();
        let mut dur = Some(0);
        let mut ends = Vec::new();
        for (i, v) in x.variants.iter().enumerate() {
            let target = self.pc();
            let vloc = self.loc(file, v.name.span);
            self.emit(Insn::Branch(step, i as u16), vloc);
            let (f, d) = self.in_arm(
                jc,
                format!("experiment:{}[{}]", x.name.text, v.name.text),
                |this, jc| this.block(&v.body.stmts, flow.clone(), jc),
            );
            flows.push(f);
            dur = max(dur, d);
            ends.push(self.emit(Insn::Jump(0), vloc));
            variants.push(VariantDef {
                name: v.name.text.clone(),
                weight_bp: bp(v.percent.0),
                target,
            });
        }
        let holdout_pc = self.pc();
        self.emit(Insn::Branch(step, x.variants.len() as u16), loc);
        flows.push(flow.clone());
        let end = self.pc();
        for j in ends {
            self.patch(j, end);
        }
        let e = &mut self.p.experiments[exp];
        e.variants = variants;
        e.after = holdout_pc;
        (Flow::merge(flows), dur)
    }

    fn timeline(
        &mut self,
        s: &ast::Stmt,
        entries: &[ast::TimelineEntry],
        flow: Flow,
        jc: &mut JCtx,
        loc: Loc,
    ) -> (Flow, Dur) {
        let file = jc.file;
        if jc.in_timeline {
            self.misplaced(
                file,
                s.span,
                "a timeline cannot contain another timeline",
                "put every entry in one timeline",
            );
            return (flow, Some(0));
        }
        if jc.depth > 0 {
            self.misplaced(
                file,
                s.span,
                "a timeline belongs at the top level of a journey",
                "move the timeline out of the branch; its offsets count from entry",
            );
        }
        if let Some(prev) = jc.timeline_seen {
            let d = self
                .diag(
                    &codes::MISPLACED_STEP,
                    file,
                    s.span,
                    "a journey has one timeline",
                )
                .primary_label("a second timeline")
                .label(file, prev, "first timeline")
                .help("put every entry in one timeline");
            self.emit_diag(d);
            return (flow, Some(0));
        }
        jc.timeline_seen = Some(s.span);
        if entries.len() > journey_bytecode::MAX_TIMELINE_ENTRIES {
            self.too_large(
                file,
                s.span,
                format!(
                    "this timeline has {} entries, more than the runtime can schedule",
                    entries.len()
                ),
                "too many timeline entries",
                format!(
                    "keep to {} entries per timeline: split the journey",
                    journey_bytecode::MAX_TIMELINE_ENTRIES
                ),
            );
        }
        if let Some(l) = &s.label {
            self.misplaced(
                file,
                l.span,
                "a timeline itself cannot be labelled",
                "label the steps of its entries instead: `week 1: appel: send ...`",
            );
        }
        if let Some(c) = s.critical {
            self.misplaced(
                file,
                c,
                "a timeline itself cannot be the critical moment",
                "mark one of its steps: `week 1: critical send ...`",
            );
        }
        let jover = self.emit(Insn::Jump(0), loc);
        let max_life = jc.max_life;
        let mut prev: Option<(&ast::TimelineEntry, u64, u64, Option<TimeOfDay>)> = None;
        let mut defs = Vec::new();
        let mut tl_max: Dur = Some(0);
        for e in entries {
            let off = e.offset;
            let written = self.loaded.sources.files[file]
                .text
                .get(off.span.range())
                .unwrap_or("")
                .to_string();
            let limit = match off.unit {
                ast::CalendarUnit::Day => 36_500,
                ast::CalendarUnit::Week => 5_200,
                ast::CalendarUnit::Month => 1_200,
                ast::CalendarUnit::Year => 100,
            };
            if off.count > limit {
                let d = self
                    .diag(
                        &codes::INVALID_LITERAL,
                        file,
                        off.span,
                        format!("`{written}` is more than 100 years after entry"),
                    )
                    .primary_label("out of range");
                self.emit_diag(d);
            }
            let count = off.count.clamp(0, limit) as u32;
            let offset = match off.unit {
                ast::CalendarUnit::Day => CalendarOffset {
                    months: 0,
                    days: count,
                },
                ast::CalendarUnit::Week => CalendarOffset {
                    months: 0,
                    days: count * 7,
                },
                ast::CalendarUnit::Month => CalendarOffset {
                    months: count,
                    days: 0,
                },
                ast::CalendarUnit::Year => CalendarOffset {
                    months: count * 12,
                    days: 0,
                },
            };
            let at = e.at.as_ref().and_then(|t| self.time(file, t));
            let at_secs = at
                .map(|t| t.hour as u64 * 3600 + t.minute as u64 * 60)
                .unwrap_or(0);
            let lo = offset.months as u64 * MONTH_MIN + offset.days as u64 * DAY + at_secs;
            let hi = offset.months as u64 * MONTH_MAX
                + offset.days as u64 * DAY
                + if at.is_some() { at_secs } else { DAY };
            if let Some((p, plo, phi, pat)) = prev {
                let same_offset = (p.offset.unit, p.offset.count) == (off.unit, off.count)
                    || (plo == lo && phi == hi);
                if same_offset && pat == at {
                    let d = self
                        .diag(
                            &codes::TIMELINE_DUPLICATE,
                            file,
                            off.span,
                            format!("two timeline entries at `{written}`"),
                        )
                        .primary_label("same time as the entry before")
                        .label(file, p.offset.span, "first entry at this time")
                        .help("merge their steps into one entry");
                    self.emit_diag(d);
                } else if hi < plo || (same_offset && at < pat) {
                    let d = self
                        .diag(
                            &codes::TIMELINE_ORDER,
                            file,
                            off.span,
                            format!("`{written}` comes before the entry above it"),
                        )
                        .primary_label("earlier than the previous entry")
                        .label(file, p.offset.span, "previous entry")
                        .help("write timeline entries in chronological order");
                    self.emit_diag(d);
                }
            }
            if let Some(m) = max_life
                && lo > m
            {
                let d = self
                    .diag(
                        &codes::TIMELINE_BEYOND_EXIT,
                        file,
                        off.span,
                        format!("`{written}` falls after the journey ends"),
                    )
                    .primary_label("never runs")
                    .note(format!(
                        "`exit after` ends the journey {} after entry",
                        fmt_secs(m)
                    ))
                    .help("move the entry earlier or let the journey live longer");
                self.emit_diag(d);
            }
            tl_max = max(tl_max, Some(hi));
            let code = self.pc();
            let readable = format!("timeline_{}", offset.describe().replace(' ', "_"));
            let stmt_like = ast::Stmt {
                label: None,
                critical: None,
                kind: StmtKind::Exit,
                span: e.span,
            };
            let step = self.new_step(
                &stmt_like,
                StepKind::TimelineEntry,
                format!("timeline:{}", offset.describe()),
                readable,
                Vec::new(),
                jc,
            );
            let _ = step;
            jc.in_timeline = true;
            let entry_flow = Flow {
                events: jc.entry_events.clone(),
                reachable: true,
            };
            self.in_arm(
                jc,
                format!("timeline[{}]", offset.describe()),
                |this, jc| this.block(&e.body, entry_flow, jc),
            );
            jc.in_timeline = false;
            let eloc = self.loc(file, e.span);
            self.emit(Insn::End, eloc);
            defs.push(TimelineDef {
                offset,
                at,
                code,
                loc: eloc,
            });
            prev = Some((e, lo, hi, at));
        }
        let after = self.pc();
        self.patch(jover, after);
        jc.timeline_max = tl_max;
        self.p.journeys[jc.id].timeline = defs;
        (flow, Some(0))
    }
}

fn collect_labels(stmts: &[ast::Stmt], f: &mut impl FnMut(&ast::Ident)) {
    for s in stmts {
        if let Some(l) = &s.label {
            f(l);
        }
        match &s.kind {
            StmtKind::If(i) => {
                collect_labels(&i.then.stmts, f);
                if let Some(b) = &i.otherwise {
                    collect_labels(&b.stmts, f);
                }
            }
            StmtKind::Scenario(sc) => {
                for (_, b) in &sc.arms {
                    collect_labels(&b.stmts, f);
                }
                if let Some(b) = &sc.otherwise {
                    collect_labels(&b.stmts, f);
                }
            }
            StmtKind::Experiment(x) => {
                for v in &x.variants {
                    collect_labels(&v.body.stmts, f);
                }
            }
            StmtKind::Timeline(entries) => {
                for e in entries {
                    collect_labels(&e.body, f);
                }
            }
            StmtKind::WaitFor(w) => {
                if let Some(b) = &w.on_timeout {
                    collect_labels(&b.stmts, f);
                }
            }
            _ => {}
        }
    }
}

fn weekday_index(name: &str) -> u8 {
    match name {
        "monday" => 0,
        "tuesday" => 1,
        "wednesday" => 2,
        "thursday" => 3,
        "friday" => 4,
        "saturday" => 5,
        _ => 6,
    }
}

fn message_word(m: &ast::Message) -> String {
    match m {
        ast::Message::Template(t) => t.text.clone(),
        ast::Message::External(s) => s.plain().unwrap_or_else(|| "external".into()),
        ast::Message::Inline(s) => {
            // The text itself identifies an inline message (its interpolations by their span length).
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for piece in &s.pieces {
                match piece {
                    ast::StrPiece::Text(t) => h.update(t.as_bytes()),
                    ast::StrPiece::Interp(e) => {
                        h.update(&(e.span.end - e.span.start).to_le_bytes())
                    }
                }
            }
            format!("inline_{:08x}", h.digest() as u32)
        }
    }
}

fn fmt_count(d: &ast::DurationLit) -> String {
    let unit = format!("{:?}", d.unit).to_lowercase();
    let plural = if d.count == 1.0 { "" } else { "s" };
    if d.count.fract() == 0.0 {
        format!("{}_{unit}{plural}", d.count as i64)
    } else {
        format!("{}_{unit}{plural}", d.count)
    }
}

/// A duration in words: `30 days`, `12 hours`.
pub(crate) fn fmt_secs(s: u64) -> String {
    if s.is_multiple_of(DAY) {
        let d = s / DAY;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    } else if s.is_multiple_of(3600) {
        format!("{} hours", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{} minutes", s / 60)
    } else {
        format!("{s} seconds")
    }
}
