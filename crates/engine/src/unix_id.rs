//! UNIX identities (`unix_identity = true`, issue 10 item 5; docs/SECURITY.md "UNIX
//! identities"): each session's file-system calls run with its user's uid, gid and
//! supplementary groups, so files are created with that owner and the kernel's
//! permission checks apply on top of the NT ACLs.
//!
//! * **Mapping** ([`resolve`]), once per SESSION_SETUP: a user's `uid`/`gid` from the
//!   users file or its `[[user]]` table; otherwise the system account of the same name
//!   (getpwnam_r, its groups from getgrouplist). Groups of the users file with a `gid`
//!   add it to their members' supplementary groups. Guest and anonymous sessions are the
//!   system account `nobody`. A mapping to uid 0 is refused (root would bypass every
//!   kernel check). A session without a mapping can use IPC$ only: its TREE_CONNECT of
//!   a disk share answers STATUS_ACCESS_DENIED, logged at info with the reason. A share
//!   with its own `unix_identity = false` gets no identity: served as the server.
//! * **Where it applies** ([`act_as`]): every request on a tree (`handlers::handle`)
//!   runs with the tree's identity on the thread that makes the system calls. A request
//!   is processed synchronously on its connection's task, and `offload::blocking`
//!   (`block_in_place`) keeps running on the same thread, so the identity set around the
//!   handler covers every call it makes; the guard is `!Send`, so it cannot be held
//!   across an `.await`. The same goes for what completes a request later (a deferred
//!   CREATE, a rename that waited for breaks) and for a delete-on-close carried out when
//!   the last open goes, even when that happens at logoff, disconnect or the expiry of a
//!   durable handle (the identity travels with the parked open); such work for a tree
//!   that is gone is not done rather than done as root (`ConnState::unix_of_open`).
//!   The server's own metadata in `user.opportune.*` xattrs (DOS attributes, security descriptors, EAs,
//!   streams) is read and written as the user too: the `user.` namespace needs no
//!   privilege, only the file's read or write permission, which is the point.
//! * **What stays root**: opening the share roots at start and reload, the status
//!   socket and state directory, the name cache's and host watches' inotify reading,
//!   kernel lease handling and byte-range locks on descriptors already open (no
//!   permission check applies to those).

use crate::accounts::GroupEntry;
use crate::config::UserConfig;
use crate::identity::Identity;
use opportune_fs::UnixIdentity;
use opportune_types::NtStatus;
use std::sync::Arc;

/// The system account guest and anonymous sessions run as.
pub const GUEST_ACCOUNT: &str = "nobody";

/// A session's UNIX identity, or why it has none.
pub type Mapping = Result<Arc<UnixIdentity>, String>;

/// The UNIX identity of a session of `identity` for `user`, from the configured users
/// and groups, else from `system` (a lookup of system accounts by name).
pub fn resolve_with(
    users: &[UserConfig],
    groups: &[GroupEntry],
    identity: Identity,
    user: &str,
    system: impl Fn(&str) -> std::io::Result<Option<UnixIdentity>>,
) -> Result<UnixIdentity, String> {
    let lookup = |name: &str| system(name).map_err(|e| format!("looking up the system account {name:?}: {e}"));
    let mut found = match identity {
        Identity::User => {
            let configured = users.iter().find(|u| u.name.eq_ignore_ascii_case(user)).and_then(|u| u.unix);
            match configured {
                Some((uid, gid)) => UnixIdentity { uid, gid, groups: vec![gid] },
                None => lookup(user)?.ok_or_else(|| format!("user {user:?} has no uid/gid configured and there is no system account of that name"))?,
            }
        }
        Identity::Guest | Identity::Anonymous => lookup(GUEST_ACCOUNT)?
            .ok_or_else(|| format!("guest and anonymous sessions run as {GUEST_ACCOUNT:?}, and there is no such system account"))?,
    };
    if identity == Identity::User {
        let member = groups.iter().filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(user)));
        found.groups.extend(member.filter_map(|g| g.gid));
    }
    if found.uid == 0 {
        return Err(format!("{user:?} maps to uid 0 (root), which unix_identity never runs as"));
    }
    let primary = found.gid;
    found.groups.retain(|&g| g != primary);
    found.groups.sort_unstable();
    found.groups.dedup();
    found.groups.insert(0, primary);
    found.groups.truncate(opportune_fs::NGROUPS_MAX);
    Ok(found)
}

/// [`resolve_with`] against the system's accounts (NSS: this may block, so it runs
/// through `offload::blocking`).
pub fn resolve(users: &[UserConfig], groups: &[GroupEntry], identity: Identity, user: &str) -> Mapping {
    crate::offload::blocking(|| resolve_with(users, groups, identity, user, UnixIdentity::system_user)).map(Arc::new)
}

/// Runs `f` with the calling thread acting as `who` (as the server when None), and
/// restores the thread afterwards, also when `f` panics. If the kernel refuses the
/// identity, `f` does not run: STATUS_ACCESS_DENIED (logged).
pub fn act_as<R>(who: Option<&UnixIdentity>, f: impl FnOnce() -> R) -> Result<R, NtStatus> {
    let Some(who) = who else { return Ok(f()) };
    let _acting = who.enter().map_err(|e| {
        tracing::error!(uid = who.uid, gid = who.gid, error = %e, "cannot take on a UNIX identity");
        NtStatus::ACCESS_DENIED
    })?;
    Ok(f())
}

/// Refuses to start with `unix_identity` unless the server is root and the kernel lets
/// it take on another identity (CAP_SETUID and CAP_SETGID, which a unit's capability
/// bounding set might have dropped).
pub fn check_can_switch() -> Result<(), String> {
    let euid = opportune_fs::euid();
    if euid != 0 {
        return Err(format!("unix_identity = true needs the server to run as root (it runs as uid {euid})"));
    }
    let probe = UnixIdentity { uid: 65534, gid: 65534, groups: vec![65534] };
    probe.enter().map(drop).map_err(|e| {
        format!("unix_identity = true: the server cannot take on another UNIX identity ({e}; it needs CAP_SETUID and CAP_SETGID)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_auth::NtHash;

    fn user(name: &str, unix: Option<(u32, u32)>) -> UserConfig {
        UserConfig { name: name.into(), nt_hash: NtHash([0; 16]), rid: None, unix }
    }

    fn system(name: &str) -> std::io::Result<Option<UnixIdentity>> {
        Ok(match name {
            "carol" => Some(UnixIdentity { uid: 2001, gid: 2001, groups: vec![2001, 27, 100] }),
            "nobody" => Some(UnixIdentity { uid: 65534, gid: 65534, groups: vec![65534] }),
            "root" | "toor" => Some(UnixIdentity { uid: 0, gid: 0, groups: vec![0] }),
            "broken" => return Err(std::io::Error::other("ldap down")),
            _ => None,
        })
    }

    #[test]
    fn configured_ids_win_then_the_system_account_of_the_same_name() {
        let users = [user("alice", Some((40001, 40002))), user("carol", None), user("dave", None)];
        let staff = GroupEntry { name: "staff".into(), rid: 1100, members: vec!["Alice".into(), "carol".into()], gid: Some(40100) };
        let other = GroupEntry { name: "other".into(), rid: 1101, members: vec!["alice".into()], gid: None };
        let groups = [staff, other];
        let a = resolve_with(&users, &groups, Identity::User, "ALICE", system).unwrap();
        assert_eq!(a, UnixIdentity { uid: 40001, gid: 40002, groups: vec![40002, 40100] });
        let c = resolve_with(&users, &groups, Identity::User, "carol", system).unwrap();
        assert_eq!(c, UnixIdentity { uid: 2001, gid: 2001, groups: vec![2001, 27, 100, 40100] });
        let d = resolve_with(&users, &groups, Identity::User, "dave", system).unwrap_err();
        assert!(d.contains("no uid/gid configured") && d.contains("dave"), "{d}");
    }

    #[test]
    fn guests_are_nobody_and_root_is_never_taken() {
        let g = resolve_with(&[], &[], Identity::Guest, "mallory", system).unwrap();
        assert_eq!((g.uid, g.gid), (65534, 65534));
        assert_eq!(resolve_with(&[], &[], Identity::Anonymous, "", system).unwrap(), g);
        let no_nobody = |_: &str| Ok(None);
        assert!(resolve_with(&[], &[], Identity::Guest, "x", no_nobody).unwrap_err().contains("nobody"));
        assert!(resolve_with(&[user("toor", None)], &[], Identity::User, "toor", system).unwrap_err().contains("uid 0"));
        assert!(resolve_with(&[user("eve", Some((0, 0)))], &[], Identity::User, "eve", system).unwrap_err().contains("uid 0"));
        let e = resolve_with(&[user("broken", None)], &[], Identity::User, "broken", system).unwrap_err();
        assert!(e.contains("ldap down"), "{e}");
    }

    #[test]
    fn no_identity_runs_as_the_server() {
        assert_eq!(act_as(None, opportune_fs::current_fsuid), Ok(opportune_fs::current_fsuid()));
    }

    #[test]
    fn an_identity_holds_for_the_call_only() {
        if opportune_fs::euid() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let who = UnixIdentity { uid: 40021, gid: 40022, groups: vec![40022] };
        let inside = act_as(Some(&who), || (opportune_fs::current_fsuid(), opportune_fs::current_fsgid())).unwrap();
        assert_eq!(inside, (40021, 40022));
        assert_eq!((opportune_fs::current_fsuid(), opportune_fs::current_fsgid()), (0, 0));
        assert!(check_can_switch().is_ok());
    }
}
