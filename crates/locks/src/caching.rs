//! Caching vocabulary: lease state bits (MS-SMB2 2.2.13.2.8), oplock levels
//! (MS-SMB2 2.2.13), and the mapping between them used internally so that oplocks
//! and leases go through one break planner (MS-FSA 2.1.1.10 models both as one
//! Oplock with READ/WRITE/HANDLE caching).

use crate::ids::{ClientGuid, LeaseKey};
use opportune_types::{LeaseState, OplockLevel};

/// SMB2_LEASE_READ_CACHING, as the core's bit sets spell it ([`LeaseState`] in words).
pub const R: u32 = LeaseState::R.bits();
/// SMB2_LEASE_HANDLE_CACHING.
pub const H: u32 = LeaseState::H.bits();
/// SMB2_LEASE_WRITE_CACHING.
pub const W: u32 = LeaseState::W.bits();
pub const RWH: u32 = LeaseState::RWH.bits();

/// SMB2_LEASE_FLAG_BREAK_IN_PROGRESS (MS-SMB2 2.2.14.2.10).
pub const LEASE_FLAG_BREAK_IN_PROGRESS: u32 = 0x2;
/// SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET (MS-SMB2 2.2.14.2.11).
pub const LEASE_FLAG_PARENT_LEASE_KEY_SET: u32 = 0x4;

/// Caching an oplock level amounts to: Level II = R, exclusive = RW, batch = RWH (the
/// one mapping, [`OplockLevel::caching`]); nothing for any other byte.
pub fn oplock_bits(level: u8) -> u32 {
    OplockLevel::from_wire(level).map_or(0, |l| l.caching().bits())
}

/// What a CREATE asks for (MS-SMB2 2.2.13 RequestedOplockLevel plus the lease contexts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestedCaching {
    None,
    /// SMB2_OPLOCK_LEVEL_II, _EXCLUSIVE or _BATCH.
    Oplock(u8),
    /// SMB2_CREATE_REQUEST_LEASE (v1, `epoch == None`) or _V2.
    Lease { client: ClientGuid, key: LeaseKey, state: u32, parent: Option<LeaseKey>, epoch: Option<u16> },
}

/// What a CREATE response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantedCaching {
    /// OplockLevel NONE and no lease context in the response.
    None,
    Oplock(u8),
    /// OplockLevel SMB2_OPLOCK_LEVEL_LEASE with this lease response context.
    Lease { state: u32, flags: u32, epoch: u16, parent: Option<LeaseKey>, v2: bool },
}

impl GrantedCaching {
    /// The caching bits this grant amounts to.
    pub fn bits(&self) -> u32 {
        match *self {
            GrantedCaching::None => 0,
            GrantedCaching::Oplock(l) => oplock_bits(l),
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

/// Renders lease bits as smbtorture does ("RWH"), for tests and logs.
pub fn state_name(bits: u32) -> String {
    LeaseState::from_wire(bits).to_string()
}
