//! File-system information classes for QUERY_INFO (MS-FSCC 2.5, MS-FSA 2.1.5.12).

use super::info::Info;
use opportune_types::NtStatus;
use opportune_wire::cursor::{utf16_len, Put};
use opportune_wire::fscc::fs_class;

/// FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK | FILE_PERSISTENT_ACLS (MS-FSCC 2.5.1):
/// names keep their case and are Unicode; security descriptors set by clients are kept.
const FS_ATTRIBUTES: u32 = 0x2 | 0x4 | 0x8;
const FS_CASE_SENSITIVE_SEARCH: u32 = 0x1;
/// FILE_SUPPORTS_EXTENDED_ATTRIBUTES (MS-FSCC 2.5.1): EAs are kept in an xattr.
const FS_SUPPORTS_EAS: u32 = 0x0080_0000;
/// FILE_VOLUME_QUOTAS (MS-FSCC 2.5.1): the share tracks quotas (clients such as
/// smbcquotas look for it before asking).
const FS_VOLUME_QUOTAS: u32 = 0x20;
/// FILE_DEVICE_DISK and FILE_DEVICE_IS_MOUNTED (MS-FSCC 2.5.10).
const FILE_DEVICE_DISK: u32 = 0x7;
const FILE_DEVICE_IS_MOUNTED: u32 = 0x20;
/// The fixed parts of the variable-length classes (`sizeof` with a one-character
/// name, 8-byte aligned): FileFsVolumeInformation and FileFsAttributeInformation.
const MIN_VOLUME: usize = 24;
const MIN_ATTRIBUTE: usize = 16;

/// FILE_VC_QUOTA_TRACK | FILE_VC_QUOTA_ENFORCE (MS-FSCC 2.5.2): usage is tracked and
/// limits are enforced.
const FILE_VC_QUOTA_ENFORCE: u32 = 0x1 | 0x2;

/// A file-system class for `user` (whose quota caps the sizes reported) on `share`.
pub(super) fn query(share: &crate::share_state::ShareState, user: &opportune_types::Sid, c: u8) -> Result<Info, NtStatus> {
    let (fs, share_name) = (&*share.fs, share.name.as_str());
    let mut d = Vec::with_capacity(64);
    match c {
        fs_class::VOLUME => {
            let root = fs.stat("")?;
            let label = share_name;
            d.put_u64(root.creation_time);
            d.put_u32(volume_serial(fs));
            d.put_u32(utf16_len(label) as u32);
            d.put_u8(0);
            d.put_u8(0);
            d.put_utf16(label);
            return Ok(Info { data: d, min: MIN_VOLUME });
        }
        fs_class::SIZE | fs_class::FULL_SIZE => {
            let mut s = fs.statfs()?;
            if let Some(q) = share.quota.get() {
                quota_space(q, user, &mut s);
            }
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
            let s = fs.statfs()?;
            let case = if fs.case_sensitive() { FS_CASE_SENSITIVE_SEARCH } else { 0 };
            let quotas = if share.quota.get().is_some() { FS_VOLUME_QUOTAS } else { 0 };
            d.put_u32(FS_ATTRIBUTES | FS_SUPPORTS_EAS | case | quotas);
            d.put_u32(s.max_name_len);
            let name = "NTFS";
            d.put_u32(utf16_len(name) as u32);
            d.put_utf16(name);
            return Ok(Info { data: d, min: MIN_ATTRIBUTE });
        }
        fs_class::CONTROL => {
            // FileFsControlInformation (MS-FSCC 2.5.2): no free-space filtering;
            // without quotas no default threshold or limit (-1) and
            // FileSystemControlFlags 0 (FILE_VC_QUOTA_NONE); with them the users'
            // default byte limit as threshold and limit, tracked and enforced.
            let (default, flags) = match share.quota.get() {
                Some(_) => (share.config.quota.user_default.bytes.unwrap_or(u64::MAX), FILE_VC_QUOTA_ENFORCE),
                None => (u64::MAX, 0),
            };
            d.put_u64(0);
            d.put_u64(0);
            d.put_u64(0);
            d.put_u64(default);
            d.put_u64(default);
            d.put_u32(flags);
            d.put_u32(0);
        }
        fs_class::SECTOR_SIZE => {
            // FileFsSectorSizeInformation (MS-FSCC 2.5.7): the logical sector
            // size throughout, aligned device (0x1) and partition (0x2).
            let s = fs.statfs()?;
            for _ in 0..4 {
                d.put_u32(s.bytes_per_sector);
            }
            d.put_u32(0x3);
            d.put_u32(0);
            d.put_u32(0);
        }
        fs_class::OBJECT_ID => {
            // FileFsObjectIdInformation (MS-FSCC 2.5.6): the volume's identity in
            // the ObjectId GUID, no extended info.
            d.put_u64(fs.stat("").map(|i| i.dev).unwrap_or(0));
            d.put_u32(volume_serial(fs));
            d.put_u32(0);
            d.extend_from_slice(&[0u8; 48]);
        }
        // FileFsLabelInformation is set-only (MS-FSCC 2.5.5).
        _ => return Err(NtStatus::INVALID_INFO_CLASS),
    }
    Ok(Info::fixed(d))
}

/// FileFsSizeInformation and FileFsFullSizeInformation under quotas (MS-FSCC 2.5.8,
/// 2.5.4): the total is at most the limit and what is free at most what the limit
/// leaves, so Explorer and `df` on a mount show the user's remaining quota.
fn quota_space(q: &crate::quota::ShareQuota, user: &opportune_types::Sid, s: &mut opportune_fs::FsStats) {
    let unit = u64::from(s.sectors_per_unit.max(1)) * u64::from(s.bytes_per_sector.max(1));
    let (total, left) = q.space_for(user);
    if let Some(t) = total {
        s.total_units = s.total_units.min(t / unit);
    }
    if let Some(l) = left {
        s.avail_units = s.avail_units.min(l / unit);
        s.free_units = s.free_units.min(l / unit);
    }
}

fn volume_serial(fs: &opportune_fs::Share) -> u32 {
    fs.stat("").map(|i| (i.dev ^ (i.dev >> 32)) as u32).unwrap_or(0)
}
