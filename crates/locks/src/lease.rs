//! Leases (MS-SMB2 3.3.1.12 "Per Lease"): the grant rules of MS-SMB2 3.3.5.9.8 /
//! MS-FSA 2.1.5.17.2 and the acknowledgment rules of MS-SMB2 3.3.5.22.2.
//!
//! Expected grants are the ones smbtorture smb2.lease.request / .break / .oplock
//! observe against Windows: H or W without R is granted as nothing; a second lease key
//! never gets W; H is never granted next to a Level II oplock, and a Level II oplock is
//! never granted next to an H lease.

use crate::caching::LeaseState;
use crate::ids::{ConnId, FileKey, LeaseKey, OpenId};
use opportune_types::NtStatus;
use std::time::Instant;

/// A lease break in progress (Lease.Breaking = TRUE, Lease.BreakToLeaseState).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseBreak {
    pub to: LeaseState,
    pub deadline: Instant,
    /// Operations on the file wait for this break's acknowledgment (see
    /// [`crate::breaks::Holder::blocking`]).
    pub blocking: bool,
}

/// One lease (MS-SMB2 3.3.1.12).
#[derive(Clone, Debug)]
pub struct Lease {
    pub file: FileKey,
    pub state: LeaseState,
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
    pub queued: Option<LeaseState>,
}

/// The states a file lease can be granted in (MS-SMB2 2.2.13.2.8: R, RH, RW, RWH); any
/// other request is granted as no caching (smbtorture smb2.lease.request). Directories
/// get at most RH and only with directory leasing.
pub fn normalize_request(requested: LeaseState, is_directory: bool, directory_leases: bool) -> LeaseState {
    let mut s = requested & LeaseState::RWH;
    if is_directory {
        if !directory_leases {
            return LeaseState::NONE;
        }
        s &= LeaseState::RH;
    }
    if s.contains(LeaseState::R) { s } else { LeaseState::NONE }
}

/// A lease state must contain R to contain anything (there is no H-only or W-only
/// lease state); used to turn "remove R" into "remove everything".
pub fn normalize_state(state: LeaseState) -> LeaseState {
    if state.contains(LeaseState::R) { state & LeaseState::RWH } else { LeaseState::NONE }
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
pub fn grantable(requested: LeaseState, others: Others) -> LeaseState {
    if others.other_write {
        return LeaseState::NONE;
    }
    let mut s = requested;
    if others.other_opens {
        s = s - LeaseState::W;
    }
    if others.other_oplock {
        s = s - (LeaseState::H | LeaseState::W);
    }
    normalize_state(s)
}

/// MS-SMB2 3.3.5.9.8: a new open under an existing lease changes its state only when
/// the (normalized) request is a strict superset of the current state and can be held
/// as a whole next to the other opens; the lease then takes exactly the requested state.
/// Anything else (a subset, a sidegrade such as RH→RW, or a superset another lease
/// prevents) keeps the current state (smbtorture smb2.lease.upgrade, upgrade2, upgrade3).
pub fn upgrade(current: LeaseState, requested: LeaseState, others: Others) -> LeaseState {
    let superset = requested.contains(current) && requested != current;
    if superset && grantable(requested, others) == requested { requested } else { current }
}

/// The next step of a break queued behind an acknowledged one: a lease still holding
/// more than read caching is first broken to keep R (which needs an acknowledgment),
/// and only then further (smbtorture smb2.lease.breaking3: RH with "none" required is
/// broken RH→R, then R→none).
pub fn next_step(state: LeaseState, required: LeaseState) -> LeaseState {
    let required = normalize_state(state & required);
    if !required.contains(LeaseState::R) && state.intersects(LeaseState::W | LeaseState::H) { LeaseState::R } else { required }
}

/// Whether breaking from `from` requires an acknowledgment (MS-SMB2 3.3.4.7: a lease
/// holding only R is broken without SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED).
pub fn ack_required(from: LeaseState) -> bool {
    from.intersects(LeaseState::W | LeaseState::H)
}

/// MS-SMB2 3.3.5.22.2: validates a lease break acknowledgment.
pub fn check_ack(breaking: Option<LeaseBreak>, acked: LeaseState) -> Result<LeaseState, NtStatus> {
    let Some(b) = breaking else {
        return Err(NtStatus::UNSUCCESSFUL);
    };
    if !b.to.contains(acked) {
        return Err(NtStatus::REQUEST_NOT_ACCEPTED);
    }
    Ok(acked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: LeaseState = LeaseState::R;
    const H: LeaseState = LeaseState::H;
    const W: LeaseState = LeaseState::W;
    const RWH: LeaseState = LeaseState::RWH;

    fn state_name(s: LeaseState) -> String {
        s.to_string()
    }

    fn bits(s: &str) -> LeaseState {
        s.chars().map(|c| match c { 'R' => R, 'W' => W, 'H' => H, _ => panic!() }).fold(LeaseState::NONE, |a, b| a | b)
    }

    #[test]
    fn request_normalization() {
        let cases = [("", ""), ("R", "R"), ("H", ""), ("W", ""), ("RH", "RH"), ("RW", "RW"), ("WH", ""), ("RWH", "RWH")];
        for (req, granted) in cases {
            assert_eq!(state_name(normalize_request(bits(req), false, false)), granted, "{req}");
        }
        assert_eq!(normalize_request(RWH, true, true), R | H);
        assert_eq!(normalize_request(RWH, true, false), LeaseState::NONE);
    }

    #[test]
    fn second_lease_never_gets_write() {
        let others = Others { other_opens: true, ..Default::default() };
        assert_eq!(state_name(grantable(RWH, others)), "RH");
        assert_eq!(state_name(grantable(R | W, others)), "R");
        let with_oplock = Others { other_opens: true, other_oplock: true, other_write: false };
        assert_eq!(state_name(grantable(RWH, with_oplock)), "R");
    }

    /// smbtorture smb2.lease.upgrade2 (uncontended): the full 5x5 matrix.
    #[test]
    fn upgrade_matrix_uncontended() {
        let none = Others::default();
        let cases = [
            ("", "", ""), ("", "R", "R"), ("", "RH", "RH"), ("", "RW", "RW"), ("", "RWH", "RWH"),
            ("R", "", "R"), ("R", "R", "R"), ("R", "RH", "RH"), ("R", "RW", "RW"), ("R", "RWH", "RWH"),
            ("RH", "", "RH"), ("RH", "R", "RH"), ("RH", "RH", "RH"), ("RH", "RW", "RH"), ("RH", "RWH", "RWH"),
            ("RW", "", "RW"), ("RW", "R", "RW"), ("RW", "RH", "RW"), ("RW", "RW", "RW"), ("RW", "RWH", "RWH"),
            ("RWH", "", "RWH"), ("RWH", "R", "RWH"), ("RWH", "RH", "RWH"), ("RWH", "RW", "RWH"), ("RWH", "RWH", "RWH"),
        ];
        for (held, req, want) in cases {
            assert_eq!(state_name(upgrade(bits(held), bits(req), none)), want, "{held} + {req}");
        }
    }

    /// smbtorture smb2.lease.upgrade3: with a second lease on the file the upgrade must be
    /// holdable as a whole (no W), or nothing changes.
    #[test]
    fn upgrade_matrix_contended() {
        let others = Others { other_opens: true, ..Default::default() };
        let cases = [("R", "RW", "R"), ("R", "RH", "RH"), ("R", "RWH", "R"), ("RH", "RWH", "RH"), ("RH", "R", "RH"), ("R", "", "R")];
        for (held, req, want) in cases {
            assert_eq!(state_name(upgrade(bits(held), bits(req), others)), want, "{held} + {req}");
        }
    }

    #[test]
    fn stepped_breaks() {
        assert_eq!(state_name(next_step(R | H, LeaseState::NONE)), "R");
        assert_eq!(state_name(next_step(R, LeaseState::NONE)), "");
        assert_eq!(state_name(next_step(R | W | H, R | H)), "RH");
        assert_eq!(state_name(next_step(R | W | H, LeaseState::NONE)), "R");
    }

    #[test]
    fn acks() {
        let b = Some(LeaseBreak { to: R, deadline: Instant::now(), blocking: true });
        assert_eq!(check_ack(None, R), Err(NtStatus::UNSUCCESSFUL));
        assert_eq!(check_ack(b, R | H), Err(NtStatus::REQUEST_NOT_ACCEPTED));
        assert_eq!(check_ack(b, R), Ok(R));
        assert_eq!(check_ack(b, LeaseState::NONE), Ok(LeaseState::NONE));
    }
}
