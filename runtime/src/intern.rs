//! Shared texts. Equal short strings arriving in events and profile updates (a plan name, a
//! sales channel, a device, a time zone) share one allocation instead of one per customer:
//! an event kept in a waiting instance's scope then costs its property slots, not copies of
//! the same few words.
//!
//! Interning is invisible to the language (values compare by content). The table is bounded
//! so that texts that never repeat (invoice numbers, URLs) cannot grow it without limit: it
//! takes texts of at most [`MAX_LEN`] bytes until it holds [`MAX_ENTRIES`] of them, seeded
//! with the program's string constants; later texts it does not hold are kept as they came.

use std::collections::HashSet;
use std::sync::Arc;

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::value::Value;

/// Longest text shared, in bytes.
pub(crate) const MAX_LEN: usize = 48;

/// Most texts the table holds.
pub(crate) const MAX_ENTRIES: usize = 1 << 16;

/// The table of shared texts.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    texts: HashSet<Arc<str>, Xxh3DefaultBuilder>,
}

impl Interner {
    /// A table holding the texts among `seed` (the program's constants).
    pub(crate) fn new<'a>(seed: impl IntoIterator<Item = &'a Value>) -> Interner {
        let mut interner = Interner::default();
        for v in seed {
            if let Value::String(s) = v {
                interner.share(s);
            }
        }
        interner
    }

    /// The shared copy of `s`: the one in the table (added first if there is room and `s` is
    /// short), or `s` itself.
    fn share(&mut self, s: &Arc<str>) -> Arc<str> {
        if s.len() > MAX_LEN {
            return s.clone();
        }
        if let Some(shared) = self.texts.get(s) {
            return shared.clone();
        }
        if self.texts.len() < MAX_ENTRIES {
            self.texts.insert(s.clone());
        }
        s.clone()
    }

    /// Replaces a text value (or the texts of a list) by its shared copy.
    pub(crate) fn value(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let shared = self.share(s);
                *s = shared;
            }
            Value::List(items) if items.iter().any(|i| matches!(i, Value::String(_))) => {
                *items = items
                    .iter()
                    .map(|i| {
                        let mut i = i.clone();
                        self.value(&mut i);
                        i
                    })
                    .collect();
            }
            _ => {}
        }
    }

    /// Texts held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ptr(v: &Value) -> *const u8 {
        match v {
            Value::String(s) => s.as_ptr(),
            _ => std::ptr::null(),
        }
    }

    #[test]
    fn equal_short_texts_share_one_allocation() {
        let constant = Value::text("prepaye");
        let mut t = Interner::new([&constant, &Value::Number(1.0)]);
        assert_eq!(t.len(), 1);
        let mut a = Value::text("prepaye");
        let mut b = Value::text("mobile_5g");
        let mut c = Value::text("mobile_5g");
        t.value(&mut a);
        t.value(&mut b);
        t.value(&mut c);
        assert_eq!(ptr(&a), ptr(&constant));
        assert_eq!(ptr(&b), ptr(&c));
        assert_eq!((a, c), (Value::text("prepaye"), Value::text("mobile_5g")));
        // Lists share their texts too.
        let mut l = Value::List(Arc::from(vec![
            Value::text("mobile_5g"),
            Value::Number(2.0),
        ]));
        t.value(&mut l);
        match &l {
            Value::List(items) => assert_eq!(ptr(&items[0]), ptr(&b)),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Interner::default();
        let long = "x".repeat(MAX_LEN + 1);
        let mut a = Value::text(&long);
        let mut b = Value::text(&long);
        t.value(&mut a);
        t.value(&mut b);
        assert_ne!(ptr(&a), ptr(&b));
        assert_eq!(t.len(), 0);
        for i in 0..MAX_ENTRIES + 10 {
            t.value(&mut Value::text(&format!("INV-{i}")));
        }
        assert_eq!(t.len(), MAX_ENTRIES);
        let (mut x, mut y) = (Value::text("late"), Value::text("late"));
        t.value(&mut x);
        t.value(&mut y);
        assert_ne!(ptr(&x), ptr(&y));
        assert_eq!(x, y);
    }
}
