//! Bad input through a real connection gets the right status and costs nothing: paths
//! that try to leave the share, unknown users, wrong passwords, wrong signatures.

mod support;

use support::client::*;
use support::start;


fn create_status(c: &mut Client, name: &str) -> u32 {
    c.create(name, GENERIC_ALL, OPLOCK_NONE).err().unwrap_or(STATUS_SUCCESS)
}

#[test]
fn paths_cannot_leave_the_share() {
    let s = start("confine");
    let outside = s.root.with_extension("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::fs::write(outside.join("secret.txt"), b"not for clients").expect("secret");
    std::os::unix::fs::symlink(&outside, s.root.join("escape")).expect("symlink out");
    std::fs::create_dir(s.root.join("inside")).expect("dir");
    std::os::unix::fs::symlink("inside", s.root.join("alias")).expect("symlink in");
    let mut c = Client::connect(s.addr, "user", "pass", "share");

    let dotdot = s.root.file_name().and_then(|n| n.to_str()).expect("name").to_string();
    for name in [
        "..\\secret.txt".to_string(),
        format!("..\\{}.outside\\secret.txt", dotdot),
        "escape\\secret.txt".into(),
        "inside\\..\\..\\secret.txt".into(),
        "..:stream".into(),
        "escape:stream".into(),
    ] {
        let status = create_status(&mut c, &name);
        assert_ne!(status, STATUS_SUCCESS, "{name} must be refused");
    }
    assert_eq!(create_status(&mut c, "\\etc\\passwd"), STATUS_INVALID_PARAMETER, "leading backslash");
    assert_eq!(create_status(&mut c, "alias\\ok.txt"), STATUS_SUCCESS, "a link that stays inside works");
    assert!(s.root.join("inside/ok.txt").exists());
    assert!(!outside.join("ok.txt").exists());
    // Hard links (SET_INFO FileLinkInformation) name their target the same way.
    let (f, _) = c.create("alias\\ok.txt", GENERIC_ALL, OPLOCK_NONE).expect("open ok.txt");
    for name in ["..\\linked".to_string(), format!("..\\{dotdot}.outside\\linked"), "escape\\linked".into(), "C:\\linked".into()] {
        assert_ne!(c.link(f, &name, true), STATUS_SUCCESS, "link {name} must be refused");
    }
    assert_eq!(c.link(f, "alias\\linked", false), STATUS_SUCCESS, "a link through a symlink that stays inside works");
    assert!(s.root.join("inside/linked").exists());
    assert!(!outside.join("linked").exists());
    assert_eq!(std::fs::read(outside.join("secret.txt")).expect("secret"), b"not for clients");
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn unknown_user_and_wrong_password_get_logon_failure() {
    let s = start("logon");
    assert_eq!(Client::try_login(s.addr, "nobody", "pass").err(), Some(STATUS_LOGON_FAILURE));
    assert_eq!(Client::try_login(s.addr, "user", "wrong").err(), Some(STATUS_LOGON_FAILURE));
    assert!(Client::try_login(s.addr, "user", "pass").is_ok());
}

#[test]
fn wrong_signature_is_refused_and_the_session_stays_usable() {
    let s = start("badsig");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    // CLOSE of a file id that does not exist, signed with garbage: the signature is
    // checked first.
    let mut body = vec![];
    body.extend_from_slice(&24u16.to_le_bytes());
    body.extend_from_slice(&[0; 22]);
    let r = c.call_badly_signed(6, body);
    assert_eq!(r.status, STATUS_ACCESS_DENIED);
    assert!(c.create("still.txt", GENERIC_ALL, OPLOCK_NONE).is_ok(), "session still works");
}
