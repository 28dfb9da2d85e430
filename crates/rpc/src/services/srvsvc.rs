//! srvsvc (MS-SRVS): NetrShareEnum (3.1.4.8), NetrShareEnumSticky (3.1.4.9),
//! NetrShareGetInfo (3.1.4.10), NetrShareCheck (3.1.4.15) and NetrServerGetInfo
//! (3.1.4.17).

use super::{unique_wstring, ERROR_ACCESS_DENIED, ERROR_INVALID_LEVEL, NO_ERROR, OS_VERSION, PLATFORM_ID_NT};
use crate::ndr::{NdrError, Reader, Writer};
use crate::provider::{Provider, ShareEntry};

pub const NETR_SHARE_ENUM: u16 = 15;
pub const NETR_SHARE_GET_INFO: u16 = 16;
pub const NETR_SHARE_ENUM_STICKY: u16 = 36;
pub const NETR_SHARE_CHECK: u16 = 20;
pub const NETR_SERVER_GET_INFO: u16 = 21;

/// NERR_NetNameNotFound (MS-SRVS 3.1.4.10).
pub const NERR_NET_NAME_NOT_FOUND: u32 = 2310;
/// NERR_DeviceNotShared (MS-SRVS 3.1.4.15).
pub const NERR_DEVICE_NOT_SHARED: u32 = 2311;
/// ERROR_MORE_DATA: the listing stops at PreferedMaximumLength (MS-SRVS 3.1.4.8).
pub const ERROR_MORE_DATA: u32 = 234;
/// MAX_PREFERRED_LENGTH: no limit (MS-SRVS 2.2.2.2).
const MAX_PREFERRED_LENGTH: u32 = 0xFFFF_FFFF;
/// SHI_USES_UNLIMITED (MS-SRVS 2.2.4.24).
const USES_UNLIMITED: u32 = 0xFFFF_FFFF;
/// Server types (MS-SRVS 2.2.2.7): workstation, server, NT, NT server.
const SV_TYPE: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_1000 | 0x0000_8000;

pub fn call(opnum: u16, mut r: Reader<'_>, p: &dyn Provider) -> Result<Option<Vec<u8>>, NdrError> {
    match opnum {
        NETR_SHARE_ENUM => share_enum(&mut r, p, false).map(Some),
        NETR_SHARE_ENUM_STICKY => share_enum(&mut r, p, true).map(Some),
        NETR_SHARE_GET_INFO => share_get_info(&mut r, p).map(Some),
        NETR_SERVER_GET_INFO => server_get_info(&mut r, p).map(Some),
        NETR_SHARE_CHECK => share_check(&mut r, p).map(Some),
        _ => Ok(None),
    }
}

/// Levels of SHARE_INFO with their scalar fields, as the SHARE_ENUM_UNION and
/// SHARE_INFO unions have them (MS-SRVS 2.2.3.2, 2.2.3.6).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A `[string] wchar_t*`.
    Str,
    U32,
    /// `[size_is(shi502_reserved)] unsigned char*` (the previous field is its size).
    Bytes,
}

fn fields(level: u32) -> Option<&'static [Field]> {
    use Field::*;
    Some(match level {
        0 => &[Str],
        1 => &[Str, U32, Str],
        2 => &[Str, U32, Str, U32, U32, U32, Str, Str],
        501 => &[Str, U32, Str, U32],
        502 => &[Str, U32, Str, U32, U32, U32, Str, Str, U32, Bytes],
        503 => &[Str, U32, Str, U32, U32, U32, Str, Str, Str, U32, Bytes],
        1005 => &[U32],
        _ => return None,
    })
}

/// Levels this server answers.
fn served(level: u32) -> bool {
    matches!(level, 0 | 1 | 2 | 501 | 502)
}

/// Reads (and discards) an array of `n` SHARE_INFO entries a client sent as input: the
/// scalars of every entry, then each entry's pointees (C706 14.3.12: embedded pointers'
/// referents follow the array).
fn skip_entries(r: &mut Reader<'_>, level: u32) -> Result<(), NdrError> {
    let f = fields(level).ok_or(NdrError::Tag)?;
    let n = r.conformance(4 * f.len())?;
    let mut present = Vec::with_capacity(n as usize * f.len());
    for _ in 0..n {
        for field in f {
            present.push(match field {
                Field::Str | Field::Bytes => r.pointer()?.is_some(),
                Field::U32 => {
                    r.u32()?;
                    false
                }
            });
        }
    }
    for (i, field) in f.iter().cycle().take(present.len()).enumerate() {
        if present[i] {
            match field {
                Field::Str => {
                    r.wstring()?;
                }
                Field::Bytes => {
                    let len = r.conformance(1)?;
                    r.take(len as usize)?;
                }
                Field::U32 => {}
            }
        }
    }
    Ok(())
}

/// NetrShareEnum (opnum 15): ServerName, InfoStruct (level, the union's discriminant,
/// the container), PreferedMaximumLength, ResumeHandle. NetrShareEnumSticky (opnum 36)
/// takes the same and lists only the persistent (configured) shares, not the special
/// ones the server makes itself (IPC$).
fn share_enum(r: &mut Reader<'_>, p: &dyn Provider, sticky: bool) -> Result<Vec<u8>, NdrError> {
    unique_wstring(r)?;
    let level = r.u32()?;
    let switch = r.u32()?;
    if switch != level {
        return Err(NdrError::Tag);
    }
    if fields(level).is_none() || level == 1005 {
        return Err(NdrError::Tag);
    }
    if r.pointer()?.is_some() {
        let _entries = r.u32()?;
        if r.pointer()?.is_some() {
            skip_entries(r, level)?;
        }
    }
    let preferred = r.u32()?;
    let resume = match r.pointer()? {
        Some(_) => Some(r.u32()?),
        None => None,
    };

    let mut w = Writer::new();
    // NetrShareEnumSticky has no level 501 (MS-SRVS 3.1.4.9: levels 0, 1, 2 and 502).
    let status = if !served(level) || (sticky && level == 501) {
        ERROR_INVALID_LEVEL
    } else if matches!(level, 2 | 502) && !p.authenticated() {
        ERROR_ACCESS_DENIED
    } else {
        NO_ERROR
    };
    let mut shares = if status == NO_ERROR { p.shares() } else { Vec::new() };
    if sticky {
        shares.retain(|s| s.stype & crate::provider::stype::SPECIAL == 0);
    }
    let start = resume.unwrap_or(0) as usize;
    let rest = shares.get(start.min(shares.len())..).unwrap_or(&[]);
    let take = fitting(rest, level, preferred);
    let status = if status == NO_ERROR && take < rest.len() { ERROR_MORE_DATA } else { status };
    let listed = &rest[..take];
    w.u32(level);
    w.u32(level);
    if status == NO_ERROR || status == ERROR_MORE_DATA {
        w.pointer(true);
        w.u32(listed.len() as u32);
        w.pointer(!listed.is_empty());
        if !listed.is_empty() {
            w.u32(listed.len() as u32);
            for s in listed {
                scalars(&mut w, level, s);
            }
            for s in listed {
                deferred(&mut w, level, s);
            }
        }
    } else {
        w.pointer(false);
    }
    w.u32(shares.len() as u32);
    w.pointer(resume.is_some());
    if resume.is_some() {
        let next = if status == ERROR_MORE_DATA { (start + take) as u32 } else { 0 };
        w.u32(next);
    }
    w.u32(status);
    Ok(w.buf)
}

/// How many of `shares` fit `preferred` bytes (MS-SRVS 3.1.4.8: at least one is
/// returned; MAX_PREFERRED_LENGTH returns all). The measure is the structure plus
/// its strings in UTF-16.
fn fitting(shares: &[ShareEntry], level: u32, preferred: u32) -> usize {
    if preferred == MAX_PREFERRED_LENGTH {
        return shares.len();
    }
    let mut used = 0usize;
    for (i, s) in shares.iter().enumerate() {
        let strings = |t: &str| 2 * (t.encode_utf16().count() + 1);
        let size = 4 * fields(level).map_or(1, <[Field]>::len)
            + strings(&s.name)
            + strings(&s.comment)
            + if matches!(level, 2 | 502) { strings(&s.path) } else { 0 };
        used += size;
        if used > preferred as usize {
            return i.max(1);
        }
    }
    shares.len()
}

/// The scalar part of one SHARE_INFO_`level` (MS-SRVS 2.2.4.22 - 2.2.4.26).
fn scalars(w: &mut Writer, level: u32, s: &ShareEntry) {
    w.pointer(true);
    if level == 0 {
        return;
    }
    w.u32(s.stype);
    w.pointer(true);
    match level {
        2 | 502 => {
            // Permissions (share-level security is not used), max and current uses, path,
            // no password.
            w.u32(0);
            w.u32(USES_UNLIMITED);
            w.u32(s.current_uses);
            w.pointer(true);
            w.pointer(false);
            if level == 502 {
                // shi502_reserved (the descriptor's size) and no security descriptor.
                w.u32(0);
                w.pointer(false);
            }
        }
        // shi501_flags: the client-side caching flags; manual caching (0).
        501 => w.u32(0),
        _ => {}
    }
}

/// The pointees of one SHARE_INFO_`level`, in field order.
fn deferred(w: &mut Writer, level: u32, s: &ShareEntry) {
    w.wstring(&s.name);
    if level == 0 {
        return;
    }
    w.wstring(&s.comment);
    if matches!(level, 2 | 502) {
        w.wstring(&s.path);
    }
}

/// NetrShareGetInfo (opnum 16): ServerName, NetName (a top-level `[string]` reference),
/// Level; out: the SHARE_INFO union (discriminant, pointer, structure).
fn share_get_info(r: &mut Reader<'_>, p: &dyn Provider) -> Result<Vec<u8>, NdrError> {
    unique_wstring(r)?;
    let name = r.wstring()?;
    let level = r.u32()?;
    let mut w = Writer::new();
    w.u32(level);
    let status = if !served(level) && level != 1005 {
        ERROR_INVALID_LEVEL
    } else if matches!(level, 2 | 502) && !p.authenticated() {
        ERROR_ACCESS_DENIED
    } else {
        match p.shares().into_iter().find(|s| s.name.eq_ignore_ascii_case(&name)) {
            Some(s) => {
                w.pointer(true);
                if level == 1005 {
                    // shi1005_flags: manual caching.
                    w.u32(0);
                } else {
                    scalars(&mut w, level, &s);
                    deferred(&mut w, level, &s);
                }
                NO_ERROR
            }
            None => NERR_NET_NAME_NOT_FOUND,
        }
    };
    if status != NO_ERROR {
        w.pointer(false);
    }
    w.u32(status);
    Ok(w.buf)
}

/// NetrShareCheck (opnum 20): ServerName, Device (a top-level `[string]` reference);
/// out the type of the share whose local path the device is, compared ignoring case,
/// or NERR_DeviceNotShared. IPC$ has the empty path.
fn share_check(r: &mut Reader<'_>, p: &dyn Provider) -> Result<Vec<u8>, NdrError> {
    unique_wstring(r)?;
    let device = r.wstring()?;
    let found = p.shares().into_iter().find(|s| s.path.eq_ignore_ascii_case(&device));
    let mut w = Writer::new();
    w.u32(found.as_ref().map_or(0, |s| s.stype));
    w.u32(if found.is_some() { NO_ERROR } else { NERR_DEVICE_NOT_SHARED });
    Ok(w.buf)
}

/// NetrServerGetInfo (opnum 21): ServerName, Level; out: the SERVER_INFO union
/// (MS-SRVS 2.2.4.40 - 2.2.4.42: levels 100, 101, 102).
fn server_get_info(r: &mut Reader<'_>, p: &dyn Provider) -> Result<Vec<u8>, NdrError> {
    unique_wstring(r)?;
    let level = r.u32()?;
    let mut w = Writer::new();
    w.u32(level);
    if !matches!(level, 100..=102) {
        w.pointer(false);
        w.u32(ERROR_INVALID_LEVEL);
        return Ok(w.buf);
    }
    let name = p.server_name();
    let comment = p.server_comment();
    w.pointer(true);
    w.u32(PLATFORM_ID_NT);
    w.pointer(true);
    if level >= 101 {
        w.u32(OS_VERSION.0);
        w.u32(OS_VERSION.1);
        w.u32(SV_TYPE);
        w.pointer(true);
    }
    if level == 102 {
        // sv102_users (sessions allowed: no limit), disc (autodisconnect: 15 minutes),
        // hidden (no), announce and anndelta (Windows' defaults), licenses, userpath.
        w.u32(USES_UNLIMITED);
        w.u32(15);
        w.u32(0);
        w.u32(240);
        w.u32(3000);
        w.u32(0);
        w.pointer(true);
    }
    w.wstring(&name);
    if level >= 101 {
        w.wstring(&comment);
    }
    if level == 102 {
        w.wstring("c:\\");
    }
    w.u32(NO_ERROR);
    Ok(w.buf)
}
