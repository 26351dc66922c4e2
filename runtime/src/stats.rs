//! Counters kept while the engine runs: per journey, per step (reached, branches, sends,
//! deferrals and skips by reason), per channel and template, per goal.

use std::collections::BTreeMap;

use cranelift_entity::SecondaryMap;
use journey_bytecode::{ChannelId, GoalId, JourneyId, Program, SendId, StepId};
use serde::Serialize;

use crate::effects::{ExitReason, Reason};

/// Per-journey counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct JourneyStats {
    /// Instances started.
    pub entered: u64,
    /// Instances ended, by reason (`completed`, `exit-step`, `exit-event`, `exit-condition`,
    /// `lifetime`).
    pub exited: BTreeMap<&'static str, u64>,
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
    /// Messages per `send` instruction ([`Stats::sends_by_template`] groups them by channel
    /// and template): counting one costs no lookup by name.
    #[serde(skip)]
    pub sends: SecondaryMap<SendId, u64>,
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
        *self.journeys[j].exited.entry(key).or_insert(0) += 1;
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
    pub(crate) fn sent(&mut self, step: StepId, send: SendId) {
        self.steps[step].sent += 1;
        self.sends[send] += 1;
    }
    /// The messages sent on `channel`, by template name (the provider's id for an external
    /// template, `inline` for inline content), in name order, leaving out templates never
    /// sent.
    pub fn sends_by_template(&self, p: &Program, channel: ChannelId) -> Vec<(String, u64)> {
        let mut by_name: BTreeMap<&str, u64> = BTreeMap::new();
        for (s, sd) in p.sends.iter() {
            let n = self.sends[s];
            if sd.channel != channel || n == 0 {
                continue;
            }
            let name = sd.message.template_name(p).unwrap_or("inline");
            *by_name.entry(name).or_insert(0) += n;
        }
        by_name
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect()
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
