//! Running file-system calls as a UNIX user (`unix_identity`, issue 10 item 5): the
//! calling thread's fsuid, fsgid and supplementary groups are set for the length of a
//! guard, so the kernel checks permissions and picks owners as for that user, and are
//! restored when the guard goes, on every path (a panic unwinds through it too).
//!
//! The guard is deliberately neither `Send` nor `Sync`: the identity belongs to one
//! thread, so a guard cannot move to another thread, and a future holding it across an
//! `.await` is not `Send` and cannot be spawned on a multi-threaded runtime, where the
//! task could resume on a thread without the identity (or leave it on a thread that then
//! runs other tasks). Needs CAP_SETUID and CAP_SETGID (the server runs as root).

use std::ffi::CString;
use std::io;
use std::marker::PhantomData;
use std::sync::OnceLock;

use crate::sys;

/// Who file-system calls run as: uid, primary gid and supplementary gids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixIdentity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl UnixIdentity {
    /// The system account `name` (getpwnam_r, then getgrouplist for its groups); None
    /// when there is none.
    pub fn system_user(name: &str) -> io::Result<Option<UnixIdentity>> {
        let Ok(cname) = CString::new(name) else { return Ok(None) };
        let Some((uid, gid)) = sys::user_by_name(&cname)? else { return Ok(None) };
        let groups = sys::group_list(&cname, gid);
        Ok(Some(UnixIdentity { uid, gid, groups }))
    }

    /// The gid of the system group `name`, if there is one.
    pub fn system_group(name: &str) -> io::Result<Option<u32>> {
        let Ok(cname) = CString::new(name) else { return Ok(None) };
        sys::group_by_name(&cname)
    }

    /// Makes the calling thread act as this identity until the guard is dropped. Fails
    /// (and changes nothing) when the kernel does not take it, e.g. without CAP_SETUID.
    pub fn enter(&self) -> io::Result<ActingAs> {
        let saved_groups = sys::thread_groups()?;
        sys::set_thread_groups(&self.groups)?;
        let saved_gid = sys::setfsgid(self.gid);
        let saved_uid = sys::setfsuid(self.uid);
        let guard = ActingAs { uid: saved_uid, gid: saved_gid, groups: saved_groups, _thread: PhantomData };
        if current_fsuid() != self.uid || current_fsgid() != self.gid {
            // Dropping the guard puts back what was there.
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        Ok(guard)
    }
}

/// The server's own identity (fsuid, fsgid, supplementary groups), as the thread that
/// called [`record_server_identity`] had it.
static SERVER: OnceLock<UnixIdentity> = OnceLock::new();

/// Records the calling thread's identity as the server's own, for
/// [`become_the_server`]. Call it first in `main`, before any thread takes on a user's
/// identity; later calls keep the first record.
pub fn record_server_identity() -> io::Result<()> {
    let me = UnixIdentity { uid: current_fsuid(), gid: current_fsgid(), groups: sys::thread_groups()? };
    let _ = SERVER.set(me);
    Ok(())
}

/// Puts the calling thread back to the server's own identity. A Linux thread starts
/// with the credentials of the thread that created it, so a thread a runtime spawns
/// from one acting as a user (tokio's blocking pool grows from inside
/// `block_in_place`) would otherwise serve everyone as that user from then on: every
/// runtime thread calls this first (`on_thread_start`). Aborts if the kernel does not
/// take it, as a guard that cannot restore does. Without a record, the process's
/// effective uid and gid, keeping the groups.
pub fn become_the_server() {
    let (uid, gid, groups) = match SERVER.get() {
        Some(s) => (s.uid, s.gid, Some(s.groups.as_slice())),
        None => (sys::euid(), sys::egid(), None),
    };
    if current_fsuid() == uid && current_fsgid() == gid && groups.is_none_or(|g| sys::thread_groups().is_ok_and(|now| now == g)) {
        return;
    }
    let set = groups.map_or(Ok(()), sys::set_thread_groups);
    sys::setfsgid(gid);
    sys::setfsuid(uid);
    if set.is_err() || current_fsuid() != uid || current_fsgid() != gid {
        eprintln!("opportune: could not give a new thread the server's file-system identity ({set:?}); aborting");
        std::process::abort();
    }
}

/// The calling thread's fsuid.
pub fn current_fsuid() -> u32 {
    sys::setfsuid(u32::MAX)
}

/// The calling thread's fsgid.
pub fn current_fsgid() -> u32 {
    sys::setfsgid(u32::MAX)
}

/// The calling thread's supplementary groups.
pub fn current_groups() -> io::Result<Vec<u32>> {
    sys::thread_groups()
}

/// While alive, the calling thread acts as a [`UnixIdentity`]; dropping it restores what
/// the thread was before [`UnixIdentity::enter`].
#[must_use = "the identity is given up when the guard is dropped"]
pub struct ActingAs {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    /// Not Send, not Sync: see the module documentation.
    _thread: PhantomData<*const ()>,
}

impl Drop for ActingAs {
    fn drop(&mut self) {
        sys::setfsuid(self.uid);
        sys::setfsgid(self.gid);
        let groups = sys::set_thread_groups(&self.groups);
        if groups.is_err() || current_fsuid() != self.uid || current_fsgid() != self.gid {
            // A thread left with a user's identity would run the next session's calls
            // as that user: nothing may continue on it.
            eprintln!("opportune: could not restore a thread's file-system identity ({groups:?}); aborting");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn is_root() -> bool {
        sys::euid() == 0
    }

    #[test]
    fn root_is_found_and_nonsense_is_not() {
        let root = UnixIdentity::system_user("root").unwrap().expect("root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(UnixIdentity::system_user("no-such-user-opportune-x").unwrap(), None);
        assert_eq!(UnixIdentity::system_user("nul\0byte").unwrap(), None);
        assert_eq!(UnixIdentity::system_group("root").unwrap(), Some(0));
        assert_eq!(UnixIdentity::system_group("no-such-group-opportune-x").unwrap(), None);
    }

    #[test]
    fn a_guard_sets_and_restores_the_thread_identity_and_files_get_its_owner() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("opportune-unix-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let before = (current_fsuid(), current_fsgid(), current_groups().unwrap());
        let who = UnixIdentity { uid: 40001, gid: 40002, groups: vec![40002, 40003] };
        {
            let _as = who.enter().unwrap();
            assert_eq!((current_fsuid(), current_fsgid()), (40001, 40002));
            assert_eq!(current_groups().unwrap(), vec![40002, 40003]);
            std::fs::write(dir.join("mine"), b"x").unwrap();
        }
        assert_eq!((current_fsuid(), current_fsgid(), current_groups().unwrap()), before, "restored");
        let m = std::fs::metadata(dir.join("mine")).unwrap();
        assert_eq!((m.uid(), m.gid()), (40001, 40002));
        std::fs::write(dir.join("private"), b"secret").unwrap();
        std::fs::set_permissions(dir.join("private"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        {
            let _as = who.enter().unwrap();
            let e = std::fs::read(dir.join("private")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        }
        assert_eq!(std::fs::read(dir.join("private")).unwrap(), b"secret", "root again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_identity_is_restored_when_the_call_panics_and_stays_on_its_thread() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let who = UnixIdentity { uid: 40011, gid: 40011, groups: vec![] };
        let r = std::panic::catch_unwind(|| {
            let _as = who.enter().unwrap();
            panic!("boom");
        });
        assert!(r.is_err());
        assert_eq!((current_fsuid(), current_fsgid()), (0, 0));
        assert!(!current_groups().unwrap().contains(&40011));
    }

    /// Credentials are per thread, but a new thread starts with its creator's: one spawned
    /// while its creator acts as a user is that user until it becomes the server again
    /// (what every runtime thread does first).
    #[test]
    fn a_thread_started_while_acting_inherits_the_identity_until_it_becomes_the_server() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        record_server_identity().unwrap();
        let server = (current_fsuid(), current_fsgid(), current_groups().unwrap());
        let who = UnixIdentity { uid: 40041, gid: 40042, groups: vec![40042, 40043] };
        let (inherited, reset) = {
            let _as = who.enter().unwrap();
            std::thread::spawn(|| {
                let inherited = (current_fsuid(), current_fsgid(), current_groups().unwrap());
                become_the_server();
                (inherited, (current_fsuid(), current_fsgid(), current_groups().unwrap()))
            })
            .join()
            .unwrap()
        };
        assert_eq!(inherited, (40041, 40042, vec![40042, 40043]), "the kernel copies the creator's credentials");
        assert_eq!(reset, server, "and the thread is the server again");
        assert_eq!((current_fsuid(), current_fsgid(), current_groups().unwrap()), server);
    }
}
