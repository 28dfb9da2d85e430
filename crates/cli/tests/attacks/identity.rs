//! Identity and cryptographic findings (#5, #6, #8, #9, #10, #11, #13, #16 of the hardening
//! issue): who a request acts for, what proves it, and what the server's answers give away.

use crate::support::client::{
    create_request, session_setup_request, sign, tree_connect_request, Client, ClientKeys,
    CAP_ENCRYPTION, FLAG_SIGNED, OPEN_IF, SIGNING_ENABLED, SIGNING_REQUIRED, STATUS_SUCCESS,
};
use crate::support::{self, Server};
use std::time::{Duration, Instant};

const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;
const STATUS_PRIVILEGE_NOT_HELD: u32 = 0xC000_0061;
const STATUS_BAD_NETWORK_NAME: u32 = 0xC000_00CC;
const SESSION_FLAG_IS_GUEST: u16 = 0x1;
const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x4;
const SHAREFLAG_ENCRYPT_DATA: u32 = 0x8000;
const FILE_READ_ATTRIBUTES: u32 = 0x80;
const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
const SMB210: u16 = 0x0210;
const SMB302: u16 = 0x0302;
const CMD_ECHO: u16 = 0x0D;
const CMD_CREATE: u16 = 5;
const CMD_TREE_CONNECT: u16 = 3;
const CMD_SESSION_SETUP: u16 = 1;

/// An SMB 3.0.2 connection that can encrypt, with a session of `user` and its tree on
/// "share", connected encrypted: the keys and the tree id.
fn encrypted_session(c: &mut Client, user: &str, password: &str) -> (ClientKeys, u32) {
    let (sid, key) = c.login_session(user, password).unwrap_or_else(|st| panic!("{user}: session setup {st:#x}"));
    let keys = ClientKeys::smb302(sid, &key);
    let (_, m) = c.message(CMD_TREE_CONNECT, &tree_connect_request("share"), sid, 0, 0);
    let r = c.call_encrypted(&keys, &m).expect("tree connect answered");
    assert_eq!(r[0].status, STATUS_SUCCESS, "{user}: encrypted tree connect");
    (keys, r[0].tree_id)
}

/// #5 (critical): with signing required, a frame encrypted with alice's key carrying bob's
/// unsigned CREATE must not act as bob. Bob's message names a session whose key did not
/// decrypt the frame: the server drops the connection and creates nothing.
#[test]
fn f05_an_encrypted_compound_cannot_carry_another_sessions_unsigned_request() {
    let s = support::start_args("id-f05", None, &["--signing-required", "--user", "bob:bob-password"]);
    let mut c = Client::negotiate_with(s.addr, SMB302, SIGNING_ENABLED, CAP_ENCRYPTION);
    let (alice, alice_tree) = encrypted_session(&mut c, "user", "pass");
    let (bob, bob_tree) = encrypted_session(&mut c, "bob", "bob-password");
    let (_, echo) = c.message(CMD_ECHO, &[4, 0, 0, 0], alice.session_id, alice_tree, 0);
    let body = create_request("made-as-bob.txt", 0x0012_019F, OPEN_IF, 0x40);
    let (_, create) = c.message(CMD_CREATE, &body, bob.session_id, bob_tree, 0);
    let answer = c.call_encrypted(&alice, &Client::compound(&[echo, create]));
    let created = answer.iter().flatten().any(|r| r.command == CMD_CREATE && r.status == STATUS_SUCCESS);
    assert!(!created, "bob's unsigned CREATE succeeded inside alice's encrypted frame");
    assert!(!s.root.join("made-as-bob.txt").exists(), "the file was created as bob");
}

/// #6: a null session is refused while guest access is off (even with a guest_ok share);
/// with guest access on, a share a guest may not use answers exactly as a name that does
/// not exist.
#[test]
fn f06_null_sessions_need_guest_access_and_share_names_stay_hidden() {
    let guest_share = "[[share]]\nname = \"share\"\npath = \"{root}\"\nguest_ok = true\n";
    let s = support::start_with("id-f06-off", Some(guest_share));
    let mut c = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED, 0);
    let (status, _) = c.login_anonymous();
    assert_eq!(status, STATUS_LOGON_FAILURE, "null session logged on with guest access off");
    drop(s);

    let two_shares = format!("{guest_share}[[share]]\nname = \"secret\"\npath = \"{{root}}\"\n");
    let s = support::start_args("id-f06-on", Some(&two_shares), &["--guest"]);
    let mut c = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED, 0);
    assert_eq!(c.login_anonymous().0, STATUS_SUCCESS, "null session with guest access on");
    let secret = c.try_call(CMD_TREE_CONNECT, tree_connect_request("secret")).expect("answered").status;
    let missing = c.try_call(CMD_TREE_CONNECT, tree_connect_request("no-such-share")).expect("answered").status;
    assert_eq!(missing, STATUS_BAD_NETWORK_NAME);
    assert_eq!(secret, missing, "a share the guest may not use answers {secret:#x}, an unknown name {missing:#x}");
    let open = c.try_call(CMD_TREE_CONNECT, tree_connect_request("share")).expect("answered").status;
    assert_eq!(open, STATUS_SUCCESS, "the guest share");
    crate::assert_served(&s, "127.0.0.2");
}

/// #8: a refused binding request with a bogus signature, from a 2.1 connection with no
/// session, is not answered signed with the victim session's key; and session ids are
/// not predictable from one another.
#[test]
fn f08_a_refused_bind_is_no_signing_oracle_and_session_ids_are_random() {
    let s = support::start("id-f08");
    let mut victim = Client::connect(s.addr, "user", "pass", "share");
    let (victim_sid, _) = victim.ids();
    // On the session's own connection too, a request with a bad signature gets no
    // signed answer.
    let (_, mut forged) = victim.message(CMD_TREE_CONNECT, &tree_connect_request("share"), victim_sid, 0, FLAG_SIGNED);
    forged[48..64].copy_from_slice(&[0x5A; 16]);
    let r = victim.call_raw(&forged).expect("forged request answered");
    assert_eq!(r[0].status, STATUS_ACCESS_DENIED);
    assert_eq!(r[0].flags & FLAG_SIGNED, 0, "answer to a badly signed request signed with the session's key");
    let mut attacker = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED, 0);
    let token = opportune_auth::test_client::negotiate(opportune_auth::test_client::CLIENT_FLAGS);
    let (_, mut bind) = attacker.message(CMD_SESSION_SETUP, &session_setup_request(1, &token, 0), victim_sid, 0, FLAG_SIGNED);
    bind[48..64].copy_from_slice(&[0x5A; 16]);
    let r = attacker.call_raw(&bind).expect("bind answered");
    assert_ne!(r[0].status, STATUS_SUCCESS);
    assert_eq!(r[0].flags & FLAG_SIGNED, 0, "refusal signed with the victim's key (status {:#x})", r[0].status);
    assert_eq!(r[0].signature, [0; 16], "refusal carries a signature");

    let mut ids: Vec<u64> = (0..6)
        .map(|_| Client::try_login(s.addr, "user", "pass").unwrap_or_else(|st| panic!("login {st:#x}")).ids().0)
        .collect();
    ids.push(victim_sid);
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert!(a.abs_diff(*b) > 1 << 32, "session ids {a:#x} and {b:#x} are close: guessable");
        }
    }
}

/// #9: a client that asked for signing in its NEGOTIATE gets a session that requires it,
/// whatever its SESSION_SETUP's security mode says (a man-in-the-middle may clear that).
#[test]
fn f09_signing_required_in_negotiate_makes_the_session_require_signing() {
    let s = support::start("id-f09");
    let mut c = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED | SIGNING_REQUIRED, 0);
    let (sid, key) = c.login_session("user", "pass").expect("session setup");
    let unsigned = c.try_call(CMD_TREE_CONNECT, tree_connect_request("share")).expect("answered").status;
    assert_eq!(unsigned, STATUS_ACCESS_DENIED, "unsigned request accepted on a session that asked for signing");
    let signer = opportune_crypto::Signer::new(opportune_crypto::SigningAlgorithm::HmacSha256, key);
    let (_, mut m) = c.message(CMD_TREE_CONNECT, &tree_connect_request("share"), sid, 0, 0);
    sign(&signer, &mut m);
    let r = c.call_raw(&m).expect("answered");
    assert_eq!(r[0].status, STATUS_SUCCESS, "signed tree connect");
}

/// One logon attempt from `from`: how long its answer took, and the status.
fn timed_logon(s: &Server, from: &str, user: &str, password: &str) -> (Duration, String) {
    let start = Instant::now();
    let result = Client::connect_from(from, s.addr, user, password, "share").err().unwrap_or_default();
    (start.elapsed(), result)
}

/// #10: password guesses are slowed down after a few failures (others are still served at
/// once), and with guest access on, a wrong password of a known user and an unknown name
/// get the same answer.
#[test]
fn f10_password_guessing_slows_down_and_names_do_not_show() {
    let s = support::start_args("id-f10", None, &["--user", "alice:correct-horse"]);
    let mut last = Duration::ZERO;
    for i in 0..8 {
        let (took, err) = timed_logon(&s, "127.0.0.3", "alice", &format!("guess-{i}"));
        assert!(err.contains("0xc000006d"), "guess {i}: {err:?}");
        last = took;
    }
    // 5 free failures, then 250 ms, 500 ms and 1 s for the 8th.
    assert!(last >= Duration::from_millis(900), "the 8th wrong password was answered after {last:?}");
    crate::assert_served(&s, "127.0.0.2");
    crate::assert_within_budget(&s, "password guessing");
    drop(s);

    let s = support::start_args("id-f10-guest", None, &["--guest", "--user", "alice:correct-horse"]);
    let mut c = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED, 0);
    let known = c.login_outcome("alice", "wrong", 0);
    let unknown = c.login_outcome("nobody-by-that-name", "wrong", 0);
    assert_eq!(
        (known.status, known.session_flags),
        (unknown.status, unknown.session_flags),
        "a known name with a wrong password and an unknown name answer differently"
    );
    assert_eq!(unknown.session_flags & SESSION_FLAG_IS_GUEST, SESSION_FLAG_IS_GUEST);
}

/// #11: two guests who send the same name are not the same client: one cannot reconnect
/// the other's durable handle, nor log the other off with PreviousSessionId.
#[test]
fn f11_guests_with_the_same_name_do_not_share_identity() {
    let s = support::start_args("id-f11", None, &["--guest"]);
    let guid = [0x42; 16];
    let mut first = Client::connect_smb3(s.addr, "visitor", "one", "share");
    let (fid, _) = first.create_durable("guest-durable.txt", 60_000, guid).expect("durable open");
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    let mut second = Client::connect_smb3(s.addr, "visitor", "two", "share");
    let stolen = second.reconnect(fid, guid);
    assert!(stolen.is_err(), "a guest reconnected another guest's durable handle");

    let mut victim = Client::connect(s.addr, "visitor", "one", "share");
    let (victim_sid, _) = victim.ids();
    let mut other = Client::negotiate_with(s.addr, SMB210, SIGNING_ENABLED, 0);
    let o = other.login_outcome("visitor", "two", victim_sid);
    assert_eq!(o.status, STATUS_SUCCESS);
    std::thread::sleep(Duration::from_millis(200));
    assert!(victim.list_dir("").is_ok(), "a guest logged another guest off with PreviousSessionId");
}

/// #13: a session that has been encrypting refuses plaintext; with encryption required,
/// sessions are told to encrypt and plaintext is refused; a share that requires it
/// refuses clients below SMB 3.0.
#[test]
fn f13_encryption_can_be_required_and_plaintext_is_refused_once_encrypting() {
    let s = support::start("id-f13-default");
    let mut c = Client::negotiate_with(s.addr, SMB302, SIGNING_ENABLED, CAP_ENCRYPTION);
    let (keys, tree) = encrypted_session(&mut c, "user", "pass");
    c.set_ids(keys.session_id, tree);
    let r = c.try_call(CMD_TREE_CONNECT, tree_connect_request("share")).expect("answered");
    assert_eq!(r.status, STATUS_ACCESS_DENIED, "plaintext request accepted after encrypted ones");
    drop(s);

    let s = support::start_args("id-f13-required", None, &["--encryption", "required"]);
    let mut c = Client::negotiate_with(s.addr, SMB302, SIGNING_ENABLED, CAP_ENCRYPTION);
    let o = c.login_outcome("user", "pass", 0);
    assert_eq!(o.status, STATUS_SUCCESS);
    assert_eq!(o.session_flags & SESSION_FLAG_ENCRYPT_DATA, SESSION_FLAG_ENCRYPT_DATA, "session not asked to encrypt");
    let r = c.try_call(CMD_TREE_CONNECT, tree_connect_request("share")).expect("answered");
    assert_eq!(r.status, STATUS_ACCESS_DENIED, "plaintext tree connect on a session that must encrypt");
    let keys = ClientKeys::smb302(o.session_id, &o.session_key);
    let (_, m) = c.message(CMD_TREE_CONNECT, &tree_connect_request("share"), o.session_id, 0, 0);
    let r = c.call_encrypted(&keys, &m).expect("answered");
    assert_eq!(r[0].status, STATUS_SUCCESS, "encrypted tree connect");
    let share_flags = u32::from_le_bytes(r[0].message[68..72].try_into().expect("flags"));
    assert_eq!(share_flags & SHAREFLAG_ENCRYPT_DATA, SHAREFLAG_ENCRYPT_DATA);
    assert!(Client::try_login(s.addr, "user", "pass").is_err(), "an SMB 2.1 client logged on");
    drop(s);

    let share = "[[share]]\nname = \"share\"\npath = \"{root}\"\nencryption = \"required\"\n";
    let s = support::start_with("id-f13-share", Some(share));
    let mut c = Client::try_login(s.addr, "user", "pass").expect("SMB 2.1 logon");
    let r = c.try_call(CMD_TREE_CONNECT, tree_connect_request("share")).expect("answered");
    assert_eq!(r.status, STATUS_ACCESS_DENIED, "SMB 2.1 client connected to a share that requires encryption");
}

/// #16: ACCESS_SYSTEM_SECURITY needs a privilege no user of this server holds.
#[test]
fn f16_access_system_security_is_not_granted_to_ordinary_users() {
    let s = support::start("id-f16");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let status = c.create("sacl.txt", ACCESS_SYSTEM_SECURITY | FILE_READ_ATTRIBUTES, 0).err().unwrap_or(STATUS_SUCCESS);
    assert_eq!(status, STATUS_PRIVILEGE_NOT_HELD, "ACCESS_SYSTEM_SECURITY open answered {status:#x}");
    assert_eq!(c.create("plain.txt", FILE_READ_ATTRIBUTES, 0).err(), None, "an ordinary open");
}
