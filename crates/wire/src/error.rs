//! Decode errors. Every one of them maps to STATUS_INVALID_PARAMETER or a dropped
//! connection in the server; none can panic.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("message truncated: needed {needed} bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    #[error("bad structure size {found} (expected {expected})")]
    StructureSize { expected: u16, found: u16 },
    #[error("buffer at offset {offset} length {length} lies outside the message")]
    OutOfBounds { offset: usize, length: usize },
    #[error("not an SMB2 message")]
    BadProtocolId,
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

pub type Result<T> = std::result::Result<T, WireError>;

/// A request that does not decode is STATUS_INVALID_PARAMETER (MS-SMB2 3.3.5.2.x: the
/// server fails requests whose fields are out of range); the one place this mapping is
/// made, so a handler decodes with a plain `?`. Framing errors that must end the
/// connection never reach here: the transport drops it before a handler runs.
impl From<WireError> for opportune_types::NtStatus {
    fn from(_: WireError) -> opportune_types::NtStatus {
        opportune_types::NtStatus::INVALID_PARAMETER
    }
}
