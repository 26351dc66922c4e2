//! Declarations: the collection pass that gives every name its id, then the compilation of
//! schemas, segments, channels, templates, offers and policies.

use journey_bytecode::*;
use journey_grammar::ast::{self, ItemKind, Span};

use crate::codes;
use crate::ctx::{Ctx, Kind};
use crate::expr::{Env, OfferScope, Scope};
use crate::index::DefKind;
use crate::types::Ty;

impl<'a> Ctx<'a> {
    /// Files in load order with their items.
    pub(crate) fn items(&self) -> Vec<(FileId, &'a ast::Item)> {
        let loaded: &'a crate::load::Loaded = self.loaded;
        let mut out = Vec::new();
        for (file, ast) in loaded.asts.iter() {
            for item in &ast.items {
                out.push((file, item));
            }
        }
        out
    }

    /// Pass 1: the profile, events, and an id for every top-level name.
    pub(crate) fn collect(&mut self) {
        let loaded = self.loaded;
        // Offer fields first: templates may read them before offers are compiled.
        for (file, item) in self.items() {
            let _ = file;
            if let ItemKind::Offer(o) = &item.kind {
                for f in &o.fields {
                    if !loaded_contains(&self.offer_fields, &f.name.text) {
                        self.offer_fields.push(f.name.text.clone());
                    }
                }
            }
        }
        let _ = loaded;
        for (file, item) in self.items() {
            let docs = item.docs.as_deref();
            match &item.kind {
                ItemKind::Profile(p) => self.collect_profile(file, p, item.span),
                ItemKind::Event(e) => {
                    let index = self.p.events.len() as u32;
                    if self.declare(Kind::Event, file, &e.name, item.span, docs, index) {
                        let def = self
                            .names
                            .get(Kind::Event, &e.name.text)
                            .map(|d| d.def)
                            .unwrap_or(0);
                        let mut props: Vec<PropDef> = Vec::new();
                        let mut prop_defs = Vec::new();
                        for f in &e.fields {
                            let ty = self.schema_type(file, &f.ty);
                            if let Some(prev) = e
                                .fields
                                .iter()
                                .take_while(|g| !std::ptr::eq(*g, f))
                                .find(|g| g.name.text == f.name.text)
                            {
                                let what = format!(
                                    "the property `{}` of the event `{}`",
                                    f.name.text, e.name.text
                                );
                                let d = self.twice(
                                    file,
                                    f.name.span,
                                    what,
                                    "declared",
                                    (file, prev.name.span),
                                );
                                self.emit_diag(d);
                                continue;
                            }
                            if f.default.is_some() {
                                let d = self
                                    .diag(
                                        &codes::NOT_CONSTANT,
                                        file,
                                        f.span,
                                        "event properties have no default",
                                    )
                                    .help("make the property optional with `?` instead");
                                self.emit_diag(d);
                            }
                            prop_defs.push(self.index.define(
                                DefKind::Property,
                                &f.name.text,
                                file,
                                f.name.span,
                                f.span,
                                f.docs.as_deref(),
                                ty.to_string(),
                                Some(def),
                            ));
                            props.push(PropDef {
                                name: f.name.text.clone(),
                                ty,
                            });
                        }
                        self.index.defs[def as usize].detail = format!("event {}", e.name.text);
                        let id = self.p.events.push(EventDef {
                            name: e.name.text.clone(),
                            props,
                        });
                        self.event_prop_defs[id] = prop_defs;
                    }
                }
                ItemKind::Segment(s) => {
                    let index = self.p.segments.len() as u32;
                    if self.declare(Kind::Segment, file, &s.name, item.span, docs, index) {
                        let loc = self.loc(file, s.name.span);
                        self.p.segments.push(SegmentDef {
                            name: s.name.text.clone(),
                            condition: 0,
                            uses_segments: Vec::new(),
                            uses_aggregates: Vec::new(),
                            uses_attributes: Vec::new(),
                            loc,
                        });
                    }
                }
                ItemKind::Channel(c) => {
                    let index = self.p.channels.len() as u32;
                    if self.declare(Kind::Channel, file, &c.name, item.span, docs, index) {
                        let loc = self.loc(file, c.name.span);
                        self.p.channels.push(ChannelDef {
                            name: c.name.text.clone(),
                            plugin: c.plugin.plain().unwrap_or_default(),
                            config: Vec::new(),
                            params: Vec::new(),
                            consent: None,
                            loc,
                        });
                    }
                }
                ItemKind::Template(t) => {
                    let index = self.p.templates.len() as u32;
                    if self.declare(Kind::Template, file, &t.name, item.span, docs, index) {
                        self.p.templates.push(TemplateDef {
                            name: t.name.text.clone(),
                            channel: ChannelId::from_u32(0),
                            parts: Vec::new(),
                        });
                    }
                }
                ItemKind::Offer(o) => {
                    let index = self.p.offers.len() as u32;
                    if self.declare(Kind::Offer, file, &o.name, item.span, docs, index) {
                        let loc = self.loc(file, o.name.span);
                        self.p.offers.push(OfferDef {
                            name: o.name.text.clone(),
                            priority: 0,
                            eligible: None,
                            valid_from: None,
                            valid_until: None,
                            fields: Vec::new(),
                            loc,
                        });
                    }
                }
                ItemKind::Policy(p) => {
                    let index = self.p.policies.len() as u32;
                    if self.declare(Kind::Policy, file, &p.name, item.span, docs, index) {
                        self.p.policies.push(PolicyDef {
                            name: p.name.text.clone(),
                            caps: Vec::new(),
                            quiet: Vec::new(),
                            priority: Vec::new(),
                            exempt: Vec::new(),
                        });
                    }
                }
                ItemKind::Journey(j) => {
                    let index = self.p.journeys.len() as u32;
                    if self.declare(Kind::Journey, file, &j.name, item.span, docs, index) {
                        let loc = self.loc(file, j.name.span);
                        self.p.journeys.push(JourneyDef {
                            name: j.name.text.clone(),
                            entries: Vec::new(),
                            reentry: Reentry::Never,
                            exits: Vec::new(),
                            max_lifetime_secs: None,
                            body: 0,
                            timeline: Vec::new(),
                            entry_events: Vec::new(),
                            kept_events: Vec::new(),
                            loc,
                        });
                    }
                }
                ItemKind::Import(_) | ItemKind::Test(_) => {}
            }
        }
        self.p.meta.timezone_attr = self
            .p
            .attributes
            .iter()
            .find(|(_, a)| a.ty == Type::Timezone)
            .map(|(id, _)| id);
    }

    fn collect_profile(&mut self, file: FileId, p: &ast::Profile, full: Span) {
        if let Some((pfile, pspan)) = self.profile {
            let d = self
                .twice(file, p.keyword, "the profile", "declared", (pfile, pspan))
                .primary_label("second profile")
                .help("a project has one profile schema: merge the attributes into it");
            self.emit_diag(d);
            return;
        }
        self.profile = Some((file, p.keyword));
        for f in &p.fields {
            let ty = self.schema_type(file, &f.ty);
            if let Some(&(prev, _)) = self.attrs.get(&f.name.text) {
                let prev_span = self.attr_spans[prev];
                let what = format!("the attribute `{}`", f.name.text);
                let d = self.twice(file, f.name.span, what, "declared", (file, prev_span));
                self.emit_diag(d);
                continue;
            }
            let default = match &f.default {
                Some(e) => match self.constant(file, e) {
                    Some((c, t)) if matches!(t, Ty::EmptyList) && !matches!(ty, Type::List(_)) => {
                        let d = self.diag(
                            &codes::TYPE_MISMATCH,
                            file,
                            e.span,
                            format!("the default value must be {ty}, but this is a list"),
                        );
                        self.emit_diag(d);
                        let _ = c;
                        None
                    }
                    Some((c, t)) => {
                        let target = Ty::of(&ty);
                        if self.expect_type(file, e.span, &t, &target, "the default value") {
                            if ty == Type::Timezone {
                                self.check_timezone(file, e.span, &c);
                            }
                            Some(self.konst(c))
                        } else {
                            None
                        }
                    }
                    None => None,
                },
                None => None,
            };
            let def = self.index.define(
                DefKind::Attribute,
                &f.name.text,
                file,
                f.name.span,
                f.span,
                f.docs.as_deref(),
                ty.to_string(),
                None,
            );
            let id = self.p.attributes.push(AttrDef {
                name: f.name.text.clone(),
                ty,
                default,
            });
            self.written_default[id] = f.default.is_some();
            self.attr_spans[id] = f.name.span;
            self.attrs.insert(f.name.text.clone(), (id, def));
        }
        let _ = full;
    }

    /// Checks that a constant string names an IANA time zone.
    pub(crate) fn check_timezone(&mut self, file: FileId, span: Span, c: &Const) {
        if let Const::String(name) = c
            && jiff::tz::TimeZone::get(name).is_err()
        {
            let d = self
                .diag(
                    &codes::INVALID_TIMEZONE,
                    file,
                    span,
                    format!("`{name}` is not a known time zone"),
                )
                .primary_label("not in the IANA time zone database")
                .help("use a name such as `Europe/Paris` or `America/New_York`");
            self.emit_diag(d);
        }
    }

    /// Pass 2: compile everything but journeys and tests.
    pub(crate) fn compile_decls(&mut self) {
        for (file, item) in self.items() {
            match &item.kind {
                ItemKind::Segment(s) => self.segment(file, s),
                ItemKind::Channel(c) => self.channel(file, c),
                _ => {}
            }
        }
        for (file, item) in self.items() {
            match &item.kind {
                ItemKind::Template(t) => self.template(file, t),
                ItemKind::Offer(o) => self.offer(file, o),
                ItemKind::Policy(p) => self.policy(file, p),
                _ => {}
            }
        }
    }

    fn own<T: cranelift_entity::EntityRef>(
        &self,
        kind: Kind,
        name: &ast::Ident,
        file: FileId,
    ) -> Option<T> {
        let d = self.names.get(kind, &name.text)?;
        (d.file == file && d.span == name.span).then(|| Ctx::entity(d.index))
    }

    fn segment(&mut self, file: FileId, s: &ast::SegmentDecl) {
        let Some(id): Option<SegmentId> = self.own(Kind::Segment, &s.name, file) else {
            return;
        };
        let mut env = Env::new(
            file,
            Scope::Events(Vec::new()),
            OfferScope::Forbidden,
            "a segment condition",
        );
        env.segment = Some(id);
        let pc = self.condition_function(&s.condition, &mut env);
        self.p.segments[id].condition = pc;
        self.index.defs[self
            .names
            .get(Kind::Segment, &s.name.text)
            .map(|d| d.def)
            .unwrap_or(0) as usize]
            .detail = format!("segment {}: bool", s.name.text);
    }

    fn channel(&mut self, file: FileId, c: &ast::ChannelDecl) {
        let Some(id): Option<ChannelId> = self.own(Kind::Channel, &c.name, file) else {
            return;
        };
        if c.plugin.plain().is_none() {
            let d = self.diag(
                &codes::NOT_CONSTANT,
                file,
                c.plugin.span,
                "the plugin name must be plain text",
            );
            self.emit_diag(d);
        }
        let manifest = self.channel_plugin(file, c);
        let mut suggested = Vec::new();
        let mut config = Vec::new();
        for (i, e) in c.config.iter().enumerate() {
            if let Some(prev) = c.config[..i].iter().find(|p| p.key.text == e.key.text) {
                let what = format!("`{}`", e.key.text);
                let d = self.twice(file, e.key.span, what, "configured", (file, prev.key.span));
                self.emit_diag(d);
                continue;
            }
            if let Some(m) = manifest {
                suggested.extend(self.check_config_entry(file, c, e, m));
            }
            let value = match &e.value {
                ast::ConfigValue::Literal(x) => match self.constant(file, x) {
                    Some((c, _)) => ConfigValue::Const(self.konst(c)),
                    None => continue,
                },
                ast::ConfigValue::Env(s) | ast::ConfigValue::Secret(s) => {
                    let Some(name) = s.plain() else {
                        let d = self.diag(
                            &codes::NOT_CONSTANT,
                            file,
                            s.span,
                            "the variable name must be plain text",
                        );
                        self.emit_diag(d);
                        continue;
                    };
                    if matches!(e.value, ast::ConfigValue::Env(_)) {
                        ConfigValue::Env(name)
                    } else {
                        ConfigValue::Secret(name)
                    }
                }
            };
            config.push((e.key.text.clone(), value));
        }
        if let Some(m) = manifest {
            self.check_config_complete(file, c, m, &suggested);
        }
        suggested.clear();
        let chan_def = self
            .names
            .get(Kind::Channel, &c.name.text)
            .map(|d| d.def)
            .unwrap_or(0);
        let mut params = match (manifest, &c.params) {
            (Some(m), None) => self.manifest_params(m),
            _ => Vec::new(),
        };
        let declared = c.params.as_deref().unwrap_or_default();
        for (i, f) in declared.iter().enumerate() {
            let errors = self.sink.errors();
            let ty = self.schema_type(file, &f.ty);
            if let Some(first) = declared[..i].iter().find(|g| g.name.text == f.name.text) {
                let what = format!("the parameter `{}`", f.name.text);
                let d = self.twice(file, f.name.span, what, "declared", (file, first.name.span));
                self.emit_diag(d);
                continue;
            }
            if let Some(d) = &f.default {
                let diag = self
                    .diag(
                        &codes::NOT_CONSTANT,
                        file,
                        d.span,
                        "channel parameters have no default",
                    )
                    .primary_label("remove this default")
                    .help(format!(
                        "make the parameter optional instead: `{}: {}?`",
                        f.name.text, ty
                    ));
                self.emit_diag(diag);
            }
            if let Some(m) = manifest
                && self.sink.errors() == errors
            {
                suggested.extend(self.check_param(file, f, &ty, m));
            }
            let def = self.index.define(
                DefKind::Parameter,
                &f.name.text,
                file,
                f.name.span,
                f.span,
                f.docs.as_deref(),
                ty.to_string(),
                Some(chan_def),
            );
            self.member_defs
                .insert((chan_def, f.name.text.clone()), def);
            params.push(ParamDef {
                name: f.name.text.clone(),
                ty,
            });
        }
        if let (Some(m), Some(declared)) = (manifest, &c.params) {
            self.check_params_complete(file, c, declared, m, &suggested);
        }
        let consent = c.consent.as_ref().map(|e| {
            let mut env = Env::new(
                file,
                Scope::Events(Vec::new()),
                OfferScope::Forbidden,
                "a consent condition",
            );
            env.consent_of = Some(id);
            self.condition_function(e, &mut env)
        });
        let ch = &mut self.p.channels[id];
        ch.config = config;
        ch.params = params;
        ch.consent = consent;
        self.index.defs[chan_def as usize].detail = self.channel_detail(c, manifest);
    }

    fn template(&mut self, file: FileId, t: &ast::TemplateDecl) {
        let Some(id): Option<TemplateId> = self.own(Kind::Template, &t.name, file) else {
            return;
        };
        let channel = self
            .resolve(Kind::Channel, file, &t.channel)
            .map(Ctx::entity::<ChannelId>);
        let mut env = Env::new(file, Scope::Record, OfferScope::Record, "a template");
        let mut parts = Vec::new();
        for (i, part) in t.parts.iter().enumerate() {
            if let Some(prev) = t.parts[..i].iter().find(|p| p.name.text == part.name.text) {
                let what = format!("the part `{}`", part.name.text);
                let d = self.twice(
                    file,
                    part.name.span,
                    what,
                    "written",
                    (file, prev.name.span),
                );
                self.emit_diag(d);
                continue;
            }
            parts.push(self.text(&part.name.text, &part.text, &mut env));
        }
        let kept = KeptEvent::of_reads(env.used_events.iter().map(|&(e, p, _)| (e, p)));
        let mut events: Vec<(EventId, Span)> = env
            .used_events
            .iter()
            .map(|&(e, _, span)| (e, span))
            .collect();
        events.sort_by_key(|(e, _)| *e);
        events.dedup_by_key(|(e, _)| *e);
        self.template_needs[id] = crate::ctx::Needs {
            events,
            kept,
            offer: env.used_offer,
            file: Some(file),
        };
        let tpl = &mut self.p.templates[id];
        if let Some(ch) = channel {
            tpl.channel = ch;
            self.template_channel_known[id] = true;
        }
        tpl.parts = parts;
        if let Some(ch) = channel {
            let plugin = self.p.channels[ch].plugin.clone();
            self.check_template_parts(file, t, &plugin);
        }
        let def = self
            .names
            .get(Kind::Template, &t.name.text)
            .map(|d| d.def)
            .unwrap_or(0);
        self.index.defs[def as usize].detail =
            format!("template {} for {}", t.name.text, t.channel.text);
    }

    fn offer(&mut self, file: FileId, o: &ast::OfferDecl) {
        let Some(id): Option<OfferId> = self.own(Kind::Offer, &o.name, file) else {
            return;
        };
        for (what, span) in &o.repeated {
            let d = self.diag(
                &codes::DUPLICATE,
                file,
                *span,
                format!("`{what}` is written twice in this offer"),
            );
            self.emit_diag(d);
        }
        let eligible = o.eligible.as_ref().map(|e| {
            let mut env = Env::new(
                file,
                Scope::Events(Vec::new()),
                OfferScope::Forbidden,
                "an offer's eligibility",
            );
            self.condition_function(e, &mut env)
        });
        let date_of = |this: &mut Self, e: &Option<ast::Expr>| -> Option<Date> {
            let e = e.as_ref()?;
            match &e.kind {
                ast::ExprKind::Date(d) => this.date(file, d),
                ast::ExprKind::Timestamp(t) => this.date(file, &t.date),
                _ => None,
            }
        };
        let valid_from = date_of(self, &o.valid_from);
        let valid_until = date_of(self, &o.valid_until);
        if let (Some(a), Some(b), Some(e)) = (valid_from, valid_until, o.valid_until.as_ref())
            && a >= b
        {
            let d = self
                .diag(
                    &codes::INVALID_LITERAL,
                    file,
                    e.span,
                    format!("this offer is never valid: {b} is not after {a}"),
                )
                .primary_label("`until` must come after `from`");
            self.emit_diag(d);
        }
        let mut fields = Vec::new();
        for f in &o.fields {
            match f.text.plain() {
                Some(t) => fields.push((f.name.text.clone(), t)),
                None => {
                    let d = self
                        .diag(&codes::NOT_CONSTANT, file, f.text.span, "offer fields are plain text")
                        .help("personalise in the template instead: `{offer.title} pour {profile.first_name}`");
                    self.emit_diag(d);
                }
            }
        }
        if let Some((p, span)) = o.priority
            && !(-1_000_000..=1_000_000).contains(&p)
        {
            let d = self
                .diag(
                    &codes::INVALID_LITERAL,
                    file,
                    span,
                    "this priority is out of range",
                )
                .primary_label("priorities go from -1000000 to 1000000")
                .help("priorities only order offers: small numbers such as 10, 20, 30 are enough");
            self.emit_diag(d);
        }
        let def = &mut self.p.offers[id];
        def.priority = o.priority.map(|(p, _)| p).unwrap_or(0);
        def.eligible = eligible;
        def.valid_from = valid_from;
        def.valid_until = valid_until;
        def.fields = fields;
    }

    fn policy(&mut self, file: FileId, p: &ast::PolicyDecl) {
        let Some(id): Option<PolicyId> = self.own(Kind::Policy, &p.name, file) else {
            return;
        };
        let mut def = PolicyDef {
            name: p.name.text.clone(),
            caps: Vec::new(),
            quiet: Vec::new(),
            priority: Vec::new(),
            exempt: Vec::new(),
        };
        for rule in &p.rules {
            match rule {
                ast::PolicyRule::Cap {
                    max,
                    channel,
                    window,
                    span,
                } => {
                    let ch = match channel {
                        Some(c) => match self.resolve(Kind::Channel, file, c) {
                            Some(i) => Some(Ctx::entity::<ChannelId>(i)),
                            None => continue,
                        },
                        None => None,
                    };
                    let Some(secs) = self.duration_secs(file, window) else {
                        continue;
                    };
                    if max.0 <= 0 || max.0 > u32::MAX as i64 || secs == 0 {
                        let d = self
                            .diag(&codes::INVALID_LITERAL, file, *span, "a cap must allow at least one message in a window longer than zero")
                            .primary_label("this cap would block every send")
                            .help("to stop a channel, remove it from the journeys");
                        self.emit_diag(d);
                        continue;
                    }
                    let loc = self.loc(file, *span);
                    def.caps.push(CapDef {
                        max: max.0 as u32,
                        channel: ch,
                        window_secs: secs,
                        loc,
                    });
                }
                ast::PolicyRule::Quiet {
                    from,
                    to,
                    channels,
                    span,
                } => {
                    let (f, t) = (self.time(file, from), self.time(file, to));
                    let chans: Vec<ChannelId> = channels
                        .iter()
                        .filter_map(|c| self.resolve(Kind::Channel, file, c).map(Ctx::entity))
                        .collect();
                    if let (Some(f), Some(t)) = (f, t) {
                        if f == t {
                            let d = self
                                .diag(
                                    &codes::INVALID_LITERAL,
                                    file,
                                    *span,
                                    "quiet hours that start and end at the same time are empty",
                                )
                                .primary_label("an empty period")
                                .help("write the period's start and end, such as `21:00 to 08:00`");
                            self.emit_diag(d);
                            continue;
                        }
                        let loc = self.loc(file, *span);
                        def.quiet.push(QuietDef {
                            from: f,
                            to: t,
                            channels: chans,
                            loc,
                        });
                    }
                }
                ast::PolicyRule::Priority(list, _) | ast::PolicyRule::Exempt(list, _) => {
                    let ids: Vec<JourneyId> = list
                        .iter()
                        .filter_map(|j| self.resolve(Kind::Journey, file, j).map(Ctx::entity))
                        .collect();
                    if matches!(rule, ast::PolicyRule::Priority(..)) {
                        def.priority.extend(ids)
                    } else {
                        def.exempt.extend(ids)
                    }
                }
            }
        }
        self.p.policies[id] = def;
    }
}

fn loaded_contains(v: &[String], s: &str) -> bool {
    v.iter().any(|x| x == s)
}
