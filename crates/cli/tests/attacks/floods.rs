//! Floods that cost the server memory or places: idle connections (#3), frames that never
//! finish and logons that never finish (#2), compounds of large READs whose answers are
//! never read (#4), requests left pending (#12). Each runs at full strength, then a client
//! from another loopback address must be served and the server must be within budget.

use crate::support::{self, client::*, Server};
use crate::{assert_served, assert_within_budget};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const STATUS_INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
const STATUS_NO_MORE_FILES_OR_OTHER: u32 = 0xFFFF_FFFF;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// An SMB2 request header (MS-SMB2 2.2.1.2).
fn header(command: u16, mid: u64, charge: u16, credits: u16, flags: u32, next: u32, ids: (u64, u32)) -> Vec<u8> {
    let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0];
    m.extend_from_slice(&charge.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&command.to_le_bytes());
    m.extend_from_slice(&credits.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&next.to_le_bytes());
    m.extend_from_slice(&mid.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&ids.1.to_le_bytes());
    m.extend_from_slice(&ids.0.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    m
}

/// A READ request body padded to 56 bytes, so chains stay 8-aligned.
fn padded_read_body(fid: Fid, offset: u64, len: u32) -> Vec<u8> {
    let mut b = read_body(fid, offset, len);
    b.resize(56, 0);
    b
}

/// A compound of `n` READs of `len` bytes each of `fid`, each charged its credits.
fn read_compound(c: &mut Client, fid: Fid, n: usize, len: u32) -> Vec<u8> {
    let charge = len.div_ceil(65536) as u16;
    let mut frame = Vec::new();
    for i in 0..n {
        let mid = c.take_message_ids(charge);
        let next = if i + 1 < n { 64 + 56 } else { 0 };
        frame.extend_from_slice(&header(8, mid, charge, charge, 0, next, c.ids()));
        frame.extend_from_slice(&padded_read_body(fid, 0, len));
    }
    frame
}

/// Asks for many credits with an ECHO, so large compounds fit in the window.
fn get_credits(c: &mut Client, credits: u16) {
    let mid = c.take_message_ids(1);
    let mut m = header(0x0D, mid, 1, credits, 0, 0, c.ids());
    m.extend_from_slice(&[4, 0, 0, 0]);
    c.send_raw(&m);
    let r = c.recv_raw(Duration::from_secs(10)).expect("echo answered");
    assert_eq!(le32(&r, 8), STATUS_SUCCESS, "echo");
}

/// The statuses of the messages of one response frame, following NextCommand.
fn statuses(frame: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let m = &frame[pos..];
        out.push(le32(m, 8));
        let next = le32(m, 20) as usize;
        if next == 0 {
            return out;
        }
        pos += next;
    }
}

/// A sparse file of `len` bytes in the share (no disk blocks).
fn sparse_file(s: &Server, name: &str, len: u64) {
    std::fs::File::create(s.root.join(name)).and_then(|f| f.set_len(len)).expect("sparse file");
}

/// #3: thousands of connections that never send a byte, from many addresses, cannot
/// keep a client from another address out; the server drops them before long.
#[test]
fn idle_connections_cannot_lock_out_other_clients() {
    let s = support::start_with(
        "attack-idle",
        Some("max_connections = 1200\n[limits]\nnegotiate_timeout_secs = 3\n[[share]]\nname = \"share\"\npath = \"{root}\"\n"),
    );
    let mut idle: Vec<TcpStream> = Vec::new();
    // 7 addresses × 260 attempts: more than one address may have (256) and more than the
    // server admits in all (1200).
    for host in 1..=7 {
        for _ in 0..260 {
            if let Ok(c) = support::connect_from(&format!("127.0.1.{host}"), s.addr) {
                idle.push(c);
            }
        }
    }
    assert!(idle.len() >= 1500, "the attack opened {} connections", idle.len());
    assert_served(&s, "127.0.0.9");
    assert_served(&s, "127.0.1.1");
    assert_within_budget(&s, "idle-connection flood");
    // Connections that never negotiate are dropped after the NEGOTIATE deadline.
    std::thread::sleep(Duration::from_secs(5));
    let fds = s.open_fds();
    assert!(fds < 200, "idle connections still held after their deadline: {fds} descriptors");
    assert_served(&s, "127.0.0.9");
}

/// #2: frames declared large and never finished. Before logon a frame is small or the
/// connection goes; after logon large frames are committed as their bytes arrive against
/// a server-wide budget, so 40 connections each sending 8 MiB less a byte hold at most
/// that budget.
#[test]
fn frames_that_never_finish_hold_bounded_memory() {
    let s = support::start("attack-partial");
    let declared: usize = 8 * 1024 * 1024;
    let chunk = vec![0xAAu8; declared - 1];
    // Unauthenticated: 60 connections declaring 8 MiB.
    let attackers: Vec<_> = (0..60)
        .map(|i| {
            let addr = s.addr;
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let Ok(mut c) = support::connect_from(&format!("127.0.2.{}", i % 50 + 1), addr) else { return None };
                c.set_write_timeout(Some(Duration::from_secs(3))).ok();
                let len = declared as u32;
                let _ = c.write_all(&[0, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
                let _ = c.write_all(&chunk);
                Some(c)
            })
        })
        .collect();
    let held: Vec<_> = attackers.into_iter().filter_map(|t| t.join().ok().flatten()).collect();
    assert_served(&s, "127.0.0.9");
    assert_within_budget(&s, "unauthenticated partial frames");
    drop(held);
    // Authenticated: 40 sessions each start an 8 MiB WRITE and stop one byte short.
    let attackers: Vec<_> = (0..40)
        .map(|i| {
            let addr = s.addr;
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect_from(&format!("127.0.3.{}", i + 1), addr, "user", "pass", "share").ok()?;
                let sock = c.socket();
                sock.set_write_timeout(Some(Duration::from_secs(3))).ok();
                let len = declared as u32;
                let _ = sock.write_all(&[0, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
                let _ = sock.write_all(&chunk);
                Some(c)
            })
        })
        .collect();
    let held: Vec<_> = attackers.into_iter().filter_map(|t| t.join().ok().flatten()).collect();
    assert!(held.len() >= 30, "only {} attackers logged on", held.len());
    assert_served(&s, "127.0.0.9");
    assert_within_budget(&s, "authenticated partial frames");
}

/// #2: one connection starting logon after logon and finishing none gets a few at most;
/// the rest are refused and nothing grows.
#[test]
fn half_finished_logons_are_capped() {
    use opportune_auth::test_client::{negotiate, CLIENT_FLAGS};
    let s = support::start("attack-logons");
    let mut c = TcpStream::connect(s.addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).ok();
    support::send_frame(&mut c, &support::negotiate_request(0)).expect("negotiate");
    support::read_frame(&mut c).expect("negotiate answered");
    let token = negotiate(CLIENT_FLAGS);
    let body = session_setup_body(&token);
    let n = 5_000u64;
    let mut answers = Vec::new();
    for mid in 1..=n {
        let mut m = header(1, mid, 1, 1, 0, 0, (0, 0));
        m.extend_from_slice(&body);
        support::send_frame(&mut c, &m).expect("session setup");
        let r = support::read_frame(&mut c).expect("session setup answered");
        answers.push(le32(&r, 8));
    }
    let in_progress = answers.iter().filter(|&&st| st == STATUS_MORE_PROCESSING).count();
    let refused = answers.iter().filter(|&&st| st == STATUS_INSUFFICIENT_RESOURCES).count();
    assert!(in_progress <= 4, "{in_progress} logons left half-way on one connection");
    assert_eq!(in_progress + refused, n as usize, "every other logon is refused");
    assert_served(&s, "127.0.0.9");
    assert_within_budget(&s, "half-open logons");
}

/// #4: a compound of READs whose answers add up to more than a frame can carry gets the
/// first and INSUFFICIENT_RESOURCES for the rest, in one well-formed frame; the stream
/// stays in step.
#[test]
fn a_compound_of_large_reads_stays_one_well_formed_frame() {
    let s = support::start("attack-readframe");
    sparse_file(&s, "big", 8 << 20);
    let mut c = Client::connect(s.addr, "user", "pass", "share");
    let (fid, _) = c.create("big", GENERIC_ALL, OPLOCK_NONE).expect("open");
    get_credits(&mut c, 2048);
    let frame = read_compound(&mut c, fid, 3, 8 << 20);
    c.send_raw(&frame);
    let answer = c.recv_raw(Duration::from_secs(20)).expect("compound answered");
    assert!(answer.len() <= 0xFF_FFFF, "frame of {} bytes", answer.len());
    let st = statuses(&answer);
    assert_eq!(st, vec![STATUS_SUCCESS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INSUFFICIENT_RESOURCES]);
    // The next request is answered: the stream is still in step.
    let (st, data) = c.read_data(fid, 0, 4096);
    assert_eq!((st, data.len()), (STATUS_SUCCESS, 4096));
    let _ = STATUS_NO_MORE_FILES_OR_OTHER;
}

/// #4: 24 connections each send 32 × 8 MiB READs in one compound and never read the
/// answer. Each is answered at most one frame's worth, and only while the server-wide send
/// budget has room: memory stays bounded and others are served.
#[test]
fn unread_answers_to_large_reads_hold_bounded_memory() {
    let s = support::start("attack-readamp");
    sparse_file(&s, "big", 8 << 20);
    let mut attackers = Vec::new();
    for i in 0..24 {
        let mut c = Client::connect_from(&format!("127.0.4.{}", i + 1), s.addr, "user", "pass", "share").expect("attacker");
        let (fid, _) = c.create("big", GENERIC_ALL, OPLOCK_NONE).expect("open");
        get_credits(&mut c, 4096);
        get_credits(&mut c, 4096);
        let frame = read_compound(&mut c, fid, 32, 8 << 20);
        c.send_raw(&frame);
        attackers.push(c);
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_within_budget(&s, "unread READ answers");
    assert_served(&s, "127.0.0.9");
    assert_within_budget(&s, "unread READ answers, after a client was served");
}

/// #12: requests left pending are capped per connection (count and the bytes of the
/// compound rests they keep): a blocking lock flood and deferred creates carrying 8 MiB
/// WRITEs are refused past the cap, and memory stays bounded.
#[test]
fn pending_requests_are_capped() {
    let s = support::start("attack-pending");
    // A lock held by another client, and 1,100 blocking locks on the same range.
    let mut holder = Client::connect(s.addr, "user", "pass", "share");
    let (hfid, _) = holder.create("locked", GENERIC_ALL, OPLOCK_NONE).expect("holder open");
    assert_eq!(holder.lock(hfid, 0, 10), STATUS_SUCCESS);
    let mut c = Client::connect_from("127.0.5.1", s.addr, "user", "pass", "share").expect("attacker");
    let (fid, _) = c.create("locked", GENERIC_ALL, OPLOCK_NONE).expect("attacker open");
    get_credits(&mut c, 2000);
    let n = 1_100;
    for _ in 0..n {
        let mid = c.take_message_ids(1);
        let mut m = header(10, mid, 1, 8, 0, 0, c.ids());
        m.extend_from_slice(&48u16.to_le_bytes());
        m.extend_from_slice(&1u16.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&fid.0);
        m.extend_from_slice(&0u64.to_le_bytes());
        m.extend_from_slice(&10u64.to_le_bytes());
        m.extend_from_slice(&0x2u32.to_le_bytes()); // exclusive, blocking
        m.extend_from_slice(&0u32.to_le_bytes());
        c.send_raw(&m);
    }
    let (mut pending, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending + refused < n && Instant::now() < deadline {
        let Some(r) = c.recv_raw(Duration::from_secs(5)) else { break };
        match le32(&r, 8) {
            STATUS_PENDING => pending += 1,
            STATUS_INSUFFICIENT_RESOURCES => refused += 1,
            other => panic!("unexpected lock answer {other:#x}"),
        }
    }
    assert!(pending <= 1024, "{pending} requests pending on one connection");
    assert_eq!(pending + refused, n, "every lock is pending or refused");
    assert!(refused > 0);

    // Deferred creates carrying an 8 MiB WRITE each: an oplock holder that never acks.
    let mut oplocked = Client::connect(s.addr, "user", "pass", "share");
    oplocked.create("db", GENERIC_ALL, OPLOCK_BATCH).expect("batch open");
    let mut d = Client::connect_from("127.0.5.2", s.addr, "user", "pass", "share").expect("attacker 2");
    get_credits(&mut d, 8000);
    let data = vec![0x55u8; 8 << 20];
    let name: Vec<u8> = "db".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut answers = Vec::new();
    for _ in 0..40 {
        let mid = d.take_message_ids(1);
        let mut create = header(5, mid, 1, 1, 0, 0, d.ids());
        create.extend_from_slice(&57u16.to_le_bytes());
        create.extend_from_slice(&[0, 0]);
        create.extend_from_slice(&2u32.to_le_bytes());
        create.extend_from_slice(&[0; 16]);
        create.extend_from_slice(&GENERIC_ALL.to_le_bytes());
        create.extend_from_slice(&0x80u32.to_le_bytes());
        create.extend_from_slice(&SHARE_ALL.to_le_bytes());
        create.extend_from_slice(&OPEN_IF.to_le_bytes());
        create.extend_from_slice(&0x40u32.to_le_bytes());
        create.extend_from_slice(&120u16.to_le_bytes());
        create.extend_from_slice(&(name.len() as u16).to_le_bytes());
        create.extend_from_slice(&[0; 8]);
        create.extend_from_slice(&name);
        create.resize(create.len().next_multiple_of(8), 0);
        let next = create.len() as u32;
        create[20..24].copy_from_slice(&next.to_le_bytes());
        let charge = (data.len() / 65536) as u16;
        let wmid = d.take_message_ids(charge);
        let mut write = header(9, wmid, charge, charge, 0x4, 0, d.ids());
        write.extend_from_slice(&49u16.to_le_bytes());
        write.extend_from_slice(&112u16.to_le_bytes());
        write.extend_from_slice(&(data.len() as u32).to_le_bytes());
        write.extend_from_slice(&0u64.to_le_bytes());
        write.extend_from_slice(&[0xFF; 16]); // the file the CREATE opens
        write.extend_from_slice(&[0; 16]);
        write.extend_from_slice(&data);
        create.extend_from_slice(&write);
        d.send_raw(&create);
        if let Some(r) = d.recv_raw(Duration::from_secs(10)) {
            answers.push(le32(&r, 8));
        }
    }
    assert_within_budget(&s, "pending compounds");
    assert!(
        answers.iter().filter(|&&st| st == STATUS_INSUFFICIENT_RESOURCES).count() >= 30,
        "compounds kept pending past the cap: {answers:x?}"
    );
    assert_served(&s, "127.0.0.9");
    let _ = le16;
}
