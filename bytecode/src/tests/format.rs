//! The serialized form: layout, round trip and every load error.

use xxhash_rust::xxh3::xxh3_64;

use super::sample;
use crate::format::{FORMAT_VERSION, HEADER_LEN, LoadError, MAGIC, decode, encode};
use crate::program::{AttrDef, Program};
use crate::validate::ValidationError;
use crate::value::{MAX_NESTING, Type};

/// Wrap a payload in a header with a correct length and checksum.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn round_trip() {
    let program = sample::program();
    let bytes = encode(&program);
    let back = decode(&bytes).expect("the sample decodes");
    assert_eq!(back, program);
    // Deterministic.
    assert_eq!(encode(&back), bytes);
}

#[test]
fn empty_program_round_trips() {
    let program = Program::default();
    assert_eq!(decode(&encode(&program)), Ok(program));
}

#[test]
fn header_layout() {
    let bytes = encode(&sample::program());
    assert_eq!(bytes[..8], MAGIC);
    assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
    assert_eq!(FORMAT_VERSION, 3);
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    assert_eq!(len as usize, bytes.len() - HEADER_LEN);
    let checksum = u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
    assert_eq!(checksum, xxh3_64(&bytes[HEADER_LEN..]));
}

#[test]
fn not_bytecode() {
    let err = decode(b"journey premiere_annee {\n}\n").expect_err("source text");
    assert_eq!(err, LoadError::NotBytecode);
    assert!(err.to_string().contains("not a journey bytecode file"));
    assert_eq!(decode(b"PK"), Err(LoadError::NotBytecode));
}

#[test]
fn truncated() {
    let bytes = encode(&sample::program());
    let n = bytes.len() as u64;
    assert_eq!(
        decode(&[]),
        Err(LoadError::Truncated {
            expected: HEADER_LEN as u64,
            found: 0
        })
    );
    assert!(matches!(decode(b"JOUR"), Err(LoadError::Truncated { .. })));
    assert!(matches!(
        decode(&bytes[..HEADER_LEN - 1]),
        Err(LoadError::Truncated { .. })
    ));
    let err = decode(&bytes[..bytes.len() - 1]).expect_err("one byte short");
    assert_eq!(
        err,
        LoadError::Truncated {
            expected: n,
            found: n - 1
        }
    );
    assert!(err.to_string().contains("journey build"), "{err}");
}

#[test]
fn unsupported_version() {
    let mut bytes = encode(&sample::program());
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    let err = decode(&bytes).expect_err("future version");
    assert_eq!(
        err,
        LoadError::UnsupportedVersion {
            found: 7,
            supported: FORMAT_VERSION
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("different compiler version"), "{msg}");
    assert!(msg.contains("rebuild with `journey build`"), "{msg}");
    // The version is checked before the rest of the header.
    let mut short = MAGIC.to_vec();
    short.extend_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        decode(&short),
        Err(LoadError::UnsupportedVersion { found: 1, .. })
    ));
}

#[test]
fn forged_length_is_checked_first() {
    let mut bytes = encode(&sample::program());
    bytes[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        decode(&bytes),
        Err(LoadError::Truncated {
            expected: u64::MAX,
            ..
        })
    ));
}

#[test]
fn trailing_bytes() {
    let mut bytes = encode(&sample::program());
    bytes.push(0);
    assert!(matches!(decode(&bytes), Err(LoadError::Malformed(_))));
    // Also inside the checksummed payload.
    let mut payload = postcard::to_allocvec(&sample::program()).expect("encodes");
    payload.push(0);
    let err = decode(&frame(&payload)).expect_err("trailing byte");
    assert!(matches!(err, LoadError::Malformed(ref m) if m.contains("after the program")));
}

#[test]
fn checksum_mismatch() {
    let mut bytes = encode(&sample::program());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let err = decode(&bytes).expect_err("flipped");
    assert!(matches!(err, LoadError::ChecksumMismatch { .. }));
    assert!(err.to_string().contains("corrupted"), "{err}");
}

#[test]
fn malformed_payload_with_good_checksum() {
    let err = decode(&frame(&[0xff; 40])).expect_err("garbage");
    assert!(matches!(err, LoadError::Malformed(_)), "{err:?}");
    assert!(err.to_string().contains("could not be decoded"), "{err}");
}

#[test]
fn invalid_program_is_rejected_on_load() {
    let mut program = sample::program();
    program.locs.pop();
    let err = decode(&encode(&program)).expect_err("invalid");
    assert!(matches!(
        err,
        LoadError::Invalid(ValidationError::LocsMismatch { .. })
    ));
    assert!(err.to_string().contains("inconsistent"), "{err}");
}

fn nested(depth: usize) -> Type {
    (0..depth).fold(Type::Number, |t, _| Type::List(Box::new(t)))
}

fn with_attr_type(ty: Type) -> Program {
    let mut program = sample::program();
    program.attributes.push(AttrDef {
        name: "deep".into(),
        ty,
        default: None,
    });
    program
}

#[test]
fn nesting_is_bounded() {
    // Up to the limit: fine.
    let ok = with_attr_type(nested(MAX_NESTING as usize - 1));
    assert_eq!(decode(&encode(&ok)), Ok(ok));
    // One more level: refused.
    let deep = with_attr_type(nested(MAX_NESTING as usize));
    let err = decode(&encode(&deep)).expect_err("too deep");
    assert!(
        matches!(err, LoadError::Malformed(ref m) if m.contains("nested")),
        "{err:?}"
    );
    // The refusal leaves the depth counter balanced: decoding works again afterwards.
    let program = sample::program();
    assert_eq!(decode(&encode(&program)), Ok(program));
}

#[test]
fn forged_deep_nesting_does_not_overflow_the_stack() {
    // Postcard: the attribute's name, then the `Type` tag; `List` is variant 7.
    let program = with_attr_type(nested(1));
    let payload = postcard::to_allocvec(&program).expect("encodes");
    let marker = b"\x04deep\x07";
    let at = payload
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the attribute is in the payload")
        + marker.len();
    let mut forged = payload[..at].to_vec();
    forged.extend(std::iter::repeat_n(7u8, 1_000_000));
    forged.extend_from_slice(&payload[at..]);
    let err = decode(&frame(&forged)).expect_err("too deep");
    assert!(
        matches!(err, LoadError::Malformed(ref m) if m.contains("nested")),
        "{err:?}"
    );
}
