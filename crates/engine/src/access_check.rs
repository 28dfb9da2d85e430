//! NT ACL enforcement: where the server asks `opportune-acl` whether a tree's token may
//! do something (MS-FSA 2.1.5.1.2.1 for opens of existing files, 2.1.5.1.1 for new
//! ones; MS-SMB2 3.3.5.9 for MAXIMUM_ALLOWED and the MxAc context).
//!
//! * Each CREATE is checked once, after the file-system open stat'ed the file and
//!   before share modes are judged or anything is truncated; the granted rights are
//!   kept in the open (`Open::access`), and every later request (READ, WRITE, SET_INFO,
//!   rename, delete-on-close, security queries) checks those, never the descriptor.
//! * Descriptors are cached parsed, keyed by (device, inode) and validated by the
//!   change time the open already read: an unchanged file costs no system call.
//!   Setting a descriptor through this server drops the entry; a descriptor changed on
//!   the host changes the ctime too (unless a client pinned ChangeTime, see
//!   docs/SECURITY.md).
//! * Rights a file's DACL does not give may come from its directory: DELETE when the
//!   directory grants FILE_DELETE_CHILD, FILE_READ_ATTRIBUTES when it grants
//!   FILE_LIST_DIRECTORY (MS-FSA 2.1.5.1.2.1). The directory is consulted only then
//!   (one stat, the descriptor cached like a file's).
//! * A new file or directory needs FILE_ADD_FILE or FILE_ADD_SUBDIRECTORY on its
//!   directory, gets the descriptor inheritance computes (MS-DTYP 2.5.3.4, the SecD
//!   context as creator descriptor, the share's `default_acl` when nothing is
//!   inheritable), and its creator gets the access it asked for.
//! * The share's read-only flag and the tree's maximal access cap everything.

use crate::create_plan::CreatePlan;
use crate::descriptor_cache::Stored;
use crate::security::{self, Descriptor};
use crate::server::ServerState;
use crate::share_state::ShareState;
use opportune_acl::check::maximal_access;
use opportune_acl::{access_check, create_descriptor, AccessRequest, Decision, GenericMapping, NewObject, Rule};
use opportune_fs::{FileInfo, Handle, Opened, Share};
use opportune_types::create::{options, CreateAction};
use opportune_types::{AccessMask as M, NtStatus, Token};
use std::sync::Arc;

const MAP: GenericMapping = GenericMapping::FILE;
/// Rights a directory can give its entries (MS-FSA 2.1.5.1.2.1).
const FROM_PARENT: u32 = M::DELETE | M::FILE_READ_ATTRIBUTES;

/// The stored descriptor of an open file (its base file for a stream).
fn stored_of_handle(server: &ServerState, handle: &Handle, info: &FileInfo) -> Stored {
    if let Some(sd) = server.descriptors.get(info) {
        return sd;
    }
    let sd = security::stored(handle.security_descriptor().ok().flatten()).map(Arc::new);
    server.descriptors.put(info, sd.clone());
    sd
}

/// The stored descriptor of the object at on-disk path `rel`; None (outer) when it
/// does not exist.
fn stored_at(server: &ServerState, fs: &Share, rel: &str) -> Option<Stored> {
    let info = fs.stat(rel).ok()?;
    if let Some(sd) = server.descriptors.get(&info) {
        return Some(sd);
    }
    let sd = security::stored(fs.security_descriptor_at(rel).ok().flatten()).map(Arc::new);
    server.descriptors.put(&info, sd.clone());
    Some(sd)
}

fn or_unstored(sd: Stored, token: &Token) -> Arc<Descriptor> {
    sd.unwrap_or_else(|| Arc::new(security::unstored(token)))
}

/// The descriptor `token` is checked against on the object at `rel`, if it exists.
fn of_path(server: &ServerState, fs: &Share, rel: &str, token: &Token) -> Option<Arc<Descriptor>> {
    stored_at(server, fs, rel).map(|sd| or_unstored(sd, token))
}

/// The directory part of an on-disk relative path ("" for the share root); a stream's
/// path ("dir/base:name") has its base file's directory.
pub fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

/// Checks a CREATE against the descriptors and sets `plan.access` (the granted rights)
/// and `plan.maximal` (the MxAc answer). Called with the file open: the probe of a
/// truncating create, or the open itself.
pub fn on_create(server: &ServerState, plan: &mut CreatePlan, opened: &Opened, info: &FileInfo) -> Result<(), NtStatus> {
    let share = server.shares.get(plan.share).ok_or(NtStatus::NETWORK_NAME_DELETED)?;
    let (granted, maximal) = if opened.action == CreateAction::Created && info.stream == 0 {
        new_object(server, &share, plan, opened, info)?
    } else {
        existing(server, &share, plan, opened, info)?
    };
    plan.access = M(granted);
    plan.maximal = maximal;
    Ok(())
}

/// An existing file (or a new stream of one): DesiredAccess against its descriptor,
/// FILE_WRITE_DATA too when it is overwritten (MS-FSA 2.1.5.1.2.1).
fn existing(server: &ServerState, share: &ShareState, plan: &CreatePlan, opened: &Opened, info: &FileInfo) -> Result<(u32, u32), NtStatus> {
    let a = &plan.acl;
    let desired = MAP.map(a.desired);
    let (want_max, asked) = (desired & M::MAXIMUM_ALLOWED != 0, desired & !M::MAXIMUM_ALLOWED);
    let required = if plan.truncating { asked | M::FILE_WRITE_DATA } else { asked };
    let stored = stored_of_handle(server, &opened.handle, info);
    // Under quotas the stored owner is whom the file is charged to (None: unowned).
    let charged = share.quota.get().filter(|_| info.stream == 0).map(|q| (q, stored.clone()));
    let sd = or_unstored(stored, &a.token);
    let backup_intent = plan.create_options & options::FILE_OPEN_FOR_BACKUP_INTENT != 0;
    let req = AccessRequest { token: &a.token, desired: required | M::MAXIMUM_ALLOWED, mapping: &MAP, backup_intent };
    let d = access_check(&sd, &req);
    if d.status == NtStatus::PRIVILEGE_NOT_HELD {
        deny(plan, &a.token, required, &d);
        return Err(d.status);
    }
    let mut max = d.maximal;
    let parent_may_help = (want_max || required & !max & FROM_PARENT != 0) && max & FROM_PARENT != FROM_PARENT;
    if parent_may_help && !opened.rel_path.is_empty() {
        max |= parent_grants(server, &share.fs, parent_of(&opened.rel_path), &a.token);
    }
    let capped = max & a.cap;
    if required & !max != 0 || (want_max && asked == 0 && capped == 0) {
        deny(plan, &a.token, required, &d);
        return Err(NtStatus::ACCESS_DENIED);
    }
    if let Some((q, stored)) = charged {
        // The size just stat'ed (after an overwrite's truncation) corrects the entry.
        let owner = stored.as_ref().and_then(|d| d.owner.as_ref());
        let key = (info.dev, info.file_id);
        q.opened(key, owner, if info.is_dir { 0 } else { info.size });
        // An overwrite with an AllocationSize: the new allocation in place of the old
        // size, checked before the file is truncated (this runs on the probe first).
        if plan.truncating && plan.params.allocation_size > 0 && !info.is_dir {
            q.admits_size(key, plan.params.allocation_size)?;
        }
    }
    Ok((asked | if want_max { capped } else { 0 }, capped))
}

/// A new file or directory: FILE_ADD_FILE or FILE_ADD_SUBDIRECTORY on the directory,
/// then the inherited descriptor is stored (MS-FSA 2.1.5.1.1, MS-DTYP 2.5.3.4).
fn new_object(server: &ServerState, share: &ShareState, plan: &CreatePlan, opened: &Opened, info: &FileInfo) -> Result<(u32, u32), NtStatus> {
    let a = &plan.acl;
    let token = &*a.token;
    let parent_stored = stored_at(server, &share.fs, parent_of(&opened.rel_path)).flatten();
    let parent = or_unstored(parent_stored.clone(), token);
    let need = if info.is_dir { M::FILE_ADD_SUBDIRECTORY } else { M::FILE_ADD_FILE };
    let d = access_check(&parent, &AccessRequest { token, desired: need, mapping: &MAP, backup_intent: false });
    if !d.is_granted() {
        deny(plan, token, need, &d);
        return Err(NtStatus::ACCESS_DENIED);
    }
    let creator = plan.extras.sd.as_ref();
    check_owner(token, creator.and_then(|c| c.owner.as_ref()))?;
    let default_acl = share.config.security.default_acl;
    let default_dacl = default_acl.dacl(token);
    let sd = create_descriptor(&NewObject {
        parent: Some(&parent),
        creator,
        is_container: info.is_dir,
        token,
        default_dacl: &default_dacl,
        mapping: &MAP,
    });
    // MS-FSA 2.1.5.1.1: a new file its owner's quota (or the share's) has no room for
    // fails, and is removed again by the caller.
    let quota = share.quota.get();
    if let Some(q) = quota {
        let allocation = if info.is_dir { 0 } else { plan.params.allocation_size };
        q.created((info.dev, info.file_id), sd.owner.as_ref(), allocation)?;
    }
    // Nothing inherited, nothing given, Everyone full control by default: what an
    // unstored descriptor says already, so no xattr is written (on ext4 with small
    // inodes one costs a 4 KiB block, which allocation sizes would show). Under quotas
    // the descriptor is stored anyway: it records whom the file is charged to.
    let says_more = parent_stored.is_some() || creator.is_some() || default_acl != security::DefaultAcl::Full || quota.is_some();
    if says_more {
        match opened.handle.set_security_descriptor(&security::encode(&sd, security::ALL_PARTS)?) {
            Ok(()) | Err(opportune_fs::FsError::NotSupported) => {}
            Err(e) => return Err(e.status()),
        }
    }
    let desired = MAP.map(a.desired);
    let asked = desired & !M::MAXIMUM_ALLOWED;
    let maximal = (maximal_access(&sd, token, &MAP) | from_parent(maximal_access(&parent, token, &MAP))) & a.cap;
    let granted = if desired & M::MAXIMUM_ALLOWED != 0 { asked | (M::FILE_ALL_ACCESS & a.cap) } else { asked };
    Ok((granted, maximal | (granted & a.cap)))
}

/// The rights a directory's grants give its entries.
fn from_parent(dir_rights: u32) -> u32 {
    let mut out = 0;
    if dir_rights & M::FILE_DELETE_CHILD != 0 {
        out |= M::DELETE;
    }
    if dir_rights & M::FILE_LIST_DIRECTORY != 0 {
        out |= M::FILE_READ_ATTRIBUTES;
    }
    out
}

fn parent_grants(server: &ServerState, fs: &Share, dir: &str, token: &Token) -> u32 {
    of_path(server, fs, dir, token).map_or(0, |sd| from_parent(maximal_access(&sd, token, &MAP)))
}

/// An owner set by a client must be the token's user or one of its groups, unless
/// the token holds SeRestorePrivilege (MS-DTYP 2.5.3.4.1, MS-FSA 2.1.5.16):
/// STATUS_INVALID_OWNER otherwise.
pub fn check_owner(token: &Token, owner: Option<&opportune_types::Sid>) -> Result<(), NtStatus> {
    match owner {
        Some(o) if !token.contains(o) && !token.has_privilege(opportune_types::token::privilege::RESTORE) => {
            Err(NtStatus::INVALID_OWNER)
        }
        _ => Ok(()),
    }
}

/// A refused open, at debug level with what decided it (issue 10, visibility).
fn deny(plan: &CreatePlan, token: &Token, required: u32, d: &Decision) {
    match &d.rule {
        Rule::DeniedBy { index, sid, mask } => tracing::debug!(
            name = ?plan.name, user = %token.user, required = format_args!("{required:#010x}"),
            ace = index, sid = %sid, mask = format_args!("{mask:#010x}"), "access denied by ACE"
        ),
        rule => tracing::debug!(
            name = ?plan.name, user = %token.user, required = format_args!("{required:#010x}"),
            maximal = format_args!("{:#010x}", d.maximal), ?rule, "access denied"
        ),
    }
}

/// Whether `token` may add an entry to directory `dir` (a rename's target).
pub fn may_add_entry(server: &ServerState, fs: &Share, dir: &str, is_dir: bool, token: &Token) -> Result<(), NtStatus> {
    let Some(sd) = of_path(server, fs, dir, token) else { return Ok(()) };
    let need = if is_dir { M::FILE_ADD_SUBDIRECTORY } else { M::FILE_ADD_FILE };
    let d = access_check(&sd, &AccessRequest { token, desired: need, mapping: &MAP, backup_intent: false });
    if d.is_granted() {
        return Ok(());
    }
    tracing::debug!(dir, user = %token.user, rule = ?d.rule, "rename target directory refuses new entries");
    Err(NtStatus::ACCESS_DENIED)
}

/// Rights an entry must grant to be listed under access-based enumeration (what
/// Samba's "hide unreadable" asks: the entry can be opened for reading).
const VISIBLE: u32 = M::FILE_READ_DATA | M::FILE_READ_ATTRIBUTES | M::FILE_READ_EA;

/// Access-based enumeration: drops the entries of directory `dir` whose DACL does not
/// give `token` the rights to read them ("." and ".." stay). Costs a stat per entry (the descriptors
/// are cached), so only shares with `access_based_enumeration` pay it.
pub fn hide_unreadable<T>(server: &ServerState, fs: &Share, dir: &str, token: &Token, entries: &mut Vec<(String, T)>) {
    entries.retain(|(name, _)| {
        if name == "." || name == ".." {
            return true;
        }
        let rel = opportune_fs::join_rel(dir, name);
        // The entry's own DACL decides: FILE_READ_ATTRIBUTES from the directory's
        // FILE_LIST_DIRECTORY does not make it visible.
        of_path(server, fs, &rel, token).is_none_or(|sd| maximal_access(&sd, token, &MAP) & VISIBLE == VISIBLE)
    });
}

/// The share flag a tree connect reports for access-based enumeration.
pub fn share_flags(server: &ServerState, share: usize) -> u32 {
    let abe = server.shares.get(share).is_some_and(|s| s.config.security.access_based_enumeration);
    if abe { opportune_wire::tree::share_flags::ACCESS_BASED_DIRECTORY_ENUM } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_types::sid::well_known;

    #[test]
    fn parents_and_owners() {
        assert_eq!(parent_of("a/b/c"), "a/b");
        assert_eq!(parent_of("c"), "");
        assert_eq!(parent_of("d/f:s"), "d");
        assert_eq!(from_parent(M::FILE_DELETE_CHILD | M::FILE_LIST_DIRECTORY), FROM_PARENT);
        assert_eq!(from_parent(M::FILE_ADD_FILE), 0);
        let t = crate::accounts::token("srv", ["alice"], crate::session::Identity::User, "alice");
        assert!(check_owner(&t, Some(&t.user)).is_ok());
        assert!(check_owner(&t, Some(&well_known::everyone())).is_ok());
        assert_eq!(check_owner(&t, Some(&well_known::administrators())), Err(NtStatus::INVALID_OWNER));
        let admin = Token { privileges: opportune_types::token::privilege::ALL, ..t };
        assert!(check_owner(&admin, Some(&well_known::administrators())).is_ok());
    }
}
