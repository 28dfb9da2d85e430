//! The break planner: given the caching holders of a file and the caching an
//! operation cannot coexist with, decide whom to break, to what, and whether the
//! operation has to wait (MS-FSA 2.1.4.12 "Algorithm to Check for an Oplock Break",
//! reduced to R/W/H bits so that oplocks and leases share one rule).

use crate::caching::LeaseState;
use crate::ids::{LeaseId, OpenId};
use crate::lease::normalize_state;

/// Who holds caching: an open with an oplock, or a lease (all its opens at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HolderId {
    Oplock(OpenId),
    Lease(LeaseId),
}

/// One holder as the planner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    pub id: HolderId,
    /// Caching in force now (a breaking holder keeps its old caching until it acks).
    pub bits: LeaseState,
    /// A break is already outstanding.
    pub breaking: bool,
    /// For a breaking holder: the caching it is breaking to.
    pub breaking_to: LeaseState,
    /// For a breaking holder: operations on the file wait for its acknowledgment even
    /// when they need nothing more from it (the break started to flush write caching,
    /// smbtorture smb2.lease.breaking3; a handle-caching break of an open that did not
    /// need to wait, smb2.lease.breaking4, does not block).
    pub blocking: bool,
    /// Level II is allowed on the holder's share (oplocks only).
    pub level2_ok: bool,
}

/// Why caching is being broken: decides the oplock target (MS-FSA 2.1.4.12: an OPEN
/// breaks BATCH/EXCLUSIVE to LEVEL_TWO unless it truncates; everything else to NONE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Open,
    Other,
}

/// The outcome of planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Breaks to send: holder, target caching, and whether operations wait for
    /// its acknowledgment (the break is blocking).
    pub breaks: Vec<(HolderId, LeaseState, bool)>,
    /// Holders whose outstanding break the operation must wait for.
    pub wait_on: Vec<HolderId>,
    /// Holders already breaking to more than the operation allows: the lower target is
    /// broken to once the outstanding break completes (one notification at a time).
    pub queue: Vec<(HolderId, LeaseState)>,
}

/// The target of breaking `bits` by removing `remove`.
pub fn target(h: &Holder, remove: LeaseState, trigger: Trigger) -> LeaseState {
    let t = h.bits - remove;
    match h.id {
        HolderId::Oplock(_) => {
            if trigger == Trigger::Open && h.level2_ok && t.contains(LeaseState::R) {
                LeaseState::R
            } else {
                LeaseState::NONE
            }
        }
        HolderId::Lease(_) => normalize_state(t),
    }
}

/// Plans the breaks of `holders` needed so that none of them keeps any caching of `remove`.
/// `must_wait(holder)` says whether the operation waits for the break's acknowledgment.
///
/// A holder already breaking is never sent a second notification (MS-SMB2 3.3.4.6/3.3.4.7
/// send one notification per break): if its break target still has bits the operation
/// cannot coexist with, the lower target is queued; the operation waits when
/// `must_wait` says so or when the outstanding break is a blocking one, even if it needs
/// nothing more from that holder (smbtorture smb2.lease.breaking3: a plain open waits
/// behind an RWH→RH break and the follow-up RH→R break it queued for an overwrite).
pub fn plan(holders: &[Holder], remove: LeaseState, trigger: Trigger, must_wait: impl Fn(&Holder) -> bool) -> Plan {
    let mut p = Plan::default();
    for h in holders {
        if h.breaking {
            let needs_more = h.bits.intersects(remove);
            if needs_more {
                let t = target(h, remove, trigger);
                if !(h.breaking_to - t).is_empty() {
                    p.queue.push((h.id, t));
                }
            }
            if h.blocking || (needs_more && must_wait(h)) {
                p.wait_on.push(h.id);
            }
            continue;
        }
        if !h.bits.intersects(remove) {
            continue;
        }
        let waits = must_wait(h);
        p.breaks.push((h.id, target(h, remove, trigger), waits));
        if waits {
            p.wait_on.push(h.id);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientGuid, LeaseKey};

    const NONE: LeaseState = LeaseState::NONE;
    const R: LeaseState = LeaseState::R;
    const H: LeaseState = LeaseState::H;
    const W: LeaseState = LeaseState::W;
    const RWH: LeaseState = LeaseState::RWH;

    fn lease(n: u8, bits: LeaseState) -> Holder {
        let id = LeaseId { client: ClientGuid([n; 16]), key: LeaseKey([n; 16]) };
        Holder { id: HolderId::Lease(id), bits, breaking: false, breaking_to: NONE, blocking: false, level2_ok: true }
    }

    #[test]
    fn oplock_targets() {
        let batch = Holder { id: HolderId::Oplock(OpenId(1)), bits: RWH, breaking: false, breaking_to: NONE, blocking: false, level2_ok: true };
        assert_eq!(target(&batch, W, Trigger::Open), R);
        assert_eq!(target(&batch, W | R, Trigger::Open), NONE);
        assert_eq!(target(&batch, H, Trigger::Open), R, "sharing violation breaks batch to II");
        assert_eq!(target(&batch, H, Trigger::Other), NONE);
        let no_l2 = Holder { level2_ok: false, ..batch };
        assert_eq!(target(&no_l2, W, Trigger::Open), NONE);
    }

    /// smbtorture smb2.lease.break: what a second open leaves the first lease with.
    #[test]
    fn lease_targets() {
        assert_eq!(target(&lease(1, RWH), W, Trigger::Open), R | H);
        assert_eq!(target(&lease(1, R | W), W, Trigger::Open), R);
        assert_eq!(target(&lease(1, RWH), H, Trigger::Open), R | W);
        assert_eq!(target(&lease(1, R | H), R, Trigger::Other), NONE);
    }

    #[test]
    fn planning() {
        let mut a = lease(1, R | H);
        let b = lease(2, R);
        let p = plan(&[a, b], W, Trigger::Open, |_| true);
        assert!(p.breaks.is_empty() && p.wait_on.is_empty());
        let p = plan(&[a, b], R, Trigger::Other, |h| h.bits.intersects(W | H));
        assert_eq!(p.breaks.len(), 2);
        assert_eq!(p.wait_on, vec![a.id]);
        a.breaking = true;
        a.blocking = true;
        a.breaking_to = R;
        let p = plan(&[a], H, Trigger::Open, |_| true);
        assert!(p.breaks.is_empty());
        assert_eq!(p.wait_on, vec![a.id]);
    }

    /// smb2.lease.breaking3: RWH breaking to RH (blocking). A plain open needs nothing
    /// more but waits; an overwrite also queues "none".
    #[test]
    fn blocking_break_holds_everyone() {
        let mut a = lease(1, RWH);
        a.breaking = true;
        a.blocking = true;
        a.breaking_to = R | H;
        let p = plan(&[a], W, Trigger::Open, |h| h.bits.intersects(W));
        assert_eq!((p.breaks.len(), p.wait_on.clone(), p.queue.clone()), (0, vec![a.id], vec![]));
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits.intersects(W));
        assert_eq!((p.wait_on.clone(), p.queue.clone()), (vec![a.id], vec![(a.id, NONE)]));
        // After the ack the lease holds RH and breaks on (still blocking) to R.
        a.bits = R | H;
        a.breaking_to = R;
        let p = plan(&[a], W, Trigger::Open, |h| h.bits.intersects(W));
        assert_eq!(p.wait_on, vec![a.id]);
    }

    /// smb2.lease.breaking4: an RH lease broken to none by an overwrite does not make the
    /// overwrite wait, and a second overwrite during that break neither waits nor breaks.
    #[test]
    fn handle_break_without_write_does_not_block() {
        let mut a = lease(1, R | H);
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits.intersects(W));
        assert_eq!(p.breaks, vec![(a.id, NONE, false)]);
        assert!(p.wait_on.is_empty());
        a.breaking = true;
        a.breaking_to = NONE;
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits.intersects(W));
        assert_eq!(p, Plan::default());
    }
}
