//! Runtime values: what profile attributes, event properties and expressions hold.

use std::sync::Arc;

use arcstr::ArcStr;
use journey_bytecode::{Const, Date};
use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// A value. 16 bytes: text and lists are one-word references (a profile row holds one value
/// per attribute, and an instance keeps the values of the events it may still read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// Absent (an optional without value, a missing property, an undefined result).
    #[default]
    None,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text (a thin reference-counted string: the interner shares one per distinct text).
    String(ArcStr),
    /// A civil date.
    Date(Date),
    /// An instant (seconds since the Unix epoch).
    Timestamp(Instant),
    /// A duration in seconds.
    Duration(i64),
    /// A list (behind one more indirection than a slice would need, to keep the value at
    /// 16 bytes: lists are rare, texts and numbers are not).
    List(Arc<Vec<Value>>),
}

impl Value {
    /// A string value.
    pub fn text(s: &str) -> Value {
        Value::String(ArcStr::from(s))
    }

    /// A list value.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(Arc::new(items.into_iter().collect()))
    }

    /// Whether the value is true (absent and anything else are false).
    #[inline]
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The value of a constant; timestamps need the customer's zone, so they are converted by
    /// the caller (`None` here).
    pub fn from_const(c: &Const) -> Value {
        match c {
            Const::Number(n) => Value::Number(*n),
            Const::String(s) => Value::text(s),
            Const::Bool(b) => Value::Bool(*b),
            Const::Date(d) => Value::Date(*d),
            Const::Timestamp(..) => Value::None,
            Const::Duration(d) => Value::Duration(*d),
            Const::List(items) => Value::list(items.iter().map(Value::from_const)),
            Const::None => Value::None,
        }
    }

    /// Ordering of two values of the same kind; `None` when they do not compare.
    #[inline(always)]
    pub fn compare(&self, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Equality as `==` means it (absent equals only absent).
    #[inline(always)]
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            // The same shared text (the interner's) is equal without a look at it.
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            (Value::None, Value::None) => true,
            _ => self.compare(other) == Some(std::cmp::Ordering::Equal),
        }
    }

    /// The value as text for interpolation (absent is empty; numbers without a useless `.0`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// Appends [`Value::render`]'s text to `out`, allocating nothing of its own for texts,
    /// integers, dates and timestamps (templates render every send this way).
    pub fn render_into(&self, out: &mut String) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = match self {
            Value::None => Ok(()),
            Value::Bool(b) => write!(out, "{b}"),
            Value::Number(n) => write_number(out, *n),
            Value::String(s) => {
                out.push_str(s);
                Ok(())
            }
            Value::Date(d) => write!(out, "{d}"),
            Value::Timestamp(t) => match jiff::Timestamp::from_second(*t) {
                Ok(t) => write!(out, "{t}"),
                Err(_) => Ok(()),
            },
            Value::Duration(d) => write!(out, "{d}s"),
            Value::List(items) => {
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ");
                    }
                    item.render_into(out);
                }
                Ok(())
            }
        };
    }

    /// A JSON form for reports and traces.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::None => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => s.as_str().into(),
            Value::Date(d) => d.to_string().into(),
            Value::Timestamp(_) | Value::Duration(_) => self.render().into(),
            Value::List(items) => items.iter().map(Value::to_json).collect::<Vec<_>>().into(),
        }
    }
}

/// A number as people write it: `12`, `12.5`, `0.333333`.
pub fn format_number(n: f64) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_number(&mut out, n);
    out
}

/// Appends [`format_number`]'s text to `out`.
fn write_number(out: &mut String, n: f64) -> std::fmt::Result {
    use std::fmt::Write;
    if n.fract() == 0.0 && n.abs() < 1e15 {
        write!(out, "{}", n as i64)
    } else {
        let start = out.len();
        write!(out, "{n:.6}")?;
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
        Ok(())
    }
}
