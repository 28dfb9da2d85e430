//! Vocabulary shared by every Opportune crate.
//!
//! Nothing here does I/O or allocates on a hot path: these are the names of
//! things in MS-SMB2, MS-ERREF and MS-FSCC, as plain Rust types and constants.
#![forbid(unsafe_code)]

pub mod access;
pub mod attributes;
pub mod caching;
pub mod create;
pub mod file_id;
pub mod sid;
pub mod token;
pub mod status;
pub mod time;

pub use access::{AccessMask, ShareAccess};
pub use attributes::FileAttributes;
pub use caching::{ClientGuid, LeaseKey, LeaseState, OplockLevel};
pub use file_id::FileId;
pub use sid::Sid;
pub use token::Token;
pub use status::NtStatus;
