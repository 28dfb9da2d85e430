//! The lock layer on virtual time: break deadlines are read from the clock it was given,
//! so nothing expires until a [`ManualClock`] is advanced past the deadline.

use super::*;
use super::test_support::{file_info, Inbox};
use crate::clock::ManualClock;

fn info() -> FileInfo {
    file_info(7, false)
}

/// A lock layer on `clock` with connections 1 (the holder) and 2 (the contender).
fn two_connections(clock: &ManualClock) -> (Locking, Arc<Inbox>, Arc<Inbox>) {
    let locks = Locking::new(Duration::from_secs(35), 8, vec!["share".into()], Arc::new(clock.clone()));
    let (holder, contender) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let peer: std::net::SocketAddr = ([127, 0, 0, 1], 445).into();
    locks.register_connection(1, peer, holder.clone());
    locks.register_connection(2, peer, contender.clone());
    (locks, holder, contender)
}

fn admission(conn: u64, open: u64) -> Admission {
    Admission {
        conn,
        open,
        access: AccessMask(AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA),
        share: ShareAccess(ShareAccess::READ | ShareAccess::WRITE),
        requested: RequestedCaching::Oplock(opportune_locks::OplockLevel::Batch),
        truncating: false,
        delete_on_close: false,
        policy: CreatePolicy::default(),
        contention_limit: 0,
        client: [0; 16],
        user: Arc::from("alice"),
    }
}

#[test]
fn a_break_times_out_only_once_the_manual_clock_passes_its_deadline() {
    let clock = ManualClock::new();
    let timeout = Duration::from_secs(35);
    let (locks, holder, contender) = two_connections(&clock);
    assert!(matches!(locks.admit_open(&info(), admission(1, 10)), CreateOutcome::Granted { .. }));

    // A second open breaks the batch oplock and waits for the acknowledgment.
    let t0 = clock.now();
    assert_eq!(locks.admit_open(&info(), admission(2, 20)), CreateOutcome::Deferred);
    assert!(holder.oplock_break_sent());
    let deadline = locks.tick().expect("a break deadline");
    assert_eq!(deadline, t0 + timeout);
    assert_eq!(locks.now(), t0);

    // Real time passing changes nothing; virtual time short of the deadline neither.
    std::thread::sleep(Duration::from_millis(5));
    clock.advance(timeout - Duration::from_secs(1));
    assert_eq!(locks.tick(), Some(deadline));
    assert!(!contender.create_completed(20));
    assert_eq!(locks.pending_breaks().len(), 1);

    // Past the deadline the break times out and the waiting create goes on.
    clock.advance(Duration::from_secs(2));
    locks.tick();
    assert!(contender.create_completed(20));
    assert!(locks.pending_breaks().is_empty());
}

/// A tick looks only at the shards whose recorded deadline has come: a break deadline in a
/// shard nobody touches again is still met while other files' work goes on, and the
/// deadline returned is the earliest over every shard.
#[test]
fn a_deadline_in_an_untouched_shard_is_met() {
    let clock = ManualClock::new();
    let timeout = Duration::from_secs(35);
    let (locks, _holder, contender) = two_connections(&clock);
    let t0 = clock.now();
    assert!(matches!(locks.admit_open(&info(), admission(1, 10)), CreateOutcome::Granted { .. }));
    assert_eq!(locks.admit_open(&info(), admission(2, 20)), CreateOutcome::Deferred);
    assert_eq!(locks.tick(), Some(t0 + timeout));
    // Another file, in another shard, opened and closed meanwhile, then ticks.
    let mut other = info();
    other.file_id = (8..).find(|&i| shard_of(FileKey { device: 1, inode: i }) != shard_of(file_key(&info()))).unwrap();
    for n in 0..3u64 {
        assert!(matches!(locks.admit_open(&other, admission(1, 100 + n)), CreateOutcome::Granted { .. }));
        locks.close_id(100 + n);
        assert_eq!(locks.tick(), Some(t0 + timeout), "the untouched shard's deadline is still the earliest");
    }
    clock.advance(timeout + Duration::from_secs(1));
    assert_eq!(locks.tick(), None, "nothing left to wait for");
    assert!(contender.create_completed(20), "the break timed out and the create went on");
}

/// The timer is woken only when an operation makes a deadline earlier than the one it
/// sleeps until: opens and closes that set none wake nothing, a break (a new, earliest
/// deadline) wakes it once, and so does nothing after a tick armed it for that deadline.
#[test]
fn the_timer_is_woken_only_for_an_earlier_deadline() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let clock = ManualClock::new();
    let (locks, holder, contender) = two_connections(&clock);
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    locks.install(Hooks { wake_timer: Box::new(move || { w.fetch_add(1, Ordering::SeqCst); }), trace: Box::new(|_| {}) });
    assert_eq!(locks.tick(), None);
    for n in 0..5u64 {
        assert!(matches!(locks.admit_open(&info(), admission(1, 100 + n)), CreateOutcome::Granted { .. }));
        locks.close_id(100 + n);
    }
    assert_eq!(wakes.load(Ordering::SeqCst), 0, "no deadline, no wake");
    assert!(matches!(locks.admit_open(&info(), admission(1, 10)), CreateOutcome::Granted { .. }));
    assert_eq!(locks.admit_open(&info(), admission(2, 20)), CreateOutcome::Deferred);
    assert!(holder.oplock_break_sent());
    assert_eq!(wakes.load(Ordering::SeqCst), 1, "the break's deadline woke the timer");
    let deadline = locks.tick().expect("the break deadline");
    // Armed for it now: more work that sets no earlier deadline wakes nothing.
    let mut other = info();
    other.file_id = 99;
    assert!(matches!(locks.admit_open(&other, admission(1, 30)), CreateOutcome::Granted { .. }));
    locks.close_id(30);
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(36));
    assert_eq!(locks.tick(), None);
    assert!(contender.create_completed(20), "the break timed out at {deadline:?}");
}
