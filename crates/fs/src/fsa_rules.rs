//! Parameter rules of MS-FSA that both backends apply before they touch anything, in one
//! place so that the POSIX backend and the in-memory double cannot drift apart (the
//! parity tests in `tests/parity.rs` check the outcomes).

use opportune_types::FileAttributes;

use crate::create_types::{truncating, CreateParams};
use crate::error::FsError;
use crate::path::SmbPath;

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

/// MS-FSA 2.1.5.14.6 (FileLinkInformation): a hard link is made of a file only, to a name
/// that is not a stream; returns the new link's file name. A stream open is
/// `InvalidParameter`, a directory `IsADirectory`, a stream name or a name without a
/// last component `InvalidName`.
pub(crate) fn link_name(is_stream: bool, is_dir: bool, to: &SmbPath) -> Result<&str, FsError> {
    if is_stream {
        return Err(FsError::InvalidParameter);
    }
    if is_dir {
        return Err(FsError::IsADirectory);
    }
    if to.stream().is_some() || to.explicit_data_stream() {
        return Err(FsError::InvalidName);
    }
    to.file_name().ok_or(FsError::InvalidName)
}
