//! Which event properties an instance may still read: a backward liveness analysis over the
//! bytecode.
//!
//! An instance keeps, in its scope, the latest occurrence of the events its code reads (the
//! entry event, awaited events). Most instances spend months waiting after their last read
//! of them: a welcome that names the plan and the price, then a call that names the plan,
//! then a year of timeline. This analysis finds, for every instruction, the properties of
//! each event that execution from there may read from the scope, so that a suspended
//! instance keeps only those events, each holding only those properties (see
//! [`Liveness::needed`] and [`Liveness::props`]).
//!
//! The sets have one bit per (event, property): an event's first 32 properties have a bit
//! each, as in a [`KeptEvent`](journey_bytecode::KeptEvent) mask, and a read of a property past them sets all of the
//! event's bits (the whole occurrence is kept, as
//! [`KeptEvent::ALL`](journey_bytecode::KeptEvent::ALL) keeps it). What execution
//! from `pc` reads is what the instruction reads plus what its successors read, up to a
//! fixpoint:
//! - `event_prop E i` reads property `i` of `E`;
//! - `send` reads what its message reads (template parts and inline texts are expression
//!   functions, rendered from the instance's scope when the send is made or retried);
//! - `wait_event W` reads what the wait's filter reads, except the awaited event itself
//!   (none of its properties: the filter is tested against the arriving occurrence, not the
//!   scope).
//!
//! A journey's goal and exit conditions are asked whenever an event arrives, so what they
//! read (the filter's own event aside) is needed for the instance's whole life.

use cranelift_entity::{EntityRef, SecondaryMap};
use journey_bytecode::{EventId, ExitDef, Insn, JourneyId, MessageRef, Pc, Piece, Program};
use smallvec::SmallVec;

use crate::customer::{Instance, ThreadState};

/// A set of event properties, one bit per (event, property) (see the module documentation),
/// `words` words long.
pub(crate) type EventSet = SmallVec<[u64; 2]>;

/// The event properties execution may read from the scope, per instruction and per journey.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    /// Words per set (at least one).
    words: usize,
    /// Per event: its first bit and how many it has (its properties, at most 32).
    slots: Vec<(u32, u32)>,
    /// `live[pc * words..][..words]`: what execution from `pc` may read.
    live: Vec<u64>,
    /// What a journey's goal and exit conditions read, needed while an instance lives.
    always: SecondaryMap<JourneyId, EventSet>,
}

/// Sets in `set` the bits in `[from, from + n)`.
fn set_bits(set: &mut [u64], from: u32, n: u32) {
    for b in from..from + n {
        if let Some(w) = set.get_mut(b as usize / 64) {
            *w |= 1 << (b % 64);
        }
    }
}

/// Clears in `set` the bits in `[from, from + n)`.
fn clear_bits(set: &mut [u64], from: u32, n: u32) {
    for b in from..from + n {
        if let Some(w) = set.get_mut(b as usize / 64) {
            *w &= !(1 << (b % 64));
        }
    }
}

impl Liveness {
    /// Computes the analysis for a program (validated: its jumps are in range; an
    /// out-of-range target is skipped, never read).
    pub(crate) fn new(p: &Program) -> Liveness {
        let mut slots = Vec::with_capacity(p.events.len());
        let mut bits = 0u32;
        for e in p.events.values() {
            let n = e.props.len().min(32) as u32;
            slots.push((bits, n));
            bits += n;
        }
        // The bits of an event (none for an id past the table: a program not validated).
        let of = |e: EventId| slots.get(e.index()).copied().unwrap_or((0, 0));
        let words = (bits as usize).div_ceil(64).max(1);
        let n = p.code.len();
        let mut live = vec![0u64; n * words];
        let mut acc = vec![0u64; words];
        let mut next = Vec::new();
        let or_at = |live: &[u64], acc: &mut [u64], pc: usize| {
            if let Some(src) = live.get(pc * words..(pc + 1) * words) {
                acc.iter_mut().zip(src).for_each(|(a, s)| *a |= s);
            }
        };
        // Bits only grow, and there are finitely many: the loop ends. Jumps go forward in
        // compiled code, so a pass in reverse order settles nearly everything at once.
        loop {
            let mut changed = false;
            for pc in (0..n).rev() {
                acc.iter_mut().for_each(|a| *a = 0);
                let insn = &p.code[pc];
                match *insn {
                    Insn::EventProp(e, i) => {
                        let (from, n) = of(e);
                        if u32::from(i) < n {
                            set_bits(&mut acc, from + u32::from(i), 1);
                        } else if i >= 32 {
                            // Past what a mask names: the whole occurrence.
                            set_bits(&mut acc, from, n);
                        }
                    }
                    Insn::Send(s) => {
                        if let Some(send) = p.sends.get(s) {
                            for piece_pc in message_functions(p, &send.message) {
                                or_at(&live, &mut acc, piece_pc as usize);
                            }
                        }
                    }
                    Insn::WaitEvent(w) => {
                        if let Some(wait) = p.waits.get(w)
                            && let Some(f) = wait.filter
                        {
                            or_at(&live, &mut acc, f as usize);
                            let (from, n) = of(wait.event);
                            clear_bits(&mut acc, from, n);
                        }
                    }
                    _ => {}
                }
                next.clear();
                p.successors(pc, insn, &mut next);
                for &s in &next {
                    or_at(&live, &mut acc, s);
                }
                let slot = &mut live[pc * words..(pc + 1) * words];
                if slot != acc.as_slice() {
                    slot.copy_from_slice(&acc);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut always: SecondaryMap<JourneyId, EventSet> = SecondaryMap::new();
        for (j, jd) in p.journeys.iter() {
            let mut set: EventSet = smallvec::smallvec![0; words];
            let mut add = |pc: Pc, candidate: Option<EventId>| {
                let mut read: EventSet = smallvec::smallvec![0; words];
                or_at(&live, &mut read, pc as usize);
                if let Some(e) = candidate {
                    let (from, n) = of(e);
                    clear_bits(&mut read, from, n);
                }
                set.iter_mut().zip(&read).for_each(|(a, r)| *a |= r);
            };
            for x in &jd.exits {
                match x {
                    ExitDef::Event {
                        event,
                        condition: Some(pc),
                        ..
                    } => add(*pc, Some(*event)),
                    ExitDef::Event { .. } => {}
                    ExitDef::When { condition, .. } => add(*condition, None),
                }
            }
            for g in p.goals.values().filter(|g| g.journey == j) {
                if let Some(pc) = g.condition {
                    add(pc, Some(g.event));
                }
            }
            always[j] = set;
        }
        Liveness {
            words,
            slots,
            live,
            always,
        }
    }

    /// The event properties an instance of `p`'s journey may still read: what its goal and exit
    /// conditions read, what each thread not finished may read from where it stands (a
    /// suspended thread stands at the instruction that suspended it, which it runs again or
    /// resumes after), and what each timeline entry not started (`pending`) may read.
    pub(crate) fn needed(&self, p: &Program, inst: &Instance, pending: &[u16]) -> EventSet {
        let words = self.words;
        let mut set: EventSet = self
            .always
            .get(inst.journey)
            .cloned()
            .unwrap_or_else(|| smallvec::smallvec![0; words]);
        set.resize(words, 0);
        let mut add = |pc: Pc| {
            let at = pc as usize * words;
            if let Some(src) = self.live.get(at..at + words) {
                set.iter_mut().zip(src).for_each(|(a, s)| *a |= s);
            }
        };
        for th in &inst.threads {
            if th.state != ThreadState::Done {
                add(th.pc);
            }
        }
        if let Some(jd) = p.journeys.get(inst.journey) {
            for &k in pending {
                if let Some(entry) = jd.timeline.get(k as usize) {
                    add(entry.code);
                }
            }
        }
        set
    }

    /// The properties of `e` in `set`, as a [`KeptEvent`](journey_bytecode::KeptEvent) mask:
    /// 0 when none may be read, every bit the event has when the whole occurrence may be.
    pub(crate) fn props(&self, set: &[u64], e: EventId) -> u32 {
        let Some(&(from, n)) = self.slots.get(e.index()) else {
            return 0;
        };
        let mut mask = 0u32;
        for i in 0..n {
            let b = from + i;
            if set
                .get(b as usize / 64)
                .is_some_and(|w| w & (1 << (b % 64)) != 0)
            {
                mask |= 1 << i;
            }
        }
        mask
    }
}

/// The expression functions a message renders (its parts' interpolations).
fn message_functions<'a>(p: &'a Program, m: &'a MessageRef) -> impl Iterator<Item = Pc> + 'a {
    let parts: &'a [journey_bytecode::TextDef] = match m {
        MessageRef::Template(t) => p.templates.get(*t).map_or(&[], |t| t.parts.as_slice()),
        MessageRef::Inline(text) => std::slice::from_ref(text),
        MessageRef::External(_) => &[],
    };
    parts.iter().flat_map(|t| {
        t.pieces.iter().filter_map(|piece| match piece {
            Piece::Expr(pc) => Some(*pc),
            Piece::Text(_) => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey_bytecode::Insn;

    /// The pc of the first instruction of `kind` in the journey's code.
    fn first(p: &Program, f: impl Fn(&Insn) -> bool) -> usize {
        p.code.iter().position(f).expect("instruction")
    }

    /// Past 64 events, sets take several words: an event in the second word is live before
    /// its last read and not after, and a wait's filter does not make its own event live.
    #[test]
    fn live_sets_span_several_words_and_end_at_the_last_read() {
        let mut src = String::from("channel email uses \"email\" { }\n");
        for i in 0..70 {
            src.push_str(&format!("event e{i} {{ p: string }}\n"));
        }
        src.push_str(
            "journey j {\n  entry on e69\n  wait 1 day\n  send email \"{e69.p}\"\n  \
             wait for e3 where e3.p == \"x\" within 2 days else { exit }\n  wait 1 day\n  \
             send email \"fin\"\n}\n",
        );
        let p = crate::test_program(&src);
        let l = Liveness::new(&p);
        assert_eq!(l.words, 2);
        let at = |pc: usize| l.live[pc * l.words..(pc + 1) * l.words].to_vec();
        let e = |i: u32| EventId::from_u32(i);
        let sleep = first(&p, |i| matches!(i, Insn::Wait(..)));
        let wait_event = first(&p, |i| matches!(i, Insn::WaitEvent(_)));
        assert_eq!(l.props(&at(sleep), e(69)), 1, "read after the first wait");
        assert_eq!(l.props(&at(wait_event), e(69)), 0, "no read after the send");
        assert_eq!(
            l.props(&at(wait_event), e(3)),
            0,
            "the filter reads the arriving occurrence"
        );
        assert_eq!(at(wait_event), vec![0, 0]);
    }

    /// A property stops being live after its last read, while the event's other properties
    /// still read later stay live; a read past the 32 a mask names keeps the whole
    /// occurrence.
    #[test]
    fn properties_are_live_one_by_one() {
        let mut wide = String::new();
        for i in 0..40 {
            wide.push_str(&format!(" p{i}: string"));
        }
        let src = format!(
            "channel email uses \"email\" {{ }}\n\
             event order {{ id: string  total: number  coupon: string }}\n\
             event wide {{{wide} }}\n\
             journey j {{\n  entry on order\n  send email \"{{order.id}} {{order.total}}\"\n  \
             wait 1 day\n  send email \"{{order.id}}\"\n  wait 1 day\n  send email \"fin\"\n}}\n\
             journey k {{\n  entry on wide\n  wait 1 day\n  send email \"{{wide.p35}}\"\n  \
             wait 1 day\n  send email \"{{wide.p2}}\"\n  wait 1 day\n  send email \"fin\"\n}}\n"
        );
        let p = crate::test_program(&src);
        let l = Liveness::new(&p);
        let at = |pc: usize| l.live[pc * l.words..(pc + 1) * l.words].to_vec();
        let waits: Vec<usize> = (0..p.code.len())
            .filter(|&pc| matches!(p.code[pc], Insn::Wait(..)))
            .collect();
        assert_eq!(waits.len(), 5);
        let (order, wide) = (EventId::from_u32(0), EventId::from_u32(1));
        // Journey j: `id` and `total` read at entry, `id` alone after the first wait.
        assert_eq!(l.props(&at(waits[0]), order), 0b001);
        assert_eq!(l.props(&at(waits[1]), order), 0);
        // Journey k: `p35` is past the mask, so all of `wide` is live until it is read,
        // then `p2` alone.
        assert_eq!(
            l.props(&at(waits[2]), wide),
            journey_bytecode::KeptEvent::ALL
        );
        assert_eq!(l.props(&at(waits[3]), wide), 0b100);
        assert_eq!(l.props(&at(waits[4]), wide), 0);
    }

    /// Inputs for one customer of the `kept-events` case: (what, seconds since the previous
    /// input, which offer, which amount).
    type Input = (u8, i64, usize, usize);

    /// Effects of `inputs` for two customers, keeping every event or only what liveness
    /// keeps.
    fn run(p: &std::sync::Arc<Program>, keep_all: bool, inputs: &[(bool, Input)]) -> Vec<String> {
        use crate::{Config, Engine, Value};
        let offers = ["5G", "Box", "test"];
        let amounts = [0.0, 9.99, 25.0, 30.0, 150.0];
        let event = |name: &str| crate::test_event(p, name);
        let attr = |name: &str| crate::test_attribute(p, name);
        // 2027-01-04 10:00 UTC.
        let mut t: crate::time::Instant = 1_799_056_800;
        let mut engine = Engine::new(p.clone(), Config::default(), t);
        engine.keep_all_events = keep_all;
        let mut out = Vec::new();
        for &(second, (what, gap, offer, amount)) in inputs {
            t += gap;
            let id = if second { "b" } else { "a" };
            let offre = Value::text(offers[offer % offers.len()]);
            let n = Value::Number(amounts[amount % amounts.len()]);
            match what % 5 {
                0 => engine.event(id, event("inscription"), vec![offre, n], t),
                1 => engine.event(id, event("achat"), vec![n, offre], t),
                2 => engine.event(id, event("changement"), vec![offre], t),
                3 => engine.set_attribute(id, attr("derniere_offre"), offre, t),
                _ => engine.advance_to(t),
            }
            out.extend(crate::test_effects(&mut engine));
        }
        engine.advance_to(t + 120 * 86_400);
        out.extend(crate::test_effects(&mut engine));
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Letting events go changes nothing a customer sees: the same inputs give the same
        /// effects (sends with their rendered texts, goals, exits) as keeping every event.
        #[test]
        fn letting_events_go_changes_no_effect(
            inputs in proptest::collection::vec(
                (
                    proptest::prelude::any::<bool>(),
                    (0u8..5, 0i64..4 * 86_400, 0usize..3, 0usize..5),
                ),
                1..40,
            ),
        ) {
            let p = crate::test_program(include_str!(
                "../../tests/cases/runtime/kept-events/kept.journey"
            ));
            let reference = run(&p, true, &inputs);
            proptest::prop_assert_eq!(run(&p, false, &inputs), reference);
        }
    }
}
