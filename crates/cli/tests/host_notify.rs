//! CHANGE_NOTIFY sees changes other programs make on the host (issue 11, item 6), over
//! real connections: this test process plays the local program, creating, writing,
//! renaming and deleting entries in the share's directory while an SMB client waits
//! on CHANGE_NOTIFY. The server's own changes are reported once, not again when
//! inotify echoes them. A recursive CHANGE_NOTIFY sees host changes below its directory.

mod support;

use std::time::{Duration, Instant};
use support::client::*;
use support::start;

const FILE_LIST_DIRECTORY: u32 = 0x1;
const SYNCHRONIZE: u32 = 0x0010_0000;
const FILE_DIRECTORY_FILE: u32 = 0x1;
const OPEN: u32 = 1;

const NAME: u32 = 0x1 | 0x2; // FILE_NOTIFY_CHANGE_FILE_NAME | DIR_NAME
const WRITES: u32 = 0x8 | 0x10; // SIZE | LAST_WRITE

const ADDED: u32 = 1;
const REMOVED: u32 = 2;
const MODIFIED: u32 = 3;
const RENAMED_OLD: u32 = 4;
const RENAMED_NEW: u32 = 5;

/// A CHANGE_NOTIFY request body (MS-SMB2 2.2.35) on `dir`, not recursive.
fn notify_body(dir: &Fid, filter: u32) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&4096u32.to_le_bytes());
    b.extend_from_slice(&dir.0);
    b.extend_from_slice(&filter.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

/// The FILE_NOTIFY_INFORMATION entries of a CHANGE_NOTIFY response.
fn changes(r: &Response) -> Vec<(u32, String)> {
    assert_eq!(r.status, STATUS_SUCCESS, "notify status {:#x}", r.status);
    let off = usize::from(u16::from_le_bytes([r.body[2], r.body[3]])) - 64;
    let len = u32::from_le_bytes(r.body[4..8].try_into().unwrap()) as usize;
    let buf = &r.body[off..off + len];
    let mut out = vec![];
    let mut at = 0;
    loop {
        let word = |i: usize| u32::from_le_bytes(buf[at + i..at + i + 4].try_into().unwrap());
        let (next, action, n) = (word(0) as usize, word(4), word(8) as usize);
        let name: Vec<u16> = buf[at + 12..at + 12 + n].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        out.push((action, String::from_utf16(&name).unwrap()));
        if next == 0 {
            return out;
        }
        at += next;
    }
}

fn open_dir(c: &mut Client, name: &str) -> Fid {
    let mid = c.send_create_full(name, FILE_LIST_DIRECTORY | SYNCHRONIZE, OPLOCK_NONE, OPEN, FILE_DIRECTORY_FILE, &[]);
    Client::created(&c.wait(mid, Duration::from_secs(10)).expect("create answered")).expect("directory opens").0
}

/// Collects changes from CHANGE_NOTIFYs on `dir` until `want` are all seen, or `within`.
fn await_changes(c: &mut Client, dir: &Fid, filter: u32, want: &[(u32, &str)], within: Duration) -> Vec<(u32, String)> {
    await_with(c, want, within, || notify_body(dir, filter))
}

/// Sends the CHANGE_NOTIFY `body` makes, again and again, collecting changes until `want`
/// are all seen, or `within`.
fn await_with(c: &mut Client, want: &[(u32, &str)], within: Duration, body: impl Fn() -> Vec<u8>) -> Vec<(u32, String)> {
    let deadline = Instant::now() + within;
    let mut seen = vec![];
    let mut mid = None;
    while !want.iter().all(|(a, n)| seen.iter().any(|(sa, sn): &(u32, String)| sa == a && sn == n)) {
        let m = *mid.get_or_insert_with(|| c.send(0x0F, body()));
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(r) = c.wait(m, left) else { break };
        mid = None;
        seen.extend(changes(&r));
    }
    // Not left waiting: the next change would complete it, the oldest watch of the open,
    // and not the next call's (MS-FSA 2.1.5.10: the oldest waiting notify is completed).
    if let Some(m) = mid {
        c.cancel(m);
        let r = c.wait(m, Duration::from_secs(5)).expect("the cancelled watch's final response");
        if r.status == STATUS_SUCCESS {
            seen.extend(changes(&r)); // a change completed it before the CANCEL came
        }
    }
    seen
}

#[test]
fn host_creates_writes_renames_and_deletes_are_reported_within_a_second() {
    let server = start("host-notify");
    let dir = server.root.join("watched");
    std::fs::create_dir(&dir).unwrap();
    let mut c = Client::connect(server.addr, "user", "pass", "share");
    let fid = open_dir(&mut c, "watched");

    // Arm the watch first: a host change is only seen once a CHANGE_NOTIFY is outstanding.
    let mid = c.send(0x0F, notify_body(&fid, NAME));
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    std::fs::write(dir.join("new.txt"), b"local data").unwrap();
    let r = c.wait(mid, Duration::from_secs(1)).expect("host create reported within 1 s");
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(changes(&r), vec![(ADDED, "new.txt".to_string())]);

    std::fs::create_dir(dir.join("sub")).unwrap();
    let seen = await_changes(&mut c, &fid, NAME, &[(ADDED, "sub")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "sub".into())), "{seen:?}");

    std::fs::rename(dir.join("new.txt"), dir.join("renamed.txt")).unwrap();
    let want = [(RENAMED_OLD, "new.txt"), (RENAMED_NEW, "renamed.txt")];
    let seen = await_changes(&mut c, &fid, NAME, &want, Duration::from_secs(1));
    assert_eq!(seen, vec![(RENAMED_OLD, "new.txt".into()), (RENAMED_NEW, "renamed.txt".into())]);

    let mid = c.send(0x0F, notify_body(&fid, WRITES));
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(dir.join("renamed.txt"), b"rewritten by a local program").unwrap();
    let r = c.wait(mid, Duration::from_secs(1)).expect("host write reported within 1 s");
    assert!(changes(&r).iter().all(|c| *c == (MODIFIED, "renamed.txt".to_string())));

    // Drain the write's echoes, then a removal.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(dir.join("renamed.txt")).unwrap();
    let seen = await_changes(&mut c, &fid, NAME, &[(REMOVED, "renamed.txt")], Duration::from_secs(1));
    assert!(seen.contains(&(REMOVED, "renamed.txt".into())), "{seen:?}");
    // Changes outside the watched directory are not its business.
    std::fs::write(server.root.join("outside.txt"), b"").unwrap();
    std::fs::write(dir.join("sub").join("deeper.txt"), b"").unwrap();
    let mid = c.send(0x0F, notify_body(&fid, NAME));
    assert!(c.wait(mid, Duration::from_millis(600)).is_none(), "nothing to report");
}

#[test]
fn changes_made_through_the_server_are_reported_once() {
    let server = start("host-notify-own");
    std::fs::create_dir(server.root.join("d")).unwrap();
    let mut watcher = Client::connect(server.addr, "user", "pass", "share");
    let fid = open_dir(&mut watcher, "d");
    let mut writer = Client::connect(server.addr, "user", "pass", "share");

    let mid = watcher.send(0x0F, notify_body(&fid, NAME | WRITES));
    std::thread::sleep(Duration::from_millis(100));
    let (f, _) = writer.create("d\\through-smb.txt", GENERIC_ALL, OPLOCK_NONE).expect("create");
    let r = watcher.wait(mid, Duration::from_secs(2)).expect("the create is reported");
    let mut seen = changes(&r);
    assert_eq!(writer.write(f, 0, b"some bytes"), STATUS_SUCCESS);
    assert_eq!(writer.close(f), STATUS_SUCCESS);
    // Everything the server itself reported, then silence: inotify's echoes of the
    // same create, write and close are not reported a second time.
    loop {
        let mid = watcher.send(0x0F, notify_body(&fid, NAME | WRITES));
        match watcher.wait(mid, Duration::from_millis(800)) {
            Some(r) => seen.extend(changes(&r)),
            None => break,
        }
    }
    let added = seen.iter().filter(|c| **c == (ADDED, "through-smb.txt".to_string())).count();
    assert_eq!(added, 1, "{seen:?}");
    let modified = seen.iter().filter(|c| c.0 == MODIFIED).count();
    assert!(modified <= 1, "one write, at most one report: {seen:?}");
}

/// Handle caching against host unlinks and renames (issue 11, item 7): a batch oplock
/// and an RWH lease are broken within a second of a local program deleting or renaming
/// the file; the server's own rename is not mistaken for the host's.
#[test]
fn a_host_unlink_or_rename_breaks_handle_caching() {
    let server = start("host-names");
    let dir = server.root.join("docs");
    std::fs::create_dir(&dir).unwrap();
    let mut c = Client::connect(server.addr, "user", "pass", "share");
    for (i, how) in ["unlink", "rename", "renamed over"].iter().enumerate() {
        std::fs::write(dir.join("held.doc"), b"cached").unwrap();
        let (fid, level) = c.create("docs\\held.doc", GENERIC_ALL, OPLOCK_BATCH).expect("create");
        assert_eq!(level, OPLOCK_BATCH, "round {i}");
        let t = Instant::now();
        match *how {
            "unlink" => std::fs::remove_file(dir.join("held.doc")).unwrap(),
            "rename" => std::fs::rename(dir.join("held.doc"), dir.join("moved.doc")).unwrap(),
            _ => {
                std::fs::write(dir.join("other.doc"), b"new").unwrap();
                std::fs::rename(dir.join("other.doc"), dir.join("held.doc")).unwrap();
            }
        }
        let broken = c.next_break(Duration::from_secs(1));
        assert!(broken.is_some(), "round {i} ({how}): the batch oplock is broken");
        assert!(t.elapsed() < Duration::from_secs(1), "round {i} ({how})");
        assert_eq!(c.close(fid), STATUS_SUCCESS);
    }
    // The server's own rename of a batch-held file by its holder breaks nothing: the
    // kernel's echo names the open's new path, and it is recognised as the server's.
    std::fs::write(dir.join("mine.doc"), b"").unwrap();
    let (fid, _) = c.create("docs\\mine.doc", GENERIC_ALL, OPLOCK_BATCH).expect("create");
    let name: Vec<u8> = "docs\\renamed-by-smb.doc".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut info = vec![0u8; 8];
    info.extend_from_slice(&0u64.to_le_bytes());
    info.extend_from_slice(&(name.len() as u32).to_le_bytes());
    info.extend_from_slice(&name);
    let mut b = vec![];
    b.extend_from_slice(&33u16.to_le_bytes());
    b.push(1); // SMB2_0_INFO_FILE
    b.push(0x0A); // FileRenameInformation
    b.extend_from_slice(&(info.len() as u32).to_le_bytes());
    b.extend_from_slice(&96u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid.0);
    b.extend_from_slice(&info);
    assert_eq!(c.call(0x11, b).status, STATUS_SUCCESS);
    assert!(dir.join("renamed-by-smb.doc").exists());
    assert!(c.next_break(Duration::from_millis(600)).is_none(), "the server's own rename is not a host change");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
}

/// A recursive CHANGE_NOTIFY (SMB2_WATCH_TREE) request body on `dir`.
fn notify_tree_body(dir: &Fid, filter: u32) -> Vec<u8> {
    let mut b = notify_body(dir, filter);
    b[2..4].copy_from_slice(&1u16.to_le_bytes());
    b
}

/// As `await_changes`, with recursive CHANGE_NOTIFYs for name changes.
fn await_tree_changes(c: &mut Client, dir: &Fid, want: &[(u32, &str)], within: Duration) -> Vec<(u32, String)> {
    await_with(c, want, within, || notify_tree_body(dir, NAME))
}

#[test]
fn a_recursive_watch_sees_host_changes_below_its_directory() {
    let server = start("host-notify-tree");
    let dir = server.root.join("tree");
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    let mut c = Client::connect(server.addr, "user", "pass", "share");
    let fid = open_dir(&mut c, "tree");

    let mid = c.send(0x0F, notify_tree_body(&fid, NAME));
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(dir.join("a/b/deep.txt"), b"").unwrap();
    let r = c.wait(mid, Duration::from_secs(1)).expect("a host create two levels down, within 1 s");
    assert_eq!(changes(&r), vec![(ADDED, "a\\b\\deep.txt".to_string())]);

    // A directory made on the host is watched from when it is seen.
    std::fs::create_dir(dir.join("a/new")).unwrap();
    let seen = await_tree_changes(&mut c, &fid, &[(ADDED, "a\\new")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "a\\new".into())), "{seen:?}");
    std::fs::write(dir.join("a/new/x.txt"), b"").unwrap();
    let seen = await_tree_changes(&mut c, &fid, &[(ADDED, "a\\new\\x.txt")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "a\\new\\x.txt".into())), "{seen:?}");

    // A directory the host moves elsewhere in the tree reports under its new path.
    std::fs::rename(dir.join("a/new"), dir.join("moved")).unwrap();
    let seen = await_tree_changes(&mut c, &fid, &[(REMOVED, "a\\new"), (ADDED, "moved")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "moved".into())), "{seen:?}");
    std::fs::write(dir.join("moved/y.txt"), b"").unwrap();
    let seen = await_tree_changes(&mut c, &fid, &[(ADDED, "moved\\y.txt")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "moved\\y.txt".into())), "{seen:?}");
    assert!(!seen.iter().any(|(_, n)| n.contains("new\\y")), "nothing under the old path: {seen:?}");

    // A directory made through the server is watched too.
    let mid = c.send_create_full("tree\\smbdir", GENERIC_ALL, OPLOCK_NONE, 2, FILE_DIRECTORY_FILE, &[]);
    let (d, _) = Client::created(&c.wait(mid, Duration::from_secs(10)).expect("mkdir answered")).expect("mkdir");
    c.close(d);
    let seen = await_tree_changes(&mut c, &fid, &[(ADDED, "smbdir")], Duration::from_secs(1));
    assert!(seen.contains(&(ADDED, "smbdir".into())), "{seen:?}");
    // Its watch comes from inotify's echo of the server's own mkdir, read a moment
    // later: a file made in it right away may come before the watch, later ones not.
    let mut heard = false;
    for i in 0..10 {
        let name = format!("z{i}.txt");
        std::fs::write(dir.join("smbdir").join(&name), b"").unwrap();
        let want = format!("smbdir\\{name}");
        if await_tree_changes(&mut c, &fid, &[(ADDED, &want)], Duration::from_millis(500)).contains(&(ADDED, want.clone())) {
            heard = true;
            break;
        }
    }
    assert!(heard, "host changes in a directory made through the server are seen");
}

#[test]
fn host_attribute_and_time_changes_are_reported() {
    const ATTRIBUTES: u32 = 0x4;
    let server = start("host-notify-attr");
    let dir = server.root.join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f.txt"), b"x").unwrap();
    let mut c = Client::connect(server.addr, "user", "pass", "share");
    let fid = open_dir(&mut c, "d");
    let mid = c.send(0x0F, notify_body(&fid, ATTRIBUTES));
    std::thread::sleep(Duration::from_millis(200));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("f.txt"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let r = c.wait(mid, Duration::from_secs(1)).expect("a host chmod reported within 1 s");
    assert_eq!(changes(&r), vec![(MODIFIED, "f.txt".to_string())]);
    // touch(1): new times, nothing else.
    std::thread::sleep(Duration::from_millis(300));
    let f = std::fs::File::options().read(true).open(dir.join("f.txt")).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600)).unwrap();
    let seen = await_changes(&mut c, &fid, ATTRIBUTES | WRITES, &[(MODIFIED, "f.txt")], Duration::from_secs(1));
    assert!(seen.contains(&(MODIFIED, "f.txt".into())), "{seen:?}");
}
