//! wkssvc (MS-WKST): NetrWkstaGetInfo (3.2.4.1) at levels 100 and 101.

use super::{unique_wstring, ERROR_INVALID_LEVEL, NO_ERROR, OS_VERSION, PLATFORM_ID_NT};
use crate::ndr::{NdrError, Reader, Writer};
use crate::provider::Provider;

pub const NETR_WKSTA_GET_INFO: u16 = 0;

pub fn call(opnum: u16, mut r: Reader<'_>, p: &dyn Provider) -> Result<Option<Vec<u8>>, NdrError> {
    match opnum {
        NETR_WKSTA_GET_INFO => wksta_get_info(&mut r, p).map(Some),
        _ => Ok(None),
    }
}

/// NetrWkstaGetInfo: ServerName, Level; out: the WKSTA_INFO union. Level 100
/// (WKSTA_INFO_100, MS-WKST 2.2.5.1): platform, computer name, LAN group, version;
/// 101 (2.2.5.2) adds the LAN root.
fn wksta_get_info(r: &mut Reader<'_>, p: &dyn Provider) -> Result<Vec<u8>, NdrError> {
    unique_wstring(r)?;
    let level = r.u32()?;
    let mut w = Writer::new();
    w.u32(level);
    if level != 100 && level != 101 {
        w.pointer(false);
        w.u32(ERROR_INVALID_LEVEL);
        return Ok(w.buf);
    }
    w.pointer(true);
    w.u32(PLATFORM_ID_NT);
    w.pointer(true);
    w.pointer(true);
    w.u32(OS_VERSION.0);
    w.u32(OS_VERSION.1);
    if level == 101 {
        w.pointer(true);
    }
    w.wstring(&p.server_name());
    w.wstring(&p.workgroup());
    if level == 101 {
        w.wstring("C:\\");
    }
    w.u32(NO_ERROR);
    Ok(w.buf)
}
