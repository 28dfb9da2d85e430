//! The interim response held back (`interim_delay`, MS-SMB2 3.3.4.2): a request that goes
//! asynchronous alone in its frame gets its STATUS_PENDING only when the delay is over;
//! decided sooner, it is answered once, synchronously, with the credits the interim would
//! have granted.

use opportune_engine::testing::build::lock_flags::EXCLUSIVE;
use opportune_engine::testing::build::{oplock, Create};
use opportune_engine::testing::{invariants, Notice, World};
use opportune_types::NtStatus;
use opportune_wire::header::flags;
use std::time::Duration;

const DELAY: Duration = Duration::from_micros(500);

fn world(label: &str) -> World {
    World::with_config(label, |c| c.interim_delay = DELAY)
}

/// A batch holder on `a` and a second CREATE of the file from `b`, waiting for the break:
/// the world, the two clients, the holder's FileId and the waiting CREATE's MessageId.
fn deferred_create(label: &str) -> (World, usize, usize, [u8; 16], u64) {
    let mut w = world(label);
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("f.txt").oplock(oplock::BATCH));
    assert_eq!(held.oplock_level(), oplock::BATCH);
    let mid = w.send_create(b, &Create::file("f.txt").oplock(oplock::BATCH));
    assert_eq!(w.clients[a].take_notice(), Some(Notice::Oplock { fid: held.file_id(), level: oplock::LEVEL_II }));
    (w, a, b, held.file_id(), mid)
}

/// The holder closes within the delay: the waiting CREATE is answered once, by a
/// synchronous response that carries credits; no interim ever goes out, also once the
/// delay is over.
#[test]
fn a_create_decided_within_the_delay_gets_one_synchronous_response() {
    let (mut w, a, b, fid, mid) = deferred_create("interim-sync");
    assert!(w.clients[b].interim_of(mid).is_none(), "the interim is held back");
    assert!(w.clients[b].final_of(mid).is_none(), "the CREATE waits for the break");
    invariants::settled(&w).unwrap();
    assert_eq!(w.close(a, fid), NtStatus::SUCCESS);
    let done = w.clients[b].final_of(mid).expect("completed by the close").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.oplock_level(), oplock::BATCH);
    assert_eq!(done.flags & flags::ASYNC_COMMAND, 0, "a synchronous response");
    assert_eq!(done.async_id, 0);
    assert!(done.credits > 0, "the credits the interim would have granted");
    assert_ne!(done.tree_id, 0, "a synchronous response names its tree");
    w.advance(DELAY * 4);
    assert!(w.clients[b].interim_of(mid).is_none(), "no interim after the final response");
    invariants::settled(&w).unwrap();
}

/// The holder takes longer than the delay: the interim goes out when the delay is over,
/// with the credits; the final response is asynchronous and grants none.
#[test]
fn the_interim_goes_out_when_the_delay_is_over() {
    let (mut w, a, b, fid, mid) = deferred_create("interim-late");
    let next = w.advance(DELAY / 2);
    assert!(w.clients[b].interim_of(mid).is_none(), "not yet");
    assert!(next.is_some(), "the held interim is a deadline");
    w.advance(DELAY);
    let interim = w.clients[b].interim_of(mid).expect("sent once the delay is over").clone();
    assert_eq!(interim.status, NtStatus::PENDING);
    assert_ne!(interim.async_id, 0);
    assert!(interim.credits > 0);
    invariants::settled(&w).unwrap();
    let ack = w.ack_oplock(a, fid, oplock::LEVEL_II);
    assert_eq!(ack.status, NtStatus::SUCCESS);
    let done = w.clients[b].final_of(mid).expect("completed by the ack").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.oplock_level(), oplock::LEVEL_II);
    assert_ne!(done.flags & flags::ASYNC_COMMAND, 0);
    assert_eq!(done.async_id, interim.async_id);
    assert_eq!(done.credits, 0, "the interim granted them");
    invariants::settled(&w).unwrap();
}

/// CANCEL by MessageId before the interim went out (the client knows no AsyncId yet,
/// MS-SMB2 3.3.5.16): one synchronous STATUS_CANCELLED, nothing waits any more.
#[test]
fn a_cancel_before_the_interim_is_answered_synchronously() {
    let (mut w, _a, b, _fid, mid) = deferred_create("interim-cancel");
    w.cancel(b, mid);
    let done = w.clients[b].final_of(mid).expect("cancelled").clone();
    assert_eq!(done.status, NtStatus::CANCELLED);
    assert_eq!(done.flags & flags::ASYNC_COMMAND, 0);
    assert_eq!(w.server.locks.report().waiting, 0, "no waiter is left");
    w.advance(DELAY * 4);
    assert!(w.clients[b].interim_of(mid).is_none());
    invariants::settled(&w).unwrap();
}

/// A blocking lock granted within the delay: one synchronous SUCCESS.
#[test]
fn a_blocking_lock_granted_within_the_delay_gets_no_interim() {
    let mut w = world("interim-lock");
    let a = w.connect();
    let b = w.connect();
    let fa = w.open(a, "l.txt");
    let fb = w.open(b, "l.txt");
    assert_eq!(w.lock_now(a, fa, 0, 10), NtStatus::SUCCESS);
    let mid = w.send_lock(b, fb, &[(0, 10, EXCLUSIVE)]);
    assert!(w.clients[b].final_of(mid).is_none(), "the lock waits");
    assert!(w.clients[b].interim_of(mid).is_none());
    invariants::settled(&w).unwrap();
    assert_eq!(w.unlock(a, fa, 0, 10), NtStatus::SUCCESS);
    let done = w.clients[b].final_of(mid).expect("granted on unlock").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.flags & flags::ASYNC_COMMAND, 0);
    assert!(done.credits > 0);
    invariants::settled(&w).unwrap();
}

/// The holder's connection dies with the interim held: the CREATE completes, and the
/// credit accounting of both sides agrees all along.
#[test]
fn a_held_interim_and_a_dying_holder() {
    let (mut w, a, b, _fid, mid) = deferred_create("interim-kill");
    w.kill(a);
    w.run();
    let done = w.clients[b].final_of(mid).expect("completed once the holder is gone").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.flags & flags::ASYNC_COMMAND, 0);
    invariants::settled(&w).unwrap();
}
