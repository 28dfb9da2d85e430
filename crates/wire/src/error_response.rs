//! SMB2 ERROR response body (MS-SMB2 2.2.2).

use crate::cursor::Put;

pub fn encode_error(out: &mut Vec<u8>) {
    out.put_u16(9);
    out.put_u8(0);
    out.put_u8(0);
    out.put_u32(0);
    out.push(0);
}

/// An error response carrying data (e.g. BUFFER_TOO_SMALL's required size, 2.2.2).
pub fn encode_error_with_data(out: &mut Vec<u8>, data: &[u8]) {
    out.put_u16(9);
    out.put_u8(0);
    out.put_u8(0);
    out.put_u32(data.len() as u32);
    if data.is_empty() {
        out.push(0);
    } else {
        out.extend_from_slice(data);
    }
}
