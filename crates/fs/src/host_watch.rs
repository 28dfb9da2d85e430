//! Changes that other programs on the host make to watched directories, seen through
//! inotify(7), for CHANGE_NOTIFY (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11) and issue 11,
//! item 6.
//!
//! One inotify instance serves the whole server. Each watcher (a directory open with
//! a CHANGE_NOTIFY outstanding) adds its directory under a tag (the share) and its
//! share-relative path; two watchers of one directory share the kernel's watch. A
//! [`HostWatch::drain`] turns the queued records into [`HostEvent`]s: names added,
//! removed, renamed (an IN_MOVED_FROM and IN_MOVED_TO of one rename within one
//! directory; a move between directories is a removal here and an addition there, as
//! Windows reports it), data modified (IN_MODIFY: writes and truncation) and metadata
//! changed (IN_ATTRIB: mode, owner, times, extended attributes, link count). The
//! server's own extended-attribute updates (DOS attributes, streams, descriptors) come
//! back as IN_ATTRIB too; like its writes, the caller tells them apart by path and time.
//!
//! A watcher may hold several directories: a recursive CHANGE_NOTIFY (WATCH_TREE) watches
//! the directories below its own too, at most [`MAX_DIRS_PER_WATCHER`] (the caller walks
//! the tree and adds them, [`HostWatch::covering`] says which watchers want a directory
//! that appeared, [`HostWatch::forget_below`] drops what a directory that went away
//! held).
//!
//! What the kernel cannot give: the watch follows the directory's inode, so after a
//! watcher's own directory is renamed its events are reported under the old path until
//! the watcher re-arms; a kernel watch covers one directory, so a recursive watcher over
//! a tree of more than [`MAX_DIRS_PER_WATCHER`] directories hears of host changes in the
//! first ones found only (the server's own changes it hears of everywhere).
//! The server's own changes come back as events too; the caller filters them (it knows
//! what it just did).
//!
//! A kernel watch nobody holds any more is kept for a while ([`IDLE_WATCHES`], oldest
//! dropped first): adding a watch to a directory that has none makes Linux walk every
//! cached entry of it (`fsnotify_set_children_dentry_flags`), so with the handle-caching
//! watch added and removed around every open of a file in a directory of 19,000 entries
//! an open+close cost three times what it costs in a small one. An idle watch reports
//! to nobody; it is taken up again through a descriptor of the directory (the same
//! inode gives the same watch; a directory renamed away while idle does not), or by path
//! when the path names the inode the watch was added for (its device and inode, one
//! statx: [`HostWatch::add_to_watched`]); what it queued while idle is dropped then. A
//! watch the kernel removed meanwhile (the directory deleted, its inode number perhaps
//! given to a new one) says so in that queue, and is then not taken up by path.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use crate::inotify_events::parse_events;
use crate::sys;

/// Directories watched at most, over all shares (each costs one kernel watch of the
/// user's `max_user_watches`).
pub const MAX_WATCHED_DIRS: usize = 8192;

/// Directories one recursive watcher holds at most (its own and those below).
pub const MAX_DIRS_PER_WATCHER: usize = 1024;

/// What the server hears about: a directory's names and its files' data.
const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_EXCL_UNLINK;

/// Kernel watches kept when no watcher holds them any more (see the module doc).
pub const IDLE_WATCHES: usize = 64;

/// Names the file-system layer uses for its own short-lived entries (link.rs).
const OWN_PREFIX: &[u8] = b".opportune-";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostChange {
    Added,
    Removed,
    /// Data written or the size changed.
    Modified,
    /// Metadata changed: mode, owner, times, extended attributes, link count.
    Attributes,
    /// The old name of an entry renamed within its directory.
    RenamedFrom,
    /// The new name of an entry renamed within its directory.
    RenamedTo,
    /// Events were lost (the kernel's queue overflowed): every watcher under the tag
    /// must rescan. `rel` is empty.
    Overflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEvent {
    pub tag: usize,
    /// The changed entry's share-relative path, '/'-separated.
    pub rel: String,
    pub change: HostChange,
    pub is_dir: bool,
}

/// A directory as one tag knows it, and how many watchers it has there.
struct Place {
    tag: usize,
    rel: String,
    refs: u32,
}

/// One watcher: the directory it asked for and, when recursive, the ones below it that
/// were added for it.
struct Watcher {
    tag: usize,
    root: String,
    recursive: bool,
    /// (kernel watch, path) of every directory it holds, its root first.
    places: Vec<(i32, String)>,
}

#[derive(Default)]
struct State {
    by_wd: HashMap<i32, Vec<Place>>,
    /// (tag, path) → its kernel watch, for watchers that join a watched directory.
    by_place: HashMap<(usize, String), i32>,
    watchers: HashMap<u64, Watcher>,
    /// Kernel watches no watcher holds (their one place kept with no refs), oldest first.
    idle: VecDeque<i32>,
    /// Events read early (while taking up an idle watch), for the next drain.
    stash: Vec<HostEvent>,
    /// Device and inode of the directory behind each kernel watch (from the descriptor
    /// it was added through), to take an idle one up by path.
    identity: HashMap<i32, (u64, u64)>,
    buf: Vec<u8>,
}

impl State {
    /// One watcher less at (`wd`, `tag`, `rel`); the kernel watch goes with its last.
    fn release(&mut self, inotify: BorrowedFd<'_>, wd: i32, tag: usize, rel: &str) {
        let Some(places) = self.by_wd.get_mut(&wd) else { return };
        if let Some(i) = places.iter().position(|p| p.tag == tag && p.rel == rel && p.refs > 0) {
            places[i].refs -= 1;
            if places[i].refs == 0 {
                if places.len() == 1 {
                    // Its last watcher: the kernel watch stays, idle.
                    self.idle.push_back(wd);
                    self.trim_idle(inotify, IDLE_WATCHES);
                    return;
                }
                places.swap_remove(i);
                self.by_place.remove(&(tag, rel.to_string()));
            }
        }
        if places.is_empty() {
            self.by_wd.remove(&wd);
            self.identity.remove(&wd);
            sys::inotify_unwatch(inotify, wd);
        }
    }

    /// Whether kernel watch `wd` is kept with no watcher.
    fn is_idle(&self, wd: i32) -> bool {
        self.by_wd.get(&wd).is_some_and(|places| places.iter().all(|p| p.refs == 0))
    }

    /// Drops idle kernel watches, oldest first, until at most `keep` are left.
    fn trim_idle(&mut self, inotify: BorrowedFd<'_>, keep: usize) {
        while self.idle.len() > keep {
            let Some(wd) = self.idle.pop_front() else { break };
            self.forget_idle(inotify, wd);
        }
    }

    /// Drops idle kernel watch `wd` for good (nothing if a watcher holds it).
    fn forget_idle(&mut self, inotify: BorrowedFd<'_>, wd: i32) {
        self.idle.retain(|&w| w != wd);
        if !self.is_idle(wd) {
            return;
        }
        for p in self.by_wd.remove(&wd).into_iter().flatten() {
            if self.by_place.get(&(p.tag, p.rel.clone())) == Some(&wd) {
                self.by_place.remove(&(p.tag, p.rel));
            }
        }
        self.identity.remove(&wd);
        sys::inotify_unwatch(inotify, wd);
    }

    /// One watcher more at (`wd`, `tag`, `rel`). Taking up an idle watch, what it kept
    /// of another path goes (the directory was renamed while nobody watched it).
    fn join(&mut self, wd: i32, tag: usize, rel: &str) {
        let places = self.by_wd.entry(wd).or_default();
        let mut stale = Vec::new();
        places.retain(|p| {
            let keep = p.refs > 0 || (p.tag == tag && p.rel == rel);
            if !keep {
                stale.push((p.tag, p.rel.clone()));
            }
            keep
        });
        match places.iter_mut().find(|p| p.tag == tag && p.rel == rel) {
            Some(p) => p.refs += 1,
            None => places.push(Place { tag, rel: rel.to_string(), refs: 1 }),
        }
        for key in stale {
            if self.by_place.get(&key) == Some(&wd) {
                self.by_place.remove(&key);
            }
        }
        self.idle.retain(|&w| w != wd);
        self.by_place.insert((tag, rel.to_string()), wd);
    }

    /// Before an idle watch is taken up: what it queued while nobody watched is dropped
    /// (read now, while it reports to nobody; others' events wait for the drain, and a
    /// record that the kernel removed a watch is applied). False if events were lost.
    fn drop_idle_queue(&mut self, inotify: BorrowedFd<'_>) -> bool {
        let mut early = std::mem::take(&mut self.stash);
        let before = early.len();
        let read = self.read_queue(inotify, &mut early);
        if !read {
            overflow(self, &mut early);
        }
        let lost = early[before..].iter().any(|e| e.change == HostChange::Overflow);
        self.stash = early;
        read && !lost
    }

    /// Reads every queued record into `out`; false if reading failed (treated as an
    /// overflow by the caller).
    fn read_queue(&mut self, inotify: BorrowedFd<'_>, out: &mut Vec<HostEvent>) -> bool {
        if self.buf.is_empty() {
            self.buf = vec![0; 64 * 1024];
        }
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let n = match sys::inotify_read(inotify, &mut buf) {
                Ok(n) => n,
                Err(_) => {
                    self.buf = buf;
                    return false;
                }
            };
            translate(self, &buf[..n], out);
            self.buf = buf;
            if n == 0 {
                return true;
            }
        }
    }
}

/// Whether `rel` is `dir` or below it.
fn at_or_below(dir: &str, rel: &str) -> bool {
    dir.is_empty() || rel == dir || rel.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

pub struct HostWatch {
    fd: OwnedFd,
    state: Mutex<State>,
}

impl HostWatch {
    pub fn new() -> io::Result<HostWatch> {
        Ok(HostWatch { fd: sys::inotify_init()?, state: Mutex::default() })
    }

    /// The inotify descriptor (non-blocking), to wait for readability on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Watchers registered.
    pub fn watchers(&self) -> usize {
        self.state.lock().map_or(0, |s| s.watchers.len())
    }

    /// Starts watching the directory `dir` is open on, as `rel` under `tag`, for the
    /// watcher `id` (the watcher's own directory, when it is new; a directory below it
    /// for a `recursive` one). Adding a directory the watcher holds already does nothing.
    pub fn add(&self, id: u64, tag: usize, rel: &str, dir: BorrowedFd<'_>, recursive: bool) -> io::Result<()> {
        let mut guard = self.state.lock().map_err(|_| io::Error::other("host watch poisoned"))?;
        let s = &mut *guard;
        if let Some(w) = s.watchers.get(&id) {
            if w.places.iter().any(|(_, r)| r == rel) {
                return Ok(());
            }
            if w.places.len() >= MAX_DIRS_PER_WATCHER {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        // The limit is on kernel watches: joining a directory already watched is free.
        if s.by_wd.len() >= MAX_WATCHED_DIRS && !s.by_place.contains_key(&(tag, rel.to_string())) {
            s.trim_idle(self.fd.as_fd(), 0);
            if s.by_wd.len() >= MAX_WATCHED_DIRS {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        let wd = sys::inotify_watch(self.fd.as_fd(), dir, MASK)?;
        // An idle watch kept under this path for another inode (renamed away meanwhile).
        if let Some(&old) = s.by_place.get(&(tag, rel.to_string()))
            && old != wd
        {
            s.forget_idle(self.fd.as_fd(), old);
        }
        if s.is_idle(wd) {
            s.drop_idle_queue(self.fd.as_fd());
        }
        if let std::collections::hash_map::Entry::Vacant(e) = s.identity.entry(wd)
            && let Ok(st) = sys::fstatx(dir)
        {
            e.insert(crate::description::key(&st));
        }
        s.join(wd, tag, rel);
        let w = s.watchers.entry(id).or_insert_with(|| Watcher { tag, root: rel.to_string(), recursive, places: Vec::new() });
        w.places.push((wd, rel.to_string()));
        Ok(())
    }

    /// Adds watcher `id` to a directory already watched as `rel` under `tag`, without a
    /// descriptor; false when nobody watches it yet (then [`HostWatch::add`] it). A watch
    /// kept idle is taken up only if `names_now` (device and inode of what `rel` names
    /// now) is the directory it watches, and the kernel did not remove it meanwhile.
    pub fn add_to_watched(&self, id: u64, tag: usize, rel: &str, names_now: impl FnOnce() -> Option<(u64, u64)>) -> bool {
        let Ok(mut guard) = self.state.lock() else { return false };
        let s = &mut *guard;
        if s.watchers.contains_key(&id) {
            return true;
        }
        let Some(&wd) = s.by_place.get(&(tag, rel.to_string())) else { return false };
        if s.is_idle(wd) {
            let Some(&known) = s.identity.get(&wd) else { return false };
            if names_now() != Some(known) {
                return false; // renamed, replaced or gone while idle: a descriptor decides
            }
            if !s.drop_idle_queue(self.fd.as_fd()) || !s.is_idle(wd) {
                return false; // events lost, or the kernel removed the watch meanwhile
            }
        }
        s.join(wd, tag, rel);
        s.watchers.insert(id, Watcher { tag, root: rel.to_string(), recursive: false, places: vec![(wd, rel.to_string())] });
        true
    }

    /// The recursive watchers under `tag` whose tree holds `rel` and that may hold one
    /// more directory: those to add a directory that appeared at `rel` to.
    pub fn covering(&self, tag: usize, rel: &str) -> Vec<u64> {
        let Ok(s) = self.state.lock() else { return Vec::new() };
        s.watchers
            .iter()
            .filter(|(_, w)| w.recursive && w.tag == tag && at_or_below(&w.root, rel) && w.places.len() < MAX_DIRS_PER_WATCHER)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Directories watcher `id` holds (0: none, or no such watcher).
    pub fn dirs_of(&self, id: u64) -> usize {
        self.state.lock().map_or(0, |s| s.watchers.get(&id).map_or(0, |w| w.places.len()))
    }

    /// The directory at `rel` under `tag` is gone from there (deleted, or renamed away):
    /// recursive watchers let go of it and of what they held below it (a renamed
    /// directory's kernel watch would go on reporting under the old path). A watcher's
    /// own directory stays.
    pub fn forget_below(&self, tag: usize, rel: &str) {
        let Ok(mut guard) = self.state.lock() else { return };
        let s = &mut *guard;
        let mut gone = Vec::new();
        for w in s.watchers.values_mut().filter(|w| w.recursive && w.tag == tag) {
            let root = w.root.clone();
            w.places.retain(|(wd, r)| {
                let drop = r != &root && at_or_below(rel, r);
                if drop {
                    gone.push((*wd, r.clone()));
                }
                !drop
            });
        }
        for (wd, r) in gone {
            s.release(self.fd.as_fd(), wd, tag, &r);
        }
    }

    /// The watcher ids `keep` says no longer belong (their owner went without saying).
    pub fn stale(&self, keep: impl Fn(u64) -> bool) -> Vec<u64> {
        self.state.lock().map(|s| s.watchers.keys().copied().filter(|id| !keep(*id)).collect()).unwrap_or_default()
    }

    /// Stops watching for `id` (each directory's kernel watch goes with its last watcher).
    pub fn remove(&self, id: u64) {
        let Ok(mut guard) = self.state.lock() else { return };
        let s = &mut *guard;
        let Some(w) = s.watchers.remove(&id) else { return };
        for (wd, rel) in w.places {
            s.release(self.fd.as_fd(), wd, w.tag, &rel);
        }
    }

    /// Reads every queued record and returns what it means for the watchers.
    pub fn drain(&self) -> Vec<HostEvent> {
        let Ok(mut guard) = self.state.lock() else { return Vec::new() };
        let s = &mut *guard;
        let mut out = std::mem::take(&mut s.stash);
        if !s.read_queue(self.fd.as_fd(), &mut out) {
            overflow(s, &mut out);
        }
        out
    }
}

/// One Overflow event per tag that has watchers.
fn overflow(s: &State, out: &mut Vec<HostEvent>) {
    let mut tags: Vec<usize> = s.by_wd.values().flatten().filter(|p| p.refs > 0).map(|p| p.tag).collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        out.push(HostEvent { tag, rel: String::new(), change: HostChange::Overflow, is_dir: false });
    }
}

fn translate(s: &mut State, buf: &[u8], out: &mut Vec<HostEvent>) {
    let events = parse_events(buf);
    for (i, ev) in events.iter().enumerate() {
        if ev.mask & libc::IN_Q_OVERFLOW != 0 {
            overflow(s, out);
            continue;
        }
        if ev.mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_UNMOUNT) != 0 {
            for p in s.by_wd.remove(&ev.wd).into_iter().flatten() {
                s.by_place.remove(&(p.tag, p.rel));
            }
            s.identity.remove(&ev.wd);
            s.idle.retain(|&w| w != ev.wd);
            continue;
        }
        if ev.name.is_empty() || ev.name.starts_with(OWN_PREFIX) {
            continue;
        }
        let Ok(name) = std::str::from_utf8(ev.name) else { continue };
        // A rename within one directory: both halves are queued together, the same
        // cookie on the same watch.
        let paired = |want: u32| {
            events.iter().enumerate().any(|(j, o)| j != i && o.cookie == ev.cookie && o.wd == ev.wd && o.mask & want != 0)
        };
        let change = if ev.mask & libc::IN_CREATE != 0 {
            HostChange::Added
        } else if ev.mask & libc::IN_DELETE != 0 {
            HostChange::Removed
        } else if ev.mask & libc::IN_MOVED_FROM != 0 {
            if paired(libc::IN_MOVED_TO) { HostChange::RenamedFrom } else { HostChange::Removed }
        } else if ev.mask & libc::IN_MOVED_TO != 0 {
            if paired(libc::IN_MOVED_FROM) { HostChange::RenamedTo } else { HostChange::Added }
        } else if ev.mask & libc::IN_MODIFY != 0 {
            HostChange::Modified
        } else if ev.mask & libc::IN_ATTRIB != 0 {
            HostChange::Attributes
        } else {
            continue;
        };
        let is_dir = ev.mask & libc::IN_ISDIR != 0;
        for p in s.by_wd.get(&ev.wd).into_iter().flatten().filter(|p| p.refs > 0) {
            let rel = crate::rel_path::join(&p.rel, name);
            out.push(HostEvent { tag: p.tag, rel, change, is_dir });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inotify_events::record;

    fn state_with(wd: i32, places: &[(usize, &str)]) -> State {
        let mut s = State::default();
        let v = places.iter().map(|(t, r)| Place { tag: *t, rel: r.to_string(), refs: 1 }).collect();
        s.by_wd.insert(wd, v);
        s
    }

    #[test]
    fn records_become_changes_of_every_place() {
        let mut s = state_with(5, &[(0, "docs"), (1, "")]);
        let mut buf = record(5, libc::IN_CREATE, 0, b"a.txt", 3);
        buf.extend(record(5, libc::IN_DELETE | libc::IN_ISDIR, 0, b"old", 0));
        buf.extend(record(5, libc::IN_MODIFY, 0, b"a.txt", 0));
        buf.extend(record(5, libc::IN_ATTRIB, 0, b"a.txt", 0));
        buf.extend(record(9, libc::IN_CREATE, 0, b"elsewhere", 0));
        let mut out = Vec::new();
        translate(&mut s, &buf, &mut out);
        let got: Vec<_> = out.iter().map(|e| (e.tag, e.rel.as_str(), e.change, e.is_dir)).collect();
        assert_eq!(
            got,
            vec![
                (0, "docs/a.txt", HostChange::Added, false),
                (1, "a.txt", HostChange::Added, false),
                (0, "docs/old", HostChange::Removed, true),
                (1, "old", HostChange::Removed, true),
                (0, "docs/a.txt", HostChange::Modified, false),
                (1, "a.txt", HostChange::Modified, false),
                (0, "docs/a.txt", HostChange::Attributes, false),
                (1, "a.txt", HostChange::Attributes, false),
            ]
        );
    }

    #[test]
    fn renames_pair_within_a_directory_and_split_across() {
        let mut s = state_with(1, &[(0, "a")]);
        s.by_wd.insert(2, vec![Place { tag: 0, rel: "b".into(), refs: 1 }]);
        let mut buf = record(1, libc::IN_MOVED_FROM, 7, b"x", 0);
        buf.extend(record(1, libc::IN_MOVED_TO, 7, b"y", 0));
        buf.extend(record(1, libc::IN_MOVED_FROM, 8, b"z", 0));
        buf.extend(record(2, libc::IN_MOVED_TO, 8, b"z", 0));
        let mut out = Vec::new();
        translate(&mut s, &buf, &mut out);
        let got: Vec<_> = out.iter().map(|e| (e.rel.as_str(), e.change)).collect();
        assert_eq!(
            got,
            vec![
                ("a/x", HostChange::RenamedFrom),
                ("a/y", HostChange::RenamedTo),
                ("a/z", HostChange::Removed),
                ("b/z", HostChange::Added),
            ]
        );
    }

    #[test]
    fn own_names_overflow_and_a_gone_directory() {
        let mut s = state_with(1, &[(3, "")]);
        let mut buf = record(1, libc::IN_CREATE, 0, b".opportune-link.1.0", 0);
        buf.extend(record(1, libc::IN_Q_OVERFLOW, 0, b"", 0));
        buf.extend(record(1, libc::IN_DELETE_SELF, 0, b"", 0));
        buf.extend(record(1, libc::IN_CREATE, 0, b"after", 0));
        let mut out = Vec::new();
        translate(&mut s, &buf, &mut out);
        assert_eq!(out, vec![HostEvent { tag: 3, rel: String::new(), change: HostChange::Overflow, is_dir: false }]);
        assert!(s.by_wd.is_empty());
    }

    #[test]
    fn a_real_directory_reports_host_changes() {
        let dir = std::env::temp_dir().join(format!("opportune-host-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let w = HostWatch::new().unwrap();
        let d = std::fs::File::open(&dir).unwrap();
        w.add(1, 0, "sub", d.as_fd(), false).unwrap();
        w.add(1, 0, "sub", d.as_fd(), false).unwrap();
        w.add(2, 0, "sub", d.as_fd(), false).unwrap();
        assert_eq!(w.watchers(), 2);
        std::fs::write(dir.join("new.txt"), b"x").unwrap();
        std::fs::rename(dir.join("new.txt"), dir.join("renamed.txt")).unwrap();
        std::fs::remove_file(dir.join("renamed.txt")).unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| (e.rel, e.change)).collect();
        assert_eq!(
            got,
            vec![
                ("sub/new.txt".to_string(), HostChange::Added),
                ("sub/new.txt".to_string(), HostChange::Modified),
                ("sub/new.txt".to_string(), HostChange::RenamedFrom),
                ("sub/renamed.txt".to_string(), HostChange::RenamedTo),
                ("sub/renamed.txt".to_string(), HostChange::Removed),
            ]
        );
        assert!(w.add_to_watched(3, 0, "sub", || None), "joins the watched directory without a descriptor");
        assert!(!w.add_to_watched(4, 0, "other", || None));
        assert_eq!(w.stale(|id| id != 3), vec![3]);
        w.remove(3);
        w.remove(1);
        std::fs::write(dir.join("still.txt"), b"").unwrap();
        assert_eq!(w.drain().len(), 1, "the second watcher still watches");
        w.remove(2);
        std::fs::write(dir.join("gone.txt"), b"").unwrap();
        assert!(w.drain().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_recursive_watcher_holds_the_directories_below_it() {
        let dir = std::env::temp_dir().join(format!("opportune-host-watch-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        let w = HostWatch::new().unwrap();
        let open = |p: &str| std::fs::File::open(dir.join(p)).unwrap();
        w.add(1, 0, "", open("").as_fd(), true).unwrap();
        w.add(1, 0, "a", open("a").as_fd(), true).unwrap();
        w.add(1, 0, "a/b", open("a/b").as_fd(), true).unwrap();
        w.add(2, 0, "a", open("a").as_fd(), false).unwrap();
        assert_eq!(w.dirs_of(1), 3);
        assert_eq!(w.covering(0, "a/b/new"), vec![1], "only the recursive watcher");
        assert!(w.covering(1, "a/b/new").is_empty(), "another tag");
        std::fs::write(dir.join("a/b/deep.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert_eq!(got, vec!["a/b/deep.txt".to_string()], "added, two levels below the root");
        // "a" goes away: the recursive watcher lets go of a and a/b; watcher 2 keeps "a".
        w.forget_below(0, "a");
        assert_eq!(w.dirs_of(1), 1);
        assert_eq!(w.dirs_of(2), 1);
        std::fs::write(dir.join("a/b/later.txt"), b"").unwrap();
        std::fs::write(dir.join("a/x.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert!(got.iter().all(|r| r == "a/x.txt"), "{got:?}");
        w.remove(1);
        w.remove(2);
        assert_eq!(w.watchers(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A kernel watch whose last watcher went stays, idle: it reports nothing, is not
    /// joined by path, and taken up through a descriptor it is the same watch, without
    /// what it queued meanwhile. A directory renamed away while idle is not taken up
    /// under its old path; past [`IDLE_WATCHES`] the oldest idle watches go.
    #[test]
    fn idle_watches_are_kept_and_taken_up_again() {
        let dir = std::env::temp_dir().join(format!("opportune-host-watch-idle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("d")).unwrap();
        let w = HostWatch::new().unwrap();
        let open = |p: &str| std::fs::File::open(dir.join(p)).unwrap();
        w.add(1, 0, "d", open("d").as_fd(), false).unwrap();
        let wd = |w: &HostWatch| w.state.lock().unwrap().by_place.get(&(0, "d".to_string())).copied();
        let first = wd(&w).expect("watched");
        w.remove(1);
        assert_eq!(w.watchers(), 0);
        assert_eq!(wd(&w), Some(first), "kept, idle");
        std::fs::write(dir.join("d/while-idle.txt"), b"").unwrap();
        let identity = |p: &str| {
            let st = sys::fstatx(open(p).as_fd()).unwrap();
            Some(crate::description::key(&st))
        };
        assert!(!w.add_to_watched(2, 0, "d", || None), "not joined by a path that names nothing");
        assert!(!w.add_to_watched(2, 0, "d", || identity("")), "nor by one that names another directory");
        w.add(2, 0, "d", open("d").as_fd(), false).unwrap();
        assert_eq!(wd(&w), Some(first), "the same kernel watch");
        assert!(w.drain().is_empty(), "what it queued while idle is dropped");
        std::fs::write(dir.join("d/now.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert_eq!(got, vec!["d/now.txt".to_string()]);
        w.remove(2);

        // Taken up by path: the path still names the watched directory.
        std::fs::write(dir.join("d/idle-again.txt"), b"").unwrap();
        assert!(w.add_to_watched(5, 0, "d", || identity("d")), "joined by path");
        assert_eq!(wd(&w), Some(first));
        assert!(w.drain().is_empty(), "what it queued while idle is dropped");
        std::fs::write(dir.join("d/then.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert_eq!(got, vec!["d/then.txt".to_string()]);
        w.remove(5);

        // Renamed away while idle: a new "d" gets a watch of its own.
        std::fs::rename(dir.join("d"), dir.join("moved")).unwrap();
        std::fs::create_dir(dir.join("d")).unwrap();
        w.add(3, 0, "d", open("d").as_fd(), false).unwrap();
        assert_ne!(wd(&w), Some(first));
        std::fs::write(dir.join("moved/old.txt"), b"").unwrap();
        std::fs::write(dir.join("d/new.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert_eq!(got, vec!["d/new.txt".to_string()], "the old inode's watch went");
        w.remove(3);

        let third = wd(&w).expect("idle");
        // Deleted while idle and made again (perhaps with the same inode number): the
        // kernel's record that the watch went keeps it from being taken up by path.
        std::fs::remove_dir_all(dir.join("d")).unwrap();
        std::fs::create_dir(dir.join("d")).unwrap();
        assert!(!w.add_to_watched(6, 0, "d", || identity("d")), "a removed watch is not taken up");
        w.add(7, 0, "d", open("d").as_fd(), false).unwrap();
        assert_ne!(wd(&w), Some(third), "a watch of its own");
        std::fs::write(dir.join("d/fresh.txt"), b"").unwrap();
        let got: Vec<_> = w.drain().into_iter().map(|e| e.rel).collect();
        assert_eq!(got, vec!["d/fresh.txt".to_string()], "the new directory is watched");
        w.remove(7);

        // At most IDLE_WATCHES idle ones.
        for i in 0..IDLE_WATCHES + 5 {
            let sub = format!("s{i}");
            std::fs::create_dir(dir.join(&sub)).unwrap();
            w.add(100 + i as u64, 0, &sub, open(&sub).as_fd(), false).unwrap();
            w.remove(100 + i as u64);
        }
        let s = w.state.lock().unwrap();
        assert_eq!(s.idle.len(), IDLE_WATCHES);
        assert_eq!(s.by_wd.len(), IDLE_WATCHES);
        assert!(!s.by_place.contains_key(&(0, "s0".to_string())), "the oldest went");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
