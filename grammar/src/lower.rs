//! Lowering pest pairs into the typed syntax tree of [`crate::ast`].
//!
//! The grammar guarantees the shape of each pair; the lowering still never unwraps: a shape
//! it does not expect becomes a [`LowerError`] with the span of the offending pair, reported
//! as a syntax error by the caller.

use std::sync::LazyLock;

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::Rule;
use crate::ast::*;
use crate::words::keyword;

/// A pair whose shape the lowering did not expect.
#[derive(Debug, Clone)]
pub struct LowerError {
    /// Where.
    pub span: Span,
    /// What was expected there.
    pub expected: &'static str,
}

type R<T> = Result<T, LowerError>;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_in, Assoc::Left)
            | Op::infix(Rule::op_not_in, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
});

/// Lowers pairs parsed from a slice that starts at byte `base` of the file.
pub(crate) struct Lowerer {
    base: usize,
}

/// The children of a pair, keywords skipped.
struct Kids<'i> {
    pairs: std::iter::Peekable<Pairs<'i, Rule>>,
    end: Span,
}

impl<'i> Kids<'i> {
    fn skip_keywords(&mut self) {
        while let Some(p) = self.pairs.peek() {
            if keyword(p.as_rule()).is_some() {
                self.pairs.next();
            } else {
                break;
            }
        }
    }
    fn peek_rule(&mut self) -> Option<Rule> {
        self.skip_keywords();
        self.pairs.peek().map(|p| p.as_rule())
    }
    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        self.skip_keywords();
        self.pairs.next()
    }
    fn expect(&mut self, rule: Rule, expected: &'static str) -> R<Pair<'i, Rule>> {
        match self.next() {
            Some(p) if p.as_rule() == rule => Ok(p),
            _ => Err(LowerError {
                span: self.end,
                expected,
            }),
        }
    }
    fn opt(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        if self.peek_rule() == Some(rule) {
            self.next()
        } else {
            None
        }
    }
}

impl Lowerer {
    pub(crate) fn new(base: usize) -> Lowerer {
        Lowerer { base }
    }

    /// The span of a pair, without the white space pest consumed after its last token.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let text = pair.as_str();
        let trimmed = text.trim_end_matches([' ', '\t', '\r', '\n']).len();
        Span::new(self.base + s.start(), self.base + s.start() + trimmed)
    }

    fn kids<'i>(&self, pair: &Pair<'i, Rule>) -> Kids<'i> {
        let span = self.span(pair);
        Kids {
            pairs: pair.clone().into_inner().peekable(),
            end: span,
        }
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn int(&self, pair: &Pair<'_, Rule>) -> R<(i64, Span)> {
        let span = self.span(pair);
        // Digits only (the grammar says so): a number too large saturates, and the compiler
        // reports it out of range for its place.
        let text = pair.as_str();
        let v = text.parse::<i64>().unwrap_or(if text.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
        Ok((v, span))
    }

    /// Lowers a `file` or `item_eoi` pair into items.
    pub(crate) fn items(&self, pair: Pair<'_, Rule>) -> (Vec<Item>, Vec<LowerError>) {
        let mut items = Vec::new();
        let mut errors = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() == Rule::item {
                match self.item(p) {
                    Ok(item) => items.push(item),
                    Err(e) => errors.push(e),
                }
            }
        }
        (items, errors)
    }

    fn docs(&self, pair: &Pair<'_, Rule>) -> String {
        let mut out = Vec::new();
        for line in pair.clone().into_inner() {
            let text = line.as_str().trim_start_matches("///");
            out.push(
                text.strip_prefix(' ')
                    .unwrap_or(text)
                    .trim_end()
                    .to_string(),
            );
        }
        out.join("\n")
    }

    fn item(&self, pair: Pair<'_, Rule>) -> R<Item> {
        let span = self.span(&pair);
        let mut k = self.kids(&pair);
        let docs = k.opt(Rule::docs).map(|d| self.docs(&d));
        let decl = k.next().ok_or(LowerError {
            span,
            expected: "a declaration",
        })?;
        let kind = match decl.as_rule() {
            Rule::import_decl => {
                let mut k = self.kids(&decl);
                ItemKind::Import(Import {
                    path: self.string(k.expect(Rule::string, "a file path")?)?,
                })
            }
            Rule::profile_decl => {
                let keyword = self.span(&decl);
                let keyword = Span {
                    start: keyword.start,
                    end: keyword.start + 7,
                };
                ItemKind::Profile(Profile {
                    keyword,
                    fields: self.fields(&decl)?,
                })
            }
            Rule::event_decl => {
                let mut k = self.kids(&decl);
                let name = self.ident(&k.expect(Rule::ident, "an event name")?);
                ItemKind::Event(EventDecl {
                    name,
                    fields: self.fields(&decl)?,
                })
            }
            Rule::segment_decl => {
                let mut k = self.kids(&decl);
                let name = self.ident(&k.expect(Rule::ident, "a segment name")?);
                let condition = self.expr(k.expect(Rule::expr, "a condition")?)?;
                ItemKind::Segment(SegmentDecl { name, condition })
            }
            Rule::channel_decl => ItemKind::Channel(self.channel(&decl)?),
            Rule::template_decl => {
                let mut k = self.kids(&decl);
                let name = self.ident(&k.expect(Rule::ident, "a template name")?);
                let channel = self.ident(&k.expect(Rule::ident, "a channel name")?);
                let mut parts = Vec::new();
                while let Some(p) = k.opt(Rule::template_part) {
                    parts.push(self.named_string(&p)?);
                }
                ItemKind::Template(TemplateDecl {
                    name,
                    channel,
                    parts,
                })
            }
            Rule::offer_decl => ItemKind::Offer(self.offer(&decl)?),
            Rule::policy_decl => ItemKind::Policy(self.policy(&decl)?),
            Rule::journey_decl => ItemKind::Journey(self.journey(&decl)?),
            Rule::test_decl => ItemKind::Test(self.test(&decl)?),
            _ => {
                return Err(LowerError {
                    span: self.span(&decl),
                    expected: "a declaration",
                });
            }
        };
        Ok(Item { docs, kind, span })
    }

    fn fields(&self, pair: &Pair<'_, Rule>) -> R<Vec<Field>> {
        let mut out = Vec::new();
        for p in pair
            .clone()
            .into_inner()
            .filter(|p| p.as_rule() == Rule::field)
        {
            let span = self.span(&p);
            let mut k = self.kids(&p);
            let docs = k.opt(Rule::docs).map(|d| self.docs(&d));
            let name = self.ident(&k.expect(Rule::name, "a field name")?);
            let ty = self.type_expr(k.expect(Rule::type_expr, "a type")?)?;
            let default = match k.opt(Rule::expr) {
                Some(e) => Some(self.expr(e)?),
                None => None,
            };
            out.push(Field {
                docs,
                name,
                ty,
                default,
                span,
            });
        }
        Ok(out)
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> R<TypeExpr> {
        let span = self.span(&pair);
        let mut k = self.kids(&pair);
        let name = self.ident(&k.expect(Rule::name, "a type name")?);
        let arg = match k.opt(Rule::type_expr) {
            Some(t) => Some(Box::new(self.type_expr(t)?)),
            None => None,
        };
        let optional = k.opt(Rule::optional).is_some();
        Ok(TypeExpr {
            name,
            arg,
            optional,
            span,
        })
    }

    fn named_string(&self, pair: &Pair<'_, Rule>) -> R<TemplatePart> {
        let mut k = self.kids(pair);
        let name = self.ident(&k.expect(Rule::name, "a name")?);
        let text = self.string(k.expect(Rule::string, "a string")?)?;
        Ok(TemplatePart { name, text })
    }

    fn channel(&self, pair: &Pair<'_, Rule>) -> R<ChannelDecl> {
        let mut k = self.kids(pair);
        let name = self.ident(&k.expect(Rule::ident, "a channel name")?);
        let plugin = self.string(k.expect(Rule::string, "a plugin name")?)?;
        let mut decl = ChannelDecl {
            name,
            plugin,
            config: Vec::new(),
            params: None,
            consent: None,
        };
        while let Some(p) = k.next() {
            match p.as_rule() {
                Rule::channel_config => {
                    for e in p
                        .clone()
                        .into_inner()
                        .filter(|e| e.as_rule() == Rule::config_entry)
                    {
                        let span = self.span(&e);
                        let mut ek = self.kids(&e);
                        let key = self.ident(&ek.expect(Rule::name, "a key")?);
                        let v = ek.next().ok_or(LowerError {
                            span,
                            expected: "a value",
                        })?;
                        let value = match v.as_rule() {
                            Rule::env_ref | Rule::secret_ref => {
                                let mut vk = self.kids(&v);
                                let s = self.string(vk.expect(Rule::string, "a name")?)?;
                                if v.as_rule() == Rule::env_ref {
                                    ConfigValue::Env(s)
                                } else {
                                    ConfigValue::Secret(s)
                                }
                            }
                            _ => ConfigValue::Literal(self.operand(v)?),
                        };
                        decl.config.push(ConfigEntry { key, value, span });
                    }
                }
                Rule::channel_params => {
                    let mut fields = decl.params.take().unwrap_or_default();
                    fields.extend(self.fields(&p)?);
                    decl.params = Some(fields);
                }
                Rule::channel_consent => {
                    let mut ck = self.kids(&p);
                    decl.consent = Some(self.expr(ck.expect(Rule::expr, "a consent condition")?)?);
                }
                _ => {
                    return Err(LowerError {
                        span: self.span(&p),
                        expected: "`config`, `params` or `requires`",
                    });
                }
            }
        }
        Ok(decl)
    }

    fn offer(&self, pair: &Pair<'_, Rule>) -> R<OfferDecl> {
        let mut k = self.kids(pair);
        let name = self.ident(&k.expect(Rule::ident, "an offer name")?);
        let mut decl = OfferDecl {
            name,
            eligible: None,
            priority: None,
            valid_from: None,
            valid_until: None,
            fields: Vec::new(),
            repeated: Vec::new(),
        };
        while let Some(p) = k.next() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::offer_eligible => {
                    let mut ek = self.kids(&p);
                    let e = self.expr(ek.expect(Rule::expr, "a condition")?)?;
                    if decl.eligible.replace(e).is_some() {
                        decl.repeated.push(("eligible when".into(), span));
                    }
                }
                Rule::offer_priority => {
                    let mut pk = self.kids(&p);
                    let v = self.int(&pk.expect(Rule::signed_int, "a priority")?)?;
                    if decl.priority.replace(v).is_some() {
                        decl.repeated.push(("priority".into(), span));
                    }
                }
                Rule::offer_valid => {
                    for b in p.clone().into_inner() {
                        let which = b.as_rule();
                        let mut bk = self.kids(&b);
                        let Some(lit) = bk.next() else { continue };
                        let e = self.operand(lit)?;
                        let slot = if which == Rule::valid_from {
                            &mut decl.valid_from
                        } else {
                            &mut decl.valid_until
                        };
                        if slot.replace(e).is_some() {
                            decl.repeated.push(("valid".into(), span));
                        }
                    }
                }
                Rule::offer_field => decl.fields.push(self.named_string(&p)?),
                _ => {
                    return Err(LowerError {
                        span,
                        expected: "an offer item",
                    });
                }
            }
        }
        Ok(decl)
    }

    fn policy(&self, pair: &Pair<'_, Rule>) -> R<PolicyDecl> {
        let mut k = self.kids(pair);
        let name = self.ident(&k.expect(Rule::ident, "a policy name")?);
        let mut rules = Vec::new();
        while let Some(p) = k.next() {
            let span = self.span(&p);
            let mut rk = self.kids(&p);
            let rule = match p.as_rule() {
                Rule::cap_rule => {
                    let max = self.int(&rk.expect(Rule::int, "a number")?)?;
                    let subject = rk.expect(Rule::cap_subject, "`messages` or a channel")?;
                    let channel = subject
                        .clone()
                        .into_inner()
                        .find(|s| s.as_rule() == Rule::ident)
                        .map(|s| self.ident(&s));
                    let window = rk.expect(Rule::cap_window, "a window such as `7 days`")?;
                    let wspan = self.span(&window);
                    let inner = window.into_inner().next().ok_or(LowerError {
                        span: wspan,
                        expected: "a window",
                    })?;
                    let window = if inner.as_rule() == Rule::duration {
                        self.duration(&inner)?
                    } else {
                        DurationLit {
                            count: 1.0,
                            unit: self.time_unit(&inner)?,
                            span: wspan,
                        }
                    };
                    PolicyRule::Cap {
                        max,
                        channel,
                        window,
                        span,
                    }
                }
                Rule::quiet_rule => {
                    let from =
                        self.time(&rk.expect(Rule::time_of_day, "a time such as `21:00`")?)?;
                    let to = self.time(&rk.expect(Rule::time_of_day, "a time such as `08:00`")?)?;
                    let channels = match rk.opt(Rule::quiet_channels) {
                        Some(q) => self.ident_list_in(&q),
                        None => Vec::new(),
                    };
                    PolicyRule::Quiet {
                        from,
                        to,
                        channels,
                        span,
                    }
                }
                Rule::priority_rule => PolicyRule::Priority(self.ident_list_in(&p), span),
                Rule::exempt_rule => PolicyRule::Exempt(self.ident_list_in(&p), span),
                _ => {
                    return Err(LowerError {
                        span,
                        expected: "a policy rule",
                    });
                }
            };
            rules.push(rule);
        }
        Ok(PolicyDecl { name, rules })
    }

    fn ident_list_in(&self, pair: &Pair<'_, Rule>) -> Vec<Ident> {
        let mut out = Vec::new();
        for p in pair.clone().into_inner() {
            if p.as_rule() == Rule::ident_list {
                out.extend(
                    p.into_inner()
                        .filter(|i| i.as_rule() == Rule::ident)
                        .map(|i| self.ident(&i)),
                );
            }
        }
        out
    }

    fn journey(&self, pair: &Pair<'_, Rule>) -> R<JourneyDecl> {
        let span = self.span(pair);
        let mut k = self.kids(pair);
        let name = self.ident(&k.expect(Rule::ident, "a journey name")?);
        let mut j = JourneyDecl {
            name,
            entries: Vec::new(),
            reentry: Vec::new(),
            exits: Vec::new(),
            goals: Vec::new(),
            body: Vec::new(),
            close: Span {
                start: span.end.saturating_sub(1),
                end: span.end,
            },
        };
        while let Some(p) = k.next() {
            let pspan = self.span(&p);
            match p.as_rule() {
                Rule::entry_clause => j.entries.push(self.entry(&p)?),
                Rule::reentry_clause => {
                    let inner = self.kids(&p).next().ok_or(LowerError {
                        span: pspan,
                        expected: "a re-entry rule",
                    })?;
                    j.reentry.push(match inner.as_rule() {
                        Rule::reentry_never => Reentry::Never(pspan),
                        Rule::reentry_after_exit => Reentry::AfterExit(pspan),
                        _ => {
                            let mut ik = self.kids(&inner);
                            Reentry::After(
                                self.duration(&ik.expect(Rule::duration, "a duration")?)?,
                                pspan,
                            )
                        }
                    });
                }
                Rule::exit_clause => {
                    let inner = self.kids(&p).next().ok_or(LowerError {
                        span: pspan,
                        expected: "an exit condition",
                    })?;
                    let mut ik = self.kids(&inner);
                    j.exits.push(match inner.as_rule() {
                        Rule::exit_on => {
                            let event = self.ident(&ik.expect(Rule::ident, "an event")?);
                            let condition = self.where_clause(&mut ik)?;
                            ExitClause::On {
                                event,
                                condition,
                                span: pspan,
                            }
                        }
                        Rule::exit_when => ExitClause::When(
                            self.expr(ik.expect(Rule::expr, "a condition")?)?,
                            pspan,
                        ),
                        _ => ExitClause::After(
                            self.duration(&ik.expect(Rule::duration, "a duration")?)?,
                            pspan,
                        ),
                    });
                }
                Rule::goal_clause => {
                    let mut gk = self.kids(&p);
                    let name = self.ident(&gk.expect(Rule::ident, "a goal name")?);
                    let event = self.ident(&gk.expect(Rule::ident, "an event")?);
                    let condition = self.where_clause(&mut gk)?;
                    let within =
                        self.duration(&gk.expect(Rule::duration, "a conversion window")?)?;
                    let after = match gk.opt(Rule::goal_after) {
                        Some(a) => {
                            Some(self.ident(&self.kids(&a).expect(Rule::ident, "a step label")?))
                        }
                        None => None,
                    };
                    j.goals.push(Goal {
                        name,
                        event,
                        condition,
                        within,
                        after,
                        span: pspan,
                    });
                }
                Rule::statement => j.body.push(self.stmt(p)?),
                _ => {
                    return Err(LowerError {
                        span: pspan,
                        expected: "a journey clause or step",
                    });
                }
            }
        }
        Ok(j)
    }

    fn where_clause(&self, k: &mut Kids<'_>) -> R<Option<Expr>> {
        match k.opt(Rule::where_clause) {
            Some(w) => Ok(Some(
                self.expr(self.kids(&w).expect(Rule::expr, "a condition")?)?,
            )),
            None => Ok(None),
        }
    }

    fn at_time(&self, k: &mut Kids<'_>) -> R<Option<TimeLit>> {
        match k.opt(Rule::at_time) {
            Some(a) => Ok(Some(
                self.time(&self.kids(&a).expect(Rule::time_of_day, "a time")?)?,
            )),
            None => Ok(None),
        }
    }

    fn entry(&self, pair: &Pair<'_, Rule>) -> R<Entry> {
        let span = self.span(pair);
        let mut k = self.kids(pair);
        let t = k.next().ok_or(LowerError {
            span,
            expected: "an entry trigger",
        })?;
        let mut tk = self.kids(&t);
        let trigger = match t.as_rule() {
            Rule::entry_event => Trigger::Event(self.ident(&tk.expect(Rule::ident, "an event")?)),
            Rule::entry_segment => {
                let edge = tk.expect(Rule::segment_edge, "`entering` or `leaving`")?;
                let segment = self.ident(&tk.expect(Rule::ident, "a segment")?);
                Trigger::Segment {
                    entering: edge.as_str() == "entering",
                    segment,
                }
            }
            Rule::entry_yearly => {
                let date = self.path(&tk.expect(Rule::path, "a date attribute")?);
                Trigger::Yearly {
                    date,
                    at: self.at_time(&mut tk)?,
                }
            }
            Rule::entry_monthly => {
                let day = self.int(&tk.expect(Rule::int, "a day of the month")?)?;
                Trigger::Monthly {
                    day,
                    at: self.at_time(&mut tk)?,
                }
            }
            Rule::entry_weekly => {
                let weekday = self.ident(&tk.expect(Rule::weekday, "a weekday")?);
                Trigger::Weekly {
                    weekday,
                    at: self.at_time(&mut tk)?,
                }
            }
            Rule::entry_daily => {
                let a = tk.expect(Rule::at_time, "`at HH:MM`")?;
                Trigger::Daily {
                    at: self.time(&self.kids(&a).expect(Rule::time_of_day, "a time")?)?,
                }
            }
            _ => Trigger::Api,
        };
        let condition = self.where_clause(&mut k)?;
        Ok(Entry {
            trigger,
            condition,
            span,
        })
    }

    fn block(&self, pair: Pair<'_, Rule>) -> R<Block> {
        let span = self.span(&pair);
        let mut stmts = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() == Rule::statement {
                stmts.push(self.stmt(p)?);
            }
        }
        Ok(Block { stmts, span })
    }

    fn stmt(&self, pair: Pair<'_, Rule>) -> R<Stmt> {
        let span = self.span(&pair);
        let mut k = self.kids(&pair);
        let label = match k.opt(Rule::label) {
            Some(l) => Some(self.ident(&self.kids(&l).expect(Rule::ident, "a label")?)),
            None => None,
        };
        let critical = k.opt(Rule::critical).map(|c| self.span(&c));
        let s = k.next().ok_or(LowerError {
            span,
            expected: "a step",
        })?;
        let sspan = self.span(&s);
        let mut sk = self.kids(&s);
        let kind = match s.as_rule() {
            Rule::send_stmt => {
                let channel = self.ident(&sk.expect(Rule::ident, "a channel")?);
                let message = self.message(sk.expect(Rule::message, "a message")?)?;
                let (args, args_span) = match sk.opt(Rule::arguments) {
                    Some(a) => (self.arguments(&a)?, Some(self.span(&a))),
                    None => (Vec::new(), None),
                };
                let offer = match sk.opt(Rule::send_offer) {
                    Some(o) => {
                        let inner = self.kids(&o).next().ok_or(LowerError {
                            span: sspan,
                            expected: "an offer",
                        })?;
                        let ispan = self.span(&inner);
                        if inner.as_rule() == Rule::best_offer {
                            Some(OfferChoice::Best(self.ident_list_in(&inner), ispan))
                        } else {
                            Some(OfferChoice::Named(
                                self.ident(&self.kids(&inner).expect(Rule::ident, "an offer")?),
                            ))
                        }
                    }
                    None => None,
                };
                StmtKind::Send(Send {
                    channel,
                    message,
                    args,
                    args_span,
                    offer,
                })
            }
            Rule::wait_stmt => {
                StmtKind::Wait(self.duration(&sk.expect(Rule::duration, "a duration")?)?)
            }
            Rule::wait_until_stmt => match sk.next() {
                Some(p) if p.as_rule() == Rule::weekday => StmtKind::WaitUntil {
                    weekday: Some(self.ident(&p)),
                    at: self.at_time(&mut sk)?,
                },
                Some(p) => StmtKind::WaitUntil {
                    weekday: None,
                    at: Some(self.time(&p)?),
                },
                None => {
                    return Err(LowerError {
                        span: sspan,
                        expected: "a time or weekday",
                    });
                }
            },
            Rule::wait_for_stmt => {
                let event = self.ident(&sk.expect(Rule::ident, "an event")?);
                let condition = self.where_clause(&mut sk)?;
                let timeout = match sk.opt(Rule::wait_timeout) {
                    Some(t) => {
                        Some(self.duration(&self.kids(&t).expect(Rule::duration, "a duration")?)?)
                    }
                    None => None,
                };
                let on_timeout = match sk.opt(Rule::else_block) {
                    Some(e) => Some(self.block(self.kids(&e).expect(Rule::block, "a block")?)?),
                    None => None,
                };
                StmtKind::WaitFor(WaitFor {
                    event,
                    condition,
                    timeout,
                    on_timeout,
                })
            }
            Rule::if_stmt => StmtKind::If(self.if_stmt(&s)?),
            Rule::scenario_stmt => {
                let mut arms = Vec::new();
                let mut otherwise = None;
                for a in s.clone().into_inner() {
                    let mut ak = self.kids(&a);
                    match a.as_rule() {
                        Rule::scenario_arm => {
                            let seg = self.ident(&ak.expect(Rule::ident, "a segment")?);
                            arms.push((seg, self.block(ak.expect(Rule::block, "a block")?)?));
                        }
                        Rule::otherwise_arm => {
                            otherwise = Some(self.block(ak.expect(Rule::block, "a block")?)?)
                        }
                        _ => {}
                    }
                }
                StmtKind::Scenario(Scenario { arms, otherwise })
            }
            Rule::experiment_stmt => {
                let name = self.ident(&sk.expect(Rule::ident, "an experiment name")?);
                let mut variants = Vec::new();
                let mut holdouts = Vec::new();
                while let Some(v) = sk.next() {
                    let mut vk = self.kids(&v);
                    match v.as_rule() {
                        Rule::variant => {
                            let name = self.ident(&vk.expect(Rule::ident, "a variant name")?);
                            let percent =
                                self.percent(&vk.expect(Rule::percent, "a percentage")?)?;
                            let body = self.block(vk.expect(Rule::block, "a block")?)?;
                            variants.push(Variant {
                                name,
                                percent,
                                body,
                            });
                        }
                        _ => {
                            holdouts.push(self.percent(&vk.expect(Rule::percent, "a percentage")?)?)
                        }
                    }
                }
                StmtKind::Experiment(Experiment {
                    name,
                    variants,
                    holdouts,
                })
            }
            Rule::timeline_stmt => {
                let mut entries = Vec::new();
                while let Some(e) = sk.next() {
                    let espan = self.span(&e);
                    let mut ek = self.kids(&e);
                    let off =
                        ek.expect(Rule::cal_offset, "`day N`, `week N`, `month N` or `year N`")?;
                    let offset = self.cal_offset(&off)?;
                    let at = self.at_time(&mut ek)?;
                    let mut body = Vec::new();
                    while let Some(b) = ek.next() {
                        match b.as_rule() {
                            Rule::block => body.extend(self.block(b)?.stmts),
                            _ => body.push(self.stmt(b)?),
                        }
                    }
                    entries.push(TimelineEntry {
                        offset,
                        at,
                        body,
                        span: espan,
                    });
                }
                StmtKind::Timeline(entries)
            }
            Rule::set_stmt => {
                let target = self.path(&sk.expect(Rule::path, "a profile attribute")?);
                let value = self.expr(sk.expect(Rule::expr, "a value")?)?;
                StmtKind::Set { target, value }
            }
            Rule::emit_stmt => {
                let event = self.ident(&sk.expect(Rule::ident, "an event")?);
                let args = match sk.opt(Rule::arguments) {
                    Some(a) => self.arguments(&a)?,
                    None => Vec::new(),
                };
                StmtKind::Emit { event, args }
            }
            Rule::exit_stmt => StmtKind::Exit,
            _ => {
                return Err(LowerError {
                    span: sspan,
                    expected: "a step",
                });
            }
        };
        Ok(Stmt {
            label,
            critical,
            kind,
            span,
        })
    }

    fn if_stmt(&self, pair: &Pair<'_, Rule>) -> R<If> {
        let mut k = self.kids(pair);
        let condition = self.expr(k.expect(Rule::expr, "a condition")?)?;
        let then = self.block(k.expect(Rule::block, "a block")?)?;
        let otherwise = match k.next() {
            Some(b) if b.as_rule() == Rule::block => Some(self.block(b)?),
            Some(e) => {
                let span = self.span(&e);
                let inner = self.kids(&e).expect(Rule::if_stmt, "`if`")?;
                let nested = self.if_stmt(&inner)?;
                let stmt = Stmt {
                    label: None,
                    critical: None,
                    kind: StmtKind::If(nested),
                    span,
                };
                Some(Block {
                    stmts: vec![stmt],
                    span,
                })
            }
            None => None,
        };
        Ok(If {
            condition,
            then,
            otherwise,
        })
    }

    fn message(&self, pair: Pair<'_, Rule>) -> R<Message> {
        let span = self.span(&pair);
        let inner = self.kids(&pair).next().ok_or(LowerError {
            span,
            expected: "a message",
        })?;
        Ok(match inner.as_rule() {
            Rule::external => Message::External(
                self.string(self.kids(&inner).expect(Rule::string, "a template id")?)?,
            ),
            Rule::string => Message::Inline(self.string(inner)?),
            _ => Message::Template(self.ident(&inner)),
        })
    }

    fn arguments(&self, pair: &Pair<'_, Rule>) -> R<Vec<Argument>> {
        let mut out = Vec::new();
        for a in pair
            .clone()
            .into_inner()
            .filter(|a| a.as_rule() == Rule::argument)
        {
            let mut ak = self.kids(&a);
            let name = self.ident(&ak.expect(Rule::name, "a name")?);
            let value = self.expr(ak.expect(Rule::expr, "a value")?)?;
            out.push(Argument { name, value });
        }
        Ok(out)
    }

    fn test(&self, pair: &Pair<'_, Rule>) -> R<TestDecl> {
        let mut k = self.kids(pair);
        let name = self.string(k.expect(Rule::string, "a test description")?)?;
        let mut items = Vec::new();
        while let Some(p) = k.next() {
            let span = self.span(&p);
            let mut ik = self.kids(&p);
            items.push(match p.as_rule() {
                Rule::given_profile => TestItem::Profile(
                    self.arguments(&ik.expect(Rule::arguments, "`{ ... }`")?)?,
                    span,
                ),
                Rule::given_customer => {
                    TestItem::Customer(self.string(ik.expect(Rule::string, "a customer id")?)?)
                }
                Rule::test_event => {
                    let at = self.timestamp(&ik.expect(Rule::timestamp, "a timestamp")?)?;
                    let event = self.ident(&ik.expect(Rule::ident, "an event")?);
                    let args = match ik.opt(Rule::arguments) {
                        Some(a) => self.arguments(&a)?,
                        None => Vec::new(),
                    };
                    TestItem::Event {
                        at,
                        event,
                        args,
                        span,
                    }
                }
                Rule::test_set => {
                    let at = self.timestamp(&ik.expect(Rule::timestamp, "a timestamp")?)?;
                    let target = self.path(&ik.expect(Rule::path, "a profile attribute")?);
                    let value = self.expr(ik.expect(Rule::expr, "a value")?)?;
                    TestItem::Set {
                        at,
                        target,
                        value,
                        span,
                    }
                }
                Rule::test_enter => {
                    let at = self.timestamp(&ik.expect(Rule::timestamp, "a timestamp")?)?;
                    let journey = self.ident(&ik.expect(Rule::ident, "a journey")?);
                    TestItem::Enter { at, journey, span }
                }
                Rule::run_until => TestItem::RunUntil(
                    self.timestamp(&ik.expect(Rule::timestamp, "a timestamp")?)?,
                    span,
                ),
                Rule::expect => TestItem::Expect(self.expectation(&p)?, span),
                _ => {
                    return Err(LowerError {
                        span,
                        expected: "a test line",
                    });
                }
            });
        }
        Ok(TestDecl { name, items })
    }

    fn expect_at(&self, k: &mut Kids<'_>) -> R<Option<TimestampLit>> {
        match k.opt(Rule::expect_at) {
            Some(a) => Ok(Some(
                self.timestamp(&self.kids(&a).expect(Rule::timestamp, "a timestamp")?)?,
            )),
            None => Ok(None),
        }
    }

    fn expectation(&self, pair: &Pair<'_, Rule>) -> R<Expectation> {
        let span = self.span(pair);
        let e = self.kids(pair).next().ok_or(LowerError {
            span,
            expected: "an expectation",
        })?;
        let mut k = self.kids(&e);
        let rule = e.as_rule();
        Ok(match rule {
            Rule::expect_send | Rule::expect_no_send => {
                let channel = self.ident(&k.expect(Rule::ident, "a channel")?);
                let message = match k.opt(Rule::message) {
                    Some(m) => Some(self.message(m)?),
                    None => None,
                };
                let at = self.expect_at(&mut k)?;
                Expectation::Send {
                    positive: rule == Rule::expect_send,
                    channel,
                    message,
                    at,
                }
            }
            Rule::expect_reached | Rule::expect_not_reached => {
                let step = self.path(&k.expect(Rule::path, "`journey.step`")?);
                let at = self.expect_at(&mut k)?;
                Expectation::Reached {
                    positive: rule == Rule::expect_reached,
                    step,
                    at,
                }
            }
            Rule::expect_goal | Rule::expect_no_goal => {
                let goal = self.path(&k.expect(Rule::path, "a goal")?);
                let at = self.expect_at(&mut k)?;
                Expectation::Goal {
                    positive: rule == Rule::expect_goal,
                    goal,
                    at,
                }
            }
            Rule::expect_exit => {
                let journey = self.ident(&k.expect(Rule::ident, "a journey")?);
                Expectation::Exit {
                    journey,
                    at: self.expect_at(&mut k)?,
                }
            }
            Rule::expect_scenario => {
                let segment = match k.next() {
                    Some(p) => self.ident(&p),
                    None => {
                        return Err(LowerError {
                            span,
                            expected: "a segment",
                        });
                    }
                };
                let journey = k.opt(Rule::ident).map(|j| self.ident(&j));
                Expectation::Scenario { segment, journey }
            }
            Rule::expect_variant => {
                Expectation::Variant(self.path(&k.expect(Rule::path, "`experiment.variant`")?))
            }
            Rule::expect_emit => {
                let event = self.ident(&k.expect(Rule::ident, "an event")?);
                Expectation::Emit {
                    event,
                    at: self.expect_at(&mut k)?,
                }
            }
            Rule::expect_entered | Rule::expect_not_entered => {
                let journey = self.ident(&k.expect(Rule::ident, "a journey")?);
                let at = self.expect_at(&mut k)?;
                Expectation::Entered {
                    positive: rule == Rule::expect_entered,
                    journey,
                    at,
                }
            }
            _ => {
                return Err(LowerError {
                    span,
                    expected: "an expectation",
                });
            }
        })
    }

    // ------------------------------------------------------------ expressions

    pub(crate) fn expr(&self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        let operators = pair
            .clone()
            .into_inner()
            .filter(|p| is_operator(p.as_rule()))
            .count();
        if operators > MAX_OPERATORS {
            return Err(LowerError {
                span,
                expected: "a shorter expression (split it into named segments)",
            });
        }
        PRATT
            .map_primary(|p| self.operand(p))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let span = self.span(&op).cover(rhs.span);
                let op = if op.as_rule() == Rule::op_not {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                Ok(Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let span = lhs.span.cover(rhs.span);
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_in => BinaryOp::In,
                    Rule::op_not_in => BinaryOp::NotIn,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                Ok(Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                })
            })
            .parse(pair.into_inner())
    }

    fn operand(&self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => {
                ExprKind::Number(pair.as_str().parse::<f64>().map_err(|_| LowerError {
                    span,
                    expected: "a number",
                })?)
            }
            Rule::int => ExprKind::Number(self.int(&pair)?.0 as f64),
            Rule::string => ExprKind::String(self.string(pair)?),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::date => ExprKind::Date(self.date(&pair)?),
            Rule::timestamp => ExprKind::Timestamp(self.timestamp(&pair)?),
            Rule::duration => ExprKind::Duration(self.duration(&pair)?),
            Rule::paren => {
                let mut k = self.kids(&pair);
                let inner = self.expr(k.expect(Rule::expr, "an expression")?)?;
                return Ok(Expr {
                    kind: inner.kind,
                    span,
                });
            }
            Rule::expr => return self.expr(pair),
            Rule::list => {
                let mut items = Vec::new();
                for e in pair.into_inner() {
                    items.push(self.expr(e)?);
                }
                ExprKind::List(items)
            }
            Rule::call => {
                let mut k = self.kids(&pair);
                let path = self.path(&k.expect(Rule::path, "a name")?);
                match k.opt(Rule::call_args) {
                    None => ExprKind::Path(path),
                    Some(args_pair) => {
                        let name = match path.segments.as_slice() {
                            [one] => one.clone(),
                            _ => {
                                return Err(LowerError {
                                    span: path.span,
                                    expected: "a function name such as `len`",
                                });
                            }
                        };
                        let mut args = Vec::new();
                        for e in args_pair.into_inner() {
                            args.push(self.expr(e)?);
                        }
                        ExprKind::Call(name, args)
                    }
                }
            }
            Rule::path => ExprKind::Path(self.path(&pair)),
            Rule::aggregate => {
                let mut k = self.kids(&pair);
                let f = k.expect(Rule::agg_fn, "an aggregate function")?;
                let func = match f.as_str() {
                    "count" => AggFn::Count,
                    "sum" => AggFn::Sum,
                    "avg" => AggFn::Avg,
                    "min" => AggFn::Min,
                    "max" => AggFn::Max,
                    _ => AggFn::Last,
                };
                let target = self.path(&k.expect(Rule::path, "an event or event property")?);
                let filter = match k.opt(Rule::expr) {
                    Some(e) => Some(self.expr(e)?),
                    None => None,
                };
                let window = match k.opt(Rule::window) {
                    Some(w) => {
                        Some(self.duration(&self.kids(&w).expect(Rule::duration, "a duration")?)?)
                    }
                    None => None,
                };
                ExprKind::Aggregate(Box::new(Aggregate {
                    func,
                    func_span: self.span(&f),
                    target,
                    filter,
                    window,
                }))
            }
            _ => {
                return Err(LowerError {
                    span,
                    expected: "an expression",
                });
            }
        };
        Ok(Expr { kind, span })
    }

    fn path(&self, pair: &Pair<'_, Rule>) -> Path {
        let segments = pair.clone().into_inner().map(|p| self.ident(&p)).collect();
        Path {
            segments,
            span: self.span(pair),
        }
    }

    pub(crate) fn string(&self, pair: Pair<'_, Rule>) -> R<StringLit> {
        let span = self.span(&pair);
        let mut pieces: Vec<StrPiece> = Vec::new();
        let push_text = |pieces: &mut Vec<StrPiece>, t: &str| {
            if let Some(StrPiece::Text(last)) = pieces.last_mut() {
                last.push_str(t);
            } else {
                pieces.push(StrPiece::Text(t.to_string()));
            }
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::str_text => push_text(&mut pieces, p.as_str()),
                Rule::escape => {
                    let t = match p.as_str() {
                        "\\n" => "\n",
                        "\\t" => "\t",
                        "\\\"" => "\"",
                        "\\{" => "{",
                        "\\}" => "}",
                        _ => "\\",
                    };
                    push_text(&mut pieces, t);
                }
                Rule::interp => {
                    let ispan = self.span(&p);
                    let e = self.kids(&p).expect(Rule::expr, "an expression")?;
                    let mut expr = self.expr(e)?;
                    if expr.span.start == expr.span.end {
                        expr.span = ispan;
                    }
                    pieces.push(StrPiece::Interp(expr));
                }
                _ => {}
            }
        }
        Ok(StringLit { pieces, span })
    }

    fn time_unit(&self, pair: &Pair<'_, Rule>) -> R<TimeUnit> {
        let s = pair.as_str();
        let s = s.strip_suffix('s').unwrap_or(s);
        Ok(match s {
            "second" => TimeUnit::Second,
            "minute" => TimeUnit::Minute,
            "hour" => TimeUnit::Hour,
            "day" => TimeUnit::Day,
            "week" => TimeUnit::Week,
            "month" => TimeUnit::Month,
            "year" => TimeUnit::Year,
            _ => {
                return Err(LowerError {
                    span: self.span(pair),
                    expected: "a time unit",
                });
            }
        })
    }

    fn duration(&self, pair: &Pair<'_, Rule>) -> R<DurationLit> {
        let span = self.span(pair);
        let mut k = self.kids(pair);
        let n = k.expect(Rule::number, "a number")?;
        let count = n.as_str().parse::<f64>().map_err(|_| LowerError {
            span,
            expected: "a number",
        })?;
        let unit = self.time_unit(&k.expect(Rule::time_unit, "a unit")?)?;
        Ok(DurationLit { count, unit, span })
    }

    fn cal_offset(&self, pair: &Pair<'_, Rule>) -> R<CalendarOffset> {
        let span = self.span(pair);
        let mut k = self.kids(pair);
        let unit = match k.expect(Rule::cal_unit, "a unit")?.as_str() {
            "day" => CalendarUnit::Day,
            "week" => CalendarUnit::Week,
            "month" => CalendarUnit::Month,
            _ => CalendarUnit::Year,
        };
        let (count, _) = self.int(&k.expect(Rule::int, "a number")?)?;
        Ok(CalendarOffset { unit, count, span })
    }

    fn percent(&self, pair: &Pair<'_, Rule>) -> R<(f64, Span)> {
        let span = self.span(pair);
        let n = self.kids(pair).expect(Rule::number, "a number")?;
        let v = n.as_str().parse::<f64>().map_err(|_| LowerError {
            span,
            expected: "a percentage",
        })?;
        Ok((v, span))
    }

    fn time(&self, pair: &Pair<'_, Rule>) -> R<TimeLit> {
        let span = self.span(pair);
        let bad = LowerError {
            span,
            expected: "a time such as `09:00`",
        };
        let (h, m) = pair.as_str().split_once(':').ok_or(bad.clone())?;
        Ok(TimeLit {
            hour: h.parse().map_err(|_| bad.clone())?,
            minute: m.parse().map_err(|_| bad)?,
            span,
        })
    }

    fn date(&self, pair: &Pair<'_, Rule>) -> R<DateLit> {
        let span = self.span(pair);
        let bad = || LowerError {
            span,
            expected: "a date such as `2027-01-04`",
        };
        let mut parts = pair.as_str().split('-');
        let year = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let month = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let day = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        Ok(DateLit {
            year,
            month,
            day,
            span,
        })
    }

    fn timestamp(&self, pair: &Pair<'_, Rule>) -> R<TimestampLit> {
        let span = self.span(pair);
        let mut k = self.kids(pair);
        let date = self.date(&k.expect(Rule::date, "a date")?)?;
        let time = self.time(&k.expect(Rule::time_of_day, "a time")?)?;
        Ok(TimestampLit { date, time, span })
    }
}

/// Operators allowed in one expression; each may add a level to the syntax tree, and the
/// compiler walks it recursively.
const MAX_OPERATORS: usize = 256;

fn is_operator(r: Rule) -> bool {
    matches!(
        r,
        Rule::op_or
            | Rule::op_and
            | Rule::op_not
            | Rule::op_neg
            | Rule::op_eq
            | Rule::op_ne
            | Rule::op_lt
            | Rule::op_le
            | Rule::op_gt
            | Rule::op_ge
            | Rule::op_in
            | Rule::op_not_in
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
    )
}
