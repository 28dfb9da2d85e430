//! Quotas over real connections (issue 10 item 6): a user over their limit on write,
//! end of file, allocation and create gets STATUS_QUOTA_EXCEEDED with nothing beyond
//! the limit written; another user on the same share is stopped only by the share's
//! limit (STATUS_DISK_FULL); free space reported is the remaining quota; the quota query
//! answers used and limit per SID; usage survives a restart and shrinks on delete.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::client::*;
use support::{start_with, Server};

const GENERIC_ALL: u32 = 0x1000_0000;
const DELETE_ON_CLOSE: u32 = 0x1000;
const CREATE: u32 = 2;
const OPEN: u32 = 1;
const FILE_ALLOCATION_INFORMATION: u8 = 19;
const FILE_END_OF_FILE_INFORMATION: u8 = 20;
const FILE_FS_FULL_SIZE_INFORMATION: u8 = 7;
const FILE_FS_SIZE_INFORMATION: u8 = 3;

/// alice may hold 64 KiB and 4 files of her own; bob has no limit of his own (and is one
/// of the share's admin users); the share holds at most 200,000 bytes.
const ALICE_BYTES: u64 = 65536;
const ALICE_FILES: u64 = 4;
const SHARE_BYTES: u64 = 200_000;

struct Setup {
    dir: PathBuf,
    config: String,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn opportune(args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "opportune {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The users file (alice with limits, bob without), the share directory and the config.
fn setup(name: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("opportune-it-{name}-{}.d", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let users = dir.join("users.toml");
    let u = users.to_str().unwrap();
    opportune(&["user", "--users-file", u, "add", "alice"], "alice-pw\n");
    opportune(&["user", "--users-file", u, "add", "bob"], "bob-pw\n");
    let (bytes, files) = (ALICE_BYTES.to_string(), ALICE_FILES.to_string());
    opportune(&["user", "--users-file", u, "quota", "alice", "--bytes", &bytes, "--files", &files], "");
    let config = format!(
        "users_file = \"{u}\"\nstate_dir = \"{}\"\n[[share]]\nname = \"q\"\npath = \"{}\"\nquota_bytes = {SHARE_BYTES}\nadmin_users = [\"bob\"]\n",
        dir.join("state").display(),
        dir.join("data").display()
    );
    Setup { dir, config }
}

impl Setup {
    fn start(&self, name: &str) -> Server {
        start_with(name, Some(&self.config))
    }

    fn data(&self, file: &str) -> PathBuf {
        self.dir.join("data").join(file)
    }
}

fn new_file(c: &mut Client, name: &str) -> Result<Fid, u32> {
    let mid = c.send_create_full(name, GENERIC_ALL, 0, CREATE, 0, &[]);
    Client::created(&c.wait(mid, Duration::from_secs(10)).expect("create answered")).map(|(f, _)| f)
}

fn open_file(c: &mut Client, name: &str, options: u32) -> Fid {
    let mid = c.send_create_full(name, GENERIC_ALL, 0, OPEN, options, &[]);
    Client::created(&c.wait(mid, Duration::from_secs(10)).expect("create answered")).expect("open").0
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// (total, caller available) bytes of FileFsFullSizeInformation, and the same of
/// FileFsSizeInformation.
fn space(c: &mut Client, fid: Fid) -> ((u64, u64), (u64, u64)) {
    let read = |out: &[u8], unit_at: usize| {
        let unit = u64::from(le32(out, unit_at)) * u64::from(le32(out, unit_at + 4));
        (le64(out, 0) * unit, le64(out, 8) * unit)
    };
    let (st, full) = c.query_info(fid, 2, FILE_FS_FULL_SIZE_INFORMATION, &[], 0);
    assert_eq!(st, STATUS_SUCCESS);
    let (st, small) = c.query_info(fid, 2, FILE_FS_SIZE_INFORMATION, &[], 0);
    assert_eq!(st, STATUS_SUCCESS);
    (read(&full, 24), read(&small, 16))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn quota_exceeded_on_write_end_of_file_and_allocation() {
    let s = setup("quota-write");
    let server = s.start("quota-write");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    let a = new_file(&mut alice, "a.bin").unwrap();
    assert_eq!(alice.write(a, 0, &vec![1; 60000]), STATUS_SUCCESS);
    // 8 KiB more would pass 64 KiB: refused, nothing written.
    assert_eq!(alice.write(a, 60000, &vec![2; 8192]), STATUS_QUOTA_EXCEEDED);
    assert_eq!(size(&s.data("a.bin")), 60000);
    // Within the file, and up to the limit exactly, is fine.
    assert_eq!(alice.write(a, 0, &[3; 1000]), STATUS_SUCCESS);
    assert_eq!(alice.write(a, 60000, &vec![4; 5536]), STATUS_SUCCESS);
    assert_eq!(alice.write(a, ALICE_BYTES, &[5]), STATUS_QUOTA_EXCEEDED);
    assert_eq!(size(&s.data("a.bin")), ALICE_BYTES);
    // End of file and allocation beyond the limit.
    assert_eq!(alice.set_info(a, 1, FILE_END_OF_FILE_INFORMATION, &(ALICE_BYTES + 1).to_le_bytes()), STATUS_QUOTA_EXCEEDED);
    assert_eq!(alice.set_info(a, 1, FILE_ALLOCATION_INFORMATION, &(1u64 << 20).to_le_bytes()), STATUS_QUOTA_EXCEEDED);
    assert_eq!(size(&s.data("a.bin")), ALICE_BYTES);
    {
        use std::os::unix::fs::MetadataExt;
        assert!(std::fs::metadata(s.data("a.bin")).unwrap().blocks() * 512 < 1 << 20, "nothing preallocated");
    }
    // Shrinking gives the bytes back.
    assert_eq!(alice.set_info(a, 1, FILE_END_OF_FILE_INFORMATION, &16384u64.to_le_bytes()), STATUS_SUCCESS);
    assert_eq!(alice.set_info(a, 1, FILE_ALLOCATION_INFORMATION, &32768u64.to_le_bytes()), STATUS_SUCCESS);
    // Bob has no limit of his own: the share's stops him, as a full disk.
    let mut bob = Client::connect(server.addr, "bob", "bob-pw", "q");
    let b = new_file(&mut bob, "b.bin").unwrap();
    assert_eq!(bob.write(b, 0, &vec![6; 100_000]), STATUS_SUCCESS);
    assert_eq!(bob.write(b, 100_000, &vec![7; 90_000]), STATUS_DISK_FULL);
    assert_eq!(size(&s.data("b.bin")), 100_000);
    // Alice's free space is what her quota leaves (48 KiB, less than the share's 83,616).
    let ((total, avail), small) = space(&mut alice, a);
    assert_eq!((total, avail), small);
    assert_eq!(total, ALICE_BYTES);
    assert_eq!(avail, ALICE_BYTES - 16384);
    // Bob's is what the share leaves, rounded down to allocation units.
    let ((total, avail), _) = space(&mut bob, b);
    assert_eq!(total / 4096, SHARE_BYTES / 4096);
    let left = SHARE_BYTES - 100_000 - 16384;
    assert!(avail <= left && avail + 4096 > left, "{avail} vs {left}");
    // Alice still writes within what is left.
    assert_eq!(alice.write(a, 16384, &vec![8; 49152]), STATUS_SUCCESS);
}

#[test]
fn files_limit_on_create_and_delete_gives_back() {
    let s = setup("quota-files");
    let server = s.start("quota-files");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    for i in 0..ALICE_FILES {
        let f = new_file(&mut alice, &format!("f{i}")).unwrap();
        assert_eq!(alice.close(f), STATUS_SUCCESS);
    }
    assert_eq!(new_file(&mut alice, "one-too-many").unwrap_err(), STATUS_QUOTA_EXCEEDED);
    assert!(!s.data("one-too-many").exists(), "a refused create leaves nothing behind");
    // A directory counts as a file too.
    let mid = alice.send_create_full("dir", GENERIC_ALL, 0, CREATE, 0x1, &[]);
    assert_eq!(alice.wait(mid, Duration::from_secs(10)).unwrap().status, STATUS_QUOTA_EXCEEDED);
    // Another user is not affected.
    let mut bob = Client::connect(server.addr, "bob", "bob-pw", "q");
    let f = new_file(&mut bob, "bobs").unwrap();
    assert_eq!(bob.close(f), STATUS_SUCCESS);
    // Deleting one of hers makes room for one more.
    let f = open_file(&mut alice, "f0", DELETE_ON_CLOSE);
    assert_eq!(alice.close(f), STATUS_SUCCESS);
    assert!(!s.data("f0").exists());
    let f = new_file(&mut alice, "again").unwrap();
    // And bytes of a deleted file come back: fill, delete, fill again.
    assert_eq!(alice.write(f, 0, &vec![1; ALICE_BYTES as usize]), STATUS_SUCCESS);
    assert_eq!(alice.close(f), STATUS_SUCCESS);
    let f = open_file(&mut alice, "again", DELETE_ON_CLOSE);
    assert_eq!(alice.close(f), STATUS_SUCCESS);
    let f = new_file(&mut alice, "third").unwrap();
    assert_eq!(alice.write(f, 0, &vec![1; ALICE_BYTES as usize]), STATUS_SUCCESS);
}

#[test]
fn usage_survives_a_restart() {
    let s = setup("quota-restart");
    {
        let server = s.start("quota-restart");
        let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
        let a = new_file(&mut alice, "kept.bin").unwrap();
        assert_eq!(alice.write(a, 0, &vec![1; 50_000]), STATUS_SUCCESS);
        assert_eq!(alice.close(a), STATUS_SUCCESS);
    }
    assert_eq!(size(&s.data("kept.bin")), 50_000, "the share outlives the server");
    let server = s.start("quota-restart");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    let f = new_file(&mut alice, "new.bin").unwrap();
    // The scan runs in the background; it is done within moments on a small share.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ((_, avail), _) = space(&mut alice, f);
        if avail <= ALICE_BYTES - 50_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the scan never counted kept.bin ({avail} free)");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(alice.write(f, 0, &vec![2; 20_000]), STATUS_QUOTA_EXCEEDED);
    assert_eq!(alice.write(f, 0, &vec![2; 15_000]), STATUS_SUCCESS);
}


/// An SMB2_QUERY_QUOTA_INFO (MS-SMB2 2.2.37.1) with a SID list, or a start SID.
fn quota_query(single: bool, restart: bool, list: &[&[u8]], start: Option<&[u8]>) -> Vec<u8> {
    let mut sids = Vec::new();
    for (i, sid) in list.iter().enumerate() {
        let next = if i + 1 == list.len() { 0 } else { (8 + sid.len()).next_multiple_of(4) as u32 };
        sids.extend_from_slice(&next.to_le_bytes());
        sids.extend_from_slice(&(sid.len() as u32).to_le_bytes());
        sids.extend_from_slice(sid);
        while sids.len() % 4 != 0 {
            sids.push(0);
        }
    }
    let start = start.unwrap_or_default();
    let mut q = vec![u8::from(single), u8::from(restart), 0, 0];
    q.extend_from_slice(&(sids.len() as u32).to_le_bytes());
    q.extend_from_slice(&(start.len() as u32).to_le_bytes());
    q.extend_from_slice(&0u32.to_le_bytes());
    q.extend_from_slice(&sids);
    q.extend_from_slice(start);
    q
}

/// The (SID bytes, used, threshold, limit) of each FILE_QUOTA_INFORMATION (MS-FSCC 2.4.41).
fn quota_entries(out: &[u8]) -> Vec<(Vec<u8>, u64, u64, u64)> {
    let mut v = Vec::new();
    let mut at = 0;
    loop {
        let next = le32(out, at) as usize;
        let sid_len = le32(out, at + 4) as usize;
        v.push((out[at + 40..at + 40 + sid_len].to_vec(), le64(out, at + 16), le64(out, at + 24), le64(out, at + 32)));
        if next == 0 {
            return v;
        }
        at += next;
    }
}

#[test]
fn the_quota_query_answers_used_and_limit_per_sid() {
    let s = setup("quota-query");
    let server = s.start("quota-query");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    let a = new_file(&mut alice, "a.bin").unwrap();
    assert_eq!(alice.write(a, 0, &vec![1; 30000]), STATUS_SUCCESS);
    let mut bob = Client::connect(server.addr, "bob", "bob-pw", "q");
    let b = new_file(&mut bob, "b.bin").unwrap();
    assert_eq!(bob.write(b, 0, &vec![1; 1234]), STATUS_SUCCESS);
    // Alice enumerates: her own entry only.
    let (st, out) = alice.query_info(a, 4, 0, &quota_query(false, true, &[], None), 0);
    assert_eq!(st, STATUS_SUCCESS);
    let mine = quota_entries(&out);
    assert_eq!(mine.len(), 1);
    let alice_sid = mine[0].0.clone();
    assert_eq!(&mine[0].1..=&mine[0].3, &30000..=&ALICE_BYTES);
    assert_eq!(mine[0].2, ALICE_BYTES, "threshold is the limit");
    // Her SID by list; bob's (RID 1001 after her 1000) is not hers to see.
    let (st, out) = alice.query_info(a, 4, 0, &quota_query(false, false, &[&alice_sid], None), 0);
    assert_eq!((st, quota_entries(&out)), (STATUS_SUCCESS, mine.clone()));
    let mut bob_sid = alice_sid.clone();
    let n = bob_sid.len();
    bob_sid[n - 4..].copy_from_slice(&1001u32.to_le_bytes());
    assert_eq!(alice.query_info(a, 4, 0, &quota_query(false, false, &[&bob_sid], None), 0).0, STATUS_ACCESS_DENIED);
    // Bob is an admin user: both, one at a time, then nothing more.
    let (st, out) = bob.query_info(b, 4, 0, &quota_query(false, false, &[&alice_sid, &bob_sid], None), 0);
    assert_eq!(st, STATUS_SUCCESS);
    let both = quota_entries(&out);
    assert_eq!(both.iter().map(|e| (e.1, e.3)).collect::<Vec<_>>(), vec![(30000, ALICE_BYTES), (1234, u64::MAX)]);
    let (st, first) = bob.query_info(b, 4, 0, &quota_query(true, true, &[], None), 0);
    assert_eq!(st, STATUS_SUCCESS);
    let (st, second) = bob.query_info(b, 4, 0, &quota_query(true, false, &[], None), 0);
    assert_eq!(st, STATUS_SUCCESS);
    let mut seen = vec![quota_entries(&first)[0].0.clone(), quota_entries(&second)[0].0.clone()];
    seen.sort();
    let mut want = vec![alice_sid.clone(), bob_sid.clone()];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(bob.query_info(b, 4, 0, &quota_query(true, false, &[], None), 0).0, STATUS_NO_MORE_ENTRIES);
    // From a start SID.
    let (st, out) = bob.query_info(b, 4, 0, &quota_query(true, false, &[], Some(&alice_sid)), 0);
    assert_eq!((st, quota_entries(&out)[0].0.clone()), (STATUS_SUCCESS, alice_sid));
    // Limits are not set by clients: refused to alice, not supported for an admin user.
    let set = [0u8; 48];
    assert_eq!(alice.set_info(a, 4, 0, &set), STATUS_ACCESS_DENIED);
    assert_eq!(bob.set_info(b, 4, 0, &set), 0xC000_00BB);
    // A malformed input is INVALID_PARAMETER.
    let mut bad = quota_query(false, false, &[&bob_sid], None);
    bad[4..8].copy_from_slice(&4096u32.to_le_bytes());
    assert_eq!(bob.query_info(b, 4, 0, &bad, 0).0, 0xC000_000D);
}

/// Samba's smbcquotas (a real client: it opens the quota file and asks with
/// SMB2_0_INFO_QUOTA) lists alice's usage and limit. It only connects to port 445, so
/// the test forwards 127.0.0.61:445 to the server; skipped without root or smbcquotas.
#[test]
fn smbcquotas_lists_usage_and_limits() {
    if !Command::new("smbcquotas").arg("--help").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: smbcquotas not installed");
        return;
    }
    let host = "127.0.0.61";
    let Some(listener) = support::bind_445(host) else { return };
    let s = setup("quota-smbcquotas");
    let server = s.start("quota-smbcquotas");
    support::forward(listener, server.addr);
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    let a = new_file(&mut alice, "a.bin").unwrap();
    assert_eq!(alice.write(a, 0, &vec![1; 12345]), STATUS_SUCCESS);
    let out = Command::new("smbcquotas")
        .args([&format!("//{host}/q"), "-U", "alice%alice-pw", "-m", "SMB3", "-u", "alice"])
        .output()
        .expect("run smbcquotas");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("alice")).unwrap_or_else(|| panic!("no entry for alice: {text}"));
    let numbers: Vec<&str> = line.split(':').nth(1).unwrap_or_default().split('/').map(str::trim).collect();
    assert_eq!(numbers, ["12345", &ALICE_BYTES.to_string(), &ALICE_BYTES.to_string()], "{text}");
}

#[test]
fn a_replacing_rename_and_a_create_allocation_are_accounted() {
    let s = setup("quota-rename");
    let server = s.start("quota-rename");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    // The old version of a document, then the new one saved beside it and renamed over it
    // (what Office does): the old one's bytes come back.
    let doc = new_file(&mut alice, "doc").unwrap();
    assert_eq!(alice.write(doc, 0, &vec![1; 40000]), STATUS_SUCCESS);
    assert_eq!(alice.close(doc), STATUS_SUCCESS);
    let tmp = new_file(&mut alice, "doc.tmp").unwrap();
    assert_eq!(alice.write(tmp, 0, &vec![2; 20000]), STATUS_SUCCESS);
    assert_eq!(alice.rename(tmp, "doc", true), STATUS_SUCCESS);
    assert_eq!(alice.close(tmp), STATUS_SUCCESS);
    assert_eq!(size(&s.data("doc")), 20000);
    let f = new_file(&mut alice, "more").unwrap();
    assert_eq!(alice.write(f, 0, &vec![3; (ALICE_BYTES - 20000) as usize]), STATUS_SUCCESS);
    assert_eq!(alice.write(f, ALICE_BYTES - 20000, &[4]), STATUS_QUOTA_EXCEEDED);
    assert_eq!(alice.set_info(f, 1, FILE_END_OF_FILE_INFORMATION, &0u64.to_le_bytes()), STATUS_SUCCESS);
    // A CREATE whose AllocationSize (MS-SMB2 2.2.13.2.6) the quota cannot hold fails and
    // leaves nothing; one that fits succeeds.
    let alloc = |n: u64| create_context(b"AlSi", &n.to_le_bytes());
    let mid = alice.send_create_full("big", GENERIC_ALL, 0, CREATE, 0, &alloc(1 << 20));
    assert_eq!(alice.wait(mid, Duration::from_secs(10)).unwrap().status, STATUS_QUOTA_EXCEEDED);
    assert!(!s.data("big").exists());
    let mid = alice.send_create_full("small", GENERIC_ALL, 0, CREATE, 0, &alloc(4096));
    assert_eq!(alice.wait(mid, Duration::from_secs(10)).unwrap().status, STATUS_SUCCESS);
    // An overwrite asking for more than the quota leaves the file as it was.
    const OVERWRITE_IF: u32 = 5;
    let mid = alice.send_create_full("doc", GENERIC_ALL, 0, OVERWRITE_IF, 0, &alloc(1 << 20));
    assert_eq!(alice.wait(mid, Duration::from_secs(10)).unwrap().status, STATUS_QUOTA_EXCEEDED);
    assert_eq!(size(&s.data("doc")), 20000);
}

/// Programs on the host change files behind the server: a reload scans again (a file
/// deleted on the host no longer counts) and applies new limits from the users file.
#[test]
fn a_reload_rescans_and_takes_new_limits() {
    let s = setup("quota-reload");
    let server = s.start("quota-reload");
    let mut alice = Client::connect(server.addr, "alice", "alice-pw", "q");
    let a = new_file(&mut alice, "a.bin").unwrap();
    assert_eq!(alice.write(a, 0, &vec![1; 60000]), STATUS_SUCCESS);
    assert_eq!(alice.close(a), STATUS_SUCCESS);
    std::fs::remove_file(s.data("a.bin")).unwrap();
    let users = s.dir.join("users.toml");
    opportune(&["user", "--users-file", users.to_str().unwrap(), "quota", "alice", "--bytes", "100000"], "");
    opportune(&["reload", "--listen", &server.addr.to_string()], "");
    let f = new_file(&mut alice, "b.bin").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ((total, avail), _) = space(&mut alice, f);
        if total == 100_000 / 4096 * 4096 && avail + 4096 > 100_000 {
            break;
        }
        assert!(Instant::now() < deadline, "reload not applied: total {total}, free {avail}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(alice.write(f, 0, &vec![2; 100_000]), STATUS_SUCCESS);
    assert_eq!(alice.write(f, 100_000, &[3]), STATUS_QUOTA_EXCEEDED);
}

/// A share without limits tracks nothing: the quota query is STATUS_NOT_SUPPORTED (MS-SMB2
/// 3.3.5.20.4) and FileFsAttributeInformation has no FILE_VOLUME_QUOTAS; NTFS's quota
/// file still opens (as the share root, with NTFS's attributes).
#[test]
fn a_share_without_limits_tracks_nothing() {
    let server = support::start("quota-none");
    let mut c = Client::connect(server.addr, "user", "pass", "share");
    let mid = c.send_create_full("$Extend\\$Quota:$Q:$INDEX_ALLOCATION", 0x0012_0089, 0, OPEN, 0, &[]);
    let r = c.wait(mid, Duration::from_secs(10)).expect("create answered");
    assert_eq!(le32(&r.body, 56), 0x36, "HIDDEN | SYSTEM | DIRECTORY | ARCHIVE");
    let (fid, _) = Client::created(&r).expect("the quota file opens");
    assert_eq!(c.query_info(fid, 4, 0, &quota_query(false, true, &[], None), 0).0, 0xC000_00BB);
    let (st, attrs) = c.query_info(fid, 2, 5, &[], 0);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(le32(&attrs, 0) & 0x20, 0);
}
