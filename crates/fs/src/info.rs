//! File metadata as SMB2 reports it (MS-FSCC 2.4.7 FileBasicInformation,
//! 2.4.41 FileStandardInformation, 2.5.8 FileFsFullSizeInformation).

use opportune_types::FileAttributes;
use opportune_types::time::filetime_from_unix;

use crate::dosattr::DosRecord;

/// Metadata of one file or directory.
#[derive(Clone, Copy, Debug)]
pub struct FileInfo {
    /// Stable 64-bit id: the inode number.
    pub file_id: u64,
    pub dev: u64,
    /// End of file; 0 for directories.
    pub size: u64,
    /// `st_blocks * 512`; 0 for directories.
    pub allocation_size: u64,
    /// FILETIME: from our xattr if present, else the statx birth time, else
    /// the smaller of mtime and ctime.
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    /// The POSIX ctime, or a client-set ChangeTime kept in our xattr while
    /// the file's data is unchanged (see the `dosattr` module).
    pub change_time: u64,
    /// FILE_ATTRIBUTE_* (MS-FSCC 2.6): from our xattr if present, else ARCHIVE
    /// for files; DIRECTORY for directories; READONLY also for a file whose
    /// owner has no write bit. HIDDEN is never derived from a leading dot.
    /// 0 means "no attributes" (the server sends NORMAL).
    pub attributes: u32,
    pub nlink: u32,
    pub is_dir: bool,
    /// 0 for a file or directory itself; for a named stream open a 64-bit
    /// hash of its lowercased name (equal for names that differ in case).
    /// Device, inode and this together name what share modes and caching
    /// apply to.
    pub stream: u64,
}

/// FileBasicInformation to apply (MS-FSCC 2.4.7). `None` leaves a field
/// unchanged; so do the wire values 0 and -1/-2 (0xFFFF_FFFF_FFFF_FFFF,
/// 0xFFFF_FFFF_FFFF_FFFE), which MS-FSCC defines as "do not change".
#[derive(Clone, Copy, Debug, Default)]
pub struct BasicInfo {
    pub creation_time: Option<u64>,
    pub last_access_time: Option<u64>,
    pub last_write_time: Option<u64>,
    /// Kept in our xattr with a stamp of the data (see the `dosattr` module).
    pub change_time: Option<u64>,
    /// FILE_ATTRIBUTE_* to set; NORMAL alone means "no attributes", 0 means
    /// "no change".
    pub attributes: Option<u32>,
}

/// One directory entry.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: String,
    pub info: FileInfo,
}

/// Volume sizes for FileFsSizeInformation / FileFsFullSizeInformation
/// (MS-FSCC 2.5.8, 2.5.9) and FileFsAttributeInformation (2.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    pub total_units: u64,
    pub free_units: u64,
    /// Units available to the (unprivileged) caller.
    pub avail_units: u64,
    pub sectors_per_unit: u32,
    pub bytes_per_sector: u32,
    /// MaximumComponentNameLength.
    pub max_name_len: u32,
}

fn ft(t: &libc::statx_timestamp) -> u64 {
    filetime_from_unix(t.tv_sec, t.tv_nsec.min(999_999_999))
}

/// Whether the statx describes a directory.
pub fn statx_is_dir(st: &libc::statx) -> bool {
    u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFDIR
}

/// Whether the statx describes a regular file.
pub fn statx_is_file(st: &libc::statx) -> bool {
    u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFREG
}

impl FileInfo {
    /// Builds the SMB view of a statx result and our optional DOS record.
    pub(crate) fn from_statx(st: &libc::statx, dos: Option<DosRecord>) -> FileInfo {
        let is_dir = statx_is_dir(st);
        let mtime = ft(&st.stx_mtime);
        let ctime = ft(&st.stx_ctime);
        let fallback_creation = if st.stx_mask & libc::STATX_BTIME != 0 && st.stx_btime.tv_sec != 0
        {
            ft(&st.stx_btime)
        } else {
            mtime.min(ctime)
        };
        let creation_time = match dos {
            Some(d) if d.creation_time != 0 => d.creation_time,
            _ => fallback_creation,
        };
        let mut attributes = match dos {
            Some(d) => d.attributes & FileAttributes::SETTABLE,
            None if is_dir => 0,
            None => FileAttributes::ARCHIVE,
        };
        if is_dir {
            attributes |= FileAttributes::DIRECTORY;
        } else if u32::from(st.stx_mode) & libc::S_IWUSR == 0 {
            attributes |= FileAttributes::READONLY;
        }
        let size = if is_dir { 0 } else { st.stx_size };
        let change_time = dos.and_then(|d| d.change_time_for(mtime, size)).unwrap_or(ctime);
        FileInfo {
            file_id: st.stx_ino,
            dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            size,
            allocation_size: if is_dir {
                0
            } else {
                st.stx_blocks.saturating_mul(512)
            },
            creation_time,
            last_access_time: ft(&st.stx_atime),
            last_write_time: mtime,
            change_time,
            attributes,
            nlink: st.stx_nlink,
            is_dir,
            stream: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys;
    use std::os::fd::AsFd;

    #[test]
    fn defaults_without_record() {
        let dir = crate::testutil::TempDir::new("info");
        std::fs::write(dir.path().join("f"), b"hello").unwrap();
        let f = std::fs::File::open(dir.path().join("f")).unwrap();
        let st = sys::fstatx(f.as_fd()).unwrap();
        let info = FileInfo::from_statx(&st, None);
        assert!(!info.is_dir);
        assert_eq!(info.size, 5);
        assert_eq!(
            info.attributes & FileAttributes::ARCHIVE,
            FileAttributes::ARCHIVE
        );
        assert_eq!(info.attributes & FileAttributes::HIDDEN, 0);
        assert!(info.creation_time > 116_444_736_000_000_000);
        assert!(info.creation_time <= info.change_time.max(info.last_write_time));

        let d = std::fs::File::open(dir.path()).unwrap();
        let info = FileInfo::from_statx(&sys::fstatx(d.as_fd()).unwrap(), None);
        assert!(info.is_dir);
        assert_eq!(info.size, 0);
        assert_eq!(info.attributes, FileAttributes::DIRECTORY);
    }

    #[test]
    fn record_and_mode_override() {
        let dir = crate::testutil::TempDir::new("info2");
        let p = dir.path().join("ro");
        std::fs::write(&p, b"").unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o444);
        std::fs::set_permissions(&p, perm).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let st = sys::fstatx(f.as_fd()).unwrap();
        let rec = DosRecord {
            attributes: FileAttributes::HIDDEN,
            creation_time: 42,
            ..Default::default()
        };
        let info = FileInfo::from_statx(&st, Some(rec));
        assert_eq!(info.creation_time, 42);
        assert_eq!(
            info.attributes,
            FileAttributes::HIDDEN | FileAttributes::READONLY
        );
    }
}
