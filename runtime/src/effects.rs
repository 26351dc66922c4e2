//! What the engine produces: effects for the host to carry out (sends, emitted events) and
//! records of everything it decided (entries, branches, deferrals, skips, exits, goals), each
//! with its reason, for reports, tests and explanations.

use journey_bytecode::{ChannelId, EventId, ExperimentId, GoalId, JourneyId, Loc, OfferId, StepId};
use serde::Serialize;

use crate::time::Instant;
use crate::value::Value;

/// A customer's index in the engine.
pub type CustomerIx = u32;

/// A rendered message ready for a channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendRecord {
    /// Customer id.
    pub customer: String,
    /// Journey.
    pub journey: JourneyId,
    /// Step.
    pub step: StepId,
    /// Channel.
    pub channel: ChannelId,
    /// Template name (declared), provider template id (external), or `None` for inline text.
    pub template: Option<String>,
    /// Whether `template` is a provider-side id.
    pub external: bool,
    /// Rendered parts (`subject`, `text`...).
    pub parts: Vec<(String, String)>,
    /// Parameters.
    pub params: Vec<(String, Value)>,
    /// The chosen offer.
    pub offer: Option<OfferId>,
    /// When it is sent.
    pub at: Instant,
    /// Unique per (customer, journey instance, step, attempt of the journey): a retried send
    /// carries the same key, so the channel can drop duplicates.
    pub idempotency_key: String,
    /// The customer's addresses from the profile, for the channel: the attributes named in
    /// [`ADDRESS_ATTRIBUTES`] that are set.
    pub recipient: Vec<(&'static str, String)>,
    /// The customer's IANA time zone.
    pub time_zone: String,
}

/// Profile attributes handed to channels with each send (when the schema has them and they
/// are set): where to reach the customer, and in which language.
pub const ADDRESS_ATTRIBUTES: &[&str] = &["email", "phone", "push_token", "locale"];

/// Why a send did not happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The channel's consent condition is false.
    NoConsent,
    /// A frequency cap is reached.
    Cap,
    /// Quiet hours.
    QuietHours,
    /// No offer is eligible.
    NoEligibleOffer,
    /// The customer is in the experiment's holdout.
    Holdout,
    /// Emitted events re-triggered each other too deeply.
    EmitLoop,
}

impl Reason {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Reason::NoConsent => "no-consent",
            Reason::Cap => "cap",
            Reason::QuietHours => "quiet-hours",
            Reason::NoEligibleOffer => "no-eligible-offer",
            Reason::Holdout => "holdout",
            Reason::EmitLoop => "emit-loop",
        }
    }
}

/// Why an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ExitReason {
    /// It ran to its end (body done, timeline done).
    Completed,
    /// An `exit` step.
    Step,
    /// An `exit on EVENT` clause.
    Event,
    /// An `exit when` clause.
    Condition,
    /// `exit after` elapsed.
    Lifetime,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Effect {
    /// A customer entered a journey.
    Entered {
        /// Customer.
        customer: CustomerIx,
        /// Journey.
        journey: JourneyId,
        /// When.
        at: Instant,
    },
    /// A step ran.
    Reached {
        /// Customer.
        customer: CustomerIx,
        /// Step.
        step: StepId,
        /// When.
        at: Instant,
    },
    /// A branching step took an arm.
    Branch {
        /// Customer.
        customer: CustomerIx,
        /// Step.
        step: StepId,
        /// Arm index into the step's arms.
        arm: u16,
        /// When.
        at: Instant,
    },
    /// A customer was assigned to an experiment variant (`variants.len()` is the holdout).
    Assigned {
        /// Customer.
        customer: CustomerIx,
        /// Experiment.
        experiment: ExperimentId,
        /// Variant.
        variant: u16,
        /// When.
        at: Instant,
    },
    /// A message to send.
    Send(SendRecord),
    /// A send postponed.
    Deferred {
        /// Customer.
        customer: CustomerIx,
        /// Step.
        step: StepId,
        /// Why.
        reason: Reason,
        /// When it was due.
        at: Instant,
        /// Until when.
        until: Instant,
    },
    /// A send not made.
    Skipped {
        /// Customer.
        customer: CustomerIx,
        /// Step.
        step: StepId,
        /// Why.
        reason: Reason,
        /// When.
        at: Instant,
    },
    /// An event emitted by a journey.
    Emitted {
        /// Customer.
        customer: CustomerIx,
        /// Event.
        event: EventId,
        /// Properties.
        props: Vec<Value>,
        /// When.
        at: Instant,
    },
    /// A goal converted.
    Goal {
        /// Customer.
        customer: CustomerIx,
        /// Goal.
        goal: GoalId,
        /// When.
        at: Instant,
    },
    /// A customer left a journey.
    Exited {
        /// Customer.
        customer: CustomerIx,
        /// Journey.
        journey: JourneyId,
        /// Why.
        reason: ExitReason,
        /// When.
        at: Instant,
    },
}

/// A decision with its reason in words, for `journey simulate --explain` and test failures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// When.
    pub at: Instant,
    /// Journey, if any.
    pub journey: Option<JourneyId>,
    /// What was decided and why ("scenario → jeune: profile.age = 22").
    pub text: String,
    /// The source location that decided it.
    pub loc: Option<Loc>,
}

/// Where sends go. The wasm plugin host implements it; [`RecordingChannel`] keeps them.
pub trait ChannelSink {
    /// Delivers (or records) one message.
    fn deliver(&mut self, send: &SendRecord);
}

/// A channel that records what would have been sent.
#[derive(Debug, Default, Clone)]
pub struct RecordingChannel {
    /// Every message delivered, in order.
    pub sent: Vec<SendRecord>,
}

impl ChannelSink for RecordingChannel {
    fn deliver(&mut self, send: &SendRecord) {
        self.sent.push(send.clone());
    }
}
