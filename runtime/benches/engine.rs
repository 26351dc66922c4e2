//! Engine benchmark: the telecom example (`examples/telecom`) simulated for N customers
//! (default 1,000,000) over 365 days, single-threaded, printing figures and ratios measured in
//! the same run.
//!
//! Workload (deterministic, seeded):
//! - N profiles created at 2027-01-01 00:00 (Paris) with varied age, household, plan, consents,
//!   billing and time zone, so that every scenario, offer and branch of the example happens;
//! - one `signup` per customer spread over the first 14 days, then a synthetic stream in time
//!   order: `usage` once a day (the schema says the network reports it daily; `--usage-every D`
//!   for every D days), `login`, `purchase`, `satisfaction_survey`, monthly `invoice_ready` and
//!   `invoice_paid`, `referral_signup`, `bonus_activated` and a few `churn`s;
//! - each day's inputs are generated (untimed), sorted and fed through [`Engine::events`]
//!   (which reads ahead), then [`Engine::advance_to`] the next midnight fires the day's
//!   timers and the effects are drained (timed: that is the engine's work). An input's
//!   properties wait inline and become the `Vec` the engine takes as the input is fed
//!   (timed), as a server would parse an event just before handing it over: a day of
//!   vectors made in advance and freed in time order would fill the allocator's free lists
//!   with cold chunks that a server does not have.
//!
//! Figures: events/s (per core: the engine is single-threaded), VM instructions/s (the
//! engine's instruction counter) and steps reached, timers, effects, peak memory (`VmHWM`).
//!
//! Memory per waiting instance is measured in a child process (the same binary) so that the
//! measurement is not mixed with the stream's event-history aggregates: it creates the N
//! profiles (ΔRSS = the per-customer baseline, profile data), then feeds every customer's
//! `signup` within the first hours, so that they wait in `premiere_annee` (timeline entries,
//! a `wait for login within 3 days`, deferred SMS), and reports ΔRSS over the instances
//! created, next to a structural estimate (`size_of::<Instance>()`, the heap of its vectors,
//! its scope events and its timers). It then advances the clock a month with no other input
//! (the week-1 call made, the instances waiting for their timeline) and reports the live
//! heap per instance and its structure again: what a long wait costs.
//!
//! The child runs with `MIMALLOC_PURGE_DELAY=0`, so that mimalloc returns freed pages at
//! once instead of after 10 ms: with the default delay the ΔRSS of the signups swung
//! between two values run to run (100,000 customers, the same binary: 22.5 or 41.3 MB,
//! 243 or 449 bytes per instance), as pages freed while the profiles were made were
//! returned before or after the boundary between the two measurements; with it, three runs
//! agree to 0.01 MB. What stays counted is what the instances hold, with the allocator's
//! rounding and the holes their neighbours left, not the pages awaiting return.
//!
//! Run: `cargo bench -p journey-runtime --bench engine -- [--customers N] [--usage-every D]
//! [--no-probe]`. Linux only for the memory figures (`/proc/self/status`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::mem::size_of;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant as Wall};

use journey_bytecode::{AttrId, Date, EventId, Program, StepKind};
use journey_compiler::{Input, SourceHost, compile};
use journey_runtime::customer::{EventData, Instance, Scope, Thread, ThreadState};
use journey_runtime::{Config, Effect, Engine, Value};
use stats_alloc::StatsAlloc;

/// 2027-01-01T00:00 in Paris (UTC+1).
const T0: i64 = 1_798_758_000;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const DAYS: u16 = 365;
/// The year's inputs go to the engine this many at a time, its effects taken after each run
/// as a server takes them to the channels (the engine's buffer kept, `Engine::take_effects`).
const STREAM_DRAIN: usize = 4096;
/// First day (0-based day of 2027) of each month.
const MONTH_START: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
/// Signups happen over the first days.
const SIGNUP_DAYS: u64 = 14;
/// The goals the issue sets.
const GOAL_EVENTS_PER_SEC: f64 = 1_000_000.0;
const GOAL_BYTES_PER_INSTANCE: f64 = 256.0;

// ------------------------------------------------------------------ heap accounting

/// The allocator of the `journey` binary (mimalloc) with counters (a few atomic additions per
/// allocation), so that the memory probe can report the live heap it created, independent of
/// the allocator's rounding.
#[global_allocator]
static GLOBAL: StatsAlloc<mimalloc::MiMalloc> = StatsAlloc::new(mimalloc::MiMalloc);

/// Live heap (bytes requested, allocations) counted so far.
fn live_heap() -> (isize, isize) {
    let s = GLOBAL.stats();
    (
        s.bytes_allocated as isize - s.bytes_deallocated as isize,
        s.allocations as isize - s.deallocations as isize,
    )
}

// ------------------------------------------------------------------ arguments

struct Args {
    customers: usize,
    usage_every: u16,
    probe: bool,
    /// Internal: run the memory probe in this process and print its figures.
    probe_child: bool,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        usage_every: 1,
        probe: true,
        probe_child: false,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        // A count's `_` separators are allowed (`--customers 1_000_000`).
        let count = |i: usize| {
            v.get(i + 1)
                .and_then(|s| s.replace('_', "").parse::<usize>().ok())
                .unwrap_or_else(|| usage(&format!("`{}` needs a number after it", v[i])))
        };
        match v[i].as_str() {
            "--customers" => {
                a.customers = count(i).max(1);
                i += 1;
            }
            "--usage-every" => {
                a.usage_every = count(i).clamp(1, 365) as u16;
                i += 1;
            }
            "--no-probe" => a.probe = false,
            "--probe-child" => a.probe_child = true,
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument `{other}`")),
        }
        i += 1;
    }
    a
}

/// Prints how to run the benchmark (after `problem`, if any) and exits: with status 2 for a
/// problem, 0 for `--help`. A mistyped flag must not start a million-customer run.
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: cargo bench -p journey-runtime --bench engine -- [--customers N] [--usage-every D] [--no-probe]"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}

// ------------------------------------------------------------------ program and schema

/// Reads the project's files from disk, relative to its directory (the plugin manifests
/// it names live outside it, in `plugins/manifests`).
struct Disk(std::path::PathBuf);

impl SourceHost for Disk {
    fn read(&self, path: &str) -> Option<Arc<str>> {
        std::fs::read_to_string(self.0.join(path))
            .ok()
            .map(Arc::from)
    }
}

fn load_telecom() -> Arc<Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/telecom");
    let mut input = Input {
        default_name: "telecom".into(),
        manifest: Some("journey.toml".into()),
        ..Input::default()
    };
    let mut files: Vec<String> = std::fs::read_dir(&root)
        .expect("examples/telecom")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".journey"))
        .collect();
    files.sort();
    input.roots = files;
    let c = compile(&Disk(root), &input);
    match c.program {
        Some(p) => Arc::new(p),
        None => panic!("examples/telecom does not compile: {:?}", c.diagnostics),
    }
}

fn attr(p: &Program, name: &str) -> AttrId {
    p.attributes
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no attribute `{name}` in the telecom schema"))
}

/// An event of the schema and where the properties the generator sets go.
struct Ev {
    id: EventId,
    len: usize,
    slots: Vec<usize>,
}

impl Ev {
    fn new(p: &Program, name: &str, props: &[&str]) -> Ev {
        let (id, def) = p
            .events
            .iter()
            .find(|(_, e)| e.name == name)
            .unwrap_or_else(|| panic!("no event `{name}` in the telecom schema"));
        let slots = props
            .iter()
            .map(|n| {
                def.props
                    .iter()
                    .position(|x| x.name == *n)
                    .unwrap_or_else(|| panic!("no property `{name}.{n}`"))
            })
            .collect();
        Ev {
            id,
            len: def.props.len(),
            slots,
        }
    }

    /// Property values in schema order from values in the order given to [`Ev::new`]
    /// (inline: the `Vec` the engine takes is made when the event is fed, as a server
    /// parsing its input would, not a day ahead).
    fn props<const K: usize>(&self, values: [Value; K]) -> Props {
        let mut out: Props = smallvec::smallvec![Value::None; self.len];
        for (slot, v) in self.slots.iter().zip(values) {
            out[*slot] = v;
        }
        out
    }
}

struct Schema {
    attrs: Attrs,
    signup: Ev,
    usage: Ev,
    purchase: Ev,
    login: Ev,
    churn: Ev,
    invoice_ready: Ev,
    invoice_paid: Ev,
    survey: Ev,
    referral_signup: Ev,
    bonus: Ev,
}

struct Attrs {
    customer_ref: AttrId,
    first_name: AttrId,
    last_name: AttrId,
    age: AttrId,
    children: AttrId,
    plan: AttrId,
    has_box: AttrId,
    birthday: AttrId,
    timezone: AttrId,
    email: AttrId,
    phone: AttrId,
    optin_sms: AttrId,
    optin_email: AttrId,
    optin_push: AttrId,
    app_installed: AttrId,
    push_token: AttrId,
    einvoice: AttrId,
    payment_method: AttrId,
}

impl Schema {
    fn new(p: &Program) -> Schema {
        Schema {
            attrs: Attrs {
                customer_ref: attr(p, "customer_ref"),
                first_name: attr(p, "first_name"),
                last_name: attr(p, "last_name"),
                age: attr(p, "age"),
                children: attr(p, "household_children"),
                plan: attr(p, "plan"),
                has_box: attr(p, "has_box"),
                birthday: attr(p, "birthday"),
                timezone: attr(p, "timezone"),
                email: attr(p, "email"),
                phone: attr(p, "phone"),
                optin_sms: attr(p, "optin_sms"),
                optin_email: attr(p, "optin_email"),
                optin_push: attr(p, "optin_push"),
                app_installed: attr(p, "app_installed"),
                push_token: attr(p, "push_token"),
                einvoice: attr(p, "einvoice"),
                payment_method: attr(p, "payment_method"),
            },
            signup: Ev::new(p, "signup", &["plan", "channel", "monthly_price"]),
            usage: Ev::new(p, "usage", &["data_gb", "voice_minutes", "roaming"]),
            purchase: Ev::new(p, "purchase", &["sku", "amount", "category"]),
            login: Ev::new(p, "login", &["device"]),
            churn: Ev::new(p, "churn", &["reason"]),
            invoice_ready: Ev::new(
                p,
                "invoice_ready",
                &["invoice_id", "amount", "due_date", "pdf_url"],
            ),
            invoice_paid: Ev::new(p, "invoice_paid", &["invoice_id", "amount"]),
            survey: Ev::new(p, "satisfaction_survey", &["score"]),
            referral_signup: Ev::new(p, "referral_signup", &["referee_plan"]),
            bonus: Ev::new(p, "bonus_activated", &["bonus"]),
        }
    }
}

// ------------------------------------------------------------------ customers

/// splitmix64: a stateless mix, so that what happens to a customer on a day does not depend on
/// the order of generation.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn new(a: u64, b: u64) -> Rng {
        Rng(mix(a.wrapping_mul(0x1_0000_01b3) ^ mix(b)))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const PLANS: [&str; 4] = ["mobile_essentiel", "mobile_5g", "illimite", "prepaye"];
const PRICES: [f64; 4] = [9.99, 15.99, 24.99, 5.0];
const NO_DAY: u16 = u16::MAX;

/// What the generator decided about a customer once.
struct Traits {
    plan: u8,
    signup_day: u16,
    signup_secs: u32,
    /// GB per day.
    data_per_day: f32,
    traveller: bool,
    /// Probability of a login on a given day.
    login_p: f32,
    /// Logs in the day after signing up.
    early_login: bool,
    buyer: bool,
    /// CSAT given 8 days after signup (0: none).
    survey: u8,
    churn_day: u16,
    referral_day: u16,
    bonus_day: u16,
    einvoice: bool,
    carte: bool,
}

/// Profiles and traits, deterministic per customer index.
fn customer(i: usize, s: &Attrs) -> (Vec<(AttrId, Value)>, Traits) {
    const FIRST: [&str; 8] = [
        "Léa", "Thomas", "Nadia", "Hugo", "Maëlle", "Julien", "Camille", "Paul",
    ];
    const LAST: [&str; 8] = [
        "Martin", "Garnier", "Benali", "Lefebvre", "Payet", "Roux", "Girard", "Durand",
    ];
    let mut r = Rng::new(i as u64, 0xc0ffee);
    // A quarter under 26 (« Jeune »), the rest up to 80.
    let age = if r.chance(0.25) {
        18 + r.below(8)
    } else {
        26 + r.below(55)
    };
    let children = if age >= 28 && r.chance(0.45) {
        1 + r.below(3)
    } else {
        0
    };
    let plan = match r.below(100) {
        0..35 => 0,
        35..70 => 1,
        70..90 => 2,
        _ => 3,
    } as u8;
    let month = 1 + r.below(12) as u8;
    let day = 1 + r.below(28) as u8;
    let birthday = Date {
        year: (2027 - age as i64 - 1) as i16,
        month,
        day,
    };
    let email = r.chance(0.9);
    let phone = r.chance(0.95);
    let einvoice = r.chance(0.8);
    let carte = r.chance(0.3);
    // Drawn in the order the population has always been drawn in.
    let first_name = FIRST[r.below(8) as usize];
    let last_name = LAST[r.below(8) as usize];
    let has_box = r.chance(0.3);
    let optin_sms = r.chance(0.5);
    let optin_email = r.chance(0.7);
    let optin_push = r.chance(0.4);
    let app_installed = r.chance(0.5);
    let mut attrs = vec![
        (s.customer_ref, Value::text(&format!("C-{:07}", i))),
        (s.first_name, Value::text(first_name)),
        (s.last_name, Value::text(last_name)),
        (s.age, Value::Number(age as f64)),
        (s.children, Value::Number(children as f64)),
        (s.plan, Value::text(PLANS[plan as usize])),
        (s.has_box, Value::Bool(has_box)),
        (s.birthday, Value::Date(birthday)),
        (s.optin_sms, Value::Bool(optin_sms)),
        (s.optin_email, Value::Bool(optin_email)),
        (s.optin_push, Value::Bool(optin_push)),
        (s.app_installed, Value::Bool(app_installed)),
        (s.einvoice, Value::Bool(einvoice)),
        (
            s.payment_method,
            Value::text(if carte { "carte" } else { "prelevement" }),
        ),
    ];
    if email {
        attrs.push((s.email, Value::text(&format!("client{i}@example.com"))));
    }
    if phone {
        attrs.push((s.phone, Value::text(&format!("+336{:08}", i))));
    }
    // The app registers for push when it is installed.
    if app_installed {
        attrs.push((s.push_token, Value::text(&format!("fcm-{i:08x}"))));
    }
    // Overseas departments: quiet hours and birthdays at their own local times.
    match r.below(100) {
        0..3 => attrs.push((s.timezone, Value::text("Indian/Reunion"))),
        3..5 => attrs.push((s.timezone, Value::text("America/Martinique"))),
        _ => {}
    }
    let signup_day = r.below(SIGNUP_DAYS) as u16;
    let heavy = r.chance(0.2);
    let birthday_doy = MONTH_START[month as usize - 1] + day as u16 - 1;
    let t = Traits {
        plan,
        signup_day,
        signup_secs: (8 * HOUR as u64 + r.below(14 * HOUR as u64)) as u32,
        data_per_day: if heavy {
            0.8 + 0.4 * r.unit() as f32
        } else {
            0.05 + 0.35 * r.unit() as f32
        },
        traveller: r.chance(0.1),
        login_p: if r.chance(0.6) {
            0.1 + 0.3 * r.unit() as f32
        } else {
            0.01
        },
        early_login: r.chance(0.6),
        buyer: r.chance(0.4),
        survey: if r.chance(0.3) {
            1 + r.below(5) as u8
        } else {
            0
        },
        churn_day: if r.chance(0.03) {
            signup_day + 1 + r.below(DAYS as u64 - signup_day as u64 - 1) as u16
        } else {
            NO_DAY
        },
        referral_day: if r.chance(0.15) {
            signup_day + 310 + r.below(25) as u16
        } else {
            NO_DAY
        },
        bonus_day: if r.chance(0.4) {
            birthday_doy + r.below(4) as u16
        } else {
            NO_DAY
        },
        einvoice,
        carte,
    };
    (attrs, t)
}

/// One input of the stream.
struct In {
    at: i64,
    customer: u32,
    event: EventId,
    props: Props,
    /// The customer's id, carried by the input as a server receives it inside the event
    /// (read from a table of a million ids instead, it cost the timed loop two cache misses
    /// per event that no server pays).
    id: Id,
}

/// A customer id (`C-` and at least seven digits, as `format!("C-{i:07}")` writes it)
/// held inline.
#[derive(Clone, Copy)]
struct Id {
    len: u8,
    bytes: [u8; 23],
}

impl Id {
    fn of(i: usize) -> Id {
        let digits = (i.checked_ilog10().unwrap_or(0) as usize + 1).max(7);
        let mut bytes = [b'0'; 23];
        bytes[0] = b'C';
        bytes[1] = b'-';
        let mut n = i;
        for b in bytes[2..2 + digits].iter_mut().rev() {
            *b = b'0' + (n % 10) as u8;
            n /= 10;
        }
        Id {
            len: (2 + digits) as u8,
            bytes,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("ASCII digits")
    }
}

/// An input's properties until it is fed.
type Props = smallvec::SmallVec<[Value; 4]>;

/// The month a day falls in, and the day of the month (0-based).
fn month_of(day: u16) -> (usize, u16) {
    let m = MONTH_START.iter().rposition(|s| *s <= day).unwrap_or(0);
    (m, day - MONTH_START[m])
}

fn invoice_id(m: usize, i: usize) -> Value {
    Value::text(&format!("F-27{:02}-{:07}", m + 1, i))
}

/// Every input of day `day` (0-based from 2027-01-01), unsorted.
fn generate_day(day: u16, traits: &[Traits], s: &Schema, usage_every: u16, out: &mut Vec<In>) {
    let start = T0 + day as i64 * DAY;
    let (month, dom) = month_of(day);
    for (i, t) in traits.iter().enumerate() {
        if day < t.signup_day || (t.churn_day != NO_DAY && day > t.churn_day) {
            continue;
        }
        let c = i as u32;
        let mut push = |at: i64, ev: &Ev, props: Props| {
            out.push(In {
                at,
                customer: c,
                event: ev.id,
                props,
                id: Id::of(i),
            })
        };
        let mut r = Rng::new(i as u64, day as u64 + 1);
        if day == t.signup_day {
            const CHANNELS: [&str; 3] = ["boutique", "web", "telephone"];
            push(
                start + t.signup_secs as i64,
                &s.signup,
                s.signup.props([
                    Value::text(PLANS[t.plan as usize]),
                    Value::text(CHANNELS[r.below(3) as usize]),
                    Value::Number(PRICES[t.plan as usize]),
                ]),
            );
        }
        if day == t.churn_day {
            push(
                start + 18 * HOUR,
                &s.churn,
                s.churn.props([Value::text("concurrence")]),
            );
            continue;
        }
        // Usage, reported by the network at the end of the day.
        if day > t.signup_day && (day as usize + i).is_multiple_of(usage_every as usize) {
            let k = usage_every as f64 * (0.5 + r.unit());
            let summer = (170..250).contains(&day);
            push(
                start + 23 * HOUR + r.below(50 * 60) as i64,
                &s.usage,
                s.usage.props([
                    Value::Number((t.data_per_day as f64 * k * 100.0).round() / 100.0),
                    Value::Number((20.0 * k).round()),
                    Value::Bool(t.traveller && summer && r.chance(0.4)),
                ]),
            );
        }
        const DEVICES: [&str; 3] = ["android", "ios", "web"];
        if (day == t.signup_day + 1 && t.early_login)
            || (day > t.signup_day + 1 && r.chance(t.login_p as f64))
        {
            push(
                start + 8 * HOUR + r.below(13 * HOUR as u64) as i64,
                &s.login,
                s.login.props([Value::text(DEVICES[r.below(3) as usize])]),
            );
        }
        if t.buyer && day > t.signup_day && r.chance(0.02) {
            const CATS: [&str; 5] = ["forfait", "option", "box", "terminal", "accessoire"];
            let cat = r.below(5) as usize;
            push(
                start + 10 * HOUR + r.below(10 * HOUR as u64) as i64,
                &s.purchase,
                s.purchase.props([
                    Value::text(&format!("SKU-{}", CATS[cat].to_uppercase())),
                    Value::Number(5.0 + r.below(300) as f64),
                    Value::text(CATS[cat]),
                ]),
            );
        }
        if t.survey > 0 && day == t.signup_day + 8 {
            push(
                start + 18 * HOUR,
                &s.survey,
                s.survey.props([Value::Number(t.survey as f64)]),
            );
        }
        // Billing: the invoice within the first three days of the month (after the 09:00
        // entry of the e-invoice journey), paid by debit four days later, by card later or
        // never.
        if t.einvoice && day > t.signup_day {
            let offset = (i % 3) as u16;
            let price = PRICES[t.plan as usize];
            if dom == offset {
                let due = Date {
                    year: 2027,
                    month: month as u8 + 1,
                    day: 15,
                };
                let id = format!("F-27{:02}-{:07}", month + 1, i);
                push(
                    start + 10 * HOUR + (i % 10) as i64 * HOUR,
                    &s.invoice_ready,
                    s.invoice_ready.props([
                        Value::text(&id),
                        Value::Number(price),
                        Value::Date(due),
                        Value::text(&format!("https://telco.example/f/{id}.pdf")),
                    ]),
                );
            }
            let mut rm = Rng::new(i as u64, 1000 + month as u64);
            let delay = if !t.carte {
                4
            } else {
                match rm.below(10) {
                    0..7 => 6,
                    7..9 => 15,
                    _ => NO_DAY,
                }
            };
            if delay != NO_DAY && dom == offset + delay {
                push(
                    start + 12 * HOUR,
                    &s.invoice_paid,
                    s.invoice_paid
                        .props([invoice_id(month, i), Value::Number(price)]),
                );
            }
        }
        if day == t.referral_day {
            push(
                start + 13 * HOUR,
                &s.referral_signup,
                s.referral_signup.props([Value::text("mobile_5g")]),
            );
        }
        if day == t.bonus_day && day > t.signup_day {
            push(
                start + 12 * HOUR + r.below(6 * HOUR as u64) as i64,
                &s.bonus,
                s.bonus.props([Value::text("10GO-ANNIV")]),
            );
        }
    }
}

// ------------------------------------------------------------------ measurement helpers

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`); 0 elsewhere than Linux.
fn status_bytes(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU time of this process (user + system), from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of the line; the 12th and 13th after the command's `)`.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn mb(b: f64) -> String {
    format!("{:.1} MB", b / 1e6)
}

/// `12,345,678`.
fn n(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (k, ch) in s.chars().enumerate() {
        if k > 0 && (s.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn rate(count: f64, d: Duration) -> String {
    let r = count / d.as_secs_f64().max(1e-9);
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.0} k/s", r / 1e3)
    }
}

/// Counts of drained effects.
#[derive(Default)]
struct Counts {
    sends: u64,
    deferred: u64,
    skipped: u64,
    entered: u64,
    exited: u64,
    goals: u64,
    emitted: u64,
}

impl Counts {
    fn add(&mut self, effects: impl IntoIterator<Item = Effect>) {
        for e in effects {
            match e {
                Effect::Send(_) => self.sends += 1,
                Effect::Deferred { .. } => self.deferred += 1,
                Effect::Skipped { .. } => self.skipped += 1,
                Effect::Entered { .. } => self.entered += 1,
                Effect::Exited { .. } => self.exited += 1,
                Effect::Goal { .. } => self.goals += 1,
                Effect::Emitted { .. } => self.emitted += 1,
                _ => {}
            }
        }
    }
}

// ------------------------------------------------------------------ memory probe

/// Heap bytes of a value (strings and lists; `Arc` headers included).
fn value_heap(v: &Value) -> usize {
    match v {
        // Shared texts (interned by the engine) count for their share; a static one (none
        // here) for nothing.
        Value::String(s) => arcstr::ArcStr::strong_count(s).map_or(0, |n| (16 + s.len()) / n),
        Value::List(l) => {
            (16 + size_of::<Vec<Value>>()
                + l.len() * size_of::<Value>()
                + l.iter().map(value_heap).sum::<usize>())
                / Arc::strong_count(l)
        }
        _ => 0,
    }
}

/// Heap bytes of a thin vector: a 16-byte header before its items, nothing when it never
/// allocated.
fn thin<T>(v: &thin_vec::ThinVec<T>) -> usize {
    match v.capacity() {
        0 => 0,
        n => 16 + n * size_of::<T>(),
    }
}

/// Bytes an instance owns: its struct (in the customer's vector, with that vector's spare
/// capacity shared among the customer's instances) and the heap of its vectors and scope
/// events (inline vectors count nothing more, shared events and texts their share).
fn instance_bytes(i: &Instance, slot: usize) -> (usize, usize, usize) {
    let vecs = if i.threads.spilled() {
        i.threads.capacity() * size_of::<Thread>()
    } else {
        0
    } + i.threads.iter().map(|t| thin(&t.saved)).sum::<usize>()
        + match &i.scope {
            Scope::Many(many) => thin(many),
            Scope::One(_) => 0,
        }
        + thin(&i.goals);
    let scope: usize = i
        .scope
        .iter()
        .map(|e| {
            (16 + size_of::<EventData>()
                + e.props.len() * size_of::<Value>()
                + e.props.iter().map(value_heap).sum::<usize>())
                / Arc::strong_count(e)
        })
        .sum();
    (slot, vecs, scope)
}

/// How often the probe drains the engine's effects, in events: a server hands sends to their
/// channels as they come, so the probe holds no more than a few dozen rendered messages at
/// once (holding thousands would leave their freed memory between the instances). It drains
/// with `drain_effects`, which keeps no buffer, so that the engine's kept room for effects
/// (`KEPT_EFFECTS`, about 3 MB whatever the population) is not counted per instance.
const DRAIN_EVERY: usize = 64;

/// The child: profiles, then every signup within the first hours; prints `probe <key> <value>`.
fn probe(customers: usize) {
    let program = load_telecom();
    let s = Schema::new(&program);
    let ids: Vec<String> = (0..customers).map(|i| format!("C-{i:07}")).collect();
    let mut engine = Engine::new(program.clone(), Config::default(), T0);
    let mut counts = Counts::default();
    let traits: Vec<Traits> = (0..customers).map(|i| customer(i, &s.attrs).1).collect();
    let rss0 = status_bytes("VmRSS");
    let heap0 = live_heap();
    let timers0 = engine.pending_timers();
    for (i, id) in ids.iter().enumerate() {
        let (attrs, _) = customer(i, &s.attrs);
        engine.upsert_customer(id, &attrs, T0);
        if i % DRAIN_EVERY == 0 {
            counts.add(engine.drain_effects());
        }
    }
    counts.add(engine.drain_effects());
    let rss1 = status_bytes("VmRSS");
    let heap1 = live_heap();
    let timers1 = engine.pending_timers();
    let timer_mem1 = engine.timer_memory();
    // Every signup between 00:01 and 08:00 on January 1st (before the 09:00 e-invoice entry).
    const CHANNELS: [&str; 3] = ["boutique", "web", "telephone"];
    for (i, (id, t)) in ids.iter().zip(&traits).enumerate() {
        let at = T0 + 60 + (i as i64 * 8 * HOUR) / customers as i64;
        let props = s.signup.props([
            Value::text(PLANS[t.plan as usize]),
            Value::text(CHANNELS[i % 3]),
            Value::Number(PRICES[t.plan as usize]),
        ]);
        engine.event(id, s.signup.id, props.into_vec(), at);
        if i % DRAIN_EVERY == 0 {
            counts.add(engine.drain_effects());
        }
    }
    counts.add(engine.drain_effects());
    let rss2 = status_bytes("VmRSS");
    let heap2 = live_heap();
    let timers2 = engine.pending_timers();
    let timer_mem2 = engine.timer_memory();
    // Structure of what was created.
    let shape = Shape::of(&engine);
    let (instances, waiting) = (shape.instances, shape.waiting);
    let inst = instances.max(1) as f64;
    println!("probe customers {customers}");
    println!("probe rss_profiles {}", rss1.saturating_sub(rss0));
    println!("probe rss_instances {}", rss2.saturating_sub(rss1));
    println!("probe heap_profiles {}", heap1.0 - heap0.0);
    println!("probe allocs_profiles {}", heap1.1 - heap0.1);
    println!("probe heap_instances {}", heap2.0 - heap1.0);
    println!("probe allocs_instances {}", heap2.1 - heap1.1);
    println!("probe instances {instances}");
    println!("probe waiting {waiting}");
    println!("probe timers_customers {}", timers1 - timers0);
    println!("probe timers_instances {}", timers2.saturating_sub(timers1));
    println!(
        "probe timer_bytes {}",
        (timer_mem2 as f64 / timers2.max(1) as f64).max(timer_mem1 as f64 / timers1.max(1) as f64)
    );
    println!("probe slot {}", shape.slots as f64 / inst);
    println!("probe vecs {}", shape.vecs as f64 / inst);
    println!("probe scope {}", shape.scope as f64 / inst);
    println!("probe recent_sends {}", shape.sends_heap as f64 / inst);
    println!("probe sends {}", counts.sends);
    println!("probe deferred {}", counts.deferred);
    // A month later, with no other input: the week-1 call has been made, and the instances
    // wait for their timeline (months 3 to 10) holding only what they will still read. Live
    // heap only (RSS does not give back what was freed meanwhile).
    probe_later(
        &mut engine,
        &mut counts,
        T0 + 30 * DAY,
        "m1",
        heap1.0,
        timers1,
    );
    // Day 100: the month-3 entry has run, and the instances wait for month 6 holding only
    // their open goal windows, if any (the week-1 call's closed at day 21).
    probe_later(
        &mut engine,
        &mut counts,
        T0 + 100 * DAY,
        "d100",
        heap1.0,
        timers1,
    );
    black_box(&engine);
}

/// The probe at a later instant `at`, with no other input: the live heap grown since the
/// profiles (`heap_profiles`, with `timers_profiles` pending) per instance, and the
/// structure of the waiting ones; printed as `probe <key>_<suffix> <value>`.
fn probe_later(
    engine: &mut Engine,
    counts: &mut Counts,
    at: i64,
    suffix: &str,
    heap_profiles: isize,
    timers_profiles: usize,
) {
    engine.advance_to(at);
    counts.add(engine.drain_effects());
    let heap = live_heap();
    let later = Shape::of(engine);
    let waiting = later.waiting.max(1) as f64;
    println!("probe waiting_{suffix} {}", later.waiting);
    println!(
        "probe heap_{suffix} {}",
        (heap.0 - heap_profiles) as f64 / later.instances.max(1) as f64
    );
    println!("probe slot_{suffix} {}", later.slots as f64 / waiting);
    println!("probe vecs_{suffix} {}", later.vecs as f64 / waiting);
    println!("probe scope_{suffix} {}", later.scope as f64 / waiting);
    println!(
        "probe timers_{suffix} {}",
        engine.pending_timers().saturating_sub(timers_profiles) as f64 / waiting
    );
}

/// The structure of the instances an engine holds, summed over them.
#[derive(Default)]
struct Shape {
    instances: usize,
    waiting: usize,
    slots: usize,
    vecs: usize,
    scope: usize,
    sends_heap: usize,
}

impl Shape {
    fn of(engine: &Engine) -> Shape {
        let mut s = Shape::default();
        for c in 0..engine.customer_count() {
            let cu = engine.customer(c as u32).expect("customer");
            s.sends_heap += cu.recent_sends.capacity() * 16;
            // Calendars written out (after a change of time zone; none in the probe).
            s.vecs += thin(&cu.listed) + cu.listed.iter().map(|l| thin(&l.items)).sum::<usize>();
            let k = cu.instances.len();
            for inst in &cu.instances {
                s.instances += 1;
                if inst.threads.iter().any(|t| t.state != ThreadState::Done)
                    || !engine.pending_entries(c as u32, inst.journey).is_empty()
                {
                    s.waiting += 1;
                }
                let (sl, v, sc) =
                    instance_bytes(inst, cu.instances.capacity() * size_of::<Instance>() / k);
                s.slots += sl;
                s.vecs += v;
                s.scope += sc;
            }
        }
        s
    }
}

fn run_probe(customers: usize) -> BTreeMap<String, f64> {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--probe-child", "--customers", &customers.to_string()])
        .env("MIMALLOC_PURGE_DELAY", "0")
        .output()
        .expect("memory probe child");
    if !out.status.success() {
        eprintln!(
            "memory probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("probe")).then_some(())?;
            let k = w.next()?.to_string();
            let v = w.next()?.parse::<f64>().ok()?;
            Some((k, v))
        })
        .collect()
}

// ------------------------------------------------------------------ main run

fn main() {
    let a = args();
    if a.probe_child {
        probe(a.customers);
        return;
    }
    let nc = a.customers;
    println!(
        "== engine benchmark: examples/telecom, {} customers, {DAYS} days, usage every {} day(s) ==",
        n(nc as u64),
        a.usage_every
    );
    let t = Wall::now();
    let program = load_telecom();
    println!(
        "compile            {:.0} ms: {} journeys, {} segments, {} aggregates, {} instructions",
        t.elapsed().as_secs_f64() * 1e3,
        program.journeys.len(),
        program.segments.len(),
        program.aggregates.len(),
        program.code.len()
    );
    let s = Schema::new(&program);

    // The memory probe first, in a child, so that this process's peak is its own.
    let probe = if a.probe {
        let t = Wall::now();
        let p = run_probe(nc);
        println!(
            "memory probe       {:.1} s (child process)",
            t.elapsed().as_secs_f64()
        );
        Some(p)
    } else {
        None
    };

    for i in [0, 42, 9_999_999, 10_000_000, nc - 1] {
        assert_eq!(
            Id::of(i).as_str(),
            format!("C-{i:07}"),
            "the inline id of {i}"
        );
    }
    let mut traits = Vec::with_capacity(nc);
    let rss_start = status_bytes("VmRSS");
    let mut engine = Engine::new(program.clone(), Config::default(), T0);
    let mut counts = Counts::default();
    let t = Wall::now();
    for i in 0..nc {
        let (attrs, tr) = customer(i, &s.attrs);
        traits.push(tr);
        engine.upsert_customer(Id::of(i).as_str(), &attrs, T0);
        if i % 4096 == 0 {
            counts.add(engine.take_effects());
        }
    }
    counts.add(engine.take_effects());
    let profiles = t.elapsed();
    println!(
        "profiles           {} upserts in {:.2} s ({}), {} timers",
        n(nc as u64),
        profiles.as_secs_f64(),
        rate(nc as f64, profiles),
        n(engine.pending_timers() as u64)
    );

    // The year.
    let mut batch: Vec<In> = Vec::new();
    let (mut ingest, mut generate) = (Duration::ZERO, Duration::ZERO);
    let mut cpu_ingest = Duration::ZERO;
    let mut inputs = 0u64;
    let mut per_kind = vec![0u64; program.events.len()];
    let (mut peak_timers, mut peak_timer_mem) = (0usize, 0usize);
    let insns0 = engine.instructions();
    let events0 = engine.stats().events;
    let mut month_rates = Vec::new();
    let (mut month_inputs, mut month_time) = (0u64, Duration::ZERO);
    for day in 0..DAYS {
        let tg = Wall::now();
        batch.clear();
        generate_day(day, &traits, &s, a.usage_every, &mut batch);
        // Stable: a customer's inputs at the same second keep the order they were made in.
        // An unstable sort's order among them depends on the element's size (its small-sort
        // strategy), so the effects would change with the layout of `In`.
        batch.sort_by_key(|x| (x.at, x.customer));
        for x in &batch {
            per_kind[x.event.as_u32() as usize] += 1;
        }
        generate += tg.elapsed();
        inputs += batch.len() as u64;
        month_inputs += batch.len() as u64;
        let cpu0 = cpu_time();
        let ti = Wall::now();
        for chunk in batch.chunks_mut(STREAM_DRAIN) {
            engine.events(chunk.iter_mut().map(|x| {
                let In {
                    at,
                    event,
                    props,
                    id,
                    ..
                } = x;
                (id.as_str(), *event, std::mem::take(props).into_vec(), *at)
            }));
            counts.add(engine.take_effects());
        }
        batch.clear();
        engine.advance_to(T0 + (day as i64 + 1) * DAY);
        counts.add(engine.take_effects());
        let d = ti.elapsed();
        ingest += d;
        month_time += d;
        cpu_ingest += cpu_time().saturating_sub(cpu0);
        peak_timers = peak_timers.max(engine.pending_timers());
        peak_timer_mem = peak_timer_mem.max(engine.timer_memory());
        if month_of(day + 1).1 == 0 || day + 1 == DAYS {
            let r = month_inputs as f64 / month_time.as_secs_f64().max(1e-9);
            month_rates.push(r);
            eprintln!(
                "  month {:2}: {:>12} inputs, {:6.1} s, {:>8.0} events/s, {} timers, RSS {}",
                month_rates.len(),
                n(month_inputs),
                month_time.as_secs_f64(),
                r,
                n(engine.pending_timers() as u64),
                mb(status_bytes("VmRSS") as f64)
            );
            month_inputs = 0;
            month_time = Duration::ZERO;
        }
    }
    let insns = engine.instructions() - insns0;
    let engine_events = engine.stats().events - events0;
    let hwm = status_bytes("VmHWM") as f64;
    let rss_end = status_bytes("VmRSS") as f64;
    let stats = engine.stats();
    let steps_reached: u64 = stats.steps.values().map(|x| x.reached).sum();
    let events_per_sec = inputs as f64 / ingest.as_secs_f64();
    let events_per_cpu_sec = inputs as f64 / cpu_ingest.as_secs_f64().max(1e-9);

    println!(
        "stream             {} inputs in {:.1} s wall, {:.1} s CPU (generation, untimed: {:.1} s)",
        n(inputs),
        ingest.as_secs_f64(),
        cpu_ingest.as_secs_f64(),
        generate.as_secs_f64()
    );
    println!(
        "  inputs           {}",
        program
            .events
            .values()
            .zip(&per_kind)
            .filter(|(_, c)| **c > 0)
            .map(|(e, c)| format!("{} {}", e.name, n(*c)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "events/s           {} per wall second, {} per CPU second (1 core); {} events processed (with emitted); months {}",
        rate(inputs as f64, ingest),
        rate(inputs as f64, cpu_ingest),
        n(engine_events),
        {
            let lo = month_rates.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = month_rates.iter().cloned().fold(0.0, f64::max);
            format!("{:.0}k..{:.0}k/s", lo / 1e3, hi / 1e3)
        }
    );
    println!(
        "VM steps/s         {} instructions executed: {} ({:.1} per input); journey steps reached: {} ({})",
        n(insns),
        rate(insns as f64, ingest),
        insns as f64 / inputs.max(1) as f64,
        n(steps_reached),
        rate(steps_reached as f64, ingest)
    );
    println!(
        "timers             {} pending at the end, peak {} ({} by the scheduler's estimate)",
        n(engine.pending_timers() as u64),
        n(peak_timers as u64),
        mb(peak_timer_mem as f64)
    );
    println!(
        "effects            {} sends, {} deferred, {} skipped, {} entries, {} exits, {} goals, {} emitted",
        n(counts.sends),
        n(counts.deferred),
        n(counts.skipped),
        n(counts.entered),
        n(counts.exited),
        n(counts.goals),
        n(counts.emitted)
    );
    for (j, jd) in program.journeys.iter() {
        let js = &stats.journeys[j];
        let exits: Vec<String> = js
            .exited
            .iter()
            .map(|(k, v)| format!("{k} {}", n(*v)))
            .collect();
        println!(
            "  {:<22} entered {:>10}; exits: {}",
            jd.name,
            n(js.entered),
            exits.join(", ")
        );
    }
    for (id, step) in program.steps.iter() {
        if matches!(step.kind, StepKind::Scenario | StepKind::If) {
            let arms: Vec<String> = step
                .arms
                .iter()
                .zip(&stats.steps[id].arms)
                .map(|(a, c)| format!("{a} {}", n(*c)))
                .collect();
            println!(
                "  {:<22} {}.{}: {}",
                "branch",
                program.journeys[step.journey].name,
                step.name,
                arms.join(", ")
            );
        }
    }
    let mut sends: Vec<String> = program
        .channels
        .keys()
        .flat_map(|ch| stats.sends_by_template(&program, ch))
        .map(|(t, c)| format!("{t} {}", n(c)))
        .collect();
    sends.sort();
    println!("  sends by template  {}", sends.join(", "));
    println!(
        "memory             VmHWM {} ({:.0} bytes/customer), VmRSS at the end {}, engine growth {}",
        mb(hwm),
        hwm / nc as f64,
        mb(rss_end),
        mb(rss_end - rss_start as f64)
    );
    println!(
        "sizes              Instance {} B, Thread {} B, Value {} B, EventData {} B, Customer {} B",
        size_of::<Instance>(),
        size_of::<Thread>(),
        size_of::<Value>(),
        size_of::<EventData>(),
        size_of::<journey_runtime::customer::Customer>()
    );
    let mut per_instance = None;
    if let Some(p) = &probe {
        let g = |k: &str| p.get(k).copied().unwrap_or(0.0);
        let inst = g("instances").max(1.0);
        let measured = g("rss_instances") / inst;
        let timers_per = g("timers_instances") / inst;
        let timer_bytes = timers_per * g("timer_bytes");
        let structural = g("slot") + g("vecs") + g("scope") + timer_bytes;
        println!(
            "probe              {} profiles: ΔRSS {} ({:.0} bytes/customer, {:.1} timers each: the baseline, profile data)",
            n(g("customers") as u64),
            mb(g("rss_profiles")),
            g("rss_profiles") / g("customers").max(1.0),
            g("timers_customers") / g("customers").max(1.0)
        );
        println!(
            "                   then their signups: {} instances ({} waiting), ΔRSS {} = {:.0} bytes per waiting instance (freed pages returned at once: MIMALLOC_PURGE_DELAY=0)",
            n(g("instances") as u64),
            n(g("waiting") as u64),
            mb(g("rss_instances")),
            measured
        );
        println!(
            "                   live heap {:.0} bytes in {:.1} allocations per instance (requested sizes, before the allocator's rounding; profiles: {:.0} bytes in {:.1} per customer)",
            g("heap_instances") / inst,
            g("allocs_instances") / inst,
            g("heap_profiles") / g("customers").max(1.0),
            g("allocs_profiles") / g("customers").max(1.0)
        );
        println!(
            "                   structural estimate {:.0} bytes: Instance slot {:.0} (customer's Vec capacity) + its vectors {:.0} + scope events {:.0} + {:.1} timers x {:.0} B = {:.0}; (customer-side, not counted: recent sends {:.0})",
            structural,
            g("slot"),
            g("vecs"),
            g("scope"),
            timers_per,
            g("timer_bytes"),
            timer_bytes,
            g("recent_sends")
        );
        println!(
            "                   a month later (week-1 call made, no other input): {} waiting, live heap {:.0} bytes per instance; structure: slot {:.0} + vectors {:.0} + scope events {:.0}, {:.1} timers",
            n(g("waiting_m1") as u64),
            g("heap_m1"),
            g("slot_m1"),
            g("vecs_m1"),
            g("scope_m1"),
            g("timers_m1")
        );
        println!(
            "                   day 100 (month-3 entry run): {} waiting, live heap {:.0} bytes per instance, vectors {:.0}",
            n(g("waiting_d100") as u64),
            g("heap_d100"),
            g("vecs_d100")
        );
        per_instance = Some(measured);
    }
    println!("ratios");
    println!(
        "  events/s per core vs goal 1,000,000: {:.0} / 1,000,000 = {:.2}x ({}); per CPU second {:.2}x",
        events_per_sec,
        events_per_sec / GOAL_EVENTS_PER_SEC,
        if events_per_sec >= GOAL_EVENTS_PER_SEC {
            "met"
        } else {
            "not met"
        },
        events_per_cpu_sec / GOAL_EVENTS_PER_SEC
    );
    if let Some(b) = per_instance {
        println!(
            "  bytes per waiting instance vs goal 256: {:.0} / 256 = {:.2}x ({})",
            b,
            b / GOAL_BYTES_PER_INSTANCE,
            if b <= GOAL_BYTES_PER_INSTANCE {
                "met"
            } else {
                "not met"
            }
        );
    }
    black_box(&engine);
}
