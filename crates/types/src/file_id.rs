//! SMB2_FILEID (MS-SMB2 2.2.14.1).

/// A file id: persistent part (survives reconnects) and volatile part (this server's handle).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    /// The "use the previous create's handle" id used by related compound requests.
    pub const COMPOUNDED: FileId = FileId { persistent: u64::MAX, volatile: u64::MAX };

    pub fn is_compounded(self) -> bool {
        self == Self::COMPOUNDED
    }
}
