//! Entity ids of the program's tables, all declared here. Each displays with a short prefix
//! (`journey0`, `step12`, `seg3`) so dumps read well.

use cranelift_entity::entity_impl;
use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(u32);
        entity_impl!($name, $prefix);
    )*};
}

// `entity_impl!` provides `Debug` (same as `Display`: `step12`), so it is not derived.
ids! {
    /// A source file.
    FileId = "file";
    /// A constant in the pool.
    ConstId = "const";
    /// A profile attribute.
    AttrId = "attr";
    /// An event schema.
    EventId = "event";
    /// An event-history aggregate.
    AggId = "agg";
    /// A segment.
    SegmentId = "seg";
    /// A channel.
    ChannelId = "chan";
    /// A template.
    TemplateId = "tpl";
    /// An offer.
    OfferId = "offer";
    /// A pressure policy.
    PolicyId = "policy";
    /// A journey.
    JourneyId = "journey";
    /// A step of a journey.
    StepId = "step";
    /// A send's operands.
    SendId = "send";
    /// An emit's operands.
    EmitId = "emit";
    /// A wait-for-event's operands.
    WaitId = "wait";
    /// An experiment.
    ExperimentId = "exp";
    /// A conversion goal.
    GoalId = "goal";
    /// A test block.
    TestId = "test";
}
