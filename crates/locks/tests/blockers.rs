//! Which connections block a request (for the server's liveness probes): the opens whose
//! share modes refuse a create, and the other opens whose byte-range locks refuse a range.
mod common;
use common::*;
use opportune_locks::*;
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::time::Instant;

const ALL: u32 = AccessMask::FILE_ALL_ACCESS;

#[test]
fn share_blockers_are_the_opens_that_refuse_the_new_one() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    // Connection 1 shares nothing; connection 2 shares everything.
    assert!(matches!(c.handle_create(t0, req(1, 1, ALL, 0, RequestedCaching::None)), CreateOutcome::Granted { .. }));
    let reader = req(2, 2, AccessMask::FILE_READ_DATA, ShareAccess::ALL, RequestedCaching::None);
    assert_eq!(c.handle_create(t0, reader), CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
    assert_eq!(c.share_blockers(FILE, AccessMask(AccessMask::FILE_READ_DATA), ShareAccess(ShareAccess::ALL)), vec![ConnId(1)]);
    assert!(c.share_blockers(FileKey { device: 9, inode: 9 }, AccessMask(ALL), ShareAccess(0)).is_empty(), "no such file");
}

#[test]
fn lock_blockers_are_the_other_opens_whose_locks_overlap() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    for (conn, open) in [(1, 1), (2, 2), (3, 3)] {
        let r = c.handle_create(t0, req(conn, open, ALL, ShareAccess::ALL, RequestedCaching::None));
        assert!(matches!(r, CreateOutcome::Granted { .. }));
    }
    let lock = |c: &mut LockCore, open, offset, exclusive| {
        c.handle_lock(t0, OpenId(open), RequestId(open * 10), &[LockElement::lock(offset, 10, exclusive, true)])
    };
    assert_eq!(lock(&mut c, 1, 0, true), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(lock(&mut c, 2, 100, false), LockOutcome::Done(NtStatus::SUCCESS));
    assert_eq!(c.lock_blockers(OpenId(3), 5, 1, false), vec![ConnId(1)], "an exclusive lock refuses a shared one");
    assert!(c.lock_blockers(OpenId(3), 100, 1, false).is_empty(), "shared locks stack");
    assert_eq!(c.lock_blockers(OpenId(3), 100, 1, true), vec![ConnId(2)], "a shared lock refuses an exclusive one");
    assert!(c.lock_blockers(OpenId(1), 0, 10, true).is_empty(), "an open is never its own blocker");
    assert!(c.lock_blockers(OpenId(3), 50, 10, true).is_empty(), "no overlap");
    assert!(c.lock_blockers(OpenId(77), 0, 10, true).is_empty(), "unknown open");
}
