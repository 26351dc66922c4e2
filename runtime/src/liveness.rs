//! Which events an instance may still read: a backward liveness analysis over the bytecode.
//!
//! An instance keeps, in its scope, the latest occurrence of the events its code reads (the
//! entry event, awaited events). Most instances spend months waiting after their last read
//! of them: a welcome that names the plan, then a year of timeline. This analysis finds, for
//! every instruction, the events that execution from there may read from the scope, so that
//! a suspended instance keeps only those (see [`Liveness::needed`]).
//!
//! What execution from `pc` reads is what the instruction reads plus what its successors
//! read, up to a fixpoint:
//! - `event_prop E` reads `E`;
//! - `send` reads what its message reads (template parts and inline texts are expression
//!   functions, rendered from the instance's scope when the send is made or retried);
//! - `wait_event W` reads what the wait's filter reads, except the awaited event itself
//!   (the filter is tested against the arriving occurrence, not the scope).
//!
//! A journey's goal and exit conditions are asked whenever an event arrives, so what they
//! read (the filter's own event aside) is needed for the instance's whole life.

use cranelift_entity::{EntityRef, SecondaryMap};
use journey_bytecode::{EventId, ExitDef, Insn, JourneyId, MessageRef, Pc, Piece, Program};
use smallvec::SmallVec;

use crate::customer::{Instance, ThreadState};

/// A set of events, one bit per event, `words` words long.
pub(crate) type EventSet = SmallVec<[u64; 2]>;

/// The events execution may read from the scope, per instruction and per journey.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    /// Words per set (at least one).
    words: usize,
    /// `live[pc * words..][..words]`: what execution from `pc` may read.
    live: Vec<u64>,
    /// What a journey's goal and exit conditions read, needed while an instance lives.
    always: SecondaryMap<JourneyId, EventSet>,
}

fn bit(e: EventId) -> (usize, u64) {
    (e.index() / 64, 1u64 << (e.index() % 64))
}

impl Liveness {
    /// Computes the analysis for a program (validated: its jumps are in range; an
    /// out-of-range target is skipped, never read).
    pub(crate) fn new(p: &Program) -> Liveness {
        let words = p.events.len().div_ceil(64).max(1);
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
                    Insn::EventProp(e, _) => {
                        // An id past the table (a program not validated) reads nothing.
                        let (w, m) = bit(e);
                        if let Some(a) = acc.get_mut(w) {
                            *a |= m;
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
                            let (w, m) = bit(wait.event);
                            if let Some(a) = acc.get_mut(w) {
                                *a &= !m;
                            }
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
                    let (w, m) = bit(e);
                    if let Some(r) = read.get_mut(w) {
                        *r &= !m;
                    }
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
            live,
            always,
        }
    }

    /// The events an instance of `p`'s journey may still read: what its goal and exit
    /// conditions read, what each thread not finished may read from where it stands (a
    /// suspended thread stands at the instruction that suspended it, which it runs again or
    /// resumes after), and what each timeline entry not started may read.
    pub(crate) fn needed(&self, p: &Program, inst: &Instance) -> EventSet {
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
            for k in inst.entries_pending() {
                if let Some(entry) = jd.timeline.get(k as usize) {
                    add(entry.code);
                }
            }
        }
        set
    }

    /// Whether `e` is in `set`.
    pub(crate) fn contains(set: &[u64], e: EventId) -> bool {
        let (w, m) = bit(e);
        set.get(w).is_some_and(|x| x & m != 0)
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
        assert!(
            Liveness::contains(&at(sleep), e(69)),
            "read after the first wait"
        );
        assert!(
            !Liveness::contains(&at(wait_event), e(69)),
            "no read after the send"
        );
        assert!(
            !Liveness::contains(&at(wait_event), e(3)),
            "the filter reads the arriving occurrence"
        );
        assert_eq!(at(wait_event), vec![0, 0]);
    }
}
