//! The compilation context: the program being built, the symbol tables, the index of
//! definitions and references for editors, and the helpers every pass uses (name
//! resolution with "did you mean", constants, instruction emission with locations).

use std::collections::HashMap;

use cranelift_entity::{EntityRef, SecondaryMap};
use journey_bytecode::*;
use journey_grammar::ast::{self, Ident, Span};

use crate::codes::{self, Code};
use crate::diagnostic::{Diagnostic, Fix, Sink};
use crate::index::{DefKind, Index};
use crate::load::Loaded;
use crate::types::{TYPE_NAMES, Ty};

/// Kinds of top-level names, each its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Event,
    Segment,
    Channel,
    Template,
    Offer,
    Journey,
    Policy,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Segment => "segment",
            Kind::Channel => "channel",
            Kind::Template => "template",
            Kind::Offer => "offer",
            Kind::Journey => "journey",
            Kind::Policy => "policy",
        }
    }
    pub(crate) fn def_kind(self) -> DefKind {
        match self {
            Kind::Event => DefKind::Event,
            Kind::Segment => DefKind::Segment,
            Kind::Channel => DefKind::Channel,
            Kind::Template => DefKind::Template,
            Kind::Offer => DefKind::Offer,
            Kind::Journey => DefKind::Journey,
            Kind::Policy => DefKind::Policy,
        }
    }
}

/// A declared name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decl {
    pub file: FileId,
    pub span: Span,
    pub index: u32,
    pub def: u32,
}

/// Declared names, one table per kind; lookups by `&str` allocate nothing.
#[derive(Debug, Default)]
pub(crate) struct Names {
    tables: [HashMap<String, Decl>; 7],
}

impl Names {
    fn slot(kind: Kind) -> usize {
        kind as usize
    }
    pub(crate) fn get(&self, kind: Kind, name: &str) -> Option<Decl> {
        self.tables[Self::slot(kind)].get(name).copied()
    }
    pub(crate) fn contains(&self, kind: Kind, name: &str) -> bool {
        self.tables[Self::slot(kind)].contains_key(name)
    }
    pub(crate) fn insert(&mut self, kind: Kind, name: String, decl: Decl) {
        self.tables[Self::slot(kind)].insert(name, decl);
    }
    pub(crate) fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&String, &Decl)> {
        self.tables[Self::slot(kind)].iter()
    }
}

/// What a template needs at the sends that use it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs {
    /// The events read, once each, with the first place each is read.
    pub events: Vec<(EventId, Span)>,
    /// The same events with the properties read.
    pub kept: Vec<KeptEvent>,
    pub offer: Option<Span>,
    pub file: Option<FileId>,
}

/// A send of a declared template, checked once all templates are compiled.
#[derive(Debug, Clone)]
pub(crate) struct TemplateUse {
    pub template: TemplateId,
    /// The journey that sends it: the events the template reads are kept in its instances.
    pub journey: JourneyId,
    pub file: FileId,
    pub span: Span,
    pub scope: Vec<EventId>,
    pub has_offer: bool,
}

pub(crate) struct Ctx<'a> {
    pub loaded: &'a Loaded,
    /// The project's plugins and their manifests.
    pub plugins: &'a crate::plugins::Plugins,
    pub sink: &'a mut Sink,
    pub p: Program,
    pub index: Index,
    pub names: Names,
    pub profile: Option<(FileId, Span)>,
    pub attrs: HashMap<String, (AttrId, u32)>,
    pub attr_spans: SecondaryMap<AttrId, Span>,
    pub event_prop_defs: SecondaryMap<EventId, Vec<u32>>,
    pub consts: HashMap<String, ConstId>,
    pub template_needs: SecondaryMap<TemplateId, Needs>,
    pub template_uses: Vec<TemplateUse>,
    /// Events whose properties the journey being compiled reads from its instances' scope
    /// (not from the candidate of a filter); they become its `kept_events`.
    pub scope_reads: Vec<(EventId, u16)>,
    pub segment_deps: SecondaryMap<SegmentId, Vec<(SegmentId, FileId, Span)>>,
    pub channel_sends: SecondaryMap<ChannelId, Vec<(FileId, Span)>>,
    pub consent_missing: SecondaryMap<ChannelId, Option<(FileId, Span, String)>>,
    pub journey_labels: SecondaryMap<JourneyId, HashMap<String, StepId>>,
    pub experiments_by_name: HashMap<String, (ExperimentId, FileId, Span)>,
    /// Templates whose channel resolved (others are not checked against their sends).
    pub template_channel_known: SecondaryMap<TemplateId, bool>,
    /// Attributes declared with a default, even one that failed to compile.
    pub written_default: SecondaryMap<AttrId, bool>,
    /// (file, definition) pairs already reported as not imported.
    pub not_imported_reported: std::collections::HashSet<(FileId, u32)>,
    pub offer_fields: Vec<String>,
    pub agg_dedup: HashMap<(u8, EventId, Option<u16>, Option<u64>), AggId>,
    /// Definition index of each channel parameter and labelled step, by (container def, name).
    pub member_defs: HashMap<(u32, String), u32>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        loaded: &'a Loaded,
        plugins: &'a crate::plugins::Plugins,
        sink: &'a mut Sink,
    ) -> Ctx<'a> {
        Ctx {
            loaded,
            plugins,
            sink,
            p: Program::default(),
            index: Index::default(),
            names: Names::default(),
            profile: None,
            attrs: HashMap::new(),
            attr_spans: SecondaryMap::new(),
            event_prop_defs: SecondaryMap::new(),
            consts: HashMap::new(),
            template_needs: SecondaryMap::new(),
            template_uses: Vec::new(),
            scope_reads: Vec::new(),
            segment_deps: SecondaryMap::new(),
            channel_sends: SecondaryMap::new(),
            consent_missing: SecondaryMap::new(),
            journey_labels: SecondaryMap::new(),
            experiments_by_name: HashMap::new(),
            template_channel_known: SecondaryMap::new(),
            written_default: SecondaryMap::new(),
            not_imported_reported: std::collections::HashSet::new(),
            offer_fields: Vec::new(),
            agg_dedup: HashMap::new(),
            member_defs: HashMap::new(),
        }
    }

    pub(crate) fn emit_diag(&mut self, d: Diagnostic) {
        self.sink.push(d);
    }

    pub(crate) fn diag(
        &mut self,
        code: &'static Code,
        file: FileId,
        span: Span,
        msg: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(code, file, span, msg)
    }

    /// The E0204 diagnostic for something (`what`, such as ``the goal `achat` ``) `verb`
    /// (declared, written, given...) a second time at `span`: "`what` is `verb` twice",
    /// pointing at the first time ("first `verb` here").
    pub(crate) fn twice(
        &mut self,
        file: FileId,
        span: Span,
        what: impl std::fmt::Display,
        verb: &str,
        first: (FileId, Span),
    ) -> Diagnostic {
        self.diag(
            &codes::DUPLICATE,
            file,
            span,
            format!("{what} is {verb} twice"),
        )
        .label(first.0, first.1, format!("first {verb} here"))
    }

    pub(crate) fn loc(&self, file: FileId, span: Span) -> Loc {
        self.loaded.sources.loc(file, span)
    }

    // ------------------------------------------------------------ code emission

    pub(crate) fn pc(&self) -> Pc {
        self.p.code.len() as Pc
    }

    pub(crate) fn emit(&mut self, insn: Insn, loc: Loc) -> Pc {
        let pc = self.pc();
        self.p.code.push(insn);
        self.p.locs.push(loc);
        pc
    }

    /// Sets the jump target of the jump at `at` to `target`.
    pub(crate) fn patch(&mut self, at: Pc, target: Pc) {
        if let Some(
            Insn::Jump(t)
            | Insn::JumpIfFalse(t)
            | Insn::JumpIfFalseOrPop(t)
            | Insn::JumpIfTrueOrPop(t),
        ) = self.p.code.get_mut(at as usize)
        {
            *t = target;
        }
    }

    // ------------------------------------------------------------ constants

    pub(crate) fn konst(&mut self, c: Const) -> ConstId {
        let key = const_key(&c);
        if let Some(&id) = self.consts.get(&key) {
            return id;
        }
        let id = self.p.consts.push(c);
        self.consts.insert(key, id);
        id
    }

    /// Evaluates a literal expression (defaults, configuration, test inputs).
    pub(crate) fn constant(&mut self, file: FileId, e: &ast::Expr) -> Option<(Const, Ty)> {
        use ast::ExprKind as K;
        Some(match &e.kind {
            K::Number(n) => (Const::Number(*n), Ty::Number),
            K::Bool(b) => (Const::Bool(*b), Ty::Bool),
            K::String(s) => match s.plain() {
                Some(t) => (Const::String(t), Ty::String),
                None => {
                    let d = self
                        .diag(
                            &codes::NOT_CONSTANT,
                            file,
                            e.span,
                            "this text must be written out, without interpolation",
                        )
                        .primary_label("interpolation is not allowed here");
                    self.emit_diag(d);
                    return None;
                }
            },
            K::Date(d) => (Const::Date(self.date(file, d)?), Ty::Date),
            K::Timestamp(t) => {
                let (d, tm) = self.timestamp(file, t)?;
                (Const::Timestamp(d, tm), Ty::Timestamp)
            }
            K::Duration(d) => (
                Const::Duration(self.duration_secs(file, d)? as i64),
                Ty::Duration,
            ),
            K::Unary(ast::UnaryOp::Neg, inner) => match self.constant(file, inner)? {
                (Const::Number(n), Ty::Number) => (Const::Number(-n), Ty::Number),
                (Const::Duration(n), Ty::Duration) => (Const::Duration(-n), Ty::Duration),
                _ => {
                    let d = self.diag(
                        &codes::TYPE_MISMATCH,
                        file,
                        e.span,
                        "only numbers and durations can be negated",
                    );
                    self.emit_diag(d);
                    return None;
                }
            },
            K::List(items) => {
                let mut out = Vec::new();
                let mut elem: Option<Ty> = None;
                for item in items {
                    let (c, t) = self.constant(file, item)?;
                    if let Some(et) = &elem {
                        if !t.assignable_to(et) {
                            let d = self
                                .diag(
                                    &codes::TYPE_MISMATCH,
                                    file,
                                    item.span,
                                    format!("list elements must all be {et}"),
                                )
                                .primary_label(format!("this is {t}"));
                            self.emit_diag(d);
                            return None;
                        }
                    } else {
                        elem = Some(t);
                    }
                    out.push(c);
                }
                (
                    Const::List(out),
                    elem.map(|t| Ty::List(Box::new(t))).unwrap_or(Ty::EmptyList),
                )
            }
            _ => {
                let d = self
                    .diag(&codes::NOT_CONSTANT, file, e.span, "this value must be a literal")
                    .primary_label("computed values are not allowed here")
                    .help("write a literal such as `42`, `\"text\"`, `true`, `2027-01-04` or `7 days`");
                self.emit_diag(d);
                return None;
            }
        })
    }

    // ------------------------------------------------------------ literals

    pub(crate) fn date(&mut self, file: FileId, d: &ast::DateLit) -> Option<Date> {
        let ok = i16::try_from(d.year).ok().and_then(|y| {
            let m = i8::try_from(d.month).ok()?;
            let dd = i8::try_from(d.day).ok()?;
            jiff::civil::Date::new(y, m, dd).ok().map(|_| Date {
                year: y,
                month: m as u8,
                day: dd as u8,
            })
        });
        if ok.is_none() {
            let diag = self
                .diag(
                    &codes::INVALID_DATE,
                    file,
                    d.span,
                    format!("{:04}-{:02}-{:02} is not a date", d.year, d.month, d.day),
                )
                .primary_label("no such day in the calendar");
            self.emit_diag(diag);
        }
        ok
    }

    pub(crate) fn time(&mut self, file: FileId, t: &ast::TimeLit) -> Option<TimeOfDay> {
        if t.hour < 24 && t.minute < 60 {
            Some(TimeOfDay {
                hour: t.hour as u8,
                minute: t.minute as u8,
            })
        } else {
            let help = if t.hour == 24 && t.minute == 0 {
                "midnight is `00:00`"
            } else {
                "hours go from 00 to 23, minutes from 00 to 59"
            };
            let d = self
                .diag(
                    &codes::INVALID_TIME,
                    file,
                    t.span,
                    format!("{:02}:{:02} is not a time of day", t.hour, t.minute),
                )
                .primary_label("out of range")
                .help(help);
            self.emit_diag(d);
            None
        }
    }

    pub(crate) fn timestamp(
        &mut self,
        file: FileId,
        t: &ast::TimestampLit,
    ) -> Option<(Date, TimeOfDay)> {
        let d = self.date(file, &t.date);
        let tm = self.time(file, &t.time);
        Some((d?, tm?))
    }

    /// Seconds of a duration; reports a calendar unit (months, years) as an error.
    pub(crate) fn duration_secs(&mut self, file: FileId, d: &ast::DurationLit) -> Option<u64> {
        match d.unit.seconds() {
            Some(s) => {
                let v = d.count * s as f64;
                if v.is_finite() && (0.0..1e15).contains(&v) {
                    Some(v.round() as u64)
                } else {
                    let diag = self.diag(
                        &codes::INVALID_LITERAL,
                        file,
                        d.span,
                        "this duration is too long",
                    );
                    self.emit_diag(diag);
                    None
                }
            }
            None => {
                let days = if d.unit == ast::TimeUnit::Month {
                    d.count * 30.0
                } else {
                    d.count * 365.0
                };
                let diag = self
                    .diag(
                        &codes::DURATION_EXPECTED,
                        file,
                        d.span,
                        "months and years are calendar offsets, not durations",
                    )
                    .primary_label("an exact duration is needed here")
                    .help(format!(
                        "write a duration in days, such as `{} days`",
                        days.round()
                    ));
                self.emit_diag(diag);
                None
            }
        }
    }

    // ------------------------------------------------------------ types

    pub(crate) fn schema_type(&mut self, file: FileId, t: &ast::TypeExpr) -> Type {
        let base = match t.name.text.as_str() {
            "string" => Type::String,
            "number" => Type::Number,
            "bool" => Type::Bool,
            "date" => Type::Date,
            "timestamp" => Type::Timestamp,
            "duration" => Type::Duration,
            "timezone" => Type::Timezone,
            "list" => match &t.arg {
                Some(a) => Type::List(Box::new(self.schema_type(file, a))),
                None => {
                    let d = self
                        .diag(
                            &codes::UNKNOWN_TYPE,
                            file,
                            t.name.span,
                            "`list` needs an element type",
                        )
                        .help("write `list<string>`");
                    self.emit_diag(d);
                    Type::String
                }
            },
            other => {
                let suggestion = suggest(other, TYPE_NAMES.iter().copied());
                let alias = match other {
                    "int" | "integer" | "float" | "f64" | "i64" | "decimal" => Some("number"),
                    "boolean" => Some("bool"),
                    "str" | "text" => Some("string"),
                    "datetime" | "instant" => Some("timestamp"),
                    _ => None,
                };
                let best = alias.map(str::to_string).or(suggestion);
                let mut d = self
                    .diag(
                        &codes::UNKNOWN_TYPE,
                        file,
                        t.name.span,
                        format!("unknown type `{other}`"),
                    )
                    .primary_label("not a type of the language");
                if let Some(b) = best {
                    d = d.help(format!("did you mean `{b}`?")).fix(Fix {
                        file,
                        span: t.name.span,
                        replacement: b.clone(),
                        title: format!("replace with `{b}`"),
                    });
                }
                self.emit_diag(d);
                Type::String
            }
        };
        if t.arg.is_some() && t.name.text != "list" {
            let d = self.diag(
                &codes::UNKNOWN_TYPE,
                file,
                t.span,
                format!("`{}` takes no type argument", t.name.text),
            );
            self.emit_diag(d);
        }
        if t.optional {
            Type::Optional(Box::new(base))
        } else {
            base
        }
    }

    // ------------------------------------------------------------ names

    /// Declares a top-level name; reports a duplicate.
    pub(crate) fn declare(
        &mut self,
        kind: Kind,
        file: FileId,
        name: &Ident,
        full: Span,
        docs: Option<&str>,
        index: u32,
    ) -> bool {
        if let Some(prev) = self.names.get(kind, &name.text) {
            let what = format!("the {} `{}`", kind.word(), name.text);
            let d = self
                .twice(file, name.span, what, "declared", (prev.file, prev.span))
                .primary_label("second declaration")
                .help(format!(
                    "rename one of them or remove the duplicate {}",
                    kind.word()
                ));
            self.emit_diag(d);
            return false;
        }
        let def = self.index.define(
            kind.def_kind(),
            &name.text,
            file,
            name.span,
            full,
            docs,
            String::new(),
            None,
        );
        self.names.insert(
            kind,
            name.text.clone(),
            Decl {
                file,
                span: name.span,
                index,
                def,
            },
        );
        true
    }

    /// Resolves a name of a kind from a file; reports unknown and not-imported names.
    pub(crate) fn resolve(&mut self, kind: Kind, file: FileId, name: &Ident) -> Option<u32> {
        match self.names.get(kind, &name.text) {
            Some(decl) => {
                self.index.reference(file, name.span, decl.def);
                if self.loaded.sees(file, decl.file)
                    || !self.not_imported_reported.insert((file, decl.def))
                {
                    Some(decl.index)
                } else {
                    let path = import_path(
                        &self.loaded.sources.files[file].path,
                        &self.loaded.sources.files[decl.file].path,
                    );
                    let d = self
                        .diag(
                            &codes::NOT_IMPORTED,
                            file,
                            name.span,
                            format!("the {} `{}` is not imported here", kind.word(), name.text),
                        )
                        .primary_label(format!(
                            "declared in `{}`",
                            self.loaded.sources.files[decl.file].path
                        ))
                        .label(decl.file, decl.span, "declared here")
                        .help(format!("add `import \"{path}\"` at the top of this file"))
                        .fix(Fix {
                            file,
                            span: Span::new(0, 0),
                            replacement: format!("import \"{path}\"\n"),
                            title: format!("add `import \"{path}\"`"),
                        });
                    self.emit_diag(d);
                    Some(decl.index)
                }
            }
            None => {
                let candidates: Vec<String> = self
                    .names
                    .of_kind(kind)
                    .filter(|(_, d)| self.loaded.sees(file, d.file))
                    .map(|(n, _)| n.clone())
                    .collect();
                let other_kind = [
                    Kind::Event,
                    Kind::Segment,
                    Kind::Channel,
                    Kind::Template,
                    Kind::Offer,
                    Kind::Journey,
                    Kind::Policy,
                ]
                .into_iter()
                .find(|k| *k != kind && self.names.contains(*k, &name.text));
                let mut d = self
                    .diag(
                        &codes::UNKNOWN_NAME,
                        file,
                        name.span,
                        format!("unknown {} `{}`", kind.word(), name.text),
                    )
                    .primary_label(format!("no {} has this name", kind.word()));
                if let Some(best) = suggest(&name.text, candidates.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                        file,
                        span: name.span,
                        replacement: best.clone(),
                        title: format!("replace with `{best}`"),
                    });
                } else if let Some(k) = other_kind {
                    d = d.note(format!(
                        "`{}` is a {}, not a {}",
                        name.text,
                        k.word(),
                        kind.word()
                    ));
                } else {
                    d = d.help(format!(
                        "declare it with `{} {} ...`",
                        kind.word(),
                        name.text
                    ));
                }
                self.emit_diag(d);
                None
            }
        }
    }

    /// Reports an unknown name of a sub-kind (label, goal, variant, function...).
    pub(crate) fn unknown(
        &mut self,
        what: &str,
        file: FileId,
        name: &Ident,
        mut candidates: Vec<String>,
    ) {
        candidates.sort();
        // `what` may carry a context: "step label in `accueil`".
        let (kind, context) = what
            .split_once(" in ")
            .map(|(k, c)| (k, format!(" in {c}")))
            .unwrap_or((what, String::new()));
        let mut d = self
            .diag(
                &codes::UNKNOWN_NAME,
                file,
                name.span,
                format!("unknown {kind} `{}`{context}", name.text),
            )
            .primary_label(format!("no {what} has this name"));
        if let Some(best) = suggest(&name.text, candidates.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                file,
                span: name.span,
                replacement: best.clone(),
                title: format!("replace with `{best}`"),
            });
        } else if candidates.is_empty() {
            d = d.note(format!("no {what} is declared"));
        } else if candidates.len() <= 12 {
            d = d.note(format!("known: {}", candidates.join(", ")));
        }
        self.emit_diag(d);
    }

    /// Resolves `profile.attr` from a file.
    pub(crate) fn attribute(&mut self, file: FileId, name: &Ident) -> Option<AttrId> {
        let Some((pfile, pspan)) = self.profile else {
            let d = self
                .diag(
                    &codes::UNKNOWN_PROPERTY,
                    file,
                    name.span,
                    format!("unknown profile attribute `{}`", name.text),
                )
                .primary_label("the project declares no profile")
                .help(format!(
                    "declare the customer profile: `profile {{ {}: ... }}`",
                    name.text
                ));
            self.emit_diag(d);
            return None;
        };
        match self.attrs.get(&name.text).copied() {
            Some((id, def)) => {
                self.index.reference(file, name.span, def);
                if !self.loaded.sees(file, pfile)
                    && self.not_imported_reported.insert((file, u32::MAX))
                {
                    let path = import_path(
                        &self.loaded.sources.files[file].path,
                        &self.loaded.sources.files[pfile].path,
                    );
                    let d = self
                        .diag(
                            &codes::NOT_IMPORTED,
                            file,
                            name.span,
                            "the profile is not imported here",
                        )
                        .primary_label(format!(
                            "the profile is declared in `{}`",
                            self.loaded.sources.files[pfile].path
                        ))
                        .label(pfile, pspan, "declared here")
                        .help(format!("add `import \"{path}\"` at the top of this file"))
                        .fix(Fix {
                            file,
                            span: Span::new(0, 0),
                            replacement: format!("import \"{path}\"\n"),
                            title: format!("add `import \"{path}\"`"),
                        });
                    self.emit_diag(d);
                }
                Some(id)
            }
            None => {
                let names: Vec<String> = self.attrs.keys().cloned().collect();
                let mut d = self
                    .diag(
                        &codes::UNKNOWN_PROPERTY,
                        file,
                        name.span,
                        format!("the profile has no attribute `{}`", name.text),
                    )
                    .primary_label("unknown attribute")
                    .label(pfile, pspan, "profile declared here");
                if let Some(best) = suggest(&name.text, names.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                        file,
                        span: name.span,
                        replacement: best.clone(),
                        title: format!("replace with `{best}`"),
                    });
                } else {
                    d = d.help(format!("add `{}: <type>` to the profile", name.text));
                }
                self.emit_diag(d);
                None
            }
        }
    }

    /// Resolves a property of an event.
    pub(crate) fn event_prop(&mut self, file: FileId, event: EventId, name: &Ident) -> Option<u16> {
        let ev = &self.p.events[event];
        if let Some(i) = ev.props.iter().position(|p| p.name == name.text) {
            if let Some(&def) = self.event_prop_defs[event].get(i) {
                self.index.reference(file, name.span, def);
            }
            return Some(i as u16);
        }
        let names: Vec<String> = ev.props.iter().map(|p| p.name.clone()).collect();
        let ev_name = ev.name.clone();
        let mut d = self
            .diag(
                &codes::UNKNOWN_PROPERTY,
                file,
                name.span,
                format!("the event `{ev_name}` has no property `{}`", name.text),
            )
            .primary_label("unknown property");
        if let Some(decl) = self.names.get(Kind::Event, &ev_name) {
            d = d.label(decl.file, decl.span, "event declared here");
        }
        if let Some(best) = suggest(&name.text, names.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                file,
                span: name.span,
                replacement: best.clone(),
                title: format!("replace with `{best}`"),
            });
        } else if names.is_empty() {
            d = d.note(format!("`{ev_name}` declares no properties"));
        } else {
            d = d.note(format!("its properties: {}", names.join(", ")));
        }
        self.emit_diag(d);
        None
    }

    pub(crate) fn entity<T: EntityRef>(index: u32) -> T {
        T::new(index as usize)
    }
}

/// The closest name within a small edit distance.
pub(crate) fn suggest<'s>(name: &str, candidates: impl Iterator<Item = &'s str>) -> Option<String> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .filter(|c| *c != name)
        .map(|c| {
            (
                c,
                strsim::damerau_levenshtein(&name.to_lowercase(), &c.to_lowercase()),
            )
        })
        .filter(|(_, d)| *d <= limit)
        .min_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)))
        .map(|(c, _)| c.to_string())
}

/// The import path from one project file to another.
pub(crate) fn import_path(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = {
        let mut v: Vec<&str> = from.split('/').collect();
        v.pop();
        v
    };
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out: Vec<&str> = vec![".."; from_dir.len() - common];
    out.extend(&to_parts[common..]);
    out.join("/")
}

/// A hashable key identifying a constant (floats by their bits).
fn const_key(c: &Const) -> String {
    match c {
        Const::String(s) => {
            let mut k = String::with_capacity(s.len() + 1);
            k.push('s');
            k.push_str(s);
            k
        }
        Const::Number(n) => format!("n{:x}", n.to_bits()),
        Const::Bool(b) => {
            if *b {
                "bt".into()
            } else {
                "bf".into()
            }
        }
        other => format!("{other:?}"),
    }
}
