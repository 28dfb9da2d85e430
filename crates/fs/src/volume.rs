//! Volume sizes of the file system a share lives on (MS-FSCC 2.5.8
//! FileFsFullSizeInformation and its kin).

use std::os::fd::AsFd;

use crate::error::FsError;
use crate::info::FsStats;
use crate::root::Root;
use crate::sys;

/// fstatvfs(2) of the share root as allocation units of `f_frsize` bytes,
/// reported as 512-byte sectors per unit.
pub(crate) fn stats(root: &Root) -> Result<FsStats, FsError> {
    let st = sys::fstatvfs(root.fd.as_fd())?;
    let frsize = if st.f_frsize != 0 {
        st.f_frsize
    } else {
        st.f_bsize
    } as u64;
    let (unit, scale_num) =
        if frsize >= 512 && frsize.is_multiple_of(512) && frsize / 512 <= u64::from(u32::MAX) {
            (frsize, 1)
        } else {
            (4096, frsize) // odd block size: express the volume in 4 KiB units
        };
    let conv = |blocks: u64| {
        if scale_num == 1 {
            blocks
        } else {
            blocks.saturating_mul(scale_num) / unit
        }
    };
    Ok(FsStats {
        total_units: conv(st.f_blocks as u64),
        free_units: conv(st.f_bfree as u64),
        avail_units: conv(st.f_bavail as u64),
        sectors_per_unit: (unit / 512) as u32,
        bytes_per_sector: 512,
        max_name_len: u32::try_from(st.f_namemax).unwrap_or(255).min(255),
    })
}
