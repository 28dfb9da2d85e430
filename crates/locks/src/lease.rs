//! Leases (MS-SMB2 3.3.1.12 "Per Lease"): the grant rules of MS-SMB2 3.3.5.9.8 /
//! MS-FSA 2.1.5.17.2 and the acknowledgment rules of MS-SMB2 3.3.5.22.2.
//!
//! Expected grants are the ones smbtorture smb2.lease.request / .break / .oplock
//! observe against Windows: H or W without R is granted as nothing; a second lease key
//! never gets W; H is never granted next to a Level II oplock, and a Level II oplock is
//! never granted next to an H lease.

use crate::caching::{H, R, RWH, W};
use crate::ids::{ConnId, FileKey, LeaseKey, OpenId};
use opportune_types::NtStatus;
use std::time::Instant;

/// A lease break in progress (Lease.Breaking = TRUE, Lease.BreakToLeaseState).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseBreak {
    pub to: u32,
    pub deadline: Instant,
}

/// One lease (MS-SMB2 3.3.1.12).
#[derive(Clone, Debug)]
pub struct Lease {
    pub file: FileKey,
    pub state: u32,
    /// Lease.Epoch (reported for v2 leases only).
    pub epoch: u16,
    pub v2: bool,
    pub parent: Option<LeaseKey>,
    pub breaking: Option<LeaseBreak>,
    /// Lease.LeaseOpens.
    pub opens: Vec<OpenId>,
    /// Where break notifications go: the connection of the latest open under the lease.
    pub conn: ConnId,
    /// A lower state some operation needed while a break was already outstanding; it is
    /// broken to as soon as that break completes (one notification at a time, MS-SMB2 3.3.4.7).
    pub queued: Option<u32>,
}

/// The states a file lease can be granted in (MS-SMB2 2.2.13.2.8: R, RH, RW, RWH); any
/// other request is granted as no caching (smbtorture smb2.lease.request). Directories
/// get at most RH and only with directory leasing.
pub fn normalize_request(requested: u32, is_directory: bool, directory_leases: bool) -> u32 {
    let mut s = requested & RWH;
    if is_directory {
        if !directory_leases {
            return 0;
        }
        s &= R | H;
    }
    if s & R == 0 { 0 } else { s }
}

/// A lease state must contain R to contain anything (there is no H-only or W-only
/// lease state); used to turn "remove R" into "remove everything".
pub fn normalize_state(state: u32) -> u32 {
    if state & R == 0 { 0 } else { state & RWH }
}

/// What the rest of the file looks like to a lease grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Others {
    /// Some open outside this lease exists.
    pub other_opens: bool,
    /// Some other holder caches writes (only possible when this create did not break it,
    /// i.e. a stat open).
    pub other_write: bool,
    /// Some other open holds an oplock (Level II after breaks).
    pub other_oplock: bool,
}

/// Grantable state for a (normalized) request given the other opens of the file.
pub fn grantable(requested: u32, others: Others) -> u32 {
    if others.other_write {
        return 0;
    }
    let mut s = requested;
    if others.other_opens {
        s &= !W;
    }
    if others.other_oplock {
        s &= !H;
    }
    normalize_state(s)
}

/// MS-SMB2 3.3.5.9.8: a new open under an existing lease may upgrade it to a superset
/// (R→RH, R→RW, RH→RWH, ...) but never downgrades it; returns the resulting state.
pub fn upgrade(current: u32, grantable_now: u32) -> u32 {
    if grantable_now & current == current { grantable_now } else { current }
}

/// Whether breaking from `from` requires an acknowledgment (MS-SMB2 3.3.4.7: a lease
/// holding only R is broken without SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED).
pub fn ack_required(from: u32) -> bool {
    from & (W | H) != 0
}

/// MS-SMB2 3.3.5.22.2: validates a lease break acknowledgment.
pub fn check_ack(breaking: Option<LeaseBreak>, acked: u32) -> Result<u32, NtStatus> {
    let Some(b) = breaking else {
        return Err(NtStatus::UNSUCCESSFUL);
    };
    if acked & !b.to != 0 {
        return Err(NtStatus::REQUEST_NOT_ACCEPTED);
    }
    Ok(acked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caching::state_name;

    fn bits(s: &str) -> u32 {
        s.chars().map(|c| match c { 'R' => R, 'W' => W, 'H' => H, _ => panic!() }).fold(0, |a, b| a | b)
    }

    #[test]
    fn request_normalization() {
        let cases = [("", ""), ("R", "R"), ("H", ""), ("W", ""), ("RH", "RH"), ("RW", "RW"), ("WH", ""), ("RWH", "RWH")];
        for (req, granted) in cases {
            assert_eq!(state_name(normalize_request(bits(req), false, false)), granted, "{req}");
        }
        assert_eq!(normalize_request(RWH, true, true), R | H);
        assert_eq!(normalize_request(RWH, true, false), 0);
    }

    #[test]
    fn second_lease_never_gets_write() {
        let others = Others { other_opens: true, ..Default::default() };
        assert_eq!(state_name(grantable(RWH, others)), "RH");
        assert_eq!(state_name(grantable(R | W, others)), "R");
        let with_oplock = Others { other_opens: true, other_oplock: true, other_write: false };
        assert_eq!(state_name(grantable(RWH, with_oplock)), "R");
    }

    #[test]
    fn upgrades_only() {
        assert_eq!(upgrade(R, R | H), R | H);
        assert_eq!(upgrade(R | H, R), R | H);
        assert_eq!(upgrade(R | W, R | H), R | W);
    }

    #[test]
    fn acks() {
        let b = Some(LeaseBreak { to: R, deadline: Instant::now() });
        assert_eq!(check_ack(None, R), Err(NtStatus::UNSUCCESSFUL));
        assert_eq!(check_ack(b, R | H), Err(NtStatus::REQUEST_NOT_ACCEPTED));
        assert_eq!(check_ack(b, R), Ok(R));
        assert_eq!(check_ack(b, 0), Ok(0));
    }
}
