//! The readable listing of a program printed by `journey disasm`.
//!
//! Deterministic (snapshot tests compare it) and total: it never panics, even on a program
//! that did not pass [validation](crate::validate::validate); missing entities print as their
//! bare id (`step9`) and missing names as `?`.
//!
//! The listing has a header, one section per table, then the code, one instruction per line:
//!
//! ```text
//! seg1 jeune:
//!   0042  attr attr2 (age)                          ; first_year.journey:31:5
//! ```
//!
//! Code positions are written `@0042` outside the code column. A label line precedes each
//! position some table points to (function starts, bodies, timeline entries, wait timeouts,
//! variants).

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write};

use cranelift_entity::{EntityRef, PrimaryMap};

use crate::format::FORMAT_VERSION;
use crate::ids::*;
use crate::insn::Insn;
use crate::program::*;
use crate::validate::Named;
use crate::value::{Const, Date, TimeOfDay};

/// Width of the instruction text before the `; file:line:col` comment.
const INSN_WIDTH: usize = 40;

/// The readable listing of a program. Never panics, whatever the program.
pub fn disassemble(program: &Program) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = Disasm::new(program).write(&mut out);
    out
}

struct Disasm<'p> {
    p: &'p Program,
    /// Labels by code position, in table order.
    labels: BTreeMap<Pc, Vec<String>>,
    /// Digits of code positions.
    pc_width: usize,
}

/// The name of an entity, or `?` when it does not exist.
fn name_of<K: EntityRef, V: Named>(map: &PrimaryMap<K, V>, k: K) -> &str {
    map.get(k).map_or("?", |v| v.name())
}

/// `seg3 (jeune)`.
fn idn<K: EntityRef + Display, V: Named>(map: &PrimaryMap<K, V>, k: K) -> String {
    format!("{k} ({})", name_of(map, k))
}

/// A kept event with the properties kept: `e0 (signup) [plan, price]`, or `[all]`.
fn kept_event(p: &Program, k: &KeptEvent) -> String {
    let props = match p.events.get(k.event) {
        Some(ev) if !KeptEvent::keeps_all_of(k.props, ev.props.len()) => ev
            .props
            .iter()
            .enumerate()
            .filter(|&(i, _)| i < 32 && k.props & (1 << i) != 0)
            .map(|(_, pr)| pr.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => "all".to_owned(),
    };
    format!("{} [{props}]", idn(&p.events, k.event))
}

/// A duration in seconds, readably: `3d`, `1h30m`, `45s`, `-2h`.
fn duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, size) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

fn udur(secs: u64) -> String {
    i64::try_from(secs).map_or_else(|_| format!("{secs}s"), duration)
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn weekday(day: u8) -> String {
    match day {
        0 => "mon".to_owned(),
        1 => "tue".to_owned(),
        2 => "wed".to_owned(),
        3 => "thu".to_owned(),
        4 => "fri".to_owned(),
        5 => "sat".to_owned(),
        6 => "sun".to_owned(),
        7 => "any day".to_owned(),
        d => format!("weekday{d}?"),
    }
}

fn civil(c: &Civil) -> String {
    format!("{}T{}", c.date, c.time)
}

fn opt_at(at: &Option<Civil>) -> String {
    at.as_ref()
        .map(|c| format!(" at {}", civil(c)))
        .unwrap_or_default()
}

fn positive(p: bool) -> &'static str {
    if p { "" } else { "no " }
}

/// A constant, as written in source as far as possible.
fn constant(c: &Const) -> String {
    match c {
        Const::Number(n) => n.to_string(),
        Const::String(s) => quoted(s),
        Const::Bool(b) => b.to_string(),
        Const::Date(d) => d.to_string(),
        Const::Timestamp(d, t) => format!("{d}T{t}"),
        Const::Duration(s) => duration(*s),
        Const::List(items) => {
            let items: Vec<String> = items.iter().map(constant).collect();
            format!("[{}]", items.join(", "))
        }
        Const::None => "none".to_owned(),
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(", ")
}

impl<'p> Disasm<'p> {
    fn new(p: &'p Program) -> Self {
        let digits = p.code.len().saturating_sub(1).to_string().len();
        let mut d = Disasm {
            p,
            labels: BTreeMap::new(),
            pc_width: digits.max(4),
        };
        d.collect_labels();
        d
    }

    fn label(&mut self, pc: Pc, label: String) {
        let labels = self.labels.entry(pc).or_default();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }

    fn text_labels(&mut self, owner: &str, text: &TextDef) {
        for (i, piece) in text.pieces.iter().enumerate() {
            if let Piece::Expr(pc) = piece {
                self.label(*pc, format!("{owner} {}[{i}]", text.name));
            }
        }
    }

    fn collect_labels(&mut self) {
        let p = self.p;
        for (id, agg) in p.aggregates.iter() {
            if let Some(pc) = agg.filter {
                self.label(pc, format!("{id} filter"));
            }
        }
        for (id, seg) in p.segments.iter() {
            self.label(seg.condition, format!("{id} {}", seg.name));
        }
        for (id, chan) in p.channels.iter() {
            if let Some(pc) = chan.consent {
                self.label(pc, format!("{id} {} consent", chan.name));
            }
        }
        for (id, tpl) in p.templates.iter() {
            for part in &tpl.parts {
                self.text_labels(&format!("{id} {}", tpl.name), part);
            }
        }
        for (id, offer) in p.offers.iter() {
            if let Some(pc) = offer.eligible {
                self.label(pc, format!("{id} {} eligible", offer.name));
            }
        }
        for (id, j) in p.journeys.iter() {
            for (i, entry) in j.entries.iter().enumerate() {
                if let Some(pc) = entry.condition {
                    self.label(pc, format!("{id} {} entry[{i}] condition", j.name));
                }
            }
            for (i, exit) in j.exits.iter().enumerate() {
                let cond = match exit {
                    ExitDef::Event { condition, .. } => *condition,
                    ExitDef::When { condition, .. } => Some(*condition),
                };
                if let Some(pc) = cond {
                    self.label(pc, format!("{id} {} exit[{i}] condition", j.name));
                }
            }
            self.label(j.body, format!("{id} {} body", j.name));
            for (i, t) in j.timeline.iter().enumerate() {
                self.label(
                    t.code,
                    format!("{id} {} timeline[{i}] ({})", j.name, timeline_when(t)),
                );
            }
        }
        for (id, send) in p.sends.iter() {
            if let MessageRef::Inline(text) = &send.message {
                self.text_labels(&format!("{id} inline"), text);
            }
        }
        for (id, wait) in p.waits.iter() {
            if let Some(pc) = wait.filter {
                self.label(pc, format!("{id} filter"));
            }
            self.label(wait.on_timeout, format!("{id} timeout"));
        }
        for (id, exp) in p.experiments.iter() {
            for v in &exp.variants {
                self.label(v.target, format!("{id} {} variant {}", exp.name, v.name));
            }
            self.label(exp.after, format!("{id} {} after", exp.name));
        }
        for (id, goal) in p.goals.iter() {
            if let Some(pc) = goal.condition {
                self.label(pc, format!("{id} {} condition", goal.name));
            }
        }
    }

    // ---- helpers

    fn pc(&self, pc: Pc) -> String {
        format!("@{pc:0w$}", w = self.pc_width)
    }

    fn opt_pc(&self, prefix: &str, pc: Option<Pc>) -> String {
        pc.map(|pc| format!("  {prefix} {}", self.pc(pc)))
            .unwrap_or_default()
    }

    fn loc(&self, loc: &Loc) -> String {
        match self.p.files.as_values_slice().get(loc.file as usize) {
            Some(f) => format!("{}:{}:{}", f.path, loc.line, loc.col),
            None => format!("<file{}>:{}:{}", loc.file, loc.line, loc.col),
        }
    }

    fn cnst(&self, c: ConstId) -> String {
        match self.p.consts.get(c) {
            Some(v) => format!("{c} = {}", constant(v)),
            None => c.to_string(),
        }
    }

    fn event_prop(&self, e: EventId, i: u16) -> String {
        let event = self.p.events.get(e);
        let prop = event
            .and_then(|ev| ev.props.get(usize::from(i)))
            .map_or("?", |pr| pr.name.as_str());
        format!(
            "{e}.{i} ({}.{prop})",
            event.map_or("?", |ev| ev.name.as_str())
        )
    }

    fn step(&self, s: StepId) -> String {
        idn(&self.p.steps, s)
    }

    fn agg(&self, g: AggId) -> String {
        match self.p.aggregates.get(g) {
            None => g.to_string(),
            Some(a) => {
                let target = match a.prop {
                    Some(i) => self.event_prop(a.event, i),
                    None => idn(&self.p.events, a.event),
                };
                let window = a
                    .window_secs
                    .map(|w| format!(" over {}", udur(w)))
                    .unwrap_or_default();
                format!(
                    "{}({target}){window}{}",
                    a.func.name(),
                    self.opt_pc("filter", a.filter)
                )
            }
        }
    }

    /// `sum purchase.amount`.
    fn agg_short(&self, g: AggId) -> String {
        let p = self.p;
        match p.aggregates.get(g) {
            None => "?".to_owned(),
            Some(a) => {
                let event = p.events.get(a.event);
                let prop = a.prop.map_or(String::new(), |i| {
                    let name = event
                        .and_then(|e| e.props.get(usize::from(i)))
                        .map_or("?", |pr| pr.name.as_str());
                    format!(".{name}")
                });
                format!(
                    "{} {}{prop}",
                    a.func.name(),
                    event.map_or("?", |e| e.name.as_str())
                )
            }
        }
    }

    fn message(&self, m: &MessageRef) -> String {
        match m {
            MessageRef::Template(t) => format!("template {}", idn(&self.p.templates, *t)),
            MessageRef::External(s) => format!("external {}", quoted(s)),
            MessageRef::Inline(text) => format!("inline {}", self.text(text)),
        }
    }

    fn text(&self, text: &TextDef) -> String {
        let pieces: Vec<String> = text
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(s) => quoted(s),
                Piece::Expr(pc) => format!("{{{}}}", self.pc(*pc)),
            })
            .collect();
        format!("{}: {}", text.name, pieces.join(" "))
    }

    fn trigger(&self, t: &Trigger) -> String {
        let p = self.p;
        match t {
            Trigger::Event(e) => format!("event {}", idn(&p.events, *e)),
            Trigger::SegmentEnter(s) => format!("enter {}", idn(&p.segments, *s)),
            Trigger::SegmentLeave(s) => format!("leave {}", idn(&p.segments, *s)),
            Trigger::Yearly { attr, at } => {
                format!("yearly on {} at {at}", idn(&p.attributes, *attr))
            }
            Trigger::Monthly { day, at } => format!("monthly on day {day} at {at}"),
            Trigger::Weekly { weekday: d, at } => format!("weekly on {} at {at}", weekday(*d)),
            Trigger::Daily { at } => format!("daily at {at}"),
            Trigger::Api => "api".to_owned(),
        }
    }

    // ---- sections

    fn write(&self, f: &mut impl Write) -> fmt::Result {
        self.header(f)?;
        self.tables(f)?;
        self.code(f)
    }

    fn header(&self, f: &mut impl Write) -> fmt::Result {
        let m = &self.p.meta;
        writeln!(f, "journey bytecode, format version {FORMAT_VERSION}")?;
        writeln!(f, "project:     {}", m.project)?;
        writeln!(f, "compiler:    {}", m.compiler)?;
        writeln!(f, "default tz:  {}", m.default_timezone)?;
        if let Some(a) = m.timezone_attr {
            writeln!(f, "tz attr:     {}", idn(&self.p.attributes, a))?;
        }
        writeln!(f, "source hash: {:016x}", m.source_hash)?;
        writeln!(
            f,
            "code:        {} instructions, {} locations",
            self.p.code.len(),
            self.p.locs.len()
        )
    }

    fn section<K: EntityRef, V>(
        &self,
        f: &mut impl Write,
        title: &str,
        map: &PrimaryMap<K, V>,
        mut item: impl FnMut(&mut dyn Write, K, &V) -> fmt::Result,
    ) -> fmt::Result {
        if map.is_empty() {
            return Ok(());
        }
        writeln!(f, "\n{title}:")?;
        for (k, v) in map.iter() {
            item(f, k, v)?;
        }
        Ok(())
    }

    fn tables(&self, f: &mut impl Write) -> fmt::Result {
        let p = self.p;
        self.section(f, "files", &p.files, |f, id, file| {
            writeln!(f, "  {id}  {}", file.path)
        })?;
        self.section(f, "consts", &p.consts, |f, id, c| {
            writeln!(f, "  {id} = {}", constant(c))
        })?;
        self.section(f, "attributes", &p.attributes, |f, id, a| {
            let default = a
                .default
                .map(|c| format!("  default {}", self.cnst(c)))
                .unwrap_or_default();
            writeln!(f, "  {id}  {}: {}{default}", a.name, a.ty)
        })?;
        self.section(f, "events", &p.events, |f, id, e| {
            let props = join(&e.props, |pr| format!("{}: {}", pr.name, pr.ty));
            writeln!(f, "  {id}  {}({props})", e.name)
        })?;
        self.section(f, "aggregates", &p.aggregates, |f, id, _| {
            writeln!(f, "  {id}  {}", self.agg(id))
        })?;
        self.section(f, "segments", &p.segments, |f, id, s| {
            write!(f, "  {id}  {}  condition {}", s.name, self.pc(s.condition))?;
            if !s.uses_segments.is_empty() {
                write!(
                    f,
                    "  segments [{}]",
                    join(&s.uses_segments, |x| x.to_string())
                )?;
            }
            if !s.uses_aggregates.is_empty() {
                write!(
                    f,
                    "  aggregates [{}]",
                    join(&s.uses_aggregates, |x| x.to_string())
                )?;
            }
            if !s.uses_attributes.is_empty() {
                write!(
                    f,
                    "  attributes [{}]",
                    join(&s.uses_attributes, |x| x.to_string())
                )?;
            }
            writeln!(f, "  ; {}", self.loc(&s.loc))
        })?;
        self.section(f, "channels", &p.channels, |f, id, c| {
            writeln!(
                f,
                "  {id}  {}  plugin {}{}  ; {}",
                c.name,
                quoted(&c.plugin),
                self.opt_pc("consent", c.consent),
                self.loc(&c.loc)
            )?;
            for (key, value) in &c.config {
                let value = match value {
                    ConfigValue::Const(k) => self.cnst(*k),
                    ConfigValue::Env(v) => format!("env {}", quoted(v)),
                    ConfigValue::Secret(v) => format!("secret {}", quoted(v)),
                };
                writeln!(f, "    config {key} = {value}")?;
            }
            for prm in &c.params {
                writeln!(f, "    param {}: {}", prm.name, prm.ty)?;
            }
            Ok(())
        })?;
        self.section(f, "templates", &p.templates, |f, id, t| {
            writeln!(f, "  {id}  {}  for {}", t.name, idn(&p.channels, t.channel))?;
            for part in &t.parts {
                writeln!(f, "    {}", self.text(part))?;
            }
            Ok(())
        })?;
        self.section(f, "offers", &p.offers, |f, id, o| {
            let date = |d: Option<Date>| d.map_or_else(|| "..".to_owned(), |d| d.to_string());
            writeln!(
                f,
                "  {id}  {}  priority {}{}  valid {} to {}  ; {}",
                o.name,
                o.priority,
                self.opt_pc("eligible", o.eligible),
                date(o.valid_from),
                date(o.valid_until),
                self.loc(&o.loc)
            )?;
            for (k, v) in &o.fields {
                writeln!(f, "    field {k} = {}", quoted(v))?;
            }
            Ok(())
        })?;
        self.section(f, "policies", &p.policies, |f, id, pol| {
            writeln!(f, "  {id}  {}", pol.name)?;
            for cap in &pol.caps {
                let chan = cap
                    .channel
                    .map_or_else(|| "messages".to_owned(), |c| idn(&p.channels, c));
                writeln!(
                    f,
                    "    cap at most {} {chan} per {}  ; {}",
                    cap.max,
                    udur(cap.window_secs),
                    self.loc(&cap.loc)
                )?;
            }
            for q in &pol.quiet {
                let chans = if q.channels.is_empty() {
                    "all channels".to_owned()
                } else {
                    join(&q.channels, |c| idn(&p.channels, *c))
                };
                writeln!(
                    f,
                    "    quiet {} to {} on {chans}  ; {}",
                    q.from,
                    q.to,
                    self.loc(&q.loc)
                )?;
            }
            if !pol.priority.is_empty() {
                writeln!(
                    f,
                    "    priority {}",
                    join(&pol.priority, |j| idn(&p.journeys, *j))
                )?;
            }
            if !pol.exempt.is_empty() {
                writeln!(
                    f,
                    "    exempt {}",
                    join(&pol.exempt, |j| idn(&p.journeys, *j))
                )?;
            }
            Ok(())
        })?;
        self.section(f, "journeys", &p.journeys, |f, id, j| {
            self.journey(f, id, j)
        })?;
        self.section(f, "steps", &p.steps, |f, id, s| {
            write!(
                f,
                "  {id}  key {:016x}  {}  {}  {}",
                s.key,
                s.journey,
                s.name,
                step_kind(s.kind)
            )?;
            if s.labelled {
                write!(f, "  labelled")?;
            }
            if s.critical {
                write!(f, "  critical")?;
            }
            if !s.arms.is_empty() {
                write!(f, "  arms [{}]", s.arms.join(", "))?;
            }
            writeln!(f, "  ; {}", self.loc(&s.loc))
        })?;
        self.section(f, "sends", &p.sends, |f, id, s| {
            write!(
                f,
                "  {id}  {}  {}  {}",
                self.step(s.step),
                idn(&p.channels, s.channel),
                self.message(&s.message)
            )?;
            if !s.params.is_empty() {
                write!(f, "  params ({})", s.params.join(", "))?;
            }
            match &s.offer {
                OfferSel::None => writeln!(f),
                OfferSel::Best(o) if o.is_empty() => writeln!(f, "  offer best of all"),
                OfferSel::Best(o) => {
                    writeln!(f, "  offer best of [{}]", join(o, |o| idn(&p.offers, *o)))
                }
                OfferSel::Named(o) => writeln!(f, "  offer {}", idn(&p.offers, *o)),
            }
        })?;
        self.section(f, "emits", &p.emits, |f, id, e| {
            let props = join(&e.props, |i| {
                p.events
                    .get(e.event)
                    .and_then(|ev| ev.props.get(usize::from(*i)))
                    .map_or_else(|| format!("{i}?"), |pr| pr.name.clone())
            });
            writeln!(
                f,
                "  {id}  {}  {}  props [{props}]",
                self.step(e.step),
                idn(&p.events, e.event)
            )
        })?;
        self.section(f, "waits", &p.waits, |f, id, w| {
            let timeout = w.timeout_secs.map_or_else(|| "none".to_owned(), udur);
            writeln!(
                f,
                "  {id}  {}  for {}{}  timeout {timeout} -> {}",
                self.step(w.step),
                idn(&p.events, w.event),
                self.opt_pc("filter", w.filter),
                self.pc(w.on_timeout)
            )
        })?;
        self.section(f, "experiments", &p.experiments, |f, id, x| {
            writeln!(f, "  {id}  {}  {}", x.name, self.step(x.step))?;
            for v in &x.variants {
                writeln!(
                    f,
                    "    variant {}  {} bp -> {}",
                    v.name,
                    v.weight_bp,
                    self.pc(v.target)
                )?;
            }
            writeln!(
                f,
                "    holdout  {} bp -> {}",
                x.holdout_bp,
                self.pc(x.after)
            )
        })?;
        self.section(f, "goals", &p.goals, |f, id, g| {
            let after = g.after.map_or_else(|| "entry".to_owned(), |s| self.step(s));
            writeln!(
                f,
                "  {id}  {}  {}  on {}{}  within {}  after {after}  ; {}",
                g.name,
                idn(&p.journeys, g.journey),
                idn(&p.events, g.event),
                self.opt_pc("if", g.condition),
                udur(g.window_secs),
                self.loc(&g.loc)
            )
        })?;
        self.section(f, "tests", &p.tests, |f, id, t| self.test(f, id, t))
    }

    fn journey(&self, f: &mut dyn Write, id: JourneyId, j: &JourneyDef) -> fmt::Result {
        let p = self.p;
        writeln!(
            f,
            "  {id}  {}  body {}  ; {}",
            j.name,
            self.pc(j.body),
            self.loc(&j.loc)
        )?;
        for e in &j.entries {
            writeln!(
                f,
                "    entry {}{}  ; {}",
                self.trigger(&e.trigger),
                self.opt_pc("if", e.condition),
                self.loc(&e.loc)
            )?;
        }
        if !j.entry_events.is_empty() {
            writeln!(
                f,
                "    entry events {}",
                join(&j.entry_events, |e| idn(&p.events, *e))
            )?;
        }
        if !j.kept_events.is_empty() {
            writeln!(
                f,
                "    keeps {}",
                join(&j.kept_events, |k| kept_event(p, k))
            )?;
        }
        let reentry = match j.reentry {
            Reentry::Never => "never".to_owned(),
            Reentry::AfterExit => "after exit".to_owned(),
            Reentry::After(s) => format!("after exit and {} after entry", udur(s)),
        };
        writeln!(f, "    reentry {reentry}")?;
        for x in &j.exits {
            match x {
                ExitDef::Event {
                    event,
                    condition,
                    loc,
                } => writeln!(
                    f,
                    "    exit on {}{}  ; {}",
                    idn(&p.events, *event),
                    self.opt_pc("if", *condition),
                    self.loc(loc)
                )?,
                ExitDef::When { condition, loc } => writeln!(
                    f,
                    "    exit when {}  ; {}",
                    self.pc(*condition),
                    self.loc(loc)
                )?,
            }
        }
        if let Some(s) = j.max_lifetime_secs {
            writeln!(f, "    exit after {}", udur(s))?;
        }
        for (i, t) in j.timeline.iter().enumerate() {
            writeln!(
                f,
                "    timeline[{i}] {} -> {}  ; {}",
                timeline_when(t),
                self.pc(t.code),
                self.loc(&t.loc)
            )?;
        }
        Ok(())
    }

    fn test(&self, f: &mut dyn Write, id: TestId, t: &TestDef) -> fmt::Result {
        let p = self.p;
        writeln!(
            f,
            "  {id}  {}  customer {}  ; {}",
            quoted(&t.name),
            quoted(&t.customer),
            self.loc(&t.loc)
        )?;
        for (a, c) in &t.profile {
            writeln!(
                f,
                "    profile {} = {}",
                idn(&p.attributes, *a),
                self.cnst(*c)
            )?;
        }
        for step in &t.steps {
            match step {
                TestStep::Event { at, event, props } => {
                    let props = join(props, |(i, c)| {
                        let name = p
                            .events
                            .get(*event)
                            .and_then(|e| e.props.get(usize::from(*i)))
                            .map_or_else(|| format!("{i}?"), |pr| pr.name.clone());
                        format!("{name} = {}", self.cnst(*c))
                    });
                    writeln!(
                        f,
                        "    at {} event {} {{{props}}}",
                        civil(at),
                        idn(&p.events, *event)
                    )?
                }
                TestStep::Set { at, attr, value } => writeln!(
                    f,
                    "    at {} set {} = {}",
                    civil(at),
                    idn(&p.attributes, *attr),
                    self.cnst(*value)
                )?,
                TestStep::Enter { at, journey } => writeln!(
                    f,
                    "    at {} enter {}",
                    civil(at),
                    idn(&p.journeys, *journey)
                )?,
                TestStep::RunUntil(at) => writeln!(f, "    run until {}", civil(at))?,
                TestStep::Expect(e, loc) => {
                    writeln!(f, "    expect {}  ; {}", self.expect(e), self.loc(loc))?
                }
            }
        }
        Ok(())
    }

    fn expect(&self, e: &Expect) -> String {
        let p = self.p;
        match e {
            Expect::Send {
                positive: pos,
                channel,
                message,
                at,
            } => {
                let message = message
                    .as_ref()
                    .map(|m| format!(" {}", self.message(m)))
                    .unwrap_or_default();
                format!(
                    "{}send {}{message}{}",
                    positive(*pos),
                    idn(&p.channels, *channel),
                    opt_at(at)
                )
            }
            Expect::Reached {
                positive: pos,
                step,
                at,
            } => format!(
                "{}reached {}{}",
                if *pos { "" } else { "not " },
                self.step(*step),
                opt_at(at)
            ),
            Expect::Goal {
                positive: pos,
                goal,
                at,
            } => format!(
                "{}goal {}{}",
                positive(*pos),
                idn(&p.goals, *goal),
                opt_at(at)
            ),
            Expect::Exit { journey, at } => {
                format!("exit {}{}", idn(&p.journeys, *journey), opt_at(at))
            }
            Expect::Scenario { step, arm } => format!(
                "scenario {} arm {arm} ({})",
                self.step(*step),
                self.arm(*step, *arm)
            ),
            Expect::Variant {
                experiment,
                variant,
            } => {
                let name = p.experiments.get(*experiment).map_or("?", |x| {
                    match x.variants.get(usize::from(*variant)) {
                        Some(v) => v.name.as_str(),
                        None if usize::from(*variant) == x.variants.len() => "holdout",
                        None => "?",
                    }
                });
                format!(
                    "variant {} {variant} ({name})",
                    idn(&p.experiments, *experiment)
                )
            }
            Expect::Emit { event, at } => {
                format!("emit {}{}", idn(&p.events, *event), opt_at(at))
            }
            Expect::Entered {
                positive: pos,
                journey,
                at,
            } => format!(
                "{}entered {}{}",
                if *pos { "" } else { "not " },
                idn(&p.journeys, *journey),
                opt_at(at)
            ),
        }
    }

    fn arm(&self, step: StepId, arm: u16) -> &str {
        self.p
            .steps
            .get(step)
            .and_then(|s| s.arms.get(usize::from(arm)))
            .map_or("?", String::as_str)
    }

    // ---- code

    fn code(&self, f: &mut impl Write) -> fmt::Result {
        if self.p.code.is_empty() {
            return Ok(());
        }
        writeln!(f, "\ncode:")?;
        for (pc, insn) in self.p.code.iter().enumerate() {
            let labels = u32::try_from(pc)
                .ok()
                .and_then(|pc| self.labels.get(&pc))
                .map_or(&[][..], Vec::as_slice);
            if !labels.is_empty() && pc > 0 {
                writeln!(f)?;
            }
            for label in labels {
                writeln!(f, "{label}:")?;
            }
            let text = self.insn(insn);
            match self.p.locs.get(pc) {
                Some(loc) => writeln!(
                    f,
                    "  {pc:0w$}  {text:<INSN_WIDTH$}  ; {}",
                    self.loc(loc),
                    w = self.pc_width
                )?,
                None => writeln!(f, "  {pc:0w$}  {text}", w = self.pc_width)?,
            }
        }
        // Labels past the end (only in an invalid program).
        let mut first = true;
        for (pc, labels) in &self.labels {
            if (*pc as usize) < self.p.code.len() {
                continue;
            }
            if std::mem::take(&mut first) {
                writeln!(f)?;
            }
            for label in labels {
                writeln!(f, "{label}: {} is past the end of the code", self.pc(*pc))?;
            }
        }
        Ok(())
    }

    fn insn(&self, insn: &Insn) -> String {
        let p = self.p;
        let m = insn.mnemonic();
        match *insn {
            Insn::Const(c) => format!("{m} {}", self.cnst(c)),
            Insn::Attr(a) => format!("{m} {}", idn(&p.attributes, a)),
            Insn::EventProp(e, i) => format!("{m} {}", self.event_prop(e, i)),
            Insn::OfferField(c) => format!("{m} {}", self.cnst(c)),
            Insn::Segment(s) => format!("{m} {}", idn(&p.segments, s)),
            Insn::Aggregate(g) => format!("{m} {g} ({})", self.agg_short(g)),
            Insn::Now
            | Insn::Not
            | Insn::Neg
            | Insn::Bin(_)
            | Insn::ToText
            | Insn::Pop
            | Insn::Return
            | Insn::End => m.to_owned(),
            Insn::MakeList(n) => format!("{m} {n}"),
            Insn::Call(b, n) => format!("{m} {}/{n}", b.name()),
            Insn::Jump(t)
            | Insn::JumpIfFalse(t)
            | Insn::JumpIfFalseOrPop(t)
            | Insn::JumpIfTrueOrPop(t) => format!("{m} {}", self.pc(t)),
            Insn::Branch(s, arm) => {
                format!("{m} {} arm {arm} ({})", self.step(s), self.arm(s, arm))
            }
            Insn::Critical(s) | Insn::Exit(s) => format!("{m} {}", self.step(s)),
            Insn::Send(s) => match p.sends.get(s) {
                Some(send) => format!(
                    "{m} {s} ({} via {})",
                    name_of(&p.steps, send.step),
                    name_of(&p.channels, send.channel)
                ),
                None => format!("{m} {s}"),
            },
            Insn::Wait(s, c) => format!("{m} {} {}", self.step(s), self.cnst(c)),
            Insn::WaitMonths(s, n) => format!("{m} {} {n}", self.step(s)),
            Insn::WaitUntil(s, d, t) => {
                format!("{m} {} {} {}", self.step(s), weekday(d), time(t))
            }
            Insn::WaitEvent(w) => match p.waits.get(w) {
                Some(wait) => format!(
                    "{m} {w} ({} for {}, timeout -> {})",
                    name_of(&p.steps, wait.step),
                    name_of(&p.events, wait.event),
                    self.pc(wait.on_timeout)
                ),
                None => format!("{m} {w}"),
            },
            Insn::Set(s, a) => format!("{m} {} {}", self.step(s), idn(&p.attributes, a)),
            Insn::Emit(e) => match p.emits.get(e) {
                Some(emit) => format!(
                    "{m} {e} ({}: {})",
                    name_of(&p.steps, emit.step),
                    name_of(&p.events, emit.event)
                ),
                None => format!("{m} {e}"),
            },
            Insn::Split(x) => format!("{m} {}", idn(&p.experiments, x)),
            Insn::OpenGoal(g) => format!("{m} {}", idn(&p.goals, g)),
        }
    }
}

fn time(t: TimeOfDay) -> String {
    t.to_string()
}

/// `month 6 at 10:00`.
fn timeline_when(t: &TimelineDef) -> String {
    match t.at {
        Some(at) => format!("{} at {at}", t.offset.describe()),
        None => t.offset.describe(),
    }
}

fn step_kind(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Send => "send",
        StepKind::Wait => "wait",
        StepKind::WaitUntil => "wait_until",
        StepKind::WaitEvent => "wait_event",
        StepKind::If => "if",
        StepKind::Scenario => "scenario",
        StepKind::Experiment => "experiment",
        StepKind::TimelineEntry => "timeline_entry",
        StepKind::Set => "set",
        StepKind::Emit => "emit",
        StepKind::Exit => "exit",
    }
}
