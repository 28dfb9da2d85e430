//! Durable handle create contexts (MS-SMB2 2.2.13.2.3–2.2.13.2.5, 2.2.13.2.11–2.2.13.2.12,
//! 2.2.14.2.3–2.2.14.2.4, 2.2.14.2.12).

use crate::cursor::{Put, Reader};
use crate::error::Result;
use opportune_types::FileId;

/// SMB2_DHANDLE_FLAG_PERSISTENT (MS-SMB2 2.2.13.2.11).
pub const FLAG_PERSISTENT: u32 = 0x0000_0002;

/// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 ("DH2Q"): 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurableV2Request {
    /// Milliseconds the server keeps the open after a disconnect; 0: the server decides.
    pub timeout: u32,
    pub flags: u32,
    pub create_guid: [u8; 16],
}

impl DurableV2Request {
    pub fn decode(data: &[u8]) -> Result<DurableV2Request> {
        let mut r = Reader::new(data, 0);
        let timeout = r.u32()?;
        let flags = r.u32()?;
        r.skip(8)?;
        let create_guid = r.array::<16>()?;
        Ok(DurableV2Request { timeout, flags, create_guid })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT ("DHnC"): the FileId of the open, 16 bytes.
pub fn decode_reconnect_v1(data: &[u8]) -> Result<FileId> {
    let mut r = Reader::new(data, 0);
    Ok(FileId { persistent: r.u64()?, volatile: r.u64()? })
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 ("DH2C"): 36 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurableV2Reconnect {
    pub file_id: FileId,
    pub create_guid: [u8; 16],
    pub flags: u32,
}

impl DurableV2Reconnect {
    pub fn decode(data: &[u8]) -> Result<DurableV2Reconnect> {
        let mut r = Reader::new(data, 0);
        let file_id = FileId { persistent: r.u64()?, volatile: r.u64()? };
        let create_guid = r.array::<16>()?;
        let flags = r.u32()?;
        Ok(DurableV2Reconnect { file_id, create_guid, flags })
    }
}

/// The SMB2_CREATE_DURABLE_HANDLE_RESPONSE body: 8 reserved bytes.
pub fn encode_response_v1() -> Vec<u8> {
    vec![0; 8]
}

/// The SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 body: Timeout and Flags.
pub fn encode_response_v2(timeout: u32, flags: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(8);
    v.put_u32(timeout);
    v.put_u32(flags);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_decode_and_short_ones_fail() {
        let mut q = Vec::new();
        q.put_u32(300_000);
        q.put_u32(FLAG_PERSISTENT);
        q.put_u64(0);
        q.extend_from_slice(&[7; 16]);
        assert_eq!(
            DurableV2Request::decode(&q).unwrap(),
            DurableV2Request { timeout: 300_000, flags: FLAG_PERSISTENT, create_guid: [7; 16] }
        );
        assert!(DurableV2Request::decode(&q[..31]).is_err());
        let mut c = Vec::new();
        c.put_u64(5);
        c.put_u64(6);
        assert_eq!(decode_reconnect_v1(&c).unwrap(), FileId { persistent: 5, volatile: 6 });
        assert!(decode_reconnect_v1(&c[..15]).is_err());
        c.extend_from_slice(&[9; 16]);
        c.put_u32(0);
        let r = DurableV2Reconnect::decode(&c).unwrap();
        assert_eq!((r.file_id.volatile, r.create_guid, r.flags), (6, [9; 16], 0));
        assert!(DurableV2Reconnect::decode(&c[..35]).is_err());
        assert_eq!(encode_response_v2(60_000, 0).len(), 8);
    }
}
