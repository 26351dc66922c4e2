//! The journey runtime core.
//!
//! A deterministic, sans-IO engine that executes compiled journeys ([`journey_bytecode`]) for
//! many customers on a virtual clock: feed it timestamped inputs (profiles, events, API
//! entries), advance the clock, drain the effects (sends, emitted events, entries, exits,
//! goals, deferrals and skips with their reasons). It reads no wall clock and does no IO;
//! customer and instance state are plain serde data.
//!
//! - [`engine`]: the [`Engine`] and its inputs.
//! - [`effects`]: what it produces, and the channel interface ([`ChannelSink`]).
//! - [`time`]: time zones, daylight saving, calendar arithmetic, quiet hours.
//! - [`calendar`]: an instance's timeline and lifetime, computed when needed.
//! - [`scheduler`]: the timer queue (millions of timers, O(log n)).
//! - [`testing`]: runs a program's `test` blocks (`journey test`).
//! - [`stats`]: counters per journey, step, channel and reason.

pub mod calendar;
pub mod customer;
mod drift;
pub mod effects;
pub mod engine;
mod expr;
mod intern;
mod liveness;
pub mod scheduler;
mod segments;
mod sending;
pub mod simulate;
pub mod stats;
pub mod testing;
mod threads;
pub mod time;
pub mod value;
mod vm;

pub use effects::{
    ADDRESS_ATTRIBUTES, ChannelSink, Decision, Effect, RecordingChannel, SendRecord,
};
pub use engine::{Config, Engine, Explain};
pub use value::Value;

/// Compiles a one-file project for unit tests; panics with the diagnostics if it does not
/// compile.
#[cfg(test)]
pub(crate) fn test_program(source: &str) -> std::sync::Arc<journey_bytecode::Program> {
    use journey_compiler::{Input, MemoryHost, compile};
    let mut host = MemoryHost::new();
    host.insert("p.journey", source);
    let input = Input {
        roots: vec!["p.journey".into()],
        default_name: "p".into(),
        ..Input::default()
    };
    let c = compile(&host, &input);
    match c.program {
        Some(p) => std::sync::Arc::new(p),
        None => panic!("does not compile: {:?}\n{source}", c.diagnostics),
    }
}

/// The event of a unit test's program named `name`.
#[cfg(test)]
pub(crate) fn test_event(p: &journey_bytecode::Program, name: &str) -> journey_bytecode::EventId {
    p.events
        .iter()
        .find(|(_, e)| e.name == name)
        .map(|(id, _)| id)
        .expect("event")
}

/// The attribute of a unit test's program named `name`.
#[cfg(test)]
pub(crate) fn test_attribute(
    p: &journey_bytecode::Program,
    name: &str,
) -> journey_bytecode::AttrId {
    p.attributes
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(id, _)| id)
        .expect("attribute")
}

/// The effects an engine has produced so far, taken, as text to compare runs by.
#[cfg(test)]
pub(crate) fn test_effects(engine: &mut Engine) -> impl Iterator<Item = String> {
    engine.drain_effects().into_iter().map(|e| format!("{e:?}"))
}
