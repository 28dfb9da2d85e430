//! Durable and resilient handles on real connections: what a client wrote through a
//! durable handle is there after its connection dropped and it reconnected; a
//! disconnected handle gives way to another client at once; an expired one is gone.

mod support;

use std::time::Duration;
use support::client::*;
use support::{start, Server};


fn client(s: &Server) -> Client {
    Client::connect_smb3(s.addr, "user", "pass", "share")
}

#[test]
fn a_dropped_connection_keeps_the_handle_for_its_client() {
    let s = start("durable-keep");
    let guid = [7; 16];
    let mut a = client(&s);
    let (fid, level) = a.create_durable("cached.txt", 60_000, guid).expect("durable open");
    assert_eq!(level, OPLOCK_BATCH);
    assert_eq!(a.write(fid, 0, b"written before the drop"), STATUS_SUCCESS);
    assert_eq!(a.lock(fid, 0, 4), STATUS_SUCCESS);
    drop(a); // the TCP connection is gone, no LOGOFF, no CLOSE

    let mut b = client(&s);
    assert_eq!(b.reconnect(fid, [8; 16]).err(), Some(STATUS_OBJECT_NAME_NOT_FOUND), "wrong create guid");
    let (again, level) = b.reconnect(fid, guid).expect("reconnect");
    assert_eq!((again.0, level), (fid.0, OPLOCK_BATCH), "same handle, same oplock");
    let (status, data) = b.read_data(again, 0, 64);
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(data, b"written before the drop");
    // The byte-range lock came along: it is this open's, so locking it again conflicts.
    assert_ne!(b.lock(again, 0, 4), STATUS_SUCCESS);
    assert_eq!(b.reconnect(fid, guid).err(), Some(STATUS_OBJECT_NAME_NOT_FOUND), "no longer disconnected");
    assert_eq!(b.close(again), STATUS_SUCCESS);
}

#[test]
fn another_client_purges_a_disconnected_handle_instead_of_waiting() {
    let s = start("durable-purge");
    let guid = [1; 16];
    let mut a = client(&s);
    let (fid, _) = a.create_durable("shared.txt", 60_000, guid).expect("durable open");
    drop(a);
    // The default break timeout is 35 s: a purge answers well within this wait.
    let mut other = client(&s);
    let mid = other.send_create("shared.txt", GENERIC_ALL, OPLOCK_BATCH);
    let r = other.wait(mid, Duration::from_secs(20)).expect("open completes without waiting for a break");
    assert_eq!(Client::created(&r).expect("open succeeds").1, OPLOCK_BATCH);
    let mut late = client(&s);
    assert_eq!(late.reconnect(fid, guid).err(), Some(STATUS_OBJECT_NAME_NOT_FOUND));
}

#[test]
fn an_expired_handle_is_closed() {
    let s = start("durable-expire");
    let guid = [2; 16];
    let mut a = client(&s);
    let (fid, _) = a.create_durable("brief.txt", 100, guid).expect("durable open with a 100 ms timeout");
    assert_eq!(a.lock(fid, 0, 4), STATUS_SUCCESS);
    drop(a);
    // Fifteen times its timeout later the handle is gone, and so is its lock.
    std::thread::sleep(Duration::from_millis(1500));
    let mut b = client(&s);
    assert_eq!(b.reconnect(fid, guid).err(), Some(STATUS_OBJECT_NAME_NOT_FOUND));
    let (f, _) = b.create("brief.txt", GENERIC_ALL, OPLOCK_NONE).expect("open");
    assert_eq!(b.lock(f, 0, 4), STATUS_SUCCESS);
}

#[test]
fn a_resilient_handle_survives_a_dropped_connection() {
    let s = start("resilient");
    let mut a = client(&s);
    let (fid, _) = a.create("resilient.txt", GENERIC_ALL, OPLOCK_NONE).expect("plain open");
    assert_eq!(a.request_resiliency(fid, 300_001), 0xC000_000D, "longer than 300 s is refused");
    assert_eq!(a.request_resiliency(fid, 30_000), STATUS_SUCCESS);
    assert_eq!(a.write(fid, 0, b"resilient"), STATUS_SUCCESS);
    drop(a);
    let mut b = client(&s);
    let (again, _) = b.reconnect(fid, [0; 16]).expect("reconnect of a resilient handle");
    assert_eq!(b.read_data(again, 0, 9), (STATUS_SUCCESS, b"resilient".to_vec()));
}
