//! What only the in-memory file system lets the world test: a volume that fills up, a
//! disk that fails, a file deleted under an open, the same ids and listing on every run
//! (MS-SMB2 3.3.5.12 – 3.3.5.18 with MS-FSA 2.1.5 failures); and one world on a real
//! directory, so the POSIX backend stays covered end to end.

use opportune_engine::testing::build::{disposition, options, Create};
use opportune_engine::testing::{invariants, Backend, World};
use opportune_fs::{FsError, MemoryOptions};
use opportune_types::NtStatus;

fn budgeted(label: &str, budget: u64) -> World {
    World::on(label, Backend::Memory(MemoryOptions { budget, ..MemoryOptions::default() }), |_| {})
}

/// The status the file system's I/O error (EIO) is answered with: the engine passes the
/// file-system layer's mapping on (`FsError::status`).
fn io_error_status() -> NtStatus {
    FsError::Io(std::io::Error::from_raw_os_error(5)).status()
}

/// MS-SMB2 3.3.5.13, MS-FSA 2.1.5.3: a WRITE the volume cannot hold is STATUS_DISK_FULL;
/// what was written before stays as it was and the connection goes on.
#[test]
fn a_write_beyond_the_budget_is_disk_full_and_the_data_before_it_intact() {
    let mut w = budgeted("disk-full", 64 << 10);
    let c = w.connect();
    let fid = w.open(c, "full.bin");
    let first: Vec<u8> = (0..48 << 10).map(|i| (i % 251) as u8).collect();
    assert_eq!(w.write(c, fid, 0, &first).status, NtStatus::SUCCESS);
    let r = w.write(c, fid, first.len() as u64, &[0xEE; 32 << 10]);
    assert_eq!(r.status, NtStatus::DISK_FULL);
    assert_eq!(w.share.len("full.bin"), Some(first.len() as u64), "the refused write added nothing");
    assert_eq!(w.read(c, fid, 0, first.len() as u32).read_data(), first);
    assert_eq!(w.echo(c).status, NtStatus::SUCCESS, "the connection goes on");
    // What still fits is taken.
    assert_eq!(w.write(c, fid, first.len() as u64, &[1; 16 << 10]).status, NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// MS-FSA 2.1.5.4: the space of a deleted file comes back; a write that was refused
/// for it succeeds after the delete.
#[test]
fn deleting_a_file_gives_its_space_back() {
    let mut w = budgeted("space-back", 32 << 10);
    let c = w.connect();
    let hog = w.create(c, &Create::file("hog.bin").options(options::NON_DIRECTORY_FILE | options::DELETE_ON_CLOSE));
    assert_eq!(w.write(c, hog.file_id(), 0, &[7; 32 << 10]).status, NtStatus::SUCCESS);
    let fid = w.open(c, "small.txt");
    assert_eq!(w.write(c, fid, 0, b"no room").status, NtStatus::DISK_FULL);
    assert_eq!(w.close(c, hog.file_id()), NtStatus::SUCCESS);
    assert!(!w.share.exists("hog.bin"));
    assert_eq!(w.write(c, fid, 0, b"room now").status, NtStatus::SUCCESS);
    assert_eq!(w.share.read("small.txt").unwrap(), b"room now");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.13: a WRITE the file system fails (an I/O error) is answered with the
/// error's status; the data is unchanged, the connection stays, the next WRITE works.
#[test]
fn an_injected_write_error_is_answered_and_the_connection_kept() {
    let mut w = World::new("write-eio");
    let c = w.connect();
    let fid = w.open(c, "f.txt");
    assert_eq!(w.write(c, fid, 0, b"before").status, NtStatus::SUCCESS);
    w.share.memory().unwrap().fail_writes(1);
    let r = w.write(c, fid, 0, b"lost!!");
    assert_ne!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.status, io_error_status());
    assert!(w.clients[c].alive, "an I/O error does not end the connection");
    assert_eq!(w.read(c, fid, 0, 6).read_data(), b"before");
    assert_eq!(w.write(c, fid, 0, b"after!").status, NtStatus::SUCCESS);
    assert_eq!(w.share.read("f.txt").unwrap(), b"after!");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.11, MS-FSA 2.1.5.6: a FLUSH the file system fails is answered with the
/// error's status; the next FLUSH succeeds.
#[test]
fn an_injected_flush_error_is_answered_and_the_next_flush_works() {
    let mut w = World::new("flush-eio");
    let c = w.connect();
    let fid = w.open(c, "f.txt");
    w.write(c, fid, 0, b"data");
    w.share.memory().unwrap().fail_syncs(1);
    assert_eq!(w.flush(c, fid), io_error_status());
    assert!(w.clients[c].alive);
    assert_eq!(w.flush(c, fid), NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// A file whose name goes while a client has it open (as a local unlink does) stays
/// readable and writable through that open; a new open does not find it; its object
/// goes with the last close.
#[test]
fn a_file_deleted_while_open_stays_readable_through_its_open() {
    let mut w = World::new("deleted-open");
    let a = w.connect();
    let b = w.connect();
    let fid = w.open(a, "doomed.txt");
    w.write(a, fid, 0, b"still readable");
    let objects = w.share.memory().unwrap().objects();
    w.share.fs().remove("doomed.txt", false).unwrap();
    assert!(!w.share.exists("doomed.txt"));
    assert_eq!(w.read(a, fid, 0, 14).read_data(), b"still readable");
    assert_eq!(w.write(a, fid, 0, b"STILL").status, NtStatus::SUCCESS);
    assert_eq!(w.read(a, fid, 0, 5).read_data(), b"STILL");
    let r = w.create(b, &Create::file("doomed.txt").disposition(disposition::OPEN));
    assert_eq!(r.status, NtStatus::OBJECT_NAME_NOT_FOUND);
    assert_eq!(w.share.memory().unwrap().objects(), objects, "kept while open");
    assert_eq!(w.close(a, fid), NtStatus::SUCCESS);
    assert_eq!(w.share.memory().unwrap().objects(), objects - 1, "gone with the last close");
    invariants::settled(&w).unwrap();
}

/// One run of a few creates and a listing: the names in the order listed and the file
/// ids of the files.
fn listing_run(seed: u64) -> (Vec<String>, Vec<u64>) {
    let mut w = World::seeded_on("same-run", seed, Backend::default(), |_| {});
    let c = w.connect();
    for n in ["zeta.txt", "Alpha.txt", "mid.dat", "beta.txt"] {
        w.open(c, n);
    }
    w.create(c, &Create::dir("sub").disposition(disposition::CREATE));
    let dir = w.create(c, &Create::dir("").disposition(disposition::OPEN)).file_id();
    let names: Vec<String> = w.list(c, dir, "*").unwrap().into_iter().filter(|n| n != "." && n != "..").collect();
    let ids = names.iter().map(|n| w.share.fs().stat(n).unwrap().file_id).collect();
    (names, ids)
}

/// The same seed, the same run: the listing comes in the same order (the double lists
/// in name order) and the files get the same ids.
#[test]
fn the_same_seed_gives_the_same_listing_and_file_ids() {
    let (names, ids) = listing_run(7);
    assert_eq!((names.clone(), ids.clone()), listing_run(7));
    assert_eq!(names, ["Alpha.txt", "beta.txt", "mid.dat", "sub", "zeta.txt"]);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "every object has its own id");
}

/// A case-insensitive share on the double (MS-FSA 2.1.5.1 IsCaseInsensitive): another
/// spelling opens the same file; on a case-sensitive one it is another file.
#[test]
fn case_rules_follow_the_share() {
    let mut w = World::new("ci-memory");
    let c = w.connect();
    let fid = w.open(c, "Report.TXT");
    w.write(c, fid, 0, b"one file");
    let r = w.create(c, &Create::file("report.txt").disposition(disposition::OPEN));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(w.read(c, r.file_id(), 0, 8).read_data(), b"one file");

    let mut w = World::with_config("cs-memory", |cfg| cfg.shares[0].case_sensitive = true);
    let c = w.connect();
    w.open(c, "Report.TXT");
    let r = w.create(c, &Create::file("report.txt").disposition(disposition::OPEN));
    assert_eq!(r.status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

/// On a real directory (the POSIX backend) the world's writes land in the host file, as
/// a local program reads it.
#[test]
fn on_disk_a_write_lands_in_the_host_file() {
    let mut w = World::on_disk("on-disk", |_| {});
    let c = w.connect();
    let fid = w.open(c, "host.txt");
    assert_eq!(w.write(c, fid, 0, b"on the host").status, NtStatus::SUCCESS);
    let path = w.share.temp().expect("a directory").file("host.txt");
    assert_eq!(std::fs::read(path).unwrap(), b"on the host");
    assert!(w.share.memory().is_none());
    invariants::settled(&w).unwrap();
}

/// The double's file times follow the world's virtual wall clock: a write ten virtual
/// seconds after the create is stamped ten seconds later, on every run.
#[test]
fn file_times_follow_the_world_clock() {
    let mut w = World::new("virtual-times");
    let c = w.connect();
    let fid = w.open(c, "t.txt");
    let born = w.share.fs().stat("t.txt").unwrap();
    w.advance(std::time::Duration::from_secs(10));
    assert_eq!(w.write(c, fid, 0, b"x").status, NtStatus::SUCCESS);
    let after = w.share.fs().stat("t.txt").unwrap();
    assert_eq!(born.creation_time, born.last_write_time);
    assert_eq!(after.last_write_time - born.creation_time, 10 * 10_000_000, "FILETIME counts 100 ns");
    assert_eq!(after.creation_time, born.creation_time);
    assert_eq!(born.creation_time, opportune_types::time::filetime_from_system(opportune_engine::clock::ManualClock::epoch()), "the world starts at its epoch");
}
