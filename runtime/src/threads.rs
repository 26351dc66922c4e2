//! Running a journey thread (the body or a timeline entry) until it suspends: value and
//! control instructions go to the interpreter, effect instructions are carried out here.

use journey_bytecode::*;
use thin_vec::ThinVec;

use crate::customer::{GoalWindow, ThreadState};
use crate::effects::{CustomerIx, Effect, ExitReason, Reason};
use crate::engine::{Engine, TimerKind};
use crate::sending::Outcome;
use crate::time;
use crate::value::Value;
use crate::vm::{FUEL, Step};

impl Engine {
    /// Runs thread `t` of the customer's instance of `j` until it waits, ends or exits.
    pub(crate) fn run_thread(&mut self, c: CustomerIx, j: JourneyId, t: usize, depth: u32) {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let Some((epoch, mut pc)) = self.thread_start(c, j, t, &mut stack) else {
            self.stack = stack;
            return;
        };
        let mut fuel = FUEL;
        let reads = std::cell::RefCell::new(Vec::new());
        let tracing = self.explaining(c);
        loop {
            fuel = fuel.saturating_sub(1);
            let Some(insn) = self.program.code.get(pc as usize).copied() else {
                break;
            };
            if fuel == 0 {
                break;
            }
            // Value and control instructions.
            let step = {
                let Some(inst) = self.customers[c as usize]
                    .instances
                    .iter()
                    .find(|i| i.journey == j && i.epoch == epoch)
                else {
                    break;
                };
                let mut env = self.env(c, &inst.scope, None, None);
                if tracing {
                    env.reads = Some(&reads);
                }
                env.exec(&insn, &mut stack)
            };
            match step {
                Step::Next => {
                    pc += 1;
                    continue;
                }
                Step::Jump(target) => {
                    pc = target;
                    continue;
                }
                Step::Return => {
                    self.finish_thread(c, j, t);
                    break;
                }
                Step::Effect => {}
            }
            let loc = self.program.locs.get(pc as usize).copied();
            if !matches!(insn, Insn::Branch(..)) {
                reads.borrow_mut().clear();
            }
            match insn {
                Insn::Branch(step, arm) => {
                    let kind = self.program.steps[step].kind;
                    if matches!(kind, StepKind::If | StepKind::Scenario) {
                        self.reached(c, step);
                    }
                    self.stats.branch(step, arm);
                    self.effects.push(Effect::Branch {
                        customer: c,
                        step,
                        arm,
                        at: self.now(),
                    });
                    self.decide(c, Some(j), loc, |e| {
                        let name = e.program.steps[step]
                            .arms
                            .get(arm as usize)
                            .map_or("", String::as_str);
                        let what = match kind {
                            StepKind::If => "condition",
                            StepKind::Scenario => "scenario",
                            StepKind::Experiment => "experiment",
                            StepKind::WaitEvent => "wait",
                            _ => "branch",
                        };
                        let read = std::mem::take(&mut *reads.borrow_mut());
                        let values = if read.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " ({})",
                                read.iter()
                                    .map(|(n, v)| format!("{n} = {}", v.to_json()))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        format!("{what} → {name}{values}")
                    });
                    pc += 1;
                }
                Insn::Critical(step) => {
                    self.decide(c, Some(j), loc, |e| {
                        format!("critical moment: {}", e.program.steps[step].name)
                    });
                    pc += 1;
                }
                Insn::Send(s) => {
                    let n = self.program.sends[s].params.len();
                    let at = stack.len().saturating_sub(n);
                    let params: Vec<Value> = stack.drain(at..).collect();
                    match self.send(c, j, epoch, s, params.clone()) {
                        Outcome::Done => pc += 1,
                        Outcome::Deferred(until) => {
                            let id = self.schedule_instance_timer(
                                c,
                                j,
                                until,
                                TimerKind::Resume(t as u16),
                            );
                            self.suspend(c, j, t, pc, ThreadState::Deferred(id, s), params.into());
                            break;
                        }
                    }
                }
                Insn::Wait(step, k) => {
                    self.reached(c, step);
                    let secs = match self.program.consts.get(k) {
                        Some(Const::Duration(d)) => *d,
                        _ => 0,
                    };
                    let until = self.now().saturating_add(secs);
                    self.sleep(c, j, t, pc, until);
                    self.decide(c, Some(j), loc, |e| {
                        format!(
                            "wait until {}",
                            time::format_local(until, &e.timezone(c), true)
                        )
                    });
                    break;
                }
                Insn::WaitMonths(step, months) => {
                    self.reached(c, step);
                    let until = time::add_months(self.now(), &self.timezone(c), months);
                    self.sleep(c, j, t, pc, until);
                    self.decide(c, Some(j), loc, |e| {
                        let when = time::format_local(until, &e.timezone(c), true);
                        format!("wait {months} month(s), until {when}")
                    });
                    break;
                }
                Insn::WaitUntil(step, weekday, at) => {
                    self.reached(c, step);
                    let until = time::next_local_time(self.now(), &self.timezone(c), weekday, at);
                    self.sleep(c, j, t, pc, until);
                    self.decide(c, Some(j), loc, |e| {
                        format!(
                            "wait until {}",
                            time::format_local(until, &e.timezone(c), true)
                        )
                    });
                    break;
                }
                Insn::WaitEvent(w) => {
                    let wd = &self.program.waits[w];
                    let (step, event, timeout) = (wd.step, wd.event, wd.timeout_secs);
                    self.reached(c, step);
                    let timer = timeout.map(|s| {
                        let at = self.now().saturating_add(s as i64);
                        self.schedule_instance_timer(c, j, at, TimerKind::Timeout(t as u16))
                    });
                    self.suspend(c, j, t, pc, ThreadState::Waiting(w, timer), ThinVec::new());
                    self.decide(c, Some(j), loc, |e| {
                        format!("wait for `{}`", e.program.events[event].name)
                    });
                    break;
                }
                Insn::Set(step, attr) => {
                    self.reached(c, step);
                    let v = stack.pop().unwrap_or_default();
                    let id = self.customers[c as usize].id.clone();
                    self.decide(c, Some(j), loc, |e| {
                        let name = &e.program.attributes[attr].name;
                        format!("set profile.{name} = {}", v.render())
                    });
                    // Saved before the profile changes: an exit condition may end this instance.
                    self.suspend(c, j, t, pc + 1, ThreadState::Ready, ThinVec::new());
                    self.stack = std::mem::take(&mut stack);
                    self.upsert_now(&id, &[(attr, v)]);
                    stack = std::mem::take(&mut self.stack);
                    match self.thread_start(c, j, t, &mut stack) {
                        Some((e, p)) if e == epoch => pc = p,
                        _ => break,
                    }
                }
                Insn::Emit(e) => {
                    let ed = self.program.emits[e].clone();
                    self.reached(c, ed.step);
                    let at = stack.len().saturating_sub(ed.props.len());
                    let given: Vec<Value> = stack.drain(at..).collect();
                    let mut props = vec![Value::None; self.program.events[ed.event].props.len()];
                    for (i, v) in ed.props.iter().zip(given) {
                        if let Some(slot) = props.get_mut(*i as usize) {
                            *slot = v;
                        }
                    }
                    let event = ed.event;
                    if Engine::emit_allowed(depth) {
                        self.decide(c, Some(j), loc, |e| {
                            format!("emit `{}`", e.program.events[event].name)
                        });
                        self.emit_event(c, ed.event, props, depth);
                        // The emitted event is processed now, before the next step: it may
                        // end this very instance (`exit on`), so the thread is saved first.
                        self.suspend(c, j, t, pc + 1, ThreadState::Ready, ThinVec::new());
                        self.stack = std::mem::take(&mut stack);
                        self.run_pending();
                        stack = std::mem::take(&mut self.stack);
                        match self.thread_start(c, j, t, &mut stack) {
                            Some((e, p)) if e == epoch => {
                                pc = p;
                                continue;
                            }
                            _ => break,
                        }
                    } else {
                        self.effects.push(Effect::Skipped {
                            customer: c,
                            step: ed.step,
                            reason: Reason::EmitLoop,
                            at: self.now(),
                        });
                        self.stats.skipped(ed.step, Reason::EmitLoop);
                        self.decide(c, Some(j), loc, |e| {
                            format!(
                                "`{}` not emitted: emitted events trigger each other too deeply",
                                e.program.events[event].name
                            )
                        });
                    }
                    pc += 1;
                }
                Insn::Split(x) => {
                    let xd = self.program.experiments[x].clone();
                    self.reached(c, xd.step);
                    let variant = self.assign(c, x);
                    self.customers[c as usize].assignments.push((x, variant));
                    self.effects.push(Effect::Assigned {
                        customer: c,
                        experiment: x,
                        variant,
                        at: self.now(),
                    });
                    if variant as usize >= xd.variants.len() {
                        if let Some(i) = self.instance_mut(c, j) {
                            i.holdout = true;
                        }
                        pc = xd.after;
                    } else {
                        pc = xd.variants[variant as usize].target;
                    }
                }
                Insn::OpenGoal(g) => {
                    let now = self.now();
                    // A goal converts once per instance: a window in which it converted
                    // stays until it closes, and is not opened again.
                    if let Some(i) = self.instance_mut(c, j)
                        && !i.goals.iter().any(|w| w.goal == g && w.converted)
                    {
                        i.goals.retain(|w| w.goal != g);
                        // Exact growth, like the instance's other lists: a goal window
                        // stays open for the rest of a long wait.
                        i.goals.reserve_exact(1);
                        i.goals.push(GoalWindow {
                            goal: g,
                            converted: false,
                            opened: now,
                        });
                    }
                    pc += 1;
                }
                Insn::Exit(step) => {
                    self.reached(c, step);
                    self.end_instance(c, j, ExitReason::Step);
                    break;
                }
                _ => {
                    // End (or anything unexpected): this thread is done.
                    self.finish_thread(c, j, t);
                    break;
                }
            }
        }
        self.insns += u64::from(FUEL - fuel);
        stack.clear();
        self.stack = stack;
    }

    /// Reads a thread's resume point; restores a deferred send's saved values.
    fn thread_start(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        t: usize,
        stack: &mut Vec<Value>,
    ) -> Option<(u32, Pc)> {
        let inst = self.instance_mut(c, j)?;
        let epoch = inst.epoch;
        let th = inst.threads.get_mut(t)?;
        if th.state != ThreadState::Ready {
            return None;
        }
        stack.extend(std::mem::take(&mut th.saved));
        Some((epoch, th.pc))
    }

    fn suspend(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        t: usize,
        pc: Pc,
        state: ThreadState,
        saved: ThinVec<Value>,
    ) {
        if let Some(th) = self.instance_mut(c, j).and_then(|i| i.threads.get_mut(t)) {
            th.pc = pc;
            th.state = state;
            th.saved = saved;
        }
        self.forget_unread(c, j);
    }

    fn sleep(
        &mut self,
        c: CustomerIx,
        j: JourneyId,
        t: usize,
        pc: Pc,
        until: crate::time::Instant,
    ) {
        let at = until.max(self.now());
        let id = self.schedule_instance_timer(c, j, at, TimerKind::Resume(t as u16));
        self.suspend(c, j, t, pc, ThreadState::Sleeping(id), ThinVec::new());
    }

    fn finish_thread(&mut self, c: CustomerIx, j: JourneyId, t: usize) {
        if let Some(th) = self.instance_mut(c, j).and_then(|i| i.threads.get_mut(t)) {
            th.state = ThreadState::Done;
        }
        self.forget_unread(c, j);
        self.maybe_complete(c, j);
    }

    /// Sticky assignment: the same customer and experiment always land in the same group.
    fn assign(&self, c: CustomerIx, x: ExperimentId) -> u16 {
        let xd = &self.program.experiments[x];
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(self.customers[c as usize].id.as_bytes());
        h.update(&[0]);
        h.update(xd.name.as_bytes());
        let bucket = (h.digest() % 10_000) as u32;
        let mut acc = 0;
        for (i, v) in xd.variants.iter().enumerate() {
            acc += v.weight_bp;
            if bucket < acc {
                return i as u16;
            }
        }
        xd.variants.len() as u16
    }
}
