//! CREATE request enumerations (MS-SMB2 2.2.13).

/// CreateDisposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateDisposition {
    Supersede,
    Open,
    Create,
    OpenIf,
    Overwrite,
    OverwriteIf,
}

impl CreateDisposition {
    pub fn from_wire(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Supersede,
            1 => Self::Open,
            2 => Self::Create,
            3 => Self::OpenIf,
            4 => Self::Overwrite,
            5 => Self::OverwriteIf,
            _ => return None,
        })
    }
}

/// CreateAction in the CREATE response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CreateAction {
    Superseded = 0,
    Opened = 1,
    Created = 2,
    Overwritten = 3,
}

/// CreateOptions bits.
pub mod options {
    pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
    pub const FILE_WRITE_THROUGH: u32 = 0x0000_0002;
    pub const FILE_SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    pub const FILE_NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    pub const FILE_SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    pub const FILE_SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    pub const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    pub const FILE_CREATE_TREE_CONNECTION: u32 = 0x0000_0080;
    pub const FILE_COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
    pub const FILE_NO_EA_KNOWLEDGE: u32 = 0x0000_0200;
    pub const FILE_RANDOM_ACCESS: u32 = 0x0000_0800;
    pub const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
    pub const FILE_OPEN_BY_FILE_ID: u32 = 0x0000_2000;
    pub const FILE_OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
    pub const FILE_NO_COMPRESSION: u32 = 0x0000_8000;
    pub const FILE_OPEN_REMOTE_INSTANCE: u32 = 0x0000_0400;
    pub const FILE_OPEN_REQUIRING_OPLOCK: u32 = 0x0001_0000;
    pub const FILE_DISALLOW_EXCLUSIVE: u32 = 0x0002_0000;
    pub const FILE_RESERVE_OPFILTER: u32 = 0x0010_0000;
    pub const FILE_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    pub const FILE_OPEN_NO_RECALL: u32 = 0x0040_0000;
    pub const FILE_OPEN_FOR_FREE_SPACE_QUERY: u32 = 0x0080_0000;
    /// Bits MS-SMB2 3.3.5.9 says the server must reject (0xFF000000).
    pub const INVALID: u32 = 0xFF00_0000;
}

/// Oplock levels (MS-SMB2 2.2.13 RequestedOplockLevel).
pub mod oplock {
    pub const NONE: u8 = 0x00;
    pub const LEVEL_II: u8 = 0x01;
    pub const EXCLUSIVE: u8 = 0x08;
    pub const BATCH: u8 = 0x09;
    pub const LEASE: u8 = 0xFF;
}

/// Impersonation levels (MS-SMB2 2.2.13).
pub const IMPERSONATION_MAX: u32 = 3;
