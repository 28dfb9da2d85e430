//! CREATE (MS-SMB2 2.2.13, 2.2.14) and create contexts (2.2.13.2, 2.2.14.2).

use crate::cursor::{slice_at, utf16le, Put, Reader};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;
use opportune_types::FileId;

/// Create context names (MS-SMB2 2.2.13.2).
pub mod context_name {
    pub const EA_BUFFER: &[u8] = b"ExtA";
    pub const SD_BUFFER: &[u8] = b"SecD";
    pub const DURABLE_HANDLE_REQUEST: &[u8] = b"DHnQ";
    pub const DURABLE_HANDLE_RECONNECT: &[u8] = b"DHnC";
    pub const ALLOCATION_SIZE: &[u8] = b"AlSi";
    pub const QUERY_MAXIMAL_ACCESS: &[u8] = b"MxAc";
    pub const TIMEWARP_TOKEN: &[u8] = b"TWrp";
    pub const QUERY_ON_DISK_ID: &[u8] = b"QFid";
    pub const REQUEST_LEASE: &[u8] = b"RqLs";
    pub const DURABLE_HANDLE_REQUEST_V2: &[u8] = b"DH2Q";
    pub const DURABLE_HANDLE_RECONNECT_V2: &[u8] = b"DH2C";
    pub const APP_INSTANCE_ID: &[u8] = &[
        0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D, 0x74,
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateContext<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    pub security_flags: u8,
    pub oplock_level: u8,
    pub impersonation_level: u32,
    pub create_flags: u64,
    pub desired_access: u32,
    pub file_attributes: u32,
    pub share_access: u32,
    pub create_disposition: u32,
    pub create_options: u32,
    pub name: String,
    pub contexts: Vec<CreateContext<'a>>,
}

impl<'a> CreateRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(57)?;
        let security_flags = r.u8()?;
        let oplock_level = r.u8()?;
        let impersonation_level = r.u32()?;
        let create_flags = r.u64()?;
        r.skip(8)?;
        let desired_access = r.u32()?;
        let file_attributes = r.u32()?;
        let share_access = r.u32()?;
        let create_disposition = r.u32()?;
        let create_options = r.u32()?;
        let name_off = usize::from(r.u16()?);
        let name_len = usize::from(r.u16()?);
        let ctx_off = r.u32()? as usize;
        let ctx_len = r.u32()? as usize;
        let name = utf16le(slice_at(msg, name_off, name_len)?)?;
        let contexts = decode_contexts(slice_at(msg, ctx_off, ctx_len)?)?;
        Ok(CreateRequest {
            security_flags,
            oplock_level,
            impersonation_level,
            create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            contexts,
        })
    }

    pub fn context(&self, name: &[u8]) -> Option<&CreateContext<'a>> {
        self.contexts.iter().find(|c| c.name == name)
    }
}

/// Walks a chain of create contexts; offsets inside each are relative to its start.
pub fn decode_contexts(buf: &[u8]) -> Result<Vec<CreateContext<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let mut r = Reader::new(buf, pos);
        let next = r.u32()? as usize;
        let name_off = usize::from(r.u16()?);
        let name_len = usize::from(r.u16()?);
        r.skip(2)?;
        let data_off = usize::from(r.u16()?);
        let data_len = r.u32()? as usize;
        let name = slice_at(buf, pos + name_off, name_len)?;
        let data = slice_at(buf, pos + data_off, data_len)?;
        if name.is_empty() {
            return Err(WireError::Invalid("create context without name"));
        }
        out.push(CreateContext { name, data });
        if next == 0 {
            break;
        }
        if !next.is_multiple_of(8) || next < 16 {
            return Err(WireError::Invalid("create context chain"));
        }
        pos = pos.checked_add(next).ok_or(WireError::Invalid("create context chain"))?;
        if pos >= buf.len() {
            return Err(WireError::Invalid("create context chain"));
        }
    }
    Ok(out)
}

/// Encodes a context chain; each context 8-byte aligned, Next patched.
pub fn encode_contexts(contexts: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev: Option<usize> = None;
    for (name, data) in contexts {
        out.pad_to(8);
        let start = out.len();
        if let Some(p) = prev {
            crate::cursor::patch_u32(&mut out, p, (start - p) as u32);
        }
        prev = Some(start);
        let data_off = if data.is_empty() { 0 } else { (16 + name.len()).next_multiple_of(8) };
        out.put_u32(0);
        out.put_u16(16);
        out.put_u16(name.len() as u16);
        out.put_u16(0);
        out.put_u16(data_off as u16);
        out.put_u32(data.len() as u32);
        out.extend_from_slice(name);
        if !data.is_empty() {
            out.pad_to(8);
            out.extend_from_slice(data);
        }
    }
    out
}

#[derive(Clone, Debug, Default)]
pub struct CreateResponse {
    pub oplock_level: u8,
    pub flags: u8,
    pub create_action: u32,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub file_attributes: u32,
    pub file_id: FileId,
    /// Already encoded with `encode_contexts`.
    pub contexts: Vec<u8>,
}

impl CreateResponse {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(89);
        out.put_u8(self.oplock_level);
        out.put_u8(self.flags);
        out.put_u32(self.create_action);
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.file_attributes);
        out.put_u32(0);
        out.put_u64(self.file_id.persistent);
        out.put_u64(self.file_id.volatile);
        if self.contexts.is_empty() {
            out.put_u32(0);
            out.put_u32(0);
            out.push(0);
        } else {
            out.put_u32((HEADER_LEN + 88) as u32);
            out.put_u32(self.contexts.len() as u32);
            out.extend_from_slice(&self.contexts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_chain_round_trip() {
        let enc = encode_contexts(&[(b"MxAc", vec![]), (b"QFid", vec![1, 2, 3]), (b"RqLs", vec![9; 32])]);
        let dec = decode_contexts(&enc).unwrap();
        assert_eq!(dec.len(), 3);
        assert_eq!(dec[1].name, b"QFid");
        assert_eq!(dec[1].data, &[1, 2, 3]);
        assert_eq!(dec[2].data.len(), 32);
        for len in 0..enc.len() {
            let _ = decode_contexts(&enc[..len]);
        }
    }

    #[test]
    fn rejects_looping_chain() {
        let mut enc = encode_contexts(&[(b"MxAc", vec![])]);
        crate::cursor::patch_u32(&mut enc, 0, 8);
        enc.extend_from_slice(&[0; 16]);
        assert!(decode_contexts(&enc).is_err());
    }
}

/// SMB2_CREATE_REQUEST_LEASE (v1, 32 bytes) or _V2 (52 bytes) (MS-SMB2 2.2.13.2.8, 2.2.13.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseContext {
    pub key: [u8; 16],
    pub state: u32,
    pub flags: u32,
    /// Present in v2 only.
    pub parent: Option<[u8; 16]>,
    pub epoch: Option<u16>,
}

pub const LEASE_FLAG_BREAK_IN_PROGRESS: u32 = 0x02;
pub const LEASE_FLAG_PARENT_LEASE_KEY_SET: u32 = 0x04;

impl LeaseContext {
    pub fn decode(data: &[u8]) -> Result<LeaseContext> {
        let mut r = Reader::new(data, 0);
        let key = r.array::<16>()?;
        let state = r.u32()?;
        let flags = r.u32()?;
        r.skip(8)?;
        if data.len() < 52 {
            return Ok(LeaseContext { key, state, flags, parent: None, epoch: None });
        }
        let parent = r.array::<16>()?;
        let epoch = r.u16()?;
        let parent = (flags & LEASE_FLAG_PARENT_LEASE_KEY_SET != 0).then_some(parent);
        Ok(LeaseContext { key, state, flags, parent, epoch: Some(epoch) })
    }

    /// The response context body: v2 when `epoch` is set.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(52);
        v.extend_from_slice(&self.key);
        v.put_u32(self.state);
        v.put_u32(self.flags);
        v.put_u64(0);
        if let Some(epoch) = self.epoch {
            v.extend_from_slice(&self.parent.unwrap_or([0; 16]));
            v.put_u16(epoch);
            v.put_u16(0);
        }
        v
    }
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    #[test]
    fn lease_contexts_round_trip() {
        let v1 = LeaseContext { key: [1; 16], state: 7, flags: 0, parent: None, epoch: None };
        assert_eq!(LeaseContext::decode(&v1.encode()).unwrap(), v1);
        let v2 = LeaseContext { key: [2; 16], state: 5, flags: LEASE_FLAG_PARENT_LEASE_KEY_SET, parent: Some([3; 16]), epoch: Some(9) };
        assert_eq!(LeaseContext::decode(&v2.encode()).unwrap(), v2);
        assert!(LeaseContext::decode(&[0; 31]).is_err());
    }
}
