//! Walk-throughs of the behaviour smbtorture expects from Windows.
mod common;
use common::*;
use opportune_locks::caching;
use opportune_locks::*;
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::time::{Duration, Instant};

const ALL: u32 = AccessMask::FILE_ALL_ACCESS;

fn granted(o: CreateOutcome) -> GrantedCaching {
    match o {
        CreateOutcome::Granted { caching } => caching,
        other => panic!("expected a grant, got {other:?}"),
    }
}

/// The Level II walk-through: exclusive, second opener, ack, write.
#[test]
fn level2_walkthrough() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let s1 = c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Exclusive)));
    assert_eq!(granted(s1), GrantedCaching::Oplock(OplockLevel::Exclusive));
    assert!(drain(&mut c).is_empty());

    let s2 = c.handle_create(t0, req(2, 2, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Exclusive)));
    assert_eq!(s2, CreateOutcome::Deferred);
    assert_eq!(drain(&mut c), vec![Event::SendOplockBreak { conn: ConnId(1), open: OpenId(1), to_level: OplockLevel::LevelII }]);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(35)));

    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(c.handle_oplock_break_ack(t1, OpenId(1), OplockLevel::LevelII), Ok(OplockLevel::LevelII));
    assert_eq!(
        drain(&mut c),
        vec![Event::CompleteCreate { open: OpenId(2), outcome: CreateOutcome::Granted { caching: GrantedCaching::Oplock(OplockLevel::LevelII) } }]
    );
    assert_eq!(c.poll_timeout(), None);

    c.handle_write(t1, OpenId(2));
    let evs = drain(&mut c);
    assert!(evs.contains(&Event::SendOplockBreak { conn: ConnId(1), open: OpenId(1), to_level: OplockLevel::None }));
    assert!(evs.contains(&Event::SendOplockBreak { conn: ConnId(2), open: OpenId(2), to_level: OplockLevel::None }));
    assert_eq!(evs.len(), 2);
    assert_eq!(c.caching_of(OpenId(1)).unwrap().bits, NONE);
    assert_eq!(c.caching_of(OpenId(2)).unwrap().bits, NONE);
    // No acknowledgment is expected for a Level II break; one is a protocol error.
    assert_eq!(c.handle_oplock_break_ack(t1, OpenId(1), OplockLevel::None), Err(NtStatus::INVALID_OPLOCK_PROTOCOL));
}

/// smb2.oplock.exclusive1: an exclusive oplock with share none is not broken by a
/// conflicting open: the sharing violation is immediate.
#[test]
fn exclusive_not_broken_by_sharing_violation() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, 0, RequestedCaching::Oplock(OplockLevel::Exclusive))));
    let o = c.handle_create(t0, req(2, 2, ALL, 0, RequestedCaching::Oplock(OplockLevel::Exclusive)));
    assert_eq!(o, CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
    assert!(drain(&mut c).is_empty());
}

/// smb2.oplock.batch5 / batch3: a batch oplock is broken (to Level II) before the sharing
/// violation is decided; if the holder acks the violation stands, if it closes the open succeeds.
#[test]
fn batch_broken_before_sharing_violation() {
    let t0 = Instant::now();
    for close_instead in [false, true] {
        let mut c = LockCore::new(Config::default());
        granted(c.handle_create(t0, req(1, 1, ALL, 0, RequestedCaching::Oplock(OplockLevel::Batch))));
        let o = c.handle_create(t0, req(2, 2, ALL, 0, RequestedCaching::Oplock(OplockLevel::Batch)));
        assert_eq!(o, CreateOutcome::Deferred);
        assert_eq!(drain(&mut c), vec![Event::SendOplockBreak { conn: ConnId(1), open: OpenId(1), to_level: OplockLevel::LevelII }]);
        if close_instead {
            assert!(!c.handle_close(t0, OpenId(1)).unwrap().delete_file);
            assert_eq!(drain(&mut c), vec![Event::CompleteCreate { open: OpenId(2), outcome: CreateOutcome::Granted { caching: GrantedCaching::Oplock(OplockLevel::Batch) } }]);
        } else {
            c.handle_oplock_break_ack(t0, OpenId(1), OplockLevel::LevelII).unwrap();
            assert_eq!(drain(&mut c), vec![Event::CompleteCreate { open: OpenId(2), outcome: CreateOutcome::Denied(NtStatus::SHARING_VIOLATION) }]);
        }
    }
}

/// smb2.oplock.exclusive4 / statopen1: an attribute-only open breaks nothing and gets nothing.
#[test]
fn stat_open_breaks_nothing() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Batch))));
    let stat = AccessMask::FILE_READ_ATTRIBUTES | AccessMask::FILE_WRITE_ATTRIBUTES | AccessMask::SYNCHRONIZE;
    let o = c.handle_create(t0, req(2, 2, stat, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Exclusive)));
    assert_eq!(granted(o), GrantedCaching::None);
    assert!(drain(&mut c).is_empty());
}

/// A break nobody acknowledges: the create completes at the deadline, the oplock is gone.
#[test]
fn break_timeout_completes_create() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Batch))));
    assert_eq!(c.handle_create(t0, req(2, 2, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::LevelII))), CreateOutcome::Deferred);
    drain(&mut c);
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline - Duration::from_millis(1));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(deadline);
    assert_eq!(drain(&mut c), vec![Event::CompleteCreate { open: OpenId(2), outcome: CreateOutcome::Granted { caching: GrantedCaching::Oplock(OplockLevel::LevelII) } }]);
    assert_eq!(c.caching_of(OpenId(1)).unwrap().bits, NONE);
    assert_eq!(c.deferred_count(), 0);
}

/// smb2.lease.break table: first lease, second lease request → first lease after break,
/// second lease's grant.
#[test]
fn lease_break_table() {
    let rwh = R | W | H;
    let table = [
        (R, rwh, R, R | H),
        (R | H, R | W, R | H, R),
        (R | W, R, R, R),
        (R | W, rwh, R, R | H),
        (rwh, R, R | H, R),
        (rwh, rwh, R | H, R | H),
    ];
    for (first, second, first_after, second_granted) in table {
        let t0 = Instant::now();
        let mut c = LockCore::new(Config::default());
        let g = granted(c.handle_create(t0, lease_req(1, 1, 1, first)));
        assert_eq!(g.bits(), first);
        let o = c.handle_create(t0, lease_req(2, 2, 2, second));
        let o = if first.intersects(W) {
            assert_eq!(o, CreateOutcome::Deferred);
            let evs = drain(&mut c);
            let Event::SendLeaseBreak { from, to, ack_required, .. } = evs[0] else { panic!("{evs:?}") };
            assert_eq!((from, to, ack_required), (first, first_after, true));
            c.handle_lease_break_ack(t0, ClientGuid([1; 16]), LeaseKey([1; 16]), to).unwrap();
            match drain(&mut c).as_slice() {
                [Event::CompleteCreate { outcome, .. }] => *outcome,
                other => panic!("{other:?}"),
            }
        } else {
            o
        };
        assert_eq!(granted(o).bits(), second_granted, "{first} then {second}");
        assert_eq!(c.caching_of(OpenId(1)).unwrap().bits, first_after);
    }
}

/// smb2.lease.v2 sharing violation: RWH is broken to RW (H only), then the violation stands.
#[test]
fn lease_handle_break_on_sharing_violation() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let g = granted(c.handle_create(t0, lease_req(1, 1, 1, R | W | H)));
    assert!(matches!(g, GrantedCaching::Lease { epoch: 1, v2: true, .. }));
    let mut r2 = lease_req(1, 2, 2, R | W | H);
    r2.share = ShareAccess(ShareAccess::READ);
    assert_eq!(c.handle_create(t0, r2), CreateOutcome::Deferred);
    let evs = drain(&mut c);
    assert!(matches!(evs[0], Event::SendLeaseBreak { from: RWH, to: LeaseState::RW, epoch: 2, ack_required: true, .. }), "{evs:?}");
    c.handle_lease_break_ack(t0, ClientGuid([1; 16]), LeaseKey([1; 16]), R | W).unwrap();
    assert_eq!(drain(&mut c), vec![Event::CompleteCreate { open: OpenId(2), outcome: CreateOutcome::Denied(NtStatus::SHARING_VIOLATION) }]);
}

#[test]
fn lease_ack_errors() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | H)));
    let k = (ClientGuid([1; 16]), LeaseKey([1; 16]));
    assert_eq!(c.handle_lease_break_ack(t0, k.0, k.1, R), Err(NtStatus::UNSUCCESSFUL));
    assert_eq!(c.handle_lease_break_ack(t0, ClientGuid([9; 16]), k.1, R), Err(NtStatus::OBJECT_NAME_NOT_FOUND));
    // Same key on another file is refused.
    let mut other = lease_req(1, 3, 1, R);
    other.file = FileKey { device: 1, inode: 7 };
    assert_eq!(c.handle_create(t0, other), CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
}

/// A break always takes caching away (MS-SMB2 3.3.4.7), so no break goes to RWH and an
/// acknowledgment of RWH is refused like any state beyond the break's target (MS-SMB2
/// 3.3.5.22.2); the server answers bits outside R, W and H that way.
#[test]
fn lease_ack_of_everything_is_refused() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let k = (ClientGuid([1; 16]), LeaseKey([1; 16]));
    granted(c.handle_create(t0, lease_req(1, 1, 1, RWH)));
    assert_eq!(c.handle_create(t0, lease_req(2, 2, 2, RWH)), CreateOutcome::Deferred);
    assert_eq!(lease_events(&drain(&mut c)), vec![(RWH, R | H, true, 2)]);
    assert_eq!(c.handle_lease_break_ack(t0, k.0, k.1, RWH), Err(NtStatus::REQUEST_NOT_ACCEPTED));
    assert!(c.caching_of(OpenId(1)).unwrap().breaking, "the break is still outstanding");
    assert_eq!(c.handle_lease_break_ack(t0, k.0, k.1, R | H), Ok(R | H));
}

#[test]
fn delete_pending_lifecycle() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let mut r1 = req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::None);
    r1.delete_on_close = true;
    granted(c.handle_create(t0, r1));
    granted(c.handle_create(t0, req(1, 2, ALL, ShareAccess::ALL, RequestedCaching::None)));
    // FILE_DELETE_ON_CLOSE takes effect at close, not before.
    granted(c.handle_create(t0, req(1, 3, AccessMask::FILE_READ_DATA, ShareAccess::ALL, RequestedCaching::None)));
    assert_eq!(c.handle_close(t0, OpenId(1)), Some(CloseOutcome { file: FILE, delete_file: false, delete_base: false }));
    assert!(c.is_delete_pending(FILE));
    assert_eq!(c.handle_create(t0, req(1, 4, ALL, ShareAccess::ALL, RequestedCaching::None)), CreateOutcome::Denied(NtStatus::DELETE_PENDING));
    // Disposition without DELETE access is refused; with it, it can clear the flag.
    assert_eq!(c.handle_set_delete_on_close(OpenId(3), false), Err(NtStatus::ACCESS_DENIED));
    c.handle_set_delete_on_close(OpenId(2), false).unwrap();
    granted(c.handle_create(t0, req(1, 5, ALL, ShareAccess::ALL, RequestedCaching::None)));
    c.handle_set_delete_on_close(OpenId(2), true).unwrap();
    assert!(!c.handle_close(t0, OpenId(2)).unwrap().delete_file);
    assert!(!c.handle_close(t0, OpenId(3)).unwrap().delete_file);
    assert!(c.handle_close(t0, OpenId(5)).unwrap().delete_file);
    assert!(!c.is_delete_pending(FILE));
}

#[test]
fn blocking_lock_lifecycle() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::None)));
    granted(c.handle_create(t0, req(1, 2, ALL, ShareAccess::ALL, RequestedCaching::None)));
    let ex = |o, l| LockElement::lock(o, l, true, false);
    assert_eq!(c.handle_lock(t0, OpenId(1), RequestId(1), &[ex(0, 10)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, OpenId(2), RequestId(2), &[ex(0, 10)]), LockOutcome::Pending);
    // Unlocking a pending lock's range is RANGE_NOT_LOCKED (smb2.lock.cancel "cancel by unlock").
    assert_eq!(c.handle_lock(t0, OpenId(2), RequestId(3), &[LockElement::unlock(0, 10)]), LockOutcome::Done(NtStatus::RANGE_NOT_LOCKED));
    assert!(c.handle_cancel_lock(RequestId(2)));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(2), open: OpenId(2), status: NtStatus::CANCELLED }]);
    // Pending again, then woken by the holder's close.
    assert_eq!(c.handle_lock(t0, OpenId(2), RequestId(4), &[ex(0, 10)]), LockOutcome::Pending);
    c.handle_close(t0, OpenId(1));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(4), open: OpenId(2), status: NtStatus::SUCCESS }]);
    assert_eq!(c.check_io(OpenId(2), 5, 1, true), Ok(()));
    // A waiter whose own open closes gets RANGE_NOT_LOCKED.
    granted(c.handle_create(t0, req(1, 3, ALL, ShareAccess::ALL, RequestedCaching::None)));
    assert_eq!(c.handle_lock(t0, OpenId(3), RequestId(5), &[ex(5, 1)]), LockOutcome::Pending);
    c.handle_close(t0, OpenId(3));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(5), open: OpenId(3), status: NtStatus::RANGE_NOT_LOCKED }]);
    // A waiter whose open is kept (a durable handle whose session ended) stops waiting,
    // and is not granted the range later.
    granted(c.handle_create(t0, req(1, 4, ALL, ShareAccess::ALL, RequestedCaching::None)));
    assert_eq!(c.handle_lock(t0, OpenId(4), RequestId(6), &[ex(5, 1)]), LockOutcome::Pending);
    c.end_pending_locks(OpenId(4), NtStatus::RANGE_NOT_LOCKED);
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(6), open: OpenId(4), status: NtStatus::RANGE_NOT_LOCKED }]);
    c.handle_close(t0, OpenId(2));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.check_io(OpenId(4), 5, 1, true), Ok(()), "open 4 holds no lock");
}

/// A grant the server could not keep on the host is taken back exactly: the open's
/// other locks stay, and a waiter it kept out is granted.
#[test]
fn revoked_lock_lets_a_waiter_in() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::None)));
    granted(c.handle_create(t0, req(1, 2, ALL, ShareAccess::ALL, RequestedCaching::None)));
    let ex = LockElement::lock(0, 10, true, false);
    let sh = LockElement::lock(0, 10, false, true);
    assert_eq!(c.handle_lock(t0, OpenId(1), RequestId(1), &[ex]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, OpenId(1), RequestId(2), &[sh]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, OpenId(2), RequestId(3), &[LockElement::lock(5, 1, false, false)]), LockOutcome::Pending);
    assert!(c.revoke_lock(OpenId(1), &sh));
    assert!(drain(&mut c).is_empty(), "the exclusive lock still keeps the waiter out");
    assert_eq!(c.locks_of(OpenId(1)).iter().map(|l| l.exclusive).collect::<Vec<_>>(), vec![true]);
    assert!(c.revoke_lock(OpenId(1), &ex));
    assert!(!c.revoke_lock(OpenId(1), &ex));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(3), open: OpenId(2), status: NtStatus::SUCCESS }]);
    assert!(c.locks_of(OpenId(1)).is_empty());
    assert_eq!(c.locks_of(OpenId(2)).len(), 1);
}

#[test]
fn lock_request_validation() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::None)));
    let o = OpenId(1);
    let rq = RequestId(1);
    use opportune_locks::byte_range::flags::*;
    let el = |off, len, f| LockElement::from_wire(off, len, f);
    assert_eq!(c.handle_lock(t0, o, rq, &[]), LockOutcome::Done(NtStatus::INVALID_PARAMETER));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(u64::MAX, 2, EXCLUSIVE | FAIL_IMMEDIATELY)]), LockOutcome::Done(NtStatus::INVALID_LOCK_RANGE));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(u64::MAX, 1, EXCLUSIVE | FAIL_IMMEDIATELY)]), LockOutcome::Done(NtStatus::SUCCESS));
    // Two elements need FAIL_IMMEDIATELY on each; a lock request holds no unlock.
    assert_eq!(c.handle_lock(t0, o, rq, &[el(1, 1, SHARED | FAIL_IMMEDIATELY), el(2, 1, SHARED)]), LockOutcome::Done(NtStatus::INVALID_PARAMETER));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(1, 1, 0), el(1, 1, UNLOCK)]), LockOutcome::Done(NtStatus::INVALID_PARAMETER));
    // An unlock request fails at its first failing element.
    assert_eq!(c.handle_lock(t0, o, rq, &[el(9999, 1, UNLOCK), el(9999, 1, 0)]), LockOutcome::Done(NtStatus::RANGE_NOT_LOCKED));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(9999, 1, SHARED)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(9999, 1, SHARED)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(9999, 1, UNLOCK), el(9999, 1, UNLOCK)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.handle_lock(t0, o, rq, &[el(9999, 1, UNLOCK)]), LockOutcome::Done(NtStatus::RANGE_NOT_LOCKED));
}

/// smb2.oplock.brl1: taking a byte-range lock breaks Level II to none, the locker's own included.
#[test]
fn lock_breaks_level2() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::LevelII))));
    c.handle_lock(t0, OpenId(1), RequestId(1), &[LockElement::lock(0, 1, true, true)]);
    assert_eq!(drain(&mut c), vec![Event::SendOplockBreak { conn: ConnId(1), open: OpenId(1), to_level: OplockLevel::None }]);
}

fn lease_events(evs: &[Event]) -> Vec<(LeaseState, LeaseState, bool, u16)> {
    evs.iter()
        .filter_map(|e| match *e {
            Event::SendLeaseBreak { from, to, ack_required, epoch, .. } => Some((from, to, ack_required, epoch)),
            _ => None,
        })
        .collect()
}

/// smb2.lease.breaking3 / v2_breaking3: while RWH→RH is unacknowledged a plain open and
/// an overwrite both wait; the ack brings a stepped RH→R break (same epoch) that keeps
/// them waiting; acking R brings R→none (no ack needed) and both complete.
#[test]
fn lease_breaking3_steps() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let k = (ClientGuid([1; 16]), LeaseKey([1; 16]));
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | W | H)));
    assert_eq!(c.handle_create(t0, req(1, 2, ALL, ShareAccess::ALL, RequestedCaching::None)), CreateOutcome::Deferred);
    assert_eq!(lease_events(&drain(&mut c)), vec![(R | W | H, R | H, true, 2)]);
    let mut overwrite = req(1, 3, ALL, ShareAccess::ALL, RequestedCaching::None);
    overwrite.truncating = true;
    assert_eq!(c.handle_create(t0, overwrite), CreateOutcome::Deferred);
    assert!(drain(&mut c).is_empty(), "no second notification while breaking");
    // Same key during the break: current state with BREAK_IN_PROGRESS.
    let g = granted(c.handle_create(t0, lease_req(1, 4, 1, R | W | H)));
    assert!(matches!(g, GrantedCaching::Lease { state: RWH, flags: caching::LEASE_FLAG_BREAK_IN_PROGRESS, .. }), "{g:?}");
    c.handle_close(t0, OpenId(4));
    assert_eq!(c.handle_lease_break_ack(t0, k.0, k.1, R | H), Ok(R | H));
    assert_eq!(lease_events(&drain(&mut c)), vec![(R | H, R, true, 2)]);
    assert_eq!(c.deferred_count(), 2);
    assert_eq!(c.handle_lease_break_ack(t0, k.0, k.1, R), Ok(R));
    let evs = drain(&mut c);
    assert_eq!(lease_events(&evs), vec![(R, NONE, false, 2)]);
    assert_eq!(evs.iter().filter(|e| matches!(e, Event::CompleteCreate { outcome: CreateOutcome::Granted { .. }, .. })).count(), 2);
}

/// smb2.lease.breaking4: an overwrite breaks RH to none without waiting, and a second
/// overwrite during that break neither waits nor breaks again.
#[test]
fn lease_handle_break_does_not_block_overwrite() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | H)));
    let mut overwrite = req(1, 2, ALL, ShareAccess::ALL, RequestedCaching::None);
    overwrite.truncating = true;
    granted(c.handle_create(t0, overwrite));
    assert_eq!(lease_events(&drain(&mut c)), vec![(R | H, NONE, true, 2)]);
    overwrite.open = OpenId(3);
    granted(c.handle_create(t0, overwrite));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.handle_lease_break_ack(t0, ClientGuid([1; 16]), LeaseKey([1; 16]), NONE), Ok(NONE));
}

/// smb2.lease.timeout: an unacknowledged break leaves the lease with nothing.
#[test]
fn lease_break_timeout_drops_to_none() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | W | H)));
    assert_eq!(c.handle_create(t0, lease_req(1, 2, 2, R | W | H)), CreateOutcome::Deferred);
    drain(&mut c);
    c.handle_timeout(c.poll_timeout().unwrap());
    let evs = drain(&mut c);
    assert!(matches!(evs.as_slice(), [Event::CompleteCreate { outcome: CreateOutcome::Granted { caching: GrantedCaching::Lease { state: LeaseState::RH, .. } }, .. }]), "{evs:?}");
    assert_eq!(c.caching_of(OpenId(1)).unwrap().bits, NONE);
    assert_eq!(c.handle_lease_break_ack(t0, ClientGuid([1; 16]), LeaseKey([1; 16]), R | H), Err(NtStatus::UNSUCCESSFUL));
}

/// smb2.lease.statopen3 / statopen4: stat opens (READ_CONTROL included) neither break a
/// lease nor keep one from being granted in full; READ_CONTROL still breaks an oplock.
#[test]
fn lease_stat_opens() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, AccessMask::READ_CONTROL, ShareAccess::ALL, RequestedCaching::None)));
    let g = granted(c.handle_create(t0, lease_req(1, 2, 1, R | W | H)));
    assert_eq!(g.bits(), R | W | H);
    granted(c.handle_create(t0, req(1, 3, AccessMask::READ_CONTROL | AccessMask::SYNCHRONIZE, ShareAccess::ALL, RequestedCaching::None)));
    assert!(drain(&mut c).is_empty());
    let mut o = LockCore::new(Config::default());
    granted(o.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Batch))));
    assert_eq!(o.handle_create(t0, req(1, 2, AccessMask::READ_CONTROL, ShareAccess::ALL, RequestedCaching::None)), CreateOutcome::Deferred);
    assert_eq!(drain(&mut o).len(), 1);
}

/// smb2.lease.unlink: a delete-on-close open breaks handle caching (RH → R, ack required).
#[test]
fn delete_on_close_open_breaks_handle_caching() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | H)));
    let mut del = req(2, 2, AccessMask::DELETE, ShareAccess::ALL, RequestedCaching::None);
    del.delete_on_close = true;
    assert_eq!(c.handle_create(t0, del), CreateOutcome::Deferred);
    assert_eq!(lease_events(&drain(&mut c)), vec![(R | H, R, true, 2)]);
}

/// smb2.lease.upgrade3 through the core: a contended upgrade to RWH changes nothing and
/// breaks nothing; to RH it is granted.
#[test]
fn contended_upgrade() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R)));
    granted(c.handle_create(t0, lease_req(1, 2, 2, R)));
    assert_eq!(granted(c.handle_create(t0, lease_req(1, 3, 1, R | W | H))).bits(), R);
    assert_eq!(granted(c.handle_create(t0, lease_req(1, 4, 1, R | H))).bits(), R | H);
    assert!(drain(&mut c).is_empty());
}

/// The parent-directory check of a rename: an open with DELETE access (or one that does
/// not share write) refuses the implicit FILE_ADD_FILE open.
#[test]
fn rename_parent_sharing() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let add = AccessMask(AccessMask::FILE_WRITE_DATA | AccessMask::SYNCHRONIZE);
    let rw = ShareAccess(ShareAccess::READ | ShareAccess::WRITE);
    let mut dir = req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::None);
    dir.is_directory = true;
    granted(c.handle_create(t0, dir));
    assert!(!c.would_share(FILE, add, rw));
    c.handle_close(t0, OpenId(1));
    dir.access = AccessMask(ALL & !AccessMask::DELETE);
    granted(c.handle_create(t0, dir));
    assert!(c.would_share(FILE, add, rw));
}

/// A durable open moved to another connection (lost, then reconnected): its batch oplock,
/// lease and byte-range locks stay, and its breaks go to the new connection; a
/// disconnect of the old connection no longer closes it.
#[test]
fn moved_open_keeps_its_state_and_gets_its_breaks_elsewhere() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, req(1, 1, ALL, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Batch))));
    assert_eq!(c.handle_lock(t0, OpenId(1), RequestId(9), &[LockElement::lock(0, 10, true, true)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert!(c.move_open(OpenId(1), ConnId(7)));
    assert!(!c.move_open(OpenId(99), ConnId(7)));
    assert!(c.handle_disconnect(t0, ConnId(1)).is_empty());
    assert_eq!(c.caching_of(OpenId(1)).unwrap().bits, RWH);
    assert_eq!(c.check_io(OpenId(1), 0, 1, true), Ok(()));
    let o = c.handle_create(t0, req(2, 2, ALL, ShareAccess::ALL, RequestedCaching::None));
    assert_eq!(o, CreateOutcome::Deferred);
    assert_eq!(drain(&mut c), vec![Event::SendOplockBreak { conn: ConnId(7), open: OpenId(1), to_level: OplockLevel::LevelII }]);

    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, lease_req(1, 1, 1, R | W | H)));
    assert!(c.move_open(OpenId(1), ConnId(8)));
    let lease = c.caching_of(OpenId(1)).unwrap().lease.unwrap();
    assert_eq!(c.lease_epoch(lease), Some(1));
    assert_eq!(c.lease_opens(lease), vec![OpenId(1)]);
    let o = c.handle_create(t0, lease_req(2, 2, 2, R | W | H));
    assert!(matches!(o, CreateOutcome::Deferred | CreateOutcome::Granted { .. }));
    let evs = drain(&mut c);
    assert!(evs.iter().any(|e| matches!(e, Event::SendLeaseBreak { conn: ConnId(8), .. })), "{evs:?}");
}

/// smb2.streams.delete: a named stream open that does not share delete keeps its file
/// from being opened with DELETE; once the file is delete-pending its streams cannot be
/// opened, and it is deleted only when the last stream open closes.
#[test]
fn streams_share_delete_and_delete_pending_with_their_file() {
    let t0 = Instant::now();
    let stream_key = FileKey { device: FILE.device ^ (1 << 63 | 5), inode: FILE.inode };
    let stream = |open: u64, share: u32| CreateRequest { file: stream_key, base: Some(FILE), ..req(1, open, ALL, share, RequestedCaching::None) };
    let delete = |open: u64| CreateRequest { delete_on_close: true, ..req(1, open, AccessMask::DELETE, ShareAccess::ALL, RequestedCaching::None) };
    let mut c = LockCore::new(Config::default());
    granted(c.handle_create(t0, stream(1, 0)));
    assert_eq!(c.handle_create(t0, delete(2)), CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
    assert!(!c.handle_close(t0, OpenId(1)).unwrap().delete_base);
    granted(c.handle_create(t0, stream(3, ShareAccess::ALL)));
    granted(c.handle_create(t0, delete(4)));
    let o = c.handle_close(t0, OpenId(4)).unwrap();
    assert!(!o.delete_file && !o.delete_base, "a stream is still open: the file stays");
    assert_eq!(c.handle_create(t0, req(1, 5, ALL, ShareAccess::ALL, RequestedCaching::None)), CreateOutcome::Denied(NtStatus::DELETE_PENDING));
    assert_eq!(c.handle_create(t0, stream(6, ShareAccess::ALL)), CreateOutcome::Denied(NtStatus::DELETE_PENDING));
    let o = c.handle_close(t0, OpenId(3)).unwrap();
    assert!(o.delete_base && !o.delete_file, "the last stream open takes the file with it");
    granted(c.handle_create(t0, req(1, 7, ALL, ShareAccess::ALL, RequestedCaching::None)));
}

/// A cancel finds its pending lock on whichever file it waits, and a request that was
/// granted, cancelled or ended before is no longer cancellable.
#[test]
fn cancel_finds_the_waiting_file() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    let other = FileKey { device: 1, inode: 43 };
    let on = |file, conn, open| CreateRequest { file, ..req(conn, open, ALL, ShareAccess::ALL, RequestedCaching::None) };
    for (file, base) in [(FILE, 1), (other, 3)] {
        granted(c.handle_create(t0, on(file, 1, base)));
        granted(c.handle_create(t0, on(file, 2, base + 1)));
    }
    let ex = |o, l| LockElement::lock(o, l, true, false);
    for (holder, waiter, rq) in [(1, 2, 10), (3, 4, 20)] {
        assert_eq!(c.handle_lock(t0, OpenId(holder), RequestId(rq), &[ex(0, 10)]), LockOutcome::Done(NtStatus::SUCCESS));
        assert_eq!(c.handle_lock(t0, OpenId(waiter), RequestId(rq + 1), &[ex(0, 10)]), LockOutcome::Pending);
    }
    assert!(c.handle_cancel_lock(RequestId(21)));
    assert!(!c.handle_cancel_lock(RequestId(21)));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(21), open: OpenId(4), status: NtStatus::CANCELLED }]);
    assert_eq!(c.handle_lock(t0, OpenId(1), RequestId(12), &[LockElement::unlock(0, 10)]), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(drain(&mut c), vec![Event::CompleteLock { request: RequestId(11), open: OpenId(2), status: NtStatus::SUCCESS }]);
    assert!(!c.handle_cancel_lock(RequestId(11)), "granted already");
    assert_eq!(c.handle_lock(t0, OpenId(4), RequestId(22), &[ex(5, 1)]), LockOutcome::Pending);
    c.handle_close(t0, OpenId(4));
    assert!(!c.handle_cancel_lock(RequestId(22)), "ended by its close");
}
