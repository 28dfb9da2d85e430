//! CREATE through the world: dispositions, share modes, oplocks and leases, and creates
//! deferred by a break (MS-SMB2 3.3.5.9, 3.3.4.6, 3.3.4.7).

use opportune_engine::testing::build::{disposition, lease, oplock, options, share, Create};
use opportune_engine::testing::{invariants, Notice, World};
use opportune_types::NtStatus;

/// MS-SMB2 3.3.5.9: OPEN_IF of a new file creates it (CreateAction FILE_CREATED = 2),
/// then opens it (FILE_OPENED = 1); the file exists in the share directory.
#[test]
fn open_if_creates_then_opens() {
    let mut w = World::new("open-if");
    let c = w.connect();
    let r = w.create(c, &Create::file("new.txt"));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.create_action(), 2);
    assert!(w.share.is_file("new.txt"));
    let r2 = w.create(c, &Create::file("new.txt"));
    assert_eq!(r2.create_action(), 1);
    assert_ne!(r.file_id(), r2.file_id(), "two opens, two FileIds");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.9 / MS-FSA 2.1.5.1: OPEN of a missing file is STATUS_OBJECT_NAME_NOT_FOUND.
#[test]
fn open_of_a_missing_file() {
    let mut w = World::new("open-missing");
    let c = w.connect();
    let r = w.create(c, &Create::file("absent.txt").disposition(disposition::OPEN));
    assert_eq!(r.status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

/// MS-FSA 2.1.5.1: CREATE of an existing file is STATUS_OBJECT_NAME_COLLISION.
#[test]
fn create_of_an_existing_file() {
    let mut w = World::new("create-exists");
    let c = w.connect();
    w.share.write("here.txt", b"x");
    let r = w.create(c, &Create::file("here.txt").disposition(disposition::CREATE));
    assert_eq!(r.status, NtStatus::OBJECT_NAME_COLLISION);
}

/// MS-FSA 2.1.5.1: a file in a missing directory is STATUS_OBJECT_PATH_NOT_FOUND.
#[test]
fn create_in_a_missing_directory() {
    let mut w = World::new("no-parent");
    let c = w.connect();
    let r = w.create(c, &Create::file("nodir\\f.txt"));
    assert_eq!(r.status, NtStatus::OBJECT_PATH_NOT_FOUND);
}

/// MS-SMB2 3.3.5.9: OVERWRITE_IF truncates an existing file (CreateAction
/// FILE_OVERWRITTEN = 3).
#[test]
fn overwrite_if_truncates() {
    let mut w = World::new("overwrite");
    let c = w.connect();
    w.share.write("big.txt", b"0123456789");
    let r = w.create(c, &Create::file("big.txt").disposition(disposition::OVERWRITE_IF));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.create_action(), 3);
    assert_eq!(w.share.len("big.txt").unwrap(), 0);
}

/// MS-SMB2 3.3.5.9 with FILE_DIRECTORY_FILE: a directory is made.
#[test]
fn create_a_directory() {
    let mut w = World::new("mkdir");
    let c = w.connect();
    let r = w.create(c, &Create::dir("sub").disposition(disposition::CREATE));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert!(w.share.is_dir("sub"));
}

/// MS-FSA 2.1.5.1.2: FILE_NON_DIRECTORY_FILE on a directory is STATUS_FILE_IS_A_DIRECTORY.
#[test]
fn non_directory_open_of_a_directory() {
    let mut w = World::new("isdir");
    let c = w.connect();
    w.share.mkdir("d");
    let r = w.create(c, &Create::file("d").disposition(disposition::OPEN));
    assert_eq!(r.status, NtStatus::FILE_IS_A_DIRECTORY);
}

/// MS-FSA 2.1.5.1.2 (share access check): an open that shares nothing makes a second
/// open fail with STATUS_SHARING_VIOLATION; once closed, the second open succeeds.
#[test]
fn share_modes_conflict() {
    let mut w = World::new("sharing");
    let a = w.connect();
    let b = w.connect();
    let r = w.create(a, &Create::file("locked.txt").share(share::NONE));
    assert_eq!(r.status, NtStatus::SUCCESS);
    let r2 = w.create(b, &Create::file("locked.txt"));
    assert_eq!(r2.status, NtStatus::SHARING_VIOLATION);
    assert_eq!(w.close(a, r.file_id()), NtStatus::SUCCESS);
    assert_eq!(w.create(b, &Create::file("locked.txt")).status, NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.1.2: a read-only sharer admits readers but not writers.
#[test]
fn share_read_admits_readers_only() {
    use opportune_engine::testing::build::access;
    let mut w = World::new("share-read");
    let a = w.connect();
    let b = w.connect();
    let r = w.create(a, &Create::file("r.txt").access(access::GENERIC_READ).share(share::READ));
    assert_eq!(r.status, NtStatus::SUCCESS);
    let reader = w.create(b, &Create::file("r.txt").access(access::GENERIC_READ).share(share::ALL));
    assert_eq!(reader.status, NtStatus::SUCCESS);
    let writer = w.create(b, &Create::file("r.txt").access(access::GENERIC_WRITE).share(share::ALL));
    assert_eq!(writer.status, NtStatus::SHARING_VIOLATION);
}

/// MS-SMB2 3.3.5.9.8: a batch oplock is granted to the only opener.
#[test]
fn batch_oplock_is_granted_to_a_lone_opener() {
    let mut w = World::new("batch");
    let c = w.connect();
    let r = w.create(c, &Create::file("b.txt").oplock(oplock::BATCH));
    assert_eq!(r.oplock_level(), oplock::BATCH);
}

/// MS-SMB2 3.3.5.9.8: an exclusive oplock is granted to the only opener.
#[test]
fn exclusive_oplock_is_granted_to_a_lone_opener() {
    let mut w = World::new("excl");
    let c = w.connect();
    let r = w.create(c, &Create::file("e.txt").oplock(oplock::EXCLUSIVE));
    assert_eq!(r.oplock_level(), oplock::EXCLUSIVE);
}

/// MS-SMB2 3.3.4.6 and 3.3.5.9.8: a second open of a file under a batch oplock waits
/// (interim STATUS_PENDING) while the holder is told to break to Level II; the holder's
/// acknowledgment completes the waiting CREATE, which gets Level II too.
#[test]
fn create_deferred_by_a_break_completes_on_ack() {
    let mut w = World::new("defer-ack");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("shared.txt").oplock(oplock::BATCH));
    assert_eq!(held.oplock_level(), oplock::BATCH);
    let mid = w.send_create(b, &Create::file("shared.txt").oplock(oplock::BATCH));
    assert!(w.clients[b].final_of(mid).is_none(), "the second CREATE waits for the break");
    assert_eq!(w.clients[b].interim_of(mid).map(|r| r.status), Some(NtStatus::PENDING));
    assert_eq!(w.clients[a].take_notice(), Some(Notice::Oplock { fid: held.file_id(), level: oplock::LEVEL_II }));
    invariants::settled(&w).unwrap();
    let ack = w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    assert_eq!(ack.status, NtStatus::SUCCESS);
    assert_eq!(ack.body[2], oplock::LEVEL_II, "the acknowledgment response names the new level");
    let done = w.clients[b].final_of(mid).expect("completed by the ack").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.oplock_level(), oplock::LEVEL_II);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.4.6: a holder that closes instead of acknowledging also lets the waiting
/// CREATE proceed, which then gets the batch oplock itself.
#[test]
fn create_deferred_by_a_break_completes_on_close() {
    let mut w = World::new("defer-close");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("s.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("s.txt").oplock(oplock::BATCH));
    assert!(w.clients[b].final_of(mid).is_none());
    assert_eq!(w.close(a, held.file_id()), NtStatus::SUCCESS);
    let done = w.clients[b].final_of(mid).expect("completed by the close");
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.oplock_level(), oplock::BATCH);
}

/// MS-SMB2 3.3.4.6 / 3.3.7.1: a holder whose connection dies lets the waiting CREATE
/// proceed (its opens close with the connection).
#[test]
fn create_deferred_by_a_break_completes_when_the_holder_dies() {
    let mut w = World::new("defer-kill");
    let a = w.connect();
    let b = w.connect();
    w.create(a, &Create::file("k.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("k.txt").oplock(oplock::BATCH));
    assert!(w.clients[b].final_of(mid).is_none());
    w.kill(a);
    w.run();
    let done = w.clients[b].final_of(mid).expect("completed once the holder is gone");
    assert_eq!(done.status, NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.16: CANCEL of a CREATE waiting for a break answers STATUS_CANCELLED;
/// the holder keeps its file.
#[test]
fn cancel_of_a_deferred_create() {
    let mut w = World::new("defer-cancel");
    let a = w.connect();
    let b = w.connect();
    w.create(a, &Create::file("c.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("c.txt").oplock(oplock::BATCH));
    w.cancel(b, mid);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::CANCELLED));
    assert_eq!(w.server.locks.report().waiting, 0, "no waiter is left");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.4.6: Level II holders are told of a write by a break to none, with no
/// acknowledgment expected; the writer is not held up.
#[test]
fn level_ii_breaks_to_none_on_write() {
    let mut w = World::new("l2-write");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("w.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("w.txt").oplock(oplock::LEVEL_II));
    w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    let fb = w.clients[b].fid_of(mid).expect("second open");
    let _ = w.clients[a].take_notice();
    let wr = w.write(b, fb, 0, b"data");
    assert_eq!(wr.status, NtStatus::SUCCESS);
    assert_eq!(w.clients[a].take_notice(), Some(Notice::Oplock { fid: held.file_id(), level: oplock::NONE }));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.9.8: with oplocks disabled on the server, none is granted.
#[test]
fn no_oplock_when_disabled() {
    let mut w = World::with_config("no-oplocks", |c| c.enable_oplocks = false);
    let c = w.connect();
    let r = w.create(c, &Create::file("n.txt").oplock(oplock::BATCH));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.oplock_level(), oplock::NONE);
}

/// MS-SMB2 3.3.5.9.11: a lease (v1) is granted with the state asked for.
#[test]
fn lease_is_granted() {
    let mut w = World::new("lease");
    let c = w.connect();
    let r = w.create(c, &Create::file("l.txt").lease([1; 16], lease::R | lease::W | lease::H));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.oplock_level(), oplock::LEASE);
    assert_eq!(r.lease_state(), Some(lease::R | lease::W | lease::H));
}

/// MS-SMB2 3.3.4.7: a second client's open breaks an RWH lease to RH (acknowledgment
/// required); its CREATE waits until the acknowledgment (2.2.24.2), then gets RH.
#[test]
fn lease_break_with_ack() {
    let mut w = World::new("lease-ack");
    let a = w.connect();
    let b = w.connect();
    let rwh = lease::R | lease::W | lease::H;
    assert_eq!(w.create(a, &Create::file("l.txt").lease([1; 16], rwh)).lease_state(), Some(rwh));
    let mid = w.send_create(b, &Create::file("l.txt").lease([2; 16], rwh));
    assert!(w.clients[b].final_of(mid).is_none(), "waits for the lease break");
    assert_eq!(
        w.clients[a].take_notice(),
        Some(Notice::Lease { key: [1; 16], from: rwh, to: lease::R | lease::H, ack_required: true })
    );
    let ack = w.ack_lease(a, [1; 16], lease::R | lease::H);
    assert_eq!(ack.status, NtStatus::SUCCESS);
    let done = w.clients[b].final_of(mid).expect("completed by the ack").clone();
    assert_eq!(done.status, NtStatus::SUCCESS);
    assert_eq!(done.lease_state(), Some(lease::R | lease::H));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.22.2: acknowledging a lease break nobody asked for is
/// STATUS_UNSUCCESSFUL.
#[test]
fn unsolicited_lease_ack_fails() {
    let mut w = World::new("lease-unsolicited");
    let c = w.connect();
    w.create(c, &Create::file("u.txt").lease([3; 16], lease::R));
    let r = w.ack_lease(c, [3; 16], lease::R);
    assert_ne!(r.status, NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.22.1: acknowledging an oplock break that was not sent fails.
#[test]
fn unsolicited_oplock_ack_fails() {
    let mut w = World::new("oplock-unsolicited");
    let c = w.connect();
    let r = w.create(c, &Create::file("o.txt").oplock(oplock::BATCH));
    let ack = w.ack_oplock(c, r.file_id(), oplock::LEVEL_II);
    assert_ne!(ack.status, NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.9 + MS-FSA 2.1.5.4: FILE_DELETE_ON_CLOSE removes the file at its last close.
#[test]
fn delete_on_close() {
    let mut w = World::new("doc");
    let c = w.connect();
    let r = w.create(c, &Create::file("gone.txt").options(options::NON_DIRECTORY_FILE | options::DELETE_ON_CLOSE));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert!(w.share.exists("gone.txt"));
    assert_eq!(w.close(c, r.file_id()), NtStatus::SUCCESS);
    assert!(!w.share.exists("gone.txt"), "deleted at close");
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.4: delete-on-close waits for the last open of the file.
#[test]
fn delete_on_close_waits_for_the_last_handle() {
    let mut w = World::new("doc-last");
    let a = w.connect();
    let b = w.connect();
    let keep = w.open(b, "two.txt");
    let r = w.create(a, &Create::file("two.txt").options(options::NON_DIRECTORY_FILE | options::DELETE_ON_CLOSE));
    assert_eq!(r.status, NtStatus::SUCCESS);
    w.close(a, r.file_id());
    assert!(w.share.exists("two.txt"), "another open remains");
    w.close(b, keep);
    assert!(!w.share.exists("two.txt"));
}

/// MS-FSA 2.1.5.1.2: a file whose delete is pending refuses new opens with
/// STATUS_DELETE_PENDING.
#[test]
fn delete_pending_refuses_new_opens() {
    let mut w = World::new("delete-pending");
    let a = w.connect();
    let r = w.create(a, &Create::file("dp.txt").options(options::NON_DIRECTORY_FILE | options::DELETE_ON_CLOSE));
    let keep = w.open(a, "dp.txt");
    let _ = keep;
    // The disposition set by a second open makes the delete pending for everyone.
    let st = w.set_info(a, opportune_engine::testing::build::dispose(keep, true));
    assert_eq!(st, NtStatus::SUCCESS);
    let again = w.create(a, &Create::file("dp.txt").disposition(disposition::OPEN));
    assert_eq!(again.status, NtStatus::DELETE_PENDING);
    w.close(a, r.file_id());
    w.close(a, keep);
    assert!(!w.share.exists("dp.txt"));
}
