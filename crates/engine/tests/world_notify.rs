//! CHANGE_NOTIFY through the world (MS-SMB2 3.3.5.19): a watch waits asynchronously and
//! is completed by another client's change, cancelled, or cleaned up with its handle.

use opportune_engine::testing::build::{self, disposition, options, Create, Fid};
use opportune_engine::testing::{invariants, Msg, World};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

const FILE_NAME: u32 = 0x1;
const DIR_NAME: u32 = 0x2;
const LAST_WRITE: u32 = 0x10;
const ADDED: u32 = 1;
const REMOVED: u32 = 2;
const RENAMED_OLD: u32 = 4;
const RENAMED_NEW: u32 = 5;

/// A watcher (client 0) with the share root open, and a second client.
fn watcher(label: &str) -> (World, usize, usize, Fid) {
    let mut w = World::new(label);
    let a = w.connect();
    let b = w.connect();
    let dir = w.create(a, &Create::dir("").disposition(disposition::OPEN)).file_id();
    (w, a, b, dir)
}

fn watch(w: &mut World, c: usize, dir: Fid, filter: u32, tree: bool) -> u64 {
    let mid = w.send(c, vec![Msg::new(Command::ChangeNotify, build::change_notify(dir, filter, tree))])[0];
    w.run();
    mid
}

/// MS-SMB2 3.3.5.19: the watch goes async (interim STATUS_PENDING) and completes with
/// FILE_ACTION_ADDED and the name when another client creates a file (MS-FSCC 2.4.42).
#[test]
fn notify_on_file_added() {
    let (mut w, a, b, dir) = watcher("notify-add");
    let mid = watch(&mut w, a, dir, FILE_NAME, false);
    assert_eq!(w.clients[a].interim_of(mid).map(|r| r.status), Some(NtStatus::PENDING));
    assert!(w.clients[a].final_of(mid).is_none());
    invariants::settled(&w).unwrap();
    w.open(b, "born.txt");
    let r = w.clients[a].final_of(mid).expect("completed by the create").clone();
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.changes(), vec![(ADDED, "born.txt".to_string())]);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.19: a delete is FILE_ACTION_REMOVED.
#[test]
fn notify_on_file_removed() {
    let (mut w, a, b, dir) = watcher("notify-remove");
    w.share.write("doomed.txt", b"");
    let mid = watch(&mut w, a, dir, FILE_NAME, false);
    let r = w.create(b, &Create::file("doomed.txt").disposition(disposition::OPEN).options(options::NON_DIRECTORY_FILE | options::DELETE_ON_CLOSE));
    w.close(b, r.file_id());
    let r = w.clients[a].final_of(mid).expect("completed by the delete");
    assert_eq!(r.changes(), vec![(REMOVED, "doomed.txt".to_string())]);
}

/// MS-SMB2 3.3.5.19: a rename is FILE_ACTION_RENAMED_OLD_NAME then _NEW_NAME. The
/// engine completes the waiting watch with the old name and keeps the new name for the
/// next watch (Windows puts both in one response; the order is what clients rely on).
#[test]
fn notify_on_rename() {
    let (mut w, a, b, dir) = watcher("notify-rename");
    let fid = w.open(b, "before.txt");
    let mid = watch(&mut w, a, dir, FILE_NAME, false);
    assert_eq!(w.set_info(b, build::rename(fid, "after.txt", false)), NtStatus::SUCCESS);
    let mut seen = w.clients[a].final_of(mid).expect("completed by the rename").changes();
    if seen.len() < 2 {
        let next = watch(&mut w, a, dir, FILE_NAME, false);
        seen.extend(w.clients[a].final_of(next).expect("the rest is buffered").changes());
    }
    assert_eq!(seen, vec![(RENAMED_OLD, "before.txt".to_string()), (RENAMED_NEW, "after.txt".to_string())]);
}

/// MS-SMB2 3.3.5.19: a change the filter does not ask for leaves the watch waiting.
#[test]
fn notify_filter_excludes_other_changes() {
    let (mut w, a, b, dir) = watcher("notify-filter");
    let mid = watch(&mut w, a, dir, DIR_NAME, false);
    w.open(b, "file-not-dir.txt");
    assert!(w.clients[a].final_of(mid).is_none(), "a file is not a directory name change");
    w.create(b, &Create::dir("newdir").disposition(disposition::CREATE));
    let r = w.clients[a].final_of(mid).expect("a directory was made");
    assert_eq!(r.changes(), vec![(ADDED, "newdir".to_string())]);
}

/// MS-SMB2 3.3.5.19 (WATCH_TREE): a watch of the tree sees changes in subdirectories,
/// named relative to the watched directory; without it, it does not.
#[test]
fn notify_watch_tree() {
    let (mut w, a, b, dir) = watcher("notify-tree");
    w.share.mkdir("sub");
    let flat = watch(&mut w, a, dir, FILE_NAME, false);
    let a2 = w.connect();
    let dir2 = w.create(a2, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let deep = watch(&mut w, a2, dir2, FILE_NAME, true);
    w.open(b, "sub\\inner.txt");
    assert!(w.clients[a].final_of(flat).is_none(), "not in the watched directory itself");
    let r = w.clients[a2].final_of(deep).expect("the tree watch sees it");
    assert_eq!(r.changes(), vec![(ADDED, "sub\\inner.txt".to_string())]);
}

/// MS-SMB2 3.3.5.16: CANCEL of a waiting watch answers STATUS_CANCELLED.
#[test]
fn notify_cancelled() {
    let (mut w, a, b, dir) = watcher("notify-cancel");
    let mid = watch(&mut w, a, dir, FILE_NAME, false);
    w.cancel(a, mid);
    assert_eq!(w.clients[a].final_of(mid).map(|r| r.status), Some(NtStatus::CANCELLED));
    w.open(b, "late.txt");
    assert_eq!(w.clients[a].requests[&mid].finals.len(), 1, "one final response only");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.10: closing the watched handle completes the watch with
/// STATUS_NOTIFY_CLEANUP.
#[test]
fn notify_cleanup_on_close() {
    let (mut w, a, _b, dir) = watcher("notify-close");
    let mid = watch(&mut w, a, dir, FILE_NAME, false);
    assert_eq!(w.close(a, dir), NtStatus::SUCCESS);
    assert_eq!(w.clients[a].final_of(mid).map(|r| r.status), Some(NtStatus::NOTIFY_CLEANUP));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.19: changes while no watch is pending are kept for the next one
/// (the directory's notify buffer).
#[test]
fn notify_buffers_changes_between_watches() {
    let (mut w, a, b, dir) = watcher("notify-buffer");
    let first = watch(&mut w, a, dir, FILE_NAME, false);
    w.open(b, "one.txt");
    assert!(w.clients[a].final_of(first).is_some());
    w.open(b, "two.txt");
    let second = watch(&mut w, a, dir, FILE_NAME, false);
    let r = w.clients[a].final_of(second).expect("answered at once from the buffer");
    assert_eq!(r.changes(), vec![(ADDED, "two.txt".to_string())]);
}

/// MS-SMB2 3.3.5.19: CHANGE_NOTIFY on a file (not a directory) is STATUS_INVALID_PARAMETER.
#[test]
fn notify_on_a_file_is_refused() {
    let mut w = World::new("notify-file");
    let c = w.connect();
    let fid = w.open(c, "plain.txt");
    let r = w.call(c, Msg::new(Command::ChangeNotify, build::change_notify(fid, LAST_WRITE, false)));
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
}

/// MS-SMB2 3.3.7.1: a watcher whose connection ends leaves no watch behind; later
/// changes go nowhere (nothing is offered to the dead connection).
#[test]
fn notify_of_a_dead_connection() {
    let (mut w, a, b, dir) = watcher("notify-kill");
    watch(&mut w, a, dir, FILE_NAME, false);
    w.kill(a);
    w.open(b, "after-death.txt");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.19 and 3.3.5.16: two CHANGE_NOTIFYs waiting on one directory open
/// complete in the order they came, and a CANCEL cancels the one it names, not the other.
#[test]
fn two_watches_on_one_handle() {
    let (mut w, a, b, dir) = watcher("notify-two");
    let first = watch(&mut w, a, dir, FILE_NAME, false);
    let second = watch(&mut w, a, dir, FILE_NAME, false);
    w.cancel(a, first);
    assert_eq!(w.clients[a].final_of(first).map(|r| r.status), Some(NtStatus::CANCELLED));
    assert!(w.clients[a].final_of(second).is_none(), "the other watch still waits");
    w.open(b, "seen.txt");
    let r = w.clients[a].final_of(second).expect("the second watch saw it");
    assert_eq!(r.changes(), vec![(ADDED, "seen.txt".to_string())]);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.10: closing a directory open ends every watch waiting on it with
/// STATUS_NOTIFY_CLEANUP.
#[test]
fn close_ends_every_watch_on_the_handle() {
    let (mut w, a, _b, dir) = watcher("notify-close-two");
    let first = watch(&mut w, a, dir, FILE_NAME, false);
    let second = watch(&mut w, a, dir, FILE_NAME, true);
    w.close(a, dir);
    for m in [first, second] {
        assert_eq!(w.clients[a].final_of(m).map(|r| r.status), Some(NtStatus::NOTIFY_CLEANUP), "mid {m}");
    }
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.10: with several CHANGE_NOTIFYs waiting on one directory open, a change
/// completes the oldest; the next change completes the next one. The order is the
/// requests', not the pending table's.
#[test]
fn a_change_completes_the_oldest_watch_of_the_handle() {
    let (mut w, a, b, dir) = watcher("notify-oldest");
    let mids: Vec<u64> = (0..4).map(|_| watch(&mut w, a, dir, FILE_NAME, false)).collect();
    for (i, &mid) in mids.iter().enumerate() {
        w.open(b, &format!("f{i}.txt"));
        let r = w.clients[a].final_of(mid).unwrap_or_else(|| panic!("watch {i} completed by change {i}")).clone();
        assert_eq!(r.changes(), vec![(ADDED, format!("f{i}.txt"))]);
        for &later in &mids[i + 1..] {
            assert!(w.clients[a].final_of(later).is_none(), "a later watch still waits");
        }
    }
    invariants::settled(&w).unwrap();
}
