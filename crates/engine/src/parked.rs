//! A durable open whose connection went away, kept for its client to reconnect
//! (MS-SMB2 3.3.7.1); held by the lock adapter until it is reclaimed or purged.

use crate::durable::Durable;
use crate::open::Open;
use std::time::Instant;

/// A disconnected durable open, waiting for its client.
pub struct Parked {
    pub open: Open,
    pub durable: Durable,
    /// The share's file system, to run a delete-on-close when the open is purged.
    pub fs: std::sync::Arc<opportune_fs::Share>,
    pub deadline: Instant,
    /// The UNIX identity of its tree (`unix_identity`), which that delete-on-close runs as.
    pub unix: Option<std::sync::Arc<opportune_fs::UnixIdentity>>,
}
