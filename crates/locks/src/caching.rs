//! Caching vocabulary: what a create asks for and is granted, in lease states
//! ([`LeaseState`], MS-SMB2 2.2.13.2.8) and oplock levels ([`OplockLevel`], MS-SMB2
//! 2.2.13), with the one mapping between them ([`OplockLevel::caching`]) so that oplocks
//! and leases go through one break planner (MS-FSA 2.1.1.10 models both as one Oplock
//! with READ/WRITE/HANDLE caching).

use crate::ids::{ClientGuid, LeaseKey};
pub use opportune_types::{LeaseState, OplockLevel};

/// SMB2_LEASE_FLAG_BREAK_IN_PROGRESS (MS-SMB2 2.2.14.2.10).
pub const LEASE_FLAG_BREAK_IN_PROGRESS: u32 = 0x2;
/// SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET (MS-SMB2 2.2.14.2.11).
pub const LEASE_FLAG_PARENT_LEASE_KEY_SET: u32 = 0x4;

/// What a CREATE asks for (MS-SMB2 2.2.13 RequestedOplockLevel plus the lease contexts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestedCaching {
    None,
    /// SMB2_OPLOCK_LEVEL_II, _EXCLUSIVE or _BATCH (any other level is granted nothing).
    Oplock(OplockLevel),
    /// SMB2_CREATE_REQUEST_LEASE (v1, `epoch == None`) or _V2.
    Lease { client: ClientGuid, key: LeaseKey, state: LeaseState, parent: Option<LeaseKey>, epoch: Option<u16> },
}

/// What a CREATE response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantedCaching {
    /// OplockLevel NONE and no lease context in the response.
    None,
    /// LEVEL_II, EXCLUSIVE or BATCH.
    Oplock(OplockLevel),
    /// OplockLevel SMB2_OPLOCK_LEVEL_LEASE with this lease response context (`flags`:
    /// `LEASE_FLAG_*`).
    Lease { state: LeaseState, flags: u32, epoch: u16, parent: Option<LeaseKey>, v2: bool },
}

impl GrantedCaching {
    /// The caching this grant amounts to.
    pub fn bits(&self) -> LeaseState {
        match *self {
            GrantedCaching::None => LeaseState::NONE,
            GrantedCaching::Oplock(l) => l.caching(),
            GrantedCaching::Lease { state, .. } => state,
        }
    }
}

/// A share's caching policy, carried by every create (MS-SMB2 3.3.1.6 Share.ForceLevel2Oplock,
/// and the server's oplock/lease support).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreatePolicy {
    pub oplocks_allowed: bool,
    pub level2_allowed: bool,
    pub leases_allowed: bool,
    /// Directory leases (SMB2_GLOBAL_CAP_DIRECTORY_LEASING): R and H on directories.
    pub directory_leases_allowed: bool,
}

impl Default for CreatePolicy {
    fn default() -> Self {
        CreatePolicy { oplocks_allowed: true, level2_allowed: true, leases_allowed: true, directory_leases_allowed: false }
    }
}
