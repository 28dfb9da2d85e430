//! Security descriptors as the handlers store and report them: the codec, AccessCheck
//! and inheritance live in `opportune-acl`; this module is the server's thin layer over
//! it (what a file without a stored descriptor reports, the default DACL of a share,
//! encoding errors as NT statuses). What is enforced, and where, is `access_check`.
//!
//! A descriptor a client sets is validated, merged with the file's current one
//! according to the SecurityInformation flags (MS-SMB2 3.3.5.21.3, MS-FSA 2.1.5.16) and
//! stored in the file's `user.opportune.sd` xattr; queries return the parts asked for.

use opportune_acl::descriptor::{control, info};
use opportune_acl::{Ace, Acl, SecurityDescriptor};
use opportune_types::sid::well_known;
use opportune_types::{AccessMask as M, NtStatus, Token};

pub use opportune_acl::SecurityDescriptor as Descriptor;

pub const OWNER_SECURITY_INFORMATION: u32 = info::OWNER;
pub const GROUP_SECURITY_INFORMATION: u32 = info::GROUP;
pub const DACL_SECURITY_INFORMATION: u32 = info::DACL;
pub const SACL_SECURITY_INFORMATION: u32 = info::SACL;
/// Owner, group, DACL and SACL.
pub const ALL_PARTS: u32 = info::ALL;

/// What a file nobody stored a descriptor for reports and is checked against (a file
/// made on the host, one made before this server enforced descriptors, or a new one
/// whose descriptor would say no more than this): Everyone full access, nothing
/// inheritable, owned by whoever asks (`token`'s user and primary group), so every
/// user may also change its DACL. Access to such files is what it was before
/// descriptors were enforced (POSIX permissions and the share's settings decide), and
/// new files in such a directory get the share's default DACL.
pub fn unstored(token: &Token) -> Descriptor {
    SecurityDescriptor {
        control: control::SELF_RELATIVE | control::DACL_PRESENT,
        owner: Some(token.user.clone()),
        group: Some(token.primary_group.clone()),
        sacl: None,
        dacl: Some(Acl::new(vec![Ace::allowed(well_known::everyone(), M::FILE_ALL_ACCESS, 0)])),
    }
}

/// Parses a descriptor from the wire (SET_INFO, SecD).
pub fn parse(bytes: &[u8]) -> Result<Descriptor, NtStatus> {
    SecurityDescriptor::parse(bytes)
}

/// The stored descriptor, if there is one that parses (one written by hand on the host
/// that does not is treated as absent).
pub fn stored(bytes: Option<Vec<u8>>) -> Option<Descriptor> {
    bytes.and_then(|b| SecurityDescriptor::parse(&b).ok())
}

/// The file's descriptor as `token` sees it: the stored one, else [`unstored`].
pub fn current(bytes: Option<Vec<u8>>, token: &Token) -> Descriptor {
    stored(bytes).unwrap_or_else(|| unstored(token))
}

/// The self-relative encoding of `parts`; an ACL beyond 64 KiB cannot be encoded.
pub fn encode(sd: &Descriptor, parts: u32) -> Result<Vec<u8>, NtStatus> {
    sd.encode(parts).ok_or(NtStatus::INVALID_SECURITY_DESCR)
}

/// What Everyone gets in the DACL of a new file or directory when its parent makes
/// nothing inheritable (the share's `default_acl`); the owner always gets full control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultAcl {
    /// The owner alone.
    Owner,
    /// Read and execute (POSIX 0644/0755 alike).
    Read,
    /// Read, write, execute and delete ("Change" in Windows' share dialog).
    Change,
    /// Full control (what every file allowed before descriptors were enforced). New
    /// files with nothing to inherit then get no stored descriptor at all (see
    /// `unstored`), which saves an xattr per file.
    #[default]
    Full,
}

impl std::str::FromStr for DefaultAcl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "owner" => Ok(DefaultAcl::Owner),
            "read" => Ok(DefaultAcl::Read),
            "change" => Ok(DefaultAcl::Change),
            "full" => Ok(DefaultAcl::Full),
            _ => Err(format!("default_acl {s:?}: expected owner, read, change or full")),
        }
    }
}

impl DefaultAcl {
    /// The default DACL for objects `token` creates: owner full control, Everyone per
    /// the setting.
    pub fn dacl(self, token: &Token) -> Acl {
        let mut aces = vec![Ace::allowed(token.owner.clone(), M::FILE_ALL_ACCESS, 0)];
        let others = match self {
            DefaultAcl::Owner => 0,
            DefaultAcl::Read => M::FILE_GENERIC_READ | M::FILE_GENERIC_EXECUTE,
            DefaultAcl::Change => M::FILE_GENERIC_READ | M::FILE_GENERIC_WRITE | M::FILE_GENERIC_EXECUTE | M::DELETE,
            DefaultAcl::Full => M::FILE_ALL_ACCESS,
        };
        if others != 0 {
            aces.push(Ace::allowed(well_known::everyone(), others, 0));
        }
        Acl::new(aces)
    }
}

/// Per-share security settings (`default_acl`, `access_based_enumeration`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareSecurity {
    pub default_acl: DefaultAcl,
    /// QUERY_DIRECTORY lists only entries the user could open for reading
    /// (SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM).
    pub access_based_enumeration: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstored_round_trips_and_bad_input_is_refused() {
        // A user of a domain and its primary group, as `accounts::Directory` hands out.
        let user = opportune_types::Sid::new(5, &[21, 1, 2, 3, 1000]);
        let group = opportune_types::Sid::new(5, &[21, 1, 2, 3, 513]);
        let t = Token { user: user.clone(), groups: vec![group.clone(), well_known::everyone()], owner: user, primary_group: group, privileges: 0 };
        let d = unstored(&t);
        let all = encode(&d, ALL_PARTS).unwrap();
        assert_eq!(parse(&all).unwrap(), d);
        assert_eq!(current(Some(vec![1, 2, 3]), &t), d);
        assert_eq!(d.owner.as_ref(), Some(&t.user));
        assert!(parse(&[1, 0, 0, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(parse(&[2; 20]).is_err());
        assert_eq!("Full".parse::<DefaultAcl>(), Ok(DefaultAcl::Full));
        assert!("most".parse::<DefaultAcl>().is_err());
    }
}
