//! File information structures (MS-FSCC 2.4, 2.5) as they appear in QUERY_INFO,
//! SET_INFO and QUERY_DIRECTORY buffers.

use crate::cursor::{utf16_len, Put};

/// File information classes (MS-FSCC 2.4).
pub mod class {
    pub const DIRECTORY: u8 = 1;
    pub const FULL_DIRECTORY: u8 = 2;
    pub const BOTH_DIRECTORY: u8 = 3;
    pub const BASIC: u8 = 4;
    pub const STANDARD: u8 = 5;
    pub const INTERNAL: u8 = 6;
    pub const EA: u8 = 7;
    pub const ACCESS: u8 = 8;
    pub const NAME: u8 = 9;
    pub const RENAME: u8 = 10;
    pub const LINK: u8 = 11;
    pub const NAMES: u8 = 12;
    pub const DISPOSITION: u8 = 13;
    pub const POSITION: u8 = 14;
    pub const FULL_EA: u8 = 15;
    pub const MODE: u8 = 16;
    pub const ALIGNMENT: u8 = 17;
    pub const ALL: u8 = 18;
    pub const ALLOCATION: u8 = 19;
    pub const END_OF_FILE: u8 = 20;
    pub const ALTERNATE_NAME: u8 = 21;
    pub const STREAM: u8 = 22;
    pub const PIPE: u8 = 23;
    pub const COMPRESSION: u8 = 28;
    pub const NETWORK_OPEN: u8 = 34;
    pub const ATTRIBUTE_TAG: u8 = 35;
    pub const ID_BOTH_DIRECTORY: u8 = 37;
    pub const ID_FULL_DIRECTORY: u8 = 38;
    pub const VALID_DATA_LENGTH: u8 = 39;
    pub const DISPOSITION_EX: u8 = 64;
    pub const RENAME_EX: u8 = 65;
    pub const NORMALIZED_NAME: u8 = 48;
    pub const ID: u8 = 59;
}

/// File-system information classes (MS-FSCC 2.5).
pub mod fs_class {
    pub const VOLUME: u8 = 1;
    pub const LABEL: u8 = 2;
    pub const SIZE: u8 = 3;
    pub const DEVICE: u8 = 4;
    pub const ATTRIBUTE: u8 = 5;
    pub const CONTROL: u8 = 6;
    pub const FULL_SIZE: u8 = 7;
    pub const OBJECT_ID: u8 = 8;
    pub const SECTOR_SIZE: u8 = 11;
}

/// What the server knows of a file, in wire units (FILETIMEs, bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileMeta {
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub end_of_file: u64,
    pub allocation_size: u64,
    pub attributes: u32,
    pub file_id: u64,
    pub nlink: u32,
    pub is_dir: bool,
    pub delete_pending: bool,
    /// EaSize of directory entries (MS-FSCC 2.4.14): the EAs as a FILE_FULL_EA_INFORMATION list.
    pub ea_size: u32,
}

impl FileMeta {
    fn put_times(&self, out: &mut Vec<u8>) {
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
    }

    /// FileBasicInformation (MS-FSCC 2.4.7), 40 bytes.
    pub fn put_basic(&self, out: &mut Vec<u8>) {
        self.put_times(out);
        out.put_u32(self.attributes);
        out.put_u32(0);
    }

    /// FileStandardInformation (MS-FSCC 2.4.41), 24 bytes.
    pub fn put_standard(&self, out: &mut Vec<u8>) {
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.nlink);
        out.put_u8(u8::from(self.delete_pending));
        out.put_u8(u8::from(self.is_dir));
        out.put_u16(0);
    }

    /// FileNetworkOpenInformation (MS-FSCC 2.4.29), 56 bytes.
    pub fn put_network_open(&self, out: &mut Vec<u8>) {
        self.put_times(out);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.attributes);
        out.put_u32(0);
    }
}

/// Appends one directory entry of `class` (MS-FSCC 2.4.8, 2.4.10, 2.4.14, 2.4.17, 2.4.18, 2.4.26),
/// 8-byte aligned, with NextEntryOffset 0. Returns the entry's start, so the caller can link it.
/// None for a class that is not a directory class. `short` is the 8.3 name for the
/// BOTH classes (at most 12 characters are sent).
pub fn put_dir_entry(out: &mut Vec<u8>, class: u8, name: &str, short: Option<&str>, m: &FileMeta) -> Option<usize> {
    out.pad_to(8);
    let start = out.len();
    let name_len = utf16_len(name) as u32;
    out.put_u32(0);
    out.put_u32(0);
    if class == class::NAMES {
        out.put_u32(name_len);
        out.put_utf16(name);
        return Some(start);
    }
    if !matches!(
        class,
        class::DIRECTORY | class::FULL_DIRECTORY | class::BOTH_DIRECTORY | class::ID_BOTH_DIRECTORY | class::ID_FULL_DIRECTORY
    ) {
        out.truncate(start);
        return None;
    }
    m.put_times(out);
    out.put_u64(m.end_of_file);
    out.put_u64(m.allocation_size);
    out.put_u32(m.attributes);
    out.put_u32(name_len);
    match class {
        class::FULL_DIRECTORY => out.put_u32(m.ea_size),
        class::ID_FULL_DIRECTORY => {
            out.put_u32(m.ea_size);
            out.put_u32(0);
            out.put_u64(m.file_id);
        }
        class::BOTH_DIRECTORY | class::ID_BOTH_DIRECTORY => {
            out.put_u32(m.ea_size);
            let mut short_buf = Vec::with_capacity(24);
            short_buf.put_utf16(short.unwrap_or(""));
            short_buf.truncate(24);
            out.put_u8(short_buf.len() as u8);
            out.put_u8(0);
            let at = out.len();
            out.extend_from_slice(&[0u8; 24]);
            out[at..at + short_buf.len()].copy_from_slice(&short_buf);
            if class == class::ID_BOTH_DIRECTORY {
                out.put_u16(0);
                out.put_u64(m.file_id);
            }
        }
        _ => {}
    }
    out.put_utf16(name);
    Some(start)
}

/// Whether `class` is one QUERY_DIRECTORY serves.
pub fn is_dir_class(class: u8) -> bool {
    matches!(
        class,
        class::DIRECTORY
            | class::FULL_DIRECTORY
            | class::BOTH_DIRECTORY
            | class::ID_BOTH_DIRECTORY
            | class::ID_FULL_DIRECTORY
            | class::NAMES
    )
}

/// One entry of a FILE_FULL_EA_INFORMATION list (MS-FSCC 2.4.15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullEa {
    pub flags: u8,
    pub name: String,
    pub value: Vec<u8>,
}

/// The size of one FILE_FULL_EA_INFORMATION entry before alignment:
/// the 8-byte header, the name, its NUL and the value.
pub fn full_ea_len(name_len: usize, value_len: usize) -> usize {
    8 + name_len + 1 + value_len
}

/// Parses a FILE_FULL_EA_INFORMATION list (MS-FSCC 2.4.15) as the I/O manager
/// validates it: entries 4-byte aligned, each inside the buffer, names NUL
/// terminated and ASCII. `None` means STATUS_EA_LIST_INCONSISTENT.
pub fn parse_full_ea_list(buf: &[u8]) -> Option<Vec<FullEa>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let h = buf.get(at..at + 8)?;
        let next = u32::from_le_bytes(h[0..4].try_into().ok()?) as usize;
        let (flags, nlen) = (h[4], usize::from(h[5]));
        let vlen = usize::from(u16::from_le_bytes([h[6], h[7]]));
        let len = full_ea_len(nlen, vlen);
        let entry = buf.get(at..at + len)?;
        if entry[8 + nlen] != 0 || (next != 0 && (!next.is_multiple_of(4) || next < len)) {
            return None;
        }
        let name = std::str::from_utf8(&entry[8..8 + nlen]).ok().filter(|n| n.is_ascii())?;
        out.push(FullEa { flags, name: name.to_string(), value: entry[9 + nlen..].to_vec() });
        if next == 0 {
            return Some(out);
        }
        at += next;
    }
}

/// Appends a FILE_FULL_EA_INFORMATION list, entries 4-byte aligned and linked.
pub fn put_full_ea_list(out: &mut Vec<u8>, eas: &[FullEa]) {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for ea in eas {
        while !(out.len() - base).is_multiple_of(4) {
            out.push(0);
        }
        let start = out.len();
        if let Some(p) = prev {
            crate::cursor::patch_u32(out, p, (start - p) as u32);
        }
        out.put_u32(0);
        out.put_u8(ea.flags);
        out.put_u8(ea.name.len().min(255) as u8);
        out.put_u16(ea.value.len().min(0xffff) as u16);
        out.extend_from_slice(&ea.name.as_bytes()[..ea.name.len().min(255)]);
        out.put_u8(0);
        out.extend_from_slice(&ea.value[..ea.value.len().min(0xffff)]);
        prev = Some(start);
    }
}

/// Parses a FILE_GET_EA_INFORMATION list (MS-FSCC 2.4.15.1): the names asked for.
pub fn parse_get_ea_list(buf: &[u8]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let h = buf.get(at..at + 5)?;
        let next = u32::from_le_bytes(h[0..4].try_into().ok()?) as usize;
        let nlen = usize::from(h[4]);
        let name = buf.get(at + 5..at + 5 + nlen)?;
        out.push(std::str::from_utf8(name).ok()?.to_string());
        if next == 0 {
            return Some(out);
        }
        if !next.is_multiple_of(4) || next < 5 + nlen {
            return None;
        }
        at += next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_sizes() {
        let m = FileMeta::default();
        for (class, fixed) in [(1u8, 64usize), (2, 68), (3, 94), (37, 104), (38, 80), (12, 12)] {
            let mut out = Vec::new();
            put_dir_entry(&mut out, class, "ab", Some("AB"), &m).unwrap();
            assert_eq!(out.len(), fixed + 4, "class {class}");
        }
        assert!(put_dir_entry(&mut Vec::new(), 4, "x", None, &m).is_none());
    }

    #[test]
    fn ea_lists_round_trip() {
        let eas = vec![
            FullEa { flags: 0, name: "EAONE".into(), value: b"VALUE1".to_vec() },
            FullEa { flags: 0x80, name: "SECONDEA".into(), value: b"ValueTwo".to_vec() },
        ];
        let mut b = Vec::new();
        put_full_ea_list(&mut b, &eas);
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 20);
        assert_eq!(parse_full_ea_list(&b), Some(eas));
        assert_eq!(parse_full_ea_list(&b[..b.len() - 1]), None);
        b[0] = 3;
        assert_eq!(parse_full_ea_list(&b), None);
        let get = [0, 0, 0, 0, 3, b'a', b'b', b'c', 0];
        assert_eq!(parse_get_ea_list(&get), Some(vec!["abc".to_string()]));
    }

    #[test]
    fn fixed_sizes() {
        let m = FileMeta { nlink: 1, ..Default::default() };
        let mut v = Vec::new();
        m.put_basic(&mut v);
        assert_eq!(v.len(), 40);
        v.clear();
        m.put_standard(&mut v);
        assert_eq!(v.len(), 24);
        v.clear();
        m.put_network_open(&mut v);
        assert_eq!(v.len(), 56);
    }
}
