//! The credit window through the world (MS-SMB2 3.3.1.1, 3.3.1.2, 3.3.5.2.3): what is
//! granted, what is refused, and that the client's and the server's counts agree.

use opportune_engine::testing::build::{self, oplock, Create};
use opportune_engine::testing::{invariants, Msg, World};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

/// MS-SMB2 3.3.1.2: a response grants the credits its request asked for (within the
/// server's limit); the client's count and the server's agree.
#[test]
fn responses_grant_what_was_asked() {
    let mut w = World::new("credits-grant");
    let c = w.connect();
    w.clients[c].want_credits = 10;
    let r = w.echo(c);
    assert_eq!(r.credits, 10);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.1.2: a client asking for none still gets one while it holds none.
#[test]
fn a_client_is_never_left_without_credits() {
    let mut w = World::new("credits-floor");
    let c = w.add_client();
    w.clients[c].want_credits = 0;
    let r = w.negotiate(c, &[0x0210]);
    assert_eq!(r.credits, 1, "the only credit was spent: one comes back");
    assert_eq!(w.clients[c].credits, 1);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.3: a MessageId beyond the credits granted ends the connection.
#[test]
fn message_id_beyond_the_window_ends_the_connection() {
    let mut w = World::new("credits-beyond");
    let c = w.connect();
    let held = w.clients[c].credits as u64;
    w.clients[c].skip_message_ids(held + 5);
    w.send(c, vec![Msg::new(Command::Echo, build::empty4())]);
    w.run();
    assert!(!w.clients[c].alive);
    invariants::check(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.3: a MessageId used twice ends the connection (the duplicate fault).
#[test]
fn a_reused_message_id_ends_the_connection() {
    use opportune_engine::testing::WireFault;
    let mut w = World::new("credits-reuse");
    let c = w.connect();
    w.fault(c, WireFault::Duplicate);
    let mid = w.send(c, vec![Msg::new(Command::Echo, build::empty4())])[0];
    w.run();
    assert_eq!(w.clients[c].final_of(mid).map(|r| r.status), Some(NtStatus::SUCCESS), "the first copy is answered");
    assert!(!w.clients[c].alive, "the second copy ends the connection");
    invariants::check(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.3: message ids may arrive out of order within the window.
#[test]
fn out_of_order_message_ids_within_the_window() {
    use opportune_engine::testing::WireFault;
    let mut w = World::new("credits-reorder");
    let c = w.connect();
    w.fault(c, WireFault::Reorder);
    let m1 = w.clients[c].send(vec![Msg::new(Command::Echo, build::empty4())])[0];
    let m2 = w.clients[c].send(vec![Msg::new(Command::Echo, build::empty4())])[0];
    w.run();
    assert!(w.clients[c].alive);
    assert!(w.clients[c].final_of(m1).is_some() && w.clients[c].final_of(m2).is_some());
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.3: a lost frame leaves a hole in the window; later ids still work,
/// and the credits it charged stay charged on both sides.
#[test]
fn a_lost_frame_leaves_a_hole() {
    use opportune_engine::testing::WireFault;
    let mut w = World::new("credits-drop");
    let c = w.connect();
    w.fault(c, WireFault::Drop);
    let lost = w.send(c, vec![Msg::new(Command::Echo, build::empty4())])[0];
    let next = w.send(c, vec![Msg::new(Command::Echo, build::empty4())])[0];
    w.run();
    assert!(w.clients[c].final_of(lost).is_none());
    assert_eq!(w.clients[c].final_of(next).map(|r| r.status), Some(NtStatus::SUCCESS));
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.1.1: a client may not hold more than the server's maximum of credits
/// (8192 here), however many it asks for.
#[test]
fn grants_stay_within_the_maximum() {
    let mut w = World::new("credits-max");
    let c = w.connect();
    w.clients[c].want_credits = u16::MAX;
    for _ in 0..4 {
        w.echo(c);
    }
    let held = w.clients[c].conn.window.outstanding();
    assert!(held <= 8192, "{held} credits outstanding");
    assert!(held >= 8000, "the grants were generous up to the limit: {held}");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.5: a multi-credit request (SMB 2.1) is charged its CreditCharge.
#[test]
fn multi_credit_charge() {
    let mut w = World::new("credits-multi");
    let c = w.connect();
    w.clients[c].want_credits = 32;
    w.echo(c);
    let fid = w.open(c, "big.bin");
    let data = vec![7u8; 100_000];
    let r = w.call(c, Msg::new(Command::Write, build::write(fid, 0, &data)).charge(2));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.write_count(), 100_000);
    let r = w.call(c, Msg::new(Command::Read, build::read(fid, 0, 100_000)).charge(2));
    assert_eq!(r.read_data().len(), 100_000);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.5: a CreditCharge below what the payload needs is
/// STATUS_INVALID_PARAMETER.
#[test]
fn insufficient_credit_charge() {
    let mut w = World::new("credits-undercharged");
    let c = w.connect();
    w.clients[c].want_credits = 32;
    w.echo(c);
    let fid = w.open(c, "big2.bin");
    let data = vec![1u8; 200_000];
    let r = w.call(c, Msg::new(Command::Write, build::write(fid, 0, &data)).charge(1));
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.4.2: an interim response grants credits, the final response of an async
/// request grants none; CANCEL (3.3.5.16) consumes none.
#[test]
fn async_requests_are_granted_on_the_interim() {
    let mut w = World::new("credits-async");
    let a = w.connect();
    let b = w.connect();
    w.create(a, &Create::file("h.txt").oplock(oplock::BATCH));
    w.clients[b].want_credits = 5;
    let mid = w.send_create(b, &Create::file("h.txt").oplock(oplock::BATCH));
    assert_eq!(w.clients[b].interim_of(mid).map(|r| r.credits), Some(5));
    w.cancel(b, mid);
    let fin = w.clients[b].final_of(mid).expect("cancelled");
    assert_eq!(fin.status, NtStatus::CANCELLED);
    assert_eq!(fin.credits, 0);
    invariants::settled(&w).unwrap();
}
