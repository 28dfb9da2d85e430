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
