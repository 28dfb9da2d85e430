//! SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6) and LOGOFF (2.2.7, 2.2.8).

use crate::cursor::{slice_at, Put, Reader};
use crate::error::Result;
use crate::header::HEADER_LEN;

pub const FLAG_BINDING: u8 = 0x01;

pub mod session_flags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    pub flags: u8,
    pub security_mode: u8,
    pub capabilities: u32,
    pub previous_session_id: u64,
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(25)?;
        let flags = r.u8()?;
        let security_mode = r.u8()?;
        let capabilities = r.u32()?;
        r.skip(4)?;
        let off = usize::from(r.u16()?);
        let len = usize::from(r.u16()?);
        let previous_session_id = r.u64()?;
        let security_buffer = slice_at(msg, off, len)?;
        Ok(SessionSetupRequest { flags, security_mode, capabilities, previous_session_id, security_buffer })
    }
}

pub struct SessionSetupResponse<'a> {
    pub session_flags: u16,
    pub security_buffer: &'a [u8],
}

impl SessionSetupResponse<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(9);
        out.put_u16(self.session_flags);
        out.put_u16((HEADER_LEN + 8) as u16);
        out.put_u16(self.security_buffer.len() as u16);
        if self.security_buffer.is_empty() {
            out.push(0);
        } else {
            out.extend_from_slice(self.security_buffer);
        }
    }
}

/// Bodies that are only StructureSize 4 and a reserved u16: LOGOFF, TREE_DISCONNECT,
/// ECHO, CANCEL requests and several responses.
pub fn decode_empty(msg: &[u8]) -> Result<()> {
    let mut r = Reader::new(msg, HEADER_LEN);
    r.structure_size(4)?;
    r.skip(2)
}

pub fn encode_empty(out: &mut Vec<u8>) {
    out.put_u16(4);
    out.put_u16(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_setup_buffer_is_checked() {
        let mut m = vec![0u8; HEADER_LEN];
        m.put_u16(25);
        m.put_u8(0);
        m.put_u8(1);
        m.put_u32(0);
        m.put_u32(0);
        m.put_u16(88);
        m.put_u16(4);
        m.put_u64(0);
        m.extend_from_slice(b"NTLM");
        let s = SessionSetupRequest::decode(&m).unwrap();
        assert_eq!(s.security_buffer, b"NTLM");
        m.truncate(m.len() - 1);
        assert!(SessionSetupRequest::decode(&m).is_err());
    }
}
