//! An instance's calendar: its timeline entries and the end of its lifetime (`exit after`),
//! computed when needed instead of written out per instance.
//!
//! Every item of the calendar is fixed by the instance's entry instant and the customer's
//! time zone: timeline entry `k` falls at `time::add_calendar(entered_at, tz, offset, at)`,
//! the lifetime ends `max_lifetime_secs` after entry. Items are ordered by (seconds after
//! entry, index), the lifetime ([`LIFETIME`], the largest index) after the entries due at the
//! same instant. So an instance needs only the index of the last entry it started to know
//! the rest ([`Instance::calendar`]); millions of instances waiting months for their
//! timeline hold no list of dates.
//!
//! Finding the next item does not convert every entry's date: each entry has bounds on its
//! seconds after entry that hold in every time zone (`Plan`), so only the entries that may
//! come next are converted (usually one).
//!
//! When a customer's time zone changes, the dates already fixed must not move (the language
//! reference: timeline entries keep the instants computed when the instance started), so
//! each instance's remaining items are written out in the old zone (`Plan::list`) and
//! the instance reads them from its list from then on ([`CALENDAR_LISTED`]).

use crate::customer::{Instance, LIFETIME, ListedCalendar};
use crate::time::{self, Instant, MAX_INSTANT, MIN_INSTANT};
use jiff::tz::TimeZone;
use journey_bytecode::{CalendarOffset, JourneyDef, TimeOfDay};
use thin_vec::ThinVec;

/// [`Instance::calendar`] of an instance that has started no timeline entry yet.
pub const CALENDAR_NEW: u16 = u16::MAX - 1;

/// [`Instance::calendar`] of an instance whose remaining calendar is written out in
/// its customer's [`Customer::listed`](crate::customer::Customer::listed) (after the
/// customer's time zone changed); empty when done.
pub const CALENDAR_LISTED: u16 = u16::MAX;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// How far an instant can be from the local date-time it was converted from, relative to
/// the entry's own offset: a zone's offset from UTC changes by at most 26 hours (from -12:00
/// to +14:00, as Samoa did in 2011); two days cover it with room.
const MARGIN: i64 = 2 * DAY;

/// Item `(seconds after entry, index)` of an instance's calendar.
pub type Item = (u32, u16);

/// What a journey's calendar looks like, computed once per journey: bounds on each item's
/// seconds after entry, and the items in the order of their lower bounds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Per timeline entry: its offset from the entry's local date, and its local time of day
    /// (none: the entry's).
    entries: Vec<(CalendarOffset, Option<TimeOfDay>)>,
    /// Per timeline entry: (lowest, highest) seconds after entry it can fall, in any zone.
    bounds: Vec<(u32, u32)>,
    /// The end of the lifetime, in seconds after entry (none beyond 2^32 s, 136 years).
    lifetime: Option<u32>,
    /// Entry indexes (and [`LIFETIME`]) by lower bound, then index.
    by_low: Vec<u16>,
}

impl Plan {
    /// The plan of `jd`'s calendar.
    pub(crate) fn new(jd: &JourneyDef) -> Plan {
        Plan::of(
            jd.timeline.iter().map(|e| (e.offset, e.at)).collect(),
            jd.max_lifetime_secs,
        )
    }

    /// The plan of a calendar of these timeline entries and this lifetime in seconds.
    fn of(entries: Vec<(CalendarOffset, Option<TimeOfDay>)>, lifetime: Option<u64>) -> Plan {
        let bounds: Vec<(u32, u32)> = entries
            .iter()
            .map(|&(offset, at)| {
                let (low, high) = wall_bounds(offset, at);
                (clamp_secs(low - MARGIN), clamp_secs(high + MARGIN))
            })
            .collect();
        let lifetime = lifetime.and_then(|s| u32::try_from(s).ok());
        let mut by_low: Vec<u16> = (0..bounds.len() as u16)
            .chain(lifetime.map(|_| LIFETIME))
            .collect();
        let low = |k: u16| match bounds.get(usize::from(k)) {
            Some(&(l, _)) => l,
            None => lifetime.unwrap_or(u32::MAX),
        };
        by_low.sort_by_key(|&k| (low(k), k));
        Plan {
            entries,
            bounds,
            lifetime,
            by_low,
        }
    }

    /// Bounds of item `k` (the lifetime is exact); none when the entry does not exist.
    fn bounds(&self, k: u16) -> Option<(u32, u32)> {
        if k == LIFETIME {
            self.lifetime.map(|s| (s, s))
        } else {
            self.bounds.get(usize::from(k)).copied()
        }
    }

    /// Whether the bounds hold for an instance entered at `entered`: not near the ends of
    /// the representable range, where dates saturate instead of moving by their offset.
    fn bounded(entered: Instant) -> bool {
        entered > MIN_INSTANT + MARGIN && entered < MAX_INSTANT - i64::from(u32::MAX) - MARGIN
    }

    /// Seconds after entry of item `k` for an instance entered at `entered` with
    /// time zone `tz` (an entry due before its instance started, such as `day 0 at 08:00`
    /// entered at 10:00, is due at once: 0). Saturates at `u32::MAX`.
    pub(crate) fn secs(&self, entered: Instant, tz: &TimeZone, k: u16) -> u32 {
        if k == LIFETIME {
            return self.lifetime.unwrap_or(u32::MAX);
        }
        match self.entries.get(usize::from(k)) {
            Some(&(offset, at)) => {
                let at = time::add_calendar(entered, tz, offset, at);
                at.saturating_sub(entered).clamp(0, i64::from(u32::MAX)) as u32
            }
            None => u32::MAX,
        }
    }

    /// The first item strictly after `after` (or the first of all), skipping the lifetime
    /// when `entries_only`.
    pub(crate) fn next(
        &self,
        entered: Instant,
        tz: &TimeZone,
        after: Option<Item>,
        entries_only: bool,
    ) -> Option<Item> {
        let bounded = Self::bounded(entered);
        let mut best: Option<Item> = None;
        for &k in &self.by_low {
            if entries_only && k == LIFETIME {
                continue;
            }
            let Some((low, high)) = self.bounds(k) else {
                continue;
            };
            if bounded {
                // Sorted by lower bound: nothing further can come before the best.
                if best.is_some_and(|(b, _)| low > b) {
                    break;
                }
                // Certainly before `after`: already started.
                if after.is_some_and(|(a, _)| high < a) {
                    continue;
                }
            }
            let item = (self.secs(entered, tz, k), k);
            if after.is_some_and(|a| item <= a) {
                continue;
            }
            if best.is_none_or(|b| item < b) {
                best = Some(item);
            }
        }
        best
    }

    /// The timeline entries not started yet, when the last one started is `last` (none:
    /// none started), in index order. Converts only the entries whose bounds do not tell.
    pub(crate) fn pending(
        &self,
        entered: Instant,
        tz: &TimeZone,
        last: Option<u16>,
    ) -> impl Iterator<Item = u16> {
        let n = self.bounds.len() as u16;
        let last = last.and_then(|k| Some((k, self.bounds(k)?)));
        let bounded = Self::bounded(entered);
        let mut last_secs = None;
        (0..n).filter(move |&k| {
            let Some((lk, (llow, lhigh))) = last else {
                return true;
            };
            if k == lk {
                return false;
            }
            let (low, high) = self.bounds[usize::from(k)];
            if bounded && high < llow {
                return false;
            }
            if bounded && low > lhigh {
                return true;
            }
            let ls = *last_secs.get_or_insert_with(|| self.secs(entered, tz, lk));
            (self.secs(entered, tz, k), k) > (ls, lk)
        })
    }

    /// Writes the rest of `inst`'s calendar out in zone `tz` ([`Plan::write_out`]) into its
    /// customer's `listed`, to be read from there from then on; an instance already listed
    /// is left as it is.
    pub(crate) fn list(
        &self,
        inst: &mut Instance,
        listed: &mut ThinVec<ListedCalendar>,
        tz: &TimeZone,
    ) {
        if inst.calendar != CALENDAR_LISTED {
            let items = self.write_out(inst.entered_at, tz, last_started(inst));
            listed.retain(|l| l.journey != inst.journey);
            listed.push(ListedCalendar {
                journey: inst.journey,
                items,
            });
            inst.calendar = CALENDAR_LISTED;
        }
    }

    /// The items not reached yet, when the last entry started is `last`, written out: the
    /// next one last (the order [`ListedCalendar::items`] keeps).
    fn write_out(&self, entered: Instant, tz: &TimeZone, last: Option<u16>) -> ThinVec<Item> {
        let after = last.map(|k| (self.secs(entered, tz, k), k));
        let mut items: ThinVec<Item> = (0..self.bounds.len() as u16)
            .chain(self.lifetime.map(|_| LIFETIME))
            .map(|k| (self.secs(entered, tz, k), k))
            .filter(|&item| after.is_none_or(|a| item > a))
            .collect();
        items.sort_unstable_by(|a, b| b.cmp(a));
        items
    }
}

/// Bounds on how far the local date-time of an entry at `offset` and `at` is from the
/// instance's entry, in seconds of the local calendar: the local date moves by `months`
/// (each 28 to 31 days, clamped at month ends: never fewer than 28 a month, never more than
/// 31), then `days`; the local time of day moves to `at` (from the entry's, anywhere in the
/// day).
fn wall_bounds(offset: CalendarOffset, at: Option<TimeOfDay>) -> (i64, i64) {
    let months = i64::from(offset.months);
    let days = i64::from(offset.days);
    let (tod_low, tod_high) = match at {
        Some(t) => {
            let at = i64::from(t.hour) * 3600 + i64::from(t.minute) * 60;
            (at - (DAY - 1), at)
        }
        None => (0, 0),
    };
    (
        (28 * months + days) * DAY + tod_low,
        (31 * months + days) * DAY + tod_high,
    )
}

/// `s` clamped to the seconds an item can be after entry.
fn clamp_secs(s: i64) -> u32 {
    s.clamp(0, i64::from(u32::MAX)) as u32
}

/// The last timeline entry an instance started, when its calendar is computed (not listed).
pub(crate) fn last_started(inst: &Instance) -> Option<u16> {
    match inst.calendar {
        CALENDAR_NEW | CALENDAR_LISTED => None,
        k => Some(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Paris",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "Pacific/Kiritimati",
        "America/Santiago",
    ];

    /// Every item computed and sorted: what the plan's pruning must agree with.
    fn naive(plan: &Plan, entered: Instant, tz: &TimeZone) -> Vec<Item> {
        let mut all: Vec<Item> = (0..plan.entries.len() as u16)
            .chain(plan.lifetime.map(|_| LIFETIME))
            .map(|k| (plan.secs(entered, tz, k), k))
            .collect();
        all.sort_unstable();
        all
    }

    fn any_entry() -> impl Strategy<Value = (CalendarOffset, Option<TimeOfDay>)> {
        (
            prop_oneof![0u32..4, 0u32..40, 0u32..1300],
            prop_oneof![0u32..10, 0u32..400, 0u32..40_000],
            proptest::option::of((0u8..24, 0u8..60)),
        )
            .prop_map(|(months, days, at)| {
                (
                    CalendarOffset { months, days },
                    at.map(|(hour, minute)| TimeOfDay { hour, minute }),
                )
            })
    }

    /// Entries at the representable range's ends too, where dates saturate.
    fn any_instant() -> impl Strategy<Value = Instant> {
        prop_oneof![
            8 => 0i64..4_200_000_000,
            1 => MIN_INSTANT..MIN_INSTANT + 400 * 86_400,
            1 => MAX_INSTANT - 4_400_000_000..MAX_INSTANT,
        ]
    }

    proptest! {
        #[test]
        fn the_plan_walks_the_calendar_in_the_order_of_every_date_computed(
            entries in proptest::collection::vec(any_entry(), 0..12),
            lifetime in proptest::option::of(prop_oneof![0u64..100_000_000, any::<u64>()]),
            entered in any_instant(),
            zone in proptest::sample::select(ZONES),
        ) {
            let tz = TimeZone::get(zone).expect("a bundled zone");
            let plan = Plan::of(entries, lifetime);
            let all = naive(&plan, entered, &tz);
            // One item after another, as the timers reach them.
            let mut walked = Vec::new();
            let mut after = None;
            while let Some(item) = plan.next(entered, &tz, after, false) {
                prop_assert!(walked.len() <= all.len(), "no end: {walked:?}");
                walked.push(item);
                after = Some(item);
            }
            prop_assert_eq!(&walked, &all);
            // At each point, the entries still to come, the next entry and the rest written
            // out agree with the sorted dates.
            for i in 0..=all.len() {
                let done = &all[..i];
                let last = done.iter().rev().map(|&(_, k)| k).find(|&k| k != LIFETIME);
                // The lifetime ends an instance: past it there is nothing to ask.
                if done.iter().any(|&(_, k)| k == LIFETIME) {
                    break;
                }
                let after = last.map(|k| (plan.secs(entered, &tz, k), k));
                let rest: Vec<Item> = all
                    .iter()
                    .copied()
                    .filter(|&item| after.is_none_or(|a| item > a))
                    .collect();
                let mut pending: Vec<u16> =
                    rest.iter().map(|&(_, k)| k).filter(|&k| k != LIFETIME).collect();
                pending.sort_unstable();
                prop_assert_eq!(plan.pending(entered, &tz, last).collect::<Vec<_>>(), pending);
                prop_assert_eq!(
                    plan.next(entered, &tz, after, true),
                    rest.iter().copied().find(|&(_, k)| k != LIFETIME)
                );
                let mut out = plan.write_out(entered, &tz, last).to_vec();
                out.reverse();
                prop_assert_eq!(out, rest);
            }
        }
    }

    #[test]
    fn bounds_hold_for_months_across_leap_years_and_month_ends() {
        // Every start date of 2095-2105 (2100 is not a leap year) and offsets up to 25
        // months, in UTC (no offset changes, so no margin): each date falls within the
        // bounds of the local calendar.
        let tz = TimeZone::UTC;
        let entries: Vec<_> = (0..=25u32)
            .flat_map(|months| [0u32, 1, 30].map(|days| (CalendarOffset { months, days }, None)))
            .collect();
        let plan = Plan::of(entries, None);
        let start = time::from_local(
            jiff::civil::date(2095, 1, 1).to_datetime(jiff::civil::Time::midnight()),
            &tz,
        );
        for day in 0..(11 * 366) {
            let entered = start + day * DAY + 13 * 3600;
            for k in 0..plan.entries.len() as u16 {
                let s = i64::from(plan.secs(entered, &tz, k));
                let (offset, at) = plan.entries[usize::from(k)];
                let (low, high) = wall_bounds(offset, at);
                assert!(
                    low <= s && s <= high,
                    "entry {k} from day {day}: {s} not in {low}..={high}"
                );
            }
        }
    }

    #[test]
    fn the_margin_covers_a_skipped_day() {
        // Samoa skipped 2011-12-30 (from UTC-10 to UTC+14): `day 2` from the 29th falls a
        // day earlier than its local calendar says, and the walk still finds every entry in
        // order.
        let tz = TimeZone::get("Pacific/Apia").expect("a bundled zone");
        let entries: Vec<_> = (0..4u32)
            .flat_map(|days| {
                [None, Some((0, 30)), Some((23, 0))].map(|at| {
                    (
                        CalendarOffset { months: 0, days },
                        at.map(|(hour, minute)| TimeOfDay { hour, minute }),
                    )
                })
            })
            .collect();
        let plan = Plan::of(entries, Some(2 * 86_400));
        let start = time::from_local(
            jiff::civil::date(2011, 12, 26).to_datetime(jiff::civil::Time::midnight()),
            &tz,
        );
        let mut beyond_the_calendar = 0;
        for hour in 0..(8 * 24) {
            let entered = start + hour * 3600;
            for k in 0..plan.entries.len() as u16 {
                let s = plan.secs(entered, &tz, k);
                let (low, high) = plan.bounds(k).expect("an entry");
                assert!(low <= s && s <= high, "entry {k} from hour {hour}: {s}");
                let (offset, at) = plan.entries[usize::from(k)];
                let (wall_low, wall_high) = wall_bounds(offset, at);
                if !(wall_low..=wall_high).contains(&i64::from(s)) {
                    beyond_the_calendar += 1;
                }
            }
            let mut walked = Vec::new();
            let mut after = None;
            while let Some(item) = plan.next(entered, &tz, after, false) {
                walked.push(item);
                after = Some(item);
            }
            assert_eq!(walked, naive(&plan, entered, &tz), "from hour {hour}");
        }
        assert!(beyond_the_calendar > 0, "the skipped day moved no date");
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::{Config, Engine, Value};
    use journey_bytecode::Program;
    use std::sync::Arc;

    /// A timeline with entries whose order depends on the month (`day 30`, `month 1`), on
    /// the time of entry (`month 1` and `month 1 at 23:30`), local times that fall in
    /// daylight-saving gaps (`02:30`), an entry due before its instance starts (`day 0 at
    /// 08:00`) and a lifetime that can end at an entry's instant.
    const SOURCE: &str = r#"
profile { timezone: timezone = "Europe/Paris" }
event go
event stop
channel email uses "email" { }
journey cal {
  entry on go
  exit on stop
  exit after 70 days
  timeline {
    day 0 at 08:00: send email "d0"
    day 1: send email "d1"
    week 4 at 02:30: send email "w4"
    month 1: send email "m1"
    day 30: send email "d30"
    month 1 at 23:30: send email "m1b"
    month 2 at 02:30: send email "m2"
    day 70: send email "d70"
  }
  wait 100 days
}
"#;

    const ZONES: [&str; 5] = [
        "Europe/Paris",
        "America/New_York",
        "Pacific/Apia",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ];

    /// Effects of `inputs` (which customer; what; seconds since the previous input; which
    /// zone) with calendars computed, or written out at entry as before.
    fn run(p: &Arc<Program>, listed: bool, inputs: &[(bool, u8, i64, usize)]) -> Vec<String> {
        let event = |name: &str| crate::test_event(p, name);
        let zone = crate::test_attribute(p, "timezone");
        // 2027-03-01 10:00 UTC: March and October changes within reach.
        let mut t: crate::time::Instant = 1_803_981_600;
        let mut engine = Engine::new(p.clone(), Config::default(), t);
        engine.list_calendars = listed;
        // The first customer starts at once, so that every case has a calendar to run.
        engine.event("a", event("go"), Vec::new(), t);
        let mut out: Vec<String> = crate::test_effects(&mut engine).collect();
        for &(second, what, gap, z) in inputs {
            t += gap;
            let id = if second { "b" } else { "a" };
            match what % 4 {
                0 => engine.event(id, event("go"), Vec::new(), t),
                1 => engine.event(id, event("stop"), Vec::new(), t),
                2 => engine.set_attribute(id, zone, Value::text(ZONES[z % ZONES.len()]), t),
                _ => engine.advance_to(t),
            }
            out.extend(crate::test_effects(&mut engine));
            listed_beside_their_instances(&engine);
        }
        engine.advance_to(t + 120 * 86_400);
        out.extend(crate::test_effects(&mut engine));
        listed_beside_their_instances(&engine);
        out
    }

    /// A customer keeps one written-out calendar per instance whose calendar is listed, and
    /// none for another or for an instance that has ended.
    fn listed_beside_their_instances(engine: &Engine) {
        for c in 0..engine.customer_count() {
            let customer = engine.customer(c as u32).expect("customer");
            let mut kept: Vec<_> = customer.listed.iter().map(|l| l.journey).collect();
            let mut listed: Vec<_> = customer
                .instances
                .iter()
                .filter(|i| i.calendar == super::CALENDAR_LISTED)
                .map(|i| i.journey)
                .collect();
            kept.sort();
            listed.sort();
            assert_eq!(kept, listed, "customer {c}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Computing the calendar changes nothing a customer sees: the same inputs, time-zone
        /// moves included, give the same effects as writing every date out at entry.
        #[test]
        fn computing_the_calendar_changes_no_effect(
            inputs in proptest::collection::vec(
                (
                    proptest::prelude::any::<bool>(),
                    0u8..4,
                    0i64..12 * 86_400,
                    0usize..5,
                ),
                1..40,
            ),
        ) {
            let p = crate::test_program(SOURCE);
            let reference = run(&p, true, &inputs);
            proptest::prop_assert!(reference.iter().any(|e| e.contains("Send")));
            proptest::prop_assert_eq!(run(&p, false, &inputs), reference);
        }
    }
}
