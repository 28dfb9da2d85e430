//! Durable handles through the world (MS-SMB2 3.3.5.9.10, 3.3.5.9.12): a durable v2 open
//! survives its connection and is reconnected from another one; a plain open does not.

use opportune_engine::testing::build::{disposition, oplock, Create};
use opportune_engine::testing::{invariants, World, SMB302};
use opportune_types::NtStatus;

const GUID: [u8; 16] = *b"create-guid-0001";

/// MS-SMB2 3.3.5.9.10: a DH2Q request on SMB 3.0.2 with a batch oplock is granted: the
/// response carries a DH2Q context.
#[test]
fn durable_v2_is_granted() {
    let mut w = World::new("durable-grant");
    let c = w.connect_as(SMB302, 0);
    let r = w.create(c, &Create::file("d.txt").durable_v2(60_000, GUID));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.oplock_level(), oplock::BATCH);
    assert!(r.create_context(b"DH2Q").is_some(), "durable granted");
}

/// MS-SMB2 3.3.5.9.10: without a batch oplock or handle lease a durable request is not
/// granted (no DH2Q in the response); the open itself succeeds.
#[test]
fn durable_v2_needs_handle_caching() {
    let mut w = World::new("durable-no-oplock");
    let c = w.connect_as(SMB302, 0);
    let mut req = Create::file("n.txt").durable_v2(60_000, GUID);
    req.oplock = oplock::NONE;
    let r = w.create(c, &req);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert!(r.create_context(b"DH2Q").is_none());
}

/// MS-SMB2 3.3.7.1 and 3.3.5.9.12: the connection dies, the durable open is kept
/// (parked, owned by no connection); a new connection of the same user reconnects it
/// with DH2C and the same CreateGuid, gets the same FileId back and reads what was written.
#[test]
fn durable_reconnect_after_the_connection_dies() {
    let mut w = World::new("durable-reconnect");
    let a = w.connect_as(SMB302, 0);
    let r = w.create(a, &Create::file("keep.txt").durable_v2(60_000, GUID));
    let fid = r.file_id();
    w.write(a, fid, 0, b"survives");
    w.kill(a);
    w.run();
    invariants::check(&w).unwrap();
    let rows = w.server.locks.report().opens;
    assert_eq!(rows.len(), 1, "the durable open is kept");
    assert_eq!(rows[0].conn, None, "parked: no connection owns it");
    assert!(rows[0].expires_in.is_some());
    let b = w.connect_as(SMB302, 0);
    let back = w.create(b, &Create::file("keep.txt").reconnect_v2(fid, GUID));
    assert_eq!(back.status, NtStatus::SUCCESS);
    assert_eq!(back.file_id(), fid, "the same open");
    assert_eq!(w.read(b, fid, 0, 8).read_data(), b"survives");
    assert_eq!(w.server.locks.report().opens[0].conn, Some(w.clients[b].conn.id));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.9.12: a reconnect with another CreateGuid does not find the open:
/// STATUS_OBJECT_NAME_NOT_FOUND.
#[test]
fn durable_reconnect_with_the_wrong_guid() {
    let mut w = World::new("durable-wrong-guid");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("k.txt").durable_v2(60_000, GUID)).file_id();
    w.kill(a);
    let b = w.connect_as(SMB302, 0);
    let r = w.create(b, &Create::file("k.txt").reconnect_v2(fid, *b"another-guid-000"));
    assert_eq!(r.status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

/// MS-SMB2 3.3.5.9.12: only the user who opened it may reconnect a durable open
/// (STATUS_ACCESS_DENIED for another user).
#[test]
fn durable_reconnect_by_another_user() {
    let mut w = World::new("durable-other-user");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("mine.txt").durable_v2(60_000, GUID)).file_id();
    w.kill(a);
    let b = w.connect_as(SMB302, 1);
    let r = w.create(b, &Create::file("mine.txt").reconnect_v2(fid, GUID));
    assert_ne!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.status, NtStatus::ACCESS_DENIED);
}

/// MS-SMB2 3.3.7.1: a plain (non-durable) open is closed with its connection.
#[test]
fn plain_open_dies_with_its_connection() {
    let mut w = World::new("plain-dies");
    let a = w.connect_as(SMB302, 0);
    w.create(a, &Create::file("p.txt").oplock(oplock::BATCH));
    w.kill(a);
    w.run();
    assert!(w.server.locks.report().opens.is_empty());
    invariants::all_gone(&w).unwrap();
}

/// MS-SMB2 3.3.4.6 (a break to a disconnected durable open): another client's open of
/// the file is not held up by the parked open's batch oplock; the parked open is given up.
#[test]
fn parked_durable_open_yields_to_another_client() {
    let mut w = World::new("durable-yield");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("y.txt").durable_v2(60_000, GUID)).file_id();
    w.kill(a);
    let b = w.connect_as(SMB302, 1);
    let r = w.create(b, &Create::file("y.txt").disposition(disposition::OPEN).oplock(oplock::BATCH));
    assert_eq!(r.status, NtStatus::SUCCESS, "not held up");
    let c = w.connect_as(SMB302, 0);
    let back = w.create(c, &Create::file("y.txt").reconnect_v2(fid, GUID));
    assert_eq!(back.status, NtStatus::OBJECT_NAME_NOT_FOUND, "the parked open was given up");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.9.12: a reconnected open is durable again: it survives a second death.
#[test]
fn durable_reconnect_twice() {
    let mut w = World::new("durable-twice");
    let a = w.connect_as(SMB302, 0);
    let fid = w.create(a, &Create::file("t.txt").durable_v2(60_000, GUID)).file_id();
    w.kill(a);
    let b = w.connect_as(SMB302, 0);
    assert_eq!(w.create(b, &Create::file("t.txt").reconnect_v2(fid, GUID)).status, NtStatus::SUCCESS);
    w.kill(b);
    let c = w.connect_as(SMB302, 0);
    assert_eq!(w.create(c, &Create::file("t.txt").reconnect_v2(fid, GUID)).status, NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// A world that ends with a parked durable open holds that open's descriptor only.
#[test]
fn parked_open_is_all_that_is_left() {
    let mut w = World::new("durable-left");
    let a = w.connect_as(SMB302, 0);
    w.create(a, &Create::file("left.txt").durable_v2(60_000, GUID));
    w.open(a, "plain.txt");
    w.kill(a);
    invariants::all_gone(&w).unwrap();
    assert_eq!(w.server.locks.report().opens.len(), 1);
}
