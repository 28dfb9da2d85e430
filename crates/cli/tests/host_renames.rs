//! Opens that a program on the host renames or deletes (issue 11, item 7): the server
//! acts on the name the object has now, never on the name it had at open, which may
//! name the host's new file by then. This test process plays the host program, renaming
//! files in the share's directory while an SMB client holds them open.

mod support;

use support::client::*;
use support::start;

const DELETE: u32 = 0x0001_0000;
const FILE_READ_ATTRIBUTES: u32 = 0x80;
const FILE_DELETE_ON_CLOSE: u32 = 0x1000;
const FILE_NON_DIRECTORY_FILE: u32 = 0x40;
const OPEN: u32 = 1;

fn open(c: &mut Client, name: &str, access: u32, options: u32) -> Fid {
    let mid = c.send_create_full(name, access, OPLOCK_NONE, OPEN, options, &[]);
    let r = c.wait(mid, std::time::Duration::from_secs(10)).expect("create answered");
    Client::created(&r).unwrap_or_else(|st| panic!("open {name}: {st:#x}")).0
}

/// The name FileAllInformation (MS-FSCC 2.4.2) reports.
fn all_info_name(c: &mut Client, f: Fid) -> String {
    let (status, d) = c.query_info(f, 1, 18, &[], 0);
    assert_eq!(status, STATUS_SUCCESS);
    let len = u32::from_le_bytes(d[96..100].try_into().unwrap()) as usize;
    let units: Vec<u16> = d[100..100 + len].chunks(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    String::from_utf16(&units).unwrap()
}

#[test]
fn delete_on_close_removes_the_renamed_file_not_the_hosts_new_one() {
    let s = start("hostren-doc");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    std::fs::write(s.root.join("report.txt"), b"smb's").unwrap();
    let f = open(&mut c, "report.txt", DELETE | FILE_READ_ATTRIBUTES, FILE_DELETE_ON_CLOSE | FILE_NON_DIRECTORY_FILE);
    // The host moves the file away and puts a new one of its own under the old name.
    std::fs::rename(s.root.join("report.txt"), s.root.join("moved.txt")).unwrap();
    std::fs::write(s.root.join("report.txt"), b"the host's").unwrap();
    assert_eq!(all_info_name(&mut c, f), "\\moved.txt", "the name it has now");
    assert_eq!(c.close(f), STATUS_SUCCESS);
    assert!(!s.root.join("moved.txt").exists(), "the file the client deleted is gone, under its new name");
    assert_eq!(std::fs::read(s.root.join("report.txt")).unwrap(), b"the host's", "the host's file is untouched");

    // A file the host deleted meanwhile: nothing to remove, nothing else removed.
    std::fs::write(s.root.join("gone.txt"), b"x").unwrap();
    let f = open(&mut c, "gone.txt", DELETE | FILE_READ_ATTRIBUTES, FILE_DELETE_ON_CLOSE | FILE_NON_DIRECTORY_FILE);
    std::fs::remove_file(s.root.join("gone.txt")).unwrap();
    std::fs::write(s.root.join("gone.txt"), b"new").unwrap();
    assert_eq!(c.close(f), STATUS_SUCCESS);
    assert_eq!(std::fs::read(s.root.join("gone.txt")).unwrap(), b"new");
}

#[test]
fn an_smb_rename_moves_the_open_file_from_where_the_host_put_it() {
    let s = start("hostren-mv");
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    std::fs::create_dir(s.root.join("sub")).unwrap();
    std::fs::write(s.root.join("a.txt"), b"smb's").unwrap();
    let f = open(&mut c, "a.txt", DELETE | FILE_READ_ATTRIBUTES, FILE_NON_DIRECTORY_FILE);
    std::fs::rename(s.root.join("a.txt"), s.root.join("sub/b.txt")).unwrap();
    std::fs::write(s.root.join("a.txt"), b"the host's").unwrap();
    assert_eq!(c.rename(f, "c.txt", false), STATUS_SUCCESS);
    assert_eq!(std::fs::read(s.root.join("c.txt")).unwrap(), b"smb's", "the open file moved");
    assert!(!s.root.join("sub/b.txt").exists());
    assert_eq!(std::fs::read(s.root.join("a.txt")).unwrap(), b"the host's", "the host's file stayed");
    assert_eq!(all_info_name(&mut c, f), "\\c.txt");
    // Deleted on the host: the rename answers FILE_DELETED and moves nothing.
    std::fs::remove_file(s.root.join("c.txt")).unwrap();
    std::fs::write(s.root.join("c.txt"), b"new").unwrap();
    assert_eq!(c.rename(f, "d.txt", false), 0xC000_0123);
    assert!(!s.root.join("d.txt").exists());
    assert_eq!(c.close(f), STATUS_SUCCESS);
}
