//! NEGOTIATE (MS-SMB2 2.2.3, 2.2.4) and its negotiate contexts (2.2.3.1).

use crate::cursor::{Put, Reader};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;

pub mod dialect {
    pub const SMB202: u16 = 0x0202;
    pub const SMB210: u16 = 0x0210;
    pub const SMB300: u16 = 0x0300;
    pub const SMB302: u16 = 0x0302;
    pub const SMB311: u16 = 0x0311;
    pub const WILDCARD: u16 = 0x02FF;
}

pub mod capabilities {
    pub const DFS: u32 = 0x01;
    pub const LEASING: u32 = 0x02;
    pub const LARGE_MTU: u32 = 0x04;
    pub const MULTI_CHANNEL: u32 = 0x08;
    pub const PERSISTENT_HANDLES: u32 = 0x10;
    pub const DIRECTORY_LEASING: u32 = 0x20;
    pub const ENCRYPTION: u32 = 0x40;
}

pub mod security_mode {
    pub const SIGNING_ENABLED: u16 = 0x1;
    pub const SIGNING_REQUIRED: u16 = 0x2;
}

pub mod context_type {
    pub const PREAUTH_INTEGRITY: u16 = 0x0001;
    pub const ENCRYPTION: u16 = 0x0002;
    pub const COMPRESSION: u16 = 0x0003;
    pub const NETNAME: u16 = 0x0005;
    pub const TRANSPORT: u16 = 0x0006;
    pub const RDMA_TRANSFORM: u16 = 0x0007;
    pub const SIGNING: u16 = 0x0008;
}

pub const HASH_SHA512: u16 = 0x0001;

/// One negotiate context, undecoded beyond its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateContext<'a> {
    pub context_type: u16,
    pub data: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateRequest<'a> {
    pub security_mode: u16,
    pub capabilities: u32,
    pub client_guid: [u8; 16],
    pub dialects: Vec<u16>,
    pub contexts: Vec<NegotiateContext<'a>>,
}

impl<'a> NegotiateRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(36)?;
        let count = usize::from(r.u16()?);
        let security_mode = r.u16()?;
        r.skip(2)?;
        let capabilities = r.u32()?;
        let client_guid = r.array::<16>()?;
        let ctx_offset = r.u32()? as usize;
        let ctx_count = usize::from(r.u16()?);
        r.skip(2)?;
        if count == 0 {
            return Err(WireError::Invalid("no dialects"));
        }
        let dialects = (0..count).map(|_| r.u16()).collect::<Result<Vec<_>>>()?;
        let contexts = if dialects.contains(&dialect::SMB311) && ctx_count > 0 {
            decode_contexts(msg, ctx_offset, ctx_count)?
        } else {
            Vec::new()
        };
        Ok(NegotiateRequest { security_mode, capabilities, client_guid, dialects, contexts })
    }
}

/// Contexts start at `offset` and each one is 8-byte aligned (MS-SMB2 2.2.3.1).
fn decode_contexts(msg: &[u8], offset: usize, count: usize) -> Result<Vec<NegotiateContext<'_>>> {
    let mut out = Vec::with_capacity(count.min(16));
    let mut pos = offset;
    for i in 0..count {
        if i > 0 {
            pos = pos.checked_add(7).ok_or(WireError::Invalid("context offset"))? & !7;
        }
        let mut r = Reader::new(msg, pos);
        let context_type = r.u16()?;
        let len = usize::from(r.u16()?);
        r.skip(4)?;
        let data = r.bytes(len)?;
        out.push(NegotiateContext { context_type, data });
        pos = r.pos();
    }
    Ok(out)
}

/// Parses a PREAUTH_INTEGRITY_CAPABILITIES context: (hash algorithms, salt).
pub fn parse_preauth(data: &[u8]) -> Result<(Vec<u16>, &[u8])> {
    let mut r = Reader::new(data, 0);
    let n = usize::from(r.u16()?);
    let salt_len = usize::from(r.u16()?);
    if n == 0 {
        return Err(WireError::Invalid("no hash algorithms"));
    }
    let algs = (0..n).map(|_| r.u16()).collect::<Result<Vec<_>>>()?;
    let salt = r.bytes(salt_len)?;
    Ok((algs, salt))
}

/// Parses a context whose body is a u16 count followed by u16 ids (ENCRYPTION, SIGNING).
pub fn parse_id_list(data: &[u8]) -> Result<Vec<u16>> {
    let mut r = Reader::new(data, 0);
    let n = usize::from(r.u16()?);
    if n == 0 {
        return Err(WireError::Invalid("empty id list"));
    }
    (0..n).map(|_| r.u16()).collect()
}

/// Builds one context's data as a count and ids (ENCRYPTION, SIGNING responses).
pub fn id_list(ids: &[u16]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + 2 * ids.len());
    v.put_u16(ids.len() as u16);
    for &id in ids {
        v.put_u16(id);
    }
    v
}

/// Builds a PREAUTH_INTEGRITY_CAPABILITIES context body with SHA-512 and `salt`.
pub fn preauth_context(salt: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(6 + salt.len());
    v.put_u16(1);
    v.put_u16(salt.len() as u16);
    v.put_u16(HASH_SHA512);
    v.extend_from_slice(salt);
    v
}

#[derive(Clone, Debug)]
pub struct NegotiateResponse {
    pub security_mode: u16,
    pub dialect: u16,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    pub system_time: u64,
    pub server_start_time: u64,
    pub security_buffer: Vec<u8>,
    /// (type, data) pairs; only sent for 3.1.1.
    pub contexts: Vec<(u16, Vec<u8>)>,
}

impl NegotiateResponse {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let base = out.len();
        let sec_off = HEADER_LEN + 64;
        out.put_u16(65);
        out.put_u16(self.security_mode);
        out.put_u16(self.dialect);
        out.put_u16(self.contexts.len() as u16);
        out.extend_from_slice(&self.server_guid);
        out.put_u32(self.capabilities);
        out.put_u32(self.max_transact_size);
        out.put_u32(self.max_read_size);
        out.put_u32(self.max_write_size);
        out.put_u64(self.system_time);
        out.put_u64(self.server_start_time);
        out.put_u16(sec_off as u16);
        out.put_u16(self.security_buffer.len() as u16);
        let ctx_off_at = out.len();
        out.put_u32(0);
        out.extend_from_slice(&self.security_buffer);
        if self.contexts.is_empty() {
            if self.security_buffer.is_empty() {
                out.push(0);
            }
            return;
        }
        // Body offsets are relative to the header, which starts HEADER_LEN before `base`.
        let align = |out: &mut Vec<u8>| while !(out.len() - base).is_multiple_of(8) { out.push(0) };
        align(out);
        let ctx_off = (out.len() - base + HEADER_LEN) as u32;
        crate::cursor::patch_u32(out, ctx_off_at, ctx_off);
        for (i, (t, data)) in self.contexts.iter().enumerate() {
            if i > 0 {
                align(out);
            }
            out.put_u16(*t);
            out.put_u16(data.len() as u16);
            out.put_u32(0);
            out.extend_from_slice(data);
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn request(dialects: &[u16], contexts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.put_u16(36);
        m.put_u16(dialects.len() as u16);
        m.put_u16(1);
        m.put_u16(0);
        m.put_u32(0x7f);
        m.extend_from_slice(&[9; 16]);
        let off_at = m.len();
        m.put_u32(0);
        m.put_u16(contexts.len() as u16);
        m.put_u16(0);
        for d in dialects {
            m.put_u16(*d);
        }
        m.pad_to(8);
        let off = m.len() as u32;
        crate::cursor::patch_u32(&mut m, off_at, off);
        for (t, d) in contexts {
            m.pad_to(8);
            m.put_u16(*t);
            m.put_u16(d.len() as u16);
            m.put_u32(0);
            m.extend_from_slice(d);
        }
        m
    }

    #[test]
    fn decodes_contexts() {
        let m = request(
            &[0x202, 0x311],
            &[(1, preauth_context(&[1; 32])), (2, id_list(&[1, 2])), (8, id_list(&[2, 1]))],
        );
        let n = NegotiateRequest::decode(&m).unwrap();
        assert_eq!(n.dialects, vec![0x202, 0x311]);
        assert_eq!(n.contexts.len(), 3);
        let (algs, salt) = parse_preauth(n.contexts[0].data).unwrap();
        assert_eq!((algs, salt.len()), (vec![1], 32));
        assert_eq!(parse_id_list(n.contexts[2].data).unwrap(), vec![2, 1]);
    }

    #[test]
    fn truncations_never_panic() {
        let m = request(&[0x202, 0x311], &[(1, preauth_context(&[1; 32]))]);
        for len in 0..m.len() {
            let _ = NegotiateRequest::decode(&m[..len]);
        }
    }

    #[test]
    fn response_contexts_are_aligned() {
        let r = NegotiateResponse {
            security_mode: 1,
            dialect: 0x311,
            server_guid: [0; 16],
            capabilities: 0,
            max_transact_size: 1,
            max_read_size: 1,
            max_write_size: 1,
            system_time: 0,
            server_start_time: 0,
            security_buffer: vec![1, 2, 3],
            contexts: vec![(1, preauth_context(&[0; 32])), (8, id_list(&[1]))],
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        let off = u32::from_le_bytes(out[60..64].try_into().unwrap()) as usize;
        assert_eq!(off % 8, 0);
        assert_eq!(u16::from_le_bytes([out[off - 64], out[off - 63]]), 1);
    }
}
