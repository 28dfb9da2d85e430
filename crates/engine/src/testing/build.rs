//! Request bodies (everything after the 64-byte header) of the SMB2 commands the world's
//! clients send, laid out as MS-SMB2 section 2.2 describes them.

/// An SMB2 FileId (MS-SMB2 2.2.14.1): persistent and volatile halves, as on the wire.
pub type Fid = [u8; 16];

/// The FileId that names the previous CREATE's open in a related compound (3.3.5.2.7.2).
pub const RELATED_FID: Fid = [0xFF; 16];

pub mod access {
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub const DELETE: u32 = 0x0001_0000;
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    pub const GENERIC_READ: u32 = 0x8000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
}

pub mod share {
    pub const NONE: u32 = 0;
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 2;
    pub const DELETE: u32 = 4;
    pub const ALL: u32 = 7;
}

/// CreateDisposition (MS-SMB2 2.2.13).
pub mod disposition {
    pub const SUPERSEDE: u32 = 0;
    pub const OPEN: u32 = 1;
    pub const CREATE: u32 = 2;
    pub const OPEN_IF: u32 = 3;
    pub const OVERWRITE_IF: u32 = 5;
}

/// CreateOptions (MS-SMB2 2.2.13).
pub mod options {
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
}

/// RequestedOplockLevel / OplockLevel (MS-SMB2 2.2.13, 2.2.14): the codec's constants.
pub use opportune_types::create::oplock;

/// SMB2_LEASE state bits (MS-SMB2 2.2.13.2.8).
pub mod lease {
    pub const R: u32 = 0x1;
    pub const H: u32 = 0x2;
    pub const W: u32 = 0x4;
}

/// SMB2_LOCK_ELEMENT flags (MS-SMB2 2.2.26.1).
pub mod lock_flags {
    pub const SHARED: u32 = 0x1;
    pub const EXCLUSIVE: u32 = 0x2;
    pub const UNLOCK: u32 = 0x4;
    pub const FAIL_IMMEDIATELY: u32 = 0x10;
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NEGOTIATE (2.2.3) offering `dialects`, signing enabled, with `capabilities` (no
/// negotiate contexts: SMB 3.1.1 is not offered by the world's clients).
pub fn negotiate(dialects: &[u16], capabilities: u32, client_guid: [u8; 16]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&capabilities.to_le_bytes());
    b.extend_from_slice(&client_guid);
    b.extend_from_slice(&[0; 8]);
    for d in dialects {
        b.extend_from_slice(&d.to_le_bytes());
    }
    b
}

/// SESSION_SETUP (2.2.5) carrying `token`, with PreviousSessionId `previous`.
pub fn session_setup(token: &[u8], previous: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&25u16.to_le_bytes());
    b.push(0); // Flags
    b.push(1); // SecurityMode: signing enabled
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&88u16.to_le_bytes());
    b.extend_from_slice(&(token.len() as u16).to_le_bytes());
    b.extend_from_slice(&previous.to_le_bytes());
    b.extend_from_slice(token);
    b
}

/// TREE_CONNECT (2.2.9) to `\\world\share`.
pub fn tree_connect(share: &str) -> Vec<u8> {
    let path = utf16(&format!("\\\\world\\{share}"));
    let mut b = Vec::new();
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&72u16.to_le_bytes());
    b.extend_from_slice(&(path.len() as u16).to_le_bytes());
    b.extend_from_slice(&path);
    b
}

/// The 4-byte bodies of ECHO (2.2.28), LOGOFF (2.2.7), TREE_DISCONNECT (2.2.11), CANCEL (2.2.30).
pub fn empty4() -> Vec<u8> {
    vec![4, 0, 0, 0]
}

/// Every field of a CREATE request (2.2.13) the tests vary.
#[derive(Clone, Debug)]
pub struct Create {
    pub name: String,
    pub access: u32,
    pub share: u32,
    pub disposition: u32,
    pub options: u32,
    pub oplock: u8,
    /// Create contexts (2.2.13.2), already chained ([`context`]).
    pub contexts: Vec<u8>,
}

impl Create {
    /// Open-if of a file for reading and writing, all sharing, no oplock.
    pub fn file(name: &str) -> Create {
        Create {
            name: name.to_string(),
            access: access::GENERIC_READ | access::GENERIC_WRITE | access::DELETE,
            share: share::ALL,
            disposition: disposition::OPEN_IF,
            options: options::NON_DIRECTORY_FILE,
            oplock: oplock::NONE,
            contexts: Vec::new(),
        }
    }

    /// Opens (or creates) the directory `name` ("" for the share root).
    pub fn dir(name: &str) -> Create {
        Create {
            name: name.to_string(),
            access: access::GENERIC_READ | access::SYNCHRONIZE,
            share: share::ALL,
            disposition: disposition::OPEN_IF,
            options: options::DIRECTORY_FILE,
            oplock: oplock::NONE,
            contexts: Vec::new(),
        }
    }

    pub fn oplock(mut self, level: u8) -> Create {
        self.oplock = level;
        self
    }
    pub fn access(mut self, access: u32) -> Create {
        self.access = access;
        self
    }
    pub fn share(mut self, share: u32) -> Create {
        self.share = share;
        self
    }
    pub fn disposition(mut self, d: u32) -> Create {
        self.disposition = d;
        self
    }
    pub fn options(mut self, o: u32) -> Create {
        self.options = o;
        self
    }
    /// Asks for a lease (RqLs, 2.2.13.2.8, v1) of `state` under `key`.
    pub fn lease(mut self, key: [u8; 16], state: u32) -> Create {
        let mut data = key.to_vec();
        data.extend_from_slice(&state.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        self.oplock = oplock::LEASE;
        self.contexts = context(b"RqLs", &data);
        self
    }
    /// Asks for a durable handle v2 (DH2Q, 2.2.13.2.11) with a batch oplock.
    pub fn durable_v2(mut self, timeout_ms: u32, create_guid: [u8; 16]) -> Create {
        let mut data = timeout_ms.to_le_bytes().to_vec();
        data.extend_from_slice(&[0; 12]);
        data.extend_from_slice(&create_guid);
        self.oplock = oplock::BATCH;
        self.contexts = context(b"DH2Q", &data);
        self
    }
    /// Reconnects the durable v2 open `fid` (DH2C, 2.2.13.2.12).
    pub fn reconnect_v2(mut self, fid: Fid, create_guid: [u8; 16]) -> Create {
        let mut data = fid.to_vec();
        data.extend_from_slice(&create_guid);
        data.extend_from_slice(&0u32.to_le_bytes());
        self.oplock = oplock::BATCH;
        self.contexts = context(b"DH2C", &data);
        self
    }

    pub fn body(&self) -> Vec<u8> {
        let name16 = utf16(&self.name);
        let mut b = Vec::new();
        b.extend_from_slice(&57u16.to_le_bytes());
        b.push(0);
        b.push(self.oplock);
        b.extend_from_slice(&2u32.to_le_bytes()); // ImpersonationLevel: Impersonation
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&self.access.to_le_bytes());
        b.extend_from_slice(&0x80u32.to_le_bytes()); // FILE_ATTRIBUTE_NORMAL
        b.extend_from_slice(&self.share.to_le_bytes());
        b.extend_from_slice(&self.disposition.to_le_bytes());
        b.extend_from_slice(&self.options.to_le_bytes());
        b.extend_from_slice(&120u16.to_le_bytes());
        b.extend_from_slice(&(name16.len() as u16).to_le_bytes());
        let ctx_off = (64 + 56 + name16.len()).next_multiple_of(8);
        let (off, len) = if self.contexts.is_empty() { (0, 0) } else { (ctx_off as u32, self.contexts.len() as u32) };
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&name16);
        if name16.is_empty() {
            b.push(0);
        }
        if !self.contexts.is_empty() {
            while 64 + b.len() < ctx_off {
                b.push(0);
            }
            b.extend_from_slice(&self.contexts);
        }
        b
    }
}

/// One create context (2.2.13.2) named `name`, alone in its chain.
pub fn context(name: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&0u32.to_le_bytes());
    c.extend_from_slice(&16u16.to_le_bytes());
    c.extend_from_slice(&4u16.to_le_bytes());
    c.extend_from_slice(&0u16.to_le_bytes());
    c.extend_from_slice(&24u16.to_le_bytes());
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(name);
    c.extend_from_slice(&[0; 4]);
    c.extend_from_slice(data);
    c
}

/// CLOSE (2.2.15).
pub fn close(fid: Fid) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(&fid);
    b
}

/// FLUSH (2.2.17).
pub fn flush(fid: Fid) -> Vec<u8> {
    close(fid)
}

/// READ (2.2.19) of `len` bytes at `offset`.
pub fn read(fid: Fid, offset: u64, len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&49u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&fid);
    b.extend_from_slice(&[0; 17]);
    b
}

/// WRITE (2.2.21) of `data` at `offset`.
pub fn write(fid: Fid, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&49u16.to_le_bytes());
    b.extend_from_slice(&112u16.to_le_bytes());
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&fid);
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(data);
    b
}

/// LOCK (2.2.26) of (offset, length, flags) elements.
pub fn lock(fid: Fid, elements: &[(u64, u64, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&48u16.to_le_bytes());
    b.extend_from_slice(&(elements.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid);
    for &(offset, len, flags) in elements {
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
    }
    b
}

/// OPLOCK_BREAK acknowledgment (2.2.24.1) to `level`.
pub fn oplock_ack(fid: Fid, level: u8) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&24u16.to_le_bytes());
    b.push(level);
    b.extend_from_slice(&[0; 5]);
    b.extend_from_slice(&fid);
    b
}

/// LEASE_BREAK acknowledgment (2.2.24.2) of `key` to `state`.
pub fn lease_ack(key: [u8; 16], state: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&key);
    b.extend_from_slice(&state.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b
}

/// CHANGE_NOTIFY (2.2.35) on the directory `fid` for `filter` (FILE_NOTIFY_CHANGE_*).
pub fn change_notify(fid: Fid, filter: u32, watch_tree: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(&u16::from(watch_tree).to_le_bytes());
    b.extend_from_slice(&4096u32.to_le_bytes());
    b.extend_from_slice(&fid);
    b.extend_from_slice(&filter.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

/// QUERY_DIRECTORY (2.2.33) with FileNamesInformation (12) for `pattern`; `restart`
/// sets SMB2_RESTART_SCANS.
pub fn query_directory(fid: Fid, pattern: &str, restart: bool) -> Vec<u8> {
    let p = utf16(pattern);
    let mut b = Vec::new();
    b.extend_from_slice(&33u16.to_le_bytes());
    b.push(12);
    b.push(u8::from(restart));
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid);
    b.extend_from_slice(&96u16.to_le_bytes());
    b.extend_from_slice(&(p.len() as u16).to_le_bytes());
    b.extend_from_slice(&65536u32.to_le_bytes());
    b.extend_from_slice(&p);
    b
}

/// SET_INFO (2.2.39) of a file information class with `buffer`.
pub fn set_file_info(fid: Fid, class: u8, buffer: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&33u16.to_le_bytes());
    b.push(1); // SMB2_0_INFO_FILE
    b.push(class);
    b.extend_from_slice(&(buffer.len() as u32).to_le_bytes());
    b.extend_from_slice(&96u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid);
    b.extend_from_slice(buffer);
    b
}

/// FileRenameInformation (MS-FSCC 2.4.37.2, class 10) to `to`.
pub fn rename(fid: Fid, to: &str, replace: bool) -> Vec<u8> {
    let name = utf16(to);
    let mut buf = vec![u8::from(replace)];
    buf.extend_from_slice(&[0; 15]);
    buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
    buf.extend_from_slice(&name);
    set_file_info(fid, 10, &buf)
}

/// FileDispositionInformation (MS-FSCC 2.4.11, class 13).
pub fn dispose(fid: Fid, delete: bool) -> Vec<u8> {
    set_file_info(fid, 13, &[u8::from(delete)])
}

/// QUERY_INFO (2.2.37) of FileStandardInformation (MS-FSCC 2.4.41, class 5).
pub fn query_standard_info(fid: Fid) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&41u16.to_le_bytes());
    b.push(1);
    b.push(5);
    b.extend_from_slice(&4096u32.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&fid);
    b
}
