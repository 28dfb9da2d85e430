//! File-system metadata in wire form.

use opportune_fs::FileInfo;
use opportune_types::FileAttributes;
use opportune_wire::fscc::FileMeta;

/// The wire view of `info`; attributes never 0 (NORMAL stands alone, MS-FSCC 2.6).
pub fn file_meta(info: &FileInfo, delete_pending: bool) -> FileMeta {
    FileMeta {
        creation_time: info.creation_time,
        last_access_time: info.last_access_time,
        last_write_time: info.last_write_time,
        change_time: info.change_time,
        end_of_file: if info.is_dir { 0 } else { info.size },
        allocation_size: if info.is_dir { 0 } else { info.allocation_size },
        attributes: FileAttributes(info.attributes).on_wire(),
        file_id: info.file_id,
        nlink: info.nlink,
        is_dir: info.is_dir,
        delete_pending,
        ea_size: 0,
    }
}

/// EaSize (MS-FSCC 2.4.13, 2.4.14): the size of `eas` as a FILE_FULL_EA_INFORMATION
/// list (4-byte aligned entries), 0 without EAs.
pub fn ea_size(eas: &[opportune_fs::Ea]) -> u32 {
    let mut size = 0usize;
    for e in eas {
        size = size.next_multiple_of(4) + opportune_wire::fscc::full_ea_len(e.name.len(), e.value.len());
    }
    size as u32
}
