//! Tests of the serialized form, the validator and the disassembler, on a hand-built program.

mod disasm;
mod format;
mod props;
mod sample;
mod validate;
