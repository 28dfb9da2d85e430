//! What SMB byte-range locks make of a description's bytes on the host, as pure
//! functions over ranges (no system calls): the part of a range the host can name
//! ([`host_part`]), the exact cover of a window ([`coverage`]), and the coarse form a
//! description with many locks takes instead ([`Hulls`]).
//!
//! Linux keeps a file's POSIX and OFD locks in one list per inode, and every
//! `F_OFD_SETLK` and `F_OFD_GETLK` walks it, so mirroring each of n SMB locks exactly
//! costs O(n) per lock, unlock and strict-locking check (docs/BENCHMARKS.md, "Through
//! the server": 2.9 ms per lock+unlock pair at 50,000 locks). Past a threshold the
//! mirror holds the hulls instead: one range over all the exclusive locks and one over
//! all the shared ones, a handful of kernel entries whatever n is. That is more than the
//! SMB locks cover, never less: a local process is refused in the gaps between them
//! (a false conflict, on the safe side), an SMB client never (all SMB opens of the file
//! share the description, and OFD locks of one description do not conflict).

use opportune_fs::HOST_LOCK_END;

/// What the locks of one open make of a byte on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cover {
    Unlocked,
    Shared,
    Exclusive,
}

/// The part of the SMB range `[offset, offset + length)` the host can lock, as
/// `[start, end)` with `end` at most 2^63; `None` for a zero-length range or one that
/// lies wholly above.
pub(super) fn host_part(offset: u64, length: u64) -> Option<(u64, u64)> {
    if length == 0 || offset >= HOST_LOCK_END {
        return None;
    }
    Some((offset, offset.saturating_add(length).min(HOST_LOCK_END)))
}

/// What `locks` (`[start, end)` host ranges, exclusive or not) make of each byte of
/// `[start, end)`: pieces `(start, end, cover)` in order that cover the window exactly,
/// neighbours of one cover merged.
pub(super) fn coverage(locks: &[(u64, u64, bool)], start: u64, end: u64) -> Vec<(u64, u64, Cover)> {
    // A sweep over the lock boundaries inside the window: +1/-1 to the count of
    // exclusive or shared locks over the bytes from each boundary on.
    let mut edges: Vec<(u64, i32, i32)> = Vec::new();
    for &(s, e, exclusive) in locks {
        let (s, e) = (s.max(start), e.min(end));
        if s >= e {
            continue;
        }
        let (x, sh) = if exclusive { (1, 0) } else { (0, 1) };
        edges.push((s, x, sh));
        edges.push((e, -x, -sh));
    }
    edges.sort_unstable_by_key(|&(at, _, _)| at);
    let mut pieces: Vec<(u64, u64, Cover)> = Vec::new();
    let (mut at, mut exclusive, mut shared) = (start, 0, 0);
    let mut push = |from: u64, to: u64, cover: Cover| {
        if from >= to {
            return;
        }
        match pieces.last_mut() {
            Some(last) if last.2 == cover && last.1 == from => last.1 = to,
            _ => pieces.push((from, to, cover)),
        }
    };
    for (pos, x, sh) in edges {
        let cover = if exclusive > 0 { Cover::Exclusive } else if shared > 0 { Cover::Shared } else { Cover::Unlocked };
        push(at, pos, cover);
        at = at.max(pos);
        exclusive += x;
        shared += sh;
    }
    push(at, end, Cover::Unlocked);
    pieces
}


/// The coarse host locks of a description with many SMB locks: the smallest range over
/// the host parts of all its exclusive locks, and the same over its shared ones. The
/// host holds the exclusive hull as a write lock and the rest of the shared hull as a
/// read lock ([`Hulls::pieces`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Hulls {
    exclusive: Option<(u64, u64)>,
    shared: Option<(u64, u64)>,
}

/// The smallest range over both (`[start, end)` ranges).
fn join(a: Option<(u64, u64)>, (s, e): (u64, u64)) -> (u64, u64) {
    a.map_or((s, e), |(a0, a1)| (a0.min(s), a1.max(e)))
}

fn within(hull: Option<(u64, u64)>, (s, e): (u64, u64)) -> bool {
    hull.is_some_and(|(h0, h1)| h0 <= s && e <= h1)
}

impl Hulls {
    /// The hulls of `locks` (host ranges `[start, end)`, exclusive or not).
    pub(super) fn of(locks: impl IntoIterator<Item = (u64, u64, bool)>) -> Hulls {
        locks.into_iter().fold(Hulls::default(), |h, (s, e, exclusive)| h.with(s, e, exclusive))
    }

    /// These hulls grown to take in one more lock.
    pub(super) fn with(self, start: u64, end: u64, exclusive: bool) -> Hulls {
        if exclusive {
            Hulls { exclusive: Some(join(self.exclusive, (start, end))), ..self }
        } else {
            Hulls { shared: Some(join(self.shared, (start, end))), ..self }
        }
    }

    /// Whether the host locks these hulls stand for already keep local processes out of
    /// `[start, end)` as a lock of this kind needs: an exclusive lock inside the
    /// exclusive hull, a shared one inside either.
    pub(super) fn covers(&self, start: u64, end: u64, exclusive: bool) -> bool {
        within(self.exclusive, (start, end)) || (!exclusive && within(self.shared, (start, end)))
    }

    /// What the host holds for these hulls, as [`coverage`] pieces over the whole
    /// lockable space (gaps included, as `Unlocked`).
    pub(super) fn pieces(&self) -> Vec<(u64, u64, Cover)> {
        let locks: Vec<(u64, u64, bool)> =
            [(self.exclusive, true), (self.shared, false)].into_iter().filter_map(|(h, x)| h.map(|(s, e)| (s, e, x))).collect();
        coverage(&locks, 0, HOST_LOCK_END)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Cover::*;

    #[test]
    fn host_part_stops_at_two_to_the_63() {
        assert_eq!(host_part(0, 10), Some((0, 10)));
        assert_eq!(host_part(10, 0), None, "zero-length locks are SMB-only");
        assert_eq!(host_part(0, u64::MAX), Some((0, HOST_LOCK_END)), "the whole file");
        assert_eq!(host_part(HOST_LOCK_END - 1, 5), Some((HOST_LOCK_END - 1, HOST_LOCK_END)));
        assert_eq!(host_part(HOST_LOCK_END, 1), None);
        assert_eq!(host_part(u64::MAX, 1), None);
    }

    #[test]
    fn an_empty_window_is_unlocked() {
        assert_eq!(coverage(&[], 0, 10), vec![(0, 10, Unlocked)]);
        assert_eq!(coverage(&[(20, 30, true)], 0, 10), vec![(0, 10, Unlocked)]);
    }

    /// Two overlapping shared locks, one unlocked: the other still covers its bytes.
    #[test]
    fn what_is_left_after_an_unlock() {
        let left = [(5, 15, false)];
        assert_eq!(coverage(&left, 0, 10), vec![(0, 5, Unlocked), (5, 10, Shared)]);
    }

    /// Exclusive wins over shared, neighbours of one kind merge, gaps are unlocked.
    #[test]
    fn exclusive_over_shared() {
        let locks = [(0, 10, false), (4, 6, true), (10, 20, false), (25, 30, true), (0, 3, false)];
        assert_eq!(
            coverage(&locks, 0, 40),
            vec![(0, 4, Shared), (4, 6, Exclusive), (6, 20, Shared), (20, 25, Unlocked), (25, 30, Exclusive), (30, 40, Unlocked)]
        );
        assert_eq!(coverage(&locks, 5, 8), vec![(5, 6, Exclusive), (6, 8, Shared)], "clipped to the window");
    }

    /// Stacked locks of one range count one by one.
    #[test]
    fn stacked_locks() {
        let locks = [(0, 10, false), (0, 10, false), (0, 10, true)];
        assert_eq!(coverage(&locks, 0, 10), vec![(0, 10, Exclusive)]);
        assert_eq!(coverage(&locks[..2], 0, 10), vec![(0, 10, Shared)]);
    }

    /// Interleaved exclusive and shared locks with gaps: the exclusive hull is a write
    /// lock, the shared hull's part outside it a read lock, the rest unlocked.
    #[test]
    fn hulls_of_interleaved_locks() {
        let locks = [(0, 8, true), (16, 24, false), (32, 40, true), (48, 56, false)];
        let h = Hulls::of(locks);
        assert_eq!(h.pieces(), vec![(0, 40, Exclusive), (40, 56, Shared), (56, HOST_LOCK_END, Unlocked)]);
        assert_eq!(Hulls::default().pieces(), vec![(0, HOST_LOCK_END, Unlocked)]);
        let only_shared = Hulls::of([(100, 110, false)]);
        assert_eq!(only_shared.pieces(), vec![(0, 100, Unlocked), (100, 110, Shared), (110, HOST_LOCK_END, Unlocked)]);
    }

    /// A hull covers what it stands for, and every byte any of its locks covers.
    #[test]
    fn what_hulls_cover() {
        let h = Hulls::of([(0, 8, true), (32, 40, true), (100, 120, false)]);
        assert!(h.covers(10, 14, true), "a gap inside the exclusive hull");
        assert!(h.covers(10, 14, false));
        assert!(h.covers(105, 110, false));
        assert!(!h.covers(105, 110, true), "shared hull only: an exclusive lock needs more");
        assert!(!h.covers(38, 42, true), "crosses the hull's end");
        assert!(!h.covers(200, 201, false));
        assert!(!Hulls::default().covers(0, 1, false));
        let grown = h.with(38, 42, true);
        assert!(grown.covers(38, 42, true));
        assert_eq!(grown, Hulls::of([(0, 8, true), (32, 40, true), (100, 120, false), (38, 42, true)]));
        assert_eq!(h.with(5, 6, true), h, "inside: unchanged");
    }

    /// Whatever the locks, every byte one of them covers is held at least as strongly
    /// by the hulls (exclusive as a write lock, shared as a read or write lock).
    #[test]
    fn hulls_hold_at_least_what_the_locks_need() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let locks: Vec<(u64, u64, bool)> = (0..1 + next(12))
                .map(|_| {
                    let s = next(1000);
                    (s, s + 1 + next(50), next(2) == 0)
                })
                .collect();
            let pieces = Hulls::of(locks.iter().copied()).pieces();
            let exact = coverage(&locks, 0, HOST_LOCK_END);
            for &(s, e, need) in &exact {
                for &(ps, pe, have) in pieces.iter().filter(|p| p.0 < e && s < p.1) {
                    assert!(have >= need, "{locks:?}: [{s}, {e}) needs {need:?}, [{ps}, {pe}) has {have:?}");
                }
            }
        }
    }
}
