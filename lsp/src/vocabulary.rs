//! The words of the language the editor offers and colours: keywords, built-in functions,
//! aggregates, statement and clause keywords with a one-line syntax, types, weekdays and
//! test expectations. The grammar (`grammar/src/journey.pest`) is the authority; these lists
//! follow it and the language reference.

/// Every keyword of the language (contextual or reserved).
#[rustfmt::skip]
pub const KEYWORDS: &[&str] = &[
    "after", "api", "at", "best", "by", "channel", "config", "critical", "customer", "daily",
    "else", "eligible", "emit", "enter", "entered", "entry", "env", "event", "exempt", "exit",
    "expect", "experiment", "for", "from", "given", "goal", "holdout", "hours", "if", "import",
    "journey", "local", "monthly", "most", "never", "no", "on", "otherwise", "params", "per",
    "policy", "priority", "quiet", "reached", "reentry", "requires", "run", "scenario", "secret",
    "segment", "send", "set", "template", "test", "timeline", "to", "until", "uses", "valid",
    "variant", "wait", "weekly", "when", "where", "with", "within", "yearly",
];

/// Words coloured as keywords besides [`KEYWORDS`]: operators written as words, literals,
/// time units, weekdays, and the words of a few clauses.
#[rustfmt::skip]
pub const OTHER_WORDS: &[&str] = &[
    "profile", "offer", "true", "false", "and", "or", "not", "in", "seconds", "second",
    "minutes", "minute", "hours", "hour", "days", "day", "weeks", "week", "months", "month",
    "years", "year", "messages", "message", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "entering", "leaving", "last", "over",
];

/// The keywords that start a declaration.
#[rustfmt::skip]
pub const ITEM_KEYWORDS: &[&str] = &[
    "import", "profile", "event", "segment", "channel", "template", "offer", "policy", "journey",
    "test",
];

/// The built-in functions and their signatures.
#[rustfmt::skip]
pub const BUILTIN_FUNCTIONS: &[(&str, &str)] = &[
    ("len", "len(x: list<T> | string): number — number of values, or of characters"),
    ("lower", "lower(s: string): string — lower case"),
    ("upper", "upper(s: string): string — upper case"),
    ("contains", "contains(l: list<T>, x: T): bool — like `x in l`"),
    ("is_set", "is_set(x: T?): bool — whether an optional value is present"),
    ("coalesce", "coalesce(x: T?, d: T): T — `x` if present, else `d`"),
    ("days_since", "days_since(t: date | timestamp): number — whole days elapsed, local time"),
    ("years_since", "years_since(d: date | timestamp): number — whole years elapsed (an age)"),
    ("round", "round(n: number): number — the nearest whole number"),
];

/// The aggregates over the event history.
#[rustfmt::skip]
pub const AGGREGATES: &[(&str, &str)] = &[
    ("count", "count(EVENT [where COND] [over last D]): number"),
    ("sum", "sum(EVENT.PROP [where COND] [over last D]): number"),
    ("avg", "avg(EVENT.PROP [where COND] [over last D]): number?"),
    ("min", "min(EVENT.PROP [where COND] [over last D]): number?"),
    ("max", "max(EVENT.PROP [where COND] [over last D]): number?"),
    ("last", "last(EVENT.PROP [where COND] [over last D]): T? — the most recent occurrence"),
];

/// The statements of a journey body.
#[rustfmt::skip]
pub const STATEMENTS: &[(&str, &str)] = &[
    ("send", "send CHANNEL MESSAGE [{ params }] [with offer ...]"),
    ("wait", "wait DURATION — wait an exact duration or `N months`"),
    ("wait for", "wait for EVENT [where COND] [within DURATION] [else { ... }]"),
    ("wait until", "wait until [WEEKDAY] [at] HH:MM"),
    ("if", "if COND { ... } [else { ... }]"),
    ("scenario for", "scenario for SEGMENT { ... } ... otherwise { ... }"),
    ("otherwise", "otherwise { ... } — the last arm of scenarios"),
    ("experiment", "experiment NAME { variant NAME P% { ... } holdout P% }"),
    ("timeline", "timeline { month 6 at 10:00: ... } — calendar offsets from the entry"),
    ("set", "set profile.ATTR = VALUE"),
    ("emit", "emit EVENT { props }"),
    ("exit", "exit — leave the journey"),
    ("critical", "critical STEP — the journey's critical moment"),
];

/// The clauses written at the top of a journey.
#[rustfmt::skip]
pub const CLAUSES: &[(&str, &str)] = &[
    ("entry", "entry on EVENT | on entering SEGMENT | yearly/monthly/weekly/daily ... | by api"),
    ("reentry", "reentry never | after exit | after DURATION"),
    ("exit on", "exit on EVENT [where COND]"),
    ("exit when", "exit when COND"),
    ("exit after", "exit after DURATION — the maximum lifetime"),
    ("goal", "goal NAME on EVENT [where COND] within DURATION [after STEP]"),
];

/// The types of schemas.
#[rustfmt::skip]
pub const TYPES: &[&str] = &[
    "string", "number", "bool", "date", "timestamp", "duration", "timezone", "list",
];

/// Weekday names.
#[rustfmt::skip]
pub const WEEKDAYS: &[&str] = &[
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
];

/// What a test can expect.
#[rustfmt::skip]
pub const EXPECTATIONS: &[&str] = &[
    "send", "no send", "reached", "not reached", "goal", "no goal", "exit", "scenario",
    "variant", "emit", "entered", "not entered",
];

/// Time units of durations and calendar offsets.
#[rustfmt::skip]
pub const TIME_UNITS: &[&str] = &[
    "seconds", "second", "minutes", "minute", "hours", "hour", "days", "day", "weeks", "week",
    "months", "month", "years", "year",
];
