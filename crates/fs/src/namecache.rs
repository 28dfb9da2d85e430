//! Case-insensitive misses without a directory scan.
//!
//! On a share that ignores case, opening a name that does not exist exactly must rule
//! out an entry differing only in case (MS-FSA 2.1.5.1, IsCaseInsensitive) before a new
//! file may be created. Done by scanning, that makes every create in a directory of N
//! entries cost O(N), and filling a directory O(N²).
//!
//! This cache remembers the names of directories it has scanned and keeps them exact
//! with inotify(7):
//!
//! 1. the watch is added *before* the scan, so every change after the scan is an event;
//! 2. events that arrive while the scan is running are kept and applied after it, in
//!    order (a change both seen by the scan and queued as an event is applied twice,
//!    which a set of exact names absorbs: create adds a name, delete removes it);
//! 3. queued events are read before every answer. The kernel queues an event before the
//!    system call that caused it returns, so a name another program has created is seen
//!    by every later lookup;
//! 4. on queue overflow every directory is forgotten.
//!
//! The answer is only ever "no other name equal ignoring case exists" or "scan":
//! folded names are kept as 64-bit hashes, so a collision costs a scan, never a wrong
//! answer. Without inotify (or beyond its limits) every miss scans, as before.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use crate::inotify_events::{parse_events, Event};
use crate::sys;

/// Directories kept at most (each holds one inotify watch).
const MAX_DIRS: usize = 4096;
/// Names kept at most, over all directories (about 60 bytes each).
const MAX_NAMES: usize = 256 * 1024;

/// Changes to a directory's list of names, and its own end.
const WATCH_MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_ONLYDIR;

/// A directory, by device and inode: a renamed directory keeps its entry.
type DirId = (u64, u64);

/// What [`NameCache::check`] knows about a name missing under its exact spelling.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// No other entry equals the name ignoring case.
    NoOther,
    /// Unknown: scan. With a ticket, hand the scan's names to [`NameCache::fill`].
    Scan(Option<Ticket>),
}

/// A directory being watched whose scan is awaited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    id: DirId,
    wd: i32,
}

pub(crate) struct NameCache {
    state: Mutex<State>,
}

struct State {
    /// Set up on the first miss (a share that never needs it costs no inotify
    /// instance); None: not yet, or inotify could not be set up (nothing is cached).
    inotify: Option<OwnedFd>,
    started: bool,
    dirs: HashMap<DirId, Dir>,
    by_wd: HashMap<i32, DirId>,
    /// Names held by all ready directories.
    total: usize,
    clock: u64,
    buf: Vec<u8>,
}

struct Dir {
    wd: i32,
    last_used: u64,
    names: Names,
}

enum Names {
    /// Watched, scan under way: the changes seen since the watch was added.
    Filling(Vec<Change>),
    Ready(NameSet),
}

enum Change {
    Add(Box<[u8]>),
    Remove(Box<[u8]>),
}

/// The exact names of a directory, and how many of them fold to each hash.
#[derive(Default)]
struct NameSet {
    exact: HashSet<Box<[u8]>>,
    folded: HashMap<u64, u32>,
}

/// A hash of `name` lower-cased the way `path::eq_ignore_case` compares, so names
/// equal ignoring case hash alike.
fn fold_hash(name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        c.hash(&mut h);
    }
    h.finish()
}

impl NameSet {
    fn add(&mut self, name: Box<[u8]>) {
        let fold = std::str::from_utf8(&name).ok().map(fold_hash);
        if self.exact.insert(name)
            && let Some(f) = fold
        {
            *self.folded.entry(f).or_insert(0) += 1;
        }
    }

    fn remove(&mut self, name: &[u8]) {
        if self.exact.remove(name)
            && let Ok(s) = std::str::from_utf8(name)
        {
            let f = fold_hash(s);
            if let Some(n) = self.folded.get_mut(&f) {
                *n -= 1;
                if *n == 0 {
                    self.folded.remove(&f);
                }
            }
        }
    }

    fn apply(&mut self, c: Change) {
        match c {
            Change::Add(n) => self.add(n),
            Change::Remove(n) => self.remove(&n),
        }
    }

    /// Whether a name other than `name` may equal it ignoring case.
    fn may_have_other(&self, name: &str) -> bool {
        let n = self.folded.get(&fold_hash(name)).copied().unwrap_or(0);
        let own = u32::from(self.exact.contains(name.as_bytes()));
        n > own
    }
}

impl NameCache {
    pub(crate) fn new() -> NameCache {
        NameCache {
            state: Mutex::new(State {
                inotify: None,
                started: false,
                dirs: HashMap::new(),
                by_wd: HashMap::new(),
                total: 0,
                clock: 0,
                buf: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether directory `dir` may hold an entry equal to `name` ignoring case other
    /// than `name` itself. Starts watching a directory not known yet.
    pub(crate) fn check(&self, dir: BorrowedFd, name: &str) -> Check {
        let Ok(st) = sys::fstatx(dir) else {
            return Check::Scan(None);
        };
        let id = (dev(&st), st.stx_ino);
        let mut s = self.lock();
        s.drain();
        s.clock += 1;
        let now = s.clock;
        if let Some(d) = s.dirs.get_mut(&id) {
            d.last_used = now;
            return match &d.names {
                Names::Ready(set) if !set.may_have_other(name) => Check::NoOther,
                _ => Check::Scan(None),
            };
        }
        if s.dirs.len() >= MAX_DIRS {
            s.evict_oldest();
        }
        if !s.started {
            s.started = true;
            s.inotify = sys::inotify_init().ok();
        }
        let watched = s.inotify.as_ref().map(|i| sys::inotify_watch(i.as_fd(), dir, WATCH_MASK));
        let Some(Ok(wd)) = watched else {
            return Check::Scan(None);
        };
        // The kernel hands out the same watch for an inode it already watches: an entry
        // under another id is a directory whose removal has not been read yet.
        if let Some(old) = s.by_wd.insert(wd, id)
            && old != id
            && let Some(Dir { names: Names::Ready(set), .. }) = s.dirs.remove(&old)
        {
            s.total -= set.exact.len();
        }
        s.dirs.insert(
            id,
            Dir {
                wd,
                last_used: now,
                names: Names::Filling(Vec::new()),
            },
        );
        Check::Scan(Some(Ticket { id, wd }))
    }

    /// The names a scan found, for the directory `ticket` is for. The changes queued
    /// since the watch was added are applied on top.
    pub(crate) fn fill(&self, ticket: Ticket, names: &[Vec<u8>]) {
        let mut s = self.lock();
        s.drain();
        let st = &mut *s;
        let awaited = st
            .dirs
            .get(&ticket.id)
            .is_some_and(|d| d.wd == ticket.wd && matches!(d.names, Names::Filling(_)));
        if !awaited {
            return; // forgotten meanwhile (overflow, removal)
        }
        if names.len() > MAX_NAMES {
            st.forget(ticket.id);
            return;
        }
        let Some(d) = st.dirs.get_mut(&ticket.id) else {
            return;
        };
        let Names::Filling(changes) = std::mem::replace(&mut d.names, Names::Filling(Vec::new()))
        else {
            return;
        };
        let mut set = NameSet::default();
        for n in names {
            set.add(n.clone().into_boxed_slice());
        }
        for c in changes {
            set.apply(c);
        }
        st.total += set.exact.len();
        d.names = Names::Ready(set);
        while st.total > MAX_NAMES && st.evict_oldest() {}
    }

    /// Directories cached and ready (for tests and status).
    #[cfg(test)]
    pub(crate) fn ready_dirs(&self) -> usize {
        let mut s = self.lock();
        s.drain();
        s.dirs.values().filter(|d| matches!(d.names, Names::Ready(_))).count()
    }
}

fn dev(st: &libc::statx) -> u64 {
    (u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor)
}

impl State {
    /// Reads and applies every queued event.
    fn drain(&mut self) {
        let Some(ino) = self.inotify.take() else {
            return;
        };
        if self.buf.is_empty() {
            self.buf = vec![0; 64 * 1024];
        }
        let mut overflow = false;
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let n = match sys::inotify_read(ino.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(_) => {
                    overflow = true; // cannot tell what was missed
                    0
                }
            };
            for ev in parse_events(&buf[..n]) {
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    overflow = true;
                } else {
                    self.apply(ev);
                }
            }
            self.buf = buf;
            if n == 0 || overflow {
                break;
            }
        }
        if overflow {
            // Closing the descriptor drops every watch with it.
            drop(ino);
            self.dirs.clear();
            self.by_wd.clear();
            self.total = 0;
            self.inotify = sys::inotify_init().ok();
        } else {
            self.inotify = Some(ino);
        }
    }

    fn apply(&mut self, ev: Event<'_>) {
        let Some(&id) = self.by_wd.get(&ev.wd) else {
            return;
        };
        if ev.mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_UNMOUNT) != 0 {
            self.forget(id);
            return;
        }
        let name: Box<[u8]> = ev.name.into();
        let change = if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
            Change::Add(name)
        } else if ev.mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
            Change::Remove(name)
        } else {
            return;
        };
        let Some(d) = self.dirs.get_mut(&id) else {
            return;
        };
        match &mut d.names {
            Names::Filling(v) => v.push(change),
            Names::Ready(set) => {
                let before = set.exact.len();
                set.apply(change);
                self.total = self.total + set.exact.len() - before;
            }
        }
    }

    /// Drops a directory and its watch.
    fn forget(&mut self, id: DirId) {
        let Some(d) = self.dirs.remove(&id) else {
            return;
        };
        if self.by_wd.get(&d.wd) == Some(&id) {
            self.by_wd.remove(&d.wd);
            if let Some(ino) = &self.inotify {
                sys::inotify_unwatch(ino.as_fd(), d.wd);
            }
        }
        if let Names::Ready(set) = d.names {
            self.total -= set.exact.len();
        }
    }

    /// Drops the least recently used ready directory; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .dirs
            .iter()
            .filter(|(_, d)| matches!(d.names, Names::Ready(_)))
            .min_by_key(|(_, d)| d.last_used)
            .map(|(id, _)| *id);
        match oldest {
            Some(id) => {
                self.forget(id);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_counts_follow_exact_names() {
        let mut s = NameSet::default();
        s.add(b"File".to_vec().into());
        s.add(b"File".to_vec().into()); // seen by the scan and as an event
        assert!(!s.may_have_other("File"));
        assert!(s.may_have_other("FILE"));
        s.add(b"FILE".to_vec().into());
        assert!(s.may_have_other("File"));
        s.remove(b"FILE");
        s.remove(b"FILE"); // a removal applied twice
        assert!(!s.may_have_other("File"));
        assert!(s.may_have_other("file"));
        s.remove(b"File");
        assert!(!s.may_have_other("file"));
        assert!(s.folded.is_empty());
        s.add(vec![0xff, b'x'].into()); // not UTF-8: never matches a client name
        assert!(!s.may_have_other("x"));
    }

    use crate::testutil::share;
    use std::fs;

    fn comps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The on-disk name `locate` gives for dir/name, or None if it finds nothing.
    fn found(s: &crate::Share, dir: &str, name: &str) -> Option<String> {
        let l = crate::resolve::locate(s.root(), &comps(&[dir, name])).unwrap();
        l.found.then_some(l.name)
    }

    #[test]
    fn changes_by_other_programs_are_seen() {
        let (t, s) = share("nc-ext", false);
        let d = t.path().join("d");
        fs::create_dir(&d).unwrap();
        for i in 0..100 {
            fs::write(d.join(format!("f{i}")), b"").unwrap();
        }
        assert_eq!(found(&s, "d", "NEW"), None);
        assert_eq!(s.root().names.ready_dirs(), 1);
        fs::write(d.join("New"), b"").unwrap();
        assert_eq!(found(&s, "d", "NEW").as_deref(), Some("New"));
        fs::remove_file(d.join("New")).unwrap();
        assert_eq!(found(&s, "d", "NEW"), None);
        fs::rename(d.join("f1"), d.join("Moved")).unwrap();
        assert_eq!(found(&s, "d", "MOVED").as_deref(), Some("Moved"));
        assert_eq!(found(&s, "d", "F1"), None);
        // A renamed directory keeps its names (it is the same inode).
        fs::rename(&d, t.path().join("e")).unwrap();
        assert_eq!(found(&s, "e", "moved").as_deref(), Some("Moved"));
        fs::create_dir(t.path().join("e/SubDir")).unwrap();
        assert_eq!(found(&s, "e", "subdir").as_deref(), Some("SubDir"));
        // Removed and made again: the old names are gone.
        fs::remove_dir_all(t.path().join("e")).unwrap();
        fs::create_dir(t.path().join("e")).unwrap();
        assert_eq!(found(&s, "e", "MOVED"), None);
        fs::write(t.path().join("e/Moved"), b"").unwrap();
        assert_eq!(found(&s, "e", "MOVED").as_deref(), Some("Moved"));
        // Moved in from another directory, and out again.
        fs::write(t.path().join("Outer"), b"").unwrap();
        fs::rename(t.path().join("Outer"), t.path().join("e/Inner")).unwrap();
        assert_eq!(found(&s, "e", "INNER").as_deref(), Some("Inner"));
        fs::rename(t.path().join("e/Inner"), t.path().join("Back")).unwrap();
        assert_eq!(found(&s, "e", "INNER"), None);
    }

    #[test]
    fn changes_during_the_scan_are_applied_after_it() {
        let (t, s) = share("nc-scan", false);
        fs::write(t.path().join("Gone"), b"").unwrap();
        let dir = std::fs::File::open(t.path()).unwrap();
        let c = &s.root().names;
        let Check::Scan(Some(ticket)) = c.check(dir.as_fd(), "x") else {
            panic!("a new directory is scanned with a ticket");
        };
        assert_eq!(c.check(dir.as_fd(), "x"), Check::Scan(None), "still filling");
        let before_scan = vec![b"Gone".to_vec()];
        // Between the watch and the end of the scan: one name comes, one goes.
        fs::write(t.path().join("Late"), b"").unwrap();
        fs::remove_file(t.path().join("Gone")).unwrap();
        c.fill(ticket, &before_scan);
        assert_eq!(c.check(dir.as_fd(), "LATE"), Check::Scan(None));
        assert_eq!(c.check(dir.as_fd(), "GONE"), Check::NoOther);
        assert_eq!(c.check(dir.as_fd(), "Late"), Check::NoOther, "the name itself is no other");
    }

    #[test]
    fn a_full_event_queue_forgets_everything_and_stays_right() {
        let (t, s) = share("nc-overflow", false);
        assert_eq!(found(&s, "", "a"), None);
        assert_eq!(s.root().names.ready_dirs(), 1);
        // More events than the default queue holds (16,384), none read meanwhile.
        let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(16384);
        if max > 100_000 {
            return; // a machine tuned this far would make the test slow, not wrong
        }
        for i in 0..=max {
            fs::write(t.path().join(format!("n{i}")), b"").unwrap();
        }
        fs::write(t.path().join("A"), b"").unwrap();
        assert_eq!(found(&s, "", "a").as_deref(), Some("A"));
        assert_eq!(found(&s, "", "N7").as_deref(), Some("n7"));
        assert_eq!(found(&s, "", "zz"), None);
    }

    /// Random changes by another program, in a few directories, against a plain scan.
    #[test]
    fn matches_a_scan_under_random_changes() {
        let (t, s) = share("nc-model", false);
        let names = ["a", "A", "b", "B", "ab", "aB", "Ab", "AB", "\u{e9}", "\u{c9}"];
        let dirs = ["", "x", "x/y"];
        fs::create_dir_all(t.path().join("x/y")).unwrap();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for step in 0..3000 {
            let dir = t.path().join(dirs[rnd(dirs.len())]);
            let name = names[rnd(names.len())];
            match rnd(5) {
                0 | 1 => drop(fs::write(dir.join(name), b"")),
                2 => drop(fs::remove_file(dir.join(name))),
                3 => drop(fs::rename(dir.join(name), t.path().join(dirs[rnd(3)]).join(names[rnd(10)]))),
                _ => drop(fs::create_dir(dir.join(format!("{name}{name}")))),
            }
            let d = dirs[rnd(dirs.len())];
            let want = names[rnd(names.len())];
            let path: Vec<&str> = if d.is_empty() { vec![want] } else { d.split('/').chain([want]).collect() };
            let got = crate::resolve::locate(s.root(), &comps(&path)).unwrap();
            let on_disk: Vec<String> = fs::read_dir(t.path().join(d))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            let expect = on_disk.iter().any(|n| crate::path::eq_ignore_case(n, want));
            assert_eq!(got.found, expect, "step {step}: {d}/{want} in {on_disk:?}");
            if got.found {
                assert!(crate::path::eq_ignore_case(&got.name, want));
                assert!(on_disk.contains(&got.name));
            }
        }
        assert!(s.root().names.ready_dirs() >= 1);
    }
}

