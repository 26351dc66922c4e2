//! Shared texts. Equal short strings arriving in events and profile updates (a plan name, a
//! sales channel, a device, a time zone) share one allocation instead of one per customer:
//! an event kept in a waiting instance's scope then costs its property slots, not copies of
//! the same few words.
//!
//! Interning is invisible to the language (values compare by content). The table is bounded
//! so that texts that never repeat (customer numbers, e-mail addresses, invoice numbers)
//! cannot fill it: each field (a profile attribute, an event property) is on trial for its
//! first [`TRIAL`] texts added, and stays shared only if texts were found in the table at
//! least half as often as they were added; a field that fails is no longer looked up. The table takes texts
//! of at most [`MAX_LEN`] bytes, at most [`MAX_ENTRIES`] of them, seeded with the program's
//! string constants; later texts it does not hold are kept as they came.

use std::collections::HashSet;
use std::sync::Arc;

use arcstr::ArcStr;
use cranelift_entity::EntityRef;
use journey_bytecode::{AttrId, EventId, Program};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::value::Value;

/// Longest text shared, in bytes.
pub(crate) const MAX_LEN: usize = 48;

/// Most texts the table holds.
pub(crate) const MAX_ENTRIES: usize = 1 << 16;

/// Texts a field adds before it is judged.
pub(crate) const TRIAL: u32 = 256;

/// How sharing goes for one field.
#[derive(Debug, Default, Clone, Copy)]
struct Field {
    /// Texts found in the table.
    hits: u32,
    /// Texts added to the table.
    added: u32,
    /// Failed its trial: its texts are not shared.
    off: bool,
}

/// The table of shared texts.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    texts: HashSet<ArcStr, Xxh3DefaultBuilder>,
    /// Per field: the attributes, then every event's properties.
    fields: Vec<Field>,
    /// Per event: the index of its first property's field.
    event_base: Vec<usize>,
}

impl Interner {
    /// A table for the fields of `program`, holding the texts among `seed` (its constants).
    pub(crate) fn new<'a>(
        program: &Program,
        seed: impl IntoIterator<Item = &'a Value>,
    ) -> Interner {
        let mut event_base = Vec::with_capacity(program.events.len());
        let mut next = program.attributes.len();
        for e in program.events.values() {
            event_base.push(next);
            next += e.props.len();
        }
        let mut interner = Interner {
            fields: vec![Field::default(); next],
            event_base,
            ..Interner::default()
        };
        for v in seed {
            if let Value::String(s) = v
                && s.len() <= MAX_LEN
                && interner.texts.len() < MAX_ENTRIES
            {
                interner.texts.insert(s.clone());
            }
        }
        interner
    }

    /// Shares the texts of a profile attribute's value.
    pub(crate) fn attribute(&mut self, attr: AttrId, v: &mut Value) {
        self.value(attr.index(), v);
    }

    /// Shares the texts of an event's property values (in schema order).
    pub(crate) fn event(&mut self, event: EventId, props: &mut [Value]) {
        let base = self.event_base.get(event.index()).copied();
        for (i, v) in props.iter_mut().enumerate() {
            // An event the program does not declare has no fields: nothing is shared.
            if let Some(base) = base {
                self.value(base + i, v);
            }
        }
    }

    /// The shared copy of `s` for `field`: the one in the table (added first if there is
    /// room, `s` is short and the field shares), or `s` itself.
    fn share(&mut self, field: usize, s: &ArcStr) -> ArcStr {
        let Some(f) = self.fields.get_mut(field) else {
            return s.clone();
        };
        if f.off || s.len() > MAX_LEN {
            return s.clone();
        }
        if let Some(shared) = self.texts.get(s.as_str()) {
            f.hits = f.hits.saturating_add(1);
            return shared.clone();
        }
        if self.texts.len() < MAX_ENTRIES {
            self.texts.insert(s.clone());
            f.added += 1;
            if f.added == TRIAL && f.hits < f.added / 2 {
                f.off = true;
            }
        }
        s.clone()
    }

    /// Replaces a text value (or the texts of a list) by its shared copy.
    fn value(&mut self, field: usize, v: &mut Value) {
        match v {
            Value::String(s) => {
                let shared = self.share(field, s);
                *s = shared;
            }
            Value::List(items) if items.iter().any(|i| matches!(i, Value::String(_))) => {
                for i in Arc::make_mut(items) {
                    self.value(field, i);
                }
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

    fn text(s: &str) -> Value {
        Value::text(s)
    }

    /// Attributes `plan` (0) and `email` (1), an event `signup { plan, channel }` (0).
    fn program() -> Arc<Program> {
        crate::test_program(
            "profile {\n  plan: string\n  email: string\n}\nevent signup {\n  plan: string\n  channel: string\n}\n",
        )
    }

    #[test]
    fn equal_short_texts_share_one_allocation() {
        let p = program();
        let (plan, signup) = (AttrId::new(0), EventId::new(0));
        let constant = text("prepaye");
        let mut t = Interner::new(&p, [&constant, &Value::Number(1.0)]);
        assert_eq!(t.len(), 1);
        let mut a = text("prepaye");
        t.attribute(plan, &mut a);
        assert_eq!(ptr(&a), ptr(&constant));
        // The same text through another field is the same allocation.
        let mut props = vec![text("mobile_5g"), text("web")];
        let mut b = text("mobile_5g");
        t.event(signup, &mut props);
        t.attribute(plan, &mut b);
        assert_eq!(ptr(&props[0]), ptr(&b));
        assert_eq!(b, text("mobile_5g"));
        // Lists share their texts too.
        let mut l = Value::list([text("mobile_5g"), Value::Number(2.0)]);
        t.attribute(plan, &mut l);
        match &l {
            Value::List(items) => assert_eq!(ptr(&items[0]), ptr(&b)),
            _ => unreachable!(),
        }
        // An event or a property the program does not declare shares nothing.
        let mut extra = vec![text("x"), text("y"), text("mobile_5g")];
        t.event(signup, &mut extra);
        t.event(EventId::new(7), &mut extra);
        assert_ne!(ptr(&extra[2]), ptr(&b));
    }

    #[test]
    fn a_field_whose_texts_do_not_repeat_stops_filling_the_table() {
        let p = program();
        let (plan, email) = (AttrId::new(0), AttrId::new(1));
        let mut t = Interner::new(&p, []);
        for i in 0..10_000 {
            t.attribute(email, &mut text(&format!("c{i}@example.com")));
            t.attribute(plan, &mut text(["mobile", "5g", "box"][i % 3]));
        }
        // `email` added its trial's worth and stopped; `plan` holds its three texts.
        assert_eq!(t.len(), TRIAL as usize + 3);
        let (mut x, mut y) = (text("c1@example.com"), text("c1@example.com"));
        t.attribute(email, &mut x);
        t.attribute(email, &mut y);
        assert_ne!(ptr(&x), ptr(&y));
        let (mut x, mut y) = (text("5g"), text("5g"));
        t.attribute(plan, &mut x);
        t.attribute(plan, &mut y);
        assert_eq!(ptr(&x), ptr(&y));
    }

    #[test]
    fn the_table_is_bounded() {
        let p = program();
        let plan = AttrId::new(0);
        let mut t = Interner::new(&p, []);
        let long = "x".repeat(MAX_LEN + 1);
        let (mut a, mut b) = (text(&long), text(&long));
        t.attribute(plan, &mut a);
        t.attribute(plan, &mut b);
        assert_ne!(ptr(&a), ptr(&b));
        assert_eq!(t.len(), 0);
        // Texts that repeat (each twice) keep the field on; the table stops at its bound.
        for i in 0..MAX_ENTRIES + 10 {
            for _ in 0..2 {
                t.attribute(plan, &mut text(&format!("P{i}")));
            }
        }
        assert_eq!(t.len(), MAX_ENTRIES);
        let (mut x, mut y) = (text("late"), text("late"));
        t.attribute(plan, &mut x);
        t.attribute(plan, &mut y);
        assert_ne!(ptr(&x), ptr(&y));
        assert_eq!(x, y);
    }
}
