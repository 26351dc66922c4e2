//! The time semantics of journeys: instants, customers' time zones and calendar arithmetic.
//!
//! An [`Instant`] is a whole number of seconds since 1970-01-01T00:00:00Z. Everything calendar
//! related (dates, times of day, months, weekdays, quiet hours) happens in the customer's local
//! time, through the tz database embedded in the binary (no IO).
//!
//! The language's rules, implemented here exactly:
//!
//! - **Local date-time → instant** ([`from_local`]): a local time that does not exist (spring
//!   forward gap) moves forward by the length of the gap (2027-03-28 02:30 in Europe/Paris is
//!   03:30 CEST); a local time that exists twice (fall back fold) takes the earlier instant
//!   (2027-10-31 02:30 in Europe/Paris is the CEST one, 00:30 UTC). This is jiff's "compatible"
//!   disambiguation.
//! - **Calendar offsets** ([`add_calendar`]): whole months are added to the local date, clamped to
//!   the month's last day (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year), then whole
//!   days; the local time of day is kept unless an explicit time is given; the result is
//!   converted back with the rule above.
//! - **Quiet hours** ([`quiet_end`]) `from..to` in local time: `[from, to)` when `from < to`;
//!   across midnight when `from > to` (21:00 to 08:00 covers 21:00–23:59 and 00:00–07:59); empty
//!   when `from == to`. A send at a quiet local time is deferred to the next local `to` time.
//!
//! No function panics. Instants outside the range of the tz arithmetic (years -9999..=9999) are
//! clamped to [`MIN_INSTANT`]..=[`MAX_INSTANT`]; out-of-range dates, times of day, days and
//! weekdays are clamped as each function documents.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::{self, DateTime, Time};
use jiff::tz::TimeZone;
use journey_bytecode::{CalendarOffset, Civil, Date, TimeOfDay};

/// Seconds since 1970-01-01T00:00:00Z.
pub type Instant = i64;

/// The earliest instant the calendar functions represent (-9999-01-02T01:59:59Z); earlier
/// instants are clamped to it.
pub const MIN_INSTANT: Instant = -377_705_023_201;

/// The latest instant the calendar functions represent (9999-12-30T22:00:00Z); later instants
/// are clamped to it, and calendar results beyond it saturate to it.
pub const MAX_INSTANT: Instant = 253_402_207_200;

/// How many distinct names [`Zones`] caches; beyond it, zones are still found, just not cached
/// (the names come from customer profiles and are not trusted to be few).
const MAX_CACHED_ZONES: usize = 1024;

/// Time zones by IANA name, cached (parsing a zone is not free). Unknown names fall back to the
/// default zone.
#[derive(Debug, Clone)]
pub struct Zones {
    /// Zones already looked up, by the name they were asked for.
    cache: HashMap<String, TimeZone>,
    /// The zone of customers without a (known) zone.
    default: TimeZone,
}

impl Default for Zones {
    /// Zones defaulting to UTC.
    fn default() -> Zones {
        Zones {
            cache: HashMap::new(),
            default: TimeZone::UTC,
        }
    }
}

impl Zones {
    /// Zones defaulting to the IANA zone `default`, or to UTC if that name is unknown.
    pub fn new(default: &str) -> Zones {
        Zones {
            cache: HashMap::new(),
            default: TimeZone::get(default).unwrap_or(TimeZone::UTC),
        }
    }

    /// The zone of IANA name `name`; the default zone for `None` or an unknown name.
    pub fn get(&mut self, name: Option<&str>) -> TimeZone {
        let Some(name) = name else {
            return self.default.clone();
        };
        if let Some(tz) = self.cache.get(name) {
            return tz.clone();
        }
        match TimeZone::get(name) {
            Ok(tz) => {
                if self.cache.len() < MAX_CACHED_ZONES {
                    self.cache.insert(name.to_owned(), tz.clone());
                }
                tz
            }
            Err(_) => self.default.clone(),
        }
    }

    /// The default zone.
    pub fn default_zone(&self) -> &TimeZone {
        &self.default
    }
}

/// `t` clamped to [`MIN_INSTANT`]..=[`MAX_INSTANT`].
fn clamp_instant(t: Instant) -> Instant {
    t.clamp(MIN_INSTANT, MAX_INSTANT)
}

/// The timestamp of `t`, clamped to the representable range.
fn timestamp(t: Instant) -> Timestamp {
    let fallback = if t < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    };
    Timestamp::from_second(clamp_instant(t)).unwrap_or(fallback)
}

/// The instant of a timestamp, rounded down to the whole second.
fn instant_of(ts: Timestamp) -> Instant {
    let seconds = ts.as_second();
    if ts.subsec_nanosecond() < 0 {
        seconds.saturating_sub(1)
    } else {
        seconds
    }
}

/// Whether `year` is a leap year of the proleptic Gregorian calendar.
fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days of `month` (1..=12) of `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The civil date `year-month-day`, with the month clamped to 1..=12 and the day to
/// 1..=(the month's last day); `None` if the year is outside -9999..=9999.
fn make_date(year: i64, month: i64, day: i64) -> Option<civil::Date> {
    let year = i16::try_from(year).ok()?;
    if !(-9999..=9999).contains(&year) {
        return None;
    }
    let month = month.clamp(1, 12);
    let day = day.clamp(1, days_in_month(i64::from(year), month));
    // Both fit an i8 after clamping.
    civil::Date::new(year, month as i8, day as i8).ok()
}

/// A program date as a civil date, clamping every field into range.
fn civil_date(d: Date) -> civil::Date {
    let year = i64::from(d.year).clamp(-9999, 9999);
    make_date(year, i64::from(d.month), i64::from(d.day)).unwrap_or(civil::Date::MIN)
}

/// A program time of day as a civil time, clamping the hour to 23 and the minute to 59.
fn civil_time(t: TimeOfDay) -> Time {
    let hour = t.hour.min(23) as i8;
    let minute = t.minute.min(59) as i8;
    Time::new(hour, minute, 0, 0).unwrap_or(Time::midnight())
}

/// Days since 1970-01-01 of a civil date (negative before).
fn day_number(d: civil::Date) -> i64 {
    // Howard Hinnant's `days_from_civil`.
    let (year, month, day) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `n` days after 1970-01-01; `None` outside years -9999..=9999.
fn date_from_day_number(n: i64) -> Option<civil::Date> {
    // Howard Hinnant's `civil_from_days`; bound `n` first so nothing overflows.
    if !(-20_000 * 366..=20_000 * 366).contains(&n) {
        return None;
    }
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    make_date(year, month, day)
}

/// `d` plus `months` whole months, the day clamped to the last day of the resulting month;
/// `None` beyond year 9999.
fn add_months_to_date(d: civil::Date, months: u32) -> Option<civil::Date> {
    let index = i64::from(d.year()) * 12 + i64::from(d.month()) - 1 + i64::from(months);
    make_date(
        index.div_euclid(12),
        index.rem_euclid(12) + 1,
        i64::from(d.day()),
    )
}

/// The local date and time of instant `t` in `tz` (`t` clamped to the representable range).
pub fn to_local(t: Instant, tz: &TimeZone) -> DateTime {
    tz.to_datetime(timestamp(t))
}

/// The instant of local date-time `dt` in `tz`, by the language's rule: a local time in a gap
/// moves forward by the length of the gap, a local time in a fold takes the earlier instant.
///
/// Sub-second parts are rounded down; results beyond the representable range are clamped.
pub fn from_local(dt: DateTime, tz: &TimeZone) -> Instant {
    match tz.to_ambiguous_timestamp(dt).compatible() {
        Ok(ts) => instant_of(ts),
        Err(_) if dt.year() < 0 => MIN_INSTANT,
        Err(_) => MAX_INSTANT,
    }
}

/// The instant of a local date and time written in a program (a test's clock, a timestamp
/// constant), by the rule of [`from_local`]. Out-of-range fields are clamped.
pub fn civil_to_instant(c: Civil, tz: &TimeZone) -> Instant {
    from_local(civil_date(c.date).to_datetime(civil_time(c.time)), tz)
}

/// The local date of instant `t` in `tz`.
pub fn date_of(t: Instant, tz: &TimeZone) -> Date {
    let d = to_local(t, tz).date();
    Date {
        year: d.year(),
        // 1..=12 and 1..=31: they fit.
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

/// The instant of local midnight starting date `d` in `tz` (by the rule of [`from_local`]: in a
/// zone whose clocks skip midnight, the day starts at the end of the gap). Out-of-range fields
/// are clamped.
pub fn date_to_instant(d: Date, tz: &TimeZone) -> Instant {
    from_local(civil_date(d).to_datetime(Time::midnight()), tz)
}

/// Entry instant + calendar offset (months, then days), at `at` or the entry's local time of
/// day.
///
/// The months are added to the local date of `t` and the day clamped to the last day of the
/// resulting month, then the days are added; the local time is `at` if given, else the local
/// time of day of `t`; the result is converted by the rule of [`from_local`]. When the local
/// date-time does not change (no offset, no other time), the result is `t` itself, even in a
/// fold. The result is before `t` when the offset is zero and `at` is earlier in the day.
/// Results beyond year 9999 saturate to [`MAX_INSTANT`].
pub fn add_calendar(
    t: Instant,
    tz: &TimeZone,
    offset: CalendarOffset,
    at: Option<TimeOfDay>,
) -> Instant {
    let t = clamp_instant(t);
    let local = to_local(t, tz);
    let Some(date) = add_months_to_date(local.date(), offset.months)
        .and_then(|d| date_from_day_number(day_number(d) + i64::from(offset.days)))
    else {
        return MAX_INSTANT;
    };
    let time = at.map_or(local.time(), civil_time);
    let target = date.to_datetime(time);
    if target == local {
        return t;
    }
    from_local(target, tz)
}

/// Same local time of day, `months` later (the day clamped to the month's last day); see
/// [`add_calendar`].
pub fn add_months(t: Instant, tz: &TimeZone, months: u32) -> Instant {
    add_calendar(t, tz, CalendarOffset { months, days: 0 }, None)
}

/// The first instant strictly after `t` whose local time is `at`, on `weekday` (0 = Monday ..
/// 6 = Sunday; 7, or any larger value, = any day).
///
/// Each candidate local date-time is converted by the rule of [`from_local`]: on a day where
/// `at` falls in a gap, the result is moved forward by the gap; on a day where it falls in a
/// fold, only the earlier instant counts. Hours and minutes out of range are clamped; the result
/// saturates to [`MAX_INSTANT`].
pub fn next_local_time(t: Instant, tz: &TimeZone, weekday: u8, at: TimeOfDay) -> Instant {
    let t = clamp_instant(t);
    let today = day_number(to_local(t, tz).date());
    // Two weeks (and the day before, for exotic zones) always hold one.
    let days = (today - 1..=today + 15).map(|n| {
        date_from_day_number(n)
            .filter(|date| weekday >= 7 || date.weekday().to_monday_zero_offset() == weekday as i8)
    });
    first_after(t, tz, at, days)
}

/// The first of `dates` (in order; `None` stands for a date that does not exist) whose local
/// time `at`, converted by the rule of [`from_local`], is strictly after `t`;
/// [`MAX_INSTANT`] if none is. The conversion is monotonic in the local date-time, so when the
/// dates grow, the first candidate after `t` is the earliest one.
fn first_after(
    t: Instant,
    tz: &TimeZone,
    at: TimeOfDay,
    dates: impl IntoIterator<Item = Option<civil::Date>>,
) -> Instant {
    let time = civil_time(at);
    dates
        .into_iter()
        .flatten()
        .map(|date| from_local(date.to_datetime(time), tz))
        .find(|&candidate| candidate > t)
        .unwrap_or(MAX_INSTANT)
}

/// The first instant strictly after `t` on local day `day` of a month (clamped to the month's
/// last day; day 0 counts as 1) at `at`, converted by the rule of [`from_local`].
///
/// The result saturates to [`MAX_INSTANT`].
pub fn next_monthly(t: Instant, tz: &TimeZone, day: u8, at: TimeOfDay) -> Instant {
    let t = clamp_instant(t);
    let today = to_local(t, tz).date();
    let month_index = i64::from(today.year()) * 12 + i64::from(today.month()) - 1;
    let days = (month_index - 1..=month_index + 3).map(|index| {
        make_date(
            index.div_euclid(12),
            index.rem_euclid(12) + 1,
            i64::from(day),
        )
    });
    first_after(t, tz, at, days)
}

/// The first instant strictly after `t` on the anniversary (month, day) of `date` at `at`,
/// converted by the rule of [`from_local`]; Feb 29 falls on Feb 28 in common years.
///
/// The year of `date` does not matter; its month and day are clamped into range. The result
/// saturates to [`MAX_INSTANT`].
pub fn next_yearly(t: Instant, tz: &TimeZone, date: Date, at: TimeOfDay) -> Instant {
    let t = clamp_instant(t);
    let year = i64::from(to_local(t, tz).date().year());
    let days =
        (year - 1..=year + 2).map(|y| make_date(y, i64::from(date.month), i64::from(date.day)));
    first_after(t, tz, at, days)
}

/// If `t` falls in the quiet hours `from..to` (local times of `tz`), the instant they end: the
/// next time the local clock reads `to`; otherwise `None`.
///
/// The quiet hours are `[from, to)` when `from < to`, cross midnight when `from > to`, and are
/// empty when `from == to`. The end is converted by the rule of [`from_local`] (a `to` in a gap
/// moves forward by the gap), except that when the local time `to` exists twice and its earlier
/// instant is already past (`t` is in the repeated hour), the end is its later instant. The end
/// is always after `t` (unless `t` is at [`MAX_INSTANT`]). Hours and minutes out of range are
/// clamped.
pub fn quiet_end(t: Instant, tz: &TimeZone, from: TimeOfDay, to: TimeOfDay) -> Option<Instant> {
    let t = clamp_instant(t);
    let local = to_local(t, tz);
    let now = local.time();
    let (from, to_time) = (civil_time(from), civil_time(to));
    let ends_today = if from < to_time {
        if from <= now && now < to_time {
            true
        } else {
            return None;
        }
    } else if from > to_time {
        if now < to_time {
            true
        } else if now >= from {
            false
        } else {
            return None;
        }
    } else {
        return None;
    };
    let today = day_number(local.date());
    let end_day = if ends_today { today } else { today + 1 };
    let Some(end_date) = date_from_day_number(end_day) else {
        return Some(MAX_INSTANT);
    };
    let ambiguous = tz.to_ambiguous_timestamp(end_date.to_datetime(to_time));
    for ts in [ambiguous.compatible(), ambiguous.later()]
        .into_iter()
        .flatten()
    {
        let end = instant_of(ts);
        if end > t {
            return Some(end);
        }
    }
    // Only reachable at the ends of the representable range or with a transition larger than
    // the quiet period; still move forward.
    Some(next_local_time(t, tz, 7, to))
}

/// Whole local days from the local date of `then` to the local date of `now` (negative if
/// `then` is later).
pub fn days_between(then: Instant, now: Instant, tz: &TimeZone) -> i64 {
    day_number(to_local(now, tz).date()) - day_number(to_local(then, tz).date())
}

/// Whole years of age on the local date of `now` for someone born on `date`: the number of
/// birthdays reached (a Feb 29 birthday is reached on Feb 28 in common years). Negative when
/// `date` is after the local date of `now` (-1 up to the first anniversary). Out-of-range fields
/// of `date` are clamped.
pub fn years_since(date: Date, now: Instant, tz: &TimeZone) -> i64 {
    let today = to_local(now, tz).date();
    let born = civil_date(date);
    let year = i64::from(today.year());
    let month = i64::from(born.month());
    let birthday = (month, i64::from(born.day()).min(days_in_month(year, month)));
    let years = year - i64::from(born.year());
    if (i64::from(today.month()), i64::from(today.day())) < birthday {
        years - 1
    } else {
        years
    }
}

/// The start of the local day after the local date of `now` in `tz` (by the rule of
/// [`from_local`]): the first instant after `now` at which [`days_between`] and
/// [`years_since`] can have another value. Never earlier than `now + 1`.
pub fn next_local_day(now: Instant, tz: &TimeZone) -> Instant {
    let next = date_from_day_number(day_number(to_local(now, tz).date()) + 1)
        .map_or(MAX_INSTANT, |d| {
            from_local(d.to_datetime(Time::midnight()), tz)
        });
    next.max(now.saturating_add(1))
}

/// The start of the local day `n` days after the local date of `then` in `tz` (by the rule of
/// [`from_local`]): where [`days_between`] from `then` reaches `n`. `None` beyond the
/// representable years.
pub fn day_reaching(then: Instant, n: i64, tz: &TimeZone) -> Option<Instant> {
    let day = day_number(to_local(then, tz).date()).checked_add(n)?;
    let date = date_from_day_number(day)?;
    Some(from_local(date.to_datetime(Time::midnight()), tz))
}

/// The start of the local day on which someone born on `date` turns `n` (by the rule of
/// [`years_since`]: a Feb 29 birthday is reached on Feb 28 in common years). `None` beyond the
/// representable years.
pub fn birthday_reaching(date: Date, n: i64, tz: &TimeZone) -> Option<Instant> {
    let born = civil_date(date);
    let year = i64::from(born.year()).checked_add(n)?;
    let day = make_date(year, i64::from(born.month()), i64::from(born.day()))?;
    Some(from_local(day.to_datetime(Time::midnight()), tz))
}

/// Readable local time, `2027-01-04 09:00` (with `:SS` seconds only when they are not zero),
/// followed by the zone's abbreviation at that instant (`2027-01-04 09:00 CET`) if `with_zone`.
pub fn format_local(t: Instant, tz: &TimeZone, with_zone: bool) -> String {
    let ts = timestamp(t);
    let dt = tz.to_datetime(ts);
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    );
    if dt.second() != 0 {
        out.push_str(&format!(":{:02}", dt.second()));
    }
    if with_zone {
        let info = tz.to_offset_info(ts);
        let abbreviation = info.abbreviation();
        if !abbreviation.is_empty() {
            out.push(' ');
            out.push_str(abbreviation);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::AmbiguousOffset;
    use proptest::prelude::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).expect("zone in the bundled database")
    }

    fn paris() -> TimeZone {
        zone("Europe/Paris")
    }

    fn utc(s: &str) -> Instant {
        s.parse::<Timestamp>().expect("valid timestamp").as_second()
    }

    fn date(year: i16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    fn tod(hour: u8, minute: u8) -> TimeOfDay {
        TimeOfDay { hour, minute }
    }

    fn local(tz: &TimeZone, y: i16, mo: u8, d: u8, h: u8, mi: u8) -> Instant {
        civil_to_instant(
            Civil {
                date: date(y, mo, d),
                time: tod(h, mi),
            },
            tz,
        )
    }

    fn offset(months: u32, days: u32) -> CalendarOffset {
        CalendarOffset { months, days }
    }

    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;

    #[test]
    fn range_constants_match_jiff() {
        assert_eq!(MIN_INSTANT, Timestamp::MIN.as_second());
        assert_eq!(MAX_INSTANT, Timestamp::MAX.as_second());
    }

    #[test]
    fn march_2027_gap_moves_forward() {
        let tz = paris();
        // 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
        let t = local(&tz, 2027, 3, 28, 2, 30);
        assert_eq!(t, utc("2027-03-28T01:30:00Z"));
        assert_eq!(format_local(t, &tz, true), "2027-03-28 03:30 CEST");
        assert_eq!(local(&tz, 2027, 3, 28, 3, 30), t);
        // The last minute before the gap is still CET.
        assert_eq!(local(&tz, 2027, 3, 28, 1, 59), utc("2027-03-28T00:59:00Z"));
        // `from_local` on a jiff DateTime, same rule.
        let dt = civil::date(2027, 3, 28).at(2, 0, 0, 0);
        assert_eq!(from_local(dt, &tz), utc("2027-03-28T01:00:00Z"));
    }

    #[test]
    fn timeline_day_1_at_gap_time() {
        let tz = paris();
        let entry = local(&tz, 2027, 3, 27, 9, 0);
        let t = add_calendar(entry, &tz, offset(0, 1), Some(tod(2, 30)));
        assert_eq!(t, utc("2027-03-28T01:30:00Z"));
        assert_eq!(format_local(t, &tz, false), "2027-03-28 03:30");
    }

    #[test]
    fn october_2027_fold_takes_earlier() {
        let tz = paris();
        // 03:00 CEST falls back to 02:00 CET at 01:00 UTC.
        let t = local(&tz, 2027, 10, 31, 2, 30);
        assert_eq!(t, utc("2027-10-31T00:30:00Z"));
        assert_eq!(format_local(t, &tz, true), "2027-10-31 02:30 CEST");
        // The second 02:30 is an hour later and reads the same, in CET.
        assert_eq!(format_local(t + HOUR, &tz, true), "2027-10-31 02:30 CET");
        assert_eq!(local(&tz, 2027, 10, 31, 3, 0), utc("2027-10-31T02:00:00Z"));
    }

    #[test]
    fn add_calendar_clamps_to_month_end() {
        let tz = paris();
        let jan31 = local(&tz, 2027, 1, 31, 10, 0);
        assert_eq!(
            add_calendar(jan31, &tz, offset(1, 0), None),
            local(&tz, 2027, 2, 28, 10, 0)
        );
        let jan31 = local(&tz, 2028, 1, 31, 10, 0);
        assert_eq!(
            add_calendar(jan31, &tz, offset(1, 0), None),
            local(&tz, 2028, 2, 29, 10, 0)
        );
        let mar31 = local(&tz, 2027, 3, 31, 10, 0);
        assert_eq!(
            add_calendar(mar31, &tz, offset(1, 0), None),
            local(&tz, 2027, 4, 30, 10, 0)
        );
        // Months first, then days: Jan 31 + 1 month + 1 day = Mar 1.
        assert_eq!(
            add_calendar(local(&tz, 2027, 1, 31, 10, 0), &tz, offset(1, 1), None),
            local(&tz, 2027, 3, 1, 10, 0)
        );
        // Years are 12 months: Feb 29 2028 + 12 months = Feb 28 2029.
        assert_eq!(
            add_months(local(&tz, 2028, 2, 29, 8, 15), &tz, 12),
            local(&tz, 2029, 2, 28, 8, 15)
        );
    }

    #[test]
    fn month_6_at_10_crosses_dst() {
        let tz = paris();
        let entry = local(&tz, 2027, 1, 15, 8, 0);
        let t = add_calendar(entry, &tz, offset(6, 0), Some(tod(10, 0)));
        assert_eq!(t, utc("2027-07-15T08:00:00Z"));
        assert_eq!(format_local(t, &tz, true), "2027-07-15 10:00 CEST");
    }

    #[test]
    fn whole_months_keep_local_time_across_dst() {
        let tz = paris();
        let winter = local(&tz, 2027, 2, 10, 9, 15);
        let spring = add_months(winter, &tz, 2);
        assert_eq!(format_local(spring, &tz, true), "2027-04-10 09:15 CEST");
        // Not a whole number of days: an hour went missing.
        assert_eq!((spring - winter) % DAY, DAY - HOUR);
        let autumn = add_months(spring, &tz, 7);
        assert_eq!(format_local(autumn, &tz, true), "2027-11-10 09:15 CET");
        // Days too: day 1 across the spring change is 23 hours.
        let eve = local(&tz, 2027, 3, 27, 9, 0);
        assert_eq!(add_calendar(eve, &tz, offset(0, 1), None), eve + 23 * HOUR);
        // Seconds of the entry are kept.
        assert_eq!(add_months(winter + 7, &tz, 2), spring + 7);
        // No offset: the instant itself, even in the second pass of a fold.
        let second_pass = utc("2027-10-31T01:30:00Z");
        assert_eq!(add_months(second_pass, &tz, 0), second_pass);
        assert_eq!(
            add_calendar(second_pass, &tz, offset(0, 1), None),
            local(&tz, 2027, 11, 1, 2, 30)
        );
    }

    #[test]
    fn next_local_time_with_weekday() {
        let tz = paris();
        let monday = local(&tz, 2027, 1, 4, 10, 0);
        assert_eq!(
            to_local(monday, &tz).weekday(),
            jiff::civil::Weekday::Monday
        );
        assert_eq!(
            next_local_time(monday, &tz, 0, tod(9, 0)),
            monday + 7 * DAY - HOUR
        );
        assert_eq!(next_local_time(monday, &tz, 0, tod(11, 0)), monday + HOUR);
        // Strictly after: the same time is next week.
        assert_eq!(
            next_local_time(monday, &tz, 0, tod(10, 0)),
            monday + 7 * DAY
        );
        // Any day.
        assert_eq!(
            next_local_time(monday, &tz, 7, tod(9, 0)),
            monday + DAY - HOUR
        );
        assert_eq!(next_local_time(monday, &tz, 200, tod(11, 0)), monday + HOUR);
        // Sunday.
        assert_eq!(
            next_local_time(monday, &tz, 6, tod(10, 0)),
            local(&tz, 2027, 1, 10, 10, 0)
        );
        // Daily at 09:00 across the spring change: 22 hours later.
        let eve = local(&tz, 2027, 3, 27, 10, 0);
        assert_eq!(next_local_time(eve, &tz, 7, tod(9, 0)), eve + 22 * HOUR);
        // Daily at 02:30: the gap moves it to 03:30 CEST.
        assert_eq!(
            next_local_time(eve, &tz, 7, tod(2, 30)),
            utc("2027-03-28T01:30:00Z")
        );
        // In a fold, only the first 02:30 counts: after it, the next is the following day.
        let first = utc("2027-10-31T00:30:00Z");
        assert_eq!(next_local_time(first - 1, &tz, 7, tod(2, 30)), first);
        assert_eq!(
            next_local_time(first, &tz, 7, tod(2, 30)),
            local(&tz, 2027, 11, 1, 2, 30)
        );
    }

    #[test]
    fn next_monthly_clamps_day() {
        let tz = paris();
        let at = tod(9, 0);
        assert_eq!(
            next_monthly(local(&tz, 2027, 2, 10, 12, 0), &tz, 31, at),
            local(&tz, 2027, 2, 28, 9, 0)
        );
        assert_eq!(
            next_monthly(local(&tz, 2028, 2, 10, 12, 0), &tz, 31, at),
            local(&tz, 2028, 2, 29, 9, 0)
        );
        assert_eq!(
            next_monthly(local(&tz, 2027, 4, 5, 12, 0), &tz, 31, at),
            local(&tz, 2027, 4, 30, 9, 0)
        );
        // Past this month's day: next month, clamped.
        assert_eq!(
            next_monthly(local(&tz, 2027, 1, 31, 12, 0), &tz, 31, at),
            local(&tz, 2027, 2, 28, 9, 0)
        );
        assert_eq!(
            next_monthly(local(&tz, 2027, 1, 31, 8, 0), &tz, 31, at),
            local(&tz, 2027, 1, 31, 9, 0)
        );
        // Strictly after, and across the year.
        assert_eq!(
            next_monthly(local(&tz, 2027, 12, 15, 9, 0), &tz, 15, at),
            local(&tz, 2028, 1, 15, 9, 0)
        );
    }

    #[test]
    fn next_yearly_feb_29() {
        let tz = paris();
        let born = date(2000, 2, 29);
        let at = tod(9, 0);
        assert_eq!(
            next_yearly(local(&tz, 2027, 1, 10, 12, 0), &tz, born, at),
            local(&tz, 2027, 2, 28, 9, 0)
        );
        assert_eq!(
            next_yearly(local(&tz, 2027, 3, 1, 12, 0), &tz, born, at),
            local(&tz, 2028, 2, 29, 9, 0)
        );
        assert_eq!(
            next_yearly(local(&tz, 2028, 1, 1, 0, 0), &tz, born, at),
            local(&tz, 2028, 2, 29, 9, 0)
        );
        assert_eq!(
            next_yearly(local(&tz, 2028, 2, 29, 9, 0), &tz, born, at),
            local(&tz, 2029, 2, 28, 9, 0)
        );
    }

    #[test]
    fn quiet_hours_across_midnight() {
        let tz = paris();
        let (from, to) = (tod(21, 0), tod(8, 0));
        let q = |y, mo, d, h, mi| quiet_end(local(&tz, y, mo, d, h, mi), &tz, from, to);
        assert_eq!(q(2027, 1, 4, 22, 0), Some(local(&tz, 2027, 1, 5, 8, 0)));
        assert_eq!(q(2027, 1, 4, 21, 0), Some(local(&tz, 2027, 1, 5, 8, 0)));
        assert_eq!(q(2027, 1, 5, 2, 0), Some(local(&tz, 2027, 1, 5, 8, 0)));
        assert_eq!(q(2027, 1, 5, 7, 59), Some(local(&tz, 2027, 1, 5, 8, 0)));
        assert_eq!(q(2027, 1, 5, 8, 0), None);
        assert_eq!(q(2027, 1, 5, 20, 59), None);
        assert_eq!(q(2027, 1, 5, 12, 0), None);
        // Across the spring change: 22:00 CET to 08:00 CEST is 9 hours.
        let night = local(&tz, 2027, 3, 27, 23, 0);
        assert_eq!(quiet_end(night, &tz, from, to), Some(night + 8 * HOUR));
    }

    #[test]
    fn quiet_hours_within_a_day() {
        let tz = paris();
        let (from, to) = (tod(9, 0), tod(17, 0));
        let q = |h, mi| quiet_end(local(&tz, 2027, 1, 4, h, mi), &tz, from, to);
        assert_eq!(q(9, 0), Some(local(&tz, 2027, 1, 4, 17, 0)));
        assert_eq!(q(12, 0), Some(local(&tz, 2027, 1, 4, 17, 0)));
        assert_eq!(q(16, 59), Some(local(&tz, 2027, 1, 4, 17, 0)));
        assert_eq!(q(17, 0), None);
        assert_eq!(q(8, 59), None);
        assert_eq!(q(23, 0), None);
        // An empty period.
        let t = local(&tz, 2027, 1, 4, 9, 0);
        assert_eq!(quiet_end(t, &tz, from, from), None);
    }

    #[test]
    fn quiet_end_in_a_gap_and_a_fold() {
        let tz = paris();
        // 22:00 → 02:30: on the night of the spring change 02:30 does not exist.
        let (from, to) = (tod(22, 0), tod(2, 30));
        let night = local(&tz, 2027, 3, 27, 23, 0);
        let end = quiet_end(night, &tz, from, to);
        assert_eq!(end, Some(utc("2027-03-28T01:30:00Z")));
        assert_eq!(
            end.map(|e| format_local(e, &tz, true)),
            Some("2027-03-28 03:30 CEST".to_owned())
        );
        // 21:00 → 02:30 on the night of the autumn change: in the first pass the end is the
        // first 02:30; in the repeated hour (02:10 CET), the second one.
        let (from, to) = (tod(21, 0), tod(2, 30));
        let first = utc("2027-10-31T00:10:00Z");
        assert_eq!(
            quiet_end(first, &tz, from, to),
            Some(utc("2027-10-31T00:30:00Z"))
        );
        let second = utc("2027-10-31T01:10:00Z");
        assert_eq!(format_local(second, &tz, true), "2027-10-31 02:10 CET");
        assert_eq!(
            quiet_end(second, &tz, from, to),
            Some(utc("2027-10-31T01:30:00Z"))
        );
        // Between the two 02:30s, the local time (02:40 CEST) is not quiet.
        assert_eq!(quiet_end(utc("2027-10-31T00:40:00Z"), &tz, from, to), None);
    }

    #[test]
    fn days_between_across_dst() {
        let tz = paris();
        let before = local(&tz, 2027, 3, 27, 23, 30);
        let after = local(&tz, 2027, 3, 28, 0, 30);
        assert_eq!(days_between(before, after, &tz), 1);
        assert_eq!(days_between(after, before, &tz), -1);
        let noon = local(&tz, 2027, 3, 27, 12, 0);
        let later = local(&tz, 2027, 3, 29, 11, 0);
        assert_eq!(later - noon, 46 * HOUR);
        assert_eq!(days_between(noon, later, &tz), 2);
        // Local dates, not UTC ones: 23:30 CET is 22:30 UTC the same day.
        let start = local(&tz, 2027, 10, 30, 0, 30); // 2027-10-29T22:30Z
        let end = local(&tz, 2027, 10, 31, 23, 30); // 2027-10-31T22:30Z
        assert_eq!(days_between(start, end, &tz), 1);
        assert_eq!(days_between(start, end, &TimeZone::UTC), 2);
        assert_eq!(days_between(end, end, &tz), 0);
    }

    #[test]
    fn years_since_birthdays() {
        let tz = paris();
        let born = date(1990, 6, 15);
        assert_eq!(years_since(born, local(&tz, 2027, 6, 14, 23, 59), &tz), 36);
        assert_eq!(years_since(born, local(&tz, 2027, 6, 15, 0, 0), &tz), 37);
        assert_eq!(years_since(born, local(&tz, 2027, 6, 16, 12, 0), &tz), 37);
        // On the local date: 00:30 CEST on the birthday is still the day before in UTC.
        let t = local(&tz, 2027, 6, 15, 0, 30);
        assert_eq!(years_since(born, t, &tz), 37);
        assert_eq!(years_since(born, t, &TimeZone::UTC), 36);
        // Feb 29 births have their birthday on Feb 28 in common years.
        let leap = date(2000, 2, 29);
        assert_eq!(years_since(leap, local(&tz, 2027, 2, 27, 12, 0), &tz), 26);
        assert_eq!(years_since(leap, local(&tz, 2027, 2, 28, 12, 0), &tz), 27);
        assert_eq!(years_since(leap, local(&tz, 2028, 2, 28, 12, 0), &tz), 27);
        assert_eq!(years_since(leap, local(&tz, 2028, 2, 29, 12, 0), &tz), 28);
        // Born after now.
        assert_eq!(
            years_since(date(2030, 1, 1), local(&tz, 2027, 6, 1, 0, 0), &tz),
            -3
        );
    }

    #[test]
    fn zones_fall_back_to_default() {
        let mut zones = Zones::new("Europe/Paris");
        assert_eq!(zones.get(None).iana_name(), Some("Europe/Paris"));
        assert_eq!(
            zones.get(Some("Mars/Olympus_Mons")).iana_name(),
            Some("Europe/Paris")
        );
        assert_eq!(zones.get(Some("")).iana_name(), Some("Europe/Paris"));
        assert_eq!(
            zones.get(Some("America/New_York")).iana_name(),
            Some("America/New_York")
        );
        // Cached: same answer the second time.
        assert_eq!(
            zones.get(Some("America/New_York")).iana_name(),
            Some("America/New_York")
        );
        let mut fallback = Zones::new("Nowhere/Special");
        assert_eq!(fallback.default_zone(), &TimeZone::UTC);
        assert_eq!(fallback.get(Some("Nowhere/Else")), TimeZone::UTC);
        assert_eq!(Zones::default().get(None), TimeZone::UTC);
    }

    #[test]
    fn formats_local_time() {
        let tz = paris();
        let t = local(&tz, 2027, 1, 4, 9, 0);
        assert_eq!(format_local(t, &tz, false), "2027-01-04 09:00");
        assert_eq!(format_local(t, &tz, true), "2027-01-04 09:00 CET");
        assert_eq!(format_local(t + 5, &tz, false), "2027-01-04 09:00:05");
        assert_eq!(
            format_local(0, &TimeZone::UTC, true),
            "1970-01-01 00:00 UTC"
        );
    }

    #[test]
    fn dates_and_midnight() {
        let tz = paris();
        let t = utc("2027-06-14T22:30:00Z");
        assert_eq!(date_of(t, &tz), date(2027, 6, 15));
        assert_eq!(date_of(t, &TimeZone::UTC), date(2027, 6, 14));
        assert_eq!(
            date_to_instant(date(2027, 6, 15), &tz),
            utc("2027-06-14T22:00:00Z")
        );
        // A zone whose clocks skipped midnight: the day starts at 01:00
        // (America/Sao_Paulo, 2018-11-04).
        let sp = zone("America/Sao_Paulo");
        let start = date_to_instant(date(2018, 11, 4), &sp);
        assert_eq!(format_local(start, &sp, false), "2018-11-04 01:00");
        // Invalid dates are clamped, not panics.
        assert_eq!(
            date_to_instant(date(2027, 2, 31), &tz),
            date_to_instant(date(2027, 2, 28), &tz)
        );
        assert_eq!(
            civil_to_instant(
                Civil {
                    date: date(2027, 13, 0),
                    time: tod(99, 99)
                },
                &tz
            ),
            local(&tz, 2027, 12, 1, 23, 59)
        );
    }

    #[test]
    fn day_numbers_round_trip() {
        for n in [
            -4_371_587, -4_000_000, -719_468, -1, 0, 1, 59, 10_957, 2_932_896,
        ] {
            let d = date_from_day_number(n).expect("in range");
            assert_eq!(day_number(d), n);
        }
        assert_eq!(day_number(civil::date(1970, 1, 1)), 0);
        assert_eq!(day_number(civil::date(2000, 3, 1)), 11_017);
        assert_eq!(date_from_day_number(day_number(civil::Date::MAX) + 1), None);
        assert_eq!(date_from_day_number(day_number(civil::Date::MIN) - 1), None);
        assert_eq!(date_from_day_number(i64::MAX), None);
    }

    #[test]
    fn extremes_clamp() {
        let tz = paris();
        for t in [i64::MIN, MIN_INSTANT, MAX_INSTANT, i64::MAX] {
            let _ = to_local(t, &tz);
            let _ = format_local(t, &tz, true);
            let _ = add_calendar(t, &tz, offset(u32::MAX, u32::MAX), Some(tod(255, 255)));
            let _ = next_local_time(t, &tz, 3, tod(9, 0));
            let _ = next_monthly(t, &tz, 31, tod(9, 0));
            let _ = next_yearly(t, &tz, date(2000, 2, 29), tod(9, 0));
            let _ = quiet_end(t, &tz, tod(21, 0), tod(8, 0));
            let _ = days_between(t, -t.saturating_add(1), &tz);
            let _ = years_since(date(i16::MIN, 0, 0), t, &tz);
        }
        assert_eq!(add_months(0, &tz, u32::MAX), MAX_INSTANT);
        assert_eq!(next_local_time(i64::MAX, &tz, 7, tod(9, 0)), MAX_INSTANT);
        assert_eq!(from_local(civil::DateTime::MAX, &tz), MAX_INSTANT);
        assert_eq!(
            from_local(civil::DateTime::MIN, &zone("America/New_York")),
            MIN_INSTANT
        );
        assert_eq!(date_to_instant(date(i16::MAX, 12, 31), &tz), MAX_INSTANT);
    }

    /// Zones with unusual transitions: half-hour DST, negative DST, skipped days, DST at midnight.
    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "America/Santiago",
        "America/Sao_Paulo",
        "Asia/Kathmandu",
        "Europe/Dublin",
        "Africa/Casablanca",
        "America/St_Johns",
        "Pacific/Kiritimati",
    ];

    /// ±200 years around 1970.
    const SPAN: i64 = 200 * 366 * DAY;

    fn any_zone() -> impl Strategy<Value = TimeZone> {
        proptest::sample::select(ZONES).prop_map(zone)
    }

    fn any_tod() -> impl Strategy<Value = TimeOfDay> {
        (any::<u8>(), any::<u8>()).prop_map(|(hour, minute)| TimeOfDay { hour, minute })
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (any::<i16>(), any::<u8>(), any::<u8>()).prop_map(|(year, month, day)| Date {
            year,
            month,
            day,
        })
    }

    #[test]
    fn a_skipped_day_is_reached_at_the_next_one() {
        // Samoa skipped 2011-12-30.
        let tz = zone("Pacific/Apia");
        let then = from_local(civil::date(2011, 12, 29).to_datetime(Time::midnight()), &tz);
        let next = next_local_day(then, &tz);
        assert_eq!(days_between(then, next, &tz), 2);
        assert_eq!(day_reaching(then, 1, &tz), Some(next));
        assert_eq!(to_local(next, &tz).date(), civil::date(2011, 12, 31));
    }

    proptest! {
        #[test]
        fn local_round_trip_outside_folds(t in -SPAN..SPAN, tz in any_zone()) {
            let dt = to_local(t, &tz);
            let in_fold = matches!(
                tz.to_ambiguous_timestamp(dt).offset(),
                AmbiguousOffset::Fold { .. }
            );
            if !in_fold {
                prop_assert_eq!(from_local(dt, &tz), t);
            } else {
                // The earlier instant of the two.
                prop_assert!(from_local(dt, &tz) < t);
            }
        }

        #[test]
        fn nothing_panics(
            t in -SPAN..SPAN,
            tz in any_zone(),
            at in any_tod(),
            to in any_tod(),
            weekday in any::<u8>(),
            day in any::<u8>(),
            d in any_date(),
            months in any::<u32>(),
            days in any::<u32>(),
            small in (0u32..1200, 0u32..4000),
        ) {
            let _ = to_local(t, &tz);
            let _ = date_of(t, &tz);
            let _ = date_to_instant(d, &tz);
            let _ = civil_to_instant(Civil { date: d, time: at }, &tz);
            let _ = add_calendar(t, &tz, CalendarOffset { months, days }, Some(at));
            let _ = add_calendar(t, &tz, CalendarOffset { months, days }, None);
            let _ = add_months(t, &tz, months);
            let _ = days_between(t, -t, &tz);
            let _ = years_since(d, t, &tz);
            let _ = format_local(t, &tz, true);

            // Calendar offsets never go back in time (except to an earlier time of day on the
            // same day).
            let later = add_calendar(t, &tz, CalendarOffset { months: small.0, days: small.1 + 1 }, None);
            prop_assert!(later > t);
            let kept = add_months(t, &tz, small.0);
            prop_assert!(kept >= t);

            let next = next_local_time(t, &tz, weekday, at);
            prop_assert!(next > t);
            prop_assert!(next - t <= 15 * DAY);
            let next = next_monthly(t, &tz, day, at);
            prop_assert!(next > t);
            prop_assert!(next - t <= 63 * DAY);
            let next = next_yearly(t, &tz, d, at);
            prop_assert!(next > t);
            prop_assert!(next - t <= 367 * DAY);
            if let Some(end) = quiet_end(t, &tz, at, to) {
                prop_assert!(end > t);
                prop_assert!(end - t <= 2 * DAY);
            }
        }

        /// The instants where `days_since` and `years_since` reach a value are the starts
        /// of those local days: one second earlier, the value is still below.

        #[test]
        fn values_are_reached_at_local_midnight(
            t in -SPAN..SPAN,
            n in 0i64..40_000,
            tz in any_zone(),
            born in (1800i16..2100, 1u8..=12, 1u8..=31),
        ) {
            let next = next_local_day(t, &tz);
            prop_assert!(next > t);
            prop_assert_eq!(days_between(t, next - 1, &tz), 0);
            // More than 1 only where a zone skipped a whole day (Pacific/Apia, 2011-12-30).
            prop_assert!(days_between(t, next, &tz) >= 1);

            let day = day_reaching(t, n, &tz).unwrap_or(MAX_INSTANT);
            if day < MAX_INSTANT {
                prop_assert!(days_between(t, day, &tz) >= n);
                prop_assert!(days_between(t, day - 1, &tz) < n);
            }

            let date = Date { year: born.0, month: born.1, day: born.2 };
            let years = n % 150;
            let birthday = birthday_reaching(date, years, &tz).unwrap_or(MAX_INSTANT);
            prop_assert_eq!(years_since(date, birthday, &tz), years);
            prop_assert_eq!(years_since(date, birthday - 1, &tz), years - 1);
        }

        #[test]
        fn days_between_is_consistent(a in -SPAN..SPAN, b in -SPAN..SPAN, tz in any_zone()) {
            prop_assert_eq!(days_between(a, b, &tz), -days_between(b, a, &tz));
            let diff = (b - a) / DAY;
            prop_assert!((days_between(a, b, &tz) - diff).abs() <= 2);
        }
    }
}
