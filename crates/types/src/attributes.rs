//! File attributes (MS-FSCC 2.6).

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileAttributes(pub u32);

impl FileAttributes {
    pub const READONLY: u32 = 0x0000_0001;
    pub const HIDDEN: u32 = 0x0000_0002;
    pub const SYSTEM: u32 = 0x0000_0004;
    pub const DIRECTORY: u32 = 0x0000_0010;
    pub const ARCHIVE: u32 = 0x0000_0020;
    pub const NORMAL: u32 = 0x0000_0080;
    pub const TEMPORARY: u32 = 0x0000_0100;
    pub const SPARSE_FILE: u32 = 0x0000_0200;
    pub const REPARSE_POINT: u32 = 0x0000_0400;
    pub const COMPRESSED: u32 = 0x0000_0800;
    pub const OFFLINE: u32 = 0x0000_1000;
    pub const NOT_CONTENT_INDEXED: u32 = 0x0000_2000;
    pub const ENCRYPTED: u32 = 0x0000_4000;

    /// The attributes a client may set and the server stores.
    pub const SETTABLE: u32 = Self::READONLY
        | Self::HIDDEN
        | Self::SYSTEM
        | Self::ARCHIVE
        | Self::TEMPORARY
        | Self::OFFLINE
        | Self::NOT_CONTENT_INDEXED;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// What goes on the wire: NORMAL stands alone when nothing else is set.
    pub fn on_wire(self) -> u32 {
        if self.0 == 0 { Self::NORMAL } else { self.0 }
    }
}
