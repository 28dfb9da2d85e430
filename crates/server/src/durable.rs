//! Durable handles: opens that outlive their connection (MS-SMB2 3.3.5.9.6 and
//! 3.3.5.9.10 grant them, 3.3.7.1 keeps them when the connection is lost, 3.3.5.9.7 and
//! 3.3.5.9.12 reconnect them, 3.3.4.6 and 3.3.4.7 close them when a break is due while
//! they are disconnected, 3.3.2.4 expires them). Persistent handles are not offered.
//!
//! A disconnected ("parked") open keeps everything the lock core knows of it: share
//! mode, oplock or lease, byte-range locks, delete-on-close. Its file descriptor stays
//! open in the parked [`Open`]. Another client that needs it broken purges it at once,
//! as Windows does: nobody is left to flush or acknowledge.

use opportune_types::create::oplock;
use opportune_types::{FileId, NtStatus};
use opportune_wire::create::{context_name, CreateRequest};
use opportune_wire::durable::{decode_reconnect_v1, DurableV2Reconnect, DurableV2Request};
use std::time::Duration;

/// Longest timeout a v2 request gets (Windows and Samba: 300 s).
pub const MAX_TIMEOUT_MS: u32 = 300_000;
/// Timeout of v1 handles, and of v2 requests that leave it to the server (60 s, as
/// Windows Server 2012 and Samba).
pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;

/// The lease state bit that makes a lease eligible (handle caching).
const LEASE_H: u32 = 0x2;

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
pub fn eligible(oplock_level: u8, lease_state: Option<u32>, is_dir: bool) -> bool {
    !is_dir
        && match lease_state {
            Some(state) => state & LEASE_H != 0,
            None => oplock_level == oplock::BATCH,
        }
}

/// The timeout a v2 request gets: its own, capped; the default for 0.
pub fn v2_timeout(requested: u32) -> u32 {
    if requested == 0 { DEFAULT_TIMEOUT_MS } else { requested.min(MAX_TIMEOUT_MS) }
}

/// The oplock level the lock core's caching bits stand for (R, RW, RWH).
pub fn oplock_level_of(bits: u32) -> u8 {
    match bits & 0x7 {
        0x7 => oplock::BATCH,
        0x5 => oplock::EXCLUSIVE,
        0x1 => oplock::LEVEL_II,
        _ => oplock::NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_batch_and_handle_leases_on_files_are_durable() {
        assert!(eligible(oplock::BATCH, None, false));
        for level in [oplock::NONE, oplock::LEVEL_II, oplock::EXCLUSIVE] {
            assert!(!eligible(level, None, false));
        }
        assert!(!eligible(oplock::BATCH, None, true));
        for (state, ok) in [(0, false), (1, false), (5, false), (3, true), (7, true)] {
            assert_eq!(eligible(oplock::LEASE, Some(state), false), ok, "{state}");
        }
    }

    #[test]
    fn v2_timeouts() {
        assert_eq!(v2_timeout(0), DEFAULT_TIMEOUT_MS);
        assert_eq!(v2_timeout(1), 1);
        assert_eq!(v2_timeout(u32::MAX), MAX_TIMEOUT_MS);
    }

    #[test]
    fn caching_bits_map_back_to_oplock_levels() {
        assert_eq!(oplock_level_of(7), oplock::BATCH);
        assert_eq!(oplock_level_of(5), oplock::EXCLUSIVE);
        assert_eq!(oplock_level_of(1), oplock::LEVEL_II);
        assert_eq!(oplock_level_of(0), oplock::NONE);
    }
}
