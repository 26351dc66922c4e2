//! Simulation (`journey simulate`): a synthetic population and event stream run through the
//! engine for a number of days, summarised in a [`Report`].
//!
//! Everything here is pure and IO-free: the CLI reads files and hands their text to
//! [`parse_profiles`] and [`parse_events`], then calls [`run`]. The same program, options and
//! seed give the same [`Report`], field for field (no wall clock, no hash-map iteration order,
//! no thread scheduling enters it).
//!
//! - [`Population`] draws customer profiles from the profile schema. Values come from the
//!   program itself where it says something about them (the constants it compares an
//!   attribute to, the values its `test` blocks use), else from name heuristics (`age` 18–80,
//!   counts 0–3, amounts 5–200, birthdays 1945–2007, opt-ins true 70 % of the time...).
//! - [`EventModel`] gives each customer a signup-like first event on arrival (customers arrive
//!   over the first 30 days), then every day a Poisson number of events of each kind, at a
//!   rate that depends on how the program uses the event (awaited, a goal, an exit...).
//! - [`run`] feeds profiles and events to an [`Engine`] in time order, day by day, and counts.
//!
//! `docs/simulate.md` describes the model, the JSONL formats and the report for users.
//!
//! Randomness: a SplitMix64 generator ([`Rng`]), a dozen lines, seeded per (seed, customer,
//! day, purpose), so that what a customer draws does not depend on the other customers or on
//! the order of generation, and no dependency is needed. Its statistical quality is far beyond
//! what a plausible population needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arcstr::ArcStr;
use cranelift_entity::EntityRef;
use jiff::tz::TimeZone;
use journey_bytecode::*;
use serde::Serialize;

use crate::effects::{ChannelSink, CustomerIx, Decision, Effect};
use crate::engine::{Config, Engine, Explain};
use crate::time::{self, Instant, Zones};
use crate::value::{Value, format_number};

// ---------------------------------------------------------------------------------- random

/// SplitMix64: a tiny, fast, well-distributed generator (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub struct Rng(u64);

/// The SplitMix64 finalizer: a bijective mix of 64 bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator for one purpose: the seed mixed with every part of `path` (customer index,
    /// day, stream tag...), so independent streams never overlap in practice.
    pub fn derive(seed: u64, path: &[u64]) -> Rng {
        let mut h = mix64(seed ^ 0x6a09_e667_f3bc_c909);
        for p in path {
            h = mix64(h ^ mix64(p.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        }
        Rng(h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A Poisson-distributed count of mean `lambda` (Knuth's method; the rates used here are
    /// small, so it takes a step or two).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let limit = (-lambda.min(50.0)).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.unit();
            if p <= limit || k >= 1000 {
                return k;
            }
            k += 1;
        }
    }

    /// One element of a non-empty slice (`None` if empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

/// Stream tags of [`Rng::derive`].
const TAG_PROFILE: u64 = 1;
const TAG_ARRIVAL: u64 = 2;
const TAG_DAY: u64 = 3;

// ---------------------------------------------------------------------------------- hints

/// Something a value is drawn for: a profile attribute or an event property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Slot {
    Attr(AttrId),
    Prop(EventId, u16),
}

/// What the program says about the values of one slot.
#[derive(Debug, Clone, Default)]
struct Hint {
    /// Strings it is compared to (`profile.plan != "prepaye"`, `x in ["a", "b"]`) or given in
    /// tests, and its declared default.
    strings: BTreeSet<String>,
    /// Numbers it is compared to.
    compared: Vec<f64>,
    /// Numbers the tests give it.
    examples: Vec<f64>,
}

fn scan_hints(p: &Program) -> HashMap<Slot, Hint> {
    let mut hints: HashMap<Slot, Hint> = HashMap::new();
    let slot_of = |insn: &Insn| match insn {
        Insn::Attr(a) => Some(Slot::Attr(*a)),
        Insn::EventProp(e, i) => Some(Slot::Prop(*e, *i)),
        _ => None,
    };
    let add_const = |hints: &mut HashMap<Slot, Hint>, slot: Slot, c: &Const, example: bool| {
        let h = hints.entry(slot).or_default();
        match c {
            Const::String(s) => {
                h.strings.insert(s.clone());
            }
            Const::Number(n) if example => h.examples.push(*n),
            Const::Number(n) => h.compared.push(*n),
            Const::List(items) => {
                for i in items {
                    match i {
                        Const::String(s) => {
                            h.strings.insert(s.clone());
                        }
                        Const::Number(n) => h.compared.push(*n),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    };
    // Comparisons in code: `slot const... [make_list] bin` and `const slot bin`.
    let code = &p.code;
    for (pc, insn) in code.iter().enumerate() {
        let Some(slot) = slot_of(insn) else { continue };
        let mut consts = Vec::new();
        let mut k = pc + 1;
        while let Some(Insn::Const(c)) = code.get(k) {
            consts.push(*c);
            k += 1;
        }
        let compared = match code.get(k) {
            Some(Insn::Bin(_)) => true,
            Some(Insn::MakeList(_)) => matches!(code.get(k + 1), Some(Insn::Bin(BinOp::In))),
            _ => false,
        };
        if compared {
            for c in consts {
                if let Some(c) = p.consts.get(c) {
                    add_const(&mut hints, slot, c, false);
                }
            }
        }
        if pc >= 1
            && let Some(Insn::Const(c)) = code.get(pc - 1)
            && matches!(code.get(pc + 1), Some(Insn::Bin(_)))
            && let Some(c) = p.consts.get(*c)
        {
            add_const(&mut hints, slot, c, false);
        }
    }
    // Values in tests.
    for t in p.tests.values() {
        for (a, c) in &t.profile {
            if let Some(c) = p.consts.get(*c) {
                add_const(&mut hints, Slot::Attr(*a), c, true);
            }
        }
        for s in &t.steps {
            match s {
                TestStep::Event { event, props, .. } => {
                    for (i, c) in props {
                        if let Some(c) = p.consts.get(*c) {
                            add_const(&mut hints, Slot::Prop(*event, *i), c, true);
                        }
                    }
                }
                TestStep::Set { attr, value, .. } => {
                    if let Some(c) = p.consts.get(*value) {
                        add_const(&mut hints, Slot::Attr(*attr), c, true);
                    }
                }
                _ => {}
            }
        }
    }
    // Declared defaults.
    for (a, def) in p.attributes.iter() {
        if let Some(Const::String(s)) = def.default_const(p) {
            hints
                .entry(Slot::Attr(a))
                .or_default()
                .strings
                .insert(s.clone());
        }
    }
    hints
}

// ---------------------------------------------------------------------------------- values

/// How one value is drawn.
#[derive(Debug, Clone)]
enum Gen {
    /// An integer in `lo..=hi`.
    Int(i64, i64),
    /// A number in `[lo, hi]` with two decimals.
    Decimal(f64, f64),
    /// One of these strings.
    Choice(Vec<ArcStr>),
    /// `<customer id>@example.com`.
    Email,
    /// A French-style mobile number derived from the customer index.
    Phone,
    /// The customer's id.
    CustomerId,
    /// A fresh identifier `PREFIX-<customer>-<n>` for a property or attribute of this name;
    /// events reuse the customer's previous value of a property of the same name 80 % of the
    /// time (the invoice paid is the one issued).
    Ident(ArcStr, ArcStr),
    /// A small count: 0 (50 %), 1 (25 %), 2 (15 %) or 3 (10 %).
    Count,
    /// `https://example.com/<name>/<n>`.
    Url(ArcStr),
    /// A birth date, 1945-01-01 to 2007-12-31.
    BirthDate,
    /// A date up to this many days before (negative) or after the reference day.
    DateAround(i64, i64),
    /// An instant up to this many days before (negative) or after the reference instant.
    TimestampAround(i64, i64),
    /// A whole number of hours in `lo..=hi`, as a duration.
    DurationHours(i64, i64),
    /// True with this probability.
    Bool(f64),
    /// The default zone with probability 0.9, else one of these.
    Zone(ArcStr, Vec<ArcStr>),
    /// 0 to 3 items.
    List(Box<Gen>),
    /// Set with probability 0.9.
    Optional(Box<Gen>),
    /// An event property copying the profile attribute of the same name.
    FromProfile(AttrId),
}

/// What a value is drawn relative to.
struct Ctx<'a> {
    /// Customer index (for identifiers).
    index: usize,
    /// Customer id.
    id: &'a str,
    /// Reference instant (the event's, or the simulation's start for profiles).
    at: Instant,
    /// Reference local date.
    date: Date,
    /// The customer's profile, for [`Gen::FromProfile`].
    profile: &'a [Value],
}

fn words(name: &str) -> Vec<String> {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn has_word(ws: &[String], list: &[&str]) -> bool {
    ws.iter().any(|w| list.iter().any(|l| w == l))
}

fn has_part(name: &str, list: &[&str]) -> bool {
    let n = name.to_lowercase();
    list.iter().any(|l| n.contains(l))
}

const OTHER_ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Indian/Reunion",
];

/// The generator of one slot: name heuristics first, then what the program says.
fn gen_for(name: &str, ty: &Type, hint: Option<&Hint>, is_event: bool, default_zone: &str) -> Gen {
    match ty {
        Type::Optional(inner) => {
            return Gen::Optional(Box::new(gen_for(name, inner, hint, is_event, default_zone)));
        }
        Type::List(inner) => {
            return Gen::List(Box::new(gen_for(name, inner, hint, is_event, default_zone)));
        }
        _ => {}
    }
    let ws = words(name);
    let strings: Vec<ArcStr> = hint
        .map(|h| h.strings.iter().map(|s| ArcStr::from(s.as_str())).collect())
        .unwrap_or_default();
    match ty {
        Type::Number => {
            if has_word(&ws, &["age"]) {
                Gen::Int(18, 80)
            } else if has_word(&ws, &["score", "rating", "csat", "stars", "note"]) {
                Gen::Int(1, 5)
            } else if has_part(
                name,
                &[
                    "children",
                    "kids",
                    "count",
                    "referrals",
                    "items",
                    "qty",
                    "quantity",
                ],
            ) || has_word(&ws, &["nb", "number"])
            {
                Gen::Count
            } else if has_part(
                name,
                &[
                    "amount",
                    "price",
                    "total",
                    "spend",
                    "revenue",
                    "instalment",
                    "installment",
                    "cost",
                    "balance",
                ],
            ) {
                Gen::Decimal(5.0, 200.0)
            } else if has_part(name, &["points"]) {
                Gen::Int(0, 2000)
            } else if has_word(&ws, &["days"]) {
                Gen::Int(1, 31)
            } else if let Some(h) = hint.filter(|h| !h.examples.is_empty()) {
                let lo = h.examples.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = h.examples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let (lo, hi) = ((lo * 0.5).min(lo), (hi * 1.5).max(hi));
                if h.examples.iter().all(|x| x.fract() == 0.0) {
                    Gen::Int(lo.floor() as i64, hi.ceil() as i64)
                } else {
                    Gen::Decimal(lo, hi)
                }
            } else if let Some(h) = hint.filter(|h| !h.compared.is_empty()) {
                let hi = h.compared.iter().copied().fold(0.0, f64::max);
                Gen::Int(0, (hi * 2.0).ceil().max(3.0) as i64)
            } else {
                Gen::Int(0, 100)
            }
        }
        Type::Bool => {
            if has_part(
                name,
                &["optin", "opt_in", "consent", "subscribed", "newsletter"],
            ) {
                Gen::Bool(0.7)
            } else {
                Gen::Bool(0.5)
            }
        }
        Type::Timezone => {
            let others: Vec<ArcStr> = strings
                .iter()
                .filter(|s| s.as_str() != default_zone && TimeZone::get(s).is_ok())
                .cloned()
                .collect();
            let others = if others.is_empty() {
                OTHER_ZONES
                    .iter()
                    .filter(|z| **z != default_zone)
                    .map(|z| ArcStr::from(*z))
                    .collect()
            } else {
                others
            };
            Gen::Zone(ArcStr::from(default_zone), others)
        }
        Type::Date => {
            if has_part(name, &["birth"]) {
                Gen::BirthDate
            } else if is_event {
                Gen::DateAround(0, 60)
            } else {
                Gen::DateAround(-3 * 365, 0)
            }
        }
        Type::Timestamp => {
            if is_event {
                Gen::TimestampAround(0, 0)
            } else {
                Gen::TimestampAround(-2 * 365, 0)
            }
        }
        Type::Duration => Gen::DurationHours(1, 30 * 24),
        Type::String => {
            if has_part(name, &["email", "mail"]) {
                Gen::Email
            } else if has_part(name, &["phone", "mobile", "msisdn"]) {
                Gen::Phone
            } else if has_part(name, &["url", "link"]) {
                Gen::Url(ArcStr::from(name))
            } else if strings.len() >= 2 && !is_identifier(&ws) {
                Gen::Choice(strings)
            } else if is_identifier(&ws) {
                if !is_event && has_word(&ws, &["customer", "client", "ref"]) {
                    Gen::CustomerId
                } else {
                    let prefix: String = name
                        .split('_')
                        .find(|w| !w.is_empty())
                        .unwrap_or("ID")
                        .chars()
                        .take(3)
                        .collect::<String>()
                        .to_uppercase();
                    Gen::Ident(ArcStr::from(name), ArcStr::from(prefix.as_str()))
                }
            } else {
                let mut pool = strings;
                let mut n = 1;
                while pool.len() < 2 {
                    pool.push(ArcStr::from(format!("value_{n}").as_str()));
                    n += 1;
                }
                Gen::Choice(pool)
            }
        }
        Type::Optional(_) | Type::List(_) => Gen::Int(0, 0),
    }
}

/// Identifier-like names: `invoice_id`, `customer_ref`, `code`.
fn is_identifier(ws: &[String]) -> bool {
    ws.last()
        .is_some_and(|w| matches!(w.as_str(), "id" | "ref" | "code" | "reference"))
}

fn civil_date(d: Date) -> Option<jiff::civil::Date> {
    jiff::civil::Date::new(d.year, d.month as i8, d.day as i8).ok()
}

fn from_civil(d: jiff::civil::Date) -> Date {
    Date {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

/// `d` plus `n` days (saturating to `d` out of range).
fn add_days(d: Date, n: i64) -> Date {
    civil_date(d)
        .and_then(|c| c.checked_add(jiff::Span::new().days(n)).ok())
        .map(from_civil)
        .unwrap_or(d)
}

impl Gen {
    fn draw(&self, rng: &mut Rng, ctx: &Ctx, last: &mut Vec<(ArcStr, Value)>) -> Value {
        match self {
            Gen::Int(lo, hi) => Value::Number(rng.range(*lo, *hi) as f64),
            Gen::Decimal(lo, hi) => {
                let x = lo + (hi - lo) * rng.unit();
                Value::Number((x * 100.0).round() / 100.0)
            }
            Gen::Choice(items) => rng
                .pick(items)
                .map(|s| Value::String(s.clone()))
                .unwrap_or_default(),
            Gen::Email => Value::text(&format!("{}@example.com", ctx.id.to_lowercase())),
            Gen::Phone => Value::text(&format!("+336{:08}", ctx.index % 100_000_000)),
            Gen::CustomerId => Value::text(ctx.id),
            Gen::Ident(name, prefix) => {
                if let Some((_, v)) = last.iter().find(|(n, _)| n == name)
                    && rng.chance(0.8)
                {
                    return v.clone();
                }
                let v = Value::text(&format!("{prefix}-{}-{}", ctx.id, rng.below(1_000_000)));
                last.retain(|(n, _)| n != name);
                last.push((name.clone(), v.clone()));
                v
            }
            Gen::Count => {
                let x = rng.unit();
                let n = if x < 0.5 {
                    0
                } else if x < 0.75 {
                    1
                } else if x < 0.9 {
                    2
                } else {
                    3
                };
                Value::Number(f64::from(n))
            }
            Gen::Url(name) => Value::text(&format!(
                "https://example.com/{name}/{}",
                rng.below(1_000_000)
            )),
            Gen::BirthDate => {
                let base = Date {
                    year: 1945,
                    month: 1,
                    day: 1,
                };
                // 1945-01-01 + 0..=23010 days is 2007-12-31 at the latest.
                Value::Date(add_days(base, rng.range(0, 23_010)))
            }
            Gen::DateAround(lo, hi) => Value::Date(add_days(ctx.date, rng.range(*lo, *hi))),
            Gen::TimestampAround(lo, hi) => {
                let secs = rng.range(lo * 86_400, hi * 86_400);
                Value::Timestamp(ctx.at.saturating_add(secs))
            }
            Gen::DurationHours(lo, hi) => Value::Duration(rng.range(*lo, *hi) * 3_600),
            Gen::Bool(p) => Value::Bool(rng.chance(*p)),
            Gen::Zone(default, others) => {
                if rng.chance(0.9) || others.is_empty() {
                    Value::String(default.clone())
                } else {
                    rng.pick(others)
                        .map(|s| Value::String(s.clone()))
                        .unwrap_or_default()
                }
            }
            Gen::List(inner) => {
                let n = rng.range(0, 3);
                let items: Vec<Value> = (0..n).map(|_| inner.draw(rng, ctx, last)).collect();
                Value::List(items.into())
            }
            Gen::Optional(inner) => {
                if rng.chance(0.9) {
                    inner.draw(rng, ctx, last)
                } else {
                    Value::None
                }
            }
            Gen::FromProfile(a) => ctx.profile.get(a.index()).cloned().unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------------------------- population

/// Draws customer profiles from the program's profile schema, deterministically from a seed:
/// customer `i` always gets the same profile for the same seed, whatever the population size.
#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    gens: Vec<(AttrId, Gen)>,
    start: Instant,
    start_date: Date,
    zones: Zones,
    tz_attr: Option<AttrId>,
    attrs: usize,
    /// An `age` attribute drawn as a number, and a birth date attribute, kept consistent.
    age: Option<AttrId>,
    birthday: Option<AttrId>,
}

impl Population {
    /// The population model of a program; profiles are drawn as of `start` (a local date in
    /// the project's default zone).
    pub fn new(program: &Program, seed: u64, start: Date) -> Population {
        let hints = scan_hints(program);
        let default_zone = program.meta.default_timezone.as_str();
        let gens: Vec<(AttrId, Gen)> = program
            .attributes
            .iter()
            .map(|(a, def)| {
                let ty = if program.meta.timezone_attr == Some(a) {
                    Type::Timezone
                } else {
                    def.ty.clone()
                };
                let g = gen_for(
                    &def.name,
                    &ty,
                    hints.get(&Slot::Attr(a)),
                    false,
                    default_zone,
                );
                (a, g)
            })
            .collect();
        let age = gens
            .iter()
            .find(|(a, g)| {
                matches!(g, Gen::Int(18, 80)) && words(&program.attributes[*a].name) == ["age"]
            })
            .map(|(a, _)| *a);
        let birthday = gens
            .iter()
            .find(|(_, g)| matches!(g, Gen::BirthDate))
            .map(|(a, _)| *a);
        let zones = Zones::new(default_zone);
        let start_i = time::date_to_instant(start, zones.default_zone());
        Population {
            seed,
            gens,
            start: start_i,
            start_date: start,
            zones,
            tz_attr: program.meta.timezone_attr,
            attrs: program.attributes.len(),
            age,
            birthday,
        }
    }

    /// The id of customer `i`: `c000001` for `i = 0`.
    pub fn id(i: usize) -> String {
        format!("c{:06}", i + 1)
    }

    /// The profile of customer `i` (id [`Population::id`]): one value per attribute, in
    /// schema order.
    pub fn profile(&self, i: usize) -> Vec<(AttrId, Value)> {
        self.profile_of(i, &Population::id(i))
    }

    /// The profile of customer `i` under another id (identifiers and e-mail addresses derived
    /// from the id use it).
    pub fn profile_of(&self, i: usize, id: &str) -> Vec<(AttrId, Value)> {
        let mut rng = Rng::derive(self.seed, &[TAG_PROFILE, i as u64]);
        let empty: Vec<Value> = Vec::new();
        let ctx = Ctx {
            index: i,
            id,
            at: self.start,
            date: self.start_date,
            profile: &empty,
        };
        let mut last = Vec::new();
        let mut profile: Vec<(AttrId, Value)> = self
            .gens
            .iter()
            .map(|(a, g)| (*a, g.draw(&mut rng, &ctx, &mut last)))
            .collect();
        // A birthday agrees with the age: the age is reached on the start date.
        if let (Some(age), Some(b)) = (self.age, self.birthday)
            && let Some(Value::Number(years)) = profile.get(age.index()).map(|(_, v)| v.clone())
            && let Some((_, Value::Date(d))) = profile.get_mut(b.index())
        {
            let s = self.start_date;
            let passed = (d.month, d.day) <= (s.month, s.day);
            let year = i64::from(s.year) - years as i64 - i64::from(!passed);
            let day = if d.month == 2 && d.day == 29 {
                28
            } else {
                d.day
            };
            *d = Date {
                year: year.clamp(1900, 2100) as i16,
                month: d.month,
                day,
            };
        }
        profile
    }

    /// The zone of a profile: its time zone attribute, else the project's default.
    pub fn zone_of(&mut self, profile: &[(AttrId, Value)]) -> TimeZone {
        let name = self.tz_attr.and_then(|t| {
            profile.iter().find_map(|(a, v)| match v {
                Value::String(s) if *a == t => Some(s.clone()),
                _ => None,
            })
        });
        self.zones.get(name.as_deref())
    }

    /// A full profile vector (indexed by attribute) from attribute-value pairs.
    fn dense(&self, profile: &[(AttrId, Value)]) -> Vec<Value> {
        let mut out = vec![Value::None; self.attrs];
        for (a, v) in profile {
            if let Some(slot) = out.get_mut(a.index()) {
                *slot = v.clone();
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------- events

// Daily rates per customer, by how the program uses an event: the highest that applies is
// taken; `RATE_EXIT` only when the event has no other use.

/// Events read by an aggregate (segments, conditions, templates).
pub const RATE_AGGREGATE: f64 = 0.2;
/// Events awaited by a `wait for`.
pub const RATE_WAIT: f64 = 0.1;
/// Events that convert a goal.
pub const RATE_GOAL: f64 = 0.05;
/// Events that start a journey (other than the signup-like first event).
pub const RATE_ENTRY: f64 = 0.02;
/// Events used by no journey, segment or goal.
pub const RATE_OTHER: f64 = 0.01;
/// Events only used to exit journeys (`exit on churn`): about 30 % of customers a year.
pub const RATE_EXIT: f64 = 0.001;
/// Customers arrive uniformly over this many first days (or the whole run if shorter).
pub const ARRIVAL_DAYS: u32 = 30;
/// Events happen between these local hours (`[from, to)`).
pub const EVENT_HOURS: (u8, u8) = (7, 23);

/// How the program uses an event, for its rate.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct EventUse {
    /// Starts a journey (`entry on`).
    pub entry: bool,
    /// Awaited (`wait for`).
    pub wait: bool,
    /// Converts a goal.
    pub goal: bool,
    /// Exits a journey (`exit on`).
    pub exit: bool,
    /// Read by an aggregate (segments, templates, conditions).
    pub aggregate: bool,
    /// Emitted by a journey.
    pub emitted: bool,
}

/// The event model: a signup-like first event on arrival, then daily Poisson counts of each
/// event kind at a rate that follows how the program uses it (the highest of
/// [`RATE_AGGREGATE`], [`RATE_WAIT`], [`RATE_GOAL`], [`RATE_ENTRY`] that applies; else
/// [`RATE_EXIT`] for an exit-only event, [`RATE_OTHER`] for an unused one; 0 for emitted events).
#[derive(Debug, Clone)]
pub struct EventModel {
    /// The first event of every customer: the first-declared event that starts a journey,
    /// is not emitted by one, and is not awaited, a goal or an exit.
    pub first: Option<EventId>,
    /// Daily rate per customer, per event.
    pub rates: Vec<(EventId, f64)>,
    /// How the program uses each event.
    pub uses: Vec<(EventId, EventUse)>,
    gens: Vec<Vec<Gen>>,
}

impl EventModel {
    /// The model of a program.
    pub fn new(program: &Program) -> EventModel {
        let mut uses: Vec<EventUse> = vec![EventUse::default(); program.events.len()];
        for j in program.journeys.values() {
            for entry in &j.entries {
                if let Trigger::Event(e) = entry.trigger {
                    uses[e.index()].entry = true;
                }
            }
            for x in &j.exits {
                if let ExitDef::Event { event, .. } = x {
                    uses[event.index()].exit = true;
                }
            }
        }
        for w in program.waits.values() {
            uses[w.event.index()].wait = true;
        }
        for g in program.goals.values() {
            uses[g.event.index()].goal = true;
        }
        for a in program.aggregates.values() {
            uses[a.event.index()].aggregate = true;
        }
        for e in program.emits.values() {
            uses[e.event.index()].emitted = true;
        }
        let first = program.events.keys().find(|e| {
            let x = &uses[e.index()];
            x.entry && !x.emitted && !x.wait && !x.goal && !x.exit
        });
        let rates = program
            .events
            .keys()
            .map(|e| {
                let x = &uses[e.index()];
                let mut r: f64 = 0.0;
                if x.emitted {
                    return (e, 0.0);
                }
                if x.aggregate {
                    r = r.max(RATE_AGGREGATE);
                }
                if x.wait {
                    r = r.max(RATE_WAIT);
                }
                if x.goal {
                    r = r.max(RATE_GOAL);
                }
                if x.entry && Some(e) != first {
                    r = r.max(RATE_ENTRY);
                }
                if r == 0.0 {
                    r = if x.exit { RATE_EXIT } else { RATE_OTHER };
                }
                if Some(e) == first && !x.aggregate {
                    r = 0.0;
                }
                (e, r)
            })
            .collect();
        let hints = scan_hints(program);
        let by_name: HashMap<&str, (AttrId, &Type)> = program
            .attributes
            .iter()
            .map(|(a, d)| (d.name.as_str(), (a, &d.ty)))
            .collect();
        let gens = program
            .events
            .iter()
            .map(|(e, def)| {
                def.props
                    .iter()
                    .enumerate()
                    .map(|(i, prop)| match by_name.get(prop.name.as_str()) {
                        Some((a, ty)) if base(ty) == base(&prop.ty) => Gen::FromProfile(*a),
                        _ => gen_for(
                            &prop.name,
                            &prop.ty,
                            hints.get(&Slot::Prop(e, i as u16)),
                            true,
                            &program.meta.default_timezone,
                        ),
                    })
                    .collect()
            })
            .collect();
        EventModel {
            first,
            rates,
            uses: program
                .events
                .keys()
                .map(|e| (e, uses[e.index()].clone()))
                .collect(),
            gens,
        }
    }

    /// The properties of one occurrence of `event`.
    fn props(
        &self,
        event: EventId,
        rng: &mut Rng,
        ctx: &Ctx,
        last: &mut Vec<(ArcStr, Value)>,
    ) -> Vec<Value> {
        self.gens
            .get(event.index())
            .map(|g| g.iter().map(|g| g.draw(rng, ctx, last)).collect())
            .unwrap_or_default()
    }
}

/// The type without optional wrapper.
fn base(t: &Type) -> &Type {
    match t {
        Type::Optional(inner) => base(inner),
        t => t,
    }
}

// ---------------------------------------------------------------------------------- JSONL

/// A problem in a `--profiles` or `--events` file, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct InputError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One line of a profiles file: a customer and the attributes it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Customer id.
    pub id: String,
    /// Attributes given (the others keep their declared default).
    pub attrs: Vec<(AttrId, Value)>,
}

/// When an event of an events file happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// An instant (RFC 3339 with an offset or `Z`).
    Instant(Instant),
    /// A local date and time, in the customer's time zone.
    Local(Civil),
}

/// One line of an events file.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Customer id.
    pub customer: String,
    /// Event.
    pub event: EventId,
    /// When.
    pub at: When,
    /// Property values in schema order (absent ones are [`Value::None`]); timestamps given as
    /// local times are resolved in the project's default zone.
    pub props: Vec<Value>,
}

fn parse_lines<'a>(
    text: &'a str,
    file: &'a str,
) -> impl Iterator<Item = Result<(usize, serde_json::Map<String, serde_json::Value>), InputError>> + 'a
{
    text.lines().enumerate().filter_map(move |(n, l)| {
        let line = n + 1;
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("//") {
            return None;
        }
        let err = |message: String| InputError {
            file: file.to_string(),
            line,
            message,
        };
        Some(match serde_json::from_str::<serde_json::Value>(l) {
            Ok(serde_json::Value::Object(m)) => Ok((line, m)),
            Ok(_) => Err(err("expected a JSON object".into())),
            Err(e) => Err(err(format!("invalid JSON: {e}"))),
        })
    })
}

fn id_of(v: Option<&serde_json::Value>, key: &str) -> Result<String, String> {
    match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(format!("`{key}` must be a non-empty string")),
        None => Err(format!("missing `{key}`")),
    }
}

/// A suggestion among names: ` (did you mean `x`?)`, or nothing.
fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> String {
    let mut best: Option<(usize, &str)> = None;
    for n in names {
        let d = edit_distance(name, n);
        if d <= 2.max(name.len() / 3) && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses `2027-01-04T09:00:00Z` (an instant) or `2027-01-04 09:00` / `2027-01-04T09:00`
/// (a local time).
pub fn parse_when(s: &str) -> Option<When> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(When::Instant(ts.as_second()));
    }
    let dt = s.parse::<jiff::civil::DateTime>().ok()?;
    Some(When::Local(Civil {
        date: from_civil(dt.date()),
        time: TimeOfDay {
            hour: dt.hour() as u8,
            minute: dt.minute() as u8,
        },
    }))
}

/// Parses a date `2027-01-04`.
pub fn parse_date(s: &str) -> Option<Date> {
    s.parse::<jiff::civil::Date>().ok().map(from_civil)
}

/// A JSON value as a value of type `ty`; local timestamps are resolved in `tz`.
fn convert(v: &serde_json::Value, ty: &Type, tz: &TimeZone) -> Result<Value, String> {
    use serde_json::Value as J;
    let kind = |v: &J| match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "an object",
    };
    let wrong = |v: &J| format!("expected {ty}, found {} `{v}`", kind(v));
    match (ty, v) {
        (Type::Optional(_), J::Null) => Ok(Value::None),
        (Type::Optional(inner), v) => convert(v, inner, tz),
        (_, J::Null) => Err(format!(
            "expected {ty}, found null (the type is not optional)"
        )),
        (Type::String, J::String(s)) => Ok(Value::text(s)),
        (Type::Timezone, J::String(s)) => {
            if TimeZone::get(s).is_ok() {
                Ok(Value::text(s))
            } else {
                Err(format!("unknown time zone `{s}`"))
            }
        }
        (Type::Number, J::Number(n)) => n.as_f64().map(Value::Number).ok_or_else(|| wrong(v)),
        (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Date, J::String(s)) => parse_date(s)
            .map(Value::Date)
            .ok_or_else(|| format!("expected a date like `2027-01-04`, found `{s}`")),
        (Type::Timestamp, J::String(s)) => match parse_when(s) {
            Some(When::Instant(t)) => Ok(Value::Timestamp(t)),
            Some(When::Local(c)) => Ok(Value::Timestamp(time::civil_to_instant(c, tz))),
            None => Err(format!(
                "expected a timestamp like `2027-01-04T09:00:00Z` or `2027-01-04 09:00`, found `{s}`"
            )),
        },
        (Type::Duration, J::Number(n)) => n
            .as_i64()
            .map(Value::Duration)
            .ok_or_else(|| format!("expected a duration in whole seconds, found `{n}`")),
        (Type::Duration, J::String(s)) => parse_duration(s).map(Value::Duration).ok_or_else(|| {
            format!("expected a duration like `90s`, `15m`, `2h` or `3d`, found `{s}`")
        }),
        (Type::List(inner), J::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, inner, tz).map_err(|e| format!("item {}: {e}", i + 1))?);
            }
            Ok(Value::List(out.into()))
        }
        (_, v) => Err(wrong(v)),
    }
}

/// `90s`, `15m`, `2h`, `3d`, `1w` (seconds).
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses a profiles file: one JSON object per line, `{"id": "C-1", "age": 34, ...}`, each
/// key an attribute of the profile schema. Blank lines and lines starting with `#` or `//`
/// are skipped. Errors name the file and line.
pub fn parse_profiles(
    program: &Program,
    text: &str,
    file: &str,
) -> Result<Vec<ProfileRow>, InputError> {
    let by_name: HashMap<&str, AttrId> = program
        .attributes
        .iter()
        .map(|(a, d)| (d.name.as_str(), a))
        .collect();
    let mut zones = Zones::new(&program.meta.default_timezone);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::new();
    for item in parse_lines(text, file) {
        let (line, obj) = item?;
        let err = |message: String| InputError {
            file: file.to_string(),
            line,
            message,
        };
        let id = id_of(obj.get("id"), "id").map_err(err)?;
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(err(format!(
                "customer `{id}` is already given on line {first}"
            )));
        }
        // The zone first: local timestamps of this profile are in it.
        let tz_name = program
            .meta
            .timezone_attr
            .and_then(|a| obj.get(&program.attributes[a].name))
            .and_then(|v| v.as_str());
        let tz = zones.get(tz_name);
        let mut attrs = Vec::new();
        for (k, v) in &obj {
            if k == "id" {
                continue;
            }
            let Some(a) = by_name.get(k.as_str()) else {
                return Err(err(format!(
                    "the profile has no attribute `{k}`{}",
                    suggest(k, by_name.keys().copied())
                )));
            };
            let ty = &program.attributes[*a].ty;
            let ty = if program.meta.timezone_attr == Some(*a) && *base(ty) == Type::String {
                Type::Timezone
            } else {
                ty.clone()
            };
            let value = convert(v, &ty, &tz).map_err(|m| err(format!("`{k}`: {m}")))?;
            attrs.push((*a, value));
        }
        attrs.sort_by_key(|(a, _)| *a);
        rows.push(ProfileRow { line, id, attrs });
    }
    Ok(rows)
}

/// Parses an events file: one JSON object per line, `{"customer": "C-1", "event": "signup",
/// "at": "2027-01-04 09:00", "plan": "mobile_5g", ...}`: the customer, the event's name, when
/// (an RFC 3339 instant, or a local time in the customer's zone), then its properties by name.
/// Errors name the file and line.
pub fn parse_events(
    program: &Program,
    text: &str,
    file: &str,
) -> Result<Vec<EventRow>, InputError> {
    let by_name: HashMap<&str, EventId> = program
        .events
        .iter()
        .map(|(e, d)| (d.name.as_str(), e))
        .collect();
    let tz = TimeZone::get(&program.meta.default_timezone).unwrap_or(TimeZone::UTC);
    let mut rows = Vec::new();
    for item in parse_lines(text, file) {
        let (line, obj) = item?;
        let err = |message: String| InputError {
            file: file.to_string(),
            line,
            message,
        };
        let customer = id_of(obj.get("customer"), "customer").map_err(err)?;
        let name = match obj.get("event") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(_) => return Err(err("`event` must be the name of an event".into())),
            None => return Err(err("missing `event`".into())),
        };
        let Some(&event) = by_name.get(name) else {
            return Err(err(format!(
                "no event `{name}` in the schema{}",
                suggest(name, by_name.keys().copied())
            )));
        };
        let at = match obj.get("at") {
            Some(serde_json::Value::String(s)) => parse_when(s).ok_or_else(|| {
                err(format!(
                    "`at`: expected `2027-01-04T09:00:00Z` or a local `2027-01-04 09:00`, found `{s}`"
                ))
            })?,
            Some(_) => return Err(err("`at` must be a string".into())),
            None => return Err(err("missing `at`".into())),
        };
        let def = &program.events[event];
        let mut props = vec![Value::None; def.props.len()];
        for (k, v) in &obj {
            if matches!(k.as_str(), "customer" | "event" | "at") {
                continue;
            }
            let Some(i) = def.props.iter().position(|p| p.name == *k) else {
                return Err(err(format!(
                    "the event `{name}` has no property `{k}`{}",
                    suggest(k, def.props.iter().map(|p| p.name.as_str()))
                )));
            };
            props[i] =
                convert(v, &def.props[i].ty, &tz).map_err(|m| err(format!("`{name}.{k}`: {m}")))?;
        }
        rows.push(EventRow {
            line,
            customer,
            event,
            at,
            props,
        });
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------- report

/// The simulation's report: what the journeys did, per journey, step, channel and template.
/// Deterministic: no wall time, no unordered maps.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Project name.
    pub project: String,
    /// Seed of the population and event models.
    pub seed: u64,
    /// First simulated day (local date in the project's default zone).
    pub start: String,
    /// Simulated days.
    pub days: u32,
    /// `synthetic` or `profiles file`.
    pub population: String,
    /// `model` or `events file`.
    pub events: String,
    /// Totals.
    pub totals: Totals,
    /// Per journey, in declaration order.
    pub journeys: Vec<JourneyReport>,
    /// Per channel, in declaration order.
    pub channels: Vec<ChannelReport>,
    /// The event model's daily rates per customer (empty with an events file).
    pub event_rates: Vec<EventRate>,
}

/// Totals of a simulation.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Customers in the engine at the end.
    pub customers: u64,
    /// Events fed in (from the model or the file).
    pub events: u64,
    /// Events emitted by journeys.
    pub emitted: u64,
    /// Events of the file after the simulated period, not fed.
    pub events_after_end: u64,
    /// Journey entries.
    pub entries: u64,
    /// Journey exits, all reasons.
    pub exits: u64,
    /// Messages sent.
    pub sends: u64,
    /// Sends deferred (a deferred send retried later may be deferred again, or sent).
    pub deferred: u64,
    /// Sends skipped.
    pub skipped: u64,
    /// Goals converted.
    pub goals: u64,
}

/// One journey.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JourneyReport {
    /// Name.
    pub name: String,
    /// `file:line` of its declaration.
    pub at: String,
    /// Instances started.
    pub entered: u64,
    /// Instances still running at the end (waiting).
    pub active: u64,
    /// Instances ended, by reason (`completed`, `exit-step`, `exit-event`, `exit-condition`,
    /// `lifetime`).
    pub exits: BTreeMap<String, u64>,
    /// Goals, in declaration order.
    pub goals: Vec<GoalReport>,
    /// Steps, in declaration order.
    pub steps: Vec<StepReport>,
}

/// One goal.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GoalReport {
    /// Name.
    pub name: String,
    /// Conversions.
    pub converted: u64,
}

/// One step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepReport {
    /// Label or generated name.
    pub name: String,
    /// Kind (`send`, `wait`, `wait-event`, `if`, ...).
    pub kind: String,
    /// `file:line` of the step.
    pub at: String,
    /// Times it ran (a deferred send counts once per attempt).
    pub reached: u64,
    /// Threads suspended at it at the end: waiting for a duration, an event or a deferred
    /// send; for a timeline entry, instances whose next timeline entry it is.
    pub waiting: u64,
    /// Messages sent.
    pub sent: u64,
    /// Sends deferred, by reason (`quiet-hours`, `cap`).
    pub deferred: BTreeMap<String, u64>,
    /// Sends skipped, by reason (`no-consent`, `cap`, `no-eligible-offer`, `holdout`,
    /// `emit-loop`).
    pub skipped: BTreeMap<String, u64>,
    /// Branch arms and how often each was taken (`if`, scenarios, experiments, waits).
    pub arms: Vec<ArmReport>,
}

/// One arm of a branching step.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ArmReport {
    /// Arm name (`then`, `else`, a segment, a variant, `timeout`...).
    pub name: String,
    /// Times taken.
    pub taken: u64,
}

/// One channel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelReport {
    /// Name.
    pub name: String,
    /// Messages sent on it.
    pub sent: u64,
    /// Per template (`inline` for inline messages), by name.
    pub templates: Vec<TemplateReport>,
}

/// Sends of one template.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TemplateReport {
    /// Template name, provider template id, or `inline`.
    pub template: String,
    /// Messages sent.
    pub sent: u64,
}

/// The model's rate of one event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventRate {
    /// Event name.
    pub event: String,
    /// Mean occurrences per customer per day.
    pub per_day: f64,
    /// Whether it is every customer's first event.
    pub first: bool,
}

fn kind_name(k: StepKind) -> &'static str {
    match k {
        StepKind::Send => "send",
        StepKind::Wait => "wait",
        StepKind::WaitUntil => "wait-until",
        StepKind::WaitEvent => "wait-event",
        StepKind::If => "if",
        StepKind::Scenario => "scenario",
        StepKind::Experiment => "experiment",
        StepKind::TimelineEntry => "timeline",
        StepKind::Set => "set",
        StepKind::Emit => "emit",
        StepKind::Exit => "exit",
    }
}

/// `file:line` of a location.
pub fn loc_label(program: &Program, loc: Loc) -> String {
    let file = program
        .files
        .get(FileId::from_u32(loc.file))
        .map(|f| f.path.as_str())
        .unwrap_or("?");
    format!("{file}:{}", loc.line)
}

// ---------------------------------------------------------------------------------- run

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Customers of the synthetic population (ignored with `profiles`).
    pub customers: usize,
    /// Days simulated.
    pub days: u32,
    /// Seed of the population and event models.
    pub seed: u64,
    /// First day (local date in the project's default zone); the run starts at its midnight.
    pub start: Date,
    /// Profiles to use instead of the synthetic population.
    pub profiles: Option<Vec<ProfileRow>>,
    /// Events to use instead of the event model.
    pub events: Option<Vec<EventRow>>,
    /// Record this customer's decisions.
    pub explain: Option<String>,
}

impl Default for Options {
    /// 1000 customers, 365 days from 2027-01-01, seed 42.
    fn default() -> Options {
        Options {
            customers: 1000,
            days: 365,
            seed: 42,
            start: Date {
                year: 2027,
                month: 1,
                day: 1,
            },
            profiles: None,
            events: None,
            explain: None,
        }
    }
}

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// `--explain` names a customer the simulation does not have.
    #[error("no customer `{0}` in the simulation{1}")]
    UnknownCustomer(String, String),
    /// An event of the file happens before the simulation starts.
    #[error("events file, line {line}: the event happens before the simulation starts ({start})")]
    BeforeStart {
        /// 1-based line.
        line: usize,
        /// The start, as given.
        start: String,
    },
}

/// One line of an explanation: an input, or a decision of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum ExplainEntry {
    /// A profile or event fed in.
    Input {
        /// When.
        at: Instant,
        /// What, in words (`event signup {plan: "mobile_5g", ...}`).
        text: String,
    },
    /// A decision with its reason and source location.
    Decision(Decision),
}

/// The path of one customer through the simulation.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Customer id.
    pub customer: String,
    /// The customer's zone at the end (for local times).
    pub timezone: TimeZone,
    /// Inputs and decisions, in the order the engine processed them.
    pub entries: Vec<ExplainEntry>,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The explained customer's path, if one was asked for.
    pub explanation: Option<Explanation>,
}

/// An input waiting to be fed.
struct Pending {
    at: Instant,
    customer: u32,
    seq: u64,
    input: Input,
}

enum Input {
    Profile(Vec<(AttrId, Value)>),
    Event(EventId, Vec<Value>),
}

/// Per-customer state of the model.
struct SimCustomer {
    id: String,
    tz: TimeZone,
    /// Local date of arrival.
    arrival: Date,
    /// Instant of arrival.
    arrival_at: Instant,
    profile: Vec<(AttrId, Value)>,
    dense: Vec<Value>,
    /// Last identifiers drawn, by prefix.
    last: Vec<(ArcStr, Value)>,
}

fn describe(program: &Program, input: &Input) -> String {
    match input {
        Input::Profile(attrs) => {
            let fields: Vec<String> = attrs
                .iter()
                .map(|(a, v)| format!("{}: {}", program.attributes[*a].name, show(v)))
                .collect();
            format!("profile {{{}}}", fields.join(", "))
        }
        Input::Event(e, props) => {
            let def = &program.events[*e];
            let fields: Vec<String> = def
                .props
                .iter()
                .zip(props)
                .filter(|(_, v)| **v != Value::None)
                .map(|(p, v)| format!("{}: {}", p.name, show(v)))
                .collect();
            if fields.is_empty() {
                format!("event {}", def.name)
            } else {
                format!("event {} {{{}}}", def.name, fields.join(", "))
            }
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::None => "none".into(),
        Value::Number(n) => format_number(*n),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        v => v.render(),
    }
}

/// Runs a simulation: draws (or takes) the population and the events, feeds them to an engine
/// in time order day by day, and reports. `progress(done, total)` is called after each day.
pub fn run(
    program: Arc<Program>,
    options: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Outcome, SimError> {
    run_with_channel(program, options, progress, None)
}

/// [`run`], handing every send to `channel` as the engine produces it (at the end of each
/// simulated day, in the order of the engine's effects): `journey simulate --plugins`
/// delivers them through the channel plugins.
pub fn run_with_channel(
    program: Arc<Program>,
    options: &Options,
    progress: &mut dyn FnMut(u64, u64),
    mut channel: Option<&mut dyn ChannelSink>,
) -> Result<Outcome, SimError> {
    let p = &*program;
    let mut population = Population::new(p, options.seed, options.start);
    let model = EventModel::new(p);
    let default_tz = population.zones.default_zone().clone();
    let start = time::date_to_instant(options.start, &default_tz);
    let days = options.days;
    let day_start =
        |d: u32| time::date_to_instant(add_days(options.start, i64::from(d)), &default_tz);
    let end = day_start(days);
    let synthetic_events = options.events.is_none();
    let window = ARRIVAL_DAYS.min(days).max(1);

    // The population.
    // The population: the profiles file; else synthetic profiles for the customers of the
    // events file; else `customers` synthetic customers.
    let rows: Vec<(String, Vec<(AttrId, Value)>)> = match (&options.profiles, &options.events) {
        (Some(rows), _) => rows
            .iter()
            .map(|r| (r.id.clone(), r.attrs.clone()))
            .collect(),
        (None, Some(events)) => {
            let mut seen = std::collections::HashSet::new();
            events
                .iter()
                .filter(|e| seen.insert(e.customer.as_str()))
                .enumerate()
                .map(|(i, e)| (e.customer.clone(), population.profile_of(i, &e.customer)))
                .collect()
        }
        (None, None) => (0..options.customers)
            .map(|i| (Population::id(i), population.profile(i)))
            .collect(),
    };
    let mut customers: Vec<SimCustomer> = Vec::with_capacity(rows.len());
    for (i, (id, profile)) in rows.into_iter().enumerate() {
        let tz = population.zone_of(&profile);
        let (arrival, arrival_at) = if synthetic_events {
            let mut rng = Rng::derive(options.seed, &[TAG_ARRIVAL, i as u64]);
            let day = rng.below(u64::from(window)) as i64;
            let date = add_days(options.start, day);
            let minute = rng.range(8 * 60, 22 * 60 - 1);
            let at = time::civil_to_instant(
                Civil {
                    date,
                    time: TimeOfDay {
                        hour: (minute / 60) as u8,
                        minute: (minute % 60) as u8,
                    },
                },
                &tz,
            );
            (date, at.max(start))
        } else {
            (options.start, start)
        };
        let dense = population.dense(&profile);
        customers.push(SimCustomer {
            id,
            tz,
            arrival,
            arrival_at,
            profile,
            dense,
            last: Vec::new(),
        });
    }
    let index_of: HashMap<&str, usize> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();

    // The explained customer must exist.
    if let Some(id) = &options.explain {
        let in_events = options
            .events
            .as_ref()
            .is_some_and(|ev| ev.iter().any(|e| e.customer == *id));
        if !index_of.contains_key(id.as_str()) && !in_events {
            let hint = match (&options.profiles, customers.len()) {
                (_, 0) => String::new(),
                (None, n) => format!(
                    " (ids go from `{}` to `{}`)",
                    Population::id(0),
                    Population::id(n - 1)
                ),
                (Some(_), _) => " (not in the profiles file)".into(),
            };
            return Err(SimError::UnknownCustomer(id.clone(), hint));
        }
    }

    let config = Config {
        explain: match &options.explain {
            Some(id) => Explain::Only(vec![id.clone()]),
            None => Explain::Off,
        },
        record_steps: false,
    };
    let mut engine = Engine::new(program.clone(), config, start);
    let mut explained: Vec<ExplainEntry> = Vec::new();
    let explain_id = options.explain.as_deref();
    let mut totals = Totals::default();
    let mut seq: u64 = 0;
    let mut queue: Vec<Pending> = Vec::new();
    // Extra customers named only in the events file: indexes after the population's.
    let mut extra: Vec<String> = Vec::new();

    if synthetic_events {
        for (i, c) in customers.iter().enumerate() {
            queue.push(Pending {
                at: c.arrival_at,
                customer: i as u32,
                seq,
                input: Input::Profile(c.profile.clone()),
            });
            seq += 1;
            if let Some(first) = model.first {
                let mut rng = Rng::derive(options.seed, &[TAG_ARRIVAL, i as u64, 1]);
                let date = time::date_of(c.arrival_at, &c.tz);
                let ctx = Ctx {
                    index: i,
                    id: &c.id,
                    at: c.arrival_at,
                    date,
                    profile: &c.dense,
                };
                let mut last = Vec::new();
                let props = model.props(first, &mut rng, &ctx, &mut last);
                queue.push(Pending {
                    at: c.arrival_at,
                    customer: i as u32,
                    seq,
                    input: Input::Event(first, props),
                });
                seq += 1;
            }
        }
    } else {
        // Profiles at the start, then the file's events at their instants.
        for (i, c) in customers.iter().enumerate() {
            if let Some(id) = explain_id.filter(|x| *x == c.id) {
                let _ = id;
                explained.push(ExplainEntry::Input {
                    at: start,
                    text: describe(p, &Input::Profile(c.profile.clone())),
                });
            }
            engine.upsert_customer(&c.id, &c.profile, start);
            let _ = i;
        }
        let mut extra_ix: HashMap<String, usize> = HashMap::new();
        for row in options.events.iter().flatten() {
            let ix = match index_of.get(row.customer.as_str()) {
                Some(&i) => i,
                None => {
                    let n = customers.len() + extra_ix.len();
                    *extra_ix.entry(row.customer.clone()).or_insert_with(|| {
                        extra.push(row.customer.clone());
                        n
                    })
                }
            };
            let at = match row.at {
                When::Instant(t) => t,
                When::Local(c) => {
                    let tz = customers.get(ix).map(|c| &c.tz).unwrap_or(&default_tz);
                    time::civil_to_instant(c, tz)
                }
            };
            if at < start {
                return Err(SimError::BeforeStart {
                    line: row.line,
                    start: time::format_local(start, &default_tz, true),
                });
            }
            if at >= end {
                totals.events_after_end += 1;
                continue;
            }
            queue.push(Pending {
                at,
                customer: ix as u32,
                seq,
                input: Input::Event(row.event, row.props.clone()),
            });
            seq += 1;
        }
    }
    // Ids by simulation index: the population's, then those only the events file names.
    let ids: Vec<String> = customers
        .iter()
        .map(|c| c.id.clone())
        .chain(extra.iter().cloned())
        .collect();

    /// The events fed to the engine at a time, at most (its effects are taken after each).
    const RUN: usize = 4096;
    // Day by day: draw the events of local day d + 1 (so that customers east of the default
    // zone get theirs in time), feed everything due before the end of day d, advance.
    let mut draw = |day: u32, customers: &mut Vec<SimCustomer>, queue: &mut Vec<Pending>| {
        if synthetic_events && day < days {
            let date = add_days(options.start, i64::from(day));
            draw_day(options.seed, &model, customers, date, day, queue, &mut seq);
        }
    };
    draw(0, &mut customers, &mut queue);
    for d in 0..days {
        draw(d + 1, &mut customers, &mut queue);
        let until = day_start(d + 1);
        queue.sort_unstable_by_key(|x| std::cmp::Reverse((x.at, x.customer, x.seq)));
        // Runs of events go to the engine together ([`Engine::events`] reads ahead).
        let mut run: Vec<(u32, EventId, Vec<Value>, Instant)> = Vec::new();
        let id_of = |c: u32| ids.get(c as usize).map_or("", String::as_str);
        let flush = |engine: &mut Engine, run: &mut Vec<(u32, EventId, Vec<Value>, Instant)>| {
            engine.events(
                run.drain(..)
                    .map(|(c, e, props, at)| (id_of(c), e, props, at)),
            );
        };
        // What the effects say leaves the engine as runs end: sends go to the channel and
        // the engine's buffer is kept for the next run (`Engine::take_effects`).
        let consume = |engine: &mut Engine,
                       totals: &mut Totals,
                       channel: &mut Option<&mut dyn ChannelSink>| {
            for effect in engine.take_effects() {
                match effect {
                    Effect::Emitted { .. } => totals.emitted += 1,
                    Effect::Send(send) => {
                        if let Some(channel) = channel.as_deref_mut() {
                            channel.deliver(&send);
                        }
                    }
                    _ => {}
                }
            }
        };
        while queue.last().is_some_and(|x| x.at < until) {
            let Some(item) = queue.pop() else { break };
            let id = id_of(item.customer);
            let explained_now = explain_id == Some(id);
            if let Input::Event(..) = item.input {
                totals.events += 1;
            }
            let input = match item.input {
                Input::Event(e, props) if !explained_now => {
                    run.push((item.customer, e, props, item.at));
                    if run.len() == RUN {
                        flush(&mut engine, &mut run);
                        consume(&mut engine, &mut totals, &mut channel);
                    }
                    continue;
                }
                input => input,
            };
            flush(&mut engine, &mut run);
            if explained_now {
                engine.advance_to(item.at);
                explained.extend(
                    engine
                        .drain_decisions()
                        .into_iter()
                        .map(|(_, d)| ExplainEntry::Decision(d)),
                );
                explained.push(ExplainEntry::Input {
                    at: item.at.max(engine.now()),
                    text: describe(p, &input),
                });
            }
            match input {
                Input::Profile(attrs) => {
                    engine.upsert_customer(id, &attrs, item.at);
                }
                Input::Event(e, props) => engine.event(id, e, props, item.at),
            }
        }
        flush(&mut engine, &mut run);
        engine.advance_to(until);
        consume(&mut engine, &mut totals, &mut channel);
        explained.extend(
            engine
                .drain_decisions()
                .into_iter()
                .map(|(_, d)| ExplainEntry::Decision(d)),
        );
        progress(u64::from(d) + 1, u64::from(days));
    }

    let report = build_report(p, &engine, options, totals, &model);
    let explanation = explain_id.map(|id| Explanation {
        customer: id.to_string(),
        timezone: engine
            .customer_ix(id)
            .map(|ix| engine.timezone(ix))
            .unwrap_or(default_tz.clone()),
        entries: explained,
    });
    Ok(Outcome {
        report,
        explanation,
    })
}

/// Draws the events of every arrived customer for local date `date` (day index `day`).
fn draw_day(
    seed: u64,
    model: &EventModel,
    customers: &mut [SimCustomer],
    date: Date,
    day: u32,
    queue: &mut Vec<Pending>,
    seq: &mut u64,
) {
    let mut todays: Vec<(Instant, EventId)> = Vec::new();
    for (i, c) in customers.iter_mut().enumerate() {
        // Daily events start the day after arrival.
        if date <= c.arrival {
            continue;
        }
        let mut rng = Rng::derive(seed, &[TAG_DAY, i as u64, u64::from(day)]);
        todays.clear();
        for (e, rate) in &model.rates {
            for _ in 0..rng.poisson(*rate) {
                let minute = rng.range(
                    i64::from(EVENT_HOURS.0) * 60,
                    i64::from(EVENT_HOURS.1) * 60 - 1,
                );
                let at = time::civil_to_instant(
                    Civil {
                        date,
                        time: TimeOfDay {
                            hour: (minute / 60) as u8,
                            minute: (minute % 60) as u8,
                        },
                    },
                    &c.tz,
                );
                todays.push((at, *e));
            }
        }
        todays.sort();
        for &(at, e) in &todays {
            let ctx = Ctx {
                index: i,
                id: &c.id,
                at,
                date,
                profile: &c.dense,
            };
            let props = model.props(e, &mut rng, &ctx, &mut c.last);
            queue.push(Pending {
                at,
                customer: i as u32,
                seq: *seq,
                input: Input::Event(e, props),
            });
            *seq += 1;
        }
    }
}

/// The step a suspended thread is at: the wait or send instruction it stopped on.
fn step_at(p: &Program, pc: Pc) -> Option<StepId> {
    match p.code.get(pc as usize)? {
        Insn::Wait(s, _) | Insn::WaitMonths(s, _) | Insn::WaitUntil(s, _, _) => Some(*s),
        Insn::WaitEvent(w) => p.waits.get(*w).map(|w| w.step),
        Insn::Send(s) => p.sends.get(*s).map(|s| s.step),
        _ => None,
    }
}

fn build_report(
    p: &Program,
    engine: &Engine,
    options: &Options,
    mut totals: Totals,
    model: &EventModel,
) -> Report {
    use crate::customer::ThreadState;
    let stats = engine.stats();
    // Suspended threads and active instances, from one scan of the customers.
    let mut waiting: Vec<u64> = vec![0; p.steps.len()];
    let mut active: Vec<u64> = vec![0; p.journeys.len()];
    let timeline_step = |j: JourneyId, k: u16| -> Option<StepId> {
        let t = p.journeys[j].timeline.get(k as usize)?;
        p.steps
            .iter()
            .find(|(_, s)| s.journey == j && s.kind == StepKind::TimelineEntry && s.loc == t.loc)
            .map(|(id, _)| id)
    };
    for ix in 0..engine.customer_count() {
        let Some(c) = engine.customer(ix as CustomerIx) else {
            continue;
        };
        for inst in &c.instances {
            active[inst.journey.index()] += 1;
            let mut suspended = false;
            for th in &inst.threads {
                if matches!(
                    th.state,
                    ThreadState::Sleeping(_) | ThreadState::Waiting(..) | ThreadState::Deferred(..)
                ) {
                    suspended = true;
                    if let Some(s) = step_at(p, th.pc) {
                        waiting[s.index()] += 1;
                    }
                }
            }
            if !suspended
                && let Some(&k) = engine
                    .pending_entries(ix as CustomerIx, inst.journey)
                    .first()
                && let Some(s) = timeline_step(inst.journey, k)
            {
                waiting[s.index()] += 1;
            }
        }
    }
    let reasons = |m: &BTreeMap<crate::effects::Reason, u64>| -> BTreeMap<String, u64> {
        m.iter().map(|(r, n)| (r.name().to_string(), *n)).collect()
    };
    let journeys: Vec<JourneyReport> = p
        .journeys
        .iter()
        .map(|(j, jd)| {
            let js = stats.journeys.get(j).cloned().unwrap_or_default();
            totals.entries += js.entered;
            totals.exits += js.exited.values().sum::<u64>();
            let goals = p
                .goals
                .iter()
                .filter(|(_, g)| g.journey == j)
                .map(|(g, gd)| {
                    let n = stats.goals.get(g).copied().unwrap_or(0);
                    totals.goals += n;
                    GoalReport {
                        name: gd.name.clone(),
                        converted: n,
                    }
                })
                .collect();
            let steps = p
                .steps
                .iter()
                .filter(|(_, s)| s.journey == j)
                .map(|(s, sd)| {
                    let ss = stats.steps.get(s).cloned().unwrap_or_default();
                    totals.deferred += ss.deferred.values().sum::<u64>();
                    totals.skipped += ss.skipped.values().sum::<u64>();
                    StepReport {
                        name: sd.name.clone(),
                        kind: kind_name(sd.kind).to_string(),
                        at: loc_label(p, sd.loc),
                        reached: ss.reached,
                        waiting: waiting[s.index()],
                        sent: ss.sent,
                        deferred: reasons(&ss.deferred),
                        skipped: reasons(&ss.skipped),
                        arms: sd
                            .arms
                            .iter()
                            .enumerate()
                            .map(|(i, name)| ArmReport {
                                name: name.clone(),
                                taken: ss.arms.get(i).copied().unwrap_or(0),
                            })
                            .collect(),
                    }
                })
                .collect();
            JourneyReport {
                name: jd.name.clone(),
                at: loc_label(p, jd.loc),
                entered: js.entered,
                active: active[j.index()],
                exits: js
                    .exited
                    .iter()
                    .map(|(reason, n)| (reason.to_string(), *n))
                    .collect(),
                goals,
                steps,
            }
        })
        .collect();
    let channels: Vec<ChannelReport> = p
        .channels
        .iter()
        .map(|(ch, cd)| {
            let templates: Vec<TemplateReport> = stats
                .sends_by_template(p, ch)
                .into_iter()
                .map(|(template, sent)| TemplateReport { template, sent })
                .collect();
            let sent = templates.iter().map(|t| t.sent).sum();
            totals.sends += sent;
            ChannelReport {
                name: cd.name.clone(),
                sent,
                templates,
            }
        })
        .collect();
    totals.customers = engine.customer_count() as u64;
    let event_rates = if options.events.is_none() {
        model
            .rates
            .iter()
            .map(|(e, r)| EventRate {
                event: p.events[*e].name.clone(),
                per_day: *r,
                first: model.first == Some(*e),
            })
            .collect()
    } else {
        Vec::new()
    };
    Report {
        project: p.meta.project.clone(),
        seed: options.seed,
        start: options.start.to_string(),
        days: options.days,
        population: if options.profiles.is_some() {
            "profiles file"
        } else {
            "synthetic"
        }
        .into(),
        events: if options.events.is_some() {
            "events file"
        } else {
            "model"
        }
        .into(),
        totals,
        journeys,
        channels,
        event_rates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::derive(42, &[1, 2]);
        let mut b = Rng::derive(42, &[1, 2]);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = Rng::derive(42, &[1, 3]);
        assert_ne!(xs[0], c.next_u64());
        let mut r = Rng::new(7);
        let n = 20_000;
        let mean = (0..n).map(|_| f64::from(r.poisson(0.2))).sum::<f64>() / f64::from(n);
        assert!((mean - 0.2).abs() < 0.02, "poisson mean {mean}");
        for _ in 0..1000 {
            let x = r.range(18, 80);
            assert!((18..=80).contains(&x));
        }
    }

    #[test]
    fn durations_and_times_parse() {
        assert_eq!(parse_duration("2h"), Some(7_200));
        assert_eq!(parse_duration("3d"), Some(259_200));
        assert_eq!(parse_duration("x"), None);
        assert!(matches!(
            parse_when("2027-01-04T09:00:00Z"),
            Some(When::Instant(_))
        ));
        assert!(matches!(
            parse_when("2027-01-04 09:00"),
            Some(When::Local(_))
        ));
        assert!(matches!(
            parse_when("2027-01-04T09:00"),
            Some(When::Local(_))
        ));
        assert_eq!(parse_when("tomorrow"), None);
    }
}
