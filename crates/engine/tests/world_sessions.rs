//! Negotiate, session setup, re-authentication, logoff and tree connect through the world.

use opportune_engine::testing::invariants;
use opportune_engine::testing::{build, Msg, World, SHARE, SMB210, SMB302, USERS};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

/// MS-SMB2 3.3.5.3.1: the server picks the highest common dialect of those offered.
#[test]
fn negotiate_picks_the_highest_common_dialect() {
    let mut w = World::new("neg-highest");
    let c = w.add_client();
    let r = w.negotiate(c, &[0x0202, 0x0210, 0x0300, 0x0302]);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.dialect(), 0x0302);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.3.1: SMB 2.0.2 alone is accepted and echoed.
#[test]
fn negotiate_smb202() {
    let mut w = World::new("neg-202");
    let c = w.add_client();
    let r = w.negotiate(c, &[0x0202]);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.dialect(), 0x0202);
}

/// MS-SMB2 3.3.5.3.1: no dialect in common is STATUS_NOT_SUPPORTED.
#[test]
fn negotiate_without_a_common_dialect_fails() {
    let mut w = World::new("neg-none");
    let c = w.add_client();
    let r = w.negotiate(c, &[0x0999]);
    assert_ne!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.status, NtStatus::NOT_SUPPORTED);
}

/// MS-SMB2 3.3.5.3.1: a second NEGOTIATE on a connection ends it.
#[test]
fn a_second_negotiate_ends_the_connection() {
    let mut w = World::new("neg-twice");
    let c = w.add_client();
    assert_eq!(w.negotiate(c, &[SMB210]).status, NtStatus::SUCCESS);
    let guid = w.clients[c].client_guid;
    w.send(c, vec![Msg::new(Command::Negotiate, build::negotiate(&[SMB210], 0, guid))]);
    w.run();
    assert!(!w.clients[c].alive, "the connection is dropped");
    invariants::check(&w).unwrap();
}

/// MS-SMB2 3.3.5.2: a request other than NEGOTIATE before NEGOTIATE ends the connection.
#[test]
fn a_request_before_negotiate_ends_the_connection() {
    let mut w = World::new("before-neg");
    let c = w.add_client();
    w.send(c, vec![Msg::new(Command::Echo, build::empty4())]);
    w.run();
    assert!(!w.clients[c].alive);
}

/// MS-SMB2 3.3.5.5.3: NTLM with the right password succeeds; the session is not a guest's.
#[test]
fn login_with_the_right_password() {
    let mut w = World::new("login-ok");
    let c = w.add_client();
    w.negotiate(c, &[SMB210]);
    assert_eq!(w.login(c, USERS[0].0, USERS[0].1, 0), NtStatus::SUCCESS);
    assert_ne!(w.clients[c].session_id, 0);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.5.3: a wrong password is STATUS_LOGON_FAILURE.
#[test]
fn login_with_a_wrong_password_fails() {
    let mut w = World::new("login-bad");
    let c = w.add_client();
    w.negotiate(c, &[SMB210]);
    assert_eq!(w.login(c, USERS[0].0, "not-it", 0), NtStatus::LOGON_FAILURE);
}

/// MS-SMB2 3.3.5.5.3: an unknown user is STATUS_LOGON_FAILURE (no guest configured).
#[test]
fn login_of_an_unknown_user_fails() {
    let mut w = World::new("login-unknown");
    let c = w.add_client();
    w.negotiate(c, &[SMB210]);
    assert_eq!(w.login(c, "mallory", "x", 0), NtStatus::LOGON_FAILURE);
}

/// MS-SMB2 3.3.5.5.2: re-authenticating an established session (SESSION_SETUP with its
/// SessionId) keeps the session id and its trees and opens.
#[test]
fn reauthentication_keeps_the_session_and_its_opens() {
    let mut w = World::new("reauth");
    let c = w.connect();
    let fid = w.open(c, "kept.txt");
    let sid = w.clients[c].session_id;
    assert_eq!(w.login(c, USERS[0].0, USERS[0].1, 0), NtStatus::SUCCESS);
    assert_eq!(w.clients[c].session_id, sid, "same session");
    assert_eq!(w.write(c, fid, 0, b"still open").status, NtStatus::SUCCESS);
    assert_eq!(w.read(c, fid, 0, 10).read_data(), b"still open");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.5.2: a failed re-authentication of an established session: the
/// session is not usable afterwards with its old identity by a wrong password.
#[test]
fn failed_reauthentication_is_logon_failure() {
    let mut w = World::new("reauth-bad");
    let c = w.connect();
    assert_eq!(w.login(c, USERS[0].0, "wrong", 0), NtStatus::LOGON_FAILURE);
    invariants::check(&w).unwrap();
}

/// MS-SMB2 3.3.5.5.3 (PreviousSessionId): a new session naming the client's previous
/// one on another connection ends that one; its opens close.
#[test]
fn previous_session_id_ends_the_old_session() {
    let mut w = World::new("previous");
    let a = w.connect();
    let fid = w.open(a, "old.txt");
    let old = w.clients[a].session_id;
    let b = w.add_client();
    w.negotiate(b, &[SMB210]);
    assert_eq!(w.login(b, USERS[0].0, USERS[0].1, old), NtStatus::SUCCESS);
    // The old connection's session is gone: its requests are refused.
    let r = w.write(a, fid, 0, b"x");
    assert_eq!(r.status, NtStatus::USER_SESSION_DELETED);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.6: LOGOFF ends the session; later requests on it are
/// STATUS_USER_SESSION_DELETED.
#[test]
fn logoff_ends_the_session() {
    let mut w = World::new("logoff");
    let c = w.connect();
    let fid = w.open(c, "a.txt");
    assert_eq!(w.logoff(c), NtStatus::SUCCESS);
    assert_eq!(w.close(c, fid), NtStatus::USER_SESSION_DELETED);
    assert!(w.server.locks.report().opens.is_empty(), "LOGOFF closes the session's opens");
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.7: TREE_CONNECT to a share that does not exist is STATUS_BAD_NETWORK_NAME.
#[test]
fn tree_connect_to_a_missing_share() {
    let mut w = World::new("no-share");
    let c = w.add_client();
    w.negotiate(c, &[SMB210]);
    w.login(c, USERS[0].0, USERS[0].1, 0);
    assert_eq!(w.tree_connect(c, "nothing-here"), NtStatus::BAD_NETWORK_NAME);
    assert_eq!(w.tree_connect(c, SHARE), NtStatus::SUCCESS);
}

/// MS-SMB2 3.3.5.7: TREE_CONNECT to the share answers a disk share (ShareType 1).
#[test]
fn tree_connect_is_a_disk_share() {
    let mut w = World::new("disk-share");
    let c = w.add_client();
    w.negotiate(c, &[SMB302]);
    w.login(c, USERS[1].0, USERS[1].1, 0);
    let r = w.call(c, Msg::new(Command::TreeConnect, build::tree_connect(SHARE)));
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(r.share_type(), 1);
}

/// MS-SMB2 3.3.5.8: TREE_DISCONNECT; requests on the tree afterwards are
/// STATUS_NETWORK_NAME_DELETED.
#[test]
fn tree_disconnect_ends_the_tree() {
    let mut w = World::new("tdis");
    let c = w.connect();
    let fid = w.open(c, "t.txt");
    assert_eq!(w.tree_disconnect(c), NtStatus::SUCCESS);
    assert_eq!(w.close(c, fid), NtStatus::NETWORK_NAME_DELETED);
    invariants::settled(&w).unwrap();
}

/// MS-SMB2 3.3.5.2.9: a request on a session id the connection does not know is
/// STATUS_USER_SESSION_DELETED.
#[test]
fn unknown_session_is_refused() {
    let mut w = World::new("no-session");
    let c = w.connect();
    let r = w.call(c, Msg::new(Command::Echo, build::empty4()).session(0x1234_5678));
    // ECHO needs no session (3.3.5.2.9 exempts it): it succeeds.
    assert_eq!(r.status, NtStatus::SUCCESS);
    let r = w.call(c, Msg::new(Command::Create, build::Create::file("x").body()).session(0x1234_5678));
    assert_eq!(r.status, NtStatus::USER_SESSION_DELETED);
}

/// MS-SMB2 3.3.5.4: ECHO answers SUCCESS with an empty body (StructureSize 4).
#[test]
fn echo() {
    let mut w = World::new("echo");
    let c = w.connect();
    let r = w.echo(c);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(&r.body[..2], &4u16.to_le_bytes());
}
