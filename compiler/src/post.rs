//! Checks that need the whole program: segment cycles and dependencies, templates' event
//! and offer needs at every send, channels whose consent attribute is missing.

use std::collections::BTreeSet;

use cranelift_entity::{EntityRef, SecondaryMap};
use journey_bytecode::*;

use crate::codes;
use crate::ctx::Ctx;

impl Ctx<'_> {
    pub(crate) fn post_checks(&mut self) {
        self.segment_cycles();
        self.segment_uses();
        self.template_scopes();
        self.consent();
    }

    fn segment_cycles(&mut self) {
        let n = self.p.segments.len();
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut mark = vec![Mark::New; n];
        let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
        for start in 0..n {
            if mark[start] != Mark::New {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = Mark::Active;
            while let Some(&mut (s, ref mut next)) = path.last_mut() {
                let deps = &self.segment_deps[SegmentId::new(s)];
                if let Some(&(t, file, span)) = deps.get(*next) {
                    *next += 1;
                    match mark[t.index()] {
                        Mark::New => {
                            mark[t.index()] = Mark::Active;
                            path.push((t.index(), 0));
                        }
                        Mark::Active => {
                            let pos = path.iter().position(|(p, _)| *p == t.index()).unwrap_or(0);
                            let mut members: Vec<usize> =
                                path[pos..].iter().map(|(p, _)| *p).collect();
                            let names: Vec<String> = members
                                .iter()
                                .map(|m| self.p.segments[SegmentId::new(*m)].name.clone())
                                .collect();
                            members.sort();
                            if reported.insert(members) {
                                let msg = if names.len() == 1 {
                                    format!(
                                        "the segment `{}` is defined in terms of itself",
                                        names[0]
                                    )
                                } else {
                                    format!(
                                        "segments used in a cycle: {} → {}",
                                        names.join(" → "),
                                        names[0]
                                    )
                                };
                                let mut d = self
                                    .diag(&codes::SEGMENT_CYCLE, file, span, msg)
                                    .primary_label("this use closes the cycle");
                                for w in path[pos..].windows(2) {
                                    let from = SegmentId::new(w[0].0);
                                    if let Some(&(_, f, sp)) = self.segment_deps[from]
                                        .iter()
                                        .find(|(x, _, _)| x.index() == w[1].0)
                                    {
                                        d = d.label(
                                            f,
                                            sp,
                                            format!(
                                                "`{}` uses `{}`",
                                                self.p.segments[from].name,
                                                self.p.segments[SegmentId::new(w[1].0)].name
                                            ),
                                        );
                                    }
                                }
                                self.emit_diag(
                                    d.help("define one of these segments without the others"),
                                );
                            }
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[s] = Mark::Done;
                    path.pop();
                }
            }
        }
    }

    /// Fills `uses_*` of each segment with its direct and indirect reads.
    fn segment_uses(&mut self) {
        let mut direct: SecondaryMap<SegmentId, Reads> = SecondaryMap::new();
        for (id, seg) in self.p.segments.iter() {
            let mut out = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            scan_function(&self.p.code, seg.condition, &mut |insn| match insn {
                Insn::Segment(s) => {
                    out.0.insert(*s);
                }
                Insn::Aggregate(a) => {
                    out.1.insert(*a);
                }
                Insn::Attr(a) => {
                    out.2.insert(*a);
                }
                _ => {}
            });
            direct[id] = out;
        }
        let ids: Vec<SegmentId> = self.p.segments.keys().collect();
        for id in ids {
            let mut segs = BTreeSet::new();
            let mut aggs = BTreeSet::new();
            let mut attrs = BTreeSet::new();
            let mut stack = vec![id];
            let mut seen = BTreeSet::new();
            while let Some(s) = stack.pop() {
                if !seen.insert(s) {
                    continue;
                }
                let (ds, da, dt) = &direct[s];
                aggs.extend(da.iter().copied());
                attrs.extend(dt.iter().copied());
                for d in ds {
                    if s == id {
                        segs.insert(*d);
                    }
                    stack.push(*d);
                }
            }
            let seg = &mut self.p.segments[id];
            seg.uses_segments = segs.into_iter().collect();
            seg.uses_aggregates = aggs.into_iter().collect();
            seg.uses_attributes = attrs.into_iter().collect();
        }
    }

    fn template_scopes(&mut self) {
        let uses = std::mem::take(&mut self.template_uses);
        for u in &uses {
            let needs = self.template_needs[u.template].clone();
            let tname = self.p.templates[u.template].name.clone();
            for (ev, span) in &needs.events {
                if u.scope.binary_search(ev).is_ok() {
                    // Read at the send, from the instance's scope: its instances keep it,
                    // with the properties the template reads.
                    let kept = &mut self.p.journeys[u.journey].kept_events;
                    for k in needs.kept.iter().filter(|k| k.event == *ev) {
                        KeptEvent::add(kept, *k);
                    }
                } else {
                    let ename = self.p.events[*ev].name.clone();
                    let mut d = self
                        .diag(&codes::EVENT_NOT_IN_SCOPE, u.file, u.span, format!("the template `{tname}` reads `{ename}`, which has not happened here"))
                        .primary_label("sent here");
                    if let Some(tf) = needs.file {
                        d = d.label(tf, *span, format!("`{ename}` is read here"));
                    }
                    self.emit_diag(d.help(format!("send it after `entry on {ename}` or `wait for {ename}`, or use a template that does not read `{ename}`")));
                }
            }
            if let (Some(span), false) = (needs.offer, u.has_offer) {
                let mut d = self
                    .diag(
                        &codes::OFFER_NOT_IN_SCOPE,
                        u.file,
                        u.span,
                        format!(
                            "the template `{tname}` shows an offer, but this send chooses none"
                        ),
                    )
                    .primary_label("sent without an offer");
                if let Some(tf) = needs.file {
                    d = d.label(tf, span, "the offer is read here");
                }
                self.emit_diag(d.help("add `with best offer` or `with offer NAME` to the send"));
            }
        }
        self.template_uses = uses;
    }

    fn consent(&mut self) {
        let channels: Vec<ChannelId> = self.p.channels.keys().collect();
        for ch in channels {
            let Some((file, span, attr)) = self.consent_missing[ch].clone() else {
                continue;
            };
            let name = self.p.channels[ch].name.clone();
            let mut d = self
                .diag(&codes::CONSENT_MISSING, file, span, format!("the channel `{name}` requires consent from `profile.{attr}`, which the profile does not have"))
                .primary_label("no such attribute");
            if let Some((pf, ps)) = self.profile {
                d = d.label(pf, ps, "profile declared here");
            }
            for (sf, ss) in self.channel_sends[ch].clone().into_iter().take(5) {
                d = d.label(sf, ss, "this send could never get consent");
            }
            self.emit_diag(d.help(format!("add `{attr}: bool` to the profile")));
        }
    }
}

/// What a segment condition reads directly: segments, aggregates, attributes.
type Reads = (BTreeSet<SegmentId>, BTreeSet<AggId>, BTreeSet<AttrId>);

/// Calls `f` on every instruction of the function starting at `entry`, nested functions
/// included (they are jumped over with a plain `Jump`, which expressions use for nothing else).
pub(crate) fn scan_function(code: &[Insn], entry: Pc, f: &mut impl FnMut(&Insn)) {
    let mut nested: Vec<Pc> = Vec::new();
    let mut pc = entry as usize;
    while let Some(insn) = code.get(pc) {
        f(insn);
        match insn {
            Insn::Jump(t) => nested.push(*t),
            Insn::Return => {
                if nested.last() == Some(&(pc as Pc + 1)) {
                    nested.pop();
                } else {
                    return;
                }
            }
            _ => {}
        }
        pc += 1;
    }
}
