//! Parameter rules of MS-FSA that both backends apply before they touch anything, in one
//! place so that the POSIX backend and the in-memory double cannot drift apart (the
//! parity tests in `tests/parity.rs` check the outcomes). The create's are with its
//! parameters (`create_types::refuse_create`).

use crate::error::FsError;
use crate::path::SmbPath;

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
