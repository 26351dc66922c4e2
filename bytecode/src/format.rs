//! The serialized form of a [`Program`] and its loading.
//!
//! Layout (all integers little-endian):
//!
//! | offset | size | content                                             |
//! |-------:|-----:|-----------------------------------------------------|
//! | 0      | 8    | [`MAGIC`] (`JOURNEY\0`)                             |
//! | 8      | 4    | [`FORMAT_VERSION`] (u32)                            |
//! | 12     | 8    | payload length in bytes (u64)                       |
//! | 20     | 8    | checksum: `xxh3_64` of the payload (u64)            |
//! | 28     | n    | payload: the postcard encoding of the [`Program`]   |
//!
//! [`decode`] checks the header piece by piece before it looks at the payload, checks the
//! declared length against the input before using it (so a forged length allocates nothing),
//! verifies the checksum, decodes, then [validates](crate::validate::validate) the program:
//! a program returned by [`decode`] can be executed without bounds checks on its tables.

use xxhash_rust::xxh3::xxh3_64;

use crate::program::Program;
use crate::validate::{ValidationError, validate};
use crate::value::MAX_NESTING;

/// The first eight bytes of every bytecode file.
pub const MAGIC: [u8; 8] = *b"JOURNEY\0";

/// The version of the layout and of the payload encoding. Bumped on any change to the
/// [`Program`] data model.
pub const FORMAT_VERSION: u32 = 3;

/// Size of the fixed header: magic, version, payload length, checksum.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// Why a bytecode file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not start with [`MAGIC`].
    #[error(
        "this is not a journey bytecode file (expected magic `JOURNEY\\0` at its start); \
         bytecode files are written by `journey build`"
    )]
    NotBytecode,
    /// The file is shorter than its header says.
    #[error(
        "the bytecode file is truncated ({found} bytes, expected {expected}); \
         rebuild it with `journey build`"
    )]
    Truncated {
        /// The size the header announces (or the header's own size).
        expected: u64,
        /// The actual size.
        found: u64,
    },
    /// The file was written in another format version.
    #[error(
        "this bytecode was written by a different compiler version (format version {found}, \
         this version reads format {supported}); rebuild with `journey build`"
    )]
    UnsupportedVersion {
        /// The file's format version.
        found: u32,
        /// The version this crate reads ([`FORMAT_VERSION`]).
        supported: u32,
    },
    /// The payload does not match its checksum.
    #[error(
        "the bytecode file is corrupted (checksum {found:016x}, expected {expected:016x}); \
         rebuild it with `journey build`"
    )]
    ChecksumMismatch {
        /// The checksum written in the header.
        expected: u64,
        /// The checksum of the payload as read.
        found: u64,
    },
    /// The payload passed the checksum but is not a valid encoding of a program.
    #[error(
        "the bytecode payload could not be decoded ({0}); rebuild it with `journey build` \
         (if that does not help, this is a compiler bug)"
    )]
    Malformed(String),
    /// The program decoded but refers to things that do not exist.
    #[error(
        "the bytecode is inconsistent: {0}; rebuild it with `journey build` \
         (if that does not help, this is a compiler bug)"
    )]
    Invalid(#[from] ValidationError),
}

/// Serialize a program: header, then the postcard payload.
pub fn encode(program: &Program) -> Vec<u8> {
    // Postcard only fails on sequences of unknown length and on custom serializer errors;
    // every type of the program is a derived serializer over sized collections.
    let payload = postcard::to_allocvec(program)
        .expect("postcard serializes every Program: all collections have a known length");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Read a little-endian integer of `N` bytes at `at`, if the input is long enough.
fn le_bytes<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Load a program: check the header, the length and the checksum, decode the payload and
/// validate it ([`validate`]).
///
/// Never panics, and allocates nothing in proportion to a length read from the input before
/// checking it against the input's size.
pub fn decode(bytes: &[u8]) -> Result<Program, LoadError> {
    let found = bytes.len() as u64;
    let truncated = |expected: u64| LoadError::Truncated { expected, found };

    // Magic: a short file that is a prefix of it is truncated, anything else is not ours.
    match bytes.get(..MAGIC.len()) {
        Some(magic) if magic == MAGIC => {}
        Some(_) => return Err(LoadError::NotBytecode),
        None if MAGIC.starts_with(bytes) => return Err(truncated(HEADER_LEN as u64)),
        None => return Err(LoadError::NotBytecode),
    }

    // Version, before anything else: another version may lay out the rest differently.
    let version = le_bytes::<4>(bytes, 8)
        .map(u32::from_le_bytes)
        .ok_or_else(|| truncated(HEADER_LEN as u64))?;
    if version != FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }

    let (Some(len), Some(checksum)) = (le_bytes::<8>(bytes, 12), le_bytes::<8>(bytes, 20)) else {
        return Err(truncated(HEADER_LEN as u64));
    };
    let len = u64::from_le_bytes(len);
    let checksum = u64::from_le_bytes(checksum);

    // The declared length against the actual size, before using it.
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let expected_total = len.saturating_add(HEADER_LEN as u64);
    if len > body.len() as u64 {
        return Err(truncated(expected_total));
    }
    if len < body.len() as u64 {
        return Err(LoadError::Malformed(format!(
            "{} unexpected bytes after the {len}-byte payload",
            body.len() as u64 - len
        )));
    }
    let payload = body;

    let actual = xxh3_64(payload);
    if actual != checksum {
        return Err(LoadError::ChecksumMismatch {
            expected: checksum,
            found: actual,
        });
    }

    let (program, rest) = postcard::take_from_bytes::<Program>(payload).map_err(|e| {
        LoadError::Malformed(match e {
            // Postcard drops the message of custom errors.
            postcard::Error::SerdeDeCustom => {
                format!("an unknown variant or a value nested more than {MAX_NESTING} levels deep")
            }
            e => e.to_string(),
        })
    })?;
    if !rest.is_empty() {
        return Err(LoadError::Malformed(format!(
            "{} unexpected bytes after the program",
            rest.len()
        )));
    }
    validate(&program)?;
    Ok(program)
}
