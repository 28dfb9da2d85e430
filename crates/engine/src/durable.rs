//! Durable handles: opens that outlive their connection (MS-SMB2 3.3.5.9.6 and
//! 3.3.5.9.10 grant them, 3.3.7.1 keeps them when the connection is lost, 3.3.5.9.7 and
//! 3.3.5.9.12 reconnect them, 3.3.4.6 and 3.3.4.7 close them when a break is due while
//! they are disconnected, 3.3.2.4 expires them). Persistent handles are not offered.
//!
//! A disconnected ("parked") open keeps everything the lock core knows of it: share
//! mode, oplock or lease, byte-range locks, delete-on-close. Its file descriptor stays
//! open in the parked [`Open`]. Another client that needs it broken purges it at once,
//! as Windows does: nobody is left to flush or acknowledge.

use opportune_types::{FileId, LeaseState, NtStatus, OplockLevel};
use opportune_wire::create::{context_name, CreateRequest};
use opportune_wire::durable::{decode_reconnect_v1, DurableV2Reconnect, DurableV2Request};
use std::time::Duration;

/// Longest timeout a v2 request gets (Windows and Samba: 300 s).
pub const MAX_TIMEOUT_MS: u32 = 300_000;
/// Timeout of v1 handles, and of v2 requests that leave it to the server (60 s, as
/// Windows Server 2012 and Samba).
pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;

/// What makes an open durable, and what a reconnect must match.
#[derive(Clone, Debug)]
pub struct Durable {
    pub v2: bool,
    /// Open.CreateGuid (zero for v1 handles).
    pub create_guid: [u8; 16],
    pub timeout: Duration,
    /// Connection.ClientGuid of the connection that holds it now.
    pub client_guid: [u8; 16],
    /// The lease key, when the open's caching is a lease.
    pub lease_key: Option<[u8; 16]>,
    /// Session.UserName of the creator when it is an authenticated user (MS-SMB2 3.3.5.9.7:
    /// a reconnect by another user is refused). None for guest and anonymous creators:
    /// nothing proves who they are, so no session can reconnect their opens.
    pub user: Option<String>,
}

/// A durable request in a CREATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    None,
    V1,
    V2(DurableV2Request),
}

/// A durable reconnect in a CREATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconnect {
    V1(FileId),
    V2(DurableV2Reconnect),
}

/// The durable contexts of a create (MS-SMB2 3.3.5.9.6, .7, .10, .12). DHnC wins over
/// a DHnQ next to it (which is ignored); any other pairing of durable contexts, and a
/// context too short for its structure, is STATUS_INVALID_PARAMETER. The v2 contexts
/// exist from SMB 3.0 on and are ignored before.
pub fn parse(req: &CreateRequest<'_>, dialect: u16) -> Result<(Request, Option<Reconnect>), NtStatus> {
    let v2_ok = dialect >= opportune_wire::negotiate::dialect::SMB300;
    let q1 = req.context(context_name::DURABLE_HANDLE_REQUEST);
    let c1 = req.context(context_name::DURABLE_HANDLE_RECONNECT);
    let q2 = req.context(context_name::DURABLE_HANDLE_REQUEST_V2).filter(|_| v2_ok);
    let c2 = req.context(context_name::DURABLE_HANDLE_RECONNECT_V2).filter(|_| v2_ok);
    if let Some(c) = c1 {
        if q2.is_some() || c2.is_some() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        return Ok((Request::None, Some(Reconnect::V1(decode_reconnect_v1(c.data)?))));
    }
    if let Some(c) = c2 {
        if q1.is_some() || q2.is_some() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        return Ok((Request::None, Some(Reconnect::V2(DurableV2Reconnect::decode(c.data)?))));
    }
    match (q1, q2) {
        (Some(_), Some(_)) => Err(NtStatus::INVALID_PARAMETER),
        (Some(c), None) if c.data.len() < 16 => Err(NtStatus::INVALID_PARAMETER),
        (Some(_), None) => Ok((Request::V1, None)),
        (None, Some(c)) => Ok((Request::V2(DurableV2Request::decode(c.data)?), None)),
        (None, None) => Ok((Request::None, None)),
    }
}

/// Whether the caching granted makes an open eligible: a batch oplock or a lease with
/// handle caching, on a file (MS-SMB2 3.3.5.9.6, 3.3.5.9.10; persistence is not offered).
pub fn eligible(level: Option<OplockLevel>, lease: Option<LeaseState>, is_dir: bool) -> bool {
    !is_dir
        && match lease {
            Some(state) => state.contains(LeaseState::H),
            None => level == Some(OplockLevel::Batch),
        }
}

/// The timeout a v2 request gets: its own, capped; the default for 0.
pub fn v2_timeout(requested: u32) -> u32 {
    if requested == 0 { DEFAULT_TIMEOUT_MS } else { requested.min(MAX_TIMEOUT_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_batch_and_handle_leases_on_files_are_durable() {
        assert!(eligible(Some(OplockLevel::Batch), None, false));
        for level in [None, Some(OplockLevel::None), Some(OplockLevel::LevelII), Some(OplockLevel::Exclusive)] {
            assert!(!eligible(level, None, false));
        }
        assert!(!eligible(Some(OplockLevel::Batch), None, true));
        for (state, ok) in [(0, false), (1, false), (5, false), (3, true), (7, true)] {
            assert_eq!(eligible(Some(OplockLevel::Lease), Some(LeaseState::from_wire(state)), false), ok, "{state}");
        }
    }

    #[test]
    fn v2_timeouts() {
        assert_eq!(v2_timeout(0), DEFAULT_TIMEOUT_MS);
        assert_eq!(v2_timeout(1), 1);
        assert_eq!(v2_timeout(u32::MAX), MAX_TIMEOUT_MS);
    }
}
