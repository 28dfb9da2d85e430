//! What a create asks of the file system ([`CreateParams`], from the SMB2 CREATE
//! request, MS-SMB2 2.2.13) and what it gives back ([`Opened`]).

use opportune_types::create::{CreateAction, CreateDisposition};
use opportune_types::FileAttributes;

use crate::error::FsError;
use crate::handle::Handle;
use crate::info::FileInfo;
use crate::path::SmbPath;

/// What the CREATE request asks of the file system.
#[derive(Clone, Copy, Debug)]
pub struct CreateParams {
    pub disposition: CreateDisposition,
    /// Some(true): FILE_DIRECTORY_FILE; Some(false): FILE_NON_DIRECTORY_FILE; None: either.
    pub directory: Option<bool>,
    /// Open a file read-write (else read-only). Directories are always
    /// opened read-only. Overwrite/OverwriteIf/Supersede open read-write
    /// regardless, as truncation needs it.
    pub write: bool,
    /// FILE_ATTRIBUTE_* for a new, overwritten or superseded file.
    pub attributes: u32,
    /// Space to reserve for a new or overwritten file (fallocate KEEP_SIZE).
    pub allocation_size: u64,
    /// The open asks for no data (attributes, synchronisation, deletion only): when the
    /// kernel refuses to open an existing object for reading (a user without read
    /// permission, under `unix_identity`), an O_PATH descriptor serves it, as POSIX lets
    /// anyone who can reach a file see its metadata.
    pub metadata_only: bool,
}

/// The result of a successful create.
#[derive(Debug)]
pub struct Opened {
    pub handle: Handle,
    pub action: CreateAction,
    /// On-disk '/'-separated path relative to the root, exact on-disk case; "" for the root.
    pub rel_path: String,
    /// Metadata read while opening, when it is still current (not after a truncation).
    pub(crate) info: Option<FileInfo>,
    /// The file's shared open file description was reopened read-write for this open
    /// (`description` module): the kernel lease and the OFD byte-range locks the other
    /// handles of the file had through it are gone and must be taken again.
    pub reopened: bool,
}

impl Opened {
    /// The open writes through its shared description: its handle holds the claim.
    pub(crate) fn writing(self, w: Option<crate::description::Writing>) -> Opened {
        Opened { handle: self.handle.with_writing(w), ..self }
    }

    /// The opened object's metadata: what the open already read, else read now.
    pub fn info(&self) -> Result<FileInfo, FsError> {
        match self.info {
            Some(i) => Ok(i),
            None => self.handle.info(),
        }
    }
}

/// Whether a disposition truncates an existing file (MS-FSA 2.1.5.1.2.1).
pub(crate) fn truncating(d: CreateDisposition) -> bool {
    matches!(
        d,
        CreateDisposition::Overwrite
            | CreateDisposition::OverwriteIf
            | CreateDisposition::Supersede
    )
}

/// MS-FSA 2.1.5.1: the refusals of a create of a file or directory (not a named stream)
/// decided by its parameters alone: FILE_DIRECTORY_FILE with a truncating disposition or
/// FILE_ATTRIBUTE_TEMPORARY is `InvalidParameter`; a trailing `\` with
/// FILE_NON_DIRECTORY_FILE is `InvalidName`.
pub(crate) fn refuse_create(path: &SmbPath, p: &CreateParams) -> Result<(), FsError> {
    if p.directory == Some(true) && truncating(p.disposition) {
        return Err(FsError::InvalidParameter);
    }
    if p.directory == Some(true) && p.attributes & FileAttributes::TEMPORARY != 0 {
        return Err(FsError::InvalidParameter);
    }
    if path.trailing_separator() && p.directory == Some(false) {
        return Err(FsError::InvalidName);
    }
    Ok(())
}
