//! Timers on virtual time: break acknowledgments that never come (MS-SMB2 3.3.6.1,
//! Windows' 35 s OplockBreakWait), durable handles that expire (3.3.6.2), and requests
//! that wait without a deadline. Time moves only when a test advances the world's
//! ManualClock; nothing here depends on the wall clock.

use opportune_engine::testing::build::{lease, lock_flags, oplock, Create};
use opportune_engine::clock::Clock;
use opportune_engine::testing::{invariants, Notice, World, SMB302};
use opportune_types::NtStatus;
use std::time::Duration;

const BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// A client holding a batch oplock on `t.txt` and a second one whose CREATE waits for it.
fn waiting_create(w: &mut World) -> (usize, usize, u64) {
    let a = w.connect();
    let b = w.connect();
    w.create(a, &Create::file("t.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("t.txt").oplock(oplock::BATCH));
    assert!(w.clients[b].interim_of(mid).is_some());
    (a, b, mid)
}

/// MS-SMB2 3.3.6.1: the holder never acknowledges; when the break times out the waiting
/// CREATE proceeds as if it had (the holder is taken to Level II), and not a moment before.
#[test]
fn deferred_create_completed_by_the_break_timeout() {
    let mut w = World::new("timer-break");
    let (_a, b, mid) = waiting_create(&mut w);
    w.advance(BREAK_TIMEOUT - Duration::from_secs(1));
    assert!(w.clients[b].final_of(mid).is_none(), "34 s: still waiting");
    invariants::settled(&w).unwrap();
    w.advance(Duration::from_secs(1));
    let r = w.clients[b].final_of(mid).expect("35 s: the break timed out");
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.oplock_level(), oplock::LEVEL_II);
    assert_eq!(w.server.locks.report().waiting, 0);
    invariants::settled(&w).unwrap();
}

/// The lock layer names the break's deadline as its next timer: the driver would sleep
/// until then.
#[test]
fn the_next_deadline_is_the_break_timeout() {
    let mut w = World::new("timer-next");
    let start = w.server.now();
    waiting_create(&mut w);
    let next = w.expire_timers().expect("a deadline");
    assert_eq!(next.saturating_duration_since(start), BREAK_TIMEOUT);
}

/// `oplock_break_timeout` is configurable: 5 s here.
#[test]
fn configured_break_timeout() {
    let mut w = World::with_config("timer-break-5s", |c| c.oplock_break_timeout = Duration::from_secs(5));
    let (_a, b, mid) = waiting_create(&mut w);
    w.advance(Duration::from_secs(4));
    assert!(w.clients[b].final_of(mid).is_none());
    w.advance(Duration::from_secs(1));
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
}

/// MS-SMB2 3.3.6.1: an acknowledgment after the timeout is too late: the break is over.
#[test]
fn late_acknowledgment_after_the_timeout() {
    let mut w = World::new("timer-late-ack");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("late.txt").oplock(oplock::BATCH));
    w.send_create(b, &Create::file("late.txt").oplock(oplock::BATCH));
    w.advance(BREAK_TIMEOUT);
    let ack = w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    assert_ne!(ack.status, NtStatus::SUCCESS, "nothing to acknowledge any more");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.6.1 for leases: an unacknowledged lease break times out too, and the
/// waiting CREATE gets its lease (RH, shared with the old holder).
#[test]
fn lease_break_timeout() {
    let mut w = World::new("timer-lease");
    let a = w.connect();
    let b = w.connect();
    let rwh = lease::R | lease::W | lease::H;
    w.create(a, &Create::file("l.txt").lease([1; 16], rwh));
    let mid = w.send_create(b, &Create::file("l.txt").lease([2; 16], rwh));
    assert!(matches!(w.clients[a].take_notice(), Some(Notice::Lease { ack_required: true, .. })));
    w.advance(BREAK_TIMEOUT);
    let r = w.clients[b].final_of(mid).expect("timed out");
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.lease_state(), Some(lease::R | lease::H));
}

/// MS-SMB2 3.3.4.6: an acknowledgment just before the timeout completes the CREATE
/// then, and the timer firing later changes nothing.
#[test]
fn ack_before_the_timeout_wins() {
    let mut w = World::new("timer-ack-first");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("a.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("a.txt").oplock(oplock::BATCH));
    w.advance(Duration::from_secs(30));
    assert_eq!(w.ack_oplock(a, held.file_id(), oplock::LEVEL_II).status, NtStatus::SUCCESS);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
    w.advance(Duration::from_secs(10));
    assert_eq!(w.clients[b].requests[&mid].finals.len(), 1);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.6.2: a parked durable open is kept for its timeout (60 s asked here) and
/// reconnects within it.
#[test]
fn durable_open_reconnects_before_its_timeout() {
    let mut w = World::new("timer-durable-ok");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("d.txt").durable_v2(60_000, [7; 16])).file_id();
    w.kill(a);
    w.advance(Duration::from_secs(59));
    let b = w.connect_as(SMB302, 0);
    assert_eq!(w.create(b, &Create::file("d.txt").reconnect_v2(fid, [7; 16])).status, NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.6.2: once its timeout passes, the parked durable open is closed: the lock
/// layer forgets it, its descriptor is released, and a reconnect finds nothing.
#[test]
fn durable_open_expires() {
    let mut w = World::new("timer-durable-expiry");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("e.txt").durable_v2(60_000, [8; 16])).file_id();
    w.kill(a);
    assert_eq!(w.server.locks.report().opens.len(), 1);
    w.advance(Duration::from_secs(61));
    assert!(w.server.locks.report().opens.is_empty(), "expired and closed");
    invariants::all_gone(&w).unwrap();
    assert_eq!(w.server.fds.opens(), 0, "its descriptor is released");
    let b = w.connect_as(SMB302, 0);
    assert_eq!(w.create(b, &Create::file("e.txt").reconnect_v2(fid, [8; 16])).status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

/// MS-SMB2 3.3.6.2 with several parked opens: each expires at its own timeout, earliest
/// first, and the next deadline is always the earliest one left.
#[test]
fn parked_opens_expire_in_deadline_order() {
    let mut w = World::new("timer-durable-order");
    let timeouts = [90_000u32, 30_000, 60_000];
    let mut fids = Vec::new();
    for (i, t) in timeouts.iter().enumerate() {
        let c = w.connect_as(SMB302, 0);
        let name = format!("p{i}.txt");
        let fid = w.create(c, &Create::file(&name).durable_v2(*t, [i as u8 + 1; 16])).file_id();
        fids.push(fid);
        w.kill(c);
    }
    let start = w.clock.now();
    assert_eq!(w.server.locks.report().opens.len(), 3);
    assert_eq!(w.expire_timers(), Some(start + Duration::from_secs(30)), "the shortest timeout first");
    assert_eq!(w.advance(Duration::from_secs(31)), Some(start + Duration::from_secs(60)));
    assert_eq!(w.server.locks.report().opens.len(), 2, "the 30 s one expired");
    assert_eq!(w.advance(Duration::from_secs(30)), Some(start + Duration::from_secs(90)));
    assert_eq!(w.server.locks.report().opens.len(), 1, "then the 60 s one");
    let b = w.connect_as(SMB302, 0);
    assert_eq!(w.create(b, &Create::file("p0.txt").reconnect_v2(fids[0], [1; 16])).status, NtStatus::SUCCESS, "the 90 s one is still there");
    assert_eq!(w.create(b, &Create::file("p1.txt").reconnect_v2(fids[1], [2; 16])).status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

/// MS-SMB2 3.3.5.14: a blocking lock has no deadline: an hour later it still waits, and
/// the unlock grants it then.
#[test]
fn blocking_lock_waits_without_a_deadline() {
    let mut w = World::new("timer-lock");
    let a = w.connect();
    let b = w.connect();
    let fa = w.open(a, "l.txt");
    let fb = w.open(b, "l.txt");
    w.lock_now(a, fa, 0, 1);
    let mid = w.send_lock(b, fb, &[(0, 1, lock_flags::EXCLUSIVE)]);
    w.advance(Duration::from_secs(3600));
    assert!(w.clients[b].final_of(mid).is_none());
    w.unlock(a, fa, 0, 1);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
}

/// MS-SMB2 3.3.5.19: CHANGE_NOTIFY has no deadline either.
#[test]
fn change_notify_waits_without_a_deadline() {
    use opportune_engine::testing::build::{self, disposition};
    use opportune_engine::testing::Msg;
    use opportune_wire::header::Command;
    let mut w = World::new("timer-notify");
    let a = w.connect();
    let dir = w.create(a, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let mid = w.send(a, vec![Msg::new(Command::ChangeNotify, build::change_notify(dir, 1, false))])[0];
    w.run();
    w.advance(Duration::from_secs(24 * 3600));
    assert!(w.clients[a].final_of(mid).is_none());
    invariants::settled(&w).unwrap();
}

/// A break whose holder is gone by the time it would time out: the connection's end
/// already let the CREATE through, and the timer finds nothing to do.
#[test]
fn break_timer_after_the_holder_died() {
    let mut w = World::new("timer-dead-holder");
    let (a, b, mid) = waiting_create(&mut w);
    w.kill(a);
    w.run();
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
    w.advance(BREAK_TIMEOUT * 2);
    assert_eq!(w.clients[b].requests[&mid].finals.len(), 1);
    invariants::settled(&w).unwrap();
}
