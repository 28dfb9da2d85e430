//! A minimal SMB 2.1 client for integration tests: enough to authenticate, open files
//! with oplocks, read, write, lock, and see and acknowledge oplock breaks on a real
//! connection. Unsigned; the server does not require signing by default.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const STATUS_SUCCESS: u32 = 0;
pub const STATUS_PENDING: u32 = 0x0000_0103;
pub const STATUS_MORE_PROCESSING: u32 = 0xC000_0016;
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
pub const STATUS_BAD_NETWORK_NAME: u32 = 0xC000_00CC;
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
pub const STATUS_CANCELLED: u32 = 0xC000_0120;
pub const STATUS_DISK_FULL: u32 = 0xC000_007F;
pub const STATUS_FILE_CLOSED: u32 = 0xC000_0128;
pub const STATUS_FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
pub const STATUS_FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
pub const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
pub const STATUS_LOCK_NOT_GRANTED: u32 = 0xC000_0055;
pub const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;
pub const STATUS_NETWORK_NAME_DELETED: u32 = 0xC000_00C9;
pub const STATUS_NO_MORE_ENTRIES: u32 = 0x8000_001A;
pub const STATUS_OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
pub const STATUS_OBJECT_NAME_INVALID: u32 = 0xC000_0033;
pub const STATUS_OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
pub const STATUS_OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
pub const STATUS_OBJECT_PATH_SYNTAX_BAD: u32 = 0xC000_003B;
pub const STATUS_PIPE_EMPTY: u32 = 0xC000_00D9;
pub const STATUS_QUOTA_EXCEEDED: u32 = 0xC000_0044;
pub const STATUS_RANGE_NOT_LOCKED: u32 = 0xC000_007E;
pub const STATUS_USER_SESSION_DELETED: u32 = 0xC000_0203;

pub const GENERIC_ALL: u32 = 0x1000_0000;
pub const READ_ATTRS_ONLY: u32 = 0x0010_0080;
pub const SHARE_ALL: u32 = 7;
pub const OPEN_IF: u32 = 3;
pub const OPLOCK_NONE: u8 = 0;
pub const OPLOCK_LEVEL_II: u8 = 1;
pub const OPLOCK_BATCH: u8 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fid(pub [u8; 16]);

pub struct Response {
    pub status: u32,
    pub body: Vec<u8>,
}

pub struct Client {
    s: TcpStream,
    next_mid: u64,
    session_id: u64,
    tree_id: u32,
    responses: HashMap<u64, Response>,
    /// Oplock break notifications received and not yet taken: (file id, new level).
    breaks: VecDeque<(Fid, u8)>,
    /// The next request goes out with SIGNED set and a bogus signature.
    sign_next: bool,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Client {
    /// Negotiates and tries to authenticate; the SESSION_SETUP status on failure.
    pub fn try_login(addr: SocketAddr, user: &str, password: &str) -> Result<Client, u32> {
        let mut c = Client::negotiated(addr);
        c.login(user, password).map(|()| c)
    }

    /// Connects, negotiates SMB 2.1, authenticates with NTLMv2 and connects to `share`.
    pub fn connect(addr: SocketAddr, user: &str, password: &str, share: &str) -> Client {
        let mut c = Client::negotiated(addr);
        assert_eq!(c.login(user, password), Ok(()), "session setup");
        c.tree_connect(share);
        c
    }

    /// As [`Client::connect`], negotiating SMB 3.0.2 (no signing): durable handles v2.
    pub fn connect_smb3(addr: SocketAddr, user: &str, password: &str, share: &str) -> Client {
        let mut c = Client::negotiated_with(addr, 0x0302);
        assert_eq!(c.login(user, password), Ok(()), "session setup");
        c.tree_connect(share);
        c
    }

    /// As [`Client::connect`], from the loopback address `from` (another client host);
    /// the error is the first step that failed, for tests that expect refusal.
    pub fn connect_from(from: &str, addr: SocketAddr, user: &str, password: &str, share: &str) -> Result<Client, String> {
        let s = super::connect_from(from, addr).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        let mut c = Client::over(s);
        let r = c.try_call(0, super::negotiate_body(&[0x0210])).ok_or("negotiate: no answer")?;
        if r.status != STATUS_SUCCESS {
            return Err(format!("negotiate: {:#x}", r.status));
        }
        c.login(user, password).map_err(|st| format!("session setup: {st:#x}"))?;
        let r = c.try_call(3, tree_connect_body(share)).ok_or("tree connect: no answer")?;
        if r.status != STATUS_SUCCESS {
            return Err(format!("tree connect: {:#x}", r.status));
        }
        Ok(c)
    }

    /// As [`Client::connect`], over a socket the test connected itself (e.g. from inside
    /// a network namespace), negotiating `dialect` (0x0210, or 0x0302 for durable v2).
    pub fn connect_over(s: TcpStream, dialect: u16, user: &str, password: &str, share: &str) -> Client {
        s.set_nodelay(true).expect("nodelay");
        let mut c = Client::over(s);
        let r = c.call(0, super::negotiate_body(&[dialect]));
        assert_eq!(r.status, STATUS_SUCCESS, "negotiate");
        assert_eq!(c.login(user, password), Ok(()), "session setup");
        c.tree_connect(share);
        c
    }

    fn over(s: TcpStream) -> Client {
        Client { s, next_mid: 0, session_id: 0, tree_id: 0, responses: HashMap::new(), breaks: VecDeque::new(), sign_next: false }
    }

    /// Takes `charge` message ids for a request the test builds itself.
    pub fn take_message_ids(&mut self, charge: u16) -> u64 {
        let mid = self.next_mid;
        self.next_mid += u64::from(charge.max(1));
        mid
    }

    /// The socket, for attacks that stop reading or write half a frame.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.s
    }

    /// Sends a request and waits up to 10 s for its answer; None if the connection ended.
    pub fn try_call(&mut self, command: u16, body: Vec<u8>) -> Option<Response> {
        let mid = self.send(command, body);
        self.wait(mid, Duration::from_secs(10))
    }

    fn negotiated(addr: SocketAddr) -> Client {
        Client::negotiated_with(addr, 0x0210)
    }

    fn negotiated_with(addr: SocketAddr, dialect: u16) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut c = Client { s, next_mid: 0, session_id: 0, tree_id: 0, responses: HashMap::new(), breaks: VecDeque::new(), sign_next: false };
        // An SMB 3.x client announces leasing and directory leasing, as Windows does.
        let caps = if dialect >= 0x0300 { 0x02 | 0x20 } else { 0 };
        let r = c.call(0, negotiate_body_full(&[dialect], 1, caps));
        assert_eq!(r.status, STATUS_SUCCESS, "negotiate");
        c
    }

    fn login(&mut self, user: &str, password: &str) -> Result<(), u32> {
        use opportune_auth::test_client::{authenticate, negotiate, ClientOptions, CLIENT_FLAGS};
        let ntlm_neg = negotiate(CLIENT_FLAGS);
        let r = self.call(1, session_setup_body(&ntlm_neg));
        assert_eq!(r.status, STATUS_MORE_PROCESSING, "session setup 1");
        let off = usize::from(le16(&r.body, 4)) - 64;
        let len = usize::from(le16(&r.body, 6));
        let challenge = r.body[off..off + len].to_vec();
        let auth = authenticate(&ntlm_neg, &challenge, &ClientOptions::new(user, "", password));
        let r = self.call(1, session_setup_body(&auth.message));
        if r.status == STATUS_SUCCESS { Ok(()) } else { Err(r.status) }
    }

    /// Starts one more session on this connection (SESSION_SETUP with SessionId 0) and
    /// authenticates it; later requests use it. The failing SESSION_SETUP status otherwise.
    pub fn add_session(&mut self, user: &str, password: &str) -> Result<(), u32> {
        use opportune_auth::test_client::{authenticate, negotiate, ClientOptions, CLIENT_FLAGS};
        self.session_id = 0;
        let ntlm_neg = negotiate(CLIENT_FLAGS);
        let r = self.call(1, session_setup_body(&ntlm_neg));
        if r.status != STATUS_MORE_PROCESSING {
            return Err(r.status);
        }
        let off = usize::from(le16(&r.body, 4)) - 64;
        let len = usize::from(le16(&r.body, 6));
        let challenge = r.body[off..off + len].to_vec();
        let auth = authenticate(&ntlm_neg, &challenge, &ClientOptions::new(user, "", password));
        let r = self.call(1, session_setup_body(&auth.message));
        if r.status == STATUS_SUCCESS { Ok(()) } else { Err(r.status) }
    }

    /// TREE_CONNECT to `share` in the current session: the status (on success later
    /// requests use the new tree).
    pub fn try_tree_connect(&mut self, share: &str) -> u32 {
        self.call(3, tree_connect_body(share)).status
    }

    /// Sends a request with the SIGNED flag and a signature that cannot be right.
    pub fn call_badly_signed(&mut self, command: u16, body: Vec<u8>) -> Response {
        self.sign_next = true;
        let mid = self.send(command, body);
        self.wait(mid, Duration::from_secs(30)).expect("answered")
    }

    pub fn tree_connect(&mut self, share: &str) {
        let r = self.call(3, tree_connect_body(share));
        assert_eq!(r.status, STATUS_SUCCESS, "tree connect");
    }

    /// Opens the directory `path` ("" for the share root), lists it with QUERY_DIRECTORY
    /// (FileNamesInformation) and closes it: the names, or the first failing status.
    pub fn list_dir(&mut self, path: &str) -> Result<Vec<String>, u32> {
        let mid = self.send_create_full(path, 0x0010_0081, OPLOCK_NONE, 1, 1, &[]);
        let r = self.wait(mid, Duration::from_secs(10)).ok_or(0xFFFF_FFFFu32)?;
        let (fid, _) = Self::created(&r)?;
        let mut names = Vec::new();
        let mut flags = 1u8; // RESTART_SCANS
        loop {
            let mut b = vec![];
            b.extend_from_slice(&33u16.to_le_bytes());
            b.push(12); // FileNamesInformation
            b.push(flags);
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&fid.0);
            b.extend_from_slice(&96u16.to_le_bytes());
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&65536u32.to_le_bytes());
            b.extend_from_slice(&[b'*', 0]);
            flags = 0;
            let r = self.try_call(0x0E, b).ok_or(0xFFFF_FFFFu32)?;
            if r.status == 0x8000_0006 {
                break; // STATUS_NO_MORE_FILES
            }
            if r.status != STATUS_SUCCESS {
                self.close(fid);
                return Err(r.status);
            }
            let off = usize::from(le16(&r.body, 2)) - 64;
            let len = le32(&r.body, 4) as usize;
            let mut data = &r.body[off..off + len];
            loop {
                let next = le32(data, 0) as usize;
                let n = le32(data, 8) as usize;
                let units: Vec<u16> = data[12..12 + n].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                names.push(String::from_utf16_lossy(&units));
                if next == 0 {
                    break;
                }
                data = &data[next..];
            }
        }
        self.close(fid);
        Ok(names)
    }

    /// Sends a request; returns its message id.
    pub fn send(&mut self, command: u16, body: Vec<u8>) -> u64 {
        self.send_charged(command, body, 1)
    }

    /// Sends a request costing `charge` credits (one per 64 KiB of payload).
    pub fn send_charged(&mut self, command: u16, body: Vec<u8>, charge: u16) -> u64 {
        let mid = self.next_mid;
        self.next_mid += u64::from(charge);
        let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0];
        m.extend_from_slice(&charge.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&command.to_le_bytes());
        m.extend_from_slice(&64u16.to_le_bytes());
        let flags: u32 = if std::mem::take(&mut self.sign_next) { 0x8 } else { 0 };
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&mid.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&self.tree_id.to_le_bytes());
        m.extend_from_slice(&self.session_id.to_le_bytes());
        m.extend_from_slice(&[if flags != 0 { 0x5A } else { 0 }; 16]);
        m.extend_from_slice(&body);
        let len = m.len() as u32;
        let mut f = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        f.extend_from_slice(&m);
        self.s.write_all(&f).expect("send");
        mid
    }

    /// Sends an SMB2 CANCEL of the request `mid` (MS-SMB2 3.2.4.24: same MessageId, no
    /// credit charged, no response of its own); the request's final response follows.
    pub fn cancel(&mut self, mid: u64) {
        let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0];
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&0x0Cu16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&mid.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&self.tree_id.to_le_bytes());
        m.extend_from_slice(&self.session_id.to_le_bytes());
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&[4, 0, 0, 0]);
        let len = m.len() as u32;
        let mut f = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        f.extend_from_slice(&m);
        self.s.write_all(&f).expect("send");
    }

    /// Waits for the final response to `mid` (interim responses are skipped), collecting
    /// break notifications on the way. None if nothing came within `timeout`.
    pub fn wait(&mut self, mid: u64, timeout: Duration) -> Option<Response> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.responses.remove(&mid) {
                return Some(r);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.receive_one(left)?;
        }
    }

    pub fn call(&mut self, command: u16, body: Vec<u8>) -> Response {
        let mid = self.send(command, body);
        self.wait(mid, Duration::from_secs(30)).expect("response within 30 s")
    }

    /// The next oplock break notification, waiting up to `timeout`.
    pub fn next_break(&mut self, timeout: Duration) -> Option<(Fid, u8)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(b) = self.breaks.pop_front() {
                return Some(b);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.receive_one(left)?;
        }
    }

    fn receive_one(&mut self, timeout: Duration) -> Option<()> {
        self.s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).ok()?;
        let mut head = [0u8; 4];
        self.s.read_exact(&mut head).ok()?;
        let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
        let mut m = vec![0u8; len];
        self.s.read_exact(&mut m).ok()?;
        let status = le32(&m, 8);
        let command = le16(&m, 12);
        let flags = le32(&m, 16);
        let mid = le64(&m, 24);
        if command == 0x12 && mid == u64::MAX {
            let fid = Fid(m[64 + 8..64 + 24].try_into().expect("file id"));
            self.breaks.push_back((fid, m[64 + 2]));
            return Some(());
        }
        if status == STATUS_PENDING && flags & 0x2 != 0 {
            return Some(());
        }
        if command == 1 {
            self.session_id = le64(&m, 40);
        }
        if command == 3 {
            self.tree_id = le32(&m, 36);
        }
        self.responses.insert(mid, Response { status, body: m[64..].to_vec() });
        Some(())
    }

    /// Sends a CREATE (open-if, all sharing) asking for `oplock`; returns its message id.
    pub fn send_create(&mut self, name: &str, access: u32, oplock: u8) -> u64 {
        self.send_create_with(name, access, oplock, &[])
    }

    /// A CREATE asking for a v1 lease with `state` (R=1, H=2, W=4); returns the granted
    /// OplockLevel (0xFF when a lease was granted).
    pub fn create_lease(&mut self, name: &str, key: [u8; 16], state: u32) -> Result<(Fid, u8), u32> {
        self.create_lease_for(name, GENERIC_ALL, key, state)
    }

    /// [`Client::create_lease`] with `access` instead of GENERIC_ALL.
    pub fn create_lease_for(&mut self, name: &str, access: u32, key: [u8; 16], state: u32) -> Result<(Fid, u8), u32> {
        let mut data = key.to_vec();
        data.extend_from_slice(&state.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        let mid = self.send_create_with(name, access, 0xFF, &create_context(b"RqLs", &data));
        let r = self.wait(mid, Duration::from_secs(30)).expect("create answered");
        Self::created(&r)
    }

    /// A batch-oplock CREATE with a durable v2 request (DH2Q) of `timeout_ms`.
    pub fn create_durable(&mut self, name: &str, timeout_ms: u32, create_guid: [u8; 16]) -> Result<(Fid, u8), u32> {
        let mut data = timeout_ms.to_le_bytes().to_vec();
        data.extend_from_slice(&[0; 12]);
        data.extend_from_slice(&create_guid);
        let mid = self.send_create_with(name, GENERIC_ALL, OPLOCK_BATCH, &create_context(b"DH2Q", &data));
        let r = self.wait(mid, Duration::from_secs(30)).expect("create answered");
        Self::created(&r)
    }

    /// A durable v2 reconnect (DH2C) of `fid`; the name and other fields are ignored.
    pub fn reconnect(&mut self, fid: Fid, create_guid: [u8; 16]) -> Result<(Fid, u8), u32> {
        let mut data = fid.0.to_vec();
        data.extend_from_slice(&create_guid);
        data.extend_from_slice(&0u32.to_le_bytes());
        let mid = self.send_create_with("ignored", GENERIC_ALL, OPLOCK_NONE, &create_context(b"DH2C", &data));
        let r = self.wait(mid, Duration::from_secs(30)).expect("reconnect answered");
        Self::created(&r)
    }

    /// FSCTL_LMR_REQUEST_RESILIENCY on `fid` with `timeout_ms`; returns the status.
    pub fn request_resiliency(&mut self, fid: Fid, timeout_ms: u32) -> u32 {
        let mut b = vec![];
        b.extend_from_slice(&57u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0x0014_01D4u32.to_le_bytes());
        b.extend_from_slice(&fid.0);
        b.extend_from_slice(&120u32.to_le_bytes()); // InputOffset
        b.extend_from_slice(&8u32.to_le_bytes()); // InputCount
        b.extend_from_slice(&0u32.to_le_bytes()); // MaxInputResponse
        b.extend_from_slice(&0u32.to_le_bytes()); // OutputOffset
        b.extend_from_slice(&0u32.to_le_bytes()); // OutputCount
        b.extend_from_slice(&0u32.to_le_bytes()); // MaxOutputResponse
        b.extend_from_slice(&1u32.to_le_bytes()); // SMB2_0_IOCTL_IS_FSCTL
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&timeout_ms.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        self.call(0x0B, b).status
    }

    /// Reads `len` bytes at `offset`: the status and the data.
    pub fn read_data(&mut self, fid: Fid, offset: u64, len: u32) -> (u32, Vec<u8>) {
        let r = self.call(8, read_body(fid, offset, len));
        if r.status != STATUS_SUCCESS {
            return (r.status, Vec::new());
        }
        let off = usize::from(r.body[2]) - 64;
        let n = le32(&r.body, 4) as usize;
        (r.status, r.body[off..off + n].to_vec())
    }

    fn send_create_with(&mut self, name: &str, access: u32, oplock: u8, contexts: &[u8]) -> u64 {
        self.send_create_full(name, access, oplock, OPEN_IF, 0x40, contexts)
    }

    /// A CREATE with every field the tests vary: disposition and create options too.
    pub fn send_create_full(&mut self, name: &str, access: u32, oplock: u8, disposition: u32, options: u32, contexts: &[u8]) -> u64 {
        self.send(5, create_body(name, access, oplock, disposition, options, contexts))
    }

    /// The file id and granted oplock level of a CREATE response.
    pub fn created(r: &Response) -> Result<(Fid, u8), u32> {
        if r.status != STATUS_SUCCESS {
            return Err(r.status);
        }
        Ok((Fid(r.body[64..80].try_into().expect("file id")), r.body[2]))
    }

    pub fn create(&mut self, name: &str, access: u32, oplock: u8) -> Result<(Fid, u8), u32> {
        let mid = self.send_create(name, access, oplock);
        let r = self.wait(mid, Duration::from_secs(30)).expect("create answered");
        Self::created(&r)
    }

    pub fn close(&mut self, fid: Fid) -> u32 {
        let mut b = vec![];
        b.extend_from_slice(&24u16.to_le_bytes());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&fid.0);
        self.call(6, b).status
    }

    pub fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> u32 {
        let mut b = vec![];
        b.extend_from_slice(&49u16.to_le_bytes());
        b.extend_from_slice(&112u16.to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&fid.0);
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(data);
        let charge = data.len().div_ceil(65536).max(1) as u16;
        let mid = self.send_charged(9, b, charge);
        self.wait(mid, Duration::from_secs(30)).expect("write answered").status
    }

    pub fn read(&mut self, fid: Fid, offset: u64, len: u32) -> u32 {
        self.read_data(fid, offset, len).0
    }

    /// One exclusive byte-range lock that fails at once on conflict.
    pub fn lock(&mut self, fid: Fid, offset: u64, len: u64) -> u32 {
        self.call(10, lock_body(fid, offset, len, 0x2 | 0x10)).status
    }

    /// Acknowledges an oplock break to `level`; returns the status of the response.
    pub fn ack_break(&mut self, fid: Fid, level: u8) -> u32 {
        let mut b = vec![];
        b.extend_from_slice(&24u16.to_le_bytes());
        b.push(level);
        b.extend_from_slice(&[0; 5]);
        b.extend_from_slice(&fid.0);
        self.call(0x12, b).status
    }
}

/// One create context (MS-SMB2 2.2.13.2) with a 4-byte name, alone in its chain.
pub fn create_context(name: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut ctx = vec![];
    ctx.extend_from_slice(&0u32.to_le_bytes());
    ctx.extend_from_slice(&16u16.to_le_bytes());
    ctx.extend_from_slice(&4u16.to_le_bytes());
    ctx.extend_from_slice(&0u16.to_le_bytes());
    ctx.extend_from_slice(&24u16.to_le_bytes());
    ctx.extend_from_slice(&(data.len() as u32).to_le_bytes());
    ctx.extend_from_slice(name);
    ctx.extend_from_slice(&[0; 4]);
    ctx.extend_from_slice(data);
    ctx
}

fn tree_connect_body(share: &str) -> Vec<u8> {
    let path: Vec<u8> = format!("\\\\127.0.0.1\\{share}").encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut b = vec![];
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&72u16.to_le_bytes());
    b.extend_from_slice(&(path.len() as u16).to_le_bytes());
    b.extend_from_slice(&path);
    b
}

pub fn session_setup_body(token: &[u8]) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&25u16.to_le_bytes());
    b.push(0);
    b.push(1);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&88u16.to_le_bytes());
    b.extend_from_slice(&(token.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(token);
    b
}

/// A session's SMB 3.x keys as the client holds them (MS-SMB2 3.2.5.3.1): signing,
/// encrypting what it sends (client-to-server key), decrypting what it receives.
pub struct ClientKeys {
    pub session_id: u64,
    pub signer: opportune_crypto::Signer,
    pub encryptor: opportune_crypto::Encryptor,
    pub decryptor: opportune_crypto::Decryptor,
}

impl ClientKeys {
    /// The keys of an SMB 3.0.2 session (AES-CMAC signing, AES-128-CCM encryption) from
    /// its NTLM exported session key.
    pub fn smb302(session_id: u64, session_key: &[u8; 16]) -> ClientKeys {
        use opportune_crypto::{derive_cipher_keys, derive_session_keys, Cipher, Decryptor, Dialect, Encryptor, Signer, SigningAlgorithm};
        let keys = derive_session_keys(Dialect::Smb302, session_key, None);
        let cipher = derive_cipher_keys(Dialect::Smb302, Cipher::Aes128Ccm, session_key, None);
        ClientKeys {
            session_id,
            signer: Signer::new(SigningAlgorithm::AesCmac, keys.signing),
            encryptor: Encryptor::new(Cipher::Aes128Ccm, &cipher.client_to_server, [0x11; 8]).expect("encryptor"),
            decryptor: Decryptor::new(Cipher::Aes128Ccm, &cipher.server_to_client).expect("decryptor"),
        }
    }
}

/// SMB2_GLOBAL_CAP_ENCRYPTION (MS-SMB2 2.2.3).
pub const CAP_ENCRYPTION: u32 = 0x40;
/// SMB2_NEGOTIATE_SIGNING_ENABLED | SMB2_NEGOTIATE_SIGNING_REQUIRED.
pub const SIGNING_ENABLED: u16 = 0x1;
pub const SIGNING_REQUIRED: u16 = 0x2;
/// SMB2_FLAGS_SIGNED, SMB2_FLAGS_RELATED_OPERATIONS.
pub const FLAG_SIGNED: u32 = 0x8;
pub const FLAG_RELATED: u32 = 0x4;

/// A NEGOTIATE request body offering `dialects` with `security_mode` and `capabilities`.
pub fn negotiate_body_full(dialects: &[u16], security_mode: u16, capabilities: u32) -> Vec<u8> {
    let mut b = super::negotiate_body(dialects);
    b[4..6].copy_from_slice(&security_mode.to_le_bytes());
    b[8..12].copy_from_slice(&capabilities.to_le_bytes());
    b
}

/// The body of a TREE_CONNECT to `share` (for hand-built requests).
pub fn tree_connect_request(share: &str) -> Vec<u8> {
    tree_connect_body(share)
}

/// An anonymous NTLM AUTHENTICATE (MS-NLMP 3.2.5.1.2: null user, empty NT response,
/// Z(1) LM response).
pub fn anonymous_authenticate() -> Vec<u8> {
    use opportune_auth::test_client::{assemble, CLIENT_FLAGS};
    const ANONYMOUS: u32 = 0x0000_0800;
    assemble(CLIENT_FLAGS | ANONYMOUS, &[vec![0], vec![], vec![], vec![], vec![], vec![]])
}

/// What a SESSION_SETUP exchange ended with.
pub struct LoginOutcome {
    pub status: u32,
    /// SessionFlags of a successful response (IS_GUEST 1, IS_NULL 2, ENCRYPT_DATA 4).
    pub session_flags: u16,
    pub session_id: u64,
    /// The client's NTLM exported session key (meaningful when the password was right).
    pub session_key: [u8; 16],
}

/// A SESSION_SETUP request body with `flags` (BINDING is 1), SecurityMode signing
/// enabled, `token` and PreviousSessionId `previous`.
pub fn session_setup_request(flags: u8, token: &[u8], previous: u64) -> Vec<u8> {
    let mut b = session_setup_body(token);
    b[2] = flags;
    b[16..24].copy_from_slice(&previous.to_le_bytes());
    b
}

/// A CREATE request body (MS-SMB2 2.2.13): all sharing, `contexts` 8-aligned after the name.
pub fn create_body(name: &str, access: u32, oplock: u8, disposition: u32, options: u32, contexts: &[u8]) -> Vec<u8> {
    let name16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut b = vec![];
    b.extend_from_slice(&57u16.to_le_bytes());
    b.push(0);
    b.push(oplock);
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(&access.to_le_bytes());
    b.extend_from_slice(&0x80u32.to_le_bytes());
    b.extend_from_slice(&SHARE_ALL.to_le_bytes());
    b.extend_from_slice(&disposition.to_le_bytes());
    b.extend_from_slice(&options.to_le_bytes());
    b.extend_from_slice(&120u16.to_le_bytes());
    b.extend_from_slice(&(name16.len() as u16).to_le_bytes());
    let ctx_off = (64 + 56 + name16.len()).next_multiple_of(8);
    let (off, len) = if contexts.is_empty() { (0, 0) } else { (ctx_off as u32, contexts.len() as u32) };
    b.extend_from_slice(&off.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&name16);
    if name16.is_empty() {
        b.push(0);
    }
    if !contexts.is_empty() {
        while 64 + b.len() < ctx_off {
            b.push(0);
        }
        b.extend_from_slice(contexts);
    }
    b
}

/// A CREATE request body for `name` with `access`, `disposition` (OPEN_IF is 3) and
/// create `options`, no oplock, all sharing, no contexts.
pub fn create_request(name: &str, access: u32, disposition: u32, options: u32) -> Vec<u8> {
    create_body(name, access, OPLOCK_NONE, disposition, options, &[])
}

/// A parsed response header: what the attack tests look at.
pub struct RawResponse {
    pub status: u32,
    pub command: u16,
    pub flags: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
    pub signature: [u8; 16],
    /// The whole message, header included.
    pub message: Vec<u8>,
}

impl RawResponse {
    pub fn parse(m: Vec<u8>) -> RawResponse {
        RawResponse {
            status: le32(&m, 8),
            command: le16(&m, 12),
            flags: le32(&m, 16),
            message_id: le64(&m, 24),
            tree_id: le32(&m, 36),
            session_id: le64(&m, 40),
            signature: m[48..64].try_into().expect("signature"),
            message: m,
        }
    }
}

/// Hand-built requests for the attack suite: several sessions on one connection, chosen
/// header fields, signing and encryption with the session's own keys.
impl Client {
    /// Connects (from 127.0.0.1) and negotiates `dialect` with `security_mode` and
    /// `capabilities`.
    pub fn negotiate_with(addr: SocketAddr, dialect: u16, security_mode: u16, capabilities: u32) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut c = Client::over(s);
        let r = c.call(0, negotiate_body_full(&[dialect], security_mode, capabilities));
        assert_eq!(r.status, STATUS_SUCCESS, "negotiate");
        c
    }

    /// Authenticates a new session on this connection (whatever sessions it has): its id
    /// and NTLM exported session key, or the final SESSION_SETUP status.
    pub fn login_session(&mut self, user: &str, password: &str) -> Result<(u64, [u8; 16]), u32> {
        let o = self.login_outcome(user, password, 0);
        if o.status == STATUS_SUCCESS { Ok((o.session_id, o.session_key)) } else { Err(o.status) }
    }

    /// Authenticates a new session naming `previous` as its PreviousSessionId: the whole
    /// outcome, success or not.
    pub fn login_outcome(&mut self, user: &str, password: &str, previous: u64) -> LoginOutcome {
        use opportune_auth::test_client::{authenticate, negotiate, ClientOptions, CLIENT_FLAGS};
        self.session_id = 0;
        let ntlm_neg = negotiate(CLIENT_FLAGS);
        let r = self.call(1, session_setup_request(0, &ntlm_neg, previous));
        assert_eq!(r.status, STATUS_MORE_PROCESSING, "session setup 1");
        let off = usize::from(le16(&r.body, 4)) - 64;
        let len = usize::from(le16(&r.body, 6));
        let challenge = r.body[off..off + len].to_vec();
        let auth = authenticate(&ntlm_neg, &challenge, &ClientOptions::new(user, "", password));
        let r = self.call(1, session_setup_request(0, &auth.message, previous));
        let flags = if r.status == STATUS_SUCCESS { le16(&r.body, 2) } else { 0 };
        LoginOutcome { status: r.status, session_flags: flags, session_id: self.session_id, session_key: auth.exported_session_key }
    }

    /// A new anonymous (null) session: the final SESSION_SETUP status and SessionFlags.
    pub fn login_anonymous(&mut self) -> (u32, u16) {
        use opportune_auth::test_client::{negotiate, CLIENT_FLAGS};
        self.session_id = 0;
        let r = self.call(1, session_setup_body(&negotiate(CLIENT_FLAGS)));
        assert_eq!(r.status, STATUS_MORE_PROCESSING, "session setup 1");
        let r = self.call(1, session_setup_body(&anonymous_authenticate()));
        let flags = if r.body.len() >= 4 { le16(&r.body, 2) } else { 0 };
        (r.status, flags)
    }

    /// The current session and tree ids (those of the last SESSION_SETUP / TREE_CONNECT).
    pub fn ids(&self) -> (u64, u32) {
        (self.session_id, self.tree_id)
    }

    /// Sets the ids that [`Client::send`] puts in its headers.
    pub fn set_ids(&mut self, session_id: u64, tree_id: u32) {
        self.session_id = session_id;
        self.tree_id = tree_id;
    }

    /// A request message (header and body, no transport header) with the next message id
    /// and the given ids and flags; zero signature.
    pub fn message(&mut self, command: u16, body: &[u8], session_id: u64, tree_id: u32, flags: u32) -> (u64, Vec<u8>) {
        let mid = self.next_mid;
        self.next_mid += 1;
        let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0];
        m.extend_from_slice(&1u16.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&command.to_le_bytes());
        m.extend_from_slice(&64u16.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&mid.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&tree_id.to_le_bytes());
        m.extend_from_slice(&session_id.to_le_bytes());
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(body);
        (mid, m)
    }

    /// Links `messages` into one compound frame (each padded to 8 bytes, NextCommand set).
    pub fn compound(messages: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let mut m = m.clone();
            if i + 1 < messages.len() {
                while m.len() % 8 != 0 {
                    m.push(0);
                }
                let len = m.len() as u32;
                m[20..24].copy_from_slice(&len.to_le_bytes());
            }
            out.extend_from_slice(&m);
        }
        out
    }

    /// Sends `frame` as it is, in one transport frame.
    pub fn send_raw(&mut self, frame: &[u8]) {
        let len = frame.len() as u32;
        let mut f = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        f.extend_from_slice(frame);
        self.s.write_all(&f).expect("send");
    }

    /// The next transport frame as it came (None on end of connection or timeout).
    pub fn recv_raw(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        self.s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).ok()?;
        let mut head = [0u8; 4];
        self.s.read_exact(&mut head).ok()?;
        let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
        let mut m = vec![0u8; len];
        self.s.read_exact(&mut m).ok()?;
        Some(m)
    }

    /// Sends `frame` encrypted with `keys` and returns the responses in the answer (each
    /// message of a compound answer separately), decrypted; None if the connection ended
    /// or nothing came within 10 s. Interim responses are skipped.
    pub fn call_encrypted(&mut self, keys: &ClientKeys, frame: &[u8]) -> Option<Vec<RawResponse>> {
        self.send_raw(&keys.encryptor.encrypt(keys.session_id, frame));
        loop {
            let f = self.recv_raw(Duration::from_secs(10))?;
            let plain = if f.starts_with(&[0xFD, b'S', b'M', b'B']) { keys.decryptor.decrypt(&f).ok()? } else { f };
            let responses = split_compound(plain);
            let interim = responses.len() == 1 && responses[0].status == STATUS_PENDING && responses[0].flags & 0x2 != 0;
            if !interim {
                return Some(responses);
            }
        }
    }

    /// Sends `frame` in plaintext and returns the answer's responses (interim skipped).
    pub fn call_raw(&mut self, frame: &[u8]) -> Option<Vec<RawResponse>> {
        self.send_raw(frame);
        loop {
            let responses = split_compound(self.recv_raw(Duration::from_secs(10))?);
            let interim = responses.len() == 1 && responses[0].status == STATUS_PENDING && responses[0].flags & 0x2 != 0;
            if !interim {
                return Some(responses);
            }
        }
    }
}

/// The messages of a compound response.
pub fn split_compound(frame: Vec<u8>) -> Vec<RawResponse> {
    let mut out = Vec::new();
    let mut rest = &frame[..];
    while rest.len() >= 64 {
        let next = le32(rest, 20) as usize;
        let end = if next == 0 || next > rest.len() { rest.len() } else { next };
        out.push(RawResponse::parse(rest[..end].to_vec()));
        if next == 0 || next > rest.len() {
            break;
        }
        rest = &rest[next..];
    }
    out
}

/// The signature of `message` (SIGNED flag set, signature field zero) with `signer`,
/// written into it.
pub fn sign(signer: &opportune_crypto::Signer, message: &mut [u8]) {
    let flags = le32(message, 16) | FLAG_SIGNED;
    message[16..20].copy_from_slice(&flags.to_le_bytes());
    assert!(signer.sign_in_place(message), "signing");
}

/// SET_INFO and QUERY_INFO (MS-SMB2 2.2.39, 2.2.37) and what the link and EA tests build
/// on them: FileFullEaInformation (MS-FSCC 2.4.15), FileLinkInformation (2.4.27.2),
/// FileInternalInformation (2.4.26) and FileStandardInformation (2.4.47).
impl Client {
    /// SET_INFO of `info_type` (1 file) and `class` with `buffer`; the status.
    pub fn set_info(&mut self, fid: Fid, info_type: u8, class: u8, buffer: &[u8]) -> u32 {
        self.call(0x11, set_info_body(fid, info_type, class, buffer)).status
    }

    /// FileRenameInformation (MS-FSCC 2.4.37.2) of `fid` to `to` (from the share root),
    /// replacing an existing file when `replace`; the status.
    pub fn rename(&mut self, fid: Fid, to: &str, replace: bool) -> u32 {
        let name: Vec<u8> = to.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut b = vec![u8::from(replace)];
        b.extend_from_slice(&[0; 15]);
        b.extend_from_slice(&(name.len() as u32).to_le_bytes());
        b.extend_from_slice(&name);
        self.set_info(fid, 1, 10, &b)
    }

    /// QUERY_INFO of `info_type` and `class` with `input` and `flags`: the status and
    /// the output buffer.
    pub fn query_info(&mut self, fid: Fid, info_type: u8, class: u8, input: &[u8], flags: u32) -> (u32, Vec<u8>) {
        let mut b = vec![];
        b.extend_from_slice(&41u16.to_le_bytes());
        b.push(info_type);
        b.push(class);
        b.extend_from_slice(&65536u32.to_le_bytes());
        let in_off: u16 = if input.is_empty() { 0 } else { 104 };
        b.extend_from_slice(&in_off.to_le_bytes());
        b.extend_from_slice(&[0; 2]);
        b.extend_from_slice(&(input.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&fid.0);
        b.extend_from_slice(input);
        if input.is_empty() {
            b.push(0);
        }
        let r = self.call(0x10, b);
        if r.status != STATUS_SUCCESS || r.body.len() < 8 {
            return (r.status, Vec::new());
        }
        let off = usize::from(le16(&r.body, 2)).saturating_sub(64);
        let n = le32(&r.body, 4) as usize;
        (r.status, r.body.get(off..off + n).unwrap_or_default().to_vec())
    }

    /// Sets EAs (FileFullEaInformation); an empty value removes one.
    pub fn set_eas(&mut self, fid: Fid, eas: &[(&str, &[u8])]) -> u32 {
        let mut list = vec![];
        for (i, (name, value)) in eas.iter().enumerate() {
            let start = list.len();
            list.extend_from_slice(&0u32.to_le_bytes());
            list.push(0);
            list.push(name.len() as u8);
            list.extend_from_slice(&(value.len() as u16).to_le_bytes());
            list.extend_from_slice(name.as_bytes());
            list.push(0);
            list.extend_from_slice(value);
            if i + 1 < eas.len() {
                while list.len() % 4 != 0 {
                    list.push(0);
                }
                let next = (list.len() - start) as u32;
                list[start..start + 4].copy_from_slice(&next.to_le_bytes());
            }
        }
        self.set_info(fid, 1, 15, &list)
    }

    /// The file's EAs as (name, value), all of them (`names` empty, restarting the
    /// scan) or those named (FILE_GET_EA_INFORMATION list).
    pub fn query_eas(&mut self, fid: Fid, names: &[&str]) -> Result<Vec<(String, Vec<u8>)>, u32> {
        let mut input = vec![];
        for (i, name) in names.iter().enumerate() {
            let start = input.len();
            input.extend_from_slice(&0u32.to_le_bytes());
            input.push(name.len() as u8);
            input.extend_from_slice(name.as_bytes());
            input.push(0);
            if i + 1 < names.len() {
                while input.len() % 4 != 0 {
                    input.push(0);
                }
                let next = (input.len() - start) as u32;
                input[start..start + 4].copy_from_slice(&next.to_le_bytes());
            }
        }
        let (status, out) = self.query_info(fid, 1, 15, &input, 1);
        if status != STATUS_SUCCESS {
            return Err(status);
        }
        let mut eas = vec![];
        let mut at = 0;
        while at + 8 <= out.len() {
            let next = le32(&out, at) as usize;
            let nlen = usize::from(out[at + 5]);
            let vlen = usize::from(le16(&out, at + 6));
            let name = String::from_utf8_lossy(&out[at + 8..at + 8 + nlen]).into_owned();
            let value = out[at + 9 + nlen..at + 9 + nlen + vlen].to_vec();
            eas.push((name, value));
            if next == 0 {
                break;
            }
            at += next;
        }
        Ok(eas)
    }

    /// FileLinkInformation: a hard link named `name` (from the share root) to the file
    /// of `fid`, with ReplaceIfExists `replace` and RootDirectory `root` (0 over SMB2).
    pub fn link_with_root(&mut self, fid: Fid, name: &str, replace: bool, root: u64) -> u32 {
        let name16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut b = vec![u8::from(replace)];
        b.extend_from_slice(&[0; 7]);
        b.extend_from_slice(&root.to_le_bytes());
        b.extend_from_slice(&(name16.len() as u32).to_le_bytes());
        b.extend_from_slice(&name16);
        self.set_info(fid, 1, 11, &b)
    }

    /// FileLinkInformation with RootDirectory 0.
    pub fn link(&mut self, fid: Fid, name: &str, replace: bool) -> u32 {
        self.link_with_root(fid, name, replace, 0)
    }

    /// FileInternalInformation.IndexNumber: the file id.
    pub fn file_index(&mut self, fid: Fid) -> u64 {
        let (status, out) = self.query_info(fid, 1, 6, &[], 0);
        assert_eq!(status, STATUS_SUCCESS, "FileInternalInformation");
        le64(&out, 0)
    }

    /// FileStandardInformation.NumberOfLinks.
    pub fn link_count(&mut self, fid: Fid) -> u32 {
        let (status, out) = self.query_info(fid, 1, 5, &[], 0);
        assert_eq!(status, STATUS_SUCCESS, "FileStandardInformation");
        le32(&out, 16)
    }
}

/// A SET_INFO request body (MS-SMB2 2.2.39) of `info_type` (1: file) and `class`.
pub fn set_info_body(fid: Fid, info_type: u8, class: u8, buffer: &[u8]) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&33u16.to_le_bytes());
    b.push(info_type);
    b.push(class);
    b.extend_from_slice(&(buffer.len() as u32).to_le_bytes());
    b.extend_from_slice(&96u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid.0);
    b.extend_from_slice(buffer);
    b
}

/// A READ request body (MS-SMB2 2.2.19), 49 bytes.
/// A LOCK request body of one element with SMB2_LOCK_FLAG_* `flags`.
pub fn lock_body(fid: Fid, offset: u64, len: u64, flags: u32) -> Vec<u8> {
    locks_body(fid, &[(offset, len, flags)])
}

/// A LOCK request body of several elements (offset, length, flags).
pub fn locks_body(fid: Fid, elements: &[(u64, u64, u32)]) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&48u16.to_le_bytes());
    b.extend_from_slice(&(elements.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid.0);
    for &(offset, len, flags) in elements {
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
    }
    b
}

pub fn read_body(fid: Fid, offset: u64, len: u32) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&49u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&fid.0);
    b.extend_from_slice(&[0; 17]);
    b
}
