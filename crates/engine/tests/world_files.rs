//! Reading, writing and managing files through the world: READ/WRITE round trips,
//! FLUSH, CLOSE, rename, QUERY_DIRECTORY, QUERY_INFO (MS-SMB2 3.3.5.10 – 3.3.5.21).

use opportune_engine::testing::build::{self, disposition, Create};
use opportune_engine::testing::{invariants, Msg, World};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

/// MS-SMB2 3.3.5.13 / 3.3.5.12: what WRITE wrote, READ reads back; WRITE's Count is
/// the length written; the bytes are on disk.
#[test]
fn write_then_read_round_trip() {
    let mut w = World::new("rw");
    let c = w.connect();
    let fid = w.open(c, "rw.txt");
    let wr = w.write(c, fid, 0, b"hello, world");
    assert_eq!(wr.status, NtStatus::SUCCESS);
    assert_eq!(wr.write_count(), 12);
    let r = w.read(c, fid, 7, 5);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.read_data(), b"world");
    assert_eq!(w.share.read("rw.txt").unwrap(), b"hello, world");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.12: a READ at or past the end of file is STATUS_END_OF_FILE.
#[test]
fn read_past_the_end() {
    let mut w = World::new("eof");
    let c = w.connect();
    let fid = w.open(c, "short.txt");
    w.write(c, fid, 0, b"abc");
    assert_eq!(w.read(c, fid, 3, 10).status, NtStatus::END_OF_FILE);
}

/// MS-SMB2 3.3.5.12: a READ that starts inside the file returns what there is.
#[test]
fn short_read() {
    let mut w = World::new("short-read");
    let c = w.connect();
    let fid = w.open(c, "s.txt");
    w.write(c, fid, 0, b"abcdef");
    assert_eq!(w.read(c, fid, 4, 100).read_data(), b"ef");
}

/// MS-SMB2 3.3.5.13: a write at an offset past the end extends the file with zeros.
#[test]
fn sparse_write_extends_with_zeros() {
    let mut w = World::new("extend");
    let c = w.connect();
    let fid = w.open(c, "x.txt");
    w.write(c, fid, 4, b"z");
    assert_eq!(w.read(c, fid, 0, 5).read_data(), b"\0\0\0\0z");
}

/// MS-SMB2 3.3.5.13: a second client sees the first's writes.
#[test]
fn writes_are_seen_by_other_clients() {
    let mut w = World::new("shared-rw");
    let a = w.connect();
    let b = w.connect();
    let fa = w.open(a, "both.txt");
    let fb = w.open(b, "both.txt");
    w.write(a, fa, 0, b"from a");
    assert_eq!(w.read(b, fb, 0, 6).read_data(), b"from a");
}

/// MS-SMB2 3.3.5.13: WRITE on an open without write access is STATUS_ACCESS_DENIED.
#[test]
fn write_without_write_access() {
    use opportune_engine::testing::build::access;
    let mut w = World::new("ro-open");
    let c = w.connect();
    w.share.write("ro.txt", b"x");
    let r = w.create(c, &Create::file("ro.txt").access(access::GENERIC_READ));
    assert_eq!(w.write(c, r.file_id(), 0, b"no").status, NtStatus::ACCESS_DENIED);
}

/// MS-SMB2 3.3.5.11: FLUSH of an open file succeeds.
#[test]
fn flush() {
    let mut w = World::new("flush");
    let c = w.connect();
    let fid = w.open(c, "f.txt");
    w.write(c, fid, 0, b"durable bytes");
    assert_eq!(w.flush(c, fid), NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.10: CLOSE of an unknown FileId is STATUS_FILE_CLOSED.
#[test]
fn close_of_an_unknown_file_id() {
    let mut w = World::new("close-unknown");
    let c = w.connect();
    assert_eq!(w.close(c, [0x42; 16]), NtStatus::FILE_CLOSED);
}

/// MS-SMB2 3.3.5.10: a FileId is closed once; closing it again is STATUS_FILE_CLOSED,
/// and so is reading through it.
#[test]
fn close_twice() {
    let mut w = World::new("close-twice");
    let c = w.connect();
    let fid = w.open(c, "twice.txt");
    assert_eq!(w.close(c, fid), NtStatus::SUCCESS);
    assert_eq!(w.close(c, fid), NtStatus::FILE_CLOSED);
    assert_eq!(w.read(c, fid, 0, 1).status, NtStatus::FILE_CLOSED);
    assert!(w.server.locks.report().opens.is_empty());
}

/// MS-SMB2 3.3.5.10: a FileId of another connection is not this one's: STATUS_FILE_CLOSED.
#[test]
fn file_ids_belong_to_their_connection() {
    let mut w = World::new("fid-scope");
    let a = w.connect();
    let b = w.connect();
    let fid = w.open(a, "mine.txt");
    assert_eq!(w.close(b, fid), NtStatus::FILE_CLOSED);
    assert_eq!(w.close(a, fid), NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.21.1 / MS-FSCC 2.4.37.2: FileRenameInformation moves the file; the old
/// name is gone, the new one holds the data.
#[test]
fn rename() {
    let mut w = World::new("rename");
    let c = w.connect();
    let fid = w.open(c, "old.txt");
    w.write(c, fid, 0, b"moved");
    assert_eq!(w.set_info(c, build::rename(fid, "new.txt", false)), NtStatus::SUCCESS);
    w.close(c, fid);
    assert!(!w.share.exists("old.txt"));
    assert_eq!(w.share.read("new.txt").unwrap(), b"moved");
}

/// MS-FSA 2.1.5.14.11: a rename onto an existing name without ReplaceIfExists is
/// STATUS_OBJECT_NAME_COLLISION; with it, the target is replaced.
#[test]
fn rename_onto_an_existing_name() {
    let mut w = World::new("rename-collide");
    let c = w.connect();
    w.share.write("target.txt", b"old");
    let fid = w.open(c, "src.txt");
    w.write(c, fid, 0, b"new");
    assert_eq!(w.set_info(c, build::rename(fid, "target.txt", false)), NtStatus::OBJECT_NAME_COLLISION);
    assert_eq!(w.set_info(c, build::rename(fid, "target.txt", true)), NtStatus::SUCCESS);
    w.close(c, fid);
    assert_eq!(w.share.read("target.txt").unwrap(), b"new");
}

/// MS-SMB2 3.3.5.18: QUERY_DIRECTORY lists the directory's entries, then answers
/// STATUS_NO_MORE_FILES.
#[test]
fn query_directory_lists_the_files() {
    let mut w = World::new("list");
    let c = w.connect();
    for n in ["a.txt", "b.txt", "c.dat"] {
        w.share.write(n, b"");
    }
    let dir = w.create(c, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let mut names = w.list(c, dir, "*").unwrap();
    names.retain(|n| n != "." && n != "..");
    names.sort();
    assert_eq!(names, ["a.txt", "b.txt", "c.dat"]);
}

/// MS-SMB2 3.3.5.18 / MS-FSA 2.1.5.6.3: a pattern filters the entries.
#[test]
fn query_directory_with_a_pattern() {
    let mut w = World::new("list-pattern");
    let c = w.connect();
    for n in ["a.txt", "b.txt", "c.dat"] {
        w.share.write(n, b"");
    }
    let dir = w.create(c, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let mut names = w.list(c, dir, "*.txt").unwrap();
    names.sort();
    assert_eq!(names, ["a.txt", "b.txt"]);
}

/// MS-SMB2 3.3.5.18: a pattern matching nothing is STATUS_NO_SUCH_FILE on the first query.
#[test]
fn query_directory_matching_nothing() {
    let mut w = World::new("list-none");
    let c = w.connect();
    let dir = w.create(c, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let r = w.call(c, Msg::new(Command::QueryDirectory, build::query_directory(dir, "*.nothing", true)));
    assert_eq!(r.status, NtStatus::NO_SUCH_FILE);
}

/// MS-SMB2 3.3.5.20 / MS-FSCC 2.4.41: FileStandardInformation reports the end of file
/// and DeletePending.
#[test]
fn query_standard_information() {
    let mut w = World::new("qinfo");
    let c = w.connect();
    let fid = w.open(c, "q.txt");
    w.write(c, fid, 0, b"12345");
    let r = w.call(c, Msg::new(Command::QueryInfo, build::query_standard_info(fid)));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.standard_info(), (5, false));
    assert_eq!(w.set_info(c, build::dispose(fid, true)), NtStatus::SUCCESS);
    let r = w.call(c, Msg::new(Command::QueryInfo, build::query_standard_info(fid)));
    assert_eq!(r.standard_info(), (5, true));
}
