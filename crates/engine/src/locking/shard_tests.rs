//! The lock state partitioned by file: unrelated files in different shards do not wait
//! for each other, and what concerns two files (a lease key, a directory and its child)
//! or every file (a connection's end) still holds across shards.

use super::*;
use super::test_support::{file_info, Inbox};
use crate::clock::SystemClock;
use std::sync::mpsc;

fn info(ino: u64, is_dir: bool) -> FileInfo {
    file_info(ino, is_dir)
}

fn shard_of_ino(ino: u64) -> usize {
    shard_of(FileKey { device: 1, inode: ino })
}

/// `n` inode numbers whose files are all in different shards.
fn inodes_in_distinct_shards(n: usize) -> Vec<u64> {
    let mut seen = std::collections::BTreeSet::new();
    (1..).filter(|&ino| seen.insert(shard_of_ino(ino))).take(n).collect()
}

/// An inode in the same shard as `ino`, other than it.
fn same_shard_as(ino: u64) -> u64 {
    (ino + 1..).find(|&i| shard_of_ino(i) == shard_of_ino(ino)).expect("another inode of the shard")
}

fn admission(conn: u64, open: u64, requested: RequestedCaching) -> Admission {
    Admission {
        conn,
        open,
        access: AccessMask(AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA),
        share: ShareAccess(ShareAccess::READ | ShareAccess::WRITE),
        requested,
        truncating: false,
        delete_on_close: false,
        policy: CreatePolicy { directory_leases_allowed: true, ..CreatePolicy::default() },
        contention_limit: 0,
        client: [conn as u8; 16],
        user: Arc::from("alice"),
    }
}

fn lease(client: u64, key: u8, state: LeaseState, parent: Option<u8>) -> RequestedCaching {
    RequestedCaching::Lease {
        client: ClientGuid([client as u8; 16]),
        key: LeaseKey([key; 16]),
        state,
        parent: parent.map(|p| LeaseKey([p; 16])),
        epoch: parent.map(|_| 1),
    }
}

fn locks_with(conns: &[(u64, Arc<Inbox>)]) -> Locking {
    let locks = Locking::new(Duration::from_secs(35), 8, vec!["share".into()], Arc::new(SystemClock));
    for (c, inbox) in conns {
        let peer: std::net::SocketAddr = ([127, 0, 0, 1], 445).into();
        locks.register_connection(*c, peer, inbox.clone());
    }
    locks
}

fn granted(o: CreateOutcome) -> bool {
    matches!(o, CreateOutcome::Granted { .. })
}

#[test]
fn a_held_shard_does_not_stop_a_file_of_another_shard() {
    let inbox = Arc::new(Inbox::default());
    let locks = locks_with(&[(1, inbox)]);
    let inos = inodes_in_distinct_shards(2);
    let (busy, free) = (inos[0], inos[1]);
    let neighbour = same_shard_as(busy);
    std::thread::scope(|s| {
        // Stands for a long operation on `busy`: its shard is held until told to let go.
        let held = locks.shard(shard_of_ino(busy));
        let (done_tx, done_rx) = mpsc::channel();
        let locks = &locks;
        let tx = done_tx.clone();
        s.spawn(move || {
            assert!(granted(locks.admit_open(&info(free, false), admission(1, 10, RequestedCaching::None))));
            let lock = locks.lock_range(10, 1, &[LockElement::lock(0, 8, true, true)]);
            assert_eq!(lock, LockOutcome::Done(NtStatus::SUCCESS));
            assert_eq!(locks.check_io(10, 0, 8, true), Ok(()));
            locks.close_id(10);
            tx.send("free").unwrap();
        });
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok("free"), "a file of another shard went on");
        // A file of the held shard waits for it.
        s.spawn(move || {
            assert!(granted(locks.admit_open(&info(neighbour, false), admission(1, 20, RequestedCaching::None))));
            locks.close_id(20);
            done_tx.send("neighbour").unwrap();
        });
        assert!(done_rx.recv_timeout(Duration::from_millis(100)).is_err(), "the same shard waits");
        drop(held);
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok("neighbour"));
    });
}

#[test]
fn a_lease_key_of_a_file_in_another_shard_is_refused() {
    let inbox = Arc::new(Inbox::default());
    let locks = locks_with(&[(1, inbox)]);
    let inos = inodes_in_distinct_shards(2);
    let rwh = LeaseState::RWH;
    assert!(granted(locks.admit_open(&info(inos[0], false), admission(1, 10, lease(1, 7, rwh, None)))));
    let other = locks.admit_open(&info(inos[1], false), admission(1, 11, lease(1, 7, rwh, None)));
    assert_eq!(other, CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
    assert!(locks.directory_lease_fits([1; 16], [7; 16], 0), "the client holds that lease (in another shard)");
    // Another client's lease with the same key is another lease.
    assert!(granted(locks.admit_open(&info(inos[1], false), admission(2, 12, lease(2, 7, rwh, None)))));
    // Once the lease's last open is gone the key is free for another file.
    locks.close_id(12);
    locks.close_id(10);
    assert!(granted(locks.admit_open(&info(inos[1], false), admission(1, 13, lease(1, 7, LeaseState::R, None)))));
    let back = locks.admit_open(&info(inos[0], false), admission(1, 14, lease(1, 7, rwh, None)));
    assert_eq!(back, CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
}

#[test]
fn a_child_created_in_another_shard_breaks_the_directory_lease() {
    let (dir_holder, creator) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let locks = locks_with(&[(1, dir_holder.clone()), (2, creator.clone())]);
    let inos = inodes_in_distinct_shards(3);
    let (dir, child, sibling) = (inos[0], inos[1], inos[2]);
    let rh = LeaseState::R | LeaseState::H;
    // Client 1 caches the directory; client 2 has a lease on it too.
    assert!(granted(locks.admit_open(&info(dir, true), admission(1, 10, lease(1, 1, rh, None)))));
    assert!(granted(locks.admit_open(&info(dir, true), admission(2, 20, lease(2, 2, rh, None)))));
    // Client 2 creates a child under a lease whose parent key is its directory lease.
    assert!(granted(locks.admit_open(&info(child, false), admission(2, 21, lease(2, 3, LeaseState::RWH, Some(2))))));
    assert_ne!(shard_of_ino(dir), shard_of_ino(child));
    locks.directory_changed(10, Changer::Open(21));
    assert_eq!(dir_holder.lease_breaks(), 1, "client 1's directory lease broke");
    assert_eq!(creator.lease_breaks(), 0, "the changer's own directory lease is spared");
    // A change under no lease (a program on the host) breaks what is left: client 2's.
    assert!(granted(locks.admit_open(&info(sibling, false), admission(1, 11, RequestedCaching::None))));
    locks.directory_changed(20, Changer::Host);
    assert_eq!(creator.lease_breaks(), 1);
}

#[test]
fn a_disconnect_cleans_every_shard() {
    let (gone, stays) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let locks = locks_with(&[(1, gone), (2, stays)]);
    let inos = inodes_in_distinct_shards(SHARDS);
    for (i, &ino) in inos.iter().enumerate() {
        let open = 100 + i as u64;
        assert!(granted(locks.admit_open(&info(ino, false), admission(1, open, lease(1, i as u8, LeaseState::RWH, None)))));
        locks.set_path(open, 0, &format!("f{ino}"));
        assert_eq!(locks.lock_range(open, open, &[LockElement::lock(0, 8, true, true)]), LockOutcome::Done(NtStatus::SUCCESS));
    }
    let kept = same_shard_as(inos[0]);
    assert!(granted(locks.admit_open(&info(kept, false), admission(2, 1000, RequestedCaching::None))));
    locks.set_path(1000, 0, "kept");
    assert_eq!(locks.report().opens.len(), SHARDS + 1);
    locks.connection_ending(1, None);
    for i in 0..SHARDS as u64 {
        locks.close_id(100 + i);
    }
    locks.disconnect(1);
    let report = locks.report();
    assert_eq!(report.opens.iter().map(|o| o.open).collect::<Vec<_>>(), vec![1000]);
    assert_eq!(report.peers.len(), 1);
    assert!(locks.byte_range_locks().is_empty());
    for i in 0..SHARDS {
        let g = locks.shard(i);
        assert!(g.owners.keys().all(|o| *o == 1000), "shard {i} forgot connection 1's opens");
        assert!(g.core.deferred_count() == 0);
    }
    assert_eq!(locks.index.get(100), None);
    assert_eq!(locks.index.get(1000), Some(shard_of_ino(kept)));
    // The lease keys are free again.
    assert!(granted(locks.admit_open(&info(inos[1], false), admission(2, 1001, lease(1, 0, LeaseState::RWH, None)))));
}

#[test]
fn a_disconnect_without_closes_ends_the_opens_of_every_shard() {
    let (gone, stays) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let locks = locks_with(&[(1, gone), (2, stays)]);
    let inos = inodes_in_distinct_shards(8);
    for (i, &ino) in inos.iter().enumerate() {
        assert!(granted(locks.admit_open(&info(ino, false), admission(1, 100 + i as u64, RequestedCaching::None))));
    }
    locks.disconnect(1);
    for i in 0..SHARDS {
        assert!(locks.shard(i).owners.is_empty(), "shard {i}");
    }
    // The core let the opens go: another connection opens every file without sharing.
    for (i, &ino) in inos.iter().enumerate() {
        let mut a = admission(2, 200 + i as u64, RequestedCaching::None);
        a.share = ShareAccess(0);
        assert!(granted(locks.admit_open(&info(ino, false), a)), "file {ino}");
    }
}

#[test]
fn status_listings_do_not_depend_on_the_partition() {
    let inbox = Arc::new(Inbox::default());
    let locks = locks_with(&[(1, inbox)]);
    let inos = inodes_in_distinct_shards(16);
    for (i, &ino) in inos.iter().enumerate().rev() {
        let open = 50 + i as u64;
        assert!(granted(locks.admit_open(&info(ino, false), admission(1, open, RequestedCaching::None))));
        locks.set_path(open, 0, "same/name");
        locks.lock_range(open, open, &[LockElement::lock(16, 8, false, true), LockElement::lock(0, 8, false, true)]);
    }
    let opens: Vec<u64> = locks.report().opens.iter().map(|o| o.open).collect();
    assert!(opens.windows(2).all(|w| w[0] < w[1]), "by open id: {opens:?}");
    assert_eq!(locks.opens_at(0, "same/name"), (50..66).collect::<Vec<_>>());
    // Byte-range locks by file (device, inode), as one core lists them.
    let rows = locks.byte_range_locks();
    assert_eq!(rows.len(), 32);
    let files: Vec<u64> = rows.iter().map(|r| inos[(r.open - 50) as usize]).collect();
    assert!(files.windows(2).all(|w| w[0] <= w[1]), "by file: {files:?}");
}

#[test]
fn break_records_of_every_shard_share_ids_and_one_history() {
    let (holder, contender) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let locks = locks_with(&[(1, holder), (2, contender)]);
    let inos = inodes_in_distinct_shards(2);
    let batch = RequestedCaching::Oplock(opportune_locks::OplockLevel::Batch);
    // The second file's break is sent and finishes first.
    for (i, &ino) in inos.iter().rev().enumerate() {
        let open = 10 + i as u64;
        assert!(granted(locks.admit_open(&info(ino, false), admission(1, open, batch))));
        locks.set_path(open, 0, &format!("f{ino}"));
        assert_eq!(locks.admit_open(&info(ino, false), admission(2, 20 + i as u64, RequestedCaching::None)), CreateOutcome::Deferred);
        assert_eq!(locks.pending_breaks().len(), 1);
        locks.ack_oplock(open, OplockLevel::LevelII).expect("acknowledged");
    }
    let recent = locks.recent_breaks(10);
    assert_eq!(recent.iter().map(|r| r.path.clone()).collect::<Vec<_>>(), vec![format!("f{}", inos[1]), format!("f{}", inos[0])]);
    assert!(recent[0].id < recent[1].id);
    assert_eq!(locks.recent_breaks(1).len(), 1);
    assert_eq!(locks.recent_breaks(1)[0].id, recent[1].id, "the latest");
}
