//! Compound chains through the world (MS-SMB2 3.3.5.2.7): related and unrelated
//! messages in one frame, a failing CREATE at the head, an async CREATE mid-chain.

use opportune_engine::testing::build::{self, disposition, oplock, Create, RELATED_FID};
use opportune_engine::testing::{invariants, Msg, World};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

fn create(c: &Create) -> Msg {
    Msg::new(Command::Create, c.body())
}

/// MS-SMB2 3.3.5.2.7.2: related messages use the FileId of the CREATE before them
/// (0xFF…); one frame carries CREATE, WRITE, READ and CLOSE, and one frame answers all.
#[test]
fn related_chain_create_write_read_close() {
    let mut w = World::new("chain-related");
    let c = w.connect();
    let rs = w.call_chain(
        c,
        vec![
            create(&Create::file("chain.txt")),
            Msg::new(Command::Write, build::write(RELATED_FID, 0, b"chained")).related(),
            Msg::new(Command::Read, build::read(RELATED_FID, 0, 7)).related(),
            Msg::new(Command::Close, build::close(RELATED_FID)).related(),
        ],
    );
    let rs: Vec<_> = rs.into_iter().map(|r| r.expect("answered")).collect();
    assert!(rs.iter().all(|r| r.status == NtStatus::SUCCESS), "{:?}", rs.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(rs[2].read_data(), b"chained");
    assert!(w.server.locks.report().opens.is_empty(), "the chain's CLOSE closed the open");
    assert_eq!(w.share.read("chain.txt").unwrap(), b"chained");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.7.1: unrelated messages in one frame are processed independently.
#[test]
fn unrelated_chain() {
    let mut w = World::new("chain-unrelated");
    let c = w.connect();
    let rs = w.call_chain(c, vec![create(&Create::file("one.txt")), create(&Create::file("two.txt")), Msg::new(Command::Echo, build::empty4())]);
    assert!(rs.iter().all(|r| r.as_ref().map(|r| r.status) == Some(NtStatus::SUCCESS)));
    assert!(w.share.exists("one.txt") && w.share.exists("two.txt"));
    assert_ne!(rs[0].as_ref().unwrap().file_id(), rs[1].as_ref().unwrap().file_id());
}

/// MS-SMB2 3.3.5.2.7.2: when the CREATE heading a related chain fails, the related
/// requests after it fail too (with the CREATE's status), and no open is left.
#[test]
fn related_chain_after_a_failing_create() {
    let mut w = World::new("chain-fail");
    let c = w.connect();
    let rs = w.call_chain(
        c,
        vec![
            create(&Create::file("missing.txt").disposition(disposition::OPEN)),
            Msg::new(Command::Read, build::read(RELATED_FID, 0, 1)).related(),
            Msg::new(Command::Close, build::close(RELATED_FID)).related(),
        ],
    );
    let st: Vec<_> = rs.iter().map(|r| r.as_ref().expect("answered").status).collect();
    assert_eq!(st, [NtStatus::OBJECT_NAME_NOT_FOUND; 3]);
    assert!(w.server.locks.report().opens.is_empty());
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.7.1: an unrelated message after a failing one still runs.
#[test]
fn unrelated_chain_after_a_failing_create() {
    let mut w = World::new("chain-fail-unrelated");
    let c = w.connect();
    let rs = w.call_chain(c, vec![create(&Create::file("nope.txt").disposition(disposition::OPEN)), create(&Create::file("yes.txt"))]);
    assert_eq!(rs[0].as_ref().unwrap().status, NtStatus::OBJECT_NAME_NOT_FOUND);
    assert_eq!(rs[1].as_ref().unwrap().status, NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.2.7.2: a chain that starts with a related message has nothing to
/// relate to: STATUS_INVALID_PARAMETER.
#[test]
fn chain_starting_related() {
    let mut w = World::new("chain-first-related");
    let c = w.connect();
    let rs = w.call_chain(c, vec![Msg::new(Command::Close, build::close(RELATED_FID)).related()]);
    assert_eq!(rs[0].as_ref().unwrap().status, NtStatus::INVALID_PARAMETER);
}

/// MS-SMB2 3.3.4.1.3 / 3.3.5.2.7: a CREATE that must wait for a break mid-chain goes
/// async (interim STATUS_PENDING); the related requests behind it wait with it and run,
/// in order, on the file it opened once the holder acknowledges.
#[test]
fn async_create_mid_chain() {
    let mut w = World::new("chain-async");
    let a = w.connect();
    let b = w.connect();
    let held = w.create(a, &Create::file("busy.txt").oplock(oplock::BATCH));
    let mids = w.send(
        b,
        vec![
            create(&Create::file("busy.txt").oplock(oplock::BATCH)),
            Msg::new(Command::Write, build::write(RELATED_FID, 0, b"after the break")).related(),
            Msg::new(Command::Close, build::close(RELATED_FID)).related(),
        ],
    );
    w.run();
    assert!(w.clients[b].interim_of(mids[0]).is_some(), "the CREATE went async");
    assert!(mids.iter().all(|m| w.clients[b].final_of(*m).is_none()), "the chain waits");
    invariants::settled(&w).unwrap();
    w.ack_oplock(a, held.file_id(), oplock::LEVEL_II);
    for m in &mids {
        assert_eq!(w.clients[b].final_of(*m).map(|r| r.status), Some(NtStatus::SUCCESS), "mid {m}");
    }
    assert_eq!(w.share.read("busy.txt").unwrap(), b"after the break");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.7: a chain of two sessions' worth of unrelated ECHOs answers each.
#[test]
fn chain_of_echoes() {
    let mut w = World::new("chain-echo");
    let c = w.connect();
    let rs = w.call_chain(c, (0..5).map(|_| Msg::new(Command::Echo, build::empty4())).collect());
    assert_eq!(rs.iter().filter(|r| r.as_ref().map(|r| r.status) == Some(NtStatus::SUCCESS)).count(), 5);
    invariants::settled(&w).unwrap();
}
