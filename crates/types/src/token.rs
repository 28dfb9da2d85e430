//! An access token (MS-DTYP 2.5.2): who a session is for access checks -- its user SID,
//! the SIDs of its groups (well-known ones included) and its privileges.

use crate::sid::Sid;

/// Privileges a token may hold (MS-DTYP 2.5.3.2 names them by their LUIDs; these are
/// Opportune's bits for the ones a file server consults).
pub mod privilege {
    /// SeSecurityPrivilege: ACCESS_SYSTEM_SECURITY (read and write SACLs).
    pub const SECURITY: u32 = 0x1;
    /// SeTakeOwnershipPrivilege: WRITE_OWNER whatever the DACL says.
    pub const TAKE_OWNERSHIP: u32 = 0x2;
    /// SeBackupPrivilege: read access for backup intent.
    pub const BACKUP: u32 = 0x4;
    /// SeRestorePrivilege: write access and any owner for restore intent.
    pub const RESTORE: u32 = 0x8;
    /// Every privilege above (an administrator's token).
    pub const ALL: u32 = SECURITY | TAKE_OWNERSHIP | BACKUP | RESTORE;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub user: Sid,
    /// Group SIDs, the well-known ones (Everyone, Authenticated Users, ...) included.
    pub groups: Vec<Sid>,
    /// The SID a new object's owner is set to (TOKEN_OWNER); usually `user`.
    pub owner: Sid,
    /// The primary group a new object gets (TOKEN_PRIMARY_GROUP).
    pub primary_group: Sid,
    /// Bits of [`privilege`].
    pub privileges: u32,
}

impl Token {
    /// Whether `sid` is the token's user or one of its groups.
    pub fn contains(&self, sid: &Sid) -> bool {
        &self.user == sid || self.groups.iter().any(|g| g == sid)
    }

    pub fn has_privilege(&self, p: u32) -> bool {
        self.privileges & p == p
    }
}
