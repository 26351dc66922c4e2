//! A send, from decision to message: holdout, consent, offer choice (next best action),
//! quiet hours, frequency caps with journey priority, then rendering. Every deferral and skip
//! is recorded with its reason.

use cranelift_entity::EntityRef;
use journey_bytecode::*;

use crate::effects::{CustomerIx, Effect, Reason, SendRecord};
use crate::engine::Engine;
use crate::time::{self, Instant};
use crate::value::Value;

/// What became of a send.
pub(crate) enum Outcome {
    /// Sent, or skipped for good.
    Done,
    /// To retry at this instant.
    Deferred(Instant),
}

impl Engine {
    pub(crate) fn send(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        epoch: u32,
        s: SendId,
        params: Vec<Value>,
    ) -> Outcome {
        let program = self.program.clone();
        let sd = &program.sends[s];
        let step = sd.step;
        let loc = Some(self.program.steps[step].loc);
        self.reached(c, step);
        let chan = &program.channels[sd.channel];
        let skip = |this: &mut Engine, reason: Reason, why: &dyn Fn(&Engine) -> String| {
            this.effects.push(Effect::Skipped {
                customer: c,
                step,
                reason,
                at: this.now(),
            });
            this.stats.skipped(step, reason);
            this.decide(c, Some(j), loc, why);
            Outcome::Done
        };
        if self.instance(c, j).is_some_and(|i| i.holdout) {
            return skip(self, Reason::Holdout, &|_| {
                format!("no send on `{}`: the customer is in the holdout", chan.name)
            });
        }
        if let Some(pc) = chan.consent
            && !self.test(c, pc, &[], None)
        {
            return skip(self, Reason::NoConsent, &|_| {
                format!("no send on `{}`: no consent", chan.name)
            });
        }
        let offer = match &sd.offer {
            OfferSel::None => None,
            OfferSel::Best(list) => match self.choose_offer(c, list) {
                Some(o) => Some(o),
                None => {
                    return skip(self, Reason::NoEligibleOffer, &|_| {
                        "no send: no offer is eligible".into()
                    });
                }
            },
            OfferSel::Named(o) => {
                if self.offer_ok(c, *o) {
                    Some(*o)
                } else {
                    let name = &program.offers[*o].name;
                    return skip(self, Reason::NoEligibleOffer, &|_| {
                        format!("no send: the offer `{name}` is not eligible")
                    });
                }
            }
        };
        if let Some(o) = offer {
            self.decide(c, Some(j), Some(self.program.offers[o].loc), |e| {
                format!("offer chosen: `{}`", e.program.offers[o].name)
            });
        }
        // Pressure policies.
        let now = self.now();
        let tz = self.timezone(c);
        for policy in self.program.policies.values() {
            for q in &policy.quiet {
                if !q.channels.is_empty() && !q.channels.contains(&sd.channel) {
                    continue;
                }
                if let Some(until) = time::quiet_end(now, &tz, q.from, q.to) {
                    return self.defer(
                        c,
                        j,
                        step,
                        Reason::QuietHours,
                        until,
                        format!("quiet hours {}–{}", q.from, q.to),
                    );
                }
            }
        }
        let mut deferral: Option<(Instant, String)> = None;
        for policy in self.program.policies.values() {
            if policy.exempt.contains(&j) {
                continue;
            }
            for cap in &policy.caps {
                let from = now.saturating_sub(cap.window_secs as i64);
                let counted = |t: &Instant, ch: &u32| {
                    *t > from && cap.channel.is_none_or(|x| x.index() as u32 == *ch)
                };
                let recent = &self.customers[c as usize].recent_sends;
                let count = recent.iter().filter(|(t, ch)| counted(t, ch)).count();
                if count < cap.max as usize {
                    continue;
                }
                let what = match cap.channel {
                    Some(ch) => self.program.channels[ch].name.clone(),
                    None => "messages".into(),
                };
                let why = format!(
                    "cap of {} {what} per {} in `{}`",
                    cap.max,
                    crate::stats::fmt_secs(cap.window_secs),
                    policy.name
                );
                let listed = policy.priority.contains(&j);
                if !policy.priority.is_empty() && !listed {
                    return skip(self, Reason::Cap, &|_| {
                        format!(
                            "no send: {why} reached, and `{}` is not among the policy's priorities",
                            program.journeys[j].name
                        )
                    });
                }
                // The send fits once the oldest counted send leaves the window.
                let until = self.customers[c as usize]
                    .recent_sends
                    .iter()
                    .filter(|(t, ch)| counted(t, ch))
                    .nth(count - cap.max as usize)
                    .map_or(now, |&(t, _)| t)
                    .saturating_add(cap.window_secs as i64);
                if deferral.as_ref().is_none_or(|(u, _)| until > *u) {
                    deferral = Some((until, why));
                }
            }
        }
        if let Some((until, why)) = deferral {
            return self.defer(c, j, step, Reason::Cap, until.max(now + 1), why);
        }
        // Render and record.
        let (template, external, parts) = self.render(&program, c, j, &sd.message, offer);
        let id = self.customers[c as usize].id.clone();
        let (entered, sends) = match self.instance_mut(c, j) {
            Some(i) => {
                i.sends += 1;
                (i.entered_at, i.sends)
            }
            None => (now, 0),
        };
        let _ = epoch;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(id.as_bytes());
        h.update(&[0]);
        h.update(&j.as_u32().to_le_bytes());
        h.update(&entered.to_le_bytes());
        h.update(&self.program.steps[step].key.to_le_bytes());
        h.update(&sends.to_le_bytes());
        let record = SendRecord {
            customer: id,
            journey: j,
            step,
            channel: sd.channel,
            template,
            external,
            parts,
            params: sd.params.iter().cloned().zip(params).collect(),
            offer,
            at: now,
            idempotency_key: format!("{:016x}", h.digest()),
            recipient: self.recipient(c),
            time_zone: tz_name(&tz),
        };
        let max_window = self.cap_window();
        let recent = &mut self.customers[c as usize].recent_sends;
        // Most customers hold a send or two in the window: grow by one up to four, then
        // double as usual (amortized).
        if recent.len() == recent.capacity() && recent.len() < 4 {
            recent.reserve_exact(1);
        }
        recent.push_back((now, sd.channel.index() as u32));
        while recent
            .front()
            .is_some_and(|(t, _)| *t <= now.saturating_sub(max_window))
        {
            recent.pop_front();
        }
        self.stats.sent(step, s);
        self.decide(c, Some(j), loc, |_| {
            let what = record.template.as_deref().unwrap_or("a message");
            format!("send `{what}` on `{}`", chan.name)
        });
        self.effects.push(Effect::Send(record));
        Outcome::Done
    }

    fn defer(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        step: StepId,
        reason: Reason,
        until: Instant,
        why: String,
    ) -> Outcome {
        let now = self.now();
        self.effects.push(Effect::Deferred {
            customer: c,
            step,
            reason,
            at: now,
            until,
        });
        self.stats.deferred(step, reason);
        let loc = Some(self.program.steps[step].loc);
        self.decide(c, Some(j), loc, |e| {
            let when = time::format_local(until, &e.timezone(c), true);
            format!("send deferred to {when}: {why}")
        });
        Outcome::Deferred(until)
    }

    /// Whether an offer is valid today and eligible for the customer.
    fn offer_ok(&mut self, c: CustomerIx, o: OfferId) -> bool {
        let program = self.program.clone();
        let od = &program.offers[o];
        let today = time::date_of(self.now(), &self.timezone(c));
        if od.valid_from.is_some_and(|f| today < f) || od.valid_until.is_some_and(|u| today >= u) {
            return false;
        }
        od.eligible.is_none_or(|pc| self.test(c, pc, &[], None))
    }

    /// The next best action: the eligible, valid offer of highest priority (ties: declaration
    /// order) among `candidates` (all offers if empty).
    pub(crate) fn choose_offer(
        &mut self,
        c: CustomerIx,
        candidates: &[OfferId],
    ) -> Option<OfferId> {
        let all: Vec<OfferId> = if candidates.is_empty() {
            self.program.offers.keys().collect()
        } else {
            candidates.to_vec()
        };
        let mut best: Option<(i64, OfferId)> = None;
        for o in all {
            if !self.offer_ok(c, o) {
                continue;
            }
            let p = self.program.offers[o].priority;
            if best.is_none_or(|(bp, bo)| p > bp || (p == bp && o < bo)) {
                best = Some((p, o));
            }
        }
        best.map(|(_, o)| o)
    }

    /// The rendered message, read in place from `program` (the engine's, shared).
    fn render(
        &mut self,
        program: &Program,
        c: CustomerIx,
        j: JourneyId,
        m: &MessageRef,
        offer: Option<OfferId>,
    ) -> (Option<String>, bool, Vec<(String, String)>) {
        let scope = self
            .instance(c, j)
            .map(|i| i.scope.clone())
            .unwrap_or_default();
        let mut stack = std::mem::take(&mut self.stack);
        let text = |this: &Engine, stack: &mut Vec<Value>, t: &TextDef| -> (String, String) {
            // Sized for the literal text and a short value per interpolation, so that most
            // messages render without growing the buffer.
            let size = t.pieces.iter().fold(0, |n, piece| {
                n + match piece {
                    Piece::Text(s) => s.len(),
                    Piece::Expr(_) => 16,
                }
            });
            let mut out = String::with_capacity(size);
            for piece in &t.pieces {
                match piece {
                    Piece::Text(s) => out.push_str(s),
                    Piece::Expr(pc) => {
                        let env = this.env(c, &scope, None, offer);
                        this.value_of(&env, *pc, stack).render_into(&mut out);
                    }
                }
            }
            (t.name.clone(), out)
        };
        let (external, parts) = match m {
            MessageRef::Template(t) => {
                let td = &program.templates[*t];
                let parts = td.parts.iter().map(|p| text(self, &mut stack, p)).collect();
                (false, parts)
            }
            MessageRef::External(_) => (true, Vec::new()),
            MessageRef::Inline(t) => (false, vec![text(self, &mut stack, t)]),
        };
        stack.clear();
        self.stack = stack;
        (
            m.template_name(program).map(str::to_string),
            external,
            parts,
        )
    }
}

/// The IANA name of a time zone (`UTC` for zones without one).
fn tz_name(tz: &jiff::tz::TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_string()
}
