//! QUERY_INFO (MS-SMB2 3.3.5.20): file, file-system and security information.

use super::{Ctx, HResult, Reply};
use crate::meta::file_meta;
use crate::open::Open;
use crate::security;
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::cursor::{utf16_len, Put};
use opportune_wire::fscc::{class, fs_class, FileMeta};
use opportune_wire::query::{encode_buffer_response, info_type, QueryInfoRequest};

/// What a class produced: the bytes, and the smallest prefix that is still meaningful
/// (a shorter output buffer gets INFO_LENGTH_MISMATCH, a longer but short one BUFFER_OVERFLOW).
struct Info {
    data: Vec<u8>,
    min: usize,
}

impl Info {
    fn fixed(data: Vec<u8>) -> Info {
        let min = data.len();
        Info { data, min }
    }
}

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = QueryInfoRequest::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    if req.output_buffer_length > ctx.server.config.max_io_size {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let share_name = ctx.share()?.name.clone();
    let fs = ctx.share()?.fs.clone();
    let open = ctx.open(req.file_id)?;
    let info = match req.info_type {
        info_type::FILE => file_info(open, req.info_class)?,
        info_type::FILESYSTEM => fs_info(open, &fs, &share_name, req.info_class)?,
        info_type::SECURITY => {
            if !open.has_access(AccessMask::READ_CONTROL) {
                return Err(NtStatus::ACCESS_DENIED);
            }
            let sd = security::descriptor(req.additional_information);
            if sd.len() > req.output_buffer_length as usize {
                let mut body = Vec::new();
                opportune_wire::error_response::encode_error_with_data(&mut body, &(sd.len() as u32).to_le_bytes());
                return Ok(Reply::with_status(NtStatus::BUFFER_TOO_SMALL, body));
            }
            Info::fixed(sd)
        }
        info_type::QUOTA => return Err(NtStatus::NOT_SUPPORTED),
        _ => return Err(NtStatus::INVALID_PARAMETER),
    };
    let limit = req.output_buffer_length as usize;
    if limit < info.min {
        return Err(NtStatus::INFO_LENGTH_MISMATCH);
    }
    let (status, data) = if info.data.len() > limit {
        (NtStatus::BUFFER_OVERFLOW, &info.data[..limit])
    } else {
        (NtStatus::SUCCESS, &info.data[..])
    };
    let mut body = Vec::with_capacity(8 + data.len());
    encode_buffer_response(&mut body, data);
    Ok(Reply::with_status(status, body))
}

fn meta(open: &Open) -> Result<FileMeta, NtStatus> {
    let info = open.handle.info().map_err(|e| e.status())?;
    Ok(file_meta(&info, open.delete_on_close))
}

fn need(open: &Open, right: u32) -> Result<(), NtStatus> {
    if open.has_access(right) { Ok(()) } else { Err(NtStatus::ACCESS_DENIED) }
}

/// The name as FileAllInformation reports it: from the share root, with a leading backslash.
fn full_name(open: &Open) -> String {
    format!("\\{}", open.handle.rel_path().replace('/', "\\"))
}

fn file_info(open: &Open, c: u8) -> Result<Info, NtStatus> {
    let mut d = Vec::with_capacity(128);
    match c {
        class::BASIC => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            meta(open)?.put_basic(&mut d);
        }
        class::STANDARD => meta(open)?.put_standard(&mut d),
        class::INTERNAL => d.put_u64(meta(open)?.file_id),
        class::EA => d.put_u32(0),
        class::ACCESS => d.put_u32(open.access.0),
        class::POSITION => d.put_u64(open.position),
        class::MODE => d.put_u32(open.mode),
        class::ALIGNMENT => d.put_u32(0),
        class::ALL => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            let m = meta(open)?;
            m.put_basic(&mut d);
            m.put_standard(&mut d);
            d.put_u64(m.file_id);
            d.put_u32(0);
            d.put_u32(open.access.0);
            d.put_u64(open.position);
            d.put_u32(open.mode);
            d.put_u32(0);
            let name = full_name(open);
            d.put_u32(utf16_len(&name) as u32);
            let min = d.len();
            d.put_utf16(&name);
            return Ok(Info { data: d, min });
        }
        class::NETWORK_OPEN => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            meta(open)?.put_network_open(&mut d);
        }
        class::ATTRIBUTE_TAG => {
            need(open, AccessMask::FILE_READ_ATTRIBUTES)?;
            d.put_u32(meta(open)?.attributes);
            d.put_u32(0);
        }
        class::STREAM => {
            let m = meta(open)?;
            if !m.is_dir {
                let name = "::$DATA";
                d.put_u32(0);
                d.put_u32(utf16_len(name) as u32);
                d.put_u64(m.end_of_file);
                d.put_u64(m.allocation_size);
                d.put_utf16(name);
            }
            return Ok(Info { data: d, min: 0 });
        }
        class::COMPRESSION => {
            d.put_u64(meta(open)?.end_of_file);
            d.extend_from_slice(&[0u8; 8]);
        }
        class::ID => {
            let m = meta(open)?;
            d.put_u64(0);
            d.put_u64(m.file_id);
            d.put_u64(0);
        }
        class::ALTERNATE_NAME => return Err(NtStatus::OBJECT_NAME_NOT_FOUND),
        class::FULL_EA => return Err(NtStatus::NO_EAS_ON_FILE),
        _ => return Err(NtStatus::INVALID_INFO_CLASS),
    }
    Ok(Info::fixed(d))
}

/// FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK (MS-FSCC 2.5.1).
const FS_ATTRIBUTES: u32 = 0x2 | 0x4;
const FS_CASE_SENSITIVE_SEARCH: u32 = 0x1;
/// FILE_DEVICE_DISK and FILE_DEVICE_IS_MOUNTED (MS-FSCC 2.5.10).
const FILE_DEVICE_DISK: u32 = 0x7;
const FILE_DEVICE_IS_MOUNTED: u32 = 0x20;

fn fs_info(open: &Open, fs: &opportune_fs::Share, share_name: &str, c: u8) -> Result<Info, NtStatus> {
    let mut d = Vec::with_capacity(64);
    match c {
        fs_class::VOLUME => {
            let m = meta(open)?;
            let label = share_name;
            d.put_u64(m.creation_time);
            d.put_u32(volume_serial(fs));
            d.put_u32(utf16_len(label) as u32);
            d.put_u8(0);
            d.put_u8(0);
            let min = d.len();
            d.put_utf16(label);
            return Ok(Info { data: d, min });
        }
        fs_class::SIZE | fs_class::FULL_SIZE => {
            let s = fs.statfs().map_err(|e| e.status())?;
            d.put_u64(s.total_units);
            d.put_u64(s.avail_units);
            if c == fs_class::FULL_SIZE {
                d.put_u64(s.free_units);
            }
            d.put_u32(s.sectors_per_unit);
            d.put_u32(s.bytes_per_sector);
        }
        fs_class::DEVICE => {
            d.put_u32(FILE_DEVICE_DISK);
            d.put_u32(FILE_DEVICE_IS_MOUNTED);
        }
        fs_class::ATTRIBUTE => {
            let s = fs.statfs().map_err(|e| e.status())?;
            let case = if fs.case_sensitive() { FS_CASE_SENSITIVE_SEARCH } else { 0 };
            d.put_u32(FS_ATTRIBUTES | case);
            d.put_u32(s.max_name_len);
            let name = "NTFS";
            d.put_u32(utf16_len(name) as u32);
            let min = d.len();
            d.put_utf16(name);
            return Ok(Info { data: d, min });
        }
        fs_class::SECTOR_SIZE => {
            for _ in 0..4 {
                d.put_u32(512);
            }
            d.put_u32(0x3);
            d.put_u32(0);
            d.put_u32(0);
        }
        fs_class::OBJECT_ID => d.extend_from_slice(&[0u8; 64]),
        fs_class::CONTROL | fs_class::LABEL => return Err(NtStatus::NOT_SUPPORTED),
        _ => return Err(NtStatus::INVALID_INFO_CLASS),
    }
    Ok(Info::fixed(d))
}

fn volume_serial(fs: &opportune_fs::Share) -> u32 {
    fs.stat("").map(|i| (i.dev ^ (i.dev >> 32)) as u32).unwrap_or(0)
}
