//! NTSTATUS values (MS-ERREF 2.3.1) used by the server.

use std::fmt;

/// A 32-bit NTSTATUS code as it travels in the SMB2 header.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:expr,)*) => {
        impl NtStatus {
            $(pub const $name: NtStatus = NtStatus($value);)*

            /// The symbolic name, as Windows and Samba print it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(concat!("STATUS_", stringify!($name))),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000,
    PENDING = 0x0000_0103,
    NOTIFY_ENUM_DIR = 0x0000_010C,
    BUFFER_OVERFLOW = 0x8000_0005,
    NO_MORE_FILES = 0x8000_0006,
    NO_MORE_EAS = 0x8000_0012,
    NO_MORE_ENTRIES = 0x8000_001A,
    STOPPED_ON_SYMLINK = 0x8000_002D,
    UNSUCCESSFUL = 0xC000_0001,
    NOT_IMPLEMENTED = 0xC000_0002,
    INVALID_INFO_CLASS = 0xC000_0003,
    INFO_LENGTH_MISMATCH = 0xC000_0004,
    INVALID_HANDLE = 0xC000_0008,
    INVALID_PARAMETER = 0xC000_000D,
    NO_SUCH_DEVICE = 0xC000_000E,
    NO_SUCH_FILE = 0xC000_000F,
    INVALID_DEVICE_REQUEST = 0xC000_0010,
    END_OF_FILE = 0xC000_0011,
    MORE_PROCESSING_REQUIRED = 0xC000_0016,
    NO_MEMORY = 0xC000_0017,
    ACCESS_DENIED = 0xC000_0022,
    BUFFER_TOO_SMALL = 0xC000_0023,
    OBJECT_NAME_INVALID = 0xC000_0033,
    OBJECT_NAME_NOT_FOUND = 0xC000_0034,
    OBJECT_NAME_COLLISION = 0xC000_0035,
    OBJECT_PATH_INVALID = 0xC000_0039,
    OBJECT_PATH_NOT_FOUND = 0xC000_003A,
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B,
    SHARING_VIOLATION = 0xC000_0043,
    QUOTA_EXCEEDED = 0xC000_0044,
    EAS_NOT_SUPPORTED = 0xC000_004F,
    EA_TOO_LARGE = 0xC000_0050,
    NONEXISTENT_EA_ENTRY = 0xC000_0051,
    NO_EAS_ON_FILE = 0xC000_0052,
    DELETE_PENDING = 0xC000_0056,
    FILE_LOCK_CONFLICT = 0xC000_0054,
    LOCK_NOT_GRANTED = 0xC000_0055,
    PRIVILEGE_NOT_HELD = 0xC000_0061,
    WRONG_PASSWORD = 0xC000_006A,
    LOGON_FAILURE = 0xC000_006D,
    ACCOUNT_RESTRICTION = 0xC000_006E,
    NONE_MAPPED = 0xC000_0073,
    RANGE_NOT_LOCKED = 0xC000_007E,
    DISK_FULL = 0xC000_007F,
    FILE_INVALID = 0xC000_0098,
    INSUFFICIENT_RESOURCES = 0xC000_009A,
    PIPE_BUSY = 0xC000_00AE,
    MEDIA_WRITE_PROTECTED = 0xC000_00A2,
    FILE_IS_A_DIRECTORY = 0xC000_00BA,
    NOT_SUPPORTED = 0xC000_00BB,
    NETWORK_NAME_DELETED = 0xC000_00C9,
    BAD_NETWORK_NAME = 0xC000_00CC,
    REQUEST_NOT_ACCEPTED = 0xC000_00D0,
    NOT_SAME_DEVICE = 0xC000_00D4,
    FILE_RENAMED = 0xC000_00D5,
    PIPE_EMPTY = 0xC000_00D9,
    OPLOCK_NOT_GRANTED = 0xC000_00E2,
    INTERNAL_ERROR = 0xC000_00E5,
    DIRECTORY_NOT_EMPTY = 0xC000_0101,
    NOT_A_DIRECTORY = 0xC000_0103,
    NAME_TOO_LONG = 0xC000_0106,
    FILE_CORRUPT_ERROR = 0xC000_0102,
    TOO_MANY_OPENED_FILES = 0xC000_011F,
    CANCELLED = 0xC000_0120,
    CANNOT_DELETE = 0xC000_0121,
    FILE_DELETED = 0xC000_0123,
    FILE_CLOSED = 0xC000_0128,
    INVALID_LEVEL = 0xC000_0148,
    NOT_A_REPARSE_POINT = 0xC000_0275,
    INVALID_LOCK_RANGE = 0xC000_01A1,
    USER_SESSION_DELETED = 0xC000_0203,
    INVALID_NETWORK_RESPONSE = 0xC000_00C3,
    NETWORK_SESSION_EXPIRED = 0xC000_035C,
    INVALID_OPLOCK_PROTOCOL = 0xC000_00E3,
    REQUEST_OUT_OF_SEQUENCE = 0xC000_042A,
    INVALID_BUFFER_SIZE = 0xC000_0206,
    FS_DRIVER_REQUIRED = 0xC000_019C,
    OBJECT_NAME_EXISTS = 0x4000_0000,
    DUPLICATE_OBJECTID = 0xC000_022A,
    FILE_NOT_AVAILABLE = 0xC000_0467,
    USER_MAPPED_FILE = 0xC000_0243,
    IO_TIMEOUT = 0xC000_00B5,
    BAD_IMPERSONATION_LEVEL = 0xC000_00A5,
    INVALID_SID = 0xC000_0078,
    INVALID_DEVICE_STATE = 0xC000_0184,
    NETWORK_ACCESS_DENIED = 0xC000_00CA,
    SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D_0000,
    NOTIFY_CLEANUP = 0x0000_010B,
    NOT_FOUND = 0xC000_0225,
    INVALID_EA_NAME = 0x8000_0013,
    EA_LIST_INCONSISTENT = 0x8000_0014,
    INVALID_ACL = 0xC000_0077,
    INVALID_SECURITY_DESCR = 0xC000_0079,
    INVALID_OWNER = 0xC000_005A,
    ACCOUNT_DISABLED = 0xC000_0072,
    NO_SUCH_USER = 0xC000_0064,
    ACCOUNT_LOCKED_OUT = 0xC000_0234,
    TOO_MANY_LINKS = 0xC000_0265,
}

impl NtStatus {
    /// Severity bits 11: an error (MS-ERREF 2.3).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 0b11
    }

    /// Warnings (severity 10) still carry a response body in SMB2.
    pub fn is_warning(self) -> bool {
        self.0 >> 30 == 0b10
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "NTSTATUS(0x{:08x})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_severity() {
        assert_eq!(NtStatus::ACCESS_DENIED.name(), Some("STATUS_ACCESS_DENIED"));
        assert!(NtStatus::ACCESS_DENIED.is_error());
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(!NtStatus::SUCCESS.is_error());
        assert_eq!(format!("{:?}", NtStatus(0xC0FF_EE00)), "NTSTATUS(0xc0ffee00)");
    }
}
