//! OPLOCK_BREAK notification, acknowledgment and response; lease break notification,
//! acknowledgment and response (MS-SMB2 2.2.23–2.2.25).

use crate::cursor::{Put, Reader};
use crate::error::{Result, WireError};
use crate::file_ops::{file_id, put_file_id};
use crate::header::HEADER_LEN;
use opportune_types::FileId;

/// The oplock break body: notification, acknowledgment and response share it.
pub fn encode_oplock_break(out: &mut Vec<u8>, level: u8, id: FileId) {
    out.put_u16(24);
    out.put_u8(level);
    out.put_u8(0);
    out.put_u32(0);
    put_file_id(out, id);
}

pub const LEASE_BREAK_FLAG_ACK_REQUIRED: u32 = 0x1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseBreakNotification {
    pub new_epoch: u16,
    pub flags: u32,
    pub lease_key: [u8; 16],
    pub current_state: u32,
    pub new_state: u32,
}

impl LeaseBreakNotification {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(44);
        out.put_u16(self.new_epoch);
        out.put_u32(self.flags);
        out.extend_from_slice(&self.lease_key);
        out.put_u32(self.current_state);
        out.put_u32(self.new_state);
        out.put_u32(0);
        out.put_u32(0);
        out.put_u32(0);
    }
}

/// What a client sends with command OPLOCK_BREAK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakAck {
    Oplock { level: u8, file_id: FileId },
    Lease { lease_key: [u8; 16], state: u32 },
}

impl BreakAck {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        match r.u16()? {
            24 => {
                let level = r.u8()?;
                r.skip(5)?;
                Ok(BreakAck::Oplock { level, file_id: file_id(&mut r)? })
            }
            36 => {
                r.skip(6)?;
                let lease_key = r.array::<16>()?;
                let state = r.u32()?;
                r.skip(8)?;
                Ok(BreakAck::Lease { lease_key, state })
            }
            found => Err(WireError::StructureSize { expected: 24, found }),
        }
    }
}

pub fn encode_lease_break_response(out: &mut Vec<u8>, lease_key: [u8; 16], state: u32) {
    out.put_u16(36);
    out.put_u16(0);
    out.put_u32(0);
    out.extend_from_slice(&lease_key);
    out.put_u32(state);
    out.put_u64(0);
}
