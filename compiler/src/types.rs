//! Types of expressions during checking.

use journey_bytecode::Type;

/// A type, with an error placeholder so one mistake is reported once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Text.
    String,
    /// Number.
    Number,
    /// Boolean.
    Bool,
    /// Civil date.
    Date,
    /// Instant.
    Timestamp,
    /// Exact duration.
    Duration,
    /// IANA time zone name (compares as text).
    Timezone,
    /// List.
    List(Box<Ty>),
    /// `[]`, whose element type is not known yet.
    EmptyList,
    /// May be absent.
    Optional(Box<Ty>),
    /// An earlier error; compatible with everything.
    Error,
}

impl Ty {
    /// From a schema type.
    pub fn of(t: &Type) -> Ty {
        match t {
            Type::String => Ty::String,
            Type::Number => Ty::Number,
            Type::Bool => Ty::Bool,
            Type::Date => Ty::Date,
            Type::Timestamp => Ty::Timestamp,
            Type::Duration => Ty::Duration,
            Type::Timezone => Ty::Timezone,
            Type::List(t) => Ty::List(Box::new(Ty::of(t))),
            Type::Optional(t) => Ty::Optional(Box::new(Ty::of(t))),
        }
    }

    /// The type without an outer `?`.
    pub fn strip(&self) -> &Ty {
        match self {
            Ty::Optional(t) => t,
            t => t,
        }
    }

    /// Whether this is the error placeholder.
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// Whether a value of type `self` may be stored where `target` is declared.
    pub fn assignable_to(&self, target: &Ty) -> bool {
        match (self, target) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (a, b) if a == b => true,
            (Ty::String, Ty::Timezone) | (Ty::Timezone, Ty::String) => true,
            (Ty::EmptyList, Ty::List(_)) => true,
            (Ty::List(a), Ty::List(b)) => a.assignable_to(b),
            (Ty::Optional(a), Ty::Optional(b)) => a.assignable_to(b),
            (a, Ty::Optional(b)) => a.assignable_to(b),
            _ => false,
        }
    }

    /// Whether two values can be compared with `==` (optional sides allowed).
    pub fn comparable(&self, other: &Ty) -> bool {
        let (a, b) = (self.strip(), other.strip());
        a.assignable_to(b) || b.assignable_to(a)
    }

    /// Whether `<` is defined on this type.
    pub fn ordered(&self) -> bool {
        matches!(
            self.strip(),
            Ty::Number | Ty::String | Ty::Date | Ty::Timestamp | Ty::Duration | Ty::Error
        )
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::String => f.write_str("string"),
            Ty::Number => f.write_str("number"),
            Ty::Bool => f.write_str("bool"),
            Ty::Date => f.write_str("date"),
            Ty::Timestamp => f.write_str("timestamp"),
            Ty::Duration => f.write_str("duration"),
            Ty::Timezone => f.write_str("timezone"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::EmptyList => f.write_str("list"),
            Ty::Optional(t) => write!(f, "{t}?"),
            Ty::Error => f.write_str("{unknown}"),
        }
    }
}

/// The schema type names, for "did you mean".
pub const TYPE_NAMES: &[&str] = &[
    "string",
    "number",
    "bool",
    "date",
    "timestamp",
    "duration",
    "timezone",
    "list",
];
