//! The break planner: given the caching holders of a file and the caching an
//! operation cannot coexist with, decide whom to break, to what, and whether the
//! operation has to wait (MS-FSA 2.1.4.12 "Algorithm to Check for an Oplock Break",
//! reduced to R/W/H bits so that oplocks and leases share one rule).

use crate::caching::R;
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
    pub bits: u32,
    /// A break is already outstanding.
    pub breaking: bool,
    /// For a breaking holder: the caching it is breaking to.
    pub breaking_to: u32,
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
    /// Breaks to send: holder, target caching bits, and whether operations wait for
    /// its acknowledgment (the break is blocking).
    pub breaks: Vec<(HolderId, u32, bool)>,
    /// Holders whose outstanding break the operation must wait for.
    pub wait_on: Vec<HolderId>,
    /// Holders already breaking to more than the operation allows: the lower target is
    /// broken to once the outstanding break completes (one notification at a time).
    pub queue: Vec<(HolderId, u32)>,
}

/// The target of breaking `bits` by removing `remove`.
pub fn target(h: &Holder, remove: u32, trigger: Trigger) -> u32 {
    let t = h.bits & !remove;
    match h.id {
        HolderId::Oplock(_) => {
            if trigger == Trigger::Open && h.level2_ok && t & R != 0 {
                R
            } else {
                0
            }
        }
        HolderId::Lease(_) => normalize_state(t),
    }
}

/// Plans the breaks of `holders` needed so that none of them keeps any bit of `remove`.
/// `must_wait(holder)` says whether the operation waits for the break's acknowledgment.
///
/// A holder already breaking is never sent a second notification (MS-SMB2 3.3.4.6/3.3.4.7
/// send one notification per break): if its break target still has bits the operation
/// cannot coexist with, the lower target is queued; the operation waits when
/// `must_wait` says so or when the outstanding break is a blocking one, even if it needs
/// nothing more from that holder (smbtorture smb2.lease.breaking3: a plain open waits
/// behind an RWH→RH break and the follow-up RH→R break it queued for an overwrite).
pub fn plan(holders: &[Holder], remove: u32, trigger: Trigger, must_wait: impl Fn(&Holder) -> bool) -> Plan {
    let mut p = Plan::default();
    for h in holders {
        if h.breaking {
            let needs_more = h.bits & remove != 0;
            if needs_more {
                let t = target(h, remove, trigger);
                if h.breaking_to & !t != 0 {
                    p.queue.push((h.id, t));
                }
            }
            if h.blocking || (needs_more && must_wait(h)) {
                p.wait_on.push(h.id);
            }
            continue;
        }
        if h.bits & remove == 0 {
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
    use crate::caching::{H, RWH, W};
    use crate::ids::{ClientGuid, LeaseKey};

    fn lease(n: u8, bits: u32) -> Holder {
        let id = LeaseId { client: ClientGuid([n; 16]), key: LeaseKey([n; 16]) };
        Holder { id: HolderId::Lease(id), bits, breaking: false, breaking_to: 0, blocking: false, level2_ok: true }
    }

    #[test]
    fn oplock_targets() {
        let batch = Holder { id: HolderId::Oplock(OpenId(1)), bits: RWH, breaking: false, breaking_to: 0, blocking: false, level2_ok: true };
        assert_eq!(target(&batch, W, Trigger::Open), R);
        assert_eq!(target(&batch, W | R, Trigger::Open), 0);
        assert_eq!(target(&batch, H, Trigger::Open), R, "sharing violation breaks batch to II");
        assert_eq!(target(&batch, H, Trigger::Other), 0);
        let no_l2 = Holder { level2_ok: false, ..batch };
        assert_eq!(target(&no_l2, W, Trigger::Open), 0);
    }

    /// smbtorture smb2.lease.break: what a second open leaves the first lease with.
    #[test]
    fn lease_targets() {
        assert_eq!(target(&lease(1, RWH), W, Trigger::Open), R | H);
        assert_eq!(target(&lease(1, R | W), W, Trigger::Open), R);
        assert_eq!(target(&lease(1, RWH), H, Trigger::Open), R | W);
        assert_eq!(target(&lease(1, R | H), R, Trigger::Other), 0);
    }

    #[test]
    fn planning() {
        let mut a = lease(1, R | H);
        let b = lease(2, R);
        let p = plan(&[a, b], W, Trigger::Open, |_| true);
        assert!(p.breaks.is_empty() && p.wait_on.is_empty());
        let p = plan(&[a, b], R, Trigger::Other, |h| h.bits & (W | H) != 0);
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
        let p = plan(&[a], W, Trigger::Open, |h| h.bits & W != 0);
        assert_eq!((p.breaks.len(), p.wait_on.clone(), p.queue.clone()), (0, vec![a.id], vec![]));
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits & W != 0);
        assert_eq!((p.wait_on.clone(), p.queue.clone()), (vec![a.id], vec![(a.id, 0)]));
        // After the ack the lease holds RH and breaks on (still blocking) to R.
        a.bits = R | H;
        a.breaking_to = R;
        let p = plan(&[a], W, Trigger::Open, |h| h.bits & W != 0);
        assert_eq!(p.wait_on, vec![a.id]);
    }

    /// smb2.lease.breaking4: an RH lease broken to none by an overwrite does not make the
    /// overwrite wait, and a second overwrite during that break neither waits nor breaks.
    #[test]
    fn handle_break_without_write_does_not_block() {
        let mut a = lease(1, R | H);
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits & W != 0);
        assert_eq!(p.breaks, vec![(a.id, 0, false)]);
        assert!(p.wait_on.is_empty());
        a.breaking = true;
        a.breaking_to = 0;
        let p = plan(&[a], RWH, Trigger::Open, |h| h.bits & W != 0);
        assert_eq!(p, Plan::default());
    }
}
