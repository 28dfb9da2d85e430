//! What a world client receives, decoded: responses (interim or final) and break
//! notifications (MS-SMB2 2.2.1.2 headers, 2.2.23 break notifications).

use super::build::Fid;
use opportune_types::NtStatus;
use opportune_wire::header::{flags, Command, Header, HEADER_LEN};

/// One response message (header fields and body after the 64-byte header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: NtStatus,
    pub command: u16,
    pub message_id: u64,
    /// AsyncId of an asynchronous response (MS-SMB2 3.3.4.2), else 0.
    pub async_id: u64,
    /// CreditResponse (MS-SMB2 3.3.1.2).
    pub credits: u16,
    pub flags: u32,
    pub session_id: u64,
    pub tree_id: u32,
    pub body: Vec<u8>,
}

impl Response {
    /// An interim response: STATUS_PENDING with SMB2_FLAGS_ASYNC_COMMAND (3.3.4.2).
    pub fn is_interim(&self) -> bool {
        self.status == NtStatus::PENDING && self.flags & flags::ASYNC_COMMAND != 0
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.body[at], self.body[at + 1]])
    }
    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.body[at..at + 4].try_into().expect("4 bytes"))
    }

    /// CREATE response (2.2.14): the FileId.
    pub fn file_id(&self) -> Fid {
        self.body[64..80].try_into().expect("file id")
    }

    /// CREATE response: the granted OplockLevel (0xFF: a lease).
    pub fn oplock_level(&self) -> u8 {
        self.body[2]
    }

    /// CREATE response: CreateAction (1 opened, 2 created, 3 overwritten).
    pub fn create_action(&self) -> u32 {
        self.u32_at(4)
    }

    /// CREATE response: the create context named `name`, if any.
    pub fn create_context(&self, name: &[u8; 4]) -> Option<Vec<u8>> {
        let off = self.u32_at(80) as usize;
        let len = self.u32_at(84) as usize;
        if off == 0 || len == 0 {
            return None;
        }
        let mut at = off - HEADER_LEN;
        loop {
            let c = &self.body[at..];
            let next = u32::from_le_bytes(c[0..4].try_into().ok()?) as usize;
            let name_off = usize::from(u16::from_le_bytes([c[4], c[5]]));
            let data_off = usize::from(u16::from_le_bytes([c[10], c[11]]));
            let data_len = u32::from_le_bytes(c[12..16].try_into().ok()?) as usize;
            if &c[name_off..name_off + 4] == name {
                return Some(c[data_off..data_off + data_len].to_vec());
            }
            if next == 0 {
                return None;
            }
            at += next;
        }
    }

    /// The lease state granted in a CREATE response's RqLs context.
    pub fn lease_state(&self) -> Option<u32> {
        self.create_context(b"RqLs").map(|d| u32::from_le_bytes(d[16..20].try_into().expect("state")))
    }

    /// READ response (2.2.20): the data.
    pub fn read_data(&self) -> Vec<u8> {
        let off = usize::from(self.body[2]) - HEADER_LEN;
        let n = self.u32_at(4) as usize;
        self.body[off..off + n].to_vec()
    }

    /// WRITE response (2.2.22): Count.
    pub fn write_count(&self) -> u32 {
        self.u32_at(4)
    }

    /// NEGOTIATE response (2.2.4): DialectRevision.
    pub fn dialect(&self) -> u16 {
        self.u16_at(4)
    }

    /// NEGOTIATE response: SecurityMode.
    pub fn security_mode(&self) -> u16 {
        self.u16_at(2)
    }

    /// SESSION_SETUP response (2.2.6): SessionFlags.
    pub fn session_flags(&self) -> u16 {
        self.u16_at(2)
    }

    /// SESSION_SETUP response: the security buffer (the NTLM challenge).
    pub fn security_buffer(&self) -> Vec<u8> {
        let off = usize::from(self.u16_at(4)) - HEADER_LEN;
        let len = usize::from(self.u16_at(6));
        self.body[off..off + len].to_vec()
    }

    /// TREE_CONNECT response (2.2.10): ShareType (1 disk, 2 pipe).
    pub fn share_type(&self) -> u8 {
        self.body[2]
    }

    /// QUERY_DIRECTORY response (2.2.34) of FileNamesInformation: the names.
    pub fn names(&self) -> Vec<String> {
        let off = usize::from(self.u16_at(2)) - HEADER_LEN;
        let len = self.u32_at(4) as usize;
        let mut data = &self.body[off..off + len];
        let mut names = Vec::new();
        while data.len() >= 12 {
            let next = u32::from_le_bytes(data[0..4].try_into().expect("4")) as usize;
            let n = u32::from_le_bytes(data[8..12].try_into().expect("4")) as usize;
            let units: Vec<u16> = data[12..12 + n].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            names.push(String::from_utf16_lossy(&units));
            if next == 0 {
                break;
            }
            data = &data[next..];
        }
        names
    }

    /// CHANGE_NOTIFY response (2.2.36): (action, name) of each FILE_NOTIFY_INFORMATION.
    pub fn changes(&self) -> Vec<(u32, String)> {
        let off = usize::from(self.u16_at(2));
        let len = self.u32_at(4) as usize;
        if len == 0 {
            return Vec::new();
        }
        let mut data = &self.body[off - HEADER_LEN..off - HEADER_LEN + len];
        let mut out = Vec::new();
        while data.len() >= 12 {
            let next = u32::from_le_bytes(data[0..4].try_into().expect("4")) as usize;
            let action = u32::from_le_bytes(data[4..8].try_into().expect("4"));
            let n = u32::from_le_bytes(data[8..12].try_into().expect("4")) as usize;
            let units: Vec<u16> = data[12..12 + n].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            out.push((action, String::from_utf16_lossy(&units)));
            if next == 0 {
                break;
            }
            data = &data[next..];
        }
        out
    }

    /// QUERY_INFO response of FileStandardInformation: (EndOfFile, DeletePending).
    pub fn standard_info(&self) -> (u64, bool) {
        let off = usize::from(self.u16_at(2)) - HEADER_LEN;
        let d = &self.body[off..];
        (u64::from_le_bytes(d[8..16].try_into().expect("8")), d[20] != 0)
    }
}

/// A break notification the server sent (MS-SMB2 2.2.23).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Oplock break (2.2.23.1): the open and the level to break to.
    Oplock { fid: Fid, level: u8 },
    /// Lease break (2.2.23.2).
    Lease { key: [u8; 16], from: u32, to: u32, ack_required: bool },
}

/// One message of a received frame.
#[derive(Clone, Debug)]
pub enum Received {
    Response(Response),
    Notice(Notice),
}

/// Splits a received frame (possibly a compound chain, MS-SMB2 3.3.4.1.3) into messages.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Received>, String> {
    let mut out = Vec::new();
    let mut rest = frame;
    loop {
        let h = Header::decode(rest).map_err(|e| format!("response header: {e:?}"))?;
        if h.flags & flags::SERVER_TO_REDIR == 0 {
            return Err("a response without SERVER_TO_REDIR".into());
        }
        let end = if h.next_command == 0 { rest.len() } else { h.next_command as usize };
        if end > rest.len() || end < HEADER_LEN {
            return Err("NextCommand out of bounds in a response".into());
        }
        let body = rest[HEADER_LEN..end].to_vec();
        out.push(decode_message(h, body));
        if h.next_command == 0 {
            return Ok(out);
        }
        rest = &rest[end..];
    }
}

fn decode_message(h: Header, body: Vec<u8>) -> Received {
    if h.command == Command::OplockBreak as u16 && h.message_id == u64::MAX {
        if body.len() >= 44 && u16::from_le_bytes([body[0], body[1]]) == 44 {
            let key = body[8..24].try_into().expect("lease key");
            let from = u32::from_le_bytes(body[24..28].try_into().expect("4"));
            let to = u32::from_le_bytes(body[28..32].try_into().expect("4"));
            let ack_required = u32::from_le_bytes(body[4..8].try_into().expect("4")) & 1 != 0;
            return Received::Notice(Notice::Lease { key, from, to, ack_required });
        }
        let fid = body[8..24].try_into().expect("file id");
        return Received::Notice(Notice::Oplock { fid, level: body[2] });
    }
    Received::Response(Response {
        status: NtStatus(h.status),
        command: h.command,
        message_id: h.message_id,
        async_id: h.async_id,
        credits: h.credits,
        flags: h.flags,
        session_id: h.session_id,
        tree_id: h.tree_id,
        body,
    })
}
