//! File information classes for QUERY_INFO (MS-FSCC 2.4, MS-FSA 2.1.5.12).

use super::info::Info;
use crate::meta::file_meta;
use crate::open::Open;
use crate::server::ServerState;
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::cursor::{utf16_len, Put};
use opportune_wire::fscc::{class, FileMeta};
use opportune_wire::negotiate::dialect::SMB311;

/// The fixed parts of the variable-length classes (see the parent module).
const MIN_ALL: usize = 104;
const MIN_NAME: usize = 8;
const MIN_STREAM: usize = 32;

/// Current metadata; DeletePending is the file's (MS-FSA 2.1.5.12.27), and a
/// file pending deletion counts one link less, the one that will go.
fn meta(open: &Open, server: &ServerState) -> Result<FileMeta, NtStatus> {
    let info = open.handle.info()?;
    let pending = open.delete_on_close || server.locks.is_delete_pending(&info);
    let mut m = file_meta(&info, pending);
    if pending {
        m.nlink = m.nlink.saturating_sub(1);
    }
    Ok(m)
}

fn need(open: &Open, right: u32) -> Result<(), NtStatus> {
    if open.has_access(right) { Ok(()) } else { Err(NtStatus::ACCESS_DENIED) }
}

/// The object's name now (a host program may have renamed it since it was opened), or
/// the one recorded when it has none in the share any more.
fn current_name(open: &Open) -> String {
    open.handle.current_rel_path().ok().flatten().unwrap_or_else(|| open.handle.rel_path())
}

/// The name as FileAllInformation reports it: from the share root, with a leading backslash.
fn full_name(open: &Open) -> String {
    format!("\\{}", current_name(open).replace('/', "\\"))
}

/// FILE_NAME_INFORMATION (MS-FSCC 2.4.27) holding `name`.
fn name_info(name: &str) -> Info {
    let mut d = Vec::with_capacity(4 + 2 * name.len());
    d.put_u32(utf16_len(name) as u32);
    d.put_utf16(name);
    Info { data: d, min: MIN_NAME }
}

/// FileEaInformation.EaSize (MS-FSCC 2.4.13): the size of the file's EAs as a
/// FILE_FULL_EA_INFORMATION list, 0 without EAs.
pub(super) fn ea_size(open: &Open) -> Result<u32, NtStatus> {
    let eas = open.handle.eas()?;
    Ok(crate::meta::ea_size(&eas))
}

/// FILE_STREAM_INFORMATION entries (MS-FSCC 2.4.44, MS-FSA 2.1.5.12.?): a file's
/// unnamed data stream "::$DATA" first (directories have none), then ":name:$DATA"
/// for each named stream, of the file itself also when asked through a stream open.
/// Entries start 8-byte aligned; NextEntryOffset is 0 in the last.
fn stream_info(open: &Open) -> Result<Vec<u8>, NtStatus> {
    let base = open.handle.base_info()?;
    let named = open.handle.streams()?;
    let mut entries: Vec<(String, u64, u64)> = Vec::with_capacity(named.len() + 1);
    if !base.is_dir {
        entries.push(("::$DATA".to_string(), base.size, base.allocation_size));
    }
    entries.extend(named.into_iter().map(|(n, size, alloc)| (format!(":{n}:$DATA"), size, alloc)));
    let mut d = Vec::with_capacity(64 * entries.len());
    let mut last_start = None;
    for (name, size, alloc) in &entries {
        if let Some(prev) = last_start {
            let start = d.len().next_multiple_of(8);
            d.resize(start, 0);
            let next = (start - prev) as u32;
            d[prev..prev + 4].copy_from_slice(&next.to_le_bytes());
        }
        last_start = Some(d.len());
        d.put_u32(0);
        d.put_u32(utf16_len(name) as u32);
        d.put_u64(*size);
        d.put_u64(*alloc);
        d.put_utf16(name);
    }
    Ok(d)
}

pub(super) fn query(open: &Open, server: &ServerState, dialect: u16, c: u8) -> Result<Info, NtStatus> {
    let mut d = Vec::with_capacity(128);
    match c {
        class::BASIC => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            meta(open, server)?.put_basic(&mut d);
        }
        class::STANDARD => meta(open, server)?.put_standard(&mut d),
        class::INTERNAL => d.put_u64(meta(open, server)?.file_id),
        class::EA => d.put_u32(ea_size(open)?),
        class::ACCESS => d.put_u32(open.access.0),
        class::POSITION => d.put_u64(open.position),
        class::MODE => d.put_u32(open.mode),
        class::ALIGNMENT => d.put_u32(0),
        class::ALL => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            let m = meta(open, server)?;
            m.put_basic(&mut d);
            m.put_standard(&mut d);
            d.put_u64(m.file_id);
            d.put_u32(ea_size(open)?);
            d.put_u32(open.access.0);
            d.put_u64(open.position);
            d.put_u32(open.mode);
            d.put_u32(0);
            let name = full_name(open);
            d.put_u32(utf16_len(&name) as u32);
            d.put_utf16(&name);
            return Ok(Info { data: d, min: MIN_ALL });
        }
        class::NETWORK_OPEN => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            meta(open, server)?.put_network_open(&mut d);
        }
        class::ATTRIBUTE_TAG => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            d.put_u32(meta(open, server)?.attributes);
            d.put_u32(0);
        }
        class::STREAM => return Ok(Info { data: stream_info(open)?, min: MIN_STREAM }),
        class::COMPRESSION => {
            d.put_u64(meta(open, server)?.end_of_file);
            d.extend_from_slice(&[0u8; 8]);
        }
        class::ID => {
            // FILE_ID_INFORMATION (MS-FSCC 2.4.46): VolumeSerialNumber, then a 128-bit FileId.
            let info = open.handle.info()?;
            d.put_u64(info.dev);
            d.put_u64(info.file_id);
            d.put_u64(0);
        }
        class::ALTERNATE_NAME => {
            // FileAlternateNameInformation (MS-FSCC 2.4.5): the 8.3 name of the last component.
            let rel = current_name(open);
            // A stream open ("base:name") answers for its base file.
            let last = rel.rsplit('/').next().unwrap_or("").split(':').next().unwrap_or("");
            let short = opportune_fs::short_name(last).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
            return Ok(name_info(&short));
        }
        class::NORMALIZED_NAME => {
            // MS-SMB2 3.3.5.20.1: SMB 3.1.1 only. The on-disk (normalized) path
            // from the share root, without a leading backslash; empty for the root.
            if dialect < SMB311 {
                return Err(NtStatus::NOT_SUPPORTED);
            }
            return Ok(name_info(&current_name(open).replace('/', "\\")));
        }
        _ => return Err(NtStatus::INVALID_INFO_CLASS),
    }
    Ok(Info::fixed(d))
}
