//! Property tests: loading never panics, and any damage to a valid file is reported.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;

use super::format::frame;
use super::sample;
use crate::disasm::disassemble;
use crate::format::{FORMAT_VERSION, HEADER_LEN, MAGIC, decode, encode};
use crate::program::Program;
use crate::validate::validate;

static ENCODED: LazyLock<Vec<u8>> = LazyLock::new(|| encode(&sample::program()));

/// What a loaded (or merely deserialized) program must support without panicking.
fn exercise(bytes: &[u8]) {
    if let Ok(program) = decode(bytes) {
        assert_eq!(validate(&program), Ok(()));
        let _ = disassemble(&program);
    }
}

/// A forged payload: deserialize without validation, then validate and disassemble.
fn exercise_payload(payload: &[u8]) {
    if let Ok(program) = postcard::from_bytes::<Program>(payload) {
        let valid = validate(&program).is_ok();
        let _ = disassemble(&program);
        if valid {
            // A valid program survives the round trip.
            assert_eq!(decode(&encode(&program)).map(|_| ()), Ok(()));
        }
    }
    exercise(&frame(payload));
}

/// A byte that is often a small varint (an id, a tag, a length) and sometimes anything.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![0u8..16, any::<u8>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_good_header_never_panic(
        rest in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&rest);
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_payloads_never_panic(payload in prop::collection::vec(byte(), 0..2048)) {
        exercise_payload(&payload);
    }

    #[test]
    fn any_flip_is_an_error(at in any::<Index>(), mask in 1u8..=255) {
        let mut bytes = ENCODED.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        prop_assert!(decode(&bytes).is_err(), "flipping byte {} went unnoticed", i);
    }

    #[test]
    fn payload_flips_fail_the_checksum(at in any::<Index>(), mask in 1u8..=255) {
        let mut bytes = ENCODED.clone();
        let i = HEADER_LEN + at.index(bytes.len() - HEADER_LEN);
        bytes[i] ^= mask;
        let err = decode(&bytes);
        prop_assert!(
            matches!(err, Err(crate::format::LoadError::ChecksumMismatch { .. })),
            "{:?}", err
        );
    }

    #[test]
    fn truncation_is_an_error(at in any::<Index>()) {
        let len = at.index(ENCODED.len());
        prop_assert!(decode(&ENCODED[..len]).is_err());
    }

    #[test]
    fn extension_is_an_error(extra in prop::collection::vec(any::<u8>(), 1..16)) {
        let mut bytes = ENCODED.clone();
        bytes.extend_from_slice(&extra);
        prop_assert!(decode(&bytes).is_err());
    }

    /// A forger who recomputes the checksum: each edit may decode or not, but never panics,
    /// and whatever decodes is valid.
    #[test]
    fn forged_payload_edits_never_panic(
        edits in prop::collection::vec((any::<Index>(), byte()), 1..4),
        insert in prop::option::of((any::<Index>(), prop::collection::vec(byte(), 1..8))),
        cut in prop::option::of((any::<Index>(), 1usize..8)),
    ) {
        let mut payload = ENCODED[HEADER_LEN..].to_vec();
        for (at, value) in edits {
            let i = at.index(payload.len());
            payload[i] = value;
        }
        if let Some((at, bytes)) = insert {
            let i = at.index(payload.len());
            payload.splice(i..i, bytes);
        }
        if let Some((at, n)) = cut {
            let i = at.index(payload.len());
            let end = (i + n).min(payload.len());
            payload.drain(i..end);
        }
        exercise_payload(&payload);
    }
}
