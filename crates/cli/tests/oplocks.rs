//! Oplocks on real connections: the seeds' Level II walk-through, a holder that never
//! acknowledges, and the caching knobs (each test fails if its knob is ignored).

mod support;

use std::time::Duration;
use support::client::*;
use support::{start, start_with, Server};

fn client(s: &Server) -> Client {
    Client::connect(s.addr, "user", "pass", "share")
}

/// A config with one share "share" and the given extra lines (server-wide lines first).
fn config(server_lines: &str, share_lines: &str) -> String {
    format!("{server_lines}\n[[share]]\nname = \"share\"\npath = \"{{root}}\"\n{share_lines}\n[[user]]\nname = \"user\"\npassword = \"pass\"\n")
}

const EXCLUSIVE: u8 = 8;

/// MS KB Q150991's nine steps, on two connections.
#[test]
fn level_two_walkthrough() {
    let s = start("walkthrough");
    let mut st1 = client(&s);
    let mut st2 = client(&s);
    // 1–2: station 1 opens and is granted an exclusive oplock.
    let (f1, level) = st1.create("data.txt", GENERIC_ALL, EXCLUSIVE).expect("open 1");
    assert_eq!(level, EXCLUSIVE);
    // 3–4: station 2 opens; station 1 is asked to break to Level II and station 2 waits.
    let mid = st2.send_create("data.txt", GENERIC_ALL, EXCLUSIVE);
    let (bf, to) = st1.next_break(Duration::from_secs(10)).expect("break to Level II");
    assert_eq!((bf, to), (f1, OPLOCK_LEVEL_II));
    assert!(st2.wait(mid, Duration::from_millis(200)).is_none(), "open 2 must wait for the acknowledgment");
    // 5–6: station 1 flushes and acknowledges.
    assert_eq!(st1.ack_break(f1, OPLOCK_LEVEL_II), STATUS_SUCCESS);
    // 7: station 2's open completes with Level II.
    let r = st2.wait(mid, Duration::from_secs(10)).expect("open 2 completes");
    let (f2, level2) = Client::created(&r).expect("open 2 succeeds");
    assert_eq!(level2, OPLOCK_LEVEL_II);
    // 8–9: station 2 writes; station 1 is told to break to none, without acknowledging.
    assert_eq!(st2.write(f2, 0, b"hello"), STATUS_SUCCESS);
    let (bf, to) = st1.next_break(Duration::from_secs(10)).expect("break to none");
    assert_eq!((bf, to), (f1, OPLOCK_NONE));
    assert_eq!(st1.read(f1, 0, 5), STATUS_SUCCESS);
}

/// A holder that never acknowledges holds up the second open only until the break timeout.
#[test]
fn never_acknowledging_holder_times_out() {
    let s = start_with("noack", Some(&config("oplock_break_timeout_secs = 2", "")));
    let mut holder = client(&s);
    let mut other = client(&s);
    let (_, level) = holder.create("held.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 1");
    assert_eq!(level, OPLOCK_BATCH);
    let mid = other.send_create("held.txt", GENERIC_ALL, OPLOCK_BATCH);
    assert!(holder.next_break(Duration::from_secs(10)).is_some(), "break sent");
    // Never acknowledged; with the default 35 s this would not complete within 20 s.
    let r = other.wait(mid, Duration::from_secs(20)).expect("completed after the break timeout");
    assert!(Client::created(&r).is_ok());
}

fn granted(s: &Server, name: &str, oplock: u8) -> u8 {
    client(s).create(name, GENERIC_ALL, oplock).expect("open").1
}

#[test]
fn oplocks_knob_per_share_and_server_wide() {
    assert_eq!(granted(&start("knob-default"), "a.txt", OPLOCK_BATCH), OPLOCK_BATCH);
    let off = start_with("knob-share", Some(&config("", "oplocks = false")));
    assert_eq!(granted(&off, "a.txt", OPLOCK_BATCH), OPLOCK_NONE);
    let off = start_with("knob-server", Some(&config("enable_oplocks = false", "")));
    assert_eq!(granted(&off, "a.txt", OPLOCK_BATCH), OPLOCK_NONE);
}

#[test]
fn level2_oplocks_knob() {
    assert_eq!(granted(&start("l2-default"), "a.txt", OPLOCK_LEVEL_II), OPLOCK_LEVEL_II);
    let s = start_with("l2-off", Some(&config("", "level2_oplocks = false")));
    assert_eq!(granted(&s, "a.txt", OPLOCK_LEVEL_II), OPLOCK_NONE);
}

#[test]
fn leases_knob() {
    const LEASE: u8 = 0xFF;
    let rwh = 7;
    let on = start("leases-default");
    assert_eq!(client(&on).create_lease("l.txt", [1; 16], rwh).expect("open").1, LEASE);
    let off = start_with("leases-off", Some(&config("", "leases = false")));
    assert_eq!(client(&off).create_lease("l.txt", [1; 16], rwh).expect("open").1, OPLOCK_NONE);
}

#[test]
fn veto_oplock_files_knob() {
    let s = start_with("veto", Some(&config("", "veto_oplock_files = [\"*.mdb\"]")));
    assert_eq!(granted(&s, "Orders.MDB", OPLOCK_BATCH), OPLOCK_NONE);
    assert_eq!(granted(&s, "notes.txt", OPLOCK_BATCH), OPLOCK_BATCH);
}

#[test]
fn contention_limit_knob() {
    fn second_open(s: &Server) -> u8 {
        let mut c = client(s);
        let _first = c.create("c.txt", GENERIC_ALL, OPLOCK_NONE).expect("open 1");
        c.create("c.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 2").1
    }
    assert_eq!(second_open(&start("contention-default")), OPLOCK_LEVEL_II);
    let s = start_with("contention", Some(&config("", "oplock_contention_limit = 1")));
    assert_eq!(second_open(&s), OPLOCK_NONE);
}

#[test]
fn strict_locking_and_locking_knobs() {
    fn locked_then(s: &Server) -> (u32, u32) {
        let mut c = client(s);
        let (h1, _) = c.create("l.txt", GENERIC_ALL, OPLOCK_NONE).expect("open 1");
        assert_eq!(c.write(h1, 0, &[7; 32]), STATUS_SUCCESS);
        let (h2, _) = c.create("l.txt", GENERIC_ALL, OPLOCK_NONE).expect("open 2");
        let lock1 = c.lock(h1, 0, 16);
        assert_eq!(lock1, STATUS_SUCCESS);
        (c.read(h2, 0, 8), c.lock(h2, 0, 16))
    }
    const FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
    const LOCK_NOT_GRANTED: u32 = 0xC000_0055;
    assert_eq!(locked_then(&start("locking-default")), (FILE_LOCK_CONFLICT, LOCK_NOT_GRANTED));
    let lax = start_with("strict-off", Some(&config("", "strict_locking = false")));
    assert_eq!(locked_then(&lax).0, STATUS_SUCCESS);
    let none = start_with("locking-off", Some(&config("", "locking = false")));
    assert_eq!(locked_then(&none), (STATUS_SUCCESS, STATUS_SUCCESS));
}

#[test]
fn break_wait_knob_delays_the_break() {
    let s = start_with("breakwait", Some(&config("oplock_break_wait_ms = 1500", "")));
    let mut holder = client(&s);
    let mut other = client(&s);
    holder.create("w.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 1");
    other.send_create("w.txt", GENERIC_ALL, OPLOCK_BATCH);
    assert!(holder.next_break(Duration::from_millis(300)).is_none(), "break must wait 1.5 s");
    assert!(holder.next_break(Duration::from_secs(10)).is_some(), "then it comes");
}

#[test]
fn max_link_delay_guard() {
    fn slow_ack_then_grant(s: &Server) -> u8 {
        let mut holder = client(s);
        let mut other = client(s);
        let (f, _) = holder.create("g.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 1");
        let mid = other.send_create("g.txt", GENERIC_ALL, OPLOCK_NONE);
        let (_, to) = holder.next_break(Duration::from_secs(10)).expect("break");
        std::thread::sleep(Duration::from_millis(1300));
        assert_eq!(holder.ack_break(f, to), STATUS_SUCCESS);
        assert!(other.wait(mid, Duration::from_secs(10)).is_some());
        holder.create("h.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 3").1
    }
    assert_eq!(slow_ack_then_grant(&start("linkdelay-default")), OPLOCK_BATCH);
    let s = start_with("linkdelay", Some(&config("max_link_delay_secs = 1", "")));
    assert_eq!(slow_ack_then_grant(&s), OPLOCK_NONE);
}

#[test]
fn min_link_throughput_guard() {
    fn after_big_write(s: &Server) -> u8 {
        let mut c = client(s);
        let (f, _) = c.create("t.bin", GENERIC_ALL, OPLOCK_NONE).expect("open");
        assert_eq!(c.write(f, 0, &vec![1u8; 256 * 1024]), STATUS_SUCCESS);
        c.create("u.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open 2").1
    }
    assert_eq!(after_big_write(&start("throughput-default")), OPLOCK_BATCH);
    // No loopback link moves a petabyte per second: the guard must trip.
    let s = start_with("throughput", Some(&config("min_link_throughput = 1000000000000000", "")));
    assert_eq!(after_big_write(&s), OPLOCK_NONE);
}
