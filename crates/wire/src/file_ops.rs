//! CLOSE, FLUSH, READ, WRITE and LOCK (MS-SMB2 2.2.15–2.2.22, 2.2.26–2.2.27).

use crate::cursor::{slice_at, Put, Reader};
use crate::error::{Result, WireError};
use crate::header::HEADER_LEN;
use opportune_types::FileId;

pub(crate) fn file_id(r: &mut Reader<'_>) -> Result<FileId> {
    Ok(FileId { persistent: r.u64()?, volatile: r.u64()? })
}

pub(crate) fn put_file_id(out: &mut Vec<u8>, id: FileId) {
    out.put_u64(id.persistent);
    out.put_u64(id.volatile);
}

pub const CLOSE_FLAG_POSTQUERY_ATTRIB: u16 = 0x0001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseRequest {
    pub flags: u16,
    pub file_id: FileId,
}

impl CloseRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(24)?;
        let flags = r.u16()?;
        r.skip(4)?;
        Ok(CloseRequest { flags, file_id: file_id(&mut r)? })
    }
}

/// CLOSE response; all zero attributes unless POSTQUERY_ATTRIB was asked.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloseResponse {
    pub flags: u16,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub file_attributes: u32,
}

impl CloseResponse {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(60);
        out.put_u16(self.flags);
        out.put_u32(0);
        for v in [
            self.creation_time,
            self.last_access_time,
            self.last_write_time,
            self.change_time,
            self.allocation_size,
            self.end_of_file,
        ] {
            out.put_u64(v);
        }
        out.put_u32(self.file_attributes);
    }
}

/// FLUSH request (MS-SMB2 2.2.17); the response is the 4-byte empty body.
pub fn decode_flush(msg: &[u8]) -> Result<FileId> {
    let mut r = Reader::new(msg, HEADER_LEN);
    r.structure_size(24)?;
    r.skip(6)?;
    file_id(&mut r)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    pub flags: u8,
    pub length: u32,
    pub offset: u64,
    pub file_id: FileId,
    pub minimum_count: u32,
    pub channel: u32,
}

impl ReadRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(49)?;
        r.skip(1)?;
        let flags = r.u8()?;
        let length = r.u32()?;
        let offset = r.u64()?;
        let file_id = file_id(&mut r)?;
        let minimum_count = r.u32()?;
        let channel = r.u32()?;
        r.skip(8)?;
        Ok(ReadRequest { flags, length, offset, file_id, minimum_count, channel })
    }
}

/// Offset of the data in a READ response: header plus 16 fixed bytes.
pub const READ_DATA_OFFSET: u8 = (HEADER_LEN + 16) as u8;

/// Writes the READ response's fixed part; the caller appends `data_length` bytes.
pub fn encode_read_response_head(out: &mut Vec<u8>, data_length: u32) {
    out.put_u16(17);
    out.put_u8(READ_DATA_OFFSET);
    out.put_u8(0);
    out.put_u32(data_length);
    out.put_u32(0);
    out.put_u32(0);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRequest<'a> {
    pub offset: u64,
    pub file_id: FileId,
    pub channel: u32,
    pub flags: u32,
    pub data: &'a [u8],
}

pub const WRITE_FLAG_WRITE_THROUGH: u32 = 0x1;

impl<'a> WriteRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(49)?;
        let data_off = usize::from(r.u16()?);
        let length = r.u32()? as usize;
        let offset = r.u64()?;
        let file_id = file_id(&mut r)?;
        let channel = r.u32()?;
        r.skip(8)?;
        let flags = r.u32()?;
        let data = slice_at(msg, data_off, length)?;
        Ok(WriteRequest { offset, file_id, channel, flags, data })
    }
}

pub fn encode_write_response(out: &mut Vec<u8>, count: u32) {
    out.put_u16(17);
    out.put_u16(0);
    out.put_u32(count);
    out.put_u32(0);
    out.put_u32(0);
}

pub mod lock_flags {
    pub const SHARED: u32 = 0x1;
    pub const EXCLUSIVE: u32 = 0x2;
    pub const UNLOCK: u32 = 0x4;
    pub const FAIL_IMMEDIATELY: u32 = 0x10;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockElement {
    pub offset: u64,
    pub length: u64,
    pub flags: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRequest {
    /// LockSequenceNumber (4 bits) and LockSequenceIndex (28 bits), MS-SMB2 2.2.26.
    pub lock_sequence: u32,
    pub file_id: FileId,
    pub locks: Vec<LockElement>,
}

impl LockRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(48)?;
        let count = usize::from(r.u16()?);
        let lock_sequence = r.u32()?;
        let file_id = file_id(&mut r)?;
        if count == 0 {
            return Err(WireError::Invalid("lock count 0"));
        }
        let mut locks = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let offset = r.u64()?;
            let length = r.u64()?;
            let flags = r.u32()?;
            r.skip(4)?;
            locks.push(LockElement { offset, length, flags });
        }
        Ok(LockRequest { lock_sequence, file_id, locks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_data_bounds() {
        let mut m = vec![0u8; HEADER_LEN];
        m.put_u16(49);
        m.put_u16(112);
        m.put_u32(4);
        m.put_u64(10);
        m.put_u64(1);
        m.put_u64(2);
        m.put_u32(0);
        m.put_u32(0);
        m.put_u32(0);
        m.put_u32(0);
        m.extend_from_slice(b"data");
        let w = WriteRequest::decode(&m).unwrap();
        assert_eq!((w.data, w.offset, w.file_id.volatile), (&b"data"[..], 10, 2));
        for len in 0..m.len() {
            assert!(WriteRequest::decode(&m[..len]).is_err());
        }
    }
}
