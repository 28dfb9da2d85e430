//! Faults through the world: malformed frames (the connection is dropped, MS-SMB2
//! 3.3.5.2), signatures (3.3.5.2.4), frames delayed, reordered or lost, connections
//! killed mid-operation, held break notifications released by the timers.

use opportune_engine::conn_state::ConnState;
use opportune_engine::dispatch::process_frame;
use opportune_engine::testing::build::{self, oplock, Create};
use opportune_engine::testing::{invariants, Msg, Notice, WireFault, World};
use opportune_types::NtStatus;
use opportune_wire::header::{flags, Command};

/// Feeds `frame` to a fresh connection of `w` after NEGOTIATE: whether the engine
/// refused it with a fault that ends the connection.
fn ends_connection(label: &str, frame: &[u8]) -> bool {
    let mut w = World::new(label);
    let c = w.add_client();
    w.negotiate(c, &[0x0210]);
    let server = w.server.clone();
    let conn: &mut ConnState = &mut w.clients[c].conn;
    match process_frame(&server, conn, frame, false) {
        Err(f) => f.ends_connection(),
        Ok(_) => false,
    }
}

/// MS-SMB2 3.3.5.2: a message shorter than an SMB2 header drops the connection.
#[test]
fn short_frame_is_malformed() {
    assert!(ends_connection("mal-short", &[0xFE, b'S', b'M', b'B', 64, 0]));
}

/// MS-SMB2 3.3.5.2: a ProtocolId that is neither SMB2 nor SMB1 drops the connection.
#[test]
fn wrong_protocol_id_is_malformed() {
    let mut f = vec![0u8; 80];
    f[..4].copy_from_slice(b"\xFEXYZ");
    assert!(ends_connection("mal-proto", &f));
}

/// MS-SMB2 3.3.5.2.7: a NextCommand pointing past the frame drops the connection.
#[test]
fn next_command_out_of_bounds_is_malformed() {
    let mut w = World::new("mal-next-gen");
    let c = w.add_client();
    w.negotiate(c, &[0x0210]);
    let (mut frame, _) = w.clients[c].encode(vec![Msg::new(Command::Echo, build::empty4())]);
    frame[20..24].copy_from_slice(&4096u32.to_le_bytes());
    w.clients[c].send_raw(frame);
    w.run();
    assert!(!w.clients[c].alive, "dropped");
    invariants::check(&w).unwrap();
}

/// MS-SMB2 3.3.5.2: a StructureSize of 64 is required in the header; another drops the
/// connection.
#[test]
fn wrong_header_structure_size_is_malformed() {
    let mut f = vec![0u8; 68];
    f[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    f[4] = 63;
    assert!(ends_connection("mal-size", &f));
}

/// MS-SMB2 3.3.5.2.2 (ALLOWED flags): a request body that does not parse is answered
/// with an error, and the connection stays.
#[test]
fn bad_body_is_answered_not_dropped() {
    let mut w = World::new("bad-body");
    let c = w.connect();
    let r = w.call(c, Msg::new(Command::Create, vec![57, 0, 0, 0]));
    assert_ne!(r.status, NtStatus::SUCCESS);
    assert!(w.clients[c].alive);
    assert_eq!(w.echo(c).status, NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.4: a request signed with a wrong signature is refused with
/// STATUS_ACCESS_DENIED; the session stays usable.
#[test]
fn wrong_signature_is_refused() {
    let mut w = World::new("bad-sig");
    let c = w.connect();
    let r = w.call(c, Msg::new(Command::Close, build::close([0; 16])).flags(flags::SIGNED));
    assert_eq!(r.status, NtStatus::ACCESS_DENIED);
    assert_eq!(w.create(c, &Create::file("still.txt")).status, NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.2.4: with signing required, a properly signed request is served and
/// the response is signed (3.3.4.1.1); an unsigned one is refused.
#[test]
fn signing_required() {
    let mut w = World::with_config("sign-required", |c| c.signing_required = true);
    let c = w.connect();
    let r = w.call(c, Msg::new(Command::Echo, build::empty4()).signed());
    assert_eq!(r.status, NtStatus::SUCCESS);
    let r = w.call(c, Msg::new(Command::Create, Create::file("s.txt").body()).signed());
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_ne!(r.flags & flags::SIGNED, 0, "the response is signed");
    let fid = r.file_id();
    let r = w.call(c, Msg::new(Command::Close, build::close(fid)).unsigned());
    assert_eq!(r.status, NtStatus::ACCESS_DENIED, "unsigned on a signing session");
    let r = w.call(c, Msg::new(Command::Close, build::close(fid)).signed());
    assert_eq!(r.status, NtStatus::SUCCESS);
}

/// A delayed frame lets another client's frames go first: the other client's open
/// gets the batch oplock, and the delayed one waits for its break.
#[test]
fn delayed_frame_is_overtaken() {
    let mut w = World::new("fault-delay");
    let a = w.connect();
    let b = w.connect();
    w.fault(a, WireFault::Delay(3));
    let ma = w.send(a, vec![Msg::new(Command::Create, Create::file("race.txt").oplock(oplock::BATCH).body())])[0];
    let mb = w.send(b, vec![Msg::new(Command::Create, Create::file("race.txt").oplock(oplock::BATCH).body())])[0];
    w.run();
    assert_eq!(w.clients[b].final_of(mb).map(|r| r.oplock_level()), Some(oplock::BATCH), "b got there first");
    assert!(w.clients[a].interim_of(ma).is_some(), "a waits for b's break");
    assert!(matches!(w.clients[b].take_notice(), Some(Notice::Oplock { .. })));
    invariants::settled(&w).unwrap();
}

/// A reordered pair of frames of one client: the later CREATE is processed first.
#[test]
fn reordered_frames() {
    let mut w = World::new("fault-reorder");
    let c = w.connect();
    w.fault(c, WireFault::Reorder);
    let first = w.clients[c].send(vec![Msg::new(Command::Create, Create::file("x.txt").disposition(build::disposition::CREATE).body())])[0];
    let second = w.clients[c].send(vec![Msg::new(Command::Create, Create::file("x.txt").disposition(build::disposition::CREATE).body())])[0];
    w.run();
    assert_eq!(w.clients[c].final_of(second).map(|r| r.status), Some(NtStatus::SUCCESS), "arrived first, created it");
    assert_eq!(w.clients[c].final_of(first).map(|r| r.status), Some(NtStatus::OBJECT_NAME_COLLISION));
    invariants::settled(&w).unwrap();
}

/// A lost CLOSE: the open stays, a retry with a new message id closes it.
#[test]
fn dropped_close_is_retried() {
    let mut w = World::new("fault-drop");
    let c = w.connect();
    let fid = w.open(c, "d.txt");
    w.fault(c, WireFault::Drop);
    let lost = w.send(c, vec![Msg::new(Command::Close, build::close(fid))])[0];
    w.run();
    assert!(w.clients[c].final_of(lost).is_none());
    assert_eq!(w.server.locks.report().opens.len(), 1);
    assert_eq!(w.close(c, fid), NtStatus::SUCCESS);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.7.1: a connection killed while its CREATE waits for a break leaves no
/// waiter; the holder gets its break and nothing else happens.
#[test]
fn killed_while_waiting_for_a_break() {
    let mut w = World::new("fault-kill-waiting");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("k.txt").oplock(oplock::BATCH));
    w.send_create(b, &Create::file("k.txt").oplock(oplock::BATCH));
    w.kill(b);
    w.run();
    invariants::check(&w).unwrap();
    assert_eq!(w.server.locks.report().waiting, 0);
    let ack = w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    assert!(ack.status == NtStatus::SUCCESS || ack.status == NtStatus::INVALID_OPLOCK_PROTOCOL, "{:?}", ack.status);
    invariants::settled(&w).unwrap();
}

/// Every connection killed in the middle of things: nothing is left behind.
#[test]
fn everything_killed() {
    let mut w = World::new("fault-kill-all");
    let a = w.connect();
    let b = w.connect();
    let fa = w.open(a, "a.txt");
    w.lock_now(a, fa, 0, 10);
    let fb = w.open(b, "a.txt");
    w.send_lock(b, fb, &[(0, 10, build::lock_flags::EXCLUSIVE)]);
    let dir = w.create(b, &Create::dir("").disposition(build::disposition::OPEN)).file_id();
    w.send(b, vec![Msg::new(Command::ChangeNotify, build::change_notify(dir, 1, true))]);
    w.create(a, &Create::file("o.txt").oplock(oplock::BATCH));
    w.send_create(b, &Create::file("o.txt").oplock(oplock::BATCH));
    w.kill(a);
    w.kill(b);
    w.run();
    invariants::all_gone(&w).unwrap();
}

/// Samba's "oplock break wait time" (config `oplock_break_wait`): the break is held
/// until its timer fires, then sent; the waiting CREATE completes on the acknowledgment.
#[test]
fn held_break_goes_out_when_its_timer_fires() {
    let mut w = World::with_config("break-wait", |c| c.oplock_break_wait = std::time::Duration::from_millis(10));
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("h.txt").oplock(oplock::BATCH));
    let mid = w.send_create(b, &Create::file("h.txt").oplock(oplock::BATCH));
    assert_eq!(w.held_breaks(), 1);
    assert!(w.clients[a].notices().is_empty(), "not sent yet");
    w.expire_timers();
    assert!(w.clients[a].notices().is_empty(), "not due yet: virtual time stands still");
    w.advance(std::time::Duration::from_millis(10));
    assert_eq!(w.clients[a].take_notice(), Some(Notice::Oplock { fid: held.file_id(), level: oplock::LEVEL_II }));
    w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    assert_eq!(w.clients[b].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS));
    invariants::settled(&w).unwrap();
}

/// A duplicated frame in a compound reuses its message ids: the connection ends, and
/// nothing of it is left.
#[test]
fn duplicated_compound_ends_the_connection() {
    let mut w = World::new("fault-dup-chain");
    let c = w.connect();
    w.fault(c, WireFault::Duplicate);
    w.send(c, vec![Msg::new(Command::Create, Create::file("dup.txt").body()), Msg::new(Command::Close, build::close(build::RELATED_FID)).related()]);
    w.run();
    assert!(!w.clients[c].alive);
    invariants::all_gone(&w).unwrap();
}
