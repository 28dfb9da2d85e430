//! The 64-byte SMB2 packet header (MS-SMB2 2.2.1).

use crate::cursor::{Put, Reader};
use crate::error::{Result, WireError};
use opportune_types::NtStatus;

pub const HEADER_LEN: usize = 64;
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// Offset of the 16-byte signature inside the header.
pub const SIGNATURE_RANGE: std::ops::Range<usize> = 48..64;

/// SMB2 command codes (MS-SMB2 2.2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Command {
    Negotiate = 0x00,
    SessionSetup = 0x01,
    Logoff = 0x02,
    TreeConnect = 0x03,
    TreeDisconnect = 0x04,
    Create = 0x05,
    Close = 0x06,
    Flush = 0x07,
    Read = 0x08,
    Write = 0x09,
    Lock = 0x0A,
    Ioctl = 0x0B,
    Cancel = 0x0C,
    Echo = 0x0D,
    QueryDirectory = 0x0E,
    ChangeNotify = 0x0F,
    QueryInfo = 0x10,
    SetInfo = 0x11,
    OplockBreak = 0x12,
}

impl Command {
    pub fn from_u16(v: u16) -> Option<Command> {
        use Command::*;
        const ALL: [Command; 19] = [
            Negotiate, SessionSetup, Logoff, TreeConnect, TreeDisconnect, Create, Close, Flush, Read,
            Write, Lock, Ioctl, Cancel, Echo, QueryDirectory, ChangeNotify, QueryInfo, SetInfo,
            OplockBreak,
        ];
        ALL.get(usize::from(v)).copied()
    }
}

pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// A decoded header. `async_id` is set when ASYNC_COMMAND is; otherwise `tree_id` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    /// ChannelSequence/Reserved in requests, Status in responses.
    pub status: u32,
    pub command: u16,
    pub credits: u16,
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    pub async_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
    pub signature: [u8; 16],
}

impl Header {
    pub fn decode(msg: &[u8]) -> Result<Header> {
        let mut r = Reader::new(msg, 0);
        if r.bytes(4)? != PROTOCOL_ID {
            return Err(WireError::BadProtocolId);
        }
        r.structure_size(64)?;
        let credit_charge = r.u16()?;
        let status = r.u32()?;
        let command = r.u16()?;
        let credits = r.u16()?;
        let flags = r.u32()?;
        let next_command = r.u32()?;
        let message_id = r.u64()?;
        let (async_id, tree_id) = if flags & flags::ASYNC_COMMAND != 0 {
            (r.u64()?, 0)
        } else {
            r.skip(4)?;
            (0, r.u32()?)
        };
        let session_id = r.u64()?;
        let signature = r.array::<16>()?;
        Ok(Header {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            async_id,
            tree_id,
            session_id,
            signature,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&PROTOCOL_ID);
        out.put_u16(64);
        out.put_u16(self.credit_charge);
        out.put_u32(self.status);
        out.put_u16(self.command);
        out.put_u16(self.credits);
        out.put_u32(self.flags);
        out.put_u32(self.next_command);
        out.put_u64(self.message_id);
        if self.is_async() {
            out.put_u64(self.async_id);
        } else {
            out.put_u32(0);
            out.put_u32(self.tree_id);
        }
        out.put_u64(self.session_id);
        out.extend_from_slice(&self.signature);
    }

    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }
    pub fn is_related(&self) -> bool {
        self.flags & flags::RELATED_OPERATIONS != 0
    }
    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }
    pub fn status(&self) -> NtStatus {
        NtStatus(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_sync_and_async() {
        for flags in [0, flags::ASYNC_COMMAND | flags::SERVER_TO_REDIR] {
            let h = Header {
                credit_charge: 1,
                status: 0x103,
                command: 5,
                credits: 31,
                flags,
                next_command: 0,
                message_id: 77,
                async_id: if flags != 0 { 9 } else { 0 },
                tree_id: if flags != 0 { 0 } else { 3 },
                session_id: 0x1122,
                signature: [7; 16],
            };
            let mut v = Vec::new();
            h.encode(&mut v);
            assert_eq!(v.len(), HEADER_LEN);
            assert_eq!(Header::decode(&v).unwrap(), h);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(Header::decode(&[0xFE, b'S', b'M', b'B', 64, 0]).is_err());
        assert_eq!(Header::decode(&[0xFF, b'S', b'M', b'B']).unwrap_err(), WireError::BadProtocolId);
        assert_eq!(Command::from_u16(0x12), Some(Command::OplockBreak));
        assert_eq!(Command::from_u16(0x13), None);
    }
}
