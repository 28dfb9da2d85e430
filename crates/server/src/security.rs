//! A synthesized self-relative security descriptor (MS-DTYP 2.4.6): the share's files
//! are owned by the server's identity and Everyone has full access. POSIX permissions
//! and the share's read-only flag are what actually decide access.

use opportune_wire::cursor::Put;

pub const OWNER_SECURITY_INFORMATION: u32 = 0x1;
pub const GROUP_SECURITY_INFORMATION: u32 = 0x2;
pub const DACL_SECURITY_INFORMATION: u32 = 0x4;
pub const SACL_SECURITY_INFORMATION: u32 = 0x8;

const SE_DACL_PRESENT: u16 = 0x0004;
const SE_SELF_RELATIVE: u16 = 0x8000;

/// S-1-5-32-544 (BUILTIN\Administrators).
fn sid_administrators(out: &mut Vec<u8>) {
    out.extend_from_slice(&[1, 2, 0, 0, 0, 0, 0, 5]);
    out.put_u32(32);
    out.put_u32(544);
}

/// S-1-1-0 (Everyone).
fn sid_everyone(out: &mut Vec<u8>) {
    out.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 1]);
    out.put_u32(0);
}

/// The descriptor with the parts `additional` asks for.
pub fn descriptor(additional: u32) -> Vec<u8> {
    let mut body = Vec::new();
    let mut owner = 0u32;
    let mut group = 0u32;
    let mut dacl = 0u32;
    let mut control = SE_SELF_RELATIVE;
    if additional & OWNER_SECURITY_INFORMATION != 0 {
        owner = 20 + body.len() as u32;
        sid_administrators(&mut body);
    }
    if additional & GROUP_SECURITY_INFORMATION != 0 {
        group = 20 + body.len() as u32;
        sid_administrators(&mut body);
    }
    if additional & DACL_SECURITY_INFORMATION != 0 {
        control |= SE_DACL_PRESENT;
        dacl = 20 + body.len() as u32;
        // ACL header (8) + one ACCESS_ALLOWED ACE (8 + SID of 12).
        let ace_len: u16 = 8 + 12;
        body.put_u8(2);
        body.put_u8(0);
        body.put_u16(8 + ace_len);
        body.put_u16(1);
        body.put_u16(0);
        body.put_u8(0);
        body.put_u8(0x3);
        body.put_u16(ace_len);
        body.put_u32(0x001F_01FF);
        sid_everyone(&mut body);
    }
    let mut out = Vec::with_capacity(20 + body.len());
    out.put_u8(1);
    out.put_u8(0);
    out.put_u16(control);
    out.put_u32(owner);
    out.put_u32(group);
    out.put_u32(0);
    out.put_u32(dacl);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_inside() {
        let sd = descriptor(0x7);
        let owner = u32::from_le_bytes(sd[4..8].try_into().unwrap()) as usize;
        let dacl = u32::from_le_bytes(sd[16..20].try_into().unwrap()) as usize;
        assert_eq!(sd[owner], 1);
        assert_eq!(sd[dacl], 2);
        assert_eq!(descriptor(0).len(), 20);
    }
}
