//! TREE_CONNECT (MS-SMB2 2.2.9, 2.2.10).

use crate::cursor::{slice_at, utf16le, Put, Reader};
use crate::error::Result;
use crate::header::HEADER_LEN;

pub const SHARE_TYPE_DISK: u8 = 0x01;
pub const SHARE_TYPE_PIPE: u8 = 0x02;

pub mod share_flags {
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    pub const NO_CACHING: u32 = 0x0000_0030;
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest {
    pub flags: u16,
    /// `\\server\share` as sent.
    pub path: String,
}

impl TreeConnectRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(9)?;
        let flags = r.u16()?;
        let off = usize::from(r.u16()?);
        let len = usize::from(r.u16()?);
        let path = utf16le(slice_at(msg, off, len)?)?;
        Ok(TreeConnectRequest { flags, path })
    }

    /// The share name: the last component of the UNC path.
    pub fn share_name(&self) -> &str {
        self.path.rsplit('\\').next().unwrap_or("")
    }
}

pub struct TreeConnectResponse {
    pub share_type: u8,
    pub share_flags: u32,
    pub capabilities: u32,
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(16);
        out.put_u8(self.share_type);
        out.put_u8(0);
        out.put_u32(self.share_flags);
        out.put_u32(self.capabilities);
        out.put_u32(self.maximal_access);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_name() {
        let mut m = vec![0u8; HEADER_LEN];
        m.put_u16(9);
        m.put_u16(0);
        m.put_u16(72);
        let p = "\\\\127.0.0.1\\Share";
        m.put_u16((p.len() * 2) as u16);
        m.put_utf16(p);
        let t = TreeConnectRequest::decode(&m).unwrap();
        assert_eq!(t.share_name(), "Share");
    }
}
