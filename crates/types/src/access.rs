//! Access masks (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1) and share access (MS-SMB2 2.2.13).

/// A desired or granted access mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccessMask(pub u32);

impl AccessMask {
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    pub const FILE_ADD_FILE: u32 = 0x0000_0002;
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    pub const FILE_ADD_SUBDIRECTORY: u32 = 0x0000_0004;
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    pub const DELETE: u32 = 0x0001_0000;
    pub const READ_CONTROL: u32 = 0x0002_0000;
    pub const WRITE_DAC: u32 = 0x0004_0000;
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const GENERIC_READ: u32 = 0x8000_0000;

    /// Every specific right a file can have (FILE_ALL_ACCESS).
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
    /// FILE_GENERIC_READ.
    pub const FILE_GENERIC_READ: u32 = 0x0012_0089;
    /// FILE_GENERIC_WRITE.
    pub const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
    /// FILE_GENERIC_EXECUTE.
    pub const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;

    /// Bits that no valid request may set (MS-SMB2 3.3.5.9: reserved bits 21..23, 26, 27).
    pub const INVALID_BITS: u32 = 0x0CE0_FE00;

    pub fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    pub fn intersects(self, bits: u32) -> bool {
        self.0 & bits != 0
    }

    /// Maps GENERIC_* bits onto the specific file rights (MS-DTYP 2.4.3).
    pub fn map_generic(self) -> AccessMask {
        let mut m = self.0 & !(Self::GENERIC_ALL | Self::GENERIC_EXECUTE | Self::GENERIC_WRITE | Self::GENERIC_READ);
        if self.intersects(Self::GENERIC_ALL) {
            m |= Self::FILE_ALL_ACCESS;
        }
        if self.intersects(Self::GENERIC_READ) {
            m |= Self::FILE_GENERIC_READ;
        }
        if self.intersects(Self::GENERIC_WRITE) {
            m |= Self::FILE_GENERIC_WRITE;
        }
        if self.intersects(Self::GENERIC_EXECUTE) {
            m |= Self::FILE_GENERIC_EXECUTE;
        }
        AccessMask(m)
    }

    /// Whether this access reads or writes data, the test used by share-mode checks
    /// (MS-FSA 2.1.5.1.2: FILE_READ_DATA|FILE_EXECUTE, FILE_WRITE_DATA|FILE_APPEND_DATA, DELETE).
    pub fn is_data_read(self) -> bool {
        self.intersects(Self::FILE_READ_DATA | Self::FILE_EXECUTE)
    }

    pub fn is_data_write(self) -> bool {
        self.intersects(Self::FILE_WRITE_DATA | Self::FILE_APPEND_DATA)
    }

    pub fn is_delete(self) -> bool {
        self.intersects(Self::DELETE)
    }
}

/// FILE_SHARE_* flags of a create request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ShareAccess(pub u32);

impl ShareAccess {
    pub const READ: u32 = 0x1;
    pub const WRITE: u32 = 0x2;
    pub const DELETE: u32 = 0x4;
    pub const ALL: u32 = 0x7;

    pub fn allows_read(self) -> bool {
        self.0 & Self::READ != 0
    }
    pub fn allows_write(self) -> bool {
        self.0 & Self::WRITE != 0
    }
    pub fn allows_delete(self) -> bool {
        self.0 & Self::DELETE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_mapping() {
        let m = AccessMask(AccessMask::GENERIC_READ).map_generic();
        assert!(m.contains(AccessMask::FILE_READ_DATA | AccessMask::READ_CONTROL));
        assert!(!m.is_data_write());
        let all = AccessMask(AccessMask::GENERIC_ALL).map_generic();
        assert!(all.is_delete() && all.is_data_write() && all.is_data_read());
    }
}
