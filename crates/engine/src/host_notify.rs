//! CHANGE_NOTIFY for changes other programs make on the host (issue 11, item 6): the
//! watched directories' inotify records, less the server's own changes, reported to
//! the watchers as changes made through the server are (`notify.rs`).
//!
//! The server's own changes come back from inotify too. They were already reported,
//! with the details only the server knows (which filter class, which stream), so a
//! host name change (create, delete, rename) is dropped when the server changed that
//! name in the last [`OWN_WINDOW`], and a host data change when the server changed or
//! touched the path in that time. Host events are read [`GRACE`] after the first of a batch
//! arrives, so the server's own record of a change (made right after its system call
//! returned) is always there before the event is looked at. A host change to a path
//! the server touched within the window is therefore not reported (documented in
//! docs/COHERENCE.md); every other one reaches the watchers within about 100 ms.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::os::fd::AsFd;

use opportune_fs::{HostChange, HostEvent, HostWatch, MAX_DIRS_PER_WATCHER, Share};

/// How long the server's own change to a path hides host events for that path.
pub const OWN_WINDOW: Duration = Duration::from_secs(2);
/// How long after the first queued record a batch is read.
pub const GRACE: Duration = Duration::from_millis(100);
/// Paths remembered at most; beyond it the oldest are forgotten first.
const MAX_OWN: usize = 16 * 1024;

pub struct HostNotify {
    /// None: inotify could not be set up (host changes are not seen).
    watch: Option<HostWatch>,
    /// Watchers registered, read without a lock on hot paths.
    active: AtomicUsize,
    own: Mutex<OwnChanges>,
}

impl Default for HostNotify {
    fn default() -> Self {
        let watch = match HostWatch::new() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "inotify unavailable: CHANGE_NOTIFY will not see changes made on the host");
                None
            }
        };
        HostNotify { watch, active: AtomicUsize::new(0), own: Mutex::default() }
    }
}

impl HostNotify {
    /// Whether some watcher hears about host changes (so own changes must be noted).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// The inotify watch host changes are read from; None when it could not be set up.
    pub fn host_watch(&self) -> Option<&HostWatch> {
        self.watch.as_ref()
    }

    /// The directory open `open` (of `share`, at `dir`) is watched: hear about host
    /// changes in it too. Failure (no inotify, the watch limit) leaves the watcher
    /// with the server's own changes only.
    pub fn watch(&self, open: u64, share: usize, dir: &str, fd: BorrowedFd<'_>) {
        let Some(w) = &self.watch else { return };
        if let Err(e) = w.add(open, share, dir, fd, false) {
            tracing::debug!(open, dir, error = %e, "no host watch for this directory");
        }
        self.active.store(w.watchers(), Ordering::Relaxed);
    }

    /// As [`HostNotify::watch`] for a recursive CHANGE_NOTIFY (WATCH_TREE): the
    /// directories below `dir` are watched too, breadth first, at most
    /// `MAX_DIRS_PER_WATCHER` in all; directories that appear later are added as they
    /// appear (`run`). Walks the tree: call it where file-system work may block.
    pub fn watch_tree(&self, open: u64, share: usize, dir: &str, fd: BorrowedFd<'_>, fs: &Share) {
        let Some(w) = &self.watch else { return };
        if w.dirs_of(open) > 0 {
            return; // watched already (a CHANGE_NOTIFY issued again on the same open)
        }
        match w.add(open, share, dir, fd, true) {
            Ok(()) => self.walk(w, fs, open, share, dir),
            Err(e) => tracing::debug!(open, dir, error = %e, "no host watch for this directory"),
        }
        self.active.store(w.watchers(), Ordering::Relaxed);
    }

    /// Adds the directories below `from` to recursive watcher `id`, breadth first, until
    /// it holds as many as it may.
    fn walk(&self, w: &HostWatch, fs: &Share, id: u64, share: usize, from: &str) {
        let mut queue = std::collections::VecDeque::from([from.to_string()]);
        while let Some(dir) = queue.pop_front() {
            let room = MAX_DIRS_PER_WATCHER.saturating_sub(w.dirs_of(id));
            if room == 0 {
                tracing::debug!(open = id, "recursive host watch full: deeper host changes are not seen");
                return;
            }
            let Ok(subs) = fs.subdirectories(&dir, room) else { continue };
            for sub in subs {
                let Ok(fd) = fs.open_dir(&sub) else { continue };
                if w.add(id, share, &sub, fd.as_fd(), true).is_err() {
                    return; // the watcher's or the server's limit
                }
                queue.push_back(sub);
            }
        }
    }

    /// A directory appeared at `rel` (created, or moved in, by anyone): the recursive
    /// watchers whose tree holds it watch it and what is below it.
    pub fn extend(&self, fs: &Share, share: usize, rel: &str) {
        let Some(w) = &self.watch else { return };
        for id in w.covering(share, rel) {
            let Ok(fd) = fs.open_dir(rel) else { return };
            if w.add(id, share, rel, fd.as_fd(), true).is_ok() {
                self.walk(w, fs, id, share, rel);
            }
        }
    }

    /// As [`HostNotify::watch`], joining a directory already watched as `dir` (or kept
    /// watched: `fs` says whether `dir` still names it); false when it is not (then
    /// `watch` it with a descriptor).
    pub fn watch_existing(&self, id: u64, share: usize, dir: &str, fs: &Share) -> bool {
        let Some(w) = &self.watch else { return true };
        let joined = w.add_to_watched(id, share, dir, || fs.identity_of(dir).ok());
        self.active.store(w.watchers(), Ordering::Relaxed);
        joined
    }

    /// Drops the watchers `keep` refuses.
    pub fn sweep(&self, keep: impl Fn(u64) -> bool) {
        let Some(w) = &self.watch else { return };
        for id in w.stale(keep) {
            w.remove(id);
        }
        self.active.store(w.watchers(), Ordering::Relaxed);
    }

    pub fn unwatch(&self, open: u64) {
        let Some(w) = &self.watch else { return };
        w.remove(open);
        self.active.store(w.watchers(), Ordering::Relaxed);
    }

    /// The server wrote to or touched `rel` (a stream path counts for its file): host
    /// data changes to it are its own for a while, name changes are not.
    pub fn own_change(&self, share: usize, rel: &str, now: Instant) {
        self.note(share, rel, now, false);
    }

    /// The server created, removed or renamed `rel`: host events of any kind for it are
    /// its own for a while.
    pub fn own_name_change(&self, share: usize, rel: &str, now: Instant) {
        self.note(share, rel, now, true);
    }

    fn note(&self, share: usize, rel: &str, now: Instant, name: bool) {
        if !self.is_active() {
            return;
        }
        let base = rel.split(':').next().unwrap_or(rel);
        if let Ok(mut own) = self.own.lock() {
            own.note(share, base, now, name);
        }
    }

    /// The host changes queued now, less the server's own; and the directories that
    /// appeared (by anyone: the server's own new directories are watched too), for
    /// [`HostNotify::extend`]. Directories that went away are let go of here.
    pub fn take(&self, now: Instant) -> (Vec<HostEvent>, Vec<(usize, String)>) {
        let Some(w) = &self.watch else { return (Vec::new(), Vec::new()) };
        let events = w.drain();
        let mut appeared = Vec::new();
        for e in events.iter().filter(|e| e.is_dir) {
            match e.change {
                HostChange::Added | HostChange::RenamedTo => appeared.push((e.tag, e.rel.clone())),
                HostChange::Removed | HostChange::RenamedFrom => w.forget_below(e.tag, &e.rel),
                _ => {}
            }
        }
        (self.not_own(events, now), appeared)
    }

    /// `events` less the server's own.
    fn not_own(&self, events: Vec<HostEvent>, now: Instant) -> Vec<HostEvent> {
        let Ok(own) = self.own.lock() else { return events };
        let name_change = |c: HostChange| !matches!(c, HostChange::Modified | HostChange::Attributes);
        events
            .into_iter()
            .filter(|e| e.change == HostChange::Overflow || !own.is_own(e.tag, &e.rel, now, name_change(e.change)))
            .collect()
    }
}

/// Paths the server changed recently: when it last touched each, and when it last
/// changed its name (None: not recently).
#[derive(Default)]
struct OwnChanges {
    at: HashMap<(usize, String), (Instant, Option<Instant>)>,
}

impl OwnChanges {
    fn note(&mut self, share: usize, rel: &str, now: Instant, name: bool) {
        if self.at.len() >= MAX_OWN {
            self.at.retain(|_, (t, _)| now.saturating_duration_since(*t) < OWN_WINDOW);
            if self.at.len() >= MAX_OWN {
                // Everything is recent: forget the oldest half.
                let mut times: Vec<Instant> = self.at.values().map(|(t, _)| *t).collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.at.retain(|_, (t, _)| *t > cut);
            }
        }
        let e = self.at.entry((share, rel.to_string())).or_insert((now, None));
        e.0 = now;
        if name {
            e.1 = Some(now);
        }
    }

    /// Whether a host event for `rel` (a name change when `name`) is the server's echo.
    fn is_own(&self, share: usize, rel: &str, now: Instant, name: bool) -> bool {
        let recent = |t: Instant| now.saturating_duration_since(t) < OWN_WINDOW;
        // (share, rel) as a borrowed key would need a custom Borrow; paths are short.
        match self.at.get(&(share, rel.to_string())) {
            Some((_, Some(n))) if name => recent(*n),
            Some(_) if name => false,
            Some((t, _)) => recent(*t),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_changes_hide_host_events_for_a_while() {
        let mut own = OwnChanges::default();
        let t0 = Instant::now();
        own.note(0, "a.txt", t0, true);
        assert!(own.is_own(0, "a.txt", t0 + Duration::from_millis(100), true));
        assert!(own.is_own(0, "a.txt", t0 + Duration::from_millis(100), false));
        assert!(!own.is_own(1, "a.txt", t0, false), "another share");
        assert!(!own.is_own(0, "b.txt", t0, false));
        assert!(!own.is_own(0, "a.txt", t0 + OWN_WINDOW, true));
        // A write or an open hides the host's data changes, not its renames or unlinks.
        own.note(0, "w.txt", t0, false);
        assert!(own.is_own(0, "w.txt", t0, false));
        assert!(!own.is_own(0, "w.txt", t0, true));
    }

    #[test]
    fn the_record_of_own_changes_is_bounded() {
        let mut own = OwnChanges::default();
        let t0 = Instant::now();
        for i in 0..MAX_OWN + 10 {
            own.note(0, &format!("f{i}"), t0 + Duration::from_micros(i as u64), false);
        }
        assert!(own.at.len() <= MAX_OWN);
        assert!(own.is_own(0, &format!("f{}", MAX_OWN + 9), t0 + Duration::from_millis(50), false), "the newest is kept");
        // Old entries go first when the record is full.
        let later = t0 + OWN_WINDOW * 2;
        for i in 0..MAX_OWN {
            own.note(1, &format!("g{i}"), later, false);
        }
        assert!(own.at.keys().all(|(s, _)| *s == 1));
    }
}
