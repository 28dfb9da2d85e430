//! What other clients trip on (issue 13, item 6), over a real connection: EA names keep
//! the case they were set with and are found ignoring case (MS-FSCC 2.4.15, MS-FSA
//! 2.1.5.15.5); hard links through SET_INFO FileLinkInformation (MS-FSCC 2.4.27.2,
//! MS-FSA 2.1.5.15.6) with our client, Samba's `smbclient hardlink` and Python
//! smbprotocol when they are installed.

mod support;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use support::client::*;
use support::start;

const FILE_DIRECTORY_FILE: u32 = 0x1;
const OPEN: u32 = 1;

fn ea(name: &str, value: &[u8]) -> (String, Vec<u8>) {
    (name.to_string(), value.to_vec())
}

#[test]
fn ea_names_keep_their_case_and_match_in_any_case() {
    let s = start("eacase");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (f, _) = c.create("tagged.txt", GENERIC_ALL, OPLOCK_NONE).expect("create");
    assert_eq!(c.set_eas(f, &[("user.tag", b"blue"), ("user.Color", b"red")]), STATUS_SUCCESS);
    assert_eq!(c.query_eas(f, &[]).expect("list"), [ea("user.tag", b"blue"), ea("user.Color", b"red")]);
    // By exact name and by another case: the stored spelling comes back.
    assert_eq!(c.query_eas(f, &["user.tag"]).expect("exact"), [ea("user.tag", b"blue")]);
    assert_eq!(c.query_eas(f, &["USER.TAG"]).expect("other case"), [ea("user.tag", b"blue")]);
    assert_eq!(c.query_eas(f, &["user.color"]).expect("other case"), [ea("user.Color", b"red")]);
    // Removing by another case removes it.
    assert_eq!(c.set_eas(f, &[("USER.COLOR", b"")]), STATUS_SUCCESS);
    assert_eq!(c.query_eas(f, &[]).expect("list"), [ea("user.tag", b"blue")]);
    // Setting in another case replaces the EA; the newest spelling is kept.
    assert_eq!(c.set_eas(f, &[("User.Tag", b"green")]), STATUS_SUCCESS);
    assert_eq!(c.query_eas(f, &[]).expect("list"), [ea("User.Tag", b"green")]);
    c.close(f);
    // Another open sees the same.
    let (g, _) = c.create("TAGGED.TXT", GENERIC_ALL, OPLOCK_NONE).expect("reopen");
    assert_eq!(c.query_eas(g, &["user.tag"]).expect("exact"), [ea("User.Tag", b"green")]);
}

#[test]
fn hard_links_name_the_same_file() {
    let s = start("hardlink");
    std::fs::create_dir(s.root.join("sub")).expect("dir");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (a, _) = c.create("a.txt", GENERIC_ALL, OPLOCK_NONE).expect("create");
    assert_eq!(c.write(a, 0, b"hello"), STATUS_SUCCESS);
    assert_eq!(c.link_count(a), 1);
    // The parent is found ignoring case; the new name keeps the client's case.
    assert_eq!(c.link(a, "SUB\\B.txt", false), STATUS_SUCCESS);
    assert!(s.root.join("sub/B.txt").exists());
    let (b, _) = c.create("sub\\b.TXT", GENERIC_ALL, OPLOCK_NONE).expect("open the link");
    assert_eq!(c.file_index(a), c.file_index(b), "one file id");
    assert_eq!((c.link_count(a), c.link_count(b)), (2, 2), "NumberOfLinks");
    assert_eq!(c.read_data(b, 0, 16), (STATUS_SUCCESS, b"hello".to_vec()));
    assert_eq!(c.write(b, 0, b"HELLO, again"), STATUS_SUCCESS);
    assert_eq!(c.read_data(a, 0, 64), (STATUS_SUCCESS, b"HELLO, again".to_vec()));
    let (ma, mb) = (std::fs::metadata(s.root.join("a.txt")).expect("a"), std::fs::metadata(s.root.join("sub/B.txt")).expect("b"));
    assert_eq!((ma.ino(), ma.nlink()), (mb.ino(), 2));
    // A leading backslash is the share root too.
    assert_eq!(c.link(a, "\\third.txt", false), STATUS_SUCCESS);
    assert_eq!(c.link_count(a), 3);
}

#[test]
fn hard_link_refusals() {
    let s = start("hardlink-no");
    std::fs::create_dir(s.root.join("dir")).expect("dir");
    std::fs::write(s.root.join("other.txt"), b"other").expect("other");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (f, _) = c.create("f.txt", GENERIC_ALL, OPLOCK_NONE).expect("create");
    assert_eq!(c.link(f, "OTHER.TXT", false), STATUS_OBJECT_NAME_COLLISION, "exists, no replace");
    assert_eq!(c.link(f, "dir", true), STATUS_ACCESS_DENIED, "a directory is never replaced");
    assert_eq!(c.link(f, "nodir\\x", false), STATUS_OBJECT_PATH_NOT_FOUND);
    assert_eq!(c.link(f, "x:stream", false), STATUS_OBJECT_NAME_INVALID);
    assert_eq!(c.link(f, "", false), STATUS_OBJECT_NAME_INVALID);
    assert_eq!(c.link_with_root(f, "x", false, 1), STATUS_INVALID_PARAMETER, "RootDirectory must be 0");
    assert_eq!(c.set_info(f, 1, 11, &[0; 10]), 0xC000_0004, "short buffer: INFO_LENGTH_MISMATCH");
    let mid = c.send_create_full("dir", GENERIC_ALL, OPLOCK_NONE, OPEN, FILE_DIRECTORY_FILE, &[]);
    let (d, _) = Client::created(&c.wait(mid, std::time::Duration::from_secs(10)).expect("dir open")).expect("dir");
    assert_eq!(c.link(d, "dir2", false), STATUS_FILE_IS_A_DIRECTORY, "no hard links to directories");
    // An open file is not replaced; once closed it is.
    let (o, _) = c.create("other.txt", GENERIC_ALL, OPLOCK_NONE).expect("open other");
    assert_eq!(c.link(f, "other.txt", true), STATUS_ACCESS_DENIED, "target open");
    c.close(o);
    assert_eq!(c.link(f, "Other.TXT", true), STATUS_SUCCESS, "replace");
    assert_eq!(std::fs::read(s.root.join("Other.TXT")).expect("replaced"), b"");
    assert!(!s.root.join("other.txt").exists());
    // The file itself: a collision without replace, nothing to do with it.
    assert_eq!(c.link(f, "F.TXT", false), STATUS_OBJECT_NAME_COLLISION);
    assert_eq!(c.link(f, "F.TXT", true), STATUS_SUCCESS);
    assert_eq!(c.link_count(f), 2);
    // A file pending deletion gets no new name.
    assert_eq!(c.set_info(f, 1, 13, &[1]), STATUS_SUCCESS);
    assert_eq!(c.link(f, "late.txt", false), STATUS_ACCESS_DENIED);
    assert!(!s.root.join("late.txt").exists());
}

#[test]
fn hard_links_stay_in_the_share() {
    let s = start("hardlink-confine");
    let outside = s.root.with_extension("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::os::unix::fs::symlink(&outside, s.root.join("escape")).expect("symlink out");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (f, _) = c.create("f.txt", GENERIC_ALL, OPLOCK_NONE).expect("create");
    let dotdot = s.root.file_name().and_then(|n| n.to_str()).expect("name").to_string();
    assert_eq!(c.link(f, "..\\linked", false), STATUS_OBJECT_PATH_SYNTAX_BAD);
    assert_eq!(c.link(f, &format!("..\\{dotdot}.outside\\linked"), false), STATUS_OBJECT_PATH_SYNTAX_BAD);
    assert_eq!(c.link(f, "escape\\linked", false), STATUS_ACCESS_DENIED, "symlinked parent");
    assert_eq!(c.link(f, "C:\\linked", false), STATUS_OBJECT_NAME_INVALID);
    assert_eq!(c.link(f, "\\\\server\\share\\linked", false), STATUS_OBJECT_NAME_INVALID);
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0, "nothing appeared outside");
    assert_eq!(c.link_count(f), 1);
    let _ = std::fs::remove_dir_all(&outside);
}

/// Whether `program --version` runs.
fn have(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn smbclient_hardlink() {
    if !have("smbclient", "--version") {
        eprintln!("note: no smbclient; skipping");
        return;
    }
    let s = start("smbclient-hardlink");
    std::fs::write(s.root.join("a.txt"), b"shared data").expect("a");
    let conf = s.root.with_extension("smb.conf");
    std::fs::write(&conf, "[global]\n").expect("client config");
    let out = Command::new("smbclient")
        .arg("//127.0.0.1/share")
        .args(["-p", &s.addr.port().to_string(), "-U", "user%pass", "-s"])
        .arg(&conf)
        .args(["-c", "hardlink a.txt b.txt; allinfo b.txt"])
        .output()
        .expect("run smbclient");
    let _ = std::fs::remove_file(&conf);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "smbclient: {text}");
    assert!(!text.contains("NT_STATUS_"), "smbclient: {text}");
    let (ma, mb) = (std::fs::metadata(s.root.join("a.txt")).expect("a"), std::fs::metadata(s.root.join("b.txt")).expect("b"));
    assert_eq!((ma.ino(), ma.nlink()), (mb.ino(), 2), "smbclient: {text}");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (a, _) = c.create("a.txt", GENERIC_ALL, OPLOCK_NONE).expect("a");
    let (b, _) = c.create("b.txt", GENERIC_ALL, OPLOCK_NONE).expect("b");
    assert_eq!(c.file_index(a), c.file_index(b));
    assert_eq!(c.read_data(b, 0, 64), (STATUS_SUCCESS, b"shared data".to_vec()));
}

#[test]
fn smbprotocol_xattrs_and_links() {
    let have_module = Command::new("python3")
        .args(["-c", "import smbclient"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_module {
        eprintln!("note: Python smbprotocol is not installed; skipping");
        return;
    }
    let s = start("smbprotocol");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance/smbprotocol_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--port", &s.addr.port().to_string(), "--user", "user", "--password", "pass", "--share", "share"])
        .output()
        .expect("run python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "smbprotocol check: {text}");
    assert!(text.contains("all checks passed"), "smbprotocol check: {text}");
    let (ma, mb) = (std::fs::metadata(s.root.join("py.txt")).expect("py"), std::fs::metadata(s.root.join("py-link.txt")).expect("link"));
    assert_eq!(ma.ino(), mb.ino());
}
