//! Byte-range locks through the world (MS-SMB2 3.3.5.14): conflicts, blocking locks
//! that wait and are granted, cancelled, or freed by the holder's close or death, and
//! READ/WRITE against others' locks.

use opportune_engine::testing::build::lock_flags::{EXCLUSIVE, FAIL_IMMEDIATELY, SHARED};
use opportune_engine::testing::{invariants, World};
use opportune_types::NtStatus;

/// Two clients with one open each on `f.txt`.
fn two_opens(label: &str) -> (World, usize, usize, [u8; 16], [u8; 16]) {
    let mut w = World::new(label);
    let a = w.connect();
    let b = w.connect();
    let fa = w.open(a, "f.txt");
    let fb = w.open(b, "f.txt");
    w.write(a, fa, 0, &[0u8; 64]);
    (w, a, b, fa, fb)
}

/// MS-SMB2 3.3.5.14.1 / MS-FSA 2.1.5.7: an exclusive lock conflicts with another open's
/// lock of an overlapping range: STATUS_LOCK_NOT_GRANTED with FAIL_IMMEDIATELY.
#[test]
fn conflicting_lock_fails_immediately() {
    let (mut w, a, b, fa, fb) = two_opens("lock-conflict");
    assert_eq!(w.lock_now(a, fa, 0, 10), NtStatus::SUCCESS);
    assert_eq!(w.lock_now(b, fb, 5, 10), NtStatus::LOCK_NOT_GRANTED);
    assert_eq!(w.lock_now(b, fb, 10, 10), NtStatus::SUCCESS, "adjacent ranges do not overlap");
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.7: shared locks coexist; an exclusive one over them does not.
#[test]
fn shared_locks_coexist() {
    let (mut w, a, b, fa, fb) = two_opens("lock-shared");
    let s = |w: &mut World, c, f| {
        let mid = w.send_lock(c, f, &[(0, 8, SHARED | FAIL_IMMEDIATELY)]);
        w.clients[c].final_of(mid).map(|r| r.status)
    };
    assert_eq!(s(&mut w, a, fa), Some(NtStatus::SUCCESS));
    assert_eq!(s(&mut w, b, fb), Some(NtStatus::SUCCESS));
    assert_eq!(w.lock_now(b, fb, 0, 8), NtStatus::LOCK_NOT_GRANTED);
}

/// MS-FSA 2.1.5.8: unlocking a range that is not locked is STATUS_RANGE_NOT_LOCKED.
#[test]
fn unlock_of_an_unlocked_range() {
    let (mut w, a, _b, fa, _fb) = two_opens("unlock-none");
    assert_eq!(w.unlock(a, fa, 0, 4), NtStatus::RANGE_NOT_LOCKED);
    assert_eq!(w.lock_now(a, fa, 0, 4), NtStatus::SUCCESS);
    assert_eq!(w.unlock(a, fa, 0, 4), NtStatus::SUCCESS);
    assert_eq!(w.unlock(a, fa, 0, 4), NtStatus::RANGE_NOT_LOCKED);
}

/// MS-SMB2 3.3.5.12 / 3.3.5.13 with MS-FSA 2.1.4.10: another open's WRITE or READ into
/// an exclusively locked range is STATUS_FILE_LOCK_CONFLICT; the holder's succeed.
#[test]
fn io_against_an_exclusive_lock() {
    let (mut w, a, b, fa, fb) = two_opens("lock-io");
    w.lock_now(a, fa, 0, 16);
    assert_eq!(w.write(b, fb, 8, b"x").status, NtStatus::FILE_LOCK_CONFLICT);
    assert_eq!(w.read(b, fb, 0, 4).status, NtStatus::FILE_LOCK_CONFLICT);
    assert_eq!(w.write(a, fa, 8, b"x").status, NtStatus::SUCCESS);
    assert_eq!(w.write(b, fb, 16, b"y").status, NtStatus::SUCCESS, "outside the range");
}

/// MS-FSA 2.1.4.10: a shared lock lets other opens read but not write.
#[test]
fn io_against_a_shared_lock() {
    let (mut w, a, b, fa, fb) = two_opens("lock-io-shared");
    w.send_lock(a, fa, &[(0, 16, SHARED | FAIL_IMMEDIATELY)]);
    assert_eq!(w.read(b, fb, 0, 4).status, NtStatus::SUCCESS);
    assert_eq!(w.write(b, fb, 0, b"x").status, NtStatus::FILE_LOCK_CONFLICT);
}

/// MS-SMB2 3.3.5.14.1: a blocking lock (no FAIL_IMMEDIATELY) on a held range goes async
/// (interim STATUS_PENDING) and is granted when the holder unlocks.
#[test]
fn blocking_lock_is_granted_on_unlock() {
    let (mut w, a, b, fa, fb) = two_opens("lock-block");
    w.lock_now(a, fa, 0, 10);
    let mid = w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    assert_eq!(w.clients[b].interim_of(mid).map(|r| r.status), Some(NtStatus::PENDING));
    assert!(w.clients[b].final_of(mid).is_none());
    invariants::settled(&w).unwrap();
    assert_eq!(w.unlock(a, fa, 0, 10), NtStatus::SUCCESS);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
    assert_eq!(w.lock_now(a, fa, 0, 10), NtStatus::LOCK_NOT_GRANTED, "b holds it now");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.16: CANCEL of a waiting lock answers it STATUS_CANCELLED; nothing
/// waits any more, and the holder's unlock grants nothing.
#[test]
fn blocking_lock_cancelled() {
    let (mut w, a, b, fa, fb) = two_opens("lock-cancel");
    w.lock_now(a, fa, 0, 10);
    let mid = w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    w.cancel(b, mid);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::CANCELLED));
    w.unlock(a, fa, 0, 10);
    assert_eq!(w.lock_now(a, fa, 0, 10), NtStatus::SUCCESS, "the cancelled lock was not granted");
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.4 (cleanup releases locks): the holder's CLOSE grants the waiting lock.
#[test]
fn blocking_lock_granted_when_the_holder_closes() {
    let (mut w, a, b, fa, fb) = two_opens("lock-close");
    w.lock_now(a, fa, 0, 10);
    let mid = w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    w.close(a, fa);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
}

/// MS-SMB2 3.3.7.1: the holder's connection ends: its locks go and the waiting lock is
/// granted; nothing of the dead connection is left.
#[test]
fn blocking_lock_granted_when_the_holder_dies() {
    let (mut w, a, b, fa, fb) = two_opens("lock-kill");
    w.lock_now(a, fa, 0, 10);
    let mid = w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    w.kill(a);
    w.run();
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.7.1: a waiter whose own connection ends leaves nothing behind; the
/// holder unlocks and locks again freely.
#[test]
fn waiting_lock_of_a_dead_connection_goes() {
    let (mut w, a, b, fa, fb) = two_opens("lock-waiter-dies");
    w.lock_now(a, fa, 0, 10);
    w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    w.kill(b);
    w.run();
    invariants::check(&w).unwrap();
    w.unlock(a, fa, 0, 10);
    assert_eq!(w.lock_now(a, fa, 0, 10), NtStatus::SUCCESS);
    assert!(w.server.locks.byte_range_locks().iter().all(|l| l.conn == Some(w.clients[a].conn.id)));
}

/// MS-SMB2 3.3.5.14: the lock layer lists a granted lock with its range and owner.
#[test]
fn granted_locks_are_reported() {
    let (mut w, a, _b, fa, _fb) = two_opens("lock-report");
    w.lock_now(a, fa, 4, 6);
    let rows = w.server.locks.byte_range_locks();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].offset, rows[0].length, rows[0].exclusive), (4, 6, true));
    assert_eq!(rows[0].conn, Some(w.clients[a].conn.id));
}

/// MS-SMB2 3.3.5.14.2: several elements of one LOCK are granted together or not at all.
#[test]
fn multi_element_lock_is_all_or_nothing() {
    let (mut w, a, b, fa, fb) = two_opens("lock-multi");
    w.lock_now(a, fa, 20, 4);
    let mid = w.send_lock(b, fb, &[(0, 4, EXCLUSIVE | FAIL_IMMEDIATELY), (20, 4, EXCLUSIVE | FAIL_IMMEDIATELY)]);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::LOCK_NOT_GRANTED));
    assert_eq!(w.lock_now(a, fa, 0, 4), NtStatus::SUCCESS, "the first element was rolled back");
}
