//! File-system errors and their NTSTATUS equivalents (MS-ERREF 2.3.1).

use std::io;

use opportune_types::NtStatus;

/// An error from the file-system layer.
///
/// Each variant corresponds to one NTSTATUS the SMB2 server returns; see
/// [`FsError::status`]. `Io` carries any other OS error and is mapped by errno.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The last component of a path does not exist.
    #[error("object name not found")]
    NotFound,
    /// An intermediate component of a path does not exist or is not a directory.
    #[error("object path not found")]
    PathNotFound,
    /// The name is already taken.
    #[error("object name collision")]
    Exists,
    /// A directory was required (FILE_DIRECTORY_FILE) but the object is a file.
    #[error("not a directory")]
    NotADirectory,
    /// A non-directory was required (FILE_NON_DIRECTORY_FILE) but the object is a directory.
    #[error("file is a directory")]
    IsADirectory,
    /// The name breaks the rules of MS-FSCC 2.1.5.
    #[error("object name invalid")]
    InvalidName,
    /// The path has a ".." component.
    #[error("object path syntax bad")]
    PathSyntaxBad,
    /// A component is longer than 255 characters (or 255 UTF-8 bytes on disk).
    #[error("name too long")]
    NameTooLong,
    /// The OS or a rule of MS-FSA refuses the operation.
    #[error("access denied")]
    AccessDenied,
    /// A directory to be removed still has entries.
    #[error("directory not empty")]
    NotEmpty,
    /// No space left on the volume.
    #[error("disk full")]
    DiskFull,
    /// Resolution would leave the share (through "..", an absolute path or a symlink).
    #[error("path escapes the share")]
    Escape,
    /// A parameter combination MS-FSA rejects (e.g. FILE_DIRECTORY_FILE with FILE_OVERWRITE).
    #[error("invalid parameter")]
    InvalidParameter,
    /// An EA name breaks the rules of MS-FSCC 2.4.15.
    #[error("invalid EA name")]
    InvalidEaName,
    /// A file has as many hard links as it may (MS-FSA 2.1.5.15.6).
    #[error("too many links")]
    TooManyLinks,
    /// A link or rename across file systems (a mount inside the share).
    #[error("not same device")]
    NotSameDevice,
    /// The file system cannot keep this (no user xattrs).
    #[error("not supported")]
    NotSupported,
    /// The open would break a Linux lease on the file (a lease this process or another
    /// holds); the kernel has started breaking it. The file's device and inode name it,
    /// so the server can let go of a lease of its own and try again.
    #[error("a lease on the file is held")]
    LeaseHeld { dev: u64, ino: u64 },
    /// Any other OS error.
    #[error(transparent)]
    Io(io::Error),
}

impl FsError {
    /// The NTSTATUS the server puts in its response.
    ///
    /// `NameTooLong` maps to STATUS_OBJECT_NAME_INVALID, as MS-FSA 2.1.5.1
    /// prescribes for a path component longer than 255 characters.
    pub fn status(&self) -> NtStatus {
        match self {
            FsError::NotFound => NtStatus::OBJECT_NAME_NOT_FOUND,
            FsError::PathNotFound => NtStatus::OBJECT_PATH_NOT_FOUND,
            FsError::Exists => NtStatus::OBJECT_NAME_COLLISION,
            FsError::NotADirectory => NtStatus::NOT_A_DIRECTORY,
            FsError::IsADirectory => NtStatus::FILE_IS_A_DIRECTORY,
            FsError::InvalidName | FsError::NameTooLong => NtStatus::OBJECT_NAME_INVALID,
            FsError::PathSyntaxBad => NtStatus::OBJECT_PATH_SYNTAX_BAD,
            FsError::AccessDenied | FsError::Escape => NtStatus::ACCESS_DENIED,
            FsError::NotEmpty => NtStatus::DIRECTORY_NOT_EMPTY,
            FsError::DiskFull => NtStatus::DISK_FULL,
            FsError::InvalidParameter => NtStatus::INVALID_PARAMETER,
            FsError::InvalidEaName => NtStatus::INVALID_EA_NAME,
            FsError::NotSupported => NtStatus::NOT_SUPPORTED,
            FsError::TooManyLinks => NtStatus::TOO_MANY_LINKS,
            FsError::NotSameDevice => NtStatus::NOT_SAME_DEVICE,
            FsError::LeaseHeld { .. } => NtStatus::SHARING_VIOLATION,
            FsError::Io(e) => status_of_errno(e.raw_os_error()),
        }
    }
}

/// NTSTATUS for an errno that was not turned into a specific variant.
fn status_of_errno(errno: Option<i32>) -> NtStatus {
    match errno {
        Some(libc::ENOENT) => NtStatus::OBJECT_NAME_NOT_FOUND,
        Some(libc::EEXIST) => NtStatus::OBJECT_NAME_COLLISION,
        Some(libc::ENOTDIR) => NtStatus::NOT_A_DIRECTORY,
        Some(libc::EISDIR) => NtStatus::FILE_IS_A_DIRECTORY,
        Some(libc::EACCES | libc::EPERM | libc::EXDEV | libc::ELOOP) => NtStatus::ACCESS_DENIED,
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => NtStatus::DISK_FULL,
        Some(libc::ENAMETOOLONG) => NtStatus::OBJECT_NAME_INVALID,
        Some(libc::ENOTEMPTY) => NtStatus::DIRECTORY_NOT_EMPTY,
        Some(libc::EROFS) => NtStatus::MEDIA_WRITE_PROTECTED,
        Some(libc::EINVAL) => NtStatus::INVALID_PARAMETER,
        Some(libc::ENOMEM) => NtStatus::NO_MEMORY,
        Some(libc::EMFILE | libc::ENFILE) => NtStatus::INSUFFICIENT_RESOURCES,
        _ => NtStatus::UNSUCCESSFUL,
    }
}

impl From<io::Error> for FsError {
    /// Turns the errno values that have a variant into that variant; the
    /// rest stay `Io`. ENOENT becomes `NotFound`: callers that know an
    /// intermediate component was involved map it to `PathNotFound` themselves.
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOENT) => FsError::NotFound,
            Some(libc::EEXIST) => FsError::Exists,
            Some(libc::ENOTDIR) => FsError::NotADirectory,
            Some(libc::EISDIR) => FsError::IsADirectory,
            Some(libc::EACCES | libc::EPERM) => FsError::AccessDenied,
            Some(libc::ENOSPC | libc::EDQUOT) => FsError::DiskFull,
            Some(libc::ENAMETOOLONG) => FsError::NameTooLong,
            Some(libc::ENOTEMPTY) => FsError::NotEmpty,
            // openat2 with RESOLVE_BENEATH reports an escape as EXDEV, a
            // magic link or a symlink loop as ELOOP.
            Some(libc::EXDEV | libc::ELOOP) => FsError::Escape,
            _ => FsError::Io(e),
        }
    }
}

/// The one mapping of file-system errors to NT status ([`FsError::status`]), so a
/// handler passes them on with a plain `?`.
impl From<FsError> for NtStatus {
    fn from(e: FsError) -> NtStatus {
        e.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(n: i32) -> FsError {
        FsError::from(io::Error::from_raw_os_error(n))
    }

    #[test]
    fn variants_map_to_statuses() {
        assert_eq!(FsError::NotFound.status(), NtStatus::OBJECT_NAME_NOT_FOUND);
        assert_eq!(
            FsError::PathNotFound.status(),
            NtStatus::OBJECT_PATH_NOT_FOUND
        );
        assert_eq!(FsError::Exists.status(), NtStatus::OBJECT_NAME_COLLISION);
        assert_eq!(FsError::NotADirectory.status(), NtStatus::NOT_A_DIRECTORY);
        assert_eq!(
            FsError::IsADirectory.status(),
            NtStatus::FILE_IS_A_DIRECTORY
        );
        assert_eq!(FsError::InvalidName.status(), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(FsError::NameTooLong.status(), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(
            FsError::PathSyntaxBad.status(),
            NtStatus::OBJECT_PATH_SYNTAX_BAD
        );
        assert_eq!(FsError::Escape.status(), NtStatus::ACCESS_DENIED);
        assert_eq!(FsError::NotEmpty.status(), NtStatus::DIRECTORY_NOT_EMPTY);
        assert_eq!(FsError::DiskFull.status(), NtStatus::DISK_FULL);
        assert_eq!(
            FsError::InvalidParameter.status(),
            NtStatus::INVALID_PARAMETER
        );
    }

    #[test]
    fn errnos_map_to_variants_and_statuses() {
        assert!(matches!(errno(libc::ENOENT), FsError::NotFound));
        assert!(matches!(errno(libc::EXDEV), FsError::Escape));
        assert!(matches!(errno(libc::ENOTEMPTY), FsError::NotEmpty));
        assert!(matches!(errno(libc::ENOSPC), FsError::DiskFull));
        assert_eq!(errno(libc::EROFS).status(), NtStatus::MEDIA_WRITE_PROTECTED);
        assert_eq!(errno(libc::EIO).status(), NtStatus::UNSUCCESSFUL);
        assert_eq!(errno(libc::EACCES).status(), NtStatus::ACCESS_DENIED);
    }
}
