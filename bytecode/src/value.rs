//! Constants, calendar values and types as stored in the program.

use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize};

/// A civil (time-zone-less) date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year.
    pub year: i16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31 (valid for its month).
    pub day: u8,
}

/// A local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeOfDay {
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
}

impl Date {
    /// Whether it is a real day of the proleptic Gregorian calendar, with a year in
    /// -9999..=9999 (the range civil-time libraries accept).
    pub fn is_valid(self) -> bool {
        (-9999..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
    }
}

/// The number of days of a month (1..=12) of a year; 0 for a month out of range.
pub fn days_in_month(year: i16, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

impl TimeOfDay {
    /// Whether the hour is 0..=23 and the minute 0..=59.
    pub fn is_valid(self) -> bool {
        self.hour < 24 && self.minute < 60
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// A constant of the pool.
///
/// Deserialization refuses lists nested deeper than [`MAX_NESTING`], so a forged file cannot
/// overflow the stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Const {
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A civil date.
    Date(Date),
    /// A local date and time (interpreted in the customer's time zone).
    Timestamp(Date, TimeOfDay),
    /// A duration in seconds.
    Duration(i64),
    /// A list of constants.
    List(Vec<Const>),
    /// The absent value of an optional.
    None,
}

/// A value type of the schemas.
///
/// Deserialization refuses types nested deeper than [`MAX_NESTING`], so a forged file cannot
/// overflow the stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Type {
    /// Text.
    String,
    /// A 64-bit float.
    Number,
    /// A boolean.
    Bool,
    /// A civil date.
    Date,
    /// An instant.
    Timestamp,
    /// An exact duration.
    Duration,
    /// An IANA time zone name.
    Timezone,
    /// A list.
    List(Box<Type>),
    /// May be absent.
    Optional(Box<Type>),
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::Date => f.write_str("date"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Duration => f.write_str("duration"),
            Type::Timezone => f.write_str("timezone"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Optional(t) => write!(f, "{t}?"),
        }
    }
}

/// How deeply [`Const`] lists and [`Type`]s may nest in a deserialized program.
///
/// The derived deserializers recurse once per level; without a bound, a forged file made of
/// nested list tags would overflow the stack.
pub const MAX_NESTING: u32 = 64;

thread_local! {
    /// Current nesting of `Const`/`Type` deserialization on this thread.
    static NESTING: Cell<u32> = const { Cell::new(0) };
}

/// One level of `Const`/`Type` deserialization; leaves the level on drop (also on error).
struct NestingGuard;

impl NestingGuard {
    fn enter<E: serde::de::Error>() -> Result<Self, E> {
        NESTING.with(|n| {
            let depth = n.get();
            if depth >= MAX_NESTING {
                Err(E::custom(format_args!(
                    "values nested more than {MAX_NESTING} levels deep"
                )))
            } else {
                n.set(depth + 1);
                Ok(NestingGuard)
            }
        })
    }
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// The derived deserializer of [`Const`] (same variants, same order).
#[derive(Deserialize)]
#[serde(remote = "Const")]
enum ConstRepr {
    Number(f64),
    String(String),
    Bool(bool),
    Date(Date),
    Timestamp(Date, TimeOfDay),
    Duration(i64),
    List(Vec<Const>),
    None,
}

/// The derived deserializer of [`Type`] (same variants, same order).
#[derive(Deserialize)]
#[serde(remote = "Type")]
enum TypeRepr {
    String,
    Number,
    Bool,
    Date,
    Timestamp,
    Duration,
    Timezone,
    List(Box<Type>),
    Optional(Box<Type>),
}

impl<'de> Deserialize<'de> for Const {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let _level = NestingGuard::enter()?;
        ConstRepr::deserialize(deserializer)
    }
}

impl<'de> Deserialize<'de> for Type {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let _level = NestingGuard::enter()?;
        TypeRepr::deserialize(deserializer)
    }
}
