//! Opportune lock core: share modes, delete-pending, byte-range locks, oplocks, leases
//! and the break state machine of an SMB2/SMB3 server, as a sans-IO library.
//!
//! The server feeds inputs through `handle_*` methods, passing the current time where
//! timers matter, and drains outputs through [`LockCore::poll_event`] and
//! [`LockCore::poll_timeout`]. Nothing here reads a clock, sleeps, does I/O or knows
//! the wire format; a refused request is an ordinary outcome, not a Rust error.
#![forbid(unsafe_code)]

mod acks;
pub mod api;
pub mod breaks;
pub mod byte_range;
pub mod caching;
mod core;
mod dir_lease;
mod grant;
mod hash;
mod host_names;
mod granted;
mod host_contender;
pub mod ids;
mod interval_index;
pub mod lease;
mod lease_registry;
mod lock_records;
mod locking;
pub mod oplock;
mod ops;
mod pending;
pub mod share_mode;
mod table;
#[cfg(test)]
mod test_rng;
mod views;

pub use api::{CloseOutcome, Config, CreateOutcome, CreateRequest, Event, LockOutcome, RenameOutcome};
pub use lock_records::{LockElement, LockKind};
pub use caching::{CreatePolicy, GrantedCaching, LeaseState, OplockLevel, RequestedCaching};
pub use core::{CachingView, LockCore};
pub use lease_registry::LeaseRegistry;
pub use host_contender::HostAccess;
pub use views::OpenView;
pub use ids::{ClientGuid, ConnId, FileKey, LeaseId, LeaseKey, OpenId, RequestId};
