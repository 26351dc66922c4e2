//! The journey bytecode: what the compiler writes and the runtime executes.
//!
//! IO-free and small on purpose: the runtime depends on it without depending on the
//! compiler's front end.
//!
//! - [`ids`]: typed entity ids (cranelift-entity).
//! - [`program`]: the [`Program`] and its entity tables.
//! - [`insn`]: the instruction set.
//! - [`value`]: constants, dates, times and types.
//! - [`format`](mod@format): the serialized form (magic, version, checksum) and loading.
//! - [`validate`]: checks that every reference in a loaded program is in range.
//! - [`disasm`]: the readable listing printed by `journey disasm`.

pub mod disasm;
pub mod format;
pub mod ids;
pub mod insn;
pub mod program;
pub mod validate;
pub mod value;

pub use disasm::disassemble;
pub use format::{FORMAT_VERSION, LoadError, MAGIC, decode, encode};
pub use ids::*;
pub use insn::{BinOp, Builtin, Insn};
pub use program::*;
pub use validate::{
    MAX_ENTRY_CLAUSES, MAX_JOURNEYS, MAX_TIMELINE_ENTRIES, ValidationError, expression_entries,
};
pub use value::{Const, Date, TimeOfDay, Type};

#[cfg(test)]
mod tests;
