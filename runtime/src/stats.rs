//! Counters kept while the engine runs: per journey, per step (reached, branches, sends,
//! deferrals and skips by reason), per channel and template, per goal.

use std::collections::BTreeMap;

use cranelift_entity::SecondaryMap;
use journey_bytecode::{ChannelId, GoalId, JourneyId, Program, StepId};
use serde::Serialize;

use crate::effects::{ExitReason, Reason};

/// Per-journey counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct JourneyStats {
    /// Instances started.
    pub entered: u64,
    /// Instances ended, by reason.
    pub exited: BTreeMap<String, u64>,
}

/// Per-step counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StepStats {
    /// Times the step ran.
    pub reached: u64,
    /// Times each arm was taken (index into the step's arms).
    pub arms: Vec<u64>,
    /// Messages sent.
    pub sent: u64,
    /// Sends deferred, by reason.
    pub deferred: BTreeMap<Reason, u64>,
    /// Sends skipped, by reason.
    pub skipped: BTreeMap<Reason, u64>,
}

/// All counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Events processed (ingested and emitted).
    pub events: u64,
    /// Per journey.
    #[serde(skip)]
    pub journeys: SecondaryMap<JourneyId, JourneyStats>,
    /// Per step.
    #[serde(skip)]
    pub steps: SecondaryMap<StepId, StepStats>,
    /// Messages per (channel, template or `inline`).
    #[serde(skip)]
    pub sends: BTreeMap<(ChannelId, String), u64>,
    /// Conversions per goal.
    #[serde(skip)]
    pub goals: SecondaryMap<GoalId, u64>,
}

impl Stats {
    /// Empty counters sized for a program.
    pub fn new(p: &Program) -> Stats {
        let mut s = Stats::default();
        for (id, step) in p.steps.iter() {
            s.steps[id].arms = vec![0; step.arms.len()];
        }
        s
    }
    pub(crate) fn entered(&mut self, j: JourneyId) {
        self.journeys[j].entered += 1;
    }
    pub(crate) fn exited(&mut self, j: JourneyId, reason: ExitReason) {
        let key = match reason {
            ExitReason::Completed => "completed",
            ExitReason::Step => "exit-step",
            ExitReason::Event => "exit-event",
            ExitReason::Condition => "exit-condition",
            ExitReason::Lifetime => "lifetime",
        };
        *self.journeys[j].exited.entry(key.to_string()).or_insert(0) += 1;
    }
    pub(crate) fn reached(&mut self, step: StepId) {
        self.steps[step].reached += 1;
    }
    pub(crate) fn branch(&mut self, step: StepId, arm: u16) {
        let arms = &mut self.steps[step].arms;
        if arms.len() <= arm as usize {
            arms.resize(arm as usize + 1, 0);
        }
        arms[arm as usize] += 1;
    }
    pub(crate) fn sent(&mut self, step: StepId, channel: ChannelId, template: Option<&str>) {
        self.steps[step].sent += 1;
        *self
            .sends
            .entry((channel, template.unwrap_or("inline").to_string()))
            .or_insert(0) += 1;
    }
    pub(crate) fn deferred(&mut self, step: StepId, reason: Reason) {
        *self.steps[step].deferred.entry(reason).or_insert(0) += 1;
    }
    pub(crate) fn skipped(&mut self, step: StepId, reason: Reason) {
        *self.steps[step].skipped.entry(reason).or_insert(0) += 1;
    }
    pub(crate) fn goal(&mut self, g: GoalId) {
        self.goals[g] += 1;
    }
}

/// A duration in words: `7 days`, `12 hours`.
pub fn fmt_secs(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" }),
        s if s % 3_600 == 0 => format!("{} hour{}", s / 3_600, if s == 3_600 { "" } else { "s" }),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}
